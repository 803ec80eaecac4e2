//! The rendered stack as `docker stack deploy` needs it: keys it refuses are errors, keys it
//! silently ignores are warnings, configs and secrets are wired to content-hash-named swarm
//! objects, and ports/endpoints are switched to host mode + dnsrr where the routing mesh cannot work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::{BuildSpec, RenderedConfig, SecretRef};
use crate::error::{ConfigError, did_you_mean, locate};
use crate::profile::{Profile, Project};
use crate::stack::key;

/// Top-level keys `docker stack deploy` accepts (plus `x-*` extensions); the rest is checked by
/// [`super::compose`].
const TOP_LEVEL: &[&str] = &[
    "version", "services", "networks", "volumes", "configs", "secrets",
];

use super::compose::IGNORED_SERVICE;

pub struct ShapeInput<'a> {
    /// The stack as rendered, merged and interpolated.
    pub doc: Mapping,
    pub template_path: &'a Path,
    pub template_src: &'a str,
    pub project: &'a Project,
    pub profile: &'a Profile,
    pub configs: &'a [RenderedConfig],
    pub secrets: &'a [SecretRef],
    pub host_mode: bool,
    /// What a built service without `image:` is tagged as: `PREFIX/SERVICE`.
    pub image_prefix: &'a str,
}

pub struct Shaped {
    pub stack: Mapping,
    pub builds: Vec<BuildSpec>,
    pub warnings: Vec<String>,
    /// What devenv did to the stack that the user should know (one line each).
    pub notes: Vec<String>,
    /// The services' `develop.watch` rules (left out of the stack: swarm refuses `develop:`).
    pub watch: Vec<crate::live::Rule>,
}

pub fn services(stack: &Mapping) -> Option<&Mapping> {
    stack.get("services").and_then(Value::as_mapping)
}

/// The stack as docker reads it: every `$` devenv's interpolation left is written `$$`, so docker
/// does not interpolate a second time.
pub fn to_yaml(stack: &Mapping) -> String {
    serde_yaml_ng::to_string(&super::interpolate::escape(&Value::Mapping(stack.clone())))
        .expect("a YAML mapping serialises")
}

/// Shapes one rendered stack, knowing where its template's lines are (for errors).
struct Shaper<'a> {
    input: &'a ShapeInput<'a>,
}

impl Shaper<'_> {
    /// An error located in the stack template at `needle` (searched after the service's name).
    fn err(&self, service: Option<&str>, needle: &str, message: String) -> ConfigError {
        let src = self.input.template_src;
        let from = service
            .and_then(|s| {
                locate(src, &format!("{s}:"), 0).map(|(l, _)| {
                    src.split_inclusive('\n')
                        .take(l - 1)
                        .map(str::len)
                        .sum::<usize>()
                })
            })
            .unwrap_or(0);
        let mut e = ConfigError::new(self.input.template_path, message);
        if let Some((l, c)) = locate(src, needle, from) {
            e = e.at(src, l, c);
        }
        e
    }
}

pub fn shape(input: ShapeInput<'_>) -> Result<Shaped, ConfigError> {
    let cx = Shaper { input: &input };
    let mut stack = input.doc.clone();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    // keys swarm ignores: one line per key, naming the services that have it
    let mut ignored: Vec<(&str, Vec<String>, &str)> = Vec::new();

    // top level: compose's project name is devenv's, `include` is compose's own
    if let Some(n) = stack.shift_remove("name") {
        let ours = input.profile.stack_name(input.project);
        let theirs = n.as_str().unwrap_or_default();
        if theirs != ours {
            notes.push(format!(
                "the file's `name: {theirs}` is compose's project name: the stack is named {ours} (`project:` in devenv.yaml, or `docker.stack` in the profile)",
            ));
        }
    }
    if stack.contains_key("include") {
        return Err(cx
            .err(None, "include:", "`include` is not accepted by docker stack deploy".into())
            .hint("list the included files as the profile's `overrides:`, or split the stack with minijinja `{% include %}`"));
    }
    let file_version = super::compose::file_version(&stack)
        .map_err(|p| cx.err(None, "version:", p.message).hint(p.hint))?;
    stack.shift_remove("version");
    let _ = TOP_LEVEL;
    let Some(Value::Mapping(svcs)) = stack.get("services") else {
        return Err(cx
            .err(
                None,
                "services",
                "the stack has no `services:` mapping".into(),
            )
            .hint("add at least one service"));
    };
    if svcs.is_empty() {
        return Err(cx.err(None, "services", "the stack defines no services".into()));
    }

    // configs and secrets: devenv owns the ones it renders/collects
    let mut top_configs = stack
        .get("configs")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    for c in input.configs {
        if top_configs.contains_key(c.key.as_str()) {
            return Err(cx
                .err(None, &format!("{}:", c.key), format!("config `{}` is defined in the stack and by devenv.yaml", c.key))
                .hint("remove it from the stack's top-level `configs:`; devenv adds it with a content-hash name"));
        }
        let mut m = Mapping::new();
        m.insert(key("external"), Value::Bool(true));
        m.insert(key("name"), key(&c.object_name));
        top_configs.insert(key(&c.key), Value::Mapping(m));
    }
    let mut top_secrets = stack
        .get("secrets")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    for s in input.secrets {
        let external = top_secrets
            .get(s.key.as_str())
            .and_then(|d| d.get("external"))
            .and_then(Value::as_bool)
            == Some(true);
        if external {
            // the profile gives the stack's external secret its value (a local machine has none)
            notes.push(format!(
                "secret {}: the stack's external secret comes from {} for this profile",
                s.key, s.origin
            ));
        } else if top_secrets.contains_key(s.key.as_str()) {
            return Err(cx
                .err(
                    None,
                    &format!("{}:", s.key),
                    format!(
                        "secret `{}` is defined in the stack and by the profile",
                        s.key
                    ),
                )
                .hint("remove it from the stack's top-level `secrets:`; devenv adds it"));
        }
        let mut m = Mapping::new();
        m.insert(key("external"), Value::Bool(true));
        m.insert(key("name"), key(&s.object_name));
        top_secrets.insert(key(&s.key), Value::Mapping(m));
    }

    let mut builds = Vec::new();
    let mut watch = Vec::new();
    let mut new_services = Mapping::new();
    for (name_v, svc) in svcs {
        let name = name_v.as_str().unwrap_or_default().to_string();
        let Value::Mapping(svc) = svc else {
            return Err(cx.err(
                None,
                &format!("{name}:"),
                format!("service `{name}` is not a mapping"),
            ));
        };
        let mut svc = svc.clone();
        super::compose::host_ips(
            &name,
            &mut svc,
            input.profile.on_this_machine(),
            &mut warnings,
        );
        super::compose::translate(&name, &mut svc, &mut notes).map_err(|p| {
            cx.err(Some(&name), &format!("{}:", p.key), p.message)
                .hint(p.hint)
        })?;
        for (k, _) in &svc {
            let Some(k) = k.as_str() else { continue };
            if let Some((key, hint)) = IGNORED_SERVICE.iter().find(|(r, _)| *r == k) {
                match ignored.iter_mut().find(|(k2, _, _)| k2 == key) {
                    Some((_, names, _)) => names.push(name.clone()),
                    None => ignored.push((key, vec![name.clone()], hint)),
                }
            }
        }
        // what swarm ignores is reported (above) and left out: older docker CLIs refuse some of
        // its newer forms (`depends_on: {db: {condition: ...}}`)
        for (k, _) in IGNORED_SERVICE {
            svc.shift_remove(*k);
        }
        absolutize_paths(&cx, &name, &mut svc, &input.project.root)?;
        if let Some(develop) = svc.shift_remove("develop") {
            let rules = crate::live::rules::parse(
                &name,
                &develop,
                &input.project.root,
                svc.get("build").is_some(),
            )
            .map_err(|e| {
                let err = cx.err(Some(&name), &e.needle, e.message);
                if e.hint.is_empty() {
                    err
                } else {
                    err.hint(e.hint)
                }
            })?;
            watch.extend(rules);
        }
        if svc.get("build").is_some() && svc.get("image").is_none() {
            let image = format!("{}/{name}", input.image_prefix);
            notes.push(format!(
                "{name} has `build:` and no `image:`: devenv tags its build as {image}:<content hash>"
            ));
            svc.insert(key("image"), key(&image));
        }
        check_refs(&cx, &name, &svc, "configs", &top_configs, input.profile)?;
        check_refs(&cx, &name, &svc, "secrets", &top_secrets, input.profile)?;
        if let Some(b) = svc.get("build") {
            builds.push(build_spec(&cx, &name, &svc, b)?);
        }
        if input.host_mode {
            to_host_mode(&cx, &name, &mut svc)?;
        }
        if let Some(policy) = &input.profile.file.update {
            apply_update_policy(&mut svc, policy);
        }
        new_services.insert(name_v.clone(), Value::Mapping(svc));
    }
    stack.insert(key("services"), Value::Mapping(new_services));
    if !top_configs.is_empty() {
        stack.insert(key("configs"), Value::Mapping(top_configs));
    }
    if !top_secrets.is_empty() {
        stack.insert(key("secrets"), Value::Mapping(top_secrets));
    }
    // what docker's loader casts, cast; then every key and value as docker stack deploy reads it
    let located = |p: super::compose::Problem| {
        let service = p
            .path
            .strip_prefix("services.")
            .and_then(|r| r.split(['.', '[']).next())
            .map(str::to_string);
        cx.err(service.as_deref(), &format!("{}:", p.key), p.message)
            .hint(p.hint)
    };
    super::compose::cast(&mut stack).map_err(located)?;
    super::compose::check_semantics(&stack).map_err(located)?;
    let needs = super::compose::check(&stack).map_err(located)?;
    let version = match file_version {
        Some(v) if needs > v => {
            return Err(cx
                .err(None, "version:", format!(
                    "the stack uses keys of compose file version 3.{needs}, and its `version:` says 3.{v}"
                ))
                .hint(format!("raise it to \"3.{needs}\" (docker CLIs from 23.0 read 3.10 and later), or leave `version:` out")));
        }
        Some(v) => v,
        None => needs.max(super::compose::DEFAULT),
    };
    // docker stack deploy reads the version first, to pick its schema
    let mut with_version = Mapping::new();
    with_version.insert(key("version"), key(&format!("3.{version}")));
    with_version.extend(std::mem::take(&mut stack));
    stack = with_version;
    for (k, names, hint) in ignored {
        let services = names.join(", ");
        if k == "depends_on" {
            notes.push(format!(
                "depends_on ({services}) is ignored by swarm, which starts services in any order: devenv waits for \
                 every service to run (and runs the tasks after that), so let each service retry what it depends on"
            ));
        } else {
            warnings.push(format!(
                "{k} ({services}) is ignored by docker stack deploy; {hint}"
            ));
        }
    }
    Ok(Shaped {
        stack,
        builds,
        warnings,
        notes,
        watch,
    })
}

/// Relative paths in a service — bind-mount sources and `env_file` — made absolute against the
/// project root. docker reads them relative to the stack file it is given, and the file devenv
/// gives it lives in `.devenv/deploy/`; relative to the project root is what
/// `docker stack deploy -c FILE` from the project directory reads.
fn absolutize_paths(
    cx: &Shaper<'_>,
    name: &str,
    svc: &mut Mapping,
    root: &Path,
) -> Result<(), ConfigError> {
    let abs = |p: &str| -> String {
        let joined = root.join(p.trim_start_matches("./"));
        crate::fsutil::normalize_lexically(&joined)
            .to_string_lossy()
            .into_owned()
    };
    let relative = |p: &str| p == "." || p.starts_with("./") || p.starts_with("../") || p == "..";
    if let Some(Value::Sequence(vols)) = svc.get_mut("volumes") {
        for v in vols.iter_mut() {
            match v {
                Value::String(s) => {
                    if let Some((src, rest)) = s.split_once(':')
                        && relative(src)
                    {
                        *s = format!("{}:{rest}", abs(src));
                    }
                }
                Value::Mapping(m) => {
                    if let Some(Value::String(src)) = m.get_mut("source")
                        && relative(src)
                    {
                        *src = abs(src);
                    }
                }
                _ => {}
            }
        }
    }
    match svc.get_mut("env_file") {
        Some(Value::String(f)) => *f = abs(f),
        Some(Value::Sequence(files)) => {
            for f in files.iter_mut() {
                match f {
                    Value::String(s) => *s = abs(s),
                    Value::Mapping(m) => {
                        if let Some(Value::String(p)) = m.get_mut("path") {
                            *p = abs(p);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(_) => {
            return Err(cx.err(
                Some(name),
                "env_file:",
                format!("services.{name}.env_file must be a path or a list of paths"),
            ));
        }
        None => {}
    }
    check_env_files(cx, name, svc)
}

/// The largest `env_file` docker is handed.
pub const MAX_ENV_FILE_BYTES: u64 = 1 << 20;

/// Every `env_file` is a regular file inside the project (or listed under `read_outside:`),
/// bounded: docker reads it when it deploys, and a FIFO or a device there would hang the deploy
/// (a missing one with `required: false` is fine, as in compose).
fn check_env_files(cx: &Shaper<'_>, name: &str, svc: &Mapping) -> Result<(), ConfigError> {
    let files: Vec<(String, bool)> = match svc.get("env_file") {
        Some(Value::String(f)) => vec![(f.clone(), true)],
        Some(Value::Sequence(v)) => v
            .iter()
            .filter_map(|f| match f {
                Value::String(s) => Some((s.clone(), true)),
                Value::Mapping(m) => Some((
                    m.get("path")?.as_str()?.to_string(),
                    m.get("required").and_then(Value::as_bool).unwrap_or(true),
                )),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let scope = cx.input.profile.scope(cx.input.project);
    for (f, required) in files {
        let shown = f
            .strip_prefix(&format!("{}/", cx.input.project.root.display()))
            .unwrap_or(&f)
            .to_string();
        let why = match scope.open(Path::new(&f)) {
            Ok(o) if o.len > MAX_ENV_FILE_BYTES => format!(
                "is larger than devenv's limit of {MAX_ENV_FILE_BYTES} bytes for an env file"
            ),
            Ok(_) => continue,
            Err(crate::contained::ReadError::NotFound { .. }) if !required => continue,
            Err(crate::contained::ReadError::NotFound { .. }) => "does not exist".to_string(),
            Err(e) => e.to_string().replacen(&format!("`{f}` "), "", 1),
        };
        return Err(cx
            .err(
                Some(name),
                "env_file",
                format!("services.{name}.env_file `{shown}` {why}"),
            )
            .hint("an env_file is a file of the project, relative to its root; `required: false` makes one optional"));
    }
    Ok(())
}

fn check_refs(
    cx: &Shaper<'_>,
    service: &str,
    svc: &Mapping,
    kind: &str,
    defined: &Mapping,
    profile: &Profile,
) -> Result<(), ConfigError> {
    let Some(list) = svc.get(kind) else {
        return Ok(());
    };
    let Some(list) = list.as_sequence() else {
        return Err(cx.err(
            Some(service),
            &format!("{kind}:"),
            format!("services.{service}.{kind} must be a list"),
        ));
    };
    let names: Vec<&str> = defined.keys().filter_map(Value::as_str).collect();
    for item in list {
        let src = match item {
            Value::String(s) => s.as_str(),
            Value::Mapping(m) => m.get("source").and_then(Value::as_str).unwrap_or_default(),
            _ => "",
        };
        if src.is_empty() {
            return Err(cx.err(
                Some(service),
                &format!("{kind}:"),
                format!("services.{service}.{kind}: an entry without `source`"),
            ));
        }
        if !names.contains(&src) {
            let singular = kind.trim_end_matches('s');
            let mut e = cx.err(
                Some(service),
                src,
                format!("services.{service} uses {singular} `{src}`, which profile `{}` does not define", profile.name),
            );
            e = match did_you_mean(src, names.iter().copied()) {
                Some(s) => e.hint(format!("did you mean `{s}`?")),
                None if kind == "secrets" && (src == "tls_cert" || src == "tls_key") => e.hint(format!(
                    "the TLS secrets exist when the profile sets `tls: local-ca` or `tls: {{files: ...}}` (it has `tls: {}`); \
                     wrap the reference in `{{% if tls.enabled %}}`",
                    profile.file.tls.mode()
                )),
                None if kind == "secrets" => e.hint(format!("add it under `secrets:` in {}", crate::error::display_path(&profile.path))),
                None => e.hint("add it under `configs:` in devenv.yaml"),
            };
            return Err(e);
        }
    }
    Ok(())
}

fn build_spec(
    cx: &Shaper<'_>,
    name: &str,
    svc: &Mapping,
    b: &Value,
) -> Result<BuildSpec, ConfigError> {
    let Some(image) = svc.get("image").and_then(Value::as_str) else {
        return Err(cx
            .err(
                Some(name),
                "build:",
                format!("services.{name} has `build:` but no `image:`"),
            )
            .hint(format!(
                "add `image: {{{{ image(\"{name}\") }}}}` so devenv knows what to tag the build as"
            )));
    };
    let repository = strip_tag(image).to_string();
    let mut spec = BuildSpec {
        service: name.to_string(),
        context: PathBuf::from("."),
        dockerfile: None,
        repository,
        args: BTreeMap::new(),
        target: None,
        flags: Vec::new(),
        contexts: Vec::new(),
    };
    match b {
        Value::String(s) => spec.context = PathBuf::from(s.trim_start_matches("./")),
        Value::Mapping(m) => {
            for (k, v) in m {
                match (k.as_str().unwrap_or_default(), v) {
                    ("context", Value::String(s)) => {
                        spec.context = PathBuf::from(s.trim_start_matches("./"))
                    }
                    ("dockerfile", Value::String(s)) => spec.dockerfile = Some(s.clone()),
                    ("target", Value::String(s)) => spec.target = Some(s.clone()),
                    ("args", Value::Mapping(a)) => {
                        for (ak, av) in a {
                            spec.args.insert(
                                ak.as_str().unwrap_or_default().to_string(),
                                scalar_string(av),
                            );
                        }
                    }
                    ("args", Value::Sequence(a)) => {
                        for item in a {
                            let s = scalar_string(item);
                            let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                            spec.args.insert(k.to_string(), v.to_string());
                        }
                    }
                    (key @ ("labels" | "extra_hosts" | "additional_contexts"), v) => {
                        let pairs = build_pairs(v, key == "extra_hosts").ok_or_else(|| {
                            cx.err(
                                Some(name),
                                &format!("{key}:"),
                                format!("services.{name}.build.{key} must be a list of `KEY=VALUE` or a mapping"),
                            )
                        })?;
                        for (k, v) in pairs {
                            match key {
                                "labels" => {
                                    spec.flags.extend(["--label".into(), format!("{k}={v}")])
                                }
                                "extra_hosts" => {
                                    spec.flags.extend(["--add-host".into(), format!("{k}:{v}")])
                                }
                                _ => spec.contexts.push((k, build_context(&v))),
                            }
                        }
                    }
                    ("network", Value::String(s)) => {
                        spec.flags.extend(["--network".into(), s.clone()])
                    }
                    ("shm_size", v @ (Value::String(_) | Value::Number(_))) => {
                        spec.flags.extend(["--shm-size".into(), scalar_string(v)])
                    }
                    ("cache_from", Value::Sequence(items)) => {
                        for i in items {
                            spec.flags.extend(["--cache-from".into(), scalar_string(i)]);
                        }
                    }
                    ("no_cache", Value::Bool(b)) => {
                        if *b {
                            spec.flags.push("--no-cache".into())
                        }
                    }
                    ("pull", Value::Bool(b)) => {
                        if *b {
                            spec.flags.push("--pull".into())
                        }
                    }
                    ("platforms", Value::Sequence(p)) if p.len() == 1 => spec
                        .flags
                        .extend(["--platform".into(), scalar_string(&p[0])]),
                    ("platform", Value::String(p)) => {
                        spec.flags.extend(["--platform".into(), p.clone()])
                    }
                    (other, _) => {
                        let why = match other {
                            "secrets" | "ssh" => {
                                "BuildKit's build secrets and SSH forwarding are not passed by devenv build; build the image with `docker buildx build` and give the service its `image:`"
                            }
                            "platforms" => {
                                "one engine builds one platform: give one (`platforms: [linux/amd64]`)"
                            }
                            "tags" => {
                                "devenv tags the image with its content hash; push other tags with `docker tag`"
                            }
                            _ => "docker build has no such option (or devenv does not pass it yet)",
                        };
                        return Err(cx
                            .err(
                                Some(name),
                                &format!("{other}:"),
                                format!(
                                    "services.{name}.build.{other} is not supported by devenv build"
                                ),
                            )
                            .hint(format!("{why}; supported: context, dockerfile, args, target, labels, network, shm_size, extra_hosts, cache_from, no_cache, pull, platform(s), additional_contexts")));
                    }
                }
            }
        }
        _ => {
            return Err(cx.err(
                Some(name),
                "build:",
                format!("services.{name}.build must be a path or a mapping"),
            ));
        }
    }
    Ok(spec)
}

/// A build mapping or `KEY=VALUE` list (`NAME:ADDRESS` too for `extra_hosts`) as pairs.
fn build_pairs(v: &Value, hosts: bool) -> Option<Vec<(String, String)>> {
    match v {
        Value::Mapping(m) => Some(
            m.iter()
                .map(|(k, v)| (scalar_string(k), scalar_string(v)))
                .collect(),
        ),
        Value::Sequence(items) => items
            .iter()
            .map(|i| {
                let s = scalar_string(i);
                let cut = s
                    .split_once('=')
                    .or_else(|| if hosts { s.split_once(':') } else { None })?;
                Some((cut.0.to_string(), cut.1.to_string()))
            })
            .collect(),
        _ => None,
    }
}

/// An additional build context: a source docker fetches, or a directory of the project.
fn build_context(v: &str) -> crate::render::BuildContext {
    if v.contains("://") || v.starts_with("target:") {
        crate::render::BuildContext::Remote(v.to_string())
    } else {
        crate::render::BuildContext::Dir(PathBuf::from(v.trim_start_matches("./")))
    }
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// `registry:5000/a/b:tag` → `registry:5000/a/b`; digests too.
pub fn strip_tag(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

/// The service's `deploy:` mapping, made (or replacing a non-mapping) when missing.
pub(super) fn deploy_mut(svc: &mut Mapping) -> &mut Mapping {
    let d = svc
        .entry(key("deploy"))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if !d.is_mapping() {
        *d = Value::Mapping(Mapping::new());
    }
    d.as_mapping_mut().expect("just made a mapping")
}

/// Long-syntax ports in host mode and `endpoint_mode: dnsrr`: what works without IPVS.
fn to_host_mode(cx: &Shaper<'_>, name: &str, svc: &mut Mapping) -> Result<(), ConfigError> {
    if let Some(ports) = svc.get("ports").cloned() {
        let Value::Sequence(list) = ports else {
            return Err(cx.err(
                Some(name),
                "ports:",
                format!("services.{name}.ports must be a list"),
            ));
        };
        let mut out = Vec::new();
        for p in list {
            for m in long_ports(&p)
                .map_err(|m| cx.err(Some(name), "ports:", format!("services.{name}.ports: {m}")))?
            {
                out.push(Value::Mapping(m));
            }
        }
        svc.insert(key("ports"), Value::Sequence(out));
    }
    deploy_mut(svc).insert(key("endpoint_mode"), key("dnsrr"));
    Ok(())
}

/// A port entry (short or long syntax) as long-syntax mappings with `mode: host` (a mapping keeps
/// its other keys).
pub fn long_ports(p: &Value) -> Result<Vec<Mapping>, String> {
    if let Value::Mapping(m) = p {
        let mut m = m.clone();
        m.insert(key("mode"), key("host"));
        return Ok(vec![m]);
    }
    Ok(crate::stack::parse_port(p)?
        .into_iter()
        .map(|mut port| {
            port.mode = crate::stack::PortMode::Host;
            port.to_mapping()
        })
        .collect())
}

fn apply_update_policy(svc: &mut Mapping, p: &crate::profile::UpdatePolicy) {
    let deploy = deploy_mut(svc);
    if deploy.contains_key("update_config") {
        return;
    }
    let mut u = Mapping::new();
    if let Some(v) = p.parallelism {
        u.insert(key("parallelism"), Value::Number(v.into()));
    }
    for (k, v) in [
        ("delay", &p.delay),
        ("order", &p.order),
        ("failure_action", &p.failure_action),
        ("monitor", &p.monitor),
    ] {
        if let Some(v) = v {
            u.insert(key(k), key(v));
        }
    }
    if let Some(r) = p.max_failure_ratio {
        u.insert(key("max_failure_ratio"), Value::Number(r.into()));
    }
    deploy.insert(key("update_config"), Value::Mapping(u));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn short_ports_become_host_mode() {
        let v = long_ports(&y("\"8080:80\"")).unwrap();
        assert_eq!(
            Value::Mapping(v[0].clone()),
            y("{target: 80, published: 8080, protocol: tcp, mode: host}")
        );
        let v = long_ports(&y("\"53:53/udp\"")).unwrap();
        assert_eq!(v[0].get("protocol").unwrap(), "udp");
        let v = long_ports(&y("\"8000-8002:9000-9002\"")).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[2].get("published").unwrap().as_u64(), Some(8002));
        assert_eq!(v[2].get("target").unwrap().as_u64(), Some(9002));
        assert!(
            long_ports(&y("\"127.0.0.1:80:80\""))
                .unwrap_err()
                .contains("host IP")
        );
        assert!(long_ports(&y("\"80-81:80\"")).is_err());
        let v = long_ports(&y("{target: 443, published: 443}")).unwrap();
        assert_eq!(v[0].get("mode").unwrap(), "host");
    }

    #[test]
    fn strip_tag_keeps_registry_port() {
        assert_eq!(strip_tag("reg:5000/a/web:abc"), "reg:5000/a/web");
        assert_eq!(strip_tag("reg:5000/a/web"), "reg:5000/a/web");
        assert_eq!(strip_tag("web@sha256:00"), "web");
        assert_eq!(strip_tag("nginx:1.27"), "nginx");
    }
}

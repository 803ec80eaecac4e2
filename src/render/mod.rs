//! Rendering: the stack template and config templates of a profile, through minijinja with strict
//! undefined variables, then checked and shaped for `docker stack deploy` (see [`stack`]).

pub mod compose;
pub mod dotenv;
pub mod edge;
pub mod interpolate;
pub mod local;
pub mod merge;
pub mod stack;
pub mod trust;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as JValue};
use serde_yaml_ng::{Mapping, Value};

use crate::contained::{ReadError, Scope};
use crate::error::{ConfigError, display_path, line_col};
use crate::name::RelPath;
use crate::profile::{Profile, Project, Tls, merge_vars};

/// Facts about the machine that shape the output (so rendering itself stays pure).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// Whether the kernel that runs the swarm has IPVS; `None` when unknown (assume yes).
    pub ipvs: Option<bool>,
    /// The environment devenv runs in: what `${VAR}` in the stack reads after the profile's
    /// `env:` (as docker would read it).
    pub env: BTreeMap<String, String>,
    /// `--env-file FILE…`: read instead of the `.env` beside the stack file, as compose does.
    pub env_files: Vec<PathBuf>,
    /// devenv's CA (PEM) for a local-CA profile, when it exists (or `up` creates it): the services
    /// get it ([`trust`]).
    pub ca_pem: Option<String>,
    /// This machine's public CAs (PEM), for the services' bundle; Mozilla's list when `None`.
    pub public_cas: Option<String>,
}

/// One secret's value as collected from its source (a file or an environment variable).
#[derive(Debug, Clone)]
pub struct SecretInput {
    pub key: String,
    /// Where it comes from, for messages: `certs/local.key`, `$DJANGO_SECRET_KEY`.
    pub origin: String,
    /// The value, or why it is not available.
    pub value: Result<Vec<u8>, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenderedConfig {
    /// Its name: checked when the file that defines it was read, so it can become a file name.
    pub key: crate::name::Name,
    pub object_name: String,
    pub template: PathBuf,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretRef {
    pub key: String,
    pub object_name: String,
    pub origin: String,
    /// Why the value is unavailable (`up` refuses to deploy then).
    pub unavailable: Option<String>,
}

/// A service with a build context: devenv builds it and points the stack at the built tag.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildSpec {
    pub service: String,
    pub context: PathBuf,
    pub dockerfile: Option<String>,
    /// The image name from the stack (`PREFIX/NAME`), without tag.
    pub repository: String,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    /// The other `docker build` options the service's `build:` asks for, as arguments
    /// (`--label`, `k=v`, `--network`, `host`…).
    pub flags: Vec<String>,
    /// `build.additional_contexts`: a name and a directory of the project (relative to its root)
    /// or a source docker reads itself (`docker-image://…`, a URL).
    pub contexts: Vec<(String, BuildContext)>,
}

/// Where an additional build context comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildContext {
    /// A directory of the project (hashed like the main context).
    Dir(PathBuf),
    /// `docker-image://…`, `https://…`, `target:…`: docker fetches it.
    Remote(String),
}

/// The output of rendering one profile.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub profile: String,
    pub stack_name: String,
    pub stack: Mapping,
    pub stack_yaml: String,
    pub configs: Vec<RenderedConfig>,
    pub secrets: Vec<SecretRef>,
    pub builds: Vec<BuildSpec>,
    /// The services' `develop.watch` rules (`devenv watch`).
    pub watch: Vec<crate::live::Rule>,
    pub warnings: Vec<String>,
    /// What devenv changed in the stack for this machine (one replica on a single node, ...),
    /// one line each, for the user to read.
    pub notes: Vec<String>,
    /// Values of the secrets the stack file defines with `file:` (devenv creates them
    /// content-hash named, like the profile's).
    pub file_secrets: Vec<SecretInput>,
    /// Ports were switched to host mode and VIPs to dnsrr (no IPVS, or `publish: host`).
    pub host_mode: bool,
    /// The typed view of `stack`.
    pub view: crate::stack::Stack,
    /// Each `${VAR}` the stack used and where its value came from (`render -v` says it).
    pub variables: Vec<(String, String)>,
    /// The names devenv's TLS edge serves over HTTPS (none without an edge).
    pub edge_names: Vec<String>,
}

impl Rendered {
    /// The files of a render: `stack.yml` and `configs/NAME` (each a [`RelPath`]: a config's
    /// name is a checked [`crate::name::Name`], so no file lands outside the output directory).
    pub fn files(&self) -> Vec<(RelPath, String)> {
        use crate::name::{Kind, Name};
        let file = |s: &str| Name::new(Kind::File, s).expect("a fixed file name");
        let mut v = vec![(RelPath::join([file("stack.yml")]), self.stack_yaml.clone())];
        for c in &self.configs {
            v.push((
                RelPath::join([file("configs"), c.key.clone()]),
                c.content.clone(),
            ));
        }
        v
    }

    pub fn service_names(&self) -> Vec<String> {
        self.view.names()
    }
}

/// Where the site answers: the profile's names on the published web ports.
pub fn urls(profile: &Profile, stack: &crate::stack::Stack) -> Vec<String> {
    let ports = stack.published_ports();
    let mut names: Vec<String> = profile.file.hosts.clone();
    if names.is_empty() {
        names.push(profile.file.domain.clone());
    }
    let tls = profile.file.tls != Tls::None;
    let mut out = Vec::new();
    for n in &names {
        if tls && ports.contains(&443) {
            out.push(format!("https://{n}/"));
        } else if ports.contains(&80) {
            out.push(format!("http://{n}/"));
        } else if let Some(p) = ports.first() {
            out.push(format!("{}://{n}:{p}/", if tls { "https" } else { "http" }));
        }
    }
    out
}

/// The variables a template sees.
pub fn context(project: &Project, profile: &Profile) -> Result<Mapping, ConfigError> {
    let f = &profile.file;
    let mut vars = project.file.vars.clone();
    merge_vars(&mut vars, &f.vars);
    let mut ctx = Mapping::new();
    let put = |m: &mut Mapping, k: &str, v: Value| {
        m.insert(Value::String(k.to_string()), v);
    };
    put(
        &mut ctx,
        "project",
        Value::String(project.file.project.clone()),
    );
    put(&mut ctx, "profile", Value::String(profile.name.clone()));
    put(
        &mut ctx,
        "stack_name",
        Value::String(profile.stack_name(project)),
    );
    put(&mut ctx, "domain", Value::String(f.domain.clone()));
    put(
        &mut ctx,
        "hosts",
        Value::Sequence(f.hosts.iter().map(|h| Value::String(h.clone())).collect()),
    );
    put(&mut ctx, "ipv6", Value::Bool(f.ipv6));
    let mut tls = Mapping::new();
    put(&mut tls, "enabled", Value::Bool(f.tls != Tls::None));
    put(&mut tls, "mode", Value::String(f.tls.mode().into()));
    put(&mut ctx, "tls", Value::Mapping(tls));
    put(
        &mut ctx,
        "registry",
        Value::String(
            f.registry
                .as_ref()
                .map(|r| r.prefix.clone())
                .unwrap_or_default(),
        ),
    );
    put(
        &mut ctx,
        "replicas",
        serde_yaml_ng::to_value(&f.replicas).expect("replicas serialise"),
    );
    put(
        &mut ctx,
        "env",
        serde_yaml_ng::to_value(&f.env).expect("env serialises"),
    );
    put(
        &mut ctx,
        "secrets",
        Value::Sequence(f.secrets.keys().map(|k| Value::String(k.clone())).collect()),
    );
    let mut docker = Mapping::new();
    put(
        &mut docker,
        "context",
        Value::String(f.docker.context.clone()),
    );
    put(&mut docker, "swarm", Value::Bool(f.docker.swarm));
    put(&mut ctx, "docker", Value::Mapping(docker));
    let builtins: Vec<String> = ctx
        .keys()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    // vars are also available at the top level, unless they would hide a built-in
    for (k, v) in &vars {
        let Some(name) = k.as_str() else { continue };
        if builtins.iter().any(|b| b == name) {
            let (file, src) = if f.vars.contains_key(k) {
                (profile.path.clone(), profile.source.as_str())
            } else {
                (
                    project.root.join(crate::profile::PROJECT_FILE),
                    project.source.as_str(),
                )
            };
            return Err(ConfigError::new(
                file,
                format!("vars.{name} would hide the built-in template variable `{name}`"),
            )
            .at_text(src, &format!("{name}:"))
            .hint(format!(
                "rename it; templates see `{name}` from the profile already"
            )));
        }
        ctx.insert(k.clone(), v.clone());
    }
    put(&mut ctx, "vars", Value::Mapping(vars));
    Ok(ctx)
}

/// The largest template file devenv reads (a stack or config template, or an included file).
pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;
/// The largest rendered file.
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;
/// The work one render may do (minijinja fuel: about one per instruction, one per 64 bytes of
/// data): thousands of times what a real stack needs, and a runaway loop stops in about a second.
pub const FUEL: u64 = 5_000_000;

/// Reads `rel`, a path relative to the project `root` named by a template (`{% include %}`), by
/// devenv.yaml or a profile: through the project's [`Scope`] (never out of the project, only a
/// regular file, at most `limit` bytes), as UTF-8.
pub fn read_project_file(root: &Path, rel: &str, limit: u64) -> Result<String, ReadError> {
    Scope::project(root).read_string(Path::new(rel), limit)
}

/// A minijinja environment as devenv configures it: strict undefined, trailing newline kept,
/// no auto-escaping, `trim_blocks`/`lstrip_blocks` (so `{% if %}` lines vanish from YAML),
/// templates loaded from inside the project root only, and a bounded amount of work per render.
pub fn environment(root: &Path, image_prefix: String) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_debug(true);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("default delimiters"),
    );
    let root = root.to_path_buf();
    env.set_loader(
        move |name: &str| match read_project_file(&root, name, MAX_TEMPLATE_BYTES) {
            Ok(s) => Ok(Some(minijinja::TemplateSource::new(s))),
            Err(ReadError::NotFound { .. }) => Ok(None),
            Err(e) => Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                e.to_string(),
            )),
        },
    );
    // image("web") → PREFIX/web:latest ; image("web", "1.2") → PREFIX/web:1.2
    env.add_function(
        "image",
        move |name: String, tag: Option<String>| -> String {
            format!(
                "{image_prefix}/{name}:{}",
                tag.unwrap_or_else(|| "latest".into())
            )
        },
    );
    env
}

/// Renders one template file (path relative to the project root) with `ctx`.
pub fn render_template(
    env: &Environment<'_>,
    root: &Path,
    template: &Path,
    ctx: &JValue,
) -> Result<String, ConfigError> {
    let name = template.to_string_lossy().replace('\\', "/");
    let full = root.join(template);
    let tmpl = match env.get_template(&name) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::TemplateNotFound => {
            return Err(ConfigError::new(&full, "template not found")
                .hint("check the path in devenv.yaml (it is relative to the project root)"));
        }
        Err(e) => return Err(template_error(root, &e)),
    };
    let out = tmpl.render(ctx).map_err(|e| template_error(root, &e))?;
    if out.len() > MAX_OUTPUT_BYTES {
        return Err(ConfigError::new(
            &full,
            format!(
                "the rendered output is {} bytes, more than devenv's limit of {MAX_OUTPUT_BYTES}",
                out.len()
            ),
        )
        .hint("a stack or config this large is a runaway loop or include; check the template"));
    }
    Ok(out)
}

/// A minijinja error as a ConfigError naming template, line, column and the failing expression.
pub fn template_error(root: &Path, outer: &minijinja::Error) -> ConfigError {
    // an error inside an included template: point at the line there, and say where it was
    // included from
    let mut e = outer;
    while let Some(inner) =
        std::error::Error::source(e).and_then(|s| s.downcast_ref::<minijinja::Error>())
    {
        e = inner;
    }
    if !std::ptr::eq(e, outer) && e.name().is_some() {
        let mut ce = template_error_at(root, e);
        let from = template_error_at(root, outer);
        ce.message
            .push_str(&format!(" (included from {})", from.location()));
        return ce;
    }
    template_error_at(root, e)
}

fn template_error_at(root: &Path, e: &minijinja::Error) -> ConfigError {
    let name = e.name().unwrap_or("<template>");
    let file = root.join(name);
    let src = e
        .template_source()
        .map(str::to_string)
        .or_else(|| read_project_file(root, name, MAX_TEMPLATE_BYTES).ok());
    let detail = e.detail().unwrap_or("").to_string();
    let expr = match (&src, e.range()) {
        (Some(s), Some(r)) if r.end <= s.len() => Some(s[r.clone()].trim().to_string()),
        _ => None,
    };
    let message = match e.kind() {
        ErrorKind::UndefinedError => match &expr {
            Some(x) => format!("undefined variable in `{x}`"),
            None => "undefined variable".to_string(),
        },
        ErrorKind::SyntaxError => format!("template syntax error: {detail}"),
        ErrorKind::TemplateNotFound => format!("included template not found: {detail}"),
        k => {
            let what = format!("{k}");
            match (&expr, detail.is_empty()) {
                (Some(x), false) => format!("{what}: {detail} (in `{x}`)"),
                (Some(x), true) => format!("{what} (in `{x}`)"),
                (None, _) => format!("{what}: {detail}"),
            }
        }
    };
    let mut ce = ConfigError::new(&file, message);
    if let Some(s) = &src {
        let (line, col) = match e.range() {
            Some(r) if r.start <= s.len() => line_col(s, r.start),
            _ => (e.line().unwrap_or(0), 0),
        };
        if line > 0 {
            ce = ce.at(s, line, col);
        }
    }
    if e.kind() == ErrorKind::OutOfFuel {
        ce.message = format!(
            "the template does too much work (more than {FUEL} steps): a loop that runs away?"
        );
        ce = ce.hint(
            "devenv stops a render past this limit; check the loops and ranges around this line",
        );
    } else if e.kind() == ErrorKind::UndefinedError {
        ce = ce.hint(
            "define it in the profile (or under `vars:` in devenv.yaml for every profile); \
             use `{{ x | default(...) }}` or `{% if x is defined %}` where it is optional",
        );
    }
    ce
}

/// Collects secret values for a profile: TLS files (local CA leaf or the profile's files) and the
/// profile's `secrets:` (files or environment variables).
pub fn collect_secrets(
    project: &Project,
    profile: &Profile,
    sys: &dyn crate::sys::Facts,
) -> Vec<SecretInput> {
    let scope = profile.scope(project);
    let mut out = Vec::new();
    let read = |key: &str, named: &Path| {
        let origin = display_rel(&project.root, &project.root.join(named));
        SecretInput {
            key: key.to_string(),
            value: read_secret_file(&scope, named, &origin),
            origin,
        }
    };
    match &profile.file.tls {
        Tls::None => {}
        Tls::LocalCa => {
            let (crt, key) = profile.leaf_paths(&project.root);
            for (k, p) in [("tls_cert", crt), ("tls_key", key)] {
                let mut s = read(k, &p);
                if let Err(e) = &mut s.value {
                    e.push_str(" yet (`devenv certs issue` or `devenv up` mints it)");
                }
                out.push(s);
            }
        }
        Tls::Files(f) => {
            out.push(read("tls_cert", &f.cert));
            out.push(read("tls_key", &f.key));
        }
    }
    for (k, s) in &profile.file.secrets {
        if let Some(f) = &s.file {
            out.push(read(k, f));
        } else if s.generate.is_some() {
            let p = generated_secret_path(&project.root, &profile.name, k);
            let origin = format!("generated ({})", display_rel(&project.root, &p));
            out.push(SecretInput {
                key: k.clone(),
                value: match scope.read(&p, MAX_SECRET_BYTES) {
                    Ok(v) => Ok(v),
                    Err(ReadError::NotFound { .. }) => {
                        Err(format!("{origin} is created by `devenv up`"))
                    }
                    Err(e) => Err(e.to_string()),
                },
                origin,
            });
        } else if let Some(var) = &s.env {
            out.push(SecretInput {
                key: k.clone(),
                origin: format!("${var}"),
                value: sys
                    .var(var)
                    .map(String::into_bytes)
                    .ok_or_else(|| format!("environment variable {var} is not set")),
            });
        }
    }
    out
}

/// Swarm's limit for a secret's value.
pub const MAX_SECRET_BYTES: u64 = 500 * 1024;

/// A secret's (or a `file:` config's) file, through the profile's scope: a regular file inside
/// the project (or listed under `read_outside:`) within swarm's size limit.
fn read_secret_file(scope: &Scope, named: &Path, origin: &str) -> Result<Vec<u8>, String> {
    scope.read(named, MAX_SECRET_BYTES).map_err(|e| match e {
        ReadError::NotFound { .. } => format!("{origin} does not exist"),
        ReadError::TooLarge { .. } => format!(
            "{origin} is larger than swarm's limit for a secret or config ({MAX_SECRET_BYTES} bytes)"
        ),
        e => e.to_string(),
    })
}

/// Where a `generate:` secret of a profile is kept.
pub fn generated_secret_path(root: &Path, profile: &str, key: &str) -> PathBuf {
    crate::state::dir(root)
        .join("secrets")
        .join(profile)
        .join(key)
}

fn display_rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| display_path(p))
}

/// Swarm object name: `STACK_KEY_HASH`, at most 64 characters.
pub fn object_name(stack: &str, key: &str, hash: &str) -> String {
    let room = 64usize.saturating_sub(stack.len() + hash.len() + 2);
    let key: String = key.chars().take(room).collect();
    format!("{stack}_{key}_{hash}")
}

/// Whether a stack, override or config file is a minijinja template: by its name (`.j2`,
/// `.jinja`). Any other file is used as it is — a compose file adopted unchanged keeps working
/// with plain docker, and docker's own `{{.Task.Slot}}` placeholders stay docker's.
pub fn is_template(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("j2" | "jinja" | "jinja2")
    )
}

/// A file devenv.yaml or a profile names that cannot be read.
fn file_error(root: &Path, rel: &Path, e: ReadError) -> ConfigError {
    match e {
        ReadError::NotFound { .. } => ConfigError::new(root.join(rel), "file not found")
            .hint("check the path (it is relative to the project root)"),
        e => ConfigError::new(root.join(rel), e.to_string()).hint(e.hint()),
    }
}

/// One stack-like file (the stack or an override file) read, rendered when it is a template, and
/// parsed: its mapping, and its source for error locations.
fn load_stack_file(
    env: &Environment<'_>,
    root: &Path,
    rel: &Path,
    ctx: &JValue,
) -> Result<(Mapping, String), ConfigError> {
    let full = root.join(rel);
    let template = is_template(rel);
    let source = read_project_file(root, &rel.to_string_lossy(), MAX_TEMPLATE_BYTES)
        .map_err(|e| file_error(root, rel, e))?;
    let text = if template {
        render_template(env, root, rel, ctx)?
    } else {
        source.clone()
    };
    let doc: Value = crate::yaml::parse(&text).map_err(|e| {
        let e = match e {
            crate::yaml::Error::Limit(l) => return crate::yaml::limit_error(&full, &text, &l),
            crate::yaml::Error::Yaml(e) => e,
        };
        let what = if template {
            "the rendered stack"
        } else {
            "the file"
        };
        let mut ce = ConfigError::new(
            &full,
            format!(
                "{what} is not valid YAML: {}",
                e.to_string().split(" at line ").next().unwrap_or_default()
            ),
        );
        if let Some(l) = e.location() {
            ce = ce.at(&text, l.line(), l.column());
            if template {
                ce.message
                    .push_str(" (line and column of the rendered output: see `devenv render`)");
            }
        }
        if !template && text.contains("{{") {
            ce.hint(format!(
                "this file is not a template (its name does not end in `.j2`), so `{{{{ … }}}}` is read as YAML; \
                 rename it to {}.j2 to render it with minijinja",
                rel.display()
            ))
        } else {
            ce.hint("check the indentation around template tags; `{%- ... %}` trims whitespace")
        }
    })?;
    if !template && let Some(at) = complex_key(&doc) {
        // `image: {{ image("web") }}` is valid YAML: a mapping whose key is a mapping
        return Err(ConfigError::new(&full, format!("`{at}` is template syntax, read as YAML"))
            .at_text(&text, "{{")
            .hint(format!(
                "this file is not a template (its name does not end in `.j2`); rename it to {}.j2 to render it with minijinja",
                rel.display()
            )));
    }
    let mut doc = doc;
    doc.apply_merge().map_err(|e| {
        ConfigError::new(
            &full,
            format!("a YAML merge key (`<<:`) does not merge: {e}"),
        )
    })?;
    if let Some(tag) = merge::unknown_tag(&doc) {
        return Err(unknown_tag_error(ConfigError::new(&full, ""), &text, &tag));
    }
    match doc {
        Value::Mapping(m) => {
            check_names(&m, &full, &text)?;
            Ok((m, source))
        }
        Value::Null if !template => Err(ConfigError::new(&full, "the file is empty")),
        _ => Err(ConfigError::new(
            &full,
            if template {
                "the rendered stack is not a YAML mapping"
            } else {
                "the stack is not a YAML mapping"
            },
        )
        .hint("a stack starts with `services:`")),
    }
}

/// A YAML tag compose does not know, at its place: docker would deploy the value as if it were
/// not there.
fn unknown_tag_error(e: ConfigError, text: &str, tag: &str) -> ConfigError {
    let mut e = e.at_text(text, tag);
    e.message = format!("`{tag}` is a YAML tag neither compose nor devenv knows");
    e.hint("compose reads two tags: `!reset` (remove the value) and `!override` (replace it whole); quote a value that starts with `!`")
}

/// Every name a stack-like file gives its services, networks, volumes, configs and secrets is
/// one docker accepts for its kind (see [`crate::name`]): a name with `/`, `..`, a space or a
/// newline is refused here, with its place in the file, before it can become a path or a key.
pub fn check_names(doc: &Mapping, file: &Path, source: &str) -> Result<(), ConfigError> {
    use crate::name::{Kind, Name};
    for (section, kind) in [
        ("services", Kind::Service),
        ("networks", Kind::Network),
        ("volumes", Kind::Volume),
        ("configs", Kind::Object),
        ("secrets", Kind::Object),
    ] {
        let Some(m) = doc.get(section).and_then(Value::as_mapping) else {
            continue;
        };
        for k in m.keys() {
            let Some(name) = k.as_str() else {
                return Err(ConfigError::new(
                    file,
                    format!(
                        "{section}: a name must be a string, not `{}`",
                        yaml_inline(k)
                    ),
                )
                .at_text(source, &format!("{section}:")));
            };
            if let Err(e) = Name::new(kind, name) {
                // the name where its section starts (not the same letters in an earlier key)
                let from = source
                    .match_indices(&format!("{section}:"))
                    .find(|(i, _)| *i == 0 || source[..*i].ends_with('\n'))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                let e = ConfigError::new(file, format!("{section}: {e}"));
                let e = match crate::error::locate(source, name, from) {
                    Some((l, c)) => e.at(source, l, c),
                    None => e.at_text(source, name),
                };
                return Err(e.hint(
                    "docker refuses such a name, and devenv never turns it into a file or a key",
                ));
            }
        }
    }
    Ok(())
}

/// A YAML value on one line, for messages.
fn yaml_inline(v: &Value) -> String {
    serde_yaml_ng::to_string(v)
        .unwrap_or_default()
        .trim()
        .replace('\n', " ")
}

/// The first mapping used as a mapping key (never valid in a compose file; what `{{ x }}` in a
/// file that is not a template parses as), shown as `{{ x }}`.
fn complex_key(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(m) => m.iter().find_map(|(k, v)| match k {
            Value::Mapping(inner) => {
                let name = inner
                    .keys()
                    .next()
                    .map(|k| {
                        serde_yaml_ng::to_string(k)
                            .unwrap_or_default()
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default();
                Some(format!("{{{{ {name} }}}}"))
            }
            _ => complex_key(v),
        }),
        Value::Sequence(s) => s.iter().find_map(complex_key),
        _ => None,
    }
}

/// `${VAR}` in one document, with errors and unset variables that name the file and line.
fn interpolate_doc(
    doc: &mut Mapping,
    file: &Path,
    source: &str,
    lookup: &dyn interpolate::Lookup,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let mut v = Value::Mapping(std::mem::take(doc));
    let mut unset = Vec::new();
    let r = interpolate::interpolate_value(&mut v, lookup, "", &mut unset);
    let Value::Mapping(m) = v else {
        unreachable!("a mapping stays a mapping")
    };
    *doc = m;
    if let Err(f) = r {
        let message = match &f.problem {
            interpolate::Problem::Required { var, message } => format!(
                "{}: `{var}` is not set{}",
                f.path,
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            ),
            interpolate::Problem::Syntax(m) => format!("{}: {m}", f.path),
            interpolate::Problem::TooLarge => format!(
                "{}: the values of its variables add up to more than devenv's limit of {} MiB for a rendered file",
                f.path,
                interpolate::MAX_INTERPOLATED_BYTES >> 20
            ),
        };
        return Err(ConfigError::new(file, message)
            .at_text(source, &f.text)
            .hint("set it under `env:` in the profile, or in the environment devenv runs in; `$$` is a literal `$`"));
    }
    for u in unset {
        let mut e = ConfigError::new(file, String::new()).at_text(source, &u);
        e.message = format!(
            "`{u}` is not set, so it reads as an empty string (as docker reads it); set it under `env:` in the profile, \
             or give a default: `${{{u}:-value}}`"
        );
        warnings.push(format!("{}: {}", e.location(), e.message));
    }
    Ok(())
}

/// Renders `profile` of `project`: the stack (a template, or a compose file as it is), the
/// profile's override files and `services:` merged over it the way compose merges override files,
/// the profile's `replicas:`, `${VAR}` interpolated, the stack file's own `file:` configs and
/// secrets content-hash named, then shaped for `docker stack deploy` and, for a profile on this
/// machine, for a single node.
pub fn render(
    project: &Project,
    profile: &Profile,
    facts: Facts,
    secrets: &[SecretInput],
    salt: &[u8],
) -> anyhow::Result<Rendered> {
    let stack_name = profile.stack_name(project);
    let prefix = profile
        .file
        .registry
        .as_ref()
        .map(|r| r.prefix.clone())
        .unwrap_or_else(|| project.file.project.clone());
    let env = environment(&project.root, prefix.clone());
    let ctx = JValue::from(minijinja::value::Serde(&context(project, profile)?));
    let dotenv = load_dotenv(project, &facts)?;
    let used: std::cell::RefCell<BTreeMap<String, String>> = Default::default();
    let profile_shown = display_rel(&project.root, &profile.path);
    // compose's order: the profile's `env:` (devenv's own, explicit), the environment devenv
    // runs in, then `.env` (or `--env-file`), then the file's own default
    let lookup = |name: &str| -> Option<String> {
        let (value, origin) = if let Some(v) = profile.file.env.get(name) {
            (v.0.clone(), format!("env: of {profile_shown}"))
        } else if let Some(v) = facts.env.get(name) {
            (v.clone(), "the environment".to_string())
        } else if let Some((v, origin)) = dotenv.get(name) {
            (v.clone(), origin.clone())
        } else {
            used.borrow_mut()
                .entry(name.to_string())
                .or_insert_with(|| "not set".into());
            return None;
        };
        used.borrow_mut().insert(name.to_string(), origin);
        Some(value)
    };
    let mut warnings = Vec::new();

    let (mut doc, template_src) = load_stack_file(&env, &project.root, &project.file.stack, &ctx)?;
    merge::resolve(&mut doc);
    let template_path = project.root.join(&project.file.stack);
    interpolate_doc(
        &mut doc,
        &template_path,
        &template_src,
        &lookup,
        &mut warnings,
    )?;
    for o in &profile.file.overrides {
        let (mut over, src) = load_stack_file(&env, &project.root, o, &ctx)?;
        let file = project.root.join(o);
        interpolate_doc(&mut over, &file, &src, &lookup, &mut warnings)?;
        merge::merge_stack(&mut doc, &over).map_err(|e| {
            let last = e.path.rsplit('.').next().unwrap_or_default().to_string();
            ConfigError::new(&file, format!("cannot merge it over the stack: {e}"))
                .at_text(&src, &format!("{last}:"))
        })?;
    }
    apply_profile(&mut doc, profile, &lookup, &mut warnings)?;
    let mut early_notes = Vec::new();
    compose_profiles(&mut doc, profile, &facts, &mut early_notes);

    let mut configs = Vec::new();
    for (key, tpl) in &project.file.configs {
        let content = if is_template(tpl) {
            render_template(&env, &project.root, tpl, &ctx)?
        } else {
            read_project_file(&project.root, &tpl.to_string_lossy(), MAX_TEMPLATE_BYTES)
                .map_err(|e| file_error(&project.root, tpl, e))?
        };
        let object_name = object_name(
            &stack_name,
            key,
            &crate::hash::short(content.as_bytes(), 10),
        );
        let key = crate::name::Name::new(crate::name::Kind::Object, key).map_err(|e| {
            ConfigError::new(
                project.root.join(crate::profile::PROJECT_FILE),
                format!("configs: {e}"),
            )
            .at_text(&project.source, key)
        })?;
        configs.push(RenderedConfig {
            key,
            object_name,
            template: tpl.clone(),
            content,
        });
    }

    let edge_names = local_https(
        &mut doc,
        project,
        profile,
        &facts,
        &stack_name,
        &mut configs,
        &mut early_notes,
    )?;

    let mut secret_refs: Vec<SecretRef> = secrets
        .iter()
        .map(|s| secret_ref(&stack_name, salt, s))
        .collect();
    let file_secrets = file_objects(
        &mut doc,
        project,
        &profile.scope(project),
        &template_path,
        &template_src,
        &stack_name,
        &mut configs,
    )?;
    secret_refs.extend(
        file_secrets
            .iter()
            .map(|s| secret_ref(&stack_name, salt, s)),
    );

    let host_mode = profile.host_mode(facts.ipvs);
    let shaped = stack::shape(stack::ShapeInput {
        doc,
        template_path: &template_path,
        template_src: &template_src,
        project,
        profile,
        configs: &configs,
        secrets: &secret_refs,
        host_mode,
        image_prefix: &prefix,
    })?;
    let mut stack_map = shaped.stack;
    let mut notes = early_notes;
    notes.extend(shaped.notes);
    if profile.on_this_machine() {
        notes.extend(local::single_node(
            &mut stack_map,
            &crate::error::display_path(&profile.path),
        ));
    }

    warnings.extend(shaped.warnings);
    for s in &secret_refs {
        if let Some(why) = &s.unavailable {
            warnings.push(format!("secret `{}`: {why}", s.key));
        }
    }
    Ok(Rendered {
        profile: profile.name.clone(),
        stack_name,
        stack_yaml: stack::to_yaml(&stack_map),
        view: crate::stack::Stack::from_mapping(&stack_map),
        stack: stack_map,
        configs,
        secrets: secret_refs,
        builds: shaped.builds,
        watch: shaped.watch,
        warnings,
        notes,
        file_secrets,
        host_mode,
        variables: used.into_inner().into_iter().collect(),
        edge_names,
    })
}

/// HTTPS on this machine and devenv's CA in the services (see [`edge`] and [`trust`]): the TLS
/// edge for a stack that terminates none, the profile's names as aliases of the service that
/// serves them, and the CA configs mounted in the trusting services.
fn local_https(
    doc: &mut Mapping,
    project: &Project,
    profile: &Profile,
    facts: &Facts,
    stack_name: &str,
    configs: &mut Vec<RenderedConfig>,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, ConfigError> {
    let mut edge_names = Vec::new();
    let generated = |key: &str, content: String, what: &str| RenderedConfig {
        key: crate::name::Name::new(crate::name::Kind::Object, key).expect("a fixed name"),
        object_name: object_name(stack_name, key, &crate::hash::short(content.as_bytes(), 10)),
        template: PathBuf::from(what),
        content,
    };
    let stack_file = project.root.join(&project.file.stack);
    if !profile.file.edge.routes.is_empty() {
        edge::check_routes(doc, profile)?;
    }
    match edge::plan(doc, profile) {
        Ok(e) => {
            edge::add(doc, &e).map_err(|m| ConfigError::new(&stack_file, m))?;
            edge_names = e.routes.iter().map(|(n, _)| n.clone()).collect();
            configs.push(generated(
                edge::CONFIG,
                edge::nginx_conf(&e, &profile.name),
                "(devenv's TLS edge)",
            ));
            let routes: Vec<String> = e
                .routes
                .iter()
                .map(|(n, (s, p))| format!("https://{n}/ → {s}:{p}"))
                .collect();
            notes.push(format!(
                "{}: HTTPS and WSS with devenv's certificate, {} (this profile only; `edge: false` in {} turns it off)",
                edge::SERVICE,
                routes.join(", "),
                crate::error::display_path(&profile.path)
            ));
        }
        Err(edge::NoEdge::NoWebPort) => notes.push(format!(
            "no service publishes a web port, so there is no HTTPS edge: name what serves each name under `edge: {{routes: {{NAME: SERVICE:PORT}}}}` in {}",
            crate::error::display_path(&profile.path)
        )),
        Err(_) => {}
    }
    // inside the stack the site's names are the front service, not the container asking
    let mut names = profile.file.hosts.clone();
    for n in &edge_names {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    if profile.on_this_machine()
        && !names.is_empty()
        && let Some(front) = edge::front(doc)
    {
        edge::alias_names(doc, &front, &names);
    }
    if profile.file.tls != Tls::LocalCa || profile.file.trust == crate::profile::Trust::None {
        return Ok(edge_names);
    }
    let trusting = trust::services(doc, profile)?;
    let Some(ca) = &facts.ca_pem else {
        notes.push(
            "devenv's CA does not exist yet: the services get it from the first `devenv up` (or after `devenv certs trust`)"
                .into(),
        );
        return Ok(edge_names);
    };
    configs.push(generated(trust::CA, ca.clone(), "(devenv's CA)"));
    configs.push(generated(
        trust::BUNDLE,
        trust::bundle(facts.public_cas.as_deref(), ca),
        "(the public CAs and devenv's)",
    ));
    for s in &trusting {
        trust::add(doc, s);
    }
    if !trusting.is_empty() {
        notes.push(format!(
            "{} trust devenv's CA (at {}, SSL_CERT_FILE and the like set; `trust:` in {} limits it)",
            trusting.join(", "),
            trust::CA_PATH,
            crate::error::display_path(&profile.path)
        ));
    }
    Ok(edge_names)
}

/// Compose's service profiles: a service with `profiles:` runs only when one of its profiles is
/// active — listed in the profile's `compose_profiles:` or in `COMPOSE_PROFILES` (comma-separated;
/// `*` is every one), as `docker compose` decides; the others are left out, said.
fn compose_profiles(doc: &mut Mapping, profile: &Profile, facts: &Facts, notes: &mut Vec<String>) {
    let mut active: Vec<String> = profile.file.compose_profiles.clone();
    if let Some(env) = facts.env.get("COMPOSE_PROFILES") {
        active.extend(
            env.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty()),
        );
    }
    let Some(Value::Mapping(svcs)) = doc.get_mut("services") else {
        return;
    };
    let mut left_out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    svcs.retain(|name, svc| {
        let Value::Mapping(m) = svc else {
            return true;
        };
        let Some(ps) = m.shift_remove("profiles") else {
            return true;
        };
        let ps: Vec<String> = match ps {
            Value::Sequence(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Value::String(s) => vec![s],
            _ => Vec::new(),
        };
        if ps.is_empty() || active.iter().any(|a| a == "*" || ps.contains(a)) {
            return true;
        }
        left_out
            .entry(ps.join(", "))
            .or_default()
            .push(name.as_str().unwrap_or_default().to_string());
        false
    });
    for (ps, names) in left_out {
        let (it, them) = if names.len() == 1 {
            ("it", "it")
        } else {
            ("them", "them")
        };
        notes.push(format!(
            "{} left out: compose runs {it} only with profile {ps} (`compose_profiles: [{}]` in {} or COMPOSE_PROFILES runs {them})",
            names.join(", "),
            ps.split(", ").next().unwrap_or_default(),
            crate::error::display_path(&profile.path),
        ));
    }
}

/// The variables of `.env` beside the stack file (or of the `--env-file`s instead), each with
/// where it is defined. A file that is not there is none; one devenv cannot read, or a line that
/// is no variable, is an error naming it.
fn load_dotenv(
    project: &Project,
    facts: &Facts,
) -> Result<BTreeMap<String, (String, String)>, ConfigError> {
    let dir = project
        .root
        .join(&project.file.stack)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| project.root.clone());
    let (files, explicit): (Vec<PathBuf>, bool) = if facts.env_files.is_empty() {
        (vec![dir.join(".env")], false)
    } else {
        (facts.env_files.clone(), true)
    };
    let mut out = BTreeMap::new();
    for f in files {
        let scope = if explicit {
            project.scope().with_outside(std::slice::from_ref(&f))
        } else {
            project.scope()
        };
        let text = match scope.read_string(&f, crate::render::stack::MAX_ENV_FILE_BYTES) {
            Ok(t) => t,
            Err(ReadError::NotFound { .. }) if !explicit => continue,
            Err(e) => {
                return Err(ConfigError::new(&f, e.to_string()).hint(e.hint()));
            }
        };
        let shown = display_rel(&project.root, &f);
        let vars = dotenv::parse(&text, &facts.env).map_err(|e| {
            ConfigError::new(&f, e.message.clone())
                .at(&text, e.line, 1)
                .hint("a line of an env file is KEY=VALUE (or a `#` comment)")
        })?;
        for v in vars {
            out.insert(v.name, (v.value, format!("{shown}:{}", v.line)));
        }
    }
    Ok(out)
}

fn secret_ref(stack_name: &str, salt: &[u8], s: &SecretInput) -> SecretRef {
    let hash = match &s.value {
        Ok(v) => crate::hash::keyed_short(salt, &[s.key.as_bytes(), b"\0", v].concat(), 10),
        Err(_) => "unavailable".to_string(),
    };
    SecretRef {
        key: s.key.clone(),
        object_name: object_name(stack_name, &s.key, &hash),
        origin: s.origin.clone(),
        unavailable: s.value.as_ref().err().cloned(),
    }
}

/// The names of the stack's services, in its order.
fn service_names(doc: &Mapping) -> Vec<String> {
    doc.get("services")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The profile's own changes to the stack: `replicas:` (a literal `replicas: 2` in an adopted file
/// included), then `services:`, merged like a compose override file. A name that is no service is
/// an error with a suggestion.
fn apply_profile(
    doc: &mut Mapping,
    profile: &Profile,
    lookup: &dyn interpolate::Lookup,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let names = service_names(doc);
    let unknown = |what: &str, name: &str| {
        let mut e = profile.error_at(
            &format!("{name}:"),
            format!("{what}.{name}: the stack has no service `{name}`"),
        );
        e = match did_you_mean_service(name, &names) {
            Some(s) => e.hint(format!("did you mean `{s}`?")),
            None => e.hint(format!("the services are: {}", names.join(", "))),
        };
        e
    };
    if let Some(Value::Mapping(svcs)) = doc.get_mut("services") {
        for (name, n) in &profile.file.replicas {
            let Some(Value::Mapping(svc)) = svcs.get_mut(name.as_str()) else {
                return Err(unknown("replicas", name));
            };
            let deploy = svc
                .entry(Value::String("deploy".into()))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            if let Value::Mapping(d) = deploy {
                let global = d
                    .get("mode")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m != "replicated");
                if !global {
                    d.insert(Value::String("replicas".into()), Value::Number((*n).into()));
                }
            }
        }
    }
    if profile.file.services.is_empty() {
        return Ok(());
    }
    let mut over = Mapping::new();
    over.insert(
        Value::String("services".into()),
        Value::Mapping(profile.file.services.clone()),
    );
    check_names(&over, &profile.path, &profile.source)?;
    if let Some(tag) = merge::unknown_tag(&Value::Mapping(over.clone())) {
        return Err(unknown_tag_error(
            ConfigError::new(&profile.path, ""),
            &profile.source,
            &tag,
        ));
    }
    for (k, v) in &profile.file.services {
        let name = k.as_str().unwrap_or_default();
        // a service of this profile only: it says what it runs (a change to a service that is
        // not there is more likely a misspelt name)
        let new_service = ["image", "build"].iter().any(|key| v.get(key).is_some());
        if !new_service && !names.iter().any(|n| n == name) {
            let e = unknown("services", name);
            let hint = format!(
                "{}; a service only this profile runs says what it runs (`image:` or `build:`)",
                e.hint.clone().unwrap_or_default()
            );
            return Err(e.hint(hint));
        }
    }
    interpolate_doc(&mut over, &profile.path, &profile.source, lookup, warnings)?;
    merge::merge_stack(doc, &over).map_err(|e| {
        let last = e.path.rsplit('.').next().unwrap_or_default().to_string();
        profile
            .error_at(&format!("{last}:"), format!("{e}"))
            .hint("a profile's `services:` merges like a compose override file; `!override` replaces a value whole, `!reset` removes it")
    })?;
    Ok(())
}

fn did_you_mean_service(name: &str, names: &[String]) -> Option<String> {
    crate::error::did_you_mean(name, names.iter().map(String::as_str)).map(String::from)
}

/// The stack file's own top-level configs and secrets with `file:` become devenv's, named by
/// content hash like the profile's, so a changed file is a new object instead of docker's
/// "only updates to Labels are allowed". Configs join `configs`; the secrets' values are
/// returned. Paths are relative to the project root (absolute ones are read as they are).
fn file_objects(
    doc: &mut Mapping,
    project: &Project,
    scope: &Scope,
    template_path: &Path,
    template_src: &str,
    stack_name: &str,
    configs: &mut Vec<RenderedConfig>,
) -> Result<Vec<SecretInput>, ConfigError> {
    let mut secrets = Vec::new();
    for kind in ["configs", "secrets"] {
        let Some(Value::Mapping(top)) = doc.get_mut(kind) else {
            continue;
        };
        let keys: Vec<Value> = top
            .iter()
            .filter(|(_, v)| v.get("file").is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            let key = k.as_str().unwrap_or_default().to_string();
            let def = top.get(&k).cloned().unwrap_or_default();
            let Some(file) = def.get("file").and_then(Value::as_str) else {
                return Err(ConfigError::new(
                    template_path,
                    format!("{kind}.{key}.file must be a path"),
                )
                .at_text(template_src, &format!("{key}:")));
            };
            let path = project.root.join(file);
            let origin = display_rel(&project.root, &path);
            let value = match scope.read(Path::new(file), MAX_SECRET_BYTES) {
                Ok(v) => Ok(v),
                // what can never be read is the file's error, not a value to make later
                Err(
                    e @ (ReadError::Outside { .. }
                    | ReadError::Kernel { .. }
                    | ReadError::NotRegular { .. }
                    | ReadError::Dangling { .. }
                    | ReadError::TooLarge { .. }),
                ) => {
                    let what = if kind == "configs" {
                        "config"
                    } else {
                        "secret"
                    };
                    return Err(
                        ConfigError::new(template_path, format!("{what} `{key}`: {e}"))
                            .at_text(template_src, file)
                            .hint(e.hint()),
                    );
                }
                Err(ReadError::NotFound { .. }) => Err(format!("{origin} does not exist")),
                Err(e) => Err(e.to_string()),
            };
            if kind == "configs" {
                let bytes = value.map_err(|why| {
                    ConfigError::new(template_path, format!("config `{key}`: {why}"))
                        .at_text(template_src, file)
                        .hint("a config's `file:` is relative to the project root")
                })?;
                let content = String::from_utf8(bytes).map_err(|_| {
                    ConfigError::new(
                        template_path,
                        format!("config `{key}`: {origin} is not UTF-8 text"),
                    )
                    .at_text(template_src, file)
                    .hint("binary data belongs in a secret (or an image)")
                })?;
                configs.push(RenderedConfig {
                    object_name: object_name(
                        stack_name,
                        &key,
                        &crate::hash::short(content.as_bytes(), 10),
                    ),
                    key: crate::name::Name::new(crate::name::Kind::Object, &key).map_err(|e| {
                        ConfigError::new(template_path, format!("configs: {e}"))
                            .at_text(template_src, &key)
                    })?,
                    template: PathBuf::from(file),
                    content,
                });
            } else {
                secrets.push(SecretInput {
                    key: key.clone(),
                    origin,
                    value,
                });
            }
            top.shift_remove(&k);
        }
    }
    for kind in ["configs", "secrets"] {
        if doc
            .get(kind)
            .and_then(Value::as_mapping)
            .is_some_and(Mapping::is_empty)
        {
            doc.shift_remove(kind);
        }
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> (tempfile::TempDir, Environment<'static>) {
        let d = tempfile::tempdir().unwrap();
        let e = environment(d.path(), "myblog".into());
        (d, e)
    }

    #[test]
    fn strict_undefined_names_template_line_and_expression() {
        let (d, env) = env();
        std::fs::write(d.path().join("t.j2"), "a: 1\nb: {{ vars.missing }}\n").unwrap();
        let ctx = JValue::from(minijinja::value::Serde(&serde_json::json!({"vars": {}})));
        let e = render_template(&env, d.path(), Path::new("t.j2"), &ctx).unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.column, 7);
        assert!(e.message.contains("vars.missing"), "{}", e.message);
        assert!(e.file.ends_with("t.j2"));
    }

    #[test]
    fn keeps_trailing_newline_and_does_not_escape() {
        let (d, env) = env();
        std::fs::write(d.path().join("t.j2"), "x: {{ v }}\n").unwrap();
        let ctx = JValue::from(minijinja::value::Serde(
            &serde_json::json!({"v": "<a & b>"}),
        ));
        let out = render_template(&env, d.path(), Path::new("t.j2"), &ctx).unwrap();
        assert_eq!(out, "x: <a & b>\n");
    }

    #[test]
    fn syntax_error_is_located() {
        let (d, env) = env();
        std::fs::write(d.path().join("t.j2"), "ok\n{% if x %}\nno end\n").unwrap();
        let ctx = JValue::from(minijinja::value::Serde(&serde_json::json!({"x": true})));
        let e = render_template(&env, d.path(), Path::new("t.j2"), &ctx).unwrap_err();
        assert!(
            e.message.starts_with("template syntax error"),
            "{}",
            e.message
        );
        assert!(e.line >= 2, "{e}");
    }

    #[test]
    fn block_lines_vanish() {
        let (d, env) = env();
        std::fs::write(
            d.path().join("t.j2"),
            "a:\n  {% if x %}\n  b: 1\n  {% endif %}\nc: 2\n",
        )
        .unwrap();
        let ctx = JValue::from(minijinja::value::Serde(&serde_json::json!({"x": true})));
        let out = render_template(&env, d.path(), Path::new("t.j2"), &ctx).unwrap();
        assert_eq!(out, "a:\n  b: 1\nc: 2\n");
    }

    #[test]
    fn image_function() {
        let (d, env) = env();
        std::fs::write(
            d.path().join("t.j2"),
            "{{ image('web') }} {{ image('api', '2') }}",
        )
        .unwrap();
        let out = render_template(&env, d.path(), Path::new("t.j2"), &JValue::UNDEFINED).unwrap();
        assert_eq!(out, "myblog/web:latest myblog/api:2");
    }

    #[test]
    fn object_names_fit() {
        let n = object_name(&"s".repeat(40), &"k".repeat(40), "0123456789");
        assert_eq!(n.len(), 64);
        assert_eq!(
            object_name("myblog", "nginx.conf", "abc"),
            "myblog_nginx.conf_abc"
        );
    }
}

#[cfg(test)]
mod pipeline_tests {
    //! The whole render of a project on disk: adopted files as they are, override files and a
    //! profile's `services:`, `${VAR}`, `file:` objects, relative paths, a single node's demands.
    use super::*;

    struct P {
        dir: tempfile::TempDir,
    }

    impl P {
        fn new(files: &[(&str, &str)]) -> P {
            let dir = tempfile::tempdir().unwrap();
            for (rel, content) in files {
                let p = dir.path().join(rel);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, content).unwrap();
            }
            P { dir }
        }
        fn render(&self, profile: &str, env: &[(&str, &str)]) -> anyhow::Result<Rendered> {
            let project = Project::load(self.dir.path())?;
            let profile = project.profile(profile)?;
            let facts = Facts {
                ipvs: Some(false),
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                env_files: Vec::new(),
                ..Facts::default()
            };
            render(&project, &profile, facts, &[], b"0123456789abcdef")
        }
        fn root(&self) -> String {
            self.dir.path().to_string_lossy().into_owned()
        }
        /// Renders with devenv's CA `ca` known (as `up` has it).
        fn render_with_ca(&self, profile: &str, ca: &str) -> anyhow::Result<Rendered> {
            self.render_with(profile, Some(ca))
        }
        fn render_with(&self, profile: &str, ca: Option<&str>) -> anyhow::Result<Rendered> {
            let project = Project::load(self.dir.path())?;
            let profile = project.profile(profile)?;
            let facts = Facts {
                ipvs: Some(false),
                ca_pem: ca.map(String::from),
                public_cas: Some(PUBLIC.into()),
                ..Facts::default()
            };
            let leaf = |key: &str| SecretInput {
                key: key.into(),
                origin: format!("certs/{key}"),
                value: Ok(key.as_bytes().to_vec()),
            };
            let secrets = [leaf("tls_cert"), leaf("tls_key")];
            render(&project, &profile, facts, &secrets, b"0123456789abcdef")
        }
        fn write(&self, rel: &str, content: &str) {
            std::fs::write(self.dir.path().join(rel), content).unwrap();
        }
    }

    const CA: &str = "-----BEGIN CERTIFICATE-----\nZGV2ZW52\n-----END CERTIFICATE-----\n";
    const PUBLIC: &str =
        "# a public root\n-----BEGIN CERTIFICATE-----\ncHVibGlj\n-----END CERTIFICATE-----\n";

    /// A plain-HTTP stack as users adopt it: an app on 8000, a worker with its own CA file, a db.
    fn plain_http() -> P {
        P::new(&[
            ("devenv.yaml", "project: shop\nstack: compose.yaml\n"),
            (
                "compose.yaml",
                "services:\n  app:\n    image: shop/app\n    ports: [\"8000:8000\"]\n    networks: [front]\n  worker:\n    image: shop/worker\n    environment: [SSL_CERT_FILE=/own/roots.pem]\n    networks: [front, back]\n  db:\n    image: postgres:16\n    networks: [back]\nnetworks: {front: {}, back: {}}\n",
            ),
            (
                "profiles/local.yaml",
                "domain: shop.test\nhosts: [shop.test, api.shop.test]\ntls: local-ca\ndocker: {swarm: true}\nedge: {routes: {api.shop.test: \"worker:9000\"}}\n",
            ),
            (
                "profiles/server.yaml",
                "domain: shop.com\ntls: {files: {cert: server.crt, key: server.key}}\ndocker: {context: prod}\n",
            ),
        ])
    }

    fn env_of(svc: &Value) -> Vec<String> {
        match &svc["environment"] {
            Value::Mapping(m) => m
                .iter()
                .map(|(k, v)| format!("{}={}", k.as_str().unwrap(), v.as_str().unwrap_or("")))
                .collect(),
            Value::Sequence(l) => l.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            _ => Vec::new(),
        }
    }

    fn config_sources(svc: &Value) -> Vec<String> {
        svc["configs"]
            .as_sequence()
            .map(|l| {
                l.iter()
                    .map(|c| c["source"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_plain_http_stack_gets_a_tls_edge_and_trusts_the_ca_locally() {
        let p = plain_http();
        let r = p.render_with_ca("local", CA).unwrap();
        let svcs = &r.stack["services"];
        let edge = &svcs["devenv-edge"];
        assert_eq!(edge["image"], Value::String("nginx:1.27-alpine".into()));
        // 443 and, free here, 80 (a redirect), as host-mode ports on this kernel
        let published: Vec<u64> = edge["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p["published"].as_u64().unwrap())
            .collect();
        assert_eq!(published, vec![443, 80]);
        // on the upstreams' networks, with the site's names as aliases there
        let nets = edge["networks"].as_mapping().unwrap();
        assert_eq!(
            nets.keys().map(|k| k.as_str().unwrap()).collect::<Vec<_>>(),
            vec!["front", "back"]
        );
        assert_eq!(
            nets["front"]["aliases"],
            serde_yaml_ng::from_str::<Value>("[shop.test, api.shop.test]").unwrap()
        );
        assert_eq!(config_sources(edge), vec![edge::CONFIG]);
        assert_eq!(r.edge_names, vec!["shop.test", "api.shop.test"]);
        // its nginx configuration: each name to its upstream, resolved per request, WSS upgrades
        let conf = &r
            .configs
            .iter()
            .find(|c| c.key.as_str() == edge::CONFIG)
            .unwrap()
            .content;
        assert!(conf.contains("server_name shop.test;"), "{conf}");
        assert!(conf.contains("set $upstream http://app:8000;"), "{conf}");
        assert!(conf.contains("server_name api.shop.test;"), "{conf}");
        assert!(conf.contains("set $upstream http://worker:9000;"), "{conf}");
        assert!(conf.contains("resolver 127.0.0.11"), "{conf}");
        assert!(
            conf.contains("proxy_set_header Upgrade $http_upgrade;"),
            "{conf}"
        );
        assert!(
            conf.contains("return 308 https://$host$request_uri;"),
            "{conf}"
        );
        // the leaf is the edge's secret
        assert!(r.stack_yaml.contains("devenv_edge.crt"), "{}", r.stack_yaml);

        // every service but the edge trusts devenv's CA; a variable a service sets stays its own
        for name in ["app", "worker", "db"] {
            let svc = &svcs[name];
            assert_eq!(
                config_sources(svc),
                vec![trust::CA, trust::BUNDLE],
                "{name}"
            );
            let env = env_of(svc);
            assert!(
                env.contains(&"NODE_EXTRA_CA_CERTS=/etc/devenv/ca.pem".to_string()),
                "{name}: {env:?}"
            );
        }
        assert!(env_of(&svcs["app"]).contains(&"SSL_CERT_FILE=/etc/devenv/ca-bundle.pem".into()));
        let worker = env_of(&svcs["worker"]);
        assert!(
            worker.contains(&"SSL_CERT_FILE=/own/roots.pem".into()),
            "{worker:?}"
        );
        assert!(!worker.contains(&"SSL_CERT_FILE=/etc/devenv/ca-bundle.pem".into()));
        assert!(env_of(edge).is_empty());
        let ca = r
            .configs
            .iter()
            .find(|c| c.key.as_str() == trust::CA)
            .unwrap();
        assert_eq!(ca.content, CA);
        let bundle = r
            .configs
            .iter()
            .find(|c| c.key.as_str() == trust::BUNDLE)
            .unwrap();
        assert!(bundle.content.starts_with(PUBLIC) && bundle.content.ends_with(CA));

        // a new CA is a new config: the services roll
        let r2 = p
            .render_with_ca("local", &CA.replace("ZGV2ZW52", "bmV3Q0E="))
            .unwrap();
        let name = |r: &Rendered, k: &str| {
            r.configs
                .iter()
                .find(|c| c.key.as_str() == k)
                .unwrap()
                .object_name
                .clone()
        };
        assert_ne!(name(&r, trust::CA), name(&r2, trust::CA));
        assert_ne!(name(&r, trust::BUNDLE), name(&r2, trust::BUNDLE));
        assert_eq!(name(&r, edge::CONFIG), name(&r2, edge::CONFIG));
    }

    #[test]
    fn a_server_profile_with_its_own_certificates_gets_none_of_it() {
        let p = plain_http();
        p.write("server.crt", "cert");
        p.write("server.key", "key");
        let r = p.render_with_ca("server", CA).unwrap();
        assert!(
            r.stack["services"].get("devenv-edge").is_none(),
            "{}",
            r.stack_yaml
        );
        for bad in ["devenv_ca", "/etc/devenv", "SSL_CERT_FILE=/etc", "aliases"] {
            assert!(!r.stack_yaml.contains(bad), "{bad}: {}", r.stack_yaml);
        }
        assert!(r.configs.is_empty(), "{:?}", r.configs);
        assert!(r.edge_names.is_empty());
    }

    #[test]
    fn trust_and_edge_follow_the_profile() {
        let p = plain_http();
        let local = |extra: &str| {
            p.write(
                "profiles/local.yaml",
                &format!("domain: shop.test\nhosts: [shop.test]\ntls: local-ca\ndocker: {{swarm: true}}\n{extra}"),
            );
            p.render_with_ca("local", CA)
        };
        // some services only
        let r = local("trust: [worker]\n").unwrap();
        assert!(config_sources(&r.stack["services"]["app"]).is_empty());
        assert_eq!(
            config_sources(&r.stack["services"]["worker"]),
            vec![trust::CA, trust::BUNDLE]
        );
        // none
        let r = local("trust: false\nedge: false\n").unwrap();
        assert!(!r.stack_yaml.contains("/etc/devenv"), "{}", r.stack_yaml);
        assert!(r.stack["services"].get("devenv-edge").is_none());
        // the names are still the front service's inside the stack (here: none publishes 80/443)
        assert!(!r.stack_yaml.contains("aliases"), "{}", r.stack_yaml);
        // a service the stack lacks, at its place, with a suggestion
        let e = local("trust: [wokrer]\n").unwrap_err();
        let ce = e.downcast_ref::<ConfigError>().unwrap();
        assert!(ce.message.contains("no service `wokrer`"), "{ce}");
        assert_eq!(ce.line, 5, "{ce:?}");
        assert!(ce.to_string().contains("worker"), "{ce}");
        // a route to a service the stack lacks, or that is not SERVICE:PORT
        let e = local("edge: {routes: {shop.test: \"nope:80\"}}\n").unwrap_err();
        assert!(e.to_string().contains("no service `nope`"), "{e:#}");
        let e = local("edge: {routes: {shop.test: \"app\"}}\n").unwrap_err();
        assert!(e.to_string().contains("is not SERVICE:PORT"), "{e:#}");
        // a name that would write nginx's configuration is refused where it is read
        let e =
            local("edge: {routes: {\"a.test; include /etc/shadow\": \"app:80\"}}\n").unwrap_err();
        assert!(format!("{e:#}").contains("edge.routes: host name"), "{e:#}");
        // an image of the profile's choosing
        let r = local("edge: {image: \"registry.local/nginx:1\"}\n").unwrap();
        assert_eq!(
            r.stack["services"]["devenv-edge"]["image"],
            Value::String("registry.local/nginx:1".into())
        );
        // no CA yet: no trust, said
        p.write(
            "profiles/local.yaml",
            "domain: shop.test\ntls: local-ca\ndocker: {swarm: true}\n",
        );
        let r = p.render_with("local", None).unwrap();
        assert!(!r.stack_yaml.contains("/etc/devenv"));
        assert!(
            r.notes.iter().any(|n| n.contains("CA does not exist yet")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn a_stack_that_terminates_tls_itself_is_left_alone() {
        let p = plain_http();
        p.write(
            "compose.yaml",
            "services:\n  proxy:\n    image: nginx\n    ports: [\"80:80\", \"443:443\"]\n  app:\n    image: shop/app\n",
        );
        p.write(
            "profiles/local.yaml",
            "domain: shop.test\nhosts: [shop.test, api.shop.test]\ntls: local-ca\ndocker: {swarm: true}\n",
        );
        let r = p.render_with_ca("local", CA).unwrap();
        assert!(r.stack["services"].get("devenv-edge").is_none());
        assert!(r.edge_names.is_empty());
        // the proxy is the site inside the stack too
        assert_eq!(
            r.stack["services"]["proxy"]["networks"]["default"]["aliases"],
            serde_yaml_ng::from_str::<Value>("[shop.test, api.shop.test]").unwrap()
        );
        // and still every service trusts the CA
        assert_eq!(
            config_sources(&r.stack["services"]["app"]),
            vec![trust::CA, trust::BUNDLE]
        );
    }

    const STACK: &str = r#"x-logging: &logging
  logging: {driver: json-file, options: {max-size: 10m}}
services:
  vote:
    image: ${REGISTRY:-docker.io}/vote:${TAG:?set TAG}
    hostname: "{{.Node.Hostname}}-{{.Task.Slot}}"
    ports: ["5000:80"]
    volumes: ["./vote:/app", "data:/data"]
    env_file: .env.vote
    command: sh -c 'echo $$HOME'
    deploy:
      replicas: 2
      update_config: {parallelism: 2, order: start-first}
    <<: *logging
  redis:
    image: redis:7
    ports: ["6379"]
    configs: [{source: redis_conf, target: /etc/redis.conf}]
    secrets: [db_password]
  worker:
    build: ./worker
    depends_on: [redis]
volumes: {data: {}}
configs:
  redis_conf: {file: ./redis.conf}
secrets:
  db_password: {file: db_password.txt}
"#;

    fn project() -> P {
        P::new(&[
            ("devenv.yaml", "project: voting\nstack: docker-stack.yml\n"),
            ("docker-stack.yml", STACK),
            ("redis.conf", "maxmemory 64mb\n"),
            ("db_password.txt", "hunter2"),
            (".env.vote", "OPTION_A=Cats\n"),
            (
                "profiles/local.yaml",
                "domain: voting.test\ndocker: {swarm: true}\nenv: {TAG: dev}\n",
            ),
            (
                "profiles/server.yaml",
                "domain: voting.com\ndocker: {context: prod}\noverrides: [docker-compose.prod.yml]\nservices:\n  worker: {deploy: {replicas: 4}}\n",
            ),
            (
                "docker-compose.prod.yml",
                "services:\n  vote:\n    environment: [MODE=prod]\n    ports: !reset []\n    deploy: {replicas: 3}\n",
            ),
        ])
    }

    #[test]
    fn an_adopted_file_renders_as_docker_reads_it() {
        let p = project();
        let r = p.render("local", &[("TAG", "from-shell")]).unwrap();
        let vote = &r.stack["services"]["vote"];
        // the profile's env wins over the shell's; defaults apply
        assert_eq!(vote["image"], Value::String("docker.io/vote:dev".into()));
        // docker's own placeholders are not minijinja's
        assert_eq!(
            vote["hostname"],
            Value::String("{{.Node.Hostname}}-{{.Task.Slot}}".into())
        );
        // YAML anchors and merge keys are resolved
        assert_eq!(vote["logging"]["driver"], Value::String("json-file".into()));
        // relative paths are the project's, not .devenv/deploy's
        assert_eq!(
            vote["volumes"][0],
            Value::String(format!(
                "{}:/app",
                std::path::Path::new(&p.root()).join("vote").display()
            ))
        );
        assert_eq!(vote["volumes"][1], Value::String("data:/data".into()));
        assert_eq!(
            vote["env_file"],
            Value::String(
                std::path::Path::new(&p.root())
                    .join(".env.vote")
                    .display()
                    .to_string()
            )
        );
        // a literal `$` stays literal for docker: written `$$`
        assert_eq!(vote["command"], Value::String("sh -c 'echo $HOME'".into()));
        assert!(r.stack_yaml.contains("echo $$HOME"), "{}", r.stack_yaml);
        // one node: one replica behind a host-mode port, stop-first, and it says so
        assert_eq!(vote["deploy"]["replicas"], Value::Number(1.into()));
        assert_eq!(
            vote["deploy"]["update_config"]["order"],
            Value::String("stop-first".into())
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.starts_with("vote runs 1 replica here, not 2")),
            "{:#?}",
            r.notes
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("redis:6379 has no published port"))
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.starts_with("depends_on (worker) is ignored by swarm"))
        );
        // a build without an image gets devenv's tag
        assert_eq!(r.builds[0].repository, "voting/worker");
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("worker has `build:` and no `image:`"))
        );
        // the file's own config and secret are devenv's, named by content
        let conf = r.configs.iter().find(|c| c.key == "redis_conf").unwrap();
        assert_eq!(conf.content, "maxmemory 64mb\n");
        assert!(conf.object_name.starts_with("voting_redis_conf_"));
        assert_eq!(
            r.stack["configs"]["redis_conf"]["name"],
            Value::String(conf.object_name.clone())
        );
        assert_eq!(r.file_secrets[0].value.as_deref().unwrap(), b"hunter2");
        let s = r.secrets.iter().find(|s| s.key == "db_password").unwrap();
        assert_eq!(
            r.stack["secrets"]["db_password"]["name"],
            Value::String(s.object_name.clone())
        );
        assert!(!r.stack_yaml.contains("hunter2"));
    }

    #[test]
    fn a_server_profile_merges_its_override_file_and_services() {
        let p = project();
        let r = p.render("server", &[("TAG", "1.4")]).unwrap();
        let vote = &r.stack["services"]["vote"];
        assert_eq!(vote["image"], Value::String("docker.io/vote:1.4".into()));
        assert!(vote.get("ports").is_none(), "!reset removes the ports");
        assert_eq!(
            vote["deploy"]["replicas"],
            Value::Number(3.into()),
            "a server is not adjusted"
        );
        assert_eq!(
            vote["deploy"]["update_config"]["order"],
            Value::String("start-first".into())
        );
        assert_eq!(vote["environment"][0], Value::String("MODE=prod".into()));
        assert_eq!(
            r.stack["services"]["worker"]["deploy"]["replicas"],
            Value::Number(4.into())
        );
        assert!(!r.notes.iter().any(|n| n.contains("replica here")));
    }

    /// `build:` options docker build has become its arguments (and count in the content tag);
    /// one it has not is refused with the reason.
    #[test]
    fn build_options_are_docker_builds() {
        let p = P::new(&[
            ("devenv.yaml", "project: b\nstack: compose.yml\n"),
            (
                "profiles/local.yaml",
                "domain: b.test\ndocker: {swarm: true}\n",
            ),
            ("app/Dockerfile", "FROM scratch\n"),
            ("shared/x", "x"),
            (
                "compose.yml",
                "services:\n  app:\n    build:\n      context: ./app\n      labels: {a: '1'}\n      network: host\n      extra_hosts: ['reg.test=10.0.0.2']\n      no_cache: true\n      additional_contexts: {shared: ./shared, base: 'docker-image://alpine:3'}\n",
            ),
        ]);
        let r = p.render("local", &[]).unwrap();
        let b = &r.builds[0];
        assert_eq!(
            b.flags,
            [
                "--label",
                "a=1",
                "--network",
                "host",
                "--add-host",
                "reg.test:10.0.0.2",
                "--no-cache"
            ]
        );
        assert_eq!(
            b.contexts,
            [
                ("shared".to_string(), BuildContext::Dir("shared".into())),
                (
                    "base".to_string(),
                    BuildContext::Remote("docker-image://alpine:3".into())
                )
            ]
        );
        let project = Project::load(p.dir.path()).unwrap();
        let scope = project.scope();
        let dir = scope.dir(Path::new("app")).unwrap();
        let tag = crate::swarm::build::context_hash(&scope, &dir, b).unwrap();
        std::fs::write(p.dir.path().join("shared/x"), "y").unwrap();
        assert_ne!(
            crate::swarm::build::context_hash(&scope, &dir, b).unwrap(),
            tag,
            "an additional context's files count"
        );
        std::fs::write(
            p.dir.path().join("compose.yml"),
            "services:\n  app:\n    build:\n      context: ./app\n      secrets: [npmrc]\n",
        )
        .unwrap();
        let e = p.render("local", &[]).unwrap_err();
        let ce = e.downcast_ref::<ConfigError>().unwrap();
        assert_eq!((ce.line, ce.column), (5, 7), "{ce:?}");
        assert!(
            ce.hint
                .as_deref()
                .unwrap_or_default()
                .contains("docker buildx build"),
            "{ce:?}"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_value() {
        let p = project();
        // a required variable
        let e = p.render("server", &[]).unwrap_err().to_string();
        assert!(e.contains("docker-stack.yml:5:"), "{e}");
        assert!(e.contains("`TAG` is not set: set TAG"), "{e}");
        // an unknown service in a profile, with a suggestion
        std::fs::write(
            p.dir.path().join("profiles/local.yaml"),
            "domain: voting.test\ndocker: {swarm: true}\nenv: {TAG: dev}\nservices:\n  wroker: {deploy: {replicas: 2}}\n",
        )
        .unwrap();
        let e = p.render("local", &[]).unwrap_err();
        let ce = e.downcast_ref::<ConfigError>().unwrap();
        assert!(
            ce.message
                .contains("services.wroker: the stack has no service `wroker`"),
            "{}",
            ce.message
        );
        assert_eq!(ce.line, 5);
        assert!(
            ce.hint.as_deref().unwrap_or_default().contains("`worker`"),
            "{ce:?}"
        );
        // replicas for a service that is not there
        std::fs::write(
            p.dir.path().join("profiles/local.yaml"),
            "domain: voting.test\ndocker: {swarm: true}\nenv: {TAG: dev}\nreplicas: {vot: 1}\n",
        )
        .unwrap();
        let e = p.render("local", &[]).unwrap_err().to_string();
        assert!(
            e.contains("replicas.vot: the stack has no service `vot`"),
            "{e}"
        );
        // a value that does not merge, located in the override file
        std::fs::write(
            p.dir.path().join("docker-compose.prod.yml"),
            "services:\n  vote:\n    deploy: 3\n",
        )
        .unwrap();
        let e = p.render("server", &[("TAG", "1")]).unwrap_err();
        let ce = e.downcast_ref::<ConfigError>().unwrap();
        assert!(ce.file.ends_with("docker-compose.prod.yml"), "{ce:?}");
        assert!(
            ce.message.contains("services.vote.deploy"),
            "{}",
            ce.message
        );
        assert_eq!(ce.line, 3);
        // template syntax in a file that is not a template
        std::fs::write(
            p.dir.path().join("profiles/local.yaml"),
            "domain: voting.test\ndocker: {swarm: true}\n",
        )
        .unwrap();
        std::fs::write(
            p.dir.path().join("docker-stack.yml"),
            "services:\n  web:\n    image: {{ image('web') }}\n",
        )
        .unwrap();
        let e = p.render("local", &[]).unwrap_err();
        let ce = e.downcast_ref::<ConfigError>().unwrap();
        assert!(
            ce.hint
                .as_deref()
                .unwrap_or_default()
                .contains("docker-stack.yml.j2"),
            "{ce:?}"
        );
    }

    #[test]
    fn a_profile_replicas_override_a_literal_replicas() {
        let p = project();
        std::fs::write(
            p.dir.path().join("profiles/server.yaml"),
            "domain: voting.com\ndocker: {context: prod}\nreplicas: {vote: 5}\nservices:\n  redis: {environment: {A: '${TAG}'}}\n",
        )
        .unwrap();
        let r = p.render("server", &[("TAG", "9")]).unwrap();
        assert_eq!(
            r.stack["services"]["vote"]["deploy"]["replicas"],
            Value::Number(5.into())
        );
        assert_eq!(
            r.stack["services"]["redis"]["environment"]["A"],
            Value::String("9".into()),
            "a variable's value stays a string, as docker reads it"
        );
    }

    #[test]
    fn variables_come_from_the_profile_the_environment_dotenv_then_defaults() {
        let p = P::new(&[
            ("devenv.yaml", "project: shop\nstack: docker-compose.yml\n"),
            (
                "docker-compose.yml",
                "services:\n  web:\n    image: \"busybox:${TAG}\"\n    environment:\n      PW: ${PW}\n      MODE: ${MODE:-dev}\n      HOST: ${HOST}\n      MISSING: ${MISSING:-fallback}\n    command: [sleep, \"${N}\"]\n    deploy: {replicas: \"${R}\"}\n",
            ),
            (
                ".env",
                "PW=from-dotenv\nMODE=dotenv-mode\nTAG=dotenv-tag\nN=5\nR=2\n",
            ),
            (
                "profiles/local.yaml",
                "domain: shop.test\ndocker: {swarm: true}\nenv: {TAG: \"1.2\"}\n",
            ),
        ]);
        let r = p
            .render("local", &[("MODE", "shell-mode"), ("HOST", "h")])
            .unwrap();
        let web = &r.stack["services"]["web"];
        assert_eq!(web["image"], Value::from("busybox:1.2"), "the profile wins");
        assert_eq!(
            web["environment"]["MODE"],
            Value::from("shell-mode"),
            "then the environment"
        );
        assert_eq!(
            web["environment"]["PW"],
            Value::from("from-dotenv"),
            "then .env"
        );
        assert_eq!(
            web["environment"]["MISSING"],
            Value::from("fallback"),
            "then the default"
        );
        assert_eq!(
            web["command"][1],
            Value::from("5"),
            "a command's item stays a string"
        );
        assert_eq!(
            web["deploy"]["replicas"],
            Value::from(2),
            "replicas is cast, as docker casts it"
        );
        let origin = |n: &str| {
            r.variables
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, o)| o.clone())
                .unwrap_or_default()
        };
        // the profile's path as this OS writes it (profiles\local.yaml on Windows)
        assert_eq!(
            origin("TAG"),
            format!(
                "env: of {}",
                std::path::Path::new("profiles")
                    .join("local.yaml")
                    .display()
            )
        );
        assert_eq!(origin("MODE"), "the environment");
        assert_eq!(origin("PW"), ".env:1");
        assert_eq!(origin("MISSING"), "not set");
        // a line of .env that is no variable is named
        std::fs::write(p.dir.path().join(".env"), "PW=x\nnot a variable\n").unwrap();
        let e = p.render("local", &[]).unwrap_err();
        let ce = e.downcast_ref::<ConfigError>().unwrap();
        assert!(ce.file.ends_with(".env") && ce.line == 2, "{ce:?}");
    }
}

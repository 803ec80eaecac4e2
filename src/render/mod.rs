//! Rendering: the stack template and config templates of a profile, through minijinja with strict
//! undefined variables, then checked and shaped for `docker stack deploy` (see [`stack`]).

pub mod stack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as JValue};
use serde_yaml_ng::{Mapping, Value};

use crate::error::{ConfigError, display_path, line_col};
use crate::profile::{Profile, Project, Tls, merge_vars};

/// Facts about the machine that shape the output (so rendering itself stays pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    /// Whether the kernel that runs the swarm has IPVS; `None` when unknown (assume yes).
    pub ipvs: Option<bool>,
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
    pub key: String,
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
    pub warnings: Vec<String>,
    /// Ports were switched to host mode and VIPs to dnsrr (no IPVS, or `publish: host`).
    pub host_mode: bool,
    /// The typed view of `stack`.
    pub view: crate::stack::Stack,
}

impl Rendered {
    /// The files of a render: `stack.yml` and `configs/NAME`.
    pub fn files(&self) -> Vec<(PathBuf, String)> {
        let mut v = vec![(PathBuf::from("stack.yml"), self.stack_yaml.clone())];
        for c in &self.configs {
            v.push((Path::new("configs").join(&c.key), c.content.clone()));
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

/// Why a template (or a file devenv.yaml names) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectFileError {
    #[error("`{0}` is an absolute path: templates read only files inside the project")]
    Absolute(String),
    #[error("`{0}` leads out of the project (`..`): templates read only files inside the project")]
    Escapes(String),
    #[error(
        "`{0}` resolves to {1}, outside the project (a symlink): templates read only files inside the project"
    )]
    Outside(String, PathBuf),
    #[error("`{0}` is not a regular file but {1}")]
    NotRegular(String, &'static str),
    #[error("`{0}` is larger than {1} bytes")]
    TooLarge(String, u64),
    #[error("`{0}` does not exist")]
    NotFound(String),
    #[error("`{0}` is not valid UTF-8")]
    NotUtf8(String),
    #[error("cannot read `{0}`: {1}")]
    Io(String, String),
}

/// Reads `rel`, a path relative to the project `root` named by a template (`{% include %}`) or by
/// devenv.yaml: never an absolute path, never out of the project (by `..` or by a symlink),
/// only a regular file (a device or FIFO is not opened), at most `limit` bytes.
pub fn read_project_file(root: &Path, rel: &str, limit: u64) -> Result<String, ProjectFileError> {
    use std::path::Component;
    let rel_path = Path::new(rel);
    let windows_absolute = rel.starts_with('\\') || rel.as_bytes().get(1) == Some(&b':');
    if rel_path.has_root() || rel_path.is_absolute() || windows_absolute {
        return Err(ProjectFileError::Absolute(rel.into()));
    }
    let mut depth = 0i32;
    for c in rel_path.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Err(ProjectFileError::Escapes(rel.into()));
        }
    }
    let full = root.join(rel_path);
    let meta = match std::fs::metadata(&full) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ProjectFileError::NotFound(rel.into()));
        }
        Err(e) => return Err(ProjectFileError::Io(rel.into(), e.to_string())),
    };
    let real = crate::fsutil::canonicalize(&full).unwrap_or_else(|_| full.clone());
    let real_root = crate::fsutil::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if !real.starts_with(&real_root) {
        return Err(ProjectFileError::Outside(rel.into(), real));
    }
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "a device, FIFO or socket"
        };
        return Err(ProjectFileError::NotRegular(rel.into(), kind));
    }
    if meta.len() > limit {
        return Err(ProjectFileError::TooLarge(rel.into(), limit));
    }
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(&real)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut buf))
        .map_err(|e| ProjectFileError::Io(rel.into(), e.to_string()))?;
    if buf.len() as u64 > limit {
        return Err(ProjectFileError::TooLarge(rel.into(), limit));
    }
    String::from_utf8(buf).map_err(|_| ProjectFileError::NotUtf8(rel.into()))
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
            Err(ProjectFileError::NotFound(_)) => Ok(None),
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
    sys: &dyn crate::sys::Sys,
) -> Vec<SecretInput> {
    let mut out = Vec::new();
    let read = |key: &str, path: PathBuf, origin: String| SecretInput {
        key: key.to_string(),
        value: read_secret_file(&path, &origin),
        origin,
    };
    match &profile.file.tls {
        Tls::None => {}
        Tls::LocalCa => {
            let (crt, key) = crate::certs::leaf_paths(&project.root, &profile.name);
            for (k, p) in [("tls_cert", crt), ("tls_key", key)] {
                let mut s = read(k, p.clone(), display_rel(&project.root, &p));
                if let Err(e) = &mut s.value {
                    e.push_str(" yet (`devenv certs issue` or `devenv up` mints it)");
                }
                out.push(s);
            }
        }
        Tls::Files(f) => {
            let crt = project.root.join(&f.cert);
            let key = project.root.join(&f.key);
            out.push(read(
                "tls_cert",
                crt.clone(),
                display_rel(&project.root, &crt),
            ));
            out.push(read(
                "tls_key",
                key.clone(),
                display_rel(&project.root, &key),
            ));
        }
    }
    for (k, s) in &profile.file.secrets {
        if let Some(f) = &s.file {
            let p = project.root.join(f);
            out.push(read(k, p.clone(), display_rel(&project.root, &p)));
        } else if s.generate.is_some() {
            let p = generated_secret_path(&project.root, &profile.name, k);
            let origin = format!("generated ({})", display_rel(&project.root, &p));
            out.push(SecretInput {
                key: k.clone(),
                value: std::fs::read(&p).map_err(|_| format!("{origin} is created by `devenv up`")),
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

/// A secret's file: a regular file (a FIFO would block, a device never ends) within swarm's size
/// limit.
fn read_secret_file(path: &Path, origin: &str) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{origin} does not exist"),
        _ => format!("cannot read {origin}: {e}"),
    })?;
    if !meta.is_file() {
        return Err(format!("{origin} is not a regular file"));
    }
    if meta.len() > MAX_SECRET_BYTES {
        return Err(format!(
            "{origin} is larger than swarm's limit for a secret ({MAX_SECRET_BYTES} bytes)"
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {origin}: {e}"))
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

/// Renders `profile` of `project`.
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
    let env = environment(&project.root, prefix);
    let ctx = JValue::from(minijinja::value::Serde(&context(project, profile)?));

    let stack_text = render_template(&env, &project.root, &project.file.stack, &ctx)?;

    let mut configs = Vec::new();
    for (key, tpl) in &project.file.configs {
        let content = render_template(&env, &project.root, tpl, &ctx)?;
        let object_name = object_name(
            &stack_name,
            key,
            &crate::hash::short(content.as_bytes(), 10),
        );
        configs.push(RenderedConfig {
            key: key.clone(),
            object_name,
            template: tpl.clone(),
            content,
        });
    }

    let secret_refs: Vec<SecretRef> = secrets
        .iter()
        .map(|s| {
            let hash = match &s.value {
                Ok(v) => crate::hash::keyed_short(salt, &[s.key.as_bytes(), b"\0", v].concat(), 10),
                Err(_) => "unavailable".to_string(),
            };
            SecretRef {
                key: s.key.clone(),
                object_name: object_name(&stack_name, &s.key, &hash),
                origin: s.origin.clone(),
                unavailable: s.value.as_ref().err().cloned(),
            }
        })
        .collect();

    let template_path = project.root.join(&project.file.stack);
    let template_src = read_project_file(
        &project.root,
        &project.file.stack.to_string_lossy(),
        MAX_TEMPLATE_BYTES,
    )
    .unwrap_or_default();
    let host_mode = match profile.file.docker.publish {
        crate::profile::Publish::Host => true,
        crate::profile::Publish::Ingress => false,
        crate::profile::Publish::Auto => profile.file.docker.swarm && facts.ipvs == Some(false),
    };
    let shaped = stack::shape(stack::ShapeInput {
        text: &stack_text,
        template_path: &template_path,
        template_src: &template_src,
        project,
        profile,
        configs: &configs,
        secrets: &secret_refs,
        host_mode,
    })?;

    let mut warnings = shaped.warnings;
    for s in &secret_refs {
        if let Some(why) = &s.unavailable {
            warnings.push(format!("secret `{}`: {why}", s.key));
        }
    }
    Ok(Rendered {
        profile: profile.name.clone(),
        stack_name,
        stack_yaml: stack::to_yaml(&shaped.stack),
        view: crate::stack::Stack::from_mapping(&shaped.stack),
        stack: shaped.stack,
        configs,
        secrets: secret_refs,
        builds: shaped.builds,
        warnings,
        host_mode,
    })
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

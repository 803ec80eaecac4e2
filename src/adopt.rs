//! `devenv init --from FILE...`: what an existing compose/stack file says, read without changing
//! it — its services, published ports, `${VAR}`s, external objects, build contexts, and a domain
//! from its proxy (Traefik router rules, caddy-docker-proxy and nginx-proxy labels, an nginx
//! `server_name`, a Caddyfile site) — and the project files that adopt it: `devenv.yaml` pointing
//! at the file as it is, `profiles/local.yaml` and `profiles/server.yaml` (the override files go to
//! the profile they are for).

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use crate::error::ConfigError;
use crate::stack::Service;

/// What the files say.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Adoption {
    pub project: String,
    /// The base file and the override files, relative to the project root.
    pub base: String,
    pub local_overrides: Vec<String>,
    pub server_overrides: Vec<String>,
    /// The site's domain and where it was found (`labels of traefik`, `nginx/site.conf`).
    pub domain: Option<(String, String)>,
    /// Other names of the site under the domain (`api.example.com`).
    pub names: Vec<String>,
    /// The proxy routes by host name (Traefik, nginx-proxy): a local name needs its own rule.
    pub routes_by_host: bool,
    /// nginx upstreams named literally (resolved once, when nginx starts): file, line, service.
    pub static_upstreams: Vec<(String, usize, String)>,
    /// Published web ports: (service, published port, target port).
    pub web_ports: Vec<(String, u64, u64)>,
    /// Other published ports, not probed: (service, published).
    pub other_ports: Vec<(String, Option<u64>)>,
    /// `${VAR}` the files use: name, default, required (`:?`).
    pub variables: Vec<(String, Option<String>, bool)>,
    /// The variables `.env` beside the compose file defines.
    pub dotenv: Vec<String>,
    pub external_secrets: Vec<String>,
    pub external_configs: Vec<String>,
    pub external_networks: Vec<String>,
    /// Services built from a context.
    pub builds: Vec<String>,
    /// A service that terminates TLS itself (publishes 443).
    pub own_tls: Option<String>,
    pub services: Vec<String>,
    /// The top-level domain of the local names: `test` (a hosts entry each), or `localhost`
    /// (browsers and curl resolve them to this machine themselves: no hosts file edit).
    pub local_tld: LocalTld,
}

/// Where a project's local names live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LocalTld {
    /// `NAME.test`: mapped in the hosts file (administrator rights once per change)
    #[default]
    Test,
    /// `NAME.localhost`: resolved to this machine by browsers and curl (RFC 6761), no hosts
    /// file edit and no administrator
    Localhost,
}

impl LocalTld {
    pub fn as_str(self) -> &'static str {
        match self {
            LocalTld::Test => "test",
            LocalTld::Localhost => "localhost",
        }
    }
}

const WEB_TARGETS: &[u64] = &[80, 8080, 8000, 3000, 5000, 8888, 4000, 9000];

fn err(file: &Path, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(file, msg)
}

/// Parses one compose file (YAML anchors and merge keys resolved).
fn parse(root: &Path, rel: &str) -> Result<(Mapping, String), ConfigError> {
    let full = root.join(rel);
    let src = crate::render::read_project_file(root, rel, crate::render::MAX_TEMPLATE_BYTES)
        .map_err(|e| err(&full, e.to_string()))?;
    let mut v: Value = crate::yaml::parse(&src).map_err(|e| {
        let e = match e {
            crate::yaml::Error::Limit(l) => return crate::yaml::limit_error(&full, &src, &l),
            crate::yaml::Error::Yaml(e) => e,
        };
        let mut ce = err(
            &full,
            format!(
                "not valid YAML: {}",
                e.to_string().split(" at line ").next().unwrap_or_default()
            ),
        );
        if let Some(l) = e.location() {
            ce = ce.at(&src, l.line(), l.column());
        }
        ce
    })?;
    v.apply_merge()
        .map_err(|e| err(&full, format!("a YAML merge key does not merge: {e}")))?;
    match v {
        Value::Mapping(m) if m.contains_key("services") => {
            // a name docker refuses (a newline, a `/`) is refused here, before it is written into
            // a profile
            crate::render::check_names(&m, &full, &src)?;
            Ok((m, src))
        }
        Value::Mapping(_) => Err(err(&full, "this is no compose file: it has no `services:`")
            .hint("pass the compose or stack file (docker-compose.yml, compose.yaml, docker-stack.yml)")),
        _ => Err(err(&full, "this is no compose file: it is not a YAML mapping")),
    }
}

/// Whether an override file is for this machine (`docker-compose.override.yml`, `*.local.yml`,
/// `*.dev.yml`) rather than for the server (`docker-compose.prod.yml`, anything else).
pub fn is_local_override(rel: &str) -> bool {
    let name = Path::new(rel)
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    ["override", "local", "dev", "development"]
        .iter()
        .any(|w| name.split(['.', '-', '_']).any(|part| part == *w))
}

/// Reads the files and infers the project.
pub fn infer(root: &Path, project: &str, files: &[String]) -> Result<Adoption, ConfigError> {
    let (base, rest) = files
        .split_first()
        .expect("init --from has at least one file");
    let mut a = Adoption {
        project: project.to_string(),
        base: base.clone(),
        ..Default::default()
    };
    for o in rest {
        if is_local_override(o) {
            a.local_overrides.push(o.clone());
        } else {
            a.server_overrides.push(o.clone());
        }
    }
    let (doc, src) = parse(root, base)?;
    let mut sources = vec![src];
    for o in rest {
        sources.push(parse(root, o)?.1);
    }
    // `.env` beside the base file: what it defines is not asked for
    let env_dir = Path::new(base.as_str())
        .parent()
        .map(|d| d.join(".env"))
        .unwrap_or_else(|| std::path::PathBuf::from(".env"));
    if let Ok(text) = crate::contained::Scope::project(root).read_string(&env_dir, 1 << 20)
        && let Ok(vars) = crate::render::dotenv::parse(&text, &Default::default())
    {
        a.dotenv = vars.into_iter().map(|v| v.name).collect();
    }
    // variables of every file
    for s in &sources {
        for v in variables(s) {
            if !a.variables.iter().any(|(n, _, _)| *n == v.0) {
                a.variables.push(v);
            }
        }
    }
    let services = doc
        .get("services")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let mut names: Vec<(String, String)> = Vec::new();
    let mut configs: Vec<(String, String)> = Vec::new();
    for (k, v) in &services {
        let (Some(name), Some(m)) = (k.as_str(), v.as_mapping()) else {
            continue;
        };
        a.services.push(name.to_string());
        let svc = Service::from_mapping(name, m);
        if m.contains_key("build") {
            a.builds.push(name.to_string());
        }
        for p in &svc.ports {
            if (p.target == 443 || p.published == Some(443)) && a.own_tls.is_none() {
                a.own_tls = Some(name.to_string());
            }
            match p.published {
                Some(pubd) if WEB_TARGETS.contains(&p.target) || pubd == 80 => {
                    a.web_ports.push((name.to_string(), pubd, p.target))
                }
                other => a.other_ports.push((name.to_string(), other)),
            }
        }
        for (label, value) in labels(m) {
            if label.starts_with("traefik.http.routers.") && label.ends_with(".rule") {
                for h in hosts_in_rule(&value) {
                    names.push((h, format!("the Traefik labels of {name}")));
                    a.routes_by_host = true;
                }
            } else if label == "caddy" || label.starts_with("caddy_") && !label.contains('.') {
                for h in value.split([',', ' ']).filter(|s| !s.is_empty()) {
                    names.push((
                        h.trim_start_matches("https://")
                            .trim_start_matches("http://")
                            .to_string(),
                        format!("the caddy label of {name}"),
                    ));
                }
            }
        }
        for (k, v) in environment(m) {
            if k == "VIRTUAL_HOST" {
                for h in v.split(',') {
                    names.push((h.trim().to_string(), format!("VIRTUAL_HOST of {name}")));
                    a.routes_by_host = true;
                }
            }
        }
        // proxy configuration files it mounts
        for path in mounted_files(m) {
            if let Some(text) = read_config(root, &path) {
                for h in config_hosts(&path, &text) {
                    names.push((h, path.clone()));
                }
                configs.push((path.clone(), text));
            }
        }
    }
    for kind in ["configs", "secrets", "networks"] {
        let Some(top) = doc.get(kind).and_then(Value::as_mapping) else {
            continue;
        };
        for (k, v) in top {
            let Some(key) = k.as_str() else { continue };
            if kind == "configs"
                && let Some(f) = v.get("file").and_then(Value::as_str)
                && let Some(text) = read_config(root, f)
            {
                for h in config_hosts(f, &text) {
                    names.push((h, f.trim_start_matches("./").to_string()));
                }
                configs.push((f.trim_start_matches("./").to_string(), text));
            }
            if v.get("external").and_then(Value::as_bool) == Some(true) {
                match kind {
                    "configs" => a.external_configs.push(key.to_string()),
                    "secrets" => a.external_secrets.push(key.to_string()),
                    _ => a.external_networks.push(key.to_string()),
                }
            }
        }
    }
    for (path, text) in &configs {
        for (line, host) in static_upstreams(text) {
            if a.services.contains(&host)
                && !a
                    .static_upstreams
                    .iter()
                    .any(|(p, _, h)| p == path && *h == host)
            {
                a.static_upstreams.push((path.clone(), line, host));
            }
        }
    }
    let names: Vec<(String, String)> = names
        .into_iter()
        .map(|(h, w)| (h.trim().trim_end_matches('.').to_lowercase(), w))
        .filter(|(h, _)| plausible_name(h))
        .collect();
    if let Some((first, from)) = names.first() {
        // the domain: the shortest name, the others under it
        let domain = names
            .iter()
            .map(|(h, _)| h.as_str())
            .min_by_key(|h| (h.split('.').count(), h.len()))
            .unwrap_or(first)
            .trim_start_matches("www.")
            .to_string();
        let from = names
            .iter()
            .find(|(h, _)| h.trim_start_matches("www.") == domain)
            .map(|(_, w)| w.clone())
            .unwrap_or(from.clone());
        for (h, _) in &names {
            if h != &domain && h.ends_with(&format!(".{domain}")) && !a.names.contains(h) {
                a.names.push(h.clone());
            }
        }
        a.domain = Some((domain, from));
    }
    Ok(a)
}

fn plausible_name(h: &str) -> bool {
    !h.is_empty()
        && h.contains('.')
        && h != "localhost"
        && !h.ends_with(".localhost")
        && !h.contains(['*', '$', '{', '}', '/', ':', '_', '~'])
        && h.parse::<std::net::IpAddr>().is_err()
        && crate::name::host::normalize_name(h).is_ok()
}

/// `Host(`a.com`) || Host(`b.com`, `c.com`)` → a.com, b.com, c.com.
fn hosts_in_rule(rule: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = rule;
    while let Some(i) = rest.find("Host(") {
        rest = &rest[i + 5..];
        let end = rest.find(')').unwrap_or(rest.len());
        for part in rest[..end].split(',') {
            let h = part.trim().trim_matches(['`', '"', '\'']);
            if !h.is_empty() {
                out.push(h.to_string());
            }
        }
        rest = &rest[end..];
    }
    out
}

/// A service's labels and deploy labels, list or mapping, as (key, value).
fn labels(m: &Mapping) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let deploy = m.get("deploy").and_then(|d| d.get("labels"));
    for l in [m.get("labels"), deploy].into_iter().flatten() {
        out.extend(key_values(l));
    }
    out
}

fn environment(m: &Mapping) -> Vec<(String, String)> {
    m.get("environment").map(key_values).unwrap_or_default()
}

fn key_values(v: &Value) -> Vec<(String, String)> {
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    };
    match v {
        Value::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar(v))))
            .collect(),
        Value::Sequence(s) => s
            .iter()
            .filter_map(|i| {
                let s = i.as_str()?;
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Files a service bind-mounts (short and long syntax) that could be proxy configuration.
fn mounted_files(m: &Mapping) -> Vec<String> {
    let mut out = Vec::new();
    for v in m
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let src = match v {
            Value::String(s) => s.split(':').next().unwrap_or_default().to_string(),
            Value::Mapping(l) => l
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => continue,
        };
        if src.starts_with("./") || (!src.starts_with('/') && src.contains('/')) {
            out.push(src.trim_start_matches("./").to_string());
        }
    }
    out
}

/// A proxy configuration file of the project (a file or the files of a directory, ≤ 1 MiB).
fn read_config(root: &Path, rel: &str) -> Option<String> {
    let rel = rel.trim_start_matches("./");
    let looks = |n: &str| {
        n.ends_with(".conf")
            || n.ends_with(".toml")
            || n.ends_with(".yml")
            || n.ends_with(".yaml")
            || n.starts_with("Caddyfile")
            || n.ends_with(".caddy")
    };
    let p = root.join(rel);
    if p.is_dir() {
        let mut text = String::new();
        for e in crate::contained::Scope::project(root)
            .list(Path::new(rel))
            .ok()?
            .into_iter()
            .take(50)
        {
            let name = e.path.file_name()?.to_string_lossy().into_owned();
            if looks(&name)
                && let Ok(t) = crate::render::read_project_file(
                    root,
                    &format!("{rel}/{name}"),
                    crate::render::MAX_TEMPLATE_BYTES,
                )
            {
                text.push_str(&t);
                text.push('\n');
            }
        }
        return Some(text);
    }
    let name = p.file_name()?.to_string_lossy().into_owned();
    if !looks(&name) {
        return None;
    }
    crate::render::read_project_file(root, rel, crate::render::MAX_TEMPLATE_BYTES).ok()
}

/// nginx upstreams written as a name (`proxy_pass http://app:8000;`, an `upstream`'s
/// `server app:8000;`): nginx resolves them once, when it starts. With DNS round-robin (what
/// devenv renders where the kernel has no IPVS) a service's tasks change address on every
/// update, and nginx keeps the old one: 502 until it restarts. (line, host) of each.
fn static_upstreams(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('#') {
            continue;
        }
        let target = if let Some(at) = l.find("proxy_pass ") {
            l[at + "proxy_pass ".len()..]
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .split("://")
                .nth(1)
                .unwrap_or_default()
        } else if let Some(rest) = l.strip_prefix("server ")
            && !l.contains(" resolve")
            && !l.contains('{')
        {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches(';')
        } else {
            continue;
        };
        if target.contains('$') {
            continue;
        }
        let host = target
            .split(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_string();
        if !host.is_empty() {
            out.push((i + 1, host));
        }
    }
    out
}

/// Host names a proxy configuration serves: nginx `server_name`, Caddyfile site addresses,
/// Traefik `Host(...)` rules.
fn config_hosts(path: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('#') {
            continue;
        }
        if let Some(rest) = l.strip_prefix("server_name") {
            out.extend(
                rest.trim_end_matches(';')
                    .split_whitespace()
                    .map(|s| s.trim_end_matches(';').to_string()),
            );
        }
        if l.contains("Host(") {
            out.extend(hosts_in_rule(l));
        }
    }
    let caddy = Path::new(path).file_name().is_some_and(|n| {
        n.to_string_lossy().starts_with("Caddyfile") || n.to_string_lossy().ends_with(".caddy")
    });
    if caddy {
        // site blocks: an address (or several) at the start of a line, then `{`
        for line in text.lines() {
            if line.starts_with([' ', '\t', '#', '(', '}']) || !line.trim_end().ends_with('{') {
                continue;
            }
            for a in line.trim_end().trim_end_matches('{').split([',', ' ']) {
                let a = a
                    .trim()
                    .trim_start_matches("https://")
                    .trim_start_matches("http://");
                let a = a.split(':').next().unwrap_or_default();
                if !a.is_empty() {
                    out.push(a.to_string());
                }
            }
        }
    }
    out
}

/// The `${VAR}`s of a file: name, default, required.
fn variables(src: &str) -> Vec<(String, Option<String>, bool)> {
    let mut out: Vec<(String, Option<String>, bool)> = Vec::new();
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        if b.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let (name, default, required, next) = if b.get(i + 1) == Some(&b'{') {
            let start = i + 2;
            let mut j = start;
            while j < b.len() && (b[j] == b'_' || b[j].is_ascii_alphanumeric()) {
                j += 1;
            }
            let name = &src[start..j];
            // the `}` that closes this `${`, past nested ones (`${A:-${B:-x}}`)
            let mut depth = 1;
            let mut close = b.len();
            let mut k = j;
            while k < b.len() {
                if b[k] == b'$' && b.get(k + 1) == Some(&b'{') {
                    depth += 1;
                    k += 2;
                    continue;
                }
                if b[k] == b'}' {
                    depth -= 1;
                    if depth == 0 {
                        close = k;
                        break;
                    }
                }
                k += 1;
            }
            let op = &src[j..close];
            let (default, required) =
                if let Some(d) = op.strip_prefix(":-").or(op.strip_prefix('-')) {
                    (Some(d.to_string()), false)
                } else {
                    (None, op.starts_with(":?") || op.starts_with('?'))
                };
            (name.to_string(), default, required, close + 1)
        } else {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && (b[j] == b'_' || b[j].is_ascii_alphanumeric()) {
                j += 1;
            }
            (src[start..j].to_string(), None, false, j.max(i + 1))
        };
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
        if valid && !out.iter().any(|(n, _, _)| *n == name) {
            out.push((name, default, required));
        }
        i = next;
    }
    out
}

/// `myblog.com` → `myblog.test`; `www.shop.example.org` → `shop.example.test` (or
/// `….localhost`).
pub fn local_name(name: &str, tld: LocalTld) -> String {
    let n = name.trim_start_matches("www.");
    let tld = tld.as_str();
    match n.rsplit_once('.') {
        Some((head, _)) => format!("{head}.{tld}"),
        None => format!("{n}.{tld}"),
    }
}

/// A scalar as YAML writes it (quoted when it must be): every value devenv puts into a
/// generated file goes through here or the serializer, never pasted as it is.
fn yaml_str(s: &str) -> String {
    serde_yaml_ng::to_string(&Value::String(s.to_string()))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// A list of scalars in flow style, each written by [`yaml_str`].
fn yaml_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| yaml_str(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Text for a comment line: one line, whatever it holds.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Adoption {
    pub fn local_domain(&self) -> String {
        match &self.domain {
            Some((d, _)) => local_name(d, self.local_tld),
            None => format!(
                "{}.{}",
                self.project.replace('_', "-"),
                self.local_tld.as_str()
            ),
        }
    }

    pub fn server_domain(&self) -> String {
        match &self.domain {
            Some((d, _)) => d.clone(),
            None => format!("{}.example", self.project.replace('_', "-")),
        }
    }

    fn probed_ports(&self) -> Vec<u64> {
        if self.routes_by_host {
            return Vec::new();
        }
        let mut v: Vec<u64> = self.web_ports.iter().map(|(_, p, _)| *p).collect();
        v.sort();
        v.dedup();
        v
    }

    /// `devenv.yaml`: the base file as the stack, the probes of the web ports it publishes.
    pub fn devenv_yaml(&self) -> String {
        let mut s = format!(
            "# devenv project file. The stack is {} as it is: devenv reads it (and `docker stack deploy -c {}`\n\
             # still works without devenv). Per-machine changes go into profiles/NAME.yaml.\n\
             project: {}\nstack: {}\ndefault_profile: local\n",
            comment(&self.base),
            comment(&self.base),
            yaml_str(&self.project),
            yaml_str(&self.base)
        );
        let ports = self.probed_ports();
        if !ports.is_empty() {
            s.push_str("# Checked by `devenv up` once every service runs (the stack's published web ports).\nprobes:\n");
            for p in ports {
                if p == 80 {
                    s.push_str("  - url: \"http://{{ domain }}/\"\n");
                } else {
                    s.push_str(&format!("  - url: \"http://{{{{ domain }}}}:{p}/\"\n"));
                }
            }
        }
        s.push_str(
            "# One-shot commands run in a service after a deploy (or with `devenv run NAME`), e.g.:\n\
             # tasks:\n\
             #   migrate: {service: web, command: \"./manage.py migrate --noinput\", when: [first-deploy, image-changed]}\n",
        );
        s
    }

    fn env_block(&self) -> String {
        if self.variables.is_empty() {
            return String::new();
        }
        // nothing is pinned: a value here would hide the environment's and `.env`'s
        let mut s = String::from(
            "# The ${VAR}s of the stack come from the environment, then .env, then the file's default;
             # a value under `env:` pins one for this profile, e.g.:
# env:
",
        );
        for (name, default, required) in &self.variables {
            let shown = yaml_str(name);
            let in_dotenv = self.dotenv.iter().any(|v| v == name);
            let (value, from) = match default {
                Some(d) if in_dotenv => (yaml_str(d), "set in .env (the file's default is this)"),
                Some(d) => (yaml_str(d), "the file's default"),
                None if in_dotenv => ("\"\"".into(), "set in .env"),
                None if *required => (
                    "\"\"".into(),
                    "required by the stack: set it here, in .env or in the environment",
                ),
                None => (
                    "\"\"".into(),
                    "not set: set it here, in .env or in the environment",
                ),
            };
            s.push_str(&format!("#   {shown}: {value}   # {from}\n"));
        }
        s
    }

    fn hosts(&self, local: bool) -> Vec<String> {
        let mut v = vec![if local {
            self.local_domain()
        } else {
            self.server_domain()
        }];
        for n in &self.names {
            let n = if local {
                local_name(n, self.local_tld)
            } else {
                n.clone()
            };
            if !v.contains(&n) {
                v.push(n);
            }
        }
        v
    }

    /// The edge's upstream, as devenv will infer it: the web port a service publishes, 80 first.
    fn edge_upstream(&self) -> Option<(String, u64)> {
        WEB_TARGETS.iter().find_map(|t| {
            self.web_ports
                .iter()
                .find(|(_, _, target)| target == t)
                .map(|(s, _, t)| (s.clone(), *t))
        })
    }

    /// The local profile's `tls:`: devenv's TLS edge in front of a stack that terminates none.
    fn tls_line(&self) -> String {
        match (&self.own_tls, self.edge_upstream()) {
            (None, Some((svc, port))) => format!(
                "tls: local-ca           # HTTPS from devenv's CA: devenv-edge (nginx) serves https://{}/ in front of {svc}:{port} (`edge: false` turns it off)\n",
                self.local_domain()
            ),
            (Some(svc), _) => format!(
                "tls: none               # HTTPS from devenv's CA: mount secrets tls_cert and tls_key in {svc}, then `tls: local-ca`\n"
            ),
            (None, None) => "tls: none               # HTTPS from devenv's CA: `tls: local-ca` with `edge: {routes: {NAME: SERVICE:PORT}}`\n".into(),
        }
    }

    pub fn local_yaml(&self) -> String {
        let mut s = String::from(
            "description: This machine - a single-node swarm (devenv runs `docker swarm init` when needed).\n\
             docker:\n  context: default      # Docker Desktop may call it desktop-linux\n  swarm: true\n",
        );
        s.push_str(&format!("domain: {}\n", yaml_str(&self.local_domain())));
        s.push_str(&format!("hosts: {}\n", yaml_list(&self.hosts(true))));
        s.push_str(&self.tls_line());
        if !self.local_overrides.is_empty() {
            s.push_str(&format!(
                "overrides: [{}]\n",
                self.local_overrides
                    .iter()
                    .map(|o| yaml_str(o))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        s.push_str(&self.env_block());
        let mut secrets = self.external_secrets.clone();
        secrets.sort();
        if !secrets.is_empty() {
            s.push_str("# The stack's external secrets, made on this machine (a random value, kept in .devenv/).\nsecrets:\n");
            for k in secrets {
                s.push_str(&format!("  {}: {{generate: 32}}\n", yaml_str(&k)));
            }
        }
        s.push_str(
            "# Changes to the stack for this machine only, merged like a compose override file, e.g.:\n\
             # services:\n#   web: {environment: {DEBUG: \"1\"}}\n",
        );
        s
    }

    pub fn server_yaml(&self) -> String {
        let mut s = format!(
            "description: The server, reached through its own docker context.\n\
             docker:\n  context: {}\n  # host: ssh://deploy@{}   # devenv creates the context from this when it is missing\n  # cluster_id: <docker --context {}-server info --format '{{{{.Swarm.Cluster.ID}}}}'>\n",
            yaml_str(&format!("{}-server", self.project)),
            comment(&self.server_domain()),
            comment(&self.project)
        );
        s.push_str(&format!("domain: {}\n", yaml_str(&self.server_domain())));
        s.push_str("hosts: []               # real DNS; nothing in this machine's hosts file\n");
        if !self.server_overrides.is_empty() {
            s.push_str(&format!(
                "overrides: [{}]\n",
                self.server_overrides
                    .iter()
                    .map(|o| yaml_str(o))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.builds.is_empty() {
            s.push_str(&format!(
                "# {} {} built by devenv: a server pulls them from a registry\n# registry: {{prefix: registry.example.com/{}}}\n",
                comment(&self.builds.join(", ")),
                if self.builds.len() > 1 { "are" } else { "is" },
                comment(&self.project)
            ));
        }
        s.push_str(&self.env_block());
        let mut secrets = self.external_secrets.clone();
        secrets.sort();
        if !secrets.is_empty() {
            s.push_str("# The stack's external secrets exist on the server already; or give them values:\n# secrets:\n");
            for k in secrets {
                s.push_str(&format!(
                    "#   {}: {{env: {}}}\n",
                    yaml_str(&k),
                    yaml_str(&k.to_uppercase().replace(['-', '.'], "_"))
                ));
            }
        }
        s
    }

    /// What devenv inferred, and what the user should check, one line each.
    pub fn report(&self) -> Vec<String> {
        let mut v = Vec::new();
        v.push(format!(
            "stack: {} as it is ({} services: {})",
            self.base,
            self.services.len(),
            self.services.join(", ")
        ));
        for o in &self.local_overrides {
            v.push(format!("{o}: merged over the stack for profile local"));
        }
        if let (None, Some((svc, port))) = (&self.own_tls, self.edge_upstream()) {
            v.push(format!(
                "https: locally devenv-edge serves https://{}/ (and WSS) with devenv's CA in front of {svc}:{port}; every service trusts that CA",
                self.local_domain()
            ));
        }
        for o in &self.server_overrides {
            v.push(format!("{o}: merged over the stack for profile server"));
        }
        match &self.domain {
            Some((d, from)) => v.push(format!(
                "domain: {d} (from {from}); locally {}",
                self.local_domain()
            )),
            None => v.push(format!(
                "domain: none found in the files; locally {}, and {} for the server is a placeholder: check profiles/server.yaml",
                self.local_domain(),
                self.server_domain()
            )),
        }
        if self.routes_by_host {
            v.push(format!(
                "the proxy routes by host name: add a rule for {} in profiles/local.yaml (`services:`) to reach it locally; no probes were added",
                self.local_domain()
            ));
        }
        for (file, line, svc) in &self.static_upstreams {
            v.push(format!(
                "{file}:{line}: nginx resolves `{svc}` once, when it starts; where devenv publishes with DNS round-robin (no IPVS) it then answers 502 after {svc} is updated: `resolver 127.0.0.11 valid=5s; set $up http://{svc}:PORT; proxy_pass $up;` asks each time"
            ));
        }
        for (svc, p, t) in &self.web_ports {
            if !self.routes_by_host {
                v.push(format!(
                    "probe: http://{}{}/ ({svc} publishes {p}→{t})",
                    self.local_domain(),
                    if *p == 80 {
                        String::new()
                    } else {
                        format!(":{p}")
                    }
                ));
            }
        }
        for (svc, p) in &self.other_ports {
            v.push(match p {
                Some(p) => format!("{svc} publishes port {p}: not probed (not a web port)"),
                None => format!("{svc} publishes a port on a port docker picks"),
            });
        }
        for (name, default, required) in &self.variables {
            v.push(match (default, required) {
                (Some(d), _) => format!("${{{name}}}: {d} unless set (env: in the profiles)"),
                (None, true) => {
                    format!("${{{name}}} is required: set it under env: in both profiles")
                }
                (None, false) if self.dotenv.iter().any(|v| v == name) => {
                    format!("${{{name}}} comes from .env")
                }
                (None, false) => format!(
                    "${{{name}}} has no default: set it in .env, the environment or the profile's env: (empty until then)"
                ),
            });
        }
        for s in &self.external_secrets {
            v.push(format!(
                "secret {s} is external: generated for profile local; on the server it must exist (or see profiles/server.yaml)"
            ));
        }
        for n in &self.external_networks {
            v.push(format!(
                "network {n} is external: create it on each swarm (`docker network create -d overlay {n}`)"
            ));
        }
        for b in &self.builds {
            v.push(format!(
                "{b} is built from its context by `devenv up` (and `devenv build`)"
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (rel, c) in files {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        d
    }

    #[test]
    fn nginx_upstreams_resolved_once_are_named_with_the_fix() {
        let d = project(&[
            (
                "compose.yaml",
                "services:\n  proxy:\n    image: nginx\n    ports: ['80:80']\n    configs: [{source: site, target: /etc/nginx/conf.d/default.conf}]\n  app: {image: a}\n  api: {image: b}\n  ws: {image: c}\nconfigs:\n  site: {file: ./site.conf}\n",
            ),
            (
                "site.conf",
                "upstream api_pool {\n  server api:9000;\n}\nupstream ws_pool {\n  server ws:9001 resolve;\n}\nserver {\n  listen 80;\n  server_name shop.example.org;\n  # proxy_pass http://commented:1;\n  location / { proxy_pass http://app:8000; }\n  location /api/ { proxy_pass http://api_pool; }\n  location /x/ { set $u http://app:8000; proxy_pass $u; }\n  location /ext/ { proxy_pass https://example.org/; }\n}\n",
            ),
        ]);
        let a = infer(d.path(), "shop", &["compose.yaml".into()]).unwrap();
        assert_eq!(
            a.static_upstreams,
            vec![
                ("site.conf".to_string(), 2, "api".to_string()),
                ("site.conf".to_string(), 11, "app".to_string()),
            ]
        );
        let report = a.report().join("\n");
        assert!(
            report.contains("site.conf:11: nginx resolves `app` once, when it starts;"),
            "{report}"
        );
        assert!(
            report.contains("set $up http://app:PORT; proxy_pass $up;"),
            "{report}"
        );
    }

    #[test]
    fn a_domain_from_nginx_traefik_caddy_or_labels() {
        let d = project(&[
            (
                "docker-compose.yml",
                "services:\n  proxy:\n    image: nginx\n    ports: ['80:80', '443:443']\n    volumes: ['./nginx/site.conf:/etc/nginx/conf.d/default.conf:ro']\n  db:\n    image: postgres\n    ports: ['5432:5432']\n",
            ),
            (
                "nginx/site.conf",
                "server {\n  listen 80;\n  server_name www.shop.example.org shop.example.org api.shop.example.org;\n}\n",
            ),
        ]);
        let a = infer(d.path(), "shop", &["docker-compose.yml".into()]).unwrap();
        assert_eq!(
            a.domain,
            Some(("shop.example.org".into(), "nginx/site.conf".into()))
        );
        assert_eq!(a.local_domain(), "shop.example.test");
        assert!(a.names.contains(&"api.shop.example.org".to_string()));
        assert!(!a.routes_by_host);
        assert_eq!(a.web_ports, vec![("proxy".to_string(), 80, 80)]);
        assert_eq!(
            a.other_ports.len(),
            2,
            "443 and 5432 are not probed: {:?}",
            a.other_ports
        );
        assert!(a.devenv_yaml().contains("- url: \"http://{{ domain }}/\""));

        let d = project(&[(
            "docker-stack.yml",
            "services:\n  whoami:\n    image: traefik/whoami\n    deploy:\n      labels:\n        - traefik.http.routers.who.rule=Host(`who.example.com`) || Host(`example.com`)\n",
        )]);
        let a = infer(d.path(), "who", &["docker-stack.yml".into()]).unwrap();
        assert_eq!(a.domain.as_ref().unwrap().0, "example.com");
        assert!(a.routes_by_host);
        assert!(
            a.devenv_yaml().find("probes:").is_none(),
            "{}",
            a.devenv_yaml()
        );

        let d = project(&[
            (
                "compose.yaml",
                "services:\n  caddy:\n    image: caddy\n    ports: ['80:80']\n    configs: [{source: caddyfile, target: /etc/caddy/Caddyfile}]\nconfigs:\n  caddyfile: {file: ./Caddyfile}\n",
            ),
            (
                "Caddyfile",
                "blog.example.net {\n  reverse_proxy app:8080\n}\n",
            ),
        ]);
        let a = infer(d.path(), "blog", &["compose.yaml".into()]).unwrap();
        assert_eq!(
            a.domain,
            Some(("blog.example.net".into(), "Caddyfile".into()))
        );

        let d = project(&[(
            "compose.yaml",
            "services:\n  app:\n    image: x\n    environment: [VIRTUAL_HOST=app.example.io]\n",
        )]);
        assert_eq!(
            infer(d.path(), "x", &["compose.yaml".into()])
                .unwrap()
                .domain
                .unwrap()
                .0,
            "app.example.io"
        );
    }

    #[test]
    fn no_domain_variables_secrets_and_overrides() {
        let d = project(&[
            (
                "docker-stack.yml",
                "services:\n  vote:\n    image: ${REGISTRY:-docker.io}/vote:${TAG:?}\n    ports: ['5000:80']\n    secrets: [pw]\n  redis:\n    image: redis\n    ports: ['6379']\nsecrets:\n  pw: {external: true}\nnetworks:\n  public: {external: true}\n",
            ),
            (
                "docker-compose.prod.yml",
                "services:\n  vote:\n    deploy: {replicas: 4}\n",
            ),
            (
                "docker-compose.override.yml",
                "services:\n  vote:\n    environment: [DEBUG=1]\n",
            ),
        ]);
        let a = infer(
            d.path(),
            "voting",
            &[
                "docker-stack.yml".into(),
                "docker-compose.prod.yml".into(),
                "docker-compose.override.yml".into(),
            ],
        )
        .unwrap();
        assert_eq!(a.domain, None);
        assert_eq!(a.local_domain(), "voting.test");
        assert_eq!(a.server_domain(), "voting.example");
        assert_eq!(
            a.server_overrides,
            vec!["docker-compose.prod.yml".to_string()]
        );
        assert_eq!(
            a.local_overrides,
            vec!["docker-compose.override.yml".to_string()]
        );
        assert_eq!(
            a.variables,
            vec![
                ("REGISTRY".into(), Some("docker.io".into()), false),
                ("TAG".into(), None, true)
            ]
        );
        assert_eq!(a.external_secrets, vec!["pw".to_string()]);
        assert_eq!(a.external_networks, vec!["public".to_string()]);
        let local = a.local_yaml();
        assert!(
            local.contains("domain: voting.test\nhosts: [voting.test]"),
            "{local}"
        );
        assert!(local.contains("  pw: {generate: 32}"), "{local}");
        assert!(
            local.contains("#   TAG: \"\"   # required by the stack: set it here, in .env or in the environment"),
            "never pinned (a value would hide the environment's): {local}"
        );
        let parsed: crate::profile::ProfileFile = serde_yaml_ng::from_str(&local).unwrap();
        assert!(parsed.env.is_empty(), "a default is not pinned either");
        assert!(
            local.contains("#   REGISTRY: docker.io   # the file's default"),
            "{local}"
        );
        assert!(
            local.contains("overrides: [docker-compose.override.yml]"),
            "{local}"
        );
        let server = a.server_yaml();
        assert!(
            server.contains("overrides: [docker-compose.prod.yml]"),
            "{server}"
        );
        assert!(server.contains("domain: voting.example"), "{server}");
        // the files parse as devenv's own
        let _: crate::profile::ProfileFile = serde_yaml_ng::from_str(&local).unwrap();
        let _: crate::profile::ProfileFile = serde_yaml_ng::from_str(&server).unwrap();
        let _: crate::profile::ProjectFile = serde_yaml_ng::from_str(&a.devenv_yaml()).unwrap();
        let report = a.report().join("\n");
        assert!(report.contains("placeholder"), "{report}");
        assert!(report.contains("${TAG} is required"), "{report}");
    }

    #[test]
    fn not_a_compose_file() {
        let d = project(&[("notes.yml", "a: 1\n"), ("bad.yml", "services: [\n")]);
        let e = infer(d.path(), "x", &["notes.yml".into()]).unwrap_err();
        assert!(e.message.contains("no `services:`"), "{e}");
        let e = infer(d.path(), "x", &["bad.yml".into()]).unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{e}");
        assert!(e.line > 0);
    }

    #[test]
    fn nested_defaults_are_read_whole_and_dotenv_is_seen() {
        let v = variables("a: ${A:-${B:-x}}/y\nb: $C ${D:?set D}\n");
        assert_eq!(
            v,
            vec![
                ("A".into(), Some("${B:-x}".into()), false),
                ("C".into(), None, false),
                ("D".into(), None, true),
            ]
        );
        let d = project(&[
            (
                "docker-compose.yml",
                "services:\n  db:\n    image: postgres\n    environment: [\"POSTGRES_PASSWORD=${PW}\"]\n",
            ),
            (".env", "PW=secret\n"),
        ]);
        let a = infer(d.path(), "shop", &["docker-compose.yml".into()]).unwrap();
        assert_eq!(a.dotenv, ["PW"]);
        assert!(
            a.local_yaml().contains("#   PW: \"\"   # set in .env"),
            "{}",
            a.local_yaml()
        );
        assert!(
            a.report().iter().any(|l| l == "${PW} comes from .env"),
            "{:?}",
            a.report()
        );
    }
}

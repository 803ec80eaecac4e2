//! The project model: `devenv.yaml` and `profiles/NAME.yaml`, parsed into typed structs.
//!
//! Unknown keys are rejected with a suggestion, and every error names file:line:column and the
//! offending value (exit code 2). Loading never writes anything.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use crate::error::{ConfigError, UserError, did_you_mean, display_path, locate};

pub const PROJECT_FILE: &str = "devenv.yaml";

/// Files that say "this directory has a stack already".
pub const COMPOSE_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
    "docker-stack.yml",
    "docker-stack.yaml",
];

/// Where a profile's leaf certificate and key live in the project: `certs/PROFILE.crt|.key`.
pub fn leaf_paths(root: &Path, profile: &str) -> (PathBuf, PathBuf) {
    let d = root.join("certs");
    (
        d.join(format!("{profile}.crt")),
        d.join(format!("{profile}.key")),
    )
}
pub const PROFILES_DIR: &str = "profiles";

/// `devenv.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Project name: the swarm stack name, the hosts block marker, the prefix of swarm objects.
    pub project: String,
    /// The stack template (compose-spec YAML with minijinja), relative to the project root.
    pub stack: PathBuf,
    /// Config templates: name → template path. Each rendered file becomes a swarm config.
    #[serde(default)]
    pub configs: BTreeMap<String, PathBuf>,
    /// The profile used when none is given and none is active.
    #[serde(default)]
    pub default_profile: Option<String>,
    /// Template variables every profile starts from (a profile's `vars` override them, deeply).
    #[serde(default)]
    pub vars: Mapping,
    /// Readiness probes run by `up` after the services converge.
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// Named one-shot commands run in a service's task: `migrate`, `createsuperuser`, seeding.
    /// In the file's order (the order `up` runs them in).
    #[serde(default, deserialize_with = "ordered_tasks")]
    pub tasks: Vec<(String, Task)>,
}

fn ordered_tasks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Task)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, Task)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a mapping of task names to tasks")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, Task)> = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                let t: Task = map.next_value()?;
                out.push((k, t));
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// A task: a command run in a running task of `service` (or a one-off swarm job from the
/// service's spec) after a deploy, or on demand with `devenv run`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// The service whose task (image, networks, secrets, environment) the command runs in.
    pub service: String,
    /// An argv list, or a string run with `sh -c`.
    pub command: Command,
    /// When `up` runs it: `first-deploy` (once per profile and swarm), `image-changed` (after a
    /// deploy that changed the service's image), `manual` (only `devenv run`); one or a list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub when: Vec<When>,
    /// Profiles the task belongs to (default: all).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// `exec`: in a running task of the service (default); `job`: a one-off swarm job with the
    /// service's image, networks, mounts, secrets and environment (any node, the service's own
    /// tasks untouched).
    #[serde(default, rename = "in")]
    pub runs_in: RunsIn,
    /// A user to run as (`docker exec --user`).
    #[serde(default)]
    pub user: Option<String>,
    /// How long it may run (default 10m).
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Argv(Vec<String>),
}

impl Command {
    /// The argv to run: a string goes through `sh -c`.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
            Command::Argv(v) => v.clone(),
        }
    }

    pub fn display(&self) -> String {
        match self {
            Command::Shell(s) => s.clone(),
            Command::Argv(v) => v
                .iter()
                .map(|a| crate::sys::shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    FirstDeploy,
    ImageChanged,
    Manual,
}

impl When {
    pub fn as_str(self) -> &'static str {
        match self {
            When::FirstDeploy => "first-deploy",
            When::ImageChanged => "image-changed",
            When::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RunsIn {
    #[default]
    Exec,
    Job,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<When>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(When),
        Many(Vec<When>),
    }
    Ok(match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(w)) => vec![w],
        Ok(OneOrMany::Many(v)) => v,
        Err(_) => {
            return Err(de::Error::custom(
                "`when` is `first-deploy`, `image-changed` or `manual`, or a list of them",
            ));
        }
    })
}

impl ProjectFile {
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

impl Task {
    /// Whether the task belongs to `profile`.
    pub fn for_profile(&self, profile: &str) -> bool {
        self.profiles.is_empty() || self.profiles.iter().any(|p| p == profile)
    }

    /// Whether `up` runs it by itself (not only `devenv run`).
    pub fn automatic(&self) -> bool {
        self.when
            .iter()
            .any(|w| matches!(w, When::FirstDeploy | When::ImageChanged))
    }

    /// How long it may run: its `timeout` (checked to be in range when devenv.yaml was read),
    /// else 10 minutes.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
            .as_deref()
            .and_then(crate::stack::parse_duration)
            .filter(|s| (MIN_TASK_TIMEOUT..=MAX_TASK_TIMEOUT).contains(s))
            .map(std::time::Duration::from_secs_f64)
            .unwrap_or(std::time::Duration::from_secs(600))
    }
}

/// The shortest and longest a task may be given to run (seconds).
pub const MIN_TASK_TIMEOUT: f64 = 1.0;
pub const MAX_TASK_TIMEOUT: f64 = 7.0 * 24.0 * 3600.0;

/// A readiness probe: a URL fetched (https with the profile's CA) until it answers.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// A template string, e.g. `https://{{ domain }}/`; `wss://` URLs check the WebSocket upgrade.
    pub url: String,
    /// Expected HTTP status (default: any 2xx or 3xx; 101 for wss).
    #[serde(default)]
    pub status: Option<u16>,
    /// Profiles this probe applies to (default: all).
    #[serde(default)]
    pub profiles: Vec<String>,
}

/// `profiles/NAME.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub docker: DockerSettings,
    /// The site's domain, e.g. `myblog.test` locally and `myblog.com` on the server.
    #[serde(deserialize_with = "name_string")]
    pub domain: String,
    /// Names this machine maps to loopback in its hosts file (local profiles).
    #[serde(default, deserialize_with = "name_strings")]
    pub hosts: Vec<String>,
    /// Also map the hosts to ::1.
    #[serde(default = "yes")]
    pub ipv6: bool,
    #[serde(default)]
    pub tls: Tls,
    #[serde(default)]
    pub registry: Option<Registry>,
    /// Replicas per service, available to templates as `replicas.NAME`.
    #[serde(default)]
    pub replicas: BTreeMap<String, u32>,
    /// Environment variables, available to templates as `env`.
    #[serde(default)]
    pub env: BTreeMap<String, Scalar>,
    /// Swarm secrets: name → where the value comes from. Values are never printed.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Rolling update policy applied to every service that does not set its own.
    #[serde(default)]
    pub update: Option<UpdatePolicy>,
    /// Template variables (deep-merged over devenv.yaml's `vars`).
    #[serde(default)]
    pub vars: Mapping,
    /// Compose override files merged over the stack for this profile, in order (compose's merge
    /// rules), e.g. `[docker-compose.prod.yml]`: the files `docker stack deploy -c … -c …` takes.
    #[serde(default)]
    pub overrides: Vec<PathBuf>,
    /// Per-service overrides merged over the stack (and the override files) like one more
    /// compose override file: `services: {web: {deploy: {replicas: 1}}}`.
    #[serde(default)]
    pub services: Mapping,
    /// Files (or directories) outside the project this profile means to read — a server's
    /// certificate under `/etc/letsencrypt`, say — as absolute paths. Nothing else outside the
    /// project is ever read, whatever the stack or a symlink names.
    #[serde(default)]
    pub read_outside: Vec<PathBuf>,
    /// The compose profiles this profile runs (`compose_profiles: [workers]`, or `"*"` for all):
    /// a service with `profiles:` runs only when one of them is here or in `COMPOSE_PROFILES`,
    /// as `docker compose --profile` decides.
    #[serde(default, deserialize_with = "name_strings")]
    pub compose_profiles: Vec<String>,
    /// HTTPS in front of a stack that terminates no TLS itself (local `tls: local-ca` profiles):
    /// `edge: false` turns it off, `edge: {image: …, routes: {NAME: SERVICE:PORT}}` sets it.
    #[serde(default)]
    pub edge: Edge,
    /// Which services get devenv's CA (local-CA profiles): `all` (the default), `none`, or a
    /// list of services.
    #[serde(default)]
    pub trust: Trust,
}

/// The local TLS edge's settings.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Edge {
    /// `false`: never add it.
    pub enabled: bool,
    /// The nginx image it runs.
    pub image: String,
    /// Name → `SERVICE:PORT`, over the inferred ones.
    pub routes: BTreeMap<String, String>,
}

/// The edge's image unless the profile names one: the official nginx image.
pub const EDGE_IMAGE: &str = "nginx:1.27-alpine";

impl Default for Edge {
    fn default() -> Edge {
        Edge {
            enabled: true,
            image: EDGE_IMAGE.into(),
            routes: BTreeMap::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Edge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Settings {
            #[serde(default)]
            image: Option<String>,
            #[serde(default)]
            routes: BTreeMap<String, String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            On(bool),
            Settings(Settings),
        }
        match Form::deserialize(d).map_err(|_| {
            de::Error::custom(
                "expected `false`, `true` or `{image: IMAGE, routes: {NAME: SERVICE:PORT}}`",
            )
        })? {
            Form::On(enabled) => Ok(Edge {
                enabled,
                ..Edge::default()
            }),
            Form::Settings(s) => Ok(Edge {
                enabled: true,
                image: s.image.unwrap_or_else(|| EDGE_IMAGE.into()),
                routes: s.routes,
            }),
        }
    }
}

/// The services that get devenv's CA.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub enum Trust {
    #[default]
    All,
    None,
    Services(Vec<String>),
}

impl Trust {
    pub fn includes(&self, service: &str) -> bool {
        match self {
            Trust::All => true,
            Trust::None => false,
            Trust::Services(v) => v.iter().any(|s| s == service),
        }
    }
}

impl<'de> Deserialize<'de> for Trust {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Word(String),
            On(bool),
            List(Vec<String>),
        }
        let bad =
            || de::Error::custom("expected `all`, `none` or a list of services (`[web, worker]`)");
        match Form::deserialize(d).map_err(|_| bad())? {
            Form::Word(w) if w == "all" => Ok(Trust::All),
            Form::Word(w) if w == "none" => Ok(Trust::None),
            Form::On(true) => Ok(Trust::All),
            Form::On(false) => Ok(Trust::None),
            Form::List(v) => Ok(Trust::Services(v)),
            Form::Word(_) => Err(bad()),
        }
    }
}

fn yes() -> bool {
    true
}

/// A host name as YAML gives it: a string only. serde would take `null`, `true` or `1.5e3` as the
/// names "null", "true" and "1.5e3"; here they are errors naming the value.
struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a host name (a string)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Err(E::custom("`null` (or an empty entry) is not a host name"))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Err(E::custom(format!(
            "`{v}` is a boolean, not a host name (quote it if it is a name)"
        )))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Err(E::custom(format!("`{v}` is a number, not a host name")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Err(E::custom(format!("`{v}` is a number, not a host name")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Err(E::custom(format!("`{v}` is a number, not a host name")))
    }
}

fn name_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(NameVisitor)
}

fn name_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Name(#[serde(deserialize_with = "name_string")] String);
    Ok(Vec::<Name>::deserialize(d)?
        .into_iter()
        .map(|n| n.0)
        .collect())
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DockerSettings {
    /// The docker context every docker call of this profile goes through.
    #[serde(default = "default_context")]
    pub context: String,
    /// The swarm cluster id this profile may deploy to.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// Initialise a single-node swarm when the engine is in none (local profiles).
    #[serde(default)]
    pub swarm: bool,
    /// How ports are published: `auto` (host mode + dnsrr when the kernel has no IPVS),
    /// `ingress` (routing mesh) or `host`.
    #[serde(default)]
    pub publish: Publish,
    /// Create the context from this endpoint when it does not exist (`ssh://user@host`, `tcp://…`).
    #[serde(default)]
    pub host: Option<String>,
    /// Stack name (default: the project name).
    #[serde(default)]
    pub stack: Option<String>,
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            context: default_context(),
            cluster_id: None,
            swarm: false,
            publish: Publish::Auto,
            host: None,
            stack: None,
        }
    }
}

fn default_context() -> String {
    "default".to_string()
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Publish {
    #[default]
    Auto,
    Ingress,
    Host,
}

/// Where TLS certificates come from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Tls {
    /// Leaf certificates minted by devenv's local CA (`devenv certs`).
    LocalCa,
    /// No TLS.
    #[default]
    None,
    /// Existing files (e.g. from Let's Encrypt), relative to the project root.
    Files(TlsFiles),
}

impl Tls {
    pub fn mode(&self) -> &'static str {
        match self {
            Tls::LocalCa => "local-ca",
            Tls::None => "none",
            Tls::Files(_) => "files",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl<'de> Deserialize<'de> for Tls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const VARIANTS: &[&str] = &["local-ca", "none", "files"];
        impl<'de> Visitor<'de> for V {
            type Value = Tls;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`local-ca`, `none` or `files: {cert: PATH, key: PATH}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tls, E> {
                match v {
                    "local-ca" => Ok(Tls::LocalCa),
                    "none" => Ok(Tls::None),
                    "files" => Err(E::custom(
                        "`files` needs the paths: `tls: {files: {cert: PATH, key: PATH}}`",
                    )),
                    other => Err(E::unknown_variant(other, VARIANTS)),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tls, E> {
                Ok(Tls::None)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tls, E> {
                if v {
                    Err(E::custom(
                        "`tls: true` is ambiguous: use `local-ca` or `files: {cert: PATH, key: PATH}`",
                    ))
                } else {
                    Ok(Tls::None)
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tls, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "empty `tls` mapping: expected `files: {cert: PATH, key: PATH}`",
                    ));
                };
                if key != "files" {
                    return Err(de::Error::unknown_field(&key, &["files"]));
                }
                let files: TlsFiles = map.next_value()?;
                if let Some(k) = map.next_key::<String>()? {
                    return Err(de::Error::unknown_field(&k, &["files"]));
                }
                Ok(Tls::Files(files))
            }
        }
        d.deserialize_any(V)
    }
}

/// A registry for the profile's images, e.g. `ccr.ccs.tencentyun.com/myblog`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Image name prefix: `PREFIX/IMAGE:TAG`.
    pub prefix: String,
}

/// Where a secret's value comes from: exactly one of `file`, `env` or `generate`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// A file, relative to the project root.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// An environment variable of the shell that runs devenv.
    #[serde(default)]
    pub env: Option<String>,
    /// A random value of N bytes (hex), generated once per machine and kept in `.devenv/secrets/`
    /// (for local profiles: nothing to set up, nothing committed).
    #[serde(default)]
    pub generate: Option<u16>,
}

/// `update_config` for the profile's services (`deploy.update_config` in compose terms).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpdatePolicy {
    #[serde(default)]
    pub parallelism: Option<u32>,
    #[serde(default)]
    pub delay: Option<String>,
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub failure_action: Option<String>,
    #[serde(default)]
    pub monitor: Option<String>,
    #[serde(default)]
    pub max_failure_ratio: Option<f64>,
}

impl Eq for Scalar {}

/// A YAML scalar taken as a string (`DEBUG: 1` and `DEBUG: "1"` mean the same).
#[derive(Debug, Clone, Serialize, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A loaded project: its root, `devenv.yaml` and the sources (for error locations).
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub file: ProjectFile,
    pub source: String,
}

/// A loaded profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub path: PathBuf,
    pub file: ProfileFile,
    pub source: String,
}

impl Profile {
    /// Whether this profile runs on this machine's own engine (`docker.swarm: true`): a
    /// single-node swarm devenv may initialise, hosts entries, a local CA, host-mode ports where
    /// the kernel lacks IPVS. Otherwise its target is a remote swarm (a server): never
    /// initialised by devenv, and changed only after a confirmation.
    pub fn on_this_machine(&self) -> bool {
        self.file.docker.swarm
    }

    pub fn stack_name(&self, project: &Project) -> String {
        self.file
            .docker
            .stack
            .clone()
            .unwrap_or_else(|| project.file.project.clone())
    }
    /// The profile's `hosts:`, validated and normalised (punycode, lowercase), without
    /// duplicates.
    pub fn host_names(&self) -> anyhow::Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for h in &self.file.hosts {
            let n = crate::name::host::normalize_name(h)
                .map_err(|e| self.error_at(h, format!("host name `{}`: {e}", h.escape_debug())))?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Whether the stack's ports are published in host mode (on the node running each task) rather
    /// than through swarm's ingress: as `docker.publish` says, and for `auto` where a local swarm's
    /// kernel has no IPVS (`ipvs`: the engine's, `None` when unknown).
    pub fn host_mode(&self, ipvs: Option<bool>) -> bool {
        match self.file.docker.publish {
            Publish::Host => true,
            Publish::Ingress => false,
            Publish::Auto => self.file.docker.swarm && ipvs == Some(false),
        }
    }

    /// Whether the hosts block maps the names to ::1 too: as `ipv6:` says, except where swarm's
    /// ingress publishes the ports on an engine whose kernel is known to have IPVS — the ingress
    /// serves IPv4 only there, while dockerd holds the IPv6 side and never answers on it (a
    /// browser that tries ::1 first would wait).
    pub fn maps_ipv6(&self, ipvs: Option<bool>) -> bool {
        self.file.ipv6 && (ipvs != Some(true) || self.host_mode(ipvs))
    }

    /// Where this profile's leaf certificate and key live in the project.
    pub fn leaf_paths(&self, root: &Path) -> (PathBuf, PathBuf) {
        leaf_paths(root, &self.name)
    }

    /// What this profile may read: the project, and what it lists under `read_outside:`.
    pub fn scope(&self, project: &Project) -> crate::contained::Scope {
        project.scope().with_outside(&self.file.read_outside)
    }

    /// A ConfigError pointing at the first occurrence of `needle` in this profile.
    pub fn error_at(&self, needle: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(&self.path, message).at_text(&self.source, needle)
    }
}

impl Project {
    /// Finds the project: `dir` (from -C) or the current directory, then its parents.
    pub fn discover(dir: Option<&Path>) -> anyhow::Result<Project> {
        let start = match dir {
            Some(d) => {
                if !d.is_dir() {
                    return Err(
                        UserError::usage(format!("-C {}: no such directory", d.display())).into(),
                    );
                }
                crate::contained::canonicalize(d)?
            }
            None => std::env::current_dir()?,
        };
        let mut cur = Some(start.as_path());
        while let Some(d) = cur {
            if d.join(PROJECT_FILE).is_file() {
                return Project::load(d);
            }
            cur = d.parent();
        }
        // a directory with a compose file: the one command that adopts it
        let compose = COMPOSE_FILES.iter().find(|f| start.join(f).is_file());
        let hint = match compose {
            Some(f) => {
                format!("`devenv init --from {f}` adopts the stack here as it is (or pass -C DIR)")
            }
            None => "run `devenv init` to scaffold a project here, or pass -C DIR".into(),
        };
        Err(UserError::usage(format!(
            "no {PROJECT_FILE} in {} or any parent directory",
            start.display()
        ))
        .hint(hint)
        .into())
    }

    /// Loads `devenv.yaml` from `root`.
    pub fn load(root: &Path) -> anyhow::Result<Project> {
        let source = read_source(root, &root.join(PROJECT_FILE))?;
        Project::from_source(root, source)
    }

    /// The project in `root` whose `devenv.yaml` would be `source` (what `init` checks before it
    /// writes the file).
    pub fn from_source(root: &Path, source: String) -> anyhow::Result<Project> {
        let path = root.join(PROJECT_FILE);
        let file: ProjectFile = parse_yaml(&path, &source)?;
        let p = Project {
            root: root.to_path_buf(),
            file,
            source,
        };
        p.validate()?;
        Ok(p)
    }

    fn path(&self) -> PathBuf {
        self.root.join(PROJECT_FILE)
    }

    /// The project's files, as the contained reader reaches them.
    pub fn scope(&self) -> crate::contained::Scope {
        crate::contained::Scope::project(&self.root)
    }

    fn err_at(&self, needle: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.path(), message).at_text(&self.source, needle)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let name = &self.file.project;
        if !valid_project_name(name) {
            return Err(self
                .err_at(&format!("project: {name}"), format!("invalid project name `{name}`"))
                .hint("use lowercase letters, digits, `-` and `_`, starting with a letter or digit (it names the swarm stack)"));
        }
        for k in self.file.configs.keys() {
            if let Err(e) = crate::name::Name::new(crate::name::Kind::Object, k) {
                return Err(self
                    .err_at(k, format!("configs: {e}"))
                    .hint("a config's name becomes a file and a swarm object name"));
            }
        }
        for (name, t) in &self.file.tasks {
            if let Err(e) = crate::name::Name::new(crate::name::Kind::Task, name) {
                return Err(self
                    .err_at(name, format!("tasks: {e}"))
                    .hint("a task's name is what `devenv run NAME` takes"));
            }
            if t.command.argv().is_empty()
                || matches!(&t.command, Command::Shell(s) if s.trim().is_empty())
            {
                return Err(self.err_at(
                    &format!("{name}:"),
                    format!("task `{name}` has an empty command"),
                ));
            }
            if let Some(to) = &t.timeout {
                match crate::stack::parse_duration(to) {
                    None => {
                        return Err(self
                            .err_at(
                                to,
                                format!("task `{name}`: timeout `{to}` is not a duration"),
                            )
                            .hint("e.g. `90s`, `10m`, `1h30m`"));
                    }
                    Some(secs) if !(MIN_TASK_TIMEOUT..=MAX_TASK_TIMEOUT).contains(&secs) => {
                        return Err(self
                            .err_at(
                                to,
                                format!(
                                    "task `{name}`: timeout `{to}` is out of range (1s to {}h)",
                                    MAX_TASK_TIMEOUT / 3600.0
                                ),
                            )
                            .hint("e.g. `90s`, `10m`, `1h30m`"));
                    }
                    Some(_) => {}
                }
            }
            if t.when.is_empty() {
                continue;
            }
            if t.when.contains(&When::Manual) && t.automatic() {
                return Err(self
                    .err_at(
                        &format!("{name}:"),
                        format!("task `{name}` is `manual` and also runs by itself"),
                    )
                    .hint("use `when: manual` alone, or `first-deploy` / `image-changed`"));
            }
        }
        let paths = std::iter::once(&self.file.stack).chain(self.file.configs.values());
        for p in paths {
            let s = p.to_string_lossy();
            if let Some(why) = outside_project(&s) {
                return Err(self
                    .err_at(&s, format!("`{s}` {why}"))
                    .hint("templates are files inside the project, named relative to its root"));
            }
        }
        Ok(())
    }

    /// The stack name a profile deploys (the project name unless the profile sets `docker.stack`).
    pub fn name(&self) -> &str {
        &self.file.project
    }

    pub fn profiles_dir(&self) -> PathBuf {
        self.root.join(PROFILES_DIR)
    }

    /// Names of the profiles in `profiles/`, sorted.
    pub fn profile_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .scope()
            .list(Path::new(PROFILES_DIR))
            .map(|entries| {
                entries
                    .into_iter()
                    .filter(|e| e.kind != crate::contained::EntryKind::Dir)
                    .filter_map(|e| {
                        let p = e.path;
                        let ext = p.extension()?.to_str()?;
                        if ext == "yaml" || ext == "yml" {
                            Some(p.file_stem()?.to_str()?.to_string())
                        } else {
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.dedup();
        v
    }

    /// Loads `profiles/NAME.yaml` (or `.yml`).
    pub fn profile(&self, name: &str) -> anyhow::Result<Profile> {
        let dir = self.profiles_dir();
        let path = ["yaml", "yml"]
            .iter()
            .map(|e| dir.join(format!("{name}.{e}")))
            .find(|p| p.is_file());
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let Some(path) = path.filter(|_| valid) else {
            let names = self.profile_names();
            let mut e = UserError::usage(format!(
                "unknown profile `{name}`; the profiles are: {}",
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            ));
            e = match did_you_mean(name, names.iter().map(String::as_str)) {
                Some(s) => e.hint(format!("did you mean `{s}`?")),
                None => e.hint(format!(
                    "create {}/{name}.yaml to add it",
                    display_path(&dir)
                )),
            };
            return Err(e.into());
        };
        let source = read_source(&self.root, &path)?;
        self.profile_from_source(name, path, source)
    }

    /// Profile `name` as the file `path` holding `source` would be.
    pub fn profile_from_source(
        &self,
        name: &str,
        path: PathBuf,
        source: String,
    ) -> anyhow::Result<Profile> {
        let file: ProfileFile = parse_yaml(&path, &source)?;
        let p = Profile {
            name: name.to_string(),
            path,
            file,
            source,
        };
        validate_profile(&p)?;
        Ok(p)
    }
}

fn validate_profile(p: &Profile) -> Result<(), ConfigError> {
    let f = &p.file;
    if let Err(e) = crate::name::host::normalize_name(&f.domain) {
        return Err(p
            .error_at(&f.domain, format!("domain `{}`: {e}", f.domain))
            .hint("a domain is letters, digits and `-` in dot-separated labels"));
    }
    for h in &f.hosts {
        if let Err(e) = crate::name::host::normalize_name(h) {
            return Err(p.error_at(h, format!("host name `{}`: {e}", h.escape_debug())));
        }
    }
    if f.docker.context.trim().is_empty() {
        return Err(p.error_at("context", "docker.context is empty"));
    }
    // the edge's names go into its nginx configuration, its image into the stack
    for (name, route) in &f.edge.routes {
        if let Err(e) = crate::name::host::normalize_name(name) {
            return Err(p.error_at(
                name,
                format!("edge.routes: host name `{}`: {e}", name.escape_debug()),
            ));
        }
        if route.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(p
                .error_at(
                    route,
                    format!(
                        "edge.routes.{name}: `{}` is not SERVICE:PORT",
                        route.escape_debug()
                    ),
                )
                .hint("e.g. `routes: {api.myblog.test: api:8080}`"));
        }
    }
    if f.edge.image.is_empty()
        || f.edge
            .image
            .contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return Err(p.error_at(
            "image",
            format!(
                "edge.image `{}` is not an image reference",
                f.edge.image.escape_debug()
            ),
        ));
    }
    for (name, s) in &f.secrets {
        if let Err(e) = crate::name::Name::new(crate::name::Kind::Object, name) {
            return Err(p
                .error_at(name, format!("secrets: {e}"))
                .hint("a secret's name becomes a file under .devenv/ and a swarm object name"));
        }
        let n = usize::from(s.file.is_some())
            + usize::from(s.env.is_some())
            + usize::from(s.generate.is_some());
        if n != 1 {
            return Err(p
                .error_at(
                    &format!("{name}:"),
                    format!("secret `{name}` needs exactly one of `file`, `env` or `generate`"),
                )
                .hint(format!(
                    "e.g. `{name}: {{env: {}}}` or `{name}: {{generate: 32}}`",
                    name.to_uppercase()
                )));
        }
        if let Some(g) = s.generate
            && !(16..=1024).contains(&g)
        {
            return Err(p
                .error_at(
                    &format!("generate: {g}"),
                    format!("secret `{name}`: generate {g} bytes is out of range"),
                )
                .hint("use 16 to 1024 bytes (32 is plenty)"));
        }
    }
    if let Some(r) = &f.registry
        && (r.prefix.is_empty()
            || r.prefix.contains(char::is_whitespace)
            || r.prefix.ends_with('/'))
    {
        return Err(p
            .error_at("prefix", format!("invalid registry prefix `{}`", r.prefix))
            .hint("e.g. `ccr.ccs.tencentyun.com/NAME`, without a trailing `/`"));
    }
    if let Some(h) = &f.docker.host
        && !(h.starts_with("ssh://")
            || h.starts_with("tcp://")
            || h.starts_with("unix://")
            || h.starts_with("npipe://"))
    {
        return Err(p
            .error_at(h, format!("docker.host `{h}` is not a docker endpoint"))
            .hint(
                "use ssh://user@server, tcp://host:2376, unix:///path or npipe:////./pipe/name",
            ));
    }
    for o in &f.read_outside {
        let s = o.to_string_lossy();
        if !o.is_absolute() {
            return Err(p
                .error_at(&s, format!("read_outside: `{s}` is not an absolute path"))
                .hint("list files outside the project by their absolute path; files inside it need no listing"));
        }
    }
    for o in &f.overrides {
        let s = o.to_string_lossy();
        if let Some(why) = outside_project(&s) {
            return Err(p.error_at(&s, format!("overrides: `{s}` {why}")).hint(
                "override files are compose files inside the project, named relative to its root",
            ));
        }
    }
    for (k, v) in &f.services {
        let Some(name) = k.as_str() else {
            return Err(p.error_at("services:", "services: a service name must be a string"));
        };
        if !(v.is_mapping() || v.is_null() || matches!(v, Value::Tagged(_))) {
            return Err(p
                .error_at(
                    &format!("{name}:"),
                    format!("services.{name} must be a mapping (what to change in the service)"),
                )
                .hint(format!(
                    "e.g. `services: {{{name}: {{deploy: {{replicas: 1}}}}}}`"
                )));
        }
    }
    if let Some(u) = &f.update
        && let Some(o) = &u.order
        && o != "start-first"
        && o != "stop-first"
    {
        return Err(p.error_at(
            o,
            format!("update.order `{o}` is not `start-first` or `stop-first`"),
        ));
    }
    Ok(())
}

/// Why a path named in a project file would leave the project, if it would.
pub fn outside_project(s: &str) -> Option<&'static str> {
    let p = Path::new(s);
    if p.has_root() || p.is_absolute() || s.starts_with('\\') || s.as_bytes().get(1) == Some(&b':')
    {
        return Some("is an absolute path");
    }
    let mut depth = 0i32;
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Some("leads out of the project (`..`)");
        }
    }
    None
}

pub fn valid_project_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_lowercase() || ch.is_ascii_digit())
        && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
        && s.len() <= 40
}

/// The largest devenv.yaml or profile devenv reads.
pub const MAX_SOURCE_BYTES: u64 = 1 << 20;

/// Reads a project file (`devenv.yaml`, a profile) through the project's scope, as UTF-8, with
/// errors that name it.
pub fn read_source(root: &Path, path: &Path) -> anyhow::Result<String> {
    let scope = crate::contained::Scope::project(root);
    let bytes = scope.read(path, MAX_SOURCE_BYTES).map_err(|e| {
        let what = match &e {
            crate::contained::ReadError::NotFound { .. } => "file not found".to_string(),
            crate::contained::ReadError::Io { error, .. } => error.clone(),
            e => e.to_string(),
        };
        ConfigError::new(path, format!("cannot read: {what}")).hint(e.hint())
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let (l, c) = crate::error::line_col(
            &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
            e.utf8_error().valid_up_to(),
        );
        let src = String::from_utf8_lossy(e.as_bytes()).into_owned();
        ConfigError::new(path, "the file is not valid UTF-8")
            .at(&src, l, c)
            .hint("save it as UTF-8")
            .into()
    })
}

/// Parses YAML into `T`, turning serde's errors into ConfigErrors with position, snippet and hint.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    path: &Path,
    source: &str,
) -> Result<T, ConfigError> {
    if source.trim().is_empty() {
        return Err(ConfigError::new(path, "the file is empty"));
    }
    crate::yaml::parse_as::<T>(source).map_err(|e| match e {
        crate::yaml::Error::Limit(l) => crate::yaml::limit_error(path, source, &l),
        crate::yaml::Error::Yaml(e) => yaml_error(path, source, &e),
    })
}

fn yaml_error(path: &Path, source: &str, e: &serde_yaml_ng::Error) -> ConfigError {
    let raw = e.to_string();
    // serde_yaml_ng appends " at line L column C"; we show the position our own way.
    let msg = match raw.rfind(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw.clone(),
    };
    let (mut line, mut col) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let (prefix, body) = split_path_prefix(&msg);
    let mut hint = None;
    let message;
    if let Some(rest) = body.strip_prefix("unknown field `") {
        let (field, expected) = split_backticked(rest);
        let candidates = backticked_list(expected);
        message = format!("{prefix}unknown key `{field}`");
        hint = Some(
            match did_you_mean(&field, candidates.iter().map(String::as_str)) {
                Some(s) => format!(
                    "did you mean `{s}`? (valid keys here: {})",
                    candidates.join(", ")
                ),
                None => format!("valid keys here: {}", candidates.join(", ")),
            },
        );
    } else if let Some(rest) = body.strip_prefix("unknown variant `") {
        let (v, expected) = split_backticked(rest);
        let candidates = backticked_list(expected);
        message = format!("{prefix}unknown value `{v}`");
        hint = Some(
            match did_you_mean(&v, candidates.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`? (one of: {})", candidates.join(", ")),
                None => format!("expected one of: {}", candidates.join(", ")),
            },
        );
    } else if let Some(rest) = body.strip_prefix("duplicate field `") {
        let (field, _) = split_backticked(rest);
        message = format!("{prefix}key `{field}` appears twice");
        hint = Some("remove one of them".to_string());
        if let Some((l, c)) = nth_key_position(source, &field, 2) {
            (line, col) = (l, c);
        }
    } else if let Some(rest) = body.strip_prefix("missing field `") {
        let (field, _) = split_backticked(rest);
        message = format!("{prefix}missing required key `{field}`");
    } else if body.starts_with("invalid type:") || body.starts_with("invalid value:") {
        message = format!(
            "{prefix}{}",
            body.replacen("invalid type: ", "wrong type: found ", 1)
        );
    } else if body.contains("tab character")
        || (body.contains("cannot start any token") && source_line(source, line).starts_with('\t'))
    {
        message = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        hint = Some("YAML does not allow tabs for indentation: indent with spaces".to_string());
    } else if body.contains("repetition limit exceeded")
        || body.contains("recursion limit exceeded")
    {
        message = format!("{prefix}{body}: the aliases (`*name`) expand to too much data");
        hint = Some("devenv refuses YAML whose anchors and aliases multiply (a \"billion laughs\" file); expand it by hand".to_string());
        if line == 0
            && let Some((l, c)) = first_alias(source)
        {
            (line, col) = (l, c);
        }
    } else {
        message = msg.clone();
    }
    let mut ce = ConfigError::new(path, message);
    if line > 0 {
        ce = ce.at(source, line, col);
    }
    if let Some(h) = hint {
        ce = ce.hint(h);
    }
    ce
}

fn source_line(source: &str, line: usize) -> &str {
    source.lines().nth(line.saturating_sub(1)).unwrap_or("")
}

/// Position of the first alias (`*name`) outside quotes and comments.
fn first_alias(source: &str) -> Option<(usize, usize)> {
    for (i, l) in source.lines().enumerate() {
        let code = l.split(" #").next().unwrap_or(l);
        let mut quote = None;
        for (j, ch) in code.char_indices() {
            match (quote, ch) {
                (None, '"' | '\'') => quote = Some(ch),
                (Some(q), c) if c == q => quote = None,
                (None, '*')
                    if code[j + 1..].starts_with(|c: char| c.is_alphanumeric() || c == '_') =>
                {
                    return Some((i + 1, code[..j].chars().count() + 1));
                }
                _ => {}
            }
        }
    }
    None
}

/// Splits "a.b: message" into ("a.b: ", "message") when the message starts with a key path.
fn split_path_prefix(msg: &str) -> (String, String) {
    if let Some(i) = msg.find(": ") {
        let head = &msg[..i];
        if !head.is_empty()
            && !head.contains(' ')
            && head
                .chars()
                .all(|c| c.is_alphanumeric() || "._-[]".contains(c))
        {
            return (format!("{head}: "), msg[i + 2..].to_string());
        }
    }
    (String::new(), msg.to_string())
}

/// "name`, expected ..." → ("name", ", expected ...").
fn split_backticked(rest: &str) -> (String, &str) {
    match rest.find('`') {
        Some(i) => (rest[..i].to_string(), &rest[i + 1..]),
        None => (rest.to_string(), ""),
    }
}

/// All `...` items in a string.
fn backticked_list(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, t)| t.to_string())
        .collect()
}

/// Position of the n-th (1-based) `key:` that starts a line (after indentation or `- `).
fn nth_key_position(source: &str, key: &str, n: usize) -> Option<(usize, usize)> {
    let mut seen = 0;
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let trimmed = line.trim_start_matches([' ', '\t', '-']);
        let indent = line.len() - trimmed.len();
        let trimmed = trimmed.trim_start();
        let indent = indent + (line.len() - indent - trimmed.len());
        let unquoted = trimmed.trim_start_matches(['"', '\'']);
        if unquoted.starts_with(key)
            && unquoted[key.len()..]
                .trim_start_matches(['"', '\''])
                .starts_with(':')
        {
            seen += 1;
            if seen == n {
                return locate(source, trimmed, offset + indent);
            }
        }
        offset += line.len();
    }
    None
}

/// Deep-merges `over` into `base` (mappings merge recursively, anything else replaces).
pub fn merge_vars(base: &mut Mapping, over: &Mapping) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => merge_vars(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_mapped_only_where_something_answers_there() {
        let p = |yaml: &str| Profile {
            name: "local".into(),
            path: "profiles/local.yaml".into(),
            file: parse_profile(yaml).unwrap(),
            source: yaml.into(),
        };
        let local = p("domain: a.test\ndocker: {swarm: true}\n");
        // no IPVS: host-mode ports answer on ::1 too
        assert!(local.host_mode(Some(false)) && local.maps_ipv6(Some(false)));
        // IPVS on this engine's kernel: ingress, IPv4 only
        assert!(!local.host_mode(Some(true)) && !local.maps_ipv6(Some(true)));
        // an engine elsewhere (Docker Desktop's VM forwards both): as asked
        assert!(local.maps_ipv6(None));
        // host mode asked for: ::1 even with IPVS; ipv6: false is kept
        let host = p("domain: a.test\ndocker: {swarm: true, publish: host}\n");
        assert!(host.maps_ipv6(Some(true)));
        let off = p("domain: a.test\nipv6: false\ndocker: {swarm: true}\n");
        assert!(!off.maps_ipv6(Some(false)));
    }

    fn parse_profile(src: &str) -> Result<ProfileFile, ConfigError> {
        parse_yaml(Path::new("profiles/local.yaml"), src)
    }

    #[test]
    fn unknown_key_gets_suggestion_and_position() {
        let e = parse_profile("domain: a.test\ndomian: b\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.message, "unknown key `domian`");
        assert!(e.hint.unwrap().starts_with("did you mean `domain`?"));
    }

    #[test]
    fn nested_unknown_key_names_path() {
        let e = parse_profile("domain: a.test\ndocker:\n  contxt: x\n").unwrap_err();
        assert_eq!(e.message, "docker: unknown key `contxt`");
        assert_eq!(e.line, 3);
        assert!(e.hint.unwrap().contains("`context`"));
    }

    #[test]
    fn wrong_type_names_value() {
        let e = parse_profile("domain: a.test\nreplicas:\n  web: three\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("replicas.web"), "{}", e.message);
        assert!(e.message.contains("\"three\""), "{}", e.message);
    }

    #[test]
    fn tls_forms() {
        let p = parse_profile("domain: a.test\ntls: local-ca\n").unwrap();
        assert_eq!(p.tls, Tls::LocalCa);
        let p =
            parse_profile("domain: a.test\ntls:\n  files: {cert: c.pem, key: k.pem}\n").unwrap();
        assert_eq!(
            p.tls,
            Tls::Files(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        let e = parse_profile("domain: a.test\ntls: local-cb\n").unwrap_err();
        assert!(e.hint.unwrap().contains("did you mean `local-ca`"));
        let e = parse_profile("domain: a.test\ntls:\n  files: {cert: c.pem}\n").unwrap_err();
        assert!(
            e.message.contains("missing required key `key`"),
            "{}",
            e.message
        );
        let e = parse_profile("domain: a.test\ntls:\n  filez: {}\n").unwrap_err();
        assert!(e.message.contains("unknown key `filez`"), "{}", e.message);
    }

    #[test]
    fn duplicate_key_points_at_second() {
        let e = parse_profile("domain: a.test\nipv6: true\ndomain: b.test\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 1), "{e}");
    }

    #[test]
    fn env_values_are_scalars() {
        let p = parse_profile("domain: a.test\nenv:\n  DEBUG: 1\n  NAME: x\n  ON: true\n").unwrap();
        assert_eq!(p.env["DEBUG"], Scalar("1".into()));
        assert_eq!(p.env["ON"], Scalar("true".into()));
    }

    #[test]
    fn merge_is_deep() {
        let mut a: Mapping = serde_yaml_ng::from_str("x: {a: 1, b: 2}\ny: 1").unwrap();
        let b: Mapping = serde_yaml_ng::from_str("x: {b: 3}\nz: 2").unwrap();
        merge_vars(&mut a, &b);
        let want: Mapping = serde_yaml_ng::from_str("x: {a: 1, b: 3}\ny: 1\nz: 2").unwrap();
        assert_eq!(a, want);
    }

    #[test]
    fn project_names() {
        assert!(valid_project_name("myblog"));
        assert!(valid_project_name("my-blog_2"));
        assert!(!valid_project_name("MyBlog"));
        assert!(!valid_project_name("-x"));
        assert!(!valid_project_name(""));
    }
}

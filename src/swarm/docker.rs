//! The docker CLI, always through the profile's context (`docker --context C ...`), with JSON
//! output parsed and errors turned into advice.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::UserError;
use crate::platform::Os;
use crate::sys::{Cmd, Output, Sys};

/// The `--format` that makes docker print JSON. `json` itself is understood only by CLIs from
/// 23.0 on; this template means the same to every CLI since 1.13, including Debian 12's 20.10.
pub const JSON: &str = "{{json .}}";

/// One docker CLI bound to a context. It only reads; what changes something goes through the
/// executor ([`crate::ops::exec::Executor::docker`]).
pub struct Docker<'a> {
    pub sys: &'a dyn Sys,
    /// The profile's context (named in messages; every call goes through it).
    pub context: String,
    pub program: String,
    /// Set while the context does not exist yet (before devenv creates it from the profile's
    /// `docker.host`): calls go to this endpoint directly (`-H`), so the target can be checked
    /// before anything is created.
    pub host: Option<String>,
    /// The profile's `docker.host`, if it has one (named in advice: `devenv up` creates the
    /// context from it).
    pub declared_host: Option<String>,
    /// Extra environment of every call (the run's shared SSH connection).
    pub env: Vec<(String, Option<String>)>,
}

/// A docker call that failed, with its output.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{command}` failed: {stderr}")]
pub struct DockerError {
    pub command: String,
    pub status: i32,
    pub stderr: String,
}

impl<'a> Docker<'a> {
    /// Finds `docker`, and refuses a `DOCKER_HOST` that would send calls elsewhere than the context.
    pub fn new(sys: &'a dyn Sys, context: &str) -> anyhow::Result<Docker<'a>> {
        if let Some(h) = sys.var("DOCKER_HOST").filter(|h| !h.is_empty()) {
            return Err(UserError::usage(format!(
                "DOCKER_HOST is set ({h}); devenv deploys a profile only through its own docker context (`{context}`), \
                 and DOCKER_HOST would silently point docker somewhere else"
            ))
            .hint(format!(
                "unset DOCKER_HOST (`unset DOCKER_HOST`, PowerShell: `Remove-Item Env:DOCKER_HOST`); to use that endpoint, \
                 create a context for it (`docker context create NAME --docker host={h}`) and name it in the profile's docker.context"
            ))
            .into());
        }
        let Some(program) = sys.which("docker") else {
            return Err(UserError::new("the docker CLI is not installed (no `docker` on PATH)")
                .hint(match sys.platform().os {
                    Os::Windows | Os::MacOs => "install Docker Desktop: https://docs.docker.com/desktop/",
                    Os::Linux => "install Docker Engine (e.g. `apt-get install docker.io` or https://docs.docker.com/engine/install/)",
                })
                .into());
        };
        Ok(Docker {
            sys,
            context: context.to_string(),
            program: program.to_string_lossy().into_owned(),
            host: None,
            declared_host: None,
            env: Vec::new(),
        })
    }

    /// Every call of this CLI shares the run's SSH connection.
    pub fn sharing(mut self, shared: Option<&super::ssh::Shared>) -> Docker<'a> {
        if let Some(s) = shared {
            let path = self.sys.var("PATH").map(std::ffi::OsString::from);
            self.env = s.env(path.as_deref());
        }
        self
    }

    /// The same CLI, knowing the profile's `docker.host` (for advice).
    pub fn declaring_host(mut self, host: Option<&str>) -> Docker<'a> {
        self.declared_host = host.map(String::from);
        self
    }

    /// A failed call as an error that says what to do about it.
    pub fn explain(&self, e: DockerError) -> anyhow::Error {
        let host = self.declared_host.as_deref().or(self.host.as_deref());
        let over_ssh = e
            .stderr
            .contains("http://docker.example.com")
            .then(|| host.and_then(super::ssh::Endpoint::parse))
            .flatten();
        let err = explain_with(self.sys.platform().os, &self.context, host, e);
        // the login worked and the remote docker did not answer: ask it why, over the same
        // connection, for the one fix that applies
        if let Some(ep) = over_ssh
            && let Some(advice) = self.remote_docker_diagnosis(&ep)
            && let Some(u) = err.downcast_ref::<UserError>()
        {
            return u.clone().hint(advice).into();
        }
        err
    }

    /// What the remote docker CLI says when run over SSH, as the fix it calls for.
    fn remote_docker_diagnosis(&self, ep: &super::ssh::Endpoint) -> Option<String> {
        let mut c = Cmd::new("ssh").args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T"]);
        c = c
            .args(ep.args())
            .args(["docker", "version", "--format", "'{{.Server.Version}}'"]);
        c.env.extend(self.env.iter().cloned());
        let o = self.sys.run(&c).ok()?;
        if o.ok() {
            return None;
        }
        remote_docker_advice(ep, &format!("{}\n{}", o.stdout_str(), o.stderr_str()))
    }

    /// The same CLI, reaching `host` directly until the context exists.
    pub fn through_host(mut self, host: &str) -> Docker<'a> {
        self.host = Some(host.to_string());
        self
    }

    pub fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let target = match &self.host {
            Some(h) => ["-H".to_string(), h.clone()],
            None => ["--context".to_string(), self.context.clone()],
        };
        let mut c = Cmd::new(self.program.clone())
            .args(target)
            .args(args)
            // the context flag decides; a DOCKER_CONTEXT in the environment must not
            .env_remove("DOCKER_CONTEXT");
        c.env.extend(self.env.iter().cloned());
        c
    }

    /// Runs a read-only call; a failure becomes an error with advice.
    pub fn query<I, S>(&self, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exec(self.cmd(args))
    }

    fn exec(&self, c: Cmd) -> anyhow::Result<Output> {
        let o = self
            .sys
            .run(&c)
            .map_err(|e| anyhow::anyhow!("cannot run docker ({}): {e}", self.program))?;
        if o.ok() {
            return Ok(o);
        }
        Err(self.explain(DockerError {
            command: display_docker(&c),
            status: o.status,
            stderr: o.stderr_str(),
        }))
    }

    /// A read-only call's raw result, success or not (for calls whose failure is an answer).
    pub fn try_query<I, S>(&self, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let c = self.cmd(args);
        self.sys
            .run(&c)
            .map_err(|e| anyhow::anyhow!("cannot run docker ({}): {e}", self.program))
    }

    /// A call whose stdout is one JSON document.
    pub fn json<T: DeserializeOwned>(
        &self,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> anyhow::Result<T> {
        let o = self.query(args)?;
        serde_json::from_slice(&o.stdout)
            .map_err(|e| anyhow::anyhow!("unexpected output from docker: {e}"))
    }

    /// A call whose stdout is one JSON object per line (`--format JSON` of list commands).
    pub fn json_lines<T: DeserializeOwned>(
        &self,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> anyhow::Result<Vec<T>> {
        let o = self.query(args)?;
        parse_lines(&o.stdout)
    }

    pub fn info(&self) -> anyhow::Result<Info> {
        self.json(["info", "--format", JSON])
    }

    pub fn version(&self) -> anyhow::Result<Version> {
        self.json(["version", "--format", JSON])
    }
}

pub fn parse_lines<T: DeserializeOwned>(out: &[u8]) -> anyhow::Result<Vec<T>> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| anyhow::anyhow!("unexpected output from docker: {e}: {l}"))
        })
        .collect()
}

/// `docker ...` without the program's full path.
pub fn display_docker(c: &Cmd) -> String {
    let mut c = c.clone();
    c.program = "docker".into();
    c.display()
}

/// What `docker version` run over SSH on the server printed, as the fix: the user not in the
/// docker group, docker not installed, its engine not running.
pub fn remote_docker_advice(ep: &super::ssh::Endpoint, out: &str) -> Option<String> {
    let lower = out.to_ascii_lowercase();
    let host = &ep.host;
    let user = ep.user.as_deref().unwrap_or("USER");
    let target = match &ep.user {
        Some(u) => format!("{u}@{host}"),
        None => host.clone(),
    };
    if lower.contains("permission denied") && lower.contains("docker") {
        Some(format!(
            "{target} may not use docker on {host}: add the user to the docker group there (`sudo usermod -aG docker {user}`, then log in again)"
        ))
    } else if lower.contains("not found") && lower.contains("docker") {
        Some(format!(
            "docker is not installed on {host} (or not on the PATH of {target}'s non-interactive shell): install Docker Engine there"
        ))
    } else if lower.contains("cannot connect to the docker daemon") {
        Some(format!(
            "docker is installed on {host} but its engine does not run: start it there (`sudo systemctl start docker`)"
        ))
    } else {
        None
    }
}

/// Turns docker's error messages into what to do about them, with the advice for `os`.
pub fn explain_on(os: Os, context: &str, e: DockerError) -> anyhow::Error {
    explain_with(os, context, None, e)
}

/// What ssh said (`… stderr=ssh: connect to host …`) when docker reached an engine over SSH and
/// the connection failed, turned into what to do; `None` when it is not an SSH failure.
pub fn ssh_advice(stderr: &str) -> Option<String> {
    let lower = stderr.to_ascii_lowercase();
    if !lower.contains("ssh") || !(lower.contains("dial-stdio") || lower.contains("ssh:")) {
        return None;
    }
    // docker quotes the command: `command [ssh -o ConnectTimeout=30 -T -l USER -p PORT -- HOST docker system dial-stdio]`
    let words: Vec<&str> = stderr
        .split_once("command [ssh")
        .map(|(_, rest)| rest.split(']').next().unwrap_or_default())
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let after = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .and_then(|i| words.get(i + 1).copied())
    };
    let host = after("--").unwrap_or("the server");
    let port = after("-p")
        .map(|p| format!(" port {p}"))
        .unwrap_or_default();
    let user = after("-l").map(|u| format!("{u}@")).unwrap_or_default();
    let target = format!("{user}{host}");
    let login = user.trim_end_matches('@').to_string();
    // the command that makes the same connection by hand
    let ssh = match after("-p") {
        Some(p) => format!("ssh -p {p} {target}"),
        None => format!("ssh {target}"),
    };
    Some(
        if lower.contains("host key verification failed")
            || lower.contains("no ed25519 host key is known")
            || lower.contains("host key for")
        {
            format!(
                "ssh does not know the host key of {host}: connect once with `{ssh}` and accept it after checking its fingerprint (it is then in ~/.ssh/known_hosts); devenv never accepts a host key for you"
            )
        } else if lower.contains("permission denied (publickey")
            || lower.contains("permission denied, please try again")
            || lower.contains("too many authentication failures")
        {
            format!(
                "{host} refused the login{}: install your public key there (`ssh-copy-id {target}`) or load the key into your agent (`ssh-add`); `{ssh}` must work without a password",
                if login.is_empty() {
                    String::new()
                } else {
                    format!(" of {login}")
                }
            )
        } else if lower.contains("connection refused") {
            format!(
                "nothing accepts SSH connections on {host}{port}: check the host and port in docker.host, and that sshd runs there"
            )
        } else if lower.contains("could not resolve hostname")
            || lower.contains("name or service not known")
        {
            format!(
                "{host} does not resolve: check the host name in docker.host (and your DNS or ~/.ssh/config)"
            )
        } else if lower.contains("timed out")
            || lower.contains("no route to host")
            || lower.contains("network is unreachable")
        {
            format!(
                "{host}{port} does not answer: check the address in docker.host, your network, VPN and firewall"
            )
        } else if lower.contains("docker: command not found")
            || lower.contains("docker: not found")
            || (lower.contains("command not found") && lower.contains("docker"))
        {
            format!(
                "docker is not installed on {host} (or not on the PATH of {target}'s non-interactive shell): install Docker Engine there"
            )
        } else if lower.contains("permission denied") && lower.contains("docker.sock") {
            format!(
                "{target} may not use docker on {host}: add the user to the docker group there (`sudo usermod -aG docker {}`, then log in again)",
                if login.is_empty() {
                    "USER"
                } else {
                    login.as_str()
                }
            )
        } else {
            format!("the SSH connection to {target}{port} failed: `{ssh}` shows why")
        },
    )
}

/// [`explain_on`], knowing the profile's `docker.host` when it has one.
pub fn explain_with(
    os: Os,
    context: &str,
    declared_host: Option<&str>,
    e: DockerError,
) -> anyhow::Error {
    let s = e.stderr.to_ascii_lowercase();
    let hint = if let Some(h) = ssh_advice(&e.stderr) {
        Some(h)
    } else if s.contains("context") && (s.contains("not found") || s.contains("does not exist")) {
        Some(match declared_host {
            Some(h) => format!(
                "the context does not exist yet: `devenv up` creates it from the profile's docker.host ({h})"
            ),
            None => format!(
                "create it: `docker context create {context} --docker host=ssh://USER@SERVER`, or set docker.host in the profile and devenv creates it"
            ),
        })
    } else if s.contains("http://docker.example.com") {
        // docker over SSH: the connection worked, the remote `docker system dial-stdio` did not
        let at = declared_host.unwrap_or(context);
        Some(format!(
            "the SSH login to {at} works, but docker there does not answer for that user: add the user to the docker group on the server (`sudo usermod -aG docker USER`, then log in again), check that docker is installed and running there (`ssh … docker version` shows which)"
        ))
    } else if s.contains("cannot connect to the docker daemon")
        || s.contains("error during connect")
        || s.contains("the system cannot find the file specified")
    {
        Some(match os {
            Os::Windows | Os::MacOs => format!(
                "start Docker Desktop (context `{context}`) and wait until it says it is running"
            ),
            Os::Linux => format!(
                "start the engine of context `{context}` (`sudo systemctl start docker`, or `dockerd`)"
            ),
        })
    } else if s.contains("permission denied") && s.contains("docker") && s.contains("sock") {
        Some("add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again), or run devenv with sudo".to_string())
    } else if s.contains("this node is not a swarm manager") {
        Some("run devenv against a manager node of the swarm (a worker cannot deploy)".to_string())
    } else {
        None
    };
    let mut u = UserError::new(format!("{}: {}", e.command, e.stderr.trim()));
    if let Some(h) = hint {
        u = u.hint(h);
    }
    u.into()
}

/// Where the docker CLI keeps its login for `registry`, read from its `config.json`
/// (`DOCKER_CONFIG`, else `~/.docker`): `auths` (written by `docker login`, also when a
/// credential store holds the secret) or a `credHelpers` entry. `None`: not logged in.
pub fn login_of(config_json: &str, registry: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(config_json).ok()?;
    let keys: Vec<String> = if registry == "docker.io" {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
        ]
    } else {
        vec![
            registry.to_string(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ]
    };
    if let Some(h) = keys
        .iter()
        .find_map(|k| v["credHelpers"][k.as_str()].as_str())
    {
        return Some(format!("credential helper docker-credential-{h}"));
    }
    let auths = v["auths"].as_object()?;
    keys.iter().find(|k| auths.contains_key(k.as_str()))?;
    Some(match v["credsStore"].as_str() {
        Some(store) => format!("docker login, credentials in docker-credential-{store}"),
        None => "docker login, credentials in config.json".to_string(),
    })
}

/// The registry an image reference is pulled from (`docker.io` for Docker Hub names).
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".to_string(),
    }
}

/// A failed pull as the user needs it: which registry could not be reached (or refused), for
/// which image, and what to do.
pub fn pull_error(image: &str, stderr: &str) -> anyhow::Error {
    pull_error_for(image, &[image], stderr)
}

/// [`pull_error`] naming every image of the same registry the deploy needs (`images`).
pub fn pull_error_for(image: &str, images: &[&str], stderr: &str) -> anyhow::Error {
    let registry = registry_of(image);
    let image_list = if images.len() > 1 {
        format!("images {}", images.join(", "))
    } else {
        format!("image {image}")
    };
    let s = stderr.to_ascii_lowercase();
    let (what, hint) = if s.contains("no such host")
        || s.contains("connection refused")
        || s.contains("i/o timeout")
        || s.contains("network is unreachable")
        || s.contains("dial tcp")
        || s.contains("tls handshake timeout")
    {
        (
            format!("the registry {registry} cannot be reached"),
            format!(
                "check this machine's network (a proxy? Docker Desktop: Settings → Resources → Proxies), use a registry mirror (`registry-mirrors` in the engine's daemon.json), or `docker pull {image}` once the network is back; nothing was changed"
            ),
        )
    } else if s.contains("unauthorized")
        || s.contains("denied")
        || s.contains("authentication required")
        || s.contains("no basic auth credentials")
    {
        (
            format!("the registry {registry} refused the pull"),
            format!("log in first: `docker login {registry}`"),
        )
    } else if s.contains("not found") || s.contains("manifest unknown") {
        (
            format!("{registry} has no image {image}"),
            "check the image name and tag in the stack".to_string(),
        )
    } else {
        (
            format!("pulling from {registry} failed"),
            format!("`docker pull {image}` shows the same error"),
        )
    };
    let (what, list) = if what.ends_with("cannot be reached") {
        (what, image_list)
    } else {
        (what, format!("image {image}"))
    };
    UserError::new(format!("{what} ({list}): {}", stderr.trim()))
        .hint(hint)
        .into()
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    #[serde(default)]
    pub server_version: String,
    #[serde(default)]
    pub kernel_version: String,
    #[serde(default)]
    pub operating_system: String,
    #[serde(default)]
    pub swarm: SwarmInfo,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct SwarmInfo {
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    #[serde(default)]
    pub node_addr: String,
    /// inactive, pending, active, error, locked
    #[serde(default)]
    pub local_node_state: String,
    #[serde(default)]
    pub control_available: bool,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub nodes: u32,
    #[serde(default)]
    pub managers: u32,
    #[serde(default)]
    pub cluster: Option<ClusterInfo>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterInfo {
    #[serde(rename = "ID", default)]
    pub id: String,
}

impl SwarmInfo {
    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster
            .as_ref()
            .map(|c| c.id.as_str())
            .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    #[serde(default)]
    pub client: Option<Component>,
    #[serde(default)]
    pub server: Option<Component>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Component {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub api_version: String,
}

/// A task line of `docker service ps / stack ps --format JSON`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TaskLine {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub desired_state: String,
    /// "Running 3 seconds ago"
    #[serde(default)]
    pub current_state: String,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub ports: String,
}

impl TaskLine {
    /// The first word of the current state, lowercase: running, starting, failed, rejected...
    pub fn state(&self) -> String {
        self.current_state
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    }
    /// The service name (`stack_web.1` → `stack_web`; global tasks are `stack_web.NODEID`).
    pub fn service(&self) -> &str {
        self.name
            .rsplit_once('.')
            .map_or(self.name.as_str(), |(s, _)| s)
    }
    pub fn error_text(&self) -> String {
        self.error.trim().trim_matches('"').to_string()
    }
}

/// A line of `docker service ls --format JSON`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceLine {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mode: String,
    /// "1/1"
    #[serde(default)]
    pub replicas: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub ports: String,
}

/// What devenv reads from `docker service inspect`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceInspect {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub version: VersionIndex,
    #[serde(default)]
    pub spec: serde_json::Value,
    #[serde(default)]
    pub update_status: Option<UpdateStatus>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct VersionIndex {
    #[serde(default)]
    pub index: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStatus {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub started_at: Option<String>,
}

impl ServiceInspect {
    pub fn name(&self) -> String {
        self.spec["Name"].as_str().unwrap_or_default().to_string()
    }
    /// Desired replicas; `None` for global services.
    pub fn replicas(&self) -> Option<u64> {
        self.spec["Mode"]["Replicated"]["Replicas"].as_u64()
    }
    pub fn is_global(&self) -> bool {
        self.spec["Mode"].get("Global").is_some()
    }
    pub fn image(&self) -> String {
        self.spec["TaskTemplate"]["ContainerSpec"]["Image"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    /// Ports published in host mode.
    pub fn host_ports(&self) -> Vec<u64> {
        self.spec["EndpointSpec"]["Ports"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["PublishMode"].as_str() == Some("host"))
                    .filter_map(|p| p["PublishedPort"].as_u64())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn update_state(&self) -> &str {
        self.update_status.as_ref().map_or("", |u| u.state.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Debian's docker CLI 28 printed run over SSH for a user outside the docker group, on
    /// a host without docker, and with the engine stopped.
    #[test]
    fn the_remote_docker_says_which_fix_applies() {
        let ep = crate::swarm::ssh::Endpoint::parse("ssh://deploy@srv:2222").unwrap();
        let group = "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.50/version\": dial unix /var/run/docker.sock: connect: permission denied";
        assert_eq!(
            remote_docker_advice(&ep, group).unwrap(),
            "deploy@srv may not use docker on srv: add the user to the docker group there (`sudo usermod -aG docker deploy`, then log in again)"
        );
        let missing = "sh: 1: docker: not found";
        assert!(
            remote_docker_advice(&ep, missing)
                .unwrap()
                .starts_with("docker is not installed on srv")
        );
        let stopped = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?";
        assert!(
            remote_docker_advice(&ep, stopped)
                .unwrap()
                .contains("`sudo systemctl start docker`")
        );
        assert_eq!(remote_docker_advice(&ep, "something else"), None);
    }
    use crate::sys::FakeSys;

    #[test]
    fn docker_host_is_refused() {
        let s = FakeSys::new()
            .env("DOCKER_HOST", "tcp://prod:2376")
            .program("docker", "/usr/bin/docker");
        let e = Docker::new(&s, "default").err().unwrap();
        let msg = format!("{e}");
        assert!(
            msg.contains("DOCKER_HOST is set (tcp://prod:2376)") && msg.contains("`default`"),
            "{msg}"
        );
        assert_eq!(crate::error::exit_code(&e), 2);
    }

    #[test]
    fn every_call_names_the_context() {
        let s = FakeSys::new().program("docker", "/usr/bin/docker").respond(
            "/usr/bin/docker --context prod info",
            0,
            "{}",
        );
        let d = Docker::new(&s, "prod").unwrap();
        d.info().unwrap();
        assert_eq!(
            s.commands(),
            vec!["/usr/bin/docker --context prod info --format '{{json .}}'"]
        );
    }

    #[test]
    fn daemon_down_gets_advice() {
        let s = FakeSys::new().program("docker", "/usr/bin/docker").respond_full(
            "/usr/bin/docker",
            1,
            "",
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
        );
        let d = Docker::new(&s, "default").unwrap();
        let e = d.info().unwrap_err();
        let u = e.downcast_ref::<UserError>().unwrap();
        assert!(u.hint.as_ref().unwrap().contains("start"), "{u}");
    }

    /// What docker 28's CLI printed over `ssh://deploy@127.0.0.1:2299` (Debian's OpenSSH 9.2,
    /// this machine's sshd), each failure in turn.
    #[test]
    fn ssh_failures_are_named_with_their_fix() {
        const PRE: &str = "error during connect: Get \"http://docker.example.com/v1.50/info\": command [ssh -o ConnectTimeout=30 -T -l deploy -p 2299 -- 127.0.0.1 docker system dial-stdio] has exited with exit status 255, make sure the URL is valid, and Docker 18.09 or later is installed on the remote host: stderr=";
        let advice = |stderr: &str| {
            let s = FakeSys::new()
                .program("docker", "/usr/bin/docker")
                .respond_full("/usr/bin/docker", 1, "", stderr);
            let d = Docker::new(&s, "prod")
                .unwrap()
                .declaring_host(Some("ssh://deploy@127.0.0.1:2299"));
            let e = d.info().unwrap_err();
            e.downcast_ref::<UserError>()
                .unwrap()
                .hint
                .clone()
                .unwrap_or_default()
        };
        let h = advice(&format!("{PRE}Host key verification failed.\n"));
        assert!(
            h.contains("host key of 127.0.0.1") && h.contains("`ssh -p 2299 deploy@127.0.0.1`"),
            "{h}"
        );
        let h = advice(&format!(
            "{PRE}deploy@127.0.0.1: Permission denied (publickey).\n"
        ));
        assert!(
            h.contains("refused the login of deploy") && h.contains("ssh-copy-id deploy@127.0.0.1"),
            "{h}"
        );
        let h = advice(&format!(
            "{PRE}ssh: connect to host 127.0.0.1 port 2299: Connection refused\n"
        ));
        assert!(
            h.contains("nothing accepts SSH connections on 127.0.0.1 port 2299"),
            "{h}"
        );
        let h = advice(
            &(PRE.replace("-p 2299 -- 127.0.0.1", "-- no-such-host.invalid")
                + "ssh: Could not resolve hostname no-such-host.invalid: Name or service not known\n"),
        );
        assert!(h.contains("no-such-host.invalid does not resolve"), "{h}");
        let h = advice(&format!(
            "{PRE}ssh: connect to host 127.0.0.1 port 2299: Connection timed out\n"
        ));
        assert!(h.contains("does not answer"), "{h}");
        // logged in, but the user may not use docker there
        let h = advice(
            "Cannot connect to the Docker daemon at http://docker.example.com. Is the docker daemon running?",
        );
        assert!(
            h.contains("docker group") && h.contains("ssh://deploy@127.0.0.1:2299"),
            "{h}"
        );
        // a context that devenv up will create from docker.host
        let h = advice(
            "Failed to initialize: unable to resolve docker endpoint: context \"prod\": context not found: open /root/.docker/contexts/meta/x/meta.json: no such file or directory",
        );
        assert!(h.contains("`devenv up` creates it"), "{h}");
    }

    #[test]
    fn logins_as_docker_login_writes_them() {
        // what `docker login -u devuser 127.0.0.1:5055` wrote (docker 28, no credential store)
        let plain = "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5055\": {\n\t\t\t\"auth\": \"ZGV2dXNlcjpkZXZwYXNz\"\n\t\t}\n\t}\n}";
        assert_eq!(
            login_of(plain, "127.0.0.1:5055").as_deref(),
            Some("docker login, credentials in config.json")
        );
        assert_eq!(login_of(plain, "ccr.ccs.tencentyun.com"), None);
        // Docker Desktop: a credential store, auths keeps an empty entry; Docker Hub's key
        let desktop = r#"{"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}"#;
        assert_eq!(
            login_of(desktop, "docker.io").as_deref(),
            Some("docker login, credentials in docker-credential-desktop")
        );
        let helper = r#"{"credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}}"#;
        assert_eq!(
            login_of(helper, "123.dkr.ecr.eu-west-1.amazonaws.com").as_deref(),
            Some("credential helper docker-credential-ecr-login")
        );
        assert_eq!(login_of("{}", "docker.io"), None);
        assert_eq!(login_of("not json", "docker.io"), None);
        // the daemon's answer to a pull without a login (docker-registry with htpasswd)
        let e = pull_error_for(
            "127.0.0.1:5055/shop/web:2",
            &["127.0.0.1:5055/shop/web:2"],
            "Error response from daemon: Head \"http://127.0.0.1:5055/v2/shop/web/manifests/2\": no basic auth credentials",
        );
        let u = e.downcast_ref::<UserError>().unwrap();
        assert!(u.message.contains("refused the pull"), "{u}");
        assert!(
            u.hint
                .as_deref()
                .unwrap()
                .contains("docker login 127.0.0.1:5055"),
            "{u}"
        );
    }

    #[test]
    fn task_lines() {
        let t: Vec<TaskLine> = parse_lines(br#"{"CurrentState":"Rejected 1 second ago","DesiredState":"Ready","Error":"\"No such image: x:1\"","ID":"a","Image":"x:1","Name":"s_bad.1","Node":"vm","Ports":""}"#).unwrap();
        assert_eq!(t[0].state(), "rejected");
        assert_eq!(t[0].service(), "s_bad");
        assert_eq!(t[0].error_text(), "No such image: x:1");
    }
}

//! The docker CLI, always through the profile's context (`docker --context C ...`), with JSON
//! output parsed and errors turned into advice.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::UserError;
use crate::exec::Executor;
use crate::platform::Os;
use crate::sys::{Cmd, Facts, Output};

/// The `--format` that makes docker print JSON. `json` itself is understood only by CLIs from
/// 23.0 on; this template means the same to every CLI since 1.13, including Debian 12's 20.10.
pub const JSON: &str = "{{json .}}";

/// One docker CLI bound to a context. It only reads; what changes something goes through the
/// executor ([`crate::exec::Executor::docker`]).
pub struct Docker<'a> {
    pub sys: &'a dyn Facts,
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

/// docker calls that change something, made through the executor (so a dry run records them and
/// changes nothing); a failure is explained like a query's.
pub trait Apply {
    /// A docker call that changes something; a failure is explained.
    fn docker<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;
    /// Like [`Apply::docker`] with data on stdin (configs and secrets: never on a command line).
    fn docker_stdin<I, S>(
        &mut self,
        d: &Docker<'_>,
        args: I,
        data: &[u8],
    ) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;
    /// A docker call that changes something and whose failure is an answer the caller reads
    /// (`config rm` of an object still in use, a retried `stack deploy`).
    fn docker_raw<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;
    /// A docker call attached to the terminal (a build's output streams); its exit code.
    fn docker_attached<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<i32>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;
}

impl Apply for Executor<'_> {
    fn docker<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let c = d.cmd(args);
        checked(self, d, c)
    }

    fn docker_stdin<I, S>(&mut self, d: &Docker<'_>, args: I, data: &[u8]) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let c = d.cmd(args).stdin(data.to_vec());
        checked(self, d, c)
    }

    fn docker_raw<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let c = d.cmd(args);
        self.run(&c)
            .map_err(|e| anyhow::anyhow!("cannot run docker ({}): {e}", d.program))
    }

    fn docker_attached<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<i32>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut c = d.cmd(args);
        c.stdout_to_stderr = true;
        Ok(self.run_attached(&c)?)
    }
}

fn checked(x: &mut Executor<'_>, d: &Docker<'_>, c: Cmd) -> anyhow::Result<Output> {
    let o = x
        .run(&c)
        .map_err(|e| anyhow::anyhow!("cannot run docker ({}): {e}", d.program))?;
    if o.ok() {
        return Ok(o);
    }
    Err(d.explain(DockerError {
        command: display_docker(&c),
        status: o.status,
        stderr: o.stderr_str(),
    }))
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
    pub fn new(sys: &'a dyn Facts, context: &str) -> anyhow::Result<Docker<'a>> {
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
    pub fn sharing(mut self, shared: Option<&crate::exec::ssh::Shared>) -> Docker<'a> {
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
            .then(|| host.and_then(crate::ssh::Endpoint::parse))
            .flatten();
        let err = super::advice::explain_with(self.sys.platform().os, &self.context, host, e);
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
    fn remote_docker_diagnosis(&self, ep: &crate::ssh::Endpoint) -> Option<String> {
        let mut c = Cmd::new("ssh").args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T"]);
        c = c
            .args(ep.args())
            .args(["docker", "version", "--format", "'{{.Server.Version}}'"]);
        c.env.extend(self.env.iter().cloned());
        let o = self.sys.query(&c).ok()?;
        if o.ok() {
            return None;
        }
        crate::ssh::remote_docker_advice(ep, &format!("{}\n{}", o.stdout_str(), o.stderr_str()))
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
            .query(&c)
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
            .query(&c)
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
    use crate::sys::FakeSys;

    /// What Debian's docker CLI 28 printed run over SSH for a user outside the docker group, on
    /// a host without docker, and with the engine stopped.

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
    fn task_lines() {
        let t: Vec<TaskLine> = parse_lines(br#"{"CurrentState":"Rejected 1 second ago","DesiredState":"Ready","Error":"\"No such image: x:1\"","ID":"a","Image":"x:1","Name":"s_bad.1","Node":"vm","Ports":""}"#).unwrap();
        assert_eq!(t[0].state(), "rejected");
        assert_eq!(t[0].service(), "s_bad");
        assert_eq!(t[0].error_text(), "No such image: x:1");
    }
}

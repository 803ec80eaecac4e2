//! One SSH connection per devenv run, for an engine reached over SSH (`ssh://USER@HOST`).
//!
//! The docker CLI opens a new SSH connection for every call (`ssh … HOST docker system
//! dial-stdio`): 0.3 s each to a host next door, far more to a cloud server. devenv keeps docker's
//! own way of connecting — the user's ssh config, agent, keys, known hosts, the remote user's
//! `DOCKER_HOST` or rootless socket — and only makes the calls of one run share one connection:
//! the docker calls find, first on their PATH, an `ssh` that is devenv itself (a link in a private
//! directory), which runs the real `ssh` with OpenSSH's connection sharing (`ControlMaster=auto`,
//! a control socket in that directory). When the run ends the master is told to exit and the
//! directory goes — also when devenv is interrupted (Ctrl-C, SIGTERM, SIGHUP: the master has a
//! session of its own, so the terminal's signal never reaches it); if devenv is killed outright
//! (SIGKILL), the master exits on its own after `PERSIST_SECS` idle.
//!
//! Over that one connection devenv also forwards the remote engine's socket (found by asking the
//! remote docker CLI, so the remote user's `DOCKER_HOST` or rootless socket counts) to a socket
//! in the private directory; a docker call's `ssh … docker system dial-stdio` is then answered by
//! the shim itself, splicing the call onto the forwarded socket — no remote process per call.
//! When the forward cannot be set up (a `tcp://` remote endpoint, an old ssh), calls keep
//! docker's own `dial-stdio` over the shared connection.
//!
//! Windows' OpenSSH has no connection sharing: there each call keeps its own connection.
//!
//! This module holds what is decided about SSH — the endpoint, the arguments, the advice for each
//! failure; opening and stopping the shared connection is an effect (`crate::exec::ssh`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::platform::Os;

/// How long an idle master outlives its last client (devenv killed before it could stop it).
pub const PERSIST_SECS: u32 = 30;
/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT_SECS: u32 = 10;
/// Set for the docker calls of a run: the real ssh, and the control socket to share.
pub const REAL_ENV: &str = "DEVENV_SSH_REAL";
pub const CONTROL_ENV: &str = "DEVENV_SSH_CONTROL";
/// Set for the docker calls of a run when the remote engine's socket is forwarded: its path.
pub const SOCKET_ENV: &str = "DEVENV_SSH_SOCKET";
/// Set for the docker calls of a run: how long the master outlives its last client.
pub const PERSIST_ENV: &str = "DEVENV_SSH_PERSIST_SECS";

/// The parts of an `ssh://[USER@]HOST[:PORT]` endpoint that `ssh` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl Endpoint {
    pub fn parse(endpoint: &str) -> Option<Endpoint> {
        let rest = endpoint.strip_prefix("ssh://")?;
        let rest = rest.split('/').next()?;
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => (
                h.trim_matches(|c| c == '[' || c == ']'),
                Some(p.parse().ok()?),
            ),
            _ => (hostport, None),
        };
        (!host.is_empty()).then(|| Endpoint {
            user,
            host: host.to_string(),
            port,
        })
    }

    /// `-l USER -p PORT -- HOST`, as docker passes them.
    pub fn args(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(u) = &self.user {
            v.extend(["-l".to_string(), u.clone()]);
        }
        if let Some(p) = self.port {
            v.extend(["-p".to_string(), p.to_string()]);
        }
        v.extend(["--".to_string(), self.host.clone()]);
        v
    }
}

/// Whether an ssh invocation is docker's `… HOST docker system dial-stdio`.
pub fn is_dial_stdio(args: &[OsString]) -> bool {
    let n = args.len();
    n >= 3 && args[n - 3] == "docker" && args[n - 2] == "system" && args[n - 1] == "dial-stdio"
}

/// Whether devenv shares one connection for `endpoint` on `os`.
pub fn shares(os: Os, endpoint: &str) -> bool {
    endpoint.starts_with("ssh://") && os != Os::Windows
}

/// The real ssh's arguments for one docker call: connection sharing first (the command line
/// wins over the user's config, and ssh keeps the first value it reads), then docker's own.
pub fn shared_args(control: &Path, persist: u32, args: &[OsString]) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        "-o".into(),
        "ControlMaster=auto".into(),
        "-o".into(),
        format!("ControlPath={}", control.display()).into(),
        "-o".into(),
        format!("ControlPersist={persist}").into(),
        // no prompt can hang a run: an unknown host key or a password fails at once
        "-o".into(),
        "BatchMode=yes".into(),
        // an unreachable host fails in 10 s, not docker's 30 s
        "-o".into(),
        format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}").into(),
    ];
    v.extend(args.iter().cloned());
    v
}

/// The arguments that stop the master of `control`.
pub fn exit_args(control: &Path) -> Vec<String> {
    vec![
        "-o".into(),
        format!("ControlPath={}", control.display()),
        "-O".into(),
        "exit".into(),
        // required by the syntax; the control path names the connection
        "devenv-shared".into(),
    ]
}

/// A connection kept open for the runs that follow: its directory (one per endpoint, private to
/// the user) and how long it stays after the last run.
#[derive(Debug, Clone)]
pub struct Keep {
    pub dir: PathBuf,
    pub secs: u32,
}

/// What `docker version` run over SSH on the server printed, as the fix: the user not in the
/// docker group, docker not installed, its engine not running.
pub fn remote_docker_advice(ep: &Endpoint, out: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UserError;
    use crate::swarm::docker::Docker;
    use crate::sys::FakeSys;

    #[test]
    fn sharing_comes_first_and_never_prompts() {
        let docker_args: Vec<OsString> = [
            "-o",
            "ConnectTimeout=30",
            "-T",
            "-l",
            "deploy",
            "-p",
            "2299",
            "--",
            "127.0.0.1",
            "docker",
            "system",
            "dial-stdio",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let a = shared_args(
            Path::new("/tmp/devenv-ssh-x/cm"),
            PERSIST_SECS,
            &docker_args,
        );
        let a: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert_eq!(
            &a[..10],
            [
                "-o",
                "ControlMaster=auto",
                "-o",
                "ControlPath=/tmp/devenv-ssh-x/cm",
                "-o",
                "ControlPersist=30",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10"
            ]
        );
        assert_eq!(
            &a[10..],
            &docker_args
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect::<Vec<_>>()[..]
        );
        assert_eq!(
            exit_args(Path::new("/c")),
            ["-o", "ControlPath=/c", "-O", "exit", "devenv-shared"]
        );
    }

    #[test]
    fn only_ssh_endpoints_off_windows_share() {
        assert!(shares(Os::Linux, "ssh://deploy@myblog.com"));
        assert!(shares(Os::MacOs, "ssh://deploy@myblog.com:2222"));
        assert!(!shares(Os::Windows, "ssh://deploy@myblog.com"));
        assert!(!shares(Os::Linux, "unix:///var/run/docker.sock"));
        assert!(!shares(Os::Linux, "tcp://10.0.0.5:2376"));
    }

    #[test]
    fn endpoints_as_ssh_takes_them() {
        let e = Endpoint::parse("ssh://deploy@myblog.com:2222").unwrap();
        assert_eq!(e.args(), ["-l", "deploy", "-p", "2222", "--", "myblog.com"]);
        let e = Endpoint::parse("ssh://myblog.com").unwrap();
        assert_eq!(e.args(), ["--", "myblog.com"]);
        let e = Endpoint::parse("ssh://me@[::1]:22").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", Some(22)));
        assert_eq!(Endpoint::parse("tcp://x:2376"), None);
        assert_eq!(Endpoint::parse("ssh://x:notaport"), None);
        let dial: Vec<OsString> = ["-l", "d", "--", "h", "docker", "system", "dial-stdio"]
            .map(OsString::from)
            .to_vec();
        assert!(is_dial_stdio(&dial));
        assert!(!is_dial_stdio(&dial[..5]));
    }

    #[test]
    fn the_remote_docker_says_which_fix_applies() {
        let ep = Endpoint::parse("ssh://deploy@srv:2222").unwrap();
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
}

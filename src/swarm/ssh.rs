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

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
/// In the run's directory: what ssh said when the run's connection failed.
const FAILED: &str = "failed";

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

/// devenv started as `ssh` by a docker call of a run: runs the real ssh with the shared
/// connection. `None` when this process is not that.
pub fn run_as_shim(argv0: &OsString, args: &[OsString]) -> Option<i32> {
    let name = Path::new(argv0).file_stem()?.to_str()?;
    if name != "ssh" {
        return None;
    }
    let real = std::env::var_os(REAL_ENV)?;
    let control = PathBuf::from(std::env::var_os(CONTROL_ENV)?);
    if let Some(sock) = std::env::var_os(SOCKET_ENV)
        && is_dial_stdio(args)
    {
        return Some(splice(Path::new(&sock)));
    }
    if let Some(failed) = control
        .parent()
        .and_then(|d| std::fs::read(d.join(FAILED)).ok())
    {
        use std::io::Write;
        let _ = std::io::stderr().write_all(&failed);
        // take docker's request first: a process gone before docker wrote would give it a
        // broken pipe, while one that ends after lets docker report ssh's words (as it does for
        // a real ssh that failed)
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = tx.send(());
        });
        let _ = rx.recv_timeout(std::time::Duration::from_millis(300));
        return Some(255);
    }
    let persist = std::env::var(PERSIST_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PERSIST_SECS);
    let mut c = std::process::Command::new(real);
    c.args(shared_args(&control, persist, args))
        .env_remove(REAL_ENV)
        .env_remove(CONTROL_ENV)
        .env_remove(SOCKET_ENV)
        .env_remove(PERSIST_ENV);
    Some(exec(c))
}

/// Whether the engine answers `GET /_ping` on `sock`.
#[cfg(unix)]
fn ping(sock: &Path) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(sock) else {
        return false;
    };
    let t = Some(std::time::Duration::from_secs(u64::from(
        CONNECT_TIMEOUT_SECS,
    )));
    let _ = s.set_read_timeout(t);
    let _ = s.set_write_timeout(t);
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

#[cfg(not(unix))]
fn ping(_sock: &Path) -> bool {
    false
}

/// Connects stdin and stdout to the forwarded engine socket (what `docker system dial-stdio`
/// does on the remote side) until the engine closes it.
#[cfg(unix)]
fn splice(sock: &Path) -> i32 {
    use std::io::{Read, Write};
    let stream = match std::os::unix::net::UnixStream::connect(sock) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "devenv: the forwarded docker socket {}: {e}",
                sock.display()
            );
            return 255;
        }
    };
    let mut to_engine = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("devenv: {e}");
            return 255;
        }
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to_engine);
        let _ = to_engine.shutdown(std::net::Shutdown::Write);
    });
    let mut from_engine = stream;
    let mut out = std::io::stdout().lock();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from_engine.read(&mut buf) {
            Ok(0) => return 0,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                    return 0;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return 0,
        }
    }
}

#[cfg(not(unix))]
fn splice(_sock: &Path) -> i32 {
    255
}

#[cfg(unix)]
fn exec(mut c: std::process::Command) -> i32 {
    use std::os::unix::process::CommandExt;
    let e = c.exec();
    eprintln!("devenv: cannot run ssh: {e}");
    255
}

#[cfg(not(unix))]
fn exec(mut c: std::process::Command) -> i32 {
    match c.status() {
        Ok(s) => s.code().unwrap_or(255),
        Err(e) => {
            eprintln!("devenv: cannot run ssh: {e}");
            255
        }
    }
}

/// The shared connection of a run: its private directory (the `ssh` link and the control
/// socket) and the real ssh. Dropping it stops the master and removes the directory — unless
/// the connection is kept for the next runs ([`Keep`]).
#[derive(Debug)]
pub struct Shared {
    dir: Dir,
    real: PathBuf,
    /// The remote engine's socket, forwarded here over the shared connection.
    socket: Option<PathBuf>,
    /// How long the master outlives its last client.
    persist: u32,
}

#[derive(Debug)]
enum Dir {
    /// This run's own, removed with it.
    Temp(tempfile::TempDir),
    /// Kept for the next runs to the same endpoint (`DEVENV_SSH_PERSIST`).
    Kept(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Dir::Temp(t) => t.path(),
            Dir::Kept(p) => p,
        }
    }
}

/// A connection kept open for the runs that follow: its directory (one per endpoint, private to
/// the user) and how long it stays after the last run.
#[derive(Debug, Clone)]
pub struct Keep {
    pub dir: PathBuf,
    pub secs: u32,
}

/// Creates (or checks) a kept connection's directory: a real directory (not a link), this
/// user's, mode 0700; `None` when it is not (a temporary one is used instead).
#[cfg(unix)]
fn private_dir(dir: &Path) -> Option<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::create_dir_all(dir).ok()?;
    let m = std::fs::symlink_metadata(dir).ok()?;
    // SAFETY: getuid has no preconditions
    let me = unsafe { libc::getuid() };
    if !m.is_dir() || m.uid() != me {
        return None;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).ok()
}

#[cfg(not(unix))]
fn private_dir(_dir: &Path) -> Option<()> {
    None
}

/// The shared connections of this process (real ssh, control socket, directory): what an
/// interrupt stops.
static ACTIVE: Mutex<Vec<(PathBuf, PathBuf, PathBuf)>> = Mutex::new(Vec::new());

fn stop(real: &Path, control: &Path) {
    if control.exists() {
        let _ = std::process::Command::new(real)
            .args(exit_args(control))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Stops every shared connection of this process and removes its directory (on an interrupt,
/// before exiting).
pub fn stop_all() {
    let all = std::mem::take(&mut *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for (real, control, dir) in all {
        stop(&real, &control);
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Shared {
    /// Prepares sharing and opens the connection with its forwarded socket ([`Shared::forward`]).
    /// `None` when it cannot be set up (no ssh, no links here): docker then connects per call,
    /// as without devenv.
    pub fn start(real_ssh: PathBuf, endpoint: &str, keep: Option<Keep>) -> Option<Shared> {
        let exe = std::env::current_exe().ok()?;
        // a socket path must fit in sun_path (108 bytes on Linux, 104 on macOS)
        let keep = keep.filter(|k| {
            k.dir.join("docker.sock").as_os_str().len() < 100 && private_dir(&k.dir).is_some()
        });
        let (dir, persist) = match keep {
            Some(k) => {
                let _ = std::fs::remove_file(k.dir.join(FAILED));
                (Dir::Kept(k.dir), k.secs)
            }
            None => (
                Dir::Temp(
                    tempfile::Builder::new()
                        .prefix("devenv-ssh-")
                        .tempdir()
                        .ok()?,
                ),
                PERSIST_SECS,
            ),
        };
        let shim = dir.path().join("ssh");
        let _ = std::fs::remove_file(&shim);
        link(&exe, &shim).ok()?;
        crate::ui::debug(&format!(
            "docker calls share one SSH connection (control socket in {}{})",
            dir.path().display(),
            if matches!(dir, Dir::Kept(_)) {
                format!(", kept {persist} s for the next runs")
            } else {
                String::new()
            }
        ));
        let mut shared = Shared {
            dir,
            real: real_ssh,
            socket: None,
            persist,
        };
        if let Dir::Temp(_) = shared.dir {
            ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).push((
                shared.real.clone(),
                shared.control(),
                shared.dir.path().to_path_buf(),
            ));
            interrupt::stop_shared_on_interrupt();
        }
        if let Some(ep) = Endpoint::parse(endpoint) {
            shared.socket = shared.forward(&ep);
        }
        Some(shared)
    }

    /// Opens the shared connection, asks the remote docker CLI where its engine listens and
    /// forwards that socket here. `None` (docker's calls then dial through the connection) when
    /// any step fails: the failure itself is reported by docker's first call, with its advice.
    fn forward(&self, ep: &Endpoint) -> Option<PathBuf> {
        let local = self.dir.path().join("docker.sock");
        if matches!(self.dir, Dir::Kept(_)) && local.exists() {
            if ping(&local) {
                crate::ui::debug(
                    "the kept connection and its forwarded socket answer: no new login",
                );
                return Some(local);
            }
            let _ = std::fs::remove_file(&local);
        }
        let mut ask: Vec<OsString> = vec!["-T".into()];
        ask.extend(ep.args().into_iter().map(OsString::from));
        ask.extend(
            [
                "docker",
                "context",
                "inspect",
                "--format",
                "'{{.Endpoints.docker.Host}}'",
            ]
            .map(OsString::from),
        );
        let mut c = std::process::Command::new(&self.real);
        c.args(shared_args(&self.control(), self.persist, &ask))
            .stdin(std::process::Stdio::null());
        let out = c.output().ok()?;
        if out.status.code() == Some(255) {
            // ssh itself failed (host key, login, unreachable): the run's docker calls report
            // this failure at once instead of each trying (and waiting) again
            let _ = std::fs::write(self.dir.path().join(FAILED), &out.stderr);
            return None;
        }
        if !out.status.success() {
            return None;
        }
        let remote = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let remote = remote.strip_prefix("unix://")?.to_string();
        let mut c = std::process::Command::new(&self.real);
        c.args([
            "-o".to_string(),
            format!("ControlPath={}", self.control().display()),
        ])
        .args(["-O", "forward", "-L"])
        .arg(format!("{}:{remote}", local.display()))
        .args(ep.args())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        // the forward only counts when the engine answers through it: a user the remote engine
        // refuses (not in the docker group) gets docker's own error, and its advice, instead
        let ok = c.status().is_ok_and(|s| s.success()) && local.exists() && ping(&local);
        crate::ui::debug(&if ok {
            format!(
                "the engine's socket {remote} is forwarded to {}",
                local.display()
            )
        } else {
            format!("could not forward {remote}: docker dials through the shared connection")
        });
        ok.then_some(local)
    }

    pub fn control(&self) -> PathBuf {
        self.dir.path().join("cm")
    }

    /// The environment of a docker call: the link first on PATH, where the real ssh is.
    pub fn env(&self, path: Option<&std::ffi::OsStr>) -> Vec<(String, Option<String>)> {
        let mut dirs = vec![self.dir.path().to_path_buf()];
        if let Some(p) = path {
            dirs.extend(std::env::split_paths(p));
        }
        let path = std::env::join_paths(dirs)
            .map(|p| p.to_string_lossy().into_owned())
            .ok();
        vec![
            ("PATH".into(), path),
            (REAL_ENV.into(), Some(self.real.display().to_string())),
            (
                CONTROL_ENV.into(),
                Some(self.control().display().to_string()),
            ),
            (
                SOCKET_ENV.into(),
                self.socket.as_ref().map(|p| p.display().to_string()),
            ),
            (PERSIST_ENV.into(), Some(self.persist.to_string())),
        ]
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Dir::Kept(_) = self.dir {
            // the next run reuses it; the master leaves on its own after `persist` idle
            return;
        }
        let control = self.control();
        ACTIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, c, _)| *c != control);
        stop(&self.real, &control);
    }
}

/// On Unix: SIGINT, SIGTERM and SIGHUP stop the shared connections, then end devenv as the
/// signal would have (exit 128 + its number). The handler only writes the signal's number to a
/// pipe (what a signal handler may do); a thread reading the pipe does the rest.
#[cfg(unix)]
mod interrupt {
    use std::sync::Once;
    use std::sync::atomic::{AtomicI32, Ordering};

    static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

    extern "C" fn on_signal(sig: libc::c_int) {
        let fd = WRITE_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = sig as u8;
            // SAFETY: write(2) is async-signal-safe; the buffer is a live local
            unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        }
    }

    pub fn stop_shared_on_interrupt() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let mut fds = [0 as libc::c_int; 2];
            // SAFETY: fds has room for the two descriptors pipe(2) writes
            if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
                return;
            }
            WRITE_FD.store(fds[1], Ordering::Relaxed);
            let read_fd = fds[0];
            std::thread::spawn(move || {
                let mut b = 0u8;
                // SAFETY: reads one byte into a live local from the pipe this thread owns
                let n = unsafe { libc::read(read_fd, (&mut b as *mut u8).cast(), 1) };
                if n == 1 {
                    super::stop_all();
                    std::process::exit(128 + i32::from(b));
                }
            });
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                // SAFETY: installs a handler that only calls write(2)
                unsafe {
                    let mut sa: libc::sigaction = std::mem::zeroed();
                    sa.sa_sigaction = on_signal as *const () as usize;
                    libc::sigemptyset(&mut sa.sa_mask);
                    sa.sa_flags = libc::SA_RESTART;
                    libc::sigaction(sig, &sa, std::ptr::null_mut());
                }
            }
        });
    }
}

/// Windows' OpenSSH shares no connection: nothing to stop.
#[cfg(not(unix))]
mod interrupt {
    pub fn stop_shared_on_interrupt() {}
}

#[cfg(unix)]
fn link(exe: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(exe, at)
}

#[cfg(not(unix))]
fn link(_exe: &Path, _at: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "Windows' OpenSSH does not share connections",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[cfg(unix)]
    #[test]
    fn a_kept_connection_lives_only_in_a_private_directory_of_ones_own() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("ssh-HASH");
        assert!(private_dir(&real).is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // a link planted where the directory goes (to a place others can read) is refused
        let elsewhere = d.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, d.path().join("planted")).unwrap();
        assert!(private_dir(&d.path().join("planted")).is_none());
        // a file there is no directory
        std::fs::write(d.path().join("file"), "x").unwrap();
        assert!(private_dir(&d.path().join("file")).is_none());
    }

    #[test]
    fn the_shim_is_only_ssh() {
        assert_eq!(run_as_shim(&OsString::from("/usr/bin/devenv"), &[]), None);
    }
}

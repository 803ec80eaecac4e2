//! The shared SSH connection of a run, as an effect: its private directory, the `ssh` link to
//! devenv, the master connection and the forwarded engine socket, stopped when the run ends
//! (also on Ctrl-C, SIGTERM, SIGHUP). Opened only by the executor ([`super::Executor::open_ssh`]);
//! what is decided about SSH is in [`crate::ssh`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[cfg(unix)]
use crate::ssh::CONNECT_TIMEOUT_SECS;
use crate::ssh::{
    CONTROL_ENV, Endpoint, Keep, PERSIST_ENV, PERSIST_SECS, REAL_ENV, SOCKET_ENV, exit_args,
    is_dial_stdio, shared_args,
};

/// In the run's directory: what ssh said when the run's connection failed.
const FAILED: &str = "failed";

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

/// Creates (or checks) a kept connection's directory: a real directory (not a link), this
/// user's, made by devenv with mode 0700 and holding only this user's files. A directory that
/// is not like that — its mode changed, a socket or file of another user in it — is discarded
/// and made again, never trusted; one this user does not own is not used (`None`: a temporary
/// directory is used instead).
#[cfg(unix)]
fn private_dir(dir: &Path) -> Option<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: getuid has no preconditions
    let me = unsafe { libc::getuid() };
    let make = |dir: &Path| -> Option<()> {
        if let Some(p) = dir.parent() {
            std::fs::create_dir_all(p).ok()?;
        }
        std::fs::DirBuilder::new().mode(0o700).create(dir).ok()
    };
    let m = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(_) => return make(dir),
    };
    if !m.is_dir() || m.uid() != me {
        return None;
    }
    let as_made = m.mode() & 0o777 == 0o700
        && std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .all(|e| std::fs::symlink_metadata(e.path()).is_ok_and(|em| em.uid() == me));
    if !as_made {
        crate::ui::debug(&format!(
            "{} was not as devenv makes it (mode or owner of what is in it): discarded",
            dir.display()
        ));
        std::fs::remove_dir_all(dir).ok()?;
        return make(dir);
    }
    Some(())
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
            super::interrupt::call_on_interrupt(stop_all);
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
        // a kept directory whose mode was changed is discarded with what it held, then made again
        std::fs::write(real.join("docker.sock"), "planted").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(private_dir(&real).is_some());
        assert!(!real.join("docker.sock").exists(), "what it held is gone");
        assert_eq!(
            std::fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // a file of another user in it: the same (root can give a file away to test it)
        if unsafe { libc::geteuid() } == 0 {
            std::fs::write(real.join("docker.sock"), "planted").unwrap();
            std::os::unix::fs::chown(real.join("docker.sock"), Some(65534), Some(65534)).unwrap();
            assert!(private_dir(&real).is_some());
            assert!(!real.join("docker.sock").exists());
        }
    }

    #[test]
    fn the_shim_is_only_ssh() {
        assert_eq!(run_as_shim(&OsString::from("/usr/bin/devenv"), &[]), None);
    }
}

//! The real machine's facts, and the process runner both halves of the seam use. Only this file,
//! `crate::exec::real`, [`crate::contained`] and the writers (`crate::fsutil`, the hosts file's
//! careful writer) touch the OS directly (tests/boundary.rs keeps it so).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Facts, RealSys};
use crate::cmd::{Cmd, Output};
use crate::platform::Platform;

/// The largest machine file read as a fact.
const MAX_MACHINE_FILE: u64 = 64 << 20;

pub(crate) fn command(cmd: &Cmd) -> Command {
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args);
    for (k, v) in &cmd.env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = &cmd.cwd {
        c.current_dir(d);
    }
    c
}

/// Runs a program and captures its output (stdin written from a thread, so a child that fills
/// its stdout first cannot deadlock us).
pub(crate) fn run_captured(cmd: &Cmd) -> std::io::Result<Output> {
    crate::ui::debug(&format!("$ {}", cmd.display()));
    let mut c = command(cmd);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c.stdin(if cmd.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = c.spawn()?;
    if let Some(data) = &cmd.stdin {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let data = data.clone();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let out = child.wait_with_output()?;
    Ok(Output {
        status: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// Runs a program and hands each line of its output (stdout and stderr) to `line` as it comes;
/// kills it after `timeout` (`Ok(None)`).
pub(crate) fn run_streamed(
    cmd: &Cmd,
    timeout: std::time::Duration,
    line: &mut dyn FnMut(&str),
) -> std::io::Result<Option<i32>> {
    use std::io::BufRead;
    crate::ui::debug(&format!("$ {}", cmd.display()));
    let mut c = command(cmd);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c.stdin(if cmd.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = c.spawn()?;
    if let Some(data) = &cmd.stdin {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let data = data.clone();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut readers = Vec::new();
    let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().expect("piped"));
    let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().expect("piped"));
    for pipe in [out, err] {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(pipe);
            let mut buf = Vec::new();
            while matches!(r.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                let s = String::from_utf8_lossy(&buf);
                let _ = tx.send(s.trim_end_matches(['\n', '\r']).to_string());
                buf.clear();
            }
        }));
    }
    drop(tx);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        match rx.recv_timeout(left) {
            Ok(l) => line(&l),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    for r in readers {
        let _ = r.join();
    }
    // both pipes closed: the program is ending; wait for it, still within the timeout
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st.code().unwrap_or(-1)));
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Facts for RealSys {
    fn query(&self, cmd: &Cmd) -> std::io::Result<Output> {
        if !crate::cmd::read_only(cmd) {
            return Err(super::not_read_only(cmd));
        }
        run_captured(cmd)
    }

    fn query_streamed(
        &self,
        cmd: &Cmd,
        timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        if !crate::cmd::read_only(cmd) {
            return Err(super::not_read_only(cmd));
        }
        run_streamed(cmd, timeout, line)
    }

    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        crate::contained::read_machine_file(path, MAX_MACHINE_FILE).map_err(|e| match e {
            crate::contained::ReadError::NotFound { .. } => {
                std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string())
            }
            e => std::io::Error::other(e.to_string()),
        })
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    }

    fn which(&self, program: &str) -> Option<PathBuf> {
        which::which(program).ok()
    }

    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    fn vars(&self) -> BTreeMap<String, String> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }

    fn platform(&self) -> Platform {
        Platform::current()
    }

    fn ipvs_state(&self) -> Option<super::ipvs::IpvsState> {
        ipvs_state()
    }

    fn kernel_release(&self) -> Option<String> {
        kernel_release()
    }

    fn is_admin(&self) -> bool {
        if cfg!(windows) {
            // an elevated token: `net session` answers only to administrators
            static ADMIN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            return *ADMIN.get_or_init(|| {
                Command::new("net")
                    .arg("session")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
        }
        #[cfg(unix)]
        {
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() == 0 }
        }
        #[cfg(not(unix))]
        {
            false
        }
    }

    fn home_of(&self, uid: u32) -> Option<PathBuf> {
        home_of(uid)
    }

    fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn port_free(&self, port: u16) -> std::io::Result<bool> {
        match std::net::TcpListener::bind(("0.0.0.0", port)) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn serves(&self, name: &str, port: u16, lookup: &crate::probe::Lookup) -> crate::probe::Answer {
        let Ok(addrs) = lookup.addrs(name, port, &|n| self.resolve(n)) else {
            return crate::probe::Served::Unresolved.into();
        };
        // every address the name has, until one serves (as a browser falls back)
        let mut last = crate::probe::Served::Closed.into();
        for addr in addrs {
            last = crate::probe::serves(name, addr, std::time::Duration::from_secs(2));
            if matches!(
                last.served,
                crate::probe::Served::Https | crate::probe::Served::Http
            ) {
                break;
            }
        }
        last
    }

    fn resolve(&self, name: &str) -> Result<Vec<std::net::IpAddr>, String> {
        let v = crate::probe::Lookup::system(name)?;
        if v.is_empty() {
            Err("no address".into())
        } else {
            Ok(v)
        }
    }
}

/// Whether this machine's kernel has IPVS (needed by the routing mesh and service VIPs).
/// `DEVENV_IPVS=0|1` overrides the detection. `None` off Linux (Docker Desktop's VM has it).
/// This machine's kernel release (`/proc/sys/kernel/osrelease`, what `uname -r` says).
pub fn kernel_release() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    crate::contained::read_machine_file(Path::new("/proc/sys/kernel/osrelease"), 4096)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .filter(|r| !r.is_empty())
}

/// IPVS in this machine's kernel: loaded, built in, a module of this kernel, or absent
/// (`DEVENV_IPVS=0|1` decides instead).
pub fn ipvs_state() -> Option<super::ipvs::IpvsState> {
    use super::ipvs::{IpvsState, KernelFiles, judge};
    if let Ok(v) = std::env::var("DEVENV_IPVS") {
        return Some(
            if v == "0" || v.eq_ignore_ascii_case("false") || v == "no" {
                IpvsState::Absent
            } else {
                IpvsState::Loaded
            },
        );
    }
    if !cfg!(target_os = "linux") {
        return None;
    }
    let text = |p: &Path, limit: u64| {
        crate::contained::read_machine_file(p, limit)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let modules = kernel_release().map(|r| Path::new("/lib/modules").join(r));
    Some(judge(&KernelFiles {
        proc_modules: text(Path::new("/proc/modules"), 16 << 20),
        sys_module: Path::new("/sys/module/ip_vs").exists(),
        modules_builtin: modules
            .as_ref()
            .and_then(|m| text(&m.join("modules.builtin"), 16 << 20)),
        modules_dep: modules
            .as_ref()
            .and_then(|m| text(&m.join("modules.dep"), 64 << 20)),
    }))
}

#[cfg(unix)]
fn home_of(uid: u32) -> Option<PathBuf> {
    use std::ffi::CStr;
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buffers are valid for the given length; result is checked before use.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into buf, NUL-terminated by getpwuid_r.
    let dir = unsafe { CStr::from_ptr(pwd.pw_dir) };
    Some(PathBuf::from(dir.to_string_lossy().into_owned()))
}

#[cfg(not(unix))]
fn home_of(_uid: u32) -> Option<PathBuf> {
    None
}

//! The one seam for side effects and machine facts: running a program, writing or removing a
//! file (the hosts file included), and what the machine is (platform, IPVS, administrator, the
//! time, the environment).
//!
//! Facts are gathered and plans applied against `&dyn Sys`; the real implementation runs programs
//! and touches the disk, [`FakeSys`] records what would have happened and answers from a script,
//! so every operation and every OS backend (Windows, macOS, Linux distributions) is unit-tested on
//! any OS, without root. [`RecordingSys`] reads the real machine and records effects instead of
//! performing them: how a trust store's commands are planned.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::platform::Platform;

/// A program invocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment (`None` removes the variable).
    pub env: Vec<(String, Option<String>)>,
    pub stdin: Option<Vec<u8>>,
    pub cwd: Option<PathBuf>,
    /// An attached program's stdout goes to devenv's stderr (a build's progress: devenv's
    /// stdout is for its own output, one JSON document with `--json`).
    pub stdout_to_stderr: bool,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            ..Default::default()
        }
    }
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), Some(v.into())));
        self
    }
    pub fn env_remove(mut self, k: impl Into<String>) -> Self {
        self.env.push((k.into(), None));
        self
    }
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }
    /// The command line as a user would type it (for --dry-run and error messages).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// Exit code; -1 when killed by a signal.
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// What a command did, as recorded by [`FakeSys`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Run(String),
    Write {
        path: PathBuf,
        data: Vec<u8>,
    },
    Remove(PathBuf),
    MkdirAll(PathBuf),
    /// The hosts file written through its careful writer, with its new content.
    Hosts {
        path: PathBuf,
        data: Vec<u8>,
    },
}

/// A lock held on a file until dropped (a no-op in [`FakeSys`]).
pub struct FileLock(#[allow(dead_code)] Option<std::fs::File>);

pub trait Sys: Send + Sync {
    /// Runs a program and captures its output. `Err` only when it could not be started.
    fn run(&self, cmd: &Cmd) -> std::io::Result<Output>;
    /// Runs a program attached to this terminal; returns its exit code.
    fn run_attached(&self, cmd: &Cmd) -> std::io::Result<i32>;
    /// Runs a program and hands each line of its output (stdout and stderr) to `line` as it
    /// comes; kills it after `timeout`. `Ok(None)`: killed at the timeout.
    fn run_streamed(
        &self,
        cmd: &Cmd,
        timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>>;
    /// Writes a file atomically (temp file + rename), creating parent directories.
    fn write_file(&self, path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()>;
    fn remove_file(&self, path: &Path) -> std::io::Result<()>;
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()>;
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    fn exists(&self, path: &Path) -> bool;
    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<PathBuf>>;
    /// Full path of a program on PATH.
    fn which(&self, program: &str) -> Option<PathBuf>;
    fn var(&self, key: &str) -> Option<String>;
    /// Every environment variable (UTF-8 ones), for `${VAR}` in a stack.
    fn vars(&self) -> BTreeMap<String, String>;
    /// Writes one of devenv's files for the user (atomically; under sudo owned by the invoking
    /// user, not root).
    fn write_user_file(&self, path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()>;
    /// Creates a new file, failing if anything exists at `path` (never replaces a file that
    /// appeared meanwhile).
    fn create_file(&self, path: &Path, data: &[u8]) -> std::io::Result<()>;
    /// Writes rendered files into a directory, never touching what devenv did not write there
    /// (see [`crate::fsutil::write_output`]).
    fn write_output(
        &self,
        dir: &Path,
        files: &[(crate::name::RelPath, String)],
        kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport>;
    /// Applies a hosts-file plan through the careful writer (lock, compare, backup, atomic write).
    fn write_hosts(
        &self,
        plan: crate::hosts::HostsPlan,
        opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<(crate::hosts::HostsPlan, crate::hosts::write::Outcome)>;
    /// An exclusive lock on `path` (created if needed), held until the value is dropped.
    fn lock(&self, path: &Path) -> std::io::Result<FileLock>;
    /// The operating system devenv serves.
    fn platform(&self) -> Platform;
    /// Whether the kernel that runs a local swarm has IPVS (`None`: unknown, assume yes).
    fn ipvs(&self) -> Option<bool>;
    /// Whether this process has administrator rights.
    fn is_admin(&self) -> bool;
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// Whether a TCP port is free on this machine (`Err`: cannot tell).
    fn port_free(&self, port: u16) -> std::io::Result<bool>;
    /// What `name:port` serves (a TLS handshake, else an HTTP request); `Closed` when the name
    /// does not resolve or nothing accepts connections.
    fn serves(&self, name: &str, port: u16) -> crate::probe::Served;
    /// The addresses `name` resolves to on this machine (`Err`: why it does not).
    fn resolve(&self, name: &str) -> Result<Vec<std::net::IpAddr>, String>;
}

/// The real machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSys;

impl RealSys {
    fn command(cmd: &Cmd) -> Command {
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
}

impl Sys for RealSys {
    fn run(&self, cmd: &Cmd) -> std::io::Result<Output> {
        crate::ui::debug(&format!("$ {}", cmd.display()));
        let mut c = Self::command(cmd);
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
            // Write from a thread so a child that fills its stdout first cannot deadlock us.
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

    fn run_attached(&self, cmd: &Cmd) -> std::io::Result<i32> {
        crate::ui::debug(&format!("$ {}", cmd.display()));
        let mut c = Self::command(cmd);
        if cmd.stdout_to_stderr {
            c.stdout(std::io::stderr());
        }
        let status = c.status()?;
        Ok(status.code().unwrap_or(-1))
    }

    fn run_streamed(
        &self,
        cmd: &Cmd,
        timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        use std::io::BufRead;
        crate::ui::debug(&format!("$ {}", cmd.display()));
        let mut c = Self::command(cmd);
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

    fn write_file(&self, path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
        crate::fsutil::write_atomic(path, data, mode)
    }

    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
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

    fn write_user_file(&self, path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
        crate::fsutil::write_atomic(path, data, mode)?;
        crate::paths::chown_to_invoking_user(path);
        Ok(())
    }

    fn create_file(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        f.write_all(data)?;
        f.sync_all()
    }

    fn write_output(
        &self,
        dir: &Path,
        files: &[(crate::name::RelPath, String)],
        kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport> {
        crate::fsutil::write_output(dir, files, kind)
    }

    fn write_hosts(
        &self,
        plan: crate::hosts::HostsPlan,
        opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<(crate::hosts::HostsPlan, crate::hosts::write::Outcome)> {
        crate::hosts::execute(plan, opts)
    }

    fn lock(&self, path: &Path) -> std::io::Result<FileLock> {
        let mut o = std::fs::OpenOptions::new();
        o.create(true).truncate(false).read(true).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let f = o.open(path)?;
        if f.try_lock().is_err() {
            crate::ui::info(&format!(
                "waiting for another devenv run (it holds {})...",
                path.display()
            ));
            f.lock()?;
        }
        Ok(FileLock(Some(f)))
    }

    fn platform(&self) -> Platform {
        Platform::current()
    }

    fn ipvs(&self) -> Option<bool> {
        crate::swarm::ipvs_available()
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
        crate::hosts::elevate::is_admin()
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

    fn serves(&self, name: &str, port: u16) -> crate::probe::Served {
        use std::net::ToSocketAddrs;
        match (name, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
        {
            Some(addr) => crate::probe::serves(name, addr, std::time::Duration::from_secs(2)),
            None => crate::probe::Served::Unresolved,
        }
    }

    fn resolve(&self, name: &str) -> Result<Vec<std::net::IpAddr>, String> {
        use std::net::ToSocketAddrs;
        let v: Vec<std::net::IpAddr> = (name, 0)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .map(|a| a.ip())
            .collect();
        if v.is_empty() {
            Err("no address".into())
        } else {
            Ok(v)
        }
    }
}

/// A scripted machine for unit tests: a virtual file system, environment and PATH, canned
/// program outputs, and a log of every effect.
#[derive(Debug, Default)]
pub struct FakeSys {
    inner: Mutex<FakeInner>,
}

#[derive(Debug, Default)]
struct FakeInner {
    files: BTreeMap<PathBuf, Vec<u8>>,
    dirs: std::collections::BTreeSet<PathBuf>,
    env: BTreeMap<String, String>,
    programs: BTreeMap<String, PathBuf>,
    /// (command line prefix, response); the longest matching prefix wins.
    responses: Vec<(String, Output)>,
    effects: Vec<Effect>,
    platform: Option<Platform>,
    ipvs: Option<bool>,
    admin: bool,
    now: Option<i64>,
    busy_ports: Vec<u16>,
    serving: BTreeMap<u16, crate::probe::Served>,
    unresolvable: Vec<String>,
}

/// The time a [`FakeSys`] answers unless told otherwise: 2026-06-01T00:00:00Z.
pub const FAKE_NOW: i64 = 1_780_272_000;

impl FakeSys {
    pub fn new() -> Self {
        Self::default()
    }
    /// Puts a file (and its parent directories) on the virtual disk.
    pub fn file(self, path: impl Into<PathBuf>, data: impl Into<Vec<u8>>) -> Self {
        {
            let mut i = self.inner.lock().unwrap();
            let p = path.into();
            let mut a = p.parent();
            while let Some(d) = a {
                i.dirs.insert(d.to_path_buf());
                a = d.parent();
            }
            i.files.insert(p, data.into());
        }
        self
    }
    pub fn dir(self, path: impl Into<PathBuf>) -> Self {
        {
            let mut i = self.inner.lock().unwrap();
            let p: PathBuf = path.into();
            let mut a = Some(p.as_path());
            while let Some(d) = a {
                i.dirs.insert(d.to_path_buf());
                a = d.parent();
            }
        }
        self
    }
    pub fn env(self, k: &str, v: &str) -> Self {
        self.inner
            .lock()
            .unwrap()
            .env
            .insert(k.to_string(), v.to_string());
        self
    }
    /// Makes `program` available on the fake PATH at `path`.
    pub fn program(self, program: &str, path: &str) -> Self {
        self.inner
            .lock()
            .unwrap()
            .programs
            .insert(program.to_string(), PathBuf::from(path));
        self
    }
    /// Answers commands whose display starts with `prefix`.
    pub fn respond(self, prefix: &str, status: i32, stdout: &str) -> Self {
        self.respond_full(prefix, status, stdout, "")
    }
    pub fn respond_full(self, prefix: &str, status: i32, stdout: &str, stderr: &str) -> Self {
        self.inner.lock().unwrap().responses.push((
            prefix.to_string(),
            Output {
                status,
                stdout: stdout.as_bytes().to_vec(),
                stderr: stderr.as_bytes().to_vec(),
            },
        ));
        self
    }
    pub fn platform(self, p: Platform) -> Self {
        self.inner.lock().unwrap().platform = Some(p);
        self
    }
    pub fn ipvs(self, v: Option<bool>) -> Self {
        self.inner.lock().unwrap().ipvs = v;
        self
    }
    pub fn admin(self, yes: bool) -> Self {
        self.inner.lock().unwrap().admin = yes;
        self
    }
    pub fn now(self, t: i64) -> Self {
        self.inner.lock().unwrap().now = Some(t);
        self
    }
    /// A port another program holds.
    /// What port `p` serves (default: HTTP).
    pub fn serving(self, p: u16, what: crate::probe::Served) -> Self {
        self.inner.lock().unwrap().serving.insert(p, what);
        self
    }
    /// A name that does not resolve (every other name resolves to 127.0.0.1).
    pub fn unresolvable(self, name: &str) -> Self {
        self.inner
            .lock()
            .unwrap()
            .unresolvable
            .push(name.to_string());
        self
    }
    pub fn busy_port(self, p: u16) -> Self {
        self.inner.lock().unwrap().busy_ports.push(p);
        self
    }
    pub fn effects(&self) -> Vec<Effect> {
        self.inner.lock().unwrap().effects.clone()
    }
    /// The files written (devenv's own and rendered ones), in order.
    pub fn written(&self) -> Vec<PathBuf> {
        self.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Write { path, .. } => Some(path),
                _ => None,
            })
            .collect()
    }
    /// The command lines run, in order.
    pub fn commands(&self) -> Vec<String> {
        self.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Run(c) => Some(c),
                _ => None,
            })
            .collect()
    }
    pub fn file_content(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        self.inner.lock().unwrap().files.get(path.as_ref()).cloned()
    }
    fn answer(&self, line: &str) -> Output {
        let i = self.inner.lock().unwrap();
        i.responses
            .iter()
            .filter(|(p, _)| line.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    }
}

impl Sys for FakeSys {
    fn run(&self, cmd: &Cmd) -> std::io::Result<Output> {
        let line = cmd.display();
        self.inner
            .lock()
            .unwrap()
            .effects
            .push(Effect::Run(line.clone()));
        Ok(self.answer(&line))
    }
    fn run_attached(&self, cmd: &Cmd) -> std::io::Result<i32> {
        self.run(cmd).map(|o| o.status)
    }
    fn run_streamed(
        &self,
        cmd: &Cmd,
        _timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        let o = self.run(cmd)?;
        for l in o.stdout_str().lines().chain(o.stderr_str().lines()) {
            line(l);
        }
        // a status of 124 is scripted as a timeout
        Ok((o.status != 124).then_some(o.status))
    }
    fn write_file(&self, path: &Path, data: &[u8], _mode: Option<u32>) -> std::io::Result<()> {
        let mut i = self.inner.lock().unwrap();
        i.effects.push(Effect::Write {
            path: path.to_path_buf(),
            data: data.to_vec(),
        });
        i.files.insert(path.to_path_buf(), data.to_vec());
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        let mut i = self.inner.lock().unwrap();
        i.effects.push(Effect::Remove(path.to_path_buf()));
        i.files.remove(path);
        Ok(())
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        let mut i = self.inner.lock().unwrap();
        if !i.dirs.contains(path) {
            i.effects.push(Effect::MkdirAll(path.to_path_buf()));
            let mut a = Some(path);
            while let Some(d) = a {
                i.dirs.insert(d.to_path_buf());
                a = d.parent();
            }
        }
        Ok(())
    }
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.inner
            .lock()
            .unwrap()
            .files
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file (fake)"))
    }
    fn exists(&self, path: &Path) -> bool {
        let i = self.inner.lock().unwrap();
        i.files.contains_key(path) || i.dirs.contains(path)
    }
    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<PathBuf>> {
        let i = self.inner.lock().unwrap();
        if !i.dirs.contains(path) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such dir (fake)",
            ));
        }
        let mut v: Vec<PathBuf> = i
            .files
            .keys()
            .chain(i.dirs.iter())
            .filter(|p| p.parent() == Some(path))
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }
    fn which(&self, program: &str) -> Option<PathBuf> {
        self.inner.lock().unwrap().programs.get(program).cloned()
    }
    fn var(&self, key: &str) -> Option<String> {
        self.inner.lock().unwrap().env.get(key).cloned()
    }
    fn vars(&self) -> BTreeMap<String, String> {
        self.inner.lock().unwrap().env.clone()
    }
    fn write_user_file(&self, path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
        self.write_file(path, data, mode)
    }
    fn create_file(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        if self.exists(path) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists (fake)",
            ));
        }
        self.write_file(path, data, None)
    }
    fn write_output(
        &self,
        dir: &Path,
        files: &[(crate::name::RelPath, String)],
        _kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport> {
        write_each(self, dir, files)
    }
    fn write_hosts(
        &self,
        plan: crate::hosts::HostsPlan,
        _opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<(crate::hosts::HostsPlan, crate::hosts::write::Outcome)> {
        let data = plan.after();
        let method = if plan.changes() {
            crate::hosts::write::Method::Atomic
        } else {
            crate::hosts::write::Method::Unchanged
        };
        let mut i = self.inner.lock().unwrap();
        if plan.changes() {
            i.effects.push(Effect::Hosts {
                path: plan.path.clone(),
                data: data.clone(),
            });
            i.files.insert(plan.path.clone(), data);
        }
        Ok((
            plan,
            crate::hosts::write::Outcome {
                method,
                backup: None,
            },
        ))
    }
    fn lock(&self, _path: &Path) -> std::io::Result<FileLock> {
        Ok(FileLock(None))
    }
    fn platform(&self) -> Platform {
        self.inner
            .lock()
            .unwrap()
            .platform
            .unwrap_or_else(Platform::linux)
    }
    fn ipvs(&self) -> Option<bool> {
        self.inner.lock().unwrap().ipvs
    }
    fn is_admin(&self) -> bool {
        self.inner.lock().unwrap().admin
    }
    fn now(&self) -> i64 {
        self.inner.lock().unwrap().now.unwrap_or(FAKE_NOW)
    }
    fn port_free(&self, port: u16) -> std::io::Result<bool> {
        Ok(!self.inner.lock().unwrap().busy_ports.contains(&port))
    }
    fn serves(&self, name: &str, port: u16) -> crate::probe::Served {
        let i = self.inner.lock().unwrap();
        if i.unresolvable.iter().any(|u| u == name) {
            return crate::probe::Served::Unresolved;
        }
        i.serving
            .get(&port)
            .copied()
            .unwrap_or(crate::probe::Served::Http)
    }
    fn resolve(&self, name: &str) -> Result<Vec<std::net::IpAddr>, String> {
        if self
            .inner
            .lock()
            .unwrap()
            .unresolvable
            .iter()
            .any(|u| u == name)
        {
            Err("Name or service not known".into())
        } else {
            Ok(vec![std::net::IpAddr::from([127, 0, 0, 1])])
        }
    }
}

/// Reads the real machine and records every effect instead of performing it: what a trust
/// store's install or uninstall would run, as lines of a plan.
#[derive(Debug, Default)]
pub struct RecordingSys {
    effects: Mutex<Vec<Effect>>,
}

impl RecordingSys {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn effects(&self) -> Vec<Effect> {
        self.effects.lock().unwrap().clone()
    }
    /// The effects recorded since the last call, as lines for the user (one store, one step).
    pub fn take_described(&self) -> Vec<String> {
        std::mem::take(&mut *self.effects.lock().unwrap())
            .into_iter()
            .map(|e| match e {
                Effect::Run(c) => format!("run: {c}"),
                Effect::Write { path, data } => {
                    format!("write {} ({} bytes)", path.display(), data.len())
                }
                Effect::Remove(p) => format!("remove {}", p.display()),
                Effect::MkdirAll(p) => format!("create directory {}", p.display()),
                Effect::Hosts { path, .. } => format!("write {}", path.display()),
            })
            .collect()
    }
}

impl Sys for RecordingSys {
    fn run(&self, cmd: &Cmd) -> std::io::Result<Output> {
        self.effects
            .lock()
            .unwrap()
            .push(Effect::Run(cmd.display()));
        Ok(Output::default())
    }
    fn run_attached(&self, cmd: &Cmd) -> std::io::Result<i32> {
        self.run(cmd).map(|_| 0)
    }
    fn run_streamed(
        &self,
        cmd: &Cmd,
        _timeout: std::time::Duration,
        _line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        self.run(cmd).map(|_| Some(0))
    }
    fn write_file(&self, path: &Path, data: &[u8], _mode: Option<u32>) -> std::io::Result<()> {
        self.effects.lock().unwrap().push(Effect::Write {
            path: path.to_path_buf(),
            data: data.to_vec(),
        });
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.effects
            .lock()
            .unwrap()
            .push(Effect::Remove(path.to_path_buf()));
        Ok(())
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.effects
            .lock()
            .unwrap()
            .push(Effect::MkdirAll(path.to_path_buf()));
        Ok(())
    }
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        RealSys.read_file(path)
    }
    fn exists(&self, path: &Path) -> bool {
        RealSys.exists(path)
    }
    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<PathBuf>> {
        RealSys.read_dir(path)
    }
    fn which(&self, program: &str) -> Option<PathBuf> {
        RealSys.which(program)
    }
    fn var(&self, key: &str) -> Option<String> {
        RealSys.var(key)
    }
    fn vars(&self) -> BTreeMap<String, String> {
        RealSys.vars()
    }
    fn write_user_file(&self, path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
        self.write_file(path, data, mode)
    }
    fn create_file(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.write_file(path, data, None)
    }
    fn write_output(
        &self,
        dir: &Path,
        files: &[(crate::name::RelPath, String)],
        _kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport> {
        write_each(self, dir, files)
    }
    fn write_hosts(
        &self,
        plan: crate::hosts::HostsPlan,
        _opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<(crate::hosts::HostsPlan, crate::hosts::write::Outcome)> {
        self.effects.lock().unwrap().push(Effect::Hosts {
            path: plan.path.clone(),
            data: plan.after(),
        });
        Ok((
            plan,
            crate::hosts::write::Outcome {
                method: crate::hosts::write::Method::Unchanged,
                backup: None,
            },
        ))
    }
    fn lock(&self, _path: &Path) -> std::io::Result<FileLock> {
        Ok(FileLock(None))
    }
    fn platform(&self) -> Platform {
        RealSys.platform()
    }
    fn ipvs(&self) -> Option<bool> {
        RealSys.ipvs()
    }
    fn is_admin(&self) -> bool {
        RealSys.is_admin()
    }
    fn now(&self) -> i64 {
        RealSys.now()
    }
    fn port_free(&self, port: u16) -> std::io::Result<bool> {
        RealSys.port_free(port)
    }
    fn serves(&self, name: &str, port: u16) -> crate::probe::Served {
        RealSys.serves(name, port)
    }
    fn resolve(&self, name: &str) -> Result<Vec<std::net::IpAddr>, String> {
        RealSys.resolve(name)
    }
}

/// Converts OS strings for display.
pub fn lossy(s: &OsString) -> String {
    s.to_string_lossy().into_owned()
}

/// A test seam's `write_output`: each file written (and recorded) on its own, no directory swap.
fn write_each(
    sys: &dyn Sys,
    dir: &Path,
    files: &[(crate::name::RelPath, String)],
) -> anyhow::Result<crate::fsutil::OutputReport> {
    let mut out = crate::fsutil::OutputReport::default();
    for (rel, content) in files {
        let p = rel.under(dir);
        sys.write_file(&p, content.as_bytes(), None)?;
        out.written.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_answers_longest_prefix_and_records() {
        let s = FakeSys::new()
            .respond("docker", 0, "generic")
            .respond("docker info", 0, "info");
        let o = s.run(&Cmd::new("docker").arg("info")).unwrap();
        assert_eq!(o.stdout_str(), "info");
        let o = s.run(&Cmd::new("docker").arg("ps")).unwrap();
        assert_eq!(o.stdout_str(), "generic");
        assert_eq!(s.commands(), vec!["docker info", "docker ps"]);
    }

    #[test]
    fn display_quotes_when_needed() {
        let c = Cmd::new("certutil").args(["-n", "devenv CA", "-t", "C,,"]);
        assert_eq!(c.display(), "certutil -n 'devenv CA' -t C,,");
    }
}

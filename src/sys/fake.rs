//! A scripted machine for unit tests (compiled for tests only): a virtual file system,
//! environment and PATH, canned program outputs, and a log of every effect the executor asked
//! for. Queries must be read-only ([`crate::cmd::read_only`]): a plan that queries anything
//! else fails its test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::Facts;
use crate::cmd::{Cmd, Output};
use crate::exec::{Effects, FileLock, HostsWrite, Owner, SshRequest, Token};
use crate::platform::Platform;

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
    /// A lock taken (its file created).
    Lock(PathBuf),
    /// The run's SSH connection opened.
    Ssh(String),
    /// Commands to run on an interrupt (registered, not run).
    OnInterrupt(Vec<String>),
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
    /// Every command line, read-only queries and effects alike, in order.
    commands: Vec<String>,
    homes: BTreeMap<u32, PathBuf>,
    /// What each `run_fed` was fed, in order.
    fed: Vec<Vec<u8>>,
    /// Any effect fails the test at once (a dry run must reach none).
    strict: bool,
    platform: Option<Platform>,
    ipvs: Option<super::ipvs::IpvsState>,
    kernel: Option<String>,
    admin: bool,
    now: Option<i64>,
    busy_ports: Vec<u16>,
    serving: BTreeMap<u16, crate::probe::Answer>,
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
        use super::ipvs::IpvsState;
        self.ipvs_state(v.map(|a| {
            if a {
                IpvsState::Loaded
            } else {
                IpvsState::Absent
            }
        }))
    }
    pub fn ipvs_state(self, v: Option<super::ipvs::IpvsState>) -> Self {
        self.inner.lock().unwrap().ipvs = v;
        self
    }
    pub fn kernel(self, release: &str) -> Self {
        self.inner.lock().unwrap().kernel = Some(release.to_string());
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
    pub fn serving(self, p: u16, what: impl Into<crate::probe::Answer>) -> Self {
        self.inner.lock().unwrap().serving.insert(p, what.into());
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
    /// The command lines run, read-only queries and effects alike, in order.
    pub fn commands(&self) -> Vec<String> {
        self.inner.lock().unwrap().commands.clone()
    }
    /// The command lines run as effects (through the executor), in order.
    pub fn effect_commands(&self) -> Vec<String> {
        self.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Run(c) => Some(c),
                _ => None,
            })
            .collect()
    }
    /// A machine on which any effect fails the test where it happens: what a dry run runs on.
    pub fn forbid_effects(self) -> Self {
        self.inner.lock().unwrap().strict = true;
        self
    }
    fn effect(&self, what: &str) {
        assert!(
            !self.inner.lock().unwrap().strict,
            "an effect on a machine that forbids them: {what}"
        );
    }
    /// What each streamed input was (`docker cp -`'s tar), in order.
    pub fn fed(&self) -> Vec<Vec<u8>> {
        self.inner.lock().unwrap().fed.clone()
    }
    /// The home of a user id, as the password database would say.
    pub fn home(self, uid: u32, home: &str) -> Self {
        self.inner
            .lock()
            .unwrap()
            .homes
            .insert(uid, PathBuf::from(home));
        self
    }
    /// Writes what was recorded as written under the system's temp directory to the real disk
    /// too: for tests whose next plan reads a temp project through the contained reader.
    pub fn persist_writes(&self) {
        let tmp = std::env::temp_dir();
        for (p, data) in self.inner.lock().unwrap().files.iter() {
            if p.starts_with(&tmp) {
                if let Some(d) = p.parent() {
                    let _ = std::fs::create_dir_all(d);
                }
                let _ = std::fs::write(p, data);
            }
        }
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

impl FakeSys {
    fn log_command(&self, line: &str, effect: bool) -> Output {
        let mut i = self.inner.lock().unwrap();
        i.commands.push(line.to_string());
        if effect {
            i.effects.push(Effect::Run(line.to_string()));
        }
        drop(i);
        self.answer(line)
    }
}

impl Facts for FakeSys {
    fn query(&self, cmd: &Cmd) -> std::io::Result<Output> {
        assert!(
            crate::cmd::read_only(cmd),
            "a plan queried `{}`, which is not read-only",
            cmd.display()
        );
        Ok(self.log_command(&cmd.display(), false))
    }
    fn query_streamed(
        &self,
        cmd: &Cmd,
        _timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        let o = self.query(cmd)?;
        for l in o.stdout_str().lines().chain(o.stderr_str().lines()) {
            line(l);
        }
        Ok(Some(o.status))
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
    fn platform(&self) -> Platform {
        self.inner
            .lock()
            .unwrap()
            .platform
            .unwrap_or_else(Platform::linux)
    }
    fn ipvs_state(&self) -> Option<super::ipvs::IpvsState> {
        self.inner.lock().unwrap().ipvs
    }
    fn kernel_release(&self) -> Option<String> {
        self.inner.lock().unwrap().kernel.clone()
    }
    fn is_admin(&self) -> bool {
        self.inner.lock().unwrap().admin
    }
    fn home_of(&self, uid: u32) -> Option<PathBuf> {
        self.inner.lock().unwrap().homes.get(&uid).cloned()
    }
    fn now(&self) -> i64 {
        self.inner.lock().unwrap().now.unwrap_or(FAKE_NOW)
    }
    fn port_free(&self, port: u16) -> std::io::Result<bool> {
        Ok(!self.inner.lock().unwrap().busy_ports.contains(&port))
    }
    fn serves(&self, name: &str, port: u16, lookup: &crate::probe::Lookup) -> crate::probe::Answer {
        if lookup.addrs(name, port, &|n| self.resolve(n)).is_err() {
            return crate::probe::Served::Unresolved.into();
        }
        let i = self.inner.lock().unwrap();
        i.serving
            .get(&port)
            .copied()
            .unwrap_or(crate::probe::Served::Http.into())
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

impl Effects for FakeSys {
    fn run(&self, _t: Token, cmd: &Cmd) -> std::io::Result<Output> {
        self.effect("run");
        Ok(self.log_command(&cmd.display(), true))
    }
    fn run_fed(
        &self,
        t: Token,
        cmd: &Cmd,
        feed: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<Output> {
        self.effect("run_fed");
        let mut data = Vec::new();
        feed(&mut data)?;
        self.inner.lock().unwrap().fed.push(data);
        self.run(t, cmd)
    }
    fn run_attached(&self, t: Token, cmd: &Cmd) -> std::io::Result<i32> {
        self.effect("run_attached");
        self.run(t, cmd).map(|o| o.status)
    }
    fn run_streamed(
        &self,
        t: Token,
        cmd: &Cmd,
        _timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        self.effect("run_streamed");
        let o = self.run(t, cmd)?;
        for l in o.stdout_str().lines().chain(o.stderr_str().lines()) {
            line(l);
        }
        // a status of 124 is scripted as a timeout
        Ok((o.status != 124).then_some(o.status))
    }
    fn write_file(
        &self,
        _t: Token,
        path: &Path,
        data: &[u8],
        _mode: Option<u32>,
        _owner: Owner,
    ) -> std::io::Result<()> {
        self.effect("write_file");
        let mut i = self.inner.lock().unwrap();
        i.effects.push(Effect::Write {
            path: path.to_path_buf(),
            data: data.to_vec(),
        });
        i.files.insert(path.to_path_buf(), data.to_vec());
        Ok(())
    }
    fn create_file(&self, t: Token, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.effect("create_file");
        if self.exists(path) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists (fake)",
            ));
        }
        self.write_file(t, path, data, None, Owner::User)
    }
    fn remove_file(&self, _t: Token, path: &Path) -> std::io::Result<()> {
        self.effect("remove_file");
        let mut i = self.inner.lock().unwrap();
        i.effects.push(Effect::Remove(path.to_path_buf()));
        i.files.remove(path);
        Ok(())
    }
    fn create_dir_all(&self, _t: Token, path: &Path, _mode: Option<u32>) -> std::io::Result<()> {
        self.effect("create_dir_all");
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
    fn write_output(
        &self,
        t: Token,
        dir: &Path,
        files: &[(crate::name::RelPath, String)],
        _kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport> {
        self.effect("write_output");
        let mut out = crate::fsutil::OutputReport::default();
        for (rel, content) in files {
            let p = rel.under(dir);
            self.write_file(t, &p, content.as_bytes(), None, Owner::User)?;
            out.written.push(p);
        }
        Ok(out)
    }
    fn write_hosts(
        &self,
        _t: Token,
        w: HostsWrite<'_>,
        _opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<crate::hosts::write::Outcome> {
        self.effect("write_hosts");
        let changes = !w.edit.is_noop(&w.before);
        let data = w.edit.materialize(&w.before);
        let mut i = self.inner.lock().unwrap();
        if changes {
            i.effects.push(Effect::Hosts {
                path: w.path.to_path_buf(),
                data: data.clone(),
            });
            i.files.insert(w.path.to_path_buf(), data);
        }
        Ok(crate::hosts::write::Outcome {
            method: if changes {
                crate::hosts::write::Method::Atomic
            } else {
                crate::hosts::write::Method::Unchanged
            },
            backup: None,
        })
    }
    fn lock(&self, _t: Token, path: &Path) -> std::io::Result<FileLock> {
        self.effect("lock");
        self.inner
            .lock()
            .unwrap()
            .effects
            .push(Effect::Lock(path.to_path_buf()));
        Ok(FileLock(None))
    }
    fn on_interrupt(&self, _t: Token, cmds: Vec<Cmd>) -> crate::exec::interrupt::Guard {
        self.effect("on_interrupt");
        self.inner
            .lock()
            .unwrap()
            .effects
            .push(Effect::OnInterrupt(cmds.iter().map(Cmd::display).collect()));
        crate::exec::interrupt::Guard::none()
    }
    fn open_ssh(&self, _t: Token, req: &SshRequest) -> Option<crate::exec::ssh::Shared> {
        self.effect("open_ssh");
        self.inner
            .lock()
            .unwrap()
            .effects
            .push(Effect::Ssh(req.endpoint.clone()));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Executor, Mode};

    #[test]
    fn fake_answers_longest_prefix_and_records() {
        let s = FakeSys::new()
            .respond("docker", 0, "generic")
            .respond("docker info", 0, "info");
        let o = s.query(&Cmd::new("docker").arg("info")).unwrap();
        assert_eq!(o.stdout_str(), "info");
        let o = Executor::new(&s, Mode::Apply)
            .run(&Cmd::new("docker").arg("kill").arg("x"))
            .unwrap();
        assert_eq!(o.stdout_str(), "generic");
        assert_eq!(s.commands(), vec!["docker info", "docker kill x"]);
        assert_eq!(s.effect_commands(), vec!["docker kill x"]);
    }

    #[test]
    fn display_quotes_when_needed() {
        let c = Cmd::new("certutil").args(["-n", "devenv CA", "-t", "C,,"]);
        assert_eq!(c.display(), "certutil -n 'devenv CA' -t C,,");
    }
}

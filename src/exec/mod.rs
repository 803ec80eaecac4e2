//! The executor: the only code that changes anything — programs that mutate (docker calls that
//! deploy, remove or run something, a trust store's tool, a DNS flush), devenv's own files, the
//! hosts file, locks, the SSH connection of a run.
//!
//! Changes are made through [`Effects`], whose every method takes a [`Token`] that only this
//! module can make: code elsewhere can hold the real machine ([`crate::sys::RealSys`]) and read
//! every fact of it ([`crate::sys::Facts`]), but a change outside the executor does not compile.
//!
//! The executor is built once per run with its [`Mode`]. In [`Mode::DryRun`] nothing reaches
//! [`Effects`]: each effect is recorded as a "would …" line ([`Executor::would`]) and answers as
//! if it had worked (exit 0, no output), so a command that forgets `--dry-run` still changes
//! nothing. Every write of devenv's own files goes only into the places the executor was given
//! ([`Executor::with_places`]): a `.devenv/` or `certs/` that is a symlink out of the project is
//! refused, not followed. What changed the machine is remembered ([`Executor::applied`]), so a
//! failure can say what it left in place and how to undo it.

pub mod interrupt;
pub mod real;
pub mod ssh;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cmd::{Cmd, Output};
use crate::name::RelPath;

/// Proof that an [`Effects`] call comes from the executor: only this module can make one.
#[derive(Debug, Clone, Copy)]
pub struct Token(());

/// A lock held on a file until dropped.
pub struct FileLock(#[allow(dead_code)] pub(crate) Option<std::fs::File>);

/// Who owns a file devenv writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The user devenv works for (under sudo: the invoking user, not root).
    User,
    /// Whoever runs devenv (a system store's anchor stays root's).
    AsIs,
}

/// What the hosts file's careful writer needs: the content planned from, the edit, and how to
/// plan again if the file changed meanwhile.
pub struct HostsWrite<'a> {
    pub path: &'a Path,
    pub before: Vec<u8>,
    pub edit: crate::hosts::edit::Edit,
    pub replan: &'a dyn Fn(&[u8]) -> anyhow::Result<crate::hosts::edit::Edit>,
}

/// What opening a run's shared SSH connection needs.
#[derive(Debug, Clone)]
pub struct SshRequest {
    /// The real `ssh`.
    pub ssh: PathBuf,
    /// `ssh://USER@HOST[:PORT]`.
    pub endpoint: String,
    /// Keep it for the runs that follow (`DEVENV_SSH_PERSIST`).
    pub keep: Option<crate::ssh::Keep>,
}

/// The changes only the executor can make. Implemented by the real machine
/// ([`real`]) and by the tests' scripted one.
pub trait Effects: Send + Sync {
    /// Runs a program and captures its output. `Err` only when it could not be started.
    fn run(&self, t: Token, cmd: &Cmd) -> std::io::Result<Output>;
    /// Runs a program whose stdin `feed` writes as it goes (a tar stream too large to hold in
    /// memory), its output captured.
    fn run_fed(
        &self,
        t: Token,
        cmd: &Cmd,
        feed: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<Output>;
    /// Runs a program attached to this terminal; returns its exit code.
    fn run_attached(&self, t: Token, cmd: &Cmd) -> std::io::Result<i32>;
    /// Runs a program and hands each line of its output (stdout and stderr) to `line` as it
    /// comes; stops it after `timeout`. `Ok(None)`: stopped at the timeout.
    fn run_streamed(
        &self,
        t: Token,
        cmd: &Cmd,
        timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>>;
    /// Writes a file atomically (temp file + rename), creating parent directories.
    fn write_file(
        &self,
        t: Token,
        path: &Path,
        data: &[u8],
        mode: Option<u32>,
        owner: Owner,
    ) -> std::io::Result<()>;
    /// Creates a new file, failing if anything exists at `path`.
    fn create_file(&self, t: Token, path: &Path, data: &[u8]) -> std::io::Result<()>;
    fn remove_file(&self, t: Token, path: &Path) -> std::io::Result<()>;
    /// Creates a directory and its parents (`mode` for the last one, on Unix).
    fn create_dir_all(&self, t: Token, path: &Path, mode: Option<u32>) -> std::io::Result<()>;
    /// Writes rendered files into a directory, never touching what devenv did not write there.
    fn write_output(
        &self,
        t: Token,
        dir: &Path,
        files: &[(RelPath, String)],
        kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport>;
    /// The hosts file through its careful writer (lock, compare, backup, journal, atomic write).
    fn write_hosts(
        &self,
        t: Token,
        w: HostsWrite<'_>,
        opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<crate::hosts::write::Outcome>;
    /// An exclusive lock on `path` (created if needed), held until the value is dropped.
    fn lock(&self, t: Token, path: &Path) -> std::io::Result<FileLock>;
    /// Runs `cmds` if devenv is interrupted (Ctrl-C) before the guard is dropped: what stops a
    /// task in its container.
    fn on_interrupt(&self, t: Token, cmds: Vec<Cmd>) -> interrupt::Guard;
    /// Opens the run's shared SSH connection (`None`: it cannot be shared here; docker then
    /// connects per call).
    fn open_ssh(&self, t: Token, req: &SshRequest) -> Option<ssh::Shared>;
}

/// The whole machine: its facts and its effects (what a run is given; only the executor uses
/// the effects).
pub trait Machine: crate::sys::Facts + Effects {}

impl<T: crate::sys::Facts + Effects> Machine for T {}

/// What a run does: apply, or only say what it would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    DryRun,
}

/// A change this run made, for the report of a failure after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// What changed, as a user reads it ("the devenv block in /etc/hosts").
    pub what: String,
    /// The command that undoes it, if there is one.
    pub undo: Option<String>,
}

/// A place devenv writes its own files into, as named and as it really is.
#[derive(Debug, Clone)]
struct Place {
    named: PathBuf,
    real: PathBuf,
}

/// One step of a plan that a store or tool made (a trust store's install): run as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Run(Cmd),
    /// A command whose failure does not matter (a trust setting that may already be gone).
    Try(Cmd),
    /// A file written as whoever runs devenv (a system anchor).
    Write {
        path: PathBuf,
        data: Vec<u8>,
        mode: Option<u32>,
    },
    Remove(PathBuf),
}

impl Step {
    /// The step as a line of a plan.
    pub fn describe(&self) -> String {
        match self {
            Step::Run(c) | Step::Try(c) => format!("run: {}", c.display()),
            Step::Write { path, data, .. } => {
                format!("write {} ({} bytes)", path.display(), data.len())
            }
            Step::Remove(p) => format!("remove {}", p.display()),
        }
    }
}

pub struct Executor<'a> {
    effects: &'a dyn Effects,
    mode: Mode,
    /// Where devenv's own files may be written (empty: anywhere a caller names).
    places: Vec<Place>,
    applied: Vec<Applied>,
    would: Vec<String>,
}

/// A failed write as the user needs it: what, why, and what to do.
pub fn write_error(path: &Path, e: &std::io::Error) -> anyhow::Error {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (why, hint) = match e.kind() {
        std::io::ErrorKind::PermissionDenied => (
            "permission denied".to_string(),
            format!(
                "make {} writable by you (or run devenv as its owner)",
                dir.display()
            ),
        ),
        std::io::ErrorKind::StorageFull => (
            "no space left on device".to_string(),
            "free some space, then run the command again".to_string(),
        ),
        std::io::ErrorKind::ReadOnlyFilesystem => (
            "read-only file system".to_string(),
            format!("{} is on a read-only file system", dir.display()),
        ),
        _ => (e.to_string(), format!("check {}", dir.display())),
    };
    crate::error::UserError::new(format!("cannot write {}: {why}", path.display()))
        .hint(hint)
        .into()
}

/// A program as the plan shows it: its name, not the full path found on PATH.
fn shown(c: &Cmd) -> String {
    let mut c = c.clone();
    if let Some(name) = Path::new(&c.program).file_stem() {
        c.program = name.to_string_lossy().into_owned();
    }
    c.display()
}

impl<'a> Executor<'a> {
    pub fn new(effects: &'a dyn Effects, mode: Mode) -> Executor<'a> {
        Executor {
            effects,
            mode,
            places: Vec::new(),
            applied: Vec::new(),
            would: Vec::new(),
        }
    }

    /// The places devenv's own files may be written into (the project, the data directory, the
    /// CA's directory): a write elsewhere, or through a symlinked directory below one of them,
    /// is refused.
    pub fn with_places(mut self, places: &[PathBuf]) -> Executor<'a> {
        self.places = places
            .iter()
            .map(|p| Place {
                named: crate::fsutil::normalize_lexically(p),
                real: crate::contained::resolve(p).unwrap_or_else(|_| p.clone()),
            })
            .collect();
        self
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn dry_run(&self) -> bool {
        self.mode == Mode::DryRun
    }

    /// What a dry run would have done, one line each.
    pub fn would(&self) -> &[String] {
        &self.would
    }

    /// What this run changed so far, in order.
    pub fn applied(&self) -> &[Applied] {
        &self.applied
    }

    /// Remembers a change (for the report of a later failure).
    pub fn record(&mut self, what: impl Into<String>, undo: Option<String>) {
        let a = Applied {
            what: what.into(),
            undo,
        };
        if !self.applied.contains(&a) {
            self.applied.push(a);
        }
    }

    /// In a dry run: notes the line and answers `true` (the caller acts as if it worked).
    fn skip(&mut self, line: impl FnOnce() -> String) -> bool {
        match self.mode {
            Mode::Apply => false,
            Mode::DryRun => {
                let l = line();
                crate::ui::debug(&format!("dry run: would {l}"));
                self.would.push(l);
                true
            }
        }
    }

    /// `path` is inside one of the executor's places with no symlink on the way (a planted
    /// `.devenv -> /home/me` is refused, never followed).
    fn check_place(&self, path: &Path) -> anyhow::Result<()> {
        if self.places.is_empty() {
            return Ok(());
        }
        let abs = crate::fsutil::normalize_lexically(&if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()?.join(path)
        });
        let place = self
            .places
            .iter()
            .filter_map(|p| {
                abs.strip_prefix(&p.named)
                    .or_else(|_| abs.strip_prefix(&p.real))
                    .ok()
                    .map(|rel| (p, rel.to_path_buf()))
            })
            .max_by_key(|(p, _)| p.real.as_os_str().len());
        let Some((place, rel)) = place else {
            return Err(crate::error::UserError::new(format!(
                "devenv does not write {}: it is outside the places it writes its own files into ({})",
                path.display(),
                self.places
                    .iter()
                    .map(|p| p.named.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        };
        let expected = place.real.join(&rel);
        let parent = expected.parent().unwrap_or(&expected);
        let real_parent = crate::contained::resolve(parent)?;
        if real_parent != parent {
            return Err(crate::error::UserError::new(format!(
                "devenv does not write {}: a directory on the way is a symlink (it leads to {})",
                path.display(),
                real_parent.display()
            ))
            .hint(
                "remove the symlink (devenv's own directories are plain directories) and run the command again; nothing was written there",
            )
            .into());
        }
        if let Ok(m) = std::fs::symlink_metadata(&expected)
            && m.file_type().is_symlink()
        {
            return Err(crate::error::UserError::new(format!(
                "devenv does not write {}: it is a symlink (to {})",
                path.display(),
                crate::contained::link_target(&expected)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default()
            ))
            .hint("remove it and run the command again; nothing was written there")
            .into());
        }
        Ok(())
    }

    /// A program that changes something, its output captured; a failure to start is an error,
    /// a non-zero exit is the caller's to read.
    pub fn run(&mut self, c: &Cmd) -> std::io::Result<Output> {
        if self.skip(|| format!("run: {}", shown(c))) {
            return Ok(Output::default());
        }
        crate::ui::debug(&format!("apply: {}", c.display()));
        self.effects.run(Token(()), c)
    }

    /// A program whose stdin is written by `feed` as it runs (`docker cp -` of a tar stream).
    pub fn run_fed(
        &mut self,
        c: &Cmd,
        feed: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<Output> {
        if self.skip(|| format!("run: {} (its input streamed)", shown(c))) {
            return Ok(Output::default());
        }
        crate::ui::debug(&format!("apply: {} < stream", c.display()));
        self.effects.run_fed(Token(()), c, feed)
    }

    /// A program attached to the terminal (a build's output, `docker exec -it`, an elevated
    /// devenv step); its exit code.
    pub fn run_attached(&mut self, c: &Cmd) -> std::io::Result<i32> {
        if self.skip(|| format!("run: {}", shown(c))) {
            return Ok(0);
        }
        crate::ui::debug(&format!("apply: {}", c.display()));
        self.effects.run_attached(Token(()), c)
    }

    /// A program whose output is streamed line by line (a task's); `None`: stopped at `timeout`.
    pub fn run_streamed(
        &mut self,
        c: &Cmd,
        timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        if self.skip(|| format!("run: {}", shown(c))) {
            return Ok(Some(0));
        }
        crate::ui::debug(&format!("apply: {}", c.display()));
        self.effects.run_streamed(Token(()), c, timeout, line)
    }

    /// One of devenv's own files (state, certificates, secrets), atomically, owned by the user,
    /// inside the executor's places.
    pub fn write(&mut self, path: &Path, data: &[u8], mode: Option<u32>) -> anyhow::Result<()> {
        self.check_place(path)?;
        if self.skip(|| format!("write {} ({} bytes)", path.display(), data.len())) {
            return Ok(());
        }
        crate::ui::debug(&format!(
            "apply: write {} ({} bytes)",
            path.display(),
            data.len()
        ));
        self.effects
            .write_file(Token(()), path, data, mode, Owner::User)
            .map_err(|e| write_error(path, &e))
    }

    /// A file outside devenv's places that a plan names explicitly (a temporary copy for an
    /// elevated step).
    pub fn write_elsewhere(
        &mut self,
        path: &Path,
        data: &[u8],
        mode: Option<u32>,
    ) -> anyhow::Result<()> {
        if self.skip(|| format!("write {} ({} bytes)", path.display(), data.len())) {
            return Ok(());
        }
        self.effects
            .write_file(Token(()), path, data, mode, Owner::User)
            .map_err(|e| write_error(path, &e))
    }

    /// A new file (`init`): never replaces one that appeared meanwhile.
    pub fn create_file(&mut self, path: &Path, data: &[u8]) -> anyhow::Result<()> {
        self.check_place(path)?;
        if self.skip(|| format!("create {} ({} bytes)", path.display(), data.len())) {
            return Ok(());
        }
        crate::ui::debug(&format!("apply: create {}", path.display()));
        self.effects
            .create_file(Token(()), path, data)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))
    }

    /// Removes one of devenv's own files, inside the executor's places.
    pub fn remove(&mut self, path: &Path) -> anyhow::Result<()> {
        self.check_place(path)?;
        self.remove_elsewhere(path)
    }

    /// Removes a file outside devenv's places that a plan made itself ([`Executor::write_elsewhere`]).
    pub fn remove_elsewhere(&mut self, path: &Path) -> anyhow::Result<()> {
        if self.skip(|| format!("remove {}", path.display())) {
            return Ok(());
        }
        crate::ui::debug(&format!("apply: remove {}", path.display()));
        self.effects
            .remove_file(Token(()), path)
            .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", path.display()))
    }

    pub fn create_dir_all(&mut self, path: &Path) -> anyhow::Result<()> {
        self.create_dir(path, None)
    }

    /// A directory only its owner may enter (0700 on Unix).
    pub fn create_private_dir(&mut self, path: &Path) -> anyhow::Result<()> {
        self.create_dir(path, Some(0o700))
    }

    fn create_dir(&mut self, path: &Path, mode: Option<u32>) -> anyhow::Result<()> {
        self.check_place(&path.join("x"))?;
        if path.is_dir() {
            return Ok(());
        }
        if self.skip(|| format!("create directory {}", path.display())) {
            return Ok(());
        }
        self.effects
            .create_dir_all(Token(()), path, mode)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))
    }

    /// Rendered files into a directory (see [`crate::fsutil::write_output`]); manifest entries it
    /// did not act on (not devenv's to touch) are said.
    pub fn write_output(
        &mut self,
        dir: &Path,
        files: &[(RelPath, String)],
        kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport> {
        if kind == crate::fsutil::OutputDir::Own {
            self.check_place(&dir.join(crate::fsutil::MANIFEST))?;
        }
        if self.skip(|| format!("write {} files into {}", files.len(), dir.display())) {
            return Ok(crate::fsutil::OutputReport {
                written: files.iter().map(|(r, _)| r.under(dir)).collect(),
                ..Default::default()
            });
        }
        crate::ui::debug(&format!(
            "apply: write {} files into {}",
            files.len(),
            dir.display()
        ));
        let report = self.effects.write_output(Token(()), dir, files, kind)?;
        if !report.ignored.is_empty() {
            crate::ui::warn(&format!(
                "{}: ignored {} entr{} of its manifest ({}) that devenv did not write there as listed: nothing was removed for {}",
                dir.display(),
                report.ignored.len(),
                if report.ignored.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                report.ignored.join(", "),
                if report.ignored.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            ));
        }
        Ok(report)
    }

    /// The hosts file, through its careful writer.
    pub fn hosts(
        &mut self,
        w: HostsWrite<'_>,
        opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<crate::hosts::write::Outcome> {
        if self.skip(|| format!("write {}", w.path.display())) {
            return Ok(crate::hosts::write::Outcome {
                method: crate::hosts::write::Method::Unchanged,
                backup: None,
            });
        }
        crate::ui::debug(&format!("apply: hosts file {}", w.path.display()));
        self.effects.write_hosts(Token(()), w, opts)
    }

    /// An exclusive lock (the project's, the CA's), its directory created first.
    pub fn lock(&mut self, path: &Path) -> anyhow::Result<FileLock> {
        if self.mode == Mode::DryRun {
            // a dry run changes nothing, so it takes no lock (and creates no lock file)
            return Ok(FileLock(None));
        }
        if let Some(d) = path.parent() {
            self.create_dir_all(d)?;
        }
        self.effects
            .lock(Token(()), path)
            .map_err(|e| anyhow::anyhow!("cannot lock {}: {e}", path.display()))
    }

    /// Runs `cmds` if devenv is interrupted before the guard is dropped (a dry run registers
    /// nothing: it started nothing).
    pub fn on_interrupt(&mut self, cmds: Vec<Cmd>) -> interrupt::Guard {
        if self.mode == Mode::DryRun {
            return interrupt::Guard::none();
        }
        self.effects.on_interrupt(Token(()), cmds)
    }

    /// Opens the run's shared SSH connection.
    pub fn open_ssh(&mut self, req: &SshRequest) -> Option<ssh::Shared> {
        if self.skip(|| {
            format!(
                "connect to {} (one SSH connection for the run)",
                req.endpoint
            )
        }) {
            return None;
        }
        self.effects.open_ssh(Token(()), req)
    }

    /// One step a store or tool planned: run as it is; a failure is said with the step.
    pub fn step(&mut self, s: &Step) -> anyhow::Result<()> {
        match s {
            Step::Run(c) => {
                let o = self
                    .run(c)
                    .map_err(|e| anyhow::anyhow!("cannot run `{}`: {e}", c.program))?;
                if !o.ok() {
                    anyhow::bail!(
                        "`{}` failed (exit {}): {}",
                        c.display(),
                        o.status,
                        if o.stderr_str().is_empty() {
                            o.stdout_str().trim().to_string()
                        } else {
                            o.stderr_str()
                        }
                    );
                }
                Ok(())
            }
            Step::Try(c) => {
                let _ = self.run(c);
                Ok(())
            }
            Step::Write { path, data, mode } => {
                if self.skip(|| s.describe()) {
                    return Ok(());
                }
                self.effects
                    .write_file(Token(()), path, data, *mode, Owner::AsIs)
                    .map_err(|e| write_error(path, &e))
            }
            Step::Remove(p) => self.remove_elsewhere(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;
    use crate::sys::fake::Effect;

    #[test]
    fn every_effect_goes_through_the_seam_and_is_remembered() {
        let s = FakeSys::new();
        let mut x = Executor::new(&s, Mode::Apply);
        x.run(
            &Cmd::new("docker")
                .args(["config", "create", "a", "-"])
                .stdin(b"data".to_vec()),
        )
        .unwrap();
        x.write(Path::new("/p/.devenv/state.json"), b"{}", None)
            .unwrap();
        x.record("stack p on context c", Some("devenv down".into()));
        x.record("stack p on context c", Some("devenv down".into()));
        assert_eq!(x.applied().len(), 1);
        assert_eq!(s.commands(), vec!["docker config create a -"]);
        assert!(s.effects().contains(&Effect::Write {
            path: "/p/.devenv/state.json".into(),
            data: b"{}".to_vec()
        }));
    }

    #[test]
    fn a_dry_run_records_and_changes_nothing() {
        let s = FakeSys::new();
        let mut x = Executor::new(&s, Mode::DryRun);
        assert_eq!(
            x.run_attached(&Cmd::new("/usr/bin/docker").args(["exec", "-it", "c", "touch", "x"]))
                .unwrap(),
            0
        );
        x.write(Path::new("/p/.devenv/state.json"), b"{}", None)
            .unwrap();
        x.step(&Step::Remove("/etc/x".into())).unwrap();
        assert!(x.lock(Path::new("/p/lock")).unwrap().0.is_none());
        assert!(s.effects().is_empty(), "{:?}", s.effects());
        assert_eq!(
            x.would(),
            [
                "run: docker exec -it c touch x",
                "write /p/.devenv/state.json (2 bytes)",
                "remove /etc/x"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn own_files_go_only_into_the_places_given_never_through_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let project = d.path().join("p");
        let victim = d.path().join("home");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        std::os::unix::fs::symlink(&victim, project.join(".devenv")).unwrap();
        let s = FakeSys::new();
        let mut x = Executor::new(&s, Mode::Apply).with_places(std::slice::from_ref(&project));
        let e = x
            .write(&project.join(".devenv/state.json"), b"{}", None)
            .unwrap_err();
        assert!(e.to_string().contains("is a symlink"), "{e}");
        let e = x
            .write(&d.path().join("elsewhere"), b"{}", None)
            .unwrap_err();
        assert!(e.to_string().contains("outside the places"), "{e}");
        std::os::unix::fs::symlink(victim.join("f"), project.join("state.json")).unwrap();
        let e = x
            .write(&project.join("state.json"), b"{}", None)
            .unwrap_err();
        assert!(e.to_string().contains("it is a symlink"), "{e}");
        assert!(s.effects().is_empty());
        x.write(&project.join("certs/local.crt"), b"x", None)
            .unwrap();
        assert_eq!(s.effects().len(), 1);
    }
}

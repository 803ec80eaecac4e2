//! The executor: the only code that changes anything — docker calls that mutate, devenv's files,
//! the hosts file, trust stores, DNS caches. Operations compute a plan without it and apply the
//! plan through it; `--dry-run` never reaches it (the plan is printed instead). Every step is
//! logged with `-v`, and what changed the machine is remembered, so a failure can say what it left
//! in place and how to undo it.

use std::path::Path;

use serde::Serialize;

use crate::swarm::docker::{Docker, DockerError};
use crate::sys::{Cmd, Output, Sys};

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

/// A change this run made, for the report of a failure after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// What changed, as a user reads it ("the devenv block in /etc/hosts").
    pub what: String,
    /// The command that undoes it, if there is one.
    pub undo: Option<String>,
}

pub struct Executor<'a> {
    pub sys: &'a dyn Sys,
    applied: Vec<Applied>,
}

impl<'a> Executor<'a> {
    pub fn new(sys: &'a dyn Sys) -> Executor<'a> {
        Executor {
            sys,
            applied: Vec::new(),
        }
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

    /// A docker call that changes something; a failure is explained.
    pub fn docker<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let c = d.cmd(args);
        self.checked(d, c)
    }

    /// Like [`Executor::docker`] with data on stdin (configs and secrets: never on a command line).
    pub fn docker_stdin<I, S>(
        &mut self,
        d: &Docker<'_>,
        args: I,
        data: &[u8],
    ) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let c = d.cmd(args).stdin(data.to_vec());
        self.checked(d, c)
    }

    /// A docker call that changes something and whose failure is an answer the caller reads
    /// (`config rm` of an object still in use, a retried `stack deploy`).
    pub fn docker_raw<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let c = d.cmd(args);
        crate::ui::debug(&format!(
            "apply: {}",
            crate::swarm::docker::display_docker(&c)
        ));
        self.sys
            .run(&c)
            .map_err(|e| anyhow::anyhow!("cannot run docker ({}): {e}", d.program))
    }

    /// A docker call attached to the terminal (a build's output streams); its exit code.
    pub fn docker_attached<I, S>(&mut self, d: &Docker<'_>, args: I) -> anyhow::Result<i32>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut c = d.cmd(args);
        c.stdout_to_stderr = true;
        crate::ui::debug(&format!(
            "apply: {}",
            crate::swarm::docker::display_docker(&c)
        ));
        Ok(self.sys.run_attached(&c)?)
    }

    fn checked(&mut self, d: &Docker<'_>, c: Cmd) -> anyhow::Result<Output> {
        crate::ui::debug(&format!(
            "apply: {}",
            crate::swarm::docker::display_docker(&c)
        ));
        let o = self
            .sys
            .run(&c)
            .map_err(|e| anyhow::anyhow!("cannot run docker ({}): {e}", d.program))?;
        if o.ok() {
            return Ok(o);
        }
        Err(d.explain(DockerError {
            command: crate::swarm::docker::display_docker(&c),
            status: o.status,
            stderr: o.stderr_str(),
        }))
    }

    /// Any other program that changes something (a trust store's tool, a DNS flush).
    pub fn run(&mut self, c: &Cmd) -> std::io::Result<Output> {
        crate::ui::debug(&format!("apply: {}", c.display()));
        self.sys.run(c)
    }

    /// A program attached to the terminal (an elevated devenv step, a UAC prompt).
    pub fn run_attached(&mut self, c: &Cmd) -> std::io::Result<i32> {
        crate::ui::debug(&format!("apply: {}", c.display()));
        self.sys.run_attached(c)
    }

    /// A program whose output is streamed line by line (a task's); `None`: killed at `timeout`.
    pub fn run_streamed(
        &mut self,
        c: &Cmd,
        timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        crate::ui::debug(&format!("apply: {}", c.display()));
        self.sys.run_streamed(c, timeout, line)
    }

    /// One of devenv's own files (state, certificates, secrets), atomically, owned by the user.
    pub fn write(&mut self, path: &Path, data: &[u8], mode: Option<u32>) -> anyhow::Result<()> {
        crate::ui::debug(&format!(
            "apply: write {} ({} bytes)",
            path.display(),
            data.len()
        ));
        self.sys
            .write_user_file(path, data, mode)
            .map_err(|e| write_error(path, &e))
    }

    /// A new file (`init`): never replaces one that appeared meanwhile.
    pub fn create_file(&mut self, path: &Path, data: &[u8]) -> anyhow::Result<()> {
        crate::ui::debug(&format!("apply: create {}", path.display()));
        self.sys
            .create_file(path, data)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))
    }

    pub fn remove(&mut self, path: &Path) -> anyhow::Result<()> {
        crate::ui::debug(&format!("apply: remove {}", path.display()));
        self.sys
            .remove_file(path)
            .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", path.display()))
    }

    pub fn create_dir_all(&mut self, path: &Path) -> anyhow::Result<()> {
        self.sys
            .create_dir_all(path)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))
    }

    /// Rendered files into a directory (see [`crate::fsutil::write_output`]); manifest entries it
    /// did not act on (not devenv's to touch) are said.
    pub fn write_output(
        &mut self,
        dir: &Path,
        files: &[(crate::name::RelPath, String)],
        kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport> {
        crate::ui::debug(&format!(
            "apply: write {} files into {}",
            files.len(),
            dir.display()
        ));
        let report = self.sys.write_output(dir, files, kind)?;
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
        plan: crate::hosts::HostsPlan,
        opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<(crate::hosts::HostsPlan, crate::hosts::write::Outcome)> {
        crate::ui::debug(&format!("apply: hosts file {}", plan.path.display()));
        self.sys.write_hosts(plan, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{Effect, FakeSys};

    #[test]
    fn every_effect_goes_through_the_seam_and_is_remembered() {
        let s = FakeSys::new()
            .program("docker", "/usr/bin/docker")
            .respond_full(
                "/usr/bin/docker --context c secret rm",
                1,
                "",
                "secret is in use",
            );
        let d = Docker::new(&s, "c").unwrap();
        let mut x = Executor::new(&s);
        x.docker_stdin(&d, ["config", "create", "a", "-"], b"data")
            .unwrap();
        assert!(!x.docker_raw(&d, ["secret", "rm", "b"]).unwrap().ok());
        assert!(
            x.docker(&d, ["secret", "rm", "b"]).is_err(),
            "a checked call fails"
        );
        x.write(Path::new("/p/.devenv/state.json"), b"{}", None)
            .unwrap();
        x.record("stack p on context c", Some("devenv down".into()));
        x.record("stack p on context c", Some("devenv down".into()));
        assert_eq!(x.applied().len(), 1);
        assert_eq!(
            s.commands(),
            vec![
                "/usr/bin/docker --context c config create a -",
                "/usr/bin/docker --context c secret rm b",
                "/usr/bin/docker --context c secret rm b",
            ]
        );
        assert!(s.effects().contains(&Effect::Write {
            path: "/p/.devenv/state.json".into(),
            data: b"{}".to_vec()
        }));
    }
}

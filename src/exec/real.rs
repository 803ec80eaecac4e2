//! The real machine's effects: what the executor's [`Token`] unlocks. Only the executor calls
//! these (every method takes a token), and only this file, [`super::ssh`], the real facts
//! (`crate::sys::real`) and the writers it calls (`crate::fsutil`, `crate::hosts::write`) touch
//! the OS directly.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use super::{Effects, FileLock, HostsWrite, Owner, SshRequest, Token};
use crate::cmd::{Cmd, Output};
use crate::name::RelPath;
use crate::sys::RealSys;
use crate::sys::real::{command, run_captured, run_streamed};

impl Effects for RealSys {
    fn run(&self, _t: Token, cmd: &Cmd) -> std::io::Result<Output> {
        run_captured(cmd)
    }

    fn run_fed(
        &self,
        _t: Token,
        cmd: &Cmd,
        feed: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<Output> {
        use std::io::Read;
        crate::ui::debug(&format!("$ {} < stream", cmd.display()));
        let mut c = command(cmd);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn()?;
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let o = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        });
        let e = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        let fed = {
            let mut stdin = child.stdin.take().expect("piped");
            let r = feed(&mut stdin);
            drop(stdin);
            r
        };
        let status = child.wait()?;
        let output = Output {
            status: status.code().unwrap_or(-1),
            stdout: o.join().unwrap_or_default(),
            stderr: e.join().unwrap_or_default(),
        };
        match fed {
            // the program stopped reading: its own output says why
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(output),
            Err(e) => Err(e),
            Ok(()) => Ok(output),
        }
    }

    fn run_attached(&self, _t: Token, cmd: &Cmd) -> std::io::Result<i32> {
        crate::ui::debug(&format!("$ {}", cmd.display()));
        let mut c = command(cmd);
        if cmd.stdout_to_stderr {
            c.stdout(std::io::stderr());
        }
        let status = c.status()?;
        Ok(status.code().unwrap_or(-1))
    }

    fn run_streamed(
        &self,
        _t: Token,
        cmd: &Cmd,
        timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>> {
        run_streamed(cmd, timeout, line)
    }

    fn write_file(
        &self,
        _t: Token,
        path: &Path,
        data: &[u8],
        mode: Option<u32>,
        owner: Owner,
    ) -> std::io::Result<()> {
        crate::fsutil::write_atomic(path, data, mode)?;
        if owner == Owner::User {
            crate::fsutil::chown_to_invoking_user(path);
        }
        Ok(())
    }

    fn create_file(&self, _t: Token, path: &Path, data: &[u8]) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        f.write_all(data)?;
        f.sync_all()?;
        crate::fsutil::chown_to_invoking_user(path);
        Ok(())
    }

    fn remove_file(&self, _t: Token, path: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn create_dir_all(&self, _t: Token, path: &Path, mode: Option<u32>) -> std::io::Result<()> {
        std::fs::create_dir_all(path)?;
        #[cfg(unix)]
        if let Some(m) = mode {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(m))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        crate::fsutil::chown_to_invoking_user(path);
        Ok(())
    }

    fn write_output(
        &self,
        _t: Token,
        dir: &Path,
        files: &[(RelPath, String)],
        kind: crate::fsutil::OutputDir,
    ) -> anyhow::Result<crate::fsutil::OutputReport> {
        crate::fsutil::write_output(dir, files, kind)
    }

    fn write_hosts(
        &self,
        _t: Token,
        w: HostsWrite<'_>,
        opts: &crate::hosts::write::Options,
    ) -> anyhow::Result<crate::hosts::write::Outcome> {
        crate::hosts::write::update_planned(w.path, opts, w.before, w.edit, w.replan)
    }

    fn lock(&self, _t: Token, path: &Path) -> std::io::Result<FileLock> {
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

    fn on_interrupt(&self, _t: Token, cmds: Vec<Cmd>) -> super::interrupt::Guard {
        super::interrupt::run_on_interrupt(cmds)
    }

    fn open_ssh(&self, _t: Token, req: &SshRequest) -> Option<super::ssh::Shared> {
        super::ssh::Shared::start(req.ssh.clone(), &req.endpoint, req.keep.clone())
    }
}

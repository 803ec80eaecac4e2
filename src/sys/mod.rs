//! The seam's read-only half: the facts a plan is made from. Running a program that only reads
//! ([`crate::cmd::read_only`]: `docker service ls`, `certutil -L`), a file of the machine's own
//! (a profiles.ini, the system CA bundle), the environment, PATH, the platform, the time, what a
//! port serves, how a name resolves. Nothing here changes anything: what does is
//! [`crate::exec::Effects`], held by the executor alone.
//!
//! [`RealSys`] is the real machine ([`real`]); `FakeSys` (tests and the `test-support` feature
//! only, [`fake`]) answers from a script, so every plan and every OS backend is unit-tested on any OS, without root.

pub mod ipvs;
pub mod real;

#[cfg(any(test, feature = "test-support"))]
pub mod fake;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::cmd::{Cmd, Output, shell_quote};
use crate::platform::Platform;
#[cfg(any(test, feature = "test-support"))]
pub use fake::{FAKE_NOW, FakeSys};

/// The real machine. Its facts are in [`real`]; its effects in `crate::exec::real`, reached only
/// through the executor.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSys;

/// What a plan may ask of the machine.
pub trait Facts: Send + Sync {
    /// Runs a program that only reads ([`crate::cmd::read_only`]) and captures its output. Any
    /// other program is refused (`PermissionDenied`) without being started: planning changes
    /// nothing. `Err` also when it could not be started.
    fn query(&self, cmd: &Cmd) -> std::io::Result<Output>;
    /// Runs a read-only program whose output streams without end (`docker events`), handing
    /// each line to `line`; stops it after `timeout` (`Ok(None)`).
    fn query_streamed(
        &self,
        cmd: &Cmd,
        timeout: std::time::Duration,
        line: &mut dyn FnMut(&str),
    ) -> std::io::Result<Option<i32>>;
    /// Reads one of the machine's files (a browser's profiles.ini, the system CA bundle): a
    /// regular file, bounded. Files an input names are read through [`crate::contained`].
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    fn exists(&self, path: &Path) -> bool;
    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<PathBuf>>;
    /// Full path of a program on PATH.
    fn which(&self, program: &str) -> Option<PathBuf>;
    fn var(&self, key: &str) -> Option<String>;
    /// Every environment variable (UTF-8 ones), for `${VAR}` in a stack.
    fn vars(&self) -> BTreeMap<String, String>;
    /// The operating system devenv serves.
    fn platform(&self) -> Platform;
    /// Whether the kernel that runs a local swarm has IPVS (`None`: unknown, assume yes).
    /// IPVS in this machine's kernel (`None`: not a Linux kernel devenv can read).
    fn ipvs_state(&self) -> Option<ipvs::IpvsState>;
    /// Whether the routing mesh and VIPs work with this machine's kernel (a loadable module
    /// counts: dockerd loads it).
    fn ipvs(&self) -> Option<bool> {
        self.ipvs_state().map(|s| s.available())
    }
    /// This machine's kernel release (`uname -r`; `None` off Linux).
    fn kernel_release(&self) -> Option<String>;
    /// Whether this process has administrator rights.
    fn is_admin(&self) -> bool;
    /// The home directory of user `uid` (Unix: the password database).
    fn home_of(&self, uid: u32) -> Option<PathBuf>;
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// Whether a TCP port is free on this machine (`Err`: cannot tell).
    fn port_free(&self, port: u16) -> std::io::Result<bool>;
    /// What `name:port` serves (a TLS handshake, else an HTTP request), `name` found through
    /// `lookup`; `Unresolved` when it has no address, `Closed` when nothing accepts connections
    /// at any of them.
    fn serves(&self, name: &str, port: u16, lookup: &crate::probe::Lookup) -> crate::probe::Answer;
    /// The addresses `name` resolves to on this machine (`Err`: why it does not).
    fn resolve(&self, name: &str) -> Result<Vec<std::net::IpAddr>, String>;
}

/// Why a query was refused: it is not a read-only program.
pub fn not_read_only(cmd: &Cmd) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "`{}` changes something: only the executor runs it (a plan only reads)",
            cmd.display()
        ),
    )
}

/// Converts OS strings for display.
pub use crate::cmd::lossy;

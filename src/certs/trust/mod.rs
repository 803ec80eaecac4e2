//! Trust stores, like mkcert's `truststore_*.go`: one backend per kind of store, every backend
//! compiled on every OS, the set chosen at run time. All effects go through [`Sys`], so the exact
//! commands and files of each backend are unit-tested on Linux. What was installed is recorded
//! (`CAROOT/trust.json`, with the CA's SHA-256 fingerprint) and `untrust` removes exactly that.

pub mod firefox;
pub mod java;
pub mod linux;
pub mod macos;
pub mod nss;
pub mod windows;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exec::Step;
use crate::platform::{Os, OsPath, Platform};
use crate::sys::{Cmd, Facts};

/// What a backend needs to know.
pub struct Env<'a> {
    pub sys: &'a dyn Facts,
    pub platform: Platform,
    /// The home of the user devenv works for (the invoking user under sudo), as a path of
    /// `platform`'s OS.
    pub home: OsPath,
    /// Set when running as root on behalf of this user: per-user stores are written as them.
    pub run_as: Option<String>,
    pub is_root: bool,
    pub ca: CaRef,
    /// macOS: the login keychain instead of the system one.
    pub macos_user: bool,
    /// Windows: LocalMachine\Root instead of CurrentUser\Root.
    pub windows_machine: bool,
}

/// The CA as the stores see it.
#[derive(Debug, Clone)]
pub struct CaRef {
    pub pem_path: PathBuf,
    pub pem: String,
    pub fingerprint: String,
    pub sha1: String,
    pub serial: String,
    pub nickname: String,
}

impl CaRef {
    pub fn from_ca(ca: &crate::certs::ca::Ca) -> CaRef {
        CaRef {
            pem_path: ca.cert_path(),
            pem: ca.cert_pem.clone(),
            fingerprint: ca.fingerprint.clone(),
            sha1: ca.sha1.clone(),
            serial: ca.serial.clone(),
            nickname: ca.nickname(),
        }
    }

    /// The file name used in system anchor directories.
    pub fn anchor_name(&self) -> String {
        format!("devenv-{}.crt", &self.fingerprint[..16])
    }
}

/// In JSON `{"state": "trusted" | "not-trusted" | "unknown", "detail": null | "why unknown"}`:
/// the same keys whatever the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    Trusted,
    NotTrusted,
    Unknown(String),
}

impl Serialize for Trust {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (state, detail) = match self {
            Trust::Trusted => ("trusted", None),
            Trust::NotTrusted => ("not-trusted", None),
            Trust::Unknown(why) => ("unknown", Some(why.as_str())),
        };
        let mut st = s.serialize_struct("Trust", 2)?;
        st.serialize_field("state", state)?;
        st.serialize_field("detail", &detail)?;
        st.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("`{tool}` is not installed ({package})")]
    MissingTool { tool: String, package: String },
    #[error("{0}")]
    Failed(String),
}

/// One trust store.
pub trait Store {
    /// `system`, `nss`, `keychain`, `windows`, `java`.
    fn kind(&self) -> &'static str;
    /// Where: a directory, a keychain, `CurrentUser\Root`...
    fn location(&self) -> String;
    /// A human description ("Chromium (~/.pki/nssdb)").
    fn describe(&self) -> String;
    /// The steps that install the CA here (run by the executor), planned from facts only.
    fn install(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError>;
    /// The steps that remove it.
    fn uninstall(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError>;
    /// Whether the store trusts the CA now (read-only queries).
    fn check(&self, env: &Env<'_>) -> Trust;
}

/// A record of one installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub kind: String,
    pub location: String,
    pub fingerprint: String,
    pub nickname: String,
}

pub fn records_path(caroot: &Path) -> PathBuf {
    caroot.join("trust.json")
}

pub fn load_records(caroot: &Path) -> anyhow::Result<Vec<Record>> {
    let p = records_path(caroot);
    match crate::contained::Scope::data_dir(caroot)
        .read_string(&p, 4 << 20)
        .map_err(|e| match e {
            crate::contained::ReadError::NotFound { .. } => {
                std::io::Error::from(std::io::ErrorKind::NotFound)
            }
            e => std::io::Error::other(e.to_string()),
        }) {
        Ok(s) => serde_json::from_str(&s).map_err(|e| {
            crate::error::UserError::new(format!(
                "{}: corrupt record of trusted stores: {e}",
                p.display()
            ))
            .hint(
                "it lists where the CA was installed, for `untrust`; repair it, or move it away and run \
                 `devenv certs trust` (which installs again where needed and records each store)",
            )
            .into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", p.display())),
    }
}

/// Every store of this machine that the user's browsers and tools read.
pub fn discover(env: &Env<'_>) -> Vec<Box<dyn Store>> {
    let mut v: Vec<Box<dyn Store>> = Vec::new();
    match env.platform.os {
        Os::Linux => {
            if let Some(s) = linux::SystemStore::detect(env) {
                v.push(Box::new(s));
            }
            for db in nss::databases(env) {
                v.push(Box::new(db));
            }
            if env.platform.wsl {
                v.push(Box::new(windows::CertStore {
                    machine: env.windows_machine,
                    wsl: true,
                }));
            }
        }
        Os::MacOs => {
            v.push(Box::new(macos::Keychain::new(env)));
            for db in nss::databases(env) {
                v.push(Box::new(db));
            }
        }
        Os::Windows => {
            v.push(Box::new(windows::CertStore {
                machine: env.windows_machine,
                wsl: false,
            }));
            // NSS's certutil is not shipped on Windows: each Firefox profile reads the Windows
            // store instead, once its enterprise-roots preference is on
            for p in firefox::profiles(env) {
                v.push(Box::new(p));
            }
        }
    }
    if let Some(j) = java::Keystore::detect(env) {
        v.push(Box::new(j));
    }
    v
}

/// The store a record was made in (for `untrust`, whatever discovery finds today).
pub fn from_record(env: &Env<'_>, r: &Record) -> Option<Box<dyn Store>> {
    match r.kind.as_str() {
        "system" => linux::SystemStore::from_location(env, &r.location)
            .map(|s| Box::new(s) as Box<dyn Store>),
        "nss" => Some(Box::new(nss::NssDb::from_location(env, &r.location))),
        "keychain" => Some(Box::new(macos::Keychain::from_location(env, &r.location))),
        "windows" => Some(Box::new(windows::CertStore::from_location(&r.location))),
        "firefox-roots" => Some(Box::new(firefox::EnterpriseRoots {
            profile: OsPath::new(Os::Windows, r.location.as_str()),
            what: "Firefox profile".into(),
        })),
        "java" => Some(Box::new(java::Keystore {
            path: OsPath::new(env.platform.os, r.location.as_str()),
        })),
        _ => None,
    }
}

/// Whether a tool's output shows the certificate with this fingerprint (hex, any case, with or
/// without `:` or spaces between the bytes). An exit code of 0 is never taken as proof by itself:
/// a stub (Wine's `certutil`) answers 0 to anything.
pub fn shows_fingerprint(output: &str, fingerprint_hex: &str) -> bool {
    let want = fingerprint_hex.to_ascii_lowercase();
    output.lines().any(|l| {
        let hex: String = l
            .chars()
            .filter(|c| c.is_ascii_hexdigit())
            .collect::<String>()
            .to_ascii_lowercase();
        hex.contains(&want)
    })
}

/// A store's check: the tool is run, its output must show the CA's fingerprint (`fingerprint`,
/// hex) and `trusted` must hold of it; `absent` says the tool reported no such certificate.
pub fn check_by_output(
    env: &Env<'_>,
    cmd: &Cmd,
    fingerprint: &str,
    trusted: impl Fn(&str) -> bool,
    absent: impl Fn(&str) -> bool,
) -> Trust {
    match env.sys.query(cmd) {
        Ok(o) => {
            let text = format!("{}\n{}", o.stdout_str(), o.stderr_str());
            if shows_fingerprint(&text, fingerprint) {
                if trusted(&text) {
                    Trust::Trusted
                } else {
                    Trust::NotTrusted
                }
            } else if absent(&text) || (!o.ok() && text.trim().is_empty()) {
                Trust::NotTrusted
            } else if o.ok() {
                Trust::Unknown(format!(
                    "`{}` answered without showing the CA ({}…)",
                    cmd.display(),
                    &fingerprint[..16.min(fingerprint.len())]
                ))
            } else {
                Trust::Unknown(
                    text.lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .unwrap_or("no output")
                        .to_string(),
                )
            }
        }
        Err(e) => Trust::Unknown(e.to_string()),
    }
}

/// `cmd` with administrator rights: as is when root (or on Windows, where the store asks), else
/// through sudo.
pub fn privileged(env: &Env<'_>, cmd: Cmd) -> Cmd {
    if env.is_root || env.platform.os == Os::Windows {
        return cmd;
    }
    let mut c = Cmd::new("sudo")
        .arg("--")
        .arg(cmd.program.clone())
        .args(cmd.args.clone());
    c.stdin = cmd.stdin;
    c
}

/// `cmd` as the invoking user when we are root on their behalf (their files stay theirs).
pub fn as_user(env: &Env<'_>, cmd: Cmd) -> Cmd {
    match &env.run_as {
        Some(u) if env.is_root => {
            let mut c = Cmd::new("sudo")
                .args(["-u", u.as_str(), "--"])
                .arg(cmd.program.clone())
                .args(cmd.args.clone());
            c.stdin = cmd.stdin;
            c
        }
        _ => cmd,
    }
}

/// Writes a file that needs administrator rights (through `sudo tee` when not root).
pub fn write_privileged(env: &Env<'_>, path: &Path, data: &[u8]) -> Step {
    if env.is_root {
        return Step::Write {
            path: path.to_path_buf(),
            data: data.to_vec(),
            mode: Some(0o644),
        };
    }
    Step::Run(
        Cmd::new("sudo")
            .args(["--", "tee"])
            .arg(path.to_string_lossy())
            .stdin(data.to_vec()),
    )
}

/// Removes a file that needs administrator rights.
pub fn remove_privileged(env: &Env<'_>, path: &Path) -> Step {
    if env.is_root {
        return Step::Remove(path.to_path_buf());
    }
    Step::Run(
        Cmd::new("sudo")
            .args(["--", "rm", "-f"])
            .arg(path.to_string_lossy()),
    )
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::sys::FakeSys;

    pub const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    pub fn ca() -> CaRef {
        CaRef {
            pem_path: PathBuf::from("/home/me/.local/share/devenv/ca/rootCA.pem"),
            pem: PEM.to_string(),
            fingerprint: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            sha1: "AABBCCDDEEFF00112233445566778899AABBCCDD".into(),
            serial: "1f2e3d4c5b6a79880123456789abcdef".into(),
            nickname: "devenv CA 0123456789abcdef".into(),
        }
    }

    /// The user's home on each OS.
    pub fn home(os: Os) -> OsPath {
        match os {
            Os::Linux => OsPath::new(os, "/home/me"),
            Os::MacOs => OsPath::new(os, "/Users/me"),
            Os::Windows => OsPath::new(os, r"C:\Users\me"),
        }
    }

    pub fn env<'a>(sys: &'a FakeSys, platform: Platform, root: bool) -> Env<'a> {
        Env {
            sys,
            platform,
            home: home(platform.os),
            run_as: None,
            is_root: root,
            ca: ca(),
            macos_user: false,
            windows_machine: false,
        }
    }

    /// Runs a store's steps through an executor on `sys` (so `sys` records them).
    pub fn apply(sys: &FakeSys, steps: Vec<crate::exec::Step>) {
        let mut x = crate::exec::Executor::new(sys, crate::exec::Mode::Apply);
        for s in &steps {
            x.step(s).unwrap();
        }
    }
}

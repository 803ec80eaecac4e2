//! The Windows certificate store through `certutil.exe`: `CurrentUser\Root` by default,
//! `LocalMachine\Root` with `--machine` (administrator); under WSL the Windows side's store.

use super::{Env, Store, Trust, TrustError};
use crate::exec::Step;
use crate::sys::Cmd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertStore {
    pub machine: bool,
    /// Reached from WSL through interop (`certutil.exe`, Windows paths via `wslpath -w`).
    pub wsl: bool,
}

impl CertStore {
    pub fn from_location(location: &str) -> CertStore {
        CertStore {
            machine: location.starts_with("LocalMachine"),
            wsl: location.ends_with("(WSL)"),
        }
    }

    fn program(&self, env: &Env<'_>) -> String {
        if self.wsl {
            return "certutil.exe".into();
        }
        // the full path: an NSS certutil on PATH must not be picked by mistake
        let root = env
            .sys
            .var("SystemRoot")
            .unwrap_or_else(|| r"C:\Windows".into());
        format!(r"{root}\System32\certutil.exe")
    }

    fn base(&self, env: &Env<'_>) -> Cmd {
        let c = Cmd::new(self.program(env));
        if self.machine { c } else { c.arg("-user") }
    }

    /// The CA file as Windows sees it.
    fn pem_path(&self, env: &Env<'_>) -> Result<String, TrustError> {
        if !self.wsl {
            return Ok(env.ca.pem_path.to_string_lossy().into_owned());
        }
        let c = Cmd::new("wslpath")
            .arg("-w")
            .arg(env.ca.pem_path.to_string_lossy());
        match env.sys.query(&c) {
            Ok(o) if o.ok() => Ok(o.stdout_str().trim().to_string()),
            Ok(o) => Err(TrustError::Failed(format!(
                "`{}` failed (exit {}): {}",
                c.display(),
                o.status,
                o.stderr_str()
            ))),
            Err(e) => Err(TrustError::Failed(format!("cannot run `wslpath`: {e}"))),
        }
    }
}

impl Store for CertStore {
    fn kind(&self) -> &'static str {
        "windows"
    }
    fn location(&self) -> String {
        let base = if self.machine {
            r"LocalMachine\Root"
        } else {
            r"CurrentUser\Root"
        };
        if self.wsl {
            format!("{base} (WSL)")
        } else {
            base.to_string()
        }
    }
    fn describe(&self) -> String {
        format!("Windows certificate store {}", self.location())
    }
    fn install(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let pem = self.pem_path(env)?;
        Ok(vec![Step::Run(
            self.base(env).args(["-addstore", "-f", "Root"]).arg(pem),
        )])
    }
    fn uninstall(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        Ok(vec![Step::Run(
            self.base(env)
                .args(["-delstore", "Root"])
                .arg(env.ca.serial.clone()),
        )])
    }
    fn check(&self, env: &Env<'_>) -> Trust {
        // the SHA-1 hash is a certificate id certutil takes; its listing shows it back
        let verify = self
            .base(env)
            .args(["-verifystore", "Root"])
            .arg(env.ca.sha1.to_ascii_lowercase());
        super::check_by_output(env, &verify, &env.ca.sha1, |_| true, verifystore_not_found)
    }
}

/// certutil's words for "no such certificate in this store".
fn verifystore_not_found(out: &str) -> bool {
    out.contains("NOT_FOUND")
        || out.contains("Object was not found")
        || out.contains("Cannot find object")
}

#[cfg(test)]
mod tests {
    use super::super::testing::env;
    use super::*;
    use crate::platform::Platform;
    use crate::sys::FakeSys;

    #[test]
    fn current_user_by_default() {
        let s = FakeSys::new().env("SystemRoot", r"C:\Windows");
        let e = env(&s, Platform::windows(), false);
        let st = CertStore {
            machine: false,
            wsl: false,
        };
        super::super::testing::apply(&s, st.install(&e).unwrap());
        st.check(&e);
        super::super::testing::apply(&s, st.uninstall(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                r"'C:\Windows\System32\certutil.exe' -user -addstore -f Root /home/me/.local/share/devenv/ca/rootCA.pem",
                r"'C:\Windows\System32\certutil.exe' -user -verifystore Root aabbccddeeff00112233445566778899aabbccdd",
                r"'C:\Windows\System32\certutil.exe' -user -delstore Root 1f2e3d4c5b6a79880123456789abcdef",
            ]
        );
        assert_eq!(st.location(), r"CurrentUser\Root");
    }

    #[test]
    fn local_machine_with_machine() {
        let s = FakeSys::new().env("SystemRoot", r"D:\Win");
        let e = env(&s, Platform::windows(), false);
        let st = CertStore {
            machine: true,
            wsl: false,
        };
        super::super::testing::apply(&s, st.install(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                r"'D:\Win\System32\certutil.exe' -addstore -f Root /home/me/.local/share/devenv/ca/rootCA.pem"
            ]
        );
        assert_eq!(CertStore::from_location(&st.location()), st);
    }

    #[test]
    fn wsl_uses_interop_and_windows_paths() {
        let s = FakeSys::new().respond(
            "wslpath -w",
            0,
            "\\\\wsl.localhost\\Ubuntu\\home\\me\\.local\\share\\devenv\\ca\\rootCA.pem\n",
        );
        let e = env(&s, Platform::wsl(), false);
        let st = CertStore {
            machine: false,
            wsl: true,
        };
        super::super::testing::apply(&s, st.install(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                "wslpath -w /home/me/.local/share/devenv/ca/rootCA.pem",
                r"certutil.exe -user -addstore -f Root '\\wsl.localhost\Ubuntu\home\me\.local\share\devenv\ca\rootCA.pem'",
            ]
        );
        assert_eq!(CertStore::from_location(&st.location()), st);
    }

    /// What Windows' certutil prints for `-user -verifystore Root HASH` when the CA is there
    /// (Windows 10 22H2), and when it is not.
    const VERIFYSTORE_FOUND: &str = "Root \"Trusted Root Certification Authorities\"\r\n================ Certificate 0 ================\r\nSerial Number: 1f2e3d4c5b6a79880123456789abcdef\r\nIssuer: CN=devenv me@laptop, OU=me@laptop, O=devenv development CA\r\n NotBefore: 12/1/2026 5:46 AM\r\n NotAfter: 11/29/2036 5:46 AM\r\nSubject: CN=devenv me@laptop, OU=me@laptop, O=devenv development CA\r\nSignature matches Public Key\r\nRoot Certificate: Subject matches Issuer\r\nCert Hash(sha256): 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\nCert Hash(sha1): aabbccddeeff00112233445566778899aabbccdd\r\n  No key provider information\r\nCannot find the certificate and private key for decryption.\r\nCertificate is valid\r\nCertUtil: -verifystore command completed successfully.\r\n";
    const VERIFYSTORE_MISSING: &str = "Root \"Trusted Root Certification Authorities\"\r\nCertUtil: -verifystore command FAILED: 0x80090011 (-2146893807 NTE_NOT_FOUND)\r\nCertUtil: Object was not found.\r\n";

    #[test]
    fn trust_is_read_from_certutils_listing_not_its_exit_code() {
        let cmd = r"'C:\Windows\System32\certutil.exe' -user -verifystore Root";
        let st = CertStore {
            machine: false,
            wsl: false,
        };
        let check = |status: i32, out: &str| {
            let s = FakeSys::new()
                .env("SystemRoot", r"C:\Windows")
                .respond(cmd, status, out);
            st.check(&env(&s, Platform::windows(), false))
        };
        assert_eq!(check(0, VERIFYSTORE_FOUND), Trust::Trusted);
        assert_eq!(check(-2146893807, VERIFYSTORE_MISSING), Trust::NotTrusted);
        // the same listing of another certificate is no proof
        assert_eq!(
            check(
                0,
                &VERIFYSTORE_FOUND.replace("aabbccddeeff", "000000000000")
            ),
            Trust::Unknown(format!(
                "`{} aabbccddeeff00112233445566778899aabbccdd` answered without showing the CA (AABBCCDDEEFF0011…)",
                cmd
            ))
        );
        // Wine's certutil stub: exit 0, no output
        assert!(matches!(check(0, ""), Trust::Unknown(_)));
    }
}

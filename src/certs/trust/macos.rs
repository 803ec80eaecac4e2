//! The macOS keychain: the System keychain by default (administrator), the login keychain with
//! `--user`.

use super::{Env, Store, Trust, TrustError, privileged};
use crate::exec::Step;
use crate::platform::{Os, OsPath};
use crate::sys::Cmd;

pub const SYSTEM_KEYCHAIN: &str = "/Library/Keychains/System.keychain";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keychain {
    pub system: bool,
    pub path: OsPath,
}

impl Keychain {
    pub fn new(env: &Env<'_>) -> Keychain {
        if env.macos_user {
            Keychain {
                system: false,
                path: env.home.join("Library/Keychains/login.keychain-db"),
            }
        } else {
            Keychain {
                system: true,
                path: OsPath::new(Os::MacOs, SYSTEM_KEYCHAIN),
            }
        }
    }

    pub fn from_location(_env: &Env<'_>, location: &str) -> Keychain {
        Keychain {
            system: location == SYSTEM_KEYCHAIN,
            path: OsPath::new(Os::MacOs, location),
        }
    }

    fn wrap(&self, env: &Env<'_>, c: Cmd) -> Cmd {
        if self.system { privileged(env, c) } else { c }
    }
}

impl Store for Keychain {
    fn kind(&self) -> &'static str {
        "keychain"
    }
    fn location(&self) -> String {
        self.path.to_string()
    }
    fn describe(&self) -> String {
        if self.system {
            "macOS System keychain".into()
        } else {
            "macOS login keychain".into()
        }
    }
    fn install(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let mut c = Cmd::new("security").arg("add-trusted-cert");
        if self.system {
            c = c.arg("-d");
        }
        c = c
            .args(["-r", "trustRoot", "-k"])
            .arg(self.location())
            .arg(env.ca.pem_path.to_string_lossy());
        Ok(vec![Step::Run(self.wrap(env, c))])
    }
    fn uninstall(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let mut rm = Cmd::new("security").arg("remove-trusted-cert");
        if self.system {
            rm = rm.arg("-d");
        }
        rm = rm.arg(env.ca.pem_path.to_string_lossy());
        // the trust setting may already be gone; the certificate itself is what matters
        let del = Cmd::new("security")
            .args(["delete-certificate", "-Z"])
            .arg(env.ca.sha1.clone())
            .arg(self.location());
        Ok(vec![
            Step::Try(self.wrap(env, rm)),
            Step::Run(self.wrap(env, del)),
        ])
    }
    fn check(&self, env: &Env<'_>) -> Trust {
        // in this keychain (its SHA-1 listed) ...
        let find = Cmd::new("security")
            .args(["find-certificate", "-a", "-Z", "-c", "devenv"])
            .arg(self.location());
        match super::check_by_output(
            env,
            &find,
            &env.ca.sha1,
            |_| true,
            |o| o.contains("could not be found"),
        ) {
            Trust::Trusted => {}
            other => return other,
        }
        // ... and trusted for SSL by the system's evaluation
        let verify = Cmd::new("security")
            .args(["verify-cert", "-p", "ssl", "-c"])
            .arg(env.ca.pem_path.to_string_lossy());
        match env.sys.query(&verify) {
            Ok(o) if o.ok() && o.stdout_str().contains("successful") => Trust::Trusted,
            Ok(o) if o.ok() => Trust::Unknown(format!(
                "`{}` exited 0 without saying the verification was successful",
                verify.display()
            )),
            Ok(_) => Trust::NotTrusted,
            Err(e) => Trust::Unknown(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::env;
    use super::*;
    use crate::platform::Platform;
    use crate::sys::FakeSys;

    #[test]
    fn system_keychain_with_sudo() {
        let s = FakeSys::new();
        let e = env(&s, Platform::macos(), false);
        let k = Keychain::new(&e);
        super::super::testing::apply(&s, k.install(&e).unwrap());
        k.check(&e);
        super::super::testing::apply(&s, k.uninstall(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                "sudo -- security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain /home/me/.local/share/devenv/ca/rootCA.pem",
                "security find-certificate -a -Z -c devenv /Library/Keychains/System.keychain",
                "sudo -- security remove-trusted-cert -d /home/me/.local/share/devenv/ca/rootCA.pem",
                "sudo -- security delete-certificate -Z AABBCCDDEEFF00112233445566778899AABBCCDD /Library/Keychains/System.keychain",
            ]
        );
    }

    #[test]
    fn login_keychain_with_user() {
        let s = FakeSys::new();
        let mut e = env(&s, Platform::macos(), false);
        e.macos_user = true;
        let k = Keychain::new(&e);
        super::super::testing::apply(&s, k.install(&e).unwrap());
        super::super::testing::apply(&s, k.uninstall(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                "security add-trusted-cert -r trustRoot -k /Users/me/Library/Keychains/login.keychain-db /home/me/.local/share/devenv/ca/rootCA.pem",
                "security remove-trusted-cert /home/me/.local/share/devenv/ca/rootCA.pem",
                "security delete-certificate -Z AABBCCDDEEFF00112233445566778899AABBCCDD /Users/me/Library/Keychains/login.keychain-db",
            ]
        );
    }

    /// `security find-certificate -a -Z -c devenv KEYCHAIN` (macOS 14) and `verify-cert` output.
    const FOUND: &str = "SHA-256 hash: 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\nSHA-1 hash: AABBCCDDEEFF00112233445566778899AABBCCDD\nkeychain: \"/Library/Keychains/System.keychain\"\nversion: 512\nclass: 0x80001000\nattributes:\n    \"labl\"<blob>=\"devenv me@mac\"\n";

    #[test]
    fn trust_needs_the_keychain_listing_and_a_successful_verification() {
        let check = |find: (i32, &str), verify: (i32, &str)| {
            let s = FakeSys::new()
                .respond("security find-certificate", find.0, find.1)
                .respond("security verify-cert", verify.0, verify.1);
            let e = env(&s, Platform::macos(), false);
            Keychain::new(&e).check(&e)
        };
        let ok = "...certificate verification successful.\n";
        assert_eq!(check((0, FOUND), (0, ok)), Trust::Trusted);
        assert_eq!(
            check(
                (0, FOUND),
                (1, "Cert Verify Result: CSSMERR_TP_NOT_TRUSTED\n")
            ),
            Trust::NotTrusted
        );
        assert_eq!(
            check(
                (
                    44,
                    "security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n"
                ),
                (0, ok)
            ),
            Trust::NotTrusted
        );
        assert!(matches!(check((0, ""), (0, "")), Trust::Unknown(_)));
    }
}

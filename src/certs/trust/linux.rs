//! Linux system trust stores: Debian/Ubuntu (`update-ca-certificates`), Fedora/RHEL
//! (`update-ca-trust`), Arch (`trust extract-compat`), openSUSE — detected by their directories.

use super::{Env, Store, Trust, TrustError, privileged, remove_privileged, write_privileged};
use crate::exec::Step;
use crate::platform::{Os, OsPath};
use crate::sys::Cmd;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distro {
    Fedora,
    Debian,
    Arch,
    Suse,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemStore {
    pub distro: Distro,
    pub anchors: OsPath,
    pub update: Vec<String>,
    pub bundle: OsPath,
}

impl SystemStore {
    pub fn for_distro(d: Distro) -> SystemStore {
        let (anchors, update, bundle): (&str, &[&str], &str) = match d {
            Distro::Fedora => (
                "/etc/pki/ca-trust/source/anchors",
                &["update-ca-trust", "extract"],
                "/etc/pki/tls/certs/ca-bundle.crt",
            ),
            Distro::Debian => (
                "/usr/local/share/ca-certificates",
                &["update-ca-certificates"],
                "/etc/ssl/certs/ca-certificates.crt",
            ),
            Distro::Arch => (
                "/etc/ca-certificates/trust-source/anchors",
                &["trust", "extract-compat"],
                "/etc/ssl/certs/ca-certificates.crt",
            ),
            Distro::Suse => (
                "/usr/share/pki/trust/anchors",
                &["update-ca-certificates"],
                "/etc/ssl/ca-bundle.pem",
            ),
        };
        SystemStore {
            distro: d,
            anchors: OsPath::new(Os::Linux, anchors),
            update: update.iter().map(|s| s.to_string()).collect(),
            bundle: OsPath::new(Os::Linux, bundle),
        }
    }

    /// The distribution's store, found by its anchor directory and update tool (in mkcert's order).
    pub fn detect(env: &Env<'_>) -> Option<SystemStore> {
        [Distro::Fedora, Distro::Debian, Distro::Arch, Distro::Suse]
            .into_iter()
            .map(SystemStore::for_distro)
            .find(|s| env.sys.exists(&s.anchors.path()) && env.sys.which(&s.update[0]).is_some())
    }

    pub fn from_location(_env: &Env<'_>, location: &str) -> Option<SystemStore> {
        [Distro::Fedora, Distro::Debian, Distro::Arch, Distro::Suse]
            .into_iter()
            .map(SystemStore::for_distro)
            .find(|s| s.anchors.as_str() == location)
    }

    fn file(&self, env: &Env<'_>) -> OsPath {
        self.anchors.join(&env.ca.anchor_name())
    }

    fn update_cmd(&self, env: &Env<'_>) -> Cmd {
        privileged(
            env,
            Cmd::new(self.update[0].clone()).args(self.update[1..].iter().cloned()),
        )
    }

    /// After removing the anchor: Debian's and openSUSE's tool only drop the certificate's
    /// symlinks from /etc/ssl/certs with `--fresh` (otherwise a dangling link stays behind).
    fn update_after_remove_cmd(&self, env: &Env<'_>) -> Cmd {
        let mut c = Cmd::new(self.update[0].clone()).args(self.update[1..].iter().cloned());
        if self.update[0] == "update-ca-certificates" {
            c = c.arg("--fresh");
        }
        privileged(env, c)
    }
}

impl Store for SystemStore {
    fn kind(&self) -> &'static str {
        "system"
    }
    fn location(&self) -> String {
        self.anchors.to_string()
    }
    fn describe(&self) -> String {
        let name = match self.distro {
            Distro::Fedora => "Fedora/RHEL",
            Distro::Debian => "Debian/Ubuntu",
            Distro::Arch => "Arch",
            Distro::Suse => "openSUSE",
        };
        format!("system store, {name} ({})", self.anchors)
    }
    fn install(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        Ok(vec![
            write_privileged(env, &self.file(env).path(), env.ca.pem.as_bytes()),
            Step::Run(self.update_cmd(env)),
        ])
    }
    fn uninstall(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        Ok(vec![
            remove_privileged(env, &self.file(env).path()),
            Step::Run(self.update_after_remove_cmd(env)),
        ])
    }
    fn check(&self, env: &Env<'_>) -> Trust {
        // the bundle every TLS library reads holds the CA's certificate, or it does not
        match env.sys.read_file(&self.bundle.path()) {
            Ok(b) => {
                let body: String = env
                    .ca
                    .pem
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect();
                let bundle: String = String::from_utf8_lossy(&b)
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect();
                if !body.is_empty() && bundle.contains(&body) {
                    Trust::Trusted
                } else {
                    Trust::NotTrusted
                }
            }
            Err(e) => Trust::Unknown(format!("cannot read {}: {e}", self.bundle)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{PEM, env};
    use super::*;
    use crate::platform::Platform;
    use crate::sys::FakeSys;
    use crate::sys::fake::Effect;

    #[test]
    fn detects_each_distribution() {
        for (dir, tool, want) in [
            (
                "/etc/pki/ca-trust/source/anchors",
                "update-ca-trust",
                Distro::Fedora,
            ),
            (
                "/usr/local/share/ca-certificates",
                "update-ca-certificates",
                Distro::Debian,
            ),
            (
                "/etc/ca-certificates/trust-source/anchors",
                "trust",
                Distro::Arch,
            ),
            (
                "/usr/share/pki/trust/anchors",
                "update-ca-certificates",
                Distro::Suse,
            ),
        ] {
            let s = FakeSys::new().dir(dir).program(tool, "/usr/bin/x");
            let e = env(&s, Platform::linux(), true);
            assert_eq!(SystemStore::detect(&e).unwrap().distro, want, "{dir}");
        }
        let s = FakeSys::new().dir("/usr/local/share/ca-certificates");
        assert!(
            SystemStore::detect(&env(&s, Platform::linux(), true)).is_none(),
            "no update tool"
        );
    }

    #[test]
    fn fedora_as_root_writes_the_anchor_and_extracts() {
        let s = FakeSys::new();
        let e = env(&s, Platform::linux(), true);
        let st = SystemStore::for_distro(Distro::Fedora);
        super::super::testing::apply(&s, st.install(&e).unwrap());
        assert_eq!(
            s.effects(),
            vec![
                Effect::Write {
                    path: "/etc/pki/ca-trust/source/anchors/devenv-0123456789abcdef.crt".into(),
                    data: PEM.as_bytes().to_vec()
                },
                Effect::Run("update-ca-trust extract".into()),
            ]
        );
        super::super::testing::apply(&s, st.uninstall(&e).unwrap());
        assert_eq!(
            s.effects()[2..],
            [
                Effect::Remove(
                    "/etc/pki/ca-trust/source/anchors/devenv-0123456789abcdef.crt".into()
                ),
                Effect::Run("update-ca-trust extract".into()),
            ]
        );
    }

    #[test]
    fn arch_as_a_user_goes_through_sudo() {
        let s = FakeSys::new();
        let e = env(&s, Platform::linux(), false);
        let st = SystemStore::for_distro(Distro::Arch);
        super::super::testing::apply(&s, st.install(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                "sudo -- tee /etc/ca-certificates/trust-source/anchors/devenv-0123456789abcdef.crt",
                "sudo -- trust extract-compat",
            ]
        );
        super::super::testing::apply(&s, st.uninstall(&e).unwrap());
        assert_eq!(
            s.commands()[2..],
            [
                "sudo -- rm -f /etc/ca-certificates/trust-source/anchors/devenv-0123456789abcdef.crt",
                "sudo -- trust extract-compat"
            ]
        );
    }

    #[test]
    fn check_reads_the_bundle() {
        // a bundle without the CA, with it, and none at all
        let s = FakeSys::new().file("/etc/ssl/certs/ca-certificates.crt", "other\n");
        let e = env(&s, Platform::linux(), true);
        let st = SystemStore::for_distro(Distro::Debian);
        assert_eq!(st.check(&e), Trust::NotTrusted);
        let s = FakeSys::new().file("/etc/ssl/ca-bundle.pem", format!("x\n{PEM}"));
        let e = env(&s, Platform::linux(), true);
        assert_eq!(
            SystemStore::for_distro(Distro::Suse).check(&e),
            Trust::Trusted
        );
        let s = FakeSys::new();
        let e = env(&s, Platform::linux(), true);
        assert!(matches!(st.check(&e), Trust::Unknown(_)));
    }

    #[test]
    fn a_failed_update_is_reported_with_its_output() {
        let s = FakeSys::new().respond_full("update-ca-certificates", 1, "", "permission denied");
        let e = env(&s, Platform::linux(), true);
        let steps = SystemStore::for_distro(Distro::Debian).install(&e).unwrap();
        let mut x = crate::exec::Executor::new(&s, crate::exec::Mode::Apply);
        let err = steps.iter().try_for_each(|st| x.step(st)).unwrap_err();
        assert!(err.to_string().contains("permission denied"), "{err}");
    }
}

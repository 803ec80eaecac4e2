//! The Java keystore of `$JAVA_HOME` (`lib/security/cacerts`, or `jre/lib/security/cacerts` for
//! Java 8), through `keytool`.

use super::{Env, Store, Trust, TrustError, privileged};
use crate::exec::Step;
use crate::platform::OsPath;
use crate::sys::Cmd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keystore {
    pub path: OsPath,
}

const STOREPASS: &str = "changeit";

impl Keystore {
    pub fn detect(env: &Env<'_>) -> Option<Keystore> {
        let home = OsPath::new(
            env.platform.os,
            env.sys.var("JAVA_HOME").filter(|s| !s.is_empty())?,
        );
        ["lib/security/cacerts", "jre/lib/security/cacerts"]
            .iter()
            .map(|rel| home.join(rel))
            .find(|p| env.sys.exists(&p.path()))
            .map(|path| Keystore { path })
    }

    fn keytool(&self, env: &Env<'_>) -> String {
        env.sys
            .var("JAVA_HOME")
            .map(|h| {
                let exe = if env.platform.os == crate::platform::Os::Windows {
                    "bin/keytool.exe"
                } else {
                    "bin/keytool"
                };
                OsPath::new(env.platform.os, h).join(exe).to_string()
            })
            .filter(|p| env.sys.exists(std::path::Path::new(p)))
            .unwrap_or_else(|| "keytool".into())
    }

    fn alias(env: &Env<'_>) -> String {
        format!("devenv-{}", &env.ca.fingerprint[..16])
    }
}

impl Store for Keystore {
    fn kind(&self) -> &'static str {
        "java"
    }
    fn location(&self) -> String {
        self.path.to_string()
    }
    fn describe(&self) -> String {
        format!("Java keystore ({})", self.path)
    }
    fn install(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let c = Cmd::new(self.keytool(env))
            .args(["-importcert", "-noprompt", "-alias"])
            .arg(Self::alias(env))
            .arg("-file")
            .arg(env.ca.pem_path.to_string_lossy())
            .arg("-keystore")
            .arg(self.location())
            .args(["-storepass", STOREPASS]);
        Ok(vec![Step::Run(privileged(env, c))])
    }
    fn uninstall(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let c = Cmd::new(self.keytool(env))
            .args(["-delete", "-alias"])
            .arg(Self::alias(env))
            .arg("-keystore")
            .arg(self.location())
            .args(["-storepass", STOREPASS]);
        Ok(vec![Step::Run(privileged(env, c))])
    }
    fn check(&self, env: &Env<'_>) -> Trust {
        let c = Cmd::new(self.keytool(env))
            .args(["-list", "-alias"])
            .arg(Self::alias(env))
            .arg("-keystore")
            .arg(self.location())
            .args(["-storepass", STOREPASS]);
        super::check_by_output(
            env,
            &c,
            &env.ca.fingerprint,
            |o| o.contains("trustedCertEntry"),
            |o| o.contains("does not exist"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::env;
    use super::*;
    use crate::platform::Platform;
    use crate::sys::FakeSys;

    #[test]
    fn java_home_keystore() {
        let s = FakeSys::new()
            .env("JAVA_HOME", "/usr/lib/jvm/java-17")
            .file("/usr/lib/jvm/java-17/lib/security/cacerts", "")
            .file("/usr/lib/jvm/java-17/bin/keytool", "");
        let e = env(&s, Platform::linux(), false);
        let k = Keystore::detect(&e).unwrap();
        super::super::testing::apply(&s, k.install(&e).unwrap());
        k.check(&e);
        super::super::testing::apply(&s, k.uninstall(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                "sudo -- /usr/lib/jvm/java-17/bin/keytool -importcert -noprompt -alias devenv-0123456789abcdef -file /home/me/.local/share/devenv/ca/rootCA.pem -keystore /usr/lib/jvm/java-17/lib/security/cacerts -storepass changeit",
                "/usr/lib/jvm/java-17/bin/keytool -list -alias devenv-0123456789abcdef -keystore /usr/lib/jvm/java-17/lib/security/cacerts -storepass changeit",
                "sudo -- /usr/lib/jvm/java-17/bin/keytool -delete -alias devenv-0123456789abcdef -keystore /usr/lib/jvm/java-17/lib/security/cacerts -storepass changeit",
            ]
        );
        // Java 8 layout
        let s = FakeSys::new()
            .env("JAVA_HOME", "/opt/jdk8")
            .file("/opt/jdk8/jre/lib/security/cacerts", "");
        let e = env(&s, Platform::macos(), false);
        assert_eq!(
            Keystore::detect(&e).unwrap().path.as_str(),
            "/opt/jdk8/jre/lib/security/cacerts"
        );
        // no JAVA_HOME: no Java store
        let s = FakeSys::new();
        assert!(Keystore::detect(&env(&s, Platform::linux(), false)).is_none());
    }
}

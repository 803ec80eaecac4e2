//! Firefox on Windows reads the Windows certificate store — where `certs trust` puts the CA with
//! no administrator — when its preference `security.enterprise_roots.enabled` is on: the default
//! since Firefox 120, off in older releases (ESR 115) and wherever a user or a policy turned it
//! off. NSS's `certutil` is not shipped on Windows, so this is how Firefox gets devenv's CA there.
//! One store per Firefox profile: `install` sets the preference in the profile's `user.js` (which
//! Firefox applies over `prefs.js` at every start), keeping a line it replaces as a comment;
//! `uninstall` takes out exactly what devenv wrote and puts back what it replaced. A policy
//! (`policies.json`: `Certificates.ImportEnterpriseRoots`) wins over both and is reported.

use super::{Env, Store, Trust, TrustError};
use crate::exec::Step;
use crate::platform::{Os, OsPath};

pub const PREF: &str = "security.enterprise_roots.enabled";
/// The end of the line devenv writes into `user.js`.
const MARK: &str = "// devenv: Firefox trusts the Windows certificate store (`devenv certs untrust` removes this line)";
/// The start of a line devenv commented out (the user's own setting, put back on untrust).
const WAS: &str = "// devenv: was: ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseRoots {
    pub profile: OsPath,
    pub what: String,
}

/// The value the last `user_pref("security.enterprise_roots.enabled", …);` of a prefs file sets.
pub fn pref_value(text: &str) -> Option<bool> {
    let mut v = None;
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with("//") {
            continue;
        }
        let Some(rest) = l
            .strip_prefix("user_pref(")
            .or_else(|| l.strip_prefix("pref("))
        else {
            continue;
        };
        let Some((name, value)) = rest.split_once(',') else {
            continue;
        };
        if name.trim().trim_matches('"') != PREF {
            continue;
        }
        match value.split(')').next().unwrap_or_default().trim() {
            "true" => v = Some(true),
            "false" => v = Some(false),
            _ => {}
        }
    }
    v
}

/// What a `policies.json` forces (`Certificates.ImportEnterpriseRoots`), if anything.
pub fn policy_value(json: &str) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get("policies")?
        .get("Certificates")?
        .get("ImportEnterpriseRoots")?
        .as_bool()
}

/// The major version a profile last ran (`compatibility.ini`: `LastVersion=115.5.0esr_…`).
pub fn last_major(compatibility_ini: &str) -> Option<u32> {
    compatibility_ini
        .lines()
        .find_map(|l| l.trim().strip_prefix("LastVersion="))?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// `user.js` with the preference on: devenv's line added, a line of the user's that set it
/// kept as a comment.
pub fn enable(user_js: &str) -> String {
    let mut out = String::new();
    for l in user_js.lines() {
        if l.contains(MARK) {
            continue;
        }
        if pref_value(l).is_some() {
            out.push_str(&format!("{WAS}{l}\n"));
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str(&format!("user_pref(\"{PREF}\", true); {MARK}\n"));
    out
}

/// `user.js` as it was before [`enable`]: devenv's line gone, the user's own line back.
pub fn restore(user_js: &str) -> String {
    let mut out = String::new();
    for l in user_js.lines() {
        if l.contains(MARK) {
            continue;
        }
        match l.strip_prefix(WAS) {
            Some(orig) => out.push_str(orig),
            None => out.push_str(l),
        }
        out.push('\n');
    }
    out
}

/// Whether the preference is on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub on: bool,
    pub why: String,
    /// A policy decides: the profile's files cannot change it.
    pub by_policy: bool,
}

impl EnterpriseRoots {
    fn read(&self, env: &Env<'_>, name: &str) -> Option<String> {
        env.sys
            .read_file(&self.profile.join(name).path())
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// The `policies.json` of each place Firefox is installed.
    fn policy(env: &Env<'_>) -> Option<(bool, String)> {
        let mut roots = Vec::new();
        for var in ["ProgramFiles", "ProgramFiles(x86)"] {
            if let Some(p) = env.sys.var(var) {
                roots.push(OsPath::new(Os::Windows, p));
            }
        }
        if roots.is_empty() {
            roots.push(OsPath::new(Os::Windows, r"C:\Program Files"));
        }
        roots.into_iter().find_map(|r| {
            let f = r.join("Mozilla Firefox/distribution/policies.json");
            let text = env.sys.read_file(&f.path()).ok()?;
            policy_value(&String::from_utf8_lossy(&text)).map(|v| (v, f.to_string()))
        })
    }

    pub fn effective(&self, env: &Env<'_>) -> Effective {
        if let Some((on, file)) = Self::policy(env) {
            return Effective {
                on,
                why: format!("a policy sets it ({file}: Certificates.ImportEnterpriseRoots)"),
                by_policy: true,
            };
        }
        for file in ["user.js", "prefs.js"] {
            if let Some(on) = self.read(env, file).as_deref().and_then(pref_value) {
                return Effective {
                    on,
                    why: format!("{PREF} is {on} in {file}"),
                    by_policy: false,
                };
            }
        }
        match self
            .read(env, "compatibility.ini")
            .as_deref()
            .and_then(last_major)
        {
            Some(v) => Effective {
                on: v >= 120,
                why: format!(
                    "Firefox {v}: {PREF} is {} by default",
                    if v >= 120 { "on" } else { "off" }
                ),
                by_policy: false,
            },
            None => Effective {
                on: false,
                why: format!("the profile does not say which Firefox it is for, nor set {PREF}"),
                by_policy: false,
            },
        }
    }
}

impl Store for EnterpriseRoots {
    fn kind(&self) -> &'static str {
        "firefox-roots"
    }
    fn location(&self) -> String {
        self.profile.to_string()
    }
    fn describe(&self) -> String {
        format!("{} through the Windows store ({})", self.what, self.profile)
    }
    fn install(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let e = self.effective(env);
        if e.on {
            return Ok(Vec::new());
        }
        if e.by_policy {
            return Err(TrustError::Failed(format!(
                "{} keeps Firefox from reading the Windows store: ask whoever manages this machine, or use NSS's certutil",
                e.why
            )));
        }
        let user_js = self.read(env, "user.js").unwrap_or_default();
        Ok(vec![Step::Write {
            path: self.profile.join("user.js").path(),
            data: enable(&user_js).into_bytes(),
            mode: None,
        }])
    }
    fn uninstall(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let Some(user_js) = self.read(env, "user.js") else {
            return Ok(Vec::new());
        };
        if !user_js.contains(MARK) && !user_js.contains(WAS) {
            return Ok(Vec::new());
        }
        let back = restore(&user_js);
        let path = self.profile.join("user.js").path();
        Ok(vec![if back.trim().is_empty() {
            Step::Remove(path)
        } else {
            Step::Write {
                path,
                data: back.into_bytes(),
                mode: None,
            }
        }])
    }
    fn check(&self, env: &Env<'_>) -> Trust {
        let e = self.effective(env);
        match (e.on, e.by_policy) {
            (true, _) => Trust::Trusted,
            (false, true) => Trust::Unknown(format!(
                "{}: Firefox does not read the Windows store",
                e.why
            )),
            (false, false) => Trust::NotTrusted,
        }
    }
}

/// One store per Firefox profile of the user (Windows).
pub fn profiles(env: &Env<'_>) -> Vec<EnterpriseRoots> {
    super::nss::firefox_profile_dirs(env)
        .into_iter()
        .map(|(profile, what)| EnterpriseRoots { profile, what })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use crate::platform::Platform;
    use crate::sys::FakeSys;

    const INI: &str = "[Profile0]\nName=default-release\nIsRelative=1\nPath=Profiles/abcd.default-release\nDefault=1\n\n[Profile1]\nName=esr\nIsRelative=1\nPath=Profiles/efgh.esr\n";
    const ROOT: &str = r"C:\Users\me\AppData\Roaming\Mozilla\Firefox";

    fn sys() -> FakeSys {
        FakeSys::new()
            .env("APPDATA", r"C:\Users\me\AppData\Roaming")
            .env("ProgramFiles", r"C:\Program Files")
            .file(format!(r"{ROOT}\profiles.ini"), INI)
    }

    fn file(rel: &str) -> String {
        format!(r"{ROOT}\Profiles\{rel}")
    }

    #[test]
    fn prefs_policies_and_versions_are_read() {
        assert_eq!(
            pref_value("user_pref(\"security.enterprise_roots.enabled\", false);\n"),
            Some(false)
        );
        assert_eq!(
            pref_value(
                "user_pref(\"security.enterprise_roots.enabled\", false);\n// user_pref(\"security.enterprise_roots.enabled\", true);\nuser_pref(\"security.enterprise_roots.enabled\", true);"
            ),
            Some(true)
        );
        assert_eq!(pref_value("user_pref(\"browser.startup.page\", 3);"), None);
        assert_eq!(
            policy_value(r#"{"policies": {"Certificates": {"ImportEnterpriseRoots": false}}}"#),
            Some(false)
        );
        assert_eq!(policy_value(r#"{"policies": {}}"#), None);
        assert_eq!(
            last_major("[Compatibility]\nLastVersion=115.5.0esr_20231113104720/20231113104720\n"),
            Some(115)
        );
    }

    #[test]
    fn each_profile_is_judged_and_set_in_its_user_js_then_given_back() {
        let s = sys()
            // an ESR 115 profile that says nothing: off by default
            .file(file(r"efgh.esr\compatibility.ini"), "[Compatibility]\nLastVersion=115.5.0esr_2023/2023\n")
            // a current profile where the user turned it off
            .file(file(r"abcd.default-release\compatibility.ini"), "[Compatibility]\nLastVersion=133.0_2024/2024\n")
            .file(
                file(r"abcd.default-release\user.js"),
                "user_pref(\"browser.startup.page\", 3);\nuser_pref(\"security.enterprise_roots.enabled\", false);\n",
            );
        let env = testing::env(&s, Platform::windows(), false);
        let stores = profiles(&env);
        assert_eq!(stores.len(), 2);
        for st in &stores {
            assert_eq!(st.check(&env), Trust::NotTrusted, "{}", st.describe());
        }
        let release = &stores[0];
        assert!(release.effective(&env).why.contains("false in user.js"));
        let steps = release.install(&env).unwrap();
        let Step::Write { path, data, .. } = &steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(
            path,
            &std::path::PathBuf::from(file(r"abcd.default-release\user.js"))
        );
        let written = String::from_utf8(data.clone()).unwrap();
        assert_eq!(pref_value(&written), Some(true), "{written}");
        assert!(written.starts_with("user_pref(\"browser.startup.page\", 3);\n// devenv: was: user_pref(\"security.enterprise_roots.enabled\", false);\n"), "{written}");
        testing::apply(&s, steps);
        assert_eq!(release.check(&env), Trust::Trusted);
        assert!(release.install(&env).unwrap().is_empty(), "already on");
        // untrust gives back the user's file as it was
        let steps = release.uninstall(&env).unwrap();
        testing::apply(&s, steps);
        assert_eq!(
            String::from_utf8(
                s.file_content(file(r"abcd.default-release\user.js"))
                    .unwrap()
            )
            .unwrap(),
            "user_pref(\"browser.startup.page\", 3);\nuser_pref(\"security.enterprise_roots.enabled\", false);\n"
        );
        // the ESR profile had no user.js: devenv's goes, nothing else stays
        let esr = &stores[1];
        assert!(esr.effective(&env).why.contains("Firefox 115"));
        testing::apply(&s, esr.install(&env).unwrap());
        assert_eq!(esr.check(&env), Trust::Trusted);
        let steps = esr.uninstall(&env).unwrap();
        assert!(matches!(steps[0], Step::Remove(_)), "{steps:?}");
    }

    #[test]
    fn firefox_120_and_later_need_nothing_and_a_policy_is_named() {
        let s = sys().file(
            file(r"abcd.default-release\compatibility.ini"),
            "[Compatibility]\nLastVersion=128.0_x/x\n",
        );
        let env = testing::env(&s, Platform::windows(), false);
        let release = &profiles(&env)[0];
        assert_eq!(release.check(&env), Trust::Trusted);
        assert!(release.install(&env).unwrap().is_empty());
        let s = s.file(
            r"C:\Program Files\Mozilla Firefox\distribution\policies.json",
            r#"{"policies": {"Certificates": {"ImportEnterpriseRoots": false}}}"#,
        );
        let env = testing::env(&s, Platform::windows(), false);
        let release = &profiles(&env)[0];
        assert!(matches!(release.check(&env), Trust::Unknown(w) if w.contains("policies.json")));
        let e = release.install(&env).unwrap_err();
        assert!(e.to_string().contains("ImportEnterpriseRoots"), "{e}");
    }
}

//! NSS databases (Chromium and Firefox on Linux, Firefox everywhere) through `certutil`:
//! Chromium's `~/.pki/nssdb` and `~/.local/share/pki/nssdb`, snap and flatpak paths, and every
//! Firefox profile of every `profiles.ini` (classic, XDG, snap, flatpak; macOS and Windows too).

use super::{Env, Store, Trust, TrustError, as_user};
use crate::exec::Step;
use crate::platform::{Os, OsPath};
use crate::sys::Cmd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NssDb {
    /// `sql:` (cert9.db) or `dbm:` (cert8.db).
    pub prefix: &'static str,
    pub dir: OsPath,
    pub what: String,
    /// Create the database first (the default Chromium one, when no browser made it yet).
    pub create: bool,
}

impl NssDb {
    pub fn from_location(env: &Env<'_>, location: &str) -> NssDb {
        let (prefix, dir) = match location.split_once(':') {
            Some(("dbm", d)) => ("dbm:", d),
            Some(("sql", d)) => ("sql:", d),
            _ => ("sql:", location),
        };
        NssDb {
            prefix,
            dir: OsPath::new(env.platform.os, dir),
            what: "NSS database".into(),
            create: false,
        }
    }

    fn db(&self) -> String {
        format!("{}{}", self.prefix, self.dir)
    }
}

/// The package that provides `certutil` on this system.
pub fn certutil_package(env: &Env<'_>) -> String {
    match env.platform.os {
        Os::MacOs => "`brew install nss`".into(),
        Os::Windows => "NSS's certutil.exe on PATH (Firefox on Windows can also use the Windows store: security.enterprise_roots.enabled)".into(),
        Os::Linux => {
            "install libnss3-tools (Debian/Ubuntu), nss-tools (Fedora/RHEL/openSUSE) or nss (Arch)".into()
        }
    }
}

fn certutil(env: &Env<'_>) -> Result<String, TrustError> {
    // on Windows `certutil` is the Windows tool; NSS's is only used when it is clearly NSS's
    let name = "certutil";
    if env.platform.os == Os::Windows || env.sys.which(name).is_none() {
        return Err(TrustError::MissingTool {
            tool: "certutil".into(),
            package: certutil_package(env),
        });
    }
    Ok(name.into())
}

/// Firefox profile directories listed in a `profiles.ini` under `base`.
pub fn firefox_profiles(ini: &str, base: &OsPath) -> Vec<OsPath> {
    let mut out = Vec::new();
    let mut path: Option<String> = None;
    let mut relative = true;
    let mut in_profile = false;
    let mut flush = |path: &mut Option<String>, relative: bool, in_profile: bool| {
        if in_profile && let Some(p) = path.take() {
            out.push(if relative {
                base.join(&p)
            } else {
                OsPath::new(base.os(), p)
            });
        }
        *path = None;
    };
    for line in ini.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            flush(&mut path, relative, in_profile);
            in_profile = line.starts_with("[Profile") || line.starts_with("[Install");
            relative = true;
        } else if let Some(v) = line.strip_prefix("Path=") {
            path = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("Default=") {
            // [Install...] sections name the default profile's path this way
            if line.starts_with("Default=")
                && !v.is_empty()
                && !v.chars().all(|c| c.is_ascii_digit())
            {
                path.get_or_insert_with(|| v.to_string());
            }
        } else if let Some(v) = line.strip_prefix("IsRelative=") {
            relative = v.trim() == "1";
        }
    }
    flush(&mut path, relative, in_profile);
    out.sort();
    out.dedup();
    out
}

/// Every Firefox profile of the user (each `profiles.ini` Firefox keeps on this OS), with a name
/// to show ("Firefox profile abcd.default-release").
pub fn firefox_profile_dirs(env: &Env<'_>) -> Vec<(OsPath, String)> {
    let h = &env.home;
    let ff_roots: Vec<(OsPath, &str)> = match env.platform.os {
        Os::Linux => vec![
            (h.join(".mozilla/firefox"), "Firefox"),
            (h.join(".config/mozilla/firefox"), "Firefox (XDG)"),
            (
                h.join("snap/firefox/common/.mozilla/firefox"),
                "Firefox (snap)",
            ),
            (
                h.join(".var/app/org.mozilla.firefox/.mozilla/firefox"),
                "Firefox (flatpak)",
            ),
        ],
        Os::MacOs => vec![(h.join("Library/Application Support/Firefox"), "Firefox")],
        Os::Windows => {
            let appdata = env
                .sys
                .var("APPDATA")
                .map(|a| OsPath::new(Os::Windows, a))
                .unwrap_or_else(|| h.join("AppData/Roaming"));
            vec![(appdata.join("Mozilla/Firefox"), "Firefox")]
        }
    };
    let mut out = Vec::new();
    for (root, what) in ff_roots {
        let Ok(ini) = env.sys.read_file(&root.join("profiles.ini").path()) else {
            continue;
        };
        for p in firefox_profiles(&String::from_utf8_lossy(&ini), &root) {
            let name = p.file_name().to_string();
            out.push((p, format!("{what} profile {name}")));
        }
    }
    out
}

/// The programs of the Chromium family on Linux, as their packages name them.
const CHROMIUM_PROGRAMS: [&str; 6] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "brave-browser",
    "microsoft-edge",
];

/// Every NSS database the user's browsers read.
pub fn databases(env: &Env<'_>) -> Vec<NssDb> {
    let h = &env.home;
    let mut out: Vec<NssDb> = Vec::new();
    let push = |out: &mut Vec<NssDb>, dir: OsPath, what: String| {
        let prefix = if env.sys.exists(&dir.join("cert9.db").path()) {
            "sql:"
        } else if env.sys.exists(&dir.join("cert8.db").path()) {
            "dbm:"
        } else {
            return;
        };
        if !out.iter().any(|d| d.dir == dir) {
            out.push(NssDb {
                prefix,
                dir,
                what,
                create: false,
            });
        }
    };
    if env.platform.os == Os::Linux {
        for (rel, what) in [
            (".pki/nssdb", "Chromium"),
            (".local/share/pki/nssdb", "Chromium (XDG)"),
            ("snap/chromium/current/.pki/nssdb", "Chromium (snap)"),
            (
                ".var/app/org.chromium.Chromium/.pki/nssdb",
                "Chromium (flatpak)",
            ),
            (".var/app/com.google.Chrome/.pki/nssdb", "Chrome (flatpak)"),
        ] {
            push(&mut out, h.join(rel), what.to_string());
        }
    }
    for (p, what) in firefox_profile_dirs(env) {
        push(&mut out, p, what);
    }
    // On Linux, Chromium trusts only NSS: make its database when no browser has yet — where a
    // Chromium-family browser or certutil is installed (a server with neither has no use for
    // it, and no way to make it: `certs trust` there is the system store's alone).
    let chromium_here = CHROMIUM_PROGRAMS
        .iter()
        .chain(["certutil"].iter())
        .any(|p| env.sys.which(p).is_some());
    if env.platform.os == Os::Linux
        && chromium_here
        && !out.iter().any(|d| d.what.starts_with("Chromium"))
    {
        out.insert(
            0,
            NssDb {
                prefix: "sql:",
                dir: h.join(".pki/nssdb"),
                what: "Chromium".into(),
                create: true,
            },
        );
    }
    out
}

impl Store for NssDb {
    fn kind(&self) -> &'static str {
        "nss"
    }
    fn location(&self) -> String {
        self.db()
    }
    fn describe(&self) -> String {
        format!("{} ({})", self.what, self.dir)
    }
    fn install(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let certutil = certutil(env)?;
        let mut steps = Vec::new();
        if self.create && !env.sys.exists(&self.dir.join("cert9.db").path()) {
            let mkdir = as_user(
                env,
                Cmd::new("mkdir")
                    .args(["-p", "-m", "700"])
                    .arg(self.dir.as_str()),
            );
            steps.push(Step::Run(mkdir));
            let init = as_user(
                env,
                Cmd::new(certutil.clone())
                    .args(["-N", "--empty-password", "-d"])
                    .arg(self.db()),
            );
            steps.push(Step::Run(init));
        }
        let add = Cmd::new(certutil)
            .args(["-A", "-d"])
            .arg(self.db())
            .args(["-t", "C,,", "-n"])
            .arg(env.ca.nickname.clone())
            .arg("-i")
            .arg(env.ca.pem_path.to_string_lossy());
        steps.push(Step::Run(as_user(env, add)));
        Ok(steps)
    }
    fn uninstall(&self, env: &Env<'_>) -> Result<Vec<Step>, TrustError> {
        let certutil = certutil(env)?;
        let del = Cmd::new(certutil)
            .args(["-D", "-d"])
            .arg(self.db())
            .arg("-n")
            .arg(env.ca.nickname.clone());
        Ok(vec![Step::Run(as_user(env, del))])
    }
    fn check(&self, env: &Env<'_>) -> Trust {
        let Ok(certutil) = certutil(env) else {
            return Trust::Unknown(format!(
                "certutil is not installed ({})",
                certutil_package(env)
            ));
        };
        if !env.sys.exists(&self.dir.path()) {
            return Trust::NotTrusted;
        }
        // the listing shows the certificate's SHA-256 and its trust flags for SSL
        let list = Cmd::new(certutil)
            .args(["-L", "-d"])
            .arg(self.db())
            .arg("-n")
            .arg(env.ca.nickname.clone());
        super::check_by_output(env, &list, &env.ca.fingerprint, ssl_trusted_ca, |o| {
            o.contains("Could not find cert") || o.contains("PR_FILE_NOT_FOUND_ERROR")
        })
    }
}

/// `certutil -L -n` lists "Trusted CA" under "SSL Flags" when browsers trust the CA for TLS.
fn ssl_trusted_ca(listing: &str) -> bool {
    let mut in_ssl = false;
    for l in listing.lines().map(str::trim) {
        if l.ends_with("Flags:") {
            in_ssl = l == "SSL Flags:";
        } else if in_ssl && l == "Trusted CA" {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::testing::env;
    use super::*;
    use crate::platform::Platform;
    use crate::sys::FakeSys;

    const INI: &str = "[Install4F96D1932A9F858E]\nDefault=abcd.default-release\nLocked=1\n\n[Profile1]\nName=default\nIsRelative=1\nPath=xyz.default\nDefault=1\n\n[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd.default-release\n\n[Profile2]\nName=work\nIsRelative=0\nPath=/data/ff/work\n\n[General]\nStartWithLastProfile=1\nVersion=2\n";

    #[test]
    fn profiles_ini_is_read() {
        let v = firefox_profiles(INI, &OsPath::new(Os::Linux, "/home/me/.mozilla/firefox"));
        let v: Vec<&str> = v.iter().map(OsPath::as_str).collect();
        assert_eq!(
            v,
            vec![
                "/data/ff/work",
                "/home/me/.mozilla/firefox/abcd.default-release",
                "/home/me/.mozilla/firefox/xyz.default",
            ]
        );
    }

    #[test]
    fn finds_every_database_and_creates_chromiums() {
        let s = FakeSys::new()
            .file("/home/me/.mozilla/firefox/profiles.ini", INI)
            .file(
                "/home/me/.mozilla/firefox/abcd.default-release/cert9.db",
                "",
            )
            .file("/home/me/.mozilla/firefox/xyz.default/cert8.db", "")
            .file(
                "/home/me/.config/mozilla/firefox/profiles.ini",
                "[Profile0]\nPath=p1\nIsRelative=1\n",
            )
            .file("/home/me/.config/mozilla/firefox/p1/cert9.db", "")
            .file(
                "/home/me/snap/firefox/common/.mozilla/firefox/profiles.ini",
                "[Profile0]\nPath=s1\n",
            )
            .file(
                "/home/me/snap/firefox/common/.mozilla/firefox/s1/cert9.db",
                "",
            )
            .file(
                "/home/me/.var/app/org.chromium.Chromium/.pki/nssdb/cert9.db",
                "",
            );
        let e = env(&s, Platform::linux(), false);
        let dbs: Vec<String> = databases(&e).iter().map(|d| d.location()).collect();
        assert_eq!(
            dbs,
            vec![
                "sql:/home/me/.var/app/org.chromium.Chromium/.pki/nssdb",
                "sql:/home/me/.mozilla/firefox/abcd.default-release",
                "dbm:/home/me/.mozilla/firefox/xyz.default",
                "sql:/home/me/.config/mozilla/firefox/p1",
                "sql:/home/me/snap/firefox/common/.mozilla/firefox/s1",
            ]
        );
        // with no Chromium database at all, ~/.pki/nssdb is created
        let s = FakeSys::new().program("certutil", "/usr/bin/certutil");
        let e = env(&s, Platform::linux(), false);
        let dbs = databases(&e);
        assert_eq!(dbs.len(), 1);
        assert!(dbs[0].create);
        super::super::testing::apply(&s, dbs[0].install(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                "mkdir -p -m 700 /home/me/.pki/nssdb",
                "certutil -N --empty-password -d sql:/home/me/.pki/nssdb",
                "certutil -A -d sql:/home/me/.pki/nssdb -t C,, -n 'devenv CA 0123456789abcdef' -i /home/me/.local/share/devenv/ca/rootCA.pem",
            ]
        );
        // a server with no browser and no certutil: no database to make (and nothing to fail)
        let s = FakeSys::new();
        assert!(databases(&env(&s, Platform::linux(), false)).is_empty());
        // Chromium installed, never started, no certutil: its database is still planned (and
        // `certs trust` names the package that makes it)
        let s = FakeSys::new().program("chromium", "/usr/bin/chromium");
        let dbs = databases(&env(&s, Platform::linux(), false));
        assert_eq!(dbs.len(), 1);
        assert!(dbs[0].create && dbs[0].what == "Chromium");
    }

    #[test]
    fn under_sudo_the_users_database_is_written_as_the_user() {
        let s = FakeSys::new().program("certutil", "/usr/bin/certutil");
        let mut e = env(&s, Platform::linux(), true);
        e.run_as = Some("me".into());
        let db = NssDb::from_location(&e, "sql:/home/me/.pki/nssdb");
        super::super::testing::apply(&s, db.uninstall(&e).unwrap());
        assert_eq!(
            s.commands(),
            vec![
                "sudo -u me -- certutil -D -d sql:/home/me/.pki/nssdb -n 'devenv CA 0123456789abcdef'"
            ]
        );
    }

    #[test]
    fn missing_certutil_names_the_package() {
        let s = FakeSys::new();
        let e = env(&s, Platform::linux(), false);
        let err = NssDb::from_location(&e, "sql:/x").install(&e).unwrap_err();
        assert!(err.to_string().contains("libnss3-tools"), "{err}");
        let e = env(&s, Platform::macos(), false);
        assert!(
            NssDb::from_location(&e, "sql:/x")
                .install(&e)
                .unwrap_err()
                .to_string()
                .contains("brew install nss")
        );
    }

    #[test]
    fn macos_and_windows_firefox_profiles() {
        let s = FakeSys::new()
            .file(
                "/Users/me/Library/Application Support/Firefox/profiles.ini",
                "[Profile0]\nPath=Profiles/a.default\nIsRelative=1\n",
            )
            .file(
                "/Users/me/Library/Application Support/Firefox/Profiles/a.default/cert9.db",
                "",
            );
        let e = env(&s, Platform::macos(), false);
        let dbs: Vec<String> = databases(&e).iter().map(|d| d.location()).collect();
        assert_eq!(
            dbs,
            vec!["sql:/Users/me/Library/Application Support/Firefox/Profiles/a.default"]
        );
        // Windows: %APPDATA%'s profiles, with Windows paths (whatever OS runs the test)
        let s = FakeSys::new()
            .env("APPDATA", r"C:\Users\me\AppData\Roaming")
            .file(
                r"C:\Users\me\AppData\Roaming\Mozilla\Firefox\profiles.ini",
                "[Profile0]\nPath=Profiles\\w.default\nIsRelative=1\n",
            )
            .file(
                r"C:\Users\me\AppData\Roaming\Mozilla\Firefox\Profiles\w.default\cert9.db",
                "",
            );
        let e = env(&s, Platform::windows(), false);
        let dbs: Vec<String> = databases(&e).iter().map(|d| d.location()).collect();
        assert_eq!(
            dbs,
            vec![r"sql:C:\Users\me\AppData\Roaming\Mozilla\Firefox\Profiles\w.default"]
        );
    }

    /// `certutil -L -d DB -n NICK` (NSS 3.87) of the CA added with `-t C,,`, and of a missing one.
    const LISTED: &str = "Certificate:\n    Data:\n        Version: 3 (0x2)\n        Serial Number:\n            1f:2e:3d:4c:5b:6a:79:88:01:23:45:67:89:ab:cd:ef\n    Fingerprint (SHA-256):\n        01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF\n    Fingerprint (SHA1):\n        AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD\n\n    Certificate Trust Flags:\n        SSL Flags:\n            Valid CA\n            Trusted CA\n        Email Flags:\n        Object Signing Flags:\n";
    const MISSING: &str = "certutil: Could not find cert: devenv CA 0123456789abcdef\n: PR_FILE_NOT_FOUND_ERROR: File not found\n";

    #[test]
    fn trust_is_read_from_the_listing() {
        let check = |status: i32, out: &str| {
            let s = FakeSys::new()
                .program("certutil", "/usr/bin/certutil")
                .dir("/home/me/.pki/nssdb")
                .respond("certutil -L", status, out);
            let e = env(&s, Platform::linux(), false);
            NssDb::from_location(&e, "sql:/home/me/.pki/nssdb").check(&e)
        };
        assert_eq!(check(0, LISTED), Trust::Trusted);
        // listed, but without the SSL trust flag: not trusted for HTTPS
        assert_eq!(
            check(0, &LISTED.replace("            Trusted CA\n", "")),
            Trust::NotTrusted
        );
        assert_eq!(check(255, MISSING), Trust::NotTrusted);
        assert!(matches!(check(0, ""), Trust::Unknown(_)));
    }
}

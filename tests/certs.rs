//! The local CA end to end: real TLS clients (OpenSSL, curl, Python), the name constraints,
//! headless Chromium before/after `certs trust`/`untrust`, the Debian system store in a private
//! mount namespace, rotation, `certs env`, and the bad inputs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

const NAMES: &[&str] = &[
    "myblog.test",
    "api.myblog.test",
    "x.myblog.test",
    "localhost",
];

fn issue(project: &Path, caroot: &Path) {
    let o = devenv()
        .env("DEVENV_CAROOT", caroot)
        .arg("-C")
        .arg(project)
        .args(["certs", "issue"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap()
}

fn s_client(port: u16, name: &str, ca: Option<&Path>) -> (bool, String) {
    let mut c = Command::new("openssl");
    c.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-verify_return_error",
    ]);
    if name.parse::<std::net::IpAddr>().is_ok() {
        c.args(["-verify_ip", name]);
    } else {
        c.args(["-servername", name, "-verify_hostname", name]);
    }
    if let Some(ca) = ca {
        c.arg("-CAfile").arg(ca);
    }
    let o = c.stdin(Stdio::null()).output().unwrap();
    let text = format!("{}{}", stdout(&o), stderr(&o));
    (
        o.status.success() && text.contains("Verify return code: 0 (ok)"),
        text,
    )
}

fn python_ssl(port: u16, name: &str, ca: Option<&Path>) -> bool {
    let script = format!(
        "import ssl, socket\nctx = ssl.create_default_context({})\ns = ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port})), server_hostname='{name}')\nprint(s.version())",
        ca.map(|c| format!("cafile='{}'", c.display()))
            .unwrap_or_default()
    );
    Command::new("python3")
        .args(["-c", &script])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn tls_clients_accept_every_san_with_the_ca_and_reject_without() {
    if !require(
        "openssl, curl and python3",
        have("openssl") && have("curl") && have("python3"),
    ) {
        return;
    }
    let p = mini_project("myblog", &["myblog.test", "api.myblog.test"]);
    let caroot = tempfile::tempdir().unwrap();
    issue(p.path(), caroot.path());
    let ca = caroot.path().join("rootCA.pem");
    let (crt, key) = (
        p.path().join("certs/local.crt"),
        p.path().join("certs/local.key"),
    );
    let port = free_port();
    let _server = TlsServer::start(&crt, &key, port);
    for name in NAMES {
        let (ok, text) = s_client(port, name, Some(&ca));
        assert!(ok, "openssl with the CA, {name}:\n{text}");
        let o = curl(&[
            "--cacert",
            &ca.to_string_lossy(),
            "--resolve",
            &format!("{name}:{port}:127.0.0.1"),
            &format!("https://{name}:{port}/"),
        ]);
        assert!(
            o.status.success(),
            "curl with the CA, {name}: {}",
            stderr(&o)
        );
        assert!(
            python_ssl(port, name, Some(&ca)),
            "python ssl with the CA, {name}"
        );
        // and without it: rejected
        let (ok, _) = s_client(port, name, None);
        assert!(!ok, "openssl accepted {name} without the CA");
        let o = curl(&[
            "--resolve",
            &format!("{name}:{port}:127.0.0.1"),
            &format!("https://{name}:{port}/"),
        ]);
        assert_eq!(
            o.status.code(),
            Some(60),
            "curl without the CA, {name}: {}",
            stderr(&o)
        );
        assert!(
            !python_ssl(port, name, None),
            "python accepted {name} without the CA"
        );
    }
    // the IP SANs
    for (url, ip) in [
        (format!("https://127.0.0.1:{port}/"), "127.0.0.1"),
        (format!("https://[::1]:{port}/"), "::1"),
    ] {
        let o = curl(&["-g", "--cacert", &ca.to_string_lossy(), &url]);
        assert!(o.status.success(), "curl {url}: {}", stderr(&o));
        let o = curl(&["-g", &url]);
        assert!(!o.status.success(), "curl accepted {ip} without the CA");
    }
    // a name the leaf does not carry is refused even with the CA (the checks are real)
    let o = curl(&[
        "--cacert",
        &ca.to_string_lossy(),
        "--resolve",
        &format!("other.test:{port}:127.0.0.1"),
        &format!("https://other.test:{port}/"),
    ]);
    assert!(!o.status.success());
}

#[test]
fn name_constraints_are_enforced_by_openssl_curl_and_python() {
    if !require(
        "openssl, curl and python3",
        have("openssl") && have("curl") && have("python3"),
    ) {
        return;
    }
    let p = mini_project("myblog", &["myblog.test"]);
    let caroot = tempfile::tempdir().unwrap();
    issue(p.path(), caroot.path());
    let ca_pem = caroot.path().join("rootCA.pem");
    let ca = devenv::certs::ca::Ca::load(caroot.path()).unwrap().unwrap();
    let d = tempfile::tempdir().unwrap();
    // the CA's key signs for example.com anyway (as a thief would)
    let forged = |name: &str| -> (PathBuf, PathBuf) {
        let (c, k) = (
            d.path().join(format!("{name}.crt")),
            d.path().join(format!("{name}.key")),
        );
        let m = devenv::certs::leaf::mint(&ca, &[name.to_string()]).unwrap();
        std::fs::write(&c, &m.cert_pem).unwrap();
        std::fs::write(&k, &m.key_pem).unwrap();
        (c, k)
    };
    let (c, k) = forged("example.com");
    let port = free_port();
    let _s = TlsServer::start(&c, &k, port);
    let (ok, text) = s_client(port, "example.com", Some(&ca_pem));
    assert!(
        !ok,
        "openssl accepted a certificate outside the name constraints"
    );
    assert!(text.contains("permitted subtree violation"), "{text}");
    let o = curl(&[
        "--cacert",
        &ca_pem.to_string_lossy(),
        "--resolve",
        &format!("example.com:{port}:127.0.0.1"),
        &format!("https://example.com:{port}/"),
    ]);
    assert!(!o.status.success(), "curl accepted example.com");
    assert!(!python_ssl(port, "example.com", Some(&ca_pem)));
    // control: the same forging path inside the constraints is accepted
    let (c2, k2) = forged("inside.test");
    let port2 = free_port();
    let _s2 = TlsServer::start(&c2, &k2, port2);
    let (ok, text) = s_client(port2, "inside.test", Some(&ca_pem));
    assert!(ok, "{text}");
}

fn chromium_available() -> bool {
    can_use_mount_namespaces() && have("chromium") && have("certutil")
}

#[test]
fn chromium_before_trust_after_trust_after_untrust() {
    if !require(
        "root, mount namespaces, chromium and certutil",
        chromium_available(),
    ) {
        return;
    }
    let _lock = machine_lock("trust");
    let sb = Sandbox::new("127.0.0.1\tlocalhost\n127.0.0.1\tmyblog.test\n127.0.0.1\texample.com\n");
    let p = mini_project("myblog", &["myblog.test"]);
    let dir = p.path().to_str().unwrap();
    let o = sb.devenv(&["-C", dir, "certs", "issue"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let port = free_port();
    let _server = TlsServer::start(
        &p.path().join("certs/local.crt"),
        &p.path().join("certs/local.key"),
        port,
    );
    let url = format!("https://myblog.test:{port}/");

    let (dom, log) = sb.chromium(&url);
    assert!(
        log.contains("ERR_CERT_AUTHORITY_INVALID"),
        "before trust: {log}"
    );
    assert!(!dom.contains("s_server"));

    let o = sb.devenv(&["-C", dir, "certs", "trust"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (dom, log) = sb.chromium(&url);
    assert!(
        dom.contains("s_server -quiet -www"),
        "after trust the page loads:\n{log}"
    );
    assert!(!log.contains("ERR_CERT"), "{log}");

    // the name constraints hold in Chromium too: a forged example.com is refused
    let ca = devenv::certs::ca::Ca::load(&sb.caroot).unwrap().unwrap();
    let (fc, fk) = (sb.dir.path().join("f.crt"), sb.dir.path().join("f.key"));
    let m = devenv::certs::leaf::mint(&ca, &["example.com".to_string()]).unwrap();
    std::fs::write(&fc, &m.cert_pem).unwrap();
    std::fs::write(&fk, &m.key_pem).unwrap();
    let port2 = free_port();
    let _forged = TlsServer::start(&fc, &fk, port2);
    let (dom, log) = sb.chromium(&format!("https://example.com:{port2}/"));
    assert!(
        log.contains("ERR_CERT_INVALID"),
        "a certificate outside the constraints: {log}"
    );
    assert!(!dom.contains("s_server"));

    let o = sb.devenv(&["-C", dir, "certs", "untrust"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (dom, log) = sb.chromium(&url);
    assert!(
        log.contains("ERR_CERT_AUTHORITY_INVALID"),
        "after untrust: {log}"
    );
    assert!(!dom.contains("s_server"));
}

fn tree_of_links(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn debian_system_store_in_a_private_namespace() {
    if !require(
        "root, mount namespaces, update-ca-certificates and curl",
        can_use_mount_namespaces() && have("update-ca-certificates") && have("curl"),
    ) {
        return;
    }
    let _lock = machine_lock("trust");
    let sb = Sandbox::new("127.0.0.1\tlocalhost\n127.0.0.1\tmyblog.test\n");
    let bundle = sb.etc_certs.join("ca-certificates.crt");
    let before = std::fs::read(&bundle).unwrap();
    let links_before = tree_of_links(&sb.etc_certs);
    let machine_bundle = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let p = mini_project("myblog", &["myblog.test"]);
    let dir = p.path().to_str().unwrap();
    assert!(sb.devenv(&["-C", dir, "certs", "issue"]).status.success());
    let port = free_port();
    let _server = TlsServer::start(
        &p.path().join("certs/local.crt"),
        &p.path().join("certs/local.key"),
        port,
    );
    let url = format!("https://myblog.test:{port}/");
    let curl_in = || {
        sb.command(Path::new("curl"), &["-sS", "--max-time", "10", &url])
            .output()
            .unwrap()
    };

    assert_eq!(
        curl_in().status.code(),
        Some(60),
        "curl trusts the leaf before `certs trust`"
    );

    // --dry-run: each store's own steps, once, under its name; nothing installed anywhere
    let local_before = tree(&sb.local_cas);
    let o = sb.devenv(&["-C", dir, "certs", "trust", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    let (system, rest) = plan
        .split_once("Chromium (")
        .unwrap_or_else(|| panic!("a Chromium section after the system store's:\n{plan}"));
    assert!(
        system.starts_with("system store, Debian/Ubuntu")
            && system.contains("  would write /usr/local/share/ca-certificates/devenv-")
            && system.contains("  would run: update-ca-certificates"),
        "{plan}"
    );
    assert!(
        rest.contains("would run: certutil -A") && !rest.contains("update-ca-certificates"),
        "the Chromium section lists only its own steps:\n{plan}"
    );
    assert_same_tree(&local_before, &tree(&sb.local_cas), "certs trust --dry-run");
    assert_eq!(std::fs::read(&bundle).unwrap(), before);
    assert!(!sb.home.join(".pki").exists() && !sb.caroot.join("trust.json").exists());
    assert_eq!(
        curl_in().status.code(),
        Some(60),
        "still untrusted after the dry run"
    );

    let o = sb.devenv(&["-C", dir, "certs", "trust"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("trusted by system store, Debian/Ubuntu"),
        "{}",
        stderr(&o)
    );
    let o = curl_in();
    assert!(
        o.status.success(),
        "curl with no --cacert after trust: {}",
        stderr(&o)
    );
    assert_ne!(std::fs::read(&bundle).unwrap(), before);

    let o = sb.devenv(&["-C", dir, "certs", "untrust"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&bundle).unwrap(),
        before,
        "the bundle is byte-identical after untrust"
    );
    assert_eq!(
        tree_of_links(&sb.etc_certs),
        links_before,
        "no link left behind in /etc/ssl/certs"
    );
    assert_eq!(
        tree_of_links(&sb.local_cas),
        tree_of_links(Path::new("/usr/local/share/ca-certificates"))
    );
    assert_eq!(curl_in().status.code(), Some(60));
    // the machine's own store was never touched
    assert_eq!(
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap(),
        machine_bundle
    );
}

#[test]
fn rotate_replaces_the_ca_everywhere() {
    if !require(
        "root, mount namespaces and certutil",
        can_use_mount_namespaces() && have("certutil"),
    ) {
        return;
    }
    let _lock = machine_lock("trust");
    let sb = Sandbox::new("127.0.0.1\tlocalhost\n");
    let p = mini_project("myblog", &["myblog.test"]);
    let dir = p.path().to_str().unwrap();
    assert!(sb.devenv(&["-C", dir, "certs", "trust"]).status.success());
    assert!(sb.devenv(&["-C", dir, "certs", "issue"]).status.success());
    let old = devenv::certs::ca::Ca::load(&sb.caroot).unwrap().unwrap();
    let o = sb.devenv(&["-C", dir, "certs", "rotate", "--permit", "example.org"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let new = devenv::certs::ca::Ca::load(&sb.caroot).unwrap().unwrap();
    assert_ne!(old.fingerprint, new.fingerprint);
    assert!(new.permits("shop.example.org") && !new.permits("example.com"));
    let o = sb.devenv(&["-C", dir, "certs", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ca"]["fingerprint_sha256"], new.fingerprint.as_str());
    for s in v["stores"].as_array().unwrap() {
        assert_eq!(s["trust"]["state"], "trusted", "{s}");
    }
    let leaf = &v["leaves"][0];
    assert_eq!(
        leaf["ok"], true,
        "the leaf was re-issued by the new CA: {leaf}"
    );
    // the old CA is gone from the NSS database, the new one is there
    let list = sb
        .command(
            Path::new("certutil"),
            &[
                "-L",
                "-d",
                &format!("sql:{}", sb.home.join(".pki/nssdb").display()),
            ],
        )
        .output()
        .unwrap();
    let list = stdout(&list);
    assert!(
        list.contains(&new.nickname()) && !list.contains(&old.nickname()),
        "{list}"
    );
    // and from the records
    let records = std::fs::read_to_string(sb.caroot.join("trust.json")).unwrap();
    assert!(!records.contains(&old.fingerprint) && records.contains(&new.fingerprint));
    assert!(sb.devenv(&["-C", dir, "certs", "untrust"]).status.success());
}

#[test]
fn env_exports_a_bundle_that_curl_trusts() {
    if !require("curl and openssl", have("curl") && have("openssl")) {
        return;
    }
    let p = mini_project("myblog", &["myblog.test"]);
    let caroot = tempfile::tempdir().unwrap();
    issue(p.path(), caroot.path());
    let o = devenv()
        .env("DEVENV_CAROOT", caroot.path())
        .arg("-C")
        .arg(p.path())
        .args(["certs", "env", "--shell", "bash"])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains("export NODE_EXTRA_CA_CERTS="), "{out}");
    for k in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"] {
        assert!(out.contains(&format!("export {k}=")), "{out}");
    }
    let port = free_port();
    let _server = TlsServer::start(
        &p.path().join("certs/local.crt"),
        &p.path().join("certs/local.key"),
        port,
    );
    let script = format!(
        "{out}\ncurl -sS --max-time 10 --resolve myblog.test:{port}:127.0.0.1 https://myblog.test:{port}/ >/dev/null && \
         curl -sS --max-time 10 -o /dev/null -w '%{{http_code}}' --resolve myblog.test:{port}:127.0.0.1 https://myblog.test:{port}/"
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(
        o.status.success(),
        "curl with `certs env` exports: {}",
        stderr(&o)
    );
    let o = devenv()
        .env("DEVENV_CAROOT", caroot.path())
        .args(["certs", "env", "--shell", "fish"])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("set -gx SSL_CERT_FILE"));
}

#[test]
fn bad_inputs_are_explained_and_write_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let p = mini_project("myblog", &["myblog.test"]);
    let caroot = tempfile::tempdir().unwrap();
    let run = |proj: &Path| {
        devenv()
            .env("DEVENV_CAROOT", caroot.path())
            .arg("-C")
            .arg(proj)
            .args(["certs", "issue"])
            .output()
            .unwrap()
    };
    issue(p.path(), caroot.path());
    std::fs::remove_dir_all(p.path().join("certs")).unwrap();
    let key = caroot.path().join("rootCA-key.pem");
    let cert = caroot.path().join("rootCA.pem");

    // a CA key others can read
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(p.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is readable by others (mode 0644)")
            && stderr(&o).contains("chmod 600"),
        "{}",
        stderr(&o)
    );
    assert!(!p.path().join("certs").exists());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // a corrupt CA certificate
    let good = std::fs::read(&cert).unwrap();
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let o = run(p.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("{}:", cert.display()))
            && stderr(&o).contains("devenv certs rotate"),
        "{}",
        stderr(&o)
    );
    assert!(!p.path().join("certs").exists());
    std::fs::write(&cert, &good).unwrap();

    // half a CA: the key is gone; nothing is re-created over the certificate
    std::fs::rename(&key, caroot.path().join("moved-key")).unwrap();
    let o = run(p.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "the CA in {} is incomplete: {} exists but {} does not",
            caroot.path().display(),
            cert.display(),
            key.display()
        )),
        "{}",
        stderr(&o)
    );
    assert!(!key.exists() && std::fs::read(&cert).unwrap() == good);
    assert!(!p.path().join("certs").exists());
    std::fs::rename(caroot.path().join("moved-key"), &key).unwrap();

    // a corrupt record of the trusted stores: status and untrust stop and say which file
    let record = caroot.path().join("trust.json");
    std::fs::write(&record, "{").unwrap();
    for cmd in ["status", "untrust"] {
        let o = devenv()
            .env("DEVENV_CAROOT", caroot.path())
            .arg("-C")
            .arg(p.path())
            .args(["certs", cmd])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "certs {cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!(
                "{}: corrupt record of trusted stores",
                record.display()
            )) && stderr(&o).contains("move it away"),
            "certs {cmd}: {}",
            stderr(&o)
        );
        assert_eq!(std::fs::read(&record).unwrap(), b"{");
    }
    std::fs::remove_file(&record).unwrap();

    // the CA root inside the project (its key would be committed): refused before it is created
    let inside = p.path().join("ca");
    let o = devenv()
        .env("DEVENV_CAROOT", &inside)
        .arg("-C")
        .arg(p.path())
        .args(["certs", "issue"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is inside the project") && stderr(&o).contains("never be committed"),
        "{}",
        stderr(&o)
    );
    assert!(!inside.exists() && !p.path().join("certs").exists());
    // ...also when the path reaches the project through a symlink
    let elsewhere = tempfile::tempdir().unwrap();
    let link = elsewhere.path().join("link-to-project");
    std::os::unix::fs::symlink(p.path(), &link).unwrap();
    let o = devenv()
        .env("DEVENV_CAROOT", link.join("ca"))
        .arg("-C")
        .arg(p.path())
        .args(["certs", "issue"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "through a symlink: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("is inside the project"),
        "{}",
        stderr(&o)
    );
    assert!(!inside.exists() && !p.path().join("certs").exists());

    // a name outside the constraints: pointed at in the profile, with the fix
    let bad = mini_project("shop", &["shop.com"]);
    let o = run(bad.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("profiles/local.yaml:1:9")
            && err.contains("outside the names devenv's CA may sign"),
        "{err}"
    );
    assert!(
        err.contains("devenv certs rotate --permit shop.com"),
        "{err}"
    );
    assert!(!bad.path().join("certs").exists());

    // a certs directory this user cannot write (as an unprivileged user when we are root)
    if require(
        "root and setpriv (to act as an unprivileged user)",
        is_root() && have("setpriv"),
    ) {
        let owner = tempfile::tempdir().unwrap();
        let proj = mini_project("myblog", &["myblog.test"]);
        let ca2 = owner.path().join("ca");
        for d in [owner.path(), proj.path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let certs = proj.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::set_permissions(&certs, std::fs::Permissions::from_mode(0o555)).unwrap();
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(devenv_bin())
            .arg("-C")
            .arg(proj.path())
            .args(["certs", "issue"])
            .env("DEVENV_CAROOT", &ca2)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!(
                "cannot write {}",
                certs.join("local.key").display()
            )),
            "{}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("make") && stderr(&o).contains("writable"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read_dir(&certs).unwrap().count(),
            0,
            "nothing half-written"
        );
    }
}

#[test]
fn issue_is_idempotent_and_renews_when_names_change() {
    let p = mini_project("myblog", &["myblog.test"]);
    let caroot = tempfile::tempdir().unwrap();
    issue(p.path(), caroot.path());
    let crt = p.path().join("certs/local.crt");
    let first = std::fs::read(&crt).unwrap();
    issue(p.path(), caroot.path());
    assert_eq!(
        std::fs::read(&crt).unwrap(),
        first,
        "a current leaf is kept"
    );
    let prof = p.path().join("profiles/local.yaml");
    let src = std::fs::read_to_string(&prof).unwrap().replace(
        "hosts: [\"myblog.test\"]",
        "hosts: [\"myblog.test\", \"new.myblog.test\"]",
    );
    std::fs::write(&prof, src).unwrap();
    let o = devenv()
        .env("DEVENV_CAROOT", caroot.path())
        .arg("-C")
        .arg(p.path())
        .args(["certs", "issue"])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("new names new.myblog.test"),
        "{}",
        stderr(&o)
    );
    assert_ne!(std::fs::read(&crt).unwrap(), first);
    let o = devenv()
        .env("DEVENV_CAROOT", caroot.path())
        .arg("-C")
        .arg(p.path())
        .args(["certs", "issue", "--force"])
        .output()
        .unwrap();
    assert!(stderr(&o).contains("(--force;"), "{}", stderr(&o));
}

/// With the CA's key, a thief forges leaves with OpenSSL for an e-mail address, a URI and S/MIME
/// signing: OpenSSL refuses every one (the name constraints close e-mail and URI names, and the
/// CA's extended key usage allows TLS only). A DNS leaf inside the constraints is the control.
#[test]
fn forged_email_uri_and_smime_leaves_are_rejected() {
    if !require("openssl", have("openssl")) {
        return;
    }
    let p = mini_project("myblog", &["myblog.test"]);
    let caroot = tempfile::tempdir().unwrap();
    issue(p.path(), caroot.path());
    let (ca, ca_key) = (
        caroot.path().join("rootCA.pem"),
        caroot.path().join("rootCA-key.pem"),
    );
    let d = tempfile::tempdir().unwrap();
    let forge = |name: &str, ext: &str| -> PathBuf {
        let (key, csr, crt, cnf) = (
            d.path().join(format!("{name}.key")),
            d.path().join(format!("{name}.csr")),
            d.path().join(format!("{name}.crt")),
            d.path().join(format!("{name}.cnf")),
        );
        std::fs::write(&cnf, ext).unwrap();
        let o = Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/O=forged",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let o = Command::new("openssl")
            .args(["x509", "-req", "-days", "30", "-set_serial", "4242"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&ca)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-extfile")
            .arg(&cnf)
            .arg("-out")
            .arg(&crt)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "the CA key signs anything: {}",
            stderr(&o)
        );
        crt
    };
    let verify = |crt: &Path, purpose: Option<&str>| -> (bool, String) {
        let mut c = Command::new("openssl");
        c.arg("verify").arg("-CAfile").arg(&ca);
        if let Some(p) = purpose {
            c.args(["-purpose", p]);
        }
        let o = c.arg(crt).output().unwrap();
        (o.status.success(), format!("{}{}", stdout(&o), stderr(&o)))
    };
    let email = forge("email", "subjectAltName=email:ceo@bigbank.com\n");
    let (ok, text) = verify(&email, None);
    assert!(!ok, "openssl accepted an e-mail leaf: {text}");
    assert!(text.contains("permitted subtree violation"), "{text}");
    let smime = forge(
        "smime",
        "subjectAltName=email:ceo@bigbank.com\nextendedKeyUsage=emailProtection\nkeyUsage=digitalSignature\n",
    );
    let (ok, text) = verify(&smime, Some("smimesign"));
    assert!(!ok, "openssl accepted an S/MIME signing leaf: {text}");
    let uri = forge("uri", "subjectAltName=URI:https://www.bigbank.com/\n");
    let (ok, text) = verify(&uri, None);
    assert!(!ok, "openssl accepted a URI leaf: {text}");
    assert!(text.contains("permitted subtree violation"), "{text}");
    // S/MIME even for an address the constraints would allow: the CA is for TLS only
    let smime_ok_name = forge(
        "smime2",
        "subjectAltName=email:me@invalid\nextendedKeyUsage=emailProtection\n",
    );
    let (ok, text) = verify(&smime_ok_name, Some("smimesign"));
    assert!(!ok, "openssl accepted S/MIME from a TLS-only CA: {text}");
    // control: a TLS server leaf inside the constraints, forged the same way, verifies
    let control = forge(
        "control",
        "subjectAltName=DNS:forged.myblog.test\nextendedKeyUsage=serverAuth\n",
    );
    let (ok, text) = verify(&control, Some("sslserver"));
    assert!(ok, "the control leaf: {text}");
}

/// 10 processes × 10 rounds of first-time `certs issue` sharing one CA root (half of them in one
/// project, half in projects of their own): no run fails, every leaf chains to the CA that is
/// there at the end, every key matches its certificate.
#[test]
fn concurrent_first_time_issues_always_leave_a_working_ca_and_leaves() {
    if !require("openssl", have("openssl")) {
        return;
    }
    let pubkey = |args: &[&str], file: &Path| -> String {
        let o = Command::new("openssl")
            .args(args)
            .arg(file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let (mut failures, mut unchained, mut mismatched) = (0, 0, 0);
    for round in 0..10 {
        let caroot = tempfile::tempdir().unwrap();
        let shared = mini_project("shared", &["shared.test"]);
        let own: Vec<tempfile::TempDir> = (0..5)
            .map(|i| mini_project(&format!("own{i}"), &[&format!("own{i}.test")]))
            .collect();
        let dirs: Vec<&Path> = (0..10)
            .map(|i| {
                if i % 2 == 0 {
                    shared.path()
                } else {
                    own[i / 2].path()
                }
            })
            .collect();
        let children: Vec<std::process::Child> = dirs
            .iter()
            .map(|d| {
                Command::new(devenv_bin())
                    .arg("-C")
                    .arg(d)
                    .args(["-q", "certs", "issue"])
                    .env("DEVENV_CAROOT", caroot.path())
                    .env("DEVENV_DATA_DIR", caroot.path().join("data"))
                    .env("NO_COLOR", "1")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            if !o.status.success() {
                failures += 1;
                eprintln!("round {round}: {}", stderr(&o));
            }
        }
        let ca = caroot.path().join("rootCA.pem");
        for d in std::iter::once(shared.path()).chain(own.iter().map(|o| o.path())) {
            let (crt, key) = (d.join("certs/local.crt"), d.join("certs/local.key"));
            let o = Command::new("openssl")
                .arg("verify")
                .arg("-CAfile")
                .arg(&ca)
                .arg(&crt)
                .output()
                .unwrap();
            if !o.status.success() {
                unchained += 1;
                eprintln!(
                    "round {round}: {} does not chain: {}",
                    crt.display(),
                    stderr(&o)
                );
            }
            if pubkey(&["x509", "-noout", "-pubkey", "-in"], &crt)
                != pubkey(&["pkey", "-pubout", "-in"], &key)
            {
                mismatched += 1;
            }
        }
    }
    eprintln!(
        "100 concurrent first-time issues: {failures} failed, {unchained} leaves not chaining, {mismatched} keys not matching"
    );
    assert_eq!((failures, unchained, mismatched), (0, 0, 0));
}

/// A leaf whose validity starts in the future (planted, or from a clock that ran ahead) is not
/// "ok": `certs status` says why and `certs issue` replaces it.
#[test]
fn a_leaf_valid_only_in_the_future_is_reissued() {
    if !require("openssl", have("openssl")) {
        return;
    }
    let p = mini_project("myblog", &["myblog.test"]);
    let caroot = tempfile::tempdir().unwrap();
    issue(p.path(), caroot.path());
    // the same names, signed by the same CA, valid from next year on (`openssl ca -startdate`)
    let d = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| std::fs::write(d.path().join(name), text).unwrap();
    w("index.txt", "");
    w("serial", "1000\n");
    w(
        "ca.cnf",
        "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\npolicy=p\ndefault_md=sha256\nunique_subject=no\n[p]\n\
         [x]\nsubjectAltName=DNS:myblog.test,DNS:*.myblog.test,DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n",
    );
    let key = p.path().join("certs/local.key");
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "openssl {args:?}: {}", stderr(&o));
    };
    run(&[
        "req",
        "-new",
        "-subj",
        "/O=x",
        "-key",
        key.to_str().unwrap(),
        "-out",
        "r.csr",
    ]);
    let next_year = (time::OffsetDateTime::now_utc() + time::Duration::days(400)).year() % 100;
    run(&[
        "ca",
        "-batch",
        "-config",
        "ca.cnf",
        "-extensions",
        "x",
        "-notext",
        "-in",
        "r.csr",
        "-cert",
        caroot.path().join("rootCA.pem").to_str().unwrap(),
        "-keyfile",
        caroot.path().join("rootCA-key.pem").to_str().unwrap(),
        "-startdate",
        &format!("{next_year:02}0101000000Z"),
        "-enddate",
        &format!("{next_year:02}1231000000Z"),
        "-out",
        p.path().join("certs/local.crt").to_str().unwrap(),
    ]);
    let planted = std::fs::read(p.path().join("certs/local.crt")).unwrap();
    let status = devenv()
        .env("DEVENV_CAROOT", caroot.path())
        .arg("-C")
        .arg(p.path())
        .args(["certs", "status"])
        .output()
        .unwrap();
    assert!(
        stdout(&status).contains("needs issuing: not valid yet"),
        "{}",
        stdout(&status)
    );
    let o = devenv()
        .env("DEVENV_CAROOT", caroot.path())
        .arg("-C")
        .arg(p.path())
        .args(["certs", "issue"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("issued certs/local.crt") || stderr(&o).contains("issued"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("not valid yet"), "{}", stderr(&o));
    assert_ne!(
        std::fs::read(p.path().join("certs/local.crt")).unwrap(),
        planted
    );
}

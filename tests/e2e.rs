//! The product's promise end to end: `devenv certs trust` + `devenv up local` give HTTPS and WSS
//! on myblog.test in a real headless Chromium with no certificate flags; `switch server` removes
//! the hosts block and the guard keeps the server profile off the local swarm; `switch local` +
//! `up` bring it back; `down` then `up` works; `doctor` names what is broken.
//!
//! Everything runs in a private mount namespace (own /etc/hosts, own system trust directories),
//! with a fresh HOME and CA root, against the real dockerd and images built offline.

mod common;

use std::path::Path;

use common::*;

fn e2e_ready() -> bool {
    can_use_mount_namespaces()
        && docker_ready()
        && engine_ready()
        && have("chromium")
        && have("certutil")
        && have("openssl")
        && have("update-ca-certificates")
        && Path::new("/usr/sbin/nginx").exists()
}

fn run(sb: &Sandbox, dir: &Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["-C", dir.to_str().unwrap()];
    full.extend_from_slice(args);
    sb.devenv(&full)
}

fn ok(o: &std::process::Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// `devenv ARGS` in the sandbox with stderr and stdout in one stream, as a terminal shows them.
fn run_merged(sb: &Sandbox, dir: &Path, args: &[&str]) -> (std::process::Output, String) {
    let bin = devenv_bin();
    let mut full = vec![
        "-c",
        "exec \"$0\" \"$@\" 2>&1",
        bin.to_str().unwrap(),
        "-C",
        dir.to_str().unwrap(),
    ];
    full.extend_from_slice(args);
    let o = sb.command(Path::new("sh"), &full).output().unwrap();
    let text = stdout(&o);
    (o, text)
}

/// The README's quote of `$ CMD`: the lines after it up to the next `$ ` line or the block's end.
fn readme_quote(cmd: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut lines = readme.lines().skip_while(|l| *l != format!("$ {cmd}"));
    assert!(lines.next().is_some(), "README quotes no `$ {cmd}`");
    let mut quote: Vec<String> = lines
        .take_while(|l| !l.starts_with("$ ") && !l.starts_with("```"))
        .map(String::from)
        .collect();
    // a blank line before the next `$ ` of the same block is the README's, not devenv's
    while quote.last().is_some_and(|l| l.is_empty()) {
        quote.pop();
    }
    quote
}

/// A line as the README may spell it: the test's paths and names replaced by the README's,
/// numbers as 0, ids (long tokens with digits) as <id>, trailing blanks dropped.
fn normalized(line: &str, subst: &[(&str, &str)]) -> String {
    let mut l = line.trim_end().to_string();
    for (from, to) in subst {
        l = l.replace(from, to);
    }
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.len() >= 12 && token.chars().any(|c| c.is_ascii_digit()) {
            out.push_str("<id>");
        } else {
            let mut digits = false;
            for c in token.chars() {
                if c.is_ascii_digit() {
                    if !digits {
                        out.push('0');
                    }
                    digits = true;
                } else {
                    digits = false;
                    out.push(c);
                }
            }
        }
        token.clear();
    };
    for c in l.chars() {
        if c.is_ascii_alphanumeric() {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// The README's quote of `$ CMD` is what devenv printed: each quoted line is the next line of the
/// real output (after [`normalized`]); a `...` line stands for any number of lines.
///
/// `DEVENV_README_DUMP=1` prints each output (as the README spells it) instead of checking:
/// how the quotes are regenerated after a change (`cargo test --test e2e -- --nocapture`).
fn assert_readme_quote(cmd: &str, output: &str, subst: &[(&str, &str)]) {
    if std::env::var_os("DEVENV_README_DUMP").is_some() {
        let mut text = output.to_string();
        for (from, to) in subst {
            text = text.replace(from, to);
        }
        eprintln!("----- $ {cmd}\n{text}-----");
        return;
    }
    let quote = readme_quote(cmd);
    let raw: Vec<&str> = output.lines().collect();
    let real: Vec<String> = raw.iter().map(|l| normalized(l, subst)).collect();
    let mut at = 0;
    let mut skipping = false;
    for q in &quote {
        if q == "..." {
            skipping = true;
            continue;
        }
        let want = normalized(q, &[]);
        let found = if skipping {
            real[at..].iter().position(|r| *r == want).map(|i| at + i)
        } else {
            (real.get(at) == Some(&want)).then_some(at)
        };
        match found {
            Some(i) => at = i + 1,
            None => panic!(
                "README's `$ {cmd}` says\n  {q}\nwhere devenv printed (from line {}):\n{}",
                at + 1,
                raw[at.min(raw.len())..].join("\n")
            ),
        }
        skipping = false;
    }
    assert!(
        skipping || at == real.len(),
        "README's `$ {cmd}` leaves out lines devenv prints (end the quote with `...`):\n{}",
        raw[at..].join("\n")
    );
}

const MARKER: &str = "WSS-ECHO-OK:ping-through-wss";

/// Loads the site once in headless Chromium and returns the DOM and log, with the proxy's and the
/// app's last log lines added to the log when the WSS echo is missing (the app finishes the page
/// only after its WebSocket echoed, so the dump cannot come before the echo).
fn browse(sb: &Sandbox, engine: &Engine) -> (String, String) {
    let (dom, mut log) = sb.chromium("https://myblog.test/");
    if !dom.contains(MARKER) {
        for svc in ["myblog_proxy", "myblog_app"] {
            let o = engine.docker(&["service", "logs", "--tail", "30", svc]);
            log.push_str(&format!("\n--- {svc} ---\n{}{}", stdout(&o), stderr(&o)));
        }
    }
    (dom, log)
}

#[test]
fn https_and_wss_in_a_real_browser_with_switch_down_and_up() {
    if !require(
        "root, mount namespaces, docker, chromium, certutil, nginx and busybox-static",
        e2e_ready(),
    ) {
        return;
    }
    let _trust = machine_lock("trust");
    let initial_hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    e2e_project(dir);
    // a private engine in no swarm yet (as a fresh Docker Desktop is): `up` initialises it
    let engine = Engine::start_with(&[nginx_image(), app_image()], false);
    let sb = Sandbox::new(initial_hosts).with_engine(&engine);

    // how the README spells this test's paths and names
    let home = sb.home.display().to_string();
    let caroot = sb.caroot.display().to_string();
    let project = format!("{}/", dir.display());
    // the README was captured with docker CLI 28.2.2; CI runs this test with Debian's 20.10 too
    let client = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Client.Version}}"])
        .output()
        .map(|o| format!("client {},", stdout(&o).trim()))
        .unwrap_or_default();
    let subst = [
        (client.as_str(), "client 28.2.2,"),
        (caroot.as_str(), "/home/me/.local/share/devenv/ca"),
        (home.as_str(), "/home/me"),
        (project.as_str(), ""),
        (CONTEXT, "default"),
        // the sandbox's /etc/hosts is a bind mount, written in place (as in a container)
        ("/etc/hosts (in place)", "/etc/hosts"),
    ];

    // up, before any trust: the stack runs and devenv's own probes (with the CA) pass...
    let (o, up) = run_merged(&sb, dir, &["up", "local"]);
    ok(&o, "up local");
    assert!(
        up.contains("https://myblog.test/healthz answers 200"),
        "{up}"
    );
    assert!(up.contains("wss://myblog.test/ws answers 101"), "{up}");
    // every published port with what it really serves: 443 speaks TLS; 80 only redirects there
    assert!(up.contains("https://myblog.test/"), "{up}");
    assert!(!up.contains("http://myblog.test"), "{up}");
    assert_readme_quote("devenv up local", &up, &subst);
    let (st, merged) = run_merged(&sb, dir, &["status"]);
    ok(&st, "status");
    assert!(merged.contains("https://myblog.test/"), "{merged}");
    assert_readme_quote("devenv status", &merged, &subst);
    // ...but the browser does not trust the certificate yet (negative control)
    let (dom, log) = sb.chromium("https://myblog.test/");
    assert!(
        log.contains("ERR_CERT_AUTHORITY_INVALID"),
        "without `certs trust`: {log}"
    );
    assert!(!dom.contains(MARKER));

    // trust once (as the README has it: after `up` said to): HTTPS page loads and its script's
    // WSS round trip works, no certificate flags
    let (o, merged) = run_merged(&sb, dir, &["certs", "trust"]);
    ok(&o, "certs trust");
    assert_readme_quote("devenv certs trust", &merged, &subst);
    let (dom, log) = browse(&sb, &engine);
    assert!(
        dom.contains(MARKER),
        "the page over HTTPS did not get its WSS echo:\n{dom}\n{log}"
    );

    // without the hosts block the name does not resolve (negative control)
    ok(&run(&sb, dir, &["hosts", "remove"]), "hosts remove");
    let (dom, log) = sb.chromium("https://myblog.test/");
    assert!(
        log.contains("ERR_NAME_NOT_RESOLVED"),
        "without the hosts entry: {log}"
    );
    assert!(!dom.contains(MARKER));
    ok(&run(&sb, dir, &["hosts", "apply"]), "hosts apply");

    // switch server: the hosts block goes, the file is byte-identical to before `up`
    let local_tasks = engine.task_ids("myblog");
    let (o, merged) = run_merged(&sb, dir, &["switch", "server"]);
    ok(&o, "switch server");
    // what changes, as the README shows it
    assert!(
        merged.contains("myblog.test  →  myblog.com"),
        "switch server shows no diff:\n{merged}"
    );
    assert_readme_quote("devenv switch server", &merged, &subst);
    assert_eq!(
        std::fs::read_to_string(&sb.hosts).unwrap(),
        initial_hosts,
        "hosts file after switch server"
    );
    let o = run(&sb, dir, &["render", "--stack-only"]);
    ok(&o, "render");
    assert!(
        stdout(&o).contains("replicas: 3") && !stdout(&o).contains("endpoint_mode: dnsrr"),
        "{}",
        stdout(&o)
    );
    let nginx_conf =
        std::fs::read_to_string(dir.join(".devenv/rendered/server/configs/nginx.conf")).unwrap();
    assert!(nginx_conf.contains("server_name myblog.com;"));
    // the server profile must never land on the local swarm
    let o = run(&sb, dir, &["up"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("may deploy only to swarm swarm-of-the-server"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        engine.task_ids("myblog"),
        local_tasks,
        "the refused server deploy changed the local stack"
    );

    // back to local: block and site come back
    ok(&run(&sb, dir, &["switch", "local"]), "switch local");
    assert!(
        std::fs::read_to_string(&sb.hosts)
            .unwrap()
            .contains("127.0.0.1\tmyblog.test")
    );
    ok(&run(&sb, dir, &["up"]), "up after switch local");
    let (dom, log) = browse(&sb, &engine);
    assert!(
        dom.contains(MARKER),
        "after switch local + up:\n{dom}\n{log}"
    );

    // down: gone, and it says what it left; up right after works
    let (o, merged) = run_merged(&sb, dir, &["down"]);
    ok(&o, "down");
    assert!(
        merged.contains("note: the project's block stays in the hosts file"),
        "{merged}"
    );
    assert!(engine.task_ids("myblog").is_empty());
    let nets = engine.docker(&[
        "network",
        "ls",
        "-q",
        "--filter",
        "label=com.docker.stack.namespace=myblog",
    ]);
    assert!(stdout(&nets).trim().is_empty(), "networks left after down");
    ok(&run(&sb, dir, &["up", "local"]), "up right after down");
    let (dom, log) = browse(&sb, &engine);
    assert!(dom.contains(MARKER), "after down + up:\n{dom}\n{log}");

    // doctor: all green now
    let (o, merged) = run_merged(&sb, dir, &["doctor"]);
    ok(&o, "doctor");
    assert_readme_quote("devenv doctor", &merged, &subst);
    let o = run(&sb, dir, &["doctor", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(o.status.code(), Some(0));

    ok(&run(&sb, dir, &["down"]), "final down");
    ok(&run(&sb, dir, &["certs", "untrust"]), "untrust");
}

/// `doctor` names each thing broken on purpose, with its fix, and exits non-zero.
#[test]
fn doctor_names_what_is_broken() {
    if !require(
        "root, mount namespaces, docker, certutil and busybox-static",
        can_use_mount_namespaces() && docker_ready() && engine_ready() && have("certutil"),
    ) {
        return;
    }
    let _trust = machine_lock("trust");
    let engine = Engine::start(&[busybox_image()]);
    let sb = Sandbox::new("127.0.0.1\tlocalhost\n").with_engine(&engine);
    let p = mini_project("doctorx", &["doctorx.test"]);
    let dir = p.path();
    std::fs::write(
        dir.join("profiles/local.yaml"),
        format!("domain: doctorx.test\nhosts: [doctorx.test]\ntls: local-ca\ndocker: {{context: {CONTEXT}, swarm: true}}\n"),
    )
    .unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("templates/stack.yml.j2"),
        format!(
            "version: \"3.8\"\nservices:\n  web:\n    image: {}\n    ports: [\"{port}:80\"]\n",
            busybox_image()
        ),
    )
    .unwrap();
    let doctor = |extra: &[(&str, &str)]| -> serde_json::Value {
        let mut c = sb.command(
            &devenv_bin(),
            &["-C", dir.to_str().unwrap(), "doctor", "--json"],
        );
        for (k, v) in extra {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
        assert_eq!(o.status.code(), Some(if v["ok"] == true { 0 } else { 1 }));
        v
    };
    let failing = |v: &serde_json::Value, check: &str| -> Vec<(String, String)> {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["check"] == check && c["status"] == "fail")
            .map(|c| {
                (
                    c["detail"].as_str().unwrap_or("").to_string(),
                    c["fix"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };

    // nothing set up: no CA, no hosts entry
    let v = doctor(&[]);
    assert_eq!(v["ok"], false);
    assert!(
        failing(&v, "ca")
            .iter()
            .any(|(_, f)| f.contains("devenv certs trust")),
        "{v:#}"
    );
    assert!(
        failing(&v, "hosts")
            .iter()
            .any(|(_, f)| f.contains("hosts apply")),
        "{v:#}"
    );
    assert!(
        failing(&v, "resolve")
            .iter()
            .any(|(d, _)| d.contains("doctorx.test")),
        "{v:#}"
    );

    // fix those; break trust instead (CA made but not trusted) and the leaf (never issued)
    let o = sb.devenv(&["-C", dir.to_str().unwrap(), "hosts", "apply"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ca = devenv::certs::ca::Ca::generate_for(&sb.caroot, &[], false).unwrap();
    std::fs::create_dir_all(&sb.caroot).unwrap();
    std::fs::write(ca.key_path(), &ca.key_pem).unwrap();
    std::fs::set_permissions(
        ca.key_path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(ca.cert_path(), &ca.cert_pem).unwrap();
    let v = doctor(&[]);
    assert!(
        failing(&v, "hosts").is_empty() && failing(&v, "resolve").is_empty(),
        "{v:#}"
    );
    assert!(
        failing(&v, "trust")
            .iter()
            .any(|(d, f)| d.contains("not trusted by") && f.contains("certs trust")),
        "{v:#}"
    );
    assert!(
        failing(&v, "leaf")
            .iter()
            .any(|(d, f)| d.contains("no certificate yet") && f.contains("certs issue")),
        "{v:#}"
    );

    // the stack's port held by another program
    let mut holder = engine
        .inside(
            Path::new("python3"),
            &[
                "-c",
                &format!("import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', {port}))\ns.listen()\nprint('ready', flush=True)\ntime.sleep(120)"),
            ],
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(holder.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
    }
    let v = doctor(&[]);
    assert!(
        failing(&v, &format!("port {port}"))
            .iter()
            .any(|(d, _)| d.contains("in use by another program")),
        "{v:#}"
    );

    // a pinned cluster id that is not this swarm's, and DOCKER_HOST overriding the context
    std::fs::write(
        dir.join("profiles/local.yaml"),
        format!("domain: doctorx.test\nhosts: [doctorx.test]\ntls: local-ca\ndocker: {{context: {CONTEXT}, swarm: true, cluster_id: elsewhere}}\n"),
    )
    .unwrap();
    let v = doctor(&[]);
    assert!(
        failing(&v, "guard")
            .iter()
            .any(|(d, _)| d.contains("pins swarm elsewhere")),
        "{v:#}"
    );
    let v = doctor(&[("DOCKER_HOST", "tcp://127.0.0.1:9")]);
    assert!(
        failing(&v, "docker")
            .iter()
            .any(|(d, f)| d.contains("DOCKER_HOST") && f.contains("unset DOCKER_HOST")),
        "{v:#}"
    );
    let _ = holder.kill();
    let _ = holder.wait();
}

/// The container of `service` (its one running task) on `engine`.
fn container_of(engine: &Engine, service: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let o = engine.docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.name={service}"),
        ]);
        let ids = stdout(&o);
        if let Some(id) = ids.lines().next() {
            return id.to_string();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no container of {service}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `curl ARGS` inside the `chat_client` service's container: (exit code, stdout + stderr).
fn curl_inside(engine: &Engine, args: &[&str]) -> (Option<i32>, String) {
    let c = container_of(engine, "chat_client");
    let mut full = vec!["exec", c.as_str(), "/usr/bin/curl"];
    full.extend_from_slice(args);
    let o = engine.docker(&full);
    (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)))
}

/// Issue 24 end to end: a plain-HTTP compose stack (an app on port 8000 and a client), adopted
/// with zero edits, gets HTTPS and WSS on its local name from devenv's TLS edge — in headless
/// Chromium with no flags, and from inside a service, whose curl verifies the certificate with
/// the CA devenv mounted (the site's name is the edge inside the stack); `certs rotate` + `up`
/// puts the new CA into the services.
#[test]
fn an_adopted_plain_http_stack_gets_https_wss_and_trust_with_zero_edits() {
    if !require(
        "root, mount namespaces, docker, chromium, certutil, nginx, curl and busybox-static",
        e2e_ready() && have("curl"),
    ) {
        return;
    }
    let _trust = machine_lock("trust");
    let engine = Engine::start_with(&[nginx_image(), app_image(), curl_image()], false);
    // the edge's default image, offline: this machine's nginx under the official image's name
    let o = engine.docker(&["tag", nginx_image(), "nginx:1.27-alpine"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sb = Sandbox::new("127.0.0.1\tlocalhost\n").with_default_engine(&engine);
    let dir = sb.dir.path().join("chat");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            "services:\n  app:\n    image: {}\n    ports: [\"8000:8000\"]\n  client:\n    image: {}\n",
            app_image(),
            curl_image()
        ),
    )
    .unwrap();
    let compose_before = std::fs::read(dir.join("compose.yaml")).unwrap();

    let (o, init) = run_merged(&sb, &dir, &["init", "--from", "compose.yaml"]);
    ok(&o, "init --from");
    assert!(
        init.contains(
            "devenv-edge serves https://chat.test/ (and WSS) with devenv's CA in front of app:8000"
        ),
        "{init}"
    );
    // the edge is this profile's only: the server has none, and the diff says so
    let (o, diff) = run_merged(&sb, &dir, &["diff", "local", "server"]);
    ok(&o, "diff");
    assert!(diff.contains("devenv-edge"), "{diff}");
    assert!(
        diff.contains("config devenv_edge_conf (only in local)"),
        "{diff}"
    );

    ok(&run(&sb, &dir, &["certs", "trust"]), "certs trust");
    let (o, up) = run_merged(&sb, &dir, &["up", "local"]);
    ok(&o, "up local");
    assert!(up.contains("https://chat.test/ answers 200"), "{up}");
    assert_eq!(
        std::fs::read(dir.join("compose.yaml")).unwrap(),
        compose_before,
        "the adopted file was edited"
    );

    // the browser: the page over HTTPS and its script's WSS echo, through the edge
    let (dom, log) = sb.chromium("https://chat.test/");
    assert!(
        dom.contains(MARKER),
        "https://chat.test/ in Chromium:\n{dom}\n{log}\n{}",
        stdout(&engine.docker(&["service", "logs", "--tail", "30", "chat_devenv-edge"]))
    );

    // inside the stack: the name is the edge, and the certificate verifies with the mounted CA
    let (code, out) = curl_inside(
        &engine,
        &[
            "-sS",
            "-v",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n",
            "https://chat.test/healthz",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("200\n"), "{out}");
    assert!(out.contains("SSL certificate verify ok"), "{out}");
    // negative control: without devenv's CA the same request fails verification
    let (code, out) = curl_inside(
        &engine,
        &["-sS", "--cacert", "/dev/null", "https://chat.test/healthz"],
    );
    assert_ne!(code, Some(0), "{out}");
    // a WebSocket upgrade through the edge, from inside
    let (_, out) = curl_inside(
        &engine,
        &[
            "-sS",
            "--http1.1",
            "--max-time",
            "3",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n",
            "-H",
            "Connection: Upgrade",
            "-H",
            "Upgrade: websocket",
            "-H",
            "Sec-WebSocket-Version: 13",
            "-H",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "https://chat.test/ws?id=inside",
        ],
    );
    assert!(out.contains("101"), "WSS from inside: {out}");

    // a new CA reaches the services with the next `up`
    let old_ca = std::fs::read_to_string(sb.caroot.join("rootCA.pem")).unwrap();
    ok(&run(&sb, &dir, &["certs", "rotate"]), "certs rotate");
    let new_ca = std::fs::read_to_string(sb.caroot.join("rootCA.pem")).unwrap();
    assert_ne!(old_ca, new_ca);
    ok(&run(&sb, &dir, &["up", "local"]), "up after rotate");
    let start = std::time::Instant::now();
    loop {
        let c = container_of(&engine, "chat_client");
        let o = engine.docker(&["exec", &c, "/bin/busybox", "cat", "/etc/devenv/ca.pem"]);
        if stdout(&o) == new_ca {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the client still has the old CA: {}",
            stderr(&o)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let (code, out) = curl_inside(&engine, &["-sS", "https://chat.test/healthz"]);
    assert_eq!((code, out.as_str()), (Some(0), "ok\n"), "after rotate");

    ok(&run(&sb, &dir, &["down"]), "down");
    ok(&run(&sb, &dir, &["certs", "untrust"]), "untrust");
}

/// No administrator, no hosts entry: a project whose names are under `.localhost`, run by a user
/// who cannot write the hosts file (`nobody`). `up` leaves the hosts file alone (no elevation, no
/// DNS flush) and its probes pass; `certs trust` needs no administrator for the browser's NSS
/// store; headless Chromium, as that user, loads https://myblog.localhost/ and its WSS echo with
/// no flags — it resolves `*.localhost` to this machine itself.
#[test]
fn a_localhost_project_needs_no_administrator_and_no_hosts_entry() {
    if !require(
        "root (to become nobody), setpriv, mount namespaces, docker, chromium, certutil, nginx and busybox-static",
        e2e_ready() && have("setpriv"),
    ) {
        return;
    }
    let _trust = machine_lock("trust");
    let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    let engine = Engine::start_with(&[nginx_image(), app_image()], false);
    let sb = Sandbox::new(hosts).with_engine(&engine);
    let dir = sb.dir.path().join("myblog");
    e2e_project(&dir);
    std::fs::write(
        dir.join("profiles/local.yaml"),
        format!("domain: myblog.localhost\nhosts: [myblog.localhost]\ntls: local-ca\ndocker: {{context: {CONTEXT}, swarm: true}}\nreplicas: {{app: 1}}\n"),
    )
    .unwrap();
    let sb = sb.run_as_nobody(&engine);
    // the user really cannot write the hosts file
    let o = sb
        .command(Path::new("sh"), &["-c", "echo x >> /etc/hosts"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "nobody wrote /etc/hosts");

    let (o, up) = run_merged(&sb, &dir, &["up", "local"]);
    ok(&o, "up local as nobody");
    assert!(
        up.contains("https://myblog.localhost/healthz answers 200"),
        "{up}"
    );
    assert!(up.contains("wss://myblog.localhost/ws answers 101"), "{up}");
    assert!(
        up.contains(
            "names are under .localhost: browsers and curl reach them on this machine by themselves"
        ),
        "{up}"
    );
    assert!(
        !up.contains("sudo") && !up.contains("administrator rights"),
        "{up}"
    );
    assert_eq!(std::fs::read_to_string(&sb.hosts).unwrap(), hosts);
    let (o, status) = run_merged(&sb, &dir, &["status"]);
    ok(&o, "status");
    assert!(status.contains("https://myblog.localhost/"), "{status}");
    assert!(!status.contains("not checked"), "{status}");
    let (_, doctor) = run_merged(&sb, &dir, &["doctor"]);
    assert!(
        doctor.contains("ok   hosts      myblog.localhost under .localhost"),
        "{doctor}"
    );

    // trust without an administrator: the user's own NSS store (Chromium's); the system store
    // is said to need one
    let (_, trust) = run_merged(&sb, &dir, &["certs", "trust", "--no-elevate"]);
    assert!(
        std::fs::read_dir(sb.home.join(".pki/nssdb")).is_ok_and(|mut d| d.next().is_some()),
        "no NSS store for the user: {trust}"
    );
    let (dom, log) = sb.chromium("https://myblog.localhost/");
    assert!(
        dom.contains(MARKER),
        "https://myblog.localhost/ in Chromium as nobody:\n{dom}\n{log}\n{trust}"
    );
    assert_eq!(std::fs::read_to_string(&sb.hosts).unwrap(), hosts);
    let (o, down) = run_merged(&sb, &dir, &["down"]);
    ok(&o, "down");
    assert!(!down.contains("hosts remove"), "{down}");
}

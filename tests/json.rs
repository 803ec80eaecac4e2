//! `--json`: every command prints exactly one JSON document on stdout — errors included — whose
//! shape is the one `docs/json.md` documents. Each command is run for real (the engine-backed ones
//! against a private dockerd and swarm) and its document compared with the documented example:
//! the same keys, the same types (`null` stands for "may be null"), every array element shaped
//! like the documented one. A renamed, added or dropped key fails here until the doc says so.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// `docs/json.md`'s examples: `## `devenv up`` headings, each followed by a ```json block.
fn documented() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(repo().join("docs/json.md")).unwrap();
    let mut out = BTreeMap::new();
    let mut name: Option<String> = None;
    let mut block: Option<String> = None;
    for line in text.lines() {
        if let Some(b) = block.as_mut() {
            if line == "```" {
                let n = name.take().expect("a ```json block under a heading");
                let v: Value = serde_json::from_str(b)
                    .unwrap_or_else(|e| panic!("docs/json.md, `{n}`: {e}\n{b}"));
                out.insert(n, v);
                block = None;
            } else {
                b.push_str(line);
                b.push('\n');
            }
        } else if let Some(h) = line.strip_prefix("## `devenv ") {
            name = Some(h.trim_end_matches('`').to_string());
        } else if line == "```json" && name.is_some() {
            block = Some(String::new());
        }
    }
    out
}

/// Where `real` differs in shape from the documented `doc`.
fn mismatches(doc: &Value, real: &Value, path: &str, out: &mut Vec<String>) {
    match (doc, real) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(d), Value::Object(r)) => {
            // a map with free keys is documented with the one key "*"
            if let (1, Some(each)) = (d.len(), d.get("*")) {
                for (k, v) in r {
                    mismatches(each, v, &format!("{path}.{k}"), out);
                }
                return;
            }
            for k in d.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{path}.{k}: documented, not printed"));
            }
            for (k, v) in r {
                match d.get(k) {
                    Some(dv) => mismatches(dv, v, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: printed, not documented ({v})")),
                }
            }
        }
        (Value::Array(d), Value::Array(r)) => {
            let tuple = d.len() > 1 && d.windows(2).any(|w| kind(&w[0]) != kind(&w[1]));
            if tuple {
                if d.len() != r.len() {
                    out.push(format!("{path}: a {}-tuple, printed {}", d.len(), r.len()));
                }
                for (i, (dv, rv)) in d.iter().zip(r).enumerate() {
                    mismatches(dv, rv, &format!("{path}[{i}]"), out);
                }
            } else if let Some(first) = d.first() {
                for (i, rv) in r.iter().enumerate() {
                    mismatches(first, rv, &format!("{path}[{i}]"), out);
                }
            } else if let Some(rv) = r.first() {
                out.push(format!("{path}[]: elements not documented ({rv})"));
            }
        }
        (d, r) if kind(d) != kind(r) => {
            out.push(format!("{path}: documented a {}, printed {r}", kind(d)))
        }
        _ => {}
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks the run: stdout is one JSON document shaped as documented under `name`. Returns it.
fn check(docs: &BTreeMap<String, Value>, name: &str, o: &Output) -> Value {
    let text = stdout(o);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "`{name}`: stdout is not one JSON document ({e}):\n{text}\nstderr:\n{}",
            stderr(o)
        )
    });
    let doc = docs
        .get(name)
        .unwrap_or_else(|| panic!("docs/json.md documents no `devenv {name}`; it printed:\n{v:#}"));
    let mut out = Vec::new();
    mismatches(doc, &v, "", &mut out);
    assert!(
        out.is_empty(),
        "`devenv {name} --json` is not shaped as docs/json.md says:\n  {}\nit printed:\n{v:#}",
        out.join("\n  ")
    );
    v
}

/// An error document: the documented shape, the exit code in it equal to the process's.
fn check_error(docs: &BTreeMap<String, Value>, o: &Output) -> Value {
    let v = check(docs, "error", o);
    assert_eq!(
        v["error"]["exit_code"].as_i64(),
        o.status.code().map(i64::from),
        "{v:#}"
    );
    assert!(!o.status.success(), "{v:#}");
    v
}

/// A project whose local profile has a domain, a CA leaf and a hosts entry, and whose server
/// profile differs; the stack serves busybox's httpd and has a task.
fn project(dir: &Path, context: &str, port: u16) {
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("devenv.yaml"),
        "project: jsondoc\nstack: stack.yml\ntasks:\n  hello:\n    service: web\n    command: echo hello\n    when: manual\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("stack.yml"),
        format!(
            "services:\n  web:\n    image: {}\n    build: ./app\n    command: [httpd, -f, -p, '8080', -h, /www]\n    ports: ['{port}:8080']\n",
            busybox_image()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("app/Dockerfile"),
        format!(
            "FROM {}\nCOPY index.html /www/index.html\n",
            busybox_image()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("app/index.html"), "hello\n").unwrap();
    std::fs::write(
        dir.join("profiles/local.yaml"),
        format!(
            "domain: jsondoc.test\nhosts: [jsondoc.test]\ntls: local-ca\ndocker: {{context: {context}, swarm: true}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("profiles/server.yaml"),
        "domain: jsondoc.com\ndocker: {context: jsondoc-server}\n",
    )
    .unwrap();
}

/// A docker config whose context `nowhere` points at a socket no daemon listens on.
fn nowhere_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let o = Command::new("docker")
        .env("DOCKER_CONFIG", &config)
        .args(["context", "create", "nowhere", "--docker"])
        .arg(format!("host=unix://{}", dir.join("none.sock").display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    config
}

#[test]
fn every_command_without_an_engine_prints_one_documented_document() {
    if !require("the docker CLI", have("docker")) {
        return;
    }
    let docs = documented();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("proj");
    project(&p, "nowhere", free_port());
    let config = nowhere_config(d.path());
    let run = |args: &[&str]| -> Output {
        devenv()
            .arg("-C")
            .arg(&p)
            .arg("--json")
            .args(args)
            .env("DOCKER_CONFIG", &config)
            .env("DEVENV_HOSTS_FILE", d.path().join("hosts"))
            .env("DEVENV_CAROOT", d.path().join("ca"))
            .env("DEVENV_DATA_DIR", d.path().join("data"))
            .output()
            .unwrap()
    };
    let ok = |o: &Output| assert!(o.status.success(), "{}\n{}", stdout(o), stderr(o));

    let o = run(&["render", "local"]);
    ok(&o);
    let v = check(&docs, "render", &o);
    assert!(v["stack"].as_str().unwrap().contains("httpd"), "{v:#}");
    let out = d.path().join("out");
    let o = run(&["render", "local", "--out", &out.to_string_lossy()]);
    ok(&o);
    check(&docs, "render --out", &o);
    assert!(out.join("stack.yml").is_file());

    let o = run(&["diff"]);
    ok(&o);
    let v = check(&docs, "diff", &o);
    assert!(
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["path"] == "domain")
    );

    let o = run(&["hosts", "apply"]);
    ok(&o);
    let v = check(&docs, "hosts apply", &o);
    assert_eq!(v["changed"].as_array().unwrap().len(), 1, "{v:#}");
    let o = run(&["hosts", "list"]);
    ok(&o);
    let v = check(&docs, "hosts list", &o);
    assert!(
        v[0]["block"]["entries"]
            .to_string()
            .contains("jsondoc.test")
    );

    let o = run(&["certs", "issue"]);
    ok(&o);
    let v = check(&docs, "certs issue", &o);
    assert!(v.to_string().contains("jsondoc.test"), "{v:#}");
    let o = run(&["certs", "status"]);
    ok(&o);
    check(&docs, "certs status", &o);
    let o = run(&["certs", "env", "--shell", "sh"]);
    ok(&o);
    check(&docs, "certs env", &o);

    let o = run(&["switch", "server", "--dry-run"]);
    ok(&o);
    let v = check(&docs, "… --dry-run", &o);
    assert!(v["plan"].to_string().contains("jsondoc.test"), "{v:#}");
    let o = run(&["switch", "local"]);
    ok(&o);
    let v = check(&docs, "switch", &o);
    assert_eq!(v["active"], "local");

    let o = run(&["completions", "bash"]);
    ok(&o);
    let v = check(&docs, "completions", &o);
    assert!(v["script"].as_str().unwrap().contains("complete"));

    let o = run(&["doctor"]);
    let v = check(&docs, "doctor", &o);
    assert_eq!(v["ok"], false, "{v:#}");
    assert!(!o.status.success());

    let o = run(&["hosts", "remove"]);
    ok(&o);
    check(&docs, "hosts remove", &o);
    let o = run(&["hosts", "restore", "--yes"]);
    ok(&o);
    let v = check(&docs, "hosts restore", &o);
    assert_eq!(v["restored"].as_array().unwrap().len(), 1, "{v:#}");

    let fresh = d.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let o = devenv()
        .args(["--json", "-C"])
        .arg(&fresh)
        .arg("init")
        .output()
        .unwrap();
    ok(&o);
    check(&docs, "init", &o);
    assert!(fresh.join("devenv.yaml").is_file());

    // errors: each one document, the exit code the process's
    let v = check_error(&docs, &run(&["up", "nosuch"]));
    assert!(v["error"]["message"].as_str().unwrap().contains("nosuch"));
    assert_eq!(v["error"]["exit_code"], 2);
    let v = check_error(&docs, &run(&["status"]));
    assert!(
        v["error"]["message"].as_str().unwrap().contains("nowhere")
            || v["error"]["context"].to_string().contains("nowhere"),
        "the unreachable context is named: {v:#}"
    );
    let o = devenv()
        .args(["--json", "-C"])
        .arg(&p)
        .arg("status")
        .env("PATH", d.path().join("no-bin"))
        .output()
        .unwrap();
    let v = check_error(&docs, &o);
    assert!(v["error"].to_string().contains("docker"), "{v:#}");
    let v = check_error(
        &docs,
        &devenv()
            .args(["--json", "-C", "/nonexistent/dir", "status"])
            .output()
            .unwrap(),
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/dir")
    );
    let v = check_error(&docs, &run(&["status", "--bogus"]));
    assert_eq!(v["error"]["exit_code"], 2);
    std::fs::write(p.join("profiles/local.yaml"), "domain: [unclosed\n").unwrap();
    let v = check_error(&docs, &run(&["render", "local"]));
    assert!(
        v["error"]["file"].as_str().unwrap().ends_with("local.yaml"),
        "{v:#}"
    );
    assert!(
        v["error"]["line"].is_number() && v["error"]["column"].is_number(),
        "{v:#}"
    );
}

#[test]
fn trust_prints_its_documents_in_a_private_trust_store() {
    if !require(
        "root, unshare and certutil (libnss3-tools)",
        can_use_mount_namespaces() && have("certutil") && have("update-ca-certificates"),
    ) {
        return;
    }
    let docs = documented();
    let s = Sandbox::new("127.0.0.1 localhost\n");
    let p = tempfile::tempdir().unwrap();
    project(p.path(), "default", free_port());
    let dir = p.path().to_string_lossy().into_owned();
    let o = s.devenv(&["--json", "-C", &dir, "certs", "trust"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = check(&docs, "certs trust", &o);
    assert!(v["stores"].as_array().unwrap().len() >= 2, "{v:#}");
    let o = s.devenv(&["--json", "-C", &dir, "certs", "rotate", "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = check(&docs, "certs rotate", &o);
    assert!(v["retired"].is_string(), "{v:#}");
    let o = s.devenv(&["--json", "-C", &dir, "certs", "untrust"]);
    assert!(o.status.success(), "{}", stderr(&o));
    check(&docs, "certs untrust", &o);
}

#[test]
fn every_engine_command_prints_one_documented_document() {
    if !require(
        "root, docker with a running daemon, dockerd, nsenter and busybox-static",
        docker_ready() && engine_ready(),
    ) {
        return;
    }
    let docs = documented();
    let engine = Engine::start(&[busybox_image()]);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("proj");
    let port = free_port();
    project(&p, CONTEXT, port);
    // a local-ca leaf is not what this test is about: plain HTTP
    std::fs::write(
        p.join("profiles/local.yaml"),
        format!("domain: jsondoc.test\nhosts: [jsondoc.test]\ndocker: {{context: {CONTEXT}, swarm: true}}\n"),
    )
    .unwrap();
    let run = |args: &[&str]| -> Output {
        let mut c = Command::new(devenv_bin());
        c.arg("-C")
            .arg(&p)
            .arg("--json")
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST")
            .env("DEVENV_HOSTS_FILE", d.path().join("hosts"))
            .env("DEVENV_CAROOT", d.path().join("ca"))
            .env("DEVENV_DATA_DIR", d.path().join("data"))
            .env("DEVENV_IPVS", "0");
        for (k, v) in engine.env() {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let ok = |o: &Output| assert!(o.status.success(), "{}\n{}", stdout(o), stderr(o));

    let o = run(&["build"]);
    ok(&o);
    let v = check(&docs, "build", &o);
    assert!(v["images"]["web"].is_string(), "{v:#}");

    let o = run(&["up", "local"]);
    ok(&o);
    let v = check(&docs, "up", &o);
    assert_eq!(v["changed"], true, "{v:#}");
    assert_eq!(v["endpoints"][0]["port"], port, "{v:#}");

    let o = run(&["status"]);
    ok(&o);
    let v = check(&docs, "status", &o);
    assert_eq!(v["services"][0]["running"], 1, "{v:#}");

    let o = run(&["exec", "web", "--", "cat", "/www/index.html"]);
    ok(&o);
    let v = check(&docs, "exec", &o);
    assert_eq!(v["stdout"], "hello\n", "{v:#}");

    let o = run(&["run", "hello"]);
    ok(&o);
    let v = check(&docs, "run", &o);
    assert_eq!(v["exit_code"], 0, "{v:#}");

    let o = run(&["logs", "web"]);
    ok(&o);
    check(&docs, "logs", &o);

    let o = run(&["update", "web"]);
    ok(&o);
    check(&docs, "update", &o);

    let o = run(&["down"]);
    ok(&o);
    let v = check(&docs, "down", &o);
    assert_eq!(v["stack"], "jsondoc", "{v:#}");
}

//! The swarm lifecycle against a real dockerd and a real single-node swarm — a private engine per
//! test (`common::Engine`), never the machine's own: up, no-op up, config changes, 10 down/up
//! cycles, failing services, the guards, exec and logs.

mod common;

use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// A 5-service stack: `web` serves a rendered config on a host-mode port, `talker` logs a line.
fn five(name: &str, port: u16) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir_all(p.join("profiles")).unwrap();
    std::fs::create_dir_all(p.join("templates")).unwrap();
    std::fs::write(
        p.join("devenv.yaml"),
        format!(
            "project: {name}\nstack: templates/stack.yml.j2\nconfigs:\n  page.html: templates/page.html.j2\n  other.conf: templates/other.conf.j2\nvars:\n  image: {}\n  port: {port}\n",
            busybox_image()
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("profiles/local.yaml"),
        "domain: five.test\ndocker: {context: devenv-test-engine, swarm: true}\nreplicas: {web: 1}\n",
    )
    .unwrap();
    std::fs::write(
        p.join("templates/page.html.j2"),
        "page v1 of {{ profile }}\n",
    )
    .unwrap();
    std::fs::write(p.join("templates/other.conf.j2"), "other v1\n").unwrap();
    std::fs::write(
        p.join("templates/stack.yml.j2"),
        r#"version: "3.8"
volumes:
  scratch: {}
services:
  web:
    image: {{ image }}
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["{{ port }}:8080"]
    configs:
      - source: page.html
        target: /www/index.html
    deploy:
      replicas: {{ replicas.web }}
  other:
    image: {{ image }}
    init: true
    configs:
      - source: other.conf
        target: /etc/other.conf
  talker:
    image: {{ image }}
    init: true
    command: ["sh", "-c", "echo hello-from-talker; exec httpd -f -p 80 -h /www"]
  a:
    image: {{ image }}
    init: true
    volumes: ["scratch:/data"]
  b:
    image: {{ image }}
    init: true
"#,
    )
    .unwrap();
    d
}

struct Env {
    data: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            data: tempfile::tempdir().unwrap(),
        }
    }
    fn vars(&self) -> Vec<(String, String)> {
        vec![
            (
                "DEVENV_DATA_DIR".into(),
                self.data.path().join("data").display().to_string(),
            ),
            (
                "DEVENV_HOSTS_FILE".into(),
                self.data.path().join("hosts").display().to_string(),
            ),
            (
                "DEVENV_CAROOT".into(),
                self.data.path().join("ca").display().to_string(),
            ),
        ]
    }
    fn run(&self, engine: &Engine, dir: &Path, args: &[&str]) -> std::process::Output {
        let mut c = std::process::Command::new(devenv_bin());
        c.arg("-C")
            .arg(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST");
        for (k, v) in self.vars().into_iter().chain(engine.env()) {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

/// A test's stack: its own engine (torn down with everything on it when the test ends), a
/// private environment, the project and a port. `None` when docker is not available.
struct Fixture {
    p: tempfile::TempDir,
    env: Env,
    port: u16,
    engine: Engine,
}

impl Fixture {
    fn new(name: &str) -> Option<Fixture> {
        if !require(
            "root, docker with a running daemon, dockerd, nsenter and busybox-static",
            docker_ready() && engine_ready(),
        ) {
            return None;
        }
        let engine = Engine::start(&[busybox_image()]);
        let env = Env::new();
        let port = free_port();
        let p = five(name, port);
        Some(Fixture {
            env,
            p,
            port,
            engine,
        })
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        self.engine.docker(args)
    }

    fn task_ids(&self, stack: &str) -> Vec<String> {
        self.engine.task_ids(stack)
    }

    fn dir(&self) -> &Path {
        self.p.path()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.env.run(&self.engine, self.p.path(), args)
    }

    /// The five services plus these (YAML at the services' indentation), replacing earlier extras.
    fn extra_services(&self, yaml: &str) {
        let stack = self.p.path().join("templates/stack.yml.j2");
        let src = std::fs::read_to_string(&stack).unwrap();
        let base = src
            .split("  # extra services\n")
            .next()
            .unwrap()
            .to_string();
        std::fs::write(&stack, format!("{base}  # extra services\n{yaml}")).unwrap();
    }
}

fn wait_http(engine: &Engine, port: u16, want: &str) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if engine.http_get(port, "/").is_some_and(|b| b.contains(want)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "port {port} does not answer {want:?} (got {:?})",
        engine.http_get(port, "/")
    );
}

#[test]
fn up_noop_and_config_change() {
    let Some(f) = Fixture::new("devenvt-five") else {
        return;
    };
    let port = f.port;

    // --dry-run: the plan (configs, the deploy), and nothing of it carried out
    let o = f.run(&["up", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    for step in [
        "would run: docker --context devenv-test-engine config create",
        "would run: docker --context devenv-test-engine stack deploy",
    ] {
        assert!(plan.contains(step), "{step:?} in:\n{plan}");
    }
    assert!(f.task_ids("devenvt-five").is_empty(), "nothing deployed");
    let configs = f.docker(&[
        "config",
        "ls",
        "-q",
        "--filter",
        "label=devenv.stack=devenvt-five",
    ]);
    assert_eq!(stdout(&configs).trim(), "", "no config created");
    assert!(
        !f.dir().join(".devenv/deploy").exists(),
        "the deploy file is not written"
    );

    let o = f.run(&["up"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("5 services ready"), "{}", stderr(&o));
    wait_http(&f.engine, port, "page v1 of local");
    assert_eq!(f.task_ids("devenvt-five").len(), 5);

    // nothing changed: nothing redeployed, no task restarts
    let before = f.task_ids("devenvt-five");
    let t = Instant::now();
    let o = f.run(&["up"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nothing changed since the last deploy"),
        "{}",
        stderr(&o)
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(
        f.task_ids("devenvt-five"),
        before,
        "no task may restart on a no-op up"
    );

    // one config changes: only the service using it gets a new task
    std::fs::write(
        f.dir().join("templates/page.html.j2"),
        "page v2 of {{ profile }}\n",
    )
    .unwrap();
    let o = f.run(&["up"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("changes since the last deploy: ~ web (config page.html)"),
        "{}",
        stderr(&o)
    );
    wait_http(&f.engine, port, "page v2 of local");
    let after = f.task_ids("devenvt-five");
    let changed: Vec<&String> = after.iter().filter(|t| !before.contains(t)).collect();
    assert_eq!(changed.len(), 1, "only web restarts: {changed:?}");
    assert!(changed[0].starts_with("devenvt-five_web.1 "), "{changed:?}");
    // the old config is cleaned up, the new one is in use
    let configs = f.docker(&[
        "config",
        "ls",
        "--filter",
        "label=devenv.stack=devenvt-five",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(
        stdout(&configs)
            .lines()
            .filter(|l| l.contains("page.html"))
            .count(),
        1,
        "{}",
        stdout(&configs)
    );

    // status shows it all
    let o = f.run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["services"].as_array().unwrap().len(), 5);
    assert!(
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["done"] == true),
        "{v}"
    );

    // exec runs in the task and returns the command's exit code
    let o = f.run(&["exec", "web", "--", "cat", "/www/index.html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "page v2 of local\n");
    let o = f.run(&["exec", "web", "--", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let o = f.run(&["exec", "wbe", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `web`?"));
    // logs shows the service's output
    let o = f.run(&["logs", "talker"]);
    assert!(
        stdout(&o).contains("hello-from-talker") || stderr(&o).contains("hello-from-talker"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );

    // down --volumes deletes data: without a yes (no terminal here) nothing is removed
    let volume = || {
        stdout(&f.docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            "label=com.docker.stack.namespace=devenvt-five",
        ]))
    };
    assert_eq!(volume().trim(), "devenvt-five_scratch");
    let running = f.task_ids("devenvt-five");
    let o = f.run(&["down", "--volumes"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "not removing anything: --volumes would delete the data in devenvt-five_scratch, and needs a yes"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        f.task_ids("devenvt-five"),
        running,
        "the stack is untouched"
    );

    // down --volumes --yes: really gone, networks and the volume too
    let o = f.run(&["down", "--volumes", "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(volume().trim(), "", "the volume is removed");
    let nets = f.docker(&[
        "network",
        "ls",
        "--filter",
        "label=com.docker.stack.namespace=devenvt-five",
        "-q",
    ]);
    assert!(
        stdout(&nets).trim().is_empty(),
        "networks left: {}",
        stdout(&nets)
    );
    let svcs = f.docker(&[
        "service",
        "ls",
        "--filter",
        "label=com.docker.stack.namespace=devenvt-five",
        "-q",
    ]);
    assert!(stdout(&svcs).trim().is_empty());
}

#[test]
fn ten_down_up_cycles_never_fail() {
    let Some(f) = Fixture::new("devenvt-cycle") else {
        return;
    };
    let port = f.port;
    let o = f.run(&["up"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for i in 0..10 {
        let o = f.run(&["down"]);
        assert!(o.status.success(), "cycle {i} down: {}", stderr(&o));
        let o = f.run(&["up"]);
        assert!(o.status.success(), "cycle {i} up: {}", stderr(&o));
        wait_http(&f.engine, port, "page v1");
    }
}

#[test]
fn missing_image_and_crash_loop_fail_fast() {
    let Some(f) = Fixture::new("devenvt-bad") else {
        return;
    };
    f.extra_services("  missing:\n    image: devenv-test/nosuch:1\n");
    let t = Instant::now();
    let o = f.run(&["up", "--timeout", "120"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // an image neither on the engine nor pullable is named before anything is deployed, with
    // its registry (unreachable here; on a connected machine it has no such image)
    assert!(
        stderr(&o).contains("(image devenv-test/nosuch:1)") && stderr(&o).contains("docker.io"),
        "{}",
        stderr(&o)
    );
    assert!(f.task_ids("devenvt-bad").is_empty(), "nothing was deployed");
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );

    // swarm's default restart delay (5 s): reported once two attempts fail the same way
    f.extra_services(&format!(
        "  crasher:\n    image: {}\n    command: [\"sh\", \"-c\", \"echo dying; exit 3\"]\n",
        busybox_image()
    ));
    let o = f.run(&["up", "--timeout", "120"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "crasher: crash loop: 2 attempts failed the same way: task: non-zero exit (3)"
        ),
        "{err}"
    );
    assert!(
        err.contains("last log lines of crasher") && err.contains("dying"),
        "{err}"
    );
    // after the failure: what the run left on the machine, each with its undo, and the profile
    // recorded as the active one (a later `switch` shows what it changes)
    let left = err
        .find("what this run changed stays in place:")
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        err.find("error: the stack devenvt-bad failed to start")
            .is_some_and(|e| e < left),
        "the failure comes first: {err}"
    );
    // the undo acts on this project and on the hosts file this run was given (here by
    // DEVENV_HOSTS_FILE), wherever it is run from
    let undo = format!(
        "stack devenvt-bad on context `devenv-test-engine` (undo: `devenv -C {} --hosts-file ",
        f.p.path().display()
    );
    let line = err[left..]
        .lines()
        .find(|l| l.contains("stack devenvt-bad on context"))
        .unwrap_or_default();
    assert!(
        line.contains(&undo) && line.ends_with("/hosts down`)"),
        "{undo}\n{err}"
    );
    let st = f.run(&["status"]);
    assert!(
        stdout(&st).contains("profile  local (active)"),
        "{}",
        stdout(&st)
    );
}

#[test]
fn timeout_exits_with_code_3() {
    let Some(f) = Fixture::new("devenvt-slow") else {
        return;
    };
    // a healthcheck that never passes: the task stays "starting"
    f.extra_services(&format!(
        "  sick:\n    image: {}\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n      retries: 1000\n",
        busybox_image()
    ));
    let o = f.run(&["up", "--timeout", "8"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did not become ready within")
            && stderr(&o).contains("sick: 0/1 starting"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn guards_refuse_before_anything_changes() {
    let Some(f) = Fixture::new("devenvt-guard") else {
        return;
    };
    let env = &f.env;
    let exists = || {
        let o = f.docker(&[
            "service",
            "ls",
            "--filter",
            "label=com.docker.stack.namespace=devenvt-guard",
            "-q",
        ]);
        !stdout(&o).trim().is_empty()
    };
    // DOCKER_HOST would override the profile's context
    let o = {
        let mut c = std::process::Command::new(devenv_bin());
        c.arg("-C")
            .arg(f.dir())
            .arg("up")
            .env("DOCKER_HOST", "tcp://127.0.0.1:9")
            .env("NO_COLOR", "1");
        for (k, v) in env.vars() {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("DOCKER_HOST is set (tcp://127.0.0.1:9)"),
        "{}",
        stderr(&o)
    );
    assert!(!exists());

    // `up` with this profile is refused with `code`, says each of `words`, deploys nothing
    let prof = f.dir().join("profiles/local.yaml");
    let refused = |profile: &str, code: i32, words: &[&str]| {
        std::fs::write(&prof, profile).unwrap();
        let o = f.run(&["up"]);
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        for w in words {
            assert!(stderr(&o).contains(w), "{w:?} in:\n{}", stderr(&o));
        }
        assert!(!exists());
    };

    // single-node lint: a server's stack is deployed as written, so 2 replicas behind a
    // host-mode port on a one-node swarm are refused (a local profile gets 1, see the end)
    refused(
        "domain: five.test\ndocker: {context: devenv-test-engine, publish: host}\nreplicas: {web: 2}\n",
        2,
        &[
            "service `web` publishes host-mode port",
            "set its replicas to 1",
        ],
    );
    // a pinned cluster id that is not this swarm's
    refused(
        "domain: five.test\ndocker: {context: devenv-test-engine, swarm: true, cluster_id: not-this-one}\nreplicas: {web: 1}\n",
        2,
        &["may deploy only to swarm not-this-one"],
    );
    // the cluster recorded at the first deploy
    std::fs::create_dir_all(f.dir().join(".devenv")).unwrap();
    std::fs::write(
        f.dir().join(".devenv/state.json"),
        r#"{"cluster_ids": {"local": "an-older-swarm"}}"#,
    )
    .unwrap();
    refused(
        "domain: five.test\ndocker: {context: devenv-test-engine, swarm: true}\nreplicas: {web: 1}\n",
        2,
        &["was deployed to swarm an-older-swarm", "--new-cluster"],
    );
    let o = f.run(&["up", "--new-cluster"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(exists());

    // a local profile asking 2 replicas behind a host-mode port gets 1 here, and is told so
    std::fs::write(
        &prof,
        "domain: five.test\ndocker: {context: devenv-test-engine, swarm: true}\nreplicas: {web: 2}\n",
    )
    .unwrap();
    let o = f.run(&["up"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note: web runs 1 replica here, not 2: it publishes host-mode port"),
        "{}",
        stderr(&o)
    );
    let replicas = f.docker(&[
        "service",
        "inspect",
        "devenvt-guard_web",
        "--format",
        "{{.Spec.Mode.Replicated.Replicas}}",
    ]);
    assert_eq!(stdout(&replicas).trim(), "1");
}

#[test]
fn probes_registries_and_down_say_what_is_wrong() {
    let Some(f) = Fixture::new("devenvt-say") else {
        return;
    };
    let project = f.dir().join("devenv.yaml");
    let base = std::fs::read_to_string(&project).unwrap();
    // a probe of a name that resolves nowhere and that the profile does not map: refused first
    std::fs::write(
        &project,
        format!("{base}probes:\n  - url: \"http://nowhere.invalid/\"\n"),
    )
    .unwrap();
    let o = f.run(&["up"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("names nowhere.invalid, which does not resolve on this machine"),
        "{}",
        stderr(&o)
    );
    assert!(f.task_ids("devenvt-say").is_empty(), "nothing was deployed");

    // a name the profile maps into DEVENV_HOSTS_FILE, which this machine's resolver does not
    // read: the probe reaches it through the address the file maps (a listener of this test on
    // 127.0.0.1), and says so once
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let probe_port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    std::fs::write(
        &project,
        format!("{base}probes:\n  - url: \"http://five.test:{probe_port}/\"\n"),
    )
    .unwrap();
    std::fs::write(
        f.dir().join("profiles/local.yaml"),
        "domain: five.test\nhosts: [five.test]\ndocker: {context: devenv-test-engine, swarm: true}\nreplicas: {web: 1}\n",
    )
    .unwrap();
    assert!(
        ("five.test", 80).to_socket_addrs().is_err(),
        "five.test resolves on this machine: the test proves nothing"
    );
    let o = f.run(&["up"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("is not a hosts file this machine's resolver reads: devenv reaches five.test through the addresses it maps there"),
        "{err}"
    );
    assert!(
        err.contains(&format!("http://five.test:{probe_port}/ answers 200")),
        "{err}"
    );
    std::fs::write(&project, &base).unwrap();

    // a registry that refuses connections is named, with every image that needs it
    f.extra_services(
        "  remote1:\n    image: 127.0.0.1:5999/shop/web:1\n  remote2:\n    image: 127.0.0.1:5999/shop/api:1\n",
    );
    let o = f.run(&["up"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "the registry 127.0.0.1:5999 cannot be reached (images 127.0.0.1:5999/shop/api:1, 127.0.0.1:5999/shop/web:1)"
        ),
        "{}",
        stderr(&o)
    );
    let o = f.run(&["doctor"]);
    assert!(
        stdout(&o).contains(
            "FAIL image 127.0.0.1:5999/shop/api:1 the registry 127.0.0.1:5999 cannot be reached"
        ),
        "{}",
        stdout(&o)
    );

    // down says what it waits for: a task that ignores SIGTERM, with its grace period
    f.extra_services(&format!(
        "  slow:\n    image: {}\n    command: [\"sleep\", \"3600\"]\n    stop_grace_period: 8s\n",
        busybox_image()
    ));
    let o = f.run(&["up"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = f.run(&["down"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("waiting for slow (stop grace period 8s: up to"),
        "{}",
        stderr(&o)
    );
}

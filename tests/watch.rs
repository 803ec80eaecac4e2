//! `devenv watch` against a real dockerd with a real single-node swarm (a private engine per
//! test): a `sync` rule serves an edit from the same container, a removed file is removed, 50
//! rapid edits end with the last one served; a `rebuild` rule rolls the service to the new
//! image, and a failing build keeps the old task serving and says why; a change to a config
//! template redeploys with the config rotated.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// `web` serves ./site (synced to /www) and a rendered page; `app` is built from ./app and
/// rebuilt when it changes.
fn project(name: &str, port: u16, app_port: u16) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for dir in ["profiles", "templates", "site", "app"] {
        std::fs::create_dir_all(p.join(dir)).unwrap();
    }
    let w = |rel: &str, text: &str| std::fs::write(p.join(rel), text).unwrap();
    w(
        "devenv.yaml",
        &format!(
            "project: {name}\nstack: templates/stack.yml.j2\nconfigs:\n  about.html: templates/about.html.j2\nvars:\n  bb: {}\n  port: {port}\n  app_port: {app_port}\n",
            busybox_image()
        ),
    );
    w(
        "profiles/local.yaml",
        "domain: watch.test\ndocker: {context: devenv-test-engine, swarm: true}\n",
    );
    w("templates/about.html.j2", "about v1 of {{ profile }}\n");
    w("site/index.html", "site v1\n");
    w(
        "app/Dockerfile",
        &format!(
            "FROM {}\nCOPY index.html /www/index.html\n",
            busybox_image()
        ),
    );
    w("app/index.html", "app v1\n");
    w("app/.dockerignore", "notes.txt\n");
    w(
        "templates/stack.yml.j2",
        r#"version: "3.8"
services:
  web:
    image: {{ bb }}
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["{{ port }}:8080"]
    configs:
      - source: about.html
        target: /www/about.html
    develop:
      watch:
        - path: ./site
          action: sync
          target: /www
          ignore: [drafts/]
  app:
    image: {{ image("app") }}
    build: ./app
    init: true
    command: ["httpd", "-f", "-p", "8081", "-h", "/www"]
    ports: ["{{ app_port }}:8081"]
    develop:
      watch:
        - path: ./app
          action: rebuild
"#,
    );
    d
}

struct Fixture {
    p: tempfile::TempDir,
    data: tempfile::TempDir,
    port: u16,
    app_port: u16,
    engine: Engine,
}

/// A running `devenv watch`, its stderr collected line by line.
struct Watch {
    child: Child,
    err: Arc<Mutex<String>>,
}

impl Watch {
    fn output(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Waits for `needle` in its output after byte `from`; the output's length then.
    fn wait_for(&mut self, needle: &str, from: usize, secs: u64) -> usize {
        let t = Instant::now();
        loop {
            let out = self.output();
            if let Some(i) = out.get(from..).and_then(|s| s.find(needle)) {
                return from + i + needle.len();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("devenv watch exited ({status}) before {needle:?}:\n{out}");
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "no {needle:?} in {secs}s:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        let (port, app_port) = (free_port(), free_port());
        Some(Fixture {
            p: project(name, port, app_port),
            data: tempfile::tempdir().unwrap(),
            port,
            app_port,
            engine,
        })
    }

    fn dir(&self) -> &Path {
        self.p.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.p.path().join(rel)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(devenv_bin());
        c.arg("-C")
            .arg(self.dir())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST")
            .env("DEVENV_DATA_DIR", self.data.path().join("data"))
            .env("DEVENV_HOSTS_FILE", self.data.path().join("hosts"))
            .env("DEVENV_CAROOT", self.data.path().join("ca"));
        for (k, v) in self.engine.env() {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    fn watch(&self, args: &[&str]) -> Watch {
        let mut child = self
            .command(&[&["watch"], args].concat())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = err.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Watch { child, err }
    }

    /// Waits until GET `path` on `port` answers exactly `want`.
    fn served(&self, port: u16, path: &str, want: &str, w: &Watch) {
        let t = Instant::now();
        loop {
            let got = self.engine.http_get(port, path);
            if got.as_deref() == Some(want) {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "GET {path} on {port}: {got:?}, not {want:?}\nwatch said:\n{}",
                w.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn containers(&self, service: &str) -> Vec<String> {
        let o = self.engine.docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.name={service}"),
        ]);
        stdout(&o).lines().map(String::from).collect()
    }

    fn image_of(&self, service: &str) -> String {
        let o = self.engine.docker(&[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            service,
        ]);
        stdout(&o).trim().to_string()
    }
}

#[test]
fn sync_serves_edits_from_the_same_container() {
    let Some(f) = Fixture::new("devenvt-watch-sync") else {
        return;
    };
    // the rules, and what they do, before anything runs
    let o = f.run(&["watch", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    assert!(
        plan.contains("would watch site (ignoring drafts/): on a change, copy into web's running tasks at /www"),
        "{plan}"
    );
    assert!(
        plan.contains("would watch app: on a change, build app's image"),
        "{plan}"
    );
    assert!(
        f.engine.docker(&["service", "ls", "-q"]).stdout.is_empty(),
        "--dry-run deployed"
    );

    let mut w = f.watch(&[]);
    let mut at = w.wait_for("watching ", 0, 180);
    f.served(f.port, "/", "site v1\n", &w);
    let before = f.containers("devenvt-watch-sync_web");
    assert_eq!(before.len(), 1, "{before:?}");
    // swarm would refuse `develop:`: devenv left it out of what it deployed
    let spec = stdout(
        &f.engine
            .docker(&["service", "inspect", "devenvt-watch-sync_web"]),
    );
    assert!(!spec.contains("develop"), "{spec}");

    // an edit is served by the same container: synced, not restarted
    std::fs::write(f.path("site/index.html"), "site v2\n").unwrap();
    f.served(f.port, "/", "site v2\n", &w);
    at = w.wait_for("site/index.html → web: sync: 1 file into 1 task", at, 10);
    assert_eq!(f.containers("devenvt-watch-sync_web"), before, "restarted");

    // a new file in a new directory, then removed
    std::fs::create_dir_all(f.path("site/docs")).unwrap();
    std::fs::write(f.path("site/docs/new.html"), "new\n").unwrap();
    f.served(f.port, "/docs/new.html", "new\n", &w);
    std::fs::remove_file(f.path("site/docs/new.html")).unwrap();
    let t = Instant::now();
    while f.engine.http_get(f.port, "/docs/new.html").is_some() {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", w.output());
        std::thread::sleep(Duration::from_millis(100));
    }

    // ignored files and editor leftovers are not copied
    std::fs::create_dir_all(f.path("site/drafts")).unwrap();
    std::fs::write(f.path("site/drafts/x.html"), "draft\n").unwrap();
    std::fs::write(f.path("site/.index.html.swp"), "swap\n").unwrap();
    // 50 rapid edits: the last one is served (changes during a sync wait for the next batch)
    for i in 0..50 {
        std::fs::write(f.path("site/index.html"), format!("edit {i}\n")).unwrap();
    }
    f.served(f.port, "/", "edit 49\n", &w);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        f.engine.http_get(f.port, "/"),
        Some("edit 49\n".to_string()),
        "a later batch overwrote the last edit"
    );
    assert_eq!(f.engine.http_get(f.port, "/drafts/x.html"), None, "ignored");
    assert_eq!(f.engine.http_get(f.port, "/.index.html.swp"), None, "noise");
    assert_eq!(f.containers("devenvt-watch-sync_web"), before, "restarted");

    // a new task (swarm replaced a killed one) gets the synced files
    f.engine.docker(&["kill", &before[0]]);
    let t = Instant::now();
    loop {
        let now = f.containers("devenvt-watch-sync_web");
        if !now.is_empty() && now != before {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no new task");
        std::thread::sleep(Duration::from_millis(200));
    }
    f.served(f.port, "/", "edit 49\n", &w);
    at = w.wait_for("web: new-task-sync:", at, 15);

    // a config template change: rendered, redeployed, the config rotated under a new name
    std::fs::write(
        f.path("templates/about.html.j2"),
        "about v2 of {{ profile }}\n",
    )
    .unwrap();
    f.served(f.port, "/about.html", "about v2 of local\n", &w);
    at = w.wait_for(
        "templates/about.html.j2 → stack: rendered and redeployed",
        at,
        60,
    );
    // and the synced files come back into the task the redeploy started
    f.served(f.port, "/", "edit 49\n", &w);

    // a template error is reported with its line; watch goes on, the stack runs as it was
    std::fs::write(f.path("templates/about.html.j2"), "about {{ profile\n").unwrap();
    at = w.wait_for("redeploy failed", at, 30);
    assert!(
        w.output()[at..].contains("about.html.j2:1") || w.output().contains("about.html.j2:1"),
        "{}",
        w.output()
    );
    std::fs::write(f.path("site/index.html"), "after the error\n").unwrap();
    f.served(f.port, "/", "after the error\n", &w);
    let _ = at;
}

#[test]
fn rebuild_rolls_the_new_image_and_a_failed_build_keeps_the_old() {
    let Some(f) = Fixture::new("devenvt-watch-build") else {
        return;
    };
    let mut w = f.watch(&["app"]);
    let mut at = w.wait_for("watching ", 0, 180);
    assert!(w.output().contains("for app (rebuild)"), "{}", w.output());
    f.served(f.app_port, "/", "app v1\n", &w);
    let v1 = f.image_of("devenvt-watch-build_app");

    // a change to the build context: a new content-hash tag, rolled out
    std::fs::write(f.path("app/index.html"), "app v2\n").unwrap();
    f.served(f.app_port, "/", "app v2\n", &w);
    at = w.wait_for(
        "app/index.html → app: rebuilt devenvt-watch-build/app:",
        at,
        60,
    );
    let v2 = f.image_of("devenvt-watch-build_app");
    assert_ne!(v1, v2);
    assert!(v2.starts_with("devenvt-watch-build/app:"), "{v2}");

    // a .dockerignored file changes nothing
    std::fs::write(f.path("app/notes.txt"), "x\n").unwrap();

    // a failing build: the error is said, the old task keeps serving, watch goes on
    std::fs::write(
        f.path("app/Dockerfile"),
        format!(
            "FROM {}\nCOPY index.html /www/index.html\nRUN echo the-build-breaks && false\n",
            busybox_image()
        ),
    )
    .unwrap();
    at = w.wait_for("app: rebuild failed", at, 60);
    let out = w.output();
    assert!(
        out[at..].contains("docker build exit") || out.contains("docker build exit"),
        "{out}"
    );
    assert!(
        out.contains("the-build-breaks"),
        "the build's output: {out}"
    );
    assert!(out.contains(&format!("app keeps running {v2}")), "{out}");
    assert!(
        !out.contains("notes.txt →"),
        "a .dockerignored file rebuilt: {out}"
    );
    assert_eq!(f.image_of("devenvt-watch-build_app"), v2);
    assert_eq!(
        f.engine.http_get(f.app_port, "/"),
        Some("app v2\n".to_string())
    );

    // fixed: the next change builds and rolls again
    std::fs::write(
        f.path("app/Dockerfile"),
        format!(
            "FROM {}\nCOPY index.html /www/index.html\n",
            busybox_image()
        ),
    )
    .unwrap();
    std::fs::write(f.path("app/index.html"), "app v3\n").unwrap();
    f.served(f.app_port, "/", "app v3\n", &w);
    let _ = w.wait_for("app: rebuilt", at, 60);

    // rules are checked: `rebuild` on a service without `build:` is a config error with its line
    let stack = f.path("templates/stack.yml.j2");
    let src = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(&stack, src.replace("action: sync", "action: rebuild")).unwrap();
    let o = f.run(&["watch", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("stack.yml.j2:14:"), "{err}");
    assert!(
        err.contains("`action: rebuild` on a service without `build:`"),
        "{err}"
    );
}

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

/// The bundled example's shape with offline images: `web` serves ./web (synced to /www) and a
/// rendered page; `api` is built from ./api and rebuilt when it changes.
fn project(name: &str, port: u16, app_port: u16) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for dir in ["profiles", "templates", "web", "api"] {
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
    w("web/index.html", "site v1\n");
    w(
        "api/Dockerfile",
        &format!(
            "FROM {}\nCOPY index.html /www/index.html\n",
            busybox_image()
        ),
    );
    w("api/index.html", "app v1\n");
    w("api/.dockerignore", "notes.txt\n");
    w("api/main.go", "package main\n");
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
        - path: ./web
          action: sync
          target: /www
          ignore: [drafts/]
  api:
    image: {{ image("api") }}
    build: ./api
    init: true
    command: ["httpd", "-f", "-p", "8081", "-h", "/www"]
    ports: ["{{ app_port }}:8081"]
    develop:
      watch:
        - path: ./api
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
    out: Arc<Mutex<String>>,
}

impl Watch {
    fn output(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
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
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |r: Box<dyn std::io::Read + Send>| {
            let buf = Arc::new(Mutex::new(String::new()));
            let sink = buf.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
            buf
        };
        let err = collect(Box::new(child.stderr.take().unwrap()));
        let out = collect(Box::new(child.stdout.take().unwrap()));
        Watch { child, err, out }
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
    let Some(f) = Fixture::new("myblog") else {
        return;
    };
    // the rules, and what they do, before anything runs
    let o = f.run(&["watch", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    assert!(
        plan.contains(
            "would watch web (ignoring drafts/): on a change, copy into web's running tasks at /www"
        ),
        "{plan}"
    );
    assert!(
        plan.contains("would watch api: on a change, build api's image"),
        "{plan}"
    );
    assert!(
        f.engine.docker(&["service", "ls", "-q"]).stdout.is_empty(),
        "--dry-run deployed"
    );

    let mut w = f.watch(&[]);
    let mut at = w.wait_for("watching ", 0, 180);
    f.served(f.port, "/", "site v1\n", &w);
    let before = f.containers("myblog_web");
    assert_eq!(before.len(), 1, "{before:?}");
    // swarm would refuse `develop:`: devenv left it out of what it deployed
    let spec = stdout(&f.engine.docker(&["service", "inspect", "myblog_web"]));
    assert!(!spec.contains("develop"), "{spec}");

    // an edit is served by the same container: synced, not restarted
    std::fs::write(f.path("web/index.html"), "site v2\n").unwrap();
    f.served(f.port, "/", "site v2\n", &w);
    at = w.wait_for("web/index.html → web: sync: 1 file into 1 task", at, 10);
    assert_eq!(f.containers("myblog_web"), before, "restarted");
    std::fs::write(f.path("web/app.py"), "print('v2')\n").unwrap();
    f.served(f.port, "/app.py", "print('v2')\n", &w);
    at = w.wait_for("web/app.py → web: sync: 1 file into 1 task", at, 10);

    // a new file in a new directory, then removed
    std::fs::create_dir_all(f.path("web/docs")).unwrap();
    std::fs::write(f.path("web/docs/new.html"), "new\n").unwrap();
    f.served(f.port, "/docs/new.html", "new\n", &w);
    std::fs::remove_file(f.path("web/docs/new.html")).unwrap();
    let t = Instant::now();
    while f.engine.http_get(f.port, "/docs/new.html").is_some() {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", w.output());
        std::thread::sleep(Duration::from_millis(100));
    }

    // ignored files and editor leftovers are not copied
    std::fs::create_dir_all(f.path("web/drafts")).unwrap();
    std::fs::write(f.path("web/drafts/x.html"), "draft\n").unwrap();
    std::fs::write(f.path("web/.index.html.swp"), "swap\n").unwrap();
    // 50 rapid edits: the last one is served (changes during a sync wait for the next batch)
    for i in 0..50 {
        std::fs::write(f.path("web/index.html"), format!("edit {i}\n")).unwrap();
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
    assert_eq!(f.containers("myblog_web"), before, "restarted");

    // a new task (swarm replaced a killed one) gets the synced files
    f.engine.docker(&["kill", &before[0]]);
    let t = Instant::now();
    loop {
        let now = f.containers("myblog_web");
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
    std::fs::write(f.path("web/index.html"), "after the error\n").unwrap();
    f.served(f.port, "/", "after the error\n", &w);
    assert!(
        w.stdout().is_empty(),
        "text mode writes on stderr: {}",
        w.stdout()
    );
    readme_quote_holds(&w.output(), "→ web:");
    drop(w);

    // --json: one event per line on stdout, as docs/json.md shows it
    std::fs::write(f.path("templates/about.html.j2"), "about v3\n").unwrap();
    let w = f.watch(&["--json"]);
    let t = Instant::now();
    while !w.stdout().contains("\"initial-sync\"") {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{}\n{}",
            w.stdout(),
            w.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let line = w
        .stdout()
        .lines()
        .find(|l| l.contains("initial-sync"))
        .unwrap()
        .to_string();
    let ev: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ev["service"], "web");
    assert_eq!(ev["ok"], true);
    assert_eq!(ev["containers"], 1);
    let doc = json_doc("devenv watch");
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&ev), keys(&doc), "docs/json.md's `devenv watch` event");
    let _ = at;
}

/// The ```json example under `## `NAME`` in docs/json.md.
fn json_doc(name: &str) -> serde_json::Value {
    let doc = std::fs::read_to_string(repo().join("docs/json.md")).unwrap();
    let at = doc.find(&format!("## `{name}`")).expect("documented");
    let body = &doc[at..];
    let start = body.find("```json\n").unwrap() + 8;
    let end = start + body[start..].find("```").unwrap();
    serde_json::from_str(&body[start..end]).unwrap()
}

/// The lines of README's `devenv watch` example that contain `which` are lines this session
/// printed (timings, hashes and temp paths aside).
fn readme_quote_holds(output: &str, which: &str) {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let at = readme
        .find("$ devenv watch\n")
        .expect("README quotes devenv watch");
    let block = &readme[at..];
    let block = &block[..block.find("```").unwrap()];
    let norm = |s: &str| -> String {
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        // a tag's 12-hex-digit hash becomes H, every other run of digits N
        while let Some(c) = chars.next() {
            if c == ':' {
                let rest: String = chars.clone().take(13).collect();
                let hex = rest
                    .chars()
                    .take(12)
                    .filter(char::is_ascii_hexdigit)
                    .count()
                    == 12;
                if hex && !rest.chars().nth(12).is_some_and(|c| c.is_ascii_hexdigit()) {
                    out.push_str(":H");
                    for _ in 0..12 {
                        chars.next();
                    }
                    continue;
                }
            }
            if c.is_ascii_digit() {
                while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                    chars.next();
                }
                out.push('N');
            } else {
                out.push(c);
            }
        }
        out.split(|c: char| c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let got: Vec<String> = output.lines().map(norm).collect();
    let mut n = 0;
    for line in block.lines().filter(|l| l.contains(which)) {
        n += 1;
        let want = norm(line);
        assert!(
            got.contains(&want),
            "README's line {line:?} is not what watch prints:\n{output}"
        );
    }
    assert!(
        n > 0,
        "README's devenv watch example has no line with {which:?}"
    );
}

#[test]
fn rebuild_rolls_the_new_image_and_a_failed_build_keeps_the_old() {
    let Some(f) = Fixture::new("myblog") else {
        return;
    };
    let mut w = f.watch(&["api"]);
    let mut at = w.wait_for("watching ", 0, 180);
    assert!(w.output().contains("for api (rebuild)"), "{}", w.output());
    f.served(f.app_port, "/", "app v1\n", &w);
    let v1 = f.image_of("myblog_api");

    // a change to the build context: a new content-hash tag, rolled out
    std::fs::write(f.path("api/index.html"), "app v2\n").unwrap();
    f.served(f.app_port, "/", "app v2\n", &w);
    at = w.wait_for("api/index.html → api: rebuilt myblog/api:", at, 60);
    let v2 = f.image_of("myblog_api");
    assert_ne!(v1, v2);
    assert!(v2.starts_with("myblog/api:"), "{v2}");

    // a source the image does not serve still makes a new image (its context changed)
    std::fs::write(f.path("api/main.go"), "package main // v2\n").unwrap();
    at = w.wait_for("api/main.go → api: rebuilt myblog/api:", at, 60);
    let v2 = f.image_of("myblog_api");

    // a .dockerignored file changes nothing
    std::fs::write(f.path("api/notes.txt"), "x\n").unwrap();

    // a failing build: the error is said, the old task keeps serving, watch goes on
    std::fs::write(
        f.path("api/Dockerfile"),
        format!(
            "FROM {}\nCOPY index.html /www/index.html\nRUN echo the-build-breaks && false\n",
            busybox_image()
        ),
    )
    .unwrap();
    at = w.wait_for("api: rebuild failed", at, 60);
    let out = w.output();
    assert!(
        out[at..].contains("docker build exit") || out.contains("docker build exit"),
        "{out}"
    );
    assert!(
        out.contains("the-build-breaks"),
        "the build's output: {out}"
    );
    assert!(out.contains(&format!("api keeps running {v2}")), "{out}");
    assert!(
        !out.contains("notes.txt →"),
        "a .dockerignored file rebuilt: {out}"
    );
    assert_eq!(f.image_of("myblog_api"), v2);
    assert_eq!(
        f.engine.http_get(f.app_port, "/"),
        Some("app v2\n".to_string())
    );

    // fixed: the next change builds and rolls again
    std::fs::write(
        f.path("api/Dockerfile"),
        format!(
            "FROM {}\nCOPY index.html /www/index.html\n",
            busybox_image()
        ),
    )
    .unwrap();
    std::fs::write(f.path("api/index.html"), "app v3\n").unwrap();
    f.served(f.app_port, "/", "app v3\n", &w);
    let _ = w.wait_for("api: rebuilt", at, 60);
    readme_quote_holds(&w.output(), "→ api:");
    drop(w);

    // without watch: `devenv build`, then `devenv update` runs the new build
    std::fs::write(f.path("api/index.html"), "app v4\n").unwrap();
    let o = f.run(&["build"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = f.run(&["update", "api"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("api runs its new build myblog/api:"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        f.engine.http_get(f.app_port, "/"),
        Some("app v4\n".to_string())
    );

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

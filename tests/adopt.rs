//! Adoption end to end: `devenv init --from FILE` on stack files written in the shape of widely used
//! public samples (Docker's voting app, a proxy + built backend + database shop, an app with a
//! build context, a healthcheck and file secrets), then `devenv up local` without editing any file,
//! on a private engine that is docker's `default` context inside the test's namespaces (as on a
//! fresh Docker install); and tasks: one that writes a marker into a volume and does not run again
//! on a no-op `up`, one that fails and fails `up`, one run on demand as a swarm job.

mod common;

use std::path::Path;

use common::*;

fn ready() -> bool {
    require(
        "root, docker with a running daemon, dockerd, nsenter, unshare, busybox-static and nginx",
        docker_ready()
            && engine_ready()
            && can_use_mount_namespaces()
            && Path::new("/usr/sbin/nginx").exists(),
    )
}

fn write(dir: &Path, files: &[(&str, String)]) {
    for (rel, content) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// A project directory inside the sandbox's temp dir holding `files`, a sandbox whose `default`
/// docker context is a fresh private engine (its swarm not initialised: `up` does it).
struct Adopted {
    s: Sandbox,
    dir: std::path::PathBuf,
    engine: Engine,
}

impl Adopted {
    fn new(name: &str, files: &[(&str, String)]) -> Adopted {
        let engine = Engine::start_with(&[busybox_image(), nginx_image()], false);
        // devenv's TLS edge runs the official nginx image's name: this machine's nginx, offline
        let o = engine.docker(&["tag", nginx_image(), devenv::profile::EDGE_IMAGE]);
        assert!(o.status.success(), "docker tag: {}", stderr(&o));
        let s = Sandbox::new("127.0.0.1 localhost\n").with_default_engine(&engine);
        let dir = s.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        write(&dir, files);
        Adopted { s, dir, engine }
    }
    fn devenv(&self, args: &[&str]) -> std::process::Output {
        let mut a = vec!["-C", self.dir.to_str().unwrap()];
        a.extend(args);
        self.s.devenv(&a)
    }
    fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.devenv(args);
        assert!(
            o.status.success(),
            "devenv {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}\n{}",
            o.status.code(),
            stdout(&o),
            stderr(&o),
            self.diagnose()
        );
        (stdout(&o), stderr(&o))
    }
    fn diagnose(&self) -> String {
        let ps = self.engine.docker(&["service", "ls"]);
        let tasks = self
            .engine
            .docker(&["stack", "ps", "--no-trunc", &self.stack()]);
        format!("services:\n{}\ntasks:\n{}", stdout(&ps), stdout(&tasks))
    }
    fn stack(&self) -> String {
        self.dir.file_name().unwrap().to_string_lossy().into_owned()
    }
}

/// Docker's example voting app as its docker-stack.yml has it: replicas 2 on a published port, a
/// port without a published side, placement on the manager, a named volume, the docker socket
/// bind-mounted, `stop_grace_period`, `depends_on`, `restart_policy` with `max_attempts`, two
/// networks.
fn voting_app() -> String {
    let img = busybox_image();
    format!(
        r#"version: "3.9"
services:
  redis:
    image: {img}
    command: ["httpd", "-f", "-p", "6379", "-h", "/www"]
    ports:
      - "6379"
    networks:
      - frontend
    deploy:
      replicas: 1
      update_config:
        parallelism: 2
        delay: 10s
      restart_policy:
        condition: on-failure
  db:
    image: {img}
    command: ["sh", "-c", "echo 16 > /var/lib/postgresql/data/PG_VERSION; exec httpd -f -p 5432 -h /www"]
    volumes:
      - db-data:/var/lib/postgresql/data
    networks:
      - backend
    deploy:
      placement:
        constraints: [node.role == manager]
  vote:
    image: {img}
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
      - 5000:80
    networks:
      - frontend
    depends_on:
      - redis
    deploy:
      replicas: 2
      update_config:
        parallelism: 2
      restart_policy:
        condition: on-failure
  result:
    image: {img}
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
      - 5001:80
    networks:
      - backend
    depends_on:
      - db
    deploy:
      replicas: 1
      update_config:
        parallelism: 2
        delay: 10s
      restart_policy:
        condition: on-failure
  worker:
    image: {img}
    command: ["sleep", "3600"]
    networks:
      - frontend
      - backend
    depends_on:
      - db
      - redis
    deploy:
      mode: replicated
      replicas: 1
      labels: [APP=VOTING]
      restart_policy:
        condition: on-failure
        delay: 10s
        max_attempts: 3
        window: 120s
      placement:
        constraints: [node.role == manager]
  visualizer:
    image: {img}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
      - "8080:8080"
    stop_grace_period: 1m30s
    volumes:
      - "/var/run/docker.sock:/var/run/docker.sock"
    deploy:
      placement:
        constraints: [node.role == manager]

networks:
  frontend:
  backend:

volumes:
  db-data:
"#
    )
}

#[test]
fn the_voting_app_is_adopted_and_runs_as_it_is() {
    if !ready() {
        return;
    }
    let a = Adopted::new("voting", &[("docker-stack.yml", voting_app())]);
    let before = std::fs::read(a.dir.join("docker-stack.yml")).unwrap();

    let (_, err) = a.ok(&["init", "--from", "docker-stack.yml"]);
    for want in [
        "inferred: stack: docker-stack.yml as it is (6 services: redis, db, vote, result, worker, visualizer)",
        "inferred: domain: none found in the files; locally voting.test",
        "inferred: probe: http://voting.test:5000/ (vote publishes 5000→80)",
        "inferred: redis publishes a port on a port docker picks",
        "created devenv.yaml",
        "created profiles/local.yaml",
    ] {
        assert!(err.contains(want), "{want:?} in:\n{err}");
    }
    let project = std::fs::read_to_string(a.dir.join("devenv.yaml")).unwrap();
    assert!(project.contains("stack: docker-stack.yml\n"), "{project}");

    let (out, err) = a.ok(&["up", "local"]);
    for want in [
        "note: vote runs 1 replica here, not 2: it publishes host-mode port 5000",
        "note: depends_on (vote, result, worker) is ignored by swarm",
        "note: redis:6379 has no published port: docker picks a free one",
        "ok: http://voting.test:5000/ answers 200",
        "ok: http://voting.test:8080/ answers 200",
        // devenv's TLS edge in front of the vote app (the first web port: 80 in the container)
        "note: devenv-edge: HTTPS and WSS with devenv's certificate, https://voting.test/ → vote:80",
        "ok: https://voting.test/ answers 200",
        "ok: 7 services ready",
    ] {
        assert!(err.contains(want), "{want:?} in:\n{err}\n{out}");
    }
    // every published port, with the scheme it really serves
    for url in [
        "https://voting.test/",
        "http://voting.test:5000/",
        "http://voting.test:5001/",
        "http://voting.test:8080/",
    ] {
        assert!(out.contains(url), "{url} in:\n{out}");
    }
    let (status, _) = a.ok(&["status"]);
    for url in [
        "https://voting.test/",
        "http://voting.test:5000/",
        "http://voting.test:5001/",
        "http://voting.test:8080/",
    ] {
        assert!(status.contains(url), "{url} in status:\n{status}");
    }
    // what a user checks: the site answers, the tasks run, the volume is there, the file is as it was
    assert!(
        a.engine
            .http_get(5000, "/")
            .is_some_and(|b| b.contains("busybox default page"))
    );
    assert!(a.engine.http_get(5001, "/").is_some());
    let vote = a.engine.docker(&[
        "service",
        "inspect",
        "voting_vote",
        "--format",
        "{{.Spec.Mode.Replicated.Replicas}} {{.Spec.TaskTemplate.RestartPolicy.Condition}}",
    ]);
    assert_eq!(stdout(&vote).trim(), "1 on-failure");
    let worker = a.engine.docker(&["service", "inspect", "voting_worker", "--format", "{{.Spec.TaskTemplate.RestartPolicy.MaxAttempts}} {{index .Spec.TaskTemplate.Placement.Constraints 0}}"]);
    assert_eq!(stdout(&worker).trim(), "3 node.role == manager");
    let grace = a.engine.docker(&[
        "service",
        "inspect",
        "voting_visualizer",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.StopGracePeriod}}",
    ]);
    assert_eq!(stdout(&grace).trim(), "1m30s");
    assert!(
        a.engine
            .docker(&["volume", "inspect", "voting_db-data"])
            .status
            .success()
    );
    let pg = a.engine.docker(&[
        "volume",
        "inspect",
        "voting_db-data",
        "--format",
        "{{.Mountpoint}}",
    ]);
    let pg = Path::new(stdout(&pg).trim()).join("PG_VERSION");
    assert_eq!(std::fs::read_to_string(pg).unwrap_or_default(), "16\n");
    assert_eq!(
        std::fs::read(a.dir.join("docker-stack.yml")).unwrap(),
        before,
        "the file is untouched"
    );

    // nothing changed: nothing redeployed, and the notes said last time are counted, not repeated
    let tasks = a.engine.task_ids("voting");
    let (_, err) = a.ok(&["up", "local"]);
    assert!(
        err.contains("nothing changed since the last deploy"),
        "{err}"
    );
    assert!(!err.contains("depends_on (vote, result, worker)"), "{err}");
    assert!(
        err.contains("notes as on the last run (`-v` or `devenv render` shows them)"),
        "{err}"
    );
    assert_eq!(a.engine.task_ids("voting"), tasks);
    // -v says them all again
    let (_, err) = a.ok(&["up", "local", "-v"]);
    assert!(err.contains("depends_on (vote, result, worker)"), "{err}");
}

/// A shop as awesome-compose's proxy/backend/database samples look: `x-` extension fields and YAML
/// anchors, a bind-mounted static directory, a build context, `env_file`, a config and a secret
/// with `file:`, two networks, and a production override file.
fn shop() -> Vec<(&'static str, String)> {
    let img = busybox_image();
    vec![
        (
            "docker-compose.yml",
            format!(
                r#"x-common: &common
  restart: unless-stopped
  logging:
    driver: json-file
    options:
      max-size: "1m"
x-env: &env
  TZ: UTC

services:
  proxy:
    <<: *common
    image: {img}
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
      - "80:80"
    configs:
      - source: proxy_conf
        target: /etc/nginx/conf.d/default.conf
    volumes:
      - ./static:/www:ro
    networks: [front]
  backend:
    <<: *common
    build: ./backend
    image: shop/backend:${{TAG:-dev}}
    env_file: backend.env
    environment:
      <<: *env
      DB_HOST: db
    secrets: [db_password]
    networks: [front, back]
  db:
    <<: *common
    image: {img}
    command: ["sh", "-c", "exec httpd -f -p 3306 -h /www"]
    environment:
      <<: *env
      MYSQL_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
    volumes: [dbdata:/var/lib/mysql]
    networks: [back]

configs:
  proxy_conf:
    file: ./proxy/default.conf
secrets:
  db_password:
    file: ./db/password.txt
volumes:
  dbdata: {{}}
networks:
  front: {{}}
  back: {{}}
"#
            ),
        ),
        (
            "docker-compose.prod.yml",
            "services:\n  backend:\n    deploy:\n      replicas: 3\n    environment:\n      MODE: production\n".into(),
        ),
        (
            "proxy/default.conf",
            "server {\n    listen 80;\n    server_name shop.example.com www.shop.example.com;\n    location / { proxy_pass http://backend:8000; }\n}\n".into(),
        ),
        ("static/index.html", "the shop's static page\n".into()),
        ("backend.env", "GREETING=hello from env_file\n".into()),
        ("db/password.txt", "s3cret-db-pw".into()),
        (
            "backend/Dockerfile",
            format!("FROM {img}\nCOPY hello.txt /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8000\", \"-h\", \"/www\"]\n"),
        ),
        ("backend/hello.txt", "backend v1\n".into()),
    ]
}

#[test]
fn the_shop_is_adopted_with_its_override_file_and_its_file_objects() {
    if !ready() {
        return;
    }
    let a = Adopted::new("shop", &shop());
    let (_, err) = a.ok(&[
        "init",
        "--from",
        "docker-compose.yml",
        "--from",
        "docker-compose.prod.yml",
    ]);
    for want in [
        "inferred: docker-compose.prod.yml: merged over the stack for profile server",
        "inferred: domain: shop.example.com (from proxy/default.conf); locally shop.example.test",
        "inferred: probe: http://shop.example.test/ (proxy publishes 80→80)",
        "inferred: proxy/default.conf:4: nginx resolves `backend` once, when it starts;",
        "inferred: backend is built from its context",
    ] {
        assert!(err.contains(want), "{want:?} in:\n{err}");
    }
    let server = std::fs::read_to_string(a.dir.join("profiles/server.yaml")).unwrap();
    assert!(server.contains("domain: shop.example.com"), "{server}");
    assert!(
        server.contains("overrides: [docker-compose.prod.yml]"),
        "{server}"
    );

    // the server's stack has the override file merged; the local one does not
    let (server_stack, _) = a.ok(&["render", "server", "--stack-only"]);
    assert!(
        server_stack.contains("replicas: 3") && server_stack.contains("MODE: production"),
        "{server_stack}"
    );
    let (diff, _) = a.ok(&["diff", "local", "server"]);
    assert!(
        diff.contains("shop.example.test  →  shop.example.com"),
        "{diff}"
    );

    let (out, err) = a.ok(&["up", "local"]);
    assert!(
        err.contains("ok: http://shop.example.test/ answers 200"),
        "{err}\n{out}"
    );
    assert!(
        err.contains(
            "proxy: `restart: unless-stopped` is deploy.restart_policy.condition: any in swarm"
        ),
        "{err}"
    );
    // the bind-mounted directory, the built backend, env_file, the file secret
    assert_eq!(
        a.engine.http_get(80, "/").as_deref(),
        Some("the shop's static page\n")
    );
    let env = a.engine.docker(&[
        "service",
        "inspect",
        "shop_backend",
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
    ]);
    let env = stdout(&env);
    for want in ["GREETING=hello from env_file", "TZ=UTC", "DB_HOST=db"] {
        assert!(env.contains(want), "{want} in {env}");
    }
    // `render --out` wrote what `up` deployed: the built backend by its content tag
    let out = a.dir.join("rendered");
    a.ok(&["render", "local", "--out", out.to_str().unwrap()]);
    let written: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(out.join("stack.yml")).unwrap()).unwrap();
    let image = written["services"]["backend"]["image"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(written["services"]["backend"].get("build").is_none());
    let deployed = a.engine.docker(&[
        "service",
        "inspect",
        "shop_backend",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
    ]);
    assert_eq!(
        stdout(&deployed).trim().split('@').next().unwrap(),
        image,
        "the deployed image"
    );
    let (pw, _) = a.ok(&["exec", "backend", "--", "cat", "/run/secrets/db_password"]);
    assert_eq!(pw, "s3cret-db-pw");
    let (page, _) = a.ok(&["exec", "backend", "--", "cat", "/www/index.html"]);
    assert_eq!(page, "backend v1\n");

    // a changed config file is a new config (docker's own `file:` would refuse the update)
    write(
        &a.dir,
        &[(
            "proxy/default.conf",
            "server { listen 80; server_name shop.example.com; }\n".into(),
        )],
    );
    let (_, err) = a.ok(&["up", "local"]);
    assert!(err.contains("deploying stack shop"), "{err}");
    let (conf, _) = a.ok(&[
        "exec",
        "proxy",
        "--",
        "cat",
        "/etc/nginx/conf.d/default.conf",
    ]);
    assert_eq!(
        conf,
        "server { listen 80; server_name shop.example.com; }\n"
    );
    let configs = a.engine.docker(&["config", "ls", "--format", "{{.Name}}"]);
    assert_eq!(
        stdout(&configs)
            .lines()
            .filter(|l| l.starts_with("shop_proxy_conf_"))
            .count(),
        1,
        "the old config is removed: {}",
        stdout(&configs)
    );
}

/// An app whose backend has a build context and no image, a database with a healthcheck, a
/// `depends_on` with a condition, a file secret and `restart_policy.max_attempts` — then tasks.
fn app() -> Vec<(&'static str, String)> {
    let img = busybox_image();
    vec![
        (
            "compose.yaml",
            format!(
                r#"services:
  backend:
    build:
      context: backend
      args:
        GREETING: hi
    ports:
      - 8000:8000
    secrets:
      - db-password
    depends_on:
      db:
        condition: service_healthy
    networks: [app]
  db:
    image: {img}
    command: ["httpd", "-f", "-p", "5432", "-h", "/www"]
    volumes:
      - db-data:/data
    secrets:
      - db-password
    healthcheck:
      test: ["CMD", "true"]
      interval: 2s
    networks: [app]
    deploy:
      restart_policy:
        condition: on-failure
        max_attempts: 3
volumes:
  db-data: {{}}
secrets:
  db-password:
    file: db/password.txt
networks:
  app: {{}}
"#
            ),
        ),
        ("db/password.txt", "pw".into()),
        (
            "backend/Dockerfile",
            format!(
                "FROM {img}\nARG GREETING\nRUN echo \"$GREETING from the backend\" > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8000\", \"-h\", \"/www\"]\n"
            ),
        ),
    ]
}

#[test]
fn an_app_is_adopted_and_its_tasks_run_once_fail_loudly_and_run_on_demand() {
    if !ready() {
        return;
    }
    let a = Adopted::new("app", &app());
    // a plain init next to the compose file suggests --from and writes nothing
    let o = a.devenv(&["init"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("devenv init --from compose.yaml"),
        "{}",
        stderr(&o)
    );
    assert!(!a.dir.join("devenv.yaml").exists());

    a.ok(&["init", "--from", "compose.yaml"]);
    let (_, err) = a.ok(&["up", "local"]);
    assert!(
        err.contains(
            "note: backend has `build:` and no `image:`: devenv tags its build as app/backend"
        ),
        "{err}"
    );
    assert!(
        err.contains("ok: http://app.test:8000/ answers 200"),
        "{err}"
    );
    assert_eq!(
        a.engine.http_get(8000, "/").as_deref(),
        Some("hi from the backend\n")
    );

    // tasks: a seed that appends to a marker in the database's volume
    let yaml = std::fs::read_to_string(a.dir.join("devenv.yaml")).unwrap();
    std::fs::write(
        a.dir.join("devenv.yaml"),
        format!(
            "{yaml}tasks:\n  seed:\n    service: db\n    command: echo seeding; echo seeded >> /data/marker; echo done\n    when: first-deploy\n  count:\n    service: db\n    command: [sh, -c, 'busybox wc -l < /data/marker']\n    in: job\n"
        ),
    )
    .unwrap();
    let (_, err) = a.ok(&["up", "local"]);
    assert!(
        err.contains("task seed (first deploy on this swarm) in db"),
        "{err}"
    );
    assert!(
        err.contains("[seed] seeding") && err.contains("[seed] done"),
        "{err}"
    );
    assert!(err.contains("ok: task seed done"), "{err}");
    let (marker, _) = a.ok(&["exec", "db", "--", "cat", "/data/marker"]);
    assert_eq!(marker, "seeded\n");

    // a no-op up runs no task
    let (_, err) = a.ok(&["up", "local"]);
    assert!(
        err.contains("nothing changed since the last deploy"),
        "{err}"
    );
    assert!(!err.contains("[seed]"), "{err}");
    let (marker, _) = a.ok(&["exec", "db", "--", "cat", "/data/marker"]);
    assert_eq!(marker, "seeded\n", "the task ran once");

    // on demand, as a one-off swarm job with the service's volume
    a.ok(&["run", "seed"]);
    let (out, err) = a.ok(&["run", "count"]);
    assert!(
        out.contains("[count] 2") || err.contains("[count] 2"),
        "{out}\n{err}"
    );
    assert!(
        !stdout(&a.engine.docker(&["service", "ls", "--format", "{{.Name}}"]))
            .contains("task-count"),
        "the job is removed after it ran"
    );
    let (status, _) = a.ok(&["status"]);
    assert!(status.contains("tasks\n  seed"), "{status}");
    assert!(
        status.contains("count") && status.contains("manual"),
        "{status}"
    );

    // a task that fails fails `up`, with its exit code and last lines
    let yaml = std::fs::read_to_string(a.dir.join("devenv.yaml")).unwrap();
    std::fs::write(
        a.dir.join("devenv.yaml"),
        format!("{yaml}  check:\n    service: backend\n    command: echo checking the schema; exit 3\n    when: first-deploy\n"),
    )
    .unwrap();
    let o = a.devenv(&["up", "local"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "task `check` (echo checking the schema; exit 3) in backend exited with code 3"
        ),
        "{err}"
    );
    assert!(
        err.contains("--- its last lines ---\nchecking the schema"),
        "{err}"
    );
    let (status, _) = a.ok(&["status"]);
    assert!(
        status.contains("check") && status.contains("(exit 3)"),
        "{status}"
    );
}

/// One case of tests/data/merge-rules.yaml.
#[derive(serde::Deserialize)]
struct MergeCase {
    rule: String,
    base: String,
    #[serde(rename = "override")]
    over: String,
    #[serde(default)]
    expect: serde_yaml_ng::Mapping,
    #[serde(default)]
    absent: Vec<String>,
    error: Option<String>,
}

/// The value at a dotted path of a rendered stack (`services.web.deploy.labels`).
fn at<'a>(doc: &'a serde_yaml_ng::Value, path: &str) -> Option<&'a serde_yaml_ng::Value> {
    path.split('.').try_fold(doc, |v, k| v.get(k))
}

/// Compose's merge rules (compose-go's own cases), each through a profile's override file and
/// through its `services:` section: what `devenv render` writes is what the case expects, or the
/// render is refused with the case's message and its place.
#[test]
fn merge_rules_are_composes() {
    if !require("the docker CLI", have("docker")) {
        return;
    }
    let table: Vec<MergeCase> = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo().join("tests/data/merge-rules.yaml")).unwrap(),
    )
    .unwrap();
    assert!(table.len() >= 30, "the table has {} cases", table.len());
    let mut failures = Vec::new();
    let mut runs = 0;
    for case in &table {
        let only_services = case
            .over
            .lines()
            .all(|l| l.starts_with(' ') || l.starts_with("services:") || l.trim().is_empty());
        let modes: &[&str] = if only_services {
            &["override file", "profile services"]
        } else {
            &["override file"]
        };
        for mode in modes {
            runs += 1;
            let d = tempfile::tempdir().unwrap();
            let mut profile =
                "docker: {swarm: true}\ndomain: m.test\nhosts: [m.test]\n".to_string();
            if *mode == "override file" {
                profile.push_str("overrides: [override.yml]\n");
                std::fs::write(d.path().join("override.yml"), &case.over).unwrap();
            } else {
                profile.push_str(&case.over);
            }
            write(
                d.path(),
                &[
                    (
                        "devenv.yaml",
                        "project: m\nstack: stack.yml\ndefault_profile: local\n".into(),
                    ),
                    ("stack.yml", case.base.clone()),
                    ("profiles/local.yaml", profile),
                ],
            );
            let o = devenv()
                .args([
                    "-C",
                    d.path().to_str().unwrap(),
                    "render",
                    "local",
                    "--stack-only",
                ])
                .output()
                .unwrap();
            let what = format!("{} ({mode})", case.rule);
            if let Some(want) = &case.error {
                let err = stderr(&o);
                let file = if *mode == "override file" {
                    "override.yml:"
                } else {
                    "profiles/local.yaml:"
                };
                if o.status.success() || !err.contains(want.as_str()) || !err.contains(file) {
                    failures.push(format!(
                        "{what}: expected a refusal at {file} saying {want:?}, got exit {:?}:\n{err}",
                        o.status.code()
                    ));
                }
                continue;
            }
            if !o.status.success() {
                failures.push(format!("{what}: render failed:\n{}", stderr(&o)));
                continue;
            }
            let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout(&o)).unwrap();
            // and docker reads the merged stack
            let file = d.path().join("rendered.yml");
            std::fs::write(&file, stdout(&o)).unwrap();
            let check = std::process::Command::new("docker")
                .args(["stack", "config", "-c"])
                .arg(&file)
                .output()
                .unwrap();
            if !check.status.success() {
                failures.push(format!(
                    "{what}: docker stack config refuses the merged stack: {}",
                    stderr(&check)
                ));
            }
            for (path, want) in &case.expect {
                let path = path.as_str().unwrap();
                match at(&doc, path) {
                    Some(got) if got == want => {}
                    got => failures.push(format!(
                        "{what}: {path} is {}, expected {}",
                        serde_yaml_ng::to_string(&got).unwrap().trim(),
                        serde_yaml_ng::to_string(want).unwrap().trim()
                    )),
                }
            }
            for path in &case.absent {
                if let Some(got) = at(&doc, path) {
                    failures.push(format!("{what}: {path} should be gone, is {got:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} merges differ from compose's:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// One project of tests/corpus/expect.yaml.
#[derive(serde::Deserialize)]
struct CorpusProject {
    file: String,
    #[serde(default)]
    stack: Option<String>,
    #[serde(default)]
    local: serde_yaml_ng::Mapping,
    #[serde(default)]
    server: serde_yaml_ng::Mapping,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    absent_server: Vec<String>,
    #[serde(default)]
    built: Vec<String>,
    #[serde(default)]
    says: Vec<String>,
    /// Built and run on the test engine by `the_offline_buildable_corpus_runs`.
    #[serde(default)]
    deploy: bool,
}

fn corpus() -> Vec<(String, CorpusProject)> {
    let root = repo().join("tests/corpus");
    let table: std::collections::BTreeMap<String, CorpusProject> =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root.join("expect.yaml")).unwrap())
            .unwrap();
    // every project of the corpus has its expectations
    for e in std::fs::read_dir(&root).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(table.contains_key(&name), "{name} is not in expect.yaml");
        }
    }
    table.into_iter().collect()
}

/// Each project of the corpus, adopted as it is: `init --from` says ready, both profiles render,
/// docker reads both renders, and the values are the ones compose would run.
#[test]
fn the_corpus_is_adopted_with_zero_edits() {
    if !require("the docker CLI", have("docker")) {
        return;
    }
    let projects = corpus();
    assert!(projects.len() >= 10, "{} projects", projects.len());
    let mut failures = Vec::new();
    for (name, p) in &projects {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join(name);
        copy_dir(&repo().join("tests/corpus").join(name), &dir);
        let run = |args: &[&str]| {
            devenv()
                .env_remove("COMPOSE_PROFILES")
                .args(["-C", dir.to_str().unwrap()])
                .args(args)
                .output()
                .unwrap()
        };
        let o = run(&["init", "--from", &p.file]);
        let stack = p.stack.clone().unwrap_or_else(|| name.clone());
        if !o.status.success() || !stderr(&o).contains(&format!("project `{stack}` ready")) {
            failures.push(format!("{name}: init --from {}:\n{}", p.file, stderr(&o)));
            continue;
        }
        for (profile, want, absent) in [
            ("local", &p.local, &p.absent),
            ("server", &p.server, &p.absent_server),
        ] {
            let out = dir.join(format!("out-{profile}"));
            let o = run(&["render", profile, "--out", out.to_str().unwrap()]);
            if !o.status.success() {
                failures.push(format!("{name}: render {profile}:\n{}", stderr(&o)));
                continue;
            }
            if profile == "local" {
                for line in &p.says {
                    if !stderr(&o).contains(line.as_str()) {
                        failures.push(format!(
                            "{name}: render local does not say {line:?}:\n{}",
                            stderr(&o)
                        ));
                    }
                }
            }
            let file = out.join("stack.yml");
            let check = std::process::Command::new("docker")
                .args(["stack", "config", "-c"])
                .arg(&file)
                .output()
                .unwrap();
            if !check.status.success() {
                failures.push(format!(
                    "{name}: docker stack config refuses the {profile} render: {}",
                    stderr(&check)
                ));
            }
            let doc: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for (path, value) in want {
                let path = path.as_str().unwrap();
                match at(&doc, path) {
                    Some(got) if got == value => {}
                    got => failures.push(format!(
                        "{name} ({profile}): {path} is {}, expected {}",
                        serde_yaml_ng::to_string(&got).unwrap().trim(),
                        serde_yaml_ng::to_string(value).unwrap().trim()
                    )),
                }
            }
            for path in absent {
                if let Some(got) = at(&doc, path) {
                    failures.push(format!(
                        "{name} ({profile}): {path} should be left out, is {got:?}"
                    ));
                }
            }
            // a built service is its content tag, as `up` deploys it
            for svc in &p.built {
                let image = at(&doc, &format!("services.{svc}.image"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let tag = image.rsplit(':').next().unwrap_or_default();
                if tag.len() != 12 || !tag.chars().all(|c| c.is_ascii_hexdigit()) {
                    failures.push(format!(
                        "{name} ({profile}): {svc} is `{image}`, not a content tag"
                    ));
                }
                if at(&doc, &format!("services.{svc}.build")).is_some() {
                    failures.push(format!("{name} ({profile}): {svc} still has build:"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems in the corpus:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The projects of the corpus whose images can be made offline, built and run on the test's own
/// engine as they are (busybox and nginx stand in for the images the files name): each serves
/// what its files say.
#[test]
fn the_offline_buildable_corpus_runs() {
    if !ready() {
        return;
    }
    let engine = Engine::start_with(&[busybox_image(), nginx_image()], false);
    for (from, to) in [
        (busybox_image(), "busybox:1.36"),
        (nginx_image(), "nginx:1.27-alpine"),
    ] {
        let o = engine.docker(&["tag", from, to]);
        assert!(o.status.success(), "docker tag {to}: {}", stderr(&o));
    }
    let s = Sandbox::new("127.0.0.1 localhost\n").with_default_engine(&engine);
    let deployable: Vec<(String, CorpusProject)> =
        corpus().into_iter().filter(|(_, p)| p.deploy).collect();
    assert!(deployable.len() >= 3);
    for (name, p) in &deployable {
        let dir = s.dir.path().join(name);
        copy_dir(&repo().join("tests/corpus").join(name), &dir);
        let ok = |args: &[&str]| {
            let mut a = vec!["-C", dir.to_str().unwrap()];
            a.extend(args);
            let o = s.devenv(&a);
            let ps = engine.docker(&["stack", "ps", "--no-trunc", name]);
            assert!(
                o.status.success(),
                "{name}: devenv {args:?} exited {:?}\n{}\n{}\ntasks:\n{}",
                o.status.code(),
                stdout(&o),
                stderr(&o),
                stdout(&ps)
            );
            (stdout(&o), stderr(&o))
        };
        ok(&["init", "--from", &p.file]);
        let (_, up_err) = ok(&["up", "local"]);
        match name.as_str() {
            "busybox-web" => {
                // the port and the message from .env, the config file, compose's limits
                assert_eq!(
                    engine.http_get(8085, "/").as_deref(),
                    Some("the busybox site\n")
                );
                let spec = stdout(&engine.docker(&[
                    "service",
                    "inspect",
                    "busybox-web_web",
                    "--format",
                    "{{json .Spec.TaskTemplate}}",
                ]));
                assert!(spec.contains("MESSAGE=hello from .env"), "{spec}");
                assert!(spec.contains("\"MemoryBytes\":67108864"), "{spec}");
            }
            "static-proxy" => {
                // the override file beside the compose file publishes the proxy. Its nginx names
                // its upstream literally (`proxy_pass http://backend:8000;`, which init warns
                // about): it resolves it once and exits when the backend's name is not in the
                // stack's DNS yet, and swarm restarts it; so it serves within seconds, not
                // necessarily at once
                let start = std::time::Instant::now();
                let mut got = engine.http_get(8086, "/");
                while got.is_none() && start.elapsed() < std::time::Duration::from_secs(30) {
                    std::thread::sleep(std::time::Duration::from_millis(500));
                    got = engine.http_get(8086, "/");
                }
                assert_eq!(
                    got.as_deref(),
                    Some("served by the backend, through the proxy\n"),
                    "{up_err}\n{}",
                    stdout(&engine.docker(&["service", "ps", "--no-trunc", "static-proxy_proxy"]))
                );
            }
            "built-worker" => {
                // built from its context with its build args, the file secret mounted
                let (out, _) = ok(&["exec", "worker", "--", "cat", "/tmp/out"]);
                assert_eq!(out, "hello, token s3cr3t-token\n");
            }
            other => panic!("{other} is deployable but has no check here"),
        }
        ok(&["down", "local"]);
    }
}

/// `--hosts-file` on a copy the resolver does not read is a first-class target: `up`'s probes,
/// `status` and `doctor` reach the names through the addresses the copy maps (and say so), the
/// machine's own hosts file is untouched, the copy's backups sit beside it, and what devenv tells
/// the user to run next names the copy.
#[test]
fn a_hosts_file_copy_is_a_first_class_target() {
    if !ready() {
        return;
    }
    let engine = Engine::start_with(&[nginx_image(), app_image()], false);
    let o = engine.docker(&["tag", nginx_image(), devenv::profile::EDGE_IMAGE]);
    assert!(o.status.success(), "docker tag: {}", stderr(&o));
    let system_hosts = "127.0.0.1 localhost\n";
    let s = Sandbox::new(system_hosts).with_default_engine(&engine);
    let dir = s.dir.path().join("chat");
    write(
        &dir,
        &[(
            "compose.yaml",
            format!(
                "services:\n  app:\n    image: {}\n    ports: [\"8000:8000\"]\n",
                app_image()
            ),
        )],
    );
    let copy_dir = s.dir.path().join("copy");
    std::fs::create_dir_all(&copy_dir).unwrap();
    let copy = copy_dir.join("hosts");
    std::fs::write(&copy, "127.0.0.1 localhost\n").unwrap();
    let copy_arg = copy.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut a = vec!["-C", dir.to_str().unwrap()];
        a.extend(args);
        let o = s.devenv(&a);
        (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)))
    };
    let (code, out) = run(&["init", "--from", "compose.yaml"]);
    assert_eq!(code, Some(0), "{out}");

    let (code, up) = run(&["--hosts-file", copy_arg, "up", "local"]);
    assert_eq!(code, Some(0), "{up}");
    assert!(
        up.contains(&format!(
            "{copy_arg} is not a hosts file this machine's resolver reads: devenv reaches chat.test through the addresses it maps there"
        )),
        "{up}"
    );
    assert_eq!(
        up.matches("is not a hosts file").count(),
        1,
        "said once: {up}"
    );
    assert!(up.contains("https://chat.test/ answers 200"), "{up}");
    assert!(
        String::from_utf8_lossy(&std::fs::read(&copy).unwrap()).contains("chat.test"),
        "the copy holds the block"
    );
    assert_eq!(
        std::fs::read_to_string(&s.hosts).unwrap(),
        system_hosts,
        "the machine's hosts file is untouched"
    );
    // the copy's backups beside it, none in the user's (system) backup directory
    let beside: Vec<_> = std::fs::read_dir(copy_dir.join(".devenv-hosts-backups"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bak"))
        .collect();
    assert!(!beside.is_empty(), "no backup beside the copy");
    assert!(!s.data.join("hosts-backups").exists());

    // status: the site through the copy's addresses; without the flag the name does not resolve
    let (code, status) = run(&["--hosts-file", copy_arg, "status"]);
    assert_eq!(code, Some(0), "{status}");
    assert!(status.contains("https://chat.test/"), "{status}");
    assert!(!status.contains("not checked"), "{status}");
    let (_, plain) = run(&["status"]);
    assert!(plain.contains("not checked"), "{plain}");

    // doctor checks the given file; hosts list says the resolver does not read it
    let (_, doctor) = run(&["--hosts-file", copy_arg, "doctor"]);
    assert!(
        doctor.contains(&format!(
            "chat.test → 127.0.0.1, ::1 in {copy_arg} (devenv's probes use it; this machine's resolver does not read that file)"
        )),
        "{doctor}"
    );
    let (code, list) = run(&["--hosts-file", copy_arg, "hosts", "list"]);
    assert_eq!(code, Some(0), "{list}");
    assert!(
        list.contains("this machine's resolver does not read this file"),
        "{list}"
    );

    // down: what it leaves, with the command that removes it from the copy
    let (code, down) = run(&["--hosts-file", copy_arg, "down"]);
    assert_eq!(code, Some(0), "{down}");
    assert!(
        down.contains(&format!("--hosts-file {copy_arg} hosts remove")),
        "{down}"
    );
    let (code, out) = run(&["--hosts-file", copy_arg, "hosts", "remove"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "127.0.0.1 localhost\n"
    );
}

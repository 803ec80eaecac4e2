//! The server side for real: a two-node "server" swarm (a manager and a worker, two extra
//! dockerds in network namespaces on a bridge) and a registry (Debian's docker-registry), built by
//! the test; `switch server` + `up --yes` builds on the server, pushes, deploys across both nodes;
//! the guards; a rolling update across 4 replicas that never drops to zero; a broken image rolled
//! back. Everything the test starts is stopped and removed at the end, also when it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap()
}

fn must(args: &[&str]) -> String {
    let o = sh(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

const REGISTRY_USER: &str = "pusher";
const REGISTRY_PASSWORD: &str = "s3cret-for-the-test";

/// The test's own network, daemons and registry; torn down on drop.
struct Topology {
    dir: tempfile::TempDir,
    bridge: String,
    netns: [String; 2],
    subnet: u8,
    registry: Option<Child>,
    daemons: Vec<Child>,
    rule: bool,
}

impl Topology {
    fn ip(&self, host: u8) -> String {
        format!("10.77.{}.{host}", self.subnet)
    }
    fn sock(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{i}/docker.sock"))
    }
    fn docker(&self, i: usize, args: &[&str]) -> std::process::Output {
        let host = format!("unix://{}", self.sock(i).display());
        Command::new("docker")
            .args(["-H", &host])
            .args(args)
            .output()
            .unwrap()
    }
    fn registry(&self) -> String {
        format!("{}:5000", self.ip(1))
    }

    fn start() -> Topology {
        Topology::start_with(false)
    }

    /// `secure`: the registry serves TLS from a test CA (which the daemons trust through
    /// `/etc/docker/certs.d/HOST:PORT/ca.crt`, in their own mount namespace) and wants a login
    /// (htpasswd: [`REGISTRY_USER`]); else it is plain HTTP, trusted as insecure.
    fn start_with(secure: bool) -> Topology {
        let n = (std::process::id() % 90) as u8 + 20 + if secure { 90 } else { 0 };
        let mut t = Topology {
            dir: tempfile::tempdir().unwrap(),
            bridge: format!("dvb{n}"),
            netns: [format!("dvn{n}a"), format!("dvn{n}b")],
            subnet: n,
            registry: None,
            daemons: Vec::new(),
            rule: false,
        };
        // a bridge with the host on .1 and a veth into each node's network namespace
        must(&["ip", "link", "add", &t.bridge, "type", "bridge"]);
        must(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", t.ip(1)),
            "dev",
            &t.bridge,
        ]);
        must(&["ip", "link", "set", &t.bridge, "up"]);
        for (i, ns) in t.netns.clone().iter().enumerate() {
            must(&["ip", "netns", "add", ns]);
            let veth = format!("{ns}v");
            must(&[
                "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ]);
            must(&["ip", "link", "set", &veth, "master", &t.bridge, "up"]);
            let addr = format!("{}/24", t.ip(11 + i as u8));
            must(&["ip", "-n", ns, "addr", "add", &addr, "dev", "eth0"]);
            must(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            must(&["ip", "-n", ns, "route", "add", "default", "via", &t.ip(1)]);
        }
        // docker's FORWARD policy would drop bridged traffic (br_netfilter)
        must(&[
            "iptables", "-I", "FORWARD", "-i", &t.bridge, "-o", &t.bridge, "-j", "ACCEPT",
        ]);
        t.rule = true;
        // the registry, on the bridge address the daemons trust as insecure (or by its CA)
        let reg = t.dir.path().join("registry");
        std::fs::create_dir_all(&reg).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {}\n",
            reg.join("data").display(),
            t.registry()
        );
        if secure {
            t.registry_pki(&reg);
            config.push_str(&format!(
                "  tls:\n    certificate: {r}/server.crt\n    key: {r}/server.key\nauth:\n  htpasswd:\n    realm: devenv-test\n    path: {r}/htpasswd\n",
                r = reg.display()
            ));
        }
        std::fs::write(reg.join("config.yml"), config).unwrap();
        t.registry = Some(
            Command::new("docker-registry")
                .arg("serve")
                .arg(reg.join("config.yml"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(reg.join("log")).unwrap())
                .spawn()
                .unwrap(),
        );
        // two daemons, each in its namespace (nsenter --net keeps the cgroup mounts in view)
        for (i, ns) in t.netns.iter().enumerate() {
            let d = t.dir.path().join(format!("n{i}"));
            std::fs::create_dir_all(&d).unwrap();
            let host = ["server-a", "server-b"][i];
            let (trust, mount) = if secure {
                // the daemon's /etc/docker: certs.d with the registry's CA
                let etc = d.join("etc-docker");
                let certs = etc.join(format!("certs.d/{}", t.registry()));
                std::fs::create_dir_all(&certs).unwrap();
                std::fs::copy(reg.join("ca.crt"), certs.join("ca.crt")).unwrap();
                (
                    String::new(),
                    format!("mount --bind {} /etc/docker; ", etc.display()),
                )
            } else {
                (
                    format!("--insecure-registry {}", t.registry()),
                    String::new(),
                )
            };
            let script = format!(
                "{mount}hostname {host}; exec dockerd --data-root {d}/data --exec-root {d}/exec --pidfile {d}/docker.pid -H unix://{d}/docker.sock --bridge none {trust} >{d}/dockerd.log 2>&1",
                d = d.display(),
            );
            // nsenter → unshare → sh → exec dockerd: the child is the daemon itself
            let mut unshare = vec!["unshare", "--uts"];
            if secure {
                unshare.extend(["--mount", "--propagation", "private"]);
            }
            let child = Command::new("nsenter")
                .arg(format!("--net=/run/netns/{ns}"))
                .args(&unshare)
                .args(["sh", "-c", &script])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            t.daemons.push(child);
        }
        for i in 0..2 {
            let start = Instant::now();
            while !t.docker(i, &["info"]).status.success() {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "dockerd {i} did not start"
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        let a = t.docker(0, &["swarm", "init", "--advertise-addr", &t.ip(11)]);
        assert!(a.status.success(), "{}", stderr(&a));
        let token = stdout(&t.docker(0, &["swarm", "join-token", "-q", "worker"]))
            .trim()
            .to_string();
        let j = t.docker(
            1,
            &[
                "swarm",
                "join",
                "--token",
                &token,
                "--advertise-addr",
                &t.ip(12),
                &format!("{}:2377", t.ip(11)),
            ],
        );
        assert!(j.status.success(), "{}", stderr(&j));
        t
    }

    /// A test CA, the registry's certificate for its address, and an htpasswd with the test user.
    fn registry_pki(&self, reg: &Path) {
        let r = reg.display().to_string();
        must(&[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=devenv test registry CA",
            "-keyout",
            &format!("{r}/ca.key"),
            "-out",
            &format!("{r}/ca.crt"),
        ]);
        must(&[
            "openssl",
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={}", self.ip(1)),
            "-keyout",
            &format!("{r}/server.key"),
            "-out",
            &format!("{r}/server.csr"),
        ]);
        std::fs::write(
            reg.join("ext.cnf"),
            format!(
                "subjectAltName=IP:{}\nextendedKeyUsage=serverAuth\n",
                self.ip(1)
            ),
        )
        .unwrap();
        must(&[
            "openssl",
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &format!("{r}/server.csr"),
            "-CA",
            &format!("{r}/ca.crt"),
            "-CAkey",
            &format!("{r}/ca.key"),
            "-CAcreateserial",
            "-extfile",
            &format!("{r}/ext.cnf"),
            "-out",
            &format!("{r}/server.crt"),
        ]);
        let htpasswd = must(&["htpasswd", "-Bbn", REGISTRY_USER, REGISTRY_PASSWORD]);
        std::fs::write(reg.join("htpasswd"), htpasswd).unwrap();
    }

    fn cluster_id(&self) -> String {
        stdout(&self.docker(0, &["info", "--format", "{{.Swarm.Cluster.ID}}"]))
            .trim()
            .to_string()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = self.docker(1, &["swarm", "leave", "--force"]);
        let _ = self.docker(0, &["swarm", "leave", "--force"]);
        for i in 0..2 {
            let pidfile = self.dir.path().join(format!("n{i}/docker.pid"));
            if let Ok(pid) = std::fs::read_to_string(&pidfile) {
                let pid = pid.trim().to_string();
                let _ = sh(&["kill", &pid]);
                let start = Instant::now();
                while Path::new(&format!("/proc/{pid}")).exists()
                    && start.elapsed() < Duration::from_secs(30)
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                let _ = sh(&["kill", "-9", &pid]);
            }
        }
        for mut d in self.daemons.drain(..) {
            let _ = d.kill();
            let _ = d.wait();
        }
        // a daemon's containerd and shims, if any outlived it
        let _ = sh(&["pkill", "-f", &self.dir.path().display().to_string()]);
        if let Some(mut r) = self.registry.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        // mounts the daemons left under their roots, deepest first
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let root = self.dir.path().display().to_string();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = sh(&["umount", "-l", p]);
        }
        for ns in &self.netns {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
        let _ = sh(&["ip", "link", "del", &self.bridge]);
        if self.rule {
            let _ = sh(&[
                "iptables",
                "-D",
                "FORWARD",
                "-i",
                &self.bridge,
                "-o",
                &self.bridge,
                "-j",
                "ACCEPT",
            ]);
        }
    }
}

fn ready() -> bool {
    engine_ready()
        && is_root()
        && docker_ready()
        && have("ip")
        && have("nsenter")
        && have("unshare")
        && have("iptables")
        && have("dockerd")
        && have("docker-registry")
}

/// The project: `web` (2 replicas, a host-mode port) and `app` (4 replicas) from one build
/// context: busybox on `FROM scratch`, so no base image is needed.
fn project(dir: &Path, t: &Topology) {
    for d in ["profiles", "templates", "web/www"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy(
        ["/bin/busybox", "/usr/bin/busybox"]
            .iter()
            .find(|p| Path::new(p).exists())
            .unwrap(),
        dir.join("web/busybox"),
    )
    .unwrap();
    std::fs::write(dir.join("web/www/index.html"), "hello v1\n").unwrap();
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENV PATH=/bin\nCMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("devenv.yaml"),
        "project: devenvt-srv\nstack: templates/stack.yml.j2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/stack.yml.j2"),
        "version: \"3.8\"\nservices:\n  web:\n    image: {{ image(\"web\") }}\n    build: ./web\n    init: true\n    ports: [\"{{ port }}:8080\"]\n    deploy:\n      replicas: {{ replicas.web }}\n      update_config: {order: stop-first}\n  app:\n    image: {{ image(\"web\") }}\n    build: ./web\n    init: true\n    deploy:\n      replicas: {{ replicas.app }}\n{% if constraint is defined %}      placement: {constraints: [\"{{ constraint }}\"]}\n{% endif %}",
    )
    .unwrap();
    std::fs::write(
        dir.join("profiles/local.yaml"),
        "domain: srv.test\ndocker: {context: devenv-test-engine, swarm: true}\nreplicas: {web: 1, app: 1}\nvars: {port: 18101}\n",
    )
    .unwrap();
    write_server_profile(dir, t, "devenvt-server", &t.cluster_id());
}

fn write_server_profile(dir: &Path, t: &Topology, context: &str, cluster: &str) {
    std::fs::write(
        dir.join("profiles/server.yaml"),
        format!(
            "domain: srv.example\ndocker:\n  context: {context}\n  host: unix://{}\n  cluster_id: {cluster}\n  publish: host\nregistry: {{prefix: {}/devenvt}}\nreplicas: {{web: 2, app: 4}}\nupdate: {{parallelism: 1, delay: 1s, order: start-first, failure_action: rollback, monitor: 3s}}\nvars: {{port: 18102}}\n",
            t.sock(0).display(),
            t.registry()
        ),
    )
    .unwrap();
}

#[test]
fn two_node_server_swarm_with_registry_and_rolling_updates() {
    if !require(
        "root, docker, ip, nsenter, iptables, dockerd and docker-registry",
        ready(),
    ) {
        return;
    }
    let t = Topology::start();
    // the laptop's engine: a private one too (the machine's own is never touched)
    let laptop = Engine::start(&[]);
    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    project(dir, &t);
    let cfg = tempfile::tempdir().unwrap(); // DOCKER_CONFIG: the test's docker contexts
    laptop.add_context_to(cfg.path());
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin_null: bool| -> std::process::Output {
        let mut c = Command::new(devenv_bin());
        c.arg("-C")
            .arg(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env("DOCKER_CONFIG", cfg.path());
        c.env("DEVENV_DATA_DIR", data.path())
            .env("DEVENV_HOSTS_FILE", data.path().join("hosts"));
        if stdin_null {
            c.stdin(Stdio::null());
        }
        c.output().unwrap()
    };

    // the laptop first: built on the local engine, deployed on the local swarm
    let o = run(&["up", "local"], true);
    assert!(o.status.success(), "up local: {}", stderr(&o));

    // switch server; an up without --yes shows the target and what would change, and stops
    let o = run(&["switch", "server"], true);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["up"], true);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    // the target is read through docker.host directly: the refused up creates nothing, not
    // even the context
    assert!(!err.contains("creating docker context"), "{err}");
    let contexts = Command::new("docker")
        .env("DOCKER_CONFIG", cfg.path())
        .args(["context", "ls", "--format", "{{.Name}}"])
        .output()
        .unwrap();
    assert!(
        !stdout(&contexts).contains("devenvt-server"),
        "{}",
        stdout(&contexts)
    );
    assert!(
        err.contains(&format!(
            "target: context `devenvt-server` (unix://{})",
            t.sock(0).display()
        )),
        "{err}"
    );
    assert!(
        err.contains("+ web (new service") && err.contains("without a yes"),
        "{err}"
    );
    assert!(
        stdout(&t.docker(0, &["service", "ls", "-q"]))
            .trim()
            .is_empty(),
        "nothing may be deployed without a yes"
    );

    // up --yes: built on the server, pushed, pulled by both nodes, spread over them
    let o = run(&["up", "--yes"], true);
    assert!(o.status.success(), "up --yes: {}", stderr(&o));
    assert!(
        stderr(&o).contains("creating docker context `devenvt-server`"),
        "{}",
        stderr(&o)
    );
    let ps = stdout(&t.docker(
        0,
        &[
            "service",
            "ps",
            "devenvt-srv_web",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}}",
        ],
    ));
    let mut nodes: Vec<&str> = ps.lines().collect();
    nodes.sort();
    assert_eq!(
        nodes,
        vec!["server-a", "server-b"],
        "web's replicas run on both nodes"
    );
    for i in 0..2 {
        let images = stdout(&t.docker(i, &["image", "ls", "--format", "{{.Repository}}"]));
        assert!(
            images.contains(&format!("{}/devenvt/web", t.registry())),
            "node {i} pulled the image: {images}"
        );
    }
    for host in [t.ip(11), t.ip(12)] {
        let o = sh(&[
            "curl",
            "-sS",
            "--max-time",
            "10",
            &format!("http://{host}:18102/"),
        ]);
        assert_eq!(
            stdout(&o),
            "hello v1\n",
            "the site through node {host}: {}",
            stderr(&o)
        );
    }
    let o = run(&["status", "--json"], true);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 2, "{v}");

    // guards: the server profile against the local swarm, the local profile against the server
    write_server_profile(dir, &t, CONTEXT, &t.cluster_id());
    let o = run(&["up", "server", "--yes"], true);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("may deploy only to swarm {}", t.cluster_id())),
        "{}",
        stderr(&o)
    );
    write_server_profile(dir, &t, "devenvt-server", &t.cluster_id());
    std::fs::write(
        dir.join("profiles/local.yaml"),
        "domain: srv.test\ndocker: {swarm: true, context: devenvt-server}\nreplicas: {web: 1, app: 1}\nvars: {port: 18101}\n",
    )
    .unwrap();
    // what runs on the server, to show a refused `up` changed nothing there
    let server_services = || {
        stdout(&t.docker(
            0,
            &[
                "service",
                "ls",
                "--format",
                "{{.Name}} {{.Replicas}} {{.Image}}",
            ],
        ))
    };
    let before = server_services();
    let o = run(&["up", "local"], true);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("profile local was deployed to swarm")
            && stderr(&o).contains("nothing was changed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(server_services(), before);
    std::fs::write(dir.join("profiles/local.yaml"), "domain: srv.test\ndocker: {context: devenv-test-engine, swarm: true}\nreplicas: {web: 1, app: 1}\nvars: {port: 18101}\n").unwrap();

    // a placement constraint no node satisfies: named before anything is built or deployed
    let server = dir.join("profiles/server.yaml");
    let good = std::fs::read_to_string(&server).unwrap();
    std::fs::write(
        &server,
        good.replace(
            "vars: {port: 18102}",
            "vars: {port: 18102, constraint: \"node.labels.zone == nowhere\"}",
        ),
    )
    .unwrap();
    let o = run(&["up", "server", "--yes"], true);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("these services could never be scheduled")
            && stderr(&o).contains("node.labels.zone == nowhere")
            && stderr(&o).contains("nothing was changed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(server_services(), before);
    std::fs::write(&server, good).unwrap();

    // a rolling update of app's 4 replicas never drops to zero running
    std::fs::write(dir.join("web/www/index.html"), "hello v2\n").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sock = t.sock(0);
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut min = usize::MAX;
            let mut samples = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let o = Command::new("docker")
                    .args(["-H", &format!("unix://{}", sock.display())])
                    .args([
                        "service",
                        "ps",
                        "devenvt-srv_app",
                        "--filter",
                        "desired-state=running",
                        "--format",
                        "{{.CurrentState}}",
                    ])
                    .output()
                    .unwrap();
                let running = stdout(&o)
                    .lines()
                    .filter(|l| l.starts_with("Running"))
                    .count();
                min = min.min(running);
                samples += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            (min, samples)
        })
    };
    let o = run(&["up", "--yes"], true);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (min, samples) = watcher.join().unwrap();
    assert!(o.status.success(), "rolling update: {}", stderr(&o));
    assert!(
        samples > 5 && min >= 3,
        "app dropped to {min} running replicas during the update ({samples} samples)"
    );
    let images = stdout(&t.docker(
        0,
        &[
            "service",
            "ps",
            "devenvt-srv_app",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Image}}",
        ],
    ));
    let tags: std::collections::BTreeSet<&str> = images.lines().collect();
    assert_eq!(tags.len(), 1, "all 4 replicas run the new image: {images}");
    let good = *tags.iter().next().unwrap();
    for host in [t.ip(11), t.ip(12)] {
        let o = sh(&[
            "curl",
            "-sS",
            "--max-time",
            "10",
            &format!("http://{host}:18102/"),
        ]);
        assert_eq!(stdout(&o), "hello v2\n");
    }

    // a broken image: detected, rolled back, `up` names the error
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENV PATH=/bin\nCMD [\"/bin/busybox\", \"sh\", \"-c\", \"echo broken build; exit 5\"]\n",
    )
    .unwrap();
    let o = run(&["up", "--yes", "--rollback", "--timeout", "120"], true);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("non-zero exit (5)"),
        "the task error is named: {err}"
    );
    assert!(
        err.contains("broken build"),
        "the failing service's log lines are shown: {err}"
    );
    let start = Instant::now();
    loop {
        let img = stdout(&t.docker(
            0,
            &[
                "service",
                "inspect",
                "devenvt-srv_app",
                "--format",
                "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            ],
        ));
        if img.starts_with(good) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "app was not rolled back to {good}: {img}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // down on the server (a yes is needed for a remote context)
    let o = run(&["down"], true);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&["down", "--yes"], true);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&t.docker(0, &["service", "ls", "-q"]))
            .trim()
            .is_empty()
    );
    let o = run(&["switch", "local"], true);
    assert!(o.status.success());
}

#[test]
fn two_node_server_over_ssh_with_a_registry_that_needs_a_login() {
    if !require(
        "root, docker, ip, nsenter, iptables, dockerd, docker-registry, htpasswd (apache2-utils), openssl, openssh-server and openssh-client",
        ready()
            && have("htpasswd")
            && have("openssl")
            && can_use_mount_namespaces()
            && Path::new("/usr/sbin/sshd").exists()
            && have("ssh")
            && have("ssh-keyscan"),
    ) {
        return;
    }
    let t = Topology::start_with(true);
    let laptop = Engine::start(&[]);
    // sshd on the manager's address, its sessions on the manager's engine
    let client = SshClient::new();
    let sshd = Sshd::start(
        &t.netns[0],
        &t.ip(11),
        2222,
        &t.sock(0),
        &[t.dir.path(), &t.dir.path().join("n0")],
        &client.public_key(),
    );
    let keys = sh(&["ssh-keyscan", "-p", "2222", &t.ip(11)]);
    client.accept(&keys.stdout);

    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    project(dir, &t);
    std::fs::write(
        dir.join("profiles/server.yaml"),
        format!(
            "domain: srv.example\ndocker:\n  context: devenvt-ssh\n  host: ssh://deploy@{}:2222\n  cluster_id: {}\n  publish: host\nregistry: {{prefix: {}/devenvt}}\nreplicas: {{web: 2, app: 2}}\nvars: {{port: 18103}}\n",
            t.ip(11),
            t.cluster_id(),
            t.registry()
        ),
    )
    .unwrap();
    let cfg = tempfile::tempdir().unwrap(); // DOCKER_CONFIG: contexts and the registry login
    laptop.add_context_to(cfg.path());
    let data = tempfile::tempdir().unwrap();
    // every command as the client: its own ~/.ssh (through a private /etc/passwd)
    let binds = [(client.passwd.as_path(), Path::new("/etc/passwd"))];
    let run_in = |program: &Path, args: &[&str], stdin: Option<&str>| -> std::process::Output {
        let mut c = in_namespace(&binds, program, args);
        c.env("NO_COLOR", "1")
            .env("DOCKER_CONFIG", cfg.path())
            .env("DEVENV_DATA_DIR", data.path())
            .env("DEVENV_HOSTS_FILE", data.path().join("hosts"));
        match stdin {
            None => {
                c.stdin(Stdio::null());
                c.output().unwrap()
            }
            Some(text) => {
                use std::io::Write;
                let mut child = c
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
                child.wait_with_output().unwrap()
            }
        }
    };
    let run = |args: &[&str]| -> std::process::Output {
        let mut full = vec!["-C", dir.to_str().unwrap()];
        full.extend_from_slice(args);
        run_in(&devenv_bin(), &full, None)
    };
    let registry = t.registry();

    // the registry wants a login: an anonymous client is refused
    let o = sh(&[
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--cacert",
        &t.dir.path().join("registry/ca.crt").display().to_string(),
        &format!("https://{registry}/v2/"),
    ]);
    assert_eq!(stdout(&o), "401", "{}", stderr(&o));

    let o = run(&["switch", "server"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // the first up creates the context over SSH, builds on the server, and its push is refused
    // for want of a login, which it names
    let o = run(&["up", "--yes"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("pushing {registry}/devenvt/web:")),
        "{err}"
    );
    // the context does not exist yet (the push failed before `up` changed anything): the login
    // goes where the push went
    let login = format!("docker -H ssh://deploy@{}:2222 login {registry}", t.ip(11));
    assert!(err.contains(&format!("log in first: `{login}`")), "{err}");
    assert!(
        stdout(&t.docker(0, &["service", "ls", "-q"]))
            .trim()
            .is_empty(),
        "nothing was deployed"
    );
    // doctor says the same before the login
    let o = run(&["doctor"]);
    assert!(
        stdout(&o).contains(&format!("docker login {registry}"))
            || stderr(&o).contains(&format!("docker login {registry}")),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );

    // the user runs the login devenv named (the server's daemon checks the credentials)
    let mut words: Vec<&str> = login.split(' ').collect();
    words.extend(["-u", REGISTRY_USER, "--password-stdin"]);
    let o = run_in(Path::new(words[0]), &words[1..], Some(REGISTRY_PASSWORD));
    assert!(o.status.success(), "docker login: {}", stderr(&o));

    // now: pushed, deployed across both nodes, the worker pulled the private image with the
    // credentials devenv passed on (--with-registry-auth)
    let before = sshd.logins();
    let o = run(&["up", "--yes"]);
    assert!(
        o.status.success(),
        "up --yes after the login: {}",
        stderr(&o)
    );
    assert!(sshd.logins() > before, "devenv reached the server over SSH");
    let worker = stdout(&t.docker(
        1,
        &[
            "ps",
            "--filter",
            "label=com.docker.swarm.service.name=devenvt-srv_web",
            "--format",
            "{{.Image}}",
        ],
    ));
    assert!(
        worker
            .trim()
            .starts_with(&format!("{registry}/devenvt/web:")),
        "the worker runs the private image: {worker:?}"
    );
    let o = sh(&[
        "curl",
        "-sS",
        "--max-time",
        "10",
        &format!("http://{}:18103/", t.ip(12)),
    ]);
    assert_eq!(
        stdout(&o),
        "hello v1\n",
        "the site through the worker: {}",
        stderr(&o)
    );

    // the rest of the day over SSH: status, logs, exec, update, down
    let o = run(&["status", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 2, "{v}");
    let o = run(&["logs", "web"]);
    assert!(o.status.success(), "logs: {}", stderr(&o));
    let o = run(&["exec", "web", "--", "busybox", "cat", "/www/index.html"]);
    assert!(
        o.status.success(),
        "exec: {:?} {} {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(stdout(&o), "hello v1\n");
    let tasks = |svc: &str| {
        stdout(&t.docker(
            0,
            &[
                "service",
                "ps",
                svc,
                "-q",
                "--filter",
                "desired-state=running",
            ],
        ))
    };
    let old = tasks("devenvt-srv_app");
    let o = run(&["update", "app"]);
    assert!(o.status.success(), "update: {}", stderr(&o));
    assert_ne!(tasks("devenvt-srv_app"), old, "update replaced app's tasks");
    let o = run(&["down", "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&t.docker(0, &["service", "ls", "-q"]))
            .trim()
            .is_empty()
    );
    drop(sshd);
}

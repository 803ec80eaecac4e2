//! A private Docker engine for one test: its own `dockerd` in its own network namespace (its own
//! loopback, so ports 80 and 443 never clash with the machine's), a real single-node swarm, and a
//! docker context for it in a private `DOCKER_CONFIG`. The machine's own engine, swarm and stacks
//! are never touched: a user who ran `devenv up` keeps their stack while `cargo test` runs. The
//! offline test images are built on the machine's engine and copied in.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{have, is_root, stderr, stdout};

/// The docker context name devenv's test profiles use for the private engine.
pub const CONTEXT: &str = "devenv-test-engine";

pub struct Engine {
    pub dir: tempfile::TempDir,
    pub netns: String,
    pub sock: PathBuf,
    /// `DOCKER_CONFIG` holding the context [`CONTEXT`] for this engine.
    pub config: PathBuf,
    daemon: Option<Child>,
}

/// Whether a private engine can be started: root, `ip`, `nsenter`, `dockerd`, the docker CLI.
pub fn engine_ready() -> bool {
    is_root() && have("ip") && have("nsenter") && have("dockerd") && have("docker")
}

impl Engine {
    /// Starts the engine with a single-node swarm and copies `images` in from the machine's engine.
    pub fn start(images: &[&str]) -> Engine {
        Engine::start_with(images, true)
    }

    /// Starts the engine; `swarm`: initialise its swarm (else it is in none, as a fresh Docker
    /// Desktop is, and `devenv up` initialises it).
    pub fn start_with(images: &[&str], swarm: bool) -> Engine {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = tempfile::tempdir().unwrap();
        let netns = format!("dve{}x{n}", std::process::id() % 100_000);
        let sock = dir.path().join("docker.sock");
        let config = dir.path().join("docker-config");
        std::fs::create_dir_all(&config).unwrap();
        let mut e = Engine {
            dir,
            netns,
            sock,
            config,
            daemon: None,
        };
        let ok = |o: std::process::Output, what: &str| {
            assert!(o.status.success(), "{what}: {}", stderr(&o));
        };
        ok(
            Command::new("ip")
                .args(["netns", "add", &e.netns])
                .output()
                .unwrap(),
            "ip netns add",
        );
        ok(
            Command::new("ip")
                .args(["-n", &e.netns, "link", "set", "lo", "up"])
                .output()
                .unwrap(),
            "lo up",
        );
        let d = e.dir.path();
        let script = format!(
            "exec dockerd --data-root {d}/data --exec-root {d}/exec --pidfile {d}/docker.pid -H unix://{s} --bridge none >{d}/dockerd.log 2>&1",
            d = d.display(),
            s = e.sock.display()
        );
        e.daemon = Some(
            Command::new("nsenter")
                .arg(format!("--net=/run/netns/{}", e.netns))
                .args(["sh", "-c", &script])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let start = Instant::now();
        while !e.docker(&["info"]).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the test's dockerd did not start: {}",
                std::fs::read_to_string(d.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        if swarm {
            ok(
                e.docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]),
                "swarm init",
            );
        }
        let host = format!("host=unix://{}", e.sock.display());
        ok(
            Command::new("docker")
                .env("DOCKER_CONFIG", &e.config)
                .args(["context", "create", CONTEXT, "--docker", &host])
                .output()
                .unwrap(),
            "docker context create",
        );
        for image in images {
            e.load(image);
        }
        e
    }

    /// `docker` against this engine.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .env_remove("DOCKER_CONTEXT")
            .output()
            .unwrap()
    }

    /// Copies an image from the machine's engine into this one.
    pub fn load(&self, image: &str) {
        let mut load = Command::new("docker");
        load.arg("-H")
            .arg(format!("unix://{}", self.sock.display()));
        super::copy_image(image, load);
    }

    /// Creates the context [`CONTEXT`] for this engine in another docker config directory too.
    pub fn add_context_to(&self, config: &Path) {
        let host = format!("host=unix://{}", self.sock.display());
        let o = Command::new("docker")
            .env("DOCKER_CONFIG", config)
            .args(["context", "create", CONTEXT, "--docker", &host])
            .output()
            .unwrap();
        assert!(o.status.success(), "docker context create: {}", stderr(&o));
    }

    /// The environment devenv needs to reach this engine through the context [`CONTEXT`].
    pub fn env(&self) -> Vec<(String, String)> {
        vec![(
            "DOCKER_CONFIG".to_string(),
            self.config.display().to_string(),
        )]
    }

    /// `program args` inside the engine's network namespace (where its published ports are).
    pub fn inside(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .arg(program)
            .args(args);
        for (k, v) in self.env() {
            c.env(k, v);
        }
        c
    }

    /// `NAME ID` of each task of `stack` meant to run, sorted: equal lists mean no task restarted.
    pub fn task_ids(&self, stack: &str) -> Vec<String> {
        let o = self.docker(&[
            "stack",
            "ps",
            stack,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Name}} {{.ID}}",
        ]);
        let mut v: Vec<String> = stdout(&o).lines().map(String::from).collect();
        v.sort();
        v
    }

    /// GET http://127.0.0.1:PORT/PATH inside the engine's namespace, the body on success.
    pub fn http_get(&self, port: u16, path: &str) -> Option<String> {
        let o = self
            .inside(
                Path::new("curl"),
                &[
                    "-sS",
                    "--fail",
                    "--max-time",
                    "5",
                    &format!("http://127.0.0.1:{port}{path}"),
                ],
            )
            .output()
            .ok()?;
        o.status.success().then(|| stdout(&o))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.docker(&["swarm", "leave", "--force"]);
        // the containers die at once (no grace period to sit out), so the daemon stops at once
        let ids = stdout(&self.docker(&["ps", "-aq"]));
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            let _ = self.docker(&args);
        }
        let pidfile = self.dir.path().join("docker.pid");
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            let pid = pid.trim().to_string();
            let _ = Command::new("kill").arg(&pid).output();
            let start = Instant::now();
            while Path::new(&format!("/proc/{pid}")).exists()
                && start.elapsed() < Duration::from_secs(20)
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        // containerd and shims that outlived the daemon
        let root = self.dir.path().display().to_string();
        let _ = Command::new("pkill").args(["-9", "-f", &root]).output();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", p]).output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }
}

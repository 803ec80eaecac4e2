//! The IPVS path, end to end, in a virtual machine: Debian 12's stock kernel (IPVS a loadable
//! module, not loaded at boot — what a fresh Linux laptop or server has) with Debian's docker.io,
//! booted by qemu (KVM where it can run the kernel, TCG emulation otherwise) from the image
//! `.ci/vm/image` builds and caches. This machine's own kernel has no IPVS, so every other test
//! runs devenv's fallback (host-mode ports, DNS round-robin); here devenv runs inside the VM as a
//! user of such a machine would, and the stack gets swarm's routing mesh and service VIPs:
//!
//! - `doctor` before the first deploy says IPVS is loadable (dockerd loads it), and `up` renders
//!   ingress ports and VIPs — the judgement does not flip once dockerd has loaded the module;
//! - three replicas of the app behind the proxy's VIP all answer requests made by name over
//!   HTTPS (the CA trusted by `devenv certs trust`);
//! - the hosts block maps the name to 127.0.0.1 only (swarm's ingress does not answer on ::1),
//!   so a client that tries ::1 first still reaches the site;
//! - `up` right after `up`, `down` then `up` (the ingress ports are the stack's own, not "another
//!   program"), `status`, `doctor`;
//! - `update` and a `watch` rebuild with `update_config.order: start-first`: the new task serves
//!   before the old one stops — not one request fails during the roll.
//!
//! The VM is reached over SSH and dockerd's TCP socket, both forwarded by qemu on 127.0.0.1 only.
//! The test needs qemu-system-x86_64, qemu-img, ssh, this machine's engine (it builds the offline
//! images, copied into the VM) and the image (built here with mmdebstrap when missing, ~5 min;
//! `DEVENV_VM_IMAGE=DIR` names a built one). The timings of the watch rebuild are printed as
//! `vm-bench:` lines (BENCHMARKS.md); nothing here asserts a duration.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A booted VM; qemu is killed on drop.
struct Vm {
    dir: tempfile::TempDir,
    qemu: Child,
    key: PathBuf,
    ssh_port: u16,
    docker_port: u16,
    accel: &'static str,
}

/// The image directory: `DEVENV_VM_IMAGE`, or what `.ci/vm/image` builds (or finds cached).
fn image() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DEVENV_VM_IMAGE") {
        return Some(PathBuf::from(dir));
    }
    if !have("mmdebstrap") {
        return None;
    }
    let o = Command::new(repo().join(".ci/vm/image"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(o.status.success(), ".ci/vm/image failed (its output above)");
    // the directory is its last line (a build's tools may print before it)
    let out = stdout(&o);
    let dir = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Some(PathBuf::from(dir.trim()))
}

impl Vm {
    fn console(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default()
    }

    /// Boots `image`: with KVM when it can run the kernel (the init's line on the console within
    /// 40 s), else under TCG emulation.
    fn boot(image: &Path) -> Vm {
        let want = std::env::var("DEVENV_VM_ACCEL").unwrap_or_default();
        let kvm_usable = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        if want != "tcg" && kvm_usable {
            let mut vm = Vm::start(image, "kvm");
            if vm.wait_console(Duration::from_secs(40)) {
                return vm;
            }
            eprintln!("vm: KVM did not boot the kernel within 40 s; TCG emulation instead");
            let _ = vm.qemu.kill();
            let _ = vm.qemu.wait();
        }
        let mut vm = Vm::start(image, "tcg");
        assert!(
            vm.wait_console(Duration::from_secs(300)),
            "the VM did not boot within 5 min under TCG:\n{}",
            vm.console()
        );
        vm
    }

    fn start(image: &Path, accel: &'static str) -> Vm {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("disk.qcow2");
        // a throwaway layer over the cached image: the image stays as built
        let o = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(image.join("root.raw"))
            .arg(&disk)
            .output()
            .unwrap();
        assert!(o.status.success(), "qemu-img: {}", stderr(&o));
        // the key must be the user's own to ssh's eyes
        let key = dir.path().join("id_ed25519");
        std::fs::copy(image.join("id_ed25519"), &key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (ssh_port, docker_port) = (free_port(), free_port());
        let qemu = Command::new("qemu-system-x86_64")
            .args(["-accel", accel, "-m", "3072", "-smp", "2"])
            .args(["-nographic", "-no-reboot", "-monitor", "none"])
            .arg("-kernel")
            .arg(image.join("vmlinuz"))
            .arg("-initrd")
            .arg(image.join("initrd.img"))
            .args([
                "-append",
                // apparmor=0: the image has no AppArmor parser (every container would fail)
                "console=ttyS0 root=/dev/vda rw apparmor=0 init=/sbin/devenv-vm-init panic=-1 loglevel=4",
            ])
            .arg("-drive")
            .arg(format!("file={},if=virtio,format=qcow2", disk.display()))
            .args(["-netdev", &format!(
                "user,id=n0,hostfwd=tcp:127.0.0.1:{ssh_port}-:22,hostfwd=tcp:127.0.0.1:{docker_port}-:2375"
            )])
            .args(["-device", "virtio-net-pci,netdev=n0"])
            .arg("-serial")
            .arg(format!("file:{}", dir.path().join("console.log").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Vm {
            dir,
            qemu,
            key,
            ssh_port,
            docker_port,
            accel,
        }
    }

    /// Waits for the init's line on the serial console.
    fn wait_console(&mut self, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.console().contains("devenv-vm: init done") {
                return true;
            }
            if let Ok(Some(_)) = self.qemu.try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        false
    }

    fn ssh_args(&self) -> Vec<String> {
        [
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=20",
            "-i",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([self.key.display().to_string()])
        .collect()
    }

    /// `sh -c SCRIPT` in the VM, as root.
    fn sh(&self, script: &str) -> Output {
        Command::new("ssh")
            .args(self.ssh_args())
            .args(["-p", &self.ssh_port.to_string(), "root@127.0.0.1", "--"])
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `sh -c SCRIPT` in the VM, which must succeed; its stdout.
    fn ok(&self, script: &str) -> String {
        let o = self.sh(script);
        assert!(
            o.status.success(),
            "in the VM: {script}\nexit {:?}\n{}\n{}",
            o.status.code(),
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    /// Copies `local` (a file or directory) to `remote` in the VM.
    fn put(&self, local: &Path, remote: &str) {
        let o = Command::new("scp")
            .args(self.ssh_args())
            .args(["-q", "-r", "-P", &self.ssh_port.to_string()])
            .arg(local)
            .arg(format!("root@127.0.0.1:{remote}"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "scp {}: {}",
            local.display(),
            stderr(&o)
        );
    }

    /// This machine's docker CLI against the VM's engine (through the forwarded socket).
    fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.arg("-H")
            .arg(format!("tcp://127.0.0.1:{}", self.docker_port))
            .env_remove("DOCKER_CONTEXT");
        c
    }

    /// Waits until sshd and dockerd answer.
    fn wait_ready(&self) {
        let t = Instant::now();
        while !self.sh("true").status.success() {
            assert!(
                t.elapsed() < Duration::from_secs(180),
                "no ssh into the VM:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_secs(1));
        }
        while !self.docker().arg("info").output().unwrap().status.success() {
            assert!(
                t.elapsed() < Duration::from_secs(300),
                "the VM's dockerd did not answer:\n{}",
                stdout(&self.sh("tail -50 /var/log/dockerd.log"))
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Copies an image from this machine's engine into the VM's.
    fn load(&self, image: &str) {
        copy_image(image, self.docker());
    }

    /// `devenv ARGS` in the project in the VM.
    fn devenv(&self, args: &str) -> Output {
        self.sh(&format!(
            "cd /root/myblog && NO_COLOR=1 /root/devenv {args}"
        ))
    }

    /// Runs `devenv watch api`, writes `api vN` for each N in `versions` into api/index.html
    /// and waits until each is served on port 8081 (polled every 0.2 s): the seconds from each
    /// edit to its first answer, the polls that failed, and what watch said.
    fn watch_rebuilds(
        &self,
        versions: std::ops::RangeInclusive<u32>,
    ) -> (Vec<f64>, Vec<String>, String) {
        // one simple command in the background (not a list, whose subshell would hold ssh's
        // pipes)
        self.ok("cd /root/myblog; NO_COLOR=1 nohup /root/devenv watch api >/root/watch.log 2>&1 </dev/null & echo $! >/root/watch.pid");
        let t = Instant::now();
        while !self.ok("cat /root/watch.log").contains("watching ") {
            assert!(
                t.elapsed() < Duration::from_secs(300),
                "watch did not start:\n{}",
                self.ok("cat /root/watch.log")
            );
            std::thread::sleep(Duration::from_secs(1));
        }
        let poll = POLL
            .replace("URL", "http://127.0.0.1:8081/")
            .replace("LOG", "/root/poll-api.log");
        self.ok(&poll);
        let mut served = Vec::new();
        for v in versions {
            let edit: f64 = self
                .ok(&format!(
                    "date +%s.%N; echo 'api v{v}' > /root/myblog/api/index.html"
                ))
                .trim()
                .parse()
                .unwrap();
            let want = format!("api v{v}");
            let t = Instant::now();
            let first = loop {
                let log = self.ok("cat /root/poll-api.log");
                if let Some((at, _)) = polled(&log)
                    .into_iter()
                    .find(|(at, r)| *at > edit && *r == want)
                {
                    break at;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(300),
                    "{want} not served:\n{}\nwatch:\n{}",
                    log,
                    self.ok("cat /root/watch.log")
                );
                std::thread::sleep(Duration::from_secs(1));
            };
            served.push(first - edit);
        }
        self.ok("kill $(cat /root/poll-api.log.pid)");
        let log = self.ok("cat /root/poll-api.log; rm /root/poll-api.log");
        let failed = polled(&log)
            .into_iter()
            .filter(|(_, r)| !r.starts_with("api v"))
            .map(|(t, r)| format!("{t} {r}"))
            .collect();
        let watch = self.ok("cat /root/watch.log");
        // stopped (SIGTERM: a background job of a shell ignores SIGINT), and gone before the
        // next command
        self.ok("p=$(cat /root/watch.pid); kill $p; for i in $(seq 240); do kill -0 $p 2>/dev/null || exit 0; sleep 0.5; done; exit 1");
        (served, failed, watch)
    }

    /// `docker build` of api alone, for each version written: its seconds.
    fn builds(&self, versions: std::ops::RangeInclusive<u32>) -> Vec<f64> {
        versions
            .map(|v| {
                self.ok(&format!(
                    "cd /root/myblog/api && echo 'api v{v}' > index.html && a=$(date +%s.%N) && docker build -q -t vm-bench/api:{v} . >/dev/null && b=$(date +%s.%N) && awk \"BEGIN {{print $b - $a}}\""
                ))
                .trim()
                .parse::<f64>()
                .unwrap_or(f64::NAN)
            })
            .collect()
    }

    fn devenv_ok(&self, args: &str) -> String {
        let o = self.devenv(args);
        assert!(
            o.status.success(),
            "devenv {args} in the VM: exit {:?}\n{}\n{}",
            o.status.code(),
            stdout(&o),
            stderr(&o)
        );
        format!("{}{}", stdout(&o), stderr(&o))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

/// The project: the example's shape — nginx terminating TLS in front of the app (three replicas
/// behind its VIP) — and `api`, built from ./api, published on 8081, rebuilt by `watch`; both
/// roll `start-first`.
fn project(dir: &Path) {
    let w = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "devenv.yaml",
        &format!(
            "project: myblog\nstack: templates/stack.yml.j2\nconfigs:\n  nginx.conf: templates/nginx.conf.j2\nvars:\n  images: {{nginx: \"{}\", app: \"{}\"}}\nprobes:\n  - url: \"https://{{{{ domain }}}}/healthz\"\n  - url: \"wss://{{{{ domain }}}}/ws\"\n",
            nginx_image(),
            app_image()
        ),
    );
    w(
        "profiles/local.yaml",
        "domain: myblog.test\nhosts: [myblog.test]\ntls: local-ca\ndocker: {swarm: true}\nreplicas: {app: 3}\n",
    );
    w(
        "templates/nginx.conf.j2",
        include_str!("data/e2e/nginx.conf.j2"),
    );
    w(
        "templates/stack.yml.j2",
        r#"version: "3.8"
services:
  proxy:
    image: {{ images.nginx }}
    init: true
    ports: ["80:80", "443:443"]
    configs:
      - source: nginx.conf
        target: /etc/nginx/nginx.conf
    secrets:
      - source: tls_cert
        target: tls.crt
      - source: tls_key
        target: tls.key
  app:
    image: {{ images.app }}
    init: true
    deploy:
      replicas: {{ replicas.app }}
      update_config: {order: start-first}
  api:
    image: {{ image("api") }}
    build: ./api
    init: true
    command: ["httpd", "-f", "-p", "8081", "-h", "/www"]
    ports: ["8081:8081"]
    deploy:
      update_config: {order: start-first}
    develop:
      watch:
        - path: ./api
          action: rebuild
"#,
    );
    w(
        "api/Dockerfile",
        &format!(
            "FROM {}\nCOPY index.html /www/index.html\n",
            busybox_image()
        ),
    );
    w("api/index.html", "api v1\n");
}

/// A loop in the VM asking `url` every 0.2 s, each answer (or FAIL and curl's error) on a line
/// with its time.
/// Its pid is in LOG.pid.
const POLL: &str = r#"nohup sh -c 'while :; do t=$(date +%s.%N); r=$(curl -sS --max-time 10 "$0" 2>&1) || r="FAIL $r"; echo "$t" $r; sleep 0.2; done' URL >LOG 2>&1 & echo $! >LOG.pid"#;

/// The poll log's lines as (time, answer).
fn polled(log: &str) -> Vec<(f64, String)> {
    log.lines()
        .filter_map(|l| {
            let (t, r) = l.split_once(' ')?;
            Some((t.parse().ok()?, r.to_string()))
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[test]
fn the_ipvs_path_on_a_stock_kernel_in_a_vm() {
    if !require(
        "qemu-system-x86_64, qemu-img, ssh/scp, this machine's docker engine (for the offline images) and the VM image (mmdebstrap, or DEVENV_VM_IMAGE)",
        have("qemu-system-x86_64")
            && have("qemu-img")
            && have("ssh")
            && have("scp")
            && docker_ready()
            && (std::env::var_os("DEVENV_VM_IMAGE").is_some() || have("mmdebstrap")),
    ) {
        return;
    }
    let t0 = Instant::now();
    let image = image().expect("the VM image");
    // the offline images, built on this machine before the VM takes the cores
    let images = [nginx_image(), app_image(), busybox_image()];
    let vm = Vm::boot(&image);
    vm.wait_ready();
    eprintln!(
        "vm: booted ({}), sshd and dockerd answer after {:.0} s",
        vm.accel,
        t0.elapsed().as_secs_f64()
    );
    for i in images {
        vm.load(i);
    }
    let local = tempfile::tempdir().unwrap();
    project(local.path());
    vm.put(local.path(), "/root/myblog");
    vm.put(&devenv_bin(), "/root/devenv");
    let kernel = vm.ok("uname -r");
    assert!(
        vm.ok("cat /proc/modules")
            .lines()
            .all(|l| !l.starts_with("ip_vs ")),
        "ip_vs is loaded at boot: the VM is not the stock shape"
    );

    // before the first deploy: loadable, judged as available
    let o = vm.devenv("doctor local");
    let doctor = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        doctor.contains("ip_vs is a module of this kernel, not loaded yet"),
        "{doctor}"
    );

    // the first up: ingress ports and VIPs; the name mapped to 127.0.0.1 only, said once
    let t = Instant::now();
    let up = vm.devenv_ok("up local");
    eprintln!(
        "vm: first up (kernel {}) in {:.0} s",
        kernel.trim(),
        t.elapsed().as_secs_f64()
    );
    assert!(up.contains("not ::1"), "{up}");
    assert!(
        vm.ok("cat /proc/modules")
            .lines()
            .any(|l| l.starts_with("ip_vs ")),
        "dockerd did not load ip_vs"
    );
    let inspect = |service: &str, format: &str| {
        let o = vm
            .docker()
            .args(["service", "inspect", service, "--format", format])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_string()
    };
    assert_eq!(inspect("myblog_app", "{{.Spec.EndpointSpec.Mode}}"), "vip");
    assert_eq!(
        inspect("myblog_proxy", "{{.Spec.EndpointSpec.Mode}}"),
        "vip"
    );
    let ports = inspect(
        "myblog_proxy",
        "{{range .Endpoint.Ports}}{{.PublishedPort}}/{{.PublishMode}} {{end}}",
    );
    assert_eq!(ports, "80/ingress 443/ingress", "{ports}");
    let hosts = vm.ok("cat /etc/hosts");
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with("127.0.0.1") && l.contains("myblog.test")),
        "{hosts}"
    );
    assert!(
        !hosts
            .lines()
            .any(|l| l.starts_with("::1") && l.contains("myblog.test")),
        "::1 mapped where ingress does not answer:\n{hosts}"
    );

    // the CA trusted the way a user does it; then by name, over HTTPS, through the VIP
    vm.devenv_ok("certs trust --no-elevate");
    let who = vm.ok(
        "for i in $(seq 1 30); do curl -sS --fail --max-time 10 https://myblog.test/whoami || echo FAIL; done",
    );
    let mut answered: Vec<&str> = who.lines().collect();
    assert!(!answered.contains(&"FAIL"), "{who}");
    answered.sort();
    answered.dedup();
    assert_eq!(answered.len(), 3, "three replicas, answered by: {who}");
    // a client that tries IPv6 first (curl asks for both): the name gives it 127.0.0.1 only
    let ahosts = vm.ok("getent ahosts myblog.test");
    assert!(!ahosts.contains("::1"), "{ahosts}");
    vm.ok("curl -sS --fail --max-time 10 https://myblog.test/healthz");
    vm.ok("curl -sS --fail --max-time 10 -o /dev/null http://127.0.0.1:8081/");

    // status: the https URL answered, not "not HTTP"
    let o = vm.devenv("status local");
    let status = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{status}");
    assert!(status.contains("https://myblog.test/"), "{status}");
    assert!(!status.contains("not HTTP"), "{status}");

    // up right after up: the ingress ports are the stack's own
    let again = vm.devenv_ok("up local");
    assert!(!again.contains("in use by another program"), "{again}");
    let o = vm.devenv("doctor local");
    let doctor = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!doctor.contains("in use by another program"), "{doctor}");
    assert!(doctor.contains("the ip_vs module is loaded"), "{doctor}");

    // update start-first: every request during the roll answered
    let poll = POLL
        .replace("URL", "https://myblog.test/healthz")
        .replace("LOG", "/root/poll-app.log");
    vm.ok(&poll);
    let before: Vec<String> = vm
        .ok("docker ps -q --filter label=com.docker.swarm.service.name=myblog_app")
        .lines()
        .map(String::from)
        .collect();
    vm.devenv_ok("update app");
    std::thread::sleep(Duration::from_secs(2));
    vm.ok("kill $(cat /root/poll-app.log.pid)");
    let after = vm.ok("docker ps -q --filter label=com.docker.swarm.service.name=myblog_app");
    assert!(
        before.iter().all(|c| !after.contains(c.as_str())),
        "update left an old task: {before:?} → {after}"
    );
    let log = vm.ok("cat /root/poll-app.log");
    let answers = polled(&log);
    assert!(answers.len() > 10, "{log}");
    assert!(
        answers.iter().all(|(_, r)| r == "ok"),
        "a request failed while `update` rolled the app start-first:\n{log}"
    );

    // watch rebuild, start-first: the new build serves before the old task stops
    let (served, failed, watch) = vm.watch_rebuilds(2..=4);
    assert!(
        failed.is_empty(),
        "a request failed while watch rolled api start-first:\n{failed:?}"
    );
    assert!(watch.contains("api/index.html → api: rebuilt"), "{watch}");
    // the notes `up` said are not said again
    assert!(
        !watch.contains("not ::1") && watch.contains("as on the last run"),
        "{watch}"
    );
    let builds = vm.builds(5..=7);
    eprintln!(
        "vm-bench: accel {}, watch rebuild (start-first, ingress) edit → served: {:?} s, median {:.2} s; docker build alone: {:?} s, median {:.2} s",
        vm.accel,
        served,
        median(served.clone()),
        builds,
        median(builds.clone())
    );
    if std::env::var("DEVENV_VM_BENCH").is_ok_and(|v| v == "1") {
        // the same rebuilds with the no-IPVS shape (host-mode ports: stop-first), side by side
        vm.devenv_ok("down");
        vm.ok("cd /root/myblog && sed 's/swarm: true}/swarm: true, publish: host}/' profiles/local.yaml > profiles/hostmode.yaml");
        vm.devenv_ok("up hostmode");
        let (served, failed, _) = vm.watch_rebuilds(8..=10);
        eprintln!(
            "vm-bench: accel {}, watch rebuild (stop-first, host-mode ports) edit → served: {:?} s, median {:.2} s; {} of the polls during the rolls failed",
            vm.accel,
            served,
            median(served.clone()),
            failed.len()
        );
        vm.devenv_ok("down");
        vm.devenv_ok("up local");
    }

    // down, then up again at once: dockerd releases the ingress ports; the site comes back
    vm.devenv_ok("down");
    let t = Instant::now();
    vm.devenv_ok("up local");
    eprintln!("vm: up after down in {:.0} s", t.elapsed().as_secs_f64());
    vm.ok("curl -sS --fail --max-time 10 https://myblog.test/healthz");

    // Docker Desktop's shape: devenv here, the engine in the VM (another kernel), reached through
    // a docker context — not judged by this machine's kernel (which has no IPVS): ingress + VIPs
    let config = tempfile::tempdir().unwrap();
    let o = Command::new("docker")
        .env("DOCKER_CONFIG", config.path())
        .args([
            "context",
            "create",
            "devenv-vm",
            "--docker",
            &format!("host=tcp://127.0.0.1:{}", vm.docker_port),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(
        local.path().join("profiles/desktop.yaml"),
        "domain: myblog.test\nhosts: [myblog.test]\ntls: local-ca\ndocker: {context: devenv-vm, swarm: true}\nreplicas: {app: 3}\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let here = |args: &[&str]| {
        Command::new(devenv_bin())
            .arg("-C")
            .arg(local.path())
            .args(args)
            .env("DOCKER_CONFIG", config.path())
            .env("DEVENV_DATA_DIR", data.path().join("data"))
            .env("DEVENV_CAROOT", data.path().join("ca"))
            .env("DEVENV_HOSTS_FILE", data.path().join("hosts"))
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .output()
            .unwrap()
    };
    let o = here(&["doctor", "desktop"]);
    let doctor = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        doctor.contains("the engine runs on another kernel"),
        "{doctor}"
    );
    let o = here(&["render", "desktop", "--stack-only"]);
    let stack = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stack.contains("- 443:443") && !stack.contains("mode: host") && !stack.contains("dnsrr"),
        "the stack for an engine on another kernel is not the routing mesh's:\n{stack}"
    );
    eprintln!(
        "vm: the whole test took {:.0} s",
        t0.elapsed().as_secs_f64()
    );
}

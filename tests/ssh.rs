//! The server as users reach it: over SSH. A private engine with a real swarm, Debian's sshd in
//! the engine's network namespace, a non-root `deploy` user in the docker group (in a private
//! /etc/passwd and /etc/group: the machine's own are never touched), key auth; the client's own
//! ~/.ssh in its mount namespace (never the machine's). devenv creates the context from
//! `docker.host`, deploys, reports status and removes the stack — over one SSH connection per
//! run (counted in sshd's log) — and an unknown host key fails at once with how to accept it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const PORT: u16 = 2222;
const UID: u32 = 15001;

fn ssh_ready() -> bool {
    can_use_mount_namespaces()
        && docker_ready()
        && engine_ready()
        && Path::new("/usr/sbin/sshd").exists()
        && have("ssh")
        && have("ssh-keygen")
        && have("ssh-keyscan")
}

/// sshd in the engine's network namespace with a private passwd/group that has `deploy`.
struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
}

impl Sshd {
    fn start(engine: &Engine, client_pub: &Path) -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let home = d.join("home-deploy");
        std::fs::create_dir_all(&home).unwrap();
        assert!(
            std::fs::read_to_string("/etc/group")
                .unwrap()
                .lines()
                .any(|l| l.starts_with("docker:")),
            "a docker group (docker.io creates it)"
        );
        let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        passwd.push_str(&format!(
            "deploy:x:{UID}:{UID}::{}:/bin/sh\n",
            home.display()
        ));
        let mut group = String::new();
        for l in std::fs::read_to_string("/etc/group").unwrap().lines() {
            if l.starts_with("docker:") {
                let sep = if l.ends_with(':') { "" } else { "," };
                group.push_str(&format!("{l}{sep}deploy\n"));
            } else {
                group.push_str(l);
                group.push('\n');
            }
        }
        group.push_str(&format!("deploy:x:{UID}:\n"));
        std::fs::write(d.join("passwd"), passwd).unwrap();
        std::fs::write(d.join("group"), group).unwrap();
        let shadow = format!(
            "{}deploy:*:20000:0:99999:7:::\n",
            std::fs::read_to_string("/etc/shadow").unwrap_or_default()
        );
        std::fs::write(d.join("shadow"), shadow).unwrap();
        std::fs::copy(client_pub, d.join("authorized_keys")).unwrap();
        ok(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join("host_key"))
            .output()
            .unwrap());
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {PORT}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin no\n\
                 LogLevel VERBOSE\nSetEnv DOCKER_HOST=unix://{sock}\n",
                d = d.display(),
                sock = engine.sock.display()
            ),
        )
        .unwrap();
        // the deploy user reaches the engine's socket through its (root-only) directory
        for p in [engine.dir.path(), d] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o711)).unwrap();
        }
        std::os::unix::fs::chown(&home, Some(UID), Some(UID)).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let script = format!(
            "set -e; for f in passwd group shadow; do mount --bind {d}/$f /etc/$f; done; exec /usr/sbin/sshd -D -e -f {d}/sshd_config 2>{d}/sshd.log",
            d = d.display()
        );
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", engine.netns))
            .args([
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Sshd { dir, child };
        let t = Instant::now();
        while !s.log().contains("Server listening") {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "sshd did not start: {}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Logins so far (one per SSH connection).
    fn logins(&self) -> usize {
        self.log().matches("Accepted publickey for deploy").count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(o: std::process::Output) {
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn the_server_over_ssh_one_connection_per_run() {
    if !require(
        "root, mount namespaces, docker, dockerd, nsenter, busybox-static, openssh-server and openssh-client",
        ssh_ready(),
    ) {
        return;
    }
    let engine = Engine::start(&[busybox_image()]);
    // the client's own ~/.ssh, bind-mounted over the machine's for every devenv run
    let client = tempfile::tempdir().unwrap();
    let dot_ssh: PathBuf = client.path().join("dot-ssh");
    std::fs::create_dir_all(&dot_ssh).unwrap();
    ok(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(dot_ssh.join("id_ed25519"))
        .output()
        .unwrap());
    let sshd = Sshd::start(&engine, &dot_ssh.join("id_ed25519.pub"));
    // ssh takes ~ from passwd, not $HOME: a private passwd gives this user the client's home
    let uid = stdout(&Command::new("id").arg("-u").output().unwrap())
        .trim()
        .to_string();
    let passwd: String = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .map(|l| {
            let mut f: Vec<String> = l.split(':').map(String::from).collect();
            if f.get(2) == Some(&uid) && f.len() > 5 {
                f[5] = client.path().display().to_string();
            }
            f.join(":") + "\n"
        })
        .collect();
    std::fs::write(client.path().join("passwd"), passwd).unwrap();
    std::fs::rename(&dot_ssh, client.path().join(".ssh")).unwrap();
    let dot_ssh = client.path().join(".ssh");
    let sb = Sandbox::new("127.0.0.1\tlocalhost\n")
        .with_engine(&engine)
        .binding(&client.path().join("passwd"), Path::new("/etc/passwd"));

    let p = tempfile::tempdir().unwrap();
    let dir = p.path();
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("devenv.yaml"),
        "project: sshapp\nstack: stack.yml\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("stack.yml"),
        format!(
            "services:\n  web:\n    image: {}\n    command: [httpd, -f, -p, '8080', -h, /www]\n    ports: [{{target: 8080, published: {port}, mode: host}}]\n    deploy:\n      endpoint_mode: dnsrr\n",
            busybox_image()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("profiles/local.yaml"), "domain: sshapp.test\n").unwrap();
    std::fs::write(
        dir.join("profiles/server.yaml"),
        format!(
            "domain: sshapp.com\ndocker: {{context: sshapp-prod, host: 'ssh://deploy@127.0.0.1:{PORT}'}}\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str], extra: &[(&str, &str)]| -> std::process::Output {
        let mut full = vec!["-C", dir.to_str().unwrap()];
        full.extend_from_slice(args);
        let mut c = sb.command(&devenv_bin(), &full);
        c.env("DEVENV_IPVS", "0");
        for (k, v) in extra {
            c.env(k, v);
        }
        let t = Instant::now();
        let o = c.output().unwrap();
        eprintln!(
            "devenv {}: {:.2}s",
            args.join(" "),
            t.elapsed().as_secs_f64()
        );
        o
    };

    // an unknown host key: refused at once (no prompt hangs), with how to accept it
    let o = run(&["up", "server", "--yes"], &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "connect once with `ssh -p {PORT} deploy@127.0.0.1` and accept it"
        )),
        "{err}"
    );
    assert_eq!(
        sshd.logins(),
        0,
        "no login happened with an unknown host key"
    );

    // the user accepts the key (as they would after checking it)
    let keys = engine
        .inside(
            Path::new("ssh-keyscan"),
            &["-p", &PORT.to_string(), "127.0.0.1"],
        )
        .output()
        .unwrap();
    std::fs::write(dot_ssh.join("known_hosts"), &keys.stdout).unwrap();

    // first up: creates the context from docker.host, deploys, over one connection
    let before = sshd.logins();
    let o = run(&["up", "server", "--yes"], &[]);
    ok(o);
    assert!(
        sshd.logins() - before <= 2,
        "up made {} SSH connections:\n{}",
        sshd.logins() - before,
        sshd.log()
    );
    let ls = engine.docker(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
    assert!(stdout(&ls).contains("sshapp_web 1/1"), "{}", stdout(&ls));

    // a no-op up and status: one connection each; without sharing, one per docker call
    let before = sshd.logins();
    let o = run(&["up", "server", "--yes"], &[]);
    let out = stderr(&o);
    ok(o);
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(sshd.logins() - before, 1, "{}", sshd.log());
    let before = sshd.logins();
    let o = run(&["status", "--profile", "server"], &[]);
    assert!(stdout(&o).contains("web"), "{}", stdout(&o));
    ok(o);
    assert_eq!(sshd.logins() - before, 1);
    // two devenv runs at once: each its own shared connection (its own control socket)
    let before = sshd.logins();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run(&["status", "--profile", "server"], &[]));
        let b = s.spawn(|| run(&["status", "--profile", "server"], &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    for o in [a, b] {
        assert!(stdout(&o).contains("web"), "{}", stdout(&o));
        ok(o);
    }
    assert_eq!(sshd.logins() - before, 2, "{}", sshd.log());
    let before = sshd.logins();
    ok(run(
        &["up", "server", "--yes"],
        &[("DEVENV_SSH_SHARE", "0")],
    ));
    let plain = sshd.logins() - before;
    assert!(plain >= 5, "plain docker over SSH: {plain} connections");

    // the master is gone when devenv is: no ssh left holding a connection
    std::thread::sleep(Duration::from_millis(300));
    let left = Command::new("pgrep")
        .args(["-f", "ControlPath=.*devenv-ssh-"])
        .output()
        .unwrap();
    assert!(stdout(&left).trim().is_empty(), "{}", stdout(&left));

    // down over SSH
    let o = run(&["down", "server", "--yes"], &[]);
    ok(o);
    let ls = engine.docker(&["service", "ls", "-q"]);
    assert!(stdout(&ls).trim().is_empty(), "{}", stdout(&ls));
}

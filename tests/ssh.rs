//! The server as users reach it: over SSH. A private engine with a real swarm, Debian's sshd in
//! the engine's network namespace, a non-root `deploy` user in the docker group (in a private
//! /etc/passwd and /etc/group: the machine's own are never touched), key auth; the client's own
//! ~/.ssh in its mount namespace (never the machine's). devenv creates the context from
//! `docker.host`, deploys, reports status and removes the stack — over one SSH connection per
//! run (counted in sshd's log) — and an unknown host key fails at once with how to accept it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const PORT: u16 = 2222;

fn ssh_ready() -> bool {
    can_use_mount_namespaces()
        && docker_ready()
        && engine_ready()
        && Path::new("/usr/sbin/sshd").exists()
        && have("ssh")
        && have("ssh-keygen")
        && have("ssh-keyscan")
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
    let client = SshClient::new();
    let sshd = Sshd::start(
        &engine.netns,
        "127.0.0.1",
        PORT,
        &engine.sock,
        &[engine.dir.path()],
        &client.public_key(),
    );
    let sb = Sandbox::new("127.0.0.1\tlocalhost\n")
        .with_engine(&engine)
        .binding(&client.passwd, Path::new("/etc/passwd"));

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

    // the user accepts the key (as they would after checking it); two more servers next door:
    // one where deploy is not in the docker group, one without docker
    let nogroup = Sshd::start_with(
        &engine.netns,
        "127.0.0.1",
        PORT + 1,
        &engine.sock,
        &[engine.dir.path()],
        &client.public_key(),
        false,
        None,
    );
    let nodocker = Sshd::start_with(
        &engine.netns,
        "127.0.0.1",
        PORT + 2,
        &engine.sock,
        &[engine.dir.path()],
        &client.public_key(),
        true,
        Some("/usr/local/nothing:/nowhere"),
    );
    let mut keys = Vec::new();
    for port in [PORT, PORT + 1, PORT + 2] {
        let o = engine
            .inside(
                Path::new("ssh-keyscan"),
                &["-p", &port.to_string(), "127.0.0.1"],
            )
            .output()
            .unwrap();
        keys.extend(o.stdout);
    }
    client.accept(&keys);

    // each failure a user meets is named with its fix, at once; a host that drops the packets
    // after a bounded wait (ConnectTimeout=10), once per run
    ok(Command::new("ip")
        .args([
            "netns",
            "exec",
            &engine.netns,
            "iptables",
            "-A",
            "INPUT",
            "-p",
            "tcp",
        ])
        .args(["--dport", &(PORT + 8).to_string(), "-j", "DROP"])
        .output()
        .unwrap());
    for (name, port) in [
        ("closed", PORT + 9),
        ("dropped", PORT + 8),
        ("nogroup", PORT + 1),
        ("nodocker", PORT + 2),
    ] {
        std::fs::write(
            dir.join(format!("profiles/{name}.yaml")),
            format!(
                "domain: sshapp.com\ndocker: {{context: sshapp-{name}, host: 'ssh://deploy@127.0.0.1:{port}'}}\n"
            ),
        )
        .unwrap();
    }
    let fails = |profile: &str, want: &str| {
        let t = Instant::now();
        let o = run(&["up", profile, "--yes"], &[]);
        assert!(!o.status.success(), "{profile}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{profile}: no {want:?} in\n{}",
            stderr(&o)
        );
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "{profile} took {:?}",
            t.elapsed()
        );
    };
    fails(
        "closed",
        &format!(
            "nothing accepts SSH connections on 127.0.0.1 port {}",
            PORT + 9
        ),
    );
    fails(
        "dropped",
        &format!(
            "127.0.0.1 port {} does not answer: check the address in docker.host",
            PORT + 8
        ),
    );
    fails(
        "nogroup",
        "deploy@127.0.0.1 may not use docker on 127.0.0.1: add the user to the docker group there (`sudo usermod -aG docker deploy`",
    );
    fails(
        "nodocker",
        "docker is not installed on 127.0.0.1 (or not on the PATH of deploy@127.0.0.1's non-interactive shell)",
    );
    assert!(nogroup.logins() >= 1 && nodocker.logins() >= 1);
    // a key the server does not know
    let stranger = SshClient::new();
    stranger.accept(&keys);
    let o = Sandbox::new("127.0.0.1\tlocalhost\n")
        .with_engine(&engine)
        .binding(&stranger.passwd, Path::new("/etc/passwd"))
        .command(
            &devenv_bin(),
            &["-C", dir.to_str().unwrap(), "up", "server", "--yes"],
        )
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(
            "127.0.0.1 refused the login of deploy: install your public key there (`ssh-copy-id deploy@127.0.0.1`)"
        ),
        "{}",
        stderr(&o)
    );
    drop((nogroup, nodocker));

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
    // the calls reach the engine through its socket forwarded over that connection (the
    // remote DOCKER_HOST's socket), not a remote `docker system dial-stdio` each
    let o = run(&["-v", "status", "--profile", "server"], &[]);
    assert!(
        stderr(&o).contains(&format!(
            "the engine's socket {} is forwarded to",
            engine.sock.display()
        )),
        "{}",
        stderr(&o)
    );
    ok(o);
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

    // Ctrl-C in the middle of a run (the terminal signals the whole process group): the shared
    // connection, whose master has a session of its own, goes with devenv
    let masters = || {
        let o = Command::new("pgrep")
            .args(["-f", "devenv-ssh-.*/cm \\[mux\\]"])
            .output()
            .unwrap();
        stdout(&o).trim().to_string()
    };
    assert_eq!(masters(), "", "no master before");
    let mut c = sb.command(
        &devenv_bin(),
        &[
            "-C",
            dir.to_str().unwrap(),
            "logs",
            "web",
            "-f",
            "--profile",
            "server",
        ],
    );
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    let mut child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while masters().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no shared connection came up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let group = format!("-{}", child.id());
    ok(Command::new("kill")
        .args(["-INT", "--", &group])
        .output()
        .unwrap());
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    let t = Instant::now();
    while !masters().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "the master outlived the interrupted devenv: {}",
            masters()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // DEVENV_SSH_PERSIST=SECONDS: the connection (and its forwarded socket) stays for the runs
    // that follow, which then log in no more
    let keep = [("DEVENV_SSH_PERSIST", "20")];
    let before = sshd.logins();
    ok(run(&["status", "--profile", "server"], &keep));
    assert_eq!(sshd.logins() - before, 1, "{}", sshd.log());
    let before = sshd.logins();
    let o = run(&["up", "server", "--yes"], &keep);
    assert!(stderr(&o).contains("nothing changed"), "{}", stderr(&o));
    ok(o);
    ok(run(&["status", "--profile", "server"], &keep));
    assert_eq!(
        sshd.logins() - before,
        0,
        "the kept connection was not reused"
    );
    let kept: Vec<PathBuf> = std::fs::read_dir(sb.data.join("ssh"))
        .unwrap()
        .map(|e| e.unwrap().path().join("cm"))
        .collect();
    assert_eq!(kept.len(), 1, "one kept connection per endpoint: {kept:?}");
    ok(Command::new("ssh")
        .arg("-o")
        .arg(format!("ControlPath={}", kept[0].display()))
        .args(["-O", "exit", "devenv-kept"])
        .output()
        .unwrap());

    // down over SSH
    let o = run(&["down", "server", "--yes"], &[]);
    ok(o);
    let ls = engine.docker(&["service", "ls", "-q"]);
    assert!(stdout(&ls).trim().is_empty(), "{}", stdout(&ls));
}

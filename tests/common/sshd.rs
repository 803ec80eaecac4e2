//! SSH for the server tests: Debian's sshd with a `deploy` user, and a client with its own
//! ~/.ssh (never the machine's).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{stderr, stdout};

/// The uid of the test's `deploy` user (in the private passwd only).
pub const SSH_UID: u32 = 15001;

fn must(o: std::process::Output) {
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

/// Debian's sshd in a network namespace, with a private passwd/group/shadow (bind-mounted in its
/// own mount namespace: the machine's are never touched) that has a non-root `deploy` user in
/// the docker group; its sessions get `DOCKER_HOST` of a test engine.
pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
}

impl Sshd {
    /// In `netns`, on `addr:port`, for the engine at `sock` (`sock_dirs`: the directories on
    /// the way to it, made traversable for `deploy`); `client_pub` may log in.
    pub fn start(
        netns: &str,
        addr: &str,
        port: u16,
        sock: &Path,
        sock_dirs: &[&Path],
        client_pub: &Path,
    ) -> Sshd {
        Sshd::start_with(netns, addr, port, sock, sock_dirs, client_pub, true, None)
    }

    /// Like [`Sshd::start`]; `docker_group`: `deploy` is in the docker group; `path`: the PATH of
    /// its sessions (one without docker: a server without docker installed).
    #[allow(clippy::too_many_arguments)]
    pub fn start_with(
        netns: &str,
        addr: &str,
        port: u16,
        sock: &Path,
        sock_dirs: &[&Path],
        client_pub: &Path,
        docker_group: bool,
        path: Option<&str>,
    ) -> Sshd {
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
            "deploy:x:{SSH_UID}:{SSH_UID}::{}:/bin/sh\n",
            home.display()
        ));
        let mut group = String::new();
        for l in std::fs::read_to_string("/etc/group").unwrap().lines() {
            if l.starts_with("docker:") && docker_group {
                let sep = if l.ends_with(':') { "" } else { "," };
                group.push_str(&format!("{l}{sep}deploy\n"));
            } else {
                group.push_str(l);
                group.push('\n');
            }
        }
        group.push_str(&format!("deploy:x:{SSH_UID}:\n"));
        std::fs::write(d.join("passwd"), passwd).unwrap();
        std::fs::write(d.join("group"), group).unwrap();
        let shadow = format!(
            "{}deploy:*:20000:0:99999:7:::\n",
            std::fs::read_to_string("/etc/shadow").unwrap_or_default()
        );
        std::fs::write(d.join("shadow"), shadow).unwrap();
        std::fs::copy(client_pub, d.join("authorized_keys")).unwrap();
        must(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join("host_key"))
                .output()
                .unwrap(),
        );
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress {addr}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin no\n\
                 LogLevel VERBOSE\nSetEnv DOCKER_HOST=unix://{sock}{path}\n",
                d = d.display(),
                sock = sock.display(),
                path = path.map(|p| format!(" PATH={p}")).unwrap_or_default(),
            ),
        )
        .unwrap();
        // the deploy user reaches the engine's socket through its (root-only) directory
        for p in sock_dirs.iter().copied().chain([d]) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o711)).unwrap();
        }
        std::os::unix::fs::chown(&home, Some(SSH_UID), Some(SSH_UID)).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let script = format!(
            "set -e; for f in passwd group shadow; do mount --bind {d}/$f /etc/$f; done; exec /usr/sbin/sshd -D -e -f {d}/sshd_config 2>{d}/sshd.log",
            d = d.display()
        );
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Logins so far (one per SSH connection).
    pub fn logins(&self) -> usize {
        self.log().matches("Accepted publickey for deploy").count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SSH client's own home: `~/.ssh` with a fresh key, and a passwd that gives this user that
/// home (ssh reads ~ from passwd, not `$HOME`) — bind it over /etc/passwd for the client's
/// commands.
pub struct SshClient {
    pub dir: tempfile::TempDir,
    pub passwd: PathBuf,
}

impl SshClient {
    pub fn new() -> SshClient {
        let dir = tempfile::tempdir().unwrap();
        let dot_ssh = dir.path().join(".ssh");
        std::fs::create_dir_all(&dot_ssh).unwrap();
        must(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dot_ssh.join("id_ed25519"))
                .output()
                .unwrap(),
        );
        let uid = stdout(&Command::new("id").arg("-u").output().unwrap())
            .trim()
            .to_string();
        let passwd: String = std::fs::read_to_string("/etc/passwd")
            .unwrap()
            .lines()
            .map(|l| {
                let mut f: Vec<String> = l.split(':').map(String::from).collect();
                if f.get(2) == Some(&uid) && f.len() > 5 {
                    f[5] = dir.path().display().to_string();
                }
                f.join(":") + "\n"
            })
            .collect();
        let p = dir.path().join("passwd");
        std::fs::write(&p, passwd).unwrap();
        SshClient { dir, passwd: p }
    }

    pub fn dot_ssh(&self) -> PathBuf {
        self.dir.path().join(".ssh")
    }

    pub fn public_key(&self) -> PathBuf {
        self.dot_ssh().join("id_ed25519.pub")
    }

    /// Accepts host keys as `ssh-keyscan` printed them (what a user does after checking them).
    pub fn accept(&self, keyscan: &[u8]) {
        assert!(!keyscan.is_empty(), "ssh-keyscan found no key");
        std::fs::write(self.dot_ssh().join("known_hosts"), keyscan).unwrap();
    }
}

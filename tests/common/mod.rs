//! Helpers shared by the integration tests.
#![allow(dead_code)]

mod engine;
mod sshd;
#[allow(unused_imports)]
pub use engine::{CONTEXT, Engine, engine_ready};
#[allow(unused_imports)]
pub use sshd::{SSH_UID, SshClient, Sshd};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the bundled example project).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory that lives as long as the test process.
pub fn scratch() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// The devenv binary under test, kept away from this machine's own state: no colour, and unless
/// the test sets them, a fresh hosts file, data directory and CA root of its own.
pub fn devenv() -> assert_cmd::Command {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut c = assert_cmd::Command::cargo_bin("devenv").unwrap();
    c.env("NO_COLOR", "1")
        .env_remove("DEVENV_PROFILE")
        .env("DEVENV_IPVS", "0")
        .env("DEVENV_HOSTS_FILE", scratch().join(format!("hosts-{n}")))
        .env("DEVENV_DATA_DIR", scratch().join("data"))
        .env("DEVENV_CAROOT", scratch().join("caroot"));
    c
}

/// Copies the bundled example (devenv.yaml, profiles, templates, app sources) into a temp dir.
pub fn example() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("devenv.yaml"), d.path().join("devenv.yaml")).unwrap();
    for dir in ["profiles", "templates", "web", "api"] {
        copy_dir(&repo().join(dir), &d.path().join(dir));
    }
    d
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Every file under `dir` with its content: to prove a failed command wrote nothing.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    fn walk(base: &Path, d: &Path, m: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_path_buf();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                m.insert(rel.join(""), Vec::new());
                walk(base, &p, m);
            } else if meta.is_file() {
                m.insert(
                    rel,
                    std::fs::read(&p).unwrap_or_else(|_| b"<unreadable>".to_vec()),
                );
            } else if meta.file_type().is_symlink() {
                // a link as where it points (never followed: it may lead to a FIFO or a device)
                let to = std::fs::read_link(&p).unwrap_or_default();
                m.insert(rel, format!("<link to {}>", to.display()).into_bytes());
            } else {
                // a FIFO, socket or device: never opened
                m.insert(rel, b"<special>".to_vec());
            }
        }
    }
    walk(dir, dir, &mut m);
    m
}

/// Asserts two trees are equal, naming the paths that differ.
pub fn assert_same_tree(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
    what: &str,
) {
    let changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| k.display().to_string())
        .collect();
    assert!(changed.is_empty(), "{what} changed files: {changed:?}");
}

/// 1-based line and column of the first `needle` in `src`.
pub fn pos(src: &str, needle: &str) -> String {
    let i = src
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in source"));
    let line = src[..i].matches('\n').count() + 1;
    let col = i - src[..i].rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("{line}:{col}")
}

/// Whether end-to-end prerequisites are present. When they are not: fails the test under
/// `DEVENV_REQUIRE_E2E=1` (CI), otherwise prints why it is skipped and returns false.
pub fn require(what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    if std::env::var("DEVENV_REQUIRE_E2E").is_ok_and(|v| v == "1") {
        panic!("DEVENV_REQUIRE_E2E=1 but {what} is not available: this end-to-end test cannot run");
    }
    // written to stderr itself, not through the test harness's capture: a skipped test says so
    // in `cargo test`'s output (the harness still prints `ok` for it), and the list of skips
    // stays in target/tmp/skipped-tests.txt
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let line = format!(
        "SKIPPED {}::{test}: {what} is not available (DEVENV_REQUIRE_E2E=1 makes this a failure)",
        env!("CARGO_CRATE_NAME")
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
    let list = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(list)
    {
        let _ = writeln!(f, "{line}");
    }
    false
}

pub fn have(program: &str) -> bool {
    which(program).is_some()
}

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `docker info` answers.
pub fn docker_daemon() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Serialises tests that use a shared machine resource (the docker daemon, ports 80/443, the
/// swarm), across test binaries: an flock on a file in the temp dir.
pub struct MachineLock(std::fs::File);

pub fn machine_lock(name: &str) -> MachineLock {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join(format!("devenv-test-{name}.lock")))
        .unwrap();
    f.lock().unwrap();
    MachineLock(f)
}

/// A project with one profile `local` mapping `hosts` (for hosts and certs tests).
pub fn mini_project(name: &str, hosts: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("profiles")).unwrap();
    std::fs::create_dir_all(d.path().join("templates")).unwrap();
    std::fs::write(
        d.path().join("devenv.yaml"),
        format!("project: {name}\nstack: templates/stack.yml.j2\n"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("templates/stack.yml.j2"),
        "version: \"3.8\"\nservices:\n  web:\n    image: {{ image('web') }}\n",
    )
    .unwrap();
    let list = hosts
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let domain = hosts.first().copied().unwrap_or("example.test");
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        format!("domain: {domain}\nhosts: [{list}]\ntls: local-ca\ndocker: {{swarm: true}}\n"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("profiles/server.yaml"),
        format!("domain: {name}.com\n"),
    )
    .unwrap();
    d
}

/// Root, `unshare` and `mount`: what the private-mount-namespace tests need.
pub fn can_use_mount_namespaces() -> bool {
    is_root()
        && have("unshare")
        && Command::new("unshare")
            .args(["-m", "--propagation", "private", "true"])
            .status()
            .is_ok_and(|s| s.success())
}

/// `program args` in a private mount namespace where each `(file_or_dir, target)` is
/// bind-mounted over the target: the machine's own files are never touched.
pub fn in_namespace(binds: &[(&Path, &Path)], program: &Path, args: &[&str]) -> Command {
    in_namespaces(None, binds, program, args)
}

/// [`in_namespace`], also inside the network namespace `netns` when given (a test engine's).
pub fn in_namespaces(
    netns: Option<&str>,
    binds: &[(&Path, &Path)],
    program: &Path,
    args: &[&str],
) -> Command {
    let mut script = String::from("set -e\n");
    let mut c = match netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net=/run/netns/{ns}")).arg("unshare");
            c
        }
        None => Command::new("unshare"),
    };
    for (i, (src, dst)) in binds.iter().enumerate() {
        script.push_str(&format!(
            "mount --bind \"$DEVENV_BIND_SRC_{i}\" \"$DEVENV_BIND_DST_{i}\"\n"
        ));
        c.env(format!("DEVENV_BIND_SRC_{i}"), src)
            .env(format!("DEVENV_BIND_DST_{i}"), dst);
    }
    script.push_str("exec \"$@\"\n");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(program)
        .args(args);
    c
}

pub fn devenv_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("devenv")
}

/// A private world for trust tests: its own /etc/hosts, system trust directories
/// (/usr/local/share/ca-certificates and /etc/ssl/certs, copied from the machine's), HOME, CA
/// root and data directory — bind-mounted in a private mount namespace for every command.
pub struct Sandbox {
    /// The network namespace (and docker config) of a test engine commands run in, if any.
    pub engine: Option<(String, PathBuf)>,
    /// The test engine's socket, bind-mounted over /var/run/docker.sock: docker's `default`
    /// context (what a fresh Docker install uses) then reaches the test's engine.
    pub docker_sock: Option<PathBuf>,
    /// More `(file_or_dir, target)` bind mounts for every command.
    pub binds: Vec<(PathBuf, PathBuf)>,
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub caroot: PathBuf,
    pub hosts: PathBuf,
    pub local_cas: PathBuf,
    pub etc_certs: PathBuf,
    pub data: PathBuf,
    /// Commands run as this user (uid, gid) once the mounts are made, not as root.
    pub user: Option<(u32, u32)>,
}

impl Sandbox {
    pub fn new(hosts: &str) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let s = Sandbox {
            engine: None,
            docker_sock: None,
            binds: Vec::new(),
            home: p.join("home"),
            caroot: p.join("caroot"),
            hosts: p.join("hosts"),
            local_cas: p.join("usr-local-share-ca-certificates"),
            etc_certs: p.join("etc-ssl-certs"),
            data: p.join("data"),
            user: None,
            dir,
        };
        std::fs::create_dir_all(&s.home).unwrap();
        std::fs::write(&s.hosts, hosts).unwrap();
        for (from, to) in [
            ("/usr/local/share/ca-certificates", &s.local_cas),
            ("/etc/ssl/certs", &s.etc_certs),
        ] {
            std::fs::create_dir_all(to).unwrap();
            let ok = Command::new("cp")
                .args(["-a", &format!("{from}/."), &to.to_string_lossy()])
                .status()
                .unwrap();
            assert!(ok.success(), "copy {from}");
        }
        s
    }

    /// Commands run inside `engine`'s network namespace, with its docker context.
    pub fn with_engine(mut self, engine: &Engine) -> Sandbox {
        self.engine = Some((engine.netns.clone(), engine.config.clone()));
        self
    }

    /// Like [`Sandbox::with_engine`], and the engine is docker's `default` context in here.
    pub fn with_default_engine(mut self, engine: &Engine) -> Sandbox {
        self.docker_sock = Some(engine.sock.clone());
        self.with_engine(engine)
    }

    /// Commands run as `nobody`, a user with no administrator rights: the sandbox's home, CA
    /// root, data directory and everything else in its directory become theirs — except the
    /// hosts file and the system trust directories, which stay root's (read-only to them) — and
    /// the engine's socket and docker config are opened to them.
    pub fn run_as_nobody(mut self, engine: &Engine) -> Sandbox {
        let (uid, gid) = (65534, 65534);
        let run = |args: &[&str]| {
            let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        };
        let dir = self.dir.path().to_str().unwrap().to_string();
        run(&["chown", "-R", &format!("{uid}:{gid}"), &dir]);
        for root_owned in [&self.hosts, &self.local_cas, &self.etc_certs] {
            run(&["chown", "-R", "0:0", root_owned.to_str().unwrap()]);
        }
        run(&["chmod", "0644", self.hosts.to_str().unwrap()]);
        run(&["chmod", "0711", engine.dir.path().to_str().unwrap()]);
        run(&["chmod", "0666", engine.sock.to_str().unwrap()]);
        run(&["chmod", "-R", "a+rX", engine.config.to_str().unwrap()]);
        self.user = Some((uid, gid));
        self
    }

    /// `src` is bind-mounted over `target` for every command too.
    pub fn binding(mut self, src: &Path, target: &Path) -> Sandbox {
        self.binds.push((src.to_path_buf(), target.to_path_buf()));
        self
    }

    /// `program args` inside the sandbox.
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut binds = vec![
            (self.hosts.as_path(), Path::new("/etc/hosts")),
            (
                self.local_cas.as_path(),
                Path::new("/usr/local/share/ca-certificates"),
            ),
            (self.etc_certs.as_path(), Path::new("/etc/ssl/certs")),
        ];
        if let Some(sock) = &self.docker_sock {
            binds.push((sock.as_path(), Path::new("/var/run/docker.sock")));
        }
        for (src, dst) in &self.binds {
            binds.push((src.as_path(), dst.as_path()));
        }
        let setpriv;
        let (program, args): (&Path, Vec<&str>) = match self.user {
            Some((uid, gid)) => {
                setpriv = (
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    program.to_str().unwrap().to_string(),
                );
                let mut a = vec![
                    setpriv.0.as_str(),
                    setpriv.1.as_str(),
                    "--clear-groups",
                    setpriv.2.as_str(),
                ];
                a.extend(args);
                (Path::new("setpriv"), a)
            }
            None => (program, args.to_vec()),
        };
        let mut c = in_namespaces(
            self.engine.as_ref().map(|(ns, _)| ns.as_str()),
            &binds,
            program,
            &args,
        );
        if let Some((_, config)) = &self.engine {
            c.env("DOCKER_CONFIG", config);
        }
        c.env("HOME", &self.home)
            .env("DEVENV_CAROOT", &self.caroot)
            .env("DEVENV_DATA_DIR", &self.data)
            .env("NO_COLOR", "1")
            .env_remove("DEVENV_HOSTS_FILE")
            .env_remove("SUDO_USER");
        c
    }

    pub fn devenv(&self, args: &[&str]) -> std::process::Output {
        self.command(&devenv_bin(), args).output().unwrap()
    }

    /// Loads `url` in headless Chromium (no certificate flags) with a fresh profile; returns the
    /// DOM (stdout) and the log (stderr).
    ///
    /// A load Chromium gave up on because an interface of the namespace changed under it
    /// (`ERR_NETWORK_CHANGED`: docker adding a task's veth while the page loads) is tried again:
    /// a race of the observation, not of what devenv deployed.
    pub fn chromium(&self, url: &str) -> (String, String) {
        for _ in 0..3 {
            let (dom, log) = self.chromium_once(url);
            if !log.contains("ERR_NETWORK_CHANGED") {
                return (dom, log);
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        self.chromium_once(url)
    }

    fn chromium_once(&self, url: &str) -> (String, String) {
        let profile = tempfile::tempdir().unwrap();
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(profile.path(), Some(uid), Some(gid)).unwrap();
        }
        let o = self
            .command(
                Path::new("timeout"),
                &[
                    "60",
                    "chromium",
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    &format!("--user-data-dir={}", profile.path().display()),
                    "--dump-dom",
                    url,
                ],
            )
            .output()
            .unwrap();
        (stdout(&o), stderr(&o))
    }
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `openssl s_server` serving a page over TLS with `cert`/`key` on `port` (IPv4 and IPv6);
/// killed on drop.
pub struct TlsServer(std::process::Child);

impl TlsServer {
    pub fn start(cert: &Path, key: &Path, port: u16) -> TlsServer {
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-cert"])
            .arg(cert)
            .arg("-key")
            .arg(key)
            .args(["-accept", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        TlsServer(child)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A busybox image built offline (`docker import` of a rootfs made from this machine's
/// busybox-static), serving /www with httpd. Built once per machine.
pub fn busybox_image() -> &'static str {
    const IMAGE: &str = "devenv-test/busybox:2";
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        if image_exists(IMAGE) {
            return;
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is installed");
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("rootfs");
        for dir in ["bin", "www", "tmp", "etc"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        for app in [
            "sh", "httpd", "echo", "cat", "sleep", "ls", "wget", "true", "false", "kill", "ps",
            "env", "nc", "date", "hostname", "rm", "mkdir",
        ] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(app)).unwrap();
        }
        std::fs::write(root.join("www/index.html"), "busybox default page\n").unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        )
        .unwrap();
        import_rootfs(
            &root,
            &[
                "CMD [\"/bin/httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/www\"]",
                "ENV PATH=/bin",
            ],
            IMAGE,
        );
    });
    IMAGE
}

/// `docker import` of the directory `root` as image `tag`, with Dockerfile `changes` (CMD, ENV).
fn import_rootfs(root: &Path, changes: &[&str], tag: &str) {
    let tar = root.with_extension("tar");
    assert!(
        Command::new("tar")
            .arg("-C")
            .arg(root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap()
            .success()
    );
    let mut c = Command::new("docker");
    c.arg("import");
    for change in changes {
        c.args(["-c", change]);
    }
    let o = c.arg(&tar).arg(tag).output().unwrap();
    assert!(o.status.success(), "docker import {tag}: {}", stderr(&o));
}

/// `docker save IMAGE` on the machine's engine piped into `load` (a docker command aimed at
/// another engine) with `load -q`.
pub fn copy_image(image: &str, mut load: Command) {
    let mut save = Command::new("docker")
        .args(["save", image])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let o = load
        .args(["load", "-q"])
        .stdin(save.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(save.wait().unwrap().success(), "docker save {image}");
    assert!(o.status.success(), "load {image}: {}", stderr(&o));
}

/// The machine's engine, which builds the offline test images (tests then run them on a private
/// [`Engine`]), and busybox-static for those images.
pub fn docker_ready() -> bool {
    have("docker")
        && docker_daemon()
        && (Path::new("/bin/busybox").exists() || Path::new("/usr/bin/busybox").exists())
}

/// The shared libraries `binary` loads (from `ldd`), to copy them into an image with it.
pub fn ldd(binary: &Path) -> Vec<PathBuf> {
    let o = Command::new("ldd").arg(binary).output().unwrap();
    let mut v = Vec::new();
    for line in stdout(&o).lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            v.push(PathBuf::from(p));
        }
    }
    v
}

/// Imports a container image from host binaries and their libraries (no registry needed).
/// `files`: (host file, path in the image); `dirs`: empty directories; `cmd`: the CMD (JSON).
pub fn import_image(
    tag: &str,
    files: &[(PathBuf, String)],
    dirs: &[&str],
    extra: &[(&str, &str)],
    cmd: &str,
) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("rootfs");
    let mut all: Vec<(PathBuf, String)> = files.to_vec();
    for (src, _) in files {
        for lib in ldd(src) {
            let dst = lib.to_string_lossy().into_owned();
            all.push((lib, dst));
        }
    }
    for (src, dst) in &all {
        let target = root.join(dst.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(src, &target).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    }
    // loaders look in both /lib and /lib64, usr-merged or not
    for dir in dirs
        .iter()
        .chain(["tmp", "etc", "proc", "sys", "dev"].iter())
    {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n",
    )
    .unwrap();
    for (path, content) in extra {
        let p = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    import_rootfs(&root, &[&format!("CMD {cmd}")], tag);
}

fn image_exists(tag: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", tag])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// nginx from this machine's Debian package, as an image.
pub fn nginx_image() -> &'static str {
    const TAG: &str = "devenv-test/nginx:2";
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        if image_exists(TAG) {
            return;
        }
        import_image(
            TAG,
            &[(PathBuf::from("/usr/sbin/nginx"), "/usr/sbin/nginx".into())],
            &[
                "etc/nginx/conf.d",
                "var/log/nginx",
                "var/lib/nginx/body",
                "var/lib/nginx/proxy",
                "var/lib/nginx/fastcgi",
                "var/lib/nginx/uwsgi",
                "var/lib/nginx/scgi",
                "run",
                "var/lock",
                "usr/share/nginx",
            ],
            // as the official image has it: the sites are conf.d/*.conf
            &[(
                "/etc/nginx/nginx.conf",
                "user www-data;\nworker_processes 1;\nerror_log /dev/stderr notice;\npid /run/nginx.pid;\nevents { worker_connections 1024; }\nhttp {\n    access_log /dev/stdout;\n    default_type application/octet-stream;\n    include /etc/nginx/conf.d/*.conf;\n}\n",
            )],
            r#"["/usr/sbin/nginx", "-g", "daemon off;"]"#,
        );
    });
    TAG
}

/// A client image: this machine's curl (with its libraries) and busybox, idling — a service to
/// ask the stack's sites from inside it. No CA file of its own: it trusts what devenv gives it.
pub fn curl_image() -> &'static str {
    const TAG: &str = "devenv-test/curl:1";
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        if image_exists(TAG) {
            return;
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is installed");
        import_image(
            TAG,
            &[
                (which("curl").expect("curl"), "/usr/bin/curl".into()),
                (PathBuf::from(busybox), "/bin/busybox".into()),
            ],
            &[],
            &[],
            r#"["/bin/busybox", "sleep", "2147483647"]"#,
        );
    });
    TAG
}

/// The test app (examples/testapp: a page that opens wss://HOST/ws, and the echo), as an image
/// tagged by the binary's hash.
pub fn app_image() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        // target/<profile>/deps/<test> → target/<profile>/examples/testapp (cargo test builds examples)
        let exe = std::env::current_exe().unwrap();
        let bin = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples/testapp");
        if !bin.exists() {
            // `cargo test --test NAME` builds no examples: build it as `cargo test` would
            let profile_dir = bin.parent().unwrap().parent().unwrap();
            let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            c.args(["build", "--example", "testapp", "--manifest-path"])
                .arg(repo().join("Cargo.toml"))
                .arg("--target-dir")
                .arg(profile_dir.parent().unwrap());
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                c.arg("--release");
            }
            let o = c.output().unwrap();
            assert!(
                o.status.success() && bin.exists(),
                "building the test app ({}): {}",
                bin.display(),
                stderr(&o)
            );
        }
        let tag = format!(
            "devenv-test/app:{}",
            devenv::hash::short(&std::fs::read(&bin).unwrap(), 12)
        );
        if !image_exists(&tag) {
            import_image(
                &tag,
                &[(bin, "/testapp".into())],
                &[],
                &[],
                r#"["/testapp", "8000"]"#,
            );
            // the images of earlier builds of the test app are of no further use (best effort:
            // one a running task still uses stays)
            let old = Command::new("docker")
                .args([
                    "image",
                    "ls",
                    "devenv-test/app",
                    "--format",
                    "{{.Repository}}:{{.Tag}}",
                ])
                .output()
                .unwrap();
            for t in stdout(&old).lines().filter(|t| *t != tag) {
                let _ = Command::new("docker").args(["rmi", t]).output();
            }
        }
        tag
    })
}

/// The e2e project: the example's shape (nginx terminating TLS in front of an app with a
/// WebSocket), with images built offline, deploying to the test engine's context [`CONTEXT`].
pub fn e2e_project(dir: &Path) {
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    std::fs::write(
        dir.join("devenv.yaml"),
        format!(
            "project: myblog\nstack: templates/stack.yml.j2\nconfigs:\n  nginx.conf: templates/nginx.conf.j2\nvars:\n  images: {{nginx: \"{}\", app: \"{}\"}}\nprobes:\n  - url: \"https://{{{{ domain }}}}/healthz\"\n  - url: \"wss://{{{{ domain }}}}/ws\"\n",
            nginx_image(),
            app_image()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("profiles/local.yaml"),
        format!("domain: myblog.test\nhosts: [myblog.test]\ntls: local-ca\ndocker: {{context: {CONTEXT}, swarm: true}}\nreplicas: {{app: 1}}\n"),
    )
    .unwrap();
    // the server profile pins its own swarm: the guard must keep it off this one
    std::fs::write(
        dir.join("profiles/server.yaml"),
        format!("domain: myblog.com\ntls: {{files: {{cert: certs/server.crt, key: certs/server.key}}}}\ndocker: {{context: {CONTEXT}, cluster_id: swarm-of-the-server}}\nreplicas: {{app: 3}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/nginx.conf.j2"),
        include_str!("../data/e2e/nginx.conf.j2"),
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/stack.yml.j2"),
        include_str!("../data/e2e/stack.yml.j2"),
    )
    .unwrap();
    // self-signed files for the server profile (never deployed here: the guard refuses first)
    let ok = std::process::Command::new("openssl")
        .args([
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
            "/CN=myblog.com",
        ])
        .arg("-keyout")
        .arg(dir.join("certs/server.key"))
        .arg("-out")
        .arg(dir.join("certs/server.crt"))
        .output()
        .unwrap();
    assert!(ok.status.success());
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the bundled example project).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The devenv binary under test, with a clean environment: no colour, a private HOME and
/// hosts file unless the test sets them.
pub fn devenv() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("devenv").unwrap();
    c.env("NO_COLOR", "1")
        .env_remove("DEVENV_PROFILE")
        .env("DEVENV_IPVS", "0");
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
            if p.is_dir() {
                m.insert(rel.join(""), Vec::new());
                walk(base, &p, m);
            } else {
                m.insert(
                    rel,
                    std::fs::read(&p).unwrap_or_else(|_| b"<unreadable>".to_vec()),
                );
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
    eprintln!("SKIPPED: {what} is not available (set DEVENV_REQUIRE_E2E=1 to make this a failure)");
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

//! Untrusted input, as an attacker writes it: a compose file, an override, a profile or a
//! `.devenv/` planted in a cloned project. Each class of defect with its repro and variants —
//! other keys, other object kinds, other entry points: nothing is written, removed or read
//! outside the project; a hostile name or path is an error with file:line:col (exit 2); nothing
//! hangs, nothing leaks, nothing panics.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// A plain compose project (no template), with a local profile that needs no docker for
/// `render` and `switch`.
fn project(compose: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir_all(p.join("profiles")).unwrap();
    std::fs::write(
        p.join("devenv.yaml"),
        "project: shop\nstack: docker-compose.yml\n",
    )
    .unwrap();
    std::fs::write(p.join("docker-compose.yml"), compose).unwrap();
    std::fs::write(p.join("payload"), "payload-marker\n").unwrap();
    std::fs::write(
        p.join("profiles/local.yaml"),
        "domain: shop.test\ndocker: {swarm: true}\n",
    )
    .unwrap();
    d
}

/// devenv's data directory for these tests: outside every project.
fn data_dir() -> &'static Path {
    static D: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    devenv()
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("DEVENV_DATA_DIR", data_dir())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// Exit 2, the file and a line:column, the needle; the project (but devenv's data) unchanged.
fn refused(dir: &Path, args: &[&str], file: &str, needle: &str) -> String {
    let before = tree(dir);
    let o = run(dir, args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(&format!("{file}:")) && err.contains(needle),
        "{args:?}: expected {file}:LINE and {needle:?} in:\n{err}"
    );
    let after = tree(dir);
    assert_same_tree(&before, &after, "a refused command");
    err
}

const BASE: &str = "services:\n  web:\n    image: busybox:1\n";

#[test]
fn a_name_never_becomes_a_path_outside_the_output() {
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let v = victim.display().to_string();
    for (section, key) in [
        ("configs", v.as_str()),
        ("configs", "../../../../x"),
        ("configs", ".."),
        ("secrets", "../../etc/cron.d/x"),
        ("networks", "a/b"),
        ("volumes", "../data"),
    ] {
        let entry = if section == "configs" || section == "secrets" {
            "{file: ./payload}"
        } else {
            "{}"
        };
        let compose = format!("{BASE}{section}:\n  \"{key}\": {entry}\n");
        let d = project(&compose);
        let out = d.path().join("out").display().to_string();
        for args in [
            vec!["switch", "local"],
            vec!["render", "local", "--out", out.as_str()],
        ] {
            let err = refused(d.path(), &args, "docker-compose.yml", "invalid");
            assert!(err.contains(section), "{err}");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }
    // a service's name with a newline, a slash or dots
    for name in [
        "\"x\\nregistry: {prefix: attacker.example.com/loot}\\n#\"",
        "a/b",
        "\"..\"",
    ] {
        let d = project(&format!("services:\n  {name}:\n    image: busybox:1\n"));
        refused(
            d.path(),
            &["render", "local"],
            "docker-compose.yml",
            "invalid service name",
        );
    }
}

#[test]
fn a_planted_manifest_deletes_nothing_it_does_not_own() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim2.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let hash = |s: &str| {
        use std::io::Write;
        let mut c = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()[..64].to_string()
    };
    // .devenv/rendered/local's manifest names a file outside, by absolute path and by `..`
    let d = project(BASE);
    let own = d.path().join(".devenv/rendered/local");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(
        own.join(".devenv-rendered.json"),
        format!(
            "{{\"{}\": \"0000\", \"../../../../{}\": \"{}\"}}",
            victim.display(),
            victim.display(),
            hash("precious\n")
        ),
    )
    .unwrap();
    let o = run(d.path(), &["switch", "local"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ignored 2 entries of its manifest"),
        "what it ignored is said: {}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // render --out: a `..` entry with the right hash removes nothing either
    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let rel = Path::new("../..").join(victim.strip_prefix("/").unwrap());
    std::fs::write(
        out.join(".devenv-rendered.json"),
        format!("{{\"{}\": \"{}\"}}", rel.display(), hash("precious\n")),
    )
    .unwrap();
    let o = run(
        d.path(),
        &["render", "local", "--out", &out.display().to_string()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // a symlinked output directory of devenv's own, or a symlinked `.devenv`, is refused
    for link in [".devenv/rendered/local", ".devenv"] {
        let d = project(BASE);
        let target = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(link).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target.path(), d.path().join(link)).unwrap();
        let o = run(d.path(), &["switch", "local"]);
        assert!(!o.status.success(), "{link}: {}", stderr(&o));
        assert!(stderr(&o).contains("symlink"), "{link}: {}", stderr(&o));
        assert_eq!(
            std::fs::read_dir(target.path()).unwrap().count(),
            0,
            "{link}: nothing written where it leads"
        );
    }
}

#[test]
fn init_from_pastes_no_name_into_yaml() {
    for compose in [
        "services:\n  \"x\\nregistry: {prefix: attacker.example.com/loot}\\n#\":\n    image: busybox:1\n",
        "services:\n  web:\n    image: busybox:1\n    secrets: [s]\nsecrets:\n  \"s\\nregistry: {prefix: attacker.example.com/loot}\\n#\": {external: true}\n",
    ] {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("docker-compose.yml"), compose).unwrap();
        let o = devenv()
            .arg("-C")
            .arg(d.path())
            .args(["init", "--from", "docker-compose.yml"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("invalid"), "{}", stderr(&o));
        assert!(!d.path().join("profiles").exists(), "nothing written");
    }
    // a hostile value (not a name) is written as YAML writes it: quoted, never a new key
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("docker-compose.yml"),
        "services:\n  web:\n    image: busybox:1\n    environment: [\"A=${A:-x\\nregistry: {prefix: evil}}\"]\n",
    )
    .unwrap();
    let o = devenv()
        .arg("-C")
        .arg(d.path())
        .args(["init", "--from", "docker-compose.yml"])
        .output()
        .unwrap();
    if o.status.success() {
        for p in ["profiles/local.yaml", "profiles/server.yaml"] {
            let text = std::fs::read_to_string(d.path().join(p)).unwrap();
            assert!(
                !text.lines().any(|l| l.starts_with("registry:")),
                "{p}:\n{text}"
            );
        }
    }
}

#[test]
fn no_file_outside_the_project_is_read() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "outside-marker\n").unwrap();
    let abs = outside.path().join("secret").display().to_string();
    for (kind, file, needle) in [
        ("configs", abs.as_str(), "outside the project"),
        (
            "configs",
            "../../../../../etc/passwd",
            "outside the project",
        ),
        ("configs", "/etc/shadow", "outside the project"),
        ("configs", "/proc/self/environ", "a file of the kernel"),
        ("configs", "/proc/kmsg", "a file of the kernel"),
        ("secrets", abs.as_str(), "outside the project"),
        ("secrets", "/dev/zero", "a file of the kernel"),
        ("configs", "link", "outside the project"),
        ("configs", "fifo", "a FIFO"),
    ] {
        let d = project(&format!(
            "{BASE}    {kind}: [c]\n{kind}:\n  c: {{file: \"{file}\"}}\n"
        ));
        std::os::unix::fs::symlink(&abs, d.path().join("link")).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(d.path().join("fifo"))
                .status()
                .unwrap()
                .success()
        );
        let t = Instant::now();
        let err = refused(d.path(), &["render", "local"], "docker-compose.yml", needle);
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{file}: refused at once"
        );
        assert!(!err.contains("outside-marker"), "{file}: content leaked");
    }
    // env_file: a FIFO, a link out
    for env_file in ["fifo", "link", "/etc/passwd"] {
        let d = project(&format!("{BASE}    env_file: {env_file}\n"));
        std::os::unix::fs::symlink(&abs, d.path().join("link")).unwrap();
        std::process::Command::new("mkfifo")
            .arg(d.path().join("fifo"))
            .status()
            .unwrap();
        refused(
            d.path(),
            &["render", "local"],
            "docker-compose.yml",
            "env_file",
        );
    }
    // a file the profile lists under read_outside: is read
    let d = project(&format!(
        "{BASE}    configs: [c]\nconfigs:\n  c: {{file: \"{abs}\"}}\n"
    ));
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        format!("domain: shop.test\ndocker: {{swarm: true}}\nread_outside: [\"{abs}\"]\n"),
    )
    .unwrap();
    let o = run(d.path(), &["render", "local"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("outside-marker"));
}

#[test]
fn parsing_is_bounded_before_it_starts() {
    let deep = format!(
        "services:\n  web:\n    image: busybox:1\nx-deep: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let big = "x".repeat(300 * 1024);
    let mut aliases =
        format!("services:\n  web:\n    image: busybox:1\nx-big: &big \"{big}\"\nx-many: [");
    for i in 0..1000 {
        aliases.push_str(if i > 0 { ", *big" } else { "*big" });
    }
    aliases.push_str("]\n");
    let interpolated = format!(
        "services:\n  web:\n    image: busybox:1\n    environment:\n{}",
        (0..1000)
            .map(|i| format!("      V{i}: \"${{BIG}}${{BIG}}\"\n"))
            .collect::<String>()
    );
    for (what, compose, needle) in [
        ("deep", deep.as_str(), "nests deeper than"),
        ("aliases", aliases.as_str(), "expand to more than"),
        (
            "interpolation",
            interpolated.as_str(),
            "add up to more than",
        ),
    ] {
        let d = project(compose);
        let t = Instant::now();
        let o = devenv()
            .arg("-C")
            .arg(d.path())
            .args(["render", "local", "--json"])
            .env("BIG", "y".repeat(100 * 1024))
            .env("DEVENV_DATA_DIR", data_dir())
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{what}: one JSON document: {e}\n{}", stdout(&o)));
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{what}: {v}"
        );
        assert!(
            v["error"]["file"]
                .as_str()
                .unwrap()
                .ends_with("docker-compose.yml")
        );
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{what}: {:?}",
            t.elapsed()
        );
    }
    // the same bounds hold for a profile
    let d = project(BASE);
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        format!(
            "domain: shop.test\nvars: {}{}\n",
            "[".repeat(10_000),
            "]".repeat(10_000)
        ),
    )
    .unwrap();
    refused(
        d.path(),
        &["render", "local"],
        "profiles/local.yaml",
        "nests deeper than",
    );
}

#[test]
fn devenvs_own_state_is_never_read_blindly() {
    for (file, make) in [
        ("state.json", "fifo"),
        ("state.json", "zero"),
        ("state.json", "passwd"),
        ("salt", "fifo"),
        ("rendered/local/.devenv-rendered.json", "fifo"),
    ] {
        let d = project(BASE);
        let p = d.path().join(".devenv").join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match make {
            "fifo" => assert!(
                std::process::Command::new("mkfifo")
                    .arg(&p)
                    .status()
                    .unwrap()
                    .success()
            ),
            "zero" => std::os::unix::fs::symlink("/dev/zero", &p).unwrap(),
            _ => std::os::unix::fs::symlink("/etc/passwd", &p).unwrap(),
        }
        let t = Instant::now();
        let o = run(d.path(), &["switch", "local"]);
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{file} as {make}: no hang"
        );
        assert!(
            !stderr(&o).contains("root:x:0"),
            "{file} as {make}: nothing of it printed: {}",
            stderr(&o)
        );
        if file == "state.json" {
            assert_eq!(o.status.code(), Some(2), "{file} as {make}: {}", stderr(&o));
            assert!(stderr(&o).contains("state.json"), "{}", stderr(&o));
        }
    }
}

#[test]
fn a_task_timeout_out_of_range_is_refused_when_read() {
    let d = project(BASE);
    std::fs::write(
        d.path().join("devenv.yaml"),
        "project: shop\nstack: docker-compose.yml\ntasks:\n  migrate:\n    service: web\n    command: \"true\"\n    timeout: 99999999999999999999s\n",
    )
    .unwrap();
    let err = refused(
        d.path(),
        &["render", "local"],
        "devenv.yaml",
        "out of range",
    );
    assert!(err.contains("devenv.yaml:7:"), "{err}");
}

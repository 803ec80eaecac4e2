//! The hosts-file engine end to end: lossless apply/remove on real-world files, the real
//! /etc/hosts in a private mount namespace, concurrency, crash safety and bad inputs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;
use predicates::prelude::*;

fn corpus() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/data/hosts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(v.len() >= 7);
    v
}

fn hosts_cmd(project: &Path, hosts_file: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = devenv();
    c.arg("-C")
        .arg(project)
        .arg("--hosts-file")
        .arg(hosts_file)
        .args(args);
    c
}

#[test]
fn corpus_apply_then_remove_gives_back_the_original_bytes() {
    let p = mini_project("myblog", &["myblog.test", "api.myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    for f in corpus() {
        let original = std::fs::read(&f).unwrap();
        let h = d.path().join(f.file_name().unwrap());
        std::fs::write(&h, &original).unwrap();
        hosts_cmd(p.path(), &h, &["hosts", "apply"])
            .assert()
            .success();
        let applied = std::fs::read(&h).unwrap();
        assert!(
            applied.starts_with(&original) || !original.ends_with(b"\n"),
            "{}: bytes before the block changed",
            f.display()
        );
        let text = String::from_utf8_lossy(&applied);
        assert!(
            text.contains("127.0.0.1\tmyblog.test api.myblog.test"),
            "{text}"
        );
        if original.windows(2).any(|w| w == b"\r\n") && f.file_name().unwrap() != "awkward.hosts" {
            assert!(
                text.contains("# <<< devenv myblog <<<\r\n"),
                "{}: CRLF not kept",
                f.display()
            );
        }
        // applying again changes nothing (no write at all)
        let before = std::fs::metadata(&h).unwrap().modified().unwrap();
        hosts_cmd(p.path(), &h, &["hosts", "apply"])
            .assert()
            .success();
        assert_eq!(std::fs::read(&h).unwrap(), applied);
        assert_eq!(std::fs::metadata(&h).unwrap().modified().unwrap(), before);
        hosts_cmd(p.path(), &h, &["hosts", "remove"])
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&h).unwrap(),
            original,
            "{}: not restored byte for byte",
            f.display()
        );
    }
}

#[test]
fn other_tools_blocks_stay_untouched() {
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    let original =
        std::fs::read(repo().join("tests/data/hosts/windows-docker-desktop.hosts")).unwrap();
    std::fs::write(&h, &original).unwrap();
    hosts_cmd(p.path(), &h, &["hosts", "apply"])
        .assert()
        .success();
    let after = std::fs::read(&h).unwrap();
    assert!(
        after.starts_with(&original),
        "the Docker Desktop block and BOM must stay first and intact"
    );
    assert!(after.starts_with(b"\xEF\xBB\xBF"));
}

#[test]
fn dry_run_shows_a_diff_and_writes_nothing() {
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    std::fs::write(&h, "127.0.0.1 localhost\n").unwrap();
    hosts_cmd(p.path(), &h, &["hosts", "apply", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("+# >>> devenv myblog >>>"))
        .stdout(predicate::str::contains("+127.0.0.1\tmyblog.test"));
    assert_eq!(
        std::fs::read_to_string(&h).unwrap(),
        "127.0.0.1 localhost\n"
    );
}

#[test]
fn restore_brings_back_the_backup() {
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    std::fs::write(&h, "127.0.0.1 localhost\n").unwrap();
    let data = d.path().join("data");
    let run = |args: &[&str]| {
        let mut c = hosts_cmd(p.path(), &h, args);
        c.env("DEVENV_DATA_DIR", &data);
        c
    };
    run(&["hosts", "apply"]).assert().success();
    // someone else then damages the file
    let mut damaged = std::fs::read(&h).unwrap();
    damaged.extend_from_slice(b"1.2.3.4 junk\n");
    std::fs::write(&h, &damaged).unwrap();
    run(&["hosts", "restore"]).assert().success();
    let restored = std::fs::read_to_string(&h).unwrap();
    assert!(
        restored.starts_with("127.0.0.1 localhost\n") && !restored.contains("junk"),
        "{restored}"
    );
    // a named file's backups sit beside it, none among the system file's
    assert!(
        std::fs::read_dir(d.path().join(".devenv-hosts-backups"))
            .unwrap()
            .count()
            >= 2,
        "backups are kept"
    );
    assert!(!data.join("hosts-backups").exists());
}

/// A UTF-16 hosts file: refused as it is, with the way forward; `--convert` rewrites it as
/// UTF-8 (every character, the BOM as UTF-8's, the line ends) and keeps the original as a backup,
/// then maps the names.
#[test]
fn utf16_hosts_files_are_converted_when_asked() {
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    let text = "127.0.0.1 localhost\r\n# café\r\n";
    let mut utf16 = b"\xFF\xFE".to_vec();
    utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    std::fs::write(&h, &utf16).unwrap();
    hosts_cmd(p.path(), &h, &["hosts", "apply"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("UTF-16"))
        .stderr(predicate::str::contains("`devenv hosts apply --convert`"));
    assert_eq!(std::fs::read(&h).unwrap(), utf16);
    hosts_cmd(p.path(), &h, &["hosts", "apply", "--convert", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("as UTF-8"));
    assert_eq!(std::fs::read(&h).unwrap(), utf16, "a dry run wrote");
    hosts_cmd(p.path(), &h, &["hosts", "apply", "--convert"])
        .assert()
        .success()
        .stderr(predicate::str::contains("as UTF-8"));
    let now = std::fs::read(&h).unwrap();
    let mut head = b"\xEF\xBB\xBF".to_vec();
    head.extend(text.as_bytes());
    assert!(
        now.starts_with(&head),
        "{:?}",
        String::from_utf8_lossy(&now)
    );
    assert!(String::from_utf8_lossy(&now).contains("127.0.0.1\tmyblog.test\r\n"));
    let kept = std::fs::read_dir(d.path().join(".devenv-hosts-backups"))
        .unwrap()
        .flatten()
        .any(|b| std::fs::read(b.path()).unwrap() == utf16);
    assert!(kept, "the UTF-16 original is not among the backups");
    // `hosts remove` then gives back the converted file, byte for byte
    hosts_cmd(p.path(), &h, &["hosts", "remove"])
        .assert()
        .success();
    assert_eq!(std::fs::read(&h).unwrap(), head);
}

#[test]
fn list_reports_conflicts_and_mdns() {
    let p = mini_project("myblog", &["myblog.test", "shop.local"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    std::fs::write(&h, "10.9.9.9 myblog.test\n").unwrap();
    hosts_cmd(p.path(), &h, &["hosts", "apply"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "maps myblog.test to 10.9.9.9 before devenv's block; the first match wins",
        ))
        .stderr(predicate::str::contains("`shop.local` ends in .local"));
    hosts_cmd(p.path(), &h, &["hosts", "list"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "conflict: line 1 maps myblog.test to 10.9.9.9 (comes first, so it wins)",
        ));
}

/// Each bad input: a clear message and the file untouched.
#[test]
fn bad_inputs_leave_the_file_untouched() {
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            "127.0.0.1 localhost\r\n".encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
            "UTF-16",
        ),
        (b"# >>> devenv myblog >>>\n127.0.0.1 x.test\n".to_vec(), "a begin marker without an end marker (line 1)"),
        (b"x\n# <<< devenv myblog <<<\n".to_vec(), "an end marker without a begin marker (line 2)"),
        (
            b"# >>> devenv myblog >>>\n# <<< devenv myblog <<<\n# >>> devenv myblog >>>\n# <<< devenv myblog <<<\n".to_vec(),
            "the markers appear more than once (begin: lines 1, 3; end: lines 2, 4)",
        ),
    ];
    for (content, msg) in cases {
        for action in ["apply", "remove"] {
            std::fs::write(&h, &content).unwrap();
            hosts_cmd(p.path(), &h, &["hosts", action])
                .assert()
                .code(1)
                .stderr(predicate::str::contains(msg))
                .stderr(predicate::str::contains("devenv wrote nothing"));
            assert_eq!(std::fs::read(&h).unwrap(), content, "{msg}: file changed");
        }
    }
    // an injected name in the profile never reaches the file
    let bad = mini_project("myblog", &["ok.test", "evil.test\\n1.2.3.4 bank.com"]);
    std::fs::write(&h, "127.0.0.1 localhost\n").unwrap();
    hosts_cmd(bad.path(), &h, &["hosts", "apply"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("profiles/local.yaml:2:"))
        .stderr(predicate::str::contains("control character"));
    assert_eq!(
        std::fs::read_to_string(&h).unwrap(),
        "127.0.0.1 localhost\n"
    );
}

#[test]
fn unwritable_file_is_explained_and_untouched() {
    if !require(
        "root and setpriv (to act as an unprivileged user)",
        is_root() && have("setpriv"),
    ) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    for dir in [p.path(), d.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["profiles", "templates"] {
            let _ = std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(0o755));
        }
    }
    let h = d.path().join("hosts");
    std::fs::write(&h, "127.0.0.1 localhost\n").unwrap();
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    // by its full path: the child's PATH (set below) is where a bare name would be looked up
    let setpriv = which::which("setpriv").unwrap();
    let as_nobody = |extra: &[&str], path: Option<&str>| {
        let mut c = std::process::Command::new(&setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(devenv_bin())
            .arg("-C")
            .arg(p.path())
            .arg("--hosts-file")
            .arg(&h)
            .args(["hosts", "apply"])
            .args(extra)
            .env("NO_COLOR", "1")
            .env("DEVENV_DATA_DIR", &data)
            .stdin(Stdio::null());
        if let Some(path) = path {
            c.env("PATH", path);
        }
        c.output().unwrap()
    };
    let unchanged = || {
        assert_eq!(
            std::fs::read_to_string(&h).unwrap(),
            "127.0.0.1 localhost\n"
        );
        assert_eq!(
            std::fs::read_dir(&data).unwrap().count(),
            0,
            "no backup of an unwritten file"
        );
    };

    // --yes lets devenv elevate this step: with no sudo, it says so and what to run instead
    let no_sudo = tempfile::tempdir().unwrap();
    let o = as_nobody(&["--yes"], Some(no_sudo.path().to_str().unwrap()));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot write {}: permission denied, and sudo is not installed",
            h.display()
        )) && err.contains("run as root"),
        "{err}"
    );
    unchanged();
    // a real sudo that will not elevate without a password (no terminal: `sudo -n`)
    if require("sudo", have("sudo")) {
        let o = as_nobody(&["--yes"], None);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("running as administrator: sudo -n -- ")
                && err.contains("the elevated hosts step failed (exit 1)"),
            "{err}"
        );
        unchanged();
    }

    let o = as_nobody(&[], None);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot write {}: permission denied", h.display())),
        "{err}"
    );
    assert!(
        err.contains("sudo devenv -C"),
        "the message says how to run this step elevated: {err}"
    );
    unchanged();
}

#[test]
fn twenty_concurrent_projects_all_land_once() {
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    let original = b"127.0.0.1 localhost\n::1 localhost\n";
    std::fs::write(&h, original).unwrap();
    let projects: Vec<tempfile::TempDir> = (0..20)
        .map(|i| {
            mini_project(
                &format!("proj{i}"),
                &[&format!("p{i}.test"), &format!("api.p{i}.test")],
            )
        })
        .collect();
    let children: Vec<std::process::Child> = projects
        .iter()
        .map(|p| {
            std::process::Command::new(devenv_bin())
                .arg("-C")
                .arg(p.path())
                .arg("--hosts-file")
                .arg(&h)
                .args(["-q", "hosts", "apply"])
                .env("DEVENV_DATA_DIR", d.path().join("data"))
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(&h).unwrap();
    assert!(text.starts_with(std::str::from_utf8(original).unwrap()));
    for i in 0..20 {
        assert_eq!(
            text.matches(&format!("# >>> devenv proj{i} >>>\n")).count(),
            1,
            "proj{i}:\n{text}"
        );
        assert_eq!(
            text.matches(&format!("# <<< devenv proj{i} <<<\n")).count(),
            1
        );
        assert_eq!(
            text.matches(&format!("127.0.0.1\tp{i}.test api.p{i}.test\n"))
                .count(),
            1
        );
    }
}

/// The writer is killed (SIGKILL) at random moments: the file is always exactly the old or the
/// new content, never a mix or a truncation.
#[test]
fn crash_safety_under_sigkill() {
    use devenv::hosts::block::{BlockSpec, apply, remove};
    use devenv::hosts::parse::Ending;
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    // a file large enough that writing it takes a moment
    let mut base = String::from("127.0.0.1 localhost\n");
    for i in 0..20000 {
        base.push_str(&format!(
            "10.{}.{}.{} host{i}.example.internal alias{i}\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    std::fs::write(&h, &base).unwrap();
    let projects: Vec<(tempfile::TempDir, String, Vec<String>)> = (0..3)
        .map(|i| {
            let name = format!("crash{i}");
            let names = vec![format!("c{i}.test")];
            (mini_project(&name, &[&names[0]]), name, names)
        })
        .collect();
    let mut seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    // how long one uninterrupted write takes, so the kills land before, during and after it
    let probe = d.path().join("probe-hosts");
    std::fs::write(&probe, &base).unwrap();
    let t = std::time::Instant::now();
    let ok = std::process::Command::new(devenv_bin())
        .arg("-C")
        .arg(projects[0].0.path())
        .arg("--hosts-file")
        .arg(&probe)
        .args(["-q", "hosts", "apply"])
        .env("DEVENV_DATA_DIR", d.path().join("data"))
        .status()
        .unwrap();
    assert!(ok.success());
    let window = t.elapsed().as_micros() as u64 * 16 / 10 + 1;
    let mut outcomes = (0, 0);
    for i in 0..50 {
        let (proj, name, names) = &projects[i % 3];
        let remove_it = (i / 3) % 2 == 1;
        let old = std::fs::read(&h).unwrap();
        let new = if remove_it {
            remove(&old, name).unwrap()
        } else {
            apply(
                &old,
                &BlockSpec {
                    project: name,
                    profile: "local",
                    names,
                    ipv6: true,
                },
                Ending::Lf,
            )
            .unwrap()
        };
        let mut child = std::process::Command::new(devenv_bin())
            .arg("-C")
            .arg(proj.path())
            .arg("--hosts-file")
            .arg(&h)
            .args(["-q", "hosts", if remove_it { "remove" } else { "apply" }])
            .env("DEVENV_DATA_DIR", d.path().join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_micros(seed % window));
        unsafe {
            libc_kill(child.id() as i32, 9);
        }
        let _ = child.wait();
        let now = std::fs::read(&h).unwrap();
        if now == old && old == new {
            // nothing to change this round
        } else if now == old {
            outcomes.0 += 1;
        } else if now == new {
            outcomes.1 += 1;
        } else {
            panic!(
                "iteration {i}: the file is neither the old nor the new content ({} bytes)",
                now.len()
            );
        }
    }
    eprintln!(
        "killed before the write {} times, after it {} times",
        outcomes.0, outcomes.1
    );
    assert!(
        outcomes.0 > 0 && outcomes.1 > 0,
        "the kills must land on both sides of the write: {outcomes:?}"
    );
    // no stray temp files were left in the directory for long: the next run cleaned them
    let remaining: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("devenv-tmp"))
        .collect();
    assert!(remaining.len() <= 1, "{remaining:?}");
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// The real /etc/hosts of a private mount namespace: a bind mount, so `rename` over it fails
/// with EBUSY and the in-place path is used; getaddrinfo and hickory then resolve the names.
#[test]
fn bind_mounted_etc_hosts_in_a_private_namespace() {
    if !require(
        "root and mount namespaces (unshare)",
        can_use_mount_namespaces(),
    ) {
        return;
    }
    let machine_hosts = std::fs::read("/etc/hosts").unwrap();
    let p = mini_project("myblog", &["myblog.test", "api.myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    let original = b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n";
    std::fs::write(&h, original).unwrap();
    let run = |args: &[&str]| {
        let mut c = in_namespace(
            &[(h.as_path(), Path::new("/etc/hosts"))],
            &devenv_bin(),
            args,
        );
        c.env_remove("DEVENV_HOSTS_FILE")
            .env("DEVENV_DATA_DIR", d.path().join("data"))
            .env("NO_COLOR", "1");
        c.output().unwrap()
    };
    let dir = p.path().to_str().unwrap();
    let o = run(&["-C", dir, "hosts", "apply"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("updated /etc/hosts (in place)"),
        "{}",
        stderr(&o)
    );
    // getent (glibc) inside the namespace
    let g = in_namespace(
        &[(h.as_path(), Path::new("/etc/hosts"))],
        Path::new("getent"),
        &["ahostsv4", "myblog.test"],
    )
    .output()
    .unwrap();
    assert!(
        stdout(&g).starts_with("127.0.0.1"),
        "getent: {}",
        stdout(&g)
    );
    // hickory and the OS resolver, as devenv reports them
    let o = run(&["-C", dir, "hosts", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let res = v[0]["resolution"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    for r in res {
        assert_eq!(r["loopback"], true, "{r}");
        assert!(
            r["hickory"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "127.0.0.1"),
            "{r}"
        );
    }
    // the machine's own /etc/hosts was never touched (whatever it holds: a user who ran
    // `devenv up` has the example's block there, and that must not fail this test)
    assert_eq!(
        std::fs::read("/etc/hosts").unwrap(),
        machine_hosts,
        "the machine's /etc/hosts changed"
    );
    let o = run(&["-C", dir, "hosts", "remove"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&h).unwrap(), original);
    // and the name is gone
    let g = in_namespace(
        &[(h.as_path(), Path::new("/etc/hosts"))],
        Path::new("getent"),
        &["hosts", "myblog.test"],
    )
    .output()
    .unwrap();
    assert!(!g.status.success(), "still resolves: {}", stdout(&g));
}

#[test]
fn regular_file_is_replaced_atomically() {
    use std::os::unix::fs::MetadataExt;
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    std::fs::write(&h, "127.0.0.1 localhost\n").unwrap();
    let ino = std::fs::metadata(&h).unwrap().ino();
    hosts_cmd(p.path(), &h, &["hosts", "apply"])
        .assert()
        .success()
        .stderr(predicate::str::contains("(in place)").not());
    assert_ne!(
        std::fs::metadata(&h).unwrap().ino(),
        ino,
        "a new inode: temp file + rename"
    );
}

/// What is not a regular file is never written, created or replaced, and never hangs devenv:
/// a character device (also behind a symlink, and the literal `/dev/null` of a private /dev), a
/// FIFO, a directory, a dangling symlink, a file in a directory that does not exist.
#[test]
fn hostile_hosts_paths_are_refused_untouched() {
    use std::os::unix::fs::FileTypeExt;
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let refuse = |path: &Path, action: &str, expect: &str| {
        let mut c = hosts_cmd(p.path(), path, &["hosts", action]);
        c.env("DEVENV_DATA_DIR", &data)
            .timeout(std::time::Duration::from_secs(20));
        let o = c.output().unwrap();
        let err = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{action} {}: {err}",
            path.display()
        );
        assert!(err.contains(expect), "{action} {}: {err}", path.display());
    };
    // a FIFO: opening it would block forever
    let fifo = d.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for action in ["apply", "remove", "list"] {
        refuse(
            &fifo,
            action,
            "is not a regular file but a FIFO (named pipe)",
        );
    }
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // a dangling symlink: used to spin forever in the lock
    let dangling = d.path().join("dangling");
    std::os::unix::fs::symlink(d.path().join("nonexistent"), &dangling).unwrap();
    for action in ["apply", "remove"] {
        refuse(&dangling, action, "is a dangling symbolic link");
    }
    assert!(
        !d.path().join("nonexistent").exists(),
        "the link's target was created"
    );
    // a directory
    let dir = d.path().join("adir");
    std::fs::create_dir(&dir).unwrap();
    refuse(&dir, "apply", "is not a regular file but a directory");
    assert!(dir.is_dir());
    // a file in a directory that does not exist: said so, not "permission denied"
    let nodir = d.path().join("no/such/dir/hosts");
    refuse(&nodir, "apply", "the directory");
    refuse(&nodir, "apply", "does not exist");
    assert!(!d.path().join("no").exists());
    if !require(
        "root (mknod) and mount namespaces",
        can_use_mount_namespaces(),
    ) {
        return;
    }
    // a character device, directly and behind a symlink
    let dev = d.path().join("null");
    assert!(
        std::process::Command::new("mknod")
            .args(["-m", "666"])
            .arg(&dev)
            .args(["c", "1", "3"])
            .status()
            .unwrap()
            .success()
    );
    let link = d.path().join("link-to-dev");
    std::os::unix::fs::symlink(&dev, &link).unwrap();
    for path in [&dev, &link] {
        for action in ["apply", "remove"] {
            refuse(path, action, "is not a regular file but a character device");
        }
    }
    assert!(
        std::fs::metadata(&dev)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // the literal /dev/null, in a private /dev (the machine's own is never at stake)
    let script = format!(
        "mount -t tmpfs devenv-test /dev && mknod -m666 /dev/null c 1 3 && \
         {} -C {} --hosts-file /dev/null hosts apply; echo \"exit=$?\"; stat -c %F /dev/null",
        devenv_bin().display(),
        p.path().display()
    );
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("DEVENV_DATA_DIR", &data)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains("exit=1"), "{out}\n{}", stderr(&o));
    assert!(
        out.contains("character special file"),
        "/dev/null became: {out}"
    );
    assert!(
        stderr(&o).contains("/dev/null is not a regular file but a character device"),
        "{}",
        stderr(&o)
    );
    assert!(
        !data.join("hosts-backups").exists()
            && !d.path().join(".devenv-hosts-backups").exists()
            && !Path::new("/dev/.devenv-hosts-backups").exists(),
        "nothing was backed up or journaled"
    );
}

/// Runs devenv on `target` in a private mount namespace where `source` is bind-mounted over
/// `target` (so a rename onto it fails and devenv writes in place, as with Docker's or WSL's
/// /etc/hosts). `mounts` are extra commands run first.
fn in_place_cmd(
    project: &Path,
    source: &Path,
    target: &Path,
    data: &Path,
    mounts: &str,
    args: &[&str],
) -> std::process::Command {
    let script =
        format!("set -e\n{mounts}\nmount --bind \"$DEVENV_SRC\" \"$DEVENV_DST\"\nexec \"$@\"\n");
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(devenv_bin())
        .arg("-C")
        .arg(project)
        .arg("--hosts-file")
        .arg(target)
        .args(args)
        .env("DEVENV_SRC", source)
        .env("DEVENV_DST", target)
        .env("DEVENV_DATA_DIR", data)
        .env("NO_COLOR", "1");
    c
}

/// SIGKILL during in-place writes of a 100,000-line bind-mounted file: every time, the file is
/// the old content, the new content, or the next run restores the old one and says so.
#[test]
fn in_place_writes_survive_sigkill() {
    use devenv::hosts::block::{BlockSpec, apply, remove};
    use devenv::hosts::parse::Ending;
    if !require(
        "root and mount namespaces (unshare)",
        can_use_mount_namespaces(),
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let source = d.path().join("source-hosts");
    let target = d.path().join("hosts");
    let data = d.path().join("data");
    let mut base = String::from("127.0.0.1 localhost\n");
    for i in 0..100_000 {
        base.push_str(&format!(
            "10.{}.{}.{} h{i}.example.internal\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    std::fs::write(&source, &base).unwrap();
    // a file only its owner may read: so are its backups
    std::fs::set_permissions(&source, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(&target, "").unwrap();
    let p = mini_project("crash", &["crash.test"]);
    let names = vec!["crash.test".to_string()];
    let spec = BlockSpec {
        project: "crash",
        profile: "local",
        names: &names,
        ipv6: true,
    };
    // how long one uninterrupted in-place write takes, so the kills spread over it
    let t = std::time::Instant::now();
    let o = in_place_cmd(p.path(), &source, &target, &data, "", &["hosts", "apply"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("(in place)"), "{}", stderr(&o));
    // the write comes last: spread the kills over the second half of a run and a bit beyond
    let run = t.elapsed().as_micros() as u64 + 1;
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let (mut old_kept, mut new_written, mut restored) = (0, 0, 0);
    for i in 0..50 {
        let old = std::fs::read(&source).unwrap();
        let removing = i % 2 == 0;
        let new = if removing {
            remove(&old, "crash").unwrap()
        } else {
            apply(&old, &spec, Ending::Lf).unwrap()
        };
        let action = if removing { "remove" } else { "apply" };
        let mut child = in_place_cmd(
            p.path(),
            &source,
            &target,
            &data,
            "",
            &["-q", "hosts", action],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_micros(
            run / 2 + seed % (run * 7 / 10),
        ));
        unsafe {
            libc_kill(child.id() as i32, 9);
        }
        let _ = child.wait();
        let now = std::fs::read(&source).unwrap();
        if now == old {
            old_kept += 1;
        } else if now == new {
            new_written += 1;
        } else {
            // half-written: the next run (not killed) restores the old content first, says so,
            // and then does its own work
            let o = in_place_cmd(p.path(), &source, &target, &data, "", &["hosts", action])
                .output()
                .unwrap();
            assert!(o.status.success(), "iteration {i}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("restored"),
                "iteration {i}: the repair was not reported: {}",
                stderr(&o)
            );
            assert_eq!(
                std::fs::read(&source).unwrap(),
                new,
                "iteration {i}: after the repair"
            );
            restored += 1;
        }
    }
    eprintln!(
        "50 SIGKILLs of the in-place writer: old content {old_kept}, new content {new_written}, half-written and restored by the next run {restored}"
    );
    assert_eq!(old_kept + new_written + restored, 50);
    // nothing is left pending
    let o = in_place_cmd(p.path(), &source, &target, &data, "", &["hosts", "remove"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&source).unwrap(), base);
    let journals: Vec<_> = std::fs::read_dir(d.path().join(".devenv-hosts-backups"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".journal"))
        .collect();
    assert!(journals.is_empty(), "a journal was left behind");
    for b in std::fs::read_dir(d.path().join(".devenv-hosts-backups"))
        .unwrap()
        .flatten()
    {
        let mode = std::os::unix::fs::PermissionsExt::mode(&b.metadata().unwrap().permissions());
        assert_eq!(
            mode & 0o777,
            0o600,
            "backup {:?} of a 0600 file",
            b.file_name()
        );
    }
}

/// A full file system under a bind-mounted hosts file: the write fails with a clear message and
/// the file keeps its old content (no half block); the next run works once there is space.
#[test]
fn full_disk_leaves_the_file_as_it_was() {
    if !require(
        "root and mount namespaces (unshare)",
        can_use_mount_namespaces(),
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let small = d.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let target = d.path().join("hosts");
    std::fs::write(&target, "").unwrap();
    let p = mini_project("full", &["full.test", "api.full.test"]);
    // a 16 KiB tmpfs holding the hosts file (exactly two pages) and a filler taking the rest
    let content = format!("127.0.0.1 localhost\n{}\n", "#".repeat(8192 - 21));
    assert_eq!(content.len(), 8192);
    let script = r#"
set -e
mount -t tmpfs -o size=16k devenv-test "$SMALL"
printf '%s' "$CONTENT" > "$SMALL/hosts"
dd if=/dev/zero of="$SMALL/filler" bs=4096 count=16 2>/dev/null || true
mount --bind "$SMALL/hosts" "$TARGET"
set +e
"$DEVENV" -C "$PROJECT" --hosts-file "$TARGET" hosts apply 2>&1; echo "exit=$?"
echo "=="; cat "$SMALL/hosts"; echo "=="
rm "$SMALL/filler"
"$DEVENV" -C "$PROJECT" --hosts-file "$TARGET" hosts apply 2>&1; echo "exit=$?"
echo "=="; cat "$SMALL/hosts"
"#;
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("SMALL", &small)
        .env("TARGET", &target)
        .env("CONTENT", &content)
        .env("DEVENV", devenv_bin())
        .env("PROJECT", p.path())
        .env("DEVENV_DATA_DIR", d.path().join("data"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = stdout(&o);
    let parts: Vec<&str> = out.split("==\n").collect();
    assert_eq!(parts.len(), 4, "{out}\n{}", stderr(&o));
    assert!(parts[0].contains("exit=1"), "{}", parts[0]);
    assert!(
        parts[0].contains("no space left on device") && parts[0].contains("the file is as it was"),
        "{}",
        parts[0]
    );
    assert_eq!(parts[1], content, "the full disk changed the file");
    assert!(
        parts[2].contains("exit=0") && parts[2].contains("(in place)"),
        "{}",
        parts[2]
    );
    assert!(
        parts[3].starts_with(&content) && parts[3].contains("127.0.0.1\tfull.test api.full.test"),
        "{}",
        parts[3]
    );
}

/// Another program appending to the hosts file (`echo ... >> /etc/hosts`, which takes no lock)
/// while devenv applies and removes its block 200 times: not one appended line is lost.
#[test]
fn concurrent_appender_loses_no_lines() {
    let p = mini_project("append", &["append.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    std::fs::write(&h, "127.0.0.1 localhost\n").unwrap();
    let stop = d.path().join("stop");
    let appender = std::process::Command::new("sh")
        .arg("-c")
        .arg("i=0; while [ ! -e \"$STOP\" ]; do echo \"10.1.1.1 appended-$i.example\" >> \"$H\"; i=$((i+1)); sleep 0.002; done; echo $i")
        .env("STOP", &stop)
        .env("H", &h)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for i in 0..200 {
        let action = if i % 2 == 0 { "apply" } else { "remove" };
        let mut c = hosts_cmd(p.path(), &h, &["-q", "hosts", action]);
        c.env("DEVENV_DATA_DIR", d.path().join("data"));
        let o = c.output().unwrap();
        assert!(o.status.success(), "run {i}: {}", stderr(&o));
    }
    std::fs::write(&stop, "").unwrap();
    let o = appender.wait_with_output().unwrap();
    let appended: usize = stdout(&o).trim().parse().unwrap();
    let content = std::fs::read_to_string(&h).unwrap();
    let missing: Vec<usize> = (0..appended)
        .filter(|i| !content.contains(&format!("10.1.1.1 appended-{i}.example\n")))
        .collect();
    eprintln!(
        "{appended} lines appended during 200 applies/removes; {} lost",
        missing.len()
    );
    assert!(appended > 100, "the appender ran alongside: {appended}");
    assert!(missing.is_empty(), "lost lines: {missing:?}");
    assert!(
        !content.contains("devenv append"),
        "the block was removed last"
    );
}

/// A kill between the in-place write and the truncation that ends it (injected with strace at
/// exactly that system call) leaves the file half-written — duplicated lines at its end, as
/// adversarial testing found. The next run restores the old content first, says so, then works.
#[test]
fn half_written_in_place_file_is_restored_by_the_next_run() {
    if !require(
        "root, mount namespaces and strace",
        can_use_mount_namespaces() && have("strace"),
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let source = d.path().join("source-hosts");
    let target = d.path().join("hosts");
    let data = d.path().join("data");
    std::fs::write(&target, "").unwrap();
    let p = mini_project("crash", &["crash.test"]);
    // the block first, so removing it shifts every later line
    let mut old =
        String::from("# >>> devenv crash >>>\n127.0.0.1\tcrash.test\n# <<< devenv crash <<<\n");
    let mut rest = String::new();
    for i in 0..5000 {
        rest.push_str(&format!(
            "10.0.{}.{} h{i}.example.internal\n",
            i / 256,
            i % 256
        ));
    }
    old.push_str(&rest);
    std::fs::write(&source, &old).unwrap();
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount --bind \"$SRC\" \"$DST\" && exec strace -f -qq -o /dev/null -P \"$DST\" \
             -e trace=ftruncate -e inject=ftruncate:signal=KILL \"$DEVENV\" -C \"$PROJECT\" --hosts-file \"$DST\" hosts remove",
        )
        .env("SRC", &source)
        .env("DST", &target)
        .env("DEVENV", devenv_bin())
        .env("PROJECT", p.path())
        .env("DEVENV_DATA_DIR", &data)
        .env("NO_COLOR", "1");
    let o = c.output().unwrap();
    assert_ne!(
        o.status.code(),
        Some(0),
        "the injected kill: {}",
        stderr(&o)
    );
    let half = std::fs::read_to_string(&source).unwrap();
    assert!(
        half != old && half != rest,
        "the kill did not land mid-write"
    );
    // the next run: restored, reported, then the block removed
    let o = in_place_cmd(p.path(), &source, &target, &data, "", &["hosts", "remove"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "restored {} to its content before an interrupted devenv run",
            target.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&source).unwrap(), rest);
}

/// The block devenv wrote is checked later: removed by another program, or changed along with
/// Docker Desktop's own block (it rewrote the file), `doctor` says which, and how to put it back.
#[test]
fn a_block_removed_or_rewritten_since_devenv_wrote_it_is_named() {
    let p = mini_project("myblog", &["myblog.test"]);
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("hosts");
    let data = d.path().join("data");
    let dd = "# Added by Docker Desktop\n192.168.1.5 host.docker.internal\n# End of section\n";
    let run = |args: &[&str]| {
        let mut c = hosts_cmd(p.path(), &h, args);
        c.env("DEVENV_DATA_DIR", &data)
            .env("DOCKER_HOST", "unix:///nonexistent.sock");
        c.output().unwrap()
    };
    std::fs::write(&h, format!("127.0.0.1 localhost\n{dd}")).unwrap();
    assert!(run(&["hosts", "apply"]).status.success());
    let doctor = |want: &str, absent: &str| {
        let o = run(&["doctor"]);
        let out = format!("{}{}", stdout(&o), stderr(&o));
        assert!(out.contains(want), "{out}");
        assert!(absent.is_empty() || !out.contains(absent), "{out}");
    };
    doctor("", "since devenv wrote it");
    // another program strips the block
    std::fs::write(&h, format!("127.0.0.1 localhost\n{dd}")).unwrap();
    doctor(
        "the devenv block of myblog in",
        "Docker Desktop rewrote the file",
    );
    doctor("was removed since devenv wrote it", "");
    doctor("another program or a person edited the file", "");
    doctor("hosts apply` writes it again", "is missing or out of date");
    // written again, then Docker Desktop rewrites the file: its block and devenv's change together
    assert!(run(&["hosts", "apply"]).status.success());
    let now = std::fs::read_to_string(&h).unwrap();
    std::fs::write(
        &h,
        now.replace("192.168.1.5", "10.0.0.9")
            .replace("127.0.0.1\tmyblog.test", "#127.0.0.1\tmyblog.test"),
    )
    .unwrap();
    doctor("was changed since devenv wrote it", "");
    doctor("Docker Desktop rewrote the file", "");
    // `hosts remove` forgets the record: nothing to report after
    assert!(run(&["hosts", "apply"]).status.success());
    assert!(run(&["hosts", "remove"]).status.success());
    doctor("", "since devenv wrote it");
}

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
    assert!(
        std::fs::read_dir(data.join("hosts-backups"))
            .unwrap()
            .count()
            >= 2,
        "backups are kept"
    );
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
            r["hickory"]["Ok"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "127.0.0.1"),
            "{r}"
        );
    }
    // the machine's own /etc/hosts was never touched
    assert!(
        !std::fs::read_to_string("/etc/hosts")
            .unwrap()
            .contains("devenv myblog")
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

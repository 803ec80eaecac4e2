//! `cargo bench --bench e2e` (root, docker, chromium): the whole local story, timed.
//!
//! Cold: no swarm (`docker swarm leave --force` first — this bench resets the machine's swarm),
//! no CA, no certificates: `devenv up local` → `devenv certs trust` → headless Chromium loads
//! https://myblog.test/ and its WSS echo arrives. Warm: `devenv up` again with nothing changed.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    if !(can_use_mount_namespaces()
        && docker_ready()
        && have("chromium")
        && have("certutil")
        && Path::new("/usr/sbin/nginx").exists())
    {
        eprintln!(
            "e2e bench skipped: needs root, mount namespaces, docker, chromium, certutil, nginx, busybox-static"
        );
        return;
    }
    // the test app image is built from the example binary
    let ok = Command::new(env!("CARGO"))
        .args(["build", "--release", "--example", "testapp"])
        .status()
        .unwrap();
    assert!(ok.success());
    let mut cold = Vec::new();
    let mut cold_up = Vec::new();
    let mut warm = Vec::new();
    for round in 0..3 {
        let _ = Command::new("docker")
            .args(["stack", "rm", "myblog"])
            .output();
        std::thread::sleep(Duration::from_secs(2));
        let _ = Command::new("docker")
            .args(["swarm", "leave", "--force"])
            .output();
        let sb = Sandbox::new("127.0.0.1\tlocalhost\n");
        let p = tempfile::tempdir().unwrap();
        e2e_project(p.path());
        let dir = p.path().to_str().unwrap();
        let t = Instant::now();
        let o = sb.devenv(&["-C", dir, "-q", "up", "local"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let up = t.elapsed();
        let o = sb.devenv(&["-C", dir, "-q", "certs", "trust"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut dom = String::new();
        for _ in 0..5 {
            dom = sb.chromium("https://myblog.test/").0;
            if dom.contains("WSS-ECHO-OK") {
                break;
            }
        }
        assert!(
            dom.contains("WSS-ECHO-OK"),
            "browser check failed in round {round}"
        );
        cold.push(t.elapsed());
        cold_up.push(up);
        for _ in 0..5 {
            let t = Instant::now();
            let o = sb.devenv(&["-C", dir, "-q", "up"]);
            assert!(o.status.success(), "{}", stderr(&o));
            warm.push(t.elapsed());
        }
        let _ = sb.devenv(&["-C", dir, "-q", "down"]);
        let _ = sb.devenv(&["-C", dir, "-q", "certs", "untrust"]);
    }
    println!("| measure (median of 3 cold runs, 15 warm) | time |");
    println!("|---|---|");
    println!(
        "| cold `devenv up local`: swarm init, CA, leaf, hosts, deploy, probes | {} |",
        secs(median(cold_up))
    );
    println!(
        "| cold, until Chromium shows the WSS echo (incl. `certs trust`) | {} |",
        secs(median(cold))
    );
    println!(
        "| warm no-op `devenv up` | {:.0} ms |",
        median(warm).as_secs_f64() * 1000.0
    );
}

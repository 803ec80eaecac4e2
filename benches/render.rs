//! `cargo bench --bench render`: render a 50-service stack with 20 config templates.
//!
//! Measured side by side: devenv in-process, the `devenv render --out` command (process start
//! included), and `docker stack config -c` on the same rendered stack (docker's own parse of a
//! file it is given, the floor any tool that shells out to docker pays).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn generate(dir: &Path) {
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    let mut project = String::from("project: bench\nstack: templates/stack.yml.j2\nconfigs:\n");
    for i in 0..20 {
        project.push_str(&format!("  conf{i}.conf: templates/conf{i}.conf.j2\n"));
        let mut conf = String::new();
        conf.push_str("# config {{ profile }}\n");
        for j in 0..40 {
            conf.push_str(&format!(
                "upstream u{j} {{ server svc{j}:{{{{ 8000 + {j} }}}}; }}  # {{{{ domain }}}}\n"
            ));
        }
        conf.push_str("{% for h in hosts %}server_name {{ h }};\n{% endfor %}\n");
        std::fs::write(dir.join(format!("templates/conf{i}.conf.j2")), conf).unwrap();
    }
    std::fs::write(dir.join("devenv.yaml"), project).unwrap();
    let mut stack = String::from("version: \"3.8\"\nservices:\n");
    for i in 0..50 {
        stack.push_str(&format!(
            "  svc{i}:\n    image: {{{{ image(\"svc{i}\") }}}}\n    environment:\n      DOMAIN: {{{{ domain }}}}\n      INDEX: \"{i}\"\n    ports:\n      - \"{}:80\"\n    configs:\n      - source: conf{}.conf\n        target: /etc/conf.conf\n    deploy:\n      replicas: {{{{ replicas.svc{i} | default(1) }}}}\n",
            20000 + i,
            i % 20
        ));
    }
    std::fs::write(dir.join("templates/stack.yml.j2"), stack).unwrap();
    std::fs::write(
        dir.join("profiles/local.yaml"),
        "domain: bench.test\nhosts: [bench.test, api.bench.test]\ndocker: {swarm: true, publish: host}\n",
    )
    .unwrap();
}

fn main() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path());
    let project = devenv::profile::Project::load(d.path()).unwrap();
    let profile = project.profile("local").unwrap();
    let facts = devenv::render::Facts {
        ipvs: Some(false),
        env: Default::default(),
        env_files: Vec::new(),
        ..Default::default()
    };

    let mut inproc = Vec::new();
    for _ in 0..60 {
        let t = Instant::now();
        let secrets = devenv::render::collect_secrets(&project, &profile, &devenv::sys::RealSys);
        let r =
            devenv::render::render(&project, &profile, facts.clone(), &secrets, b"salt").unwrap();
        inproc.push(t.elapsed());
        assert_eq!(r.configs.len(), 20);
        assert_eq!(r.service_names().len(), 50);
    }

    let bin = env!("CARGO_BIN_EXE_devenv");
    let out = d.path().join("out");
    let mut cli = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let s = Command::new(bin)
            .args(["-q", "-C"])
            .arg(d.path())
            .args(["render", "local", "--out"])
            .arg(&out)
            .status()
            .unwrap();
        cli.push(t.elapsed());
        assert!(s.success());
    }

    let mut docker = Vec::new();
    let have_docker = Command::new("docker").arg("--version").output().is_ok();
    if have_docker {
        for _ in 0..30 {
            let t = Instant::now();
            let o = Command::new("docker")
                .args(["stack", "config", "-c"])
                .arg(out.join("stack.yml"))
                .output()
                .unwrap();
            docker.push(t.elapsed());
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    }

    println!("render: 50 services, 20 config templates (median)");
    println!("| what | median |");
    println!("|---|---|");
    println!("| devenv render, in-process | {} |", ms(median(inproc)));
    println!(
        "| `devenv render local --out DIR` (process) | {} |",
        ms(median(cli))
    );
    if have_docker {
        println!(
            "| `docker stack config -c stack.yml` (same output, parse only) | {} |",
            ms(median(docker))
        );
    }
}

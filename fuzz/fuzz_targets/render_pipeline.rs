//! `cargo fuzz run render_pipeline`: a compose file, an override file and a profile's extra keys
//! (the input split at `\n---8<---\n`) go through the whole render and a `switch` applied on
//! the scripted machine. Whatever the input: no panic; time and memory stay bounded (CI runs it
//! with `-timeout=10 -rss_limit_mb=1024`); and every effect's path is inside the project or
//! devenv's data directory — no input makes devenv write, remove or run anything elsewhere.
#![no_main]

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use devenv::cli::Global;
use devenv::ops::Ctx;
use devenv::sys::FakeSys;
use devenv::sys::fake::Effect;
use libfuzzer_sys::fuzz_target;

/// Inside `root`, as written: absolute, no `..`, under it.
fn inside(p: &Path, roots: &[PathBuf]) -> bool {
    !p.components().any(|c| c == Component::ParentDir) && roots.iter().any(|r| p.starts_with(r))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, "\n---8<---\n");
    let compose = parts.next().unwrap_or("");
    let over = parts.next().unwrap_or("");
    let extra = parts.next().unwrap_or("");
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let data_dir = root.join(".data");
    std::fs::create_dir_all(root.join("profiles")).unwrap();
    std::fs::write(root.join("devenv.yaml"), "project: fuzz\nstack: stack.yml\n").unwrap();
    std::fs::write(root.join("stack.yml"), compose).unwrap();
    std::fs::write(root.join("override.yml"), over).unwrap();
    std::fs::write(root.join("payload.txt"), "payload\n").unwrap();
    std::fs::write(root.join("hosts"), "127.0.0.1 localhost\n").unwrap();
    std::fs::write(
        root.join("profiles/local.yaml"),
        format!(
            "domain: fuzz.test\ndocker: {{swarm: true}}\noverrides: [override.yml]\n{extra}"
        ),
    )
    .unwrap();
    let sys = Arc::new(
        FakeSys::new()
            .env("DEVENV_DATA_DIR", &data_dir.to_string_lossy())
            .env("DEVENV_CAROOT", &data_dir.join("ca").to_string_lossy())
            .program("docker", "/usr/bin/docker")
            .ipvs(Some(false)),
    );
    let g = Global {
        dir: Some(root.clone()),
        hosts_file: Some(root.join("hosts")),
        quiet: true,
        ..Default::default()
    };
    let ctx = Ctx::new(g, sys.clone());
    if let Ok(plan) = devenv::ops::switch::plan(&ctx, Some("local")) {
        let mut x = ctx.executor();
        let _ = devenv::ops::switch::apply(&ctx, &mut x, plan);
    }
    let roots = [root.clone(), data_dir.clone()];
    for e in sys.effects() {
        match &e {
            Effect::Write { path, .. }
            | Effect::Remove(path)
            | Effect::MkdirAll(path)
            | Effect::Hosts { path, .. }
            | Effect::Lock(path) => assert!(inside(path, &roots), "an effect outside: {e:?}"),
            Effect::Run(c) => panic!("a render and switch ran a program: {c}"),
            Effect::Ssh(_) | Effect::OnInterrupt(_) => panic!("unexpected effect {e:?}"),
        }
    }
});

//! The operations planned and applied against a scripted machine ([`FakeSys`]): a real project in a
//! temp directory, docker answers from a script, every effect recorded. No root, no dockerd.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{Ctx, down, switch, up};
use crate::cli::Global;
use crate::error::UserError;
use crate::sys::FakeSys;
use crate::sys::fake::Effect;

const DOCKER: &str = "/usr/bin/docker --context default";
/// How a task's command is wrapped (its process group said first, so it can be stopped).
const WRAP: &str = r#"sh -c 'echo "devenv-task-pgid $$" >&2; exec "$@"' devenv-task"#;

fn info(cluster: &str) -> String {
    format!(
        r#"{{"ServerVersion":"28.2.2","Swarm":{{"NodeID":"n1","LocalNodeState":"active","ControlAvailable":true,"Error":"","Nodes":1,"Managers":1,"Cluster":{{"ID":"{cluster}"}}}}}}"#
    )
}

fn service(name: &str) -> String {
    format!(
        r#"{{"ID":"s-{name}","Version":{{"Index":1}},"Spec":{{"Name":"fake_{name}","Mode":{{"Replicated":{{"Replicas":1}}}},"TaskTemplate":{{"ContainerSpec":{{"Image":"busybox:1"}}}}}}}}"#
    )
}

fn task(name: &str) -> String {
    format!(
        r#"{{"ID":"t-{name}","Name":"fake_{name}.1","Image":"busybox:1","Node":"n1","DesiredState":"Running","CurrentState":"Running 9 seconds ago","Error":"","Ports":""}}"#
    )
}

/// A project with two services (`web` mounts the config `page`), a local and a server profile.
fn project(dir: &Path) {
    for d in ["profiles", "templates"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(
        dir.join("devenv.yaml"),
        "project: fake\nstack: templates/stack.yml\nconfigs:\n  page: templates/page.j2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/stack.yml"),
        "services:\n  web:\n    image: busybox:1\n    configs: [{source: page, target: /www/index.html}]\n  worker:\n    image: busybox:1\n",
    )
    .unwrap();
    std::fs::write(dir.join("templates/page.j2"), "page v1 of {{ profile }}\n").unwrap();
    std::fs::write(
        dir.join("profiles/local.yaml"),
        "domain: fake.test\ndocker: {swarm: true}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("profiles/server.yaml"),
        "domain: fake.com\ndocker: {context: srv, cluster_id: c-srv}\n",
    )
    .unwrap();
}

/// The engine as the script tells it: a manager of swarm `c1`, the image present, the services
/// (when `deployed`) running.
fn engine(deployed: bool) -> FakeSys {
    let mut s = FakeSys::new()
        .program("docker", "/usr/bin/docker")
        .ipvs(Some(false))
        .respond(&format!("{DOCKER} info"), 0, &info("c1"))
        .respond(
            &format!("{DOCKER} image inspect"),
            0,
            r#"[{"Id":"sha256:b1","RepoTags":["busybox:1"],"RepoDigests":[]}]"#,
        )
        .respond(&format!("{DOCKER} config ls"), 0, "")
        .respond(&format!("{DOCKER} secret ls"), 0, "");
    if deployed {
        s = s
            .respond(
                &format!("{DOCKER} service inspect"),
                0,
                &format!("[{},{}]", service("web"), service("worker")),
            )
            .respond(
                &format!("{DOCKER} stack ps"),
                0,
                &format!("{}\n{}\n", task("web"), task("worker")),
            );
    }
    s
}

fn ctx(sys: FakeSys, dir: &Path) -> (Ctx, Arc<FakeSys>) {
    let sys = Arc::new(sys.env("DEVENV_DATA_DIR", &dir.join("data").to_string_lossy()));
    let g = Global {
        dir: Some(dir.to_path_buf()),
        hosts_file: Some(dir.join("hosts")),
        quiet: true,
        ..Default::default()
    };
    (Ctx::new(g, sys.clone()), sys)
}

fn options() -> up::Options {
    up::Options {
        timeout: Duration::from_secs(20),
        max_failures: 4,
        new_cluster: false,
        rollback: false,
    }
}

/// Commands run as effects (through the executor): every one that could change something.
fn mutations(sys: &FakeSys) -> Vec<String> {
    sys.effect_commands()
}

#[test]
fn first_up_plans_every_object_then_applies_through_the_executor() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let (ctx, sys) = ctx(engine(true), d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    assert!(plan.changes.is_none(), "a first deploy");
    let up::Deploy::Apply { objects, .. } = &plan.deploy else {
        panic!("a first up deploys");
    };
    assert_eq!(objects.len(), 1);
    assert!(objects[0].name.starts_with("fake_page_"));
    // planning changed nothing
    assert!(mutations(&sys).is_empty(), "{:?}", sys.commands());
    assert!(sys.written().is_empty());
    // the dry run's plan names what would happen, in order
    let text = up::describe(&plan);
    let config = text.find("config create").unwrap();
    let deploy = text.find("stack deploy").unwrap();
    assert!(config < deploy, "{text}");
    assert!(text.contains("first deploy of this profile"), "{text}");
    assert!(
        text.contains(&objects[0].name),
        "the object's real name: {text}"
    );

    let mut x = ctx.executor();
    let r = up::apply(&ctx, &mut x, plan).unwrap();
    assert!(r.changed);
    let m = mutations(&sys);
    assert!(m[0].contains("config create"), "{m:?}");
    assert!(m.iter().any(|c| c.contains("stack deploy")), "{m:?}");
    // the deploy file, the rendered output and the state were written, the state last
    let written = sys.written();
    assert!(
        written
            .iter()
            .any(|p| p.ends_with(".devenv/deploy/local.yml"))
    );
    assert!(
        written
            .iter()
            .any(|p| p.ends_with(".devenv/rendered/local/configs/page"))
    );
    assert!(written.last().unwrap().ends_with(".devenv/state.json"));
    // every undo acts on what this run acted on: the project, the hosts file it was given
    let undos: Vec<&str> = r.applied.iter().filter_map(|a| a.undo.as_deref()).collect();
    let root = crate::sys::shell_quote(&d.path().to_string_lossy());
    let hosts = crate::sys::shell_quote(&d.path().join("hosts").to_string_lossy());
    assert!(
        undos.contains(&format!("devenv -C {root} --hosts-file {hosts} down").as_str()),
        "{undos:?}"
    );
}

#[test]
fn noop_up_changes_nothing_and_a_changed_config_is_named() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    // a first up for real (against the script), to have what it records on disk
    let (ctx, sys) = ctx(engine(true), d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    let mut x = ctx.executor();
    // FakeSys keeps files in memory: put them where the next plan reads them
    up::apply(&ctx, &mut x, plan).unwrap();
    for p in sys.written() {
        let data = sys.file_content(&p).unwrap();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
    let (ctx, sys) = self::ctx(engine(true), d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    assert!(matches!(plan.deploy, up::Deploy::Unchanged));
    assert_eq!(plan.changes, Some(Vec::new()));
    let mut x = ctx.executor();
    let r = up::apply(&ctx, &mut x, plan).unwrap();
    assert!(!r.changed);
    assert!(
        mutations(&sys).is_empty(),
        "no-op up: {:?}",
        mutations(&sys)
    );

    // the config changes: the plan says which service and why
    std::fs::write(d.path().join("templates/page.j2"), "page v2\n").unwrap();
    let (ctx, _) = self::ctx(engine(true), d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    assert_eq!(plan.changes, Some(vec!["~ web (config page)".to_string()]));
    assert!(matches!(plan.deploy, up::Deploy::Apply { .. }));

    // the same reference now names another image (a pull): both services say so
    std::fs::write(
        d.path().join("templates/page.j2"),
        "page v1 of {{ profile }}\n",
    )
    .unwrap();
    let pulled = engine(true).respond(
        &format!("{DOCKER} image inspect busybox:1"),
        0,
        r#"[{"Id":"sha256:b2","RepoTags":["busybox:1"],"RepoDigests":[]}]"#,
    );
    let (ctx, _) = self::ctx(pulled, d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    assert_eq!(
        plan.changes,
        Some(vec![
            "~ web (image)".to_string(),
            "~ worker (image)".to_string()
        ])
    );
}

#[test]
fn failed_preflight_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    // a pinned cluster that is not the engine's
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        "domain: fake.test\nhosts: [fake.test]\ndocker: {swarm: true, cluster_id: another}\n",
    )
    .unwrap();
    let (ctx, sys) = ctx(engine(false), d.path());
    let e = up::plan(&ctx, Some("local"), options()).err().unwrap();
    assert!(
        e.to_string().contains("may deploy only to swarm another"),
        "{e}"
    );
    assert_eq!(crate::error::exit_code(&super::unchanged(e)), 2);
    // a port another program holds
    std::fs::write(
        d.path().join("templates/stack.yml"),
        "services:\n  web:\n    image: busybox:1\n    ports: [\"8088:80\"]\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        "domain: fake.test\nhosts: [fake.test]\ndocker: {swarm: true}\n",
    )
    .unwrap();
    let (ctx, sys2) = self::ctx(engine(false).busy_port(8088), d.path());
    let e = up::plan(&ctx, Some("local"), options()).err().unwrap();
    assert!(e.to_string().contains("port 8088"), "{e}");
    for s in [&sys, &sys2] {
        assert!(mutations(s).is_empty(), "{:?}", s.commands());
        assert!(s.effects().iter().all(|e| matches!(e, Effect::Run(_))));
    }
    assert!(!d.path().join("hosts").exists(), "no hosts entry");
    assert!(!d.path().join(".devenv").exists(), "no state");
}

#[test]
fn every_command_refuses_a_missing_context_as_up_does() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let sys = FakeSys::new()
        .program("docker", "/usr/bin/docker")
        .respond_full(
            "/usr/bin/docker context inspect srv",
            1,
            "[]\n",
            "context \"srv\": context not found",
        );
    let (ctx, sys) = ctx(sys, d.path());
    let check = |e: anyhow::Error, what: &str| {
        assert_eq!(crate::error::exit_code(&e), 2, "{what}: {e:#}");
        assert!(
            e.to_string()
                .contains("the docker context `srv` of profile server does not exist"),
            "{what}: {e}"
        );
        let u = e.downcast_ref::<UserError>().expect("a user error");
        assert!(
            u.hint
                .as_deref()
                .is_some_and(|h| h.contains("docker context create srv")),
            "{what}: {:?}",
            u.hint
        );
    };
    check(
        super::status::status(&ctx, Some("server")).unwrap_err(),
        "status",
    );
    check(
        super::down::plan(&ctx, Some("server"), false, Duration::from_secs(5))
            .err()
            .expect("refused"),
        "down",
    );
    let g = Global {
        profile: Some("server".into()),
        ..ctx.g.clone()
    };
    let ctx = Ctx::new(g, sys.clone());
    let mut x = ctx.executor();
    check(
        super::service::exec(&ctx, &mut x, "web", &[], None).unwrap_err(),
        "exec",
    );
    // with docker.host, the fix is `up`, which creates the context
    std::fs::write(
        d.path().join("profiles/server.yaml"),
        "domain: fake.com\ndocker: {context: srv, host: ssh://deploy@fake.com}\n",
    )
    .unwrap();
    let e = super::status::status(&ctx, Some("server")).unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 2);
    assert!(e.to_string().contains("does not exist yet"), "{e}");
    assert!(sys.effects().is_empty());

    // a context whose engine does not answer: the same refusal, with the fix
    let stopped = FakeSys::new()
        .program("docker", "/usr/bin/docker")
        .respond("/usr/bin/docker context inspect srv", 0, "[{}]\n")
        .respond_full(
            "/usr/bin/docker --context srv info",
            1,
            "",
            "Cannot connect to the Docker daemon at unix:///run/x.sock. Is the docker daemon running?",
        );
    let (ctx, _) = self::ctx(stopped, d.path());
    let e = super::status::status(&ctx, Some("server")).unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 2, "{e:#}");
    let hint = e.downcast_ref::<UserError>().and_then(|u| u.hint.clone());
    assert!(
        hint.as_deref()
            .is_some_and(|h| h.contains("start the engine of context `srv`")),
        "{hint:?}"
    );
}

#[test]
fn a_remote_target_is_summarised_before_it_is_changed() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let srv = "/usr/bin/docker --context srv";
    let sys = FakeSys::new()
        .program("docker", "/usr/bin/docker")
        .respond(
            "/usr/bin/docker context inspect srv",
            0,
            "ssh://deploy@fake.com\n",
        )
        .respond(&format!("{srv} info"), 0, &info("c-srv"))
        .respond(&format!("{srv} image inspect"), 0, "[]")
        .respond(&format!("{srv} config ls"), 0, "")
        .respond(
            &format!("{srv} service inspect"),
            0,
            &format!("[{}]", service("web")),
        );
    let (ctx, sys) = ctx(sys, d.path());
    let plan = up::plan(&ctx, Some("server"), options()).unwrap();
    assert!(plan.remote());
    let s = up::remote_summary(&plan);
    assert!(
        s.contains("target: context `srv` (ssh://deploy@fake.com), swarm c-srv"),
        "{s}"
    );
    assert!(s.contains("+ worker (new service: busybox:1)"), "{s}");
    assert!(
        s.contains("~ web") && s.contains("config /www/index.html"),
        "{s}"
    );
    assert!(mutations(&sys).is_empty());
}

#[test]
fn down_with_volumes_plans_their_removal_and_waits_for_the_stack() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let sys = engine(true)
        .respond(
            &format!("{DOCKER} volume ls"),
            0,
            r#"{"Name":"fake_data","Labels":"com.docker.stack.namespace=fake"}"#,
        )
        .respond(
            &format!("{DOCKER} service ls"),
            0,
            r#"{"ID":"s-web","Name":"fake_web"}"#,
        );
    let (ctx, sys) = ctx(sys, d.path());
    let plan = down::plan(&ctx, Some("local"), true, Duration::from_secs(5)).unwrap();
    assert_eq!(plan.volumes, vec!["fake_data"]);
    assert_eq!(plan.services, vec!["fake_web"]);
    let text = plan.describe();
    assert!(
        text.contains("stack rm fake") && text.contains("volume rm fake_data (its data is lost)"),
        "{text}"
    );
    assert!(mutations(&sys).is_empty());
    // applying: the script keeps listing the service, so the wait ends at its timeout, having
    // removed the stack and said so
    let mut x = ctx.executor();
    let e = down::apply(&ctx, &mut x, plan).err().unwrap();
    assert!(e.to_string().contains("is not gone after 5s"), "{e}");
    assert_eq!(crate::error::exit_code(&e), 3);
    assert!(mutations(&sys).iter().any(|c| c.ends_with("stack rm fake")));
    assert!(
        !mutations(&sys).iter().any(|c| c.contains("volume rm")),
        "volumes go only once the stack is gone"
    );
}

#[test]
fn switch_moves_the_hosts_block_both_ways() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        "domain: fake.test\nhosts: [fake.test]\ndocker: {swarm: true}\n",
    )
    .unwrap();
    std::fs::write(d.path().join("hosts"), "127.0.0.1 localhost\n").unwrap();
    let (ctx, sys) = ctx(FakeSys::new(), d.path());
    let plan = switch::plan(&ctx, Some("local")).unwrap();
    assert!(plan.hosts.changes());
    assert!(
        plan.describe().contains("+127.0.0.1\tfake.test"),
        "{}",
        plan.describe()
    );
    let mut x = ctx.executor();
    let r = switch::apply(&ctx, &mut x, plan).unwrap();
    assert_eq!(r.active, "local");
    // its undo names the hosts file this run was given, not the system's
    let undo = format!(
        "devenv -C {} --hosts-file {} hosts remove",
        crate::sys::shell_quote(&d.path().to_string_lossy()),
        crate::sys::shell_quote(&d.path().join("hosts").to_string_lossy())
    );
    assert!(
        x.applied()
            .iter()
            .any(|a| a.undo.as_deref() == Some(undo.as_str())),
        "{:?}",
        x.applied()
    );
    let hosts = sys.file_content(d.path().join("hosts")).unwrap();
    assert!(String::from_utf8_lossy(&hosts).contains("fake.test"));
    // the written block goes on disk, and the state, for the way back
    std::fs::write(d.path().join("hosts"), &hosts).unwrap();
    std::fs::create_dir_all(d.path().join(".devenv")).unwrap();
    std::fs::write(
        d.path().join(".devenv/state.json"),
        sys.file_content(d.path().join(".devenv/state.json"))
            .unwrap(),
    )
    .unwrap();
    let (ctx, sys) = self::ctx(FakeSys::new(), d.path());
    let plan = switch::plan(&ctx, Some("server")).unwrap();
    assert_eq!(plan.previous.as_deref(), Some("local"));
    assert!(plan.diff.as_ref().is_some_and(|d| !d.is_empty()));
    let mut x = ctx.executor();
    switch::apply(&ctx, &mut x, plan).unwrap();
    assert_eq!(
        sys.file_content(d.path().join("hosts")).unwrap(),
        b"127.0.0.1 localhost\n",
        "the block is gone, every other byte as it was"
    );
}

#[test]
fn windows_elevates_only_the_hosts_step_or_prints_the_command() {
    use crate::hosts::sync::Want;
    use crate::platform::Platform;
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        "domain: fake.test\nhosts: [fake.test]\ndocker: {swarm: true}\n",
    )
    .unwrap();
    std::fs::write(d.path().join("hosts"), "127.0.0.1 localhost\r\n").unwrap();
    let run = |yes: bool, no_elevate: bool| {
        let sys = Arc::new(
            FakeSys::new()
                .platform(Platform::windows())
                .admin(false)
                .env("DEVENV_DATA_DIR", &d.path().join("data").to_string_lossy()),
        );
        let g = Global {
            dir: Some(d.path().to_path_buf()),
            hosts_file: Some(d.path().join("hosts")),
            yes,
            no_elevate,
            quiet: true,
            ..Default::default()
        };
        let ctx = Ctx::new(g, sys.clone());
        let project = ctx.project().unwrap();
        let profile = ctx.profile(&project, Some("local")).unwrap();
        let mut plan = super::hosts::plan(&ctx, &project, &profile, Want::Apply).unwrap();
        // a non-elevated process may not write the Windows hosts file
        plan.files[0].writable = false;
        let mut x = ctx.executor();
        let r = super::hosts::apply(&ctx, &mut x, &project, &profile, plan);
        (r, sys)
    };
    // --yes: only this step runs again, through a UAC prompt, and devenv waits for it
    let (r, sys) = run(true, false);
    r.unwrap();
    let cmds = sys.commands();
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    assert!(
        cmds[0].starts_with("powershell -NoProfile -NonInteractive -Command")
            && cmds[0].contains("-Verb RunAs -Wait -PassThru; exit $p.ExitCode")
            && cmds[0].contains("hosts apply --yes"),
        "{cmds:?}"
    );
    assert!(
        !sys.effects()
            .iter()
            .any(|e| matches!(e, Effect::Hosts { .. })),
        "the unelevated process writes nothing itself"
    );
    // --no-elevate: the exact command to run in an administrator PowerShell
    let (r, sys) = run(true, true);
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("--no-elevate") && e.contains("Run as administrator"),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "devenv -C '{}' --profile local --hosts-file",
            d.path().display()
        )) && e.contains("hosts apply"),
        "{e}"
    );
    assert!(sys.commands().is_empty());
    // no terminal and no --yes: said, not attempted
    let (r, sys) = run(false, false);
    assert!(r.unwrap_err().to_string().contains("permission denied"));
    assert!(sys.commands().is_empty());
}

/// Writes what a FakeSys run wrote to the real disk (where the next plan reads it).
fn persist(sys: &FakeSys) {
    for p in sys.written() {
        if let Some(data) = sys.file_content(&p) {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, data).unwrap();
        }
    }
}

fn with_tasks(dir: &Path) {
    project(dir);
    std::fs::write(
        dir.join("devenv.yaml"),
        "project: fake\nstack: templates/stack.yml\nconfigs:\n  page: templates/page.j2\ntasks:\n  migrate:\n    service: web\n    command: ./migrate --noinput\n    when: [first-deploy, image-changed]\n  seed:\n    service: worker\n    command: [seed, --small]\n    when: first-deploy\n    profiles: [local]\n  shell:\n    service: web\n    command: sh\n    when: manual\n",
    )
    .unwrap();
}

fn task_engine() -> FakeSys {
    engine(true)
        .respond(
            &format!("{DOCKER} ps --filter label=com.docker.swarm.service.name=fake_web"),
            0,
            r#"{"ID":"c-web"}"#,
        )
        .respond(
            &format!("{DOCKER} ps --filter label=com.docker.swarm.service.name=fake_worker"),
            0,
            r#"{"ID":"c-worker"}"#,
        )
        .respond(
            &format!("{DOCKER} exec c-web {WRAP} sh -c './migrate --noinput'"),
            0,
            "Applying 0001_initial... OK\n",
        )
        .respond(
            &format!("{DOCKER} exec c-worker {WRAP} seed --small"),
            0,
            "seeded\n",
        )
}

#[test]
fn up_runs_the_due_tasks_once_in_order_and_records_them() {
    let d = tempfile::tempdir().unwrap();
    with_tasks(d.path());
    let (ctx, sys) = ctx(task_engine(), d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    let due: Vec<&str> = plan.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(due, ["migrate", "seed"], "file order; `shell` is manual");
    let text = up::describe(&plan);
    assert!(
        text.contains(
            "would run task migrate (first deploy on this swarm) in web: ./migrate --noinput"
        ),
        "{text}"
    );
    let mut x = ctx.executor();
    let r = up::apply(&ctx, &mut x, plan).unwrap();
    assert_eq!(r.tasks.len(), 2);
    let cmds = sys.commands();
    let deploy = cmds
        .iter()
        .position(|c| c.contains("stack deploy"))
        .unwrap();
    let migrate = cmds
        .iter()
        .position(|c| c.contains("devenv-task sh -c './migrate --noinput'"))
        .unwrap_or_else(|| panic!("{cmds:#?}"));
    let seed = cmds
        .iter()
        .position(|c| c.contains("devenv-task seed --small"))
        .unwrap();
    assert!(deploy < migrate && migrate < seed, "{cmds:#?}");
    persist(&sys);
    let state = crate::state::State::load(d.path()).unwrap();
    let rec = &state.tasks["local"]["migrate"];
    assert_eq!(rec.last_exit, Some(0));
    assert_eq!(rec.ok_cluster_id.as_deref(), Some("c1"));

    // the next up with nothing changed runs no task
    let (ctx, sys) = self::ctx(task_engine(), d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    assert!(plan.tasks.is_empty(), "{:?}", plan.tasks);
    let mut x = ctx.executor();
    let r = up::apply(&ctx, &mut x, plan).unwrap();
    assert!(r.tasks.is_empty());
    assert!(!sys.commands().iter().any(|c| c.contains(" exec ")));

    // the image of web changes: migrate (image-changed) runs again, seed (first-deploy) does not
    std::fs::write(
        d.path().join("templates/stack.yml"),
        "services:\n  web:\n    image: busybox:2\n    configs: [{source: page, target: /www/index.html}]\n  worker:\n    image: busybox:1\n",
    )
    .unwrap();
    let (ctx, _) = self::ctx(
        task_engine().respond(
            &format!("{DOCKER} image inspect"),
            0,
            r#"[{"Id":"sha256:b1","RepoTags":["busybox:1"],"RepoDigests":[]},{"Id":"sha256:b2","RepoTags":["busybox:2"],"RepoDigests":[]}]"#,
        ),
        d.path(),
    );
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    let due: Vec<(&str, &str)> = plan
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.why.as_str()))
        .collect();
    assert_eq!(due, [("migrate", "the image of web changed")]);
}

#[test]
fn a_failing_task_fails_up_with_its_exit_code_and_last_lines() {
    let d = tempfile::tempdir().unwrap();
    with_tasks(d.path());
    let sys = task_engine().respond_full(
        &format!("{DOCKER} exec c-web {WRAP} sh -c './migrate --noinput'"),
        3,
        "Applying 0001_initial...\n",
        "django.db.utils.OperationalError: could not connect to server\n",
    );
    let (ctx, sys) = ctx(sys, d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    let mut x = ctx.executor();
    let e = up::apply(&ctx, &mut x, plan).err().unwrap();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("task `migrate` (./migrate --noinput) in web exited with code 3"),
        "{msg}"
    );
    assert!(msg.contains("could not connect to server"), "{msg}");
    assert!(msg.contains("devenv run migrate"), "{msg}");
    // seed (after it) did not run; the failure is recorded, so the next up runs migrate again
    assert!(!sys.commands().iter().any(|c| c.contains("seed --small")));
    persist(&sys);
    let state = crate::state::State::load(d.path()).unwrap();
    let rec = &state.tasks["local"]["migrate"];
    assert_eq!(rec.last_exit, Some(3));
    assert!(rec.ok_at.is_none());
    let (ctx, _) = self::ctx(task_engine(), d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    assert_eq!(plan.tasks[0].name, "migrate");
}

#[test]
fn tasks_that_name_no_service_or_profile_are_refused_at_their_line() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::write(
        d.path().join("devenv.yaml"),
        "project: fake\nstack: templates/stack.yml\nconfigs:\n  page: templates/page.j2\ntasks:\n  migrate:\n    service: wbe\n    command: migrate\n    when: first-deploy\n",
    )
    .unwrap();
    let (ctx, sys) = ctx(engine(false), d.path());
    let e = up::plan(&ctx, Some("local"), options()).err().unwrap();
    let ce = e.downcast_ref::<crate::error::ConfigError>().unwrap();
    assert_eq!(ce.line, 7);
    assert!(ce.message.contains("service `wbe`"), "{}", ce.message);
    assert_eq!(ce.hint.as_deref(), Some("did you mean `web`?"));
    assert!(mutations(&sys).is_empty());
    // `devenv run` of a task that is not there names the ones that are
    std::fs::write(
        d.path().join("devenv.yaml"),
        "project: fake\nstack: templates/stack.yml\nconfigs:\n  page: templates/page.j2\ntasks:\n  migrate: {service: web, command: migrate}\n",
    )
    .unwrap();
    let (ctx, _) = self::ctx(engine(false), d.path());
    let e = super::tasks::plan_run(&ctx, "migrat", &[]).err().unwrap();
    assert!(
        e.to_string()
            .contains("no task `migrat`; the tasks are: migrate"),
        "{e}"
    );
    // extra arguments: appended to an argv, passed as "$@" to a shell string
    let (ctx, _) = self::ctx(engine(false), d.path());
    let p = super::tasks::plan_run(&ctx, "migrate", &["--fake".into()]).unwrap();
    assert_eq!(
        super::tasks::argv(&p.task, &p.extra),
        ["sh", "-c", "migrate \"$@\"", "devenv-task", "--fake"]
    );
}

#[test]
fn doctor_checks_the_login_of_a_registry_profile() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        "domain: fake.test\ndocker: {swarm: true}\nregistry: {prefix: 127.0.0.1:5055/shop}\n",
    )
    .unwrap();
    let config = d.path().join("docker-config");
    let login = |sys: FakeSys| {
        let (ctx, _) = ctx(
            sys.env("DOCKER_CONFIG", &config.to_string_lossy()),
            d.path(),
        );
        let r = super::doctor::doctor(&ctx, Some("local")).unwrap();
        r.checks
            .into_iter()
            .find(|c| c.check == "login 127.0.0.1:5055")
            .expect("a login check")
    };
    // no login yet: a warning with the command
    let c = login(engine(true));
    assert_eq!(serde_json::to_value(&c.status).unwrap(), "warn");
    assert_eq!(c.fix.as_deref(), Some("`docker login 127.0.0.1:5055`"));
    // what `docker login 127.0.0.1:5055` wrote
    let c = login(engine(true).file(
        config.join("config.json"),
        r#"{"auths": {"127.0.0.1:5055": {"auth": "ZGV2dXNlcjpkZXZwYXNz"}}}"#,
    ));
    assert_eq!(serde_json::to_value(&c.status).unwrap(), "ok");
    assert!(c.detail.contains("logged in"), "{}", c.detail);
}

/// A build's base image is checked like an image the stack runs: `up` pulls it first.
#[test]
fn doctor_checks_the_base_images_of_builds() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::write(
        d.path().join("templates/stack.yml"),
        "services:\n  web:\n    build: ./web\n    configs: [{source: page, target: /www/index.html}]\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("web")).unwrap();
    std::fs::write(
        d.path().join("web/Dockerfile"),
        "FROM python:3.10-alpine AS base\nFROM base\nCOPY . /app\n",
    )
    .unwrap();
    let sys = engine(false)
        .respond(
            &format!("{DOCKER} image inspect --format '{{{{.Id}}}}' python:3.10-alpine"),
            1,
            "",
        )
        .respond_full(
            &format!("{DOCKER} manifest inspect python:3.10-alpine"),
            1,
            "",
            "error during connect: dial tcp: lookup registry-1.docker.io: no such host\n",
        );
    let (ctx, _) = ctx(sys, d.path());
    let r = super::doctor::doctor(&ctx, Some("local")).unwrap();
    let c = r
        .checks
        .iter()
        .find(|c| c.check == "image python:3.10-alpine (FROM of web)")
        .unwrap_or_else(|| panic!("a check of the base image in {:?}", r.checks));
    assert_eq!(serde_json::to_value(&c.status).unwrap(), "fail", "{c:?}");
    assert!(
        !r.checks.iter().any(|c| c.check.starts_with("image base")),
        "a stage of the Dockerfile is no image"
    );
}

/// `project` with `develop.watch` on web: `./site` synced to /www, then SIGHUP.
fn watch_project(dir: &Path) {
    project(dir);
    std::fs::write(
        dir.join("templates/stack.yml"),
        "services:\n  web:\n    image: busybox:1\n    configs: [{source: page, target: /www/index.html}]\n    develop:\n      watch:\n        - {path: ./site, action: sync+restart, target: /www, ignore: [drafts/]}\n  worker:\n    image: busybox:1\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("site/drafts")).unwrap();
    std::fs::write(dir.join("site/a.html"), "a\n").unwrap();
    std::fs::write(dir.join("site/drafts/b.html"), "b\n").unwrap();
}

#[test]
fn watch_syncs_deletes_and_signals_each_running_task_through_the_seam() {
    let d = tempfile::tempdir().unwrap();
    watch_project(d.path());
    let sys = engine(true)
        .respond(
            &format!("{DOCKER} ps"),
            0,
            "{\"ID\":\"c1aaaaaaaaaaaa\"}\n{\"ID\":\"c2bbbbbbbbbbbb\"}\n",
        )
        .respond(&format!("{DOCKER} inspect --format"), 0, "true\n");
    let (ctx, sys) = ctx(sys, d.path());
    let opts = super::live::Options {
        services: Vec::new(),
        timeout: Duration::from_secs(5),
        poll: false,
    };
    let mut s = super::live::Session::open(&ctx, &opts, true).unwrap();
    let before = sys.commands().len();
    let root = d.path().to_path_buf();
    let ev = s
        .changed(&[
            root.join("site/a.html"),
            root.join("site/gone.html"),
            root.join("site/drafts/b.html"),
            root.join("site/.a.html.swp"),
        ])
        .unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = &ev[0];
    assert!(e.ok, "{e:?}");
    assert_eq!(e.action, "sync+restart");
    assert_eq!((e.files, e.containers), (2, 2));
    assert_eq!(e.changed, ["site/a.html", "site/gone.html"]);
    let cmds: Vec<String> = sys.commands()[before..].to_vec();
    for c in ["c1aaaaaaaaaaaa", "c2bbbbbbbbbbbb"] {
        for want in [
            format!("{DOCKER} cp - {c}:/"),
            format!("{DOCKER} exec {c} rm -rf -- /www/gone.html"),
            format!("{DOCKER} kill --signal HUP {c}"),
        ] {
            assert!(cmds.contains(&want), "no `{want}` in {cmds:#?}");
        }
    }
    assert!(
        !cmds
            .iter()
            .any(|c| c.contains("service update") || c.contains("restart")),
        "a sync never replaces the task: {cmds:#?}"
    );

    // a FIFO is never opened (reading one would hang the session) and a symlink is copied as a
    // link, not as what it points at
    #[cfg(unix)]
    {
        let pipe = root.join("site/pipe");
        let c = std::ffi::CString::new(pipe.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        std::os::unix::fs::symlink("/etc/shadow", root.join("site/secret")).unwrap();
        let ev = s
            .changed(&[pipe.clone(), root.join("site/secret")])
            .unwrap();
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(ev[0].ok, "{:?}", ev[0]);
        assert_eq!(
            ev[0].changed,
            ["site/secret"],
            "the FIFO is refused, not copied"
        );
        assert_eq!(ev[0].files, 1);
    }

    // nothing watched changed: no docker call
    let n = sys.commands().len();
    assert!(s.changed(&[root.join("README.md")]).unwrap().is_empty());
    assert_eq!(sys.commands().len(), n);
}

#[test]
fn watch_dry_run_lists_the_bundled_examples_rules() {
    let d = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(repo.join("devenv.yaml"), d.path().join("devenv.yaml")).unwrap();
    for dir in ["profiles", "templates", "web", "api"] {
        std::fs::create_dir_all(d.path().join(dir)).unwrap();
        for e in std::fs::read_dir(repo.join(dir)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), d.path().join(dir).join(e.file_name())).unwrap();
        }
    }
    let ca = tempfile::tempdir().unwrap();
    let sys = engine(false).env("DEVENV_CAROOT", &ca.path().to_string_lossy());
    let (ctx, _) = ctx(sys, d.path());
    let opts = super::live::Options {
        services: Vec::new(),
        timeout: Duration::from_secs(5),
        poll: false,
    };
    let plan = super::live::describe(&ctx, &opts).unwrap();
    for want in [
        "would watch web (ignoring Dockerfile, **/__pycache__, **/*.pyc): on a change, copy into web's running tasks at /app",
        "would watch api (only **/*.go, go.mod, go.sum, Dockerfile): on a change, build api's image",
        "would watch devenv.yaml, the profile and the templates: on a change, render and deploy again",
    ] {
        assert!(plan.contains(want), "no {want:?} in\n{plan}");
    }
    let opts = super::live::Options {
        services: vec!["postgres".into()],
        ..opts
    };
    let e = super::live::describe(&ctx, &opts).unwrap_err();
    assert!(
        e.to_string()
            .contains("postgres has no `develop.watch` rules"),
        "{e}"
    );
}

/// `--dry-run` on every subcommand that can change anything: parsed as a user types it, run on a
/// machine that fails the test at the first effect. Each plans for real (the engine answers), so
/// the test reaches the point where a change would happen — and none does.
#[test]
fn every_subcommand_with_dry_run_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    with_tasks(d.path());
    std::fs::write(d.path().join("hosts"), "127.0.0.1 localhost\n").unwrap();
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        "domain: fake.test\nhosts: [fake.test]\ntls: local-ca\ndocker: {swarm: true}\n",
    )
    .unwrap();
    let empty = tempfile::tempdir().unwrap();
    let ca = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let dir = d.path().to_string_lossy().into_owned();
    let hosts = d.path().join("hosts").to_string_lossy().into_owned();
    let run = |args: &[&str], must_work: bool| {
        let sys = Arc::new(
            task_engine()
                .env("DEVENV_DATA_DIR", &d.path().join("data").to_string_lossy())
                .env("DEVENV_CAROOT", &ca.path().join("ca").to_string_lossy())
                .env("HOME", &ca.path().join("home").to_string_lossy())
                .program("certutil", "/usr/bin/certutil")
                .dir("/usr/local/share/ca-certificates")
                .dir("/etc/ssl/certs")
                .program("update-ca-certificates", "/usr/sbin/update-ca-certificates")
                .respond(
                    &format!("{DOCKER} service logs"),
                    0,
                    "fake_web.1@n1 | hello\n",
                )
                .forbid_effects(),
        );
        let mut argv = vec!["devenv", "--dry-run", "-q"];
        argv.extend_from_slice(args);
        let cli = crate::cli::parse(argv.iter().map(|s| s.to_string()))
            .unwrap_or_else(|(t, _)| panic!("{args:?}: {t}"));
        let ctx = Ctx::new(cli.global.clone(), sys.clone());
        let r = crate::commands::run(&ctx, cli.command);
        if must_work {
            assert!(
                matches!(r, Ok(0)),
                "{args:?}: {:?}",
                r.map_err(|e| format!("{e:#}"))
            );
        }
        assert!(sys.effects().is_empty(), "{args:?}: {:?}", sys.effects());
    };
    let c = |rest: &[&str]| -> Vec<String> {
        let mut v = vec![
            "-C".to_string(),
            dir.clone(),
            "--hosts-file".into(),
            hosts.clone(),
        ];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    for (args, must_work) in [
        (c(&["up", "local"]), true),
        (c(&["down"]), true),
        (c(&["switch", "server"]), true),
        (c(&["switch", "local"]), true),
        (c(&["hosts", "apply"]), true),
        (c(&["hosts", "remove"]), true),
        (c(&["hosts", "restore"]), false),
        (c(&["certs", "trust"]), true),
        (c(&["certs", "untrust"]), true),
        (c(&["certs", "issue", "local"]), true),
        (c(&["certs", "rotate"]), true),
        (c(&["certs", "env"]), false),
        (c(&["build"]), true),
        (c(&["update", "web"]), true),
        (c(&["exec", "web", "--", "touch", "x"]), true),
        (c(&["--json", "exec", "web", "--", "touch", "x"]), true),
        (c(&["run", "migrate"]), true),
        (c(&["--json", "run", "migrate"]), true),
        (c(&["logs", "web"]), true),
        (c(&["logs", "web", "-f"]), true),
        (c(&["render", "--out", &out.to_string_lossy()]), true),
        (c(&["render"]), true),
        (c(&["status"]), false),
        (c(&["doctor"]), false),
        (c(&["diff"]), false),
        (
            vec![
                "-C".to_string(),
                empty.path().to_string_lossy().into_owned(),
                "init".into(),
            ],
            true,
        ),
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&a, must_work);
    }
    assert!(!out.exists(), "render --out wrote nothing");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

/// The executor refuses every effect on that machine, so the test above would see one.
#[test]
#[should_panic(expected = "an effect on a machine that forbids them")]
fn a_machine_that_forbids_effects_fails_at_the_first() {
    let s = FakeSys::new().forbid_effects();
    let mut x = crate::exec::Executor::new(&s, crate::exec::Mode::Apply);
    let _ = x.run(&crate::sys::Cmd::new("docker").arg("kill"));
}

#[test]
fn build_plans_a_content_tag_and_builds_it_through_the_executor() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::create_dir_all(d.path().join("app")).unwrap();
    std::fs::write(d.path().join("app/Dockerfile"), "FROM busybox:1\n").unwrap();
    std::fs::write(
        d.path().join("templates/stack.yml"),
        "services:\n  web:\n    build: ./app\n  worker:\n    image: busybox:1\n",
    )
    .unwrap();
    let sys = engine(false)
        .respond(&format!("{DOCKER} image inspect --format"), 1, "")
        .respond(
            &format!("{DOCKER} image inspect --format {{{{.Id}}}} busybox:1"),
            0,
            "sha256:b1",
        );
    let (ctx, sys) = ctx(sys, d.path());
    let plan = super::build::plan(&ctx, Some("local"), false).unwrap();
    assert_eq!(plan.steps.len(), 1);
    let tag = plan.steps[0].tag.clone();
    assert!(tag.starts_with("fake/web:"), "{tag}");
    assert!(!plan.steps[0].built);
    assert!(plan.describe().contains(&tag), "{}", plan.describe());
    assert!(sys.effects().is_empty(), "planning changed nothing");
    let mut x = ctx.executor();
    super::build::apply(&ctx, &mut x, plan).unwrap();
    let m = mutations(&sys);
    assert!(
        m.iter().any(|c| c.contains(&format!("build -t {tag}"))),
        "{m:?}"
    );
    // the same sources give the same tag: nothing to build the next time
    let again = super::build::plan(&ctx, Some("local"), false).unwrap();
    assert_eq!(again.steps[0].tag, tag);
}

#[test]
fn certs_trust_runs_the_planned_steps_and_untrust_removes_exactly_them() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let home = d.path().join("home");
    let ca = tempfile::tempdir().unwrap();
    let (ctx, sys) = ctx(
        engine(false)
            .env("HOME", &home.to_string_lossy())
            .env("DEVENV_CAROOT", &ca.path().join("ca").to_string_lossy())
            .program("certutil", "/usr/bin/certutil"),
        d.path(),
    );
    let project = ctx.project().unwrap();
    let plan = super::certs::plan_trust(&ctx, Some(&project), Default::default()).unwrap();
    assert!(plan.creates_ca);
    let text = plan.describe();
    assert!(text.contains("would create devenv's local CA"), "{text}");
    assert!(
        text.contains("certutil -A -d") && text.contains(".pki/nssdb"),
        "Chromium's database is planned: {text}"
    );
    assert!(sys.effects().is_empty(), "planning changed nothing");
    let planned: Vec<String> = plan
        .stores
        .iter()
        .flat_map(|s| s.steps.iter().cloned())
        .collect();
    let mut x = ctx.executor();
    let r = super::certs::trust(&ctx, &mut x, plan).unwrap();
    assert!(r.created_ca && r.ok(), "{:?}", r.stores);
    // exactly the planned steps ran (the CA's files and the record written besides)
    let ran: Vec<String> = mutations(&sys)
        .iter()
        .map(|c| format!("run: {c}"))
        .collect();
    assert_eq!(ran, planned);
    let written = sys.written();
    assert!(written.iter().any(|p| p.ends_with("rootCA-key.pem")));
    assert!(written.iter().any(|p| p.ends_with("trust.json")));
}

#[test]
fn diff_and_render_plan_without_effects() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let (ctx, sys) = ctx(engine(false), d.path());
    let diff = super::diff::diff(&ctx, None, None).unwrap();
    let text = crate::compare::format(&diff);
    assert!(
        text.contains("fake.test") && text.contains("fake.com"),
        "{text}"
    );
    let plan = super::render::plan(&ctx, Some("local")).unwrap();
    let files: Vec<String> = plan
        .rendered
        .files()
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    assert_eq!(files, ["stack.yml", "configs/page"]);
    assert!(sys.effects().is_empty());
    // writing the render goes through the executor, into the directory asked for only
    let out = d.path().join("out");
    let mut x = ctx.executor();
    let w = super::render::write(&mut x, &plan.rendered, &out).unwrap();
    assert_eq!(w.files, ["stack.yml", "configs/page"]);
    assert!(sys.written().iter().all(|p| p.starts_with(&out)));
}

#[test]
fn init_creates_the_project_files_through_the_executor() {
    let d = tempfile::tempdir().unwrap();
    let (ctx, sys) = ctx(FakeSys::new(), d.path());
    let plan = super::init::plan(&ctx, Some("shop"), &[], None).unwrap();
    assert!(
        plan.describe().contains("devenv.yaml"),
        "{}",
        plan.describe()
    );
    assert!(sys.effects().is_empty(), "planning changed nothing");
    let mut x = ctx.executor();
    super::init::apply(&mut x, &plan).unwrap();
    let written = sys.written();
    for f in ["devenv.yaml", "profiles/local.yaml", "profiles/server.yaml"] {
        assert!(
            written.iter().any(|p| p.ends_with(f)),
            "{f} created: {written:?}"
        );
    }
    assert!(written.iter().all(|p| p.starts_with(d.path())));
}

#[test]
fn exec_and_logs_run_in_the_services_container_through_the_executor() {
    let d = tempfile::tempdir().unwrap();
    with_tasks(d.path());
    let (ctx, sys) = ctx(task_engine(), d.path());
    let mut x = ctx.executor();
    super::service::exec(&ctx, &mut x, "web", &["touch".into(), "x".into()], None).unwrap();
    let m = mutations(&sys);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].ends_with("exec -i c-web touch x"), "{m:?}");
    // an unknown service is said, with the services there are
    let e = super::service::exec(&ctx, &mut x, "wbe", &[], None).unwrap_err();
    assert!(e.to_string().contains("wbe"), "{e}");
}

#[test]
fn status_reads_the_stack_and_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let (ctx, sys) = ctx(engine(true), d.path());
    let r = super::status::status(&ctx, Some("local")).unwrap();
    assert_eq!(r.profile, "local");
    assert!(r.deployed);
    let names: Vec<&str> = r.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web", "worker"]);
    assert!(sys.effects().is_empty());
}

#[test]
fn status_says_a_server_error_beside_the_address_not_that_it_is_not_http() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::write(
        d.path().join("templates/stack.yml"),
        "services:\n  web:\n    image: busybox:1\n    ports: [\"8080:80\"]\n  worker:\n    image: busybox:1\n",
    )
    .unwrap();
    let answer = crate::probe::Answer {
        served: crate::probe::Served::Http,
        status: Some(502),
    };
    let (ctx, _) = ctx(engine(true).serving(8080, answer), d.path());
    let r = super::status::status(&ctx, Some("local")).unwrap();
    assert_eq!(r.urls, ["http://fake.test:8080/"]);
    assert_eq!(
        super::url_line(&r.urls[0], &r.endpoints),
        "http://fake.test:8080/ (answered 502: `devenv logs web`)"
    );
    // a 200 is just the address
    let mut ok = r.endpoints.clone();
    ok[0].status = Some(200);
    assert_eq!(super::url_line(&r.urls[0], &ok), "http://fake.test:8080/");
}

#[test]
fn update_pulls_and_forces_each_service_it_names() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let (ctx, sys) = ctx(
        engine(true).respond(
            &format!(
                "{DOCKER} service inspect --format '{{{{.Spec.TaskTemplate.ContainerSpec.Image}}}}'"
            ),
            0,
            "busybox:1@sha256:00\n",
        ),
        d.path(),
    );
    let plan =
        super::update::plan(&ctx, &["web".into()], false, Duration::from_secs(5), false).unwrap();
    assert!(plan.describe().contains("web"), "{}", plan.describe());
    assert!(sys.effects().is_empty(), "planning changed nothing");
    let e = super::update::plan(&ctx, &["wbe".into()], false, Duration::from_secs(5), false)
        .err()
        .unwrap();
    assert!(e.to_string().contains("wbe"), "{e}");
    let mut x = ctx.executor();
    super::update::apply(&ctx, &mut x, plan).unwrap();
    let m = mutations(&sys);
    assert_eq!(
        m,
        [
            format!("{DOCKER} pull -q busybox:1"),
            format!("{DOCKER} service update --force --detach fake_web")
        ]
    );
}

/// The local profile `init` writes, and its domain.
fn init_local(sys: FakeSys, from: &[&str], tld: Option<crate::adopt::LocalTld>) -> String {
    let d = tempfile::tempdir().unwrap();
    if !from.is_empty() {
        std::fs::write(
            d.path().join("compose.yaml"),
            "services:\n  app:\n    image: busybox:1\n    ports: [\"8000:8000\"]\n",
        )
        .unwrap();
    }
    let (ctx, _) = ctx(sys, d.path());
    let from: Vec<std::path::PathBuf> = from.iter().map(|f| d.path().join(f)).collect();
    let plan = super::init::plan(&ctx, Some("blog"), &from, tld).unwrap();
    let (_, local) = plan
        .files
        .iter()
        .find(|(rel, _)| rel == "profiles/local.yaml")
        .expect("a local profile");
    local.clone()
}

#[test]
fn init_offers_localhost_names_on_windows_without_administrator() {
    use crate::adopt::LocalTld;
    let windows = || {
        FakeSys::new()
            .platform(crate::platform::Platform::windows())
            .admin(false)
    };
    for from in [&[][..], &["compose.yaml"][..]] {
        let local = init_local(windows(), from, None);
        assert!(
            local.contains("domain: blog.localhost"),
            "{from:?}: {local}"
        );
        assert!(
            local.contains("hosts: [blog.localhost]"),
            "{from:?}: {local}"
        );
        // asked for .test, or elevated, or elsewhere: .test
        let local = init_local(windows(), from, Some(LocalTld::Test));
        assert!(local.contains("domain: blog.test"), "{from:?}: {local}");
        let local = init_local(windows().admin(true), from, None);
        assert!(local.contains("domain: blog.test"), "{from:?}: {local}");
        let local = init_local(FakeSys::new(), from, None);
        assert!(local.contains("domain: blog.test"), "{from:?}: {local}");
        // and a flag anywhere
        let local = init_local(FakeSys::new(), from, Some(LocalTld::Localhost));
        assert!(
            local.contains("domain: blog.localhost"),
            "{from:?}: {local}"
        );
    }
}

#[test]
fn a_localhost_profile_leaves_the_hosts_file_alone_unless_asked() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::write(
        d.path().join("profiles/local.yaml"),
        "domain: fake.localhost\nhosts: [fake.localhost, api.fake.localhost]\ndocker: {swarm: true}\n",
    )
    .unwrap();
    std::fs::write(d.path().join("hosts"), "127.0.0.1 localhost\n").unwrap();
    // up: no hosts step, no elevation, no flush; the note says why
    let (ctx, sys) = ctx(engine(false), d.path());
    let plan = up::plan(&ctx, Some("local"), options()).unwrap();
    let hosts = plan.hosts.as_ref().expect("the hosts step is planned");
    assert!(hosts.files.is_empty() && hosts.flush.is_empty() && !hosts.changes());
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("names are under .localhost")),
        "{:?}",
        plan.notes
    );
    assert!(sys.effects().is_empty());
    // switch neither
    let (ctx, _) = self::ctx(FakeSys::new(), d.path());
    let plan = switch::plan(&ctx, Some("local")).unwrap();
    assert!(!plan.hosts.changes());
    // `hosts apply` maps them, for programs that ask the system's resolver
    let plan = super::hosts::plan(
        &ctx,
        &ctx.project().unwrap(),
        &ctx.profile(&ctx.project().unwrap(), Some("local")).unwrap(),
        crate::hosts::sync::Want::Apply,
    )
    .unwrap();
    assert!(plan.changes());
    assert!(
        plan.describe().contains("api.fake.localhost"),
        "{}",
        plan.describe()
    );
}

#[test]
fn windows_ports_are_checked_before_anything_changes() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    std::fs::write(
        d.path().join("templates/stack.yml"),
        "services:\n  web:\n    image: busybox:1\n    ports: [\"443:443\"]\n  worker:\n    image: busybox:1\n",
    )
    .unwrap();
    let excluded = "\r\nProtocol tcp Port Exclusion Ranges\r\n\r\nStart Port    End Port\r\n----------    --------\r\n       443         443\r\n      2180        2279\r\n\r\n* - Administered port exclusions.\r\n";
    let windows = || {
        engine(false)
            .platform(crate::platform::Platform::windows())
            .respond("netsh interface ipv4 show excludedportrange", 0, excluded)
    };
    let (ctx, sys) = ctx(windows(), d.path());
    let e = up::plan(&ctx, Some("local"), options())
        .err()
        .expect("refused");
    assert_eq!(crate::error::exit_code(&e), 2, "{e:#}");
    assert!(
        e.to_string().contains(
            "port 443, which the stack publishes, cannot be used on this machine: port 443 is in the range 443 that Windows reserved"
        ),
        "{e}"
    );
    let hint = e
        .downcast_ref::<UserError>()
        .and_then(|u| u.hint.clone())
        .unwrap();
    assert!(hint.contains("net stop winnat"), "{hint}");
    assert!(hint.ends_with("nothing was changed"), "{hint}");
    assert!(sys.effects().is_empty());
    // the swarm's port, for a first `swarm init`
    std::fs::write(
        d.path().join("templates/stack.yml"),
        "services:\n  web:\n    image: busybox:1\n",
    )
    .unwrap();
    let reserved_2377 = "Start Port    End Port\r\n      2300        2399\r\n";
    let uninit = FakeSys::new()
        .program("docker", "/usr/bin/docker")
        .platform(crate::platform::Platform::windows())
        .respond(
            &format!("{DOCKER} info"),
            0,
            r#"{"ServerVersion":"27.0.1","OSType":"linux","Architecture":"x86_64","NCPU":2,"Swarm":{"LocalNodeState":"inactive","ControlAvailable":false,"Cluster":null,"Nodes":0}}"#,
        )
        .respond("netsh interface ipv4 show excludedportrange", 0, reserved_2377);
    let (ctx, _) = self::ctx(uninit, d.path());
    let e = up::plan(&ctx, Some("local"), options())
        .err()
        .expect("refused");
    assert!(
        e.to_string()
            .contains("port 2377, which `docker swarm init` needs"),
        "{e:#}"
    );
}

#[test]
fn ipvs_is_judged_on_the_engines_kernel_and_a_loadable_module_counts() {
    use crate::sys::ipvs::IpvsState;
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let info = |kernel: &str| {
        format!(
            r#"{{"ServerVersion":"26.1.5","KernelVersion":"{kernel}","OperatingSystem":"x","Swarm":{{"LocalNodeState":"active","ControlAvailable":true,"Cluster":{{"ID":"c1"}},"Nodes":1}}}}"#
        )
    };
    let judge = |state: IpvsState, engine_kernel: &str| {
        let sys = FakeSys::new()
            .program("docker", "/usr/bin/docker")
            .kernel("6.1.0-13-amd64")
            .ipvs_state(Some(state))
            .respond(&format!("{DOCKER} info"), 0, &info(engine_kernel));
        let (ctx, _) = ctx(sys, d.path());
        let project = ctx.project().unwrap();
        let profile = ctx.profile(&project, Some("local")).unwrap();
        (
            ctx.engine_ipvs(&profile),
            ctx.facts(&project, &profile).ipvs,
        )
    };
    // a stock kernel before the first ingress service: the routing mesh, as after it
    assert_eq!(
        judge(IpvsState::Loadable, "6.1.0-13-amd64"),
        (Some(IpvsState::Loadable), Some(true))
    );
    assert_eq!(
        judge(IpvsState::Loaded, "6.1.0-13-amd64"),
        (Some(IpvsState::Loaded), Some(true))
    );
    // a kernel without it: host-mode ports
    assert_eq!(
        judge(IpvsState::Absent, "6.1.0-13-amd64"),
        (Some(IpvsState::Absent), Some(false))
    );
    // the engine runs on another kernel (Docker Desktop's VM): this machine's is not asked
    assert_eq!(judge(IpvsState::Absent, "6.10.14-linuxkit"), (None, None));
}

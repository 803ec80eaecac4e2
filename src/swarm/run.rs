//! Running one command in a service's world: `docker exec` in a running task of the service on
//! this engine, or a one-off swarm job (`--mode replicated-job`) made from the service's own spec
//! — its image, networks, mounts, secrets, configs, environment, user and placement — so it runs
//! on any node and leaves the service's tasks alone. Output is streamed line by line; the exit
//! code and the last lines are returned.

use crate::swarm::docker::Apply;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::docker::{Docker, TaskLine};
use crate::error::UserError;
use crate::exec::Executor;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The command's exit code; `None` when it was stopped at the timeout.
    pub exit: Option<i32>,
    /// Its last lines of output (at most [`TAIL`]).
    pub tail: Vec<String>,
}

/// How many lines of output a failure shows.
pub const TAIL: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerLine {
    #[serde(rename = "ID", default)]
    id: String,
}

/// The running containers of service `full` on the engine of this context (this node), by id.
pub fn running_containers(docker: &Docker<'_>, full: &str) -> anyhow::Result<Vec<String>> {
    let containers: Vec<ContainerLine> = docker.json_lines([
        "ps",
        "--filter",
        &format!("label=com.docker.swarm.service.name={full}"),
        "--filter",
        "status=running",
        "--format",
        super::docker::JSON,
    ])?;
    Ok(containers.into_iter().map(|c| c.id).collect())
}

/// A running container of service `full` on the engine of this context, or why there is none.
pub fn running_container(docker: &Docker<'_>, service: &str, full: &str) -> anyhow::Result<String> {
    if let Some(id) = running_containers(docker, full)?.into_iter().next() {
        return Ok(id);
    }
    let tasks = super::converge::task_lines(
        docker,
        &[
            "service",
            "ps",
            full,
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            super::docker::JSON,
        ],
    )?;
    let running: Vec<&TaskLine> = tasks.iter().filter(|t| t.state() == "running").collect();
    if let Some(t) = running.first() {
        return Err(UserError::new(format!(
            "the running task of {service} is on node {}, and `exec` reaches containers of this node only",
            t.node
        ))
        .hint(format!(
            "run devenv with a docker context for node {} (or give the task `in: job`, which runs on any node)",
            t.node
        ))
        .into());
    }
    Err(UserError::new(format!("{service} has no running task"))
        .hint("`devenv status` shows why")
        .into())
}

/// Keeps the last [`TAIL`] lines and shows each one as it comes.
struct Lines<'a> {
    tail: Vec<String>,
    show: &'a mut dyn FnMut(&str),
}

impl Lines<'_> {
    fn push(&mut self, l: &str) {
        (self.show)(l);
        self.tail.push(l.to_string());
        if self.tail.len() > TAIL {
            self.tail.remove(0);
        }
    }
}

/// What the wrapper of a task prints first (on stderr): the process group the task runs in.
pub const PGID_MARK: &str = "devenv-task-pgid ";

/// `argv` run by a shell that first says its process id — the process group of everything the
/// task starts (`docker exec` makes each command a session leader) — then becomes the task.
pub fn wrapped(argv: &[String]) -> Vec<String> {
    let mut v = vec![
        "sh".to_string(),
        "-c".into(),
        format!("echo \"{PGID_MARK}$$\" >&2; exec \"$@\""),
        "devenv-task".into(),
    ];
    v.extend(argv.iter().cloned());
    v
}

/// How long a stopped task's processes get between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The commands that stop process group `pgid` in `container`: SIGTERM, a grace period, SIGKILL.
pub fn stop_group(docker: &Docker<'_>, container: &str, pgid: u32) -> Vec<crate::cmd::Cmd> {
    let group = format!("-{pgid}");
    vec![
        docker.cmd(["exec", container, "kill", "-TERM", group.as_str()]),
        docker.cmd([
            "exec",
            container,
            "sh",
            "-c",
            &format!(
                "i=0; while [ $i -lt {} ]; do kill -0 {group} 2>/dev/null || exit 0; sleep 1; i=$((i+1)); done; kill -KILL {group}",
                STOP_GRACE.as_secs()
            ),
        ]),
    ]
}

/// `docker exec` of `argv` in `container`, streamed. The task runs in a process group of its own
/// there; a timeout or an interrupt (Ctrl-C) stops that group in the container — not only the
/// local `docker exec`, which would leave the task running.
pub fn exec(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    container: &str,
    argv: &[String],
    user: Option<&str>,
    timeout: Duration,
    show: &mut dyn FnMut(&str),
) -> anyhow::Result<RunOutcome> {
    let mut args = vec!["exec".to_string()];
    if let Some(u) = user {
        args.push("--user".into());
        args.push(u.into());
    }
    args.push(container.into());
    args.extend(wrapped(argv));
    let mut lines = Lines {
        tail: Vec::new(),
        show,
    };
    let guard = x.on_interrupt(Vec::new());
    let mut pgid: Option<u32> = None;
    let exit = x
        .run_streamed(&docker.cmd(args), timeout, &mut |l| {
            if pgid.is_none()
                && let Some(n) = l
                    .strip_prefix(PGID_MARK)
                    .and_then(|n| n.trim().parse().ok())
            {
                pgid = Some(n);
                guard.replace(stop_group(docker, container, n));
                return;
            }
            lines.push(l)
        })
        .map_err(|e| anyhow::anyhow!("cannot run docker ({}): {e}", docker.program))?;
    if exit.is_none()
        && let Some(g) = pgid
    {
        // the local client is gone; the task itself still runs in the container
        for c in stop_group(docker, container, g) {
            let _ = x.run(&c);
        }
    }
    drop(guard);
    Ok(RunOutcome {
        exit,
        tail: lines.tail,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Spec {
    #[serde(default)]
    task_template: TaskTemplate,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskTemplate {
    #[serde(default)]
    container_spec: ContainerSpec,
    #[serde(default)]
    networks: Vec<NetworkAttachment>,
    #[serde(default)]
    placement: Placement,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerSpec {
    #[serde(default)]
    image: String,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    mounts: Vec<MountSpec>,
    #[serde(default)]
    secrets: Vec<FileRef>,
    #[serde(default)]
    configs: Vec<FileRef>,
    #[serde(default)]
    user: String,
    #[serde(default)]
    dir: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MountSpec {
    #[serde(default, rename = "Type")]
    kind: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    read_only: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileRef {
    #[serde(default)]
    file: Option<FileTarget>,
    #[serde(default)]
    secret_name: String,
    #[serde(default)]
    config_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileTarget {
    #[serde(default)]
    name: String,
    #[serde(rename = "UID", default)]
    uid: String,
    #[serde(rename = "GID", default)]
    gid: String,
    #[serde(default)]
    mode: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkAttachment {
    #[serde(default)]
    target: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Placement {
    #[serde(default)]
    constraints: Vec<String>,
}

/// The swarm job's name for a task of a stack (at most 63 characters, as swarm wants).
pub fn job_name(stack: &str, task: &str) -> String {
    let mut n = format!("{stack}_task-{task}");
    n.truncate(63);
    n
}

/// `docker service create` arguments for a one-off job running `argv` with the spec of a service
/// (as `docker service inspect --format '{{json .Spec}}'` prints it).
pub fn job_args(
    spec_json: &str,
    name: &str,
    stack: &str,
    task: &str,
    argv: &[String],
    user: Option<&str>,
    registry_auth: bool,
) -> anyhow::Result<Vec<String>> {
    let spec: Spec = serde_json::from_str(spec_json.trim())
        .map_err(|e| anyhow::anyhow!("cannot read the service's spec from docker: {e}"))?;
    let c = &spec.task_template.container_spec;
    let Some((entry, rest)) = argv.split_first() else {
        anyhow::bail!("the task has no command");
    };
    let mut a: Vec<String> = vec![
        "service".into(),
        "create".into(),
        "--detach".into(),
        "--quiet".into(),
        "--name".into(),
        name.into(),
        "--mode".into(),
        "replicated-job".into(),
        "--restart-condition".into(),
        "none".into(),
        "--label".into(),
        format!("com.docker.stack.namespace={stack}"),
        "--label".into(),
        format!("devenv.task={task}"),
    ];
    for n in &spec.task_template.networks {
        a.push("--network".into());
        a.push(n.target.clone());
    }
    for e in &c.env {
        a.push("--env".into());
        a.push(e.clone());
    }
    for m in &c.mounts {
        let mut s = format!(
            "type={}",
            if m.kind.is_empty() { "volume" } else { &m.kind }
        );
        if !m.source.is_empty() {
            s.push_str(&format!(",source={}", m.source));
        }
        s.push_str(&format!(",target={}", m.target));
        if m.read_only {
            s.push_str(",readonly");
        }
        a.push("--mount".into());
        a.push(s);
    }
    for (flag, refs) in [("--secret", &c.secrets), ("--config", &c.configs)] {
        for r in refs {
            let source = if flag == "--secret" {
                &r.secret_name
            } else {
                &r.config_name
            };
            let mut s = format!("source={source}");
            if let Some(f) = &r.file {
                s.push_str(&format!(",target={}", f.name));
                if !f.uid.is_empty() {
                    s.push_str(&format!(",uid={}", f.uid));
                }
                if !f.gid.is_empty() {
                    s.push_str(&format!(",gid={}", f.gid));
                }
                if f.mode != 0 {
                    s.push_str(&format!(",mode=0{:o}", f.mode));
                }
            }
            a.push(flag.into());
            a.push(s);
        }
    }
    for k in &spec.task_template.placement.constraints {
        a.push("--constraint".into());
        a.push(k.clone());
    }
    if let Some(u) = user.or((!c.user.is_empty()).then_some(c.user.as_str())) {
        a.push("--user".into());
        a.push(u.into());
    }
    if !c.dir.is_empty() {
        a.push("--workdir".into());
        a.push(c.dir.clone());
    }
    if registry_auth {
        a.push("--with-registry-auth".into());
    }
    // the command as it is: its first word is the entrypoint (as `docker exec` would run it)
    a.push("--entrypoint".into());
    a.push(entry.clone());
    a.push(c.image.clone());
    a.extend(rest.iter().cloned());
    Ok(a)
}

/// The exit code in a task's error (`task: non-zero exit (3)`).
pub fn exit_code(error: &str) -> Option<i32> {
    let i = error.find("non-zero exit (")? + "non-zero exit (".len();
    error[i..].split(')').next()?.trim().parse().ok()
}

/// Runs `argv` as a one-off job with the spec of service `full`, streaming its logs, and removes
/// the job after.
#[allow(clippy::too_many_arguments)]
pub fn job(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    stack: &str,
    full: &str,
    task: &str,
    argv: &[String],
    user: Option<&str>,
    registry_auth: bool,
    timeout: Duration,
    show: &mut dyn FnMut(&str),
) -> anyhow::Result<RunOutcome> {
    let spec = docker.try_query(["service", "inspect", full, "--format", "{{json .Spec}}"])?;
    if !spec.ok() {
        return Err(UserError::new(format!("service {full} does not exist"))
            .hint("`devenv up` deploys it")
            .into());
    }
    let name = job_name(stack, task);
    // what a killed run left behind
    let _ = x.docker_raw(docker, ["service", "rm", name.as_str()]);
    let args = job_args(
        &spec.stdout_str(),
        &name,
        stack,
        task,
        argv,
        user,
        registry_auth,
    )?;
    x.docker(docker, args)?;
    // Ctrl-C removes the job (and so stops its task) before devenv ends
    let _guard = x.on_interrupt(vec![docker.cmd(["service", "rm", name.as_str()])]);
    let mut lines = Lines {
        tail: Vec::new(),
        show,
    };
    let started = Instant::now();
    let mut shown = 0usize;
    let outcome = loop {
        let tasks = super::converge::task_lines(
            docker,
            &[
                "service",
                "ps",
                name.as_str(),
                "--no-trunc",
                "--format",
                super::docker::JSON,
            ],
        )?;
        let t = tasks.first();
        let state = t.map(TaskLine::state).unwrap_or_default();
        let done = matches!(
            state.as_str(),
            "complete" | "failed" | "rejected" | "shutdown"
        );
        // the logs so far (the new lines only)
        let logs = docker.try_query(["service", "logs", "--raw", name.as_str()])?;
        let text = format!("{}{}", logs.stdout_str(), logs.stderr_str());
        let all: Vec<&str> = text.lines().collect();
        for l in all.iter().skip(shown) {
            lines.push(l);
        }
        shown = shown.max(all.len());
        if done {
            let t = t.expect("a task when done");
            break match state.as_str() {
                "complete" => Some(0),
                "rejected" => {
                    let _ = x.docker_raw(docker, ["service", "rm", name.as_str()]);
                    return Err(UserError::new(format!(
                        "the job for task `{task}` was rejected: {}",
                        t.error
                    ))
                    .into());
                }
                _ => Some(exit_code(&t.error).unwrap_or(1)),
            };
        }
        if started.elapsed() >= timeout {
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    x.docker_raw(docker, ["service", "rm", name.as_str()])?;
    Ok(RunOutcome {
        exit: outcome,
        tail: lines.tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"{"Name":"blog_web","Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"blog/web:abc@sha256:00","Env":["A=1","DATABASE_HOST=postgres"],"Mounts":[{"Type":"volume","Source":"blog_media","Target":"/media"},{"Type":"bind","Source":"/srv/blog","Target":"/src","ReadOnly":true}],"Secrets":[{"File":{"Name":"db_password","UID":"0","GID":"0","Mode":292},"SecretID":"x","SecretName":"blog_db_password_1a2b"}],"Configs":[{"File":{"Name":"/etc/app.conf","UID":"0","GID":"0","Mode":292},"ConfigID":"y","ConfigName":"blog_app.conf_3c4d"}],"User":"app","Dir":"/app"},"Networks":[{"Target":"n1abc","Aliases":["web"]},{"Target":"n2def"}],"Placement":{"Constraints":["node.role == manager"]}},"Mode":{"Replicated":{"Replicas":1}}}"#;

    #[test]
    fn a_job_has_the_services_world() {
        let a = job_args(
            SPEC,
            "blog_task-migrate",
            "blog",
            "migrate",
            &["python".into(), "manage.py".into(), "migrate".into()],
            None,
            false,
        )
        .unwrap();
        let line = a.join(" ");
        for want in [
            "service create --detach --quiet --name blog_task-migrate --mode replicated-job --restart-condition none",
            "--label com.docker.stack.namespace=blog --label devenv.task=migrate",
            "--network n1abc --network n2def",
            "--env A=1 --env DATABASE_HOST=postgres",
            "--mount type=volume,source=blog_media,target=/media --mount type=bind,source=/srv/blog,target=/src,readonly",
            "--secret source=blog_db_password_1a2b,target=db_password,uid=0,gid=0,mode=0444",
            "--config source=blog_app.conf_3c4d,target=/etc/app.conf",
            "--constraint node.role == manager",
            "--user app --workdir /app",
            "--entrypoint python blog/web:abc@sha256:00 manage.py migrate",
        ] {
            assert!(line.contains(want), "{want:?} not in\n{line}");
        }
        assert!(line.ends_with("manage.py migrate"));
    }

    #[test]
    fn exit_codes_from_task_errors() {
        assert_eq!(exit_code("task: non-zero exit (3)"), Some(3));
        assert_eq!(exit_code("starting container failed"), None);
        assert!(job_name(&"s".repeat(60), "migrate").len() <= 63);
    }
}

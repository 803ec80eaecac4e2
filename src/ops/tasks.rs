//! Tasks: the one-shot commands of `devenv.yaml` (`migrate`, `createsuperuser`, seeding). Which
//! are due after a deploy is decided from what devenv recorded of their runs — a `first-deploy`
//! task once per profile and swarm, an `image-changed` task whenever its service's image is not
//! the one it last succeeded with — and `up` runs them after the services converge; `devenv run`
//! runs one on demand. Output is streamed with the task's name in front; a failure carries the
//! exit code and the last lines.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use serde::Serialize;

use super::Ctx;
use crate::error::{ConfigError, UserError, did_you_mean};
use crate::exec::Executor;
use crate::profile::{Profile, Project, RunsIn, Task, When};
use crate::render::Rendered;
use crate::state::State;
use crate::swarm::docker::Docker;
use crate::swarm::run::RunOutcome;

/// A task `up` runs, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    pub name: String,
    pub service: String,
    pub command: String,
    /// "first deploy on this swarm", "the image of web changed"
    pub why: String,
    #[serde(skip)]
    pub task: Task,
    /// The service's image as the task will see it (its id where known).
    pub image: String,
}

/// The tasks of `profile`, checked against the rendered stack: a task naming a service that is
/// not there, or a profile that does not exist, is an error at its line in devenv.yaml.
pub fn check(project: &Project, r: &Rendered) -> Result<(), ConfigError> {
    let names = r.service_names();
    let profiles = project.profile_names();
    let file = project.root.join(crate::profile::PROJECT_FILE);
    for (name, t) in &project.file.tasks {
        if !t.for_profile(&r.profile) {
            continue;
        }
        if !names.contains(&t.service) {
            let mut e = ConfigError::new(
                &file,
                format!(
                    "task `{name}` runs in service `{}`, which the stack of profile `{}` does not have",
                    t.service, r.profile
                ),
            )
            .at_text(&project.source, &format!("service: {}", t.service));
            e = match did_you_mean(&t.service, names.iter().map(String::as_str)) {
                Some(s) => e.hint(format!("did you mean `{s}`?")),
                None => e.hint(format!("the services are: {}", names.join(", "))),
            };
            return Err(e);
        }
        for p in &t.profiles {
            if !profiles.contains(p) {
                return Err(ConfigError::new(
                    &file,
                    format!("task `{name}` is for profile `{p}`, which does not exist"),
                )
                .at_text(&project.source, p)
                .hint(format!("the profiles are: {}", profiles.join(", "))));
            }
        }
    }
    Ok(())
}

/// The image key of each service: its image's id where known, else the reference.
pub fn service_images(
    stack: &serde_yaml_ng::Mapping,
    ids: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    crate::swarm::deploy::images(stack)
        .into_iter()
        .map(|(svc, image)| {
            let key = ids.get(&image).cloned().unwrap_or(image);
            (svc, key)
        })
        .collect()
}

/// The tasks due after a deploy of `profile` to swarm `cluster_id`, in the file's order.
pub fn due(
    project: &Project,
    profile: &str,
    state: &State,
    cluster_id: &str,
    images: &BTreeMap<String, String>,
) -> Vec<Due> {
    let records = state.tasks.get(profile);
    let mut out = Vec::new();
    for (name, t) in &project.file.tasks {
        if !t.for_profile(profile) || !t.automatic() {
            continue;
        }
        let rec = records.and_then(|r| r.get(name));
        let image = images.get(&t.service).cloned().unwrap_or_default();
        let ran_here = rec.is_some_and(|r| {
            r.ok_at.is_some()
                && r.ok_cluster_id.as_deref() == Some(cluster_id)
                && !cluster_id.is_empty()
        });
        let why = if t.when.contains(&When::FirstDeploy) && !ran_here {
            Some("first deploy on this swarm".to_string())
        } else if t.when.contains(&When::ImageChanged)
            && rec.and_then(|r| r.ok_image.as_deref()) != Some(image.as_str())
        {
            Some(format!("the image of {} changed", t.service))
        } else {
            None
        };
        if let Some(why) = why {
            out.push(Due {
                name: name.clone(),
                service: t.service.clone(),
                command: t.command.display(),
                why,
                task: t.clone(),
                image,
            });
        }
    }
    out
}

/// The argv of a task with extra arguments: appended to an argv; for a shell string, passed as
/// `"$@"` after it.
pub fn argv(t: &Task, extra: &[String]) -> Vec<String> {
    let mut v = t.command.argv();
    if extra.is_empty() {
        return v;
    }
    match &t.command {
        crate::profile::Command::Shell(s) => {
            v[2] = format!("{s} \"$@\"");
            v.push("devenv-task".into());
            v.extend(extra.iter().cloned());
        }
        crate::profile::Command::Argv(_) => v.extend(extra.iter().cloned()),
    }
    v
}

/// Runs one task in its service of `stack`, its output streamed with the name in front.
#[allow(clippy::too_many_arguments)]
pub fn run_one(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    stack: &str,
    name: &str,
    t: &Task,
    extra: &[String],
    registry_auth: bool,
    quiet: bool,
) -> anyhow::Result<RunOutcome> {
    let full = format!("{stack}_{}", t.service);
    let argv = argv(t, extra);
    let prefix = format!("[{name}]");
    let mut show = |l: &str| {
        if !quiet {
            crate::ui::task_line(&prefix, l);
        }
    };
    match t.runs_in {
        RunsIn::Exec => {
            let container = crate::swarm::run::running_container(docker, &t.service, &full)?;
            crate::swarm::run::exec(
                x,
                docker,
                &container,
                &argv,
                t.user.as_deref(),
                t.timeout(),
                &mut show,
            )
        }
        RunsIn::Job => crate::swarm::run::job(
            x,
            docker,
            stack,
            &full,
            name,
            &argv,
            t.user.as_deref(),
            registry_auth,
            t.timeout(),
            &mut show,
        ),
    }
}

/// Records a run of task `name` of `profile`.
pub fn record(
    state: &mut State,
    profile: &str,
    name: &str,
    o: &RunOutcome,
    cluster_id: &str,
    image: &str,
    now: &str,
) {
    let r = state
        .tasks
        .entry(profile.to_string())
        .or_default()
        .entry(name.to_string())
        .or_default();
    r.last_run = now.to_string();
    r.last_exit = o.exit;
    if o.exit == Some(0) {
        r.ok_at = Some(now.to_string());
        r.ok_cluster_id = Some(cluster_id.to_string());
        r.ok_image = Some(image.to_string());
    }
}

/// A failed task as an error: its exit code (or the timeout) and its last lines.
pub fn failure(name: &str, t: &Task, o: &RunOutcome) -> anyhow::Error {
    let what = match o.exit {
        Some(c) => format!("exited with code {c}"),
        None => format!(
            "did not finish within {}s and was stopped (its processes in the container too)",
            t.timeout().as_secs()
        ),
    };
    let mut msg = format!(
        "task `{name}` ({}) in {} {what}",
        t.command.display(),
        t.service
    );
    if !o.tail.is_empty() {
        msg.push_str(&format!("\n--- its last lines ---\n{}", o.tail.join("\n")));
    }
    let e = UserError::new(msg).hint(format!(
        "fix it, then `devenv run {name}` (or `devenv up`, which runs it again)"
    ));
    // a task stopped at its timeout: exit 3, as every timeout
    match o.exit {
        None => e.code(crate::error::EXIT_TIMEOUT).into(),
        Some(_) => e.into(),
    }
}

/// `devenv run TASK [-- ARGS]`.
pub struct RunPlan {
    pub project: Project,
    pub profile: Profile,
    pub stack: String,
    pub name: String,
    pub task: Task,
    pub extra: Vec<String>,
}

impl RunPlan {
    pub fn describe(&self) -> String {
        format!(
            "would run task {} in service {} of stack {} on context `{}` ({}): {}\n",
            self.name,
            self.task.service,
            self.stack,
            self.profile.file.docker.context,
            match self.task.runs_in {
                RunsIn::Exec => "in a running task",
                RunsIn::Job => "as a one-off swarm job",
            },
            crate::sys::Cmd::new("")
                .args(argv(&self.task, &self.extra))
                .display()
                .trim()
        )
    }
}

pub fn plan_run(ctx: &Ctx, name: &str, extra: &[String]) -> anyhow::Result<RunPlan> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, None)?;
    let Some(task) = project.file.task(name).cloned() else {
        let names: Vec<&str> = project.file.tasks.iter().map(|(n, _)| n.as_str()).collect();
        let mut e = UserError::usage(if names.is_empty() {
            format!("no task `{name}`: devenv.yaml defines no tasks")
        } else {
            format!("no task `{name}`; the tasks are: {}", names.join(", "))
        });
        e = match did_you_mean(name, names.iter().copied()) {
            Some(s) => e.hint(format!("did you mean `{s}`?")),
            None => e.hint("tasks are defined under `tasks:` in devenv.yaml"),
        };
        return Err(e.into());
    };
    if !task.for_profile(&profile.name) {
        return Err(UserError::usage(format!(
            "task `{name}` is for profile{} {}, and the active profile is {}",
            if task.profiles.len() > 1 { "s" } else { "" },
            task.profiles.join(", "),
            profile.name
        ))
        .hint("pass --profile to run it for another profile")
        .into());
    }
    let r = ctx.render(&project, &profile)?;
    check(&project, &r)?;
    Ok(RunPlan {
        stack: r.stack_name.clone(),
        project,
        profile,
        name: name.to_string(),
        task,
        extra: extra.to_vec(),
    })
}

/// Runs the task (attached to the terminal when there is one: `createsuperuser` asks questions)
/// and records it; returns the task's exit code.
pub fn apply_run(ctx: &Ctx, x: &mut Executor<'_>, plan: &RunPlan) -> anyhow::Result<i32> {
    let docker = ctx.docker(&plan.profile)?;
    let mut state = State::load(&plan.project.root)?;
    let target = crate::swarm::guard::check(
        &docker,
        &plan.profile,
        &state,
        crate::swarm::guard::Purpose::Existing,
        false,
    )?;
    let full = format!("{}_{}", plan.stack, plan.task.service);
    let t = &plan.task;
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let outcome = if tty && t.runs_in == RunsIn::Exec && !ctx.g.json {
        let container = crate::swarm::run::running_container(&docker, &t.service, &full)?;
        let mut args = vec!["exec".to_string(), "-it".into()];
        if let Some(u) = &t.user {
            args.push("--user".into());
            args.push(u.clone());
        }
        args.push(container);
        args.extend(argv(t, &plan.extra));
        let code = x.run_attached(&docker.cmd(args))?;
        RunOutcome {
            exit: Some(code),
            tail: Vec::new(),
        }
    } else {
        run_one(
            x,
            &docker,
            &plan.stack,
            &plan.name,
            t,
            &plan.extra,
            plan.profile.file.registry.is_some(),
            ctx.g.quiet,
        )?
    };
    let image = current_image(&docker, &full).unwrap_or_default();
    record(
        &mut state,
        &plan.profile.name,
        &plan.name,
        &outcome,
        &target.cluster_id,
        &image,
        &super::now_rfc3339(ctx.sys.as_ref()),
    );
    super::save_state(x, &plan.project, &state)?;
    match outcome.exit {
        Some(0) => Ok(0),
        // `--json`: the command's document says the task's exit code, and devenv exits with it
        Some(c) if ctx.g.json => Ok(c),
        Some(c) => {
            crate::ui::error(&format!("task `{}` exited with code {c}", plan.name));
            Ok(c)
        }
        None => Err(failure(&plan.name, t, &outcome)),
    }
}

/// The image id of the service's spec image on this engine (or its reference).
fn current_image(docker: &Docker<'_>, full: &str) -> Option<String> {
    let o = docker
        .try_query([
            "service",
            "inspect",
            full,
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        ])
        .ok()?;
    if !o.ok() {
        return None;
    }
    let image = o.stdout_str().trim().to_string();
    let plain = image.split('@').next().unwrap_or(&image).to_string();
    let ids = crate::swarm::deploy::image_ids(docker, std::slice::from_ref(&plain)).ok()?;
    Some(ids.get(&plain).cloned().unwrap_or(plain))
}

/// What `status` shows of the tasks of a profile.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub name: String,
    pub service: String,
    pub when: Vec<&'static str>,
    pub last_run: Option<String>,
    pub last_exit: Option<i32>,
    pub last_ok: Option<String>,
}

pub fn status(project: &Project, profile: &str, state: &State) -> Vec<TaskStatus> {
    let records = state.tasks.get(profile);
    project
        .file
        .tasks
        .iter()
        .filter(|(_, t)| t.for_profile(profile))
        .map(|(name, t)| {
            let r = records.and_then(|r| r.get(name));
            TaskStatus {
                name: name.clone(),
                service: t.service.clone(),
                when: if t.when.is_empty() {
                    vec![When::Manual.as_str()]
                } else {
                    t.when.iter().map(|w| w.as_str()).collect()
                },
                last_run: r.map(|r| r.last_run.clone()),
                last_exit: r.and_then(|r| r.last_exit),
                last_ok: r.and_then(|r| r.ok_at.clone()),
            }
        })
        .collect()
}

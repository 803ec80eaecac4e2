//! `logs`, `exec`, `update`: the per-service commands.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::Ctx;
use crate::cli::{ExecArgs, LogsArgs, UpdateArgs};
use crate::error::{UserError, did_you_mean};
use crate::profile::{Profile, Project};
use crate::state::State;
use crate::swarm::docker::{Docker, TaskLine};
use crate::swarm::watch::{self, Outcome};

/// The stack's full name of a service the user named (with a suggestion for a typo).
pub fn resolve(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    name: &str,
) -> anyhow::Result<String> {
    let r = ctx.render_readonly(project, profile)?;
    let names = r.service_names();
    let short = name
        .strip_prefix(&format!("{}_", r.stack_name))
        .unwrap_or(name);
    if names.iter().any(|n| n == short) {
        return Ok(format!("{}_{short}", r.stack_name));
    }
    let mut e = UserError::usage(format!(
        "the stack has no service `{name}`; its services: {}",
        names.join(", ")
    ));
    if let Some(s) = did_you_mean(short, names.iter().map(String::as_str)) {
        e = e.hint(format!("did you mean `{s}`?"));
    }
    Err(e.into())
}

pub fn logs(ctx: &Ctx, a: LogsArgs) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, None)?;
    let full = resolve(ctx, &project, &profile, &a.service)?;
    let docker = Docker::new(ctx.sys.as_ref(), &profile.file.docker.context, false)?;
    let mut args = vec![
        "service".to_string(),
        "logs".into(),
        "--tail".into(),
        a.tail.to_string(),
    ];
    if a.follow {
        args.push("--follow".into());
    }
    if let Some(s) = &a.since {
        args.push("--since".into());
        args.push(s.clone());
    }
    if !a.task_ids {
        args.push("--no-task-ids".into());
    }
    args.push(full);
    Ok(ctx.sys.run_attached(&docker.cmd(args))?)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerLine {
    #[serde(rename = "ID", default)]
    id: String,
}

pub fn exec(ctx: &Ctx, a: ExecArgs) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, None)?;
    let full = resolve(ctx, &project, &profile, &a.service)?;
    let docker = Docker::new(ctx.sys.as_ref(), &profile.file.docker.context, false)?;
    let containers: Vec<ContainerLine> = docker.json_lines([
        "ps",
        "--filter",
        &format!("label=com.docker.swarm.service.name={full}"),
        "--filter",
        "status=running",
        "--format",
        crate::swarm::docker::JSON,
    ])?;
    let Some(c) = containers.first() else {
        let tasks = crate::swarm::watch::task_lines(
            &docker,
            &[
                "service",
                "ps",
                full.as_str(),
                "--filter",
                "desired-state=running",
                "--no-trunc",
                "--format",
                crate::swarm::docker::JSON,
            ],
        )?;
        let running: Vec<&TaskLine> = tasks.iter().filter(|t| t.state() == "running").collect();
        if let Some(t) = running.first() {
            return Err(UserError::new(format!(
                "the running task of {} is on node {}, and `exec` reaches containers of this node only",
                a.service, t.node
            ))
            .hint(format!("run devenv with a docker context for node {} (or constrain the service to this node)", t.node))
            .into());
        }
        return Err(UserError::new(format!("{} has no running task", a.service))
            .hint("`devenv status` shows why")
            .into());
    };
    let mut args = vec!["exec".to_string(), "-i".into()];
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        args.push("-t".into());
    }
    if let Some(u) = &a.user {
        args.push("--user".into());
        args.push(u.clone());
    }
    args.push(c.id.clone());
    if a.command.is_empty() {
        args.extend([
            "sh".into(),
            "-c".into(),
            "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi".into(),
        ]);
    } else {
        args.extend(a.command.iter().cloned());
    }
    Ok(ctx.sys.run_attached(&docker.cmd(args))?)
}

pub fn update(ctx: &Ctx, a: UpdateArgs) -> anyhow::Result<i32> {
    if !a.all && a.services.is_empty() {
        return Err(UserError::usage("name the services to update, or pass --all").into());
    }
    let project = ctx.project()?;
    let profile = ctx.profile(&project, None)?;
    let state = State::load(&project.root)?;
    let docker = Docker::new(
        ctx.sys.as_ref(),
        &profile.file.docker.context,
        ctx.g.dry_run,
    )?;
    crate::swarm::guard::check(&docker, &profile, &state, false, false)?;
    let r = ctx.render_readonly(&project, &profile)?;
    let names: Vec<String> = if a.all {
        r.service_names()
    } else {
        a.services
            .iter()
            .map(|s| {
                resolve(ctx, &project, &profile, s).map(|f| {
                    f.trim_start_matches(&format!("{}_", r.stack_name))
                        .to_string()
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let registry = profile.file.registry.is_some();
    let since = SystemTime::now();
    for n in &names {
        let full = format!("{}_{n}", r.stack_name);
        let image: String = docker
            .query([
                "service",
                "inspect",
                "--format",
                "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                full.as_str(),
            ])
            .map(|o| o.stdout_str().trim().to_string())?;
        let plain = image.split('@').next().unwrap_or(&image).to_string();
        crate::ui::step(&format!("updating {n} ({plain})"));
        if !registry && !docker.dry_run && !docker.try_query(["pull", "-q", plain.as_str()])?.ok() {
            crate::ui::debug(&format!(
                "could not pull {plain}; restarting with the local image"
            ));
        }
        let mut args = vec![
            "service".to_string(),
            "update".into(),
            "--force".into(),
            "--detach".into(),
        ];
        if registry {
            // re-resolving the tag makes every node pull the current image
            args.extend([
                "--with-registry-auth".into(),
                "--image".into(),
                plain.clone(),
            ]);
        }
        args.push(full);
        docker.mutate(args)?;
    }
    if ctx.g.dry_run {
        return Ok(0);
    }
    let opts = watch::Options {
        timeout: Duration::from_secs(a.timeout),
        progress: !ctx.g.quiet && !ctx.g.json,
        ..Default::default()
    };
    let report = watch::watch(&docker, &r.stack_name, &names, since, &opts)?;
    if report.outcome == Outcome::Ready {
        crate::ui::ok(&format!(
            "updated {} in {:.1}s",
            names.join(", "),
            report.elapsed.as_secs_f64()
        ));
        return Ok(0);
    }
    let mut msg = String::from("the update did not complete:");
    for s in &report.services {
        if let Some(f) = s.fatal.as_ref().or(s.error.as_ref()) {
            msg.push_str(&format!("\n  {}: {f}", s.name));
        }
    }
    if a.rollback {
        crate::swarm::deploy::rollback_unfinished(&docker, &r.stack_name, &report)?;
        msg.push_str("\n(rolled back to the previous version)");
    }
    let e = if report.outcome == Outcome::TimedOut {
        UserError::timeout(msg)
    } else {
        UserError::new(msg)
    };
    Err(e.hint("`devenv logs SERVICE` shows why").into())
}

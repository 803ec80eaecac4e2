//! `logs` and `exec`: a service's tasks' output, and a command in one of its running tasks.

use std::io::IsTerminal;

use super::Ctx;
use crate::exec::Executor;

/// The stack's full name of a service the user named, with a suggestion for a typo.
fn full_name(ctx: &Ctx, name: &str) -> anyhow::Result<(crate::profile::Profile, String)> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, None)?;
    let r = ctx.render(&project, &profile)?;
    let short = super::update::resolve(&r.stack_name, &r.service_names(), name)?;
    Ok((profile, format!("{}_{short}", r.stack_name)))
}

pub struct LogsOptions {
    pub follow: bool,
    pub tail: usize,
    pub since: Option<String>,
    pub task_ids: bool,
}

/// Streams the service's logs; returns docker's exit code.
pub fn logs(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    service: &str,
    o: &LogsOptions,
) -> anyhow::Result<i32> {
    let (profile, full) = full_name(ctx, service)?;
    let docker = ctx.docker(&profile)?;
    let mut args = vec![
        "service".to_string(),
        "logs".into(),
        "--tail".into(),
        o.tail.to_string(),
    ];
    if o.follow {
        args.push("--follow".into());
    }
    if let Some(s) = &o.since {
        args.push("--since".into());
        args.push(s.clone());
    }
    if !o.task_ids {
        args.push("--no-task-ids".into());
    }
    args.push(full);
    if ctx.g.json {
        // one document: the lines docker printed (stdout and stderr) and its exit code
        if o.follow {
            return Err(crate::error::UserError::usage(
                "--follow streams without end, and --json prints one document",
            )
            .hint("drop --follow (or --json)")
            .into());
        }
        let out = ctx.sys.query(&docker.cmd(args))?;
        let lines: Vec<String> = out
            .stdout_str()
            .lines()
            .chain(out.stderr_str().lines())
            .map(String::from)
            .collect();
        super::print_json(&serde_json::json!({
            "service": service,
            "exit_code": out.status,
            "lines": lines,
        }))?;
        return Ok(out.status);
    }
    Ok(x.run_attached(&docker.cmd(args))?)
}

/// Runs `command` (default: a shell) in a running task of `service` on this node; its exit code.
pub fn exec(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    service: &str,
    command: &[String],
    user: Option<&str>,
) -> anyhow::Result<i32> {
    let (profile, full) = full_name(ctx, service)?;
    let docker = ctx.docker(&profile)?;
    let id = crate::swarm::run::running_container(&docker, service, &full)?;
    let mut args = vec!["exec".to_string()];
    if !ctx.g.json {
        args.push("-i".into());
        if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            args.push("-t".into());
        }
    }
    if let Some(u) = user {
        args.push("--user".into());
        args.push(u.to_string());
    }
    args.push(id);
    if command.is_empty() {
        args.extend([
            "sh".into(),
            "-c".into(),
            "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi".into(),
        ]);
    } else {
        args.extend(command.iter().cloned());
    }
    if ctx.g.json {
        if command.is_empty() {
            return Err(crate::error::UserError::usage(
                "an interactive shell prints no JSON document: give the command (`devenv exec SERVICE --json -- CMD`)",
            )
            .into());
        }
        let out = x.run(&docker.cmd(args))?;
        if x.dry_run() {
            // the command prints what the executor recorded, as the one document
            return Ok(0);
        }
        super::print_json(&serde_json::json!({
            "service": service,
            "command": command,
            "exit_code": out.status,
            "stdout": out.stdout_str(),
            "stderr": out.stderr_str(),
        }))?;
        return Ok(out.status);
    }
    Ok(x.run_attached(&docker.cmd(args))?)
}

//! `devenv down [PROFILE] [--volumes]`: plan, confirm what needs a yes (a remote stack, the
//! volumes' data), apply, report.

use std::time::Duration;

use crate::cli::DownArgs;
use crate::error::UserError;
use crate::ops::{self, Ctx, down};

pub fn run(ctx: &Ctx, a: DownArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let _lock = ctx.lock_project(&mut x)?;
    let plan = down::plan(
        ctx,
        a.profile.as_deref(),
        a.volumes,
        Duration::from_secs(a.timeout),
    )
    .map_err(ops::unchanged)?;
    if x.dry_run() {
        return ops::print_plan(ctx, &plan.describe());
    }
    let asked = |q: String| -> anyhow::Result<bool> { Ok(ctx.g.yes || ops::confirmed(&q)?) };
    let context = &plan.profile.file.docker.context;
    if plan.in_swarm
        && plan.remote()
        && !asked(format!(
            "remove stack {} from the remote context `{context}`?",
            plan.stack
        ))?
    {
        return Err(UserError::new(format!(
            "not removing stack {} from the remote context `{context}` without a yes",
            plan.stack
        ))
        .hint("run again with --yes")
        .into());
    }
    if !plan.volumes.is_empty()
        && !asked(format!(
            "--volumes deletes the data in {} (cannot be undone). Continue?",
            plan.volumes.join(", ")
        ))?
    {
        return Err(UserError::new(format!(
            "not removing anything: --volumes would delete the data in {}, and needs a yes",
            plan.volumes.join(", ")
        ))
        .hint("pass --yes to confirm deleting the volumes' data, or drop --volumes to keep them")
        .into());
    }
    let r = down::apply(ctx, &mut x, plan)?;
    if ctx.g.json {
        ops::print_json(&r)?;
    } else {
        crate::ui::ok(&format!(
            "stack {} is gone (services, tasks and networks) after {:.1}s{}",
            r.stack,
            r.elapsed_ms as f64 / 1000.0,
            if r.removed_volumes.is_empty() {
                "; volumes kept".to_string()
            } else {
                format!("; removed volumes {}", r.removed_volumes.join(", "))
            }
        ));
        if r.hosts_block_left {
            let project = ctx.project()?;
            crate::ui::note(&format!(
                "the project's block stays in the hosts file (the next `up` uses it): `{}` removes it",
                ctx.again(&project, "hosts remove")
            ));
        }
    }
    Ok(0)
}

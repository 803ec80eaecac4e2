//! `devenv up [PROFILE]`: plan (every check before any change), print it (`--dry-run`) or ask
//! before a remote deploy, apply, report.

use std::time::Duration;

use crate::cli::UpArgs;
use crate::error::UserError;
use crate::ops::{self, Ctx, up};

pub fn run(ctx: &Ctx, a: UpArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let _lock = ctx.lock_project(&mut x)?;
    let options = up::Options {
        timeout: Duration::from_secs(a.timeout),
        max_failures: a.max_failures,
        new_cluster: a.new_cluster,
        rollback: a.rollback,
    };
    let plan = up::plan(ctx, a.profile.as_deref(), options).map_err(ops::unchanged)?;
    if x.dry_run() {
        return ops::print_plan(ctx, &up::describe(&plan));
    }
    ops::print_notes(&plan.notes, &plan.seen_notes);
    if plan.remote() && !ctx.g.yes {
        eprint!("{}", up::remote_summary(&plan));
        let context = &plan.profile.file.docker.context;
        if !ops::interactive() {
            return Err(UserError::new(format!(
                "not deploying to the remote context `{context}` without a yes"
            ))
            .hint("review the changes above and run again with --yes")
            .into());
        }
        if !ops::confirm(&format!("deploy profile {} there?", plan.profile.name))? {
            return Err(UserError::new("nothing was deployed").into());
        }
    }
    match &plan.changes {
        None => crate::ui::info("first deploy of this profile from this machine"),
        Some(c) if c.is_empty() => {
            crate::ui::debug("the stack is as deployed last time (images are checked next)")
        }
        Some(c) => crate::ui::info(&format!("changes since the last deploy: {}", c.join("; "))),
    }
    let r = up::apply(ctx, &mut x, plan)?;
    if ctx.g.json {
        ops::print_json(&r)?;
    } else {
        if let Some(ms) = r.ready_after_ms {
            crate::ui::ok(&format!(
                "{} services ready {:.1}s after the deploy ({:.1}s in all)",
                r.services.len(),
                ms as f64 / 1000.0,
                r.elapsed_ms as f64 / 1000.0
            ));
        }
        ops::print_endpoints(&r.urls, &r.endpoints);
    }
    Ok(0)
}

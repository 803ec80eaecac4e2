//! `devenv update SERVICE…|--all [--rollback]`: plan, print (`--dry-run`) or apply, report.

use std::time::Duration;

use crate::cli::UpdateArgs;
use crate::ops::{self, Ctx, update};

pub fn run(ctx: &Ctx, a: UpdateArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let _lock = ctx.lock_project(&mut x)?;
    let plan = update::plan(
        ctx,
        &a.services,
        a.all,
        Duration::from_secs(a.timeout),
        a.rollback,
    )
    .map_err(ops::unchanged)?;
    if x.dry_run() {
        return ops::print_plan(ctx, &plan.describe());
    }
    let names: Vec<String> = plan.services.iter().map(|(n, _)| n.clone()).collect();
    let r = update::apply(ctx, &mut x, plan)?;
    if ctx.g.json {
        ops::print_json(&r)?;
    } else {
        crate::ui::ok(&format!(
            "updated {} in {:.1}s",
            names.join(", "),
            r.elapsed_ms as f64 / 1000.0
        ));
    }
    Ok(0)
}

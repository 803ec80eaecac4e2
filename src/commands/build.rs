//! `devenv build` and `devenv push`.

use crate::cli::BuildArgs;
use crate::ops::{self, Ctx, build};

pub fn run(ctx: &Ctx, a: BuildArgs, push: bool) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let plan = build::plan(ctx, a.profile.as_deref(), push)?;
    if x.dry_run() {
        return ops::print_plan(ctx, &plan.describe());
    }
    if plan.steps.is_empty() && !ctx.g.json {
        crate::ui::info("no service of this stack has a build context (`build:`)");
        return Ok(0);
    }
    let r = build::apply(ctx, &mut x, plan)?;
    if ctx.g.json {
        ops::print_json(&r)?;
    } else {
        for (svc, tag) in &r.images {
            crate::outln!("{svc:<14} {tag}");
        }
    }
    Ok(0)
}

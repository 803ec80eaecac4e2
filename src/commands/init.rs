//! `devenv init`: scaffold a project here (never overwrites a file).

use crate::cli::InitArgs;
use crate::ops::{self, Ctx, init};

pub fn run(ctx: &Ctx, a: InitArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let plan = init::plan(ctx, a.name.as_deref(), &a.from, a.tld)?;
    if x.dry_run() {
        return ops::print_plan(ctx, &plan.describe());
    }
    for i in &plan.inferred {
        crate::ui::info(&format!("inferred: {i}"));
    }
    init::apply(&mut x, &plan)?;
    if ctx.g.json {
        ops::print_json(&plan)?;
    } else {
        crate::ui::ok(&format!(
            "project `{}` ready: `devenv render local` shows the stack, `devenv up local` runs it{}",
            plan.name,
            if plan.inferred.is_empty() {
                ""
            } else {
                " (check the lines above and profiles/)"
            }
        ));
    }
    Ok(0)
}

//! `devenv run TASK [-- ARGS]`: a task of devenv.yaml in its service, on demand; its exit code.

use crate::cli::RunArgs;
use crate::ops::{self, Ctx, tasks};

pub fn run(ctx: &Ctx, a: RunArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let plan = tasks::plan_run(ctx, &a.task, &a.args)?;
    if x.dry_run() {
        return ops::print_plan(ctx, &plan.describe());
    }
    let code = tasks::apply_run(ctx, &mut x, &plan)?;
    if ctx.g.json {
        ops::print_json(&serde_json::json!({
            "task": plan.name,
            "service": plan.task.service,
            "exit_code": code,
        }))?;
    }
    Ok(code)
}

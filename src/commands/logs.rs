//! `devenv logs SERVICE [-f]`: the logs of a service's tasks. With `--dry-run` the executor only
//! says what it would run.

use crate::cli::LogsArgs;
use crate::ops::{self, Ctx, service};

pub fn run(ctx: &Ctx, a: LogsArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let code = service::logs(
        ctx,
        &mut x,
        &a.service,
        &service::LogsOptions {
            follow: a.follow,
            tail: a.tail,
            since: a.since,
            task_ids: a.task_ids,
        },
    )?;
    if x.dry_run() {
        return ops::print_would(ctx, &x);
    }
    Ok(code)
}

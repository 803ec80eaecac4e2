//! `devenv logs SERVICE [-f]`: the logs of a service's tasks.

use crate::cli::LogsArgs;
use crate::ops::exec::Executor;
use crate::ops::{Ctx, service};

pub fn run(ctx: &Ctx, a: LogsArgs) -> anyhow::Result<i32> {
    let mut x = Executor::new(ctx.sys.as_ref());
    service::logs(
        ctx,
        &mut x,
        &a.service,
        &service::LogsOptions {
            follow: a.follow,
            tail: a.tail,
            since: a.since,
            task_ids: a.task_ids,
        },
    )
}

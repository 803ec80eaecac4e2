//! `devenv watch [SERVICE…]`: the stack up, then each change applied by its service's
//! `develop.watch` rules until Ctrl-C.

use std::time::Duration;

use crate::cli::WatchArgs;
use crate::ops::{Ctx, live};

pub fn run(ctx: &Ctx, a: WatchArgs) -> anyhow::Result<i32> {
    let x = ctx.executor();
    let opts = live::Options {
        services: a.services,
        timeout: Duration::from_secs(a.timeout),
        poll: a.poll,
    };
    if x.dry_run() {
        return crate::ops::print_plan(ctx, &live::describe(ctx, &opts)?);
    }
    let mut session = live::start(ctx, &opts)?;
    session.run()?;
    Ok(0)
}

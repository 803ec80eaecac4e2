//! `devenv exec SERVICE [-- CMD]`: a command (default: a shell) in a running task; its exit code.

use crate::cli::ExecArgs;
use crate::ops::exec::Executor;
use crate::ops::{Ctx, service};

pub fn run(ctx: &Ctx, a: ExecArgs) -> anyhow::Result<i32> {
    let mut x = Executor::new(ctx.sys.as_ref());
    service::exec(ctx, &mut x, &a.service, &a.command, a.user.as_deref())
}

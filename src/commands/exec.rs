//! `devenv exec SERVICE [-- CMD]`: a command (default: a shell) in a running task; its exit code.
//! With `--dry-run` the executor only says what it would run.

use crate::cli::ExecArgs;
use crate::ops::{self, Ctx, service};

pub fn run(ctx: &Ctx, a: ExecArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let code = service::exec(ctx, &mut x, &a.service, &a.command, a.user.as_deref())?;
    if x.dry_run() {
        return ops::print_would(ctx, &x);
    }
    Ok(code)
}

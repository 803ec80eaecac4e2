//! `devenv diff [A] [B] [--exit-code]`: local vs server by default; with one profile, the active
//! one vs it.

use crate::cli::DiffArgs;
use crate::ops::{self, Ctx};

pub fn run(ctx: &Ctx, a: DiffArgs) -> anyhow::Result<i32> {
    let d = ops::diff::diff(ctx, a.a, a.b)?;
    if ctx.g.json {
        ops::print_json(&d)?;
    } else {
        crate::out!("{}", crate::compare::format(&d));
    }
    Ok(if a.exit_code && !d.is_empty() { 1 } else { 0 })
}

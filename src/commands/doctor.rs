//! `devenv doctor [PROFILE]`: every check with its fix; non-zero exit when something is broken.

use crate::cli::DoctorArgs;
use crate::ops::{self, Ctx};

pub fn run(ctx: &Ctx, a: DoctorArgs) -> anyhow::Result<i32> {
    let r = ops::doctor::doctor(ctx, a.profile.as_deref())?;
    if ctx.g.json {
        ops::print_json(&r)?;
    } else {
        crate::out!("{}", r.text());
    }
    Ok(if r.ok { 0 } else { 1 })
}

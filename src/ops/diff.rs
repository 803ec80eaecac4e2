//! `devenv diff [A] [B]`: what differs between two profiles' rendered output (local vs server by
//! default; with one profile, the active one vs it), secrets masked. Reads only.

use super::Ctx;
use crate::compare::ProfileDiff;

pub fn diff(ctx: &Ctx, a: Option<String>, b: Option<String>) -> anyhow::Result<ProfileDiff> {
    let project = ctx.project()?;
    let (na, nb) = match (a, b) {
        (Some(x), Some(y)) => (x, y),
        (Some(x), None) => (ctx.profile_name(&project, None)?, x),
        _ => ("local".to_string(), "server".to_string()),
    };
    let pa = project.profile(&na)?;
    let pb = project.profile(&nb)?;
    let ra = ctx.render(&project, &pa)?;
    let rb = ctx.render(&project, &pb)?;
    Ok(crate::compare::diff(&pa, &ra, &pb, &rb))
}

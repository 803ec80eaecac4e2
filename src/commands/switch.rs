//! `devenv switch PROFILE`: plan, print (`--dry-run`) or apply, show what changed.

use crate::cli::SwitchArgs;
use crate::ops::{self, Ctx, switch};

pub fn run(ctx: &Ctx, a: SwitchArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let _lock = ctx.lock_project(&mut x)?;
    let plan = switch::plan(ctx, a.profile.as_deref())?;
    if x.dry_run() {
        return ops::print_plan(ctx, &plan.describe());
    }
    let r = switch::apply(ctx, &mut x, plan)?;
    if ctx.g.json {
        return ops::print_json(&r).map(|_| 0);
    }
    match (&r.previous, &r.diff) {
        (Some(prev), _) if *prev == r.active => {
            crate::ui::ok(&format!(
                "{} is already the active profile (re-rendered)",
                r.active
            ));
        }
        (_, Some(d)) => {
            crate::out!("{}", crate::compare::format(d));
            crate::ui::ok(&format!(
                "active profile: {} → {}",
                r.previous.as_deref().unwrap_or("(none)"),
                r.active
            ));
        }
        _ => crate::ui::ok(&format!("active profile: {}", r.active)),
    }
    if let Some(l) = &r.left_running {
        crate::ui::note(&l.say());
    }
    Ok(0)
}

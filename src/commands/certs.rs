//! `devenv certs trust|untrust|status|issue|rotate|env`.

use crate::certs::issue::{self, Reissue};
use crate::cli::{CertsAction, CertsArgs};
use crate::ops::certs::{self, Scope};
use crate::ops::{self, Ctx};

pub fn run(ctx: &Ctx, a: CertsArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let project = ctx.project().ok();
    let p = project.as_ref();
    match a.action {
        CertsAction::Trust { user, machine } => {
            let scope = Scope {
                macos_user: user,
                windows_machine: machine,
            };
            let plan = certs::plan_trust(ctx, p, scope)?;
            if x.dry_run() {
                return ops::print_plan(ctx, &plan.describe());
            }
            let r = certs::trust(ctx, &mut x, plan)?;
            if ctx.g.json {
                ops::print_json(&r)?;
            } else {
                crate::ui::info(&format!("CA {} ({})", r.ca.nickname, r.ca.file.display()));
            }
            Ok(if r.ok() { 0 } else { 1 })
        }
        CertsAction::Untrust => {
            let plan = certs::plan_untrust(ctx, p)?;
            if x.dry_run() {
                return ops::print_plan(ctx, &plan.describe());
            }
            let r = certs::untrust(&mut x, plan)?;
            if ctx.g.json {
                ops::print_json(&serde_json::json!({ "stores": r }))?;
            }
            Ok(if r.iter().all(|s| s.ok) { 0 } else { 1 })
        }
        CertsAction::Status => status(ctx, p),
        CertsAction::Issue { profile, force } => {
            let project = ctx.project()?;
            let profile = ctx.profile(&project, profile.as_deref())?;
            let reissue = if force {
                Reissue::Force
            } else {
                Reissue::IfNeeded
            };
            let plan = certs::plan_issue(ctx, &project, &profile, reissue)?;
            if x.dry_run() {
                return ops::print_plan(ctx, &(plan.describe().join("\n") + "\n"));
            }
            let plan = match issue::apply(&mut x, &plan) {
                Err(e) if e.downcast_ref::<issue::Stale>().is_some() => {
                    issue::ensure(ctx.sys.as_ref(), &mut x, &project, &profile, reissue)?
                        .expect("a local-ca profile")
                }
                r => r.map(|_| plan)?,
            };
            if let Some(l) = &plan.current {
                crate::ui::info(&format!(
                    "{} is current: {} ({} days left)",
                    crate::error::display_path(&l.cert),
                    l.info.sans.join(", "),
                    (l.info.not_after - ctx.sys.now()) / 86400
                ));
            }
            if ctx.g.json {
                ops::print_json(&plan.summary())?;
            }
            Ok(0)
        }
        CertsAction::Rotate {
            permit,
            unconstrained,
        } => {
            let plan = certs::plan_rotate(ctx, p, &permit, unconstrained)?;
            if x.dry_run() {
                return ops::print_plan(ctx, &plan.describe());
            }
            let r = certs::rotate(ctx, &mut x, p, plan)?;
            if ctx.g.json {
                ops::print_json(&r)?;
            }
            Ok(if r.ok() { 0 } else { 1 })
        }
        CertsAction::Env { shell } => {
            let plan = certs::plan_env(ctx, p, shell.as_deref())?;
            if !x.dry_run() {
                certs::apply_env(&mut x, &plan)?;
            }
            if ctx.g.json {
                ops::print_json(&plan)?;
            } else {
                for l in plan.lines() {
                    crate::outln!("{l}");
                }
            }
            Ok(0)
        }
    }
}

fn status(ctx: &Ctx, p: Option<&crate::profile::Project>) -> anyhow::Result<i32> {
    let r = certs::status(ctx, p)?;
    if ctx.g.json {
        ops::print_json(&r)?;
    } else {
        crate::out!("{}", r.text());
    }
    Ok(0)
}

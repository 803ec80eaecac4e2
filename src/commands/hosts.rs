//! `devenv hosts apply|remove|list|restore`: the project's block in the hosts file.

use crate::cli::{HostsAction, HostsArgs};
use crate::hosts::sync::Want;
use crate::ops::{self, Ctx, hosts};

pub fn run(ctx: &Ctx, a: HostsArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let project = ctx.project()?;
    let want = match a.action {
        HostsAction::Apply { profile, convert } => {
            if convert {
                let plans = hosts::plan_convert(ctx)?;
                if plans.is_empty() {
                    crate::ui::info("no hosts file here is UTF-16: nothing to convert");
                } else if x.dry_run() {
                    for p in &plans {
                        crate::outln!(
                            "would rewrite {} (UTF-16) as UTF-8, keeping a backup; then map the profile's names",
                            p.file.display()
                        );
                    }
                    return Ok(0);
                } else {
                    hosts::convert(ctx, &mut x, &project, plans)?;
                }
            }
            Some((profile, Want::Apply))
        }
        HostsAction::Remove => Some((None, Want::Remove)),
        HostsAction::List => None,
        HostsAction::Restore => {
            let plans = hosts::plan_restore(ctx, &project)?;
            if x.dry_run() {
                let text: String = plans.iter().map(|p| p.describe()).collect();
                return ops::print_plan(ctx, &text);
            }
            let done = hosts::restore(ctx, &mut x, &project, plans)?;
            if ctx.g.json {
                ops::print_json(&serde_json::json!({ "restored": done }))?;
            }
            return Ok(0);
        }
    };
    let Some((profile, want)) = want else {
        return list(ctx, &project);
    };
    let profile = ctx.profile(&project, profile.as_deref())?;
    let plan = hosts::plan(ctx, &project, &profile, want)?;
    if x.dry_run() {
        for n in &plan.notes {
            crate::ui::warn(n);
        }
        return ops::print_plan(ctx, &plan.describe());
    }
    let r = hosts::apply(ctx, &mut x, &project, &profile, plan)?;
    if ctx.g.json {
        ops::print_json(&r)?;
    }
    Ok(if want == Want::Apply && !r.all_resolve {
        1
    } else {
        0
    })
}

fn list(ctx: &Ctx, project: &crate::profile::Project) -> anyhow::Result<i32> {
    let files = hosts::list(ctx, project)?;
    let ok = files.iter().all(|f| f.ok());
    if ctx.g.json {
        ops::print_json(&files)?;
        return Ok(if ok { 0 } else { 1 });
    }
    for f in &files {
        if let Some(w) = &f.interrupted {
            crate::ui::warn(w);
        }
        match &f.block {
            Some(b) => {
                crate::outln!(
                    "{}: devenv block of {} (lines {}-{})",
                    f.file.display(),
                    project.name(),
                    b.first_line,
                    b.last_line
                );
                for (addr, names) in &b.entries {
                    crate::outln!("  {addr:<10} {}", names.join(" "));
                }
            }
            None => crate::outln!(
                "{}: no devenv block of {}",
                f.file.display(),
                project.name()
            ),
        }
        for r in &f.resolution {
            let mark = if r.loopback() { "ok" } else { "NOT LOOPBACK" };
            crate::outln!("  {mark:>4}  {}", r.describe());
        }
        if !f.read_by_resolver && f.block.is_some() {
            crate::outln!(
                "  this machine's resolver does not read this file: these names resolve here only for devenv's probes"
            );
        }
        for c in &f.conflicts {
            crate::outln!(
                "  conflict: line {} maps {} to {}{}",
                c.line,
                c.name,
                c.address,
                if c.shadows {
                    " (comes first, so it wins)"
                } else {
                    ""
                }
            );
        }
        if !f.other_projects.is_empty() {
            crate::outln!(
                "  other devenv projects in this file: {}",
                f.other_projects.join(", ")
            );
        }
    }
    Ok(if ok { 0 } else { 1 })
}

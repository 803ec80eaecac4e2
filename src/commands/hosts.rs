//! `devenv hosts apply|remove|list|restore`, and the hosts step of `switch` and `up`.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::Ctx;
use crate::cli::{HostsAction, HostsArgs};
use crate::error::UserError;
use crate::hosts::{self, HostsPlan, write};
use crate::platform::Platform;
use crate::profile::{Profile, Project};

pub fn run(ctx: &Ctx, a: HostsArgs) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    match a.action {
        HostsAction::Apply { profile } => {
            let profile = ctx.profile(&project, profile.as_deref())?;
            let r = sync(ctx, &project, &profile, Want::Apply)?;
            Ok(if r.all_resolve { 0 } else { 1 })
        }
        HostsAction::Remove => {
            let profile = ctx.profile(&project, None)?;
            sync(ctx, &project, &profile, Want::Remove)?;
            Ok(0)
        }
        HostsAction::List => list(ctx, &project),
        HostsAction::Restore => restore(ctx, &project),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Apply,
    Remove,
    /// Apply when the profile has hosts, remove otherwise (`switch`, `up`).
    Match,
}

#[derive(Debug, Default)]
pub struct SyncReport {
    pub changed: Vec<PathBuf>,
    /// Every name resolves to loopback (true when nothing had to resolve).
    pub all_resolve: bool,
}

fn targets(ctx: &Ctx) -> Vec<PathBuf> {
    hosts::targets(ctx.g.hosts_file.as_deref(), Platform::current())
}

/// Makes the project's block in every managed hosts file match `want`; elevates only this step
/// when the file is not writable; flushes DNS caches and verifies the names after a change.
pub fn sync(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    want: Want,
) -> anyhow::Result<SyncReport> {
    let names = match want {
        Want::Remove => Vec::new(),
        Want::Apply | Want::Match => hosts::names_for(profile)?,
    };
    if want == Want::Apply && names.is_empty() {
        crate::ui::info(&format!(
            "profile {} lists no `hosts:`; nothing to map (the block, if any, is removed)",
            profile.name
        ));
    }
    let mut report = SyncReport {
        all_resolve: true,
        ..Default::default()
    };
    let opts = write::Options::default();
    let mut elevated_children = false;
    for path in targets(ctx) {
        let plan = hosts::plan(&path, project, profile, names.clone())?;
        for w in &plan.warnings {
            crate::ui::warn(w);
        }
        if ctx.g.dry_run {
            if let Some(i) = &plan.interrupted {
                println!("{i}");
            }
            if plan.changes() {
                println!("would write {}:", path.display());
                print!("{}", plan.diff());
            } else {
                println!("{}: already up to date", path.display());
            }
            continue;
        }
        if plan.changes() && !write::writable_or_creatable(&path) {
            elevate(ctx, project, profile, &path, &plan)?;
            elevated_children = true;
            report.changed.push(path.clone());
            continue;
        }
        match hosts::execute(plan, &opts) {
            Ok((plan, out)) => {
                if out.method != write::Method::Unchanged {
                    report.changed.push(path.clone());
                    let how = match out.method {
                        write::Method::InPlace => " (in place)",
                        _ => "",
                    };
                    crate::ui::ok(&format!(
                        "{} {}{how}",
                        if plan.names.is_empty() {
                            "removed the devenv block from"
                        } else {
                            "updated"
                        },
                        path.display()
                    ));
                } else {
                    crate::ui::debug(&format!("{}: already up to date", path.display()));
                }
            }
            Err(e) => return Err(e),
        }
    }
    if ctx.g.dry_run {
        return Ok(report);
    }
    if !report.changed.is_empty() && !elevated_children {
        for w in crate::dns::flush(Platform::current(), ctx.sys.as_ref()) {
            crate::ui::warn(&format!("DNS cache flush: {w}"));
        }
        if !names.is_empty() {
            crate::ui::info(
                "Chrome keeps its own DNS cache for about a minute; if it still shows the old address, \
                 clear it at chrome://net-internals/#dns",
            );
        }
    }
    // verify what the system resolvers see (only meaningful for the system hosts file)
    if !names.is_empty() && targets(ctx).contains(&hosts::system_hosts_path()) {
        for r in crate::dns::verify(&names) {
            if !r.loopback() {
                report.all_resolve = false;
                crate::ui::warn(&format!("{} (expected loopback)", r.describe()));
            } else {
                crate::ui::debug(&r.describe());
            }
        }
    }
    Ok(report)
}

/// Runs just this step again with administrator rights.
fn elevate(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    path: &Path,
    plan: &HostsPlan,
) -> anyhow::Result<()> {
    let platform = Platform::current();
    let action = if plan.names.is_empty() {
        "remove"
    } else {
        "apply"
    };
    let manual = format!(
        "sudo devenv -C {} --profile {}{} hosts {action}",
        crate::sys::shell_quote(&project.root.to_string_lossy()),
        profile.name,
        hosts_file_flag(ctx)
    );
    if hosts::elevate::is_admin() && !path.starts_with("/mnt/") {
        return Err(UserError::new(format!(
            "cannot write {}: permission denied, even as administrator",
            path.display()
        ))
        .hint("is the file immutable (`lsattr`), or on a read-only file system?")
        .into());
    }
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if !ctx.g.yes {
        if !interactive {
            return Err(UserError::new(format!("cannot write {}: permission denied", path.display()))
                .hint(format!("run this step as administrator: `{manual}` (or pass --yes to let devenv elevate it)"))
                .into());
        }
        if !super::confirm(&format!(
            "devenv needs administrator rights to edit {} (only this step). Continue?",
            path.display()
        ))? {
            return Err(UserError::new(format!("not editing {}", path.display()))
                .hint(format!("run `{manual}` yourself when ready"))
                .into());
        }
    }
    // WSL: the Windows hosts file needs UAC on the Windows side
    if platform.wsl && path.starts_with("/mnt/") {
        let tmp = PathBuf::from("/mnt/c/Users/Public")
            .join(format!("devenv-hosts-{}.tmp", std::process::id()));
        std::fs::write(&tmp, plan.after())?;
        let cmd = hosts::elevate::wsl_copy_elevated(
            &hosts::elevate::wsl_to_windows_path(&tmp).unwrap_or_default(),
            &hosts::elevate::wsl_to_windows_path(path).unwrap_or_default(),
        );
        let rc = ctx.sys.run_attached(&cmd);
        let _ = std::fs::remove_file(&tmp);
        return match rc {
            Ok(0) => Ok(()),
            Ok(c) => Err(UserError::new(format!(
                "the elevated copy onto {} failed (exit {c})",
                path.display()
            ))
            .into()),
            Err(e) => Err(UserError::new(format!("cannot run powershell.exe: {e}")).into()),
        };
    }
    let exe = std::env::current_exe()?;
    let args: Vec<String> = vec![
        "-C".into(),
        project.root.to_string_lossy().into_owned(),
        "--profile".into(),
        profile.name.clone(),
        "--hosts-file".into(),
        path.to_string_lossy().into_owned(),
        "hosts".into(),
        action.into(),
        "--yes".into(),
    ];
    let Some(cmd) =
        hosts::elevate::rerun_elevated(platform, ctx.sys.as_ref(), &exe, &args, interactive)
    else {
        return Err(UserError::new(format!(
            "cannot write {}: permission denied, and sudo is not installed",
            path.display()
        ))
        .hint(format!("run as root: `{manual}`"))
        .into());
    };
    crate::ui::info(&format!("running as administrator: {}", cmd.display()));
    match ctx.sys.run_attached(&cmd) {
        Ok(0) => Ok(()),
        Ok(c) => Err(
            UserError::new(format!("the elevated hosts step failed (exit {c})"))
                .hint(format!("run `{manual}` to see why"))
                .into(),
        ),
        Err(e) => Err(UserError::new(format!("cannot run {}: {e}", cmd.program)).into()),
    }
}

/// ` --hosts-file PATH` when the user named the file, for commands we tell them to run.
fn hosts_file_flag(ctx: &Ctx) -> String {
    ctx.g
        .hosts_file
        .as_ref()
        .map(|h| {
            format!(
                " --hosts-file {}",
                crate::sys::shell_quote(&h.to_string_lossy())
            )
        })
        .unwrap_or_default()
}

fn list(ctx: &Ctx, project: &Project) -> anyhow::Result<i32> {
    let profile = ctx.profile(project, None).ok();
    let mut out = Vec::new();
    let mut all_ok = true;
    for path in targets(ctx) {
        let (src, interrupted) = write::read_for_plan(&path, &write::Options::default())?;
        if let Some(w) = interrupted {
            crate::ui::warn(&w);
        }
        let block =
            hosts::block::find(&src, project.name()).map_err(|e| hosts::block_error(&path, e))?;
        let others: Vec<String> = hosts::block::projects(&src)
            .into_iter()
            .filter(|p| p != project.name())
            .collect();
        let names: Vec<String> = block
            .as_ref()
            .map(|b| {
                let mut v: Vec<String> = b.entries.iter().flat_map(|(_, n)| n.clone()).collect();
                v.dedup();
                v.sort();
                v.dedup();
                v
            })
            .unwrap_or_default();
        let conflicts = match &profile {
            Some(p) => {
                let want = hosts::names_for(p).unwrap_or_default();
                hosts::plan(&path, project, p, want)
                    .map(|pl| pl.conflicts)
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        let resolution = if path == hosts::system_hosts_path() && !names.is_empty() {
            crate::dns::verify(&names)
        } else {
            Vec::new()
        };
        all_ok &= resolution.iter().all(|r| r.loopback()) && conflicts.iter().all(|c| !c.shadows);
        if ctx.g.json {
            out.push(json!({
                "file": path,
                "block": block,
                "other_projects": others,
                "conflicts": conflicts,
                "resolution": resolution.iter().map(|r| json!({
                    "name": r.name,
                    "loopback": r.loopback(),
                    "hickory": r.hickory.as_ref().map(|v| v.iter().map(|a| a.to_string()).collect::<Vec<_>>()).map_err(Clone::clone),
                    "os": r.os.as_ref().map(|v| v.iter().map(|a| a.to_string()).collect::<Vec<_>>()).map_err(Clone::clone),
                })).collect::<Vec<_>>(),
            }));
            continue;
        }
        match &block {
            Some(b) => {
                println!(
                    "{}: devenv block of {} (lines {}-{})",
                    path.display(),
                    project.name(),
                    b.first_line,
                    b.last_line
                );
                for (addr, names) in &b.entries {
                    println!("  {addr:<10} {}", names.join(" "));
                }
            }
            None => println!("{}: no devenv block of {}", path.display(), project.name()),
        }
        for r in &resolution {
            let mark = if r.loopback() { "ok" } else { "NOT LOOPBACK" };
            println!("  {mark:>4}  {}", r.describe());
        }
        for c in &conflicts {
            println!(
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
        if !others.is_empty() {
            println!(
                "  other devenv projects in this file: {}",
                others.join(", ")
            );
        }
    }
    if ctx.g.json {
        super::print_json(&out)?;
    }
    Ok(if all_ok { 0 } else { 1 })
}

fn restore(ctx: &Ctx, project: &Project) -> anyhow::Result<i32> {
    let dir = crate::paths::data_dir().join("hosts-backups");
    for path in targets(ctx) {
        let current = write::read(&path)?;
        let backups = write::backups(&dir, &path);
        let Some(pick) = backups
            .iter()
            .rev()
            .find(|b| std::fs::read(b).is_ok_and(|c| c != current))
        else {
            return Err(UserError::new(format!(
                "no backup of {} that differs from it",
                path.display()
            ))
            .hint(format!("backups are kept in {}", dir.display()))
            .into());
        };
        let content = std::fs::read(pick).map_err(|e| {
            UserError::new(format!("cannot read the backup {}: {e}", pick.display())).hint(
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    format!(
                        "it belongs to another user: run `sudo devenv -C {}{} hosts restore`",
                        crate::sys::shell_quote(&project.root.to_string_lossy()),
                        hosts_file_flag(ctx)
                    )
                } else {
                    format!("backups are kept in {}", dir.display())
                },
            )
        })?;
        if ctx.g.dry_run {
            println!("would restore {} from {}:", path.display(), pick.display());
            let show = |b: &[u8]| String::from_utf8_lossy(b).replace("\r\n", "\n");
            print!(
                "{}",
                crate::diff::unified(
                    &show(&current),
                    &show(&content),
                    "now",
                    &pick.display().to_string()
                )
            );
            continue;
        }
        match write::update(&path, &write::Options::default(), |cur| {
            Ok(hosts::edit::Edit::replace_all(cur, content.clone()))
        }) {
            Ok(_) => crate::ui::ok(&format!(
                "restored {} from {}",
                path.display(),
                pick.display()
            )),
            Err(e) if e.downcast_ref::<write::PermissionDenied>().is_some() => {
                return Err(UserError::new(format!(
                    "cannot write {}: permission denied",
                    path.display()
                ))
                .hint(format!(
                    "run `sudo devenv -C {}{} hosts restore`",
                    crate::sys::shell_quote(&project.root.to_string_lossy()),
                    hosts_file_flag(ctx)
                ))
                .into());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}

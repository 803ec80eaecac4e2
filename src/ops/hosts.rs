//! The hosts file as an operation: apply a [`SyncPlan`] (each file through its careful writer,
//! elevating only this step when a file is not writable), flush DNS caches, check the names with
//! the resolvers; list the block and how its names resolve; restore the latest backup.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use crate::error::UserError;
use crate::exec::Executor;
use crate::hosts::sync::{SyncPlan, Want};
use crate::hosts::{self, HostsPlan, write};
use crate::platform::Platform;
use crate::profile::{Profile, Project};

pub fn plan(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    want: Want,
) -> anyhow::Result<SyncPlan> {
    hosts::sync::plan(
        &ctx.hosts_targets(),
        project,
        profile,
        want,
        ctx.sys.as_ref(),
        ctx.maps_ipv6(profile),
    )
}

/// What applying a sync plan did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncReport {
    pub changed: Vec<PathBuf>,
    pub written_in_place: Vec<PathBuf>,
    /// Every name resolves to loopback (true when nothing had to resolve).
    pub all_resolve: bool,
    pub resolution: Vec<crate::dns::Resolution>,
    pub warnings: Vec<String>,
}

/// Writes a plan's edit through the executor's careful writer (which compares the file with what
/// was planned from, under the lock, and plans again if it changed meanwhile).
pub fn write_plan(
    x: &mut Executor<'_>,
    plan: HostsPlan,
    opts: &write::Options,
) -> anyhow::Result<(HostsPlan, write::Outcome)> {
    let mut plan = plan;
    let before = std::mem::take(&mut plan.before);
    let edit = std::mem::replace(&mut plan.edit, crate::hosts::edit::Edit::none(&[]));
    let replan = |cur: &[u8]| plan.transform(cur);
    let out = x.hosts(
        crate::exec::HostsWrite {
            path: &plan.path,
            before,
            edit,
            replan: &replan,
        },
        opts,
    )?;
    Ok((plan, out))
}

/// Carries out a sync plan: writes each file that changes (elevating only this step where
/// needed), flushes the DNS caches after a change, and checks the names.
pub fn apply(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    project: &Project,
    profile: &Profile,
    plan: SyncPlan,
) -> anyhow::Result<SyncReport> {
    let mut report = SyncReport {
        all_resolve: true,
        ..Default::default()
    };
    for n in &plan.notes {
        crate::ui::warn(n);
    }
    for n in &plan.info {
        crate::ui::info(n);
    }
    let mut elevated = false;
    for f in plan.files {
        let path = f.plan.path.clone();
        let opts = write::Options::for_file(ctx.sys.as_ref(), &path);
        if !f.plan.needs_write() {
            crate::ui::debug(&format!("{}: already up to date", path.display()));
            continue;
        }
        if !f.writable {
            elevate(ctx, x, project, profile, &path, &f.plan)?;
            elevated = true;
            report.changed.push(path.clone());
            record(ctx, x, project, &path, f.plan.removes_block(), &mut report)?;
            continue;
        }
        let removing = f.plan.removes_block();
        let (_, out) = write_plan(x, f.plan, &opts)?;
        if out.method == write::Method::Unchanged {
            continue;
        }
        report.changed.push(path.clone());
        if out.method == write::Method::InPlace {
            report.written_in_place.push(path.clone());
        }
        record(ctx, x, project, &path, removing, &mut report)?;
        crate::ui::ok(&format!(
            "{} {}{}",
            if removing {
                "removed the devenv block from"
            } else {
                "updated"
            },
            path.display(),
            if out.method == write::Method::InPlace {
                " (in place)"
            } else {
                ""
            }
        ));
    }
    if !report.changed.is_empty() && !elevated {
        for c in &plan.flush {
            if let Some(w) = crate::dns::flush_failure(c, x.run(c)) {
                crate::ui::warn(&format!("DNS cache flush: {w}"));
                report.warnings.push(w);
            }
        }
        if !plan.names.is_empty() && plan.verify {
            crate::ui::info(
                "Chrome keeps its own DNS cache for about a minute; if it still shows the old address, \
                 clear it at chrome://net-internals/#dns",
            );
        }
    }
    if plan.verify {
        for r in crate::dns::verify(&plan.names) {
            if !r.loopback() {
                report.all_resolve = false;
                crate::ui::warn(&format!("{} (expected loopback)", r.describe()));
            } else {
                crate::ui::debug(&r.describe());
            }
            report.resolution.push(r);
        }
    }
    Ok(report)
}

/// Where the record of what devenv wrote into `file` for `project` is kept (the user's data
/// directory; see [`hosts::integrity`]).
fn integrity_record_path(ctx: &Ctx, project: &Project, file: &Path) -> PathBuf {
    crate::paths::data_dir(ctx.sys.as_ref())
        .join("hosts-records")
        .join(format!("{}-{}.json", write::path_key(file), project.name()))
}

/// Reads the file back right after writing it: the block must be there as written (an antivirus
/// may revert the edit at once). Then records it, for `status` and `doctor` to check later.
fn check_written(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    project: &Project,
    path: &Path,
    removed: bool,
    report: &mut SyncReport,
) -> anyhow::Result<()> {
    let record_path = integrity_record_path(ctx, project, path);
    if x.dry_run() {
        return Ok(());
    }
    if removed {
        if record_path.exists() {
            x.remove(&record_path)?;
        }
        return Ok(());
    }
    let now = write::read(path)?;
    let Some(block) = hosts::integrity::block_digest(&now, project.name()) else {
        let w = format!(
            "{} no longer holds the block devenv just wrote: another program reverted the edit at once{}",
            path.display(),
            if ctx.sys.platform().os == crate::platform::Os::Windows {
                format!(
                    " (Windows Defender does: SettingsModifier:Win32/PossibleHostsFileHijack; in an administrator PowerShell `Add-MpPreference -ExclusionPath '{}'`, then `devenv hosts apply`)",
                    path.display()
                )
            } else {
                String::new()
            }
        );
        crate::ui::warn(&w);
        report.warnings.push(w);
        report.all_resolve = false;
        return Ok(());
    };
    let record = hosts::integrity::Record {
        file: path.display().to_string(),
        project: project.name().to_string(),
        block,
        docker_desktop: hosts::integrity::docker_desktop_digest(&now),
        at: super::now_rfc3339(ctx.sys.as_ref()),
    };
    if let Some(d) = record_path.parent() {
        x.create_dir_all(d)?;
    }
    x.write(
        &record_path,
        serde_json::to_string_pretty(&record)?.as_bytes(),
        Some(0o600),
    )
}

/// Each managed file whose block is no longer as devenv wrote it, with the likely cause and fix.
pub fn integrity(ctx: &Ctx, project: &Project) -> Vec<hosts::integrity::Finding> {
    let mut out = Vec::new();
    let dir = crate::paths::data_dir(ctx.sys.as_ref()).join("hosts-records");
    let scope = crate::contained::Scope::data_dir(&dir);
    for path in ctx.hosts_targets() {
        let Ok(text) = scope.read_string(&integrity_record_path(ctx, project, &path), 1 << 16)
        else {
            continue;
        };
        let Ok(record) = serde_json::from_str::<hosts::integrity::Record>(&text) else {
            continue;
        };
        let Ok(now) = write::read(&path) else {
            continue;
        };
        if let Some(f) = hosts::integrity::judge(
            &record,
            &now,
            ctx.sys.platform().os,
            &ctx.again(project, "hosts apply"),
        ) {
            out.push(f);
        }
    }
    out
}

/// After a hosts file changed: what the run did (with its undo), then the file read back and its
/// integrity record kept ([`check_written`]) — one call, so no write path records without it.
fn record(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    project: &Project,
    path: &Path,
    removed: bool,
    report: &mut SyncReport,
) -> anyhow::Result<()> {
    if removed {
        x.record(
            format!("removed the devenv block from {}", path.display()),
            None,
        );
    } else {
        x.record(
            format!(
                "the devenv block of {} in {}",
                project.name(),
                path.display()
            ),
            Some(ctx.again(project, "hosts remove")),
        );
    }
    check_written(ctx, x, project, path, removed, report)
}

/// ` --hosts-file PATH` when the user named the file, for commands we tell them to run.
pub fn hosts_file_flag(ctx: &Ctx) -> String {
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

/// Runs just the hosts step again with administrator rights.
fn elevate(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    project: &Project,
    profile: &Profile,
    path: &Path,
    plan: &HostsPlan,
) -> anyhow::Result<()> {
    let platform = ctx.sys.platform();
    let action = if plan.removes_block() {
        "remove"
    } else {
        "apply"
    };
    let manual = manual_command(platform, project, profile, &hosts_file_flag(ctx), action);
    if ctx.g.no_elevate {
        return Err(UserError::new(format!(
            "cannot write {}: it needs administrator rights, and --no-elevate was given",
            path.display()
        ))
        .hint(format!(
            "run this step yourself, {}: `{manual}`",
            admin_shell(platform)
        ))
        .into());
    }
    if ctx.sys.is_admin() && !path.starts_with("/mnt/") {
        return Err(UserError::new(format!(
            "cannot write {}: permission denied, even as administrator",
            path.display()
        ))
        .hint("is the file immutable (`lsattr`), or on a read-only file system?")
        .into());
    }
    let interactive = super::interactive();
    if !ctx.g.yes {
        if !interactive {
            return Err(UserError::new(format!(
                "cannot write {}: permission denied",
                path.display()
            ))
            .hint(format!(
                "run this step {}: `{manual}` (or pass --yes to let devenv elevate it)",
                admin_shell(platform)
            ))
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
        x.write_elsewhere(&tmp, &plan.after(), Some(0o644))?;
        let cmd = hosts::elevate::wsl_copy_elevated(
            &hosts::elevate::wsl_to_windows_path(&tmp).unwrap_or_default(),
            &hosts::elevate::wsl_to_windows_path(path).unwrap_or_default(),
        );
        let rc = x.run_attached(&cmd);
        let _ = x.remove_elsewhere(&tmp);
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
    match x.run_attached(&cmd) {
        Ok(0) => Ok(()),
        Ok(c) => Err(
            UserError::new(format!("the elevated hosts step failed (exit {c})"))
                .hint(format!("run `{manual}` to see why"))
                .into(),
        ),
        Err(e) => Err(UserError::new(format!("cannot run {}: {e}", cmd.program)).into()),
    }
}

/// Where the manual command runs.
fn admin_shell(p: Platform) -> &'static str {
    match p.os {
        crate::platform::Os::Windows => "in a PowerShell opened with \"Run as administrator\"",
        _ => "as administrator",
    }
}

/// The command a user runs in an administrator shell for the hosts step.
pub fn manual_command(
    platform: Platform,
    project: &Project,
    profile: &Profile,
    hosts_file: &str,
    action: &str,
) -> String {
    match platform.os {
        crate::platform::Os::Windows => format!(
            "devenv -C {} --profile {}{hosts_file} hosts {action}",
            crate::hosts::elevate::ps_quote(&project.root.to_string_lossy()),
            profile.name
        ),
        _ => format!(
            "sudo devenv -C {} --profile {}{hosts_file} hosts {action}",
            crate::sys::shell_quote(&project.root.to_string_lossy()),
            profile.name
        ),
    }
}

/// One hosts file as `hosts list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FileListing {
    pub file: PathBuf,
    pub block: Option<hosts::block::BlockInfo>,
    pub other_projects: Vec<String>,
    pub conflicts: Vec<hosts::block::Conflict>,
    pub resolution: Vec<crate::dns::Resolution>,
    /// This machine's resolver reads the file (a `--hosts-file` copy: only devenv's probes use
    /// what it maps).
    pub read_by_resolver: bool,
    pub interrupted: Option<String>,
}

impl FileListing {
    pub fn ok(&self) -> bool {
        self.resolution.iter().all(|r| r.loopback()) && self.conflicts.iter().all(|c| !c.shadows)
    }
}

/// The block in every managed file, conflicting lines, and how its names resolve.
pub fn list(ctx: &Ctx, project: &Project) -> anyhow::Result<Vec<FileListing>> {
    let profile = ctx.profile(project, None).ok();
    let mut out = Vec::new();
    for path in ctx.hosts_targets() {
        let (src, journaled) =
            write::read_for_plan(&path, &write::Options::for_file(ctx.sys.as_ref(), &path))?;
        let interrupted = match journaled {
            write::Journaled::HalfWritten(m) => Some(m),
            _ => None,
        };
        let block =
            hosts::block::find(&src, project.name()).map_err(|e| hosts::block_error(&path, e))?;
        let other_projects: Vec<String> = hosts::block::projects(&src)
            .into_iter()
            .filter(|p| p != project.name())
            .collect();
        let mut names: Vec<String> = block
            .as_ref()
            .map(|b| b.entries.iter().flat_map(|(_, n)| n.clone()).collect())
            .unwrap_or_default();
        names.sort();
        names.dedup();
        let conflicts = match &profile {
            Some(p) => {
                let want = hosts::names_for(p).unwrap_or_default();
                hosts::plan(
                    &path,
                    project,
                    p,
                    hosts::Action::Map(want),
                    &write::Options::for_file(ctx.sys.as_ref(), &path),
                    ctx.maps_ipv6(p),
                )
                .map(|pl| pl.conflicts)
                .unwrap_or_default()
            }
            None => Vec::new(),
        };
        let resolution = if path == hosts::system_hosts_path(ctx.sys.platform(), ctx.sys.as_ref())
            && !names.is_empty()
        {
            crate::dns::verify(&names)
        } else {
            Vec::new()
        };
        let read_by_resolver = hosts::read_by_resolver(&path, ctx.sys.platform(), ctx.sys.as_ref());
        out.push(FileListing {
            file: path,
            block,
            other_projects,
            conflicts,
            resolution,
            read_by_resolver,
            interrupted,
        });
    }
    Ok(out)
}

/// What `hosts restore` will bring back.
#[derive(Debug, Clone, Serialize)]
pub struct RestorePlan {
    pub file: PathBuf,
    pub backup: PathBuf,
    #[serde(skip)]
    pub current: Vec<u8>,
    #[serde(skip)]
    pub content: Vec<u8>,
}

impl RestorePlan {
    pub fn describe(&self) -> String {
        let show = |b: &[u8]| String::from_utf8_lossy(b).replace("\r\n", "\n");
        format!(
            "would restore {} from {}:\n{}",
            self.file.display(),
            self.backup.display(),
            crate::textdiff::unified(
                &show(&self.current),
                &show(&self.content),
                "now",
                &self.backup.display().to_string()
            )
        )
    }
}

/// A UTF-16 hosts file rewritten as UTF-8 (`hosts apply --convert`).
#[derive(Debug, Clone, Serialize)]
pub struct ConvertPlan {
    pub file: PathBuf,
    #[serde(skip)]
    pub current: Vec<u8>,
    #[serde(skip)]
    pub content: Vec<u8>,
}

/// Plans converting every managed hosts file that is UTF-16 (the others need nothing).
pub fn plan_convert(ctx: &Ctx) -> anyhow::Result<Vec<ConvertPlan>> {
    let mut out = Vec::new();
    for path in ctx.hosts_targets() {
        let current = write::read(&path)?;
        if !hosts::parse::is_utf16(&current) {
            continue;
        }
        let content = hosts::parse::utf16_to_utf8(&current).map_err(|e| {
            UserError::new(format!(
                "{} cannot be converted to UTF-8 without loss: {e}",
                path.display()
            ))
            .hint("fix the file in an editor (Save As, Encoding: UTF-8); nothing was changed")
        })?;
        out.push(ConvertPlan {
            file: path,
            current,
            content,
        });
    }
    Ok(out)
}

/// Writes each conversion (its backup first, through the careful writer).
pub fn convert(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    project: &Project,
    plans: Vec<ConvertPlan>,
) -> anyhow::Result<()> {
    for c in plans {
        if !write::writable_or_creatable(&c.file) {
            return Err(UserError::new(format!(
                "cannot write {}: converting it needs administrator rights",
                c.file.display()
            ))
            .hint(format!(
                "run `{}{}` as administrator",
                if ctx.sys.platform().os == crate::platform::Os::Windows {
                    ""
                } else {
                    "sudo "
                },
                ctx.again(project, "hosts apply --convert")
            ))
            .into());
        }
        let opts = write::Options::for_file(ctx.sys.as_ref(), &c.file);
        let plan = HostsPlan::restore(&c.file, project, c.current, c.content);
        let (_, out) = write_plan(x, plan, &opts)?;
        crate::ui::ok(&format!(
            "rewrote {} as UTF-8{}",
            c.file.display(),
            out.backup
                .map(|b| format!(" (the UTF-16 original is kept in {})", b.display()))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

/// Plans bringing back the latest backup of each managed file that differs from it.
pub fn plan_restore(ctx: &Ctx, project: &Project) -> anyhow::Result<Vec<RestorePlan>> {
    let mut out = Vec::new();
    for path in ctx.hosts_targets() {
        let dir = write::backup_dir(ctx.sys.as_ref(), &path);
        let current = write::read(&path)?;
        let backups = write::backups(&dir, &path);
        let scope = crate::contained::Scope::data_dir(&dir);
        let read_backup = |b: &std::path::Path| {
            scope
                .read(b, write::MAX_HOSTS_BYTES)
                .map_err(std::io::Error::other)
        };
        let Some(pick) = backups
            .iter()
            .rev()
            .find(|b| read_backup(b).is_ok_and(|c| c != current))
        else {
            return Err(UserError::new(format!(
                "no backup of {} that differs from it",
                path.display()
            ))
            .hint(format!("backups are kept in {}", dir.display()))
            .into());
        };
        let content = read_backup(pick).map_err(|e| {
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
        out.push(RestorePlan {
            file: path,
            backup: pick.clone(),
            current,
            content,
        });
    }
    Ok(out)
}

/// Restores each planned file through the careful writer.
pub fn restore(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    project: &Project,
    plans: Vec<RestorePlan>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut done = Vec::new();
    for r in plans {
        let opts = write::Options::for_file(ctx.sys.as_ref(), &r.file);
        let plan = HostsPlan::restore(&r.file, project, r.current, r.content);
        match write_plan(x, plan, &opts) {
            Ok(_) => {
                crate::ui::ok(&format!(
                    "restored {} from {}",
                    r.file.display(),
                    r.backup.display()
                ));
                done.push(r.file);
            }
            Err(e) if e.downcast_ref::<write::PermissionDenied>().is_some() => {
                return Err(UserError::new(format!(
                    "cannot write {}: permission denied",
                    r.file.display()
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
    Ok(done)
}

//! `devenv switch PROFILE`: make PROFILE the active one — re-render it, make the machine-local
//! changes (the hosts block) follow it, and show what changes from the previous profile.

use std::path::PathBuf;

use serde::Serialize;

use super::Ctx;
use crate::compare::ProfileDiff;
use crate::error::UserError;
use crate::exec::Executor;
use crate::hosts::sync::{SyncPlan, Want};
use crate::profile::{Profile, Project};
use crate::render::Rendered;
use crate::state::State;

pub struct SwitchPlan {
    pub project: Project,
    pub profile: Profile,
    pub rendered: Rendered,
    pub previous: Option<String>,
    /// What differs from the previous profile's point of view.
    pub diff: Option<ProfileDiff>,
    pub rendered_dir: PathBuf,
    pub hosts: SyncPlan,
    pub new_files: Vec<super::NewFile>,
    /// The previous profile's stack, deployed by devenv and not taken down: it keeps running.
    pub left_running: Option<LeftRunning>,
}

/// A stack that keeps running on the profile `switch` leaves.
#[derive(Debug, Clone, Serialize)]
pub struct LeftRunning {
    pub profile: String,
    pub stack: String,
    pub context: String,
}

impl SwitchPlan {
    pub fn describe(&self) -> String {
        let mut out = format!(
            "would render {} into {}\n",
            self.profile.name,
            self.rendered_dir.display()
        );
        out.push_str(&self.hosts.describe());
        out.push_str(&format!(
            "would set the active profile: {} → {}\n",
            self.previous.as_deref().unwrap_or("(none)"),
            self.profile.name
        ));
        if let Some(l) = &self.left_running {
            out.push_str(&format!("{}\n", l.say()));
        }
        out
    }
}

impl LeftRunning {
    pub fn say(&self) -> String {
        format!(
            "the stack {} of profile {} keeps running on context `{}`: `devenv down {}` stops it",
            self.stack, self.profile, self.context, self.profile
        )
    }
}

pub fn plan(ctx: &Ctx, profile_arg: Option<&str>) -> anyhow::Result<SwitchPlan> {
    let project = ctx.project()?;
    if profile_arg.is_none() && ctx.g.profile.is_none() {
        return Err(
            UserError::usage("name the profile to switch to: `devenv switch PROFILE`")
                .hint(format!(
                    "the profiles are: {}",
                    project.profile_names().join(", ")
                ))
                .into(),
        );
    }
    let profile = ctx.profile(&project, profile_arg)?;
    let minted = super::mint(ctx.sys.as_ref(), &project, &profile);
    let rendered = crate::render::render(
        &project,
        &profile,
        ctx.facts(&project, &profile),
        &minted.secrets,
        &minted.salt,
    )?;
    let state = State::load(&project.root)?;
    let previous = state.active_profile.clone();
    let left_running = previous
        .as_deref()
        .filter(|p| *p != profile.name)
        .and_then(|p| {
            state.deployed.get(p).map(|d| LeftRunning {
                profile: p.to_string(),
                stack: d.stack_name.clone(),
                context: d.context.clone(),
            })
        });
    let diff = match previous.as_deref() {
        Some(prev) if prev != profile.name => project.profile(prev).ok().and_then(|pp| {
            ctx.render(&project, &pp)
                .ok()
                .map(|pr| crate::compare::diff(&pp, &pr, &profile, &rendered))
        }),
        _ => None,
    };
    let hosts = super::hosts::plan(ctx, &project, &profile, Want::Match)?;
    Ok(SwitchPlan {
        rendered_dir: crate::state::rendered_dir(&project.root, &profile.name),
        project,
        profile,
        rendered,
        previous,
        diff,
        hosts,
        new_files: minted.new_files,
        left_running,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct SwitchReport {
    pub previous: Option<String>,
    pub active: String,
    pub rendered: PathBuf,
    pub hosts_changed: Vec<PathBuf>,
    pub diff: Option<ProfileDiff>,
    /// The stack of the profile left, still running (`devenv down PROFILE` stops it).
    pub left_running: Option<LeftRunning>,
}

pub fn apply(ctx: &Ctx, x: &mut Executor<'_>, plan: SwitchPlan) -> anyhow::Result<SwitchReport> {
    for w in &plan.rendered.warnings {
        crate::ui::warn(w);
    }
    let mut state = State::load(&plan.project.root)?;
    super::print_notes(
        &plan.rendered.notes,
        state
            .notes_seen
            .get(&plan.profile.name)
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
    super::write_minted(x, &plan.project, &plan.new_files)?;
    x.write_output(
        &plan.rendered_dir,
        &plan.rendered.files(),
        crate::fsutil::OutputDir::Own,
    )?;
    let hosts = super::hosts::apply(ctx, x, &plan.project, &plan.profile, plan.hosts)?;
    state.active_profile = Some(plan.profile.name.clone());
    super::remember_notes(&mut state, &plan.profile.name, &plan.rendered.notes);
    let dir = crate::state::dir(&plan.project.root);
    x.create_dir_all(&dir)?;
    if !dir.join(".gitignore").exists() {
        x.write(&dir.join(".gitignore"), b"*\n", None)?;
    }
    let mut s = serde_json::to_string_pretty(&state)?;
    s.push('\n');
    x.write(&crate::state::path(&plan.project.root), s.as_bytes(), None)?;
    Ok(SwitchReport {
        previous: plan.previous,
        active: plan.profile.name,
        rendered: plan.rendered_dir,
        hosts_changed: hosts.changed,
        diff: plan.diff,
        left_running: plan.left_running,
    })
}

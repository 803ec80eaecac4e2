//! `devenv switch PROFILE`: make PROFILE the active one; re-render it; add or remove the
//! machine-local changes (the hosts block) to match; print what changed from the previous profile.

use super::Ctx;
use crate::cli::SwitchArgs;
use crate::state::State;

pub fn run(ctx: &Ctx, a: SwitchArgs) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    if a.profile.is_none() && ctx.g.profile.is_none() {
        return Err(crate::error::UserError::usage(
            "name the profile to switch to: `devenv switch PROFILE`",
        )
        .hint(format!(
            "the profiles are: {}",
            project.profile_names().join(", ")
        ))
        .into());
    }
    let profile = ctx.profile(&project, a.profile.as_deref())?;
    let rendered = ctx.render(&project, &profile)?;
    super::print_warnings(&rendered);
    let _lock = crate::state::lock_unless_dry_run(&project.root, ctx.g.dry_run)?;
    let mut state = State::load(&project.root)?;
    let previous = state.active_profile.clone();

    // what changes, from the previous profile's point of view
    let summary = match previous.as_deref() {
        Some(prev) if prev != profile.name => match project.profile(prev) {
            Ok(pp) => match ctx.render(&project, &pp) {
                Ok(pr) => Some(crate::diff::diff(&pp, &pr, &profile, &rendered)),
                Err(_) => None,
            },
            Err(_) => None,
        },
        _ => None,
    };

    let dir = crate::state::rendered_dir(&project.root, &profile.name);
    if ctx.g.dry_run {
        println!("would render {} into {}", profile.name, dir.display());
        super::hosts::sync(ctx, &project, &profile, super::hosts::Want::Match)?;
        println!(
            "would set the active profile: {} → {}",
            previous.as_deref().unwrap_or("(none)"),
            profile.name
        );
        return Ok(0);
    }
    rendered.write_state(&dir)?;
    // local-only machine changes follow the profile: its hosts block, or none
    super::hosts::sync(ctx, &project, &profile, super::hosts::Want::Match)?;
    state.active_profile = Some(profile.name.clone());
    state.save(&project.root)?;

    if ctx.g.json {
        super::print_json(&serde_json::json!({
            "previous": previous,
            "active": profile.name,
            "rendered": dir,
            "diff": summary,
        }))?;
        return Ok(0);
    }
    match (&previous, &summary) {
        (Some(prev), _) if *prev == profile.name => {
            crate::ui::ok(&format!(
                "{} is already the active profile (re-rendered)",
                profile.name
            ));
        }
        (_, Some(d)) => {
            print!("{}", super::diff::format(d));
            crate::ui::ok(&format!(
                "active profile: {} → {}",
                previous.as_deref().unwrap_or("(none)"),
                profile.name
            ));
        }
        _ => crate::ui::ok(&format!("active profile: {}", profile.name)),
    }
    Ok(0)
}

//! `devenv render`: the rendered stack and config files of a profile, printed or written into a
//! directory (never touching files there devenv did not write).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use crate::exec::Executor;
use crate::render::Rendered;

/// A render for real: with the salt and `generate:` secrets it mints on first need (so secret
/// names are the ones `up` deploys), and the files to write for them.
pub struct RenderPlan {
    pub project: crate::profile::Project,
    pub rendered: Rendered,
    pub new_files: Vec<super::NewFile>,
}

pub fn plan(ctx: &Ctx, profile_arg: Option<&str>) -> anyhow::Result<RenderPlan> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, profile_arg)?;
    let m = super::mint(ctx.sys.as_ref(), &project, &profile);
    let mut rendered = crate::render::render(
        &project,
        &profile,
        ctx.facts(&project, &profile),
        &m.secrets,
        &m.salt,
    )?;
    // the stack `up` deploys: a built service is its content tag (docker ignores `build:`)
    let tags = crate::swarm::build::tags(&project, &rendered)?;
    let stack = crate::swarm::deploy::deployable(&rendered, &tags);
    rendered.stack_yaml = crate::render::stack::to_yaml(&stack);
    rendered.view = crate::stack::Stack::from_mapping(&stack);
    rendered.stack = stack;
    Ok(RenderPlan {
        project,
        rendered,
        new_files: m.new_files,
    })
}

/// Writes what the render minted (the salt, generated secrets), each once.
pub fn keep_minted(x: &mut Executor<'_>, plan: &RenderPlan) -> anyhow::Result<()> {
    super::write_minted(x, &plan.project, &plan.new_files)
}

#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub profile: String,
    pub dir: PathBuf,
    pub files: Vec<String>,
}

/// Writes the render into `dir`.
pub fn write(x: &mut Executor<'_>, r: &Rendered, dir: &Path) -> anyhow::Result<Written> {
    x.write_output(dir, &r.files(), crate::fsutil::OutputDir::Shared).map_err(|e| {
        match e.downcast_ref::<crate::fsutil::OutputError>() {
            Some(o) => crate::error::UserError::usage(o.to_string())
                .hint("write into an empty directory (or one devenv wrote before), or move the file away; nothing was written")
                .into(),
            None => e,
        }
    })?;
    Ok(Written {
        profile: r.profile.clone(),
        dir: dir.to_path_buf(),
        files: r.files().iter().map(|(p, _)| p.to_string()).collect(),
    })
}

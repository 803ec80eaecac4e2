//! `devenv build` and `devenv push`.

use serde_json::json;

use super::Ctx;
use crate::cli::BuildArgs;
use crate::error::UserError;
use crate::swarm::build;
use crate::swarm::docker::Docker;

pub fn run(ctx: &Ctx, a: BuildArgs, push: bool) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, a.profile.as_deref())?;
    if push && profile.file.registry.is_none() {
        return Err(UserError::usage(format!(
            "profile {} has no registry to push to",
            profile.name
        ))
        .hint(format!(
            "add `registry: {{prefix: REGISTRY/NAME}}` to {}",
            crate::error::display_path(&profile.path)
        ))
        .into());
    }
    let r = ctx.render_readonly(&project, &profile)?;
    if r.builds.is_empty() {
        crate::ui::info("no service of this stack has a build context (`build:`)");
        return Ok(0);
    }
    let docker = Docker::new(
        ctx.sys.as_ref(),
        &profile.file.docker.context,
        ctx.g.dry_run,
    )?;
    let tags = build::build(&docker, &project, &r, ctx.g.quiet)?;
    if push {
        build::push(&docker, &tags)?;
    }
    if ctx.g.json {
        super::print_json(&json!({"profile": profile.name, "images": tags, "pushed": push}))?;
    } else {
        for (svc, tag) in &tags {
            println!("{svc:<14} {tag}");
        }
    }
    Ok(0)
}

//! `devenv build` and `devenv push`: the images of services with a build context, tagged by a
//! hash of their sources; pushed for a registry profile.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use crate::error::UserError;
use crate::exec::Executor;
use crate::profile::Profile;
use crate::swarm::build::{self, BuildStep};

pub struct BuildPlan {
    pub profile: Profile,
    pub steps: Vec<BuildStep>,
    pub push: bool,
}

impl BuildPlan {
    pub fn describe(&self) -> String {
        let ctx = &self.profile.file.docker.context;
        let mut out = String::new();
        for b in &self.steps {
            if b.built {
                out.push_str(&format!("{}: {} is built already\n", b.service, b.tag));
            } else {
                out.push_str(&format!(
                    "would run: docker --context {ctx} {}\n",
                    b.args(false).join(" ")
                ));
            }
            if self.push {
                out.push_str(&format!(
                    "would run: docker --context {ctx} push {}\n",
                    b.tag
                ));
            }
        }
        out
    }
}

pub fn plan(ctx: &Ctx, profile_arg: Option<&str>, push: bool) -> anyhow::Result<BuildPlan> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, profile_arg)?;
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
    let r = ctx.render(&project, &profile)?;
    if r.builds.is_empty() {
        return Ok(BuildPlan {
            profile,
            steps: Vec::new(),
            push,
        });
    }
    // the build contexts are checked before docker is
    build::tags(&project, &r)?;
    let docker = ctx.docker(&profile)?;
    Ok(BuildPlan {
        steps: build::plan(&docker, &project, &r)?,
        profile,
        push,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub profile: String,
    pub images: BTreeMap<String, String>,
    pub pushed: bool,
}

pub fn apply(ctx: &Ctx, x: &mut Executor<'_>, plan: BuildPlan) -> anyhow::Result<BuildReport> {
    let tags: BTreeMap<String, String> = plan
        .steps
        .iter()
        .map(|b| (b.service.clone(), b.tag.clone()))
        .collect();
    if !plan.steps.is_empty() {
        let docker = ctx.docker(&plan.profile)?;
        build::build(x, &docker, &plan.steps, ctx.g.quiet)?;
        if plan.push {
            build::push(x, &docker, &tags)?;
        }
    }
    Ok(BuildReport {
        profile: plan.profile.name,
        images: tags,
        pushed: plan.push,
    })
}

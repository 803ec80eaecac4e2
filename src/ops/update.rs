//! `devenv update SERVICE…|--all`: pull the services' images and force a rolling restart, then
//! watch it like a deploy (crash loops and rolled-back updates fail it; `--rollback` undoes
//! what failed).

use crate::swarm::docker::Apply;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::Ctx;
use crate::error::{UserError, did_you_mean};
use crate::exec::Executor;
use crate::profile::{Profile, Project};
use crate::state::State;
use crate::swarm::converge::{self, Outcome};
use crate::swarm::guard::{self, Purpose};

/// The stack's full name of a service the user named (with a suggestion for a typo).
pub fn resolve(stack: &str, names: &[String], name: &str) -> anyhow::Result<String> {
    let short = name.strip_prefix(&format!("{stack}_")).unwrap_or(name);
    if names.iter().any(|n| n == short) {
        return Ok(short.to_string());
    }
    let mut e = UserError::usage(format!(
        "the stack has no service `{name}`; its services: {}",
        names.join(", ")
    ));
    if let Some(s) = did_you_mean(short, names.iter().map(String::as_str)) {
        e = e.hint(format!("did you mean `{s}`?"));
    }
    Err(e.into())
}

pub struct UpdatePlan {
    pub project: Project,
    pub profile: Profile,
    pub stack: String,
    /// Service (short name) → image it runs (without digest), or the tag of its current
    /// build when that was built since (`devenv build`, then `devenv update`).
    pub services: Vec<(String, String)>,
    /// The services whose image is a newer build than the one they run.
    pub rebuilt: Vec<String>,
    pub registry: bool,
    /// The swarm's nodes (one: an old task still stopping holds a host-mode port for a moment).
    pub nodes: u32,
    pub timeout: Duration,
    pub rollback: bool,
}

impl UpdatePlan {
    pub fn describe(&self) -> String {
        let ctx = &self.profile.file.docker.context;
        let mut out = String::new();
        for (s, image) in &self.services {
            if !self.registry && !self.rebuilt.contains(s) {
                out.push_str(&format!(
                    "would run: docker --context {ctx} pull -q {image}\n"
                ));
            }
            out.push_str(&format!(
                "would run: docker --context {ctx} {}\n",
                self.update_args(s, image).join(" ")
            ));
        }
        out
    }

    fn update_args(&self, service: &str, image: &str) -> Vec<String> {
        let mut args = vec![
            "service".to_string(),
            "update".into(),
            "--force".into(),
            "--detach".into(),
        ];
        if self.registry {
            // re-resolving the tag makes every node pull the current image
            args.extend([
                "--with-registry-auth".into(),
                "--image".into(),
                image.to_string(),
            ]);
        } else if self.rebuilt.iter().any(|r| r == service) {
            args.extend(["--image".into(), image.to_string()]);
        }
        args.push(format!("{}_{service}", self.stack));
        args
    }
}

pub fn plan(
    ctx: &Ctx,
    services: &[String],
    all: bool,
    timeout: Duration,
    rollback: bool,
) -> anyhow::Result<UpdatePlan> {
    if !all && services.is_empty() {
        return Err(UserError::usage("name the services to update, or pass --all").into());
    }
    let project = ctx.project()?;
    let profile = ctx.profile(&project, None)?;
    let state = State::load(&project.root)?;
    let r = ctx.render(&project, &profile)?;
    let known = r.service_names();
    let names: Vec<String> = if all {
        known.clone()
    } else {
        services
            .iter()
            .map(|s| resolve(&r.stack_name, &known, s))
            .collect::<anyhow::Result<_>>()?
    };
    let docker = ctx.docker(&profile)?;
    let target = guard::check(&docker, &profile, &state, Purpose::Existing, false)?;
    // a service built since it was deployed gets its new build (local engines: a registry
    // profile's new build is pushed and deployed by `up`)
    let tags = if profile.file.registry.is_none() {
        crate::swarm::build::tags(&project, &r)?
    } else {
        Default::default()
    };
    let mut out = Vec::new();
    let mut rebuilt = Vec::new();
    for n in names {
        let full = format!("{}_{n}", r.stack_name);
        let mut plain = crate::swarm::deploy::service_image(&docker, &full)?;
        if let Some(tag) = tags.get(&n)
            && *tag != plain
            && docker
                .try_query(["image", "inspect", "--format", "{{.Id}}", tag.as_str()])?
                .ok()
        {
            plain = tag.clone();
            rebuilt.push(n.clone());
        }
        out.push((n, plain));
    }
    Ok(UpdatePlan {
        nodes: target.info.swarm.nodes,
        registry: profile.file.registry.is_some(),
        stack: r.stack_name.clone(),
        project,
        profile,
        services: out,
        rebuilt,
        timeout,
        rollback,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct UpdateReport {
    pub services: Vec<converge::ServiceState>,
    pub elapsed_ms: u64,
}

pub fn apply(ctx: &Ctx, x: &mut Executor<'_>, plan: UpdatePlan) -> anyhow::Result<UpdateReport> {
    let docker = ctx.docker(&plan.profile)?;
    let since = SystemTime::now();
    for (n, image) in &plan.services {
        crate::ui::step(&format!("updating {n} ({image})"));
        if plan.rebuilt.contains(n) {
            crate::ui::note(&format!("{n} runs its new build {image}"));
        } else if !plan.registry && !x.docker_raw(&docker, ["pull", "-q", image.as_str()])?.ok() {
            crate::ui::debug(&format!(
                "could not pull {image}; restarting with the local image"
            ));
        }
        x.docker(&docker, plan.update_args(n, image))?;
    }
    let names: Vec<String> = plan.services.iter().map(|(n, _)| n.clone()).collect();
    let opts = converge::Options {
        timeout: plan.timeout,
        progress: !ctx.g.quiet && !ctx.g.json,
        single_node: plan.nodes <= 1,
        ..Default::default()
    };
    let report = converge::watch(
        &docker,
        &mut |svc| converge::force_update(x, &docker, svc),
        &plan.stack,
        &names,
        since,
        &opts,
    )?;
    if report.outcome == Outcome::Ready {
        return Ok(UpdateReport {
            services: report.services,
            elapsed_ms: report.elapsed.as_millis() as u64,
        });
    }
    let mut msg = String::from("the update did not complete:");
    for s in &report.services {
        if let Some(f) = s.fatal.as_ref().or(s.error.as_ref()) {
            msg.push_str(&format!("\n  {}: {f}", s.name));
        }
    }
    if plan.rollback {
        crate::swarm::deploy::rollback_unfinished(x, &docker, &plan.stack, &report)?;
        msg.push_str("\n(rolled back to the previous version)");
    }
    let e = if report.outcome == Outcome::TimedOut {
        UserError::timeout(msg)
    } else {
        UserError::new(msg)
    };
    Err(e.hint("`devenv logs SERVICE` shows why").into())
}

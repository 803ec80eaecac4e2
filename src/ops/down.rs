//! `devenv down`: remove the stack and return only when it is really gone — services, tasks and
//! networks — so an `up` right after works. devenv's configs and secrets of the stack go too;
//! named volumes only when asked (their data is lost, so the command confirms it first).

use crate::swarm::docker::Apply;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::Ctx;
use crate::exec::Executor;
use crate::profile::{Profile, Project};
use crate::state::State;
use crate::swarm::guard::{self, Purpose};
use crate::swarm::{objects, teardown};

pub struct DownPlan {
    pub project: Project,
    pub profile: Profile,
    pub stack: String,
    /// The engine is in a swarm (else there is nothing to remove).
    pub in_swarm: bool,
    pub services: Vec<String>,
    pub volumes: Vec<String>,
    pub objects: Vec<(&'static str, String)>,
    /// Each service's stop grace period (seconds), to say what the wait is for.
    pub grace: BTreeMap<String, f64>,
    pub timeout: Duration,
    /// This machine's hosts file holds the project's block, which `down` leaves in place.
    pub hosts_block: bool,
}

impl DownPlan {
    /// A remote swarm: the command asks before removing anything there.
    pub fn remote(&self) -> bool {
        !self.profile.on_this_machine()
    }

    pub fn describe(&self) -> String {
        let ctx = &self.profile.file.docker.context;
        if !self.in_swarm {
            return format!("context `{ctx}` is in no swarm: nothing to remove\n");
        }
        let mut out = String::new();
        if self.services.is_empty() {
            out.push_str(&format!(
                "stack {} has no services on context `{ctx}`\n",
                self.stack
            ));
        } else {
            out.push_str(&format!(
                "would run: docker --context {ctx} stack rm {}\nthen wait until its services ({}), tasks and networks are gone\n",
                self.stack,
                self.services.join(", ")
            ));
        }
        for (kind, n) in &self.objects {
            out.push_str(&format!(
                "would run: docker --context {ctx} {kind} rm {n}\n"
            ));
        }
        for v in &self.volumes {
            out.push_str(&format!(
                "would run: docker --context {ctx} volume rm {v} (its data is lost)\n"
            ));
        }
        out
    }
}

pub fn plan(
    ctx: &Ctx,
    profile_arg: Option<&str>,
    with_volumes: bool,
    timeout: Duration,
) -> anyhow::Result<DownPlan> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, profile_arg)?;
    let state = State::load(&project.root)?;
    let stack = profile.stack_name(&project);
    // what down leaves: the hosts block (read, not changed)
    let hosts_block = profile.on_this_machine()
        && super::hosts::plan(ctx, &project, &profile, crate::hosts::sync::Want::Remove)
            .is_ok_and(|p| p.changes());
    let docker = ctx.docker(&profile)?;
    let info = docker.info()?;
    let grace = ctx
        .render(&project, &profile)
        .map(|r| {
            r.view
                .services
                .iter()
                .filter_map(|s| Some((s.name.clone(), s.stop_grace_period?)))
                .collect()
        })
        .unwrap_or_default();
    if info.swarm.local_node_state != "active" {
        return Ok(DownPlan {
            project,
            profile,
            stack,
            in_swarm: false,
            services: Vec::new(),
            volumes: Vec::new(),
            objects: Vec::new(),
            grace,
            timeout,
            hosts_block,
        });
    }
    guard::check(&docker, &profile, &state, Purpose::Existing, false)?;
    let volumes = if with_volumes {
        teardown::list(&docker, &["volume", "ls"], &stack)?
            .into_iter()
            .map(|v| v.name)
            .collect()
    } else {
        Vec::new()
    };
    let services = teardown::list(&docker, &["service", "ls"], &stack)?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let objects = objects::unused(&docker, project.name(), &stack, &[])?;
    Ok(DownPlan {
        project,
        profile,
        stack,
        in_swarm: true,
        services,
        volumes,
        objects,
        grace,
        timeout,
        hosts_block,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct DownReport {
    pub stack: String,
    pub removed_services: Vec<String>,
    pub removed_objects: Vec<String>,
    pub removed_volumes: Vec<String>,
    pub volumes_left: Vec<String>,
    pub elapsed_ms: u64,
    /// The project's hosts block stays in this machine's hosts file (`devenv hosts remove`).
    pub hosts_block_left: bool,
}

pub fn apply(ctx: &Ctx, x: &mut Executor<'_>, plan: DownPlan) -> anyhow::Result<DownReport> {
    let start = std::time::Instant::now();
    let docker = ctx.docker(&plan.profile)?;
    let mut report = DownReport {
        stack: plan.stack.clone(),
        removed_services: plan.services.clone(),
        removed_objects: Vec::new(),
        removed_volumes: Vec::new(),
        volumes_left: Vec::new(),
        elapsed_ms: 0,
        hosts_block_left: plan.hosts_block,
    };
    if !plan.in_swarm {
        crate::ui::info(&format!(
            "context `{}` is in no swarm: nothing to remove",
            plan.profile.file.docker.context
        ));
        return Ok(report);
    }
    if !plan.services.is_empty() {
        crate::ui::step(&format!(
            "removing stack {} from context `{}`",
            plan.stack, plan.profile.file.docker.context
        ));
        teardown::stack_rm(x, &docker, &plan.stack)?;
    }
    teardown::wait_gone(x, &docker, &plan.stack, &plan.grace, plan.timeout)?;
    // what the wait could not see: objects of a stack that is gone now
    let objects = objects::unused(&docker, plan.project.name(), &plan.stack, &[])?;
    report.removed_objects = objects::remove(x, &docker, &objects)?;
    for v in &plan.volumes {
        if x.docker_raw(&docker, ["volume", "rm", v.as_str()])?.ok() {
            report.removed_volumes.push(v.clone());
        } else {
            crate::ui::warn(&format!("volume {v} could not be removed (still in use?)"));
            report.volumes_left.push(v.clone());
        }
    }
    let mut state = State::load(&plan.project.root)?;
    state.deployed.remove(&plan.profile.name);
    let mut s = serde_json::to_string_pretty(&state)?;
    s.push('\n');
    x.create_dir_all(&crate::state::dir(&plan.project.root))?;
    x.write(&crate::state::path(&plan.project.root), s.as_bytes(), None)?;
    report.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(report)
}

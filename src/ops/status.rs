//! `devenv status`: the profile, its target, the nodes, every service with its replicas, failing
//! tasks with their errors, and the URLs. Reads only.

use serde::{Deserialize, Serialize};

use super::Ctx;
use crate::state::State;
use crate::swarm::converge;

/// Read from `docker node ls` (PascalCase), printed as devenv's own JSON (snake_case).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "PascalCase", serialize = "snake_case"))]
pub struct NodeLine {
    #[serde(rename(deserialize = "ID", serialize = "id"), default)]
    pub id: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub availability: String,
    #[serde(default)]
    pub manager_status: String,
    #[serde(default)]
    pub engine_version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Swarm {
    pub state: String,
    pub cluster_id: Option<String>,
    pub manager: bool,
    pub nodes: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailingTask {
    pub service: String,
    pub task: String,
    pub node: String,
    pub state: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastDeploy {
    pub at: String,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub profile: String,
    pub active_profile: Option<String>,
    pub context: String,
    pub engine: String,
    pub stack: String,
    pub swarm: Swarm,
    pub nodes: Vec<NodeLine>,
    pub deployed: bool,
    pub last_deploy: Option<LastDeploy>,
    pub services: Vec<converge::ServiceState>,
    pub failing_tasks: Vec<FailingTask>,
    /// The project's tasks for this profile and when each last ran.
    pub tasks: Vec<super::tasks::TaskStatus>,
    pub urls: Vec<String>,
    /// Every published port and what it serves.
    pub endpoints: Vec<super::Endpoint>,
    /// The project's hosts block, where it is no longer as devenv wrote it.
    pub hosts_changed: Vec<crate::hosts::integrity::Finding>,
}

pub fn status(ctx: &Ctx, profile_arg: Option<&str>) -> anyhow::Result<StatusReport> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, profile_arg)?;
    let state = State::load(&project.root)?;
    let docker = ctx.docker(&profile)?;
    let info = docker.info()?;
    let stack = profile.stack_name(&project);
    let rendered = ctx.render(&project, &profile)?;
    let wanted = rendered.service_names();
    // nodes and services are listed by a manager only
    let manager = info.swarm.local_node_state == "active" && info.swarm.control_available;
    let nodes: Vec<NodeLine> = if manager {
        docker.json_lines(["node", "ls", "--format", crate::swarm::docker::JSON])?
    } else {
        Vec::new()
    };
    let mut services = Vec::new();
    let mut failing = Vec::new();
    if manager {
        for (state, mine) in converge::look_now(&docker, &stack, &wanted)? {
            for t in &mine {
                if !t.error_text().is_empty()
                    && matches!(t.state().as_str(), "failed" | "rejected" | "pending")
                {
                    failing.push(FailingTask {
                        service: state.name.clone(),
                        task: t.name.clone(),
                        node: t.node.clone(),
                        state: t.current_state.clone(),
                        error: t.error_text(),
                    });
                }
            }
            services.push(state);
        }
    }
    let deployed = services.iter().any(|s| s.phase != converge::Phase::Missing);
    let endpoints = if deployed {
        super::endpoints(
            ctx.sys.as_ref(),
            &profile,
            &rendered.view,
            &ctx.lookup(&project),
        )
    } else {
        Vec::new()
    };
    let hosts_changed = if profile.on_this_machine() {
        super::hosts::integrity(ctx, &project)
    } else {
        Vec::new()
    };
    Ok(StatusReport {
        hosts_changed,
        urls: super::web_urls(&profile, &endpoints),
        endpoints,
        profile: profile.name.clone(),
        active_profile: state.active_profile.clone(),
        context: profile.file.docker.context.clone(),
        engine: info.server_version.clone(),
        stack,
        swarm: Swarm {
            state: info.swarm.local_node_state.clone(),
            cluster_id: info.swarm.cluster_id().map(String::from),
            manager: info.swarm.control_available,
            nodes: info.swarm.nodes,
        },
        nodes,
        deployed,
        last_deploy: state.deployed.get(&profile.name).map(|d| LastDeploy {
            at: d.at.clone(),
            hash: d.stack_hash.clone(),
        }),
        services,
        failing_tasks: failing,
        tasks: super::tasks::status(&project, &profile.name, &state),
    })
}

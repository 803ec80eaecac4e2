//! `devenv status [--json]`: profile, target, nodes, services with replicas, failing tasks with
//! their errors, URLs.

use std::time::SystemTime;

use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use crate::cli::StatusArgs;
use crate::state::State;
use crate::swarm::docker::{Docker, TaskLine};
use crate::swarm::watch;

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeLine {
    #[serde(rename = "ID", default)]
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

pub fn run(ctx: &Ctx, a: StatusArgs) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, a.profile.as_deref())?;
    let state = State::load(&project.root)?;
    let docker = Docker::new(ctx.sys.as_ref(), &profile.file.docker.context, false)?;
    let info = docker.info()?;
    let stack = profile.stack_name(&project);
    let rendered = ctx.render_readonly(&project, &profile)?;
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
        let full: Vec<String> = wanted.iter().map(|s| format!("{stack}_{s}")).collect();
        let (inspects, tasks) = watch::snapshot(&docker, &stack, &full)?;
        let opts = watch::Options::default();
        for (short, f) in wanted.iter().zip(&full) {
            let mine: Vec<&TaskLine> = tasks.iter().filter(|t| t.service() == f).collect();
            let st = watch::evaluate(
                short,
                inspects.iter().find(|i| i.name() == *f),
                &mine,
                SystemTime::UNIX_EPOCH,
                None,
                &opts,
            );
            for t in &mine {
                let s = t.state();
                if !t.error_text().is_empty()
                    && matches!(s.as_str(), "failed" | "rejected" | "pending")
                {
                    failing.push(json!({"service": short, "task": t.name, "node": t.node, "state": t.current_state, "error": t.error_text()}));
                }
            }
            services.push(st);
        }
    }
    let deployed = state.deployed.get(&profile.name);
    let any_service = services.iter().any(|s| s.phase != "missing");
    let urls = super::up::urls(&profile, &rendered.stack);
    if ctx.g.json {
        super::print_json(&json!({
            "profile": profile.name,
            "active_profile": state.active_profile,
            "context": profile.file.docker.context,
            "stack": stack,
            "swarm": {"state": info.swarm.local_node_state, "cluster_id": info.swarm.cluster_id(), "manager": info.swarm.control_available, "nodes": info.swarm.nodes},
            "nodes": nodes,
            "deployed": any_service,
            "last_deploy": deployed.map(|d| json!({"at": d.at, "hash": d.stack_hash})),
            "services": services,
            "failing_tasks": failing,
            "urls": if any_service { urls.clone() } else { Vec::new() },
        }))?;
        return Ok(0);
    }
    println!(
        "profile  {}{}",
        profile.name,
        if state.active_profile.as_deref() == Some(&profile.name) {
            " (active)"
        } else {
            ""
        }
    );
    println!(
        "context  {} (engine {})",
        profile.file.docker.context, info.server_version
    );
    println!(
        "swarm    {}{}",
        info.swarm.local_node_state,
        info.swarm
            .cluster_id()
            .map(|c| format!(", cluster {c}"))
            .unwrap_or_default()
    );
    if nodes.len() > 1 {
        println!("nodes");
        for n in &nodes {
            println!(
                "  {:<20} {:<6} {:<8} {}",
                n.hostname,
                n.status,
                n.availability,
                if n.manager_status.is_empty() {
                    "worker"
                } else {
                    &n.manager_status
                }
            );
        }
    }
    if !any_service {
        println!(
            "stack    {stack}: not deployed (`devenv up {}`)",
            profile.name
        );
        return Ok(0);
    }
    println!(
        "stack    {stack}{}",
        deployed
            .map(|d| format!(", deployed {}", d.at))
            .unwrap_or_default()
    );
    for s in &services {
        let nodes = if s.nodes.is_empty() || nodes.len() <= 1 {
            String::new()
        } else {
            format!(" on {}", s.nodes.join(", "))
        };
        println!("  {}{nodes}", s.line());
    }
    if !failing.is_empty() {
        println!("failing tasks");
        for f in &failing {
            println!(
                "  {} {} ({}): {}",
                f["task"].as_str().unwrap_or_default(),
                f["state"].as_str().unwrap_or_default(),
                f["node"].as_str().unwrap_or_default(),
                f["error"].as_str().unwrap_or_default()
            );
        }
    }
    for u in urls {
        println!("{u}");
    }
    Ok(0)
}

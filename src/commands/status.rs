//! `devenv status [PROFILE]`: profile, target, nodes, services, failing tasks, URLs.

use crate::cli::StatusArgs;
use crate::ops::{self, Ctx};

pub fn run(ctx: &Ctx, a: StatusArgs) -> anyhow::Result<i32> {
    let r = ops::status::status(ctx, a.profile.as_deref())?;
    if ctx.g.json {
        return ops::print_json(&r).map(|_| 0);
    }
    println!(
        "profile  {}{}",
        r.profile,
        if r.active_profile.as_deref() == Some(&r.profile) {
            " (active)"
        } else {
            ""
        }
    );
    println!("context  {} (engine {})", r.context, r.engine);
    println!(
        "swarm    {}{}",
        r.swarm.state,
        r.swarm
            .cluster_id
            .as_ref()
            .map(|c| format!(", cluster {c}"))
            .unwrap_or_default()
    );
    if r.nodes.len() > 1 {
        println!("nodes");
        for n in &r.nodes {
            let role = if n.manager_status.is_empty() {
                "worker"
            } else {
                &n.manager_status
            };
            println!(
                "  {:<20} {:<6} {:<8} {role}",
                n.hostname, n.status, n.availability
            );
        }
    }
    if !r.deployed {
        println!(
            "stack    {}: not deployed (`devenv up {}`)",
            r.stack, r.profile
        );
        print_tasks(&r.tasks);
        return Ok(0);
    }
    println!(
        "stack    {}{}",
        r.stack,
        r.last_deploy
            .as_ref()
            .map(|d| format!(", deployed {}", d.at))
            .unwrap_or_default()
    );
    for s in &r.services {
        let nodes = if s.nodes.is_empty() || r.nodes.len() <= 1 {
            String::new()
        } else {
            format!(" on {}", s.nodes.join(", "))
        };
        println!("  {}{nodes}", s.line());
    }
    if !r.failing_tasks.is_empty() {
        println!("failing tasks");
        for f in &r.failing_tasks {
            println!("  {} {} ({}): {}", f.task, f.state, f.node, f.error);
        }
    }
    print_tasks(&r.tasks);
    for u in &r.urls {
        println!("{u}");
    }
    Ok(0)
}

fn print_tasks(tasks: &[crate::ops::tasks::TaskStatus]) {
    if tasks.is_empty() {
        return;
    }
    println!("tasks");
    for t in tasks {
        let last = match (&t.last_run, t.last_exit) {
            (None, _) => "never ran".to_string(),
            (Some(at), Some(0)) => format!("ok {at}"),
            (Some(at), Some(c)) => format!(
                "failed {at} (exit {c}){}",
                t.last_ok
                    .as_ref()
                    .map(|ok| format!(", last ok {ok}"))
                    .unwrap_or_default()
            ),
            (Some(at), None) => format!("timed out {at}"),
        };
        println!(
            "  {:<16} {:<26} in {:<12} {last}",
            t.name,
            t.when.join(", "),
            t.service
        );
    }
}

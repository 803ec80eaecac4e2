//! `devenv status [PROFILE]`: profile, target, nodes, services, failing tasks, URLs.

use crate::cli::StatusArgs;
use crate::ops::{self, Ctx};

pub fn run(ctx: &Ctx, a: StatusArgs) -> anyhow::Result<i32> {
    let r = ops::status::status(ctx, a.profile.as_deref())?;
    if ctx.g.json {
        return ops::print_json(&r).map(|_| 0);
    }
    crate::outln!(
        "profile  {}{}",
        r.profile,
        if r.active_profile.as_deref() == Some(&r.profile) {
            " (active)"
        } else {
            ""
        }
    );
    crate::outln!("context  {} (engine {})", r.context, r.engine);
    crate::outln!(
        "swarm    {}{}",
        r.swarm.state,
        r.swarm
            .cluster_id
            .as_ref()
            .map(|c| format!(", cluster {c}"))
            .unwrap_or_default()
    );
    if r.nodes.len() > 1 {
        crate::outln!("nodes");
        for n in &r.nodes {
            let role = if n.manager_status.is_empty() {
                "worker"
            } else {
                &n.manager_status
            };
            crate::outln!(
                "  {:<20} {:<6} {:<8} {role}",
                n.hostname,
                n.status,
                n.availability
            );
        }
    }
    if !r.deployed {
        crate::outln!(
            "stack    {}: not deployed (`devenv up {}`)",
            r.stack,
            r.profile
        );
        print_tasks(&r.tasks);
        return Ok(0);
    }
    crate::outln!(
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
        crate::outln!("  {}{nodes}", s.line());
    }
    if !r.failing_tasks.is_empty() {
        crate::outln!("failing tasks");
        for f in &r.failing_tasks {
            crate::outln!("  {} {} ({}): {}", f.task, f.state, f.node, f.error);
        }
    }
    print_tasks(&r.tasks);
    ops::print_endpoints(&r.urls, &r.endpoints);
    for f in &r.hosts_changed {
        crate::ui::warn(&f.message);
        crate::ui::info(&format!("fix: {}", f.fix));
    }
    Ok(0)
}

fn print_tasks(tasks: &[crate::ops::tasks::TaskStatus]) {
    if tasks.is_empty() {
        return;
    }
    crate::outln!("tasks");
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
        crate::outln!(
            "  {:<16} {:<26} in {:<12} {last}",
            t.name,
            t.when.join(", "),
            t.service
        );
    }
}

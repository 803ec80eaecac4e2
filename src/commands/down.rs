//! `devenv down`: remove the stack and return only when it is really gone — services, tasks and
//! networks (retrying the network removal docker gives up on) — so an `up` right after works.
//! devenv's configs and secrets go too; volumes only with `--volumes` (data loss: confirmed).

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::Ctx;
use crate::cli::DownArgs;
use crate::error::UserError;
use crate::state::State;
use crate::swarm::docker::Docker;
use crate::swarm::{guard, objects};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Named {
    #[serde(default)]
    name: String,
    #[serde(rename = "ID", default)]
    id: String,
}

/// The objects of kind `what` (`service ls`, `ps -a`, `network ls`, `volume ls`) of a stack.
fn list(docker: &Docker<'_>, what: &[&str], stack: &str) -> anyhow::Result<Vec<Named>> {
    let filter = format!("label=com.docker.stack.namespace={stack}");
    let mut args: Vec<&str> = what.to_vec();
    args.extend([
        "--filter",
        filter.as_str(),
        "--format",
        crate::swarm::docker::JSON,
    ]);
    docker.json_lines(args)
}

/// docker's "failed to remove some resources" when all that failed is a network a task still uses.
fn network_still_in_use(stderr: &str) -> bool {
    let e = stderr.to_ascii_lowercase();
    e.lines()
        .filter(|l| {
            l.contains("failed to remove") && !l.contains("failed to remove some resources")
        })
        .all(|l| l.contains("network") && l.contains("in use"))
        && e.contains("in use")
}

pub fn run(ctx: &Ctx, a: DownArgs) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, a.profile.as_deref())?;
    let _lock = crate::state::lock_unless_dry_run(&project.root, ctx.g.dry_run)?;
    let mut state = State::load(&project.root)?;
    let docker = Docker::new(
        ctx.sys.as_ref(),
        &profile.file.docker.context,
        ctx.g.dry_run,
    )?;
    let info = docker.info()?;
    if info.swarm.local_node_state != "active" {
        crate::ui::info(&format!(
            "context `{}` is in no swarm: nothing to remove",
            profile.file.docker.context
        ));
        return Ok(0);
    }
    guard::check(&docker, &profile, &state, false, false)?;
    let stack = profile.stack_name(&project);
    // a yes from the flag, or from the terminal
    let asked = |question: String| -> anyhow::Result<bool> {
        Ok(ctx.g.yes || ctx.g.dry_run || super::confirmed(&question)?)
    };
    if !profile.file.docker.swarm
        && !asked(format!(
            "remove stack {stack} from the remote context `{}`?",
            profile.file.docker.context
        ))?
    {
        return Err(UserError::new(format!(
            "not removing stack {stack} from the remote context `{}` without a yes",
            profile.file.docker.context
        ))
        .hint("run again with --yes")
        .into());
    }
    let start = Instant::now();

    let volumes: Vec<String> = if a.volumes {
        list(&docker, &["volume", "ls"], &stack)?
            .into_iter()
            .map(|v| v.name)
            .collect()
    } else {
        Vec::new()
    };
    if !volumes.is_empty()
        && !asked(format!(
            "--volumes deletes the data in {} (cannot be undone). Continue?",
            volumes.join(", ")
        ))?
    {
        return Err(UserError::new(format!(
            "not removing anything: --volumes would delete the data in {}, and needs a yes",
            volumes.join(", ")
        ))
        .hint("pass --yes to confirm deleting the volumes' data, or drop --volumes to keep them")
        .into());
    }

    let services = list(&docker, &["service", "ls"], &stack)?;
    if !services.is_empty() {
        crate::ui::step(&format!(
            "removing stack {stack} from context `{}`",
            profile.file.docker.context
        ));
        if docker.dry_run {
            docker.mutate(["stack", "rm", stack.as_str()])?;
        } else {
            let o = docker.try_query(["stack", "rm", stack.as_str()])?;
            // `stack rm` tries each network once and reports one still held by a task that is
            // shutting down as a failure; the wait below removes it once the task is gone
            if !o.ok() && !network_still_in_use(&o.stderr_str()) {
                return Err(crate::swarm::docker::explain(
                    &docker.context,
                    crate::swarm::docker::DockerError {
                        command: format!("docker --context {} stack rm {stack}", docker.context),
                        status: o.status,
                        stderr: o.stderr_str(),
                    },
                ));
            }
        }
    }
    if ctx.g.dry_run {
        objects::cleanup(&docker, project.name(), &stack, &[])?;
        for v in &volumes {
            println!("would run: docker volume rm {v}");
        }
        return Ok(0);
    }
    // wait for docker to finish what `stack rm` starts
    let timeout = Duration::from_secs(a.timeout);
    loop {
        let services = list(&docker, &["service", "ls"], &stack)?;
        let containers = list(&docker, &["ps", "-a"], &stack)?;
        let networks = list(&docker, &["network", "ls"], &stack)?;
        if services.is_empty() && containers.is_empty() && networks.is_empty() {
            break;
        }
        if services.is_empty() && containers.is_empty() {
            // `stack rm` tries each network once and gives up while a task still holds it
            for n in &networks {
                let _ = docker.try_query(["network", "rm", n.id.as_str()])?;
            }
        }
        if start.elapsed() > timeout {
            return Err(UserError::timeout(format!(
                "stack {stack} is not gone after {}s: {} services, {} containers, {} networks left",
                a.timeout,
                services.len(),
                containers.len(),
                networks.len()
            ))
            .hint("`docker stack ps` / `docker network ls` show what holds on; run `devenv down` again")
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let removed = objects::cleanup(&docker, project.name(), &stack, &[])?;
    for v in &volumes {
        if !docker.try_query(["volume", "rm", v.as_str()])?.ok() {
            crate::ui::warn(&format!("volume {v} could not be removed (still in use?)"));
        }
    }
    state.deployed.remove(&profile.name);
    state.save(&project.root)?;
    if ctx.g.json {
        super::print_json(&serde_json::json!({
            "stack": stack,
            "removed_objects": removed,
            "removed_volumes": volumes,
            "elapsed_ms": start.elapsed().as_millis() as u64,
        }))?;
    } else {
        crate::ui::ok(&format!(
            "stack {stack} is gone (services, tasks and networks) after {:.1}s{}",
            start.elapsed().as_secs_f64(),
            if volumes.is_empty() {
                "; volumes kept".to_string()
            } else {
                format!("; removed volumes {}", volumes.join(", "))
            }
        ));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_network_still_in_use_is_not_a_failed_down() {
        assert!(super::network_still_in_use(
            "Failed to remove network ob35zk19e1y0n3uchso05bqkb: Error response from daemon: rpc error: code = FailedPrecondition desc = network ob35zk19e1y0n3uchso05bqkb is in use by task wxgcacxo7cfh4u8u7o7s1kuakfailed to remove some resources from stack: myblog"
        ));
        assert!(!super::network_still_in_use(
            "Failed to remove service myblog_web: Error response from daemon: permission denied"
        ));
    }
}

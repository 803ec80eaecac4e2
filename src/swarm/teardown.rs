//! Removing a stack for real: `docker stack rm` returns before its services, tasks and networks
//! are gone (and gives up on a network a stopping task still holds), so this waits until all of
//! them are, removing such networks itself, and says what it waits for — each service with the
//! time left of its `stop_grace_period` — so `up` right after works and a long wait is explained.

use crate::swarm::docker::Apply;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::docker::Docker;
use crate::error::UserError;
use crate::exec::Executor;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Named {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub labels: String,
}

/// The objects of kind `what` (`service ls`, `ps -a`, `network ls`, `volume ls`) of a stack.
pub fn list(docker: &Docker<'_>, what: &[&str], stack: &str) -> anyhow::Result<Vec<Named>> {
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
pub fn network_still_in_use(stderr: &str) -> bool {
    let e = stderr.to_ascii_lowercase();
    e.lines()
        .filter(|l| {
            l.contains("failed to remove") && !l.contains("failed to remove some resources")
        })
        .all(|l| l.contains("network") && l.contains("in use"))
        && e.contains("in use")
}

/// `docker stack rm` (a network still held by a stopping task is left to [`wait_gone`]).
pub fn stack_rm(x: &mut Executor<'_>, docker: &Docker<'_>, stack: &str) -> anyhow::Result<()> {
    let o = x.docker_raw(docker, ["stack", "rm", stack])?;
    if !o.ok() && !network_still_in_use(&o.stderr_str()) {
        return Err(docker.explain(crate::swarm::docker::DockerError {
            command: format!("docker --context {} stack rm {stack}", docker.context),
            status: o.status,
            stderr: o.stderr_str(),
        }));
    }
    Ok(())
}

/// Waits until the stack's services, containers and networks are gone, removing networks
/// `stack rm` gave up on; `grace` is each service's stop grace period, for saying what it waits
/// for (every few seconds, never silent for long).
pub fn wait_gone(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    stack: &str,
    grace: &BTreeMap<String, f64>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut last_said: Option<Instant> = None;
    loop {
        let services = list(docker, &["service", "ls"], stack)?;
        let containers = list(docker, &["ps", "-a"], stack)?;
        let networks = list(docker, &["network", "ls"], stack)?;
        if services.is_empty() && containers.is_empty() && networks.is_empty() {
            return Ok(());
        }
        if services.is_empty() && containers.is_empty() {
            // `stack rm` tries each network once and gives up while a task still holds it
            for n in &networks {
                let _ = x.docker_raw(docker, ["network", "rm", n.id.as_str()])?;
            }
        }
        if last_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
            && start.elapsed() >= Duration::from_secs(2)
            && !containers.is_empty()
        {
            crate::ui::info(&waiting_for(stack, &containers, grace, start.elapsed()));
            last_said = Some(Instant::now());
        }
        if start.elapsed() > timeout {
            return Err(UserError::timeout(format!(
                "stack {stack} is not gone after {}s: {} services, {} containers, {} networks left",
                timeout.as_secs(),
                services.len(),
                containers.len(),
                networks.len()
            ))
            .hint("`docker stack ps` / `docker network ls` show what holds on; run `devenv down` again")
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// "waiting for web (stop_grace_period 1m30s: up to 82s left), db to stop".
pub fn waiting_for(
    stack: &str,
    containers: &[Named],
    grace: &BTreeMap<String, f64>,
    elapsed: Duration,
) -> String {
    let mut services: Vec<String> = containers
        .iter()
        .filter_map(|c| {
            c.labels
                .split(',')
                .find_map(|l| l.strip_prefix("com.docker.swarm.service.name="))
                .map(|s| {
                    s.strip_prefix(&format!("{stack}_"))
                        .unwrap_or(s)
                        .to_string()
                })
        })
        .collect();
    services.sort();
    services.dedup();
    let parts: Vec<String> = services
        .iter()
        .map(|s| {
            let g = grace.get(s).copied().unwrap_or(10.0);
            let left = (g - elapsed.as_secs_f64()).max(0.0);
            if left > 0.5 {
                format!("{s} (stop grace period {g:.0}s: up to {left:.0}s left)")
            } else {
                format!("{s} (past its {g:.0}s grace period: being killed)")
            }
        })
        .collect();
    if parts.is_empty() {
        format!(
            "waiting for {} containers of {stack} to stop",
            containers.len()
        )
    } else {
        format!("waiting for {} to stop", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_still_in_use_is_not_a_failed_down() {
        assert!(network_still_in_use(
            "Failed to remove network ob35zk19e1y0n3uchso05bqkb: Error response from daemon: rpc error: code = FailedPrecondition desc = network ob35zk19e1y0n3uchso05bqkb is in use by task wxgcacxo7cfh4u8u7o7s1kuakfailed to remove some resources from stack: myblog"
        ));
        assert!(!network_still_in_use(
            "Failed to remove service myblog_web: Error response from daemon: permission denied"
        ));
    }

    #[test]
    fn says_what_it_waits_for_with_the_grace_left() {
        let c = |svc: &str| Named {
            name: format!("x_{svc}.1.abc"),
            id: "1".into(),
            labels: format!("com.docker.stack.namespace=x,com.docker.swarm.service.name=x_{svc}"),
        };
        let grace = BTreeMap::from([("slow".to_string(), 90.0)]);
        let s = waiting_for("x", &[c("slow"), c("web")], &grace, Duration::from_secs(8));
        assert_eq!(
            s,
            "waiting for slow (stop grace period 90s: up to 82s left), web (stop grace period 10s: up to 2s left) to stop"
        );
    }
}

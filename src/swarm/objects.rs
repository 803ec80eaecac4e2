//! Swarm configs and secrets named by content hash: created before the deploy (values on
//! stdin, never on a command line), and removed once nothing uses them any more.

use serde::Deserialize;

use super::docker::Docker;
use crate::render::Rendered;
use crate::render::SecretInput;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ObjectLine {
    #[serde(default)]
    name: String,
}

fn label(project: &str) -> String {
    format!("devenv.project={project}")
}

fn existing(docker: &Docker<'_>, kind: &str, project: &str) -> anyhow::Result<Vec<String>> {
    Ok(docker
        .json_lines::<ObjectLine>([
            kind,
            "ls",
            "--filter",
            &format!("label={}", label(project)),
            "--format",
            crate::swarm::docker::JSON,
        ])?
        .into_iter()
        .map(|o| o.name)
        .collect())
}

fn create(
    docker: &Docker<'_>,
    kind: &str,
    project: &str,
    r: &Rendered,
    name: &str,
    data: &[u8],
) -> anyhow::Result<()> {
    docker.mutate_stdin(
        [
            kind,
            "create",
            "--label",
            &label(project),
            "--label",
            &format!("devenv.stack={}", r.stack_name),
            "--label",
            &format!("devenv.profile={}", r.profile),
            name,
            "-",
        ],
        data,
    )?;
    Ok(())
}

/// Creates the configs and secrets of `r` that do not exist yet; returns how many were created.
pub fn ensure(
    docker: &Docker<'_>,
    project: &str,
    r: &Rendered,
    secrets: &[SecretInput],
) -> anyhow::Result<usize> {
    let mut made = 0;
    let have = existing(docker, "config", project)?;
    for c in r.configs.iter().filter(|c| !have.contains(&c.object_name)) {
        create(
            docker,
            "config",
            project,
            r,
            &c.object_name,
            c.content.as_bytes(),
        )?;
        made += 1;
    }
    let have = existing(docker, "secret", project)?;
    for s in r.secrets.iter().filter(|s| !have.contains(&s.object_name)) {
        let value = match secrets.iter().find(|i| i.key == s.key).map(|i| &i.value) {
            Some(Ok(v)) => v.clone(),
            // --dry-run: `up` would create it (the local-CA leaf, a generated value) first
            _ if docker.dry_run => Vec::new(),
            _ => anyhow::bail!(
                "secret `{}` has no value ({})",
                s.key,
                s.unavailable.clone().unwrap_or_default()
            ),
        };
        create(docker, "secret", project, r, &s.object_name, &value)?;
        made += 1;
    }
    Ok(made)
}

/// Removes devenv's configs and secrets of `stack` that are not in `keep` (in-use ones stay).
pub fn cleanup(
    docker: &Docker<'_>,
    project: &str,
    stack: &str,
    keep: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    for kind in ["config", "secret"] {
        let names: Vec<String> = docker
            .json_lines::<ObjectLine>([
                kind,
                "ls",
                "--filter",
                &format!("label={}", label(project)),
                "--filter",
                &format!("label=devenv.stack={stack}"),
                "--format",
                crate::swarm::docker::JSON,
            ])?
            .into_iter()
            .map(|o| o.name)
            .filter(|n| !keep.contains(n))
            .collect();
        for n in names {
            if docker.dry_run {
                println!("would run: docker {kind} rm {n}");
                continue;
            }
            // still referenced by a task that is shutting down: leave it for the next run
            if docker.try_query([kind, "rm", &n])?.ok() {
                removed.push(n);
            }
        }
    }
    Ok(removed)
}

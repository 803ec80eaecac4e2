//! Swarm configs and secrets named by content hash: the ones a deploy needs that do not exist yet
//! (created before the deploy, values on stdin, never on a command line), and the ones nothing
//! uses any more (removed after it).

use crate::swarm::docker::Apply;
use serde::{Deserialize, Serialize};

use super::docker::Docker;
use crate::exec::Executor;
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

/// A config or secret to create.
#[derive(Debug, Clone, Serialize)]
pub struct NewObject {
    /// `config` or `secret`.
    pub kind: &'static str,
    pub name: String,
    pub stack: String,
    pub profile: String,
    /// The value (never printed or serialised).
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// The configs and secrets of `r` that do not exist yet on the target. A secret whose value is
/// unavailable is an error (checked before anything is created).
pub fn missing(
    docker: &Docker<'_>,
    project: &str,
    r: &Rendered,
    secrets: &[SecretInput],
) -> anyhow::Result<Vec<NewObject>> {
    let mut out = Vec::new();
    let have = existing(docker, "config", project)?;
    for c in r.configs.iter().filter(|c| !have.contains(&c.object_name)) {
        out.push(NewObject {
            kind: "config",
            name: c.object_name.clone(),
            stack: r.stack_name.clone(),
            profile: r.profile.clone(),
            data: c.content.as_bytes().to_vec(),
        });
    }
    let have = existing(docker, "secret", project)?;
    for s in r.secrets.iter().filter(|s| !have.contains(&s.object_name)) {
        let value = match secrets.iter().find(|i| i.key == s.key).map(|i| &i.value) {
            Some(Ok(v)) => v.clone(),
            _ => anyhow::bail!(
                "secret `{}` has no value ({})",
                s.key,
                s.unavailable.clone().unwrap_or_default()
            ),
        };
        out.push(NewObject {
            kind: "secret",
            name: s.object_name.clone(),
            stack: r.stack_name.clone(),
            profile: r.profile.clone(),
            data: value,
        });
    }
    Ok(out)
}

/// Creates one object, labelled with the project, stack and profile it belongs to.
pub fn create(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    project: &str,
    o: &NewObject,
) -> anyhow::Result<()> {
    x.docker_stdin(
        docker,
        [
            o.kind,
            "create",
            "--label",
            &label(project),
            "--label",
            &format!("devenv.stack={}", o.stack),
            "--label",
            &format!("devenv.profile={}", o.profile),
            &o.name,
            "-",
        ],
        &o.data,
    )?;
    Ok(())
}

/// devenv's configs and secrets of `stack` that are not in `keep`: `(kind, name)`.
pub fn unused(
    docker: &Docker<'_>,
    project: &str,
    stack: &str,
    keep: &[String],
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    for kind in ["config", "secret"] {
        for o in docker.json_lines::<ObjectLine>([
            kind,
            "ls",
            "--filter",
            &format!("label={}", label(project)),
            "--filter",
            &format!("label=devenv.stack={stack}"),
            "--format",
            crate::swarm::docker::JSON,
        ])? {
            if !keep.contains(&o.name) {
                out.push((kind, o.name));
            }
        }
    }
    Ok(out)
}

/// Removes objects; one still referenced by a task that is shutting down stays for the next run.
/// Returns the names removed.
pub fn remove(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    objects: &[(&'static str, String)],
) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    for (kind, n) in objects {
        if x.docker_raw(docker, [*kind, "rm", n.as_str()])?.ok() {
            removed.push(n.clone());
        }
    }
    Ok(removed)
}

/// The stack's external networks (their swarm names) that do not exist on the target.
pub fn missing_networks(
    docker: &Docker<'_>,
    stack: &crate::stack::Stack,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for (key, def) in &stack.networks {
        let external = match def.get("external") {
            Some(serde_yaml_ng::Value::Bool(b)) => *b,
            Some(serde_yaml_ng::Value::Mapping(_)) => true,
            _ => false,
        };
        if !external {
            continue;
        }
        let name = def
            .get("name")
            .and_then(serde_yaml_ng::Value::as_str)
            .unwrap_or(key)
            .to_string();
        if !docker
            .try_query(["network", "inspect", name.as_str()])?
            .ok()
        {
            out.push(name);
        }
    }
    Ok(out)
}

/// Creates an external network the stack expects: overlay, attachable, labelled as devenv's.
pub fn create_network(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    project: &str,
    name: &str,
) -> anyhow::Result<()> {
    x.docker(
        docker,
        [
            "network",
            "create",
            "--driver",
            "overlay",
            "--attachable",
            "--label",
            &label(project),
            name,
        ],
    )?;
    Ok(())
}

//! `docker stack deploy` of the rendered stack as the deploy file holds it (built services point
//! at their content-hash tags), the hash that decides whether a redeploy is needed, and the races
//! docker leaves behind (a network of a just-removed stack still being torn down) retried instead
//! of failed.

use crate::swarm::docker::Apply;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_yaml_ng::{Mapping, Value};

use super::docker::Docker;
use crate::exec::Executor;
use crate::render::Rendered;

/// `--rollback`: each service of `report` that did not finish goes back to its previous spec.
pub fn rollback_unfinished(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    stack: &str,
    report: &super::converge::Report,
) -> anyhow::Result<()> {
    for s in report.services.iter().filter(|s| !s.done) {
        crate::ui::step(&format!("rolling {} back to its previous version", s.name));
        x.docker_raw(
            docker,
            [
                "service",
                "rollback",
                "--detach",
                &format!("{stack}_{}", s.name),
            ],
        )?;
    }
    Ok(())
}

/// The image service `full` runs, as its spec names it (without the digest swarm pinned).
pub fn service_image(docker: &Docker<'_>, full: &str) -> anyhow::Result<String> {
    let o = docker.query([
        "service",
        "inspect",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        full,
    ])?;
    let image = o.stdout_str();
    Ok(image
        .trim()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The stack file as docker gets it: built services point at their content-hash tags and carry
/// no `build:` (stack deploy would ignore it, with a warning).
pub fn deployable(r: &Rendered, tags: &BTreeMap<String, String>) -> Mapping {
    let mut stack = r.stack.clone();
    if let Some(Value::Mapping(svcs)) = stack.get_mut("services") {
        for (name, svc) in svcs.iter_mut() {
            let (Some(name), Value::Mapping(svc)) = (name.as_str(), svc) else {
                continue;
            };
            svc.shift_remove("build");
            if let Some(tag) = tags.get(name) {
                svc.insert(Value::String("image".into()), Value::String(tag.clone()));
            }
        }
    }
    stack
}

/// Every image the stack references, by service.
pub fn images(stack: &Mapping) -> BTreeMap<String, String> {
    crate::stack::Stack::from_mapping(stack)
        .services
        .into_iter()
        .filter_map(|s| Some((s.name, s.image?)))
        .collect()
}

fn normalize(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The local image id of each reference (missing ones are left out), in one docker call: the
/// JSON `image inspect` prints for the images it finds (a `--format` template fails as a whole
/// on some CLI/engine pairs as soon as one reference is missing).
pub fn image_ids(docker: &Docker<'_>, refs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Image {
        #[serde(default)]
        id: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        #[serde(default)]
        repo_digests: Option<Vec<String>>,
    }
    let mut out = BTreeMap::new();
    if refs.is_empty() {
        return Ok(out);
    }
    let mut args = vec!["image".to_string(), "inspect".into()];
    args.extend(refs.iter().cloned());
    let o = docker.try_query(args)?;
    let found: Vec<Image> = serde_json::from_slice(&o.stdout).unwrap_or_default();
    for img in found {
        let tags = img.repo_tags.unwrap_or_default();
        let digests = img.repo_digests.unwrap_or_default();
        for r in refs {
            let n = normalize(r);
            if tags.contains(&n) || digests.contains(r) {
                out.insert(r.clone(), img.id.clone());
            }
        }
    }
    Ok(out)
}

/// A hash of everything that decides whether a redeploy is needed.
pub fn deploy_hash(stack_yaml: &str, ids: &BTreeMap<String, String>) -> String {
    let mut s = stack_yaml.to_string();
    for (k, v) in ids {
        s.push_str(&format!("\n#image {k}={v}"));
    }
    crate::hash::short(s.as_bytes(), 32)
}

fn transient(err: &str) -> bool {
    let e = err.to_ascii_lowercase();
    e.contains("is in use by task")
        || e.contains("update out of sequence")
        || (e.contains("network")
            && (e.contains("not found")
                || e.contains("already exists")
                || e.contains("has active endpoints")))
        || e.contains("rpc error: code = unavailable")
}

/// The arguments of `docker stack deploy` for the deploy file (`registry`: pull and pass the
/// registry login to the nodes).
pub fn deploy_args(file: &Path, stack: &str, registry: bool) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "stack".into(),
        "deploy".into(),
        "--compose-file".into(),
        file.to_string_lossy().into_owned(),
        "--prune".into(),
        "--resolve-image".into(),
        if registry {
            "always".into()
        } else {
            "never".into()
        },
    ];
    if registry {
        args.push("--with-registry-auth".into());
    }
    args.push(stack.into());
    args
}

/// The longest one `docker stack deploy` may take (it only sends the stack to the swarm; the
/// services converge after).
pub const DEPLOY_TIMEOUT: Duration = Duration::from_secs(300);

/// `docker stack deploy`, retrying docker's own teardown races for up to `patience`.
pub fn stack_deploy(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    file: &Path,
    stack: &str,
    registry: bool,
    patience: Duration,
) -> anyhow::Result<()> {
    let args = deploy_args(file, stack, registry);
    let start = Instant::now();
    let mut said = false;
    loop {
        // bounded: a deploy that hangs (docker reading a file that never ends) is stopped and
        // said, never waited for forever
        let mut lines = Vec::new();
        let status = x
            .run_streamed(&docker.cmd(args.clone()), DEPLOY_TIMEOUT, &mut |l| {
                lines.push(l.to_string())
            })
            .map_err(|e| anyhow::anyhow!("cannot run docker ({}): {e}", docker.program))?;
        let Some(status) = status else {
            return Err(crate::error::UserError::new(format!(
                "`docker stack deploy` of {stack} did not finish within {} s and was stopped",
                DEPLOY_TIMEOUT.as_secs()
            ))
            .hint("docker may be reading a file that never ends (a FIFO as an env_file?), or the engine does not answer: `docker info`")
            .code(crate::error::EXIT_TIMEOUT)
            .into());
        };
        if status == 0 {
            return Ok(());
        }
        let err = lines.join("\n");
        if transient(&err) && start.elapsed() < patience {
            if !said {
                crate::ui::info(&format!(
                    "docker is still tearing something down ({}); retrying",
                    err.lines().last().unwrap_or("")
                ));
                said = true;
            }
            std::thread::sleep(Duration::from_millis(400));
            continue;
        }
        return Err(docker.explain(super::docker::DockerError {
            command: super::docker::display_docker(&docker.cmd(args)),
            status,
            stderr: err,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_tags() {
        assert_eq!(normalize("nginx"), "nginx:latest");
        assert_eq!(normalize("reg:5000/a/b"), "reg:5000/a/b:latest");
        assert_eq!(normalize("reg:5000/a/b:1"), "reg:5000/a/b:1");
    }

    #[test]
    fn races_are_transient() {
        assert!(transient(
            "failed to create network x_default: Error response from daemon: network with name x_default already exists"
        ));
        assert!(transient(
            "Error response from daemon: rpc error: code = InvalidArgument desc = network x_default is in use by task abc"
        ));
        assert!(!transient(
            "services.web Additional property foo is not allowed"
        ));
    }
}

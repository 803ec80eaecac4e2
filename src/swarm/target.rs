//! The remote side: docker contexts created from a profile's `docker.host`, the nodes of a swarm,
//! placement constraints checked against them before a deploy, and the difference between what a
//! profile would deploy and what runs there now (for the confirmation before a remote `up`).

use std::collections::BTreeMap;

use crate::stack::Stack;
use serde::Deserialize;

use super::docker::{Docker, ServiceInspect};
use crate::error::UserError;
use crate::exec::Executor;
use crate::profile::Profile;

/// The profile's docker context as it stands: there, to be created from `docker.host`, or
/// missing with no way to create it (an error naming both fixes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextState {
    Exists,
    /// Created from this endpoint before anything else.
    Create(String),
}

/// Reads whether the profile's context exists (`default` always does).
pub fn context_state(docker: &Docker<'_>, profile: &Profile) -> anyhow::Result<ContextState> {
    let name = &profile.file.docker.context;
    if name == "default" {
        return Ok(ContextState::Exists);
    }
    let exists = docker
        .sys
        .query(&crate::sys::Cmd::new(docker.program.clone()).args([
            "context",
            "inspect",
            name.as_str(),
        ]))
        .is_ok_and(|o| o.ok());
    if exists {
        return Ok(ContextState::Exists);
    }
    match &profile.file.docker.host {
        Some(host) => Ok(ContextState::Create(host.clone())),
        None => Err(UserError::new(format!(
            "the docker context `{name}` of profile {} does not exist",
            profile.name
        ))
        .hint(format!(
            "create it: `docker context create {name} --docker host=ssh://USER@SERVER`, or add `host: ssh://USER@SERVER` under docker: in {} and devenv creates it",
            crate::error::display_path(&profile.path)
        ))
        .into()),
    }
}

/// The `docker context create` of a profile's context for `host`.
pub fn create_context_cmd(docker: &Docker<'_>, profile: &Profile, host: &str) -> crate::sys::Cmd {
    crate::sys::Cmd::new(docker.program.clone()).args([
        "context".to_string(),
        "create".into(),
        profile.file.docker.context.clone(),
        "--description".into(),
        format!("created by devenv for profile {}", profile.name),
        "--docker".into(),
        format!("host={host}"),
    ])
}

/// Creates the profile's context for `host`, saying why when docker refuses.
pub fn create_context(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    profile: &Profile,
    host: &str,
) -> anyhow::Result<()> {
    let name = &profile.file.docker.context;
    crate::ui::step(&format!("creating docker context `{name}` for {host}"));
    let o = x.run(&create_context_cmd(docker, profile, host))?;
    if !o.ok() {
        return Err(UserError::new(format!(
            "cannot create the docker context `{name}` for {host}: {}",
            o.stderr_str()
        ))
        .hint(format!(
            "check docker.host in {} (ssh://USER@HOST, tcp://HOST:2376, unix:///PATH); `docker context create {name} --docker host={host}` shows the same error",
            crate::error::display_path(&profile.path)
        ))
        .into());
    }
    x.record(
        format!("the docker context `{name}`"),
        Some(format!("docker context rm {name}")),
    );
    Ok(())
}

/// The endpoint a context points at (`ssh://deploy@myblog.com`), empty when unknown.
pub fn endpoint(docker: &Docker<'_>, context: &str) -> String {
    docker
        .sys
        .query(&crate::sys::Cmd::new(docker.program.clone()).args([
            "context",
            "inspect",
            context,
            "--format",
            "{{.Endpoints.docker.Host}}",
        ]))
        .map(|o| o.stdout_str().trim().to_string())
        .unwrap_or_default()
}

/// A node as `docker node inspect` shows it (what placement constraints look at).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub spec: NodeSpec,
    #[serde(default)]
    pub description: NodeDescription,
    #[serde(default)]
    pub status: NodeStatus,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct NodeSpec {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub availability: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct NodeDescription {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub platform: Platform,
    #[serde(default)]
    pub engine: Engine,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(rename = "OS", default)]
    pub os: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Engine {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct NodeStatus {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub addr: String,
}

pub fn nodes(docker: &Docker<'_>) -> anyhow::Result<Vec<Node>> {
    let ids = docker.query(["node", "ls", "-q"])?;
    let ids: Vec<String> = ids
        .stdout_str()
        .lines()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["node".to_string(), "inspect".into()];
    args.extend(ids);
    docker.json(args)
}

fn attr(node: &Node, key: &str) -> Option<String> {
    let arch = |a: &str| {
        match a {
            "x86_64" => "x86_64",
            "aarch64" => "aarch64",
            o => o,
        }
        .to_string()
    };
    match key {
        "node.id" => Some(node.id.clone()),
        "node.hostname" => Some(node.description.hostname.clone()),
        "node.role" => Some(node.spec.role.clone()),
        "node.platform.os" => Some(node.description.platform.os.clone()),
        "node.platform.arch" => Some(arch(&node.description.platform.architecture)),
        k => k
            .strip_prefix("node.labels.")
            .and_then(|l| node.spec.labels.get(l).cloned())
            .or_else(|| {
                k.strip_prefix("engine.labels.")
                    .and_then(|l| node.description.engine.labels.get(l).cloned())
            }),
    }
}

/// Whether `node` satisfies one constraint (`node.role == manager`, `node.labels.db != ssd`).
pub fn satisfies(node: &Node, constraint: &str) -> Result<bool, String> {
    let (key, op, value) = if let Some((k, v)) = constraint.split_once("!=") {
        (k, "!=", v)
    } else if let Some((k, v)) = constraint.split_once("==") {
        (k, "==", v)
    } else {
        return Err(format!(
            "`{constraint}` is not `KEY == VALUE` or `KEY != VALUE`"
        ));
    };
    let (key, value) = (key.trim(), value.trim());
    let known = [
        "node.id",
        "node.hostname",
        "node.role",
        "node.platform.os",
        "node.platform.arch",
    ];
    if !known.contains(&key)
        && !key.starts_with("node.labels.")
        && !key.starts_with("engine.labels.")
    {
        return Err(format!("`{key}` is not a placement attribute swarm knows"));
    }
    let actual = attr(node, key);
    let eq = actual
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case(value));
    Ok(if op == "==" { eq } else { !eq })
}

/// Services whose placement constraints no (active, ready) node satisfies, with why.
pub fn unplaceable(stack: &Stack, nodes: &[Node]) -> Vec<String> {
    let mut out = Vec::new();
    let usable: Vec<&Node> = nodes
        .iter()
        .filter(|n| {
            n.spec.availability.eq_ignore_ascii_case("active")
                && n.status.state.eq_ignore_ascii_case("ready")
        })
        .collect();
    for svc in stack.services.iter().filter(|s| !s.placement.is_empty()) {
        let (name, constraints) = (&svc.name, &svc.placement);
        for c in constraints {
            if let Err(e) = usable.first().map(|n| satisfies(n, c)).unwrap_or(Ok(true)) {
                out.push(format!("service `{name}`: constraint {e}"));
            }
        }
        let ok = usable
            .iter()
            .any(|n| constraints.iter().all(|c| satisfies(n, c).unwrap_or(false)));
        if !ok {
            let list = usable
                .iter()
                .map(|n| {
                    format!(
                        "{} ({}, labels {:?})",
                        n.description.hostname, n.spec.role, n.spec.labels
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            out.push(format!(
                "service `{name}`: no node satisfies [{}]; the nodes are: {list}",
                constraints.join(", ")
            ));
        }
    }
    out
}

/// A service flattened to the points a person compares before a deploy.
pub type Points = BTreeMap<String, String>;

/// The running service's points (from `docker service inspect`).
pub fn running_points(s: &ServiceInspect) -> Points {
    let mut p = Points::new();
    let spec = &s.spec;
    let image = s.image();
    p.insert(
        "image".into(),
        image.split('@').next().unwrap_or(&image).to_string(),
    );
    p.insert(
        "replicas".into(),
        s.replicas()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "global".into()),
    );
    for e in spec["TaskTemplate"]["ContainerSpec"]["Env"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some((k, v)) = e.as_str().and_then(|e| e.split_once('=')) {
            p.insert(format!("env.{k}"), v.to_string());
        }
    }
    for port in spec["EndpointSpec"]["Ports"]
        .as_array()
        .into_iter()
        .flatten()
    {
        p.insert(
            format!("ports.{}", port["PublishedPort"]),
            format!(
                "{}/{} {}",
                port["TargetPort"],
                port["Protocol"].as_str().unwrap_or("tcp"),
                port["PublishMode"].as_str().unwrap_or("ingress")
            ),
        );
    }
    for c in spec["TaskTemplate"]["ContainerSpec"]["Configs"]
        .as_array()
        .into_iter()
        .flatten()
    {
        p.insert(
            format!("config {}", c["File"]["Name"].as_str().unwrap_or_default()),
            c["ConfigName"].as_str().unwrap_or_default().to_string(),
        );
    }
    for c in spec["TaskTemplate"]["ContainerSpec"]["Secrets"]
        .as_array()
        .into_iter()
        .flatten()
    {
        p.insert(
            format!("secret {}", c["File"]["Name"].as_str().unwrap_or_default()),
            crate::stack::mask(c["SecretName"].as_str().unwrap_or_default()),
        );
    }
    p
}

/// What would change on the target, service by service (secret values masked).
pub fn running_diff(
    docker: &Docker<'_>,
    stack_name: &str,
    stack: &Stack,
) -> anyhow::Result<Vec<String>> {
    let names = stack.names();
    let mut args = vec!["service".to_string(), "inspect".into()];
    args.extend(names.iter().map(|n| format!("{stack_name}_{n}")));
    let o = docker.try_query(args)?;
    let running: Vec<ServiceInspect> = if o.stdout.iter().any(|b| !b.is_ascii_whitespace()) {
        serde_json::from_slice(&o.stdout).unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for n in &names {
        let planned = stack
            .service(n)
            .map(|s| s.points(stack))
            .unwrap_or_default();
        match running
            .iter()
            .find(|s| s.name() == format!("{stack_name}_{n}"))
        {
            None => out.push(format!(
                "+ {n} (new service: {})",
                planned.get("image").cloned().unwrap_or_default()
            )),
            Some(s) => {
                let now = running_points(s);
                let mut keys: Vec<&String> = planned.keys().chain(now.keys()).collect();
                keys.sort();
                keys.dedup();
                let changes: Vec<String> = keys
                    .into_iter()
                    .filter(|k| planned.get(*k) != now.get(*k))
                    .map(|k| {
                        format!(
                            "    {k}: {} → {}",
                            now.get(k).map(String::as_str).unwrap_or("(unset)"),
                            planned.get(k).map(String::as_str).unwrap_or("(unset)")
                        )
                    })
                    .collect();
                if !changes.is_empty() {
                    out.push(format!("~ {n}\n{}", changes.join("\n")));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, role: &str, labels: &[(&str, &str)]) -> Node {
        Node {
            id: format!("id-{host}"),
            spec: NodeSpec {
                role: role.into(),
                availability: "active".into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            description: NodeDescription {
                hostname: host.into(),
                platform: Platform {
                    architecture: "x86_64".into(),
                    os: "linux".into(),
                },
                ..Default::default()
            },
            status: NodeStatus {
                state: "ready".into(),
                addr: "10.0.0.1".into(),
            },
        }
    }

    #[test]
    fn constraints() {
        let n = node("a", "manager", &[("db", "ssd")]);
        assert!(satisfies(&n, "node.role == manager").unwrap());
        assert!(!satisfies(&n, "node.role != manager").unwrap());
        assert!(satisfies(&n, "node.labels.db==ssd").unwrap());
        assert!(!satisfies(&n, "node.labels.zone == eu").unwrap());
        assert!(satisfies(&n, "node.platform.os == linux").unwrap());
        assert!(satisfies(&n, "node.role = manager").is_err());
        assert!(satisfies(&n, "node.colour == red").is_err());
    }

    #[test]
    fn unplaceable_services_are_named() {
        let stack = Stack::from_mapping(&serde_yaml_ng::from_str(
            "services:\n  db:\n    deploy: {placement: {constraints: [node.labels.db == ssd]}}\n  web:\n    deploy: {placement: {constraints: [node.role == worker]}}\n",
        )
        .unwrap());
        let nodes = vec![node("m1", "manager", &[]), node("w1", "worker", &[])];
        let p = unplaceable(&stack, &nodes);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("service `db`")
                && p[0].contains("node.labels.db == ssd")
                && p[0].contains("m1")
        );
    }

    #[test]
    fn planned_points_mask_secrets() {
        let stack = Stack::from_mapping(&serde_yaml_ng::from_str(
            "services:\n  web:\n    image: r/web:1\n    environment: {A: '1'}\n    ports: ['80:8080']\n    secrets: [{source: k, target: key}]\n    deploy: {replicas: 3}\nsecrets:\n  k: {external: true, name: s_k_0123456789}\n",
        )
        .unwrap());
        let p = stack.service("web").unwrap().points(&stack);
        assert_eq!(p["image"], "r/web:1");
        assert_eq!(p["replicas"], "3");
        assert_eq!(p["env.A"], "1");
        assert_eq!(p["ports.80"], "8080/tcp ingress");
        assert!(p["secret key"].starts_with("s_k_") && !p["secret key"].contains("0123456789"));
    }
}

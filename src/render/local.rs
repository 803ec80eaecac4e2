//! What a single-node swarm on this machine demands, applied to the stack and reported (never
//! silently, never refused): a service that publishes a host-mode port runs one replica (on one
//! node a second task could not bind the port) and updates stop-first (a start-first update
//! would wait forever for the port); a port without a published side gets one docker picks.
//! Only for profiles that run on this machine (`docker.swarm: true`): a server's stack is
//! deployed as written.

use serde_yaml_ng::{Mapping, Value};

use super::stack::deploy_mut;
use crate::stack::{Mode, PortMode, Service, key};

/// Adjusts `stack` (shaped, ports in their final mode) for one node; returns one note per change.
/// `profile_file` names the profile in the notes (where an override would go).
pub fn single_node(stack: &mut Mapping, profile_file: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(Value::Mapping(svcs)) = stack.get_mut("services") else {
        return notes;
    };
    let mut random_ports: Vec<String> = Vec::new();
    for (name, svc) in svcs.iter_mut() {
        let (Some(name), Some(m)) = (name.as_str(), svc.as_mapping_mut()) else {
            continue;
        };
        let view = Service::from_mapping(name, m);
        let host: Vec<String> = view
            .ports
            .iter()
            .filter(|p| p.mode == PortMode::Host)
            .filter_map(|p| p.published.map(|n| n.to_string()))
            .collect();
        for p in view.ports.iter().filter(|p| p.published.is_none()) {
            random_ports.push(format!("{name}:{}", p.target));
        }
        if host.is_empty() {
            continue;
        }
        let ports = host.join(", ");
        let plural = if host.len() > 1 { "s" } else { "" };
        if let Mode::Replicated(n) = view.mode
            && n > 1
        {
            deploy_mut(m).insert(key("replicas"), Value::Number(1.into()));
            notes.push(format!(
                "{name} runs 1 replica here, not {n}: it publishes host-mode port{plural} {ports}, which only one task \
                 per node can bind, and this swarm has one node (to run {n}, drop the published port{plural} in \
                 {profile_file}: `services: {{{name}: {{ports: !reset []}}}}`)"
            ));
        }
        if view.update_order.as_deref() == Some("start-first") {
            let deploy = deploy_mut(m);
            if let Some(Value::Mapping(u)) = deploy.get_mut("update_config") {
                u.insert(key("order"), key("stop-first"));
            }
            notes.push(format!(
                "{name} updates stop-first here, not start-first: a new task cannot bind host-mode port{plural} \
                 {ports} while the old one holds it on this one node"
            ));
        }
    }
    if !random_ports.is_empty() {
        notes.push(format!(
            "{} {} no published port: docker picks a free one on this machine (`docker ps` shows it); \
             services of the stack reach each other on their own ports without it",
            random_ports.join(", "),
            if random_ports.len() > 1 { "have" } else { "has" }
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Mapping {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn one_replica_and_stop_first_for_host_ports() {
        let mut s = y("services:
  vote:
    ports: [{target: 80, published: 5000, mode: host}]
    deploy: {replicas: 2, update_config: {parallelism: 2, order: start-first}}
  worker:
    deploy: {replicas: 3}
  redis:
    ports: [{target: 6379, mode: host}]
    deploy: {replicas: 2}
");
        let notes = single_node(&mut s, "profiles/local.yaml");
        let vote = &s["services"]["vote"]["deploy"];
        assert_eq!(vote["replicas"], Value::Number(1.into()));
        assert_eq!(vote["update_config"]["order"], key("stop-first"));
        assert_eq!(
            vote["update_config"]["parallelism"],
            Value::Number(2.into())
        );
        assert_eq!(
            s["services"]["worker"]["deploy"]["replicas"],
            Value::Number(3.into())
        );
        assert_eq!(
            s["services"]["redis"]["deploy"]["replicas"],
            Value::Number(2.into()),
            "random ports do not collide"
        );
        assert_eq!(notes.len(), 3, "{notes:#?}");
        assert!(
            notes[0].starts_with("vote runs 1 replica here, not 2"),
            "{}",
            notes[0]
        );
        assert!(notes[0].contains("profiles/local.yaml"), "{}", notes[0]);
        assert!(
            notes[2].starts_with("redis:6379 has no published port"),
            "{}",
            notes[2]
        );
    }

    #[test]
    fn ingress_ports_and_single_replicas_are_left_alone() {
        let mut s = y("services:
  web:
    ports: [{target: 80, published: 80, mode: ingress}]
    deploy: {replicas: 2}
  api:
    ports: [{target: 8080, published: 8080, mode: host}]
");
        let before = s.clone();
        assert!(single_node(&mut s, "p").is_empty());
        assert_eq!(s, before);
    }
}

//! One typed view of a rendered stack: services with their image, replicas, ports, configs,
//! secrets, networks, volumes and placement, and the stack's top-level objects. Render's checks,
//! `diff`, the running-vs-planned comparison before a remote deploy and `up`'s change summary all
//! read the stack through it, instead of walking untyped YAML each their own way.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

/// A stack as `docker stack deploy` gets it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stack {
    pub services: Vec<Service>,
    /// Top-level `configs:` and `secrets:` by key.
    pub configs: BTreeMap<String, Object>,
    pub secrets: BTreeMap<String, Object>,
    /// Top-level `networks:` and `volumes:` names, and their definitions flattened.
    pub networks: BTreeMap<String, Value>,
    pub volumes: BTreeMap<String, Value>,
}

/// A top-level config or secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Object {
    /// The swarm object's name (`name:`; devenv's are content-hash named).
    pub name: Option<String>,
    pub external: bool,
    /// `file:`, for objects the stack file itself defines.
    pub file: Option<String>,
}

/// How many tasks a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Replicated(u64),
    Global,
    ReplicatedJob,
    GlobalJob,
}

/// Where a published port is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortMode {
    /// Swarm's routing mesh (every node, a VIP behind it).
    Ingress,
    /// Only on the node running the task.
    Host,
}

impl PortMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PortMode::Ingress => "ingress",
            PortMode::Host => "host",
        }
    }
}

/// A port of a service (long syntax; short ones are expanded, ranges one port each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub target: u64,
    /// `None`: not published ("6379"), or published on a random port by swarm.
    pub published: Option<u64>,
    pub protocol: String,
    pub mode: PortMode,
}

/// A config or secret a service mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    pub has_build: bool,
    pub mode: Mode,
    pub ports: Vec<Port>,
    pub configs: Vec<Mount>,
    pub secrets: Vec<Mount>,
    pub networks: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub placement: Vec<String>,
    pub update_order: Option<String>,
    /// `stop_grace_period` in seconds (swarm's default is 10).
    pub stop_grace_period: Option<f64>,
    /// The service as written, for what the typed fields do not cover.
    pub raw: Mapping,
}

impl Stack {
    /// The view of a stack mapping (as rendered and shaped by devenv, or as read back).
    pub fn from_mapping(m: &Mapping) -> Stack {
        let objects = |kind: &str| -> BTreeMap<String, Object> {
            m.get(kind)
                .and_then(Value::as_mapping)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| {
                    let o = Object {
                        name: v.get("name").and_then(Value::as_str).map(String::from),
                        external: v.get("external").and_then(Value::as_bool).unwrap_or(false),
                        file: v.get("file").and_then(Value::as_str).map(String::from),
                    };
                    Some((k.as_str()?.to_string(), o))
                })
                .collect()
        };
        let named = |kind: &str| -> BTreeMap<String, Value> {
            m.get(kind)
                .and_then(Value::as_mapping)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                .collect()
        };
        Stack {
            services: m
                .get("services")
                .and_then(Value::as_mapping)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some(Service::from_mapping(k.as_str()?, v.as_mapping()?)))
                .collect(),
            configs: objects("configs"),
            secrets: objects("secrets"),
            networks: named("networks"),
            volumes: named("volumes"),
        }
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.services.iter().map(|s| s.name.clone()).collect()
    }

    /// Every published port of every service, sorted, each once.
    pub fn published_ports(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .services
            .iter()
            .flat_map(|s| s.ports.iter().filter_map(|p| p.published))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The swarm object name behind a config or secret key (the key itself when not renamed).
    pub fn object_name(&self, kind: Kind, key: &str) -> String {
        let table = match kind {
            Kind::Config => &self.configs,
            Kind::Secret => &self.secrets,
        };
        table
            .get(key)
            .and_then(|o| o.name.clone())
            .unwrap_or_else(|| key.to_string())
    }

    /// What cannot schedule on a single node, each with the fix.
    pub fn single_node_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.services {
            let host: Vec<String> = s
                .ports
                .iter()
                .filter(|p| p.mode == PortMode::Host)
                .filter_map(|p| p.published.map(|n| n.to_string()))
                .collect();
            if host.is_empty() {
                continue;
            }
            let ports = host.join(", ");
            if let Mode::Replicated(n) = s.mode
                && n > 1
            {
                out.push(format!(
                    "service `{}` publishes host-mode port {ports} with {n} replicas: on one node only one task can bind it \
                     (\"no suitable node (host-mode port already in use on 1 node)\"); set its replicas to 1 in this profile",
                    s.name
                ));
            }
            if s.update_order.as_deref() == Some("start-first") {
                out.push(format!(
                    "service `{}` publishes host-mode port {ports} with `update_config.order: start-first`: the new task \
                     cannot bind the port while the old one holds it, so every update hangs; use `order: stop-first` in this profile",
                    s.name
                ));
            }
        }
        out
    }
}

/// A config or a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Config,
    Secret,
}

impl Service {
    pub fn from_mapping(name: &str, m: &Mapping) -> Service {
        let deploy = m.get("deploy").and_then(Value::as_mapping);
        let dget = |k: &str| deploy.and_then(|d| d.get(k));
        let mode = match dget("mode").and_then(Value::as_str) {
            Some("global") => Mode::Global,
            Some("replicated-job") => Mode::ReplicatedJob,
            Some("global-job") => Mode::GlobalJob,
            _ => Mode::Replicated(
                dget("replicas")
                    .and_then(|r| {
                        r.as_u64()
                            .or_else(|| r.as_str().and_then(|s| s.parse().ok()))
                    })
                    .unwrap_or(1),
            ),
        };
        let ports = m
            .get("ports")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .flat_map(|p| parse_port(p).unwrap_or_default())
            .collect();
        let mounts = |kind: &str| -> Vec<Mount> {
            m.get(kind)
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|e| match e {
                    Value::String(s) => Some(Mount {
                        source: s.clone(),
                        target: s.clone(),
                    }),
                    Value::Mapping(x) => {
                        let source = x.get("source")?.as_str()?.to_string();
                        let target = x
                            .get("target")
                            .and_then(Value::as_str)
                            .map(String::from)
                            .unwrap_or_else(|| source.clone());
                        Some(Mount { source, target })
                    }
                    _ => None,
                })
                .collect()
        };
        let networks = match m.get("networks") {
            Some(Value::Sequence(l)) => l
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(Value::Mapping(n)) => n
                .keys()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        let mut environment = BTreeMap::new();
        match m.get("environment") {
            Some(Value::Mapping(e)) => {
                for (k, v) in e {
                    environment.insert(
                        scalar(k),
                        if v.is_null() {
                            String::new()
                        } else {
                            scalar(v)
                        },
                    );
                }
            }
            Some(Value::Sequence(l)) => {
                for e in l.iter().filter_map(Value::as_str) {
                    let (k, v) = e.split_once('=').unwrap_or((e, ""));
                    environment.insert(k.to_string(), v.to_string());
                }
            }
            _ => {}
        }
        Service {
            name: name.to_string(),
            image: m.get("image").and_then(Value::as_str).map(String::from),
            has_build: m.contains_key("build"),
            mode,
            ports,
            configs: mounts("configs"),
            secrets: mounts("secrets"),
            networks,
            environment,
            placement: dget("placement")
                .and_then(|p| p.get("constraints"))
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(String::from))
                .collect(),
            update_order: dget("update_config")
                .and_then(|u| u.get("order"))
                .and_then(Value::as_str)
                .map(String::from),
            stop_grace_period: m
                .get("stop_grace_period")
                .and_then(Value::as_str)
                .and_then(parse_duration),
            raw: m.clone(),
        }
    }

    /// Replicas as deployed (`None` for global services and jobs).
    pub fn replicas(&self) -> Option<u64> {
        match self.mode {
            Mode::Replicated(n) => Some(n),
            _ => None,
        }
    }

    /// Every key of the service flattened to dotted paths (`deploy.replicas`, `ports.443`,
    /// `environment.DEBUG`), for comparing two versions point by point; a missing replicas is 1.
    pub fn flat(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.raw {
            flatten(&scalar(k), v, &mut out);
        }
        if self.replicas().is_some() && !out.contains_key("deploy.replicas") {
            out.insert("deploy.replicas".into(), "1".into());
        }
        // a service that names no network is on the stack's default one
        if !self.raw.contains_key("networks") {
            out.insert("networks.default".into(), "joined".into());
        }
        out
    }

    /// The points a person compares before a deploy: image, replicas, environment, ports, and
    /// the configs and secrets by object name (secrets masked), as [`crate::swarm::target`]
    /// reads them from a running service.
    pub fn points(&self, stack: &Stack) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert("image".into(), self.image.clone().unwrap_or_default());
        p.insert(
            "replicas".into(),
            self.replicas()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "global".into()),
        );
        for (k, v) in &self.environment {
            p.insert(format!("env.{k}"), v.clone());
        }
        for port in &self.ports {
            p.insert(
                format!(
                    "ports.{}",
                    port.published.map(|n| n.to_string()).unwrap_or_default()
                ),
                format!("{}/{} {}", port.target, port.protocol, port.mode.as_str()),
            );
        }
        for c in &self.configs {
            p.insert(
                format!("config {}", c.target),
                stack.object_name(Kind::Config, &c.source),
            );
        }
        for s in &self.secrets {
            p.insert(
                format!("secret {}", s.target),
                mask(&stack.object_name(Kind::Secret, &s.source)),
            );
        }
        p
    }
}

/// A secret object name shows whether it changed, never what it hides.
pub fn mask(name: &str) -> String {
    match name.rsplit_once('_') {
        Some((base, hash)) => format!("{base}_{}", &crate::hash::short(hash.as_bytes(), 6)),
        None => name.to_string(),
    }
}

/// `1m30s`, `90s`, `1h`, `500ms`, `2.5s` in seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        any = true;
    }
    if !num.is_empty() {
        // a bare number: seconds, as compose reads it
        total += num.parse::<f64>().ok()?;
        any = true;
    }
    any.then_some(total)
}

/// A YAML string value (a mapping key, mostly).
pub fn key(s: &str) -> Value {
    Value::String(s.to_string())
}

/// A port entry (short or long syntax) as typed ports, one per port of a range.
pub fn parse_port(p: &Value) -> Result<Vec<Port>, String> {
    let mk = |target: u64, published: Option<u64>, proto: &str, mode: PortMode| Port {
        target,
        published,
        protocol: proto.to_string(),
        mode,
    };
    match p {
        Value::Number(n) => {
            let t = n.as_u64().ok_or_else(|| format!("`{n}` is not a port"))?;
            Ok(vec![mk(t, None, "tcp", PortMode::Ingress)])
        }
        Value::String(s) => {
            let (spec, proto) = s.split_once('/').unwrap_or((s.as_str(), "tcp"));
            let parts: Vec<&str> = spec.split(':').collect();
            let (published, target) = match parts.as_slice() {
                [t] => (None, *t),
                [p, t] => (Some(*p), *t),
                [_, _, _] => {
                    return Err(format!(
                        "`{s}` binds a host IP, which swarm does not support; publish `PORT:PORT` and firewall it"
                    ));
                }
                _ => return Err(format!("`{s}` is not a port mapping")),
            };
            let range = |r: &str| -> Result<(u64, u64), String> {
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                let a: u64 = a
                    .parse()
                    .map_err(|_| format!("`{s}` is not a port mapping"))?;
                let b: u64 = b
                    .parse()
                    .map_err(|_| format!("`{s}` is not a port mapping"))?;
                if a > b || b > 65535 {
                    return Err(format!("`{s}` is not a valid port range"));
                }
                Ok((a, b))
            };
            let (t0, t1) = range(target)?;
            let pubs = published.map(range).transpose()?;
            if let Some((p0, p1)) = pubs
                && p1 - p0 != t1 - t0
            {
                return Err(format!("`{s}`: published and target ranges differ in size"));
            }
            Ok((0..=t1 - t0)
                .map(|i| mk(t0 + i, pubs.map(|(p0, _)| p0 + i), proto, PortMode::Ingress))
                .collect())
        }
        Value::Mapping(m) => {
            let num = |k: &str| {
                m.get(k).and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
            };
            let target = num("target").ok_or_else(|| "a port without `target`".to_string())?;
            let mode = match m.get("mode").and_then(Value::as_str) {
                Some("host") => PortMode::Host,
                _ => PortMode::Ingress,
            };
            let proto = m.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
            Ok(vec![mk(target, num("published"), proto, mode)])
        }
        _ => Err("a port must be a number, a string or a mapping".into()),
    }
}

impl Port {
    /// The long-syntax mapping of this port.
    pub fn to_mapping(&self) -> Mapping {
        let mut m = Mapping::new();
        m.insert(key("target"), Value::Number(self.target.into()));
        if let Some(p) = self.published {
            m.insert(key("published"), Value::Number(p.into()));
        }
        m.insert(key("protocol"), key(&self.protocol));
        m.insert(key("mode"), key(self.mode.as_str()));
        m
    }
}

/// One line, compact: scalars as themselves, collections as JSON.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Flattens mappings into dotted paths; lists stay whole (one entry), except that `ports` are one
/// point per published port and `environment` and `labels` lists (`KEY=VALUE`) are read as
/// mappings so each variable is its own point.
pub fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    let last = prefix.rsplit('.').next().unwrap_or(prefix);
    match v {
        // a service's networks, as a list or a mapping: one point per network joined, then what
        // the mapping says of it (`networks.front.aliases`)
        Value::Sequence(s) if prefix == "networks" && s.iter().all(Value::is_string) => {
            for n in s {
                out.insert(format!("networks.{}", scalar(n)), "joined".into());
            }
        }
        Value::Mapping(m) if prefix == "networks" => {
            for (k, v) in m {
                let at = format!("networks.{}", scalar(k));
                out.insert(at.clone(), "joined".into());
                flatten(&at, v, out);
            }
        }
        Value::Mapping(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{}", scalar(k)), v, out);
            }
        }
        Value::Null => {}
        Value::Sequence(s) if last == "ports" => {
            for p in s {
                // one point per published port: "80 → 80/tcp ingress"
                for port in parse_port(p).unwrap_or_default() {
                    out.insert(
                        format!(
                            "{prefix}.{}",
                            port.published
                                .map(|n| n.to_string())
                                .unwrap_or_else(|| "(random)".into())
                        ),
                        format!("{}/{} {}", port.target, port.protocol, port.mode.as_str()),
                    );
                }
            }
        }
        // one point per config or secret a service mounts: `configs.devenv_ca  /etc/devenv/ca.pem`
        Value::Sequence(s) if prefix == "configs" || prefix == "secrets" => {
            for r in s {
                match r {
                    Value::String(src) => {
                        out.insert(format!("{prefix}.{src}"), src.clone());
                    }
                    Value::Mapping(m) => {
                        let src = m.get("source").map(scalar).unwrap_or_default();
                        let target = m.get("target").map(scalar).unwrap_or_else(|| src.clone());
                        out.insert(format!("{prefix}.{src}"), target);
                    }
                    other => {
                        out.insert(prefix.to_string(), scalar(other));
                    }
                }
            }
        }
        Value::Sequence(s)
            if (last == "environment" || last == "labels") && s.iter().all(Value::is_string) =>
        {
            for item in s {
                let item = item.as_str().unwrap_or_default();
                let (k, val) = item.split_once('=').unwrap_or((item, ""));
                out.insert(format!("{prefix}.{k}"), val.to_string());
            }
        }
        other => {
            out.insert(prefix.to_string(), scalar(other));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(yaml: &str) -> Stack {
        Stack::from_mapping(&serde_yaml_ng::from_str(yaml).unwrap())
    }

    #[test]
    fn flat_points_of_mounts_and_networks() {
        let s = stack(
            "services:\n  a:\n    configs: [c1, {source: c2, target: /etc/c2}]\n    secrets: [{source: s1}]\n    networks: {front: {aliases: [x.test]}, back: null}\n  b: {image: i}\n",
        );
        let a = s.service("a").unwrap().flat();
        assert_eq!(a["configs.c1"], "c1");
        assert_eq!(a["configs.c2"], "/etc/c2");
        assert_eq!(a["secrets.s1"], "s1");
        assert_eq!(a["networks.front"], "joined");
        assert_eq!(a["networks.back"], "joined");
        assert_eq!(a["networks.front.aliases"], "[\"x.test\"]");
        assert!(!a.contains_key("networks.default"));
        // no networks: the default one, as a list naming it would say
        let b = s.service("b").unwrap().flat();
        assert_eq!(b["networks.default"], "joined");
    }

    #[test]
    fn services_ports_and_objects() {
        let s = stack(
            "services:\n  proxy:\n    image: nginx\n    ports: [\"443:443\", \"80:80\", {target: 8443, published: 8443, mode: host}, \"6379\"]\n    \
             configs: [{source: nginx.conf, target: /etc/nginx/nginx.conf}]\n    secrets: [tls_key]\n  \
             web: {image: w, deploy: {replicas: 3, placement: {constraints: [node.role == manager]}}, stop_grace_period: 1m30s}\n  \
             agent: {image: a, deploy: {mode: global}}\n\
             configs:\n  nginx.conf: {external: true, name: blog_nginx.conf_abc}\nsecrets:\n  tls_key: {external: true, name: blog_tls_key_123}\n",
        );
        assert_eq!(s.names(), vec!["proxy", "web", "agent"]);
        assert_eq!(s.published_ports(), vec![80, 443, 8443]);
        let proxy = s.service("proxy").unwrap();
        assert_eq!(proxy.ports.len(), 4);
        assert_eq!(proxy.ports[3].published, None, "\"6379\" is not published");
        assert_eq!(proxy.ports[2].mode, PortMode::Host);
        assert_eq!(
            s.object_name(Kind::Config, "nginx.conf"),
            "blog_nginx.conf_abc"
        );
        let web = s.service("web").unwrap();
        assert_eq!(web.replicas(), Some(3));
        assert_eq!(web.placement, vec!["node.role == manager"]);
        assert_eq!(web.stop_grace_period, Some(90.0));
        assert_eq!(s.service("agent").unwrap().mode, Mode::Global);
        let points = proxy.points(&s);
        assert_eq!(
            points["config /etc/nginx/nginx.conf"],
            "blog_nginx.conf_abc"
        );
        assert!(
            points["secret tls_key"].starts_with("blog_tls_key_")
                && !points["secret tls_key"].ends_with("123")
        );
        assert_eq!(points["ports.443"], "443/tcp ingress");
        assert_eq!(web.flat()["deploy.replicas"], "3");
        assert_eq!(s.service("proxy").unwrap().flat()["deploy.replicas"], "1");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Some(90.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("2h"), Some(7200.0));
        assert_eq!(parse_duration("10"), Some(10.0));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn single_node_lint() {
        let s = stack(
            "services:\n  a:\n    ports: [{target: 80, published: 80, mode: host}]\n    deploy: {replicas: 2}\n  \
             b:\n    ports: [{target: 81, published: 81, mode: host}]\n    deploy: {update_config: {order: start-first}}\n  \
             c:\n    ports: [{target: 82, published: 82}]\n    deploy: {replicas: 3}\n",
        );
        let p = s.single_node_problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("`a`") && p[0].contains("2 replicas"));
        assert!(p[1].contains("`b`") && p[1].contains("stop-first"));
    }
}

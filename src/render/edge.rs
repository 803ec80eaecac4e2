//! HTTPS on this machine for a stack that terminates no TLS itself, and the site's names inside
//! the stack.
//!
//! - **The edge** ([`plan`], [`add`]): in a local `tls: local-ca` profile whose stack publishes
//!   no port 443 and mounts no leaf, devenv adds a service, `devenv-edge` (nginx, the profile's
//!   `edge.image`), that terminates HTTPS and WSS for the profile's names with devenv's leaf and
//!   forwards each name to the service and port that serve it — inferred from the published web
//!   ports (a service publishing port 80 first, the proxy), or the profile's `edge.routes`. It
//!   asks the stack's DNS per request, so an updated service's new address is used at once.
//! - **Names** ([`alias_names`]): the names the hosts file points at this machine are, inside
//!   the stack, network aliases of the service that serves them (the edge, or the service that
//!   publishes 443, or 80), so `https://myblog.test/` from inside a service reaches the proxy,
//!   not the container itself.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

use crate::profile::Profile;

/// The edge service's name in the stack.
pub const SERVICE: &str = "devenv-edge";
/// The name of its nginx configuration (a config of the stack).
pub const CONFIG: &str = "devenv_edge_conf";

/// Ports a web server listens on, in the order the edge prefers them.
const WEB_TARGETS: &[u64] = &[80, 8080, 8000, 3000, 5000, 8888, 4000, 9000];

/// What the edge does: each name to one upstream (`SERVICE:PORT`), and the networks it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub image: String,
    /// Name → (service, port), in the profile's order of names.
    pub routes: Vec<(String, (String, u64))>,
    pub networks: Vec<String>,
    /// Port 80 is free: the edge redirects it to HTTPS.
    pub redirect_http: bool,
}

/// Why there is no edge, when the profile would want one (for a note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoEdge {
    /// Not a local local-CA profile, or `edge: false`: nothing to say.
    NotWanted,
    /// The stack terminates TLS itself.
    OwnTls(String),
    /// No published web port to put HTTPS in front of.
    NoWebPort,
}

/// `(target, published)` of each port a service publishes (short or long syntax, as
/// [`crate::stack::parse_port`] reads them).
pub fn published(svc: &Mapping) -> Vec<(u64, Option<u64>)> {
    let Some(Value::Sequence(ports)) = svc.get("ports") else {
        return Vec::new();
    };
    ports
        .iter()
        .flat_map(|p| crate::stack::parse_port(p).unwrap_or_default())
        .map(|port| (port.target, port.published))
        .collect()
}

/// The networks a service is on (`default` when it names none).
pub fn networks(svc: &Mapping) -> Vec<String> {
    let names: Vec<String> = match svc.get("networks") {
        Some(Value::Sequence(s)) => s
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(Value::Mapping(m)) => m
            .keys()
            .filter_map(|k| k.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        vec!["default".into()]
    } else {
        names
    }
}

fn services(doc: &Mapping) -> Vec<(String, &Mapping)> {
    doc.get("services")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_mapping()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The service that terminates TLS itself, if one does: it publishes 443 or mounts the leaf.
pub fn own_tls(doc: &Mapping) -> Option<String> {
    services(doc).into_iter().find_map(|(name, svc)| {
        let publishes_443 = published(svc)
            .iter()
            .any(|(t, p)| *t == 443 || *p == Some(443));
        let mounts_leaf = svc
            .get("secrets")
            .and_then(Value::as_sequence)
            .is_some_and(|s| {
                s.iter().any(|r| {
                    let src = match r {
                        Value::String(s) => Some(s.as_str()),
                        Value::Mapping(m) => m.get("source").and_then(Value::as_str),
                        _ => None,
                    };
                    matches!(src, Some("tls_cert" | "tls_key"))
                })
            });
        (publishes_443 || mounts_leaf).then_some(name)
    })
}

/// The names the edge serves: the profile's `hosts:` (or its domain).
pub fn names(profile: &Profile) -> Vec<String> {
    if profile.file.hosts.is_empty() {
        vec![profile.file.domain.clone()]
    } else {
        profile.file.hosts.clone()
    }
}

/// Whether this profile gets an edge for `doc`, and which.
pub fn plan(doc: &Mapping, profile: &Profile) -> Result<Edge, NoEdge> {
    let settings = &profile.file.edge;
    if !settings.enabled
        || !profile.on_this_machine()
        || profile.file.tls != crate::profile::Tls::LocalCa
    {
        return Err(NoEdge::NotWanted);
    }
    if let Some(s) = own_tls(doc) {
        return Err(NoEdge::OwnTls(s));
    }
    let svcs = services(doc);
    // the front: a service publishing port 80 (a proxy), else the first published web port
    let mut front: Option<(String, u64)> = None;
    for want in WEB_TARGETS {
        front = svcs.iter().find_map(|(name, svc)| {
            published(svc)
                .iter()
                .any(|(t, p)| t == want && p.is_some())
                .then(|| (name.clone(), *want))
        });
        if front.is_some() {
            break;
        }
    }
    let mut routes = Vec::new();
    for n in names(profile) {
        let route = match settings.routes.get(&n) {
            Some(r) => parse_route(r).map(Some).unwrap_or(None),
            None => front.clone(),
        };
        if let Some(r) = route {
            routes.push((n, r));
        }
    }
    // routes for names the profile lists but that are not the profile's names are served too
    for (n, r) in &settings.routes {
        if !routes.iter().any(|(m, _)| m == n)
            && let Some(r) = parse_route(r)
        {
            routes.push((n.clone(), r));
        }
    }
    if routes.is_empty() {
        return Err(NoEdge::NoWebPort);
    }
    let mut nets: Vec<String> = Vec::new();
    for (_, (svc, _)) in &routes {
        if let Some((_, m)) = svcs.iter().find(|(n, _)| n == svc) {
            for net in networks(m) {
                if !nets.contains(&net) {
                    nets.push(net);
                }
            }
        }
    }
    let redirect_http = !svcs
        .iter()
        .any(|(_, s)| published(s).iter().any(|(_, p)| *p == Some(80)));
    Ok(Edge {
        image: settings.image.clone(),
        routes,
        networks: nets,
        redirect_http,
    })
}

/// `SERVICE:PORT`.
pub fn parse_route(s: &str) -> Option<(String, u64)> {
    let (svc, port) = s.rsplit_once(':')?;
    let port: u64 = port.parse().ok().filter(|p| (1..=65535).contains(p))?;
    crate::name::Name::new(crate::name::Kind::Service, svc).ok()?;
    Some((svc.to_string(), port))
}

/// Checks the profile's `edge.routes` against the stack: each `SERVICE:PORT` names a service.
pub fn check_routes(doc: &Mapping, profile: &Profile) -> Result<(), crate::error::ConfigError> {
    let svcs = super::service_names(doc);
    for (name, r) in &profile.file.edge.routes {
        let Some((svc, _)) = parse_route(r) else {
            return Err(profile
                .error_at(r, format!("edge.routes.{name}: `{r}` is not SERVICE:PORT"))
                .hint("e.g. `routes: {api.myblog.test: api:8080}`"));
        };
        if !svcs.contains(&svc) {
            let mut e = profile.error_at(
                r,
                format!("edge.routes.{name}: the stack has no service `{svc}`"),
            );
            if let Some(s) = crate::error::did_you_mean(&svc, svcs.iter().map(String::as_str)) {
                e = e.hint(format!("did you mean `{s}`?"));
            }
            return Err(e);
        }
    }
    Ok(())
}

/// The edge's nginx configuration.
pub fn nginx_conf(edge: &Edge, profile: &str) -> String {
    let mut by_upstream: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    for (name, up) in &edge.routes {
        by_upstream
            .entry(up.clone())
            .or_default()
            .push(name.clone());
    }
    let mut s = format!(
        "# devenv's TLS edge of profile {profile}: HTTPS and WSS for the profile's names with devenv's\n\
         # certificate, forwarded as HTTP to the services that serve them. Generated by devenv (see\n\
         # `edge:` in the profile); `devenv render` shows it.\n\
         worker_processes 1;\n\
         error_log /dev/stderr notice;\n\
         pid /tmp/nginx.pid;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
         \x20   access_log /dev/stdout;\n\
         \x20   client_max_body_size 0;\n\
         \x20   client_body_temp_path /tmp/client_body;\n\
         \x20   proxy_temp_path /tmp/proxy;\n\
         \x20   # the stack's DNS, asked again within seconds: an updated service's new address is used\n\
         \x20   resolver 127.0.0.11 valid=5s ipv6=off;\n\
         \x20   map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n"
    );
    if edge.redirect_http {
        s.push_str(
            "    server {\n        listen 80 default_server;\n        return 308 https://$host$request_uri;\n    }\n",
        );
    }
    for ((svc, port), names) in &by_upstream {
        s.push_str(&format!(
            "    server {{\n\
             \x20       listen 443 ssl;\n\
             \x20       server_name {};\n\
             \x20       ssl_certificate /run/secrets/devenv_edge.crt;\n\
             \x20       ssl_certificate_key /run/secrets/devenv_edge.key;\n\
             \x20       location / {{\n\
             \x20           set $upstream http://{svc}:{port};\n\
             \x20           proxy_pass $upstream;\n\
             \x20           proxy_http_version 1.1;\n\
             \x20           proxy_set_header Host $host;\n\
             \x20           proxy_set_header Upgrade $http_upgrade;\n\
             \x20           proxy_set_header Connection $connection_upgrade;\n\
             \x20           proxy_set_header X-Forwarded-Proto https;\n\
             \x20           proxy_set_header X-Forwarded-Host $host;\n\
             \x20           proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
             \x20           proxy_read_timeout 1h;\n\
             \x20       }}\n\
             \x20   }}\n",
            names.join(" ")
        ));
    }
    s.push_str("}\n");
    s
}

fn k(s: &str) -> Value {
    Value::String(s.to_string())
}

/// Adds the edge service to `doc` (its config, named `config_name`, is the caller's).
pub fn add(doc: &mut Mapping, edge: &Edge) -> Result<(), String> {
    let Some(Value::Mapping(svcs)) = doc.get_mut("services") else {
        return Err("the stack has no services".into());
    };
    if svcs.contains_key(SERVICE) {
        return Err(format!(
            "the stack has a service named `{SERVICE}`, the name of devenv's TLS edge: rename it, or set `edge: false` in the profile"
        ));
    }
    let mut svc = Mapping::new();
    svc.insert(k("image"), k(&edge.image));
    let mut ports = vec![k("443:443")];
    if edge.redirect_http {
        ports.push(k("80:80"));
    }
    svc.insert(k("ports"), Value::Sequence(ports));
    let mut conf = Mapping::new();
    conf.insert(k("source"), k(CONFIG));
    conf.insert(k("target"), k("/etc/nginx/nginx.conf"));
    svc.insert(k("configs"), Value::Sequence(vec![Value::Mapping(conf)]));
    let secret = |source: &str, target: &str| {
        let mut m = Mapping::new();
        m.insert(k("source"), k(source));
        m.insert(k("target"), k(target));
        Value::Mapping(m)
    };
    svc.insert(
        k("secrets"),
        Value::Sequence(vec![
            secret("tls_cert", "devenv_edge.crt"),
            secret("tls_key", "devenv_edge.key"),
        ]),
    );
    svc.insert(
        k("networks"),
        Value::Sequence(edge.networks.iter().map(|n| k(n)).collect()),
    );
    let mut labels = Mapping::new();
    labels.insert(k("dev.devenv.edge"), k("true"));
    svc.insert(k("labels"), Value::Mapping(labels));
    svcs.insert(k(SERVICE), Value::Mapping(svc));
    Ok(())
}

/// The service that serves the site's names here: the edge, else one that publishes 443, else
/// one that publishes 80.
pub fn front(doc: &Mapping) -> Option<String> {
    let svcs = services(doc);
    if svcs.iter().any(|(n, _)| n == SERVICE) {
        return Some(SERVICE.into());
    }
    for want in [443, 80] {
        if let Some((n, _)) = svcs.iter().find(|(_, s)| {
            published(s)
                .iter()
                .any(|(t, p)| *t == want || *p == Some(want))
        }) {
            return Some(n.clone());
        }
    }
    None
}

/// Makes `names` network aliases of service `front` on each of its networks.
pub fn alias_names(doc: &mut Mapping, front: &str, names: &[String]) {
    let Some(Value::Mapping(svcs)) = doc.get_mut("services") else {
        return;
    };
    let Some(Value::Mapping(svc)) = svcs.get_mut(front) else {
        return;
    };
    let nets = networks(svc);
    // in place, where the service has its networks
    let slot = svc.entry(k("networks")).or_insert(Value::Null);
    let mut m = match std::mem::take(slot) {
        Value::Mapping(m) => m,
        _ => Mapping::new(),
    };
    for net in nets {
        let entry = m.entry(k(&net)).or_insert(Value::Null);
        if !entry.is_mapping() {
            *entry = Value::Mapping(Mapping::new());
        }
        let e = entry.as_mapping_mut().expect("a mapping");
        let aliases = e
            .entry(k("aliases"))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if let Value::Sequence(list) = aliases {
            for n in names {
                if !list.iter().any(|a| a.as_str() == Some(n)) {
                    list.push(k(n));
                }
            }
        }
    }
    *slot = Value::Mapping(m);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(y: &str) -> Mapping {
        serde_yaml_ng::from_str(y).unwrap()
    }

    #[test]
    fn published_ports_in_every_syntax() {
        // (a host address is gone by now: the compose translation took it out)
        let d = doc(
            "services:\n  a:\n    ports: [\"8088:80\", \"9000:9000/tcp\", \"3000\", {target: 443, published: \"8443\"}]\n",
        );
        let svc = d["services"]["a"].as_mapping().unwrap();
        assert_eq!(
            published(svc),
            vec![
                (80, Some(8088)),
                (9000, Some(9000)),
                (3000, None),
                (443, Some(8443))
            ]
        );
    }

    #[test]
    fn own_tls_is_port_443_or_the_leaf() {
        assert_eq!(
            own_tls(&doc("services:\n  p:\n    ports: [\"8443:443\"]\n")),
            Some("p".into())
        );
        assert_eq!(
            own_tls(&doc(
                "services:\n  p:\n    secrets: [{source: tls_key, target: k}]\n"
            )),
            Some("p".into())
        );
        assert_eq!(
            own_tls(&doc("services:\n  p:\n    ports: [\"80:80\"]\n")),
            None
        );
    }

    #[test]
    fn routes_are_service_and_port() {
        assert_eq!(parse_route("api:8080"), Some(("api".into(), 8080)));
        for bad in ["api", "api:0", "api:70000", ":80", "a/b:80", "api:8o"] {
            assert_eq!(parse_route(bad), None, "{bad}");
        }
    }

    #[test]
    fn nginx_conf_groups_names_by_upstream() {
        let e = Edge {
            image: "nginx".into(),
            routes: vec![
                ("a.test".into(), ("web".into(), 80)),
                ("b.test".into(), ("web".into(), 80)),
                ("api.a.test".into(), ("api".into(), 8080)),
            ],
            networks: vec!["default".into()],
            redirect_http: false,
        };
        let c = nginx_conf(&e, "local");
        assert!(c.contains("server_name a.test b.test;"), "{c}");
        assert!(c.contains("server_name api.a.test;"), "{c}");
        assert_eq!(c.matches("listen 443 ssl;").count(), 2, "{c}");
        // port 80 is another service's: no redirect server
        assert!(!c.contains("listen 80"), "{c}");
    }

    #[test]
    fn the_front_is_the_edge_then_443_then_80() {
        let d = doc("services:\n  w:\n    ports: [\"80:8000\"]\n  p:\n    ports: [\"443:443\"]\n");
        assert_eq!(front(&d), Some("p".into()));
        let d = doc("services:\n  w:\n    ports: [\"8080:80\"]\n");
        assert_eq!(front(&d), Some("w".into()));
        let mut d = doc("services:\n  w:\n    networks: [a, b]\n");
        assert_eq!(front(&d), None);
        alias_names(&mut d, "w", &["x.test".into()]);
        alias_names(&mut d, "w", &["x.test".into()]);
        assert_eq!(
            d["services"]["w"]["networks"],
            Value::Mapping(doc("a: {aliases: [x.test]}\nb: {aliases: [x.test]}\n"))
        );
    }
}

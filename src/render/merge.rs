//! Compose's merge rules, for override files (a profile's `overrides:`) and a profile's
//! `services:` section — the rules of compose-go's `override` package, path by path:
//!
//! | path | rule |
//! |---|---|
//! | `command`, `entrypoint`, `healthcheck.test`, `ulimits.*` | replaced |
//! | `environment`, `labels`, `annotations`, `sysctls`, `build.args`, `build.labels`, `build.additional_contexts`, `deploy.labels`, top-level `*.labels` | merged by key (a list of `KEY=VALUE` or a mapping; the override's value wins, `null` included) |
//! | `networks`, `depends_on` (a list or a mapping) | merged by name, each entry merged as a mapping |
//! | `extra_hosts` | appended without repeating an entry; one name may have several addresses |
//! | `dns`, `dns_opt`, `dns_search`, `tmpfs`, `env_file`, `label_file`, `cap_add`, `cap_drop`, `expose`, `links`, `profiles`, `networks.*.aliases` | a string or a list; appended without repeating an entry (`env_file` by path) |
//! | `ports` | by host address, published port, target and protocol: the same port is replaced |
//! | `volumes`, `devices` | by container path |
//! | `secrets`, `configs` | by target (a relative target is under `/run/secrets/`, resp. `/`) |
//! | `logging` | merged when both name the same driver (or one names none), replaced otherwise |
//! | `build` | a string is `{context: …}`; then merged as a mapping |
//! | top-level `networks.*.ipam.config` | by subnet |
//! | anything else | mappings merge key by key, lists append (an identical entry once), a scalar is replaced; `null` keeps the base |
//!
//! `!reset` removes a value and `!override` replaces it whole, in the base file too (as in
//! compose); any other tag is an error ([`unknown_tag`]). A new service, network or volume is
//! added as it is written.

use serde_yaml_ng::{Mapping, Value};

/// How the value at one path merges.
#[derive(Clone, Copy)]
enum Rule {
    /// The override replaces the value (a command is one thing, not a list to append to).
    Replace,
    /// A list of `KEY=VALUE` or a mapping, merged by KEY; the override's value wins.
    ByName,
    /// A list of names or a mapping of name → settings, each entry merged as a mapping.
    NamedMaps,
    /// A string or a list; entries appended, one per key.
    Seq(fn(&Value) -> Option<String>),
    /// A list whose entries have a key; an entry with the same key is replaced in place.
    Keyed(fn(&Value) -> Option<String>),
    ExtraHosts,
    Logging,
    Build,
    /// Mappings merge recursively, lists append, scalars are replaced.
    Deep,
}

/// The rule at a path of the stack document (`["services", "web", "ports"]`). The second
/// segment of a path under `services`, `networks`, `volumes`, `configs` or `secrets` is a name.
fn rule(path: &[String]) -> Rule {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["services", _, rest @ ..] => service_rule(rest),
        ["networks" | "volumes", _, "labels"] => Rule::ByName,
        ["networks", _, "ipam", "config"] => Rule::Keyed(subnet_key),
        ["networks", _, "ipam", "options"] => Rule::ByName,
        _ => Rule::Deep,
    }
}

fn service_rule(p: &[&str]) -> Rule {
    match p {
        ["command"] | ["entrypoint"] | ["healthcheck", "test"] | ["ulimits", _] => Rule::Replace,
        ["environment"]
        | ["labels"]
        | ["sysctls"]
        | ["annotations"]
        | ["build", "args"]
        | ["build", "labels"]
        | ["build", "additional_contexts"]
        | ["deploy", "labels"] => Rule::ByName,
        ["networks"] | ["depends_on"] => Rule::NamedMaps,
        ["extra_hosts"] | ["build", "extra_hosts"] => Rule::ExtraHosts,
        ["dns"]
        | ["dns_opt"]
        | ["dns_search"]
        | ["tmpfs"]
        | ["label_file"]
        | ["cap_add"]
        | ["cap_drop"]
        | ["expose"]
        | ["links"]
        | ["profiles"]
        | ["networks", _, "aliases"]
        | ["networks", _, "link_local_ips"] => Rule::Seq(kv_key),
        ["env_file"] => Rule::Seq(env_file_key),
        ["ports"] => Rule::Keyed(port_key),
        ["volumes"] | ["devices"] => Rule::Keyed(mount_key),
        ["secrets"] => Rule::Keyed(|v| object_key(v, "/run/secrets/")),
        ["configs"] => Rule::Keyed(|v| object_key(v, "/")),
        ["logging"] => Rule::Logging,
        ["build"] => Rule::Build,
        _ => Rule::Deep,
    }
}

/// Why two values cannot be merged, with the path (`services.web.ports`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct MergeError {
    pub path: String,
    pub message: String,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tag {
    Reset,
    Override,
}

fn tag_of(v: &Value) -> Option<(Tag, &Value)> {
    match v {
        Value::Tagged(t) => match t.tag.to_string().trim_start_matches('!') {
            "reset" => Some((Tag::Reset, &t.value)),
            "override" => Some((Tag::Override, &t.value)),
            _ => None,
        },
        _ => None,
    }
}

/// The first YAML tag in `v` that compose does not know (`!reset` and `!override` are
/// compose's), as written (`!custom`): docker would deploy the tagged value as if untagged.
pub fn unknown_tag(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => {
            if tag_of(v).is_none() {
                return Some(t.tag.to_string());
            }
            unknown_tag(&t.value)
        }
        Value::Sequence(s) => s.iter().find_map(unknown_tag),
        Value::Mapping(m) => m
            .iter()
            .find_map(|(k, v)| unknown_tag(k).or_else(|| unknown_tag(v))),
        _ => None,
    }
}

/// A document read on its own, as compose reads each file: `!reset` values removed,
/// `!override` values kept untagged.
pub fn resolve(doc: &mut Mapping) {
    let keys: Vec<Value> = doc.keys().cloned().collect();
    for k in keys {
        match doc.get(&k).and_then(resolved) {
            Some(v) => {
                doc.insert(k, v);
            }
            None => {
                doc.shift_remove(&k);
            }
        }
    }
}

/// A value to insert where nothing was: tags resolved (`!reset` → nothing), in depth.
fn resolved(v: &Value) -> Option<Value> {
    match v {
        Value::Tagged(t) => match tag_of(v) {
            Some((Tag::Reset, _)) => None,
            _ => resolved(&t.value),
        },
        Value::Sequence(s) => Some(Value::Sequence(s.iter().filter_map(resolved).collect())),
        Value::Mapping(m) => Some(Value::Mapping(
            m.iter()
                .filter_map(|(k, v)| resolved(v).map(|v| (k.clone(), v)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// The value inside a `!reset`/`!override` tag, or the value itself.
fn plain(v: &Value) -> &Value {
    match tag_of(v) {
        Some((_, inner)) => inner,
        None => v,
    }
}

/// Merges a whole stack document `over` into `base`.
pub fn merge_stack(base: &mut Mapping, over: &Mapping) -> Result<(), MergeError> {
    for (k, ov) in over {
        let path = vec![key_name(k)];
        if path[0] == "services" && !plain(ov).is_null() && !plain(ov).is_mapping() {
            return Err(MergeError {
                path: "services".into(),
                message: format!("expected a mapping of services, found {}", kind(ov)),
            });
        }
        merge_at(base, k, ov, &path)?;
    }
    Ok(())
}

fn key_name(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => scalar_key(other).unwrap_or_default(),
    }
}

fn merge_at(
    parent: &mut Mapping,
    k: &Value,
    ov: &Value,
    path: &[String],
) -> Result<(), MergeError> {
    match tag_of(ov) {
        Some((Tag::Reset, _)) => {
            parent.shift_remove(k);
            return Ok(());
        }
        Some((Tag::Override, _)) => {
            match resolved(ov) {
                Some(v) => parent.insert(k.clone(), v),
                None => parent.shift_remove(k),
            };
            return Ok(());
        }
        None => {}
    }
    let Some(bv) = parent.get_mut(k) else {
        if let Some(v) = resolved(ov) {
            parent.insert(k.clone(), v);
        }
        return Ok(());
    };
    if path.len() == 2
        && path[0] == "services"
        && !ov.is_null()
        && !(bv.is_mapping() && ov.is_mapping())
    {
        return Err(MergeError {
            path: path.join("."),
            message: format!(
                "a service is a mapping; found {} over {}",
                kind(ov),
                kind(bv)
            ),
        });
    }
    merge_value(bv, ov, path)
}

fn err(path: &[String], message: String) -> MergeError {
    MergeError {
        path: path.join("."),
        message,
    }
}

fn merge_value(bv: &mut Value, ov: &Value, path: &[String]) -> Result<(), MergeError> {
    match rule(path) {
        Rule::Replace => {
            if let Some(v) = resolved(ov) {
                *bv = v;
            }
            Ok(())
        }
        Rule::ByName | Rule::NamedMaps => {
            let maps = matches!(rule(path), Rule::NamedMaps);
            let mut merged = by_name(bv).ok_or_else(|| {
                err(
                    path,
                    format!("expected a list or a mapping, found {}", kind(bv)),
                )
            })?;
            let over = by_name(ov).ok_or_else(|| {
                err(
                    path,
                    format!("expected a list or a mapping, found {}", kind(ov)),
                )
            })?;
            for (k, v) in &over {
                let mut sub = path.to_vec();
                sub.push(key_name(k));
                if maps && tag_of(v).is_none() && merged.contains_key(k) {
                    // each network (or dependency) is a mapping of its own settings
                    let existing = merged.get_mut(k).expect("present");
                    if v.is_null() {
                        continue;
                    }
                    if existing.is_null() {
                        *existing = Value::Mapping(Mapping::new());
                    }
                    merge_value(existing, v, &sub)?;
                    continue;
                }
                if maps || tag_of(v).is_some() {
                    merge_at(&mut merged, k, v, &sub)?;
                } else if let Some(v) = resolved(v) {
                    // `KEY` alone (null) over `KEY=1` is compose's "unset here" too
                    merged.insert(k.clone(), v);
                }
            }
            *bv = Value::Mapping(merged);
            Ok(())
        }
        Rule::Seq(key) => {
            let (Some(mut b), Some(o)) = (as_list(bv), as_list(ov)) else {
                return Err(err(
                    path,
                    format!(
                        "expected a string or a list, found {} over {}",
                        kind(ov),
                        kind(bv)
                    ),
                ));
            };
            for item in o {
                let Some(item) = resolved(&item) else {
                    continue;
                };
                let k = key(&item);
                match b.iter().position(|x| k.is_some() && key(x) == k) {
                    Some(i) => b[i] = item,
                    None => b.push(item),
                }
            }
            *bv = Value::Sequence(b);
            Ok(())
        }
        Rule::ExtraHosts => {
            let (Some(mut b), Some(o)) = (host_lines(bv), host_lines(ov)) else {
                return Err(err(
                    path,
                    format!(
                        "expected a list or a mapping, found {} over {}",
                        kind(ov),
                        kind(bv)
                    ),
                ));
            };
            for line in o {
                if !b.contains(&line) {
                    b.push(line);
                }
            }
            *bv = Value::Sequence(b.into_iter().map(Value::String).collect());
            Ok(())
        }
        Rule::Keyed(key) => {
            let (Some(b), Some(o)) = (bv.as_sequence_mut(), ov.as_sequence()) else {
                return Err(err(
                    path,
                    format!("expected lists, found {} over {}", kind(ov), kind(bv)),
                ));
            };
            for item in o {
                let Some(item) = resolved(item) else { continue };
                match key(&item).and_then(|k| b.iter().position(|x| key(x).as_ref() == Some(&k))) {
                    Some(i) => b[i] = item,
                    None => {
                        if !b.contains(&item) {
                            b.push(item)
                        }
                    }
                }
            }
            Ok(())
        }
        Rule::Logging => {
            let driver = |v: &Value| v.get("driver").cloned();
            let (bd, od) = (driver(bv), driver(plain(ov)));
            if bv.is_mapping() && ov.is_mapping() && bd.is_some() && od.is_some() && bd != od {
                // another driver: the base's options are not its options
                if let Some(v) = resolved(ov) {
                    *bv = v;
                }
                return Ok(());
            }
            deep(bv, ov, path)
        }
        Rule::Build => {
            let as_map = |v: &Value| match v {
                Value::String(s) => {
                    let mut m = Mapping::new();
                    m.insert(Value::String("context".into()), Value::String(s.clone()));
                    Value::Mapping(m)
                }
                other => other.clone(),
            };
            *bv = as_map(bv);
            deep(bv, &as_map(ov), path)
        }
        Rule::Deep => deep(bv, ov, path),
    }
}

fn deep(bv: &mut Value, ov: &Value, path: &[String]) -> Result<(), MergeError> {
    match (bv, ov) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let mut sub = path.to_vec();
                sub.push(key_name(k));
                merge_at(b, k, v, &sub)?;
            }
            Ok(())
        }
        (Value::Sequence(b), Value::Sequence(o)) => {
            for item in o {
                let Some(item) = resolved(item) else { continue };
                if !b.contains(&item) {
                    b.push(item);
                }
            }
            Ok(())
        }
        (b @ (Value::Mapping(_) | Value::Sequence(_)), o) if !o.is_null() => Err(err(
            path,
            format!(
                "cannot merge {} into {} (use `!override` to replace it)",
                kind(o),
                kind(b)
            ),
        )),
        (_, Value::Null) => Ok(()),
        (b, o) => {
            if let Some(v) = resolved(o) {
                *b = v;
            }
            Ok(())
        }
    }
}

/// A string or a list, as a list (`null` is an empty one).
fn as_list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Sequence(s) => Some(s.clone()),
        Value::Null => Some(Vec::new()),
        Value::String(_) | Value::Number(_) => Some(vec![v.clone()]),
        _ => None,
    }
}

/// `extra_hosts` as `NAME:ADDRESS` lines: a mapping's list value is one line per address, a
/// `NAME=ADDRESS` line is written with `:` (what every docker version reads).
pub(crate) fn host_lines(v: &Value) -> Option<Vec<String>> {
    let mut out = Vec::new();
    match v {
        Value::Null => {}
        Value::Mapping(m) => {
            for (h, a) in m {
                let host = key_name(h);
                match a {
                    Value::Sequence(addrs) => {
                        for a in addrs {
                            out.push(format!("{host}:{}", scalar_key(a).unwrap_or_default()));
                        }
                    }
                    other => out.push(format!("{host}:{}", scalar_key(other).unwrap_or_default())),
                }
            }
        }
        Value::Sequence(s) => {
            for line in s {
                let line = scalar_key(line)?;
                out.push(match line.split_once('=') {
                    Some((h, a)) if !h.contains(':') => format!("{h}:{a}"),
                    _ => line,
                });
            }
        }
        _ => return None,
    }
    Some(out)
}

/// A list of `KEY=VALUE` / `KEY` or a mapping, as a mapping.
fn by_name(v: &Value) -> Option<Mapping> {
    match v {
        Value::Mapping(m) => Some(m.clone()),
        Value::Null => Some(Mapping::new()),
        Value::Sequence(s) => {
            let mut m = Mapping::new();
            for item in s {
                match item {
                    Value::String(s) => {
                        let (k, v) = match s.split_once('=') {
                            Some((k, v)) => (k, Value::String(v.into())),
                            None => (s.as_str(), Value::Null),
                        };
                        m.insert(Value::String(k.to_string()), v);
                    }
                    Value::Mapping(one) => {
                        for (k, v) in one {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                    other => {
                        m.insert(other.clone(), Value::Null);
                    }
                }
            }
            Some(m)
        }
        _ => None,
    }
}

fn scalar_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An entry's key as compose's `keyValueIndexer` reads it: what comes before `=`
/// (`service2=alias` is `service2`), else the whole entry.
fn kv_key(v: &Value) -> Option<String> {
    scalar_key(v).map(|s| match s.split_once('=') {
        Some((k, _)) => k.to_string(),
        None => s,
    })
}

fn env_file_key(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(m) => m.get("path").and_then(scalar_key),
        other => scalar_key(other),
    }
}

fn subnet_key(v: &Value) -> Option<String> {
    v.get("subnet").and_then(scalar_key)
}

fn port_key(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(m) => {
            let s = |k: &str| m.get(k).and_then(scalar_key).unwrap_or_default();
            Some(format!(
                "{}:{}:{}/{}",
                s("host_ip"),
                s("published"),
                s("target"),
                m.get("protocol").and_then(Value::as_str).unwrap_or("tcp")
            ))
        }
        _ => {
            let ports = crate::stack::parse_port(v).ok()?;
            let p = ports.first()?;
            Some(format!(
                ":{}:{}/{}",
                p.published.map(|n| n.to_string()).unwrap_or_default(),
                p.target,
                p.protocol
            ))
        }
    }
}

/// The container path of a volume or device entry.
fn mount_key(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(m) => m.get("target").and_then(Value::as_str).map(String::from),
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() == 1 {
                return Some(parts[0].to_string());
            }
            // `SOURCE:TARGET[:MODE]`; a Windows source has a drive letter (`C:\data:/data`)
            parts
                .iter()
                .skip(1)
                .find(|p| p.starts_with('/'))
                .or(parts.get(1))
                .map(|p| p.to_string())
        }
        _ => None,
    }
}

/// Where a secret or config is in the container: its target (a relative one under `dir`), by
/// default its source under `dir`.
fn object_key(v: &Value, dir: &str) -> Option<String> {
    let at = |p: &str| {
        if p.starts_with('/') {
            p.to_string()
        } else {
            format!("{dir}{p}")
        }
    };
    match v {
        Value::String(s) => Some(at(s)),
        Value::Mapping(m) => m
            .get("target")
            .or_else(|| m.get("source"))
            .and_then(Value::as_str)
            .map(at),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Mapping {
        serde_yaml_ng::from_str(s).unwrap()
    }

    fn merged(base: &str, over: &str) -> Mapping {
        let mut b = y(base);
        merge_stack(&mut b, &y(over)).unwrap();
        b
    }

    #[test]
    fn compose_rules() {
        let m = merged(
            "services:
  web:
    image: web:1
    command: [a, b]
    environment: [A=1, B=2]
    labels: {x: '1'}
    ports: ['80:80', '443:443']
    volumes: ['data:/data', './src:/src']
    secrets: [db, {source: k, target: key}]
    dns: [1.1.1.1]
    networks: [front]
    deploy: {replicas: 2, labels: [a=1], resources: {limits: {memory: 1G}}}
",
            "services:
  web:
    image: web:2
    command: [c]
    environment: {B: '3', C: '4'}
    labels: [y=2]
    ports: ['8080:80', {target: 443, published: 443, protocol: tcp}, '443:443']
    volumes: ['other:/data']
    secrets: [{source: k2, target: key}, extra]
    dns: [1.1.1.1, 8.8.8.8]
    networks: {back: {aliases: [b]}}
    deploy: {replicas: 1, labels: {b: '2'}, resources: {limits: {cpus: '0.5'}}}
  worker:
    image: w
",
        );
        let web = &m["services"]["web"];
        let want: Value = serde_yaml_ng::from_str(
            "image: web:2
command: [c]
environment: {A: '1', B: '3', C: '4'}
labels: {x: '1', y: '2'}
ports: ['80:80', '443:443', '8080:80']
volumes: ['other:/data', './src:/src']
secrets: [db, {source: k2, target: key}, extra]
dns: [1.1.1.1, 8.8.8.8]
networks: {front: null, back: {aliases: [b]}}
deploy: {replicas: 1, labels: {a: '1', b: '2'}, resources: {limits: {memory: 1G, cpus: '0.5'}}}
",
        )
        .unwrap();
        // `{target: 443, published: 443}` and `'443:443'` are one port: the last one wins
        assert_eq!(web, &want);
        assert_eq!(m["services"]["worker"]["image"], Value::String("w".into()));
    }

    #[test]
    fn reset_and_override_tags() {
        let m = merged(
            "services:
  web:
    image: web
    ports: ['80:80', '443:443']
    environment: {A: '1', B: '2'}
    deploy: {replicas: 2, placement: {constraints: [node.role == manager]}}
",
            "services:
  web:
    ports: !reset []
    environment: {A: !reset null}
    deploy: !override {replicas: 1}
",
        );
        let web = &m["services"]["web"];
        assert!(web.get("ports").is_none());
        assert_eq!(
            web["environment"],
            serde_yaml_ng::from_str::<Value>("{B: '2'}").unwrap()
        );
        assert_eq!(
            web["deploy"],
            serde_yaml_ng::from_str::<Value>("{replicas: 1}").unwrap()
        );
    }

    #[test]
    fn mismatches_are_named() {
        let mut b = y("services: {web: {ports: ['80:80']}}");
        let e = merge_stack(&mut b, &y("services: {web: {ports: '80:80'}}")).unwrap_err();
        assert_eq!(e.path, "services.web.ports");
        let mut b = y("services: {web: {deploy: {resources: {limits: {memory: 1G}}}}}");
        let e = merge_stack(&mut b, &y("services: {web: {deploy: {resources: 5}}}")).unwrap_err();
        assert_eq!(e.path, "services.web.deploy.resources");
        assert!(e.message.contains("!override"), "{e}");
    }

    #[test]
    fn windows_sources_and_top_level() {
        assert_eq!(
            mount_key(&Value::String(r"C:\data:/data:ro".into())).as_deref(),
            Some("/data")
        );
        let m = merged(
            "services: {a: {image: a}}\nnetworks: {front: {driver: overlay}}\nvolumes: {db: {}}",
            "networks: {front: {attachable: true}, back: {}}\nvolumes: {db: {driver: local}}",
        );
        assert_eq!(
            Value::Mapping(m.get("networks").unwrap().as_mapping().unwrap().clone()),
            serde_yaml_ng::from_str::<Value>(
                "{front: {driver: overlay, attachable: true}, back: {}}"
            )
            .unwrap()
        );
    }

    /// The keys devenv leaves out of a swarm stack merge like compose's too (their notes name
    /// what the user wrote).
    #[test]
    fn keys_left_out_merge_like_composes() {
        let m = merged(
            "services:
  web:
    devices: ['/dev/sda:/dev/sda', '/dev/sdd:/dev/sdd']
    depends_on: [db]
    links: [service1, service2]
    security_opt: ['no-new-privileges:true']
",
            "services:
  web:
    devices: ['/dev/nvme0n1p1:/dev/sda', '/dev/sde:/dev/sde']
    depends_on: {cache: {condition: service_started}, db: {condition: service_healthy}}
    links: [service2=alias1]
    security_opt: ['no-new-privileges:true', 'label:disable']
",
        );
        let want: Value = serde_yaml_ng::from_str(
            "devices: ['/dev/nvme0n1p1:/dev/sda', '/dev/sdd:/dev/sdd', '/dev/sde:/dev/sde']
depends_on: {db: {condition: service_healthy}, cache: {condition: service_started}}
links: [service1, service2=alias1]
security_opt: ['no-new-privileges:true', 'label:disable']
",
        )
        .unwrap();
        assert_eq!(m["services"]["web"], want);
    }

    #[test]
    fn unknown_tags_are_found_and_resets_resolved_in_a_base() {
        let v: Value = serde_yaml_ng::from_str("a: {b: [1, !custom x]}").unwrap();
        assert_eq!(unknown_tag(&v).as_deref(), Some("!custom"));
        let v: Value = serde_yaml_ng::from_str("a: !reset {b: 1}").unwrap();
        assert_eq!(unknown_tag(&v), None);
        let mut b = y(
            "services: {web: {image: x, ports: !reset ['80:80'], healthcheck: {test: !reset null, interval: 5s}, deploy: !override {replicas: 1}}}",
        );
        resolve(&mut b);
        assert_eq!(
            Value::Mapping(b),
            serde_yaml_ng::from_str::<Value>(
                "services: {web: {image: x, healthcheck: {interval: 5s}, deploy: {replicas: 1}}}"
            )
            .unwrap()
        );
    }
}

//! Compose's merge rules, for override files (a profile's `overrides:`) and a profile's
//! `services:` section: mappings merge key by key; `command`, `entrypoint` and `healthcheck.test`
//! are replaced; `environment`, `labels`, `extra_hosts`, `sysctls`, `build.args`, `networks`,
//! `depends_on` (list or mapping) merge by key; `ports` (by target, published port and protocol),
//! `volumes` and `devices` (by container path), `secrets` and `configs` (by target) replace the
//! entry with the same key and add the others; other lists are appended without duplicates; a
//! scalar is replaced. `!reset` removes a value and `!override` replaces it whole, as in compose.

use serde_yaml_ng::{Mapping, Value};

/// How a service key merges.
#[derive(Clone, Copy)]
enum Rule {
    /// The override replaces the value (a command is one thing, not a list to append to).
    Replace,
    /// A list or a mapping of `KEY=VALUE`, merged by KEY.
    ByName,
    /// A list whose entries have a key; an entry with the same key is replaced.
    Keyed(fn(&Value) -> Option<String>),
    /// Mappings merge recursively, lists append, scalars are replaced.
    Deep,
}

fn rule(path: &[&str]) -> Rule {
    match path {
        ["command"] | ["entrypoint"] | ["healthcheck", "test"] => Rule::Replace,
        ["environment"]
        | ["labels"]
        | ["extra_hosts"]
        | ["sysctls"]
        | ["annotations"]
        | ["networks"]
        | ["depends_on"]
        | ["build", "args"]
        | ["build", "labels"]
        | ["deploy", "labels"] => Rule::ByName,
        ["ports"] => Rule::Keyed(port_key),
        ["volumes"] | ["devices"] => Rule::Keyed(mount_key),
        ["secrets"] | ["configs"] => Rule::Keyed(object_key),
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

fn tag_of(v: &Value) -> Option<(&str, &Value)> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            if name == "reset" {
                Some(("reset", &t.value))
            } else if name == "override" {
                Some(("override", &t.value))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Merges a whole stack document `over` into `base` (top-level mappings by key; `services` with
/// the service rules; new services and networks are added).
pub fn merge_stack(base: &mut Mapping, over: &Mapping) -> Result<(), MergeError> {
    for (k, ov) in over {
        let name = k.as_str().unwrap_or_default().to_string();
        if name == "services" {
            let Some(osvcs) = plain(ov).as_mapping() else {
                if plain(ov).is_null() {
                    continue;
                }
                return Err(MergeError {
                    path: "services".into(),
                    message: format!("expected a mapping of services, found {}", kind(ov)),
                });
            };
            let svcs = base
                .entry(Value::String("services".into()))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            let Some(svcs) = svcs.as_mapping_mut() else {
                return Err(MergeError {
                    path: "services".into(),
                    message: "the stack's `services` is not a mapping".into(),
                });
            };
            for (sk, sv) in osvcs {
                let sname = sk.as_str().unwrap_or_default().to_string();
                match svcs.get_mut(sk) {
                    Some(existing) => merge_service(existing, sv, &sname)?,
                    None => {
                        if let Some(v) = resolved(sv) {
                            svcs.insert(sk.clone(), v);
                        }
                    }
                }
            }
            continue;
        }
        merge_at(base, k, ov, &[], &name, Rule::Deep)?;
    }
    Ok(())
}

/// Merges one service definition `over` into `base` (`name` for messages).
pub fn merge_service(base: &mut Value, over: &Value, name: &str) -> Result<(), MergeError> {
    if let Some(("override", v)) = tag_of(over) {
        *base = strip_tags(v);
        return Ok(());
    }
    let over = plain(over);
    if over.is_null() {
        return Ok(());
    }
    let (Some(b), Some(o)) = (base.as_mapping_mut(), over.as_mapping()) else {
        return Err(MergeError {
            path: format!("services.{name}"),
            message: format!(
                "a service is a mapping; found {} over {}",
                kind(over),
                kind(base)
            ),
        });
    };
    for (k, ov) in o {
        let key = k.as_str().unwrap_or_default().to_string();
        let path = format!("services.{name}.{key}");
        merge_at(b, k, ov, &[key.as_str()], &path, rule(&[key.as_str()]))?;
    }
    Ok(())
}

/// The value inside a `!reset`/`!override` tag, or the value itself.
fn plain(v: &Value) -> &Value {
    match tag_of(v) {
        Some((_, inner)) => inner,
        None => v,
    }
}

/// A value to insert where nothing was: tags resolved (`!reset` → nothing).
fn resolved(v: &Value) -> Option<Value> {
    match tag_of(v) {
        Some(("reset", _)) => None,
        _ => Some(strip_tags(v)),
    }
}

fn strip_tags(v: &Value) -> Value {
    match v {
        Value::Tagged(t) if tag_of(v).is_some() => strip_tags(&t.value),
        Value::Sequence(s) => Value::Sequence(s.iter().map(strip_tags).collect()),
        Value::Mapping(m) => {
            Value::Mapping(m.iter().map(|(k, v)| (k.clone(), strip_tags(v))).collect())
        }
        other => other.clone(),
    }
}

fn merge_at(
    parent: &mut Mapping,
    k: &Value,
    ov: &Value,
    spath: &[&str],
    path: &str,
    rule: Rule,
) -> Result<(), MergeError> {
    match tag_of(ov) {
        Some(("reset", _)) => {
            parent.shift_remove(k);
            return Ok(());
        }
        Some(("override", inner)) => {
            parent.insert(k.clone(), strip_tags(inner));
            return Ok(());
        }
        _ => {}
    }
    let Some(bv) = parent.get_mut(k) else {
        parent.insert(k.clone(), strip_tags(ov));
        return Ok(());
    };
    merge_value(bv, ov, spath, path, rule)
}

fn merge_value(
    bv: &mut Value,
    ov: &Value,
    spath: &[&str],
    path: &str,
    rule: Rule,
) -> Result<(), MergeError> {
    match rule {
        Rule::Replace => {
            *bv = strip_tags(ov);
            Ok(())
        }
        Rule::ByName => {
            let mut merged = by_name(bv).ok_or_else(|| MergeError {
                path: path.into(),
                message: format!("expected a list or a mapping, found {}", kind(bv)),
            })?;
            let over = by_name(ov).ok_or_else(|| MergeError {
                path: path.into(),
                message: format!("expected a list or a mapping, found {}", kind(ov)),
            })?;
            for (k, v) in over {
                match tag_of(&v) {
                    Some(("reset", _)) => {
                        merged.shift_remove(&k);
                    }
                    _ => {
                        merged.insert(k, strip_tags(&v));
                    }
                }
            }
            *bv = Value::Mapping(merged);
            Ok(())
        }
        Rule::Keyed(key) => {
            let (Some(b), Some(o)) = (bv.as_sequence_mut(), ov.as_sequence()) else {
                return Err(MergeError {
                    path: path.into(),
                    message: format!("expected lists, found {} over {}", kind(ov), kind(bv)),
                });
            };
            for item in o {
                let item = strip_tags(item);
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
        Rule::Deep => match (bv, ov) {
            (Value::Mapping(b), Value::Mapping(o)) => {
                for (k, v) in o {
                    let key = k.as_str().unwrap_or_default().to_string();
                    let mut sp: Vec<&str> = spath.to_vec();
                    sp.push(&key);
                    let r = if spath.is_empty() {
                        Rule::Deep
                    } else {
                        rule_for(&sp)
                    };
                    merge_at(b, k, v, &sp, &format!("{path}.{key}"), r)?;
                }
                Ok(())
            }
            (Value::Sequence(b), Value::Sequence(o)) => {
                for item in o {
                    let item = strip_tags(item);
                    if !b.contains(&item) {
                        b.push(item);
                    }
                }
                Ok(())
            }
            (b @ (Value::Mapping(_) | Value::Sequence(_)), o) if !o.is_null() => Err(MergeError {
                path: path.into(),
                message: format!(
                    "cannot merge {} into {} (use `!override` to replace it)",
                    kind(o),
                    kind(b)
                ),
            }),
            (Value::Mapping(_) | Value::Sequence(_), _) => Ok(()),
            (b, o) => {
                *b = strip_tags(o);
                Ok(())
            }
        },
    }
}

/// Rules apply at service level (`ports`) and one level down (`deploy.labels`).
fn rule_for(sp: &[&str]) -> Rule {
    rule(sp)
}

/// A list of `KEY=VALUE` / `KEY` (or `HOST:IP` for extra_hosts) or a mapping, as a mapping.
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
                            None => match s.split_once(':') {
                                // extra_hosts `host:ip` (an IPv6 address has more colons)
                                Some((k, v)) if !k.is_empty() => (k, Value::String(v.into())),
                                _ => (s.as_str(), Value::Null),
                            },
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

fn port_key(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(m) => {
            let s = |k: &str| {
                m.get(k)
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => String::new(),
                    })
                    .unwrap_or_default()
            };
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

/// The target of a secret or config reference (default: its source).
fn object_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Mapping(m) => m
            .get("target")
            .or_else(|| m.get("source"))
            .and_then(Value::as_str)
            .map(String::from),
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
}

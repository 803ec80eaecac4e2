//! What differs between two rendered profiles: settings, services point by point, secrets (masked)
//! and a unified diff of each config file.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_yaml_ng::Value;

use crate::profile::{Profile, ProfileFile, Tls};
use crate::render::Rendered;
use crate::stack::flatten;
use crate::ui::{Style, paint};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDiff {
    pub name: String,
    /// Added = only in b, Removed = only in a.
    pub status: Status,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigDiff {
    pub name: String,
    pub status: Status,
    /// Unified diff (empty when only in one profile).
    pub unified: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretDiff {
    pub name: String,
    pub a_origin: Option<String>,
    pub b_origin: Option<String>,
    /// Whether the values differ; values themselves are never shown.
    pub value_differs: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileDiff {
    pub a: String,
    pub b: String,
    pub settings: Vec<Change>,
    pub services: Vec<ServiceDiff>,
    pub secrets: Vec<SecretDiff>,
    pub configs: Vec<ConfigDiff>,
    /// Top-level networks and volumes.
    pub stack: Vec<Change>,
}

impl ProfileDiff {
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty()
            && self.services.is_empty()
            && self.secrets.is_empty()
            && self.configs.is_empty()
            && self.stack.is_empty()
    }
}

pub fn diff(pa: &Profile, ra: &Rendered, pb: &Profile, rb: &Rendered) -> ProfileDiff {
    ProfileDiff {
        a: pa.name.clone(),
        b: pb.name.clone(),
        settings: compare_maps(&settings(&pa.file), &settings(&pb.file)),
        services: services(ra, rb),
        secrets: secrets(ra, rb),
        configs: configs(ra, rb),
        stack: ["networks", "volumes"]
            .iter()
            .flat_map(|k| {
                let mut a = BTreeMap::new();
                let mut b = BTreeMap::new();
                if let Some(v) = ra.stack.get(*k) {
                    flatten(k, v, &mut a);
                }
                if let Some(v) = rb.stack.get(*k) {
                    flatten(k, v, &mut b);
                }
                compare_maps(&a, &b)
            })
            .collect(),
    }
}

/// Profile settings as path → display value.
fn settings(f: &ProfileFile) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("domain".into(), f.domain.clone());
    m.insert(
        "hosts".into(),
        if f.hosts.is_empty() {
            "(none)".into()
        } else {
            f.hosts.join(", ")
        },
    );
    m.insert("ipv6".into(), f.ipv6.to_string());
    m.insert(
        "tls".into(),
        match &f.tls {
            Tls::Files(x) => format!("files (cert {}, key {})", x.cert.display(), x.key.display()),
            t => t.mode().to_string(),
        },
    );
    m.insert(
        "registry".into(),
        f.registry
            .as_ref()
            .map(|r| r.prefix.clone())
            .unwrap_or_else(|| "(none)".into()),
    );
    m.insert("docker.context".into(), f.docker.context.clone());
    m.insert(
        "docker.cluster_id".into(),
        f.docker
            .cluster_id
            .clone()
            .unwrap_or_else(|| "(any)".into()),
    );
    m.insert("docker.swarm".into(), f.docker.swarm.to_string());
    m.insert(
        "docker.publish".into(),
        format!("{:?}", f.docker.publish).to_lowercase(),
    );
    if let Some(h) = &f.docker.host {
        m.insert("docker.host".into(), h.clone());
    }
    for (k, v) in &f.replicas {
        m.insert(format!("replicas.{k}"), v.to_string());
    }
    for (k, v) in &f.env {
        m.insert(format!("env.{k}"), v.0.clone());
    }
    for (k, s) in &f.secrets {
        let src = match (&s.file, &s.env, s.generate) {
            (Some(p), _, _) => format!("file {}", p.display()),
            (_, Some(e), _) => format!("env {e}"),
            (_, _, Some(n)) => format!("generated ({n} bytes)"),
            _ => "?".into(),
        };
        m.insert(format!("secrets.{k}"), src);
    }
    if let Some(u) = &f.update {
        flatten(
            "update",
            &serde_yaml_ng::to_value(u).unwrap_or(Value::Null),
            &mut m,
        );
    }
    flatten("vars", &Value::Mapping(f.vars.clone()), &mut m);
    m
}

fn compare_maps(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<Change> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Change {
            path: k.clone(),
            a: a.get(k).cloned(),
            b: b.get(k).cloned(),
        })
        .collect()
}

fn services(ra: &Rendered, rb: &Rendered) -> Vec<ServiceDiff> {
    let (va, vb) = (&ra.view, &rb.view);
    let mut names: Vec<String> = va.names().into_iter().chain(vb.names()).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for n in names {
        match (va.service(&n), vb.service(&n)) {
            (Some(_), None) => out.push(ServiceDiff {
                name: n,
                status: Status::Removed,
                changes: vec![],
            }),
            (None, Some(_)) => out.push(ServiceDiff {
                name: n,
                status: Status::Added,
                changes: vec![],
            }),
            (Some(a), Some(b)) => {
                let changes = compare_maps(&a.flat(), &b.flat());
                if !changes.is_empty() {
                    out.push(ServiceDiff {
                        name: n,
                        status: Status::Changed,
                        changes,
                    });
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// The keys of both sides, sorted, each once.
fn union_keys<'a>(
    a: impl Iterator<Item = &'a String>,
    b: impl Iterator<Item = &'a String>,
) -> Vec<&'a String> {
    let mut names: Vec<&String> = a.chain(b).collect();
    names.sort();
    names.dedup();
    names
}

fn secrets(ra: &Rendered, rb: &Rendered) -> Vec<SecretDiff> {
    union_keys(
        ra.secrets.iter().map(|s| &s.key),
        rb.secrets.iter().map(|s| &s.key),
    )
    .into_iter()
    .filter_map(|n| {
        let a = ra.secrets.iter().find(|s| &s.key == n);
        let b = rb.secrets.iter().find(|s| &s.key == n);
        let value_differs = match (a, b) {
            // the object name ends in a keyed hash of the value ("unavailable" without one)
            (Some(a), Some(b)) => {
                a.object_name.rsplit('_').next() != b.object_name.rsplit('_').next()
            }
            _ => true,
        };
        let d = SecretDiff {
            name: n.clone(),
            a_origin: a.map(|s| s.origin.clone()),
            b_origin: b.map(|s| s.origin.clone()),
            value_differs,
        };
        (d.value_differs || d.a_origin != d.b_origin).then_some(d)
    })
    .collect()
}

fn configs(ra: &Rendered, rb: &Rendered) -> Vec<ConfigDiff> {
    union_keys(
        ra.configs
            .iter()
            .map(|c| c.key.to_string())
            .collect::<Vec<_>>()
            .iter(),
        rb.configs
            .iter()
            .map(|c| c.key.to_string())
            .collect::<Vec<_>>()
            .iter(),
    )
    .into_iter()
    .filter_map(|n| {
        let a = ra.configs.iter().find(|c| c.key == *n);
        let b = rb.configs.iter().find(|c| c.key == *n);
        match (a, b) {
            (Some(_), None) => Some(ConfigDiff {
                name: n.clone(),
                status: Status::Removed,
                unified: String::new(),
            }),
            (None, Some(_)) => Some(ConfigDiff {
                name: n.clone(),
                status: Status::Added,
                unified: String::new(),
            }),
            (Some(a), Some(b)) if a.content != b.content => Some(ConfigDiff {
                name: n.clone(),
                status: Status::Changed,
                unified: crate::textdiff::unified(
                    &a.content,
                    &b.content,
                    &format!("{}/configs/{n}", ra.profile),
                    &format!("{}/configs/{n}", rb.profile),
                ),
            }),
            _ => None,
        }
    })
    .collect()
}

fn old(s: &str) -> String {
    paint(Style::Red, s, true)
}
fn new(s: &str) -> String {
    paint(Style::Green, s, true)
}
fn head(s: &str) -> String {
    paint(Style::Bold, s, true)
}

fn value(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(unset)".into())
}

fn change_lines(out: &mut String, changes: &[Change]) {
    let w = changes
        .iter()
        .map(|c| c.path.len())
        .max()
        .unwrap_or(0)
        .min(40);
    for c in changes {
        out.push_str(&format!(
            "  {:w$}  {}  →  {}\n",
            c.path,
            old(&value(&c.a)),
            new(&value(&c.b)),
        ));
    }
}

/// The text form of a diff (coloured when stdout is a terminal).
pub fn format(d: &ProfileDiff) -> String {
    let mut out = String::new();
    if d.is_empty() {
        out.push_str(&format!("profiles {} and {} render the same\n", d.a, d.b));
        return out;
    }
    out.push_str(&format!("{} {} → {}\n", head("diff"), old(&d.a), new(&d.b)));
    if !d.settings.is_empty() {
        out.push_str(&format!("\n{}\n", head("profile")));
        change_lines(&mut out, &d.settings);
    }
    // a change every compared service shares is shown once
    let changed: Vec<&ServiceDiff> = d
        .services
        .iter()
        .filter(|s| s.status == Status::Changed)
        .collect();
    let common: Vec<Change> = if changed.len() >= 2 {
        changed[0]
            .changes
            .iter()
            .filter(|c| changed.iter().all(|s| s.changes.contains(c)))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    if !common.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            head(&format!("every service ({})", changed.len()))
        ));
        change_lines(&mut out, &common);
    }
    for s in &d.services {
        let own: Vec<Change> = s
            .changes
            .iter()
            .filter(|c| !common.contains(c))
            .cloned()
            .collect();
        if s.status == Status::Changed && own.is_empty() {
            continue;
        }
        match s.status {
            Status::Added => out.push_str(&format!(
                "\n{} {}\n",
                head("service"),
                new(&format!("{} (only in {})", s.name, d.b))
            )),
            Status::Removed => out.push_str(&format!(
                "\n{} {}\n",
                head("service"),
                old(&format!("{} (only in {})", s.name, d.a))
            )),
            Status::Changed => {
                out.push_str(&format!("\n{} {}\n", head("service"), s.name));
                change_lines(&mut out, &own);
            }
        }
    }
    if !d.stack.is_empty() {
        out.push_str(&format!("\n{}\n", head("networks and volumes")));
        change_lines(&mut out, &d.stack);
    }
    if !d.secrets.is_empty() {
        out.push_str(&format!("\n{}\n", head("secrets (values masked)")));
        for s in &d.secrets {
            let origin = |o: &Option<String>| o.clone().unwrap_or_else(|| "(none)".into());
            out.push_str(&format!(
                "  {}  {}  →  {}{}\n",
                s.name,
                old(&origin(&s.a_origin)),
                new(&origin(&s.b_origin)),
                if s.value_differs {
                    "  (value differs: ••••••)"
                } else {
                    "  (same value)"
                }
            ));
        }
    }
    for c in &d.configs {
        match c.status {
            Status::Added => out.push_str(&format!(
                "\n{} {}\n",
                head("config"),
                new(&format!("{} (only in {})", c.name, d.b))
            )),
            Status::Removed => out.push_str(&format!(
                "\n{} {}\n",
                head("config"),
                old(&format!("{} (only in {})", c.name, d.a))
            )),
            Status::Changed => {
                out.push_str(&format!("\n{} {}\n", head("config"), c.name));
                for line in c.unified.lines() {
                    let l = if line.starts_with("+++") || line.starts_with("---") {
                        head(line)
                    } else if line.starts_with('+') {
                        new(line)
                    } else if line.starts_with('-') {
                        old(line)
                    } else if line.starts_with("@@") {
                        paint(Style::Cyan, line, true)
                    } else {
                        line.to_string()
                    };
                    out.push_str(&l);
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_lists_and_maps_compare_per_variable() {
        let mut a = BTreeMap::new();
        let mut b = BTreeMap::new();
        flatten(
            "environment",
            &serde_yaml_ng::from_str("[A=1, B=2]").unwrap(),
            &mut a,
        );
        flatten(
            "environment",
            &serde_yaml_ng::from_str("{A: '1', B: '3'}").unwrap(),
            &mut b,
        );
        let c = compare_maps(&a, &b);
        assert_eq!(
            c,
            vec![Change {
                path: "environment.B".into(),
                a: Some("2".into()),
                b: Some("3".into())
            }]
        );
    }

    #[test]
    fn unified_has_headers() {
        let u = crate::textdiff::unified("a\nb\n", "a\nc\n", "x", "y");
        assert!(u.starts_with("--- x\n+++ y\n"), "{u}");
        assert!(u.contains("-b\n+c\n"));
    }
}

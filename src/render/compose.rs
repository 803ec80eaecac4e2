//! What `docker stack deploy` accepts, written once as a table — every key of the compose file
//! format version 3 that docker's stack loader reads, its shape and the version that brought it
//! (read from docker's v3.0–3.13 schemas) — and what devenv does with the rest:
//!
//! - **translated**, where swarm has the same thing under another name ([`translate`]):
//!   `mem_limit`/`mem_reservation`/`cpus`/`pids_limit` → `deploy.resources`, `restart` →
//!   `deploy.restart_policy`, `scale` → `deploy.replicas`, a Linux or Windows `platform` → a
//!   placement constraint, a long-syntax port's `"8080"` → 8080, `env_file` entries with
//!   `required:` → paths, booleans in `environment`/`labels` → strings, `extra_hosts` with several
//!   addresses → one line each, the top-level `name:` → the project name; each said;
//! - **cast** where docker's own loader casts an interpolated string ([`cast`]: `replicas`,
//!   ports, `read_only`…), so `${VAR}` elsewhere stays a string as docker reads it;
//! - **refused** otherwise, before anything changes, at the key's place, with the reason
//!   ([`check`]): a key docker does not know, a value of the wrong shape, a key newer than the
//!   file's `version:`, a network driver swarm cannot use, an empty volume source.

use serde_yaml_ng::{Mapping, Value};

/// The shape of a value.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Str,
    Int,
    /// An integer or a decimal.
    Num,
    Bool,
    /// A list of distinct strings.
    Strs,
    /// A list of strings, or a mapping of strings, numbers or nulls (`environment`, `labels`).
    ListOrDict,
    /// A string or a list of strings (`dns`, `env_file`).
    StrOrList,
    /// A string or a list of strings (`command`, `entrypoint`, `healthcheck.test`).
    Command,
    /// A mapping with these keys (and `x-*` when `ext`).
    Obj(&'static [Field], bool),
    /// A mapping of any keys to one shape.
    Map(&'static Shape),
    /// A list of one shape.
    List(&'static Shape),
    /// One of these (the first that fits).
    Either(&'static [Shape]),
    /// A mapping or null.
    OrNull(&'static Shape),
    /// Anything (a `build:`, which devenv builds and leaves out of the stack).
    Any,
}

/// A key of a mapping: its shape and the compose file version (3.x) that brought it.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub shape: Shape,
    pub since: u8,
    /// docker refuses the mapping without it.
    pub required: bool,
}

const fn f(key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        shape,
        since: 0,
        required: false,
    }
}

const fn since(key: &'static str, shape: Shape, minor: u8) -> Field {
    Field {
        key,
        shape,
        since: minor,
        required: false,
    }
}

const fn required(key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        shape,
        since: 0,
        required: true,
    }
}

use Shape::*;

const STR: Shape = Str;
const STR_OR_NUM: Shape = Either(&[Str, Num]);

const UPDATE: &[Field] = &[
    f("parallelism", Int),
    f("delay", Str),
    f("failure_action", Str),
    f("monitor", Str),
    f("max_failure_ratio", Num),
    since("order", Str, 4),
];
const LIMITS: &[Field] = &[f("cpus", Str), f("memory", Str), since("pids", Int, 9)];
const DISCRETE: &[Field] = &[f("kind", Str), f("value", Num)];
const GENERIC: &[Field] = &[f("discrete_resource_spec", Obj(DISCRETE, false))];
const RESERVATIONS: &[Field] = &[
    f("cpus", Str),
    f("memory", Str),
    since("generic_resources", List(&Obj(GENERIC, false)), 5),
];
const RESOURCES: &[Field] = &[
    f("limits", Obj(LIMITS, false)),
    f("reservations", Obj(RESERVATIONS, false)),
];
const RESTART_POLICY: &[Field] = &[
    f("condition", Str),
    f("delay", Str),
    f("max_attempts", Int),
    f("window", Str),
];
const SPREAD: &[Field] = &[f("spread", Str)];
const PLACEMENT: &[Field] = &[
    f("constraints", List(&STR)),
    since("preferences", List(&Obj(SPREAD, false)), 3),
    since("max_replicas_per_node", Int, 8),
];
const DEPLOY: &[Field] = &[
    f("mode", Str),
    since("endpoint_mode", Str, 2),
    f("replicas", Int),
    f("labels", ListOrDict),
    since("rollback_config", Obj(UPDATE, false), 7),
    f("update_config", Obj(UPDATE, false)),
    f("resources", Obj(RESOURCES, false)),
    f("restart_policy", Obj(RESTART_POLICY, false)),
    f("placement", Obj(PLACEMENT, false)),
];
const HEALTHCHECK: &[Field] = &[
    f("disable", Bool),
    f("interval", Str),
    f("retries", Num),
    f("test", Command),
    f("timeout", Str),
    since("start_period", Str, 4),
    since("start_interval", Str, 12),
];
const FILE_REF: &[Field] = &[
    f("source", Str),
    f("target", Str),
    f("uid", Str),
    f("gid", Str),
    f("mode", Num),
];
const PORT: &[Field] = &[
    f("mode", Str),
    f("target", Int),
    f("published", Int),
    f("protocol", Str),
];
const BIND: &[Field] = &[f("propagation", Str)];
const VOLUME_OPTS: &[Field] = &[f("nocopy", Bool)];
const TMPFS: &[Field] = &[f("size", Int)];
const MOUNT: &[Field] = &[
    required("type", Str),
    f("source", Str),
    f("target", Str),
    f("read_only", Bool),
    f("consistency", Str),
    f("bind", Obj(BIND, false)),
    f("volume", Obj(VOLUME_OPTS, false)),
    since("tmpfs", Obj(TMPFS, false), 6),
];
const LOGGING: &[Field] = &[f("driver", Str), f("options", Map(&STR_OR_NUM))];
const CREDENTIAL: &[Field] = &[since("config", Str, 8), f("file", Str), f("registry", Str)];
const SERVICE_NETWORK: &[Field] = &[
    f("aliases", Strs),
    since("driver_opts", Map(&STR_OR_NUM), 13),
    f("ipv4_address", Str),
    f("ipv6_address", Str),
];
const ULIMIT: &[Field] = &[required("hard", Int), required("soft", Int)];
const SERVICE: &[Field] = &[
    f("deploy", OrNull(&Obj(DEPLOY, false))),
    f("build", Any),
    f("cap_add", Strs),
    f("cap_drop", Strs),
    since("cgroupns_mode", Str, 9),
    f("cgroup_parent", Str),
    f("command", Command),
    since("configs", List(&Either(&[Str, Obj(FILE_REF, false)])), 3),
    f("container_name", Str),
    since("credential_spec", Obj(CREDENTIAL, false), 3),
    f("depends_on", Strs),
    f("devices", Strs),
    f("dns", StrOrList),
    f("dns_search", StrOrList),
    f("domainname", Str),
    f("entrypoint", Command),
    f("env_file", StrOrList),
    f("environment", ListOrDict),
    f("expose", List(&STR_OR_NUM)),
    f("external_links", Strs),
    f("extra_hosts", ListOrDict),
    f("healthcheck", Obj(HEALTHCHECK, false)),
    f("hostname", Str),
    f("image", Str),
    since("init", Bool, 7),
    f("ipc", Str),
    since("isolation", Str, 5),
    f("labels", ListOrDict),
    f("links", Strs),
    f("logging", Obj(LOGGING, false)),
    f("mac_address", Str),
    f("network_mode", Str),
    f(
        "networks",
        Either(&[Strs, Map(&OrNull(&Obj(SERVICE_NETWORK, false)))]),
    ),
    since("oom_score_adj", Int, 13),
    f("pid", Str),
    f("ports", List(&Either(&[Int, Str, Obj(PORT, false)]))),
    f("privileged", Bool),
    f("read_only", Bool),
    f("restart", Str),
    since("secrets", List(&Either(&[Str, Obj(FILE_REF, false)])), 1),
    f("security_opt", Strs),
    f("shm_size", STR_OR_NUM),
    f("sysctls", ListOrDict),
    f("stdin_open", Bool),
    f("stop_grace_period", Str),
    f("stop_signal", Str),
    f("tmpfs", StrOrList),
    f("tty", Bool),
    f("ulimits", Map(&Either(&[Int, Obj(ULIMIT, false)]))),
    f("user", Str),
    f("userns_mode", Str),
    f("volumes", List(&Either(&[Str, Obj(MOUNT, false)]))),
    f("working_dir", Str),
];
const EXTERNAL: &[Field] = &[f("name", Str)];
const IPAM_CONFIG: &[Field] = &[f("subnet", Str)];
const IPAM: &[Field] = &[
    f("driver", Str),
    f("config", List(&Obj(IPAM_CONFIG, false))),
];
const NETWORK: &[Field] = &[
    since("name", Str, 5),
    f("driver", Str),
    f("driver_opts", Map(&STR_OR_NUM)),
    f("ipam", Obj(IPAM, false)),
    f("external", Either(&[Bool, Obj(EXTERNAL, false)])),
    f("internal", Bool),
    since("attachable", Bool, 2),
    f("labels", ListOrDict),
];
const VOLUME: &[Field] = &[
    since("name", Str, 4),
    f("driver", Str),
    f("driver_opts", Map(&STR_OR_NUM)),
    f("external", Either(&[Bool, Obj(EXTERNAL, false)])),
    f("labels", ListOrDict),
    since("x-cluster-spec", Any, 10),
];
const OBJECT: &[Field] = &[
    since("name", Str, 5),
    f("file", Str),
    f("external", Either(&[Bool, Obj(EXTERNAL, false)])),
    f("labels", ListOrDict),
    since("template_driver", Str, 8),
    since("driver", Str, 8),
    since("driver_opts", Map(&STR_OR_NUM), 8),
];
const TOP: &[Field] = &[
    f("version", Str),
    f("services", Map(&Obj(SERVICE, true))),
    f("networks", Map(&OrNull(&Obj(NETWORK, true)))),
    f("volumes", Map(&OrNull(&Obj(VOLUME, true)))),
    since("secrets", Map(&Obj(OBJECT, true)), 1),
    since("configs", Map(&Obj(OBJECT, true)), 3),
];

/// The newest compose file version docker's stack loader reads (3.x).
pub const NEWEST: u8 = 13;
/// What devenv writes when a file names none: the newest that docker CLIs from 19.03 on read.
pub const DEFAULT: u8 = 8;

/// Why the stack is refused: where, what, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `services.web.deploy.replicas`
    pub path: String,
    /// The last key of the path, to find its line.
    pub key: String,
    pub message: String,
    pub hint: String,
}

fn problem(path: &str, message: String, hint: impl Into<String>) -> Problem {
    Problem {
        key: path
            .rsplit('.')
            .next()
            .unwrap_or(path)
            .split('[')
            .next()
            .unwrap_or_default()
            .to_string(),
        path: path.to_string(),
        message,
        hint: hint.into(),
    }
}

/// Keys docker's stack loader does not read, with why (and what to do).
const REFUSED_SERVICE: &[(&str, &str)] = &[
    (
        "extends",
        "use a minijinja macro or `{% include %}` to share service definitions",
    ),
    (
        "memswap_limit",
        "swarm has no swap limit; `deploy.resources.limits.memory` limits memory",
    ),
    (
        "cpu_shares",
        "swarm has no relative CPU weight; use `cpus` (→ deploy.resources.limits.cpus)",
    ),
    ("cpu_quota", "use `cpus` (→ deploy.resources.limits.cpus)"),
    ("cpu_period", "use `cpus` (→ deploy.resources.limits.cpus)"),
    ("cpu_count", "use `cpus` (→ deploy.resources.limits.cpus)"),
    ("cpu_percent", "use `cpus` (→ deploy.resources.limits.cpus)"),
    ("cpuset", "swarm cannot pin CPUs"),
    ("cpu_rt_runtime", "swarm has no real-time scheduling"),
    ("cpu_rt_period", "swarm has no real-time scheduling"),
    ("volumes_from", "use a named volume shared by both services"),
    (
        "volume_driver",
        "set the driver on the named volume under top-level `volumes:`",
    ),
    (
        "pull_policy",
        "swarm pulls when the image tag changes; `devenv update SERVICE` forces it",
    ),
    (
        "post_start",
        "swarm has no lifecycle hooks; run it in the entrypoint",
    ),
    (
        "pre_stop",
        "swarm has no lifecycle hooks; handle SIGTERM in the service",
    ),
    ("attach", "not supported by swarm"),
    (
        "gpus",
        "use `deploy.resources.reservations.generic_resources`",
    ),
    (
        "runtime",
        "swarm services run with the engine's default runtime",
    ),
    (
        "dns_opt",
        "swarm services take no DNS options in a stack file",
    ),
    (
        "group_add",
        "swarm services take no extra groups in a stack file; set the user's groups in the image",
    ),
    ("uts", "swarm services share no UTS namespace"),
    ("storage_opt", "swarm services take no storage options"),
    ("blkio_config", "swarm has no block I/O limits"),
    ("label_file", "write the labels under `labels:`"),
    ("mem_swappiness", "swarm has no swappiness setting"),
    ("oom_kill_disable", "swarm cannot disable the OOM killer"),
    ("device_cgroup_rules", "not supported by swarm services"),
    (
        "use_api_socket",
        "mount the docker socket as a volume instead",
    ),
    ("models", "not supported by swarm"),
    ("provider", "not supported by swarm"),
    ("annotations", "not supported by swarm"),
    (
        "develop",
        "devenv reads `develop.watch` itself (`devenv watch`)",
    ),
];

/// Keys docker's stack loader reads and swarm ignores, with what to do: left out and said.
pub const IGNORED_SERVICE: &[(&str, &str)] = &[
    (
        "depends_on",
        "swarm starts services in any order: make the service retry its dependencies (devenv waits for all of them)",
    ),
    (
        "container_name",
        "swarm names containers itself; use `devenv exec SERVICE`",
    ),
    (
        "links",
        "services on the same network reach each other by service name",
    ),
    (
        "external_links",
        "services on the same network reach each other by service name",
    ),
    ("network_mode", "use `networks:`"),
    ("cgroup_parent", "not supported by swarm"),
    ("devices", "not supported by swarm services"),
    ("security_opt", "not supported by swarm services"),
    ("userns_mode", "not supported by swarm services"),
    ("privileged", "not supported by swarm services"),
    (
        "expose",
        "unnecessary: services on the same network reach any port",
    ),
];

/// The `version:` a file names (3.x → x), or `None`.
pub fn file_version(doc: &Mapping) -> Result<Option<u8>, Problem> {
    let Some(v) = doc.get("version") else {
        return Ok(None);
    };
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let minor = match s.trim().split_once('.') {
        None if s.trim() == "3" => Some(NEWEST),
        Some(("3", m)) => m.parse::<u8>().ok().filter(|m| *m <= NEWEST),
        _ => None,
    };
    match minor {
        Some(m) => Ok(Some(m)),
        None => Err(problem(
            "version",
            format!("version `{s}` is not one docker stack deploy reads"),
            format!("use a 3.x version (3.0 to 3.{NEWEST}), or leave `version:` out"),
        )),
    }
}

/// Checks `doc` (a whole stack, translated and cast) against the table; returns the lowest
/// version (3.x) its keys need.
pub fn check(doc: &Mapping) -> Result<u8, Problem> {
    let mut needs = 0u8;
    check_obj(doc, TOP, true, "", &mut needs, true)?;
    Ok(needs)
}

fn type_name(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

fn describe(s: &Shape) -> String {
    match s {
        Str => "a string".into(),
        Int => "an integer".into(),
        Num => "a number".into(),
        Bool => "a boolean".into(),
        Strs => "a list of distinct strings".into(),
        ListOrDict => "a list of strings or a mapping of strings and numbers".into(),
        StrOrList => "a string or a list of strings".into(),
        Command => "a string or a list of strings".into(),
        Obj(..) | Map(_) => "a mapping".into(),
        List(_) => "a list".into(),
        Either(v) => v.iter().map(describe).collect::<Vec<_>>().join(" or "),
        OrNull(s) => format!("{} or nothing", describe(s)),
        Any => "anything".into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn fits(v: &Value, s: &Shape) -> bool {
    let mut n = 0;
    check_value(v, s, "", &mut n).is_ok()
}

fn check_value(v: &Value, s: &Shape, path: &str, needs: &mut u8) -> Result<(), Problem> {
    let wrong = || {
        problem(
            path,
            format!("{path} must be {}, not {}", describe(s), type_name(v)),
            "",
        )
    };
    match (s, v) {
        (Any, _) => Ok(()),
        (Str, Value::String(_)) => Ok(()),
        (Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        (Num, Value::Number(_)) => Ok(()),
        (Bool, Value::Bool(_)) => Ok(()),
        (Strs, Value::Sequence(items)) => {
            let mut seen = Vec::new();
            for (i, it) in items.iter().enumerate() {
                let Value::String(s) = it else {
                    return Err(problem(
                        &format!("{path}[{i}]"),
                        format!("{path}[{i}] must be a string, not {}", type_name(it)),
                        "",
                    ));
                };
                if seen.contains(&s) {
                    return Err(problem(
                        &format!("{path}[{i}]"),
                        format!("{path} holds `{s}` twice"),
                        "docker refuses a list with the same item twice",
                    ));
                }
                seen.push(s);
            }
            Ok(())
        }
        (ListOrDict, Value::Sequence(_)) => check_value(v, &Strs, path, needs),
        (ListOrDict, Value::Mapping(m)) => {
            for (k, val) in m {
                if !matches!(val, Value::String(_) | Value::Number(_) | Value::Null) {
                    let key = k.as_str().unwrap_or_default();
                    return Err(problem(
                        &join(path, key),
                        format!(
                            "{} must be a string, a number or nothing, not {}",
                            join(path, key),
                            type_name(val)
                        ),
                        "",
                    ));
                }
            }
            Ok(())
        }
        (StrOrList | Command, Value::String(_)) => Ok(()),
        (StrOrList, Value::Sequence(_)) => check_value(v, &Strs, path, needs),
        (Command, Value::Sequence(items)) => {
            for (i, it) in items.iter().enumerate() {
                if !matches!(it, Value::String(_)) {
                    return Err(problem(
                        &format!("{path}[{i}]"),
                        format!("{path}[{i}] must be a string, not {}", type_name(it)),
                        "quote it (`\"8080\"`): docker reads every item of a command as a string",
                    ));
                }
            }
            Ok(())
        }
        (Obj(fields, ext), Value::Mapping(m)) => check_obj(m, fields, *ext, path, needs, false),
        (Map(inner), Value::Mapping(m)) => {
            for (k, val) in m {
                let key = k.as_str().unwrap_or_default();
                if key.starts_with("x-") && path.is_empty() {
                    continue;
                }
                check_value(val, inner, &join(path, key), needs)?;
            }
            Ok(())
        }
        (List(inner), Value::Sequence(items)) => {
            for (i, it) in items.iter().enumerate() {
                check_value(it, inner, &format!("{path}[{i}]"), needs)?;
            }
            Ok(())
        }
        (OrNull(_), Value::Null) => Ok(()),
        (OrNull(inner), _) => check_value(v, inner, path, needs),
        (Either(options), _) => {
            // the option whose kind fits (a mapping for a mapping...) decides, with its error
            let kind_fits = |o: &Shape| {
                matches!(
                    (o, v),
                    (Obj(..) | Map(_), Value::Mapping(_))
                        | (Str, Value::String(_))
                        | (Int | Num, Value::Number(_))
                        | (Bool, Value::Bool(_))
                        | (Strs | List(_), Value::Sequence(_))
                )
            };
            if let Some(o) = options.iter().find(|o| fits(v, o)) {
                return check_value(v, o, path, needs);
            }
            match options.iter().find(|o| kind_fits(o)) {
                Some(o) => check_value(v, o, path, needs),
                None => Err(wrong()),
            }
        }
        _ => Err(wrong()),
    }
}

fn check_obj(
    m: &Mapping,
    fields: &[Field],
    ext: bool,
    path: &str,
    needs: &mut u8,
    top: bool,
) -> Result<(), Problem> {
    for (k, v) in m {
        let Some(key) = k.as_str() else {
            return Err(problem(
                path,
                format!("{path} has a key that is not a string"),
                "",
            ));
        };
        if (ext || top) && key.starts_with("x-") {
            continue;
        }
        let here = join(path, key);
        let Some(field) = fields.iter().find(|f| f.key == key) else {
            let known: Vec<&str> = fields.iter().map(|f| f.key).collect();
            let refused = REFUSED_SERVICE.iter().find(|(r, _)| *r == key);
            let hint = match refused {
                Some((_, why)) => why.to_string(),
                None => match crate::error::did_you_mean(key, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("docker reads here: {}", known.join(", ")),
                },
            };
            return Err(problem(
                &here,
                format!("{here} is not accepted by docker stack deploy"),
                hint,
            ));
        };
        *needs = (*needs).max(field.since);
        check_value(v, &field.shape, &here, needs)?;
    }
    if let Some(missing) = fields.iter().find(|f| f.required && !m.contains_key(f.key)) {
        let given: Vec<&str> = m.keys().filter_map(Value::as_str).collect();
        return Err(problem(
            path,
            format!(
                "{path} needs `{}` (it has {})",
                missing.key,
                given.join(", ")
            ),
            "docker refuses it without that key",
        ));
    }
    Ok(())
}

/// Docker's loader casts an interpolated string at these places (`services.*.deploy.replicas`…)
/// into an integer or a boolean; devenv writes the value already cast. Anywhere else a string
/// stays a string, as docker reads it.
pub fn cast(doc: &mut Mapping) -> Result<(), Problem> {
    let Some(Value::Mapping(svcs)) = doc.get_mut("services") else {
        return Ok(());
    };
    for (name, svc) in svcs.iter_mut() {
        let name = name.as_str().unwrap_or_default().to_string();
        let Value::Mapping(svc) = svc else { continue };
        let p = |rest: &str| format!("services.{name}.{rest}");
        for path in [
            "deploy.replicas",
            "deploy.update_config.parallelism",
            "deploy.rollback_config.parallelism",
            "deploy.restart_policy.max_attempts",
            "deploy.placement.max_replicas_per_node",
            "deploy.resources.limits.pids",
            "healthcheck.retries",
            "oom_score_adj",
        ] {
            cast_at(svc, path, &p(path), Cast::Int)?;
        }
        for path in [
            "deploy.update_config.max_failure_ratio",
            "deploy.rollback_config.max_failure_ratio",
        ] {
            cast_at(svc, path, &p(path), Cast::Float)?;
        }
        for path in [
            "healthcheck.disable",
            "privileged",
            "read_only",
            "stdin_open",
            "tty",
            "init",
        ] {
            cast_at(svc, path, &p(path), Cast::Bool)?;
        }
        for list in ["configs", "secrets"] {
            if let Some(Value::Sequence(items)) = svc.get_mut(list) {
                for (i, it) in items.iter_mut().enumerate() {
                    if let Value::Mapping(m) = it {
                        cast_at(m, "mode", &p(&format!("{list}[{i}].mode")), Cast::Int)?;
                    }
                }
            }
        }
        if let Some(Value::Sequence(items)) = svc.get_mut("ports") {
            for (i, it) in items.iter_mut().enumerate() {
                if let Value::Mapping(m) = it {
                    for k in ["target", "published"] {
                        cast_at(m, k, &p(&format!("ports[{i}].{k}")), Cast::Int)?;
                    }
                }
            }
        }
        if let Some(Value::Sequence(items)) = svc.get_mut("volumes") {
            for (i, it) in items.iter_mut().enumerate() {
                if let Value::Mapping(m) = it {
                    cast_at(
                        m,
                        "read_only",
                        &p(&format!("volumes[{i}].read_only")),
                        Cast::Bool,
                    )?;
                    cast_at(
                        m,
                        "volume.nocopy",
                        &p(&format!("volumes[{i}].volume.nocopy")),
                        Cast::Bool,
                    )?;
                }
            }
        }
        if let Some(Value::Mapping(u)) = svc.get_mut("ulimits") {
            let keys: Vec<Value> = u.keys().cloned().collect();
            for k in keys {
                let ks = k.as_str().unwrap_or_default().to_string();
                if let Some(Value::Mapping(hs)) = u.get_mut(&k) {
                    for x in ["hard", "soft"] {
                        cast_at(hs, x, &p(&format!("ulimits.{ks}.{x}")), Cast::Int)?;
                    }
                } else {
                    let mut single = Mapping::new();
                    single.insert(k.clone(), u.get(&k).cloned().unwrap_or_default());
                    cast_at(&mut single, &ks, &p(&format!("ulimits.{ks}")), Cast::Int)?;
                    u.insert(k.clone(), single.shift_remove(&k).unwrap_or_default());
                }
            }
        }
    }
    for (kind, keys) in [
        ("networks", &["external", "internal", "attachable"][..]),
        ("volumes", &["external"][..]),
        ("secrets", &["external"][..]),
        ("configs", &["external"][..]),
    ] {
        if let Some(Value::Mapping(top)) = doc.get_mut(kind) {
            for (n, def) in top.iter_mut() {
                let n = n.as_str().unwrap_or_default().to_string();
                if let Value::Mapping(d) = def {
                    for k in keys {
                        cast_at(d, k, &format!("{kind}.{n}.{k}"), Cast::Bool)?;
                    }
                }
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Cast {
    Int,
    Float,
    Bool,
}

/// The value at `path` (dotted, within `m`), cast when it is a string.
fn cast_at(m: &mut Mapping, path: &str, shown: &str, to: Cast) -> Result<(), Problem> {
    let mut cur = m;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        match cur.get_mut(*p) {
            Some(Value::Mapping(next)) => cur = next,
            _ => return Ok(()),
        }
    }
    let last = parts[parts.len() - 1];
    let Some(Value::String(s)) = cur.get(last) else {
        return Ok(());
    };
    let s = s.trim().to_string();
    let v = match to {
        Cast::Int => s.parse::<i64>().ok().map(|i| Value::Number(i.into())),
        Cast::Float => s.parse::<f64>().ok().map(|f| Value::Number(f.into())),
        Cast::Bool => match s.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" | "on" => Some(Value::Bool(true)),
            "n" | "no" | "false" | "off" => Some(Value::Bool(false)),
            _ => None,
        },
    };
    match v {
        Some(v) => {
            cur.insert(Value::String(last.to_string()), v);
            Ok(())
        }
        None => Err(problem(
            shown,
            format!(
                "{shown} is `{s}`, which docker cannot read as {}",
                match to {
                    Cast::Int => "an integer",
                    Cast::Float => "a number",
                    Cast::Bool => "a boolean",
                }
            ),
            "",
        )),
    }
}

fn k(s: &str) -> Value {
    Value::String(s.to_string())
}

/// The mapping at `keys` below `m`, made when missing.
fn entry<'a>(m: &'a mut Mapping, keys: &[&str]) -> &'a mut Mapping {
    let mut cur = m;
    for key in keys {
        let e = cur
            .entry(k(key))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !e.is_mapping() {
            *e = Value::Mapping(Mapping::new());
        }
        cur = e.as_mapping_mut().expect("a mapping");
    }
    cur
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A port's host address (`127.0.0.1:8000:8000`, `host_ip:`), which swarm cannot bind: it
/// publishes on every address of the node. On this machine the port is published so (a warning
/// says others on the network reach it too); on a server a port bound to loopback is left out (it
/// was never meant to be reachable from outside), another address published on every one, warned.
pub fn host_ips(name: &str, svc: &mut Mapping, local: bool, warnings: &mut Vec<String>) {
    let Some(Value::Sequence(ports)) = svc.get_mut("ports") else {
        return;
    };
    let loopback = |ip: &str| {
        ip == "localhost"
            || ip
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_loopback())
    };
    let unspecified = |ip: &str| {
        ip.trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_unspecified())
    };
    let mut kept = Vec::new();
    for p in std::mem::take(ports) {
        let (ip, rewritten) = match &p {
            Value::String(s) => match split_host_ip(s) {
                // `127.0.0.1::80`: any published port
                Some((ip, rest)) => (
                    ip.to_string(),
                    Value::String(rest.trim_start_matches(':').to_string()),
                ),
                None => {
                    kept.push(p);
                    continue;
                }
            },
            Value::Mapping(m) if m.contains_key("host_ip") => {
                let mut m = m.clone();
                let ip = m
                    .shift_remove("host_ip")
                    .and_then(|v| scalar_string(&v))
                    .unwrap_or_default();
                (ip, Value::Mapping(m))
            }
            _ => {
                kept.push(p);
                continue;
            }
        };
        let shown = scalar_string(&p).unwrap_or_else(|| format!("host_ip {ip}"));
        if unspecified(&ip) || ip.is_empty() {
            kept.push(rewritten);
        } else if loopback(&ip) && !local {
            warnings.push(format!(
                "services.{name}.ports: `{shown}` is left out on this server: swarm cannot bind {ip}, and publishing on every address would open what the file keeps private (services reach it by name)"
            ));
        } else {
            warnings.push(format!(
                "services.{name}.ports: `{shown}` is published on every address of the node: swarm cannot bind {ip} (others on the network reach the port too)"
            ));
            kept.push(rewritten);
        }
    }
    if kept.is_empty() {
        svc.shift_remove("ports");
    } else {
        *ports = kept;
    }
}

/// `IP:PUBLISHED:TARGET[/PROTO]` (an IPv6 address in brackets) as the address and the rest.
fn split_host_ip(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        return Some((ip, after.strip_prefix(':')?));
    }
    let (spec, _) = s.split_once('/').unwrap_or((s, ""));
    if spec.matches(':').count() != 2 {
        return None;
    }
    s.split_once(':')
}

/// Compose's forms of one service that swarm reads under another name, rewritten; each change
/// said in `notes` (once per kind of change, the caller joins the services).
pub fn translate(name: &str, svc: &mut Mapping, notes: &mut Vec<String>) -> Result<(), Problem> {
    let here = |k: &str| format!("services.{name}.{k}");
    let mut said = |n: String| {
        if !notes.contains(&n) {
            notes.push(n);
        }
    };
    // resources
    for (key, to, what) in [
        ("mem_limit", ["deploy", "resources", "limits"], "memory"),
        (
            "mem_reservation",
            ["deploy", "resources", "reservations"],
            "memory",
        ),
        ("cpus", ["deploy", "resources", "limits"], "cpus"),
    ] {
        if let Some(v) = svc.shift_remove(key) {
            let Some(s) = scalar_string(&v) else {
                return Err(problem(
                    &here(key),
                    format!("{} must be a number or a string", here(key)),
                    "",
                ));
            };
            let dest = entry(svc, &to);
            dest.entry(k(what)).or_insert(k(&s));
            said(format!(
                "{name}: `{key}` is deploy.resources.{}.{what} in swarm",
                to[2]
            ));
        }
    }
    if let Some(v) = svc.shift_remove("pids_limit") {
        let Some(n) = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        else {
            return Err(problem(
                &here("pids_limit"),
                format!("{} must be an integer", here("pids_limit")),
                "",
            ));
        };
        entry(svc, &["deploy", "resources", "limits"])
            .entry(k("pids"))
            .or_insert(Value::Number(n.into()));
        said(format!(
            "{name}: `pids_limit` is deploy.resources.limits.pids in swarm"
        ));
    }
    if let Some(v) = svc.shift_remove("scale") {
        entry(svc, &["deploy"]).entry(k("replicas")).or_insert(v);
        said(format!("{name}: `scale` is deploy.replicas in swarm"));
    }
    if let Some(v) = svc.shift_remove("restart") {
        let s = scalar_string(&v).unwrap_or_default();
        let (condition, attempts) = match s.split_once(':') {
            Some(("on-failure", n)) => ("on-failure", n.trim().parse::<i64>().ok()),
            _ => match s.as_str() {
                "no" | "false" => ("none", None),
                "always" | "unless-stopped" => ("any", None),
                "on-failure" => ("on-failure", None),
                other => {
                    return Err(problem(
                        &here("restart"),
                        format!("{} `{other}` is not a restart policy", here("restart")),
                        "use no, always, on-failure[:N] or unless-stopped",
                    ));
                }
            },
        };
        let deploy = entry(svc, &["deploy"]);
        if !deploy.contains_key("restart_policy") {
            let p = entry(deploy, &["restart_policy"]);
            p.insert(k("condition"), k(condition));
            if let Some(n) = attempts {
                p.insert(k("max_attempts"), Value::Number(n.into()));
            }
        }
        said(format!(
            "{name}: `restart: {s}` is deploy.restart_policy.condition: {condition} in swarm"
        ));
    }
    if let Some(v) = svc.shift_remove("platform") {
        let s = scalar_string(&v).unwrap_or_default();
        let mut parts = s.split('/');
        let os = parts.next().unwrap_or_default().to_ascii_lowercase();
        let arch = parts.next().unwrap_or_default().to_ascii_lowercase();
        let variant = parts.next().unwrap_or_default();
        if !matches!(os.as_str(), "linux" | "windows") {
            return Err(problem(
                &here("platform"),
                format!("{} `{s}`: swarm cannot run that runtime", here("platform")),
                "swarm runs Linux and Windows containers only; leave the service out of this stack",
            ));
        }
        let node_arch = match (arch.as_str(), variant) {
            ("", _) => None,
            ("amd64" | "x86_64", _) => Some("x86_64"),
            ("arm64" | "aarch64", _) => Some("aarch64"),
            ("arm", "v7") => Some("armv7l"),
            ("arm", "v6") => Some("armv6l"),
            ("386", _) => Some("i386"),
            ("ppc64le", _) => Some("ppc64le"),
            ("s390x", _) => Some("s390x"),
            ("riscv64", _) => Some("riscv64"),
            _ => {
                return Err(problem(
                    &here("platform"),
                    format!(
                        "{} `{s}`: an architecture swarm does not name",
                        here("platform")
                    ),
                    "use linux/amd64, linux/arm64, linux/arm/v7, or a placement constraint on node.platform.arch",
                ));
            }
        };
        let placement = entry(svc, &["deploy", "placement"]);
        let c = placement
            .entry(k("constraints"))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if let Value::Sequence(list) = c {
            list.push(k(&format!("node.platform.os == {os}")));
            if let Some(a) = node_arch {
                list.push(k(&format!("node.platform.arch == {a}")));
            }
        }
        said(format!(
            "{name}: `platform: {s}` is a placement constraint in swarm (node.platform.os == {os}{})",
            node_arch
                .map(|a| format!(", node.platform.arch == {a}"))
                .unwrap_or_default()
        ));
    }
    // long-syntax ports: compose writes numbers as strings; what swarm has no field for
    if let Some(Value::Sequence(ports)) = svc.get_mut("ports") {
        for (i, p) in ports.iter_mut().enumerate() {
            let Value::Mapping(m) = p else { continue };
            for key in ["name", "app_protocol"] {
                if m.shift_remove(key).is_some() {
                    said(format!(
                        "{name}: ports[{i}].{key} is compose's own description; swarm has no such field (left out)"
                    ));
                }
            }
            if let Some(Value::String(s)) = m.get("published")
                && s.contains('-')
            {
                return Err(problem(
                    &here(&format!("ports[{i}].published")),
                    format!(
                        "{} `{s}`: a range of published ports is the short syntax's (`\"{s}:…\"`)",
                        here(&format!("ports[{i}].published"))
                    ),
                    "write the ports one by one, or in the short syntax",
                ));
            }
        }
    }
    // env_file: docker's stack loader reads paths only
    if let Some(Value::Sequence(files)) = svc.get_mut("env_file") {
        let mut out = Vec::new();
        for f in files.drain(..) {
            match f {
                Value::Mapping(m) => {
                    let path = m.get("path").and_then(Value::as_str).unwrap_or_default();
                    let required = m.get("required").and_then(Value::as_bool).unwrap_or(true);
                    if required || std::path::Path::new(path).is_file() {
                        out.push(k(path));
                    }
                }
                other => out.push(other),
            }
        }
        *files = out;
        if files.is_empty() {
            svc.shift_remove("env_file");
        }
    }
    // environment, labels, sysctls: booleans as the strings compose makes of them
    for key in ["environment", "labels", "sysctls"] {
        if let Some(Value::Mapping(m)) = svc.get_mut(key) {
            for (_, v) in m.iter_mut() {
                if let Value::Bool(b) = v {
                    *v = k(&b.to_string());
                }
            }
        }
    }
    if let Some(Value::Mapping(d)) = svc.get_mut("deploy")
        && let Some(Value::Mapping(l)) = d.get_mut("labels")
    {
        for (_, v) in l.iter_mut() {
            if let Value::Bool(b) = v {
                *v = k(&b.to_string());
            }
        }
    }
    // extra_hosts: `NAME:ADDRESS` lines (a name with several addresses is one line each; a
    // `NAME=ADDRESS` line is one docker before 25 would drop)
    if let Some(v) = svc.get("extra_hosts")
        && let Some(lines) = super::merge::host_lines(v)
    {
        svc.insert(
            k("extra_hosts"),
            Value::Sequence(lines.into_iter().map(Value::String).collect()),
        );
    }
    // numbers where docker wants strings
    for key in [
        "user",
        "working_dir",
        "hostname",
        "image",
        "stop_signal",
        "domainname",
    ] {
        if let Some(v @ Value::Number(_)) = svc.get(key).cloned() {
            svc.insert(k(key), k(&scalar_string(&v).unwrap_or_default()));
        }
    }
    for key in ["command", "entrypoint"] {
        if let Some(Value::Sequence(items)) = svc.get_mut(key) {
            for it in items.iter_mut() {
                if let Value::Number(_) | Value::Bool(_) = it {
                    *it = k(&scalar_string(it).unwrap_or_default());
                }
            }
        }
    }
    if let Some(Value::Mapping(r)) = svc.get_mut("deploy").and_then(|d| d.get_mut("resources")) {
        for part in ["limits", "reservations"] {
            if let Some(Value::Mapping(l)) = r.get_mut(part) {
                for key in ["cpus", "memory"] {
                    if let Some(v @ Value::Number(_)) = l.get(key).cloned() {
                        l.insert(k(key), k(&scalar_string(&v).unwrap_or_default()));
                    }
                }
            }
        }
    }
    // a healthcheck test reset to nothing is no test
    if let Some(Value::Mapping(h)) = svc.get_mut("healthcheck")
        && h.get("test").is_some_and(Value::is_null)
    {
        h.shift_remove("test");
    }
    // long-syntax mounts: what only compose does
    if let Some(Value::Sequence(vols)) = svc.get_mut("volumes") {
        for (i, v) in vols.iter_mut().enumerate() {
            let Value::Mapping(m) = v else { continue };
            if let Some(Value::Mapping(b)) = m.get_mut("bind")
                && b.shift_remove("create_host_path").is_some()
            {
                said(format!(
                    "{name}: volumes[{i}].bind.create_host_path: swarm never creates a bind mount's source (left out)"
                ));
            }
            if let Some(Value::Mapping(b)) = m.get_mut("bind")
                && b.is_empty()
            {
                m.shift_remove("bind");
            }
        }
    }
    Ok(())
}

/// What swarm cannot deploy that the table cannot see: a network whose driver is not swarm's,
/// a volume whose source is empty (an unset variable).
pub fn check_semantics(doc: &Mapping) -> Result<(), Problem> {
    if let Some(Value::Mapping(nets)) = doc.get("networks") {
        for (n, def) in nets {
            let n = n.as_str().unwrap_or_default();
            let Some(d) = def.as_mapping() else { continue };
            let external = d
                .get("external")
                .is_some_and(|e| e.as_bool() != Some(false));
            if external {
                continue;
            }
            if let Some(driver) = d.get("driver").and_then(Value::as_str)
                && driver != "overlay"
            {
                return Err(problem(
                    &format!("networks.{n}.driver"),
                    format!(
                        "networks.{n}.driver `{driver}` cannot be used with services: a stack's networks are swarm-scoped (overlay)"
                    ),
                    "leave `driver:` out (a stack's network is an overlay), or create the network yourself and name it `external: true`",
                ));
            }
        }
    }
    if let Some(Value::Mapping(svcs)) = doc.get("services") {
        for (name, svc) in svcs {
            let name = name.as_str().unwrap_or_default();
            let Some(Value::Sequence(vols)) = svc.get("volumes") else {
                continue;
            };
            for (i, v) in vols.iter().enumerate() {
                if let Value::String(s) = v
                    && (s.starts_with(':') || s.contains("::") || s.ends_with(':'))
                {
                    return Err(problem(
                        &format!("services.{name}.volumes[{i}]"),
                        format!(
                            "services.{name}.volumes[{i}] `{s}` has an empty section between colons (a variable with no value?)"
                        ),
                        "set the variable (in the profile's `env:`, `.env` or the environment), or give it a default: `${VAR:-./data}`",
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Mapping {
        serde_yaml_ng::from_str(s).unwrap()
    }

    fn svc(s: &str) -> Mapping {
        doc(s)
    }

    #[test]
    fn what_docker_refuses_is_refused_with_its_path() {
        for (yaml, path, needle) in [
            (
                "services: {a: {image: x, runtime: runc}}",
                "services.a.runtime",
                "not accepted",
            ),
            (
                "services: {a: {image: x, dns_opt: [x]}}",
                "services.a.dns_opt",
                "not accepted",
            ),
            (
                "services: {a: {image: x, group_add: [x]}}",
                "services.a.group_add",
                "not accepted",
            ),
            (
                "services: {a: {image: x, uts: host}}",
                "services.a.uts",
                "not accepted",
            ),
            (
                "services: {a: {image: x, storage_opt: {size: 1G}}}",
                "services.a.storage_opt",
                "not accepted",
            ),
            (
                "services: {a: {image: x, blkio_config: {}}}",
                "services.a.blkio_config",
                "not accepted",
            ),
            (
                "services: {a: {image: x, label_file: l}}",
                "services.a.label_file",
                "not accepted",
            ),
            (
                "services: {a: {image: x, imgae: y}}",
                "services.a.imgae",
                "not accepted",
            ),
            (
                "services: {a: {image: x, command: [sleep, 5]}}",
                "services.a.command[1]",
                "must be a string",
            ),
            (
                "services: {a: {image: x, deploy: {replicas: \"2\"}}}",
                "services.a.deploy.replicas",
                "must be an integer",
            ),
            (
                "services: {a: {image: x, environment: {A: [1]}}}",
                "services.a.environment.A",
                "must be a string",
            ),
            (
                "services: {a: {image: x, ports: [{target: 80, published: 80, host_ip: 1}]}}",
                "services.a.ports[0].host_ip",
                "not accepted",
            ),
            (
                "services: {a: {image: x, cap_add: [A, A]}}",
                "services.a.cap_add[1]",
                "twice",
            ),
            (
                "services: {a: {image: x}}\nnetworks: {n: {drivr: overlay}}",
                "networks.n.drivr",
                "not accepted",
            ),
        ] {
            let p = check(&doc(yaml)).unwrap_err();
            assert_eq!(p.path, path, "{yaml}: {p:?}");
            assert!(p.message.contains(needle), "{yaml}: {p:?}");
        }
        // what it reads passes, and says the version it needs
        assert_eq!(check(&doc("services: {a: {image: x}}")).unwrap(), 0);
        assert_eq!(
            check(&doc(
                "services: {a: {image: x, healthcheck: {test: [CMD, x], start_interval: 1s}}}"
            ))
            .unwrap(),
            12
        );
        assert_eq!(
            check(&doc(
                "services: {a: {image: x, deploy: {resources: {limits: {pids: 10}}}}}"
            ))
            .unwrap(),
            9
        );
        assert!(check(&doc("x-any: [1]\nservices: {a: {image: x, x-mine: 1}}")).is_ok());
    }

    #[test]
    fn compose_forms_become_swarms() {
        let mut s = svc(
            "{image: x, mem_limit: 512m, cpus: 0.5, pids_limit: 100, restart: \"on-failure:3\", platform: linux/arm64, scale: 2, ports: [{target: \"80\", published: \"8080\"}], environment: {DEBUG: true}, extra_hosts: {db: [10.0.0.1, 10.0.0.2]}, user: 1000}",
        );
        let mut notes = Vec::new();
        translate("a", &mut s, &mut notes).unwrap();
        let mut d = Mapping::new();
        let mut svcs = Mapping::new();
        svcs.insert(k("a"), Value::Mapping(s));
        d.insert(k("services"), Value::Mapping(svcs));
        cast(&mut d).unwrap();
        let a = &d["services"]["a"];
        assert_eq!(a["deploy"]["resources"]["limits"]["memory"], k("512m"));
        assert_eq!(a["deploy"]["resources"]["limits"]["cpus"], k("0.5"));
        assert_eq!(a["deploy"]["resources"]["limits"]["pids"], Value::from(100));
        assert_eq!(a["deploy"]["restart_policy"]["condition"], k("on-failure"));
        assert_eq!(
            a["deploy"]["restart_policy"]["max_attempts"],
            Value::from(3)
        );
        assert_eq!(a["deploy"]["replicas"], Value::from(2));
        assert_eq!(
            a["deploy"]["placement"]["constraints"],
            Value::Sequence(vec![
                k("node.platform.os == linux"),
                k("node.platform.arch == aarch64")
            ])
        );
        assert_eq!(a["ports"][0]["published"], Value::from(8080));
        assert_eq!(a["environment"]["DEBUG"], k("true"));
        assert_eq!(
            a["extra_hosts"],
            Value::Sequence(vec![k("db:10.0.0.1"), k("db:10.0.0.2")])
        );
        assert_eq!(a["user"], k("1000"));
        assert!(check(&d).is_ok(), "{:?}", check(&d));
        assert!(notes.iter().any(|n| n.contains("restart")), "{notes:?}");
        // what swarm cannot run is refused with why
        let mut w = svc("{image: x, platform: wasi/wasm}");
        let p = translate("a", &mut w, &mut Vec::new()).unwrap_err();
        assert!(p.message.contains("cannot run that runtime"), "{p:?}");
        let mut r = svc("{image: x, restart: sometimes}");
        assert!(translate("a", &mut r, &mut Vec::new()).is_err());
    }

    #[test]
    fn host_addresses_of_ports() {
        let ports = "{image: x, ports: [\"127.0.0.1:8000:8000\", \"[::1]:5432:5432\", \"0.0.0.0:80:80\", \"10.1.2.3:53:53/udp\", \"127.0.0.1::9000\", {target: 6379, published: 6379, host_ip: 127.0.0.1}, \"8080:80\"]}";
        let mut local = svc(ports);
        let mut warnings = Vec::new();
        host_ips("a", &mut local, true, &mut warnings);
        assert_eq!(
            local["ports"],
            serde_yaml_ng::from_str::<Value>(
                "[\"8000:8000\", \"5432:5432\", \"80:80\", \"53:53/udp\", \"9000\", {target: 6379, published: 6379}, \"8080:80\"]"
            )
            .unwrap()
        );
        assert_eq!(warnings.len(), 5, "{warnings:?}");
        assert!(
            warnings[0].contains("published on every address"),
            "{warnings:?}"
        );
        let mut server = svc(ports);
        let mut warnings = Vec::new();
        host_ips("a", &mut server, false, &mut warnings);
        assert_eq!(
            server["ports"],
            serde_yaml_ng::from_str::<Value>("[\"80:80\", \"53:53/udp\", \"8080:80\"]").unwrap(),
            "loopback ports stay private on a server"
        );
        assert!(
            warnings[0].contains("left out on this server"),
            "{warnings:?}"
        );
    }

    #[test]
    fn casts_only_where_docker_casts() {
        let mut d = doc(
            "services: {a: {image: x, command: [sleep, \"5\"], deploy: {replicas: \"3\"}, read_only: \"yes\"}}",
        );
        cast(&mut d).unwrap();
        assert_eq!(
            d["services"]["a"]["command"][1],
            k("5"),
            "a command stays strings"
        );
        assert_eq!(d["services"]["a"]["deploy"]["replicas"], Value::from(3));
        assert_eq!(d["services"]["a"]["read_only"], Value::Bool(true));
        let mut bad = doc("services: {a: {image: x, deploy: {replicas: many}}}");
        let p = cast(&mut bad).unwrap_err();
        assert_eq!(p.path, "services.a.deploy.replicas");
    }

    #[test]
    fn networks_and_empty_sources() {
        let p = check_semantics(&doc(
            "services: {a: {image: x}}\nnetworks: {n: {driver: bridge}}",
        ))
        .unwrap_err();
        assert!(p.message.contains("cannot be used with services"), "{p:?}");
        assert!(
            check_semantics(&doc(
                "services: {a: {image: x}}\nnetworks: {n: {driver: bridge, external: true}}"
            ))
            .is_ok()
        );
        let p = check_semantics(&doc("services: {a: {image: x, volumes: [\":/media/\"]}}"))
            .unwrap_err();
        assert!(p.message.contains("empty section"), "{p:?}");
    }

    #[test]
    fn versions() {
        assert_eq!(file_version(&doc("version: '3.8'")).unwrap(), Some(8));
        assert_eq!(file_version(&doc("version: 3.13")).unwrap(), Some(13));
        assert_eq!(file_version(&doc("version: '3'")).unwrap(), Some(NEWEST));
        assert!(file_version(&doc("version: '2.4'")).is_err());
        assert_eq!(file_version(&doc("services: {}")).unwrap(), None);
    }
}

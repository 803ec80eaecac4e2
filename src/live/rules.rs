//! The `develop.watch` rules of a service, as compose-spec writes them:
//!
//! ```yaml
//! develop:
//!   watch:
//!     - path: ./web          # relative to the project root
//!       action: sync         # sync | sync+restart | sync+exec | restart | rebuild
//!       target: /app         # where `path` lands in the container (sync actions)
//!       ignore: [static/]    # relative to `path`, .dockerignore syntax
//!       include: ["*.py"]    # only these (relative to `path`)
//!       initial_sync: false  # do not sync all of `path` into the running tasks when watch
//!                            # starts (devenv's default is to: compose's is not to)
//!       exec: {command: [...]}       # sync+exec
//!       x-devenv-signal: HUP         # sync+restart / restart: the signal (default HUP)
//! ```
//!
//! `docker stack deploy` refuses `develop:` ("Additional property develop is not allowed",
//! docker CLI 20.10 and 28), so devenv reads it here and leaves it out of what it deploys.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_yaml_ng::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Sync,
    #[serde(rename = "sync+restart")]
    SyncRestart,
    #[serde(rename = "sync+exec")]
    SyncExec,
    Restart,
    Rebuild,
}

impl Action {
    pub const ALL: &[(&str, Action)] = &[
        ("sync", Action::Sync),
        ("sync+restart", Action::SyncRestart),
        ("sync+exec", Action::SyncExec),
        ("restart", Action::Restart),
        ("rebuild", Action::Rebuild),
    ];

    pub fn name(self) -> &'static str {
        Action::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("sync")
    }

    pub fn syncs(self) -> bool {
        matches!(self, Action::Sync | Action::SyncRestart | Action::SyncExec)
    }
}

/// One watch rule of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub service: String,
    /// The watched file or directory on this machine (absolute).
    pub path: PathBuf,
    pub action: Action,
    /// Where `path` lands in the service's containers (an absolute POSIX path; sync actions).
    pub target: Option<String>,
    pub ignore: Vec<String>,
    pub include: Vec<String>,
    pub initial_sync: bool,
    /// `sync+exec`: the command run in each container after the sync.
    pub exec: Vec<String>,
    /// `sync+restart` and `restart`: the signal sent to the task's main process.
    pub signal: String,
}

/// Why a service's `develop:` is not usable: the text to find in the template (for the line),
/// the message and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub needle: String,
    pub message: String,
    pub hint: String,
}

fn err(needle: &str, message: String, hint: impl Into<String>) -> RuleError {
    RuleError {
        needle: needle.to_string(),
        message,
        hint: hint.into(),
    }
}

const KEYS: &[&str] = &[
    "path",
    "action",
    "target",
    "ignore",
    "include",
    "initial_sync",
    "exec",
    "x-devenv-signal",
];

/// Signals a process can be asked to reload with (what `docker kill --signal` accepts by name).
const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "WINCH", "ALRM", "CONT",
];

fn strings(v: &Value, what: &str, service: &str) -> Result<Vec<String>, RuleError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Sequence(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(err(
                    &format!("{what}:"),
                    format!(
                        "services.{service}.develop.watch: `{what}` has a non-string entry ({})",
                        serde_yaml_ng::to_string(other).unwrap_or_default().trim()
                    ),
                    "quote it",
                )),
            })
            .collect(),
        _ => Err(err(
            &format!("{what}:"),
            format!("services.{service}.develop.watch: `{what}` must be a list of strings"),
            "",
        )),
    }
}

/// The rules in `develop` of service `service`; `root` is the project root the paths are
/// relative to, `has_build` whether the service has a `build:` (a `rebuild` rule needs one).
pub fn parse(
    service: &str,
    develop: &Value,
    root: &Path,
    has_build: bool,
) -> Result<Vec<Rule>, RuleError> {
    let Value::Mapping(d) = develop else {
        return Err(err(
            "develop:",
            format!("services.{service}.develop must be a mapping with `watch:`"),
            "",
        ));
    };
    for (k, _) in d {
        let k = k.as_str().unwrap_or_default();
        if k != "watch" && !k.starts_with("x-") {
            return Err(err(
                &format!("{k}:"),
                format!("services.{service}.develop.{k} is not something devenv watch knows"),
                "compose-spec's `develop:` has `watch:` (a list of rules)",
            ));
        }
    }
    let Some(watch) = d.get("watch") else {
        return Ok(Vec::new());
    };
    let Value::Sequence(items) = watch else {
        return Err(err(
            "watch:",
            format!("services.{service}.develop.watch must be a list of rules"),
            "each rule: `- path: ./src` and `action: sync|sync+restart|sync+exec|restart|rebuild`",
        ));
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Mapping(m) = item else {
            return Err(err(
                "watch:",
                format!("services.{service}.develop.watch: a rule must be a mapping"),
                "`- path: ./src` and `action: sync` on the next line",
            ));
        };
        for (k, _) in m {
            let k = k.as_str().unwrap_or_default();
            if !KEYS.contains(&k) && !k.starts_with("x-") {
                let hint = crate::error::did_you_mean(k, KEYS.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("a rule has {}", KEYS.join(", ")));
                return Err(err(
                    &format!("{k}:"),
                    format!("services.{service}.develop.watch: unknown key `{k}`"),
                    hint,
                ));
            }
        }
        let Some(path) = m.get("path").and_then(Value::as_str) else {
            return Err(err(
                "watch:",
                format!("services.{service}.develop.watch: a rule has no `path`"),
                "add `path: ./DIR` (relative to the project root)",
            ));
        };
        let Some(action_s) = m.get("action").and_then(Value::as_str) else {
            return Err(err(
                &format!("path: {path}"),
                format!("services.{service}.develop.watch: the rule for {path} has no `action`"),
                "add `action: sync`, `sync+restart`, `sync+exec`, `restart` or `rebuild`",
            ));
        };
        let Some(&(_, action)) = Action::ALL.iter().find(|(n, _)| *n == action_s) else {
            let names: Vec<&str> = Action::ALL.iter().map(|(n, _)| *n).collect();
            let hint = crate::error::did_you_mean(action_s, names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("one of {}", names.join(", ")));
            return Err(err(
                &format!("action: {action_s}"),
                format!("services.{service}.develop.watch: unknown action `{action_s}`"),
                hint,
            ));
        };
        if action == Action::Rebuild && !has_build {
            return Err(err(
                "rebuild",
                format!(
                    "services.{service}.develop.watch: `action: rebuild` on a service without `build:`"
                ),
                format!(
                    "give {service} a `build:` context, or use `action: sync` with a `target:`"
                ),
            ));
        }
        let target = match m.get("target") {
            None => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => {
                return Err(err(
                    "target:",
                    format!("services.{service}.develop.watch: `target` must be a path"),
                    "",
                ));
            }
        };
        if action.syncs() {
            match &target {
                None => {
                    return Err(err(
                        &format!("action: {action_s}"),
                        format!(
                            "services.{service}.develop.watch: `action: {action_s}` for {path} needs a `target`"
                        ),
                        "add `target: /path/in/the/container` (where the files land)",
                    ));
                }
                Some(t) if !t.starts_with('/') || t.split('/').any(|s| s == "..") => {
                    return Err(err(
                        &format!("target: {t}"),
                        format!(
                            "services.{service}.develop.watch: target `{t}` must be an absolute path in the container, without `..`"
                        ),
                        "for example `target: /app`",
                    ));
                }
                _ => {}
            }
        }
        let ignore = match m.get("ignore") {
            Some(v) => strings(v, "ignore", service)?,
            None => Vec::new(),
        };
        let include = match m.get("include") {
            Some(v) => strings(v, "include", service)?,
            None => Vec::new(),
        };
        let initial_sync = match m.get("initial_sync") {
            // unlike compose: a task may hold files of an earlier session, or an image older
            // than the sources, so the session starts from what is on disk
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(err(
                    "initial_sync:",
                    format!(
                        "services.{service}.develop.watch: `initial_sync` must be true or false"
                    ),
                    "",
                ));
            }
        };
        let exec = match m.get("exec") {
            None => Vec::new(),
            Some(Value::Mapping(e)) => match e.get("command") {
                Some(Value::String(s)) => vec!["sh".into(), "-c".into(), s.clone()],
                Some(v @ Value::Sequence(_)) => strings(v, "command", service)?,
                _ => {
                    return Err(err(
                        "exec:",
                        format!("services.{service}.develop.watch: `exec` needs a `command`"),
                        "`exec: {command: [kill, -HUP, \"1\"]}`",
                    ));
                }
            },
            Some(_) => {
                return Err(err(
                    "exec:",
                    format!(
                        "services.{service}.develop.watch: `exec` must be a mapping with `command`"
                    ),
                    "",
                ));
            }
        };
        if action == Action::SyncExec && exec.is_empty() {
            return Err(err(
                "sync+exec",
                format!(
                    "services.{service}.develop.watch: `action: sync+exec` needs `exec: {{command: ...}}`"
                ),
                "",
            ));
        }
        let signal = match m.get("x-devenv-signal") {
            None => "HUP".to_string(),
            Some(Value::String(s)) => {
                let s = s.trim_start_matches("SIG").to_ascii_uppercase();
                if !SIGNALS.contains(&s.as_str()) {
                    return Err(err(
                        "x-devenv-signal:",
                        format!("services.{service}.develop.watch: unknown signal `{s}`"),
                        format!("one of {}", SIGNALS.join(", ")),
                    ));
                }
                s
            }
            Some(_) => {
                return Err(err(
                    "x-devenv-signal:",
                    format!(
                        "services.{service}.develop.watch: `x-devenv-signal` must be a signal name such as HUP"
                    ),
                    "",
                ));
            }
        };
        let rel = path.replace('\\', "/");
        let rel = rel.trim_start_matches("./");
        let full = crate::fsutil::normalize_lexically(&root.join(rel));
        if Path::new(rel).is_absolute() || !full.starts_with(root) {
            return Err(err(
                &format!("path: {path}"),
                format!(
                    "services.{service}.develop.watch: `{path}` is outside the project: devenv watches and copies only files inside it"
                ),
                "name a directory of the project, relative to its root (`./src`)",
            ));
        }
        out.push(Rule {
            service: service.to_string(),
            path: crate::fsutil::normalize_lexically(&root.join(rel)),
            action,
            target,
            ignore,
            include,
            initial_sync,
            exec,
            signal,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn compose_rules_are_read() {
        let root = Path::new("/p");
        let r = parse(
            "web",
            &yaml(
                "watch:\n  - {path: ./web, action: sync, target: /app, ignore: [static/]}\n  - {path: web/requirements.txt, action: rebuild}\n  - {path: conf, action: sync+restart, target: /etc/x, x-devenv-signal: SIGUSR1}\n",
            ),
            root,
            true,
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].path, Path::new("/p/web"));
        assert_eq!(r[0].action, Action::Sync);
        assert_eq!(r[0].target.as_deref(), Some("/app"));
        assert_eq!(r[0].ignore, ["static/"]);
        assert_eq!(r[1].action, Action::Rebuild);
        assert_eq!(r[2].signal, "USR1");
        assert_eq!(r[0].signal, "HUP");
    }

    #[test]
    fn bad_rules_say_what_and_where() {
        let root = Path::new("/p");
        let e = parse(
            "db",
            &yaml("watch:\n  - {path: ./x, action: rebuild}\n"),
            root,
            false,
        )
        .unwrap_err();
        assert!(e.message.contains("without `build:`"), "{e:?}");
        assert_eq!(e.needle, "rebuild");
        let e = parse(
            "w",
            &yaml("watch:\n  - {path: ./x, action: synk}\n"),
            root,
            true,
        )
        .unwrap_err();
        assert!(e.hint.contains("`sync`"), "{e:?}");
        let e = parse(
            "w",
            &yaml("watch:\n  - {path: ./x, action: sync}\n"),
            root,
            true,
        )
        .unwrap_err();
        assert!(e.message.contains("needs a `target`"), "{e:?}");
        let e = parse(
            "w",
            &yaml("watch:\n  - {path: ./x, action: sync, target: app}\n"),
            root,
            true,
        )
        .unwrap_err();
        assert!(e.message.contains("absolute"), "{e:?}");
        let e = parse(
            "w",
            &yaml("watch:\n  - {path: ./x, action: sync, target: /a, ignores: [x]}\n"),
            root,
            true,
        )
        .unwrap_err();
        assert!(e.hint.contains("`ignore`"), "{e:?}");
        let e = parse("w", &yaml("watch: {path: x}\n"), root, true).unwrap_err();
        assert!(e.message.contains("list of rules"), "{e:?}");
        let e = parse(
            "w",
            &yaml("watch:\n  - {path: ./x, action: restart, x-devenv-signal: BOOM}\n"),
            root,
            true,
        )
        .unwrap_err();
        assert!(e.message.contains("BOOM"), "{e:?}");
    }
}

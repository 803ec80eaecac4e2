//! One batch of changed paths → what each service gets: files copied into its containers and
//! deleted there, a signal or command after that, or a rebuild; and whether devenv's own inputs
//! (devenv.yaml, profiles, templates) changed, which re-renders and redeploys. Pure: the caller
//! says what each changed path is now ([`Kind`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::rules::{Action, Rule};
use crate::patterns::Patterns;

/// What a changed path is when the batch is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// Removed (or renamed away).
    Gone,
    /// A FIFO, socket or device: never read, never copied.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub kind: Kind,
}

/// One file (or symlink) copied into the containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub from: PathBuf,
    /// Absolute POSIX path in the container.
    pub to: String,
    /// The rule's path: only a file whose real location is inside it is copied (a path reached
    /// through a symlinked directory that leads elsewhere is not).
    pub within: PathBuf,
}

/// What one service gets from a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Work {
    pub service: String,
    /// The changes that make it rebuild (a rebuild replaces its syncs: the new image has them).
    pub rebuild: Vec<PathBuf>,
    pub copies: Vec<Copy>,
    pub deletes: Vec<String>,
    /// The signal its containers get after the sync (`sync+restart`, `restart`).
    pub signal: Option<String>,
    /// Commands run in its containers after the sync (`sync+exec`).
    pub exec: Vec<Vec<String>>,
    /// The changed paths that gave it this work.
    pub changed: Vec<PathBuf>,
}

impl Work {
    /// `sync`, `sync+restart`, `restart`, `rebuild`…: what is done, in a word.
    pub fn action(&self) -> &'static str {
        if !self.rebuild.is_empty() {
            "rebuild"
        } else if !self.exec.is_empty() {
            "sync+exec"
        } else if self.signal.is_some() && (self.copies.is_empty() && self.deletes.is_empty()) {
            "restart"
        } else if self.signal.is_some() {
            "sync+restart"
        } else {
            "sync"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch {
    pub work: Vec<Work>,
    /// devenv's own inputs that changed: the stack is rendered and deployed again.
    pub redeploy: Vec<PathBuf>,
    /// Changed paths no rule and no input wants (ignored by a pattern, or outside every rule).
    pub ignored: Vec<PathBuf>,
    /// Changes that cannot be applied (a FIFO, a removed rule root), each with why.
    pub refused: Vec<(PathBuf, String)>,
}

/// A rule with its patterns compiled, and the `.dockerignore` of its service's build context.
#[derive(Debug, Clone)]
struct Compiled {
    rule: Rule,
    ignore: Patterns,
    include: Patterns,
    context: Option<(PathBuf, Patterns)>,
}

/// What a watch session watches: the rules and devenv's own inputs.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    rules: Vec<Compiled>,
    /// devenv.yaml, the profiles, the stack and config templates (files or directories).
    pub inputs: Vec<PathBuf>,
    /// Never watched: the project's `.devenv/` (devenv writes there) and `.git/`.
    pub skip: Vec<PathBuf>,
}

/// Editor and VCS leftovers no rule ever wants: vim's swap and `4913` probe, emacs' locks and
/// autosaves, JetBrains' safe-write files, backups, macOS' `.DS_Store`.
pub fn is_editor_noise(name: &str) -> bool {
    name == "4913"
        || name == ".DS_Store"
        || name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || [
            ".swp",
            ".swx",
            ".swo",
            ".tmp",
            "___jb_tmp___",
            "___jb_old___",
        ]
        .iter()
        .any(|s| name.ends_with(s))
}

/// `path` below `base`, `/`-separated (`""` for `base` itself).
pub fn rel(base: &Path, path: &Path) -> Option<String> {
    let r = path.strip_prefix(base).ok()?;
    Some(
        r.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

fn join_posix(target: &str, rel: &str) -> String {
    if rel.is_empty() {
        target.to_string()
    } else {
        format!("{}/{rel}", target.trim_end_matches('/'))
    }
}

impl Watched {
    /// `contexts`: service → its build context (absolute).
    pub fn new(
        rules: Vec<Rule>,
        contexts: &BTreeMap<String, PathBuf>,
        inputs: Vec<PathBuf>,
        root: &Path,
    ) -> Watched {
        let scope = crate::contained::Scope::project(root);
        let rules = rules
            .into_iter()
            .map(|rule| {
                let context = contexts
                    .get(&rule.service)
                    .map(|c| (c.clone(), Patterns::dockerignore(&scope, c)));
                Compiled {
                    ignore: Patterns::from_list(rule.ignore.iter().map(String::as_str)),
                    include: Patterns::from_list(rule.include.iter().map(String::as_str)),
                    rule,
                    context,
                }
            })
            .collect();
        Watched {
            rules,
            inputs,
            skip: vec![root.join(".devenv"), root.join(".git")],
        }
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|c| &c.rule)
    }

    /// Whether a path is never of interest (before any rule is asked).
    pub fn noise(&self, path: &Path) -> bool {
        self.skip.iter().any(|s| path.starts_with(s))
            || path.components().any(|c| c.as_os_str() == ".git")
            || path
                .file_name()
                .is_some_and(|n| is_editor_noise(&n.to_string_lossy()))
    }

    /// Whether rule `c` wants `path` (below its path, not ignored, included).
    fn wants(c: &Compiled, path: &Path) -> Option<String> {
        let r = rel(&c.rule.path, path)?;
        if !r.is_empty() {
            if c.ignore.matches(&r) || (!c.include.is_empty() && !c.include.matches(&r)) {
                return None;
            }
        } else if !c.include.is_empty()
            && !path
                .file_name()
                .is_some_and(|n| c.include.matches(&n.to_string_lossy()))
        {
            return None;
        }
        if let Some((ctx, di)) = &c.context
            && let Some(cr) = rel(ctx, path)
            && !cr.is_empty()
            && di.matches(&cr)
        {
            return None;
        }
        Some(r)
    }

    pub fn plan(&self, changes: &[Change]) -> Batch {
        let mut batch = Batch::default();
        let mut work: BTreeMap<String, Work> = BTreeMap::new();
        for ch in changes {
            if self.noise(&ch.path) {
                continue;
            }
            let mut wanted = false;
            if self.inputs.iter().any(|i| ch.path.starts_with(i)) {
                batch.redeploy.push(ch.path.clone());
                wanted = true;
            }
            for c in &self.rules {
                let Some(r) = Self::wants(c, &ch.path) else {
                    continue;
                };
                if ch.kind == Kind::Dir {
                    // its files come as changes of their own
                    wanted = true;
                    continue;
                }
                if ch.kind == Kind::Other {
                    batch.refused.push((
                        ch.path.clone(),
                        "not a regular file, a directory or a symlink: not copied".into(),
                    ));
                    wanted = true;
                    break;
                }
                let w = work.entry(c.rule.service.clone()).or_insert_with(|| Work {
                    service: c.rule.service.clone(),
                    ..Default::default()
                });
                wanted = true;
                if !w.changed.contains(&ch.path) {
                    w.changed.push(ch.path.clone());
                }
                match c.rule.action {
                    Action::Rebuild => w.rebuild.push(ch.path.clone()),
                    Action::Restart => w.signal = Some(c.rule.signal.clone()),
                    a => {
                        let target = c.rule.target.as_deref().unwrap_or("/");
                        let to = join_posix(target, &r);
                        if ch.kind == Kind::Gone {
                            if r.is_empty() {
                                batch.refused.push((
                                    ch.path.clone(),
                                    format!("the watched path is gone; {target} in the containers is left as it is"),
                                ));
                            } else if !w.deletes.contains(&to) {
                                w.deletes.push(to);
                            }
                        } else if !w.copies.iter().any(|x| x.to == to) {
                            w.copies.push(Copy {
                                from: ch.path.clone(),
                                to,
                                within: c.rule.path.clone(),
                            });
                        }
                        match a {
                            Action::SyncRestart => w.signal = Some(c.rule.signal.clone()),
                            Action::SyncExec if !w.exec.contains(&c.rule.exec) => {
                                w.exec.push(c.rule.exec.clone())
                            }
                            _ => {}
                        }
                    }
                }
            }
            if !wanted {
                batch.ignored.push(ch.path.clone());
            }
        }
        for (_, mut w) in work {
            if !w.rebuild.is_empty() {
                // the new image has the files; its new tasks get the sync rules' files anyway
                w.copies.clear();
                w.deletes.clear();
                w.signal = None;
                w.exec.clear();
            }
            batch.work.push(w);
        }
        batch
    }

    /// Every file below the sync rules of `service` with `initial_sync` (or all of them when
    /// `all`), as copies: what a new task of the service (or the start of a watch) is given.
    /// `list` walks a directory (the caller's disk access).
    pub fn full_sync(&self, service: &str, all: bool, list: &dyn Fn(&Path) -> Vec<Change>) -> Work {
        let mut w = Work {
            service: service.to_string(),
            ..Default::default()
        };
        for c in self.rules.iter().filter(|c| {
            c.rule.service == service && c.rule.action.syncs() && (all || c.rule.initial_sync)
        }) {
            for ch in list(&c.rule.path) {
                if self.noise(&ch.path) || !matches!(ch.kind, Kind::File | Kind::Symlink) {
                    continue;
                }
                if let Some(r) = Self::wants(c, &ch.path) {
                    let to = join_posix(c.rule.target.as_deref().unwrap_or("/"), &r);
                    if !w.copies.iter().any(|x| x.to == to) {
                        w.copies.push(Copy {
                            from: ch.path.clone(),
                            to,
                            within: c.rule.path.clone(),
                        });
                    }
                }
            }
        }
        w
    }

    /// The services with at least one sync rule.
    pub fn syncing_services(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .rules
            .iter()
            .filter(|c| c.rule.action.syncs())
            .map(|c| c.rule.service.clone())
            .collect();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(service: &str, path: &str, action: Action, target: Option<&str>) -> Rule {
        Rule {
            service: service.into(),
            path: PathBuf::from(path),
            action,
            target: target.map(String::from),
            ignore: Vec::new(),
            include: Vec::new(),
            initial_sync: false,
            exec: Vec::new(),
            signal: "HUP".into(),
        }
    }

    fn ch(p: &str, kind: Kind) -> Change {
        Change {
            path: PathBuf::from(p),
            kind,
        }
    }

    fn watched(rules: Vec<Rule>) -> Watched {
        let mut contexts = BTreeMap::new();
        contexts.insert("api".to_string(), PathBuf::from("/nonexistent/p/api"));
        Watched::new(
            rules,
            &contexts,
            vec![
                PathBuf::from("/p/devenv.yaml"),
                PathBuf::from("/p/templates"),
            ],
            Path::new("/p"),
        )
    }

    #[test]
    fn sync_copies_and_deletes_below_the_target() {
        let mut r = rule("web", "/p/web", Action::Sync, Some("/app"));
        r.ignore = vec!["static/".into(), "**/*.pyc".into()];
        let w = watched(vec![r]);
        let b = w.plan(&[
            ch("/p/web/app.py", Kind::File),
            ch("/p/web/pkg/mod.py", Kind::File),
            ch("/p/web/old.py", Kind::Gone),
            ch("/p/web/static/x.css", Kind::File),
            ch("/p/web/pkg/mod.cpython-312.pyc", Kind::File),
            ch("/p/web/.app.py.swp", Kind::File),
            ch("/p/web/app.py~", Kind::File),
            ch("/p/.devenv/state.json", Kind::File),
            ch("/p/web/.git/index", Kind::File),
            ch("/p/web/pkg", Kind::Dir),
            ch("/p/README.md", Kind::File),
        ]);
        assert_eq!(b.work.len(), 1);
        let s = &b.work[0];
        assert_eq!(s.action(), "sync");
        let to: Vec<&str> = s.copies.iter().map(|c| c.to.as_str()).collect();
        assert_eq!(to, ["/app/app.py", "/app/pkg/mod.py"]);
        assert_eq!(s.deletes, ["/app/old.py"]);
        assert_eq!(
            b.ignored,
            [
                PathBuf::from("/p/web/static/x.css"),
                PathBuf::from("/p/web/pkg/mod.cpython-312.pyc"),
                PathBuf::from("/p/README.md")
            ]
        );
        assert!(b.redeploy.is_empty());
    }

    #[test]
    fn rebuild_replaces_syncs_and_inputs_redeploy() {
        let mut reb = rule("api", "/p/api", Action::Rebuild, None);
        reb.include = vec!["**/*.go".into(), "go.mod".into()];
        let w = watched(vec![
            reb,
            rule("api", "/p/api/static", Action::Sync, Some("/srv")),
            rule(
                "proxy",
                "/p/conf/nginx.conf",
                Action::SyncRestart,
                Some("/etc/nginx/nginx.conf"),
            ),
        ]);
        let b = w.plan(&[
            ch("/p/api/main.go", Kind::File),
            ch("/p/api/README.md", Kind::File),
            ch("/p/api/static/a.js", Kind::File),
            ch("/p/conf/nginx.conf", Kind::File),
            ch("/p/templates/nginx.conf.j2", Kind::File),
        ]);
        assert_eq!(b.work.len(), 2);
        assert_eq!(b.work[0].service, "api");
        assert_eq!(b.work[0].action(), "rebuild");
        assert_eq!(b.work[0].rebuild, [PathBuf::from("/p/api/main.go")]);
        assert!(b.work[0].copies.is_empty(), "the image has them");
        assert_eq!(b.work[1].action(), "sync+restart");
        assert_eq!(
            b.work[1].copies[0].to, "/etc/nginx/nginx.conf",
            "a file rule"
        );
        assert_eq!(b.work[1].signal.as_deref(), Some("HUP"));
        assert_eq!(b.redeploy, [PathBuf::from("/p/templates/nginx.conf.j2")]);
        assert_eq!(b.ignored, [PathBuf::from("/p/api/README.md")]);
    }

    #[test]
    fn what_cannot_be_applied_is_said() {
        let w = watched(vec![rule("web", "/p/web", Action::Sync, Some("/app"))]);
        let b = w.plan(&[ch("/p/web", Kind::Gone), ch("/p/web/fifo", Kind::Other)]);
        assert_eq!(b.refused.len(), 2);
        assert!(b.refused[0].1.contains("/app in the containers is left"));
        assert!(
            b.work.is_empty() || b.work[0].deletes.is_empty(),
            "never rm -rf the target"
        );
    }

    #[test]
    fn the_same_file_twice_is_copied_once() {
        let w = watched(vec![rule("web", "/p/web", Action::Sync, Some("/app/"))]);
        let b = w.plan(&[ch("/p/web/a", Kind::File), ch("/p/web/a", Kind::File)]);
        assert_eq!(b.work[0].copies.len(), 1);
        assert_eq!(b.work[0].copies[0].to, "/app/a");
    }

    #[test]
    fn full_sync_lists_the_rules_files() {
        let mut r = rule("web", "/p/web", Action::Sync, Some("/app"));
        r.ignore = vec!["*.log".into()];
        r.initial_sync = false;
        let w = watched(vec![r, rule("api", "/p/api", Action::Rebuild, None)]);
        let list = |_: &Path| {
            vec![
                ch("/p/web/a.py", Kind::File),
                ch("/p/web/x.log", Kind::File),
                ch("/p/web/sub", Kind::Dir),
            ]
        };
        assert!(
            w.full_sync("web", false, &list).copies.is_empty(),
            "no initial_sync"
        );
        let all = w.full_sync("web", true, &list);
        assert_eq!(all.copies.len(), 1);
        assert_eq!(all.copies[0].to, "/app/a.py");
        assert_eq!(w.syncing_services(), ["web"]);
    }

    #[test]
    fn editor_noise() {
        for n in [
            "4913",
            ".a.py.swp",
            "a.py~",
            ".#a.py",
            "#a.py#",
            "a.py___jb_tmp___",
        ] {
            assert!(is_editor_noise(n), "{n}");
        }
        for n in ["a.py", "swp", "index.html"] {
            assert!(!is_editor_noise(n), "{n}");
        }
    }
}

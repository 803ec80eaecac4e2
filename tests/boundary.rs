//! The structure the compiler does not check, checked over the sources:
//!
//! - only the seam's real implementation touches the OS: reading a file (`std::fs::read`,
//!   `File::open`, …) only in the contained reader and the writers; writing, removing, creating
//!   directories, starting a process or calling `libc` only in the real facts and effects and the
//!   writers they call. A new feature that reads or writes around them fails here.
//! - the top-level modules of `src/` (a folder counts as one) import each other in no circle, and
//!   the mechanisms (`swarm`, `certs`, `hosts`, `render`, …) never import `ops` or `commands`.
//!
//! Test code (`#[cfg(test)]` modules and files) is left out: tests make their fixtures freely.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file of `src/` that is not test code, with its text minus test modules, items
/// marked `#[cfg(test)]` and comments.
fn sources() -> Vec<(String, String)> {
    let root = src();
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    // files declared `#[cfg(test)] mod NAME;`
    let mut test_files = BTreeSet::new();
    for p in &files {
        let s = std::fs::read_to_string(p).unwrap();
        let dir = match p.file_name().and_then(|f| f.to_str()) {
            Some("mod.rs") | Some("lib.rs") | Some("main.rs") => p.parent().unwrap().to_path_buf(),
            _ => p.with_extension(""),
        };
        let mut rest = s.as_str();
        while let Some(i) = rest.find("#[cfg(") {
            let attr_end = rest[i..].find(']').map(|e| i + e + 1).unwrap_or(rest.len());
            let attr = &rest[i..attr_end];
            let test_only = attr == "#[cfg(test)]" || attr.starts_with("#[cfg(any(test,");
            let after = rest[attr_end..].trim_start();
            let decl = after
                .strip_prefix("pub(crate) ")
                .or_else(|| after.strip_prefix("pub "))
                .unwrap_or(after);
            if test_only && let Some(m) = decl.strip_prefix("mod ") {
                let name: String = m
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if m[name.len()..].trim_start().starts_with(';') {
                    test_files.insert(dir.join(format!("{name}.rs")));
                    test_files.insert(dir.join(&name).join("mod.rs"));
                }
            }
            rest = &rest[attr_end..];
        }
    }
    files
        .into_iter()
        .filter(|p| !test_files.contains(p))
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = strip(&std::fs::read_to_string(&p).unwrap());
            (rel, text)
        })
        .collect()
}

/// The text without comments, and without every item that follows `#[cfg(test)]` (a module,
/// a function: up to its matching closing brace).
fn strip(s: &str) -> String {
    let no_comments: String = s
        .lines()
        .map(|l| {
            // a `//` outside a string literal starts a comment (good enough for this code base:
            // a URL in a string keeps its line)
            let mut in_str = false;
            let mut prev = ' ';
            let mut cut = l.len();
            for (i, c) in l.char_indices() {
                if c == '"' && prev != '\\' {
                    in_str = !in_str;
                }
                if !in_str && c == '/' && prev == '/' {
                    cut = i - 1;
                    break;
                }
                prev = c;
            }
            format!("{}\n", &l[..cut])
        })
        .collect();
    let mut out = String::new();
    let mut rest = no_comments.as_str();
    let next_test_attr = |s: &str| -> Option<usize> {
        [s.find("#[cfg(test)]"), s.find("#[cfg(any(test,")]
            .into_iter()
            .flatten()
            .min()
    };
    while let Some(i) = next_test_attr(rest) {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        // the item: up to a `;` before any `{`, or to the `}` matching its first `{`
        let semi = after.find(';');
        let brace = after.find('{');
        let end = match (semi, brace) {
            (Some(s), Some(b)) if s < b => s + 1,
            (_, Some(b)) => {
                let mut depth = 0;
                let mut end = after.len();
                for (j, c) in after[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + j + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (Some(s), None) => s + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// What may touch the OS, and where.
struct Rule {
    what: &'static str,
    patterns: &'static [&'static str],
    allowed: &'static [&'static str],
}

/// The seam's real implementation: the real facts and effects, and what they call.
const REAL_FACTS: &str = "sys/real.rs";
const REAL_EFFECTS: &[&str] = &["exec/real.rs", "exec/ssh.rs", "exec/interrupt.rs"];

fn rules() -> Vec<Rule> {
    vec![
        Rule {
            what: "reads a file around the contained reader",
            patterns: &[
                "fs::read(",
                "fs::read_to_string",
                "File::open",
                "OpenOptions",
                "fs::read_dir",
                "fs::read_link",
            ],
            allowed: &[
                "contained.rs",
                REAL_FACTS,
                "exec/real.rs",
                "exec/ssh.rs",
                "fsutil.rs",
                "hosts/write.rs",
            ],
        },
        Rule {
            what: "changes the disk around the executor",
            patterns: &[
                "fs::write",
                "fs::remove_file",
                "fs::remove_dir",
                "fs::create_dir",
                "fs::rename",
                "fs::set_permissions",
                "fs::hard_link",
                "fs::copy",
                "fs::symlink(",
                "DirBuilder",
                "tempfile::",
                ".persist(",
                "lchown",
            ],
            allowed: &["exec/real.rs", "exec/ssh.rs", "fsutil.rs", "hosts/write.rs"],
        },
        Rule {
            what: "starts a process around the seam",
            patterns: &["Command::new", "process::Command"],
            allowed: &[REAL_FACTS, "exec/real.rs", "exec/ssh.rs"],
        },
        Rule {
            what: "calls libc around the seam",
            patterns: &["libc::"],
            allowed: &[
                REAL_FACTS,
                "exec/real.rs",
                "exec/ssh.rs",
                "exec/interrupt.rs",
                "contained.rs",
                "fsutil.rs",
                "hosts/write.rs",
            ],
        },
        Rule {
            what: "calls a writer the executor alone calls",
            patterns: &[
                "write_atomic",
                "fsutil::write_output",
                "update_planned",
                "write::update(",
                "sys::real::",
                "chown_to_invoking_user",
            ],
            allowed: &[
                "exec/real.rs",
                "exec/ssh.rs",
                "exec/interrupt.rs",
                "fsutil.rs",
                "hosts/write.rs",
            ],
        },
    ]
}

#[test]
fn only_the_seams_real_implementation_touches_the_os() {
    let mut found = Vec::new();
    let sources = sources();
    assert!(
        sources.iter().any(|(f, _)| f == "exec/mod.rs"),
        "the sources were read"
    );
    for (file, text) in &sources {
        for rule in rules() {
            if rule.allowed.contains(&file.as_str())
                || REAL_EFFECTS.contains(&file.as_str()) && rule.what.contains("disk")
            {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                for p in rule.patterns {
                    if line.contains(p) {
                        found.push(format!("src/{file}:{}: {} ({p})", n + 1, rule.what));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "only the seam's real implementation may touch the OS:\n{}",
        found.join("\n")
    );
}

/// The lint above is a real check: the text it reads holds what it looks for.
#[test]
fn the_lint_sees_what_it_looks_for() {
    let text = strip(
        "fn a() { std::fs::write(\"x\", \"y\"); } // std::fs::read(\"z\")\n#[cfg(test)]\nmod tests { fn b() { std::fs::read(\"q\"); } }\nfn c() {}\n",
    );
    assert!(text.contains("fs::write"));
    assert!(!text.contains("fs::read"), "{text}");
    assert!(text.contains("fn c()"));
}

/// The top-level module a file belongs to (`swarm` for `swarm/docker.rs`).
fn module_of(file: &str) -> String {
    let first = file.split('/').next().unwrap();
    first.trim_end_matches(".rs").to_string()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in sources() {
        let from = module_of(&file);
        let e = g.entry(from.clone()).or_default();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("crate::") {
            let name: String = rest[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != from && !["out", "outln"].contains(&name.as_str()) {
                e.insert(name);
            }
            rest = &rest[i + 7..];
        }
    }
    g
}

/// A circle through `start`, if there is one.
fn circle(g: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        g: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in g.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(g, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn the_top_level_modules_form_no_circle() {
    let g = graph();
    assert!(g.len() > 20, "the graph was read: {g:?}");
    assert!(g["ops"].contains("swarm"), "edges are seen: {:?}", g["ops"]);
    let circles: Vec<String> = g
        .keys()
        .filter_map(|m| circle(&g, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(circles.is_empty(), "circles:\n{}", circles.join("\n"));
}

#[test]
fn mechanisms_do_not_import_the_operations() {
    let g = graph();
    let mechanisms = [
        "adopt",
        "certs",
        "contained",
        "dns",
        "exec",
        "fsutil",
        "hosts",
        "live",
        "name",
        "paths",
        "platform",
        "probe",
        "profile",
        "render",
        "ssh",
        "stack",
        "state",
        "swarm",
        "sys",
    ];
    let mut wrong = Vec::new();
    for m in mechanisms {
        for up in ["ops", "commands", "cli"] {
            if g.get(m).is_some_and(|d| d.contains(up)) {
                wrong.push(format!("{m} imports {up}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(circle(&g, "a").unwrap(), ["a", "b", "c", "a"]);
    g.get_mut("c").unwrap().clear();
    assert_eq!(circle(&g, "a"), None);
}

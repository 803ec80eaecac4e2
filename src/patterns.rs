//! Path patterns as `.dockerignore` and compose's `develop.watch` (`ignore`, `include`) write
//! them: `/`-separated, relative to a directory, `*` and `?` within a name, `**` across names,
//! `!` to take a match back; a pattern that matches a directory matches everything below it.

use std::path::Path;

/// One pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    negate: bool,
    parts: Vec<String>,
}

/// A list of patterns; the last one that matches a path decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    rules: Vec<Rule>,
}

impl Patterns {
    /// One pattern per line; blank lines and `#` comments skipped (`.dockerignore`).
    pub fn parse(text: &str) -> Patterns {
        Patterns::from_list(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#')),
        )
    }

    pub fn from_list<'a>(list: impl IntoIterator<Item = &'a str>) -> Patterns {
        let rules = list
            .into_iter()
            .map(|l| {
                let (negate, p) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                Rule {
                    negate,
                    parts: p
                        .replace('\\', "/")
                        .trim_start_matches("./")
                        .trim_matches('/')
                        .split('/')
                        .filter(|s| !s.is_empty() && *s != ".")
                        .map(String::from)
                        .collect(),
                }
            })
            .collect();
        Patterns { rules }
    }

    /// The `.dockerignore` of a build context (none when it has none or it cannot be read),
    /// through the project's scope.
    pub fn dockerignore(scope: &crate::contained::Scope, context: &Path) -> Patterns {
        Patterns::parse(
            &scope
                .read_string(&context.join(".dockerignore"), 1 << 20)
                .unwrap_or_default(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether `rel` (`/`-separated, relative to the patterns' directory) matches.
    pub fn matches(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        let mut out = false;
        for r in &self.rules {
            if path_match(&r.parts, &parts) {
                out = !r.negate;
            }
        }
        out
    }
}

fn seg_match(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => seg_match(&pat[1..], s) || (!s.is_empty() && seg_match(pat, &s[1..])),
        (Some(b'?'), Some(_)) => seg_match(&pat[1..], &s[1..]),
        (Some(p), Some(c)) if p == c => seg_match(&pat[1..], &s[1..]),
        _ => false,
    }
}

/// Whether `parts` (a path's components) match the pattern, or lie below a match.
fn path_match(pat: &[String], parts: &[&str]) -> bool {
    match pat.first() {
        None => true, // the pattern matched a parent directory
        Some(p) if p == "**" => (0..=parts.len()).any(|i| path_match(&pat[1..], &parts[i..])),
        Some(p) => {
            !parts.is_empty()
                && seg_match(p.as_bytes(), parts[0].as_bytes())
                && path_match(&pat[1..], &parts[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        let p = |s: &str| Patterns::from_list([s]);
        assert!(p("**").matches("a/b"));
        assert!(p("**/*.pyc").matches("a/b/c.pyc"));
        assert!(
            p("**/*.go").matches("main.go"),
            "** matches no directory too"
        );
        assert!(p("build").matches("build/x/y"));
        assert!(!p("build").matches("src/build.rs"));
        assert!(p("src/*.tmp").matches("src/a.tmp"));
        assert!(!p("*.go").matches("sub/a.go"), "a name pattern is anchored");
        assert!(p("./node_modules/").matches("node_modules/x.js"));
        assert!(p("a\\b").matches("a/b"), "Windows separators");
    }

    #[test]
    fn last_match_wins() {
        let p = Patterns::parse("# comment\n*.log\n\n!keep.log\n");
        assert!(p.matches("debug.log"));
        assert!(!p.matches("keep.log"));
        assert!(!p.matches("a.txt"));
        assert!(!Patterns::default().matches("x"));
    }
}

//! Names that become paths or keys: a stack's services, networks, volumes, configs and secrets,
//! task names, and the files devenv writes into an output directory.
//!
//! A [`Name`] holds only what docker itself accepts for its kind — ASCII letters, digits and a
//! few separators, starting with a letter or digit — so it never holds `/`, `\`, `..`, a space
//! or a control character, and joining it to a directory never leaves the directory. A
//! [`RelPath`] is a relative path made of such names: the only kind of path an output
//! directory's manifest may list.

pub mod host;

use std::fmt;
use std::path::{Path, PathBuf};

/// What a name names (its rule is docker's for that kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A service: swarm names it `STACK_NAME`, a DNS label (letters, digits, `-`, `_` inside).
    Service,
    /// A network of the stack (`STACK_NAME`).
    Network,
    /// A named volume (`[A-Za-z0-9][A-Za-z0-9_.-]*`; in a stack it is prefixed with the stack's name,
    /// so docker's two-character minimum always holds).
    Volume,
    /// A config or secret key (`[A-Za-z0-9]` then `[A-Za-z0-9_.-]`, ending in a letter or digit).
    Object,
    /// A task of devenv.yaml.
    Task,
    /// One component of a file devenv writes.
    File,
}

impl Kind {
    pub fn what(self) -> &'static str {
        match self {
            Kind::Service => "service name",
            Kind::Network => "network name",
            Kind::Volume => "volume name",
            Kind::Object => "config or secret name",
            Kind::Task => "task name",
            Kind::File => "file name",
        }
    }

    /// What the rule allows, for hints.
    pub fn rule(self) -> &'static str {
        match self {
            Kind::Service | Kind::Network => {
                "letters, digits, `-` and `_`, starting and ending with a letter or digit, at most 63 characters"
            }
            Kind::Volume => {
                "letters, digits, `.`, `-` and `_`, starting with a letter or digit, at most 64 characters"
            }
            Kind::Object | Kind::Task | Kind::File => {
                "letters, digits, `.`, `-` and `_`, starting and ending with a letter or digit, at most 64 characters"
            }
        }
    }

    fn max(self) -> usize {
        match self {
            Kind::Service | Kind::Network => 63,
            _ => 64,
        }
    }
}

/// A validated name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Name(String);

/// Why a string is not a name of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {} `{}`: use {}", .kind.what(), .shown, .kind.rule())]
pub struct NameError {
    pub kind: Kind,
    /// The name as it was, escaped (a newline shows as `\n`).
    pub shown: String,
}

impl Name {
    pub fn new(kind: Kind, s: &str) -> Result<Name, NameError> {
        if valid(kind, s) {
            Ok(Name(s.to_string()))
        } else {
            Err(NameError {
                kind,
                shown: s.escape_debug().to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<Path> for Name {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, o: &str) -> bool {
        self.0 == o
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, o: &&str) -> bool {
        self.0 == *o
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, o: &String) -> bool {
        &self.0 == o
    }
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn valid(kind: Kind, s: &str) -> bool {
    if s.is_empty() || s.len() > kind.max() || !s.chars().next().is_some_and(alnum) {
        return false;
    }
    match kind {
        Kind::Service | Kind::Network => {
            s.chars().all(|c| alnum(c) || c == '-' || c == '_') && s.ends_with(alnum)
        }
        // a stack's volume `a` is docker's `STACK_a`: one character is a name
        Kind::Volume => s.chars().all(|c| alnum(c) || "_.-".contains(c)),
        Kind::Object | Kind::Task | Kind::File => {
            s.chars().all(|c| alnum(c) || "_.-".contains(c)) && s.ends_with(alnum)
        }
    }
}

/// A relative path of [`Name`]s (`stack.yml`, `configs/nginx.conf`): joined to a directory, it
/// stays inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(Vec<Name>);

impl RelPath {
    /// `a/b/c` (with `/` only): each part a file name.
    pub fn parse(s: &str) -> Result<RelPath, NameError> {
        let parts = s
            .split('/')
            .map(|p| Name::new(Kind::File, p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| NameError {
                kind: Kind::File,
                shown: s.escape_debug().to_string(),
            })?;
        Ok(RelPath(parts))
    }

    pub fn join(names: impl IntoIterator<Item = Name>) -> RelPath {
        let v: Vec<Name> = names.into_iter().collect();
        assert!(!v.is_empty(), "a path has at least one part");
        RelPath(v)
    }

    /// `/`-separated, as the manifest keeps it.
    pub fn as_key(&self) -> String {
        self.0
            .iter()
            .map(Name::as_str)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The path under `dir`.
    pub fn under(&self, dir: &Path) -> PathBuf {
        let mut p = dir.to_path_buf();
        for n in &self.0 {
            p.push(n.as_str());
        }
        p
    }

    /// The directories on the way (`configs` of `configs/x`), outermost first.
    pub fn parents(&self) -> Vec<RelPath> {
        (1..self.0.len())
            .map(|i| RelPath(self.0[..i].to_vec()))
            .collect()
    }

    pub fn to_path_buf(&self) -> PathBuf {
        self.under(Path::new(""))
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hold_only_what_docker_accepts() {
        for ok in ["web", "db-1", "a_b", "A9"] {
            assert!(Name::new(Kind::Service, ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-web",
            "web-",
            "a.b",
            "a/b",
            "..",
            ".",
            "a b",
            "a\nb",
            "é",
            "../x",
            "/etc/passwd",
            "x\nregistry: {prefix: attacker.example.com/loot}\n#",
        ] {
            assert!(Name::new(Kind::Service, bad).is_err(), "{bad:?}");
        }
        for ok in ["nginx.conf", "tls_cert", "a-b.c", "x1"] {
            assert!(Name::new(Kind::Object, ok).is_ok(), "{ok}");
        }
        for bad in [
            "..",
            ".",
            "a/b",
            "a\\b",
            "/home/me/victim.txt",
            "../../../../x",
            "x.",
            ".x",
            "a\0b",
        ] {
            let e = Name::new(Kind::Object, bad).unwrap_err();
            assert!(
                e.to_string().contains("invalid config or secret name"),
                "{e}"
            );
        }
        assert!(Name::new(Kind::Volume, "db.data").is_ok());
        assert!(
            Name::new(Kind::Volume, "d").is_ok(),
            "a stack prefixes it: STACK_d"
        );
        assert!(Name::new(Kind::Volume, ".d").is_err());
        assert!(Name::new(Kind::Object, &"a".repeat(65)).is_err());
        // the message shows a newline as `\n`, never a second line
        let e = Name::new(Kind::Service, "a\nb").unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn rel_paths_stay_inside() {
        let p = RelPath::parse("configs/nginx.conf").unwrap();
        assert_eq!(
            p.under(Path::new("/out")),
            PathBuf::from("/out/configs/nginx.conf")
        );
        assert_eq!(p.parents(), vec![RelPath::parse("configs").unwrap()]);
        for bad in [
            "",
            "/x",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "/home/me/victim2.txt",
            "a\\b",
            "c:x",
        ] {
            assert!(RelPath::parse(bad).is_err(), "{bad}");
        }
    }
}

//! `.devenv/`: the active profile, what was last deployed, recorded cluster ids, the secret-name
//! salt, rendered output. Machine-local and git-ignored. Writes are atomic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

pub const DIR: &str = ".devenv";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    #[serde(default)]
    pub active_profile: Option<String>,
    /// Swarm cluster id seen at the first deploy of a profile (the guard refuses another one later).
    #[serde(default)]
    pub cluster_ids: BTreeMap<String, String>,
    /// The last successful deploy per profile.
    #[serde(default)]
    pub deployed: BTreeMap<String, DeployRecord>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeployRecord {
    /// Hash of the stack file exactly as passed to `docker stack deploy`.
    pub stack_hash: String,
    pub stack_name: String,
    pub context: String,
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// Image reference → image id at deploy time.
    #[serde(default)]
    pub images: BTreeMap<String, String>,
    #[serde(default)]
    pub configs: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    /// RFC 3339.
    pub at: String,
}

pub fn dir(root: &Path) -> PathBuf {
    root.join(DIR)
}

pub fn path(root: &Path) -> PathBuf {
    dir(root).join("state.json")
}

pub fn rendered_dir(root: &Path, profile: &str) -> PathBuf {
    dir(root).join("rendered").join(profile)
}

impl State {
    pub fn load(root: &Path) -> anyhow::Result<State> {
        let p = path(root);
        match std::fs::read_to_string(&p) {
            Ok(s) => serde_json::from_str(&s).map_err(|e| {
                ConfigError::new(&p, format!("corrupt state file: {e}"))
                    .at(&s, e.line(), e.column())
                    .hint(format!(
                        "it only holds machine-local state; remove it (`rm {}`) and run `devenv switch PROFILE`",
                        crate::error::display_path(&p)
                    ))
                    .into()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", p.display())),
        }
    }

    pub fn save(&self, root: &Path) -> anyhow::Result<()> {
        ensure_dir(root)?;
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        crate::fsutil::write_atomic(&path(root), s.as_bytes(), None)?;
        Ok(())
    }
}

/// Creates `.devenv/` with a `.gitignore` of its own, so it never ends up in a commit.
pub fn ensure_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let d = dir(root);
    std::fs::create_dir_all(&d)?;
    let gi = d.join(".gitignore");
    if !gi.exists() {
        crate::fsutil::write_atomic(&gi, b"*\n", None)?;
    }
    Ok(d)
}

/// The per-project key for secret object names (created on first use, mode 0600).
pub fn salt(root: &Path) -> anyhow::Result<Vec<u8>> {
    let p = dir(root).join("salt");
    match std::fs::read(&p) {
        Ok(s) if s.len() >= 16 => Ok(s),
        _ => {
            ensure_dir(root)?;
            let s = crate::hash::hex(&crate::hash::random_bytes(32)).into_bytes();
            crate::fsutil::write_atomic(&p, &s, Some(0o600))?;
            Ok(s)
        }
    }
}

/// The salt, if it was created before.
pub fn existing_salt(root: &Path) -> Option<Vec<u8>> {
    std::fs::read(dir(root).join("salt"))
        .ok()
        .filter(|s| s.len() >= 16)
}

/// The salt if it exists, without creating it (for read-only commands).
pub fn salt_if_present(root: &Path) -> Vec<u8> {
    std::fs::read(dir(root).join("salt")).unwrap_or_else(|_| b"devenv-no-salt-yet".to_vec())
}

/// An exclusive lock on the project's state, held while a command changes things.
pub struct ProjectLock {
    _file: std::fs::File,
}

pub fn lock(root: &Path) -> anyhow::Result<ProjectLock> {
    ensure_dir(root)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir(root).join("lock"))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            crate::ui::info("waiting for another devenv command in this project to finish...");
            f.lock()?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
    }
    Ok(ProjectLock { _file: f })
}

/// The project lock for a command that changes things; none for a dry run, which changes nothing
/// (and must not create `.devenv/` either).
pub fn lock_unless_dry_run(root: &Path, dry_run: bool) -> anyhow::Result<Option<ProjectLock>> {
    if dry_run {
        Ok(None)
    } else {
        lock(root).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let mut s = State::default();
        assert_eq!(State::load(d.path()).unwrap(), s);
        s.active_profile = Some("local".into());
        s.save(d.path()).unwrap();
        assert_eq!(State::load(d.path()).unwrap(), s);
        assert!(d.path().join(".devenv/.gitignore").exists());
        std::fs::write(d.path().join(".devenv/state.json"), "{nope").unwrap();
        let e = State::load(d.path()).unwrap_err();
        assert!(e.to_string().contains("corrupt state file"), "{e}");
    }

    #[test]
    fn salt_is_stable() {
        let d = tempfile::tempdir().unwrap();
        let a = salt(d.path()).unwrap();
        assert_eq!(a, salt(d.path()).unwrap());
        assert_eq!(a.len(), 64);
    }
}

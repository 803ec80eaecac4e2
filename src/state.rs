//! `.devenv/`: the active profile, what was last deployed, recorded cluster ids, the secret-name
//! salt, rendered output. Machine-local and git-ignored. Read here; written by the operations
//! through the executor.

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
    /// Task runs per profile, then task name.
    #[serde(default)]
    pub tasks: BTreeMap<String, BTreeMap<String, TaskRecord>>,
    /// The notes `up` or `switch` last said per profile (their short hashes): the same note is
    /// said once, then counted.
    #[serde(default)]
    pub notes_seen: BTreeMap<String, Vec<String>>,
}

/// What devenv remembers of a task: its last run and its last success.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskRecord {
    /// RFC 3339 time of the last run, and its exit code (`None`: it timed out).
    pub last_run: String,
    pub last_exit: Option<i32>,
    /// The last successful run: when, on which swarm, with which image of the service.
    #[serde(default)]
    pub ok_at: Option<String>,
    #[serde(default)]
    pub ok_cluster_id: Option<String>,
    #[serde(default)]
    pub ok_image: Option<String>,
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

/// The largest state file devenv reads back.
pub const MAX_STATE_BYTES: u64 = 4 << 20;

impl State {
    /// `.devenv/state.json`, read through the project's scope: a FIFO, a device or a symlink out
    /// of the project is refused (and never opened), whatever a cloned project planted there.
    pub fn load(root: &Path) -> anyhow::Result<State> {
        let p = path(root);
        let scope = crate::contained::Scope::project(root);
        match scope.read(&p, MAX_STATE_BYTES) {
            Ok(b) => {
                let s = String::from_utf8_lossy(&b);
                serde_json::from_str(&s).map_err(|e| {
                    ConfigError::new(&p, format!("corrupt state file: {e}"))
                        .at(&s, e.line(), e.column())
                        .hint(format!(
                            "it only holds machine-local state; remove it (`rm {}`) and run `devenv switch PROFILE`",
                            crate::error::display_path(&p)
                        ))
                        .into()
                })
            }
            Err(crate::contained::ReadError::NotFound { .. }) => Ok(State::default()),
            Err(e) => Err(ConfigError::new(&p, format!("cannot read devenv's state: {e}"))
                .hint(format!(
                    "`.devenv/` holds only machine-local state: remove what is there (`rm -r {}`) and run `devenv switch PROFILE`",
                    crate::error::display_path(&dir(root))
                ))
                .into()),
        }
    }
}

/// The salt's file, through the project's scope (`None`: there is none yet, or it is not a file
/// devenv could have written).
fn read_salt(root: &Path) -> Option<Vec<u8>> {
    crate::contained::Scope::project(root)
        .read(&dir(root).join("salt"), 4096)
        .ok()
}

/// The salt, if it was created before.
pub fn existing_salt(root: &Path) -> Option<Vec<u8>> {
    read_salt(root).filter(|s| s.len() >= 16)
}

/// The salt if it exists, without creating it (for read-only commands).
pub fn salt_if_present(root: &Path) -> Vec<u8> {
    read_salt(root).unwrap_or_else(|| b"devenv-no-salt-yet".to_vec())
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
        std::fs::create_dir_all(dir(d.path())).unwrap();
        std::fs::write(path(d.path()), serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(State::load(d.path()).unwrap(), s);
        std::fs::write(d.path().join(".devenv/state.json"), "{nope").unwrap();
        let e = State::load(d.path()).unwrap_err();
        assert!(e.to_string().contains("corrupt state file"), "{e}");
    }
}

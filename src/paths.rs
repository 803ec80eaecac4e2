//! Per-user locations, and who the user is when devenv runs under `sudo`.

use std::path::PathBuf;

use crate::platform::Os;
use crate::sys::Facts;

/// The user devenv works for: the one who ran `sudo devenv ...`, or the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub home: PathBuf,
    /// Set when running as root on behalf of another user (`SUDO_UID`/`SUDO_GID`).
    pub ids: Option<(u32, u32)>,
}

/// The invoking user (resolving `SUDO_USER` when we are root under sudo), from what `sys` says
/// of the environment.
pub fn invoking_user(sys: &dyn Facts) -> User {
    if sys.platform().os != Os::Windows
        && sys.is_admin()
        && let (Some(name), Some(uid), Some(gid)) = (
            sys.var("SUDO_USER"),
            sys.var("SUDO_UID").and_then(|s| s.parse::<u32>().ok()),
            sys.var("SUDO_GID").and_then(|s| s.parse::<u32>().ok()),
        )
        && uid != 0
        && let Some(home) = sys.home_of(uid)
    {
        return User {
            name,
            home,
            ids: Some((uid, gid)),
        };
    }
    let home = sys
        .var("HOME")
        .or_else(|| sys.var("USERPROFILE"))
        .map(PathBuf::from)
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| PathBuf::from("."));
    User {
        name: sys
            .var("USER")
            .or_else(|| sys.var("USERNAME"))
            .unwrap_or_else(|| "user".into()),
        home,
        ids: None,
    }
}

/// devenv's per-user data directory (`DEVENV_DATA_DIR` overrides): `~/.local/share/devenv`
/// (or `$XDG_DATA_HOME/devenv`), `~/Library/Application Support/devenv`, `%LOCALAPPDATA%\devenv`
/// — under sudo, the invoking user's, not root's.
pub fn data_dir(sys: &dyn Facts) -> PathBuf {
    if let Some(d) = sys.var("DEVENV_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let u = invoking_user(sys);
    if u.ids.is_some() {
        return u.home.join(".local/share/devenv");
    }
    match sys.platform().os {
        Os::Windows => sys
            .var("LOCALAPPDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| u.home.join("AppData").join("Local"))
            .join("devenv"),
        Os::MacOs => u.home.join("Library/Application Support/devenv"),
        Os::Linux => sys
            .var("XDG_DATA_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| u.home.join(".local/share"))
            .join("devenv"),
    }
}

//! Per-user locations, and who the user is when devenv runs under `sudo`.

use std::path::PathBuf;

use crate::platform::Os;
use crate::sys::Sys;

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
pub fn invoking_user(sys: &dyn Sys) -> User {
    #[cfg(unix)]
    if sys.is_admin()
        && let (Some(name), Some(uid), Some(gid)) = (
            sys.var("SUDO_USER"),
            sys.var("SUDO_UID").and_then(|s| s.parse::<u32>().ok()),
            sys.var("SUDO_GID").and_then(|s| s.parse::<u32>().ok()),
        )
        && uid != 0
        && let Some(home) = home_of(uid)
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

#[cfg(unix)]
fn home_of(uid: u32) -> Option<PathBuf> {
    use std::ffi::CStr;
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buffers are valid for the given length; result is checked before use.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into buf, NUL-terminated by getpwuid_r.
    let dir = unsafe { CStr::from_ptr(pwd.pw_dir) };
    Some(PathBuf::from(dir.to_string_lossy().into_owned()))
}

/// devenv's per-user data directory (`DEVENV_DATA_DIR` overrides): `~/.local/share/devenv`
/// (or `$XDG_DATA_HOME/devenv`), `~/Library/Application Support/devenv`, `%LOCALAPPDATA%\devenv`
/// — under sudo, the invoking user's, not root's.
pub fn data_dir(sys: &dyn Sys) -> PathBuf {
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

/// Gives a path created as root under sudo back to the invoking user.
pub fn chown_to_invoking_user(path: &std::path::Path) {
    #[cfg(unix)]
    if let Some((uid, gid)) = invoking_user(&crate::sys::RealSys).ids {
        use std::os::unix::ffi::OsStrExt;
        if let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) {
            // SAFETY: c is a valid NUL-terminated path.
            unsafe {
                libc::lchown(c.as_ptr(), uid, gid);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Under WSL the Windows side has its own hosts file and certificate store.
pub fn is_wsl() -> bool {
    cfg!(target_os = "linux")
        && (std::path::Path::new("/proc/sys/fs/binfmt_misc/WSLInterop").exists()
            || crate::contained::read_machine_file(
                std::path::Path::new("/proc/sys/kernel/osrelease"),
                4096,
            )
            .is_ok_and(|s| {
                String::from_utf8_lossy(&s)
                    .to_ascii_lowercase()
                    .contains("microsoft")
            }))
}

//! Which operating system devenv serves, decided at run time so every backend is compiled and
//! unit-tested everywhere.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Linux,
    MacOs,
    Windows,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Platform {
    pub os: Os,
    /// Linux under WSL: the Windows side (its hosts file, its certificate store) matters too.
    pub wsl: bool,
}

impl Platform {
    pub fn current() -> Platform {
        let os = if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        };
        Platform {
            os,
            wsl: os == Os::Linux && is_wsl(),
        }
    }

    pub fn linux() -> Platform {
        Platform {
            os: Os::Linux,
            wsl: false,
        }
    }
    pub fn macos() -> Platform {
        Platform {
            os: Os::MacOs,
            wsl: false,
        }
    }
    pub fn windows() -> Platform {
        Platform {
            os: Os::Windows,
            wsl: false,
        }
    }
    pub fn wsl() -> Platform {
        Platform {
            os: Os::Linux,
            wsl: true,
        }
    }
}

/// A path on the OS devenv serves, which in a unit test is often not the OS it was built for:
/// kept as text with that OS's separator, so macOS's `/Users/me` + `Library/Keychains` is
/// `/Users/me/Library/Keychains` in a Windows build too, and Windows' `C:\Users\me` +
/// `AppData/Roaming` is `C:\Users\me\AppData\Roaming` in a Linux build. Relative parts are written
/// with `/` and get the target's separator; [`OsPath::path`] hands the text to the seam.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OsPath {
    os: Os,
    path: String,
}

impl OsPath {
    pub fn new(os: Os, path: impl Into<String>) -> OsPath {
        let path = path.into();
        let path = match os {
            Os::Windows => path.replace('/', "\\"),
            _ => path,
        };
        OsPath { os, path }
    }

    pub fn os(&self) -> Os {
        self.os
    }

    pub fn separator(&self) -> char {
        match self.os {
            Os::Windows => '\\',
            _ => '/',
        }
    }

    /// Whether `s` is absolute on `os` (`/x`; on Windows `C:\x` or `\\server\share`).
    pub fn is_absolute_on(os: Os, s: &str) -> bool {
        match os {
            Os::Windows => {
                let b = s.as_bytes();
                (b.len() >= 3 && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
                    || s.starts_with("\\\\")
            }
            _ => s.starts_with('/'),
        }
    }

    /// `rel` below this path (an absolute `rel` replaces it, as with `Path::join`).
    pub fn join(&self, rel: &str) -> OsPath {
        if OsPath::is_absolute_on(self.os, rel) {
            return OsPath::new(self.os, rel);
        }
        let sep = self.separator();
        let rel: String = rel
            .chars()
            .map(|c| if c == '/' || c == '\\' { sep } else { c })
            .collect();
        let base = self.path.trim_end_matches(sep);
        OsPath {
            os: self.os,
            path: format!("{base}{sep}{}", rel.trim_start_matches(sep)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.path
            .trim_end_matches(self.separator())
            .rsplit(self.separator())
            .next()
            .unwrap_or("")
    }

    /// The path for the seam (a real path when the target is this machine).
    pub fn path(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(&self.path)
    }
}

impl std::fmt::Display for OsPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)
    }
}

impl serde::Serialize for OsPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_os_paths_follow_that_os() {
        let mac = OsPath::new(Os::MacOs, "/Users/me");
        assert_eq!(
            mac.join("Library/Keychains/login.keychain-db").as_str(),
            "/Users/me/Library/Keychains/login.keychain-db"
        );
        let win = OsPath::new(Os::Windows, r"C:\Users\me\");
        assert_eq!(
            win.join("AppData/Roaming/Mozilla/Firefox").as_str(),
            r"C:\Users\me\AppData\Roaming\Mozilla\Firefox"
        );
        assert_eq!(win.join(r"Profiles\w.default").file_name(), "w.default");
        assert_eq!(win.join(r"D:\ff\work").as_str(), r"D:\ff\work");
        assert_eq!(
            OsPath::new(Os::Linux, "/home/me").join("/data/ff").as_str(),
            "/data/ff"
        );
        assert!(OsPath::is_absolute_on(
            Os::Windows,
            r"\\wsl.localhost\Ubuntu"
        ));
        assert!(!OsPath::is_absolute_on(Os::Windows, "/home/me"));
    }
}

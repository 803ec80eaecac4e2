//! Which operating system devenv serves, decided at run time so every backend is compiled and
//! unit-tested everywhere.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Linux,
    MacOs,
    Windows,
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
            wsl: os == Os::Linux && crate::paths::is_wsl(),
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

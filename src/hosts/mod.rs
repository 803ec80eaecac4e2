pub mod validate;

use std::path::PathBuf;

/// The system hosts file: `%SystemRoot%\System32\drivers\etc\hosts` on Windows, `/etc/hosts` elsewhere.
pub fn system_hosts_path() -> PathBuf {
    if cfg!(windows) {
        let root = std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\Windows".to_string());
        PathBuf::from(root).join(r"System32\drivers\etc\hosts")
    } else {
        PathBuf::from("/etc/hosts")
    }
}

//! The local CA, leaf certificates and trust stores.

pub mod ca;
pub mod issue;
pub mod leaf;
pub mod trust;

use std::path::{Path, PathBuf};

/// Where a profile's leaf certificate and key live in the project: `certs/PROFILE.crt|.key`.
pub fn leaf_paths(root: &Path, profile: &str) -> (PathBuf, PathBuf) {
    let d = root.join("certs");
    (
        d.join(format!("{profile}.crt")),
        d.join(format!("{profile}.key")),
    )
}

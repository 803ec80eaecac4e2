//! The local CA, leaf certificates and trust stores.

pub mod ca;
pub mod issue;
pub mod leaf;
pub mod trust;

pub use crate::profile::leaf_paths;

/// This machine's public CAs as one PEM file (the system store where the OS keeps one), read
/// through the contained reader; `None` where it keeps none (Windows) or it cannot be read.
pub fn system_bundle() -> Option<String> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
        "/usr/local/etc/openssl/cert.pem",
        "/opt/homebrew/etc/openssl@3/cert.pem",
    ]
    .iter()
    .map(std::path::Path::new)
    .filter(|p| p.is_file())
    .find_map(|p| crate::contained::read_machine_file(p, 64 << 20).ok())
    .and_then(|b| String::from_utf8(b).ok())
}

//! devenv's CA inside the stack: in a `tls: local-ca` profile every service (or the profile's
//! `trust:` list) gets two configs, mounted read-only —
//!
//! - [`CA_PATH`]: devenv's CA alone, for runtimes that add one file to their own roots (Node's
//!   `NODE_EXTRA_CA_CERTS`, Deno's `DENO_CERT`);
//! - [`BUNDLE_PATH`]: the public CAs (this machine's system store, or Mozilla's list where the
//!   machine has no PEM store, as on Windows) followed by devenv's, for runtimes that take one
//!   file instead of their roots (OpenSSL, Go, Python, curl, git…) —
//!
//! and the environment those runtimes read ([`ENV`]), unless the service sets it itself. Both
//! configs are named by their content, so a new CA is a new config and the services roll.

use serde_yaml_ng::{Mapping, Value};

use crate::profile::Profile;

/// The config holding devenv's CA.
pub const CA: &str = "devenv_ca";
/// The config holding the public CAs and devenv's.
pub const BUNDLE: &str = "devenv_ca_bundle";
pub const CA_PATH: &str = "/etc/devenv/ca.pem";
pub const BUNDLE_PATH: &str = "/etc/devenv/ca-bundle.pem";

/// Which file a variable names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    Ca,
    Bundle,
}

/// The variables set in each trusting service, the file each names, and who reads it.
pub const ENV: &[(&str, File, &str)] = &[
    (
        "SSL_CERT_FILE",
        File::Bundle,
        "OpenSSL (Python's ssl and httpx, Ruby, PHP, .NET on Linux), Go's crypto/x509, rustls-native-certs",
    ),
    (
        "REQUESTS_CA_BUNDLE",
        File::Bundle,
        "Python requests (and pip)",
    ),
    ("CURL_CA_BUNDLE", File::Bundle, "the curl command"),
    ("GIT_SSL_CAINFO", File::Bundle, "git"),
    ("AWS_CA_BUNDLE", File::Bundle, "the AWS SDKs and CLI"),
    (
        "NODE_EXTRA_CA_CERTS",
        File::Ca,
        "Node.js (added to its own roots)",
    ),
    ("DENO_CERT", File::Ca, "Deno (added to its own roots)"),
];

/// The largest system store used as it is (a swarm config holds at most 500 KB).
const MAX_PUBLIC: usize = 400 << 10;

/// The public CAs when this machine has no PEM store: Mozilla's list, as PEM.
pub fn mozilla_roots() -> String {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| pem::encode(&pem::Pem::new("CERTIFICATE", der.as_ref().to_vec())))
        .collect()
}

/// The bundle: `public` (PEM, the machine's store) or Mozilla's roots, then devenv's CA.
pub fn bundle(public: Option<&str>, ca_pem: &str) -> String {
    let mut s = match public {
        // a swarm config holds at most 500 KB
        Some(p) if p.contains("BEGIN CERTIFICATE") && p.len() < MAX_PUBLIC => p.to_string(),
        _ => mozilla_roots(),
    };
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str("# devenv's local CA\n");
    s.push_str(ca_pem);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The services of `doc` that get the CA: the profile's `trust:` (all by default), never the
/// edge. A listed service the stack lacks is an error at its place in the profile.
pub fn services(
    doc: &Mapping,
    profile: &Profile,
) -> Result<Vec<String>, crate::error::ConfigError> {
    let names = super::service_names(doc);
    if let crate::profile::Trust::Services(list) = &profile.file.trust {
        for s in list {
            if !names.contains(s) {
                let mut e = profile.error_at(s, format!("trust: the stack has no service `{s}`"));
                if let Some(d) = crate::error::did_you_mean(s, names.iter().map(String::as_str)) {
                    e = e.hint(format!("did you mean `{d}`?"));
                }
                return Err(e);
            }
        }
    }
    Ok(names
        .into_iter()
        .filter(|n| n != super::edge::SERVICE && profile.file.trust.includes(n))
        .collect())
}

fn k(s: &str) -> Value {
    Value::String(s.to_string())
}

/// Mounts the two configs in `service` and sets the variables it does not set itself.
pub fn add(doc: &mut Mapping, service: &str) {
    let Some(Value::Mapping(svcs)) = doc.get_mut("services") else {
        return;
    };
    let Some(Value::Mapping(svc)) = svcs.get_mut(service) else {
        return;
    };
    let configs = svc
        .entry(k("configs"))
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if let Value::Sequence(list) = configs {
        for (source, target) in [(CA, CA_PATH), (BUNDLE, BUNDLE_PATH)] {
            let mut m = Mapping::new();
            m.insert(k("source"), k(source));
            m.insert(k("target"), k(target));
            list.push(Value::Mapping(m));
        }
    }
    let env = svc
        .entry(k("environment"))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    for (var, file, _) in ENV {
        let path = match file {
            File::Ca => CA_PATH,
            File::Bundle => BUNDLE_PATH,
        };
        match &mut *env {
            Value::Mapping(m) => {
                if !m.contains_key(*var) {
                    m.insert(k(var), k(path));
                }
            }
            Value::Sequence(list) => {
                let set = list.iter().any(|e| {
                    e.as_str()
                        .is_some_and(|s| s == *var || s.starts_with(&format!("{var}=")))
                });
                if !set {
                    list.push(k(&format!("{var}={path}")));
                }
            }
            other => {
                let mut m = Mapping::new();
                m.insert(k(var), k(path));
                *other = Value::Mapping(m);
            }
        }
    }
}

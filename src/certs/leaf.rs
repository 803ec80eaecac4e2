//! Leaf certificates for a profile: ECDSA P-256, digitalSignature + serverAuth, subjectAltNames
//! only (every profile host, the domain and its wildcard where allowed, localhost, 127.0.0.1, ::1),
//! authority key id, random serial, valid 397 days. Re-issued when fewer than 30 days remain, when
//! the names change or when the CA changed. Kept in the project's `certs/` (key mode 0600).

use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, DistinguishedName, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::ca::{Ca, CertInfo, inspect, signed_by};
use crate::profile::Profile;

pub const LEAF_VALIDITY_DAYS: i64 = 397;
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// The names a profile's leaf must carry, in a stable order.
pub fn desired_names(profile: &Profile) -> anyhow::Result<Vec<String>> {
    let mut v: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !v.contains(&s) {
            v.push(s);
        }
    };
    let domain = crate::name::host::normalize_name(&profile.file.domain)
        .map_err(|e| profile.error_at(&profile.file.domain, format!("domain: {e}")))?;
    add(domain.clone());
    for h in profile.host_names()? {
        add(h);
    }
    // a wildcard for the domain's subdomains, unless it would cover a whole TLD
    if domain.matches('.').count() >= 1 {
        add(format!("*.{domain}"));
    }
    add("localhost".into());
    add("127.0.0.1".into());
    add("::1".into());
    Ok(v)
}

/// Why a leaf needs issuing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    Missing,
    Expiring {
        days_left: i64,
    },
    NamesChanged {
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// Valid only from a moment in the future (a clock that was ahead, or a planted file).
    NotYetValid {
        starts_in_days: i64,
    },
    OtherCa,
    KeyMismatch,
    Unreadable(String),
    Forced,
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Missing => write!(f, "no certificate yet"),
            Need::Expiring { days_left } if *days_left < 0 => {
                write!(f, "expired {} days ago", -days_left)
            }
            Need::Expiring { days_left } => write!(f, "expires in {days_left} days"),
            Need::NamesChanged { added, removed } => {
                let mut parts = Vec::new();
                if !added.is_empty() {
                    parts.push(format!("new names {}", added.join(", ")));
                }
                if !removed.is_empty() {
                    parts.push(format!("dropped names {}", removed.join(", ")));
                }
                write!(f, "{}", parts.join("; "))
            }
            Need::NotYetValid { starts_in_days } => write!(
                f,
                "not valid yet (its validity starts in {starts_in_days} days)"
            ),
            Need::OtherCa => write!(f, "issued by another CA"),
            Need::KeyMismatch => write!(f, "the key does not match the certificate"),
            Need::Unreadable(e) => write!(f, "unreadable ({e})"),
            Need::Forced => write!(f, "--force"),
        }
    }
}

/// A leaf on disk.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub info: CertInfo,
}

/// Reads the leaf at `paths`; `Err(Need)` says why it must be (re-)issued.
pub fn check(
    scope: &crate::contained::Scope,
    ca: &Ca,
    cert: &Path,
    key: &Path,
    names: &[String],
    now: i64,
) -> Result<Leaf, Need> {
    if !cert.exists() || !key.exists() {
        return Err(Need::Missing);
    }
    let pem = scope
        .read(cert, super::ca::MAX_PEM_BYTES)
        .map_err(|e| Need::Unreadable(e.to_string()))?;
    let (_, p) =
        x509_parser::pem::parse_x509_pem(&pem).map_err(|e| Need::Unreadable(e.to_string()))?;
    let info = inspect(&p.contents).map_err(Need::Unreadable)?;
    if !signed_by(&p.contents, ca) {
        return Err(Need::OtherCa);
    }
    let key_pem = scope
        .read_string(key, super::ca::MAX_PEM_BYTES)
        .map_err(|e| Need::Unreadable(e.to_string()))?;
    let kp = KeyPair::from_pem(&key_pem).map_err(|e| Need::Unreadable(e.to_string()))?;
    if rcgen::PublicKeyData::subject_public_key_info(&kp) != info.spki {
        return Err(Need::KeyMismatch);
    }
    let added: Vec<String> = names
        .iter()
        .filter(|n| !info.sans.contains(n))
        .cloned()
        .collect();
    let removed: Vec<String> = info
        .sans
        .iter()
        .filter(|n| !names.contains(n))
        .cloned()
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        return Err(Need::NamesChanged { added, removed });
    }
    // a few minutes of clock skew between machines are normal; more is a certificate that
    // browsers refuse today
    if info.not_before > now + 300 {
        return Err(Need::NotYetValid {
            starts_in_days: (info.not_before - now).div_euclid(86400),
        });
    }
    let days_left = (info.not_after - now).div_euclid(86400);
    if days_left < RENEW_BEFORE_DAYS {
        return Err(Need::Expiring { days_left });
    }
    Ok(Leaf {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        info,
    })
}

/// Refuses names the CA may not sign, with the command that fixes it.
pub fn check_constraints(ca: &Ca, profile: &Profile, names: &[String]) -> anyhow::Result<()> {
    let outside: Vec<&String> = names.iter().filter(|n| !ca.permits(n)).collect();
    if outside.is_empty() {
        return Ok(());
    }
    let permitted = ca.permitted.clone().unwrap_or_default().join(", ");
    let first = outside[0].trim_start_matches("*.");
    // suggest the profile's domain when the name is in it (never a whole top-level domain)
    let domain = profile.file.domain.to_ascii_lowercase();
    let suffix = if first == domain || first.ends_with(&format!(".{domain}")) {
        domain.as_str()
    } else {
        first
    };
    let mut e = profile.error_at(
        first,
        format!(
            "{} outside the names devenv's CA may sign ({permitted})",
            outside
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
                + if outside.len() == 1 { " is" } else { " are" }
        ),
    );
    e = e.hint(format!(
        "the CA is name-constrained so its key can never impersonate real sites. Use a .test name, or allow \
         this suffix with `devenv certs rotate --permit {suffix}` (a new CA, trusted again)"
    ));
    Err(e.into())
}

/// A leaf signed by `ca`, in memory: its certificate and key (PEM) and what it says.
#[derive(Debug, Clone)]
pub struct Minted {
    pub cert_pem: String,
    pub key_pem: String,
    pub info: CertInfo,
}

/// Mints a leaf for `names`: ECDSA P-256, SANs only, serverAuth, 397 days, random serial.
pub fn mint(ca: &Ca, names: &[String]) -> anyhow::Result<Minted> {
    let ca_key = ca.key_pair()?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", ca.cert_path().display()))?;
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut p = CertificateParams::default();
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = p.not_before + Duration::days(LEAF_VALIDITY_DAYS);
    let mut serial = crate::hash::random_bytes(16);
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.distinguished_name = DistinguishedName::new(); // SANs only
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(n.as_str().try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    let c = p.signed_by(&leaf_key, &issuer)?;
    Ok(Minted {
        cert_pem: c.pem(),
        key_pem: leaf_key.serialize_pem(),
        info: inspect(c.der()).map_err(|e| anyhow::anyhow!(e))?,
    })
}

/// Issues a leaf for `names`, writing the key (0600) then the certificate at once: for tests.
/// devenv itself mints leaves in a plan ([`mint`]) and writes them through the executor
/// ([`crate::certs::issue::apply`]).
#[cfg(test)]
pub fn issue(ca: &Ca, names: &[String], cert: &Path, key: &Path) -> anyhow::Result<Leaf> {
    use crate::error::UserError;
    let m = mint(ca, names)?;
    let dir = cert.parent().unwrap_or(Path::new("."));
    let io = |what: &Path, e: std::io::Error| -> anyhow::Error {
        UserError::new(format!("cannot write {}: {e}", what.display()))
            .hint(format!("make {} writable by you", dir.display()))
            .into()
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    crate::fsutil::write_atomic(key, m.key_pem.as_bytes(), Some(0o600)).map_err(|e| io(key, e))?;
    crate::fsutil::write_atomic(cert, m.cert_pem.as_bytes(), Some(0o644))
        .map_err(|e| io(cert, e))?;
    Ok(Leaf {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        info: m.info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::ca::Ca;

    #[test]
    fn issue_and_check() {
        let d = tempfile::tempdir().unwrap();
        let ca = Ca::create(&d.path().join("ca"), &[], false).unwrap();
        let names: Vec<String> = [
            "myblog.test",
            "api.myblog.test",
            "*.myblog.test",
            "localhost",
            "127.0.0.1",
            "::1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (crt, key) = (
            d.path().join("certs/local.crt"),
            d.path().join("certs/local.key"),
        );
        let sc = crate::contained::Scope::project(d.path());
        assert_eq!(
            check(&sc, &ca, &crt, &key, &names, 0).unwrap_err(),
            Need::Missing
        );
        let leaf = issue(&ca, &names, &crt, &key).unwrap();
        assert_eq!(leaf.info.sans, names);
        assert!(!leaf.info.is_ca);
        assert_eq!(
            leaf.info.aki,
            inspect(&ca.der).unwrap().ski,
            "authority key id = CA's subject key id"
        );
        assert!(
            leaf.info.subject.is_empty(),
            "SANs only: {}",
            leaf.info.subject
        );
        let span = leaf.info.not_after - leaf.info.not_before;
        assert!(span <= LEAF_VALIDITY_DAYS * 86400, "{span}");
        #[cfg(unix)]
        assert_eq!(crate::fsutil::mode_of(&key), Some(0o600));
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(check(&sc, &ca, &crt, &key, &names, now).is_ok());
        // near expiry
        let late = leaf.info.not_after - 10 * 86400;
        assert!(matches!(
            check(&sc, &ca, &crt, &key, &names, late),
            Err(Need::Expiring { days_left: 10 })
        ));
        // issued in the future (as a clock that ran ahead would): re-issued, not "ok"
        let before = leaf.info.not_before - 2 * 86400;
        assert!(matches!(
            check(&sc, &ca, &crt, &key, &names, before),
            Err(Need::NotYetValid { starts_in_days: 2 })
        ));
        // names changed
        let fewer = &names[..5];
        assert!(matches!(
            check(&sc, &ca, &crt, &key, fewer, now),
            Err(Need::NamesChanged { .. })
        ));
        // another CA
        let other = Ca::create(&d.path().join("ca2"), &[], false).unwrap();
        assert_eq!(
            check(&sc, &other, &crt, &key, &names, now).unwrap_err(),
            Need::OtherCa
        );
        // key replaced
        let (crt2, key2) = (d.path().join("certs/b.crt"), d.path().join("certs/b.key"));
        issue(&ca, &names, &crt2, &key2).unwrap();
        std::fs::copy(&key2, &key).unwrap();
        assert_eq!(
            check(&sc, &ca, &crt, &key, &names, now).unwrap_err(),
            Need::KeyMismatch
        );
    }
}

//! devenv's local certificate authority: one per user, ECDSA P-256, path length 0, and critical
//! **name constraints** so its key can only vouch for development names (by default `test`,
//! `localhost`, `internal`, `home.arpa`, 127.0.0.0/8 and ::1): a leaked key cannot impersonate any
//! real site. Lives in the per-user data directory (`DEVENV_CAROOT` overrides), key mode 0600,
//! never inside a project. Valid for ten years ([`CA_VALIDITY_DAYS`]).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::error::UserError;

pub const CA_CERT: &str = "rootCA.pem";
pub const CA_KEY: &str = "rootCA-key.pem";
/// The CA's lifetime. Leaves are short-lived (≤ 397 days) and re-issued automatically.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// Development names the CA may sign for by default (DNS name constraints).
pub const DEFAULT_PERMITTED: &[&str] = &["test", "localhost", "internal", "home.arpa"];

/// Where the CA lives: `DEVENV_CAROOT`, else `<data dir>/ca`.
pub fn caroot(sys: &dyn crate::sys::Facts) -> PathBuf {
    match sys.var("DEVENV_CAROOT") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => crate::paths::data_dir(sys).join("ca"),
    }
}

/// A loaded CA.
#[derive(Debug, Clone)]
pub struct Ca {
    pub dir: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
    /// SHA-256 of the DER certificate, lowercase hex.
    pub fingerprint: String,
    /// SHA-1 of the DER certificate, uppercase hex (how macOS and Windows name certificates).
    pub sha1: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    pub not_after: i64,
    pub subject: String,
    /// DNS suffixes and IP ranges it may sign for; `None` when unconstrained.
    pub permitted: Option<Vec<String>>,
    /// Its name constraints close e-mail addresses and URIs too (see [`name_constraints_der`]).
    pub mail_and_uri_closed: bool,
}

impl Ca {
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(CA_KEY)
    }

    /// The name trust stores know it by.
    pub fn nickname(&self) -> String {
        format!("devenv CA {}", &self.fingerprint[..16])
    }

    /// Whether the CA's name constraints allow `name` (a DNS name, `*.` wildcard or IP).
    pub fn permits(&self, name: &str) -> bool {
        match &self.permitted {
            None => true,
            Some(list) => permits(list, name),
        }
    }

    pub fn key_pair(&self) -> anyhow::Result<KeyPair> {
        KeyPair::from_pem(&self.key_pem)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.key_path().display()))
    }

    /// Loads the CA in `dir`; `Ok(None)` when there is none yet. Waits for a run that is
    /// creating or rotating it (a shared lock), so it never sees half a CA.
    pub fn load(dir: &Path) -> anyhow::Result<Option<Ca>> {
        let _shared = CaLock::shared(dir)?;
        Ca::load_unlocked(dir)
    }

    /// Loads the CA of a directory this run holds the lock of.
    pub fn load_locked(lock: &CaLock) -> anyhow::Result<Option<Ca>> {
        Ca::load_unlocked(lock.dir())
    }

    fn load_unlocked(dir: &Path) -> anyhow::Result<Option<Ca>> {
        let cert_path = dir.join(CA_CERT);
        let key_path = dir.join(CA_KEY);
        match (cert_path.exists(), key_path.exists()) {
            (false, false) => return Ok(None),
            (true, false) | (false, true) => {
                let (have, missing) = if cert_path.exists() {
                    (&cert_path, &key_path)
                } else {
                    (&key_path, &cert_path)
                };
                return Err(UserError::new(format!(
                    "the CA in {} is incomplete: {} exists but {} does not",
                    dir.display(),
                    have.display(),
                    missing.display()
                ))
                .hint(format!(
                    "restore the missing file, or move {} away and run `devenv certs trust` to create a new CA",
                    dir.display()
                ))
                .into());
            }
            (true, true) => {}
        }
        check_key_permissions(&key_path)?;
        let corrupt = |path: &Path, what: String| -> anyhow::Error {
            UserError::new(format!("{}: {what}", path.display()))
                .hint(format!(
                    "the CA files are damaged; move {} away and run `devenv certs rotate` (or `devenv certs trust`) to create a new CA",
                    dir.display()
                ))
                .into()
        };
        let scope = crate::contained::Scope::data_dir(dir);
        let cert_pem = scope
            .read_string(&cert_path, MAX_PEM_BYTES)
            .map_err(|e| corrupt(&cert_path, format!("cannot read: {e}")))?;
        let key_pem = scope
            .read_string(&key_path, MAX_PEM_BYTES)
            .map_err(|e| corrupt(&key_path, format!("cannot read: {e}")))?;
        Ca::from_pem(dir, cert_pem, key_pem, &corrupt).map(Some)
    }

    /// A CA from its PEM files' content (read from `dir`, or generated and not written yet).
    pub fn from_pem(
        dir: &Path,
        cert_pem: String,
        key_pem: String,
        corrupt: &dyn Fn(&Path, String) -> anyhow::Error,
    ) -> anyhow::Result<Ca> {
        let cert_path = dir.join(CA_CERT);
        let key_path = dir.join(CA_KEY);
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| corrupt(&cert_path, format!("not a PEM certificate ({e})")))?;
        let der = pem.contents.clone();
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| corrupt(&key_path, format!("not a PEM private key ({e})")))?;
        let info = inspect(&der).map_err(|e| corrupt(&cert_path, e))?;
        if !info.is_ca {
            return Err(corrupt(&cert_path, "is not a CA certificate".into()));
        }
        if info.spki != rcgen::PublicKeyData::subject_public_key_info(&key) {
            return Err(corrupt(
                &key_path,
                format!("does not belong to the certificate {}", cert_path.display()),
            ));
        }
        Ok(Ca {
            dir: dir.to_path_buf(),
            fingerprint: crate::hash::sha256_hex(&der),
            sha1: sha1_upper(&der),
            serial: info.serial,
            not_after: info.not_after,
            subject: info.subject,
            permitted: info.permitted,
            mail_and_uri_closed: info.mail_and_uri_closed,
            cert_pem,
            key_pem,
            der,
        })
    }

    /// A new CA for `dir`, in memory (written by [`write_files`] when a plan is applied).
    pub fn generate_for(
        dir: &Path,
        extra_permitted: &[String],
        unconstrained: bool,
    ) -> anyhow::Result<Ca> {
        let (cert_pem, key_pem) = generate(extra_permitted, unconstrained)?;
        Ca::from_pem(dir, cert_pem, key_pem, &|p, e| {
            anyhow::anyhow!("{}: {e}", p.display())
        })
    }

    #[cfg(test)]
    /// Creates a new CA in `dir` (which must not hold one), writing it at once: for tests and
    /// tools. devenv itself mints a CA in a plan ([`Ca::generate_for`]) and writes it through the
    /// executor ([`crate::certs::issue::write_ca`]).
    pub fn create(
        dir: &Path,
        extra_permitted: &[String],
        unconstrained: bool,
    ) -> anyhow::Result<Ca> {
        let (cert_pem, key_pem) = generate(extra_permitted, unconstrained)?;
        write_files(dir, &cert_pem, &key_pem)?;
        Ca::load_unlocked(dir)?
            .ok_or_else(|| anyhow::anyhow!("the new CA in {} vanished", dir.display()))
    }
}

const LOCK_FILE: &str = ".lock";

/// A lock on the CA directory. Creating or rotating the CA, issuing a leaf and recording trust
/// hold it exclusively, so concurrent runs (of one project or many) never leave a leaf signed by
/// a CA that no longer exists, or a key that does not match its certificate.
pub struct CaLock {
    _exclusive: Option<crate::exec::FileLock>,
    _shared: Option<crate::contained::SharedLock>,
    dir: PathBuf,
}

impl CaLock {
    /// The exclusive lock, taken through the executor (its directory created 0700 if needed; a
    /// dry run takes none).
    pub fn exclusive(x: &mut crate::exec::Executor<'_>, dir: &Path) -> anyhow::Result<CaLock> {
        x.create_private_dir(dir).map_err(|e| {
            UserError::new(e.to_string()).hint("set DEVENV_CAROOT to a directory you can write")
        })?;
        let l = x.lock(&dir.join(LOCK_FILE)).map_err(|e| {
            UserError::new(e.to_string()).hint("set DEVENV_CAROOT to a directory you can write")
        })?;
        Ok(CaLock {
            _exclusive: Some(l),
            _shared: None,
            dir: dir.to_path_buf(),
        })
    }

    /// A shared lock for reading, when the lock file exists (nothing is created for a read).
    fn shared(dir: &Path) -> anyhow::Result<Option<CaLock>> {
        Ok(
            crate::contained::SharedLock::take(&dir.join(LOCK_FILE))?.map(|l| CaLock {
                _exclusive: None,
                _shared: Some(l),
                dir: dir.to_path_buf(),
            }),
        )
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The CA of the locked directory, if there is one. A key without a certificate is what a run
/// killed while creating the CA leaves (the key is written first): no store can trust a
/// certificate that never existed, so it counts as no CA (creating one replaces the key).
pub fn load_or_repair(lock: &CaLock) -> anyhow::Result<Option<Ca>> {
    let dir = lock.dir();
    if dir.join(CA_KEY).exists() && !dir.join(CA_CERT).exists() {
        crate::ui::debug(
            "a CA key without its certificate (an interrupted creation): a new CA replaces it",
        );
        return Ok(None);
    }
    Ca::load_unlocked(dir)
}

/// Whether `list` (DNS suffixes and `a.b.c.d/len` / `::1/128` ranges) permits `name`.
pub fn permits(list: &[String], name: &str) -> bool {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return list.iter().any(|c| ip_in(c, ip));
    }
    let name = name.strip_prefix("*.").unwrap_or(name).to_ascii_lowercase();
    list.iter()
        .filter(|c| !c.contains('/'))
        .any(|c| name == *c || name.ends_with(&format!(".{c}")))
}

fn ip_in(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, len)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(len)) = (net.parse::<IpAddr>(), len.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len.min(32))
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len.min(128))
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// The CA key must be readable by its owner only (like an ssh key).
fn check_key_permissions(key: &Path) -> anyhow::Result<()> {
    if let Some(mode) = crate::fsutil::mode_of(key)
        && mode & 0o077 != 0
    {
        return Err(UserError::new(format!(
            "the CA key {} is readable by others (mode {:04o}); devenv will not use a key others may have copied",
            key.display(),
            mode & 0o7777
        ))
        .hint(format!(
            "`chmod 600 {}` if nobody else could have read it; otherwise `devenv certs rotate` for a new CA",
            key.display()
        ))
        .into());
    }
    Ok(())
}

fn random_serial() -> SerialNumber {
    let mut b = crate::hash::random_bytes(16);
    b[0] &= 0x7f; // positive
    b[0] |= 0x01; // and 16 bytes long
    SerialNumber::from_slice(&b)
}

/// The largest PEM file devenv reads (a certificate or key is a few kilobytes).
pub const MAX_PEM_BYTES: u64 = 1 << 20;

fn user_and_host() -> String {
    let user = crate::paths::invoking_user(&crate::sys::RealSys).name;
    let host = crate::contained::read_machine_file(Path::new("/etc/hostname"), 4096)
        .ok()
        .map(|s| String::from_utf8_lossy(&s).trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

/// A new CA certificate and key (PEM).
pub fn generate(
    extra_permitted: &[String],
    unconstrained: bool,
) -> anyhow::Result<(String, String)> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut p = CertificateParams::default();
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    p.serial_number = Some(random_serial());
    let who = user_and_host();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "devenv development CA");
    dn.push(DnType::OrganizationalUnitName, who.clone());
    dn.push(DnType::CommonName, format!("devenv {who}"));
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // what its leaves may be used for: TLS servers (and clients), never S/MIME or code signing;
    // clients apply a CA's extended key usage to the certificates below it
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    if !unconstrained {
        let dns: Vec<String> = DEFAULT_PERMITTED
            .iter()
            .map(|s| s.to_string())
            .chain(
                extra_permitted
                    .iter()
                    .map(|s| s.trim_start_matches('.').to_ascii_lowercase()),
            )
            .fold(Vec::<String>::new(), |mut v, s| {
                if !v.contains(&s) {
                    v.push(s);
                }
                v
            });
        let mut ext =
            CustomExtension::from_oid_content(&[2, 5, 29, 30], name_constraints_der(&dns));
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
    }
    let cert = p.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The host e-mail addresses and URIs of a name-constrained CA must have: `.invalid` (RFC 6761)
/// can never be a real host, so a leaf with any real e-mail address or URI fails validation.
pub const NO_SUCH_HOST: &str = "invalid";

/// DER of the NameConstraints extension (RFC 5280 4.2.1.10, implicit tags): permitted subtrees
/// for the DNS suffixes, 127.0.0.0/8 and ::1, and — so a stolen key cannot vouch for e-mail
/// (S/MIME) or URI names either, which a DNS-only constraint leaves open — e-mail addresses and
/// URIs only at the host `invalid`.
pub fn name_constraints_der(dns: &[String]) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if n < 0x80 {
            v.push(n as u8);
        } else if n < 0x100 {
            v.extend([0x81, n as u8]);
        } else {
            v.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend_from_slice(content);
        v
    }
    // GeneralSubtree ::= SEQUENCE { base GeneralName }
    let subtree = |tag: u8, value: &[u8]| tlv(0x30, &tlv(tag, value));
    let mut subtrees = Vec::new();
    for d in dns {
        subtrees.extend(subtree(0x82, d.as_bytes())); // dNSName [2]
    }
    let mut v4 = vec![127, 0, 0, 0];
    v4.extend([255, 0, 0, 0]);
    subtrees.extend(subtree(0x87, &v4)); // iPAddress [7]: address + mask
    let mut v6 = vec![0u8; 16];
    v6[15] = 1;
    v6.extend([0xff; 16]);
    subtrees.extend(subtree(0x87, &v6));
    subtrees.extend(subtree(0x81, NO_SUCH_HOST.as_bytes())); // rfc822Name [1]
    subtrees.extend(subtree(0x86, NO_SUCH_HOST.as_bytes())); // uniformResourceIdentifier [6]
    // NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees }
    tlv(0x30, &tlv(0xa0, &subtrees))
}

/// Writes the CA files (tests only: devenv itself writes them through the executor).
#[cfg(test)]
pub fn write_files(dir: &Path, cert_pem: &str, key_pem: &str) -> anyhow::Result<()> {
    let io = |what: &Path, e: std::io::Error| -> anyhow::Error {
        UserError::new(format!("cannot write {}: {e}", what.display()))
            .hint("set DEVENV_CAROOT to a directory you can write")
            .into()
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io(dir, e))?;
    }
    let key = dir.join(CA_KEY);
    let cert = dir.join(CA_CERT);
    crate::fsutil::write_atomic(&key, key_pem.as_bytes(), Some(0o600)).map_err(|e| io(&key, e))?;
    if let Err(e) = crate::fsutil::write_atomic(&cert, cert_pem.as_bytes(), Some(0o644)) {
        let _ = std::fs::remove_file(&key);
        return Err(io(&cert, e));
    }
    Ok(())
}

/// What devenv reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub is_ca: bool,
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    pub subject: String,
    /// DNS names and IP addresses of the subjectAltName.
    pub sans: Vec<String>,
    pub spki: Vec<u8>,
    pub ski: Option<Vec<u8>>,
    pub aki: Option<Vec<u8>>,
    pub permitted: Option<Vec<String>>,
    /// The name constraints also close e-mail addresses and URIs (CAs of devenv before 0.2 did not).
    pub mail_and_uri_closed: bool,
}

pub fn inspect(der: &[u8]) -> Result<CertInfo, String> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    let (_, c) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("not a valid certificate ({e})"))?;
    let ip = |b: &[u8]| -> String {
        match b.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(b).unwrap()).to_string(),
            16 => IpAddr::from(<[u8; 16]>::try_from(b).unwrap()).to_string(),
            _ => crate::hash::hex(b),
        }
    };
    let cidr = |b: &[u8]| -> String {
        match b.len() {
            8 => format!(
                "{}/{}",
                IpAddr::from(<[u8; 4]>::try_from(&b[..4]).unwrap()),
                b[4..].iter().map(|x| x.count_ones()).sum::<u32>()
            ),
            32 => format!(
                "{}/{}",
                IpAddr::from(<[u8; 16]>::try_from(&b[..16]).unwrap()),
                b[16..].iter().map(|x| x.count_ones()).sum::<u32>()
            ),
            _ => crate::hash::hex(b),
        }
    };
    let mut info = CertInfo {
        is_ca: c.is_ca(),
        serial: crate::hash::hex(c.raw_serial())
            .trim_start_matches("00")
            .to_string(),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        subject: c.subject().to_string(),
        sans: Vec::new(),
        spki: c.public_key().raw.to_vec(),
        ski: None,
        aki: None,
        permitted: None,
        mail_and_uri_closed: false,
    };
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for n in &san.general_names {
                    match n {
                        GeneralName::DNSName(d) => info.sans.push(d.to_string()),
                        GeneralName::IPAddress(b) => info.sans.push(ip(b)),
                        _ => {}
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(k) => info.ski = Some(k.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                info.aki = a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            ParsedExtension::NameConstraints(nc) => {
                let list = nc
                    .permitted_subtrees
                    .iter()
                    .flatten()
                    .filter_map(|s| match &s.base {
                        GeneralName::DNSName(d) => Some(d.to_string()),
                        GeneralName::IPAddress(b) => Some(cidr(b)),
                        _ => None,
                    })
                    .collect();
                info.permitted = Some(list);
                let bases: Vec<&GeneralName> = nc
                    .permitted_subtrees
                    .iter()
                    .flatten()
                    .map(|s| &s.base)
                    .collect();
                info.mail_and_uri_closed = bases
                    .iter()
                    .any(|b| matches!(b, GeneralName::RFC822Name(_)))
                    && bases.iter().any(|b| matches!(b, GeneralName::URI(_)));
            }
            _ => {}
        }
    }
    Ok(info)
}

/// Whether `der` (a leaf) carries a valid signature of `ca`.
pub fn signed_by(der: &[u8], ca: &Ca) -> bool {
    let (Ok((_, leaf)), Ok((_, root))) = (
        x509_parser::parse_x509_certificate(der),
        x509_parser::parse_x509_certificate(&ca.der),
    ) else {
        return false;
    };
    leaf.verify_signature(Some(root.public_key())).is_ok()
}

fn sha1_upper(der: &[u8]) -> String {
    crate::hash::hex(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
        .to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_are_what_we_asked_for() {
        let d = tempfile::tempdir().unwrap();
        let ca = Ca::create(d.path(), &["corp.example".into()], false).unwrap();
        let p = ca.permitted.clone().unwrap();
        assert_eq!(
            p,
            vec![
                "test",
                "localhost",
                "internal",
                "home.arpa",
                "corp.example",
                "127.0.0.0/8",
                "::1/128"
            ]
        );
        assert!(
            ca.permits("myblog.test") && ca.permits("*.myblog.test") && ca.permits("localhost")
        );
        assert!(ca.permits("127.0.0.1") && ca.permits("::1") && ca.permits("x.corp.example"));
        assert!(!ca.permits("myblog.com") && !ca.permits("10.0.0.1") && !ca.permits("attest"));
        let info = inspect(&ca.der).unwrap();
        assert!(info.is_ca);
        assert!(info.mail_and_uri_closed && ca.mail_and_uri_closed);
        assert_eq!(info.serial.len(), 32, "128-bit serial");
        assert!(info.subject.contains("devenv"));
        assert!(info.not_after - info.not_before > 3640 * 86400);
        // the key is the owner's only
        #[cfg(unix)]
        assert_eq!(crate::fsutil::mode_of(&ca.key_path()), Some(0o600));
        // and loading gives the same CA back
        assert_eq!(
            Ca::load(d.path()).unwrap().unwrap().fingerprint,
            ca.fingerprint
        );
    }

    #[test]
    fn unconstrained_permits_anything() {
        let d = tempfile::tempdir().unwrap();
        let ca = Ca::create(d.path(), &[], true).unwrap();
        assert!(ca.permitted.is_none());
        assert!(ca.permits("bank.com"));
    }

    #[cfg(unix)]
    #[test]
    fn loose_key_and_corrupt_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let ca = Ca::create(d.path(), &[], false).unwrap();
        std::fs::set_permissions(ca.key_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Ca::load(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("readable by others (mode 0644)") && e.contains("chmod 600"),
            "{e}"
        );
        std::fs::set_permissions(ca.key_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            ca.cert_path(),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = Ca::load(d.path()).unwrap_err().to_string();
        assert!(e.contains("rootCA.pem"), "{e}");
        std::fs::remove_file(ca.cert_path()).unwrap();
        let e = Ca::load(d.path()).unwrap_err().to_string();
        assert!(e.contains("incomplete"), "{e}");
    }

    #[test]
    fn mismatched_key_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ca_a = Ca::create(a.path(), &[], false).unwrap();
        let ca_b = Ca::create(b.path(), &[], false).unwrap();
        std::fs::write(ca_a.key_path(), &ca_b.key_pem).unwrap();
        let e = Ca::load(a.path()).unwrap_err().to_string();
        assert!(e.contains("does not belong"), "{e}");
    }

    #[test]
    fn permits_cidrs() {
        let l: Vec<String> = vec!["127.0.0.0/8".into(), "::1/128".into(), "test".into()];
        assert!(permits(&l, "127.9.9.9"));
        assert!(!permits(&l, "128.0.0.1"));
        assert!(permits(&l, "::1"));
        assert!(!permits(&l, "::2"));
    }
}

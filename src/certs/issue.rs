//! Which certificates a local-CA profile needs, planned: the CA (created on first need) and the
//! profile's leaf (issued, or re-issued when near expiry, not yet valid, when its names change or
//! when the CA changed). Both are minted in memory at plan time, so a deploy's secret names are
//! known before anything is written (and a dry run shows them); the plan is applied under the CA
//! lock, which checks that the CA is still the one the leaf was signed by.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ca::{self, Ca, CaLock};
use super::leaf::{self, Leaf, Minted, Need};
use crate::error::UserError;
use crate::exec::Executor;
use crate::profile::{Profile, Project, Tls};

/// Whether a leaf that is fine is issued anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reissue {
    IfNeeded,
    Force,
}

/// The CA directory, refusing one inside the project (a CA key must never end up in a
/// repository) — also when a symlink on the way leads there.
pub fn caroot_for(
    sys: &dyn crate::sys::Facts,
    project: Option<&Project>,
) -> anyhow::Result<PathBuf> {
    let dir = ca::caroot(sys);
    if let Some(p) = project {
        let abs = crate::contained::resolve(&dir)?;
        let root = crate::contained::resolve(&p.root)?;
        if abs.starts_with(&root) {
            return Err(UserError::usage(format!(
                "the CA directory {} is inside the project {}; its key must never be committed",
                dir.display(),
                p.root.display()
            ))
            .hint("point DEVENV_CAROOT outside the project (or unset it for the per-user default)")
            .into());
        }
    }
    Ok(dir)
}

/// The certificates of one local-CA profile.
#[derive(Debug, Clone)]
pub struct CertPlan {
    pub caroot: PathBuf,
    pub profile: String,
    pub names: Vec<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A CA to create (there is none yet), minted in memory.
    pub new_ca: Option<Ca>,
    /// The CA the leaf is signed by: the existing one, or `new_ca`.
    pub ca: Ca,
    /// Why a leaf is issued; `None` when the current one is fine.
    pub need: Option<Need>,
    /// The leaf to write, when one is issued.
    pub minted: Option<Minted>,
    /// The leaf on disk, when it is fine.
    pub current: Option<Leaf>,
}

/// The CA changed between planning and applying (another run created or rotated it): plan again.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the CA in {0} changed while this run planned its certificate")]
pub struct Stale(pub PathBuf);

/// A plan's certificates as `--json` and `--dry-run` show them.
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    pub profile: String,
    pub file: PathBuf,
    pub names: Vec<String>,
    pub creates_ca: Option<PathBuf>,
    pub issues: Option<String>,
}

impl CertPlan {
    pub fn changes(&self) -> bool {
        self.new_ca.is_some() || self.minted.is_some()
    }

    pub fn summary(&self) -> CertSummary {
        CertSummary {
            profile: self.profile.clone(),
            file: self.cert.clone(),
            names: self.names.clone(),
            creates_ca: self.new_ca.as_ref().map(|_| self.caroot.clone()),
            issues: self.need.as_ref().map(|n| n.to_string()),
        }
    }

    pub fn describe(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(ca) = &self.new_ca {
            v.push(format!(
                "would create devenv's local CA in {} (name-constrained to {})",
                self.caroot.display(),
                ca.permitted.clone().unwrap_or_default().join(", ")
            ));
        }
        match &self.need {
            Some(n) => v.push(format!(
                "would issue {} for {} ({n})",
                crate::error::display_path(&self.cert),
                self.names.join(", ")
            )),
            None => v.push(format!(
                "{}: current, nothing to issue",
                crate::error::display_path(&self.cert)
            )),
        }
        v
    }

    /// The leaf's certificate and key as the deploy's `tls_cert`/`tls_key` secrets will hold them.
    pub fn secret_values(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        self.minted.as_ref().map(|m| {
            (
                m.cert_pem.clone().into_bytes(),
                m.key_pem.clone().into_bytes(),
            )
        })
    }
}

/// Plans the profile's certificates: `None` for a profile whose TLS is not `local-ca`.
pub fn plan(
    sys: &dyn crate::sys::Facts,
    project: &Project,
    profile: &Profile,
    reissue: Reissue,
) -> anyhow::Result<Option<CertPlan>> {
    if profile.file.tls != Tls::LocalCa {
        return Ok(None);
    }
    let now = sys.now();
    let caroot = caroot_for(sys, Some(project))?;
    let existing = Ca::load(&caroot)?;
    plan_for(project, profile, reissue, now, caroot, existing)
}

/// [`plan`] against a CA already loaded (`None`: there is none yet, one is minted) — for a
/// caller that holds the CA lock, such as rotation.
pub fn plan_for(
    project: &Project,
    profile: &Profile,
    reissue: Reissue,
    now: i64,
    caroot: PathBuf,
    existing: Option<Ca>,
) -> anyhow::Result<Option<CertPlan>> {
    if profile.file.tls != Tls::LocalCa {
        return Ok(None);
    }
    let names = leaf::desired_names(profile)?;
    let (ca, new_ca) = match existing {
        Some(ca) => (ca, None),
        None => {
            let ca = Ca::generate_for(&caroot, &[], false)?;
            (ca.clone(), Some(ca))
        }
    };
    leaf::check_constraints(&ca, profile, &names)?;
    let (cert, key) = super::leaf_paths(&project.root, &profile.name);
    let (need, current) = if new_ca.is_some() {
        (Some(Need::Missing), None)
    } else {
        match leaf::check(&project.scope(), &ca, &cert, &key, &names, now) {
            Ok(l) if reissue == Reissue::IfNeeded => (None, Some(l)),
            Ok(_) => (Some(Need::Forced), None),
            Err(n) => (Some(n), None),
        }
    };
    let minted = match &need {
        Some(_) => Some(leaf::mint(&ca, &names)?),
        None => None,
    };
    Ok(Some(CertPlan {
        caroot,
        profile: profile.name.clone(),
        names,
        cert,
        key,
        new_ca,
        ca,
        need,
        minted,
        current,
    }))
}

/// Writes what the plan mints, under the CA lock: the CA (if new), then the leaf's key and
/// certificate. Fails with [`Stale`] when the CA on disk is no longer the plan's (nothing is
/// written then).
pub fn apply(x: &mut Executor<'_>, plan: &CertPlan) -> anyhow::Result<()> {
    if !plan.changes() {
        return Ok(());
    }
    let lock = CaLock::exclusive(x, &plan.caroot)?;
    apply_locked(x, &lock, plan)
}

/// [`apply`] for a caller that holds the CA lock (rotation).
pub fn apply_locked(x: &mut Executor<'_>, lock: &CaLock, plan: &CertPlan) -> anyhow::Result<()> {
    let on_disk = ca::load_or_repair(lock)?;
    match (&plan.new_ca, &on_disk) {
        (Some(_), None) => {}
        (None, Some(c)) if c.fingerprint == plan.ca.fingerprint => {}
        _ => return Err(Stale(plan.caroot.clone()).into()),
    }
    if let Some(new) = &plan.new_ca {
        write_ca(x, new)?;
        crate::ui::info(&format!(
            "created devenv's local CA in {} (name-constrained to {}); run `devenv certs trust` once so browsers trust it",
            plan.caroot.display(),
            new.permitted.clone().unwrap_or_default().join(", ")
        ));
        x.record(
            format!("devenv's local CA in {}", plan.caroot.display()),
            None,
        );
    }
    if let (Some(m), Some(need)) = (&plan.minted, &plan.need) {
        let dir = plan.cert.parent().unwrap_or(Path::new("."));
        x.create_dir_all(dir)?;
        x.write(&plan.key, m.key_pem.as_bytes(), Some(0o600))?;
        x.write(&plan.cert, m.cert_pem.as_bytes(), Some(0o644))?;
        // certs/ holds private keys: keep it out of git even if the project's .gitignore forgot it
        let gi = dir.join(".gitignore");
        if !gi.exists() {
            x.write(
                &gi,
                b"# leaf certificates and keys minted by devenv: never commit them\n*\n",
                None,
            )?;
        }
        crate::ui::ok(&format!(
            "issued {} for {} ({need}; valid {} days)",
            crate::error::display_path(&plan.cert),
            plan.names.join(", "),
            leaf::LEAF_VALIDITY_DAYS
        ));
        x.record(
            format!("the certificate {}", crate::error::display_path(&plan.cert)),
            None,
        );
    }
    Ok(())
}

/// Writes a CA's files: the key (0600) first, then the certificate.
pub fn write_ca(x: &mut Executor<'_>, ca: &Ca) -> anyhow::Result<()> {
    x.write(&ca.key_path(), ca.key_pem.as_bytes(), Some(0o600))?;
    x.write(&ca.cert_path(), ca.cert_pem.as_bytes(), Some(0o644))
}

/// Plans and applies the profile's certificates, planning again when another run changed the CA
/// meanwhile (at most a few times).
pub fn ensure(
    sys: &dyn crate::sys::Facts,
    x: &mut Executor<'_>,
    project: &Project,
    profile: &Profile,
    reissue: Reissue,
) -> anyhow::Result<Option<CertPlan>> {
    for _ in 0..5 {
        let Some(plan) = plan(sys, project, profile, reissue)? else {
            return Ok(None);
        };
        match apply(x, &plan) {
            Ok(()) => return Ok(Some(plan)),
            Err(e) if e.downcast_ref::<Stale>().is_some() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(
        UserError::new("the CA keeps changing under this run (another devenv is rotating it?)")
            .hint("run the command again")
            .into(),
    )
}

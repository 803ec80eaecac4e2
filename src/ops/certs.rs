//! The local CA as operations: trust and untrust (every store this machine's browsers and tools
//! read, each store's steps planned through a recording seam), issue a profile's leaf, rotate the
//! CA, status, and the shell exports of `certs env`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use crate::certs::ca::{self, Ca, CaLock};
use crate::certs::issue::{self, CertPlan, Reissue};
use crate::certs::leaf;
use crate::certs::trust::{self, CaRef, Env, Record, Store, Trust, TrustError};
use crate::error::UserError;
use crate::exec::Executor;
use crate::exec::Step;
use crate::profile::{Profile, Project, Tls};
use crate::sys::Facts;

/// Where trust goes beyond the defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope {
    /// macOS: the login keychain instead of the System keychain.
    pub macos_user: bool,
    /// Windows: LocalMachine\Root instead of CurrentUser\Root.
    pub windows_machine: bool,
}

fn trust_env<'a>(ctx: &Ctx, sys: &'a dyn Facts, ca: CaRef, scope: Scope) -> Env<'a> {
    let u = crate::paths::invoking_user(ctx.sys.as_ref());
    Env {
        sys,
        platform: ctx.sys.platform(),
        home: crate::platform::OsPath::new(ctx.sys.platform().os, u.home.to_string_lossy()),
        run_as: u.ids.map(|_| u.name.clone()),
        is_root: ctx.sys.is_admin(),
        ca,
        macos_user: scope.macos_user,
        windows_machine: scope.windows_machine,
    }
}

/// One store's part of a trust plan: what it is and the steps it would run.
#[derive(Debug, Clone, Serialize)]
pub struct StoreSteps {
    pub store: String,
    pub kind: String,
    pub location: String,
    pub steps: Vec<String>,
    /// A tool the store needs is missing: it will be skipped.
    pub skipped: Option<String>,
    /// The steps themselves, as the executor runs them (or why there are none).
    #[serde(skip)]
    pub planned: Result<Vec<Step>, TrustError>,
}

/// `certs trust`: the CA (created first if there is none) into every store.
#[derive(Debug, Clone)]
pub struct TrustPlan {
    pub caroot: PathBuf,
    pub ca: Ca,
    pub creates_ca: bool,
    pub scope: Scope,
    pub stores: Vec<StoreSteps>,
}

/// Each store's steps for `install` (or `uninstall`) of `ca`, planned from facts only.
fn store_steps(
    ctx: &Ctx,
    stores: &[Box<dyn Store>],
    ca: CaRef,
    scope: Scope,
    install: bool,
) -> Vec<StoreSteps> {
    let env = trust_env(ctx, ctx.sys.as_ref(), ca, scope);
    stores
        .iter()
        .map(|s| {
            let planned = if install {
                s.install(&env)
            } else {
                s.uninstall(&env)
            };
            StoreSteps {
                store: s.describe(),
                kind: s.kind().to_string(),
                location: s.location(),
                steps: planned
                    .as_ref()
                    .map(|v| v.iter().map(Step::describe).collect())
                    .unwrap_or_default(),
                skipped: match &planned {
                    Err(TrustError::MissingTool { tool, package }) => {
                        Some(format!("`{tool}` is missing: {package}"))
                    }
                    _ => None,
                },
                planned,
            }
        })
        .collect()
}

/// Runs each store's planned steps through the executor; what it said, store by store.
fn run_store_steps(
    x: &mut Executor<'_>,
    stores: &[StoreSteps],
    verb: &str,
) -> Vec<(StoreResult, bool)> {
    stores
        .iter()
        .map(|s| {
            let r = match &s.planned {
                Ok(steps) => steps
                    .iter()
                    .try_for_each(|st| x.step(st))
                    .map_err(|e| TrustError::Failed(e.to_string())),
                Err(e) => Err(e.clone()),
            };
            let ok = r.is_ok();
            (report_store(&s.store, &r, verb), ok)
        })
        .collect()
}

fn discover(ctx: &Ctx, ca: &Ca, scope: Scope) -> Vec<Box<dyn Store>> {
    trust::discover(&trust_env(ctx, ctx.sys.as_ref(), CaRef::from_ca(ca), scope))
}

pub fn plan_trust(ctx: &Ctx, project: Option<&Project>, scope: Scope) -> anyhow::Result<TrustPlan> {
    let caroot = issue::caroot_for(ctx.sys.as_ref(), project)?;
    let (ca, creates_ca) = match Ca::load(&caroot)? {
        Some(ca) => (ca, false),
        None => (Ca::generate_for(&caroot, &[], false)?, true),
    };
    let stores = discover(ctx, &ca, scope);
    let steps = store_steps(ctx, &stores, CaRef::from_ca(&ca), scope, true);
    Ok(TrustPlan {
        caroot,
        ca,
        creates_ca,
        scope,
        stores: steps,
    })
}

impl TrustPlan {
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if self.creates_ca {
            out.push_str(&format!(
                "would create devenv's local CA in {} (name-constrained to {})\n",
                self.caroot.display(),
                self.ca.permitted.clone().unwrap_or_default().join(", ")
            ));
        }
        if self.stores.is_empty() {
            out.push_str("no trust store found on this machine\n");
        }
        out.push_str(&describe_steps(&self.stores));
        out
    }
}

fn describe_steps(stores: &[StoreSteps]) -> String {
    let mut out = String::new();
    for s in stores {
        out.push_str(&format!("{}:\n", s.store));
        if let Some(why) = &s.skipped {
            out.push_str(&format!("  skipped: {why}\n"));
        }
        for line in &s.steps {
            out.push_str(&format!("  would {line}\n"));
        }
    }
    out
}

/// What trusting or untrusting did, store by store.
#[derive(Debug, Clone, Serialize)]
pub struct StoreResult {
    pub store: String,
    pub ok: bool,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrustReport {
    pub ca: CaSummary,
    pub created_ca: bool,
    pub stores: Vec<StoreResult>,
}

impl TrustReport {
    pub fn ok(&self) -> bool {
        self.stores.iter().all(|s| s.ok)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CaSummary {
    pub dir: PathBuf,
    pub file: PathBuf,
    pub nickname: String,
    pub fingerprint_sha256: String,
    pub permitted: Option<Vec<String>>,
}

impl CaSummary {
    fn of(ca: &Ca) -> CaSummary {
        CaSummary {
            dir: ca.dir.clone(),
            file: ca.cert_path(),
            nickname: ca.nickname(),
            fingerprint_sha256: ca.fingerprint.clone(),
            permitted: ca.permitted.clone(),
        }
    }
}

fn report_store(store: &str, r: &Result<(), TrustError>, verb: &str) -> StoreResult {
    match r {
        Ok(()) => {
            crate::ui::ok(&format!("{verb} {store}"));
            StoreResult {
                store: store.to_string(),
                ok: true,
                detail: None,
            }
        }
        Err(TrustError::MissingTool { tool, package }) => {
            let d = format!("skipped, `{tool}` is missing: {package}");
            crate::ui::warn(&format!("{store}: {d}"));
            StoreResult {
                store: store.to_string(),
                ok: false,
                detail: Some(d),
            }
        }
        Err(e) => {
            crate::ui::warn(&format!("{store}: {e}"));
            StoreResult {
                store: store.to_string(),
                ok: false,
                detail: Some(e.to_string()),
            }
        }
    }
}

/// Installs the CA into every store (creating it first if the plan says so), recording each.
pub fn trust(ctx: &Ctx, x: &mut Executor<'_>, plan: TrustPlan) -> anyhow::Result<TrustReport> {
    let lock = CaLock::exclusive(x, &plan.caroot)?;
    let ca = match (plan.creates_ca, ca::load_or_repair(&lock)?) {
        (true, None) => {
            issue::write_ca(x, &plan.ca)?;
            crate::ui::info(&format!(
                "created devenv's local CA in {} (name-constrained to {})",
                plan.caroot.display(),
                plan.ca.permitted.clone().unwrap_or_default().join(", ")
            ));
            plan.ca.clone()
        }
        // another run created it meanwhile: trust that one
        (_, Some(ca)) => ca,
        (false, None) => {
            return Err(UserError::new(format!(
                "the CA in {} disappeared while this run planned",
                plan.caroot.display()
            ))
            .hint("run the command again")
            .into());
        }
    };
    // the plan's steps, unless another run made another CA meanwhile (then planned again for it)
    let planned = if ca.fingerprint == plan.ca.fingerprint {
        plan.stores
    } else {
        store_steps(
            ctx,
            &discover(ctx, &ca, plan.scope),
            CaRef::from_ca(&ca),
            plan.scope,
            true,
        )
    };
    let stores = trust_locked(x, &lock, &ca, &planned)?;
    Ok(TrustReport {
        ca: CaSummary::of(&ca),
        created_ca: plan.creates_ca,
        stores,
    })
}

/// Runs the install steps planned for `ca` and records each store that took it (the caller holds
/// the CA lock).
fn trust_locked(
    x: &mut Executor<'_>,
    _lock: &CaLock,
    ca: &Ca,
    stores: &[StoreSteps],
) -> anyhow::Result<Vec<StoreResult>> {
    if stores.is_empty() {
        crate::ui::warn("no trust store found on this machine");
    }
    let mut records = trust::load_records(&ca.dir)?;
    let mut out = Vec::new();
    for (s, (result, ok)) in stores.iter().zip(run_store_steps(x, stores, "trusted by")) {
        out.push(result);
        if ok {
            let rec = Record {
                kind: s.kind.clone(),
                location: s.location.clone(),
                fingerprint: ca.fingerprint.clone(),
                nickname: ca.nickname(),
            };
            if !records.contains(&rec) {
                records.push(rec);
            }
            x.record(
                format!("{} trusts devenv's CA", s.store),
                Some("devenv certs untrust".into()),
            );
        }
    }
    save_records(x, &ca.dir, &records)?;
    Ok(out)
}

fn save_records(x: &mut Executor<'_>, caroot: &Path, records: &[Record]) -> anyhow::Result<()> {
    let mut s = serde_json::to_string_pretty(records)?;
    s.push('\n');
    x.write(&trust::records_path(caroot), s.as_bytes(), Some(0o644))
}

/// `certs untrust`: exactly the stores recorded for the CA.
#[derive(Debug, Clone)]
pub struct UntrustPlan {
    pub caroot: PathBuf,
    pub ca: Option<CaRef>,
    pub stores: Vec<StoreSteps>,
    pub unknown: Vec<Record>,
}

impl UntrustPlan {
    pub fn describe(&self) -> String {
        match &self.ca {
            None => format!("no CA in {}; nothing to untrust\n", self.caroot.display()),
            Some(_) if self.stores.is_empty() => {
                "no trust store has this CA installed by devenv; nothing to remove\n".to_string()
            }
            Some(_) => describe_steps(&self.stores),
        }
    }
}

pub fn plan_untrust(ctx: &Ctx, project: Option<&Project>) -> anyhow::Result<UntrustPlan> {
    let caroot = issue::caroot_for(ctx.sys.as_ref(), project)?;
    let Some(ca) = Ca::load(&caroot)? else {
        return Ok(UntrustPlan {
            caroot,
            ca: None,
            stores: Vec::new(),
            unknown: Vec::new(),
        });
    };
    plan_untrust_of(ctx, &caroot, CaRef::from_ca(&ca))
}

fn plan_untrust_of(ctx: &Ctx, caroot: &Path, ca: CaRef) -> anyhow::Result<UntrustPlan> {
    let env = trust_env(ctx, ctx.sys.as_ref(), ca.clone(), Scope::default());
    let mut stores = Vec::new();
    let mut unknown = Vec::new();
    for r in trust::load_records(caroot)?
        .into_iter()
        .filter(|r| r.fingerprint == ca.fingerprint)
    {
        match trust::from_record(&env, &r) {
            Some(s) => stores.push(s),
            None => unknown.push(r),
        }
    }
    Ok(UntrustPlan {
        caroot: caroot.to_path_buf(),
        stores: store_steps(ctx, &stores, ca.clone(), Scope::default(), false),
        ca: Some(ca),
        unknown,
    })
}

/// Removes the CA from the recorded stores; keeps the records of the ones that failed.
pub fn untrust(x: &mut Executor<'_>, plan: UntrustPlan) -> anyhow::Result<Vec<StoreResult>> {
    let Some(ca) = plan.ca else {
        crate::ui::info(&format!(
            "no CA in {}; nothing to untrust",
            plan.caroot.display()
        ));
        return Ok(Vec::new());
    };
    let lock = CaLock::exclusive(x, &plan.caroot)?;
    untrust_locked(x, &lock, &plan.caroot, &ca, &plan.stores, plan.unknown)
}

/// Runs the uninstall steps planned for `ca`; keeps the records of the stores that failed (and of
/// other CAs, and of stores of unknown kinds).
fn untrust_locked(
    x: &mut Executor<'_>,
    _lock: &CaLock,
    caroot: &Path,
    ca: &CaRef,
    stores: &[StoreSteps],
    unknown: Vec<Record>,
) -> anyhow::Result<Vec<StoreResult>> {
    let (mine, mut kept): (Vec<Record>, Vec<Record>) = trust::load_records(caroot)?
        .into_iter()
        .partition(|r| r.fingerprint == ca.fingerprint);
    if mine.is_empty() {
        crate::ui::info("no trust store has this CA installed by devenv; nothing to remove");
        return Ok(Vec::new());
    }
    for r in &unknown {
        crate::ui::warn(&format!(
            "unknown store kind `{}` at {}",
            r.kind, r.location
        ));
    }
    kept.extend(unknown);
    let mut out = Vec::new();
    for (s, (result, ok)) in stores
        .iter()
        .zip(run_store_steps(x, stores, "removed from"))
    {
        if !ok {
            kept.extend(
                mine.iter()
                    .filter(|r| r.kind == s.kind && r.location == s.location)
                    .cloned(),
            );
        }
        out.push(result);
    }
    save_records(x, caroot, &kept)?;
    Ok(out)
}

/// The profiles of a project that use the local CA.
fn local_ca_profiles(project: &Project) -> Vec<Profile> {
    project
        .profile_names()
        .iter()
        .filter_map(|n| project.profile(n).ok())
        .filter(|p| p.file.tls == Tls::LocalCa)
        .collect()
}

/// `certs issue`: the profile's leaf.
pub fn plan_issue(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    reissue: Reissue,
) -> anyhow::Result<CertPlan> {
    if profile.file.tls != Tls::LocalCa {
        return Err(UserError::usage(format!(
            "profile {} has `tls: {}`; only `tls: local-ca` profiles get certificates from devenv's CA",
            profile.name,
            profile.file.tls.mode()
        ))
        .into());
    }
    Ok(issue::plan(ctx.sys.as_ref(), project, profile, reissue)?.expect("a local-ca profile"))
}

/// `certs rotate`: a new CA, trusted; the project's leaves re-issued; the old CA untrusted.
#[derive(Debug, Clone)]
pub struct RotatePlan {
    pub caroot: PathBuf,
    pub new: Ca,
    pub old: Option<Ca>,
    pub unconstrained: bool,
    pub profiles: Vec<String>,
}

impl RotatePlan {
    pub fn describe(&self) -> String {
        format!(
            "would create a new CA in {} permitting {}\nwould trust it, re-issue the leaves of {}, and untrust the old CA\n",
            self.caroot.display(),
            if self.unconstrained {
                "any name".to_string()
            } else {
                self.new.permitted.clone().unwrap_or_default().join(", ")
            },
            if self.profiles.is_empty() {
                "no profile".to_string()
            } else {
                self.profiles.join(", ")
            }
        )
    }
}

pub fn plan_rotate(
    ctx: &Ctx,
    project: Option<&Project>,
    permit: &[String],
    unconstrained: bool,
) -> anyhow::Result<RotatePlan> {
    let caroot = issue::caroot_for(ctx.sys.as_ref(), project)?;
    let mut suffixes = Vec::new();
    for p in permit {
        let n =
            crate::name::host::normalize_name(p.trim_start_matches("*.").trim_start_matches('.'))
                .map_err(|e| UserError::usage(format!("--permit {p}: {e}")))?;
        if !n.contains('.') && !ca::DEFAULT_PERMITTED.contains(&n.as_str()) {
            crate::ui::warn(&format!(
                "--permit {n} allows the CA to sign for every name under the top-level domain .{n}"
            ));
        }
        suffixes.push(n);
    }
    let old = Ca::load(&caroot)?;
    // keep what the old CA permitted beyond the defaults
    if let Some(list) = old.as_ref().and_then(|o| o.permitted.as_ref()) {
        for s in list {
            if !s.contains('/')
                && !ca::DEFAULT_PERMITTED.contains(&s.as_str())
                && !suffixes.contains(s)
            {
                suffixes.push(s.clone());
            }
        }
    }
    if unconstrained {
        crate::ui::warn(
            "--unconstrained: the new CA can sign for ANY name; whoever gets its key can impersonate any site to this machine",
        );
    }
    Ok(RotatePlan {
        new: Ca::generate_for(&caroot, &suffixes, unconstrained)?,
        caroot,
        old,
        unconstrained,
        profiles: project
            .map(|p| local_ca_profiles(p).into_iter().map(|p| p.name).collect())
            .unwrap_or_default(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    pub ca: CaSummary,
    pub retired: Option<PathBuf>,
    pub trusted: Vec<StoreResult>,
    pub untrusted: Vec<StoreResult>,
    pub reissued: Vec<String>,
}

impl RotateReport {
    pub fn ok(&self) -> bool {
        self.trusted.iter().chain(&self.untrusted).all(|s| s.ok)
    }
}

/// Carries out a rotation, all under the CA lock.
pub fn rotate(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    project: Option<&Project>,
    plan: RotatePlan,
) -> anyhow::Result<RotateReport> {
    let lock = CaLock::exclusive(x, &plan.caroot)?;
    let old = ca::load_or_repair(&lock)?;
    // the old certificate (not its key) is kept to untrust it
    let retired = old
        .as_ref()
        .map(|o| plan.caroot.join("retired").join(&o.fingerprint[..16]));
    if let (Some(o), Some(r)) = (&old, &retired) {
        x.create_dir_all(r)?;
        x.write(&r.join(ca::CA_CERT), o.cert_pem.as_bytes(), Some(0o644))?;
    }
    issue::write_ca(x, &plan.new)?;
    crate::ui::ok(&format!(
        "new CA {} ({})",
        plan.new.nickname(),
        plan.new.cert_path().display()
    ));
    x.record(format!("a new local CA in {}", plan.caroot.display()), None);
    let install = store_steps(
        ctx,
        &discover(ctx, &plan.new, Scope::default()),
        CaRef::from_ca(&plan.new),
        Scope::default(),
        true,
    );
    let trusted = trust_locked(x, &lock, &plan.new, &install)?;
    let mut reissued = Vec::new();
    if let Some(p) = project {
        for prof in local_ca_profiles(p) {
            let issued = issue::plan_for(
                p,
                &prof,
                Reissue::IfNeeded,
                ctx.sys.now(),
                plan.caroot.clone(),
                Some(plan.new.clone()),
            )
            .and_then(|cp| match cp {
                Some(cp) => issue::apply_locked(x, &lock, &cp),
                None => Ok(()),
            });
            match issued {
                Ok(()) => reissued.push(prof.name.clone()),
                Err(e) => crate::ui::warn(&format!("profile {}: {e}", prof.name)),
            }
        }
    }
    let untrusted = match (&old, &retired) {
        (Some(o), Some(r)) => {
            let mut oref = CaRef::from_ca(o);
            oref.pem_path = r.join(ca::CA_CERT);
            let u = plan_untrust_of(ctx, &plan.caroot, oref.clone())?;
            untrust_locked(x, &lock, &plan.caroot, &oref, &u.stores, u.unknown)?
        }
        _ => Vec::new(),
    };
    Ok(RotateReport {
        ca: CaSummary::of(&plan.new),
        retired,
        trusted,
        untrusted,
        reissued,
    })
}

/// `certs status`: the CA, each store checked for real, the project's leaves.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub caroot: PathBuf,
    pub ca: Option<CaStatus>,
    pub stores: Vec<StoreTrust>,
    pub leaves: Vec<LeafStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaStatus {
    pub dir: PathBuf,
    pub file: PathBuf,
    pub fingerprint_sha256: String,
    pub subject: String,
    pub not_after: i64,
    pub days_left: i64,
    pub permitted: Option<Vec<String>>,
    pub mail_and_uri_closed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreTrust {
    pub kind: String,
    pub store: String,
    pub trust: Trust,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeafStatus {
    pub profile: String,
    pub file: PathBuf,
    pub ok: bool,
    pub names: Vec<String>,
    pub days_left: Option<i64>,
    pub problem: Option<String>,
}

impl StatusReport {
    pub fn text(&self) -> String {
        let Some(ca) = &self.ca else {
            return format!(
                "no CA yet in {} (created by `devenv certs trust` or `devenv certs issue`)\n",
                self.caroot.display()
            );
        };
        let mut out = format!(
            "CA      {}\n        {}\n        sha256 {}\n        expires in {} days\n",
            ca.file.display(),
            ca.subject,
            ca.fingerprint_sha256,
            ca.days_left
        );
        match &ca.permitted {
            Some(p) => out.push_str(&format!("        may sign only: {}\n", p.join(", "))),
            None => out.push_str("        UNCONSTRAINED: may sign for any name\n"),
        }
        if ca.permitted.is_some() && !ca.mail_and_uri_closed {
            out.push_str("        e-mail and URI names are NOT constrained (a CA of an older devenv): `devenv certs rotate` makes one that closes them\n");
        }
        out.push_str("trust\n");
        for s in &self.stores {
            let mark = match &s.trust {
                Trust::Trusted => "trusted".to_string(),
                Trust::NotTrusted => "not trusted".to_string(),
                Trust::Unknown(w) => format!("unknown ({w})"),
            };
            out.push_str(&format!("  {mark:<12} {}\n", s.store));
        }
        if !self.leaves.is_empty() {
            out.push_str("leaves\n");
            for l in &self.leaves {
                out.push_str(&match &l.problem {
                    None => format!(
                        "  {:<10} ok, {} days left: {} ({})\n",
                        l.profile,
                        l.days_left.unwrap_or_default(),
                        l.names.join(", "),
                        l.file.display()
                    ),
                    Some(n) => format!(
                        "  {:<10} needs issuing: {n} (`devenv certs issue {}`)\n",
                        l.profile, l.profile
                    ),
                });
            }
        }
        out
    }
}

pub fn status(ctx: &Ctx, project: Option<&Project>) -> anyhow::Result<StatusReport> {
    let caroot = issue::caroot_for(ctx.sys.as_ref(), project)?;
    let Some(ca) = Ca::load(&caroot)? else {
        return Ok(StatusReport {
            caroot,
            ca: None,
            stores: Vec::new(),
            leaves: Vec::new(),
        });
    };
    let env = trust_env(ctx, ctx.sys.as_ref(), CaRef::from_ca(&ca), Scope::default());
    let mut stores: Vec<Box<dyn Store>> = trust::discover(&env);
    for r in trust::load_records(&caroot)? {
        if !stores
            .iter()
            .any(|s| s.kind() == r.kind && s.location() == r.location)
            && let Some(s) = trust::from_record(&env, &r)
        {
            stores.push(s);
        }
    }
    let now = ctx.sys.now();
    let mut leaves = Vec::new();
    if let Some(p) = project {
        for prof in local_ca_profiles(p) {
            let (crt, key) = crate::certs::leaf_paths(&p.root, &prof.name);
            let names = leaf::desired_names(&prof).unwrap_or_default();
            leaves.push(
                match leaf::check(&p.scope(), &ca, &crt, &key, &names, now) {
                    Ok(l) => LeafStatus {
                        profile: prof.name.clone(),
                        file: crt,
                        ok: true,
                        names: l.info.sans,
                        days_left: Some((l.info.not_after - now) / 86400),
                        problem: None,
                    },
                    Err(n) => LeafStatus {
                        profile: prof.name.clone(),
                        file: crt,
                        ok: false,
                        names,
                        days_left: None,
                        problem: Some(n.to_string()),
                    },
                },
            );
        }
    }
    Ok(StatusReport {
        caroot,
        stores: stores
            .iter()
            .map(|s| StoreTrust {
                kind: s.kind().to_string(),
                store: s.describe(),
                trust: s.check(&env),
            })
            .collect(),
        ca: Some(CaStatus {
            dir: ca.dir.clone(),
            file: ca.cert_path(),
            fingerprint_sha256: ca.fingerprint.clone(),
            subject: ca.subject.clone(),
            not_after: ca.not_after,
            days_left: (ca.not_after - now) / 86400,
            permitted: ca.permitted.clone(),
            mail_and_uri_closed: ca.mail_and_uri_closed,
        }),
        leaves,
    })
}

/// `certs env`: a bundle of the system's CAs plus devenv's, and the exports that use it.
#[derive(Debug, Clone, Serialize)]
pub struct EnvPlan {
    pub shell: String,
    pub bundle: PathBuf,
    #[serde(skip)]
    pub content: Vec<u8>,
    pub write_bundle: bool,
    pub exports: Vec<(String, String)>,
}

impl EnvPlan {
    pub fn lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .exports
            .iter()
            .map(|(k, val)| export_line(&self.shell, k, val))
            .collect();
        let how = match self.shell.as_str() {
            "fish" => "devenv certs env | source",
            "powershell" | "pwsh" => "devenv certs env | Invoke-Expression",
            _ => "eval \"$(devenv certs env)\"",
        };
        v.push(format!("# use: {how}"));
        v
    }
}

/// Shell syntax for an environment variable.
pub fn export_line(shell: &str, key: &str, value: &str) -> String {
    match shell {
        "fish" => format!("set -gx {key} '{}';", value.replace('\'', "\\'")),
        "powershell" | "pwsh" => format!("$env:{key} = '{}'", value.replace('\'', "''")),
        _ => format!("export {key}={}", crate::sys::shell_quote(value)),
    }
}

pub fn plan_env(
    ctx: &Ctx,
    project: Option<&Project>,
    shell: Option<&str>,
) -> anyhow::Result<EnvPlan> {
    let dir = issue::caroot_for(ctx.sys.as_ref(), project)?;
    let Some(ca) = Ca::load(&dir)? else {
        return Err(UserError::new(format!("no CA in {}", dir.display()))
            .hint("run `devenv certs trust` first")
            .into());
    };
    let shell = shell
        .map(str::to_string)
        .or_else(|| {
            ctx.sys.var("SHELL").and_then(|s| {
                Path::new(&s)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
        })
        .unwrap_or_else(|| {
            if ctx.sys.platform().os == crate::platform::Os::Windows {
                "powershell".into()
            } else {
                "sh".into()
            }
        });
    // tools that replace their CA list (OpenSSL, Python requests, curl) get the system bundle
    // plus ours
    let bundle = dir.join("ca-bundle.pem");
    let mut content = crate::certs::system_bundle()
        .map(String::into_bytes)
        .unwrap_or_default();
    if !content.is_empty() && !content.ends_with(b"\n") {
        content.push(b'\n');
    }
    content.extend_from_slice(ca.cert_pem.as_bytes());
    let write_bundle = crate::contained::Scope::data_dir(&dir)
        .read(&bundle, 64 << 20)
        .ok()
        .as_deref()
        != Some(&content[..]);
    let ca_path = ca.cert_path().to_string_lossy().into_owned();
    let b = bundle.to_string_lossy().into_owned();
    Ok(EnvPlan {
        exports: vec![
            ("NODE_EXTRA_CA_CERTS".into(), ca_path),
            ("SSL_CERT_FILE".into(), b.clone()),
            ("REQUESTS_CA_BUNDLE".into(), b.clone()),
            ("CURL_CA_BUNDLE".into(), b),
        ],
        shell,
        bundle,
        content,
        write_bundle,
    })
}

pub fn apply_env(x: &mut Executor<'_>, plan: &EnvPlan) -> anyhow::Result<()> {
    if plan.write_bundle {
        x.write(&plan.bundle, &plan.content, Some(0o644))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_per_shell() {
        assert_eq!(export_line("bash", "A", "/x y"), "export A='/x y'");
        assert_eq!(export_line("zsh", "A", "/x"), "export A=/x");
        assert_eq!(export_line("fish", "A", "/x"), "set -gx A '/x';");
        assert_eq!(export_line("powershell", "A", r"C:\x"), r"$env:A = 'C:\x'");
    }
}

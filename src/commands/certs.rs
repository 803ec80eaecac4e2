//! `devenv certs trust|untrust|status|issue|rotate|env`, and the certificate step of `up`.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::Ctx;
use crate::certs::ca::{self, Ca};
use crate::certs::leaf::{self, Leaf, Need};
use crate::certs::trust::{self, CaRef, Env, Record, Store, Trust, TrustError};
use crate::cli::{CertsAction, CertsArgs};
use crate::error::UserError;
use crate::platform::{Os, Platform};
use crate::profile::{Profile, Project, Tls};
use crate::sys::{RecordingSys, Sys};

pub fn run(ctx: &Ctx, a: CertsArgs) -> anyhow::Result<i32> {
    match a.action {
        CertsAction::Trust { user, machine } => trust_cmd(ctx, user, machine),
        CertsAction::Untrust => untrust_cmd(ctx),
        CertsAction::Status => status_cmd(ctx),
        CertsAction::Issue { profile, force } => issue_cmd(ctx, profile.as_deref(), force),
        CertsAction::Rotate {
            permit,
            unconstrained,
        } => rotate_cmd(ctx, &permit, unconstrained),
        CertsAction::Env { shell } => env_cmd(ctx, shell.as_deref()),
    }
}

/// The CA directory, refusing one inside the project (a CA key must never end up in a
/// repository) — also when a symlink on the way leads there.
pub fn caroot_for(project: Option<&Project>) -> anyhow::Result<PathBuf> {
    let dir = ca::caroot();
    if let Some(p) = project {
        let abs = crate::fsutil::resolve(&dir)?;
        let root = crate::fsutil::resolve(&p.root)?;
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

/// Loads the CA of the locked directory, creating it on first need (and saying so; `trusting`:
/// the caller is about to trust it, so no advice to do that).
pub fn load_or_create_ca(lock: &ca::CaLock, trusting: bool) -> anyhow::Result<Ca> {
    let dir = lock.dir();
    let (ca, created) = ca::load_or_create(lock)?;
    if created {
        crate::ui::info(&format!(
            "created devenv's local CA in {} (name-constrained to {}){}",
            dir.display(),
            ca.permitted.clone().unwrap_or_default().join(", "),
            if trusting {
                ""
            } else {
                "; run `devenv certs trust` once so browsers trust it"
            }
        ));
    }
    Ok(ca)
}

fn trust_env<'a>(sys: &'a dyn Sys, ca: CaRef, user: bool, machine: bool) -> Env<'a> {
    let u = crate::paths::invoking_user();
    Env {
        sys,
        platform: Platform::current(),
        home: u.home.clone(),
        run_as: u.ids.map(|_| u.name.clone()),
        is_root: crate::hosts::elevate::is_admin(),
        ca,
        macos_user: user,
        windows_machine: machine,
    }
}

fn report_store(s: &dyn Store, r: &Result<(), TrustError>, verb: &str) -> bool {
    match r {
        Ok(()) => {
            crate::ui::ok(&format!("{verb} {}", s.describe()));
            true
        }
        Err(TrustError::MissingTool { tool, package }) => {
            crate::ui::warn(&format!(
                "{}: skipped, `{tool}` is missing: {package}",
                s.describe()
            ));
            false
        }
        Err(e) => {
            crate::ui::warn(&format!("{}: {e}", s.describe()));
            false
        }
    }
}

/// Installs the CA into every store; returns whether all succeeded.
pub fn trust_all(ctx: &Ctx, ca: &Ca, user: bool, machine: bool) -> anyhow::Result<bool> {
    let dry = RecordingSys::new();
    let sys: &dyn Sys = if ctx.g.dry_run {
        &dry
    } else {
        ctx.sys.as_ref()
    };
    let env = trust_env(sys, CaRef::from_ca(ca), user, machine);
    let stores = trust::discover(&env);
    if stores.is_empty() {
        crate::ui::warn("no trust store found on this machine");
    }
    let mut records = trust::load_records(&ca.dir)?;
    let mut all_ok = true;
    for s in &stores {
        let r = s.install(&env);
        if ctx.g.dry_run {
            println!("{}:", s.describe());
            for line in dry.take_described() {
                println!("  would {line}");
            }
            continue;
        }
        all_ok &= report_store(s.as_ref(), &r, "trusted by");
        if r.is_ok() {
            let rec = Record {
                kind: s.kind().to_string(),
                location: s.location(),
                fingerprint: ca.fingerprint.clone(),
                nickname: ca.nickname(),
            };
            if !records.contains(&rec) {
                records.push(rec);
            }
        }
    }
    if ctx.g.dry_run {
        return Ok(true);
    }
    trust::save_records(&ca.dir, &records)?;
    Ok(all_ok)
}

/// Removes the CA `ca` from exactly the stores recorded for it.
pub fn untrust_all(ctx: &Ctx, ca_ref: CaRef, caroot: &Path) -> anyhow::Result<bool> {
    let dry = RecordingSys::new();
    let sys: &dyn Sys = if ctx.g.dry_run {
        &dry
    } else {
        ctx.sys.as_ref()
    };
    let env = trust_env(sys, ca_ref.clone(), false, false);
    let records = trust::load_records(caroot)?;
    let (mine, others): (Vec<Record>, Vec<Record>) = records
        .into_iter()
        .partition(|r| r.fingerprint == ca_ref.fingerprint);
    if mine.is_empty() {
        crate::ui::info("no trust store has this CA installed by devenv; nothing to remove");
        return Ok(true);
    }
    let mut kept = others;
    let mut all_ok = true;
    for r in mine {
        let Some(s) = trust::from_record(&env, &r) else {
            crate::ui::warn(&format!(
                "unknown store kind `{}` at {}",
                r.kind, r.location
            ));
            kept.push(r);
            continue;
        };
        let res = s.uninstall(&env);
        if ctx.g.dry_run {
            println!("{}:", s.describe());
            for line in dry.take_described() {
                println!("  would {line}");
            }
            continue;
        }
        if report_store(s.as_ref(), &res, "removed from") {
            continue;
        }
        all_ok = false;
        kept.push(r);
    }
    if !ctx.g.dry_run {
        trust::save_records(caroot, &kept)?;
    }
    Ok(all_ok)
}

fn trust_cmd(ctx: &Ctx, user: bool, machine: bool) -> anyhow::Result<i32> {
    let project = ctx.project().ok();
    let ca = if ctx.g.dry_run {
        match Ca::load(&caroot_for(project.as_ref())?)? {
            Some(ca) => Some(ca),
            None => {
                println!(
                    "would create a CA in {}, then install it into every trust store",
                    ca::caroot().display()
                );
                return Ok(0);
            }
        }
    } else {
        None
    };
    // the lock also keeps the record of trusted stores whole when two runs trust at once
    let lock = if ctx.g.dry_run {
        None
    } else {
        Some(ca::CaLock::exclusive(&caroot_for(project.as_ref())?)?)
    };
    let ca = match (ca, &lock) {
        (Some(ca), _) => ca,
        (None, Some(l)) => load_or_create_ca(l, true)?,
        (None, None) => unreachable!("a dry run loaded the CA"),
    };
    let ok = trust_all(ctx, &ca, user, machine)?;
    if !ctx.g.dry_run {
        crate::ui::info(&format!(
            "CA {} ({})",
            ca.nickname(),
            ca.cert_path().display()
        ));
    }
    Ok(if ok { 0 } else { 1 })
}

fn untrust_cmd(ctx: &Ctx) -> anyhow::Result<i32> {
    let project = ctx.project().ok();
    let dir = caroot_for(project.as_ref())?;
    let _lock = if ctx.g.dry_run {
        None
    } else {
        Some(ca::CaLock::exclusive(&dir)?)
    };
    let Some(ca) = (match &_lock {
        Some(l) => Ca::load_locked(l)?,
        None => Ca::load(&dir)?,
    }) else {
        crate::ui::info(&format!("no CA in {}; nothing to untrust", dir.display()));
        return Ok(0);
    };
    Ok(if untrust_all(ctx, CaRef::from_ca(&ca), &dir)? {
        0
    } else {
        1
    })
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

fn status_cmd(ctx: &Ctx) -> anyhow::Result<i32> {
    let project = ctx.project().ok();
    let dir = caroot_for(project.as_ref())?;
    let Some(ca) = Ca::load(&dir)? else {
        if ctx.g.json {
            super::print_json(&json!({"ca": null, "caroot": dir}))?;
        } else {
            println!(
                "no CA yet in {} (created by `devenv certs trust` or `devenv certs issue`)",
                dir.display()
            );
        }
        return Ok(0);
    };
    let env = trust_env(ctx.sys.as_ref(), CaRef::from_ca(&ca), false, false);
    let mut stores: Vec<Box<dyn Store>> = trust::discover(&env);
    for r in trust::load_records(&dir)? {
        if !stores
            .iter()
            .any(|s| s.kind() == r.kind && s.location() == r.location)
            && let Some(s) = trust::from_record(&env, &r)
        {
            stores.push(s);
        }
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let checks: Vec<(String, String, Trust)> = stores
        .iter()
        .map(|s| (s.kind().to_string(), s.describe(), s.check(&env)))
        .collect();
    let mut leaves = Vec::new();
    if let Some(p) = &project {
        for prof in local_ca_profiles(p) {
            let (crt, key) = crate::certs::leaf_paths(&p.root, &prof.name);
            let names = leaf::desired_names(&prof).unwrap_or_default();
            let state = leaf::check(&ca, &crt, &key, &names, now);
            leaves.push((prof.name.clone(), crt, state));
        }
    }
    if ctx.g.json {
        super::print_json(&json!({
            "ca": {
                "dir": dir,
                "fingerprint_sha256": ca.fingerprint,
                "subject": ca.subject,
                "not_after": ca.not_after,
                "days_left": (ca.not_after - now) / 86400,
                "permitted": ca.permitted,
            },
            "stores": checks.iter().map(|(k, d, t)| json!({"kind": k, "store": d, "trust": t})).collect::<Vec<_>>(),
            "leaves": leaves.iter().map(|(p, crt, st)| match st {
                Ok(l) => json!({"profile": p, "file": crt, "ok": true, "names": l.info.sans, "not_after": l.info.not_after, "days_left": (l.info.not_after - now) / 86400}),
                Err(n) => json!({"profile": p, "file": crt, "ok": false, "problem": n.to_string()}),
            }).collect::<Vec<_>>(),
        }))?;
        return Ok(0);
    }
    println!("CA      {}", ca.cert_path().display());
    println!("        {}", ca.subject);
    println!("        sha256 {}", ca.fingerprint);
    println!("        expires in {} days", (ca.not_after - now) / 86400);
    match &ca.permitted {
        Some(p) => println!("        may sign only: {}", p.join(", ")),
        None => println!("        UNCONSTRAINED: may sign for any name"),
    }
    if ca.permitted.is_some() && !ca.mail_and_uri_closed {
        println!(
            "        e-mail and URI names are NOT constrained (a CA of an older devenv): `devenv certs rotate` makes one that closes them"
        );
    }
    println!("trust");
    for (_, d, t) in &checks {
        let mark = match t {
            Trust::Trusted => "trusted".to_string(),
            Trust::NotTrusted => "not trusted".to_string(),
            Trust::Unknown(w) => format!("unknown ({w})"),
        };
        println!("  {mark:<12} {d}");
    }
    if !leaves.is_empty() {
        println!("leaves");
        for (p, crt, st) in &leaves {
            match st {
                Ok(l) => println!(
                    "  {p:<10} ok, {} days left: {} ({})",
                    (l.info.not_after - now) / 86400,
                    l.info.sans.join(", "),
                    crt.display()
                ),
                Err(n) => println!("  {p:<10} needs issuing: {n} (`devenv certs issue {p}`)"),
            }
        }
    }
    Ok(0)
}

/// Makes sure the profile's leaf exists and is current (local-CA profiles); returns it and whether
/// it was (re-)issued now.
pub fn ensure_leaf(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    force: bool,
) -> anyhow::Result<Option<(Leaf, bool)>> {
    if profile.file.tls != Tls::LocalCa {
        return Ok(None);
    }
    let names = leaf::desired_names(profile)?;
    let dir = caroot_for(Some(project))?;
    if ctx.g.dry_run {
        let ca = Ca::load(&dir)?;
        if let Some(ca) = &ca {
            leaf::check_constraints(ca, profile, &names)?;
        }
        let (crt, key) = crate::certs::leaf_paths(&project.root, &profile.name);
        let need = match &ca {
            None => Some(Need::Missing),
            Some(ca) => leaf::check(ca, &crt, &key, &names, now()).err(),
        };
        match (need, force) {
            (None, false) => println!("{}: current, nothing to issue", crt.display()),
            (n, _) => println!(
                "would issue {} for {} ({})",
                crt.display(),
                names.join(", "),
                n.map_or("--force".to_string(), |n| n.to_string())
            ),
        }
        return Ok(None);
    }
    // one lock over the CA and the leaf: another run can neither replace the CA under this leaf
    // nor write its own key next to this certificate
    let lock = ca::CaLock::exclusive(&dir)?;
    let ca = load_or_create_ca(&lock, false)?;
    issue_leaf_locked(&lock, &ca, project, profile, &names, force)
}

/// Checks the profile's leaf against the CA, and issues it when needed (the caller holds the
/// CA lock, see [`ensure_leaf`]).
fn issue_leaf_locked(
    _lock: &ca::CaLock,
    ca: &Ca,
    project: &Project,
    profile: &Profile,
    names: &[String],
    force: bool,
) -> anyhow::Result<Option<(Leaf, bool)>> {
    leaf::check_constraints(ca, profile, names)?;
    let (crt, key) = crate::certs::leaf_paths(&project.root, &profile.name);
    let need = match leaf::check(ca, &crt, &key, names, now()) {
        Ok(l) if !force => return Ok(Some((l, false))),
        Ok(_) => Need::Forced,
        Err(n) => n,
    };
    let l = leaf::issue(ca, names, &crt, &key)?;
    crate::ui::ok(&format!(
        "issued {} for {} ({need}; valid {} days)",
        crate::error::display_path(&crt),
        names.join(", "),
        leaf::LEAF_VALIDITY_DAYS
    ));
    ensure_gitignored(&project.root);
    Ok(Some((l, true)))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `certs/` holds private keys: keep it out of git even if the project's .gitignore forgot it.
fn ensure_gitignored(root: &Path) {
    let gi = root.join("certs/.gitignore");
    if !gi.exists() {
        let _ = std::fs::write(
            &gi,
            "# leaf certificates and keys minted by devenv: never commit them\n*\n",
        );
    }
}

fn issue_cmd(ctx: &Ctx, profile: Option<&str>, force: bool) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, profile)?;
    if profile.file.tls != Tls::LocalCa {
        return Err(UserError::usage(format!(
            "profile {} has `tls: {}`; only `tls: local-ca` profiles get certificates from devenv's CA",
            profile.name,
            profile.file.tls.mode()
        ))
        .into());
    }
    let leaf = ensure_leaf(ctx, &project, &profile, force)?;
    if let Some((l, false)) = leaf {
        crate::ui::info(&format!(
            "{} is current: {} ({} days left)",
            crate::error::display_path(&l.cert),
            l.info.sans.join(", "),
            (l.info.not_after - now()) / 86400
        ));
    }
    Ok(0)
}

fn rotate_cmd(ctx: &Ctx, permit: &[String], unconstrained: bool) -> anyhow::Result<i32> {
    let project = ctx.project().ok();
    let dir = caroot_for(project.as_ref())?;
    let mut suffixes = Vec::new();
    for p in permit {
        let n = crate::hosts::validate::normalize_name(
            p.trim_start_matches("*.").trim_start_matches('.'),
        )
        .map_err(|e| UserError::usage(format!("--permit {p}: {e}")))?;
        if !n.contains('.') && !ca::DEFAULT_PERMITTED.contains(&n.as_str()) {
            crate::ui::warn(&format!(
                "--permit {n} allows the CA to sign for every name under the top-level domain .{n}"
            ));
        }
        suffixes.push(n);
    }
    let old = Ca::load(&dir)?;
    // keep what the old CA permitted beyond the defaults
    if let Some(o) = &old
        && let Some(list) = &o.permitted
    {
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
    if ctx.g.dry_run {
        println!(
            "would create a new CA in {} permitting {}",
            dir.display(),
            if unconstrained {
                "any name".to_string()
            } else {
                [
                    ca::DEFAULT_PERMITTED
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>(),
                    suffixes.clone(),
                ]
                .concat()
                .join(", ")
            }
        );
        println!("would trust it, re-issue the project's leaves, and untrust the old CA");
        return Ok(0);
    }
    let lock = ca::CaLock::exclusive(&dir)?;
    let old = Ca::load_locked(&lock)?;
    // 1. the new CA, next to the old one
    let staging = dir.join(".rotating");
    let _ = std::fs::remove_dir_all(&staging);
    let new = Ca::create(&staging, &suffixes, unconstrained)?;
    // 2. move it into place; keep the old certificate (not its key) to untrust it
    let retired = old
        .as_ref()
        .map(|o| dir.join("retired").join(&o.fingerprint[..16]));
    if let (Some(o), Some(r)) = (&old, &retired) {
        std::fs::create_dir_all(r)?;
        std::fs::rename(o.cert_path(), r.join(ca::CA_CERT))?;
        std::fs::remove_file(o.key_path())?;
    }
    std::fs::rename(staging.join(ca::CA_KEY), dir.join(ca::CA_KEY))?;
    std::fs::rename(staging.join(ca::CA_CERT), dir.join(ca::CA_CERT))?;
    let _ = std::fs::remove_dir_all(&staging);
    let new = Ca::load_locked(&lock)?.unwrap_or(new);
    crate::ui::ok(&format!(
        "new CA {} ({})",
        new.nickname(),
        new.cert_path().display()
    ));
    // 3. trust it
    let trusted = trust_all(ctx, &new, false, false)?;
    // 4. re-issue the project's leaves
    if let Some(p) = &project {
        for prof in local_ca_profiles(p) {
            let issued = leaf::desired_names(&prof)
                .and_then(|names| issue_leaf_locked(&lock, &new, p, &prof, &names, false));
            if let Err(e) = issued {
                crate::ui::warn(&format!("profile {}: {e}", prof.name));
            }
        }
    }
    // 5. untrust the old one
    let mut untrusted = true;
    if let (Some(o), Some(r)) = (&old, &retired) {
        let mut oref = CaRef::from_ca(o);
        oref.pem_path = r.join(ca::CA_CERT);
        untrusted = untrust_all(ctx, oref, &dir)?;
    }
    Ok(if trusted && untrusted { 0 } else { 1 })
}

fn system_bundle() -> Option<PathBuf> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
        "/usr/local/etc/openssl/cert.pem",
        "/opt/homebrew/etc/openssl@3/cert.pem",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Shell syntax for an environment variable.
pub fn export_line(shell: &str, key: &str, value: &str) -> String {
    match shell {
        "fish" => format!("set -gx {key} '{}';", value.replace('\'', "\\'")),
        "powershell" | "pwsh" => format!("$env:{key} = '{}'", value.replace('\'', "''")),
        _ => format!("export {key}={}", crate::sys::shell_quote(value)),
    }
}

fn env_cmd(ctx: &Ctx, shell: Option<&str>) -> anyhow::Result<i32> {
    let project = ctx.project().ok();
    let dir = caroot_for(project.as_ref())?;
    let Some(ca) = Ca::load(&dir)? else {
        return Err(UserError::new(format!("no CA in {}", dir.display()))
            .hint("run `devenv certs trust` first")
            .into());
    };
    let shell = shell
        .map(str::to_string)
        .or_else(|| {
            std::env::var("SHELL").ok().and_then(|s| {
                Path::new(&s)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
        })
        .unwrap_or_else(|| {
            if Platform::current().os == Os::Windows {
                "powershell".into()
            } else {
                "sh".into()
            }
        });
    // tools that replace their CA list (OpenSSL, Python requests, curl) get the system bundle plus ours
    let bundle = dir.join("ca-bundle.pem");
    let mut content = system_bundle()
        .and_then(|b| std::fs::read(b).ok())
        .unwrap_or_default();
    if !content.is_empty() && !content.ends_with(b"\n") {
        content.push(b'\n');
    }
    content.extend_from_slice(ca.cert_pem.as_bytes());
    if std::fs::read(&bundle).ok().as_deref() != Some(&content[..]) && !ctx.g.dry_run {
        crate::fsutil::write_atomic(&bundle, &content, Some(0o644))?;
        crate::paths::chown_to_invoking_user(&bundle);
    }
    let ca_path = ca.cert_path().to_string_lossy().into_owned();
    let b = bundle.to_string_lossy().into_owned();
    for (k, v) in [
        ("NODE_EXTRA_CA_CERTS", &ca_path),
        ("SSL_CERT_FILE", &b),
        ("REQUESTS_CA_BUNDLE", &b),
        ("CURL_CA_BUNDLE", &b),
    ] {
        println!("{}", export_line(&shell, k, v));
    }
    let how = match shell.as_str() {
        "fish" => "devenv certs env | source",
        "powershell" | "pwsh" => "devenv certs env | Invoke-Expression",
        _ => "eval \"$(devenv certs env)\"",
    };
    println!("# use: {how}");
    Ok(0)
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

//! The readiness probes of `up` (and `doctor`): devenv.yaml's `probes:`, rendered for the profile,
//! or by default the site's first name over HTTPS when the proxy publishes 443.

use std::time::Duration;

use super::Ctx;
use crate::profile::{Profile, Project, Tls};
use crate::render::Rendered;

/// The probe URLs of a profile.
pub fn urls(
    project: &Project,
    profile: &Profile,
    rendered: &Rendered,
) -> anyhow::Result<Vec<(String, Option<u16>)>> {
    let mut out = Vec::new();
    if project.file.probes.is_empty() {
        if profile.file.tls == Tls::LocalCa {
            for u in super::up::urls(profile, &rendered.stack)
                .into_iter()
                .take(1)
            {
                out.push((u, None));
            }
        }
        return Ok(out);
    }
    let env = crate::render::environment(&project.root, String::new());
    let ctx = minijinja::Value::from(minijinja::value::Serde(&crate::render::context(
        project, profile,
    )?));
    for p in &project.file.probes {
        if !p.profiles.is_empty() && !p.profiles.contains(&profile.name) {
            continue;
        }
        let url = env.render_str(&p.url, &ctx).map_err(|e| {
            crate::error::ConfigError::new(
                project.root.join(crate::profile::PROJECT_FILE),
                format!("probe url `{}`: {e}", p.url),
            )
        })?;
        out.push((url, p.status));
    }
    Ok(out)
}

/// Runs the probes (local-CA and plain-HTTP profiles); prints each; returns whether all passed.
pub fn run_probes(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    rendered: &Rendered,
) -> anyhow::Result<bool> {
    if matches!(profile.file.tls, Tls::Files(_)) {
        return Ok(true);
    }
    let list = urls(project, profile, rendered)?;
    if list.is_empty() {
        return Ok(true);
    }
    let ca = match profile.file.tls {
        Tls::LocalCa => crate::certs::ca::Ca::load(&super::certs::caroot_for(Some(project))?)?
            .map(|c| c.cert_pem),
        _ => None,
    };
    let mut ok = true;
    for (url, expect) in list {
        match crate::probe::wait(&url, expect, ca.as_deref(), Duration::from_secs(60)) {
            Ok((code, t)) => {
                crate::ui::ok(&format!("{url} answers {code} ({:.1}s)", t.as_secs_f64()))
            }
            Err(e) => {
                ok = false;
                crate::ui::warn(&format!("{url} is not ready: {e}"));
            }
        }
    }
    let _ = ctx;
    Ok(ok)
}

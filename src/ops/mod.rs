//! The operations: one module per thing a user asks devenv to do. Each gathers the facts it needs
//! (read-only), computes a plan — a plain value that `--dry-run` prints and tests assert on — and
//! applies it through the one [`exec::Executor`], returning a report a command prints as text or
//! JSON. The commands (`src/commands/`) are thin: parse, plan, confirm or print, apply, report.

pub mod build;
pub mod certs;
pub mod context;
pub mod diff;
pub mod doctor;
pub mod down;
pub mod hosts;
pub mod init;
pub mod live;
pub mod render;
pub mod service;
pub mod status;
pub mod switch;
pub mod tasks;
pub mod up;
pub mod update;

use std::path::PathBuf;

use crate::error::UserError;
use crate::exec::Executor;
use crate::profile::{Profile, Project};
use crate::sys::Facts;
pub use context::Ctx;

/// A file an operation creates once (a `generate:` secret, the secret-name salt).
#[derive(Debug, Clone)]
pub struct NewFile {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub what: String,
}

/// What rendering a profile for real needs that may not exist yet, minted in memory: the
/// project's secret-name salt and the profile's `generate:` secrets, with the secrets' values
/// (the ones to create included) for the render.
pub struct Minted {
    pub salt: Vec<u8>,
    pub new_files: Vec<NewFile>,
    pub secrets: Vec<crate::render::SecretInput>,
}

pub fn mint(sys: &dyn Facts, project: &Project, profile: &Profile) -> Minted {
    let mut new_files = Vec::new();
    let salt = match crate::state::existing_salt(&project.root) {
        Some(s) => s,
        None => {
            let s = crate::hash::hex(&crate::hash::random_bytes(32)).into_bytes();
            new_files.push(NewFile {
                path: crate::state::dir(&project.root).join("salt"),
                data: s.clone(),
                what: "the key of secret names".into(),
            });
            s
        }
    };
    let mut secrets = crate::render::collect_secrets(project, profile, sys);
    for (k, s) in &profile.file.secrets {
        let Some(n) = s.generate else { continue };
        let p = crate::render::generated_secret_path(&project.root, &profile.name, k);
        if !p.exists() {
            let v = crate::hash::hex(&crate::hash::random_bytes(n as usize)).into_bytes();
            set_secret(&mut secrets, k, v.clone());
            new_files.push(NewFile {
                path: p,
                data: v,
                what: format!("the generated secret `{k}`"),
            });
        }
    }
    Minted {
        salt,
        new_files,
        secrets,
    }
}

/// Sets a secret's value (the one minted for it).
pub fn set_secret(secrets: &mut Vec<crate::render::SecretInput>, key: &str, value: Vec<u8>) {
    match secrets.iter_mut().find(|s| s.key == key) {
        Some(s) => s.value = Ok(value),
        None => secrets.push(crate::render::SecretInput {
            key: key.to_string(),
            origin: "minted by devenv".into(),
            value: Ok(value),
        }),
    }
}

/// Writes what [`mint`] made, each once, private to the user (under `.devenv/`).
pub fn write_minted(
    x: &mut Executor<'_>,
    project: &Project,
    files: &[NewFile],
) -> anyhow::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let dir = crate::state::dir(&project.root);
    x.create_dir_all(&dir)?;
    if !dir.join(".gitignore").exists() {
        x.write(&dir.join(".gitignore"), b"*\n", None)?;
    }
    for f in files {
        if let Some(d) = f.path.parent() {
            x.create_dir_all(d)?;
        }
        x.write(&f.path, &f.data, Some(0o600))?;
    }
    Ok(())
}

/// A failure while planning changed nothing: such a refusal (a guard, an unreachable engine, a
/// port in use) exits 2, which means exactly that. Unexpected errors keep their code.
pub fn unchanged(mut e: anyhow::Error) -> anyhow::Error {
    if let Some(u) = e.downcast_mut::<UserError>()
        && u.code == crate::error::EXIT_FAILURE
    {
        u.code = crate::error::EXIT_CONFIG;
    }
    e
}

/// A yes on the terminal; no terminal (a script, CI) is a no.
pub fn confirmed(question: &str) -> anyhow::Result<bool> {
    Ok(std::io::IsTerminal::is_terminal(&std::io::stdin()) && confirm(question)?)
}

/// Whether stdin is a terminal someone can answer on.
pub fn interactive() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdin())
}

/// Asks a yes/no question on the terminal (default yes).
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    eprint!("{question} [Y/n] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let a = line.trim().to_ascii_lowercase();
    Ok(a.is_empty() || a == "y" || a == "yes")
}

/// Prints a plan (`--dry-run`): its lines, or with `--json` one document holding them.
pub fn print_plan(ctx: &Ctx, text: &str) -> anyhow::Result<i32> {
    if ctx.g.json {
        print_json(&serde_json::json!({
            "dry_run": true,
            "plan": text.lines().collect::<Vec<_>>(),
        }))?;
    } else {
        crate::out!("{text}");
    }
    Ok(0)
}

/// Prints what a dry run's executor recorded ("would run: …"), as a plan.
pub fn print_would(ctx: &Ctx, x: &Executor<'_>) -> anyhow::Result<i32> {
    let text: String = x.would().iter().map(|l| format!("would {l}\n")).collect();
    print_plan(ctx, &text)
}

/// Prints one JSON document on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    crate::outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// The time now, RFC 3339.
pub fn now_rfc3339(sys: &dyn Facts) -> String {
    time::OffsetDateTime::from_unix_timestamp(sys.now())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;

/// Writes `.devenv/state.json` (and `.devenv/.gitignore` the first time) through the executor.
/// A note's key in [`crate::state::State::notes_seen`].
pub fn note_key(note: &str) -> String {
    crate::hash::short(note.as_bytes(), 12)
}

/// Says the notes not said on the last run of this profile (all of them with `-v`), then how
/// many were left out as said before and where to see them.
pub fn print_notes(notes: &[String], seen: &[String]) {
    let verbose = crate::ui::get().verbosity >= 1;
    let mut hidden = 0;
    for n in notes {
        if !verbose && seen.contains(&note_key(n)) {
            hidden += 1;
        } else {
            crate::ui::note(n);
        }
    }
    if hidden > 0 {
        crate::ui::note(&format!(
            "{hidden} {} as on the last run (`-v` or `devenv render` shows {})",
            if hidden == 1 { "note" } else { "notes" },
            if hidden == 1 { "it" } else { "them" }
        ));
    }
}

/// Records `notes` as said for `profile` (with those said before: `switch` says the render's,
/// `up` those and its own; the newest 200 are kept).
pub fn remember_notes(state: &mut crate::state::State, profile: &str, notes: &[String]) {
    let seen = state.notes_seen.entry(profile.to_string()).or_default();
    for n in notes {
        let k = note_key(n);
        seen.retain(|s| *s != k);
        seen.push(k);
    }
    let extra = seen.len().saturating_sub(200);
    seen.drain(..extra);
}

pub fn save_state(
    x: &mut Executor<'_>,
    project: &crate::profile::Project,
    state: &crate::state::State,
) -> anyhow::Result<()> {
    let dir = crate::state::dir(&project.root);
    x.create_dir_all(&dir)?;
    let gi = dir.join(".gitignore");
    if !gi.exists() {
        x.write(&gi, b"*\n", None)?;
    }
    let mut s = serde_json::to_string_pretty(state)?;
    s.push('\n');
    x.write(&crate::state::path(&project.root), s.as_bytes(), None)
}

/// A port the stack publishes, and what it really serves there.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Endpoint {
    pub service: String,
    /// The published port (`None`: one docker picks).
    pub port: Option<u64>,
    pub target: u64,
    pub serves: crate::probe::Served,
    /// The HTTP status `/` answers with (HTTP and HTTPS ports; `None` otherwise).
    pub status: Option<u16>,
    /// `https://name:port/`, `http://…`, `tcp://name:port`; `None` when nothing answers.
    pub url: Option<String>,
}

/// Every TCP port the stack publishes, with what answers there (asked of the profile's first
/// name, as a browser would reach it).
pub fn endpoints(
    sys: &dyn crate::sys::Facts,
    profile: &crate::profile::Profile,
    stack: &crate::stack::Stack,
    lookup: &crate::probe::Lookup,
) -> Vec<Endpoint> {
    let name = profile
        .file
        .hosts
        .first()
        .cloned()
        .unwrap_or_else(|| profile.file.domain.clone());
    let mut out: Vec<Endpoint> = Vec::new();
    for s in &stack.services {
        for p in s.ports.iter().filter(|p| p.protocol == "tcp") {
            let Some(port) = p.published else {
                out.push(Endpoint {
                    service: s.name.clone(),
                    port: None,
                    target: p.target,
                    serves: crate::probe::Served::Closed,
                    status: None,
                    url: None,
                });
                continue;
            };
            if out.iter().any(|e| e.port == Some(port)) {
                continue;
            }
            let answer = u16::try_from(port)
                .map(|p| sys.serves(&name, p, lookup))
                .unwrap_or(crate::probe::Served::Closed.into());
            let serves = answer.served;
            let url = match serves {
                crate::probe::Served::Closed | crate::probe::Served::Unresolved => None,
                crate::probe::Served::Tcp => Some(format!("tcp://{name}:{port}")),
                s => Some(web_url(s.scheme(), &name, port)),
            };
            out.push(Endpoint {
                service: s.name.clone(),
                port: Some(port),
                target: p.target,
                serves,
                status: answer.status,
                url,
            });
        }
    }
    out
}

fn web_url(scheme: &str, name: &str, port: u64) -> String {
    match (scheme, port) {
        ("https", 443) | ("http", 80) => format!("{scheme}://{name}/"),
        _ => format!("{scheme}://{name}:{port}/"),
    }
}

/// The site's web addresses: every HTTP(S) endpoint, each of the profile's names on 443 and 80
/// (plain 80 left out when 443 serves HTTPS: it redirects there).
pub fn web_urls(profile: &crate::profile::Profile, endpoints: &[Endpoint]) -> Vec<String> {
    use crate::probe::Served;
    let mut names = profile.file.hosts.clone();
    if names.is_empty() {
        names.push(profile.file.domain.clone());
    }
    let https_443 = endpoints
        .iter()
        .any(|e| e.port == Some(443) && e.serves == Served::Https);
    let mut out: Vec<String> = Vec::new();
    for e in endpoints {
        let (Some(port), Served::Https | Served::Http) = (e.port, e.serves) else {
            continue;
        };
        if port == 80 && https_443 {
            continue;
        }
        let each: &[String] = if port == 80 || port == 443 {
            &names
        } else {
            &names[..1]
        };
        for n in each {
            let u = web_url(e.serves.scheme(), n, port);
            if !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out
}

/// A web address as `status` and `up` list it: a server error at `/` is said beside it (a proxy
/// whose upstream is down answers 502).
pub fn url_line(u: &str, endpoints: &[Endpoint]) -> String {
    let failing = endpoints.iter().find_map(|e| {
        let port = e.port?;
        let status = e.status.filter(|s| *s >= 500)?;
        let host = crate::probe::parse_url(u).ok()?.host;
        (web_url(e.serves.scheme(), &host, port) == u).then_some((status, &e.service))
    });
    match failing {
        Some((status, service)) => format!("{u} (answered {status}: `devenv logs {service}`)"),
        None => u.to_string(),
    }
}

/// The endpoints as a user reads them: the web URLs, then what is not HTTP, then what does not
/// answer (the last on stderr, as warnings).
pub fn print_endpoints(urls: &[String], endpoints: &[Endpoint]) {
    for u in urls {
        crate::outln!("{}", url_line(u, endpoints));
    }
    for e in endpoints {
        match (e.port, e.serves) {
            (Some(_), crate::probe::Served::Tcp) => crate::outln!(
                "{} ({}: not HTTP)",
                e.url.clone().unwrap_or_default(),
                e.service
            ),
            (Some(p), crate::probe::Served::Closed) => crate::ui::warn(&format!(
                "port {p} ({} → {}) does not answer",
                e.service, e.target
            )),
            (Some(p), crate::probe::Served::Unresolved) => crate::ui::warn(&format!(
                "port {p} ({}) not checked: the profile's name does not resolve on this machine (`devenv hosts apply`, `devenv doctor`)",
                e.service
            )),
            (None, _) => crate::ui::info(&format!(
                "{} publishes {} on a port docker picks (`docker ps` shows it)",
                e.service, e.target
            )),
            _ => {}
        }
    }
}

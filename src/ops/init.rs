//! `devenv init`: scaffold a working project in a directory. Never overwrites a file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use crate::adopt::LocalTld;
use crate::error::UserError;
use crate::exec::Executor;

const FILES: &[(&str, &str)] = &[
    ("devenv.yaml", include_str!("../scaffold/devenv.yaml")),
    (
        "profiles/local.yaml",
        include_str!("../scaffold/local.yaml"),
    ),
    (
        "profiles/server.yaml",
        include_str!("../scaffold/server.yaml"),
    ),
    (
        "templates/stack.yml.j2",
        include_str!("../scaffold/stack.yml.j2"),
    ),
    (
        "templates/nginx.conf.j2",
        include_str!("../scaffold/nginx.conf.j2"),
    ),
];

const GITIGNORE: &[&str] = &["/certs/", "/.devenv/"];

/// `FILE` of `--from` (relative to the project directory) checked to be a regular file inside it,
/// as a path relative to it.
fn relative_to(dir: &Path, file: &Path) -> anyhow::Result<String> {
    // relative to the project directory: `-C DIR` runs as if started in DIR (as git -C does)
    let full = if file.is_absolute() {
        file.to_path_buf()
    } else {
        dir.join(file)
    };
    let meta = std::fs::metadata(&full).map_err(|_| {
        let mut e = UserError::usage(format!("--from {}: no such file", file.display()));
        // `docker-compose.yml` where the file is `compose.yaml`, and the like
        if let Some(f) = COMPOSE_FILES.iter().find(|f| dir.join(f).is_file()) {
            e = e.hint(format!("this directory has {f}: `devenv init --from {f}`"));
        }
        e
    })?;
    if !meta.is_file() {
        return Err(
            UserError::usage(format!("--from {}: not a regular file", file.display())).into(),
        );
    }
    let real = crate::contained::canonicalize(&full)?;
    let root = crate::contained::canonicalize(dir)?;
    let rel = real.strip_prefix(&root).map_err(|_| {
        UserError::usage(format!(
            "--from {}: the file is outside the project directory {}",
            file.display(),
            root.display()
        ))
        .hint("run init in the directory that holds the compose file (or pass -C DIR)")
    })?;
    Ok(rel.to_string_lossy().replace('\\', "/"))
}

/// A project name from a directory name: lowercase, `-` for anything else.
pub fn name_from_dir(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s = s.trim_matches('-').to_string();
    s.truncate(40);
    if s.is_empty() { "app".to_string() } else { s }
}

pub use crate::profile::COMPOSE_FILES;

#[derive(Debug, Clone, Serialize)]
pub struct InitPlan {
    pub dir: PathBuf,
    pub name: String,
    /// For `--from`: what devenv read in the files and what to check.
    pub inferred: Vec<String>,
    /// Files to create: path relative to `dir` → content.
    #[serde(skip)]
    pub files: Vec<(String, String)>,
    pub create: Vec<String>,
    pub keep: Vec<String>,
    /// Lines `.gitignore` gets.
    pub gitignore: Vec<String>,
}

impl InitPlan {
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for i in &self.inferred {
            out.push_str(&format!("inferred: {i}\n"));
        }
        for c in &self.create {
            out.push_str(&format!("would create {c}\n"));
        }
        for k in &self.keep {
            out.push_str(&format!("would keep existing {k}\n"));
        }
        if !self.gitignore.is_empty() {
            out.push_str(&format!(
                "would add {} to .gitignore\n",
                self.gitignore.join(" and ")
            ));
        }
        out
    }
}

/// The local names' top-level domain: the one asked for, else `.localhost` where a hosts file
/// edit would need an administrator this user is not (Windows, not elevated), else `.test`.
fn local_tld(ctx: &Ctx, asked: Option<LocalTld>) -> (LocalTld, Option<String>) {
    if let Some(t) = asked {
        return (t, None);
    }
    if ctx.sys.platform().os == crate::platform::Os::Windows && !ctx.sys.is_admin() {
        return (
            LocalTld::Localhost,
            Some(
                "local names under .localhost: not running as administrator, and browsers and curl resolve *.localhost to this machine themselves, so no hosts file edit is needed (`--tld test` for .test names and a hosts entry)"
                    .into(),
            ),
        );
    }
    (LocalTld::Test, None)
}

pub fn plan(
    ctx: &Ctx,
    name: Option<&str>,
    from: &[PathBuf],
    tld: Option<LocalTld>,
) -> anyhow::Result<InitPlan> {
    let (tld, tld_note) = local_tld(ctx, tld);
    let dir: PathBuf = match &ctx.g.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    if !dir.is_dir() {
        return Err(UserError::usage(format!("{}: no such directory", dir.display())).into());
    }
    // compose's own project name (`name:` at the top of the first file) names the stack too
    let compose_name = if name.is_none() {
        from.first().and_then(|f| compose_project_name(&dir, f))
    } else {
        None
    };
    let name = name
        .map(String::from)
        .or_else(|| compose_name.clone())
        .unwrap_or_else(|| name_from_dir(&dir));
    if !crate::profile::valid_project_name(&name) {
        return Err(UserError::usage(format!("invalid project name `{name}`"))
            .hint("use lowercase letters, digits, `-` and `_` (pass --name NAME)")
            .into());
    }
    let (wanted, inferred): (Vec<(String, String)>, Vec<String>) = if from.is_empty() {
        if let Some(found) = COMPOSE_FILES.iter().find(|f| dir.join(f).is_file()) {
            return Err(UserError::usage(format!(
                "{found} is here: a plain init would scaffold a new stack next to it"
            ))
            .hint(format!(
                "`devenv init --from {found}` adopts it as it is (add `--from docker-compose.prod.yml` for an override file)"
            ))
            .into());
        }
        // a project name may hold `_`, a host name may not
        let domain = name.replace('_', "-");
        let files = FILES
            .iter()
            .map(|(rel, content)| {
                (
                    rel.to_string(),
                    content
                        .replace("{{DOMAIN}}.test", &format!("{domain}.{}", tld.as_str()))
                        .replace("{{DOMAIN}}", &domain)
                        .replace("{{PROJECT}}", &name),
                )
            })
            .collect();
        (files, tld_note.iter().cloned().collect())
    } else {
        let mut rels = from
            .iter()
            .map(|f| relative_to(&dir, f))
            .collect::<anyhow::Result<Vec<String>>>()?;
        // compose reads `compose.override.yaml` beside `compose.yaml` without being told
        let automatic = match rels.as_slice() {
            [one] => automatic_override(&dir, one),
            _ => None,
        };
        if let Some(o) = &automatic {
            rels.push(o.clone());
        }
        let mut a = crate::adopt::infer(&dir, &name, &rels)?;
        a.local_tld = tld;
        let files = vec![
            ("devenv.yaml".to_string(), a.devenv_yaml()),
            ("profiles/local.yaml".to_string(), a.local_yaml()),
            ("profiles/server.yaml".to_string(), a.server_yaml()),
        ];
        let mut report = a.report();
        if let Some(n) = &compose_name {
            report.insert(0, format!("project name: {n} (the file's `name:`)"));
        }
        report.extend(tld_note.iter().cloned());
        if let Some(o) = &automatic {
            report.insert(
                0,
                format!("{o}: read too, as compose reads it beside {}", rels[0]),
            );
        }
        (files, report)
    };
    if !from.is_empty() {
        check_renders(ctx, &dir, &wanted)?;
    }
    let mut files = Vec::new();
    let (mut create, mut keep) = (Vec::new(), Vec::new());
    for (rel, content) in wanted {
        if dir.join(&rel).exists() {
            keep.push(rel);
            continue;
        }
        create.push(rel.clone());
        files.push((rel, content));
    }
    let existing = crate::contained::Scope::project(&dir)
        .read_string(Path::new(".gitignore"), 1 << 20)
        .unwrap_or_default();
    let gitignore = GITIGNORE
        .iter()
        .filter(|l| {
            !existing
                .lines()
                .any(|x| x.trim() == **l || x.trim() == l.trim_start_matches('/'))
        })
        .map(|l| l.to_string())
        .collect();
    Ok(InitPlan {
        dir,
        name,
        inferred,
        files,
        create,
        keep,
        gitignore,
    })
}

/// The override file compose merges over `base` by itself (`docker compose up` without `-f`
/// reads the first of its override names in the base file's directory), when it is there.
fn automatic_override(dir: &Path, base: &str) -> Option<String> {
    let (parent, file) = base.rsplit_once('/').unwrap_or(("", base));
    if !COMPOSE_FILES[..4].contains(&file) {
        return None;
    }
    [
        "compose.override.yml",
        "compose.override.yaml",
        "docker-compose.override.yml",
        "docker-compose.override.yaml",
    ]
    .iter()
    .map(|o| {
        if parent.is_empty() {
            o.to_string()
        } else {
            format!("{parent}/{o}")
        }
    })
    .find(|rel| dir.join(rel).is_file())
}

/// The top-level `name:` of a compose file, when it is a literal project name.
fn compose_project_name(dir: &Path, file: &Path) -> Option<String> {
    let text = crate::contained::Scope::project(dir)
        .read_string(&dir.join(file), crate::render::MAX_TEMPLATE_BYTES)
        .ok()?;
    let doc = crate::yaml::parse(&text).ok()?;
    let n = doc.get("name")?.as_str()?;
    crate::profile::valid_project_name(n).then(|| n.to_string())
}

/// Each adopted profile renders as the files init would write (or the ones already there) say,
/// before anything is written: a stack devenv cannot run is refused with the reason, at its place.
fn check_renders(ctx: &Ctx, dir: &Path, wanted: &[(String, String)]) -> anyhow::Result<()> {
    let content = |rel: &str| -> anyhow::Result<String> {
        let on_disk = dir.join(rel);
        if on_disk.exists() {
            return crate::profile::read_source(dir, &on_disk);
        }
        Ok(wanted
            .iter()
            .find(|(r, _)| r == rel)
            .map(|(_, c)| c.clone())
            .unwrap_or_default())
    };
    let project = crate::profile::Project::from_source(dir, content("devenv.yaml")?)?;
    for name in ["local", "server"] {
        let rel = format!("profiles/{name}.yaml");
        let profile = project.profile_from_source(name, dir.join(&rel), content(&rel)?)?;
        if let Err(e) = crate::render::render(
            &project,
            &profile,
            ctx.facts(&project, &profile),
            // the keys, with or without values yet (the leaf is minted by `up`)
            &crate::render::collect_secrets(&project, &profile, ctx.sys.as_ref()),
            b"devenv init checks the render",
        ) {
            return Err(e.context(format!(
                "the stack does not render as profile `{name}` yet, so init wrote nothing"
            )));
        }
    }
    Ok(())
}

pub fn apply(x: &mut Executor<'_>, plan: &InitPlan) -> anyhow::Result<()> {
    for (rel, content) in &plan.files {
        x.create_file(&plan.dir.join(rel), content.as_bytes())?;
        crate::ui::info(&format!("created {rel}"));
    }
    for k in &plan.keep {
        crate::ui::info(&format!("kept existing {k}"));
    }
    if !plan.gitignore.is_empty() {
        let gi = plan.dir.join(".gitignore");
        let mut content = crate::contained::Scope::project(&plan.dir)
            .read_string(&gi, 1 << 20)
            .unwrap_or_default();
        if !content.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        content.push_str("# devenv: machine-local certificates and state\n");
        for l in &plan.gitignore {
            content.push_str(l);
            content.push('\n');
        }
        x.write(&gi, content.as_bytes(), None)?;
        crate::ui::info(&format!(
            "added {} to .gitignore",
            plan.gitignore.join(" and ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_dirs() {
        assert_eq!(name_from_dir(Path::new("/x/My Blog")), "my-blog");
        assert_eq!(name_from_dir(Path::new("/x/---")), "app");
        assert_eq!(name_from_dir(Path::new("/x/site_2")), "site_2");
    }
}

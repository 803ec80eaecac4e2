//! `devenv init`: scaffold a working project in the current directory. Never overwrites a file.

use std::path::{Path, PathBuf};

use super::Ctx;
use crate::cli::InitArgs;
use crate::error::UserError;

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

pub fn run(ctx: &Ctx, a: InitArgs) -> anyhow::Result<i32> {
    let dir: PathBuf = match &ctx.g.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    if !dir.is_dir() {
        return Err(UserError::usage(format!("{}: no such directory", dir.display())).into());
    }
    let name = a.name.clone().unwrap_or_else(|| name_from_dir(&dir));
    if !crate::profile::valid_project_name(&name) {
        return Err(UserError::usage(format!("invalid project name `{name}`"))
            .hint("use lowercase letters, digits, `-` and `_` (pass --name NAME)")
            .into());
    }
    // a project name may hold `_`, a host name may not
    let domain = name.replace('_', "-");
    let mut created = Vec::new();
    let mut kept = Vec::new();
    for (rel, content) in FILES {
        let p = dir.join(rel);
        if p.exists() {
            kept.push(rel.to_string());
            continue;
        }
        let text = content
            .replace("{{DOMAIN}}", &domain)
            .replace("{{PROJECT}}", &name);
        if ctx.g.dry_run {
            created.push(rel.to_string());
            continue;
        }
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // create_new: never replace a file that appeared meanwhile
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)?;
        f.write_all(text.as_bytes())?;
        created.push(rel.to_string());
    }
    let gi = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&gi).unwrap_or_default();
    let missing: Vec<&str> = GITIGNORE
        .iter()
        .copied()
        .filter(|l| {
            !existing
                .lines()
                .any(|x| x.trim() == *l || x.trim() == l.trim_start_matches('/'))
        })
        .collect();
    if !missing.is_empty() && !ctx.g.dry_run {
        let mut add = String::new();
        if !existing.is_empty() && !existing.ends_with('\n') {
            add.push('\n');
        }
        add.push_str("# devenv: machine-local certificates and state\n");
        for l in &missing {
            add.push_str(l);
            add.push('\n');
        }
        use std::io::Write;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&gi)?
            .write_all(add.as_bytes())?;
    }
    let verb = if ctx.g.dry_run {
        "would create"
    } else {
        "created"
    };
    for c in &created {
        crate::ui::info(&format!("{verb} {c}"));
    }
    for k in &kept {
        crate::ui::info(&format!("kept existing {k}"));
    }
    if !missing.is_empty() {
        crate::ui::info(&format!(
            "{} {} to .gitignore",
            if ctx.g.dry_run { "would add" } else { "added" },
            missing.join(" and ")
        ));
    }
    if !ctx.g.dry_run {
        crate::ui::ok(&format!(
            "project `{name}` ready: `devenv render local` shows the stack, `devenv up local` runs it"
        ));
    }
    Ok(0)
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

//! `devenv init`: scaffold a working project in a directory. Never overwrites a file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use super::exec::Executor;
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

#[derive(Debug, Clone, Serialize)]
pub struct InitPlan {
    pub dir: PathBuf,
    pub name: String,
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

pub fn plan(ctx: &Ctx, name: Option<&str>) -> anyhow::Result<InitPlan> {
    let dir: PathBuf = match &ctx.g.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    if !dir.is_dir() {
        return Err(UserError::usage(format!("{}: no such directory", dir.display())).into());
    }
    let name = name
        .map(String::from)
        .unwrap_or_else(|| name_from_dir(&dir));
    if !crate::profile::valid_project_name(&name) {
        return Err(UserError::usage(format!("invalid project name `{name}`"))
            .hint("use lowercase letters, digits, `-` and `_` (pass --name NAME)")
            .into());
    }
    // a project name may hold `_`, a host name may not
    let domain = name.replace('_', "-");
    let mut files = Vec::new();
    let (mut create, mut keep) = (Vec::new(), Vec::new());
    for (rel, content) in FILES {
        if dir.join(rel).exists() {
            keep.push(rel.to_string());
            continue;
        }
        create.push(rel.to_string());
        files.push((
            rel.to_string(),
            content
                .replace("{{DOMAIN}}", &domain)
                .replace("{{PROJECT}}", &name),
        ));
    }
    let existing = std::fs::read_to_string(dir.join(".gitignore")).unwrap_or_default();
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
        files,
        create,
        keep,
        gitignore,
    })
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
        let mut content = std::fs::read_to_string(&gi).unwrap_or_default();
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

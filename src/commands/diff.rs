//! `devenv diff [A] [B]`: local vs server by default; with one profile, the active one vs it.

use super::Ctx;
use crate::cli::DiffArgs;
use crate::diff::{ProfileDiff, Status};
use crate::ui::{Style, paint};

pub fn run(ctx: &Ctx, a: DiffArgs) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    let (na, nb) = match (a.a, a.b) {
        (Some(x), Some(y)) => (x, y),
        (Some(x), None) => (ctx.profile_name(&project, None)?, x),
        _ => ("local".to_string(), "server".to_string()),
    };
    let pa = project.profile(&na)?;
    let pb = project.profile(&nb)?;
    // diff only reads: no salt or generated secret is created by it
    let ra = ctx.render_readonly(&project, &pa)?;
    let rb = ctx.render_readonly(&project, &pb)?;
    let d = crate::diff::diff(&pa, &ra, &pb, &rb);
    if ctx.g.json {
        super::print_json(&d)?;
    } else {
        print!("{}", format(&d));
    }
    Ok(if a.exit_code && !d.is_empty() { 1 } else { 0 })
}

fn old(s: &str) -> String {
    paint(Style::Red, s, true)
}
fn new(s: &str) -> String {
    paint(Style::Green, s, true)
}
fn head(s: &str) -> String {
    paint(Style::Bold, s, true)
}

fn value(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(unset)".into())
}

fn change_lines(out: &mut String, changes: &[crate::diff::Change]) {
    let w = changes
        .iter()
        .map(|c| c.path.len())
        .max()
        .unwrap_or(0)
        .min(40);
    for c in changes {
        out.push_str(&format!(
            "  {:w$}  {}  →  {}\n",
            c.path,
            old(&value(&c.a)),
            new(&value(&c.b)),
        ));
    }
}

/// The text form of a diff (coloured when stdout is a terminal).
pub fn format(d: &ProfileDiff) -> String {
    let mut out = String::new();
    if d.is_empty() {
        out.push_str(&format!("profiles {} and {} render the same\n", d.a, d.b));
        return out;
    }
    out.push_str(&format!("{} {} → {}\n", head("diff"), old(&d.a), new(&d.b)));
    if !d.settings.is_empty() {
        out.push_str(&format!("\n{}\n", head("profile")));
        change_lines(&mut out, &d.settings);
    }
    // a change every compared service shares is shown once
    let changed: Vec<&crate::diff::ServiceDiff> = d
        .services
        .iter()
        .filter(|s| s.status == Status::Changed)
        .collect();
    let common: Vec<crate::diff::Change> = if changed.len() >= 2 {
        changed[0]
            .changes
            .iter()
            .filter(|c| changed.iter().all(|s| s.changes.contains(c)))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    if !common.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            head(&format!("every service ({})", changed.len()))
        ));
        change_lines(&mut out, &common);
    }
    for s in &d.services {
        let own: Vec<crate::diff::Change> = s
            .changes
            .iter()
            .filter(|c| !common.contains(c))
            .cloned()
            .collect();
        if s.status == Status::Changed && own.is_empty() {
            continue;
        }
        match s.status {
            Status::Added => out.push_str(&format!(
                "\n{} {}\n",
                head("service"),
                new(&format!("{} (only in {})", s.name, d.b))
            )),
            Status::Removed => out.push_str(&format!(
                "\n{} {}\n",
                head("service"),
                old(&format!("{} (only in {})", s.name, d.a))
            )),
            Status::Changed => {
                out.push_str(&format!("\n{} {}\n", head("service"), s.name));
                change_lines(&mut out, &own);
            }
        }
    }
    if !d.stack.is_empty() {
        out.push_str(&format!("\n{}\n", head("networks and volumes")));
        change_lines(&mut out, &d.stack);
    }
    if !d.secrets.is_empty() {
        out.push_str(&format!("\n{}\n", head("secrets (values masked)")));
        for s in &d.secrets {
            let origin = |o: &Option<String>| o.clone().unwrap_or_else(|| "(none)".into());
            out.push_str(&format!(
                "  {}  {}  →  {}{}\n",
                s.name,
                old(&origin(&s.a_origin)),
                new(&origin(&s.b_origin)),
                if s.value_differs {
                    "  (value differs: ••••••)"
                } else {
                    "  (same value)"
                }
            ));
        }
    }
    for c in &d.configs {
        match c.status {
            Status::Added => out.push_str(&format!(
                "\n{} {}\n",
                head("config"),
                new(&format!("{} (only in {})", c.name, d.b))
            )),
            Status::Removed => out.push_str(&format!(
                "\n{} {}\n",
                head("config"),
                old(&format!("{} (only in {})", c.name, d.a))
            )),
            Status::Changed => {
                out.push_str(&format!("\n{} {}\n", head("config"), c.name));
                for line in c.unified.lines() {
                    let l = if line.starts_with("+++") || line.starts_with("---") {
                        head(line)
                    } else if line.starts_with('+') {
                        new(line)
                    } else if line.starts_with('-') {
                        old(line)
                    } else if line.starts_with("@@") {
                        paint(Style::Cyan, line, true)
                    } else {
                        line.to_string()
                    };
                    out.push_str(&l);
                    out.push('\n');
                }
            }
        }
    }
    out
}

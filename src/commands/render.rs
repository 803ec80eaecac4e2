//! `devenv render [PROFILE] [--out DIR] [--stack-only]`

use serde_json::json;

use super::Ctx;
use crate::cli::RenderArgs;

pub fn run(ctx: &Ctx, a: RenderArgs) -> anyhow::Result<i32> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, a.profile.as_deref())?;
    let r = ctx.render(&project, &profile)?;
    super::print_warnings(&r);
    if let Some(out) = &a.out {
        if ctx.g.dry_run {
            for (rel, _) in r.files() {
                println!("would write {}", out.join(rel).display());
            }
            return Ok(0);
        }
        r.write_to(out)?;
        if ctx.g.json {
            super::print_json(&json!({
                "profile": r.profile,
                "dir": out,
                "files": r.files().iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>(),
            }))?;
        } else {
            for (rel, _) in r.files() {
                crate::ui::info(&format!("wrote {}", out.join(rel).display()));
            }
        }
        return Ok(0);
    }
    if ctx.g.json {
        super::print_json(&json!({
            "profile": r.profile,
            "stack_name": r.stack_name,
            "stack": r.stack_yaml,
            "configs": r.configs.iter().map(|c| json!({"name": c.key, "object": c.object_name, "content": c.content})).collect::<Vec<_>>(),
            "secrets": r.secrets.iter().map(|s| json!({"name": s.key, "object": s.object_name, "from": s.origin, "unavailable": s.unavailable})).collect::<Vec<_>>(),
            "builds": r.builds.iter().map(|b| json!({"service": b.service, "context": b.context, "repository": b.repository})).collect::<Vec<_>>(),
            "host_mode": r.host_mode,
            "warnings": r.warnings,
        }))?;
        return Ok(0);
    }
    if a.stack_only || r.configs.is_empty() {
        print!("{}", r.stack_yaml);
        return Ok(0);
    }
    for (i, (rel, content)) in r.files().iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("# ==> {} <==", rel.display());
        print!("{content}");
        if !content.ends_with('\n') {
            println!();
        }
    }
    Ok(0)
}

//! `devenv render [PROFILE] [--out DIR] [--stack-only]`

use serde_json::json;

use crate::cli::RenderArgs;
use crate::ops::{self, Ctx};

pub fn run(ctx: &Ctx, a: RenderArgs) -> anyhow::Result<i32> {
    let mut x = ctx.executor();
    let plan = ops::render::plan(ctx, a.profile.as_deref())?;
    if !x.dry_run() {
        ops::render::keep_minted(&mut x, &plan)?;
    }
    let r = plan.rendered;
    for w in &r.warnings {
        crate::ui::warn(w);
    }
    for n in &r.notes {
        crate::ui::note(n);
    }
    // -v: where each variable's value came from
    for (name, origin) in &r.variables {
        crate::ui::debug(&format!("${{{name}}} from {origin}"));
    }
    if let Some(out) = &a.out {
        if x.dry_run() {
            let lines: Vec<String> = r
                .files()
                .iter()
                .map(|(rel, _)| format!("would write {}", rel.under(out).display()))
                .collect();
            return ops::print_plan(ctx, &(lines.join("\n") + "\n"));
        }
        let w = ops::render::write(&mut x, &r, out)?;
        if ctx.g.json {
            ops::print_json(&w)?;
        } else {
            for f in &w.files {
                crate::ui::info(&format!("wrote {}", out.join(f).display()));
            }
        }
        return Ok(0);
    }
    if ctx.g.json {
        ops::print_json(&json!({
            "profile": r.profile,
            "stack_name": r.stack_name,
            "stack": r.stack_yaml,
            "configs": r.configs.iter().map(|c| json!({"name": c.key, "object": c.object_name, "content": c.content})).collect::<Vec<_>>(),
            "secrets": r.secrets.iter().map(|s| json!({"name": s.key, "object": s.object_name, "from": s.origin, "unavailable": s.unavailable})).collect::<Vec<_>>(),
            "builds": r.builds.iter().map(|b| json!({"service": b.service, "context": b.context, "repository": b.repository})).collect::<Vec<_>>(),
            "host_mode": r.host_mode,
            "warnings": r.warnings,
            "notes": r.notes,
            "variables": r.variables.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<String, serde_json::Value>>(),
        }))?;
        return Ok(0);
    }
    if a.stack_only || r.configs.is_empty() {
        crate::out!("{}", r.stack_yaml);
        return Ok(0);
    }
    for (i, (rel, content)) in r.files().iter().enumerate() {
        if i > 0 {
            crate::outln!();
        }
        crate::outln!("# ==> {rel} <==");
        crate::out!("{content}");
        if !content.ends_with('\n') {
            crate::outln!();
        }
    }
    Ok(0)
}

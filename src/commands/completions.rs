//! `devenv completions SHELL` (with `--json`: `{"shell": …, "script": …}`)

use crate::cli::CompletionsArgs;

pub fn run(ctx: &crate::ops::Ctx, a: CompletionsArgs) -> anyhow::Result<i32> {
    let mut cmd = crate::cli::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "devenv", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    if ctx.g.json {
        crate::ops::print_json(
            &serde_json::json!({"shell": a.shell.to_string(), "script": script}),
        )?;
    } else {
        crate::out!("{script}");
    }
    Ok(0)
}

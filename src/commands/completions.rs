//! `devenv completions SHELL`

use crate::cli::CompletionsArgs;

pub fn run(a: CompletionsArgs) -> anyhow::Result<i32> {
    let mut cmd = crate::cli::command();
    clap_complete::generate(a.shell, &mut cmd, "devenv", &mut std::io::stdout());
    Ok(0)
}

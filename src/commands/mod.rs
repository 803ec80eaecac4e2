//! The commands: one file per subcommand, each a few lines — parse, plan (`crate::ops`), print
//! the plan (`--dry-run`) or confirm, apply through the executor, report as text or JSON. No
//! command imports another; what they share lives in `crate::ops`.

pub mod build;
pub mod certs;
pub mod completions;
pub mod diff;
pub mod doctor;
pub mod down;
pub mod exec;
pub mod hosts;
pub mod init;
pub mod logs;
pub mod render;
pub mod run;
pub mod status;
pub mod switch;
pub mod up;
pub mod update;
pub mod watch;

use crate::cli::Command;
use crate::ops::Ctx;

/// Runs a command; returns the exit code.
pub fn run(ctx: &Ctx, cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Render(a) => render::run(ctx, a),
        Command::Diff(a) => diff::run(ctx, a),
        Command::Switch(a) => switch::run(ctx, a),
        Command::Init(a) => init::run(ctx, a),
        Command::Hosts(a) => hosts::run(ctx, a),
        Command::Certs(a) => certs::run(ctx, a),
        Command::Up(a) => up::run(ctx, a),
        Command::Doctor(a) => doctor::run(ctx, a),
        Command::Down(a) => down::run(ctx, a),
        Command::Status(a) => status::run(ctx, a),
        Command::Logs(a) => logs::run(ctx, a),
        Command::Exec(a) => exec::run(ctx, a),
        Command::Run(a) => run::run(ctx, a),
        Command::Update(a) => update::run(ctx, a),
        Command::Watch(a) => watch::run(ctx, a),
        Command::Build(a) => build::run(ctx, a, false),
        Command::Push(a) => build::run(ctx, a, true),
        Command::Completions(a) => completions::run(ctx, a),
    }
}

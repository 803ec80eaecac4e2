//! One file per subcommand; each computes a plan from the profile and applies it.

pub mod build;
pub mod certs;
pub mod completions;
pub mod diff;
pub mod doctor;
pub mod down;
pub mod hosts;
pub mod init;
pub mod probe;
pub mod render;
pub mod service;
pub mod status;
pub mod switch;
pub mod up;

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::{Command, Global};
use crate::error::UserError;
use crate::profile::{Profile, Project};
use crate::render::Rendered;
use crate::state::State;
use crate::sys::Sys;

/// What every command gets: the global flags and the side-effect seam.
pub struct Ctx {
    pub g: Global,
    pub sys: Arc<dyn Sys>,
}

impl Ctx {
    pub fn new(g: Global, sys: Arc<dyn Sys>) -> Self {
        Ctx { g, sys }
    }

    pub fn project(&self) -> anyhow::Result<Project> {
        Project::discover(self.g.dir.as_deref())
    }

    /// The profile to use: the positional argument, `--profile`, the active one, devenv.yaml's
    /// `default_profile`, or `local`.
    pub fn profile_name(
        &self,
        project: &Project,
        positional: Option<&str>,
    ) -> anyhow::Result<String> {
        if let (Some(p), Some(f)) = (positional, self.g.profile.as_deref())
            && p != f
        {
            return Err(
                UserError::usage(format!("two profiles given: `{p}` and --profile {f}"))
                    .hint("give one of them")
                    .into(),
            );
        }
        if let Some(p) = positional.or(self.g.profile.as_deref()) {
            return Ok(p.to_string());
        }
        let state = State::load(&project.root)?;
        Ok(state
            .active_profile
            .or_else(|| project.file.default_profile.clone())
            .unwrap_or_else(|| "local".to_string()))
    }

    pub fn profile(&self, project: &Project, positional: Option<&str>) -> anyhow::Result<Profile> {
        let name = self.profile_name(project, positional)?;
        project.profile(&name)
    }

    /// Renders a profile. The first render validates everything; only then are the secret-name
    /// salt and `generate:` secrets created (once), and the names re-rendered with them. A config
    /// error therefore writes nothing.
    pub fn render(&self, project: &Project, profile: &Profile) -> anyhow::Result<Rendered> {
        let facts = crate::swarm::facts(profile);
        let salt_exists = crate::state::dir(&project.root).join("salt").exists();
        let secrets = crate::render::collect_secrets(project, profile);
        let salt = crate::state::salt_if_present(&project.root);
        let r = crate::render::render(project, profile, facts, &secrets, &salt)?;
        if self.g.dry_run {
            return Ok(r);
        }
        let made = crate::render::ensure_generated_secrets(project, profile)?;
        if salt_exists && !made {
            return Ok(r);
        }
        let salt = crate::state::salt(&project.root)?;
        let secrets = crate::render::collect_secrets(project, profile);
        crate::render::render(project, profile, facts, &secrets, &salt)
    }

    /// Renders without writing anything (secret names use the salt only if it exists).
    pub fn render_readonly(
        &self,
        project: &Project,
        profile: &Profile,
    ) -> anyhow::Result<Rendered> {
        let facts = crate::swarm::facts(profile);
        let secrets = crate::render::collect_secrets(project, profile);
        let salt = crate::state::salt_if_present(&project.root);
        crate::render::render(project, profile, facts, &secrets, &salt)
    }

    pub fn hosts_file(&self) -> PathBuf {
        self.g
            .hosts_file
            .clone()
            .unwrap_or_else(crate::hosts::system_hosts_path)
    }
}

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
        Command::Logs(a) => service::logs(ctx, a),
        Command::Exec(a) => service::exec(ctx, a),
        Command::Update(a) => service::update(ctx, a),
        Command::Build(a) => build::run(ctx, a, false),
        Command::Push(a) => build::run(ctx, a, true),
        Command::Completions(a) => completions::run(a),
    }
}

/// A yes on the terminal; no terminal (a script, CI) is a no.
pub fn confirmed(question: &str) -> anyhow::Result<bool> {
    Ok(std::io::IsTerminal::is_terminal(&std::io::stdin()) && confirm(question)?)
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

/// Prints warnings from a render on stderr.
pub fn print_warnings(r: &Rendered) {
    for w in &r.warnings {
        crate::ui::warn(w);
    }
}

/// Prints JSON on stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

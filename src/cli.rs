//! Command-line interface: global flags work before or after the subcommand, mistyped commands and
//! flags get suggestions, and flags borrowed from docker-compose get a pointer to devenv's way.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::ui::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "devenv",
    version,
    about = "Run the same Docker Swarm stack on your laptop and your server, with real HTTPS on local names",
    long_about = None,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Global options work before or after the command: `devenv -C site up` = `devenv up -C site`.\n\
                  Exit codes: 0 ok, 1 failed, 2 bad usage or configuration (nothing changed), 3 timed out."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args, Default)]
pub struct Global {
    /// Run as if started in DIR (the project root or below it)
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The profile to use (default: the active one, see `devenv switch`)
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// More output (-vv shows every docker call)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Machine-readable output on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Print the plan (hosts diff, certificates, trust actions, docker calls) and change nothing
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Answer yes to confirmations
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Never elevate a step (sudo, UAC): print the command to run as administrator instead
    #[arg(long, global = true)]
    pub no_elevate: bool,
    /// Colour output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// The hosts file to manage (default: the system's)
    #[arg(long, global = true, env = "DEVENV_HOSTS_FILE", value_name = "PATH")]
    pub hosts_file: Option<PathBuf>,
    /// Read the stack's variables from FILE instead of the `.env` beside it (as compose's
    /// --env-file); may be given more than once
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make this machine and the profile's swarm run the stack, then wait until it is ready
    Up(UpArgs),
    /// Make PROFILE the active one: re-render, and add/remove local-only machine changes
    Switch(SwitchArgs),
    /// Remove the stack and wait until it is really gone (networks too)
    Down(DownArgs),
    /// Profile, target, services with replicas, failing tasks with their errors
    #[command(visible_alias = "ps")]
    Status(StatusArgs),
    /// Print or write the rendered stack and config files of a profile
    Render(RenderArgs),
    /// What differs between two profiles' rendered output (default: local vs server)
    Diff(DiffArgs),
    /// The project's block in the hosts file (--dry-run shows a diff)
    Hosts(HostsArgs),
    /// The local CA and leaf certificates: trust, untrust, status, issue, rotate, env
    Certs(CertsArgs),
    /// Every check (docker, swarm, guard, IPVS, hosts, CA, trust, leaf, ports, clock) with its fix
    Doctor(DoctorArgs),
    /// Logs of a service's tasks
    Logs(LogsArgs),
    /// Run a command (default: a shell) in a running task of SERVICE
    Exec(ExecArgs),
    /// Run a task of devenv.yaml (e.g. `migrate`) in its service, whatever its `when:`
    Run(RunArgs),
    /// Pull and force-restart services, rolling, and watch them
    Update(UpdateArgs),
    /// Bring the stack up, then apply each file change by the services' `develop.watch` rules
    /// (sync into running tasks, signal, rebuild and roll) until Ctrl-C
    Watch(WatchArgs),
    /// Build the images of services that have a build context
    Build(BuildArgs),
    /// Build and push the images to the profile's registry
    Push(BuildArgs),
    /// Scaffold devenv.yaml, profiles/ and templates here, or adopt a compose file (--from)
    Init(InitArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Profile (default: the active one); it becomes the active one
    #[arg(id = "profile_arg", value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Seconds to wait for every service to be ready
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// Failed attempts of a service's tasks before it counts as crash-looping
    #[arg(long, default_value_t = crate::swarm::converge::MAX_FAILURES, value_name = "N")]
    pub max_failures: usize,
    /// Accept that the profile's swarm was re-created (records the new cluster id)
    #[arg(long)]
    pub new_cluster: bool,
    /// When a service fails to update, roll it back to its previous version
    #[arg(long)]
    pub rollback: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Profile (default: the active one)
    #[arg(id = "profile_arg", value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Also delete the stack's named volumes (their data is lost; asks unless --yes)
    #[arg(long)]
    pub volumes: bool,
    /// Seconds to wait for everything to be gone
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Profile (default: the active one)
    #[arg(id = "profile_arg", value_name = "PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Profile (default: the active one)
    #[arg(id = "profile_arg", value_name = "PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The service (as named in the stack)
    pub service: String,
    /// Keep printing new lines
    #[arg(short, long)]
    pub follow: bool,
    /// Lines from the end of each task's log
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub tail: usize,
    /// Only lines newer than this (e.g. 10m, 2026-01-02T15:04:05)
    #[arg(long)]
    pub since: Option<String>,
    /// Prefix lines with task ids
    #[arg(long)]
    pub task_ids: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The service (as named in the stack)
    pub service: String,
    /// The command and its arguments (default: bash, or sh), with or without `--` before it
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Run as this user
    #[arg(long, short = 'u')]
    pub user: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task (as named under `tasks:` in devenv.yaml)
    pub task: String,
    /// Arguments appended to the task's command
    #[arg(last = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only these services' rules (default: every service with `develop.watch`)
    pub services: Vec<String>,
    /// Seconds the first `up` and each rebuild's roll-out may take
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// Poll the disk for changes instead of waiting for the OS's events (network drives;
    /// on WSL a Windows drive is polled anyway)
    #[arg(long)]
    pub poll: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Services to update
    pub services: Vec<String>,
    /// Every service of the stack
    #[arg(long, conflicts_with = "services")]
    pub all: bool,
    /// Roll back the services whose update fails
    #[arg(long)]
    pub rollback: bool,
    /// Seconds to wait for the update
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Profile (default: the active one)
    #[arg(id = "profile_arg", value_name = "PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Profile to render (default: the active one)
    #[arg(id = "profile_arg", value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Write stack.yml and configs/ into DIR instead of printing them
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print only the stack file (e.g. to pipe into `docker stack config -c -`)
    #[arg(long)]
    pub stack_only: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// First profile (default: local)
    pub a: Option<String>,
    /// Second profile (default: server)
    pub b: Option<String>,
    /// Exit with 1 when the profiles differ
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// The profile to make active (or give it with --profile)
    #[arg(id = "profile_arg", value_name = "PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct HostsArgs {
    #[command(subcommand)]
    pub action: HostsAction,
}

#[derive(Debug, Subcommand)]
pub enum HostsAction {
    /// Map the profile's `hosts:` to 127.0.0.1 and ::1 in the project's block
    Apply {
        /// Profile (default: the active one)
        #[arg(id = "profile_arg", value_name = "PROFILE")]
        profile: Option<String>,
        /// First rewrite a UTF-16 hosts file as UTF-8 (every character kept, a BOM as UTF-8's,
        /// a backup made)
        #[arg(long)]
        convert: bool,
    },
    /// Remove the project's block (every other line stays as it was)
    Remove,
    /// Show the block, conflicting lines and how each name resolves
    List,
    /// Bring back the latest backup that differs from the file
    Restore,
}

#[derive(Debug, Args)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub action: CertsAction,
}

#[derive(Debug, Subcommand)]
pub enum CertsAction {
    /// Install the CA into every trust store this machine's browsers and tools read
    Trust {
        /// macOS: the login keychain instead of the System keychain
        #[arg(long)]
        user: bool,
        /// Windows: LocalMachine\Root instead of CurrentUser\Root (administrator)
        #[arg(long)]
        machine: bool,
    },
    /// Remove the CA from exactly the stores `trust` installed it into
    Untrust,
    /// The CA, each trust store (checked for real), and the project's leaf certificates
    Status,
    /// Issue (or renew) the profile's leaf certificate into certs/
    Issue {
        /// Profile (default: the active one)
        #[arg(id = "profile_arg", value_name = "PROFILE")]
        profile: Option<String>,
        /// Re-issue even when the current certificate is fine
        #[arg(long)]
        force: bool,
    },
    /// A new CA: trust it, re-issue the leaves, untrust the old one
    Rotate {
        /// Also let the CA sign for this DNS suffix (repeatable)
        #[arg(long, value_name = "SUFFIX")]
        permit: Vec<String>,
        /// No name constraints at all (the CA could sign for any site)
        #[arg(long)]
        unconstrained: bool,
    },
    /// Shell exports so Node, Python and curl trust the CA too
    Env {
        /// bash, zsh, fish or powershell (default: from $SHELL)
        #[arg(long)]
        shell: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Project name (default: the directory's name)
    #[arg(long)]
    pub name: Option<String>,
    /// Adopt an existing compose/stack file as it is (the base first, then override files such
    /// as docker-compose.prod.yml; repeat the flag)
    #[arg(long = "from", value_name = "FILE")]
    pub from: Vec<PathBuf>,
    /// Local names under .test (a hosts file entry each) or .localhost (browsers and curl
    /// resolve them to this machine: no hosts file edit, no administrator). Default: localhost
    /// on Windows without administrator rights, else test
    #[arg(long, value_enum, value_name = "TLD")]
    pub tld: Option<crate::adopt::LocalTld>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

/// Flags people bring from docker-compose / docker stack, and what devenv does instead.
const FOREIGN_FLAGS: &[(&str, &str)] = &[
    (
        "-f",
        "devenv reads the stack file `stack:` names in devenv.yaml (your compose file, or a template); there is no -f. Use -C DIR to pick the project",
    ),
    (
        "--file",
        "devenv reads the stack file `stack:` names in devenv.yaml (your compose file, or a template); there is no --file. Use -C DIR to pick the project",
    ),
    (
        "-c",
        "devenv reads the stack file `stack:` names in devenv.yaml (your compose file, or a template); use -C DIR (capital C) to pick the project",
    ),
    (
        "--compose-file",
        "devenv reads the stack file `stack:` names in devenv.yaml (your compose file, or a template); use -C DIR to pick the project",
    ),
    (
        "-p",
        "the stack name is `project:` in devenv.yaml; use -C DIR to pick the project and --profile to pick the profile",
    ),
    (
        "--project-name",
        "the stack name is `project:` in devenv.yaml; use -C DIR to pick the project",
    ),
    (
        "-d",
        "devenv always returns once the stack is ready; there is nothing to detach",
    ),
    (
        "--detach",
        "devenv always returns once the stack is ready; there is nothing to detach",
    ),
    (
        "--context",
        "the docker context belongs to the profile (`docker.context` in profiles/NAME.yaml); pick the profile with --profile",
    ),
    (
        "-H",
        "the docker endpoint belongs to the profile (`docker.context` or `docker.host`); pick the profile with --profile",
    ),
    (
        "--host",
        "the docker endpoint belongs to the profile (`docker.context` or `docker.host`); pick the profile with --profile",
    ),
    (
        "--build",
        "`devenv up` builds services with a build context itself; `devenv build` builds without deploying",
    ),
    (
        "--force-recreate",
        "use `devenv update SERVICE` (or --all) to restart services with a fresh pull",
    ),
];

/// Commands people bring from docker compose / docker stack, and devenv's way to do it.
const FOREIGN_COMMANDS: &[(&str, &str)] = &[
    (
        "start",
        "`devenv up` starts the stack (and returns once every service runs)",
    ),
    (
        "stop",
        "a swarm stack has no stopped state: `devenv down` removes it (volumes stay), `devenv up` brings it back",
    ),
    (
        "restart",
        "`devenv update SERVICE` (or --all) restarts services, rolling",
    ),
    (
        "pull",
        "`devenv update SERVICE` pulls and restarts; `devenv up` pulls what is missing",
    ),
    ("deploy", "`devenv up` deploys the stack"),
    ("rm", "`devenv down` removes the stack"),
    (
        "kill",
        "`devenv down` removes the stack; `devenv update SERVICE` restarts one",
    ),
    ("config", "`devenv render` prints the stack docker gets"),
    ("convert", "`devenv render` prints the stack docker gets"),
    ("top", "`devenv status` lists the services and their tasks"),
    ("ls", "`devenv status` lists the services and their tasks"),
    (
        "compose",
        "devenv is the compose command here: `devenv up`, `devenv down`, `devenv status`, `devenv logs SERVICE`",
    ),
    (
        "stack",
        "devenv drives `docker stack` for you: `devenv up`, `devenv down`, `devenv status`",
    ),
];

/// `devenv down -v`: compose's `-v` removes volumes, devenv's is --verbose. The words after
/// `down`, when they hold `-v` (or `-vv`), are refused rather than guessed.
fn down_v(args: &[OsString]) -> Option<String> {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    // the command is the first word that is neither a flag nor a global flag's value
    let mut i = 0;
    while i < words.len() && words[i].starts_with('-') {
        let takes_value = matches!(
            words[i],
            "-C" | "--dir" | "--profile" | "--hosts-file" | "--env-file" | "--color"
        );
        i += if takes_value { 2 } else { 1 };
    }
    if words.get(i) != Some(&"down") {
        return None;
    }
    words[i + 1..]
        .iter()
        .take_while(|w| **w != "--")
        .any(|w| w.len() >= 2 && w.starts_with("-v") && w[1..].chars().all(|c| c == 'v'))
        .then(|| {
            "error: `devenv down -v` is ambiguous: in devenv `-v` is --verbose, in docker compose it removes volumes
             hint: `devenv down --volumes` deletes the stack's named volumes; `devenv --verbose down` is a verbose down
"
                .to_string()
        })
}

/// Parses the command line; on a usage error returns the message to print and the exit code.
pub fn parse<I, T>(args: I) -> Result<Cli, (String, i32)>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(msg) = down_v(&args) {
        return Err((msg, crate::error::EXIT_CONFIG));
    }
    Cli::try_parse_from(args).map_err(|e| {
        let code = if e.use_stderr() {
            crate::error::EXIT_CONFIG
        } else {
            0
        };
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let mut text = if color {
            e.render().ansi().to_string()
        } else {
            e.render().to_string()
        };
        if e.kind() == ErrorKind::UnknownArgument
            && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
        {
            let flag = arg.split('=').next().unwrap_or(arg);
            if let Some((_, hint)) = FOREIGN_FLAGS.iter().find(|(f, _)| *f == flag) {
                text = format!("{}\nnote: {hint}\n", text.trim_end());
            }
        }
        if e.kind() == ErrorKind::InvalidSubcommand
            && let Some(ContextValue::String(word)) = e.get(ContextKind::InvalidSubcommand)
            && let Some((_, hint)) = FOREIGN_COMMANDS.iter().find(|(c, _)| c == word)
        {
            text = format!("{}\nnote: {hint}\n", text.trim_end());
        }
        (text, code)
    })
}

pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_before_or_after() {
        let a = parse(["devenv", "-C", "x", "render", "local"]).unwrap();
        let b = parse(["devenv", "render", "local", "-C", "x"]).unwrap();
        assert_eq!(a.global.dir, b.global.dir);
        let c = parse(["devenv", "render", "--json", "--dry-run", "-y"]).unwrap();
        assert!(c.global.json && c.global.dry_run && c.global.yes);
    }

    #[test]
    fn compose_flags_get_a_note() {
        let (msg, code) = parse(["devenv", "render", "-f", "x.yml"]).unwrap_err();
        assert_eq!(code, 2);
        assert!(msg.contains("stack:` names in devenv.yaml"), "{msg}");
    }

    #[test]
    fn compose_habits_get_devenvs_way() {
        // `ps` is status
        let c = parse(["devenv", "ps"]).unwrap();
        assert!(matches!(c.command, Command::Status(_)));
        for (word, want) in [
            ("start", "`devenv up` starts the stack"),
            ("stop", "`devenv down` removes it"),
            ("restart", "`devenv update SERVICE`"),
            ("compose", "devenv is the compose command here"),
        ] {
            let (msg, code) = parse(["devenv", word]).unwrap_err();
            assert_eq!(code, 2);
            assert!(msg.contains(want), "{word}: {msg}");
        }
        // `down -v` is refused, not taken as verbose (or as volumes)
        for args in [
            &["devenv", "down", "-v"][..],
            &["devenv", "down", "local", "-vv"],
            &["devenv", "-C", "x", "down", "-v"],
        ] {
            let (msg, code) = parse(args.iter().copied()).unwrap_err();
            assert_eq!(code, 2);
            assert!(msg.contains("--volumes"), "{args:?}: {msg}");
        }
        assert!(parse(["devenv", "-v", "down"]).is_ok());
        assert!(parse(["devenv", "down", "--volumes", "--verbose"]).is_ok());
        assert!(parse(["devenv", "-C", "down", "up", "-v"]).is_ok());
        assert!(parse(["devenv", "exec", "web", "--", "down", "-v"]).is_ok());
    }

    #[test]
    fn exec_takes_the_command_with_or_without_dashes() {
        for args in [
            &["devenv", "exec", "web", "sh", "-c", "echo -v"][..],
            &["devenv", "exec", "web", "--", "sh", "-c", "echo -v"],
        ] {
            let c = parse(args.iter().copied()).unwrap();
            let Command::Exec(e) = c.command else {
                panic!("{args:?}")
            };
            assert_eq!(e.service, "web");
            assert_eq!(e.command, ["sh", "-c", "echo -v"], "{args:?}");
            assert_eq!(c.global.verbose, 0, "-v is the command's: {args:?}");
        }
        // devenv's own flags before the command (or before `--`) stay devenv's
        let c = parse(["devenv", "exec", "web", "--dry-run", "--", "touch", "x"]).unwrap();
        let Command::Exec(e) = c.command else {
            panic!()
        };
        assert!(c.global.dry_run);
        assert_eq!(e.command, ["touch", "x"]);
        let c = parse(["devenv", "exec", "-u", "root", "web", "id"]).unwrap();
        let Command::Exec(e) = c.command else {
            panic!()
        };
        assert_eq!(
            (e.user.as_deref(), e.command.as_slice()),
            (Some("root"), &["id".to_string()][..])
        );
    }

    #[test]
    fn typo_gets_suggestion() {
        let (msg, code) = parse(["devenv", "rendr"]).unwrap_err();
        assert_eq!(code, 2);
        assert!(msg.contains("render"), "{msg}");
        let (msg, _) = parse(["devenv", "render", "--stack-onl"]).unwrap_err();
        assert!(msg.contains("--stack-only"), "{msg}");
    }
}

//! devenv: run the same Docker Swarm stack on a laptop and a server, switching profiles without
//! editing config, with real HTTPS and WSS on local host names.

pub mod certs;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod dns;
pub mod error;
pub mod fsutil;
pub mod hash;
pub mod hosts;
pub mod paths;
pub mod platform;
pub mod probe;
pub mod profile;
pub mod render;
pub mod stack;
pub mod state;
pub mod swarm;
pub mod sys;
pub mod ui;

use std::sync::Arc;

/// The whole program: parse, run, print the error; returns the exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match cli::parse(args) {
        Ok(c) => c,
        Err((text, code)) => {
            if code == 0 {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            return code;
        }
    };
    ui::init(
        cli.global.verbose,
        cli.global.quiet,
        cli.global.color,
        cli.global.json,
    );
    let ctx = commands::Ctx::new(cli.global.clone(), Arc::new(sys::RealSys));
    match commands::run(&ctx, cli.command) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            error::exit_code(&e)
        }
    }
}

/// Prints an error and its causes on stderr.
pub fn report(e: &anyhow::Error) {
    let mut chain = e.chain();
    if let Some(first) = chain.next() {
        ui::error(&first.to_string());
    }
    for cause in chain {
        eprintln!("  caused by: {cause}");
    }
}

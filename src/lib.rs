//! devenv: run the same Docker Swarm stack on a laptop and a server, switching profiles without
//! editing config, with real HTTPS and WSS on local host names.

pub mod adopt;
pub mod certs;
pub mod cli;
pub mod cmd;
pub mod commands;
pub mod compare;
pub mod contained;
pub mod dns;
pub mod error;
pub mod exec;
pub mod fsutil;
pub mod hash;
pub mod hosts;
pub mod live;
pub mod name;
pub mod ops;
pub mod paths;
pub mod patterns;
pub mod platform;
pub mod probe;
pub mod profile;
pub mod render;
pub mod ssh;
pub mod stack;
pub mod state;
pub mod swarm;
pub mod sys;
pub mod textdiff;
pub mod ui;
pub mod yaml;

use std::sync::Arc;

/// The whole program: parse, run, print the error; returns the exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let json = args.iter().any(|a| a == "--json");
    let cli = match cli::parse(args) {
        Ok(c) => c,
        Err((text, code)) => {
            if code == 0 {
                crate::out!("{text}");
            } else {
                eprint!("{text}");
                if json {
                    let _ = ops::print_json(&error::to_json(
                        &anyhow::Error::new(error::UserError::usage(
                            text.trim()
                                .lines()
                                .next()
                                .unwrap_or_default()
                                .trim_start_matches("error: "),
                        )),
                        code,
                    ));
                }
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
    let ctx = ops::Ctx::new(cli.global.clone(), Arc::new(sys::RealSys));
    match commands::run(&ctx, cli.command) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            let code = error::exit_code(&e);
            if cli.global.json {
                let _ = ops::print_json(&error::to_json(&e, code));
            }
            code
        }
    }
}

/// Prints an error and its causes on stderr.
/// What a failed run left in place ([`error::LeftInPlace`]) comes after the failure itself.
pub fn report(e: &anyhow::Error) {
    let left = e.downcast_ref::<error::LeftInPlace>().map(|l| l.0.clone());
    let mut chain = e
        .chain()
        .filter(|c| left.as_deref() != Some(c.to_string().as_str()));
    if let Some(first) = chain.next() {
        ui::error(&first.to_string());
    }
    for cause in chain {
        eprintln!("  caused by: {cause}");
    }
    if let Some(l) = left {
        eprintln!("{l}");
    }
}

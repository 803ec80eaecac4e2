//! Terminal output: messages on stderr, data on stdout, colour only on a terminal.
//!
//! Set once from the global flags (`-v`, `-q`, `--color`, `--json`); `NO_COLOR` is honoured.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ui {
    /// -1 quiet, 0 normal, 1+ verbose.
    pub verbosity: i8,
    pub color_out: bool,
    pub color_err: bool,
    pub json: bool,
}

static UI: OnceLock<Ui> = OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

pub fn init(verbose: u8, quiet: bool, color: ColorChoice, json: bool) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let pick = |tty: bool| match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            tty && !no_color && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    };
    let ui = Ui {
        verbosity: if quiet { -1 } else { verbose.min(3) as i8 },
        color_out: pick(std::io::stdout().is_terminal()),
        color_err: pick(std::io::stderr().is_terminal()),
        json,
    };
    let _ = UI.set(ui);
}

pub fn get() -> Ui {
    UI.get().copied().unwrap_or_default()
}

#[derive(Debug, Clone, Copy)]
pub enum Style {
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Cyan,
}

fn code(s: Style) -> &'static str {
    match s {
        Style::Bold => "1",
        Style::Dim => "2",
        Style::Red => "31",
        Style::Green => "32",
        Style::Yellow => "33",
        Style::Cyan => "36",
    }
}

/// `text` in `style` when colour is on for the stream (`out` = stdout).
pub fn paint(style: Style, text: &str, out: bool) -> String {
    let ui = get();
    let on = if out { ui.color_out } else { ui.color_err };
    if on {
        format!("\x1b[{}m{text}\x1b[0m", code(style))
    } else {
        text.to_string()
    }
}

fn emit(prefix: Option<(Style, &str)>, msg: &str) {
    let mut err = std::io::stderr().lock();
    match prefix {
        Some((s, p)) => {
            let _ = writeln!(err, "{} {msg}", paint(s, p, false));
        }
        None => {
            let _ = writeln!(err, "{msg}");
        }
    }
}

/// A step of a command's work ("==> rendering local").
pub fn step(msg: &str) {
    if get().verbosity >= 0 {
        emit(Some((Style::Cyan, "==>")), msg);
    }
}

/// A line of a task's output, its name in front (`[migrate] Applying auth.0001_initial... OK`).
pub fn task_line(prefix: &str, line: &str) {
    if get().verbosity >= 0 {
        emit(Some((Style::Dim, prefix)), line);
    }
}

/// A normal message.
pub fn info(msg: &str) {
    if get().verbosity >= 0 {
        emit(None, msg);
    }
}

/// Something devenv did or decided that the user should know (not a problem).
pub fn note(msg: &str) {
    if get().verbosity >= 0 {
        emit(Some((Style::Cyan, "note:")), msg);
    }
}

/// Success.
pub fn ok(msg: &str) {
    if get().verbosity >= 0 {
        emit(Some((Style::Green, "ok:")), msg);
    }
}

/// Shown even with -q.
pub fn warn(msg: &str) {
    emit(Some((Style::Yellow, "warning:")), msg);
}

pub fn error(msg: &str) {
    emit(Some((Style::Red, "error:")), msg);
}

/// Only with -v.
pub fn debug(msg: &str) {
    if get().verbosity >= 1 {
        emit(Some((Style::Dim, "debug:")), msg);
    }
}

/// Writes to stdout, ignoring a closed pipe (`devenv status | head -1` must not panic, and must not
/// stop an operation half-way either).
pub fn out_str(s: &str) {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// `print!` to stdout through [`out_str`].
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::ui::out_str(&format!($($t)*)) };
}

/// `println!` to stdout through [`out_str`].
#[macro_export]
macro_rules! outln {
    () => { $crate::ui::out_str("\n") };
    ($($t:tt)*) => { $crate::ui::out_str(&(format!($($t)*) + "\n")) };
}

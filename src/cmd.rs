//! A program invocation and what it gave back: the value every plan holds and every effect runs.
//! Which invocations only read (and may run while planning, through
//! [`crate::sys::Facts::query`]) is decided here, in one place: [`read_only`].

use std::ffi::OsString;
use std::path::PathBuf;

/// A program invocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment (`None` removes the variable).
    pub env: Vec<(String, Option<String>)>,
    pub stdin: Option<Vec<u8>>,
    pub cwd: Option<PathBuf>,
    /// An attached program's stdout goes to devenv's stderr (a build's progress: devenv's
    /// stdout is for its own output, one JSON document with `--json`).
    pub stdout_to_stderr: bool,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            ..Default::default()
        }
    }
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), Some(v.into())));
        self
    }
    pub fn env_remove(mut self, k: impl Into<String>) -> Self {
        self.env.push((k.into(), None));
        self
    }
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }
    /// The command line as a user would type it (for --dry-run and error messages).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// Exit code; -1 when killed by a signal.
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// Converts OS strings for display.
pub fn lossy(s: &OsString) -> String {
    s.to_string_lossy().into_owned()
}

/// Whether running `c` only reads: what a plan may run while it gathers facts
/// ([`crate::sys::Facts::query`]); anything else is an effect, run by the executor only. Fail
/// closed: a program or subcommand not known here is an effect.
pub fn read_only(c: &Cmd) -> bool {
    // a program of another OS may be named by that OS's path (`C:\Windows\…\certutil.exe`)
    let prog = c
        .program
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let prog = prog.strip_suffix(".exe").unwrap_or(&prog);
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    match prog {
        "docker" => docker_read_only(&args),
        // NSS's certutil lists; Windows' certutil shows a store
        "certutil" => {
            !args.iter().any(|a| {
                matches!(
                    *a,
                    "-A" | "-D" | "-N" | "-M" | "-E" | "-R" | "-addstore" | "-delstore"
                )
            }) && (args.contains(&"-L")
                || matches!(
                    args.first(),
                    Some(&"-store") | Some(&"-verifystore") | Some(&"-user")
                ))
        }
        "security" => {
            matches!(
                args.first(),
                Some(&"find-certificate")
                    | Some(&"dump-trust-settings")
                    | Some(&"verify-cert")
                    | Some(&"list-keychains")
                    | Some(&"default-keychain")
            ) && args.get(1) != Some(&"-s")
        }
        "keytool" => args.contains(&"-list"),
        "ssh" => {
            // `ssh -O check` asks a master whether it runs; a remote `docker version|info`
            // asks the server's docker why it does not answer
            args.windows(2).any(|w| w == ["-O", "check"])
                || args
                    .iter()
                    .position(|a| *a == "docker")
                    .is_some_and(|i| matches!(args.get(i + 1), Some(&"version") | Some(&"info")))
        }
        "netsh" => args.contains(&"show"),
        "getent" | "id" | "whoami" | "uname" | "wslpath" | "hostname" => true,
        _ => false,
    }
}

/// docker's read-only calls: `--context C`/`-H H` and other global flags first, then the
/// subcommand.
fn docker_read_only(args: &[&str]) -> bool {
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "--context" | "-c" | "-H" | "--host" | "--config" | "-l" | "--log-level" => i += 2,
            a if a.starts_with("--context=") || a.starts_with("--host=") => i += 1,
            "--debug" | "-D" | "--tls" | "--tlsverify" => i += 1,
            _ => break,
        }
    }
    let words: Vec<&str> = args[i.min(args.len())..]
        .iter()
        .copied()
        .filter(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    let (cmd, sub) = (
        words.first().copied().unwrap_or(""),
        words.get(1).copied().unwrap_or(""),
    );
    match cmd {
        "version" | "info" | "ps" | "inspect" | "logs" | "images" | "events" | "top" | "port"
        | "history" => true,
        "context" => matches!(sub, "inspect" | "ls" | "show"),
        "service" => matches!(sub, "ls" | "ps" | "inspect" | "logs"),
        "stack" => matches!(sub, "ls" | "ps" | "services" | "config"),
        "node" => matches!(sub, "ls" | "ps" | "inspect"),
        "network" | "volume" | "config" | "secret" | "plugin" => matches!(sub, "ls" | "inspect"),
        "image" => matches!(sub, "ls" | "inspect" | "history"),
        "container" => matches!(sub, "ls" | "inspect" | "logs" | "top" | "port"),
        "manifest" => sub == "inspect",
        "buildx" => matches!(sub, "version" | "ls" | "inspect"),
        "system" => matches!(sub, "info" | "df" | "events"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ro(line: &[&str]) -> bool {
        read_only(&Cmd::new(line[0]).args(line[1..].iter().copied()))
    }

    #[test]
    fn only_what_reads_is_read_only() {
        for yes in [
            &[
                "docker",
                "--context",
                "c",
                "service",
                "ls",
                "--format",
                "{{json .}}",
            ][..],
            &["/usr/bin/docker", "-H", "ssh://x", "info"],
            &[
                "docker",
                "--context",
                "c",
                "image",
                "inspect",
                "--format",
                "{{.Id}}",
                "a:b",
            ],
            &["docker", "context", "inspect", "x"],
            &[
                "docker",
                "--context",
                "c",
                "service",
                "logs",
                "--tail",
                "20",
                "s",
            ],
            &["certutil", "-L", "-d", "sql:/h/.pki/nssdb"],
            &["certutil.exe", "-store", "-user", "Root"],
            &[
                r"C:\Windows\System32\certutil.exe",
                "-user",
                "-verifystore",
                "Root",
                "ab",
            ],
            &["security", "find-certificate", "-a", "-Z"],
            &["ssh", "-S", "/x", "-O", "check", "h"],
            &["keytool", "-list", "-keystore", "k"],
        ] {
            assert!(ro(yes), "{yes:?}");
        }
        for no in [
            &[
                "docker",
                "--context",
                "c",
                "stack",
                "deploy",
                "-c",
                "f",
                "s",
            ][..],
            &["docker", "--context", "c", "exec", "x", "touch", "y"],
            &[
                "docker",
                "--context",
                "c",
                "service",
                "update",
                "--force",
                "s",
            ],
            &["docker", "--context", "c", "config", "rm", "a"],
            &["docker", "cp", "-", "x:/"],
            &["docker", "swarm", "init"],
            &["docker", "kill", "x"],
            &["docker", "tag", "a", "b"],
            &["docker", "login", "r"],
            &["docker", "swarm", "leave", "--force"],
            &["docker", "--context", "inspect", "rm", "x"],
            &["certutil", "-A", "-d", "sql:/x", "-L"],
            &["certutil.exe", "-addstore", "-f", "Root", "x"],
            &[
                r"C:\Windows\System32\certutil.exe",
                "-user",
                "-delstore",
                "Root",
                "x",
            ],
            &["security", "add-trusted-cert", "x"],
            &["sudo", "--", "docker", "info"],
            &["rm", "-f", "x"],
            &["ssh", "-M", "-S", "/x", "h"],
            &["sh", "-c", "docker info"],
        ] {
            assert!(!ro(no), "{no:?}");
        }
    }
}

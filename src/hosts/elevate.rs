//! Elevating only the hosts step: `sudo` on Unix, UAC on Windows, and under WSL a UAC-elevated
//! copy onto the Windows hosts file. The commands are built here, purely, and run by the caller.

use std::path::Path;

use crate::platform::{Os, Platform};
use crate::sys::{Cmd, Facts};

/// PowerShell single-quoted string.
pub fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A Windows command-line argument (CommandLineToArgvW rules for quotes).
fn win_arg(s: &str) -> String {
    if !s.is_empty() && !s.contains([' ', '\t', '"']) {
        return s.to_string();
    }
    format!("\"{}\"", s.replace('"', "\\\""))
}

/// The command that runs devenv (`exe args...`) again with administrator rights, for one step.
/// `None` when there is no way to elevate (no sudo).
pub fn rerun_elevated(
    p: Platform,
    sys: &dyn Facts,
    exe: &Path,
    args: &[String],
    interactive: bool,
) -> Option<Cmd> {
    match p.os {
        Os::Windows => {
            let arglist = args
                .iter()
                .map(|a| win_arg(a))
                .collect::<Vec<_>>()
                .join(" ");
            let script = format!(
                "$p = Start-Process -FilePath {} -ArgumentList {} -Verb RunAs -Wait -PassThru; exit $p.ExitCode",
                ps_quote(&exe.to_string_lossy()),
                ps_quote(&arglist)
            );
            Some(
                Cmd::new("powershell")
                    .args(["-NoProfile", "-NonInteractive", "-Command"])
                    .arg(script),
            )
        }
        Os::Linux | Os::MacOs => {
            sys.which("sudo")?;
            let mut c = Cmd::new("sudo");
            if !interactive {
                c = c.arg("-n");
            }
            Some(
                c.arg("--")
                    .arg(exe.to_string_lossy())
                    .args(args.iter().cloned()),
            )
        }
    }
}

/// Under WSL: copies `src` (a Windows path of a file holding the new content) over the Windows
/// hosts file, elevated through UAC.
pub fn wsl_copy_elevated(src_windows_path: &str, dst_windows_path: &str) -> Cmd {
    let inner = format!(
        "Copy-Item -LiteralPath {} -Destination {} -Force",
        ps_quote(src_windows_path),
        ps_quote(dst_windows_path)
    );
    let script = format!(
        "$p = Start-Process -FilePath powershell -ArgumentList {} -Verb RunAs -Wait -PassThru; exit $p.ExitCode",
        ps_quote(&format!(
            "-NoProfile -Command \"{}\"",
            inner.replace('"', "\\\"")
        ))
    );
    Cmd::new("powershell.exe")
        .args(["-NoProfile", "-NonInteractive", "-Command"])
        .arg(script)
}

/// `/mnt/c/Windows/...` → `C:\Windows\...` (WSL's default automount).
pub fn wsl_to_windows_path(p: &Path) -> Option<String> {
    let s = p.to_str()?;
    let rest = s.strip_prefix("/mnt/")?;
    let (drive, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if drive.len() != 1 {
        return None;
    }
    Some(format!(
        "{}:\\{}",
        drive.to_ascii_uppercase(),
        tail.replace('/', "\\")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    fn args() -> Vec<String> {
        [
            "-C",
            "/home/me/my blog",
            "--profile",
            "local",
            "hosts",
            "apply",
            "--yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn unix_uses_sudo_for_this_step_only() {
        let s = FakeSys::new().program("sudo", "/usr/bin/sudo");
        let c = rerun_elevated(
            Platform::linux(),
            &s,
            Path::new("/usr/local/bin/devenv"),
            &args(),
            true,
        )
        .unwrap();
        assert_eq!(
            c.display(),
            "sudo -- /usr/local/bin/devenv -C '/home/me/my blog' --profile local hosts apply --yes"
        );
        let c = rerun_elevated(
            Platform::macos(),
            &s,
            Path::new("/opt/devenv"),
            &args(),
            false,
        )
        .unwrap();
        assert!(c.display().starts_with("sudo -n -- /opt/devenv"));
        assert!(
            rerun_elevated(
                Platform::linux(),
                &FakeSys::new(),
                Path::new("/x"),
                &args(),
                true
            )
            .is_none()
        );
    }

    #[test]
    fn windows_uses_uac() {
        let c = rerun_elevated(
            Platform::windows(),
            &FakeSys::new(),
            Path::new(r"C:\Users\me\devenv.exe"),
            &args(),
            true,
        )
        .unwrap();
        assert_eq!(c.program, "powershell");
        let script = c.args.last().unwrap();
        assert_eq!(
            script,
            r#"$p = Start-Process -FilePath 'C:\Users\me\devenv.exe' -ArgumentList '-C "/home/me/my blog" --profile local hosts apply --yes' -Verb RunAs -Wait -PassThru; exit $p.ExitCode"#
        );
    }

    #[test]
    fn wsl_copies_onto_the_windows_file_elevated() {
        assert_eq!(
            wsl_to_windows_path(Path::new("/mnt/c/Windows/System32/drivers/etc/hosts")).unwrap(),
            r"C:\Windows\System32\drivers\etc\hosts"
        );
        assert!(wsl_to_windows_path(Path::new("/etc/hosts")).is_none());
        let c = wsl_copy_elevated(
            r"C:\Users\Public\devenv-hosts.tmp",
            r"C:\Windows\System32\drivers\etc\hosts",
        );
        assert_eq!(c.program, "powershell.exe");
        let script = c.args.last().unwrap();
        assert!(script.contains("-Verb RunAs"), "{script}");
        assert!(
            script.contains(r#"Copy-Item -LiteralPath ''C:\Users\Public\devenv-hosts.tmp'' -Destination ''C:\Windows\System32\drivers\etc\hosts'' -Force"#),
            "{script}"
        );
    }
}

//! Whether the block devenv wrote is still there. Docker Desktop rewrites the hosts file on
//! upgrades and network changes, and antivirus products (Windows Defender:
//! `SettingsModifier:Win32/PossibleHostsFileHijack`) revert or strip hosts edits: the user then
//! sees "site can't be reached" with no clue. So each write is recorded (a digest of the block as
//! written, and of Docker Desktop's own block beside it), checked right after the write, and by
//! `status` and `doctor` later, with the likely cause and its fix.

use serde::{Deserialize, Serialize};

use crate::platform::Os;

/// What devenv wrote into one hosts file for one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub file: String,
    pub project: String,
    /// SHA-256 of the block's lines as written (markers included).
    pub block: String,
    /// SHA-256 of Docker Desktop's block at that time (`None`: it had none).
    pub docker_desktop: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// The bytes of the lines `first..=last` (1-based) of `src`.
fn lines(src: &[u8], first: usize, last: usize) -> Vec<u8> {
    src.split_inclusive(|b| *b == b'\n')
        .skip(first - 1)
        .take(last + 1 - first)
        .flat_map(|l| l.iter().copied())
        .collect()
}

/// Digest of the project's block in `src` (`None`: no block, or a file devenv cannot read as one).
pub fn block_digest(src: &[u8], project: &str) -> Option<String> {
    let b = super::block::find(src, project).ok()??;
    let text = lines(src, b.first_line, b.last_line);
    Some(crate::hash::sha256_hex(&normalize(&text)))
}

/// Line ends do not count (a tool that rewrites the file with other line ends left the block).
fn normalize(text: &[u8]) -> Vec<u8> {
    text.iter().copied().filter(|b| *b != b'\r').collect()
}

/// Digest of Docker Desktop's own block (`# Added by Docker Desktop` … `# End of section`).
pub fn docker_desktop_digest(src: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(src);
    let start = text.find("# Added by Docker Desktop")?;
    let rest = &text[start..];
    let end = rest
        .find("# End of section")
        .map_or(rest.len(), |i| i + "# End of section".len());
    Some(crate::hash::sha256_hex(&normalize(&rest.as_bytes()[..end])))
}

/// What became of a recorded block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Removed,
    Altered,
}

/// A recorded block that is no longer as devenv wrote it, with the likely cause and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    pub change: Change,
    /// Docker Desktop's own block changed too: it rewrote the file.
    pub docker_desktop_changed: bool,
    pub message: String,
    pub fix: String,
}

/// Judges `src` (the file now) against what was recorded; `apply` is the command that puts the
/// block back.
pub fn judge(record: &Record, src: &[u8], os: Os, apply: &str) -> Option<Finding> {
    let now = block_digest(src, &record.project);
    let change = match now {
        Some(d) if d == record.block => return None,
        Some(_) => Change::Altered,
        None => Change::Removed,
    };
    let dd_now = docker_desktop_digest(src);
    let docker_desktop_changed = dd_now != record.docker_desktop;
    let what = match change {
        Change::Removed => "was removed",
        Change::Altered => "was changed",
    };
    let cause = if docker_desktop_changed {
        "Docker Desktop's own block changed at the same time: Docker Desktop rewrote the file (it does on upgrades and network changes)".to_string()
    } else if os == Os::Windows {
        "Docker Desktop's block did not change: most likely an antivirus reverted the edit (Windows Defender reports hosts edits as SettingsModifier:Win32/PossibleHostsFileHijack)".to_string()
    } else {
        "another program or a person edited the file".to_string()
    };
    let mut fix = format!("`{apply}` writes it again");
    if os == Os::Windows && !docker_desktop_changed {
        fix.push_str(&format!(
            "; to keep Defender from reverting it, in an administrator PowerShell: `Add-MpPreference -ExclusionPath '{}'`",
            record.file
        ));
    }
    Some(Finding {
        file: record.file.clone(),
        change,
        docker_desktop_changed,
        message: format!(
            "the devenv block of {} in {} {what} since devenv wrote it ({}); {cause}",
            record.project, record.file, record.at
        ),
        fix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DD: &str = "# Added by Docker Desktop\r\n192.168.1.5 host.docker.internal\r\n127.0.0.1 kubernetes.docker.internal\r\n# End of section\r\n";

    fn with_block(dd: &str, addr: &str) -> String {
        format!(
            "127.0.0.1 localhost\r\n{dd}# >>> devenv myblog >>>\r\n# managed by devenv\r\n{addr}\tmyblog.test\r\n# <<< devenv myblog <<<\r\n"
        )
    }

    fn record(src: &str) -> Record {
        Record {
            file: r"C:\Windows\System32\drivers\etc\hosts".into(),
            project: "myblog".into(),
            block: block_digest(src.as_bytes(), "myblog").unwrap(),
            docker_desktop: docker_desktop_digest(src.as_bytes()),
            at: "2026-12-03T10:00:00Z".into(),
        }
    }

    #[test]
    fn an_untouched_block_is_fine_whatever_its_line_ends() {
        let src = with_block(DD, "127.0.0.1");
        let r = record(&src);
        assert_eq!(
            judge(&r, src.as_bytes(), Os::Windows, "devenv hosts apply"),
            None
        );
        let lf = src.replace("\r\n", "\n");
        assert_eq!(
            judge(&r, lf.as_bytes(), Os::Windows, "devenv hosts apply"),
            None
        );
    }

    #[test]
    fn defender_stripping_the_block_is_named_with_the_exclusion() {
        let src = with_block(DD, "127.0.0.1");
        let r = record(&src);
        let stripped = format!("127.0.0.1 localhost\r\n{DD}");
        let f = judge(&r, stripped.as_bytes(), Os::Windows, "devenv hosts apply").unwrap();
        assert_eq!(f.change, Change::Removed);
        assert!(!f.docker_desktop_changed);
        assert!(
            f.message.contains("was removed since devenv wrote it"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("PossibleHostsFileHijack"),
            "{}",
            f.message
        );
        assert!(
            f.fix.contains(
                r"Add-MpPreference -ExclusionPath 'C:\Windows\System32\drivers\etc\hosts'"
            ),
            "{}",
            f.fix
        );
        assert!(f.fix.starts_with("`devenv hosts apply` writes it again"));
    }

    #[test]
    fn docker_desktop_rewriting_the_file_is_named() {
        let src = with_block(DD, "127.0.0.1");
        let r = record(&src);
        let dd2 = DD.replace("192.168.1.5", "10.0.0.9");
        let rewritten = with_block(&dd2, "#127.0.0.1");
        let f = judge(&r, rewritten.as_bytes(), Os::Windows, "devenv hosts apply").unwrap();
        assert_eq!(f.change, Change::Altered);
        assert!(f.docker_desktop_changed);
        assert!(
            f.message.contains("Docker Desktop rewrote the file"),
            "{}",
            f.message
        );
        assert!(!f.fix.contains("Add-MpPreference"));
        // elsewhere, no Defender
        let gone = "127.0.0.1 localhost\n";
        let f = judge(&r, gone.as_bytes(), Os::Linux, "devenv hosts apply").unwrap();
        assert!(f.docker_desktop_changed, "Docker Desktop's block went too");
        let linux = with_block("", "127.0.0.1");
        let r = record(&linux);
        let f = judge(&r, gone.as_bytes(), Os::Linux, "devenv hosts apply").unwrap();
        assert!(
            f.message.contains("another program or a person"),
            "{}",
            f.message
        );
        assert!(!f.fix.contains("Add-MpPreference"));
    }
}

//! The hosts file: a lossless parser, the project's managed block, a careful writer, and the plan
//! that ties them to a profile.

pub mod block;
pub mod edit;
pub mod elevate;
pub mod integrity;
pub mod parse;
pub mod sync;
pub mod write;

/// Host names are checked where every name is: [`crate::name::host`].
pub use crate::name::host as validate;

use std::path::{Path, PathBuf};

use crate::error::UserError;
use crate::profile::{Profile, Project};
use block::{BlockError, BlockSpec, Conflict};
use parse::Ending;

/// The system hosts file of `platform`: `%SystemRoot%\System32\drivers\etc\hosts` on Windows,
/// `/etc/hosts` elsewhere.
pub fn system_hosts_path(
    platform: crate::platform::Platform,
    sys: &dyn crate::sys::Facts,
) -> PathBuf {
    match platform.os {
        crate::platform::Os::Windows => {
            let root = sys
                .var("SystemRoot")
                .unwrap_or_else(|| r"C:\Windows".to_string());
            PathBuf::from(format!(
                "{}\\System32\\drivers\\etc\\hosts",
                root.trim_end_matches('\\')
            ))
        }
        _ => PathBuf::from("/etc/hosts"),
    }
}

/// Under WSL: the Windows hosts file, which the Windows browser reads.
pub fn wsl_windows_hosts_path() -> PathBuf {
    PathBuf::from("/mnt/c/Windows/System32/drivers/etc/hosts")
}

/// The hosts files devenv manages on this machine: the given one, or the system's (and under
/// WSL also the Windows one).
pub fn targets(
    explicit: Option<&Path>,
    platform: crate::platform::Platform,
    sys: &dyn crate::sys::Facts,
) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let mut v = vec![system_hosts_path(platform, sys)];
    if platform.wsl && wsl_windows_hosts_path().exists() {
        v.push(wsl_windows_hosts_path());
    }
    v
}

/// Whether this machine's resolver reads `path`: it is (or links to) one of the system's hosts
/// files. A `--hosts-file` copy is not: names it maps resolve only through devenv's probes.
pub fn read_by_resolver(
    path: &Path,
    platform: crate::platform::Platform,
    sys: &dyn crate::sys::Facts,
) -> bool {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let path = real(path);
    targets(None, platform, sys).iter().any(|s| real(s) == path)
}

/// The addresses the project's block in `path` maps each of its names to (names in lower case;
/// an absent file or block maps nothing).
pub fn mapped(
    path: &Path,
    project: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, Vec<std::net::IpAddr>>> {
    let src = write::read(path)?;
    let mut out: std::collections::BTreeMap<String, Vec<std::net::IpAddr>> = Default::default();
    let Some(block) = block::find(&src, project).map_err(|e| block_error(path, e))? else {
        return Ok(out);
    };
    for (address, names) in block.entries {
        let Ok(ip) = address.parse::<std::net::IpAddr>() else {
            continue;
        };
        for n in names {
            let v = out.entry(n.to_ascii_lowercase()).or_default();
            if !v.contains(&ip) {
                v.push(ip);
            }
        }
    }
    Ok(out)
}

/// The profile's names, validated and normalised (punycode, lowercase), without duplicates.
pub fn names_for(profile: &Profile) -> anyhow::Result<Vec<String>> {
    profile.host_names()
}

/// What to do with the project's block in a hosts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Make the block map these names to loopback (an empty list keeps an empty block out: the
    /// block is removed).
    Map(Vec<String>),
    /// Remove the block.
    Remove,
}

/// What devenv will do to one hosts file.
#[derive(Debug, Clone)]
pub struct HostsPlan {
    pub path: PathBuf,
    pub project: String,
    pub profile: String,
    /// The names the block will map; empty when the block is removed.
    pub names: Vec<String>,
    pub ipv6: bool,
    pub before: Vec<u8>,
    pub edit: edit::Edit,
    pub conflicts: Vec<Conflict>,
    pub warnings: Vec<String>,
    /// An interrupted in-place write left the file half-written: the write restores it first.
    pub interrupted: Option<String>,
    /// An interrupted in-place write left its journal while the file is whole: the next write
    /// (even one that changes nothing) takes it away.
    pub journal_pending: bool,
    /// `hosts restore`: the whole content to put back, instead of the project's block.
    pub replace_with: Option<Vec<u8>>,
}

impl HostsPlan {
    /// Whether the file's content changes (a half-written file restored counts).
    pub fn changes(&self) -> bool {
        !self.edit.is_noop(&self.before) || self.interrupted.is_some()
    }

    /// Whether the careful writer has anything to do: a change, or a stale journal to clear.
    pub fn needs_write(&self) -> bool {
        self.changes() || self.journal_pending
    }

    /// Whether this plan takes the block out of the file.
    pub fn removes_block(&self) -> bool {
        self.names.is_empty()
    }

    /// The new content in full.
    pub fn after(&self) -> Vec<u8> {
        self.edit.materialize(&self.before)
    }

    fn spec(&self) -> BlockSpec<'_> {
        BlockSpec {
            project: &self.project,
            profile: &self.profile,
            names: &self.names,
            ipv6: self.ipv6,
        }
    }

    /// The edit of `current` (the file as it is when the write happens).
    pub fn transform(&self, current: &[u8]) -> anyhow::Result<edit::Edit> {
        if let Some(content) = &self.replace_with {
            return Ok(edit::Edit::replace_all(current, content.clone()));
        }
        block::apply_edit(current, &self.spec(), default_ending(&self.path))
            .map_err(|e| block_error(&self.path, e))
    }

    /// Putting `content` (a backup) back in place of `current`.
    pub fn restore(
        path: &Path,
        project: &Project,
        current: Vec<u8>,
        content: Vec<u8>,
    ) -> HostsPlan {
        HostsPlan {
            path: path.to_path_buf(),
            project: project.name().to_string(),
            profile: String::new(),
            names: Vec::new(),
            ipv6: false,
            edit: edit::Edit::replace_all(&current, content.clone()),
            before: current,
            conflicts: Vec::new(),
            warnings: Vec::new(),
            interrupted: None,
            journal_pending: false,
            replace_with: Some(content),
        }
    }

    /// A unified diff of the change (CRLF shown as LF; the file keeps its endings).
    pub fn diff(&self) -> String {
        let show = |b: &[u8]| String::from_utf8_lossy(b).replace("\r\n", "\n");
        crate::textdiff::unified(
            &show(&self.before),
            &show(&self.after()),
            &format!("{} (now)", self.path.display()),
            &format!("{} (after)", self.path.display()),
        )
    }
}

fn default_ending(path: &Path) -> Ending {
    let windows_file = path.starts_with("/mnt/") || path.to_string_lossy().contains('\\');
    if cfg!(windows) || windows_file {
        Ending::CrLf
    } else {
        Ending::Lf
    }
}

pub fn block_error(path: &Path, e: BlockError) -> anyhow::Error {
    UserError::new(format!("{}: {e}", path.display()))
        .hint(match e {
            BlockError::Parse(_) => "devenv wrote nothing".to_string(),
            BlockError::Markers { .. } => format!(
                "devenv wrote nothing; `devenv hosts restore` brings back the last backup of {}",
                path.display()
            ),
        })
        .into()
}

/// Plans the project's block for `profile` in `path`.
pub fn plan(
    path: &Path,
    project: &Project,
    profile: &Profile,
    action: Action,
    opts: &write::Options,
    ipv6: bool,
) -> anyhow::Result<HostsPlan> {
    let names = match action {
        Action::Map(n) => n,
        Action::Remove => Vec::new(),
    };
    let (before, journaled) = write::read_for_plan(path, opts)?;
    let journal_pending = journaled == write::Journaled::Stale;
    let interrupted = match journaled {
        write::Journaled::HalfWritten(m) => Some(m),
        _ => None,
    };
    let mut p = HostsPlan {
        path: path.to_path_buf(),
        project: project.name().to_string(),
        profile: profile.name.clone(),
        ipv6,
        names,
        edit: edit::Edit::none(&[]),
        before,
        conflicts: Vec::new(),
        warnings: Vec::new(),
        interrupted,
        journal_pending,
        replace_with: None,
    };
    p.edit = p.transform(&p.before)?;
    p.conflicts = block::conflicts(&p.before, &p.spec()).map_err(|e| block_error(path, e))?;
    for c in &p.conflicts {
        if c.shadows {
            p.warnings.push(format!(
                "{}:{} maps {} to {} before devenv's block; the first match wins, so the name will not reach this stack. Remove or comment out that line",
                path.display(),
                c.line,
                c.name,
                c.address
            ));
        }
    }
    for n in &p.names {
        if let Some(w) = validate::mdns_warning(n) {
            p.warnings.push(w);
        }
    }
    Ok(p)
}

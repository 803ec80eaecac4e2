//! The project's block in every hosts file devenv manages, planned as one value: which files
//! change and how (a diff each), which need administrator rights, the DNS caches to flush after,
//! and whether the names are checked with the resolvers. `hosts apply/remove`, `switch` and `up`
//! all plan through here; [`crate::ops::hosts::apply`] carries a plan out.

use std::path::PathBuf;

use serde::Serialize;

use super::{Action, HostsPlan, write};
use crate::profile::{Profile, Project};
use crate::sys::{Cmd, Facts};

/// What the block should become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The profile's names (`hosts apply`).
    Apply,
    /// No block (`hosts remove`).
    Remove,
    /// The profile's names when it has some, no block otherwise (`switch`, `up`).
    Match,
}

/// One file's part of the plan.
#[derive(Debug, Clone)]
pub struct FilePlan {
    pub plan: HostsPlan,
    /// Whether this process may write it (else only this step is elevated).
    pub writable: bool,
}

#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub names: Vec<String>,
    pub files: Vec<FilePlan>,
    /// Flushed once a file changed.
    pub flush: Vec<Cmd>,
    /// The system hosts file is among them: the names are checked with hickory and the OS resolver.
    pub verify: bool,
    /// Said before anything is done (a profile without names, names shadowed earlier in a file).
    pub notes: Vec<String>,
    /// Said as information: why the hosts files are left alone (names under `.localhost`).
    pub info: Vec<String>,
}

/// One file, as a `--json` plan shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub file: PathBuf,
    pub changes: bool,
    pub removes_block: bool,
    pub needs_elevation: bool,
    pub diff: String,
}

impl SyncPlan {
    pub fn changes(&self) -> bool {
        self.files.iter().any(|f| f.plan.changes())
    }

    pub fn summary(&self) -> Vec<FileSummary> {
        self.files
            .iter()
            .map(|f| FileSummary {
                file: f.plan.path.clone(),
                changes: f.plan.changes(),
                removes_block: f.plan.removes_block(),
                needs_elevation: f.plan.changes() && !f.writable,
                diff: if f.plan.changes() {
                    f.plan.diff()
                } else {
                    String::new()
                },
            })
            .collect()
    }

    /// The plan as `--dry-run` prints it.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for i in &self.info {
            out.push_str(&format!("{i}\n"));
        }
        for f in &self.files {
            let p = &f.plan;
            if let Some(i) = &p.interrupted {
                out.push_str(&format!("{i}\n"));
            }
            if p.changes() {
                out.push_str(&format!(
                    "would write {}{}:\n{}",
                    p.path.display(),
                    if f.writable {
                        ""
                    } else {
                        " (with administrator rights, for this step only)"
                    },
                    p.diff()
                ));
            } else {
                out.push_str(&format!("{}: already up to date\n", p.path.display()));
            }
        }
        if self.changes() {
            for c in &self.flush {
                out.push_str(&format!("would run: {}\n", c.display()));
            }
        }
        out
    }
}

/// Plans the block of `profile` in each of `targets`.
pub fn plan(
    targets: &[PathBuf],
    project: &Project,
    profile: &Profile,
    want: Want,
    sys: &dyn Facts,
    ipv6: bool,
) -> anyhow::Result<SyncPlan> {
    let names = match want {
        Want::Remove => Vec::new(),
        Want::Apply | Want::Match => super::names_for(profile)?,
    };
    // names under .localhost need no entry: browsers and curl resolve them to this machine
    // themselves, so `up` and `switch` leave every hosts file alone (no administrator, no DNS
    // flush); `hosts apply` still maps them, for the programs that do not
    if want == Want::Match
        && !names.is_empty()
        && names.iter().all(|n| crate::probe::is_localhost(n))
    {
        return Ok(SyncPlan {
            names: Vec::new(),
            files: Vec::new(),
            flush: Vec::new(),
            verify: false,
            notes: Vec::new(),
            info: vec![localhost_note(profile)],
        });
    }
    let mut notes = Vec::new();
    if want == Want::Apply && names.is_empty() {
        notes.push(format!(
            "profile {} lists no `hosts:`; nothing to map (the block, if any, is removed)",
            profile.name
        ));
    }
    let action = if names.is_empty() {
        Action::Remove
    } else {
        Action::Map(names.clone())
    };
    let mut files = Vec::new();
    for path in targets {
        let opts = write::Options::for_file(sys, path);
        let plan = super::plan(path, project, profile, action.clone(), &opts, ipv6)?;
        notes.extend(plan.warnings.iter().cloned());
        let writable = write::writable_or_creatable(path);
        files.push(FilePlan { plan, writable });
    }
    let verify =
        !names.is_empty() && targets.contains(&super::system_hosts_path(sys.platform(), sys));
    Ok(SyncPlan {
        flush: crate::dns::flush_plan(sys.platform(), sys),
        names,
        files,
        verify,
        notes,
        info: Vec::new(),
    })
}

/// Why a profile whose names are all under `.localhost` leaves the hosts file alone.
pub fn localhost_note(profile: &Profile) -> String {
    format!(
        "profile {}'s names are under .localhost: browsers and curl reach them on this machine by themselves, so devenv leaves the hosts file alone (no administrator needed); `devenv hosts apply` adds them for programs that use the system's resolver",
        profile.name
    )
}

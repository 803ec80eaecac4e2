//! The careful writer for the hosts file: a lock serialises devenv runs, the file is re-read and
//! compared before writing, nothing is written when nothing changes, a timestamped backup is kept,
//! and the write is atomic (temp file in the same directory, fsync, rename) keeping mode, owner and
//! SELinux label — with an in-place fallback where a rename is impossible (a bind-mounted file,
//! a read-only directory) and retries for Windows sharing violations.
//!
//! What it refuses: a path that is not a regular file (a device, a FIFO, a directory, a socket)
//! or a dangling symbolic link is never opened for writing, created or replaced. An in-place
//! write is journaled (old and new content, fsync'ed, before the first byte changes), so a run
//! killed halfway is repaired by the next one; a full disk leaves the old content. Lines another
//! program appends while devenv replaces the file are carried over into the new file.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the file was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Unchanged,
    Atomic,
    InPlace,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub method: Method,
    pub backup: Option<PathBuf>,
}

use super::edit::Edit;

/// The file (or its directory) is not writable by this user.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot write {}: permission denied", path.display())]
pub struct PermissionDenied {
    pub path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Where backups go (`None`: no backup).
    pub backup_dir: Option<PathBuf>,
    pub keep_backups: usize,
    /// Where the journal of an in-place write goes (`None`: in-place writes are not journaled).
    pub journal_dir: Option<PathBuf>,
}

impl Options {
    /// Backups and journals of `path` where [`backup_dir`] keeps them.
    pub fn for_file(sys: &dyn crate::sys::Facts, path: &Path) -> Options {
        let dir = backup_dir(sys, path);
        Options {
            backup_dir: Some(dir.clone()),
            keep_backups: 10,
            journal_dir: Some(dir),
        }
    }
}

/// Where the backups and journals of `path` go: the system's hosts files' in the user's data
/// directory; any other file's (a `--hosts-file`) beside it, in `.devenv-hosts-backups/`, so a
/// copy's backups never mix with the system's.
pub fn backup_dir(sys: &dyn crate::sys::Facts, path: &Path) -> PathBuf {
    if super::read_by_resolver(path, sys.platform(), sys) {
        return crate::paths::data_dir(sys).join("hosts-backups");
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(".devenv-hosts-backups"),
        _ => PathBuf::from(".devenv-hosts-backups"),
    }
}

/// Why a path cannot be used as a hosts file. Nothing is written when one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("{} is a dangling symbolic link (to {}): devenv neither creates nor replaces what it points at", path.display(), target.display())]
    Dangling { path: PathBuf, target: PathBuf },
    #[error("{} is not a regular file but {kind}: devenv never writes to it or replaces it", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} cannot be created: the directory {} does not exist", path.display(), dir.display())]
    NoDirectory { path: PathBuf, dir: PathBuf },
}

impl Unusable {
    pub fn hint(&self) -> String {
        match self {
            Unusable::Dangling { target, .. } => format!(
                "create {} first, or point --hosts-file (DEVENV_HOSTS_FILE) at a regular file",
                target.display()
            ),
            Unusable::NotRegular { .. } => "point --hosts-file (DEVENV_HOSTS_FILE) at a regular file; a profile without `hosts:` leaves the hosts file alone".to_string(),
            Unusable::NoDirectory { dir, .. } => format!(
                "check the path, or create {} first",
                dir.display()
            ),
        }
    }
}

fn kind_of(ft: &std::fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        return None;
    }
    if ft.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() {
            return Some("a character device");
        }
        if ft.is_block_device() {
            return Some("a block device");
        }
        if ft.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// Checks that `path` is a regular file (through a symlink too), or does not exist in an
/// existing directory. Reads metadata only: a FIFO is never opened, a device never touched.
pub fn check(path: &Path) -> Result<(), Unusable> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = dir_of(path);
            if !dir.is_dir() {
                return Err(Unusable::NoDirectory {
                    path: path.to_path_buf(),
                    dir,
                });
            }
            return Ok(());
        }
        // let the read or write name the error
        Err(_) => return Ok(()),
    };
    let meta = if meta.file_type().is_symlink() {
        match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let link = std::fs::read_link(path).unwrap_or_default();
                let target = if link.is_absolute() {
                    link
                } else {
                    dir_of(path).join(link)
                };
                return Err(Unusable::Dangling {
                    path: path.to_path_buf(),
                    target,
                });
            }
            Err(_) => return Ok(()),
        }
    } else {
        meta
    };
    match kind_of(&meta.file_type()) {
        None => Ok(()),
        Some(kind) => Err(Unusable::NotRegular {
            path: path.to_path_buf(),
            kind,
        }),
    }
}

/// Opens `path` for reading without blocking on a FIFO swapped in after [`check`], and refuses
/// anything that is not a regular file once open.
fn open_regular(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, libc::O_NONBLOCK);
    let f = retry(|| o.open(path))?;
    if let Some(kind) = kind_of(&f.metadata()?.file_type()) {
        return Err(std::io::Error::other(Unusable::NotRegular {
            path: path.to_path_buf(),
            kind,
        }));
    }
    Ok(f)
}

fn denied(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied
        || e.raw_os_error() == Some(30 /* EROFS */) && cfg!(unix)
}

/// Windows reports a file opened elsewhere without sharing as error 32/33; retried.
fn sharing_violation(e: &std::io::Error) -> bool {
    cfg!(windows) && matches!(e.raw_os_error(), Some(32) | Some(33))
}

fn retry<T>(mut op: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    let mut wait = Duration::from_millis(20);
    for _ in 0..12 {
        match op() {
            Err(e) if sharing_violation(&e) => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_millis(500));
            }
            r => return r,
        }
    }
    op()
}

/// An exclusive lock that serialises devenv runs on one hosts file.
pub struct HostsLock {
    /// Unix: the locked hosts file itself (the inode an atomic write replaces).
    #[cfg_attr(not(unix), allow(dead_code))]
    file: File,
}

/// Takes the lock. On Unix the hosts file itself is flock'ed (re-checking after the lock that the
/// path still names the locked inode, since an atomic write replaces it); on Windows, where locks
/// are mandatory and would block readers, a sidecar `hosts.devenv.lock` is locked instead.
pub fn lock(path: &Path) -> std::io::Result<HostsLock> {
    if cfg!(windows) {
        let side = sidecar(path);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&side)?;
        f.lock()?;
        return Ok(HostsLock { file: f });
    }
    // each round either locks or sees the file replaced/created by another run; a path that
    // keeps changing under us for this long is someone else's loop, not a reason to spin forever
    for _ in 0..1000 {
        check(path).map_err(std::io::Error::other)?;
        let f = match open_regular(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // nothing to lock yet: create it empty (O_EXCL, so a racing creator wins cleanly;
                // O_EXCL also refuses to follow a symlink, which `check` already looked at)
                match OpenOptions::new().write(true).create_new(true).open(path) {
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        f.lock()?;
        if same_file(&f.metadata()?, &std::fs::metadata(path)?) {
            return Ok(HostsLock { file: f });
        }
        // replaced while we waited: lock the new one
    }
    Err(std::io::Error::other(format!(
        "{} keeps being replaced by another program; try again",
        path.display()
    )))
}

fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".devenv.lock");
    PathBuf::from(s)
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_a: &Metadata, _b: &Metadata) -> bool {
    true
}

/// The largest hosts file devenv reads (a real one is kilobytes; 100,000 lines are 4 MB).
pub const MAX_HOSTS_BYTES: u64 = 64 << 20;

/// Reads the file (a missing file reads as empty); refuses what is not a regular file.
pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    check(path).map_err(|e| unusable(&e))?;
    read_raw(path).map_err(|e| io_err(path, e))
}

fn read_raw(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    match open_regular(path) {
        Ok(f) => {
            let mut v = Vec::new();
            f.take(MAX_HOSTS_BYTES + 1).read_to_end(&mut v)?;
            if v.len() as u64 > MAX_HOSTS_BYTES {
                return Err(std::io::Error::other(format!(
                    "larger than devenv's limit of {MAX_HOSTS_BYTES} bytes for a hosts file"
                )));
            }
            Ok(v)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// An [`Unusable`] path as the user sees it: what is wrong and what to do.
pub fn unusable(e: &Unusable) -> anyhow::Error {
    crate::error::UserError::new(e.to_string())
        .hint(e.hint())
        .into()
}

/// The content to plan from: the file as it is, or — when an in-place write was interrupted
/// and the file holds neither its old nor its new content — the old content the next write
/// restores first (with a line saying so).
pub fn read_for_plan(path: &Path, opts: &Options) -> anyhow::Result<(Vec<u8>, Journaled)> {
    let now = read(path)?;
    let Some(j) = opts
        .journal_dir
        .as_deref()
        .and_then(|d| Journal::load(d, path))
    else {
        return Ok((now, Journaled::Nothing));
    };
    if now == j.old || now == j.new {
        return Ok((now, Journaled::Stale));
    }
    Ok((
        j.old,
        Journaled::HalfWritten(format!(
            "{} was left half-written by an interrupted devenv run; its previous content is restored before anything else is written",
            path.display()
        )),
    ))
}

/// What an interrupted in-place write left for the next write to finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Journaled {
    Nothing,
    /// A journal whose write was killed before or after the file changed: the file is whole, and
    /// the next write under the lock only takes the journal away.
    Stale,
    /// The file holds neither its old nor its new content: the old one is restored first.
    HalfWritten(String),
}

/// Reads, edits with `f`, and writes `path` if the content changes — under the lock.
pub fn update<F>(path: &Path, opts: &Options, f: F) -> anyhow::Result<Outcome>
where
    F: Fn(&[u8]) -> anyhow::Result<Edit>,
{
    let (before, _) = read_for_plan(path, opts)?;
    let edit = f(&before)?;
    update_planned(path, opts, before, edit, f)
}

/// Like [`update`], for a caller that already read the file (`before`) and planned `edit`:
/// under the lock the file is compared with `before` (streamed, no second copy in memory) and the
/// edit is written as planned; only if the file changed meanwhile is it read and `f` run again.
pub fn update_planned<F>(
    path: &Path,
    opts: &Options,
    mut before: Vec<u8>,
    mut edit: Edit,
    f: F,
) -> anyhow::Result<Outcome>
where
    F: Fn(&[u8]) -> anyhow::Result<Edit>,
{
    let unchanged = Outcome {
        method: Method::Unchanged,
        backup: None,
    };
    check(path).map_err(|e| unusable(&e))?;
    if !path.exists() && before.is_empty() && edit.is_empty(&before) {
        return Ok(unchanged);
    }
    let lock = lock(path).map_err(|e| io_err(path, e))?;
    clean_stale_temps(path);
    if let Some(dir) = &opts.journal_dir
        && let Some(msg) = recover(path, dir).map_err(|e| io_err(path, e))?
    {
        crate::ui::warn(&msg);
    }
    for _ in 0..3 {
        // re-read and compare under the lock: another program may have written it since
        if same_content(path, &before).map_err(|e| io_err(path, e))? {
            break;
        }
        before = read_raw(path).map_err(|e| io_err(path, e))?;
        edit = f(&before)?;
    }
    if edit.is_noop(&before) {
        return Ok(unchanged);
    }
    if !writable(path) {
        return Err(PermissionDenied {
            path: path.to_path_buf(),
        }
        .into());
    }
    let keep = match &opts.backup_dir {
        Some(dir) if !before.is_empty() => Some(Backup {
            dir,
            keep: opts.keep_backups,
            content: &before,
        }),
        _ => None,
    };
    let (method, backup) = write_with_backup(
        path,
        &edit.pieces(&before),
        &before,
        keep,
        opts.journal_dir.as_deref(),
    )
    .map_err(|e| io_err(path, e))?;
    if method == Method::Atomic {
        carry_over_appends(path, opts, &lock, &before)?;
    }
    Ok(Outcome { method, backup })
}

/// After an atomic replace: lines another program appended to the old file between devenv's
/// last look and the rename (`echo ... >> /etc/hosts` does not lock) landed in the replaced
/// inode; they are appended to the new file, so nothing another program wrote is lost.
fn carry_over_appends(
    path: &Path,
    opts: &Options,
    lock: &HostsLock,
    before: &[u8],
) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let old = &lock.file;
        // a writer that opened the old file before the rename may not have written yet: wait
        // until no other process holds it open (it cannot be opened by its name any more)
        wait_until_unused(old);
        let len = old.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        if len <= before.len() {
            return Ok(());
        }
        let mut now = vec![0u8; len];
        if old.read_exact_at(&mut now, 0).is_err() || !now.starts_with(before) {
            crate::ui::warn(&format!(
                "{} was changed by another program while devenv replaced it; check it",
                path.display()
            ));
            return Ok(());
        }
        let extra = now[before.len()..].to_vec();
        crate::ui::debug(&format!(
            "{}: {} bytes appended by another program during the write are carried over",
            path.display(),
            extra.len()
        ));
        let quiet = Options {
            backup_dir: None,
            ..opts.clone()
        };
        update(path, &quiet, |cur| {
            let mut v = cur.to_vec();
            v.extend_from_slice(&extra);
            Ok(Edit::replace_all(cur, v))
        })?;
    }
    #[cfg(not(unix))]
    let _ = (path, opts, lock, before);
    Ok(())
}

#[cfg(unix)]
/// Linux: waits (up to 2 s) until no other process has `f`'s inode open, by looking through
/// `/proc/*/fd`. Elsewhere (or where /proc tells nothing) it returns at once.
fn wait_until_unused(f: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(m) = f.metadata() else { return };
        let (dev, ino) = (m.dev(), m.ino());
        let me = std::process::id().to_string();
        let held_elsewhere = || -> bool {
            let Ok(procs) = std::fs::read_dir("/proc") else {
                return false;
            };
            procs.flatten().any(|p| {
                let name = p.file_name();
                let name = name.to_string_lossy();
                if name == me || !name.bytes().all(|b| b.is_ascii_digit()) {
                    return false;
                }
                std::fs::read_dir(p.path().join("fd")).is_ok_and(|fds| {
                    fds.flatten().any(|fd| {
                        std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == dev && m.ino() == ino)
                    })
                })
            })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while held_elsewhere() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = f;
}

/// Whether the file's bytes equal `expected`, read in chunks.
fn same_content(path: &Path, expected: &[u8]) -> std::io::Result<bool> {
    use std::io::Read;
    let mut f = match open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(expected.is_empty()),
        Err(e) => return Err(e),
    };
    if f.metadata()?.len() != expected.len() as u64 {
        return Ok(false);
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut off = 0;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(off == expected.len());
        }
        if off + n > expected.len() || buf[..n] != expected[off..off + n] {
            return Ok(false);
        }
        off += n;
    }
}

/// Whether this user may write the file, or create it when it does not exist.
pub fn writable_or_creatable(path: &Path) -> bool {
    if path.exists() {
        return writable(path);
    }
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => writable(d),
        _ => writable(Path::new(".")),
    }
}

/// Whether this user may write the file (checked before anything is written, backups included).
pub fn writable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: c is a valid NUL-terminated path.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        match std::fs::metadata(path) {
            // the read-only attribute is cleared and restored by the writer
            Ok(m) if m.permissions().readonly() => true,
            // the ACL decides: open for writing (nothing is written) is the honest test; a
            // non-elevated process is refused on the system hosts file
            Ok(_) => OpenOptions::new().write(true).open(path).is_ok(),
            Err(_) => false,
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> anyhow::Error {
    if let Some(u) = e.get_ref().and_then(|i| i.downcast_ref::<Unusable>()) {
        return unusable(u);
    }
    if e.raw_os_error() == Some(28) && cfg!(unix) {
        return crate::error::UserError::new(format!(
            "cannot write {}: no space left on device (the file is as it was)",
            path.display()
        ))
        .hint("free some space on that file system, then run the command again")
        .into();
    }
    if denied(&e) {
        PermissionDenied {
            path: path.to_path_buf(),
        }
        .into()
    } else {
        anyhow::anyhow!("{}: {e}", path.display())
    }
}

/// A backup to keep of the content being replaced.
pub struct Backup<'a> {
    pub dir: &'a Path,
    pub keep: usize,
    pub content: &'a [u8],
}

/// Writes `data` to `path` (atomically when possible, in place otherwise), keeping a backup of
/// the old content (`before`): on the atomic path a hard link to the replaced inode (no copy),
/// otherwise a copy. An in-place write is journaled in `journal_dir` first.
pub fn write_with_backup(
    path: &Path,
    data: &[&[u8]],
    before: &[u8],
    backup: Option<Backup<'_>>,
    journal_dir: Option<&Path>,
) -> std::io::Result<(Method, Option<PathBuf>)> {
    let meta = std::fs::metadata(path)?;
    // a symlinked hosts file: replace its target, keeping the link
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let copy_backup = |b: &Backup<'_>| -> std::io::Result<PathBuf> {
        save_backup(b.dir, path, b.content, b.keep, None).map_err(std::io::Error::other)
    };
    let in_place =
        |why: &std::io::Error, b: Option<PathBuf>| -> std::io::Result<(Method, Option<PathBuf>)> {
            crate::ui::debug(&format!(
                "atomic replace of {} impossible ({why}); writing in place",
                path.display()
            ));
            // a hard-linked backup would be overwritten with the file: make it a copy first
            if let Some(l) = &b {
                let _ = std::fs::remove_file(l);
            }
            let saved = backup.as_ref().map(copy_backup).transpose()?;
            write_in_place_journaled(path, data, before, &meta, journal_dir)?;
            Ok((Method::InPlace, saved))
        };
    let tmp = match prepare_temp(&target, data, &meta) {
        Ok(t) => t,
        Err(e) if rename_impossible(&e) => return in_place(&e, None),
        Err(e) => return Err(e),
    };
    let saved = match &backup {
        Some(b) => match save_backup(b.dir, path, b.content, b.keep, Some(&target)) {
            Ok(p) => Some(p),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(std::io::Error::other(e));
            }
        },
        None => None,
    };
    match commit_temp(&tmp, &target, &meta) {
        Ok(()) => Ok((Method::Atomic, saved)),
        Err(e) if rename_impossible(&e) => {
            let _ = std::fs::remove_file(&tmp);
            in_place(&e, saved)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The old and the new content of an in-place write, saved (fsync'ed) before its first byte is
/// written and removed once it is durable: a write killed in between is undone by the next run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

const JOURNAL_MAGIC: &[u8] = b"devenv-hosts-journal 1\n";

impl Journal {
    pub fn path(dir: &Path, hosts: &Path) -> PathBuf {
        dir.join(format!("hosts-{}.journal", path_key(hosts)))
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = JOURNAL_MAGIC.to_vec();
        v.extend_from_slice(format!("{} {}\n", self.old.len(), self.new.len()).as_bytes());
        v.extend_from_slice(&self.old);
        v.extend_from_slice(&self.new);
        v.extend_from_slice(crate::hash::sha256_hex(&v).as_bytes());
        v
    }

    fn decode(b: &[u8]) -> Option<Journal> {
        let (body, sum) = b.split_at(b.len().checked_sub(64)?);
        if crate::hash::sha256_hex(body).as_bytes() != sum {
            return None;
        }
        let rest = body.strip_prefix(JOURNAL_MAGIC)?;
        let nl = rest.iter().position(|&c| c == b'\n')?;
        let (a, n) = std::str::from_utf8(&rest[..nl]).ok()?.split_once(' ')?;
        let (a, n): (usize, usize) = (a.parse().ok()?, n.parse().ok()?);
        let data = &rest[nl + 1..];
        (data.len() == a + n).then(|| Journal {
            old: data[..a].to_vec(),
            new: data[a..].to_vec(),
        })
    }

    /// The journal of `hosts` in `dir`, if an interrupted write left one (a damaged one is ignored:
    /// it is written whole before the hosts file is touched, so it was never acted on).
    pub fn load(dir: &Path, hosts: &Path) -> Option<Journal> {
        Journal::decode(&std::fs::read(Journal::path(dir, hosts)).ok()?)
    }
}

/// Under the lock: finishes what an interrupted in-place write left. The file holds the old or the
/// new content (the write was killed before or after): the journal just goes. It holds anything
/// else: the old content is written back. Returns what it did, for the user.
pub fn recover(path: &Path, dir: &Path) -> std::io::Result<Option<String>> {
    let jp = Journal::path(dir, path);
    let Some(j) = Journal::load(dir, path) else {
        let _ = std::fs::remove_file(&jp);
        return Ok(None);
    };
    let now = read_raw(path)?;
    if now == j.old || now == j.new {
        std::fs::remove_file(&jp)?;
        return Ok(None);
    }
    let meta = std::fs::metadata(path)?;
    write_in_place(path, &[&j.old], &meta)?;
    std::fs::remove_file(&jp)?;
    Ok(Some(format!(
        "restored {} to its content before an interrupted devenv run (it was left half-written; the backup of that run is in {})",
        path.display(),
        dir.display()
    )))
}

/// An in-place write with a journal first; on a failed write (a full disk) the old content is put
/// back before the error is returned.
fn write_in_place_journaled(
    path: &Path,
    data: &[&[u8]],
    before: &[u8],
    meta: &Metadata,
    journal_dir: Option<&Path>,
) -> std::io::Result<()> {
    let journal = match journal_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let j = Journal {
                old: before.to_vec(),
                new: data.concat(),
            };
            let p = Journal::path(dir, path);
            crate::fsutil::write_atomic(&p, &j.encode(), Some(0o600))?;
            Some(p)
        }
        None => None,
    };
    match write_in_place(path, data, meta) {
        Ok(()) => {
            if let Some(p) = &journal {
                let _ = std::fs::remove_file(p);
            }
            Ok(())
        }
        Err(e) => {
            // the old content fits where it was: put it back
            if write_in_place(path, &[before], meta).is_ok()
                && let Some(p) = &journal
            {
                let _ = std::fs::remove_file(p);
            }
            Err(e)
        }
    }
}

/// Errors after which an in-place write may still work.
fn rename_impossible(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::ResourceBusy
        || e.kind() == std::io::ErrorKind::CrossesDevices
        || e.kind() == std::io::ErrorKind::PermissionDenied
        || (cfg!(unix) && matches!(e.raw_os_error(), Some(16) | Some(18) | Some(1) | Some(13)))
        || e.to_string().contains("__devenv_owner__")
}

fn temp_prefix(path: &Path) -> String {
    format!(
        ".{}.devenv-tmp-",
        path.file_name()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default()
    )
}

/// Removes temp files a killed devenv left behind (we hold the lock, so none is in use).
fn clean_stale_temps(path: &Path) {
    let (Some(dir), prefix) = (path.parent(), temp_prefix(path)) else {
        return;
    };
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A temp file next to `path` holding `data` with `path`'s mode, owner and label, fsync'ed.
fn prepare_temp(path: &Path, data: &[&[u8]], meta: &Metadata) -> std::io::Result<PathBuf> {
    let dir = dir_of(path);
    let tmp = dir.join(format!(
        "{}{}-{}",
        temp_prefix(path),
        std::process::id(),
        crate::hash::hex(&crate::hash::random_bytes(4))
    ));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    let result = (|| {
        for piece in data {
            f.write_all(piece)?;
        }
        preserve_metadata(&f, path, meta)?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Runs `change` on `path` (retried on sharing violations) with Windows' read-only attribute
/// cleared, and sets it again afterwards; elsewhere just runs it.
fn with_writable(
    path: &Path,
    meta: &Metadata,
    change: impl FnMut() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let readonly = cfg!(windows) && meta.permissions().readonly();
    if readonly {
        let mut p = meta.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        retry(|| std::fs::set_permissions(path, p.clone()))?;
    }
    let r = retry(change);
    if readonly {
        let _ = std::fs::set_permissions(path, meta.permissions());
    }
    r
}

/// Renames the temp file over `path` (the atomic step) and makes the rename durable.
fn commit_temp(tmp: &Path, path: &Path, meta: &Metadata) -> std::io::Result<()> {
    with_writable(path, meta, || std::fs::rename(tmp, path))?;
    crate::fsutil::sync_dir(&dir_of(path));
    Ok(())
}

/// Mode, owner and SELinux label of the original onto the temp file.
#[cfg(unix)]
fn preserve_metadata(f: &File, original: &Path, meta: &Metadata) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    f.set_permissions(meta.permissions())?;
    let fd = f.as_raw_fd();
    // SAFETY: fd is open for the lifetime of `f`.
    if unsafe { libc::fchown(fd, meta.uid(), meta.gid()) } != 0 {
        let cur = f.metadata()?;
        if cur.uid() != meta.uid() || cur.gid() != meta.gid() {
            // we may not give the file away: replacing it would change its owner
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "__devenv_owner__: cannot keep the file's owner",
            ));
        }
    }
    let name = c"security.selinux";
    if let Ok(p) = std::ffi::CString::new(original.as_os_str().as_bytes()) {
        let mut buf = vec![0u8; 256];
        // SAFETY: valid C strings and buffer of the given size.
        let n = unsafe {
            libc::getxattr(
                p.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n > 0 {
            // SAFETY: as above; the label is copied as is.
            unsafe {
                libc::fsetxattr(fd, name.as_ptr(), buf.as_ptr().cast(), n as usize, 0);
            }
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn preserve_metadata(_f: &File, _original: &Path, _meta: &Metadata) -> std::io::Result<()> {
    Ok(())
}

/// Overwrites the file's bytes without replacing the file (keeps a bind mount or a hard link).
/// Growing the file reserves the space first, so a full disk fails before a byte changes.
fn write_in_place(path: &Path, data: &[&[u8]], meta: &Metadata) -> std::io::Result<()> {
    let len: u64 = data.iter().map(|p| p.len() as u64).sum();
    with_writable(path, meta, || {
        let mut f = OpenOptions::new().write(true).open(path)?;
        reserve(&f, len)?;
        f.seek(SeekFrom::Start(0))?;
        for piece in data {
            f.write_all(piece)?;
        }
        f.set_len(len)?;
        f.sync_all()
    })
}

/// Allocates `len` bytes for `f` (Linux `posix_fallocate`), so later writes cannot run out of space.
fn reserve(f: &File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if len > f.metadata()?.len() {
            // SAFETY: the fd is open for the lifetime of `f`.
            let rc = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len as libc::off_t) };
            // a file system that cannot preallocate: write without the reservation
            if rc != 0 && rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (f, len);
    Ok(())
}

/// A short key of `path` (its real path hashed), naming what devenv keeps about that file.
pub fn path_key(path: &Path) -> String {
    let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    crate::hash::short(canon.to_string_lossy().as_bytes(), 8)
}

/// Saves `content` as the newest backup of `path` and keeps the last `keep`.
pub fn backup(dir: &Path, path: &Path, content: &[u8], keep: usize) -> anyhow::Result<PathBuf> {
    save_backup(dir, path, content, keep, None)
}

/// Saves a backup: a hard link to `link_from` when given and possible (the inode is about to be
/// replaced by a rename, so it keeps the old content), else a copy of `content`.
fn save_backup(
    dir: &Path,
    path: &Path,
    content: &[u8],
    keep: usize,
    link_from: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    crate::fsutil::chown_to_invoking_user(dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "hosts-{}-{:012}{:09}.bak",
        path_key(path),
        now.as_secs(),
        now.subsec_nanos()
    );
    let p = dir.join(name);
    let linked = link_from.is_some_and(|from| std::fs::hard_link(from, &p).is_ok());
    if !linked {
        // a convenience copy: written whole (temp + rename), not fsync'ed, readable by no one
        // the original is not readable by
        let mode = crate::fsutil::mode_of(path).map_or(0o644, |m| m & 0o666);
        crate::fsutil::write_atomic_nosync(&p, content, Some(mode))?;
        // (a hard link shares the hosts file's inode and owner: never chown it)
        crate::fsutil::chown_to_invoking_user(&p);
    }
    let all = backups(dir, path);
    if all.len() > keep {
        for old in &all[..all.len() - keep] {
            let _ = std::fs::remove_file(old);
        }
    }
    Ok(p)
}

/// Backups of `path`, oldest first.
pub fn backups(dir: &Path, path: &Path) -> Vec<PathBuf> {
    let prefix = format!("hosts-{}-", path_key(path));
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        n.to_string_lossy().starts_with(&prefix)
                            && n.to_string_lossy().ends_with(".bak")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_files_backups_sit_beside_it_the_systems_in_the_data_dir() {
        let d = tempfile::tempdir().unwrap();
        let sys = crate::sys::fake::FakeSys::new()
            .env("DEVENV_DATA_DIR", &d.path().join("data").to_string_lossy());
        let copy = d.path().join("etc").join("hosts");
        assert_eq!(
            backup_dir(&sys, &copy),
            d.path().join("etc").join(".devenv-hosts-backups")
        );
        let system = super::super::system_hosts_path(crate::sys::Facts::platform(&sys), &sys);
        assert_eq!(
            backup_dir(&sys, &system),
            d.path().join("data").join("hosts-backups")
        );
        assert_eq!(
            Options::for_file(&sys, &copy).journal_dir,
            Some(d.path().join("etc").join(".devenv-hosts-backups"))
        );
    }

    fn opts(dir: &Path) -> Options {
        Options {
            backup_dir: Some(dir.join("backups")),
            keep_backups: 3,
            journal_dir: Some(dir.join("backups")),
        }
    }

    #[test]
    fn unchanged_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        std::fs::write(&p, "a\n").unwrap();
        let o = update(&p, &opts(d.path()), |b| {
            Ok(Edit::replace_all(b, b.to_vec()))
        })
        .unwrap();
        assert_eq!(o.method, Method::Unchanged);
        assert!(!d.path().join("backups").exists());
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_keeps_mode_and_backs_up() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        std::fs::write(&p, "a\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        for i in 0..5 {
            let o = update(&p, &opts(d.path()), |b| {
                Ok(Edit::replace_all(
                    b,
                    [b, format!("{i}\n").as_bytes()].concat(),
                ))
            })
            .unwrap();
            assert_eq!(o.method, Method::Atomic);
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\n0\n1\n2\n3\n4\n");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let b = backups(&d.path().join("backups"), &p);
        assert_eq!(b.len(), 3, "rotated to the last 3");
        assert_eq!(
            std::fs::read_to_string(b.last().unwrap()).unwrap(),
            "a\n0\n1\n2\n3\n"
        );
        // no temp files left
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("devenv-tmp")), "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_file_keeps_its_link() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real-hosts");
        let link = d.path().join("hosts");
        std::fs::write(&real, "a\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        update(&link, &opts(d.path()), |b| {
            Ok(Edit::replace_all(b, b"b\n".to_vec()))
        })
        .unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "b\n");
    }

    #[test]
    fn stale_temps_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        std::fs::write(&p, "a\n").unwrap();
        let stale = d.path().join(".hosts.devenv-tmp-1-deadbeef");
        std::fs::write(&stale, "junk").unwrap();
        update(&p, &opts(d.path()), |b| {
            Ok(Edit::replace_all(b, b"b\n".to_vec()))
        })
        .unwrap();
        assert!(!stale.exists());
    }

    #[test]
    fn journal_round_trips_and_rejects_damage() {
        let j = Journal {
            old: b"a\nb\n".to_vec(),
            new: b"a\n# x\nb\n".to_vec(),
        };
        let mut enc = j.encode();
        assert_eq!(Journal::decode(&enc), Some(j));
        enc[30] ^= 1;
        assert_eq!(
            Journal::decode(&enc),
            None,
            "a damaged journal is never acted on"
        );
        assert_eq!(Journal::decode(b"short"), None);
    }

    #[test]
    fn recover_restores_a_half_written_file_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        let dir = d.path().join("j");
        std::fs::create_dir(&dir).unwrap();
        let j = Journal {
            old: b"old\n".to_vec(),
            new: b"new content\n".to_vec(),
        };
        // the write completed: the journal just goes
        std::fs::write(&p, &j.new).unwrap();
        std::fs::write(Journal::path(&dir, &p), j.encode()).unwrap();
        assert_eq!(recover(&p, &dir).unwrap(), None);
        assert_eq!(std::fs::read(&p).unwrap(), j.new);
        assert!(!Journal::path(&dir, &p).exists());
        // half-written: the old content comes back, and it says so
        std::fs::write(&p, b"new cold\n").unwrap();
        std::fs::write(Journal::path(&dir, &p), j.encode()).unwrap();
        let msg = recover(&p, &dir).unwrap().unwrap();
        assert!(msg.starts_with("restored"), "{msg}");
        assert_eq!(std::fs::read(&p).unwrap(), j.old);
        assert!(!Journal::path(&dir, &p).exists());
    }

    #[cfg(unix)]
    #[test]
    fn check_names_what_a_path_is() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "x").unwrap();
        assert_eq!(check(&f), Ok(()));
        assert_eq!(
            check(&d.path().join("new")),
            Ok(()),
            "a new file in an existing directory"
        );
        let link = d.path().join("l");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(check(&link), Ok(()));
        let dangling = d.path().join("dl");
        std::os::unix::fs::symlink("gone", &dangling).unwrap();
        assert!(
            matches!(check(&dangling), Err(Unusable::Dangling { target, .. }) if target == d.path().join("gone"))
        );
        assert!(matches!(
            check(d.path()),
            Err(Unusable::NotRegular {
                kind: "a directory",
                ..
            })
        ));
        assert!(matches!(
            check(&d.path().join("no/such")),
            Err(Unusable::NoDirectory { .. })
        ));
    }
}

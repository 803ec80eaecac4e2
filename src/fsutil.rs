//! Atomic file and directory writes for devenv's own files (state, rendered output, certificates).
//!
//! The hosts file has its own, more careful writer in `hosts::write`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::name::RelPath;

/// Writes `data` to `path` through a temp file in the same directory, fsync and rename, so a reader
/// (or a crash) sees the old or the new content, never a mix. `mode` applies on Unix.
pub fn write_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    replace_file(path, data, mode, true)
}

/// Like [`write_atomic`] without the fsyncs: never a half-written file, but not durable.
pub fn write_atomic_nosync(path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    replace_file(path, data, mode, false)
}

fn replace_file(path: &Path, data: &[u8], mode: Option<u32>, durable: bool) -> std::io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    set_mode(tmp.as_file(), mode)?;
    tmp.write_all(data)?;
    if durable {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    if durable {
        sync_dir(&dir);
    }
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(unix)]
fn set_mode(f: &std::fs::File, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(m) = mode {
        f.set_permissions(std::fs::Permissions::from_mode(m))?;
    } else {
        // tempfile creates 0600; a normal file gets the usual 0644 (minus umask is not knowable
        // without changing it, so follow the common default).
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_mode(_f: &std::fs::File, _mode: Option<u32>) -> std::io::Result<()> {
    Ok(())
}

/// fsync a directory so a rename in it is durable (Unix; a no-op elsewhere).
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The record of what devenv wrote into an output directory (`render --out`, `.devenv/rendered`):
/// file → SHA-256 of the content written. Only a file listed here with unchanged content is ever
/// overwritten or removed; everything else in the directory is someone else's.
pub const MANIFEST: &str = ".devenv-rendered.json";

/// Whose directory rendered files go into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputDir {
    /// The user's (`render --out`): only files devenv wrote there are ever replaced or removed.
    Shared,
    /// devenv's own (`.devenv/rendered/PROFILE`): its files are replaced as they come; one is
    /// removed only when the manifest lists it with the hash of what it holds.
    Own,
}

/// Why an output directory cannot take the files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("{} exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("{} is a symlink: devenv writes rendered files only into a real directory", .0.display())]
    Symlink(PathBuf),
    #[error("{} exists and was not written by devenv (or was changed since): devenv never overwrites it", .0.display())]
    Foreign(PathBuf),
    #[error("{} is not a regular file", .0.display())]
    NotRegular(PathBuf),
}

/// What [`write_output`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputReport {
    pub written: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
    /// Manifest entries that were not devenv's to act on (not a plain relative path of file
    /// names, or a file whose content is not what devenv wrote): left alone, and said.
    pub ignored: Vec<String>,
}

/// The largest rendered file compared or removed (a rendered file is at most
/// `render::MAX_OUTPUT_BYTES`).
const MAX_OUTPUT_FILE: u64 = 64 << 20;

/// Writes `files` into `dir`, each atomically. Every path is a [`RelPath`] of checked file names,
/// so nothing lands outside `dir`; `dir` itself and every directory below it must be real
/// directories (a symlink is refused, never followed). Before anything is written, every target
/// is checked: in a shared directory a file devenv did not write (per the manifest and its hash)
/// is never overwritten, a non-directory `dir` never becomes one. Files devenv wrote last time
/// and no longer produces are removed only when the manifest lists them as plain relative paths
/// with the hash of what they hold now; any other entry is ignored and reported.
pub fn write_output(
    dir: &Path,
    files: &[(RelPath, String)],
    kind: OutputDir,
) -> anyhow::Result<OutputReport> {
    use std::collections::BTreeMap;
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(OutputError::Symlink(dir.to_path_buf()).into());
        }
        Ok(m) if !m.is_dir() => return Err(OutputError::NotADirectory(dir.to_path_buf()).into()),
        _ => {}
    }
    let scope = crate::contained::Scope::project(dir);
    let content_of =
        |rel: &RelPath| -> Option<Vec<u8>> { scope.read(&rel.to_path_buf(), MAX_OUTPUT_FILE).ok() };
    let mut report = OutputReport::default();
    let old: BTreeMap<String, String> = scope
        .read(Path::new(MANIFEST), MAX_OUTPUT_FILE)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut old_entries: BTreeMap<RelPath, String> = BTreeMap::new();
    for (k, h) in &old {
        match RelPath::parse(k) {
            Ok(r) if k != MANIFEST => {
                old_entries.insert(r, h.clone());
            }
            _ => report.ignored.push(k.escape_debug().to_string()),
        }
    }
    let ours = |rel: &RelPath| -> bool {
        old_entries
            .get(rel)
            .is_some_and(|h| content_of(rel).is_some_and(|c| crate::hash::sha256_hex(&c) == *h))
    };
    // check everything first: a refusal writes nothing
    let mut todo = Vec::new();
    for (rel, content) in files {
        for parent in rel.parents() {
            if let Ok(m) = std::fs::symlink_metadata(parent.under(dir))
                && !m.is_dir()
            {
                return Err(if m.file_type().is_symlink() {
                    OutputError::Symlink(parent.under(dir))
                } else {
                    OutputError::NotADirectory(parent.under(dir))
                }
                .into());
            }
        }
        let path = rel.under(dir);
        match std::fs::symlink_metadata(&path) {
            Err(_) => todo.push((rel, path, content, false)),
            Ok(m) if !m.is_file() => return Err(OutputError::NotRegular(path).into()),
            Ok(_) => {
                let same = content_of(rel).is_some_and(|c| c == content.as_bytes());
                if same || kind == OutputDir::Own || ours(rel) {
                    todo.push((rel, path, content, same));
                } else {
                    return Err(OutputError::Foreign(path).into());
                }
            }
        }
    }
    let mut manifest = BTreeMap::new();
    for (rel, path, content, same) in todo {
        if !same {
            write_atomic(&path, content.as_bytes(), None)?;
        }
        manifest.insert(rel.as_key(), crate::hash::sha256_hex(content.as_bytes()));
        report.written.push(path);
    }
    // what devenv wrote before and no longer produces
    for rel in old_entries.keys() {
        if manifest.contains_key(&rel.as_key()) {
            continue;
        }
        let path = rel.under(dir);
        let real_dir_on_the_way = rel
            .parents()
            .iter()
            .all(|p| std::fs::symlink_metadata(p.under(dir)).is_ok_and(|m| m.is_dir()));
        if !real_dir_on_the_way || std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        if ours(rel) {
            if std::fs::remove_file(&path).is_ok() {
                report.removed.push(path);
            }
        } else {
            report.ignored.push(rel.as_key());
        }
    }
    let mut m = serde_json::to_vec_pretty(&manifest)?;
    m.push(b'\n');
    write_atomic(&dir.join(MANIFEST), &m, None)?;
    Ok(report)
}

/// `a/./b/../c` → `a/c`, without touching the file system (a path that need not exist yet).
pub fn normalize_lexically(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Gives a path created as root under sudo back to the invoking user.
pub fn chown_to_invoking_user(path: &Path) {
    #[cfg(unix)]
    if let Some((uid, gid)) = crate::paths::invoking_user(&crate::sys::RealSys).ids {
        use std::os::unix::ffi::OsStrExt;
        if let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) {
            // SAFETY: c is a valid NUL-terminated path.
            unsafe {
                libc::lchown(c.as_ptr(), uid, gid);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Unix permission bits of a file, if known.
pub fn mode_of(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/f.txt");
        write_atomic(&p, b"one", None).unwrap();
        write_atomic(&p, b"two", Some(0o600)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        assert_eq!(mode_of(&p), Some(0o600));
        // no temp files left behind
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn output_never_touches_what_devenv_did_not_write() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("mine.txt"), "user").unwrap();
        let files = vec![
            (RelPath::parse("stack.yml").unwrap(), "a: 1\n".to_string()),
            (RelPath::parse("configs/x").unwrap(), "x\n".to_string()),
        ];
        write_output(&out, &files, OutputDir::Shared).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("mine.txt")).unwrap(),
            "user"
        );
        // again, with a config gone: devenv's own stale file goes, the user's stays
        write_output(&out, &files[..1], OutputDir::Shared).unwrap();
        assert!(!out.join("configs/x").exists());
        assert!(out.join("mine.txt").exists());
        // a file devenv wrote but the user changed is theirs now
        std::fs::write(out.join("stack.yml"), "edited").unwrap();
        let e = write_output(&out, &files, OutputDir::Shared).unwrap_err();
        assert!(e.to_string().contains("was not written by devenv"), "{e}");
        assert_eq!(
            std::fs::read_to_string(out.join("stack.yml")).unwrap(),
            "edited"
        );
        assert!(!out.join("configs/x").exists(), "a refusal writes nothing");
        // a file is never turned into a directory
        let f = d.path().join("file");
        std::fs::write(&f, "keep").unwrap();
        assert!(write_output(&f, &files, OutputDir::Shared).is_err());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep");
    }
}

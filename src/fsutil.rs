//! Atomic file and directory writes for devenv's own files (state, rendered output, certificates).
//!
//! The hosts file has its own, more careful writer in `hosts::write`.

use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Replaces directory `target` with the files produced by `fill` as one step: `fill` writes into a
/// fresh temp directory next to `target`; only when it succeeds is the old directory swapped out.
/// On error nothing at `target` changes.
pub fn replace_dir<F>(target: &Path, fill: F) -> anyhow::Result<()>
where
    F: FnOnce(&Path) -> anyhow::Result<()>,
{
    let parent = parent_dir(target);
    std::fs::create_dir_all(&parent)?;
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.new."))
        .tempdir_in(&parent)?;
    fill(tmp.path())?;
    let old = parent.join(format!(".{name}.old.{}", std::process::id()));
    let had_old = target.exists();
    if had_old {
        std::fs::rename(target, &old)?;
    }
    let tmp_path = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp_path, target) {
        if had_old {
            let _ = std::fs::rename(&old, target);
        }
        let _ = std::fs::remove_dir_all(&tmp_path);
        return Err(e.into());
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    sync_dir(&parent);
    Ok(())
}

/// `path` made absolute with every symlink on the way resolved, also when its last components do
/// not exist yet (the longest existing prefix is canonicalized, the rest appended): what a path
/// really points at, for "is this inside that" checks a symlink must not fool.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        match cur.canonicalize() {
            Ok(c) => {
                let mut out = c;
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(_) => match (cur.parent(), cur.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    cur = parent;
                }
                // `..` at the end of a missing path, or the root itself
                _ => return Ok(abs),
            },
        }
    }
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

    #[cfg(unix)]
    #[test]
    fn resolve_follows_symlinks_of_existing_parents() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let canon = real.canonicalize().unwrap();
        assert_eq!(resolve(&link.join("ca/new")).unwrap(), canon.join("ca/new"));
        assert_eq!(resolve(&link).unwrap(), canon);
    }

    #[test]
    fn replace_dir_keeps_old_on_error() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("out");
        replace_dir(&t, |p| Ok(std::fs::write(p.join("a"), "1")?)).unwrap();
        let r = replace_dir(&t, |p| {
            std::fs::write(p.join("b"), "2")?;
            anyhow::bail!("boom")
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(t.join("a")).unwrap(), "1");
        assert!(!t.join("b").exists());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}

//! The tar stream one sync sends to each container (`docker cp - CONTAINER:/`): every copied
//! file under its container path, symlinks as symlinks (never followed: a link to a file outside
//! the project copies the link, not that file), parents created by docker as it extracts.

use super::plan::Copy;

/// The archive, and the copies skipped because their file vanished or is not a regular file
/// or a symlink any more.
pub fn build(copies: &[Copy]) -> std::io::Result<(Vec<u8>, Vec<Copy>)> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let mut skipped = Vec::new();
    for c in copies {
        let name = c.to.trim_start_matches('/');
        let Ok(meta) = std::fs::symlink_metadata(&c.from) else {
            skipped.push(c.clone());
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&c.from)?;
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            h.set_mtime(mtime(&meta));
            b.append_link(&mut h, name, &target)?;
        } else if meta.is_file() {
            let mut f = match std::fs::File::open(&c.from) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    skipped.push(c.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            h.set_mode(mode(&meta));
            h.set_mtime(mtime(&meta));
            b.append_data(&mut h, name, &mut f)?;
        } else {
            skipped.push(c.clone());
        }
    }
    Ok((b.into_inner()?, skipped))
}

fn mtime(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The file's mode; on Windows (no modes) 0644, or 0755 for scripts and binaries a Linux
/// container would run.
#[cfg(unix)]
fn mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(_meta: &std::fs::Metadata) -> u32 {
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_under_their_container_paths_links_kept() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.py"), "print(1)\n").unwrap();
        let copies = vec![
            Copy {
                from: d.path().join("a.py"),
                to: "/app/pkg/a.py".into(),
            },
            Copy {
                from: d.path().join("gone.py"),
                to: "/app/gone.py".into(),
            },
        ];
        #[cfg(unix)]
        let copies = {
            let mut c = copies;
            std::os::unix::fs::symlink("/etc/shadow", d.path().join("link")).unwrap();
            c.push(Copy {
                from: d.path().join("link"),
                to: "/app/link".into(),
            });
            c
        };
        let (data, skipped) = build(&copies).unwrap();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].from, d.path().join("gone.py"));
        let mut a = tar::Archive::new(data.as_slice());
        let mut names = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            if name == "app/pkg/a.py" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut e, &mut s).unwrap();
                assert_eq!(s, "print(1)\n");
            }
            if name == "app/link" {
                assert_eq!(e.header().entry_type(), tar::EntryType::Symlink);
                assert_eq!(
                    e.link_name().unwrap().unwrap().display().to_string(),
                    "/etc/shadow"
                );
            }
            names.push(name);
        }
        assert_eq!(names[0], "app/pkg/a.py");
    }
}

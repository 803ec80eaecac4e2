//! The tar stream one sync sends to each container (`docker cp - CONTAINER:/`): every copied
//! file under its container path, symlinks as symlinks (never followed: a link to a file outside
//! the project copies the link, not that file), parents created by docker as it extracts.
//!
//! The stream is written as it is read — straight into docker's stdin, never whole in memory —
//! and each file contributes exactly the bytes its header announces: what the file held when it
//! was opened. A file that grows meanwhile (a log) is cut at that size; one that shrinks is
//! padded with zeros to it; either way the stream stays valid, and the file is named as
//! changed during the sync (its next change syncs it again). Files are opened through the
//! project's scope: a FIFO, a device, or a file reached through a symlinked directory out of
//! the project is skipped and said, never opened.

use std::io::{Read, Write};

use super::plan::Copy;
use crate::contained::Scope;

/// What writing the stream found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Copies left out: their file vanished, or is not a regular file or symlink (any more), or
    /// is not inside the project.
    pub skipped: Vec<(Copy, String)>,
    /// Files whose size changed while they were copied (copied at the size they had when
    /// opened; synced again on their next change).
    pub changed: Vec<Copy>,
}

/// Writes the tar stream of `copies` to `out`: each file opened through the scope of its rule's
/// path (so a file reached through a symlinked directory that leads out of it is skipped), and
/// of `scope` (the project) besides.
pub fn write(scope: &Scope, copies: &[Copy], out: &mut dyn Write) -> std::io::Result<Written> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut w = Written::default();
    for c in copies {
        let name = c.to.trim_start_matches('/');
        let Ok(meta) = std::fs::symlink_metadata(&c.from) else {
            w.skipped.push((c.clone(), "it is gone".into()));
            continue;
        };
        if meta.file_type().is_symlink() {
            let Some(target) = crate::contained::link_target(&c.from) else {
                w.skipped.push((c.clone(), "it is gone".into()));
                continue;
            };
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            h.set_mtime(mtime(&meta));
            b.append_link(&mut h, name, &target)?;
            continue;
        }
        let rule = Scope::project(&c.within);
        if let Err(e) = rule.locate(&c.from) {
            w.skipped.push((c.clone(), e.to_string()));
            continue;
        }
        let f = match scope.open(&c.from) {
            Ok(f) => f,
            Err(e) => {
                w.skipped.push((c.clone(), e.to_string()));
                continue;
            }
        };
        let len = f.len;
        let meta = f.file.metadata()?;
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(len);
        h.set_mode(mode(&meta));
        h.set_mtime(mtime(&meta));
        let mut exact = Exact {
            inner: f.file.take(len),
            left: len,
            short: false,
        };
        b.append_data(&mut h, name, &mut exact)?;
        let now = std::fs::metadata(&f.real).map(|m| m.len()).ok();
        if exact.short || now != Some(len) {
            w.changed.push(c.clone());
        }
    }
    b.finish()?;
    Ok(w)
}

/// Exactly `left` bytes of `inner`: zeros where it ends early.
struct Exact<R> {
    inner: R,
    left: u64,
    short: bool,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let n = if self.short {
            0
        } else {
            self.inner.read(&mut buf[..want])?
        };
        let n = if n == 0 {
            self.short = true;
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.left -= n as u64;
        Ok(n)
    }
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

    fn entries(data: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>, String)> {
        let mut a = tar::Archive::new(data);
        let mut v = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let t = e.header().entry_type();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            v.push((name, t, body, link));
        }
        v
    }

    #[test]
    fn files_under_their_container_paths_links_kept() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::write(root.join("a.py"), "print(1)\n").unwrap();
        let copies = vec![
            Copy {
                from: root.join("a.py"),
                to: "/app/pkg/a.py".into(),
                within: root.clone(),
            },
            Copy {
                from: root.join("gone.py"),
                to: "/app/gone.py".into(),
                within: root.clone(),
            },
        ];
        #[cfg(unix)]
        let copies = {
            let mut c = copies;
            std::os::unix::fs::symlink("/etc/shadow", root.join("link")).unwrap();
            c.push(Copy {
                from: root.join("link"),
                to: "/app/link".into(),
                within: root.clone(),
            });
            c
        };
        let mut data = Vec::new();
        let w = write(&Scope::project(&root), &copies, &mut data).unwrap();
        assert_eq!(w.skipped.len(), 1);
        assert_eq!(w.skipped[0].0.from, root.join("gone.py"));
        let e = entries(&data);
        assert_eq!(e[0].0, "app/pkg/a.py");
        assert_eq!(e[0].2, b"print(1)\n");
        #[cfg(unix)]
        {
            assert_eq!(e[1].0, "app/link");
            assert_eq!(e[1].1, tar::EntryType::Symlink);
            assert_eq!(e[1].3, "/etc/shadow");
        }
    }

    /// A file that grows while it is streamed (a log) is cut at the size it had, so its new
    /// bytes can never be read as another entry of the stream.
    #[test]
    fn a_file_that_grows_while_it_is_copied_keeps_the_stream_valid() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let log = root.join("app.log");
        std::fs::write(&log, "x".repeat(1000)).unwrap();
        let copies = vec![
            Copy {
                from: log.clone(),
                to: "/app/app.log".into(),
                within: root.clone(),
            },
            Copy {
                from: log.clone(),
                to: "/app/again.log".into(),
                within: root.clone(),
            },
        ];
        /// Appends a forged tar entry to the log as soon as the stream starts.
        struct Growing<'a>(&'a std::path::Path, Vec<u8>, bool);
        impl Write for Growing<'_> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                if !self.2 {
                    self.2 = true;
                    let mut forged = tar::Builder::new(Vec::new());
                    let mut h = tar::Header::new_gnu();
                    h.set_size(6);
                    forged
                        .append_data(&mut h, "pwned-by-tar.txt", &b"pwned\n"[..])
                        .unwrap();
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(self.0)
                        .unwrap();
                    f.write_all(&forged.into_inner().unwrap()).unwrap();
                }
                self.1.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut g = Growing(&log, Vec::new(), false);
        let w = write(&Scope::project(&root), &copies, &mut g).unwrap();
        let e = entries(&g.1);
        let names: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
        assert!(!names.iter().any(|n| n.contains("pwned")), "{names:?}");
        assert_eq!(e[0].2.len(), 1000, "exactly the size it had when opened");
        assert!(w.changed.iter().any(|c| c.to == "/app/app.log"));
    }

    #[cfg(unix)]
    #[test]
    fn what_is_not_a_regular_file_in_the_project_is_skipped_unopened() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("p")).unwrap();
        std::fs::write(root.join("outside.txt"), "secret\n").unwrap();
        std::os::unix::fs::symlink(&root, root.join("p/up")).unwrap();
        let fifo = root.join("p/fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let copies = vec![
            Copy {
                from: fifo,
                to: "/app/fifo".into(),
                within: root.clone(),
            },
            // reached through a symlinked directory that leads out of the project
            Copy {
                from: root.join("p/up/outside.txt"),
                to: "/app/outside.txt".into(),
                within: root.clone(),
            },
        ];
        let mut data = Vec::new();
        let w = write(&Scope::project(&root.join("p")), &copies, &mut data).unwrap();
        assert_eq!(w.skipped.len(), 2, "{:?}", w.skipped);
        assert!(entries(&data).is_empty());
    }
}

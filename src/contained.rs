//! The one reader for every file an input names — templates, stack and override files, `file:`
//! configs and secrets, `env_file:`, `.env`, build contexts, watch paths, the proxy
//! configurations `init --from` reads — and for every file of devenv's own state.
//!
//! A file is read only through a [`Scope`]: the project (its root), devenv's data directory, and
//! the files a profile lists explicitly under `read_outside:`. The path as named is resolved with
//! every symlink followed; what it reaches must be inside the scope (a `..` or a symlink out is
//! refused with the path it reached), a regular file (a FIFO would block, a device never ends, a
//! directory is not a file), not a file of the kernel (`/proc`, `/sys`, `/dev`, even when listed),
//! and at most the caller's limit in bytes. The file is opened without following a last symlink
//! and, on Linux, the opened descriptor is checked to be the file that was resolved, so a path
//! swapped for a symlink between the check and the open is refused too.
//!
//! No other module reads a file with `std::fs` (tests/boundary.rs keeps it that way): a new
//! feature cannot forget the checks, because there is no other way to read.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Where files may be read from.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The root, canonical (every symlink resolved).
    root: PathBuf,
    /// What the root is, for messages: "the project", "devenv's data directory".
    what: &'static str,
    /// Files and directories outside the root that a profile lists by name (canonical).
    outside: Vec<PathBuf>,
}

/// Why a named file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("`{named}` does not exist")]
    NotFound { named: String },
    #[error("`{named}` is a symlink to {target}, which does not exist")]
    Dangling { named: String, target: String },
    #[error("`{named}` resolves to {}, outside {what}", reached.display())]
    Outside {
        named: String,
        reached: PathBuf,
        what: &'static str,
    },
    #[error("`{named}` is {kind}, not a regular file")]
    NotRegular { named: String, kind: &'static str },
    #[error("`{named}` resolves to {}, a file of the kernel, not a regular file", reached.display())]
    Kernel { named: String, reached: PathBuf },
    #[error("`{named}` is larger than devenv's limit of {limit} bytes")]
    TooLarge { named: String, limit: u64 },
    #[error("`{named}` is not valid UTF-8")]
    NotUtf8 { named: String },
    #[error("cannot read `{named}`: {error}")]
    Io { named: String, error: String },
}

impl ReadError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            ReadError::NotFound { .. } | ReadError::Dangling { .. } => {
                "check the path (it is relative to the project root)".into()
            }
            ReadError::Outside { what, .. } if *what == PROJECT => {
                "devenv reads only files inside the project; to use a file outside it, list it under \
                 `read_outside:` in the profile (an absolute path)"
                    .into()
            }
            ReadError::Outside { what, .. } => format!("devenv reads its own files only inside {what}"),
            ReadError::NotRegular { .. } | ReadError::Kernel { .. } => {
                "name a regular file (a FIFO, device, socket or directory is never read)".into()
            }
            ReadError::TooLarge { .. } => {
                "a file this large is not a configuration file; check the path".into()
            }
            ReadError::NotUtf8 { .. } => "save it as UTF-8".into(),
            ReadError::Io { .. } => "check that the file is readable by you".into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound { .. })
    }
}

/// An I/O error as words (`permission denied`, not `Permission denied (os error 13)`).
pub fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotFound => "no such file".into(),
        _ => e.to_string(),
    }
}

/// The scope's description for the project's files.
pub const PROJECT: &str = "the project";
/// The scope's description for devenv's data directory.
pub const DATA_DIR: &str = "devenv's data directory";

/// A file opened through a scope: a regular file inside it.
#[derive(Debug)]
pub struct Opened {
    pub file: std::fs::File,
    /// Its size when it was opened.
    pub len: u64,
    /// Where it really is.
    pub real: PathBuf,
}

impl Scope {
    /// The project's files: everything below `root`.
    pub fn project(root: &Path) -> Scope {
        Scope::new(root, PROJECT)
    }

    /// devenv's own files in its per-user data directory.
    pub fn data_dir(dir: &Path) -> Scope {
        Scope::new(dir, DATA_DIR)
    }

    fn new(root: &Path, what: &'static str) -> Scope {
        Scope {
            root: resolve(root).unwrap_or_else(|_| root.to_path_buf()),
            what,
            outside: Vec::new(),
        }
    }

    /// Also the files (and directories) a profile lists under `read_outside:`: absolute paths,
    /// each meant by the user. A listed path that does not exist allows nothing.
    pub fn with_outside(mut self, listed: &[PathBuf]) -> Scope {
        self.outside = listed.iter().filter_map(|p| canonicalize(p).ok()).collect();
        self
    }

    /// The root, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `named` leads (relative to the root, or absolute), every symlink resolved, if that is
    /// inside the scope: a file or directory that exists.
    pub fn locate(&self, named: &Path) -> Result<PathBuf, ReadError> {
        let shown = named.to_string_lossy().into_owned();
        let full = if named.is_absolute() {
            named.to_path_buf()
        } else {
            self.root.join(named)
        };
        let real = match canonicalize(&full) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // a dangling symlink, or nothing at all (`..` on the way is resolved lexically
                // by the OS: what matters is the link's target, said as it is)
                return Err(match std::fs::symlink_metadata(&full) {
                    Ok(m) if m.file_type().is_symlink() => ReadError::Dangling {
                        named: shown,
                        target: std::fs::read_link(&full)
                            .map(|t| t.display().to_string())
                            .unwrap_or_default(),
                    },
                    _ => ReadError::NotFound { named: shown },
                });
            }
            Err(e) => {
                return Err(ReadError::Io {
                    named: shown,
                    error: io_words(&e),
                });
            }
        };
        if is_kernel_path(&real) {
            return Err(ReadError::Kernel {
                named: shown,
                reached: real,
            });
        }
        let inside =
            real.starts_with(&self.root) || self.outside.iter().any(|o| real.starts_with(o));
        if !inside {
            return Err(ReadError::Outside {
                named: shown,
                reached: real,
                what: self.what,
            });
        }
        Ok(real)
    }

    /// A directory inside the scope (a build context, a watched path): its real path.
    pub fn dir(&self, named: &Path) -> Result<PathBuf, ReadError> {
        let real = self.locate(named)?;
        match std::fs::metadata(&real) {
            Ok(m) if m.is_dir() => Ok(real),
            Ok(m) => Err(ReadError::NotRegular {
                named: named.to_string_lossy().into_owned(),
                kind: kind_of(&m),
            }),
            Err(e) => Err(ReadError::Io {
                named: named.to_string_lossy().into_owned(),
                error: io_words(&e),
            }),
        }
    }

    /// Opens `named` for reading: a regular file inside the scope.
    pub fn open(&self, named: &Path) -> Result<Opened, ReadError> {
        let shown = || named.to_string_lossy().into_owned();
        let real = self.locate(named)?;
        // never open what is not a regular file: opening a FIFO blocks, a device may act
        let meta = std::fs::metadata(&real).map_err(|e| ReadError::Io {
            named: shown(),
            error: io_words(&e),
        })?;
        if !meta.is_file() {
            return Err(ReadError::NotRegular {
                named: shown(),
                kind: kind_of(&meta),
            });
        }
        let file = open_no_follow(&real).map_err(|e| ReadError::Io {
            named: shown(),
            error: io_words(&e),
        })?;
        let meta = file.metadata().map_err(|e| ReadError::Io {
            named: shown(),
            error: io_words(&e),
        })?;
        if !meta.is_file() {
            return Err(ReadError::NotRegular {
                named: shown(),
                kind: kind_of(&meta),
            });
        }
        // what was opened is what was checked (a directory on the way swapped for a symlink
        // after the check is caught here)
        if let Some(opened) = opened_path(&file)
            && opened != real
            && !(opened.starts_with(&self.root)
                || self.outside.iter().any(|o| opened.starts_with(o)))
        {
            return Err(ReadError::Outside {
                named: shown(),
                reached: opened,
                what: self.what,
            });
        }
        if on_kernel_fs(&file) {
            return Err(ReadError::Kernel {
                named: shown(),
                reached: real,
            });
        }
        Ok(Opened {
            file,
            len: meta.len(),
            real,
        })
    }

    /// Reads `named` whole: a regular file inside the scope of at most `limit` bytes.
    pub fn read(&self, named: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
        let o = self.open(named)?;
        let too_large = || ReadError::TooLarge {
            named: named.to_string_lossy().into_owned(),
            limit,
        };
        if o.len > limit {
            return Err(too_large());
        }
        let mut buf = Vec::with_capacity(o.len as usize);
        o.file
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ReadError::Io {
                named: named.to_string_lossy().into_owned(),
                error: io_words(&e),
            })?;
        if buf.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(buf)
    }

    /// Like [`Scope::read`], as UTF-8 text.
    pub fn read_string(&self, named: &Path, limit: u64) -> Result<String, ReadError> {
        String::from_utf8(self.read(named, limit)?).map_err(|_| ReadError::NotUtf8 {
            named: named.to_string_lossy().into_owned(),
        })
    }

    /// Like [`Scope::read`], where a file that does not exist is an answer (`None`).
    pub fn read_optional(&self, named: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
        match self.read(named, limit) {
            Ok(b) => Ok(Some(b)),
            Err(ReadError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The entries of a directory inside the scope, sorted, with what each is (symlinks not
    /// followed: a link is reported as a link).
    pub fn list(&self, named: &Path) -> Result<Vec<Entry>, ReadError> {
        let real = self.dir(named)?;
        list_dir(&real).map_err(|e| ReadError::Io {
            named: named.to_string_lossy().into_owned(),
            error: io_words(&e),
        })
    }
}

/// The entries of `dir` as they are (paths under `dir` as given), sorted; a symlink is reported
/// as a symlink, never followed.
pub fn list_dir(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut v: Vec<Entry> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            let kind = if m.file_type().is_symlink() {
                EntryKind::Symlink
            } else if m.is_dir() {
                EntryKind::Dir
            } else if m.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            Some(Entry {
                path: e.path(),
                kind,
                len: m.len(),
            })
        })
        .collect();
    v.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(v)
}

/// Reads one of the machine's own files that devenv consults by a fixed name (the system CA
/// bundle, `/etc/hostname`, `/proc/modules`): never one an input names. Only a regular file (or,
/// for the kernel's own answers, a file of `/proc`), at most `limit` bytes.
pub fn read_machine_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let named = || path.to_string_lossy().into_owned();
    let kernel = is_kernel_path(path);
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound { named: named() },
        _ => ReadError::Io {
            named: named(),
            error: io_words(&e),
        },
    })?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            named: named(),
            kind: kind_of(&meta),
        });
    }
    if !kernel && meta.len() > limit {
        return Err(ReadError::TooLarge {
            named: named(),
            limit,
        });
    }
    let f = std::fs::File::open(path).map_err(|e| ReadError::Io {
        named: named(),
        error: io_words(&e),
    })?;
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::Io {
            named: named(),
            error: io_words(&e),
        })?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            named: named(),
            limit,
        });
    }
    Ok(buf)
}

/// A shared lock on an existing lock file, for reading what its writers change under the
/// exclusive one (the CA's files): taking it creates nothing.
#[derive(Debug)]
pub struct SharedLock(#[allow(dead_code)] std::fs::File);

impl SharedLock {
    /// `None` when there is no lock file (nobody ever wrote there).
    pub fn take(path: &Path) -> std::io::Result<Option<SharedLock>> {
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !f.metadata()?.is_file() {
            return Ok(None);
        }
        f.lock_shared()?;
        Ok(Some(SharedLock(f)))
    }
}

/// One entry of a listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: EntryKind,
    pub len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device: never read.
    Other,
}

/// The target of a symlink, as text (for hashing a build context: a link counts by where it
/// points, and is never followed).
pub fn link_target(path: &Path) -> Option<PathBuf> {
    std::fs::read_link(path).ok()
}

/// What a non-regular file is, for messages.
pub fn kind_of(m: &std::fs::Metadata) -> &'static str {
    if m.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if m.file_type().is_symlink() {
        return "a symlink";
    }
    "not a regular file"
}

/// `/proc`, `/sys` and `/dev` hold the kernel's files: never configuration, never read.
fn is_kernel_path(real: &Path) -> bool {
    cfg!(unix)
        && ["/proc", "/sys", "/dev"]
            .iter()
            .any(|k| real == Path::new(k) || real.starts_with(k))
}

#[cfg(unix)]
fn open_no_follow(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(p)
}

#[cfg(not(unix))]
fn open_no_follow(p: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(p)
}

/// The path of an open file, as the kernel knows it (Linux).
#[cfg(target_os = "linux")]
fn opened_path(f: &std::fs::File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).ok()
}

#[cfg(not(target_os = "linux"))]
fn opened_path(_f: &std::fs::File) -> Option<PathBuf> {
    None
}

/// Whether an open file lives on procfs or sysfs, wherever they are mounted (Linux).
#[cfg(target_os = "linux")]
fn on_kernel_fs(f: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    const DEBUGFS_MAGIC: i64 = 0x6462_6720;
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes into the struct we own, for a descriptor we hold open.
    if unsafe { libc::fstatfs(f.as_raw_fd(), &mut s) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)]
    let t = s.f_type as i64;
    t == PROC_SUPER_MAGIC || t == SYSFS_MAGIC || t == DEBUGFS_MAGIC
}

#[cfg(not(target_os = "linux"))]
fn on_kernel_fs(_f: &std::fs::File) -> bool {
    false
}

/// `std::fs::canonicalize` without Windows' verbatim prefix where a plain path means the same
/// (`\\?\C:\x` → `C:\x`, `\\?\UNC\srv\share` → `\\srv\share`): what users read in messages and
/// paste into commands.
pub fn canonicalize(path: &Path) -> std::io::Result<PathBuf> {
    let c = std::fs::canonicalize(path)?;
    Ok(PathBuf::from(strip_verbatim(&c.to_string_lossy())))
}

/// A Windows verbatim path as its plain form, when it has one.
pub fn strip_verbatim(s: &str) -> String {
    if let Some(rest) = s.strip_prefix(r"\\?\UNC\") {
        return format!(r"\\{rest}");
    }
    match s.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => rest.to_string(),
        _ => s.to_string(),
    }
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
        match canonicalize(cur) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("p/sub")).unwrap();
        std::fs::write(d.path().join("p/sub/a.txt"), "inside\n").unwrap();
        std::fs::write(d.path().join("secret.txt"), "outside\n").unwrap();
        d
    }

    #[test]
    fn reads_inside_refuses_outside_by_dots_absolute_or_link() {
        let d = project();
        let s = Scope::project(&d.path().join("p"));
        assert_eq!(s.read(Path::new("sub/a.txt"), 100).unwrap(), b"inside\n");
        assert_eq!(
            s.read(Path::new("./sub/../sub/a.txt"), 100).unwrap(),
            b"inside\n"
        );
        for named in [
            "../secret.txt".to_string(),
            d.path().join("secret.txt").display().to_string(),
            "sub/../../secret.txt".to_string(),
        ] {
            let e = s.read(Path::new(&named), 100).unwrap_err();
            assert!(matches!(e, ReadError::Outside { .. }), "{named}: {e}");
            assert!(e.to_string().contains("secret.txt"), "{e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("../../secret.txt", d.path().join("p/sub/link")).unwrap();
            let e = s.read(Path::new("sub/link"), 100).unwrap_err();
            assert!(matches!(e, ReadError::Outside { .. }), "{e}");
            // a link inside that stays inside is followed
            std::os::unix::fs::symlink("a.txt", d.path().join("p/sub/in")).unwrap();
            assert_eq!(s.read(Path::new("sub/in"), 100).unwrap(), b"inside\n");
            // a dangling link says where it points
            std::os::unix::fs::symlink("/nowhere/x", d.path().join("p/dangling")).unwrap();
            let e = s.read(Path::new("dangling"), 100).unwrap_err();
            assert!(e.to_string().contains("/nowhere/x"), "{e}");
            // a directory symlinked out
            std::os::unix::fs::symlink(d.path(), d.path().join("p/up")).unwrap();
            assert!(matches!(
                s.read(Path::new("up/secret.txt"), 100).unwrap_err(),
                ReadError::Outside { .. }
            ));
        }
    }

    #[test]
    fn an_explicit_outside_file_is_read_but_never_the_kernels() {
        let d = project();
        let s = Scope::project(&d.path().join("p")).with_outside(&[d.path().join("secret.txt")]);
        assert_eq!(
            s.read(&d.path().join("secret.txt"), 100).unwrap(),
            b"outside\n"
        );
        #[cfg(target_os = "linux")]
        {
            let s = Scope::project(&d.path().join("p")).with_outside(&[PathBuf::from("/proc")]);
            for k in [
                "/proc/self/environ",
                "/proc/kmsg",
                "/sys/kernel/mm/transparent_hugepage/enabled",
            ] {
                let e = s.read(Path::new(k), 100).unwrap_err();
                assert!(
                    matches!(e, ReadError::Kernel { .. } | ReadError::NotFound { .. }),
                    "{k}: {e}"
                );
            }
        }
    }

    #[test]
    fn size_directories_and_special_files() {
        let d = project();
        let s = Scope::project(&d.path().join("p"));
        let e = s.read(Path::new("sub/a.txt"), 3).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { limit: 3, .. }), "{e}");
        let e = s.read(Path::new("sub"), 100).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{e}"
        );
        assert!(s.read(Path::new("nope"), 100).unwrap_err().is_not_found());
        assert_eq!(s.read_optional(Path::new("nope"), 100).unwrap(), None);
        #[cfg(unix)]
        {
            let fifo = d.path().join("p/fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            // refused without blocking on the open
            let e = s.read(Path::new("fifo"), 100).unwrap_err();
            assert!(
                matches!(e, ReadError::NotRegular { kind: "a FIFO", .. }),
                "{e}"
            );
            std::os::unix::fs::symlink("/dev/zero", d.path().join("p/zero")).unwrap();
            let e = s.read(Path::new("zero"), 100).unwrap_err();
            assert!(matches!(e, ReadError::Kernel { .. }), "{e}");
        }
    }

    #[test]
    fn lists_without_following_links() {
        let d = project();
        let s = Scope::project(&d.path().join("p"));
        #[cfg(unix)]
        std::os::unix::fs::symlink("/usr", d.path().join("p/usr")).unwrap();
        let l = s.list(Path::new(".")).unwrap();
        assert!(
            l.iter()
                .any(|e| e.path.ends_with("sub") && e.kind == EntryKind::Dir)
        );
        #[cfg(unix)]
        assert!(
            l.iter()
                .any(|e| e.path.ends_with("usr") && e.kind == EntryKind::Symlink)
        );
        assert!(s.dir(Path::new("..")).is_err());
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
    fn verbatim_windows_paths_lose_their_prefix() {
        assert_eq!(strip_verbatim(r"\\?\C:\Users\me"), r"C:\Users\me");
        assert_eq!(strip_verbatim(r"\\?\UNC\srv\share\x"), r"\\srv\share\x");
        assert_eq!(strip_verbatim(r"\\?\Volume{abc}\x"), r"\\?\Volume{abc}\x");
        assert_eq!(strip_verbatim("/home/me"), "/home/me");
    }
}

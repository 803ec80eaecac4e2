//! Watching the disk: `notify` (inotify, FSEvents, ReadDirectoryChangesW; polling where those do
//! not see edits — a Windows drive under WSL), and the coalescing of its events into batches. A
//! batch starts with the first event and ends after a quiet spell; what arrives while a batch is
//! applied waits in the channel for the next one, so no change is lost.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use super::plan::{Change, Kind};

/// How long the disk must be quiet before a batch is applied (an editor's save is several
/// events; a `git checkout` many).
pub const QUIET: Duration = Duration::from_millis(60);
/// The longest a batch waits for quiet.
pub const MAX_WAIT: Duration = Duration::from_millis(600);
/// The polling interval where the OS sends no events.
pub const POLL: Duration = Duration::from_millis(500);

pub struct FsWatch {
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    watcher: Box<dyn Watcher + Send>,
    /// The directories watched with everything below them, and whether each is there now (a
    /// tree deleted and made again — a `git checkout`, a clean step — is watched again).
    roots: Vec<(PathBuf, bool)>,
    pub polling: bool,
}

/// What reaches a watch session: the OS's events, or a wake-up (a new task of a service).
enum Msg {
    Fs(notify::Result<notify::Event>),
    Wake,
}

/// A handle that wakes the session's [`FsWatch::next`] (another thread saw something).
#[derive(Clone)]
pub struct Waker(Sender<Msg>);

impl Waker {
    pub fn wake(&self) -> bool {
        self.0.send(Msg::Wake).is_ok()
    }
}

/// One thing to watch: a directory (with everything below it) or a single file (its directory is
/// watched, since editors replace files by renaming).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Root {
    Tree(PathBuf),
    File(PathBuf),
}

/// What [`FsWatch::next`] gives.
pub enum Next {
    Changes(Vec<PathBuf>),
    /// The OS dropped events (its queue overflowed): everything below the roots is looked at.
    Rescan,
    /// Woken by a [`Waker`].
    Wake,
    Idle,
}

/// Whether a path's changes reach this process as events. Under WSL, a Windows drive
/// (`/mnt/c/...`) is a 9p/drvfs mount whose edits from Windows inotify never sees.
pub fn needs_polling(wsl: bool, path: &Path) -> bool {
    wsl && path.starts_with("/mnt/")
}

impl FsWatch {
    /// Watches `roots`; a root that does not exist is skipped and named in the warnings. Symlinks
    /// are never followed: a directory link inside a tree (`src/outdir -> ../../outside`,
    /// `src/usr -> /usr`) is watched as the link it is, never what it leads to.
    pub fn new(roots: &[Root], poll: bool) -> anyhow::Result<(FsWatch, Vec<String>)> {
        let (tx, rx) = channel::<Msg>();
        let events = tx.clone();
        let handler = move |e: notify::Result<notify::Event>| {
            let _ = events.send(Msg::Fs(e));
        };
        let config = notify::Config::default().with_follow_symlinks(false);
        let mut watcher: Box<dyn Watcher + Send> = if poll {
            Box::new(notify::PollWatcher::new(
                handler,
                config.with_poll_interval(POLL),
            )?)
        } else {
            Box::new(notify::RecommendedWatcher::new(handler, config)?)
        };
        let mut warnings = Vec::new();
        let mut watched = BTreeSet::new();
        let mut trees: Vec<(PathBuf, bool)> = Vec::new();
        for r in roots {
            let (dir, mode) = match r {
                Root::Tree(d) => (d.clone(), RecursiveMode::Recursive),
                Root::File(f) => (
                    f.parent().map(Path::to_path_buf).unwrap_or_default(),
                    RecursiveMode::NonRecursive,
                ),
            };
            if !dir.is_dir() {
                warnings.push(format!(
                    "{} does not exist (or is not a directory): not watched",
                    dir.display()
                ));
                continue;
            }
            // a tree covers the directories below it
            if trees.iter().any(|(t, _)| dir.starts_with(t)) && mode == RecursiveMode::NonRecursive
                || !watched.insert((dir.clone(), mode == RecursiveMode::Recursive))
            {
                continue;
            }
            if mode == RecursiveMode::Recursive {
                trees.push((dir.clone(), true));
            }
            watcher
                .watch(&dir, mode)
                .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", dir.display()))?;
        }
        // each tree's parent too (not below it): the event that the tree is made again
        for (t, _) in trees.clone() {
            if let Some(parent) = t.parent()
                && parent.is_dir()
                && !trees.iter().any(|(o, _)| parent.starts_with(o))
                && watched.insert((parent.to_path_buf(), false))
            {
                let _ = watcher.watch(parent, RecursiveMode::NonRecursive);
            }
        }
        Ok((
            FsWatch {
                rx,
                tx,
                watcher,
                roots: trees,
                polling: poll,
            },
            warnings,
        ))
    }

    /// The directories watched with everything below them.
    pub fn trees(&self) -> Vec<PathBuf> {
        self.roots.iter().map(|(t, _)| t.clone()).collect()
    }

    /// A handle another thread wakes [`FsWatch::next`] with.
    pub fn waker(&self) -> Waker {
        Waker(self.tx.clone())
    }

    /// A tree that was deleted and is there again is watched again, and comes back whole (its
    /// files were made while nothing watched them); one that is gone is noted as gone.
    fn rewatch(&mut self, paths: &mut Vec<PathBuf>) {
        for (t, alive) in &mut self.roots {
            let is_dir = std::fs::symlink_metadata(&*t).is_ok_and(|m| m.is_dir());
            if *alive && !is_dir {
                *alive = false;
            } else if !*alive && is_dir && self.watcher.watch(t, RecursiveMode::Recursive).is_ok() {
                *alive = true;
                if !paths.contains(t) {
                    paths.push(t.clone());
                }
            }
        }
    }

    /// Waits up to `idle` for a change, then collects until the disk is quiet.
    pub fn next(&mut self, idle: Duration) -> anyhow::Result<Next> {
        let first = match self.rx.recv_timeout(idle) {
            Ok(Msg::Fs(e)) => e,
            Ok(Msg::Wake) => return Ok(Next::Wake),
            Err(RecvTimeoutError::Timeout) => return Ok(Next::Idle),
            Err(RecvTimeoutError::Disconnected) => {
                anyhow::bail!("the file watcher stopped")
            }
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut rescan = false;
        let mut woken = false;
        let mut take = |e: notify::Result<notify::Event>, paths: &mut Vec<PathBuf>| match e {
            Ok(ev) => {
                if ev.need_rescan() {
                    rescan = true;
                }
                if matches!(ev.kind, notify::EventKind::Access(_)) {
                    return;
                }
                for p in ev.paths {
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                }
            }
            Err(e) => {
                crate::ui::warn(&format!("file watcher: {e}"));
                rescan = true;
            }
        };
        take(first, &mut paths);
        let start = Instant::now();
        loop {
            let left = MAX_WAIT.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            match self.rx.recv_timeout(QUIET.min(left)) {
                Ok(Msg::Fs(e)) => take(e, &mut paths),
                Ok(Msg::Wake) => woken = true,
                Err(_) => break,
            }
        }
        if woken {
            let _ = self.tx.send(Msg::Wake);
        }
        self.rewatch(&mut paths);
        Ok(if rescan {
            Next::Rescan
        } else if paths.is_empty() {
            Next::Idle
        } else {
            Next::Changes(paths)
        })
    }
}

/// What `path` is now (a symlink is not followed).
pub fn kind_of(path: &Path) -> Kind {
    match std::fs::symlink_metadata(path) {
        Err(_) => Kind::Gone,
        Ok(m) if m.is_file() => Kind::File,
        Ok(m) if m.is_dir() => Kind::Dir,
        Ok(m) if m.file_type().is_symlink() => Kind::Symlink,
        Ok(_) => Kind::Other,
    }
}

/// The changes for `paths`: each as it is now, and a directory with everything below it (a
/// directory moved in arrives as one event). `skip` says which directories not to enter.
pub fn expand(paths: &[PathBuf], skip: &dyn Fn(&Path) -> bool) -> Vec<Change> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for p in paths {
        walk(p, skip, &mut out, &mut seen);
    }
    out
}

fn walk(
    p: &Path,
    skip: &dyn Fn(&Path) -> bool,
    out: &mut Vec<Change>,
    seen: &mut BTreeSet<PathBuf>,
) {
    if !seen.insert(p.to_path_buf()) {
        return;
    }
    let kind = kind_of(p);
    out.push(Change {
        path: p.to_path_buf(),
        kind,
    });
    if kind == Kind::Dir && !skip(p) {
        // the entries as they are: a link is a link, nothing below it is ever entered
        let entries: Vec<PathBuf> = crate::contained::list_dir(p)
            .map(|v| v.into_iter().map(|e| e.path).collect())
            .unwrap_or_default();
        for e in entries {
            walk(&e, skip, out, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_comes_with_its_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/b/x"), "1").unwrap();
        std::fs::create_dir_all(d.path().join("a/.git")).unwrap();
        std::fs::write(d.path().join("a/.git/HEAD"), "1").unwrap();
        let c = expand(&[d.path().join("a"), d.path().join("gone")], &|p: &Path| {
            p.ends_with(".git")
        });
        let got: Vec<(String, Kind)> = c
            .iter()
            .map(|c| {
                (
                    c.path
                        .strip_prefix(d.path())
                        .unwrap()
                        .display()
                        .to_string()
                        .replace('\\', "/"),
                    c.kind,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), Kind::Dir),
                ("a/.git".into(), Kind::Dir),
                ("a/b".into(), Kind::Dir),
                ("a/b/x".into(), Kind::File),
                ("gone".into(), Kind::Gone)
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_neither_files_nor_directories() {
        assert_eq!(kind_of(Path::new("/dev/null")), Kind::Other);
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert_eq!(kind_of(&fifo), Kind::Other);
        std::os::unix::fs::symlink(&fifo, d.path().join("link")).unwrap();
        assert_eq!(
            kind_of(&d.path().join("link")),
            Kind::Symlink,
            "not followed"
        );
        assert_eq!(kind_of(&d.path().join("gone")), Kind::Gone);
    }

    #[test]
    fn wsl_windows_drives_are_polled() {
        assert!(needs_polling(true, Path::new("/mnt/c/Users/me/blog")));
        assert!(!needs_polling(true, Path::new("/home/me/blog")));
        assert!(!needs_polling(false, Path::new("/mnt/c/x")));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn events_are_batched_and_none_lost() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let (mut w, warnings) = FsWatch::new(&[Root::Tree(root.clone())], false).unwrap();
        assert!(warnings.is_empty());
        for i in 0..20 {
            std::fs::write(root.join(format!("f{i}")), "x").unwrap();
        }
        let mut got = BTreeSet::new();
        while got.len() < 20 {
            match w.next(Duration::from_secs(5)).unwrap() {
                Next::Changes(p) => got.extend(p),
                Next::Rescan => panic!("no overflow expected"),
                Next::Idle | Next::Wake => panic!("events lost: {got:?}"),
            }
        }
        assert!(got.contains(&root.join("f19")));
    }

    /// A directory link inside a watched tree is not followed: a change where it leads is no
    /// event here, and nothing below it is walked.
    #[cfg(target_os = "linux")]
    #[test]
    fn links_to_directories_are_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().canonicalize().unwrap();
        let root = base.join("src");
        let outside = base.join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("outdir")).unwrap();
        std::os::unix::fs::symlink("/usr", root.join("usrlink")).unwrap();
        let (mut w, _) = FsWatch::new(&[Root::Tree(root.clone())], false).unwrap();
        std::fs::write(outside.join("secret"), "x").unwrap();
        if let Next::Changes(p) = w.next(Duration::from_millis(500)).unwrap() {
            panic!("an event through a link: {p:?}");
        }
        let c = expand(std::slice::from_ref(&root), &|_| false);
        assert!(
            c.iter()
                .any(|c| c.path == root.join("usrlink") && c.kind == Kind::Symlink)
        );
        assert!(
            !c.iter().any(|c| c.path.starts_with(root.join("usrlink"))
                && c.path != root.join("usrlink")),
            "nothing below a link is walked"
        );
    }

    /// A watched tree deleted and made again (a `git checkout`, a clean step) is watched again,
    /// and comes back whole.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_tree_deleted_and_made_again_is_watched_again() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().canonicalize().unwrap();
        let root = base.join("web");
        std::fs::create_dir_all(&root).unwrap();
        let (mut w, _) = FsWatch::new(&[Root::Tree(root.clone())], false).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        let _ = w.next(Duration::from_secs(2)).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("app.py"), "1").unwrap();
        let mut got = Vec::new();
        for _ in 0..5 {
            if let Next::Changes(p) = w.next(Duration::from_secs(2)).unwrap() {
                got.extend(p);
            }
            if got.contains(&root) {
                break;
            }
        }
        assert!(got.contains(&root), "the tree comes back whole: {got:?}");
        // and its new files are seen from now on
        std::fs::write(root.join("later.py"), "2").unwrap();
        let mut later = Vec::new();
        for _ in 0..5 {
            if let Next::Changes(p) = w.next(Duration::from_secs(2)).unwrap() {
                later.extend(p);
            }
            if later.contains(&root.join("later.py")) {
                break;
            }
        }
        assert!(later.contains(&root.join("later.py")), "{later:?}");
    }
}

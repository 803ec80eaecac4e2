//! What an interrupt (Ctrl-C, SIGTERM, SIGHUP) stops before devenv ends: the run's shared SSH
//! connection, a task running in a container (its process group there), a one-off job. On Unix
//! the signal handler only writes the signal's number to a pipe (what a handler may do); a thread
//! reading the pipe runs the cleanups, then ends devenv as the signal would have (exit 128 + its
//! number). Elsewhere nothing is installed (Windows' console sends Ctrl-C to the whole group).

use std::sync::Mutex;

use crate::cmd::Cmd;

#[cfg_attr(not(unix), allow(dead_code))]
enum Cleanup {
    /// Programs to run (each bounded in time), in order.
    Run(Vec<Cmd>),
    Call(fn()),
}

static CLEANUPS: Mutex<Vec<(u64, Cleanup)>> = Mutex::new(Vec::new());
static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Removes its cleanup when dropped (the task ended by itself).
#[derive(Debug)]
pub struct Guard(Option<u64>);

impl Guard {
    pub(crate) fn none() -> Guard {
        Guard(None)
    }

    /// What to run on an interrupt, from now on (a task's process group, once it is known).
    pub fn replace(&self, cmds: Vec<Cmd>) {
        let Some(id) = self.0 else { return };
        if let Some((_, c)) = CLEANUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter_mut()
            .find(|(i, _)| *i == id)
        {
            *c = Cleanup::Run(cmds);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            CLEANUPS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(i, _)| *i != id);
        }
    }
}

fn register(c: Cleanup) -> u64 {
    install();
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    CLEANUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, c));
    id
}

/// Runs `cmds` if devenv is interrupted before the guard is dropped.
pub(crate) fn run_on_interrupt(cmds: Vec<Cmd>) -> Guard {
    Guard(Some(register(Cleanup::Run(cmds))))
}

/// Calls `f` if devenv is interrupted (for the life of the process).
pub(crate) fn call_on_interrupt(f: fn()) {
    let known = CLEANUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|(_, c)| matches!(c, Cleanup::Call(g) if std::ptr::fn_addr_eq(*g, f)));
    if !known {
        register(Cleanup::Call(f));
    }
}

/// Runs every cleanup (newest first: a task's before the connection it runs over).
#[cfg_attr(not(unix), allow(dead_code))]
fn run_all() {
    let all = std::mem::take(&mut *CLEANUPS.lock().unwrap_or_else(|e| e.into_inner()));
    for (_, c) in all.into_iter().rev() {
        match c {
            Cleanup::Run(cmds) => {
                for cmd in cmds {
                    let _ = crate::sys::real::run_streamed(
                        &cmd,
                        std::time::Duration::from_secs(10),
                        &mut |_| {},
                    );
                }
            }
            Cleanup::Call(f) => f(),
        }
    }
}

#[cfg(unix)]
fn install() {
    use std::sync::Once;
    use std::sync::atomic::{AtomicI32, Ordering};

    static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

    extern "C" fn on_signal(sig: libc::c_int) {
        let fd = WRITE_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = sig as u8;
            // SAFETY: write(2) is async-signal-safe; the buffer is a live local
            unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        }
    }

    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds has room for the two descriptors pipe(2) writes
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        WRITE_FD.store(fds[1], Ordering::Relaxed);
        let read_fd = fds[0];
        std::thread::spawn(move || {
            let mut b = 0u8;
            // SAFETY: reads one byte into a live local from the pipe this thread owns
            let n = unsafe { libc::read(read_fd, (&mut b as *mut u8).cast(), 1) };
            if n == 1 {
                run_all();
                std::process::exit(128 + i32::from(b));
            }
        });
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: installs a handler that only calls write(2)
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                sa.sa_flags = libc::SA_RESTART;
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
}

#[cfg(not(unix))]
fn install() {}

//! Docker and swarm: the CLI wrapper, target guard, deploy and the convergence watcher.

pub mod build;
pub mod deploy;
pub mod docker;
pub mod guard;
pub mod objects;
pub mod ports;
pub mod run;
pub mod ssh;
pub mod target;
pub mod teardown;
pub mod watch;

/// Whether this machine's kernel has IPVS (needed by the routing mesh and service VIPs).
/// `DEVENV_IPVS=0|1` overrides the detection. `None` off Linux (Docker Desktop's VM has it).
pub fn ipvs_available() -> Option<bool> {
    if let Ok(v) = std::env::var("DEVENV_IPVS") {
        return Some(!(v == "0" || v.eq_ignore_ascii_case("false") || v == "no"));
    }
    if !cfg!(target_os = "linux") {
        return None;
    }
    let in_modules =
        crate::contained::read_machine_file(std::path::Path::new("/proc/modules"), 16 << 20)
            .map(|s| {
                String::from_utf8_lossy(&s)
                    .lines()
                    .any(|l| l.starts_with("ip_vs "))
            })
            .unwrap_or(false);
    Some(in_modules || std::path::Path::new("/sys/module/ip_vs").exists())
}

//! Whether the host ports a stack publishes on this machine are free: free, held by this stack
//! itself (a running deploy), or held by another container or program (named when docker knows it).

use serde::Serialize;

use super::docker::Docker;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum PortState {
    Free,
    /// A container of this stack holds it.
    Ours,
    /// Another container ("container NAME") or program holds it.
    Other(String),
    Unknown(String),
}

/// Who holds `port` on this machine, as seen from `stack`.
pub fn state(docker: &Docker<'_>, stack: &str, port: u64) -> PortState {
    let Ok(p) = u16::try_from(port) else {
        return PortState::Unknown(format!("{port} is not a port"));
    };
    match docker.sys.port_free(p) {
        Ok(true) => PortState::Free,
        Ok(false) => {
            let holder = docker
                .try_query([
                    "ps",
                    "--filter",
                    &format!("publish={port}"),
                    "--format",
                    "{{.Names}}\t{{.Label \"com.docker.stack.namespace\"}}",
                ])
                .map(|o| o.stdout_str())
                .unwrap_or_default();
            if holder.lines().any(|l| l.split('\t').nth(1) == Some(stack)) {
                PortState::Ours
            } else {
                PortState::Other(
                    holder
                        .lines()
                        .next()
                        .map(|l| format!("container {}", l.split('\t').next().unwrap_or(l)))
                        .unwrap_or_else(|| "another program".into()),
                )
            }
        }
        Err(e) => PortState::Unknown(e.to_string()),
    }
}

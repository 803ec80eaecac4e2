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
                return PortState::Ours;
            }
            if let Some(l) = holder.lines().next() {
                return PortState::Other(format!(
                    "container {}",
                    l.split('\t').next().unwrap_or(l)
                ));
            }
            // a port published through swarm's ingress is held by dockerd, not by a container:
            // the services say whose it is
            match ingress_holder(docker, port) {
                Some(service) if service.starts_with(&format!("{stack}_")) => PortState::Ours,
                Some(service) => PortState::Other(format!("service {service} (swarm's ingress)")),
                None => PortState::Other("another program".into()),
            }
        }
        Err(e) => PortState::Unknown(e.to_string()),
    }
}

/// The swarm service that publishes `port` through the ingress (`docker service ls`'s
/// `*:80->80/tcp`), if one does.
pub fn ingress_holder(docker: &Docker<'_>, port: u64) -> Option<String> {
    let out = docker
        .try_query(["service", "ls", "--format", "{{.Name}}\t{{.Ports}}"])
        .ok()
        .filter(|o| o.ok())?
        .stdout_str();
    out.lines().find_map(|l| {
        let (name, ports) = l.split_once('\t')?;
        ports
            .split(',')
            .any(|p| {
                let published = p.trim().split("->").next().unwrap_or("");
                published.rsplit(':').next() == Some(port.to_string().as_str())
            })
            .then(|| name.to_string())
    })
}

/// What Windows itself does with ports, read once with `netsh` (read-only `show` commands):
/// ranges Hyper-V/winnat (WSL, Docker Desktop) or an administrator excluded — nothing listens
/// there, yet binding fails ("An attempt was made to access a socket in a way forbidden by its
/// access permissions") —, ports http.sys listens on for a service (IIS, WinRM…), and ports the
/// IP Helper service forwards (`portproxy`). Parsed by their numbers, not their words, so any
/// display language reads the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowsPorts {
    /// (start, end, set by an administrator — marked `*`).
    pub excluded: Vec<(u16, u16, bool)>,
    pub http_sys: Vec<u16>,
    /// (listen address, listen port).
    pub portproxy: Vec<(String, u16)>,
}

/// Why Windows refuses a port, and the exact fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub cause: String,
    pub fix: String,
}

fn numbers(line: &str) -> Vec<u32> {
    line.split_whitespace()
        .filter_map(|w| w.parse::<u32>().ok())
        .collect()
}

/// `netsh interface ipv4 show excludedportrange protocol=tcp`: each line of two numbers is a
/// range, a `*` after them an administered one.
pub fn parse_excluded(out: &str) -> Vec<(u16, u16, bool)> {
    out.lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let (a, b) = (words.first()?.parse().ok()?, words.get(1)?.parse().ok()?);
            (words.len() <= 3 && a <= b).then(|| (a, b, words.get(2) == Some(&"*")))
        })
        .collect()
}

/// `netsh http show servicestate`: the ports of the URLs registered with http.sys
/// (`HTTP://+:80/…`, `https://*:443/`).
pub fn parse_http_sys(out: &str) -> Vec<u16> {
    let mut v = Vec::new();
    for l in out.lines() {
        let lower = l.to_ascii_lowercase();
        let Some(i) = lower.find("://") else {
            continue;
        };
        let rest = &lower[i + 3..];
        let authority = rest.split('/').next().unwrap_or(rest);
        let port = match authority.rsplit_once(':') {
            Some((_, p)) => p.parse::<u16>().ok(),
            None if lower[..i].ends_with("https") => Some(443),
            None => Some(80),
        };
        if let Some(p) = port
            && !v.contains(&p)
        {
            v.push(p);
        }
    }
    v
}

/// `netsh interface portproxy show all`: the rows `ADDRESS PORT ADDRESS PORT`.
pub fn parse_portproxy(out: &str) -> Vec<(String, u16)> {
    out.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() != 4 || numbers(l).len() < 2 {
                return None;
            }
            let port = w[1].parse().ok()?;
            w[3].parse::<u16>().ok()?;
            Some((w[0].to_string(), port))
        })
        .collect()
}

impl WindowsPorts {
    /// Asks `netsh` (an answer it cannot give reads as nothing reserved).
    pub fn read(sys: &dyn crate::sys::Facts) -> WindowsPorts {
        let ask = |args: &[&str]| {
            sys.query(&crate::sys::Cmd::new("netsh").args(args.iter().copied()))
                .ok()
                .filter(|o| o.ok())
                .map(|o| o.stdout_str())
                .unwrap_or_default()
        };
        WindowsPorts {
            excluded: parse_excluded(&ask(&[
                "interface",
                "ipv4",
                "show",
                "excludedportrange",
                "protocol=tcp",
            ])),
            http_sys: parse_http_sys(&ask(&["http", "show", "servicestate"])),
            portproxy: parse_portproxy(&ask(&["interface", "portproxy", "show", "all"])),
        }
    }

    /// Why Windows would refuse `port` to the stack, with the fix (`None`: it would not).
    pub fn blocker(&self, port: u16) -> Option<Blocked> {
        if let Some((a, b, admin)) = self
            .excluded
            .iter()
            .find(|(a, b, _)| (*a..=*b).contains(&port))
        {
            let range = if a == b {
                format!("{a}")
            } else {
                format!("{a}-{b}")
            };
            return Some(if *admin {
                Blocked {
                    cause: format!(
                        "port {port} is in the range {range} an administrator excluded (`netsh interface ipv4 show excludedportrange protocol=tcp` marks it *): no program may bind it"
                    ),
                    fix: format!(
                        "in an administrator prompt: `netsh interface ipv4 delete excludedportrange protocol=tcp startport={a} numberofports={}`",
                        u32::from(*b) - u32::from(*a) + 1
                    ),
                }
            } else {
                Blocked {
                    cause: format!(
                        "port {port} is in the range {range} that Windows reserved (Hyper-V's winnat does at boot, for WSL and Docker Desktop): nothing listens there, yet binding it is refused (\"access forbidden\")"
                    ),
                    fix: "in an administrator prompt: `net stop winnat` then `net start winnat` (it reserves its ranges again, around the ports in use); to keep it off low ports for good: `netsh interface ipv4 set dynamic tcp start=49152 num=16384`".to_string(),
                }
            });
        }
        if self.http_sys.contains(&port) {
            return Some(Blocked {
                cause: format!(
                    "port {port} is held by http.sys, the Windows HTTP service, for a service registered on it (IIS, WinRM, Reporting Services…)"
                ),
                fix: format!(
                    "`netsh http show servicestate view=requestq` names the process; for IIS, in an administrator prompt: `net stop w3svc` (and `sc config w3svc start= disabled` to keep it off), or publish another port than {port}"
                ),
            });
        }
        if let Some((addr, _)) = self.portproxy.iter().find(|(_, p)| *p == port) {
            return Some(Blocked {
                cause: format!(
                    "port {port} is forwarded by the IP Helper service (`netsh interface portproxy` listens on {addr}:{port})"
                ),
                fix: format!(
                    "in an administrator prompt: `netsh interface portproxy delete v4tov4 listenport={port} listenaddress={addr}`"
                ),
            });
        }
        None
    }
}

#[cfg(test)]
mod windows_tests {
    use super::*;

    // transcripts of Windows 11 23H2 (English and German display languages)
    const EXCLUDED: &str = "\r\nProtocol tcp Port Exclusion Ranges\r\n\r\nStart Port    End Port\r\n----------    --------\r\n        80          80     *\r\n       443         443\r\n      2180        2279\r\n      2380        2479\r\n      5357        5357\r\n     50000       50059     *\r\n\r\n* - Administered port exclusions.\r\n\r\n";
    const EXCLUDED_DE: &str = "\r\nProtokoll tcp Portausschlussbereiche\r\n\r\nStartport    Endport\r\n----------    --------\r\n      2305        2404\r\n\r\n* - Verwaltete Portausschlüsse.\r\n";
    const HTTP_SYS: &str = "Snapshot of HTTP service state (Server Session View):\r\n-----------------------------------------------------\r\n\r\nServer session ID: FF00000120000001\r\n    Version: 2.0\r\n    State: Active\r\n    Properties:\r\n        Max bandwidth: 4294967295\r\n    URL groups:\r\n    URL group ID: FE00000140000001\r\n        State: Active\r\n        Registered URLs:\r\n            HTTP://*:80/\r\n            HTTP://+:5985/WSMAN/\r\n\r\nRequest queues:\r\n    Request queue name: DefaultAppPool\r\n        Processes:\r\n            ID: 4424, image: C:\\Windows\\System32\\inetsrv\\w3wp.exe\r\n";
    const PORTPROXY: &str = "\r\nListen on ipv4:             Connect to ipv4:\r\n\r\nAddress         Port        Address         Port\r\n--------------- ----------  --------------- ----------\r\n0.0.0.0         8443        172.20.1.2      443\r\n\r\n";

    #[test]
    fn netsh_transcripts_parse_by_their_numbers_in_any_language() {
        assert_eq!(
            parse_excluded(EXCLUDED),
            [
                (80, 80, true),
                (443, 443, false),
                (2180, 2279, false),
                (2380, 2479, false),
                (5357, 5357, false),
                (50000, 50059, true)
            ]
        );
        assert_eq!(parse_excluded(EXCLUDED_DE), [(2305, 2404, false)]);
        assert_eq!(parse_http_sys(HTTP_SYS), [80, 5985]);
        assert_eq!(parse_portproxy(PORTPROXY), [("0.0.0.0".to_string(), 8443)]);
        assert!(parse_excluded("").is_empty() && parse_portproxy("").is_empty());
    }

    #[test]
    fn each_refusal_names_its_cause_and_the_exact_fix() {
        let w = WindowsPorts {
            excluded: parse_excluded(EXCLUDED),
            http_sys: parse_http_sys(HTTP_SYS),
            portproxy: parse_portproxy(PORTPROXY),
        };
        let b = w.blocker(443).unwrap();
        assert!(
            b.cause.contains("range 443 that Windows reserved"),
            "{}",
            b.cause
        );
        assert!(
            b.fix.contains("`net stop winnat` then `net start winnat`"),
            "{}",
            b.fix
        );
        let b = w.blocker(2377).unwrap_or_else(|| w.blocker(2200).unwrap());
        assert!(b.cause.contains("2180-2279"), "{}", b.cause);
        let b = w.blocker(80).unwrap();
        assert!(
            b.fix
                .contains("delete excludedportrange protocol=tcp startport=80 numberofports=1"),
            "{}",
            b.fix
        );
        let b = w.blocker(5985).unwrap();
        assert!(b.cause.contains("http.sys"), "{}", b.cause);
        assert!(b.fix.contains("net stop w3svc"), "{}", b.fix);
        let b = w.blocker(8443).unwrap();
        assert!(
            b.fix
                .contains("portproxy delete v4tov4 listenport=8443 listenaddress=0.0.0.0"),
            "{}",
            b.fix
        );
        assert_eq!(w.blocker(8080), None);
        assert_eq!(w.blocker(2377), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    #[test]
    fn a_port_swarms_ingress_holds_is_the_stacks_own_or_named() {
        let sys = FakeSys::new()
            .program("docker", "/usr/bin/docker")
            .busy_port(80)
            .busy_port(5432)
            .busy_port(9000)
            .respond("/usr/bin/docker --context default ps", 0, "")
            .respond(
                "/usr/bin/docker --context default service ls",
                0,
                "myblog_proxy\t*:80->80/tcp, *:443->443/tcp\nshop_db\t*:5432->5432/tcp\nmyblog_worker\t\n",
            );
        let docker = Docker::new(&sys, "default").unwrap();
        let first = state(&docker, "myblog", 80);
        assert_eq!(first, PortState::Ours, "{:?}", sys.commands());
        assert_eq!(state(&docker, "myblog", 443), PortState::Free);
        assert_eq!(
            state(&docker, "myblog", 5432),
            PortState::Other("service shop_db (swarm's ingress)".into())
        );
        assert_eq!(
            state(&docker, "myblog", 9000),
            PortState::Other("another program".into())
        );
        // the same port seen from the other stack
        assert_eq!(
            state(&docker, "shop", 80),
            PortState::Other("service myblog_proxy (swarm's ingress)".into())
        );
    }
}

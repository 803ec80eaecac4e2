//! After a hosts change: flush the OS DNS caches (a failed flush warns, never fails), then check
//! each name with a fresh hickory resolver and with the OS resolver.

use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::platform::{Os, Platform};
use crate::sys::{Cmd, Facts};

/// The commands that flush this machine's DNS caches.
pub fn flush_plan(p: Platform, sys: &dyn Facts) -> Vec<Cmd> {
    let mut v = Vec::new();
    match p.os {
        Os::Windows => v.push(Cmd::new("ipconfig").arg("/flushdns")),
        Os::MacOs => {
            v.push(Cmd::new("dscacheutil").arg("-flushcache"));
            v.push(Cmd::new("killall").args(["-HUP", "mDNSResponder"]));
        }
        Os::Linux => {
            let resolved = sys.exists(Path::new("/run/systemd/resolve/io.systemd.Resolve"))
                || sys.exists(Path::new("/run/systemd/resolve/stub-resolv.conf"));
            if resolved && sys.which("resolvectl").is_some() {
                v.push(Cmd::new("resolvectl").arg("flush-caches"));
            }
            let nscd = sys.exists(Path::new("/run/nscd/socket"))
                || sys.exists(Path::new("/var/run/nscd/socket"));
            if nscd && sys.which("nscd").is_some() {
                v.push(Cmd::new("nscd").args(["-i", "hosts"]));
            }
            if p.wsl && sys.which("ipconfig.exe").is_some() {
                v.push(Cmd::new("ipconfig.exe").arg("/flushdns"));
            }
        }
    }
    v
}

/// What to warn about after running one of the flush commands; `None` when it worked.
pub fn flush_failure(c: &Cmd, ran: std::io::Result<crate::sys::Output>) -> Option<String> {
    match ran {
        Ok(o) if o.ok() => None,
        Ok(o) => Some(format!(
            "`{}` failed (exit {}): {}",
            c.display(),
            o.status,
            o.stderr_str()
        )),
        Err(e) => Some(format!("`{}` could not run: {e}", c.display())),
    }
}

/// How a name resolves, seen by hickory (reading the hosts file afresh) and by the OS.
/// In JSON: `{"name", "hickory": [addresses] | null, "hickory_error": null | "why",
/// "os": [...] | null, "os_error": ..., "loopback"}`.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub name: String,
    pub hickory: Result<Vec<IpAddr>, String>,
    pub os: Result<Vec<IpAddr>, String>,
    /// Both resolvers answer, and only with loopback addresses.
    pub loopback: bool,
}

impl serde::Serialize for Resolution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Resolution", 6)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("hickory", &self.hickory.as_ref().ok())?;
        st.serialize_field("hickory_error", &self.hickory.as_ref().err())?;
        st.serialize_field("os", &self.os.as_ref().ok())?;
        st.serialize_field("os_error", &self.os.as_ref().err())?;
        st.serialize_field("loopback", &self.loopback)?;
        st.end()
    }
}

impl Resolution {
    pub fn new(
        name: String,
        hickory: Result<Vec<IpAddr>, String>,
        os: Result<Vec<IpAddr>, String>,
    ) -> Resolution {
        let lo = |r: &Result<Vec<IpAddr>, String>| {
            r.as_ref()
                .is_ok_and(|v| !v.is_empty() && v.iter().all(|a| a.is_loopback()))
        };
        let loopback = lo(&hickory) && lo(&os);
        Resolution {
            name,
            hickory,
            os,
            loopback,
        }
    }

    /// Both resolvers answer, and only with loopback addresses.
    pub fn loopback(&self) -> bool {
        self.loopback
    }

    pub fn describe(&self) -> String {
        let show = |r: &Result<Vec<IpAddr>, String>| match r {
            Ok(v) if v.is_empty() => "no address".to_string(),
            Ok(v) => v
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => e.clone(),
        };
        format!(
            "{}: hickory → {}; OS resolver → {}",
            self.name,
            show(&self.hickory),
            show(&self.os)
        )
    }
}

/// Resolves each name with a new hickory resolver (built now, so it reads the hosts file as it
/// is now) and with the OS resolver (`getaddrinfo`).
pub fn verify(names: &[String]) -> Vec<Resolution> {
    let hickory = hickory_lookup(names);
    names
        .iter()
        .zip(hickory)
        .map(|(n, h)| {
            let os = (n.as_str(), 0)
                .to_socket_addrs()
                .map(|it| {
                    let mut v: Vec<IpAddr> = it.map(|s| s.ip()).collect();
                    v.dedup();
                    v
                })
                .map_err(|e| e.to_string());
            Resolution::new(n.clone(), h, os)
        })
        .collect()
}

fn hickory_lookup(names: &[String]) -> Vec<Result<Vec<IpAddr>, String>> {
    use hickory_resolver::TokioResolver;
    use hickory_resolver::config::{ResolveHosts, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return names
                .iter()
                .map(|_| Err(format!("no async runtime: {e}")))
                .collect();
        }
    };
    let builder = TokioResolver::builder_tokio().unwrap_or_else(|_| {
        // no usable resolv.conf: the hosts file alone still answers
        TokioResolver::builder_with_config(
            ResolverConfig::default(),
            TokioRuntimeProvider::default(),
        )
    });
    let mut builder = builder;
    {
        let o = builder.options_mut();
        o.use_hosts_file = ResolveHosts::Always;
        o.timeout = Duration::from_millis(800);
        o.attempts = 1;
        o.cache_size = 0;
    }
    let resolver = match builder.build() {
        Ok(r) => r,
        Err(e) => return names.iter().map(|_| Err(format!("hickory: {e}"))).collect(),
    };
    rt.block_on(async {
        let mut out = Vec::new();
        for n in names {
            let r = resolver
                .lookup_ip(format!("{n}.").as_str())
                .await
                .map(|l| l.iter().collect::<Vec<IpAddr>>())
                .map_err(|e| e.to_string());
            out.push(r);
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    fn lines(p: Platform, sys: &FakeSys) -> Vec<String> {
        flush_plan(p, sys).iter().map(Cmd::display).collect()
    }

    #[test]
    fn flush_commands_per_platform() {
        let s = FakeSys::new();
        assert_eq!(lines(Platform::windows(), &s), vec!["ipconfig /flushdns"]);
        assert_eq!(
            lines(Platform::macos(), &s),
            vec!["dscacheutil -flushcache", "killall -HUP mDNSResponder"]
        );
        assert!(
            lines(Platform::linux(), &s).is_empty(),
            "nothing to flush without a cache daemon"
        );
        let s = FakeSys::new()
            .file("/run/systemd/resolve/io.systemd.Resolve", "")
            .program("resolvectl", "/usr/bin/resolvectl")
            .file("/run/nscd/socket", "")
            .program("nscd", "/usr/sbin/nscd")
            .program("ipconfig.exe", "/mnt/c/Windows/System32/ipconfig.exe");
        assert_eq!(
            lines(Platform::wsl(), &s),
            vec![
                "resolvectl flush-caches",
                "nscd -i hosts",
                "ipconfig.exe /flushdns"
            ]
        );
    }

    #[test]
    fn failed_flush_is_a_warning() {
        let s = FakeSys::new().respond_full("ipconfig", 1, "", "access denied");
        let w: Vec<String> = flush_plan(Platform::windows(), &s)
            .into_iter()
            .filter_map(|c| {
                flush_failure(
                    &c,
                    crate::exec::Executor::new(&s, crate::exec::Mode::Apply).run(&c),
                )
            })
            .collect();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("access denied"), "{w:?}");
    }

    #[test]
    fn localhost_resolves_to_loopback() {
        let r = verify(&["localhost".to_string()]);
        assert!(
            r[0].os.as_ref().unwrap().iter().all(|a| a.is_loopback()),
            "{}",
            r[0].describe()
        );
    }
}

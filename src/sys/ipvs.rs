//! IPVS as the engine will have it — what decides between swarm's routing mesh with service VIPs
//! and devenv's fallback (host-mode ports, DNS round-robin). On a stock kernel `ip_vs` is a
//! loadable module that dockerd loads when the first ingress service is created, so "not loaded
//! yet" is not "absent": judging by `/proc/modules` alone rendered the same machine differently
//! before and after that, and after each reboot.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpvsState {
    /// Compiled into the kernel.
    BuiltIn,
    /// A module, loaded now.
    Loaded,
    /// A module of this kernel, not loaded yet: dockerd loads it for the first ingress service.
    Loadable,
    /// Neither built in nor a module of this kernel: the routing mesh and VIPs cannot work.
    Absent,
}

impl IpvsState {
    /// Whether the routing mesh and service VIPs will work on this engine.
    pub fn available(self) -> bool {
        !matches!(self, IpvsState::Absent)
    }

    pub fn describe(self) -> &'static str {
        match self {
            IpvsState::BuiltIn => "built into the kernel",
            IpvsState::Loaded => "the ip_vs module is loaded",
            IpvsState::Loadable => {
                "ip_vs is a module of this kernel, not loaded yet: dockerd loads it for the first ingress service"
            }
            IpvsState::Absent => "this kernel has no IPVS (not built in, no ip_vs module)",
        }
    }
}

/// What the kernel's files say, read by the seam (`None`: the file is not there).
#[derive(Debug, Clone, Default)]
pub struct KernelFiles {
    /// `/proc/modules`.
    pub proc_modules: Option<String>,
    /// `/sys/module/ip_vs` exists (built in with parameters, or loaded).
    pub sys_module: bool,
    /// `/lib/modules/RELEASE/modules.builtin`.
    pub modules_builtin: Option<String>,
    /// `/lib/modules/RELEASE/modules.dep`.
    pub modules_dep: Option<String>,
}

/// The judgement, from the files alone.
pub fn judge(k: &KernelFiles) -> IpvsState {
    let names_ip_vs = |text: &Option<String>| {
        text.as_deref().is_some_and(|t| {
            t.lines().any(|l| {
                let path = l.split(':').next().unwrap_or(l).trim();
                let file = path.rsplit('/').next().unwrap_or(path);
                file == "ip_vs.ko" || file.starts_with("ip_vs.ko.")
            })
        })
    };
    if k.proc_modules
        .as_deref()
        .is_some_and(|m| m.lines().any(|l| l.starts_with("ip_vs ")))
    {
        return IpvsState::Loaded;
    }
    if names_ip_vs(&k.modules_builtin) {
        return IpvsState::BuiltIn;
    }
    if k.sys_module {
        return IpvsState::BuiltIn;
    }
    if names_ip_vs(&k.modules_dep) {
        return IpvsState::Loadable;
    }
    IpvsState::Absent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kernel_is_told_apart() {
        let stock_dep = "kernel/net/netfilter/ipvs/ip_vs.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz kernel/lib/libcrc32c.ko.xz\nkernel/net/netfilter/ipvs/ip_vs_rr.ko.xz: kernel/net/netfilter/ipvs/ip_vs.ko.xz\n";
        // a stock Debian kernel after boot: a module, not loaded
        let fresh = KernelFiles {
            proc_modules: Some("nf_conntrack 192512 3 - Live 0x0\n".into()),
            sys_module: false,
            modules_builtin: Some("kernel/net/ipv4/tcp_cubic.ko\n".into()),
            modules_dep: Some(stock_dep.into()),
        };
        assert_eq!(judge(&fresh), IpvsState::Loadable);
        assert!(
            judge(&fresh).available(),
            "dockerd loads it: the same render before and after"
        );
        // after the first ingress service
        let loaded = KernelFiles {
            proc_modules: Some(
                "ip_vs 208896 6 ip_vs_rr, Live 0x0\nnf_conntrack 192512 3 - Live 0x0\n".into(),
            ),
            sys_module: true,
            ..fresh.clone()
        };
        assert_eq!(judge(&loaded), IpvsState::Loaded);
        // built in (a kernel without modules for it)
        let builtin = KernelFiles {
            proc_modules: Some(String::new()),
            sys_module: false,
            modules_builtin: Some("kernel/net/netfilter/ipvs/ip_vs.ko\n".into()),
            modules_dep: Some(String::new()),
        };
        assert_eq!(judge(&builtin), IpvsState::BuiltIn);
        // a custom kernel with neither (this CI machine's): no /lib/modules at all
        let custom = KernelFiles {
            proc_modules: Some("vsock 61440 1 - Live 0x0\n".into()),
            ..Default::default()
        };
        assert_eq!(judge(&custom), IpvsState::Absent);
        assert!(!judge(&custom).available());
        // ip_vs_rr alone is not ip_vs
        let rr_only = KernelFiles {
            modules_dep: Some("kernel/net/netfilter/ipvs/ip_vs_rr.ko: \n".into()),
            ..Default::default()
        };
        assert_eq!(judge(&rr_only), IpvsState::Absent);
    }
}

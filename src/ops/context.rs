//! What every operation gets: the global flags, the machine's facts, and — only through
//! [`Ctx::executor`] — its effects.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::Global;
use crate::error::UserError;
use crate::exec::{Executor, Machine, Mode};
use crate::profile::{Profile, Project};
use crate::render::Rendered;
use crate::state::State;
use crate::swarm::docker::Docker;
use crate::sys::Facts;

/// What every operation gets: the global flags and the seam to the machine.
pub struct Ctx {
    pub g: Global,
    /// The machine's facts: everything a plan may read.
    pub sys: Arc<dyn Facts>,
    /// The machine itself, effects included: reached only through [`Ctx::executor`] (a private
    /// field of this module, which no operation can touch).
    machine: Arc<dyn Machine>,
    /// The run's shared SSH connection, once a profile's engine is reached over SSH (dropped
    /// with the context: the master stops).
    ssh: std::sync::OnceLock<Option<crate::exec::ssh::Shared>>,
    /// Whether the run said how probes reach names (see [`Ctx::lookup`]).
    lookup_said: std::sync::OnceLock<()>,
    /// IPVS on the engine (see [`Ctx::engine_ipvs`]).
    engine_ipvs: std::sync::OnceLock<Option<crate::sys::ipvs::IpvsState>>,
    /// Docker contexts this run found to exist.
    contexts_seen: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Ctx {
    pub fn new(g: Global, machine: Arc<dyn Machine>) -> Self {
        Ctx {
            g,
            sys: machine.clone(),
            machine,
            ssh: std::sync::OnceLock::new(),
            lookup_said: std::sync::OnceLock::new(),
            contexts_seen: Default::default(),
            engine_ipvs: std::sync::OnceLock::new(),
        }
    }

    /// The run's executor, in the mode the run asked for (`--dry-run`: it records what it would
    /// do and changes nothing), writing devenv's own files only into the project, the data
    /// directory and the CA's directory.
    pub fn executor(&self) -> Executor<'_> {
        let mode = if self.g.dry_run {
            Mode::DryRun
        } else {
            Mode::Apply
        };
        let mut places = vec![
            crate::paths::data_dir(self.sys.as_ref()),
            crate::certs::ca::caroot(self.sys.as_ref()),
        ];
        match self.project() {
            Ok(p) => places.push(p.root),
            // `init`: the directory it scaffolds
            Err(_) => places.push(match &self.g.dir {
                Some(d) => d.clone(),
                None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            }),
        }
        Executor::new(self.machine.as_ref(), mode).with_places(&places)
    }

    /// The shared SSH connection for `profile`'s engine, when it is reached over SSH (from its
    /// `docker.host`, else its context's endpoint) and this OS's ssh can share connections.
    fn shared_ssh(
        &self,
        docker: &Docker<'_>,
        profile: &Profile,
    ) -> Option<&crate::exec::ssh::Shared> {
        self.ssh
            .get_or_init(|| {
                if self.sys.var("DEVENV_SSH_SHARE").as_deref() == Some("0") {
                    return None;
                }
                let endpoint = match &profile.file.docker.host {
                    Some(h) => h.clone(),
                    None if profile.file.docker.context == "default" => return None,
                    None => docker
                        .sys
                        .query(&crate::sys::Cmd::new(docker.program.clone()).args([
                            "context",
                            "inspect",
                            "--format",
                            "{{.Endpoints.docker.Host}}",
                            profile.file.docker.context.as_str(),
                        ]))
                        .ok()
                        .filter(|o| o.ok())
                        .map(|o| o.stdout_str().trim().to_string())?,
                };
                if !crate::ssh::shares(self.sys.platform().os, &endpoint) {
                    return None;
                }
                // DEVENV_SSH_PERSIST=SECONDS: the connection stays for the runs that follow
                let keep = self
                    .sys
                    .var("DEVENV_SSH_PERSIST")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|s| *s > 0)
                    .map(|secs| crate::ssh::Keep {
                        dir: crate::paths::data_dir(self.sys.as_ref())
                            .join("ssh")
                            .join(crate::hash::short(endpoint.as_bytes(), 12)),
                        secs,
                    });
                let req = crate::exec::SshRequest {
                    ssh: self.sys.which("ssh")?,
                    endpoint,
                    keep,
                };
                self.executor().open_ssh(&req)
            })
            .as_ref()
    }

    pub fn project(&self) -> anyhow::Result<Project> {
        Project::discover(self.g.dir.as_deref())
    }

    /// The profile to use: the positional argument, `--profile`, the active one, devenv.yaml's
    /// `default_profile`, or `local`.
    pub fn profile_name(
        &self,
        project: &Project,
        positional: Option<&str>,
    ) -> anyhow::Result<String> {
        if let (Some(p), Some(f)) = (positional, self.g.profile.as_deref())
            && p != f
        {
            return Err(
                UserError::usage(format!("two profiles given: `{p}` and --profile {f}"))
                    .hint("give one of them")
                    .into(),
            );
        }
        if let Some(p) = positional.or(self.g.profile.as_deref()) {
            return Ok(p.to_string());
        }
        let state = State::load(&project.root)?;
        Ok(state
            .active_profile
            .or_else(|| project.file.default_profile.clone())
            .unwrap_or_else(|| "local".to_string()))
    }

    pub fn profile(&self, project: &Project, positional: Option<&str>) -> anyhow::Result<Profile> {
        let name = self.profile_name(project, positional)?;
        project.profile(&name)
    }

    /// Renders a profile as things are now, writing nothing: secrets that do not exist yet (a
    /// leaf `up` mints, a `generate:` value) are named as unavailable, and secret names use the
    /// project's salt only if it exists.
    pub fn render(&self, project: &Project, profile: &Profile) -> anyhow::Result<Rendered> {
        let facts = self.facts(project, profile);
        let secrets = crate::render::collect_secrets(project, profile, self.sys.as_ref());
        let salt = crate::state::salt_if_present(&project.root);
        crate::render::render(project, profile, facts, &secrets, &salt)
    }

    /// IPVS as the profile's engine has it, judged on the engine's side: this machine's kernel when
    /// the engine runs on it (its kernel release is this machine's); `None` — the routing mesh
    /// is assumed, as Docker Desktop's VM and stock kernels have it — when the engine runs in a
    /// VM or elsewhere, or cannot be asked. Asked once per run.
    pub fn engine_ipvs(&self, profile: &Profile) -> Option<crate::sys::ipvs::IpvsState> {
        *self.engine_ipvs.get_or_init(|| {
            let local = self.sys.ipvs_state()?;
            let here = self.sys.kernel_release();
            let engine = self
                .docker_as_is(profile)
                .ok()
                .and_then(|d| d.info().ok())
                .map(|i| i.kernel_version);
            match (here, engine) {
                // the engine answers from another kernel (Docker Desktop's VM, a remote host)
                (Some(h), Some(e)) if !e.is_empty() && e != h => None,
                _ => Some(local),
            }
        })
    }

    /// Whether the hosts block maps ::1 too ([`Profile::maps_ipv6`], with the engine's IPVS).
    pub fn maps_ipv6(&self, profile: &Profile) -> bool {
        let ipvs = if profile.on_this_machine() {
            self.engine_ipvs(profile).map(|s| s.available())
        } else {
            None
        };
        profile.maps_ipv6(ipvs)
    }

    /// What shapes the rendered stack on this machine (IPVS, for profiles on this machine's engine).
    pub fn facts(&self, project: &Project, profile: &Profile) -> crate::render::Facts {
        let local_ca = profile.file.tls == crate::profile::Tls::LocalCa;
        crate::render::Facts {
            ipvs: if profile.on_this_machine() {
                self.engine_ipvs(profile).map(|s| s.available())
            } else {
                None
            },
            env: self.sys.vars(),
            env_files: self.g.env_file.clone(),
            ca_pem: if local_ca {
                crate::certs::issue::caroot_for(self.sys.as_ref(), Some(project))
                    .ok()
                    .and_then(|dir| {
                        crate::contained::Scope::data_dir(&dir)
                            .read_string(&dir.join(crate::certs::ca::CA_CERT), 1 << 20)
                            .ok()
                    })
            } else {
                None
            },
            public_cas: if local_ca {
                crate::certs::system_bundle()
            } else {
                None
            },
        }
    }

    /// How the probes, `status` and `doctor` reach the project's names: through the addresses a
    /// `--hosts-file` maps when this machine's resolver does not read that file (said once per
    /// run), `*.localhost` on loopback as browsers do, and every other name as the machine
    /// resolves it.
    pub fn lookup(&self, project: &Project) -> crate::probe::Lookup {
        let Some(file) = self.g.hosts_file.as_deref() else {
            return crate::probe::Lookup::default();
        };
        if crate::hosts::read_by_resolver(file, self.sys.platform(), self.sys.as_ref()) {
            return crate::probe::Lookup::default();
        }
        // read each time: the run may have just written the block
        let mapped = crate::hosts::mapped(file, project.name()).unwrap_or_default();
        if !mapped.is_empty() && self.lookup_said.set(()).is_ok() {
            crate::ui::info(&format!(
                "{} is not a hosts file this machine's resolver reads: devenv reaches {} through the addresses it maps there (browsers and other programs here do not)",
                file.display(),
                mapped.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        crate::probe::Lookup {
            mapped,
            source: Some(file.to_path_buf()),
        }
    }

    /// A devenv command line to print (an undo, a fix) that acts on what this run acted on: the
    /// project's directory, and `--profile` and `--hosts-file` when the run was given them.
    pub fn again(&self, project: &Project, args: &str) -> String {
        let q = |s: &str| crate::sys::shell_quote(s);
        let mut line = format!("devenv -C {}", q(&project.root.to_string_lossy()));
        if let Some(p) = &self.g.profile {
            line.push_str(&format!(" --profile {}", q(p)));
        }
        if let Some(h) = &self.g.hosts_file {
            line.push_str(&format!(" --hosts-file {}", q(&h.to_string_lossy())));
        }
        format!("{line} {args}")
    }

    /// The hosts files devenv manages here: `--hosts-file`, or the system's (and under WSL the
    /// Windows one too).
    pub fn hosts_targets(&self) -> Vec<PathBuf> {
        crate::hosts::targets(
            self.g.hosts_file.as_deref(),
            self.sys.platform(),
            self.sys.as_ref(),
        )
    }

    /// The project's lock, held while an operation plans and applies, so two devenv runs in one
    /// project never interleave (a dry run, which changes nothing, takes none). It lives in the
    /// user's data directory: taking it creates nothing in the project.
    pub fn lock_project(&self, x: &mut Executor<'_>) -> anyhow::Result<crate::exec::FileLock> {
        let project = self.project()?;
        let root = crate::contained::resolve(&project.root)?;
        let dir = crate::paths::data_dir(self.sys.as_ref()).join("locks");
        let name = format!(
            "project-{}.lock",
            crate::hash::short(root.to_string_lossy().as_bytes(), 12)
        );
        x.lock(&dir.join(name))
    }

    /// The docker CLI for the profile's context, which exists and answers: a missing context or a
    /// stopped engine is refused here, for every command alike, with its fix (exit 2: nothing was
    /// changed) — never docker's raw "context not found". Only `up` (which creates a context from `docker.host`) and `doctor`
    /// (which reports it) take [`Ctx::docker_as_is`].
    pub fn docker(&self, profile: &Profile) -> anyhow::Result<Docker<'_>> {
        let d = self.docker_as_is(profile)?;
        let name = &profile.file.docker.context;
        if self.contexts_seen.lock().unwrap().contains(name) {
            return Ok(d);
        }
        match crate::swarm::target::context_state(&d, profile).map_err(super::unchanged)? {
            crate::swarm::target::ContextState::Exists => {
                // and its engine answers: a stopped engine is said with its fix, the same way
                d.info().map_err(super::unchanged)?;
                self.contexts_seen.lock().unwrap().insert(name.clone());
                Ok(d)
            }
            crate::swarm::target::ContextState::Create(host) => Err(UserError::new(format!(
                "the docker context `{name}` of profile {} does not exist yet",
                profile.name
            ))
            .hint(format!(
                "`devenv up {}` creates it from docker.host ({host})",
                profile.name
            ))
            .code(crate::error::EXIT_CONFIG)
            .into()),
        }
    }

    /// The docker CLI for the profile's context, whether or not the context exists.
    pub fn docker_as_is(&self, profile: &Profile) -> anyhow::Result<Docker<'_>> {
        let d = Docker::new(self.sys.as_ref(), &profile.file.docker.context)?
            .declaring_host(profile.file.docker.host.as_deref());
        let shared = self.shared_ssh(&d, profile);
        Ok(d.sharing(shared))
    }
}

//! `devenv up [PROFILE]`: make this machine and the profile's swarm run the stack. [`plan`]
//! checks everything before anything changes — the render, the secrets, docker
//! through the profile's context, the target guard, the swarm's nodes, ports, images, build
//! contexts — and mints in memory what `up` creates (the CA and leaf, `generate:` secrets, the
//! secret-name salt), so the plan names every object the deploy will use. [`apply`] then builds,
//! changes the machine (context, certificates, hosts entries, DNS, swarm init), deploys, watches,
//! probes and records — through the executor — and a failure after a machine change says what
//! it left and how to undo it.

use crate::swarm::docker::Apply;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::Ctx;
use crate::certs::issue::{self, CertPlan, Reissue};
use crate::error::UserError;
use crate::exec::{Applied, Executor};
use crate::hosts::sync::{SyncPlan, Want};
use crate::profile::{Profile, Project, Tls};
use crate::render::{Rendered, SecretInput};
use crate::stack::Stack;
use crate::state::{DeployRecord, State};
use crate::swarm::build::BuildStep;
use crate::swarm::converge::{self, Outcome, Report};
use crate::swarm::docker::Docker;
use crate::swarm::guard::{self, Purpose, Target};
use crate::swarm::objects::NewObject;
use crate::swarm::ports::PortState;
use crate::swarm::target::ContextState;
use crate::swarm::{build, deploy, objects};

#[derive(Debug, Clone)]
pub struct Options {
    pub timeout: Duration,
    pub max_failures: usize,
    /// Accept that the profile's swarm was re-created (records the new cluster id).
    pub new_cluster: bool,
    /// Roll back the services that fail to update.
    pub rollback: bool,
}

/// What the deploy does on the target.
#[derive(Debug, Clone)]
pub enum Deploy {
    /// Nothing changed since the last deploy, and every service runs: nothing is redeployed.
    Unchanged,
    Apply {
        objects: Vec<NewObject>,
        file: PathBuf,
        yaml: String,
        args: Vec<String>,
    },
}

/// Everything `up` will do, decided before anything changes.
pub struct UpPlan {
    pub project: Project,
    pub profile: Profile,
    pub options: Options,
    pub rendered: Rendered,
    /// The stack as docker gets it (built services at their tags).
    pub stack: serde_yaml_ng::Mapping,
    pub secrets: Vec<SecretInput>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// The notes said on this profile's last run (keys), said again only with `-v`.
    pub seen_notes: Vec<String>,
    /// `None`: the first deploy of this profile from this machine.
    pub changes: Option<Vec<String>>,
    pub create_context: Option<String>,
    pub certs: Option<CertPlan>,
    pub new_files: Vec<super::NewFile>,
    pub hosts: Option<SyncPlan>,
    pub target: Target,
    pub endpoint: String,
    pub builds: Vec<BuildStep>,
    /// Images to pull before the deploy (on this machine's engine, not present yet).
    pub pulls: Vec<String>,
    /// Built tags to push (registry profiles): service → tag.
    pub push: BTreeMap<String, String>,
    /// The stack's external networks this machine's swarm lacks (created before the deploy).
    pub networks: Vec<String>,
    pub deploy: Deploy,
    /// For a remote target: what changes there, service by service (secret values masked).
    pub remote_changes: Vec<String>,
    /// The tasks due after this deploy (as far as the plan can tell: images not built yet count
    /// as changed).
    pub tasks: Vec<super::tasks::Due>,
    pub state: State,
    /// The engine's ids of the stack's images when planned (still true after an unchanged
    /// deploy, which builds and pulls nothing).
    pub image_ids: BTreeMap<String, String>,
}

impl UpPlan {
    /// The profile runs on a remote swarm: `up` asks before it changes anything there.
    pub fn remote(&self) -> bool {
        !self.profile.on_this_machine()
    }

    pub fn services(&self) -> Vec<String> {
        self.rendered.service_names()
    }
}

/// Reads everything and decides; changes nothing. In phases, each its own function: what `up`
/// mints and renders ([`render_phase`]); the target, read only ([`target_phase`]) and whether the
/// stack fits it ([`check_fits`]); the images to build, pull and push ([`images_phase`]); the
/// external networks ([`networks_phase`]); the machine's hosts entries and the probes' names
/// ([`check_probe_names`]); and the deploy itself ([`decide_deploy`]: unchanged, or what to
/// create and deploy).
pub fn plan(ctx: &Ctx, profile_arg: Option<&str>, options: Options) -> anyhow::Result<UpPlan> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, profile_arg)?;
    let state = State::load(&project.root)?;
    let seen_notes = state
        .notes_seen
        .get(&profile.name)
        .cloned()
        .unwrap_or_default();
    let mut notes = Vec::new();

    let r = render_phase(ctx, &project, &profile)?;
    let Rendering {
        certs,
        new_files,
        mut secrets,
        rendered,
        warnings,
    } = r;
    notes.extend(rendered.notes.iter().cloned());
    secrets.extend(rendered.file_secrets.iter().cloned());

    let (docker, create_context, target) = target_phase(ctx, &profile, &state, &options)?;
    if profile.on_this_machine() && ctx.engine_ipvs(&profile).is_some_and(|s| !s.available()) {
        notes.push(
            "this kernel has no IPVS: the routing mesh and service VIPs cannot work here, so ports are published \
             in host mode and services are found by DNS round-robin"
                .into(),
        );
    }
    if profile.file.ipv6 && !ctx.maps_ipv6(&profile) && !profile.file.hosts.is_empty() {
        notes.push(
            "the names are mapped to 127.0.0.1 only, not ::1: swarm's ingress answers on IPv4 only on this engine (dockerd holds the IPv6 side and never answers there)"
                .into(),
        );
    }
    check_fits(&docker, &profile, &target, &rendered)?;
    let stack_name = rendered.stack_name.clone();

    let images = images_phase(&docker, &project, &profile, &rendered)?;
    let networks = networks_phase(&docker, &profile, &target, &rendered, &mut notes)?;

    // the machine: hosts entries follow the profile (or an explicit --hosts-file)
    let hosts = if !profile.file.hosts.is_empty()
        || ctx.g.hosts_file.is_some()
        || hosts_block_exists(ctx, &project)
    {
        let mut plan = super::hosts::plan(ctx, &project, &profile, Want::Match)?;
        // why the hosts file is left alone is a note like the others: said once per profile
        notes.append(&mut plan.info);
        Some(plan)
    } else {
        None
    };
    check_probe_names(ctx, &project, &profile, &rendered)?;

    let file = deploy_file(&project, &profile);
    let changes = summarize_changes(
        &project.root,
        &file,
        &rendered.view,
        &images,
        state.deployed.get(&profile.name),
    );
    let deploy = decide_deploy(
        &docker, &project, &profile, &state, &target, &rendered, &secrets, &images, file,
    )?;
    let remote_changes = if !profile.on_this_machine() && !target.needs_init {
        crate::swarm::target::running_diff(
            &docker,
            &stack_name,
            &Stack::from_mapping(&images.stack),
        )?
    } else {
        Vec::new()
    };
    let endpoint = match &create_context {
        Some(h) => h.clone(),
        None => crate::swarm::target::endpoint(&docker, &profile.file.docker.context),
    };
    let tasks = super::tasks::due(
        &project,
        &profile.name,
        &state,
        &target.cluster_id,
        &task_images(&images.stack, &images.tags, &images.ids),
    );
    Ok(UpPlan {
        project,
        profile,
        options,
        rendered,
        stack: images.stack,
        secrets,
        warnings,
        notes,
        seen_notes,
        changes,
        create_context,
        certs,
        new_files,
        hosts,
        target,
        endpoint,
        builds: images.builds,
        pulls: images.pulls,
        push: images.push,
        networks,
        deploy,
        remote_changes,
        tasks,
        state,
        image_ids: images.ids,
    })
}

/// What `up` mints and renders: the certificates, `generate:` secrets and the salt of secret
/// names (in memory), then the stack with them.
struct Rendering {
    certs: Option<CertPlan>,
    new_files: Vec<super::NewFile>,
    secrets: Vec<SecretInput>,
    rendered: Rendered,
    warnings: Vec<String>,
}

fn render_phase(ctx: &Ctx, project: &Project, profile: &Profile) -> anyhow::Result<Rendering> {
    let certs = issue::plan(ctx.sys.as_ref(), project, profile, Reissue::IfNeeded)?;
    let super::Minted {
        salt,
        new_files,
        mut secrets,
    } = super::mint(ctx.sys.as_ref(), project, profile);
    if let Some((crt, key)) = certs.as_ref().and_then(CertPlan::secret_values) {
        super::set_secret(&mut secrets, "tls_cert", crt);
        super::set_secret(&mut secrets, "tls_key", key);
    }
    let rendered = {
        let mut facts = ctx.facts(project, profile);
        // the CA this run signs the leaf with (one it creates too)
        if let Some(c) = &certs {
            facts.ca_pem = Some(c.ca.cert_pem.clone());
        }
        crate::render::render(project, profile, facts, &secrets, &salt)?
    };
    let warnings: Vec<String> = rendered
        .warnings
        .iter()
        .filter(|w| !w.starts_with("secret `"))
        .cloned()
        .collect();
    check_secrets(profile, &rendered)?;
    super::tasks::check(project, &rendered)?;
    Ok(Rendering {
        certs,
        new_files,
        secrets,
        rendered,
        warnings,
    })
}

/// The target, read only: docker through the profile's context (or its `docker.host` until
/// the context exists), and the guard (the swarm this profile deploys to, and only it).
fn target_phase<'c>(
    ctx: &'c Ctx,
    profile: &Profile,
    state: &State,
    options: &Options,
) -> anyhow::Result<(Docker<'c>, Option<String>, Target)> {
    let docker = ctx.docker_as_is(profile)?;
    let create_context = match crate::swarm::target::context_state(&docker, profile)? {
        ContextState::Exists => None,
        ContextState::Create(host) => Some(host),
    };
    let docker = match &create_context {
        Some(h) => docker.through_host(h),
        None => docker,
    };
    let target = guard::check(
        &docker,
        profile,
        state,
        Purpose::Deploy,
        options.new_cluster,
    )?;
    Ok((docker, create_context, target))
}

/// The stack fits the target: on one node, what one node can run; on many, placements some node
/// satisfies; on this machine, ports nobody else holds.
fn check_fits(
    docker: &Docker<'_>,
    profile: &Profile,
    target: &Target,
    rendered: &Rendered,
) -> anyhow::Result<()> {
    let nodes = if target.needs_init {
        1
    } else {
        target.info.swarm.nodes
    };
    if nodes <= 1 {
        let problems = rendered.view.single_node_problems();
        if !problems.is_empty() {
            return Err(UserError::usage(format!(
                "this stack cannot run on a single-node swarm:\n  - {}",
                problems.join("\n  - ")
            ))
            .hint(format!(
                "change it in {} (nothing was changed)",
                crate::error::display_path(&profile.path)
            ))
            .into());
        }
    } else {
        let problems = crate::swarm::target::unplaceable(
            &rendered.view,
            &crate::swarm::target::nodes(docker)?,
        );
        if !problems.is_empty() {
            return Err(UserError::usage(format!(
                "these services could never be scheduled:\n  - {}",
                problems.join("\n  - ")
            ))
            .hint("fix the placement constraints (or the node labels: `docker node update --label-add KEY=VALUE NODE`); nothing was changed")
            .into());
        }
    }
    if profile.on_this_machine() && docker.sys.platform().os == crate::platform::Os::Windows {
        // ports Windows refuses though nothing listens (winnat's ranges), or holds for a service
        let windows = crate::swarm::ports::WindowsPorts::read(docker.sys);
        let mut ports: Vec<(u64, &str)> = rendered
            .view
            .published_ports()
            .into_iter()
            .map(|p| (p, "the stack publishes"))
            .collect();
        if target.needs_init {
            ports.push((2377, "`docker swarm init` needs for the swarm's managers"));
        }
        for (port, why) in ports {
            if let Some(b) = u16::try_from(port).ok().and_then(|p| windows.blocker(p)) {
                return Err(UserError::usage(format!(
                    "port {port}, which {why}, cannot be used on this machine: {}",
                    b.cause
                ))
                .hint(format!(
                    "{}; or publish another port in {}; nothing was changed",
                    b.fix,
                    crate::error::display_path(&profile.path)
                ))
                .into());
            }
        }
    }
    if profile.on_this_machine() {
        for port in rendered.view.published_ports() {
            let mut state = crate::swarm::ports::state(docker, &rendered.stack_name, port);
            // a stack just removed: dockerd lets go of its ingress ports a moment after
            // `docker stack rm` returns, with no container or service left to name
            let ingress = rendered.view.services.iter().any(|s| {
                s.ports
                    .iter()
                    .any(|p| p.published == Some(port) && p.mode == crate::stack::PortMode::Ingress)
            });
            let start = std::time::Instant::now();
            while ingress
                && matches!(&state, PortState::Other(w) if w == "another program")
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(500));
                state = crate::swarm::ports::state(docker, &rendered.stack_name, port);
            }
            if let PortState::Other(who) = state {
                return Err(UserError::usage(format!(
                    "port {port}, which the stack publishes, is in use by {who}"
                ))
                .hint(format!(
                    "stop it (`sudo ss -ltnp 'sport = :{port}'` shows which program), or publish another port in {}; nothing was changed",
                    crate::error::display_path(&profile.path)
                ))
                .into());
            }
        }
    }
    Ok(())
}

/// The images of the deploy: what to build (tags from the sources' hash), pull and push, and the
/// stack file that names them.
struct Images {
    builds: Vec<BuildStep>,
    tags: BTreeMap<String, String>,
    stack: serde_yaml_ng::Mapping,
    yaml: String,
    ids: BTreeMap<String, String>,
    pulls: Vec<String>,
    push: BTreeMap<String, String>,
}

fn images_phase(
    docker: &Docker<'_>,
    project: &Project,
    profile: &Profile,
    rendered: &Rendered,
) -> anyhow::Result<Images> {
    let builds = build::plan(docker, project, rendered)?;
    let tags: BTreeMap<String, String> = builds
        .iter()
        .map(|b| (b.service.clone(), b.tag.clone()))
        .collect();
    let stack = deploy::deployable(rendered, &tags);
    let yaml = crate::render::stack::to_yaml(&stack);
    let images: Vec<String> = deploy::images(&stack).into_values().collect();
    let built: Vec<&String> = tags.values().collect();
    let ids = deploy::image_ids(docker, &images)?;
    let pulls: Vec<String> = if profile.on_this_machine() && profile.file.registry.is_none() {
        // base images of the builds first: an unreachable registry is named before a build fails
        let mut v: Vec<String> = builds
            .iter()
            .flat_map(|b| b.missing_bases.iter().cloned())
            .collect();
        v.extend(
            images
                .iter()
                .filter(|i| !built.contains(i) && !ids.contains_key(*i))
                .cloned(),
        );
        v.sort();
        v.dedup();
        v
    } else {
        Vec::new()
    };
    let push = if profile.file.registry.is_some() {
        tags.clone()
    } else {
        BTreeMap::new()
    };
    Ok(Images {
        builds,
        tags,
        stack,
        yaml,
        ids,
        pulls,
        push,
    })
}

/// External networks: made on this machine's swarm, expected on a server's.
fn networks_phase(
    docker: &Docker<'_>,
    profile: &Profile,
    target: &Target,
    rendered: &Rendered,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let networks: Vec<String> = if target.needs_init {
        rendered
            .view
            .networks
            .iter()
            .filter(|(_, d)| {
                d.get("external")
                    .is_some_and(|e| e.as_bool() != Some(false))
            })
            .map(|(k, d)| {
                d.get("name")
                    .and_then(serde_yaml_ng::Value::as_str)
                    .unwrap_or(k)
                    .to_string()
            })
            .collect()
    } else {
        objects::missing_networks(docker, &rendered.view)?
    };
    if !networks.is_empty() && !profile.on_this_machine() {
        return Err(UserError::usage(format!(
            "the stack expects the external network{} {}, which the swarm of context `{}` does not have",
            if networks.len() > 1 { "s" } else { "" },
            networks.join(", "),
            profile.file.docker.context
        ))
        .hint(format!(
            "create it there (`docker --context {} network create --driver overlay --attachable {}`); nothing was changed",
            profile.file.docker.context, networks[0]
        ))
        .into());
    }
    for n in &networks {
        notes.push(format!(
            "the stack's external network {n} does not exist on this machine: devenv creates it (overlay, attachable)"
        ));
    }
    Ok(networks)
}

/// Every probe's name resolves here, or is one the hosts step maps.
fn check_probe_names(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    rendered: &Rendered,
) -> anyhow::Result<()> {
    if matches!(profile.file.tls, Tls::Files(_)) {
        return Ok(());
    }
    let mapped: Vec<String> = crate::hosts::names_for(profile).unwrap_or_default();
    for (url, _) in probe_urls(project, profile, rendered)? {
        let Ok(t) = crate::probe::parse_url(&url) else {
            continue;
        };
        let host = t.host.to_lowercase();
        if mapped.contains(&host)
            || crate::probe::is_localhost(&host)
            || host.parse::<std::net::IpAddr>().is_ok()
        {
            continue;
        }
        if let Err(why) = ctx.sys.resolve(&host) {
            return Err(UserError::usage(format!(
                "the probe {url} names {host}, which does not resolve on this machine ({why}) and is not one of the names profile {} maps to this machine",
                profile.name
            ))
            .hint(format!(
                "add {host} to `hosts:` in {} (devenv maps it to 127.0.0.1), or fix the probe's URL in devenv.yaml; nothing was changed",
                crate::error::display_path(&profile.path)
            ))
            .into());
        }
    }
    Ok(())
}

/// The no-op decision: nothing is deployed when every image is present, the swarm is the one of
/// the last deploy, the stack file (with its images' ids) hashes as it did, and every service
/// runs. Otherwise the objects to create and the stack file to deploy.
#[allow(clippy::too_many_arguments)]
fn decide_deploy(
    docker: &Docker<'_>,
    project: &Project,
    profile: &Profile,
    state: &State,
    target: &Target,
    rendered: &Rendered,
    secrets: &[SecretInput],
    images: &Images,
    file: PathBuf,
) -> anyhow::Result<Deploy> {
    let previous = state.deployed.get(&profile.name);
    let all_present = images.builds.iter().all(|b| b.built) && images.pulls.is_empty();
    let unchanged = all_present
        && !target.needs_init
        && previous.is_some_and(|p| {
            p.stack_hash == deploy::deploy_hash(&images.yaml, &images.ids)
                && p.context == profile.file.docker.context
                && p.cluster_id.as_deref() == Some(target.cluster_id.as_str())
        })
        && converged_now(docker, &rendered.stack_name, &rendered.service_names())?;
    if unchanged {
        return Ok(Deploy::Unchanged);
    }
    let objects = if target.needs_init {
        all_objects(rendered, secrets)?
    } else {
        objects::missing(docker, project.name(), rendered, secrets)?
    };
    Ok(Deploy::Apply {
        objects,
        args: deploy::deploy_args(&file, &rendered.stack_name, profile.file.registry.is_some()),
        file,
        yaml: images.yaml.clone(),
    })
}

/// What a task's "image changed" compares, per service: a built image's content-hash tag (exact
/// and stable), else the image's id on the engine where known, else its reference.
fn task_images(
    stack: &serde_yaml_ng::Mapping,
    tags: &BTreeMap<String, String>,
    ids: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut v = super::tasks::service_images(stack, ids);
    for (svc, tag) in tags {
        v.insert(svc.clone(), tag.clone());
    }
    v
}

/// Every config and secret of `r` (an engine in no swarm yet has none).
fn all_objects(r: &Rendered, secrets: &[SecretInput]) -> anyhow::Result<Vec<NewObject>> {
    let mut out: Vec<NewObject> = r
        .configs
        .iter()
        .map(|c| NewObject {
            kind: "config",
            name: c.object_name.clone(),
            stack: r.stack_name.clone(),
            profile: r.profile.clone(),
            data: c.content.as_bytes().to_vec(),
        })
        .collect();
    for s in &r.secrets {
        let Some(Ok(v)) = secrets.iter().find(|i| i.key == s.key).map(|i| &i.value) else {
            anyhow::bail!("secret `{}` has no value", s.key);
        };
        out.push(NewObject {
            kind: "secret",
            name: s.object_name.clone(),
            stack: r.stack_name.clone(),
            profile: r.profile.clone(),
            data: v.clone(),
        });
    }
    Ok(out)
}

/// Every secret has its value before anything is deployed (what `up` mints is in the plan).
fn check_secrets(profile: &Profile, r: &Rendered) -> anyhow::Result<()> {
    for s in &r.secrets {
        let Some(why) = &s.unavailable else { continue };
        let hint = if s.origin.starts_with('$') {
            format!(
                "export {} in this shell (it is never written anywhere by devenv)",
                s.origin.trim_start_matches('$')
            )
        } else if s.key.starts_with("tls_") {
            format!(
                "the profile's TLS files: see `tls:` in {}",
                crate::error::display_path(&profile.path)
            )
        } else {
            format!(
                "create it, or change `secrets.{}` in {}",
                s.key,
                crate::error::display_path(&profile.path)
            )
        };
        return Err(profile
            .error_at(
                &format!("{}:", s.key.trim_start_matches("tls_")),
                format!("secret `{}`: {why}", s.key),
            )
            .hint(hint)
            .into());
    }
    Ok(())
}

/// Whether the project's block is in a managed hosts file (then `up` keeps it in step).
fn hosts_block_exists(ctx: &Ctx, project: &Project) -> bool {
    ctx.hosts_targets().iter().any(|p| {
        crate::hosts::write::read(p).ok().is_some_and(|b| {
            crate::hosts::block::projects(&b)
                .iter()
                .any(|x| x == project.name())
        })
    })
}

pub fn deploy_file(project: &Project, profile: &Profile) -> PathBuf {
    crate::state::dir(&project.root)
        .join("deploy")
        .join(format!("{}.yml", profile.name))
}

/// Services added, removed or changed since the last deploy (what in them); `None` when this
/// profile was never deployed from this machine.
fn summarize_changes(
    root: &std::path::Path,
    file: &std::path::Path,
    now: &Stack,
    images: &Images,
    previous: Option<&DeployRecord>,
) -> Option<Vec<String>> {
    let prev = crate::contained::Scope::project(root)
        .read_string(file, crate::render::MAX_OUTPUT_BYTES as u64)
        .ok()?;
    let prev: serde_yaml_ng::Mapping = match crate::yaml::parse(&prev).ok()? {
        serde_yaml_ng::Value::Mapping(m) => m,
        _ => return None,
    };
    let before = Stack::from_mapping(&prev);
    let object_changed = |kind: crate::stack::Kind, key: &str| -> bool {
        let table = |s: &Stack| match kind {
            crate::stack::Kind::Config => s.configs.get(key).cloned(),
            crate::stack::Kind::Secret => s.secrets.get(key).cloned(),
        };
        table(&before).is_some_and(|o| Some(o) != table(now))
    };
    let mut lines = Vec::new();
    for svc in &now.services {
        let Some(old) = before.service(&svc.name) else {
            lines.push(format!("+ {}", svc.name));
            continue;
        };
        let (a, b) = (old.flat(), svc.flat());
        let mut keys: Vec<String> = b
            .keys()
            .chain(a.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .filter_map(|k| k.split('.').next().map(String::from))
            .filter(|k| k != "build" && k != "image")
            .collect();
        keys.sort();
        keys.dedup();
        // a config or secret whose content (hence object name) changed
        for c in &svc.configs {
            if object_changed(crate::stack::Kind::Config, &c.source) {
                keys.push(format!("config {}", c.source));
            }
        }
        for s in &svc.secrets {
            if object_changed(crate::stack::Kind::Secret, &s.source) {
                keys.push(format!("secret {}", s.source));
            }
        }
        // configs and secrets are named by content: their changes are said above
        keys.retain(|k| k != "configs" && k != "secrets");
        // the image: another reference, the same one now naming another image (a pull, a
        // `docker build` by hand), or a build of changed sources
        let deployable = |s: &Stack| s.service(&svc.name).and_then(|x| x.image.clone());
        let (was, will) = (
            old.image.clone(),
            deployable(&Stack::from_mapping(&images.stack)),
        );
        let new_id = |r: &String| {
            previous
                .and_then(|p| p.images.get(r))
                .is_some_and(|id| images.ids.get(r).is_some_and(|now| now != id))
        };
        let rebuilt = images
            .builds
            .iter()
            .any(|b| b.service == svc.name && !b.built);
        if was != will || will.as_ref().is_some_and(new_id) || rebuilt {
            keys.insert(0, "image".into());
        }
        if !keys.is_empty() {
            lines.push(format!("~ {} ({})", svc.name, keys.join(", ")));
        }
    }
    for old in &before.services {
        if now.service(&old.name).is_none() {
            lines.push(format!("- {}", old.name));
        }
    }
    Some(lines)
}

/// One look: are all services converged right now?
fn converged_now(docker: &Docker<'_>, stack: &str, services: &[String]) -> anyhow::Result<bool> {
    Ok(converge::look_now(docker, stack, services)?
        .iter()
        .all(|(state, _)| state.done))
}

/// The plan as `--dry-run` prints it: every step of SPEC §4 that would happen, in order.
pub fn describe(p: &UpPlan) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "plan for profile {} on context `{}`{}",
        p.profile.name,
        p.profile.file.docker.context,
        if p.endpoint.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.endpoint)
        }
    ));
    for n in &p.notes {
        line(format!("note: {n}"));
    }
    match &p.changes {
        None => line("first deploy of this profile from this machine".into()),
        Some(c) if c.is_empty() => line("the stack is as deployed last time".into()),
        Some(c) => line(format!("changes since the last deploy: {}", c.join("; "))),
    }
    for b in &p.builds {
        if b.built {
            line(format!("{}: {} is built already", b.service, b.tag));
        } else {
            line(format!(
                "would build {} → {} (`docker build {}`)",
                b.service,
                b.tag,
                b.context.display()
            ));
        }
    }
    for i in &p.pulls {
        line(format!("would pull {i}"));
    }
    for t in p.push.values() {
        line(format!("would push {t}"));
    }
    if let Some(h) = &p.create_context {
        line(format!(
            "would create docker context `{}` for {h}",
            p.profile.file.docker.context
        ));
    }
    if let Some(c) = &p.certs {
        for l in c.describe() {
            line(l);
        }
    }
    for f in &p.new_files {
        line(format!("would write {} ({})", f.path.display(), f.what));
    }
    if let Some(h) = &p.hosts {
        for l in h.describe().lines() {
            line(l.to_string());
        }
    }
    if p.target.needs_init {
        line(format!(
            "would run: docker --context {} swarm init --advertise-addr 127.0.0.1",
            p.profile.file.docker.context
        ));
    }
    let ctx = &p.profile.file.docker.context;
    match &p.deploy {
        Deploy::Unchanged => line(
            "nothing changed since the last deploy: no docker call would change anything".into(),
        ),
        Deploy::Apply {
            objects,
            args,
            file,
            ..
        } => {
            for n in &p.networks {
                line(format!(
                    "would run: docker --context {ctx} network create --driver overlay --attachable {n}"
                ));
            }
            for o in objects {
                line(format!(
                    "would run: docker --context {ctx} {} create --label devenv.project={} {} - (value on stdin)",
                    o.kind,
                    p.project.name(),
                    o.name
                ));
            }
            line(format!("would write {}", file.display()));
            line(format!(
                "would run: docker --context {ctx} {}",
                args.iter()
                    .map(|a| crate::sys::shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
            line(format!(
                "then wait until {} are ready",
                p.services().join(", ")
            ));
        }
    }
    for t in &p.tasks {
        line(format!(
            "would run task {} ({}) in {}: {}",
            t.name, t.why, t.service, t.command
        ));
    }
    line("then probe, remove unused configs and secrets, record the deploy".into());
    out
}

/// The summary of a remote target before a deploy there.
pub fn remote_summary(p: &UpPlan) -> String {
    let mut s = format!(
        "target: context `{}` ({}), swarm {}, {} node(s), stack {}\n",
        p.profile.file.docker.context,
        p.endpoint,
        p.target.cluster_id,
        p.target.info.swarm.nodes,
        p.rendered.stack_name
    );
    if p.remote_changes.is_empty() {
        s.push_str(
            "the services there already run this spec (configs, secrets and images are checked next)\n",
        );
    } else {
        s.push_str("what changes there (secret values masked):\n");
        for c in &p.remote_changes {
            s.push_str(&format!("  {c}\n"));
        }
    }
    s
}

/// What `up` did.
#[derive(Debug, Clone, Serialize)]
pub struct UpReport {
    pub profile: String,
    pub stack: String,
    pub context: String,
    pub cluster_id: String,
    pub changed: bool,
    pub services: Vec<converge::ServiceState>,
    pub ready_after_ms: Option<u64>,
    pub probes: Vec<ProbeResult>,
    /// The tasks this run ran (all succeeded: a failed one fails `up`).
    pub tasks: Vec<TaskRun>,
    /// The site's web addresses (what answers HTTP or HTTPS, checked).
    pub urls: Vec<String>,
    /// Every published port and what it serves.
    pub endpoints: Vec<super::Endpoint>,
    pub applied: Vec<Applied>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRun {
    pub name: String,
    pub why: String,
    pub exit_code: i32,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub url: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// Carries out the plan. A failure after a machine change records what was applied (the
/// profile becomes the active one) and says what was left and how to undo it.
pub fn apply(ctx: &Ctx, x: &mut Executor<'_>, plan: UpPlan) -> anyhow::Result<UpReport> {
    let started = std::time::Instant::now();
    let mut state = plan.state.clone();
    let result = apply_steps(ctx, x, &plan, &mut state, started);
    if result.is_err() && !x.applied().is_empty() {
        // what was applied is recorded whatever failed after it
        state.active_profile = Some(plan.profile.name.clone());
        let _ = super::save_state(x, &plan.project, &state);
    }
    result.map_err(|e| left_in_place(e, x.applied()))
}

fn left_in_place(e: anyhow::Error, applied: &[Applied]) -> anyhow::Error {
    if applied.is_empty() {
        return e;
    }
    let mut lines = vec!["what this run changed stays in place:".to_string()];
    for a in applied {
        lines.push(match &a.undo {
            Some(u) => format!("  {} (undo: `{u}`)", a.what),
            None => format!("  {}", a.what),
        });
    }
    e.context(crate::error::LeftInPlace(lines.join("\n")))
}

fn apply_steps(
    ctx: &Ctx,
    x: &mut Executor<'_>,
    plan: &UpPlan,
    state: &mut State,
    started: std::time::Instant,
) -> anyhow::Result<UpReport> {
    let (project, profile) = (&plan.project, &plan.profile);
    let base = ctx.docker_as_is(profile)?;
    let docker = match &plan.create_context {
        Some(h) => ctx.docker_as_is(profile)?.through_host(h),
        None => ctx.docker_as_is(profile)?,
    };
    for w in &plan.warnings {
        crate::ui::warn(w);
    }
    // images first: the likeliest failure, before any machine change (base images and the
    // stack's images pulled, then the builds)
    for i in &plan.pulls {
        pull(x, &docker, i, &plan.pulls)?;
    }
    build::build(x, &docker, &plan.builds, ctx.g.quiet)?;
    if !plan.push.is_empty() {
        build::push(x, &docker, &plan.push)?;
    }
    // this machine
    if let Some(h) = &plan.create_context {
        crate::swarm::target::create_context(x, &base, profile, h)?;
    }
    let docker = base;
    if let Some(c) = &plan.certs {
        issue::apply(x, c).map_err(|e| match e.downcast_ref::<issue::Stale>() {
            Some(s) => {
                UserError::new(format!("{s}; nothing was deployed: run `devenv up` again")).into()
            }
            None => e,
        })?;
    }
    super::write_minted(x, project, &plan.new_files)?;
    if let Some(h) = &plan.hosts {
        super::hosts::apply(ctx, x, project, profile, h.clone())?;
    }
    let mut cluster_id = plan.target.cluster_id.clone();
    let mut nodes = plan.target.info.swarm.nodes;
    if plan.target.needs_init {
        let info = guard::init(x, &docker)?;
        cluster_id = info.swarm.cluster_id().unwrap_or_default().to_string();
        nodes = info.swarm.nodes;
    }
    // the deploy
    let services = plan.services();
    let stack_name = plan.rendered.stack_name.clone();
    let report = match &plan.deploy {
        Deploy::Unchanged => {
            crate::ui::ok(&format!(
                "nothing changed since the last deploy; all {} services are running",
                services.len()
            ));
            None
        }
        Deploy::Apply {
            objects: objs,
            file,
            yaml,
            ..
        } => {
            crate::ui::step(&format!(
                "deploying stack {stack_name} to context `{}`",
                profile.file.docker.context
            ));
            for n in &plan.networks {
                objects::create_network(x, &docker, project.name(), n)?;
                x.record(
                    format!("network {n}"),
                    Some(format!("docker network rm {n}")),
                );
            }
            for o in objs {
                objects::create(x, &docker, project.name(), o)?;
            }
            if let Some(d) = file.parent() {
                x.create_dir_all(d)?;
            }
            x.write(file, yaml.as_bytes(), None)?;
            x.write_output(
                &crate::state::rendered_dir(&project.root, &profile.name),
                &plan.rendered.files(),
                crate::fsutil::OutputDir::Own,
            )?;
            let since = SystemTime::now();
            deploy::stack_deploy(
                x,
                &docker,
                file,
                &stack_name,
                profile.file.registry.is_some(),
                Duration::from_secs(60),
            )?;
            x.record(
                format!(
                    "stack {stack_name} on context `{}`",
                    profile.file.docker.context
                ),
                Some(ctx.again(project, "down")),
            );
            let opts = converge::Options {
                timeout: plan.options.timeout,
                max_failures: plan.options.max_failures,
                progress: !ctx.g.quiet && !ctx.g.json,
                single_node: nodes <= 1,
                ..Default::default()
            };
            let r = converge::watch(
                &docker,
                &mut |svc| converge::force_update(x, &docker, svc),
                &stack_name,
                &services,
                since,
                &opts,
            )?;
            if r.outcome != Outcome::Ready {
                if plan.options.rollback {
                    deploy::rollback_unfinished(x, &docker, &stack_name, &r)?;
                }
                state
                    .cluster_ids
                    .entry(profile.name.clone())
                    .or_insert(cluster_id.clone());
                return Err(failure(&r, &stack_name));
            }
            Some(r)
        }
    };

    // the tasks due after this deploy, in the file's order (an unchanged deploy built and
    // pulled nothing: the ids the plan read hold)
    let unchanged = matches!(plan.deploy, Deploy::Unchanged);
    let ids = if unchanged {
        plan.image_ids.clone()
    } else {
        deploy::image_ids(
            &docker,
            &deploy::images(&plan.stack)
                .into_values()
                .collect::<Vec<_>>(),
        )?
    };
    let tags: BTreeMap<String, String> = plan
        .builds
        .iter()
        .map(|b| (b.service.clone(), b.tag.clone()))
        .collect();
    let due = super::tasks::due(
        project,
        &profile.name,
        state,
        &cluster_id,
        &task_images(&plan.stack, &tags, &ids),
    );
    let mut task_runs = Vec::new();
    for d in &due {
        crate::ui::step(&format!(
            "task {} ({}) in {}: {}",
            d.name, d.why, d.service, d.command
        ));
        let t0 = std::time::Instant::now();
        let o = super::tasks::run_one(
            x,
            &docker,
            &stack_name,
            &d.name,
            &d.task,
            &[],
            profile.file.registry.is_some(),
            ctx.g.quiet || ctx.g.json,
        )?;
        let now = super::now_rfc3339(ctx.sys.as_ref());
        super::tasks::record(
            state,
            &profile.name,
            &d.name,
            &o,
            &cluster_id,
            &d.image,
            &now,
        );
        if o.exit != Some(0) {
            state
                .cluster_ids
                .entry(profile.name.clone())
                .or_insert(cluster_id.clone());
            x.record(
                format!("task {} ran and failed", d.name),
                Some(ctx.again(project, &format!("run {}", d.name))),
            );
            return Err(super::tasks::failure(&d.name, &d.task, &o));
        }
        crate::ui::ok(&format!(
            "task {} done ({:.1}s)",
            d.name,
            t0.elapsed().as_secs_f64()
        ));
        task_runs.push(TaskRun {
            name: d.name.clone(),
            why: d.why.clone(),
            exit_code: 0,
            elapsed_ms: t0.elapsed().as_millis() as u64,
        });
    }

    // readiness through the proxy, as a browser would reach it
    let probes = run_probes(ctx, project, profile, &plan.rendered)?;

    // what is no longer referenced goes
    let keep: Vec<String> = plan
        .rendered
        .configs
        .iter()
        .map(|c| c.object_name.clone())
        .chain(plan.rendered.secrets.iter().map(|s| s.object_name.clone()))
        .collect();
    // (an unchanged deploy created nothing, and the last deploy removed what it left unused)
    let unused = if unchanged {
        Vec::new()
    } else {
        objects::unused(&docker, project.name(), &stack_name, &keep)?
    };
    let removed = objects::remove(x, &docker, &unused)?;
    if !removed.is_empty() {
        crate::ui::debug(&format!(
            "removed unused configs/secrets: {}",
            removed.join(", ")
        ));
    }

    // record
    let yaml = crate::render::stack::to_yaml(&plan.stack);
    state.active_profile = Some(profile.name.clone());
    super::remember_notes(state, &profile.name, &plan.notes);
    if profile.file.docker.cluster_id.is_none() {
        state
            .cluster_ids
            .insert(profile.name.clone(), cluster_id.clone());
    }
    if report.is_some() || !state.deployed.contains_key(&profile.name) {
        state.deployed.insert(
            profile.name.clone(),
            DeployRecord {
                stack_hash: deploy::deploy_hash(&yaml, &ids),
                stack_name: stack_name.clone(),
                context: profile.file.docker.context.clone(),
                cluster_id: Some(cluster_id.clone()),
                images: ids,
                configs: plan
                    .rendered
                    .configs
                    .iter()
                    .map(|c| c.object_name.clone())
                    .collect(),
                secrets: plan
                    .rendered
                    .secrets
                    .iter()
                    .map(|s| s.object_name.clone())
                    .collect(),
                at: super::now_rfc3339(ctx.sys.as_ref()),
            },
        );
    }
    super::save_state(x, project, state)?;
    let failed: Vec<&ProbeResult> = probes.iter().filter(|p| !p.ok).collect();
    if let Some(p) = failed.iter().find(|p| {
        p.error
            .as_deref()
            .is_some_and(|e| e.contains(" does not resolve"))
    }) {
        let host = crate::probe::parse_url(&p.url)
            .map(|t| t.host)
            .unwrap_or_default();
        let files: Vec<String> = ctx
            .hosts_targets()
            .iter()
            .map(|f| crate::error::display_path(f))
            .collect();
        let listed = files.iter().any(|f| {
            crate::hosts::write::read(std::path::Path::new(f))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&host))
        });
        return Err(UserError::new(format!(
            "the stack runs, but {}: {host} does not resolve on this machine",
            p.url
        ))
        .hint(if listed {
            format!(
                "{host} is in {}, yet the resolver does not answer it: check /etc/nsswitch.conf (`hosts: files dns`) or a DNS cache (`devenv doctor`)",
                files.join(", ")
            )
        } else {
            format!(
                "{host} is not in {}: `devenv hosts apply` adds the profile's names",
                files.join(", ")
            )
        })
        .into());
    }
    if !failed.is_empty() {
        let bad_gateway = failed.iter().any(|p| {
            p.error
                .as_deref()
                .is_some_and(|e| e.contains("answered 502") || e.contains("answered 504"))
        });
        let mut hint =
            "`devenv status` shows every service; `devenv logs SERVICE` their logs".to_string();
        if bad_gateway {
            hint.push_str(&format!(
                "\na 502 from a proxy: its upstream is not up, or {}; an nginx that names its upstream (`proxy_pass http://app:8000;`) keeps the address it found at start: `resolver 127.0.0.11 valid=5s; set $up http://app:8000; proxy_pass $up;` asks each time",
                if plan.rendered.host_mode {
                    "it moved (services are found by DNS round-robin here, so every update gives new addresses)"
                } else {
                    "it moved"
                }
            ));
        }
        return Err(UserError::new(format!(
            "the stack runs, but {} not ready:\n{}",
            if failed.len() == 1 {
                "this probe is"
            } else {
                "these probes are"
            },
            failed
                .iter()
                .map(|p| format!("  {}: {}", p.url, p.error.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        ))
        .hint(hint)
        .into());
    }
    let endpoints = super::endpoints(
        ctx.sys.as_ref(),
        profile,
        &Stack::from_mapping(&plan.stack),
        &ctx.lookup(project),
    );
    Ok(UpReport {
        profile: profile.name.clone(),
        stack: stack_name,
        context: profile.file.docker.context.clone(),
        cluster_id,
        changed: report.is_some(),
        services: report
            .as_ref()
            .map(|r| r.services.clone())
            .unwrap_or_default(),
        ready_after_ms: report.as_ref().map(|r| r.elapsed.as_millis() as u64),
        probes,
        tasks: task_runs,
        urls: super::web_urls(profile, &endpoints),
        endpoints,
        applied: x.applied().to_vec(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// `docker pull` of an image the deploy needs, naming the registry when it cannot be reached
/// and every image of `all` that needs it.
fn pull(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    image: &str,
    all: &[String],
) -> anyhow::Result<()> {
    crate::ui::step(&format!("pulling {image}"));
    let o = x.docker_raw(docker, ["pull", "-q", image])?;
    if o.ok() {
        return Ok(());
    }
    let registry = crate::swarm::advice::registry_of(image);
    let same: Vec<&str> = all
        .iter()
        .filter(|i| crate::swarm::advice::registry_of(i) == registry)
        .map(String::as_str)
        .collect();
    Err(crate::swarm::advice::pull_error_for(
        image,
        &same,
        &o.stderr_str(),
    ))
}

fn failure(r: &Report, stack: &str) -> anyhow::Error {
    let mut msg = match r.outcome {
        Outcome::TimedOut => format!(
            "the stack {stack} did not become ready within {:.0}s",
            r.elapsed.as_secs_f64()
        ),
        _ => format!("the stack {stack} failed to start"),
    };
    for s in &r.services {
        if let Some(f) = &s.fatal {
            msg.push_str(&format!("\n  {}: {f}", s.name));
        } else if r.outcome == Outcome::TimedOut && !s.done {
            msg.push_str(&format!(
                "\n  {}: {}/{} {}{}",
                s.name,
                s.running,
                s.desired,
                s.phase,
                s.error
                    .as_ref()
                    .map(|e| format!(" — {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    for (svc, log) in &r.logs {
        msg.push_str(&format!(
            "\n--- last log lines of {svc} ---\n{}",
            log.trim_end()
        ));
    }
    let e = match r.outcome {
        Outcome::TimedOut => UserError::timeout(msg),
        _ => UserError::new(msg),
    };
    e.hint("`devenv status` shows every task; `devenv logs SERVICE` the whole log")
        .into()
}

/// The probe URLs of a profile: devenv.yaml's `probes:`, rendered for the profile, or by default
/// the site's first name over HTTPS for a local-CA profile.
pub fn probe_urls(
    project: &Project,
    profile: &Profile,
    rendered: &Rendered,
) -> anyhow::Result<Vec<(String, Option<u16>)>> {
    let mut out: Vec<(String, Option<u16>)> = Vec::new();
    // devenv's TLS edge: each name it serves answers over HTTPS
    let edge: Vec<(String, Option<u16>)> = rendered
        .edge_names
        .iter()
        .map(|n| (format!("https://{n}/"), None))
        .collect();
    if project.file.probes.is_empty() {
        out.extend(edge);
        if profile.file.tls == Tls::LocalCa && out.is_empty() {
            for u in crate::render::urls(profile, &rendered.view)
                .into_iter()
                .take(1)
            {
                out.push((u, None));
            }
        }
        return Ok(out);
    }
    let env = crate::render::environment(&project.root, String::new());
    let ctx = minijinja::Value::from(minijinja::value::Serde(&crate::render::context(
        project, profile,
    )?));
    for p in &project.file.probes {
        if !p.profiles.is_empty() && !p.profiles.contains(&profile.name) {
            continue;
        }
        let url = env.render_str(&p.url, &ctx).map_err(|e| {
            crate::error::ConfigError::new(
                project.root.join(crate::profile::PROJECT_FILE),
                format!("probe url `{}`: {e}", p.url),
            )
        })?;
        out.push((url, p.status));
    }
    for e in edge {
        if !out.iter().any(|(u, _)| *u == e.0) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Runs the probes of local-CA and plain-HTTP profiles (a profile with its own TLS files is
/// probed by the browsers that trust them).
fn run_probes(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    rendered: &Rendered,
) -> anyhow::Result<Vec<ProbeResult>> {
    if matches!(profile.file.tls, Tls::Files(_)) {
        return Ok(Vec::new());
    }
    let list = probe_urls(project, profile, rendered)?;
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let ca = match profile.file.tls {
        Tls::LocalCa => {
            crate::certs::ca::Ca::load(&issue::caroot_for(ctx.sys.as_ref(), Some(project))?)?
                .map(|c| c.cert_pem)
        }
        _ => None,
    };
    let lookup = ctx.lookup(project);
    let mut out = Vec::new();
    for (url, expect) in list {
        match crate::probe::wait(
            &url,
            expect,
            ca.as_deref(),
            Duration::from_secs(60),
            &lookup,
        ) {
            Ok((code, t)) => {
                crate::ui::ok(&format!("{url} answers {code} ({:.1}s)", t.as_secs_f64()));
                out.push(ProbeResult {
                    url,
                    ok: true,
                    status: Some(code),
                    error: None,
                });
            }
            Err(e) => out.push(ProbeResult {
                url,
                ok: false,
                status: None,
                error: Some(e),
            }),
        }
    }
    Ok(out)
}

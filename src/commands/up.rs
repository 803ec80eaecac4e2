//! `devenv up [PROFILE]`: make this machine and the profile's swarm run the stack, in SPEC §4's
//! order — validate, render, show what changed, certificates, hosts, DNS, docker and the target
//! guard, swarm init, build, configs and secrets, deploy, watch, probe, URLs, clean up.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use serde_yaml_ng::{Mapping, Value};

use super::Ctx;
use crate::cli::UpArgs;
use crate::error::UserError;
use crate::profile::{Profile, Project, Tls};
use crate::render::Rendered;
use crate::state::{DeployRecord, State};
use crate::swarm::docker::Docker;
use crate::swarm::watch::{self, Outcome, Report};
use crate::swarm::{build, deploy, guard, objects};

pub fn run(ctx: &Ctx, a: UpArgs) -> anyhow::Result<i32> {
    let started = Instant::now();
    let project = ctx.project()?;
    let profile = ctx.profile(&project, a.profile.as_deref())?;

    // validate and render first: a broken profile or template, or a secret without a value,
    // changes nothing, not even .devenv/
    crate::ui::step(&format!(
        "rendering {} for {}",
        project.name(),
        profile.name
    ));
    let checked = ctx.render_readonly(&project, &profile)?;
    // what `up` makes itself (the local-CA leaf, `generate:` values) is checked once it exists
    check_secrets(&profile, &checked, true)?;
    let _lock = crate::state::lock_unless_dry_run(&project.root, ctx.g.dry_run)?;
    let mut state = State::load(&project.root)?;

    if profile.file.tls == Tls::LocalCa {
        super::certs::ensure_leaf(ctx, &project, &profile, false)?;
    }
    let rendered = ctx.render(&project, &profile)?;
    for w in rendered
        .warnings
        .iter()
        .filter(|w| !w.starts_with("secret `"))
    {
        crate::ui::warn(w);
    }
    check_secrets(&profile, &rendered, ctx.g.dry_run)?;
    summarize_changes(&project, &profile, &rendered);

    // this machine: hosts entries (only this step elevated) and DNS caches
    if !profile.file.hosts.is_empty()
        || ctx.g.hosts_file.is_some()
        || hosts_block_exists(ctx, &project)
    {
        super::hosts::sync(ctx, &project, &profile, super::hosts::Want::Match)?;
    }

    // the target
    let docker = Docker::new(
        ctx.sys.as_ref(),
        &profile.file.docker.context,
        ctx.g.dry_run,
    )?;
    crate::swarm::target::ensure_context(&docker, &profile)?;
    let target = guard::check(&docker, &profile, &state, true, a.new_cluster)?;
    if profile.file.docker.swarm && crate::swarm::ipvs_available() == Some(false) {
        crate::ui::info(
            "this kernel has no IPVS: the routing mesh and service VIPs cannot work here, so ports are published \
             in host mode and services are found by DNS round-robin",
        );
    }
    if target.info.swarm.nodes <= 1 {
        let problems = rendered.view.single_node_problems();
        if !problems.is_empty() {
            return Err(UserError::usage(format!(
                "this stack cannot run on a single-node swarm:\n  - {}",
                problems.join("\n  - ")
            ))
            .hint(format!(
                "change it in {} (nothing was deployed)",
                crate::error::display_path(&profile.path)
            ))
            .into());
        }
    }

    if target.info.swarm.nodes > 1 && !docker.dry_run {
        let nodes = crate::swarm::target::nodes(&docker)?;
        let problems = crate::swarm::target::unplaceable(&rendered.view, &nodes);
        if !problems.is_empty() {
            return Err(UserError::usage(format!(
                "these services could never be scheduled:\n  - {}",
                problems.join("\n  - ")
            ))
            .hint("fix the placement constraints (or the node labels: `docker node update --label-add KEY=VALUE NODE`); nothing was deployed")
            .into());
        }
    }

    // a remote target: show where and what changes there, and ask
    if !profile.file.docker.swarm && !ctx.g.yes && !ctx.g.dry_run {
        let tags = build::tags(&project, &rendered)?;
        let planned = deploy::deployable(&rendered, &tags);
        confirm_remote(&docker, &profile, &target, &rendered.stack_name, &crate::stack::Stack::from_mapping(&planned))?;
    }

    // images
    let tags = build::build(&docker, &project, &rendered, ctx.g.quiet)?;
    if profile.file.registry.is_some() && !tags.is_empty() {
        build::push(&docker, &tags)?;
    }
    let stack = deploy::deployable(&rendered, &tags);
    let yaml = crate::render::stack::to_yaml(&stack);
    let refs: Vec<String> = deploy::images(&stack).into_values().collect();
    let ids = deploy::image_ids(&docker, &refs)?;
    let hash = deploy::deploy_hash(&yaml, &ids);
    let services = rendered.service_names();
    let stack_name = rendered.stack_name.clone();
    let opts = watch::Options {
        timeout: Duration::from_secs(a.timeout),
        max_failures: a.max_failures,
        progress: !ctx.g.quiet && !ctx.g.json,
        single_node: target.info.swarm.nodes <= 1,
        ..Default::default()
    };

    let previous = state.deployed.get(&profile.name).cloned();
    let unchanged = previous.as_ref().is_some_and(|p| {
        p.stack_hash == hash
            && p.context == profile.file.docker.context
            && p.cluster_id.as_deref() == Some(target.cluster_id.as_str())
    });
    if ctx.g.dry_run {
        if unchanged {
            println!("nothing changed since the last deploy: no docker call would change anything");
        } else {
            objects::ensure(
                &docker,
                project.name(),
                &rendered,
                &crate::render::collect_secrets(&project, &profile),
            )?;
            deploy::stack_deploy(
                &docker,
                &deploy_file(&project, &profile),
                &stack_name,
                profile.file.registry.is_some(),
                Duration::ZERO,
            )?;
        }
        return Ok(0);
    }

    let report = if unchanged && converged_now(&docker, &stack_name, &services)? {
        crate::ui::ok(&format!(
            "nothing changed since the last deploy; all {} services are running",
            services.len()
        ));
        None
    } else {
        crate::ui::step(&format!(
            "deploying stack {stack_name} to context `{}`",
            profile.file.docker.context
        ));
        let secrets = crate::render::collect_secrets(&project, &profile);
        objects::ensure(&docker, project.name(), &rendered, &secrets)?;
        let file = deploy_file(&project, &profile);
        crate::fsutil::write_atomic(&file, yaml.as_bytes(), None)?;
        rendered.write_state(&crate::state::rendered_dir(&project.root, &profile.name))?;
        let since = SystemTime::now();
        deploy::stack_deploy(
            &docker,
            &file,
            &stack_name,
            profile.file.registry.is_some(),
            Duration::from_secs(60),
        )?;
        let r = watch::watch(&docker, &stack_name, &services, since, &opts)?;
        Some(r)
    };

    if let Some(r) = &report
        && r.outcome != Outcome::Ready
    {
        if a.rollback {
            deploy::rollback_unfinished(&docker, &stack_name, r)?;
        }
        state.active_profile = Some(profile.name.clone());
        state
            .cluster_ids
            .entry(profile.name.clone())
            .or_insert(target.cluster_id.clone());
        state.save(&project.root)?;
        return Err(failure(r, &stack_name));
    }

    // readiness through the proxy, as a browser would reach it
    let probes_ok = super::probe::run_probes(ctx, &project, &profile, &rendered)?;

    // what is no longer referenced goes
    let configs: Vec<String> = rendered
        .configs
        .iter()
        .map(|c| c.object_name.clone())
        .collect();
    let secrets: Vec<String> = rendered
        .secrets
        .iter()
        .map(|s| s.object_name.clone())
        .collect();
    let keep = [configs.as_slice(), secrets.as_slice()].concat();
    let removed = objects::cleanup(&docker, project.name(), &stack_name, &keep)?;
    if !removed.is_empty() {
        crate::ui::debug(&format!(
            "removed unused configs/secrets: {}",
            removed.join(", ")
        ));
    }

    state.active_profile = Some(profile.name.clone());
    if profile.file.docker.cluster_id.is_none() {
        state
            .cluster_ids
            .insert(profile.name.clone(), target.cluster_id.clone());
    }
    state.deployed.insert(
        profile.name.clone(),
        DeployRecord {
            stack_hash: hash,
            stack_name: stack_name.clone(),
            context: profile.file.docker.context.clone(),
            cluster_id: Some(target.cluster_id.clone()),
            images: ids,
            configs,
            secrets,
            at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        },
    );
    state.save(&project.root)?;

    let urls = urls(&profile, &stack);
    if ctx.g.json {
        super::print_json(&json!({
            "profile": profile.name,
            "stack": stack_name,
            "context": profile.file.docker.context,
            "cluster_id": target.cluster_id,
            "changed": report.is_some(),
            "services": report.as_ref().map(|r| r.services.clone()),
            "ready_after_ms": report.as_ref().map(|r| r.elapsed.as_millis() as u64),
            "urls": urls,
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }))?;
    } else {
        if let Some(r) = &report {
            crate::ui::ok(&format!(
                "{} services ready {:.1}s after the deploy ({:.1}s in all)",
                r.services.len(),
                r.elapsed.as_secs_f64(),
                started.elapsed().as_secs_f64()
            ));
        }
        for u in &urls {
            println!("{u}");
        }
    }
    Ok(if probes_ok { 0 } else { 1 })
}

/// Before changing a remote swarm: where it is, what changes there; yes or no.
fn confirm_remote(
    docker: &Docker<'_>,
    profile: &Profile,
    target: &guard::Target,
    stack: &str,
    planned: &crate::stack::Stack,
) -> anyhow::Result<()> {
    let endpoint = docker
        .sys
        .run(&crate::sys::Cmd::new(docker.program.clone()).args([
            "context",
            "inspect",
            profile.file.docker.context.as_str(),
            "--format",
            "{{.Endpoints.docker.Host}}",
        ]))
        .map(|o| o.stdout_str().trim().to_string())
        .unwrap_or_default();
    let changes = crate::swarm::target::running_diff(docker, stack, planned)?;
    eprintln!(
        "target: context `{}` ({endpoint}), swarm {}, {} node(s), stack {stack}",
        profile.file.docker.context, target.cluster_id, target.info.swarm.nodes
    );
    if changes.is_empty() {
        eprintln!(
            "the services there already run this spec (configs, secrets and images are checked next)"
        );
    } else {
        eprintln!("what changes there (secret values masked):");
        for c in &changes {
            eprintln!("  {c}");
        }
    }
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if !interactive {
        return Err(UserError::new(format!(
            "not deploying to the remote context `{}` without a yes",
            profile.file.docker.context
        ))
        .hint("review the changes above and run again with --yes")
        .into());
    }
    if !super::confirm(&format!("deploy profile {} there?", profile.name))? {
        return Err(UserError::new("nothing was deployed").into());
    }
    Ok(())
}

fn deploy_file(project: &Project, profile: &Profile) -> PathBuf {
    crate::state::dir(&project.root)
        .join("deploy")
        .join(format!("{}.yml", profile.name))
}

fn hosts_block_exists(ctx: &Ctx, project: &Project) -> bool {
    crate::hosts::targets(
        ctx.g.hosts_file.as_deref(),
        crate::platform::Platform::current(),
    )
    .iter()
    .any(|p| {
        crate::hosts::write::read(p).ok().is_some_and(|b| {
            crate::hosts::block::projects(&b)
                .iter()
                .any(|x| x == project.name())
        })
    })
}

/// Every secret has its value before anything is deployed. `skip_made_by_up`: leave out what `up` creates itself (the
/// local-CA leaf, `generate:` values), for the check before they exist and for --dry-run.
fn check_secrets(profile: &Profile, r: &Rendered, skip_made_by_up: bool) -> anyhow::Result<()> {
    for s in &r.secrets {
        let made_by_up = (s.key.starts_with("tls_") && profile.file.tls == Tls::LocalCa)
            || profile
                .file
                .secrets
                .get(&s.key)
                .is_some_and(|x| x.generate.is_some());
        if skip_made_by_up && made_by_up {
            continue;
        }
        if let Some(why) = &s.unavailable {
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
    }
    Ok(())
}

/// "changes since the last deploy": services added, removed or changed (and what in them).
fn summarize_changes(project: &Project, profile: &Profile, r: &Rendered) {
    let Ok(prev) = std::fs::read_to_string(deploy_file(project, profile)) else {
        crate::ui::info("first deploy of this profile from this machine");
        return;
    };
    let Ok(prev): Result<Mapping, _> = serde_yaml_ng::from_str(&prev) else {
        return;
    };
    let empty = Mapping::new();
    let a = crate::render::stack::services(&prev).unwrap_or(&empty);
    let b = crate::render::stack::services(&r.stack).unwrap_or(&empty);
    // configs and secrets whose content (hence object name) changed
    let changed_objects = |kind: &str| -> Vec<String> {
        let old = prev
            .get(kind)
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        let new = r
            .stack
            .get(kind)
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        new.iter()
            .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
            .filter_map(|(k, _)| k.as_str().map(String::from))
            .collect()
    };
    let configs = changed_objects("configs");
    let secrets = changed_objects("secrets");
    let uses = |svc: &Value, kind: &str, names: &[String]| -> Vec<String> {
        svc.get(kind)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                e.as_str()
                    .or_else(|| e.get("source")?.as_str())
                    .map(String::from)
            })
            .filter(|s| names.contains(s))
            .collect()
    };
    let mut lines = Vec::new();
    for (k, v) in b {
        let name = k.as_str().unwrap_or_default();
        match a.get(k) {
            None => lines.push(format!("+ {name}")),
            Some(old) => {
                let (Some(o), Some(n)) = (old.as_mapping(), v.as_mapping()) else {
                    continue;
                };
                let mut keys: Vec<String> = n
                    .iter()
                    .filter(|(kk, vv)| {
                        kk.as_str() != Some("build")
                            && kk.as_str() != Some("image")
                            && o.get(*kk) != Some(*vv)
                    })
                    .map(|(kk, _)| kk.as_str().unwrap_or_default().to_string())
                    .chain(
                        o.keys()
                            .filter(|kk| !n.contains_key(*kk))
                            .map(|kk| kk.as_str().unwrap_or_default().to_string()),
                    )
                    .collect();
                for c in uses(v, "configs", &configs) {
                    keys.push(format!("config {c}"));
                }
                for s in uses(v, "secrets", &secrets) {
                    keys.push(format!("secret {s}"));
                }
                if !keys.is_empty() {
                    lines.push(format!("~ {name} ({})", keys.join(", ")));
                }
            }
        }
    }
    for k in a.keys() {
        if !b.contains_key(k) {
            lines.push(format!("- {}", k.as_str().unwrap_or_default()));
        }
    }
    if lines.is_empty() {
        crate::ui::debug("the stack is as deployed last time (images are checked next)");
    } else {
        crate::ui::info(&format!(
            "changes since the last deploy: {}",
            lines.join("; ")
        ));
    }
}

/// One look: are all services converged right now?
fn converged_now(docker: &Docker<'_>, stack: &str, services: &[String]) -> anyhow::Result<bool> {
    let opts = watch::Options {
        timeout: Duration::ZERO,
        progress: false,
        stable_for: Duration::ZERO,
        ..Default::default()
    };
    Ok(watch::watch(docker, stack, services, SystemTime::now(), &opts)?.outcome == Outcome::Ready)
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

/// Where the site answers: the profile's names on the published web ports.
pub fn urls(profile: &Profile, stack: &Mapping) -> Vec<String> {
    let ports = crate::stack::Stack::from_mapping(stack).published_ports();
    let mut names: Vec<String> = profile.file.hosts.clone();
    if names.is_empty() {
        names.push(profile.file.domain.clone());
    }
    let tls = profile.file.tls != Tls::None;
    let mut out = Vec::new();
    for n in &names {
        if tls && ports.contains(&443) {
            out.push(format!("https://{n}/"));
        } else if ports.contains(&80) {
            out.push(format!("http://{n}/"));
        } else if let Some(p) = ports.first() {
            out.push(format!("{}://{n}:{p}/", if tls { "https" } else { "http" }));
        }
    }
    out
}

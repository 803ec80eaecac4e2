//! `devenv watch`: the stack up (as `up` brings it), then each batch of changed files planned
//! (`live::plan`) and carried out on the local node: files copied into the service's running
//! containers (`docker cp -`, one tar stream per container), removed ones deleted
//! (`docker exec rm`), a signal (`docker kill --signal`) or a command after that; a rebuild is a
//! content-hash tag built and rolled to (`docker service update --image`), the old tasks kept
//! when the build fails and rolled back when the new image does not come up. devenv's own
//! inputs (devenv.yaml, profiles, templates) re-render and redeploy, which rotates a changed
//! config under its new content-hash name.
//!
//! A container that appears while watching (swarm replaced a crashed task, a rebuild's new
//! task) gets every file of its service's sync rules: what was synced before lives only in the
//! container it was synced into.

use crate::swarm::docker::Apply;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::Ctx;
use crate::error::UserError;
use crate::live::fswatch::{self, FsWatch, Next, Root};
use crate::live::plan::{Batch, Change, Watched, Work};
use crate::profile::{Profile, Project};
use crate::swarm::build;
use crate::swarm::converge::{self, Outcome};
use crate::swarm::docker::Docker;

#[derive(Debug, Clone)]
pub struct Options {
    /// Only these services' rules (short names; empty: all).
    pub services: Vec<String>,
    /// How long a rebuild's roll-out (and the first `up`) may take.
    pub timeout: Duration,
    /// Poll the disk instead of waiting for the OS's events.
    pub poll: bool,
}

/// One line of a watch session: what changed, what was done, how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The service (none for a redeploy of devenv's own inputs).
    pub service: Option<String>,
    /// `sync`, `sync+restart`, `sync+exec`, `restart`, `rebuild`, `redeploy`, `initial-sync`,
    /// `new-task-sync`, `ignored`.
    pub action: String,
    /// The changed paths, relative to the project root.
    pub changed: Vec<String>,
    /// Files copied and deleted.
    pub files: usize,
    /// The containers it was applied in.
    pub containers: usize,
    /// A rebuild's new image.
    pub image: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
    /// What a reader should know besides (the signal sent, the image kept).
    pub detail: Option<String>,
    pub elapsed_ms: u64,
}

impl Event {
    fn new(service: Option<&str>, action: &str, changed: Vec<String>) -> Event {
        Event {
            service: service.map(String::from),
            action: action.into(),
            changed,
            files: 0,
            containers: 0,
            image: None,
            ok: true,
            error: None,
            detail: None,
            elapsed_ms: 0,
        }
    }
}

pub struct Session<'c> {
    ctx: &'c Ctx,
    project: Project,
    profile: Profile,
    stack: String,
    watched: Watched,
    /// Per syncing service: the containers that have its sync rules' files.
    seen: BTreeMap<String, BTreeSet<String>>,
    only: Vec<String>,
    timeout: Duration,
    single_node: bool,
    wsl: bool,
    poll: bool,
}

fn rel_display(root: &Path, p: &Path) -> String {
    crate::live::plan::rel(root, p).unwrap_or_else(|| p.display().to_string())
}

/// `up`'s options for watch's own deploys.
fn up_options(timeout: Duration, rollback: bool) -> super::up::Options {
    super::up::Options {
        timeout,
        max_failures: crate::swarm::converge::MAX_FAILURES,
        new_cluster: false,
        rollback,
    }
}

/// The rules of the services named (all when none), each name checked against the stack.
fn selected_rules(
    r: &crate::render::Rendered,
    services: &[String],
) -> anyhow::Result<Vec<crate::live::Rule>> {
    let known = r.service_names();
    let mut only = Vec::new();
    for s in services {
        only.push(super::update::resolve(&r.stack_name, &known, s)?);
    }
    let rules: Vec<_> = r
        .watch
        .iter()
        .filter(|x| only.is_empty() || only.contains(&x.service))
        .cloned()
        .collect();
    if rules.is_empty() {
        return Err(UserError::usage(no_rules(&only))
            .hint(no_rules_hint())
            .into());
    }
    Ok(rules)
}

fn no_rules(only: &[String]) -> String {
    if only.is_empty() {
        "no service of the stack has `develop.watch` rules".to_string()
    } else {
        format!("{} has no `develop.watch` rules", only.join(", "))
    }
}

fn no_rules_hint() -> String {
    "add compose's `develop.watch` to a service in the stack, e.g.\n  \
     develop:\n    watch:\n      - {path: ./web, action: sync, target: /app}\n      \
     - {path: ./api, action: rebuild}"
        .to_string()
}

/// `--dry-run`: `up`'s plan, then the rules and what each would do.
pub fn describe(ctx: &Ctx, opts: &Options) -> anyhow::Result<String> {
    let plan = super::up::plan(ctx, None, up_options(opts.timeout, false))?;
    let mut out = super::up::describe(&plan);
    let root = plan.project.root.clone();
    for rule in selected_rules(&plan.rendered, &opts.services)? {
        let path = rel_display(&root, &rule.path);
        let does = match rule.action {
            crate::live::Action::Rebuild => format!(
                "build {}'s image at the hash of its sources and roll the service to it",
                rule.service
            ),
            crate::live::Action::Restart => {
                format!("send SIG{} to {}'s tasks", rule.signal, rule.service)
            }
            a => format!(
                "copy into {}'s running tasks at {}{}",
                rule.service,
                rule.target.as_deref().unwrap_or("/"),
                match a {
                    crate::live::Action::SyncRestart => format!(", then send SIG{}", rule.signal),
                    crate::live::Action::SyncExec =>
                        format!(", then run `{}`", rule.exec.join(" ")),
                    _ => String::new(),
                }
            ),
        };
        let mut filters = String::new();
        if !rule.ignore.is_empty() {
            filters.push_str(&format!(" (ignoring {})", rule.ignore.join(", ")));
        }
        if !rule.include.is_empty() {
            filters.push_str(&format!(" (only {})", rule.include.join(", ")));
        }
        out.push_str(&format!(
            "would watch {path}{filters}: on a change, {does}\n"
        ));
    }
    out.push_str("would watch devenv.yaml, the profile and the templates: on a change, render and deploy again\n");
    Ok(out)
}

/// Brings the stack up (a no-op when it runs as rendered) and reads the watch rules.
pub fn start<'c>(ctx: &'c Ctx, opts: &Options) -> anyhow::Result<Session<'c>> {
    let mut x = ctx.executor();
    let lock = ctx.lock_project(&mut x)?;
    let plan =
        super::up::plan(ctx, None, up_options(opts.timeout, false)).map_err(super::unchanged)?;
    if plan.remote() {
        return Err(UserError::usage(format!(
            "`devenv watch` is for a local profile; profile {} deploys to the remote context `{}`",
            plan.profile.name, plan.profile.file.docker.context
        ))
        .hint("switch to a local profile (`devenv switch local`); the server gets images with `devenv up`")
        .into());
    }
    // the services named and their rules before anything is deployed (a typo changes nothing)
    selected_rules(&plan.rendered, &opts.services).map_err(super::unchanged)?;
    let single_node = plan.target.info.swarm.nodes <= 1;
    // said once per profile, as `up` says them
    super::print_notes(&plan.notes, &plan.seen_notes);
    let r = super::up::apply(ctx, &mut x, plan)?;
    if let Some(ms) = r.ready_after_ms {
        crate::ui::ok(&format!(
            "{} services ready {:.1}s after the deploy",
            r.services.len(),
            ms as f64 / 1000.0
        ));
    }
    if !ctx.g.json {
        super::print_endpoints(&r.urls, &r.endpoints);
    }
    drop(lock);
    Session::open(ctx, opts, single_node)
}

impl<'c> Session<'c> {
    /// A session on the stack as it runs now: the rules read, the running containers of the
    /// syncing services noted.
    pub fn open(ctx: &'c Ctx, opts: &Options, single_node: bool) -> anyhow::Result<Session<'c>> {
        let project = ctx.project()?;
        let profile = ctx.profile(&project, None)?;
        let mut s = Session {
            ctx,
            stack: String::new(),
            project,
            profile,
            watched: Watched::default(),
            seen: BTreeMap::new(),
            only: opts.services.clone(),
            timeout: opts.timeout,
            single_node,
            wsl: ctx.sys.platform().wsl,
            poll: opts.poll,
        };
        s.load_rules()?;
        let docker = s.ctx.docker(&s.profile)?;
        for svc in s.watched.syncing_services() {
            let ids = containers(&docker, &s.stack, &svc)?;
            s.seen.insert(svc, ids.into_iter().collect());
        }
        Ok(s)
    }
}

impl Session<'_> {
    /// The rules of the current render (again after a redeploy: the stack may have new ones).
    fn load_rules(&mut self) -> anyhow::Result<()> {
        let r = self.ctx.render(&self.project, &self.profile)?;
        self.stack = r.stack_name.clone();
        let rules = selected_rules(&r, &self.only)?;
        let contexts: BTreeMap<String, PathBuf> = r
            .builds
            .iter()
            .map(|b| (b.service.clone(), self.project.root.join(&b.context)))
            .collect();
        let root = &self.project.root;
        let mut inputs = vec![
            root.join(crate::profile::PROJECT_FILE),
            self.profile.path.clone(),
            root.join(&self.project.file.stack),
        ];
        for c in &r.configs {
            inputs.push(root.join(&c.template));
        }
        // the templates the stack includes: its directory, unless that is the project root or
        // holds watched sources (a change there would redeploy as well as sync)
        if let Some(dir) = root.join(&self.project.file.stack).parent()
            && dir != root.as_path()
            && !rules.iter().any(|r| r.path.starts_with(dir))
        {
            inputs.push(dir.to_path_buf());
        }
        self.watched = Watched::new(rules, &contexts, inputs, root);
        Ok(())
    }

    /// What the OS is asked to watch.
    fn roots(&self) -> Vec<Root> {
        let mut v: Vec<Root> = self
            .watched
            .rules()
            .map(|r| &r.path)
            .chain(&self.watched.inputs)
            .map(|p| {
                if p.is_dir() {
                    Root::Tree(p.clone())
                } else {
                    Root::File(p.clone())
                }
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn watcher(&self) -> anyhow::Result<FsWatch> {
        let poll = self.poll || fswatch::needs_polling(self.wsl, &self.project.root);
        let (w, warnings) = FsWatch::new(&self.roots(), poll)?;
        for w in warnings {
            crate::ui::warn(&w);
        }
        if poll && !self.poll {
            crate::ui::note(&format!(
                "{} is a Windows drive under WSL, where Linux gets no events for edits made from Windows: polling every {} ms",
                self.project.root.display(),
                fswatch::POLL.as_millis()
            ));
        }
        Ok(w)
    }

    fn say(&self, e: &Event) {
        if self.ctx.g.json {
            crate::ui::out_str(&format!(
                "{}\n",
                serde_json::to_string(e).expect("an event serialises")
            ));
            return;
        }
        let what = match e.changed.as_slice() {
            [] => String::new(),
            [one] => format!("{one} → "),
            [one, rest @ ..] => format!("{one} and {} more → ", rest.len()),
        };
        let svc = e.service.as_deref().unwrap_or("stack");
        let secs = e.elapsed_ms as f64 / 1000.0;
        let done = match e.action.as_str() {
            "rebuild" => format!(
                "rebuilt {} and rolled it out",
                e.image.as_deref().unwrap_or("the image")
            ),
            "redeploy" => "rendered and redeployed".to_string(),
            a => format!(
                "{a}: {} file{} into {} task{}",
                e.files,
                if e.files == 1 { "" } else { "s" },
                e.containers,
                if e.containers == 1 { "" } else { "s" }
            ),
        };
        let detail = e
            .detail
            .as_deref()
            .map(|d| format!("; {d}"))
            .unwrap_or_default();
        if e.ok {
            crate::ui::ok(&format!("{what}{svc}: {done} ({secs:.2}s){detail}"));
        } else {
            crate::ui::error(&format!(
                "{what}{svc}: {} failed ({secs:.2}s){detail}\n{}",
                e.action,
                e.error.as_deref().unwrap_or("")
            ));
        }
    }

    /// Syncs the initial_sync rules into the running containers.
    fn initial_sync(&mut self) -> anyhow::Result<()> {
        let docker = self.ctx.docker(&self.profile)?;
        for svc in self.watched.syncing_services() {
            let w = self.watched.full_sync(&svc, false, &list_tree);
            if w.copies.is_empty() {
                continue;
            }
            let ids: Vec<String> = self
                .seen
                .get(&svc)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect();
            let e = self.sync_into(&docker, &w, &ids, "initial-sync", Vec::new());
            self.say(&e);
        }
        Ok(())
    }

    /// Follows docker's container events of the stack on this engine in a thread of its own:
    /// each container that starts wakes the session, which syncs into it. When the stream ends
    /// (the engine restarted) it is followed again, and the session woken once, for what started
    /// meanwhile.
    fn follow_new_tasks(&self, waker: crate::live::fswatch::Waker) -> anyhow::Result<()> {
        if self.watched.syncing_services().is_empty() {
            return Ok(());
        }
        let docker = self.ctx.docker(&self.profile)?;
        let events = docker.cmd([
            "events".to_string(),
            "--filter".into(),
            "type=container".into(),
            "--filter".into(),
            "event=start".into(),
            "--filter".into(),
            format!("label=com.docker.stack.namespace={}", self.stack),
            "--format".into(),
            crate::swarm::docker::JSON.into(),
        ]);
        let facts = self.ctx.sys.clone();
        std::thread::spawn(move || {
            loop {
                let mut alive = true;
                let _ = facts.query_streamed(&events, Duration::from_secs(24 * 3600), &mut |l| {
                    if !l.trim().is_empty() {
                        alive = waker.wake();
                    }
                });
                if !alive || !waker.wake() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        });
        Ok(())
    }

    /// Containers of syncing services that appeared since the last look get the full sync.
    fn sync_new_tasks(&mut self) -> anyhow::Result<()> {
        let docker = self.ctx.docker(&self.profile)?;
        for svc in self.watched.syncing_services() {
            self.catch_up(&docker, &svc)?;
        }
        Ok(())
    }

    /// The running containers of `service`; those devenv has not synced yet (swarm replaced a
    /// task, a rebuild rolled out) first get every file of its sync rules.
    fn catch_up(&mut self, docker: &Docker<'_>, service: &str) -> anyhow::Result<Vec<String>> {
        let ids = containers(docker, &self.stack, service)?;
        let seen = self.seen.entry(service.to_string()).or_default();
        let fresh: Vec<String> = ids.iter().filter(|i| !seen.contains(*i)).cloned().collect();
        *seen = ids.iter().cloned().collect();
        if !fresh.is_empty() {
            let w = self.watched.full_sync(service, true, &list_tree);
            if !w.copies.is_empty() {
                let mut e = self.sync_into(docker, &w, &fresh, "new-task-sync", Vec::new());
                e.detail = Some("a new task of the service got the synced files".into());
                self.say(&e);
            }
        }
        Ok(ids)
    }

    /// Copies `w`'s files into `ids`, deletes, signals, runs its commands.
    fn sync_into(
        &self,
        docker: &Docker<'_>,
        w: &Work,
        ids: &[String],
        action: &str,
        changed: Vec<String>,
    ) -> Event {
        let t = Instant::now();
        let mut e = Event::new(Some(&w.service), action, changed);
        let mut x = self.ctx.executor();
        let scope = self.project.scope();
        let mut written = crate::live::archive::Written::default();
        let copies = w.copies.len();
        let mut errors = Vec::new();
        let mut notes = Vec::new();
        for id in ids {
            let short = &id[..id.len().min(12)];
            if copies > 0 {
                // one stream per container, written as the files are read (never whole in memory)
                let c = docker.cmd(["cp", "-", &format!("{id}:/")]);
                let mut feed = |out: &mut dyn std::io::Write| {
                    written = crate::live::archive::write(&scope, &w.copies, out)?;
                    Ok(())
                };
                match x.run_fed(&c, &mut feed) {
                    Ok(o) if o.ok() => {}
                    Ok(o) => errors.push(format!("copying into {short}: {}", o.stderr_str())),
                    Err(err) => errors.push(format!("copying into {short}: {err}")),
                }
            }
            if !w.deletes.is_empty() {
                let mut args = vec![
                    "exec".to_string(),
                    id.clone(),
                    "rm".into(),
                    "-rf".into(),
                    "--".into(),
                ];
                args.extend(w.deletes.iter().cloned());
                match x.docker_raw(docker, args) {
                    Ok(o) if o.ok() => {}
                    Ok(o) => {
                        let out = format!("{} {}", o.stdout_str().trim(), o.stderr_str());
                        errors.push(if out.contains("not found") || out.contains("no such file") {
                            format!(
                                "the image of {} has no `rm`: the removed files stay in {short} until the task is replaced",
                                w.service
                            )
                        } else {
                            format!("deleting in {short} (`rm -rf` in the container): {}", out.trim())
                        })
                    }
                    Err(err) => errors.push(err.to_string()),
                }
            }
            for cmd in &w.exec {
                let mut args = vec!["exec".to_string(), id.clone()];
                args.extend(cmd.iter().cloned());
                match x.docker_raw(docker, args) {
                    Ok(o) if o.ok() => {}
                    Ok(o) => errors.push(format!(
                        "`{}` in {short} exited {}: {}{}",
                        cmd.join(" "),
                        o.status,
                        o.stdout_str().trim(),
                        o.stderr_str()
                    )),
                    Err(err) => errors.push(err.to_string()),
                }
            }
            if let Some(sig) = &w.signal {
                match x.docker_raw(docker, ["kill", "--signal", sig.as_str(), id.as_str()]) {
                    Ok(o) if o.ok() => {
                        notes.push(format!("SIG{sig} sent to the task's main process"))
                    }
                    Ok(o) => errors.push(format!("signalling {short}: {}", o.stderr_str())),
                    Err(err) => errors.push(err.to_string()),
                }
            }
        }
        if w.signal.is_some() && errors.is_empty() {
            // a process that dies of the signal ends its task: swarm starts a new one from the
            // image, which the next look syncs
            std::thread::sleep(Duration::from_millis(300));
            let alive = ids
                .iter()
                .filter(|id| {
                    docker
                        .try_query(["inspect", "--format", "{{.State.Running}}", id.as_str()])
                        .map(|o| o.stdout_str().trim() == "true")
                        .unwrap_or(false)
                })
                .count();
            if alive < ids.len() {
                notes.push(format!(
                    "the process exited on SIG{}: swarm starts a new task from the image, and devenv syncs the files into it \
                     (set `x-devenv-signal:` to a signal it reloads on)",
                    w.signal.as_deref().unwrap_or("HUP")
                ));
            }
        }
        notes.dedup();
        e.files = copies - written.skipped.len() + w.deletes.len();
        for (c, why) in &written.skipped {
            notes.push(format!(
                "{} not copied: {why}",
                rel_display(&self.project.root, &c.from)
            ));
        }
        if !written.changed.is_empty() {
            notes.push(format!(
                "{} changed while it was copied: copied as it was when opened, and again on its next change",
                written
                    .changed
                    .iter()
                    .map(|c| rel_display(&self.project.root, &c.from))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        e.containers = ids.len();
        if ids.is_empty() {
            e.ok = false;
            e.error = Some(format!(
                "no running task of {} on this node to sync into (`devenv status` shows why)",
                w.service
            ));
        } else if !errors.is_empty() {
            e.ok = false;
            e.error = Some(errors.join("\n"));
        }
        if !notes.is_empty() {
            e.detail = Some(notes.join("; "));
        }
        e.elapsed_ms = t.elapsed().as_millis() as u64;
        e
    }

    /// Builds the service's image at the tag of its current sources and rolls the service to it.
    fn rebuild(&self, docker: &Docker<'_>, service: &str, changed: Vec<String>) -> Event {
        let t = Instant::now();
        let mut e = Event::new(Some(service), "rebuild", changed);
        let r = (|| -> anyhow::Result<(Option<String>, String)> {
            // only this service's build context is hashed and looked up
            let mut r = self.ctx.render(&self.project, &self.profile)?;
            r.builds.retain(|b| b.service == service);
            let steps = build::plan(docker, &self.project, &r)?;
            let Some(step) = steps.into_iter().find(|s| s.service == service) else {
                anyhow::bail!("{service} has no build context any more");
            };
            let full = format!("{}_{service}", self.stack);
            let current = crate::swarm::deploy::service_image(docker, &full)?;
            let mut x = self.ctx.executor();
            if !step.built {
                let o = x.docker_raw(docker, step.args(false))?;
                if !o.ok() {
                    let text = format!("{}{}", o.stdout_str(), String::from_utf8_lossy(&o.stderr));
                    let tail: Vec<&str> = text.lines().rev().take(15).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    return Err(UserError::new(format!(
                        "docker build exit {}:\n{}",
                        o.status,
                        tail.join("\n")
                    ))
                    .hint(format!("{service} keeps running {current}"))
                    .into());
                }
            }
            if current == step.tag {
                return Ok((Some("the image is the one running".into()), step.tag));
            }
            let since = SystemTime::now();
            x.docker(
                docker,
                [
                    "service",
                    "update",
                    "--detach",
                    "--image",
                    step.tag.as_str(),
                    full.as_str(),
                ],
            )?;
            let opts = converge::Options {
                timeout: self.timeout,
                progress: false,
                single_node: self.single_node,
                ..Default::default()
            };
            let report = converge::watch(
                docker,
                &mut |svc| converge::force_update(&mut x, docker, svc),
                &self.stack,
                &[service.to_string()],
                since,
                &opts,
            )?;
            if report.outcome != Outcome::Ready {
                let why = report
                    .services
                    .iter()
                    .find_map(|s| s.fatal.clone().or(s.error.clone()))
                    .unwrap_or_else(|| "it did not become ready".into());
                crate::swarm::deploy::rollback_unfinished(&mut x, docker, &self.stack, &report)?;
                return Err(UserError::new(format!(
                    "the new image {} did not come up: {why}",
                    step.tag
                ))
                .hint(format!(
                    "rolled back to {current}; `devenv logs {service}` shows why"
                ))
                .into());
            }
            Ok((None, step.tag))
        })();
        match r {
            Ok((detail, tag)) => {
                e.image = Some(tag);
                e.detail = detail;
            }
            Err(err) => {
                e.ok = false;
                match err.downcast_ref::<UserError>() {
                    Some(u) => {
                        e.error = Some(u.message.clone());
                        e.detail = u.hint.clone();
                    }
                    None => e.error = Some(format!("{err:#}")),
                }
            }
        }
        e.elapsed_ms = t.elapsed().as_millis() as u64;
        e
    }

    /// devenv's inputs changed: render and deploy again, as `up` does.
    fn redeploy(&mut self, changed: Vec<String>) -> Event {
        let t = Instant::now();
        let mut e = Event::new(None, "redeploy", changed);
        let r = (|| -> anyhow::Result<()> {
            let mut x = self.ctx.executor();
            let _lock = self.ctx.lock_project(&mut x)?;
            let opts = up_options(self.timeout, true);
            let plan = super::up::plan(self.ctx, Some(&self.profile.name), opts)?;
            super::up::apply(self.ctx, &mut x, plan)?;
            Ok(())
        })();
        if let Err(err) = r {
            e.ok = false;
            e.error = Some(format!("{err:#}"));
            e.detail = Some("the stack runs as before".into());
        } else if let Err(err) = self.load_rules() {
            e.ok = false;
            e.error = Some(format!("{err:#}"));
        }
        e.elapsed_ms = t.elapsed().as_millis() as u64;
        e
    }

    /// Carries out one batch; one event per service (and one for a redeploy).
    pub fn apply(&mut self, batch: &Batch) -> anyhow::Result<Vec<Event>> {
        let root = self.project.root.clone();
        let show = |v: &[PathBuf]| v.iter().map(|p| rel_display(&root, p)).collect::<Vec<_>>();
        let mut events = Vec::new();
        for (p, why) in &batch.refused {
            crate::ui::warn(&format!("{}: {why}", rel_display(&root, p)));
        }
        if !batch.redeploy.is_empty() {
            let e = self.redeploy(show(&batch.redeploy));
            self.say(&e);
            events.push(e);
        }
        let docker = self.ctx.docker(&self.profile)?;
        for w in &batch.work {
            let e = if !w.rebuild.is_empty() {
                self.rebuild(&docker, &w.service, show(&w.rebuild))
            } else {
                let ids = self.catch_up(&docker, &w.service)?;
                self.sync_into(&docker, w, &ids, w.action(), show(&w.changed))
            };
            self.say(&e);
            events.push(e);
        }
        Ok(events)
    }

    /// Plans and applies the changes of `paths` (as they are on disk now); the events said.
    pub fn changed(&mut self, paths: &[PathBuf]) -> anyhow::Result<Vec<Event>> {
        let watched = &self.watched;
        let changes: Vec<Change> = fswatch::expand(paths, &|p: &Path| watched.noise(p));
        let batch = self.watched.plan(&changes);
        if batch.work.is_empty() && batch.redeploy.is_empty() && batch.refused.is_empty() {
            crate::ui::debug(&format!("ignored: {}", batch.ignored.len()));
            return Ok(Vec::new());
        }
        self.apply(&batch)
    }

    /// Watches until the process is stopped (Ctrl-C).
    pub fn run(&mut self) -> anyhow::Result<()> {
        let mut fs = self.watcher()?;
        self.initial_sync()?;
        let names: Vec<String> = {
            let mut v: Vec<String> = self
                .watched
                .rules()
                .map(|r| format!("{} ({})", r.service, r.action.name()))
                .collect();
            v.dedup();
            v
        };
        crate::ui::info(&format!(
            "watching {} for {}; Ctrl-C stops",
            fs.trees()
                .iter()
                .map(|t| rel_display(&self.project.root, t))
                .map(|s| if s.is_empty() { ".".to_string() } else { s })
                .collect::<Vec<_>>()
                .join(", "),
            names.join(", ")
        ));
        // a task that starts while watching (swarm replaced a crashed one, a rebuild rolled out)
        // wakes the loop through docker's own events: no polling while idle
        self.follow_new_tasks(fs.waker())?;
        // the changes of a batch that failed (docker did not answer): tried again with the next
        // batch, or after a quiet spell
        let mut retry: Vec<PathBuf> = Vec::new();
        loop {
            let idle = if retry.is_empty() {
                Duration::from_secs(3600)
            } else {
                RETRY_AFTER
            };
            let mut paths = match fs.next(idle)? {
                Next::Idle if !retry.is_empty() => Vec::new(),
                Next::Idle => continue,
                Next::Wake => {
                    // docker gone for a moment (restarting) ends no session
                    if let Err(e) = self.sync_new_tasks() {
                        crate::ui::warn(&format!("looking for new tasks: {e:#}"));
                    }
                    continue;
                }
                Next::Rescan => {
                    crate::ui::note("the OS dropped file events: looking at every watched file");
                    fs.trees()
                }
                Next::Changes(p) => p,
            };
            for p in retry.drain(..) {
                if !paths.contains(&p) {
                    paths.push(p);
                }
            }
            let roots = self.roots();
            match self.changed(&paths) {
                Ok(events) if events.is_empty() => continue,
                Ok(_) => {}
                Err(e) => {
                    crate::ui::error(&format!("{e:#}"));
                    crate::ui::info(&format!(
                        "still watching: these changes are tried again in {} s",
                        RETRY_AFTER.as_secs()
                    ));
                    retry = paths;
                    continue;
                }
            }
            if self.roots() != roots {
                fs = self.watcher()?;
                self.follow_new_tasks(fs.waker())?;
            }
        }
    }
}

/// How long a batch docker could not take waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Every path below `dir` (or `dir` itself, a file), as changes.
fn list_tree(dir: &Path) -> Vec<Change> {
    fswatch::expand(&[dir.to_path_buf()], &|p: &Path| p.ends_with(".git"))
}

/// The running containers of a service on this node, sorted.
fn containers(docker: &Docker<'_>, stack: &str, service: &str) -> anyhow::Result<Vec<String>> {
    let mut v = crate::swarm::run::running_containers(docker, &format!("{stack}_{service}"))?;
    v.sort();
    Ok(v)
}

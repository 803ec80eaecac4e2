//! devenv's convergence watcher: every service watched at once (no per-service stability pause),
//! one progress line each, task errors surfaced as they happen, ready within a poll interval of
//! the last task running (and healthy — swarm reports a task with a healthcheck as starting until
//! it passes). A missing image, a crash loop, an unschedulable task or a paused/rolled-back
//! update fail fast; a timeout says what was still pending, with the failing services' logs.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::docker::{Docker, ServiceInspect, TaskLine, parse_lines};

/// Failed attempts of a service's current version after which it counts as crash-looping (when
/// they do not fail the same way twice first): `up --max-failures`' default too.
pub const MAX_FAILURES: usize = 4;

#[derive(Debug, Clone)]
pub struct Options {
    pub timeout: Duration,
    /// Failed task attempts of the current version before a service counts as crash-looping.
    pub max_failures: usize,
    pub poll: Duration,
    /// How long a task may stay unschedulable ("no suitable node") before it fails the deploy.
    pub unschedulable_grace: Duration,
    /// Progress output on stderr.
    pub progress: bool,
    /// The swarm has one node: a task stuck on "host-mode port already in use" while no
    /// container holds the port is a stale scheduler reservation, which a forced update clears.
    pub single_node: bool,
    /// How long each service must stay converged (no new failure) to count as ready: a task that
    /// crashes right after starting shows as running for an instant.
    pub stable_for: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(300),
            max_failures: MAX_FAILURES,
            poll: Duration::from_millis(250),
            unschedulable_grace: Duration::from_secs(5),
            progress: true,
            single_node: false,
            stable_for: Duration::from_secs(1),
        }
    }
}

/// Where a service is on its way to ready.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Starting,
    Running,
    Updating,
    /// A job, or a service whose tasks exit by design, finished.
    Completed,
    RunningJob,
    Failing,
    /// No such service (not deployed, or not yet).
    Missing,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Updating => "updating",
            Phase::Completed => "completed",
            Phase::RunningJob => "running job",
            Phase::Failing => "failing",
            Phase::Missing => "missing",
        })
    }
}

/// One service as the watcher sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceState {
    pub name: String,
    pub running: u64,
    pub desired: u64,
    pub phase: Phase,
    pub update: String,
    pub error: Option<String>,
    pub failures: usize,
    pub done: bool,
    pub fatal: Option<String>,
    pub nodes: Vec<String>,
}

impl ServiceState {
    pub fn line(&self) -> String {
        let mut s = format!(
            "{:<14} {}/{} {}",
            self.name, self.running, self.desired, self.phase
        );
        if !self.update.is_empty() && self.update != "completed" {
            s.push_str(&format!(" (update {})", self.update));
        }
        if let Some(e) = self.fatal.as_ref().or(self.error.as_ref()) {
            s.push_str(&format!(" — {e}"));
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ready,
    Failed,
    TimedOut,
}

/// The result of a watch.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    pub services: Vec<ServiceState>,
    pub elapsed: Duration,
    /// Last log lines of the failing (or still pending) services.
    pub logs: BTreeMap<String, String>,
}

fn fatal_image_error(e: &str) -> bool {
    let l = e.to_ascii_lowercase();
    l.contains("no such image")
        || l.contains("pull access denied")
        || l.contains("manifest unknown")
        || l.contains("repository does not exist")
        || l.contains("not found: manifest")
        || l.contains("invalid reference format")
}

fn started_at(s: &ServiceInspect) -> Option<SystemTime> {
    let t = s.update_status.as_ref()?.started_at.clone()?;
    let parsed =
        time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(parsed.unix_timestamp_nanos().max(0) as u64))
}

/// Whether the two newest failed attempts failed with the same error (`stack ps` lists the
/// newest first).
fn same_twice(failed: &[&&TaskLine]) -> bool {
    match failed {
        [a, b, ..] => {
            let e = a.error_text();
            !e.is_empty() && e == b.error_text()
        }
        _ => false,
    }
}

fn task_error(e: &Option<String>) -> String {
    e.as_ref()
        .map(|e| format!(" (last task error: {e})"))
        .unwrap_or_default()
}

/// Evaluates one service from its inspect data and its current-version tasks.
pub fn evaluate(
    short: &str,
    inspect: Option<&ServiceInspect>,
    tasks: &[&TaskLine],
    since: SystemTime,
    unschedulable_for: Option<Duration>,
    opts: &Options,
) -> ServiceState {
    let mut st = ServiceState {
        name: short.to_string(),
        running: 0,
        desired: 0,
        phase: Phase::Starting,
        update: String::new(),
        error: None,
        failures: 0,
        done: false,
        fatal: None,
        nodes: Vec::new(),
    };
    let Some(svc) = inspect else {
        st.phase = Phase::Missing;
        st.error = Some("the service does not exist (yet)".into());
        return st;
    };
    st.update = svc.update_state().to_string();
    let running: Vec<&&TaskLine> = tasks
        .iter()
        .filter(|t| t.desired_state.eq_ignore_ascii_case("running") && t.state() == "running")
        .collect();
    st.running = running.len() as u64;
    st.nodes = running.iter().map(|t| t.node.clone()).collect();
    st.nodes.sort();
    let completed = tasks.iter().filter(|t| t.state() == "complete").count() as u64;
    let failed: Vec<&&TaskLine> = tasks
        .iter()
        .filter(|t| matches!(t.state().as_str(), "failed" | "rejected"))
        .collect();
    st.failures = failed.len();
    // the newest error: `stack ps` lists the newest attempt of each slot first
    let newest_error = tasks.iter().map(|t| t.error_text()).find(|e| !e.is_empty());
    st.error = newest_error.clone();
    let mode = &svc.spec["Mode"];
    let restart = svc.spec["TaskTemplate"]["RestartPolicy"]["Condition"]
        .as_str()
        .unwrap_or("any");
    if let Some(job) = mode.get("ReplicatedJob") {
        st.desired = job["TotalCompletions"].as_u64().unwrap_or(1);
        st.running = completed;
        st.done = completed >= st.desired;
        st.phase = if st.done {
            Phase::Completed
        } else {
            Phase::RunningJob
        };
    } else if mode.get("GlobalJob").is_some() {
        st.desired = (tasks.len() as u64).max(1);
        st.running = completed;
        st.done = completed >= st.desired && !tasks.is_empty();
        st.phase = if st.done {
            Phase::Completed
        } else {
            Phase::RunningJob
        };
    } else {
        st.desired = match svc.replicas() {
            Some(n) => n,
            None => (tasks
                .iter()
                .filter(|t| t.desired_state.eq_ignore_ascii_case("running"))
                .count() as u64)
                .max(1),
        };
        let not_yet_running = tasks
            .iter()
            .any(|t| t.desired_state.eq_ignore_ascii_case("running") && t.state() != "running");
        // all replicas of the current version running is ready: swarm's own "monitor" window after
        // an update (5 s by default, while its update state still says "updating") is not waited
        // out; a rollback in progress is
        let updating = matches!(st.update.as_str(), "updating" | "rollback_started");
        let rolling_back = st.update == "rollback_started";
        let one_shot_done =
            restart != "any" && st.desired > 0 && completed >= st.desired && st.running == 0;
        st.done = (st.running == st.desired && !not_yet_running && !rolling_back) || one_shot_done;
        st.phase = if one_shot_done {
            Phase::Completed
        } else if st.done {
            Phase::Running
        } else if updating {
            Phase::Updating
        } else {
            Phase::Starting
        };
        if st.done {
            st.error = None;
        }
    }
    // fail fast
    if let Some(e) = &newest_error
        && fatal_image_error(e)
        && !st.done
    {
        st.fatal = Some(e.clone());
    } else if same_twice(&failed) && !st.done {
        // two attempts that fail the same way will fail that way again: say so now, not after
        // swarm's restart delay has passed twice more
        st.fatal = Some(format!(
            "crash loop: {} attempts failed the same way: {}",
            st.failures,
            newest_error
                .clone()
                .unwrap_or_else(|| "no error message".into())
        ));
    } else if st.failures >= opts.max_failures && !st.done {
        st.fatal = Some(format!(
            "crash loop: {} attempts failed, the last with: {}",
            st.failures,
            newest_error
                .clone()
                .unwrap_or_else(|| "no error message".into())
        ));
    } else if matches!(st.update.as_str(), "paused" | "rollback_paused") {
        let msg = svc
            .update_status
            .as_ref()
            .map(|u| u.message.clone())
            .unwrap_or_default();
        st.fatal = Some(format!(
            "update {}: {msg}{}",
            st.update.replace('_', " "),
            task_error(&newest_error)
        ));
    } else if st.update == "rollback_completed"
        && started_at(svc).is_some_and(|t| t + Duration::from_secs(2) >= since)
    {
        let msg = svc
            .update_status
            .as_ref()
            .map(|u| u.message.clone())
            .unwrap_or_default();
        let detail = if msg.is_empty() || msg == "rollback completed" {
            String::new()
        } else {
            format!(": {msg}")
        };
        st.fatal = Some(format!(
            "the update failed and was rolled back{detail}{}",
            task_error(&newest_error)
        ));
    } else if unschedulable_for.is_some_and(|d| d >= opts.unschedulable_grace) && !st.done {
        st.fatal = Some(
            newest_error
                .clone()
                .unwrap_or_else(|| "no node can run this task".into()),
        );
    }
    if st.fatal.is_some() {
        st.phase = Phase::Failing;
    }
    st
}

/// Prints progress: one live line per service on a terminal, changes only otherwise.
struct Progress {
    bars: Option<(indicatif::MultiProgress, Vec<indicatif::ProgressBar>)>,
    last: Vec<String>,
    enabled: bool,
}

impl Progress {
    fn new(n: usize, enabled: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bars = (enabled && tty).then(|| {
            let mp = indicatif::MultiProgress::new();
            let style =
                indicatif::ProgressStyle::with_template("{spinner} {msg}").expect("template");
            let bars = (0..n)
                .map(|_| {
                    let b = mp.add(indicatif::ProgressBar::new_spinner());
                    b.set_style(style.clone());
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                })
                .collect();
            (mp, bars)
        });
        Progress {
            bars,
            last: vec![String::new(); n],
            enabled,
        }
    }

    fn update(&mut self, states: &[ServiceState]) {
        if !self.enabled {
            return;
        }
        for (i, s) in states.iter().enumerate() {
            let line = s.line();
            if self.last[i] == line {
                continue;
            }
            self.last[i] = line.clone();
            match &self.bars {
                Some((_, bars)) => {
                    if s.done {
                        bars[i].finish_with_message(format!("✓ {line}"));
                    } else {
                        bars[i].set_message(line);
                    }
                }
                None => eprintln!("  {line}"),
            }
        }
    }

    fn finish(&self) {
        if let Some((_, bars)) = &self.bars {
            for b in bars {
                if !b.is_finished() {
                    b.abandon();
                }
            }
        }
    }
}

/// Task lines of a `service ps` / `stack ps` call (none when the service or stack is gone).
pub fn task_lines(docker: &Docker<'_>, args: &[&str]) -> anyhow::Result<Vec<TaskLine>> {
    let o = docker.try_query(args.iter().copied())?;
    if o.ok() {
        parse_lines(&o.stdout)
    } else {
        Ok(Vec::new())
    }
}

/// One look at `services` of `stack` as they are now: each one's state and its tasks.
pub fn look_now(
    docker: &Docker<'_>,
    stack: &str,
    services: &[String],
) -> anyhow::Result<Vec<(ServiceState, Vec<TaskLine>)>> {
    let full: Vec<String> = services.iter().map(|s| format!("{stack}_{s}")).collect();
    let (inspects, tasks) = snapshot(docker, stack, &full)?;
    let opts = Options::default();
    Ok(services
        .iter()
        .zip(&full)
        .map(|(short, f)| {
            let mine: Vec<&TaskLine> = tasks.iter().filter(|t| t.service() == f).collect();
            let state = evaluate(
                short,
                inspects.iter().find(|i| i.name() == *f),
                &mine,
                SystemTime::UNIX_EPOCH,
                None,
                &opts,
            );
            (state, mine.into_iter().cloned().collect())
        })
        .collect())
}

/// The services (full names) of a stack as `docker service inspect` shows them, and the tasks of
/// their current versions (`docker stack ps --filter _up-to-date=true`): two docker calls.
pub fn snapshot(
    docker: &Docker<'_>,
    stack: &str,
    full: &[String],
) -> anyhow::Result<(Vec<ServiceInspect>, Vec<TaskLine>)> {
    let mut args = vec!["service".to_string(), "inspect".into()];
    args.extend(full.iter().cloned());
    let o = docker.try_query(args)?;
    // missing services make inspect fail, but it still prints the ones it found
    let inspects: Vec<ServiceInspect> = if o.stdout.iter().any(|b| !b.is_ascii_whitespace()) {
        serde_json::from_slice(&o.stdout)
            .map_err(|e| anyhow::anyhow!("unexpected `docker service inspect` output: {e}"))?
    } else {
        Vec::new()
    };
    let tasks = task_lines(
        docker,
        &[
            "stack",
            "ps",
            stack,
            "--filter",
            "_up-to-date=true",
            "--no-trunc",
            "--format",
            crate::swarm::docker::JSON,
        ],
    )?;
    Ok((inspects, tasks))
}

/// The one change a deploy may need while it converges, as its own step: a forced update of the
/// service. On a single node, a task stuck on "host-mode port already in use" while no container
/// holds the port is a stale reservation of docker 20.10's scheduler, which it clears; an update
/// paused by the engine's own transient failure to start a task ([`transient_engine_error`]) is
/// resumed by it.
pub fn force_update(
    x: &mut crate::exec::Executor<'_>,
    docker: &Docker<'_>,
    service: &str,
) -> anyhow::Result<()> {
    crate::ui::debug(&format!("{service}: forcing an update (a new task)"));
    crate::swarm::docker::Apply::docker_raw(
        x,
        docker,
        ["service", "update", "--force", "--detach", service],
    )?;
    Ok(())
}

/// Whether a task's error is the engine failing to set up the container, not the service: dockerd
/// could not remount the tmpfs holding a task's secrets or configs read-only ("device or resource
/// busy", seen when other mount namespaces are created at that moment). Another task of the same
/// spec starts.
pub fn transient_engine_error(e: &str) -> bool {
    e.contains("unable to remount dir as readonly")
        || (e.contains("device or resource busy") && e.contains("/mounts/"))
}

/// Watches `services` (short names) of `stack` until all are ready, one fails, or the timeout.
/// It only looks; when it finds a stale host-port reservation, or an update the engine's own
/// transient error paused (once per service), it asks `force_update` (the caller runs
/// [`force_update`] through its executor).
pub fn watch(
    docker: &Docker<'_>,
    force_update: &mut dyn FnMut(&str) -> anyhow::Result<()>,
    stack: &str,
    services: &[String],
    since: SystemTime,
    opts: &Options,
) -> anyhow::Result<Report> {
    let start = Instant::now();
    let full: Vec<String> = services.iter().map(|s| format!("{stack}_{s}")).collect();
    let mut progress = Progress::new(services.len(), opts.progress);
    let mut unschedulable_since: BTreeMap<String, Instant> = BTreeMap::new();
    let mut nudged: std::collections::BTreeSet<String> = Default::default();
    // per service: since when it is converged, and its failure count then
    let mut stable: BTreeMap<String, (Instant, usize)> = BTreeMap::new();
    let mut holders: BTreeMap<String, String> = BTreeMap::new();
    // services whose update was resumed after a transient engine error, and when
    let mut retried: BTreeMap<String, Instant> = BTreeMap::new();
    loop {
        let (inspects, tasks) = snapshot(docker, stack, &full)?;
        let mut states: Vec<ServiceState> = Vec::with_capacity(services.len());
        for (short, f) in services.iter().zip(&full) {
            let ins = inspects.iter().find(|i| i.name() == *f);
            let mine: Vec<&TaskLine> = tasks.iter().filter(|t| t.service() == f).collect();
            let stuck = mine.iter().any(|t| {
                t.state() == "pending"
                    && t.error_text()
                        .to_ascii_lowercase()
                        .contains("no suitable node")
            });
            if !stuck {
                unschedulable_since.remove(f);
            }
            let mut waiting_for_own = None;
            if stuck && opts.single_node {
                let stuck_for = unschedulable_since
                    .entry(f.clone())
                    .or_insert_with(Instant::now)
                    .elapsed();
                if stuck_for >= Duration::from_secs(1) {
                    // who holds the host ports? (an old task of this same service that is still
                    // stopping is normal during an update)
                    let ports = ins.map(|i| i.host_ports()).unwrap_or_default();
                    let (own, other) = port_holders(docker, f, &ports)?;
                    if !own.is_empty() && other.is_empty() {
                        unschedulable_since.insert(f.clone(), Instant::now());
                        waiting_for_own = Some(format!(
                            "waiting for the old task to release port {}",
                            own[0]
                        ));
                    } else if !other.is_empty() {
                        holders.insert(f.clone(), other.join(", "));
                    } else if nudged.insert(f.clone()) {
                        force_update(f)?;
                        unschedulable_since.insert(f.clone(), Instant::now());
                    }
                }
            }
            let for_ = if stuck && waiting_for_own.is_none() {
                Some(
                    unschedulable_since
                        .entry(f.clone())
                        .or_insert_with(Instant::now)
                        .elapsed(),
                )
            } else {
                None
            };
            let mut st = evaluate(short, ins, &mine, since, for_, opts);
            if st
                .fatal
                .as_deref()
                .is_some_and(|e| transient_engine_error(e) && !e.starts_with("crash loop"))
            {
                match retried.get(f) {
                    None => {
                        crate::ui::warn(&format!(
                            "{short}: the engine failed to start its task ({}); trying once more",
                            st.fatal.as_deref().unwrap_or_default()
                        ));
                        force_update(f)?;
                        retried.insert(f.clone(), Instant::now());
                        st.fatal = None;
                    }
                    // the forced update has not replaced the paused one yet
                    Some(t) if t.elapsed() < Duration::from_secs(10) => st.fatal = None,
                    Some(_) => {}
                }
            }
            if let Some(w) = waiting_for_own
                && st.fatal.is_none()
            {
                st.error = Some(w);
            }
            if st.fatal.is_some()
                && let Some(h) = holders.get(f)
            {
                st.fatal = Some(format!("{} ({h})", st.fatal.clone().unwrap_or_default()));
            }
            states.push(st);
        }
        for s in &states {
            match stable.get(&s.name) {
                Some((_, f)) if s.done && *f == s.failures => {}
                _ if s.done => {
                    stable.insert(s.name.clone(), (Instant::now(), s.failures));
                }
                _ => {
                    stable.remove(&s.name);
                }
            }
        }
        progress.update(&states);
        let settled = states.iter().all(|s| {
            s.done
                && stable
                    .get(&s.name)
                    .is_some_and(|(t, _)| t.elapsed() >= opts.stable_for)
        });
        let outcome = if settled {
            Some(Outcome::Ready)
        } else if states.iter().any(|s| s.fatal.is_some()) {
            Some(Outcome::Failed)
        } else if start.elapsed() >= opts.timeout {
            Some(Outcome::TimedOut)
        } else {
            None
        };
        if let Some(outcome) = outcome {
            progress.finish();
            let logs = if outcome == Outcome::Ready {
                BTreeMap::new()
            } else {
                explain_failures(docker, stack, &mut states, outcome)?
            };
            return Ok(Report {
                outcome,
                services: states,
                elapsed: start.elapsed(),
                logs,
            });
        }
        std::thread::sleep(opts.poll);
    }
}

/// Who holds these host ports of service `full`: ports its own (old) tasks hold, and what other
/// containers hold ("port P is held by container C").
fn port_holders(
    docker: &Docker<'_>,
    full: &str,
    ports: &[u64],
) -> anyhow::Result<(Vec<u64>, Vec<String>)> {
    let mut own = Vec::new();
    let mut other = Vec::new();
    for p in ports {
        let o = docker.try_query([
            "ps",
            "--filter",
            &format!("publish={p}"),
            "--format",
            "{{.Names}}\t{{.Label \"com.docker.swarm.service.name\"}}",
        ])?;
        for line in o.stdout_str().lines().filter(|l| !l.trim().is_empty()) {
            let (name, svc) = line.split_once('\t').unwrap_or((line, ""));
            if svc == full {
                own.push(*p);
            } else {
                other.push(format!("port {p} is held by container {name}"));
            }
        }
    }
    Ok((own, other))
}

/// After a failure or timeout: each failing service's error from its task history, and the last
/// log lines of the failing (or, on a timeout, unfinished) services.
fn explain_failures(
    docker: &Docker<'_>,
    stack: &str,
    states: &mut [ServiceState],
    outcome: Outcome,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut logs = BTreeMap::new();
    // a rolled-back or paused update's failed tasks belong to the replaced spec: the
    // full task history names their error
    for s in states.iter_mut().filter(|s| {
        s.fatal
            .as_ref()
            .is_some_and(|f| !f.contains("last task error"))
    }) {
        let full = format!("{stack}_{}", s.name);
        let hist = task_lines(
            docker,
            &[
                "service",
                "ps",
                &full,
                "--no-trunc",
                "--format",
                crate::swarm::docker::JSON,
            ],
        )?;
        if let Some(e) = hist
            .iter()
            .map(|t| t.error_text())
            .find(|e| !e.is_empty())
            .filter(|e| !s.fatal.as_ref().is_some_and(|f| f.contains(e.as_str())))
        {
            s.fatal = Some(format!(
                "{}{}",
                s.fatal.clone().unwrap_or_default(),
                task_error(&Some(e))
            ));
        }
    }
    for s in states
        .iter()
        .filter(|s| s.fatal.is_some() || (outcome == Outcome::TimedOut && !s.done))
    {
        let l = docker.try_query([
            "service",
            "logs",
            "--tail",
            "20",
            "--no-task-ids",
            &format!("{stack}_{}", s.name),
        ])?;
        let text = format!("{}{}", l.stdout_str(), String::from_utf8_lossy(&l.stderr));
        if !text.trim().is_empty() {
            logs.insert(s.name.clone(), text);
        }
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `web` with these tasks, now, with the default options.
    fn evaluate_now(s: &ServiceInspect, tasks: &[&TaskLine]) -> ServiceState {
        evaluate(
            "web",
            Some(s),
            tasks,
            SystemTime::now(),
            None,
            &Options::default(),
        )
    }

    fn svc(json: &str) -> ServiceInspect {
        serde_json::from_str(json).unwrap()
    }

    fn task(name: &str, desired: &str, state: &str, err: &str) -> TaskLine {
        TaskLine {
            id: "t".into(),
            name: name.into(),
            desired_state: desired.into(),
            current_state: format!("{state} 1 second ago"),
            error: err.into(),
            node: "n1".into(),
            ..Default::default()
        }
    }

    const REPL2: &str = r#"{"ID":"x","Spec":{"Name":"s_web","Mode":{"Replicated":{"Replicas":2}},"TaskTemplate":{"RestartPolicy":{"Condition":"any"}}}}"#;

    #[test]
    fn converged_when_all_replicas_run() {
        let s = svc(REPL2);
        let a = task("s_web.1", "Running", "Running", "");
        let b = task("s_web.2", "Running", "Starting", "");
        let o = Options::default();
        let st = evaluate("web", Some(&s), &[&a, &b], SystemTime::now(), None, &o);
        assert!(!st.done && st.running == 1 && st.desired == 2);
        let b = task("s_web.2", "Running", "Running", "");
        let st = evaluate("web", Some(&s), &[&a, &b], SystemTime::now(), None, &o);
        assert!(st.done, "{st:?}");
    }

    #[test]
    fn missing_image_fails_fast() {
        let s = svc(REPL2);
        let a = task(
            "s_web.1",
            "Ready",
            "Rejected",
            "\"No such image: nosuch:1\"",
        );
        let st = evaluate_now(&s, &[&a]);
        assert_eq!(st.fatal.as_deref(), Some("No such image: nosuch:1"));
    }

    #[test]
    fn crash_loop_after_two_same_failures_or_max_failures() {
        let s = svc(REPL2);
        let same: Vec<TaskLine> = (0..2)
            .map(|_| task("s_web.1", "Shutdown", "Failed", "task: non-zero exit (1)"))
            .collect();
        let refs: Vec<&TaskLine> = same.iter().collect();
        let st = evaluate_now(&s, &refs[..1]);
        assert!(
            st.fatal.is_none() && st.failures == 1,
            "one failure is not a loop"
        );
        let st = evaluate_now(&s, &refs);
        assert_eq!(
            st.fatal.as_deref(),
            Some("crash loop: 2 attempts failed the same way: task: non-zero exit (1)")
        );
        // different failures: up to max_failures
        let mixed: Vec<TaskLine> = (0..4)
            .map(|i| {
                task(
                    "s_web.1",
                    "Shutdown",
                    "Failed",
                    &format!("task: non-zero exit ({i})"),
                )
            })
            .collect();
        let refs: Vec<&TaskLine> = mixed.iter().collect();
        assert!(evaluate_now(&s, &refs[..3]).fatal.is_none());
        assert!(
            evaluate_now(&s, &refs)
                .fatal
                .unwrap()
                .contains("crash loop: 4 attempts failed, the last with: task: non-zero exit (0)")
        );
    }

    #[test]
    fn the_engines_secrets_mount_failure_is_transient() {
        let e = "update paused: update paused due to failure or early termination of task 01w8 (last task error: starting container failed: unable to remount dir as readonly: mount tmpfs:/tmp/x/data/containers/de0e/mounts/secrets, flags: 0x21, data: uid=0,gid=0: device or resource busy)";
        assert!(super::transient_engine_error(e));
        assert!(!super::transient_engine_error(
            "update paused: update paused due to failure or early termination of task abc (last task error: task: non-zero exit (1))"
        ));
        assert!(!super::transient_engine_error("No such image: nosuch:1"));
    }

    #[test]
    fn paused_update_and_unschedulable_fail() {
        let s = svc(
            r#"{"ID":"x","Spec":{"Name":"s_web","Mode":{"Replicated":{"Replicas":1}}},"UpdateStatus":{"State":"paused","Message":"update paused due to failure or early termination of task abc"}}"#,
        );
        let st = evaluate_now(&s, &[]);
        assert!(
            st.fatal
                .unwrap()
                .starts_with("update paused: update paused due to failure")
        );
        let s = svc(REPL2);
        let p = task(
            "s_web.2",
            "Running",
            "Pending",
            "\"no suitable node (host-mode port already in use on 1 node)\"",
        );
        let o = Options::default();
        let st = evaluate(
            "web",
            Some(&s),
            &[&p],
            SystemTime::now(),
            Some(Duration::from_secs(1)),
            &o,
        );
        assert!(st.fatal.is_none() && st.error.as_deref().unwrap().contains("no suitable node"));
        let st = evaluate(
            "web",
            Some(&s),
            &[&p],
            SystemTime::now(),
            Some(Duration::from_secs(6)),
            &o,
        );
        assert!(st.fatal.unwrap().contains("host-mode port already in use"));
    }

    #[test]
    fn one_shot_services_complete() {
        let s = svc(
            r#"{"ID":"x","Spec":{"Name":"s_init","Mode":{"Replicated":{"Replicas":1}},"TaskTemplate":{"RestartPolicy":{"Condition":"on-failure"}}}}"#,
        );
        let c = task("s_init.1", "Shutdown", "Complete", "");
        let st = evaluate(
            "init",
            Some(&s),
            &[&c],
            SystemTime::now(),
            None,
            &Options::default(),
        );
        assert!(st.done && st.phase == Phase::Completed, "{st:?}");
        let j = svc(
            r#"{"ID":"x","Spec":{"Name":"s_job","Mode":{"ReplicatedJob":{"MaxConcurrent":1,"TotalCompletions":2}}}}"#,
        );
        let st = evaluate(
            "job",
            Some(&j),
            &[&c],
            SystemTime::now(),
            None,
            &Options::default(),
        );
        assert!(!st.done);
        let st = evaluate(
            "job",
            Some(&j),
            &[&c, &c],
            SystemTime::now(),
            None,
            &Options::default(),
        );
        assert!(st.done);
    }
}

//! `devenv doctor`: every check — the profile, docker and its context, the swarm and its nodes,
//! the guard, IPVS, ports, the clock, the hosts entries and how they resolve, the CA, each trust
//! store, the leaf — each failing one with the command that fixes it. Reads only.

use serde::Serialize;

use super::Ctx;
use crate::certs::ca::Ca;
use crate::certs::leaf;
use crate::certs::trust::{self, CaRef, Trust};
use crate::profile::{Profile, Project, Tls};
use crate::state::State;
use crate::swarm::guard::Cluster;
use crate::swarm::ports::PortState;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// What to do about a `warn` or `fail` (always present in JSON, `null` when none).
    pub fix: Option<String>,
}

struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, check: &str, status: Status, detail: impl Into<String>, fix: Option<String>) {
        self.0.push(Check {
            check: check.into(),
            status,
            detail: detail.into(),
            fix,
        });
    }
    fn ok(&mut self, check: &str, detail: impl Into<String>) {
        self.add(check, Status::Ok, detail, None);
    }
    fn fail(&mut self, check: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.add(check, Status::Fail, detail, Some(fix.into()));
    }
    fn warn(&mut self, check: &str, detail: impl Into<String>, fix: Option<String>) {
        self.add(check, Status::Warn, detail, fix);
    }
}

/// Every check's result.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub profile: String,
    pub ok: bool,
    pub checks: Vec<Check>,
}

pub fn doctor(ctx: &Ctx, profile_arg: Option<&str>) -> anyhow::Result<DoctorReport> {
    let project = ctx.project()?;
    let profile = ctx.profile(&project, profile_arg)?;
    let state = State::load(&project.root)?;
    let mut c = Checks(Vec::new());
    let rendered = match ctx.render(&project, &profile) {
        Ok(r) => {
            c.ok(
                "profile",
                format!(
                    "{} renders ({} services)",
                    profile.name,
                    r.service_names().len()
                ),
            );
            Some(r)
        }
        Err(e) => {
            c.fail(
                "profile",
                format!("{e:#}"),
                "fix the file and line named above",
            );
            None
        }
    };
    docker_checks(ctx, &project, &profile, &state, rendered.as_ref(), &mut c);
    hosts_checks(ctx, &project, &profile, &mut c);
    cert_checks(ctx, &project, &profile, &mut c);
    let ok = !c.0.iter().any(|x| x.status == Status::Fail);
    Ok(DoctorReport {
        profile: profile.name,
        ok,
        checks: c.0,
    })
}

impl DoctorReport {
    /// The report as text: one line per check, each failing one with its fix.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for x in &self.checks {
            let (label, style) = match x.status {
                Status::Ok => ("ok", crate::ui::Style::Green),
                Status::Warn => ("warn", crate::ui::Style::Yellow),
                Status::Fail => ("FAIL", crate::ui::Style::Red),
                Status::Skip => ("skip", crate::ui::Style::Dim),
            };
            out.push_str(&format!(
                "{} {:<10} {}\n",
                crate::ui::paint(style, &format!("{label:<4}"), true),
                x.check,
                x.detail
            ));
            if let Some(f) = &x.fix {
                out.push_str(&format!("                fix: {f}\n"));
            }
        }
        if self.ok {
            out.push_str("\neverything devenv checks is fine\n");
        } else {
            out.push_str(
                "\nsomething is broken: run the fixes above, then `devenv doctor` again\n",
            );
        }
        out
    }
}

fn docker_checks(
    ctx: &Ctx,
    project: &Project,
    profile: &Profile,
    state: &State,
    rendered: Option<&crate::render::Rendered>,
    c: &mut Checks,
) {
    let context = &profile.file.docker.context;
    let docker = match ctx.docker_as_is(profile) {
        Ok(d) => d,
        Err(e) => {
            let hint = e
                .downcast_ref::<crate::error::UserError>()
                .and_then(|u| u.hint.clone())
                .unwrap_or_default();
            let first = e.to_string().lines().next().unwrap_or_default().to_string();
            c.fail("docker", first, hint);
            return;
        }
    };
    // a context the profile's `docker.host` declares is read through that host until `up`
    // creates it
    let docker = match crate::swarm::target::context_state(&docker, profile) {
        Ok(crate::swarm::target::ContextState::Exists) => docker,
        Ok(crate::swarm::target::ContextState::Create(host)) => {
            c.warn(
                "context",
                format!(
                    "the docker context `{context}` does not exist yet (checked through {host})"
                ),
                Some("`devenv up` creates it from docker.host".into()),
            );
            docker.through_host(&host)
        }
        Err(e) => {
            let hint = e
                .downcast_ref::<crate::error::UserError>()
                .and_then(|u| u.hint.clone())
                .unwrap_or_default();
            let first = e.to_string().lines().next().unwrap_or_default().to_string();
            c.fail("docker", first, hint);
            return;
        }
    };
    let info = match docker.info() {
        Ok(i) => i,
        Err(e) => {
            let hint = e
                .downcast_ref::<crate::error::UserError>()
                .and_then(|u| u.hint.clone())
                .unwrap_or_else(|| "start the docker engine".into());
            c.fail(
                "docker",
                format!(
                    "the engine of context `{context}` does not answer: {}",
                    e.to_string().lines().next().unwrap_or_default()
                ),
                hint,
            );
            return;
        }
    };
    let client = docker
        .version()
        .ok()
        .and_then(|v| v.client)
        .map(|c| c.version)
        .unwrap_or_default();
    c.ok(
        "docker",
        format!(
            "client {client}, engine {} (context `{context}`)",
            info.server_version
        ),
    );
    // swarm state and role
    match info.swarm.local_node_state.as_str() {
        "active" if info.swarm.control_available => c.ok(
            "swarm",
            format!(
                "manager, {} node(s), cluster {}",
                info.swarm.nodes,
                info.swarm.cluster_id().unwrap_or("?")
            ),
        ),
        "active" => c.fail(
            "swarm",
            "this engine is a swarm worker",
            "point docker.context at a manager",
        ),
        "inactive" if profile.on_this_machine() => c.warn(
            "swarm",
            "not in a swarm yet",
            Some("`devenv up` initialises a single-node swarm".into()),
        ),
        "inactive" => c.fail(
            "swarm",
            "not in a swarm",
            "`docker swarm init` on the server (or docker.swarm: true for a local profile)",
        ),
        s => c.fail(
            "swarm",
            format!("state {s}: {}", info.swarm.error),
            "`docker info`; `docker swarm leave --force` resets a broken single-node swarm",
        ),
    }
    // the nodes of a multi-node swarm, and placement constraints against them
    if info.swarm.control_available && info.swarm.nodes > 1 {
        match crate::swarm::target::nodes(&docker) {
            Ok(nodes) => {
                for n in &nodes {
                    let name = format!(
                        "{} ({}, {})",
                        n.description.hostname, n.spec.role, n.status.addr
                    );
                    if !n.status.state.eq_ignore_ascii_case("ready") {
                        c.fail(
                            "node",
                            format!("{name} is {}", n.status.state),
                            format!(
                                "check the engine on {}; `docker node ls`",
                                n.description.hostname
                            ),
                        );
                    } else if !n.spec.availability.eq_ignore_ascii_case("active") {
                        c.warn("node", format!("{name} is {}", n.spec.availability), Some(format!("`docker node update --availability active {}` when it should take tasks again", n.id)));
                    } else {
                        c.ok("node", format!("{name} ready"));
                    }
                }
                if let Some(r) = rendered {
                    for p in crate::swarm::target::unplaceable(&r.view, &nodes) {
                        c.fail("placement", p, "fix the constraint or label a node (`docker node update --label-add KEY=VALUE NODE`)");
                    }
                }
            }
            Err(e) => c.warn("node", format!("cannot list the nodes: {e}"), None),
        }
    }
    // the guard
    let actual = info.swarm.cluster_id().unwrap_or_default();
    match crate::swarm::guard::cluster(profile, state, actual) {
        Cluster::Pinned {
            pinned,
            matches: true,
        } => c.ok(
            "guard",
            format!("context `{context}` reaches swarm {pinned}, as the profile pins"),
        ),
        Cluster::Pinned {
            pinned,
            matches: false,
        } => c.fail(
            "guard",
            format!("the profile pins swarm {pinned}, context `{context}` reaches {actual}"),
            format!("check `docker context inspect {context}`, or update docker.cluster_id"),
        ),
        Cluster::Recorded {
            recorded,
            matches: true,
        } => c.ok(
            "guard",
            format!("context `{context}` reaches swarm {recorded}, as at the last deploy"),
        ),
        Cluster::Recorded {
            recorded,
            matches: false,
        } => c.fail(
            "guard",
            format!(
                "deployed to swarm {recorded} before, context `{context}` now reaches {actual}"
            ),
            "`devenv up --new-cluster` if the swarm was re-created on purpose",
        ),
        Cluster::Unrecorded => c.ok(
            "guard",
            format!("context `{context}`; the swarm is recorded at the first deploy"),
        ),
    }
    // IPVS
    if profile.on_this_machine() {
        use crate::sys::ipvs::IpvsState;
        match ctx.engine_ipvs(profile) {
            Some(IpvsState::Absent) if profile.file.docker.publish == crate::profile::Publish::Ingress => c.fail(
                "ipvs",
                "the kernel has no IPVS, so the routing mesh (publish: ingress) cannot route",
                "set docker.publish: auto (host-mode ports + dnsrr), or use a kernel with ip_vs",
            ),
            Some(IpvsState::Absent) => c.ok("ipvs", "no IPVS in this kernel: devenv publishes host-mode ports and uses DNS round-robin"),
            Some(s) => c.ok("ipvs", format!("{}: the routing mesh and service VIPs", s.describe())),
            None => c.add(
                "ipvs",
                Status::Skip,
                "the engine runs on another kernel (Docker Desktop's VM, or elsewhere): the routing mesh is assumed, as those kernels have IPVS",
                None,
            ),
        }
    }
    // ports of the stack on this machine
    if let Some(r) = rendered
        && profile.on_this_machine()
    {
        let stack = profile.stack_name(project);
        let windows = (ctx.sys.platform().os == crate::platform::Os::Windows)
            .then(|| crate::swarm::ports::WindowsPorts::read(ctx.sys.as_ref()));
        let mut ports = r.view.published_ports();
        if windows.is_some() {
            // `docker swarm init` needs the managers' port
            ports.push(2377);
        }
        for port in ports {
            let check = format!("port {port}");
            if let Some(b) = windows
                .as_ref()
                .and_then(|w| u16::try_from(port).ok().and_then(|p| w.blocker(p)))
            {
                c.fail(&check, b.cause, b.fix);
                continue;
            }
            if port == 2377 {
                c.ok(
                    &check,
                    "not reserved by Windows (the swarm's managers use it)",
                );
                continue;
            }
            match crate::swarm::ports::state(&docker, &stack, port) {
                PortState::Free => c.ok(&check, "free"),
                PortState::Ours => c.ok(&check, format!("held by this stack ({stack})")),
                PortState::Other(who) => c.fail(
                    &check,
                    format!("in use by {who}"),
                    format!("stop it (`sudo ss -ltnp 'sport = :{port}'` shows which), or publish another port"),
                ),
                PortState::Unknown(e) => {
                    c.add(&check, Status::Skip, format!("cannot check: {e}"), None)
                }
            }
        }
    }
    // build contexts, and every other image: on the engine, or resolvable in its registry
    if let Some(r) = rendered {
        image_checks(&docker, project, profile, r, c);
    }
    login_check(ctx.sys.as_ref(), profile, c);
    // clock
    let now = time::OffsetDateTime::from_unix_timestamp(ctx.sys.now())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let engine = docker
        .query(["info", "--format", "{{.SystemTime}}"])
        .ok()
        .and_then(|o| {
            time::OffsetDateTime::parse(
                o.stdout_str().trim(),
                &time::format_description::well_known::Rfc3339,
            )
            .ok()
        });
    match engine {
        Some(t) if (t - now).whole_seconds().abs() > 60 => c.fail(
            "clock",
            format!(
                "this machine and the engine disagree by {}s",
                (t - now).whole_seconds().abs()
            ),
            "sync the clocks (`timedatectl set-ntp true`; Docker Desktop: restart it)",
        ),
        Some(_) => c.ok("clock", "this machine and the engine agree"),
        None => c.add("clock", Status::Skip, "the engine's time is unknown", None),
    }
}

fn hosts_checks(ctx: &Ctx, project: &Project, profile: &Profile, c: &mut Checks) {
    let names = match crate::hosts::names_for(profile) {
        Ok(n) if !n.is_empty() => n,
        Ok(_) => return,
        Err(e) => {
            c.fail("hosts", e.to_string(), "fix the name in the profile");
            return;
        }
    };
    if names.iter().all(|n| crate::probe::is_localhost(n)) {
        c.ok(
            "hosts",
            format!(
                "{} under .localhost: browsers and curl resolve them to this machine themselves (no hosts entry needed; programs that ask the system's resolver may not: `devenv hosts apply` maps them)",
                names.join(", ")
            ),
        );
        return;
    }
    let apply = format!("`{}`", ctx.again(project, "hosts apply"));
    let changed = super::hosts::integrity(ctx, project);
    for f in &changed {
        c.fail("hosts", f.message.clone(), f.fix.clone());
    }
    for path in ctx.hosts_targets() {
        let said = changed.iter().any(|f| f.file == path.display().to_string());
        match crate::hosts::plan(
            &path,
            project,
            profile,
            crate::hosts::Action::Map(names.clone()),
            &crate::hosts::write::Options::for_file(ctx.sys.as_ref(), &path),
            ctx.maps_ipv6(profile),
        ) {
            Ok(p) => {
                for x in p.conflicts.iter().filter(|x| x.shadows) {
                    c.fail(
                        "hosts",
                        format!(
                            "{}:{} maps {} to {}, before devenv's block",
                            path.display(),
                            x.line,
                            x.name,
                            x.address
                        ),
                        format!("remove or comment out that line, then {apply}"),
                    );
                }
                if p.changes() && !said {
                    c.fail(
                        "hosts",
                        format!(
                            "{}: the block of {} is missing or out of date",
                            path.display(),
                            project.name()
                        ),
                        apply.clone(),
                    );
                }
            }
            Err(e) => c.fail(
                "hosts",
                e.to_string(),
                "`devenv hosts restore` brings back the last backup",
            ),
        }
    }
    let lookup = ctx.lookup(project);
    if let Some(file) = &lookup.source {
        // a named file this machine's resolver does not read: what devenv's probes use
        for n in &names {
            match lookup.mapped.get(n) {
                Some(ips) => c.ok(
                    "resolve",
                    format!(
                        "{n} → {} in {} (devenv's probes use it; this machine's resolver does not read that file)",
                        ips.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
                        file.display()
                    ),
                ),
                None => c.fail(
                    "resolve",
                    format!("{n} is not mapped in {}", file.display()),
                    apply.clone(),
                ),
            }
        }
    } else {
        for r in crate::dns::verify(&names) {
            if r.loopback() {
                c.ok("resolve", r.describe());
            } else {
                c.fail("resolve", r.describe(), format!("{apply}; if it still fails, flush DNS caches (doctor shows the commands with -v)"));
            }
        }
    }
}

fn cert_checks(ctx: &Ctx, project: &Project, profile: &Profile, c: &mut Checks) {
    if profile.file.tls != Tls::LocalCa {
        return;
    }
    let dir = match crate::certs::issue::caroot_for(ctx.sys.as_ref(), Some(project)) {
        Ok(d) => d,
        Err(e) => {
            c.fail("ca", e.to_string(), "move DEVENV_CAROOT out of the project");
            return;
        }
    };
    let ca = match Ca::load(&dir) {
        Ok(Some(ca)) => ca,
        Ok(None) => {
            c.fail(
                "ca",
                format!("no CA in {}", dir.display()),
                "`devenv certs trust`",
            );
            return;
        }
        Err(e) => {
            let hint = e
                .downcast_ref::<crate::error::UserError>()
                .and_then(|u| u.hint.clone())
                .unwrap_or_default();
            c.fail(
                "ca",
                e.to_string().lines().next().unwrap_or_default().to_string(),
                hint,
            );
            return;
        }
    };
    let now = ctx.sys.now();
    let days = (ca.not_after - now) / 86400;
    if days < 30 {
        c.warn(
            "ca",
            format!("expires in {days} days"),
            Some("`devenv certs rotate`".into()),
        );
    } else if ca.permitted.is_some() && !ca.mail_and_uri_closed {
        c.warn(
            "ca",
            format!(
                "{} leaves e-mail and URI names unconstrained (made by an older devenv): its key could sign S/MIME or URI certificates",
                ca.nickname()
            ),
            Some("`devenv certs rotate` (a new CA that closes them, trusted again)".into()),
        );
    } else {
        c.ok(
            "ca",
            format!("{} ({}), {days} days left", ca.nickname(), dir.display()),
        );
    }
    let u = crate::paths::invoking_user(ctx.sys.as_ref());
    let env = trust::Env {
        sys: ctx.sys.as_ref(),
        platform: ctx.sys.platform(),
        home: crate::platform::OsPath::new(ctx.sys.platform().os, u.home.to_string_lossy()),
        run_as: None,
        is_root: ctx.sys.is_admin(),
        ca: CaRef::from_ca(&ca),
        macos_user: false,
        windows_machine: false,
    };
    for s in trust::discover(&env) {
        match s.check(&env) {
            Trust::Trusted => c.ok("trust", format!("trusted by {}", s.describe())),
            Trust::NotTrusted => c.fail(
                "trust",
                format!("not trusted by {}", s.describe()),
                "`devenv certs trust`",
            ),
            Trust::Unknown(w) => c.warn("trust", format!("{}: {w}", s.describe()), None),
        }
    }
    let (crt, key) = crate::certs::leaf_paths(&project.root, &profile.name);
    let names = leaf::desired_names(profile).unwrap_or_default();
    let issue = format!(
        "`devenv -C {} certs issue {}`",
        crate::sys::shell_quote(&project.root.to_string_lossy()),
        profile.name
    );
    match leaf::check(&project.scope(), &ca, &crt, &key, &names, now) {
        Ok(l) => c.ok(
            "leaf",
            format!(
                "{}: {}, {} days left",
                crate::error::display_path(&crt),
                l.info.sans.join(", "),
                (l.info.not_after - now) / 86400
            ),
        ),
        Err(n) => c.fail(
            "leaf",
            format!("{}: {n}", crate::error::display_path(&crt)),
            issue,
        ),
    }
    if let Err(e) = leaf::check_constraints(&ca, profile, &names) {
        c.fail(
            "leaf",
            e.to_string().lines().next().unwrap_or_default().to_string(),
            "use .test names, or `devenv certs rotate --permit SUFFIX`",
        );
    }
}

/// A registry profile: is the docker CLI logged in to its registry (pushes need it)?
fn login_check(sys: &dyn crate::sys::Facts, profile: &Profile, c: &mut Checks) {
    let Some(reg) = &profile.file.registry else {
        return;
    };
    let registry = crate::swarm::advice::registry_of(&format!("{}/x", reg.prefix));
    let dir = sys
        .var("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::paths::invoking_user(sys).home.join(".docker"));
    let check = format!("login {registry}");
    let login = sys
        .read_file(&dir.join("config.json"))
        .ok()
        .and_then(|b| crate::swarm::advice::login_of(&String::from_utf8_lossy(&b), &registry));
    match login {
        Some(how) => c.ok(&check, format!("logged in ({how})")),
        None => c.warn(
            &check,
            format!(
                "not logged in to {registry}: pushing the profile's images (and pulling private ones) will be refused"
            ),
            Some(format!("`docker login {registry}`")),
        ),
    }
}

fn image_checks(
    docker: &crate::swarm::docker::Docker<'_>,
    project: &Project,
    profile: &Profile,
    r: &crate::render::Rendered,
    c: &mut Checks,
) {
    for b in &r.builds {
        let check = format!("build {}", b.service);
        let dir = project.root.join(&b.context);
        let file = dir.join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
        if !dir.is_dir() {
            c.fail(
                &check,
                format!("the build context {} does not exist", dir.display()),
                "fix `build:` in the stack (paths are relative to the project root)",
            );
        } else if !file.is_file() {
            c.fail(
                &check,
                format!("{} does not exist", file.display()),
                "add the Dockerfile, or name it with `build: {dockerfile: ...}`",
            );
        } else {
            c.ok(&check, format!("{} and {}", dir.display(), file.display()));
        }
    }
    let built: Vec<&str> = r.builds.iter().map(|b| b.service.as_str()).collect();
    // the base images of the builds (`FROM`), then the images the stack runs
    let mut wanted: Vec<(String, String)> = Vec::new();
    for b in &r.builds {
        let file = project
            .root
            .join(&b.context)
            .join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
        let text = project
            .scope()
            .read_string(&file, crate::swarm::build::MAX_DOCKERFILE_BYTES)
            .unwrap_or_default();
        for base in crate::swarm::build::base_images(&text) {
            wanted.push((
                base.clone(),
                format!("image {base} (FROM of {})", b.service),
            ));
        }
    }
    for (svc, image) in crate::swarm::deploy::images(&r.stack) {
        if !built.contains(&svc.as_str()) {
            wanted.push((image.clone(), format!("image {image}")));
        }
    }
    let mut seen = Vec::new();
    let mut unreachable: Vec<(String, String, String)> = Vec::new();
    for (image, check) in &wanted {
        if seen.contains(image) {
            continue;
        }
        seen.push(image.clone());
        let local = docker
            .try_query(["image", "inspect", "--format", "{{.Id}}", image.as_str()])
            .is_ok_and(|o| o.ok());
        if local {
            c.ok(check, "on the engine");
            continue;
        }
        let registry = crate::swarm::advice::registry_of(image);
        if let Some((detail, fix)) = unreachable
            .iter()
            .find(|(r, _, _)| *r == registry)
            .map(|(_, d, f)| (d.clone(), f.clone()))
        {
            c.fail(check, detail, fix);
            continue;
        }
        match docker.try_query(["manifest", "inspect", image.as_str()]) {
            Ok(o) if o.ok() => c.ok(check, format!("not on the engine; {registry} has it")),
            Ok(o) => {
                let err = crate::swarm::advice::pull_error(image, &o.stderr_str());
                let hint = err
                    .downcast_ref::<crate::error::UserError>()
                    .and_then(|u| u.hint.clone())
                    .unwrap_or_default();
                let first = err
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if first.contains("cannot be reached") {
                    // one answer per registry: the next images of it are not asked again
                    unreachable.push((
                        registry.clone(),
                        format!("the registry {registry} cannot be reached (see image {image})"),
                        hint.clone(),
                    ));
                }
                if profile.on_this_machine() || o.stderr_str().contains("no such manifest") {
                    c.fail(check, first, hint);
                } else {
                    c.warn(check, first, Some(hint));
                }
            }
            Err(e) => c.add(check, Status::Skip, format!("cannot check: {e}"), None),
        }
    }
}

//! `build` and `push`: services with a build context are built and tagged with a hash of their
//! context (so the same sources are never rebuilt, and a change is a new tag the stack points at,
//! since `docker stack deploy` ignores `build:`); registry profiles push those tags.

use crate::swarm::docker::Apply;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::docker::Docker;
use crate::contained::{EntryKind, Scope};
use crate::error::UserError;
use crate::exec::Executor;
use crate::profile::Project;
use crate::render::{BuildContext, BuildSpec, Rendered};

/// The largest file of a build context devenv hashes (docker sends it all; a file this large is
/// hashed by its size and time instead of its bytes).
const HASH_WHOLE_BELOW: u64 = 256 << 20;

/// A hash of everything a build reads: the context's files (minus `.dockerignore`d ones), the
/// Dockerfile, build args and target. The context is walked through the project's scope: a
/// symlink counts by where it points and is never followed (docker does not follow it either),
/// a FIFO, socket or device is never opened.
pub fn context_hash(scope: &Scope, context: &Path, spec: &BuildSpec) -> anyhow::Result<String> {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    hash_tree(&mut h, scope, context, spec)?;
    for (name, c) in &spec.contexts {
        h.update(format!("\0context {name}\0").as_bytes());
        match c {
            BuildContext::Dir(d) => {
                let dir = scope.dir(d).map_err(|e| {
                    anyhow::anyhow!("build context `{name}` of {}: {e}", spec.service)
                })?;
                hash_tree(&mut h, scope, &dir, spec)?;
            }
            BuildContext::Remote(r) => h.update(r.as_bytes()),
        }
    }
    h.update(
        format!(
            "{:?}|{:?}|{:?}|{:?}",
            spec.dockerfile, spec.args, spec.target, spec.flags
        )
        .as_bytes(),
    );
    Ok(crate::hash::hex(h.finish().as_ref())[..12].to_string())
}

/// Feeds the files of one build context directory (minus `.dockerignore`d ones) to `h`.
fn hash_tree(
    h: &mut ring::digest::Context,
    scope: &Scope,
    context: &Path,
    spec: &BuildSpec,
) -> anyhow::Result<()> {
    // the context as the scope lists it (canonical, without Windows' verbatim prefix)
    let context = &scope
        .dir(context)
        .map_err(|e| anyhow::anyhow!("build context of {}: {e}", spec.service))?;
    let rules = crate::patterns::Patterns::dockerignore(scope, context);
    let mut files: Vec<(String, PathBuf, u64)> = Vec::new();
    let mut links: Vec<(String, String)> = Vec::new();
    let mut stack = vec![context.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = scope
            .list(&dir)
            .map_err(|e| anyhow::anyhow!("build context of {}: {e}", spec.service))?;
        for e in entries {
            let rel = e
                .path
                .strip_prefix(context)
                .unwrap_or(&e.path)
                .to_string_lossy()
                .replace('\\', "/");
            if rel == ".git" || rules.matches(&rel) {
                continue;
            }
            match e.kind {
                EntryKind::Dir => stack.push(e.path),
                EntryKind::File => files.push((rel, e.path, e.len)),
                EntryKind::Symlink => {
                    let target = crate::contained::link_target(&e.path).unwrap_or_default();
                    links.push((rel, target.to_string_lossy().into_owned()));
                }
                EntryKind::Other => {}
            }
        }
    }
    files.sort();
    for (rel, p, len) in &files {
        h.update(rel.as_bytes());
        h.update(b"\0");
        if *len >= HASH_WHOLE_BELOW {
            h.update(format!("large:{len}").as_bytes());
            continue;
        }
        let f = scope
            .open(p)
            .map_err(|e| anyhow::anyhow!("build context of {}: {e}", spec.service))?;
        // exactly the bytes its size says, as it was when opened (a file that grows while it is
        // hashed counts as it was)
        h.update(&f.len.to_le_bytes());
        let mut r = std::io::Read::take(f.file, f.len);
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = std::io::Read::read(&mut r, &mut buf)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    links.sort();
    for (rel, target) in &links {
        h.update(format!("{rel} -> {target}\0").as_bytes());
    }
    Ok(())
}

/// A service's build context: a directory inside the project (or one the profile lists under
/// `read_outside:`), its real path.
pub fn context_dir(scope: &Scope, b: &BuildSpec) -> anyhow::Result<PathBuf> {
    scope.dir(&b.context).map_err(|e| {
        let hint = match &e {
            crate::contained::ReadError::NotFound { .. } => {
                "`build:` paths are relative to the project root".to_string()
            }
            e => e.hint(),
        };
        UserError::usage(format!("service {}: build context: {e}", b.service))
            .hint(hint)
            .into()
    })
}

/// The tag of each service with a build context.
pub fn tags(project: &Project, r: &Rendered) -> anyhow::Result<BTreeMap<String, String>> {
    let scope = project.scope();
    let mut out = BTreeMap::new();
    for b in &r.builds {
        let ctx = context_dir(&scope, b)?;
        out.insert(
            b.service.clone(),
            format!("{}:{}", b.repository, context_hash(&scope, &ctx, b)?),
        );
    }
    Ok(out)
}

/// The largest Dockerfile devenv reads for its base images.
pub const MAX_DOCKERFILE_BYTES: u64 = 1 << 20;

/// One image a deploy needs built.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildStep {
    pub service: String,
    pub tag: String,
    pub context: PathBuf,
    pub dockerfile: Option<String>,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    /// Other `docker build` arguments (`--label`, `k=v`…).
    pub flags: Vec<String>,
    /// `--build-context NAME=VALUE` (a project directory as its real path).
    pub contexts: Vec<(String, String)>,
    /// The tag exists on the engine already (the same sources were built before).
    pub built: bool,
    /// Base images of its Dockerfile that the engine does not have (pulled before the build,
    /// so an unreachable registry is named as such).
    pub missing_bases: Vec<String>,
}

/// The images a Dockerfile builds `FROM` (not its own stages, not `scratch`, not ones that
/// depend on a build argument).
pub fn base_images(dockerfile: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    // continuation lines joined
    let text = dockerfile.replace("\\\n", " ");
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        {
            continue;
        }
        let rest: Vec<&str> = words[1..]
            .iter()
            .copied()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let Some(image) = rest.first() else { continue };
        let lower = image.to_lowercase();
        let own_stage = stages.contains(&lower);
        if let Some(i) = rest.iter().position(|w| w.eq_ignore_ascii_case("AS"))
            && let Some(name) = rest.get(i + 1)
        {
            stages.push(name.to_lowercase());
        }
        if lower == "scratch" || image.contains('$') || own_stage {
            continue;
        }
        if !out.iter().any(|o| o == image) {
            out.push(image.to_string());
        }
    }
    out
}

impl BuildStep {
    /// `docker build` arguments.
    pub fn args(&self, quiet: bool) -> Vec<String> {
        let mut args: Vec<String> = vec!["build".into(), "-t".into(), self.tag.clone()];
        if let Some(f) = &self.dockerfile {
            args.push("-f".into());
            args.push(self.context.join(f).to_string_lossy().into_owned());
        }
        for (k, v) in &self.args {
            args.push("--build-arg".into());
            args.push(format!("{k}={v}"));
        }
        if let Some(t) = &self.target {
            args.push("--target".into());
            args.push(t.clone());
        }
        args.extend(self.flags.iter().cloned());
        for (name, value) in &self.contexts {
            args.push("--build-context".into());
            args.push(format!("{name}={value}"));
        }
        if quiet {
            args.push("-q".into());
        }
        args.push(self.context.to_string_lossy().into_owned());
        args
    }
}

/// The builds of `r`: each service with a build context, its tag, and whether it is built.
pub fn plan(
    docker: &Docker<'_>,
    project: &Project,
    r: &Rendered,
) -> anyhow::Result<Vec<BuildStep>> {
    let tags = tags(project, r)?;
    let mut out = Vec::new();
    for b in &r.builds {
        let tag = tags[&b.service].clone();
        let built = docker
            .try_query(["image", "inspect", "--format", "{{.Id}}", tag.as_str()])?
            .ok();
        let mut missing_bases = Vec::new();
        // `--build-context` is BuildKit's (buildx); docker's classic builder refuses the flag
        if !built && !b.contexts.is_empty() && !docker.try_query(["buildx", "version"])?.ok() {
            return Err(UserError::usage(format!(
                "service {}: build.additional_contexts needs BuildKit (`docker buildx`), which this docker does not have",
                b.service
            ))
            .hint("install the buildx plugin (Debian: docker-buildx; Docker Desktop has it), or copy what the build needs into its context")
            .into());
        }
        if !built {
            let file = project
                .root
                .join(&b.context)
                .join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
            let text = project
                .scope()
                .read_string(&file, MAX_DOCKERFILE_BYTES)
                .unwrap_or_default();
            for base in base_images(&text) {
                if !docker
                    .try_query(["image", "inspect", "--format", "{{.Id}}", base.as_str()])?
                    .ok()
                {
                    missing_bases.push(base);
                }
            }
        }
        let scope = project.scope();
        let mut contexts = Vec::new();
        for (name, c) in &b.contexts {
            contexts.push((
                name.clone(),
                match c {
                    BuildContext::Dir(d) => scope
                        .dir(d)
                        .map_err(|e| {
                            UserError::usage(format!(
                                "service {}: build context `{name}`: {e}",
                                b.service
                            ))
                        })?
                        .to_string_lossy()
                        .into_owned(),
                    BuildContext::Remote(r) => r.clone(),
                },
            ));
        }
        out.push(BuildStep {
            flags: b.flags.clone(),
            contexts,
            missing_bases,
            service: b.service.clone(),
            context: project.root.join(&b.context),
            dockerfile: b.dockerfile.clone(),
            args: b.args.clone(),
            target: b.target.clone(),
            tag,
            built,
        });
    }
    Ok(out)
}

/// Builds what is not built yet.
pub fn build(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    steps: &[BuildStep],
    quiet: bool,
) -> anyhow::Result<()> {
    for b in steps {
        if b.built {
            crate::ui::debug(&format!("{} is built already", b.tag));
            continue;
        }
        crate::ui::step(&format!("building {} → {}", b.service, b.tag));
        let args = b.args(quiet);
        let rc = x.docker_attached(docker, args.clone())?;
        if rc != 0 {
            return Err(UserError::new(format!(
                "building {} failed (docker build exit {rc})",
                b.service
            ))
            .hint(format!(
                "the build output is above; rerun it with `{}`",
                super::docker::display_docker(&docker.cmd(args))
            ))
            .into());
        }
        x.record(format!("the image {}", b.tag), None);
    }
    Ok(())
}

/// Pushes the built tags (registry profiles).
pub fn push(
    x: &mut Executor<'_>,
    docker: &Docker<'_>,
    tags: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    for (svc, tag) in tags {
        crate::ui::step(&format!("pushing {svc} → {tag}"));
        let o = x.docker_raw(docker, ["push", "-q", tag.as_str()])?;
        if !o.ok() {
            let err = o.stderr_str();
            let registry = super::advice::registry_of(tag);
            let hint = if err.contains("denied")
                || err.contains("unauthorized")
                || err.contains("authentication required")
                || err.contains("no basic auth credentials")
            {
                // through the context, or its host while the context does not exist yet
                format!(
                    "log in first: `{}`",
                    super::docker::display_docker(&docker.cmd(["login", registry.as_str()]))
                )
            } else {
                format!("check that the registry {registry} is reachable from this machine")
            };
            return Err(UserError::new(format!("pushing {tag} failed: {err}"))
                .hint(hint)
                .into());
        }
        x.record(format!("the image {tag} in its registry"), None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docker-registry with htpasswd auth answered `docker push` without a login this way.
    #[test]
    fn a_push_without_a_login_names_the_registry_to_log_in_to() {
        let s = crate::sys::FakeSys::new()
            .program("docker", "/usr/bin/docker")
            .respond_full(
                "/usr/bin/docker --context default push",
                1,
                "",
                "The push refers to repository [127.0.0.1:5055/shop/web]\nfa78430a2e84: Preparing\nno basic auth credentials\n",
            );
        let d = Docker::new(&s, "default").unwrap();
        let mut x = Executor::new(&s, crate::exec::Mode::Apply);
        let tags = BTreeMap::from([("web".to_string(), "127.0.0.1:5055/shop/web:1".to_string())]);
        let e = push(&mut x, &d, &tags).unwrap_err();
        let u = e.downcast_ref::<UserError>().unwrap();
        assert_eq!(
            u.hint.as_deref(),
            Some("log in first: `docker --context default login 127.0.0.1:5055`")
        );
        assert!(x.applied().is_empty(), "nothing pushed is recorded");
        // before `up` created the context, the login goes where the push went
        let s = crate::sys::FakeSys::new()
            .program("docker", "/usr/bin/docker")
            .respond_full(
                "/usr/bin/docker -H ssh://deploy@srv push",
                1,
                "",
                "no basic auth credentials\n",
            );
        let d = Docker::new(&s, "prod")
            .unwrap()
            .through_host("ssh://deploy@srv");
        let e = push(&mut Executor::new(&s, crate::exec::Mode::Apply), &d, &tags).unwrap_err();
        assert_eq!(
            e.downcast_ref::<UserError>().unwrap().hint.as_deref(),
            Some("log in first: `docker -H ssh://deploy@srv login 127.0.0.1:5055`")
        );
    }

    /// `build.additional_contexts` is BuildKit's: without buildx the plan says so before any
    /// build starts; with it the contexts are `--build-context` arguments (a project directory
    /// by its real path).
    #[test]
    fn additional_contexts_need_buildx() {
        let d = tempfile::tempdir().unwrap();
        for (rel, content) in [
            ("devenv.yaml", "project: b\nstack: compose.yml\n"),
            (
                "profiles/local.yaml",
                "domain: b.test\ndocker: {swarm: true}\n",
            ),
            ("app/Dockerfile", "FROM scratch\n"),
            ("shared/x", "x"),
            (
                "compose.yml",
                "services:\n  app:\n    build: {context: app, additional_contexts: [shared=./shared]}\n",
            ),
        ] {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let project = Project::load(d.path()).unwrap();
        let profile = project.profile("local").unwrap();
        let r = crate::render::render(
            &project,
            &profile,
            crate::render::Facts::default(),
            &[],
            b"0123456789abcdef",
        )
        .unwrap();
        let fake = |buildx: i32| {
            crate::sys::FakeSys::new()
                .program("docker", "/usr/bin/docker")
                .respond("/usr/bin/docker --context default image inspect", 1, "")
                .respond(
                    "/usr/bin/docker --context default buildx version",
                    buildx,
                    "",
                )
        };
        let s = fake(1);
        let docker = Docker::new(&s, "default").unwrap();
        let e = plan(&docker, &project, &r).unwrap_err();
        assert!(
            e.to_string().contains("needs BuildKit (`docker buildx`)"),
            "{e}"
        );
        let s = fake(0);
        let docker = Docker::new(&s, "default").unwrap();
        let steps = plan(&docker, &project, &r).unwrap();
        let args = steps[0].args(false);
        let shared = project.scope().dir(Path::new("shared")).unwrap();
        assert!(
            args.windows(2).any(
                |w| w[0] == "--build-context" && w[1] == format!("shared={}", shared.display())
            ),
            "{args:?}"
        );
    }

    #[test]
    fn base_images_of_a_dockerfile() {
        let d = "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM golang:1.23-alpine AS build\nRUN go build\nFROM build AS test\nFROM ${BASE}\nfrom alpine:3.20\nFROM scratch\nCOPY --from=build /api /api\n";
        assert_eq!(base_images(d), ["golang:1.23-alpine", "alpine:3.20"]);
    }

    fn spec() -> BuildSpec {
        BuildSpec {
            service: "web".into(),
            context: ".".into(),
            dockerfile: None,
            repository: "myblog/web".into(),
            args: BTreeMap::new(),
            target: None,
            flags: Vec::new(),
            contexts: Vec::new(),
        }
    }

    #[test]
    fn hash_follows_content_and_dockerignore() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Dockerfile"), "FROM x\n").unwrap();
        std::fs::create_dir(d.path().join("node_modules")).unwrap();
        std::fs::write(d.path().join("node_modules/big.js"), "1").unwrap();
        std::fs::write(
            d.path().join(".dockerignore"),
            "node_modules\n*.log\n!keep.log\n",
        )
        .unwrap();
        let a = context_hash(
            &Scope::project(d.path()),
            &d.path().canonicalize().unwrap(),
            &spec(),
        )
        .unwrap();
        std::fs::write(d.path().join("node_modules/big.js"), "2").unwrap();
        std::fs::write(d.path().join("debug.log"), "x").unwrap();
        assert_eq!(
            context_hash(
                &Scope::project(d.path()),
                &d.path().canonicalize().unwrap(),
                &spec()
            )
            .unwrap(),
            a,
            "ignored files do not count"
        );
        std::fs::write(d.path().join("keep.log"), "x").unwrap();
        let b = context_hash(
            &Scope::project(d.path()),
            &d.path().canonicalize().unwrap(),
            &spec(),
        )
        .unwrap();
        assert_ne!(b, a, "a negated pattern counts");
        let mut s = spec();
        s.args.insert("V".into(), "1".into());
        assert_ne!(
            context_hash(
                &Scope::project(d.path()),
                &d.path().canonicalize().unwrap(),
                &s
            )
            .unwrap(),
            b,
            "build args count"
        );
    }
}

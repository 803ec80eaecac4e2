//! The target guard: a profile deploys only through its own context, to its own swarm (the
//! cluster id it pins, or the one recorded at its first deploy); a profile on this machine gets a
//! single-node swarm when the engine has none (the guard says so, [`init`] does it); a worker or
//! broken swarm is explained, not papered over. The check itself only reads.

use super::docker::{Docker, Info};
use crate::error::UserError;
use crate::exec::Executor;
use crate::profile::Profile;
use crate::state::State;
use crate::swarm::docker::Apply;

/// What the guard learned about the target.
#[derive(Debug, Clone)]
pub struct Target {
    pub info: Info,
    /// The swarm's cluster id (empty while the engine is in none).
    pub cluster_id: String,
    /// The engine is in no swarm and the profile runs on this machine: `docker swarm init` first.
    pub needs_init: bool,
}

/// Whether the guard is asked before a deploy (an engine in no swarm gets one) or for a command
/// that needs the swarm as it is (`down`, `update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Deploy,
    Existing,
}

/// Checks the engine behind the profile's context, reading only. A profile that runs on this
/// machine and finds no swarm gets `needs_init` for a deploy; anything else that is wrong is
/// refused before any change.
pub fn check(
    docker: &Docker<'_>,
    profile: &Profile,
    state: &State,
    purpose: Purpose,
    new_cluster: bool,
) -> anyhow::Result<Target> {
    let info = docker.info()?;
    let ctx = &docker.context;
    match info.swarm.local_node_state.as_str() {
        "active" => {}
        "inactive" | "" => {
            if !profile.on_this_machine() {
                return Err(UserError::new(format!("the engine of context `{ctx}` is not part of a swarm"))
                    .hint(format!(
                        "profile {} expects an existing swarm (`docker swarm init` on the server); for a single-node \
                         local profile set `docker: {{swarm: true}}` and devenv initialises it",
                        profile.name
                    ))
                    .into());
            }
            if purpose == Purpose::Existing {
                return Err(UserError::new(format!(
                    "the engine of context `{ctx}` is not part of a swarm yet"
                ))
                .hint("`devenv up` initialises it")
                .into());
            }
            return Ok(Target {
                info,
                cluster_id: String::new(),
                needs_init: true,
            });
        }
        "pending" => {
            return Err(UserError::new(format!("the engine of context `{ctx}` is still joining a swarm"))
                .hint("wait for `docker node ls` to show it Ready, or `docker swarm leave --force` and retry")
                .into());
        }
        "locked" => {
            return Err(UserError::new(format!(
                "the swarm of context `{ctx}` is locked (autolock)"
            ))
            .hint("`docker swarm unlock` with the unlock key, then retry")
            .into());
        }
        other => {
            return Err(UserError::new(format!(
                "the swarm of context `{ctx}` is in state `{other}`: {}",
                if info.swarm.error.is_empty() { "no detail" } else { &info.swarm.error }
            ))
            .hint("`docker info` shows the details; a broken single-node swarm can be reset with `docker swarm leave --force`")
            .into());
        }
    }
    if !info.swarm.control_available {
        return Err(UserError::new(format!(
            "the engine of context `{ctx}` is a swarm worker; stacks are deployed through a manager"
        ))
        .hint("point the profile's docker.context at a manager node")
        .into());
    }
    let actual = info.swarm.cluster_id().unwrap_or_default().to_string();
    match cluster(profile, state, &actual) {
        Cluster::Pinned {
            matches: false,
            pinned,
        } => Err(UserError::new(format!(
            "profile {} may deploy only to swarm {pinned}, but context `{ctx}` reaches swarm {actual}; \
             nothing was changed",
            profile.name
        ))
        .hint(format!(
            "check the context (`docker context inspect {ctx}`); if the server's swarm was re-created, \
             update docker.cluster_id in {}",
            crate::error::display_path(&profile.path)
        ))
        .into()),
        Cluster::Recorded {
            matches: false,
            recorded,
        } if !new_cluster => Err(UserError::new(format!(
            "profile {} was deployed to swarm {recorded} before, but context `{ctx}` now reaches swarm \
             {actual}; nothing was changed",
            profile.name
        ))
        .hint(
            "if you re-created the swarm on purpose, run `devenv up --new-cluster` to record the new \
             one; otherwise check `docker context ls`",
        )
        .into()),
        _ => Ok(Target {
            info,
            cluster_id: actual,
            needs_init: false,
        }),
    }
}

/// `docker swarm init` of a single-node swarm on this machine's engine; the engine's info after.
pub fn init(x: &mut Executor<'_>, docker: &Docker<'_>) -> anyhow::Result<Info> {
    crate::ui::step(&format!(
        "initialising a single-node swarm on context `{}`",
        docker.context
    ));
    x.docker(docker, ["swarm", "init", "--advertise-addr", "127.0.0.1"])?;
    x.record(
        format!("a single-node swarm on context `{}`", docker.context),
        Some(format!(
            "docker --context {} swarm leave --force",
            docker.context
        )),
    );
    docker.info()
}

/// The swarm a profile may deploy to, against the one its context reaches (`actual`).
#[derive(Debug, PartialEq, Eq)]
pub enum Cluster<'a> {
    /// `docker.cluster_id` in the profile.
    Pinned { pinned: &'a str, matches: bool },
    /// The cluster id recorded at this profile's first deploy from this machine.
    Recorded { recorded: &'a str, matches: bool },
    /// Neither: the first deploy records it.
    Unrecorded,
}

pub fn cluster<'a>(profile: &'a Profile, state: &'a State, actual: &str) -> Cluster<'a> {
    if let Some(pinned) = &profile.file.docker.cluster_id {
        Cluster::Pinned {
            pinned,
            matches: pinned == actual,
        }
    } else if let Some(recorded) = state.cluster_ids.get(&profile.name) {
        Cluster::Recorded {
            recorded,
            matches: recorded == actual,
        }
    } else {
        Cluster::Unrecorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Profile, ProfileFile};
    use crate::sys::FakeSys;

    fn profile(yaml: &str) -> Profile {
        Profile {
            name: "local".into(),
            path: "profiles/local.yaml".into(),
            file: serde_yaml_ng::from_str::<ProfileFile>(yaml).unwrap(),
            source: yaml.into(),
        }
    }

    fn info(state: &str, cluster: &str, manager: bool) -> String {
        format!(
            r#"{{"ServerVersion":"28","Swarm":{{"NodeID":"n1","LocalNodeState":"{state}","ControlAvailable":{manager},"Error":"","Nodes":1,"Managers":1,"Cluster":{{"ID":"{cluster}"}}}}}}"#
        )
    }

    fn docker(s: &FakeSys) -> Docker<'_> {
        Docker {
            sys: s,
            context: "default".into(),
            program: "docker".into(),
            host: None,
            declared_host: None,
            env: Vec::new(),
        }
    }

    #[test]
    fn pinned_cluster_id_is_enforced() {
        let s = FakeSys::new().respond(
            "docker --context default info",
            0,
            &info("active", "c-local", true),
        );
        let p = profile("domain: a.test\ndocker: {cluster_id: c-server}\n");
        let e = check(&docker(&s), &p, &State::default(), Purpose::Deploy, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("may deploy only to swarm c-server") && e.contains("reaches swarm c-local"),
            "{e}"
        );
        assert_eq!(s.commands().len(), 1, "nothing but the info call");
    }

    #[test]
    fn recorded_cluster_id_is_enforced_unless_new_cluster() {
        let s = FakeSys::new().respond(
            "docker --context default info",
            0,
            &info("active", "c-new", true),
        );
        let p = profile("domain: a.test\ndocker: {swarm: true}\n");
        let mut st = State::default();
        st.cluster_ids.insert("local".into(), "c-old".into());
        let e = check(&docker(&s), &p, &st, Purpose::Deploy, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--new-cluster"), "{e}");
        assert_eq!(
            check(&docker(&s), &p, &st, Purpose::Deploy, true)
                .unwrap()
                .cluster_id,
            "c-new"
        );
    }

    #[test]
    fn inactive_engine_is_initialised_for_a_local_profile_only() {
        let s = FakeSys::new().respond(
            "docker --context default info",
            0,
            &info("inactive", "", false),
        );
        let p = profile("domain: a.test\ndocker: {swarm: true}\n");
        let t = check(&docker(&s), &p, &State::default(), Purpose::Deploy, false).unwrap();
        assert!(t.needs_init, "the check says so");
        assert_eq!(s.commands().len(), 1, "and changes nothing");
        let mut x = Executor::new(&s, crate::exec::Mode::Apply);
        init(&mut x, &docker(&s)).unwrap();
        assert!(s.commands().contains(
            &"docker --context default swarm init --advertise-addr 127.0.0.1".to_string()
        ));
        assert!(
            x.applied()[0]
                .undo
                .as_deref()
                .unwrap()
                .contains("swarm leave")
        );
        let s = FakeSys::new().respond(
            "docker --context default info",
            0,
            &info("inactive", "", false),
        );
        let server = profile("domain: a.com\n");
        let e = check(
            &docker(&s),
            &server,
            &State::default(),
            Purpose::Deploy,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not part of a swarm"), "{e}");
        assert!(!s.commands().iter().any(|c| c.contains("swarm init")));
    }

    #[test]
    fn cluster_verdicts_for_doctor_and_up() {
        let pinned = profile("domain: a.com\ndocker: {cluster_id: c1}\n");
        let local = profile("domain: a.test\n");
        let mut st = State::default();
        assert_eq!(cluster(&local, &st, "c1"), Cluster::Unrecorded);
        st.cluster_ids.insert("local".into(), "c0".into());
        assert_eq!(
            cluster(&local, &st, "c1"),
            Cluster::Recorded {
                recorded: "c0",
                matches: false
            }
        );
        // a pin wins over what was recorded
        assert_eq!(
            cluster(&pinned, &st, "c1"),
            Cluster::Pinned {
                pinned: "c1",
                matches: true
            }
        );
    }

    #[test]
    fn worker_is_explained() {
        let s = FakeSys::new().respond(
            "docker --context default info",
            0,
            &info("active", "c", false),
        );
        let e = check(
            &docker(&s),
            &profile("domain: a.test\n"),
            &State::default(),
            Purpose::Deploy,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("swarm worker"), "{e}");
    }
}

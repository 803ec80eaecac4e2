//! Docker and swarm: the CLI wrapper ([`docker`]) and what its failures mean ([`advice`]), the
//! target guard, builds, deploy, the convergence watcher ([`converge`]: every service running,
//! task errors as they happen), tasks in a service ([`run`]) and teardown.

pub mod advice;
pub mod build;
pub mod converge;
pub mod deploy;
pub mod docker;
pub mod guard;
pub mod objects;
pub mod ports;
pub mod run;
pub mod target;
pub mod teardown;

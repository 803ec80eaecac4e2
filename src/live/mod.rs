//! `devenv watch`: compose's `develop.watch` rules for a swarm stack — which files a service
//! watches and what a change does (sync into its running tasks, sync and signal, rebuild and
//! roll) — and the pure planning of one batch of changes ([`plan`]). Watching the disk is
//! [`fswatch`]; the archive a sync sends is [`archive`]; carrying a batch out is `ops::live`.

pub mod archive;
pub mod fswatch;
pub mod plan;
pub mod rules;

pub use rules::{Action, Rule};

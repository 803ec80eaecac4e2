//! The local CA, leaf certificates and trust stores.

pub mod ca;
pub mod issue;
pub mod leaf;
pub mod trust;

pub use crate::profile::leaf_paths;

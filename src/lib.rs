//! labgrade: an autograder for a systems course's concurrency labs.
//!
//! The pipeline, one module per stage: [`spec`] (TOML in, checked model out) →
//! [`stage`] (submission + course skeleton in a fresh directory) → [`build`] (cargo, offline) →
//! [`sandbox`] (the one place that spawns untrusted code) → [`probe`] (runs tests, returns
//! observations and verdicts) → [`report`] (renders results; never runs anything).

pub mod sandbox;
pub mod spec;

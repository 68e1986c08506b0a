//! labgrade: an autograder for a systems course's concurrency labs.
//!
//! The pipeline, one module per stage: [`spec`] (TOML in, checked model out) →
//! [`stage`] (submission + course skeleton in a fresh directory) → [`build`] (cargo, offline) →
//! [`sandbox`] (the one place that spawns untrusted code) → [`probe`] (runs tests, returns
//! observations and verdicts) → [`verdict`] → [`report`] (renders results; never runs anything).
//! [`grade`] plans and runs the pipeline for one submission; [`batch`] runs it over many
//! (resumable, sharded, with a gradebook); [`verify`] checks a spec against known solutions;
//! [`deadline`] knows when a submission was handed in and what lateness costs;
//! [`cli`] is the command line. [`untrusted_file`] is how the grader reads a student's file
//! outside the sandbox (no links, no special files, bounded); [`tempdirs`] names the grader's
//! temporary directories after their owner and sweeps those of graders that died.
//! [`version`] says which labgrade (release and commit) produced a result.

pub mod atomic_file;
pub mod batch;
pub mod build;
pub mod cli;
pub mod csv_read;
pub mod datetime;
pub mod deadline;
pub mod errors;
pub mod exit;
pub mod fnv;
pub mod grade;
pub mod lane;
pub mod points;
pub mod probe;
pub mod reference;
pub mod report;
pub mod run_once;
pub mod sandbox;
pub mod spec;
pub mod stage;
pub mod stats;
pub mod switch;
pub mod tempdirs;
pub mod untrusted_file;
pub mod verdict;
pub mod verify;
pub mod version;
pub mod words;

/// The tests' one guard for a missing capability (shared with `tests/common`).
#[cfg(test)]
#[path = "../tests/common/skip.rs"]
pub(crate) mod skip;

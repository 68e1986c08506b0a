//! Probes: run one test against a built binary and decide its verdict.
//!
//! One file per test kind of CONTRACT §3. Probes ask the [`sandbox`](crate::sandbox) to run the
//! student's program, through the [`Runner`] of their [`Target`] (so tests can script the
//! runs and the clock), return observations and verdicts, and never print.

pub(crate) mod consistent;
mod explain;
mod output;
mod processes;
mod race;
mod runner;
#[cfg(test)]
pub(crate) mod scripted;
mod speedup;

pub use crate::verdict::{HangCause, HangEvidence, HangKind, SpeedupEvidence};
pub use runner::{Runner, SandboxRunner};

use std::path::Path;

use crate::sandbox::{self, Isolation, Job, Limits, SpawnError, Visible};
use crate::spec::{TestCase, TestKind};
use crate::verdict::{Evidence, Verdict};

/// The built program a probe runs, and the runner it is run with.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The executable, inside the staging directory.
    pub executable: &'a Path,
    /// The same source built unoptimised, when a race probe of the spec rotates builds.
    pub unoptimised: Option<&'a Path>,
    /// Its name as the student knows it (`pool_sum`).
    pub binary: &'a str,
    /// Working directory for runs.
    pub workdir: &'a Path,
    /// The speedup yardstick's `pool_sum` (the spec's reference solution, else the built-in
    /// neutral workload), for speedups relative to it.
    pub reference: Option<&'a Path>,
    /// The exercise's `timeout_from_reference`: the speedup probe stops a pool that hangs at
    /// this multiple of the yardstick's time on the same N, not at its 60 s.
    pub reference_timeouts: Option<crate::spec::ReferenceTimeouts>,
    /// Runs the jobs and keeps the time: the sandbox ([`SandboxRunner`]), or a script in tests.
    pub runner: &'a dyn Runner,
}

impl Target<'_> {
    /// A fully isolated run of the target with `args`.
    pub(crate) fn job(&self, args: &[String], timeout: std::time::Duration) -> Job {
        self.job_of(self.executable, args, timeout)
    }

    /// A fully isolated run of `executable` (the target's, or its unoptimised build).
    pub(crate) fn job_of(
        &self,
        executable: &Path,
        args: &[String],
        timeout: std::time::Duration,
    ) -> Job {
        Job {
            program: executable.to_path_buf(),
            args: args.iter().map(Into::into).collect(),
            cwd: self.workdir.to_path_buf(),
            env: sandbox::minimal_env(),
            limits: Limits::for_run(timeout),
            isolation: Isolation::Full,
            keep_visible: vec![
                Visible::read_only(self.workdir),
                Visible::read_only(executable),
            ],
        }
    }
}

/// What a probe concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub verdict: Verdict,
    pub message: String,
    pub evidence: Evidence,
}

/// Runs `test` against `target`.
pub fn run(test: &TestCase, target: Target<'_>) -> Result<Finding, SpawnError> {
    match &test.kind {
        TestKind::Output(t) => output::run(t, target),
        TestKind::Race(t) => race::run(t, target),
        TestKind::Processes(t) => processes::run(t, target),
        TestKind::Speedup(t) => speedup::run(t, target),
    }
}

/// The command line a student would type to reproduce a run.
pub(crate) fn command_line(binary: &str, args: &[String]) -> String {
    std::iter::once(binary.to_string())
        .chain(args.iter().map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

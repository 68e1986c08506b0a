//! `labgrade run`: one run of a student's program exactly as the grader runs it: staged in the
//! course skeleton, built with the graded profile (release, overflow checks on), started in the
//! sandbox with a test's limits. What `cargo run` in a student's own folder cannot promise
//! (their Cargo.toml may lack overflow checks, or be missing).
//!
//! Reuses `stage`, `build` and `sandbox::run` as `grade` does; owns only choosing the binary and
//! the time limit, and saying why a run could not happen. Never prints.

use std::path::Path;
use std::time::Duration;

use crate::build::{self, BinaryBuild};
use crate::grade::{GradeError, Grader};
use crate::probe::Target;
use crate::sandbox::{self, Outcome};
use crate::spec::TestKind;
use crate::stage;

/// The time limit of a run when the spec has no output test for the binary.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What came of asking for one run.
#[derive(Debug)]
pub enum RunOnce {
    /// It ran; the run's outcome, and the time limit it had.
    Ran {
        outcome: Box<Outcome>,
        timeout: Duration,
    },
    /// It could not run: the submission, the build or the binary's name says why (one line
    /// for the student).
    NotRun(String),
}

/// Stages and builds `dir` with `grader`'s skeleton, cache and spec, and runs `binary` once
/// with `args` in the sandbox, under the longest time limit of that binary's output tests.
pub fn run_once(
    grader: &Grader,
    dir: &Path,
    binary: &str,
    args: &[String],
) -> Result<RunOnce, GradeError> {
    let exercises = &grader.spec.exercises;
    if !exercises.iter().any(|e| e.binary == binary) {
        let known: Vec<&str> = exercises.iter().map(|e| e.binary.as_str()).collect();
        return Ok(RunOnce::NotRun(format!(
            "no program `{binary}` in this lab (its programs: {})",
            known.join(", ")
        )));
    }
    let timeout = exercises
        .iter()
        .filter(|e| e.binary == binary)
        .flat_map(|e| &e.tests)
        .filter_map(|t| match &t.kind {
            TestKind::Output(o) => Some(o.timeout),
            _ => None,
        })
        .max()
        .unwrap_or(DEFAULT_TIMEOUT);
    let staged = match stage::stage(dir, grader.cache.skeleton())? {
        Ok(staged) => staged,
        Err(unusable) => return Ok(RunOnce::NotRun(unusable.to_string())),
    };
    let lane = grader
        .cache
        .lane(grader.spec.lane_width())
        .map_err(GradeError::Lane)?;
    let built = {
        let _slot = lane.shared().map_err(GradeError::Lane)?;
        build::build(
            &staged,
            &[binary],
            &grader.cache,
            grader.worker,
            grader.spec.build.timeout,
        )?
    };
    let executable = match built.binaries.get(binary) {
        Some(BinaryBuild::Built { executable }) => executable.clone(),
        Some(BinaryBuild::Missing) | None => {
            return Ok(RunOnce::NotRun(format!("src/bin/{binary}.rs is missing")))
        }
        Some(BinaryBuild::Failed(e)) => {
            let at = e.location();
            return Ok(RunOnce::NotRun(format!(
                "{binary} does not compile: {}{}",
                if at.is_empty() {
                    String::new()
                } else {
                    format!("{at}: ")
                },
                e.message
            )));
        }
        Some(BinaryBuild::TimedOut { after }) => {
            return Ok(RunOnce::NotRun(format!(
                "building {binary} took longer than {} s and was stopped",
                after.as_secs()
            )))
        }
    };
    let target = Target {
        executable: &executable,
        unoptimised: None,
        binary,
        workdir: staged.path(),
        reference: None,
        reference_timeouts: None,
        runner: &crate::probe::SandboxRunner,
    };
    let _slot = lane.shared().map_err(GradeError::Lane)?;
    let outcome = sandbox::run(&target.job(args, timeout))?;
    Ok(RunOnce::Ran {
        outcome: Box::new(outcome),
        timeout,
    })
}

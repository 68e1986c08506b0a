//! Verdicts and results: what grading decided, with the reason in types, not strings.
//!
//! Probes produce [`TestResult`]s; reports render them. The teaching message is written by the
//! probe that knows the context; the reason code here is what scripts and reports switch on.

use std::time::Duration;

use serde::Serialize;

use crate::build::CompileError;
use crate::sandbox::Stream;
use crate::spec::ExitExpectation;

mod evidence;
mod hang;
mod hang_cause;

pub use evidence::{
    Evidence, ProcessesEvidence, RaceProbeEvidence, RunEvidence, SpeedupProbeEvidence,
};
pub use hang::{HangEvidence, HangKind};
pub use hang_cause::HangCause;

/// Whether a test passed, and if not, why.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Fail(Reason),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass)
    }
}

/// Why a test failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Printed something other than the expected result.
    WrongOutput { expected: String, got: String },
    /// Ran past its wall-clock limit.
    Timeout { after: Duration },
    /// Killed by a signal it did not get from the grader (panic=abort, segfault, CPU limit…).
    Crash { signal: i32 },
    /// Exited with the wrong status.
    ExitStatus { expected: ExitExpectation, got: i32 },
    /// Wrote more than the output cap.
    OutputLimit { stream: Stream, cap_bytes: usize },
    /// The exercise's binary did not compile.
    BuildFailed(Box<CompileError>),
    /// The build ran past its time limit.
    BuildTimeout { after: Duration },
    /// The submission has no such binary.
    MissingBinary { binary: String },
    /// The submission as a whole cannot be graded (empty, misshaped).
    Unusable,
    /// The run created a different number of worker processes than required.
    WrongWorkerCount { expected: u32, got: u32 },
    /// The run used threads where the lab asks for processes.
    ThreadsNotProcesses { threads: u32 },
    /// The workers never ran at the same time.
    NoOverlap,
    /// Processes were still running when the main process ended.
    LeakedProcesses { count: u32 },
    /// The pool is not faster by the required factor.
    TooSlow,
    /// The measurement could not decide and the spec counts that as a failure.
    Inconclusive,
    /// The synchronised counter lost updates in some run.
    LostUpdates { lost: u128, runs: u32 },
    /// The racy demo never lost an update within the probe's budget.
    NoRaceObserved { runs: u32 },
    /// The counter printed 0 in every run: the workers' increments never reached the parent.
    CounterNotShared { runs: u32 },
    /// The parent printed before its workers had finished: even one worker, which has nobody
    /// to race with, lost updates.
    PrintedEarly { lost: u128 },
    /// Workers that ended were never waited for (zombies until the parent exited).
    UnreapedWorkers { count: u32 },
    /// The counter printed more than `P*K`: no interleaving of the increments produces that.
    MoreThanPossible { expected: u128, got: u128 },
    /// This version of labgrade cannot run this kind of test yet.
    Unsupported { kind: &'static str },
    /// Not run: the exercise's binary hung on each of its first tests (`stop_after_hangs`).
    NotRunAfterHangs,
}

impl Reason {
    /// Stable machine-readable code, the `reason` field of the JSON result.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::WrongOutput { .. } => "wrong_output",
            Reason::Timeout { .. } => "timeout",
            Reason::Crash { .. } => "crash",
            Reason::ExitStatus { .. } => "exit_status",
            Reason::OutputLimit { .. } => "output_limit",
            Reason::BuildFailed(_) => "build_failed",
            Reason::BuildTimeout { .. } => "build_timeout",
            Reason::MissingBinary { .. } => "missing_binary",
            Reason::Unusable => "unusable_submission",
            Reason::WrongWorkerCount { .. } => "wrong_worker_count",
            Reason::ThreadsNotProcesses { .. } => "threads_not_processes",
            Reason::NoOverlap => "no_overlap",
            Reason::LeakedProcesses { .. } => "leaked_processes",
            Reason::TooSlow => "too_slow",
            Reason::Inconclusive => "inconclusive",
            Reason::LostUpdates { .. } => "lost_updates",
            Reason::NoRaceObserved { .. } => "no_race_observed",
            Reason::CounterNotShared { .. } => "counter_not_shared",
            Reason::PrintedEarly { .. } => "printed_before_workers_finished",
            Reason::UnreapedWorkers { .. } => "unreaped_workers",
            Reason::MoreThanPossible { .. } => "more_than_possible",
            Reason::Unsupported { .. } => "unsupported",
            Reason::NotRunAfterHangs => "not_run_after_hangs",
        }
    }
}

/// What the speedup measurement found, for the JSON evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpeedupEvidence {
    pub n: u64,
    pub workers: u32,
    pub cores: usize,
    pub blocks: usize,
    pub discarded_blocks: usize,
    /// Median wall times, milliseconds.
    pub student_one_ms: f64,
    pub student_p_ms: f64,
    /// Geometric-mean speedup with its interval.
    pub student_speedup: f64,
    pub student_interval: (f64, f64),
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_speedup: Option<f64>,
    /// The speedup the student had to reach.
    pub required: f64,
    /// CPU time of the one-worker run's process tree over its wall time.
    pub one_worker_cpu_share: f64,
    /// CPU time at P over CPU time at 1 (1.0: the same work, split).
    pub cpu_ratio: f64,
    /// The serial fraction (Karp–Flatt) at each worker count of the curve: figures for the
    /// course staff, kept out of the student's message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub serial_fraction: Vec<(u32, f64)>,
}

/// How a derived limit came about: `limit_ms` = min(`spec_ms`, max(`floor_ms`,
/// `multiple` × `reference_ms`)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeLimit {
    pub limit_ms: u64,
    /// The test's own timeout in the spec.
    pub spec_ms: u64,
    /// What the reference took on the same input on this machine (as a pool on one core).
    pub reference_ms: u64,
    pub multiple: u32,
    pub floor_ms: u64,
}

/// The process audit as results show it: what the sandbox recorded, and the counts the verdict
/// was made on (exact where the kernel's process accounting was on, see
/// [`crate::sandbox::Audit::workers_created`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvidence {
    #[serde(flatten)]
    pub audit: crate::sandbox::Audit,
    /// Worker processes created besides the main one.
    pub workers_created: u32,
    /// Threads created besides each process's main thread.
    pub threads_created: u32,
}

impl From<crate::sandbox::Audit> for AuditEvidence {
    fn from(audit: crate::sandbox::Audit) -> Self {
        AuditEvidence {
            workers_created: audit.workers_created(),
            threads_created: audit.threads_created(),
            audit,
        }
    }
}

/// What the race probe saw, beyond the histogram of its decisive condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RaceEvidence {
    /// Every condition the runs rotated through, in rotation order, with its runs.
    pub conditions: Vec<RaceConditionRuns>,
    /// The run (1-based, counting every condition) that decided the verdict: the first wrong
    /// value, or for `racy` the first loss. Absent when the budget ran out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisive_run: Option<u32>,
    /// The condition of the decisive run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisive_condition: Option<RaceCondition>,
    /// Milliseconds from the start of the probe (calibration included) to the end of the
    /// decisive run: the time to detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection_ms: Option<u64>,
    /// `P*K` minus the value the decisive run printed, when it printed less.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updates_lost: Option<u64>,
    /// Whether `updates_lost` is an exact multiple of `K`: whole workers' work missing, the
    /// mark of a parent that printed before its workers finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_multiple_of_k: Option<bool>,
    /// One-worker runs made after a loss: one worker has nobody to race with, so a loss there
    /// means the parent printed early.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub single_worker_runs: Vec<SingleWorkerRun>,
    /// How `K` was chosen, per build, when the test is calibrated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calibration: Vec<Calibration>,
    /// Hints read from the source (a load and a store of the same shared value…). Never a
    /// verdict: they are also in the message, worded as hints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// The conditions of one race run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RaceCondition {
    /// `P`.
    pub workers: u32,
    /// `K`.
    pub increments: u64,
    /// Which build of the same source ran.
    pub build: BuildFlavor,
}

/// A build of the student's binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildFlavor {
    /// `cargo build --release`, what every other test runs.
    Release,
    /// The same source at opt-level 0 (the skeleton's `probe` profile): races the optimiser
    /// hides show there, and a race-free program prints the same.
    Unoptimised,
}

/// One condition of the rotation and what its runs printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaceConditionRuns {
    /// The condition (flattened: `workers`, `increments`, `build`).
    #[serde(flatten)]
    pub condition: RaceCondition,
    /// Runs made in this condition.
    pub runs: u32,
    /// Each value printed and how many runs printed it.
    pub values_seen: std::collections::BTreeMap<String, u32>,
}

/// A run of `counter MODE 1 K`, made to tell a parent that printed early from a race.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SingleWorkerRun {
    /// `K`.
    pub increments: u64,
    /// What it printed (exactly `K` unless the parent did not wait).
    pub printed: String,
}

/// How a calibrated race probe chose `K` for one build.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Calibration {
    /// The build calibrated.
    pub build: BuildFlavor,
    /// The `K` chosen.
    pub increments: u64,
    /// Measured CPU time of one increment at `P = 1`, in nanoseconds.
    pub ns_per_increment: f64,
    /// The calibration runs made.
    pub runs: u32,
}

/// A measured speedup curve: wall time and speedup over one worker, per worker count.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpeedupCurve {
    /// Ordered by `workers`; the first point is usually the one-worker run.
    pub points: Vec<SpeedupPoint>,
    /// The speedup the spec requires at the largest worker count, when it sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<f64>,
}

/// One point of a [`SpeedupCurve`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpeedupPoint {
    pub workers: u32,
    pub wall_ms: f64,
    /// One-worker wall time divided by this one.
    pub speedup: f64,
}

/// What a result line is about (CONTRACT §3 `kind`): the build, or a test of one of the
/// spec's kinds. Only the build is not a spec kind, so that is the one variant added here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    Build,
    Test(crate::spec::Kind),
}

impl ResultKind {
    pub const OUTPUT: ResultKind = ResultKind::Test(crate::spec::Kind::Output);
    pub const PROCESSES: ResultKind = ResultKind::Test(crate::spec::Kind::Processes);
    pub const SPEEDUP: ResultKind = ResultKind::Test(crate::spec::Kind::Speedup);
    pub const RACE: ResultKind = ResultKind::Test(crate::spec::Kind::Race);

    /// The CONTRACT §3 name: `build`, `output`, `processes`, `speedup`, `race`.
    pub fn name(self) -> &'static str {
        match self {
            ResultKind::Build => "build",
            ResultKind::Test(k) => k.name(),
        }
    }

    /// The kind named `name`, as [`ResultKind::name`] writes it.
    pub fn parse(name: &str) -> Option<ResultKind> {
        std::iter::once(ResultKind::Build)
            .chain(crate::spec::Kind::ALL.map(ResultKind::Test))
            .find(|k| k.name() == name)
    }
}

impl std::fmt::Display for ResultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One graded test: a line of the JSON result.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub exercise: String,
    pub kind: ResultKind,
    pub name: String,
    pub verdict: Verdict,
    pub max_score: f64,
    /// What happened and what to do about it, for a student.
    pub message: String,
    pub evidence: Evidence,
    pub hidden: bool,
    pub duration: Duration,
}

impl TestResult {
    pub fn score(&self) -> f64 {
        if self.verdict.passed() {
            self.max_score
        } else {
            0.0
        }
    }
}

/// The graded submission.
#[derive(Debug, Clone, PartialEq)]
pub struct GradeResult {
    pub submission: String,
    /// The spec(s) graded against (`lab10`).
    pub lab: String,
    pub tests: Vec<TestResult>,
    /// Things the student handed in that were not used, and similar notes.
    pub warnings: Vec<String>,
    pub build_time: Duration,
    pub total_time: Duration,
    /// The sandbox layers of the machine that graded, active or missing.
    pub sandbox: Vec<crate::sandbox::LayerStatus>,
    /// Where the programs were found; absent when the submission could not be used.
    pub layout: Option<crate::stage::Layout>,
    /// Where the grading's time went.
    pub phases: Phases,
}

/// Where one grading's wall time went, in milliseconds; the four add up to at most its total
/// (the rest is staging and reporting). Tests running side by side count once, as wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Phases {
    /// Compiling the submission (and the unoptimised builds some race probes use).
    pub build_ms: u64,
    /// Running the tests that share the cores (and timing the reference for derived limits).
    pub tests_ms: u64,
    /// Waiting for the timing lane: for other gradings' measurements to end, and for other
    /// gradings' runs to end before this one's measurements.
    pub lane_wait_ms: u64,
    /// Holding the timing lane alone: the speedup and race probes.
    pub lane_hold_ms: u64,
}

impl GradeResult {
    pub fn score(&self) -> f64 {
        self.tests.iter().map(TestResult::score).sum()
    }

    pub fn max_score(&self) -> f64 {
        self.tests.iter().map(|t| t.max_score).sum()
    }

    pub fn all_passed(&self) -> bool {
        self.tests.iter().all(|t| t.verdict.passed())
    }
}

/// A signal's conventional name (`SIGSEGV`), for messages.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signal}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_kind_reads_back_from_its_contract_name() {
        let names: Vec<&str> = std::iter::once(ResultKind::Build)
            .chain(crate::spec::Kind::ALL.map(ResultKind::Test))
            .map(|k| {
                assert_eq!(ResultKind::parse(k.name()), Some(k));
                k.name()
            })
            .collect();
        assert_eq!(names, ["build", "output", "processes", "speedup", "race"]);
        assert_eq!(ResultKind::parse("Build"), None);
    }
}

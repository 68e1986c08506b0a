//! The checked spec model: what the rest of labgrade reads.
//!
//! Everything here has been validated once, at load time (`spec::validate`): matrices are
//! expanded, placeholders substituted, checkers' parameters parsed, names unique. Later stages
//! never re-validate and never see TOML.

use std::time::Duration;

use crate::datetime::ZonedTime;

/// A whole lab: its exercises, in the order the spec lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Short identifier of the lab (`lab10`).
    pub lab: String,
    /// Human title shown in reports.
    pub title: String,
    /// Where the spec came from, for messages (`<built-in lab10>` or a path).
    pub origin: String,
    pub build: BuildSettings,
    /// The course's reference solution (`reference = "DIR"`, resolved against the spec's
    /// directory): what speedups relative to a reference are measured against. `None`: the
    /// neutral yardstick built into the grader.
    pub reference: Option<std::path::PathBuf>,
    pub exercises: Vec<Exercise>,
    /// When the lab is due and what lateness costs (`[deadline]`); `None`: no deadline, no
    /// countdown, no late penalty.
    pub deadline: Option<Deadline>,
    /// `[deadline] due = "gradescope"`: the due dates are Gradescope's, read per submission
    /// from its `submission_metadata.json` (a student's extension included); these are the
    /// grace period and penalty applied to them. `deadline` stays `None` until a grading
    /// resolves it (`deadline::gradescope`).
    pub gradescope_deadline: Option<LateRules>,
    /// `[deadline] extensions = "FILE"`, resolved against the spec's directory: the TA's
    /// per-submission due dates, read by the commands that apply them (not by a student's
    /// `check`, who need not have it) into `extensions`.
    pub extensions_file: Option<std::path::PathBuf>,
    /// The extensions in force (`--extensions FILE`, else `extensions_file`), once a staff
    /// command has read them. `None`: no one has one.
    pub extensions: Option<super::extensions::Extensions>,
}

/// The late policy without a due date: what `[deadline] due = "gradescope"` keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct LateRules {
    pub grace: Duration,
    pub penalty: LatePenalty,
}

/// `[deadline]`: the due instant, the grace period and the late penalty.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    /// The instant, with the UTC offset the course wrote it in (reports show it that way).
    pub due: ZonedTime,
    /// A submission at most this long after `due` is on time (absorbs clocks and uploads).
    pub grace: Duration,
    pub penalty: LatePenalty,
}

/// What a late submission loses, as a fraction of its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatePenalty {
    /// Late submissions are marked late and keep their score.
    None,
    /// `fraction` of the score, however late.
    Flat { fraction: f64 },
    /// `fraction` of the score per started `per` (day or hour) late, at most `max`.
    Rate {
        fraction: f64,
        per: LatePeriod,
        max: f64,
    },
}

/// The unit of a [`LatePenalty::Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatePeriod {
    Hour,
    Day,
}

impl LatePeriod {
    /// The period's length.
    pub fn length(self) -> Duration {
        match self {
            LatePeriod::Hour => Duration::from_secs(3600),
            LatePeriod::Day => Duration::from_secs(86_400),
        }
    }

    /// `hour` or `day`.
    pub fn name(self) -> &'static str {
        match self {
            LatePeriod::Hour => "hour",
            LatePeriod::Day => "day",
        }
    }
}

/// How submissions are compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildSettings {
    /// Wall-clock limit for one `cargo build` of a submission.
    pub timeout: Duration,
}

/// One exercise of the lab: a binary of the submission and the tests run against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Exercise {
    /// `pool-sum` or `counter` for Lab 10 (CONTRACT §3 `exercise`).
    pub id: String,
    /// The `src/bin/<binary>.rs` target that implements it.
    pub binary: String,
    pub tests: Vec<TestCase>,
    /// When a binary that hangs on its first tests stops being run.
    pub hangs: HangPolicy,
    /// `timeout_from_reference`: its output tests' limits derived from the reference's
    /// measured time on each input; `None`: the spec's timeouts as written.
    pub reference_timeouts: Option<ReferenceTimeouts>,
}

/// `timeout_from_reference = { multiple = 20, floor = "2s" }`: an output test's limit is
/// `max(floor, multiple × the reference's time on the same input on this machine)`, never above
/// the test's own `timeout`. A pool that hangs on large inputs only then costs seconds, not the
/// spec's 10–60 s per test. The reference's time is that of a pool using one core (the larger
/// of its wall and its CPU time), so a correct pool that runs sequentially is not penalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceTimeouts {
    /// Times the reference's time (at least [`ReferenceTimeouts::LEAST_MULTIPLE`]).
    pub multiple: u32,
    /// The least limit (at least [`ReferenceTimeouts::LEAST_FLOOR`]).
    pub floor: Duration,
}

impl ReferenceTimeouts {
    /// Below this a correct but plain pool (a `u128` sum with overflow checks is a few times
    /// slower than the reference's loop) on a machine busier than when the reference was
    /// timed could lose points.
    pub const LEAST_MULTIPLE: u32 = 5;
    /// The floor absorbs what does not grow with the input: process start in the sandbox, a
    /// pool forking 64 workers, a machine that got busier since the reference was timed.
    pub const LEAST_FLOOR: Duration = Duration::from_secs(1);
    /// What `timeout_from_reference = {}` means.
    pub const DEFAULT: ReferenceTimeouts = ReferenceTimeouts {
        multiple: 20,
        floor: Duration::from_secs(2),
    };

    /// The limit of a test whose own timeout is `own`, where the reference took `reference`
    /// (`None`: it did not finish within `own / multiple`, so the test keeps `own`).
    pub fn limit(&self, reference: Option<Duration>, own: Duration) -> Duration {
        match reference {
            Some(t) => t.saturating_mul(self.multiple).max(self.floor).min(own),
            None => own,
        }
    }

    /// How long to let the reference run on an input whose test allows `own`: beyond this the
    /// derived limit would be `own` anyway.
    pub fn measure_for(&self, own: Duration) -> Duration {
        own / self.multiple.max(1)
    }
}

/// `stop_after_hangs` and `hang_timeout`: an exercise whose binary hung on each of its first
/// `stop_after` tests (the cheapest, run first) is not run further; its other tests fail as not
/// run. A binary that finishes any of them is judged test by test, with the full timeouts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HangPolicy {
    /// How many first tests must all hang; 0: never stop early.
    pub stop_after: u32,
    /// The limit of those first runs (at least; the grader raises it on a slow machine), never
    /// above a test's own `timeout`.
    pub timeout: Duration,
}

impl HangPolicy {
    /// Never stop early: every test runs to its own timeout.
    pub const OFF: HangPolicy = HangPolicy {
        stop_after: 0,
        timeout: Duration::from_secs(2),
    };
}

impl Exercise {
    /// Points this exercise is worth in total.
    pub fn max_score(&self) -> f64 {
        self.tests.iter().map(|t| t.points).sum()
    }
}

/// One graded test after matrix expansion: one line of the JSON result.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// Unique within its exercise (`n=10 p=3`).
    pub name: String,
    pub points: f64,
    /// Hidden tests are graded but not shown to students by `check`.
    pub hidden: bool,
    pub kind: TestKind,
}

/// What a test checks; the variants are CONTRACT §3's `kind`s.
#[derive(Debug, Clone, PartialEq)]
pub enum TestKind {
    Output(OutputTest),
    Processes(ProcessesTest),
    Speedup(SpeedupTest),
    Race(RaceTest),
}

impl TestKind {
    /// Which kind of test this is.
    pub fn kind(&self) -> super::Kind {
        match self {
            TestKind::Output(_) => super::Kind::Output,
            TestKind::Processes(_) => super::Kind::Processes,
            TestKind::Speedup(_) => super::Kind::Speedup,
            TestKind::Race(_) => super::Kind::Race,
        }
    }

    /// The CONTRACT §3 name of the kind.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// Run the binary once and check its exit status and printed result.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTest {
    pub args: Vec<String>,
    pub timeout: Duration,
    pub exit: ExitExpectation,
    /// `None`: stdout is not checked (e.g. a bad-arguments test).
    pub stdout: Option<StdoutCheck>,
}

/// The exit status a run must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitExpectation {
    /// Exit code 0.
    Success,
    /// Any non-zero exit code (not a signal: a crash is never a clean refusal).
    Failure,
    /// Exactly this code.
    Code(i32),
}

/// The expected stdout, as a literal or computed by a named checker. Compared after trimming
/// surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdoutCheck {
    /// This exact text.
    Equals(String),
    /// The decimal value of `1 + 2 + … + n` (as `u128`).
    SumTo { n: u64 },
    /// The decimal product of the factors (`P*K` for the counter).
    Product { factors: Vec<u64> },
}

impl StdoutCheck {
    /// The text a correct program prints (trimmed).
    pub fn expected_text(&self) -> String {
        match self {
            StdoutCheck::Equals(s) => s.trim().to_string(),
            StdoutCheck::SumTo { n } => triangular(*n).to_string(),
            StdoutCheck::Product { factors } => factors
                .iter()
                .map(|&f| f as u128)
                .product::<u128>()
                .to_string(),
        }
    }
}

/// `1 + 2 + … + n` without overflow for every `n: u64`.
pub fn triangular(n: u64) -> u128 {
    let n = n as u128;
    n * (n + 1) / 2
}

/// Check that the program starts the required worker *processes* and leaves none behind.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessesTest {
    pub args: Vec<String>,
    pub timeout: Duration,
    /// Exactly this many worker processes (descendants of the main process) must be created.
    pub workers: u32,
    /// The workers must be alive at the same time at least once.
    pub overlap: bool,
    /// What the test counts as where no process audit can run (macOS, ptrace refused).
    pub inconclusive: InconclusivePolicy,
}

/// Time the pool at one worker and at `workers` workers and judge the speedup.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedupTest {
    /// The `N` of `pool_sum N P`; `None`: calibrated so the one-worker run takes ~0.3 s or more.
    pub n: Option<u64>,
    pub workers: u32,
    pub threshold: SpeedupThreshold,
    /// Time allowed for the whole probe (warm-up, measurement, curve); a measurement still
    /// undecided when no further block fits is inconclusive.
    pub budget: Duration,
    /// What an inconclusive measurement counts as.
    pub inconclusive: InconclusivePolicy,
    /// The speedup curve's largest worker count (1: no curve); `None`: twice the cores.
    pub curve_up_to: Option<u32>,
}

/// The speedup a submission must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpeedupThreshold {
    /// At least `fraction` of the reference solution's speedup measured in the same session,
    /// and at least `floor`.
    RelativeToReference { fraction: f64, floor: f64 },
    /// At least `factor`, scaled down to the cores available when `scale_to_cores` is set.
    Absolute { factor: f64, scale_to_cores: bool },
}

/// How an undecided verdict is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InconclusivePolicy {
    Pass,
    Fail,
}

/// Repeat the shared-counter program and judge whether it loses updates.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceTest {
    pub mode: CounterMode,
    /// Worker processes (`P`). `None` only when calibrated: then the runs rotate over the cores
    /// available and twice that.
    pub workers: Option<u32>,
    /// Increments per worker (`K`); when calibrated, the least `K`.
    pub increments: u64,
    /// Time allowed for the repetitions.
    pub budget: Duration,
    /// Upper bound on repetitions.
    pub max_runs: u32,
    /// Timeout of one run.
    pub timeout: Duration,
    /// Let the grader choose the conditions that make races show: `K` calibrated so each
    /// worker's loop runs for at least ~20 ms, and the runs rotating over worker counts and an
    /// unoptimised build of the same source.
    pub calibrate: bool,
}

impl RaceTest {
    /// Whether the probe runs an unoptimised build of the binary too (built only then).
    pub fn wants_unoptimised_build(&self) -> bool {
        self.calibrate
    }
}

/// `counter MODE P K`'s `MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterMode {
    /// Synchronised: must never lose an update.
    Safe,
    /// The lecture's racy demo: must lose updates at least once.
    Racy,
}

impl CounterMode {
    pub fn as_arg(self) -> &'static str {
        match self {
            CounterMode::Safe => "safe",
            CounterMode::Racy => "racy",
        }
    }
}

impl Spec {
    /// Total points of the lab.
    pub fn max_score(&self) -> f64 {
        self.exercises.iter().map(Exercise::max_score).sum()
    }

    /// How many cores a timing lane needs: the largest speedup pool, and at least 2 (a race
    /// probe needs two workers running at once to lose an update).
    pub fn lane_width(&self) -> usize {
        self.largest_speedup_workers().unwrap_or(2).max(2) as usize
    }

    /// The most workers (`P`) any speedup test runs: a machine with fewer cores cannot judge
    /// it. `None` without speedup tests.
    pub fn largest_speedup_workers(&self) -> Option<u32> {
        self.exercises
            .iter()
            .flat_map(|e| &e.tests)
            .filter_map(|t| match &t.kind {
                TestKind::Speedup(s) => Some(s.workers),
                _ => None,
            })
            .max()
    }

    /// Several specs graded as one (`--spec a.toml --spec b.toml`): exercises in order, the
    /// longest build timeout, the deadline of whichever spec has one. Exercise ids must stay
    /// unique, and two specs with deadlines must agree on it.
    pub fn combine(specs: Vec<Spec>) -> Result<Spec, CombineError> {
        let mut iter = specs.into_iter();
        let Some(mut all) = iter.next() else {
            return Err(CombineError::Empty);
        };
        for next in iter {
            for ex in next.exercises {
                if let Some(prev) = all.exercises.iter().find(|e| e.id == ex.id) {
                    return Err(CombineError::DuplicateExercise {
                        id: prev.id.clone(),
                        first: all.origin.clone(),
                        second: next.origin.clone(),
                    });
                }
                all.exercises.push(ex);
            }
            all.lab = format!("{}+{}", all.lab, next.lab);
            all.title = format!("{}; {}", all.title, next.title);
            all.build.timeout = all.build.timeout.max(next.build.timeout);
            match (&all.reference, next.reference) {
                (Some(a), Some(b)) if *a != b => {
                    return Err(CombineError::DifferentReferences {
                        first: all.origin.clone(),
                        second: next.origin.clone(),
                    })
                }
                (None, Some(b)) => all.reference = Some(b),
                _ => {}
            }
            match (&all.deadline, next.deadline) {
                (Some(a), Some(b)) if *a != b => {
                    return Err(CombineError::DifferentDeadlines {
                        first: all.origin.clone(),
                        second: next.origin.clone(),
                    })
                }
                (None, Some(b)) => all.deadline = Some(b),
                _ => {}
            }
            match (&all.extensions_file, next.extensions_file) {
                (Some(a), Some(b)) if *a != b => {
                    return Err(CombineError::DifferentDeadlines {
                        first: all.origin.clone(),
                        second: next.origin.clone(),
                    })
                }
                (None, Some(b)) => all.extensions_file = Some(b),
                _ => {}
            }
            match (&all.gradescope_deadline, next.gradescope_deadline) {
                (Some(a), Some(b)) if *a != b => {
                    return Err(CombineError::DifferentDeadlines {
                        first: all.origin.clone(),
                        second: next.origin.clone(),
                    })
                }
                (None, Some(b)) => all.gradescope_deadline = Some(b),
                _ => {}
            }
            // A fixed date and Gradescope's are two deadlines.
            if all.deadline.is_some() && all.gradescope_deadline.is_some() {
                return Err(CombineError::DifferentDeadlines {
                    first: all.origin.clone(),
                    second: next.origin.clone(),
                });
            }
            all.origin = format!("{}, {}", all.origin, next.origin);
        }
        Ok(all)
    }
}

/// Why specs cannot be graded together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CombineError {
    #[error("no spec given")]
    Empty,
    #[error("exercise `{id}` is defined both in {first} and in {second}")]
    DuplicateExercise {
        id: String,
        first: String,
        second: String,
    },
    #[error("{first} and {second} both have a `[deadline]`, and they differ: keep it in one spec")]
    DifferentDeadlines { first: String, second: String },
    #[error(
        "{first} and {second} name different reference solutions: keep `reference` in one spec"
    )]
    DifferentReferences { first: String, second: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangular_handles_totals_beyond_u64() {
        assert_eq!(triangular(0), 0);
        assert_eq!(triangular(10), 55);
        assert_eq!(triangular(10_000_000_000), 50_000_000_005_000_000_000);
        assert!(triangular(10_000_000_000) > u64::MAX as u128);
        assert_eq!(
            triangular(u64::MAX),
            (u64::MAX as u128) * (u64::MAX as u128 + 1) / 2
        );
    }

    #[test]
    fn a_limit_from_the_reference_is_a_multiple_above_the_floor_below_the_spec() {
        let r = ReferenceTimeouts {
            multiple: 20,
            floor: Duration::from_secs(2),
        };
        let (ms, s) = (Duration::from_millis, Duration::from_secs);
        // Small inputs: the floor.
        assert_eq!(r.limit(Some(ms(3)), s(10)), s(2));
        // Large ones: the multiple.
        assert_eq!(r.limit(Some(ms(500)), s(60)), s(10));
        // Never above the spec's own timeout, nor when the reference did not finish in time.
        assert_eq!(r.limit(Some(s(4)), s(60)), s(60));
        assert_eq!(r.limit(None, s(60)), s(60));
        // A spec timeout below the floor stays.
        assert_eq!(r.limit(Some(ms(1)), s(1)), s(1));
        // The reference runs at most as long as can still shorten the limit.
        assert_eq!(r.measure_for(s(60)), s(3));
    }

    #[test]
    fn product_checker_multiplies_in_u128() {
        let c = StdoutCheck::Product {
            factors: vec![64, 100_000_000],
        };
        assert_eq!(c.expected_text(), "6400000000");
        assert_eq!(StdoutCheck::Equals(" 7\n".into()).expected_text(), "7");
    }
}

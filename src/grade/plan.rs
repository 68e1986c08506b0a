//! Planning a grading: from the spec and what built, which tests run and where. Tests whose
//! binary did not build are decided here, without running anything; the others go to the
//! shared cores or, when their verdict depends on having every core (speedup, races), to the
//! exclusive lane, one at a time after the others.
//!
//! It only decides; `Grader::grade` runs the plan.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::build::{BinaryBuild, BuildReport};
use crate::spec::{Exercise, Spec, TestCase, TestKind};
use crate::verdict::{Evidence, Reason, ResultKind, TestResult, Verdict};

/// A test ready to run: its exercise, the test, the release executable and, for race probes
/// that rotate builds, the unoptimised one.
pub(super) type Runnable<'a> = (&'a Exercise, &'a TestCase, &'a Path, Option<&'a Path>);

/// What a grading will do once its binaries are built.
#[derive(Debug)]
pub(super) struct Plan<'a> {
    /// Results decided without a run: every exercise's build entry, and the tests of the
    /// binaries that did not build.
    pub tests: Vec<TestResult>,
    /// Tests that share the cores with each other (output, processes).
    pub shared: Vec<Runnable<'a>>,
    /// Tests that need the cores to themselves (speedup, race): run one at a time, last.
    pub exclusive: Vec<Runnable<'a>>,
}

impl<'a> Plan<'a> {
    /// The plan for `exercises` (the spec's, with any time limits derived for this machine),
    /// given their release builds and the unoptimised builds some race probes rotate through.
    pub fn new(
        exercises: &'a [Exercise],
        built: &'a BuildReport,
        unoptimised: &'a BuildReport,
    ) -> Plan<'a> {
        let mut plan = Plan {
            tests: Vec::new(),
            shared: Vec::new(),
            exclusive: Vec::new(),
        };
        for ex in exercises {
            let state = &built.binaries[&ex.binary];
            plan.tests.push(build_test(ex, state));
            match state {
                BinaryBuild::Built { executable } => {
                    let unopt = match unoptimised.binaries.get(&ex.binary) {
                        Some(BinaryBuild::Built { executable }) => Some(executable.as_path()),
                        _ => None,
                    };
                    for t in &ex.tests {
                        let runnable = (ex, t, executable.as_path(), unopt);
                        if needs_exclusive_cores(&t.kind) {
                            plan.exclusive.push(runnable);
                        } else {
                            plan.shared.push(runnable);
                        }
                    }
                }
                other => {
                    let (reason, why) = not_built(ex, other);
                    plan.tests.extend(
                        ex.tests
                            .iter()
                            .map(|t| failed(ex, t, reason.clone(), why.clone())),
                    );
                }
            }
        }
        plan
    }
}

/// The binaries the spec's exercises need, each once, in name order.
pub(super) fn binaries(spec: &Spec) -> Vec<&str> {
    let names: BTreeSet<&str> = spec.exercises.iter().map(|e| e.binary.as_str()).collect();
    names.into_iter().collect()
}

/// Sorts `tests` in spec order: exercises as listed, each one's build entry first.
pub(super) fn in_spec_order(spec: &Spec, tests: &mut [TestResult]) {
    tests.sort_by_key(|t| {
        let ex = spec.exercises.iter().position(|e| e.id == t.exercise);
        let test = spec.exercises[ex.unwrap_or(0)]
            .tests
            .iter()
            .position(|c| c.name == t.name && t.kind != ResultKind::Build);
        (ex, test.map_or(0, |i| i + 1))
    });
}

/// Whether a test kind must not share the cores with other tests of the same grading.
fn needs_exclusive_cores(kind: &TestKind) -> bool {
    match kind {
        TestKind::Output(_) | TestKind::Processes(_) => false,
        TestKind::Race(_) | TestKind::Speedup(_) => true,
    }
}

/// The `build` entry of an exercise: worth no points, but it says why nothing else ran.
fn build_test(ex: &Exercise, state: &BinaryBuild) -> TestResult {
    let (verdict, message, evidence) = match state {
        BinaryBuild::Built { .. } => (
            Verdict::Pass,
            format!("src/bin/{}.rs compiled", ex.binary),
            Evidence::default(),
        ),
        other => {
            let (reason, message) = not_built(ex, other);
            let evidence = match other {
                BinaryBuild::Failed(e) => Evidence::Build {
                    compiler_output: e.rendered.clone(),
                },
                _ => Evidence::default(),
            };
            (Verdict::Fail(reason), message, evidence)
        }
    };
    TestResult {
        exercise: ex.id.clone(),
        kind: ResultKind::Build,
        name: format!("build {}", ex.binary),
        verdict,
        max_score: 0.0,
        message,
        evidence,
        hidden: false,
        duration: Duration::ZERO,
    }
}

/// Why an exercise's binary is not there to run.
fn not_built(ex: &Exercise, state: &BinaryBuild) -> (Reason, String) {
    match state {
        BinaryBuild::Missing => (
            Reason::MissingBinary {
                binary: ex.binary.clone(),
            },
            format!(
                "src/bin/{}.rs is missing: the {} exercise cannot be graded",
                ex.binary, ex.id
            ),
        ),
        BinaryBuild::Failed(e) => {
            let more = match e.count {
                0 | 1 => String::new(),
                n => format!(
                    " (and {} more error{})",
                    n - 1,
                    if n > 2 { "s" } else { "" }
                ),
            };
            let at = e.location();
            let at = if at.is_empty() {
                String::new()
            } else {
                format!("{at}: ")
            };
            (
                Reason::BuildFailed(Box::new(e.clone())),
                format!("{} does not compile: {at}{}{more}", ex.binary, e.message),
            )
        }
        BinaryBuild::TimedOut { after } => (
            Reason::BuildTimeout { after: *after },
            format!(
                "building {} took longer than {} s and was stopped. The lab's programs compile \
                 in seconds, so something keeps the compiler busy: a constant that never \
                 finishes evaluating (`allow(long_running_const_eval)` turns off rustc's own \
                 stop), or types or macros that expand without end",
                ex.binary,
                after.as_secs()
            ),
        ),
        BinaryBuild::Built { .. } => unreachable!("a built binary has a reason not to run"),
    }
}

/// A test that could not run, failed for `reason`.
pub(super) fn failed(ex: &Exercise, test: &TestCase, reason: Reason, why: String) -> TestResult {
    TestResult {
        exercise: ex.id.clone(),
        kind: ResultKind::Test(test.kind.kind()),
        name: test.name.clone(),
        verdict: Verdict::Fail(reason),
        max_score: test.points,
        message: format!("not run: {why}"),
        evidence: Evidence::default(),
        hidden: test.hidden,
        duration: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn report(states: &[(&str, BinaryBuild)]) -> BuildReport {
        BuildReport {
            binaries: states
                .iter()
                .map(|(b, s)| (b.to_string(), s.clone()))
                .collect::<BTreeMap<_, _>>(),
            wall: Duration::ZERO,
        }
    }

    #[test]
    fn a_binary_that_did_not_build_decides_its_tests_and_the_rest_go_to_their_lane() {
        let spec = crate::spec::builtin();
        let built = report(&[
            (
                "pool_sum",
                BinaryBuild::Built {
                    executable: PathBuf::from("/x/pool_sum"),
                },
            ),
            ("counter", BinaryBuild::Missing),
        ]);
        let none = report(&[]);
        let plan = Plan::new(&spec.exercises, &built, &none);

        // One build entry per exercise, and every counter test failed without a run.
        let builds: Vec<_> = plan
            .tests
            .iter()
            .filter(|t| t.kind == ResultKind::Build)
            .map(|t| (t.exercise.as_str(), t.verdict.passed()))
            .collect();
        assert_eq!(builds, [("pool-sum", true), ("counter", false)]);
        let counter = spec.exercises.iter().find(|e| e.id == "counter").unwrap();
        let decided = plan.tests.iter().filter(|t| t.exercise == "counter");
        assert_eq!(decided.count(), counter.tests.len() + 1);
        assert!(plan
            .tests
            .iter()
            .filter(|t| t.exercise == "counter" && t.kind != ResultKind::Build)
            .all(|t| matches!(t.verdict, Verdict::Fail(Reason::MissingBinary { .. }))));

        // pool-sum's tests are all planned, each in its lane.
        let pool = spec.exercises.iter().find(|e| e.id == "pool-sum").unwrap();
        assert_eq!(plan.shared.len() + plan.exclusive.len(), pool.tests.len());
        assert!(plan
            .shared
            .iter()
            .all(|r| !needs_exclusive_cores(&r.1.kind)));
        assert!(!plan.exclusive.is_empty());
        assert!(plan
            .exclusive
            .iter()
            .all(|r| matches!(r.1.kind, TestKind::Speedup(_))));
    }

    #[test]
    fn results_come_back_in_spec_order_with_each_build_entry_first() {
        let spec = crate::spec::builtin();
        let empty = report(&[
            ("pool_sum", BinaryBuild::Missing),
            ("counter", BinaryBuild::Missing),
        ]);
        let none = report(&[]);
        let mut tests = Plan::new(&spec.exercises, &empty, &none).tests;
        let want: Vec<(String, String)> = tests
            .iter()
            .map(|t| (t.exercise.clone(), t.name.clone()))
            .collect();
        tests.reverse();
        in_spec_order(&spec, &mut tests);
        let got: Vec<(String, String)> = tests
            .iter()
            .map(|t| (t.exercise.clone(), t.name.clone()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(tests[0].kind, ResultKind::Build);
        assert_eq!(tests[0].exercise, spec.exercises[0].id);
    }

    #[test]
    fn each_binary_is_built_once() {
        assert_eq!(binaries(&crate::spec::builtin()), ["counter", "pool_sum"]);
    }
}

//! The order of a grading's shared tests, and stopping an exercise whose binary hangs on its
//! first tests (`stop_after_hangs`).
//!
//! Tests run cheapest first (the smallest numbers in their arguments, then the shortest
//! timeout, the runs that must succeed before the refusals of bad arguments, spec order), so a
//! hang shows in the first seconds and a hang on large inputs only is found after the small
//! tests have passed. The first `stop_after_hangs` tests of an exercise are its *gates*: they run first, with the
//! short `hang_timeout` (raised on a slow machine, never above a test's own timeout), and the
//! exercise's other tests wait for them.
//! - A gate that ends (pass or any other failure) shows the binary can finish: the other tests
//!   run, each judged on its own with its full timeout, and a gate that was stopped at the short
//!   limit runs again with its full one. So a slow but correct program never loses a point to
//!   the short limit, and a binary that hangs only on large inputs loses only those tests.
//! - When every gate was stopped, the machine is checked (a run of nothing in the same sandbox
//!   must take a small fraction of the limit, else the gates run again with their full
//!   timeouts): the exercise has hung, its gates fail as `timeout` and its other tests, the
//!   timing probes included, fail as `not_run_after_hangs`, with one message that says so.
//!   Its refusals of bad arguments still run, each with the short limit: a program that hangs
//!   on every valid input may refuse bad arguments at once, and those points were never lost
//!   to a hang.
//!
//! This module decides what runs next and what the results are; the grader's threads run the
//! probes (it never spawns anything itself).

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::probe::{HangEvidence, HangKind};
use crate::spec::{ExitExpectation, HangPolicy, TestCase, TestKind};
use crate::verdict::{Evidence, Reason, ResultKind, TestResult, Verdict};

use super::Runnable;

/// The hang limit is at least this many times what a run of nothing takes right now.
pub(super) const YARDSTICK_MULTIPLE: u32 = 50;

/// A test to run: which, why, and the limit of its run when it is not the test's own timeout.
#[derive(Clone, Copy)]
pub(super) struct Job<'a> {
    pub runnable: Runnable<'a>,
    /// `Some`: run with this limit (the hang limit, or the test's own timeout when shorter).
    pub limit: Option<Duration>,
    pub role: Role,
}

/// Why a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// A test like any other, with its own timeout.
    Ordinary,
    /// One of an exercise's first tests, with the hang limit.
    Gate,
    /// A refusal of bad arguments of an exercise that hung, with the hang limit: a program
    /// that hangs on every valid input may still refuse bad arguments at once, and keeps
    /// those points.
    Refusal,
}

impl Job<'_> {
    /// The test as this job runs it: a gate's timeout is its limit.
    pub fn test(&self) -> TestCase {
        let mut test = self.runnable.1.clone();
        if let (Some(limit), TestKind::Output(o)) = (self.limit, &mut test.kind) {
            o.timeout = limit;
        }
        test
    }

    /// Whether the run was shorter than the test's own timeout.
    fn shortened(&self) -> bool {
        self.limit
            .is_some_and(|l| Some(l) < own_timeout(self.runnable.1))
    }

    fn exercise(&self) -> &str {
        &self.runnable.0.id
    }
}

/// What the scheduler knows of one exercise.
enum Watch<'a> {
    /// Gates still running (`left`), and those that were stopped.
    Gated {
        left: usize,
        hung: Vec<(Job<'a>, TestResult)>,
    },
    /// Every gate was stopped; the machine is to be checked (`claimed`: a thread does it).
    Confirming {
        hung: Vec<(Job<'a>, TestResult)>,
        claimed: bool,
    },
    /// It can finish: every test runs.
    Live,
    /// It hung: the message the tests not run carry.
    Hung(String),
}

struct State<'a> {
    queue: VecDeque<Job<'a>>,
    watches: HashMap<String, Watch<'a>>,
    running: usize,
    results: Vec<TestResult>,
}

/// The shared tests of one grading, handed out to the grader's threads.
pub(super) struct Scheduler<'a> {
    state: Mutex<State<'a>>,
    wake: Condvar,
}

/// What a thread does next.
pub(super) enum Next<'a> {
    Run(Job<'a>),
    /// Every gate of `exercise` was stopped at `limit`: check the machine, then call
    /// [`Scheduler::confirm`].
    Confirm {
        exercise: String,
        limit: Duration,
    },
    Done,
}

impl<'a> Scheduler<'a> {
    /// The plan for `runnable`; `least_limit` is the hang limit the machine needs right now
    /// (see [`YARDSTICK_MULTIPLE`]), `early_stop` false runs every test to its own timeout.
    pub fn new(runnable: &[Runnable<'a>], least_limit: Duration, early_stop: bool) -> Self {
        let mut ordered: Vec<(usize, Runnable<'a>)> =
            runnable.iter().copied().enumerate().collect();
        ordered.sort_by_key(|(i, r)| cost(r.1, *i));
        let mut gates = Vec::new();
        let mut rest = Vec::new();
        let mut watches = HashMap::new();
        let mut gated: HashMap<&str, u32> = HashMap::new();
        for (_, r) in ordered {
            let policy: HangPolicy = r.0.hangs;
            let count = gated.entry(r.0.id.as_str()).or_default();
            if early_stop && *count < policy.stop_after && can_gate(r.1) {
                *count += 1;
                let limit = policy.timeout.max(least_limit);
                let limit = limit.min(own_timeout(r.1).unwrap_or(limit));
                gates.push(Job {
                    runnable: r,
                    limit: Some(limit),
                    role: Role::Gate,
                });
            } else {
                rest.push(Job {
                    runnable: r,
                    limit: None,
                    role: Role::Ordinary,
                });
            }
        }
        for r in runnable {
            let left = gated.get(r.0.id.as_str()).copied().unwrap_or(0) as usize;
            watches.entry(r.0.id.clone()).or_insert(if left > 0 {
                Watch::Gated {
                    left,
                    hung: Vec::new(),
                }
            } else {
                Watch::Live
            });
        }
        Scheduler {
            state: Mutex::new(State {
                queue: gates.into_iter().chain(rest).collect(),
                watches,
                running: 0,
                results: Vec::new(),
            }),
            wake: Condvar::new(),
        }
    }

    /// The next job a thread can run, waiting while only blocked tests are left.
    pub fn next(&self) -> Next<'a> {
        let mut s = self.state.lock().expect("no panics under the lock");
        loop {
            if let Some(confirm) = s.confirming_unclaimed() {
                return confirm;
            }
            let ready = s.queue.iter().position(|job| {
                job.role != Role::Ordinary
                    || matches!(s.watches.get(job.exercise()), Some(Watch::Live))
            });
            if let Some(i) = ready {
                let job = s.queue.remove(i).expect("a queued job");
                s.running += 1;
                return Next::Run(job);
            }
            if s.queue.is_empty() && s.running == 0 {
                return Next::Done;
            }
            s = self.wake.wait(s).expect("no panics under the lock");
        }
    }

    /// Records the result of `job`.
    pub fn finish(&self, job: Job<'a>, result: TestResult) {
        let mut s = self.state.lock().expect("no panics under the lock");
        s.running -= 1;
        if job.role != Role::Gate {
            s.results.push(result);
        } else {
            let hung = matches!(result.verdict, Verdict::Fail(Reason::Timeout { .. }));
            let ex = job.exercise().to_string();
            match s.watches.remove(&ex) {
                Some(Watch::Gated {
                    left,
                    hung: mut hung_gates,
                }) => {
                    if hung {
                        hung_gates.push((job, result));
                    } else {
                        s.results.push(result);
                    }
                    let left = left - 1;
                    let next = if !hung {
                        s.go_live(hung_gates)
                    } else if left == 0 {
                        // The check counts as running until `confirm`, so no thread ends
                        // while it is pending.
                        s.running += 1;
                        Watch::Confirming {
                            hung: hung_gates,
                            claimed: false,
                        }
                    } else {
                        Watch::Gated {
                            left,
                            hung: hung_gates,
                        }
                    };
                    s.watches.insert(ex, next);
                }
                // Gates that end after the exercise went live are ordinary results.
                Some(other) => {
                    if hung && job.shortened() {
                        s.requeue(job);
                    } else {
                        s.results.push(result);
                    }
                    s.watches.insert(ex, other);
                }
                None => s.results.push(result),
            }
        }
        self.wake.notify_all();
    }

    /// The machine check of `exercise` is done: `hung` true stops it.
    pub fn confirm(&self, exercise: &str, hung: bool) {
        let mut s = self.state.lock().expect("no panics under the lock");
        s.running -= 1;
        let Some(Watch::Confirming { hung: gates, .. }) = s.watches.remove(exercise) else {
            return;
        };
        let next = if hung {
            s.stop(exercise, gates)
        } else {
            s.go_live(gates)
        };
        s.watches.insert(exercise.to_string(), next);
        self.wake.notify_all();
    }

    /// Whether nothing is left to run or running (a thread waiting for a core may leave).
    pub fn finished(&self) -> bool {
        let s = self.state.lock().expect("no panics under the lock");
        s.queue.is_empty() && s.running == 0
    }

    /// Gives up on everything still queued (a probe could not run: the grading fails).
    pub fn abort(&self) {
        let mut s = self.state.lock().expect("no panics under the lock");
        s.queue.clear();
        s.running -= 1;
        self.wake.notify_all();
    }

    /// The results so far, and for each exercise that hung, the message of its tests not run.
    pub fn into_results(self) -> (Vec<TestResult>, HashMap<String, String>) {
        let s = self.state.into_inner().expect("threads joined");
        let hung = s
            .watches
            .into_iter()
            .filter_map(|(ex, w)| match w {
                Watch::Hung(message) => Some((ex, message)),
                _ => None,
            })
            .collect();
        (s.results, hung)
    }
}

impl<'a> State<'a> {
    /// An exercise waiting for its machine check that no thread has claimed yet, now claimed.
    fn confirming_unclaimed(&mut self) -> Option<Next<'a>> {
        self.watches.iter_mut().find_map(|(ex, w)| match w {
            Watch::Confirming { hung, claimed } if !*claimed => {
                *claimed = true;
                let limit = hung.first()?.0.limit?;
                Some(Next::Confirm {
                    exercise: ex.clone(),
                    limit,
                })
            }
            _ => None,
        })
    }

    /// The exercise can finish: gates stopped at the short limit run again with their own.
    fn go_live(&mut self, hung: Vec<(Job<'a>, TestResult)>) -> Watch<'a> {
        for (job, result) in hung {
            if job.shortened() {
                self.requeue(job);
            } else {
                self.results.push(result);
            }
        }
        Watch::Live
    }

    fn requeue(&mut self, job: Job<'a>) {
        self.queue.push_front(Job {
            runnable: job.runnable,
            limit: None,
            role: Role::Ordinary,
        });
    }

    /// The exercise hung: its gates fail as timeouts, everything else of it as not run.
    fn stop(&mut self, exercise: &str, mut gates: Vec<(Job<'a>, TestResult)>) -> Watch<'a> {
        // In the order they were planned, not the order they ended in.
        gates.sort_by_key(|(j, _)| {
            let tests = &j.runnable.0.tests;
            let index = tests.iter().position(|t| std::ptr::eq(t, j.runnable.1));
            cost(j.runnable.1, index.unwrap_or(0))
        });
        let (theirs, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|j| j.exercise() == exercise);
        self.queue = others.into();
        let (refusals, theirs): (Vec<_>, Vec<_>) =
            theirs.into_iter().partition(|j| is_refusal(j.runnable.1));
        let limit = gates.iter().filter_map(|(j, _)| j.limit).max();
        let total = gates.first().map_or(0, |(j, _)| j.runnable.0.tests.len());
        let not_run = total - gates.len() - refusals.len();
        let message = hang_report(&gates, not_run);
        let first = match gates.len() {
            1 => "Its first test hung".to_string(),
            n => format!("Its first {n} tests all hung"),
        };
        for (_, mut result) in gates {
            if not_run > 0 {
                let end = if result.message.ends_with(['?', '.']) {
                    " "
                } else {
                    ". "
                };
                result.message = format!(
                    "{}{end}{first}, so {} were not run.",
                    result.message,
                    other_tests(not_run)
                );
            }
            self.results.push(result);
        }
        // The refusals still run, each stopped at the hang limit.
        for job in refusals {
            let limit = limit.map(|l| l.min(own_timeout(job.runnable.1).unwrap_or(l)));
            self.queue.push_back(Job {
                runnable: job.runnable,
                limit,
                role: Role::Refusal,
            });
        }
        self.results.extend(
            theirs
                .iter()
                .map(|j| not_run_result(j.runnable.1, &j.runnable.0.id, &message)),
        );
        Watch::Hung(message)
    }
}

/// The one message of an exercise that hung: which tests, how long, idle or busy, why.
pub(super) fn hang_report(gates: &[(Job<'_>, TestResult)], not_run: usize) -> String {
    let binary = gates
        .first()
        .map_or("", |(j, _)| j.runnable.0.binary.as_str());
    let names: Vec<&str> = gates
        .iter()
        .map(|(j, _)| j.runnable.1.name.as_str())
        .collect();
    let names = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    };
    let hangs: Vec<HangEvidence> = gates
        .iter()
        .filter_map(|(_, r)| r.evidence.hang())
        .collect();
    let limit = gates
        .iter()
        .filter_map(|(j, _)| j.limit)
        .max()
        .unwrap_or_default();
    // Busy if any was: an endless loop is the more specific finding.
    let shown = hangs
        .iter()
        .find(|h| h.kind == HangKind::Busy)
        .or(hangs.first());
    let what = shown.map_or_else(String::new, |h| format!(" ({})", h.in_short()));
    format!(
        "`{binary}` hung on {names}: no output after {:.1} s{what}, where a correct program \
         needs milliseconds on these small inputs; {} were not run",
        limit.as_secs_f64(),
        other_tests(not_run)
    )
}

/// "its 1 other test" / "its 24 other tests": real plurals in student text.
fn other_tests(n: usize) -> String {
    format!("its {n} other test{}", if n == 1 { "" } else { "s" })
}

/// A test of an exercise that hung, failed as not run.
pub(super) fn not_run_result(test: &TestCase, exercise: &str, report: &str) -> TestResult {
    TestResult {
        exercise: exercise.to_string(),
        kind: ResultKind::Test(test.kind.kind()),
        name: test.name.clone(),
        verdict: Verdict::Fail(Reason::NotRunAfterHangs),
        max_score: test.points,
        message: format!("not run: {report}"),
        evidence: Evidence::default(),
        hidden: test.hidden,
        duration: Duration::ZERO,
    }
}

/// Cheapest first: the smallest numbers in the arguments (N, K: the work), then the shortest
/// timeout, runs that must succeed before refusals, spec order.
fn cost(test: &TestCase, index: usize) -> (u128, Duration, bool, usize) {
    let args: &[String] = match &test.kind {
        TestKind::Output(o) => &o.args,
        TestKind::Processes(p) => &p.args,
        TestKind::Speedup(_) | TestKind::Race(_) => &[],
    };
    let size = args
        .iter()
        .filter_map(|a| a.parse::<u128>().ok())
        .max()
        .unwrap_or(0);
    let refusal = is_refusal(test);
    (
        size,
        own_timeout(test).unwrap_or(Duration::MAX),
        refusal,
        index,
    )
}

/// A gate is a run that must print a result: a program that refuses bad arguments at once
/// proves nothing about whether it hangs.
fn can_gate(test: &TestCase) -> bool {
    matches!(&test.kind, TestKind::Output(_)) && !is_refusal(test)
}

/// A run that must fail (bad arguments).
fn is_refusal(test: &TestCase) -> bool {
    matches!(&test.kind, TestKind::Output(o) if o.exit == ExitExpectation::Failure)
}

fn own_timeout(test: &TestCase) -> Option<Duration> {
    match &test.kind {
        TestKind::Output(o) => Some(o.timeout),
        TestKind::Processes(p) => Some(p.timeout),
        TestKind::Race(r) => Some(r.timeout),
        TestKind::Speedup(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::spec::{parse, Spec};

    const SPEC: &str = r#"
lab = "x"
title = "X"
[defaults]
timeout = "10s"
stop_after_hangs = 2
[[exercise]]
id = "pool-sum"
binary = "pool_sum"
[[exercise.test]]
kind = "output"
name = "bad args"
args = ["x"]
exit = "failure"
[[exercise.test]]
kind = "output"
name = "big n={n}"
matrix = { n = [1000000000] }
args = ["{n}", "2"]
timeout = "60s"
[[exercise.test]]
kind = "output"
name = "n={n}"
matrix = { n = [0, 1, 10] }
args = ["{n}", "1"]
[[exercise]]
id = "counter"
binary = "counter"
stop_after_hangs = 0
[[exercise.test]]
kind = "output"
name = "safe"
args = ["safe", "2", "10"]
"#;

    fn spec() -> Spec {
        parse(SPEC, "t.toml").unwrap()
    }

    fn runnable(spec: &Spec) -> Vec<Runnable<'_>> {
        let exe = Path::new("/x");
        spec.exercises
            .iter()
            .flat_map(|ex| ex.tests.iter().map(move |t| (ex, t, exe, None)))
            .collect()
    }

    fn result(job: &Job<'_>, verdict: Verdict, hang: Option<HangEvidence>) -> TestResult {
        TestResult {
            exercise: job.exercise().to_string(),
            kind: ResultKind::OUTPUT,
            name: job.runnable.1.name.clone(),
            verdict,
            max_score: 1.0,
            message: "m".into(),
            evidence: Evidence::Output(crate::verdict::RunEvidence {
                hang,
                ..Default::default()
            }),
            hidden: false,
            duration: Duration::ZERO,
        }
    }

    /// Runs the schedule on one thread: `hangs(name, limit)` says whether a run hangs.
    /// Returns (what ran with which limit, the machine checks, the results, the hung).
    #[allow(clippy::type_complexity)]
    fn drive(
        schedule: Scheduler<'_>,
        hangs: impl Fn(&str) -> bool,
        quiet: bool,
    ) -> (
        Vec<(String, Option<Duration>)>,
        Vec<String>,
        Vec<TestResult>,
        HashMap<String, String>,
    ) {
        let (mut ran, mut checks) = (Vec::new(), Vec::new());
        loop {
            match schedule.next() {
                Next::Done => break,
                Next::Confirm { exercise, .. } => {
                    checks.push(exercise.clone());
                    schedule.confirm(&exercise, quiet);
                }
                Next::Run(job) => {
                    let name = job.runnable.1.name.clone();
                    ran.push((name.clone(), job.limit));
                    let after = own_timeout(&job.test()).unwrap();
                    let r = if hangs(&name) {
                        let hang = HangEvidence::new(Duration::from_millis(2), after);
                        result(&job, Verdict::Fail(Reason::Timeout { after }), Some(hang))
                    } else {
                        result(&job, Verdict::Pass, None)
                    };
                    schedule.finish(job, r);
                }
            }
        }
        let (results, hung) = schedule.into_results();
        (ran, checks, results, hung)
    }

    #[test]
    fn cheapest_first_with_the_first_two_runs_as_gates() {
        let spec = spec();
        let r = runnable(&spec);
        let (ran, checks, results, hung) =
            drive(Scheduler::new(&r, Duration::ZERO, true), |_| false, true);
        let two = Some(Duration::from_secs(2));
        let names: Vec<(&str, Option<Duration>)> =
            ran.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        assert_eq!(
            names,
            [
                ("n=0", two),
                ("n=1", two),
                ("bad args", None),
                ("n=10", None),
                ("safe", None),
                ("big n=1000000000", None),
            ]
        );
        assert!(checks.is_empty() && hung.is_empty());
        assert_eq!(results.len(), 6);
    }

    #[test]
    fn an_exercise_that_hangs_on_its_gates_stops_with_one_message() {
        let spec = spec();
        let r = runnable(&spec);
        let pool_hangs = |n: &str| n != "safe";
        let (ran, checks, results, hung) =
            drive(Scheduler::new(&r, Duration::ZERO, true), pool_hangs, true);
        let two = Some(Duration::from_secs(2));
        let names: Vec<(&str, Option<Duration>)> =
            ran.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        // The refusal of bad arguments still runs, with the hang limit.
        assert_eq!(
            names,
            [
                ("n=0", two),
                ("n=1", two),
                ("safe", None),
                ("bad args", two)
            ]
        );
        assert_eq!(checks, ["pool-sum"]);
        let message = &hung["pool-sum"];
        assert_eq!(
            message,
            "`pool_sum` hung on n=0 and n=1: no output after 2.0 s (it sat idle), where a \
             correct program needs milliseconds on these small inputs; its 2 other tests \
             were not run"
        );
        let reason = |name: &str| {
            let t = results.iter().find(|t| t.name == name).unwrap();
            match &t.verdict {
                Verdict::Fail(r) => r.code(),
                Verdict::Pass => "pass",
            }
        };
        assert_eq!(reason("n=0"), "timeout");
        assert_eq!(reason("n=1"), "timeout");
        assert_eq!(reason("bad args"), "timeout");
        for name in ["n=10", "big n=1000000000"] {
            assert_eq!(reason(name), "not_run_after_hangs", "{name}");
        }
        assert_eq!(reason("safe"), "pass");
        assert_eq!(results.len(), 6);
    }

    #[test]
    fn a_binary_that_finishes_a_gate_is_judged_test_by_test_with_full_timeouts() {
        let spec = spec();
        let r = runnable(&spec);
        // Hangs on N = 0 only (and on the big N): the stopped gate runs again with 10 s.
        let (ran, checks, results, hung) = drive(
            Scheduler::new(&r, Duration::ZERO, true),
            |n| n == "n=0" || n.starts_with("big"),
            true,
        );
        assert!(checks.is_empty() && hung.is_empty());
        assert!(ran.contains(&("n=0".to_string(), None)), "{ran:?}");
        assert_eq!(ran.len(), 7);
        assert_eq!(results.len(), 6);
        let failed: Vec<&str> = results
            .iter()
            .filter(|t| !t.verdict.passed())
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(failed, ["n=0", "big n=1000000000"]);
    }

    #[test]
    fn a_loaded_machine_or_no_early_stop_runs_everything_to_its_own_timeout() {
        let spec = spec();
        let r = runnable(&spec);
        // The machine check fails: the gates run again with their full timeouts.
        let (ran, checks, results, hung) = drive(
            Scheduler::new(&r, Duration::ZERO, true),
            |n| n != "safe",
            false,
        );
        assert_eq!(checks, ["pool-sum"]);
        assert!(hung.is_empty());
        assert_eq!(ran.len(), 8);
        assert_eq!(results.len(), 6);
        // Off: no gates, no checks.
        let (ran, checks, _, _) = drive(
            Scheduler::new(&r, Duration::ZERO, false),
            |n| n != "safe",
            true,
        );
        assert!(checks.is_empty());
        assert!(ran.iter().all(|(_, limit)| limit.is_none()));
        // A slow machine raises the hang limit, never above a test's own timeout.
        let (ran, ..) = drive(
            Scheduler::new(&r, Duration::from_secs(30), true),
            |_| false,
            true,
        );
        assert_eq!(ran[0].1, Some(Duration::from_secs(10)));
    }
}

//! Output and processes tests' limits derived from the reference's time
//! (`timeout_from_reference`; the speedup probe applies the same rule to its own runs).
//!
//! Before a grading runs its tests, the reference `pool_sum` (the spec's reference solution,
//! else the neutral yardstick built into the grader) is timed once on each input of the
//! exercises that ask for it, in the same sandbox, and each output or processes test's limit becomes
//! [`ReferenceTimeouts::limit`] of that time. The times are kept for the whole process, so a
//! batch's workers time each input once, and on disk for a day ([`Remembered`]), so the next
//! grader process on this machine (a student's next `check`, a Slurm array's shards on one
//! node) does not time them again.
//!
//! The time kept is the larger of the reference's wall and CPU times: what a pool running on
//! one core would need, so a correct but sequential pool is not stopped early. A reference run
//! is stopped at the test's own timeout divided by the multiple: beyond that the test keeps its
//! own timeout anyway. A reference that takes longer when the machine is loaded only makes
//! limits longer (the safe side).
//!
//! This module plans and records; runs go through the sandbox like every other run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::lane::Lane;
use crate::probe::{self, Target};
use crate::sandbox::Ending;
use crate::spec::{Exercise, ReferenceTimeouts, TestCase, TestKind};
use crate::verdict::{Reason, TestResult, TimeLimit, Verdict};

use super::remembered::{self, Kept, Remembered};
use super::GradeError;

/// `LABGRADE_LEGACY_TIMEOUTS=1`: every test runs to the spec's own timeout and nothing stops
/// early (the behaviour before derived limits and `stop_after_hangs`, for benchmarks).
pub(super) fn legacy() -> bool {
    crate::switch::on("LABGRADE_LEGACY_TIMEOUTS")
}

/// What the reference did on one input.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Measured {
    /// It ended after this long (a pool on one core: the larger of wall and CPU time).
    Took(Duration),
    /// It was still running after this long.
    Over(Duration),
}

/// Which reference (`None`: the built-in yardstick) on which arguments.
type Key = (Option<PathBuf>, Vec<String>);

/// The reference's times, for the whole process, and where each reference's are kept on disk
/// between processes ([`Remembered`]).
#[derive(Default)]
struct Memory {
    times: HashMap<Key, Measured>,
    /// When each time was measured (seconds since the epoch), for the file.
    at: HashMap<Key, u64>,
    /// The store of each reference whose kept times were loaded.
    stores: HashMap<Option<PathBuf>, Remembered>,
}

impl Memory {
    /// Loads the times kept for `which` on this machine, once per process.
    fn load(&mut self, cache_root: &Path, which: Option<&Path>) {
        let owner = which.map(Path::to_path_buf);
        if self.stores.contains_key(&owner) {
            return;
        }
        let store = Remembered::at(cache_root, which);
        for kept in store.load() {
            let m = match (kept.took_ms, kept.over_ms) {
                (Some(ms), _) => Measured::Took(Duration::from_millis(ms)),
                (_, Some(ms)) => Measured::Over(Duration::from_millis(ms)),
                _ => continue,
            };
            let key = (owner.clone(), kept.args);
            if !self.times.contains_key(&key) {
                self.at.insert(key.clone(), kept.at);
                self.times.insert(key, m);
            }
        }
        self.stores.insert(owner, store);
    }

    /// Records a time measured now.
    fn record(&mut self, key: Key, m: Measured) {
        self.at.insert(key.clone(), remembered::now());
        self.times.insert(key, m);
    }

    /// Keeps `owner`'s times on disk, where its store was loaded.
    fn save(&self, owner: &Option<PathBuf>) {
        let Some(store) = self.stores.get(owner) else {
            return;
        };
        let ms = |d: &Duration| Some(d.as_millis() as u64);
        let kept = self
            .times
            .iter()
            .filter(|((which, _), _)| which == owner)
            .map(|(key, m)| Kept {
                args: key.1.clone(),
                took_ms: match m {
                    Measured::Took(d) => ms(d),
                    Measured::Over(_) => None,
                },
                over_ms: match m {
                    Measured::Over(d) => ms(d),
                    Measured::Took(_) => None,
                },
                at: self.at.get(key).copied().unwrap_or_else(remembered::now),
            })
            .collect();
        store.save(kept);
    }
}

/// The reference's times, for the whole process. The lock is held while timing, so two
/// workers never time the same input, nor two inputs beside each other.
static MEASURED: Mutex<Option<Memory>> = Mutex::new(None);

/// How one test's limit was derived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Derived {
    pub limit: Duration,
    pub own: Duration,
    pub reference: Duration,
    pub rule: ReferenceTimeouts,
}

impl Derived {
    /// The result's record of it.
    fn evidence(&self) -> TimeLimit {
        let ms = |d: Duration| d.as_millis() as u64;
        TimeLimit {
            limit_ms: ms(self.limit),
            spec_ms: ms(self.own),
            reference_ms: ms(self.reference),
            multiple: self.rule.multiple,
            floor_ms: ms(self.rule.floor),
        }
    }

    /// Adds the derivation to `result` when its run had the derived limit (a hang gate's
    /// shorter run is not this limit's doing), and says where a timeout's limit came from.
    pub fn annotate(&self, ran_with: Duration, result: &mut TestResult) {
        if ran_with != self.limit || self.limit >= self.own {
            return;
        }
        // Only output and processes tests get derived limits, and every run has its evidence.
        if let Some(run) = result.evidence.run_mut() {
            run.time_limit = Some(self.evidence());
        }
        if matches!(result.verdict, Verdict::Fail(Reason::Timeout { .. })) {
            let why = if self.limit == self.rule.floor {
                format!(
                    "the least limit any of these tests gets, where a reference pool needs {} \
                     on this input on this machine",
                    crate::words::brief(self.reference)
                )
            } else {
                format!(
                    "{} times the {} a reference pool needs on this input on this machine",
                    self.rule.multiple,
                    crate::words::brief(self.reference)
                )
            };
            let end = if result.message.ends_with('.') {
                ""
            } else {
                "."
            };
            result.message = format!(
                "{}{end} Its limit, {:.1} s, is {why}.",
                result.message,
                self.limit.as_secs_f64()
            );
        }
    }
}

/// The derivations of one grading, by exercise id and test name.
pub(super) type Derivations = HashMap<(String, String), Derived>;

/// `exercises` with the limits of the output and processes tests of those that ask for it (and `wanted`:
/// their binary built) derived from the reference's time, and how each was derived.
/// `reference` gives the reference's `pool_sum`, built only when an input is not timed yet;
/// without one, tests keep their own timeouts.
pub(super) fn derive<'r>(
    exercises: &[Exercise],
    wanted: &dyn Fn(&Exercise) -> bool,
    which: Option<&Path>,
    reference: &dyn Fn() -> Result<&'r Path, GradeError>,
    workdir: &Path,
    lane: &Lane,
    cache_root: &Path,
) -> Result<(Vec<Exercise>, Derivations), GradeError> {
    let mut out = exercises.to_vec();
    let mut derived = Derivations::new();
    if legacy() {
        return Ok((out, derived));
    }
    let mut memory = MEASURED.lock().unwrap_or_else(|p| p.into_inner());
    let memory = memory.get_or_insert_with(Memory::default);
    let mut timed = false;
    for ex in out.iter_mut().filter(|ex| wanted(ex)) {
        let Some(rule) = ex.reference_timeouts else {
            continue;
        };
        for test in &mut ex.tests {
            let Some((args, own)) = limited_args(test) else {
                continue;
            };
            // A reference run longer than this cannot shorten the limit.
            let enough = rule.measure_for(own);
            if own <= rule.floor || enough.is_zero() {
                continue;
            }
            // The kept times are read when a limit is first derived (once per process), not
            // for specs that derive none.
            memory.load(cache_root, which);
            let key: Key = (which.map(Path::to_path_buf), args.clone());
            let known = match memory.times.get(&key) {
                Some(Measured::Over(after)) if *after < enough => None,
                None => slower_than_known(&memory.times, &key, enough),
                other => other.copied(),
            };
            let m = match known {
                Some(m) => m,
                None => {
                    // No reference to time (it did not build): the spec's timeouts stand. The
                    // speedup tests that need it say why.
                    let Ok(pool_sum) = reference() else {
                        continue;
                    };
                    let m = time_reference(pool_sum, &args, enough, workdir, lane)?;
                    memory.record(key, m);
                    timed = true;
                    m
                }
            };
            let Measured::Took(took) = m else {
                continue;
            };
            let limit = rule.limit(Some(took), own);
            if limit < own {
                set_timeout(test, limit);
                derived.insert(
                    (ex.id.clone(), test.name.clone()),
                    Derived {
                        limit,
                        own,
                        reference: took,
                        rule,
                    },
                );
            }
        }
    }
    if timed {
        memory.save(&which.map(Path::to_path_buf));
    }
    Ok((out, derived))
}

/// `Over` when a smaller input (a smaller N) already ran longer than `enough`: the reference's
/// work grows with N, so this one would too, and need not be timed.
fn slower_than_known(
    measured: &HashMap<Key, Measured>,
    key: &Key,
    enough: Duration,
) -> Option<Measured> {
    let n = size(&key.1)?;
    measured.iter().find_map(|((which, args), m)| match m {
        Measured::Over(after)
            if *which == key.0 && *after >= enough && size(args).is_some_and(|s| s <= n) =>
        {
            Some(Measured::Over(*after))
        }
        _ => None,
    })
}

/// The largest number among `args`: the N of `pool_sum N P`.
fn size(args: &[String]) -> Option<u128> {
    args.iter().filter_map(|a| a.parse::<u128>().ok()).max()
}

/// The arguments and timeout of a test whose limit can be derived: an output test, or a
/// `processes` test (the same program, audited; a pool that hangs on large N hangs there too).
pub(super) fn limited_args(test: &TestCase) -> Option<(Vec<String>, Duration)> {
    match &test.kind {
        TestKind::Output(o) => Some((o.args.clone(), o.timeout)),
        TestKind::Processes(p) => Some((p.args.clone(), p.timeout)),
        _ => None,
    }
}

pub(super) fn set_timeout(test: &mut TestCase, limit: Duration) {
    match &mut test.kind {
        TestKind::Output(o) => o.timeout = limit,
        TestKind::Processes(p) => p.timeout = limit,
        _ => {}
    }
}

/// A test stopped at its derived limit `d`: the reference is timed again on `args`, now. When
/// the machine has become slower since the first timing (a loaded batch, a CPU hog beside it),
/// the limit it needs now is returned, and the test runs again with it: a correct program never
/// loses a point to a limit measured on a quieter machine. Costs at most the test's own
/// timeout divided by the multiple. Call it holding no lane slot.
///
/// A longer time replaces the one kept (in this process and on disk), so later tests and
/// gradings on this input start from what the machine needs now.
pub(super) fn recheck(
    d: &Derived,
    which: Option<&Path>,
    args: &[String],
    pool_sum: &Path,
    workdir: &Path,
    lane: &Lane,
) -> Result<Option<Derived>, GradeError> {
    let now = time_reference(pool_sum, args, d.rule.measure_for(d.own), workdir, lane)?;
    let longer = longer(d, now);
    if longer.is_some() {
        let mut memory = MEASURED.lock().unwrap_or_else(|p| p.into_inner());
        let memory = memory.get_or_insert_with(Memory::default);
        let owner = which.map(Path::to_path_buf);
        memory.record((owner.clone(), args.to_vec()), now);
        memory.save(&owner);
    }
    Ok(longer)
}

/// The derivation from the reference's time `now`, when it gives a longer limit than `d`.
fn longer(d: &Derived, now: Measured) -> Option<Derived> {
    let (limit, reference) = match now {
        Measured::Took(t) => (d.rule.limit(Some(t), d.own), t),
        Measured::Over(after) => (d.own, after),
    };
    (limit > d.limit).then_some(Derived {
        limit,
        reference,
        ..*d
    })
}

/// One run of the reference on `args` in the sandbox, stopped after `enough`.
fn time_reference(
    pool_sum: &Path,
    args: &[String],
    enough: Duration,
    workdir: &Path,
    lane: &Lane,
) -> Result<Measured, GradeError> {
    let target = Target {
        executable: pool_sum,
        unoptimised: None,
        binary: "pool_sum",
        workdir,
        reference: None,
        reference_timeouts: None,
        runner: &probe::SandboxRunner,
    };
    let _slot = lane.shared().map_err(GradeError::Lane)?;
    let out = crate::sandbox::run(&target.job(args, enough))?;
    Ok(match out.ending {
        Ending::TimedOut { after } => Measured::Over(after),
        _ => Measured::Took(out.wall.max(out.cpu)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Evidence;

    fn derived() -> Derived {
        Derived {
            limit: Duration::from_secs(4),
            own: Duration::from_secs(60),
            reference: Duration::from_millis(200),
            rule: ReferenceTimeouts {
                multiple: 20,
                floor: Duration::from_secs(3),
            },
        }
    }

    fn timed_out() -> TestResult {
        TestResult {
            exercise: "pool-sum".into(),
            kind: crate::verdict::ResultKind::OUTPUT,
            name: "n=1 p=1".into(),
            verdict: Verdict::Fail(Reason::Timeout {
                after: Duration::from_secs(4),
            }),
            max_score: 1.0,
            message: "`pool_sum 1 1` did not finish within 4.0 s and was stopped".into(),
            evidence: Evidence::Output(Default::default()),
            hidden: false,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn an_input_larger_than_one_the_reference_could_not_finish_is_not_timed() {
        let s = Duration::from_secs;
        let args = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let mut measured = HashMap::new();
        measured.insert((None, args(&["6074001000", "4"])), Measured::Over(s(3)));
        measured.insert((None, args(&["1000003", "2"])), Measured::Took(s(0)));
        let bigger = (None, args(&["7500000000", "2"]));
        assert_eq!(
            slower_than_known(&measured, &bigger, s(3)),
            Some(Measured::Over(s(3)))
        );
        // A longer cut-off, another reference or a smaller input: timed.
        assert_eq!(slower_than_known(&measured, &bigger, s(4)), None);
        let course = (Some(PathBuf::from("/course")), bigger.1.clone());
        assert_eq!(slower_than_known(&measured, &course, s(3)), None);
        let smaller = (None, args(&["5000000000", "2"]));
        assert_eq!(slower_than_known(&measured, &smaller, s(3)), None);
    }

    #[test]
    fn a_machine_slower_than_when_the_reference_was_timed_gets_a_longer_limit() {
        let d = derived();
        let ms = Duration::from_millis;
        // As fast as before, or faster: the limit stands.
        assert_eq!(longer(&d, Measured::Took(ms(200))), None);
        assert_eq!(longer(&d, Measured::Took(ms(20))), None);
        // Twice as slow: twice the limit.
        let slow = longer(&d, Measured::Took(ms(400))).unwrap();
        assert_eq!((slow.limit, slow.reference), (ms(8000), ms(400)));
        // Too slow to time: the spec's own timeout, and no derivation to report.
        let over = longer(&d, Measured::Over(ms(3000))).unwrap();
        assert_eq!(over.limit, d.own);
        let mut r = timed_out();
        over.annotate(d.own, &mut r);
        assert!(r.evidence.run().unwrap().time_limit.is_none() && !r.message.contains("Its limit"));
    }

    #[test]
    fn a_timeout_at_a_derived_limit_says_where_the_limit_came_from() {
        let mut r = timed_out();
        derived().annotate(Duration::from_secs(4), &mut r);
        assert_eq!(
            r.message,
            "`pool_sum 1 1` did not finish within 4.0 s and was stopped. Its limit, 4.0 s, is \
             20 times the 200 ms a reference pool needs on this input on this machine."
        );
        let e = r.evidence.run().unwrap().time_limit.unwrap();
        assert_eq!((e.limit_ms, e.spec_ms, e.reference_ms), (4000, 60_000, 200));
        // A hang gate's shorter run is not the derived limit's doing.
        let mut gate = timed_out();
        derived().annotate(Duration::from_secs(2), &mut gate);
        assert!(gate.evidence.run().unwrap().time_limit.is_none());
        assert!(!gate.message.contains("Its limit"));
    }
}

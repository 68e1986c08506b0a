//! The `speedup` probe: is the pool at P workers faster than at one, by the spec's factor,
//! judged with statistics that survive a noisy, shared machine.
//!
//! - **Relative to the reference** by default: the course's reference solution is timed in the
//!   same session, interleaved with the student's, and the student must reach a fraction of its
//!   speedup (and a floor). A fixed factor would fail the reference itself on a busy machine.
//! - **Paired, interleaved blocks**: after a warm-up, each block runs {student 1, student P,
//!   reference 1, reference P} in shuffled order and yields paired log-ratios. A t interval on
//!   their mean is checked at a few planned looks (Bonferroni-adjusted): pass when it clears the
//!   threshold, fail when it lies below, more blocks when it straddles, *inconclusive* at the
//!   time budget, never a coin toss.
//! - **Hard to game**: an idle one-worker run (CPU time of the tree against wall time), workers
//!   redoing each other's work (CPU at P against at 1), a speedup beyond the cores, and a total
//!   computed without doing the work are each named.
//!
//! It runs holding the machine-wide timing lane alone (see `grade`), and discards blocks measured
//! while the kernel reports CPU pressure from elsewhere.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::sandbox::{Ending, SpawnError};
use crate::spec::{triangular, InconclusivePolicy, SpeedupTest, SpeedupThreshold};
use crate::stats::{self, Decision, Interval, Shuffler};
use crate::verdict::{Evidence, Reason, SpeedupCurve, SpeedupPoint, Verdict};

use super::{Finding, Target};

/// Looks at the interval: after [`MIN_BLOCKS`] blocks (clear cases end there), at two thirds of
/// the budget, and when no further block fits in it. Looks planned against the budget always use
/// all of it: with looks at 5, 10, 20 and 40 blocks, a 12 s budget of 1.4 s blocks ended after
/// the first look and threw the blocks after it away, and half the error rate was spent on looks
/// that never came.
const LOOKS: usize = 3;
/// The share of the error rate each look spends (Bonferroni: the shares add up to one, so the
/// overall rate stays [`ALPHA`]). The last look, which has the most blocks, gets the most, and
/// whatever look ends the measurement spends what is left.
const SPENDING: [f64; LOOKS] = [0.2, 0.3, 0.5];
/// Fewer blocks than this say little: a t interval on 3 degrees of freedom is too wide for the
/// first look to end even clear cases.
const MIN_BLOCKS: usize = 5;
/// Blocks that end the measurement whatever the budget (very fast runs, a long budget).
const MAX_BLOCKS: usize = 80;
/// Overall error rate of the sequential test.
const ALPHA: f64 = 0.05;
/// A one-worker run should take at least this long for the work to dominate fork overhead.
const TARGET_ONE_WORKER: Duration = Duration::from_millis(400);
/// CPU pressure from elsewhere (percent of a quiet window, see [`pressure`]) above which a block
/// is not measured.
const MAX_PRESSURE: f64 = 40.0;
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the CPU pressure is watched before a block.
const PRESSURE_WINDOW: Duration = Duration::from_millis(100);
/// Runs per point of the curve that the measurement does not already have.
const CURVE_RUNS: usize = 3;

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
}

/// One timed run.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: f64,
    cpu: f64,
}

/// Who runs with how many workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arm {
    StudentOne,
    StudentP,
    ReferenceOne,
    ReferenceP,
}

pub(super) fn run(test: &SpeedupTest, target: Target<'_>) -> Result<Finding, SpawnError> {
    // The budget covers the whole probe: calibration, warm-up, blocks and the curve.
    let probe_started = Instant::now();
    let cores = available_cores();
    let policy = test.inconclusive;
    if cores < 2 {
        return Ok(undecided(
            policy,
            format!("not assessable here: this machine offers {cores} core(s), a speedup needs 2"),
            Evidence::default(),
        ));
    }
    let reference = match test.threshold {
        SpeedupThreshold::RelativeToReference { .. } => match target.reference {
            Some(r) => Some(r),
            None => {
                return Ok(undecided(
                    policy,
                    "not assessable: the reference solution could not be built".to_string(),
                    Evidence::default(),
                ))
            }
        },
        SpeedupThreshold::Absolute { .. } => None,
    };
    let p = test.workers;
    let n = match (test.n, reference) {
        (Some(n), _) => n,
        (None, Some(reference)) => calibrated_for_reference(reference, target)?,
        (None, None) => calibrate(target.executable, target)?,
    };
    let mut m = Measurement::new(target, reference, n, p);
    let arms_started = Instant::now();
    // A wrong total makes timing meaningless: say so first. These two runs are also the
    // student's warm-up.
    for arm in [Arm::StudentOne, Arm::StudentP] {
        if let Err(why) = m.check_output(arm)? {
            return Ok(Finding {
                verdict: Verdict::Fail(Reason::WrongOutput {
                    expected: triangular(n).to_string(),
                    got: why.clone(),
                }),
                message: format!("cannot time a pool that gives a wrong result: {why}"),
                evidence: Evidence::default(),
            });
        }
    }
    m.warm_up_reference()?;
    // One run of every arm so far: what a block costs until blocks are measured.
    m.longest_block = arms_started.elapsed() + PRESSURE_WINDOW;
    let mut shuffler = Shuffler::new(seed());
    let required = required_speedup(test.threshold, cores, p);
    let curve_end = test.curve_up_to.unwrap_or(default_curve_end(cores));
    let mut looks = 0;
    let mut spent = 0.0;
    let outcome = loop {
        // The blocks end early enough for the curve to fit in the budget too.
        let blocks_end = test
            .budget
            .saturating_sub(m.curve_estimate(m.curve_reserve_runs(curve_end)));
        let another =
            probe_started.elapsed() + m.longest_block <= blocks_end && m.blocks() < MAX_BLOCKS;
        if another {
            let block_started = Instant::now();
            if pressure().is_some_and(|psi| psi > MAX_PRESSURE) {
                m.discarded += 1;
                std::thread::sleep(Duration::from_millis(100));
                if m.discarded > 30 {
                    break Outcome::TooBusy;
                }
                continue;
            }
            m.block(&mut shuffler)?;
            m.longest_block = m.longest_block.max(block_started.elapsed());
            // Looks planned before any data: at MIN_BLOCKS blocks, at two thirds of the time,
            // and when no further block fits (below).
            let due = match looks {
                0 => m.blocks() >= MIN_BLOCKS,
                1 => probe_started.elapsed() >= blocks_end.mul_f64(2.0 / 3.0),
                _ => false,
            };
            if !due {
                continue;
            }
        }
        looks += 1;
        if m.blocks() >= MIN_BLOCKS {
            if let Some(gamed) = m.gaming(cores) {
                break Outcome::Gamed(gamed);
            }
            // The last look spends what the earlier ones left.
            let share = if !another || looks >= LOOKS {
                1.0 - spent
            } else {
                SPENDING[looks - 1]
            };
            spent += share;
            match m.decide(test.threshold, required, ALPHA * share) {
                Decision::Above => break Outcome::Decided(true),
                Decision::Below => break Outcome::Decided(false),
                Decision::Undecided => {}
            }
        }
        if !another || looks >= LOOKS {
            break Outcome::OutOfTime;
        }
    };
    let ev = m.evidence(cores, required);
    let known = [(1, ev.student_one_ms), (p, ev.student_p_ms)];
    let up_to = test.curve_up_to.unwrap_or(default_curve_end(cores));
    let curve = (up_to > 1)
        .then(|| curve(target, n, up_to, &known).ok())
        .flatten();
    let words = curve.as_ref().map(curve_words).unwrap_or_default();
    let evidence = Evidence {
        command: Some(format!("{} {n} {p}", target.binary)),
        speedup_curve: curve,
        speedup: Some(ev.clone()),
        ..Evidence::default()
    };
    let figures = format!(
        "{:.2}x (95% interval {:.2}–{:.2}) over {} blocks{}",
        ev.student_speedup,
        ev.student_interval.0,
        ev.student_interval.1,
        ev.blocks,
        ev.reference_speedup
            .map(|r| format!("; the reference reached {r:.2}x"))
            .unwrap_or_default()
    );
    let (verdict, message) = match outcome {
        Outcome::Decided(true) => (
            Verdict::Pass,
            format!("`{} {n} {p}` is faster than with one worker: {figures}; required {required:.2}x{words}", target.binary),
        ),
        Outcome::Decided(false) => (
            Verdict::Fail(Reason::TooSlow),
            format!(
                "`{} {n} {p}` is not fast enough: {figures}; required {required:.2}x{words}. Do \
                 the workers run at the same time, each on its own chunk?",
                target.binary
            ),
        ),
        Outcome::Gamed(why) => (Verdict::Fail(Reason::TooSlow), format!("{why} ({figures})")),
        Outcome::OutOfTime => {
            return Ok(undecided(
                policy,
                format!(
                    "inconclusive within {:.0} s: {figures}; required {required:.2}x: the \
                     machine is too noisy to decide{words}",
                    test.budget.as_secs_f64()
                ),
                evidence,
            ))
        }
        Outcome::TooBusy => {
            return Ok(undecided(
                policy,
                "inconclusive: the machine was under CPU pressure from other work the whole \
                 time"
                    .to_string(),
                evidence,
            ))
        }
    };
    Ok(Finding {
        verdict,
        message,
        evidence,
    })
}

enum Outcome {
    Decided(bool),
    Gamed(String),
    OutOfTime,
    TooBusy,
}

/// A verdict that could not be decided: the spec's policy, and why.
fn undecided(policy: InconclusivePolicy, why: String, mut evidence: Evidence) -> Finding {
    evidence.inconclusive = Some(why.clone());
    let verdict = match policy {
        InconclusivePolicy::Pass => Verdict::Pass,
        InconclusivePolicy::Fail => Verdict::Fail(Reason::Inconclusive),
    };
    Finding {
        verdict,
        message: why,
        evidence,
    }
}

/// The speedup to reach before the reference is measured (absolute) or the floor (relative).
fn required_speedup(t: SpeedupThreshold, cores: usize, p: u32) -> f64 {
    match t {
        SpeedupThreshold::Absolute {
            factor,
            scale_to_cores,
        } => {
            if scale_to_cores {
                // A factor written for P cores, scaled to what this machine offers.
                let usable = (cores as f64).min(p as f64);
                1.0 + (factor - 1.0) * (usable - 1.0) / (p as f64 - 1.0).max(1.0)
            } else {
                factor
            }
        }
        SpeedupThreshold::RelativeToReference { floor, .. } => floor,
    }
}

struct Measurement<'a> {
    target: Target<'a>,
    reference: Option<&'a Path>,
    n: u64,
    p: u32,
    runs: Vec<(Arm, Run)>,
    /// Per block: (student ln speedup, reference ln speedup if any).
    logs: Vec<(f64, Option<f64>)>,
    discarded: usize,
    /// The longest block so far (pressure check included): whether another one fits.
    longest_block: Duration,
    /// Wall time of the output check at P, seconds: the curve's estimate before any block.
    checked_p_wall: f64,
}

impl<'a> Measurement<'a> {
    fn new(target: Target<'a>, reference: Option<&'a Path>, n: u64, p: u32) -> Self {
        Measurement {
            target,
            reference,
            n,
            p,
            runs: Vec::new(),
            logs: Vec::new(),
            discarded: 0,
            longest_block: Duration::ZERO,
            checked_p_wall: 0.0,
        }
    }

    fn blocks(&self) -> usize {
        self.logs.len()
    }

    fn args(&self, arm: Arm) -> Vec<String> {
        let p = match arm {
            Arm::StudentOne | Arm::ReferenceOne => 1,
            Arm::StudentP | Arm::ReferenceP => self.p,
        };
        vec![self.n.to_string(), p.to_string()]
    }

    fn time(&self, arm: Arm) -> Result<Result<(Run, String), String>, SpawnError> {
        let mut job = self.target.job(&self.args(arm), RUN_TIMEOUT);
        if let (Arm::ReferenceOne | Arm::ReferenceP, Some(r)) = (arm, self.reference) {
            job.program = r.to_path_buf();
            job.keep_visible
                .push(crate::sandbox::Visible::read_only(r.parent().unwrap_or(r)));
        }
        let out = crate::sandbox::run(&job)?;
        if out.ending != Ending::Exited(0) {
            return Ok(Err(format!(
                "`{}` ended with {:?}",
                self.args(arm).join(" "),
                out.ending
            )));
        }
        let run = Run {
            wall: out.wall.as_secs_f64(),
            cpu: out.cpu.as_secs_f64(),
        };
        Ok(Ok((run, out.stdout.lossy().trim().to_string())))
    }

    fn check_output(&mut self, arm: Arm) -> Result<Result<(), String>, SpawnError> {
        Ok(match self.time(arm)? {
            Ok((run, printed)) if printed == triangular(self.n).to_string() => {
                if arm == Arm::StudentP {
                    self.checked_p_wall = run.wall;
                }
                Ok(())
            }
            Ok((_, printed)) => Err(format!(
                "`{} {}` printed {printed:?}, expected {}",
                self.target.binary,
                self.args(arm).join(" "),
                triangular(self.n)
            )),
            Err(e) => Err(e),
        })
    }

    /// One run of each reference arm, not kept (page cache, CPU frequency, the binary's first
    /// load); the student's arms were warmed up by [`Self::check_output`].
    fn warm_up_reference(&self) -> Result<(), SpawnError> {
        if self.reference.is_some() {
            for arm in [Arm::ReferenceOne, Arm::ReferenceP] {
                self.time(arm)?.ok();
            }
        }
        Ok(())
    }

    /// The curve's runs that the measurement does not already have: P = 1, 2, 4, … up to
    /// `up_to`, less 1 and P (none without a curve).
    fn curve_reserve_runs(&self, up_to: u32) -> usize {
        if up_to <= 1 {
            return 0;
        }
        curve_workers(up_to)
            .filter(|&w| w != 1 && w != self.p)
            .count()
            * CURVE_RUNS
    }

    /// How long `runs` of the curve take: each about as long as the student's run at P (more
    /// workers than cores run no faster).
    fn curve_estimate(&self, runs: usize) -> Duration {
        let measured = self.runs.iter().any(|(a, _)| *a == Arm::StudentP);
        let at_p = if measured {
            self.median_of(Arm::StudentP, |r| r.wall)
        } else {
            self.checked_p_wall
        };
        Duration::from_secs_f64(at_p * runs as f64)
    }

    /// One block of interleaved runs, in shuffled order.
    fn block(&mut self, shuffler: &mut Shuffler) -> Result<(), SpawnError> {
        let mut arms = vec![Arm::StudentOne, Arm::StudentP];
        if self.reference.is_some() {
            arms.extend([Arm::ReferenceOne, Arm::ReferenceP]);
        }
        shuffler.shuffle(&mut arms);
        let mut got = Vec::new();
        for arm in arms {
            match self.time(arm)? {
                Ok((run, _)) => got.push((arm, run)),
                // A run that failed mid-measurement: drop the block.
                Err(_) => return Ok(()),
            }
        }
        let wall = |a: Arm| got.iter().find(|(x, _)| *x == a).map(|(_, r)| r.wall);
        let s = (wall(Arm::StudentOne).unwrap() / wall(Arm::StudentP).unwrap()).ln();
        let r = match (wall(Arm::ReferenceOne), wall(Arm::ReferenceP)) {
            (Some(one), Some(p)) => Some((one / p).ln()),
            _ => None,
        };
        self.logs.push((s, r));
        self.runs.extend(got);
        Ok(())
    }

    /// Where the measurement stands, spending `alpha` of the error rate on this look.
    ///
    /// Relative to the reference, the student fails when the paired comparison says it reached
    /// less than the fraction of the reference's speedup, or when it is below the floor *while
    /// the reference, in the same blocks, is above it*: a machine on which even the reference
    /// cannot show the floor (a CPU hog beside it) cannot fail a student on it.
    fn decide(&self, t: SpeedupThreshold, required: f64, alpha: f64) -> Decision {
        let student: Vec<f64> = self.logs.iter().map(|(s, _)| *s).collect();
        let floor = stats::decide(&student, required.ln(), 1, alpha).0;
        match t {
            SpeedupThreshold::Absolute { .. } => floor,
            SpeedupThreshold::RelativeToReference { fraction, .. } => {
                let diffs: Vec<f64> = self
                    .logs
                    .iter()
                    .filter_map(|(s, r)| Some(s - (*r)?))
                    .collect();
                let rel = stats::decide(&diffs, fraction.ln(), 1, alpha).0;
                let reference: Vec<f64> = self.logs.iter().filter_map(|(_, r)| *r).collect();
                let shown = stats::decide(&reference, required.ln(), 1, alpha).0;
                match (floor, rel, shown) {
                    (_, Decision::Below, _) | (Decision::Below, _, Decision::Above) => {
                        Decision::Below
                    }
                    (Decision::Above, Decision::Above, _) => Decision::Above,
                    _ => Decision::Undecided,
                }
            }
        }
    }

    fn median_of(&self, arm: Arm, f: impl Fn(&Run) -> f64) -> f64 {
        let xs: Vec<f64> = self
            .runs
            .iter()
            .filter(|(a, _)| *a == arm)
            .map(|(_, r)| f(r))
            .collect();
        stats::median(&xs)
    }

    /// A way of looking faster that is not parallelism.
    fn gaming(&self, cores: usize) -> Option<String> {
        let bin = self.target.binary;
        let (n, p) = (self.n, self.p);
        let share = self.median_of(Arm::StudentOne, |r| r.cpu / r.wall);
        if share < 0.6 {
            return Some(format!(
                "`{bin} {n} 1` spends only {:.0}% of its time on the CPU: a one-worker run \
                 that waits or sleeps makes the parallel run look faster; it must do the work",
                share * 100.0
            ));
        }
        let cpu_ratio =
            self.median_of(Arm::StudentP, |r| r.cpu) / self.median_of(Arm::StudentOne, |r| r.cpu);
        if cpu_ratio > 1.6 {
            return Some(format!(
                "`{bin} {n} {p}` uses {cpu_ratio:.1}x the CPU time of `{bin} {n} 1`: the \
                 workers redo each other's work instead of splitting it"
            ));
        }
        if let Some(_r) = self.reference {
            let mine = self.median_of(Arm::StudentOne, |r| r.wall);
            let theirs = self.median_of(Arm::ReferenceOne, |r| r.wall);
            if mine < 0.1 * theirs {
                return Some(format!(
                    "`{bin} {n} 1` takes {:.1} ms where summing the numbers one by one takes \
                     {:.0} ms: it computes the total without doing the work (a closed form?), \
                     so there is nothing to speed up",
                    mine * 1e3,
                    theirs * 1e3
                ));
            }
        }
        let speedup = self.speedup();
        if speedup > cores as f64 * 1.3 {
            return Some(format!(
                "a speedup of {speedup:.2}x on {cores} cores is more than the machine can give: \
                 the one-worker run must be doing extra work"
            ));
        }
        None
    }

    fn speedup(&self) -> f64 {
        let s: Vec<f64> = self.logs.iter().map(|(s, _)| *s).collect();
        stats::mean(&s).exp()
    }

    fn evidence(&self, cores: usize, required: f64) -> SpeedupEvidence {
        let s: Vec<f64> = self.logs.iter().map(|(s, _)| *s).collect();
        let iv = stats::mean_interval(&s, 0.95).unwrap_or(Interval {
            mean: f64::NAN,
            low: f64::NAN,
            high: f64::NAN,
        });
        let r: Vec<f64> = self.logs.iter().filter_map(|(_, r)| *r).collect();
        SpeedupEvidence {
            n: self.n,
            workers: self.p,
            cores,
            blocks: self.logs.len(),
            discarded_blocks: self.discarded,
            student_one_ms: self.median_of(Arm::StudentOne, |r| r.wall) * 1e3,
            student_p_ms: self.median_of(Arm::StudentP, |r| r.wall) * 1e3,
            student_speedup: iv.mean.exp(),
            student_interval: (iv.low.exp(), iv.high.exp()),
            reference_speedup: (!r.is_empty()).then(|| stats::mean(&r).exp()),
            required,
            one_worker_cpu_share: self.median_of(Arm::StudentOne, |r| r.cpu / r.wall),
            cpu_ratio: self.median_of(Arm::StudentP, |r| r.cpu)
                / self.median_of(Arm::StudentOne, |r| r.cpu),
        }
    }
}

/// [`calibrate`] against the reference, once per grader process: N then depends only on the
/// reference and the machine, so a batch gives every submission the same N (fairer than one
/// calibration each, which would vary with noise) and saves the calibration runs in the
/// timing lane.
fn calibrated_for_reference(reference: &Path, target: Target<'_>) -> Result<u64, SpawnError> {
    static CALIBRATED: std::sync::Mutex<Vec<(std::path::PathBuf, u64)>> =
        std::sync::Mutex::new(Vec::new());
    let known = |list: &Vec<(std::path::PathBuf, u64)>| {
        list.iter()
            .find(|(path, _)| path == reference)
            .map(|&(_, n)| n)
    };
    if let Some(n) = CALIBRATED.lock().ok().and_then(|list| known(&list)) {
        return Ok(n);
    }
    let n = calibrate(reference, target)?;
    if let Ok(mut list) = CALIBRATED.lock() {
        list.push((reference.to_path_buf(), n));
    }
    Ok(n)
}

/// N such that the one-worker run of `program` takes about [`TARGET_ONE_WORKER`].
fn calibrate(program: &Path, target: Target<'_>) -> Result<u64, SpawnError> {
    let mut n: u64 = 50_000_000;
    for _ in 0..4 {
        let mut job = target.job(&[n.to_string(), "1".into()], RUN_TIMEOUT);
        job.program = program.to_path_buf();
        job.keep_visible.push(crate::sandbox::Visible::read_only(
            program.parent().unwrap_or(program),
        ));
        let out = crate::sandbox::run(&job)?;
        let wall = out.wall.as_secs_f64().max(1e-3);
        if out.ending != Ending::Exited(0) {
            break;
        }
        let scale = TARGET_ONE_WORKER.as_secs_f64() / wall;
        if (0.8..1.5).contains(&scale) {
            break;
        }
        n = ((n as f64) * scale.clamp(0.1, 20.0)) as u64;
        n = n.clamp(1_000_000, 10_000_000_000);
    }
    Ok(n)
}

/// The speedup curve of the student's pool: P = 1, 2, 4, … up to `up_to`. Points the
/// measurement already has (`known`: workers, median wall ms) are reused; the others are the
/// median of a few runs.
fn curve(
    target: Target<'_>,
    n: u64,
    up_to: u32,
    known: &[(u32, f64)],
) -> Result<SpeedupCurve, SpawnError> {
    let mut points = Vec::new();
    let mut one = None;
    for p in curve_workers(up_to) {
        let known_ms = known
            .iter()
            .find(|(w, ms)| *w == p && ms.is_finite())
            .map(|&(_, ms)| ms);
        let wall_ms = match known_ms {
            Some(ms) => ms,
            None => {
                let mut walls = Vec::new();
                for _ in 0..CURVE_RUNS {
                    let args = [n.to_string(), p.to_string()];
                    let out = crate::sandbox::run(&target.job(&args, RUN_TIMEOUT))?;
                    if out.ending == Ending::Exited(0) {
                        walls.push(out.wall.as_secs_f64() * 1e3);
                    }
                }
                if walls.is_empty() {
                    break;
                }
                stats::median(&walls)
            }
        };
        let base = *one.get_or_insert(wall_ms);
        points.push(SpeedupPoint {
            workers: p,
            wall_ms,
            speedup: base / wall_ms,
        });
    }
    Ok(SpeedupCurve {
        points,
        required: None,
    })
}

/// Where the curve ends unless the spec says: twice the cores (at most 64), past the point
/// where more workers can help.
fn default_curve_end(cores: usize) -> u32 {
    (2 * cores).min(64) as u32
}

/// The curve's worker counts: 1, 2, 4, … up to `up_to`.
fn curve_workers(up_to: u32) -> impl Iterator<Item = u32> {
    std::iter::successors(Some(1u32), |p| Some(p * 2)).take_while(move |p| *p <= up_to)
}

/// The curve in words: where it stops improving, and why.
fn curve_words(c: &SpeedupCurve) -> String {
    let best = c
        .points
        .iter()
        .max_by(|a, b| a.speedup.total_cmp(&b.speedup));
    let Some(best) = best else {
        return String::new();
    };
    let kf: Vec<String> = c
        .points
        .iter()
        .filter_map(|pt| {
            stats::karp_flatt(pt.speedup, pt.workers).map(|f| format!("{}: {f:.2}", pt.workers))
        })
        .collect();
    let last = c.points.last().map_or(0, |p| p.workers);
    let plural = |w: u32| if w == 1 { "worker" } else { "workers" };
    // Within noise of 1x everywhere: no plateau to explain, the work is not split.
    let plateau = if best.speedup < 1.1 && last > 1 {
        ": no number of workers ran clearly faster than one, so the work is not shared among \
         them"
            .to_string()
    } else if best.workers < last {
        format!(
            ": beyond {} {} nothing improves, this machine has {} cores",
            best.workers,
            plural(best.workers),
            available_cores()
        )
    } else {
        String::new()
    };
    format!(
        ". Curve: best {:.2}x at {} {}{plateau}; serial fraction (Karp–Flatt) by workers {}",
        best.speedup,
        best.workers,
        plural(best.workers),
        kf.join(", ")
    )
}

/// Cores this process may use (affinity and cgroup quota included, via std).
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU pressure from elsewhere, in percent of a short window during which this probe runs
/// nothing: the share of time some task on the machine waited for a CPU (Linux PSI, "some
/// total"). `None` where the kernel does not report it. The kernel's own averages would include
/// the probe's own runs; a quiet window does not.
fn pressure() -> Option<f64> {
    let total = || -> Option<f64> {
        let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
        let line = text.lines().find(|l| l.starts_with("some"))?;
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix("total="))
            .and_then(|v| v.parse().ok())
    };
    let before = total()?;
    std::thread::sleep(PRESSURE_WINDOW);
    let after = total()?;
    Some((after - before) / PRESSURE_WINDOW.as_micros() as f64 * 100.0)
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_thresholds_scale_to_the_cores() {
        let t = SpeedupThreshold::Absolute {
            factor: 3.0,
            scale_to_cores: true,
        };
        // 3x was written for 4 workers; on 2 cores 1 + 2 * 1/3.
        assert!((required_speedup(t, 2, 4) - (1.0 + 2.0 / 3.0)).abs() < 1e-9);
        assert_eq!(required_speedup(t, 8, 4), 3.0);
        let fixed = SpeedupThreshold::Absolute {
            factor: 1.5,
            scale_to_cores: false,
        };
        assert_eq!(required_speedup(fixed, 2, 4), 1.5);
    }

    #[test]
    fn the_curve_is_said_in_words() {
        let c = SpeedupCurve {
            points: vec![
                SpeedupPoint {
                    workers: 1,
                    wall_ms: 400.0,
                    speedup: 1.0,
                },
                SpeedupPoint {
                    workers: 2,
                    wall_ms: 210.0,
                    speedup: 1.9,
                },
                SpeedupPoint {
                    workers: 4,
                    wall_ms: 215.0,
                    speedup: 1.86,
                },
            ],
            required: None,
        };
        let w = curve_words(&c);
        assert!(w.contains("best 1.90x at 2 workers"), "{w}");
        assert!(w.contains("beyond 2 workers nothing improves"), "{w}");
        assert!(w.contains("Karp–Flatt"), "{w}");
    }

    #[test]
    fn a_curve_that_never_rises_says_the_work_is_not_shared() {
        let point = |workers, wall_ms: f64| SpeedupPoint {
            workers,
            wall_ms,
            speedup: 400.0 / wall_ms,
        };
        let c = SpeedupCurve {
            points: vec![point(1, 400.0), point(2, 405.0), point(4, 410.0)],
            required: None,
        };
        let w = curve_words(&c);
        assert!(w.contains("best 1.00x at 1 worker:"), "{w}");
        assert!(
            w.contains("no number of workers ran clearly faster than one"),
            "{w}"
        );
    }

    /// A measurement whose blocks gave these (student, reference) speedups.
    fn measured(blocks: &[(f64, f64)], check: impl FnOnce(&Measurement<'_>)) {
        let nowhere = Path::new("/nonexistent");
        let target = Target {
            executable: nowhere,
            unoptimised: None,
            binary: "pool_sum",
            workdir: nowhere,
            reference: Some(nowhere),
        };
        let mut m = Measurement::new(target, Some(nowhere), 1000, 2);
        m.logs = blocks
            .iter()
            .map(|&(s, r)| (s.ln(), Some(r.ln())))
            .collect();
        check(&m);
    }

    const LAB10: SpeedupThreshold = SpeedupThreshold::RelativeToReference {
        fraction: 0.6,
        floor: 1.1,
    };

    #[test]
    fn relative_verdicts_need_the_reference_to_show_the_floor() {
        let jitter = [1.0, 1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.0];
        let blocks =
            |s: f64, r: f64| -> Vec<(f64, f64)> { jitter.iter().map(|j| (s * j, r / j)).collect() };
        // A sequential pool beside a reference that reaches 1.9x: too slow.
        measured(&blocks(1.0, 1.9), |m| {
            assert_eq!(m.decide(LAB10, 1.1, ALPHA), Decision::Below)
        });
        // The same pool where the reference reaches only 1.05x (a hog on the other core): the
        // floor cannot be shown here, and 1.0 is within 60% of 1.05: no fail.
        measured(&blocks(1.0, 1.05), |m| {
            assert_eq!(m.decide(LAB10, 1.1, ALPHA), Decision::Undecided)
        });
        // As fast as the reference, both above the floor: pass.
        measured(&blocks(1.85, 1.9), |m| {
            assert_eq!(m.decide(LAB10, 1.1, ALPHA), Decision::Above)
        });
        // Above the floor but far below the reference's 1.9x (less than 60% of its gain).
        measured(&blocks(1.12, 1.95), |m| {
            assert_eq!(m.decide(LAB10, 1.1, ALPHA), Decision::Below)
        });
    }

    #[test]
    fn the_error_rate_is_spent_exactly() {
        assert!((SPENDING.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_curve_goes_to_twice_the_cores() {
        assert_eq!(default_curve_end(2), 4);
        assert_eq!(default_curve_end(48), 64);
        assert_eq!(curve_workers(4).collect::<Vec<_>>(), [1, 2, 4]);
        assert_eq!(curve_workers(12).collect::<Vec<_>>(), [1, 2, 4, 8]);
        assert_eq!(curve_workers(64).last(), Some(64));
        assert_eq!(curve_workers(1).collect::<Vec<_>>(), [1]);
    }
}

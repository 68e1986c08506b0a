//! The `speedup` probe: is the pool at P workers faster than at one, by the spec's factor,
//! judged with statistics that survive a noisy, shared machine.
//!
//! - **Relative to the reference** by default: a yardstick pool is timed in the same session,
//!   interleaved with the student's, and the student must reach a fraction of its speedup (and a
//!   floor). The yardstick is the course's reference solution when the spec names one (staff
//!   bundles), else a neutral workload built into the grader (`crate::reference`). A fixed
//!   factor would fail the reference itself on a busy machine.
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

use std::time::Duration;

use crate::sandbox::SpawnError;
use crate::spec::{
    triangular, InconclusivePolicy, ReferenceTimeouts, SpeedupTest, SpeedupThreshold,
};
use crate::stats::{Decision, Shuffler};
use crate::verdict::{
    Evidence, Reason, RunEvidence, SpeedupEvidence, SpeedupProbeEvidence, Verdict,
};

use super::{Finding, Runner, Target};
use calibrate::{calibrate, calibrated_for_reference};
use curve::{curve, curve_words, default_curve_end, serial_fractions};
use measure::{Arm, Failed, Measurement};

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
/// CPU pressure from elsewhere (percent of a quiet window, see [`pressure`]) above which a block
/// is not measured.
const MAX_PRESSURE: f64 = 40.0;
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the CPU pressure is watched before a block. PSI counts stalls in microseconds, so
/// 50 ms resolves the 40% threshold to a thousandth; the window is lane time every block pays.
fn pressure_window() -> Duration {
    Duration::from_millis(if legacy() { 100 } else { 50 })
}

/// `LABGRADE_LEGACY_LANE=1`: the probe's timing before issue 13 shortened it (400 ms one-worker
/// runs, 100 ms pressure windows), so that `benches/lane_time.sh` measures both side by side.
pub(super) fn legacy() -> bool {
    crate::switch::on("LABGRADE_LEGACY_LANE")
}

mod calibrate;
mod curve;
mod measure;
#[cfg(test)]
mod scripted_tests;
#[cfg(test)]
mod tests;

/// The verdict on a pool whose output check failed: a hang is a timeout, said in words (how
/// long, idle or busy, the usual causes); anything else is a wrong result.
fn cannot_time(failed: Failed, n: u64, limit: Option<String>) -> Finding {
    let Failed { words, hang } = failed;
    match hang {
        Some(hang) => Finding {
            verdict: Verdict::Fail(Reason::Timeout {
                after: Duration::from_millis(hang.after_ms),
            }),
            message: {
                let explained =
                    format!("cannot time a pool that hangs: {words}; {}", hang.explain());
                match limit {
                    Some(limit) if explained.ends_with('.') => format!("{explained} {limit}"),
                    Some(limit) => format!("{explained}. {limit}"),
                    None => explained,
                }
            },
            evidence: Evidence::Speedup(SpeedupProbeEvidence {
                run: RunEvidence {
                    hang: Some(hang),
                    ..RunEvidence::default()
                },
                ..SpeedupProbeEvidence::default()
            }),
        },
        None => Finding {
            verdict: Verdict::Fail(Reason::WrongOutput {
                expected: triangular(n).to_string(),
                got: words.clone(),
            }),
            message: format!("cannot time a pool that gives a wrong result: {words}"),
            evidence: Evidence::default(),
        },
    }
}

/// Why a pool's run was stopped when it was: "Its limit, 3.0 s, is 20 times …".
fn limit_words(limit: Duration, took: Duration, rule: ReferenceTimeouts) -> String {
    let took = crate::words::brief(took);
    let why = if limit == rule.floor {
        format!("the least limit, where the yardstick needs {took} at this N on this machine")
    } else {
        format!(
            "{} times the {took} the yardstick needs at this N on this machine",
            rule.multiple
        )
    };
    format!("Its limit, {:.1} s, is {why}.", limit.as_secs_f64())
}

pub(super) fn run(test: &SpeedupTest, target: Target<'_>) -> Result<Finding, SpawnError> {
    // The budget covers the whole probe: calibration, warm-up, blocks and the curve.
    let clock = target.runner;
    let probe_started = clock.now();
    let cores = clock.cores();
    let policy = test.inconclusive;
    if cores < 2 {
        return Ok(undecided(
            policy,
            format!(
                "not assessable here: this machine offers {}, a speedup needs 2",
                crate::words::counted(cores, "core")
            ),
            SpeedupProbeEvidence::default(),
        ));
    }
    let reference = match test.threshold {
        SpeedupThreshold::RelativeToReference { .. } => match target.reference {
            Some(r) => Some(r),
            None => {
                return Ok(undecided(
                    policy,
                    "not assessable: the speedup yardstick (reference) could not be built"
                        .to_string(),
                    SpeedupProbeEvidence::default(),
                ))
            }
        },
        SpeedupThreshold::Absolute { .. } => None,
    };
    let p = test.workers;
    // Calibrating on the reference runs it (in this grading or an earlier one of this
    // process): its binary is in the page cache, so no warm-up is needed.
    let (n, reference_warm) = match (test.n, reference) {
        (Some(n), _) => (n, false),
        (None, Some(reference)) => (calibrated_for_reference(reference, target)?, !legacy()),
        (None, None) => (calibrate(target.executable, target)?, false),
    };
    let mut m = Measurement::new(target, reference, n, p);
    let arms_started = clock.now();
    // A pool that hangs is stopped at the exercise's `timeout_from_reference` applied to the
    // yardstick's time at this N (seconds), not at RUN_TIMEOUT: the probe holds its timing
    // lane, so every other grading waits for it too. That run also warms the yardstick up.
    let rule = target.reference_timeouts.filter(|_| !legacy());
    let mut limit = None;
    if let Some(rule) = rule {
        if let Some(took) = m.reference_one_core()? {
            m.check_limit = rule.limit(Some(took), RUN_TIMEOUT);
            limit = Some((took, m.check_limit));
        }
    }
    // A wrong total makes timing meaningless: say so first. These two runs are also the
    // student's warm-up.
    for arm in [Arm::StudentOne, Arm::StudentP] {
        let mut checked = m.check_output(arm)?;
        if let (Err(Failed { hang: Some(_), .. }), Some(rule)) = (&checked, rule) {
            // Stopped at a derived limit: the machine may have slowed since the yardstick was
            // timed (a loaded batch); time it again and run once more with what it now needs.
            // (`grade::limits::recheck` does this for output tests, but takes the lane shared:
            // this probe holds it alone, so it times the yardstick with its own runner.)
            if let Some(took) = m.reference_one_core()? {
                let longer = rule.limit(Some(took), RUN_TIMEOUT);
                if longer > m.check_limit {
                    m.check_limit = longer;
                    limit = Some((took, longer));
                    checked = m.check_output(arm)?;
                }
            }
        }
        if let Err(failed) = checked {
            let why = limit
                .zip(rule)
                .map(|((took, limit), rule)| limit_words(limit, took, rule));
            return Ok(cannot_time(failed, n, why));
        }
    }
    if !reference_warm {
        m.warm_up_reference()?;
    }
    // One run of every arm so far: what a block costs until blocks are measured.
    m.longest_block = clock.elapsed(arms_started) + pressure_window();
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
            clock.elapsed(probe_started) + m.longest_block <= blocks_end && m.blocks() < MAX_BLOCKS;
        if another {
            let block_started = clock.now();
            if pressure(clock).is_some_and(|psi| psi > MAX_PRESSURE) {
                m.discarded += 1;
                clock.sleep(Duration::from_millis(100));
                if m.discarded > 30 {
                    break Outcome::TooBusy;
                }
                continue;
            }
            m.block(&mut shuffler)?;
            m.longest_block = m.longest_block.max(clock.elapsed(block_started));
            // Looks planned before any data: at MIN_BLOCKS blocks, at two thirds of the time,
            // and when no further block fits (below).
            let due = match looks {
                0 => m.blocks() >= MIN_BLOCKS,
                1 => clock.elapsed(probe_started) >= blocks_end.mul_f64(2.0 / 3.0),
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
    let mut ev = m.evidence(cores, required);
    let waste = m.waste();
    let known = [(1, ev.student_one_ms), (p, ev.student_p_ms)];
    let up_to = test.curve_up_to.unwrap_or(default_curve_end(cores));
    let curve = (up_to > 1)
        .then(|| curve(target, n, up_to, &known).ok())
        .flatten();
    let words = curve
        .as_ref()
        .map(|c| curve_words(c, cores))
        .unwrap_or_default();
    ev.serial_fraction = curve.as_ref().map(serial_fractions).unwrap_or_default();
    let evidence = SpeedupProbeEvidence {
        run: RunEvidence {
            command: Some(format!("{} {n} {p}", target.binary)),
            ..RunEvidence::default()
        },
        speedup_curve: curve,
        speedup: Some(ev.clone()),
        inconclusive: None,
    };
    let reference = ev
        .reference_speedup
        .map(|r| format!("; the reference reached {r:.2}x"))
        .unwrap_or_default();
    let figures = format!("{:.2}x{reference}", ev.student_speedup);
    // Why a measurement could not decide is its interval: said only then.
    let interval = format!(
        "{:.2}x (95% interval {:.2}–{:.2}){reference}",
        ev.student_speedup, ev.student_interval.0, ev.student_interval.1
    );
    let (verdict, message) = match outcome {
        Outcome::Decided(true) => (
            Verdict::Pass,
            format!("`{} {n} {p}` is faster than with one worker: {figures}; required {required:.2}x{words}", target.binary),
        ),
        // Students first: what to change, then the one figure that shows it. The interval,
        // blocks and serial fractions are in the evidence for the course staff.
        // Workers that redo each other's work: the CPU time names the cause.
        Outcome::Decided(false) if waste.is_some() => (
            Verdict::Fail(Reason::TooSlow),
            format!(
                "{}. Give each worker its own chunk of 1..={n}. (It ran {:.2}x as fast as \
                 with one worker; {required:.2}x needed{words}.)",
                waste.unwrap_or_default(),
                ev.student_speedup,
            ),
        ),
        Outcome::Decided(false) => (
            Verdict::Fail(Reason::TooSlow),
            format!(
                "`{} {n} {p}` is not faster with {p} workers: {}. Start every worker before \
                 waiting for any, each on its own chunk. (It ran {:.2}x as fast as with one \
                 worker; {required:.2}x needed{words}.)",
                target.binary,
                if ev.student_speedup < 1.1 {
                    "the workers ran one after another, or one of them did all the work"
                } else {
                    "the workers overlapped only in part"
                },
                ev.student_speedup,
            ),
        ),
        Outcome::Gamed(why) => (Verdict::Fail(Reason::TooSlow), format!("{why} ({figures})")),
        Outcome::OutOfTime => {
            return Ok(undecided(
                policy,
                format!(
                    "inconclusive within {:.0} s: {interval}; required {required:.2}x: the \
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
        evidence: Evidence::Speedup(evidence),
    })
}

enum Outcome {
    Decided(bool),
    Gamed(String),
    OutOfTime,
    TooBusy,
}

/// A verdict that could not be decided: the spec's policy, and why.
fn undecided(
    policy: InconclusivePolicy,
    why: String,
    mut evidence: SpeedupProbeEvidence,
) -> Finding {
    evidence.inconclusive = Some(why.clone());
    let verdict = match policy {
        InconclusivePolicy::Pass => Verdict::Pass,
        InconclusivePolicy::Fail => Verdict::Fail(Reason::Inconclusive),
    };
    Finding {
        verdict,
        message: why,
        evidence: Evidence::Speedup(evidence),
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

/// CPU pressure from elsewhere, in percent of a short window during which this probe runs
/// nothing: the share of time some task on the machine waited for a CPU (Linux PSI, "some
/// total"). `None` where the kernel does not report it. The kernel's own averages would include
/// the probe's own runs; a quiet window does not.
fn pressure(clock: &dyn Runner) -> Option<f64> {
    let window = pressure_window();
    let before = clock.cpu_waiting()?;
    clock.sleep(window);
    let after = clock.cpu_waiting()?;
    Some(after.saturating_sub(before).as_secs_f64() / window.as_secs_f64() * 100.0)
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

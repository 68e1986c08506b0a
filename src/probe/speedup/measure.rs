//! The measurement behind the speedup verdict: timed runs of each arm in shuffled blocks, the
//! paired log-ratios they give, the decision at a look, and the ways of looking faster that
//! are not parallelism.

use std::path::Path;
use std::time::Duration;

use crate::sandbox::{Ending, SpawnError};
use crate::spec::{triangular, SpeedupThreshold};
use crate::stats::{self, Decision, Interval, Shuffler};
use crate::verdict::signal_name;

use super::curve::{curve_workers, CURVE_RUNS};
use super::{SpeedupEvidence, Target, RUN_TIMEOUT};
use crate::probe::HangEvidence;

/// One timed run.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: f64,
    cpu: f64,
}

/// A run that did not end with exit status 0, in words for the student.
#[derive(Debug, Clone)]
pub(super) struct Failed {
    /// "`pool_sum 421658007 1` exited with status 1".
    pub(super) words: String,
    /// Set when it ran past its limit: what it was doing.
    pub(super) hang: Option<HangEvidence>,
}

/// Who runs with how many workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arm {
    StudentOne,
    StudentP,
    ReferenceOne,
    ReferenceP,
}

pub(super) struct Measurement<'a> {
    target: Target<'a>,
    reference: Option<&'a Path>,
    n: u64,
    p: u32,
    runs: Vec<(Arm, Run)>,
    /// Per block: (student ln speedup, reference ln speedup if any).
    pub(super) logs: Vec<(f64, Option<f64>)>,
    pub(super) discarded: usize,
    /// The longest block so far (pressure check included): whether another one fits.
    pub(super) longest_block: Duration,
    /// Wall time of the output check at P, seconds: the curve's estimate before any block.
    checked_p_wall: f64,
    /// How long the output checks may run before they count as a hang: [`RUN_TIMEOUT`], or
    /// less where the exercise derives limits from the yardstick (see `super::run`).
    pub(super) check_limit: Duration,
}

impl<'a> Measurement<'a> {
    pub(super) fn new(target: Target<'a>, reference: Option<&'a Path>, n: u64, p: u32) -> Self {
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
            check_limit: RUN_TIMEOUT,
        }
    }

    pub(super) fn blocks(&self) -> usize {
        self.logs.len()
    }

    fn args(&self, arm: Arm) -> Vec<String> {
        let p = match arm {
            Arm::StudentOne | Arm::ReferenceOne => 1,
            Arm::StudentP | Arm::ReferenceP => self.p,
        };
        vec![self.n.to_string(), p.to_string()]
    }

    fn time(&self, arm: Arm) -> Result<Result<(Run, String), Failed>, SpawnError> {
        self.time_within(arm, RUN_TIMEOUT)
    }

    fn time_within(
        &self,
        arm: Arm,
        timeout: Duration,
    ) -> Result<Result<(Run, String), Failed>, SpawnError> {
        let mut job = self.target.job(&self.args(arm), timeout);
        if let (Arm::ReferenceOne | Arm::ReferenceP, Some(r)) = (arm, self.reference) {
            job.program = r.to_path_buf();
            job.keep_visible
                .push(crate::sandbox::Visible::read_only(r.parent().unwrap_or(r)));
        }
        let out = self.target.runner.run(&job)?;
        if out.ending != Ending::Exited(0) {
            let command = format!("{} {}", self.target.binary, self.args(arm).join(" "));
            let words = match &out.ending {
                Ending::TimedOut { after } => format!(
                    "`{command}` printed nothing within {} and was stopped",
                    crate::words::seconds(*after)
                ),
                Ending::Exited(code) => format!("`{command}` exited with status {code}"),
                Ending::Signaled(sig) => {
                    format!("`{command}` was killed by {}", signal_name(*sig))
                }
                Ending::OutputLimit { stream, .. } => {
                    format!("`{command}` wrote too much to {stream} and was stopped")
                }
            };
            return Ok(Err(Failed {
                words,
                hang: HangEvidence::of(&out),
            }));
        }
        let run = Run {
            wall: out.wall.as_secs_f64(),
            cpu: out.cpu.as_secs_f64(),
        };
        Ok(Ok((run, out.stdout.lossy().trim().to_string())))
    }

    pub(super) fn check_output(&mut self, arm: Arm) -> Result<Result<(), Failed>, SpawnError> {
        Ok(match self.time_within(arm, self.check_limit)? {
            Ok((run, printed)) if printed == triangular(self.n).to_string() => {
                if arm == Arm::StudentP {
                    self.checked_p_wall = run.wall;
                }
                Ok(())
            }
            // Worded as an output test's wrong total, with its hint (a chunking bug, a u64
            // that wrapped, sums cut to an exit status).
            Ok((_, printed)) => Err(Failed {
                words: crate::probe::explain::wrong_output(
                    &format!("{} {}", self.target.binary, self.args(arm).join(" ")),
                    &self.args(arm),
                    &crate::spec::StdoutCheck::SumTo { n: self.n },
                    &printed,
                ),
                hang: None,
            }),
            Err(e) => Err(e),
        })
    }

    /// The yardstick's time on one core at this N (the larger of its wall and CPU times, as
    /// output tests' limits take it); `None` when it did not finish. Not kept as a timing.
    pub(super) fn reference_one_core(&self) -> Result<Option<Duration>, SpawnError> {
        if self.reference.is_none() {
            return Ok(None);
        }
        Ok(self
            .time(Arm::ReferenceOne)?
            .ok()
            .map(|(run, _)| Duration::from_secs_f64(run.wall.max(run.cpu))))
    }

    /// One run of each reference arm, not kept (page cache, CPU frequency, the binary's first
    /// load); the student's arms were warmed up by [`Self::check_output`].
    pub(super) fn warm_up_reference(&self) -> Result<(), SpawnError> {
        if self.reference.is_some() {
            for arm in [Arm::ReferenceOne, Arm::ReferenceP] {
                self.time(arm)?.ok();
            }
        }
        Ok(())
    }

    /// The curve's runs that the measurement does not already have: P = 1, 2, 4, … up to
    /// `up_to`, less 1 and P (none without a curve).
    pub(super) fn curve_reserve_runs(&self, up_to: u32) -> usize {
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
    pub(super) fn curve_estimate(&self, runs: usize) -> Duration {
        let measured = self.runs.iter().any(|(a, _)| *a == Arm::StudentP);
        let at_p = if measured {
            self.median_of(Arm::StudentP, |r| r.wall)
        } else {
            self.checked_p_wall
        };
        Duration::from_secs_f64(at_p * runs as f64)
    }

    /// One block of interleaved runs, in shuffled order.
    pub(super) fn block(&mut self, shuffler: &mut Shuffler) -> Result<(), SpawnError> {
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
    pub(super) fn decide(&self, t: SpeedupThreshold, required: f64, alpha: f64) -> Decision {
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

    /// Records a run as if timed (for tests of the verdicts).
    #[cfg(test)]
    pub(super) fn record(&mut self, arm: Arm, wall: f64, cpu: f64) {
        self.runs.push((arm, Run { wall, cpu }));
    }

    /// A way of looking faster that is not parallelism.
    pub(super) fn gaming(&self, cores: usize) -> Option<String> {
        let bin = self.target.binary;
        let n = self.n;
        // First: a run with nothing to do spends its few milliseconds starting up, off the CPU,
        // and its CPU times are noise, so the checks below would name it idle or wasteful. CPU
        // time, not wall: the sandbox's start-up (~20 ms of wall under load, little CPU) would
        // hide a closed form beside a yardstick run of a few hundred milliseconds.
        if let Some(_r) = self.reference {
            let mine = self.median_of(Arm::StudentOne, |r| r.cpu);
            let theirs = self.median_of(Arm::ReferenceOne, |r| r.cpu);
            if mine < 0.1 * theirs {
                return Some(format!(
                    "`{bin} {n} 1` needs {:.1} ms of CPU where the reference, one step per \
                     number, needs {:.0} ms: it computes the total without doing the work (a \
                     closed form?), so there is nothing to speed up",
                    mine * 1e3,
                    theirs * 1e3
                ));
            }
        }
        let share = self.median_of(Arm::StudentOne, |r| r.cpu / r.wall);
        // On a starved machine every one-worker run waits for a core: the reference's, timed
        // in the same blocks, says how much of the waiting is the machine's (like the floor,
        // idleness is judged only where the reference shows it could be avoided).
        let machine = match self.reference {
            Some(_) => self.median_of(Arm::ReferenceOne, |r| r.cpu / r.wall),
            None => 1.0,
        };
        let machine = if machine.is_finite() {
            machine.min(1.0)
        } else {
            1.0
        };
        if share < 0.6 && share < 0.75 * machine {
            return Some(format!(
                "`{bin} {n} 1` spends only {:.0}% of its time on the CPU: a one-worker run \
                 that waits or sleeps makes the parallel run look faster; it must do the work",
                share * 100.0
            ));
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

    /// Why a pool that is too slow is too slow, where its CPU time says so: workers that redo
    /// each other's work use about `p` times the CPU of one worker for the same total.
    ///
    /// A diagnosis, never a verdict of its own: redone work cannot make the wall clock faster,
    /// so a pool that reaches the required speedup has split its work, whatever the CPU
    /// accounting says. (As a verdict it failed correct pools on a CI machine whose parallel
    /// runs all cost about double: 1.9x and 2.0x where redone work shows 2.0x at two workers.)
    pub(super) fn waste(&self) -> Option<String> {
        let bin = self.target.binary;
        let (n, p) = (self.n, self.p);
        let cpu_ratio =
            self.median_of(Arm::StudentP, |r| r.cpu) / self.median_of(Arm::StudentOne, |r| r.cpu);
        // A machine whose cores are busy elsewhere, or are hyperthreads of one core, makes
        // every parallel run cost more CPU for the same work: the reference's ratio, timed in
        // the same blocks, says how much is the machine's (like the floor and idleness, the
        // ratio is judged only where the reference shows it could be avoided). Seen on a CI
        // machine: a correct pool at 2.0x with the reference itself at a 1.17x speedup.
        let machine_ratio = match self.reference {
            Some(_) => {
                self.median_of(Arm::ReferenceP, |r| r.cpu)
                    / self.median_of(Arm::ReferenceOne, |r| r.cpu)
            }
            None => 1.0,
        };
        let machine_ratio = if machine_ratio.is_finite() {
            machine_ratio.max(1.0)
        } else {
            1.0
        };
        (cpu_ratio > 1.6 && cpu_ratio > 1.4 * machine_ratio).then(|| {
            format!(
                "`{bin} {n} {p}` uses {cpu_ratio:.1}x the CPU time of `{bin} {n} 1`: the \
                 workers redo each other's work instead of splitting it"
            )
        })
    }

    fn speedup(&self) -> f64 {
        let s: Vec<f64> = self.logs.iter().map(|(s, _)| *s).collect();
        stats::mean(&s).exp()
    }

    pub(super) fn evidence(&self, cores: usize, required: f64) -> SpeedupEvidence {
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
            serial_fraction: Vec::new(),
        }
    }
}

//! The `race` probe: repeat `counter MODE P K` and judge whether updates get lost.
//!
//! `safe` must print exactly `P*K` in every run; one clean run that prints less fails, with the
//! evidence (the values seen, the updates lost, whether that is whole workers' worth, the run and
//! its conditions). A pass states what it proves: with `R` clean runs, a race that shows in a
//! fraction `q` of runs would have been caught with 95 % confidence when `(1-q)^R <= 0.05`.
//! `racy` must lose updates at least once within the budget.
//!
//! Not every wrong value is a race, and each other class has its own reason ([`classify`]): a
//! hang, a crash, a value above `P*K`, a counter that prints 0 every time, workers never waited
//! for (from the sandbox's process audit), and a parent that printed before its workers
//! finished: after a loss the probe runs one worker alone, which has nobody to race with, and a
//! loss there cannot be a race.
//!
//! A calibrated test ([`RaceTest::calibrate`]) first measures `K` so each worker's loop runs for
//! ~20 ms, then rotates its runs over worker counts and an unoptimised build
//! ([`conditions`]). In `safe` mode the message also carries static hints from the source
//! ([`hint`]), never a verdict.

mod classify;
mod conditions;
mod hint;
mod lexer;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::sandbox::{Ending, Outcome, SpawnError};
use crate::spec::{CounterMode, RaceTest};
use crate::verdict::{
    BuildFlavor, Calibration, Evidence, RaceCondition, RaceConditionRuns, RaceEvidence,
    RaceProbeEvidence, SingleWorkerRun, Verdict,
};

use super::{command_line, Finding, Target};
use conditions::{Increments, Step};

/// Confidence stated for a clean `safe` probe.
const CONFIDENCE: f64 = 0.95;
/// Runs that all printed 0 (and nothing else) make the "always 0" class.
const ZEROS: u32 = 3;
/// One-worker runs made after a loss, to tell a parent that printed early from a race.
const SINGLE_WORKER_RUNS: u32 = 3;
/// The least `K` of those runs.
const SINGLE_WORKER_LEAST_K: u64 = 1_000_000;
/// A one-worker run shorter than this is repeated with ten times the `K`.
const SINGLE_WORKER_LEAST_CPU: Duration = Duration::from_millis(10);
/// The benchmark's knob to compare rotations (see [`conditions::parse_rotation`]).
const ROTATION_VARIABLE: &str = "LABGRADE_RACE_ROTATION";

pub(super) fn run(test: &RaceTest, target: Target<'_>) -> Result<Finding, SpawnError> {
    let started = target.runner.now();
    let (conditions, calibration) = plan(test, &target, started)?;
    let mut probe = Probe {
        test,
        target,
        started,
        runs: vec![BTreeMap::new(); conditions.len()],
        conditions,
        total_runs: 0,
        race: RaceEvidence {
            calibration,
            hints: match test.mode {
                CounterMode::Safe => hint::for_submission(target.workdir, target.binary),
                CounterMode::Racy => Vec::new(),
            },
            ..RaceEvidence::default()
        },
        evidence: RaceProbeEvidence::default(),
    };
    let (verdict, message) = probe.repeat()?;
    Ok(probe.finish(verdict, message))
}

/// The conditions of the runs, calibrating `K` first when the test asks for it.
fn plan(
    test: &RaceTest,
    target: &Target<'_>,
    started: Instant,
) -> Result<(Vec<RaceCondition>, Vec<Calibration>), SpawnError> {
    if !test.calibrate {
        let fixed = RaceCondition {
            workers: test.workers.unwrap_or(2),
            increments: test.increments,
            build: BuildFlavor::Release,
        };
        return Ok((vec![fixed], Vec::new()));
    }
    // Calibration may use a third of the budget; the runs need the rest.
    let deadline = started + test.budget / 3;
    let mut calibration = Vec::new();
    let mut calibrate = |exe: &Path, build| -> Result<u64, SpawnError> {
        let mut error = None;
        let c = conditions::calibrate(test.increments, |k| {
            if error.is_some() || target.runner.now() >= deadline {
                return None;
            }
            let args = args(test.mode, 1, k);
            match target.runner.run(&target.job_of(exe, &args, test.timeout)) {
                Ok(out) => (printed(&out) == Some(k as u128)).then_some(out.cpu),
                Err(e) => {
                    error = Some(e);
                    None
                }
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        calibration.push(Calibration {
            build,
            increments: c.increments,
            ns_per_increment: c.ns_per_increment,
            runs: c.runs,
        });
        Ok(c.increments)
    };
    let steps: Vec<Step> = std::env::var(ROTATION_VARIABLE)
        .ok()
        .and_then(|text| conditions::parse_rotation(&text).ok())
        .unwrap_or_else(|| conditions::ROTATION.to_vec());
    let release = calibrate(target.executable, BuildFlavor::Release)?;
    let wants_unoptimised = steps.iter().any(|s| s.build == BuildFlavor::Unoptimised);
    let unoptimised = match target.unoptimised {
        Some(exe) if wants_unoptimised => Some(calibrate(exe, BuildFlavor::Unoptimised)?),
        _ => None,
    };
    let cores = target.runner.cores() as u32;
    let k = Increments {
        release,
        unoptimised,
    };
    let rotation = conditions::rotation(&steps, test.workers, cores, k);
    Ok((rotation, calibration))
}

/// `MODE P K` as arguments.
fn args(mode: CounterMode, workers: u32, increments: u64) -> Vec<String> {
    vec![
        mode.as_arg().to_string(),
        workers.to_string(),
        increments.to_string(),
    ]
}

/// The number a run printed, if it exited 0 with one.
fn printed(out: &Outcome) -> Option<u128> {
    match out.ending {
        Ending::Exited(0) => std::str::from_utf8(&out.stdout.bytes)
            .ok()
            .and_then(|s| s.trim().parse::<u128>().ok()),
        _ => None,
    }
}

/// `P*K` of a condition.
fn expected(c: &RaceCondition) -> u128 {
    c.workers as u128 * c.increments as u128
}

/// One probe in progress.
struct Probe<'a> {
    test: &'a RaceTest,
    target: Target<'a>,
    started: Instant,
    conditions: Vec<RaceCondition>,
    /// Per condition, each value printed and how often.
    runs: Vec<BTreeMap<u128, u32>>,
    total_runs: u32,
    race: RaceEvidence,
    evidence: RaceProbeEvidence,
}

impl Probe<'_> {
    /// Time since the probe started, on the runner's clock.
    fn elapsed(&self) -> Duration {
        self.target.runner.elapsed(self.started)
    }

    fn rotating(&self) -> bool {
        self.conditions.len() > 1 || self.test.calibrate
    }

    fn executable(&self, c: &RaceCondition) -> &Path {
        match (c.build, self.target.unoptimised) {
            (BuildFlavor::Unoptimised, Some(exe)) => exe,
            _ => self.target.executable,
        }
    }

    fn command(&self, c: &RaceCondition) -> String {
        command_line(
            self.target.binary,
            &args(self.test.mode, c.workers, c.increments),
        )
    }

    /// Runs until a verdict or the end of the budget.
    fn repeat(&mut self) -> Result<(Verdict, String), SpawnError> {
        loop {
            let out_of_budget = self.total_runs > 0 && self.elapsed() >= self.test.budget;
            if self.total_runs >= self.test.max_runs || out_of_budget {
                return Ok(self.end_of_budget());
            }
            let i = self.total_runs as usize % self.conditions.len();
            let c = self.conditions[i];
            let args = args(self.test.mode, c.workers, c.increments);
            let out = self.target.runner.run(&self.target.job_of(
                self.executable(&c),
                &args,
                self.test.timeout,
            ))?;
            self.total_runs += 1;
            if let Some(done) = self.judge(i, &out)? {
                return Ok(done);
            }
        }
    }

    /// The verdict after one run of condition `i`, or `None` to go on.
    fn judge(&mut self, i: usize, out: &Outcome) -> Result<Option<(Verdict, String)>, SpawnError> {
        let c = self.conditions[i];
        let run = self.total_runs;
        let label = classify::run_label(run, &c, self.rotating());
        let command = self.command(&c);
        let shown = classify::reproduce(&command, &c);
        let want = expected(&c);
        let Some(value) = printed(out) else {
            self.evidence.run.stdout = Some(out.stdout.lossy().chars().take(200).collect());
            self.evidence.run.stderr = Some(out.stderr.lossy().chars().take(400).collect());
            self.decided(i, None);
            return Ok(Some(classify::broken_run(&out.ending, &shown, &label)));
        };
        *self.runs[i].entry(value).or_default() += 1;
        if value > want {
            self.decided(i, Some(value));
            return Ok(Some(classify::more_than_possible(
                &shown, &label, value, &c,
            )));
        }
        if let Some(left) = out
            .audit
            .as_ref()
            .and_then(|a| super::processes::left_behind(&command, a))
        {
            self.decided(i, Some(value));
            return Ok(Some(left));
        }
        if value == want {
            return Ok(None);
        }
        let only_zeros = self.runs.iter().flat_map(|r| r.keys()).all(|&v| v == 0);
        if only_zeros {
            if run < ZEROS {
                return Ok(None);
            }
            self.decided(i, Some(value));
            return Ok(Some(classify::always_zero(&shown, run)));
        }
        self.decided(i, Some(value));
        let checked_before = self.race.single_worker_runs.len();
        if let Some((single, single_value)) = self.single_worker_loss(&c)? {
            return Ok(Some(classify::printed_early(
                &shown,
                &label,
                value,
                want,
                &single,
                single_value,
            )));
        }
        let alone_clean = self.race.single_worker_runs.len() > checked_before;
        Ok(Some(classify::lost_updates(
            self.test.mode,
            &shown,
            (run, &label),
            value,
            &c,
            alone_clean,
        )))
    }

    /// Runs one worker alone (release build) a few times; returns the command and value of the
    /// first such run that lost updates. `K` starts at the condition's, at least
    /// [`SINGLE_WORKER_LEAST_K`], and grows tenfold after a run shorter than
    /// [`SINGLE_WORKER_LEAST_CPU`]: the parent of a program that does not wait prints in
    /// microseconds, so the lone worker must need longer than that.
    fn single_worker_loss(
        &mut self,
        c: &RaceCondition,
    ) -> Result<Option<(String, u128)>, SpawnError> {
        let mut k = c.increments.clamp(SINGLE_WORKER_LEAST_K, conditions::MAX_K);
        for _ in 0..SINGLE_WORKER_RUNS {
            let args = args(self.test.mode, 1, k);
            let job = self
                .target
                .job_of(self.target.executable, &args, self.test.timeout);
            let out = self.target.runner.run(&job)?;
            let Some(value) = printed(&out) else {
                continue;
            };
            self.race.single_worker_runs.push(SingleWorkerRun {
                increments: k,
                printed: value.to_string(),
            });
            if value < k as u128 {
                return Ok(Some((command_line(self.target.binary, &args), value)));
            }
            if out.cpu < SINGLE_WORKER_LEAST_CPU {
                k = k.saturating_mul(10).min(conditions::MAX_K);
            }
        }
        Ok(None)
    }

    /// Records the decisive run (the last one) of condition `i`.
    fn decided(&mut self, i: usize, value: Option<u128>) {
        let c = self.conditions[i];
        self.race.decisive_run = Some(self.total_runs);
        self.race.decisive_condition = Some(c);
        self.race.detection_ms = Some(self.elapsed().as_millis() as u64);
        if let Some(value) = value.filter(|&v| v < expected(&c)) {
            let lost = expected(&c) - value;
            self.race.updates_lost = Some(lost as u64);
            self.race.loss_multiple_of_k =
                Some(c.increments > 0 && lost % c.increments as u128 == 0);
        }
    }

    /// The verdict when the budget ran out.
    fn end_of_budget(&mut self) -> (Verdict, String) {
        let c = self.conditions[0];
        let command = classify::reproduce(&self.command(&c), &c);
        let seen_any = self.runs.iter().any(|r| !r.is_empty());
        let only_zeros = self.runs.iter().flat_map(|r| r.keys()).all(|&v| v == 0);
        if seen_any && only_zeros && expected(&c) > 0 {
            return classify::always_zero(&command, self.total_runs);
        }
        classify::end_of_budget(
            self.test.mode,
            &command,
            self.total_runs,
            &self.describe_conditions(),
            detectable_rate(self.total_runs, CONFIDENCE),
            CONFIDENCE,
        )
    }

    /// ` across 4 conditions (P = 4 and 2, release and unoptimised builds, K calibrated…)`.
    fn describe_conditions(&self) -> String {
        if !self.rotating() {
            return String::new();
        }
        let mut workers: Vec<u32> = Vec::new();
        let mut builds: Vec<&str> = Vec::new();
        for c in &self.conditions {
            if !workers.contains(&c.workers) {
                workers.push(c.workers);
            }
            let b = match c.build {
                BuildFlavor::Release => "optimised",
                BuildFlavor::Unoptimised => "unoptimised",
            };
            if !builds.contains(&b) {
                builds.push(b);
            }
        }
        let list = |items: Vec<String>| match items.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => items.join(""),
        };
        format!(
            " across {} condition{} (P = {}; {} build{}; K calibrated so each worker's loop \
             runs ~{} ms)",
            self.conditions.len(),
            if self.conditions.len() == 1 { "" } else { "s" },
            list(workers.iter().map(u32::to_string).collect()),
            list(builds.iter().map(|b| b.to_string()).collect()),
            if builds.len() > 1 { "s" } else { "" },
            conditions::TARGET_LOOP.as_millis()
        )
    }

    /// The finding, with the evidence of the decisive condition and the hints.
    fn finish(mut self, verdict: Verdict, mut message: String) -> Finding {
        let shown = self
            .race
            .decisive_condition
            .and_then(|d| self.conditions.iter().position(|c| *c == d))
            .unwrap_or(0);
        let c = self.conditions[shown];
        let histogram = |r: &BTreeMap<u128, u32>| -> BTreeMap<String, u32> {
            r.iter().map(|(v, n)| (v.to_string(), *n)).collect()
        };
        self.evidence.run.command = Some(self.command(&c));
        self.evidence.expected = Some(expected(&c).to_string());
        self.evidence.values_seen = Some(histogram(&self.runs[shown]));
        self.evidence.runs = Some(self.total_runs);
        self.evidence.run.wall_ms = Some(self.elapsed().as_millis() as u64);
        self.race.conditions = self
            .conditions
            .iter()
            .zip(&self.runs)
            .map(|(c, r)| RaceConditionRuns {
                condition: *c,
                runs: r.values().sum(),
                values_seen: histogram(r),
            })
            .collect();
        if !self.race.hints.is_empty() {
            let shown: Vec<&str> = self
                .race
                .hints
                .iter()
                .take(hint::MAX_SHOWN)
                .map(String::as_str)
                .collect();
            let stop = if message.ends_with(['.', '?', '!']) {
                ""
            } else {
                "."
            };
            message.push_str(&format!(
                "{stop} Hint (read from the source, not a verdict): {}",
                shown.join("; ")
            ));
        }
        self.evidence.race = Some(self.race);
        Finding {
            verdict,
            message,
            evidence: Evidence::Race(self.evidence),
        }
    }
}

/// The smallest per-run race probability that `runs` clean runs rule out with `confidence`.
pub(crate) fn detectable_rate(runs: u32, confidence: f64) -> f64 {
    if runs == 0 {
        return 1.0;
    }
    1.0 - (1.0 - confidence).powf(1.0 / runs as f64)
}

#[cfg(test)]
mod scripted_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detectable_rate_follows_the_rule_of_three() {
        assert_eq!(detectable_rate(0, 0.95), 1.0);
        let r = detectable_rate(100, 0.95);
        assert!((r - 0.0295).abs() < 0.001, "{r}");
        // (1 - r)^runs == 1 - confidence
        assert!(((1.0 - r).powi(100) - 0.05).abs() < 1e-9);
    }

    #[test]
    fn arguments_and_expected_totals() {
        assert_eq!(args(CounterMode::Safe, 4, 10), ["safe", "4", "10"]);
        let c = RaceCondition {
            workers: 64,
            increments: 100_000_000,
            build: BuildFlavor::Release,
        };
        assert_eq!(expected(&c), 6_400_000_000);
    }
}

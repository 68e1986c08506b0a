//! One test's kind-specific fields, checked once and then instantiated per matrix case.
//!
//! [`prepare`] reads everything that does not depend on the matrix (durations, keywords,
//! thresholds) and parses the templated fields; [`Plan::instantiate`] substitutes one case and
//! checks the resulting numbers. Which fields a kind accepts is `fields`' job, done before.

use std::time::Duration;

use toml::Spanned;

use super::criteria::{self, exit, stdout, threshold, StdoutPlan};
use super::error::Diagnostics;
use super::fields::Kind;
use super::model::*;
use super::raw::{RawTest, Scalar};
use super::template::Case;
use super::values::{self, Field};

/// What `[defaults]` (or the language's own defaults) give every test.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// Run timeout.
    pub timeout: Duration,
    /// Points per expanded case.
    pub points: f64,
    /// `stop_after_hangs` and `hang_timeout`, for exercises that do not set their own.
    pub hangs: HangPolicy,
    /// `timeout_from_reference`, for exercises of the reference's binary that do not set
    /// their own.
    pub reference_timeouts: Option<ReferenceTimeouts>,
}

const SPEEDUP_BUDGET: Duration = Duration::from_secs(20);
const RACE_BUDGET: Duration = Duration::from_secs(5);
const RACE_MAX_RUNS: u32 = 200;
const MAX_WORKERS: u64 = 64;
const MAX_INCREMENTS: u64 = 100_000_000;
/// The least `K` of a calibrated race test that does not set `increments`.
const CALIBRATED_LEAST_INCREMENTS: u64 = 1_000;

/// A test's kind with its fields checked, templates still unexpanded.
#[derive(Debug)]
pub enum Plan {
    /// `kind = "output"`.
    Output {
        args: Vec<Field>,
        timeout: Duration,
        exit: ExitExpectation,
        stdout: Option<StdoutPlan>,
    },
    /// `kind = "processes"`.
    Processes {
        args: Vec<Field>,
        timeout: Duration,
        workers: Field,
        overlap: bool,
        inconclusive: InconclusivePolicy,
    },
    /// `kind = "speedup"`.
    Speedup {
        n: Option<Field>,
        workers: Field,
        threshold: SpeedupThreshold,
        budget: Duration,
        inconclusive: InconclusivePolicy,
        curve_up_to: Option<u32>,
    },
    /// `kind = "race"`.
    Race {
        mode: CounterMode,
        /// Absent only when calibrated (`fields` requires it otherwise).
        workers: Option<Field>,
        /// Absent only when calibrated.
        increments: Option<Field>,
        budget: Duration,
        max_runs: u32,
        timeout: Duration,
        calibrate: bool,
    },
}

/// Checks the kind-specific fields of `raw` (already known to belong to `kind`). Returns the
/// plan when they are all valid, and in every case the templated fields that parsed, so the
/// caller can check their placeholders even when something else was wrong.
pub fn prepare(
    diags: &mut Diagnostics,
    raw: &RawTest,
    kind: Kind,
    defaults: &Defaults,
) -> (Option<Plan>, Vec<Field>) {
    let before = diags.count();
    let mut fields = Vec::new();
    let plan = plan(diags, raw, kind, defaults, &mut fields);
    (plan.filter(|_| diags.count() == before), fields)
}

/// The plan, or `None` when a field is invalid. Every field is checked before any `?`, so all
/// problems are reported.
fn plan(
    diags: &mut Diagnostics,
    raw: &RawTest,
    kind: Kind,
    defaults: &Defaults,
    fields: &mut Vec<Field>,
) -> Option<Plan> {
    // Fields of other kinds were reported by `fields`; reading them would only add noise.
    let timeout = match kind {
        Kind::Speedup => None,
        _ => values::duration_or(diags, "timeout", raw.timeout.as_ref(), defaults.timeout),
    };
    let workers = match kind {
        Kind::Output => None,
        _ => templated(diags, fields, "workers", raw.workers.as_ref()),
    };
    match kind {
        Kind::Output | Kind::Processes => {
            let args = args(diags, raw, fields);
            if kind == Kind::Output {
                let exit = exit(diags, raw.exit.as_ref());
                let stdout = raw.stdout.as_ref().map(|s| stdout(diags, s, fields));
                Some(Plan::Output {
                    args,
                    timeout: timeout?,
                    exit: exit?,
                    stdout: stdout.map_or(Some(None), |s| s.map(Some))?,
                })
            } else {
                Some(Plan::Processes {
                    args,
                    timeout: timeout?,
                    workers: workers?,
                    overlap: raw.overlap.as_ref().is_none_or(|o| *o.get_ref()),
                    inconclusive: inconclusive(diags, raw)?,
                })
            }
        }
        Kind::Speedup => {
            let n = raw
                .n
                .as_ref()
                .map(|n| templated(diags, fields, "n", Some(n)));
            let threshold = raw
                .threshold
                .as_ref()
                .map_or(Some(criteria::DEFAULT_THRESHOLD), |t| threshold(diags, t));
            let budget = values::duration_or(diags, "budget", raw.budget.as_ref(), SPEEDUP_BUDGET);
            let inconclusive = inconclusive(diags, raw);
            let curve_up_to = match raw.curve_up_to.as_ref() {
                None => Some(None),
                Some(c) => {
                    let ok = u32::try_from(*c.get_ref())
                        .ok()
                        .filter(|&w| (1..=MAX_WORKERS).contains(&u64::from(w)));
                    if ok.is_none() {
                        diags.error(
                            &c.span(),
                            format!(
                                "`curve_up_to` must be a worker count from 1 (no curve) to \
                                 {MAX_WORKERS}; got {}",
                                c.get_ref()
                            ),
                        );
                    }
                    ok.map(Some)
                }
            };
            Some(Plan::Speedup {
                n: n.map_or(Some(None), |n| n.map(Some))?,
                workers: workers?,
                threshold: threshold?,
                budget: budget?,
                inconclusive: inconclusive?,
                curve_up_to: curve_up_to?,
            })
        }
        Kind::Race => {
            let choices = [("safe", CounterMode::Safe), ("racy", CounterMode::Racy)];
            let mode = raw
                .mode
                .as_ref()
                .and_then(|m| values::keyword(diags, "mode", m, &choices));
            let increments = templated(diags, fields, "increments", raw.increments.as_ref());
            let budget = values::duration_or(diags, "budget", raw.budget.as_ref(), RACE_BUDGET);
            let max_runs = raw.max_runs.as_ref().map_or(Some(RACE_MAX_RUNS), |m| {
                let ok = u32::try_from(*m.get_ref()).ok().filter(|&r| r >= 1);
                if ok.is_none() {
                    diags.error(
                        &m.span(),
                        format!(
                            "`max_runs` must be a whole number >= 1; got {}",
                            m.get_ref()
                        ),
                    );
                }
                ok
            });
            let calibrate = raw.calibrate.as_ref().is_some_and(|c| *c.get_ref());
            // Without `calibrate`, `fields` has reported a missing `workers` or `increments`.
            if !calibrate && (workers.is_none() || increments.is_none()) {
                return None;
            }
            Some(Plan::Race {
                mode: mode?,
                workers,
                increments,
                budget: budget?,
                max_runs: max_runs?,
                timeout: timeout?,
                calibrate,
            })
        }
    }
}

/// A templated number field, kept in `fields` for the placeholder check.
fn templated(
    diags: &mut Diagnostics,
    fields: &mut Vec<Field>,
    key: &'static str,
    value: Option<&Spanned<Scalar>>,
) -> Option<Field> {
    let f = Field::from_scalar(diags, key, value?)?;
    fields.push(f.clone());
    Some(f)
}

fn args(diags: &mut Diagnostics, raw: &RawTest, fields: &mut Vec<Field>) -> Vec<Field> {
    let Some(args) = &raw.args else {
        return Vec::new();
    };
    let parsed: Vec<Field> = args
        .get_ref()
        .iter()
        .filter_map(|a| Field::from_string(diags, "args", a))
        .collect();
    fields.extend(parsed.iter().cloned());
    parsed
}

impl Plan {
    /// The kind for one matrix case, reporting numbers out of range after substitution.
    pub fn instantiate(&self, diags: &mut Diagnostics, case: &Case) -> Option<TestKind> {
        let render = |args: &[Field]| args.iter().map(|a| a.render(case)).collect();
        let workers = |diags: &mut Diagnostics, w: &Field, min| {
            w.number(diags, case, min..=MAX_WORKERS).map(|n| n as u32)
        };
        Some(match self {
            Plan::Output {
                args,
                timeout,
                exit,
                stdout,
            } => TestKind::Output(OutputTest {
                args: render(args),
                timeout: *timeout,
                exit: *exit,
                stdout: match stdout {
                    None => None,
                    Some(s) => Some(s.instantiate(diags, case)?),
                },
            }),
            Plan::Processes {
                args,
                timeout,
                workers: w,
                overlap,
                inconclusive,
            } => TestKind::Processes(ProcessesTest {
                args: render(args),
                timeout: *timeout,
                workers: workers(diags, w, 1)?,
                overlap: *overlap,
                inconclusive: *inconclusive,
            }),
            Plan::Speedup {
                n,
                workers: w,
                threshold,
                budget,
                inconclusive,
                curve_up_to,
            } => {
                let n = n.as_ref().map(|n| n.number(diags, case, 1..=u64::MAX));
                // One worker cannot be faster than one worker.
                let workers = workers(diags, w, 2);
                TestKind::Speedup(SpeedupTest {
                    n: n.map_or(Some(None), |n| n.map(Some))?,
                    workers: workers?,
                    threshold: *threshold,
                    budget: *budget,
                    inconclusive: *inconclusive,
                    curve_up_to: *curve_up_to,
                })
            }
            Plan::Race {
                mode,
                workers: w,
                increments,
                budget,
                max_runs,
                timeout,
                calibrate,
            } => {
                let workers = w.as_ref().map(|w| workers(diags, w, 1));
                let increments = increments
                    .as_ref()
                    .map_or(Some(CALIBRATED_LEAST_INCREMENTS), |k| {
                        k.number(diags, case, 0..=MAX_INCREMENTS)
                    });
                TestKind::Race(RaceTest {
                    mode: *mode,
                    workers: workers.map_or(Some(None), |w| w.map(Some))?,
                    increments: increments?,
                    budget: *budget,
                    max_runs: *max_runs,
                    timeout: *timeout,
                    calibrate: *calibrate,
                })
            }
        })
    }
}

/// What an undecided verdict of a `speedup` or `processes` test counts as: `fail` unless the
/// spec says `inconclusive = "pass"`.
fn inconclusive(diags: &mut Diagnostics, raw: &RawTest) -> Option<InconclusivePolicy> {
    raw.inconclusive
        .as_ref()
        .map_or(Some(InconclusivePolicy::Fail), |v| {
            let choices = [
                ("pass", InconclusivePolicy::Pass),
                ("fail", InconclusivePolicy::Fail),
            ];
            values::keyword(diags, "inconclusive", v, &choices)
        })
}

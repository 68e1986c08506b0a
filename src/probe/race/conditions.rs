//! The conditions a race probe's runs rotate through, and how `K` is calibrated.
//!
//! A race shows only when workers really overlap: on separate cores, long enough, with a window
//! between the load and the store. Measured (README, "Making races show"): the same racy source
//! loses updates far more often with more workers than cores and in an unoptimised build (the
//! optimiser shrinks the window, or folds the loop into one add), and a race-free program prints
//! the same in every condition. So a calibrated probe rotates its runs over worker counts and
//! builds, with `K` chosen so each worker's loop runs for about [`TARGET_LOOP`].
//!
//! Everything here is pure: the probe passes in the measurements.

use std::time::Duration;

use crate::verdict::{BuildFlavor, RaceCondition};

/// How long each worker's loop should run in a calibrated probe.
pub(crate) const TARGET_LOOP: Duration = Duration::from_millis(20);
/// A calibration run this long (beyond a run with `K = 0`) measures the cost of an increment
/// well enough.
const MEASURABLE: Duration = Duration::from_millis(4);
/// The first `K` tried when calibrating (unless the spec's least `K` is larger).
const FIRST_K: u64 = 10_000;
/// How much `K` grows between calibration runs that were too short to measure.
const GROWTH: u64 = 8;
/// CONTRACT §1: `0 <= K <= 100_000_000`.
pub(crate) const MAX_K: u64 = 100_000_000;
/// CONTRACT §1: `1 <= P <= 64`.
const MAX_P: u32 = 64;

/// How a step of a rotation chooses `P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workers {
    /// One worker per core.
    Cores,
    /// Two workers per core: the scheduler preempts workers mid-increment.
    TwiceCores,
}

/// One step of a rotation, before the machine's cores and the calibration fill it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub workers: Workers,
    pub build: BuildFlavor,
}

/// The rotation kept after measuring the fixtures (README, "Making races show"): twice as
/// many workers as cores first, alternating release and unoptimised builds, then one worker per
/// core in both builds.
pub(crate) const ROTATION: [Step; 4] = [
    Step {
        workers: Workers::TwiceCores,
        build: BuildFlavor::Release,
    },
    Step {
        workers: Workers::TwiceCores,
        build: BuildFlavor::Unoptimised,
    },
    Step {
        workers: Workers::Cores,
        build: BuildFlavor::Release,
    },
    Step {
        workers: Workers::Cores,
        build: BuildFlavor::Unoptimised,
    },
];

/// Parses a rotation written as steps separated by commas, each `cores` or `2cores`, with
/// `:unoptimised` for the unoptimised build (`2cores,2cores:unoptimised,cores`). Used by the
/// detection benchmark (`LABGRADE_RACE_ROTATION`) to compare rotations side by side.
pub(crate) fn parse_rotation(text: &str) -> Result<Vec<Step>, String> {
    let steps: Result<Vec<Step>, String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|step| {
            let (workers, build) = step.split_once(':').unwrap_or((step, "release"));
            let workers = match workers {
                "cores" => Workers::Cores,
                "2cores" => Workers::TwiceCores,
                other => return Err(format!("unknown worker count `{other}` in `{step}`")),
            };
            let build = match build {
                "release" => BuildFlavor::Release,
                "unoptimised" => BuildFlavor::Unoptimised,
                other => return Err(format!("unknown build `{other}` in `{step}`")),
            };
            Ok(Step { workers, build })
        })
        .collect();
    match steps {
        Ok(s) if s.is_empty() => Err("an empty rotation".to_string()),
        other => other,
    }
}

/// `K` for each build, as calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Increments {
    pub release: u64,
    /// `None`: no unoptimised build to run.
    pub unoptimised: Option<u64>,
}

/// The conditions of a calibrated probe: `steps` on a machine with `cores` cores. A fixed
/// `workers` (the spec's) replaces every step's worker count; steps of a build that is missing
/// are dropped; repeated conditions are kept once.
pub(crate) fn rotation(
    steps: &[Step],
    workers: Option<u32>,
    cores: u32,
    k: Increments,
) -> Vec<RaceCondition> {
    let mut out: Vec<RaceCondition> = Vec::new();
    for step in steps {
        let p = workers.unwrap_or(match step.workers {
            Workers::Cores => cores,
            Workers::TwiceCores => cores.saturating_mul(2),
        });
        // One worker cannot race; the lab allows at most 64.
        let p = if workers.is_some() {
            p
        } else {
            p.clamp(2, MAX_P)
        };
        let increments = match step.build {
            BuildFlavor::Release => Some(k.release),
            BuildFlavor::Unoptimised => k.unoptimised,
        };
        let Some(increments) = increments else {
            continue;
        };
        let c = RaceCondition {
            workers: p,
            increments,
            build: step.build,
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push(RaceCondition {
            workers: workers.unwrap_or(cores.clamp(2, MAX_P)),
            increments: k.release,
            build: BuildFlavor::Release,
        });
    }
    out
}

/// The result of calibrating one build.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Calibrated {
    pub increments: u64,
    /// CPU time of one increment, in nanoseconds (0 when it could not be measured).
    pub ns_per_increment: f64,
    pub runs: u32,
}

/// Chooses `K` so that one worker's loop takes about [`TARGET_LOOP`] of CPU time, and at least
/// `least`. `measure(k)` runs the program with one worker and returns the CPU time of the
/// whole run, or `None` when the run did not print exactly `k` (or the time is up): then the
/// calibration stops where it is and the probe's own runs will say what is wrong.
pub(crate) fn calibrate(
    least: u64,
    mut measure: impl FnMut(u64) -> Option<Duration>,
) -> Calibrated {
    let mut runs = 0;
    let mut run = |k| {
        runs += 1;
        measure(k)
    };
    let fallback = |runs| Calibrated {
        increments: least.clamp(FIRST_K, MAX_K),
        ns_per_increment: 0.0,
        runs,
    };
    // The start-up cost (exec, fork, mmap) is not the loop's.
    let Some(base) = run(0) else {
        return fallback(runs);
    };
    let mut k = least.clamp(FIRST_K, MAX_K);
    loop {
        let Some(cpu) = run(k) else {
            return fallback(runs);
        };
        let spent = cpu.saturating_sub(base);
        if spent >= MEASURABLE || k == MAX_K {
            let per = spent.as_secs_f64() / k as f64;
            let increments = if per > 0.0 {
                (TARGET_LOOP.as_secs_f64() / per).ceil() as u64
            } else {
                MAX_K
            };
            return Calibrated {
                increments: increments.clamp(least.min(MAX_K), MAX_K),
                ns_per_increment: per * 1e9,
                runs,
            };
        }
        k = k.saturating_mul(GROWTH).min(MAX_K);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn calibration_scales_k_to_the_target_loop() {
        // 1 ms of start-up, 5 ns per increment.
        let cost = |k: u64| Some(ms(1) + Duration::from_nanos(5 * k));
        let c = calibrate(1_000, cost);
        // 10_000 → 0.05 ms, 80_000 → 0.4 ms, 640_000 → 3.2 ms, 5_120_000 → 25.6 ms.
        assert_eq!(c.runs, 5);
        assert_eq!(c.increments, 4_000_000);
        assert!((c.ns_per_increment - 5.0).abs() < 1e-6);
    }

    #[test]
    fn calibration_respects_the_least_k_and_the_contract_maximum() {
        let slow = |k: u64| Some(Duration::from_micros(k));
        assert_eq!(calibrate(500_000, slow).increments, 500_000);
        let free = |_| Some(ms(1));
        let c = calibrate(1_000, free);
        assert_eq!(c.increments, MAX_K);
        assert_eq!(c.ns_per_increment, 0.0);
    }

    #[test]
    fn a_failing_calibration_run_falls_back_to_a_small_k() {
        assert_eq!(calibrate(1_000, |_| None).increments, FIRST_K);
        let mut calls = 0;
        let c = calibrate(1_000, |k| {
            calls += 1;
            (k == 0).then(|| ms(1))
        });
        assert_eq!((c.increments, c.runs, calls), (FIRST_K, 2, 2));
    }

    #[test]
    fn the_rotation_follows_the_cores_and_drops_missing_builds() {
        let k = Increments {
            release: 100,
            unoptimised: Some(10),
        };
        let r = rotation(&ROTATION, None, 2, k);
        let got: Vec<(u32, u64, BuildFlavor)> = r
            .iter()
            .map(|c| (c.workers, c.increments, c.build))
            .collect();
        assert_eq!(
            got,
            [
                (4, 100, BuildFlavor::Release),
                (4, 10, BuildFlavor::Unoptimised),
                (2, 100, BuildFlavor::Release),
                (2, 10, BuildFlavor::Unoptimised),
            ]
        );
        let no_unopt = Increments {
            unoptimised: None,
            ..k
        };
        assert_eq!(rotation(&ROTATION, None, 2, no_unopt).len(), 2);
        // A fixed P keeps only the builds; one core still gets two workers.
        assert_eq!(rotation(&ROTATION, Some(3), 2, k).len(), 2);
        let one_core = rotation(&ROTATION, None, 1, no_unopt);
        assert_eq!((one_core.len(), one_core[0].workers), (1, 2));
        assert_eq!(rotation(&ROTATION, None, 48, no_unopt)[0].workers, 64);
    }

    #[test]
    fn rotations_parse_from_text() {
        assert_eq!(
            parse_rotation("2cores, cores:unoptimised").unwrap(),
            [
                Step {
                    workers: Workers::TwiceCores,
                    build: BuildFlavor::Release
                },
                Step {
                    workers: Workers::Cores,
                    build: BuildFlavor::Unoptimised
                }
            ]
        );
        assert!(parse_rotation("").is_err());
        assert!(parse_rotation("3cores").unwrap_err().contains("3cores"));
        assert!(parse_rotation("cores:debug").unwrap_err().contains("debug"));
    }
}

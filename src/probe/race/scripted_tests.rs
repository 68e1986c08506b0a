//! The whole race probe against scripted runs ([`ScriptedRunner`]): every run takes 50 ms of
//! scripted time, so a budget of 3 s is exactly 60 runs, and a lost update can be placed in the
//! run the test chooses.

use std::time::Duration;

use crate::probe::scripted::{Call, ScriptedRunner};
use crate::probe::Finding;
use crate::sandbox::{Audit, Ending, Outcome};
use crate::spec::{CounterMode, RaceTest};
use crate::verdict::BuildFlavor;
use crate::verdict::{Reason, Verdict};

use super::{detectable_rate, CONFIDENCE};

const RUN: f64 = 0.05;
const BUDGET: Duration = Duration::from_secs(3);
const P: u64 = 2;
const K: u64 = 1000;

/// `counter MODE P K` printing `P*K`, except where `printed` says otherwise (by run number).
fn counter(printed: impl Fn(u32) -> Option<u128> + Send + Sync + 'static) -> ScriptedRunner {
    ScriptedRunner::new(2, move |call: &Call| {
        let (p, k) = (call.number(1), call.number(2));
        let total = printed(call.nth).unwrap_or(p as u128 * k as u128);
        Outcome::scripted(RUN, RUN * p as f64, &total.to_string())
    })
}

fn probe(mode: CounterMode, runner: &ScriptedRunner) -> Finding {
    let test = RaceTest {
        mode,
        workers: Some(P as u32),
        increments: K,
        budget: BUDGET,
        max_runs: 1000,
        timeout: Duration::from_secs(5),
        calibrate: false,
    };
    super::run(&test, runner.target("counter")).expect("scripted runs start")
}

#[test]
fn a_safe_counter_passes_after_the_whole_budget_with_its_stated_bound() {
    let runner = counter(|_| None);
    let f = probe(CounterMode::Safe, &runner);
    assert_eq!(f.verdict, Verdict::Pass, "{}", f.message);
    // 3 s of 50 ms runs: the budget, all of it, and not one run more.
    let runs = (BUDGET.as_secs_f64() / RUN).round() as u32;
    assert_eq!(f.evidence.race().unwrap().runs, Some(runs), "{}", f.message);
    assert_eq!(runner.calls().len(), runs as usize);
    let bound = format!(
        "printed exactly P*K in all {runs} runs: a race showing in {:.1}% of runs or more \
         would have been caught with 95% confidence",
        100.0 * detectable_rate(runs, CONFIDENCE)
    );
    assert!(f.message.contains(&bound), "{}", f.message);
    assert!(f.message.contains("4.9%"), "{}", f.message);
}

#[test]
fn one_lost_update_in_run_37_fails_a_safe_counter() {
    let runner = counter(|run| (run == 37).then_some((P * K - 1) as u128));
    let f = probe(CounterMode::Safe, &runner);
    assert_eq!(
        f.verdict,
        Verdict::Fail(Reason::LostUpdates { lost: 1, runs: 37 }),
        "{}",
        f.message
    );
    assert!(
        f.message
            .contains("printed 1999 in the 37th run, expected 2000: 1 update lost"),
        "{}",
        f.message
    );
    let race = f
        .evidence
        .race()
        .unwrap()
        .race
        .clone()
        .expect("race evidence");
    assert_eq!(race.decisive_run, Some(37));
    assert_eq!(race.updates_lost, Some(1));
    // After the loss, one worker alone was run (it has nobody to race with) and printed K.
    assert!(!race.single_worker_runs.is_empty());
    let values = f
        .evidence
        .race()
        .unwrap()
        .values_seen
        .clone()
        .expect("values seen");
    assert_eq!(values.get("1999"), Some(&1));
    assert_eq!(values.get("2000"), Some(&36));
}

#[test]
fn one_lost_update_in_run_37_is_the_racy_demo_passing() {
    let runner = counter(|run| (run == 37).then_some((P * K - 1) as u128));
    let f = probe(CounterMode::Racy, &runner);
    assert_eq!(f.verdict, Verdict::Pass, "{}", f.message);
    assert!(
        f.message.contains("lost 1 of 2000 updates in the 37th run"),
        "{}",
        f.message
    );
    assert_eq!(
        f.evidence.race().unwrap().runs,
        Some(37),
        "the demo stops at its first race"
    );
    let with_p = runner.calls().iter().filter(|c| c.args[1] == "2").count();
    assert_eq!(with_p, 37);
}

#[test]
fn a_racy_demo_that_never_races_fails_after_the_whole_budget() {
    let runner = counter(|_| None);
    let f = probe(CounterMode::Racy, &runner);
    assert_eq!(
        f.verdict,
        Verdict::Fail(Reason::NoRaceObserved { runs: 60 }),
        "{}",
        f.message
    );
}

#[test]
fn a_value_beyond_p_times_k_is_named() {
    let runner = counter(|run| (run == 5).then_some((P * K + 7) as u128));
    let f = probe(CounterMode::Safe, &runner);
    assert_eq!(
        f.verdict,
        Verdict::Fail(Reason::MoreThanPossible {
            expected: 2000,
            got: 2007
        }),
        "{}",
        f.message
    );
    assert!(
        f.message
            .contains("printed 2007 in the 5th run: 7 more than the 2000 increments made"),
        "{}",
        f.message
    );
    assert_eq!(runner.calls().len(), 5);
}

#[test]
fn a_hang_in_run_12_is_a_hang_not_a_race() {
    let runner = ScriptedRunner::new(2, |call: &Call| {
        let total = (call.number(1) * call.number(2)).to_string();
        let run = Outcome::scripted(RUN, RUN, &total);
        if call.nth == 12 {
            let after = Duration::from_secs(5);
            Outcome {
                wall: after,
                ..run.ending(Ending::TimedOut { after })
            }
        } else {
            run
        }
    });
    let f = probe(CounterMode::Safe, &runner);
    assert_eq!(
        f.verdict,
        Verdict::Fail(Reason::Timeout {
            after: Duration::from_secs(5)
        }),
        "{}",
        f.message
    );
    assert!(f.message.contains("hung in the 12th run"), "{}", f.message);
}

#[test]
fn workers_never_waited_for_are_named_from_the_audit() {
    let runner = ScriptedRunner::new(2, |call: &Call| {
        let total = (call.number(1) * call.number(2)).to_string();
        let audit = Audit {
            processes_seen: 3,
            unreaped: 2,
            ..Audit::default()
        };
        Outcome::scripted(RUN, RUN, &total).audited(audit)
    });
    let f = probe(CounterMode::Safe, &runner);
    assert_eq!(
        f.verdict,
        Verdict::Fail(Reason::UnreapedWorkers { count: 2 }),
        "{}",
        f.message
    );
    assert_eq!(runner.calls().len(), 1, "decided by the first run's audit");
}

/// A calibrated test: `K` measured per build (1 ns per increment in release, 5 ns unoptimised,
/// after 1 ms of start-up), then runs rotating over P = 4 and 2 (on 2 cores) and both builds.
/// Only the third unoptimised run at P = 2 loses updates; the probe finds it and names its
/// condition.
#[test]
fn a_calibrated_probe_finds_a_loss_in_the_one_condition_that_shows_it() {
    let runner = ScriptedRunner::new(2, |call: &Call| {
        let (p, k) = (call.number(1), call.number(2));
        let unoptimised = call.is("/probe/");
        let ns = if unoptimised { 5.0 } else { 1.0 };
        let loop_s = k as f64 * ns * 1e-9;
        let total = p as u128 * k as u128;
        let lost = unoptimised && p == 2 && k > 0 && call.repeat == 3;
        let printed = if lost { total - 12_345 } else { total };
        Outcome::scripted(
            0.001 + loop_s,
            0.001 + p as f64 * loop_s,
            &printed.to_string(),
        )
    });
    let test = RaceTest {
        mode: CounterMode::Safe,
        workers: None,
        increments: K,
        budget: BUDGET,
        max_runs: 1000,
        timeout: Duration::from_secs(5),
        calibrate: true,
    };
    let f = super::run(&test, runner.target("counter")).expect("scripted runs start");
    let race = f
        .evidence
        .race()
        .unwrap()
        .race
        .clone()
        .expect("race evidence");
    let ks: Vec<u64> = race.calibration.iter().map(|c| c.increments).collect();
    assert_eq!(ks, [20_000_000, 4_000_000], "{:?}", race.calibration);
    assert!(
        matches!(
            f.verdict,
            Verdict::Fail(Reason::LostUpdates { lost: 12_345, .. })
        ),
        "{:?}: {}",
        f.verdict,
        f.message
    );
    let c = race.decisive_condition.expect("the condition of the loss");
    assert_eq!(
        (c.workers, c.build, c.increments),
        (2, BuildFlavor::Unoptimised, 4_000_000)
    );
    // Rotation: P=4 release, P=4 unoptimised, P=2 release, P=2 unoptimised, …: the third run
    // of the last is run 12.
    assert_eq!(race.decisive_run, Some(12));
    assert!(
        f.message.contains("in the 12th run (P=2, unoptimised)"),
        "{}",
        f.message
    );
}

//! The `race` probe: repeat `counter MODE P K` and judge whether updates get lost.
//!
//! `safe` must print exactly `P*K` in every run; one clean run that prints less fails, with the
//! values seen as evidence. A pass states what it proves: with `R` clean runs, a race that shows
//! in a fraction `q` of runs would have been caught with 95 % confidence when `(1-q)^R <= 0.05`.
//! `racy` must lose updates at least once within the budget. Hangs, crashes, values above `P*K`
//! and a counter that stays 0 are failures of their own, not races.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::sandbox::{Ending, SpawnError};
use crate::spec::{CounterMode, RaceTest};
use crate::verdict::{signal_name, Evidence, Reason, Verdict};

use super::{command_line, Finding, Target};

/// Confidence stated for a clean `safe` probe.
const CONFIDENCE: f64 = 0.95;

pub(super) fn run(test: &RaceTest, target: Target<'_>) -> Result<Finding, SpawnError> {
    let args = vec![
        test.mode.as_arg().to_string(),
        test.workers.to_string(),
        test.increments.to_string(),
    ];
    let command = command_line(target.binary, &args);
    let expected = test.workers as u128 * test.increments as u128;
    let job = target.job(&args, test.timeout);
    let started = Instant::now();
    let mut seen: BTreeMap<u128, u32> = BTreeMap::new();
    let mut runs = 0u32;
    let mut evidence = Evidence {
        command: Some(command.clone()),
        expected: Some(expected.to_string()),
        ..Evidence::default()
    };
    let verdict_and_message = loop {
        if runs >= test.max_runs || (runs > 0 && started.elapsed() >= test.budget) {
            break end_of_budget(test.mode, runs, expected, &command);
        }
        let out = crate::sandbox::run(&job)?;
        runs += 1;
        let value = match &out.ending {
            Ending::Exited(0) => std::str::from_utf8(&out.stdout.bytes)
                .ok()
                .and_then(|s| s.trim().parse::<u128>().ok()),
            _ => None,
        };
        let Some(value) = value else {
            evidence.stdout = Some(out.stdout.lossy().chars().take(200).collect());
            evidence.stderr = Some(out.stderr.lossy().chars().take(400).collect());
            break broken_run(&out.ending, &command, runs);
        };
        *seen.entry(value).or_default() += 1;
        if value > expected {
            break (
                Verdict::Fail(Reason::WrongOutput {
                    expected: expected.to_string(),
                    got: value.to_string(),
                }),
                format!(
                    "`{command}` printed {value} in run {runs}: more than the {expected} \
                     increments made; no interleaving can produce that"
                ),
            );
        }
        if value == 0 && expected > 0 {
            break (
                Verdict::Fail(Reason::WrongOutput {
                    expected: expected.to_string(),
                    got: "0".into(),
                }),
                format!(
                    "`{command}` printed 0: the workers' increments never reached the parent. \
                     Is the counter in an anonymous MAP_SHARED mapping, created before fork, \
                     and does the parent wait for the workers?"
                ),
            );
        }
        if value < expected {
            let lost = expected - value;
            break match test.mode {
                CounterMode::Safe => (
                    Verdict::Fail(Reason::LostUpdates { lost, runs }),
                    lost_message(&command, value, expected, lost, test.increments, runs),
                ),
                CounterMode::Racy => (
                    Verdict::Pass,
                    format!(
                        "`{command}` lost {lost} of {expected} updates in run {runs}: the \
                         unsynchronised read-modify-write races, as the lecture shows"
                    ),
                ),
            };
        }
    };
    evidence.runs = Some(runs);
    evidence.wall_ms = Some(started.elapsed().as_millis() as u64);
    evidence.values_seen = Some(seen.iter().map(|(v, n)| (v.to_string(), *n)).collect());
    let (verdict, message) = verdict_and_message;
    Ok(Finding {
        verdict,
        message,
        evidence,
    })
}

/// The budget ran out without a lost update.
fn end_of_budget(mode: CounterMode, runs: u32, expected: u128, command: &str) -> (Verdict, String) {
    match mode {
        CounterMode::Safe => (
            Verdict::Pass,
            format!(
                "`{command}` printed {expected} in all {runs} runs: a race showing in {:.1}% of \
                 runs or more would have been caught with {:.0}% confidence",
                100.0 * detectable_rate(runs, CONFIDENCE),
                100.0 * CONFIDENCE
            ),
        ),
        CounterMode::Racy => (
            Verdict::Fail(Reason::NoRaceObserved { runs }),
            format!(
                "`{command}` never lost an update in {runs} runs. The lecture's demo must show \
                 the race: read the shared value with a volatile read, add 1, write it back \
                 with a volatile write (a plain `*p += 1` may be folded by the compiler into one \
                 instruction), and make K large enough that the workers overlap"
            ),
        ),
    }
}

/// The smallest per-run race probability that `runs` clean runs rule out with `confidence`.
pub(crate) fn detectable_rate(runs: u32, confidence: f64) -> f64 {
    if runs == 0 {
        return 1.0;
    }
    1.0 - (1.0 - confidence).powf(1.0 / runs as f64)
}

fn lost_message(
    command: &str,
    value: u128,
    expected: u128,
    lost: u128,
    k: u64,
    runs: u32,
) -> String {
    let mut msg = format!(
        "`{command}` printed {value} in run {runs}, expected {expected}: {lost} updates lost"
    );
    if k > 0 && lost % k as u128 == 0 {
        msg.push_str(&format!(
            ", exactly {} worker(s)' worth: did the parent print before every worker finished?",
            lost / k as u128
        ));
    } else {
        msg.push_str(
            ". The increments are not synchronised: use an atomic fetch_add on the shared word \
             or a process-shared lock (a std::sync::Mutex created before fork is a copy per \
             process and protects nothing)",
        );
    }
    msg
}

/// A run that did not end cleanly with a number.
fn broken_run(ending: &Ending, command: &str, runs: u32) -> (Verdict, String) {
    match ending {
        Ending::TimedOut { after } => (
            Verdict::Fail(Reason::Timeout { after: *after }),
            format!(
                "`{command}` hung in run {runs} (stopped after {:.1} s): a std::sync::Mutex or \
                 a pthread mutex without PTHREAD_PROCESS_SHARED in shared memory deadlocks \
                 across processes",
                after.as_secs_f64()
            ),
        ),
        Ending::Signaled(sig) => (
            Verdict::Fail(Reason::Crash { signal: *sig }),
            format!(
                "`{command}` crashed in run {runs}: killed by {}",
                signal_name(*sig)
            ),
        ),
        Ending::OutputLimit { stream, cap_bytes } => (
            Verdict::Fail(Reason::OutputLimit {
                stream: *stream,
                cap_bytes: *cap_bytes,
            }),
            format!("`{command}` wrote too much to {stream} in run {runs}"),
        ),
        Ending::Exited(code) => (
            Verdict::Fail(Reason::ExitStatus {
                expected: crate::spec::ExitExpectation::Success,
                got: *code,
            }),
            if *code == 0 {
                format!("`{command}` did not print a number in run {runs}")
            } else {
                format!("`{command}` exited with status {code} in run {runs}")
            },
        ),
    }
}

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
    fn losses_of_whole_workers_are_recognised() {
        let m = lost_message("counter safe 4 1000", 3000, 4000, 1000, 1000, 7);
        assert!(m.contains("exactly 1 worker(s)' worth"), "{m}");
        let m = lost_message("counter safe 4 1000", 3517, 4000, 483, 1000, 7);
        assert!(m.contains("not synchronised"), "{m}");
    }
}

//! The race probe's failure classes and their messages. Each class has its own reason and words:
//! a hang, a crash, a value no interleaving can produce, a counter that is always 0, a parent that
//! printed before its workers finished, workers never waited for, and only then a race.

use crate::sandbox::Ending;
use crate::spec::CounterMode;
use crate::verdict::{signal_name, BuildFlavor, RaceCondition, Reason, Verdict};

/// How a run is named in messages: `the 7th run (P=4, unoptimised)` (never the grader's
/// "run 7" or "release build": the student reads this).
pub(super) fn run_label(run: u32, c: &RaceCondition, rotating: bool) -> String {
    if !rotating {
        return format!("the {} run", ordinal(run));
    }
    let build = match c.build {
        BuildFlavor::Release => "optimised",
        BuildFlavor::Unoptimised => "unoptimised",
    };
    format!("the {} run (P={}, {build})", ordinal(run), c.workers)
}

/// `1st`, `2nd`, `3rd`, `11th`, `22nd`.
pub(crate) fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The command a student types to reproduce a run of `c`.
pub(super) fn reproduce(command: &str, c: &RaceCondition) -> String {
    match c.build {
        BuildFlavor::Release => format!("`{command}`"),
        BuildFlavor::Unoptimised => {
            let args = command.split_once(' ').map_or("", |(_, a)| a);
            format!("`{command}` (unoptimised: `cargo run --bin counter -- {args}`)")
        }
    }
}

/// A run that did not end cleanly with a number.
pub(super) fn broken_run(ending: &Ending, command: &str, run: &str) -> (Verdict, String) {
    match ending {
        Ending::TimedOut { after } => (
            Verdict::Fail(Reason::Timeout { after: *after }),
            format!(
                "{command} hung in {run} (stopped after {:.1} s): no update was lost, the \
                 workers stopped making progress. A std::sync::Mutex, even in shared memory, \
                 or a pthread mutex without PTHREAD_PROCESS_SHARED deadlocks across processes: \
                 a waiting process is never woken by another's unlock",
                after.as_secs_f64()
            ),
        ),
        Ending::Signaled(sig) => (
            Verdict::Fail(Reason::Crash { signal: *sig }),
            format!(
                "{command} crashed in {run}: killed by {}. A crash is not a race: run it \
                 yourself to see where it stops",
                signal_name(*sig)
            ),
        ),
        Ending::OutputLimit { stream, cap_bytes } => (
            Verdict::Fail(Reason::OutputLimit {
                stream: *stream,
                cap_bytes: *cap_bytes,
            }),
            format!("{command} wrote too much to {stream} in {run}: print only the total"),
        ),
        Ending::Exited(code) => (
            Verdict::Fail(Reason::ExitStatus {
                expected: crate::spec::ExitExpectation::Success,
                got: *code,
            }),
            if *code == 0 {
                format!("{command} did not print a number in {run}: print the total as one line")
            } else {
                format!("{command} exited with status {code} in {run}")
            },
        ),
    }
}

/// The value printed is more than `P*K`.
pub(super) fn more_than_possible(
    command: &str,
    run: &str,
    value: u128,
    c: &RaceCondition,
) -> (Verdict, String) {
    let (p, k) = (c.workers as u128, c.increments as u128);
    let expected = p * k;
    let extra = value - expected;
    let why = if extra % p == 0 && extra / p < k.max(2) {
        format!(
            "{} more per worker: does each worker's loop run K+{} times (`0..=k` instead of \
             `0..k`)?",
            extra / p,
            extra / p
        )
    } else if k > 0 && value % k == 0 {
        format!(
            "exactly {} workers' worth instead of {p}: does a worker fork again (a child that \
             does not exit after its work goes on forking)?",
            value / k
        )
    } else {
        "does the counter start at 0, and does each increment add exactly 1?".to_string()
    };
    (
        Verdict::Fail(Reason::MoreThanPossible {
            expected,
            got: value,
        }),
        format!(
            "{command} printed {value} in {run}: {extra} more than the {expected} increments \
             made. Lost updates make a counter smaller, never larger: {why}"
        ),
    )
}

/// Every run printed 0.
pub(super) fn always_zero(command: &str, runs: u32) -> (Verdict, String) {
    (
        Verdict::Fail(Reason::CounterNotShared { runs }),
        format!(
            "{command} printed 0 in all {runs} runs: the workers' increments never reach the \
             parent. That is not a race (racing workers still leave most updates): each worker \
             adds to its own copy. Put the counter in an anonymous MAP_SHARED mapping created \
             before fork (a plain variable, a Box or a MAP_PRIVATE page is copied at fork), and \
             wait for the workers before printing"
        ),
    )
}

/// "1 worker's worth", "3 workers' worth".
fn workers_worth(n: u128) -> String {
    if n == 1 {
        "1 worker's worth".to_string()
    } else {
        format!("{n} workers' worth")
    }
}

/// A one-worker run lost updates too: the parent printed before its worker finished.
pub(super) fn printed_early(
    command: &str,
    run: &str,
    value: u128,
    expected: u128,
    single: &str,
    single_value: u128,
) -> (Verdict, String) {
    (
        Verdict::Fail(Reason::PrintedEarly {
            lost: expected - value,
        }),
        format!(
            "{command} printed {value} in {run}, expected {expected}; and `{single}`, with one \
             worker and so nobody to race with, printed {single_value}: the parent prints \
             before its workers have finished. Wait for every worker (waitpid) before reading \
             the counter"
        ),
    )
}

/// A run lost updates, and one worker alone did not (`alone_clean`: one-worker runs printed
/// exactly `K`, so the parent does wait).
pub(super) fn lost_updates(
    mode: CounterMode,
    command: &str,
    (runs, run): (u32, &str),
    value: u128,
    condition: &RaceCondition,
    alone_clean: bool,
) -> (Verdict, String) {
    let expected = condition.workers as u128 * condition.increments as u128;
    let lost = expected - value;
    let k = condition.increments as u128;
    match mode {
        CounterMode::Racy => (
            Verdict::Pass,
            format!(
                "{command} lost {lost} of {expected} updates in {run}: the unsynchronised \
                 read-modify-write races, as the lecture shows"
            ),
        ),
        CounterMode::Safe => {
            let mut msg = format!(
                "{command} printed {value} in {run}, expected {expected}: {}",
                crate::probe::explain::updates_lost(lost)
            );
            if k > 0 && lost % k == 0 && alone_clean {
                msg.push_str(&format!(
                    ", exactly {}, while one worker alone prints K: each \
                     worker read the counter once, counted in a register and wrote its total at \
                     the end (what the optimiser makes of a plain `*p += 1` loop), so the \
                     workers overwrote each other's totals. Use an atomic fetch_add on the \
                     shared word, or a process-shared lock around each increment",
                    workers_worth(lost / k)
                ));
            } else if k > 0 && lost % k == 0 {
                msg.push_str(&format!(
                    ", exactly {}: did the parent print before every worker \
                     finished?",
                    workers_worth(lost / k)
                ));
            } else {
                msg.push_str(
                    ". The increments are not synchronised: between one process's load and its \
                     store another process wrote, and that update was overwritten. Use an \
                     atomic fetch_add on the shared word, or a process-shared lock held around \
                     the whole read-modify-write (a std::sync::Mutex created before fork is a \
                     copy per process and protects nothing)",
                );
            }
            (Verdict::Fail(Reason::LostUpdates { lost, runs }), msg)
        }
    }
}

/// The budget ran out without a lost update.
pub(super) fn end_of_budget(
    mode: CounterMode,
    command: &str,
    runs: u32,
    conditions: &str,
    detectable: f64,
    confidence: f64,
) -> (Verdict, String) {
    match mode {
        CounterMode::Safe => (
            Verdict::Pass,
            format!(
                "{command} printed exactly P*K in all {runs} runs{conditions}: a race showing in \
                 {:.1}% of runs or more would have been caught with {:.0}% confidence",
                100.0 * detectable,
                100.0 * confidence
            ),
        ),
        CounterMode::Racy => (
            Verdict::Fail(Reason::NoRaceObserved { runs }),
            format!(
                "{command} never lost an update in {runs} runs{conditions}. The lecture's demo \
                 must show the race: read the shared value with a volatile read, add 1, write \
                 it back with a volatile write (a plain `*p += 1` may be folded by the compiler \
                 into one instruction), and make K large enough that the workers overlap"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const C: RaceCondition = RaceCondition {
        workers: 4,
        increments: 1000,
        build: BuildFlavor::Release,
    };

    fn code(v: &Verdict) -> &'static str {
        match v {
            Verdict::Pass => "pass",
            Verdict::Fail(r) => r.code(),
        }
    }

    #[test]
    fn losses_of_whole_workers_are_recognised() {
        let (v, m) = lost_updates(CounterMode::Safe, "`c`", (7, "run 7"), 3000, &C, false);
        assert_eq!(code(&v), "lost_updates");
        assert!(
            m.contains("exactly 1 worker's worth: did the parent print"),
            "{m}"
        );
        let (_, m) = lost_updates(CounterMode::Safe, "`c`", (7, "run 7"), 1000, &C, true);
        assert!(
            m.contains("exactly 3 workers' worth, while one worker alone"),
            "{m}"
        );
        assert!(m.contains("counted in a register"), "{m}");
        let (_, m) = lost_updates(CounterMode::Safe, "`c`", (7, "run 7"), 3517, &C, true);
        assert!(
            m.contains("483 updates lost. The increments are not synchronised"),
            "{m}"
        );
        let (v, m) = lost_updates(CounterMode::Racy, "`c`", (2, "the 2nd run"), 3517, &C, true);
        assert_eq!(code(&v), "pass");
        assert!(m.contains("lost 483 of 4000 updates in the 2nd run"), "{m}");
        assert_eq!(
            [1, 2, 3, 4, 11, 12, 13, 21, 22, 103].map(ordinal),
            ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "103rd"]
        );
    }

    #[test]
    fn each_failure_class_has_its_own_reason() {
        let hang = broken_run(
            &Ending::TimedOut {
                after: Duration::from_secs(2),
            },
            "`c`",
            "run 1",
        );
        assert_eq!(code(&hang.0), "timeout");
        assert!(hang.1.contains("PTHREAD_PROCESS_SHARED"), "{}", hang.1);
        assert_eq!(
            code(&broken_run(&Ending::Signaled(11), "`c`", "run 1").0),
            "crash"
        );
        assert_eq!(
            code(&broken_run(&Ending::Exited(3), "`c`", "run 1").0),
            "exit_status"
        );
        let above = more_than_possible("`c`", "run 1", 4004, &C);
        assert_eq!(code(&above.0), "more_than_possible");
        assert!(
            above.1.contains("4 more than the 4000 increments"),
            "{}",
            above.1
        );
        assert!(above.1.contains("K+1 times (`0..=k`"), "{}", above.1);
        let forked = more_than_possible("`c`", "run 1", 15_000, &C);
        assert!(
            forked.1.contains("exactly 15 workers' worth instead of 4"),
            "{}",
            forked.1
        );
        let odd = more_than_possible("`c`", "run 1", 4001, &C);
        assert!(odd.1.contains("start at 0"), "{}", odd.1);
        let zero = always_zero("`c`", 3);
        assert_eq!(code(&zero.0), "counter_not_shared");
        assert!(zero.1.contains("MAP_SHARED"));
        let early = printed_early("`c`", "run 1", 1200, 4000, "counter safe 1 1000", 17);
        assert_eq!(code(&early.0), "printed_before_workers_finished");
        assert!(
            early.1.contains("nobody to race with, printed 17"),
            "{}",
            early.1
        );
    }

    #[test]
    fn runs_are_named_with_their_conditions_when_they_rotate() {
        let unopt = RaceCondition {
            build: BuildFlavor::Unoptimised,
            ..C
        };
        assert_eq!(run_label(3, &unopt, false), "the 3rd run");
        assert_eq!(run_label(3, &unopt, true), "the 3rd run (P=4, unoptimised)");
        assert_eq!(
            reproduce("counter safe 4 1000", &unopt),
            "`counter safe 4 1000` (unoptimised: `cargo run --bin counter -- safe 4 1000`)"
        );
        assert_eq!(
            reproduce("counter safe 4 1000", &C),
            "`counter safe 4 1000`"
        );
    }
}

//! What to try next after a failed test: one line, chosen by the failure's reason and filled in
//! with what the grader ran, so the student can reproduce it by hand (`labgrade run pool_sum --
//! 10 3`: built and run exactly as graded; a `cargo run` in the student's own folder may lack
//! the skeleton's Cargo.toml or its overflow checks). The probes' messages say what went wrong;
//! this says what to do.

use crate::probe::HangCause;
use crate::verdict::{Reason, TestResult, Verdict};

/// The next step for the student after `t` failed; `None` for a test that passed. `check` is
/// the `labgrade check …` command of this grading, whose folder and specs the suggested
/// `labgrade run` keeps.
pub(super) fn next_step(t: &TestResult, check: Option<&str>) -> Option<String> {
    let Verdict::Fail(reason) = &t.verdict else {
        return None;
    };
    let run = t.evidence.command().map(|c| labgrade_run(c, check));
    let run_it = |then: &str| match &run {
        Some(cmd) => format!("run `{cmd}` yourself{then}"),
        None => format!("run the program yourself{then}"),
    };
    Some(match reason {
        Reason::BuildFailed(e) => {
            let at = e.location();
            format!(
                "fix the first compiler error{} and build again with `{}`: later errors often \
                 go away with it",
                if at.is_empty() {
                    String::new()
                } else {
                    format!(" ({at})")
                },
                build_as_graded(t, check)
            )
        }
        Reason::BuildTimeout { .. } => format!(
            "build with `{}` yourself and see what takes so long",
            build_as_graded(t, check)
        ),
        Reason::MissingBinary { binary } => format!(
            "create src/bin/{binary}.rs with a `fn main()`: the {} tests run it",
            t.exercise
        ),
        Reason::Unusable => "put your programs in src/bin/pool_sum.rs and src/bin/counter.rs and \
                             run the check in the directory that holds src/"
            .to_string(),
        Reason::WrongOutput { expected, .. } => {
            run_it(&format!(": it should print {}", short(expected)))
        }
        // The cause the hang's processes showed, else the usual checks.
        Reason::Timeout { .. } => run_it(match t.evidence.hang().map(|h| h.cause) {
            Some(HangCause::WriteEndLeftOpen) => {
                ": the parent's read waits for every write end to close: close the parent's \
                 copy right after forking, and each worker's copies of the ends it does not use"
            }
            Some(HangCause::WorkerNeverFinishes) => {
                ": the parent waits for a worker that never ends: make every worker exit right \
                 after sending its result"
            }
            Some(HangCause::WaitBeforeRead) => {
                ": read every worker's pipe before waiting for that worker"
            }
            Some(HangCause::EndlessLoop) => {
                ": it never stops: check that every worker's loop reaches its bound"
            }
            _ => {
                ": if it hangs, check that the parent waits for every worker and that every \
                 pipe end nobody writes to is closed"
            }
        }),
        Reason::Crash { .. } => run_it(" with RUST_BACKTRACE=1 to see where it stops"),
        Reason::ExitStatus { .. } => run_it(" and look at its exit status with `echo $?`"),
        Reason::OutputLimit { .. } => {
            run_it(": print only the result, one line, no debugging output")
        }
        Reason::WrongWorkerCount { .. } => {
            "start exactly P workers with fork (or by spawning the program itself), one per \
             chunk, and let the parent only collect"
                .to_string()
        }
        Reason::ThreadsNotProcesses { .. } => {
            "replace the threads with processes: fork P workers and send each partial result \
             back through a pipe or shared memory"
                .to_string()
        }
        Reason::NoOverlap => "fork all workers first, then wait for them: waiting inside the \
                              fork loop runs them one after another"
            .to_string(),
        Reason::LeakedProcesses { .. } => {
            "call waitpid for every worker before the parent exits".to_string()
        }
        Reason::TooSlow => "time `pool_sum N 1` and `pool_sum N P` yourself with a large N: \
                            start every worker before waiting for any, give each its own chunk, \
                            and send back only the partial sums"
            .to_string(),
        Reason::Inconclusive => "nothing to fix for sure: the grader could not measure \
                                 precisely enough; run the check again on a quieter machine"
            .to_string(),
        Reason::LostUpdates { .. } => format!(
            "make each increment one atomic `fetch_add` on the shared word (or take a \
             process-shared lock), then {}",
            run_it(" several times")
        ),
        Reason::NoRaceObserved { .. } => format!(
            "do the increment as a volatile read, +1, volatile write, then {}",
            run_it(" several times: some runs must print less than P*K")
        ),
        Reason::CounterNotShared { .. } => format!(
            "put the counter in an anonymous MAP_SHARED mapping created before fork (a plain \
             variable or a MAP_PRIVATE page is copied into each worker), then {}",
            run_it("")
        ),
        Reason::PrintedEarly { .. } => format!(
            "waitpid every worker before reading the counter, then {}",
            run_it(": with one worker it must print K")
        ),
        Reason::UnreapedWorkers { .. } => {
            "call waitpid for every worker before the parent prints and exits".to_string()
        }
        Reason::MoreThanPossible { .. } => format!(
            "start the counter at 0 and add exactly 1 per increment, then {}",
            run_it("")
        ),
        Reason::NotRunAfterHangs => run_it(
            " with the smallest input first: it must print at once; if it hangs, close every \
             pipe end a process does not use (the parent's write ends before it reads) and \
             read each pipe before waiting for its worker",
        ),
        Reason::Unsupported { kind } => format!(
            "nothing to fix on your side: this labgrade cannot grade `{kind}` tests; ask the \
             course staff"
        ),
    })
}

/// The command that builds `t`'s exercise exactly as graded (the course's `Cargo.toml` and
/// profile, in the sandbox) and shows every compiler message: this grading's check, narrowed to
/// the exercise. A `cargo build` in the student's own folder may lack the skeleton's manifest.
fn build_as_graded(t: &TestResult, check: Option<&str>) -> String {
    format!(
        "{} --only {}",
        check.unwrap_or("labgrade check"),
        super::human::shell_quote(&t.exercise)
    )
}

/// `pool_sum 10 3` → `labgrade run pool_sum -- 10 3`; with `check` = `labgrade check DIR
/// --spec F`, → `labgrade run pool_sum DIR --spec F -- 10 3`.
pub(super) fn labgrade_run(command: &str, check: Option<&str>) -> String {
    let same = check
        .and_then(|c| c.strip_prefix("labgrade check"))
        .unwrap_or("");
    match command.split_once(' ') {
        Some((binary, args)) => format!("labgrade run {binary}{same} -- {args}"),
        None => format!("labgrade run {command}{same}"),
    }
}

/// A value short enough for one line.
fn short(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::junit::tests::sample;

    #[test]
    fn wrong_output_says_how_to_reproduce_it() {
        let result = sample();
        assert_eq!(next_step(&result.tests[0], None), None);
        assert_eq!(
            next_step(&result.tests[1], None).unwrap(),
            "run `labgrade run pool_sum -- 100 4` yourself: it should print 5050"
        );
        assert_eq!(
            next_step(&result.tests[1], Some("labgrade check alice --spec s.toml")).unwrap(),
            "run `labgrade run pool_sum alice --spec s.toml -- 100 4` yourself: it should \
             print 5050"
        );
    }

    #[test]
    fn build_failures_point_at_the_first_error() {
        assert_eq!(
            next_step(&sample().tests[2], None).unwrap(),
            "fix the first compiler error (src/bin/counter.rs:12:5) and build again with \
             `labgrade check --only counter`: later errors often go away with it"
        );
        // The same folder and specs as the check that failed; never a bare `cargo build`.
        let mut slow = sample().tests[2].clone();
        slow.verdict = Verdict::Fail(Reason::BuildTimeout {
            after: std::time::Duration::from_secs(240),
        });
        let step = next_step(&slow, Some("labgrade check alice --spec s.toml")).unwrap();
        assert_eq!(
            step,
            "build with `labgrade check alice --spec s.toml --only counter` yourself and see \
             what takes so long"
        );
        assert!(!step.contains("cargo"));
    }

    #[test]
    fn a_hang_s_next_step_follows_the_cause_its_processes_showed() {
        let mut t = sample().tests[1].clone();
        t.verdict = Verdict::Fail(Reason::Timeout {
            after: std::time::Duration::from_secs(2),
        });
        let hang = crate::probe::HangEvidence::new(
            std::time::Duration::from_millis(3),
            std::time::Duration::from_secs(2),
        );
        let step = |cause| {
            let mut t = t.clone();
            if t.evidence.run().is_none() {
                t.evidence = crate::verdict::Evidence::Output(Default::default());
            }
            t.evidence.run_mut().unwrap().hang = Some(hang.with_cause(cause));
            next_step(&t, None).unwrap()
        };
        let deadlock = step(HangCause::WriteEndLeftOpen);
        assert!(
            deadlock
                .starts_with("run `labgrade run pool_sum -- 100 4` yourself: the parent's read"),
            "{deadlock}"
        );
        assert!(deadlock.contains("close the parent's copy"), "{deadlock}");
        let sleeper = step(HangCause::WorkerNeverFinishes);
        assert!(sleeper.contains("make every worker exit"), "{sleeper}");
        assert!(!sleeper.contains("close"), "{sleeper}");
        assert!(step(HangCause::EndlessLoop).contains("loop reaches its bound"));
        assert!(step(HangCause::NotSeen).contains("if it hangs"));
    }

    #[test]
    fn every_reason_has_a_step() {
        let mut t = sample().tests[3].clone();
        let reasons = [
            Reason::Timeout {
                after: std::time::Duration::from_secs(1),
            },
            Reason::Crash { signal: 11 },
            Reason::LostUpdates { lost: 3, runs: 2 },
            Reason::NoRaceObserved { runs: 9 },
        ];
        for reason in reasons {
            t.verdict = Verdict::Fail(reason);
            let step = next_step(&t, None).unwrap();
            assert!(
                step.contains("labgrade run counter -- safe 4 1000"),
                "{step}"
            );
        }
        t.evidence = crate::verdict::Evidence::None;
        t.verdict = Verdict::Fail(Reason::Crash { signal: 11 });
        assert!(next_step(&t, None)
            .unwrap()
            .starts_with("run the program yourself"));
        assert_eq!(labgrade_run("counter", None), "labgrade run counter");
        assert_eq!(short(&"9".repeat(50)), format!("{}…", "9".repeat(40)));
    }
}

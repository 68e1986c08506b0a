//! The `processes` probe: the run must create the required worker *processes* (not threads),
//! have them alive at the same time, and leave none behind.
//!
//! It reads the sandbox's process audit: the namespace init's, or the ptrace tracer's on the
//! portable path (containers, unprivileged users). Where neither can run (macOS, ptrace
//! refused) the test cannot be decided: it says so in `inconclusive`, and counts as the spec's
//! `inconclusive` policy says (`fail` unless the spec says `pass`).

use crate::sandbox::{Audit, Ending, SpawnError};
use crate::spec::{InconclusivePolicy, ProcessesTest};
use crate::verdict::{signal_name, Evidence, ProcessesEvidence, Reason, RunEvidence, Verdict};

use super::{command_line, Finding, HangEvidence, Target};

pub(super) fn run(test: &ProcessesTest, target: Target<'_>) -> Result<Finding, SpawnError> {
    let command = command_line(target.binary, &test.args);
    let out = target.runner.run(&target.job(&test.args, test.timeout))?;
    let mut evidence = ProcessesEvidence {
        run: RunEvidence {
            command: Some(command.clone()),
            wall_ms: Some(out.wall.as_millis() as u64),
            cpu_ms: Some(out.cpu.as_millis() as u64),
            hang: HangEvidence::of(&out),
            ..RunEvidence::default()
        },
        processes: out.audit.clone().map(Into::into),
        inconclusive: None,
    };
    let ran_ok = match &out.ending {
        Ending::Exited(0) => Ok(()),
        Ending::Exited(code) => Err(format!("exited with status {code}")),
        Ending::Signaled(sig) => Err(format!("was killed by {}", signal_name(*sig))),
        Ending::TimedOut { after } => Err(format!(
            "did not finish within {:.1} s ({})",
            after.as_secs_f64(),
            HangEvidence::of(&out).map_or_else(String::new, |h| h.explain())
        )),
        Ending::OutputLimit { stream, .. } => Err(format!("wrote too much to {stream}")),
    };
    if let Err(why) = ran_ok {
        let reason = match out.ending {
            Ending::TimedOut { after } => Reason::Timeout { after },
            Ending::Signaled(signal) => Reason::Crash { signal },
            Ending::OutputLimit { stream, cap_bytes } => Reason::OutputLimit { stream, cap_bytes },
            Ending::Exited(got) => Reason::ExitStatus {
                expected: crate::spec::ExitExpectation::Success,
                got,
            },
        };
        return Ok(Finding {
            verdict: Verdict::Fail(reason),
            message: format!("`{command}` {why}: its processes cannot be judged"),
            evidence: Evidence::Processes(evidence),
        });
    }
    let Some(audit) = &out.audit else {
        let why = "no process audit can run on this machine: it needs the sandbox's PID \
                   namespace or ptrace (see `labgrade doctor`, row \"process audit\")";
        evidence.inconclusive = Some(why.to_string());
        let (verdict, counts) = match test.inconclusive {
            InconclusivePolicy::Pass => (Verdict::Pass, "counts as passed"),
            InconclusivePolicy::Fail => (Verdict::Fail(Reason::Inconclusive), "counts as failed"),
        };
        return Ok(Finding {
            verdict,
            message: format!(
                "not checked here: {why}; undecided, it {counts} as the spec says; a grader \
                 with the audit decides it"
            ),
            evidence: Evidence::Processes(evidence),
        });
    };
    let (verdict, message) = judge(test, &command, audit);
    Ok(Finding {
        verdict,
        message,
        evidence: Evidence::Processes(evidence),
    })
}

/// The verdict on an audit, most telling problem first.
fn judge(test: &ProcessesTest, command: &str, a: &Audit) -> (Verdict, String) {
    let workers = a.workers_created();
    let threads = a.threads_created();
    if workers == 0 && threads > 0 {
        return (
            Verdict::Fail(Reason::ThreadsNotProcesses { threads }),
            format!(
                "`{command}` used {threads} {} and no worker processes: the lab asks for \
                 processes (fork, or the program spawning itself), which share no memory",
                if threads == 1 { "thread" } else { "threads" }
            ),
        );
    }
    if workers != test.workers {
        let hint = match workers {
            0 => "the parent did all the work itself".to_string(),
            w if w > test.workers => format!(
                "{} more than the pool's size: does a worker fork again, or is the pool \
                 created twice?",
                w - test.workers
            ),
            _ => "some pool members were never started".to_string(),
        };
        // A leftover is a second, separate bug: said too, not hidden behind the count.
        let also = left_behind(command, a)
            .map(|(_, m)| format!(". Also: {m}"))
            .unwrap_or_default();
        return (
            Verdict::Fail(Reason::WrongWorkerCount {
                expected: test.workers,
                got: workers,
            }),
            format!(
                "`{command}` created {workers} worker {}, expected exactly {} (one per \
                 pool member): {hint}{also}",
                if workers == 1 { "process" } else { "processes" },
                test.workers
            ),
        );
    }
    if let Some(left) = left_behind(command, a) {
        return left;
    }
    if test.overlap && test.workers >= 2 && a.max_workers_alive < 2 {
        return (
            Verdict::Fail(Reason::NoOverlap),
            format!(
                "`{command}` never had two workers alive at once: each worker was waited for \
                 before the next was started (fork, wait, fork, wait…), so nothing ran in \
                 parallel. Start all workers first, then wait for them"
            ),
        );
    }
    (
        Verdict::Pass,
        format!(
            "`{command}` created {workers} worker processes, up to {} alive at once, none left \
             behind",
            a.max_workers_alive
        ),
    )
}

/// Workers the run did not wait for: still running when the main process exited (the sandbox
/// killed them), or ended but never reaped. Shared with the race probe.
pub(super) fn left_behind(command: &str, a: &Audit) -> Option<(Verdict, String)> {
    if a.leaked > 0 {
        let n = a.leaked;
        let (were, them) = if n == 1 {
            ("1 of its processes was".to_string(), "it")
        } else {
            (format!("{n} of its processes were"), "them")
        };
        let named = leftover_names(command, &a.leaked_commands);
        return Some((
            Verdict::Fail(Reason::LeakedProcesses { count: n }),
            format!(
                "`{command}` exited while {were} still running{named}; the grader stopped \
                 {them}. Wait for every worker with waitpid before exiting"
            ),
        ));
    }
    if a.unreaped > 0 {
        let n = a.unreaped;
        return Some((
            Verdict::Fail(Reason::UnreapedWorkers { count: n }),
            format!(
                "`{command}` never waited for {n} of its worker {}: {} finished, but stayed \
                 {} until the main process exited and the system reaped {}. Call waitpid for \
                 every worker: it is also how the parent knows they are done",
                "processes",
                if n == 1 { "it" } else { "they" },
                if n == 1 { "a zombie" } else { "zombies" },
                if n == 1 { "it" } else { "them" },
            ),
        ));
    }
    None
}

/// The leftover processes as the student knows them: the program's name and arguments (not
/// the grader's staging path), each distinct command once with its count; a leftover running
/// the program itself with the same arguments is a forked worker.
fn leftover_names(command: &str, leaked: &[String]) -> String {
    let mut names: Vec<(String, usize)> = Vec::new();
    for raw in leaked.iter().filter(|c| !c.is_empty()) {
        let (program, args) = raw.split_once(' ').unwrap_or((raw.as_str(), ""));
        let program = program.rsplit('/').next().unwrap_or(program);
        let name = if args.is_empty() {
            program.to_string()
        } else {
            format!("{program} {args}")
        };
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => names.push((name, 1)),
        }
    }
    if names.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = names
        .into_iter()
        .map(|(name, count)| {
            if name == command {
                if count == 1 {
                    "a forked worker".to_string()
                } else {
                    format!("{count} forked workers")
                }
            } else if count == 1 {
                format!("`{name}`")
            } else {
                format!("{count} × `{name}`")
            }
        })
        .collect();
    format!(" ({})", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn test(workers: u32) -> ProcessesTest {
        ProcessesTest {
            args: vec![],
            timeout: Duration::from_secs(5),
            workers,
            overlap: true,
            inconclusive: crate::spec::InconclusivePolicy::Fail,
        }
    }

    fn audit(processes: u32, threads: u32, max_workers: u32, leaked: u32) -> Audit {
        Audit {
            main_exit_code: Some(0),
            processes_seen: processes,
            threads_seen: threads,
            tasks_created: processes + threads,
            max_alive: max_workers + 1,
            max_workers_alive: max_workers,
            leaked,
            ..Audit::default()
        }
    }

    fn reason(v: Verdict) -> &'static str {
        match v {
            Verdict::Pass => "pass",
            Verdict::Fail(r) => r.code(),
        }
    }

    #[test]
    fn a_correct_pool_passes() {
        assert_eq!(reason(judge(&test(4), "p", &audit(5, 0, 4, 0)).0), "pass");
    }

    #[test]
    fn each_failure_class_is_named() {
        let (v, m) = judge(&test(4), "p", &audit(1, 4, 0, 0));
        assert_eq!(reason(v), "threads_not_processes");
        assert!(m.contains("4 threads and no worker processes"), "{m}");
        assert_eq!(
            reason(judge(&test(4), "p", &audit(1, 0, 0, 0)).0),
            "wrong_worker_count"
        );
        let (v, m) = judge(&test(4), "p", &audit(9, 0, 8, 0));
        assert_eq!(reason(v), "wrong_worker_count");
        assert!(m.contains("4 more than the pool's size"), "{m}");
        assert_eq!(
            reason(judge(&test(4), "p", &audit(5, 0, 1, 0)).0),
            "no_overlap"
        );
        assert_eq!(
            reason(judge(&test(4), "p", &audit(5, 0, 4, 2)).0),
            "leaked_processes"
        );
        let zombies = Audit {
            unreaped: 3,
            ..audit(5, 0, 4, 0)
        };
        let (v, m) = judge(&test(4), "p", &zombies);
        assert_eq!(reason(v), "unreaped_workers");
        assert!(m.contains("never waited for 3 of its worker"), "{m}");
    }

    #[test]
    fn leftovers_are_named_as_typed_counted_once_and_said_running_or_finished() {
        let leaky = Audit {
            leaked_commands: vec![
                "/tmp/labgrade-stage-1.2-x/labgrade-bin/pool_sum 10 4".into(),
                "/tmp/labgrade-stage-1.2-x/labgrade-bin/pool_sum 10 4".into(),
            ],
            ..audit(5, 0, 4, 2)
        };
        let (_, m) = judge(&test(4), "pool_sum 10 4", &leaky);
        assert_eq!(
            m,
            "`pool_sum 10 4` exited while 2 of its processes were still running (2 forked \
             workers); the grader stopped them. Wait for every worker with waitpid before exiting"
        );
        assert!(!m.contains("labgrade-stage"), "{m}");
        let one = Audit {
            leaked_commands: vec!["/x/labgrade-bin/helper --spin".into()],
            ..audit(5, 0, 4, 1)
        };
        let (_, m) = judge(&test(4), "pool_sum 10 4", &one);
        assert!(
            m.contains("while 1 of its processes was still running (`helper --spin`); the grader stopped it."),
            "{m}"
        );
        let zombie = Audit {
            unreaped: 1,
            ..audit(5, 0, 4, 0)
        };
        let (_, m) = judge(&test(4), "p", &zombie);
        assert!(
            m.contains("1 of its worker processes: it finished, but stayed a zombie"),
            "{m}"
        );
    }

    #[test]
    fn one_worker_needs_no_overlap() {
        assert_eq!(reason(judge(&test(1), "p", &audit(2, 0, 1, 0)).0), "pass");
    }
}

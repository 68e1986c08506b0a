//! The `processes` probe: the run must create the required worker *processes* (not threads),
//! have them alive at the same time, and leave none behind.
//!
//! It reads the sandbox's process audit: the namespace init's, or the ptrace tracer's on the
//! portable path (containers, unprivileged users). Where neither can run (macOS, ptrace
//! refused) the test cannot be decided: it says so in `inconclusive`, and counts as the spec's
//! `inconclusive` policy says (`fail` unless the spec says `pass`).

use crate::sandbox::{Audit, Ending, SpawnError};
use crate::spec::{InconclusivePolicy, ProcessesTest};
use crate::verdict::{signal_name, Evidence, Reason, Verdict};

use super::{command_line, Finding, HangEvidence, Target};

pub(super) fn run(test: &ProcessesTest, target: Target<'_>) -> Result<Finding, SpawnError> {
    let command = command_line(target.binary, &test.args);
    let out = target.runner.run(&target.job(&test.args, test.timeout))?;
    let mut evidence = Evidence {
        command: Some(command.clone()),
        wall_ms: Some(out.wall.as_millis() as u64),
        cpu_ms: Some(out.cpu.as_millis() as u64),
        processes: out.audit.clone().map(Into::into),
        hang: HangEvidence::of(&out),
        ..Evidence::default()
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
            evidence,
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
            evidence,
        });
    };
    let (verdict, message) = judge(test, &command, audit);
    Ok(Finding {
        verdict,
        message,
        evidence,
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
                "`{command}` used {threads} thread(s) and no worker processes: the lab asks for \
                 processes (fork, or the program spawning itself), which share no memory"
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
        return (
            Verdict::Fail(Reason::WrongWorkerCount {
                expected: test.workers,
                got: workers,
            }),
            format!(
                "`{command}` created {workers} worker process(es), expected exactly {} (one per \
                 pool member): {hint}",
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
        return Some((
            Verdict::Fail(Reason::LeakedProcesses { count: a.leaked }),
            format!(
                "`{command}` left {} process(es) running after it exited{}: wait for every \
                 worker with waitpid before exiting",
                a.leaked,
                if a.leaked_commands.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", a.leaked_commands.join("; "))
                }
            ),
        ));
    }
    if a.unreaped > 0 {
        return Some((
            Verdict::Fail(Reason::UnreapedWorkers { count: a.unreaped }),
            format!(
                "`{command}` never waited for {} of its worker process(es): they ended, but \
                 stayed zombies until the main process exited and the system reaped them. \
                 Call waitpid for every worker: it is also how the parent knows they are done",
                a.unreaped
            ),
        ));
    }
    None
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
        assert!(m.contains("4 thread(s) and no worker processes"), "{m}");
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
    fn one_worker_needs_no_overlap() {
        assert_eq!(reason(judge(&test(1), "p", &audit(2, 0, 1, 0)).0), "pass");
    }
}

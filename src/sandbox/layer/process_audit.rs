//! The process audit, the evidence of every `processes` test: the sandbox init's scans of its
//! PID namespace on the isolated path (`init.rs`, `audit.rs`), the grader's ptrace of the run
//! on the portable path (`trace.rs`), whose request to be traced is this layer's step.

use super::{Phase, Protection, Setup, Steps};
use crate::sandbox::layers::Layers;

pub(in crate::sandbox) struct ProcessAudit;

impl Protection for ProcessAudit {
    fn name(&self) -> &'static str {
        "process audit"
    }

    /// Which audit the runs of student programs get here.
    fn detect(&self, machine: &Layers) -> Result<String, String> {
        if machine.isolated() {
            return Ok(match &machine.accounting {
                Ok(()) => "PID namespace: the init scans /proc every 2 ms, and process \
                           accounting counts processes exactly"
                    .to_string(),
                Err(_) => "PID namespace: the init scans /proc every 2 ms and counts tasks \
                           exactly (no process accounting: a thread too short for the scans \
                           counts as a process)"
                    .to_string(),
            });
        }
        match &machine.ptrace {
            Ok(()) => Ok(
                "ptrace: the grader traces every fork, clone and exit of a run of \
                          student code: exact counts of processes and threads, leftovers \
                          killed by pid (about +1 ms a run)"
                    .to_string(),
            ),
            Err(why) => Err(format!(
                "none: no PID namespace, and no ptrace: {why}; `processes` tests are \
                 undecided and count as their spec says"
            )),
        }
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some(
            "no process audit: `processes` tests are undecided and count as their spec's \
             `inconclusive` says (the built-in spec: failed)",
        )
    }

    fn apply(&self, setup: &Setup, steps: &mut Steps) -> Result<(), String> {
        #[cfg(target_os = "linux")]
        if setup.trace {
            steps.add(Phase::Trace, crate::sandbox::trace::trace_me);
        }
        let _ = (setup, &steps);
        Ok(())
    }
}

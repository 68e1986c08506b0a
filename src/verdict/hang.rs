//! What a run that was stopped at its time limit was doing, and the words a student needs.
//!
//! A run that timed out either sat idle (blocked on a pipe's read, a `wait`, a sleep: its
//! process tree used almost no CPU) or kept the CPU busy (an endless loop). Both are hangs; the
//! CPU of the whole tree (the cgroup's, else the main process's and the workers it waited for)
//! tells them apart, whatever the load on the machine: a starved program is slow, but a
//! program that used a quarter of a core or less for the whole limit was waiting, not working.
//! This module only reads an [`Outcome`]; it never runs anything.

use std::time::Duration;

use serde::Serialize;

use crate::sandbox::{Ending, Outcome};

/// Below this share of one core, on average over the limit, a stopped run was waiting.
const BUSY_SHARE: f64 = 0.25;

/// Idle or busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HangKind {
    /// Blocked (a read, a `wait`, a sleep): almost no CPU used.
    Idle,
    /// Working without end: the CPU kept busy.
    Busy,
}

/// What a run stopped at its time limit was doing: the `hang` of a result's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HangEvidence {
    pub kind: HangKind,
    /// CPU time of the run's process tree, milliseconds.
    pub cpu_ms: u64,
    /// The limit it was stopped at, milliseconds.
    pub after_ms: u64,
}

impl HangEvidence {
    /// The hang of `out`, when it ran past its limit.
    pub fn of(out: &Outcome) -> Option<HangEvidence> {
        let Ending::TimedOut { after } = out.ending else {
            return None;
        };
        // The cgroup counts every process of the run; without one, only the main process and
        // the workers it waited for are counted (workers still running are not).
        let cpu = out
            .cgroup
            .as_ref()
            .and_then(|c| c.cpu)
            .unwrap_or_default()
            .max(out.cpu);
        Some(HangEvidence::new(cpu, after))
    }

    /// A hang with `cpu` used in `after`.
    pub fn new(cpu: Duration, after: Duration) -> HangEvidence {
        let busy = cpu.as_secs_f64() >= BUSY_SHARE * after.as_secs_f64();
        HangEvidence {
            kind: if busy { HangKind::Busy } else { HangKind::Idle },
            cpu_ms: cpu.as_millis() as u64,
            after_ms: after.as_millis() as u64,
        }
    }

    /// "it sat idle (3 ms of CPU in 2.0 s)" / "it kept the CPU busy (3.9 s of CPU in 2.0 s)".
    pub fn what_it_did(&self) -> String {
        let after = self.after_ms as f64 / 1000.0;
        match self.kind {
            HangKind::Idle => format!("it sat idle ({} ms of CPU in {after:.1} s)", self.cpu_ms),
            HangKind::Busy => format!(
                "it kept the CPU busy ({:.1} s of CPU in {after:.1} s)",
                self.cpu_ms as f64 / 1000.0
            ),
        }
    }

    /// What such a hang usually is in a Lab 10 program.
    pub fn usual_causes(&self) -> &'static str {
        match self.kind {
            HangKind::Idle => {
                "a hang is usually a pipe whose write end the parent never closed (its read \
                 never sees end-of-file), a `wait` for a worker before reading that worker's \
                 pipe, or a worker that never exits"
            }
            HangKind::Busy => {
                "an endless loop: does every worker's loop reach its bound, and does every \
                 worker exit after sending its result?"
            }
        }
    }

    /// Both, as one clause: "it sat idle (…): a hang is usually …".
    pub fn explain(&self) -> String {
        format!("{}: {}", self.what_it_did(), self.usual_causes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_waited_is_idle_and_one_that_worked_is_busy() {
        let s = Duration::from_secs;
        let idle = HangEvidence::new(Duration::from_millis(3), s(2));
        assert_eq!(idle.kind, HangKind::Idle);
        assert_eq!(idle.what_it_did(), "it sat idle (3 ms of CPU in 2.0 s)");
        assert!(idle.explain().contains("write end the parent never closed"));
        let busy = HangEvidence::new(Duration::from_millis(3900), s(2));
        assert_eq!(busy.kind, HangKind::Busy);
        assert_eq!(
            busy.what_it_did(),
            "it kept the CPU busy (3.9 s of CPU in 2.0 s)"
        );
        assert!(busy.explain().contains("endless loop"));
        // A busy loop on a machine shared with a CPU hog still gets well over a quarter core.
        assert_eq!(HangEvidence::new(s(1), s(2)).kind, HangKind::Busy);
        assert_eq!(
            HangEvidence::new(Duration::from_millis(400), s(2)).kind,
            HangKind::Idle
        );
    }
}

//! What a run that was stopped at its time limit was doing, and the words a student needs.
//!
//! A run that timed out either sat idle (blocked on a pipe's read, a `wait`, a sleep: its
//! process tree used almost no CPU) or kept the CPU busy (an endless loop). Both are hangs; the
//! CPU of the whole tree (the cgroup's, else the main process's and the workers it waited for)
//! tells them apart, whatever the load on the machine: a starved program is slow, but a
//! program that used a quarter of a core or less for the whole limit was waiting, not working.
//! Where the sandbox could see what each process was blocked on when time ran out, the one
//! likely cause is named ([`HangCause`]); elsewhere the usual causes are listed, saying so.
//! This module only reads an [`Outcome`]; it never runs anything.

use std::time::Duration;

use serde::Serialize;

use super::hang_cause::HangCause;
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
    /// What its processes were blocked on, when the sandbox could see them.
    pub cause: HangCause,
}

impl HangEvidence {
    /// The hang of `out`, when it ran past its limit.
    pub fn of(out: &Outcome) -> Option<HangEvidence> {
        let Ending::TimedOut { after } = out.ending else {
            return None;
        };
        // The cgroup counts every process of the run; without one, only the main process and
        // the workers it waited for are counted, and the snapshot adds those still running.
        let seen = out.at_timeout.as_ref().map_or(Duration::ZERO, |s| {
            s.others.iter().map(|p| p.cpu).sum::<Duration>() + s.main.cpu
        });
        let cpu = out
            .cgroup
            .as_ref()
            .and_then(|c| c.cpu)
            .unwrap_or_default()
            .max(out.cpu)
            .max(seen);
        Some(HangEvidence::new(cpu, after).with_cause(HangCause::of(out.at_timeout.as_ref())))
    }

    /// A hang with `cpu` used in `after`.
    pub fn new(cpu: Duration, after: Duration) -> HangEvidence {
        let busy = cpu.as_secs_f64() >= BUSY_SHARE * after.as_secs_f64();
        HangEvidence {
            kind: if busy { HangKind::Busy } else { HangKind::Idle },
            cpu_ms: cpu.as_millis() as u64,
            after_ms: after.as_millis() as u64,
            cause: HangCause::NotSeen,
        }
    }

    /// The same hang, with what its processes were seen blocked on.
    pub fn with_cause(self, cause: HangCause) -> HangEvidence {
        HangEvidence { cause, ..self }
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

    /// Both, as one clause: "it sat idle (…): the parent was blocked reading a pipe …", or,
    /// where no cause was seen, "it sat idle (…): a hang is usually …".
    pub fn explain(&self) -> String {
        match (self.cause.explain(), self.cause) {
            (Some(cause), _) => format!("{}: {cause}", self.what_it_did()),
            (None, HangCause::NotSeen) => format!(
                "{}: {} (the sandbox could not see what its processes were blocked on here)",
                self.what_it_did(),
                self.usual_causes()
            ),
            (None, _) => format!("{}: {}", self.what_it_did(), self.usual_causes()),
        }
    }

    /// For a summary: "it sat idle: a pipe's write end left open", "it sat idle".
    pub fn in_short(&self) -> String {
        let what = match self.kind {
            HangKind::Idle => "it sat idle",
            HangKind::Busy => "it kept the CPU busy",
        };
        match self.cause.short() {
            Some(cause) => format!("{what}: {cause}"),
            None => what.to_string(),
        }
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
        assert!(idle
            .explain()
            .ends_with("could not see what its processes were blocked on here)"));
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

#[cfg(test)]
mod cause_tests {
    use super::*;

    #[test]
    fn a_seen_cause_replaces_the_usual_guesses() {
        let idle = HangEvidence::new(Duration::from_millis(3), Duration::from_secs(2));
        let deadlock = idle.with_cause(HangCause::WriteEndLeftOpen).explain();
        let sleeper = idle.with_cause(HangCause::WorkerNeverFinishes).explain();
        assert!(
            deadlock.starts_with(
                "it sat idle (3 ms of CPU in 2.0 s): the parent was blocked reading a pipe"
            ),
            "{deadlock}"
        );
        assert!(
            !deadlock.contains("never finishes") && !deadlock.contains("usually"),
            "{deadlock}"
        );
        assert!(sleeper.contains("that worker never finishes"), "{sleeper}");
        assert!(
            !sleeper.contains("write end") && !sleeper.contains("usually"),
            "{sleeper}"
        );
        assert_ne!(deadlock, sleeper);
        // Seen but unusual: the guesses, without claiming nothing could be seen.
        let unclear = idle.with_cause(HangCause::Unclear).explain();
        assert!(unclear.contains("a hang is usually") && !unclear.contains("could not see"));
        assert_eq!(
            idle.with_cause(HangCause::WriteEndLeftOpen).in_short(),
            "it sat idle: a pipe's write end left open"
        );
        assert_eq!(idle.in_short(), "it sat idle");
    }
}

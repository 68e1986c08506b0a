//! The seam between the probes and the machine: a probe runs programs, reads the clock of its
//! time budget, sleeps, counts cores and reads the CPU pressure only through a [`Runner`] it is
//! handed in its [`Target`](super::Target).
//!
//! The grader hands every probe the [`SandboxRunner`] (the sandbox, the real clock, the real
//! machine). Tests hand them a scripted runner (`probe::scripted`, like hyperfine's
//! `MockExecutor`): chosen wall times, CPU times, outputs and audits, on a clock that advances by
//! the scripted wall times, so the speedup and race statistics are tested for decisive verdicts
//! on fixed data, instantly and without a process. This module must not judge anything.

use std::time::{Duration, Instant};

use crate::sandbox::{Job, Outcome, SpawnError};

/// What a probe asks of the machine.
pub trait Runner: Sync + std::fmt::Debug {
    /// Runs `job` to completion under its limits (the sandbox's [`run`](crate::sandbox::run)).
    fn run(&self, job: &Job) -> Result<Outcome, SpawnError>;

    /// The clock the probes' time budgets are measured on.
    fn now(&self) -> Instant;

    /// Waits `d` on that clock.
    fn sleep(&self, d: Duration);

    /// Cores this process may use.
    fn cores(&self) -> usize;

    /// The kernel's running total of time some task waited for a CPU (Linux PSI, `some
    /// total`), `None` where the kernel does not report it.
    fn cpu_waiting(&self) -> Option<Duration>;

    /// Time on [`Self::now`]'s clock since `since`.
    fn elapsed(&self, since: Instant) -> Duration {
        self.now().saturating_duration_since(since)
    }
}

/// The real machine: runs go to the sandbox, time is the system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxRunner;

impl Runner for SandboxRunner {
    fn run(&self, job: &Job) -> Result<Outcome, SpawnError> {
        crate::sandbox::run(job)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }

    fn cores(&self) -> usize {
        // Affinity and cgroup quota included, via std.
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    fn cpu_waiting(&self) -> Option<Duration> {
        let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
        let line = text.lines().find(|l| l.starts_with("some"))?;
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix("total="))
            .and_then(|v| v.parse().ok())
            .map(Duration::from_micros)
    }
}

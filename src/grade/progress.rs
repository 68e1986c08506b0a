//! What a grading is doing, as it does it: the [`Event`]s a [`Grader`](super::Grader) tells its
//! [`Progress`] observer (the phase it entered, ordinary tests done of all). The observer decides
//! what to show; the CLI draws a spinner on a terminal (`cli::progress`) and nothing elsewhere.
//!
//! Must not: print, or know about terminals; slow grading down (events are a few per test, and
//! an observer must return at once: the timing probes run while it is called).

use std::time::Duration;

/// One step of a grading, in the order a grading takes them: `Dependencies` (first grading with
/// a cache only), `Building`, `BuildingUnoptimised` (race probes that want it), `Tests` then one
/// `TestDone` per ordinary test, `BuildingReference` (speedup tests measured against the
/// reference, once per grader), then `Speedup` and `Race` per timing probe, `Finished`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// The course dependencies are fetched (the network, once) and compiled: the first
    /// grading with this build cache.
    Dependencies,
    /// The submission's programs are compiled.
    Building { binaries: &'a [&'a str] },
    /// The same programs compiled again unoptimised, for the race probes that rotate builds.
    BuildingUnoptimised { binaries: &'a [&'a str] },
    /// The ordinary tests (output, processes) start: `total` of them.
    Tests { total: usize },
    /// One more ordinary test finished: `done` of `total`.
    TestDone { done: usize, total: usize },
    /// The speedup tests' yardstick (the reference solution) is compiled.
    BuildingReference,
    /// A speedup test is timed, alone on the machine, for at most `budget`.
    Speedup {
        exercise: &'a str,
        name: &'a str,
        budget: Duration,
    },
    /// A race probe repeats the counter, alone on the machine, for at most `budget`.
    Race {
        exercise: &'a str,
        name: &'a str,
        budget: Duration,
    },
    /// The grading is over (its result is being assembled).
    Finished,
}

impl Event<'_> {
    /// The phase's one-word name (`dependencies`, `building`, `tests`, `speedup`, `race`…).
    pub fn phase(&self) -> &'static str {
        match self {
            Event::Dependencies => "dependencies",
            Event::Building { .. } => "building",
            Event::BuildingUnoptimised { .. } => "building-unoptimised",
            Event::Tests { .. } | Event::TestDone { .. } => "tests",
            Event::BuildingReference => "building-reference",
            Event::Speedup { .. } => "speedup",
            Event::Race { .. } => "race",
            Event::Finished => "finished",
        }
    }
}

/// Told of every [`Event`] of a grading, from the grading's threads (tests run in parallel).
pub trait Progress: Send + Sync {
    fn event(&self, event: Event<'_>);
}

/// Tells nobody: the default of every grader (batch, verify, the library).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_names_its_phase() {
        let both = [
            Event::Tests { total: 3 },
            Event::TestDone { done: 1, total: 3 },
        ];
        assert!(both.iter().all(|e| e.phase() == "tests"));
        let race = Event::Race {
            exercise: "counter",
            name: "race: safe",
            budget: Duration::from_secs(5),
        };
        assert_eq!(race.phase(), "race");
        assert_eq!(Event::Dependencies.phase(), "dependencies");
        Silent.event(race);
    }
}

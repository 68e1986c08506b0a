//! The grading pipeline tells its progress observer what it does, in order: building, the
//! ordinary tests n/N, timing the speedup, the race probes, the end (the events `grade` and
//! `check` draw on a terminal). The verdicts do not matter here, only the order of the phases.

mod common;

use std::sync::{Arc, Mutex};

use labgrade::build::BuildCache;
use labgrade::grade::progress::{Event, Progress};
use labgrade::grade::Grader;
use labgrade::stage::Skeleton;

/// Every event, as `phase` or `phase n/N` (`tests 3/4`), with the timing probes' budgets.
#[derive(Default)]
struct Recording(Mutex<Vec<String>>);

impl Progress for Recording {
    fn event(&self, event: Event<'_>) {
        let line = match event {
            Event::TestDone { done, total } => format!("tests {done}/{total}"),
            Event::Tests { total } => format!("tests 0/{total}"),
            Event::Speedup { name, budget, .. } | Event::Race { name, budget, .. } => {
                format!("{} {name} {}s", event.phase(), budget.as_secs())
            }
            Event::Building { binaries } => format!("building {}", binaries.join(",")),
            other => other.phase().to_string(),
        };
        self.0.lock().unwrap().push(line);
    }
}

/// One exercise of each kind of phase, with short budgets and an absolute speedup threshold
/// (no reference solution to build).
const SPEC: &str = r#"
lab = "progress"
title = "every phase of a grading"

[build]
timeout = "240s"

[defaults]
timeout = "5s"
points = 1.0

[[exercise]]
id = "pool-sum"
binary = "pool_sum"

[[exercise.test]]
kind = "output"
name = "n={n} p={p}"
matrix = { n = [10, 100], p = [1, 2] }
args = ["{n}", "{p}"]
stdout = { sum_to = "{n}" }

[[exercise.test]]
kind = "speedup"
name = "speedup: p=2"
n = 20000000
workers = 2
threshold = { absolute = 1.0 }
budget = "2s"
curve_up_to = 1
inconclusive = "pass"

[[exercise]]
id = "counter"
binary = "counter"

[[exercise.test]]
kind = "race"
name = "race: safe"
mode = "safe"
workers = 2
increments = 1000
budget = "1s"
max_runs = 3
"#;

#[test]
fn a_grading_tells_its_observer_each_phase_in_order() {
    // The library's sandbox needs the labgrade binary as its init (this harness is not it).
    // The only test of this file: no other thread reads the environment.
    std::env::set_var("LABGRADE_INIT", env!("CARGO_BIN_EXE_labgrade"));
    let spec = labgrade::spec::parse(SPEC, "progress.toml").expect("a valid spec");
    let cache = BuildCache::at(common::cache_dir(), Skeleton::builtin());
    let recording = Arc::new(Recording::default());
    let grader = Grader::new(spec, cache, 0, 2).with_progress(recording.clone());
    let result = grader
        .grade(&common::fixture("reference"), "reference")
        .expect("graded");
    assert_eq!(result.tests.len(), 2 + 4 + 1 + 1, "{:#?}", result.tests);

    let events = recording.0.lock().unwrap().clone();
    // A first grading with this cache fetches and compiles the dependencies first.
    let events: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .skip_while(|e| *e == "dependencies")
        .collect();
    let tests: Vec<&str> = events
        .iter()
        .copied()
        .filter(|e| e.starts_with("tests "))
        .collect();
    assert_eq!(tests.first(), Some(&"tests 0/4"), "{events:?}");
    assert_eq!(tests.last(), Some(&"tests 4/4"), "{events:?}");
    // The phases, each test's step folded into one.
    let mut phases: Vec<&str> = events
        .iter()
        .map(|e| if e.starts_with("tests ") { "tests" } else { e })
        .collect();
    phases.dedup();
    assert_eq!(
        phases,
        [
            "building counter,pool_sum",
            "tests",
            "speedup speedup: p=2 2s",
            "race race: safe 1s",
            "finished",
        ],
        "{events:?}"
    );
}

//! What `grade` and `check` show while they work: the grading's phase on one spinner line of
//! stderr (fetching and compiling the dependencies, building, tests n/N, timing the speedup for
//! at most its budget, race probes), cleared when the grading ends, on a terminal only. Like
//! `batch`'s bar (`crate::batch::progress`) it is drawn with indicatif.
//!
//! Must not: write a byte to a file, a pipe or a CI log unless asked (`--progress always`, which
//! off a terminal writes plain lines, no `\r` and no escapes); grade anything.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::grade::progress::{Event, Progress};
use crate::report::terminal::line as safe;

/// `--progress`: when to show what the grading is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(super) enum When {
    /// On a terminal, outside CI (`$CI` unset, empty, `0` or `false`).
    #[default]
    Auto,
    /// Always: a spinner on a terminal, plain lines elsewhere (a log that wants them).
    Always,
    /// Never.
    Never,
}

/// The observer `when` asks for here, if any.
pub(super) fn observer(when: When) -> Option<Arc<dyn Progress>> {
    let terminal = std::io::stderr().is_terminal();
    match when {
        When::Never => None,
        When::Auto if !terminal || on_ci() => None,
        _ if terminal => Some(Arc::new(Spinner::new())),
        _ => Some(Arc::new(Lines::default())),
    }
}

/// Whether `$CI` says this is a CI job (GitHub Actions, GitLab and most others set `CI=true`).
pub(super) fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// What the display says of `event`: `None` for the end.
pub(super) fn describe(event: &Event<'_>) -> Option<String> {
    let budget = |b: &Duration| format!("at most {} s", b.as_secs_f64().ceil() as u64);
    Some(match event {
        Event::Dependencies => {
            "fetching and compiling the course dependencies (first run only)".to_string()
        }
        Event::Building { binaries } => format!("building {}", safe(&binaries.join(", "))),
        Event::BuildingUnoptimised { binaries } => format!(
            "building {} unoptimised, for the race probes",
            safe(&binaries.join(", "))
        ),
        Event::Tests { total } => format!("tests 0/{total}"),
        Event::TestDone { done, total } => format!("tests {done}/{total}"),
        Event::BuildingReference => {
            "building the reference solution (the speedup yardstick)".into()
        }
        Event::Speedup {
            exercise,
            name,
            budget: b,
        } => format!(
            "timing the speedup: {}/{} ({})",
            safe(exercise),
            safe(name),
            budget(b)
        ),
        Event::Race {
            exercise,
            name,
            budget: b,
        } => format!(
            "race probe: {}/{} ({})",
            safe(exercise),
            safe(name),
            budget(b)
        ),
        Event::Finished => return None,
    })
}

/// One spinner line on a terminal: the phase, and how long it has lasted.
#[derive(Debug)]
struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        // No colors: the line must read the same under NO_COLOR and `--color never`.
        bar.set_style(
            ProgressStyle::with_template("{spinner} labgrade: {wide_msg} [{elapsed}]")
                .expect("a valid template"),
        );
        // Until the grading says more: it stages the submission first.
        bar.set_message("staging the submission");
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner { bar }
    }
}

impl Drop for Spinner {
    /// A grading that failed halfway leaves no spinner behind.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Spinner {
    fn event(&self, event: Event<'_>) {
        match describe(&event) {
            None => self.bar.finish_and_clear(),
            Some(text) => {
                // Each phase's clock starts at zero: the speedup's runs against its budget.
                if !matches!(event, Event::TestDone { .. }) {
                    self.bar.reset_elapsed();
                }
                self.bar.set_message(text);
            }
        }
    }
}

/// Plain lines, one per phase (and the last test), for `--progress always` off a terminal.
#[derive(Debug, Default)]
struct Lines {
    last: Mutex<Option<&'static str>>,
}

impl Progress for Lines {
    fn event(&self, event: Event<'_>) {
        let mut last = self.last.lock().expect("no panic under the lock");
        let new_phase = *last != Some(event.phase());
        *last = Some(event.phase());
        let tests_over = matches!(event, Event::TestDone { done, total } if done == total);
        if new_phase || tests_over {
            if let Some(text) = describe(&event) {
                eprintln!("labgrade: {text}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_reads_as_what_it_waits_for() {
        let said = |e: Event<'_>| describe(&e).unwrap();
        assert_eq!(
            said(Event::Dependencies),
            "fetching and compiling the course dependencies (first run only)"
        );
        assert_eq!(
            said(Event::Building {
                binaries: &["counter", "pool_sum"]
            }),
            "building counter, pool_sum"
        );
        assert_eq!(said(Event::TestDone { done: 3, total: 13 }), "tests 3/13");
        assert_eq!(
            said(Event::Speedup {
                exercise: "pool-sum",
                name: "speedup: p=2",
                budget: Duration::from_millis(13_500),
            }),
            "timing the speedup: pool-sum/speedup: p=2 (at most 14 s)"
        );
        // A course's test name is shown, never obeyed by the terminal.
        let race = said(Event::Race {
            exercise: "counter",
            name: "safe\x1b[2J",
            budget: Duration::from_secs(5),
        });
        assert!(!crate::report::terminal::has_raw_control(&race), "{race:?}");
        assert_eq!(describe(&Event::Finished), None);
    }
}

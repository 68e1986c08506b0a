//! Renders a batch's [`Event`]s on stderr: a progress bar with ETA and the submissions in
//! progress on a terminal, plain lines otherwise (logs, CI, tests). It never grades anything.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::gradebook::number;
use super::results::{Entry, Row};
use super::run::{Event, Progress};
use crate::report::terminal::line as safe;

/// One line per finished submission: `[3/30] alice: 7.5 / 10 (4.2 s)`.
#[derive(Debug, Default)]
pub struct Lines;

impl Progress for Lines {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Planned { total, kept } => {
                if let Some(line) = planned(total, kept) {
                    eprintln!("{line}");
                }
            }
            Event::Started { .. } => {}
            Event::Finished {
                done,
                total,
                row,
                elapsed,
            } => eprintln!("{}", finished(done, total, row, elapsed)),
        }
    }
}

/// The line for a finished submission; a late penalty is named
/// (`[3/30] alice: 6.75 / 10, 10% late penalty (4.2 s)`).
/// Names and reasons are escaped for the terminal ([`crate::report::terminal`]).
pub fn finished(done: usize, total: usize, row: &Row, elapsed: Duration) -> String {
    match &row.entry {
        Entry::Graded(r) => format!(
            "[{done}/{total}] {}: {} / {}{} ({:.1} s)",
            safe(&row.name),
            number(r.score),
            number(r.max_score),
            match &r.late {
                Some(l) if l.penalty_fraction > 0.0 => format!(
                    ", {} late penalty",
                    crate::deadline::percent(l.penalty_fraction)
                ),
                _ => String::new(),
            },
            elapsed.as_secs_f64()
        ),
        Entry::Error(why) => format!(
            "[{done}/{total}] {}: could not grade: {}",
            safe(&row.name),
            safe(why)
        ),
    }
}

/// The line before grading starts, when results are kept from an earlier run.
pub fn planned(total: usize, kept: usize) -> Option<String> {
    (kept > 0).then(|| {
        format!(
            "labgrade: {kept} of {} already graded with this spec and grader: kept; grading {}",
            crate::words::counted(total, "submission"),
            total - kept
        )
    })
}

/// A progress bar with ETA and the submissions being graded, for a terminal.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    running: Mutex<Vec<String>>,
}

impl Bar {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} [{elapsed_precise}, ETA {eta}] {wide_msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        Bar {
            bar,
            running: Mutex::new(Vec::new()),
        }
    }

    fn show_running(&self, running: &[String]) {
        self.bar
            .set_message(format!("grading {}", running.join(", ")));
    }
}

impl Drop for Bar {
    /// A batch with nothing left to grade never finishes the bar: clear it here.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Default for Bar {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Bar {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Planned { total, kept } => {
                self.bar.set_length(total as u64);
                // Kept results took no time: leave them out of the ETA's rate.
                self.bar.set_position(kept as u64);
                self.bar.reset_eta();
                if let Some(line) = planned(total, kept) {
                    self.bar.println(line);
                }
            }
            Event::Started { name } => {
                let mut running = self.running.lock().expect("no panic under the lock");
                running.push(safe(name));
                self.show_running(&running);
            }
            Event::Finished {
                done,
                total,
                row,
                elapsed,
            } => {
                let mut running = self.running.lock().expect("no panic under the lock");
                running.retain(|n| *n != safe(&row.name));
                self.show_running(&running);
                self.bar.println(finished(done, total, row, elapsed));
                self.bar.inc(1);
                if done == total {
                    self.bar.finish_and_clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_say_score_time_or_why() {
        let text = r#"{"submission":"alice","score":7.5,"max_score":10.0,"tests":[]}"#;
        let row = Row {
            name: "alice".into(),
            entry: Entry::Graded(Box::new(crate::batch::record::Record::parse(text).unwrap())),
        };
        assert_eq!(
            finished(3, 30, &row, Duration::from_millis(4200)),
            "[3/30] alice: 7.5 / 10 (4.2 s)"
        );
        let row = Row {
            name: "bob".into(),
            entry: Entry::Error("cargo vanished".into()),
        };
        assert_eq!(
            finished(4, 30, &row, Duration::ZERO),
            "[4/30] bob: could not grade: cargo vanished"
        );
        // A folder named to rewrite the TA's screen, and a reason quoting a student's file.
        let row = Row {
            name: "eve\x1b]52;c;cm0K\x07\u{9b}2J".into(),
            entry: Entry::Error("src/\x1b[2J.rs\r".into()),
        };
        let line = finished(5, 30, &row, Duration::ZERO);
        assert!(!crate::report::terminal::has_raw_control(&line), "{line:?}");
        assert_eq!(
            line,
            "[5/30] eve\\x1b]52;c;cm0K\\x07\\u{9b}2J: could not grade: src/\\x1b[2J.rs\\r"
        );
        assert_eq!(planned(5, 0), None);
    }
}

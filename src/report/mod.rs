//! Reports: one file per output format. Reporters render a [`GradeResult`] into a string; they
//! never run anything, never decide a verdict and never touch files or the environment (the
//! CLI writes what they return).
//!
//! Who reads a format decides what it shows. Student-facing output (`human` in the student's
//! check, `github`, Gradescope's visible fields) leaves out tests the spec marks hidden; staff
//! formats (`json`, `junit`, `csv`, `html`, `human` for `grade`) keep them, marked.

mod advice;
mod csv;
mod github;
mod gradescope;
pub(crate) mod html;
mod human;
mod json;
mod junit;
mod late;
pub(crate) mod markup;
pub(crate) mod plot;
pub mod terminal;

pub use csv::{csv_field, spreadsheet_field};
pub use human::shell_quote;
pub use json::{to_json, to_json_with, JsonLate, JsonResult};

use crate::deadline::Countdown;
use crate::verdict::GradeResult;

/// The formats of `labgrade grade --format` and `--report FORMAT=PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Colored text for people (honours NO_COLOR and non-terminals).
    Human,
    /// The JSON result of CONTRACT §3.
    Json,
    /// JUnit XML for CI test panels (GitHub, GitLab, Jenkins): one suite per exercise.
    Junit,
    /// Gradescope's `results.json`, for a course's `run_autograder` script.
    Gradescope,
    /// GitHub Actions annotations (`::error file=…`); the job summary goes to
    /// `$GITHUB_STEP_SUMMARY` when it is set.
    Github,
    /// One CSV row per test, for spreadsheets.
    Csv,
    /// A self-contained HTML page with plots.
    Html,
}

/// Who a report is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Audience {
    /// Course staff (`labgrade grade`): every test, hidden ones marked, timings.
    #[default]
    Staff,
    /// The student (`labgrade check`): hidden tests left out, failures first with what to try
    /// next and how to re-run them, quiet when everything passes, no timings.
    Student,
}

/// Hidden tests the student's check did not run, so it can say that more is graded later.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Withheld {
    pub tests: usize,
    pub points: f64,
}

/// What a report shows beyond the result itself. The CLI fills it in.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub audience: Audience,
    /// List passing tests one by one in the human report (otherwise they are counted).
    pub verbose: bool,
    /// The command that grades again (`labgrade check`); reports show how to re-run one test:
    /// `labgrade run BINARY -- ARGS` for a single run, else this with
    /// `--only '<exercise>/<name>'` appended. None: not shown.
    pub rerun: Option<String>,
    /// The deadline countdown of the student's check.
    pub deadline: Option<Countdown>,
    /// Hidden tests left out of this grading (the student's check).
    pub withheld: Withheld,
    /// The submission's directory relative to the repository root, with a trailing `/`
    /// (`lab10/`), or empty: GitHub annotations name files from the repository root.
    pub source_prefix: String,
    /// What the spec's late policy made of this submission (`grade` and `batch` with a
    /// `[deadline]`): `json`, `gradescope`, `html` and the staff's `human` report apply and
    /// show it. `None`: no deadline, or the student's check (which shows the countdown).
    pub late: Option<crate::deadline::Late>,
    /// The relative address of the batch's overview page (`index.html`), for an HTML page
    /// written by `batch` to link back to. `None`: a page of its own.
    pub index: Option<String>,
}

/// Renders `result` in `format`.
pub fn render(result: &GradeResult, format: Format, opts: &ReportOptions) -> String {
    match format {
        Format::Human => human::render(result, opts),
        Format::Json => {
            let json = to_json_with(result, opts.late.as_ref());
            let mut text = serde_json::to_string_pretty(&json).expect("plain data");
            text.push('\n');
            text
        }
        Format::Junit => junit::render(result),
        Format::Gradescope => gradescope::render(result, opts.late.as_ref()),
        Format::Github => github::annotations(result, opts),
        Format::Csv => csv::render(result),
        Format::Html => html::render(result, opts),
    }
}

/// The markdown job summary that goes with the `github` format, for the file named by
/// `$GITHUB_STEP_SUMMARY`. Hidden tests are left out.
pub fn github_summary(result: &GradeResult) -> String {
    github::summary(result)
}

pub(crate) use crate::points::text as points;

/// (score, max score, tests passed) of `tests`.
pub(crate) fn totals(tests: &[&crate::verdict::TestResult]) -> (f64, f64, usize) {
    (
        tests.iter().map(|t| t.score()).sum(),
        tests.iter().map(|t| t.max_score).sum(),
        tests.iter().filter(|t| t.verdict.passed()).count(),
    )
}

/// Exercise ids in order of first appearance.
pub(crate) fn exercises<'a>(tests: &[&'a crate::verdict::TestResult]) -> Vec<&'a str> {
    let mut ids: Vec<&str> = Vec::new();
    for t in tests {
        if !ids.contains(&t.exercise.as_str()) {
            ids.push(&t.exercise);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_printed_without_float_noise() {
        assert_eq!(points(7.5), "7.5");
        assert_eq!(points(10.0), "10");
        assert_eq!(points(0.1 + 0.2), "0.3");
        assert_eq!(points(0.25), "0.25");
    }

    #[test]
    fn every_format_renders_the_sample() {
        let sample = junit::tests::sample();
        for format in <Format as clap::ValueEnum>::value_variants() {
            let text = render(&sample, *format, &ReportOptions::default());
            assert!(
                text.contains("alice") || *format == Format::Github,
                "{format:?}"
            );
            assert!(
                text.ends_with('\n') || *format == Format::Html,
                "{format:?}"
            );
        }
    }
}

//! Reports: one file per output format. Reporters render a [`GradeResult`]; they never run
//! anything and never decide a verdict.

mod csv;
mod gradescope;
mod html;
mod human;
mod json;
mod junit;
mod markup;
mod plot;

pub use csv::csv_field;
pub use human::HumanOptions;
pub use json::{to_json, JsonResult};

use crate::verdict::GradeResult;

/// The formats of `labgrade grade --format`.
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
    /// One CSV row per test, for spreadsheets.
    Csv,
    /// A self-contained HTML page with plots.
    Html,
}

/// Renders `result` in `format`.
pub fn render(result: &GradeResult, format: Format, human: &HumanOptions) -> String {
    match format {
        Format::Human => human::render(result, human),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&to_json(result)).expect("plain data");
            text.push('\n');
            text
        }
        Format::Junit => junit::render(result),
        Format::Gradescope => gradescope::render(result),
        Format::Csv => csv::render(result),
        Format::Html => html::render(result),
    }
}

/// Points without float noise (`0.30000000000000004` → `0.3`, `10.0` → `10`).
fn points(x: f64) -> String {
    ((x * 1e6).round() / 1e6).to_string()
}

//! The colored terminal report: grouped by exercise, failures with their teaching message.

use std::fmt::Write;

use colored::Colorize;

use crate::verdict::{GradeResult, TestResult};

/// What the human report shows.
#[derive(Debug, Clone, Default)]
pub struct HumanOptions {
    /// List passing tests one by one (otherwise they are counted).
    pub verbose: bool,
    /// Leave out tests the spec marks hidden (the student's `check`).
    pub hide_hidden: bool,
}

pub(super) fn render(result: &GradeResult, opts: &HumanOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} against {}",
        "Grading".bold(),
        result.submission.bold(),
        result.lab
    );
    let missing: Vec<&str> = result
        .sandbox
        .iter()
        .filter(|l| !l.active)
        .map(|l| l.name)
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "  {} sandbox layers missing here: {} (see `labgrade doctor`)",
            "note:".yellow().bold(),
            missing.join(", ")
        );
    }
    for w in &result.warnings {
        let _ = writeln!(out, "  {} {w}", "warning:".yellow().bold());
    }
    let shown: Vec<&TestResult> = result
        .tests
        .iter()
        .filter(|t| !(opts.hide_hidden && t.hidden))
        .collect();
    let mut exercises: Vec<&str> = Vec::new();
    for t in &shown {
        if !exercises.contains(&t.exercise.as_str()) {
            exercises.push(&t.exercise);
        }
    }
    for ex in exercises {
        let tests: Vec<&&TestResult> = shown.iter().filter(|t| t.exercise == ex).collect();
        let score: f64 = tests.iter().map(|t| t.score()).sum();
        let max: f64 = tests.iter().map(|t| t.max_score).sum();
        let passed = tests.iter().filter(|t| t.verdict.passed()).count();
        let _ = writeln!(
            out,
            "\n{} {}  {}/{} tests passed, {} / {} points",
            "■".cyan(),
            ex.bold(),
            passed,
            tests.len(),
            fmt_points(score),
            fmt_points(max)
        );
        for t in tests.iter().filter(|t| !t.verdict.passed()) {
            let _ = writeln!(
                out,
                "  {} {:<9} {}  {}",
                "FAIL".red().bold(),
                t.kind,
                t.name,
                format!("0/{}", fmt_points(t.max_score)).dimmed()
            );
            let _ = writeln!(out, "       {}", t.message);
            if t.kind == "build" {
                if let Some(rendered) = &t.evidence.stderr {
                    for line in rendered.lines() {
                        let _ = writeln!(out, "       {}", line.dimmed());
                    }
                }
            }
        }
        for t in tests.iter().filter(|t| t.verdict.passed()) {
            if opts.verbose {
                let _ = writeln!(out, "  {} {:<9} {}", "PASS".green(), t.kind, t.name);
            }
        }
    }
    let (score, max) = (result.score(), result.max_score());
    let summary = format!("Score: {} / {}", fmt_points(score), fmt_points(max));
    let _ = writeln!(
        out,
        "\n{}  ({:.1} s, build {:.1} s)",
        if result.all_passed() {
            summary.green().bold()
        } else {
            summary.yellow().bold()
        },
        result.total_time.as_secs_f64(),
        result.build_time.as_secs_f64()
    );
    out
}

fn fmt_points(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_printed_without_float_noise() {
        assert_eq!(fmt_points(7.5), "7.5");
        assert_eq!(fmt_points(10.0), "10");
        assert_eq!(fmt_points(0.1 + 0.2), "0.3");
    }
}

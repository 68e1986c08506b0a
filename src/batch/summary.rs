//! `summary.md`: what a TA reads after a batch: the score histogram, the pass rate of every
//! test, the submissions that hit a limit, those that could not be graded, and the slowest.
//!
//! Pure functions of the result records; the statistics are unit-tested on plain numbers.

use std::fmt::Write;

use super::gradebook::number;
use super::record::Record;
use super::results::{Entry, Row};

/// Failure reasons that mean a submission ran into one of the grader's limits.
const LIMIT_REASONS: [&str; 4] = ["timeout", "output_limit", "crash", "build_timeout"];
/// Bars of the histogram.
const BINS: usize = 10;
/// Rows of the slowest-submissions table.
const SLOWEST: usize = 5;

/// The summary's Markdown text.
pub fn render(rows: &[Row]) -> String {
    let graded: Vec<&Record> = rows
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Graded(r) => Some(r.as_ref()),
            Entry::Error(_) => None,
        })
        .collect();
    let mut md = String::from("# Batch summary\n\n");
    let _ = writeln!(
        md,
        "{} submission(s): {} graded, {} could not be graded.\n",
        rows.len(),
        graded.len(),
        rows.len() - graded.len()
    );
    scores(&mut md, &graded);
    pass_rates(&mut md, &graded);
    limits(&mut md, &graded);
    errors(&mut md, rows);
    slowest(&mut md, &graded);
    md
}

fn scores(md: &mut String, graded: &[&Record]) {
    let max = graded.iter().map(|r| r.max_score).fold(0.0, f64::max);
    let scores: Vec<f64> = graded.iter().map(|r| r.score).collect();
    md.push_str("## Scores\n\n");
    if scores.is_empty() {
        md.push_str("No graded submission.\n\n");
        return;
    }
    let _ = writeln!(
        md,
        "Mean {} / {}, median {}, full marks: {}.\n",
        number(mean(&scores)),
        number(max),
        number(median(&scores)),
        scores.iter().filter(|&&s| number(s) == number(max)).count()
    );
    md.push_str("| score | submissions | |\n|---|---:|---|\n");
    let counts = histogram(&scores, max, BINS);
    let width = max / counts.len() as f64;
    for (i, n) in counts.iter().enumerate() {
        let (lo, hi) = (i as f64 * width, (i + 1) as f64 * width);
        let range = if counts.len() == 1 {
            number(max)
        } else if i + 1 == counts.len() {
            format!("{} – {}", number(lo), number(hi))
        } else {
            format!("{} – <{}", number(lo), number(hi))
        };
        let _ = writeln!(md, "| {range} | {n} | {} |", "█".repeat(*n));
    }
    md.push('\n');
}

fn pass_rates(md: &mut String, graded: &[&Record]) {
    md.push_str("## Pass rate of every test\n\n");
    let mut tests: Vec<(&str, &str, &str, usize, usize)> = Vec::new();
    for r in graded {
        for t in &r.tests {
            let i = match tests
                .iter()
                .position(|x| x.0 == t.exercise && x.2 == t.name)
            {
                Some(i) => i,
                None => {
                    tests.push((&t.exercise, &t.kind, &t.name, 0, 0));
                    tests.len() - 1
                }
            };
            tests[i].3 += usize::from(t.passed());
            tests[i].4 += 1;
        }
    }
    md.push_str("| exercise | kind | test | passed | rate |\n|---|---|---|---:|---:|\n");
    for (exercise, kind, name, passed, total) in tests {
        let _ = writeln!(
            md,
            "| {exercise} | {kind} | {} | {passed} / {total} | {:.0}% |",
            cell(name),
            100.0 * passed as f64 / total as f64
        );
    }
    md.push('\n');
}

fn limits(md: &mut String, graded: &[&Record]) {
    md.push_str("## Submissions that hit a limit\n\n");
    let mut any = false;
    for r in graded {
        let hits: Vec<String> = r
            .tests
            .iter()
            .filter_map(|t| {
                let reason = t.reason.as_deref()?;
                LIMIT_REASONS
                    .contains(&reason)
                    .then(|| format!("{} / {}: {reason}", t.exercise, t.name))
            })
            .collect();
        if !hits.is_empty() {
            any = true;
            let _ = writeln!(md, "- **{}**: {}", cell(&r.submission), hits.join("; "));
        }
    }
    if !any {
        md.push_str("None.\n");
    }
    md.push('\n');
}

fn errors(md: &mut String, rows: &[Row]) {
    let failed: Vec<(&str, &str)> = rows
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Error(why) => Some((r.name.as_str(), why.as_str())),
            Entry::Graded(_) => None,
        })
        .collect();
    if failed.is_empty() {
        return;
    }
    md.push_str("## Could not be graded\n\n");
    for (name, why) in failed {
        let _ = writeln!(md, "- **{}**: {}", cell(name), cell(why));
    }
    md.push('\n');
}

fn slowest(md: &mut String, graded: &[&Record]) {
    md.push_str("## Slowest submissions\n\n| submission | grading time |\n|---|---:|\n");
    let mut by_time: Vec<&&Record> = graded.iter().collect();
    by_time.sort_by(|a, b| {
        b.total_ms
            .cmp(&a.total_ms)
            .then(a.submission.cmp(&b.submission))
    });
    for r in by_time.into_iter().take(SLOWEST) {
        let _ = writeln!(
            md,
            "| {} | {:.1} s |",
            cell(&r.submission),
            r.total_ms as f64 / 1000.0
        );
    }
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// How many scores fall in each of `bins` equal ranges of `0..=max` (the last one closed).
pub fn histogram(scores: &[f64], max: f64, bins: usize) -> Vec<usize> {
    if max <= 0.0 {
        return vec![scores.len()];
    }
    let mut counts = vec![0; bins];
    for &s in scores {
        let i = ((s / max) * bins as f64).floor();
        counts[(i.max(0.0) as usize).min(bins - 1)] += 1;
    }
    counts
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 0 {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::RecordTest;

    #[test]
    fn histogram_puts_full_marks_in_the_last_bin() {
        assert_eq!(
            histogram(&[0.0, 0.9, 1.0, 5.0, 9.99, 10.0], 10.0, 10),
            [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]
        );
        assert_eq!(histogram(&[0.0, 0.0], 0.0, 10), [2]);
    }

    #[test]
    fn mean_and_median() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
        assert_eq!(median(&[6.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    fn record(name: &str, ms: u64, tests: &[(&str, Option<&str>)]) -> Row {
        let tests: Vec<RecordTest> = tests
            .iter()
            .map(|&(test, reason)| RecordTest {
                exercise: "pool-sum".into(),
                kind: "output".into(),
                name: test.into(),
                status: if reason.is_none() { "pass" } else { "fail" }.into(),
                score: if reason.is_none() { 1.0 } else { 0.0 },
                max_score: 1.0,
                reason: reason.map(str::to_string),
            })
            .collect();
        Row {
            name: name.into(),
            entry: Entry::Graded(Box::new(Record {
                submission: name.into(),
                score: tests.iter().map(|t| t.score).sum(),
                max_score: 2.0,
                tests,
                total_ms: ms,
                key: None,
                key_parts: None,
                previous: None,
            })),
        }
    }

    #[test]
    fn summary_names_limits_errors_pass_rates_and_the_slowest() {
        let rows = vec![
            record("alice", 1500, &[("a", None), ("b", None)]),
            record("bob", 9000, &[("a", Some("timeout")), ("b", None)]),
            record("carol", 100, &[("a", Some("wrong_output")), ("b", None)]),
            Row {
                name: "dave".into(),
                entry: Entry::Error("cargo vanished".into()),
            },
        ];
        let md = render(&rows);
        assert!(
            md.contains("4 submission(s): 3 graded, 1 could not be graded"),
            "{md}"
        );
        assert!(
            md.contains("| pool-sum | output | a | 1 / 3 | 33% |"),
            "{md}"
        );
        assert!(
            md.contains("| pool-sum | output | b | 3 / 3 | 100% |"),
            "{md}"
        );
        assert!(md.contains("- **bob**: pool-sum / a: timeout"), "{md}");
        assert!(!md.contains("**carol**"), "{md}");
        assert!(md.contains("- **dave**: cargo vanished"), "{md}");
        let slow = md.split("## Slowest").nth(1).unwrap();
        assert!(
            slow.find("bob").unwrap() < slow.find("alice").unwrap(),
            "{md}"
        );
        assert!(
            md.contains("Mean 1.333333 / 2, median 1, full marks: 1."),
            "{md}"
        );
    }
}

//! `summary.md`: what a TA reads after a batch: the score histogram, the pass rate of every
//! test, what the class got wrong ([`super::analytics`]), what a regrade changed
//! ([`super::changes`]), the submissions that hit a limit, the late ones (with a deadline), those that could
//! not be graded, and the slowest.
//!
//! Pure functions of the result records; the statistics are unit-tested on plain numbers.

use std::fmt::Write;

use super::gradebook::number;
use super::record::Record;
use super::results::{Entry, Row};
use crate::verdict::Phases;

/// Failure reasons that mean a submission ran into one of the grader's limits.
const LIMIT_REASONS: [&str; 4] = ["timeout", "output_limit", "crash", "build_timeout"];
/// Bars of the histogram.
pub const BINS: usize = 10;
/// Rows of the slowest-submissions table.
const SLOWEST: usize = 5;

/// The summary's Markdown text.
pub fn render(rows: &[Row]) -> String {
    let graded: Vec<&Record> = super::results::graded(rows);
    let mut md = String::from("# Batch summary\n\n");
    let _ = writeln!(
        md,
        "{}: {} graded, {} could not be graded.\n",
        crate::words::counted(rows.len(), "submission"),
        graded.len(),
        rows.len() - graded.len()
    );
    collection(&mut md, &graded, rows);
    scores(&mut md, &graded);
    pass_rates(&mut md, &graded);
    super::analytics::markdown(&mut md, &graded);
    super::changes::markdown(&mut md, rows);
    limits(&mut md, &graded);
    late(&mut md, &graded);
    errors(&mut md, rows);
    slowest(&mut md, &graded);
    phases(&mut md, &graded);
    md
}

/// The phases summed over the submissions that recorded them, and how many did.
pub fn phase_totals(graded: &[&Record]) -> (Phases, usize) {
    let mut sum = Phases::default();
    let mut n = 0;
    for p in graded.iter().filter_map(|r| r.phases) {
        sum.build_ms += p.build_ms;
        sum.tests_ms += p.tests_ms;
        sum.lane_wait_ms += p.lane_wait_ms;
        sum.lane_hold_ms += p.lane_hold_ms;
        n += 1;
    }
    (sum, n)
}

/// The phases' names and totals, in the order a grading goes through them.
fn phase_rows(p: &Phases) -> [(&'static str, u64); 4] {
    [
        ("build", p.build_ms),
        ("tests", p.tests_ms),
        ("waiting for the timing lane", p.lane_wait_ms),
        ("holding the timing lane", p.lane_hold_ms),
    ]
}

/// The terminal's end-of-batch line: `None` when no result recorded its phases.
pub fn phase_line(graded: &[&Record]) -> Option<String> {
    let (sum, n) = phase_totals(graded);
    if n == 0 {
        return None;
    }
    let parts: Vec<String> = phase_rows(&sum)
        .iter()
        .map(|(name, ms)| format!("{name} {:.1} s", *ms as f64 / 1000.0))
        .collect();
    Some(format!(
        "time over {n} grading{}: {}",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    ))
}

/// Where the time went, per phase, summed over the submissions (each one's phases are wall
/// time; submissions graded side by side add up to more than the batch's wall time).
fn phases(md: &mut String, graded: &[&Record]) {
    let (sum, n) = phase_totals(graded);
    if n == 0 {
        return;
    }
    md.push_str("\n## Where the time went\n\n");
    let _ = writeln!(
        md,
        "Summed over {n} grading(s); gradings run side by side add up to more than the \
         batch's wall time.\n"
    );
    md.push_str("| phase | total | per submission | share |\n|---|---:|---:|---:|\n");
    let rows = phase_rows(&sum);
    let all: u64 = rows.iter().map(|(_, ms)| ms).sum();
    for (name, ms) in rows {
        let share = if all == 0 {
            0.0
        } else {
            100.0 * ms as f64 / all as f64
        };
        let _ = writeln!(
            md,
            "| {name} | {:.1} s | {:.1} s | {share:.0}% |",
            ms as f64 / 1000.0,
            ms as f64 / 1000.0 / n as f64
        );
    }
}

/// Which export the submissions came from, and students found in more than one submission.
fn collection(md: &mut String, graded: &[&Record], rows: &[Row]) {
    let mut kinds: Vec<&str> = graded
        .iter()
        .filter_map(|r| r.collection.as_ref().map(|c| c.kind.as_str()))
        .collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "Collection: {} (identities in gradebook.csv; one row per student in students.csv).\n",
        kinds.join(", ")
    );
    let dups = super::gradebook::duplicates(rows);
    if !dups.is_empty() {
        md.push_str("## Students in more than one submission\n\nThe one handed in last counts in students.csv.\n\n");
        for (who, kept, others) in dups {
            let _ = writeln!(
                md,
                "- {}: kept {}, not {}",
                cell(&who),
                cell(&kept),
                cell(&others.join(", "))
            );
        }
        md.push('\n');
    }
}

fn scores(md: &mut String, graded: &[&Record]) {
    let (scores, max) = scores_and_max(graded);
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
    for (n, range) in counts.iter().zip(bin_labels(counts.len(), max)) {
        let _ = writeln!(md, "| {range} | {n} | {} |", "█".repeat(*n));
    }
    md.push('\n');
}

/// The scores of graded submissions and the largest maximum, for the histogram.
pub fn scores_and_max(graded: &[&Record]) -> (Vec<f64>, f64) {
    let max = graded.iter().map(|r| r.max_score).fold(0.0, f64::max);
    (graded.iter().map(|r| r.score).collect(), max)
}

/// The ranges of a [`histogram`] of `bins` bins up to `max`: `0 – <2`, …, `18 – 20`.
pub fn bin_labels(bins: usize, max: f64) -> Vec<String> {
    if bins == 1 {
        return vec![number(max)];
    }
    let width = max / bins as f64;
    (0..bins)
        .map(|i| {
            let (lo, hi) = (i as f64 * width, (i + 1) as f64 * width);
            if i + 1 == bins {
                format!("{} – {}", number(lo), number(hi))
            } else {
                format!("{} – <{}", number(lo), number(hi))
            }
        })
        .collect()
}

/// One test's pass rate over a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRate<'a> {
    pub exercise: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub passed: usize,
    pub total: usize,
}

/// Every test of `graded`, in the order results list them, with how many submissions passed it.
pub fn test_rates<'a>(graded: &[&'a Record]) -> Vec<TestRate<'a>> {
    let mut tests: Vec<TestRate> = Vec::new();
    for r in graded {
        for t in &r.tests {
            let i = match tests
                .iter()
                .position(|x| x.exercise == t.exercise && x.name == t.name)
            {
                Some(i) => i,
                None => {
                    tests.push(TestRate {
                        exercise: &t.exercise,
                        kind: &t.kind,
                        name: &t.name,
                        passed: 0,
                        total: 0,
                    });
                    tests.len() - 1
                }
            };
            tests[i].passed += usize::from(t.passed());
            tests[i].total += 1;
        }
    }
    tests
}

fn pass_rates(md: &mut String, graded: &[&Record]) {
    md.push_str("## Pass rate of every test\n\n");
    md.push_str("| exercise | kind | test | passed | rate |\n|---|---|---|---:|---:|\n");
    for t in test_rates(graded) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} / {} | {:.0}% |",
            t.exercise,
            t.kind,
            cell(t.name),
            t.passed,
            t.total,
            100.0 * t.passed as f64 / t.total as f64
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

/// Late submissions and where the submission times came from; nothing without a deadline.
fn late(md: &mut String, graded: &[&Record]) {
    let timed: Vec<&Record> = graded
        .iter()
        .copied()
        .filter(|r| r.late.is_some())
        .collect();
    if timed.is_empty() {
        return;
    }
    let mut sources: Vec<(&str, usize)> = Vec::new();
    for r in &timed {
        let source = r.late.as_ref().map_or("", |l| l.source.as_str());
        match sources.iter_mut().find(|(s, _)| *s == source) {
            Some((_, n)) => *n += 1,
            None => sources.push((source, 1)),
        }
    }
    let listed: Vec<String> = sources.iter().map(|(s, n)| format!("{s} {n}")).collect();
    md.push_str(
        "## Late submissions

",
    );
    let _ = writeln!(
        md,
        "Submission times from: {}.
",
        listed.join(", ")
    );
    let extended: Vec<String> = timed
        .iter()
        .filter_map(|r| {
            let l = r.late.as_ref()?;
            let to = l.extended_to.as_deref()?;
            let outcome = if l.late_by_s > 0 { "late" } else { "on time" };
            Some(format!(
                "{} (to {}, {outcome})",
                cell(&r.submission),
                cell(to)
            ))
        })
        .collect();
    if !extended.is_empty() {
        let _ = writeln!(
            md,
            "Extended deadlines (the TA's extensions file): {}.\n",
            extended.join(", ")
        );
    }
    let late: Vec<&Record> = timed
        .into_iter()
        .filter(|r| r.late.as_ref().is_some_and(|l| l.late_by_s > 0))
        .collect();
    if late.is_empty() {
        md.push_str(
            "None: every submission was on time.

",
        );
        return;
    }
    md.push_str("| submission | handed in | late by | from | penalty |\n|---|---|---:|---|---:|\n");
    for r in late {
        let Some(l) = &r.late else { continue };
        let penalty = if l.within_grace {
            "grace period".to_string()
        } else {
            format!(
                "{} ({} points)",
                crate::deadline::percent(l.penalty_fraction),
                number(r.late_penalty())
            )
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {penalty} |",
            cell(&r.submission),
            cell(&l.submitted_at),
            crate::deadline::duration_words(std::time::Duration::from_secs(l.late_by_s)),
            cell(&l.source),
        );
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
                lab: None,
                score: tests.iter().map(|t| t.score).sum(),
                max_score: 2.0,
                tests,
                total_ms: ms,
                key: None,
                key_parts: None,
                previous: None,
                score_before_penalty: None,
                late: None,
                collection: None,
                phases: None,
            })),
        }
    }

    #[test]
    fn the_time_per_phase_is_summed_over_the_gradings_that_recorded_it() {
        let mut rows = vec![
            record("alice", 10_000, &[("a", None)]),
            record("bob", 20_000, &[("a", None)]),
            record("old", 5_000, &[("a", None)]),
        ];
        let phases = |build_ms, tests_ms, lane_wait_ms, lane_hold_ms| Phases {
            build_ms,
            tests_ms,
            lane_wait_ms,
            lane_hold_ms,
        };
        for (row, p) in rows
            .iter_mut()
            .zip([phases(4000, 3000, 1000, 2000), phases(6000, 9000, 0, 4000)])
        {
            if let Entry::Graded(r) = &mut row.entry {
                r.phases = Some(p);
            }
        }
        let graded = super::super::results::graded(&rows);
        assert_eq!(
            phase_line(&graded).unwrap(),
            "time over 2 gradings: build 10.0 s, tests 12.0 s, waiting for the timing lane \
             1.0 s, holding the timing lane 6.0 s"
        );
        let md = render(&rows);
        assert!(md.contains("## Where the time went"), "{md}");
        assert!(
            md.contains("| holding the timing lane | 6.0 s | 3.0 s | 21% |"),
            "{md}"
        );
        // No result with phases (all written before they were recorded): no section.
        let old = vec![record("old", 5_000, &[("a", None)])];
        assert!(phase_line(&super::super::results::graded(&old)).is_none());
        assert!(!render(&old).contains("Where the time went"));
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
            md.contains("4 submissions: 3 graded, 1 could not be graded"),
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
        assert!(!md.contains("Late"), "{md}");
    }

    #[test]
    fn late_submissions_are_listed_with_their_penalty_and_time_source() {
        let late = |row: &mut Row, source: &str, late_by_s, within_grace, penalty_fraction| {
            let Entry::Graded(r) = &mut row.entry else {
                unreachable!()
            };
            r.score_before_penalty = Some(r.score);
            r.score *= 1.0 - penalty_fraction;
            r.late = Some(crate::batch::record::RecordLate {
                submitted_at: "2026-12-02T00:00:00-05:00".into(),
                source: source.into(),
                late_by_s,
                within_grace,
                penalty_fraction,
                extended_to: None,
            });
        };
        let mut rows = vec![
            record("alice", 1, &[("a", None), ("b", None)]),
            record("bob", 1, &[("a", None), ("b", None)]),
            record("carol", 1, &[("a", None), ("b", None)]),
        ];
        late(&mut rows[0], "git", 7200, false, 0.1);
        late(&mut rows[1], "git", 300, true, 0.0);
        late(&mut rows[2], "file_times", 0, false, 0.0);
        let md = render(&rows);
        assert!(
            md.contains(
                "## Late submissions\n\nSubmission times from: git 2, file_times 1.\n\n\
                 | submission | handed in | late by | from | penalty |\n|---|---|---:|---|---:|\n\
                 | alice | 2026-12-02T00:00:00-05:00 | 2 hours | git | 10% (0.2 points) |\n\
                 | bob | 2026-12-02T00:00:00-05:00 | 5 minutes | git | grace period |\n\n"
            ),
            "{md}"
        );
    }
}

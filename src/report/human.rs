//! The terminal report, grouped by exercise, failures first with their teaching message.
//!
//! Two audiences: staff (`grade`) see every test, hidden ones marked, and timings; the student
//! (`check`) sees no hidden test, at most a few failures in full per exercise, the command that
//! re-runs each, one line on what to try next, and little else when everything passes.
//! Colors come from `colored`, which the CLI switches off for files and non-terminals. Every
//! text that is not the grader's own (names, messages, warnings, compiler output, notes)
//! passes through [`terminal`] first: no escape sequence of a student's reaches the screen.

use std::fmt::Write;

use colored::Colorize;

use super::terminal::{line as safe, text as safe_text};
use super::{advice, late, points, Audience, ReportOptions};
use super::{exercises, totals};
use crate::deadline::Countdown;
use crate::deadline::{duration_words, percent};
use crate::verdict::{GradeResult, Reason, ResultKind, TestResult, Verdict};

/// Failures of one exercise shown in full in the student's check; the rest get a line each.
const DETAILED_FAILURES: usize = 5;

pub(super) fn render(result: &GradeResult, opts: &ReportOptions) -> String {
    let student = opts.audience == Audience::Student;
    let shown: Vec<&TestResult> = result
        .tests
        .iter()
        .filter(|t| !(student && t.hidden))
        .collect();
    let mut out = String::new();
    // Which labgrade graded is on the first line: a regrade after a fix to the grader, or a
    // student's copy of an old report, shows it.
    let _ = writeln!(
        out,
        "{} {} against {} with {}",
        "Grading".bold(),
        safe(&result.submission).bold(),
        safe(&result.lab),
        crate::version::NAMED
    );
    // The TA checks what was graded when it is not the handout's layout.
    if let Some(layout) = result.layout.as_ref().filter(|l| !l.is_handout()) {
        let _ = writeln!(out, "  {} {}", "layout:".cyan().bold(), safe(&layout.note));
    }
    let missing: Vec<&str> = result
        .sandbox
        .iter()
        .filter(|l| !l.active)
        .map(|l| l.name.name())
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "  {} sandbox layers missing here: {} (see `labgrade doctor`)",
            "note:".yellow().bold(),
            safe(&missing.join(", "))
        );
    }
    if let (true, Some(deadline)) = (student, &opts.deadline) {
        let _ = writeln!(out, "{}", countdown(deadline));
    }
    for w in &result.warnings {
        let _ = writeln!(out, "  {} {}", "warning:".yellow().bold(), safe(w));
    }
    let all_passed = shown.iter().all(|t| t.verdict.passed());
    for ex in exercises(&shown) {
        let tests: Vec<&TestResult> = shown.iter().copied().filter(|t| t.exercise == ex).collect();
        if student && all_passed && !opts.verbose {
            exercise_line(&mut out, ex, &tests);
        } else {
            exercise(&mut out, ex, &tests, opts);
        }
    }
    footer(&mut out, result, &shown, opts);
    out
}

/// One line for an exercise whose tests all passed (the student's quiet success).
fn exercise_line(out: &mut String, ex: &str, tests: &[&TestResult]) {
    let (score, max, _) = totals(tests);
    let _ = writeln!(
        out,
        "  {} {}  {} test{}, {} / {} points",
        "ok".green().bold(),
        safe(ex).bold(),
        tests.len(),
        plural(tests.len()),
        points(score),
        points(max)
    );
}

fn exercise(out: &mut String, ex: &str, tests: &[&TestResult], opts: &ReportOptions) {
    let student = opts.audience == Audience::Student;
    let (score, max, passed) = totals(tests);
    let failing: Vec<&TestResult> = tests
        .iter()
        .copied()
        .filter(|t| !t.verdict.passed())
        .collect();
    let counts = if student && failing.is_empty() {
        format!("all {} tests passed", tests.len())
    } else if student {
        format!("{} of {} tests failing", failing.len(), tests.len())
    } else {
        format!("{passed}/{} tests passed", tests.len())
    };
    let _ = writeln!(
        out,
        "\n{} {}  {counts}, {} / {} points",
        "■".cyan(),
        safe(ex).bold(),
        points(score),
        points(max)
    );
    if student {
        student_failures(out, &failing, opts);
    } else {
        for t in &failing {
            failure(out, t, opts);
        }
    }
    if opts.verbose {
        for t in tests.iter().filter(|t| t.verdict.passed()) {
            let _ = writeln!(
                out,
                "  {} {:<9} {}{}",
                "PASS".green(),
                safe(t.kind.name()),
                safe(&t.name),
                hidden(t)
            );
        }
    } else if student && passed > 0 && !failing.is_empty() {
        let _ = writeln!(
            out,
            "  {}   {passed} other test{} passed",
            "ok".green(),
            plural(passed)
        );
    }
}

/// The student's failures: the first few in full, the rest one line each, and the tests that
/// could not run because the binary did not build as one line. A failure of a kind not yet
/// shown (another reason than those above) is shown in full whatever its rank: the cap must
/// never hide the only message about a different bug.
fn student_failures(out: &mut String, failing: &[&TestResult], opts: &ReportOptions) {
    let (not_run, ran): (Vec<&TestResult>, Vec<&TestResult>) =
        failing.iter().partition(|t| not_run(t));
    let (after_hangs, ran): (Vec<&TestResult>, Vec<&TestResult>) = ran
        .into_iter()
        .partition(|t| matches!(t.verdict, Verdict::Fail(Reason::NotRunAfterHangs)));
    let mut reasons_shown: Vec<&str> = Vec::new();
    for (i, t) in ran.iter().enumerate() {
        let reason = match &t.verdict {
            Verdict::Fail(r) => r.code(),
            _ => "",
        };
        let new_reason = !reasons_shown.contains(&reason);
        if new_reason {
            reasons_shown.push(reason);
        }
        if i < DETAILED_FAILURES || new_reason {
            failure(out, t, opts);
        } else {
            let _ = writeln!(
                out,
                "  {} {}  {}",
                "FAIL".red().bold(),
                safe(&t.name),
                worth(t).dimmed()
            );
            rerun(out, t, opts);
        }
    }
    if !not_run.is_empty() {
        let max: f64 = not_run.iter().map(|t| t.max_score).sum();
        let _ = writeln!(
            out,
            "  {} {} test{} not run until it builds ({} points)",
            "FAIL".red().bold(),
            not_run.len(),
            plural(not_run.len()),
            points(max)
        );
    }
    // One line for the tests an exercise that hung did not run; the hung tests above say why.
    if !after_hangs.is_empty() {
        let max: f64 = after_hangs.iter().map(|t| t.max_score).sum();
        let _ = writeln!(
            out,
            "  {} {} test{} not run: the first tests hung ({} points)",
            "FAIL".red().bold(),
            after_hangs.len(),
            plural(after_hangs.len()),
            points(max)
        );
    }
}

/// A failed test in full: name, points, message, compiler output for a build.
fn failure(out: &mut String, t: &TestResult, opts: &ReportOptions) {
    if opts.audience == Audience::Student {
        let _ = writeln!(
            out,
            "  {} {}  {}",
            "FAIL".red().bold(),
            safe(&t.name),
            worth(t).dimmed()
        );
    } else {
        let _ = writeln!(
            out,
            "  {} {:<9} {}{}  {}",
            "FAIL".red().bold(),
            safe(t.kind.name()),
            safe(&t.name),
            hidden(t),
            format!("0/{}", points(t.max_score)).dimmed()
        );
    }
    let _ = writeln!(out, "       {}", safe_text(&t.message));
    if t.kind == ResultKind::Build {
        if let Some(rendered) = t.evidence.stderr() {
            for line in safe_text(rendered).lines() {
                let _ = writeln!(out, "       {}", line.dimmed());
            }
        }
    }
    rerun(out, t, opts);
}

fn rerun(out: &mut String, t: &TestResult, opts: &ReportOptions) {
    if let Some(check) = &opts.rerun {
        let _ = writeln!(
            out,
            "       {}",
            safe(&format!("re-run: {}", rerun_command(t, check))).dimmed()
        );
    }
}

/// What reproduces `t`: one run of the program (an `output` test) is `labgrade run`, built and
/// run as graded, the same command "Next:" quotes; a probe (many runs, timings, an audit) or a
/// build is the check itself, narrowed with `--only`.
fn rerun_command(t: &TestResult, check: &str) -> String {
    match (t.kind, t.evidence.command()) {
        (ResultKind::OUTPUT, Some(command)) => advice::labgrade_run(command, Some(check)),
        _ => format!("{check} --only {}", only_pattern(t)),
    }
}

fn footer(out: &mut String, result: &GradeResult, shown: &[&TestResult], opts: &ReportOptions) {
    let (raw, raw_max, passed) = totals(shown);
    let failing = shown.len() - passed;
    let (score, max) = (points(raw), points(raw_max));
    if opts.audience == Audience::Staff {
        let penalised = opts.late.as_ref().map(|l| l.penalised(raw));
        let summary = format!("Score: {} / {max}", penalised.map_or(score, points));
        let _ = writeln!(
            out,
            "\n{}  ({:.1} s, build {:.1} s)",
            if failing == 0 {
                summary.green().bold()
            } else {
                summary.yellow().bold()
            },
            result.total_time.as_secs_f64(),
            result.build_time.as_secs_f64()
        );
        if let Some(late) = &opts.late {
            let line = late::sentence(late, Some((raw, raw_max)));
            let _ = writeln!(
                out,
                "{}",
                if late.penalty_fraction > 0.0 {
                    line.red().to_string()
                } else {
                    line
                }
            );
            for note in late::skipped_notes(late) {
                let _ = writeln!(out, "  {} {}", "note:".yellow().bold(), safe(&note));
            }
        }
        return;
    }
    if failing == 0 {
        let line = match shown.len() {
            1 => format!("The test passed: {score} / {max} points."),
            n => format!("All {n} tests passed: {score} / {max} points."),
        };
        let _ = writeln!(out, "{}", line.green().bold());
    } else {
        let line = format!(
            "Score: {score} / {max} points, {failing} test{} failing",
            plural(failing)
        );
        let _ = writeln!(out, "\n{}", line.yellow().bold());
    }
    let withheld = opts.withheld;
    if withheld.tests > 0 {
        let (n, p) = (withheld.tests, points(withheld.points));
        let _ = writeln!(
            out,
            "{}",
            if n == 1 {
                format!("1 hidden test ({p} points) is not part of this check; it is graded with your submission.")
            } else {
                format!("{n} hidden tests ({p} points) are not part of this check; they are graded with your submission.")
            }
        );
    }
    if let Some(first) = shown.iter().find(|t| !t.verdict.passed()) {
        if let Some(step) = advice::next_step(first, opts.rerun.as_deref()) {
            let _ = writeln!(out, "{} {}", "Next:".cyan().bold(), safe_text(&step));
        }
    }
}

/// `--only` argument that selects just `t`, quoted for a POSIX shell; a build failure
/// selects its whole exercise.
fn only_pattern(t: &TestResult) -> String {
    if t.kind == ResultKind::Build {
        shell_quote(&t.exercise)
    } else {
        shell_quote(&format!("{}/{}", t.exercise, t.name))
    }
}

/// `s` as one word for a POSIX shell: bare when that is safe, else in single quotes.
pub fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Whether `t` failed only because its binary could not be built (or the submission used).
fn not_run(t: &TestResult) -> bool {
    t.kind != ResultKind::Build
        && matches!(
            &t.verdict,
            Verdict::Fail(
                Reason::BuildFailed(_)
                    | Reason::BuildTimeout { .. }
                    | Reason::MissingBinary { .. }
                    | Reason::Unusable
            )
        )
}

fn worth(t: &TestResult) -> String {
    let max = points(t.max_score);
    format!("0 / {max} point{}", if max == "1" { "" } else { "s" })
}

fn hidden(t: &TestResult) -> &'static str {
    if t.hidden {
        " (hidden)"
    } else {
        ""
    }
}

fn countdown(c: &Countdown) -> String {
    match c {
        Countdown::Left { due, left } => {
            format!("Due {due}, in {}", duration_words(*left))
        }
        Countdown::Grace {
            due,
            ago,
            grace_left,
        } => format!(
            "Due {due}: passed {} ago, but a submission in the next {} is still on time \
             (grace period)",
            duration_words(*ago),
            duration_words(*grace_left)
        ),
        Countdown::Passed {
            due,
            ago,
            penalty_fraction,
            policy,
        } => {
            let now = if *penalty_fraction > 0.0 {
                format!("a {} penalty applies", percent(*penalty_fraction))
            } else {
                "no penalty applies".to_string()
            };
            format!(
                "Past due by {} (due {due}): {now} ({policy})",
                duration_words(*ago)
            )
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
#[path = "human_tests.rs"]
mod tests;

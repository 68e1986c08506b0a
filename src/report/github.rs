//! GitHub Actions: workflow commands that become annotations on the student's code
//! (`::error file=src/bin/pool_sum.rs,line=74,col=23,title=…::message`), and a markdown job
//! summary for `$GITHUB_STEP_SUMMARY`.
//!
//! Student-facing: tests the spec marks hidden are left out of both. This module renders
//! strings; the CLI prints the commands and appends the summary to the file.
//!
//! Escaping follows the Actions toolkit (`@actions/core`'s `command.ts`): in the message `%`,
//! CR and LF become `%25`, `%0D`, `%0A`; in properties `:` and `,` become `%3A` and `%2C` too.
//! GitHub shows at most 10 annotations of each kind per step, so the 10th error says how many
//! more failed instead of being one more test.

use std::fmt::Write;

use super::{exercises, totals};
use super::{points, ReportOptions};
use crate::verdict::{GradeResult, Reason, TestResult, Verdict};

/// Annotations of one kind GitHub shows for a step.
const PER_KIND: usize = 10;

/// Failing tests listed in the summary before the rest are counted.
const SUMMARY_FAILURES: usize = 50;

/// Where in the student's code a failure points.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    /// Relative to the submission (`src/bin/counter.rs`).
    file: String,
    line: Option<u32>,
    column: Option<u32>,
}

/// The workflow commands for `result`, one per line.
pub(super) fn annotations(result: &GradeResult, opts: &ReportOptions) -> String {
    let mut out = String::new();
    for w in result.warnings.iter().take(PER_KIND) {
        command(&mut out, "warning", &[("title", "labgrade")], w);
    }
    let shown = visible(result);
    let failing: Vec<&TestResult> = shown
        .iter()
        .copied()
        .filter(|t| !t.verdict.passed())
        .collect();
    let room = if failing.len() > PER_KIND {
        PER_KIND - 1
    } else {
        failing.len()
    };
    for t in &failing[..room] {
        let title = format!("{} / {} ({})", t.exercise, t.name, worth(t));
        let mut props: Vec<(&str, String)> = Vec::new();
        if let Some(at) = location(t) {
            props.push(("file", format!("{}{}", opts.source_prefix, at.file)));
            if let Some(line) = at.line {
                props.push(("line", line.to_string()));
            }
            if let Some(col) = at.column {
                props.push(("col", col.to_string()));
            }
        }
        props.push(("title", title));
        let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
        command(&mut out, "error", &props, &t.message);
    }
    if failing.len() > room {
        command(
            &mut out,
            "error",
            &[("title", "labgrade")],
            &format!(
                "{} more tests failed: see the job summary, or run `labgrade check` locally",
                failing.len() - room
            ),
        );
    }
    let (score, max, passed) = totals(&shown);
    command(
        &mut out,
        "notice",
        &[("title", "labgrade")],
        &format!(
            "{} / {} points: {passed} of {} tests passed",
            points(score),
            points(max),
            shown.len()
        ),
    );
    out
}

/// The markdown job summary for `result`.
pub(super) fn summary(result: &GradeResult) -> String {
    let shown = visible(result);
    let hidden = result.tests.len() - shown.len();
    let (score, max, passed) = totals(&shown);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## labgrade: {} ({})\n",
        md(&result.submission),
        md(&result.lab)
    );
    let _ = writeln!(
        out,
        "**{} / {} points**, {passed} of {} tests passed{}.\n",
        points(score),
        points(max),
        shown.len(),
        if hidden > 0 { " (visible tests)" } else { "" }
    );
    out.push_str("| Exercise | Tests passed | Points |\n|---|---:|---:|\n");
    for ex in exercises(&shown) {
        let tests: Vec<&TestResult> = shown.iter().copied().filter(|t| t.exercise == ex).collect();
        let (score, max, passed) = totals(&tests);
        let _ = writeln!(
            out,
            "| {} | {passed} / {} | {} / {} |",
            md(ex),
            tests.len(),
            points(score),
            points(max)
        );
    }
    let failing: Vec<&&TestResult> = shown.iter().filter(|t| !t.verdict.passed()).collect();
    if !failing.is_empty() {
        out.push_str("\n### Failing tests\n\n");
        for t in failing.iter().take(SUMMARY_FAILURES) {
            let _ = writeln!(
                out,
                "- **{} / {}** ({}): {}",
                md(&t.exercise),
                md(&t.name),
                worth(t),
                md(&t.message)
            );
        }
        if failing.len() > SUMMARY_FAILURES {
            let _ = writeln!(out, "- … and {} more", failing.len() - SUMMARY_FAILURES);
        }
        out.push_str("\nRun `labgrade check` in your repository to see each failure and the command that re-runs it.\n");
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "\n{hidden} more test{} will be graded after the deadline.",
            if hidden == 1 { "" } else { "s" }
        );
    }
    if !result.warnings.is_empty() {
        out.push_str("\n### Warnings\n\n");
        for w in &result.warnings {
            let _ = writeln!(out, "- {}", md(w));
        }
    }
    out
}

/// `0 of 2 points`, `0 of 1 point`.
fn worth(t: &TestResult) -> String {
    let max = points(t.max_score);
    let unit = if max == "1" { "point" } else { "points" };
    format!("{} of {max} {unit}", points(t.score()))
}

/// The tests a student may see.
fn visible(result: &GradeResult) -> Vec<&TestResult> {
    result.tests.iter().filter(|t| !t.hidden).collect()
}

/// Where `t`'s failure is in the student's code: the compiler's location, a panic's
/// `at src/…:L:C`, or else the source file of the binary that was run.
fn location(t: &TestResult) -> Option<Location> {
    if let Verdict::Fail(Reason::BuildFailed(e)) = &t.verdict {
        return e.file.as_ref().map(|file| Location {
            file: file.clone(),
            line: e.line,
            column: e.column,
        });
    }
    if let Some(at) = panic_location(&t.message) {
        return Some(at);
    }
    let binary = t.evidence.command()?.split_whitespace().next()?;
    Some(Location {
        file: format!("src/bin/{binary}.rs"),
        line: None,
        column: None,
    })
}

/// The first `src/….rs:LINE[:COL]` in `text` (a panic's location; the standard library's own
/// paths are absolute and skipped).
fn panic_location(text: &str) -> Option<Location> {
    let mut from = 0;
    while let Some(i) = text[from..].find("src/") {
        let start = from + i;
        from = start + 4;
        let preceded_by_path = text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| !c.is_whitespace() && c != '\'' && c != '`' && c != '(');
        if preceded_by_path {
            continue;
        }
        let rest = &text[start..];
        let Some(end) = rest.find(".rs:") else {
            continue;
        };
        let file = &rest[..end + 3];
        if file.contains(char::is_whitespace) {
            continue;
        }
        let mut numbers = rest[end + 4..].split(':').map(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        let Some(Some(line)) = numbers.next() else {
            continue;
        };
        return Some(Location {
            file: file.to_string(),
            line: Some(line),
            column: numbers.next().flatten(),
        });
    }
    None
}

/// Appends `::name k=v,k=v::message` and a line break.
fn command(out: &mut String, name: &str, props: &[(&str, &str)], message: &str) {
    out.push_str("::");
    out.push_str(name);
    for (i, (key, value)) in props.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        let _ = write!(out, "{key}={}", escape_property(value));
    }
    let _ = writeln!(out, "::{}", escape_data(message));
}

/// A workflow command's message: `%`, CR and LF percent-encoded, other control characters
/// shown escaped (the log is also read in terminals) by
/// [`terminal::controls_escaped`](super::terminal::controls_escaped).
fn escape_data(s: &str) -> String {
    super::terminal::controls_escaped(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`escape_data`], and `:` and `,` too.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Text shown literally in GitHub-flavoured markdown: the characters that start markdown or
/// HTML constructs (emphasis, links, images, tables, mentions, autolinks, raw HTML) become
/// numeric character references, which render as the characters themselves. Line breaks
/// become spaces so a message stays one list item.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '<' | '>' | '(' | ')' | '#' | '+'
            | '-' | '.' | '!' | '|' | '&' | '~' | '@' | ':' | '$' | '=' | '^' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::junit::tests::sample;

    fn with_prefix(prefix: &str) -> ReportOptions {
        ReportOptions {
            source_prefix: prefix.to_string(),
            ..ReportOptions::default()
        }
    }

    #[test]
    fn failures_point_at_the_students_code_and_hidden_tests_are_left_out() {
        let mut result = sample();
        // The hidden race probe fails: still not shown.
        result.tests[3].verdict = Verdict::Fail(Reason::LostUpdates { lost: 1, runs: 3 });
        let text = annotations(&result, &ReportOptions::default());
        assert_eq!(
            text,
            "::warning title=labgrade::ignored Cargo.toml: the course's is used\n\
             ::error file=src/bin/pool_sum.rs,title=pool-sum / n=100 p=4 (0 of 2 points)::\
             `pool_sum 100 4` printed 5049, expected 5050\n\
             ::error file=src/bin/counter.rs,line=12,col=5,title=counter / build counter \
             (0 of 0 points)::counter does not compile: src/bin/counter.rs:12:5: cannot find \
             value `x` in this scope\n\
             ::notice title=labgrade::1 / 3 points: 1 of 3 tests passed\n"
        );
        assert!(!text.contains("safe p=4"));
    }

    #[test]
    fn paths_are_relative_to_the_repository_root() {
        let text = annotations(&sample(), &with_prefix("lab10/"));
        assert!(
            text.contains("::error file=lab10/src/bin/counter.rs,line=12,"),
            "{text}"
        );
    }

    #[test]
    fn panics_point_at_their_line() {
        let at = panic_location(
            "`pool_sum 10 3` panicked (exit status 101): 'index out of bounds: the len is 1 \
             but the index is 1' at src/bin/pool_sum.rs:74:23",
        );
        assert_eq!(
            at,
            Some(Location {
                file: "src/bin/pool_sum.rs".into(),
                line: Some(74),
                column: Some(23)
            })
        );
        assert_eq!(
            panic_location("panicked at src/lib.rs:9").map(|l| (l.file, l.line, l.column)),
            Some(("src/lib.rs".into(), Some(9), None))
        );
        // The standard library's paths and bare mentions of a file are not locations.
        assert_eq!(
            panic_location("at /rustc/abc/library/core/src/num/mod.rs:1:1"),
            None
        );
        assert_eq!(panic_location("create src/bin/counter.rs first"), None);
        let mut result = sample();
        result.tests[1].message = at_message();
        let text = annotations(&result, &ReportOptions::default());
        assert!(
            text.contains("::error file=src/bin/pool_sum.rs,line=74,col=23,title="),
            "{text}"
        );
    }

    fn at_message() -> String {
        "`pool_sum 100 4` panicked (exit status 101): 'boom' at src/bin/pool_sum.rs:74:23".into()
    }

    #[test]
    fn commands_escape_data_and_properties() {
        let mut out = String::new();
        command(
            &mut out,
            "error",
            &[("file", "a,b:c.rs"), ("title", "100% done\r\nnext")],
            "50% of it\nfailed: a,b",
        );
        assert_eq!(
            out,
            "::error file=a%2Cb%3Ac.rs,title=100%25 done%0D%0Anext::50%25 of it%0Afailed: a,b\n"
        );
    }

    #[test]
    fn hostile_messages_cannot_inject_commands() {
        let mut result = sample();
        result.tests[1].message = "x\n::set-env name=PATH::/tmp\n%0A".to_string();
        let text = annotations(&result, &ReportOptions::default());
        // Every line is one of ours: a hostile line break cannot start a new command.
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.contains("::x%0A::set-env name=PATH::/tmp%0A%250A\n"),
            "{text}"
        );
        // Nor can an escape sequence reach a terminal that shows the log.
        result.tests[1].message = "\x1b]52;c;cm0K\x07\u{9b}2J".to_string();
        let text = annotations(&result, &ReportOptions::default());
        assert!(!super::super::terminal::has_raw_control(&text), "{text:?}");
        assert!(text.contains("\\x1b]52;c;cm0K\\x07\\u{9b}2J"), "{text}");
    }

    #[test]
    fn more_failures_than_github_shows_are_counted_in_the_tenth() {
        let mut result = sample();
        let wrong = result.tests[1].clone();
        result.tests = (0..14)
            .map(|i| {
                let mut t = wrong.clone();
                t.name = format!("n={i}");
                t
            })
            .collect();
        let text = annotations(&result, &ReportOptions::default());
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("::error")).collect();
        assert_eq!(errors.len(), 10);
        assert_eq!(
            errors[9],
            "::error title=labgrade::5 more tests failed: see the job summary, or run \
             `labgrade check` locally"
        );
    }

    #[test]
    fn summary_shows_visible_scores_and_failures() {
        let text = summary(&sample());
        assert_eq!(
            text,
            "## labgrade: alice (lab10)\n\n\
             **1 / 3 points**, 1 of 3 tests passed (visible tests).\n\n\
             | Exercise | Tests passed | Points |\n|---|---:|---:|\n\
             | pool&#45;sum | 1 / 2 | 1 / 3 |\n\
             | counter | 0 / 1 | 0 / 0 |\n\
             \n### Failing tests\n\n\
             - **pool&#45;sum / n&#61;100 p&#61;4** (0 of 2 points): &#96;pool&#95;sum 100 \
             4&#96; printed 5049, expected 5050\n\
             - **counter / build counter** (0 of 0 points): counter does not compile\
             &#58; src/bin/counter&#46;rs&#58;12&#58;5&#58; cannot find value &#96;x&#96; in \
             this scope\n\
             \nRun `labgrade check` in your repository to see each failure and the command \
             that re-runs it.\n\
             \n1 more test will be graded after the deadline.\n\
             \n### Warnings\n\n\
             - ignored Cargo&#46;toml&#58; the course's is used\n"
        );
    }

    #[test]
    fn markdown_from_students_stays_text() {
        let s = md("![x](https://evil.example/a.png) <img src=x> @teacher | *b*\n# h");
        for bad in [
            "![", "](", "<img", "@teacher", "| ", "*b*", "\n", "https://",
        ] {
            assert!(!s.contains(bad), "{bad:?} survived in {s}");
        }
        assert_eq!(md("a&b"), "a&#38;b");
    }
}

//! CSV: one row per test, for spreadsheets and LMS imports
//! (`submission,exercise,kind,name,status,score,max_score,reason,message`).
//!
//! A staff format: tests the spec marks hidden are kept. Fields are quoted as RFC 4180 says,
//! by [`csv_field`], which `batch`'s gradebook uses too; rows end in `\n` like the gradebook's
//! (spreadsheets read both line ends; shell tools prefer this one).

use crate::points::text as number;
use crate::verdict::{GradeResult, TestResult, Verdict};

/// The header row, without its line break.
pub const HEADER: &str = "submission,exercise,kind,name,status,score,max_score,reason,message";

pub(super) fn render(result: &GradeResult) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for t in &result.tests {
        out.push_str(&row(&result.submission, t));
        out.push('\n');
    }
    out
}

fn row(submission: &str, t: &TestResult) -> String {
    let reason = match &t.verdict {
        Verdict::Pass => "",
        Verdict::Fail(r) => r.code(),
    };
    [
        submission,
        &t.exercise,
        t.kind.name(),
        &t.name,
        if t.verdict.passed() { "pass" } else { "fail" },
        &number(t.score()),
        &number(t.max_score),
        reason,
        &t.message,
    ]
    .map(csv_field)
    .join(",")
}

/// `s` as one CSV field (RFC 4180): quoted when it holds a comma, a double quote or a line
/// break, with double quotes doubled; left as it is otherwise.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `s` as one CSV field for a file a person opens in a spreadsheet: as [`csv_field`], and a
/// text that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or
/// a carriage return: OWASP's "CSV injection") gets a leading `'`, which spreadsheets show as
/// text and do not evaluate. For text cells only: a number such as `-2` would be changed too.
pub fn spreadsheet_field(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_field(&format!("'{s}"))
    } else {
        csv_field(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::junit::tests::sample;

    /// What a spreadsheet would read back (the roster's reader, `crate::csv_read`).
    fn parse(csv: &str) -> Vec<Vec<String>> {
        assert!(
            csv.is_empty() || csv.ends_with('\n'),
            "unterminated last row"
        );
        crate::csv_read::rows(csv).expect("every quoted field closed")
    }

    #[test]
    fn one_row_per_test_hidden_ones_included() {
        let csv = render(&sample());
        let rows = parse(&csv);
        assert_eq!(rows[0].join(","), HEADER);
        assert_eq!(rows.len(), 1 + 4);
        assert!(rows.iter().all(|r| r.len() == 9), "{rows:?}");
        assert_eq!(
            rows[1],
            [
                "alice",
                "pool-sum",
                "output",
                "n=10 p=3",
                "pass",
                "1",
                "1",
                "",
                "`pool_sum 10 3` printed 55"
            ]
        );
        assert_eq!(
            rows[2][4..8],
            ["fail", "0", "2", "wrong_output"].map(String::from)
        );
        assert_eq!(rows[3][7], "build_failed");
        // The hidden race probe is there for staff.
        assert_eq!(
            rows[4][2..7],
            ["race", "safe p=4 k=1000", "pass", "1.5", "1.5"]
        );
    }

    #[test]
    fn hostile_text_round_trips() {
        let mut result = sample();
        result.submission = "o'brien, \"bob\"".to_string();
        result.tests[1].message = "printed \"5,0\r\n49\"\nexpected 5050".to_string();
        let rows = parse(&render(&result));
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[2][0], "o'brien, \"bob\"");
        assert_eq!(rows[2][8], "printed \"5,0\r\n49\"\nexpected 5050");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("alice"), "alice");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn formulas_are_written_as_text() {
        assert_eq!(spreadsheet_field("alice"), "alice");
        assert_eq!(
            spreadsheet_field("=HYPERLINK(\"x\")"),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(spreadsheet_field("+1"), "'+1");
        assert_eq!(spreadsheet_field("-2+3"), "'-2+3");
        assert_eq!(spreadsheet_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_field("\tx"), "'\tx");
        assert_eq!(spreadsheet_field("a=b"), "a=b");
    }
}

//! Result files: the JSON of CONTRACT §3 plus what a batch needs to resume and compare
//! (`key`, `key_parts`, `previous`), written by a batch and read back by a batch or `merge`.
//!
//! Every row of the gradebook is built from a [`Record`] parsed from a file's text, whether the
//! result was graded a moment ago or kept from an earlier run: so a resumed batch, an
//! uninterrupted one and a merge of shards cannot disagree.

use serde::{Deserialize, Serialize};

use super::collection::{JsonOrigin, Origin};
use super::key::KeyParts;
use crate::deadline::Late;
use crate::report::{to_json_with, JsonResult};
use crate::verdict::GradeResult;

/// The earlier result a regrade replaced: what `changes.csv` compares against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Previous {
    pub score: f64,
    pub max_score: f64,
    /// Absent when the earlier result was written without a key (by `grade --format json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_parts: Option<KeyParts>,
    /// Each test's verdict then, so `changes.csv` can say which verdicts moved. Absent in
    /// results written by a labgrade that did not keep them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<PreviousTest>,
}

/// One test of a [`Previous`] result: enough to tell whether its verdict or score moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousTest {
    pub exercise: String,
    pub name: String,
    pub status: String,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The file a batch writes: CONTRACT §3's fields first, then the batch's own.
#[derive(Serialize)]
struct ResultFile<'a> {
    #[serde(flatten)]
    result: JsonResult<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_parts: Option<&'a KeyParts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<&'a Previous>,
    /// Who handed it in and what the export says of it (`kind`, `submitters`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    collection: Option<JsonOrigin>,
}

/// The text of `result`'s file, with `late`'s penalty applied to its score when the spec has a
/// deadline. Without a key (the submission could not be read to hash it) the result is
/// written but never reused.
pub fn render(
    result: &GradeResult,
    key: Option<&KeyParts>,
    previous: Option<&Previous>,
    late: Option<&Late>,
    origin: Option<&Origin>,
) -> String {
    let file = ResultFile {
        collection: origin.map(Origin::to_json),
        result: to_json_with(result, late),
        key: key.map(KeyParts::key),
        key_parts: key,
        previous,
    };
    let mut text = serde_json::to_string_pretty(&file).expect("plain data");
    text.push('\n');
    text
}

/// What a batch reads back from a result file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    pub submission: String,
    /// The spec(s) graded against (`lab10`); absent in results written by hand.
    #[serde(default)]
    pub lab: Option<String>,
    pub score: f64,
    pub max_score: f64,
    pub tests: Vec<RecordTest>,
    #[serde(default)]
    pub total_ms: u64,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub key_parts: Option<KeyParts>,
    #[serde(default)]
    pub previous: Option<Previous>,
    /// The tests' own score when `score` has a late penalty in it.
    #[serde(default)]
    pub score_before_penalty: Option<f64>,
    /// The late policy's outcome, when the spec has a deadline.
    #[serde(default)]
    pub late: Option<RecordLate>,
    /// What the collection says: who handed it in, when (by the export), a late marker.
    #[serde(default)]
    pub collection: Option<JsonOrigin>,
    /// Where the grading's time went; absent in results written before it was recorded.
    #[serde(default)]
    pub phases: Option<crate::verdict::Phases>,
}

/// The `late` of a [`Record`] (what the gradebook and the summary show).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RecordLate {
    /// RFC 3339, at the deadline's offset.
    pub submitted_at: String,
    /// `gradescope`, `git` or `file_times`.
    pub source: String,
    pub late_by_s: u64,
    #[serde(default)]
    pub within_grace: bool,
    pub penalty_fraction: f64,
    /// The submission's own deadline from the TA's extensions file (RFC 3339).
    #[serde(default)]
    pub extended_to: Option<String>,
}

/// One test of a [`Record`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RecordTest {
    pub exercise: String,
    pub kind: String,
    pub name: String,
    pub status: String,
    pub score: f64,
    pub max_score: f64,
    #[serde(default)]
    pub reason: Option<String>,
}

impl RecordTest {
    pub fn passed(&self) -> bool {
        self.status == "pass"
    }
}

impl Record {
    /// Parses a result file's text.
    pub fn parse(text: &str) -> Result<Record, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Whether this result was graded from exactly `key` (and its key is consistent).
    pub fn graded_from(&self, key: &KeyParts) -> bool {
        self.key_parts.as_ref() == Some(key) && self.key.as_deref() == Some(key.key().as_str())
    }

    /// What a regrade of this record replaces.
    pub fn as_previous(&self) -> Previous {
        Previous {
            score: self.score,
            max_score: self.max_score,
            key_parts: self.key_parts.clone(),
            tests: self
                .tests
                .iter()
                .map(|t| PreviousTest {
                    exercise: t.exercise.clone(),
                    name: t.name.clone(),
                    status: t.status.clone(),
                    score: t.score,
                    reason: t.reason.clone(),
                })
                .collect(),
        }
    }

    /// Points the late penalty took (0 without one).
    pub fn late_penalty(&self) -> f64 {
        self.score_before_penalty
            .map_or(0.0, |raw| (raw - self.score).max(0.0))
    }

    /// Tests that passed, of all tests.
    pub fn passed(&self) -> usize {
        self.tests.iter().filter(|t| t.passed()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Evidence, Reason, TestResult, Verdict};
    use std::time::Duration;

    fn result() -> GradeResult {
        let test = |name: &str, verdict| TestResult {
            exercise: "pool-sum".into(),
            kind: crate::verdict::ResultKind::OUTPUT,
            name: name.into(),
            verdict,
            max_score: 1.5,
            message: "m".into(),
            evidence: Evidence::default(),
            hidden: false,
            duration: Duration::from_millis(3),
        };
        GradeResult {
            submission: "alice".into(),
            lab: "lab10".into(),
            tests: vec![
                test("a", Verdict::Pass),
                test(
                    "b",
                    Verdict::Fail(Reason::Timeout {
                        after: Duration::from_secs(1),
                    }),
                ),
            ],
            warnings: vec![],
            build_time: Duration::ZERO,
            total_time: Duration::from_millis(1200),
            sandbox: vec![],
            layout: None,
            phases: Default::default(),
        }
    }

    fn key() -> KeyParts {
        KeyParts {
            submission: "s".into(),
            spec: "p".into(),
            grader: "g".into(),
            submitted: String::new(),
        }
    }

    #[test]
    fn a_written_result_reads_back_with_its_key() {
        let text = render(&result(), Some(&key()), None, None, None);
        let record = Record::parse(&text).unwrap();
        assert_eq!(record.submission, "alice");
        assert_eq!((record.score, record.max_score), (1.5, 3.0));
        assert_eq!(record.passed(), 1);
        assert_eq!(record.tests[1].reason.as_deref(), Some("timeout"));
        assert_eq!(record.total_ms, 1200);
        assert!(record.graded_from(&key()));
        let other = KeyParts {
            spec: "q".into(),
            ..key()
        };
        assert!(!record.graded_from(&other));
        assert!(record.previous.is_none());
        // CONTRACT §3's fields are still there, first.
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["tests"][0]["status"], "pass");
        assert!(
            text.trim_start().starts_with("{\n  \"submission\""),
            "{text}"
        );
    }

    #[test]
    fn a_regrade_keeps_what_it_replaced() {
        let previous = Record::parse(&render(&result(), Some(&key()), None, None, None))
            .unwrap()
            .as_previous();
        assert_eq!(previous.tests.len(), 2);
        assert_eq!(
            (
                previous.tests[1].status.as_str(),
                previous.tests[1].reason.as_deref()
            ),
            ("fail", Some("timeout"))
        );
        let text = render(&result(), Some(&key()), Some(&previous), None, None);
        assert_eq!(Record::parse(&text).unwrap().previous, Some(previous));
    }

    #[test]
    fn a_late_result_reads_back_with_its_penalty() {
        let due = crate::datetime::ZonedTime::parse("2026-12-01T22:00:00-05:00").unwrap();
        let deadline = crate::spec::Deadline {
            due,
            grace: Duration::ZERO,
            penalty: crate::spec::LatePenalty::Flat { fraction: 0.2 },
        };
        let mut at = due.at;
        at.unix_ms += 90 * 60_000;
        let late = crate::deadline::assess(
            &deadline,
            crate::deadline::Submitted {
                at: at.at_offset(0),
                source: crate::deadline::TimeSource::FileTimes,
                skipped: vec![],
            },
        );
        let text = render(&result(), Some(&key()), None, Some(&late), None);
        let record = Record::parse(&text).unwrap();
        assert_eq!(
            (record.score, record.score_before_penalty),
            (1.2, Some(1.5))
        );
        assert!((record.late_penalty() - 0.3).abs() < 1e-9);
        let l = record.late.unwrap();
        assert_eq!(
            (
                l.submitted_at.as_str(),
                l.source.as_str(),
                l.late_by_s,
                l.penalty_fraction
            ),
            ("2026-12-01T23:30:00-05:00", "file_times", 5400, 0.2)
        );
    }

    #[test]
    fn a_result_without_a_key_is_never_reused() {
        let text = serde_json::to_string(&crate::report::to_json(&result())).unwrap();
        let record = Record::parse(&text).unwrap();
        assert!(!record.graded_from(&key()));
        assert_eq!(record.as_previous().key_parts, None);
    }
}

//! Result files: the JSON of CONTRACT §3 plus what a batch needs to resume and compare
//! (`key`, `key_parts`, `previous`), written by a batch and read back by a batch or `merge`.
//!
//! Every row of the gradebook is built from a [`Record`] parsed from a file's text, whether the
//! result was graded a moment ago or kept from an earlier run: so a resumed batch, an
//! uninterrupted one and a merge of shards cannot disagree.

use serde::{Deserialize, Serialize};

use super::key::KeyParts;
use crate::report::{to_json, JsonResult};
use crate::verdict::GradeResult;

/// The earlier result a regrade replaced: what `changes.csv` compares against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Previous {
    pub score: f64,
    pub max_score: f64,
    /// Absent when the earlier result was written without a key (by `grade --format json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_parts: Option<KeyParts>,
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
}

/// The text of `result`'s file. Without a key (the submission could not be read to hash it)
/// the result is written but never reused.
pub fn render(result: &GradeResult, key: Option<&KeyParts>, previous: Option<&Previous>) -> String {
    let file = ResultFile {
        result: to_json(result),
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
        }
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
            kind: "output",
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
        }
    }

    fn key() -> KeyParts {
        KeyParts {
            submission: "s".into(),
            spec: "p".into(),
            grader: "g".into(),
        }
    }

    #[test]
    fn a_written_result_reads_back_with_its_key() {
        let text = render(&result(), Some(&key()), None);
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
        let previous = Previous {
            score: 3.0,
            max_score: 3.0,
            key_parts: Some(key()),
        };
        let text = render(&result(), Some(&key()), Some(&previous));
        assert_eq!(Record::parse(&text).unwrap().previous, Some(previous));
    }

    #[test]
    fn a_result_without_a_key_is_never_reused() {
        let text = serde_json::to_string(&to_json(&result())).unwrap();
        let record = Record::parse(&text).unwrap();
        assert!(!record.graded_from(&key()));
        assert_eq!(record.as_previous().key_parts, None);
    }
}

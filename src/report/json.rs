//! The JSON result of CONTRACT §3. Field names here are an interface: add, never rename.

use serde::Serialize;

use crate::verdict::{Evidence, GradeResult, TestResult, Verdict};

/// The whole result (`labgrade grade --format json`, and each file of `batch`).
#[derive(Debug, Serialize)]
pub struct JsonResult<'a> {
    pub submission: &'a str,
    pub score: f64,
    pub max_score: f64,
    pub tests: Vec<JsonTest<'a>>,
    pub lab: &'a str,
    pub warnings: &'a [String],
    pub build_ms: u64,
    pub total_ms: u64,
    pub grader_version: &'static str,
    /// Which sandbox layers were active when grading.
    pub sandbox: &'a [crate::sandbox::LayerStatus],
}

/// One test of the result.
#[derive(Debug, Serialize)]
pub struct JsonTest<'a> {
    pub exercise: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub status: &'static str,
    pub score: f64,
    pub max_score: f64,
    pub message: &'a str,
    /// Machine-readable reason of a failure (`wrong_output`, `timeout`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Why the verdict could not be decided here (the status is then the spec's policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inconclusive: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    pub duration_ms: u64,
    pub evidence: &'a Evidence,
}

/// The serialisable view of `result`.
pub fn to_json(result: &GradeResult) -> JsonResult<'_> {
    JsonResult {
        submission: &result.submission,
        score: round(result.score()),
        max_score: round(result.max_score()),
        tests: result.tests.iter().map(test).collect(),
        lab: &result.lab,
        warnings: &result.warnings,
        build_ms: result.build_time.as_millis() as u64,
        total_ms: result.total_time.as_millis() as u64,
        grader_version: env!("CARGO_PKG_VERSION"),
        sandbox: &result.sandbox,
    }
}

fn test(t: &TestResult) -> JsonTest<'_> {
    JsonTest {
        exercise: &t.exercise,
        kind: t.kind,
        name: &t.name,
        status: if t.verdict.passed() { "pass" } else { "fail" },
        score: round(t.score()),
        max_score: round(t.max_score),
        message: &t.message,
        reason: match &t.verdict {
            Verdict::Pass => None,
            Verdict::Fail(r) => Some(r.code()),
        },
        inconclusive: t.evidence.inconclusive.as_deref(),
        hidden: t.hidden,
        duration_ms: t.duration.as_millis() as u64,
        evidence: &t.evidence,
    }
}

/// Scores are sums of spec points; keep float noise (0.30000000000000004) out of gradebooks.
fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

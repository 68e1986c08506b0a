//! The JSON result of CONTRACT §3. Field names here are an interface: add, never rename.
//!
//! With a late policy, `score` is the penalised score (what goes into a gradebook) and
//! `score_before_penalty` keeps the tests' own sum; each test's `score` is never penalised.

use serde::Serialize;

use crate::deadline::Late;
use crate::points::round;
use crate::verdict::{Evidence, GradeResult, TestResult, Verdict};

/// The whole result (`labgrade grade --format json`, and each file of `batch`).
#[derive(Debug, Serialize)]
pub struct JsonResult<'a> {
    pub submission: &'a str,
    /// The score after any late penalty (what a gradebook takes).
    pub score: f64,
    pub max_score: f64,
    /// The score the tests earned, before the late penalty; present with `late`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_before_penalty: Option<f64>,
    /// When the submission was handed in and what the spec's late policy made of it; present
    /// when the spec has a `[deadline]` (on-time submissions included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<JsonLate>,
    pub tests: Vec<JsonTest<'a>>,
    pub lab: &'a str,
    pub warnings: &'a [String],
    pub build_ms: u64,
    pub total_ms: u64,
    pub grader_version: &'static str,
    /// The commit labgrade was built from (`unknown` outside a git checkout): with
    /// `grader_version`, which grader produced this result.
    pub grader_commit: &'static str,
    /// Which sandbox layers were active when grading.
    pub sandbox: &'a [crate::sandbox::LayerStatus],
    /// Where the graded programs were found (`kind`: `src`, `loose`, `nested`,
    /// `nested_loose`; `path`; `archive` when unpacked from one; `note`); absent when the
    /// submission could not be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<&'a crate::stage::Layout>,
    /// Where the grading's time went: build, tests, waiting for the timing lane, holding it.
    pub phases: crate::verdict::Phases,
}

/// The `late` field: the late policy's outcome.
#[derive(Debug, Serialize)]
pub struct JsonLate {
    /// The deadline, RFC 3339 at the spec's offset.
    pub due: String,
    /// When the submission was handed in, RFC 3339 at the deadline's offset.
    pub submitted_at: String,
    /// Where `submitted_at` came from: `gradescope`, `gradescope_export` (a TA's "Download
    /// Submissions" export), `git` or `file_times`.
    pub source: &'static str,
    /// Seconds after the deadline (0 when on time).
    pub late_by_s: u64,
    /// Late, but within the grace period (so no penalty).
    pub within_grace: bool,
    /// Fraction of the score taken: `score = score_before_penalty * (1 - penalty_fraction)`.
    pub penalty_fraction: f64,
    /// Better time sources that were present but unusable, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_sources: Vec<String>,
    /// The deadline's named time zone (`America/New_York`), when the spec names one; `due`
    /// and `submitted_at` are then at that zone's offset on their dates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<&'static str>,
    /// This submission's own deadline, from the TA's extensions file (RFC 3339): `late_by_s`
    /// and the penalty are measured from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_to: Option<String>,
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

/// The serialisable view of `result`, without a late policy.
pub fn to_json(result: &GradeResult) -> JsonResult<'_> {
    to_json_with(result, None)
}

/// The serialisable view of `result`, with `late`'s penalty applied to `score` when given.
pub fn to_json_with<'a>(result: &'a GradeResult, late: Option<&Late>) -> JsonResult<'a> {
    let raw = round(result.score());
    JsonResult {
        submission: &result.submission,
        score: late.map_or(raw, |l| l.penalised(raw)),
        max_score: round(result.max_score()),
        score_before_penalty: late.map(|_| raw),
        late: late.map(json_late),
        tests: result.tests.iter().map(test).collect(),
        lab: &result.lab,
        warnings: &result.warnings,
        build_ms: result.build_time.as_millis() as u64,
        total_ms: result.total_time.as_millis() as u64,
        grader_version: env!("CARGO_PKG_VERSION"),
        grader_commit: crate::version::COMMIT,
        sandbox: &result.sandbox,
        layout: result.layout.as_ref(),
        phases: result.phases,
    }
}

fn json_late(late: &Late) -> JsonLate {
    JsonLate {
        due: late.due.rfc3339(),
        submitted_at: late.submitted_at().rfc3339(),
        source: late.submitted.source.code(),
        late_by_s: late.late_by.as_secs(),
        within_grace: late.within_grace,
        penalty_fraction: late.penalty_fraction,
        skipped_sources: late.submitted.skipped.clone(),
        time_zone: late.due.zone.map(|z| z.name()),
        extended_to: late.extended_to.map(|e| e.rfc3339()),
    }
}

fn test(t: &TestResult) -> JsonTest<'_> {
    JsonTest {
        exercise: &t.exercise,
        kind: t.kind.name(),
        name: &t.name,
        status: if t.verdict.passed() { "pass" } else { "fail" },
        score: round(t.score()),
        max_score: round(t.max_score),
        message: &t.message,
        reason: match &t.verdict {
            Verdict::Pass => None,
            Verdict::Fail(r) => Some(r.code()),
        },
        inconclusive: t.evidence.inconclusive(),
        hidden: t.hidden,
        duration_ms: t.duration.as_millis() as u64,
        evidence: &t.evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::junit::tests::sample;
    use crate::report::late::tests::late;

    #[test]
    fn a_late_penalty_lowers_score_and_keeps_the_raw_one() {
        let result = sample();
        let plain = serde_json::to_value(to_json(&result)).unwrap();
        assert_eq!(plain["score"], 2.5);
        assert!(plain.get("late").is_none() && plain.get("score_before_penalty").is_none());

        let json = serde_json::to_value(to_json_with(&result, Some(&late(2 * 3600)))).unwrap();
        assert_eq!(json["score"], 2.25);
        assert_eq!(json["score_before_penalty"], 2.5);
        assert_eq!(json["max_score"], 4.5);
        assert_eq!(json["tests"][0]["score"], 1.0);
        assert_eq!(
            json["late"],
            serde_json::json!({
                "due": "2026-12-01T22:00:00-05:00",
                "submitted_at": "2026-12-02T00:00:00-05:00",
                "source": "git",
                "late_by_s": 7200,
                "within_grace": false,
                "penalty_fraction": 0.1,
                "skipped_sources": ["submission_metadata.json: no `created_at` field"],
            })
        );
        let on_time = serde_json::to_value(to_json_with(&result, Some(&late(-5)))).unwrap();
        assert_eq!(on_time["score"], 2.5);
        assert_eq!(on_time["late"]["late_by_s"], 0);
        assert_eq!(on_time["late"]["penalty_fraction"], 0.0);
    }
}

//! Gradescope's `results.json`, as its autograder specification defines it
//! (<https://gradescope-autograders.readthedocs.io/en/latest/specs/>): the repository's
//! `gradescope/run_autograder` runs `labgrade grade /autograder/submission --report
//! gradescope=/autograder/results/results.json`.
//!
//! Field names are Gradescope's, not ours. The specification has no top-level `max_score` (the
//! assignment's points are set on Gradescope; each test carries its own), so ours travels in
//! `extra_data` with the submission, the lab and the grader's version. Tests the spec marks
//! `hidden` are `after_published`: scored now, shown when staff publish grades; Gradescope then
//! hides the total from the student until publication, and so does our summary.

use serde::Serialize;

use crate::deadline::Late;
use crate::verdict::{GradeResult, TestResult};

use super::junit::evidence_text;
use crate::points::round;

/// The whole `results.json`.
#[derive(Debug, Serialize)]
struct Results<'a> {
    score: f64,
    /// Whole seconds.
    execution_time: u64,
    output: String,
    output_format: &'static str,
    visibility: &'static str,
    /// Our stdout is the human report of every test, hidden ones included: staff only.
    stdout_visibility: &'static str,
    extra_data: Extra<'a>,
    tests: Vec<Test<'a>>,
}

/// What Gradescope stores without showing.
#[derive(Debug, Serialize)]
struct Extra<'a> {
    submission: &'a str,
    lab: &'a str,
    max_score: f64,
    grader_version: &'static str,
}

/// One test case.
#[derive(Debug, Serialize)]
struct Test<'a> {
    name: String,
    name_format: &'static str,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
    output_format: &'static str,
    visibility: &'static str,
    tags: [&'a str; 2],
}

/// `late`: the spec's late policy applied to this submission; its penalty lowers the score
/// (the per-test scores stay what the tests earned) and the summary says why.
pub(super) fn render(result: &GradeResult, late: Option<&Late>) -> String {
    let raw = round(result.score());
    let mut output = summary(result);
    if let Some(late) = late {
        // With hidden tests the total stays unpublished, so the sentence names no points.
        let all_visible = result.tests.iter().all(|t| !t.hidden);
        let scores = all_visible.then(|| (raw, round(result.max_score())));
        output.push('\n');
        output.push_str(&super::late::sentence(late, scores));
    }
    let results = Results {
        score: late.map_or(raw, |l| l.penalised(raw)),
        execution_time: result.total_time.as_secs_f64().round() as u64,
        output,
        output_format: "text",
        visibility: "visible",
        stdout_visibility: "hidden",
        extra_data: Extra {
            submission: &result.submission,
            lab: &result.lab,
            max_score: round(result.max_score()),
            grader_version: env!("CARGO_PKG_VERSION"),
        },
        tests: result.tests.iter().map(test).collect(),
    };
    let mut text = serde_json::to_string_pretty(&results).expect("plain data");
    text.push('\n');
    text
}

fn test(t: &TestResult) -> Test<'_> {
    let evidence = evidence_text(t);
    let output = if evidence.is_empty() {
        t.message.clone()
    } else {
        format!("{}\n\n{evidence}", t.message)
    };
    Test {
        name: format!("{} / {}: {}", t.exercise, t.kind, t.name),
        name_format: "text",
        score: round(t.score()),
        max_score: round(t.max_score),
        status: if t.verdict.passed() {
            "passed"
        } else {
            "failed"
        },
        output,
        output_format: "text",
        visibility: if t.hidden {
            "after_published"
        } else {
            "visible"
        },
        tags: [&t.exercise, t.kind.name()],
    }
}

/// The submission-level text a student sees above the tests: score and counts of what they can
/// see now, and the grader's warnings (files handed in but not used).
fn summary(result: &GradeResult) -> String {
    let visible: Vec<&TestResult> = result.tests.iter().filter(|t| !t.hidden).collect();
    let hidden = result.tests.len() - visible.len();
    let passed = visible.iter().filter(|t| t.verdict.passed()).count();
    let score: f64 = visible.iter().map(|t| t.score()).sum();
    let max: f64 = visible.iter().map(|t| t.max_score).sum();
    let mut out = format!(
        "labgrade {} graded {} against {}. ",
        env!("CARGO_PKG_VERSION"),
        result.submission,
        result.lab
    );
    let (score, max, n) = (round(score), round(max), visible.len());
    if hidden == 0 {
        out.push_str(&format!(
            "Score: {score} / {max} points; {passed} of {n} tests passed."
        ));
    } else {
        out.push_str(&format!(
            "Visible tests: {score} / {max} points; {passed} of {n} passed. \
             {hidden} more test{} will be shown when grades are published.",
            if hidden == 1 { "" } else { "s" }
        ));
    }
    for w in &result.warnings {
        out.push_str(&format!("\nwarning: {w}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::report::junit::tests::sample;

    fn parsed(result: &GradeResult) -> Value {
        serde_json::from_str(&render(result, None)).expect("valid JSON")
    }

    #[test]
    fn results_json_has_gradescopes_fields_and_our_values() {
        let version = env!("CARGO_PKG_VERSION");
        let expected = json!({
            "score": 2.5,
            "execution_time": 3,
            "output": format!(
                "labgrade {version} graded alice against lab10. Visible tests: 1 / 3 points; \
                 1 of 3 passed. 1 more test will be shown when grades are published.\n\
                 warning: ignored Cargo.toml: the course's is used"
            ),
            "output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "extra_data": {
                "submission": "alice",
                "lab": "lab10",
                "max_score": 4.5,
                "grader_version": version,
            },
            "tests": [
                {
                    "name": "pool-sum / output: n=10 p=3",
                    "name_format": "text",
                    "score": 1.0,
                    "max_score": 1.0,
                    "status": "passed",
                    "output": "`pool_sum 10 3` printed 55\n\ncommand: pool_sum 10 3\n\
                               exit: exit status 0\ntime: 12 ms wall, 3 ms cpu\nstdout:\n    55\n",
                    "output_format": "text",
                    "visibility": "visible",
                    "tags": ["pool-sum", "output"],
                },
                {
                    "name": "pool-sum / output: n=100 p=4",
                    "name_format": "text",
                    "score": 0.0,
                    "max_score": 2.0,
                    "status": "failed",
                    "output": "`pool_sum 100 4` printed 5049, expected 5050\n\n\
                               command: pool_sum 100 4\nexit: exit status 0\n\
                               expected: 5050\ngot: 5049\nstdout:\n    5049\n",
                    "output_format": "text",
                    "visibility": "visible",
                    "tags": ["pool-sum", "output"],
                },
                {
                    "name": "counter / build: build counter",
                    "name_format": "text",
                    "score": 0.0,
                    "max_score": 0.0,
                    "status": "failed",
                    "output": "counter does not compile: src/bin/counter.rs:12:5: cannot find \
                               value `x` in this scope\n\nstderr:\n    error[E0425]: cannot \
                               find value `x` in this scope\n",
                    "output_format": "text",
                    "visibility": "visible",
                    "tags": ["counter", "build"],
                },
                {
                    "name": "counter / race: safe p=4 k=1000",
                    "name_format": "text",
                    "score": 1.5,
                    "max_score": 1.5,
                    "status": "passed",
                    "output": "20 runs, no update lost\n\ncommand: counter safe 4 1000\n\
                               runs: 20\nvalues seen: 4000 (20×)\n",
                    "output_format": "text",
                    "visibility": "after_published",
                    "tags": ["counter", "race"],
                },
            ],
        });
        assert_eq!(parsed(&sample()), expected);
    }

    #[test]
    fn without_hidden_tests_the_summary_gives_the_whole_score() {
        let mut result = sample();
        result.tests.retain(|t| !t.hidden);
        result.warnings.clear();
        let value = parsed(&result);
        assert_eq!(
            value["output"],
            format!(
                "labgrade {} graded alice against lab10. Score: 1 / 3 points; 1 of 3 tests passed.",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(value["score"], 1.0);
        assert_eq!(value["extra_data"]["max_score"], 3.0);
    }

    #[test]
    fn a_late_penalty_lowers_the_score_and_is_explained() {
        let late = crate::report::late::tests::late(2 * 3600);
        let parsed = |result: &GradeResult| -> Value {
            serde_json::from_str(&render(result, Some(&late))).unwrap()
        };
        let with_hidden = parsed(&sample());
        assert_eq!(with_hidden["score"], 2.25);
        assert_eq!(with_hidden["tests"][0]["score"], 1.0);
        let output = with_hidden["output"].as_str().unwrap();
        assert!(
            output.ends_with("per the last git commit, whose date the student sets): a 10% late penalty on the score."),
            "{output}"
        );
        let mut visible = sample();
        visible.tests.retain(|t| !t.hidden);
        let output = parsed(&visible)["output"].as_str().unwrap().to_string();
        assert!(
            output.ends_with("a 10% late penalty, 1 → 0.9 / 3 points."),
            "{output}"
        );
    }

    #[test]
    fn a_test_without_evidence_outputs_only_its_message() {
        let mut result = sample();
        result.tests[0].evidence = Default::default();
        assert_eq!(
            parsed(&result)["tests"][0]["output"],
            "`pool_sum 10 3` printed 55"
        );
    }

    #[test]
    fn scores_and_times_are_rounded() {
        let mut result = sample();
        for (t, points) in result.tests.iter_mut().zip([0.1, 0.2, 0.0, 0.0]) {
            t.verdict = crate::verdict::Verdict::Pass;
            t.max_score = points;
        }
        result.total_time = std::time::Duration::from_millis(1499);
        let value = parsed(&result);
        assert_eq!(value["score"], 0.3);
        assert_eq!(value["execution_time"], 1);
    }
}

//! JUnit XML, for the test panels of CI systems (GitHub Actions reporters, GitLab's `junit`
//! artifact report, Jenkins): one `<testsuite>` per exercise, one `<testcase>` per test.
//!
//! Hand-written rather than built on a crate: the document is small and fixed, and the one hard
//! part, text a student's program printed, is escaped by [`super::markup`]: XML metacharacters
//! become entities, ANSI color sequences are dropped, and characters XML 1.0 cannot carry at all
//! (NUL and the other C0 controls) are replaced, so a hostile submission cannot break the report
//! a CI job parses.
//! This module also owns [`evidence_text`], the plain-text evidence the Gradescope report reuses.

use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

use super::markup::{attr, text};
use super::points;
use crate::verdict::{GradeResult, Reason, TestResult, Verdict};

pub(super) fn render(result: &GradeResult) -> String {
    let failures = result.tests.iter().filter(|t| !t.verdict.passed()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"labgrade\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">",
        result.tests.len(),
        secs(result.total_time)
    );
    for exercise in exercises(result) {
        let tests: Vec<&TestResult> = result
            .tests
            .iter()
            .filter(|t| t.exercise == exercise)
            .collect();
        suite(&mut out, result, exercise, &tests);
    }
    out.push_str("</testsuites>\n");
    out
}

/// Exercise names in order of first appearance.
fn exercises(result: &GradeResult) -> Vec<&str> {
    super::exercises(&result.tests.iter().collect::<Vec<_>>())
}

fn suite(out: &mut String, result: &GradeResult, exercise: &str, tests: &[&TestResult]) {
    let failures = tests.iter().filter(|t| !t.verdict.passed()).count();
    let time: Duration = tests.iter().map(|t| t.duration).sum();
    let score: f64 = tests.iter().map(|t| t.score()).sum();
    let max: f64 = tests.iter().map(|t| t.max_score).sum();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{}\">",
        attr(exercise),
        tests.len(),
        secs(time)
    );
    out.push_str("    <properties>\n");
    for (name, value) in [
        ("score", points(score)),
        ("max_score", points(max)),
        ("submission", result.submission.clone()),
        ("lab", result.lab.clone()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attr(&value)
        );
    }
    out.push_str("    </properties>\n");
    let classname = format!("{}.{exercise}", result.submission);
    // GitLab keeps only the first of several test cases with the same class and name.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in tests {
        let base = format!("{}: {}", t.kind, t.name);
        let n = seen.entry(base.clone()).or_default();
        *n += 1;
        let name = if *n == 1 {
            base
        } else {
            format!("{base} ({n})")
        };
        case(out, &classname, &name, t);
    }
    out.push_str("  </testsuite>\n");
}

fn case(out: &mut String, classname: &str, name: &str, t: &TestResult) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        attr(classname),
        attr(name),
        secs(t.duration)
    );
    let evidence = evidence_text(t);
    match &t.verdict {
        Verdict::Fail(reason) => {
            let _ = writeln!(
                out,
                ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                reason.code(),
                attr(&t.message),
                text(&evidence)
            );
        }
        Verdict::Pass if !evidence.is_empty() => {
            let _ = writeln!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                text(&evidence)
            );
        }
        Verdict::Pass => out.push_str("/>\n"),
    }
}

/// What the grader saw behind `t`'s verdict, as plain text: the command, its ending and timing,
/// expected and printed values, repeated runs, and stdout/stderr excerpts. Empty when the grader
/// recorded nothing (a build that passed).
pub(super) fn evidence_text(t: &TestResult) -> String {
    let e = &t.evidence;
    let run = e.run().cloned().unwrap_or_default();
    let mut out = String::new();
    if let Some(command) = &run.command {
        let _ = writeln!(out, "command: {command}");
    }
    if let Some(exit) = &run.exit {
        let _ = writeln!(out, "exit: {exit}");
    }
    match (run.wall_ms, run.cpu_ms) {
        (Some(wall), Some(cpu)) => {
            let _ = writeln!(out, "time: {wall} ms wall, {cpu} ms cpu");
        }
        (Some(wall), None) => {
            let _ = writeln!(out, "time: {wall} ms wall");
        }
        (None, Some(cpu)) => {
            let _ = writeln!(out, "time: {cpu} ms cpu");
        }
        (None, None) => {}
    }
    if let Verdict::Fail(Reason::WrongOutput { expected, got }) = &t.verdict {
        let _ = writeln!(out, "expected: {expected}\ngot: {got}");
    }
    let race = e.race();
    if let Some(runs) = race.and_then(|r| r.runs) {
        let _ = writeln!(out, "runs: {runs}");
    }
    if let Some(values) = race.and_then(|r| r.values_seen.as_ref()) {
        let seen: Vec<String> = values
            .iter()
            .map(|(value, n)| format!("{value} ({n}×)"))
            .collect();
        let _ = writeln!(out, "values seen: {}", seen.join(", "));
    }
    for (label, text) in [("stdout", e.stdout()), ("stderr", e.stderr())] {
        if let Some(text) = text {
            let _ = writeln!(out, "{label}:");
            for line in text.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::build::CompileError;
    use crate::verdict::{Evidence, RaceProbeEvidence, RunEvidence};

    fn test(exercise: &str, kind: &'static str, name: &str, verdict: Verdict) -> TestResult {
        TestResult {
            exercise: exercise.to_string(),
            kind: crate::verdict::ResultKind::parse(kind).unwrap(),
            name: name.to_string(),
            verdict,
            max_score: 1.0,
            message: String::new(),
            evidence: Evidence::default(),
            hidden: false,
            duration: Duration::from_millis(250),
        }
    }

    /// A pass, a wrong output with evidence, a failed build and a hidden race probe: the
    /// fixture of this module's tests and of the Gradescope report's.
    pub(in crate::report) fn sample() -> GradeResult {
        let mut pass = test("pool-sum", "output", "n=10 p=3", Verdict::Pass);
        pass.message = "`pool_sum 10 3` printed 55".to_string();
        pass.evidence = Evidence::Output(RunEvidence {
            command: Some("pool_sum 10 3".to_string()),
            wall_ms: Some(12),
            cpu_ms: Some(3),
            exit: Some("exit status 0".to_string()),
            stdout: Some("55\n".to_string()),
            ..RunEvidence::default()
        });
        let mut wrong = test(
            "pool-sum",
            "output",
            "n=100 p=4",
            Verdict::Fail(Reason::WrongOutput {
                expected: "5050".to_string(),
                got: "5049".to_string(),
            }),
        );
        wrong.message = "`pool_sum 100 4` printed 5049, expected 5050".to_string();
        wrong.max_score = 2.0;
        wrong.evidence = Evidence::Output(RunEvidence {
            command: Some("pool_sum 100 4".to_string()),
            exit: Some("exit status 0".to_string()),
            stdout: Some("5049\n".to_string()),
            ..RunEvidence::default()
        });
        let rendered = "error[E0425]: cannot find value `x` in this scope".to_string();
        let mut build = test(
            "counter",
            "build",
            "build counter",
            Verdict::Fail(Reason::BuildFailed(Box::new(CompileError {
                file: Some("src/bin/counter.rs".to_string()),
                line: Some(12),
                column: Some(5),
                message: "cannot find value `x` in this scope".to_string(),
                rendered: rendered.clone(),
                count: 1,
            }))),
        );
        build.message = "counter does not compile: src/bin/counter.rs:12:5: cannot find value `x` in this scope".to_string();
        build.max_score = 0.0;
        build.duration = Duration::ZERO;
        build.evidence = Evidence::Build {
            compiler_output: rendered,
        };
        let mut hidden = test("counter", "race", "safe p=4 k=1000", Verdict::Pass);
        hidden.message = "20 runs, no update lost".to_string();
        hidden.hidden = true;
        hidden.max_score = 1.5;
        hidden.evidence = Evidence::Race(RaceProbeEvidence {
            run: RunEvidence {
                command: Some("counter safe 4 1000".to_string()),
                ..RunEvidence::default()
            },
            runs: Some(20),
            values_seen: Some(BTreeMap::from([("4000".to_string(), 20)])),
            ..RaceProbeEvidence::default()
        });
        GradeResult {
            submission: "alice".to_string(),
            lab: "lab10".to_string(),
            tests: vec![pass, wrong, build, hidden],
            warnings: vec!["ignored Cargo.toml: the course's is used".to_string()],
            build_time: Duration::from_millis(1500),
            total_time: Duration::from_millis(2600),
            sandbox: vec![],
            layout: None,
            phases: Default::default(),
        }
    }

    fn parse(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"))
    }

    fn cases<'a>(doc: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect()
    }

    #[test]
    fn suites_follow_exercises_and_count_tests_and_failures() {
        let xml = render(&sample());
        let doc = parse(&xml);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("name"), Some("labgrade"));
        assert_eq!(root.attribute("tests"), Some("4"));
        assert_eq!(root.attribute("failures"), Some("2"));
        assert_eq!(root.attribute("time"), Some("2.600"));
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        let summary: Vec<_> = suites
            .iter()
            .map(|s| {
                (
                    s.attribute("name").unwrap(),
                    s.attribute("tests").unwrap(),
                    s.attribute("failures").unwrap(),
                    s.attribute("time").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("pool-sum", "2", "1", "0.500"),
                ("counter", "2", "1", "0.250")
            ]
        );
    }

    #[test]
    fn suites_carry_their_score_as_properties() {
        let xml = render(&sample());
        let doc = parse(&xml);
        let props: Vec<Vec<(&str, &str)>> = doc
            .descendants()
            .filter(|n| n.has_tag_name("properties"))
            .map(|p| {
                p.children()
                    .filter(|n| n.has_tag_name("property"))
                    .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
                    .collect()
            })
            .collect();
        let expect = |score, max| {
            vec![
                ("score", score),
                ("max_score", max),
                ("submission", "alice"),
                ("lab", "lab10"),
            ]
        };
        assert_eq!(props, [expect("1", "3"), expect("1.5", "1.5")]);
    }

    #[test]
    fn test_cases_are_named_by_submission_exercise_kind_and_name() {
        let xml = render(&sample());
        let doc = parse(&xml);
        let names: Vec<_> = cases(&doc)
            .iter()
            .map(|c| {
                (
                    c.attribute("classname").unwrap(),
                    c.attribute("name").unwrap(),
                    c.attribute("time").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("alice.pool-sum", "output: n=10 p=3", "0.250"),
                ("alice.pool-sum", "output: n=100 p=4", "0.250"),
                ("alice.counter", "build: build counter", "0.000"),
                ("alice.counter", "race: safe p=4 k=1000", "0.250"),
            ]
        );
    }

    #[test]
    fn failures_carry_reason_code_message_and_evidence() {
        let xml = render(&sample());
        let doc = parse(&xml);
        let all = cases(&doc);
        let failure = |i: usize| {
            all[i]
                .children()
                .find(|n| n.has_tag_name("failure"))
                .unwrap_or_else(|| panic!("case {i} has no <failure>"))
        };
        let wrong = failure(1);
        assert_eq!(wrong.attribute("type"), Some("wrong_output"));
        assert_eq!(
            wrong.attribute("message"),
            Some("`pool_sum 100 4` printed 5049, expected 5050")
        );
        assert_eq!(
            wrong.text(),
            Some(
                "command: pool_sum 100 4\nexit: exit status 0\nexpected: 5050\ngot: 5049\n\
                 stdout:\n    5049\n"
            )
        );
        let build = failure(2);
        assert_eq!(build.attribute("type"), Some("build_failed"));
        assert_eq!(
            build.text(),
            Some("stderr:\n    error[E0425]: cannot find value `x` in this scope\n")
        );
        assert!(all[0].children().all(|n| !n.has_tag_name("failure")));
        assert!(all[3].children().all(|n| !n.has_tag_name("failure")));
    }

    #[test]
    fn passes_show_their_evidence_as_system_out_when_there_is_any() {
        let mut result = sample();
        result.tests[0].evidence.run_mut().unwrap().stdout = None;
        let mut quiet = test("counter", "build", "build counter", Verdict::Pass);
        quiet.message = "compiled".to_string();
        result.tests.push(quiet);
        let xml = render(&result);
        let doc = parse(&xml);
        let all = cases(&doc);
        let out = |i: usize| {
            all[i]
                .children()
                .find(|n| n.has_tag_name("system-out"))
                .and_then(|n| n.text())
        };
        assert_eq!(
            out(0),
            Some("command: pool_sum 10 3\nexit: exit status 0\ntime: 12 ms wall, 3 ms cpu\n")
        );
        assert_eq!(
            out(3),
            Some("command: counter safe 4 1000\nruns: 20\nvalues seen: 4000 (20×)\n")
        );
        assert_eq!(out(4), None);
        assert_eq!(all[4].children().filter(|n| n.is_element()).count(), 0);
    }

    #[test]
    fn duplicate_names_are_made_unique() {
        let mut result = sample();
        let twin = result.tests[0].clone();
        result.tests.insert(1, twin.clone());
        result.tests.push(twin);
        let xml = render(&result);
        let doc = parse(&xml);
        let names: Vec<_> = cases(&doc)
            .iter()
            .filter(|c| c.attribute("classname") == Some("alice.pool-sum"))
            .map(|c| c.attribute("name").unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "output: n=10 p=3",
                "output: n=10 p=3 (2)",
                "output: n=100 p=4",
                "output: n=10 p=3 (3)"
            ]
        );
    }

    #[test]
    fn hostile_student_text_stays_text() {
        let mut result = sample();
        result.submission = "a\"b<c>&'d".to_string();
        let t = &mut result.tests[1];
        t.name = "n=1 ]]> <script>alert('x')</script>".to_string();
        t.message = "line one\nline two\tend".to_string();
        let run = t.evidence.run_mut().unwrap();
        run.stdout = Some("]]><![CDATA[\0\x07\x0b\x0c\x1f\u{FFFE}ok".to_string());
        run.stderr = Some("\x1b[31mred\x1b[0m & </failure>".to_string());
        let xml = render(&result);
        assert!(!xml.contains('\0'), "NUL reached the XML");
        assert!(!xml.contains("<script>"));
        assert!(!xml.contains("]]>"));
        assert!(!xml.contains('\x1b'));
        let doc = parse(&xml);
        let case = cases(&doc)[1];
        assert_eq!(case.attribute("classname"), Some("a\"b<c>&'d.pool-sum"));
        assert_eq!(
            case.attribute("name"),
            Some("output: n=1 ]]> <script>alert('x')</script>")
        );
        let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(
            failure.attribute("message"),
            Some("line one\nline two\tend")
        );
        let text = failure.text().unwrap();
        assert!(
            text.contains("    ]]><![CDATA[\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}ok\n"),
            "{text:?}"
        );
        assert!(text.contains("    red & </failure>\n"), "{text:?}");
    }
}

//! Snapshot tests of the terminal report (colors off): the exact text people read.

use std::time::Duration;

use super::*;
use crate::report::junit::tests::sample;
use crate::report::Withheld;

fn plain(result: &GradeResult, opts: &ReportOptions) -> String {
    colored::control::set_override(false);
    let text = render(result, opts);
    // The first line names this labgrade (`with labgrade 0.1.0 (abc1234)`): checked here,
    // left out of the snapshots so that they do not change with every commit.
    let version = format!(" with {}", crate::version::NAMED);
    let first = text.lines().next().unwrap_or_default();
    assert!(first.ends_with(&version), "{first:?}");
    text.replacen(&version, "", 1)
}

fn student() -> ReportOptions {
    ReportOptions {
        audience: Audience::Student,
        rerun: Some("labgrade check".to_string()),
        ..ReportOptions::default()
    }
}

#[test]
fn staff_see_every_test_with_hidden_ones_marked_and_timings() {
    let opts = ReportOptions {
        verbose: true,
        ..ReportOptions::default()
    };
    assert_eq!(
        plain(&sample(), &opts),
        "Grading alice against lab10
  warning: ignored Cargo.toml: the course's is used

■ pool-sum  1/2 tests passed, 1 / 3 points
  FAIL output    n=100 p=4  0/2
       `pool_sum 100 4` printed 5049, expected 5050
  PASS output    n=10 p=3

■ counter  1/2 tests passed, 1.5 / 1.5 points
  FAIL build     build counter  0/0
       counter does not compile: src/bin/counter.rs:12:5: cannot find value `x` in this scope
       error[E0425]: cannot find value `x` in this scope
  PASS race      safe p=4 k=1000 (hidden)

Score: 2.5 / 4.5  (2.6 s, build 1.5 s)
"
    );
}

#[test]
fn staff_see_the_late_penalty_under_the_score() {
    let opts = ReportOptions {
        late: Some(crate::report::late::tests::late(2 * 3600)),
        ..ReportOptions::default()
    };
    let text = plain(&sample(), &opts);
    let tail = &text[text.find("Score:").unwrap()..];
    assert_eq!(
        tail,
        "Score: 2.25 / 4.5  (2.6 s, build 1.5 s)
Handed in 2 hours late (Wednesday 2 December 2026, 00:00 (UTC-05:00), per the last git commit, whose date the student sets): a 10% late penalty, 2.5 → 2.25 / 4.5 points.
  note: submission time: not from submission_metadata.json: no `created_at` field
"
    );
}

#[test]
fn the_student_sees_failures_first_how_to_rerun_them_and_what_to_try_next() {
    assert_eq!(
        plain(&sample(), &student()),
        "Grading alice against lab10
  warning: ignored Cargo.toml: the course's is used

■ pool-sum  1 of 2 tests failing, 1 / 3 points
  FAIL n=100 p=4  0 / 2 points
       `pool_sum 100 4` printed 5049, expected 5050
       re-run: labgrade run pool_sum -- 100 4
  ok   1 other test passed

■ counter  1 of 1 tests failing, 0 / 0 points
  FAIL build counter  0 / 0 points
       counter does not compile: src/bin/counter.rs:12:5: cannot find value `x` in this scope
       error[E0425]: cannot find value `x` in this scope
       re-run: labgrade check --only counter

Score: 1 / 3 points, 2 tests failing
Next: run `labgrade run pool_sum -- 100 4` yourself: it should print 5050
"
    );
}

#[test]
fn the_students_success_is_quiet() {
    let mut result = sample();
    result.warnings.clear();
    for t in &mut result.tests {
        t.verdict = Verdict::Pass;
    }
    let opts = ReportOptions {
        withheld: Withheld {
            tests: 2,
            points: 3.0,
        },
        deadline: Some(Countdown::Left {
            due: "Tuesday 1 December 2026, 22:00 (UTC-05:00)".to_string(),
            left: Duration::from_secs(2 * 86400 + 3 * 3600 + 59),
        }),
        ..student()
    };
    assert_eq!(
        plain(&result, &opts),
        "Grading alice against lab10
Due Tuesday 1 December 2026, 22:00 (UTC-05:00), in 2 days 3 hours
  ok pool-sum  2 tests, 3 / 3 points
  ok counter  1 test, 0 / 0 points
All 3 tests passed: 3 / 3 points.
2 hidden tests (3 points) are not part of this check; they are graded with your submission.
"
    );
}

#[test]
fn many_failures_are_listed_after_the_first_few_and_unbuilt_tests_are_counted() {
    let mut result = sample();
    result.warnings.clear();
    let wrong = result.tests[1].clone();
    let build = result.tests[2].clone();
    let mut tests = vec![];
    for i in 0..7 {
        let mut t = wrong.clone();
        t.name = format!("n={i}");
        t.max_score = 0.5;
        t.evidence.run_mut().unwrap().command = Some(format!("pool_sum {i} 4"));
        tests.push(t);
    }
    tests.push(build.clone());
    for name in ["safe p=1", "safe p=2"] {
        let mut t = build.clone();
        t.kind = crate::verdict::ResultKind::OUTPUT;
        t.name = name.to_string();
        t.max_score = 1.0;
        t.message = "not run: counter does not compile".to_string();
        tests.push(t);
    }
    result.tests = tests;
    let text = plain(&result, &student());
    let expected_tail = "  FAIL n=5  0 / 0.5 points
       re-run: labgrade run pool_sum -- 5 4
  FAIL n=6  0 / 0.5 points
       re-run: labgrade run pool_sum -- 6 4

■ counter  3 of 3 tests failing, 0 / 2 points
  FAIL build counter  0 / 0 points
       counter does not compile: src/bin/counter.rs:12:5: cannot find value `x` in this scope
       error[E0425]: cannot find value `x` in this scope
       re-run: labgrade check --only counter
  FAIL 2 tests not run until it builds (2 points)

Score: 0 / 5.5 points, 10 tests failing
Next: run `labgrade run pool_sum -- 0 4` yourself: it should print 5050
";
    assert!(text.ends_with(expected_tail), "{text}");
    assert_eq!(text.matches("printed 5049").count(), DETAILED_FAILURES);
}

#[test]
fn a_different_kind_of_failure_past_the_cap_is_shown_in_full() {
    let mut result = sample();
    result.warnings.clear();
    let wrong = result.tests[1].clone();
    let mut tests = vec![];
    for i in 0..7 {
        let mut t = wrong.clone();
        t.name = format!("n={i}");
        tests.push(t);
    }
    let mut slow = wrong.clone();
    slow.name = "n=7".to_string();
    slow.verdict = Verdict::Fail(Reason::Timeout {
        after: Duration::from_secs(10),
    });
    slow.message = "`pool_sum 7 4` did not finish within 10.0 s".to_string();
    tests.push(slow);
    result.tests = tests;
    let text = plain(&result, &student());
    assert_eq!(text.matches("printed 5049").count(), DETAILED_FAILURES);
    assert!(
        text.contains(
            "  FAIL n=7  0 / 2 points\n       `pool_sum 7 4` did not finish within 10.0 s\n"
        ),
        "{text}"
    );
}

#[test]
fn hidden_tests_never_reach_the_student() {
    let mut result = sample();
    result.tests[3].verdict = Verdict::Fail(Reason::LostUpdates { lost: 1, runs: 2 });
    result.tests[3].message = "secret".to_string();
    let verbose = ReportOptions {
        verbose: true,
        ..student()
    };
    for opts in [student(), verbose] {
        let text = plain(&result, &opts);
        assert!(
            !text.contains("safe p=4") && !text.contains("secret"),
            "{text}"
        );
    }
}

#[test]
fn rerun_lines_reproduce_one_run_with_labgrade_run_and_a_probe_with_only() {
    let mut result = sample();
    result.warnings.clear();
    // The hidden race probe, made visible and failing: many runs, so the check reproduces it.
    result.tests[3].verdict = Verdict::Fail(Reason::LostUpdates { lost: 3, runs: 2 });
    result.tests[3].hidden = false;
    let opts = ReportOptions {
        rerun: Some("labgrade check alice --spec s.toml".to_string()),
        ..student()
    };
    let text = plain(&result, &opts);
    let reruns: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("re-run: "))
        .collect();
    assert_eq!(
        reruns,
        [
            // One run of the program: the same command as "Next:", same folder and spec.
            "labgrade run pool_sum alice --spec s.toml -- 100 4",
            "labgrade check alice --spec s.toml --only counter",
            "labgrade check alice --spec s.toml --only 'counter/safe p=4 k=1000'",
        ],
        "{text}"
    );
    assert!(text.contains("Next: run `labgrade run pool_sum alice --spec s.toml -- 100 4`"));
}

#[test]
fn rerun_patterns_are_quoted_for_the_shell() {
    assert_eq!(shell_quote("counter"), "counter");
    assert_eq!(shell_quote("pool-sum/n=10 p=3"), "'pool-sum/n=10 p=3'");
    assert_eq!(shell_quote("it's"), "'it'\\''s'");
    assert_eq!(shell_quote("$HOME"), "'$HOME'");
    assert_eq!(shell_quote(""), "''");
}

#[test]
fn countdowns_read_naturally() {
    let left = Countdown::Left {
        due: "Tuesday 1 December 2026, 22:00 (UTC-05:00)".to_string(),
        left: Duration::from_secs(86400 + 3 * 3600 + 59),
    };
    assert_eq!(
        countdown(&left),
        "Due Tuesday 1 December 2026, 22:00 (UTC-05:00), in 1 day 3 hours"
    );
    let grace = Countdown::Grace {
        due: "Tue 22:00".to_string(),
        ago: Duration::from_secs(300),
        grace_left: Duration::from_secs(600),
    };
    assert_eq!(
        countdown(&grace),
        "Due Tue 22:00: passed 5 minutes ago, but a submission in the next 10 minutes is still \
         on time (grace period)"
    );
    let late = Countdown::Passed {
        due: "Tue 22:00".to_string(),
        ago: Duration::from_secs(2 * 3600),
        penalty_fraction: 0.1,
        policy: "10% per started day late, at most 50%".to_string(),
    };
    assert_eq!(
        countdown(&late),
        "Past due by 2 hours (due Tue 22:00): a 10% penalty applies (10% per started day late, \
         at most 50%)"
    );
    let free = Countdown::Passed {
        due: "Tue 22:00".to_string(),
        ago: Duration::from_secs(2 * 3600),
        penalty_fraction: 0.0,
        policy: "late submissions are marked late and keep their points".to_string(),
    };
    assert!(countdown(&free).ends_with(
        ": no penalty applies (late submissions are marked late and keep their points)"
    ));
}

/// A result whose every student-controlled text carries OSC 52 (set the clipboard), CSI
/// sequences, a C1 CSI, a bell and a carriage return.
fn hostile() -> GradeResult {
    let evil = "\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\x1b[1;1H\u{9b}31m\rall tests passed";
    let mut result = sample();
    result.submission = format!("alice{evil}");
    result.warnings = vec![format!("ignored src/{evil}.rs: not a regular file")];
    for t in &mut result.tests {
        t.message = format!("thread 'main' panicked at src/bin/counter.rs:3:5:\n{evil}");
        t.evidence = crate::verdict::Evidence::Build {
            compiler_output: format!("error: {evil}\n  --> src/bin/{evil}.rs:1:1"),
        };
    }
    result
}

#[test]
fn no_escape_sequence_of_a_student_reaches_the_terminal() {
    let result = hostile();
    let staff = ReportOptions {
        verbose: true,
        late: Some(crate::report::late::tests::late(2 * 3600)),
        ..ReportOptions::default()
    };
    for (who, opts) in [("staff", staff), ("student", student())] {
        let text = plain(&result, &opts);
        assert!(
            !super::super::terminal::has_raw_control(&text),
            "{who}: {text:?}"
        );
        assert!(
            text.contains("\\x1b]52;c;"),
            "{who}: shown, escaped: {text}"
        );
        assert!(text.contains("\\u{9b}31m"), "{who}: {text}");
    }
}

#[test]
fn tests_not_run_after_hangs_are_one_line_for_the_student() {
    let mut result = sample();
    let mut gate = result.tests[1].clone();
    gate.name = "n=0 p=1".to_string();
    gate.verdict = Verdict::Fail(Reason::Timeout {
        after: Duration::from_secs(2),
    });
    gate.message =
        "`pool_sum 0 1` did not finish within 2.0 s and was stopped: it sat idle".to_string();
    let mut tests = vec![gate.clone()];
    for name in ["n=10 p=1", "n=10 p=2", "n=100 p=1"] {
        let mut t = gate.clone();
        t.name = name.to_string();
        t.verdict = Verdict::Fail(Reason::NotRunAfterHangs);
        t.max_score = 0.5;
        t.message = "not run: `pool_sum` hung on n=0 p=1".to_string();
        tests.push(t);
    }
    result.tests = tests;
    let text = plain(&result, &student());
    assert!(text.contains("  FAIL n=0 p=1  0 / 2 points\n"), "{text}");
    assert!(
        text.contains("  FAIL 3 tests not run: the first tests hung (1.5 points)\n"),
        "{text}"
    );
    assert!(!text.contains("not run: `pool_sum`"), "{text}");
}

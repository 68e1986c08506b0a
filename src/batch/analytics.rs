//! Class analytics: what the class as a whole got wrong, for the TA's next lecture, in
//! `summary.md` and `index.html`: per exercise how many submissions failed it, the tests that
//! failed most, and the failure reasons (the results' `reason` codes) ranked by how many
//! submissions hit them, each with what to explain and who hit it.
//!
//! Pure functions of the result records (nothing is graded again), so a resumed batch, an
//! uninterrupted one and a merge of shards show the same numbers. This module says nothing of
//! one submission that its own page does not already say.

use super::record::Record;
use super::summary::test_rates;

/// One exercise: how many graded submissions failed at least one of its tests.
#[derive(Debug, Clone, PartialEq)]
pub struct ExerciseFailures<'a> {
    pub exercise: &'a str,
    pub failed: usize,
    /// Graded submissions with a test of this exercise.
    pub total: usize,
}

/// One test and how many submissions failed it.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFailures<'a> {
    pub exercise: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub failed: usize,
    pub total: usize,
}

/// One failure reason across the class.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis<'a> {
    /// The results' `reason` code (`threads_not_processes`).
    pub code: &'a str,
    /// What to explain to the class about it.
    pub lesson: &'static str,
    /// The submissions with at least one test failed for this reason, in name order.
    pub submissions: Vec<&'a str>,
    /// The failed tests, over all those submissions.
    pub tests: usize,
}

/// Per exercise, in spec order, how many submissions failed it.
pub fn exercises<'a>(graded: &[&'a Record]) -> Vec<ExerciseFailures<'a>> {
    let mut found: Vec<ExerciseFailures> = Vec::new();
    for r in graded {
        let mut seen: Vec<&str> = Vec::new();
        for t in &r.tests {
            if seen.contains(&t.exercise.as_str()) {
                continue;
            }
            seen.push(&t.exercise);
            let failed = r
                .tests
                .iter()
                .any(|u| u.exercise == t.exercise && !u.passed());
            match found.iter_mut().find(|e| e.exercise == t.exercise) {
                Some(e) => {
                    e.total += 1;
                    e.failed += usize::from(failed);
                }
                None => found.push(ExerciseFailures {
                    exercise: &t.exercise,
                    failed: usize::from(failed),
                    total: 1,
                }),
            }
        }
    }
    found
}

/// The tests that at least one submission failed, most failed first (ties in spec order).
pub fn failed_tests<'a>(graded: &[&'a Record]) -> Vec<TestFailures<'a>> {
    let mut tests: Vec<TestFailures> = test_rates(graded)
        .into_iter()
        .filter(|t| t.passed < t.total)
        .map(|t| TestFailures {
            exercise: t.exercise,
            kind: t.kind,
            name: t.name,
            failed: t.total - t.passed,
            total: t.total,
        })
        .collect();
    // A stable sort keeps the spec order among equals.
    tests.sort_by_key(|t| std::cmp::Reverse(t.failed));
    tests
}

/// The failure reasons across the class, the one most submissions hit first (then the one
/// with most failed tests, then by code).
pub fn diagnoses<'a>(graded: &[&'a Record]) -> Vec<Diagnosis<'a>> {
    let mut found: Vec<Diagnosis> = Vec::new();
    for r in graded {
        for t in r.tests.iter().filter(|t| !t.passed()) {
            let code = t.reason.as_deref().unwrap_or("unknown");
            let d = match found.iter_mut().position(|d| d.code == code) {
                Some(i) => &mut found[i],
                None => {
                    found.push(Diagnosis {
                        code,
                        lesson: lesson(code),
                        submissions: Vec::new(),
                        tests: 0,
                    });
                    found.last_mut().expect("just pushed")
                }
            };
            d.tests += 1;
            if !d.submissions.contains(&r.submission.as_str()) {
                d.submissions.push(&r.submission);
            }
        }
    }
    for d in &mut found {
        d.submissions.sort();
    }
    found.sort_by(|a, b| {
        b.submissions
            .len()
            .cmp(&a.submissions.len())
            .then(b.tests.cmp(&a.tests))
            .then(a.code.cmp(b.code))
    });
    found
}

/// Names listed per diagnosis before "and N more".
const NAMES: usize = 10;

/// The summary's section "What the class got wrong" (nothing when every test passed).
pub fn markdown(md: &mut String, graded: &[&Record]) {
    use std::fmt::Write;
    let found = diagnoses(graded);
    if found.is_empty() {
        return;
    }
    md.push_str("## What the class got wrong\n\n");
    md.push_str("| exercise | submissions that failed a test |\n|---|---:|\n");
    for e in exercises(graded) {
        let _ = writeln!(md, "| {} | {} / {} |", cell(e.exercise), e.failed, e.total);
    }
    md.push_str(
        "\nMost failed tests:\n\n| exercise | kind | test | failed |\n|---|---|---|---:|\n",
    );
    for t in failed_tests(graded).iter().take(NAMES) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} / {} |",
            cell(t.exercise),
            cell(t.kind),
            cell(t.name),
            t.failed,
            t.total
        );
    }
    md.push_str("\nFailure reasons, the most common first:\n\n");
    for (i, d) in found.iter().enumerate() {
        let _ = writeln!(
            md,
            "{}. **{}**: {}, {}. {}\n   Submissions: {}",
            i + 1,
            d.code,
            crate::words::counted(d.submissions.len(), "submission"),
            crate::words::counted(d.tests, "test"),
            d.lesson,
            cell(&names(&d.submissions))
        );
    }
    md.push('\n');
}

/// The first names of `all`, then how many more.
pub fn names(all: &[&str]) -> String {
    let mut shown = all
        .iter()
        .take(NAMES)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > NAMES {
        shown.push_str(&format!(" and {} more", all.len() - NAMES));
    }
    shown
}

/// Text safe inside a Markdown table cell or list item.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// What to explain to a class many of whose submissions failed for `code`.
pub fn lesson(code: &str) -> &'static str {
    match code {
        "wrong_output" => {
            "The printed total is wrong: split 1..=N into P chunks that cover every number once \
             (the last takes the remainder), add in u128, print one decimal line."
        }
        "timeout" | "not_run_after_hangs" => {
            "A run never finished: the parent must wait for every worker, and every process \
             must close the pipe ends it does not use, or a read never sees end of file."
        }
        "crash" => {
            "A program died (a panic or a signal): an overflowing u64 panics under overflow \
             checks, and an unwrap on a failed fork, pipe or read ends the program."
        }
        "exit_status" => {
            "Exit status: 0 on success; on bad arguments a message on stderr and a non-zero \
             exit, not a panic and not a silent default."
        }
        "output_limit" => "Too much output: print only the result; debugging prints go.",
        "build_failed" => {
            "The code did not compile in the course skeleton: only libc and nix are \
             available, and `cargo build --release` must pass before handing in."
        }
        "build_timeout" => "The build took longer than the grader allows.",
        "missing_binary" => {
            "A program was missing: src/bin/pool_sum.rs and src/bin/counter.rs, each with a \
             `fn main()`."
        }
        "unusable_submission" => {
            "Nothing gradable was handed in: the handout's layout is src/bin/pool_sum.rs and \
             src/bin/counter.rs."
        }
        "wrong_worker_count" => {
            "Not P workers: one worker process per chunk, P in all, and the parent only \
             collects."
        }
        "threads_not_processes" => {
            "Threads are not processes: fork (or spawn the program itself); threads share the \
             parent's memory, processes must send their results back (a pipe, shared memory)."
        }
        "no_overlap" => {
            "The workers ran one after another: fork them all first, then wait for them; a \
             wait inside the fork loop serialises the pool."
        }
        "leaked_processes" | "unreaped_workers" => {
            "Workers were never waited for: waitpid every child before the parent exits, or \
             they linger as zombies or orphans."
        }
        "too_slow" => {
            "No speedup: start every worker before waiting for any, give each its own chunk, \
             and send back only the partial sums."
        }
        "inconclusive" => {
            "The speedup could not be measured on the grading machine: a note for the staff, \
             not a mistake of the class."
        }
        "lost_updates" => {
            "The safe counter lost updates: `x = x + 1` on shared memory is a read and a write \
             that interleave; use an atomic fetch_add or a process-shared lock."
        }
        "no_race_observed" => {
            "The racy counter never lost an update: it must read and write separately \
             (volatile), with no synchronisation, and run the workers at the same time."
        }
        "counter_not_shared" => {
            "The counter was not shared: after fork each process has its own copy of memory \
             unless the counter is in a MAP_SHARED mapping made before the fork."
        }
        "printed_before_workers_finished" => {
            "The parent printed before its workers finished: wait for all of them, then read \
             the counter."
        }
        "more_than_possible" => {
            "More than P*K: no interleaving produces that; the counter was not zeroed or was \
             counted twice."
        }
        "unsupported" => "This labgrade cannot run one kind of test yet: a grader matter.",
        _ => "A failure reason this labgrade has no note for: see the submissions' pages.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::RecordTest;

    /// A record with one test per `(exercise, test, reason)`; `None` passes.
    fn record(name: &str, tests: &[(&str, &str, Option<&str>)]) -> Record {
        Record {
            submission: name.into(),
            lab: None,
            score: 0.0,
            max_score: 1.0,
            tests: tests
                .iter()
                .map(|&(exercise, test, reason)| RecordTest {
                    exercise: exercise.into(),
                    kind: "output".into(),
                    name: test.into(),
                    status: if reason.is_none() { "pass" } else { "fail" }.into(),
                    score: 0.0,
                    max_score: 1.0,
                    reason: reason.map(str::to_string),
                })
                .collect(),
            total_ms: 0,
            key: None,
            key_parts: None,
            previous: None,
            score_before_penalty: None,
            late: None,
            collection: None,
            phases: None,
        }
    }

    fn class() -> Vec<Record> {
        vec![
            record(
                "alice",
                &[
                    ("pool-sum", "a", None),
                    ("pool-sum", "b", None),
                    ("counter", "c", None),
                ],
            ),
            record(
                "bob",
                &[
                    ("pool-sum", "a", Some("threads_not_processes")),
                    ("pool-sum", "b", Some("threads_not_processes")),
                    ("counter", "c", Some("counter_not_shared")),
                ],
            ),
            record(
                "carol",
                &[
                    ("pool-sum", "a", None),
                    ("pool-sum", "b", Some("wrong_output")),
                    ("counter", "c", Some("counter_not_shared")),
                ],
            ),
            record(
                "dave",
                &[
                    ("pool-sum", "a", Some("wrong_output")),
                    ("pool-sum", "b", None),
                    ("counter", "c", Some("counter_not_shared")),
                ],
            ),
        ]
    }

    #[test]
    fn exercises_count_submissions_that_failed_any_of_their_tests() {
        let class = class();
        let graded: Vec<&Record> = class.iter().collect();
        let ex = exercises(&graded);
        assert_eq!(
            ex,
            [
                ExerciseFailures {
                    exercise: "pool-sum",
                    failed: 3,
                    total: 4
                },
                ExerciseFailures {
                    exercise: "counter",
                    failed: 3,
                    total: 4
                }
            ]
        );
        let tests: Vec<(&str, usize)> = failed_tests(&graded)
            .iter()
            .map(|t| (t.name, t.failed))
            .collect();
        assert_eq!(tests, [("c", 3), ("a", 2), ("b", 2)]);
    }

    #[test]
    fn diagnoses_are_ranked_by_submissions_then_tests_with_who_hit_them() {
        let class = class();
        let graded: Vec<&Record> = class.iter().collect();
        let found = diagnoses(&graded);
        let ranked: Vec<(&str, Vec<&str>, usize)> = found
            .iter()
            .map(|d| (d.code, d.submissions.clone(), d.tests))
            .collect();
        assert_eq!(
            ranked,
            [
                ("counter_not_shared", vec!["bob", "carol", "dave"], 3),
                ("wrong_output", vec!["carol", "dave"], 2),
                ("threads_not_processes", vec!["bob"], 2),
            ]
        );
        assert!(
            found[0].lesson.contains("MAP_SHARED"),
            "{}",
            found[0].lesson
        );
        assert!(diagnoses(&[]).is_empty());

        let mut md = String::new();
        markdown(&mut md, &graded);
        assert!(
            md.contains("| pool-sum | 3 / 4 |\n| counter | 3 / 4 |\n"),
            "{md}"
        );
        assert!(md.contains("| counter | output | c | 3 / 4 |"), "{md}");
        assert!(
            md.contains("1. **counter_not_shared**: 3 submissions, 3 tests. The counter"),
            "{md}"
        );
        assert!(md.contains("   Submissions: bob, carol, dave\n"), "{md}");
        let many: Vec<&str> = vec!["x"; 12];
        assert_eq!(names(&many).matches('x').count(), 10);
        assert!(names(&many).ends_with(" and 2 more"));
    }
}

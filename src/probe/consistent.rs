//! One diagnosis per exercise: a counter's lost updates are blamed on one cause in every test
//! of a submission, the cause the strongest evidence shows.
//!
//! One output run cannot tell a parent that prints before waiting from a race when whole
//! workers' worth of updates are missing; the race probe can (a one-worker run that loses
//! updates cannot be racing; a one-worker run that prints exactly K shows the parent waits).
//! So once every test has run, the output tests' lost-update messages are rewritten with the
//! cause the exercise's race probes (or a one-worker output run) decided. Owns only that
//! rewrite: it changes no verdict and no score.

use crate::verdict::{Reason, ResultKind, TestResult, Verdict};

use super::explain::{self, mentions_lost, LossCause};

/// Rewrites the lost-update messages of each exercise's output tests with the cause the
/// exercise's evidence decides; a cause nothing decides leaves them as they are.
pub(crate) fn reconcile(tests: &mut [TestResult]) {
    let mut exercises: Vec<String> = tests.iter().map(|t| t.exercise.clone()).collect();
    exercises.dedup();
    for ex in exercises {
        let Some(cause) = cause(tests.iter().filter(|t| t.exercise == ex)) else {
            continue;
        };
        for t in tests.iter_mut().filter(|t| t.exercise == ex) {
            if let Some(msg) = rewritten(t, cause) {
                t.message = msg;
            }
        }
    }
}

/// The run's numbers when `t` is a counter output run that lost updates: `(command, got,
/// expected, workers)`.
fn lost_run(t: &TestResult) -> Option<(&str, u128, u128, u64)> {
    let Verdict::Fail(Reason::WrongOutput { expected, got }) = &t.verdict else {
        return None;
    };
    if t.kind != ResultKind::OUTPUT || !mentions_lost(&t.message) {
        return None;
    }
    let command = t.evidence.command()?;
    // `counter MODE P K`
    let workers = command.split_whitespace().nth(2)?.parse().ok()?;
    let (got, expected) = (got.trim().parse().ok()?, expected.parse().ok()?);
    (got < expected).then_some((command, got, expected, workers))
}

fn cause<'a>(tests: impl Iterator<Item = &'a TestResult> + Clone) -> Option<LossCause> {
    let reason = |t: &&TestResult| match &t.verdict {
        Verdict::Fail(r) => Some(r.clone()),
        Verdict::Pass => None,
    };
    let reasons: Vec<Reason> = tests.clone().filter_map(|t| reason(&t)).collect();
    if reasons
        .iter()
        .any(|r| matches!(r, Reason::PrintedEarly { .. }))
    {
        return Some(LossCause::PrintedEarly);
    }
    if reasons
        .iter()
        .any(|r| matches!(r, Reason::LostUpdates { .. }))
    {
        return Some(LossCause::Race);
    }
    // With one worker nobody races: a loss there is a parent that did not wait.
    if tests.filter_map(lost_run).any(|(_, _, _, p)| p == 1) {
        return Some(LossCause::PrintedEarly);
    }
    None
}

fn rewritten(t: &TestResult, cause: LossCause) -> Option<String> {
    let (command, got, expected, _) = lost_run(t)?;
    Some(explain::lost_updates(command, got, expected, cause))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Evidence;
    use std::time::Duration;

    fn test(kind: &'static str, name: &str, reason: Option<Reason>, message: &str) -> TestResult {
        TestResult {
            exercise: "counter".into(),
            kind: ResultKind::parse(kind).unwrap(),
            name: name.into(),
            verdict: reason.map_or(Verdict::Pass, Verdict::Fail),
            max_score: 1.0,
            message: message.into(),
            evidence: match kind {
                "output" => Evidence::Output(crate::verdict::RunEvidence {
                    command: Some(name.to_string()),
                    ..Default::default()
                }),
                _ => Evidence::None,
            },
            hidden: false,
            duration: Duration::ZERO,
        }
    }

    fn lost(command: &str, got: u128, want: u128, message: &str) -> TestResult {
        test(
            "output",
            command,
            Some(Reason::WrongOutput {
                expected: want.to_string(),
                got: got.to_string(),
            }),
            message,
        )
    }

    #[test]
    fn a_parent_that_prints_early_is_never_called_a_race() {
        // prints_before_wait: an arbitrary loss on one run, the race probe's one-worker run.
        let mut tests = vec![
            lost(
                "counter safe 4 100000",
                213_184,
                400_000,
                "`counter safe 4 100000` printed \"213184\", expected 400000: 186816 updates \
                 lost: the increments are not synchronised (a race)",
            ),
            test(
                "race",
                "race: safe",
                Some(Reason::PrintedEarly { lost: 100 }),
                "printed 0 with one worker",
            ),
        ];
        reconcile(&mut tests);
        assert!(
            tests[0]
                .message
                .contains("the parent printed before its workers had finished"),
            "{}",
            tests[0].message
        );
        assert!(
            !tests[0].message.contains("not synchronised"),
            "{}",
            tests[0].message
        );
    }

    #[test]
    fn a_race_is_never_asked_whether_the_parent_waited() {
        // racy_counter: exactly one worker's worth lost on one run, by chance.
        let mut tests = vec![
            lost(
                "counter safe 4 1000",
                3000,
                4000,
                "`counter safe 4 1000` printed \"3000\", expected 4000: 1000 updates lost, \
                 exactly 1 worker's worth of 1000: did the parent wait for every worker before \
                 printing?",
            ),
            test(
                "race",
                "race: safe",
                Some(Reason::LostUpdates { lost: 5, runs: 1 }),
                "lost",
            ),
        ];
        reconcile(&mut tests);
        assert_eq!(
            tests[0].message,
            "`counter safe 4 1000` printed \"3000\", expected 4000: 1000 updates lost: the \
             increments are not synchronised (a race)"
        );
    }

    #[test]
    fn a_one_worker_loss_decides_without_a_race_probe_and_nothing_else_changes() {
        let mut tests = vec![
            lost("counter safe 1 1000", 0, 1000, "stayed 0"),
            lost(
                "counter safe 2 1000",
                1500,
                2000,
                "500 updates lost: (a race)",
            ),
            lost(
                "counter safe 4 1000",
                3000,
                4000,
                "1000 updates lost, exactly 1",
            ),
        ];
        // "stayed 0" carries no mark (a counter not shared prints 0 too): it decides nothing.
        reconcile(&mut tests);
        assert_eq!(tests[1].message, "500 updates lost: (a race)");
        assert_eq!(tests[0].message, "stayed 0");
        let mut tests = vec![
            lost("counter safe 1 1000", 900, 1000, "100 updates lost: x"),
            lost(
                "counter safe 4 1000",
                3000,
                4000,
                "1000 updates lost, exactly 1",
            ),
        ];
        reconcile(&mut tests);
        for t in &tests {
            assert!(
                t.message.contains("printed before its workers"),
                "{}",
                t.message
            );
        }
        // Nothing decides: messages stay as the run wrote them.
        let mut alone = vec![lost(
            "counter safe 4 1000",
            3000,
            4000,
            "1000 updates lost, ?",
        )];
        reconcile(&mut alone);
        assert_eq!(alone[0].message, "1000 updates lost, ?");
    }
}

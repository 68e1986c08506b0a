//! Score changes after a regrade (`changes.csv`): whose score moved, by how much, and why.
//!
//! A regraded result keeps the score, the key and the test verdicts it replaced (`previous` in
//! its file), so the list is the same whether the regrade ran in one go or was killed and
//! resumed. A submission is listed when its score or any test's verdict moved, with why (which
//! part of the key changed: the spec, the submission, the grader's version), the tests that
//! moved, and both gradings' grader version and spec hash; a score that dropped comes first
//! and is marked, since that is the row a student will ask about. A regrade that moved nothing
//! (a new grader version, the same verdicts) is not listed: `summary.md` counts those.

use super::gradebook::number;
use super::key::KeyParts;
use super::record::{Previous, Record};
use super::results::{Entry, Row};
use crate::report::spreadsheet_field as field;

/// One submission whose score or verdicts changed at its latest grading.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub name: String,
    pub previous: f64,
    pub score: f64,
    pub max_score: f64,
    /// What changed between the gradings: `spec`, `submission`, `grader`, `submission time`;
    /// `collection` when the key is the same (only what the export says of the submission
    /// changed), `unknown` when either grading has no key.
    pub why: Vec<&'static str>,
    /// The tests whose verdict or score moved, in the result's order. Empty when the earlier
    /// result did not keep its tests (written by an older labgrade).
    pub tests: Vec<TestChange>,
    /// What each grading was graded from (absent for a result written without a key).
    pub before: Option<KeyParts>,
    pub after: Option<KeyParts>,
}

/// One test whose verdict or score moved.
#[derive(Debug, Clone, PartialEq)]
pub struct TestChange {
    pub exercise: String,
    pub name: String,
    /// `pass`, `fail (timeout)`, `2/3`, or `absent` (a test the other spec did not have).
    pub before: String,
    pub after: String,
}

impl TestChange {
    /// `pool-sum/n=10 p=3: pass -> fail (wrong_output)`.
    pub fn describe(&self) -> String {
        format!(
            "{}/{}: {} -> {}",
            self.exercise, self.name, self.before, self.after
        )
    }
}

impl Change {
    pub fn delta(&self) -> f64 {
        self.score - self.previous
    }

    /// Whether the score went down: such changes come first and are marked, since a student
    /// will ask about them.
    pub fn dropped(&self) -> bool {
        number(self.score) != number(self.previous) && self.score < self.previous
    }

    /// Whether the score moved (else only verdicts did).
    pub fn score_moved(&self) -> bool {
        number(self.previous) != number(self.score)
    }
}

/// The submissions whose latest grading changed their score or any test's verdict: dropped
/// scores first (the largest drop first), then the others, in name order.
pub fn changes(rows: &[Row]) -> Vec<Change> {
    let mut found: Vec<Change> = rows
        .iter()
        .filter_map(|row| {
            let Entry::Graded(r) = &row.entry else {
                return None;
            };
            let prev = r.previous.as_ref()?;
            let change = Change {
                name: row.name.clone(),
                previous: prev.score,
                score: r.score,
                max_score: r.max_score,
                why: why(prev, r),
                tests: test_changes(prev, r),
                before: prev.key_parts.clone(),
                after: r.key_parts.clone(),
            };
            (change.score_moved() || !change.tests.is_empty()).then_some(change)
        })
        .collect();
    found.sort_by(|a, b| {
        b.dropped()
            .cmp(&a.dropped())
            .then_with(|| match a.dropped() {
                true => a.delta().total_cmp(&b.delta()),
                false => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.name.cmp(&b.name))
    });
    found
}

/// Why a result was graded again: which parts of its key moved.
pub fn why(prev: &Previous, r: &Record) -> Vec<&'static str> {
    match (&prev.key_parts, &r.key_parts) {
        (Some(old), Some(new)) => {
            let changed = new.changed_since(old);
            // Equal keys: only what the export says of the submission was new (the one other
            // reason `plan` grades a result again).
            if changed.is_empty() {
                vec!["collection"]
            } else {
                changed
            }
        }
        _ => vec!["unknown"],
    }
}

/// Every regraded submission (one whose file keeps what its latest grading replaced), with
/// the reasons and whether anything moved: for the summary's count of regrades.
pub fn regraded(rows: &[Row]) -> Vec<(&str, Vec<&'static str>)> {
    rows.iter()
        .filter_map(|row| match &row.entry {
            Entry::Graded(r) => r
                .previous
                .as_ref()
                .map(|prev| (row.name.as_str(), why(prev, r))),
            Entry::Error(_) => None,
        })
        .collect()
}

/// The tests whose verdict or score differs between `prev` and `r`, matched by exercise and
/// name; nothing when `prev` did not keep its tests.
fn test_changes(prev: &Previous, r: &Record) -> Vec<TestChange> {
    if prev.tests.is_empty() {
        return Vec::new();
    }
    let verdict = |status: &str, reason: Option<&str>| match reason {
        Some(reason) if status != "pass" => format!("{status} ({reason})"),
        _ => status.to_string(),
    };
    let mut moved = Vec::new();
    for t in &r.tests {
        let old = prev
            .tests
            .iter()
            .find(|p| p.exercise == t.exercise && p.name == t.name);
        let before = old.map(|p| (verdict(&p.status, p.reason.as_deref()), p.score));
        let after = (verdict(&t.status, t.reason.as_deref()), t.score);
        let (before, after) = match before {
            None => ("absent".to_string(), after.0),
            Some(b) if b.0 != after.0 => (b.0, after.0),
            Some(b) if number(b.1) != number(after.1) => (
                format!("{} {}", b.0, number(b.1)),
                format!("{} {}", after.0, number(after.1)),
            ),
            Some(_) => continue,
        };
        moved.push(TestChange {
            exercise: t.exercise.clone(),
            name: t.name.clone(),
            before,
            after,
        });
    }
    for p in &prev.tests {
        if !r
            .tests
            .iter()
            .any(|t| t.exercise == p.exercise && t.name == p.name)
        {
            moved.push(TestChange {
                exercise: p.exercise.clone(),
                name: p.name.clone(),
                before: verdict(&p.status, p.reason.as_deref()),
                after: "absent".to_string(),
            });
        }
    }
    moved
}

/// The header of `changes.csv`.
pub const HEADER: &str = "submission,previous_score,score,delta,changed,dropped,tests_changed,\
                          previous_grader,grader,previous_spec,spec";

/// `changes.csv`: `submission,previous_score,score,delta,changed` (what moved the key:
/// `spec`, `submission`, `grader`, `submission time`, joined with `+`), then `dropped` (`yes`
/// when the score went down: those rows come first), `tests_changed` (`exercise/test: before
/// -> after`, joined with `; `) and the grader version and spec hash of both gradings.
pub fn render_csv(changes: &[Change]) -> String {
    let mut csv = format!("{HEADER}\n");
    let part = |k: &Option<KeyParts>, f: fn(&KeyParts) -> &String| {
        k.as_ref().map_or_else(String::new, |k| field(f(k)))
    };
    for c in changes {
        let tests: Vec<String> = c.tests.iter().map(TestChange::describe).collect();
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            field(&c.name),
            number(c.previous),
            number(c.score),
            signed(c.delta()),
            c.why.join("+"),
            if c.dropped() { "yes" } else { "" },
            field(&tests.join("; ")),
            part(&c.before, |k| &k.grader),
            part(&c.after, |k| &k.grader),
            part(&c.before, |k| &k.spec),
            part(&c.after, |k| &k.spec),
        ));
    }
    csv
}

/// One line for a person: `alice: 7.5 -> 8.5 / 10 (+1; spec changed)`, then `DROPPED` for a
/// lower score, the grader versions when they differ, and the tests that moved.
pub fn describe(c: &Change) -> String {
    let mut line = format!(
        "{}: {} -> {} / {} ({}; {} changed)",
        c.name,
        number(c.previous),
        number(c.score),
        number(c.max_score),
        signed(c.delta()),
        c.why.join(" and ")
    );
    if c.dropped() {
        line.push_str(" DROPPED");
    }
    if let (Some(old), Some(new)) = (&c.before, &c.after) {
        if old.grader != new.grader {
            line.push_str(&format!(" [grader {} -> {}]", old.grader, new.grader));
        }
    }
    if !c.tests.is_empty() {
        let tests: Vec<String> = c.tests.iter().map(TestChange::describe).collect();
        line.push_str(&format!(": {}", tests.join("; ")));
    }
    line
}

/// The summary's section "Regrades": how many results were graded again and why, how many
/// of them moved (dropped scores named first), the rest unchanged. Nothing without a regrade.
pub fn markdown(md: &mut String, rows: &[Row]) {
    use std::fmt::Write;
    let regraded = regraded(rows);
    if regraded.is_empty() {
        return;
    }
    let moved = changes(rows);
    md.push_str("## Regrades\n\n");
    let mut causes: Vec<(String, usize)> = Vec::new();
    for (_, why) in &regraded {
        let why = why.join(" and ");
        match causes.iter_mut().find(|(w, _)| *w == why) {
            Some((_, n)) => *n += 1,
            None => causes.push((why, 1)),
        }
    }
    causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let causes: Vec<String> = causes
        .iter()
        .map(|(w, n)| format!("{n} after a {w} change"))
        .collect();
    let _ = writeln!(
        md,
        "{} graded again ({}): {} changed (changes.csv), {} unchanged in score \
         and every verdict.\n",
        crate::words::counted(regraded.len(), "submission"),
        causes.join(", "),
        moved.len(),
        regraded.len() - moved.len()
    );
    let dropped: Vec<&Change> = moved.iter().filter(|c| c.dropped()).collect();
    if !dropped.is_empty() {
        md.push_str("Scores that dropped:\n\n");
        for c in dropped {
            let _ = writeln!(md, "- {}", describe(c).replace(['\n', '\r'], " "));
        }
        md.push('\n');
    }
}

fn signed(x: f64) -> String {
    let n = number(x);
    if n.starts_with('-') || n == "0" {
        n
    } else {
        format!("+{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::RecordTest;

    fn parts(spec: &str, grader: &str) -> KeyParts {
        KeyParts {
            submission: "s".into(),
            spec: spec.into(),
            grader: grader.into(),
            submitted: String::new(),
        }
    }

    /// A record whose tests `a` and `b` are worth 5 each; `verdicts` says which pass.
    fn record(name: &str, verdicts: [bool; 2], key: KeyParts) -> Record {
        let tests: Vec<RecordTest> = ["a", "b"]
            .iter()
            .zip(verdicts)
            .map(|(t, pass)| RecordTest {
                exercise: "pool-sum".into(),
                kind: "output".into(),
                name: (*t).into(),
                status: if pass { "pass" } else { "fail" }.into(),
                score: if pass { 5.0 } else { 0.0 },
                max_score: 5.0,
                reason: (!pass).then(|| "wrong_output".to_string()),
            })
            .collect();
        Record {
            submission: name.into(),
            lab: None,
            score: tests.iter().map(|t| t.score).sum(),
            max_score: 10.0,
            tests,
            total_ms: 0,
            key: None,
            key_parts: Some(key),
            previous: None,
            score_before_penalty: None,
            late: None,
            collection: None,
            phases: None,
        }
    }

    /// `name` regraded: `before` then `after`.
    fn regraded(name: &str, before: Record, mut after: Record) -> Row {
        after.previous = Some(before.as_previous());
        Row {
            name: name.into(),
            entry: Entry::Graded(Box::new(after)),
        }
    }

    #[test]
    fn moved_scores_are_listed_with_the_reason_and_the_tests_drops_first() {
        let rows = vec![
            // A spec fix that gives alice test b.
            regraded(
                "alice",
                record("alice", [true, false], parts("old", "1")),
                record("alice", [true, true], parts("new", "1")),
            ),
            // Nothing moved: not listed.
            regraded(
                "bob",
                record("bob", [true, true], parts("old", "1")),
                record("bob", [true, true], parts("new", "1")),
            ),
            // Never regraded: not listed.
            Row {
                name: "carol".into(),
                entry: Entry::Graded(Box::new(record("carol", [false, false], parts("new", "1")))),
            },
            // A fixed grader that no longer passes dave's a: his score dropped.
            regraded(
                "dave",
                record("dave", [true, true], parts("new", "1")),
                record("dave", [false, true], parts("new", "2")),
            ),
            // One verdict up, one down: the same score, but the verdicts moved.
            regraded(
                "erin",
                record("erin", [true, false], parts("new", "1")),
                record("erin", [false, true], parts("new", "2")),
            ),
        ];
        let found = changes(&rows);
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["dave", "alice", "erin"]);
        assert_eq!(
            render_csv(&found),
            format!(
                "{HEADER}\n\
                 dave,10,5,-5,grader,yes,pool-sum/a: pass -> fail (wrong_output),1,2,new,new\n\
                 alice,5,10,+5,spec,,pool-sum/b: fail (wrong_output) -> pass,1,1,old,new\n\
                 erin,5,5,0,grader,,pool-sum/a: pass -> fail (wrong_output); \
                 pool-sum/b: fail (wrong_output) -> pass,1,2,new,new\n"
            )
        );
        assert_eq!(
            describe(&found[1]),
            "alice: 5 -> 10 / 10 (+5; spec changed): pool-sum/b: fail (wrong_output) -> pass"
        );
        assert_eq!(
            describe(&found[0]),
            "dave: 10 -> 5 / 10 (-5; grader changed) DROPPED [grader 1 -> 2]: \
             pool-sum/a: pass -> fail (wrong_output)"
        );
        let why: Vec<(&str, Vec<&str>)> = super::regraded(&rows);
        assert_eq!(why.len(), 4);
        assert_eq!(why[1], ("bob", vec!["spec"]));
        let mut md = String::new();
        markdown(&mut md, &rows);
        assert!(
            md.contains(
                "4 submissions graded again (2 after a grader change, 2 after a spec change): \
                 3 changed (changes.csv), 1 unchanged"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "Scores that dropped:\n\n- dave: 10 -> 5 / 10 (-5; grader changed) DROPPED"
            ),
            "{md}"
        );
    }

    #[test]
    fn the_largest_drop_comes_first() {
        let rows = vec![
            regraded(
                "amy",
                record("amy", [true, true], parts("a", "1")),
                record("amy", [true, false], parts("b", "1")),
            ),
            regraded(
                "ben",
                record("ben", [true, true], parts("a", "1")),
                record("ben", [false, false], parts("b", "1")),
            ),
            regraded(
                "cat",
                record("cat", [false, false], parts("a", "1")),
                record("cat", [true, false], parts("b", "1")),
            ),
        ];
        let names: Vec<String> = changes(&rows).into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["ben", "amy", "cat"]);
    }

    #[test]
    fn a_result_from_an_older_labgrade_lists_its_score_without_tests() {
        let mut before = record("fay", [true, true], parts("a", "1")).as_previous();
        before.tests.clear();
        let mut after = record("fay", [true, false], parts("a", "2"));
        after.previous = Some(before);
        let rows = vec![Row {
            name: "fay".into(),
            entry: Entry::Graded(Box::new(after)),
        }];
        let found = changes(&rows);
        assert_eq!(found.len(), 1);
        assert!(found[0].tests.is_empty());
        assert!(found[0].dropped());
        assert!(render_csv(&found).ends_with("fay,10,5,-5,grader,yes,,1,2,a,a\n"));
    }

    #[test]
    fn a_hostile_name_is_text_in_a_spreadsheet() {
        let rows = vec![regraded(
            "=cmd",
            record("=cmd", [true, true], parts("a", "1")),
            record("=cmd", [true, false], parts("b", "1")),
        )];
        assert!(render_csv(&changes(&rows)).contains("\n'=cmd,10,5,"));
    }
}

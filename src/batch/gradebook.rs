//! `gradebook.csv` (CONTRACT §2): one row per submission, from result records only.
//!
//! Columns: `submission,score,max_score`, then one score per exercise in spec order, then
//! `tests_passed,tests_total,status` (`graded` or `error`). With a deadline in the spec (some
//! result has `late`), three more: `submitted_at` (RFC 3339 at the deadline's offset),
//! `late_by_s` (seconds after the deadline, 0 when on time) and `late_penalty` (the points
//! taken; `score` is after it, the exercise columns before it). When some submission has an
//! extension (the TA's extensions file), one more: `extended_to` (its own deadline, RFC 3339;
//! `late_by_s` is measured from it). No timings: a gradebook is a
//! pure function of the verdicts and the submission times, so a resumed batch, an
//! uninterrupted one and a merge of shards write the same bytes.
//!
//! From a collection (a Gradescope, Canvas, Moodle or GitHub Classroom export) that names who
//! handed each submission in, six more: `names`, `sids`, `emails`, `usernames`, `lms_ids`
//! (a group's submitters joined with `; `, in the export's order) and `lms_late` (`yes` when
//! the LMS marked it late). A roster or LMS import wants one row per student: that is
//! `students.csv` ([`render_students`]), where a student in several submissions gets the
//! latest one's row (see there).

use super::collection::Identity;
use super::results::{Entry, Row};

/// The gradebook's text for `rows` (already in name order).
pub fn render(rows: &[Row]) -> String {
    let exercises = exercises(rows);
    let late = rows
        .iter()
        .any(|r| matches!(&r.entry, Entry::Graded(r) if r.late.is_some()));
    let mut header = vec!["submission", "score", "max_score"];
    header.extend(exercises.iter().map(String::as_str));
    header.extend(["tests_passed", "tests_total", "status"]);
    if late {
        header.extend(["submitted_at", "late_by_s", "late_penalty"]);
    }
    let extended = rows.iter().any(
        |r| matches!(&r.entry, Entry::Graded(r) if r.late.as_ref().is_some_and(|l| l.extended_to.is_some())),
    );
    if extended {
        header.push("extended_to");
    }
    let who = rows
        .iter()
        .any(|r| matches!(&r.entry, Entry::Graded(r) if r.collection.is_some()));
    if who {
        header.extend(IDENTITY_COLUMNS);
    }
    let mut csv: String = header
        .iter()
        .map(|h| field(h))
        .collect::<Vec<_>>()
        .join(",");
    csv.push('\n');
    for row in rows {
        let mut line = vec![field(&row.name)];
        match &row.entry {
            Entry::Graded(r) => {
                line.extend([number(r.score), number(r.max_score)]);
                for ex in &exercises {
                    let mut tests = r.tests.iter().filter(|t| &t.exercise == ex).peekable();
                    line.push(match tests.peek() {
                        None => String::new(),
                        Some(_) => number(tests.map(|t| t.score).sum()),
                    });
                }
                line.extend([
                    r.passed().to_string(),
                    r.tests.len().to_string(),
                    "graded".into(),
                ]);
                if late {
                    line.extend(match &r.late {
                        Some(l) => [
                            field(&l.submitted_at),
                            l.late_by_s.to_string(),
                            number(r.late_penalty()),
                        ],
                        None => Default::default(),
                    });
                }
                if extended {
                    let to = r.late.as_ref().and_then(|l| l.extended_to.as_deref());
                    line.push(to.map(field).unwrap_or_default());
                }
                if who {
                    line.extend(identities(r));
                }
            }
            Entry::Error(_) => {
                line.extend(std::iter::repeat_n(String::new(), exercises.len() + 4));
                line.push("error".into());
                if late {
                    line.extend(std::iter::repeat_n(String::new(), 3));
                }
                if extended {
                    line.push(String::new());
                }
                if who {
                    line.extend(std::iter::repeat_n(String::new(), IDENTITY_COLUMNS.len()));
                }
            }
        }
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    csv
}

const IDENTITY_COLUMNS: [&str; 6] = [
    "names",
    "sids",
    "emails",
    "usernames",
    "lms_ids",
    "lms_late",
];

/// The identity columns of a record: each field of every submitter, joined with `; `.
fn identities(r: &super::record::Record) -> Vec<String> {
    let Some(c) = &r.collection else {
        return vec![String::new(); IDENTITY_COLUMNS.len()];
    };
    let join = |f: &dyn Fn(&Identity) -> Option<&String>| {
        let v: Vec<&str> = c
            .submitters
            .iter()
            .filter_map(|i| f(i).map(String::as_str))
            .collect();
        field(&v.join("; "))
    };
    vec![
        join(&|i| i.name.as_ref()),
        join(&|i| i.sid.as_ref()),
        join(&|i| i.email.as_ref()),
        join(&|i| i.username.as_ref()),
        join(&|i| i.lms_id.as_ref()),
        if c.late_marker {
            "yes".into()
        } else {
            String::new()
        },
    ]
}

/// When a submission was handed in, for choosing between two of one student: the export's
/// time, else the late policy's.
fn handed_in(r: &super::record::Record) -> Option<&str> {
    r.collection
        .as_ref()
        .and_then(|c| c.submitted_at.as_deref())
        .or(r.late.as_ref().map(|l| l.submitted_at.as_str()))
}

/// Students in more than one graded submission: (who, the submission kept, the others).
pub fn duplicates(rows: &[Row]) -> Vec<(String, String, Vec<String>)> {
    let (_, dups) = per_student(rows);
    dups
}

/// One row per student, by the rule: a student in several submissions (a regrade, a second
/// upload, a group and a solo one) gets the row of the one handed in last (times compared as
/// the export or the late policy gives them, at their instant; a submission without a time
/// loses to one with, and two without are ordered by name, the last winning). A group's
/// submission gives each of its submitters a row.
#[allow(clippy::type_complexity)]
fn per_student(
    rows: &[Row],
) -> (
    Vec<(Identity, &super::record::Record)>,
    Vec<(String, String, Vec<String>)>,
) {
    use crate::datetime::ZonedTime;
    let instant = |r: &super::record::Record| {
        handed_in(r)
            .and_then(|t| ZonedTime::parse(t).ok())
            .map(|z| z.at.unix_ms)
    };
    let mut chosen: Vec<(String, Identity, &super::record::Record, Vec<String>)> = Vec::new();
    for row in rows {
        let Entry::Graded(r) = &row.entry else {
            continue;
        };
        let Some(c) = &r.collection else { continue };
        for who in &c.submitters {
            let Some(key) = who.key() else { continue };
            match chosen.iter_mut().find(|(k, ..)| k == key) {
                None => chosen.push((key.to_string(), who.clone(), r, Vec::new())),
                Some(slot) => {
                    let newer =
                        (instant(r), &r.submission) >= (instant(slot.2), &slot.2.submission);
                    if newer {
                        let old = std::mem::replace(&mut slot.2, r);
                        slot.1 = who.clone();
                        slot.3.push(old.submission.clone());
                    } else {
                        slot.3.push(r.submission.clone());
                    }
                }
            }
        }
    }
    let dups = chosen
        .iter()
        .filter(|c| !c.3.is_empty())
        .map(|(k, _, r, others)| (k.clone(), r.submission.clone(), others.clone()))
        .collect();
    (
        chosen.into_iter().map(|(_, w, r, _)| (w, r)).collect(),
        dups,
    )
}

/// `students.csv`: `name,sid,email,username,lms_id,submission,score,max_score,submitted_at,
/// lms_late`, one row per student, by the rule of [`per_student`].
pub fn render_students(rows: &[Row]) -> String {
    let (students, _) = per_student(rows);
    let mut csv = String::from(
        "name,sid,email,username,lms_id,submission,score,max_score,submitted_at,lms_late\n",
    );
    for (who, r) in students {
        let opt = |v: &Option<String>| field(v.as_deref().unwrap_or(""));
        let late_marker = r.collection.as_ref().is_some_and(|c| c.late_marker);
        let line = [
            opt(&who.name),
            opt(&who.sid),
            opt(&who.email),
            opt(&who.username),
            opt(&who.lms_id),
            field(&r.submission),
            number(r.score),
            number(r.max_score),
            field(handed_in(r).unwrap_or("")),
            if late_marker {
                "yes".into()
            } else {
                String::new()
            },
        ];
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    csv
}

/// Exercise ids in the order results list them (spec order), first seen first.
pub fn exercises(rows: &[Row]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for row in rows {
        if let Entry::Graded(r) = &row.entry {
            for t in &r.tests {
                if !found.contains(&t.exercise) {
                    found.push(t.exercise.clone());
                }
            }
        }
    }
    found
}

/// A score as a gradebook shows it: float noise rounded away, `10` rather than `10.0`.
pub use crate::points::text as number;

/// Quotes a CSV field when it needs it (RFC 4180): the reports' quoting.
pub use crate::report::csv_field as field;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::{Record, RecordLate, RecordTest};

    fn record(name: &str, tests: &[(&str, &str, f64, f64)]) -> Box<Record> {
        let tests: Vec<RecordTest> = tests
            .iter()
            .map(|&(exercise, name, score, max)| RecordTest {
                exercise: exercise.into(),
                kind: "output".into(),
                name: name.into(),
                status: if score == max { "pass" } else { "fail" }.into(),
                score,
                max_score: max,
                reason: None,
            })
            .collect();
        Box::new(Record {
            submission: name.into(),
            lab: None,
            score: tests.iter().map(|t| t.score).sum(),
            max_score: tests.iter().map(|t| t.max_score).sum(),
            tests,
            total_ms: 0,
            key: None,
            key_parts: None,
            previous: None,
            score_before_penalty: None,
            late: None,
            collection: None,
            phases: None,
        })
    }

    #[test]
    fn one_column_per_exercise_in_spec_order() {
        let rows = vec![
            Row {
                name: "alice".into(),
                entry: Entry::Graded(record(
                    "alice",
                    &[
                        ("pool-sum", "a", 0.5, 0.5),
                        ("pool-sum", "b", 0.0, 1.0),
                        ("counter", "c", 0.1, 0.1),
                        ("counter", "d", 0.2, 0.2),
                    ],
                )),
            },
            Row {
                name: "bob, jr".into(),
                entry: Entry::Error("boom".into()),
            },
        ];
        assert_eq!(
            render(&rows),
            "submission,score,max_score,pool-sum,counter,tests_passed,tests_total,status\n\
             alice,0.8,1.8,0.5,0.3,3,4,graded\n\
             \"bob, jr\",,,,,,,error\n"
        );
    }

    #[test]
    fn late_columns_follow_when_the_spec_has_a_deadline() {
        let mut alice = record(
            "alice",
            &[("pool-sum", "a", 1.0, 1.0), ("pool-sum", "b", 1.0, 1.0)],
        );
        alice.score = 1.8;
        alice.score_before_penalty = Some(2.0);
        alice.late = Some(RecordLate {
            submitted_at: "2026-12-02T00:00:00-05:00".into(),
            source: "git".into(),
            late_by_s: 7200,
            within_grace: false,
            penalty_fraction: 0.1,
            extended_to: None,
        });
        let mut bob = record(
            "bob",
            &[("pool-sum", "a", 1.0, 1.0), ("pool-sum", "b", 0.0, 1.0)],
        );
        bob.score_before_penalty = Some(1.0);
        bob.late = Some(RecordLate {
            submitted_at: "2026-12-01T21:00:00-05:00".into(),
            source: "gradescope".into(),
            late_by_s: 0,
            within_grace: false,
            penalty_fraction: 0.0,
            extended_to: None,
        });
        let rows = vec![
            Row {
                name: "alice".into(),
                entry: Entry::Graded(alice),
            },
            Row {
                name: "bob".into(),
                entry: Entry::Graded(bob),
            },
            Row {
                name: "carol".into(),
                entry: Entry::Error("boom".into()),
            },
        ];
        assert_eq!(
            render(&rows),
            "submission,score,max_score,pool-sum,tests_passed,tests_total,status,submitted_at,\
             late_by_s,late_penalty\n\
             alice,1.8,2,2,2,2,graded,2026-12-02T00:00:00-05:00,7200,0.2\n\
             bob,1,2,1,1,2,graded,2026-12-01T21:00:00-05:00,0,0\n\
             carol,,,,,,error,,,\n"
        );
    }

    #[test]
    fn numbers_have_no_float_noise() {
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(10.0), "10");
        assert_eq!(number(7.5), "7.5");
        assert_eq!(number(-0.0), "0");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("alice"), "alice");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}

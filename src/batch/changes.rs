//! Score changes after a regrade (`changes.csv`): whose score moved, by how much, and why.
//!
//! A regraded result keeps the score it replaced (`previous` in its file), so the list is the
//! same whether the regrade ran in one go or was killed and resumed.

use super::gradebook::{field, number};
use super::results::{Entry, Row};

/// One submission whose score changed at its latest grading.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub name: String,
    pub previous: f64,
    pub score: f64,
    pub max_score: f64,
    /// What changed between the gradings: `spec`, `submission`, `grader`, or `unknown`.
    pub why: Vec<&'static str>,
}

impl Change {
    pub fn delta(&self) -> f64 {
        self.score - self.previous
    }
}

/// The submissions whose latest grading changed their score, in name order.
pub fn changes(rows: &[Row]) -> Vec<Change> {
    rows.iter()
        .filter_map(|row| {
            let Entry::Graded(r) = &row.entry else {
                return None;
            };
            let prev = r.previous.as_ref()?;
            if number(prev.score) == number(r.score) {
                return None;
            }
            let why = match (&prev.key_parts, &r.key_parts) {
                (Some(old), Some(new)) => new.changed_since(old),
                _ => vec!["unknown"],
            };
            Some(Change {
                name: row.name.clone(),
                previous: prev.score,
                score: r.score,
                max_score: r.max_score,
                why,
            })
        })
        .collect()
}

/// `changes.csv`: `submission,previous_score,score,delta,changed`.
pub fn render_csv(changes: &[Change]) -> String {
    let mut csv = String::from("submission,previous_score,score,delta,changed\n");
    for c in changes {
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            field(&c.name),
            number(c.previous),
            number(c.score),
            signed(c.delta()),
            c.why.join("+")
        ));
    }
    csv
}

/// One line for a person: `alice: 7.5 -> 8.5 (+1; spec changed)`.
pub fn describe(c: &Change) -> String {
    format!(
        "{}: {} -> {} / {} ({}; {} changed)",
        c.name,
        number(c.previous),
        number(c.score),
        number(c.max_score),
        signed(c.delta()),
        c.why.join(" and ")
    )
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
    use crate::batch::key::KeyParts;
    use crate::batch::record::{Previous, Record};

    fn graded(name: &str, score: f64, previous: Option<(f64, &str)>) -> Row {
        let parts = |spec: &str| KeyParts {
            submission: "s".into(),
            spec: spec.into(),
            grader: "g".into(),
            submitted: String::new(),
        };
        Row {
            name: name.into(),
            entry: Entry::Graded(Box::new(Record {
                submission: name.into(),
                lab: None,
                score,
                max_score: 10.0,
                tests: vec![],
                total_ms: 0,
                key: None,
                key_parts: Some(parts("new")),
                previous: previous.map(|(score, spec)| Previous {
                    score,
                    max_score: 10.0,
                    key_parts: Some(parts(spec)),
                }),
                score_before_penalty: None,
                late: None,
                collection: None,
                phases: None,
            })),
        }
    }

    #[test]
    fn only_moved_scores_are_listed_with_the_reason() {
        let rows = vec![
            graded("alice", 8.5, Some((7.5, "old"))),
            graded("bob", 5.0, Some((5.0, "old"))),
            graded("carol", 3.0, None),
            graded("dave", 2.0, Some((4.0, "old"))),
        ];
        let found = changes(&rows);
        assert_eq!(
            render_csv(&found),
            "submission,previous_score,score,delta,changed\n\
             alice,7.5,8.5,+1,spec\n\
             dave,4,2,-2,spec\n"
        );
        assert_eq!(
            describe(&found[0]),
            "alice: 7.5 -> 8.5 / 10 (+1; spec changed)"
        );
    }
}

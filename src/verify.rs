//! Spec self-validation (`labgrade spec verify`): before a lab is released, the reference
//! solution must get full marks and each known-buggy fixture must fail where the instructor
//! declared it would. A miss is a spec that rejects a correct program or lets a bug through.
//!
//! Pure checks over graded results; the CLI grades and prints.

use std::fmt;
use std::str::FromStr;

use crate::verdict::GradeResult;

/// Tests a fixture is expected to fail: `EXERCISE`, `EXERCISE/TEST` or `EXERCISE/PREFIX*`.
/// At least one test it selects must fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub exercise: String,
    /// The test's name, or a prefix when it ends in `*`; `None`: any test of the exercise.
    pub test: Option<String>,
}

impl Selector {
    fn matches(&self, exercise: &str, test: &str) -> bool {
        exercise == self.exercise
            && match self.test.as_deref() {
                None => true,
                Some(pattern) => match pattern.strip_suffix('*') {
                    Some(prefix) => test.starts_with(prefix),
                    None => test == pattern,
                },
            }
    }
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (exercise, test) = match s.split_once('/') {
            Some((e, t)) => (e, Some(t.to_string())),
            None => (s, None),
        };
        if exercise.is_empty() || test.as_deref() == Some("") {
            return Err(format!(
                "`{s}` selects no test: expected EXERCISE, EXERCISE/TEST or EXERCISE/PREFIX*"
            ));
        }
        Ok(Selector {
            exercise: exercise.to_string(),
            test,
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.test {
            Some(t) => write!(f, "{}/{t}", self.exercise),
            None => f.write_str(&self.exercise),
        }
    }
}

/// A way the spec and its declared expectations disagree.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    /// The reference solution failed a test: the spec rejects a correct program.
    ReferenceFailed {
        exercise: String,
        test: String,
        message: String,
    },
    /// Every test the selector names passed: the spec lets the fixture's bug through.
    NotCaught { fixture: String, selector: Selector },
    /// The selector names no test of the spec (a typo, or a test that was renamed).
    NoSuchTest { fixture: String, selector: Selector },
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::ReferenceFailed {
                exercise,
                test,
                message,
            } => write!(
                f,
                "the reference fails {exercise}/{test}: {message} (the spec rejects a correct solution)"
            ),
            Miss::NotCaught { fixture, selector } => write!(
                f,
                "{fixture} passes every test of {selector}: the spec does not catch its bug"
            ),
            Miss::NoSuchTest { fixture, selector } => write!(
                f,
                "{fixture}: no test matches {selector} (renamed or misspelt?)"
            ),
        }
    }
}

/// The reference must pass every test.
pub fn check_reference(result: &GradeResult) -> Vec<Miss> {
    result
        .tests
        .iter()
        .filter(|t| !t.verdict.passed())
        .map(|t| Miss::ReferenceFailed {
            exercise: t.exercise.clone(),
            test: t.name.clone(),
            message: t.message.clone(),
        })
        .collect()
}

/// Each selector must match some test, and some test it matches must fail.
pub fn check_fixture(result: &GradeResult, selectors: &[Selector]) -> Vec<Miss> {
    let fixture = &result.submission;
    selectors
        .iter()
        .filter_map(|sel| {
            let mut matched = result
                .tests
                .iter()
                .filter(|t| sel.matches(&t.exercise, &t.name))
                .peekable();
            let selector = sel.clone();
            let fixture = fixture.clone();
            if matched.peek().is_none() {
                Some(Miss::NoSuchTest { fixture, selector })
            } else if matched.all(|t| t.verdict.passed()) {
                Some(Miss::NotCaught { fixture, selector })
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Evidence, Reason, TestResult, Verdict};
    use std::time::Duration;

    fn result(tests: &[(&str, &str, bool)]) -> GradeResult {
        GradeResult {
            submission: "off_by_one".into(),
            lab: "lab10".into(),
            tests: tests
                .iter()
                .map(|&(exercise, name, pass)| TestResult {
                    exercise: exercise.into(),
                    kind: "output",
                    name: name.into(),
                    verdict: if pass {
                        Verdict::Pass
                    } else {
                        Verdict::Fail(Reason::Unusable)
                    },
                    max_score: 1.0,
                    message: "short by 10".into(),
                    evidence: Evidence::default(),
                    hidden: false,
                    duration: Duration::ZERO,
                })
                .collect(),
            warnings: vec![],
            build_time: Duration::ZERO,
            total_time: Duration::ZERO,
            sandbox: vec![],
            layout: None,
        }
    }

    fn sel(s: &str) -> Selector {
        s.parse().unwrap()
    }

    #[test]
    fn selectors_parse_and_match() {
        assert_eq!(
            sel("pool-sum/n=10 p=3"),
            Selector {
                exercise: "pool-sum".into(),
                test: Some("n=10 p=3".into())
            }
        );
        assert!(sel("pool-sum/n=10*").matches("pool-sum", "n=10 p=3"));
        assert!(!sel("pool-sum/n=10").matches("pool-sum", "n=10 p=3"));
        assert!(sel("counter").matches("counter", "anything"));
        assert!(!sel("counter").matches("pool-sum", "anything"));
        assert!("".parse::<Selector>().is_err());
        assert!("pool-sum/".parse::<Selector>().is_err());
    }

    #[test]
    fn a_fixture_must_fail_where_declared() {
        let r = result(&[
            ("pool-sum", "n=0 p=1", true),
            ("pool-sum", "n=10 p=1", false),
            ("counter", "safe", true),
        ]);
        assert!(check_fixture(&r, &[sel("pool-sum"), sel("pool-sum/n=10*")]).is_empty());
        let misses = check_fixture(&r, &[sel("counter"), sel("pool-sum/n=99")]);
        assert!(
            matches!(&misses[0], Miss::NotCaught { selector, .. } if selector.exercise == "counter")
        );
        assert!(matches!(&misses[1], Miss::NoSuchTest { .. }));
        assert!(
            misses[0].to_string().contains("does not catch"),
            "{}",
            misses[0]
        );
    }

    #[test]
    fn the_reference_must_pass_everything() {
        let r = result(&[("pool-sum", "a", true), ("pool-sum", "b", false)]);
        let misses = check_reference(&r);
        assert_eq!(misses.len(), 1);
        assert!(
            misses[0].to_string().contains("pool-sum/b: short by 10"),
            "{}",
            misses[0]
        );
        assert!(check_reference(&result(&[("pool-sum", "a", true)])).is_empty());
    }
}

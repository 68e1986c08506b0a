//! Spec self-validation (`labgrade spec verify`): before a lab is released, the reference
//! solution must get full marks and each known-buggy fixture must fail where the instructor
//! declared it would. A miss is a spec that rejects a correct program or lets a bug through.
//!
//! Besides the fixtures an instructor declares, a built-in known-buggy set ([`KNOWN_BUGGY`]) names
//! one fixture per bug class this project has met, with the exercise whose tests must catch it;
//! [`coverage`] says which tests fail for each, and a class no test catches is a miss.
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
    /// A known bug class no test of its exercise catches.
    Uncaught {
        fixture: String,
        class: String,
        exercise: String,
    },
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
            Miss::Uncaught {
                fixture,
                class,
                exercise,
            } => write!(
                f,
                "bug class `{class}` ({fixture}) passes every test of {exercise}: no test catches it"
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

/// One known-buggy variant: a fixture under the fixtures folder, the bug class it stands for,
/// and the exercise some test of which must fail for it (test names differ between specs; the
/// exercise does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownBug {
    pub fixture: &'static str,
    pub class: &'static str,
    pub exercise: &'static str,
}

const fn bug(fixture: &'static str, class: &'static str, exercise: &'static str) -> KnownBug {
    KnownBug {
        fixture,
        class,
        exercise,
    }
}

/// The built-in known-buggy set: every bug class of `fixtures/submissions/README.md` that a spec
/// must catch. Left out: the hostile fixtures whose every run ends at a timeout
/// (`infinite_loop`, `sigterm_ignored`, `mutex_in_shared_page`: minutes per grading, and the
/// sandbox's tests cover them), and bugs that show only by chance at the spec's K
/// (`mutex_before_fork`, `atomic_load_store`, `lock_around_read_only`: the race probe's own tests
/// cover them).
pub const KNOWN_BUGGY: &[KnownBug] = &[
    bug("off_by_one", "exclusive chunk bound (lo..hi)", "pool-sum"),
    bug("overflow_u64", "u64 total (panics beyond 2^64)", "pool-sum"),
    bug(
        "wrapping_u64",
        "u64 total added with wrapping_add",
        "pool-sum",
    ),
    bug(
        "exit_status_sums",
        "partial sums sent as exit statuses (modulo 256)",
        "pool-sum",
    ),
    bug(
        "u64_chunk",
        "u128 total, u64 sum per worker chunk",
        "pool-sum",
    ),
    bug("panics", "parent panics when P > 1", "pool-sum"),
    bug("non_utf8", "output not UTF-8", "pool-sum"),
    bug("bad_args_accepted", "bad arguments accepted", "pool-sum"),
    bug("threads_pool", "threads instead of processes", "pool-sum"),
    bug(
        "sequential_pool",
        "no workers: the parent sums alone",
        "pool-sum",
    ),
    bug(
        "serialized_pool",
        "workers run one after another",
        "pool-sum",
    ),
    bug("leaky_workers", "a worker never waited for", "pool-sum"),
    bug("racy_counter", "safe mode not synchronised", "counter"),
    bug(
        "plain_increment",
        "plain += through the shared pointer",
        "counter",
    ),
    bug(
        "counter_not_shared",
        "counter page not shared (MAP_PRIVATE)",
        "counter",
    ),
    bug(
        "prints_before_wait",
        "parent prints before waiting",
        "counter",
    ),
    bug("never_reaped", "workers never reaped", "counter"),
    bug(
        "inclusive_loop",
        "K+1 increments per worker (0..=k)",
        "counter",
    ),
];

/// Looks a variant up by its fixture's name.
pub fn known_bug(fixture: &str) -> Option<&'static KnownBug> {
    KNOWN_BUGGY.iter().find(|b| b.fixture == fixture)
}

/// One row of the coverage table: a bug class and the tests that failed for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub class: String,
    pub fixture: String,
    /// `EXERCISE/TEST` of every failing test of the relevant exercise(s), in the spec's order.
    pub caught_by: Vec<String>,
}

/// Which tests of `exercise` (every exercise when `None`) fail for `result`. The build test is
/// left out: a variant that does not compile says nothing about the spec's tests.
pub fn coverage(result: &GradeResult, class: &str, exercise: Option<&str>) -> Coverage {
    Coverage {
        class: class.to_string(),
        fixture: result.submission.clone(),
        caught_by: result
            .tests
            .iter()
            .filter(|t| exercise.is_none_or(|e| t.exercise == e))
            .filter(|t| !t.verdict.passed())
            .map(|t| format!("{}/{}", t.exercise, t.name))
            .collect(),
    }
}

/// A known bug class must be caught by some test of its exercise.
pub fn check_known(result: &GradeResult, bug: &KnownBug) -> (Coverage, Option<Miss>) {
    let row = coverage(result, bug.class, Some(bug.exercise));
    let miss = row.caught_by.is_empty().then(|| Miss::Uncaught {
        fixture: bug.fixture.to_string(),
        class: bug.class.to_string(),
        exercise: bug.exercise.to_string(),
    });
    (row, miss)
}

/// The coverage table, one line per bug class: which tests catch it, or `NOT CAUGHT`.
/// Long lists are cut after a few names (the count stays exact).
pub fn render_coverage(rows: &[Coverage]) -> String {
    const SHOWN: usize = 4;
    let class_w = rows
        .iter()
        .map(|r| r.class.chars().count())
        .max()
        .unwrap_or(0);
    let fixture_w = rows
        .iter()
        .map(|r| r.fixture.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "coverage ({} bug class{}; tests that fail for each):\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "es" }
    );
    for row in rows {
        let caught = match row.caught_by.len() {
            0 => "NOT CAUGHT".to_string(),
            n => {
                let mut names = row.caught_by[..n.min(SHOWN)].join(", ");
                if n > SHOWN {
                    names.push_str(&format!(", … ({} more)", n - SHOWN));
                }
                format!("{n} test{}: {names}", if n == 1 { "" } else { "s" })
            }
        };
        out.push_str(&format!(
            "  {:<class_w$}  {:<fixture_w$}  {caught}\n",
            row.class, row.fixture
        ));
    }
    out
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
                    kind: crate::verdict::ResultKind::OUTPUT,
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
            phases: Default::default(),
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
    fn coverage_names_the_failing_tests_and_flags_an_uncaught_class() {
        let r = result(&[
            ("pool-sum", "n=10 p=1", false),
            ("pool-sum", "n=10 p=3", true),
            ("counter", "safe", false),
        ]);
        let bug = known_bug("off_by_one").unwrap();
        let (row, miss) = check_known(&r, bug);
        assert_eq!(row.caught_by, ["pool-sum/n=10 p=1"]);
        assert!(miss.is_none());
        let clean = result(&[("pool-sum", "n=10 p=1", true), ("counter", "safe", false)]);
        let (row, miss) = check_known(&clean, known_bug("u64_chunk").unwrap());
        assert!(row.caught_by.is_empty());
        let miss = miss.expect("an uncaught class is a miss");
        assert!(miss.to_string().contains("no test catches it"), "{miss}");
        let table = render_coverage(&[coverage(&r, bug.class, None), row]);
        assert!(table.starts_with("coverage (2 bug classes;"), "{table}");
        assert!(
            table.contains("2 tests: pool-sum/n=10 p=1, counter/safe"),
            "{table}"
        );
        assert!(table.contains("NOT CAUGHT"), "{table}");
    }

    #[test]
    fn the_known_buggy_set_is_unique_and_names_real_exercises() {
        for (i, b) in KNOWN_BUGGY.iter().enumerate() {
            assert!(["pool-sum", "counter"].contains(&b.exercise), "{b:?}");
            assert!(
                KNOWN_BUGGY[..i].iter().all(|o| o.fixture != b.fixture),
                "{b:?}"
            );
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/submissions")
                .join(b.fixture);
            assert!(dir.join("src/bin").is_dir(), "{}", dir.display());
        }
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

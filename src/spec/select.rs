//! Choosing which tests of a checked spec run: `--only` patterns (re-running one failing test)
//! and the student's check, which leaves hidden tests out. Both return a smaller [`Spec`];
//! exercises left without tests are dropped, so their binaries are not even built.

use super::model::{Spec, TestCase};

/// No test of the spec matched the `--only` patterns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no test matches --only {}: patterns are EXERCISE or EXERCISE/NAME, `*` matching any \
     text (e.g. 'pool-sum/n=10 p=3' or 'counter/*'); `labgrade check --verbose` lists the \
     tests",
    .patterns.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ")
)]
pub struct NoMatch {
    pub patterns: Vec<String>,
}

impl Spec {
    /// The tests matching at least one of `patterns`: `EXERCISE` (all its tests) or
    /// `EXERCISE/NAME`, where `*` matches any text.
    pub fn select(&self, patterns: &[String]) -> Result<Spec, NoMatch> {
        let selected = self.retain(|exercise, test| {
            patterns.iter().any(|p| match p.split_once('/') {
                Some((ex, name)) => glob(ex, exercise) && glob(name, &test.name),
                None => glob(p, exercise),
            })
        });
        if selected.exercises.is_empty() {
            return Err(NoMatch {
                patterns: patterns.to_vec(),
            });
        }
        Ok(selected)
    }

    /// The spec without the tests it marks hidden, with how many there were and their points.
    pub fn without_hidden(&self) -> (Spec, usize, f64) {
        let hidden: Vec<&TestCase> = self
            .exercises
            .iter()
            .flat_map(|e| &e.tests)
            .filter(|t| t.hidden)
            .collect();
        let points = hidden.iter().map(|t| t.points).sum();
        (self.retain(|_, t| !t.hidden), hidden.len(), points)
    }

    fn retain(&self, keep: impl Fn(&str, &TestCase) -> bool) -> Spec {
        let mut spec = self.clone();
        for ex in &mut spec.exercises {
            let id = ex.id.clone();
            ex.tests.retain(|t| keep(&id, t));
        }
        spec.exercises.retain(|e| !e.tests.is_empty());
        spec
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any text (possibly empty).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: &Spec) -> Vec<String> {
        spec.exercises
            .iter()
            .flat_map(|e| e.tests.iter().map(move |t| format!("{}/{}", e.id, t.name)))
            .collect()
    }

    fn spec() -> Spec {
        crate::spec::parse(
            "lab = \"l\"\ntitle = \"t\"\n\
             [[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n\
             [[exercise.test]]\nkind = \"output\"\nname = \"n={n} p=3\"\nmatrix = { n = [1, 10] }\n\
             args = [\"{n}\", \"3\"]\nstdout = { sum_to = \"{n}\" }\n\
             [[exercise]]\nid = \"counter\"\nbinary = \"counter\"\n\
             [[exercise.test]]\nkind = \"output\"\nname = \"safe\"\nargs = [\"safe\", \"2\", \"3\"]\n\
             stdout = { product = [\"2\", \"3\"] }\n\
             [[exercise.test]]\nkind = \"output\"\nname = \"secret\"\nhidden = true\npoints = 2.5\n\
             args = [\"safe\", \"4\", \"3\"]\nstdout = { product = [\"4\", \"3\"] }\n",
            "test.toml",
        )
        .expect("valid spec")
    }

    #[test]
    fn only_selects_one_test_an_exercise_or_a_glob() {
        let s = spec();
        let only = |p: &[&str]| {
            names(
                &s.select(&p.iter().map(|p| p.to_string()).collect::<Vec<_>>())
                    .unwrap(),
            )
        };
        assert_eq!(only(&["pool-sum/n=10 p=3"]), ["pool-sum/n=10 p=3"]);
        assert_eq!(only(&["counter"]), ["counter/safe", "counter/secret"]);
        assert_eq!(
            only(&["*/n=1*", "counter/s*e"]),
            ["pool-sum/n=1 p=3", "pool-sum/n=10 p=3", "counter/safe"]
        );
        // Exercises without a selected test are dropped: their binary is not built.
        assert_eq!(
            s.select(&["counter/safe".into()]).unwrap().exercises.len(),
            1
        );
    }

    #[test]
    fn a_pattern_matching_nothing_is_an_error_that_teaches_the_syntax() {
        let err = spec().select(&["pool-sum/n=2".into()]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("no test matches --only 'pool-sum/n=2'"),
            "{text}"
        );
        assert!(text.contains("EXERCISE/NAME"), "{text}");
        assert!(
            spec().select(&["pool".into()]).is_err(),
            "exercise ids match whole"
        );
    }

    #[test]
    fn without_hidden_counts_what_it_leaves_out() {
        let (visible, n, points) = spec().without_hidden();
        assert_eq!(
            names(&visible),
            ["pool-sum/n=1 p=3", "pool-sum/n=10 p=3", "counter/safe"]
        );
        assert_eq!((n, points), (1, 2.5));
    }

    #[test]
    fn glob_matches_star_anywhere() {
        assert!(glob("a*c", "abc") && glob("a*c", "ac") && glob("*", ""));
        assert!(glob("*b*", "abc") && glob("a**", "a"));
        assert!(!glob("a*c", "ab") && !glob("abc", "abcd") && !glob("*x", "abc"));
        assert!(!glob("ab*ba", "aba"), "parts may not overlap");
    }
}

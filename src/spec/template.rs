//! Templates (`"n={n} p={p}"`) and matrices (`{ n = [1, 2], p = [3] }`).
//!
//! A template is text with `{key}` placeholders naming matrix keys; `{{` and `}}` stand for
//! literal braces. A matrix expands a test into the cartesian product of its values, keys in
//! file order with the first key varying slowest (like nested loops written in that order).
//! This module knows nothing of TOML or spans beyond byte offsets inside one string.

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// `offset`: byte offset of the `{` in the template text, for messages.
    Key {
        name: String,
        offset: usize,
    },
}

/// A malformed template: what is wrong, at which byte of the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset in the template text.
    pub offset: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Template {
    /// Parses `text`, refusing unbalanced or empty braces.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, n)| n) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest
                        .find(['{', '}'])
                        .filter(|&e| rest[e..].starts_with('}'));
                    let Some(end) = end else {
                        return Err(TemplateError {
                            offset: i,
                            message: "unclosed `{` in template; write `{{` for a literal brace"
                                .into(),
                        });
                    };
                    let name = &rest[..end];
                    if name.is_empty() {
                        return Err(TemplateError {
                            offset: i,
                            message: "empty placeholder `{}`; write `{{}}` for literal braces"
                                .into(),
                        });
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Key {
                        name: name.to_string(),
                        offset: i,
                    });
                    while chars.next().is_some_and(|(j, _)| j < i + 1 + end) {}
                }
                '}' => {
                    return Err(TemplateError {
                        offset: i,
                        message: "unmatched `}` in template; write `}}` for a literal brace".into(),
                    })
                }
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// A template without placeholders standing for exactly `text` (an integer written as one).
    pub fn literal(text: String) -> Template {
        Template {
            parts: vec![Part::Text(text)],
        }
    }

    /// The placeholders, with the byte offset of each `{`.
    pub fn keys(&self) -> impl Iterator<Item = (&str, usize)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Key { name, offset } => Some((name.as_str(), *offset)),
            Part::Text(_) => None,
        })
    }

    /// Whether the template uses any placeholder (so messages can show what it expanded from).
    pub fn has_keys(&self) -> bool {
        self.keys().next().is_some()
    }

    /// The text for one matrix case. Placeholders the case does not bind (already reported as
    /// errors by validation) are kept as written.
    pub fn render(&self, case: &Case) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Key { name, .. } => match case.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
        }
        out
    }
}

/// One combination of matrix values: `n=10, p=3`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Case {
    bindings: Vec<(String, String)>,
}

impl Case {
    /// The value bound to `key`, as text.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.bindings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The keys whose values differ between two cases of the same matrix.
    pub fn differing_keys<'a>(&'a self, other: &Case) -> Vec<&'a str> {
        self.bindings
            .iter()
            .filter(|(k, v)| other.get(k) != Some(v.as_str()))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// `n=10, p=3`, for messages; empty without a matrix.
    pub fn describe(&self) -> String {
        let pairs: Vec<String> = self
            .bindings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.join(", ")
    }
}

/// A validated matrix: keys in file order, each with its values as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matrix {
    keys: Vec<(String, Vec<String>)>,
}

impl Matrix {
    /// Builds a matrix from keys in file order; every key must have at least one value.
    pub fn new(keys: Vec<(String, Vec<String>)>) -> Matrix {
        debug_assert!(keys.iter().all(|(_, v)| !v.is_empty()));
        Matrix { keys }
    }

    /// Number of cases the matrix expands to (1 for an empty matrix), saturating.
    pub fn case_count(&self) -> usize {
        self.keys
            .iter()
            .fold(1usize, |n, (_, v)| n.saturating_mul(v.len()))
    }

    /// Every combination, first key varying slowest. An empty matrix has one empty case.
    pub fn cases(&self) -> Vec<Case> {
        let mut cases = vec![Case::default()];
        for (key, values) in &self.keys {
            cases = cases
                .iter()
                .flat_map(|case| {
                    values.iter().map(move |v| {
                        let mut next = case.clone();
                        next.bindings.push((key.clone(), v.clone()));
                        next
                    })
                })
                .collect();
        }
        cases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(pairs: &[(&str, &str)]) -> Case {
        Case {
            bindings: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn substitutes_placeholders_and_literal_braces() {
        let t = Template::parse("n={n} {{p}}={p}{n}}}").unwrap();
        assert_eq!(t.render(&case(&[("n", "10"), ("p", "3")])), "n=10 {p}=310}");
        let keys: Vec<_> = t.keys().collect();
        assert_eq!(keys, [("n", 2), ("p", 12), ("n", 15)]);
        assert!(!Template::parse("plain {{}}").unwrap().has_keys());
        assert_eq!(
            Template::parse("plain {{}}")
                .unwrap()
                .render(&Case::default()),
            "plain {}"
        );
    }

    #[test]
    fn refuses_unbalanced_and_empty_braces() {
        let err = |t: &str| Template::parse(t).unwrap_err();
        assert_eq!(err("a {n").offset, 2);
        assert!(err("a {n").message.starts_with("unclosed `{`"));
        assert_eq!(err("a {n {p}").offset, 2);
        assert_eq!(err("a } b").offset, 2);
        assert!(err("a } b").message.starts_with("unmatched `}`"));
        assert_eq!(err("x{}").offset, 1);
        assert!(err("x{}").message.starts_with("empty placeholder"));
    }

    #[test]
    fn matrix_expands_in_file_order_first_key_slowest() {
        let m = Matrix::new(vec![
            ("n".into(), vec!["0".into(), "1".into(), "10".into()]),
            ("p".into(), vec!["1".into(), "2".into()]),
        ]);
        assert_eq!(m.case_count(), 6);
        let described: Vec<String> = m.cases().iter().map(Case::describe).collect();
        assert_eq!(
            described,
            [
                "n=0, p=1",
                "n=0, p=2",
                "n=1, p=1",
                "n=1, p=2",
                "n=10, p=1",
                "n=10, p=2"
            ]
        );
        assert_eq!(Matrix::default().cases(), vec![Case::default()]);
    }

    #[test]
    fn differing_keys_names_what_a_template_forgot() {
        let a = case(&[("n", "1"), ("p", "1")]);
        let b = case(&[("n", "1"), ("p", "2")]);
        assert_eq!(a.differing_keys(&b), ["p"]);
    }
}

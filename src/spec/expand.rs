//! One `[[exercise.test]]` in, its matrix cases out as [`TestCase`]s.
//!
//! The order of work: the fields every kind shares, the matrix, the kind's own fields
//! (`fields` says which belong, `prepare` checks them), the placeholders of every template,
//! and only when all of that is clean, the expansion (so one typo gives one message, not one
//! per matrix case). Name uniqueness across tests is the exercise's job (`validate`).

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;

use super::error::Diagnostics;
use super::fields::{self, Kind};
use super::model::TestCase;
use super::prepare::{prepare, Defaults};
use super::raw::{RawMatrix, RawTest};
use super::template::{Case, Matrix};
use super::values::{self, Field};

/// More cases than this from one test is a typo in a matrix, not a lab.
const MAX_CASES: usize = 10_000;

/// A test case with what the uniqueness check needs to report a duplicate name.
#[derive(Debug)]
pub struct Expanded {
    /// The checked test.
    pub test: TestCase,
    /// The `name` template it came from, as written.
    pub name_field: Field,
    /// The matrix values that produced it.
    pub case: Case,
}

/// Checks one raw test and expands it; returns nothing (and has reported why) when it is
/// invalid.
pub fn expand(
    diags: &mut Diagnostics,
    raw: &Spanned<RawTest>,
    defaults: &Defaults,
) -> Vec<Expanded> {
    let test_span = raw.span();
    let raw = raw.get_ref();
    let before = diags.count();

    let kind = match &raw.kind {
        Some(k) => Kind::parse(diags, k),
        None => {
            diags.error(
                &test_span,
                "missing field `kind`, expected one of `output`, `processes`, `speedup`, `race`",
            );
            None
        }
    };
    let name = match &raw.name {
        Some(n) => Field::from_string(diags, "name", n),
        None => {
            diags.error(&test_span, "missing field `name`: every test needs a name");
            None
        }
    };
    let points = raw
        .points
        .as_ref()
        .map_or(Some(defaults.points), |p| values::points(diags, p));
    let (matrix, keys) = matrix(diags, raw.matrix.as_ref());

    let (plan, mut templated) = match kind {
        Some(kind) => {
            fields::check(diags, raw, kind, &test_span);
            prepare(diags, raw, kind, defaults)
        }
        None => (None, Vec::new()),
    };
    templated.extend(name.iter().cloned());

    let key_names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
    let mut used = BTreeSet::new();
    for field in &templated {
        field.check_keys(diags, &key_names, &mut used);
    }
    // Only when every template parsed can a key be known to be unused.
    if plan.is_some() && name.is_some() {
        for (key, span) in keys.iter().filter(|(k, _)| !used.contains(k)) {
            diags.error(
                span,
                format!(
                    "matrix key `{key}` is not used by `name`, `args` or any other field of this \
                     test: use it as `{{{key}}}` or remove it"
                ),
            );
        }
    }

    let (Some(plan), Some(name), Some(points), Some(matrix)) = (plan, name, points, matrix) else {
        return Vec::new();
    };
    if diags.count() != before {
        return Vec::new();
    }
    let hidden = raw.hidden.unwrap_or(false);
    let mut out = Vec::new();
    for case in matrix.cases() {
        let Some(kind) = plan.instantiate(diags, &case) else {
            continue;
        };
        let test = TestCase {
            name: name.render(&case),
            points,
            hidden,
            kind,
        };
        if test.name.trim().is_empty() {
            diags.error(&name.span, "`name` is empty; give the test a name");
        }
        out.push(Expanded {
            test,
            name_field: name.clone(),
            case,
        });
    }
    out
}

/// Reads the matrix: its keys in file order (with their spans, also when a key is invalid so
/// placeholders naming it are not reported as unknown) and, when valid, the [`Matrix`].
/// No matrix at all is a valid matrix with one empty case.
fn matrix(
    diags: &mut Diagnostics,
    raw: Option<&Spanned<RawMatrix>>,
) -> (Option<Matrix>, Vec<(String, Range<usize>)>) {
    let Some(raw) = raw else {
        return (Some(Matrix::default()), Vec::new());
    };
    let before = diags.count();
    let mut entries: Vec<_> = raw.get_ref().iter().collect();
    // The TOML map is sorted by key; the spans give back the order of the file.
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut keys = Vec::new();
    let mut columns = Vec::new();
    for (key, values) in entries {
        let name = key.get_ref();
        if !is_identifier(name) {
            diags.error(
                &key.span(),
                format!(
                    "invalid matrix key `{name}`: keys are names made of letters, digits and \
                     `_` (like `n` or `workers`) so they can be written `{{n}}`"
                ),
            );
        }
        if values.get_ref().is_empty() {
            diags.error(
                &values.span(),
                format!("matrix key `{name}` has no values; the test would expand to nothing"),
            );
        }
        keys.push((name.clone(), key.span()));
        let texts = values
            .get_ref()
            .iter()
            .map(|v| v.get_ref().to_text())
            .collect();
        columns.push((name.clone(), texts));
    }
    if diags.count() != before {
        return (None, keys);
    }
    let matrix = Matrix::new(columns);
    if matrix.case_count() > MAX_CASES {
        diags.error(
            &raw.span(),
            format!(
                "this matrix expands to {} tests; at most {MAX_CASES} are allowed",
                matrix.case_count()
            ),
        );
        return (None, keys);
    }
    (Some(matrix), keys)
}

/// `[A-Za-z_][A-Za-z0-9_]*`, the shape of a matrix key and of a Cargo binary name we accept.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

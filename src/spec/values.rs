//! Checks on single values: durations, points, keyword choices, and templated numbers.
//!
//! Every function reports its own problem at the value's span and returns `None`, so callers
//! can go on and find the next problem instead of stopping at the first.

use std::collections::BTreeSet;
use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use toml::Spanned;

use super::duration::{parse_duration, parse_duration_or_zero, ACCEPTED_FORMS};
use super::error::Diagnostics;
use super::raw::Scalar;
use super::template::{Case, Template};

/// A duration written as a string (`"10s"`); an integer gets a message that asks for a unit.
pub fn duration(diags: &mut Diagnostics, key: &str, value: &Spanned<Scalar>) -> Option<Duration> {
    let result = match value.get_ref() {
        Scalar::Str(text) => parse_duration(text),
        Scalar::Int(i) => Err(format!(
            "a duration is a string with a unit: write `{key} = \"{i}s\"` ({ACCEPTED_FORMS})"
        )),
    };
    result
        .map_err(|msg| diags.error(&value.span(), format!("`{key}`: {msg}")))
        .ok()
}

/// A duration that may be zero (`"0s"`), like a grace period.
pub fn duration_or_zero(
    diags: &mut Diagnostics,
    key: &str,
    value: &Spanned<Scalar>,
) -> Option<Duration> {
    let result = match value.get_ref() {
        Scalar::Str(text) => parse_duration_or_zero(text),
        Scalar::Int(i) => Err(format!(
            "a duration is a string with a unit: write `{key} = \"{i}m\"` ({ACCEPTED_FORMS})"
        )),
    };
    result
        .map_err(|msg| diags.error(&value.span(), format!("`{key}`: {msg}")))
        .ok()
}

/// An optional duration with its default.
pub fn duration_or(
    diags: &mut Diagnostics,
    key: &str,
    value: Option<&Spanned<Scalar>>,
    default: Duration,
) -> Option<Duration> {
    match value {
        Some(v) => duration(diags, key, v),
        None => Some(default),
    }
}

/// Points: finite and not negative.
pub fn points(diags: &mut Diagnostics, value: &Spanned<f64>) -> Option<f64> {
    let p = *value.get_ref();
    if p.is_finite() && p >= 0.0 {
        Some(p)
    } else {
        diags.error(
            &value.span(),
            format!("`points` must be a number >= 0; got {p}"),
        );
        None
    }
}

/// A float in a range, for thresholds; `what` describes the range for the message.
pub fn float_in(
    diags: &mut Diagnostics,
    key: &str,
    value: &Spanned<f64>,
    ok: impl Fn(f64) -> bool,
    what: &str,
) -> Option<f64> {
    let v = *value.get_ref();
    if v.is_finite() && ok(v) {
        Some(v)
    } else {
        diags.error(&value.span(), format!("`{key}` must be {what}; got {v}"));
        None
    }
}

/// One of a few keywords; the message lists them.
pub fn keyword<T: Copy>(
    diags: &mut Diagnostics,
    key: &str,
    value: &Spanned<String>,
    choices: &[(&str, T)],
) -> Option<T> {
    let found = choices.iter().find(|(word, _)| *word == value.get_ref());
    if found.is_none() {
        let listed: Vec<String> = choices.iter().map(|(w, _)| format!("`{w}`")).collect();
        diags.error(
            &value.span(),
            format!(
                "invalid `{key}` `{}`, expected one of {}",
                value.get_ref(),
                listed.join(", ")
            ),
        );
    }
    found.map(|&(_, v)| v)
}

/// A templated value of the spec (`"{p}"`, `"n={n}"`, or an integer written as such), with
/// what the messages need to point at it.
#[derive(Debug, Clone)]
pub struct Field {
    /// The TOML key, for messages (`workers`, `stdout.sum_to`).
    pub key: &'static str,
    /// Span of the value in the source.
    pub span: Range<usize>,
    /// The text as written, for messages.
    pub written: String,
    /// The parsed template.
    pub template: Template,
}

impl Field {
    /// Parses a string value as a template, reporting malformed braces inside the string.
    pub fn from_string(
        diags: &mut Diagnostics,
        key: &'static str,
        value: &Spanned<String>,
    ) -> Option<Field> {
        Self::from_text(diags, key, value.span(), value.get_ref())
    }

    /// A string is a template; an integer stands for itself.
    pub fn from_scalar(
        diags: &mut Diagnostics,
        key: &'static str,
        value: &Spanned<Scalar>,
    ) -> Option<Field> {
        match value.get_ref() {
            Scalar::Str(s) => Self::from_text(diags, key, value.span(), s),
            Scalar::Int(i) => Some(Field {
                key,
                span: value.span(),
                written: i.to_string(),
                template: Template::literal(i.to_string()),
            }),
        }
    }

    fn from_text(
        diags: &mut Diagnostics,
        key: &'static str,
        span: Range<usize>,
        text: &str,
    ) -> Option<Field> {
        match Template::parse(text) {
            Ok(template) => Some(Field {
                key,
                span,
                written: text.to_string(),
                template,
            }),
            Err(e) => {
                diags.error_in_string(&span, e.offset, format!("`{key}`: {}", e.message));
                None
            }
        }
    }

    /// Reports placeholders that are not matrix keys and records the ones that are.
    pub fn check_keys(
        &self,
        diags: &mut Diagnostics,
        matrix_keys: &[String],
        used: &mut BTreeSet<String>,
    ) {
        for (name, offset) in self.template.keys() {
            if matrix_keys.iter().any(|k| k == name) {
                used.insert(name.to_string());
                continue;
            }
            let known = if matrix_keys.is_empty() {
                "this test has no `matrix`".to_string()
            } else {
                let listed: Vec<String> = matrix_keys.iter().map(|k| format!("`{k}`")).collect();
                format!("the matrix defines {}", listed.join(", "))
            };
            diags.error_in_string(
                &self.span,
                offset,
                format!(
                    "unknown placeholder `{{{name}}}` in `{}`: {known} (write `{{{{` for a \
                     literal brace)",
                    self.key
                ),
            );
        }
    }

    /// The text for one matrix case.
    pub fn render(&self, case: &Case) -> String {
        self.template.render(case)
    }

    /// The value for one case as a whole number in `range`.
    pub fn number(
        &self,
        diags: &mut Diagnostics,
        case: &Case,
        range: RangeInclusive<u64>,
    ) -> Option<u64> {
        let text = self.render(case);
        match text.parse::<u64>() {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                let from = if self.template.has_keys() {
                    format!(" (from `{}` with {})", self.written, case.describe())
                } else {
                    String::new()
                };
                diags.error(
                    &self.span,
                    format!(
                        "`{}` must be a whole number from {} to {}; got `{text}`{from}",
                        self.key,
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }
}

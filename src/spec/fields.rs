//! Which `[[exercise.test]]` fields belong to which test kind.
//!
//! The raw test is one flat struct (see `raw`); this module is the one table that says which
//! of its fields a kind accepts and requires, and reports the others.

use std::ops::Range;

use toml::Spanned;

use super::error::Diagnostics;
use super::raw::RawTest;

/// The test kinds, before their fields are read: the one table of their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Run once, check exit status and stdout.
    Output,
    /// Count worker processes.
    Processes,
    /// Measure the speedup.
    Speedup,
    /// Repeat the shared counter.
    Race,
}

use Kind::{Output, Processes, Race, Speedup};

impl Kind {
    pub const ALL: [Kind; 4] = [Output, Processes, Speedup, Race];

    /// The name written in `kind = "..."` (CONTRACT §3 `kind`).
    pub fn name(self) -> &'static str {
        match self {
            Output => "output",
            Processes => "processes",
            Speedup => "speedup",
            Race => "race",
        }
    }

    /// Reads `kind = "..."`, reporting an unknown kind with the list of known ones.
    pub(crate) fn parse(diags: &mut Diagnostics, value: &Spanned<String>) -> Option<Kind> {
        let found = Kind::ALL.into_iter().find(|k| k.name() == value.get_ref());
        if found.is_none() {
            diags.error(
                &value.span(),
                format!(
                    "unknown test kind `{}`, expected one of `output`, `processes`, `speedup`, \
                     `race`",
                    value.get_ref()
                ),
            );
        }
        found
    }
}

/// The kind-specific fields and the kinds that accept each. `kind`, `name`, `matrix`, `points`
/// and `hidden` belong to every kind and are not listed.
const OWNERS: &[(&str, &[Kind])] = &[
    ("args", &[Output, Processes]),
    ("timeout", &[Output, Processes, Race]),
    ("exit", &[Output]),
    ("stdout", &[Output]),
    ("workers", &[Processes, Speedup, Race]),
    ("overlap", &[Processes]),
    ("n", &[Speedup]),
    ("threshold", &[Speedup]),
    ("inconclusive", &[Processes, Speedup]),
    ("curve_up_to", &[Speedup]),
    ("budget", &[Speedup, Race]),
    ("mode", &[Race]),
    ("increments", &[Race]),
    ("max_runs", &[Race]),
    ("calibrate", &[Race]),
];

/// The fields a kind cannot do without. A calibrated race test chooses its own `workers` and
/// `increments`.
fn required(kind: Kind, raw: &RawTest) -> &'static [&'static str] {
    let calibrated = raw.calibrate.as_ref().is_some_and(|c| *c.get_ref());
    match kind {
        Output => &[],
        Processes | Speedup => &["workers"],
        Race if calibrated => &["mode"],
        Race => &["mode", "workers", "increments"],
    }
}

/// The kind-specific fields present in `raw`, with the spans of their values.
fn present(raw: &RawTest) -> Vec<(&'static str, Range<usize>)> {
    let span = |s: Option<Range<usize>>, name| s.map(|s| (name, s));
    [
        span(raw.args.as_ref().map(Spanned::span), "args"),
        span(raw.timeout.as_ref().map(Spanned::span), "timeout"),
        span(raw.exit.as_ref().map(Spanned::span), "exit"),
        span(raw.stdout.as_ref().map(Spanned::span), "stdout"),
        span(raw.workers.as_ref().map(Spanned::span), "workers"),
        span(raw.overlap.as_ref().map(Spanned::span), "overlap"),
        span(raw.n.as_ref().map(Spanned::span), "n"),
        span(raw.threshold.as_ref().map(Spanned::span), "threshold"),
        span(raw.inconclusive.as_ref().map(Spanned::span), "inconclusive"),
        span(raw.curve_up_to.as_ref().map(Spanned::span), "curve_up_to"),
        span(raw.budget.as_ref().map(Spanned::span), "budget"),
        span(raw.mode.as_ref().map(Spanned::span), "mode"),
        span(raw.increments.as_ref().map(Spanned::span), "increments"),
        span(raw.max_runs.as_ref().map(Spanned::span), "max_runs"),
        span(raw.calibrate.as_ref().map(Spanned::span), "calibrate"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Reports fields that belong to other kinds (at their key) and required fields that are
/// missing (at the test's `[[exercise.test]]` header). Returns whether all was well.
pub fn check(diags: &mut Diagnostics, raw: &RawTest, kind: Kind, test_span: &Range<usize>) -> bool {
    let before = diags.count();
    let present = present(raw);
    for (field, value_span) in &present {
        let owners = OWNERS
            .iter()
            .find(|(name, _)| name == field)
            .map_or(&[][..], |(_, kinds)| *kinds);
        if !owners.contains(&kind) {
            let span = diags.key_span(value_span, field);
            diags.error(
                &span,
                format!(
                    "`{field}` is a field of {} tests; this test is `{}`",
                    list(owners),
                    kind.name()
                ),
            );
        }
    }
    for field in required(kind, raw) {
        if !present.iter().any(|(name, _)| name == field) {
            let or = if kind == Race && *field != "mode" {
                " (or `calibrate = true` to let the grader choose it)"
            } else {
                ""
            };
            diags.error(
                test_span,
                format!(
                    "missing field `{field}`: a {} test needs it{or}",
                    kind.name()
                ),
            );
        }
    }
    diags.count() == before
}

/// `race`, `output and race`, `processes, speedup and race`.
fn list(kinds: &[Kind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

//! The raw spec in, the checked [`Spec`] out: top-level keys, exercises, and the uniqueness of
//! ids, binaries and test names. Each test's own checks are `expand`'s.
//!
//! Every problem is reported, not only the first; the model is returned only when there were
//! none.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::{Diagnostics, Position, SpecError};
use super::expand::{expand, is_identifier, Expanded};
use super::model::{BuildSettings, Exercise, HangPolicy, Spec};
use super::prepare::Defaults;
use super::raw::{RawExercise, RawSpec};
use super::values;

const BUILD_TIMEOUT: Duration = Duration::from_secs(300);
const TEST_TIMEOUT: Duration = Duration::from_secs(10);
const TEST_POINTS: f64 = 1.0;
/// More first tests than this is not "the first tests" any more.
const MAX_STOP_AFTER_HANGS: i64 = 20;

/// Checks `raw` (parsed from `source`) and builds the model.
/// Relative paths the spec names are resolved against `dir` (the spec file's directory).
pub fn validate(raw: RawSpec, source: &str, origin: &str, dir: &Path) -> Result<Spec, SpecError> {
    let mut diags = Diagnostics::new(source, origin);
    let lab = required_text(&mut diags, "lab", raw.lab.as_ref(), "lab = \"lab10\"");
    let title = required_text(&mut diags, "title", raw.title.as_ref(), "title = \"...\"");
    let reference = raw
        .reference
        .as_ref()
        .and_then(|r| reference(&mut diags, r, dir));
    let build_timeout = raw.build.as_ref().and_then(|b| b.timeout.as_ref());
    let build_timeout = values::duration_or(&mut diags, "timeout", build_timeout, BUILD_TIMEOUT);
    let defaults = defaults(&mut diags, &raw);
    let (deadline, gradescope_deadline) = match raw.deadline.as_ref() {
        Some(d) if super::deadline::from_gradescope(d) => {
            (None, super::deadline::late_rules(&mut diags, d))
        }
        Some(d) => (super::deadline::deadline(&mut diags, d), None),
        None => (None, None),
    };
    let extensions_file = raw
        .deadline
        .as_ref()
        .and_then(|d| super::deadline::extensions(&mut diags, d, deadline.as_ref(), dir));

    let mut exercises = Vec::new();
    match &raw.exercise {
        Some(list) if !list.get_ref().is_empty() => {
            let mut ids = HashMap::new();
            let mut binaries = HashMap::new();
            for raw_ex in list.get_ref() {
                check_exercise_names(&mut diags, raw_ex.get_ref(), &mut ids, &mut binaries);
                let ex = exercise(&mut diags, raw_ex, &defaults);
                exercises.extend(ex);
            }
        }
        Some(empty) => diags.error(
            &empty.span(),
            "the spec has no exercises; add at least one `[[exercise]]` table",
        ),
        None => {
            diags.error_at_start("the spec has no exercises; add at least one `[[exercise]]` table")
        }
    }

    let spec = Spec {
        lab: lab.unwrap_or_default(),
        title: title.unwrap_or_default(),
        origin: origin.to_string(),
        build: BuildSettings {
            timeout: build_timeout.unwrap_or(BUILD_TIMEOUT),
        },
        reference,
        exercises,
        deadline,
        gradescope_deadline,
        extensions_file,
        extensions: None,
    };
    diags.finish(spec)
}

/// `reference = "DIR"`: a directory holding the course's `src/bin/pool_sum.rs`, relative to
/// `dir`. Checked now, so a wrong path is a spec error with its line rather than speedup tests
/// that cannot be decided.
fn reference(diags: &mut Diagnostics, value: &Spanned<String>, dir: &Path) -> Option<PathBuf> {
    let written = value.get_ref();
    if written.trim().is_empty() {
        diags.error(&value.span(), "`reference` is empty");
        return None;
    }
    let path = dir.join(written);
    let shown = path.display();
    if !path.is_dir() {
        diags.error(
            &value.span(),
            format!(
                "`reference`: no directory {shown} (the course's reference solution, a \
                 directory with `src/bin/pool_sum.rs`, relative to the spec file)"
            ),
        );
        return None;
    }
    if !path.join("src/bin/pool_sum.rs").is_file() {
        diags.error(
            &value.span(),
            format!("`reference`: {shown} has no `src/bin/pool_sum.rs`, the speedup's yardstick"),
        );
        return None;
    }
    Some(path)
}

/// A required, non-empty top-level string.
fn required_text(
    diags: &mut Diagnostics,
    key: &str,
    value: Option<&Spanned<String>>,
    example: &str,
) -> Option<String> {
    match value {
        None => {
            diags.error_at_start(format!(
                "missing top-level field `{key}` (like `{example}`)"
            ));
            None
        }
        Some(v) if v.get_ref().trim().is_empty() => {
            diags.error(&v.span(), format!("`{key}` is empty"));
            None
        }
        Some(v) => Some(v.get_ref().clone()),
    }
}

fn defaults(diags: &mut Diagnostics, raw: &RawSpec) -> Defaults {
    let d = raw.defaults.as_ref();
    let timeout = d.and_then(|d| d.timeout.as_ref());
    let points = d.and_then(|d| d.points.as_ref());
    let stop_after = d.and_then(|d| d.stop_after_hangs.as_ref());
    let hang_timeout = d.and_then(|d| d.hang_timeout.as_ref());
    Defaults {
        timeout: values::duration_or(diags, "timeout", timeout, TEST_TIMEOUT)
            .unwrap_or(TEST_TIMEOUT),
        points: points
            .map_or(Some(TEST_POINTS), |p| values::points(diags, p))
            .unwrap_or(TEST_POINTS),
        hangs: HangPolicy {
            stop_after: stop_after
                .and_then(|s| stop_after_hangs(diags, s))
                .unwrap_or(HangPolicy::OFF.stop_after),
            timeout: values::duration_or(
                diags,
                "hang_timeout",
                hang_timeout,
                HangPolicy::OFF.timeout,
            )
            .unwrap_or(HangPolicy::OFF.timeout),
        },
        reference_timeouts: d
            .and_then(|d| d.timeout_from_reference.as_ref())
            .and_then(|r| super::from_reference::from_reference(diags, r)),
    }
}

/// `stop_after_hangs`: how many first tests must hang to stop an exercise (0: never).
fn stop_after_hangs(diags: &mut Diagnostics, value: &Spanned<i64>) -> Option<u32> {
    let n = *value.get_ref();
    if (0..=MAX_STOP_AFTER_HANGS).contains(&n) {
        return u32::try_from(n).ok();
    }
    diags.error(
        &value.span(),
        format!(
            "`stop_after_hangs` must be a whole number from 0 (never stop early) to \
             {MAX_STOP_AFTER_HANGS}; got {n}"
        ),
    );
    None
}

/// Checks the exercise's `id` and `binary` and that no earlier exercise uses them.
fn check_exercise_names(
    diags: &mut Diagnostics,
    raw: &RawExercise,
    ids: &mut HashMap<String, Position>,
    binaries: &mut HashMap<String, Position>,
) {
    if let Some(id) = &raw.id {
        let name = id.get_ref();
        let valid = !name.is_empty()
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            diags.error(
                &id.span(),
                format!(
                    "invalid exercise id `{name}`: use lowercase letters, digits and `-` \
                     (like `pool-sum`)"
                ),
            );
        }
        unique(diags, ids, id, "exercise id");
    }
    if let Some(binary) = &raw.binary {
        if !is_identifier(binary.get_ref()) {
            diags.error(
                &binary.span(),
                format!(
                    "invalid binary `{}`: write the name of the `src/bin/<binary>.rs` target, \
                     letters, digits and `_` (like `pool_sum`)",
                    binary.get_ref()
                ),
            );
        }
        unique(diags, binaries, binary, "binary");
    }
}

/// Records `value` in `seen`, reporting it when an earlier place already used it.
fn unique(
    diags: &mut Diagnostics,
    seen: &mut HashMap<String, Position>,
    value: &Spanned<String>,
    what: &str,
) {
    let here = diags.position(&value.span());
    if let Some(first) = seen.get(value.get_ref()) {
        diags.error(
            &value.span(),
            format!(
                "duplicate {what} `{}`; first used at {first}",
                value.get_ref()
            ),
        );
    } else {
        seen.insert(value.get_ref().clone(), here);
    }
}

/// One exercise with its tests expanded; `None` (reported) when its required keys are missing.
fn exercise(
    diags: &mut Diagnostics,
    raw: &Spanned<RawExercise>,
    defaults: &Defaults,
) -> Option<Exercise> {
    let span = raw.span();
    let ex = raw.get_ref();
    for (key, present) in [("id", ex.id.is_some()), ("binary", ex.binary.is_some())] {
        if !present {
            diags.error(
                &span,
                format!("missing field `{key}` in this `[[exercise]]`"),
            );
        }
    }
    let tests = match &ex.test {
        Some(tests) if !tests.is_empty() => tests,
        _ => {
            diags.error(
                &span,
                "this exercise has no tests; add at least one `[[exercise.test]]` after it",
            );
            return None;
        }
    };
    let expanded: Vec<Expanded> = tests
        .iter()
        .flat_map(|t| expand(diags, t, defaults))
        .collect();
    check_unique_names(diags, &expanded);
    let stop_after = match &ex.stop_after_hangs {
        Some(s) => stop_after_hangs(diags, s)?,
        None => defaults.hangs.stop_after,
    };
    let reference_timeouts = super::from_reference::for_exercise(
        diags,
        ex.binary.as_ref().map(|b| b.get_ref().as_str()),
        ex.timeout_from_reference.as_ref(),
        defaults.reference_timeouts,
    );
    Some(Exercise {
        id: ex.id.as_ref()?.get_ref().clone(),
        binary: ex.binary.as_ref()?.get_ref().clone(),
        tests: expanded.into_iter().map(|e| e.test).collect(),
        hangs: HangPolicy {
            stop_after,
            ..defaults.hangs
        },
        reference_timeouts,
    })
}

/// Reports test names that occur twice in one exercise, once per pair of name templates.
fn check_unique_names(diags: &mut Diagnostics, tests: &[Expanded]) {
    let mut first: HashMap<&str, &Expanded> = HashMap::new();
    let mut reported = Vec::new();
    for e in tests {
        let Some(earlier) = first.get(e.test.name.as_str()) else {
            first.insert(&e.test.name, e);
            continue;
        };
        let pair = (earlier.name_field.span.start, e.name_field.span.start);
        if reported.contains(&pair) {
            continue;
        }
        reported.push(pair);
        let message = if pair.0 == pair.1 {
            let differing = e.case.differing_keys(&earlier.case);
            let keys: Vec<String> = differing.iter().map(|k| format!("`{{{k}}}`")).collect();
            format!(
                "duplicate test name `{}`: this template gives it to {} and to {}; put {} in \
                 the name",
                e.test.name,
                earlier.case.describe(),
                e.case.describe(),
                keys.join(" and ")
            )
        } else {
            let at = diags.position(&earlier.name_field.span);
            format!(
                "duplicate test name `{}`; the test at {at} has the same name",
                e.test.name
            )
        };
        diags.error(&e.name_field.span, message);
    }
}

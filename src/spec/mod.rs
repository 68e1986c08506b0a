//! Exercise specs: TOML in, a checked [`Spec`] out.
//!
//! This module owns the spec language (the course's language for a lab) and its validation.
//! It reports every problem with file, line and column, and hands the rest of labgrade a model
//! in which illegal states cannot be represented. It never runs anything.
//!
//! The pipeline: `raw` (serde: the shape of the TOML) → `validate` (spec and exercises) →
//! `expand` (one test: `fields`, `prepare`, `template`, `values`), `deadline` (the
//! `[deadline]` table) → [`model`]; `select` picks
//! the tests one grading runs (`--only`, the student's check without hidden tests).
//! The language is documented in `docs/spec-format.md`.

mod criteria;
mod deadline;
mod duration;
mod error;
mod expand;
pub mod extensions;
mod fields;
mod from_reference;
pub mod model;
mod prepare;
mod raw;
mod select;
mod template;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::{Diagnostic, Position, SpecError};
pub use fields::Kind;
pub use model::*;
pub use select::NoMatch;

/// The Lab 10 spec compiled into the binary: what `labgrade` grades against without `--spec`.
pub const BUILTIN_LAB10: &str = include_str!("../../specs/lab10.toml");

/// Parses and validates a spec. `origin` names the source in messages (a path, or
/// `<built-in lab10.toml>`). On error, every problem found is reported.
pub fn parse(source: &str, origin: &str) -> Result<Spec, SpecError> {
    parse_in(source, origin, Path::new("."))
}

/// [`parse`], resolving the paths the spec names (`reference`) against `dir`.
fn parse_in(source: &str, origin: &str, dir: &Path) -> Result<Spec, SpecError> {
    let raw: raw::RawSpec = toml::from_str(source).map_err(|e| toml_error(&e, source, origin))?;
    validate::validate(raw, source, origin, dir)
}

/// Reads and parses the spec at `path`; a file that cannot be read is a [`SpecError`] too.
pub fn load_file(path: &Path) -> Result<Spec, SpecError> {
    let origin = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        SpecError::new(vec![Diagnostic {
            origin: origin.clone(),
            position: None,
            message: format!("cannot read the spec: {e}"),
        }])
    })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    parse_in(&source, &origin, dir.unwrap_or(Path::new(".")))
}

/// The built-in Lab 10 spec, checked.
///
/// # Panics
/// Never in a released build: a unit test parses [`BUILTIN_LAB10`].
pub fn builtin() -> Spec {
    parse(BUILTIN_LAB10, "<built-in lab10.toml>").expect("the built-in lab10 spec is valid")
}

/// A TOML syntax error or a shape error from serde (unknown key, wrong type) as a diagnostic.
fn toml_error(e: &toml::de::Error, source: &str, origin: &str) -> SpecError {
    SpecError::new(vec![Diagnostic {
        origin: origin.to_string(),
        position: Some(Position::of_offset(source, e.span().map_or(0, |s| s.start))),
        message: e.message().trim_end().to_string(),
    }])
}

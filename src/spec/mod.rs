//! Exercise specs: TOML in, a checked [`Spec`] out.
//!
//! This module owns the spec language (the course's language for a lab) and its validation.
//! It reports every problem with file, line and column, and hands the rest of labgrade a model
//! in which illegal states cannot be represented. It never runs anything.

pub mod model;

pub use model::*;

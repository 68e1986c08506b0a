//! The spec as written: serde structs that mirror the TOML one to one.
//!
//! Only the *shape* is checked here (unknown keys, wrong TOML types). Every field that needs a
//! value check is a [`Spanned`] so `validate` can point at it, and almost every field is
//! optional so that `validate` can report all missing keys at once instead of serde stopping at
//! the first. A test is one flat struct for every kind: serde's spans do not survive tagged
//! enums, so `validate` sorts the fields by kind.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// A whole spec file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    /// Short identifier of the lab.
    pub lab: Option<Spanned<String>>,
    /// Human title.
    pub title: Option<Spanned<String>>,
    /// The course's reference solution (a directory, relative to the spec file): the speedup
    /// yardstick. Staff bundles only; students never get it.
    pub reference: Option<Spanned<String>>,
    /// `[build]`.
    pub build: Option<RawBuild>,
    /// `[defaults]`.
    pub defaults: Option<RawDefaults>,
    /// `[[exercise]]`.
    pub exercise: Option<Spanned<Vec<Spanned<RawExercise>>>>,
    /// `[deadline]`: when the lab is due and what lateness costs.
    pub deadline: Option<Spanned<RawDeadline>>,
}

/// `[deadline]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeadline {
    /// Any TOML value, so `validate` can explain what an offset datetime is when it gets a
    /// string, a local datetime or a date.
    pub due: Option<Spanned<toml::Value>>,
    /// Time after `due` that still counts as on time.
    pub grace: Option<Spanned<Scalar>>,
    /// `"none"` or a table.
    pub penalty: Option<Spanned<RawPenalty>>,
    /// The TA's extensions file (`submission,due` CSV), relative to the spec file.
    pub extensions: Option<Spanned<String>>,
}

/// `penalty = "none"` or `penalty = { ... }`.
#[derive(Debug)]
pub enum RawPenalty {
    /// A string: only `none` is valid.
    Keyword(String),
    /// `{ flat = … }`, `{ per_day = …, max = … }` or `{ per_hour = …, max = … }`.
    Table(RawPenaltyTable),
}

/// The table form of `penalty` (exactly one rule, validated later).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPenaltyTable {
    /// Fraction taken from a late submission's score, however late.
    pub flat: Option<Spanned<f64>>,
    /// Fraction taken per started day late.
    pub per_day: Option<Spanned<f64>>,
    /// Fraction taken per started hour late.
    pub per_hour: Option<Spanned<f64>>,
    /// Cap of `per_day` / `per_hour`.
    pub max: Option<Spanned<f64>>,
}

impl<'de> Deserialize<'de> for RawPenalty {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PenaltyVisitor;

        impl<'de> Visitor<'de> for PenaltyVisitor {
            type Value = RawPenalty;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`\"none\"` or a table like `{ per_day = 0.1, max = 0.5 }` or `{ flat = 0.2 }`",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPenalty, E> {
                Ok(RawPenalty::Keyword(v.to_string()))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawPenalty, A::Error> {
                RawPenaltyTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawPenalty::Table)
            }
        }

        deserializer.deserialize_any(PenaltyVisitor)
    }
}

/// `[build]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuild {
    /// Limit for one build of a submission.
    pub timeout: Option<Spanned<Scalar>>,
}

/// `[defaults]`: values every test gets unless it says otherwise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Default run timeout.
    pub timeout: Option<Spanned<Scalar>>,
    /// Default points per expanded test.
    pub points: Option<Spanned<f64>>,
    /// Stop an exercise whose first this-many tests all hung (0: never).
    pub stop_after_hangs: Option<Spanned<i64>>,
    /// How long a first test may print nothing before it counts as hung.
    pub hang_timeout: Option<Spanned<Scalar>>,
    /// Output tests' limits from the reference's measured time (exercises of `pool_sum`).
    pub timeout_from_reference: Option<Spanned<RawFromReference>>,
}

/// `timeout_from_reference = { multiple = 20, floor = "2s" }` (both optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFromReference {
    /// Times the reference's time on the same input.
    pub multiple: Option<Spanned<i64>>,
    /// The least limit.
    pub floor: Option<Spanned<Scalar>>,
}

/// One `[[exercise]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExercise {
    /// CONTRACT §3 exercise name.
    pub id: Option<Spanned<String>>,
    /// The `src/bin/<binary>.rs` target.
    pub binary: Option<Spanned<String>>,
    /// Overrides `[defaults] stop_after_hangs` for this exercise.
    pub stop_after_hangs: Option<Spanned<i64>>,
    /// Overrides `[defaults] timeout_from_reference` for this exercise.
    pub timeout_from_reference: Option<Spanned<RawFromReference>>,
    /// `[[exercise.test]]`.
    pub test: Option<Vec<Spanned<RawTest>>>,
}

/// Matrix as written: keys with their spans (file order is recovered from the spans, because
/// the TOML map is sorted by key), each with its list of values.
pub type RawMatrix = BTreeMap<Spanned<String>, Spanned<Vec<Spanned<Scalar>>>>;

/// One `[[exercise.test]]`, all kinds' fields together.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    // Every kind.
    /// `output`, `processes`, `speedup` or `race`.
    pub kind: Option<Spanned<String>>,
    /// Name template.
    pub name: Option<Spanned<String>>,
    /// Values to expand the test over.
    pub matrix: Option<Spanned<RawMatrix>>,
    /// Points per expanded case.
    pub points: Option<Spanned<f64>>,
    /// Hidden from `check`.
    pub hidden: Option<bool>,

    // output, processes (and race for `timeout`).
    /// Argument templates.
    pub args: Option<Spanned<Vec<Spanned<String>>>>,
    /// Limit of one run.
    pub timeout: Option<Spanned<Scalar>>,

    // output.
    /// `success`, `failure` or an exit code.
    pub exit: Option<Spanned<Scalar>>,
    /// Stdout checker.
    pub stdout: Option<Spanned<RawStdout>>,

    // processes, speedup, race.
    /// Worker count (template).
    pub workers: Option<Spanned<Scalar>>,
    // processes.
    /// Workers must overlap in time.
    pub overlap: Option<Spanned<bool>>,

    // speedup.
    /// Problem size (template); absent: calibrated.
    pub n: Option<Spanned<Scalar>>,
    /// Required speedup.
    pub threshold: Option<Spanned<RawThreshold>>,
    /// `pass` or `fail`.
    pub inconclusive: Option<Spanned<String>>,
    /// The speedup curve's largest worker count (1: no curve).
    pub curve_up_to: Option<Spanned<i64>>,
    // speedup, race.
    /// Time allowed for the measurement.
    pub budget: Option<Spanned<Scalar>>,

    // race.
    /// `safe` or `racy`.
    pub mode: Option<Spanned<String>>,
    /// Increments per worker (template).
    pub increments: Option<Spanned<Scalar>>,
    /// Upper bound on repetitions.
    pub max_runs: Option<Spanned<i64>>,
    /// Let the grader choose the conditions (calibrated K, rotated P and builds).
    pub calibrate: Option<Spanned<bool>>,
}

/// `stdout = { ... }`: exactly one of the checkers (validated later).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStdout {
    /// Literal text (a template).
    pub equals: Option<Spanned<String>>,
    /// `1 + … + n` (a template of a `u64`).
    pub sum_to: Option<Spanned<Scalar>>,
    /// Product of factors (templates of `u64`s).
    pub product: Option<Spanned<Vec<Spanned<Scalar>>>>,
}

/// `threshold = { ... }`: relative or absolute (validated later).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    /// Fraction of the reference speedup.
    pub relative: Option<Spanned<f64>>,
    /// Minimum speedup with `relative`.
    pub floor: Option<Spanned<f64>>,
    /// Fixed speedup factor.
    pub absolute: Option<Spanned<f64>>,
    /// Scale `absolute` down to the cores available.
    pub scale_to_cores: Option<Spanned<bool>>,
}

/// A value that may be an integer or a string: matrix values, templates of numbers
/// (`workers = 4` or `workers = "{p}"`), exit codes, and durations (strings, but an integer is
/// accepted here so `validate` can say that a unit is missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// A TOML integer.
    Int(i64),
    /// A TOML string.
    Str(String),
}

impl Scalar {
    /// The text the value stands for in a template or an argument.
    pub fn to_text(&self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;

        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom(format!("integer `{v}` is too large")))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

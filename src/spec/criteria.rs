//! What a run must show: the exit status and stdout checker of `output` tests, and the
//! threshold of `speedup` tests. Each is read from its TOML value with every problem reported
//! at its span; the stdout checker keeps its templates for `prepare` to instantiate.

use toml::Spanned;

use super::error::Diagnostics;
use super::model::*;
use super::raw::{RawStdout, RawThreshold, Scalar};
use super::template::Case;
use super::values::{self, Field};

/// `{ relative = 0.6, floor = 1.1 }`.
pub const DEFAULT_THRESHOLD: SpeedupThreshold = SpeedupThreshold::RelativeToReference {
    fraction: 0.6,
    floor: DEFAULT_FLOOR,
};
const DEFAULT_FLOOR: f64 = 1.1;

/// `stdout = { ... }` with its templates unexpanded.
#[derive(Debug)]
pub enum StdoutPlan {
    /// `{ equals = "..." }`.
    Equals(Field),
    /// `{ sum_to = "..." }`.
    SumTo(Field),
    /// `{ product = [...] }`.
    Product(Vec<Field>),
}

/// `exit = ...`: `success` (the default), `failure` or a code from 0 to 255.
pub fn exit(diags: &mut Diagnostics, value: Option<&Spanned<Scalar>>) -> Option<ExitExpectation> {
    let Some(value) = value else {
        return Some(ExitExpectation::Success);
    };
    let found = match value.get_ref() {
        Scalar::Str(s) if s == "success" => Some(ExitExpectation::Success),
        Scalar::Str(s) if s == "failure" => Some(ExitExpectation::Failure),
        Scalar::Int(code @ 0..=255) => Some(ExitExpectation::Code(*code as i32)),
        _ => None,
    };
    if found.is_none() {
        diags.error(
            &value.span(),
            format!(
                "invalid `exit` {}, expected `\"success\"`, `\"failure\"` (any non-zero code) or \
                 an exit code from 0 to 255",
                match value.get_ref() {
                    Scalar::Str(s) => format!("`\"{s}\"`"),
                    Scalar::Int(i) => format!("`{i}`"),
                }
            ),
        );
    }
    found
}

/// `stdout = { ... }`: exactly one checker, its templates parsed (and added to `fields` for
/// the placeholder check).
pub fn stdout(
    diags: &mut Diagnostics,
    value: &Spanned<RawStdout>,
    fields: &mut Vec<Field>,
) -> Option<StdoutPlan> {
    let raw = value.get_ref();
    let given: Vec<&str> = [
        raw.equals.as_ref().map(|_| "`equals`"),
        raw.sum_to.as_ref().map(|_| "`sum_to`"),
        raw.product.as_ref().map(|_| "`product`"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() != 1 {
        let found = if given.is_empty() {
            "none".to_string()
        } else {
            given.join(" and ")
        };
        diags.error(
            &value.span(),
            format!(
                "`stdout` needs exactly one checker: `equals`, `sum_to` or `product`; found {found}"
            ),
        );
        return None;
    }
    let mut keep = |f: Option<Field>| {
        fields.extend(f.iter().cloned());
        f
    };
    if let Some(e) = &raw.equals {
        return keep(Field::from_string(diags, "stdout.equals", e)).map(StdoutPlan::Equals);
    }
    if let Some(s) = &raw.sum_to {
        return keep(Field::from_scalar(diags, "stdout.sum_to", s)).map(StdoutPlan::SumTo);
    }
    let product = raw.product.as_ref()?;
    if product.get_ref().is_empty() {
        diags.error(
            &product.span(),
            "`stdout.product` needs at least one factor",
        );
        return None;
    }
    let factors: Vec<Option<Field>> = product
        .get_ref()
        .iter()
        .map(|f| keep(Field::from_scalar(diags, "stdout.product", f)))
        .collect();
    factors
        .into_iter()
        .collect::<Option<_>>()
        .map(StdoutPlan::Product)
}

/// `threshold = { ... }`: exactly one of the relative and absolute forms, within range.
pub fn threshold(
    diags: &mut Diagnostics,
    value: &Spanned<RawThreshold>,
) -> Option<SpeedupThreshold> {
    let t = value.get_ref();
    let fraction = |v| v > 0.0 && v <= 1.0;
    let factor = |v| v >= 1.0;
    match (&t.relative, &t.absolute) {
        (Some(rel), None) => {
            if let Some(s) = &t.scale_to_cores {
                diags.error(
                    &s.span(),
                    "`scale_to_cores` goes with `absolute`, not `relative`",
                );
            }
            let fraction = values::float_in(diags, "relative", rel, fraction, "in (0, 1]");
            let floor = t.floor.as_ref().map_or(Some(DEFAULT_FLOOR), |f| {
                values::float_in(diags, "floor", f, factor, "at least 1")
            });
            Some(SpeedupThreshold::RelativeToReference {
                fraction: fraction?,
                floor: floor?,
            })
            .filter(|_| t.scale_to_cores.is_none())
        }
        (None, Some(abs)) => {
            if let Some(f) = &t.floor {
                diags.error(&f.span(), "`floor` goes with `relative`, not `absolute`");
            }
            let factor = values::float_in(diags, "absolute", abs, factor, "at least 1");
            Some(SpeedupThreshold::Absolute {
                factor: factor?,
                scale_to_cores: t.scale_to_cores.as_ref().is_some_and(|s| *s.get_ref()),
            })
            .filter(|_| t.floor.is_none())
        }
        (Some(_), Some(_)) => {
            diags.error(
                &value.span(),
                "`threshold` takes either `relative` or `absolute`, not both",
            );
            None
        }
        (None, None) => {
            diags.error(
                &value.span(),
                "`threshold` needs `relative = <fraction of the reference speedup>` or \
                 `absolute = <speedup factor>`",
            );
            None
        }
    }
}

impl StdoutPlan {
    /// The checker for one matrix case; its numbers must parse as `u64` after substitution.
    pub fn instantiate(&self, diags: &mut Diagnostics, case: &Case) -> Option<StdoutCheck> {
        match self {
            StdoutPlan::Equals(text) => Some(StdoutCheck::Equals(text.render(case))),
            StdoutPlan::SumTo(n) => Some(StdoutCheck::SumTo {
                n: n.number(diags, case, 0..=u64::MAX)?,
            }),
            StdoutPlan::Product(factors) => {
                let parsed: Vec<Option<u64>> = factors
                    .iter()
                    .map(|f| f.number(diags, case, 0..=u64::MAX))
                    .collect();
                Some(StdoutCheck::Product {
                    factors: parsed.into_iter().collect::<Option<_>>()?,
                })
            }
        }
    }
}

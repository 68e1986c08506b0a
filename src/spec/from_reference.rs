//! `timeout_from_reference`: checks the setting and decides which exercises it applies to.
//!
//! The reference (the spec's `reference` solution, else the neutral yardstick built into the
//! grader) is a `pool_sum`: only exercises of that binary can have their limits derived from
//! its time. This module only validates; the grader measures (`grade::limits`).

use toml::Spanned;

use super::error::Diagnostics;
use super::model::ReferenceTimeouts;
use super::raw::RawFromReference;
use super::values;

/// The binary the reference implements.
pub const REFERENCE_BINARY: &str = "pool_sum";
/// A multiple beyond this is no limit at all.
const MOST_MULTIPLE: i64 = 1_000;

/// The checked setting; `None` (reported) when a value is wrong.
pub fn from_reference(
    diags: &mut Diagnostics,
    raw: &Spanned<RawFromReference>,
) -> Option<ReferenceTimeouts> {
    let r = raw.get_ref();
    let least = i64::from(ReferenceTimeouts::LEAST_MULTIPLE);
    let multiple = match &r.multiple {
        None => Some(ReferenceTimeouts::DEFAULT.multiple),
        Some(m) if (least..=MOST_MULTIPLE).contains(m.get_ref()) => {
            u32::try_from(*m.get_ref()).ok()
        }
        Some(m) => {
            diags.error(
                &m.span(),
                format!(
                    "`multiple` must be a whole number from {least} to {MOST_MULTIPLE}; got {}: \
                     a correct pool may be several times slower than the reference and run on \
                     a busier machine, and must never lose a point to its limit",
                    m.get_ref()
                ),
            );
            None
        }
    };
    let floor = match &r.floor {
        None => Some(ReferenceTimeouts::DEFAULT.floor),
        Some(f) => match values::duration(diags, "floor", f) {
            Some(d) if d < ReferenceTimeouts::LEAST_FLOOR => {
                diags.error(
                    &f.span(),
                    format!(
                        "`floor` must be at least {} s: it absorbs starting the program in the \
                         sandbox and a busy machine",
                        ReferenceTimeouts::LEAST_FLOOR.as_secs()
                    ),
                );
                None
            }
            other => other,
        },
    };
    Some(ReferenceTimeouts {
        multiple: multiple?,
        floor: floor?,
    })
}

/// The setting of an exercise of `binary`: its own (`own`, an error on an exercise the
/// reference does not implement), else the defaults' when the reference implements it.
pub fn for_exercise(
    diags: &mut Diagnostics,
    binary: Option<&str>,
    own: Option<&Spanned<RawFromReference>>,
    defaults: Option<ReferenceTimeouts>,
) -> Option<ReferenceTimeouts> {
    let ours = binary == Some(REFERENCE_BINARY);
    match own {
        Some(raw) if !ours => {
            diags.error(
                &raw.span(),
                format!(
                    "`timeout_from_reference` applies only to an exercise of `{REFERENCE_BINARY}`: \
                     the reference solution is a `{REFERENCE_BINARY}`, and nothing else can be \
                     timed against it"
                ),
            );
            None
        }
        Some(raw) => from_reference(diags, raw),
        None if ours => defaults,
        None => None,
    }
}

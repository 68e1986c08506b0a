//! `[deadline]`, checked: the due instant (an offset datetime), the grace period and the late
//! penalty. Every problem is reported at its value, like the rest of the spec.

use std::time::Duration;

use toml::Spanned;

use super::error::Diagnostics;
use super::model::{Deadline, LatePenalty, LatePeriod, LateRules};
use super::raw::{RawDeadline, RawPenalty, RawPenaltyTable};
use super::values;
use crate::datetime::ZonedTime;

const EXAMPLE_DUE: &str = "due = 2026-12-01T22:00:00-05:00";
/// `due = "gradescope"`: the due dates of Gradescope's submission metadata.
const GRADESCOPE: &str = "gradescope";
const PENALTY_FORMS: &str = "`\"none\"`, `{ flat = 0.2 }` (a fraction of the score), \
                             `{ per_day = 0.1, max = 0.5 }` or `{ per_hour = 0.01, max = 0.5 }`";

/// The checked `[deadline]`; `None` (reported) when some part of it is invalid.
pub fn deadline(diags: &mut Diagnostics, raw: &Spanned<RawDeadline>) -> Option<Deadline> {
    let d = raw.get_ref();
    let due = match &d.due {
        Some(value) => due(diags, value),
        None => {
            diags.error(
                &raw.span(),
                format!("`[deadline]` needs `due`, a date and time with a UTC offset, like `{EXAMPLE_DUE}`"),
            );
            None
        }
    };
    let rules = late_rules(diags, raw);
    let rules = rules?;
    Some(Deadline {
        due: due?,
        grace: rules.grace,
        penalty: rules.penalty,
    })
}

/// Whether `[deadline]` takes its dates from Gradescope: `due = "gradescope"`.
pub fn from_gradescope(raw: &Spanned<RawDeadline>) -> bool {
    matches!(
        raw.get_ref().due.as_ref().map(|v| v.get_ref()),
        Some(toml::Value::String(s)) if s == GRADESCOPE
    )
}

/// The grace period and the penalty of `[deadline]`, checked.
pub fn late_rules(diags: &mut Diagnostics, raw: &Spanned<RawDeadline>) -> Option<LateRules> {
    let d = raw.get_ref();
    let grace = d.grace.as_ref().map_or(Some(Duration::ZERO), |g| {
        values::duration_or_zero(diags, "grace", g)
    });
    let penalty = d
        .penalty
        .as_ref()
        .map_or(Some(LatePenalty::None), |p| penalty(diags, p));
    Some(LateRules {
        grace: grace?,
        penalty: penalty?,
    })
}

fn due(diags: &mut Diagnostics, value: &Spanned<toml::Value>) -> Option<ZonedTime> {
    let message = match value.get_ref() {
        toml::Value::Datetime(dt) => match ZonedTime::from_toml(dt) {
            Ok(due) => return Some(due),
            Err(why) => format!("`due` = {dt}: {why}"),
        },
        toml::Value::String(s) => match ZonedTime::parse(s) {
            Ok(_) => format!(
                "`due` is a string; a deadline is a TOML datetime: write it without quotes, \
                 `due = {}`",
                s.trim()
            ),
            Err(_) => format!(
                "`due` is a string; a deadline is a TOML datetime without quotes, like \
                 `{EXAMPLE_DUE}`, or `due = \"{GRADESCOPE}\"` for Gradescope's due dates"
            ),
        },
        other => format!(
            "`due` must be a date and time with a UTC offset, like `{EXAMPLE_DUE}`; got {} `{other}`",
            other.type_str()
        ),
    };
    diags.error(&value.span(), message);
    None
}

fn penalty(diags: &mut Diagnostics, value: &Spanned<RawPenalty>) -> Option<LatePenalty> {
    match value.get_ref() {
        RawPenalty::Keyword(k) if k == "none" => Some(LatePenalty::None),
        RawPenalty::Keyword(k) => {
            diags.error(
                &value.span(),
                format!("invalid `penalty` `\"{k}\"`: write {PENALTY_FORMS}"),
            );
            None
        }
        RawPenalty::Table(t) => penalty_table(diags, value, t),
    }
}

fn penalty_table(
    diags: &mut Diagnostics,
    value: &Spanned<RawPenalty>,
    t: &RawPenaltyTable,
) -> Option<LatePenalty> {
    let fraction = |v: f64| v > 0.0 && v <= 1.0;
    const A_FRACTION: &str = "a fraction of the score in (0, 1] (0.1 is 10%)";
    let rules: Vec<(&str, &Spanned<f64>)> = [
        ("flat", &t.flat),
        ("per_day", &t.per_day),
        ("per_hour", &t.per_hour),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.as_ref().map(|v| (name, v)))
    .collect();
    match rules.as_slice() {
        [] => {
            diags.error(
                &value.span(),
                format!("`penalty` needs one rule: {PENALTY_FORMS}"),
            );
            None
        }
        [("flat", f)] => {
            if let Some(max) = &t.max {
                diags.error(
                    &diags.key_span(&max.span(), "max"),
                    "`max` goes with `per_day` or `per_hour`; a flat penalty is its own maximum",
                );
            }
            let f = values::float_in(diags, "flat", f, fraction, A_FRACTION)?;
            Some(LatePenalty::Flat { fraction: f }).filter(|_| t.max.is_none())
        }
        [(name, f)] => {
            let per = if *name == "per_day" {
                LatePeriod::Day
            } else {
                LatePeriod::Hour
            };
            let f = values::float_in(diags, name, f, fraction, A_FRACTION);
            let max = t.max.as_ref().map_or(Some(1.0), |m| {
                values::float_in(diags, "max", m, fraction, A_FRACTION)
            });
            Some(LatePenalty::Rate {
                fraction: f?,
                per,
                max: max?,
            })
        }
        [(first, _), (second, v), ..] => {
            diags.error(
                &diags.key_span(&v.span(), second),
                format!("`penalty` takes one rule, not both `{first}` and `{second}`"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::spec::{parse, Deadline, LatePenalty, LatePeriod, Spec};

    /// A spec whose `[deadline]` table is `table` (its header on line 3).
    fn with_deadline(table: &str) -> String {
        format!(
            "lab = \"x\"\ntitle = \"X\"\n[deadline]\n{table}\n[[exercise]]\nid = \"e\"\n\
             binary = \"e\"\n[[exercise.test]]\nkind = \"output\"\nname = \"t\"\n"
        )
    }

    fn deadline(table: &str) -> Deadline {
        let spec = parse(&with_deadline(table), "t.toml").unwrap_or_else(|e| panic!("{e}"));
        spec.deadline.expect("a deadline")
    }

    fn errors(table: &str) -> Vec<String> {
        match parse(&with_deadline(table), "t.toml") {
            Ok(spec) => panic!("expected errors, got {:?}", spec.deadline),
            Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_three_penalty_forms_grace_and_defaults() {
        let d = deadline(
            "due = 2026-12-01T22:00:00-05:00\ngrace = \"15m\"\n\
             penalty = { per_day = 0.10, max = 0.5 }",
        );
        assert_eq!(d.due.rfc3339(), "2026-12-01T22:00:00-05:00");
        assert_eq!(d.grace, Duration::from_secs(900));
        assert_eq!(
            d.penalty,
            LatePenalty::Rate {
                fraction: 0.1,
                per: LatePeriod::Day,
                max: 0.5
            }
        );
        let d = deadline("due = 2026-12-02T03:00:00Z\npenalty = { flat = 0.2 }");
        assert_eq!(d.due.offset_minutes, 0);
        assert_eq!(d.grace, Duration::ZERO);
        assert_eq!(d.penalty, LatePenalty::Flat { fraction: 0.2 });
        let d = deadline("due = 2026-12-01T22:00:00-05:00\npenalty = { per_hour = 1 }");
        assert_eq!(
            d.penalty,
            LatePenalty::Rate {
                fraction: 1.0,
                per: LatePeriod::Hour,
                max: 1.0
            }
        );
        let d = deadline("due = 2026-12-01T22:00:00-05:00\ngrace = \"0s\"\npenalty = \"none\"");
        assert_eq!(d.penalty, LatePenalty::None);
        assert_eq!(
            deadline("due = 2026-12-01T22:00:00-05:00").penalty,
            LatePenalty::None
        );
        let none = parse(crate::spec::BUILTIN_LAB10, "lab10").unwrap();
        assert_eq!(none.deadline, None);
    }

    #[test]
    fn due_must_be_an_offset_datetime_and_the_message_says_how() {
        assert_eq!(
            errors("due = 2026-12-01T22:00:00"),
            [
                "t.toml:4:7: error: `due` = 2026-12-01T22:00:00: a date and time without a UTC \
              offset is a different moment in every time zone: add the course's offset, like \
              `2026-12-01T22:00:00-05:00`, or `Z` for UTC"
            ]
        );
        assert_eq!(
            errors("due = \"2026-12-01T22:00:00-05:00\""),
            [
                "t.toml:4:7: error: `due` is a string; a deadline is a TOML datetime: write it \
              without quotes, `due = 2026-12-01T22:00:00-05:00`"
            ]
        );
        assert!(errors("due = 2026-12-01")[0].contains("a date alone has no time of day"));
        assert!(errors("due = 22:00:00")[0].contains("a time of day alone has no date"));
        assert!(errors("due = 5")[0].contains("got integer `5`"));
        assert_eq!(
            errors("grace = \"15m\""),
            [
                "t.toml:3:1: error: `[deadline]` needs `due`, a date and time with a UTC offset, \
              like `due = 2026-12-01T22:00:00-05:00`"
            ]
        );
    }

    #[test]
    fn grace_and_penalty_problems_are_all_reported_where_they_are() {
        let due = "due = 2026-12-01T22:00:00-05:00\n";
        assert_eq!(
            errors(&format!("{due}grace = \"15\"\npenalty = \"ten percent\"")),
            [
                "t.toml:5:9: error: `grace`: duration `15` has no unit: write `15s` for seconds \
                 or `15ms` for milliseconds",
                "t.toml:6:11: error: invalid `penalty` `\"ten percent\"`: write `\"none\"`, \
                 `{ flat = 0.2 }` (a fraction of the score), `{ per_day = 0.1, max = 0.5 }` or \
                 `{ per_hour = 0.01, max = 0.5 }`",
            ]
        );
        assert_eq!(
            errors(&format!("{due}penalty = {{ per_day = 10, max = 0.5 }}")),
            [
                "t.toml:5:23: error: `per_day` must be a fraction of the score in (0, 1] (0.1 is \
              10%); got 10"
            ]
        );
        assert_eq!(
            errors(&format!("{due}penalty = {{ flat = 0.2, per_day = 0.1 }}")),
            ["t.toml:5:25: error: `penalty` takes one rule, not both `flat` and `per_day`"]
        );
        assert_eq!(
            errors(&format!("{due}penalty = {{ flat = 0.2, max = 0.5 }}")),
            ["t.toml:5:25: error: `max` goes with `per_day` or `per_hour`; a flat penalty is its \
              own maximum"]
        );
        assert_eq!(
            errors(&format!("{due}penalty = {{ max = 0.5 }}")),
            [
                "t.toml:5:11: error: `penalty` needs one rule: `\"none\"`, `{ flat = 0.2 }` (a \
              fraction of the score), `{ per_day = 0.1, max = 0.5 }` or \
              `{ per_hour = 0.01, max = 0.5 }`"
            ]
        );
        // Shape errors come from the TOML reader, with their position too.
        let unknown = errors(&format!("{due}penalty = {{ per_week = 0.1 }}"));
        assert!(
            unknown[0].starts_with("t.toml:5:") && unknown[0].contains("unknown field `per_week`"),
            "{unknown:?}"
        );
        let unknown = errors(&format!("{due}when = 1"));
        assert!(unknown[0].contains("unknown field `when`"), "{unknown:?}");
    }

    #[test]
    fn combined_specs_share_one_deadline() {
        let a = parse(&with_deadline("due = 2026-12-01T22:00:00-05:00"), "a.toml").unwrap();
        let mut b = a.clone();
        b.origin = "b.toml".into();
        b.exercises[0].id = "other".into();
        b.exercises[0].binary = "other".into();
        let mut plain = b.clone();
        plain.deadline = None;
        let combined = Spec::combine(vec![plain.clone(), a.clone()]).unwrap();
        assert_eq!(combined.deadline, a.deadline);
        assert!(Spec::combine(vec![a.clone(), b.clone()]).is_ok());
        b.deadline.as_mut().unwrap().grace = Duration::from_secs(60);
        let err = Spec::combine(vec![a, b]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.toml and b.toml both have a `[deadline]`, and they differ: keep it in one spec"
        );
    }
}

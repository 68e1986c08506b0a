//! `[deadline]`, checked: the due instant (an offset datetime), the grace period and the late
//! penalty. Every problem is reported at its value, like the rest of the spec.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::Diagnostics;
use super::model::{Deadline, LatePenalty, LatePeriod, LateRules};
use super::raw::{RawDeadline, RawPenalty, RawPenaltyTable};
use super::values;
use crate::datetime::ZonedTime;

const EXAMPLE_DUE: &str = "due = 2026-12-01T22:00:00-05:00";
const EXAMPLE_ZONED: &str = "due = \"2026-12-01T22:00[America/New_York]\"";
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
        // RFC 9557, a zone by name: only a string can hold it (TOML datetimes have no zone).
        toml::Value::String(s) if s.trim().ends_with(']') => match ZonedTime::parse(s) {
            Ok(due) => return Some(due),
            Err(why) => format!("`due` = \"{}\": {why}", s.trim()),
        },
        toml::Value::String(s) => match ZonedTime::parse(s) {
            Ok(_) => format!(
                "`due` is a string; a deadline is a TOML datetime: write it without quotes, \
                 `due = {}`",
                s.trim()
            ),
            Err(_) => format!(
                "`due` is a string; a deadline is a TOML datetime without quotes, like \
                 `{EXAMPLE_DUE}`, a quoted one with a time zone by name, like \
                 `{EXAMPLE_ZONED}`, or `due = \"{GRADESCOPE}\"` for Gradescope's due dates"
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

/// `extensions = "FILE"`: the TA's extensions file, resolved against the spec's directory
/// `dir`. Not read here: a course may give students its spec but never the TA's file (names
/// and dates of others), and their `check` applies no extension; `grade`, `batch` and
/// `spec check` read it ([`super::extensions`]). `None` when there is none, or `due`
/// is invalid (reported already) or Gradescope's (whose metadata carries each student's
/// extension).
pub fn extensions(
    diags: &mut Diagnostics,
    raw: &Spanned<RawDeadline>,
    deadline: Option<&Deadline>,
    dir: &Path,
) -> Option<PathBuf> {
    let value = raw.get_ref().extensions.as_ref()?;
    if from_gradescope(raw) {
        diags.error(
            &value.span(),
            "`extensions` goes with a `due` date: with `due = \"gradescope\"`, Gradescope's \
             metadata carries each student's extension",
        );
        return None;
    }
    deadline?;
    if value.get_ref().trim().is_empty() {
        diags.error(
            &value.span(),
            "`extensions` is empty: name the TA's `submission,due` CSV file, relative to the spec",
        );
        return None;
    }
    Some(dir.join(value.get_ref()))
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
        assert!(errors("due = \"Dec 1st\"")[0]
            .contains("like `due = \"2026-12-01T22:00[America/New_York]\"`"));
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
    fn a_named_time_zone_is_resolved_with_the_offset_of_its_date() {
        // New York: EST in December, EDT in April.
        let d = deadline("due = \"2026-12-01T22:00[America/New_York]\"");
        assert_eq!(d.due.rfc3339(), "2026-12-01T22:00:00-05:00");
        assert_eq!(d.due.zone.unwrap().name(), "America/New_York");
        assert_eq!(
            d.due.describe(),
            "Tuesday 1 December 2026, 22:00 EST (America/New_York)"
        );
        let d = deadline("due = \"2026-04-01T22:00:00-04:00[America/New_York]\"");
        assert_eq!(d.due.rfc3339(), "2026-04-01T22:00:00-04:00");
        // The zone is kept in the model, so two specs that differ only by it differ.
        let fixed = deadline("due = 2026-12-01T22:00:00-05:00");
        assert_eq!(
            fixed.due.at,
            deadline("due = \"2026-12-01T22:00[America/New_York]\"")
                .due
                .at
        );
        assert_eq!(fixed.due.zone, None);
        // A fixed offset's `Debug` (part of batch's result keys) is what it always was.
        assert!(!format!("{fixed:?}").contains("zone"));
    }

    #[test]
    fn a_bad_zone_or_an_offset_the_zone_does_not_have_is_a_spec_error_at_its_line() {
        let unknown = errors("due = \"2026-12-01T22:00[America/New_Yrok]\"");
        assert_eq!(
            unknown,
            [
                "t.toml:4:7: error: `due` = \"2026-12-01T22:00[America/New_Yrok]\": \
                 `2026-12-01T22:00[America/New_Yrok]`: no time zone `America/New_Yrok` in the \
                 tz database: write a zone's tz database name, like `America/New_York` or \
                 `Europe/Paris`, or a UTC offset"
            ]
        );
        // `-05:00` for an April date in New York is the hour-off mistake the zone prevents.
        let wrong = errors("due = \"2026-04-01T22:00:00-05:00[America/New_York]\"");
        assert!(
            wrong[0].starts_with("t.toml:4:7: error: `due` = "),
            "{wrong:?}"
        );
        assert!(
            wrong[0].contains("is not a date and time in `America/New_York`"),
            "{wrong:?}"
        );
    }

    #[test]
    fn extensions_name_a_file_beside_the_spec_that_the_spec_itself_does_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("lab.toml");
        let write_spec = |table: &str| std::fs::write(&spec, with_deadline(table)).unwrap();
        // The TA's file need not exist where the spec is loaded (a student's check).
        write_spec("due = \"2026-12-01T22:00[America/New_York]\"\nextensions = \"ext.csv\"");
        let s = crate::spec::load_file(&spec).unwrap();
        assert_eq!(s.extensions_file, Some(dir.path().join("ext.csv")));
        assert_eq!(s.extensions, None);
        write_spec("due = \"gradescope\"\nextensions = \"ext.csv\"");
        let err = crate::spec::load_file(&spec).unwrap_err().to_string();
        assert!(
            err.contains("lab.toml:5:14: error: `extensions` goes with a `due` date"),
            "{err}"
        );
        assert!(errors("due = 2026-12-01T22:00:00Z\nextensions = \" \"")[0]
            .starts_with("t.toml:5:14: error: `extensions` is empty"));
        // Two specs may not name different files.
        let a = parse(
            &with_deadline("due = 2026-12-01T22:00:00Z\nextensions = \"a.csv\""),
            "a.toml",
        )
        .unwrap();
        let mut b = parse(
            &with_deadline("due = 2026-12-01T22:00:00Z\nextensions = \"b.csv\""),
            "b.toml",
        )
        .unwrap();
        b.exercises[0].id = "other".into();
        assert!(Spec::combine(vec![a, b]).is_err());
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

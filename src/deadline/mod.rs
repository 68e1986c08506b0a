//! Deadlines: when a submission was handed in, how late that is under the spec's
//! `[deadline]`, what it costs, and the countdown a student sees.
//!
//! Everything here but [`source`] is a pure function of times: the clock is an argument
//! (`now`), never read behind the caller's back, so tests pin it. [`source`] holds the one
//! small I/O function per place a submission time can come from (Gradescope's metadata, git,
//! the files' modification times). Nothing here grades or prints.

mod countdown;
pub mod gradescope;
pub mod source;

use std::time::Duration;

use crate::datetime::{UtcTime, ZonedTime};
pub use countdown::Countdown;
pub use source::{submission_time, Submitted, TimeSource};

use crate::points::round;
use crate::spec::{Deadline, LatePenalty, LatePeriod};

/// What the late policy made of one submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Late {
    /// The deadline, as the spec wrote it.
    pub due: ZonedTime,
    /// This submission's own deadline, from the TA's extensions file: lateness is measured
    /// from it instead of `due`.
    pub extended_to: Option<ZonedTime>,
    /// When the submission was handed in, and how that is known.
    pub submitted: Submitted,
    /// How long after `due` it was handed in; zero when on time.
    pub late_by: Duration,
    /// Late, but within the grace period: no penalty.
    pub within_grace: bool,
    /// Fraction of the score taken (0 when on time, within the grace period, or the policy
    /// takes nothing).
    pub penalty_fraction: f64,
}

impl Late {
    /// Whether the submission came after the deadline (grace period or not).
    pub fn is_late(&self) -> bool {
        !self.late_by.is_zero()
    }

    /// `score` after the penalty, without float noise.
    pub fn penalised(&self, score: f64) -> f64 {
        round(score * (1.0 - self.penalty_fraction))
    }

    /// The submission time in the deadline's time zone (or at its UTC offset), so both read
    /// alike.
    pub fn submitted_at(&self) -> ZonedTime {
        self.due.same_zone(self.submitted.at.at)
    }

    /// The deadline that applied to this submission: its extension, or the spec's.
    pub fn effective_due(&self) -> ZonedTime {
        self.extended_to.unwrap_or(self.due)
    }
}

/// Applies `deadline` to a submission handed in at `submitted`.
///
/// Lateness is measured from `due`; the grace period only decides whether there is a penalty
/// at all (15 minutes of grace and 20 minutes late is one started day late, not five minutes).
pub fn assess(deadline: &Deadline, submitted: Submitted) -> Late {
    assess_extended(deadline, None, submitted)
}

/// [`assess`], measured from `extension` (this submission's own due date, from the TA's
/// extensions file) when there is one; the grace period and the penalty stay the spec's.
pub fn assess_extended(
    deadline: &Deadline,
    extension: Option<ZonedTime>,
    submitted: Submitted,
) -> Late {
    let due = extension.unwrap_or(deadline.due);
    let late_by = submitted.at.at.since(due.at).unwrap_or_default();
    let within_grace = !late_by.is_zero() && late_by <= deadline.grace;
    let penalty_fraction = if within_grace {
        0.0
    } else {
        penalty_at(&deadline.penalty, &due, submitted.at.at)
    };
    Late {
        due: deadline.due,
        extended_to: extension,
        submitted,
        late_by,
        within_grace,
        penalty_fraction,
    }
}

/// The fraction of the score `penalty` takes from a submission `late_by` after the deadline
/// (grace periods are the caller's).
pub fn penalty_fraction(penalty: &LatePenalty, late_by: Duration) -> f64 {
    if late_by.is_zero() {
        return 0.0;
    }
    match *penalty {
        LatePenalty::None => 0.0,
        LatePenalty::Flat { fraction } => fraction,
        LatePenalty::Rate { fraction, per, max } => {
            let period = per.length().as_millis();
            let started = late_by.as_millis().div_ceil(period);
            round((fraction * started as f64).min(max))
        }
    }
}

/// The fraction `penalty` takes from a submission handed in at `at` against `due`. Like
/// [`penalty_fraction`], except that in a named time zone a "day late" is a calendar day there:
/// day *k* ends at the due time of the wall clock *k* days later, which is 23 or 25 hours
/// after the one before across a DST change (hours stay absolute).
pub fn penalty_at(penalty: &LatePenalty, due: &ZonedTime, at: UtcTime) -> f64 {
    let late_by = at.since(due.at).unwrap_or_default();
    match *penalty {
        LatePenalty::Rate {
            fraction,
            per: LatePeriod::Day,
            max,
        } if due.zone.is_some() && !late_by.is_zero() => match started_days(due, at) {
            Some(days) => round((fraction * days as f64).min(max)),
            None => penalty_fraction(penalty, late_by),
        },
        _ => penalty_fraction(penalty, late_by),
    }
}

/// The calendar days in `due`'s zone started by `at` (after `due`): the least `k >= 1` with
/// `at` no later than `due` + `k` days. `None` past the calendar's range.
fn started_days(due: &ZonedTime, at: UtcTime) -> Option<u64> {
    // Whole 24-hour days are a guess within a day or so of the answer (DST moves each day's
    // end by an hour at most); the two loops settle it.
    let guess = (at.unix_ms - due.at.unix_ms) / 86_400_000;
    let mut k = guess.max(1);
    while k > 1 && due.add_days(k - 1)? >= at {
        k -= 1;
    }
    while due.add_days(k)? < at {
        k += 1;
    }
    u64::try_from(k).ok()
}

/// The policy in words: `10% per started day late, at most 50%`.
pub fn describe_policy(deadline: &Deadline) -> String {
    let rule = match deadline.penalty {
        LatePenalty::None => "late submissions are marked late and keep their points".to_string(),
        LatePenalty::Flat { fraction } => format!("{} off a late submission", percent(fraction)),
        LatePenalty::Rate { fraction, per, max } => {
            let cap = if max >= 1.0 {
                String::new()
            } else {
                format!(", at most {}", percent(max))
            };
            format!("{} per started {} late{cap}", percent(fraction), per.name())
        }
    };
    if deadline.grace.is_zero() {
        rule
    } else {
        format!("{rule}; {} of grace", duration_words(deadline.grace))
    }
}

/// Where the deadline stands at `now`, for the student's check.
pub fn countdown(deadline: &Deadline, now: UtcTime) -> Countdown {
    let due = deadline.due.describe();
    match now.since(deadline.due.at) {
        None => Countdown::Left {
            due,
            left: deadline.due.at.since(now).unwrap_or_default(),
        },
        Some(ago) if ago <= deadline.grace => Countdown::Grace {
            due,
            ago,
            grace_left: deadline.grace - ago,
        },
        Some(ago) => Countdown::Passed {
            due,
            ago,
            penalty_fraction: penalty_at(&deadline.penalty, &deadline.due, now),
            policy: describe_policy(deadline),
        },
    }
}

/// `0.1` as `10%`, `0.125` as `12.5%`.
pub fn percent(fraction: f64) -> String {
    format!("{}%", round(fraction * 100.0))
}

/// A duration in the two largest units that matter, in words: `1 day 3 hours`,
/// `3 hours 12 minutes`, `9 minutes`, `less than a minute`.
pub fn duration_words(d: Duration) -> String {
    let mins = d.as_secs() / 60;
    let (days, hours, mins) = (mins / 1440, mins / 60 % 24, mins % 60);
    let unit = |n: u64, name: &str| format!("{n} {name}{}", if n == 1 { "" } else { "s" });
    match (days, hours, mins) {
        (0, 0, 0) => "less than a minute".to_string(),
        (0, 0, m) => unit(m, "minute"),
        (0, h, 0) => unit(h, "hour"),
        (0, h, m) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
        (d, 0, _) => unit(d, "day"),
        (d, h, _) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

#[cfg(test)]
mod dst_tests;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;

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
use crate::spec::{Deadline, LatePenalty};

/// What the late policy made of one submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Late {
    /// The deadline, as the spec wrote it.
    pub due: ZonedTime,
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

    /// The submission time at the deadline's UTC offset, so both read alike.
    pub fn submitted_at(&self) -> ZonedTime {
        self.submitted.at.at.at_offset(self.due.offset_minutes)
    }
}

/// Applies `deadline` to a submission handed in at `submitted`.
///
/// Lateness is measured from `due`; the grace period only decides whether there is a penalty
/// at all (15 minutes of grace and 20 minutes late is one started day late, not five minutes).
pub fn assess(deadline: &Deadline, submitted: Submitted) -> Late {
    let late_by = submitted.at.at.since(deadline.due.at).unwrap_or_default();
    let within_grace = !late_by.is_zero() && late_by <= deadline.grace;
    let penalty_fraction = if within_grace {
        0.0
    } else {
        penalty_fraction(&deadline.penalty, late_by)
    };
    Late {
        due: deadline.due,
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
            penalty_fraction: penalty_fraction(&deadline.penalty, ago),
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
mod hostile_tests;
#[cfg(test)]
mod tests;

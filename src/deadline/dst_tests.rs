//! Deadlines in a named time zone on both sides of a DST change (America/New_York, 2026:
//! clocks go forward on Sunday 8 March and back on Sunday 1 November): when they fall, what is
//! late, by how much, how days late are counted, and what the countdown and reports show.

use std::time::Duration;

use super::*;
use crate::spec::{LatePenalty, LatePeriod};

const HOUR: u64 = 3600;

fn at(text: &str) -> UtcTime {
    ZonedTime::parse(text).unwrap().at
}

fn deadline(due: &str, penalty: LatePenalty) -> Deadline {
    Deadline {
        due: ZonedTime::parse(due).unwrap(),
        grace: Duration::ZERO,
        penalty,
    }
}

fn per(fraction: f64, per: LatePeriod) -> LatePenalty {
    LatePenalty::Rate {
        fraction,
        per,
        max: 1.0,
    }
}

fn handed_in(utc: &str) -> Submitted {
    Submitted {
        at: at(utc).at_offset(0),
        source: TimeSource::Gradescope,
        skipped: vec![],
    }
}

#[test]
fn the_same_wall_clock_deadline_is_a_different_utc_instant_each_side_of_the_change() {
    // Monday 9 March, after the change: EDT, UTC-4, so 22:00 is 02:00Z.
    let after = deadline("2026-03-09T22:00[America/New_York]", LatePenalty::None);
    assert_eq!(after.due.at, at("2026-03-10T02:00:00Z"));
    assert!(!assess(&after, handed_in("2026-03-10T01:59:59Z")).is_late());
    let late = assess(&after, handed_in("2026-03-10T02:30:00Z"));
    assert_eq!(late.late_by, Duration::from_secs(30 * 60));
    // Saturday 7 March, before it: EST, UTC-5, so 22:00 is 03:00Z; 02:30Z is on time, where a
    // course that wrote `-04:00` all term would have called it late.
    let before = deadline("2026-03-07T22:00[America/New_York]", LatePenalty::None);
    assert_eq!(before.due.at, at("2026-03-08T03:00:00Z"));
    assert!(!assess(&before, handed_in("2026-03-08T02:30:00Z")).is_late());
    assert!(assess(&before, handed_in("2026-03-08T03:00:01Z")).is_late());
    // Shown in the course's zone, each with the abbreviation of its own date.
    assert_eq!(
        after.due.describe(),
        "Monday 9 March 2026, 22:00 EDT (America/New_York)"
    );
    assert_eq!(
        before.due.describe(),
        "Saturday 7 March 2026, 22:00 EST (America/New_York)"
    );
    assert_eq!(after.due.rfc3339(), "2026-03-09T22:00:00-04:00");
    assert_eq!(before.due.rfc3339(), "2026-03-07T22:00:00-05:00");
}

#[test]
fn hours_late_are_absolute_and_days_late_are_the_zones_calendar_days() {
    // Saturday 22:00 EST to Sunday 22:00 EDT is 23 hours, not 24.
    let hourly = deadline(
        "2026-03-07T22:00[America/New_York]",
        per(0.01, LatePeriod::Hour),
    );
    let sunday_ten_pm = "2026-03-09T02:00:00Z";
    let late = assess(&hourly, handed_in(sunday_ten_pm));
    assert_eq!(late.late_by, Duration::from_secs(23 * HOUR));
    assert_eq!(late.penalty_fraction, 0.23);
    // The submission time reads in New York time, at that date's offset.
    assert_eq!(late.submitted_at().rfc3339(), "2026-03-08T22:00:00-04:00");
    assert_eq!(
        late.submitted_at().describe(),
        "Sunday 8 March 2026, 22:00 EDT (America/New_York)"
    );

    // Per day: day one ends Sunday 22:00 New York time, 23 hours in.
    let daily = deadline(
        "2026-03-07T22:00[America/New_York]",
        per(0.1, LatePeriod::Day),
    );
    let fraction = |utc: &str| assess(&daily, handed_in(utc)).penalty_fraction;
    assert_eq!(fraction(sunday_ten_pm), 0.1);
    // Sunday 22:30 EDT is 23.5 hours late: a second day has started (24-hour days would
    // still say one).
    assert_eq!(fraction("2026-03-09T02:30:00Z"), 0.2);
    assert_eq!(fraction("2026-03-10T02:00:00Z"), 0.2);
    assert_eq!(fraction("2026-03-10T02:00:01Z"), 0.3);
    // In the autumn the day is 25 hours: Sunday 21:30 EST, 24.5 hours late, is still day one.
    let autumn = deadline(
        "2026-10-31T22:00[America/New_York]",
        per(0.1, LatePeriod::Day),
    );
    let late = assess(&autumn, handed_in("2026-11-02T02:30:00Z"));
    assert_eq!(late.late_by, Duration::from_secs(24 * HOUR + 30 * 60));
    assert_eq!(late.penalty_fraction, 0.1);
    assert_eq!(
        assess(&autumn, handed_in("2026-11-02T03:00:01Z")).penalty_fraction,
        0.2
    );
    // A fixed offset keeps 24-hour days, exactly as before.
    let fixed = deadline("2026-03-07T22:00:00-05:00", per(0.1, LatePeriod::Day));
    assert_eq!(
        assess(&fixed, handed_in("2026-03-09T02:30:00Z")).penalty_fraction,
        0.1
    );
}

#[test]
fn the_countdown_counts_real_time_across_the_change() {
    let d = deadline(
        "2026-03-09T22:00[America/New_York]",
        per(0.1, LatePeriod::Day),
    );
    // Saturday 22:00 EST to Monday 22:00 EDT: 47 hours.
    assert_eq!(
        countdown(&d, at("2026-03-07T22:00:00-05:00")),
        Countdown::Left {
            due: "Monday 9 March 2026, 22:00 EDT (America/New_York)".to_string(),
            left: Duration::from_secs(47 * HOUR),
        }
    );
    match countdown(&d, at("2026-03-10T03:00:00Z")) {
        Countdown::Passed {
            ago,
            penalty_fraction,
            ..
        } => {
            assert_eq!(ago, Duration::from_secs(HOUR));
            assert_eq!(penalty_fraction, 0.1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_extension_moves_the_deadline_of_one_submission_only() {
    let d = deadline(
        "2026-12-01T22:00[America/New_York]",
        per(0.1, LatePeriod::Day),
    );
    let extension = ZonedTime::parse("2026-12-03T22:00[America/New_York]").unwrap();
    let thursday = handed_in("2026-12-03T12:00:00Z");
    let without = assess(&d, thursday.clone());
    assert!(without.is_late());
    assert_eq!(without.penalty_fraction, 0.2);
    let with = assess_extended(&d, Some(extension), thursday);
    assert!(!with.is_late());
    assert_eq!(with.penalty_fraction, 0.0);
    assert_eq!(with.due, d.due);
    assert_eq!(with.extended_to, Some(extension));
    assert_eq!(with.effective_due(), extension);
    // Late after the extension: counted from it.
    let late = assess_extended(&d, Some(extension), handed_in("2026-12-04T04:00:00Z"));
    assert_eq!(late.late_by, Duration::from_secs(HOUR));
    assert_eq!(late.penalty_fraction, 0.1);
}

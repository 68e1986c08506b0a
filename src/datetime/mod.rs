//! Instants and calendar dates without a date crate: TOML and RFC 3339 datetimes in, UTC
//! milliseconds out, and back to the course's own UTC offset for people to read.
//!
//! Only offset datetimes are instants. A local datetime (no `Z`, no `-05:00`) names a different
//! moment in every time zone, so it is refused with a message that says how to write the
//! offset. A time zone by name (`2026-12-01T22:00[America/New_York]`) is resolved by
//! [`super::zone`]; the zone then stays with the time, so it is shown back in that zone, with the
//! offset of the day it names.
//!
//! The civil-date conversions are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (proleptic Gregorian calendar), tested against known dates.

pub mod zone;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use toml::value::{Datetime, Offset};

use zone::Zone;

const MS_PER_DAY: i64 = 86_400_000;
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// An instant, in whole milliseconds since 1970-01-01T00:00:00Z (negative before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime {
    pub unix_ms: i64,
}

impl UtcTime {
    /// The current time of this machine's clock.
    pub fn now() -> UtcTime {
        UtcTime::from_system(SystemTime::now())
    }

    /// A `SystemTime` (a file's modification time), truncated to the millisecond.
    pub fn from_system(t: SystemTime) -> UtcTime {
        let unix_ms = match t.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        UtcTime { unix_ms }
    }

    /// How long after `earlier` this is; `None` when it is not after it.
    pub fn since(self, earlier: UtcTime) -> Option<Duration> {
        let ms = self.unix_ms.checked_sub(earlier.unix_ms)?;
        (ms > 0).then(|| Duration::from_millis(ms as u64))
    }

    /// This instant as seen at UTC offset `offset_minutes`.
    pub fn at_offset(self, offset_minutes: i16) -> ZonedTime {
        ZonedTime {
            at: self,
            offset_minutes,
            zone: None,
        }
    }
}

/// An instant together with the UTC offset it was written in (`-05:00` is `-300`), so it can
/// be shown the way the course wrote it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZonedTime {
    pub at: UtcTime,
    /// Minutes east of UTC; with a `zone`, the zone's offset at `at`.
    pub offset_minutes: i16,
    /// The named time zone it was written in, if any (`None`: a fixed offset).
    pub zone: Option<Zone>,
}

/// As derived, but without `zone` when there is none: the `Debug` text of a fixed-offset
/// deadline is part of batch's result keys, which must not change under the courses that
/// write offsets.
impl fmt::Debug for ZonedTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ZonedTime");
        d.field("at", &self.at)
            .field("offset_minutes", &self.offset_minutes);
        if let Some(zone) = &self.zone {
            d.field("zone", zone);
        }
        d.finish()
    }
}

/// What an offset datetime needs that a TOML or RFC 3339 value lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAnInstant {
    /// A local datetime: date and time but no offset.
    NoOffset,
    /// A date alone.
    NoTime,
    /// A time of day alone.
    NoDate,
}

impl fmt::Display for NotAnInstant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotAnInstant::NoOffset => {
                "a date and time without a UTC offset is a different moment in every time \
                 zone: add the course's offset, like `2026-12-01T22:00:00-05:00`, or `Z` for UTC"
            }
            NotAnInstant::NoTime => {
                "a date alone has no time of day: write the time and the UTC offset, like \
                 `2026-12-01T22:00:00-05:00`"
            }
            NotAnInstant::NoDate => {
                "a time of day alone has no date: write the date, the time and the UTC offset, \
                 like `2026-12-01T22:00:00-05:00`"
            }
        })
    }
}

impl ZonedTime {
    /// The instant a TOML datetime names; only an offset datetime names one.
    pub fn from_toml(dt: &Datetime) -> Result<ZonedTime, NotAnInstant> {
        let (date, time, offset) = match (dt.date, dt.time, dt.offset) {
            (Some(d), Some(t), Some(o)) => (d, t, o),
            (Some(_), Some(_), None) => return Err(NotAnInstant::NoOffset),
            (Some(_), None, _) => return Err(NotAnInstant::NoTime),
            (None, _, _) => return Err(NotAnInstant::NoDate),
        };
        let offset_minutes = match offset {
            Offset::Z => 0,
            Offset::Custom { minutes } => minutes,
        };
        let days = days_from_civil(
            i64::from(date.year),
            u32::from(date.month),
            u32::from(date.day),
        );
        let secs_of_day = i64::from(time.hour) * 3600
            + i64::from(time.minute) * 60
            + i64::from(time.second.unwrap_or(0));
        let ms = i64::from(time.nanosecond.unwrap_or(0) / 1_000_000);
        let local_ms = days * MS_PER_DAY + secs_of_day * 1000 + ms;
        Ok(ZonedTime {
            at: UtcTime {
                unix_ms: local_ms - i64::from(offset_minutes) * 60_000,
            },
            offset_minutes,
            zone: None,
        })
    }

    /// Parses an RFC 3339 / ISO 8601 timestamp with an offset, as Gradescope's `created_at`
    /// (`2018-07-01T14:22:32.365935-07:00`) and `git log --format=%cI` write them.
    ///
    /// With a time zone in brackets (RFC 9557: `2026-12-01T22:00[America/New_York]`), the zone
    /// decides the offset ([`zone::parse`]).
    pub fn parse(text: &str) -> Result<ZonedTime, String> {
        let text = text.trim();
        if text.ends_with(']') {
            return zone::parse(text);
        }
        let dt: Datetime = text
            .parse()
            .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp: {e}"))?;
        ZonedTime::from_toml(&dt).map_err(|e| format!("`{text}`: {e}"))
    }

    /// `at` shown the way this time is: in its zone (at the offset of that day), or at its
    /// offset.
    pub fn same_zone(&self, at: UtcTime) -> ZonedTime {
        match self.zone {
            Some(zone) => zone.at(at),
            None => at.at_offset(self.offset_minutes),
        }
    }

    /// The local date and time at this offset: (year, month, day, weekday 0 = Monday, hour,
    /// minute, second).
    fn local(&self) -> Local {
        let local_ms = self.at.unix_ms + i64::from(self.offset_minutes) * 60_000;
        let days = local_ms.div_euclid(MS_PER_DAY);
        let secs = local_ms.rem_euclid(MS_PER_DAY) / 1000;
        let (year, month, day) = civil_from_days(days);
        Local {
            year,
            month,
            day,
            weekday: weekday(days),
            hour: (secs / 3600) as u32,
            minute: (secs / 60 % 60) as u32,
            second: (secs % 60) as u32,
        }
    }

    /// RFC 3339 at this offset, to the second: `2026-12-01T22:00:00-05:00` (`Z` for UTC).
    pub fn rfc3339(&self) -> String {
        let l = self.local();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            l.year,
            l.month,
            l.day,
            l.hour,
            l.minute,
            l.second,
            offset_text(self.offset_minutes, "Z")
        )
    }

    /// For people: `Tuesday 1 December 2026, 22:00 (UTC-05:00)`; seconds only when not zero.
    /// In a named zone: `Tuesday 1 December 2026, 22:00 EST (America/New_York)`.
    pub fn describe(&self) -> String {
        let l = self.local();
        let seconds = if l.second == 0 {
            String::new()
        } else {
            format!(":{:02}", l.second)
        };
        let zone = match self.zone {
            Some(zone) => format!(" {} ({})", zone.abbreviation(self.at), zone.name()),
            None => format!(" (UTC{})", offset_text(self.offset_minutes, "")),
        };
        format!(
            "{} {} {} {}, {:02}:{:02}{seconds}{zone}",
            WEEKDAYS[l.weekday],
            l.day,
            MONTHS[l.month as usize - 1],
            l.year,
            l.hour,
            l.minute,
        )
    }

    /// Short, for a line that already says the date's context: `2026-12-03 22:00 EST` in a
    /// named zone, `2026-12-03 22:00 UTC-05:00` at an offset.
    pub fn short(&self) -> String {
        let l = self.local();
        let zone = match self.zone {
            Some(zone) => zone.abbreviation(self.at),
            None => format!("UTC{}", offset_text(self.offset_minutes, "")),
        };
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} {zone}",
            l.year, l.month, l.day, l.hour, l.minute
        )
    }

    /// The instant `days` calendar days later at the same wall-clock time: in a named zone
    /// that is 23 or 25 hours later across a DST change; at a fixed offset, `days` × 24 hours.
    pub fn add_days(&self, days: i64) -> Option<UtcTime> {
        match self.zone {
            Some(zone) => zone::add_days(zone, self.at, days),
            None => Some(UtcTime {
                unix_ms: self.at.unix_ms.checked_add(days.checked_mul(MS_PER_DAY)?)?,
            }),
        }
    }
}

struct Local {
    year: i64,
    month: u32,
    day: u32,
    weekday: usize,
    hour: u32,
    minute: u32,
    second: u32,
}

/// `-05:00`, `+05:30`, or `zero` for offset 0.
fn offset_text(minutes: i16, zero: &str) -> String {
    if minutes == 0 {
        return zero.to_string();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar (month 1–12).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01: (year, month 1–12, day 1–31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day of the week of the date `days` after 1970-01-01 (a Thursday): 0 = Monday.
pub fn weekday(days: i64) -> usize {
    (days + 3).rem_euclid(7) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip_and_match_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        // 2026-12-01 is 20 788 days after the epoch (`date -d 2026-12-01 +%s` / 86400).
        assert_eq!(days_from_civil(2026, 12, 1), 20_788);
        assert_eq!(
            days_from_civil(2024, 2, 29) + 1,
            days_from_civil(2024, 3, 1)
        );
        assert_eq!(
            days_from_civil(2100, 2, 28) + 1,
            days_from_civil(2100, 3, 1)
        );
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn weekdays_are_right() {
        assert_eq!(WEEKDAYS[weekday(0)], "Thursday"); // 1970-01-01
        assert_eq!(WEEKDAYS[weekday(days_from_civil(2026, 12, 1))], "Tuesday");
        assert_eq!(WEEKDAYS[weekday(days_from_civil(2000, 1, 1))], "Saturday");
        assert_eq!(WEEKDAYS[weekday(-1)], "Wednesday");
    }

    #[test]
    fn offset_datetimes_are_instants() {
        let due = ZonedTime::parse("2026-12-01T22:00:00-05:00").unwrap();
        // 2026-12-02T03:00:00Z.
        assert_eq!(due.at.unix_ms, (20_789 * 86_400 + 3 * 3600) * 1000);
        assert_eq!(due.offset_minutes, -300);
        assert_eq!(due.rfc3339(), "2026-12-01T22:00:00-05:00");
        assert_eq!(due.describe(), "Tuesday 1 December 2026, 22:00 (UTC-05:00)");
        let utc = due.at.at_offset(0);
        assert_eq!(utc.rfc3339(), "2026-12-02T03:00:00Z");
        assert_eq!(utc.describe(), "Wednesday 2 December 2026, 03:00 (UTC)");
        let india = due.at.at_offset(330);
        assert_eq!(india.rfc3339(), "2026-12-02T08:30:00+05:30");
        // Gradescope's `created_at` has microseconds; git's `%cI` has none.
        let gs = ZonedTime::parse("2018-07-01T14:22:32.365935-07:00").unwrap();
        assert_eq!(gs.at.unix_ms % 1000, 365);
        assert_eq!(gs.describe(), "Sunday 1 July 2018, 14:22:32 (UTC-07:00)");
        assert_eq!(
            ZonedTime::parse(" 2026-11-24T23:52:01+00:00\n")
                .unwrap()
                .rfc3339(),
            "2026-11-24T23:52:01Z"
        );
        let z = ZonedTime::parse("1969-12-31T23:59:59Z").unwrap();
        assert_eq!(z.at.unix_ms, -1000);
    }

    #[test]
    fn local_datetimes_dates_and_times_are_refused_with_the_fix() {
        let err = ZonedTime::parse("2026-12-01T22:00:00").unwrap_err();
        assert!(err.contains("without a UTC offset"), "{err}");
        assert!(err.contains("2026-12-01T22:00:00-05:00"), "{err}");
        assert!(ZonedTime::parse("2026-12-01")
            .unwrap_err()
            .contains("no time of day"));
        assert!(ZonedTime::parse("22:00:00")
            .unwrap_err()
            .contains("no date"));
        assert!(ZonedTime::parse("yesterday")
            .unwrap_err()
            .contains("not an RFC 3339 timestamp"));
    }

    #[test]
    fn instants_compare_and_subtract() {
        let a = UtcTime { unix_ms: 1_000 };
        let b = UtcTime { unix_ms: 3_500 };
        assert_eq!(b.since(a), Some(Duration::from_millis(2_500)));
        assert_eq!(a.since(b), None);
        assert_eq!(a.since(a), None);
        let t = UNIX_EPOCH + Duration::from_millis(1_234);
        assert_eq!(UtcTime::from_system(t).unix_ms, 1_234);
        let before = UNIX_EPOCH - Duration::from_secs(2);
        assert_eq!(UtcTime::from_system(before).unix_ms, -2_000);
    }
}

//! Time zones by name (`America/New_York`), resolved with the tz database through `jiff`: the
//! RFC 9557 form `2026-12-01T22:00[America/New_York]` in, the instant and the zone's offset
//! *at that instant* out, and calendar-day arithmetic that follows the zone's DST changes.
//!
//! This module owns every use of `jiff`; the rest of the grader sees [`ZonedTime`]s and
//! [`UtcTime`]s. It reads the system's tz database (`/usr/share/zoneinfo`) when there is one
//! and falls back to the copy built into the binary (`tzdb-bundle-always`), so a container
//! without tzdata (Gradescope's images, CI) resolves the same names.
//!
//! A [`Zone`] is `Copy` so that [`ZonedTime`] stays `Copy`: each zone resolved is kept once,
//! for the life of the process, in a small table (a course names one or two zones).

use std::fmt;
use std::sync::Mutex;

use jiff::fmt::temporal::DateTimeParser;
use jiff::tz::{Disambiguation, TimeZone};
use jiff::{Timestamp, ToSpan};

use super::{UtcTime, ZonedTime};

/// A tz database zone, resolved.
#[derive(Clone, Copy)]
pub struct Zone(&'static Resolved);

struct Resolved {
    name: String,
    tz: TimeZone,
}

/// Every zone resolved so far; entries are never removed, so their references stay valid.
static ZONES: Mutex<Vec<&'static Resolved>> = Mutex::new(Vec::new());

impl Zone {
    /// The zone `tz`, kept once per name.
    fn intern(name: &str, tz: TimeZone) -> Zone {
        let mut zones = ZONES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(z) = zones.iter().find(|z| z.name == name) {
            return Zone(z);
        }
        let z: &'static Resolved = Box::leak(Box::new(Resolved {
            name: name.to_string(),
            tz,
        }));
        zones.push(z);
        Zone(z)
    }

    /// The zone named `name` in the tz database.
    pub fn named(name: &str) -> Result<Zone, String> {
        let tz = jiff::tz::db().get(name).map_err(|_| unknown_zone(name))?;
        Ok(Zone::intern(name, tz))
    }

    /// Its tz database name: `America/New_York`.
    pub fn name(self) -> &'static str {
        &self.0.name
    }

    /// `at` in this zone: its UTC offset then.
    pub fn at(self, at: UtcTime) -> ZonedTime {
        let offset = self.0.tz.to_offset(timestamp(at));
        ZonedTime {
            at,
            offset_minutes: (offset.seconds() / 60) as i16,
            zone: Some(self),
        }
    }

    /// The zone's abbreviation at `at` (`EST`, `EDT`; some zones have only `-03`).
    pub fn abbreviation(self, at: UtcTime) -> String {
        self.0
            .tz
            .to_offset_info(timestamp(at))
            .abbreviation()
            .to_string()
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Zone {}

impl std::hash::Hash for Zone {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.name())
    }
}

fn unknown_zone(name: &str) -> String {
    format!(
        "no time zone `{name}` in the tz database: write a zone's tz database name, like \
         `America/New_York` or `Europe/Paris`, or a UTC offset"
    )
}

fn timestamp(at: UtcTime) -> Timestamp {
    // Every instant a grader meets is far inside jiff's range (years -9999 to 9999).
    Timestamp::from_millisecond(at.unix_ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Parses the RFC 9557 form: a date and time, optionally its UTC offset, and a zone in
/// brackets: `2026-12-01T22:00[America/New_York]`, `2026-12-01T22:00:00-05:00[America/New_York]`.
///
/// With an offset, it must be the zone's at that time (a `-05:00` written for an April date in
/// New York is refused, not silently an hour off). Without one, a time the zone skips (02:30
/// on the night clocks go forward) or repeats (01:30 on the night they go back) is refused with
/// how to choose: the offset says which.
pub fn parse(text: &str) -> Result<ZonedTime, String> {
    let Some((_, rest)) = text.split_once('[') else {
        return Err(format!("`{text}` names no time zone in brackets"));
    };
    let name = rest
        .split_once(']')
        .map_or(rest, |(name, _)| name)
        .trim_start_matches('!');
    // Said in our words, with the fix, before jiff says it in its own.
    let zone = Zone::named(name).map_err(|why| format!("`{text}`: {why}"))?;
    static PARSER: DateTimeParser = DateTimeParser::new().disambiguation(Disambiguation::Reject);
    let zoned = PARSER.parse_zoned_datetime(text).map_err(|e| {
        format!(
            "`{text}` is not a date and time in `{name}`: {e}; write it like \
             `2026-12-01T22:00[America/New_York]`, with the offset (`-05:00`) before the \
             bracket when the clock shows that time twice"
        )
    })?;
    Ok(zone.at(UtcTime {
        unix_ms: zoned.timestamp().as_millisecond(),
    }))
}

/// The instant `days` calendar days after `from` in `zone`: the same wall-clock time, which
/// is 23 or 25 hours later across a DST change. `None` past jiff's range.
pub fn add_days(zone: Zone, from: UtcTime, days: i64) -> Option<UtcTime> {
    let zoned = timestamp(from).to_zoned_datetime(zone.0.tz.clone());
    let later = zoned.checked_add(days.days()).ok()?;
    Some(UtcTime {
        unix_ms: later.timestamp().as_millisecond(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> UtcTime {
        ZonedTime::parse(text).unwrap().at
    }

    #[test]
    fn named_zones_resolve_with_the_offset_of_the_date() {
        // 2026-03-08 is the US spring-forward Sunday: EST (-5) before it, EDT (-4) after.
        let before = parse("2026-03-07T22:00[America/New_York]").unwrap();
        assert_eq!(before.at, utc("2026-03-08T03:00:00Z"));
        assert_eq!(before.offset_minutes, -300);
        let after = parse("2026-03-09T22:00[America/New_York]").unwrap();
        assert_eq!(after.at, utc("2026-03-10T02:00:00Z"));
        assert_eq!(after.offset_minutes, -240);
        assert_eq!(after.zone.unwrap().name(), "America/New_York");
        assert_eq!(after.zone.unwrap().abbreviation(after.at), "EDT");
        assert_eq!(before.zone.unwrap().abbreviation(before.at), "EST");
        // Seconds, and the offset when it agrees.
        let full = parse("2026-12-01T22:00:00-05:00[America/New_York]").unwrap();
        assert_eq!(full.at, utc("2026-12-02T03:00:00Z"));
        assert_eq!(full, parse("2026-12-01T22:00[America/New_York]").unwrap());
    }

    #[test]
    fn a_wrong_offset_an_unknown_zone_and_unclear_times_are_refused() {
        // April in New York is EDT: `-05:00` is an hour off.
        let err = parse("2026-04-01T22:00:00-05:00[America/New_York]").unwrap_err();
        assert!(
            err.contains("not a date and time in `America/New_York`"),
            "{err}"
        );
        let err = parse("2026-12-01T22:00[America/New_Yrok]").unwrap_err();
        assert!(
            err.contains("no time zone `America/New_Yrok` in the tz database"),
            "{err}"
        );
        // 02:30 does not happen on 2026-03-08; 01:30 happens twice on 2026-11-01.
        assert!(parse("2026-03-08T02:30[America/New_York]").is_err());
        let err = parse("2026-11-01T01:30[America/New_York]").unwrap_err();
        assert!(
            err.contains("offset (`-05:00`) before the bracket"),
            "{err}"
        );
        let first = parse("2026-11-01T01:30-04:00[America/New_York]").unwrap();
        let second = parse("2026-11-01T01:30-05:00[America/New_York]").unwrap();
        assert_eq!(second.at.since(first.at).unwrap().as_secs(), 3600);
    }

    #[test]
    fn the_tz_database_is_built_in_for_machines_without_one() {
        // Gradescope's images and slim CI containers may have no /usr/share/zoneinfo: jiff
        // then falls back to this copy (`tzdb-bundle-always`), which must resolve the zones.
        let bundled = jiff::tz::TimeZoneDatabase::bundled();
        let ny = bundled.get("America/New_York").unwrap();
        let winter = timestamp(utc("2026-12-02T03:00:00Z"));
        assert_eq!(ny.to_offset(winter).seconds(), -5 * 3600);
        assert!(bundled.get("America/New_Yrok").is_err());
    }

    #[test]
    fn calendar_days_follow_the_zone_across_dst() {
        let ny = Zone::named("America/New_York").unwrap();
        let sat = utc("2026-03-07T22:00:00-05:00");
        // Saturday 22:00 EST to Sunday 22:00 EDT is 23 hours.
        let sun = add_days(ny, sat, 1).unwrap();
        assert_eq!(sun, utc("2026-03-08T22:00:00-04:00"));
        assert_eq!(sun.since(sat).unwrap().as_secs(), 23 * 3600);
        // And back in November: 25 hours.
        let oct31 = utc("2026-10-31T22:00:00-04:00");
        let nov1 = add_days(ny, oct31, 1).unwrap();
        assert_eq!(nov1.since(oct31).unwrap().as_secs(), 25 * 3600);
        assert_eq!(Zone::named("America/New_York").unwrap(), ny);
    }
}

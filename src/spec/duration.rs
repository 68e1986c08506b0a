//! Durations as the spec spells them: a whole number and a unit, `500ms`, `10s`, `2m`.
//!
//! Plain numbers are refused on purpose: `timeout = 10` is ambiguous (seconds? milliseconds?)
//! and a grader that guesses wrong fails a whole class.

use std::time::Duration;

/// What every duration error ends with, so the fix is in the message.
pub const ACCEPTED_FORMS: &str =
    "expected a positive whole number followed by `ms`, `s` or `m`, like `500ms`, `10s` or `2m`";

/// Parses `500ms`, `10s` or `2m` into a positive [`Duration`]; the error says what was wrong
/// and which forms are accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!("invalid duration `{text}`: {ACCEPTED_FORMS}"));
    }
    if unit.is_empty() {
        return Err(format!(
            "duration `{text}` has no unit: write `{text}s` for seconds or `{text}ms` for \
             milliseconds"
        ));
    }
    let per_unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        _ => return Err(format!("invalid duration `{text}`: {ACCEPTED_FORMS}")),
    };
    let amount: u64 = digits
        .parse()
        .map_err(|_| format!("duration `{text}` is too long"))?;
    let millis = amount
        .checked_mul(per_unit_ms)
        .ok_or_else(|| format!("duration `{text}` is too long"))?;
    if millis == 0 {
        return Err(format!(
            "duration `{text}` is zero: a limit must be positive ({ACCEPTED_FORMS})"
        ));
    }
    Ok(Duration::from_millis(millis))
}

/// Like [`parse_duration`], but zero (`"0s"`, `"0m"`) is accepted: for a grace period, where
/// none is a sensible value rather than a mistake.
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let zero = !digits.is_empty() && digits.bytes().all(|b| b == b'0');
    if zero && ["ms", "s", "m"].contains(&unit) {
        return Ok(Duration::ZERO);
    }
    parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn refuses_missing_units_garbage_and_zero() {
        assert_eq!(
            parse_duration("10").unwrap_err(),
            "duration `10` has no unit: write `10s` for seconds or `10ms` for milliseconds"
        );
        for bad in ["10 s", "s", "", "1.5s", "-3s", "10h", "10sec"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("like `500ms`, `10s` or `2m`"), "{bad}: {err}");
        }
        assert!(parse_duration("0s").unwrap_err().contains("is zero"));
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration_or_zero("0").unwrap_err().contains("no unit"));
        assert!(parse_duration("99999999999999999999m")
            .unwrap_err()
            .contains("too long"));
    }
}

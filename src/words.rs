//! Real plurals for every text people read: "1 submission", "4 submissions", never
//! "submission(s)", and durations as people write them. Only wording; nothing here decides
//! anything.

/// `n` and the noun in the right number: `count(1, "core", "cores")` → "1 core".
pub fn count<N: Number>(n: N, one: &str, many: &str) -> String {
    format!("{n} {}", if n == N::from(1) { one } else { many })
}

/// Any unsigned count (`usize`, `u32`, `u64`, `u128`…).
pub trait Number: Copy + std::fmt::Display + PartialEq + From<u8> {}
impl<N: Copy + std::fmt::Display + PartialEq + From<u8>> Number for N {}

/// The regular English plural: `counted(3, "run")` → "3 runs".
pub fn counted<N: Number>(n: N, noun: &str) -> String {
    count(n, noun, &format!("{noun}s"))
}

/// A short duration as a person reads it: "3 ms" below a second, else "1.2 s".
pub fn brief(d: std::time::Duration) -> String {
    if d < std::time::Duration::from_secs(1) {
        format!("{} ms", d.as_millis().max(1))
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A duration in seconds as a person writes it: "60 s", "8 s", "7.9 s", "0.4 s".
pub fn seconds(d: std::time::Duration) -> String {
    let tenths = (d.as_secs_f64() * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0} s")
    } else {
        format!("{tenths:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(counted(1u32, "submission"), "1 submission");
        assert_eq!(counted(0u32, "submission"), "0 submissions");
        assert_eq!(counted(4usize, "core"), "4 cores");
        assert_eq!(count(1u8, "miss", "misses"), "1 miss");
        assert_eq!(count(2u8, "directory", "directories"), "2 directories");
        assert_eq!(counted(1u128, "update"), "1 update");
    }

    #[test]
    fn whole_seconds_have_no_decimals() {
        use std::time::Duration;
        assert_eq!(seconds(Duration::from_secs(60)), "60 s");
        assert_eq!(seconds(Duration::from_millis(7_880)), "7.9 s");
        assert_eq!(seconds(Duration::from_millis(8_001)), "8 s");
        assert_eq!(seconds(Duration::from_millis(400)), "0.4 s");
    }
}

//! Points as every output shows them. Scores are sums of spec points (`0.1 + 0.2`), so float
//! noise (`0.30000000000000004`) would otherwise reach gradebooks, JSON and reports; each of
//! them once had a copy of this rounding.

/// `x` rounded to a millionth of a point: `0.30000000000000004` → `0.3`; `-0` → `0`.
pub fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6 + 0.0
}

/// `x` as text: rounded, and `10` rather than `10.0`.
pub fn text(x: f64) -> String {
    round(x).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_noise_and_negative_zero_are_rounded_away() {
        assert_eq!(text(0.1 + 0.2), "0.3");
        assert_eq!(text(10.0), "10");
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(2.5), "2.5");
        assert_eq!(round(1.0 / 3.0), 0.333333);
    }
}

//! Real plurals for every text people read: "1 submission", "4 submissions", never
//! "submission(s)". Only wording; nothing here decides anything.

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
}

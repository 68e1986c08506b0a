//! Which labgrade this is: its version and the commit it was built from (`build.rs`), as
//! `--version`, the first line of the human reports and the JSON results show them. It owns
//! only these constants.

/// The short hash of the commit labgrade was built from, `unknown` outside a git checkout.
pub const COMMIT: &str = env!("LABGRADE_COMMIT");

/// `0.1.0 (abc1234)`: what `labgrade --version` prints after the name.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LABGRADE_COMMIT"),
    ")"
);

/// `labgrade 0.1.0 (abc1234)`.
pub const NAMED: &str = concat!(
    "labgrade ",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LABGRADE_COMMIT"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_names_the_release_and_the_commit() {
        assert!(NAMED.starts_with(&format!("labgrade {} (", env!("CARGO_PKG_VERSION"))));
        assert!(NAMED.ends_with(&format!("({COMMIT})")));
        // A short hash (or a packager's word, or `unknown`): one word, nothing to escape.
        assert!(!COMMIT.is_empty(), "{COMMIT:?}");
        assert!(
            COMMIT
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+')),
            "{COMMIT:?}"
        );
    }
}

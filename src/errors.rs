//! Errors as one line of text, causes included. Typed errors keep their causes as `source`s
//! (a `Display` says only its own layer), so wherever an error leaves the program as text
//! without `anyhow` (a batch's `.error` file, a JSON field), its whole chain is written.

use std::error::Error;

/// `e` and each of its sources, joined with `": "`, on one line.
pub fn chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        // Some errors already say their cause in their own text: not twice.
        let cause = s.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("could not build the speedup yardstick")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("writing x: {source}")]
    struct SaysItsCause {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_said_is_not_repeated() {
        let e = SaysItsCause {
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(super::chain(&e), "writing x: disk full");
    }

    #[test]
    fn every_cause_is_on_the_line() {
        let e = Outer(std::io::Error::other("disk\nfull"));
        assert_eq!(
            super::chain(&e),
            "could not build the speedup yardstick: disk full"
        );
    }
}

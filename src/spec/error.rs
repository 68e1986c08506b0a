//! Spec diagnostics: what was wrong, where (`file:line:col`), and what was expected.
//!
//! Validation works on byte spans (what `toml::Spanned` gives); this module owns the
//! translation to the 1-based line and column people see, and the [`SpecError`] that carries
//! every problem found in one pass. It never decides what is an error.

use std::fmt;
use std::ops::Range;

/// A 1-based line and column in a spec file. Columns count characters, not bytes, so they
/// match what an editor shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `source` (clamped to the end, and to a char boundary).
    pub fn of_offset(source: &str, offset: usize) -> Position {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The spec's path (or `<built-in lab10.toml>`).
    pub origin: String,
    /// Where in the file; `None` when the problem is the file as a whole (it cannot be read).
    pub position: Option<Position>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(pos) => write!(f, "{}:{}: error: {}", self.origin, pos, self.message),
            None => write!(f, "{}: error: {}", self.origin, self.message),
        }
    }
}

/// A spec that could not be loaded, with every problem found (at least one), in file order.
/// Displayed one diagnostic per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    diagnostics: Vec<Diagnostic>,
}

impl SpecError {
    /// Wraps diagnostics, sorted by position; identical ones (a template that fails the same
    /// way in every matrix case) are kept once.
    ///
    /// # Panics
    /// If `diagnostics` is empty: an error without a reason is a bug of the caller.
    pub fn new(mut diagnostics: Vec<Diagnostic>) -> SpecError {
        assert!(!diagnostics.is_empty(), "a SpecError needs a diagnostic");
        diagnostics.sort_by_key(|d| d.position);
        let mut kept: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
        for d in diagnostics {
            if !kept.contains(&d) {
                kept.push(d);
            }
        }
        SpecError { diagnostics: kept }
    }

    /// Every problem found, in file order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one source text, turning byte spans into positions.
pub(crate) struct Diagnostics<'s> {
    source: &'s str,
    origin: &'s str,
    found: Vec<Diagnostic>,
}

impl<'s> Diagnostics<'s> {
    pub(crate) fn new(source: &'s str, origin: &'s str) -> Self {
        Diagnostics {
            source,
            origin,
            found: Vec::new(),
        }
    }

    /// The position of the start of `span`.
    pub(crate) fn position(&self, span: &Range<usize>) -> Position {
        Position::of_offset(self.source, span.start)
    }

    /// The span of the key written just before the value at `value_span` (`key = value`), so
    /// an error about the key itself points at it; the value's span when the source is spelled
    /// differently (a dotted or quoted key).
    pub(crate) fn key_span(&self, value_span: &Range<usize>, key: &str) -> Range<usize> {
        let before = self.source[..value_span.start.min(self.source.len())].trim_end();
        before
            .strip_suffix('=')
            .map(str::trim_end)
            .filter(|b| {
                b.strip_suffix(key).is_some_and(|head| {
                    !head.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-')
                })
            })
            .map_or(value_span.clone(), |b| b.len() - key.len()..b.len())
    }

    /// Records an error at the start of `span`.
    pub(crate) fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        self.push_at(span.start, message.into());
    }

    /// Records an error at character `offset` (a byte offset) inside the value of the string
    /// whose quoted form spans `span`, when the source spells the string without escapes (so the
    /// offset maps one to one); otherwise at the opening quote.
    pub(crate) fn error_in_string(
        &mut self,
        span: &Range<usize>,
        offset: usize,
        message: impl Into<String>,
    ) {
        let raw = self.source.get(span.clone()).unwrap_or("");
        let simple = (raw.starts_with('"') && !raw.starts_with("\"\"\"") && !raw.contains('\\'))
            || (raw.starts_with('\'') && !raw.starts_with("'''"));
        let at = if simple {
            span.start + 1 + offset
        } else {
            span.start
        };
        self.push_at(at, message.into());
    }

    /// Records an error about the document as a whole (a missing top-level key).
    pub(crate) fn error_at_start(&mut self, message: impl Into<String>) {
        self.push_at(0, message.into());
    }

    /// How many errors have been recorded so far (to skip work that would only cascade).
    pub(crate) fn count(&self) -> usize {
        self.found.len()
    }

    /// `Ok(value)` when nothing was recorded, else every diagnostic.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, SpecError> {
        if self.found.is_empty() {
            Ok(value)
        } else {
            Err(SpecError::new(self.found))
        }
    }

    fn push_at(&mut self, offset: usize, message: String) {
        self.found.push(Diagnostic {
            origin: self.origin.to_string(),
            position: Some(Position::of_offset(self.source, offset)),
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = "ab\nçd = 1\n";
        assert_eq!(Position::of_offset(src, 0).to_string(), "1:1");
        assert_eq!(Position::of_offset(src, 3).to_string(), "2:1");
        // `ç` is two bytes but one column.
        assert_eq!(Position::of_offset(src, 5).to_string(), "2:2");
        // Inside a multi-byte char: the char's own column.
        assert_eq!(Position::of_offset(src, 4).to_string(), "2:1");
        assert_eq!(Position::of_offset(src, 999).to_string(), "3:1");
    }

    #[test]
    fn display_is_one_line_per_diagnostic_sorted_and_deduplicated() {
        let d = |line, column, m: &str| Diagnostic {
            origin: "s.toml".into(),
            position: Some(Position { line, column }),
            message: m.into(),
        };
        let e = SpecError::new(vec![d(3, 1, "b"), d(1, 2, "a"), d(3, 1, "b")]);
        assert_eq!(e.to_string(), "s.toml:1:2: error: a\ns.toml:3:1: error: b");
        let whole = Diagnostic {
            origin: "x.toml".into(),
            position: None,
            message: "cannot read".into(),
        };
        assert_eq!(
            SpecError::new(vec![whole]).to_string(),
            "x.toml: error: cannot read"
        );
    }

    #[test]
    fn errors_inside_plain_strings_point_at_the_character() {
        let src = "name = \"a {x}\"\nother = \"a\\t{x}\"\n";
        let mut diags = Diagnostics::new(src, "t");
        diags.error_in_string(&(7..14), 2, "plain");
        diags.error_in_string(&(23..31), 4, "escaped");
        let err = diags.finish(()).unwrap_err();
        let at: Vec<String> = err
            .diagnostics()
            .iter()
            .map(|d| d.position.unwrap().to_string())
            .collect();
        assert_eq!(at, ["1:11", "2:9"]);
    }
}

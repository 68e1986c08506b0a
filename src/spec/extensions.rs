//! Per-student extensions: the CSV file a TA keeps, one `submission,due` row per submission
//! whose deadline moved. `due` takes the forms the spec's `due` does (`2026-12-03T22:00:00-05:00`,
//! `2026-12-03T22:00[America/New_York]`), and a bare local time (`2026-12-03T22:00`) is read in
//! the spec deadline's named zone when it has one.
//!
//! The file comes only from the TA's paths (`--extensions FILE`, or `[deadline] extensions` in
//! the spec): never from a submission, so nothing a student hands in can move a deadline. It
//! is read bounded all the same, and every problem names its line. This module parses; what a
//! grading does with an extension is `deadline::assess_extended`'s.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::datetime::zone::Zone;
use crate::datetime::ZonedTime;

/// Bytes read at most: thousands of rows fit many times over.
const MAX_BYTES: u64 = 4 << 20;

/// The extensions of one file: submission name → its own deadline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extensions {
    /// The file, for messages (`extensions.csv`).
    pub origin: String,
    /// Rows in name order; each with the line it came from.
    entries: BTreeMap<String, (usize, ZonedTime)>,
}

/// Why an extensions file could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtensionsError {
    #[error("{origin}: {why}")]
    Read { origin: String, why: String },
    #[error("{origin}:{line}: {message}")]
    Line {
        origin: String,
        line: usize,
        message: String,
    },
}

impl Extensions {
    /// Reads the TA's file at `path`. `default_zone`: the zone of a `due` written without
    /// offset or zone (the spec deadline's, when it names one).
    pub fn read(path: &Path, default_zone: Option<Zone>) -> Result<Extensions, ExtensionsError> {
        let origin = path.display().to_string();
        let read_error = |why: String| ExtensionsError::Read {
            origin: origin.clone(),
            why,
        };
        let file = std::fs::File::open(path).map_err(|e| read_error(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| read_error(e.to_string()))?;
        if bytes.len() as u64 > MAX_BYTES {
            return Err(read_error(format!(
                "more than {MAX_BYTES} bytes: not an extensions file"
            )));
        }
        let text = String::from_utf8(bytes).map_err(|_| read_error("not UTF-8 text".into()))?;
        Extensions::parse(&text, &origin, default_zone)
    }

    /// Parses the text of an extensions file named `origin`.
    ///
    /// Blank lines and `#` comments are skipped; a first row `submission,due` is the header.
    /// A name listed twice is an error (which row would win is not the grader's to guess).
    pub fn parse(
        text: &str,
        origin: &str,
        default_zone: Option<Zone>,
    ) -> Result<Extensions, ExtensionsError> {
        let mut entries = BTreeMap::new();
        let mut first_row = true;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let error = |message: String| ExtensionsError::Line {
                origin: origin.to_string(),
                line,
                message,
            };
            let row = raw.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            let fields = fields(row).map_err(error)?;
            let is_header = first_row
                && fields.first().map(|f| f.to_ascii_lowercase()) == Some("submission".into());
            first_row = false;
            if is_header {
                continue;
            }
            let [name, due] = fields.as_slice() else {
                return Err(error(format!(
                    "{}; a row is `submission,due`, like \
                     `alice,2026-12-03T22:00[America/New_York]`",
                    crate::words::counted(fields.len(), "field")
                )));
            };
            if name.is_empty() {
                return Err(error("no submission name before the comma".into()));
            }
            let due =
                parse_due(due, default_zone).map_err(|why| error(format!("`{name}`: {why}")))?;
            if let Some((first, _)) = entries.get(name.as_str()) {
                return Err(error(format!(
                    "`{name}` again (first on line {first}): keep one row per submission"
                )));
            }
            entries.insert(name.clone(), (line, due));
        }
        Ok(Extensions {
            origin: origin.to_string(),
            entries,
        })
    }

    /// The extension of the submission named `name`.
    pub fn get(&self, name: &str) -> Option<ZonedTime> {
        self.entries.get(name).map(|(_, due)| *due)
    }

    /// How many submissions have one.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file lists no one.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Warnings for the rows that name none of `names` (a typo, or a student who dropped):
    /// `extensions.csv:4: no submission `alcie`: its extension applies to no one`.
    pub fn unknown<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let known: std::collections::HashSet<&str> = names.into_iter().collect();
        let mut rows: Vec<_> = self
            .entries
            .iter()
            .filter(|(name, _)| !known.contains(name.as_str()))
            .map(|(name, (line, _))| (*line, name))
            .collect();
        rows.sort();
        rows.into_iter()
            .map(|(line, name)| {
                format!(
                    "{}:{line}: no submission `{name}`: its extension applies to no one",
                    self.origin
                )
            })
            .collect()
    }
}

/// A `due` field: an offset datetime, a datetime in a named zone, or (with `default_zone`) a
/// local datetime in that zone.
fn parse_due(text: &str, default_zone: Option<Zone>) -> Result<ZonedTime, String> {
    match ZonedTime::parse(text) {
        Ok(due) => Ok(due),
        Err(why) => match default_zone {
            Some(zone) if why.contains("without a UTC offset") => {
                ZonedTime::parse(&format!("{text}[{}]", zone.name()))
            }
            _ => Err(why),
        },
    }
}

/// The comma-separated fields of `row`, each trimmed; a field may be in double quotes (`""`
/// inside is a quote), as spreadsheets write names with commas.
fn fields(row: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = row.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".into()),
                }
            }
            while chars.peek().is_some_and(|c| *c != ',') {
                if !chars.next().is_some_and(char::is_whitespace) {
                    return Err("text after a quoted field's closing quote".into());
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                field.push(c);
            }
        }
        out.push(field.trim().to_string());
        if chars.next().is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Extensions, ExtensionsError> {
        Extensions::parse(text, "ext.csv", None)
    }

    fn utc(text: &str) -> crate::datetime::UtcTime {
        ZonedTime::parse(text).unwrap().at
    }

    #[test]
    fn rows_header_comments_quotes_and_the_forms_of_due() {
        let ext = parse(
            "submission,due\n\
             # Dean's letter, 2026-11-20\n\
             alice,2026-12-03T22:00[America/New_York]\n\
             \n\
             \"bob, jr\" , 2026-12-04T03:00:00Z\n\
             carol,2026-12-03 22:00:00-05:00\n",
        )
        .unwrap();
        assert_eq!(ext.len(), 3);
        let alice = ext.get("alice").unwrap();
        assert_eq!(alice.at, utc("2026-12-04T03:00:00Z"));
        assert_eq!(alice.zone.unwrap().name(), "America/New_York");
        assert_eq!(ext.get("bob, jr").unwrap().at, utc("2026-12-04T03:00:00Z"));
        assert_eq!(ext.get("carol").unwrap().at, utc("2026-12-04T03:00:00Z"));
        assert_eq!(ext.get("dave"), None);
        // No header at all is fine too.
        assert_eq!(parse("alice,2026-12-03T22:00:00Z").unwrap().len(), 1);
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn a_local_time_takes_the_deadlines_zone_when_it_names_one() {
        let ny = Zone::named("America/New_York").unwrap();
        let ext = Extensions::parse("alice,2026-12-03T22:00:00", "ext.csv", Some(ny)).unwrap();
        assert_eq!(ext.get("alice").unwrap().at, utc("2026-12-04T03:00:00Z"));
        // Without one, the offset is asked for.
        let err = parse("alice,2026-12-03T22:00:00").unwrap_err().to_string();
        assert!(err.starts_with("ext.csv:1: `alice`: "), "{err}");
        assert!(err.contains("without a UTC offset"), "{err}");
    }

    #[test]
    fn problems_name_their_line() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        assert_eq!(
            err(
                "submission,due\nalice,2026-12-03T22:00:00Z\nbob,2026-12-03T22:00:00Z\n\
                 alice,2026-12-05T22:00:00Z"
            ),
            "ext.csv:4: `alice` again (first on line 2): keep one row per submission"
        );
        let bad = err("submission,due\nalice,next tuesday");
        assert!(
            bad.starts_with("ext.csv:2: `alice`: `next tuesday` is not"),
            "{bad}"
        );
        let zone = err("alice,2026-12-03T22:00[Mars/Olympus]");
        assert!(
            zone.contains("ext.csv:1: `alice`: ") && zone.contains("no time zone `Mars/Olympus`"),
            "{zone}"
        );
        assert!(err("alice").starts_with("ext.csv:1: 1 field; a row is `submission,due`"));
        assert!(err("alice,2026-12-03T22:00:00Z,x").starts_with("ext.csv:1: 3 fields"));
        assert_eq!(
            err(",2026-12-03T22:00:00Z"),
            "ext.csv:1: no submission name before the comma"
        );
        assert_eq!(
            err("\"alice,2026-12-03T22:00:00Z"),
            "ext.csv:1: a quoted field is not closed"
        );
    }

    #[test]
    fn rows_for_no_submission_are_warned_about_by_line() {
        let ext =
            parse("submission,due\nalcie,2026-12-03T22:00:00Z\nbob,2026-12-03T22:00:00Z").unwrap();
        assert_eq!(
            ext.unknown(["alice", "bob"]),
            ["ext.csv:2: no submission `alcie`: its extension applies to no one"]
        );
    }

    #[test]
    fn the_file_is_read_bounded_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ext.csv");
        let err = Extensions::read(&path, None).unwrap_err().to_string();
        assert!(err.contains("ext.csv: "), "{err}");
        std::fs::write(&path, "x".repeat(MAX_BYTES as usize + 1)).unwrap();
        let err = Extensions::read(&path, None).unwrap_err().to_string();
        assert!(err.contains("not an extensions file"), "{err}");
        std::fs::write(&path, "alice,2026-12-03T22:00:00Z\n").unwrap();
        assert_eq!(Extensions::read(&path, None).unwrap().len(), 1);
    }
}

//! Gradescope's `submission_metadata.json`, read for its dates: the submission time
//! (`created_at`), the assignment's `due_date` and `late_due_date`, and a student's extension
//! (the same two fields under `users[].assignment`, which Gradescope fills with the student's
//! own dates when they have one).
//!
//! It owns reading that file safely (a size bound, no symbolic link followed, a regular file
//! only) and turning `[deadline] due = "gradescope"` into a [`Deadline`] for one submission.
//! It trusts the file only as much as its path: the caller names the one Gradescope wrote
//! (`/autograder/submission_metadata.json`), never one inside a submission. It grades nothing.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Deserialize;

use crate::datetime::ZonedTime;
use crate::spec::{Deadline, LateRules};

/// The largest metadata file read: `previous_submissions` carries every earlier results
/// object, so a busy student's file grows, but never to this.
pub const MAX_BYTES: u64 = 16 << 20;

/// The dates of one submission's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Dates {
    /// When it was submitted (`created_at`).
    pub created_at: Option<ZonedTime>,
    /// The due date that applies: the latest of the users' extensions, else the assignment's.
    pub due: Option<ZonedTime>,
    /// The late due date that applies, chosen the same way.
    pub late_due: Option<ZonedTime>,
    /// Whether `due` or `late_due` came from a user's extension.
    pub extension: bool,
}

#[derive(Deserialize)]
struct Raw {
    created_at: Option<String>,
    assignment: Option<RawAssignment>,
    #[serde(default)]
    users: Vec<RawUser>,
}

#[derive(Deserialize, Default)]
struct RawAssignment {
    due_date: Option<String>,
    late_due_date: Option<String>,
}

#[derive(Deserialize)]
struct RawUser {
    assignment: Option<RawAssignment>,
}

/// The text of the metadata file at `path`: a regular file, not a symbolic link, at most
/// [`MAX_BYTES`]. `Ok(None)` when there is no such file.
pub fn read(path: &Path) -> Result<Option<String>, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err("it is a symbolic link, which is not followed".to_string())
        }
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".to_string());
    }
    if meta.len() > MAX_BYTES {
        return Err(format!(
            "it is {} bytes, more than the {MAX_BYTES} read",
            meta.len()
        ));
    }
    let mut text = String::new();
    file.take(MAX_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(Some(text))
}

/// The dates in a metadata file's text.
pub fn parse(json: &str) -> Result<Dates, String> {
    let raw: Raw = serde_json::from_str(json).map_err(|e| format!("not valid metadata: {e}"))?;
    let time = |field: &str, v: &Option<String>| -> Result<Option<ZonedTime>, String> {
        v.as_deref()
            .map(|s| ZonedTime::parse(s).map_err(|e| format!("`{field}`: {e}")))
            .transpose()
    };
    let assignment = raw.assignment.unwrap_or_default();
    let mut due = time("assignment.due_date", &assignment.due_date)?;
    let mut late_due = time("assignment.late_due_date", &assignment.late_due_date)?;
    // A group's submission is due when its most generous member's extension says.
    let latest = |a: Option<ZonedTime>, b: Option<ZonedTime>| match (a, b) {
        (Some(a), Some(b)) => Some(if b.at > a.at { b } else { a }),
        (a, b) => a.or(b),
    };
    let mut user_due = None;
    let mut user_late_due = None;
    for user in raw.users.iter().filter_map(|u| u.assignment.as_ref()) {
        user_due = latest(
            user_due,
            time("users[].assignment.due_date", &user.due_date)?,
        );
        user_late_due = latest(
            user_late_due,
            time("users[].assignment.late_due_date", &user.late_due_date)?,
        );
    }
    let extension = (user_due.is_some() && user_due != due)
        || (user_late_due.is_some() && user_late_due != late_due);
    due = user_due.or(due);
    late_due = user_late_due.or(late_due);
    Ok(Dates {
        created_at: time("created_at", &raw.created_at)?,
        due,
        late_due,
        extension,
    })
}

/// `[deadline] due = "gradescope"` for one submission: Gradescope's due date (the student's
/// extension when they have one) with the spec's grace period and penalty.
pub fn deadline(rules: &LateRules, dates: &Dates) -> Result<Deadline, String> {
    let due = dates
        .due
        .ok_or("the assignment has no `due_date` in Gradescope's metadata")?;
    Ok(Deadline {
        due,
        grace: rules.grace,
        penalty: rules.penalty,
    })
}

/// Whether a submission at `submitted` came after the late due date, when there is one
/// (Gradescope accepts none from students then; staff may still upload one for them).
pub fn after_late_due(dates: &Dates, submitted: &ZonedTime) -> bool {
    dates
        .late_due
        .is_some_and(|l| submitted.at.since(l.at).is_some_and(|d| !d.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LatePenalty;
    use std::time::Duration;

    const DOCUMENTED: &str = r#"{
      "id": 123456,
      "created_at": "2018-07-01T14:22:32.365935-07:00",
      "assignment": {
        "due_date": "2018-07-31T23:00:00.000000-07:00",
        "group_size": 4, "group_submission": true, "id": 25828, "course_id": 1234,
        "late_due_date": null,
        "release_date": "2018-07-02T00:00:00.000000-07:00",
        "title": "Programming Assignment 1", "total_points": "20.0"
      },
      "submission_method": "upload",
      "users": [{ "email": "student@example.com", "id": 1234, "name": "Student User" }],
      "previous_submissions": [{ "submission_time": "2017-04-06T14:24:48.087023-07:00",
                                 "score": 0.0, "results": {} }]
    }"#;

    #[test]
    fn the_documented_example_gives_its_dates() {
        let d = parse(DOCUMENTED).unwrap();
        assert_eq!(d.due.unwrap().rfc3339(), "2018-07-31T23:00:00-07:00");
        assert_eq!(d.late_due, None);
        assert!(!d.extension);
        assert!(d.created_at.is_some());
    }

    #[test]
    fn a_students_extension_is_the_due_date_that_applies() {
        let json = r#"{"created_at": "2026-12-03T10:00:00Z",
          "assignment": {"due_date": "2026-12-01T22:00:00-05:00",
                         "late_due_date": "2026-12-03T22:00:00-05:00"},
          "users": [{"id": 1, "assignment": {"due_date": "2026-12-04T22:00:00-05:00",
                                             "late_due_date": "2026-12-06T22:00:00-05:00"}}]}"#;
        let d = parse(json).unwrap();
        assert!(d.extension);
        assert_eq!(d.due.unwrap().rfc3339(), "2026-12-04T22:00:00-05:00");
        assert_eq!(d.late_due.unwrap().rfc3339(), "2026-12-06T22:00:00-05:00");
        let rules = LateRules {
            grace: Duration::from_secs(60),
            penalty: LatePenalty::Flat { fraction: 0.2 },
        };
        let deadline = deadline(&rules, &d).unwrap();
        assert_eq!(deadline.due, d.due.unwrap());
        assert_eq!(deadline.grace, rules.grace);
        assert!(!after_late_due(&d, &d.created_at.unwrap()));
    }

    #[test]
    fn a_group_gets_its_most_generous_extension() {
        let json = r#"{"assignment": {"due_date": "2026-12-01T22:00:00Z"},
          "users": [{"assignment": {"due_date": "2026-12-02T22:00:00Z"}},
                    {"assignment": {"due_date": "2026-12-05T22:00:00Z"}},
                    {"email": "no-extension@example.com"}]}"#;
        assert_eq!(
            parse(json).unwrap().due.unwrap().rfc3339(),
            "2026-12-05T22:00:00Z"
        );
    }

    #[test]
    fn after_the_late_due_date_is_told_apart() {
        let json = r#"{"created_at": "2026-12-04T00:00:00Z",
          "assignment": {"due_date": "2026-12-01T00:00:00Z", "late_due_date": "2026-12-03T00:00:00Z"}}"#;
        let d = parse(json).unwrap();
        assert!(after_late_due(&d, &d.created_at.unwrap()));
    }

    #[test]
    fn no_due_date_is_an_error_that_says_so() {
        let d = parse(r#"{"created_at": "2026-12-04T00:00:00Z"}"#).unwrap();
        let rules = LateRules {
            grace: Duration::ZERO,
            penalty: LatePenalty::None,
        };
        assert!(deadline(&rules, &d).unwrap_err().contains("due_date"));
    }

    #[test]
    fn a_bad_date_names_its_field() {
        let err = parse(r#"{"assignment": {"due_date": "tomorrow"}}"#).unwrap_err();
        assert!(err.contains("assignment.due_date"), "{err}");
    }

    #[test]
    fn symbolic_links_and_huge_files_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, DOCUMENTED).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(read(&link).unwrap_err().contains("symbolic link"));
        assert_eq!(read(&real).unwrap().as_deref(), Some(DOCUMENTED));
        assert_eq!(read(&dir.path().join("none.json")).unwrap(), None);
        let huge = dir.path().join("huge.json");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_BYTES + 1)
            .unwrap();
        assert!(read(&huge).unwrap_err().contains("bytes"));
        assert!(read(dir.path()).unwrap_err().contains("regular file"));
    }
}

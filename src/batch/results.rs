//! The results directory: one file per submission, each replaced atomically.
//!
//! `<name>.json` holds a graded result ([`super::record`]); `<name>.error.txt` says why a
//! submission could not be graded. At most one of the two is meant to exist; the order of the
//! writes makes a crash between them leave either both (the JSON is the newer: it wins) or
//! neither (the submission is graded again). `<name>.html` is the graded result's page
//! ([`page_file`]), written just before its JSON and removed with it; `index.html` is the
//! batch's overview ([`INDEX_PAGE`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::record::Record;
use super::BatchError;

/// One submission's line in a batch's outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub entry: Entry,
}

/// What is known about a submission.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Graded(Box<Record>),
    /// The grader could not grade it (not a verdict on the submission): the one-line reason.
    Error(String),
}

/// The records of the rows that were graded, in order (errors left out).
pub fn graded(rows: &[Row]) -> Vec<&Record> {
    rows.iter()
        .filter_map(|r| match &r.entry {
            Entry::Graded(r) => Some(r.as_ref()),
            Entry::Error(_) => None,
        })
        .collect()
}

const RESULT_SUFFIX: &str = ".json";
const ERROR_SUFFIX: &str = ".error.txt";
/// The batch's overview page.
pub const INDEX_PAGE: &str = "index.html";

/// The file name of `name`'s HTML page: `<name>.html`, except for a submission named `index`,
/// whose page would be the overview: `index.htm` (no other name maps to a file that does not
/// end in `.html`, so no two submissions share a page).
pub fn page_file(name: &str) -> String {
    if name == "index" {
        "index.htm".to_string()
    } else {
        format!("{name}.html")
    }
}

/// Writes `name`'s HTML page.
pub fn write_page(out: &Path, name: &str, html: &str) -> Result<(), BatchError> {
    write_atomically(&out.join(page_file(name)), html.as_bytes())
}

/// Where `name`'s result goes.
pub fn result_path(out: &Path, name: &str) -> PathBuf {
    out.join(format!("{name}{RESULT_SUFFIX}"))
}

fn error_path(out: &Path, name: &str) -> PathBuf {
    out.join(format!("{name}{ERROR_SUFFIX}"))
}

/// Writes a graded result's file, then removes any error left by an earlier attempt.
pub fn write_result(out: &Path, name: &str, text: &str) -> Result<(), BatchError> {
    write_atomically(&result_path(out, name), text.as_bytes())?;
    remove_if_present(&error_path(out, name))
}

/// Removes `name`'s HTML page, if there is one.
pub fn remove_page(out: &Path, name: &str) -> Result<(), BatchError> {
    remove_if_present(&out.join(page_file(name)))
}

/// Records that `name` could not be graded, removing its stale result (and page) first.
pub fn write_error(out: &Path, name: &str, why: &str) -> Result<(), BatchError> {
    remove_if_present(&result_path(out, name))?;
    remove_page(out, name)?;
    write_atomically(&error_path(out, name), format!("{why}\n").as_bytes())
}

/// `name`'s result from an earlier run, if there is a readable one.
pub fn read_record(out: &Path, name: &str) -> Option<Record> {
    let text = fs::read_to_string(result_path(out, name)).ok()?;
    Record::parse(&text).ok().filter(|r| r.submission == name)
}

/// A graded result from an earlier run is reused: an error file left by a crash goes.
pub fn keep(out: &Path, name: &str) -> Result<(), BatchError> {
    remove_if_present(&error_path(out, name))
}

/// Every submission a results directory knows about, with the file each came from, by name.
///
/// Files that are not results (`gradebook.csv`, a stray `.json`) are skipped.
pub fn read_dir(dir: &Path) -> Result<Vec<(Row, PathBuf)>, BatchError> {
    let io_err = |source| BatchError::Io {
        action: "reading",
        path: dir.to_path_buf(),
        source,
    };
    let mut graded = Vec::new();
    let mut errors = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if let Some(name) = file.strip_suffix(ERROR_SUFFIX) {
            let why = fs::read_to_string(&path).map_err(|source| BatchError::Io {
                action: "reading",
                path: path.clone(),
                source,
            })?;
            let entry = Entry::Error(why.trim().to_string());
            errors.push((row(name, entry), path));
        } else if let Some(name) = file.strip_suffix(RESULT_SUFFIX) {
            if let Some(record) = read_record(dir, name) {
                graded.push((row(name, Entry::Graded(Box::new(record))), path));
            }
        }
    }
    // A result and an error for the same name: the result is the newer (see the module docs).
    errors.retain(|(e, _)| !graded.iter().any(|(g, _)| g.name == e.name));
    graded.extend(errors);
    graded.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(graded)
}

fn row(name: &str, entry: Entry) -> Row {
    Row {
        name: name.to_string(),
        entry,
    }
}

fn remove_if_present(path: &Path) -> Result<(), BatchError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(BatchError::Io {
            action: "removing",
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// [`crate::atomic_file::write`], with the path in the error.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BatchError> {
    crate::atomic_file::write(path, bytes).map_err(|source| BatchError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESULT: &str = r#"{"submission":"alice","score":1.0,"max_score":2.0,"tests":[]}"#;

    #[test]
    fn batch_files_are_readable_by_the_rest_of_the_staff() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write_result(dir.path(), "alice", RESULT).unwrap();
        let mode = fs::metadata(result_path(dir.path(), "alice"))
            .unwrap()
            .permissions()
            .mode();
        assert_ne!(
            mode & 0o044,
            0,
            "a temporary file's 0600 leaked through: {mode:o}"
        );
    }

    #[test]
    fn a_result_replaces_an_error_and_an_error_replaces_a_result() {
        let dir = tempfile::tempdir().unwrap();
        write_error(dir.path(), "alice", "boom").unwrap();
        let rows = read_dir(dir.path()).unwrap();
        assert_eq!(rows[0].0.entry, Entry::Error("boom".into()));
        write_result(dir.path(), "alice", RESULT).unwrap();
        let rows = read_dir(dir.path()).unwrap();
        assert_eq!(rows.len(), 1);
        assert!(matches!(rows[0].0.entry, Entry::Graded(_)));
        write_error(dir.path(), "alice", "again").unwrap();
        assert!(read_record(dir.path(), "alice").is_none());
    }

    #[test]
    fn after_a_crash_between_the_writes_the_result_wins() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(error_path(dir.path(), "alice"), "old\n").unwrap();
        fs::write(result_path(dir.path(), "alice"), RESULT).unwrap();
        fs::write(dir.path().join("gradebook.csv"), "x").unwrap();
        fs::write(dir.path().join("stray.json"), "[1]").unwrap();
        let rows = read_dir(dir.path()).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(matches!(rows[0].0.entry, Entry::Graded(_)));
    }

    #[test]
    fn a_result_under_another_name_is_not_this_submissions() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(result_path(dir.path(), "bob"), RESULT).unwrap();
        assert!(read_record(dir.path(), "bob").is_none());
    }
}

//! `labgrade merge`: the results directories of shards combined into one, as if one unsharded
//! batch had written it: the same result files, and outputs rebuilt by the same code.

use std::path::{Path, PathBuf};

use super::results::{self, Entry, Row};
use super::BatchError;

/// Copies every submission's file from `dirs` into `out` and returns the rows, by name.
///
/// Each directory must hold a finished batch (its `gradebook.csv`, written last): a shard that
/// was lost or killed is refused rather than merged into a gradebook missing its students.
/// A submission found in two directories must have the same result in both (a shard re-run
/// into a second directory); different results mean the directories are not shards of one
/// batch, and nothing is written.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Vec<Row>, BatchError> {
    let mut found: Vec<(Row, PathBuf)> = Vec::new();
    for dir in dirs {
        if !dir.join("gradebook.csv").is_file() {
            return Err(BatchError::Unfinished(dir.clone()));
        }
        for (row, file) in results::read_dir(dir)? {
            match found.iter().find(|(r, _)| r.name == row.name) {
                Some((seen, _)) if same_result(seen, &row) => {}
                Some((_, first)) => {
                    return Err(BatchError::Conflict {
                        name: row.name,
                        first: first.clone(),
                        second: file,
                    })
                }
                None => found.push((row, file)),
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|source| BatchError::Io {
        action: "creating",
        path: out.to_path_buf(),
        source,
    })?;
    for (row, file) in &found {
        copy_into(row, file, out)?;
    }
    let mut rows: Vec<Row> = found.into_iter().map(|(row, _)| row).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

fn same_result(a: &Row, b: &Row) -> bool {
    match (&a.entry, &b.entry) {
        (Entry::Graded(x), Entry::Graded(y)) => x.key.is_some() && x.key == y.key,
        _ => a.entry == b.entry,
    }
}

/// Writes `row`'s file (and its HTML page, when the shard has one) into `out` (bytes
/// unchanged), unless it is already there.
fn copy_into(row: &Row, file: &Path, out: &Path) -> Result<(), BatchError> {
    match &row.entry {
        Entry::Graded(_) => {
            let dest = results::result_path(out, &row.name);
            if same_file(file, &dest) {
                return Ok(());
            }
            let read = |path: &Path| {
                std::fs::read_to_string(path).map_err(|source| BatchError::Io {
                    action: "reading",
                    path: path.to_path_buf(),
                    source,
                })
            };
            let text = read(file)?;
            let page = file.with_file_name(results::page_file(&row.name));
            if page.is_file() {
                results::write_page(out, &row.name, &read(&page)?)?;
            } else {
                // A page from another grading would not match this result.
                results::remove_page(out, &row.name)?;
            }
            results::write_result(out, &row.name, &text)
        }
        Entry::Error(why) => results::write_error(out, &row.name, why),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, key: &str, score: f64) -> String {
        format!(
            r#"{{"submission":"{name}","score":{score},"max_score":2.0,"tests":[],"key":"{key}"}}"#
        )
    }

    #[test]
    fn shards_combine_and_conflicts_are_refused() {
        let (a, b, out) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        results::write_result(a.path(), "alice", &result("alice", "k1", 1.0)).unwrap();
        results::write_error(a.path(), "carol", "boom").unwrap();
        results::write_result(b.path(), "bob", &result("bob", "k2", 2.0)).unwrap();
        // The same result twice (a shard re-run elsewhere) is fine.
        results::write_result(b.path(), "alice", &result("alice", "k1", 1.0)).unwrap();
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
        let err = merge(&dirs, out.path()).unwrap_err();
        assert!(matches!(err, BatchError::Unfinished(_)), "{err}");
        for dir in &dirs {
            std::fs::write(dir.join("gradebook.csv"), "").unwrap();
        }
        let rows = merge(&dirs, out.path()).unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        assert_eq!(
            std::fs::read_to_string(out.path().join("bob.json")).unwrap(),
            result("bob", "k2", 2.0)
        );
        assert!(out.path().join("carol.error.txt").exists());
        assert!(!out.path().join("bob.html").exists());
        std::fs::write(b.path().join("bob.html"), "<p>bob</p>").unwrap();
        let out2 = tempfile::tempdir().unwrap();
        merge(&dirs, out2.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(out2.path().join("bob.html")).unwrap(),
            "<p>bob</p>"
        );

        results::write_result(b.path(), "alice", &result("alice", "k3", 0.0)).unwrap();
        let err = merge(&dirs, out.path()).unwrap_err();
        assert!(
            err.to_string().contains("alice has different results"),
            "{err}"
        );
    }
}

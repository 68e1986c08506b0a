//! Batch grading: every submission of a directory on a pool of grading workers; resumable,
//! shardable, with a gradebook, a summary and the score changes of a regrade.
//!
//! The pipeline: [`list`] the submissions (and keep this [`Shard`]'s) → [`plan`]: a result
//! whose [`key`] still matches is kept, everything else is graded → [`run`] on the workers, each
//! result written atomically as it finishes ([`results`]), with its HTML page → [`write_outputs`]:
//! `gradebook.csv`, `summary.md` (with the class's [`analytics`]), `changes.csv` and the overview
//! page `index.html`, all rebuilt from the result files' records; with a roster, [`lms`] adds
//! the Canvas and Moodle import files. [`merge`] combines the results directories of shards
//! into one, through the same outputs.
//!
//! This module never prints: progress leaves as [`Event`]s for a [`Progress`] to render
//! ([`progress`] has the terminal's renderers).
//!
//! Timing is protected by the machine-wide lane (`crate::lane`), taken inside `Grader::grade`:
//! while one worker times a speedup or runs a race probe, the other workers' builds and runs
//! wait. The workers here need nothing for it.

pub mod analytics;
pub mod changes;
mod class;
pub mod collection;
pub mod gradebook;
pub mod index;
pub mod key;
pub mod lms;
mod merge;
pub mod progress;
pub mod record;
pub mod results;
mod run;
pub mod shard;
pub mod summary;

use std::path::PathBuf;

pub use merge::merge;
pub use results::{Entry, Row};
pub use run::{list, plan, run, Event, Job, Plan, Progress, Submission};
pub use shard::Shard;

use changes::Change;

/// Why a batch (or a merge) could not go on. A submission that cannot be graded is not one of
/// these: it becomes an error row and the batch continues.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The collection's own metadata (the TA's export) cannot be used.
    #[error("the collection cannot be read: {0}")]
    Collection(String),
    #[error("{} holds no finished batch (no gradebook.csv): run or resume its `labgrade batch` first", .0.display())]
    Unfinished(PathBuf),
    #[error("{name} has different results in {} and {}; merge shards of one batch only", first.display(), second.display())]
    Conflict {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
}

/// Writes `gradebook.csv`, `summary.md`, `changes.csv` and `index.html` for `rows` (in name
/// order) into `out`; returns the score changes.
pub fn write_outputs(out: &std::path::Path, rows: &[Row]) -> Result<Vec<Change>, BatchError> {
    let changes = changes::changes(rows);
    results::write_atomically(
        &out.join("gradebook.csv"),
        gradebook::render(rows).as_bytes(),
    )?;
    results::write_atomically(&out.join("summary.md"), summary::render(rows).as_bytes())?;
    if rows
        .iter()
        .any(|r| matches!(&r.entry, Entry::Graded(g) if g.collection.is_some()))
    {
        results::write_atomically(
            &out.join("students.csv"),
            gradebook::render_students(rows).as_bytes(),
        )?;
    }
    results::write_atomically(
        &out.join("changes.csv"),
        changes::render_csv(&changes).as_bytes(),
    )?;
    // A result kept from a labgrade without pages has none: its name is then not a link.
    let page_of = |name: &str| {
        let file = results::page_file(name);
        out.join(&file).is_file().then_some(file)
    };
    let index = index::batch_index(rows, &page_of);
    results::write_atomically(&out.join(results::INDEX_PAGE), index.as_bytes())?;
    Ok(changes)
}

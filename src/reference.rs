//! The speedup yardstick: the `pool_sum` a student's speedup is measured against, built like a
//! submission when a spec times a speedup relative to a reference.
//!
//! It is the course's reference solution when the spec names one (`reference = "DIR"`, a staff
//! bundle passed with `--spec`), else a neutral workload compiled into the grader
//! (`specs/yardstick/`): forked workers doing per-item work of about the cost of adding a
//! number, shaped like a good pool but solving nothing. The course's solution is never compiled
//! into the grader: students install this binary, and `strings` would show them its source.

use std::path::{Path, PathBuf};

use crate::build::{self, BinaryBuild, BuildCache};
use crate::stage::{self, Staged};

/// The neutral workload's `pool_sum.rs`, compiled in so the grader works from any directory.
pub const YARDSTICK_SOURCE: &str = include_str!("../specs/yardstick/src/bin/pool_sum.rs");

/// The neutral workload's sources.
const YARDSTICK: [(&str, &str); 1] = [("src/bin/pool_sum.rs", YARDSTICK_SOURCE)];

/// A built yardstick; its files live as long as this value.
#[derive(Debug)]
pub struct Reference {
    _staged: Staged,
    _sources: Option<tempfile::TempDir>,
    /// The yardstick's `pool_sum` executable.
    pub pool_sum: PathBuf,
}

/// Why the yardstick could not be built: the grader's problem (its toolchain, its cache, a
/// staff bundle), never the student's. `what` names which yardstick it was.
#[derive(Debug, thiserror::Error)]
#[error("{what} {failure}")]
pub struct ReferenceError {
    pub what: String,
    #[source]
    pub failure: ReferenceFailure,
}

/// What went wrong building the yardstick, worded to follow its name.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceFailure {
    #[error("could not be written out")]
    Write(#[source] std::io::Error),
    #[error("could not be staged")]
    Stage(#[source] stage::StageError),
    #[error("cannot be used: {0}")]
    Unusable(String),
    #[error("could not be built")]
    Build(#[source] build::BuildError),
    #[error("did not build: {location} {message}")]
    DidNotCompile { location: String, message: String },
    #[error("did not build within {} s", .0.as_secs())]
    TimedOut(std::time::Duration),
    #[error("has no src/bin/pool_sum.rs")]
    Missing,
}

/// Builds the yardstick in worker `worker`'s target directory: the reference solution in
/// `course` (a submission-shaped directory) when the spec names one, else the built-in neutral
/// workload.
pub fn build(
    cache: &BuildCache,
    worker: usize,
    course: Option<&Path>,
) -> Result<Reference, ReferenceError> {
    let what = match course {
        Some(dir) => format!("the reference solution in {}", dir.display()),
        None => "the built-in yardstick".to_string(),
    };
    let fail = |failure| ReferenceError {
        what: what.clone(),
        failure,
    };
    let (dir, sources) = match course {
        Some(dir) => (dir.to_path_buf(), None),
        None => {
            let sources = write_yardstick().map_err(|e| fail(ReferenceFailure::Write(e)))?;
            (sources.path().to_path_buf(), Some(sources))
        }
    };
    let staged = stage::stage_wanting(&dir, cache.skeleton(), &["pool_sum"])
        .map_err(|e| fail(ReferenceFailure::Stage(e)))?
        .map_err(|u| fail(ReferenceFailure::Unusable(u.to_string())))?;
    let built = build::build(
        &staged,
        &["pool_sum"],
        cache,
        worker,
        std::time::Duration::from_secs(300),
    )
    .map_err(|e| fail(ReferenceFailure::Build(e)))?;
    match built.binaries.get("pool_sum") {
        Some(BinaryBuild::Built { executable }) => Ok(Reference {
            pool_sum: executable.clone(),
            _staged: staged,
            _sources: sources,
        }),
        Some(BinaryBuild::Failed(e)) => Err(fail(ReferenceFailure::DidNotCompile {
            location: e.location(),
            message: e.message.clone(),
        })),
        Some(BinaryBuild::TimedOut { after }) => Err(fail(ReferenceFailure::TimedOut(*after))),
        Some(BinaryBuild::Missing) | None => Err(fail(ReferenceFailure::Missing)),
    }
}

/// The built-in yardstick's sources, written into a temporary directory.
fn write_yardstick() -> std::io::Result<tempfile::TempDir> {
    let sources = crate::tempdirs::create("reference")?;
    for (path, text) in YARDSTICK {
        let p = sources.path().join(path);
        std::fs::create_dir_all(p.parent().expect("a file in src/bin"))?;
        std::fs::write(&p, text)?;
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    /// The yardstick is not the course's solution: it shares no line of substance with it.
    #[test]
    fn the_yardstick_shares_no_line_with_the_reference() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let reference = std::fs::read_to_string(
            root.join("fixtures/submissions/reference/src/bin/pool_sum.rs"),
        )
        .unwrap();
        let (_, yardstick) = super::YARDSTICK[0];
        let ours: std::collections::HashSet<&str> = yardstick.lines().map(str::trim).collect();
        let shared: Vec<&str> = reference
            .lines()
            .map(str::trim)
            .filter(|l| l.len() > 20 && ours.contains(l))
            .collect();
        assert!(shared.is_empty(), "{shared:?}");
    }
}

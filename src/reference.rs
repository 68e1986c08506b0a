//! The course's reference solution (`specs/reference/`), compiled into the grader and built like
//! a submission when a spec times a speedup relative to it.

use std::path::PathBuf;

use crate::build::{self, BinaryBuild, BuildCache};
use crate::stage::{self, Staged};

/// The reference's sources, compiled in so the grader works from any directory.
const SOURCES: [(&str, &str); 2] = [
    (
        "src/bin/pool_sum.rs",
        include_str!("../specs/reference/src/bin/pool_sum.rs"),
    ),
    (
        "src/bin/counter.rs",
        include_str!("../specs/reference/src/bin/counter.rs"),
    ),
];

/// A built reference; its files live as long as this value.
#[derive(Debug)]
pub struct Reference {
    _staged: Staged,
    _sources: tempfile::TempDir,
    /// The reference's `pool_sum` executable.
    pub pool_sum: PathBuf,
}

/// Builds the reference in worker `worker`'s target directory. `Err` says why it could not be
/// built (the speedup tests then cannot be decided, and say so).
pub fn build(cache: &BuildCache, worker: usize) -> Result<Reference, String> {
    let sources = crate::tempdirs::create("reference").map_err(|e| e.to_string())?;
    for (path, text) in SOURCES {
        let p = sources.path().join(path);
        std::fs::create_dir_all(p.parent().expect("a file in src/bin"))
            .map_err(|e| e.to_string())?;
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
    }
    let staged = stage::stage(sources.path(), cache.skeleton())
        .map_err(|e| e.to_string())?
        .map_err(|u| u.to_string())?;
    let built = build::build(
        &staged,
        &["pool_sum"],
        cache,
        worker,
        std::time::Duration::from_secs(300),
    )
    .map_err(|e| e.to_string())?;
    match built.binaries.get("pool_sum") {
        Some(BinaryBuild::Built { executable }) => Ok(Reference {
            pool_sum: executable.clone(),
            _staged: staged,
            _sources: sources,
        }),
        other => Err(format!("the reference solution did not build: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    /// The built-in reference is the fixture the tests grade: they must not drift apart.
    #[test]
    fn the_builtin_reference_is_the_reference_fixture() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (path, text) in super::SOURCES {
            let fixture =
                std::fs::read_to_string(root.join("fixtures/submissions/reference").join(path))
                    .unwrap();
            assert_eq!(
                fixture, text,
                "{path} differs from fixtures/submissions/reference"
            );
        }
    }
}

//! Staging: the course skeleton plus the student's `src/`, in a fresh temporary directory.
//!
//! Only `src/` is taken from a submission, and only regular files and directories: symlinks are
//! never followed (a link to `/etc/shadow` or to another submission stays behind, with a
//! warning), and FIFOs, devices and sockets are never opened (each file is opened through
//! [`untrusted_file`](crate::untrusted_file), which checks again on what it opened). The copy
//! is bounded in files, folders, depth and bytes. Everything else the student handed in is
//! ignored with a warning. A submission that
//! cannot be graded at all (empty, misshaped) is not an error of the grader: it is described by
//! [`Unusable`] and graded zero with that message.

mod archive;
pub mod layout;
mod skeleton;

pub use layout::{Layout, LayoutKind};
pub use skeleton::Skeleton;

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::untrusted_file::{self, Refused};

/// Bounds on what is copied from a submission, so a hostile one cannot fill the disk (or the
/// grader's stack, with folders nested thousands deep).
const MAX_FILES: usize = 2_000;
const MAX_DIRS: usize = 500;
const MAX_DEPTH: usize = 16;
const MAX_BYTES: u64 = 32 << 20;
/// Names of ignored top-level entries listed one by one; the rest are counted.
const MAX_EXTRA_WARNINGS: usize = 20;
/// Entries looked at when searching a misshaped submission for Rust files.
const MAX_SEARCHED: usize = 10_000;

/// A submission staged inside a copy of the skeleton. Dropping it removes the directory.
#[derive(Debug)]
pub struct Staged {
    dir: TempDir,
    /// Things the student handed in that were not used, one sentence each.
    pub warnings: Vec<String>,
    /// The `src/bin/` targets the submission provides (`pool_sum`, `counter`, …).
    pub binaries: BTreeSet<String>,
    /// Where the programs were found (the handout's `src/bin/`, loose files, …).
    pub layout: Layout,
}

impl Staged {
    /// Root of the staged Cargo package.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Why a submission cannot be graded at all; graded zero with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// The directory does not exist or is not a directory.
    NotADirectory(PathBuf),
    /// Nothing to build: no `src/` and no Rust file anywhere.
    Empty,
    /// Rust files exist but not under `src/`.
    Misshaped { found: Vec<String> },
    /// The submission is larger than the grader copies.
    TooLarge { limit: String },
    /// Two places hold different programs (`what`): which to grade is the student's choice.
    Ambiguous { what: String, places: Vec<String> },
    /// An uploaded archive was refused (hostile, corrupt or too large): `why`.
    Archive { name: String, why: String },
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::NotADirectory(p) => {
                write!(f, "{} is not a directory: nothing to grade", p.display())
            }
            Unusable::Empty => f.write_str(
                "the submission is empty: expected src/bin/pool_sum.rs and src/bin/counter.rs",
            ),
            Unusable::Misshaped { found } => write!(
                f,
                "no src/ directory; found {} instead. Put each program at src/bin/<name>.rs \
                 (e.g. src/bin/pool_sum.rs)",
                found.join(", ")
            ),
            Unusable::TooLarge { limit } => {
                write!(
                    f,
                    "src/ holds more than {limit}: remove generated or data files"
                )
            }
            Unusable::Ambiguous { what, places } => write!(
                f,
                "{what} is in more than one place ({}), and they differ: keep one, at \
                 src/bin/<name>.rs",
                places.join(" and ")
            ),
            Unusable::Archive { name, why } => {
                write!(f, "{name} was not unpacked: {why}")
            }
        }
    }
}

/// Errors of the grader's own file system work (not the student's fault).
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("could not create a staging directory: {0}")]
    TempDir(#[source] io::Error),
    #[error("could not copy {path}: {source}")]
    Copy {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Stages `submission` inside a fresh copy of `skeleton`, wherever its programs are (see
/// [`layout`]); every program counts when choosing where they are.
pub fn stage(
    submission: &Path,
    skeleton: &Skeleton,
) -> Result<Result<Staged, Unusable>, StageError> {
    stage_wanting(submission, skeleton, &[])
}

/// [`stage`], choosing among the places a submission holds programs by the programs `wanted`
/// (the spec's binaries): a repository's `tests/` or `build.rs` is not a candidate.
pub fn stage_wanting(
    submission: &Path,
    skeleton: &Skeleton,
    wanted: &[&str],
) -> Result<Result<Staged, Unusable>, StageError> {
    if !submission.is_dir() {
        return Ok(Err(Unusable::NotADirectory(submission.to_path_buf())));
    }
    let mut warnings = Vec::new();
    if fs::symlink_metadata(submission.join("src")).is_ok_and(|m| m.file_type().is_symlink()) {
        warnings.push("src is a symbolic link: not followed".to_string());
    }
    let located = match layout::locate(submission, wanted)? {
        Ok(located) => located,
        Err(Unusable::Empty) => {
            let found = rust_files_outside_src(submission);
            return Ok(Err(if found.is_empty() {
                Unusable::Empty
            } else {
                Unusable::Misshaped { found }
            }));
        }
        Err(other) => return Ok(Err(other)),
    };
    warnings.extend(located.warnings.iter().cloned());
    let loose = matches!(located.source, layout::Source::Loose(..));
    warn_about_extras(located.root(), loose, &mut warnings);

    let dir = crate::tempdirs::create("stage").map_err(StageError::TempDir)?;
    skeleton
        .write_into(dir.path())
        .map_err(|source| StageError::Copy {
            path: dir.path().to_path_buf(),
            source,
        })?;
    let mut budget = CopyBudget::default();
    let copied = match &located.source {
        layout::Source::Src(root) => copy_tree(
            &root.join("src"),
            &dir.path().join("src"),
            "src",
            &mut budget,
            &mut warnings,
        )?,
        layout::Source::Loose(_, files) => {
            copy_loose(files, &dir.path().join("src"), &mut budget, &mut warnings)?
        }
    };
    if let Err(over) = copied {
        return Ok(Err(over));
    }
    let binaries = discover_binaries(&dir.path().join("src/bin"));
    Ok(Ok(Staged {
        dir,
        warnings,
        binaries,
        layout: located.layout,
    }))
}

/// Files and directories at the top of the graded folder other than `src/` (or, for loose
/// files, other than the `.rs` files), reported once each.
fn warn_about_extras(submission: &Path, loose: bool, warnings: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(submission) else {
        return;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .take(MAX_SEARCHED)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // A student's copy of Gradescope's metadata is reported by the late policy (ignored).
        .filter(|n| n != "src" && n != crate::deadline::source::METADATA_FILE)
        .filter(|n| !(loose && n.ends_with(".rs") && !n.starts_with('.')))
        // Archives beside the programs are reported by the layout search.
        .filter(|n| archive::Format::of(n).is_none())
        .collect();
    names.sort();
    let more = names.len().saturating_sub(MAX_EXTRA_WARNINGS);
    names.truncate(MAX_EXTRA_WARNINGS);
    for name in names {
        let why = match name.as_str() {
            "Cargo.toml" | "Cargo.lock" => "the course's Cargo.toml and dependencies are used",
            "build.rs" => "build scripts are not run",
            "target" => "build output is rebuilt from src/",
            n if n.starts_with('.') => "hidden files are not graded",
            _ if loose => "only the .rs files are graded",
            _ => "only src/ is graded",
        };
        warnings.push(format!("ignored {name}: {why}"));
    }
    if more > 0 {
        warnings.push(format!("ignored {more} more entries: only src/ is graded"));
    }
}

/// Rust files anywhere in the submission (but `target/`), for the misshaped-submission message.
fn rust_files_outside_src(submission: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![submission.to_path_buf()];
    let mut searched = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            searched += 1;
            if searched > MAX_SEARCHED {
                break;
            }
            let Ok(ft) = entry.file_type() else { continue };
            let path = entry.path();
            if ft.is_dir() && entry.file_name() != "target" && found.len() < 10 {
                stack.push(path);
            } else if ft.is_file() && path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(submission).unwrap_or(&path);
                found.push(rel.display().to_string());
            }
        }
    }
    found.sort();
    found.truncate(10);
    found
}

#[derive(Default)]
struct CopyBudget {
    files: usize,
    dirs: usize,
    bytes: u64,
}

impl CopyBudget {
    fn exceeded() -> Unusable {
        Unusable::TooLarge {
            limit: format!(
                "{MAX_FILES} files, {MAX_DIRS} folders, {MAX_DEPTH} levels of folders or {} MiB",
                MAX_BYTES >> 20
            ),
        }
    }
}

/// Copies regular files and directories from `from` to `to`; symlinks and special files are
/// skipped with a warning, never opened. `shown` is the path as the student knows it.
fn copy_tree(
    from: &Path,
    to: &Path,
    shown: &str,
    budget: &mut CopyBudget,
    warnings: &mut Vec<String>,
) -> Result<Result<(), Unusable>, StageError> {
    copy_dir(from, to, shown, 0, budget, warnings)
}

fn copy_dir(
    from: &Path,
    to: &Path,
    shown: &str,
    depth: usize,
    budget: &mut CopyBudget,
    warnings: &mut Vec<String>,
) -> Result<Result<(), Unusable>, StageError> {
    let copy_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StageError::Copy { path, source }
    };
    budget.dirs += 1;
    if depth > MAX_DEPTH || budget.dirs > MAX_DIRS {
        return Ok(Err(CopyBudget::exceeded()));
    }
    fs::create_dir_all(to).map_err(copy_err(to))?;
    // Bounded before sorting: a folder of a million entries is refused, not collected.
    let mut entries = Vec::new();
    for entry in fs::read_dir(from).map_err(copy_err(from))? {
        entries.push(entry.map_err(copy_err(from))?);
        if entries.len() > MAX_FILES + MAX_DIRS {
            return Ok(Err(CopyBudget::exceeded()));
        }
    }
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let shown = format!("{shown}/{}", name.to_string_lossy());
        // `file_type` of a DirEntry does not follow symlinks.
        let ft = entry.file_type().map_err(copy_err(&entry.path()))?;
        if ft.is_symlink() {
            let target = fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            warnings.push(format!(
                "{shown} is a symbolic link to {target}: not followed"
            ));
        } else if ft.is_dir() {
            let sub = copy_dir(
                &entry.path(),
                &to.join(&name),
                &shown,
                depth + 1,
                budget,
                warnings,
            )?;
            if let Err(u) = sub {
                return Ok(Err(u));
            }
        } else if ft.is_file() {
            budget.files += 1;
            if budget.files > MAX_FILES {
                return Ok(Err(CopyBudget::exceeded()));
            }
            let left = MAX_BYTES - budget.bytes;
            match untrusted_file::copy_capped(&entry.path(), &to.join(&name), left) {
                Ok(bytes) => budget.bytes += bytes,
                Err(Refused::TooLarge { .. }) => return Ok(Err(CopyBudget::exceeded())),
                Err(Refused::Io(source)) => {
                    return Err(StageError::Copy {
                        path: entry.path(),
                        source,
                    })
                }
                // Swapped for a link or a FIFO since it was listed.
                Err(why) => warnings.push(format!("{shown}: {why}")),
            }
        } else {
            warnings.push(format!("{shown} is not a regular file: not copied"));
        }
    }
    Ok(Ok(()))
}

/// Copies loose `.rs` files into `src/bin/` (`lib.rs` into `src/`), as the handout's layout.
fn copy_loose(
    files: &[PathBuf],
    src: &Path,
    budget: &mut CopyBudget,
    warnings: &mut Vec<String>,
) -> Result<Result<(), Unusable>, StageError> {
    let bin = src.join("bin");
    fs::create_dir_all(&bin).map_err(|source| StageError::Copy {
        path: bin.clone(),
        source,
    })?;
    for file in files {
        let Some(name) = file.file_name() else {
            continue;
        };
        let to = if name == "lib.rs" {
            src.join(name)
        } else {
            bin.join(name)
        };
        budget.files += 1;
        let left = MAX_BYTES - budget.bytes;
        match untrusted_file::copy_capped(file, &to, left) {
            Ok(bytes) => budget.bytes += bytes,
            Err(Refused::TooLarge { .. }) => return Ok(Err(CopyBudget::exceeded())),
            Err(Refused::Io(source)) => {
                return Err(StageError::Copy {
                    path: file.clone(),
                    source,
                })
            }
            Err(why) => warnings.push(format!("{}: {why}", name.to_string_lossy())),
        }
    }
    Ok(Ok(()))
}

/// Binary targets Cargo will discover: `src/bin/<name>.rs` and `src/bin/<name>/main.rs`.
fn discover_binaries(bin_dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Ok(entries) = fs::read_dir(bin_dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let single_file = path.is_file() && path.extension().is_some_and(|e| e == "rs");
        if single_file || path.join("main.rs").is_file() {
            found.insert(name.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests;

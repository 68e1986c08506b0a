//! Where a submission's programs are: the handout's `src/bin/`, the `.rs` files loose at the
//! top (a Gradescope upload, an LMS file submission), a project one folder down (a repository
//! holding the lab in a folder), or any of these inside a `.zip` or `.tar.gz` the student
//! uploaded instead of files.
//!
//! This module decides which folder is graded and says so ([`Layout`], shown in every report);
//! it never copies into the staging directory (that is [`super::stage`]'s) and never unpacks
//! by itself ([`super::archive`] does, into a temporary directory this module keeps alive).
//! Places that hold none of the programs the spec wants (a `tests/` folder of a repository) are
//! passed over; among the rest the first in order of preference is graded (top `src/`, top
//! loose files, one folder down), and two places that disagree (two different `pool_sum.rs`)
//! are an [`Unusable`] submission naming both, never a guess. Student files are read (to compare copies) only
//! through [`untrusted_file`](crate::untrusted_file).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tempfile::TempDir;

use super::archive;
use super::{StageError, Unusable, MAX_SEARCHED};
use crate::untrusted_file;

/// Largest program file compared byte for byte when two places hold the same name.
const MAX_COMPARED: u64 = 4 << 20;

/// Which shape the graded programs were found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayoutKind {
    /// `src/bin/*.rs` at the top: the handout's layout.
    Src,
    /// `pool_sum.rs`, `counter.rs` (and modules, `lib.rs`) loose at the top.
    Loose,
    /// A project with `src/` one folder down.
    Nested,
    /// The `.rs` files loose one folder down.
    NestedLoose,
}

/// The layout that was graded, for the reports (the JSON `layout` field, the report header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub kind: LayoutKind,
    /// The folder graded, relative to the submission (or to the archive's top); empty at the top.
    pub path: String,
    /// The archive the programs were unpacked from, when the student uploaded one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// One sentence for the TA: what was graded, from where.
    pub note: String,
}

impl Layout {
    fn new(kind: LayoutKind, path: String, archive: Option<String>, programs: &[String]) -> Self {
        let inside = |p: &str| {
            if p.is_empty() {
                String::new()
            } else {
                format!("{p}/")
            }
        };
        let listed = programs.join(", ");
        let mut note = match kind {
            LayoutKind::Src => format!("graded {}src/bin/ ({listed})", inside(&path)),
            LayoutKind::Nested => {
                format!(
                    "graded {}src/bin/ ({listed}), one folder down",
                    inside(&path)
                )
            }
            LayoutKind::Loose => format!("graded {listed} loose at the top, as src/bin/*.rs"),
            LayoutKind::NestedLoose => format!(
                "graded {listed} loose in {}, one folder down, as src/bin/*.rs",
                inside(&path)
            ),
        };
        if let Some(a) = &archive {
            note = format!("unpacked {a}; {note} inside it");
        }
        Layout {
            kind,
            path,
            archive,
            note,
        }
    }

    /// Whether this is the layout the handout teaches (nothing worth a line in the report).
    pub fn is_handout(&self) -> bool {
        self.kind == LayoutKind::Src && self.archive.is_none()
    }
}

/// Where the programs to stage are.
#[derive(Debug)]
pub enum Source {
    /// A folder holding `src/`: copied as it is.
    Src(PathBuf),
    /// Loose `.rs` files: `lib.rs` goes to `src/lib.rs`, every other one to `src/bin/`.
    Loose(PathBuf, Vec<PathBuf>),
}

/// A submission's programs, found.
#[derive(Debug)]
pub struct Located {
    pub source: Source,
    pub layout: Layout,
    /// Notes about what was passed over (an archive beside the files, …).
    pub warnings: Vec<String>,
    /// The unpacked archive, removed when the staging copy is done.
    _unpacked: Option<TempDir>,
}

impl Located {
    /// The folder graded (holding `src/` or the loose files).
    pub fn root(&self) -> &Path {
        match &self.source {
            Source::Src(p) | Source::Loose(p, _) => p,
        }
    }
}

/// One place that could hold the programs.
struct Candidate {
    kind: LayoutKind,
    /// Relative to the folder searched.
    path: String,
    dir: PathBuf,
    /// Program name → its file (`src/bin/<name>.rs`, `src/bin/<name>/main.rs` or `<name>.rs`).
    programs: Vec<(String, PathBuf)>,
    loose: Vec<PathBuf>,
}

/// Finds the programs of the submission in `submission` (a directory); `wanted` names the
/// programs the spec grades (empty: every program counts).
pub fn locate(submission: &Path, wanted: &[&str]) -> Result<Result<Located, Unusable>, StageError> {
    let candidates = candidates(submission, wanted);
    if candidates.is_empty() {
        let archives = archives(submission);
        return match archives.as_slice() {
            [] => Ok(Err(Unusable::Empty)),
            [one] => from_archive(one, wanted),
            many => Ok(Err(Unusable::Ambiguous {
                what: "the submission".into(),
                places: many
                    .iter()
                    .map(|p| display_name(p))
                    .collect::<Vec<String>>(),
            })),
        };
    }
    let mut located = match choose(candidates, None, wanted)? {
        Ok(l) => l,
        Err(u) => return Ok(Err(u)),
    };
    for a in archives(submission) {
        located.warnings.push(format!(
            "ignored {}: the programs beside it were graded",
            display_name(&a)
        ));
    }
    Ok(Ok(located))
}

fn from_archive(
    archive_path: &Path,
    wanted: &[&str],
) -> Result<Result<Located, Unusable>, StageError> {
    let name = display_name(archive_path);
    let unpacked = crate::tempdirs::create("unpack").map_err(StageError::TempDir)?;
    if let Err(why) = archive::unpack(archive_path, unpacked.path())? {
        return Ok(Err(Unusable::Archive { name, why }));
    }
    let candidates = candidates(unpacked.path(), wanted);
    if candidates.is_empty() {
        return Ok(Err(Unusable::Archive {
            name,
            why: "it holds no src/ and no .rs file at its top or one folder down".into(),
        }));
    }
    Ok(match choose(candidates, Some(name), wanted)? {
        Ok(mut l) => {
            l._unpacked = Some(unpacked);
            Ok(l)
        }
        Err(u) => Err(u),
    })
}

/// Picks one candidate: the first in order of preference (top `src/`, top loose, one folder
/// down), when no other one holds a different program of the same (wanted) name.
fn choose(
    candidates: Vec<Candidate>,
    archive: Option<String>,
    wanted: &[&str],
) -> Result<Result<Located, Unusable>, StageError> {
    let mut candidates = candidates.into_iter();
    let chosen = candidates.next().expect("at least one candidate");
    let shown = |c: &Candidate, file: &Path| {
        let rel = file
            .strip_prefix(&c.dir)
            .unwrap_or(file)
            .display()
            .to_string();
        let at = if c.path.is_empty() {
            rel
        } else {
            format!("{}/{rel}", c.path)
        };
        match &archive {
            Some(a) => format!("{a}: {at}"),
            None => at,
        }
    };
    for other in candidates {
        for (name, file) in other.programs.iter().filter(|(n, _)| is_wanted(wanted, n)) {
            let Some((_, mine)) = chosen.programs.iter().find(|(n, _)| n == name) else {
                continue;
            };
            if !same_bytes(mine, file) {
                return Ok(Err(Unusable::Ambiguous {
                    what: format!("{name}.rs"),
                    places: vec![shown(&chosen, mine), shown(&other, file)],
                }));
            }
        }
    }
    let programs: Vec<String> = chosen
        .programs
        .iter()
        .map(|(_, f)| shown_file(&chosen, f))
        .collect();
    let layout = Layout::new(chosen.kind, chosen.path.clone(), archive, &programs);
    let source = match chosen.kind {
        LayoutKind::Src | LayoutKind::Nested => Source::Src(chosen.dir),
        LayoutKind::Loose | LayoutKind::NestedLoose => Source::Loose(chosen.dir, chosen.loose),
    };
    Ok(Ok(Located {
        source,
        layout,
        warnings: Vec::new(),
        _unpacked: None,
    }))
}

fn shown_file(c: &Candidate, file: &Path) -> String {
    file.strip_prefix(&c.dir)
        .unwrap_or(file)
        .display()
        .to_string()
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    match (
        untrusted_file::read_capped(a, MAX_COMPARED),
        untrusted_file::read_capped(b, MAX_COMPARED),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn is_wanted(wanted: &[&str], name: &str) -> bool {
    wanted.is_empty() || wanted.contains(&name)
}

/// The places in `dir` that hold programs, in order of preference: those holding a wanted
/// program, when some do.
fn candidates(dir: &Path, wanted: &[&str]) -> Vec<Candidate> {
    let mut found = Vec::new();
    found.extend(at(dir, String::new(), LayoutKind::Src, LayoutKind::Loose));
    for sub in subfolders(dir) {
        let path = display_name(&sub);
        found.extend(at(&sub, path, LayoutKind::Nested, LayoutKind::NestedLoose));
    }
    // A top `src/` without programs, or a `tests/` folder of other programs, yields to a
    // place that has the wanted ones.
    let relevant = |c: &Candidate| c.programs.iter().any(|(n, _)| is_wanted(wanted, n));
    if found.iter().any(relevant) {
        found.retain(relevant);
    }
    found
}

/// The `src/` candidate and the loose-files candidate of one folder.
fn at(dir: &Path, path: String, src_kind: LayoutKind, loose_kind: LayoutKind) -> Vec<Candidate> {
    let mut found = Vec::new();
    let src = dir.join("src");
    if is_real_dir(&src) {
        let programs = bin_programs(&src.join("bin"));
        // A `src/` with no program in `src/bin/` still counts at the top (the build then
        // says what is missing), but not one folder down (a stray library crate).
        if !programs.is_empty() || src_kind == LayoutKind::Src {
            found.push(Candidate {
                kind: src_kind,
                path: path.clone(),
                dir: dir.to_path_buf(),
                programs,
                loose: Vec::new(),
            });
        }
    }
    let loose = loose_files(dir);
    let programs: Vec<(String, PathBuf)> = loose
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "lib.rs"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p.clone())))
        .collect();
    if !programs.is_empty() {
        found.push(Candidate {
            kind: loose_kind,
            path,
            dir: dir.to_path_buf(),
            programs,
            loose,
        });
    }
    found
}

fn is_real_dir(p: &Path) -> bool {
    p.symlink_metadata().is_ok_and(|m| m.is_dir())
}

fn is_real_file(p: &Path) -> bool {
    p.symlink_metadata().is_ok_and(|m| m.is_file())
}

/// Sorted, bounded listing of a folder (links and unreadable entries included; callers check).
fn listing(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .take(MAX_SEARCHED)
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// `src/bin/<name>.rs` and `src/bin/<name>/main.rs`.
fn bin_programs(bin: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for p in listing(bin) {
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()).map(str::to_string) else {
            continue;
        };
        if is_real_file(&p) && p.extension().is_some_and(|e| e == "rs") {
            found.push((stem, p));
        } else if is_real_dir(&p) && is_real_file(&p.join("main.rs")) {
            found.push((stem, p.join("main.rs")));
        }
    }
    found
}

/// Regular `.rs` files directly in `dir` (not hidden).
fn loose_files(dir: &Path) -> Vec<PathBuf> {
    listing(dir)
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "rs")
                && !display_name(p).starts_with('.')
                && is_real_file(p)
        })
        .collect()
}

/// Subfolders that could be a project: not hidden, not `__MACOSX`, not `target`, not `src`.
fn subfolders(dir: &Path) -> Vec<PathBuf> {
    listing(dir)
        .into_iter()
        .filter(|p| {
            let n = display_name(p);
            !n.starts_with('.') && n != "__MACOSX" && n != "target" && n != "src" && is_real_dir(p)
        })
        .collect()
}

/// `.zip`, `.tar.gz` and `.tgz` files at the top of `dir`.
fn archives(dir: &Path) -> Vec<PathBuf> {
    listing(dir)
        .into_iter()
        .filter(|p| archive::Format::of(&display_name(p)).is_some())
        .collect()
}

fn display_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    const WANTED: [&str; 2] = ["pool_sum", "counter"];

    fn found(dir: &Path) -> Located {
        locate(dir, &WANTED).unwrap().unwrap()
    }

    #[test]
    fn the_handout_layout_loose_files_and_a_project_one_folder_down() {
        let top = tempfile::tempdir().unwrap();
        write(top.path(), "src/bin/pool_sum.rs", "a");
        let l = found(top.path());
        assert_eq!(l.layout.kind, LayoutKind::Src);
        assert!(l.layout.is_handout());

        let loose = tempfile::tempdir().unwrap();
        write(loose.path(), "pool_sum.rs", "a");
        write(loose.path(), "counter.rs", "b");
        write(loose.path(), "lib.rs", "");
        write(loose.path(), "README.txt", "");
        let l = found(loose.path());
        assert_eq!(l.layout.kind, LayoutKind::Loose);
        assert_eq!(
            l.layout.note,
            "graded counter.rs, pool_sum.rs loose at the top, as src/bin/*.rs"
        );
        match &l.source {
            Source::Loose(_, files) => assert_eq!(files.len(), 3),
            other => panic!("{other:?}"),
        }

        let nested = tempfile::tempdir().unwrap();
        write(nested.path(), "lab10/src/bin/pool_sum.rs", "a");
        write(
            nested.path(),
            "__MACOSX/lab10/src/bin/._pool_sum.rs",
            "junk",
        );
        write(nested.path(), ".git/src/bin/x.rs", "junk");
        let l = found(nested.path());
        assert_eq!(l.layout.kind, LayoutKind::Nested);
        assert_eq!(l.layout.path, "lab10");
        assert!(
            l.layout.note.contains("lab10/src/bin/"),
            "{}",
            l.layout.note
        );
        assert_eq!(l.root(), nested.path().join("lab10"));

        let nested_loose = tempfile::tempdir().unwrap();
        write(nested_loose.path(), "hw/pool_sum.rs", "a");
        assert_eq!(
            found(nested_loose.path()).layout.kind,
            LayoutKind::NestedLoose
        );
    }

    #[test]
    fn two_different_copies_are_ambiguous_and_name_both_places() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "src/bin/pool_sum.rs", "one");
        write(dir.path(), "old/src/bin/pool_sum.rs", "two");
        match locate(dir.path(), &WANTED).unwrap().unwrap_err() {
            Unusable::Ambiguous { what, places } => {
                assert_eq!(what, "pool_sum.rs");
                assert_eq!(places, ["src/bin/pool_sum.rs", "old/src/bin/pool_sum.rs"]);
            }
            other => panic!("{other:?}"),
        }
        // The same file in two places is a copy, not a choice.
        let copy = tempfile::tempdir().unwrap();
        write(copy.path(), "src/bin/pool_sum.rs", "one");
        write(copy.path(), "pool_sum.rs", "one");
        assert_eq!(found(copy.path()).layout.kind, LayoutKind::Src);

        // A repository's other programs are not a choice: `tests/`, a `build.rs`.
        let repo = tempfile::tempdir().unwrap();
        write(repo.path(), "build.rs", "fn main() {}");
        write(repo.path(), "tests/it.rs", "");
        write(repo.path(), "lab10/src/bin/pool_sum.rs", "a");
        let l = found(repo.path());
        assert_eq!(l.layout.kind, LayoutKind::Nested);
        assert_eq!(l.layout.path, "lab10");
    }

    #[test]
    fn links_are_not_candidates() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "src/bin/pool_sum.rs", "x");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("lab10")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("src/bin/pool_sum.rs"),
            dir.path().join("counter.rs"),
        )
        .unwrap();
        assert!(matches!(
            locate(dir.path(), &WANTED).unwrap().unwrap_err(),
            Unusable::Empty
        ));
    }
}

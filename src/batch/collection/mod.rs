//! Collections: the exports TAs download, recognised and turned into submissions with the
//! identities (and, where the export is the TA's own, the submission times) they carry.
//!
//! - [`Kind::Folders`]: one folder per submission, nothing more (the default).
//! - [`Kind::Gradescope`]: "Download Submissions": `submission_metadata.yml` beside
//!   `submission_<id>/` folders; submitters (name, SID, email) and `:created_at:`, a time
//!   students cannot set ([`TimeSource::GradescopeExport`]).
//! - [`Kind::GithubClassroom`]: clones named `<assignment>-<username>`; the username is the
//!   name without the common prefix, and the time is the graded commit's (the usual git
//!   source, which never reads the student's config).
//! - [`Kind::Canvas`]: one flat folder of `<name>[_LATE]_<userid>_<submissionid>_<file>`;
//!   each student's files are staged into a folder of their own (then graded as loose files).
//!   Canvas's LATE marker is a flag without a time: recorded as `late_marker`, never a penalty.
//! - [`Kind::Moodle`]: `<Full Name>_<id>_assignsubmission_file_/` folders, one per student.
//!
//! This module only lists and stages; it never grades, and reads student files only through
//! [`untrusted_file`](crate::untrusted_file). The metadata file is the TA's, but still bounded.

mod canvas;
mod gradescope;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use super::run::Submission;
use super::BatchError;
use crate::deadline::source::{Submitted, TimeSource};

/// The export kinds `batch --collection` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folders,
    Gradescope,
    GithubClassroom,
    Canvas,
    Moodle,
}

impl Kind {
    /// Stable name (the `collection.kind` of a result).
    pub fn code(self) -> &'static str {
        match self {
            Kind::Folders => "folders",
            Kind::Gradescope => "gradescope",
            Kind::GithubClassroom => "github_classroom",
            Kind::Canvas => "canvas",
            Kind::Moodle => "moodle",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Folders => "one folder per submission",
            Kind::Gradescope => {
                "a Gradescope \"Download Submissions\" export (submission_metadata.yml)"
            }
            Kind::GithubClassroom => "GitHub Classroom clones (<assignment>-<username>)",
            Kind::Canvas => "a Canvas bulk download (<name>_<userid>_<submissionid>_<file>)",
            Kind::Moodle => "a Moodle bulk download (<Full Name>_<id>_assignsubmission_file_)",
        }
    }
}

/// One person behind a submission, as the export names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The LMS's own user id (Canvas user id, Moodle participant id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lms_id: Option<String>,
}

impl Identity {
    /// What identifies this person across submissions (the first of SID, email, username,
    /// LMS id, name).
    pub fn key(&self) -> Option<&str> {
        [
            &self.sid,
            &self.email,
            &self.username,
            &self.lms_id,
            &self.name,
        ]
        .into_iter()
        .find_map(|f| f.as_deref())
    }
}

/// What a collection says about one submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub kind: Kind,
    pub submitters: Vec<Identity>,
    /// A submission time the TA's export gives (students cannot set it).
    pub submitted: Option<Submitted>,
    /// The LMS marked it late (Canvas), without saying when it came.
    pub late_marker: bool,
}

/// The `collection` field of a result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonOrigin {
    pub kind: String,
    #[serde(default)]
    pub submitters: Vec<Identity>,
    /// RFC 3339, when the export gives a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub late_marker: bool,
}

impl Origin {
    pub fn to_json(&self) -> JsonOrigin {
        JsonOrigin {
            kind: self.kind.code().to_string(),
            submitters: self.submitters.clone(),
            submitted_at: self.submitted.as_ref().map(|s| s.at.rfc3339()),
            late_marker: self.late_marker,
        }
    }
}

/// The submissions of a root, as its collection gives them.
#[derive(Debug)]
pub struct Collected {
    pub kind: Kind,
    /// Whether `kind` was recognised (not given with `--collection`).
    pub guessed: bool,
    pub submissions: Vec<Submission>,
    /// What was passed over or odd, one sentence each (said before grading).
    pub notes: Vec<String>,
    /// Staged per-student folders (Canvas), removed when the batch is done.
    _staged: Option<TempDir>,
}

impl Collected {
    /// The line said before grading and written in `summary.md`.
    pub fn headline(&self) -> String {
        format!(
            "{} {} ({})",
            if self.guessed { "recognised" } else { "given" },
            self.kind.describe(),
            crate::words::counted(self.submissions.len(), "submission")
        )
    }
}

/// Which export `root` looks like.
pub fn detect(root: &Path) -> Kind {
    if root.join(gradescope::METADATA).symlink_metadata().is_ok() {
        return Kind::Gradescope;
    }
    let (dirs, files) = entries(root);
    let names = |v: &[PathBuf]| -> Vec<String> { v.iter().map(|p| file_name(p)).collect() };
    let dir_names = names(&dirs);
    if dir_names.iter().any(|n| moodle_name(n).is_some()) {
        return Kind::Moodle;
    }
    let file_names = names(&files);
    let canvas = file_names
        .iter()
        .filter(|n| canvas::parse(n).is_some())
        .count();
    if canvas > 0 && canvas * 2 > file_names.len() {
        return Kind::Canvas;
    }
    if dir_names.len() >= 2
        && dirs.iter().all(|d| d.join(".git").is_dir())
        && classroom_prefix(&dir_names).is_some()
    {
        return Kind::GithubClassroom;
    }
    Kind::Folders
}

/// The submissions of `root` for `kind` (recognised when `None`).
pub fn collect(root: &Path, kind: Option<Kind>) -> Result<Collected, BatchError> {
    let guessed = kind.is_none();
    let kind = kind.unwrap_or_else(|| detect(root));
    let folders = super::run::list(root, None)?;
    let mut notes = Vec::new();
    let mut staged = None;
    let submissions = match kind {
        Kind::Folders => folders,
        Kind::Gradescope => gradescope::collect(root, folders, &mut notes)?,
        Kind::GithubClassroom => {
            let names: Vec<String> = folders.iter().map(|s| s.name.clone()).collect();
            let prefix = classroom_prefix(&names).unwrap_or_default();
            folders
                .into_iter()
                .map(|mut s| {
                    let username = s.name[prefix.len()..].to_string();
                    s.origin = Some(Origin {
                        kind,
                        submitters: vec![Identity {
                            username: Some(username),
                            ..Identity::default()
                        }],
                        submitted: None,
                        late_marker: false,
                    });
                    s
                })
                .collect()
        }
        Kind::Moodle => folders
            .into_iter()
            .filter_map(|mut s| match moodle_name(&s.name) {
                Some((name, id)) => {
                    s.origin = Some(Origin {
                        kind,
                        submitters: vec![Identity {
                            name: Some(name.to_string()),
                            lms_id: Some(id.to_string()),
                            ..Identity::default()
                        }],
                        submitted: None,
                        late_marker: false,
                    });
                    Some(s)
                }
                None => {
                    notes.push(format!(
                        "{}: not a Moodle file submission folder: skipped",
                        s.name
                    ));
                    None
                }
            })
            .collect(),
        Kind::Canvas => {
            let dir = crate::tempdirs::create("collect").map_err(|source| BatchError::Io {
                action: "making a staging folder for",
                path: root.to_path_buf(),
                source,
            })?;
            let subs = canvas::collect(root, dir.path(), &mut notes)?;
            staged = Some(dir);
            subs
        }
    };
    Ok(Collected {
        kind,
        guessed,
        submissions,
        notes,
        _staged: staged,
    })
}

/// The common `<assignment>-` of GitHub Classroom folder names, when there is one.
fn classroom_prefix(names: &[String]) -> Option<String> {
    let first = names.first()?;
    let mut len = first.len();
    for n in &names[1..] {
        len = len.min(
            first
                .bytes()
                .zip(n.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    let cut = first[..len].rfind('-')? + 1;
    let prefix = &first[..cut];
    names
        .iter()
        .all(|n| n.len() > prefix.len())
        .then(|| prefix.to_string())
}

/// `(Full Name, id)` of a Moodle folder `<Full Name>_<id>_assignsubmission_file_`.
fn moodle_name(folder: &str) -> Option<(&str, &str)> {
    let (before, _) = folder.split_once("_assignsubmission_file")?;
    let (name, id) = before.rsplit_once('_')?;
    (!name.is_empty() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .then_some((name, id))
}

/// Directories and regular files at the top of `root` (links are neither), bounded.
fn entries(root: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    let Ok(read) = std::fs::read_dir(root) else {
        return (dirs, files);
    };
    for e in read.flatten().take(100_000) {
        match e.file_type() {
            Ok(t) if t.is_dir() => dirs.push(e.path()),
            Ok(t) if t.is_file() => files.push(e.path()),
            _ => {}
        }
    }
    dirs.sort();
    files.sort();
    (dirs, files)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn trusted_time(at: crate::datetime::ZonedTime) -> Submitted {
    Submitted {
        at,
        source: TimeSource::GradescopeExport,
        skipped: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_classroom_and_moodle_folders() {
        let names = ["lab10-alice".to_string(), "lab10-bob-2".to_string()];
        assert_eq!(classroom_prefix(&names).as_deref(), Some("lab10-"));
        let names = ["lab10-ann".to_string(), "lab10-anna".to_string()];
        assert_eq!(classroom_prefix(&names).as_deref(), Some("lab10-"));
        assert_eq!(classroom_prefix(&["alice".into(), "bob".into()]), None);
        assert_eq!(
            moodle_name("Jane Q Doe_4242_assignsubmission_file_"),
            Some(("Jane Q Doe", "4242"))
        );
        assert_eq!(moodle_name("Jane_assignsubmission_file_"), None);
    }
}

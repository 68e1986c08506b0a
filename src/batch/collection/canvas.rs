//! Canvas's bulk download: one flat folder of `<name>[_LATE]_<userid>_<submissionid>_<file>`
//! (`doejane_LATE_4242_99_pool_sum.rs`; a resubmitted file may carry `-1` before its
//! extension). Each student's files are copied (bounded, no links or special files) into a
//! folder of their own, graded as loose files.

use std::collections::BTreeMap;
use std::path::Path;

use super::{entries, file_name, Identity, Kind, Origin};
use crate::batch::run::Submission;
use crate::batch::BatchError;
use crate::untrusted_file;

/// Largest file copied (the stage's own limit on a submission).
const MAX_FILE_BYTES: u64 = 32 << 20;

/// A parsed Canvas file name.
#[derive(Debug, PartialEq, Eq)]
pub struct Name<'a> {
    pub student: &'a str,
    pub late: bool,
    pub user_id: &'a str,
    pub file: String,
}

pub fn parse(name: &str) -> Option<Name<'_>> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (student, rest) = name.split_once('_')?;
    let (late, rest) = match rest.split_once('_') {
        Some((l, r)) if l.eq_ignore_ascii_case("late") => (true, r),
        _ => (false, rest),
    };
    let (user_id, rest) = rest.split_once('_')?;
    let (submission_id, file) = rest.split_once('_')?;
    if student.is_empty() || !digits(user_id) || !digits(submission_id) || file.is_empty() {
        return None;
    }
    Some(Name {
        student,
        late,
        user_id,
        file: original(file),
    })
}

/// `pool_sum-1.rs` → `pool_sum.rs` (Canvas numbers a resubmitted file).
fn original(file: &str) -> String {
    if let Some((stem, ext)) = file.rsplit_once('.') {
        if let Some((base, n)) = stem.rsplit_once('-') {
            if !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                return format!("{base}.{ext}");
            }
        }
    }
    file.to_string()
}

pub(super) fn collect(
    root: &Path,
    into: &Path,
    notes: &mut Vec<String>,
) -> Result<Vec<Submission>, BatchError> {
    let (_, files) = entries(root);
    let mut students: BTreeMap<String, Submission> = BTreeMap::new();
    for path in files {
        let shown = file_name(&path);
        let Some(n) = parse(&shown) else {
            notes.push(format!(
                "{shown}: not a Canvas submission file name: skipped"
            ));
            continue;
        };
        let folder = format!("{}_{}", n.student, n.user_id);
        let dir = into.join(&folder);
        let io = |source| BatchError::Io {
            action: "staging",
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let to = dir.join(&n.file);
        if to.symlink_metadata().is_ok() {
            notes.push(format!(
                "{shown}: a second {} for {folder}: skipped",
                n.file
            ));
            continue;
        }
        if let Err(why) = untrusted_file::copy_capped(&path, &to, MAX_FILE_BYTES) {
            notes.push(format!("{shown}: {why}: skipped"));
            continue;
        }
        let s = students
            .entry(folder.clone())
            .or_insert_with(|| Submission {
                name: folder.clone(),
                dir: dir.clone(),
                origin: Some(Origin {
                    kind: Kind::Canvas,
                    submitters: vec![Identity {
                        name: Some(n.student.to_string()),
                        lms_id: Some(n.user_id.to_string()),
                        ..Identity::default()
                    }],
                    submitted: None,
                    late_marker: false,
                }),
            });
        if let Some(o) = s.origin.as_mut() {
            o.late_marker |= n.late;
        }
    }
    Ok(students.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canvas_names_carry_student_ids_and_the_late_marker() {
        assert_eq!(
            parse("doejane_LATE_4242_99_pool_sum-1.rs"),
            Some(Name {
                student: "doejane",
                late: true,
                user_id: "4242",
                file: "pool_sum.rs".into()
            })
        );
        let n = parse("smithbob_17_5_counter_v2.rs").unwrap();
        assert_eq!(
            (n.late, n.user_id, n.file.as_str()),
            (false, "17", "counter_v2.rs")
        );
        assert_eq!(parse("pool_sum.rs"), None);
        assert_eq!(parse("a_b_c_d"), None);
    }
}

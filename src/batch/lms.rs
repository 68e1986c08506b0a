//! Gradebook import files for the course's LMS (`batch --roster`, `merge --roster`): the
//! scores of a batch, one row per student of the TA's roster, in the shapes Canvas and Moodle
//! import.
//!
//! - `canvas-grades.csv`: Canvas's Grades import: `Student,ID,SIS User ID,SIS Login ID,Section`
//!   and one assignment column headed as Canvas exports it (`Lab 10 (12345)`: with the
//!   assignment's id Canvas updates that assignment; a name alone creates a new one), then a
//!   `Points Possible` row, which Canvas reads as the assignment's points and imports no grade
//!   from. Canvas matches a row to a student by ID, SIS User ID or SIS Login ID.
//! - `moodle-grades.csv`: for Moodle's "Import grades: CSV file": the roster's identifiers
//!   (`Email address`, `ID number`, `Username`: one is chosen as "Map from" on import) and one
//!   grade column, mapped to the grade item on import. Moodle has no points-possible row: the
//!   grade item's maximum is set in Moodle.
//!
//! A roster student without a graded submission gets an empty grade cell, which both LMSs
//! import as "no grade" (the student's grade is left as it is); the TA decides between a zero
//! and an extension. Those students, and submissions no roster row names, are listed (on
//! stderr and in `summary.md`), never dropped silently. Every text cell goes through
//! [`crate::report::spreadsheet_field`]: a student named `=HYPERLINK(…)` stays text.
//!
//! The roster is the TA's file, never a student's. Pure functions of the roster and the result
//! records, like every other output: a merge of shards writes the same files.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::gradebook::number;
use super::results::{Entry, Row};
use crate::report::spreadsheet_field as field;

/// The Canvas import file's name in the results directory.
pub const CANVAS_FILE: &str = "canvas-grades.csv";
/// The Moodle import file's name in the results directory.
pub const MOODLE_FILE: &str = "moodle-grades.csv";

/// Where a roster column's value goes in a [`Student`].
type Setter = fn(&mut Student) -> &mut String;
/// A column of the Moodle file: its header and what of a [`Student`] it shows.
type MoodleColumn = (&'static str, fn(&Student) -> &String);

/// Why a roster cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("reading the roster {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the roster {} has no `submission` column (its header: {header}); the column names the submission (the folder batch graded) of each student", path.display())]
    NoSubmissionColumn { path: PathBuf, header: String },
    #[error("the roster {} is empty: its first line must be a header", path.display())]
    Empty { path: PathBuf },
    #[error("the roster {}: a quoted field is never closed", path.display())]
    Unterminated { path: PathBuf },
}

/// One student of the roster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Student {
    /// The submission (the name `batch` graded it under) this student's grade comes from.
    pub submission: String,
    pub name: String,
    /// Canvas's user ID.
    pub canvas_id: String,
    pub sis_user_id: String,
    pub sis_login_id: String,
    pub section: String,
    pub email: String,
    /// Moodle's ID number.
    pub idnumber: String,
    pub username: String,
}

impl Student {
    /// How the TA recognises this student in a warning: the name, else the first identifier.
    pub fn label(&self) -> &str {
        [
            &self.name,
            &self.email,
            &self.sis_login_id,
            &self.sis_user_id,
            &self.idnumber,
            &self.username,
            &self.canvas_id,
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .map_or("(a student without name or identifier)", String::as_str)
    }
}

/// The TA's roster: which student handed in which submission.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roster {
    pub students: Vec<Student>,
    /// Columns that mean nothing here (listed, not silently ignored).
    pub ignored_columns: Vec<String>,
}

impl Roster {
    /// Reads a roster CSV file (see [`Roster::parse`]).
    pub fn read(path: &Path) -> Result<Roster, RosterError> {
        let text = std::fs::read_to_string(path).map_err(|source| RosterError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Roster::parse(&text, path)
    }

    /// Parses a roster: a header, then one row per student. Columns, by header (case, spaces,
    /// `_` and `-` do not matter): `submission` (required), `name` or `student`, `id` or
    /// `canvas_id`, `sis_user_id`, `sis_login_id`, `section`, `email` or `email address`,
    /// `idnumber` or `id number`, `username`. A Canvas gradebook export with a `submission`
    /// column added is a roster; its `Points Possible` row is skipped. Rows without a
    /// submission are students who handed nothing in.
    pub fn parse(text: &str, path: &Path) -> Result<Roster, RosterError> {
        let rows = crate::csv_read::rows(text.trim_start_matches('\u{feff}')).ok_or_else(|| {
            RosterError::Unterminated {
                path: path.to_path_buf(),
            }
        })?;
        let mut rows = rows.into_iter();
        let header = rows.next().ok_or_else(|| RosterError::Empty {
            path: path.to_path_buf(),
        })?;
        let mut columns: Vec<Option<Setter>> = Vec::new();
        let mut ignored_columns = Vec::new();
        let mut has_submission = false;
        for h in &header {
            let key: String = h
                .chars()
                .filter(|c| !matches!(c, ' ' | '_' | '-'))
                .flat_map(char::to_lowercase)
                .collect();
            has_submission |= key == "submission";
            let column: Option<Setter> = match key.as_str() {
                "submission" => Some(|s| &mut s.submission),
                "name" | "student" | "fullname" => Some(|s| &mut s.name),
                "id" | "canvasid" => Some(|s| &mut s.canvas_id),
                "sisuserid" => Some(|s| &mut s.sis_user_id),
                "sisloginid" => Some(|s| &mut s.sis_login_id),
                "section" => Some(|s| &mut s.section),
                "email" | "emailaddress" => Some(|s| &mut s.email),
                "idnumber" => Some(|s| &mut s.idnumber),
                "username" => Some(|s| &mut s.username),
                _ => None,
            };
            if column.is_none() && !h.trim().is_empty() {
                ignored_columns.push(h.trim().to_string());
            }
            columns.push(column);
        }
        if !has_submission {
            return Err(RosterError::NoSubmissionColumn {
                path: path.to_path_buf(),
                header: header.join(","),
            });
        }
        let mut students = Vec::new();
        for row in rows {
            if row.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let mut s = Student::default();
            for (cell, column) in row.iter().zip(&columns) {
                if let Some(column) = column {
                    *column(&mut s) = cell.trim().to_string();
                }
            }
            if s.name == "Points Possible" && s.submission.is_empty() {
                continue;
            }
            students.push(s);
        }
        Ok(Roster {
            students,
            ignored_columns,
        })
    }
}

/// The import files and what the TA must be told about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub canvas: String,
    /// `None` when the roster has no identifier Moodle can map (email, ID number, username).
    pub moodle: Option<String>,
    /// Graded or ungradable submissions that no roster row names.
    pub not_in_roster: Vec<String>,
    /// Roster students whose submission is not in the results (label, submission named).
    pub no_submission: Vec<(String, String)>,
    /// Roster students whose submission could not be graded (label, submission).
    pub ungraded: Vec<(String, String)>,
    /// Other things to say (a roster Canvas cannot match, ignored columns).
    pub notes: Vec<String>,
}

impl Export {
    /// The warnings, one line each, for stderr and the summary.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if !self.not_in_roster.is_empty() {
            w.push(format!(
                "{} not in the roster, so in no import file: {}",
                crate::words::counted(self.not_in_roster.len(), "submission"),
                self.not_in_roster.join(", ")
            ));
        }
        if !self.no_submission.is_empty() {
            let who: Vec<String> = self
                .no_submission
                .iter()
                .map(|(s, sub)| match sub.is_empty() {
                    true => s.clone(),
                    false => format!("{s} ({sub})"),
                })
                .collect();
            w.push(format!(
                "{} without a graded submission get an empty grade (no grade in Canvas or \
                 Moodle): {}",
                crate::words::counted(who.len(), "roster student"),
                who.join(", ")
            ));
        }
        if !self.ungraded.is_empty() {
            let who: Vec<String> = self
                .ungraded
                .iter()
                .map(|(s, sub)| format!("{s} ({sub})"))
                .collect();
            w.push(format!(
                "{} whose submission could not be graded get an empty grade: {}",
                crate::words::counted(who.len(), "roster student"),
                who.join(", ")
            ));
        }
        w.extend(self.notes.iter().cloned());
        w
    }
}

/// The import files for `rows` (a batch's results) and `roster`, the grade column headed
/// `assignment`.
pub fn export(rows: &[Row], roster: &Roster, assignment: &str) -> Export {
    let points = rows
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Graded(g) => Some(g.max_score),
            Entry::Error(_) => None,
        })
        .fold(0.0, f64::max);
    let mut no_submission = Vec::new();
    let mut ungraded = Vec::new();
    let grades: Vec<String> = roster
        .students
        .iter()
        .map(|s| match rows.iter().find(|r| r.name == s.submission) {
            Some(Row {
                entry: Entry::Graded(g),
                ..
            }) => number(g.score),
            Some(_) => {
                ungraded.push((s.label().to_string(), s.submission.clone()));
                String::new()
            }
            None => {
                no_submission.push((s.label().to_string(), s.submission.clone()));
                String::new()
            }
        })
        .collect();
    let not_in_roster: Vec<String> = rows
        .iter()
        .filter(|r| !roster.students.iter().any(|s| s.submission == r.name))
        .map(|r| r.name.clone())
        .collect();

    let mut canvas = format!(
        "Student,ID,SIS User ID,SIS Login ID,Section,{}\nPoints Possible,,,,,{}\n",
        field(assignment),
        number(points)
    );
    for (s, grade) in roster.students.iter().zip(&grades) {
        let _ = writeln!(
            canvas,
            "{},{},{},{},{},{grade}",
            field(&s.name),
            field(&s.canvas_id),
            field(&s.sis_user_id),
            field(&s.sis_login_id),
            field(&s.section)
        );
    }

    let mut notes = Vec::new();
    let has = |f: fn(&Student) -> &String| roster.students.iter().any(|s| !f(s).is_empty());
    if !has(|s| &s.canvas_id) && !has(|s| &s.sis_user_id) && !has(|s| &s.sis_login_id) {
        notes.push(format!(
            "the roster has no id, sis_user_id or sis_login_id column: Canvas matches the rows of \
             {CANVAS_FILE} to students by those"
        ));
    }
    let ids: [MoodleColumn; 4] = [
        ("Full name", |s| &s.name),
        ("Email address", |s| &s.email),
        ("ID number", |s| &s.idnumber),
        ("Username", |s| &s.username),
    ];
    let present: Vec<&MoodleColumn> = ids.iter().filter(|(_, f)| has(*f)).collect();
    let moodle = if present.iter().any(|(h, _)| *h != "Full name") {
        let mut csv: String = present
            .iter()
            .map(|(h, _)| h.to_string())
            .chain([field(assignment)])
            .collect::<Vec<_>>()
            .join(",");
        csv.push('\n');
        for (s, grade) in roster.students.iter().zip(&grades) {
            let mut line: Vec<String> = present.iter().map(|(_, f)| field(f(s))).collect();
            line.push(grade.clone());
            csv.push_str(&line.join(","));
            csv.push('\n');
        }
        Some(csv)
    } else {
        notes.push(format!(
            "no {MOODLE_FILE}: the roster has no email, idnumber or username column, which \
             Moodle's import maps students by"
        ));
        None
    };
    if !roster.ignored_columns.is_empty() {
        notes.push(format!(
            "roster columns not used: {}",
            roster.ignored_columns.join(", ")
        ));
    }
    Export {
        canvas,
        moodle,
        not_in_roster,
        no_submission,
        ungraded,
        notes,
    }
}

/// Writes the import files into `out` (a stale Moodle file is removed when this roster cannot
/// make one) and appends the roster section to `summary.md`, which
/// [`super::write_outputs`] has just written. Returns the export, for its warnings.
pub fn write(
    out: &Path,
    rows: &[Row],
    roster: &Roster,
    assignment: &str,
) -> Result<Export, super::BatchError> {
    let export = export(rows, roster, assignment);
    super::results::write_atomically(&out.join(CANVAS_FILE), export.canvas.as_bytes())?;
    match &export.moodle {
        Some(csv) => super::results::write_atomically(&out.join(MOODLE_FILE), csv.as_bytes())?,
        None => {
            let _ = std::fs::remove_file(out.join(MOODLE_FILE));
        }
    }
    let summary = out.join("summary.md");
    let mut md = std::fs::read_to_string(&summary).map_err(|source| super::BatchError::Io {
        action: "reading",
        path: summary.clone(),
        source,
    })?;
    let _ = writeln!(
        md,
        "\n## LMS import\n\n{}; {CANVAS_FILE}{} written, grade column \"{}\".\n",
        crate::words::counted(roster.students.len(), "roster student"),
        if export.moodle.is_some() {
            format!(" and {MOODLE_FILE}")
        } else {
            String::new()
        },
        assignment.replace(['\n', '\r'], " ")
    );
    for w in export.warnings() {
        let _ = writeln!(md, "- {}", w.replace(['\n', '\r'], " "));
    }
    super::results::write_atomically(&summary, md.as_bytes())?;
    Ok(export)
}

#[cfg(test)]
mod tests;

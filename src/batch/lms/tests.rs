//! The roster reader and the Canvas and Moodle writers, on synthetic results.

use super::*;
use crate::batch::record::Record;

fn graded(name: &str, score: f64) -> Row {
    Row {
        name: name.into(),
        entry: Entry::Graded(Box::new(Record {
            submission: name.into(),
            lab: Some("lab10".into()),
            score,
            max_score: 12.0,
            tests: vec![],
            total_ms: 0,
            key: None,
            key_parts: None,
            previous: None,
            score_before_penalty: None,
            late: None,
            collection: None,
            phases: None,
        })),
    }
}

fn results() -> Vec<Row> {
    vec![
        graded("alice", 12.0),
        graded("bob-and-carol", 7.5),
        Row {
            name: "dave".into(),
            entry: Entry::Error("cargo vanished".into()),
        },
        graded("stranger", 3.0),
    ]
}

const ROSTER: &str = "\u{feff}Name,SIS User ID,Email,Section,Submission,Notes\r\n\
    \"Lovelace, Ada\",s1,ada@uni.edu,A,alice,\r\n\
    Bob,s2,bob@uni.edu,A,bob-and-carol,group\r\n\
    Carol,s3,carol@uni.edu,B,bob-and-carol,group\r\n\
    Dave,s4,dave@uni.edu,B,dave,\r\n\
    =HYPERLINK(\"http://x\"),s5,-eve@uni.edu,B,,\r\n\
    Frank,s6,frank@uni.edu,B,frank\r\n";

fn roster() -> Roster {
    Roster::parse(ROSTER, Path::new("roster.csv")).unwrap()
}

#[test]
fn the_roster_is_read_by_header_names() {
    let r = roster();
    assert_eq!(r.students.len(), 6);
    assert_eq!(r.students[0].name, "Lovelace, Ada");
    assert_eq!(r.students[0].sis_user_id, "s1");
    assert_eq!(r.students[0].email, "ada@uni.edu");
    assert_eq!(r.students[2].submission, "bob-and-carol");
    assert_eq!(r.students[4].submission, "");
    assert_eq!(r.ignored_columns, ["Notes"]);
    let err = Roster::parse("name,email\nx,y\n", Path::new("r.csv")).unwrap_err();
    assert!(err.to_string().contains("no `submission` column"), "{err}");
    assert!(Roster::parse("", Path::new("r.csv")).is_err());
    assert!(Roster::parse("submission\n\"open\n", Path::new("r.csv")).is_err());
}

#[test]
fn a_canvas_export_with_a_submission_column_is_a_roster() {
    let export = "Student,ID,SIS User ID,SIS Login ID,Section,Lab 10 (77),submission\n\
                  \"    Points Possible\",,,,,12,\n\
                  \"Lovelace, Ada\",101,s1,ada,A,,alice\n";
    let r = Roster::parse(export, Path::new("grades.csv")).unwrap();
    assert_eq!(r.students.len(), 1, "{r:?}");
    assert_eq!(
        (
            r.students[0].canvas_id.as_str(),
            r.students[0].sis_login_id.as_str()
        ),
        ("101", "ada")
    );
    assert_eq!(r.ignored_columns, ["Lab 10 (77)"]);
}

#[test]
fn canvas_gets_one_row_per_student_and_a_points_possible_row() {
    let e = export(&results(), &roster(), "Lab 10 (12345)");
    assert_eq!(
        e.canvas,
        "Student,ID,SIS User ID,SIS Login ID,Section,Lab 10 (12345)\n\
         Points Possible,,,,,12\n\
         \"Lovelace, Ada\",,s1,,A,12\n\
         Bob,,s2,,A,7.5\n\
         Carol,,s3,,B,7.5\n\
         Dave,,s4,,B,\n\
         \"'=HYPERLINK(\"\"http://x\"\")\",,s5,,B,\n\
         Frank,,s6,,B,\n"
    );
    assert_eq!(e.not_in_roster, ["stranger"]);
    assert_eq!(
        e.no_submission,
        [
            ("=HYPERLINK(\"http://x\")".to_string(), String::new()),
            ("Frank".to_string(), "frank".to_string())
        ]
    );
    assert_eq!(e.ungraded, [("Dave".to_string(), "dave".to_string())]);
    let w = e.warnings().join("\n");
    assert!(
        w.contains("1 submission not in the roster, so in no import file: stranger"),
        "{w}"
    );
    assert!(w.contains("Frank (frank)"), "{w}");
    assert!(
        w.contains("could not be graded get an empty grade: Dave (dave)"),
        "{w}"
    );
    assert!(w.contains("roster columns not used: Notes"), "{w}");
}

#[test]
fn moodle_gets_the_identifiers_the_roster_has_and_one_grade_column() {
    let e = export(&results(), &roster(), "Lab 10");
    assert_eq!(
        e.moodle.as_deref(),
        Some(
            "Full name,Email address,Lab 10\n\
             \"Lovelace, Ada\",ada@uni.edu,12\n\
             Bob,bob@uni.edu,7.5\n\
             Carol,carol@uni.edu,7.5\n\
             Dave,dave@uni.edu,\n\
             \"'=HYPERLINK(\"\"http://x\"\")\",'-eve@uni.edu,\n\
             Frank,frank@uni.edu,\n"
        )
    );
    // Without an identifier Moodle can map, no Moodle file, and the TA is told why.
    let names_only = Roster::parse("name,submission\nAda,alice\n", Path::new("r.csv")).unwrap();
    let e = export(&results(), &names_only, "Lab 10");
    assert!(e.moodle.is_none());
    let w = e.warnings().join("\n");
    assert!(w.contains("no moodle-grades.csv"), "{w}");
    assert!(w.contains("Canvas matches the rows"), "{w}");
}

#[test]
fn the_files_and_the_summary_section_are_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("summary.md"), "# Batch summary\n").unwrap();
    std::fs::write(dir.path().join(MOODLE_FILE), "stale").unwrap();
    let names_only = Roster::parse("name,submission\nAda,alice\n", Path::new("r.csv")).unwrap();
    write(dir.path(), &results(), &names_only, "Lab 10").unwrap();
    assert!(dir.path().join(CANVAS_FILE).is_file());
    assert!(!dir.path().join(MOODLE_FILE).exists());
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        md.contains("## LMS import\n\n1 roster student; canvas-grades.csv written"),
        "{md}"
    );
    assert!(md.contains("- 3 submissions not in the roster"), "{md}");
}

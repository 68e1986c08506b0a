//! End-to-end: what TAs do with a batch's results. `labgrade batch --roster` writes the Canvas
//! and Moodle import files and lists who is missing on either side; `merge --roster` writes the
//! same files from shards; `summary.md` and `index.html` say what the class got wrong; a
//! regrade after a grader fix lists in `changes.csv` the tests whose verdicts moved, dropped
//! scores first, and counts the regrades that changed nothing.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use serde_json::Value;
use tempfile::TempDir;

/// Fixtures with deterministic verdicts under the quick spec; `stranger` (a copy of `empty`)
/// is in no roster.
const SUBMISSIONS: [(&str, &str); 4] = [
    ("reference", "reference"),
    ("off_by_one", "off_by_one"),
    ("missing_counter", "missing_counter"),
    ("stranger", "empty"),
];

/// Ada handed in `reference`; Bob and Carol `off_by_one` together; Dave `missing_counter`;
/// Frank names a submission that is not there; Eve handed in nothing (and has a hostile name).
const ROSTER: &str = "name,sis_user_id,email,section,submission\n\
    \"Lovelace, Ada\",s1,ada@uni.edu,A,reference\n\
    Bob,s2,bob@uni.edu,A,off_by_one\n\
    Carol,s3,carol@uni.edu,B,off_by_one\n\
    Dave,s4,dave@uni.edu,B,missing_counter\n\
    =cmd|' /C calc'!A0,s5,eve@uni.edu,B,\n\
    Frank,s6,frank@uni.edu,B,frank\n";

struct Batch {
    root: TempDir,
    roster: PathBuf,
    out: PathBuf,
    stderr: String,
}

/// One batch with the roster, graded once per run of this test binary.
fn batch() -> &'static Batch {
    static RUN: OnceLock<Batch> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        for (name, fixture_name) in SUBMISSIONS {
            copy_dir(&fixture(fixture_name), &root.path().join(name));
        }
        let roster = Path::new(env!("CARGO_TARGET_TMPDIR")).join("roster-for-tas.csv");
        std::fs::write(&roster, ROSTER).unwrap();
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("results-for-tas");
        let _ = std::fs::remove_dir_all(&out);
        let done = labgrade()
            .args(["batch", "--jobs", "2", "--spec"])
            .arg(quick_spec())
            .arg(root.path())
            .arg("--out")
            .arg(&out)
            .arg("--roster")
            .arg(&roster)
            .args(["--assignment", "Lab 10 (4242)"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
        assert_eq!(done.status.code(), Some(0), "{stderr}");
        Batch {
            root,
            roster,
            out,
            stderr,
        }
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `submission -> score` from gradebook.csv (its first two columns).
fn scores(out: &Path) -> Vec<(String, String)> {
    read(&out.join("gradebook.csv"))
        .lines()
        .skip(1)
        .map(|l| {
            let mut cells = l.split(',');
            (
                cells.next().unwrap().to_string(),
                cells.next().unwrap().to_string(),
            )
        })
        .collect()
}

fn score_of(out: &Path, name: &str) -> String {
    scores(out)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not in the gradebook"))
        .1
}

fn max_score(out: &Path) -> String {
    let json: Value = serde_json::from_str(&read(&out.join("reference.json"))).unwrap();
    json["max_score"]
        .to_string()
        .trim_end_matches(".0")
        .to_string()
}

#[test]
fn a_batch_with_a_roster_writes_canvas_and_moodle_imports_and_lists_who_is_missing() {
    let Batch { out, stderr, .. } = batch();
    let (ada, bob, dave) = (
        score_of(out, "reference"),
        score_of(out, "off_by_one"),
        score_of(out, "missing_counter"),
    );
    assert_eq!(ada, max_score(out), "the reference gets full marks");
    assert_eq!(
        read(&out.join("canvas-grades.csv")),
        format!(
            "Student,ID,SIS User ID,SIS Login ID,Section,Lab 10 (4242)\n\
             Points Possible,,,,,{max}\n\
             \"Lovelace, Ada\",,s1,,A,{ada}\n\
             Bob,,s2,,A,{bob}\n\
             Carol,,s3,,B,{bob}\n\
             Dave,,s4,,B,{dave}\n\
             '=cmd|' /C calc'!A0,,s5,,B,\n\
             Frank,,s6,,B,\n",
            max = max_score(out)
        )
    );
    assert_eq!(
        read(&out.join("moodle-grades.csv")),
        format!(
            "Full name,Email address,Lab 10 (4242)\n\
             \"Lovelace, Ada\",ada@uni.edu,{ada}\n\
             Bob,bob@uni.edu,{bob}\n\
             Carol,carol@uni.edu,{bob}\n\
             Dave,dave@uni.edu,{dave}\n\
             '=cmd|' /C calc'!A0,eve@uni.edu,\n\
             Frank,frank@uni.edu,\n"
        )
    );
    assert!(
        stderr.contains("wrote canvas-grades.csv and moodle-grades.csv for 6 roster students"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: 1 submission not in the roster, so in no import file: stranger"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 roster students without a graded submission get an empty grade"),
        "{stderr}"
    );
    assert!(stderr.contains("Frank (frank)"), "{stderr}");
    let summary = read(&out.join("summary.md"));
    assert!(
        summary.contains("## LMS import\n\n6 roster students"),
        "{summary}"
    );
    assert!(
        summary.contains("- 1 submission not in the roster"),
        "{summary}"
    );
}

#[test]
fn summary_and_index_say_what_the_class_got_wrong() {
    let Batch { out, .. } = batch();
    let summary = read(&out.join("summary.md"));
    let class = summary
        .split("## What the class got wrong\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no class section:\n{summary}"));
    // Of four submissions, two failed a pool-sum test (off_by_one and the empty `stranger`)
    // and two a counter test (missing_counter has none, nor has `stranger`).
    assert!(
        class.contains("| pool-sum | 2 / 4 |\n| counter | 2 / 4 |"),
        "{summary}"
    );
    assert!(
        class.contains("| counter | output | safe p=1 k=1000 | 2 / 4 |"),
        "{summary}"
    );
    // Ranked by submissions, then by failed tests: the empty submission fails all 13.
    assert!(
        class.contains("1. **unusable_submission**: 1 submission, 13 tests. Nothing gradable"),
        "{summary}"
    );
    assert!(
        class.contains("**wrong_output**: 1 submission, 5 tests. The printed total is wrong"),
        "{summary}"
    );
    assert!(
        class.contains("**missing_binary**: 1 submission, 3 tests. A program was missing"),
        "{summary}"
    );
    assert!(
        class.contains("   Submissions: missing_counter\n"),
        "{summary}"
    );
    let index = read(&out.join("index.html"));
    assert!(index.contains("<h2>What the class got wrong</h2>"));
    assert!(
        index.contains("<code>missing_binary</code>: 1 submission, 3 tests"),
        "{index}"
    );
}

#[test]
fn merging_shards_with_the_roster_writes_the_same_imports() {
    let Batch {
        out: full, roster, ..
    } = batch();
    // Two shards, as `batch --shard` leaves them: some results each, and a gradebook.
    let shards: Vec<TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, (name, _)) in SUBMISSIONS.iter().enumerate() {
        let file = format!("{name}.json");
        std::fs::copy(full.join(&file), shards[i % 2].path().join(&file)).unwrap();
    }
    for s in &shards {
        std::fs::copy(full.join("gradebook.csv"), s.path().join("gradebook.csv")).unwrap();
    }
    let merged = tempfile::tempdir().unwrap();
    labgrade()
        .arg("merge")
        .args(shards.iter().map(|d| d.path()))
        .arg("--out")
        .arg(merged.path())
        .arg("--roster")
        .arg(roster)
        .args(["--assignment", "Lab 10 (4242)"])
        .assert()
        .success();
    for file in ["canvas-grades.csv", "moodle-grades.csv"] {
        assert_eq!(
            read(&merged.path().join(file)),
            read(&full.join(file)),
            "{file}"
        );
    }
    // A shard alone would list the other shards' students as missing: refused before grading.
    let refused = labgrade()
        .args(["batch", "--shard", "0/2", "--roster"])
        .arg(roster)
        .arg(batch().root.path())
        .arg("--out")
        .arg(merged.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--shard"));
}

/// Rewrites `name`'s result in `out` as an older, buggy grader would have written it: another
/// grader version in its key, and `edit` applied to its tests.
fn as_if_an_older_grader(out: &Path, name: &str, mut edit: impl FnMut(&mut Vec<Value>)) {
    let path = out.join(format!("{name}.json"));
    let mut json: Value = serde_json::from_str(&read(&path)).unwrap();
    json["key_parts"]["grader"] = Value::from("0.0.1-buggy");
    let tests = json["tests"].as_array_mut().unwrap();
    edit(tests);
    let score: f64 = tests.iter().map(|t| t["score"].as_f64().unwrap()).sum();
    json["score"] = Value::from(score);
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

#[test]
fn a_regrade_after_a_grader_fix_lists_the_moved_verdicts_drops_first() {
    let Batch {
        root, out: full, ..
    } = batch();
    let out = tempfile::tempdir().unwrap();
    for (name, _) in SUBMISSIONS {
        let file = format!("{name}.json");
        std::fs::copy(full.join(&file), out.path().join(&file)).unwrap();
    }
    // The old grader passed off_by_one's failed tests (its score drops now) ...
    as_if_an_older_grader(out.path(), "off_by_one", |tests| {
        for t in tests.iter_mut().filter(|t| t["status"] == "fail") {
            t["status"] = Value::from("pass");
            t["score"] = t["max_score"].clone();
            t["reason"] = Value::Null;
        }
    });
    // ... failed a test of missing_counter that passes (its score rises) ...
    let mut raised = String::new();
    as_if_an_older_grader(out.path(), "missing_counter", |tests| {
        let t = tests
            .iter_mut()
            .find(|t| t["status"] == "pass" && t["max_score"].as_f64() > Some(0.0))
            .unwrap();
        raised = format!(
            "{}/{}",
            t["exercise"].as_str().unwrap(),
            t["name"].as_str().unwrap()
        );
        t["status"] = Value::from("fail");
        t["score"] = Value::from(0.0);
        t["reason"] = Value::from("wrong_output");
    });
    // ... and gave the reference the same verdicts: only the grader version changed.
    as_if_an_older_grader(out.path(), "reference", |_| {});

    let done = labgrade()
        .args(["batch", "--jobs", "2", "--spec"])
        .arg(quick_spec())
        .arg(root.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    assert_eq!(done.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("2 scores changed since the previous grading, 1 dropped (listed first)"),
        "{stderr}"
    );
    assert!(stderr.contains("off_by_one: "), "{stderr}");
    assert!(
        stderr.contains(
            "off_by_one: 10 -> 5 / 10 (-5; grader changed) DROPPED [grader 0.0.1-buggy -> "
        ),
        "{stderr}"
    );

    let csv = read(&out.path().join("changes.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "submission,previous_score,score,delta,changed,dropped,tests_changed,previous_grader,\
         grader,previous_spec,spec"
    );
    assert_eq!(
        lines.len(),
        3,
        "the reference moved nothing, so it is not listed:\n{csv}"
    );
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0], "off_by_one", "{csv}");
    assert_eq!((first[4], first[5]), ("grader", "yes"), "{csv}");
    assert!(first[6].contains(": pass -> fail (wrong_output)"), "{csv}");
    assert_eq!(first[7], "0.0.1-buggy", "{csv}");
    assert_eq!(first[8], env!("CARGO_PKG_VERSION"), "{csv}");
    // Only the grader changed: the spec hash is the same on both sides.
    assert!(!first[9].is_empty() && first[9] == first[10], "{csv}");
    assert!(lines[2].starts_with("missing_counter,"), "{csv}");
    assert!(
        lines[2].contains(&format!("{raised}: fail (wrong_output) -> pass")),
        "{csv}"
    );
    assert!(!lines[2].contains(",yes,"), "{csv}");

    let summary = read(&out.path().join("summary.md"));
    assert!(
        summary.contains(
            "3 submissions graded again (3 after a grader change): 2 changed (changes.csv), \
             1 unchanged in score and every verdict."
        ),
        "{summary}"
    );
    assert!(
        summary.contains("Scores that dropped:\n\n- off_by_one: "),
        "{summary}"
    );
}

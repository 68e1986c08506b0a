//! End-to-end: the spec's deadline and late policy. Submissions whose times the test controls
//! (Gradescope's `submission_metadata.json`, a git commit with a set date, file times set with
//! `File::set_modified`) graded by `batch` and `grade`; the student's countdown with
//! deadlines far in the past and the future, so no assertion depends on today's date.

use labgrade::exit::Exit;

mod common;

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use serde_json::Value;

/// The deadline of `tests/specs/deadline.toml`, 2026-12-01T22:00:00-05:00, in Unix seconds.
const DUE: u64 = 1_796_180_400;

fn deadline_spec() -> std::path::PathBuf {
    root().join("tests/specs/deadline.toml")
}

/// A copy of the reference solution at `dir`.
fn reference_at(dir: &Path) {
    copy_dir(&fixture("reference"), dir);
}

fn metadata(dir: &Path, created_at: &str) {
    std::fs::write(
        dir.join("submission_metadata.json"),
        format!(
            r#"{{"id": 1, "created_at": "{created_at}", "assignment": {{"title": "Lab 10"}}}}"#
        ),
    )
    .unwrap();
}

/// Sets the modification time of every file under `dir` to `unix_s`.
fn set_file_times(dir: &Path, unix_s: u64) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            set_file_times(&path, unix_s);
        } else {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(UNIX_EPOCH + Duration::from_secs(unix_s))
                .unwrap();
        }
    }
}

/// Makes `dir` a git repository with one commit dated `date`; false when git is missing.
fn commit(dir: &Path, date: &str) -> bool {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_AUTHOR_NAME", "Student")
            .env("GIT_AUTHOR_EMAIL", "student@example.com")
            .env("GIT_COMMITTER_NAME", "Student")
            .env("GIT_COMMITTER_EMAIL", "student@example.com")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    git(&["init", "-q"]) && git(&["add", "-A"]) && git(&["commit", "-q", "-m", "lab 10"])
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn batch(root: &Path, out: &Path) -> String {
    let done = labgrade()
        .args(["batch", "--jobs", "1", "--spec"])
        .arg(deadline_spec())
        .arg(root)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    assert_eq!(done.status.code(), Some(Exit::Pass.code()), "{stderr}");
    stderr
}

#[test]
fn batch_applies_the_late_policy_from_each_submissions_own_time() {
    let root = tempfile::tempdir().unwrap();
    let at = |name: &str| {
        let dir = root.path().join(name);
        reference_at(&dir);
        dir
    };
    // `batch` has no Gradescope metadata: file times (and git) are the sources. A metadata
    // file inside a submission is the student's own claim, and ignored.
    set_file_times(&at("early"), DUE - 60);
    set_file_times(&at("grace"), DUE + 600);
    let late2d = at("late2d");
    metadata(&late2d, "2026-12-01T21:00:00-05:00");
    set_file_times(&late2d, DUE + 136_800);
    let git = at("git3h");
    let with_git = commit(&git, "2026-12-02T01:00:00-05:00");
    if !with_git {
        skip("git3h: git is not installed");
        std::fs::remove_dir_all(&git).unwrap();
    }
    let stale = at("mtime");
    set_file_times(&stale, DUE + 8 * 86_400);

    let out = root.path().join("results");
    let stderr = batch(root.path(), &out);
    let mut expected = String::from(
        "submission,score,max_score,pool-sum,tests_passed,tests_total,status,submitted_at,\
         late_by_s,late_penalty\n\
         early,10,10,10,3,3,graded,2026-12-01T21:59:00-05:00,0,0\n",
    );
    if with_git {
        expected.push_str("git3h,9,10,10,3,3,graded,2026-12-02T01:00:00-05:00,10800,1\n");
    }
    expected.push_str(
        "grace,10,10,10,3,3,graded,2026-12-01T22:10:00-05:00,600,0\n\
         late2d,8,10,10,3,3,graded,2026-12-03T12:00:00-05:00,136800,2\n\
         mtime,5,10,10,3,3,graded,2026-12-09T22:00:00-05:00,691200,5\n",
    );
    assert_eq!(read(&out.join("gradebook.csv")), expected, "{stderr}");
    assert!(
        stderr.contains("late2d: 8 / 10, 20% late penalty"),
        "{stderr}"
    );

    let json: Value = serde_json::from_str(&read(&out.join("late2d.json"))).unwrap();
    assert_eq!(
        (json["score"].as_f64(), json["max_score"].as_f64()),
        (Some(8.0), Some(10.0))
    );
    assert_eq!(json["score_before_penalty"], 10.0);
    assert_eq!(json["late"]["source"], "file_times");
    assert!(
        json["late"]["skipped_sources"][0]
            .as_str()
            .is_some_and(|s| s.contains("written by the student, so ignored")),
        "{json}"
    );
    assert_eq!(json["late"]["late_by_s"], 136_800);
    assert_eq!(json["late"]["penalty_fraction"], 0.2);
    assert_eq!(json["late"]["due"], "2026-12-01T22:00:00-05:00");
    assert_eq!(
        json["tests"][1]["score"], 5.0,
        "tests keep their own points"
    );
    // The metadata file is reported as ignored by the late policy, not again as an extra file.
    assert_eq!(json["warnings"], serde_json::json!([]));
    let json: Value = serde_json::from_str(&read(&out.join("mtime.json"))).unwrap();
    assert_eq!(json["late"]["source"], "file_times");
    let json: Value = serde_json::from_str(&read(&out.join("grace.json"))).unwrap();
    assert_eq!(json["late"]["within_grace"], true);
    if with_git {
        let json: Value = serde_json::from_str(&read(&out.join("git3h.json"))).unwrap();
        assert_eq!(json["late"]["source"], "git");
    }
    let summary = read(&out.join("summary.md"));
    assert!(summary.contains("## Late submissions"), "{summary}");
    assert!(
        summary.contains(
            "| mtime | 2026-12-09T22:00:00-05:00 | 8 days | file_times | 50% (5 points) |"
        ),
        "{summary}"
    );

    // The submission time is part of the key: new file times regrade that submission only,
    // and the score change says why.
    set_file_times(&stale, DUE - 3600);
    let stderr = batch(root.path(), &out);
    assert!(
        stderr.contains("already graded with this spec and grader: kept; grading 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mtime: 5 -> 10 / 10 (+5; submission time changed)"),
        "{stderr}"
    );
    assert!(read(&out.join("changes.csv")).contains("mtime,5,10,+5,submission time,,"));
}

#[test]
fn grade_takes_gradescopes_metadata_from_where_gradescope_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let submission = dir.path().join("submission");
    reference_at(&submission);
    // /autograder/submission_metadata.json sits beside the submission, not in it.
    metadata(dir.path(), "2026-12-02T03:30:00Z");
    let out = labgrade()
        .arg("grade")
        .arg(&submission)
        .arg("--spec")
        .arg(deadline_spec())
        .arg("--submission-metadata")
        .arg(dir.path().join("submission_metadata.json"))
        .args(["--format", "json", "--report"])
        .arg(format!("human={}", dir.path().join("report.txt").display()))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["score"], 9.0);
    assert_eq!(json["score_before_penalty"], 10.0);
    assert_eq!(json["late"]["submitted_at"], "2026-12-01T22:30:00-05:00");
    assert_eq!(json["late"]["source"], "gradescope");
    let human = read(&dir.path().join("report.txt"));
    assert!(
        human.contains("Score: 9 / 10  (")
            && human.contains(
                "Handed in 30 minutes late (Tuesday 1 December 2026, 22:30 (UTC-05:00), per \
             Gradescope's submission time, which students cannot set): a 10% late penalty, 10 → 9 / 10 points."
            ),
        "{human}"
    );
}

/// `labgrade check` of the reference against the deadline spec with `due` replaced.
fn check_with_due(due: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    let text =
        read(&deadline_spec()).replace("due = 2026-12-01T22:00:00-05:00", &format!("due = {due}"));
    std::fs::write(&spec, text).unwrap();
    let out = labgrade()
        .arg("check")
        .arg(fixture("reference"))
        .arg("--spec")
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_check_counts_down_to_the_deadline_and_names_the_penalty_after_it() {
    let future = check_with_due("2100-12-01T22:00:00-05:00");
    let line = future
        .lines()
        .find(|l| l.starts_with("Due "))
        .unwrap_or_default();
    assert!(
        line.starts_with("Due Wednesday 1 December 2100, 22:00 (UTC-05:00), in ")
            && line.contains(" days"),
        "{future}"
    );
    let past = check_with_due("2000-01-01T00:00:00Z");
    let line = past
        .lines()
        .find(|l| l.starts_with("Past due"))
        .unwrap_or_default();
    assert!(
        line.starts_with("Past due by ")
            && line.ends_with(
                " (due Saturday 1 January 2000, 00:00 (UTC)): a 50% penalty applies (10% per \
                 started day late, at most 50%; 15 minutes of grace)"
            ),
        "{past}"
    );
    // The check itself has no late policy applied: its score is what the tests earned.
    assert!(
        past.contains("All 3 tests passed: 10 / 10 points."),
        "{past}"
    );
}

#[test]
fn spec_check_shows_the_deadline_as_students_read_it_and_refuses_a_local_one() {
    let out = labgrade()
        .args(["spec", "check"])
        .arg(deadline_spec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Pass.code()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "  due Tuesday 1 December 2026, 22:00 (UTC-05:00); 10% per started day late, at \
             most 50%; 15 minutes of grace"
        ),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.toml");
    std::fs::write(
        &local,
        read(&deadline_spec()).replace("22:00:00-05:00", "22:00:00"),
    )
    .unwrap();
    let out = labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .arg("--spec")
        .arg(&local)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("local.toml:10:7: error: `due` = 2026-12-01T22:00:00: a date and time without a UTC offset"),
        "{err}"
    );
}

#[test]
fn a_hostile_submission_tree_is_graded_without_running_or_opening_what_it_plants() {
    let dir = tempfile::tempdir().unwrap();
    let submission = dir.path().join("submission");
    reference_at(&submission);
    if !commit(&submission, "2026-12-01T23:00:00-05:00") {
        panic!("git is needed for the git time source and is not installed");
    }
    // The repository's config names a program for git to run; a marker says if it ran.
    let marker = dir.path().join("ran");
    let script = dir.path().join("fsmonitor.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = submission.join(".git/config");
    let mut text = read(&config);
    text.push_str(&format!(
        "[core]\n\tfsmonitor = {0}\n\tpager = {0}\n",
        script.display()
    ));
    std::fs::write(&config, text).unwrap();
    // A metadata file that is endless, and a FIFO among the sources: neither may be opened.
    std::os::unix::fs::symlink("/dev/zero", submission.join("submission_metadata.json")).unwrap();
    let fifo = submission.join("src/bin/notes.rs");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());

    let out = labgrade()
        .arg("grade")
        .arg(&submission)
        .arg("--spec")
        .arg(deadline_spec())
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(Exit::Pass.code()), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["late"]["source"], "git");
    assert_eq!(json["late"]["submitted_at"], "2026-12-01T23:00:00-05:00");
    assert!(
        json["late"]["skipped_sources"][0]
            .as_str()
            .is_some_and(|s| s.contains("written by the student, so ignored")),
        "{json}"
    );
    assert!(
        json["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "src/bin/notes.rs is not a regular file: not copied"),
        "{json}"
    );
    assert!(!marker.exists(), "git ran the student's fsmonitor");
}

/// The deadline spec with `due` in New York's named zone (the same instant, 22:00 EST), in
/// `dir`, plus `extra` lines in its `[deadline]`.
fn zoned_spec(dir: &Path, extra: &str) -> std::path::PathBuf {
    let spec = dir.join("zoned.toml");
    let text = read(&deadline_spec()).replace(
        "due = 2026-12-01T22:00:00-05:00",
        &format!("due = \"2026-12-01T22:00[America/New_York]\"\n{extra}"),
    );
    std::fs::write(&spec, text).unwrap();
    spec
}

#[test]
fn batch_applies_the_tas_extensions_and_the_reports_show_them() {
    let root = tempfile::tempdir().unwrap();
    let submissions = root.path().join("submissions");
    // Both handed in on Thursday 3 December, 10:00 EST: a day and a half late.
    let thursday = DUE + 36 * 3600;
    for name in ["alice", "bob"] {
        let dir = submissions.join(name);
        reference_at(&dir);
        set_file_times(&dir, thursday);
    }
    // A file in a submission is the student's: it extends nothing.
    let planted = submissions.join("bob/extensions.csv");
    std::fs::write(&planted, "submission,due\nbob,2030-01-01T00:00:00Z\n").unwrap();
    set_file_times(&submissions.join("bob"), thursday);
    let extensions = root.path().join("extensions.csv");
    std::fs::write(
        &extensions,
        "submission,due\n# approved 2026-11-28\nalice,2026-12-03T22:00[America/New_York]\n\
         carol,2026-12-03T22:00:00-05:00\n",
    )
    .unwrap();
    let spec = zoned_spec(root.path(), "");
    let out = root.path().join("results");
    let done = labgrade()
        .args(["batch", "--jobs", "1", "--spec"])
        .arg(&spec)
        .arg(&submissions)
        .arg("--out")
        .arg(&out)
        .arg("--extensions")
        .arg(&extensions)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    assert_eq!(done.status.code(), Some(0), "{stderr}");
    // A row for no submission is a warning with its line: a typo must not pass silently.
    assert!(
        stderr.contains("extensions.csv:4: no submission `carol`: its extension applies to no one"),
        "{stderr}"
    );
    assert_eq!(
        read(&out.join("gradebook.csv")),
        "submission,score,max_score,pool-sum,tests_passed,tests_total,status,submitted_at,\
         late_by_s,late_penalty,extended_to\n\
         alice,10,10,10,3,3,graded,2026-12-03T10:00:00-05:00,0,0,2026-12-03T22:00:00-05:00\n\
         bob,8,10,10,3,3,graded,2026-12-03T10:00:00-05:00,129600,2,\n",
        "{stderr}"
    );
    let alice: Value = serde_json::from_str(&read(&out.join("alice.json"))).unwrap();
    assert_eq!(alice["score"], 10.0);
    assert_eq!(alice["late"]["due"], "2026-12-01T22:00:00-05:00");
    assert_eq!(alice["late"]["extended_to"], "2026-12-03T22:00:00-05:00");
    assert_eq!(alice["late"]["time_zone"], "America/New_York");
    assert_eq!(alice["late"]["late_by_s"], 0);
    let bob: Value = serde_json::from_str(&read(&out.join("bob.json"))).unwrap();
    assert_eq!(bob["late"]["extended_to"], Value::Null);
    assert_eq!(bob["late"]["penalty_fraction"], 0.2);
    let summary = read(&out.join("summary.md"));
    assert!(
        summary.contains(
            "Extended deadlines (the TA's extensions file): alice (to \
             2026-12-03T22:00:00-05:00, on time)."
        ),
        "{summary}"
    );
    let html = read(&out.join("alice.html"));
    assert!(
        html.contains(
            "Extended to 2026-12-03 22:00 EST, handed in on time (Thursday 3 December \
             2026, 10:00 EST (America/New_York)"
        ),
        "{html}"
    );
    // The extension is part of alice's key: taking it back regrades her alone, and says why.
    std::fs::write(&extensions, "submission,due\n").unwrap();
    let done = labgrade()
        .args(["batch", "--jobs", "1", "--spec"])
        .arg(&spec)
        .arg(&submissions)
        .arg("--out")
        .arg(&out)
        .arg("--extensions")
        .arg(&extensions)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    assert!(stderr.contains("kept; grading 1"), "{stderr}");
    assert!(
        stderr.contains("alice: 10 -> 8 / 10 (-2; extension changed)"),
        "{stderr}"
    );
}

#[test]
fn grade_reads_the_specs_extensions_file_and_refuses_a_bad_one_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let submission = dir.path().join("alice");
    reference_at(&submission);
    // Monday 7 December, 09:00 EST: five and a half days late, but alice has until the 8th.
    metadata(dir.path(), "2026-12-07T14:00:00Z");
    std::fs::write(
        dir.path().join("ext.csv"),
        "submission,due\nalice,2026-12-08T22:00\n",
    )
    .unwrap();
    let spec = zoned_spec(dir.path(), "extensions = \"ext.csv\"");
    let grade = |spec: &Path| {
        labgrade()
            .arg("grade")
            .arg(&submission)
            .arg("--spec")
            .arg(spec)
            .arg("--submission-metadata")
            .arg(dir.path().join("submission_metadata.json"))
            .output()
            .unwrap()
    };
    let out = grade(&spec);
    let human = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{human}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        human.contains(
            "Extended to 2026-12-08 22:00 EST, handed in on time (Monday 7 December 2026, 09:00 \
             EST (America/New_York), per Gradescope's submission time"
        ),
        "{human}"
    );
    assert!(human.contains("10 / 10"), "{human}");
    let out = labgrade()
        .args(["spec", "check"])
        .arg(&spec)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  extensions: 1 submission from ") && text.contains("ext.csv\n"),
        "{text}"
    );
    // A duplicate row is the grader's error, naming the file's line.
    std::fs::write(
        dir.path().join("ext.csv"),
        "submission,due\nalice,2026-12-08T22:00\nalice,2026-12-09T22:00\n",
    )
    .unwrap();
    let out = grade(&spec);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ext.csv:3: `alice` again (first on line 2): keep one row per submission"),
        "{err}"
    );
    // A student's check with the course's spec needs no TA file, and applies none.
    std::fs::remove_file(dir.path().join("ext.csv")).unwrap();
    let out = labgrade()
        .arg("check")
        .arg(&submission)
        .arg("--spec")
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And grading without it is an error that names it.
    let out = grade(&spec);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ext.csv: "), "{err}");
}

#[test]
fn a_named_zone_deadline_after_the_dst_change_is_at_its_own_offset() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("march.toml");
    // Monday 9 March 2026, the day after New York moved to EDT (UTC-4): 22:00 is 02:00Z.
    std::fs::write(
        &spec,
        read(&deadline_spec()).replace(
            "due = 2026-12-01T22:00:00-05:00",
            "due = \"2026-03-09T22:00[America/New_York]\"",
        ),
    )
    .unwrap();
    let out = labgrade()
        .args(["spec", "check"])
        .arg(&spec)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  due Monday 9 March 2026, 22:00 EDT (America/New_York); 10% per"),
        "{text}"
    );
    let submission = dir.path().join("submission");
    reference_at(&submission);
    // 02:30Z is 22:30 EDT: 30 minutes late, past the 15 minutes' grace. (Read at the
    // winter offset, -05:00, it would have been 21:30 and on time.)
    metadata(dir.path(), "2026-03-10T02:30:00Z");
    let out = labgrade()
        .arg("grade")
        .arg(&submission)
        .arg("--spec")
        .arg(&spec)
        .arg("--submission-metadata")
        .arg(dir.path().join("submission_metadata.json"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["late"]["due"], "2026-03-09T22:00:00-04:00");
    assert_eq!(json["late"]["time_zone"], "America/New_York");
    assert_eq!(json["late"]["submitted_at"], "2026-03-09T22:30:00-04:00");
    assert_eq!(json["late"]["late_by_s"], 1800);
    assert_eq!(json["late"]["penalty_fraction"], 0.1);
}

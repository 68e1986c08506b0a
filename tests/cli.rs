//! End-to-end: the command line's contract (CONTRACT §2): exit codes, one-line errors, `check`,
//! `spec check`, `batch` and its gradebook, the human report.

use labgrade::exit::Exit;

mod common;

use common::*;
use predicates::prelude::*;

#[test]
fn unusable_arguments_exit_2_with_a_one_line_reason() {
    let out = labgrade()
        .args(["grade"])
        .arg(fixture("reference"))
        .args(["--spec", "/nonexistent/spec.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/spec.toml"), "{err}");
    labgrade().args(["grade"]).assert().code(Exit::Error.code());
    labgrade()
        .args(["frobnicate"])
        .assert()
        .code(Exit::Error.code());
}

#[test]
fn spec_check_accepts_the_builtin_and_points_at_errors() {
    labgrade()
        .args(["spec", "check"])
        .arg(root().join("specs/lab10.toml"))
        .arg(quick_spec())
        .assert()
        .success()
        .stdout(predicate::str::contains("ok"));

    let dir = tempfile::tempdir().unwrap();
    // Real plurals, "1 test" as much as "50 tests".
    let one = dir.path().join("one.toml");
    std::fs::write(
        &one,
        "lab = \"x\"\ntitle = \"t\"\n\n[defaults]\npoints = 1.0\n\n[[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n\n[[exercise.test]]\nkind = \"output\"\nname = \"a\"\nargs = [\"1\", \"1\"]\nstdout = { sum_to = \"1\" }\n",
    )
    .unwrap();
    labgrade()
        .args(["spec", "check"])
        .arg(&one)
        .arg(root().join("specs/lab10.toml"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "one.toml: ok: 1 exercise, 1 test, 1 point\n",
        ))
        .stdout(predicate::str::contains("lab10.toml: ok: 2 exercises, "))
        .stdout(predicate::str::contains("(s)").not());

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "lab = \"x\"\ntitle = \"t\"\n\n[[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n\n[[exercise.test]]\nkind = \"output\"\nname = \"a\"\ntmeout = \"1s\"\n",
    )
    .unwrap();
    labgrade()
        .args(["spec", "check"])
        .arg(&bad)
        .assert()
        .code(Exit::Error.code())
        .stderr(predicate::str::contains("bad.toml:11:1"))
        .stderr(predicate::str::contains("tmeout"));
}

#[test]
fn grade_with_a_broken_spec_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "lab = \n").unwrap();
    labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .arg("--spec")
        .arg(&bad)
        .assert()
        .code(Exit::Error.code())
        .stderr(predicate::str::contains("bad.toml:1:"));

    // Several problems: still one line, naming the first and how to see the rest.
    std::fs::write(
        &bad,
        "lab = \"x\"\ntitle = \"t\"\n[[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n[[exercise.test]]\nkind = \"output\"\nname = \"a {m}\"\ntimeout = \"10\"\n",
    )
    .unwrap();
    let out = labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .arg("--spec")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("bad.toml:8:"), "{err}");
    assert!(err.contains("1 more problem"), "{err}");
}

#[test]
fn human_report_explains_failures_and_exit_1() {
    labgrade()
        .arg("grade")
        .arg(fixture("off_by_one"))
        .arg("--spec")
        .arg(quick_spec())
        .assert()
        .code(Exit::Fail.code())
        .stdout(predicate::str::contains("FAIL"))
        .stdout(predicate::str::contains("short by 10"))
        .stdout(predicate::str::contains("Score:"))
        .stdout(predicate::str::contains("\u{1b}[").not());
}

#[test]
fn check_grades_the_current_directory() {
    labgrade()
        .current_dir(fixture("reference"))
        .arg("check")
        .arg("--spec")
        .arg(quick_spec())
        .assert()
        .success()
        .stdout(predicate::str::contains("Grading reference"))
        .stdout(predicate::str::contains("FAIL").not());
}

#[test]
fn out_writes_the_report_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.json");
    labgrade()
        .arg("grade")
        .arg(fixture("missing_counter"))
        .args(["--format", "json", "--out"])
        .arg(&path)
        .arg("--spec")
        .arg(quick_spec())
        .assert()
        .code(Exit::Fail.code())
        .stdout("");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["submission"], "missing_counter");
}

#[test]
fn batch_grades_every_subdirectory_and_writes_a_gradebook() {
    let root_dir = tempfile::tempdir().unwrap();
    for name in ["reference", "off_by_one", "empty"] {
        copy_dir(&fixture(name), &root_dir.path().join(name));
    }
    // A file at the top level is not a submission.
    std::fs::write(root_dir.path().join("notes.txt"), "x").unwrap();
    let out = tempfile::tempdir().unwrap();
    labgrade()
        .arg("batch")
        .arg(root_dir.path())
        .arg("--out")
        .arg(out.path())
        .args(["--jobs", "2", "--spec"])
        .arg(quick_spec())
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.path().join("gradebook.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("submission,score,max_score"), "{csv}");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].starts_with("empty,0,"), "{csv}");
    assert!(lines[2].starts_with("off_by_one,"), "{csv}");
    assert!(lines[3].starts_with("reference,"), "{csv}");
    for name in ["reference", "off_by_one", "empty"] {
        let text = std::fs::read_to_string(out.path().join(format!("{name}.json"))).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["submission"], name);
    }
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("reference.json")).unwrap())
            .unwrap();
    assert_eq!(reference["score"], reference["max_score"]);
}

/// The binary students install carries no line of the course's reference solution (it used to
/// compile it in as the speedup yardstick, and `strings` showed it): only the neutral
/// yardstick. A control checks that the method finds compiled-in sources at all.
#[test]
fn no_line_of_the_reference_solution_is_in_the_binary() {
    let binary = std::fs::read(assert_cmd::cargo::cargo_bin("labgrade")).unwrap();
    // Sources are compiled in as UTF-8 text: replacing the rest keeps them intact.
    let binary = String::from_utf8_lossy(&binary);
    let contains = |line: &str| binary.contains(line);
    let yardstick =
        std::fs::read_to_string(root().join("specs/yardstick/src/bin/pool_sum.rs")).unwrap();
    let distinctive = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| l.len() > 20 && !l.starts_with("use "))
            .map(str::to_string)
            .collect()
    };
    let ours = distinctive(&yardstick);
    assert!(
        ours.iter().any(|l| contains(l)),
        "control: no line of the built-in yardstick found in the binary"
    );
    for file in ["pool_sum.rs", "counter.rs"] {
        let path = root()
            .join("fixtures/submissions/reference/src/bin")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let leaked: Vec<String> = distinctive(&text)
            .into_iter()
            .filter(|l| !ours.contains(l) && contains(l))
            .collect();
        assert!(leaked.is_empty(), "{file} is in the binary: {leaked:#?}");
    }
}

#[test]
fn the_next_hint_runs_the_program_as_graded() {
    // The "Next:" line's command, pasted into a shell in the submission's folder as a student
    // would: it builds in the course skeleton and prints what the graded run printed.
    let check = labgrade()
        .current_dir(fixture("off_by_one"))
        .args(["check", "--only", "pool-sum/n=10 p=1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    let next = text
        .lines()
        .find_map(|l| l.strip_prefix("Next: run `"))
        .and_then(|l| l.split('`').next())
        .unwrap_or_else(|| panic!("no Next: line: {text}"));
    assert_eq!(next, "labgrade run pool_sum -- 10 1", "{text}");
    let bin = assert_cmd::cargo::cargo_bin("labgrade");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", next])
        .current_dir(fixture("off_by_one"))
        .env("PATH", path)
        .env("LABGRADE_CACHE_DIR", cache_dir())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(Exit::Pass.code()), "{stdout}");
    assert!(stdout.contains("$ pool_sum 10 1"), "{stdout}");
    assert!(stdout.contains("stdout:\n  45\n"), "{stdout}");
    assert!(stdout.contains("it exited with status 0"), "{stdout}");
}

#[test]
fn labgrade_run_builds_in_the_skeleton_and_reports_how_the_run_ended() {
    // `extras` brings its own Cargo.toml whose build.rs panics: the skeleton's is used.
    let out = labgrade()
        .args(["run", "pool_sum"])
        .arg(fixture("extras"))
        .args(["--", "10", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(Exit::Pass.code()), "{stdout}");
    assert!(stdout.contains("stdout:\n  55\n"), "{stdout}");
    // Bad arguments: the program's own message and its non-zero status.
    let out = labgrade()
        .args(["run", "pool_sum"])
        .arg(fixture("reference"))
        .args(["--", "10", "0"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(Exit::Fail.code()), "{stdout}");
    assert!(stdout.contains("P must be between 1 and 64"), "{stdout}");
    assert!(stdout.contains("it exited with status 2"), "{stdout}");
    let out = labgrade()
        .args(["run", "nope"])
        .arg(fixture("reference"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Fail.code()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no program `nope` in this lab"));
}

//! End-to-end: when the grader itself cannot grade (no toolchain, no usable cache), `labgrade
//! grade` exits 2 with a one-line reason (CONTRACT §2) instead of charging the student with a
//! failed build; a student's own compile error stays a verdict (exit 1).

mod common;

use common::*;

/// `labgrade grade FIXTURE --spec quick` with `setup` applied to the command.
fn grade(fixture_name: &str, setup: impl FnOnce(&mut assert_cmd::Command)) -> (i32, String) {
    let mut cmd = labgrade();
    cmd.arg("grade")
        .arg(fixture(fixture_name))
        .arg("--spec")
        .arg(quick_spec())
        .args(["--format", "json"]);
    setup(&mut cmd);
    let out = cmd.output().unwrap();
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn no_cargo_is_the_graders_failure_not_a_compile_error() {
    let (code, stderr) = grade("reference", |cmd| {
        cmd.env("PATH", "/usr/bin:/bin").env_remove("CARGO");
    });
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot start cargo"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_cargo_that_is_not_there_is_the_graders_failure() {
    let (code, stderr) = grade("reference", |cmd| {
        cmd.env("CARGO", "/nonexistent/bin/cargo");
    });
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("CARGO=/nonexistent/bin/cargo"), "{stderr}");
}

#[test]
fn an_unusable_cache_directory_is_the_graders_failure() {
    // A file where the cache directory should be: unusable even for root, who ignores modes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let (code, stderr) = grade("reference", |cmd| {
        cmd.env("LABGRADE_CACHE_DIR", file.join("cache"));
    });
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Not a directory"), "{stderr}");
}

#[test]
fn a_students_syntax_error_is_still_a_verdict() {
    let (code, stderr) = grade("syntax_error_counter", |_| {});
    assert_eq!(code, 1, "{stderr}");
}

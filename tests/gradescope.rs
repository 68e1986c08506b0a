//! End-to-end: `gradescope/run_autograder` in Gradescope's `/autograder` layout, laid out in a
//! temporary directory (`AUTOGRADER_ROOT`), with the labgrade binary under test.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// `/autograder` with `submission/` filled by `fill`; returns the root.
fn autograder(fill: impl FnOnce(&Path)) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let submission = root.path().join("submission");
    std::fs::create_dir_all(&submission).unwrap();
    fill(&submission);
    root
}

/// Runs `run_autograder` on `root` with `spec`; returns (exit code, results.json if written).
fn run_autograder(root: &Path, spec: &Path) -> (i32, Option<Value>, String) {
    run_autograder_with(root, spec, |_| {})
}

/// [`run_autograder`] with `setup` applied to the command first.
fn run_autograder_with(
    root: &Path,
    spec: &Path,
    setup: impl FnOnce(&mut std::process::Command),
) -> (i32, Option<Value>, String) {
    let mut cmd = std::process::Command::new("bash");
    setup(&mut cmd);
    let out = cmd
        .arg(common::root().join("gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", root)
        .env("LABGRADE_BIN", assert_cmd::cargo::cargo_bin("labgrade"))
        .env("LABGRADE_SPEC", spec)
        .env("LABGRADE_CACHE_DIR", cache_dir())
        .env("NO_COLOR", "1")
        .output()
        .expect("bash runs run_autograder");
    let results = root.join("results/results.json");
    let json = std::fs::read_to_string(&results)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("results.json is JSON"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("exited"), json, log)
}

fn hidden_spec() -> PathBuf {
    root().join("tests/specs/hidden.toml")
}

fn test<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no test {name} in {results:#}"))
}

#[test]
fn a_repository_submission_gets_results_json_with_visibility() {
    let dir = autograder(|s| copy_dir(&fixture("off_by_one"), s));
    let (code, results, log) = run_autograder(dir.path(), &hidden_spec());
    assert_eq!(code, 0, "a graded submission is a successful run\n{log}");
    let results = results.unwrap_or_else(|| panic!("no results.json\n{log}"));
    assert_eq!(results["score"], 1.0);
    assert_eq!(results["extra_data"]["submission"], "submission");
    assert_eq!(results["extra_data"]["max_score"], 3.0);
    let visible = test(&results, "pool-sum / output: n=0 p=1");
    assert_eq!(
        (&visible["status"], &visible["visibility"]),
        (&"passed".into(), &"visible".into())
    );
    let secret = test(&results, "pool-sum / output: secret n=10 p=2");
    assert_eq!(secret["status"], "failed");
    assert_eq!(secret["visibility"], "after_published");
    assert_eq!(results["stdout_visibility"], "hidden");
    // The staff-only log has the human report, after what the machine gives the sandbox.
    assert!(
        log.contains("Grading submission against lab10-hidden"),
        "{log}"
    );
    let doctor = log.find("machine shape: ");
    assert!(
        doctor.is_some_and(|at| at < log.find("Grading submission").unwrap()),
        "{log}"
    );
}

#[test]
fn uploaded_files_without_src_are_graded_from_src_bin() {
    // Gradescope's upload dialog gives the files themselves: pool_sum.rs, counter.rs.
    let dir = autograder(|s| copy_dir(&fixture("misshaped"), s));
    let (code, results, log) = run_autograder(dir.path(), &hidden_spec());
    assert_eq!(code, 0, "{log}");
    let results = results.unwrap();
    assert_eq!(results["score"], 3.0, "{log}");
    assert!(
        log.contains("graded its .rs files as src/bin/*.rs"),
        "{log}"
    );
}

#[test]
fn a_repository_holding_the_lab_in_a_folder_is_found() {
    let dir = autograder(|s| copy_dir(&fixture("reference"), &s.join("lab10")));
    let (code, results, log) = run_autograder(dir.path(), &hidden_spec());
    assert_eq!(code, 0, "{log}");
    assert_eq!(results.unwrap()["score"], 3.0, "{log}");
}

#[test]
fn an_empty_submission_scores_zero_with_a_reason() {
    let dir = autograder(|_| {});
    let (code, results, log) = run_autograder(dir.path(), &hidden_spec());
    assert_eq!(code, 0, "{log}");
    let results = results.unwrap();
    assert_eq!(results["score"], 0.0);
    let build = test(&results, "pool-sum / build: build pool_sum");
    assert!(
        build["output"].as_str().unwrap().contains("src/"),
        "{build:#}"
    );
}

#[test]
fn a_grader_failure_writes_no_results_and_fails_the_run() {
    let dir = autograder(|s| copy_dir(&fixture("reference"), s));
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "lab = \n").unwrap();
    let (code, results, log) = run_autograder(dir.path(), &broken);
    assert_eq!(code, 2, "{log}");
    assert!(results.is_none(), "a score of 0 would hide the failure");
    assert!(log.contains("broken.toml:1:"), "{log}");
}

#[test]
fn a_late_submission_is_penalised_by_gradescopes_own_submission_time() {
    let dir = autograder(|s| copy_dir(&fixture("reference"), s));
    // Gradescope writes it beside the submission; 2 days and 1 minute after the deadline.
    std::fs::write(
        dir.path().join("submission_metadata.json"),
        r#"{"id": 7, "created_at": "2026-12-03T22:01:00.5-05:00", "previous_submissions": []}"#,
    )
    .unwrap();
    let spec = root().join("tests/specs/deadline.toml");
    let (code, results, log) = run_autograder(dir.path(), &spec);
    assert_eq!(code, 0, "{log}");
    let results = results.unwrap_or_else(|| panic!("no results.json\n{log}"));
    assert_eq!(
        results["score"], 7.0,
        "10 points less 30% (3 started days)\n{log}"
    );
    let output = results["output"].as_str().unwrap();
    assert!(
        output.contains("Handed in 2 days late (Thursday 3 December 2026, 22:01 (UTC-05:00), per Gradescope's submission time): a 30% late penalty, 10 → 7 / 10 points."),
        "{output}"
    );
}

#[test]
fn no_cargo_on_the_image_is_an_autograder_error_not_a_zero() {
    let dir = autograder(|s| copy_dir(&fixture("reference"), s));
    // No toolchain anywhere: run_autograder also looks in $HOME/.cargo/bin.
    let home = tempfile::tempdir().unwrap();
    let (code, results, log) = run_autograder_with(dir.path(), &quick_spec(), |cmd| {
        cmd.env("PATH", "/usr/bin:/bin")
            .env("HOME", home.path())
            .env_remove("CARGO");
    });
    assert_ne!(code, 0, "{log}");
    assert!(
        results.is_none(),
        "a score of 0 would blame the student\n{log}"
    );
    assert!(log.contains("cannot start cargo"), "{log}");
}

#[test]
fn too_few_cores_for_the_speedup_tests_is_an_autograder_error_not_free_points() {
    let dir = autograder(|s| copy_dir(&fixture("reference"), s));
    // One core, as on Gradescope's default machine (half a vCPU); the spec's speedup pool is 2.
    let speedup = root().join("tests/specs/speedup.toml");
    let one_core = |cmd: &mut std::process::Command| {
        *cmd = std::process::Command::new("taskset");
        cmd.args(["-c", "0", "bash"]);
    };
    let (code, results, log) = run_autograder_with(dir.path(), &speedup, one_core);
    assert_eq!(code, 2, "{log}");
    assert!(results.is_none(), "{log}");
    assert!(log.contains("too few cores"), "{log}");
}

#[test]
fn too_few_cores_can_be_graded_under_the_specs_inconclusive_rule_when_asked() {
    let dir = autograder(|s| copy_dir(&fixture("reference"), s));
    let speedup = root().join("tests/specs/speedup.toml");
    let one_core = |cmd: &mut std::process::Command| {
        *cmd = std::process::Command::new("taskset");
        cmd.args(["-c", "0", "bash"])
            .env("LABGRADE_FEW_CORES", "undecided");
    };
    let (code, results, log) = run_autograder_with(dir.path(), &speedup, one_core);
    assert_eq!(code, 0, "{log}");
    let results = results.unwrap_or_else(|| panic!("{log}"));
    let undecided: Vec<&Value> = results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["output"]
                .as_str()
                .unwrap_or("")
                .contains("not assessable")
        })
        .collect();
    assert!(!undecided.is_empty(), "{results:#}");
    // tests/specs/speedup.toml says `inconclusive = "fail"`.
    assert!(
        undecided.iter().all(|t| t["status"] == "failed"),
        "{results:#}"
    );
}

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
    assert!(log.contains("loose at the top, as src/bin/*.rs"), "{log}");
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
        output.contains("Handed in 2 days late (Thursday 3 December 2026, 22:01 (UTC-05:00), per Gradescope's submission time, which students cannot set): a 30% late penalty, 10 → 7 / 10 points."),
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

/// Whether this test can imitate Gradescope's harness here (root, for the mount namespace and
/// the shape simulator). Off CI a non-root run says `skipped:`; on CI, which runs as root, not
/// being root is a failure.
fn can_imitate_the_harness(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    // The shared guard: under CI (root) this fails instead of skipping.
    skip(format!("{test}: imitating Gradescope's harness needs root"));
    false
}

/// Gradescope's documented `results.json` fields, with the types and values it accepts.
fn assert_gradescope_schema(results: &Value, what: &str) {
    assert!(results["score"].is_number(), "{what}: score\n{results:#}");
    if let Some(v) = results.get("stdout_visibility") {
        assert!(
            ["hidden", "visible", "after_due_date", "after_published"]
                .contains(&v.as_str().unwrap()),
            "{what}: stdout_visibility {v}"
        );
    }
    for field in ["output", "visibility"] {
        if let Some(v) = results.get(field) {
            assert!(v.is_string(), "{what}: {field} {v}");
        }
    }
    if let Some(v) = results.get("execution_time") {
        assert!(v.is_number(), "{what}: execution_time {v}");
    }
    let tests = results["tests"].as_array().expect("tests is an array");
    assert!(!tests.is_empty(), "{what}");
    let mut sum = 0.0;
    for t in tests {
        assert!(t["name"].is_string(), "{what}: {t:#}");
        assert!(t["output"].is_string(), "{what}: {t:#}");
        assert!(t["max_score"].is_number(), "{what}: {t:#}");
        let score = t["score"].as_f64().expect("a test's score is a number");
        assert!(score <= t["max_score"].as_f64().unwrap(), "{what}: {t:#}");
        sum += score;
        assert!(
            ["passed", "failed"].contains(&t["status"].as_str().unwrap()),
            "{what}: {t:#}"
        );
        assert!(
            ["hidden", "visible", "after_due_date", "after_published"]
                .contains(&t["visibility"].as_str().unwrap()),
            "{what}: {t:#}"
        );
    }
    // Without a late penalty the score is the tests' total.
    let score = results["score"].as_f64().unwrap();
    assert!((score - sum).abs() < 1e-9, "{what}: {score} != {sum}");
}

/// A test's name, status, score, maximum and visibility.
type Verdict = (String, String, f64, f64, String);

/// What must agree between two gradings of one submission: the score and every test's name,
/// status, score, maximum and visibility (outputs hold paths and times).
fn verdicts(results: &Value) -> (f64, Vec<Verdict>) {
    let tests = results["tests"].as_array().unwrap().iter().map(|t| {
        (
            t["name"].as_str().unwrap().to_string(),
            t["status"].as_str().unwrap().to_string(),
            t["score"].as_f64().unwrap(),
            t["max_score"].as_f64().unwrap(),
            t["visibility"].as_str().unwrap().to_string(),
        )
    });
    (results["score"].as_f64().unwrap(), tests.collect())
}

/// The whole path a course takes: the zip of make-autograder-zip.sh (with the course's spec in
/// it), unpacked on a tmpfs /autograder in a private mount namespace, setup.sh run (its cache
/// warm-up for real), then run_autograder on four kinds of submission in the simulated
/// Gradescope container; every results.json is checked against Gradescope's documented fields
/// and against `labgrade grade --format gradescope` of the same submission.
#[test]
fn gradescope_end_to_end_from_the_zip_in_a_container() {
    if !can_imitate_the_harness("gradescope_end_to_end_from_the_zip_in_a_container") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let zip = work.path().join("autograder.zip");
    let made = std::process::Command::new("bash")
        .arg(root().join("gradescope/make-autograder-zip.sh"))
        .arg("--spec")
        .arg(quick_spec())
        .arg(&zip)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let submissions = [
        ("correct", "reference"),
        ("buggy", "off_by_one"),
        ("loose", "misshaped"),
        ("threads", "threads_pool"),
    ];
    // The mount point; created (empty) only where the machine lacks it, removed after.
    let mount_point = Path::new("/autograder");
    let created = !mount_point.exists();
    if created {
        std::fs::create_dir(mount_point).unwrap();
    }
    let harness = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "bash"])
        .arg(root().join("tests/gradescope/harness.sh"))
        .arg(&zip)
        .arg(&out)
        .arg(assert_cmd::cargo::cargo_bin("labgrade"))
        .arg(root().join("fixtures/submissions"))
        .args(submissions.iter().map(|(n, f)| format!("{n}={f}")))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    if created {
        let _ = std::fs::remove_dir(mount_point);
    }
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    assert!(
        harness.status.success(),
        "{harness:?}\nsetup.log:\n{}",
        read("setup.log")
    );
    let setup = read("setup.log");
    assert!(
        setup.contains("build cache warm (release and probe"),
        "{setup}"
    );
    eprintln!(
        "the image's build cache: {} MB",
        read("cache-bytes").trim().parse::<u64>().unwrap_or(0) >> 20
    );

    for (name, fixture_name) in submissions {
        let log = read(&format!("{name}.log"));
        assert_eq!(read(&format!("{name}.exit")).trim(), "0", "{name}:\n{log}");
        assert!(
            log.contains("machine shape: root in a container without namespace privileges"),
            "{name}: not graded in the container shape\n{log}"
        );
        let results: Value = serde_json::from_str(&read(&format!("{name}.json")))
            .unwrap_or_else(|e| panic!("{name}: no results.json ({e})\n{log}"));
        assert_gradescope_schema(&results, name);
        assert_eq!(
            results["extra_data"]["lab"], "lab10-quick",
            "{name}: the course's spec from the zip\n{results:#}"
        );

        // Loose files are graded as run_autograder stages them: in src/bin/.
        let staged = tempfile::tempdir().unwrap();
        let graded = if name == "loose" {
            let bin = staged.path().join("src/bin");
            std::fs::create_dir_all(&bin).unwrap();
            for rs in std::fs::read_dir(fixture(fixture_name)).unwrap() {
                let rs = rs.unwrap().path();
                std::fs::copy(&rs, bin.join(rs.file_name().unwrap())).unwrap();
            }
            staged.path().to_path_buf()
        } else {
            fixture(fixture_name)
        };
        let direct = labgrade()
            .arg("grade")
            .arg(&graded)
            .arg("--spec")
            .arg(quick_spec())
            .args(["--format", "gradescope", "--name", name])
            .output()
            .unwrap();
        let direct: Value = serde_json::from_slice(&direct.stdout)
            .unwrap_or_else(|e| panic!("{name}: direct grading printed no JSON ({e})"));
        assert_eq!(verdicts(&results), verdicts(&direct), "{name}");
        let full = results["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "passed");
        assert_eq!(full, name != "buggy", "{name}\n{results:#}");
    }
}

/// `[deadline] due = "gradescope"` graded by run_autograder with `metadata` as Gradescope's
/// submission_metadata.json; returns results.json.
fn graded_with_gradescope_dates(metadata: &str) -> Value {
    let dir = autograder(|s| copy_dir(&fixture("reference"), s));
    std::fs::write(dir.path().join("submission_metadata.json"), metadata).unwrap();
    let spec = root().join("tests/specs/gradescope-deadline.toml");
    let (code, results, log) = run_autograder(dir.path(), &spec);
    assert_eq!(code, 0, "{log}");
    results.unwrap_or_else(|| panic!("no results.json\n{log}"))
}

#[test]
fn the_due_date_is_gradescopes_and_a_students_extension_applies() {
    // Due 1 December, submitted 3 December: 2 started days late, 20% off 10 points.
    let assignment = r#""assignment": {"due_date": "2026-12-01T22:00:00.000000-05:00",
        "late_due_date": "2026-12-05T22:00:00.000000-05:00", "title": "Lab 10"}"#;
    let created = r#""created_at": "2026-12-03T21:00:00.5-05:00""#;
    let late = graded_with_gradescope_dates(&format!(
        r#"{{"id": 7, {created}, {assignment}, "users": [{{"id": 1, "name": "S"}}]}}"#
    ));
    assert_eq!(late["score"], 8.0, "{late:#}");
    // The same submission from a student whose extension moved the due date to 4 December.
    let extended = graded_with_gradescope_dates(&format!(
        r#"{{"id": 7, {created}, {assignment}, "users": [{{"id": 1, "name": "S",
            "assignment": {{"due_date": "2026-12-04T22:00:00.000000-05:00",
                            "late_due_date": "2026-12-06T22:00:00.000000-05:00"}}}}]}}"#
    ));
    assert_eq!(extended["score"], 10.0, "{extended:#}");
    // After the late due date (only staff can upload then) it earns nothing.
    let after = graded_with_gradescope_dates(&format!(
        r#"{{"id": 7, "created_at": "2026-12-06T21:00:00-05:00", {assignment}, "users": []}}"#
    ));
    assert_eq!(after["score"], 0.0, "{after:#}");
}

#[test]
fn a_course_spec_in_the_zip_is_graded_without_labgrade_spec() {
    // Gradescope unpacks the zip in /autograder/source; make-autograder-zip.sh --spec puts the
    // course's spec in its course/ folder.
    let dir = autograder(|s| copy_dir(&fixture("off_by_one"), s));
    let course = dir.path().join("source/course");
    std::fs::create_dir_all(&course).unwrap();
    std::fs::copy(hidden_spec(), course.join("hidden.toml")).unwrap();
    let out = std::process::Command::new("bash")
        .arg(common::root().join("gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", dir.path())
        .env("LABGRADE_BIN", assert_cmd::cargo::cargo_bin("labgrade"))
        .env_remove("LABGRADE_SPEC")
        .env("LABGRADE_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let results: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results/results.json")).unwrap())
            .unwrap();
    assert_eq!(results["extra_data"]["lab"], "lab10-hidden", "{results:#}");
}

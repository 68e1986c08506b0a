//! Shared helpers of the end-to-end tests: run the real `labgrade` binary on the fixtures.
#![allow(dead_code)]

pub mod attacks;
pub mod skip;

// Not every test file calls both.
#[allow(unused_imports)]
pub use skip::{on_ci, skip};

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture submission by name.
pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures/submissions").join(name)
}

/// The quick test spec (no multi-second runs).
pub fn quick_spec() -> PathBuf {
    root().join("tests/specs/quick.toml")
}

/// The build cache shared by all tests, so dependencies compile once per run.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("labgrade-cache")
}

/// `labgrade` with the shared build cache and no colors.
pub fn labgrade() -> Command {
    let mut cmd = Command::cargo_bin("labgrade").expect("the labgrade binary");
    cmd.env("LABGRADE_CACHE_DIR", cache_dir())
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE");
    cmd
}

/// Grades `fixture` with `spec` (None: the built-in spec) and returns (exit code, JSON result).
pub fn grade_json(fixture_name: &str, spec: Option<&Path>) -> (i32, Value) {
    grade_dir_json(&fixture(fixture_name), spec)
}

/// Grades the submission in `dir` with `spec` (None: the built-in spec) and returns (exit code,
/// JSON result).
pub fn grade_dir_json(dir: &Path, spec: Option<&Path>) -> (i32, Value) {
    let mut cmd = labgrade();
    cmd.arg("grade").arg(dir).args(["--format", "json"]);
    if let Some(spec) = spec {
        cmd.arg("--spec").arg(spec);
    }
    let out = cmd.output().expect("run labgrade");
    let code = out.status.code().expect("labgrade exited normally");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "labgrade printed no JSON ({e}); exit {code}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

/// The tests of `result` matching `exercise` and `kind`.
pub fn tests_of<'a>(result: &'a Value, exercise: &str, kind: &str) -> Vec<&'a Value> {
    result["tests"]
        .as_array()
        .expect("tests array")
        .iter()
        .filter(|t| t["exercise"] == exercise && t["kind"] == kind)
        .collect()
}

/// The one test named `name`.
pub fn test_named<'a>(result: &'a Value, exercise: &str, name: &str) -> &'a Value {
    result["tests"]
        .as_array()
        .expect("tests array")
        .iter()
        .find(|t| t["exercise"] == exercise && t["name"] == name)
        .unwrap_or_else(|| panic!("no test {exercise}/{name} in {result:#}"))
}

/// Whether the grading that produced `result` had the PID namespace layer (the process
/// audit); the test is [skipped](skip()) when it did not.
pub fn has_process_audit(result: &Value, test: &str) -> bool {
    let layer = result["sandbox"]
        .as_array()
        .and_then(|layers| layers.iter().find(|l| l["name"] == "pid namespace"));
    match layer {
        Some(l) if l["active"] == true => true,
        Some(l) => {
            skip(format!("{test}: {}", l["detail"]));
            false
        }
        None => panic!("the result does not say which sandbox layers were active: {result:#}"),
    }
}

/// Processes still running a binary from a staging directory that has been removed: a grading
/// that finished left them behind. (Live gradings' staging directories still exist, so tests
/// running in parallel do not count.)
#[cfg(target_os = "linux")]
pub fn leaked_student_processes() -> Vec<String> {
    let mut leaked = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(exe) = std::fs::read_link(entry.path().join("exe")) {
            let exe = exe.to_string_lossy().into_owned();
            if exe.contains("labgrade-stage-") && exe.ends_with("(deleted)") {
                leaked.push(format!(
                    "pid {}: {exe}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    leaked
}

/// Without `/proc` nothing can be checked; the tests that call this need the full sandbox,
/// which only Linux has, and [skip](skip()) elsewhere before they get here.
#[cfg(not(target_os = "linux"))]
pub fn leaked_student_processes() -> Vec<String> {
    Vec::new()
}

/// A submission in `dir/name` whose `pool_sum.rs` is `pool_sum` and whose `counter.rs` is the
/// reference's: for tests of one program that misbehaves at compile time.
pub fn with_pool_sum(dir: &Path, name: &str, pool_sum: &str) -> PathBuf {
    let sub = dir.join(name);
    std::fs::create_dir_all(sub.join("src/bin")).unwrap();
    std::fs::write(sub.join("src/bin/pool_sum.rs"), pool_sum).unwrap();
    std::fs::copy(
        fixture("reference").join("src/bin/counter.rs"),
        sub.join("src/bin/counter.rs"),
    )
    .unwrap();
    sub
}

/// Copies a directory tree (a fixture into a temporary root).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// `labgrade sandbox-run ARGS` from `/` (so no working directory is granted); its JSON outcome.
pub fn sandbox_run(args: &[&str]) -> Value {
    let out = labgrade()
        .current_dir("/")
        .arg("sandbox-run")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The hang-handling test spec (`stop_after_hangs = 2`, `hang_timeout = "2s"`).
pub fn hangs_spec() -> PathBuf {
    root().join("tests/specs/hangs.toml")
}

/// Whether the grading that produced `result` had the sandbox layer `name` active.
pub fn layer_active(result: &Value, name: &str) -> bool {
    result["sandbox"]
        .as_array()
        .and_then(|layers| layers.iter().find(|l| l["name"] == name))
        .is_some_and(|l| l["active"] == true)
}

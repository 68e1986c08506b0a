//! End-to-end: the speedup probe on pools that are parallel, sequential, serialized, or gaming
//! the measurement. Timing on a shared 2-core machine is noisy, so these tests allow
//! "inconclusive" where a loaded machine can cause it and forbid the wrong verdict: a parallel
//! pool is never judged too slow, a sequential one never passes, a decided verdict gives the
//! right reason, and an undecided one says so. That the probe *decides* clear cases is required
//! of the scripted tests (`src/probe/speedup/scripted_tests.rs`), which cannot flake.

use labgrade::exit::Exit;

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

fn spec() -> PathBuf {
    root().join("tests/specs/speedup.toml")
}

/// (reason or "pass", message, the test's JSON)
fn speedup(fixture_name: &str) -> (String, String, Value) {
    let (_, r) = grade_json(fixture_name, Some(&spec()));
    let t = test_named(&r, "pool-sum", "speedup: p=2").clone();
    let reason = t["reason"].as_str().unwrap_or("pass").to_string();
    (reason, t["message"].as_str().unwrap().to_string(), t)
}

fn enough_cores() -> bool {
    let ok = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if !ok {
        skip("a speedup needs at least 2 cores");
    }
    ok
}

#[test]
fn parallel_pools_are_never_judged_too_slow() {
    if !enough_cores() {
        return;
    }
    for fixture in ["reference", "shared_array_pool", "reexec_pool"] {
        let (reason, msg, t) = speedup(fixture);
        assert!(
            reason == "pass" || reason == "inconclusive",
            "{fixture}: {reason}: {msg}"
        );
        eprintln!("{fixture}: {reason}: {msg}");
        assert_undecided_says_so(&reason, &t);
        let ev = &t["evidence"]["speedup"];
        assert_eq!(ev["workers"], 2, "{t:#}");
        // The curve: P = 1, 2, 4 on this machine, speedup 1 at one worker by definition.
        let points = t["evidence"]["speedup_curve"]["points"].as_array().unwrap();
        assert_eq!(points[0]["workers"], 1, "{t:#}");
        assert!(points.len() >= 2, "{t:#}");
        assert!((points[0]["speedup"].as_f64().unwrap() - 1.0).abs() < 1e-9);
        if reason == "pass" {
            assert!(ev["student_speedup"].as_f64().unwrap() >= 1.1, "{t:#}");
            assert!(msg.contains("faster than with one worker"), "{msg}");
        }
    }
}

#[test]
fn sequential_and_serialized_pools_never_pass() {
    if !enough_cores() {
        return;
    }
    for fixture in ["sequential_pool", "serialized_pool"] {
        let (reason, msg, t) = speedup(fixture);
        eprintln!("{fixture}: {reason}: {msg}");
        assert!(
            reason == "too_slow" || reason == "inconclusive",
            "{fixture}: {reason}: {msg}"
        );
        assert_undecided_says_so(&reason, &t);
        if reason == "too_slow" {
            // Decided by the statistics, not by an anti-gaming check misfiring on an honest
            // (if slow) pool.
            assert!(
                msg.contains("is not faster with 2 workers"),
                "{fixture}: {msg}"
            );
        }
    }
}

#[test]
fn workers_that_each_do_all_the_work_are_named() {
    if !enough_cores() {
        return;
    }
    let (reason, msg, t) = speedup("redundant_pool");
    assert!(
        reason == "too_slow" || reason == "inconclusive",
        "{reason}: {msg}"
    );
    assert_undecided_says_so(&reason, &t);
    if reason == "too_slow" {
        // Twice the CPU at two workers, where the yardstick splits its work: the message
        // names the cause, not just the missing speedup.
        assert!(msg.contains("redo each other's work"), "{msg}");
    }
}

#[test]
fn an_idle_one_worker_run_is_caught() {
    if !enough_cores() {
        return;
    }
    let (reason, msg, t) = speedup("idle_pool");
    assert!(
        reason == "too_slow" || reason == "inconclusive",
        "{reason}: {msg}"
    );
    assert_undecided_says_so(&reason, &t);
    if reason == "too_slow" {
        assert!(msg.contains("of its time on the CPU"), "{msg}");
    }
}

/// A total from the formula needs a few milliseconds of CPU (the sandbox's start-up) where the
/// yardstick, with N calibrated so one worker takes ~0.2 s, needs hundreds: no load makes that
/// close, so once the probe has looked (5 blocks) the closed form must be named. Only a machine
/// too loaded for the first look to come may leave it undecided.
#[test]
fn a_closed_form_is_named_at_the_first_look() {
    if !enough_cores() {
        return;
    }
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let calibrated = dir.path().join("calibrated.toml");
    let base = std::fs::read_to_string(spec()).unwrap();
    let without_n: Vec<&str> = base.lines().filter(|l| !l.starts_with("n = ")).collect();
    assert_eq!(
        without_n.len() + 1,
        base.lines().count(),
        "one `n = ` line in {base}"
    );
    std::fs::write(&calibrated, without_n.join("\n")).unwrap();
    let (_, r) = grade_json("closed_form_pool", Some(&calibrated));
    let t = test_named(&r, "pool-sum", "speedup: p=2");
    let reason = t["reason"].as_str().unwrap_or("pass");
    let msg = t["message"].as_str().unwrap();
    eprintln!("closed_form_pool: {reason}: {msg}");
    let blocks = t["evidence"]["speedup"]["blocks"].as_u64().unwrap_or(0);
    if reason == "inconclusive" && blocks < 5 {
        assert_undecided_says_so(reason, t);
        return;
    }
    assert_eq!(reason, "too_slow", "{blocks} blocks: {msg}");
    assert!(msg.contains("(a closed form?)"), "{msg}");
}

/// An undecided verdict is never silent: the result's `inconclusive` field says why, and only
/// then.
#[track_caller]
fn assert_undecided_says_so(reason: &str, t: &Value) {
    let why = t["inconclusive"].as_str();
    if reason == "inconclusive" {
        let why = why.unwrap_or_else(|| panic!("an undecided verdict without a reason: {t:#}"));
        assert!(why.contains("inconclusive"), "{why}");
    } else {
        assert_eq!(
            why, None,
            "a decided verdict ({reason}) marked undecided: {t:#}"
        );
    }
}

/// A staff spec's `reference = "DIR"` is the yardstick (here one that does not compile, so the
/// test needs no timing: the course's own reference failing is the grader's error, exit 2 with
/// the compiler's words, never a verdict on the student), and a `reference` naming no
/// directory is a spec error with its line.
#[test]
fn a_staff_spec_names_the_reference_it_is_timed_against() {
    if !enough_cores() {
        return;
    }
    let bundle = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let broken = bundle.path().join("broken-reference/src/bin");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("pool_sum.rs"), "fn main() { not rust }\n").unwrap();
    let base = std::fs::read_to_string(spec()).unwrap();
    let staff = bundle.path().join("staff.toml");
    std::fs::write(&staff, format!("reference = \"broken-reference\"\n{base}")).unwrap();
    let out = labgrade()
        .arg("grade")
        .arg(fixture("sequential_pool"))
        .arg("--spec")
        .arg(&staff)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken-reference did not build: src/bin/pool_sum.rs:1:"),
        "{err}"
    );
    assert!(!err.contains("Some("), "a debug value in: {err}");

    std::fs::write(&staff, format!("reference = \"nowhere\"\n{base}")).unwrap();
    let out = labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .arg("--spec")
        .arg(&staff)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("staff.toml:1:13: error: `reference`"), "{err}");
}

//! End-to-end: the `processes` probe on fixtures that use processes, threads, no workers, or
//! workers one after another. Needs the sandbox's PID namespace (root on Linux); elsewhere the
//! tests say `skipped:` and why.

mod common;

use common::*;
use std::path::PathBuf;

fn spec() -> PathBuf {
    root().join("tests/specs/processes.toml")
}

fn verdict(fixture_name: &str) -> Option<(String, String)> {
    let (_, r) = grade_json(fixture_name, Some(&spec()));
    if !has_process_audit(&r, fixture_name) {
        return None;
    }
    let t = test_named(&r, "pool-sum", "processes: n=1000000000 p=4");
    let reason = t["reason"].as_str().unwrap_or("pass").to_string();
    Some((reason, t["message"].as_str().unwrap().to_string()))
}

#[test]
fn a_pool_of_processes_passes() {
    let Some((reason, msg)) = verdict("reference") else {
        return;
    };
    assert_eq!(reason, "pass", "{msg}");
    assert!(msg.contains("created 4 worker processes"), "{msg}");
}

#[test]
fn threads_are_not_processes() {
    let Some((reason, msg)) = verdict("threads_pool") else {
        return;
    };
    assert_eq!(reason, "threads_not_processes", "{msg}");
    assert!(msg.contains("threads and no worker processes"), "{msg}");
}

#[test]
fn a_parent_doing_all_the_work_has_no_workers() {
    let Some((reason, msg)) = verdict("sequential_pool") else {
        return;
    };
    assert_eq!(reason, "wrong_worker_count", "{msg}");
    assert!(
        msg.contains("created 0 worker processes, expected exactly 4"),
        "{msg}"
    );
}

#[test]
fn workers_started_one_after_another_do_not_overlap() {
    let Some((reason, msg)) = verdict("serialized_pool") else {
        return;
    };
    assert_eq!(reason, "no_overlap", "{msg}");
}

#[test]
fn the_result_records_the_audit_as_evidence() {
    let (_, r) = grade_json("reference", Some(&spec()));
    if !has_process_audit(&r, "audit evidence") {
        return;
    }
    let t = test_named(&r, "pool-sum", "processes: n=1000000000 p=4");
    let audit = &t["evidence"]["processes"];
    assert_eq!(audit["leaked"], 0, "{audit:#}");
    assert_eq!(audit["max_workers_alive"], 4, "{audit:#}");
    assert_eq!(audit["threads_seen"], 0, "{audit:#}");
    // The counts the verdict used, beside what was recorded.
    assert_eq!(audit["workers_created"], 4, "{audit:#}");
    assert_eq!(audit["threads_created"], 0, "{audit:#}");
}

/// A pool of 64 threads under the runs' 1 GiB address-space limit: glibc's per-thread malloc
/// arenas (64 MiB reserved each) used to make some runs panic with EAGAIN, so the same
/// submission got "threads, not processes" one time and a crash the next. With the runs'
/// `MALLOC_ARENA_MAX` it prints the right total every time.
#[test]
fn a_pool_of_64_threads_runs_the_same_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("pool_sum");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let built = std::process::Command::new(rustc)
        .args(["-O", "--edition", "2021", "-o"])
        .arg(&exe)
        .arg(fixture("threads_pool").join("src/bin/pool_sum.rs"))
        .status()
        .expect("rustc runs");
    assert!(built.success());
    let exe = exe.to_str().unwrap();
    for run in 0..20 {
        let r = sandbox_run(&["--wall", "60", "--", exe, "1000000", "64"]);
        assert_eq!(
            (&r["ending"], r["stdout"].as_str().unwrap().trim()),
            (&serde_json::json!({ "exited": 0 }), "500000500000"),
            "run {run}: {r:#}"
        );
    }
}

#[test]
fn a_leftover_worker_is_named_as_typed_and_said_running() {
    // leaky_workers: the parent sums alone, after forking one spinning worker it never waits
    // for. The count is wrong, and the leftover is a second bug, said too.
    let Some((reason, msg)) = verdict("leaky_workers") else {
        return;
    };
    assert_eq!(reason, "wrong_worker_count", "{msg}");
    assert!(
        msg.contains("Also: `pool_sum 1000000000 4` exited while 1 of its processes was still running (a forked worker); the grader stopped it."),
        "{msg}"
    );
    assert!(!msg.contains("labgrade-stage"), "{msg}");
    assert!(!msg.contains("(es)"), "{msg}");
}

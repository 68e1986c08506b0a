//! End-to-end: the real `labgrade grade` on the fixture submissions, asserting verdicts, reasons,
//! scores, messages and exit codes (CONTRACT §2 and §3).

mod common;

use common::*;
use serde_json::Value;

fn status_counts(result: &Value, exercise: &str) -> (usize, usize) {
    let tests = tests_of(result, exercise, "output");
    let pass = tests.iter().filter(|t| t["status"] == "pass").count();
    (pass, tests.len() - pass)
}

#[test]
fn reference_gets_full_marks_on_the_builtin_spec() {
    let (code, r) = grade_json("reference", None);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["submission"], "reference");
    assert!(r["max_score"].as_f64().unwrap() > 0.0);
    assert_eq!(r["score"], r["max_score"]);
    for t in r["tests"].as_array().unwrap() {
        assert_eq!(t["status"], "pass", "{t:#}");
        assert!(["pool-sum", "counter"].contains(&t["exercise"].as_str().unwrap()));
        assert_eq!(t["score"], t["max_score"]);
    }
    assert_eq!(tests_of(&r, "pool-sum", "build").len(), 1);
    assert_eq!(tests_of(&r, "counter", "build").len(), 1);
}

#[test]
fn off_by_one_chunks_fail_with_the_missing_numbers_named() {
    let (code, r) = grade_json("off_by_one", Some(&quick_spec()));
    assert_eq!(code, 1);
    let t = test_named(&r, "pool-sum", "n=10 p=1");
    assert_eq!(t["status"], "fail");
    assert_eq!(t["reason"], "wrong_output");
    assert_eq!(t["score"], 0.0);
    let msg = t["message"].as_str().unwrap();
    assert!(
        msg.contains("expected 55") && msg.contains("short by 10"),
        "{msg}"
    );
    assert_eq!(status_counts(&r, "counter"), (2, 0));
    assert!(r["score"].as_f64().unwrap() < r["max_score"].as_f64().unwrap());
}

#[test]
fn u64_overflow_fails_only_beyond_two_to_the_64() {
    let (_, r) = grade_json("overflow_u64", None);
    let tests = tests_of(&r, "pool-sum", "output");
    let failed: Vec<&&Value> = tests.iter().filter(|t| t["status"] == "fail").collect();
    assert!(!failed.is_empty(), "the large-N tests must fail");
    for t in &failed {
        let args = t["evidence"]["command"].as_str().unwrap_or("");
        assert!(
            args.contains("6074001000") || args.contains("7500000000"),
            "only large N may fail: {t:#}"
        );
    }
    assert!(tests.len() > failed.len() + 10);
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let (code, r) = grade_json("panics", Some(&quick_spec()));
    assert_eq!(code, 1);
    let t = test_named(&r, "pool-sum", "n=10 p=3");
    assert_eq!(t["status"], "fail");
    assert!(
        ["exit_status", "crash"].contains(&t["reason"].as_str().unwrap()),
        "{t:#}"
    );
    assert!(t["message"].as_str().unwrap().contains("panicked"), "{t:#}");
    assert_eq!(test_named(&r, "pool-sum", "n=10 p=1")["status"], "pass");
}

#[test]
fn a_syntax_error_in_one_binary_costs_only_that_exercise() {
    let (code, r) = grade_json("syntax_error_counter", Some(&quick_spec()));
    assert_eq!(code, 1);
    let build = tests_of(&r, "counter", "build")[0];
    assert_eq!(build["status"], "fail");
    assert_eq!(build["reason"], "build_failed");
    let msg = build["message"].as_str().unwrap();
    assert!(
        msg.contains("src/bin/counter.rs:"),
        "the first error with file and line: {msg}"
    );
    for t in tests_of(&r, "counter", "output") {
        assert_eq!(t["status"], "fail");
        assert_eq!(t["reason"], "build_failed");
    }
    let (pass, fail) = status_counts(&r, "pool-sum");
    assert_eq!(fail, 0, "{r:#}");
    assert!(pass > 0);
}

#[test]
fn a_missing_binary_is_named() {
    let (_, r) = grade_json("missing_counter", Some(&quick_spec()));
    let build = tests_of(&r, "counter", "build")[0];
    assert_eq!(build["reason"], "missing_binary");
    assert!(build["message"]
        .as_str()
        .unwrap()
        .contains("src/bin/counter.rs is missing"));
    assert_eq!(status_counts(&r, "pool-sum").1, 0);
}

#[test]
fn an_endless_loop_times_out() {
    let (_, r) = grade_json("infinite_loop", Some(&quick_spec()));
    let t = test_named(&r, "pool-sum", "n=10 p=1");
    assert_eq!(t["reason"], "timeout", "{t:#}");
    assert!(t["message"]
        .as_str()
        .unwrap()
        .contains("did not finish within 5.0 s"));
}

#[test]
fn non_utf8_output_is_a_wrong_output() {
    let (_, r) = grade_json("non_utf8", Some(&quick_spec()));
    let t = test_named(&r, "pool-sum", "n=10 p=1");
    assert_eq!(t["reason"], "wrong_output");
    assert!(
        t["message"].as_str().unwrap().contains("not UTF-8"),
        "{t:#}"
    );
}

#[test]
fn accepting_bad_arguments_fails_the_refusal_tests() {
    let (_, r) = grade_json("bad_args_accepted", Some(&quick_spec()));
    let t = test_named(&r, "pool-sum", "bad args: abc 2");
    assert_eq!(t["status"], "fail");
    assert_eq!(t["reason"], "exit_status");
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .contains("non-zero exit status"),
        "{t:#}"
    );
    assert_eq!(test_named(&r, "pool-sum", "n=10 p=3")["status"], "pass");
}

#[test]
fn an_output_flood_is_stopped() {
    let (_, r) = grade_json("output_flood", Some(&quick_spec()));
    let t = test_named(&r, "pool-sum", "n=10 p=1");
    assert_eq!(t["reason"], "output_limit", "{t:#}");
    assert!(t["evidence"]["stdout"].as_str().unwrap().len() <= 1000);
}

#[test]
fn ignoring_sigterm_does_not_outlive_the_timeout() {
    let started = std::time::Instant::now();
    let (_, r) = grade_json("sigterm_ignored", Some(&quick_spec()));
    let t = test_named(&r, "pool-sum", "n=10 p=1");
    assert_eq!(t["reason"], "timeout", "{t:#}");
    // Every pool-sum run sleeps 60 s if not killed; the whole grading must take far less.
    assert!(
        started.elapsed().as_secs() < 55,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn extras_are_ignored_with_warnings_and_build_rs_never_runs() {
    let (code, r) = grade_json("extras", Some(&quick_spec()));
    assert_eq!(code, 0, "{r:#}");
    let warnings: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for name in ["Cargo.toml", "build.rs", "target", ".secret", "README.md"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&format!("ignored {name}:"))),
            "no warning for {name}: {warnings:?}"
        );
    }
}

#[test]
fn extra_modules_under_src_are_built() {
    let (code, r) = grade_json("lib_helpers", Some(&quick_spec()));
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["score"], r["max_score"]);
}

#[test]
fn an_empty_submission_scores_zero_with_a_reason_and_loose_files_are_graded() {
    let (code, r) = grade_json("misshaped", Some(&quick_spec()));
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["score"], r["max_score"]);
    assert_eq!(r["layout"]["kind"], "loose");
    for (name, needle) in [("empty", "is empty")] {
        let (code, r) = grade_json(name, Some(&quick_spec()));
        assert_eq!(code, 1, "{name}: {r:#}");
        assert_eq!(r["score"], 0.0);
        assert!(r["max_score"].as_f64().unwrap() > 0.0);
        for t in r["tests"].as_array().unwrap() {
            assert_eq!(t["status"], "fail");
            assert_eq!(t["reason"], "unusable_submission");
            assert!(t["message"].as_str().unwrap().contains(needle), "{t:#}");
        }
    }
}

#[test]
fn a_wrapped_u64_total_is_recognised() {
    let (code, r) = grade_json("wrapping_u64", None);
    assert_eq!(code, 1);
    let t = test_named(&r, "pool-sum", "beyond u64: n=6074001000 p=4");
    assert_eq!(t["reason"], "wrong_output");
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .contains("wrapped around 2^64"),
        "{t:#}"
    );
    assert_eq!(test_named(&r, "pool-sum", "n=10 p=3")["status"], "pass");
}

/// Partial sums handed over as exit statuses arrive modulo 256: the message names the exit
/// status, not a chunking bug (which is what "short by 4608" would otherwise suggest).
#[test]
fn partial_sums_sent_as_exit_statuses_are_recognised() {
    let (code, r) = grade_json("exit_status_sums", Some(&quick_spec()));
    assert_eq!(code, 1);
    assert_eq!(test_named(&r, "pool-sum", "n=10 p=3")["status"], "pass");
    let t = test_named(&r, "pool-sum", "n=1000003 p=3");
    assert_eq!(t["reason"], "wrong_output", "{t:#}");
    let msg = t["message"].as_str().unwrap();
    assert!(msg.contains("exit status holds only 0-255"), "{msg}");
    assert!(!msg.contains("chunk boundaries"), "{msg}");
}

#[test]
fn a_u64_chunk_sum_fails_only_where_a_chunk_exceeds_u64() {
    // u128 total, u64 per-chunk sum: full marks on every test whose chunks fit a u64, the
    // total beyond 2^64 included; the worker whose own chunk overflows panics.
    let (code, r) = grade_json("u64_chunk", None);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        test_named(&r, "pool-sum", "beyond u64: n=6074001000 p=4")["status"],
        "pass"
    );
    let t = test_named(&r, "pool-sum", "beyond u64 per worker: n=7500000000 p=2");
    assert_eq!(t["status"], "fail", "{t:#}");
    let failed: Vec<&Value> = r["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "fail")
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "only the per-worker test fails: {failed:#?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn no_worker_outlives_its_grading() {
    // Busy workers that run 60 s, workers orphaned by a panicking parent, and a worker that
    // spins for 30 s after the main process has printed and exited.
    for name in ["infinite_loop", "panics", "leaky_workers"] {
        let (_, r) = grade_json(name, Some(&quick_spec()));
        assert_eq!(r["submission"], name);
    }
    // SIGKILL is delivered asynchronously; give the kernel a moment to tear them down.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let leaked = leaked_student_processes();
    assert!(leaked.is_empty(), "left behind: {leaked:?}");
}

/// The reason code of each test of `exercise`, by name.
fn reasons<'a>(r: &'a Value, exercise: &str) -> Vec<(&'a str, &'a str)> {
    r["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["exercise"] == exercise && t["kind"] != "build")
        .map(|t| {
            let reason = t["reason"].as_str().unwrap_or("pass");
            (t["name"].as_str().unwrap(), reason)
        })
        .collect()
}

#[test]
fn a_pipe_deadlock_is_stopped_after_its_first_two_tests() {
    let (code, r) = grade_json("pipe_deadlock", Some(&hangs_spec()));
    assert_eq!(code, 1);
    assert_eq!(
        reasons(&r, "pool-sum"),
        [
            ("n=0 p=1", "timeout"),
            ("n=0 p=2", "timeout"),
            ("n=10 p=1", "not_run_after_hangs"),
            ("n=10 p=2", "not_run_after_hangs"),
            ("large: n=1000003 p=2", "not_run_after_hangs"),
            // Refusals still run (with the hang limit): this one refuses at once.
            ("bad args: abc 2", "pass"),
            ("speedup: p=2", "not_run_after_hangs"),
        ],
        "{r:#}"
    );
    for gate in ["n=0 p=1", "n=0 p=2"] {
        let t = test_named(&r, "pool-sum", gate);
        assert_eq!(t["status"], "fail");
        // Stopped at the hang limit, not at the test's own 20 s.
        let stopped = t["evidence"]["wall_ms"].as_u64().unwrap();
        assert!(stopped < 15_000, "{t:#}");
        assert_eq!(t["evidence"]["hang"]["kind"], "idle", "{t:#}");
        // What the processes were blocked on names the one cause: the parent reading a pipe
        // after its workers had exited.
        assert_eq!(
            t["evidence"]["hang"]["cause"], "write_end_left_open",
            "{t:#}"
        );
        let msg = t["message"].as_str().unwrap();
        assert!(
            msg.contains("it sat idle") && msg.contains("a write end left open"),
            "{msg}"
        );
        assert!(
            !msg.contains("never finishes") && !msg.contains("usually"),
            "one cause, not the usual guesses: {msg}"
        );
    }
    let t = test_named(&r, "pool-sum", "n=10 p=1");
    assert_eq!(t["status"], "fail");
    assert_eq!(t["score"], 0.0);
    let msg = t["message"].as_str().unwrap();
    assert!(
        msg.starts_with("not run: `pool_sum` hung on n=0 p=1 and n=0 p=2: no output after "),
        "{msg}"
    );
    assert!(
        msg.contains("no output after")
            && msg.contains("(it sat idle: a pipe's write end left open)")
            && msg.ends_with("its 4 other tests were not run"),
        "{msg}"
    );
    assert!(!msg.contains("TimedOut"), "{msg}");
    // The other exercise is graded as usual.
    assert_eq!(
        test_named(&r, "counter", "safe p=2 k=1000")["status"],
        "pass"
    );
}

#[test]
fn a_pool_that_hangs_only_on_large_n_loses_only_those_tests() {
    let (code, r) = grade_json("hangs_on_large_n", Some(&hangs_spec()));
    assert_eq!(code, 1);
    let got = reasons(&r, "pool-sum");
    assert_eq!(
        got.iter()
            .filter(|(name, _)| *name != "speedup: p=2")
            .copied()
            .collect::<Vec<_>>(),
        [
            ("n=0 p=1", "pass"),
            ("n=0 p=2", "pass"),
            ("n=10 p=1", "pass"),
            ("n=10 p=2", "pass"),
            ("large: n=1000003 p=2", "timeout"),
            ("bad args: abc 2", "pass"),
        ],
        "{r:#}"
    );
    let t = test_named(&r, "pool-sum", "large: n=1000003 p=2");
    // Its own timeout, not the hang limit.
    assert!(
        t["message"].as_str().unwrap().contains("within 5.0 s"),
        "{t:#}"
    );
    // The parent in `waitpid`, a worker asleep: that worker, not a pipe, is named.
    assert_eq!(
        t["evidence"]["hang"]["cause"], "worker_never_finishes",
        "{t:#}"
    );
    let msg = t["message"].as_str().unwrap();
    assert!(msg.contains("that worker never finishes"), "{t:#}");
    assert!(
        !msg.contains("write end") && !msg.contains("usually"),
        "one cause, not the usual guesses: {msg}"
    );
}

/// A spec whose output limits come from the reference's time (`timeout_from_reference`).
fn reference_timeouts_spec() -> std::path::PathBuf {
    root().join("tests/specs/reference_timeouts.toml")
}

#[test]
fn a_hang_on_large_n_only_stops_at_the_limit_derived_from_the_reference() {
    let (code, r) = grade_json("hangs_on_large_n", Some(&reference_timeouts_spec()));
    assert_eq!(code, 1);
    assert_eq!(
        reasons(&r, "pool-sum"),
        [
            ("n=0 p=1", "pass"),
            ("n=0 p=2", "pass"),
            ("n=10 p=1", "pass"),
            ("n=10 p=2", "pass"),
            ("large: n=1000003 p=2", "timeout"),
            ("processes: n=1000003 p=2", "timeout"),
            ("bad args: abc 2", "pass"),
        ],
        "{r:#}"
    );
    // The processes test of the same input stops at the same derived limit.
    let p = test_named(&r, "pool-sum", "processes: n=1000003 p=2");
    assert_eq!(p["evidence"]["time_limit"]["limit_ms"], 2000, "{p:#}");
    assert!(
        p["message"]
            .as_str()
            .unwrap()
            .contains("a reference pool needs"),
        "{p:#}"
    );
    let t = test_named(&r, "pool-sum", "large: n=1000003 p=2");
    // The yardstick needs milliseconds here: the limit is the 2 s floor, not the spec's 30 s.
    let limit = &t["evidence"]["time_limit"];
    assert_eq!(limit["limit_ms"], 2000, "{t:#}");
    assert_eq!(limit["spec_ms"], 30_000, "{t:#}");
    assert_eq!(limit["floor_ms"], 2000, "{t:#}");
    assert_eq!(limit["multiple"], 20, "{t:#}");
    assert!(
        limit["reference_ms"].as_u64().unwrap() * 20 <= 2000,
        "{t:#}"
    );
    let msg = t["message"].as_str().unwrap();
    assert!(
        msg.contains("within 2.0 s") && msg.contains("a reference pool needs"),
        "{msg}"
    );
    // The counter is not a pool_sum: its limit is the spec's.
    let c = test_named(&r, "counter", "safe p=2 k=1000");
    assert_eq!(c["status"], "pass");
    assert!(c["evidence"].get("time_limit").is_none(), "{c:#}");
}

/// The reference's times are kept on disk for the next grader process on this machine: a
/// second grading, in another process, derives its limits from the same times without timing
/// the reference again. (A staff reference of its own, so that no other test's kept times,
/// which a recheck may replace, are involved.)
#[test]
fn the_references_times_are_kept_for_the_next_grader_process() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    copy_dir(
        &fixture("reference"),
        &scratch.path().join("staff-reference"),
    );
    let spec = scratch.path().join("kept.toml");
    let text = std::fs::read_to_string(reference_timeouts_spec()).unwrap();
    std::fs::write(
        &spec,
        text.replacen("[build]", "reference = \"staff-reference\"\n\n[build]", 1),
    )
    .unwrap();
    let reference_times = || {
        let (code, r) = grade_json("reference", Some(&spec));
        assert_eq!(code, 0, "{r:#}");
        r["tests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| {
                let ev = &t["evidence"];
                Some((
                    ev["command"].as_str()?.to_string(),
                    ev["time_limit"]["reference_ms"].as_u64()?,
                ))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let first = reference_times();
    assert!(first.len() >= 5, "{first:?}");
    assert!(cache_dir().join("reference-times").is_dir());
    assert_eq!(
        reference_times(),
        first,
        "the second process timed the reference again"
    );
}

#[test]
fn the_reference_loses_nothing_to_limits_derived_from_the_yardstick() {
    let (code, r) = grade_json("reference", Some(&reference_timeouts_spec()));
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["score"], r["max_score"]);
    let t = test_named(&r, "pool-sum", "large: n=1000003 p=2");
    assert_eq!(t["evidence"]["time_limit"]["limit_ms"], 2000, "{t:#}");
}

#[test]
fn a_busy_loop_on_every_input_is_stopped_and_called_busy() {
    let (_, r) = grade_json("infinite_loop", Some(&hangs_spec()));
    let got = reasons(&r, "pool-sum");
    assert_eq!(got[0], ("n=0 p=1", "timeout"), "{r:#}");
    assert_eq!(got[1], ("n=0 p=2", "timeout"), "{r:#}");
    for (name, reason) in &got[2..] {
        let want = if name.starts_with("bad args") {
            "pass"
        } else {
            "not_run_after_hangs"
        };
        assert_eq!(*reason, want, "{name}");
    }
    // Workers still running when time ran out: an endless loop, on every path.
    for gate in ["n=0 p=1", "n=0 p=2"] {
        let t = test_named(&r, "pool-sum", gate);
        assert_eq!(t["evidence"]["hang"]["cause"], "endless_loop", "{t:#}");
        let msg = t["message"].as_str().unwrap();
        assert!(msg.contains("an endless loop"), "{msg}");
        assert!(!msg.contains("write end"), "{msg}");
    }
    // Only the cgroup counts the CPU of workers nobody waited for.
    if layer_active(&r, "cgroup") {
        let t = test_named(&r, "pool-sum", "n=0 p=1");
        assert_eq!(t["evidence"]["hang"]["kind"], "busy", "{t:#}");
        let msg = test_named(&r, "pool-sum", "n=10 p=1")["message"]
            .as_str()
            .unwrap();
        assert!(msg.contains("kept the CPU busy"), "{msg}");
    } else {
        eprintln!("skipped: busy classification: no cgroup here");
    }
}

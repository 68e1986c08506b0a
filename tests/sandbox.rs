//! End-to-end: `labgrade doctor` and `labgrade sandbox-run` against real processes.

mod common;

use common::*;
use serde_json::Value;

fn isolated() -> bool {
    let r = sandbox_run(&["--", "/bin/true"]);
    if r["isolated"] != true {
        skip("the namespace layers are not available here (see labgrade doctor)");
    }
    r["isolated"] == true
}

#[test]
fn doctor_lists_every_layer() {
    let out = labgrade().arg("doctor").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for layer in [
        "process group and rlimits",
        "pid namespace",
        "network namespace",
        "mount namespace",
        "ipc and uts namespaces",
        "cgroup",
        "unprivileged user",
        "build user",
        "seccomp",
        "landlock",
        "seccomp",
        "process accounting",
    ] {
        assert!(text.contains(layer), "{layer} missing from:\n{text}");
    }
    assert!(text.contains("active"), "{text}");
    assert!(text.starts_with("machine shape: "), "{text}");
}

/// On this project's CI machine (Linux, root, namespaces, cgroup v1) every layer must be active,
/// so that no layer's test silently skips there.
#[test]
fn on_ci_every_layer_is_active() {
    if !on_ci() {
        skip("not a CI run (CI is unset)");
        return;
    }
    let out = labgrade().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("missing"),
        "CI must run every layer's tests:\n{text}"
    );
    assert!(
        text.starts_with("machine shape: root with namespaces\n"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("active") && l.contains("landlock") && l.contains("fully")),
        "CI's kernel has Landlock ABI 6 or later: {text}"
    );
}

#[test]
fn a_sandboxed_program_sees_its_own_small_world() {
    if !isolated() {
        return;
    }
    let r = sandbox_run(&[
        "--",
        "/bin/sh",
        "-c",
        "echo $$; id -u; ls /; ls /root 2>&1; ls /tmp | wc -l",
    ]);
    let out = r["stdout"].as_str().unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "2",
        "the program is PID 2 under the sandbox init: {out}"
    );
    assert_eq!(
        lines[1],
        r["uid"].to_string(),
        "it runs as the uid the outcome names: {out}"
    );
    if nix::unistd::geteuid().is_root() {
        assert_ne!(lines[1], "0", "a root grader's run is not root: {out}");
    }
    assert!(
        !out.contains("\nhome\n") && !out.contains("\nwork\n"),
        "{out}"
    );
    assert!(
        out.contains("No such file or directory"),
        "/root is not there: {out}"
    );
    assert_eq!(
        lines.last().unwrap().trim(),
        "0",
        "a fresh, empty /tmp: {out}"
    );
}

#[test]
fn a_daemon_escaping_the_group_dies_with_the_sandbox() {
    if !isolated() {
        return;
    }
    let r = sandbox_run(&[
        "--",
        "/bin/sh",
        "-c",
        // Each sleeper leaves a mark just before it execs, and the main process waits for both
        // marks: the audit then counts two leaked processes however the forks are scheduled
        // (a bare `(setsid sleep &)` may not have forked yet when the main process exits).
        "(setsid sh -c ': > /tmp/a; exec sleep 31.4159' &) ; \
         sh -c ': > /tmp/b; exec sleep 31.4159' & \
         until [ -e /tmp/a ] && [ -e /tmp/b ]; do sleep 0.01; done; echo started",
    ]);
    assert_eq!(r["ending"]["exited"], 0, "{r:#}");
    assert_eq!(r["audit"]["leaked"], 2, "{r:#}");
    assert!(r["wall_ms"].as_f64().unwrap() < 5000.0, "{r:#}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The sleeps are gone from the whole machine, not just from the group.
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        !ps.lines().any(|l| l.trim() == "sleep 31.4159"),
        "still running"
    );
}

#[test]
fn the_portable_layer_still_limits_and_kills() {
    let r = sandbox_run(&[
        "--isolation",
        "portable",
        "--wall",
        "0.5",
        "--",
        "/bin/sh",
        "-c",
        "trap '' TERM; sleep 30",
    ]);
    assert_eq!(r["ending"]["timed_out_after_ms"], 500, "{r:#}");
    assert_eq!(r["isolated"], false);
}

/// `labgrade ARGS` as the unprivileged user `nobody`, when this test runs as root and can switch
/// (util-linux's `setpriv`); `None` (with the reason printed) where it cannot.
fn as_nobody(args: &[&str]) -> Option<std::process::Output> {
    let cannot = |why: &str| {
        skip(format!("unprivileged run: {why}"));
        None
    };
    if !nix::unistd::geteuid().is_root() {
        return cannot("the tests do not run as root, so they cannot switch to another user");
    }
    let bin = assert_cmd::cargo::cargo_bin("labgrade");
    let run = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&bin)
            .args(args)
            .current_dir("/")
            .env("HOME", "/nonexistent")
            .env_remove("LABGRADE_CACHE_DIR")
            .output()
    };
    match run(&["--version"]) {
        Ok(o) if o.status.success() => {}
        Ok(_) => {
            return cannot("the labgrade binary is not reachable by nobody (a private directory)")
        }
        Err(e) => return cannot(&format!("setpriv: {e}")),
    }
    run(args).ok()
}

#[test]
fn without_root_the_namespaces_come_from_a_user_namespace() {
    let Some(out) = as_nobody(&["doctor"]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("unprivileged user namespace") {
        skip(format!(
            "this kernel refuses unprivileged user namespaces:\n{text}"
        ));
        return;
    }
    assert!(text.contains("missing  cgroup"), "{text}");
    let out = as_nobody(&[
        "sandbox-run",
        "--wall",
        "20",
        "--",
        "/bin/sh",
        "-c",
        "echo $$; ls /root 2>&1; i=0; while [ $i -lt 3000 ]; do sleep 29.5 & i=$((i+1)); done 2>/dev/null; echo $i",
    ])
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["isolated"], true, "{r:#}");
    let stdout = r["stdout"].as_str().unwrap();
    assert!(
        stdout.starts_with("2\n"),
        "PID 2 inside its own PID namespace: {stdout}"
    );
    assert!(
        stdout.contains("No such file or directory"),
        "/root is not there: {stdout}"
    );
    // No cgroup without root: RLIMIT_NPROC, counted inside the sandbox's own user namespace,
    // stops the fork bomb.
    let alive = r["audit"]["max_alive"].as_u64().unwrap();
    assert!(alive < 300, "{alive} processes at once");
}

/// Host processes running `program` (by file name: the sandbox passes the resolved path as
/// `argv[0]`) with exactly `args`, from the host's `/proc`.
fn processes_running(program: &str, args: &[&str]) -> Vec<u32> {
    let matches = |cmdline: Vec<u8>| {
        let mut words = cmdline.split(|b| *b == 0).filter(|w| !w.is_empty());
        let argv0 = words.next().unwrap_or_default();
        let name = argv0.rsplit(|b| *b == b'/').next().unwrap_or_default();
        name == program.as_bytes() && words.eq(args.iter().map(|a| a.as_bytes()))
    };
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(matches))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` every 50 ms for up to `secs` seconds.
fn within(secs: u64, check: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    check()
}

/// A TA's batch killed with `kill -9` halfway must not leave student programs running: the
/// kernel's parent-death signal ends the run (and, isolated, its whole PID namespace) with it.
#[test]
fn a_grader_killed_with_sigkill_takes_its_runs_with_it() {
    if !cfg!(target_os = "linux") {
        skip("the parent-death signal is Linux's");
        return;
    }
    for (isolation, seconds) in [("full", "41.25"), ("portable", "42.75")] {
        let mut grader = std::process::Command::new(env!("CARGO_BIN_EXE_labgrade"))
            .args([
                "sandbox-run",
                "--isolation",
                isolation,
                "--wall",
                "60",
                "--",
            ])
            .args(["sleep", seconds])
            .current_dir("/")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let running = || processes_running("sleep", &[seconds]);
        let started = within(20, || !running().is_empty());
        // SAFETY: SIGKILL to the grader this test started, by its pid.
        unsafe { libc::kill(grader.id() as libc::pid_t, libc::SIGKILL) };
        grader.wait().unwrap();
        assert!(started, "{isolation}: `sleep {seconds}` never started");
        assert!(
            within(10, || running().is_empty()),
            "{isolation}: `sleep {seconds}` outlived its grader: {:?}",
            running()
        );
    }
}

/// Without a PID namespace, a `setsid` daemon escapes the group kill; the grader adopts it
/// (`PR_SET_CHILD_SUBREAPER`) and ends it with its run.
#[test]
fn a_portable_runs_setsid_daemon_is_ended_with_the_run() {
    if !cfg!(target_os = "linux") {
        skip("a subreaper is Linux's");
        return;
    }
    let r = sandbox_run(&[
        "--isolation",
        "portable",
        "--",
        "/bin/sh",
        "-c",
        "setsid sleep 44.25 & sleep 0.2; exit 0",
    ]);
    assert_eq!(r["ending"]["exited"], 0, "{r:#}");
    assert_eq!(r["escaped_output_holder"], false, "{r:#}");
    let left = processes_running("sleep", &["44.25"]);
    assert!(left.is_empty(), "the daemon outlived its run: {left:?}");
}

/// Threads and worker processes too short for any `/proc` scan: the kernel's process accounting
/// tells them apart exactly (root only; the doctor says so elsewhere, and CI runs as root).
#[test]
fn process_accounting_counts_short_threads_and_processes_exactly() {
    if !isolated() {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        skip("process accounting needs root");
        return;
    }
    let python = "/usr/bin/python3";
    if !std::path::Path::new(python).exists() {
        skip(format!("{python} is missing (it makes the threads)"));
        return;
    }
    // 4 threads that end at once, then 2 forked workers that exit at once: 3 processes.
    let script = "import os, threading\n\
                  ts = [threading.Thread(target=lambda: None) for _ in range(4)]\n\
                  [t.start() for t in ts]\n\
                  [t.join() for t in ts]\n\
                  pids = [os.fork() or os._exit(0) for _ in range(2)]\n\
                  [os.waitpid(p, 0) for p in pids]\n";
    for _ in 0..3 {
        let r = sandbox_run(&["--", python, "-c", script]);
        let audit = &r["audit"];
        assert_eq!(r["ending"]["exited"], 0, "{r:#}");
        assert_eq!(audit["processes_created"], 3, "{audit:#}");
        assert_eq!(audit["tasks_created"], 7, "{audit:#}");
    }
}

/// A root grader's builds run as the build user (not root) under the seccomp filter, and the
/// build cache's target directories are that user's.
#[test]
fn a_root_graders_builds_run_as_the_build_user() {
    if !isolated() {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        skip("not root, builds run as the grader's own user");
        return;
    }
    let r = sandbox_run(&["--isolation", "build", "--", "/usr/bin/id", "-u"]);
    let uid: u64 = r["stdout"].as_str().unwrap().trim().parse().unwrap();
    assert_ne!(uid, 0, "a build ran as root: {r:#}");
    assert_eq!(Some(uid), r["uid"].as_u64(), "{r:#}");
    assert_eq!(r["applied"]["own_user"], true, "{r:#}");
    assert_eq!(r["applied"]["seccomp"], true, "{r:#}");

    let (_, graded) = grade_json("reference", Some(&quick_spec()));
    assert_eq!(graded["score"], graded["max_score"], "{graded:#}");
    use std::os::unix::fs::MetadataExt;
    let targets: Vec<_> = std::fs::read_dir(cache_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|skeleton| std::fs::read_dir(skeleton.path()).unwrap().flatten())
        // `grade` builds in worker 0's directory (others are leased, and fixed, by batches).
        .filter(|e| e.file_name() == "target-0")
        .map(|e| e.path())
        .collect();
    assert!(
        !targets.is_empty(),
        "no target directory in {:?}",
        cache_dir()
    );
    for dir in targets {
        for path in [dir.clone(), dir.join("release/deps")] {
            let owner = std::fs::metadata(&path).unwrap().uid() as u64;
            assert_eq!(owner, uid, "{} is not the build user's", path.display());
        }
    }
}

/// What the sandbox's init could not do before the program started (a layer it could not
/// apply, the exec itself) is the grader's error, never a run that went without it or a crash
/// blamed on the program.
#[test]
fn a_run_the_init_could_not_set_up_is_the_graders_error() {
    if !isolated() {
        return;
    }
    let out = labgrade()
        .current_dir("/")
        .args(["sandbox-run", "--", "/nonexistent/program"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("set-up failed") && stderr.contains("cannot start /nonexistent/program"),
        "{stderr}"
    );
}

/// Two lanes of one core each on this machine (width 1): a measurement's sandboxed program runs
/// on its lane's core alone, cannot widen its affinity, and ordinary work meanwhile runs on the
/// other core. (Lanes of the spec's width need four cores: `tests/vm/cgroup_v2.sh` boots a VM
/// with four.)
#[test]
fn a_measurement_is_pinned_to_its_lane_and_cannot_leave_it() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        skip("two lanes need two cores");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lanes = dir.path().to_str().unwrap();
    let probe = "grep Cpus_allowed_list /proc/self/status; taskset -p -c 0-63 $$ >/dev/null";
    let exclusive = sandbox_run(&[
        "--lane",
        "1",
        "--lane-dir",
        lanes,
        "--lane-exclusive",
        "--",
        "/bin/sh",
        "-c",
        probe,
    ]);
    let stdout = exclusive["stdout"].as_str().unwrap();
    let held = &exclusive["lane"]["cores"];
    assert_eq!(held.as_array().map(Vec::len), Some(1), "{exclusive:#}");
    assert_eq!(
        stdout.trim(),
        format!("Cpus_allowed_list:\t{}", held[0]),
        "{exclusive:#}"
    );
    // taskset's sched_setaffinity is refused by the seccomp filter.
    assert!(
        exclusive["stderr"]
            .as_str()
            .unwrap()
            .contains("Operation not permitted"),
        "{exclusive:#}"
    );
    assert_ne!(exclusive["ending"]["exited"], 0, "{exclusive:#}");
    // Ordinary work with no measurement running holds every lane.
    let shared = sandbox_run(&["--lane", "1", "--lane-dir", lanes, "--", "/bin/true"]);
    assert_eq!(
        shared["lane"]["cores"].as_array().map(Vec::len),
        Some(cores),
        "{shared:#}"
    );
}

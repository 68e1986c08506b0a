//! The sandbox against real processes (`/bin/sh` scripts). Every script is self-bounded: if the
//! sandbox failed to stop it, it would still end by itself within a minute.

use super::*;
use std::path::Path;

fn sh(script: &str, limits: Limits) -> Outcome {
    let job = Job {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        cwd: std::env::temp_dir(),
        env: minimal_env(),
        limits,
        isolation: Isolation::Portable,
        keep_visible: vec![],
    };
    run(&job).expect("spawn /bin/sh")
}

fn quick() -> Limits {
    Limits::for_run(Duration::from_secs(10))
}

fn describe(pid: u32) -> String {
    let read = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default();
    format!("stat {:?}, cmdline {:?}", read("stat"), read("cmdline"))
}

/// Still alive a second after the sandbox returned (SIGKILL is delivered asynchronously; on a
/// loaded machine the target may take a few milliseconds to be scheduled and die).
fn alive(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < deadline {
        if !alive_now(pid) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    alive_now(pid)
}

fn alive_now(pid: u32) -> bool {
    // A zombie is dead for our purposes: it only waits for its parent to reap it.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn reports_exit_code_and_output() {
    let out = sh("echo hello; echo oops >&2; exit 3", quick());
    assert_eq!(out.ending, Ending::Exited(3));
    assert_eq!(out.stdout.bytes, b"hello\n");
    assert_eq!(out.stderr.bytes, b"oops\n");
    assert!(!out.stdout.truncated);
}

#[test]
fn reports_the_killing_signal() {
    let out = sh("kill -SEGV $$; sleep 5", quick());
    assert_eq!(out.ending, Ending::Signaled(libc::SIGSEGV));
}

#[test]
fn environment_is_cleared_and_stdin_closed() {
    std::env::set_var("LABGRADE_SECRET_FOR_TEST", "leak");
    let out = sh("env; read line && echo got-input", quick());
    let text = out.stdout.lossy();
    assert!(!text.contains("LABGRADE_SECRET_FOR_TEST"), "{text}");
    assert!(text.contains("PATH=/usr/local/bin:/usr/bin:/bin"), "{text}");
    assert!(!text.contains("got-input"), "stdin must be closed: {text}");
}

#[cfg(target_os = "linux")]
#[test]
fn timeout_kills_a_group_that_ignores_sigterm() {
    let mut limits = quick();
    limits.wall = Duration::from_millis(300);
    // The shell and its child ignore SIGTERM; both would end by themselves after 30 s.
    let out = sh("trap '' TERM; sleep 30 & echo $!; wait; sleep 30", limits);
    assert_eq!(
        out.ending,
        Ending::TimedOut {
            after: Duration::from_millis(300)
        }
    );
    assert!(out.wall < Duration::from_secs(5), "took {:?}", out.wall);
    let sleeper: u32 = out.stdout.lossy().trim().parse().unwrap();
    assert!(
        !alive(sleeper),
        "background sleep {sleeper} survived the timeout: {}",
        describe(sleeper)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_run_stopped_for_time_shows_what_each_process_was_blocked_on() {
    let mut limits = quick();
    limits.wall = Duration::from_secs(2);
    // The shell waits for a child that sleeps (both end by themselves after 30 s).
    let out = sh("sleep 30 & wait", limits);
    assert!(matches!(out.ending, Ending::TimedOut { .. }));
    let snap = out
        .at_timeout
        .expect("a portable run's processes are readable");
    // (dash waits in `sigsuspend`, bash in `wait4`: blocked either way, with a kernel symbol.)
    assert_eq!(snap.main.state, 'S', "{snap:?}");
    assert!(
        snap.main.wchan.is_some() && snap.main.syscall.is_some(),
        "{snap:?}"
    );
    assert_eq!(snap.others.len(), 1, "{snap:?}");
    assert_eq!(snap.others[0].ppid, snap.main.pid, "{snap:?}");
    assert_eq!(snap.others[0].state, 'S', "{snap:?}");
    #[allow(clippy::useless_conversion)] // `c_long` is `i32` on 32-bit targets.
    let asleep = [libc::SYS_nanosleep, libc::SYS_clock_nanosleep].map(i64::from);
    assert!(
        snap.others[0].syscall.is_some_and(|n| asleep.contains(&n)),
        "{snap:?}"
    );
    // A run that ended by itself has none.
    assert!(sh("exit 0", quick()).at_timeout.is_none());
}

#[cfg(target_os = "linux")]
#[test]
fn a_traced_portable_run_stopped_for_time_shows_its_tree_too() {
    if let Err(why) = &Layers::get().ptrace {
        crate::skip::skip(format!("no ptrace here: {why}"));
        return;
    }
    let mut limits = quick();
    limits.wall = Duration::from_secs(2);
    // A student-code run on the portable path: traced, as in a container. The parent reads a
    // pipe whose writer is asleep.
    let job = Job {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), "sleep 30 | cat; true".into()],
        cwd: std::env::temp_dir(),
        env: minimal_env(),
        limits,
        isolation: Isolation::Full,
        keep_visible: vec![],
    };
    let out = run_portable(&job).expect("spawn /bin/sh");
    assert!(matches!(out.ending, Ending::TimedOut { .. }));
    let snap = out
        .at_timeout
        .expect("a traced run's processes are readable");
    assert_eq!(snap.others.len(), 2, "{snap:?}");
    let reader = snap
        .others
        .iter()
        .find(|p| p.wchan.as_deref().is_some_and(|w| w.contains("pipe_read")));
    assert!(reader.is_some(), "{snap:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn leftover_workers_are_killed_when_the_main_process_exits() {
    let out = sh("sleep 30 & echo $!", quick());
    assert_eq!(out.ending, Ending::Exited(0));
    let worker: u32 = out.stdout.lossy().trim().parse().unwrap();
    assert!(
        !alive(worker),
        "worker {worker} outlived the run: {}",
        describe(worker)
    );
    assert!(
        out.wall < Duration::from_secs(5),
        "waited for the worker: {:?}",
        out.wall
    );
}

#[test]
fn output_flood_is_capped_and_killed() {
    let mut limits = quick();
    limits.output_bytes = 64 * 1024;
    // 512 MiB at most if the cap failed.
    let out = sh("head -c 536870912 /dev/zero", limits);
    assert_eq!(
        out.ending,
        Ending::OutputLimit {
            stream: Stream::Stdout,
            cap_bytes: 64 * 1024
        }
    );
    assert_eq!(out.stdout.bytes.len(), 64 * 1024);
    assert!(out.stdout.truncated);
}

#[cfg(target_os = "linux")]
#[test]
fn cpu_limit_stops_a_busy_loop() {
    let mut limits = quick();
    limits.cpu = Some(Duration::from_secs(1));
    limits.wall = Duration::from_secs(30);
    // Busy for at most ~60 s of CPU if the limit failed.
    let out = sh(
        "i=0; while [ $i -lt 100000000 ]; do i=$((i+1)); done",
        limits,
    );
    assert_eq!(out.ending, Ending::Signaled(libc::SIGXCPU));
    // Not 1 s exactly: the time the kernel checks RLIMIT_CPU against (sampled at ticks) and the
    // runtime `rusage` reports disagree on a loaded VM: 0.73–0.86 s in `rusage` when the limit
    // fired, in 5 runs of 40 beside other tests. Half the limit still tells a limit that
    // fired for the CPU time used from one that fired at once.
    assert!(out.cpu >= Duration::from_millis(500), "cpu {:?}", out.cpu);
}

#[test]
fn file_size_limit_stops_a_large_write() {
    let dir = tempfile::tempdir().unwrap();
    // A root grader runs the program as a uid of its own: the directory must be its to write.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut limits = quick();
    limits.file_size_bytes = Some(1 << 20);
    let job = Job {
        program: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            "head -c 8388608 /dev/zero > big; echo $?".into(),
        ],
        cwd: dir.path().to_path_buf(),
        env: minimal_env(),
        limits,
        isolation: Isolation::Portable,
        // Landlock lets a run write only where its job says.
        keep_visible: vec![Visible::writable(dir.path())],
    };
    let out = run(&job).unwrap();
    let size = std::fs::metadata(dir.path().join("big")).unwrap().len();
    assert!(size <= 1 << 20, "wrote {size} bytes");
    assert_ne!(
        out.stdout.lossy().trim(),
        "0",
        "the write should have failed"
    );
}

#[test]
fn missing_program_is_a_spawn_error() {
    let job = Job {
        program: Path::new("/nonexistent/labgrade-test").into(),
        args: vec![],
        cwd: std::env::temp_dir(),
        env: minimal_env(),
        limits: quick(),
        isolation: Isolation::Portable,
        keep_visible: vec![],
    };
    let err = run(&job).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/labgrade-test"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn portable_runs_get_the_filter_and_never_run_as_root() {
    let out = sh(
        "id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
        quick(),
    );
    let text = out.stdout.lossy();
    let mut lines = text.lines();
    let uid: u32 = lines.next().unwrap().parse().unwrap();
    assert_eq!(uid, out.uid, "{text}");
    let rest: Vec<&str> = lines
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    // no_new_privs set, seccomp in filter mode (2), for every grader.
    assert_eq!(rest, ["1", "2"], "{text}");
    assert!(out.applied.seccomp);
    if nix::unistd::geteuid().is_root() {
        assert_ne!(uid, 0, "a root grader's run ran as root");
        assert!(
            out.applied.own_user && out.applied.rlimit_nproc,
            "{:?}",
            out.applied
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn concurrent_runs_of_a_root_grader_have_different_uids() {
    if !nix::unistd::geteuid().is_root() {
        crate::skip::skip("not root, runs keep the grader's user");
        return;
    }
    let runs: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(|| sh("sleep 0.5; id -u", quick())))
        .collect();
    let uids: Vec<u32> = runs
        .into_iter()
        .map(|r| r.join().unwrap().stdout.lossy().trim().parse().unwrap())
        .collect();
    assert_ne!(uids[0], uids[1], "two concurrent runs shared a uid");
}

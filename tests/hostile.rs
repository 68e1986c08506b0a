//! End-to-end: a hostile submission (`fixtures/hostile`) attacks the grader in every way we could
//! think of; one grading runs every attack. For each: the verdict, that the grader survived,
//! that no process of the submission is left (checked here, from the host's `/proc`), that
//! nothing was left in the machine's scratch directories, and that nothing secret reached the
//! result. Needs the full sandbox (root on Linux); elsewhere the test says `skipped:` and why.

mod common;

use common::attacks::{attacks, sneaky_submission, spec_for, tamper, unix_listener, Targets, HOG};
use common::*;
use serde_json::Value;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;

fn stdout_of(t: &Value) -> &str {
    t["evidence"]["stdout"].as_str().unwrap_or("").trim()
}

#[test]
fn every_attack_is_contained() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // A secret only root can read, outside the submission.
    let secret = scratch.path().join("hidden-tests.toml");
    std::fs::write(&secret, "SECRET-HIDDEN-TEST-42").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let marker = format!("labgrade-escape-{}", std::process::id());
    let (unix_socket, unix_listener) = unix_listener(scratch.path());
    let mut attacks = attacks(&Targets {
        secret: secret.clone(),
        port,
        marker: marker.clone(),
        unix_socket,
    });
    let spec = scratch.path().join("hostile.toml");
    // The grader's spec, outside the view (tests/shapes.rs tampers with more where there is
    // no view).
    attacks.push(tamper("tamper_spec", &spec));
    std::fs::write(&spec, spec_for(&attacks)).unwrap();

    let mut cmd = labgrade();
    cmd.arg("grade")
        .arg(root().join("fixtures/hostile"))
        .args(["--format", "json", "--spec"])
        .arg(&spec);
    let out = cmd.output().unwrap();
    // The grader survived every attack and reported.
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "the grader died: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    if !has_process_audit(&r, "hostile submissions") {
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("SECRET-HIDDEN-TEST-42"),
        "the secret leaked into the result"
    );

    let mut wrong = Vec::new();
    for attack in &attacks {
        let t = test_named(&r, "pool-sum", attack.name);
        let got = t["reason"].as_str().unwrap_or("pass");
        if got != attack.reason {
            wrong.push(format!(
                "{}: expected {}, got {got}: {}",
                attack.name, attack.reason, t["message"]
            ));
        }
        let said = stdout_of(t);
        if !(attack.says)(said) {
            wrong.push(format!(
                "{}: expected it to say {}, it said {said:?}",
                attack.name, attack.expected
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong outcomes:\n{}", wrong.join("\n"));
    assert!(matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock));
    assert!(
        matches!(unix_listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "a connection from the sandbox reached the UNIX socket"
    );
    // The grader's spec is out of the view: unchanged.
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), spec_for(&attacks));

    // Nothing left behind on the machine.
    for path in [
        format!("/tmp/{marker}"),
        format!("/var/tmp/{marker}"),
        format!("/dev/shm/{marker}"),
        "/tmp/labgrade-big-file".to_string(),
        "/tmp/labgrade-small-0".to_string(),
    ] {
        assert!(!Path::new(&path).exists(), "{path} was left behind");
    }
    let sysv = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
    assert!(
        !sysv.contains("448166622"),
        "a System V segment was left behind"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let leaked = leaked_student_processes();
    assert!(leaked.is_empty(), "left behind: {leaked:?}");
}

/// Compile-time reads: `include_str!` and `#[path]` make rustc read any path the build can see.
#[test]
fn compile_time_reads_see_nothing_outside_the_submission() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let secret = scratch.path().join("hidden-tests.rs");
    std::fs::write(
        &secret,
        "pub const S: &str = \"SECRET-AT-COMPILE-TIME-7\";\n",
    )
    .unwrap();
    let sub = sneaky_submission(scratch.path(), &secret, &secret);
    let out = labgrade()
        .arg("grade")
        .arg(&sub)
        .args(["--format", "json", "--spec"])
        .arg(quick_spec())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let r: Value = serde_json::from_str(&text).unwrap();
    if !has_process_audit(&r, "compile-time reads") {
        return;
    }
    assert!(
        !text.contains("SECRET-AT-COMPILE-TIME-7"),
        "the secret leaked: {text}"
    );
    for exercise in ["pool-sum", "counter"] {
        let build = tests_of(&r, exercise, "build")[0];
        assert_eq!(build["reason"], "build_failed", "{build:#}");
        let msg = build["message"].as_str().unwrap();
        assert!(
            msg.contains("couldn't read") || msg.contains("file not found"),
            "{msg}"
        );
    }
}

/// A compile-time memory hog: a 6 GiB `static`, which rustc evaluates in its own memory (it
/// stops there should the sandbox regress). The build's cgroup kills the compiler at its
/// memory limit, and the student reads that the compiler ran out of memory and what to look
/// for, not cargo's bare "could not compile". The other exercise still builds.
/// (`tests/shapes.rs` checks the same hog where there is no cgroup.)
#[test]
fn a_compile_time_memory_hog_is_stopped_and_named() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sub = with_pool_sum(scratch.path(), "compile-time-hog", HOG);
    let (_, r) = grade_dir_json(&sub, Some(&quick_spec()));
    let cgroup = r["sandbox"]
        .as_array()
        .and_then(|layers| layers.iter().find(|l| l["name"] == "cgroup"))
        .expect("the cgroup row");
    if cgroup["active"] != true {
        skip(format!("no cgroup: {}", cgroup["detail"]));
        return;
    }
    let build = tests_of(&r, "pool-sum", "build")[0];
    assert_eq!(build["reason"], "build_failed", "{build:#}");
    let msg = build["message"].as_str().unwrap();
    assert!(msg.contains("the compiler ran out of memory"), "{msg}");
    assert!(msg.contains("`static` or `const` array"), "{msg}");
    assert_eq!(tests_of(&r, "counter", "build")[0]["status"], "pass");
}

/// A compile-time hang: a constant that never finishes evaluating, with rustc's own stop
/// (`long_running_const_eval`) turned off. It costs the spec's build timeout (5 s here, not
/// the 240 s of the spec it copies), and the message says what keeps a compiler busy. (The
/// other program, when cargo reported it built before the stop, is graded: not asserted, as a
/// loaded machine may not finish it within 5 s.)
#[test]
fn a_compile_time_hang_costs_the_build_timeout_and_is_named() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let spec = scratch.path().join("quick-5s-builds.toml");
    let quick = std::fs::read_to_string(quick_spec()).unwrap();
    assert!(quick.contains("timeout = \"240s\""));
    std::fs::write(
        &spec,
        quick.replacen("timeout = \"240s\"", "timeout = \"5s\"", 1),
    )
    .unwrap();
    let sub = with_pool_sum(
        scratch.path(),
        "compile-time-hang",
        "#![allow(long_running_const_eval)]\n\
         const X: u64 = { let mut i: u64 = 0; loop { i = i.wrapping_add(1); if i == 0 { break i; } } };\n\
         fn main() { println!(\"{X}\"); }\n",
    );
    let (_, r) = grade_dir_json(&sub, Some(&spec));
    let build = tests_of(&r, "pool-sum", "build")[0];
    assert_eq!(build["reason"], "build_timeout", "{build:#}");
    let msg = build["message"].as_str().unwrap();
    assert!(msg.contains("took longer than 5 s"), "{msg}");
    assert!(msg.contains("long_running_const_eval"), "{msg}");
}

/// The hostile fixture's `pool_sum`, built with cargo as the grader builds submissions (the
/// course skeleton with the fixture's `src/`), copied where any user may run it.
#[cfg(target_os = "linux")]
fn hostile_pool_sum() -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let pkg = tmp.join("hostile-pkg");
    let _ = std::fs::remove_dir_all(&pkg);
    copy_dir(&root().join("specs/skeleton"), &pkg);
    let _ = std::fs::remove_dir_all(pkg.join("target"));
    copy_dir(&root().join("fixtures/hostile/src"), &pkg.join("src"));
    let build = |offline: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args(["build", "--release", "--locked", "--bin", "pool_sum"])
            .arg("--manifest-path")
            .arg(pkg.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", tmp.join("hostile-target"));
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().unwrap()
    };
    // Offline when the dependencies are already fetched (the grader's cache fetched them).
    let mut out = build(true);
    if !out.status.success() {
        out = build(false);
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("pool_sum");
    std::fs::copy(tmp.join("hostile-target/release/pool_sum"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, exe)
}

/// The portable path (a container without namespaces, a laptop) as a root grader: the program
/// never runs as root, has `RLIMIT_NPROC` and the seccomp filter, and every new hole is shut.
#[cfg(target_os = "linux")]
#[test]
fn the_portable_path_shuts_the_holes_and_never_runs_as_root() {
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (socket, listener) = unix_listener(scratch.path());
    let (_keep, exe) = hostile_pool_sum();
    let exe = exe.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--isolation", "portable", "--", exe];
        all.extend(args);
        sandbox_run(&all)
    };
    let root = nix::unistd::geteuid().is_root();
    assert!(
        root || !on_ci(),
        "CI runs as root: this test checks what a root grader's portable runs get"
    );

    let who = run(&["whoami"]);
    let said = who["stdout"].as_str().unwrap().trim().to_string();
    let uid: u64 = said.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert_eq!(uid, who["uid"].as_u64().unwrap(), "{who:#}");
    assert_eq!(who["applied"]["seccomp"], true, "{who:#}");
    assert_eq!(who["isolated"], false, "{who:#}");
    if root {
        assert_ne!(uid, 0, "a root grader's portable run ran as root: {who:#}");
        assert_eq!(who["applied"]["own_user"], true, "{who:#}");
        assert_eq!(who["applied"]["rlimit_nproc"], true, "{who:#}");
    }

    let socket = socket.to_str().unwrap();
    // Control: the socket takes connections from outside the sandbox.
    drop(std::os::unix::net::UnixStream::connect(socket).unwrap());
    let (accepted, _) = listener.accept().unwrap();
    drop(accepted);
    for (args, expected) in [
        (vec!["clone_newuser"], "refused".to_string()),
        (vec!["new_namespace"], "refused".to_string()),
        (vec!["io_uring"], "refused".to_string()),
        (vec!["fsopen"], "refused".to_string()),
        (vec!["ptrace_parent"], "refused".to_string()),
        (
            vec!["unix_connect", socket],
            format!("refused: {}", libc::EPERM),
        ),
    ] {
        let r = run(&args);
        assert_eq!(
            r["stdout"].as_str().unwrap().trim(),
            expected,
            "{args:?}: {r:#}"
        );
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "a connection from the sandbox reached the UNIX socket"
    );
    let x32 = run(&["x32"]);
    assert!(
        x32["stdout"].as_str().unwrap().starts_with("refused"),
        "{x32:#}"
    );
}

/// The grader's own cargo home (registry tokens in `credentials.toml`) is not visible to a
/// build: a submission that `include_str!`s it does not compile, and the token never reaches
/// the result. The grader runs with a `CARGO_HOME` of the test's own, holding a token marker and
/// the machine's registry and binaries.
#[test]
fn the_graders_cargo_credentials_never_reach_a_build() {
    let real_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cargo"));
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let home = scratch.path().join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let credentials = home.join("credentials.toml");
    std::fs::write(
        &credentials,
        "[registry]\ntoken = \"CARGO-TOKEN-MARKER-31\"\n",
    )
    .unwrap();
    for shared in ["registry", "bin"] {
        if real_home.join(shared).exists() {
            std::os::unix::fs::symlink(real_home.join(shared), home.join(shared)).unwrap();
        }
    }
    let sub = scratch.path().join("token-thief");
    std::fs::create_dir_all(sub.join("src/bin")).unwrap();
    std::fs::write(
        sub.join("src/bin/pool_sum.rs"),
        format!(
            "const S: &str = include_str!({:?});\nfn main() {{ println!(\"{{S}}\"); }}\n",
            credentials.display().to_string()
        ),
    )
    .unwrap();
    let out = labgrade()
        .env("CARGO_HOME", &home)
        .arg("grade")
        .arg(&sub)
        .args(["--format", "json", "--only", "pool-sum/n=0 p=1", "--spec"])
        .arg(quick_spec())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let r: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    if !has_process_audit(&r, "cargo credentials") {
        return;
    }
    assert!(
        !text.contains("CARGO-TOKEN-MARKER-31"),
        "the token leaked: {text}"
    );
    let build = tests_of(&r, "pool-sum", "build")[0];
    assert_eq!(build["reason"], "build_failed", "{build:#}");
    let msg = build["message"].as_str().unwrap();
    assert!(
        msg.contains("couldn't read") || msg.contains("file not found"),
        "{msg}"
    );
}

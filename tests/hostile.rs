//! End-to-end: a hostile submission (`fixtures/hostile`) attacks the grader in every way we could
//! think of; one grading runs every attack. For each: the verdict, that the grader survived,
//! that no process of the submission is left (checked here, from the host's `/proc`), that
//! nothing was left in the machine's scratch directories, and that nothing secret reached the
//! result. Needs the full sandbox (root on Linux); elsewhere the test says `skipped:` and why.

mod common;

use common::*;
use serde_json::Value;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;

/// (name, arguments, expected reason or "pass")
fn attacks(
    secret: &Path,
    port: u16,
    marker: &str,
) -> Vec<(&'static str, Vec<String>, &'static str)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("fork_bomb", s(&["fork_bomb"]), "pass"),
        ("thread_bomb", s(&["thread_bomb"]), "pass"),
        ("memory_hog", s(&["memory_hog"]), "pass"),
        ("memory_hog_forked", s(&["memory_hog_forked"]), "pass"),
        ("stdout_flood", s(&["stdout_flood"]), "output_limit"),
        ("stderr_flood", s(&["stderr_flood"]), "output_limit"),
        ("busy_loop", s(&["busy_loop"]), "timeout"),
        ("sigterm_ignored", s(&["sigterm_ignored"]), "timeout"),
        ("sigstop_self", s(&["sigstop_self"]), "timeout"),
        ("double_fork_daemon", s(&["double_fork_daemon"]), "pass"),
        ("kill_parent", s(&["kill_parent"]), "pass"),
        ("kill_all", s(&["kill_all"]), "pass"),
        (
            "read_secret",
            vec!["read_file".into(), secret.display().to_string()],
            "pass",
        ),
        ("read_root_home", s(&["read_file", "/root/.bashrc"]), "pass"),
        (
            "connect_loopback",
            vec!["connect".into(), format!("127.0.0.1:{port}")],
            "pass",
        ),
        ("big_file", s(&["big_file"]), "crash"),
        ("many_files", s(&["many_files"]), "pass"),
        (
            "write_outside",
            vec!["write_outside".into(), marker.into()],
            "pass",
        ),
        ("raise_rlimits", s(&["raise_rlimits"]), "pass"),
        (
            "shm_leftovers",
            vec!["shm_leftovers".into(), marker.into()],
            "pass",
        ),
        ("stdin_wait", s(&["stdin_wait"]), "pass"),
        ("huge_env", s(&["huge_env"]), "pass"),
        ("whoami", s(&["whoami"]), "pass"),
        ("ptrace_parent", s(&["ptrace_parent"]), "pass"),
        ("new_namespace", s(&["new_namespace"]), "pass"),
    ]
}

fn spec_for(attacks: &[(&str, Vec<String>, &str)]) -> String {
    let mut spec = String::from(
        "lab = \"hostile\"\ntitle = \"attacks on the grader\"\n\n[defaults]\ntimeout = \"15s\"\n\n\
         [[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n",
    );
    for (name, args, expected) in attacks {
        let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        spec.push_str(&format!(
            "\n[[exercise.test]]\nkind = \"output\"\nname = \"{name}\"\nargs = [{}]\n",
            args.join(", ")
        ));
        // Attacks that must time out get a short limit; the others a generous one, since
        // several heavy ones (memory, forks) share two cores.
        if *expected == "timeout" {
            spec.push_str("timeout = \"2s\"\n");
        }
    }
    spec
}

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
    let attacks = attacks(&secret, port, &marker);
    let spec = scratch.path().join("hostile.toml");
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
    for (name, _, expected) in &attacks {
        let t = test_named(&r, "pool-sum", name);
        let got = t["reason"].as_str().unwrap_or("pass");
        if got != *expected {
            wrong.push(format!(
                "{name}: expected {expected}, got {got}: {}",
                t["message"]
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));

    let count = |name: &str| -> u64 {
        stdout_of(test_named(&r, "pool-sum", name))
            .parse()
            .unwrap_or(u64::MAX)
    };
    assert!(
        count("fork_bomb") < 300,
        "fork bomb made {} processes",
        count("fork_bomb")
    );
    assert!(
        count("thread_bomb") < 300,
        "thread bomb made {} threads",
        count("thread_bomb")
    );
    assert!(
        count("memory_hog") < 1100,
        "memory hog got {} MiB",
        count("memory_hog")
    );
    assert!(
        count("memory_hog_forked") >= 1,
        "no hog was stopped by the memory limit"
    );
    let said = |name: &str| stdout_of(test_named(&r, "pool-sum", name)).to_string();
    assert!(
        said("read_secret").starts_with("denied"),
        "{}",
        said("read_secret")
    );
    assert!(
        said("read_root_home").starts_with("denied"),
        "{}",
        said("read_root_home")
    );
    assert!(
        said("connect_loopback").starts_with("no network"),
        "{}",
        said("connect_loopback")
    );
    assert!(matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock));
    assert_eq!(said("raise_rlimits"), "refused");
    assert_eq!(said("stdin_wait"), "stdin gave 0 bytes");
    assert!(
        said("huge_env").starts_with("refused"),
        "{}",
        said("huge_env")
    );
    assert_eq!(said("whoami"), "pid 2 uid 65534 host labgrade-sandbox");
    assert_eq!(said("kill_parent"), "still here");
    assert_eq!(said("ptrace_parent"), "refused");
    assert_eq!(said("new_namespace"), "refused");
    // kill(-1) reached the submission's own processes, and (the grader survived) nothing else.
    assert_eq!(said("kill_all"), "survived kill(-1); child killed: true");

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
    let sub = scratch.path().join("sneaky");
    std::fs::create_dir_all(sub.join("src/bin")).unwrap();
    std::fs::write(
        sub.join("src/bin/pool_sum.rs"),
        format!(
            "const S: &str = include_str!({:?});\nfn main() {{ println!(\"{{S}}\"); }}\n",
            secret.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        sub.join("src/bin/counter.rs"),
        format!(
            "#[path = {:?}]\nmod hidden;\nfn main() {{ println!(\"{{}}\", hidden::S); }}\n",
            secret.display().to_string()
        ),
    )
    .unwrap();
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

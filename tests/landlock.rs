//! End-to-end: the Landlock layer confines a portable run (no namespaces, no minimal view),
//! which is what a student's laptop or an unprivileged container gets. Each attack is made by
//! an ordinary program (`cat`, `sh`, `kill`, bash's `/dev/tcp`) through
//! `labgrade sandbox-run --isolation portable`, beside a control that shows the same action
//! succeeds outside the sandbox, so a refusal is the sandbox's doing.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// Runs `script` with `/bin/sh` (or `shell`) in a portable sandbox and returns the outcome.
fn portable(shell: &str, script: &str) -> Value {
    sandbox_run(&["--isolation", "portable", "--", shell, "-c", script])
}

/// Whether the Landlock layer confined `r`; prints why not (and fails on CI, whose kernel has
/// it) so that no test passes without it silently.
fn confined(r: &Value) -> bool {
    if r["landlock"]["fully"]["abi"].as_i64().unwrap_or(0) >= 6 {
        return true;
    }
    let doctor = labgrade().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    let why = text
        .lines()
        .find(|l| l.contains("landlock"))
        .unwrap_or("no landlock line in labgrade doctor");
    skip(format!("Landlock ABI 6 or later is missing: {why}"));
    false
}

fn stdout(r: &Value) -> &str {
    r["stdout"].as_str().unwrap()
}

#[test]
fn a_portable_run_cannot_read_outside_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "the hidden tests").unwrap();
    let r = portable(
        "/bin/sh",
        &format!(
            "cat {s} || echo refused; head -c 4 /etc/passwd; echo",
            s = secret.display()
        ),
    );
    if !confined(&r) {
        return;
    }
    let out = stdout(&r);
    assert!(!out.contains("hidden"), "the secret leaked: {r:#}");
    assert!(out.starts_with("refused\n"), "{r:#}");
    // The program did run and could read what programs need.
    assert!(out.contains("root"), "/etc/passwd is readable: {r:#}");
    assert!(
        r["stderr"].as_str().unwrap().contains("Permission denied"),
        "{r:#}"
    );
}

#[test]
fn a_portable_run_cannot_write_outside_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("escaped");
    let r = portable(
        "/bin/sh",
        &format!(
            "echo x > {t} || echo refused; echo y > \"$TMPDIR/own\" && cat \"$TMPDIR/own\"",
            t = target.display()
        ),
    );
    if !confined(&r) {
        return;
    }
    assert!(!target.exists(), "the file was written: {r:#}");
    assert_eq!(
        stdout(&r),
        "refused\ny\n",
        "its private TMPDIR is writable: {r:#}"
    );
}

#[test]
fn a_portable_run_cannot_connect_to_a_loopback_listener() {
    if !Path::new("/bin/bash").exists() {
        skip("no /bin/bash for its /dev/tcp");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected || echo refused");
    // Control: the same connection from outside the sandbox is accepted.
    let control = Command::new("/bin/bash")
        .args(["-c", &connect])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&control.stdout), "connected\n");
    let (mut accepted, _) = listener.accept().unwrap();
    let mut rest = Vec::new();
    accepted.read_to_end(&mut rest).unwrap();

    let r = portable("/bin/bash", &connect);
    if !confined(&r) {
        return;
    }
    assert_eq!(stdout(&r), "refused\n", "{r:#}");
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "a connection from the sandbox reached the listener: {r:#}"
    );
}

#[test]
fn a_portable_run_cannot_signal_the_graders_processes() {
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = victim.id();
    let r = portable(
        "/bin/sh",
        &format!("kill -TERM {pid} && echo killed || echo refused"),
    );
    let alive = victim.try_wait().unwrap().is_none();
    // Control: the test itself may signal it (same user), so a refusal is Landlock's.
    let control = Command::new("kill")
        .args(["-0", &pid.to_string()])
        .status()
        .unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    assert!(control.success());
    if !confined(&r) {
        return;
    }
    assert_eq!(stdout(&r), "refused\n", "{r:#}");
    assert!(alive, "the process outside the sandbox was killed: {r:#}");
}

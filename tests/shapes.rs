//! End-to-end: labgrade in every machine shape it is run in, simulated by `labgrade __shape`
//! (`src/sandbox/shape_sim.rs`): root in a Docker/Gradescope container (Docker's capabilities
//! and seccomp profile, read-only cgroups), an unprivileged user without user namespaces and
//! one with them; also a rootless container's user namespace (root and `nobody` mapped only),
//! and which user builds run as in a container whose toolchain the build user can or cannot
//! reach.
//!
//! First that the simulator really takes away what each shape lacks; then, in each shape, that
//! `doctor` names it, and that the hostile fixture (`fixtures/hostile`, the attack table of
//! `tests/hostile.rs`) leaves the grader alive, no process behind, the grader's files (its
//! binary, its spec, an earlier result) unchanged, and results that say which layers were
//! missing and describe the user student code really ran as.
//!
//! The simulator needs root. Elsewhere these tests say `skipped:`; on CI (`CI=true`, root) they
//! never skip.

// The simulator is Linux's (namespaces, capabilities, seccomp).
#![cfg(target_os = "linux")]

mod common;

use labgrade::exit::Exit;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::attacks::{attacks, sneaky_submission, spec_for, tamper, unix_listener, Targets, HOG};
use common::*;
use serde_json::Value;

/// The uid of the simulated unprivileged grader.
const UID: u32 = 1000;

/// Only one hostile grading at a time: each fills the two cores.
static HEAVY: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sim {
    Container,
    Unprivileged,
    /// An ordinary user whose kernel allows user namespaces (a laptop).
    UnprivilegedUserns,
}

impl Sim {
    fn arg(self) -> &'static str {
        match self {
            Sim::Container => "container",
            Sim::Unprivileged => "unprivileged",
            Sim::UnprivilegedUserns => "unprivileged-userns",
        }
    }

    /// Whether the sandbox gets its namespaces here (from a user namespace).
    fn namespaced(self) -> bool {
        self == Sim::UnprivilegedUserns
    }

    /// The uid the grader runs as in this shape.
    fn grader_uid(self) -> u32 {
        match self {
            Sim::Container => 0,
            Sim::Unprivileged | Sim::UnprivilegedUserns => UID,
        }
    }

    /// The attacks of the shared table whose expectation this shape cannot meet, each for a
    /// reason the README's shape table states.
    fn cannot_guarantee(self) -> &'static [&'static str] {
        match self {
            Sim::Container => &[
                // Landlock keeps it out of the shared /tmp before RLIMIT_FSIZE is reached
                // (checked on its own below).
                "big_file",
                // No cgroup: each 900 MiB process fits its own RLIMIT_AS; nothing limits the
                // tree's memory as a whole.
                "memory_hog_forked",
            ],
            Sim::Unprivileged => &["big_file", "memory_hog_forked"],
            Sim::UnprivilegedUserns => &[
                // No cgroup without root (on cgroup v1): RLIMIT_AS per process only.
                "memory_hog_forked",
                // Student code is the grader's own user (root only inside its user
                // namespace): no uid of its own (checked on its own below).
                "whoami",
            ],
        }
    }

    /// What `labgrade doctor` calls this shape.
    fn name(self) -> &'static str {
        match self {
            Sim::Container => {
                "root in a container without namespace privileges (Docker/Gradescope)"
            }
            Sim::Unprivileged => "unprivileged user, user namespaces refused",
            Sim::UnprivilegedUserns => "unprivileged user with user namespaces",
        }
    }
}

/// Whether the simulator can run here (it needs root). Off CI a non-root run is
/// [skipped](skip()); on CI, which runs as root, not being root is a failure.
fn can_simulate(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip(format!("{test}: the shape simulator needs root"));
    false
}

/// `bin __shape SIM --uid 1000 -- PROGRAM ARGS`, with no colors.
fn in_shape(bin: &Path, sim: Sim, program: &Path, args: &[&str]) -> Command {
    in_shape_with(bin, sim, &[], program, args)
}

/// [`in_shape`] with more of the simulator's flags (`--toolchain-reachable`).
fn in_shape_with(bin: &Path, sim: Sim, flags: &[&str], program: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("__shape")
        .arg(sim.arg())
        .args(flags)
        .args(["--uid", &UID.to_string(), "--"])
        .arg(program)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn labgrade_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("labgrade")
}

/// What the test's files may live under: somewhere uid 1000 can reach. The target directory
/// is, unless the checkout is in a home of mode 700 (then the temporary directory).
fn reachable_base() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let open_to_all = target
        .ancestors()
        .all(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
    if open_to_all {
        target
    } else {
        std::env::temp_dir()
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

/// The grader's environment in `sim`: the shared build cache as root; as the unprivileged user,
/// a cache, a home and `theirs` (its results) that it owns, the cache kept between runs so the
/// course's dependencies compile once.
fn grader_env(sim: Sim, dir: &Path, theirs: &[&Path]) -> Vec<(&'static str, PathBuf)> {
    match sim {
        Sim::Container => vec![("LABGRADE_CACHE_DIR", cache_dir())],
        Sim::Unprivileged | Sim::UnprivilegedUserns => {
            let cache = reachable_base().join(format!("labgrade-cache-uid{UID}"));
            let home = dir.join("home");
            std::fs::create_dir_all(&cache).unwrap();
            std::fs::create_dir_all(&home).unwrap();
            let mut owned: Vec<&Path> = vec![&cache, &home];
            owned.extend_from_slice(theirs);
            for d in owned {
                chown_tree(d, UID);
            }
            vec![("LABGRADE_CACHE_DIR", cache), ("HOME", home)]
        }
    }
}

#[test]
fn the_simulator_takes_away_what_each_shape_lacks() {
    if !can_simulate("the shape simulator") {
        return;
    }
    let script = r#"
        echo "uid $(id -u)"
        grep -E '^(CapEff|NoNewPrivs)' /proc/self/status
        for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs; do
            if [ -e "$f" ]; then
                if (echo $$ > "$f") 2>/dev/null; then echo "cgroup file writable"; else echo "cgroup file refused"; fi
            fi
        done
        if unshare --user --mount true 2>/dev/null; then echo "unshare ok"; else echo "unshare refused"; fi
        grep ' /sys/fs/cgroup' /proc/self/mountinfo | awk '{ print "cgroup mount " $5 " " $6 }'
    "#;
    for (sim, caps) in [
        (
            Sim::Container,
            labgrade::sandbox::shape_sim::docker_cap_mask(),
        ),
        (Sim::Unprivileged, 0),
    ] {
        let out = in_shape(&labgrade_bin(), sim, Path::new("/bin/sh"), &["-c", script])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{sim:?}: {}", text(&out));
        assert!(
            said.contains(&format!("uid {}\n", sim.grader_uid())),
            "{sim:?}: {said}"
        );
        assert!(
            said.contains(&format!("CapEff:\t{caps:016x}\n")),
            "{sim:?}: {said}"
        );
        assert!(said.contains("unshare refused"), "{sim:?}: {said}");
        // Installed while privileged, as Docker does: no `no_new_privs`.
        assert!(said.contains("NoNewPrivs:\t0\n"), "{sim:?}: {said}");
        assert!(said.contains("cgroup file refused"), "{sim:?}: {said}");
        assert!(!said.contains("cgroup file writable"), "{sim:?}: {said}");
        let cgroups: Vec<&str> = said
            .lines()
            .filter(|l| l.starts_with("cgroup mount"))
            .collect();
        assert!(!cgroups.is_empty(), "{sim:?}: no cgroup mount seen: {said}");
        for line in cgroups {
            let options = line.rsplit(' ').next().unwrap();
            assert!(
                options.split(',').any(|o| o == "ro"),
                "{sim:?}: {line} is writable"
            );
        }
    }
    // The grader's own view is untouched: its cgroups are still writable.
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(info
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/pids"))
        .all(|l| l.split(' ').nth(5).unwrap().starts_with("rw")));
}

#[test]
fn the_hostile_fixture_is_contained_in_a_container() {
    hostile_in(Sim::Container);
}

#[test]
fn the_hostile_fixture_is_contained_as_an_unprivileged_user() {
    hostile_in(Sim::Unprivileged);
}

#[test]
fn the_hostile_fixture_is_contained_as_an_unprivileged_user_with_user_namespaces() {
    hostile_in(Sim::UnprivilegedUserns);
}

/// Names of the layers that need namespaces or a cgroup: missing in both simulated shapes.
const NEEDS_NAMESPACES: [&str; 5] = [
    "pid namespace",
    "network namespace",
    "mount namespace",
    "ipc and uts namespaces",
    "cgroup",
];

/// What the hostile fixture can leave on the machine where there is no mount or IPC namespace
/// (a POSIX and a System V shared-memory segment, a file in /dev/shm): removed at the end of
/// the test whatever happens, so no other test (`tests/hostile.rs` checks the host's
/// `/proc/sysvipc/shm`) sees them. Their being left where runs share a uid is what the
/// result's missing "mount namespace" and "ipc and uts namespaces" rows announce (in the
/// container shape every run has a uid of its own, and the grader removes them).
struct Leftovers {
    marker: String,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(Path::new("/dev/shm").join(&self.marker));
        // SAFETY: plain System V calls on the fixture's fixed key.
        unsafe {
            let id = libc::shmget(0x1ab6_7ade, 0, 0);
            if id >= 0 {
                libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
            }
        }
    }
}

fn hostile_in(sim: Sim) {
    if !can_simulate(&format!("the hostile fixture in the {} shape", sim.arg())) {
        return;
    }
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = tempfile::tempdir_in(reachable_base()).unwrap();
    let dir = scratch.path();
    chmod(dir, 0o755);
    // The grader's files: its binary (a copy, run from here), its spec, an earlier result.
    let bin = dir.join("labgrade");
    std::fs::copy(labgrade_bin(), &bin).unwrap();
    chmod(&bin, 0o755);
    let submission = dir.join("hostile");
    copy_dir(&root().join("fixtures/hostile"), &submission);
    let results = dir.join("results");
    std::fs::create_dir(&results).unwrap();
    let earlier = results.join("earlier.json");
    std::fs::write(&earlier, "{\"submission\": \"earlier\"}\n").unwrap();
    // A secret only root can read, outside the submission.
    let secret = dir.join("hidden-tests.toml");
    std::fs::write(&secret, "SECRET-HIDDEN-TEST-42").unwrap();
    chmod(&secret, 0o600);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let marker = format!("labgrade-shape-escape-{}-{}", sim.arg(), std::process::id());
    let _leftovers = Leftovers {
        marker: marker.clone(),
    };
    let (unix_socket, _unix_listener) = unix_listener(dir);
    let mut attacks = attacks(&Targets {
        secret: secret.clone(),
        port,
        marker: marker.clone(),
        unix_socket,
    });
    let spec = dir.join("hostile.toml");
    attacks.push(tamper("tamper_binary", &bin));
    attacks.push(tamper("tamper_spec", &spec));
    attacks.push(tamper("tamper_result", &earlier));
    std::fs::write(&spec, spec_for(&attacks)).unwrap();

    // The unprivileged grader owns its results, its home and its build cache (kept between
    // runs, so the course's dependencies compile once).
    let env = grader_env(sim, dir, &[&results]);
    let before: Vec<Vec<u8>> = [&bin, &spec, &earlier]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();

    let doctor = in_shape(&bin, sim, &bin, &["doctor"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let doctor_said = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.status.success(), "{}", text(&doctor));
    assert!(
        doctor_said.contains(&format!("machine shape: {}", sim.name())),
        "{doctor_said}"
    );

    let report = results.join("hostile.json");
    let out = in_shape(
        &bin,
        sim,
        &bin,
        &[
            "grade",
            &submission.display().to_string(),
            "--format",
            "json",
            "--spec",
            &spec.display().to_string(),
            "--out",
            &report.display().to_string(),
        ],
    )
    .envs(env.iter().map(|(k, v)| (k, v)))
    .output()
    .unwrap();
    // The grader survived every attack and reported.
    assert!(
        matches!(out.status.code(), Some(0 | 1)), // Exit::Pass or Exit::Fail
        "the grader died: {}",
        text(&out)
    );
    let json = std::fs::read_to_string(&report).unwrap();
    let r: Value = serde_json::from_str(&json).unwrap();
    assert!(!json.contains("SECRET-HIDDEN-TEST-42"), "the secret leaked");

    // The result says which layers were missing, and why.
    let layer = |name: &str| -> &Value {
        r["sandbox"]
            .as_array()
            .expect("the result lists the sandbox layers")
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("no layer {name} in {:#}", r["sandbox"]))
    };
    for name in NEEDS_NAMESPACES {
        // From a user namespace, every namespace but no cgroup (cgroup v1 needs root).
        let active = sim.namespaced() && name != "cgroup";
        assert_eq!(layer(name)["active"], active, "{name}: {}", layer(name));
        assert!(
            !layer(name)["detail"].as_str().unwrap().is_empty(),
            "{name} says no reason"
        );
    }
    assert_eq!(layer("landlock")["active"], true, "{}", layer("landlock"));
    let _ = layer("seccomp");
    // Builds: root where the build user cannot reach the toolchain (this machine's is in
    // /root, mode 700), the grader's own user where it cannot change uid; said either way.
    let build = layer("build user");
    let builds_as = match sim {
        Sim::Container => "builds run as root",
        Sim::Unprivileged | Sim::UnprivilegedUserns => "builds run as your own user",
    };
    assert_eq!(build["active"], false, "{build}");
    assert!(
        build["detail"].as_str().unwrap().starts_with(builds_as),
        "{build}"
    );

    let said = |name: &str| -> String {
        test_named(&r, "pool-sum", name)["evidence"]["stdout"]
            .as_str()
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let verdict = |name: &str| -> String {
        test_named(&r, "pool-sum", name)["reason"]
            .as_str()
            .unwrap_or("pass")
            .to_string()
    };
    // Every attack of the shared table whose expectation does not need the namespaces holds
    // here too, except what this shape is known not to guarantee (the README's shape table).
    let exempt = sim.cannot_guarantee();
    let mut wrong = Vec::new();
    for attack in attacks
        .iter()
        .filter(|a| (sim.namespaced() || !a.isolated_only) && !exempt.contains(&a.name))
    {
        let t = test_named(&r, "pool-sum", attack.name);
        let got = t["reason"].as_str().unwrap_or("pass");
        let out = t["evidence"]["stdout"].as_str().unwrap_or("").trim();
        if got != attack.reason || !(attack.says)(out) {
            wrong.push(format!(
                "{}: expected {} saying {}, got {got} saying {out:?}",
                attack.name, attack.reason, attack.expected
            ));
        }
    }
    for (name, expected) in [
        ("stdout_flood", "output_limit"),
        ("stderr_flood", "output_limit"),
        ("busy_loop", "timeout"),
        ("sigterm_ignored", "timeout"),
        ("sigstop_self", "timeout"),
        ("stdin_wait", "pass"),
    ] {
        if verdict(name) != expected {
            wrong.push(format!(
                "{name}: expected {expected}, got {}",
                verdict(name)
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    // RLIMIT_FSIZE stops it, or Landlock keeps it out of the shared /tmp.
    assert!(
        verdict("big_file") == "crash" || said("big_file").starts_with("cannot create"),
        "big_file: {}: {}",
        verdict("big_file"),
        said("big_file")
    );
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
    assert_eq!(said("new_namespace"), "refused");
    assert_eq!(said("raise_rlimits"), "refused");
    assert_eq!(said("ptrace_parent"), "refused");
    assert!(
        said("connect_loopback").starts_with("no network"),
        "{}",
        said("connect_loopback")
    );

    // The grader's files are unchanged, and its results directory holds only what it wrote.
    for name in ["tamper_binary", "tamper_spec", "tamper_result"] {
        let s = said(name);
        assert!(
            s.starts_with("append refused") && s.contains("remove refused"),
            "{name}: {s}"
        );
    }
    let after: Vec<Vec<u8>> = [&bin, &spec, &earlier]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(before == after, "a file of the grader's was changed");
    let mut listed: Vec<String> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["earlier.json", "hostile.json"]);

    // Nothing left behind.
    for path in ["/tmp", "/var/tmp"]
        .iter()
        .map(|d| Path::new(d).join(&marker))
        .chain([PathBuf::from("/tmp/labgrade-big-file")])
    {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
    if sim.namespaced() {
        // Its own mount namespace: the /dev/shm it wrote to was its own.
        let shm = Path::new("/dev/shm").join(&marker);
        assert!(!shm.exists(), "{} was left behind", shm.display());
    }
    if sim == Sim::Container {
        // No namespaces, but every run a uid of its own: what that uid left in /dev/shm and
        // System V IPC is removed once the run has ended.
        let shm = Path::new("/dev/shm").join(&marker);
        assert!(!shm.exists(), "{} was left behind", shm.display());
        let sysv = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
        assert!(
            !sysv.contains(&0x1ab6_7ade_u32.to_string()),
            "a System V segment was left behind"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let leaked = leaked_student_processes();
    assert!(leaked.is_empty(), "left behind: {leaked:?}");

    // The "unprivileged user" row describes the user student code really ran as: active
    // exactly when that was not the grader's own.
    let whoami = said("whoami");
    if sim.namespaced() {
        // Root inside its own user namespace, which maps only the grader's user: student
        // code is the grader's user, and the row says so.
        assert!(whoami.starts_with("pid 2 uid 0 "), "{whoami}");
        let user = layer("unprivileged user");
        assert_eq!(user["active"], false, "{user}");
        return;
    }
    let uid: u32 = whoami
        .split_whitespace()
        .skip_while(|w| *w != "uid")
        .nth(1)
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("whoami said {whoami:?}"));
    let user = layer("unprivileged user");
    assert_eq!(
        user["active"],
        uid != sim.grader_uid(),
        "student code ran as uid {uid}; the result says {user}"
    );
    if sim == Sim::Container {
        // needs h1-sandbox: student code drops to a per-run uid even without namespaces.
        assert_ne!(
            uid, 0,
            "student code ran as root in the container: {whoami}"
        );
    }
}

#[test]
fn batch_warns_of_what_the_shape_lacks_before_grading() {
    if !can_simulate("batch's warnings in the container shape") {
        return;
    }
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let submissions = scratch.path().join("submissions");
    std::fs::create_dir(&submissions).unwrap();
    let bin = labgrade_bin();
    let out = in_shape(&bin, Sim::Container, &bin, &["batch"])
        .arg(&submissions)
        .arg("--out")
        .arg(scratch.path().join("results"))
        .env("LABGRADE_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "this machine is {}; grading here lacks:",
            Sim::Container.name()
        )),
        "{stderr}"
    );
    // The ptrace audit runs in a container: nothing to warn of there.
    assert!(!stderr.contains("no process audit"), "{stderr}");
    for cost in [
        "no limit on the whole process tree's memory",
        "only the seccomp filter (socket() refused) keeps student code off the network",
    ] {
        assert!(stderr.contains(cost), "{cost}: {stderr}");
    }
}

/// `cmd` on one core of those this process may use.
fn on_one_core(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
    let first = (0..nix::sched::CpuSet::count())
        .find(|&c| allowed.is_set(c).unwrap_or(false))
        .unwrap();
    let mut one = nix::sched::CpuSet::new();
    one.set(first).unwrap();
    // SAFETY: sched_setaffinity is async-signal-safe and `one` is plain data.
    unsafe {
        cmd.pre_exec(move || {
            nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &one)
                .map_err(std::io::Error::from)
        })
    };
    cmd
}

#[test]
fn fewer_cores_than_a_speedup_tests_workers_is_warned_of_before_grading() {
    // tests/specs/speedup.toml times a pool of 2 workers; one core cannot judge it.
    let spec = root().join("tests/specs/speedup.toml");
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let submissions = scratch.path().join("submissions");
    std::fs::create_dir(&submissions).unwrap();
    let warning = "1 core, fewer than the 2 workers of the spec's largest speedup test";
    let run = |args: &[&std::ffi::OsStr]| -> Output {
        let mut cmd = Command::new(labgrade_bin());
        cmd.args(args)
            .arg("--spec")
            .arg(&spec)
            .env("NO_COLOR", "1")
            .env("LABGRADE_CACHE_DIR", cache_dir());
        on_one_core(&mut cmd).output().unwrap()
    };
    let doctor = run(&["doctor".as_ref()]);
    assert!(
        String::from_utf8_lossy(&doctor.stdout).contains(warning),
        "{}",
        text(&doctor)
    );
    let results = scratch.path().join("results");
    let batch = run(&[
        "batch".as_ref(),
        submissions.as_os_str(),
        "--out".as_ref(),
        results.as_os_str(),
    ]);
    assert!(
        String::from_utf8_lossy(&batch.stderr).contains(warning),
        "{}",
        text(&batch)
    );
    // Said before grading: the reference need not even exist.
    let missing = scratch.path().join("no-reference");
    let verify = run(&[
        "spec".as_ref(),
        "verify".as_ref(),
        "--reference".as_ref(),
        missing.as_os_str(),
    ]);
    assert!(
        String::from_utf8_lossy(&verify.stderr).contains(warning),
        "{}",
        text(&verify)
    );
}

#[test]
fn processes_are_audited_by_ptrace_in_a_container() {
    processes_in(Sim::Container);
}

#[test]
fn processes_are_audited_by_ptrace_as_an_unprivileged_user() {
    processes_in(Sim::Unprivileged);
}

/// The `processes` tests in `sim`, where there is no PID namespace: the ptrace audit decides
/// them exactly as the full sandbox does (`tests/processes.rs`): a pool of threads fails, the
/// reference passes.
fn processes_in(sim: Sim) {
    if !can_simulate(&format!("the ptrace audit in the {} shape", sim.arg())) {
        return;
    }
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = tempfile::tempdir_in(reachable_base()).unwrap();
    let dir = scratch.path();
    chmod(dir, 0o755);
    let bin = dir.join("labgrade");
    std::fs::copy(labgrade_bin(), &bin).unwrap();
    chmod(&bin, 0o755);
    let spec = dir.join("processes.toml");
    std::fs::copy(root().join("tests/specs/processes.toml"), &spec).unwrap();
    let env = grader_env(sim, dir, &[]);
    for (fixture_name, expected) in [
        ("threads_pool", "threads_not_processes"),
        ("reference", "pass"),
    ] {
        let submission = dir.join(fixture_name);
        copy_dir(&fixture(fixture_name), &submission);
        if sim == Sim::Unprivileged {
            chown_tree(&submission, UID);
        }
        let out = in_shape(
            &bin,
            sim,
            &bin,
            &[
                "grade",
                &submission.display().to_string(),
                "--format",
                "json",
                "--spec",
                &spec.display().to_string(),
            ],
        )
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{sim:?} {fixture_name}: no JSON ({e}): {}", text(&out)));
        let audit_row = r["sandbox"]
            .as_array()
            .expect("the result lists the sandbox layers")
            .iter()
            .find(|l| l["name"] == "process audit")
            .unwrap_or_else(|| panic!("no process audit row in {:#}", r["sandbox"]))
            .clone();
        assert_eq!(audit_row["active"], true, "{sim:?}: {audit_row}");
        assert!(
            audit_row["detail"].as_str().unwrap().starts_with("ptrace"),
            "{sim:?}: {audit_row}"
        );
        let t = test_named(&r, "pool-sum", "processes: n=1000000000 p=4");
        let reason = t["reason"].as_str().unwrap_or("pass");
        assert_eq!(reason, expected, "{sim:?} {fixture_name}: {t:#}");
        assert!(t["inconclusive"].is_null(), "{sim:?} {fixture_name}: {t:#}");
        if expected == "pass" {
            let audit = &t["evidence"]["processes"];
            assert_eq!(audit["workers_created"], 4, "{audit:#}");
            assert_eq!(audit["threads_created"], 0, "{audit:#}");
            assert_eq!(audit["max_workers_alive"], 4, "{audit:#}");
            assert_eq!(audit["leaked"], 0, "{audit:#}");
        }
    }
}

/// A container whose seccomp profile refuses `ptrace` too (`__shape container
/// --refuse-ptrace`): no process audit can run. `batch` warns before grading, and the
/// `processes` test is undecided: it says so in `inconclusive` and counts as the spec says.
#[test]
fn without_any_audit_processes_tests_are_undecided_and_the_spec_decides() {
    if !can_simulate("no process audit in a container refusing ptrace") {
        return;
    }
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let bin = labgrade_bin();
    let refusing = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(["__shape", "container", "--refuse-ptrace", "--"])
            .arg(&bin)
            .args(args)
            .env("NO_COLOR", "1")
            .env("LABGRADE_CACHE_DIR", cache_dir())
            .env_remove("RUST_BACKTRACE");
        cmd.output().unwrap()
    };
    // batch warns the TA before grading.
    let submissions = scratch.path().join("submissions");
    std::fs::create_dir(&submissions).unwrap();
    let results = scratch.path().join("results");
    let out = refusing(&[
        "batch",
        &submissions.display().to_string(),
        "--out",
        &results.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no process audit: `processes` tests are undecided"),
        "{stderr}"
    );
    // The spec decides: `fail` (the default) and `pass`.
    let original = std::fs::read_to_string(root().join("tests/specs/processes.toml")).unwrap();
    for (policy, expected) in [("fail", "inconclusive"), ("pass", "pass")] {
        let spec = scratch.path().join(format!("processes-{policy}.toml"));
        std::fs::write(&spec, format!("{original}inconclusive = \"{policy}\"\n")).unwrap();
        let out = refusing(&[
            "grade",
            &fixture("reference").display().to_string(),
            "--format",
            "json",
            "--spec",
            &spec.display().to_string(),
        ]);
        let r: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{policy}: no JSON ({e}): {}", text(&out)));
        let row = r["sandbox"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "process audit")
            .unwrap()
            .clone();
        assert_eq!(row["active"], false, "{row}");
        assert!(row["detail"].as_str().unwrap().contains("ptrace"), "{row}");
        let t = test_named(&r, "pool-sum", "processes: n=1000000000 p=4");
        assert_eq!(t["reason"].as_str().unwrap_or("pass"), expected, "{t:#}");
        assert!(
            t["inconclusive"]
                .as_str()
                .is_some_and(|why| why.contains("no process audit")),
            "{t:#}"
        );
    }
}

/// `sub` graded with the quick spec by the grader of `sim` (with the simulator's `flags`),
/// whose home and cache are under `dir`.
fn grade_in_shape(sim: Sim, flags: &[&str], dir: &Path, sub: &Path) -> Output {
    let env = grader_env(sim, dir, &[]);
    let bin = labgrade_bin();
    in_shape_with(
        &bin,
        sim,
        flags,
        &bin,
        &[
            "grade",
            &sub.display().to_string(),
            "--format",
            "json",
            "--spec",
            &quick_spec().display().to_string(),
        ],
    )
    .envs(env.iter().map(|(k, v)| (k, v)))
    .output()
    .unwrap()
}

/// Compile-time reads (`include_str!`, `#[path]`) in each shape without namespaces: rustc, run
/// by the build, reads neither a root-only secret outside the submission nor another
/// submission's source (Landlock keeps the build to its own paths where no view exists).
fn compile_time_reads_in(sim: Sim, flags: &[&str]) {
    if !can_simulate(&format!("compile-time reads in the {} shape", sim.arg())) {
        return;
    }
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = tempfile::tempdir_in(reachable_base()).unwrap();
    let dir = scratch.path();
    chmod(dir, 0o755);
    let secret = dir.join("hidden-tests.rs");
    std::fs::write(
        &secret,
        "pub const S: &str = \"SECRET-AT-COMPILE-TIME-9\";\n",
    )
    .unwrap();
    chmod(&secret, 0o600);
    // Another student's submission, readable by anyone, as a staging directory would hold it.
    let other = dir.join("other-student/src/bin");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("pool_sum.rs"),
        "pub const S: &str = \"OTHER-STUDENTS-CODE-5\";\n",
    )
    .unwrap();
    chmod_tree_readable(&dir.join("other-student"));
    let sub = sneaky_submission(dir, &secret, &other.join("pool_sum.rs"));
    chmod_tree_readable(&sub);
    let out = grade_in_shape(sim, flags, dir, &sub);
    assert_eq!(out.status.code(), Some(Exit::Fail.code()), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("SECRET-AT-COMPILE-TIME-9"), "{stdout}");
    assert!(!stdout.contains("OTHER-STUDENTS-CODE-5"), "{stdout}");
    let r: Value = serde_json::from_str(&stdout).unwrap();
    for exercise in ["pool-sum", "counter"] {
        let build = &tests_of(&r, exercise, "build")[0];
        assert_eq!(build["reason"], "build_failed", "{exercise}: {build:#}");
        // Refused by the sandbox, not some other compile error.
        let msg = build["message"].as_str().unwrap_or("");
        assert!(
            msg.contains("couldn't read") || msg.contains("file not found"),
            "{exercise}: {msg}"
        );
    }
}

/// A compile-time memory hog: a 6 GiB `static`, which rustc evaluates in its own memory.
/// Without a cgroup only the address-space limit on builds bounds it: the
/// build fails at once in rustc's own words, and the hog (which stops at 6 GiB should the
/// limit regress) never takes the machine's memory. The other exercise still builds.
fn compile_time_hog_in(sim: Sim) {
    if !can_simulate(&format!("a compile-time hog in the {} shape", sim.arg())) {
        return;
    }
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = tempfile::tempdir_in(reachable_base()).unwrap();
    let dir = scratch.path();
    chmod(dir, 0o755);
    let sub = with_pool_sum(dir, "compile-time-hog", HOG);
    chmod_tree_readable(&sub);
    let out = grade_in_shape(sim, &[], dir, &sub);
    assert_eq!(out.status.code(), Some(Exit::Fail.code()), "{}", text(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let build = &tests_of(&r, "pool-sum", "build")[0];
    assert_eq!(build["reason"], "build_failed", "{build:#}");
    let msg = build["message"].as_str().unwrap_or("");
    assert!(msg.contains("more memory than available"), "{msg}");
    let counter = &tests_of(&r, "counter", "build")[0];
    assert_eq!(counter["status"], "pass", "{counter:#}");
}

#[test]
fn a_compile_time_memory_hog_fails_its_build_in_a_container() {
    compile_time_hog_in(Sim::Container);
}

#[test]
fn a_compile_time_memory_hog_fails_its_build_as_an_unprivileged_user() {
    compile_time_hog_in(Sim::Unprivileged);
}

/// Namespaces, but no cgroup (cgroup v1 needs root): the address-space limit again.
#[test]
fn a_compile_time_memory_hog_fails_its_build_as_an_unprivileged_user_with_user_namespaces() {
    compile_time_hog_in(Sim::UnprivilegedUserns);
}

fn chmod_tree_readable(path: &Path) {
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    chmod(path, mode);
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chmod_tree_readable(&entry.unwrap().path());
        }
    }
}

#[test]
fn compile_time_reads_see_nothing_outside_the_submission_in_a_container() {
    compile_time_reads_in(Sim::Container, &[]);
}

/// The same where builds run as the build user (a toolchain every user reaches): the secret
/// is refused by its owner and mode as well as by Landlock.
#[test]
fn compile_time_reads_see_nothing_outside_the_submission_as_the_build_user_in_a_container() {
    compile_time_reads_in(Sim::Container, &["--toolchain-reachable"]);
}

#[test]
fn compile_time_reads_see_nothing_outside_the_submission_as_an_unprivileged_user() {
    compile_time_reads_in(Sim::Unprivileged, &[]);
}

/// The build user: the pool's base less one (`src/sandbox/uids.rs`).
fn build_uid() -> u32 {
    std::env::var("LABGRADE_UID_BASE")
        .ok()
        .and_then(|b| b.parse::<u32>().ok())
        .unwrap_or(1_900_000_000)
        - 1
}

/// Builds in the container shape run as the build user where it reaches the toolchain (the
/// simulator's `--toolchain-reachable`: as if installed under `/usr/local`), and as root where
/// it does not (this machine's toolchain is in `/root`, mode 700), which `doctor`, `batch`
/// and the result's "build user" row then say, with the remedy. A program that prints the
/// `Uid:` line of `/proc/self/status` read at compile time (`include_str!`: rustc's own) shows
/// who compiled it; the reference still builds and passes either way.
fn builds_in_a_container(reachable: bool) {
    let what = if reachable {
        "reachable"
    } else {
        "unreachable"
    };
    if !can_simulate(&format!("builds in a container, toolchain {what}")) {
        return;
    }
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let bin = labgrade_bin();
    let container = |args: &[&str]| -> Output {
        let mut cmd = Command::new(&bin);
        cmd.args(["__shape", "container"]);
        if reachable {
            cmd.arg("--toolchain-reachable");
        }
        cmd.arg("--")
            .arg(&bin)
            .args(args)
            .env("NO_COLOR", "1")
            .env("LABGRADE_CACHE_DIR", cache_dir())
            .env_remove("RUST_BACKTRACE");
        cmd.output().unwrap()
    };
    // Who compiles: the reference's counter, and a pool_sum that prints rustc's uid.
    let sub = scratch.path().join("who-compiles");
    copy_dir(&fixture("reference"), &sub);
    std::fs::write(
        sub.join("src/bin/pool_sum.rs"),
        "const STATUS: &str = include_str!(\"/proc/self/status\");\n\
         fn main() {\n\
             for l in STATUS.lines().filter(|l| l.starts_with(\"Uid:\")) {\n\
                 println!(\"compiled by {}\", l.split_whitespace().nth(1).unwrap());\n\
             }\n\
         }\n",
    )
    .unwrap();
    let out = container(&[
        "grade",
        &sub.display().to_string(),
        "--format",
        "json",
        "--spec",
        &quick_spec().display().to_string(),
    ]);
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: no JSON ({e}): {}", text(&out)));
    let compiler = if reachable { build_uid() } else { 0 };
    let stdout = r["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["evidence"]["stdout"].as_str())
        .find(|s| s.starts_with("compiled by"))
        .unwrap_or_else(|| panic!("{what}: no test shows the program's output: {r:#}"))
        .trim()
        .to_string();
    assert_eq!(stdout, format!("compiled by {compiler}"), "{what}");
    let row = r["sandbox"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "build user")
        .unwrap_or_else(|| panic!("no build user row in {:#}", r["sandbox"]))
        .clone();
    assert_eq!(row["active"], reachable, "{row}");
    let detail = row["detail"].as_str().unwrap();
    if reachable {
        assert!(
            detail.contains(&format!("builds run as uid {}", build_uid())),
            "{row}"
        );
        // The build's directory in the cache (the built-in skeleton's worker 0, which `grade`
        // builds in) is the build user's, everything in it.
        let target = cache_dir()
            .join(labgrade::stage::Skeleton::builtin().fingerprint())
            .join("target-0");
        for path in [
            target.clone(),
            target.join("release"),
            target.join("release/deps"),
        ] {
            let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&path).unwrap());
            assert_eq!(owner, build_uid(), "{}", path.display());
        }
        // Nothing else of the grader's is: the registry builds read, the probe's verdicts.
        for path in [
            cache_dir(),
            cache_dir().join("cargo-home/registry"),
            cache_dir().join("build-user"),
        ] {
            let m = std::fs::metadata(&path).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert!(
                m.uid() == 0 && m.mode() & 0o022 == 0,
                "{} is writable by others",
                path.display()
            );
        }
    } else {
        assert!(detail.starts_with("builds run as root"), "{row}");
        assert!(detail.contains("cannot reach the toolchain"), "{row}");
        assert!(detail.contains("/usr/local"), "{row}");
    }
    // The reference builds and passes.
    let reference = container(&[
        "grade",
        &fixture("reference").display().to_string(),
        "--spec",
        &quick_spec().display().to_string(),
    ]);
    assert_eq!(
        reference.status.code(),
        Some(0),
        "{what}: {}",
        text(&reference)
    );
    // doctor and batch say the same before any build.
    let doctor = container(&["doctor"]);
    let said = String::from_utf8_lossy(&doctor.stdout);
    let line = said
        .lines()
        .find(|l| {
            let l = l.trim_start();
            let row = l
                .strip_prefix("active")
                .or_else(|| l.strip_prefix("missing"));
            row.is_some_and(|r| r.trim_start().starts_with("build user"))
        })
        .unwrap_or_else(|| panic!("{said}"));
    assert_eq!(line.trim_start().starts_with("active"), reachable, "{line}");
    let submissions = scratch.path().join("submissions");
    std::fs::create_dir(&submissions).unwrap();
    let batch = container(&[
        "batch",
        &submissions.display().to_string(),
        "--out",
        &scratch.path().join("results").display().to_string(),
    ]);
    let warned = String::from_utf8_lossy(&batch.stderr);
    assert_eq!(
        warned.contains("builds run as root"),
        !reachable,
        "{}",
        text(&batch)
    );
}

#[test]
fn builds_run_as_the_build_user_in_a_container_whose_toolchain_every_user_reaches() {
    builds_in_a_container(true);
}

#[test]
fn builds_stay_root_in_a_container_whose_toolchain_is_in_roots_home_and_that_is_said() {
    builds_in_a_container(false);
}

/// A rootless container (Docker/podman without root on the host): a user namespace that maps
/// root and `nobody` only, so not the uid pool. Every run, isolated or portable, is `nobody`
/// (65534), and `doctor` says why. Made here by writing the maps of a new user namespace as
/// the host's root.
#[test]
fn in_a_rootless_container_every_run_is_nobody_and_the_doctor_says_so() {
    if !can_simulate("a rootless container's user namespace") {
        return;
    }
    use std::io::{BufRead, Write};
    let bin = labgrade_bin();
    let script = "echo ready; read go; \
                  \"$0\" doctor; \
                  \"$0\" sandbox-run --isolation portable -- /usr/bin/id -u; \
                  \"$0\" sandbox-run -- /usr/bin/id -u";
    let mut child = Command::new("unshare")
        .args(["--user", "--", "/bin/sh", "-c", script])
        .arg(&bin)
        .env("NO_COLOR", "1")
        .env("LABGRADE_CACHE_DIR", cache_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("unshare (util-linux)");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    assert_eq!(ready, "ready\n");
    // One write each: the kernel takes a map whole, once.
    for map in ["uid_map", "gid_map"] {
        std::fs::write(
            format!("/proc/{}/{map}", child.id()),
            "0 0 1\n65534 65534 1\n",
        )
        .unwrap();
    }
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{rest}");
    let row = |name: &str| {
        rest.lines()
            .find(|l| {
                let l = l.trim_start();
                let row = l
                    .strip_prefix("active")
                    .or_else(|| l.strip_prefix("missing"));
                row.is_some_and(|r| r.trim_start().starts_with(name))
            })
            .unwrap_or_else(|| panic!("no {name} row: {rest}"))
            .to_string()
    };
    let user = row("unprivileged user");
    assert!(
        user.contains("active") && user.contains("uid 65534") && user.contains("rootless"),
        "{user}"
    );
    let build = row("build user");
    assert!(
        build.contains("missing") && build.contains("rootless"),
        "{build}"
    );
    let uids: Vec<u64> = rest
        .lines()
        .filter(|l| l.trim_start().starts_with("\"uid\""))
        .filter_map(|l| {
            l.trim()
                .trim_end_matches(',')
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(uids, [65534, 65534], "{rest}");
}

//! Building a staged submission: `cargo build --release --offline`, one outcome per binary.
//!
//! All requested binaries are built by one cargo invocation with `--keep-going`, so a compile
//! error in one binary costs only that binary's exercise. Cargo runs through the [`sandbox`]
//! (rustc compiles student code: `include_str!` and macros run at compile time), with the
//! dependency cache of [`cache`]. Built executables are copied out of the shared target directory
//! into the staging directory, then the submission's traces in the target directory are removed.
//!
//! A calibrated race probe also runs the same source unoptimised: [`build_unoptimised`] is a
//! second invocation with the skeleton's `probe` profile, asked for only by specs that need it.
//!
//! [`sandbox`]: crate::sandbox

mod cache;
mod cargo_home;
mod diagnostics;
mod reach;

pub use cache::{BuildCache, CacheError};
pub use diagnostics::CompileError;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sandbox::{self, Ending, Isolation, Job, Limits, Visible};
use crate::stage::Staged;

/// What became of one binary.
#[derive(Debug, Clone, PartialEq)]
pub enum BinaryBuild {
    /// Built; the executable lives in the staging directory.
    Built { executable: PathBuf },
    /// The submission has no `src/bin/<name>.rs`.
    Missing,
    /// The compiler rejected it; the first error, trimmed.
    Failed(CompileError),
    /// The whole build ran past its time limit.
    TimedOut { after: Duration },
}

/// The outcome of building a submission.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub binaries: BTreeMap<String, BinaryBuild>,
    /// Wall-clock time of the cargo invocation (zero when nothing was built).
    pub wall: Duration,
}

/// Errors of the grader's own build machinery.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("could not run cargo: {0}")]
    Spawn(#[from] sandbox::SpawnError),
    /// No cargo to start: the grader's toolchain is missing (never the student's fault).
    #[error("cannot start cargo: {0}")]
    NoCargo(String),
    /// Cargo failed for a reason of this machine, before any compiler judged the code: the
    /// toolchain could not start in the sandbox, the offline dependencies are gone, the disk
    /// is full. A student's code fails only through rustc, which cargo reports as
    /// "could not compile".
    #[error("cargo failed for a reason of this machine, not of the submission: {0}")]
    Machine(String),
    #[error("could not copy the built {binary}: {source}")]
    Copy {
        binary: String,
        #[source]
        source: std::io::Error,
    },
}

/// The cargo to run: the one that runs us (`cargo run`, tests), else `cargo` on `PATH`.
pub(crate) fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The cargo to run as a path that exists: `CARGO` as given, else `cargo` found on `PATH`.
/// Checked before every build, because inside the sandbox a missing program is only an exit
/// status, which would read as the student's compile error.
pub(crate) fn resolve_cargo() -> Result<PathBuf, BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let program = PathBuf::from(cargo_program());
    if program.components().count() > 1 {
        return if executable(&program) {
            Ok(program)
        } else {
            Err(BuildError::NoCargo(format!(
                "CARGO={} is not an executable file",
                program.display()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(&program))
        .find(|p| executable(p))
        .ok_or_else(|| {
            BuildError::NoCargo(format!(
                "`{}` is not on PATH ({}) and CARGO is unset: install a Rust toolchain \
                 (rustup) for the user that runs labgrade",
                program.display(),
                path.to_string_lossy()
            ))
        })
}

/// Why cargo's failure is the machine's and not the submission's, if it is (see
/// [`BuildError::Machine`]).
fn machine_failure(ending: &Ending, stdout: &str, stderr: &str) -> Option<String> {
    let full = [
        "No space left on device",
        "os error 28",
        "Disk quota exceeded",
    ];
    if full
        .iter()
        .any(|m| stderr.contains(m) || stdout.contains(m))
    {
        return Some("the disk is full (No space left on device)".to_string());
    }
    let judged = stderr.contains("could not compile") || stdout.contains(r#""level":"error""#);
    match ending {
        Ending::Exited(code) if *code != 0 && !judged => {
            let last: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = last[last.len().saturating_sub(3)..].join(" / ");
            Some(format!("cargo exited with status {code}: {tail}"))
        }
        _ => None,
    }
}

/// The environment of a build: what cargo and rustc need to find the toolchain and the
/// dependency cache, and nothing else of the grader's (no `RUSTFLAGS` leaking in). `CARGO_HOME`
/// is the lease's own `home`, never the user's.
fn build_env(target: &Path, home: &Path) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = ["PATH", "HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"]
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
        .collect();
    env.push(("CARGO_HOME".into(), home.into()));
    env.push(("CARGO_TARGET_DIR".into(), target.into()));
    env.push(("CARGO_TERM_COLOR".into(), "never".into()));
    env.push(("LC_ALL".into(), "C".into()));
    // glibc's malloc gives every thread an arena of 64 MiB of address space: cargo's threads
    // on a many-core machine would spend a cgroup-less build's address-space limit on them
    // (rustc has its own allocator). Two arenas, as for runs.
    env.push(("MALLOC_ARENA_MAX".into(), "2".into()));
    env
}

/// What a build may see besides the system directories: the staged package (read-only), the
/// target directory (writable; it holds the lease's cargo home, where cargo takes its locks),
/// the grader's shared `registry` (read-only) and the toolchain (read-only). Nothing else: a
/// student's `include_str!("/etc/shadow")`, `include_str!("/root/.cargo/credentials.toml")` or
/// `#[path = "/home/ta/hidden.rs"] mod x;` finds nothing.
fn build_view(staged: &Path, target: &Path, registry: &Path) -> Vec<Visible> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut view = vec![
        Visible::read_only(staged),
        Visible::writable(target),
        Visible::read_only(registry),
    ];
    // The `cargo` and `rustc` the build finds on `PATH` (rustup's proxies in the user's cargo
    // home, typically): those files only, not their directory, whose neighbours are the
    // user's business.
    for tool in ["cargo", "rustc"] {
        view.extend(on_path(tool).map(|p| Visible::read_only(&p)));
    }
    let rustup = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".rustup")));
    view.extend(rustup.map(|p| Visible::read_only(&p)));
    if let Some(cargo) = std::env::var_os("CARGO").map(PathBuf::from) {
        view.push(Visible::read_only(&cargo));
    }
    view.retain(|v| v.path.exists());
    view
}

/// The first `name` in a directory of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A cargo profile the grader builds with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `--release`: what every test runs.
    Release,
    /// The skeleton's `[profile.probe]`: the same source at opt-level 0, for the race probe.
    Probe,
}

impl Profile {
    /// Cargo's name for the profile, which is also its directory in the target directory.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Probe => "probe",
        }
    }

    /// Where the built executables are copied in the staging directory.
    fn bin_dir(self) -> &'static str {
        match self {
            Profile::Release => "labgrade-bin",
            Profile::Probe => "labgrade-bin/unoptimised",
        }
    }
}

/// Builds `wanted` binaries of `staged` in worker `worker`'s target directory.
pub fn build(
    staged: &Staged,
    wanted: &[&str],
    cache: &BuildCache,
    worker: usize,
    timeout: Duration,
) -> Result<BuildReport, BuildError> {
    build_profile(staged, wanted, cache, worker, timeout, Profile::Release)
}

/// Builds `binaries` (already built in release) once more unoptimised, for the race probe's
/// rotation. Returns the executables that built; a binary missing from the map simply gets no
/// unoptimised runs (the same source compiled in release, so a failure here is the grader's
/// problem or a time limit, never the student's).
pub fn build_unoptimised(
    staged: &Staged,
    binaries: &[&str],
    cache: &BuildCache,
    worker: usize,
    timeout: Duration,
) -> Result<BuildReport, BuildError> {
    let mut report = build_profile(staged, binaries, cache, worker, timeout, Profile::Probe)?;
    report
        .binaries
        .retain(|_, b| matches!(b, BinaryBuild::Built { .. }));
    Ok(report)
}

/// Compiles the course dependencies into worker `worker`'s target directory in every profile
/// a grading may build with (release, and the unoptimised `probe` of calibrated race tests),
/// so that gradings compile only the student's crate: a Gradescope image is warmed this way
/// once, when it is built. Fetches them first (the network, once).
pub fn warm(cache: &BuildCache, worker: usize) -> Result<(), BuildError> {
    let cargo = resolve_cargo()?;
    ensure_build_user(cache, &cargo);
    let lease = cache.lease(worker)?;
    cache.warm_profile(&lease, Profile::Probe)?;
    Ok(())
}

/// Finds out (once per toolchain and cache, kept in the cache) whether builds on the portable
/// path can run as the build user, and records it with the sandbox ([`reach`]). Nothing to do
/// where builds run isolated or cannot change user.
fn ensure_build_user(cache: &BuildCache, cargo: &Path) {
    reach::ensure(
        cache.root(),
        &cargo_home::shared_registry(cache.root()),
        cargo,
    );
}

/// Checks, before any build, which user the builds will run as, so that `labgrade doctor`
/// and `batch`'s warning say it (the "build user" layer). No cargo: nothing to check.
pub fn check_build_user(cache: &BuildCache) {
    if let Ok(cargo) = resolve_cargo() {
        ensure_build_user(cache, &cargo);
    }
}

/// One cargo invocation for `wanted` in `profile`.
fn build_profile(
    staged: &Staged,
    wanted: &[&str],
    cache: &BuildCache,
    worker: usize,
    timeout: Duration,
    profile: Profile,
) -> Result<BuildReport, BuildError> {
    let mut binaries: BTreeMap<String, BinaryBuild> = BTreeMap::new();
    let present: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|b| staged.binaries.contains(*b))
        .collect();
    for b in wanted.iter().filter(|b| !present.contains(b)) {
        binaries.insert(b.to_string(), BinaryBuild::Missing);
    }
    if present.is_empty() {
        return Ok(BuildReport {
            binaries,
            wall: Duration::ZERO,
        });
    }

    let cargo = resolve_cargo()?;
    // Before the lease, which gives its target directory to the build user if it has one.
    ensure_build_user(cache, &cargo);
    let lease = cache.lease(worker)?;
    if profile != Profile::Release {
        cache.warm_profile(&lease, profile)?;
    }
    let (home, registry) = cache.cargo_home(&lease)?;
    let before = cache::snapshot(&lease.dir);
    let mut args: Vec<OsString> = [
        "build",
        "--profile",
        profile.name(),
        "--offline",
        "--locked",
        "--keep-going",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push("--message-format=json".into());
    for b in &present {
        args.push("--bin".into());
        args.push(b.into());
    }
    let job = Job {
        program: cargo,
        args,
        cwd: staged.path().to_path_buf(),
        env: build_env(&lease.dir, &home),
        limits: Limits::for_build(timeout),
        isolation: Isolation::Build,
        keep_visible: build_view(staged.path(), &lease.dir, &registry),
    };
    let outcome = sandbox::run(&job);
    let result = outcome.map_err(BuildError::from).and_then(|outcome| {
        if let Some(why) = machine_failure(
            &outcome.ending,
            &String::from_utf8_lossy(&outcome.stdout.bytes),
            &outcome.stderr.lossy(),
        ) {
            return Err(BuildError::Machine(why));
        }
        let messages = diagnostics::parse(&outcome.stdout.bytes);
        for b in &present {
            let state = match (&outcome.ending, messages.executables.get(*b)) {
                // A binary cargo reported as built before the build was stopped is whole (the
                // artifact message follows the link): only the one that kept the compiler
                // busy fails its exercise.
                (_, Some(exe)) => BinaryBuild::Built {
                    executable: copy_out(staged, b, exe, profile)?,
                },
                (Ending::TimedOut { after }, None) => BinaryBuild::TimedOut { after: *after },
                (_, None) => {
                    let stderr = outcome.stderr.lossy();
                    let mut error = messages.first_error_for(b, &stderr);
                    // No error of the compiler's own: the compiler was killed or aborted,
                    // and running out of memory is the one cause a submission can bring
                    // about (the cgroup's OOM killer, or an allocation the address-space
                    // limit refused).
                    let oom_killed = outcome.cgroup.as_ref().is_some_and(|c| c.oom_kills > 0);
                    if error.file.is_none()
                        && (oom_killed || diagnostics::allocation_failed(&stderr))
                    {
                        error.message = diagnostics::out_of_memory();
                    }
                    BinaryBuild::Failed(error)
                }
            };
            binaries.insert(b.to_string(), state);
        }
        Ok(outcome.wall)
    });
    cache::purge_new(&lease.dir, &before);
    let wall = result?;
    Ok(BuildReport { binaries, wall })
}

/// The largest executable copied out of a build (a Lab 10 program is a few MiB).
const MAX_EXECUTABLE_BYTES: u64 = 256 << 20;

/// Copies a built executable out of the shared target directory into the staging directory.
fn copy_out(
    staged: &Staged,
    binary: &str,
    built: &Path,
    profile: Profile,
) -> Result<PathBuf, BuildError> {
    let dir = staged.path().join(profile.bin_dir());
    let dest = dir.join(binary);
    // The sandbox runs programs as an unprivileged user: it must be able to reach and execute
    // them (but not list or change the staging directory).
    let mode = |path: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    };
    // What the build left is the student's program: copied like any file of theirs (no link
    // followed, nothing but a regular file opened, bounded).
    let copy = |from: &Path, to: &Path| {
        let _ = std::fs::remove_file(to);
        crate::untrusted_file::copy_capped(from, to, MAX_EXECUTABLE_BYTES)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", from.display())))
    };
    std::fs::create_dir_all(&dir)
        .and_then(|_| copy(built, &dest))
        .and_then(|_| mode(staged.path(), 0o711))
        .and_then(|_| mode(&staged.path().join("labgrade-bin"), 0o755))
        .and_then(|_| mode(&dir, 0o755))
        .and_then(|_| mode(&dest, 0o755))
        .map_err(|source| BuildError::Copy {
            binary: binary.to_string(),
            source,
        })?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A build sees the target directory writable and nothing else: the registry and the
    /// toolchain are read-only, and no part of the user's cargo home but its binaries is there.
    #[test]
    fn a_build_writes_only_its_target_and_never_sees_the_users_cargo_home() {
        let dir = tempfile::tempdir().unwrap();
        let (staged, target, registry) = (
            dir.path().join("staged"),
            dir.path().join("target-0"),
            dir.path().join("cargo-home/registry"),
        );
        for d in [&staged, &target, &registry] {
            std::fs::create_dir_all(d).unwrap();
        }
        let view = build_view(&staged, &target, &registry);
        let writable: Vec<&Path> = view
            .iter()
            .filter(|v| v.writable)
            .map(|v| v.path.as_path())
            .collect();
        assert_eq!(writable, [target.as_path()]);
        // The lease's cargo home, where cargo takes its locks, is inside the writable target.
        assert!(cargo_home::lease_home(&target).starts_with(&target));
        assert!(view.iter().any(|v| v.path == registry && !v.writable));
        let user = cargo_home::user_home().expect("HOME is set");
        for secret in [
            "credentials.toml",
            "credentials",
            "config.toml",
            "config",
            "git",
        ] {
            let secret = user.join(secret);
            assert!(
                !view.iter().any(|v| secret.starts_with(&v.path)),
                "{} is visible to builds: {view:?}",
                secret.display()
            );
        }
        let env = build_env(&target, &cargo_home::lease_home(&target));
        let home = env.iter().find(|(k, _)| k == "CARGO_HOME").map(|(_, v)| v);
        assert_eq!(
            home.map(PathBuf::from),
            Some(cargo_home::lease_home(&target))
        );
    }
}

#[cfg(test)]
mod machine_tests {
    use super::{machine_failure, Ending};

    #[test]
    fn a_compile_error_is_the_students() {
        let stderr = "error: could not compile `lab10` (bin \"counter\") due to 1 previous error";
        assert_eq!(machine_failure(&Ending::Exited(101), "", stderr), None);
    }

    #[test]
    fn a_cargo_that_cannot_start_or_find_its_toolchain_is_the_machines() {
        for stderr in [
            "labgrade sandbox: cannot start /x/cargo: No such file or directory",
            "error: toolchain '1.95.0-x86_64-unknown-linux-gnu' is not installed",
        ] {
            assert!(machine_failure(&Ending::Exited(1), "", stderr).is_some());
        }
    }

    #[test]
    fn a_full_disk_is_the_machines_even_mid_compile() {
        let stderr = "error: failed to write: No space left on device (os error 28)\n\
                      error: could not compile `lab10`";
        let why = machine_failure(&Ending::Exited(101), "", stderr).unwrap();
        assert!(why.contains("disk is full"), "{why}");
    }

    #[test]
    fn a_timeout_stays_a_verdict() {
        let after = std::time::Duration::from_secs(1);
        assert_eq!(machine_failure(&Ending::TimedOut { after }, "", ""), None);
    }
}

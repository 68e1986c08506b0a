//! The one place that spawns untrusted code.
//!
//! Every build and every run of a submission goes through [`run`]: it starts the program in its
//! own process group with a cleared environment, closed stdin and kernel rlimits, captures its
//! output up to a cap, enforces a wall-clock limit (SIGTERM to the whole group, a grace period,
//! then SIGKILL), kills whatever is left of the group when the main process ends, reaps, and says
//! why the run ended. It never judges a run and never prints.
//!
//! Why not `wait-timeout`: it reaps the child itself, which loses the child's `rusage` (the CPU
//! time of the process tree) and kills only the main process. Here a waiter thread blocks in
//! `waitid(WNOWAIT)`, so the main process stays a zombie (its group id cannot be reused) while
//! the group is killed, and is then reaped with `wait4` for its resource usage.
//!
//! The portable path is here (with the ptrace audit of `trace.rs` for runs of student
//! programs); the isolated one (namespaces, cgroup, the init's audit) is in `isolated.rs`, and
//! the supervision both share (output, wall clock, kill, reap) in `supervise.rs`.

// Off Linux only the portable layer exists; the Linux layers still compile, unused.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod acct;
mod audit;
mod capture;
mod cgroup;
pub mod init;
#[cfg(target_os = "linux")]
mod isolated;
mod layer;
mod layers;
mod leftovers;
mod limits;
mod orphans;
mod proc_file;
mod ruleset;
mod seccomp;
pub mod shape;
// Namespaces, mounts and capabilities are Linux's: elsewhere there is no shape to simulate.
#[cfg(target_os = "linux")]
pub mod shape_sim;
mod snapshot;
mod supervise;
#[cfg(target_os = "linux")]
mod trace;
mod uids;
mod view;

pub use audit::Audit;
pub use cgroup::{remove_idle as remove_idle_cgroups, CgroupStats};
pub use layer::Layer;
pub use layers::{LayerStatus, Layers, NamespaceMode};
pub use limits::Limits;
pub use ruleset::{
    set_for_benchmarks as landlock_for_benchmarks, Enforcement as LandlockEnforcement,
};
pub use shape::{Refusal, Shape};
pub use snapshot::{ProcState, Snapshot};
pub use view::Visible;

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use isolated::{run_isolated, Isolated};
use supervise::{supervise, MainWait};

pub use capture::{Stream, StreamOutput};

/// What to run and under which limits.
#[derive(Debug, Clone)]
pub struct Job {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// The complete environment of the child: nothing of the grader's leaks in.
    pub env: Vec<(OsString, OsString)>,
    pub limits: Limits,
    /// Which layers to use.
    pub isolation: Isolation,
    /// Host paths the program needs (its executable, working directory, toolchain…). An
    /// isolated run sees only these and the system directories.
    pub keep_visible: Vec<Visible>,
}

/// How strongly a job is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Isolation {
    /// Every layer the machine offers: namespaces, cgroup, unprivileged user, process audit.
    Full,
    /// Namespaces, cgroup and seccomp, as the build user ([`build_user`]) where the grader
    /// is root, without the process audit (builds: cargo writes the shared target directory
    /// and starts hundreds of short processes).
    Build,
    /// No namespaces or cgroup: process group, rlimits, Landlock and seccomp; a uid of its own
    /// when the grader is root. (A build where namespaces are missing takes this path too, as
    /// the build user where a probe found that it reaches the toolchain and the cache, else as
    /// the grader: outside the minimal view the toolchain is often in root's home, which no
    /// other user may enter.)
    Portable,
}

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The main process exited with this code.
    Exited(i32),
    /// The main process was killed by this signal, not by the sandbox.
    Signaled(i32),
    /// The wall-clock limit passed; the whole group was terminated.
    TimedOut { after: Duration },
    /// A stream exceeded the output cap; the whole group was killed.
    OutputLimit { stream: Stream, cap_bytes: usize },
}

/// What was observed of one run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ending: Ending,
    pub stdout: StreamOutput,
    pub stderr: StreamOutput,
    /// Wall-clock time from spawn to the main process's exit.
    pub wall: Duration,
    /// User + system CPU time of the main process and the descendants it waited for.
    pub cpu: Duration,
    /// Peak resident set size of the largest process the main one waited for, in bytes.
    pub max_rss_bytes: u64,
    /// A process outside the group (it called `setsid`) kept the output pipes open after the
    /// run; the sandbox stopped waiting for it.
    pub escaped_output_holder: bool,
    /// The run went through the namespace init.
    pub isolated: bool,
    /// The process audit of a run of student code ([`Isolation::Full`]): the init's on the
    /// isolated path, the tracer's ([`trace`](self::trace)) on the portable path where ptrace
    /// is allowed; `None` where neither could run.
    pub audit: Option<Audit>,
    /// What the run's cgroup measured, when there was one.
    pub cgroup: Option<CgroupStats>,
    /// What the Landlock layer enforced on the program.
    pub landlock: LandlockEnforcement,
    /// The uid the program ran as, as the host sees it (a uid of the pool of
    /// [`uids`](self::uids) when the grader is root).
    pub uid: u32,
    /// The layers this run actually had (a layer the machine offers but a run could not get
    /// is a [`SpawnError`], never a silent absence: these say what a run got).
    pub applied: Applied,
    /// A run stopped at its time limit: what its processes were doing just before (`None`
    /// where `/proc` could not be read, or the run was not stopped for time).
    pub at_timeout: Option<Snapshot>,
}

/// The layers one run had, besides Landlock ([`Outcome::landlock`]) and the namespaces
/// ([`Outcome::isolated`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// Its own cgroup (process and memory ceilings for the whole tree).
    pub cgroup: bool,
    /// The seccomp filter ([`seccomp`](self::seccomp)), with `no_new_privs`.
    pub seccomp: bool,
    /// The program ran as a user of its own (a uid of the pool, or the shared `nobody`
    /// where the pool is not mapped): neither root nor the grader's user.
    pub own_user: bool,
    /// `RLIMIT_NPROC` was set (only where the count is the run's alone).
    pub rlimit_nproc: bool,
}

/// The sandbox could not start the program (not a verdict on the program).
#[derive(Debug, thiserror::Error)]
#[error("could not start {program}: {cause}")]
pub struct SpawnError {
    program: String,
    // Not a `source`: the message already shows it, and error chains would repeat it.
    cause: io::Error,
}

/// Set by [`portable_for_benchmarks`]: runs of this process skip the namespace path.
static PORTABLE_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether runs of this process take the portable path even where namespaces work: only for
/// `benches/sandbox_cost.rs`, which measures the portable path with its ptrace audit.
#[doc(hidden)]
pub fn portable_for_benchmarks(on: bool) {
    PORTABLE_ONLY.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Runs `job` to completion under its limits.
pub fn run(job: &Job) -> Result<Outcome, SpawnError> {
    let layers = Layers::get();
    if PORTABLE_ONLY.load(std::sync::atomic::Ordering::Relaxed) {
        return run_portable(job);
    }
    match (&layers.init_program, job.isolation) {
        // Namespaces are Linux's; elsewhere (macOS) every run takes the portable layer.
        #[cfg(target_os = "linux")]
        (Ok(init), Isolation::Full | Isolation::Build) if layers.isolated() => {
            // The init reports on every run it completes. A run that ended without a report
            // and without the sandbox ending it means the init itself died (seen once, rarely,
            // under load): that is not the student's doing, so the run is made again once,
            // and a second loss is the grader's error, never a verdict.
            match run_isolated(job, init, layers)? {
                Isolated::Reported(outcome) => Ok(*outcome),
                Isolated::InitLost(status) => {
                    // The one exception to "never prints": a trace for whoever hunts this down.
                    if std::env::var_os("LABGRADE_SANDBOX_DEBUG").is_some() {
                        eprintln!("labgrade sandbox: init lost without a report ({status:?})");
                    }
                    match run_isolated(job, init, layers)? {
                        Isolated::Reported(outcome) => Ok(*outcome),
                        Isolated::InitLost(status) => Err(SpawnError {
                            program: job.program.display().to_string(),
                            cause: io::Error::other(format!(
                            "the sandbox's init ended without a report twice (last: {status:?})"
                        )),
                        }),
                    }
                }
            }
        }
        _ => run_portable(job),
    }
}

/// The uid and gid builds run as when they do not run as the grader: the builds of a root
/// grader whose user namespace maps the uid pool ([`uids::Pool::build_user`]), isolated, or
/// portable once [`set_build_reach`] has said that this user reaches the toolchain and the
/// build cache. The build cache makes its target directories this user's.
pub fn build_user() -> Option<(u32, u32)> {
    let layers = Layers::get();
    match (&layers.user, &layers.namespaces) {
        (Ok(uids::RunUsers::Pool(pool)), Ok(NamespaceMode::Direct))
            if layers.isolated() && nix::unistd::geteuid().is_root() =>
        {
            Some(pool.build_user())
        }
        _ => portable_build_user().filter(|_| matches!(build_reach(), Some(Ok(())))),
    }
}

/// The build user a portable build would run as, reachability aside: a root grader without
/// namespaces whose user namespace maps the uid pool (a Docker/Gradescope container). `None`
/// where builds cannot change user at all (an unprivileged grader, a rootless container's
/// shared `nobody`) or run isolated.
pub fn portable_build_user() -> Option<(u32, u32)> {
    let layers = Layers::get();
    match &layers.user {
        Ok(uids::RunUsers::Pool(pool))
            if !layers.isolated() && nix::unistd::geteuid().is_root() =>
        {
            Some(pool.build_user())
        }
        _ => None,
    }
}

/// Whether the build user reaches the toolchain and the build cache, as the build's probe
/// found (the build module's): `None` until a probe ran in this process.
static BUILD_REACH: std::sync::Mutex<Option<Result<(), String>>> = std::sync::Mutex::new(None);

/// Records what the build user's probe found: portable builds run as the build user only
/// after `Ok`; an `Err` keeps them the grader's, and the "build user" layer says why.
pub fn set_build_reach(found: Result<(), String>) {
    *BUILD_REACH.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
}

/// What the last [`set_build_reach`] recorded.
pub fn build_reach() -> Option<Result<(), String>> {
    BUILD_REACH
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Runs `job` (a build's probe) on the portable path as [`portable_build_user`], whatever the
/// reachability recorded so far: how the probe finds out.
pub fn run_as_portable_build_user(job: &Job) -> Result<Outcome, SpawnError> {
    match portable_build_user() {
        Some(ids) => run_portable_as(job, Some(ids)),
        None => Err(SpawnError {
            program: job.program.display().to_string(),
            cause: io::Error::other("no build user on the portable path here"),
        }),
    }
}

/// What the Landlock layer gives a run here (see [`ruleset::Enforcement::for_abi`]).
fn landlock_enforcement(layers: &Layers) -> LandlockEnforcement {
    if ruleset::wanted() {
        LandlockEnforcement::for_abi(layers.landlock.clone())
    } else {
        LandlockEnforcement::NotEnforced
    }
}

fn spawn_error(program: &std::path::Path) -> impl FnOnce(io::Error) -> SpawnError + '_ {
    move |source| SpawnError {
        program: program.display().to_string(),
        cause: source,
    }
}

/// The portable layer: the program itself in its own process group, with rlimits, Landlock,
/// the seccomp filter and `no_new_privs`; as a user of its own ([`uids`]) with `RLIMIT_NPROC`
/// when the grader is root (a build as the build user where it reaches the toolchain, else as
/// the grader: see README, "The sandbox").
fn run_portable(job: &Job) -> Result<Outcome, SpawnError> {
    run_portable_as(job, None)
}

/// [`run_portable`], a build running as `build_as` when given, else as [`build_user`].
fn run_portable_as(job: &Job, build_as: Option<(u32, u32)>) -> Result<Outcome, SpawnError> {
    let layers = Layers::get();
    let fail = |cause: io::Error| SpawnError {
        program: job.program.display().to_string(),
        cause,
    };
    let mut cmd = Command::new(&job.program);
    cmd.args(&job.args)
        .current_dir(&job.cwd)
        .env_clear()
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // Student code never runs as root: a root grader gives each run a uid of its own.
    let user = if nix::unistd::geteuid().is_root() && job.isolation != Isolation::Build {
        let users = layers.user.as_ref().map_err(|why| {
            fail(io::Error::other(format!(
                "no unprivileged user to run student code as: {why}"
            )))
        })?;
        Some(users.take().map_err(fail)?)
    } else {
        None
    };
    // A build runs as the build user where it reaches the toolchain (see `build_user`), else
    // as the grader (the "build user" layer says so).
    let build_ids = match job.isolation {
        Isolation::Build => build_as.or_else(build_user),
        _ => None,
    };
    let ids = user.as_ref().map(|u| (u.uid, u.gid)).or(build_ids);
    // RLIMIT_NPROC only where the count is the run's alone: the build user is shared by every
    // concurrent build (as on the isolated path, builds get no process rlimit).
    let own_count = user.is_some();
    // A private TMPDIR: Landlock keeps the program out of the host's shared /tmp (other
    // submissions are staged there), yet compilers and `mkstemp` need somewhere to write.
    let scratch = crate::tempdirs::create("scratch").map_err(fail)?;
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(scratch.path(), Some(uid), Some(gid)).map_err(fail)?;
    }
    if !job.env.iter().any(|(k, _)| k == "TMPDIR") {
        cmd.env("TMPDIR", scratch.path());
    }
    let limits = job.limits.without_cgroup(job.isolation);
    // A run that keeps the grader's uid (an unprivileged grader without user namespaces) shares
    // RLIMIT_NPROC's count with every process of that user: allow what the user has now plus
    // the run's own allowance, so a fork bomb still meets a bound near the run's limit.
    let shared_nproc = match (ids, job.isolation, limits.processes) {
        (None, Isolation::Full, Some(own)) if !nix::unistd::geteuid().is_root() => {
            limits::tasks_of_user(nix::unistd::getuid().as_raw()).map(|now| now + own)
        }
        _ => None,
    };
    // Runs of student code are audited by ptrace where the machine allows it (builds are not:
    // cargo's hundreds of processes would pay a stop each for nothing).
    let traced =
        cfg!(target_os = "linux") && job.isolation == Isolation::Full && layers.ptrace.is_ok();
    let setup = layer::Setup {
        isolation: job.isolation,
        isolated: false,
        nproc: if own_count {
            limits.processes
        } else {
            shared_nproc
        },
        limits,
        user: ids,
        die_with: Some(std::process::id()),
        trace: traced,
        landlock: ruleset::wanted()
            .then(|| ruleset::Rules::for_job(&job.keep_visible, false, Some(scratch.path()))),
    };
    // Every layer's steps, prepared (rules opened, filter built) before the fork.
    let steps = layer::Steps::for_setup(&setup).map_err(|e| fail(io::Error::other(e)))?;
    let filtered = steps.has(Layer::Seccomp);
    // SAFETY: `Steps::take` makes only async-signal-safe system calls (ptrace, setrlimit,
    // setgroups, setgid, setuid, prctl, getppid, landlock_restrict_self) and allocates
    // nothing on success: everything was built before the fork.
    unsafe {
        cmd.pre_exec(move || steps.take().map_err(|(_, e)| e));
    }
    let started = Instant::now();
    // Without a PID namespace, orphans of the run come back to the grader to be ended with it.
    let adopting = orphans::adopt();
    let (child, main_wait, tracer) =
        spawn_portable(cmd, traced).map_err(spawn_error(&job.program))?;
    let s = supervise(
        child,
        started,
        &job.limits,
        adopting,
        main_wait,
        snapshot::Tree::Led,
    );
    let audit = tracer.and_then(|t| t.join().ok().flatten());
    drop(scratch);
    // Without a mount and IPC namespace, what the run made in /dev/shm and System V IPC is
    // still there; a uid of its own owns it alone.
    if let Some(user) = user.as_ref().filter(|u| u.own()) {
        leftovers::remove_owned_by(user.uid);
    }
    // Only now, every process of the run ended, may another run have the uid.
    drop(user);
    let ending = s.ending.unwrap_or(s.usage.status.ending());
    Ok(Outcome {
        ending,
        stdout: s.stdout,
        stderr: s.stderr,
        wall: s.wall,
        cpu: s.usage.cpu,
        max_rss_bytes: s.usage.max_rss_bytes,
        escaped_output_holder: s.escaped_output_holder,
        isolated: false,
        audit,
        cgroup: None,
        landlock: landlock_enforcement(layers),
        uid: ids.map_or_else(|| nix::unistd::geteuid().as_raw(), |(uid, _)| uid),
        applied: Applied {
            cgroup: false,
            seccomp: filtered,
            own_user: ids.is_some(),
            rlimit_nproc: own_count && job.limits.processes.is_some(),
        },
        at_timeout: s.at_timeout,
    })
}

/// The tracer thread of a traced portable run, joined for its audit.
type TracerThread = std::thread::JoinHandle<Option<Audit>>;

/// Spawns a portable run: from a tracer thread of its own when `traced` (see [`trace`]), else
/// from here.
fn spawn_portable(
    mut cmd: Command,
    traced: bool,
) -> io::Result<(std::process::Child, MainWait, Option<TracerThread>)> {
    #[cfg(target_os = "linux")]
    if traced {
        let (child, ended, tracer) = trace::spawn(cmd)?;
        return Ok((child, MainWait::Traced(ended), Some(tracer)));
    }
    let _ = traced;
    Ok((orphans::spawn(&mut cmd)?, MainWait::Own, None))
}

/// The environment every run of student code gets: nothing of the grader's.
pub fn minimal_env() -> Vec<(OsString, OsString)> {
    vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("LC_ALL".into(), "C".into()),
        // glibc gives every thread its own malloc arena, reserving 64 MiB of address space
        // each: a pool of 64 threads then exhausts the 1 GiB RLIMIT_AS and panics with EAGAIN
        // some runs and not others. Two arenas make a thread pool's verdict deterministic.
        ("MALLOC_ARENA_MAX".into(), "2".into()),
    ]
}

#[cfg(test)]
mod tests;

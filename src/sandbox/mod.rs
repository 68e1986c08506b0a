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
//! The portable path is here; the isolated one (namespaces, cgroup, the init's audit) is in
//! `isolated.rs`, and the supervision both share (output, wall clock, kill, reap) in
//! `supervise.rs`.

// Off Linux only the portable layer exists; the Linux layers still compile, unused.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod acct;
mod audit;
mod capture;
mod cgroup;
pub mod init;
#[cfg(target_os = "linux")]
mod isolated;
mod layers;
mod limits;
mod orphans;
mod ruleset;
mod seccomp;
pub mod shape;
pub mod shape_sim;
mod supervise;
mod view;

pub use audit::Audit;
pub use cgroup::{remove_idle as remove_idle_cgroups, CgroupStats};
pub use layers::{LayerStatus, Layers, NamespaceMode};
pub use limits::Limits;
pub use ruleset::{
    set_for_benchmarks as landlock_for_benchmarks, Enforcement as LandlockEnforcement,
};
pub use shape::{Refusal, Shape};
pub use view::Visible;

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use isolated::{run_isolated, Isolated};
use supervise::supervise;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Every layer the machine offers: namespaces, cgroup, unprivileged user, process audit.
    Full,
    /// Namespaces and cgroup but the grader's own user and no process audit (builds: cargo
    /// writes the shared target directory and starts hundreds of short processes).
    Build,
    /// Process group and rlimits only.
    Portable,
}

/// The namespaces an isolated run gets.
#[cfg(target_os = "linux")]
const NAMESPACES: libc::c_int = libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;
#[cfg(not(target_os = "linux"))]
const NAMESPACES: libc::c_int = 0;

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
    /// The process audit, when the run was isolated and audited and the init reported.
    pub audit: Option<Audit>,
    /// What the run's cgroup measured, when there was one.
    pub cgroup: Option<CgroupStats>,
    /// What the Landlock layer enforced on the program.
    pub landlock: LandlockEnforcement,
}

/// The sandbox could not start the program (not a verdict on the program).
#[derive(Debug, thiserror::Error)]
#[error("could not start {program}: {cause}")]
pub struct SpawnError {
    program: String,
    // Not a `source`: the message already shows it, and error chains would repeat it.
    cause: io::Error,
}

/// Runs `job` to completion under its limits.
pub fn run(job: &Job) -> Result<Outcome, SpawnError> {
    let layers = Layers::get();
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

/// The portable layer: the program itself in its own process group, with rlimits.
fn run_portable(job: &Job) -> Result<Outcome, SpawnError> {
    let mut cmd = Command::new(&job.program);
    cmd.args(&job.args)
        .current_dir(&job.cwd)
        .env_clear()
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // A private TMPDIR: Landlock keeps the program out of the host's shared /tmp (other
    // submissions are staged there), yet compilers and `mkstemp` need somewhere to write.
    let scratch = tempfile::Builder::new()
        .prefix("labgrade-scratch-")
        .tempdir()
        .map_err(spawn_error(&job.program))?;
    if !job.env.iter().any(|(k, _)| k == "TMPDIR") {
        cmd.env("TMPDIR", scratch.path());
    }
    let rules = ruleset::Rules::for_job(&job.keep_visible, false, Some(scratch.path()));
    let armed = ruleset::Armed::build(&rules).map_err(|e| SpawnError {
        program: job.program.display().to_string(),
        cause: io::Error::other(e),
    })?;
    let limits = job.limits.clone();
    let grader = std::process::id();
    // SAFETY: the closure only calls getrlimit/setrlimit, prctl, getppid and
    // landlock_restrict_self, which are async-signal-safe, and allocates nothing (the ruleset
    // was built before).
    unsafe {
        cmd.pre_exec(move || {
            init::die_with(grader)?;
            limits.apply_in_child()?;
            armed.enforce()
        });
    }
    let started = Instant::now();
    // Without a PID namespace, orphans of the run come back to the grader to be ended with it.
    let adopting = orphans::adopt();
    let child = orphans::spawn(&mut cmd).map_err(spawn_error(&job.program))?;
    let s = supervise(child, started, &job.limits, adopting);
    drop(scratch);
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
        audit: None,
        cgroup: None,
        landlock: landlock_enforcement(Layers::get()),
    })
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

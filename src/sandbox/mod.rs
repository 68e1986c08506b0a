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

// Off Linux only the portable layer exists; the Linux layers still compile, unused.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

mod audit;
mod capture;
mod cgroup;
pub mod init;
mod layers;
mod limits;
mod orphans;
mod ruleset;
mod seccomp;
mod view;

pub use audit::Audit;
pub use cgroup::{remove_idle as remove_idle_cgroups, CgroupStats};
pub use layers::{LayerStatus, Layers, NamespaceMode};
pub use limits::Limits;
pub use ruleset::{
    set_for_benchmarks as landlock_for_benchmarks, Enforcement as LandlockEnforcement,
};
pub use view::Visible;

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// Messages from the helper threads of one run.
enum Event {
    /// The main process has ended (not yet reaped).
    MainEnded,
    /// A stream passed the cap.
    OverCap(Stream),
    /// A stream reached end of file or was abandoned.
    Closed(Stream, StreamOutput),
}

/// Where the supervision of one run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// SIGTERM sent to the group; SIGKILL follows after [`GRACE`].
    Terminating {
        since: Instant,
    },
    /// SIGKILL sent; only the main process's end is awaited.
    Killed,
}

/// How long a process group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_millis(500);
/// How long to wait for the output pipes to close once the group is dead.
const DRAIN: Duration = Duration::from_secs(2);

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

/// An isolated run: reported by the init, or lost with it.
#[cfg(target_os = "linux")]
enum Isolated {
    Reported(Box<Outcome>),
    /// The init died without reporting (its wait status), and the sandbox had not ended the run.
    InitLost(Ending),
}

/// Every layer: `labgrade __sandbox-init` in new namespaces and a cgroup runs the program.
#[cfg(target_os = "linux")]
fn run_isolated(
    job: &Job,
    init: &std::path::Path,
    layers: &Layers,
) -> Result<Isolated, SpawnError> {
    let group = layers.cgroup.as_ref().ok().and_then(|hierarchy| {
        let limits = cgroup::CgroupLimits {
            pids_max: job.limits.processes.unwrap_or(1024) as u32,
            memory_bytes: job.limits.memory_bytes.unwrap_or(4 << 30),
        };
        cgroup::Lease::take(hierarchy, limits).ok()
    });
    let config = init::InitConfig {
        program: resolve_program(&job.program, &job.env),
        args: job.args.clone(),
        env: job.env.clone(),
        cwd: job.cwd.clone(),
        limits: job.limits.clone(),
        cgroup_join: group
            .as_ref()
            .map(|g| g.group().join_files())
            .unwrap_or_default(),
        user: match job.isolation {
            Isolation::Full => layers.user.as_ref().ok().copied(),
            _ => None,
        },
        keep_visible: job.keep_visible.clone(),
        audit: job.isolation == Isolation::Full,
        seccomp: job.isolation == Isolation::Full && seccomp::SUPPORTED,
        landlock: ruleset::wanted(),
        limit_processes: job.isolation == Isolation::Full
            && (layers.user.is_ok() || layers.namespaces == Ok(NamespaceMode::UserNamespace)),
    };
    let config = serde_json::to_string(&config).expect("plain data");
    let (audit_read, audit_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SpawnError {
            program: init.display().to_string(),
            cause: e.into(),
        })?;
    let mut cmd = Command::new(init);
    cmd.arg(init::INIT_ARG)
        .current_dir("/")
        .env_clear()
        .env(init::CONFIG_ENV, config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let write_fd = audit_write.as_raw_fd();
    let grader = std::process::id();
    let userns = match layers.namespaces {
        Ok(NamespaceMode::UserNamespace) => Some(UserMaps::for_current_user()),
        _ => None,
    };
    // SAFETY: setsid, unshare, open, write, close and dup2 are async-signal-safe syscalls; the
    // map contents were prepared before the fork; nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            init::die_with(grader)?;
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            match &userns {
                Some(maps) => {
                    if libc::unshare(libc::CLONE_NEWUSER | NAMESPACES) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    maps.write()?;
                }
                None => {
                    if libc::unshare(NAMESPACES) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            if libc::dup2(write_fd, init::AUDIT_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let spawned = orphans::spawn(&mut cmd);
    drop(audit_write);
    let child = spawned.map_err(spawn_error(init))?;
    let s = supervise(child, started, &job.limits, false);
    let report = read_report(audit_read);
    let stats = group.as_ref().map(|g| g.stats());
    drop(group);
    if let Some(init::InitReport::SetupFailed(why)) = &report {
        return Err(SpawnError {
            program: job.program.display().to_string(),
            cause: io::Error::other(format!("sandbox set-up failed: {why}")),
        });
    }
    let audit = match report {
        Some(init::InitReport::Done(a)) => Some(a),
        _ if s.ending.is_none() => return Ok(Isolated::InitLost(s.usage.status.ending())),
        _ => None,
    };
    let main_ending = audit
        .as_ref()
        .and_then(|a| match (a.main_exit_code, a.main_signal) {
            (Some(code), _) => Some(Ending::Exited(code)),
            (_, Some(sig)) => Some(Ending::Signaled(sig)),
            _ => None,
        });
    let ending = s.ending.or(main_ending).unwrap_or(s.usage.status.ending());
    Ok(Isolated::Reported(Box::new(Outcome {
        ending,
        stdout: s.stdout,
        stderr: s.stderr,
        wall: s.wall,
        cpu: stats.as_ref().and_then(|c| c.cpu).unwrap_or(s.usage.cpu),
        max_rss_bytes: s.usage.max_rss_bytes,
        escaped_output_holder: s.escaped_output_holder,
        isolated: true,
        audit: if job.isolation == Isolation::Full {
            audit
        } else {
            None
        },
        cgroup: stats,
        landlock: landlock_enforcement(layers),
    })))
}

/// A user namespace's maps: the grader's own uid and gid become root inside (as `unshare -r`),
/// which lets the sandbox mount and pivot without privileges on the host.
#[cfg(target_os = "linux")]
struct UserMaps {
    uid_map: std::ffi::CString,
    gid_map: std::ffi::CString,
}

#[cfg(target_os = "linux")]
impl UserMaps {
    fn for_current_user() -> Self {
        // SAFETY: plain syscalls without arguments.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        UserMaps {
            uid_map: std::ffi::CString::new(format!("0 {uid} 1")).expect("no NUL"),
            gid_map: std::ffi::CString::new(format!("0 {gid} 1")).expect("no NUL"),
        }
    }

    /// Writes the maps of the calling process (just after `unshare(CLONE_NEWUSER)`). Only
    /// async-signal-safe calls on prepared buffers: it runs between fork and exec.
    fn write(&self) -> io::Result<()> {
        write_proc(c"/proc/self/setgroups", b"deny")?;
        write_proc(c"/proc/self/uid_map", self.uid_map.as_bytes())?;
        write_proc(c"/proc/self/gid_map", self.gid_map.as_bytes())
    }
}

#[cfg(target_os = "linux")]
fn write_proc(path: &std::ffi::CStr, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: valid NUL-terminated path and buffer; the descriptor is closed on every path.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n != bytes.len() as isize {
            return Err(err);
        }
    }
    Ok(())
}

/// `program` as a path: a bare name is looked up in the job's own `PATH`, as `Command` would.
#[cfg(target_os = "linux")]
fn resolve_program(program: &std::path::Path, env: &[(OsString, OsString)]) -> PathBuf {
    if program.components().count() > 1 {
        return program.to_path_buf();
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    std::env::split_paths(&path.unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| program.to_path_buf())
}

/// Reads the init's report once every holder of the pipe is gone.
#[cfg(target_os = "linux")]
fn read_report(fd: OwnedFd) -> Option<init::InitReport> {
    let mut text = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

/// What supervising one child observed.
struct Supervised {
    /// Set when the sandbox ended the run (timeout, output cap).
    ending: Option<Ending>,
    stdout: StreamOutput,
    stderr: StreamOutput,
    wall: Duration,
    usage: Usage,
    escaped_output_holder: bool,
}

/// Captures output, enforces the wall clock and the output cap, kills the group, reaps.
/// With `end_orphans`, the processes the run left to the grader (see [`orphans`]) are ended
/// too, before the output is drained (a `setsid` daemon would hold the pipes open).
fn supervise(mut child: Child, started: Instant, limits: &Limits, end_orphans: bool) -> Supervised {
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    let cap = limits.output_bytes;
    capture::spawn_reader(Stream::Stdout, child.stdout.take(), cap, tx.clone());
    capture::spawn_reader(Stream::Stderr, child.stderr.take(), cap, tx.clone());
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            wait_without_reaping(pid);
            let _ = tx.send(Event::MainEnded);
        });
    }
    drop(tx);

    let deadline = started + limits.wall;
    let mut ending: Option<Ending> = None;
    let mut phase = Phase::Running;
    let mut closed: Vec<(Stream, StreamOutput)> = Vec::new();
    let wall = loop {
        let wake = match phase {
            Phase::Running => Some(deadline),
            Phase::Terminating { since } => Some(since + GRACE),
            Phase::Killed => None,
        };
        let event = match wake {
            Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match event {
            Ok(Event::MainEnded) => break started.elapsed(),
            Ok(Event::OverCap(stream)) => {
                ending.get_or_insert(Ending::OutputLimit {
                    stream,
                    cap_bytes: cap,
                });
                kill_group(pid, libc::SIGKILL);
                phase = Phase::Killed;
            }
            Ok(Event::Closed(s, o)) => closed.push((s, o)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if phase == Phase::Running {
                    ending.get_or_insert(Ending::TimedOut { after: limits.wall });
                    kill_group(pid, libc::SIGTERM);
                    phase = Phase::Terminating {
                        since: Instant::now(),
                    };
                } else {
                    kill_group(pid, libc::SIGKILL);
                    phase = Phase::Killed;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                unreachable!("the waiter thread holds a sender")
            }
        }
    };
    // The main process is a zombie: its group id is still ours. End every process left in it.
    kill_group(pid, libc::SIGKILL);
    if end_orphans {
        orphans::end(pid);
    }
    let usage = reap(pid);
    orphans::forget(pid);
    // Drop the std handle only now: it never waits, and the pid is already reaped.
    drop(child);

    let drain_deadline = Instant::now() + DRAIN;
    while closed.len() < 2 {
        match rx.recv_timeout(drain_deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Closed(s, o)) => closed.push((s, o)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let escaped_output_holder = closed.len() < 2;
    let take = |which: Stream| {
        closed
            .iter()
            .find(|(s, _)| *s == which)
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    };
    Supervised {
        ending,
        stdout: take(Stream::Stdout),
        stderr: take(Stream::Stderr),
        wall,
        usage,
        escaped_output_holder,
    }
}

/// Sends `signal` to every process of the group led by `pgid`.
fn kill_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: plain syscall; the group leader is not reaped yet, so the id is still ours.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Blocks until `pid` has ended, leaving it a zombie.
fn wait_without_reaping(pid: libc::pid_t) {
    loop {
        // SAFETY: siginfo_t is plain data, zero is a valid bit pattern.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall with a valid out-pointer.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

enum Status {
    Exited(i32),
    Signaled(i32),
}

impl Status {
    /// How the run ended, when the sandbox did not end it.
    fn ending(&self) -> Ending {
        match *self {
            Status::Exited(code) => Ending::Exited(code),
            Status::Signaled(sig) => Ending::Signaled(sig),
        }
    }
}

struct Usage {
    status: Status,
    cpu: Duration,
    max_rss_bytes: u64,
}

/// Reaps `pid` and returns its status and resource usage.
fn reap(pid: libc::pid_t) -> Usage {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: plain syscall with valid out-pointers.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if rc == pid || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let status = if libc::WIFSIGNALED(status) {
        Status::Signaled(libc::WTERMSIG(status))
    } else {
        Status::Exited(libc::WEXITSTATUS(status))
    };
    // Linux reports ru_maxrss in KiB, macOS in bytes.
    let rss_unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
    Usage {
        status,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        max_rss_bytes: ru.ru_maxrss.max(0) as u64 * rss_unit,
    }
}

/// The environment every run of student code gets: nothing of the grader's.
pub fn minimal_env() -> Vec<(OsString, OsString)> {
    vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("LC_ALL".into(), "C".into()),
    ]
}

#[cfg(test)]
mod tests;

//! Supervision of one spawned child: its output captured up to the cap, the wall clock
//! enforced (SIGTERM to the group, a grace period, SIGKILL), the group killed when the main
//! process ends, and the main process reaped for its resource usage.
//!
//! A traced run ([`super::trace`]) is waited for by its tracer, which receives every wait
//! status of the run's processes: supervise then learns of the main process's end, its status
//! and its resource usage from the tracer ([`MainWait::Traced`]) and never waits for it itself.

use std::io;
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::capture::{self, Stream, StreamOutput};
use super::snapshot::{self, Snapshot, Tree};
use super::{orphans, Ending, Limits};

/// Messages from the helper threads of one run.
pub(super) enum Event {
    /// The main process has ended (not yet reaped).
    MainEnded,
    /// The tracer reaped the main process and ended every process of the run.
    MainReaped(Box<MainEnd>),
    /// A stream passed the cap.
    OverCap(Stream),
    /// A stream reached end of file or was abandoned.
    Closed(Stream, StreamOutput),
}

/// Who waits for the main process.
pub(super) enum MainWait {
    /// Supervise itself: `waitid(WNOWAIT)`, the group killed, then `wait4`.
    Own,
    /// The run's tracer, which reports here; a channel closed without a report (the tracer
    /// died: `EXITKILL` killed its tracees) falls back to supervise's own reaping.
    Traced(mpsc::Receiver<MainEnd>),
}

/// The main process's end as its tracer saw it.
pub(super) struct MainEnd {
    /// When the tracer reaped it.
    pub(super) at: Instant,
    pub(super) usage: Usage,
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

/// What supervising one child observed.
pub(super) struct Supervised {
    /// Set when the sandbox ended the run (timeout, output cap).
    pub(super) ending: Option<Ending>,
    pub(super) stdout: StreamOutput,
    pub(super) stderr: StreamOutput,
    pub(super) wall: Duration,
    pub(super) usage: Usage,
    pub(super) escaped_output_holder: bool,
    /// What the run's processes were doing when its time ran out (read before the SIGTERM).
    pub(super) at_timeout: Option<Snapshot>,
}

/// Captures output, enforces the wall clock and the output cap, kills the group, reaps.
/// With `end_orphans`, the processes the run left to the grader (see [`orphans`]) are ended
/// too, before the output is drained (a `setsid` daemon would hold the pipes open). `tree`
/// says where the program sits below `child`, for the snapshot taken when time runs out.
pub(super) fn supervise(
    mut child: Child,
    started: Instant,
    limits: &Limits,
    end_orphans: bool,
    main: MainWait,
    tree: Tree,
) -> Supervised {
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    let cap = limits.output_bytes;
    capture::spawn_reader(Stream::Stdout, child.stdout.take(), cap, tx.clone());
    capture::spawn_reader(Stream::Stderr, child.stderr.take(), cap, tx.clone());
    {
        let tx = tx.clone();
        match main {
            MainWait::Own => std::thread::spawn(move || {
                wait_without_reaping(pid);
                let _ = tx.send(Event::MainEnded);
            }),
            MainWait::Traced(ended) => std::thread::spawn(move || {
                let _ = tx.send(match ended.recv() {
                    Ok(end) => Event::MainReaped(Box::new(end)),
                    Err(_) => Event::MainEnded,
                });
            }),
        };
    }
    drop(tx);

    let deadline = started + limits.wall;
    let mut ending: Option<Ending> = None;
    let mut phase = Phase::Running;
    let mut closed: Vec<(Stream, StreamOutput)> = Vec::new();
    let mut reaped: Option<Usage> = None;
    let mut at_timeout: Option<Snapshot> = None;
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
            Ok(Event::MainReaped(end)) => {
                reaped = Some(end.usage);
                break end.at.saturating_duration_since(started);
            }
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
                    // Before any signal: what each process was blocked on explains the hang.
                    at_timeout = snapshot::take(pid, tree);
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
    // (A tracer that reaped it has ended every process of the run already, by pid.)
    if reaped.is_none() {
        kill_group(pid, libc::SIGKILL);
    }
    if end_orphans {
        orphans::end(pid);
    }
    let usage = match reaped {
        Some(usage) => usage,
        None => reap(pid),
    };
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
        at_timeout,
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

pub(super) enum Status {
    Exited(i32),
    Signaled(i32),
}

impl Status {
    /// How the run ended, when the sandbox did not end it.
    pub(super) fn ending(&self) -> Ending {
        match *self {
            Status::Exited(code) => Ending::Exited(code),
            Status::Signaled(sig) => Ending::Signaled(sig),
        }
    }
}

pub(super) struct Usage {
    pub(super) status: Status,
    pub(super) cpu: Duration,
    pub(super) max_rss_bytes: u64,
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

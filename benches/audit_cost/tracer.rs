//! The ptrace candidate: a minimal tracer that follows every fork, vfork and clone of the
//! workload (`PTRACE_O_TRACEFORK | TRACEVFORK | TRACECLONE`), so it sees every task however
//! short-lived, tells threads from processes, counts processes alive at once, sees what is
//! still alive when the main process exits (the leak, then killed as the sandbox would), and
//! sums the tree's CPU time from each task's `schedstat` at its exit stop (`TRACEEXIT`).
//! `EXITKILL` ends every tracee if the bench dies.
//!
//! The price is a stop (two context switches through the tracer) at every fork, every new
//! task's first instruction, and every exit: that is what this candidate measures.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::ptrace::{self, Event, Options};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::Observation;

const OPTIONS: Options = Options::PTRACE_O_TRACEFORK
    .union(Options::PTRACE_O_TRACEVFORK)
    .union(Options::PTRACE_O_TRACECLONE)
    .union(Options::PTRACE_O_TRACEEXEC)
    .union(Options::PTRACE_O_TRACEEXIT)
    .union(Options::PTRACE_O_EXITKILL);

/// Runs `program mode` under the tracer until every traced task is gone.
pub fn run(program: &Path, mode: &str) -> io::Result<Observation> {
    let mut cmd = Command::new(program);
    cmd.arg(mode)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: PTRACE_TRACEME is one async-signal-safe syscall.
    unsafe {
        cmd.pre_exec(|| ptrace::traceme().map_err(io::Error::from));
    }
    let child = cmd.spawn()?;
    let main = Pid::from_raw(child.id() as i32);
    // The tracee stops with SIGTRAP after its execve: set the options before it runs.
    match waitpid(main, Some(WaitPidFlag::__WALL))? {
        WaitStatus::Stopped(_, Signal::SIGTRAP) => {}
        other => return Err(io::Error::other(format!("unexpected first stop {other:?}"))),
    }
    ptrace::setoptions(main, OPTIONS)?;
    let mut tracer = Tracer::new(main);
    resume(main, None);
    tracer.follow()?;
    drop(child); // already reaped by the tracer's waitpid
    Ok(tracer.observation())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Process,
    Thread,
}

struct Tracer {
    main: Pid,
    /// Every task announced by a fork/clone event (and the main process).
    kinds: HashMap<Pid, Kind>,
    /// New tasks whose first stop came before their parent's event: held until classified.
    parked: HashSet<Pid>,
    /// New tasks announced by their parent whose first stop is still to come.
    expected: HashSet<Pid>,
    alive: HashSet<Pid>,
    max_alive: u32,
    workers: u32,
    threads: u32,
    cpu_ns: u64,
    leaked: Option<u32>,
}

impl Tracer {
    fn new(main: Pid) -> Self {
        Tracer {
            main,
            kinds: HashMap::from([(main, Kind::Process)]),
            parked: HashSet::new(),
            expected: HashSet::new(),
            alive: HashSet::from([main]),
            max_alive: 1,
            workers: 0,
            threads: 0,
            cpu_ns: 0,
            leaked: None,
        }
    }

    /// Handles stops until no tracee is left.
    fn follow(&mut self) -> io::Result<()> {
        loop {
            match waitpid(None, Some(WaitPidFlag::__WALL)) {
                Ok(status) => self.handle(status)?,
                Err(Errno::EINTR) => continue,
                Err(Errno::ECHILD) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn handle(&mut self, status: WaitStatus) -> io::Result<()> {
        match status {
            WaitStatus::PtraceEvent(pid, _, event) => {
                if [
                    Event::PTRACE_EVENT_FORK,
                    Event::PTRACE_EVENT_VFORK,
                    Event::PTRACE_EVENT_CLONE,
                ]
                .iter()
                .any(|&e| e as i32 == event)
                {
                    let new = Pid::from_raw(ptrace::getevent(pid)? as i32);
                    self.born(new, event == Event::PTRACE_EVENT_CLONE as i32);
                } else if event == Event::PTRACE_EVENT_EXIT as i32 {
                    self.cpu_ns += schedstat_ns(pid);
                }
                resume(pid, None);
            }
            WaitStatus::Stopped(pid, Signal::SIGSTOP) if self.expected.remove(&pid) => {
                resume(pid, None)
            }
            WaitStatus::Stopped(pid, Signal::SIGSTOP) if !self.kinds.contains_key(&pid) => {
                self.parked.insert(pid);
            }
            // A signal on its way to the tracee: deliver it.
            WaitStatus::Stopped(pid, signal) => resume(pid, Some(signal)),
            WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _) => {
                self.alive.remove(&pid);
                if pid == self.main {
                    self.main_ended()?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A new task announced by its parent's event; `clone` events may be threads or processes.
    fn born(&mut self, new: Pid, clone: bool) {
        let kind = if clone && is_thread(new) {
            self.threads += 1;
            Kind::Thread
        } else {
            self.workers += 1;
            self.alive.insert(new);
            self.max_alive = self.max_alive.max(self.alive.len() as u32);
            Kind::Process
        };
        self.kinds.insert(new, kind);
        if self.parked.remove(&new) {
            resume(new, None);
        } else {
            self.expected.insert(new);
        }
    }

    /// The main process is gone: whatever process is still alive leaked. Exits already
    /// queued are taken first (the tracer may learn of a worker's exit after its parent's).
    fn main_ended(&mut self) -> io::Result<()> {
        loop {
            match waitpid(None, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(status) => self.handle(status)?,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        self.leaked = Some(self.alive.len() as u32);
        for &pid in &self.alive {
            let _ = kill(pid, Signal::SIGKILL);
        }
        Ok(())
    }

    fn observation(&self) -> Observation {
        Observation {
            workers: Some(self.workers),
            threads: Some(self.threads),
            max_alive: Some(self.max_alive),
            leaked: self.leaked,
            cpu: Some(Duration::from_nanos(self.cpu_ns)),
            ..Observation::default()
        }
    }
}

/// Continues a stopped tracee; one killed meanwhile (ESRCH) needs nothing more.
fn resume(pid: Pid, signal: Option<Signal>) {
    let _ = ptrace::cont(pid, signal);
}

/// A task is a thread when its thread group is another task's.
fn is_thread(tid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse::<i32>().ok())
        })
        .is_some_and(|tgid| tgid != tid.as_raw())
}

/// CPU time the task has run, in ns (first field of `/proc/<tid>/schedstat`).
fn schedstat_ns(tid: Pid) -> u64 {
    std::fs::read_to_string(format!("/proc/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

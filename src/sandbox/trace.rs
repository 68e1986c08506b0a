//! The process audit of the portable path (Linux): the grader traces the student's program with
//! ptrace and produces the same [`Audit`] the namespace init produces.
//!
//! Where runs get no PID namespace (a Docker/Gradescope container, an unprivileged user without
//! user namespaces) the child calls `PTRACE_TRACEME` first thing after the fork, before it drops
//! to its run's uid (the relationship survives the user change, and no `CAP_SYS_PTRACE` is
//! needed), and before the seccomp filter that refuses `ptrace` to student code. The options
//! `TRACEFORK | TRACEVFORK | TRACECLONE` attach every task the program creates, however short
//! its life, without a permission check; `EXITKILL` ends every tracee if the grader dies.
//!
//! This module owns the tracer thread: it spawns the child (ptrace requests must come from the
//! thread that is the tracer, and `Command::spawn` forks from the calling thread), counts
//! processes and threads exactly at their births, the most processes alive at once, what is
//! still alive when the main process exits (then kills it, by pid: a tracee's pid cannot be
//! reused before its tracer has waited for it), and the workers that ended but were never
//! waited for. Since the tracer receives every wait status of the run, it also reaps the main
//! process and hands its status and resource usage to [`super::supervise`], which must not
//! wait for a traced process itself. It never judges a run.
//!
//! Signals pass through: a signal-delivery stop is resumed with its signal; a group-stop
//! (`SIGSTOP`) is left stopped, as it would be untraced, so a program that stops itself still
//! ends in the wall-clock timeout (the SIGKILL of the group reaches a stopped tracee). The
//! price is a stop at every fork, every new task's first instruction, every exec and every exit:
//! about +1 ms a run (`benches/audit_cost`).

use std::collections::{HashMap, HashSet};
use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use libc::{c_int, pid_t};

use super::audit::Audit;
use super::orphans;
use super::supervise::{MainEnd, Status, Usage};

/// Every task of the run is followed; every tracee dies with the tracer.
const OPTIONS: c_int = libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACEEXIT
    | libc::PTRACE_O_EXITKILL;

/// How many leaked commands the audit keeps for messages (as the init does).
const LEAKED_COMMANDS: usize = 5;

/// The tracer thread of one run; joined for the audit once the run is over.
pub(super) type Tracer = JoinHandle<Option<Audit>>;

/// Makes the calling process a tracee of its parent's spawning thread. Between `fork` and
/// `exec` (one async-signal-safe syscall), before the user change and the seccomp filter.
pub(super) fn trace_me() -> io::Result<()> {
    // SAFETY: plain syscall without pointers.
    if unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Spawns `cmd` (whose `pre_exec` calls [`trace_me`]) from a tracer thread of its own, which
/// follows the run until none of its tasks is left. Returns the child (for its pipes), the
/// channel on which the main process's end is reported, and the thread to join for the audit.
pub(super) fn spawn(mut cmd: Command) -> io::Result<(Child, mpsc::Receiver<MainEnd>, Tracer)> {
    let (child_tx, child_rx) = mpsc::channel();
    let (end_tx, end_rx) = mpsc::channel();
    let tracer = std::thread::Builder::new()
        .name("labgrade-tracer".into())
        .spawn(move || {
            let child = match orphans::spawn(&mut cmd) {
                Ok(child) => child,
                Err(e) => {
                    let _ = child_tx.send(Err(e));
                    return None;
                }
            };
            let mut tracer = Trace::new(child.id() as pid_t);
            let _ = child_tx.send(Ok(child));
            tracer.follow(&end_tx);
            Some(tracer.audit)
        })?;
    let child = child_rx
        .recv()
        .map_err(|_| io::Error::other("the tracer thread ended before the run started"))??;
    Ok((child, end_rx, tracer))
}

/// Whether this process may trace a child: a throwaway child asks to be traced and stops, and
/// the options are set on it. `Err` says why not (Yama's `ptrace_scope` = 3, a seccomp profile
/// refusing `ptrace`, a kernel without `EXITKILL`).
pub(super) fn probe() -> Result<(), String> {
    // Its own thread: the child's tracer is the thread that forks it, and the child must be
    // waited for by that thread alone.
    std::thread::spawn(probe_here)
        .join()
        .unwrap_or_else(|_| Err("the ptrace probe panicked".into()))
}

fn probe_here() -> Result<(), String> {
    // SAFETY: the child only calls async-signal-safe functions before _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: as above.
        unsafe {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
                libc::_exit(*libc::__errno_location());
            }
            libc::raise(libc::SIGSTOP);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    let waited = wait_for(pid, &mut status);
    let result = if waited && libc::WIFSTOPPED(status) {
        // SAFETY: plain syscall on our own stopped tracee.
        if unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, OPTIONS) } == 0 {
            Ok(())
        } else {
            Err(format!(
                "ptrace options refused: {}",
                io::Error::last_os_error()
            ))
        }
    } else if waited && libc::WIFEXITED(status) {
        Err(format!(
            "ptrace refused here ({}): Yama's kernel.yama.ptrace_scope = 3, or a seccomp \
             profile that denies ptrace",
            io::Error::from_raw_os_error(libc::WEXITSTATUS(status))
        ))
    } else {
        Err("the ptrace probe's child ended unexpectedly".into())
    };
    // SAFETY: our own child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // A killed tracee still stops at its exit event (`TRACEEXIT`): resume it until it is gone.
    while waited && !(libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
        if libc::WIFSTOPPED(status) {
            resume(pid, 0);
        }
        if !wait_for(pid, &mut status) {
            break;
        }
    }
    result
}

/// `waitpid(pid, __WALL)`, retried on EINTR; false on any other error.
fn wait_for(pid: pid_t, status: &mut c_int) -> bool {
    loop {
        // SAFETY: plain syscall with a valid out-pointer.
        if unsafe { libc::waitpid(pid, status, libc::__WALL) } == pid {
            return true;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// The tracer's state for one run.
struct Trace {
    main: pid_t,
    /// The options are set at the main process's first stop (after its exec).
    options_set: bool,
    /// Every task announced by a fork/clone event, and the main process: true for threads.
    known: HashMap<pid_t, bool>,
    /// New tasks whose first stop came before their parent's event: held until announced.
    parked: HashSet<pid_t>,
    /// New tasks announced by their parent whose first stop is still to come.
    expected: HashSet<pid_t>,
    /// Processes alive (not yet reported ended), the main one included.
    alive: HashSet<pid_t>,
    /// Worker processes that ended before the main process.
    ended: Vec<pid_t>,
    /// The main process is gone: every task still around is killed.
    ending: bool,
    processes: u32,
    threads: u32,
    max_alive: u32,
    max_workers_alive: u32,
    main_end: Option<MainEnd>,
    audit: Audit,
}

impl Trace {
    fn new(main: pid_t) -> Self {
        Trace {
            main,
            options_set: false,
            known: HashMap::from([(main, false)]),
            parked: HashSet::new(),
            expected: HashSet::new(),
            alive: HashSet::from([main]),
            ended: Vec::new(),
            ending: false,
            processes: 1,
            threads: 0,
            max_alive: 1,
            max_workers_alive: 0,
            main_end: None,
            audit: Audit::default(),
        }
    }

    /// Handles stops until no tracee is left, then reports the main process's end.
    fn follow(&mut self, end: &mpsc::Sender<MainEnd>) {
        while let Some((pid, status, usage)) = wait_any(0) {
            self.handle(pid, status, usage);
        }
        // No tracee left: the run is over, whatever the main process left to the subreaper.
        if let Some(e) = self.main_end.take() {
            let _ = end.send(e);
        }
        // Without a report (the main process never seen ending: not expected), dropping the
        // sender makes supervise reap the main process itself.
    }

    fn handle(&mut self, pid: pid_t, status: c_int, usage: Usage) {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            self.gone(pid, status, usage);
            return;
        }
        if !libc::WIFSTOPPED(status) {
            return;
        }
        let signal = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        if self.ending {
            // Anything that still moves after the main process's end is a leftover.
            kill(pid);
            resume(pid, 0);
            return;
        }
        if pid == self.main && !self.options_set {
            self.options_set = true;
            // SAFETY: plain syscall on our stopped tracee.
            unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, OPTIONS) };
            // The stop after exec is a SIGTRAP; any other signal is on its way: deliver it.
            resume(pid, if signal == libc::SIGTRAP { 0 } else { signal });
            return;
        }
        match event {
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                let mut new: libc::c_ulong = 0;
                // SAFETY: plain syscall with a valid out-pointer, on our stopped tracee.
                let ok =
                    unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut new as *mut _) }
                        == 0;
                if ok {
                    self.born(new as pid_t, event == libc::PTRACE_EVENT_CLONE);
                }
                resume(pid, 0);
            }
            0 => self.signal_stop(pid, signal),
            // Exec and exit events: nothing to count.
            _ => resume(pid, 0),
        }
    }

    /// A stop without an event: a new task's first stop, a signal on its way, or a group-stop.
    fn signal_stop(&mut self, pid: pid_t, signal: c_int) {
        if signal == libc::SIGSTOP {
            if self.expected.remove(&pid) {
                resume(pid, 0);
                return;
            }
            if !self.known.contains_key(&pid) {
                // Its parent's fork event is still to come.
                self.parked.insert(pid);
                return;
            }
        }
        // SAFETY: siginfo_t is plain data; plain syscall with a valid out-pointer.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let delivery =
            unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, pid, 0, &mut info as *mut _) } == 0;
        if delivery {
            resume(pid, signal);
        }
        // A group-stop (GETSIGINFO fails with EINVAL) stays stopped: the process stopped
        // itself or was stopped, as it would untraced. SIGKILL still ends it.
    }

    /// A new task announced by its parent's event; `clone` events may be threads or processes.
    fn born(&mut self, new: pid_t, clone: bool) {
        let thread = clone && is_thread(new);
        if thread {
            self.threads += 1;
        } else {
            self.processes += 1;
            self.alive.insert(new);
            self.max_alive = self.max_alive.max(self.alive.len() as u32);
            let workers = self.alive.len() - usize::from(self.alive.contains(&self.main));
            self.max_workers_alive = self.max_workers_alive.max(workers as u32);
        }
        self.known.insert(new, thread);
        if self.parked.remove(&new) {
            resume(new, 0);
        } else {
            self.expected.insert(new);
        }
    }

    /// A task reported ended (threads too, with `__WALL`).
    fn gone(&mut self, pid: pid_t, status: c_int, usage: Usage) {
        let was_alive = self.alive.remove(&pid);
        if pid == self.main {
            let at = Instant::now();
            if libc::WIFSIGNALED(status) {
                self.audit.main_signal = Some(libc::WTERMSIG(status));
            } else {
                self.audit.main_exit_code = Some(libc::WEXITSTATUS(status));
            }
            self.main_ended();
            self.main_end = Some(MainEnd { at, usage });
        } else if was_alive && !self.ending {
            self.ended.push(pid);
        }
    }

    /// The main process is gone: whatever process is still alive leaked; a worker that ended
    /// and is still a zombie was never waited for. Exits already queued are taken first (the
    /// tracer may learn of a worker's exit after its parent's).
    fn main_ended(&mut self) {
        while let Some((pid, status, usage)) = wait_any(libc::WNOHANG) {
            self.handle(pid, status, usage);
        }
        let mut leaked: Vec<pid_t> = self.alive.iter().copied().collect();
        leaked.sort_unstable();
        self.audit.leaked = leaked.len() as u32;
        self.audit.leaked_commands = leaked
            .iter()
            .take(LEAKED_COMMANDS)
            .map(|&pid| command_of(pid))
            .collect();
        self.audit.unreaped = self.ended.iter().filter(|&&pid| is_zombie(pid)).count() as u32;
        self.ending = true;
        for &pid in &leaked {
            kill(pid);
        }
        // Stopped tasks still waiting for their first resume die with the kill too; their
        // stops are not resumed (a killed tracee needs none).
        for &pid in self.parked.iter().chain(self.expected.iter()) {
            kill(pid);
        }
        self.audit.processes_seen = self.processes;
        self.audit.threads_seen = self.threads;
        self.audit.tasks_created = self.processes + self.threads;
        self.audit.processes_created = Some(self.processes);
        self.audit.max_alive = self.max_alive;
        self.audit.max_workers_alive = self.max_workers_alive;
    }
}

/// `wait4(-1)` on this thread's tracees only (`__WNOTHREAD`: never another run's child),
/// retried on EINTR; `None` when no tracee is left (or, with `WNOHANG`, none has news).
fn wait_any(flags: c_int) -> Option<(pid_t, c_int, Usage)> {
    loop {
        let mut status: c_int = 0;
        // SAFETY: rusage is plain data.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall with valid out-pointers.
        let pid = unsafe {
            libc::wait4(
                -1,
                &mut status,
                libc::__WALL | libc::__WNOTHREAD | flags,
                &mut ru,
            )
        };
        if pid > 0 {
            return Some((pid, status, usage_of(status, &ru)));
        }
        if pid == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

fn usage_of(status: c_int, ru: &libc::rusage) -> Usage {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Usage {
        status: if libc::WIFSIGNALED(status) {
            Status::Signaled(libc::WTERMSIG(status))
        } else {
            Status::Exited(libc::WEXITSTATUS(status))
        },
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        max_rss_bytes: ru.ru_maxrss.max(0) as u64 * 1024,
    }
}

/// Continues a stopped tracee; one killed meanwhile (ESRCH) needs nothing more.
fn resume(pid: pid_t, signal: c_int) {
    // SAFETY: plain syscall without pointers.
    unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, signal as libc::c_long) };
}

/// SIGKILL to one tracee (its pid is ours until we have waited for it).
fn kill(pid: pid_t) {
    // SAFETY: plain syscall without pointers.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// A task is a thread when its thread group is another task's.
fn is_thread(tid: pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse::<pid_t>().ok())
        })
        .is_some_and(|tgid| tgid != tid)
}

/// Whether `pid` is a zombie (ended, not yet waited for by its parent).
fn is_zombie(pid: pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// The command line of `pid`, for messages.
///
/// A process caught in the middle of an `execve` has an empty command line for a moment
/// (its new memory is there, its arguments not yet), which a loaded machine makes likely for
/// a worker the main process left behind: read again for a few milliseconds, then fall back
/// to the kernel's short name of the process.
fn command_of(pid: pid_t) -> String {
    let read = || {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    for _ in 0..20 {
        let line = read();
        if !line.is_empty() {
            return line;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{minimal_env, run, Ending, Isolation, Job, Layers, Limits};
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;

    /// What the [`helper`] does when this test binary is re-run as a tracee.
    const HELPER_ENV: &str = "LABGRADE_TRACE_HELPER";

    /// Not a test of its own: the program the tracer tests trace (this test binary, re-run
    /// with [`HELPER_ENV`] set). Without it, it does nothing.
    #[test]
    fn helper() {
        match std::env::var(HELPER_ENV).as_deref() {
            Ok("work") => {
                // 3 worker processes and 4 threads, all waited for.
                let workers: Vec<pid_t> = (0..3)
                    .map(|_| {
                        // SAFETY: the child only sleeps and _exits.
                        match unsafe { libc::fork() } {
                            0 => unsafe {
                                libc::usleep(50_000);
                                libc::_exit(0)
                            },
                            pid => pid,
                        }
                    })
                    .collect();
                let threads: Vec<_> = (0..4)
                    .map(|_| std::thread::spawn(|| std::thread::sleep(Duration::from_millis(20))))
                    .collect();
                threads.into_iter().for_each(|t| t.join().unwrap());
                for pid in workers {
                    let mut status = 0;
                    // SAFETY: our own child.
                    unsafe { libc::waitpid(pid, &mut status, 0) };
                }
            }
            Ok("stop") => {
                // A worker that stops itself, and a parent that exits without it.
                // SAFETY: the child only raises and _exits.
                if unsafe { libc::fork() } == 0 {
                    unsafe {
                        libc::raise(libc::SIGSTOP);
                        libc::_exit(0)
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => {}
        }
    }

    /// This test binary re-run as a tracee doing `mode`, traced to its end.
    fn traced_helper(mode: &str) -> (Audit, Usage) {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "sandbox::trace::tests::helper",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: one async-signal-safe syscall.
        unsafe { cmd.pre_exec(trace_me) };
        let (child, ended, tracer) = spawn(cmd).expect("spawn the traced helper");
        let end = ended
            .recv()
            .expect("the tracer reports the main process's end");
        let audit = tracer.join().unwrap().expect("an audit");
        drop(child);
        (audit, end.usage)
    }

    /// Whether tracing works here; on CI (root, Linux) it must.
    fn can_trace(test: &str) -> bool {
        match &Layers::get().ptrace {
            Ok(()) => true,
            Err(why) => {
                assert_ne!(
                    std::env::var("CI").as_deref(),
                    Ok("true"),
                    "{test}: ptrace must work on CI: {why}"
                );
                eprintln!("skipped: {test}: {why}");
                false
            }
        }
    }

    #[test]
    fn forks_and_threads_are_counted_exactly() {
        if !can_trace("forks_and_threads_are_counted_exactly") {
            return;
        }
        // The test harness makes threads of its own: count the difference with an idle run.
        let (idle, _) = traced_helper("idle");
        let (work, usage) = traced_helper("work");
        assert!(matches!(usage.status, Status::Exited(0)));
        assert_eq!(work.main_exit_code, Some(0));
        assert_eq!(
            work.workers_created() - idle.workers_created(),
            3,
            "{work:?}"
        );
        assert_eq!(
            work.threads_created() - idle.threads_created(),
            4,
            "{work:?}"
        );
        assert!(work.max_workers_alive >= 1, "{work:?}");
        assert_eq!((work.leaked, work.unreaped), (0, 0), "{work:?}");
    }

    #[test]
    fn a_stopped_worker_does_not_hang_the_tracer() {
        if !can_trace("a_stopped_worker_does_not_hang_the_tracer") {
            return;
        }
        let (audit, _) = traced_helper("stop");
        assert_eq!(audit.leaked, 1, "{audit:?}");
    }

    fn sh(script: &str, wall: Duration) -> crate::sandbox::Outcome {
        run(&Job {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            env: minimal_env(),
            limits: Limits::for_run(wall),
            isolation: Isolation::Full,
            keep_visible: vec![],
        })
        .expect("spawn /bin/sh")
    }

    /// Runs of student code on the portable path (this test binary is not `labgrade`, so it
    /// has no namespace init) get the tracer's audit.
    #[test]
    fn portable_runs_of_student_code_are_audited() {
        if !can_trace("portable_runs_of_student_code_are_audited") || Layers::get().isolated() {
            return;
        }
        let out = sh(
            "sleep 0.3 & sleep 0.3 & sleep 0.3 & wait; exit 4",
            Duration::from_secs(20),
        );
        assert_eq!(out.ending, Ending::Exited(4));
        let audit = out.audit.expect("an audit");
        assert_eq!(audit.workers_created(), 3, "{audit:?}");
        assert_eq!(audit.threads_created(), 0, "{audit:?}");
        assert_eq!(audit.max_workers_alive, 3, "{audit:?}");
        assert_eq!((audit.leaked, audit.unreaped), (0, 0), "{audit:?}");
        assert_eq!(audit.main_exit_code, Some(4));
    }

    #[test]
    fn a_leaked_sleeper_is_reported_and_killed() {
        if !can_trace("a_leaked_sleeper_is_reported_and_killed") || Layers::get().isolated() {
            return;
        }
        // The sleeper's pid on stdout; it would end by itself within a minute.
        let out = sh("sleep 60 & echo $!", Duration::from_secs(20));
        assert_eq!(out.ending, Ending::Exited(0));
        let audit = out.audit.expect("an audit");
        assert_eq!(audit.leaked, 1, "{audit:?}");
        assert!(audit.leaked_commands[0].contains("sleep 60"), "{audit:?}");
        let pid: pid_t = out.stdout.lossy().trim().parse().unwrap();
        // Reaped by the tracer and the subreaper: gone, or at most a zombie of another parent.
        assert!(!std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists() || is_zombie(pid));
    }

    #[test]
    fn a_program_that_stops_itself_times_out() {
        if !can_trace("a_program_that_stops_itself_times_out") || Layers::get().isolated() {
            return;
        }
        let out = sh("kill -STOP $$; exit 0", Duration::from_secs(2));
        assert!(
            matches!(out.ending, Ending::TimedOut { .. }),
            "{:?}",
            out.ending
        );
    }
}

//! The one likely cause of a hang, from what the run's processes were blocked on when its time
//! ran out (the sandbox's [`Snapshot`]): a pipe's write end left open, a worker that never
//! finishes, a wait before a read, or an endless loop. Pure: it reads a snapshot, never `/proc`.

use serde::Serialize;

use crate::sandbox::{ProcState, Snapshot};

/// Why a run hung, as far as its processes showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HangCause {
    /// The parent was blocked reading a pipe and no worker was left to write (each had exited,
    /// or was itself blocked reading): a write end is still open somewhere.
    WriteEndLeftOpen,
    /// The parent waited (`waitpid`, or a read) while a worker was alive but blocked, not
    /// working (asleep, say): that worker never finishes.
    WorkerNeverFinishes,
    /// The parent was in `waitpid` for a worker blocked writing to a full pipe.
    WaitBeforeRead,
    /// A process of the run was running on the CPU.
    EndlessLoop,
    /// Seen, but no usual pattern.
    Unclear,
    /// What the processes were doing could not be seen (`/proc` unreadable, not Linux).
    NotSeen,
}

/// What one process was blocked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocked {
    Running,
    Exited,
    Read,
    Write,
    Wait,
    /// Asleep or blocked on anything else (a sleep, a futex, `pause`…).
    Other,
}

impl HangCause {
    /// The cause in a run's snapshot.
    pub fn of(snapshot: Option<&Snapshot>) -> HangCause {
        let Some(s) = snapshot else {
            return HangCause::NotSeen;
        };
        let parent = blocked_on(&s.main);
        let workers: Vec<Blocked> = s
            .others
            .iter()
            .map(blocked_on)
            .filter(|b| *b != Blocked::Exited)
            .collect();
        if parent == Blocked::Running || workers.contains(&Blocked::Running) {
            return HangCause::EndlessLoop;
        }
        match parent {
            Blocked::Read if workers.iter().all(|w| *w == Blocked::Read) => {
                HangCause::WriteEndLeftOpen
            }
            Blocked::Read => HangCause::WorkerNeverFinishes,
            Blocked::Wait if workers.contains(&Blocked::Write) => HangCause::WaitBeforeRead,
            Blocked::Wait if !workers.is_empty() => HangCause::WorkerNeverFinishes,
            _ => HangCause::Unclear,
        }
    }

    /// What the processes were seen doing, and the one cause it points to; `None` when the
    /// snapshot names none (the CPU-based guesses apply).
    pub fn explain(self) -> Option<&'static str> {
        Some(match self {
            HangCause::WriteEndLeftOpen => {
                "the parent was blocked reading a pipe while no worker was left to write to it \
                 (each had exited, or was itself waiting on a read): a write end left open. The \
                 read ends only when every copy of the write end is closed: the parent never \
                 closed its own copy after forking, or a worker still holds one"
            }
            HangCause::WorkerNeverFinishes => {
                "the parent was waiting for a worker that was still alive but blocked (asleep \
                 or waiting), not working: that worker never finishes; does every worker exit \
                 right after sending its result?"
            }
            HangCause::WaitBeforeRead => {
                "the parent was in `waitpid` for a worker that was blocked writing to a full \
                 pipe: read each worker's pipe before waiting for it"
            }
            HangCause::EndlessLoop => {
                "a process was still running on the CPU when it was stopped: an endless loop; \
                 does every worker's loop reach its bound, and does every worker exit after \
                 sending its result?"
            }
            HangCause::Unclear | HangCause::NotSeen => return None,
        })
    }

    /// A few words for a summary: "a write end left open".
    pub fn short(self) -> Option<&'static str> {
        Some(match self {
            HangCause::WriteEndLeftOpen => "a pipe's write end left open",
            HangCause::WorkerNeverFinishes => "a worker that never finishes",
            HangCause::WaitBeforeRead => "a wait before reading a pipe",
            HangCause::EndlessLoop => "an endless loop",
            HangCause::Unclear | HangCause::NotSeen => return None,
        })
    }
}

/// What `p` was blocked on: its system call where `/proc` gave one, else its kernel function.
fn blocked_on(p: &ProcState) -> Blocked {
    if p.exited() {
        return Blocked::Exited;
    }
    if p.state == 'R' {
        return Blocked::Running;
    }
    if let Some(b) = p.syscall.and_then(by_syscall) {
        return b;
    }
    let wchan = p.wchan.as_deref().unwrap_or("");
    if wchan.contains("pipe_read") {
        Blocked::Read
    } else if wchan.contains("pipe_write") {
        Blocked::Write
    } else if wchan == "do_wait" || wchan.contains("wait4") || wchan.contains("waitid") {
        Blocked::Wait
    } else {
        Blocked::Other
    }
}

/// The system calls a Lab 10 pool blocks in, by this machine's numbers.
#[cfg(target_os = "linux")]
fn by_syscall(n: i64) -> Option<Blocked> {
    // `c_long` is `i32` on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let is = |set: &[libc::c_long]| set.iter().any(|s| i64::from(*s) == n);
    if is(&[
        libc::SYS_read,
        libc::SYS_readv,
        libc::SYS_pread64,
        libc::SYS_preadv,
    ]) {
        Some(Blocked::Read)
    } else if is(&[
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_pwrite64,
        libc::SYS_pwritev,
    ]) {
        Some(Blocked::Write)
    } else if is(&[libc::SYS_wait4, libc::SYS_waitid]) {
        Some(Blocked::Wait)
    } else {
        None
    }
}

#[cfg(not(target_os = "linux"))]
fn by_syscall(_n: i64) -> Option<Blocked> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process from canned `/proc` texts: its `stat` state letter, `wchan`, `syscall`.
    fn proc(pid: i32, ppid: i32, state: char, wchan: &str, syscall: &str) -> ProcState {
        let stat = format!(
            "{pid} (pool_sum) {state} {ppid} 100 100 0 -1 4194304 121 0 0 0 1 0 0 0 20 0 1 0 \
             5000 8192 10"
        );
        ProcState::parse(pid, &stat, Some(wchan), Some(syscall)).expect("a canned stat line")
    }

    fn snap(main: ProcState, others: Vec<ProcState>) -> Option<Snapshot> {
        Some(Snapshot {
            main,
            others,
            truncated: false,
        })
    }

    const READ: &str = "0 0x3 0x7fb36d4ac000 0x20000 0 0 0 0x7ffe 0x7fb3";
    const WAIT4: &str = "61 0xffffffff 0x7ffe13e190f0 0 0 0 0 0x7ffe 0x7fb3";
    const SLEEP: &str = "230 0x0 0x0 0x7fff725197c0 0x7fff725197c0 0 0 0x7fff 0x7fb3";

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_parent_reading_after_its_workers_exited_left_a_write_end_open() {
        let parent = proc(100, 1, 'S', "anon_pipe_read", READ);
        let done = |pid| proc(pid, 100, 'Z', "0", "running");
        let s = snap(parent.clone(), vec![done(101), done(102)]);
        assert_eq!(HangCause::of(s.as_ref()), HangCause::WriteEndLeftOpen);
        // No worker at all (reaped, or never forked) reads the same.
        let alone = snap(parent.clone(), vec![]);
        assert_eq!(HangCause::of(alone.as_ref()), HangCause::WriteEndLeftOpen);
        // Workers themselves waiting on a read: nobody left to write either.
        let readers = snap(parent, vec![proc(101, 100, 'S', "pipe_read", READ)]);
        assert_eq!(HangCause::of(readers.as_ref()), HangCause::WriteEndLeftOpen);
        let words = HangCause::WriteEndLeftOpen.explain().unwrap();
        assert!(words.contains("a write end left open"), "{words}");
        assert!(!words.contains("never finishes"), "{words}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_parent_waiting_for_a_sleeping_worker_waits_for_one_that_never_finishes() {
        let parent = proc(100, 1, 'S', "do_wait", WAIT4);
        let s = snap(
            parent,
            vec![
                proc(101, 100, 'Z', "0", "running"),
                proc(102, 100, 'S', "hrtimer_nanosleep", SLEEP),
            ],
        );
        assert_eq!(HangCause::of(s.as_ref()), HangCause::WorkerNeverFinishes);
        // Reading while a worker sleeps (its write end still open): the worker is the cause.
        let reading = snap(
            proc(100, 1, 'S', "anon_pipe_read", READ),
            vec![proc(101, 100, 'S', "hrtimer_nanosleep", SLEEP)],
        );
        assert_eq!(
            HangCause::of(reading.as_ref()),
            HangCause::WorkerNeverFinishes
        );
        let words = HangCause::WorkerNeverFinishes.explain().unwrap();
        assert!(words.contains("that worker never finishes"), "{words}");
        assert!(!words.contains("write end"), "{words}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_parent_waiting_for_a_worker_stuck_writing_waited_before_reading() {
        let s = snap(
            proc(100, 1, 'S', "do_wait", WAIT4),
            vec![proc(
                101,
                100,
                'S',
                "pipe_write",
                "1 0x4 0x7ffe 0x10000 0 0 0 0 0",
            )],
        );
        assert_eq!(HangCause::of(s.as_ref()), HangCause::WaitBeforeRead);
    }

    #[test]
    fn anything_running_is_an_endless_loop() {
        let s = snap(
            proc(100, 1, 'S', "do_wait", WAIT4),
            vec![
                proc(101, 100, 'R', "0", "running"),
                proc(102, 100, 'R', "0", "running"),
            ],
        );
        assert_eq!(HangCause::of(s.as_ref()), HangCause::EndlessLoop);
        let alone = snap(proc(100, 1, 'R', "0", "running"), vec![]);
        assert_eq!(HangCause::of(alone.as_ref()), HangCause::EndlessLoop);
        assert!(HangCause::EndlessLoop
            .explain()
            .unwrap()
            .contains("endless loop"));
    }

    #[test]
    fn kernel_functions_stand_in_for_an_unreadable_syscall_file() {
        // `syscall` needs more privileges than `wchan`: read-only symbols still tell.
        let p = proc(100, 1, 'S', "anon_pipe_read", "");
        assert_eq!(
            HangCause::of(snap(p, vec![]).as_ref()),
            HangCause::WriteEndLeftOpen
        );
        let w = proc(100, 1, 'S', "do_wait", "");
        let sleeper = proc(101, 100, 'S', "hrtimer_nanosleep", "");
        assert_eq!(
            HangCause::of(snap(w, vec![sleeper]).as_ref()),
            HangCause::WorkerNeverFinishes
        );
    }

    #[test]
    fn nothing_seen_or_nothing_usual_names_no_cause() {
        assert_eq!(HangCause::of(None), HangCause::NotSeen);
        // Joining threads (a futex), nothing else: not one of the pool's patterns.
        let futex = proc(100, 1, 'S', "futex_wait_queue", "202 0x7f 0x80 0 0 0 0 0 0");
        let s = snap(futex, vec![]);
        assert_eq!(HangCause::of(s.as_ref()), HangCause::Unclear);
        assert_eq!(HangCause::Unclear.explain(), None);
        assert_eq!(HangCause::NotSeen.short(), None);
    }
}

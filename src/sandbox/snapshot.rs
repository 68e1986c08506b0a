//! What the processes of a run were doing at the moment its time ran out: read from `/proc`
//! just before the sandbox signals the group, so that a hang can be explained by what was
//! blocked on what (`verdict::hang_cause` judges it; this module only reads).
//!
//! Bounded and distrustful: at most [`MAX_PROCESSES`] processes, at most [`MAX_READ`] bytes of
//! each file, and nothing is kept of a file but numbers and a kernel symbol name (the command
//! name in `stat` is the student's and is skipped). Where `/proc` cannot be read (macOS,
//! `hidepid`, a process gone in between) the snapshot is simply absent or shorter, and the hang
//! is explained by its CPU use alone.

use std::io::Read;
use std::time::Duration;

use serde::Serialize;

/// At most this many processes of a run are looked at (a fork bomb's hang needs no census).
const MAX_PROCESSES: usize = 64;
/// At most this many bytes of each `/proc` file are read.
const MAX_READ: u64 = 4096;
/// At most this many entries of `/proc` are scanned for the run's processes.
const MAX_SCAN: usize = 100_000;

/// One process of a run, as `/proc` showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcState {
    /// The host's pid.
    pub pid: i32,
    pub ppid: i32,
    /// The state letter of `stat`: `R` running, `S` sleeping, `D` in the kernel, `Z` ended
    /// and not yet reaped, `T`/`t` stopped.
    pub state: char,
    /// The system call it was blocked in (`/proc/PID/syscall`'s first number); `None` when
    /// running or unreadable.
    pub syscall: Option<i64>,
    /// The kernel function it slept in (`/proc/PID/wchan`), e.g. `anon_pipe_read`, `do_wait`.
    pub wchan: Option<String>,
    /// User + system CPU time so far.
    pub cpu: Duration,
}

impl ProcState {
    /// A process from the text of its `/proc/PID/stat`, `wchan` and `syscall` files (the last
    /// two may be missing). `None` when `stat` does not parse.
    pub fn parse(pid: i32, stat: &str, wchan: Option<&str>, syscall: Option<&str>) -> Option<Self> {
        let fields = StatFields::parse(stat)?;
        let ticks = clock_ticks();
        Some(ProcState {
            pid,
            ppid: fields.ppid,
            state: fields.state,
            syscall: syscall.and_then(parse_syscall),
            wchan: wchan.and_then(symbol),
            cpu: Duration::from_secs_f64(fields.cpu_ticks as f64 / ticks as f64),
        })
    }

    /// Ended and not yet reaped.
    pub fn exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// The processes of a run when its time ran out: the main program first, then the others
/// (its workers, and orphans of the run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub main: ProcState,
    pub others: Vec<ProcState>,
    /// More processes than [`MAX_PROCESSES`]: the others are a sample.
    pub truncated: bool,
}

/// Where the run's main program sits below the child the sandbox started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tree {
    /// The child is the program itself, leader of the run's process group (the portable path:
    /// orphans go to the grader, so the group finds them).
    Led,
    /// The child is the outer init, whose child (the inner init) started the program
    /// (the isolated path: orphans go to the inner init).
    UnderInit,
}

/// The run's processes below `root` (the child the sandbox started), as `/proc` shows them.
#[cfg(target_os = "linux")]
pub(super) fn take(root: i32, tree: Tree) -> Option<Snapshot> {
    let table = scan();
    // The outer init, then the inner one.
    let inits = match tree {
        Tree::Led => vec![],
        Tree::UnderInit => descend(&table, root, 1),
    };
    let parent_of_tree = inits.get(1).copied();
    let main_pid = match (tree, parent_of_tree) {
        (Tree::Led, _) => root,
        // The oldest live child of the inner init is the program (it is alive: the run would
        // have ended otherwise); later ones are adopted orphans.
        (Tree::UnderInit, Some(inner)) => {
            table
                .iter()
                .filter(|e| e.ppid == inner && !e.zombie)
                .min_by_key(|e| (e.start, e.pid))?
                .pid
        }
        (Tree::UnderInit, None) => return None,
    };
    // Everything below the main program, its siblings under the inner init, and (led) the
    // rest of its process group.
    let mut members: Vec<i32> = vec![main_pid];
    let mut i = 0;
    while i < members.len() && members.len() <= MAX_PROCESSES * 4 {
        let p = members[i];
        members.extend(table.iter().filter(|e| e.ppid == p).map(|e| e.pid));
        i += 1;
    }
    for e in &table {
        let sibling = parent_of_tree == Some(e.ppid);
        let in_group = tree == Tree::Led && e.pgrp == root;
        if (sibling || in_group) && !members.contains(&e.pid) {
            members.push(e.pid);
        }
    }
    let truncated = members.len() > MAX_PROCESSES;
    let mut states = members
        .into_iter()
        .take(MAX_PROCESSES)
        .filter_map(read_process);
    let main = states.next().filter(|m| m.pid == main_pid)?;
    Some(Snapshot {
        main,
        others: states.collect(),
        truncated,
    })
}

#[cfg(not(target_os = "linux"))]
pub(super) fn take(_root: i32, _tree: Tree) -> Option<Snapshot> {
    None
}

/// `root`, then its oldest child, then that one's oldest child… `depth` levels down.
fn descend(table: &[Entry], root: i32, depth: usize) -> Vec<i32> {
    let mut chain = vec![root];
    for _ in 0..depth {
        let last = *chain.last().expect("never empty");
        match table
            .iter()
            .filter(|e| e.ppid == last)
            .min_by_key(|e| (e.start, e.pid))
        {
            Some(e) => chain.push(e.pid),
            None => break,
        }
    }
    chain
}

/// One line of the process table: who is whose child.
#[derive(Debug, Clone, Copy)]
struct Entry {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    start: u64,
    zombie: bool,
}

/// Every process's parent, group and start time (bounded).
#[cfg(target_os = "linux")]
fn scan() -> Vec<Entry> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .take(MAX_SCAN)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let f = StatFields::parse(&read_small(&format!("/proc/{pid}/stat"))?)?;
            Some(Entry {
                pid,
                ppid: f.ppid,
                pgrp: f.pgrp,
                start: f.start,
                zombie: f.state == 'Z',
            })
        })
        .collect()
}

#[cfg(target_os = "linux")]
fn read_process(pid: i32) -> Option<ProcState> {
    let stat = read_small(&format!("/proc/{pid}/stat"))?;
    let wchan = read_small(&format!("/proc/{pid}/wchan"));
    let syscall = read_small(&format!("/proc/{pid}/syscall"));
    ProcState::parse(pid, &stat, wchan.as_deref(), syscall.as_deref())
}

#[cfg(not(target_os = "linux"))]
fn read_process(_pid: i32) -> Option<ProcState> {
    None
}

/// At most [`MAX_READ`] bytes of a `/proc` file, as text.
fn read_small(path: &str) -> Option<String> {
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_READ)
        .read_to_end(&mut buf)
        .ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The fields of a `stat` line this module needs.
struct StatFields {
    state: char,
    ppid: i32,
    pgrp: i32,
    cpu_ticks: u64,
    start: u64,
}

impl StatFields {
    /// Fields are counted from the last `)`: the command name may hold spaces and parentheses.
    fn parse(stat: &str) -> Option<StatFields> {
        let rest = &stat[stat.rfind(')')? + 1..];
        // After the name: state(3) ppid(4) pgrp(5) … utime(14) stime(15) … starttime(22).
        let f: Vec<&str> = rest.split_whitespace().take(20).collect();
        let num = |i: usize| f.get(i)?.parse::<u64>().ok();
        let state = f.first()?.chars().next()?;
        Some(StatFields {
            state,
            ppid: f.get(1)?.parse().ok()?,
            pgrp: f.get(2)?.parse().ok()?,
            cpu_ticks: num(11)?.saturating_add(num(12)?),
            start: num(19)?,
        })
    }
}

/// The system call number of a blocked process (`"0 0x3 0x7ff… …"`); `None` for `running`,
/// `-1` (not in a system call) or anything else.
fn parse_syscall(text: &str) -> Option<i64> {
    text.split_whitespace()
        .next()?
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
}

/// A kernel symbol name: letters, digits, `_` and `.` only, at most 64 of them; `0` (not
/// sleeping, or hidden) is none.
fn symbol(text: &str) -> Option<String> {
    let s = text.trim();
    let ok = !s.is_empty()
        && s != "0"
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    ok.then(|| s.to_string())
}

/// Clock ticks per second (`stat`'s CPU times are in these).
fn clock_ticks() -> u64 {
    // SAFETY: plain libc call without pointers.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READER: &str = "4242 (pool (sum) x) S 17 4242 9 0 -1 4194304 121 0 0 0 7 3 0 0 20 0 \
                          1 0 5000 8192 10";

    #[test]
    fn a_process_is_read_past_its_command_name() {
        let p = ProcState::parse(
            4242,
            READER,
            Some("anon_pipe_read\n"),
            Some("0 0x3 0x7fb36d4ac000 0x20000 0 0 0 0x7ffe 0x7fb3\n"),
        )
        .unwrap();
        assert_eq!(p.ppid, 17);
        assert_eq!(p.state, 'S');
        assert_eq!(p.syscall, Some(0));
        assert_eq!(p.wchan.as_deref(), Some("anon_pipe_read"));
        assert_eq!(p.cpu, Duration::from_secs_f64(10.0 / clock_ticks() as f64));
        assert!(!p.exited());
        let f = StatFields::parse(READER).unwrap();
        assert_eq!((f.pgrp, f.start), (4242, 5000));
    }

    #[test]
    fn nothing_but_numbers_and_symbols_is_kept() {
        assert_eq!(parse_syscall("running\n"), None);
        assert_eq!(parse_syscall("-1 0x7ffe 0x0\n"), None);
        assert_eq!(parse_syscall("61 0xffffffff 0x7ffe 0"), Some(61));
        assert_eq!(symbol("0"), None);
        assert_eq!(symbol("do_wait\n"), Some("do_wait".into()));
        assert_eq!(symbol("rm -rf /; echo"), None);
        assert_eq!(symbol(&"a".repeat(65)), None);
        assert!(ProcState::parse(1, "garbage", None, None).is_none());
        assert!(ProcState::parse(1, "1 (x) S 0", None, None).is_none());
    }

    #[test]
    fn the_oldest_child_is_followed_down() {
        let e = |pid, ppid, start| Entry {
            pid,
            ppid,
            pgrp: 0,
            start,
            zombie: false,
        };
        let table = [
            e(10, 1, 0),
            e(11, 10, 5),
            e(12, 11, 6),
            e(13, 11, 4),
            e(14, 13, 9),
        ];
        assert_eq!(descend(&table, 10, 2), [10, 11, 13]);
        assert_eq!(descend(&table, 14, 2), [14]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_live_tree_is_seen_with_what_it_blocks_on() {
        use std::os::unix::process::CommandExt;
        // `sh` waits for its `sleep`: the shell in a wait, the sleep in a sleep.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30; true"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Until the shell has forked and both have blocked (bounded: at most 10 s).
        let mut snap = None;
        for _ in 0..1000 {
            let s = take(pid, Tree::Led);
            let settled = s.as_ref().is_some_and(|s| {
                s.main.wchan.is_some() && s.others.iter().any(|o| o.wchan.is_some())
            });
            if settled {
                snap = s;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: plain syscall; the group is the one this test started (the shell leads it).
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = child.wait();
        let snap = snap.expect("the shell and its sleep, both blocked");
        assert_eq!(snap.main.pid, pid);
        assert_eq!(snap.main.state, 'S');
        assert_eq!(snap.others.len(), 1, "{snap:?}");
        assert_eq!(snap.others[0].ppid, pid);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn below_two_inits_the_program_is_the_inner_ones_child() {
        use std::os::unix::process::CommandExt;
        // outer `sh` → inner `sh` → the "program" `sh` → its `sleep`, as on the isolated path.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sh -c 'sh -c \"sleep 30; true\"; true'; true"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut snap = None;
        for _ in 0..1000 {
            let s = take(pid, Tree::UnderInit);
            if s.as_ref().is_some_and(|s| s.others.len() == 1) {
                snap = s;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: plain syscall; the group is the one this test started.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = child.wait();
        let snap = snap.expect("the program and its sleep");
        assert_ne!(snap.main.ppid, pid, "{snap:?}");
        assert_eq!(snap.others[0].ppid, snap.main.pid, "{snap:?}");
    }
}

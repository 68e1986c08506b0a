//! The portable layer's answer to orphans: without a PID namespace, a process whose parent has
//! died (a worker never waited for, a `setsid` daemon made with a double fork) would be adopted
//! by the system's init and outlive its run, out of reach of the group kill. With
//! `PR_SET_CHILD_SUBREAPER` the grader adopts them instead, and ends them when their run ends.
//!
//! Which run an adopted process came from cannot be read back (a `setsid` daemon has left its
//! run's process group), so at the end of a run the grader ends every adopted process that is
//! not part of a run still going: one of its own group, or one that left every group the
//! sandbox made. Processes the grader started outside the sandbox (`git`, `cargo metadata`)
//! share the grader's own group and are never touched. A daemon of a run still going may be
//! ended early by another run's end: no Lab 10 program makes one.
//!
//! Every child the sandbox starts is registered (under the same lock the clean-up takes, so a
//! child is never seen unregistered) and forgotten once reaped. Linux only: elsewhere these are
//! no-ops and orphans are left to their rlimits.

use std::io;
use std::process::{Child, Command};
use std::sync::Mutex;

/// Children the sandbox started and has not reaped yet (the group leaders of live runs).
static LIVE: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// Spawns `cmd` and registers the child as a live run.
pub(super) fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let child = cmd.spawn()?;
    live.push(child.id() as libc::pid_t);
    Ok(child)
}

/// Forgets `pid` once it has been reaped.
pub(super) fn forget(pid: libc::pid_t) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| *p != pid);
}

/// Makes the grader adopt the orphans of its runs (once; later calls are free).
#[cfg(target_os = "linux")]
pub(super) fn adopt() -> bool {
    static ADOPTING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // SAFETY: plain syscall without pointers.
    *ADOPTING.get_or_init(|| unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } == 0)
}

#[cfg(not(target_os = "linux"))]
pub(super) fn adopt() -> bool {
    false
}

/// Ends (SIGKILL) and reaps the adopted processes of the run whose group was `group`, and
/// those of no live run; reaps adopted processes that have already ended.
#[cfg(target_os = "linux")]
pub(super) fn end(group: libc::pid_t) {
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: plain syscalls without pointers.
    let (me, my_group) = unsafe { (libc::getpid(), libc::getpgrp()) };
    // A fork racing the kill makes a new orphan: a few rounds, then give up (bounded).
    // Of this run, or of no live run (left every group the sandbox made).
    let ours = |c: &Adopted| c.group == group || !live.contains(&c.group);
    // A fork racing the kill makes a new orphan: a few rounds, then give up (bounded).
    for _ in 0..20 {
        let adopted: Vec<Adopted> = children_of(me)
            .into_iter()
            .filter(|c| !live.contains(&c.pid) && c.group != my_group)
            .collect();
        if !adopted.iter().any(|c| ours(c) || c.zombie) {
            return;
        }
        for c in &adopted {
            if c.zombie {
                let mut status = 0;
                // SAFETY: plain syscall with a valid out-pointer, on our own ended child.
                unsafe { libc::waitpid(c.pid, &mut status, libc::WNOHANG) };
            } else if ours(c) {
                // SAFETY: plain syscall; `c.pid` is our child (not yet reaped), so the id
                // cannot have been reused.
                unsafe { libc::kill(c.pid, libc::SIGKILL) };
            }
        }
        // Killed ones become zombies in a moment; the next round reaps them. Never a blocking
        // wait: a process stuck in the kernel must not hang the grader.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn end(_group: libc::pid_t) {}

/// A child of the grader, as `/proc` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Adopted {
    pid: libc::pid_t,
    group: libc::pid_t,
    zombie: bool,
}

/// The grader's children, read from every process's `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn children_of(parent: libc::pid_t) -> Vec<Adopted> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (ppid, adopted) = parse_stat(pid, &stat)?;
            (ppid == parent).then_some(adopted)
        })
        .collect()
}

/// `(ppid, the process)` from a `/proc/<pid>/stat` line. The command name may hold spaces and
/// parentheses, so the fields are counted from the last `)`.
fn parse_stat(pid: libc::pid_t, stat: &str) -> Option<(libc::pid_t, Adopted)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let group = fields.next()?.parse().ok()?;
    Some((
        ppid,
        Adopted {
            pid,
            group,
            zombie: state == "Z",
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_past_the_command_name() {
        let line = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 0 0";
        assert_eq!(
            parse_stat(4242, line),
            Some((
                17,
                Adopted {
                    pid: 4242,
                    group: 4242,
                    zombie: false
                }
            ))
        );
        let zombie = "99 (sleep) Z 1 98 98 0";
        assert_eq!(parse_stat(99, zombie).map(|(_, a)| a.zombie), Some(true));
        assert_eq!(parse_stat(1, "garbage"), None);
    }
}

//! The process audit: which processes and threads a run created, how many were alive at once,
//! and which outlived the main process.
//!
//! Inside the sandbox's PID namespace the init process (PID 1) watches its own `/proc`, which
//! shows only the submission's processes. Processes appear at the top of `/proc`, threads under
//! `/proc/<pid>/task`. A scan every couple of milliseconds sees every worker that does real work;
//! `ns_last_pid` (PIDs in a fresh namespace are handed out in order) gives the exact number of
//! tasks created, including any too short-lived for a scan to see.

use std::collections::BTreeSet;
use std::fs;

use serde::{Deserialize, Serialize};

/// What the init process saw of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// How the main process ended: `Some(code)` for an exit.
    pub main_exit_code: Option<i32>,
    /// The signal that killed the main process.
    pub main_signal: Option<i32>,
    /// Distinct processes seen, the main one included.
    pub processes_seen: u32,
    /// Distinct threads seen beyond each process's main thread.
    pub threads_seen: u32,
    /// Exact number of tasks (processes and threads) created, the main process included.
    pub tasks_created: u32,
    /// Exact number of processes created, the main one included, from the kernel's process
    /// accounting ([`super::acct`]); `None` where it could not be turned on (not root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes_created: Option<u32>,
    /// Most processes alive (not zombies) at the same time, the main one included.
    pub max_alive: u32,
    /// Most processes other than the main one alive at the same time.
    pub max_workers_alive: u32,
    /// Processes still alive when the main process ended (killed by the sandbox).
    pub leaked: u32,
    /// Commands of the leaked processes (at most a few), for messages.
    pub leaked_commands: Vec<String>,
    /// Processes that ended on their own but were never waited for by their parent: the init
    /// reaped them as orphans (a parent that exits without `waitpid` leaves its exited workers
    /// to the init). Leaked processes are not counted here.
    #[serde(default)]
    pub unreaped: u32,
}

impl Audit {
    /// Processes created, the main one included, when the count is exact: from the kernel's
    /// accounting, unless it recorded fewer than the scans saw (records lost: accounting is
    /// suspended on a nearly full file system).
    fn exact_processes(&self) -> Option<u32> {
        self.processes_created.filter(|&n| {
            n >= self.processes_seen && (self.tasks_created == 0 || n <= self.tasks_created)
        })
    }

    /// Worker processes created besides the main one: exact with process accounting, else the
    /// exact task count when the scans saw no thread (then every unseen task is taken for a
    /// process), else what the scans saw.
    pub fn workers_created(&self) -> u32 {
        if let Some(n) = self.exact_processes() {
            return n.saturating_sub(1);
        }
        if self.threads_seen == 0 && self.tasks_created > 0 {
            self.tasks_created
                .saturating_sub(1)
                .max(self.processes_seen.saturating_sub(1))
        } else {
            self.processes_seen.saturating_sub(1)
        }
    }

    /// Threads created besides each process's main thread: every task that was not a process
    /// where processes are counted exactly, else what the scans saw.
    pub fn threads_created(&self) -> u32 {
        match self.exact_processes() {
            Some(n) if self.tasks_created > 0 => {
                self.tasks_created.saturating_sub(n).max(self.threads_seen)
            }
            _ => self.threads_seen,
        }
    }
}

/// Incremental scanner of a PID namespace's `/proc`.
#[derive(Debug, Default)]
pub struct Scanner {
    processes: BTreeSet<u32>,
    threads: BTreeSet<u32>,
    max_alive: u32,
    max_workers_alive: u32,
}

impl Scanner {
    /// One scan. `init` and `main` are the namespace PIDs of the init and main processes.
    pub fn scan(&mut self, init: u32, main: u32) {
        let Ok(entries) = fs::read_dir("/proc") else {
            return;
        };
        let mut alive = 0;
        let mut workers = 0;
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == init {
                continue;
            }
            if is_zombie(pid) {
                continue;
            }
            self.processes.insert(pid);
            alive += 1;
            if pid != main {
                workers += 1;
            }
            if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
                for t in tasks.flatten() {
                    if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                        if tid != pid {
                            self.threads.insert(tid);
                        }
                    }
                }
            }
        }
        self.max_alive = self.max_alive.max(alive);
        self.max_workers_alive = self.max_workers_alive.max(workers);
    }

    /// Processes alive now other than `init`, with their commands.
    pub fn alive(&self, init: u32) -> Vec<(u32, String)> {
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
            .filter(|&pid| pid != init && !is_zombie(pid))
            .map(|pid| {
                let cmd = fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| {
                        b.split(|&c| c == 0)
                            .filter(|s| !s.is_empty())
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                (pid, cmd)
            })
            .collect()
    }

    /// The audit so far; `tasks_created` from the namespace's last PID.
    pub fn finish(&self, init: u32) -> Audit {
        let last = fs::read_to_string("/proc/sys/kernel/ns_last_pid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(0);
        Audit {
            processes_seen: self.processes.len() as u32,
            threads_seen: self.threads.len() as u32,
            // Every PID above the init's went to a task of the submission.
            tasks_created: last.saturating_sub(init),
            max_alive: self.max_alive,
            max_workers_alive: self.max_workers_alive,
            ..Audit::default()
        }
    }
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().starts_with(['Z', 'X']))
                .unwrap_or(false)
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_use_the_exact_count_when_there_are_no_threads() {
        let a = Audit {
            processes_seen: 3,
            tasks_created: 5,
            ..Audit::default()
        };
        assert_eq!(a.workers_created(), 4);
        let threaded = Audit {
            processes_seen: 1,
            threads_seen: 4,
            tasks_created: 5,
            ..Audit::default()
        };
        assert_eq!(threaded.workers_created(), 0);
    }

    /// A run whose scans saw `seen` processes and no thread, with `tasks` created in all and
    /// `recorded` processes in the kernel's accounting.
    fn accounted(seen: u32, tasks: u32, recorded: u32) -> Audit {
        Audit {
            processes_seen: seen,
            tasks_created: tasks,
            processes_created: Some(recorded),
            ..Audit::default()
        }
    }

    #[test]
    fn process_accounting_tells_unseen_threads_from_processes() {
        // 4 threads no scan saw: the task count alone would read them as 4 processes.
        let threads = accounted(1, 5, 1);
        assert_eq!(threads.workers_created(), 0);
        assert_eq!(threads.threads_created(), 4);
        // 2 short workers and 2 threads, none seen.
        let mixed = accounted(1, 5, 3);
        assert_eq!(mixed.workers_created(), 2);
        assert_eq!(mixed.threads_created(), 2);
        // Fewer records than processes seen: records were lost, the scans decide.
        let lost = accounted(3, 3, 1);
        assert_eq!(lost.workers_created(), 2);
        assert_eq!(lost.threads_created(), 0);
    }

    #[test]
    fn a_scan_of_this_process_sees_it() {
        let mut s = Scanner::default();
        let me = std::process::id();
        s.scan(0, me);
        assert!(s.processes.contains(&me));
        assert!(s.max_alive >= 1);
    }
}

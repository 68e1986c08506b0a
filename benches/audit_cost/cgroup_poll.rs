//! The cgroup candidate: a v1 `pids` + `cpuacct` group of the bench's own
//! (`labgrade-bench-<pid>`), joined by the workload before its `exec`, whose `cgroup.procs`
//! (processes) and `tasks` (threads too) are polled every [`POLL`] while the main process runs.
//! What a poll misses is missed for good: v1 keeps no count of the tasks a group ever had.
//! The tree's CPU time is `cpuacct.usage`, exact. Whatever is in the group when the main
//! process ends leaked, and is killed so the group is empty for the next run.
//!
//! The groups are removed on drop, after killing anything left in them, so an error or a
//! panic (unwinding) leaves nothing behind.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Observation;

/// How often the group is polled: the sandbox's `/proc` scan interval.
const POLL: Duration = Duration::from_millis(2);
/// How long the end of a run waits for the killed leftovers to leave the group.
const EMPTY_WAIT: Duration = Duration::from_secs(2);

/// The bench's two groups (`pids` and `cpuacct` hierarchies).
pub struct BenchCgroup {
    pids: PathBuf,
    cpuacct: PathBuf,
}

impl BenchCgroup {
    /// Creates `labgrade-bench-<pid>` in both v1 hierarchies.
    pub fn create() -> Result<Self, String> {
        let name = format!("labgrade-bench-{}", std::process::id());
        let group = BenchCgroup {
            pids: Path::new("/sys/fs/cgroup/pids").join(&name),
            cpuacct: Path::new("/sys/fs/cgroup/cpuacct").join(&name),
        };
        // Built before the directories exist: whichever mkdir fails, drop removes the other.
        for dir in [&group.pids, &group.cpuacct] {
            fs::create_dir(dir).map_err(|e| {
                format!(
                    "creating {} ({e}): the cgroup candidate needs root and cgroup v1",
                    dir.display()
                )
            })?;
        }
        Ok(group)
    }

    /// Runs `program mode` in the group, polling it until the main process ends.
    pub fn run(&self, program: &Path, mode: &str) -> io::Result<Observation> {
        fs::write(self.cpuacct.join("cpuacct.usage"), "0")?;
        let joins = [
            cstring(&self.pids.join("cgroup.procs"))?,
            cstring(&self.cpuacct.join("cgroup.procs"))?,
        ];
        let mut cmd = Command::new(program);
        cmd.arg(mode)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: open, write and close of prepared paths: async-signal-safe, no allocation.
        unsafe {
            cmd.pre_exec(move || joins.iter().try_for_each(join));
        }
        let child = cmd.spawn()?;
        let main = child.id();
        let pidfd = PidFd::open(main)?;
        let mut seen = Seen::default();
        loop {
            seen.poll(&self.pids)?;
            if pidfd.wait_exit(POLL)? {
                break;
            }
        }
        let leftovers: Vec<u32> = read_ids(&self.pids.join("cgroup.procs"))?
            .into_iter()
            .filter(|&pid| pid != main && !is_zombie(pid))
            .collect();
        let mut child = child;
        child.wait()?;
        self.empty()?;
        let cpu_ns: u64 = fs::read_to_string(self.cpuacct.join("cpuacct.usage"))?
            .trim()
            .parse()
            .map_err(io::Error::other)?;
        Ok(Observation {
            workers: Some(seen.processes.iter().filter(|&&p| p != main).count() as u32),
            threads: Some(seen.threads.len() as u32),
            max_alive: Some(seen.max_alive),
            leaked: Some(leftovers.len() as u32),
            cpu: Some(Duration::from_nanos(cpu_ns)),
            ..Observation::default()
        })
    }

    /// Kills everything in the group and waits until it has left.
    fn empty(&self) -> io::Result<()> {
        let deadline = Instant::now() + EMPTY_WAIT;
        loop {
            let pids = read_ids(&self.pids.join("cgroup.procs"))?;
            if pids.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("{pids:?} still in the group")));
            }
            for pid in pids {
                // SAFETY: plain syscall; the pid is in our group, so it is a workload's.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl Drop for BenchCgroup {
    fn drop(&mut self) {
        let _ = self.empty();
        for dir in [&self.pids, &self.cpuacct] {
            if dir.exists() {
                if let Err(e) = fs::remove_dir(dir) {
                    eprintln!("audit_cost: could not remove {}: {e}", dir.display());
                }
            }
        }
    }
}

/// What the polls saw.
#[derive(Default)]
struct Seen {
    processes: HashSet<u32>,
    threads: HashSet<u32>,
    max_alive: u32,
}

impl Seen {
    fn poll(&mut self, group: &Path) -> io::Result<()> {
        let procs = read_ids(&group.join("cgroup.procs"))?;
        let tasks = read_ids(&group.join("tasks"))?;
        self.max_alive = self.max_alive.max(procs.len() as u32);
        // A process's main thread has the process's id, so a task missing from `procs` is a
        // thread, or a process forked between the two reads: its thread group tells which.
        for t in tasks {
            if !procs.contains(&t) && !self.threads.contains(&t) {
                match thread_group(t) {
                    Some(tgid) if tgid != t => self.threads.insert(t),
                    Some(_) => self.processes.insert(t),
                    None => false, // gone already: nothing to tell
                };
            }
        }
        self.processes.extend(procs);
        Ok(())
    }
}

/// The thread group (process) of task `tid`, while it exists.
fn thread_group(tid: u32) -> Option<u32> {
    fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))?
        .trim()
        .parse()
        .ok()
}

fn read_ids(file: &Path) -> io::Result<Vec<u32>> {
    Ok(fs::read_to_string(file)?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(true)
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)
}

/// Moves the calling process into the group whose `cgroup.procs` is `file` ("0": the caller).
fn join(file: &CString) -> io::Result<()> {
    // SAFETY: valid NUL-terminated path; the descriptor is closed on every path.
    unsafe {
        let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, b"0".as_ptr().cast(), 1);
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n != 1 {
            return Err(err);
        }
    }
    Ok(())
}

/// A pidfd: readable once the process has exited, so the poll loop wakes at once at the end.
struct PidFd(std::os::fd::OwnedFd);

impl PidFd {
    fn open(pid: u32) -> io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain syscall; a non-negative result is a new descriptor we own.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        Ok(PidFd(unsafe {
            std::os::fd::OwnedFd::from_raw_fd(fd as i32)
        }))
    }

    /// Waits up to `timeout` for the process to exit; true once it has.
    fn wait_exit(&self, timeout: Duration) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(n > 0)
    }
}

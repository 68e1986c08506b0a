//! Kernel resource limits applied to the child between `fork` and `exec`.

use std::io;
use std::time::Duration;

/// The limits of one run. `None` leaves the grader's own limit in place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Wall-clock time before the group is terminated.
    pub wall: Duration,
    /// CPU seconds per process (`RLIMIT_CPU`; SIGXCPU, then SIGKILL one second later).
    pub cpu: Option<Duration>,
    /// Virtual memory per process (`RLIMIT_AS`).
    pub address_space_bytes: Option<u64>,
    /// Largest file a process may write (`RLIMIT_FSIZE`).
    pub file_size_bytes: Option<u64>,
    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
    /// Bytes kept of each of stdout and stderr; more kills the group.
    pub output_bytes: usize,
    /// Processes (and threads) the whole run may have at once: the cgroup's `pids.max`, and
    /// `RLIMIT_NPROC` once the run no longer is root.
    pub processes: Option<u64>,
    /// Memory of the whole run (the cgroup's limit).
    pub memory_bytes: Option<u64>,
}

impl Limits {
    /// Limits for one run of a student's program.
    pub fn for_run(wall: Duration) -> Self {
        Limits {
            wall,
            // Generous for honest multi-process work, short enough that a runaway loop in a
            // process that escaped the wall clock still ends.
            cpu: Some(wall.saturating_mul(2).max(Duration::from_secs(5))),
            address_space_bytes: Some(1 << 30),
            file_size_bytes: Some(16 << 20),
            open_files: Some(256),
            output_bytes: 1 << 20,
            // 64 workers is the lab's maximum; a fork bomb stops far below a machine's limit.
            processes: Some(256),
            memory_bytes: Some(2 << 30),
        }
    }

    /// The address space of each process of a build where no cgroup bounds the build's memory
    /// (the portable path; namespaces without a cgroup, as for an unprivileged user). The
    /// lab's builds need under 1 GiB (a release build of the skeleton and its dependencies
    /// fails at 512 MiB and passes at 1 GiB, with `ulimit -v`); four times that leaves room
    /// for rustc's threads on a bigger machine.
    pub const BUILD_ADDRESS_SPACE_WITHOUT_CGROUP: u64 = 4 << 30;

    /// Limits for compiling a submission: rustc needs far more virtual memory than any run
    /// (a build without a cgroup gets [`Self::BUILD_ADDRESS_SPACE_WITHOUT_CGROUP`]; one with
    /// a cgroup is bounded by it, [`Self::without_cgroup`]).
    pub fn for_build(wall: Duration) -> Self {
        Limits {
            wall,
            cpu: None,
            address_space_bytes: None,
            file_size_bytes: Some(1 << 30),
            open_files: None,
            output_bytes: 8 << 20,
            // cargo and rustc start many threads.
            processes: Some(1024),
            memory_bytes: Some(4 << 30),
        }
    }

    /// These limits for a run without a cgroup, where nothing bounds a build's memory but a
    /// per-process limit: a build gets [`Self::BUILD_ADDRESS_SPACE_WITHOUT_CGROUP`] unless it has a
    /// limit already, so that a compile-time hog (a huge `static`, `include_bytes!("/dev/zero")`,
    /// macros that expand exponentially) fails its build instead of taking the machine's memory.
    pub(super) fn without_cgroup(&self, isolation: super::Isolation) -> Limits {
        let mut limits = self.clone();
        if isolation == super::Isolation::Build {
            limits
                .address_space_bytes
                .get_or_insert(Self::BUILD_ADDRESS_SPACE_WITHOUT_CGROUP);
        }
        limits
    }

    /// Applies the limits to the calling process. Runs in the forked child before `exec`:
    /// only async-signal-safe calls, no allocation.
    pub(super) fn apply_in_child(&self) -> io::Result<()> {
        set(libc::RLIMIT_CORE, 0, 0)?;
        if let Some(cpu) = self.cpu {
            let secs = cpu.as_secs().max(1);
            set(libc::RLIMIT_CPU, secs, secs + 1)?;
        }
        if let Some(bytes) = self.address_space_bytes {
            set(libc::RLIMIT_AS, bytes, bytes)?;
        }
        if let Some(bytes) = self.file_size_bytes {
            set(libc::RLIMIT_FSIZE, bytes, bytes)?;
        }
        if let Some(n) = self.open_files {
            set(libc::RLIMIT_NOFILE, n, n)?;
        }
        Ok(())
    }
}

/// Sets `RLIMIT_NPROC` (counted per user, so only meaningful for a dedicated, non-root user).
pub(super) fn set_nproc(processes: Option<u64>) -> io::Result<()> {
    match processes {
        Some(n) => set(libc::RLIMIT_NPROC, n, n),
        None => Ok(()),
    }
}

/// How many tasks (processes and threads) `uid` has now, from `/proc`: `RLIMIT_NPROC` counts
/// them all, so a run that shares its uid with the grader (an unprivileged grader without user
/// namespaces) gets this many plus its own allowance. `None` where `/proc` cannot tell.
#[cfg(target_os = "linux")]
pub(super) fn tasks_of_user(uid: u32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut tasks = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid || entry.metadata().map_or(true, |m| m.uid() != uid) {
            continue;
        }
        // A process that ended meanwhile counts for nothing.
        let threads = std::fs::read_to_string(entry.path().join("status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            });
        tasks += threads.unwrap_or(0);
    }
    Some(tasks)
}

#[cfg(not(target_os = "linux"))]
pub(super) fn tasks_of_user(_uid: u32) -> Option<u64> {
    None
}

#[cfg(target_os = "linux")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_os = "linux"))]
type Resource = libc::c_int;

/// Lowers one limit; never raises a hard limit the grader itself does not have.
fn set(resource: Resource, soft: u64, hard: u64) -> io::Result<()> {
    // SAFETY: getrlimit/setrlimit with valid pointers are async-signal-safe syscalls.
    unsafe {
        let mut cur: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(resource, &mut cur) != 0 {
            return Err(io::Error::last_os_error());
        }
        let hard = (hard as libc::rlim_t).min(cur.rlim_max);
        let soft = (soft as libc::rlim_t).min(hard);
        let new = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        if libc::setrlimit(resource, &new) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

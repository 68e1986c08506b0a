//! A control group per run: a ceiling on processes and memory for the whole tree, and its CPU
//! time, whatever the processes do (double fork, setsid) to escape their parent.
//!
//! cgroup v2 where the grader may create groups under `/sys/fs/cgroup`, else v1 with the
//! `pids`, `memory` and `cpuacct` hierarchies (as on this project's CI machine). The grader
//! creates the group; the sandbox's init process moves itself into it before it starts anything,
//! so nothing the submission starts is ever outside it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ROOT: &str = "/sys/fs/cgroup";
/// The v1 hierarchies used, and the file a process joins through.
const V1_CONTROLLERS: [&str; 3] = ["pids", "memory", "cpuacct"];

/// Which cgroup interface the machine offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// Limits of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupLimits {
    pub pids_max: u32,
    pub memory_bytes: u64,
}

/// What a group measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupStats {
    /// CPU time of every process that ran in the group.
    pub cpu: Option<Duration>,
    /// Peak memory use of the group.
    pub memory_peak_bytes: Option<u64>,
    /// Forks refused because the group was at `pids_max`.
    pub pids_refused: u64,
    /// Processes killed by the kernel because the group ran out of memory.
    pub oom_kills: u64,
}

/// A group; removed on drop (after killing anything left in it).
#[derive(Debug)]
pub struct Cgroup {
    version: Version,
    /// v1: one directory per controller; v2: one directory.
    dirs: Vec<PathBuf>,
}

/// Which version is usable here, or why none is.
pub fn detect() -> Result<Version, String> {
    if !Path::new(ROOT).exists() {
        return Err(format!(
            "{ROOT} does not exist (not Linux, or cgroups not mounted)"
        ));
    }
    let v2 = Path::new(ROOT).join("cgroup.controllers").exists();
    let probe = format!("probe-{}", std::process::id());
    let version = if v2 { Version::V2 } else { Version::V1 };
    if !v2
        && !V1_CONTROLLERS
            .iter()
            .all(|c| Path::new(ROOT).join(c).is_dir())
    {
        return Err(format!(
            "cgroup v1 without all of the {} hierarchies",
            V1_CONTROLLERS.join(", ")
        ));
    }
    match Cgroup::create(version, &probe, None) {
        Ok(_) => {
            remove_stale(version);
            Ok(version)
        }
        Err(e) => Err(format!(
            "cannot create a cgroup under {ROOT} ({e}); run as root or delegate a subtree"
        )),
    }
}

impl Cgroup {
    /// Creates the group `labgrade/<name>` with `limits`.
    pub fn create(
        version: Version,
        name: &str,
        limits: Option<CgroupLimits>,
    ) -> io::Result<Cgroup> {
        let dirs: Vec<PathBuf> = match version {
            Version::V1 => V1_CONTROLLERS
                .iter()
                .map(|c| Path::new(ROOT).join(c).join("labgrade").join(name))
                .collect(),
            Version::V2 => {
                let parent = Path::new(ROOT).join("labgrade");
                fs::create_dir_all(&parent)?;
                // Controllers must be enabled on the way down; already enabled is fine.
                for dir in [Path::new(ROOT), parent.as_path()] {
                    let _ = fs::write(dir.join("cgroup.subtree_control"), "+pids +memory +cpu");
                }
                vec![parent.join(name)]
            }
        };
        let group = Cgroup { version, dirs };
        for dir in &group.dirs {
            fs::create_dir_all(dir)?;
        }
        if let Some(limits) = limits {
            group.set_limits(limits)?;
        }
        Ok(group)
    }

    fn file(&self, controller: &str, name: &str) -> PathBuf {
        match self.version {
            Version::V2 => self.dirs[0].join(name),
            Version::V1 => {
                let i = V1_CONTROLLERS
                    .iter()
                    .position(|c| *c == controller)
                    .unwrap_or(0);
                self.dirs[i].join(name)
            }
        }
    }

    /// Sets the limits (again) for the next run in this group.
    pub fn set_limits(&self, limits: CgroupLimits) -> io::Result<()> {
        fs::write(self.file("pids", "pids.max"), limits.pids_max.to_string())?;
        let bytes = limits.memory_bytes.to_string();
        match self.version {
            Version::V1 => {
                fs::write(self.file("memory", "memory.limit_in_bytes"), &bytes)?;
                // Swap counts too where the kernel accounts it.
                let _ = fs::write(self.file("memory", "memory.memsw.limit_in_bytes"), &bytes);
            }
            Version::V2 => {
                fs::write(self.file("memory", "memory.max"), &bytes)?;
                let _ = fs::write(self.file("memory", "memory.swap.max"), "0");
            }
        }
        Ok(())
    }

    /// The files a process writes its pid to in order to join (one per hierarchy).
    pub fn join_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// What the group measured so far.
    pub fn stats(&self) -> CgroupStats {
        let read =
            |controller: &str, name: &str| fs::read_to_string(self.file(controller, name)).ok();
        let keyed = |text: Option<String>, key: &str| -> Option<u64> {
            text?.lines().find_map(|l| {
                let mut parts = l.split_whitespace();
                (parts.next() == Some(key)).then(|| parts.next()?.parse().ok())?
            })
        };
        let num = |text: Option<String>| text.and_then(|t| t.trim().parse::<u64>().ok());
        match self.version {
            Version::V1 => CgroupStats {
                cpu: num(read("cpuacct", "cpuacct.usage")).map(Duration::from_nanos),
                memory_peak_bytes: num(read("memory", "memory.max_usage_in_bytes")),
                pids_refused: keyed(read("pids", "pids.events"), "max").unwrap_or(0),
                oom_kills: keyed(read("memory", "memory.oom_control"), "oom_kill").unwrap_or(0),
            },
            Version::V2 => CgroupStats {
                cpu: keyed(read("cpu", "cpu.stat"), "usage_usec").map(Duration::from_micros),
                memory_peak_bytes: num(read("memory", "memory.peak")),
                pids_refused: keyed(read("pids", "pids.events"), "max").unwrap_or(0),
                oom_kills: keyed(read("memory", "memory.events"), "oom_kill").unwrap_or(0),
            },
        }
    }

    /// Processes in the group now.
    pub fn pids(&self) -> Vec<i32> {
        fs::read_to_string(&self.join_files()[0])
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// SIGKILLs every process in the group.
    pub fn kill_all(&self) {
        if self.version == Version::V2 && fs::write(self.dirs[0].join("cgroup.kill"), "1").is_ok() {
            return;
        }
        // v1: no atomic kill; repeat until no new process shows up (a fork racing the kill).
        for _ in 0..50 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // SAFETY: plain syscall; these are the group's processes, started by this run.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.kill_all();
        for dir in &self.dirs {
            // A group can be removed once its last process is gone; killed ones take a moment.
            for _ in 0..200 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Creating and removing a group costs milliseconds per hierarchy (measured: ~6 ms for a
/// mkdir + rmdir pair on v1), far more than a short run; so groups are reused run after run.
/// A lease takes an idle group (or creates one), resets what can be reset, and gives it back
/// empty; statistics are reported as the difference over the lease.
pub struct Lease {
    group: Option<Cgroup>,
    start: CgroupStats,
}

static IDLE: std::sync::Mutex<Vec<Cgroup>> = std::sync::Mutex::new(Vec::new());

impl Lease {
    /// A group of `version` with `limits`, fresh or reused.
    pub fn take(version: Version, limits: CgroupLimits) -> io::Result<Lease> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let reused = IDLE.lock().map(|mut idle| idle.pop()).unwrap_or(None);
        let group = match reused.filter(|g| g.version == version) {
            Some(g) => {
                g.set_limits(limits)?;
                g
            }
            None => {
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Cgroup::create(
                    version,
                    &format!("run-{}-{n}", std::process::id()),
                    Some(limits),
                )?
            }
        };
        group.reset_peak();
        let start = group.stats();
        Ok(Lease {
            group: Some(group),
            start,
        })
    }

    /// The group itself (to join it).
    pub fn group(&self) -> &Cgroup {
        self.group
            .as_ref()
            .expect("a lease holds its group until dropped")
    }

    /// What the group measured since the lease began.
    pub fn stats(&self) -> CgroupStats {
        let now = self.group().stats();
        CgroupStats {
            cpu: match (now.cpu, self.start.cpu) {
                (Some(n), Some(s)) => Some(n.saturating_sub(s)),
                _ => None,
            },
            memory_peak_bytes: now.memory_peak_bytes,
            pids_refused: now.pids_refused.saturating_sub(self.start.pids_refused),
            oom_kills: now.oom_kills.saturating_sub(self.start.oom_kills),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            group.kill_all();
            // Only an empty group goes back to the pool; otherwise it is removed (Drop).
            if group.pids().is_empty() {
                if let Ok(mut idle) = IDLE.lock() {
                    idle.push(group);
                }
            }
        }
    }
}

impl Cgroup {
    /// Starts the peak-memory measurement afresh, where the kernel allows it.
    fn reset_peak(&self) {
        let _ = match self.version {
            Version::V1 => fs::write(self.file("memory", "memory.max_usage_in_bytes"), "0"),
            Version::V2 => fs::write(self.file("memory", "memory.peak"), "reset"),
        };
    }
}

/// Removes groups left by labgrade processes that no longer exist (killed with `kill -9`).
fn remove_stale(version: Version) {
    let parents: Vec<PathBuf> = match version {
        Version::V1 => V1_CONTROLLERS
            .iter()
            .map(|c| Path::new(ROOT).join(c).join("labgrade"))
            .collect(),
        Version::V2 => vec![Path::new(ROOT).join("labgrade")],
    };
    for parent in parents {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner = name.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            if owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = fs::remove_dir(entry.path());
            }
        }
    }
}

/// Removes the idle groups (at exit, so none is left behind on the machine).
pub fn remove_idle() {
    if let Ok(mut idle) = IDLE.lock() {
        idle.clear();
    }
}

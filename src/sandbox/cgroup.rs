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

/// A run's group; removed on drop (after killing anything left in it).
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
        Ok(_) => Ok(version),
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

    fn set_limits(&self, limits: CgroupLimits) -> io::Result<()> {
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

//! A control group per run: a ceiling on processes and memory for the whole tree, and its CPU
//! time, whatever the processes do (double fork, setsid) to escape their parent.
//!
//! cgroup v2 where the grader may create groups (as root under `/sys/fs/cgroup/labgrade`, else
//! inside its own cgroup when that is delegated to its user), else v1 with the `pids`, `memory`
//! and `cpuacct` hierarchies (as on this project's CI machine; v2 is tested in a VM by
//! `tests/vm/cgroup_v2.sh`). The grader creates the group; the sandbox's init process moves
//! itself into it before it starts anything, so nothing the submission starts is ever outside it.

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

/// Where this grader's groups live: the version and the `labgrade` parent directory (one per
/// hierarchy on v1), found once by [`detect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub version: Version,
    /// v1: `<ROOT>/<controller>/labgrade` each; v2: `<base>/labgrade`, where the base is the
    /// root when the grader may write there, else the cgroup delegated to the grader.
    parents: Vec<PathBuf>,
}

impl Hierarchy {
    /// One line for `labgrade doctor`.
    pub fn describe(&self) -> String {
        match self.version {
            Version::V1 => {
                "v1: pids and memory limits and CPU accounting for the whole tree".to_string()
            }
            Version::V2 => format!(
                "v2 (groups under {}): pids and memory limits and CPU accounting for the whole \
                 tree, cgroup.kill",
                self.parents[0].display()
            ),
        }
    }
}

/// Which hierarchy is usable here, or why none is. On v2 this may move the grader itself into
/// a leaf `<own cgroup>/grader` (see [`v2_parent`]).
pub fn detect() -> Result<Hierarchy, String> {
    if !Path::new(ROOT).exists() {
        return Err(format!(
            "{ROOT} does not exist (not Linux, or cgroups not mounted)"
        ));
    }
    let hierarchy = if Path::new(ROOT).join("cgroup.controllers").exists() {
        Hierarchy {
            version: Version::V2,
            parents: vec![v2_parent()?],
        }
    } else {
        if !V1_CONTROLLERS
            .iter()
            .all(|c| Path::new(ROOT).join(c).is_dir())
        {
            return Err(format!(
                "cgroup v1 without all of the {} hierarchies",
                V1_CONTROLLERS.join(", ")
            ));
        }
        Hierarchy {
            version: Version::V1,
            parents: V1_CONTROLLERS
                .iter()
                .map(|c| Path::new(ROOT).join(c).join("labgrade"))
                .collect(),
        }
    };
    let probe = format!("probe-{}", std::process::id());
    match Cgroup::create(&hierarchy, &probe, None) {
        Ok(_) => {
            remove_stale(&hierarchy);
            Ok(hierarchy)
        }
        Err(e) => Err(format!(
            "cannot create a cgroup under {} ({e}); run as root or delegate a subtree",
            hierarchy.parents[0].display()
        )),
    }
}

/// v2 controllers a run group needs. CPU time needs none: every v2 group has `cpu.stat` with
/// `usage_usec`, and leaving the `cpu` controller off spares the scheduler its overhead.
const V2_CONTROLLERS: [&str; 2] = ["pids", "memory"];
/// The leaf the grader moves itself into when it nests its groups in its own cgroup.
const GRADER_LEAF: &str = "grader";

/// The v2 directory run groups go under, made ready: controllers enabled on the way down.
///
/// As root (the root's `cgroup.subtree_control` writable) that is `/sys/fs/cgroup/labgrade`.
/// Otherwise it must be inside the grader's own cgroup, the only place a delegation lets it
/// write; v2 forbids processes in a group whose controllers are enabled for its children ("no
/// internal processes"), so the grader first moves itself into the leaf `<own>/grader`.
fn v2_parent() -> Result<PathBuf, String> {
    let root = Path::new(ROOT);
    let root_writable = nix::unistd::access(
        &root.join("cgroup.subtree_control"),
        nix::unistd::AccessFlags::W_OK,
    )
    .is_ok();
    let own = match fs::read_to_string("/proc/self/cgroup") {
        Ok(text) => own_v2_path(&text),
        Err(e) => return Err(format!("reading /proc/self/cgroup: {e}")),
    };
    let (base, move_into_leaf) = match choose_v2_base(own.as_deref(), root_writable) {
        Some(choice) => choice,
        None => {
            return Err(format!(
                "cgroup v2, but this process's cgroup is unknown (no `0::` line in \
                 /proc/self/cgroup) and {ROOT} is not writable: run as root or delegate a subtree"
            ))
        }
    };
    let base = root.join(base.trim_start_matches('/'));
    let available = fs::read_to_string(base.join("cgroup.controllers")).unwrap_or_default();
    let missing = missing_controllers(&available);
    if !missing.is_empty() {
        return Err(format!(
            "cgroup v2 without the {} controller{} delegated to {}: enable {} in its parent's \
             cgroup.subtree_control",
            missing.join(" and "),
            if missing.len() > 1 { "s" } else { "" },
            base.display(),
            missing
                .iter()
                .map(|c| format!("+{c}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if move_into_leaf {
        let leaf = base.join(GRADER_LEAF);
        let moved = fs::create_dir_all(&leaf)
            .and_then(|()| fs::write(leaf.join("cgroup.procs"), std::process::id().to_string()));
        if let Err(e) = moved {
            return Err(format!(
                "cgroup v2: cannot move the grader into {} ({e}); delegate its cgroup to the \
                 grader's user (chown the directory and its cgroup.procs, cgroup.subtree_control \
                 and cgroup.threads)",
                leaf.display()
            ));
        }
    }
    let parent = base.join("labgrade");
    fs::create_dir_all(&parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    for dir in [base.as_path(), parent.as_path()] {
        enable_controllers(dir)?;
    }
    Ok(parent)
}

/// Enables [`V2_CONTROLLERS`] for `dir`'s children; already enabled is fine.
fn enable_controllers(dir: &Path) -> Result<(), String> {
    let control = dir.join("cgroup.subtree_control");
    for c in V2_CONTROLLERS {
        let enabled = fs::read_to_string(&control).unwrap_or_default();
        if enabled.split_whitespace().any(|e| e == c) {
            continue;
        }
        if let Err(e) = fs::write(&control, format!("+{c}")) {
            let why = if e.raw_os_error() == Some(libc::EBUSY) {
                " (other processes are in this cgroup: v2 allows controllers only on groups \
                 without processes; start the grader alone in its delegated cgroup)"
            } else {
                ""
            };
            return Err(format!("enabling +{c} in {}: {e}{why}", control.display()));
        }
    }
    Ok(())
}

/// The process's v2 cgroup path (`/user1/grader`) from `/proc/self/cgroup`'s `0::` line.
fn own_v2_path(proc_self_cgroup: &str) -> Option<String> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim().to_string())
        .filter(|p| p.starts_with('/'))
}

/// Where run groups go (a cgroup path, `/` for the root) and whether the grader must first move
/// into `<base>/grader`. The root when writable (the root may hold processes and groups both);
/// else the grader's own cgroup, or its parent when a previous detection already moved the
/// grader into the `grader` leaf there.
fn choose_v2_base(own: Option<&str>, root_writable: bool) -> Option<(String, bool)> {
    if root_writable {
        return Some(("/".to_string(), false));
    }
    let own = own?;
    if own == "/" {
        return None;
    }
    match own.rsplit_once('/') {
        Some((parent, GRADER_LEAF)) => {
            let parent = if parent.is_empty() { "/" } else { parent };
            Some((parent.to_string(), false))
        }
        _ => Some((own.to_string(), true)),
    }
}

/// The needed controllers absent from a `cgroup.controllers` line.
fn missing_controllers(available: &str) -> Vec<&'static str> {
    V2_CONTROLLERS
        .into_iter()
        .filter(|c| !available.split_whitespace().any(|a| a == *c))
        .collect()
}

impl Cgroup {
    /// Creates the group `labgrade/<name>` with `limits`.
    pub fn create(
        hierarchy: &Hierarchy,
        name: &str,
        limits: Option<CgroupLimits>,
    ) -> io::Result<Cgroup> {
        let version = hierarchy.version;
        let dirs: Vec<PathBuf> = hierarchy.parents.iter().map(|p| p.join(name)).collect();
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
                let memory = self.file("memory", "memory.limit_in_bytes");
                let memsw = self.file("memory", "memory.memsw.limit_in_bytes");
                // v1 keeps memory <= memory+swap (EINVAL otherwise): lowering, memory goes
                // first; raising (a run's group reused for a build), memory+swap goes first.
                if fs::write(&memory, &bytes).is_err() {
                    let _ = fs::write(&memsw, &bytes);
                    fs::write(&memory, &bytes)?;
                }
                // Swap counts too where the kernel accounts it.
                let _ = fs::write(&memsw, &bytes);
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
    pub fn take(hierarchy: &Hierarchy, limits: CgroupLimits) -> io::Result<Lease> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let reused = IDLE.lock().map(|mut idle| idle.pop()).unwrap_or(None);
        let group = match reused.filter(|g| g.version == hierarchy.version) {
            Some(g) => {
                g.set_limits(limits)?;
                g
            }
            None => {
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Cgroup::create(
                    hierarchy,
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
fn remove_stale(hierarchy: &Hierarchy) {
    for parent in &hierarchy.parents {
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner = name.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            if owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                if hierarchy.version == Version::V1 {
                    let _ = fs::remove_dir(entry.path());
                    continue;
                }
                // A dead grader's group on v2 may still hold its run: dropping it kills what is
                // left (cgroup.kill) and waits for the group to empty before removing it.
                drop(Cgroup {
                    version: Version::V2,
                    dirs: vec![entry.path()],
                });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_path_is_the_unified_line() {
        let hybrid = "12:pids:/user.slice\n4:memory:/user.slice\n0::/user.slice/session-1.scope\n";
        assert_eq!(
            own_v2_path(hybrid).as_deref(),
            Some("/user.slice/session-1.scope")
        );
        assert_eq!(own_v2_path("0::/\n").as_deref(), Some("/"));
        assert_eq!(own_v2_path("3:cpu:/a\n"), None);
        assert_eq!(own_v2_path(""), None);
    }

    #[test]
    fn root_is_used_when_writable() {
        assert_eq!(
            choose_v2_base(Some("/user1"), true),
            Some(("/".to_string(), false))
        );
    }

    #[test]
    fn otherwise_own_cgroup_with_a_leaf_for_the_grader() {
        assert_eq!(
            choose_v2_base(Some("/user1"), false),
            Some(("/user1".to_string(), true))
        );
        // Already in the leaf (detected before): its parent, no second move.
        assert_eq!(
            choose_v2_base(Some("/user1/grader"), false),
            Some(("/user1".to_string(), false))
        );
        assert_eq!(
            choose_v2_base(Some("/grader"), false),
            Some(("/".to_string(), false))
        );
        // In the root without the right to write there, or nowhere known: no place.
        assert_eq!(choose_v2_base(Some("/"), false), None);
        assert_eq!(choose_v2_base(None, false), None);
    }

    /// A group reused with a higher memory limit (a run's group, then a build's): on v1 the
    /// memory+swap limit must be raised first, or the kernel refuses (and the build would run
    /// without a group).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_reused_group_takes_a_higher_limit_then_a_lower_one() {
        let hierarchy = match detect() {
            Ok(h) => h,
            Err(why) => {
                crate::skip::skip(format!("no cgroup hierarchy: {why}"));
                return;
            }
        };
        let name = format!("limits-test-{}", std::process::id());
        let limits = |gib: u64| CgroupLimits {
            pids_max: 64,
            memory_bytes: gib << 30,
        };
        let group = Cgroup::create(&hierarchy, &name, Some(limits(2))).unwrap();
        group.set_limits(limits(4)).unwrap();
        group.set_limits(limits(1)).unwrap();
    }

    #[test]
    fn missing_controllers_are_named() {
        assert!(missing_controllers("cpuset cpu io memory hugetlb pids rdma misc\n").is_empty());
        assert_eq!(missing_controllers("cpu pids\n"), vec!["memory"]);
        assert_eq!(missing_controllers(""), vec!["pids", "memory"]);
        // A prefix is not the controller.
        assert_eq!(missing_controllers("pidsx memory"), vec!["pids"]);
    }
}

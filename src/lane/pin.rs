//! Pinning the calling thread, and so every process it starts from then on, to a lane's cores.
//!
//! A CPU affinity is inherited across `fork`, `clone` and `exec`, so a sandbox started from a
//! pinned thread runs on the lane's cores; the sandbox's seccomp filter refuses
//! `sched_setaffinity`, so a student's program cannot leave them (`src/sandbox/seccomp.rs`).

/// The CPUs the calling thread may run on, ascending.
#[cfg(target_os = "linux")]
pub fn allowed() -> Vec<usize> {
    use nix::sched::{sched_getaffinity, CpuSet};
    use nix::unistd::Pid;
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
        Err(_) => fallback(),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn allowed() -> Vec<usize> {
    fallback()
}

fn fallback() -> Vec<usize> {
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// While alive, the calling thread runs on the given cores only; dropping it restores what the
/// thread had before. Must be dropped on the thread that made it.
pub struct Pinned {
    #[cfg(target_os = "linux")]
    before: Option<nix::sched::CpuSet>,
}

impl Pinned {
    /// Pins the calling thread to `cores` (nothing where affinities do not exist).
    #[cfg(target_os = "linux")]
    pub fn to(cores: &[usize]) -> std::io::Result<Pinned> {
        use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
        use nix::unistd::Pid;
        let me = Pid::from_raw(0);
        let before = sched_getaffinity(me)?;
        let mut set = CpuSet::new();
        for &c in cores {
            set.set(c)?;
        }
        sched_setaffinity(me, &set)?;
        Ok(Pinned {
            before: Some(before),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn to(_cores: &[usize]) -> std::io::Result<Pinned> {
        Ok(Pinned {})
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(before) = self.before.take() {
            let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &before);
        }
    }
}

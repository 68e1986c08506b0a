//! A user id of its own for every concurrent run, when the grader is root.
//!
//! `RLIMIT_NPROC` counts the processes of a *user*: were every run `nobody`, a submission holding
//! hundreds of processes would make another submission's concurrent runs fail `fork`. So each run
//! takes a slot of a pool, uid (and gid) `base + slot`, with `base` [`DEFAULT_BASE`] (far above
//! any real account) or `$LABGRADE_UID_BASE`. A slot is held with an `flock` on
//! `slot-N.lock` in a root-owned directory ([`LOCK_DIRS`]), so two grader processes on one
//! machine never share one; the lock is released when the run's [`RunUser`] is dropped, after
//! the run has been reaped and its processes killed.
//!
//! Where the grader's user namespace does not map the pool (a rootless container maps a few
//! thousand uids), every run is `nobody` (65534) as before, and the layer's description says so
//! ([`RunUsers::Shared`]). The choice is made once, from `/proc/self/uid_map`, so what a result
//! says about the user is what every run got.
//!
//! Builds run as one more user, `base - 1` ([`Pool::build_user`]): isolated, or on the portable
//! path where a probe found that this user reaches the toolchain (the build module's probe).
//!
//! This module owns the pool only: the user change itself happens in the child (`init.rs`,
//! `mod.rs`), between `fork` and `exec`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

/// The first uid of the pool unless `$LABGRADE_UID_BASE` says otherwise.
pub const DEFAULT_BASE: u32 = 1_900_000_000;
/// The environment variable that moves the pool.
pub const BASE_ENV: &str = "LABGRADE_UID_BASE";
/// How many runs may hold a uid at once, over every grader process of the machine.
pub const SLOTS: u32 = 1024;
/// The shared user of machines whose user namespace does not map the pool.
pub const NOBODY: (u32, u32) = (65534, 65534);
/// Where the slot locks live: the first of these the grader can make its own.
const LOCK_DIRS: [&str; 1] = ["/run/labgrade/uids"];

/// How runs get their user.
#[derive(Debug, Clone)]
pub enum RunUsers {
    /// A uid of its own per concurrent run.
    Pool(Pool),
    /// One uid for every run (the pool is not mapped here): `why` says so.
    Shared { uid: u32, gid: u32, why: String },
}

/// The pool of per-run uids.
#[derive(Debug, Clone)]
pub struct Pool {
    pub base: u32,
    lock_dir: PathBuf,
}

/// The user a run gets, held until dropped.
#[derive(Debug)]
pub struct RunUser {
    pub uid: u32,
    pub gid: u32,
    /// `None` for the shared user.
    _slot: Option<Flock<File>>,
}

impl RunUser {
    /// Whether the uid is this run's alone (a slot of the pool), not shared with other runs.
    pub fn own(&self) -> bool {
        self._slot.is_some()
    }
}

impl RunUsers {
    /// For a root grader: the pool where this user namespace maps it, else `nobody`.
    pub fn detect() -> Result<RunUsers, String> {
        let base = base_from_env()?;
        // A container's root may lack them: then no run could change its user, and every
        // run would fail to start rather than run as root.
        const CAP_SETGID: u32 = 6;
        const CAP_SETUID: u32 = 7;
        // (Linux only: elsewhere root is root.)
        let effective = fs::read_to_string("/proc/self/status").ok().map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
                .unwrap_or(0)
        });
        if effective
            .is_some_and(|caps| caps & (1 << CAP_SETUID) == 0 || caps & (1 << CAP_SETGID) == 0)
        {
            return Err(
                "this root lacks CAP_SETUID or CAP_SETGID (a container that dropped \
                        them?): student code cannot be moved off root, so runs are refused"
                    .to_string(),
            );
        }
        // Without the file (not Linux) every id is the host's own.
        let maps =
            |file: &str| fs::read_to_string(file).unwrap_or_else(|_| format!("0 0 {}", u32::MAX));
        let (uid_map, gid_map) = (maps("/proc/self/uid_map"), maps("/proc/self/gid_map"));
        Self::choose(base, &uid_map, &gid_map, lock_dir)
    }

    /// The choice of [`detect`](Self::detect) for a namespace with these id maps: the pool
    /// where both maps hold it (and the build user below it), else the shared `nobody`.
    fn choose(
        base: u32,
        uid_map: &str,
        gid_map: &str,
        lock_dir: impl FnOnce() -> io::Result<PathBuf>,
    ) -> Result<RunUsers, String> {
        let mapped = |map: &str, first: u32, count: u32| covers(map, first, count);
        // The pool and, just below it, the build user (`base - 1`).
        if mapped(uid_map, base - 1, SLOTS + 1) && mapped(gid_map, base - 1, SLOTS + 1) {
            match lock_dir() {
                Ok(lock_dir) => return Ok(RunUsers::Pool(Pool { base, lock_dir })),
                Err(e) => {
                    return Err(format!(
                        "no directory for the uid pool's locks ({e}): student code would share \
                         one user"
                    ))
                }
            }
        }
        if mapped(uid_map, NOBODY.0, 1) && mapped(gid_map, NOBODY.1, 1) {
            return Ok(RunUsers::Shared {
                uid: NOBODY.0,
                gid: NOBODY.1,
                why: format!(
                    "this user namespace does not map uids {base}..{} (a rootless container?): \
                     every run shares uid {}, so one run's processes count against another's \
                     RLIMIT_NPROC",
                    base as u64 + SLOTS as u64,
                    NOBODY.0
                ),
            });
        }
        Err("this user namespace maps neither the uid pool nor nobody (65534)".into())
    }

    /// A user for one run.
    pub fn take(&self) -> io::Result<RunUser> {
        match self {
            RunUsers::Pool(pool) => pool.take(),
            RunUsers::Shared { uid, gid, .. } => Ok(RunUser {
                uid: *uid,
                gid: *gid,
                _slot: None,
            }),
        }
    }

    /// The `labgrade doctor` line; `isolated_builds`: whether builds here go through the
    /// namespace init (and so run as the build user).
    pub fn describe(&self, isolated_builds: bool) -> String {
        match self {
            RunUsers::Pool(pool) => format!(
                "every run, isolated or portable, gets a uid of its own, {}..{} (RLIMIT_NPROC \
                 counts its processes alone); {}",
                pool.base,
                pool.base as u64 + SLOTS as u64,
                if isolated_builds {
                    format!("builds run as uid {}", pool.build_user().0)
                } else {
                    format!(
                        "builds run as uid {} where it reaches the toolchain (see the build \
                         user row)",
                        pool.build_user().0
                    )
                }
            ),
            RunUsers::Shared { uid, why, .. } => {
                format!("student programs run as uid {uid}: {why}; builds run as the grader")
            }
        }
    }
}

impl Pool {
    /// The one user every build runs as: just below the pool. Builds do not need a uid each
    /// (the skeleton allows no build scripts or procedural macros of the student's, so no
    /// student code runs at build time), and one fixed uid lets the build cache's target
    /// directories be owned by it once.
    pub fn build_user(&self) -> (u32, u32) {
        (self.base - 1, self.base - 1)
    }

    /// Takes a free slot: blocks nobody, fails only when every slot is held.
    pub fn take(&self) -> io::Result<RunUser> {
        // Start where the last run of this process stopped, so that the slots just released
        // (whose processes the kernel may still be tearing down) are the last tried.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let start = NEXT.fetch_add(1, Ordering::Relaxed);
        for i in 0..SLOTS {
            let slot = (start + i) % SLOTS;
            let path = self.lock_dir.join(format!("slot-{slot}.lock"));
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)?;
            if let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                NEXT.store(slot + 1, Ordering::Relaxed);
                let uid = self.base + slot;
                return Ok(RunUser {
                    uid,
                    gid: uid,
                    _slot: Some(lock),
                });
            }
        }
        Err(io::Error::other(format!(
            "all {SLOTS} sandbox uids are in use (locks in {})",
            self.lock_dir.display()
        )))
    }
}

/// The pool's first uid: `$LABGRADE_UID_BASE` or [`DEFAULT_BASE`].
fn base_from_env() -> Result<u32, String> {
    match std::env::var(BASE_ENV) {
        Err(_) => Ok(DEFAULT_BASE),
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(base) if base >= 1000 && base.checked_add(SLOTS).is_some() => Ok(base),
            _ => Err(format!(
                "{BASE_ENV}={text:?} is not a uid between 1000 and {}",
                u32::MAX - SLOTS
            )),
        },
    }
}

/// Whether an id map (`/proc/self/uid_map` text: `inside outside count` per line) maps
/// `first..first + count`.
fn covers(map: &str, first: u32, count: u32) -> bool {
    map.lines().any(|line| {
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        n.len() == 3 && n[0] <= first as u64 && first as u64 + count as u64 <= n[0] + n[2]
    })
}

/// A directory for the slot locks that only root can change (anyone who could delete a lock
/// file could make two runs share a uid).
fn lock_dir() -> io::Result<PathBuf> {
    let mut last = io::Error::other("no candidate");
    for dir in LOCK_DIRS {
        match own_dir(Path::new(dir)) {
            Ok(()) => return Ok(PathBuf::from(dir)),
            Err(e) => last = e,
        }
    }
    let fallback = std::env::temp_dir().join("labgrade-uids");
    own_dir(&fallback).map_err(|e| io::Error::new(e.kind(), format!("{last}; {e}")))?;
    Ok(fallback)
}

/// Creates `dir` (0700) or checks that it is root's and not writable by others.
fn own_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(io::Error::other(format!(
            "{} is not a directory of root's that only root can write",
            dir.display()
        )));
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_map_covers_what_its_ranges_contain() {
        let host = "         0          0 4294967295\n";
        assert!(covers(host, DEFAULT_BASE, SLOTS));
        let rootless = "0 1000 1\n1 100000 65536\n";
        assert!(!covers(rootless, DEFAULT_BASE, SLOTS));
        assert!(covers(rootless, 65534, 1));
        assert!(!covers(rootless, 65537, 1));
    }

    /// A rootless container (Docker/podman maps root and a subordinate range of 65,536 ids):
    /// every run is `nobody`, and the doctor's row says why and what it costs.
    #[test]
    fn where_the_pool_is_not_mapped_every_run_is_nobody_and_the_row_says_so() {
        let rootless = "0 1000 1\n1 100000 65536\n";
        let users = RunUsers::choose(DEFAULT_BASE, rootless, rootless, || {
            panic!("no lock directory is needed for the shared user")
        })
        .unwrap();
        let RunUsers::Shared { uid, gid, .. } = &users else {
            panic!("{users:?}")
        };
        assert_eq!((*uid, *gid), NOBODY);
        let taken = users.take().unwrap();
        assert_eq!((taken.uid, taken.gid), NOBODY);
        let row = users.describe(true);
        assert!(row.contains("uid 65534"), "{row}");
        assert!(row.contains("rootless container"), "{row}");
        assert!(row.contains("RLIMIT_NPROC"), "{row}");
        // The pool mapped but not the build user just below it: no pool either.
        let no_build_user = format!("{DEFAULT_BASE} {DEFAULT_BASE} {SLOTS}\n65534 65534 1\n");
        assert!(matches!(
            RunUsers::choose(
                DEFAULT_BASE,
                &no_build_user,
                &no_build_user,
                || unreachable!()
            ),
            Ok(RunUsers::Shared { .. })
        ));
        // Neither mapped: runs are refused rather than run as root.
        let only_root = "0 0 1\n";
        assert!(RunUsers::choose(DEFAULT_BASE, only_root, only_root, || unreachable!()).is_err());
        // The host's map: the pool.
        let host = format!("0 0 {}\n", u32::MAX);
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            RunUsers::choose(DEFAULT_BASE, &host, &host, || Ok(dir.path().to_path_buf())),
            Ok(RunUsers::Pool(_))
        ));
    }

    #[test]
    fn concurrent_runs_get_different_uids_and_released_slots_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool {
            base: 2_000_000_000,
            lock_dir: dir.path().to_path_buf(),
        };
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        assert_ne!(a.uid, b.uid);
        assert!(a.uid >= pool.base && a.uid < pool.base + SLOTS);
        assert_eq!(a.gid, a.uid);
        // Another grader process on the machine sees the slots as held: a second pool over the
        // same directory (flock is per open file, so this stands for another process).
        let other = Pool {
            base: pool.base,
            lock_dir: dir.path().to_path_buf(),
        };
        let c = other.take().unwrap();
        assert!(c.uid != a.uid && c.uid != b.uid);
    }
}

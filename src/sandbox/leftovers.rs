//! What a portable run leaves in the machine's shared places: files in `/dev/shm` (POSIX
//! shared memory and semaphores), POSIX message queues (`/dev/mqueue`), and System V shared
//! memory, semaphores and message queues. An isolated run has its own mount and IPC
//! namespaces, which die with it; a portable run shares these with the machine, so they would
//! outlive the grading (memory of the machine, in `/dev/shm`'s case, that every later
//! grading pays for).
//!
//! Where the run had a uid of its own (a root grader without namespaces: Docker, Gradescope),
//! everything that uid owns there is the run's, and once every process of the run has ended
//! the grader removes it, before the uid goes back to the pool. Where runs share a uid (a
//! rootless container's `nobody`, an unprivileged grader's own user) nothing tells one run's
//! leftovers from another's or from the user's own, so they stay, and the missing mount and
//! IPC namespace rows say so.
//!
//! The places are the machine's, not the student's, but a student's entries in them are not
//! trusted: entries are examined with `lstat` (a symbolic link is removed, never followed),
//! directories removed with `remove_dir_all` (which does not follow links either), and every
//! listing is bounded.

use std::path::Path;

/// Entries of one directory examined at most: a run that made more (in the seconds of its
/// wall clock) keeps the rest, and the count says so.
const MAX_ENTRIES: usize = 100_000;

/// What was removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    /// Entries of `/dev/shm` and `/dev/mqueue`.
    pub files: u32,
    /// System V shared-memory segments, semaphore sets and message queues.
    pub ipc_objects: u32,
}

/// Removes what `uid` owns in the machine's shared places. Only for a uid that is the run's
/// alone, and only once every process of the run has ended.
pub fn remove_owned_by(uid: u32) -> Removed {
    let mut removed = Removed::default();
    for dir in ["/dev/shm", "/dev/mqueue"] {
        removed.files += remove_entries_owned_by(Path::new(dir), uid);
    }
    #[cfg(target_os = "linux")]
    {
        let objects = sysv::owned_by(uid);
        if !objects.is_empty() {
            sysv::remove_as(uid, &objects);
            let left = sysv::owned_by(uid);
            removed.ipc_objects = objects.iter().filter(|o| !left.contains(o)).count() as u32;
        }
    }
    removed
}

/// Removes the entries of `dir` (not recursing into entries of other owners) that `uid` owns.
fn remove_entries_owned_by(dir: &Path, uid: u32) -> u32 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.take(MAX_ENTRIES).flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.uid() != uid {
            continue;
        }
        let gone = if meta.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if gone.is_ok() {
            removed += 1;
        }
    }
    removed
}

/// System V IPC objects, listed by the kernel in `/proc/sysvipc/{shm,sem,msg}`.
#[cfg(target_os = "linux")]
mod sysv {
    /// A kind of object: its `/proc/sysvipc` file.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        SharedMemory,
        Semaphores,
        MessageQueues,
    }

    pub const KINDS: [Kind; 3] = [Kind::SharedMemory, Kind::Semaphores, Kind::MessageQueues];

    impl Kind {
        fn listing(self) -> &'static str {
            match self {
                Kind::SharedMemory => "/proc/sysvipc/shm",
                Kind::Semaphores => "/proc/sysvipc/sem",
                Kind::MessageQueues => "/proc/sysvipc/msg",
            }
        }
    }

    /// The objects of every kind that `uid` owns.
    pub fn owned_by(uid: u32) -> Vec<(Kind, i32)> {
        KINDS
            .into_iter()
            .flat_map(|kind| {
                let listing = std::fs::read_to_string(kind.listing()).unwrap_or_default();
                ids_owned_by(&listing, uid)
                    .into_iter()
                    .map(move |id| (kind, id))
            })
            .collect()
    }

    /// The ids in a `/proc/sysvipc` listing whose owner (`uid` column) is `uid`. The columns
    /// are found by name in the header: the id is the second column (`shmid`, `semid`,
    /// `msqid`), and the kernel has added columns over the years.
    pub fn ids_owned_by(listing: &str, uid: u32) -> Vec<i32> {
        let mut lines = listing.lines();
        let Some(header) = lines.next() else {
            return Vec::new();
        };
        let names: Vec<&str> = header.split_whitespace().collect();
        let (Some(id_at), Some(uid_at)) = (
            names
                .iter()
                .position(|n| n.ends_with("id") && *n != "uid" && *n != "gid"),
            names.iter().position(|n| *n == "uid"),
        ) else {
            return Vec::new();
        };
        lines
            .take(super::MAX_ENTRIES)
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let owner: u32 = fields.get(uid_at)?.parse().ok()?;
                let id: i32 = fields.get(id_at)?.parse().ok()?;
                (owner == uid).then_some(id)
            })
            .collect()
    }

    /// Removes one object; whether it is gone. Async-signal-safe: one system call.
    fn remove(kind: Kind, id: i32) -> bool {
        // SAFETY: IPC_RMID takes no buffer (null is allowed) or, for semaphores, no argument.
        let rc = unsafe {
            match kind {
                Kind::SharedMemory => libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()),
                Kind::Semaphores => libc::semctl(id, 0, libc::IPC_RMID),
                Kind::MessageQueues => libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            }
        };
        rc == 0
    }

    /// Removes `objects` as their owner `uid`, from a child process: only the owner, the
    /// creator or `CAP_IPC_OWNER` may remove an object, and a container's root lacks that
    /// capability (Docker does not grant it).
    pub fn remove_as(uid: u32, objects: &[(Kind, i32)]) {
        // SAFETY: the child makes only async-signal-safe system calls (setuid, the IPC_RMID
        // calls, _exit) on data prepared before the fork, and allocates nothing.
        unsafe {
            match libc::fork() {
                -1 => {}
                0 => {
                    if libc::setuid(uid) == 0 {
                        for &(kind, id) in objects {
                            remove(kind, id);
                        }
                    }
                    libc::_exit(0);
                }
                child => {
                    let mut status = 0;
                    libc::waitpid(child, &mut status, 0);
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn ids_are_found_by_the_headers_column_names() {
            let shm = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n\
                       448490206          7   600                  4096  1234  1234      0  1900000003  1900000003  1900000003  1900000003          0          0 1700000000                     0                     0\n\
                       0         8   600                  4096  1  1      0  0  0  0  0          0          0 1700000000                     0                     0\n";
            assert_eq!(ids_owned_by(shm, 1_900_000_003), [7]);
            assert_eq!(ids_owned_by(shm, 0), [8]);
            let sem = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n\
                       0      12   600          1  42  42  42  42          0 1700000000\n";
            assert_eq!(ids_owned_by(sem, 42), [12]);
            let msg = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n\
                       0      3   600          0          0     0     0  42  42  42  42          0          0 1700000000\n";
            assert_eq!(ids_owned_by(msg, 42), [3]);
            assert!(ids_owned_by("", 42).is_empty());
            assert!(ids_owned_by("garbage\n1 2 3\n", 42).is_empty());
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A uid no run takes (below the build user) and no account has.
    const STRANGER: u32 = 1_899_000_123;

    #[test]
    fn what_the_runs_uid_left_is_removed_and_nothing_else() {
        if !nix::unistd::geteuid().is_root() {
            crate::skip::skip("not root: cannot make files of another uid");
            return;
        }
        let tag = format!("labgrade-leftovers-{}", std::process::id());
        let shm = Path::new("/dev/shm");
        let file = shm.join(format!("{tag}-file"));
        let dir = shm.join(format!("{tag}-dir"));
        let link = shm.join(format!("{tag}-link"));
        let kept = shm.join(format!("{tag}-kept"));
        // The run's: a file, a directory with a file, a link to a file of someone else's
        // (removed as a link; its target stays).
        std::fs::write(&file, b"x").unwrap();
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("inner"), b"x").unwrap();
        std::os::unix::fs::symlink(&kept, &link).unwrap();
        std::fs::write(&kept, b"not the run's").unwrap();
        for path in [&file, &dir, &dir.join("inner")] {
            std::os::unix::fs::chown(path, Some(STRANGER), Some(STRANGER)).unwrap();
        }
        std::os::unix::fs::lchown(&link, Some(STRANGER), Some(STRANGER)).unwrap();
        // A System V segment of the run's.
        // SAFETY: plain System V calls; the segment is removed below whatever happens.
        let segment = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
        assert!(segment >= 0, "shmget: {}", std::io::Error::last_os_error());
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        unsafe { libc::shmctl(segment, libc::IPC_STAT, &mut ds) };
        ds.shm_perm.uid = STRANGER;
        assert_eq!(unsafe { libc::shmctl(segment, libc::IPC_SET, &mut ds) }, 0);

        let removed = remove_owned_by(STRANGER);

        let left: Vec<_> = [&file, &dir, &link]
            .into_iter()
            .filter(|p| std::fs::symlink_metadata(p).is_ok())
            .collect();
        let segment_left = sysv::owned_by(STRANGER).contains(&(sysv::Kind::SharedMemory, segment));
        let kept_there = kept.exists();
        let _ = std::fs::remove_file(&kept);
        unsafe { libc::shmctl(segment, libc::IPC_RMID, std::ptr::null_mut()) };
        assert!(left.is_empty(), "left: {left:?}");
        assert!(!segment_left, "the segment was left");
        assert!(kept_there, "the link's target, not the run's, was removed");
        assert_eq!(
            removed,
            Removed {
                files: 3,
                ipc_objects: 1
            }
        );
    }
}

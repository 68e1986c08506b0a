//! The grader's temporary directories (`labgrade-stage-…` holding a student's sources and
//! binaries, `labgrade-scratch-…`, `labgrade-reference-…`, `labgrade-warmup-…`,
//! `labgrade-git-…`, `labgrade-unpack-…` holding a student's unpacked archive, `labgrade-collect-…`
//! holding an LMS download's files grouped per student): made here, named after their owner, and swept when the owner died.
//!
//! A grader killed with SIGKILL runs no destructor, so its directories stay in the temporary
//! directory. Each name carries the owner's pid namespace (the inode of `/proc/self/ns/pid`),
//! pid and start time (field 22 of `/proc/<pid>/stat`, in clock ticks since boot):
//! `labgrade-stage-4026531836.4242.981234-XXXXXX`. A sweep removes a directory only when it
//! was made in the sweeper's own pid namespace (a grader in another container sharing `/tmp`
//! cannot be seen, so is never judged dead) and no process has that pid with that start time,
//! so a live grader's directories are never touched, even when its pid is reused later (the
//! start time differs). Names are used, not an owner file inside: a sandboxed
//! program can write in its scratch directory, not rename it. Directories of other users and
//! of the old unnamed form are left alone. Nothing here grades or prints.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tempfile::TempDir;

/// The kinds of directory the grader makes, as in their names.
pub const KINDS: [&str; 7] = [
    "stage",
    "scratch",
    "reference",
    "warmup",
    "git",
    "unpack",
    "collect",
];

/// A fresh temporary directory of `kind` (one of [`KINDS`]), named after this process.
pub fn create(kind: &str) -> io::Result<TempDir> {
    debug_assert!(KINDS.contains(&kind), "{kind}");
    static OWNER: OnceLock<Option<String>> = OnceLock::new();
    let owner = OWNER.get_or_init(|| {
        let pid = std::process::id();
        let namespace = pid_namespace();
        // Unknown, the directory gets the old unnamed form, which is never swept: a made-up
        // start time would make a live grader look dead to the next sweep.
        let start = start_time(pid).filter(|_| namespace != 0)?;
        Some(format!("{namespace}.{pid}.{start}-"))
    });
    let prefix = format!("labgrade-{kind}-{}", owner.as_deref().unwrap_or(""));
    tempfile::Builder::new().prefix(&prefix).tempdir()
}

/// The inode of this process's pid namespace (0 when unknown: then nothing is swept).
fn pid_namespace() -> u64 {
    std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino())
}

/// When process `pid` started (clock ticks after boot), if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and
/// may hold spaces and parentheses itself: fields are counted after its last `)`.
fn parse_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // Field 3 is the first after the name: field 22 is the 20th.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The owner written in a directory's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    pid_namespace: u64,
    pid: u32,
    start: u64,
}

fn owner(name: &str) -> Option<Owner> {
    let rest = name.strip_prefix("labgrade-")?;
    let rest = KINDS
        .iter()
        .find_map(|k| rest.strip_prefix(k)?.strip_prefix('-'))?;
    let (owner, _random) = rest.split_once('-')?;
    let mut parts = owner.split('.');
    let owner = Owner {
        pid_namespace: parts.next()?.parse().ok()?,
        pid: parts.next()?.parse().ok()?,
        start: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(owner)
}

/// What a sweep did.
#[derive(Debug, Default)]
pub struct Swept {
    /// Directories of dead graders, removed.
    pub removed: Vec<PathBuf>,
    /// Directories of dead graders that could not be removed, with why.
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// Removes the directories in the temporary directory whose owner is no longer running.
pub fn sweep_leftovers() -> Swept {
    sweep(&std::env::temp_dir(), pid_namespace(), &start_time)
}

/// Removes the directories in `dir` made in pid namespace `namespace` whose owner is no longer
/// running; `alive(pid)` gives the start time of a running process (tests pass their own).
fn sweep(dir: &Path, namespace: u64, alive: &dyn Fn(u32) -> Option<u64>) -> Swept {
    let mut swept = Swept::default();
    if namespace == 0 {
        return swept;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return swept;
    };
    let uid = nix::unistd::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(owner) else {
            continue;
        };
        if owner.pid_namespace != namespace || alive(owner.pid) == Some(owner.start) {
            continue;
        }
        let path = entry.path();
        // Only real directories of ours: never a link, never another user's.
        let ours = path
            .symlink_metadata()
            .is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if !ours {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => swept.removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => swept.failed.push((path, e)),
        }
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_even_after_a_name_with_parentheses() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    981234 1000 10 18446744073709551615";
        assert_eq!(parse_start_time(stat), Some(981_234));
        let own = start_time(std::process::id()).unwrap();
        assert!(own > 0);
    }

    #[test]
    fn names_carry_their_owner() {
        let o = |pid_namespace, pid, start| {
            Some(Owner {
                pid_namespace,
                pid,
                start,
            })
        };
        assert_eq!(
            owner("labgrade-stage-99.4242.981234-aBc123"),
            o(99, 4242, 981_234)
        );
        assert_eq!(owner("labgrade-scratch-5.7.1-x-y"), o(5, 7, 1));
        assert_eq!(owner("labgrade-stage-aBc123"), None, "the old form");
        assert_eq!(owner("labgrade-stage-4242.981234-aBc123"), None);
        assert_eq!(owner("labgrade-cache"), None);
        assert_eq!(owner("labgrade-other-1.1.2-x"), None);
        let made = create("stage").unwrap();
        let name = made.path().file_name().unwrap().to_str().unwrap();
        let me = std::process::id();
        assert_eq!(owner(name), o(pid_namespace(), me, start_time(me).unwrap()));
    }

    #[test]
    fn only_dead_owners_directories_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let p = tmp.path().join(name);
            std::fs::create_dir_all(p.join("src/bin")).unwrap();
            std::fs::write(p.join("src/bin/counter.rs"), "fn main() {}").unwrap();
            p
        };
        let live = make("labgrade-stage-7.10.500-aaaaaa");
        let dead = make("labgrade-stage-7.11.600-bbbbbb");
        let reused = make("labgrade-scratch-7.10.400-cccccc");
        let other_namespace = make("labgrade-stage-8.11.600-eeeeee");
        let old_form = make("labgrade-stage-dddddd");
        let other = make("not-labgrade-7.12.1-x");
        let target = make("elsewhere");
        std::os::unix::fs::symlink(&target, tmp.path().join("labgrade-stage-7.13.1-link")).unwrap();
        // In namespace 7, pid 10 runs, started at 500; pid 11 and 13 do not.
        let alive = |pid: u32| (pid == 10).then_some(500);
        let swept = sweep(tmp.path(), 7, &alive);
        let mut removed = swept.removed.clone();
        removed.sort();
        assert_eq!(removed, [reused.clone(), dead.clone()]);
        assert!(swept.failed.is_empty(), "{:?}", swept.failed);
        assert!(live.exists() && old_form.exists() && other.exists());
        assert!(
            other_namespace.exists(),
            "its owner cannot be seen from here"
        );
        assert!(
            target.join("src/bin/counter.rs").exists(),
            "a link is not followed"
        );
        assert!(!dead.exists() && !reused.exists());
    }
}

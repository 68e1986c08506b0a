//! The dependency cache: fetched once, compiled once per worker target directory, reused.
//!
//! Every submission is built against the same skeleton, so `libc` and `nix` are fetched once
//! into the grader's own registry ([`cargo_home`](super::cargo_home), outside any sandbox: it is
//! the course's code and may need the network) and compiled once into each worker's target
//! directory by a warm-up build. A submission's build then compiles only the student's crate. Each target directory is used by one build at a time
//! (an advisory lock every labgrade process honours), and what a submission adds to it is removed
//! afterwards so a batch of hundreds does not fill the disk.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};

use super::{cargo_home, Profile};
use crate::stage::Skeleton;

/// Where compiled dependencies live, per skeleton.
#[derive(Debug, Clone)]
pub struct BuildCache {
    root: PathBuf,
    skeleton: Skeleton,
}

/// Errors of the grader's own set-up (not the student's fault).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "could not fetch the course dependencies (cargo fetch failed): {0}\n\
         The first grading needs crates.io once; later ones work offline."
    )]
    Fetch(String),
    #[error("could not compile the course dependencies: {0}")]
    WarmUp(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A worker's target directory, locked for the lifetime of this value.
pub struct TargetLease {
    pub dir: PathBuf,
    _lock: Flock<File>,
}

impl BuildCache {
    /// The cache at `$LABGRADE_CACHE_DIR`, else `$XDG_CACHE_HOME/labgrade`, else
    /// `~/.cache/labgrade`, else the temporary directory.
    pub fn default_location(skeleton: Skeleton) -> Self {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = env("LABGRADE_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("labgrade")))
            .or_else(|| env("HOME").map(|p| p.join(".cache/labgrade")))
            .unwrap_or_else(|| std::env::temp_dir().join("labgrade-cache"));
        // Builds run in the staged directory: a relative `LABGRADE_CACHE_DIR` would point cargo
        // at a registry that is not there.
        let root = std::path::absolute(&root).unwrap_or(root);
        Self::at(root, skeleton)
    }

    /// A cache rooted at `root`.
    pub fn at(root: PathBuf, skeleton: Skeleton) -> Self {
        BuildCache { root, skeleton }
    }

    /// The machine's timing lanes, `width` cores each, whose lock files live at the cache's
    /// root (shared by every labgrade process that uses this cache).
    pub fn lane(&self, width: usize) -> io::Result<crate::lane::Lane> {
        crate::lane::Lane::in_dir(&self.root, width)
    }

    /// The skeleton this cache compiles dependencies for.
    pub fn skeleton(&self) -> &Skeleton {
        &self.skeleton
    }

    /// The cache's root directory (every skeleton's and the shared registry's parent).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self) -> PathBuf {
        self.root.join(self.skeleton.fingerprint())
    }

    /// Whether worker `worker`'s target directory holds the compiled dependencies: when not,
    /// the next [`lease`](Self::lease) fetches and compiles them (a first grading's long
    /// wait). Read without the lock: a hint for progress displays, never a decision.
    pub fn is_warm(&self, worker: usize) -> bool {
        let dir = self.dir().join(format!("target-{worker}"));
        dir.join(".labgrade-ready").exists() && cargo_home::lease_home(&dir).exists()
    }

    /// Locks worker `worker`'s target directory, preparing it (fetch + warm-up build) the first
    /// time. Blocks while another labgrade process builds in it.
    pub fn lease(&self, worker: usize) -> Result<TargetLease, CacheError> {
        let dir = self.dir().join(format!("target-{worker}"));
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join(".labgrade.lock");
        let file = File::create(&lock_path).map_err(io_err(&lock_path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| CacheError::Io {
                path: lock_path.clone(),
                source: errno.into(),
            })?;
        let lease = TargetLease { dir, _lock: lock };
        let ready = lease.dir.join(".labgrade-ready");
        if !cargo_home::lease_home(&lease.dir).exists() {
            // Warmed up by a grader that built with the user's cargo home: the dependencies'
            // sources now live elsewhere, so compile them again.
            forget_warm_ups(&lease.dir);
        }
        if !ready.exists() {
            self.warm_up(&lease.dir, Profile::Release)?;
            fs::write(&ready, b"").map_err(io_err(&ready))?;
        }
        // Builds may run as a user of their own: the directory must be theirs, whoever wrote
        // it before (the warm-up runs as the grader; a cache may predate the build user).
        give_to_build_user(&lease.dir)?;
        Ok(lease)
    }

    /// Compiles the dependencies in `profile` too, the first time a build in `lease` needs
    /// them (the release ones are compiled by [`lease`](Self::lease)). Only specs with a
    /// calibrated race test pay for the unoptimised dependencies.
    pub(super) fn warm_profile(
        &self,
        lease: &TargetLease,
        profile: Profile,
    ) -> Result<(), CacheError> {
        let ready = lease
            .dir
            .join(format!(".labgrade-ready-{}", profile.name()));
        if !ready.exists() {
            self.warm_up(&lease.dir, profile)?;
            fs::write(&ready, b"").map_err(io_err(&ready))?;
            give_to_build_user(&lease.dir)?;
        }
        Ok(())
    }

    /// The cargo home of the builds in `lease` and the shared registry it points to (both made
    /// the first time).
    pub(super) fn cargo_home(&self, lease: &TargetLease) -> Result<(PathBuf, PathBuf), CacheError> {
        let registry = cargo_home::populate(&self.root, &self.skeleton)?;
        let home = cargo_home::prepare_lease_home(&lease.dir, &registry)?;
        Ok((home, registry))
    }

    /// Compiles the dependencies into `target` in `profile`, with the cargo home its builds use
    /// (filling the shared registry first: the network, at most once).
    fn warm_up(&self, target: &Path, profile: Profile) -> Result<(), CacheError> {
        let registry = cargo_home::populate(&self.root, &self.skeleton)?;
        let home = cargo_home::prepare_lease_home(target, &registry)?;
        let pkg = crate::tempdirs::create("warmup").map_err(io_err(&self.root))?;
        self.skeleton
            .write_into(pkg.path())
            .map_err(io_err(pkg.path()))?;
        let bin = pkg.path().join("src/bin");
        fs::create_dir_all(&bin).map_err(io_err(&bin))?;
        fs::write(bin.join("labgrade_warmup.rs"), "fn main() {}\n").map_err(io_err(&bin))?;
        let manifest = pkg.path().join("Cargo.toml");
        let run = |args: &[&str]| -> Result<(), String> {
            let out = Command::new(super::cargo_program())
                .args(args)
                .arg("--manifest-path")
                .arg(&manifest)
                .env("CARGO_TARGET_DIR", target)
                .env("CARGO_HOME", &home)
                .env("CARGO_TERM_COLOR", "never")
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                let err = String::from_utf8_lossy(&out.stderr);
                Err(err
                    .lines()
                    .rev()
                    .take(8)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
        };
        let build = [
            "build",
            "--profile",
            profile.name(),
            "--offline",
            "--locked",
        ];
        run(&build).map_err(CacheError::WarmUp)?;
        // The warm-up binary itself is not a dependency: drop it like a submission's output.
        let _ = fs::remove_file(target.join(profile.name()).join("labgrade_warmup"));
        Ok(())
    }
}

/// Makes `dir` and everything in it the build user's ([`crate::sandbox::build_user`]), where
/// builds do not run as the grader; only what someone else owns is changed, so a directory
/// already the build user's costs one walk.
fn give_to_build_user(dir: &Path) -> Result<(), CacheError> {
    match crate::sandbox::build_user() {
        Some((uid, gid)) => chown_tree(dir, uid, gid).map_err(io_err(dir)),
        None => Ok(()),
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(path)?;
    if meta.uid() != uid || meta.gid() != gid {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Forgets that `target`'s dependencies were compiled, in every profile.
fn forget_warm_ups(target: &Path) {
    for profile in [Profile::Release, Profile::Probe] {
        let _ = fs::remove_file(target.join(format!(".labgrade-ready-{}", profile.name())));
    }
    let _ = fs::remove_file(target.join(".labgrade-ready"));
}

/// Entries of the directories a build writes into, to find what one build added.
pub(super) fn snapshot(target: &Path) -> BTreeSet<PathBuf> {
    let mut seen = BTreeSet::new();
    for profile in [Profile::Release, Profile::Probe] {
        let dir = target.join(profile.name());
        for sub in ["deps", ".fingerprint", "build", ""] {
            if let Ok(entries) = fs::read_dir(dir.join(sub)) {
                seen.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    seen
}

/// Removes what a submission's build added to the shared target directory.
pub(super) fn purge_new(target: &Path, before: &BTreeSet<PathBuf>) {
    for path in snapshot(target).difference(before) {
        let _ = if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_directory_is_warm_once_prepared_with_its_cargo_home() {
        let root = tempfile::tempdir().unwrap();
        let cache = BuildCache::at(root.path().to_path_buf(), Skeleton::builtin());
        assert!(
            !cache.is_warm(0),
            "a new cache must fetch and compile first"
        );
        let target = cache.dir().join("target-0");
        fs::create_dir_all(target.join(".cargo-home")).unwrap();
        assert!(!cache.is_warm(0), "not compiled yet");
        fs::write(target.join(".labgrade-ready"), b"").unwrap();
        assert!(cache.is_warm(0));
        assert!(!cache.is_warm(1), "each worker's directory is its own");
    }
}

//! The file system a sandboxed process sees: a fresh root holding only the system directories
//! (read-only), a handful of `/etc` files, a few device nodes, fresh tmpfs scratch directories,
//! and the paths its job names. Home directories, other submissions, the course's specs (hidden
//! tests included) and the grader's results are simply not there, at run time and at compile
//! time (`include_str!("/etc/shadow")`, `#[path = "…"] mod` read through rustc).
//!
//! Runs inside the init's mount namespace, before the program starts; nothing here touches the
//! host's mounts.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde::{Deserialize, Serialize};

/// A host path made visible inside the sandbox at the same place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visible {
    pub path: PathBuf,
    pub writable: bool,
}

impl Visible {
    /// `path`, read-only.
    pub fn read_only(path: &Path) -> Self {
        Visible {
            path: path.to_path_buf(),
            writable: false,
        }
    }

    /// `path`, writable.
    pub fn writable(path: &Path) -> Self {
        Visible {
            path: path.to_path_buf(),
            writable: true,
        }
    }
}

/// System directories, read-only (a symlink on merged-/usr systems is recreated as one).
pub(super) const SYSTEM: [&str; 7] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];
/// What of `/etc` compilers and programs need (the dynamic loader's cache, users for `id`,
/// `alternatives` for `cc`); never `shadow` or keys.
pub(super) const ETC: [&str; 9] = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/hosts",
];
pub(super) const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];
/// World-writable directories: each gets a fresh tmpfs, so nothing written there outlives the run.
pub(super) const SCRATCH: [&str; 4] = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];

/// Builds the view and makes it the root. `keep` are opened before anything is mounted, so paths
/// under `/tmp` (staging directories) survive the tmpfs that hides the host's `/tmp`.
#[cfg(target_os = "linux")]
pub fn enter(keep: &[Visible]) -> Result<(), String> {
    let none: Option<&str> = None;
    if keep.iter().any(|v| v.path.parent().is_none()) {
        return Err("the host's root directory cannot be made visible inside the sandbox".into());
    }
    let opened: Vec<(&Visible, File)> = keep
        .iter()
        .map(|v| File::open(&v.path).map(|f| (v, f)))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("opening a path to keep visible: {e}"))?;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| format!("making / private: {e}"))?;
    // The new root is built on a tmpfs of its own, mounted over the host's /tmp (invisible
    // outside this namespace, gone with it).
    tmpfs("/tmp")?;
    let root = Path::new("/tmp/root");
    mkdir(root)?;
    tmpfs(root)?;
    for dir in SYSTEM {
        replicate(root, Path::new(dir), false)?;
    }
    for file in ETC {
        replicate(root, Path::new(file), false)?;
    }
    for dev in DEVICES {
        replicate(root, Path::new(dev), true)?;
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
    ] {
        let _ = std::os::unix::fs::symlink(target, inside(root, Path::new(link)));
    }
    for (link, target) in [
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(target, inside(root, Path::new(link)));
    }
    for dir in SCRATCH {
        let at = inside(root, Path::new(dir));
        mkdir(&at)?;
        tmpfs(&at)?;
    }
    mkdir(&inside(root, Path::new("/proc")))?;
    let mut bound: Vec<&Path> = SYSTEM.iter().map(Path::new).collect();
    let mut opened = opened;
    opened.sort_by_key(|(v, _)| v.path.components().count());
    for (v, file) in &opened {
        // Already visible through a system directory (`/bin/sh`) or an enclosing kept path.
        if bound.iter().any(|d| v.path.starts_with(d)) {
            continue;
        }
        bound.push(&v.path);
        let at = inside(root, &v.path);
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            mkdir(&at)?;
        } else {
            touch(&at)?;
        }
        bind(
            &format!("/proc/self/fd/{}", file.as_raw_fd()),
            &at,
            !v.writable,
        )?;
    }
    // The namespace's own /proc, mounted while the host's is still visible: in a user
    // namespace the kernel allows a new proc mount only where one is already fully visible.
    mount(
        Some("proc"),
        &inside(root, Path::new("/proc")),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        none,
    )
    .map_err(|e| format!("mounting /proc: {e}"))?;
    pivot(root)
}

/// `path` under `root`.
#[cfg(target_os = "linux")]
fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Recreates host `path` inside `root`: a symlink as a symlink, a directory or file as a
/// bind mount (read-only unless `writable`). Missing paths are skipped.
#[cfg(target_os = "linux")]
fn replicate(root: &Path, path: &Path, writable: bool) -> Result<(), String> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    let at = inside(root, path);
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(parent) = at.parent() {
            mkdir(parent)?;
        }
        return std::os::unix::fs::symlink(target, &at)
            .map_err(|e| format!("{}: {e}", at.display()));
    }
    if meta.is_dir() {
        mkdir(&at)?;
    } else {
        touch(&at)?;
    }
    bind(&path.to_string_lossy(), &at, !writable)
}

#[cfg(target_os = "linux")]
fn bind(source: &str, at: &Path, read_only: bool) -> Result<(), String> {
    let none: Option<&str> = None;
    mount(
        Some(source),
        at,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .map_err(|e| format!("binding {}: {e}", at.display()))?;
    if read_only {
        let flags =
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID;
        mount(none, at, none, flags, none)
            .map_err(|e| format!("making {} read-only: {e}", at.display()))?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn tmpfs(at: impl AsRef<Path>) -> Result<(), String> {
    let at = at.as_ref();
    mount(
        Some("tmpfs"),
        at,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=64m,mode=1777"),
    )
    .map_err(|e| format!("mounting a tmpfs on {}: {e}", at.display()))
}

#[cfg(target_os = "linux")]
fn mkdir(at: &Path) -> Result<(), String> {
    fs::create_dir_all(at).map_err(|e| format!("creating {}: {e}", at.display()))
}

#[cfg(target_os = "linux")]
fn touch(at: &Path) -> Result<(), String> {
    if let Some(parent) = at.parent() {
        mkdir(parent)?;
    }
    File::create(at)
        .map(drop)
        .map_err(|e| format!("creating {}: {e}", at.display()))
}

/// Makes `root` the root directory and drops the host's.
#[cfg(target_os = "linux")]
fn pivot(root: &Path) -> Result<(), String> {
    let old = root.join(".host");
    mkdir(&old)?;
    nix::unistd::pivot_root(root, &old).map_err(|e| format!("pivot_root: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| format!("chdir /: {e}"))?;
    umount2("/.host", MntFlags::MNT_DETACH).map_err(|e| format!("detaching the host root: {e}"))?;
    let _ = fs::remove_dir("/.host");
    // The root tmpfs itself holds only mount points now; make it read-only too.
    let none: Option<&str> = None;
    let _ = mount(
        none,
        "/",
        none,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        none,
    );
    Ok(())
}

/// The minimal view needs Linux's mount namespaces; the sandbox never asks for it elsewhere.
#[cfg(not(target_os = "linux"))]
pub fn enter(_keep: &[Visible]) -> Result<(), String> {
    Err("a minimal file system view needs Linux mount namespaces".into())
}

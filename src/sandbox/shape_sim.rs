//! The machine-shape simulator: `labgrade __shape <container|unprivileged|unprivileged-userns>
//! [--uid N] [--toolchain-reachable] -- CMD...`
//! runs CMD as if labgrade had been started on a weaker machine than a root shell with
//! namespaces, so that the tests (`tests/shapes.rs`) and a TA can see what grading does there.
//!
//! Started as root, it takes away what the shape lacks, then execs CMD:
//! - both shapes: a private mount namespace in which every cgroup mount under `/sys/fs/cgroup`
//!   is read-only (Docker mounts it so), and a seccomp filter like Docker's default profile for
//!   a container without `CAP_SYS_ADMIN` ([`program`]: no new namespaces, no mounts);
//! - `container`: stays uid 0 with only Docker's default capabilities ([`DOCKER_CAPS`]);
//! - `unprivileged`: becomes uid/gid N (default 1000) with no capabilities. Its filter refuses
//!   user namespaces too, so this is also the shape "user namespaces refused" (Ubuntu 23.10+'s
//!   `kernel.apparmor_restrict_unprivileged_userns=1`).
//! - `unprivileged-userns`: uid/gid N as above, but without the filter: user namespaces are
//!   allowed (where this kernel allows them), as on most laptops.
//!
//! With `--toolchain-reachable` the container's `/root` is covered like the unprivileged
//! shapes' (the toolchain read-only, reachable by every user), as in an image whose toolchain
//! is installed under `/usr/local`.
//!
//! With `--refuse-ptrace` the filter refuses `ptrace` too (Docker's profile on a kernel older
//! than 4.8, Yama's `ptrace_scope` = 3 alike): the shape where no process audit can run.
//!
//! The filter is installed while the process is still privileged, so `no_new_privs` is not set
//! (Docker does not set it either, and the grader must cope without it).
//!
//! It owns only the simulation; it must not be used by grading itself, and it changes nothing
//! outside its own mount namespace.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;

/// A machine shape the simulator can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimShape {
    /// Root in a Docker/Gradescope container without namespace privileges.
    Container,
    /// An ordinary user whose kernel refuses it user namespaces.
    Unprivileged,
    /// An ordinary user whose kernel allows unprivileged user namespaces (a laptop, most
    /// desktop distributions): no seccomp filter of the machine's, no capabilities.
    UnprivilegedWithUserNamespaces,
}

/// The capabilities Docker leaves a container by default (moby's `oci/caps/defaults.go`);
/// every other one is dropped.
pub const DOCKER_CAPS: &[u32] = &[
    0,  // CAP_CHOWN
    1,  // CAP_DAC_OVERRIDE
    3,  // CAP_FOWNER
    4,  // CAP_FSETID
    5,  // CAP_KILL
    6,  // CAP_SETGID
    7,  // CAP_SETUID
    8,  // CAP_SETPCAP
    10, // CAP_NET_BIND_SERVICE
    13, // CAP_NET_RAW
    18, // CAP_SYS_CHROOT
    27, // CAP_MKNOD
    29, // CAP_AUDIT_WRITE
    31, // CAP_SETFCAP
];

/// The `CapEff` a process has under [`DOCKER_CAPS`] (`0xa80425fb`, as `docker run` shows).
pub fn docker_cap_mask() -> u64 {
    DOCKER_CAPS.iter().fold(0, |m, c| m | (1u64 << c))
}

/// Why the simulation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(
        "the shape simulator must start as root (it takes privileges away, it cannot add them)"
    )]
    NotRoot,
    #[error("{what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("the unprivileged shape needs a uid other than 0 (uid 0 keeps its capabilities)")]
    RootUid,
    #[error("seccomp filters exist here only on Linux x86_64 and aarch64")]
    Unsupported,
}

fn sys(what: impl fmt::Display) -> impl FnOnce(io::Error) -> SimError {
    let what = what.to_string();
    move |source| SimError::Sys { what, source }
}

fn check(rc: libc::c_int, what: impl fmt::Display) -> Result<(), SimError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(sys(what)(io::Error::last_os_error()))
    }
}

/// Enters `shape` and execs `command`; returns only on failure.
pub fn enter(shape: SimShape, uid: u32, refuse_ptrace: bool, command: &[OsString]) -> SimError {
    enter_with(shape, uid, refuse_ptrace, false, command)
}

/// [`enter`]; with `toolchain_reachable`, the `container` shape's `/root` is covered as the
/// unprivileged shapes' is ([`toolchain_reachable`]), so that its toolchain is one every user
/// can run: a container whose toolchain is installed world-readable (under `/usr/local`).
pub fn enter_with(
    shape: SimShape,
    uid: u32,
    refuse_ptrace: bool,
    toolchain_reachable: bool,
    command: &[OsString],
) -> SimError {
    match prepare(shape, uid, refuse_ptrace, toolchain_reachable) {
        Ok(()) => {
            let err = std::process::Command::new(&command[0])
                .args(&command[1..])
                .exec();
            sys(format!("executing {}", command[0].to_string_lossy()))(err)
        }
        Err(e) => e,
    }
}

fn prepare(
    shape: SimShape,
    uid: u32,
    refuse_ptrace: bool,
    reachable: bool,
) -> Result<(), SimError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(SimError::NotRoot);
    }
    if shape != SimShape::Container && uid == 0 {
        return Err(SimError::RootUid);
    }
    // SAFETY: plain syscalls without pointers, or with valid C strings.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS), "unshare(CLONE_NEWNS)")?;
        check(
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            "making mounts private",
        )?;
    }
    cgroups_read_only()?;
    match shape {
        SimShape::Container if reachable => toolchain_reachable(u32::MAX)?,
        SimShape::Container => {}
        SimShape::Unprivileged | SimShape::UnprivilegedWithUserNamespaces => {
            toolchain_reachable(uid)?
        }
    }
    // A laptop's kernel filters nothing: only the Docker-like shapes get the filter.
    if shape != SimShape::UnprivilegedWithUserNamespaces {
        install_filter(refuse_ptrace)?;
    }
    match shape {
        SimShape::Container => docker_capabilities(),
        SimShape::Unprivileged | SimShape::UnprivilegedWithUserNamespaces => become_user(uid),
    }
}

/// Every cgroup mount (and the tmpfs holding v1's) read-only in this namespace, as in Docker.
fn cgroups_read_only() -> Result<(), SimError> {
    let info =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(sys("/proc/self/mountinfo"))?;
    for (point, flags) in cgroup_mounts(&info) {
        let c = std::ffi::CString::new(point.clone()).expect("no NUL in mountinfo");
        // SAFETY: valid C strings; a bind remount changes only this mount, in this namespace.
        check(
            unsafe {
                libc::mount(
                    std::ptr::null(),
                    c.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | flags,
                    std::ptr::null(),
                )
            },
            format!("remounting {point} read-only"),
        )?;
    }
    Ok(())
}

/// The mount points under `/sys/fs/cgroup` in `mountinfo`, with the per-mount flags a bind
/// remount must keep (the kernel refuses to clear nosuid/nodev/noexec it locked).
fn cgroup_mounts(mountinfo: &str) -> Vec<(String, libc::c_ulong)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (point, options) = (*fields.get(4)?, *fields.get(5)?);
            let under = point == "/sys/fs/cgroup" || point.starts_with("/sys/fs/cgroup/");
            under.then(|| {
                let flags = options.split(',').fold(0, |f, o| match o {
                    "nosuid" => f | libc::MS_NOSUID,
                    "nodev" => f | libc::MS_NODEV,
                    "noexec" => f | libc::MS_NOEXEC,
                    "relatime" => f | libc::MS_RELATIME,
                    "noatime" => f | libc::MS_NOATIME,
                    _ => f,
                });
                (point.to_string(), flags)
            })
        })
        .collect()
}

/// The toolchain of a root-installed rustup lives in `/root` (mode 700), which another uid
/// cannot enter. A real unprivileged TA has a toolchain of their own; to give the simulated
/// one the same, `/root` is covered (in this namespace only) by an empty world-readable tmpfs
/// into which `/root/.cargo` and `/root/.rustup` come back read-only. Nothing else of root's
/// home is reachable, as for a real other user. Cargo works with a read-only `CARGO_HOME`.
fn toolchain_reachable(uid: u32) -> Result<(), SimError> {
    use std::os::unix::fs::MetadataExt;
    let home = Path::new("/root");
    let Ok(meta) = std::fs::metadata(home) else {
        return Ok(());
    };
    if meta.uid() == uid || meta.mode() & 0o001 != 0 {
        return Ok(());
    }
    let keep: Vec<(&str, OwnedFd)> = [".cargo", ".rustup"]
        .into_iter()
        .filter_map(|name| {
            let fd = nix::fcntl::open(
                &home.join(name),
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()?;
            Some((name, fd))
        })
        .collect();
    // SAFETY: valid C strings.
    check(
        unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                c"/root".as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                c"mode=0755".as_ptr().cast(),
            )
        },
        "mounting a tmpfs over /root",
    )?;
    for (name, fd) in keep {
        let target = home.join(name);
        std::fs::create_dir(&target).map_err(sys(format!("creating {}", target.display())))?;
        let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
        bind_read_only(&source, &target.to_string_lossy())?;
    }
    Ok(())
}

fn bind_read_only(source: &str, target: &str) -> Result<(), SimError> {
    let (s, t) = (
        std::ffi::CString::new(source).expect("no NUL"),
        std::ffi::CString::new(target).expect("no NUL"),
    );
    // SAFETY: valid C strings.
    unsafe {
        check(
            libc::mount(
                s.as_ptr(),
                t.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ),
            format!("binding {target}"),
        )?;
        check(
            libc::mount(
                std::ptr::null(),
                t.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                std::ptr::null(),
            ),
            format!("making {target} read-only"),
        )
    }
}

/// Docker's capabilities: the others leave the bounding set (so no exec brings them back) and
/// the effective, permitted and inheritable sets (runc leaves inheritable empty); ambient
/// ones are cleared. The process stays uid 0.
fn docker_capabilities() -> Result<(), SimError> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    let keep = docker_cap_mask();
    for cap in 0..=last {
        if keep & (1 << cap) == 0 {
            // SAFETY: plain prctl.
            check(
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) },
                format!("dropping capability {cap} from the bounding set"),
            )?;
        }
    }
    // SAFETY: plain prctl.
    check(
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        },
        "clearing ambient capabilities",
    )?;
    set_capabilities(keep, keep, 0)
}

/// `capset(2)` with version 3 (64-bit sets in two 32-bit halves).
fn set_capabilities(effective: u64, permitted: u64, inheritable: u64) -> Result<(), SimError> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let half = |shift: u32| Data {
        effective: (effective >> shift) as u32,
        permitted: (permitted >> shift) as u32,
        inheritable: (inheritable >> shift) as u32,
    };
    let data = [half(0), half(32)];
    // SAFETY: a version-3 header and two data structs, as capset(2) documents.
    check(
        unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) as libc::c_int },
        "capset",
    )
}

/// uid/gid `uid`, no supplementary groups; the kernel clears every capability when no uid is
/// 0 any more.
fn become_user(uid: u32) -> Result<(), SimError> {
    // SAFETY: plain syscalls.
    unsafe {
        check(libc::setgroups(0, std::ptr::null()), "setgroups")?;
        check(libc::setresgid(uid, uid, uid), format!("setresgid({uid})"))?;
        check(libc::setresuid(uid, uid, uid), format!("setresuid({uid})"))?;
        check(
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            ),
            "clearing ambient capabilities",
        )
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod filter {
    /// What Docker's default profile refuses a container without `CAP_SYS_ADMIN` that matters
    /// to the sandbox: namespaces and mounts (the new mount API included).
    pub const EPERM: &[libc::c_long] = &[
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_fspick,
        libc::SYS_fsconfig,
        libc::SYS_mount_setattr,
    ];

    /// `clone` flags that make a namespace (Docker's mask `0x7E020000`).
    pub const CLONE_NEW: u32 = (libc::CLONE_NEWNS
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET) as u32;

    /// The BPF program, built like the sandbox's own ([`crate::sandbox::seccomp::Filter`]).
    /// `clone3` gets `ENOSYS`, as from Docker: its flags sit in memory a filter cannot read, so
    /// libc falls back to `clone`, whose flags are checked. With `refuse_ptrace`, `ptrace` gets
    /// `EPERM` too.
    pub fn program(refuse_ptrace: bool) -> Vec<libc::sock_filter> {
        let mut f = crate::sandbox::seccomp::Filter::for_this_arch();
        for nr in EPERM {
            f.refuse(*nr, libc::EPERM);
        }
        if refuse_ptrace {
            f.refuse(libc::SYS_ptrace, libc::EPERM);
        }
        f.finish(CLONE_NEW)
    }
}

/// Installs the Docker-like filter without `no_new_privs`: allowed because the process still
/// has `CAP_SYS_ADMIN` here.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn install_filter(refuse_ptrace: bool) -> Result<(), SimError> {
    crate::sandbox::seccomp::install_without_no_new_privs(&filter::program(refuse_ptrace))
        .map_err(sys("installing the seccomp filter"))
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn install_filter(_refuse_ptrace: bool) -> Result<(), SimError> {
    Err(SimError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docker_capabilities_are_dockers_default_mask() {
        assert_eq!(docker_cap_mask(), 0xa804_25fb);
    }

    #[test]
    fn cgroup_mounts_are_found_with_the_flags_to_keep() {
        let info = "\
24 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,pids
32 24 0:28 / /sys/fs/cgroupfoo rw - tmpfs tmpfs rw
";
        let found = cgroup_mounts(info);
        let points: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(points, ["/sys/fs/cgroup", "/sys/fs/cgroup/pids"]);
        assert_eq!(
            found[1].1,
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RELATIME
        );
    }

    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    #[test]
    fn the_filter_has_one_rule_per_refused_call() {
        // Arch check and load (4), 2 per EPERM call, 2 for clone3, 4 for clone, final allow.
        assert_eq!(
            filter::program(false).len(),
            4 + 2 * filter::EPERM.len() + 2 + 4 + 1
        );
        assert_eq!(
            filter::program(true).len(),
            filter::program(false).len() + 2
        );
        assert_eq!(filter::CLONE_NEW, 0x7e02_0000);
    }
}

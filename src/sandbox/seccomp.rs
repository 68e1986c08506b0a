//! A seccomp filter for everything the sandbox starts (student programs and builds, on every
//! path: isolated, build and portable). The system calls no Lab 10 program needs and an attacker
//! wants fail with `EPERM`:
//!
//! - tracing or reading other processes (`ptrace`, `process_vm_readv`/`writev`);
//! - new namespaces: `unshare`, `setns`, and `clone` with any `CLONE_NEW*` flag (the low 32
//!   bits of its first argument are checked); `clone3` fails with `ENOSYS` instead, because its
//!   flags live in memory a filter cannot read, and glibc then falls back to `clone`;
//! - mounts, the old API (`mount`, `umount2`, `pivot_root`) and the new one (`fsopen`,
//!   `fsconfig`, `fsmount`, `fspick`, `move_mount`, `open_tree`, `open_tree_attr`,
//!   `mount_setattr`);
//! - `io_uring_setup`/`enter`/`register` (io_uring performs system calls the filter never sees);
//! - `socket()` of every family: Landlock does not cover connecting to a pathname UNIX socket
//!   (a Docker socket, the session bus), and no Lab 10 program needs one. `socketpair` stays
//!   allowed: a pair of connected sockets is IPC between the program's own processes;
//! - loading kernel code or changing the machine (`init_module`, `kexec_load`, `reboot`, swap,
//!   `acct`), kernel keyrings, BPF, performance counters, `userfaultfd`, `open_by_handle_at`;
//! - `sched_setaffinity`: a run started from a timing lane is pinned to the lane's cores
//!   (`src/lane/pin.rs`), and must not spread to the cores other measurements run on;
//! - on x86_64, every call through the x32 ABI (numbers with bit 30 set), which would otherwise
//!   reach the same kernel functions under numbers this list does not name.
//!
//! A call from another architecture (i386 through `int 0x80`) kills the process. Everything
//! else is allowed: an allow-list would break honest programs (Rust's runtime, nix, libc) in
//! ways students could not understand.
//!
//! What it does not cover: what the other layers own (files and TCP: Landlock; signals: Landlock
//! and the PID namespace; resources: rlimits and the cgroup).
//!
//! Installed in the forked child just before `execve`, after the limits and the user change,
//! with `no_new_privs` set (so a set-uid binary cannot regain privileges). [`program`] allocates
//! and runs before `fork`; [`install`] is two `prctl` calls, safe between `fork` and `exec`.

/// Whether this architecture has a filter.
pub const SUPPORTED: bool = cfg!(all(
    target_os = "linux",
    target_endian = "little",
    any(target_arch = "x86_64", target_arch = "aarch64")
));

#[cfg(all(
    target_os = "linux",
    target_endian = "little",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::io;

    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7;

    /// `open_tree_attr` (Linux 6.15): not in libc yet; the same number on x86_64 and aarch64
    /// (both use the generic table from 424 on).
    const SYS_OPEN_TREE_ATTR: libc::c_long = 467;

    /// The x32 ABI's bit in a system call number (x86_64 only).
    #[cfg(target_arch = "x86_64")]
    pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

    /// Every namespace flag `clone` accepts (`CLONE_NEWTIME` only works through `clone3` and
    /// `unshare`, and its bit in `clone`'s low byte is the exit signal's, never above 64: it is
    /// listed anyway, no honest call sets it).
    pub const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWTIME) as u32;

    /// The system calls that fail with `EPERM` whatever their arguments.
    pub const DENIED: &[(&str, libc::c_long)] = &[
        ("ptrace", libc::SYS_ptrace),
        ("process_vm_readv", libc::SYS_process_vm_readv),
        ("process_vm_writev", libc::SYS_process_vm_writev),
        ("unshare", libc::SYS_unshare),
        ("setns", libc::SYS_setns),
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("pivot_root", libc::SYS_pivot_root),
        ("fsopen", libc::SYS_fsopen),
        ("fsconfig", libc::SYS_fsconfig),
        ("fsmount", libc::SYS_fsmount),
        ("fspick", libc::SYS_fspick),
        ("move_mount", libc::SYS_move_mount),
        ("open_tree", libc::SYS_open_tree),
        ("open_tree_attr", SYS_OPEN_TREE_ATTR),
        ("mount_setattr", libc::SYS_mount_setattr),
        ("io_uring_setup", libc::SYS_io_uring_setup),
        ("io_uring_enter", libc::SYS_io_uring_enter),
        ("io_uring_register", libc::SYS_io_uring_register),
        ("socket", libc::SYS_socket),
        ("keyctl", libc::SYS_keyctl),
        ("add_key", libc::SYS_add_key),
        ("request_key", libc::SYS_request_key),
        ("bpf", libc::SYS_bpf),
        ("perf_event_open", libc::SYS_perf_event_open),
        ("userfaultfd", libc::SYS_userfaultfd),
        ("kexec_load", libc::SYS_kexec_load),
        ("init_module", libc::SYS_init_module),
        ("finit_module", libc::SYS_finit_module),
        ("delete_module", libc::SYS_delete_module),
        ("reboot", libc::SYS_reboot),
        ("swapon", libc::SYS_swapon),
        ("swapoff", libc::SYS_swapoff),
        ("acct", libc::SYS_acct),
        ("open_by_handle_at", libc::SYS_open_by_handle_at),
        ("sched_setaffinity", libc::SYS_sched_setaffinity),
    ];

    /// The BPF program: check the architecture, refuse x32 numbers, compare the call number
    /// with each denied one, turn `clone3` away, then look at `clone`'s flags.
    pub fn program() -> Vec<libc::sock_filter> {
        let mut f = Filter::for_this_arch();
        #[cfg(target_arch = "x86_64")]
        f.refuse_from(X32_SYSCALL_BIT, libc::EPERM);
        for (_, nr) in DENIED {
            f.refuse(*nr, libc::EPERM);
        }
        f.finish(NAMESPACE_FLAGS)
    }

    /// A filter program being built: the architecture checked and the call number loaded, then
    /// one rule per refused call. Shared with the machine-shape simulator
    /// (`super::shape_sim`), whose Docker-like profile has the same shape.
    pub struct Filter(Vec<libc::sock_filter>);

    const fn stmt(code: u16, k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }

    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    #[cfg(target_arch = "x86_64")]
    const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    /// Offsets in `struct seccomp_data`: nr at 0, arch at 4, args from 16 (8 bytes each; the
    /// low half first on a little-endian machine).
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const ARG0_LOW: u32 = 16;

    fn fail_with(errno: i32) -> libc::sock_filter {
        stmt(RET_K, libc::SECCOMP_RET_ERRNO | errno as u32)
    }

    impl Filter {
        /// Another architecture's calls (i386 through `int 0x80`) kill the process; the call
        /// number is loaded for the rules.
        pub fn for_this_arch() -> Filter {
            Filter(vec![
                stmt(LD_W_ABS, ARCH),
                jump(JEQ_K, AUDIT_ARCH, 1, 0),
                stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
                stmt(LD_W_ABS, NR),
            ])
        }

        /// Call `nr` fails with `errno`, whatever its arguments.
        pub fn refuse(&mut self, nr: libc::c_long, errno: i32) {
            self.0.push(jump(JEQ_K, nr as u32, 0, 1));
            self.0.push(fail_with(errno));
        }

        /// Every call numbered `first` or above fails with `errno` (x32's bit).
        #[cfg(target_arch = "x86_64")]
        pub fn refuse_from(&mut self, first: u32, errno: i32) {
            self.0.push(jump(JGE_K, first, 0, 1));
            self.0.push(fail_with(errno));
        }

        /// The last rules: `clone3` gets `ENOSYS` (its flags live in memory a filter cannot
        /// read, so libc falls back to `clone`), `clone` with any of `clone_flags` gets
        /// `EPERM`, and everything else is allowed. `clone` comes last, since it replaces the
        /// call number in the accumulator with the flags.
        pub fn finish(mut self, clone_flags: u32) -> Vec<libc::sock_filter> {
            self.refuse(libc::SYS_clone3, libc::ENOSYS);
            self.0.push(jump(JEQ_K, libc::SYS_clone as u32, 0, 3));
            self.0.push(stmt(LD_W_ABS, ARG0_LOW));
            self.0.push(jump(JSET_K, clone_flags, 0, 1));
            self.0.push(fail_with(libc::EPERM));
            self.0.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
            self.0
        }
    }

    /// Installs `program` on the calling thread (and everything it execs and forks), with
    /// `no_new_privs`. Two `prctl` calls: async-signal-safe, no allocation.
    pub fn install(program: &[libc::sock_filter]) -> io::Result<()> {
        // SAFETY: plain prctl without pointers.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        install_without_no_new_privs(program)
    }

    /// Installs `program` without setting `no_new_privs`: allowed only to a process with
    /// `CAP_SYS_ADMIN` (the shape simulator, imitating Docker, which leaves it unset).
    pub fn install_without_no_new_privs(program: &[libc::sock_filter]) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prctl with a valid, live filter program.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(all(
    target_os = "linux",
    target_endian = "little",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub use imp::{install, install_without_no_new_privs, program, Filter};

/// Elsewhere there is no filter: nothing to build.
#[cfg(not(all(
    target_os = "linux",
    target_endian = "little",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn program() -> Vec<()> {
    Vec::new()
}

/// Elsewhere there is no filter: installing one is an error (callers check [`SUPPORTED`]).
#[cfg(not(all(
    target_os = "linux",
    target_endian = "little",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn install(_program: &[()]) -> std::io::Result<()> {
    Err(std::io::Error::other("no seccomp filter on this platform"))
}

#[cfg(all(
    test,
    target_os = "linux",
    target_endian = "little",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod tests {
    use super::imp::DENIED;

    /// Runs `check` in a forked child under the filter; true when it returned true. The child
    /// only makes system calls (the test process has other threads: no allocation after fork).
    fn under_filter(check: fn() -> bool) -> bool {
        let prog = super::program();
        // SAFETY: the child only makes syscalls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = match super::install(&prog) {
                Err(_) => 10,
                Ok(()) => i32::from(!check()),
            };
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "the child died: status {status}");
        assert_ne!(
            libc::WEXITSTATUS(status),
            10,
            "the filter was not installed"
        );
        libc::WEXITSTATUS(status) == 0
    }

    fn errno() -> i32 {
        unsafe { *libc::__errno_location() }
    }

    /// `syscall(nr, args…)` failed with `EPERM`.
    fn eperm(rc: libc::c_long) -> bool {
        rc == -1 && errno() == libc::EPERM
    }

    /// A raw `clone` with `flags` (fork-like: no new stack); the child exits at once.
    fn raw_clone(flags: libc::c_int) -> libc::c_long {
        // SAFETY: without CLONE_VM the child has its own copy of memory, as after fork.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (flags | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
        if rc == 0 {
            unsafe { libc::_exit(0) };
        }
        if rc > 0 {
            unsafe { libc::waitpid(rc as libc::pid_t, std::ptr::null_mut(), 0) };
        }
        rc
    }

    #[test]
    fn the_program_has_one_test_per_denied_call() {
        let x32 = if cfg!(target_arch = "x86_64") { 2 } else { 0 };
        // Arch check and load (4), x32 (2), 2 per denied call, clone3 (2), clone (4), allow.
        assert_eq!(
            super::program().len(),
            4 + x32 + 2 * DENIED.len() + 2 + 4 + 1
        );
    }

    #[test]
    fn namespaces_are_refused_by_unshare_and_by_clone() {
        assert!(under_filter(|| unsafe {
            libc::unshare(libc::CLONE_NEWUTS) == -1 && errno() == libc::EPERM
        }));
        assert!(under_filter(|| eperm(raw_clone(libc::CLONE_NEWUSER))));
        assert!(under_filter(|| eperm(raw_clone(
            libc::CLONE_NEWUSER | libc::CLONE_NEWNET
        ))));
        assert!(under_filter(|| eperm(raw_clone(libc::CLONE_NEWPID))));
        assert!(under_filter(|| eperm(raw_clone(libc::CLONE_NEWNS))));
        assert!(under_filter(|| eperm(raw_clone(libc::CLONE_NEWCGROUP))));
    }

    #[test]
    fn clone3_says_it_does_not_exist() {
        assert!(under_filter(|| unsafe {
            libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) == -1
                && errno() == libc::ENOSYS
        }));
    }

    #[test]
    fn io_uring_and_the_new_mount_api_are_refused() {
        // Bogus arguments: the filter answers before the kernel looks at them.
        for nr in [
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
            libc::SYS_fsopen,
            libc::SYS_fsconfig,
            libc::SYS_fsmount,
            libc::SYS_fspick,
            libc::SYS_move_mount,
            libc::SYS_open_tree,
            libc::SYS_mount_setattr,
        ] {
            static NR: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
            NR.store(nr, std::sync::atomic::Ordering::SeqCst);
            assert!(
                under_filter(|| eperm(unsafe {
                    libc::syscall(
                        NR.load(std::sync::atomic::Ordering::SeqCst),
                        0usize,
                        0usize,
                        0usize,
                        0usize,
                        0usize,
                    )
                })),
                "system call {nr} was not refused"
            );
        }
    }

    #[test]
    fn sockets_are_refused_but_socketpairs_are_not() {
        assert!(under_filter(|| eperm(unsafe {
            libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as libc::c_long
        })));
        assert!(under_filter(|| eperm(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) as libc::c_long
        })));
        assert!(under_filter(|| unsafe {
            let mut fds = [0; 2];
            libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) == 0
        }));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_numbers_are_refused() {
        assert!(under_filter(|| eperm(unsafe {
            libc::syscall(libc::SYS_getpid | super::imp::X32_SYSCALL_BIT as libc::c_long)
        })));
    }

    #[test]
    fn what_honest_programs_do_still_works() {
        // fork (glibc: clone with SIGCHLD and the tid flags), a plain raw clone, pipes, shared
        // anonymous memory, ordinary calls.
        assert!(under_filter(|| unsafe {
            let pid = libc::fork();
            if pid == 0 {
                libc::_exit(0);
            }
            pid > 0 && libc::waitpid(pid, std::ptr::null_mut(), 0) == pid
        }));
        assert!(under_filter(|| raw_clone(0) > 0));
        assert!(under_filter(|| unsafe {
            let mut fds = [0; 2];
            libc::pipe(fds.as_mut_ptr()) == 0
        }));
        assert!(under_filter(|| unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            p != libc::MAP_FAILED
        }));
        assert!(under_filter(|| unsafe { libc::getpid() > 0 }));
    }
}

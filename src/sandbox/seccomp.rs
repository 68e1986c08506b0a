//! A seccomp filter for student programs: the system calls no Lab 10 program needs and an
//! attacker wants (tracing other processes, making namespaces or mounts, loading kernel code,
//! kernel keyrings, BPF, performance counters) fail with `EPERM`. Everything else is allowed:
//! an allow-list would break honest programs (Rust's runtime, nix, libc) in ways students could
//! not understand.
//!
//! Installed by the sandbox init in the forked child just before `execve`, after the limits and
//! the user change, with `no_new_privs` set (so a set-uid binary cannot regain privileges).

/// Whether this architecture has a filter.
pub const SUPPORTED: bool = cfg!(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
));

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::io;

    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7;

    /// The denied system calls.
    pub const DENIED: &[(&str, libc::c_long)] = &[
        ("ptrace", libc::SYS_ptrace),
        ("process_vm_readv", libc::SYS_process_vm_readv),
        ("process_vm_writev", libc::SYS_process_vm_writev),
        ("unshare", libc::SYS_unshare),
        ("setns", libc::SYS_setns),
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("pivot_root", libc::SYS_pivot_root),
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
    ];

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

    /// The BPF program: check the architecture, then compare the call number with each denied
    /// one.
    pub fn program() -> Vec<libc::sock_filter> {
        const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
        const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
        const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
        // Offsets in struct seccomp_data: nr at 0, arch at 4.
        let mut p = vec![
            stmt(LD_W_ABS, 4),
            jump(JEQ_K, AUDIT_ARCH, 1, 0),
            stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
            stmt(LD_W_ABS, 0),
        ];
        for (_, nr) in DENIED {
            p.push(jump(JEQ_K, *nr as u32, 0, 1));
            p.push(stmt(RET_K, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32));
        }
        p.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
        p
    }

    /// Installs `program` on the calling thread (and everything it execs and forks).
    pub fn install(program: &[libc::sock_filter]) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prctl with a valid, live filter program.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub use imp::{install, program};

#[cfg(test)]
mod tests {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    #[test]
    fn the_filter_denies_what_it_lists_and_allows_the_rest() {
        let prog = super::program();
        // Architecture check and load (4) + 2 per denied call + the final allow.
        assert_eq!(prog.len(), 4 + 2 * super::imp::DENIED.len() + 1);
        // In a forked child: install, then try a denied and an allowed call.
        // SAFETY: the child only makes syscalls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = match super::install(&prog) {
                Err(_) => 10,
                Ok(()) => unsafe {
                    let denied = libc::unshare(libc::CLONE_NEWUTS) == -1
                        && *libc::__errno_location() == libc::EPERM;
                    let allowed = libc::getpid() > 0;
                    if denied && allowed {
                        0
                    } else {
                        11
                    }
                },
            };
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "status {status}");
        assert_eq!(libc::WEXITSTATUS(status), 0);
    }
}

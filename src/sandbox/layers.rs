//! The kernel facilities the sandbox's layers are made of, probed once per grader process.
//! One facility may serve several layers (the namespaces serve four, and the process audit's
//! row depends on them too); each layer's `Protection::detect` reads these to say whether it
//! is there and what it does ([`super::layer`]).
//!
//! The portable layer (process group, rlimits, output caps, wall clock, group kill) is always
//! there. The Linux layers need the kernel's consent: namespaces and cgroups need root here (a
//! container without privileges, macOS and unprivileged users get the portable layer only, and
//! `labgrade doctor` and every result say so).

use std::path::PathBuf;
use std::sync::OnceLock;

use serde::Serialize;

use super::cgroup;
use super::layer::Layer;
use super::uids::RunUsers;

/// How the sandbox gets its namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceMode {
    /// The grader may create namespaces itself (root, or CAP_SYS_ADMIN).
    Direct,
    /// A user namespace first, in which the grader's user is root (`unshare -r`).
    UserNamespace,
}

/// A layer and whether it is active, with the reason when it is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerStatus {
    pub name: Layer,
    pub active: bool,
    /// What it does when active; why it is missing otherwise.
    pub detail: String,
}

/// What this machine offers.
#[derive(Debug, Clone)]
pub struct Layers {
    /// The program that acts as the sandbox init, when namespaces work.
    pub init_program: Result<PathBuf, String>,
    /// How namespaces are made: directly (root), or inside a new user namespace (any user, where
    /// the kernel allows unprivileged user namespaces).
    pub namespaces: Result<NamespaceMode, String>,
    pub cgroup: Result<cgroup::Hierarchy, String>,
    /// The users student code runs as when the grader is root ([`super::uids`]).
    pub user: Result<RunUsers, String>,
    /// The kernel's Landlock ABI ([`super::ruleset`]).
    pub landlock: Result<i32, String>,
    /// Whether the init can turn on process accounting for its PID namespace
    /// ([`super::acct`]): exact process counts in the audit.
    pub accounting: Result<(), String>,
    /// Whether the grader may trace the runs of the portable path ([`super::trace`]): their
    /// process audit where there is no PID namespace.
    pub ptrace: Result<(), String>,
}

impl Layers {
    /// Detected once; later calls are free.
    pub fn get() -> &'static Layers {
        static LAYERS: OnceLock<Layers> = OnceLock::new();
        LAYERS.get_or_init(Layers::detect)
    }

    fn detect() -> Layers {
        let namespaces = probe_namespaces();
        let init_program = init_program();
        let user = if nix::unistd::geteuid().is_root() {
            RunUsers::detect()
        } else {
            Err("the grader is not root: student code runs as the grader's own user".to_string())
        };
        Layers {
            init_program,
            namespaces,
            cgroup: cgroup::detect(),
            user,
            landlock: super::ruleset::detect(),
            accounting: probe_accounting(),
            ptrace: probe_ptrace(),
        }
    }

    /// Whether runs go through the namespace init.
    pub fn isolated(&self) -> bool {
        self.namespaces.is_ok() && self.init_program.is_ok()
    }

    /// Every layer with its status, for `labgrade doctor` and the results.
    pub fn report(&self) -> Vec<LayerStatus> {
        Layer::ALL
            .into_iter()
            .map(|layer| {
                let (active, detail) = match self.status(layer) {
                    Ok(detail) => (true, detail),
                    Err(detail) => (false, detail),
                };
                LayerStatus {
                    name: layer,
                    active,
                    detail,
                }
            })
            .collect()
    }

    /// What `layer` does here, or why it is missing.
    pub fn status(&self, layer: Layer) -> Result<String, String> {
        layer.protection().detect(self)
    }
}

/// The `labgrade` binary that can act as the sandbox init: `$LABGRADE_INIT`, else this process
/// when it is `labgrade` itself (a test harness running the library is not).
fn init_program() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("LABGRADE_INIT") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the grader binary: {e}"))?;
    match exe.file_name().and_then(|n| n.to_str()) {
        Some("labgrade") => Ok(exe),
        _ => Err(format!(
            "{} is not the labgrade binary (set LABGRADE_INIT to use the namespace layers)",
            exe.display()
        )),
    }
}

/// Whether this process may create the namespaces the sandbox uses.
#[cfg(target_os = "linux")]
fn probe_namespaces() -> Result<NamespaceMode, String> {
    if try_unshare(super::layer::namespaces()) {
        Ok(NamespaceMode::Direct)
    } else if try_unshare(libc::CLONE_NEWUSER | super::layer::namespaces()) {
        Ok(NamespaceMode::UserNamespace)
    } else {
        Err(super::shape::Refusal::of(&super::shape::Facts::read()).explain())
    }
}

/// Whether a throwaway child may `unshare(flags)` (doing it here would change the grader).
#[cfg(target_os = "linux")]
fn try_unshare(flags: libc::c_int) -> bool {
    // SAFETY: the child only calls async-signal-safe functions before _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return false;
    }
    if pid == 0 {
        // SAFETY: as above.
        unsafe {
            let ok = libc::unshare(flags) == 0;
            libc::_exit(if ok { 0 } else { 1 });
        }
    }
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

#[cfg(not(target_os = "linux"))]
fn probe_namespaces() -> Result<NamespaceMode, String> {
    Err("namespaces exist only on Linux".to_string())
}

#[cfg(target_os = "linux")]
fn probe_ptrace() -> Result<(), String> {
    super::trace::probe()
}

#[cfg(not(target_os = "linux"))]
fn probe_ptrace() -> Result<(), String> {
    Err("the ptrace audit is Linux's".to_string())
}

/// Process accounting needs `CAP_SYS_PACCT` in the host's user namespace and a kernel built
/// with it. Probed without turning it on (that would account the whole machine).
fn probe_accounting() -> Result<(), String> {
    const CAP_SYS_PACCT: u32 = 20;
    let why_not = "the audit tells threads from processes only by seeing them, so a thread too \
                   short for its scans counts as a process";
    if !nix::unistd::geteuid().is_root() {
        return Err(format!("needs root (CAP_SYS_PACCT): {why_not}"));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    // A container's root has its capabilities in its own user namespace only.
    let host_user_namespace = std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
        .unwrap_or(false);
    if effective & (1 << CAP_SYS_PACCT) == 0 || !host_user_namespace {
        return Err(format!(
            "this root lacks CAP_SYS_PACCT in the host's user namespace (a container?): \
             {why_not}"
        ));
    }
    if !std::path::Path::new("/proc/sys/kernel/acct").exists() {
        return Err("this kernel has no BSD process accounting (CONFIG_BSD_PROCESS_ACCT)".into());
    }
    Ok(())
}

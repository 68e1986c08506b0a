//! The registry of sandbox layers: every layer `labgrade doctor` and each result's `sandbox`
//! field list, with its name and what its absence costs a grading. [`super::Layers::status`]
//! describes each on this machine, by an exhaustive match: a new layer is a variant here, in
//! [`Layer::ALL`], and the compiler then asks for its description and its cost, so `doctor`
//! lists it by construction.
//!
//! Detection and application stay where they are done (`Layers::detect`, the spawn paths):
//! one kernel facility serves several layers (the namespaces), and the order in which a
//! child applies them is fixed by the kernel (Landlock and seccomp before the uid drop's
//! `exec`), so a per-layer `apply` would hide the one order that is safe.

use serde::Serialize;

/// A protection layer of the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Process group, rlimits, output caps, wall clock, whole-group kill: everywhere.
    Portable,
    PidNamespace,
    NetworkNamespace,
    MountNamespace,
    IpcUtsNamespaces,
    Cgroup,
    UnprivilegedUser,
    /// The user builds run as (the build user, when the toolchain is reachable by it).
    BuildUser,
    Seccomp,
    Landlock,
    ProcessAccounting,
    ProcessAudit,
}

impl Layer {
    /// Every layer, in the order `doctor` lists them.
    pub const ALL: [Layer; 12] = [
        Layer::Portable,
        Layer::PidNamespace,
        Layer::NetworkNamespace,
        Layer::MountNamespace,
        Layer::IpcUtsNamespaces,
        Layer::Cgroup,
        Layer::UnprivilegedUser,
        Layer::BuildUser,
        Layer::Seccomp,
        Layer::Landlock,
        Layer::ProcessAccounting,
        Layer::ProcessAudit,
    ];

    /// The name results and `doctor` show (an interface: the JSON `sandbox[].name`).
    pub fn name(self) -> &'static str {
        match self {
            Layer::Portable => "process group and rlimits",
            Layer::PidNamespace => "pid namespace",
            Layer::NetworkNamespace => "network namespace",
            Layer::MountNamespace => "mount namespace",
            Layer::IpcUtsNamespaces => "ipc and uts namespaces",
            Layer::Cgroup => "cgroup",
            Layer::UnprivilegedUser => "unprivileged user",
            Layer::BuildUser => "build user",
            Layer::Seccomp => "seccomp",
            Layer::Landlock => "landlock",
            Layer::ProcessAccounting => "process accounting",
            Layer::ProcessAudit => "process audit",
        }
    }

    /// What a grading loses where this layer is missing, for the warning `batch` prints
    /// before it starts. `None`: nothing a TA must know (the portable layer is never
    /// missing; without accounting the audit still counts, see its row). The unprivileged
    /// and build users' costs are their rows' own details, which name the user code runs or
    /// builds as.
    pub fn cost_when_missing(self) -> Option<&'static str> {
        Some(match self {
            Layer::Portable
            | Layer::ProcessAccounting
            | Layer::UnprivilegedUser
            | Layer::BuildUser => return None,
            Layer::PidNamespace => {
                "no PID namespace: a process a submission leaves behind is ended through its \
                 process group, the grader's subreaper and (where the ptrace audit runs) by pid"
            }
            Layer::NetworkNamespace => {
                "no network namespace: only the seccomp filter (socket() refused) keeps student \
                 code off the network, loopback included"
            }
            Layer::MountNamespace => {
                "student code shares /dev/shm with the machine (and /tmp, where Landlock is \
                 missing): what it leaves there stays after the grading"
            }
            Layer::IpcUtsNamespaces => {
                "student code shares System V IPC with the machine: a segment it leaves stays"
            }
            Layer::Cgroup => {
                "no limit on the whole process tree's memory (RLIMIT_AS applies per process; \
                 RLIMIT_NPROC bounds the processes) and no CPU time of orphans"
            }
            Layer::ProcessAudit => {
                "no process audit: `processes` tests are undecided and count as their spec's \
                 `inconclusive` says (the built-in spec: failed)"
            }
            Layer::Landlock => "student code can read and write every file its user can",
            Layer::Seccomp => {
                "no seccomp filter on student code: keyrings, BPF, perf events, ptrace and \
                 namespaces are refused only where its user or the machine refuses them"
            }
        })
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Layer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_layer_has_its_own_name_and_is_listed_once() {
        let names: HashSet<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(names.len(), Layer::ALL.len());
        assert_eq!(format!("{:<8}|", Layer::Cgroup), "cgroup  |");
        assert_eq!(
            serde_json::to_string(&Layer::PidNamespace).unwrap(),
            "\"pid namespace\""
        );
    }
}

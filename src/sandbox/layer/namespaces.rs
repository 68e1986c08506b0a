//! The namespace layers: one kernel facility (the grader may create namespaces, directly as
//! root or inside a user namespace of its own), four layers, each its own `CLONE_NEW*` flag.
//! The sandbox's init is started in all of them (`isolated.rs`) and sets the mount
//! namespace's view up itself (`view.rs`).

use super::Protection;
use crate::sandbox::layers::{Layers, NamespaceMode};

/// The row of a namespace layer: `what` it does, through the mode namespaces are made in
/// here, or why there are none.
fn row(machine: &Layers, what: &str) -> Result<String, String> {
    match (&machine.namespaces, &machine.init_program) {
        (Ok(NamespaceMode::Direct), Ok(_)) => Ok(what.to_string()),
        (Ok(NamespaceMode::UserNamespace), Ok(_)) => {
            Ok(format!("{what} (inside an unprivileged user namespace)"))
        }
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
    }
}

#[cfg(target_os = "linux")]
mod flag {
    pub const PID: libc::c_int = libc::CLONE_NEWPID;
    pub const NET: libc::c_int = libc::CLONE_NEWNET;
    pub const MOUNT: libc::c_int = libc::CLONE_NEWNS;
    pub const IPC_UTS: libc::c_int = libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
}

/// Namespaces are Linux's: elsewhere no run asks for one.
#[cfg(not(target_os = "linux"))]
mod flag {
    pub const PID: libc::c_int = 0;
    pub const NET: libc::c_int = 0;
    pub const MOUNT: libc::c_int = 0;
    pub const IPC_UTS: libc::c_int = 0;
}

pub(in crate::sandbox) struct Pid;

impl Protection for Pid {
    fn name(&self) -> &'static str {
        "pid namespace"
    }

    fn detect(&self, machine: &Layers) -> Result<String, String> {
        row(
            machine,
            "the submission is PID 2 under labgrade's init: every process dies with it, \
             kill(-1) reaches only the submission, processes and threads are audited",
        )
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some(
            "no PID namespace: a process a submission leaves behind is ended through its \
             process group, the grader's subreaper and (where the ptrace audit runs) by pid",
        )
    }

    fn namespaces(&self) -> libc::c_int {
        flag::PID
    }
}

pub(in crate::sandbox) struct Network;

impl Protection for Network {
    fn name(&self) -> &'static str {
        "network namespace"
    }

    fn detect(&self, machine: &Layers) -> Result<String, String> {
        row(machine, "no network at all, loopback included")
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some(
            "no network namespace: only the seccomp filter (socket() refused) keeps student \
             code off the network, loopback included",
        )
    }

    fn namespaces(&self) -> libc::c_int {
        flag::NET
    }
}

pub(in crate::sandbox) struct Mount;

impl Protection for Mount {
    fn name(&self) -> &'static str {
        "mount namespace"
    }

    fn detect(&self, machine: &Layers) -> Result<String, String> {
        row(
            machine,
            "its own /proc, fresh /tmp and /dev/shm: nothing left behind there",
        )
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some(
            "student code shares /dev/shm with the machine (and /tmp, where Landlock is \
             missing): what it leaves in /dev/shm is removed after each run only where runs \
             have a uid of their own (a root grader), and stays otherwise",
        )
    }

    fn namespaces(&self) -> libc::c_int {
        flag::MOUNT
    }
}

pub(in crate::sandbox) struct IpcUts;

impl Protection for IpcUts {
    fn name(&self) -> &'static str {
        "ipc and uts namespaces"
    }

    fn detect(&self, machine: &Layers) -> Result<String, String> {
        row(machine, "no System V IPC shared with the machine")
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some(
            "student code shares System V IPC with the machine: what it leaves is removed \
             after each run only where runs have a uid of their own (a root grader), and \
             stays otherwise",
        )
    }

    fn namespaces(&self) -> libc::c_int {
        flag::IPC_UTS
    }
}

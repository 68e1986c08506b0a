//! The registry of sandbox layers. Each layer is one file of this folder with one
//! [`Protection`]: its name, whether this machine offers it (detect) and what it does here
//! (describe), what its absence costs a grading, the namespaces it needs and the steps it adds
//! to a run (apply). The [`registry!`] at the bottom names every layer once; from that line
//! come the [`Layer`] id, [`Layer::ALL`] (the order `doctor`, each result's `sandbox` field and
//! `batch`'s warning list them in) and the way from an id to its protection. A new layer is
//! therefore one file and one line of the registry, and `doctor` lists it by construction.
//!
//! **Why the steps have phases.** The kernel fixes the one safe order in which a child may
//! apply its protections: a ptrace request before the user change (no privilege needed then)
//! and before seccomp (which refuses ptrace); rlimits while still privileged; `RLIMIT_NPROC`
//! and the parent-death signal after the user change (the first is counted per user, the
//! second cleared by it); Landlock and seccomp last, because they refuse what the earlier
//! steps do. That order is [`Phase`], declared once here; a layer only says in which phase
//! its step belongs, and [`Steps::take`] runs them in phase order. Both spawn paths run the
//! same steps: the portable path in the grader's `pre_exec`, the isolated path in the sandbox
//! init's child, which receives the run's [`Setup`] as JSON and asks the same registry.
//!
//! Two layers act on the run's container rather than on its program: the cgroup (which the
//! outer init joins before any process of the run exists) and process accounting (which the
//! inner init turns on for its PID namespace). Their `apply` adds no step; the isolated path
//! sets them up (`isolated.rs`, `init.rs`) where the layer's `detect` says they are there.

mod build_user;
mod cgroup;
mod landlock;
mod namespaces;
mod oom_first;
mod portable;
mod process_accounting;
mod process_audit;
mod seccomp;
mod unprivileged_user;

use std::io;

use serde::{Deserialize, Serialize};

use super::layers::Layers;
use super::limits::Limits;
use super::ruleset::Rules;
use super::Isolation;

/// One protection layer of the sandbox.
pub(in crate::sandbox) trait Protection: Sync {
    /// The name results and `doctor` show (an interface: the JSON `sandbox[].name`).
    fn name(&self) -> &'static str;

    /// On this machine: what the layer does (`Ok`), or why it is missing (`Err`). Reads the
    /// facilities [`Layers`] probed once per grader; the text is a row of `doctor` and of
    /// every result.
    fn detect(&self, machine: &Layers) -> Result<String, String>;

    /// What a grading loses where this layer is missing, for the warning `batch` prints before
    /// it starts. `None`: nothing a TA must know.
    fn cost_when_missing(&self) -> Option<&'static str> {
        None
    }

    /// The namespaces (`CLONE_NEW*`) an isolated run is started in for this layer.
    fn namespaces(&self) -> libc::c_int {
        0
    }

    /// Adds this layer's steps for the program of one run. Runs before `fork` (it may
    /// allocate, open files, fail); the steps it adds run after. An error is the run's
    /// set-up failing, never a run quietly without the layer.
    fn apply(&self, _setup: &Setup, _steps: &mut Steps) -> Result<(), String> {
        Ok(())
    }
}

/// One run's program as the layers' [`Protection::apply`] sees it: what the spawn path
/// decided (the user it took from the pool, the limits, whether it traces). The same in the
/// grader (portable path) and in the sandbox's init (isolated path), which receives it as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    /// What the job asked for.
    pub isolation: Isolation,
    /// The run goes through the namespace init.
    pub isolated: bool,
    pub limits: Limits,
    /// The (uid, gid) the program runs as, when not the grader's (nor the namespace's root).
    pub user: Option<(u32, u32)>,
    /// The `RLIMIT_NPROC` the program gets, where its count is bounded by one.
    pub nproc: Option<u64>,
    /// The grader, which a portable run's program dies with (an isolated run dies with its
    /// namespace's init instead).
    pub die_with: Option<u32>,
    /// The portable path's process audit traces the program ([`super::trace`]).
    pub trace: bool,
    /// What the Landlock ruleset allows, when the layer is wanted.
    pub landlock: Option<Rules>,
}

/// When a step runs, between `fork` and `exec`: the one order the kernel allows (see the
/// module's documentation). Declaration order is execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::sandbox) enum Phase {
    /// Ask to be traced: before the user change and before seccomp refuses ptrace.
    Trace,
    /// Per-process rlimits, while still allowed to raise nothing and lower anything.
    Limits,
    /// Drop to the run's user.
    User,
    /// `RLIMIT_NPROC`: counted per user, so after the user change.
    Processes,
    /// The parent-death signal: the user change clears it.
    ParentDeath,
    /// `no_new_privs`: no exec gains privileges from here on.
    NoNewPrivs,
    /// The Landlock ruleset (built before the user change, which may not open every path).
    Landlock,
    /// The seccomp filter: last, it refuses calls the earlier steps make.
    Seccomp,
}

impl Phase {
    /// What the step does, for the init's "sandbox set-up failed" message.
    pub(in crate::sandbox) fn doing(self) -> &'static str {
        match self {
            Phase::Trace => "asking to be traced",
            Phase::Limits => "setting limits",
            Phase::User => "dropping to the run's user",
            Phase::Processes => "limiting processes",
            Phase::ParentDeath => "asking to die with the grader",
            Phase::NoNewPrivs => "setting no_new_privs",
            Phase::Landlock => "enforcing the Landlock ruleset",
            Phase::Seccomp => "installing the seccomp filter",
        }
    }
}

/// A step a layer adds to a run: taken in the forked child, before `exec`.
pub(in crate::sandbox) trait Step: Send + Sync {
    /// Only async-signal-safe system calls, and no allocation on success: the grader's
    /// child is a copy of a multi-threaded process.
    fn take(&self) -> io::Result<()>;
}

/// A step that is a function: the usual case, a closure owning what was prepared before the
/// fork.
impl<F: Fn() -> io::Result<()> + Send + Sync> Step for F {
    fn take(&self) -> io::Result<()> {
        self()
    }
}

/// The steps of one run, kept in [`Phase`] order.
#[derive(Default)]
pub(in crate::sandbox) struct Steps {
    steps: Vec<(Phase, Layer, Box<dyn Step>)>,
    /// The layer whose `apply` is adding steps now.
    adding_for: Option<Layer>,
}

impl Steps {
    /// Every layer's steps for `setup`, in phase order (layers of the same phase in registry
    /// order).
    pub(in crate::sandbox) fn for_setup(setup: &Setup) -> Result<Steps, String> {
        let mut steps = Steps::default();
        for layer in Layer::ALL {
            steps.adding_for = Some(layer);
            layer.protection().apply(setup, &mut steps)?;
        }
        Ok(steps)
    }

    /// Adds `step` at `phase`, after the steps already there.
    pub(in crate::sandbox) fn add(&mut self, phase: Phase, step: impl Step + 'static) {
        let at = self.steps.partition_point(|(p, _, _)| *p <= phase);
        let layer = self.adding_for.unwrap_or(Layer::Portable);
        self.steps.insert(at, (phase, layer, Box::new(step)));
    }

    /// Takes every step in order; stops at the first that fails. Allocates nothing.
    pub(in crate::sandbox) fn take(&self) -> Result<(), (Phase, io::Error)> {
        for (phase, _, step) in &self.steps {
            step.take().map_err(|e| (*phase, e))?;
        }
        Ok(())
    }

    /// Whether `layer` added a step: what a run got of it.
    pub(in crate::sandbox) fn has(&self, layer: Layer) -> bool {
        self.steps.iter().any(|(_, l, _)| *l == layer)
    }

    /// The phases and layers in the order they will be taken.
    #[cfg(test)]
    fn order(&self) -> Vec<(Phase, Layer)> {
        self.steps.iter().map(|(p, l, _)| (*p, *l)).collect()
    }
}

/// The namespaces an isolated run is started in: every layer's.
pub(in crate::sandbox) fn namespaces() -> libc::c_int {
    Layer::ALL
        .iter()
        .fold(0, |all, layer| all | layer.protection().namespaces())
}

/// Declares every layer: its id and its protection, in the order `doctor` lists them.
macro_rules! registry {
    ($($(#[$doc:meta])* $id:ident => $protection:expr,)*) => {
        /// A protection layer of the sandbox (its behaviour: [`Layer::protection`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Layer {
            $($(#[$doc])* $id,)*
        }

        impl Layer {
            /// Every layer, in the order `doctor` lists them.
            pub const ALL: [Layer; [$(stringify!($id)),*].len()] = [$(Layer::$id),*];

            /// What the layer is and does.
            pub(in crate::sandbox) fn protection(self) -> &'static dyn Protection {
                match self {
                    $(Layer::$id => &$protection,)*
                }
            }
        }
    };
}

registry! {
    /// Process group, rlimits, output caps, wall clock, whole-group kill: everywhere.
    Portable => portable::Portable,
    PidNamespace => namespaces::Pid,
    NetworkNamespace => namespaces::Network,
    MountNamespace => namespaces::Mount,
    IpcUtsNamespaces => namespaces::IpcUts,
    Cgroup => cgroup::Cgroup,
    /// The user student code runs as.
    UnprivilegedUser => unprivileged_user::UnprivilegedUser,
    /// The user builds run as (the build user, when the toolchain is reachable by it).
    BuildUser => build_user::BuildUser,
    Seccomp => seccomp::Seccomp,
    Landlock => landlock::Landlock,
    ProcessAccounting => process_accounting::ProcessAccounting,
    ProcessAudit => process_audit::ProcessAudit,
    /// Student code is what the OOM killer ends first.
    OomFirst => oom_first::OomFirst,
}

impl Layer {
    /// The name results and `doctor` show (an interface: the JSON `sandbox[].name`).
    pub fn name(self) -> &'static str {
        self.protection().name()
    }

    /// What a grading loses where this layer is missing, for the warning `batch` prints
    /// before it starts. `None`: nothing a TA must know (the portable layer is never
    /// missing; without accounting the audit still counts, see its row). The unprivileged
    /// and build users' costs are their rows' own details, which name the user code runs or
    /// builds as.
    pub fn cost_when_missing(self) -> Option<&'static str> {
        self.protection().cost_when_missing()
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
mod tests;

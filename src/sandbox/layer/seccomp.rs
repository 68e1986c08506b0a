//! The seccomp layer (`seccomp.rs`): a filter on every run and build, isolated or portable,
//! refusing the system calls that widen what a program can reach. Installed last: it refuses
//! calls the other layers' steps make.

use super::{Phase, Protection, Setup, Steps};
use crate::sandbox::layers::Layers;
use crate::sandbox::seccomp;

pub(in crate::sandbox) struct Seccomp;

impl Protection for Seccomp {
    fn name(&self) -> &'static str {
        "seccomp"
    }

    fn detect(&self, _machine: &Layers) -> Result<String, String> {
        if seccomp::SUPPORTED {
            Ok(
                "on every run and build, isolated or portable: no new namespaces (unshare, \
                 setns, clone with CLONE_NEW*), no clone3, no mounts (old and new API), no \
                 io_uring, no socket() (socketpair allowed), no ptrace, no x32 calls, no kernel \
                 modules, keyrings, BPF or perf events"
                    .into(),
            )
        } else {
            Err("no seccomp filter for this platform".into())
        }
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some(
            "no seccomp filter on student code: keyrings, BPF, perf events, ptrace and \
             namespaces are refused only where its user or the machine refuses them",
        )
    }

    fn apply(&self, _setup: &Setup, steps: &mut Steps) -> Result<(), String> {
        if seccomp::SUPPORTED {
            // Built here: the step only hands it to the kernel.
            let program = seccomp::program();
            steps.add(Phase::Seccomp, move || seccomp::install(&program));
        }
        Ok(())
    }
}

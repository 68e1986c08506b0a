//! The layer every machine has: the program in its own process group (the spawn paths),
//! with rlimits, output caps, a wall clock and a whole-group kill (`supervise.rs`), and, on
//! the portable path, dying with the grader.

use std::io;

use super::{Phase, Protection, Setup, Step, Steps};
use crate::sandbox::layers::Layers;
use crate::sandbox::limits::{self, Limits};

pub(in crate::sandbox) struct Portable;

impl Protection for Portable {
    fn name(&self) -> &'static str {
        "process group and rlimits"
    }

    fn detect(&self, _machine: &Layers) -> Result<String, String> {
        Ok(
            "own session, CPU/memory/file-size/open-file limits, no core dumps, output caps, \
             wall clock, whole-group kill"
                .into(),
        )
    }

    fn apply(&self, setup: &Setup, steps: &mut Steps) -> Result<(), String> {
        steps.add(Phase::Limits, Rlimits(setup.limits.clone()));
        if setup.nproc.is_some() {
            steps.add(Phase::Processes, Nproc(setup.nproc));
        }
        if let Some(grader) = setup.die_with {
            steps.add(Phase::ParentDeath, DieWith(grader));
        }
        steps.add(Phase::NoNewPrivs, NoNewPrivs);
        Ok(())
    }
}

struct Rlimits(Limits);

impl Step for Rlimits {
    fn take(&self) -> io::Result<()> {
        self.0.apply_in_child()
    }
}

struct Nproc(Option<u64>);

impl Step for Nproc {
    fn take(&self) -> io::Result<()> {
        limits::set_nproc(self.0)
    }
}

struct DieWith(u32);

impl Step for DieWith {
    fn take(&self) -> io::Result<()> {
        crate::sandbox::init::die_with(self.0)
    }
}

/// No exec gains privileges (set-uid binaries, file capabilities) from here on. Landlock and
/// seccomp set it too; it is its own step so that a machine without either still has it.
struct NoNewPrivs;

impl Step for NoNewPrivs {
    fn take(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        // SAFETY: plain syscall without pointers.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

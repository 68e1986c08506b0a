//! Student code is the kernel's first choice when the machine runs out of memory. Where no
//! cgroup bounds a run's whole tree (a container, an unprivileged grader), a run's processes
//! can together take more memory than the machine has; the OOM killer then ends the process
//! with the highest score. Every process of a run of student code asks for the highest
//! adjustment (`oom_score_adj` 1000, which any process may raise and only a privileged one may
//! lower), so the killer takes the submission's largest process, never the grader, another
//! grading's build or the machine's own services.

use std::io;

use super::{Phase, Protection, Setup, Steps};
use crate::sandbox::layers::Layers;
use crate::sandbox::Isolation;

pub(in crate::sandbox) struct OomFirst;

impl Protection for OomFirst {
    fn name(&self) -> &'static str {
        "out-of-memory victim"
    }

    fn detect(&self, _machine: &Layers) -> Result<String, String> {
        if cfg!(target_os = "linux") {
            Ok(
                "student processes are the OOM killer's first choice (oom_score_adj 1000): a run \
                 that exhausts the machine's memory loses its own processes, not the grader's"
                    .into(),
            )
        } else {
            Err("no OOM score to adjust on this platform".into())
        }
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some(
            "where a run exhausts the machine's memory, the kernel may end the grader or \
             another process instead of the run's",
        )
    }

    fn apply(&self, setup: &Setup, steps: &mut Steps) -> Result<(), String> {
        // Student programs only: a build's memory is bounded anyway (its cgroup or its address
        // space), and a build killed for another run's hog would read as a compile error.
        if cfg!(target_os = "linux") && setup.isolation != Isolation::Build {
            // Before Landlock, which leaves `/proc` read-only.
            steps.add(Phase::Limits, victim_first);
        }
        Ok(())
    }
}

/// Writes 1000 to `/proc/self/oom_score_adj` (async-signal-safe).
fn victim_first() -> io::Result<()> {
    crate::sandbox::proc_file::write_proc(c"/proc/self/oom_score_adj", b"1000")
}

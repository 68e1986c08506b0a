//! The cgroup layer: each isolated run in a group of its own (`cgroup.rs`), with a ceiling
//! on the whole tree's processes and memory and its CPU time measured, orphans included.
//! The grader takes the group (`isolated.rs`) and the sandbox's outer init joins it before
//! the run's first process exists, so this layer adds no step to the program.

use super::Protection;
use crate::sandbox::layers::Layers;

pub(in crate::sandbox) struct Cgroup;

impl Protection for Cgroup {
    fn name(&self) -> &'static str {
        "cgroup"
    }

    // Only runs through the namespace init join a group: a group the grader could create is
    // no layer when runs do not use it.
    fn detect(&self, machine: &Layers) -> Result<String, String> {
        match (&machine.cgroup, machine.isolated()) {
            (Ok(hierarchy), true) => Ok(hierarchy.describe()),
            (Ok(_), false) => {
                let why = match (&machine.namespaces, &machine.init_program) {
                    (Err(e), _) | (_, Err(e)) => e.clone(),
                    _ => String::new(),
                };
                Err(format!(
                    "a group can be created, but only runs in namespaces join one ({why})"
                ))
            }
            (Err(e), _) => Err(e.clone()),
        }
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some(
            "no limit on the whole process tree's memory (RLIMIT_AS applies per process; \
             RLIMIT_NPROC bounds the processes) and no CPU time of orphans",
        )
    }
}

//! The Landlock layer (`ruleset.rs`): the program confined to the paths its job needs, off
//! TCP, its signals scoped to the sandbox. It needs neither root nor namespaces, so it still
//! protects a laptop or an unprivileged container.

use super::{Phase, Protection, Setup, Steps};
use crate::sandbox::layers::Layers;
use crate::sandbox::ruleset;

pub(in crate::sandbox) struct Landlock;

impl Protection for Landlock {
    fn name(&self) -> &'static str {
        "landlock"
    }

    fn detect(&self, machine: &Layers) -> Result<String, String> {
        ruleset::describe(&machine.landlock)
    }

    fn cost_when_missing(&self) -> Option<&'static str> {
        Some("student code can read and write every file its user can")
    }

    fn apply(&self, setup: &Setup, steps: &mut Steps) -> Result<(), String> {
        if let Some(rules) = &setup.landlock {
            // Built now, before the user change, which may not open every path it allows.
            let armed = ruleset::Armed::build(rules)?;
            steps.add(Phase::Landlock, move || armed.enforce());
        }
        Ok(())
    }
}

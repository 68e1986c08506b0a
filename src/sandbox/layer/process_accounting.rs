//! Process accounting (`acct.rs`): the kernel's BSD accounting for the run's PID namespace,
//! turned on by the sandbox's inner init, counts every process a run created, however short.
//! It acts on the namespace, not on the program, so it adds no step.

use super::Protection;
use crate::sandbox::layers::Layers;

pub(in crate::sandbox) struct ProcessAccounting;

impl Protection for ProcessAccounting {
    fn name(&self) -> &'static str {
        "process accounting"
    }

    fn detect(&self, machine: &Layers) -> Result<String, String> {
        super::Layer::PidNamespace
            .protection()
            .detect(machine)
            .and_then(|_| machine.accounting.clone())
            .map(|()| {
                "exact count of the processes a run created, threads told apart, from the \
                 kernel's accounting for its PID namespace"
                    .to_string()
            })
    }

    // Without accounting the audit still counts (see the process audit's row).
}

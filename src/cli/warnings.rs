//! What the command line warns of before grading, on stderr: a machine with fewer cores than
//! the spec's speedup tests need, and every guarantee this machine's shape lacks (a TA must not
//! discover it afterwards). The facts come from [`crate::sandbox::shape`]; this owns only when
//! and how they are said.

use crate::sandbox::{shape, Layers, Shape};
use crate::spec::Spec;

/// The cores warning for `spec` on this machine, if any.
pub(super) fn cores(spec: &Spec) -> Option<String> {
    shape::cores_warning(super::default_jobs(), spec.largest_speedup_workers())
}

/// Prints the cores warning for `spec`, if any.
pub(super) fn warn_cores(spec: &Spec) {
    if let Some(w) = cores(spec) {
        eprintln!("labgrade: warning: {w}");
    }
}

/// Prints what grading here lacks, layer by layer, before a batch starts.
pub(super) fn warn_missing_guarantees() {
    // Which user builds run as is known only once checked against the toolchain.
    crate::build::check_build_user(&crate::build::BuildCache::default_location(
        crate::stage::Skeleton::builtin(),
    ));
    let layers = Layers::get();
    let lacking: Vec<String> = layers
        .report()
        .iter()
        .filter(|l| !l.active)
        .filter_map(shape::costs)
        .collect();
    if lacking.is_empty() {
        return;
    }
    eprintln!(
        "labgrade: warning: this machine is {}; grading here lacks:",
        Shape::of(layers).name()
    );
    for cost in lacking {
        eprintln!("  - {cost}");
    }
    eprintln!("  (`labgrade doctor` says why and how to get the missing layers)");
}

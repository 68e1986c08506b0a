//! Environment switches: a variable is *on* when it is set, not empty and not `0`
//! (`NO_COLOR=1`, `LABGRADE_LEGACY_LANE=1`). One rule for every switch the grader reads.

/// Whether the environment variable `var` is on.
pub fn on(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0")
}

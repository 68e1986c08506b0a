//! The deadline as a student's check shows it: still ahead, in the grace period, or passed.
//! Deadline logic owns it; the reports only print it.

use std::time::Duration;

/// How the deadline stands, for the student's check ([`countdown`](super::countdown) makes it from
/// the spec's `[deadline]` and the clock; the reports show it).
#[derive(Debug, Clone, PartialEq)]
pub enum Countdown {
    /// `due` (as the course wrote it) is `left` away.
    Left { due: String, left: Duration },
    /// `due` passed `ago`, within the grace period: on time for `grace_left` more.
    Grace {
        due: String,
        ago: Duration,
        grace_left: Duration,
    },
    /// `due` passed `ago`, beyond any grace period: a submission now is late.
    Passed {
        due: String,
        ago: Duration,
        /// What a submission now loses (0: the policy takes nothing).
        penalty_fraction: f64,
        /// The late policy in words.
        policy: String,
    },
}

//! Cores a grading's shared tests may borrow while other gradings of the process leave them idle.
//!
//! Every grading's first test thread, and every build, holds a core for as long as it runs; a
//! grading's further test threads borrow one per test, only while fewer than the machine's
//! cores are held in this process. So a batch with as many workers as cores runs one test per
//! worker while all are testing, and a worker alone (the batch's last submissions, workers
//! still building or waiting for the timing lane) runs several at once; `grade` on its own runs
//! as many as there are cores. Other processes' work is not counted (the timing lane is what
//! keeps measurements apart).
//!
//! Counting only: this module never runs anything.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How often a thread waiting for a core looks again.
pub(super) const POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Cores held in this process.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// A core held until dropped.
pub(super) struct Core;

impl Drop for Core {
    fn drop(&mut self) {
        HELD.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Holds a core whatever the count (a grading's first thread, a build: never made to wait).
pub(super) fn hold() -> Core {
    HELD.fetch_add(1, Ordering::SeqCst);
    Core
}

/// A core when fewer than `cores` are held, else `None`.
pub(super) fn borrow(cores: usize) -> Option<Core> {
    HELD.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
        (held < cores).then_some(held + 1)
    })
    .ok()
    .map(|_| Core)
}

/// The machine's cores.
pub(super) fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, so no other test of this binary moves the process-wide count meanwhile.
    #[test]
    fn borrowing_stops_at_the_cores_and_holding_never_waits() {
        let before = HELD.load(Ordering::SeqCst);
        let cores = before + 2;
        let a = borrow(cores).expect("a free core");
        let b = borrow(cores).expect("a second free core");
        assert!(borrow(cores).is_none(), "more than the cores borrowed");
        let held = hold();
        assert_eq!(HELD.load(Ordering::SeqCst), before + 3);
        drop((a, held));
        assert!(borrow(cores).is_some_and(|c| {
            drop(c);
            true
        }));
        drop(b);
        assert_eq!(HELD.load(Ordering::SeqCst), before);
    }
}

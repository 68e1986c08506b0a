//! The exclusive timing lane: while a speedup is timed (or a race probe needs every core), no
//! other grading work runs on the machine, from this labgrade process or any other.
//!
//! Two advisory file locks in the build cache, honoured by every labgrade process on the machine:
//! ordinary runs hold the *lane* shared; a timed measurement holds it exclusively. A *turnstile*
//! taken briefly before every shared acquisition, and held by the exclusive holder while it waits,
//! gives the measurement priority: without it a steady stream of short runs from other workers
//! could keep the shared lock held forever.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// The lane's lock files.
#[derive(Debug, Clone)]
pub struct Lane {
    lane: PathBuf,
    turnstile: PathBuf,
}

/// Held while ordinary work runs; many at once.
pub struct Shared {
    _lane: Flock<File>,
}

/// Held while timing; alone on the machine.
pub struct Exclusive {
    _turnstile: Flock<File>,
    _lane: Flock<File>,
}

/// A place in the lane, shared or exclusive.
pub enum Slot {
    Shared(Shared),
    Exclusive(Exclusive),
}

impl Lane {
    /// The lane alone when `exclusive`, else shared.
    pub fn take(&self, exclusive: bool) -> io::Result<Slot> {
        Ok(if exclusive {
            Slot::Exclusive(self.exclusive()?)
        } else {
            Slot::Shared(self.shared()?)
        })
    }

    /// The lane whose lock files live in `dir` (created if needed).
    pub fn in_dir(dir: &Path) -> io::Result<Lane> {
        std::fs::create_dir_all(dir)?;
        Ok(Lane {
            lane: dir.join("timing-lane.lock"),
            turnstile: dir.join("timing-lane.turnstile"),
        })
    }

    fn lock(path: &Path, how: FlockArg) -> io::Result<Flock<File>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        Flock::lock(file, how).map_err(|(_, errno)| errno.into())
    }

    /// Waits until no measurement holds the lane, then holds it shared.
    pub fn shared(&self) -> io::Result<Shared> {
        let turnstile = Self::lock(&self.turnstile, FlockArg::LockExclusive)?;
        let lane = Self::lock(&self.lane, FlockArg::LockShared)?;
        drop(turnstile);
        Ok(Shared { _lane: lane })
    }

    /// Waits until every ordinary run has finished, and keeps new ones out, until dropped.
    pub fn exclusive(&self) -> io::Result<Exclusive> {
        let turnstile = Self::lock(&self.turnstile, FlockArg::LockExclusive)?;
        let lane = Self::lock(&self.lane, FlockArg::LockExclusive)?;
        Ok(Exclusive {
            _turnstile: turnstile,
            _lane: lane,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn shared_holders_coexist_and_exclusive_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let lane = Lane::in_dir(dir.path()).unwrap();
        let a = lane.shared().unwrap();
        let b = lane.shared().unwrap();
        let got = Arc::new(AtomicBool::new(false));
        let t = {
            let (lane, got) = (lane.clone(), got.clone());
            std::thread::spawn(move || {
                let _x = lane.exclusive().unwrap();
                got.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !got.load(Ordering::SeqCst),
            "exclusive while shared holders run"
        );
        drop((a, b));
        t.join().unwrap();
        assert!(got.load(Ordering::SeqCst));
    }

    #[test]
    fn a_waiting_measurement_keeps_new_shared_holders_out() {
        let dir = tempfile::tempdir().unwrap();
        let lane = Lane::in_dir(dir.path()).unwrap();
        let first = lane.shared().unwrap();
        let measuring = {
            let lane = lane.clone();
            std::thread::spawn(move || {
                let x = lane.exclusive().unwrap();
                std::thread::sleep(Duration::from_millis(200));
                drop(x);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        let late = Arc::new(AtomicBool::new(false));
        let newcomer = {
            let (lane, late) = (lane.clone(), late.clone());
            std::thread::spawn(move || {
                let _s = lane.shared().unwrap();
                late.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !late.load(Ordering::SeqCst),
            "a newcomer overtook the waiting measurement"
        );
        drop(first);
        measuring.join().unwrap();
        newcomer.join().unwrap();
        assert!(late.load(Ordering::SeqCst));
    }
}

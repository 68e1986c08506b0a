//! The timing lanes: while a speedup is timed (or a race probe needs its cores), no other
//! grading work runs on the cores it measures on, from this labgrade process or any other.
//!
//! The machine's cores are divided into lanes of the spec's width ([`layout::Layout`]): on a
//! machine with fewer than two lanes' worth of cores (2 cores, a spec timing 2 workers) that is
//! one lane of every core, a measurement holds the whole machine, and nothing is pinned. With
//! more, ⌊C / width⌋ measurements run at once, each pinned to its own lane's cores
//! ([`pin::Pinned`]), while ordinary work runs on the lanes nobody measures on.
//!
//! Two advisory file locks per core in the build cache, honoured by every labgrade process on
//! the machine: ordinary work holds its cores' *lane* locks shared; a measurement holds its
//! lane's exclusively. A per-core *turnstile*, taken briefly before every shared acquisition and
//! held by the exclusive holder while it waits, gives the measurement priority: without it a
//! steady stream of short runs could keep the shared lock held forever. Locks are per core, not
//! per lane, so processes that divide the machine differently (another spec's width, another
//! affinity) still exclude each other on every core they share. Cores are always locked in
//! ascending order, so no two holders wait for each other.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

pub mod layout;
pub mod pin;

use layout::Layout;
use pin::Pinned;

/// The lanes of this machine and where their lock files live.
#[derive(Debug, Clone)]
pub struct Lane {
    dir: PathBuf,
    layout: Layout,
    /// Whether slots pin their thread: several lanes, all over cores this process has
    /// (decided once, not at every slot).
    pins: bool,
}

/// Held while ordinary work runs; many at once. Pins the thread that took it to the cores of
/// the lanes it holds (several lanes only).
pub struct Shared {
    _locks: Vec<Flock<File>>,
    cores: Vec<usize>,
    _pinned: Option<Pinned>,
}

/// Held while timing; alone on its lane's cores, and pinned to them (several lanes only).
pub struct Exclusive {
    _turnstiles: Vec<Flock<File>>,
    _locks: Vec<Flock<File>>,
    cores: Vec<usize>,
    _pinned: Option<Pinned>,
}

impl Shared {
    /// The cores this work may run on.
    pub fn cores(&self) -> &[usize] {
        &self.cores
    }
}

impl Exclusive {
    /// The cores of the lane.
    pub fn cores(&self) -> &[usize] {
        &self.cores
    }
}

/// A place in the lanes, shared or exclusive.
pub enum Slot {
    Shared(Shared),
    Exclusive(Exclusive),
}

impl Slot {
    /// The cores the holder may run on.
    pub fn cores(&self) -> &[usize] {
        match self {
            Slot::Shared(s) => s.cores(),
            Slot::Exclusive(x) => x.cores(),
        }
    }
}

impl Lane {
    /// The lanes whose lock files live in `dir` (created if needed), for measurements of
    /// `width` cores, over the cores this process may run on.
    pub fn in_dir(dir: &Path, width: usize) -> io::Result<Lane> {
        Lane::over(dir, &pin::allowed(), width)
    }

    /// The lanes over the given cores. Tests lay out machines they do not have: their locks
    /// work, but a layout with a core this process may not use pins nothing.
    pub fn over(dir: &Path, cores: &[usize], width: usize) -> io::Result<Lane> {
        std::fs::create_dir_all(dir)?;
        let layout = Layout::new(cores, width);
        let allowed = pin::allowed();
        let pins = layout.pinned()
            && layout
                .lanes
                .iter()
                .flatten()
                .chain(&layout.spare)
                .all(|c| allowed.contains(c));
        Ok(Lane {
            dir: dir.to_path_buf(),
            layout,
            pins,
        })
    }

    /// How the machine is divided.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The lane alone when `exclusive`, else shared.
    pub fn take(&self, exclusive: bool) -> io::Result<Slot> {
        Ok(if exclusive {
            Slot::Exclusive(self.exclusive()?)
        } else {
            Slot::Shared(self.shared()?)
        })
    }

    fn lock(&self, core: usize, what: &str, how: FlockArg) -> io::Result<Option<Flock<File>>> {
        let path = self.dir.join(format!("timing-lane.core{core}.{what}"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match Flock::lock(file, how) {
            Ok(lock) => Ok(Some(lock)),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(errno.into()),
        }
    }

    /// Every core's turnstile of `cores` without waiting, or none of them.
    fn try_turnstiles(&self, cores: &[usize]) -> io::Result<Option<Vec<Flock<File>>>> {
        let mut got = Vec::with_capacity(cores.len());
        for &c in cores {
            match self.lock(c, "turnstile", FlockArg::LockExclusiveNonblock)? {
                Some(t) => got.push(t),
                None => return Ok(None),
            }
        }
        Ok(Some(got))
    }

    /// Every core's turnstile of `cores`, waiting for each in turn (ascending).
    fn turnstiles(&self, cores: &[usize]) -> io::Result<Vec<Flock<File>>> {
        cores
            .iter()
            .map(|&c| {
                self.lock(c, "turnstile", FlockArg::LockExclusive)
                    .map(|t| t.expect("a blocking lock is taken"))
            })
            .collect()
    }

    fn lane_locks(&self, cores: &[usize], how: FlockArg) -> io::Result<Vec<Flock<File>>> {
        cores
            .iter()
            .map(|&c| {
                self.lock(c, "lock", how)
                    .map(|l| l.expect("a blocking lock is taken"))
            })
            .collect()
    }

    /// The lane a process waits for when every lane is taken, spread by process id (on one
    /// lane, that lane).
    fn fallback(&self) -> &[usize] {
        &self.layout.lanes[std::process::id() as usize % self.layout.lanes.len()]
    }

    /// Holds shared every lane that no measurement holds or waits for, without waiting; where
    /// every lane is measured on and there is no spare core, waits for one lane. Pins the
    /// calling thread to those lanes and the spare cores (several lanes only).
    pub fn shared(&self) -> io::Result<Shared> {
        let mut locks = Vec::new();
        let mut cores = Vec::new();
        for lane in &self.layout.lanes {
            if let Some(turnstiles) = self.try_turnstiles(lane)? {
                locks.extend(self.lane_locks(lane, FlockArg::LockShared)?);
                drop(turnstiles);
                cores.extend_from_slice(lane);
            }
        }
        if cores.is_empty() && self.layout.spare.is_empty() {
            let lane = self.fallback();
            let turnstiles = self.turnstiles(lane)?;
            locks.extend(self.lane_locks(lane, FlockArg::LockShared)?);
            drop(turnstiles);
            cores.extend_from_slice(lane);
        }
        cores.extend_from_slice(&self.layout.spare);
        cores.sort_unstable();
        let pinned = self.pin(&cores)?;
        Ok(Shared {
            _locks: locks,
            cores,
            _pinned: pinned,
        })
    }

    /// Waits until some lane has no ordinary work on it, keeps new ordinary work off it until
    /// dropped, and pins the calling thread to its cores (several lanes only). A lane nobody
    /// measures on or waits for is taken first.
    pub fn exclusive(&self) -> io::Result<Exclusive> {
        let mut chosen = None;
        for lane in &self.layout.lanes {
            if let Some(turnstiles) = self.try_turnstiles(lane)? {
                chosen = Some((lane.as_slice(), turnstiles));
                break;
            }
        }
        let (lane, turnstiles) = match chosen {
            Some(c) => c,
            None => {
                let lane = self.fallback();
                (lane, self.turnstiles(lane)?)
            }
        };
        let locks = self.lane_locks(lane, FlockArg::LockExclusive)?;
        let pinned = self.pin(lane)?;
        Ok(Exclusive {
            _turnstiles: turnstiles,
            _locks: locks,
            cores: lane.to_vec(),
            _pinned: pinned,
        })
    }

    fn pin(&self, cores: &[usize]) -> io::Result<Option<Pinned>> {
        if !self.pins {
            return Ok(None);
        }
        Pinned::to(cores).map(Some)
    }
}

#[cfg(test)]
mod tests;

//! The reference's times on this machine, kept on disk between grader processes: a student's
//! next `labgrade check`, a batch run again, the shards of a Slurm array on one node do not
//! time the reference again on every input (about 4 s of the built-in spec's gradings on a
//! 2-core machine, a third of a grading).
//!
//! One file per machine and reference, `<cache>/reference-times/<hash>.json`, the hash of
//! labgrade's version, the machine (host name, CPU model, cores this process may use) and the
//! reference (the built-in yardstick's source, or the staff reference's `pool_sum.rs`). A time
//! is kept a day: the machine's state drifts (a laptop on battery, a busier server), and a
//! limit derived from a time measured on a quieter machine is the one risk. That risk is
//! already covered where it matters: a test stopped at a derived limit times the reference
//! again before it is called a hang (`limits::recheck`), and that time replaces the kept one.
//!
//! The file is the grader's own (its cache), but it is still read with a bound and parsed
//! leniently: an unreadable, oversized or foreign file is ignored, never an error, and the
//! reference is timed as if there were none.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::fnv::Fnv128;

/// How long a kept time is used.
const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// The largest file read (a spec has tens of inputs; an entry is under 100 bytes).
const MAX_BYTES: u64 = 1 << 20;
/// The file format's version: another one is ignored.
const FORMAT: u32 = 1;

/// One input's time as kept: the reference ended after `took_ms`, or was still running after
/// `over_ms`; measured at `at` (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Kept {
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_ms: Option<u64>,
    pub at: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    format: u32,
    /// For whoever opens the file: which machine and reference it is for.
    machine: String,
    reference: String,
    times: Vec<Kept>,
}

/// Where one machine's times for one reference are kept.
#[derive(Debug, Clone)]
pub(super) struct Remembered {
    path: PathBuf,
    machine: String,
    reference: String,
}

impl Remembered {
    /// The store under `cache_root` for the reference `which` (`None`: the built-in
    /// yardstick) on this machine.
    pub(super) fn at(cache_root: &Path, which: Option<&Path>) -> Remembered {
        let machine = machine();
        let reference = match which {
            None => format!(
                "built-in yardstick {}",
                hex(crate::reference::YARDSTICK_SOURCE.as_bytes())
            ),
            Some(dir) => {
                let source = dir.join("src/bin/pool_sum.rs");
                let bytes =
                    crate::untrusted_file::read_capped(&source, MAX_BYTES).unwrap_or_default();
                format!("{} {}", dir.display(), hex(&bytes))
            }
        };
        let mut h = Fnv128::new();
        for part in [crate::version::VERSION, &machine, &reference] {
            h.write_field(part.as_bytes());
        }
        Remembered {
            path: cache_root
                .join("reference-times")
                .join(format!("{}.json", h.hex())),
            machine,
            reference,
        }
    }

    /// The times still young enough to use; none when the file is missing or unusable.
    pub(super) fn load(&self) -> Vec<Kept> {
        let now = now();
        let Ok(bytes) = crate::untrusted_file::read_capped(&self.path, MAX_BYTES) else {
            return Vec::new();
        };
        match serde_json::from_slice::<File>(&bytes) {
            Ok(f) if f.format == FORMAT && f.machine == self.machine => f
                .times
                .into_iter()
                .filter(|k| {
                    now.saturating_sub(k.at) < KEPT_FOR.as_secs()
                        && k.at <= now
                        && (k.took_ms.is_some() != k.over_ms.is_some())
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Keeps `times` (replacing the file whole; a write that fails only means the next process
    /// times the reference again).
    pub(super) fn save(&self, times: Vec<Kept>) {
        let file = File {
            format: FORMAT,
            machine: self.machine.clone(),
            reference: self.reference.clone(),
            times,
        };
        let Ok(text) = serde_json::to_vec_pretty(&file) else {
            return;
        };
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
            forget_old(dir);
        }
        let _ = crate::atomic_file::write(&self.path, &text);
    }
}

/// Removes the files of `dir` not written for longer than a time is kept (a reference that
/// moved, a machine renamed, an older labgrade): nothing in them would be used again.
fn forget_old(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.take(10_000).flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > KEPT_FOR);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Seconds since the epoch.
pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    let mut h = Fnv128::new();
    h.write(bytes);
    h.hex()
}

/// This machine as far as the reference's speed goes: its name, its CPU model and the cores
/// this process may use (a Slurm allocation or `taskset` changes the last).
fn machine() -> String {
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cpuinfo =
        crate::untrusted_file::read_capped(Path::new("/proc/cpuinfo"), 1 << 20).unwrap_or_default();
    let model = String::from_utf8_lossy(&cpuinfo)
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{host} / {model} / {cores} cores")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(args: &[&str], took_ms: u64, at: u64) -> Kept {
        Kept {
            args: args.iter().map(|a| a.to_string()).collect(),
            took_ms: Some(took_ms),
            over_ms: None,
            at,
        }
    }

    #[test]
    fn times_are_kept_a_day_for_this_machine_and_reference_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Remembered::at(dir.path(), None);
        assert!(store.load().is_empty(), "nothing kept yet");
        let now = now();
        store.save(vec![
            kept(&["10", "2"], 12, now),
            kept(&["7500000000", "2"], 1810, now - 3600),
            // Too old, from the future, or neither took nor over: not used.
            kept(&["1", "1"], 5, now - 2 * 24 * 3600),
            kept(&["2", "1"], 5, now + 3600),
            Kept {
                args: vec!["3".into()],
                took_ms: None,
                over_ms: None,
                at: now,
            },
        ]);
        let loaded = store.load();
        assert_eq!(
            loaded,
            [
                kept(&["10", "2"], 12, now),
                kept(&["7500000000", "2"], 1810, now - 3600)
            ]
        );
        // Another reference has a file of its own.
        let course = Remembered::at(dir.path(), Some(Path::new("/staff/reference")));
        assert_ne!(course.path, store.path);
        assert!(course.load().is_empty());
    }

    #[test]
    fn a_broken_or_foreign_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Remembered::at(dir.path(), None);
        std::fs::create_dir_all(store.path.parent().unwrap()).unwrap();
        for text in [
            "not json".to_string(),
            "{}".to_string(),
            // Another machine's (a shared file system): not this one's times.
            format!(
                "{{\"format\":1,\"machine\":\"elsewhere\",\"reference\":\"r\",\"times\":[{{\"args\":[\"1\"],\"took_ms\":1,\"at\":{}}}]}}",
                now()
            ),
        ] {
            std::fs::write(&store.path, text).unwrap();
            assert!(store.load().is_empty());
        }
        // Larger than any real file: not read at all.
        std::fs::write(&store.path, vec![b' '; (MAX_BYTES + 1) as usize]).unwrap();
        assert!(store.load().is_empty());
    }
}

//! The four workloads and what a perfect audit would report for each; the program itself is
//! `program.rs`, compiled once per bench run with `rustc -O`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One workload of the bench: a mode of the compiled program.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The program's argument.
    pub mode: &'static str,
    /// What the tables call it.
    pub label: &'static str,
    pub truth: Truth,
}

/// What happened in every run of a workload (the program is deterministic in these).
#[derive(Debug, Clone, Copy)]
pub struct Truth {
    /// Processes created besides the main one.
    pub workers: u32,
    /// Threads created besides each process's main thread.
    pub threads: u32,
    /// Most processes alive at once, the main one included: an upper bound where it depends
    /// on scheduling (a worker may end before the last one is forked).
    pub max_alive: &'static str,
    /// A process outlived the main one.
    pub leak: bool,
}

pub const WORKLOADS: [Workload; 4] = [
    Workload {
        mode: "pool",
        label: "(a) pool: 8 workers x ~5 ms",
        truth: Truth {
            workers: 8,
            threads: 0,
            max_alive: "<=9",
            leak: false,
        },
    },
    Workload {
        mode: "writers",
        label: "(b) 16 short-lived writers",
        truth: Truth {
            workers: 16,
            threads: 0,
            max_alive: "<=17",
            leak: false,
        },
    },
    Workload {
        mode: "threads",
        label: "(c) 4 threads, no process",
        truth: Truth {
            workers: 0,
            threads: 4,
            max_alive: "1",
            leak: false,
        },
    },
    Workload {
        mode: "daemon",
        label: "(d) leaked double-fork daemon",
        truth: Truth {
            workers: 2,
            threads: 0,
            max_alive: "3",
            leak: true,
        },
    },
];

/// Compiles `program.rs` into `dir` and returns the binary. The directory and binary are made
/// world-readable: the full sandbox runs the workload as `nobody`.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    let source = dir.join("program.rs");
    std::fs::write(&source, include_str!("program.rs"))
        .map_err(|e| format!("writing {}: {e}", source.display()))?;
    let binary = dir.join("audit_workload");
    let status = Command::new("rustc")
        .args(["-O", "--edition", "2021", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .map_err(|e| format!("starting rustc: {e}"))?;
    if !status.success() {
        return Err(format!("rustc failed on {}: {status}", source.display()));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
    Ok(binary)
}

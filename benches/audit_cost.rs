//! What auditing a run's processes costs, and what each way of doing it sees (issue #3: "ptrace
//! fork events, the PID namespace and the cgroup are all candidates: measure what they cost").
//!
//! Four workloads (`audit_cost/program.rs`, compiled once with `rustc -O`): a Lab-10 pool of 8
//! workers, 16 short-lived writers, 4 threads and no process, a leaked double-fork daemon. Five
//! candidates, interleaved run by run so a busy neighbour weighs on all alike, in a new random
//! order each round so that no candidate always follows the same other:
//! 1. bare `std::process::Command`, no audit: the baseline;
//! 2. ptrace (`audit_cost/tracer.rs`): follows every fork and clone;
//! 3. the PID namespace + `/proc` scans: `labgrade::sandbox::run` with `Isolation::Full`, the
//!    path labgrade takes, and `Isolation::Build` (namespaces + cgroup, no audit, no `nobody`,
//!    no seccomp) to show the audit's share;
//! 4. a v1 `pids` + `cpuacct` cgroup polled every 2 ms (`audit_cost/cgroup_poll.rs`).
//!
//! For each: the median wall time per run, the overhead against bare, and per workload what
//! the audit counted against the truth (worker processes, threads, most alive at once, the leak).
//!
//! Run with: `cargo bench --bench audit_cost` (root, for the namespaces and the cgroup; uses the
//! release `labgrade` binary as the sandbox init). `AUDIT_COST_RUNS` sets the runs per workload
//! and candidate (default 100), `AUDIT_COST_ONLY` a comma-separated list of workloads
//! (`pool,writers,threads,daemon`).

// A bench's root file looks for modules beside it; these live in `benches/audit_cost/`.
#[path = "audit_cost/cgroup_poll.rs"]
mod cgroup_poll;
#[path = "audit_cost/report.rs"]
mod report;
#[path = "audit_cost/tracer.rs"]
mod tracer;
#[path = "audit_cost/workload.rs"]
mod workload;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use labgrade::sandbox::{self, Ending, Isolation, Job, Layers, Limits, Visible};
use labgrade::stats::Shuffler;

use cgroup_poll::BenchCgroup;
use workload::WORKLOADS;

const WARMUP: usize = 5;

/// What one audited run reported; `None` where the candidate cannot tell.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Processes created besides the main one.
    pub workers: Option<u32>,
    /// Threads besides each process's main thread.
    pub threads: Option<u32>,
    /// Most processes alive at once, the main one included.
    pub max_alive: Option<u32>,
    /// Processes still alive when the main one ended.
    pub leaked: Option<u32>,
    /// CPU time of the tree (bare: only of the processes the main one waited for).
    pub cpu: Option<Duration>,
    /// CPU time of the bench's own thread during the run: the tracer, the poller, the spawn.
    pub grader_cpu: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    Bare,
    Ptrace,
    PidNamespace,
    SandboxNoAudit,
    Cgroup,
}

impl Candidate {
    pub fn label(self) -> &'static str {
        match self {
            Candidate::Bare => "bare `Command` (no audit)",
            Candidate::Ptrace => "ptrace (fork/clone/exit events)",
            Candidate::PidNamespace => "PID namespace + /proc scans (`Full`)",
            Candidate::SandboxNoAudit => "sandbox without audit (`Build`)",
            Candidate::Cgroup => "cgroup v1 pids+cpuacct, polled",
        }
    }
}

/// Runs one workload once through one candidate: its wall time and what it observed.
fn run_once(
    candidate: Candidate,
    program: &Path,
    mode: &str,
    group: Option<&BenchCgroup>,
) -> Result<(Duration, Observation), String> {
    let started = Instant::now();
    let cpu_before = thread_cpu();
    let mut observation = match candidate {
        Candidate::Bare => bare(program, mode),
        Candidate::Ptrace => tracer::run(program, mode).map_err(|e| format!("ptrace: {e}")),
        Candidate::PidNamespace => sandboxed(program, mode, Isolation::Full),
        Candidate::SandboxNoAudit => sandboxed(program, mode, Isolation::Build),
        Candidate::Cgroup => group
            .expect("only offered with a group")
            .run(program, mode)
            .map_err(|e| format!("cgroup: {e}")),
    }?;
    let wall = started.elapsed();
    observation.grader_cpu = thread_cpu().saturating_sub(cpu_before);
    Ok((wall, observation))
}

/// CPU time of the calling thread so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_THREAD_CPUTIME_ID always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The baseline; its CPU time is the `rusage` of what the main process waited for.
fn bare(program: &Path, mode: &str) -> Result<Observation, String> {
    let child = Command::new(program)
        .arg(mode)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("bare: {e}"))?;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 on our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    if pid < 0 {
        return Err(format!("bare: wait4: {}", std::io::Error::last_os_error()));
    }
    if std::process::ExitStatus::from_raw(status).code() != Some(0) {
        return Err(format!("bare: {mode} ended with wait status {status}"));
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    Ok(Observation {
        cpu: Some(cpu),
        ..Observation::default()
    })
}

fn sandboxed(program: &Path, mode: &str, isolation: Isolation) -> Result<Observation, String> {
    let job = Job {
        program: program.to_path_buf(),
        args: vec![mode.into()],
        cwd: "/".into(),
        env: sandbox::minimal_env(),
        limits: Limits::for_run(Duration::from_secs(10)),
        isolation,
        keep_visible: vec![Visible::read_only(program)],
    };
    let out = sandbox::run(&job).map_err(|e| format!("sandbox: {e}"))?;
    if out.ending != Ending::Exited(0) {
        return Err(format!("sandbox: {mode} ended {:?}", out.ending));
    }
    let audit = out.audit.as_ref();
    Ok(Observation {
        workers: audit.map(|a| a.workers_created()),
        threads: audit.map(|a| a.threads_created()),
        max_alive: audit.map(|a| a.max_alive),
        leaked: audit.map(|a| a.leaked),
        cpu: Some(out.cpu),
        ..Observation::default()
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

fn main() -> Result<(), String> {
    std::env::set_var("LABGRADE_INIT", env!("CARGO_BIN_EXE_labgrade"));
    let runs: usize = std::env::var("AUDIT_COST_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let program = workload::build(dir.path())?;

    let mut candidates = vec![Candidate::Bare, Candidate::Ptrace];
    if Layers::get().isolated() {
        candidates.extend([Candidate::PidNamespace, Candidate::SandboxNoAudit]);
    } else {
        println!("PID namespace: skipped ({:?})", Layers::get().namespaces);
    }
    let group = match BenchCgroup::create() {
        Ok(g) => {
            candidates.push(Candidate::Cgroup);
            Some(g)
        }
        Err(e) => {
            println!("cgroup: skipped ({e})");
            None
        }
    };

    println!(
        "audit cost: {runs} runs per workload and candidate, interleaved; load average at start: {}",
        load_average()
    );
    let only = std::env::var("AUDIT_COST_ONLY").ok();
    let chosen = WORKLOADS.iter().filter(|w| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|m| m == w.mode))
    });
    let mut results = Vec::new();
    for w in chosen {
        let mut samples = report::Samples::new(&candidates);
        // Each round runs the candidates in a new random order. A fixed order charged one
        // candidate for its predecessor: on this VM a run that starts after a slow or idle
        // moment (ptrace's stops) finds a halted vCPU and takes ~10 ms longer, which was once
        // read as the audit's cost. A rotation would not help: it keeps the neighbours.
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        let mut shuffler = Shuffler::new(0x5eed);
        for round in 0..WARMUP + runs {
            shuffler.shuffle(&mut order);
            for &i in &order {
                let c = candidates[i];
                let (wall, obs) = run_once(c, &program, w.mode, group.as_ref())?;
                if round >= WARMUP {
                    samples.push(i, wall, obs);
                }
            }
        }
        results.push((*w, samples));
    }
    let load_end = load_average();
    drop(group);
    sandbox::remove_idle_cgroups();
    for (w, samples) in &results {
        report::print_workload(w, samples);
    }
    report::print_overheads(&results);
    println!("\nload average at end: {load_end}");
    Ok(())
}

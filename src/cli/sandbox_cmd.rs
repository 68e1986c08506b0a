//! `labgrade doctor` (which protection layers are active here, and why not) and
//! `labgrade sandbox-run` (one command through the sandbox, its outcome as JSON: for the
//! sandbox's own tests and benchmarks, and for a TA who wants to see what a program does).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use colored::Colorize;
use serde_json::json;

use super::{Exit, SpecArgs};
use crate::sandbox::shape::Facts;
use crate::sandbox::{self, Ending, Isolation, Job, Layers, Limits, Refusal, Shape, Visible};

#[derive(Args, Debug)]
pub(super) struct DoctorArgs {
    #[command(flatten)]
    specs: SpecArgs,
    /// Exit 2 (after the report) when this machine has fewer cores than the spec's largest
    /// speedup test has workers: for an autograder that must not hand out undecided
    /// speedups (gradescope/run_autograder).
    #[arg(long)]
    require_cores: bool,
}

/// Prints the machine's shape, every layer as active or missing with the reason, what would
/// give the missing ones, and whether the cores suffice for the spec's speedup tests; removes
/// the temporary directories of graders that died (see [`crate::tempdirs`]) and says so.
pub(super) fn doctor(args: DoctorArgs) -> Result<Exit> {
    leftovers();
    // The "build user" row needs the probe of the build user against the toolchain.
    crate::build::check_build_user(&crate::build::BuildCache::default_location(
        crate::stage::Skeleton::builtin(),
    ));
    let layers = Layers::get();
    let shape = Shape::of(layers);
    println!("{} {}", "machine shape:".bold(), shape.name());
    println!("{}", "labgrade sandbox layers on this machine".bold());
    for l in layers.report() {
        let mark = if l.active {
            "active ".green().bold()
        } else {
            "missing".yellow().bold()
        };
        println!("  {mark}  {:<26} {}", l.name, l.detail);
    }
    if layers.namespaces.is_err() {
        let refusal = Refusal::of(&Facts::read());
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/usr/local/bin/labgrade".into());
        println!(
            "\n{} {}",
            "why namespaces are missing:".bold(),
            refusal.explain()
        );
        println!("{}", "to get them:".bold());
        for fix in refusal.fixes(&exe) {
            println!("  - {fix}");
        }
    }
    if !layers.isolated() {
        println!(
            "\nGrading works without the missing layers, with weaker isolation: run untrusted \
             submissions in a throw-away VM or container."
        );
    }
    let spec = args.specs.load()?;
    let cores = super::default_jobs();
    match super::warnings::cores(&spec) {
        Some(w) if args.require_cores => {
            println!("\n{} {w}", "cores:".red().bold());
            eprintln!("labgrade: error: too few cores to grade this spec: {w}");
            return Ok(Exit::Error);
        }
        Some(w) => println!("\n{} {w}", "cores:".yellow().bold()),
        None => println!(
            "\n{} {cores} available{}",
            "cores:".bold(),
            spec.largest_speedup_workers()
                .map(|p| format!(", enough for the spec's speedup tests ({p} workers at most)"))
                .unwrap_or_default()
        ),
    }
    let lanes = crate::lane::layout::Layout::new(&crate::lane::pin::allowed(), spec.lane_width());
    println!("{} {}", "timing lanes:".bold(), lanes.describe());
    if lanes.pinned() && layers.status(crate::sandbox::Layer::Seccomp).is_err() {
        // The pinning binds a program only where the seccomp layer refuses `sched_setaffinity`.
        println!(
            "  {} no seccomp filter here: a program can leave its lane's cores \
             and disturb the other lanes' timings (not their isolation)",
            "note:".yellow().bold()
        );
    }
    Ok(Exit::Pass)
}

/// Sweeps the leftovers of dead graders, one line each.
fn leftovers() {
    let swept = crate::tempdirs::sweep_leftovers();
    for path in &swept.removed {
        println!(
            "removed {}: left by a grader that is no longer running",
            path.display()
        );
    }
    for (path, e) in &swept.failed {
        println!(
            "{} could not remove {}, left by a grader that is no longer running: {e}",
            "warning:".yellow().bold(),
            path.display()
        );
    }
}

#[derive(Args, Debug)]
pub(super) struct SandboxRunArgs {
    /// Which layers to use.
    #[arg(long, value_enum, default_value = "full")]
    isolation: IsolationArg,
    /// Wall-clock limit in seconds.
    #[arg(long, default_value_t = 10.0)]
    wall: f64,
    /// Bytes kept of each output stream.
    #[arg(long, default_value_t = 1 << 20)]
    output_bytes: usize,
    /// Memory limit of the whole run in MiB (the cgroup's; default: the runs' usual limit).
    #[arg(long)]
    memory_mb: Option<u64>,
    /// Working directory (default: the current one).
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Run in a timing lane of WIDTH cores whose locks live in --lane-dir, as grading does
    /// (shared, or alone with --lane-exclusive); the JSON then says which cores it held and
    /// when (the lane tests of machines with many cores, `tests/vm/cgroup_v2.sh`).
    #[arg(long, value_name = "WIDTH", requires = "lane_dir")]
    lane: Option<usize>,
    /// The directory of the lanes' lock files (a build cache's root when grading).
    #[arg(long, value_name = "DIR")]
    lane_dir: Option<PathBuf>,
    /// Hold the lane alone, as a timing measurement does.
    #[arg(long, requires = "lane")]
    lane_exclusive: bool,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum IsolationArg {
    Full,
    Build,
    Portable,
}

/// Runs one command in the sandbox and prints what happened as JSON.
pub(super) fn sandbox_run(args: SandboxRunArgs) -> Result<Exit> {
    let mut limits = Limits::for_run(Duration::from_secs_f64(args.wall));
    limits.output_bytes = args.output_bytes;
    if let Some(mb) = args.memory_mb {
        limits.memory_bytes = Some(mb << 20);
    }
    let cwd = match args.cwd {
        Some(c) => c,
        None => std::env::current_dir()?,
    };
    let job = Job {
        program: PathBuf::from(&args.command[0]),
        args: args.command[1..].iter().map(Into::into).collect(),
        keep_visible: vec![
            Visible::read_only(&cwd),
            Visible::read_only(std::path::Path::new(&args.command[0])),
        ]
        .into_iter()
        .filter(|v| v.path.is_absolute() && v.path.exists() && v.path.parent().is_some())
        .collect(),
        cwd,
        env: sandbox::minimal_env(),
        limits,
        isolation: match args.isolation {
            IsolationArg::Full => Isolation::Full,
            IsolationArg::Build => Isolation::Build,
            IsolationArg::Portable => Isolation::Portable,
        },
    };
    let since_epoch_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    let slot = match (args.lane, &args.lane_dir) {
        (Some(width), Some(dir)) => {
            let lanes = crate::lane::Lane::in_dir(dir, width)?;
            Some((lanes.take(args.lane_exclusive)?, since_epoch_ms()))
        }
        _ => None,
    };
    let out = sandbox::run(&job)?;
    let lane = slot.map(|(slot, from_ms)| {
        json!({
            "exclusive": args.lane_exclusive,
            "cores": slot.cores(),
            "from_ms": from_ms,
            "to_ms": since_epoch_ms(),
        })
    });
    let ending = match &out.ending {
        Ending::Exited(c) => json!({ "exited": c }),
        Ending::Signaled(s) => json!({ "signaled": s }),
        Ending::TimedOut { after } => json!({ "timed_out_after_ms": after.as_millis() as u64 }),
        Ending::OutputLimit { stream, cap_bytes } => {
            json!({ "output_limit": { "stream": stream, "cap_bytes": cap_bytes } })
        }
    };
    let cgroup = out.cgroup.as_ref().map(|c| {
        json!({
            "cpu_ms": c.cpu.map(|d| d.as_millis() as u64),
            "memory_peak_bytes": c.memory_peak_bytes,
            "pids_refused": c.pids_refused,
            "oom_kills": c.oom_kills,
        })
    });
    let report = json!({
        "ending": ending,
        "stdout": out.stdout.lossy(),
        "stderr": out.stderr.lossy(),
        "stdout_truncated": out.stdout.truncated,
        "wall_ms": out.wall.as_secs_f64() * 1000.0,
        "cpu_ms": out.cpu.as_millis() as u64,
        "isolated": out.isolated,
        "audit": out.audit,
        "cgroup": cgroup,
        "landlock": out.landlock,
        "uid": out.uid,
        "applied": out.applied,
        "escaped_output_holder": out.escaped_output_holder,
        "lane": lane,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(Exit::Pass)
}

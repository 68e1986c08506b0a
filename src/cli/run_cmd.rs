//! `labgrade run BINARY [DIR] -- ARGS`: one run as graded, printed for the student (the
//! command every "Next:" and "re-run" hint quotes). `crate::run_once` stages, builds and runs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{default_jobs, grader, Exit, SpecArgs};
use crate::report::terminal::text as safe_text;
use crate::run_once::{run_once, RunOnce};
use crate::sandbox::Ending;
use crate::verdict::signal_name;

#[derive(Args, Debug)]
pub(super) struct RunArgs {
    /// The program to run, as the lab names it (`pool_sum`, `counter`).
    binary: String,
    /// The submission directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    specs: SpecArgs,
    /// The program's arguments, after `--` (e.g. `labgrade run pool_sum -- 10 3`).
    #[arg(last = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Exit status: 0 the program ran and exited 0; 1 it ran and failed (or could not run); 2 the
/// grader could not stage, build or start it.
pub(super) fn run(args: RunArgs) -> Result<Exit> {
    let spec = args.specs.load()?;
    let grader = grader(spec, 0, default_jobs());
    let command = crate::probe::command_line(&args.binary, &args.args);
    let ran = run_once(&grader, &args.dir, &args.binary, &args.args)
        .with_context(|| format!("running {command} from {}", args.dir.display()))?;
    let (outcome, timeout) = match ran {
        RunOnce::Ran { outcome, timeout } => (outcome, timeout),
        RunOnce::NotRun(why) => {
            println!(
                "`{}` could not run: {}",
                safe_text(&command),
                safe_text(&why)
            );
            return Ok(Exit::Fail);
        }
    };
    println!(
        "$ {}   (built and run as graded: optimised, with overflow checks, in the grader's \
         sandbox, {} s limit)",
        safe_text(&command),
        timeout.as_secs()
    );
    for (name, stream) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
        let text = stream.lossy();
        if text.is_empty() {
            println!("{name}: (nothing)");
        } else {
            println!("{name}:");
            for line in safe_text(&text).lines() {
                println!("  {line}");
            }
            if stream.truncated {
                println!("  … (cut: more than the grader keeps)");
            }
        }
    }
    let wall = outcome.wall.as_secs_f64();
    let (ended, ok) = match &outcome.ending {
        Ending::Exited(code) => (format!("exited with status {code}"), *code == 0),
        Ending::Signaled(sig) => (format!("was killed by {}", signal_name(*sig)), false),
        Ending::TimedOut { after } => (
            format!(
                "did not finish within {:.1} s and was stopped",
                after.as_secs_f64()
            ),
            false,
        ),
        Ending::OutputLimit { stream, cap_bytes } => (
            format!(
                "wrote more than {} KiB to {stream} and was stopped",
                cap_bytes / 1024
            ),
            false,
        ),
    };
    println!("it {ended} after {wall:.2} s");
    Ok(Exit::passed_if(ok))
}

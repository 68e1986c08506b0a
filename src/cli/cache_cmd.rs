//! `labgrade cache warm`: compiles the course dependencies into the build cache in every
//! profile a grading uses, ahead of time (a Gradescope image's `setup.sh`, a batch machine).
//! It owns only the command; the cache is [`crate::build`]'s.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::Exit;
use crate::build;

#[derive(Subcommand, Debug)]
pub(super) enum CacheCommand {
    /// Fetch the course dependencies (needs the network once) and compile them in release and
    /// in the unoptimised `probe` profile, so gradings compile only the student's crate and
    /// work offline. The cache is $LABGRADE_CACHE_DIR (else ~/.cache/labgrade).
    Warm(WarmArgs),
}

#[derive(Args, Debug)]
pub(super) struct WarmArgs {
    /// Warm the target directories of workers 0..JOBS (`batch --jobs JOBS` uses that many).
    #[arg(short, long, default_value_t = 1)]
    jobs: usize,
}

pub(super) fn run(cmd: CacheCommand) -> Result<Exit> {
    match cmd {
        CacheCommand::Warm(args) => {
            let cache = super::build_cache();
            let started = Instant::now();
            for worker in 0..args.jobs.max(1) {
                build::warm(&cache, worker)
                    .with_context(|| format!("warming worker {worker}'s target directory"))?;
            }
            println!(
                "labgrade: build cache warm (release and probe, {}) in {:.1} s",
                crate::words::counted(args.jobs.max(1), "worker"),
                started.elapsed().as_secs_f64()
            );
            Ok(Exit::Pass)
        }
    }
}

//! `labgrade __shape <container|unprivileged|unprivileged-userns> [--uid N] [--refuse-ptrace]
//! [--toolchain-reachable] -- CMD...` (hidden): runs CMD as on a
//! weaker machine, for the tests of every machine shape (`tests/shapes.rs`). The simulation
//! itself is [`crate::sandbox::shape_sim`]; this owns only its command line.

use std::ffi::OsString;

use anyhow::Result;

use super::Exit;
use clap::{Args, ValueEnum};

#[cfg(target_os = "linux")]
use crate::sandbox::shape_sim::{self, SimShape};

#[derive(Args, Debug)]
pub(super) struct ShapeArgs {
    /// The machine to simulate.
    #[arg(value_enum)]
    shape: ShapeArg,
    /// The uid (and gid) of the `unprivileged` shape.
    #[arg(long, default_value_t = 1000)]
    uid: u32,
    /// Refuse `ptrace` too (seccomp `EPERM`): a machine where no process audit can run.
    #[arg(long)]
    refuse_ptrace: bool,
    /// `container`: the toolchain reachable by every user (as if installed under /usr/local).
    #[arg(long)]
    toolchain_reachable: bool,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShapeArg {
    /// Root in a Docker/Gradescope container: Docker's capabilities and seccomp profile,
    /// read-only cgroups.
    Container,
    /// An ordinary user (uid --uid) without user namespaces.
    Unprivileged,
    /// An ordinary user (uid --uid) with user namespaces allowed.
    UnprivilegedUserns,
}

/// Elsewhere there is nothing to take away.
#[cfg(not(target_os = "linux"))]
pub(super) fn run(_args: ShapeArgs) -> Result<Exit> {
    anyhow::bail!("the machine-shape simulator is Linux's")
}

/// Enters the shape and execs the command; returns only when that failed.
#[cfg(target_os = "linux")]
pub(super) fn run(args: ShapeArgs) -> Result<Exit> {
    let shape = match args.shape {
        ShapeArg::Container => SimShape::Container,
        ShapeArg::Unprivileged => SimShape::Unprivileged,
        ShapeArg::UnprivilegedUserns => SimShape::UnprivilegedWithUserNamespaces,
    };
    Err(shape_sim::enter_with(
        shape,
        args.uid,
        args.refuse_ptrace,
        args.toolchain_reachable,
        &args.command,
    )
    .into())
}

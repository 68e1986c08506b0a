//! `labgrade completions SHELL` and `labgrade man`: shell completions (clap_complete) and the
//! man pages (clap_mangen), generated from the command-line definition itself, so they never
//! fall behind the options. It owns only these two commands.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};

use super::{Cli, Exit};

#[derive(Args, Debug)]
pub(super) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub(super) struct ManArgs {
    /// Write labgrade.1 and one page per subcommand (labgrade-grade.1, …) into DIR instead of
    /// printing labgrade.1 on standard output.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

pub(super) fn completions(args: CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "labgrade", &mut std::io::stdout());
    Ok(Exit::Pass)
}

pub(super) fn man(args: ManArgs) -> Result<Exit> {
    let cmd = Cli::command();
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("writing the man pages into {}", dir.display()))?;
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("rendering the man page")?;
            std::io::Write::write_all(&mut std::io::stdout().lock(), &out)
                .context("writing to standard output")?;
        }
    }
    Ok(Exit::Pass)
}

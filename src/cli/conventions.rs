//! The conventions of a well-kept command-line tool, in one place: `--color`, and the EXIT
//! STATUS and ENVIRONMENT sections of `--help` (and so of the man page). It owns only these;
//! what each variable changes is the module that reads it.

use std::sync::OnceLock;

/// `--color`: when the reports written to standard output are colored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(super) enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set; `CLICOLOR_FORCE` colors a pipe too (and
    /// `NO_COLOR` wins over it).
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR: OnceLock<ColorWhen> = OnceLock::new();

/// Makes `when` the process's choice (once, at start-up) and tells `colored` of it.
pub(super) fn set_color(when: ColorWhen) {
    let _ = COLOR.set(when);
    restore_color();
}

/// The process's choice back in `colored` after a report forced its own (files never colored).
pub(super) fn restore_color() {
    colored::control::set_override(stdout_color());
}

/// Whether what goes to standard output is colored: `--color`; in `auto`, no when `NO_COLOR`
/// is set (it wins over `CLICOLOR_FORCE`: a reader who asked for no colors gets none), yes when
/// `CLICOLOR_FORCE` is set and not `0`, else what `colored` reads (`CLICOLOR`, whether stdout
/// is a terminal).
pub(super) fn stdout_color() -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorWhen::Auto if crate::switch::on("NO_COLOR") => false,
        ColorWhen::Auto if crate::switch::on("CLICOLOR_FORCE") => true,
        ColorWhen::Auto => colored::control::ShouldColorize::from_env().should_colorize(),
        ColorWhen::Always => true,
        ColorWhen::Never => false,
    }
}

/// The `--color` of `args` (the whole command line) for clap's own help and errors, which are
/// written before the parsed choice exists; `auto` (clap's reading of the terminal, `NO_COLOR`
/// and `CLICOLOR_FORCE`) unless the option says otherwise. Nothing after `--` is ours.
pub(super) fn clap_color(args: impl IntoIterator<Item = std::ffi::OsString>) -> clap::ColorChoice {
    let args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .take_while(|a| a != "--")
        .collect();
    let mut choice = None;
    for (i, arg) in args.iter().enumerate() {
        if arg == "--color" {
            choice = args.get(i + 1).map(String::as_str).or(choice);
        } else if let Some(value) = arg.strip_prefix("--color=") {
            choice = Some(value);
        }
    }
    match choice {
        Some("always") => clap::ColorChoice::Always,
        Some("never") => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    }
}

/// `labgrade -h`'s last line: where the rest is.
pub(super) const SHORT_HELP: &str =
    "`labgrade --help` adds the exit status and the environment variables; `labgrade man` prints the manual.";

/// `labgrade --help`'s sections after the options (CONTRACT §2's exit status).
pub(super) const LONG_HELP: &str = "\
EXIT STATUS:
  0  grade, check: every test passed; batch, merge: every submission was graded (whatever the
     scores); spec verify: no miss; spec check: every spec is valid; other commands: success
  1  grade, check: some test did not pass (a failed build included); spec verify: some miss;
     run: the program failed
  2  the grader could not grade: a bad spec, unusable arguments, a missing toolchain, an
     internal error (one line on stderr says why); batch: some submission could not be graded

ENVIRONMENT:
  LABGRADE_SPEC           a spec file, as --spec FILE (a --spec on the command line wins)
  LABGRADE_CACHE_DIR      the build cache, as --cache-dir DIR (default: $XDG_CACHE_HOME/labgrade,
                          else ~/.cache/labgrade)
  GITHUB_WORKSPACE        the repository root that GitHub annotations' paths are relative to
                          (default: the current directory)
  GITHUB_STEP_SUMMARY     the file a `github` report appends its job summary to
  NO_COLOR                set: no colors (with --color auto; wins over CLICOLOR_FORCE)
  CLICOLOR_FORCE          set and not 0: colors even into a pipe (with --color auto)
  CI                      set (not 0 or false): no progress display (with --progress auto)
  LABGRADE_NO_EARLY_STOP  set: run every test of an exercise that hangs on its first tests
  LABGRADE_UID_BASE       the first uid of the sandbox's pool of build and run users
                          (default 1900000000)
  LABGRADE_RACE_ROTATION  the race probe's rotation of worker counts and builds (benchmarks)
  LABGRADE_SANDBOX_DEBUG  set: a trace on stderr when a sandbox's init is lost
  CARGO, CARGO_HOME, RUSTUP_HOME
                          the toolchain that builds submissions, and the registry the course
                          dependencies are copied from once
  (gradescope/run_autograder also reads LABGRADE_FEW_CORES; see its header.)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_reads_the_last_color_option_before_a_double_dash() {
        let color = |line: &str| clap_color(line.split(' ').map(std::ffi::OsString::from));
        assert_eq!(color("labgrade --help"), clap::ColorChoice::Auto);
        assert_eq!(
            color("labgrade --color never --help"),
            clap::ColorChoice::Never
        );
        assert_eq!(
            color("labgrade grade x --color=never --color=always"),
            clap::ColorChoice::Always
        );
        assert_eq!(
            color("labgrade run pool_sum -- --color never"),
            clap::ColorChoice::Auto
        );
        assert_eq!(color("labgrade --color"), clap::ColorChoice::Auto);
    }

    #[test]
    fn every_variable_the_binary_reads_is_documented() {
        // The variables read with std::env in src/ (the sandbox's own re-exec variables,
        // LABGRADE_INIT, LABGRADE_SANDBOX_CONFIG and LABGRADE_TRACE_HELPER, are internal).
        for var in [
            "LABGRADE_SPEC",
            "LABGRADE_CACHE_DIR",
            "GITHUB_WORKSPACE",
            "GITHUB_STEP_SUMMARY",
            "NO_COLOR",
            "CLICOLOR_FORCE",
            "CI ",
            "LABGRADE_NO_EARLY_STOP",
            "LABGRADE_UID_BASE",
            "LABGRADE_RACE_ROTATION",
            "LABGRADE_SANDBOX_DEBUG",
        ] {
            assert!(LONG_HELP.contains(var), "{var} is not in --help");
        }
        assert!(LONG_HELP.lines().all(|l| l.len() <= 100), "{LONG_HELP}");
    }
}

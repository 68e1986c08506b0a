//! The command line (CONTRACT §2): parses arguments, wires the pipeline, maps outcomes to exit
//! codes. Everything it does is delegated; it owns only the process's edges (arguments, files,
//! terminal, exit status).

mod batch;
mod cache_cmd;
mod conventions;
mod generate;
mod progress;
mod reports;
mod run_cmd;
mod sandbox_cmd;
mod shape;
mod verify;
mod warnings;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::build::BuildCache;
use crate::datetime::UtcTime;
use crate::deadline::{self, Late};
use crate::grade::Grader;
use crate::report::{shell_quote, Audience, Format, ReportOptions, Withheld};
use crate::spec::{self, Deadline, Spec};
use crate::stage::Skeleton;

pub use crate::exit::Exit;

#[derive(Parser, Debug)]
#[command(
    name = "labgrade",
    version = crate::version::VERSION,
    about = "Grades Lab 10 (processes working on the same problem): sandboxed builds and runs, verdicts that teach",
    after_help = conventions::SHORT_HELP,
    after_long_help = conventions::LONG_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Color what is written to standard output: auto (a terminal, unless NO_COLOR is set;
    /// CLICOLOR_FORCE colors a pipe too), always or never. Report files are never colored.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    color: conventions::ColorWhen,
    /// The build cache (compiled course dependencies, the grader's registry, the timing lane's
    /// locks); default: $XDG_CACHE_HOME/labgrade, else ~/.cache/labgrade.
    #[arg(long, global = true, value_name = "DIR", env = "LABGRADE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Grade one submission (a directory holding src/bin/pool_sum.rs and src/bin/counter.rs).
    #[command(after_long_help = conventions::LONG_HELP)]
    Grade(GradeArgs),
    /// Student self-check: grade DIR (default: the current directory), human output; hidden
    /// tests are not run.
    #[command(after_long_help = conventions::LONG_HELP)]
    Check(CheckArgs),
    /// Grade every immediate subdirectory of SUBMISSIONS_ROOT into RESULTS_DIR.
    Batch(batch::BatchArgs),
    /// Combine the results directories of `batch --shard` runs into one gradebook.
    Merge(batch::MergeArgs),
    /// Work with spec files.
    #[command(subcommand)]
    Spec(SpecCommand),
    /// Show the machine's shape, which sandbox layers are active on it and why the others
    /// are not, and whether its cores suffice for the spec's speedup tests.
    Doctor(sandbox_cmd::DoctorArgs),
    /// Work with the build cache.
    #[command(subcommand)]
    Cache(cache_cmd::CacheCommand),
    /// Run one program of DIR (default .) once, built and run exactly as graded, and print
    /// its output and how it ended: `labgrade run pool_sum -- 10 3`.
    Run(run_cmd::RunArgs),
    /// Run one command through the sandbox and print what happened as JSON.
    #[command(name = "sandbox-run")]
    SandboxRun(sandbox_cmd::SandboxRunArgs),
    /// Print the shell completion script for SHELL: `labgrade completions bash >
    /// ~/.local/share/bash-completion/completions/labgrade`.
    Completions(generate::CompletionsArgs),
    /// Print the man page (roff): `labgrade man | man -l -`; --out-dir writes every page.
    Man(generate::ManArgs),
    /// Run a command as on a weaker machine (the tests of every machine shape).
    #[command(name = "__shape", hide = true)]
    Shape(shape::ShapeArgs),
}

#[derive(Subcommand, Debug)]
enum SpecCommand {
    /// Validate spec files without grading; prints each problem as file:line:col.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Grade the reference (full marks expected) and known-buggy fixtures (failures expected
    /// where declared); report every miss. Exit 0 no miss, 1 some miss, 2 could not grade.
    Verify(verify::VerifyArgs),
}

#[derive(Args, Debug)]
struct GradeArgs {
    /// The submission directory.
    submission: PathBuf,
    #[command(flatten)]
    specs: SpecArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Name of the submission in the result (default: the directory's name).
    #[arg(long)]
    name: Option<String>,
    /// List passing tests too (human format).
    #[arg(short, long)]
    verbose: bool,
    /// Gradescope's `submission_metadata.json` (its `created_at` is the submission time for
    /// the spec's late policy), when it is not in the submission directory: Gradescope keeps
    /// it at /autograder/submission_metadata.json.
    #[arg(long, value_name = "FILE")]
    submission_metadata: Option<PathBuf>,
    #[command(flatten)]
    extensions: ExtensionsArgs,
    #[command(flatten)]
    select: SelectArgs,
    #[command(flatten)]
    progress: ProgressArgs,
}

/// `--progress`, of the commands that grade one submission.
#[derive(Args, Debug, Clone, Copy)]
struct ProgressArgs {
    /// Show what the grading is doing on stderr: auto (on a terminal, outside CI), always
    /// (plain lines when stderr is not a terminal; `--progress` alone means always) or never.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "always"
    )]
    progress: progress::When,
}

#[derive(Args, Debug, Clone, Default)]
struct ExtensionsArgs {
    /// The TA's extensions file: a `submission,due` CSV whose rows move the deadline of the
    /// submissions they name (replaces the spec's `[deadline] extensions`).
    #[arg(long, value_name = "FILE")]
    extensions: Option<PathBuf>,
}

impl ExtensionsArgs {
    /// Reads the extensions in force (this option's file, else the spec's) into `spec`.
    fn apply(&self, spec: &mut Spec) -> Result<()> {
        let Some(path) = self.extensions.as_ref().or(spec.extensions_file.as_ref()) else {
            return Ok(());
        };
        let Some(d) = &spec.deadline else {
            anyhow::bail!(
                "--extensions {}: the spec has no `[deadline]` due date to extend{}",
                path.display(),
                if spec.gradescope_deadline.is_some() {
                    " (with `due = \"gradescope\"`, extensions are Gradescope's)"
                } else {
                    ""
                }
            );
        };
        spec.extensions = Some(spec::extensions::Extensions::read(path, d.due.zone)?);
        Ok(())
    }
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The submission directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    specs: SpecArgs,
    /// List passing tests too.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    select: SelectArgs,
    #[command(flatten)]
    progress: ProgressArgs,
}

/// What one grading runs and writes besides its main report.
#[derive(Args, Debug, Clone)]
struct SelectArgs {
    /// Run only the tests matching PATTERN (repeatable): EXERCISE or EXERCISE/NAME, `*`
    /// matching any text, e.g. --only 'pool-sum/n=10 p=3'.
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Also write the report in FORMAT to PATH (repeatable), from the same grading:
    /// human, json, junit, gradescope, github, csv or html.
    #[arg(long = "report", value_name = "FORMAT=PATH", value_parser = reports::parse_report)]
    reports: Vec<reports::ReportTarget>,
}

#[derive(Args, Debug, Clone)]
struct SpecArgs {
    /// Spec file to grade against (repeatable); default: the built-in Lab 10 spec.
    #[arg(short = 's', long = "spec", value_name = "FILE", env = "LABGRADE_SPEC")]
    specs: Vec<PathBuf>,
}

impl SpecArgs {
    fn load(&self) -> Result<Spec> {
        if self.specs.is_empty() {
            return Ok(spec::builtin());
        }
        let specs = self
            .specs
            .iter()
            .map(|p| spec::load_file(p).map_err(one_line))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Spec::combine(specs)?)
    }
}

/// A spec error as the one line CONTRACT §2 promises: the first problem, and how to see all.
fn one_line(e: spec::SpecError) -> anyhow::Error {
    let all = e.diagnostics();
    let Some(first) = all.first() else {
        return anyhow::anyhow!("{e}");
    };
    match all.len() {
        1 => anyhow::anyhow!("{first}"),
        n => anyhow::anyhow!(
            "{first} (and {} more {}: run `labgrade spec check {}`)",
            n - 1,
            if n == 2 { "problem" } else { "problems" },
            first.origin
        ),
    }
}

/// Runs the command line; the return value is the process's exit status.
pub fn main() -> ExitCode {
    // An empty variable means unset, as the scripts read them (`${LABGRADE_SPEC:-}`); clap
    // would take it for an empty path. Removed while this process has no other thread.
    for var in ["LABGRADE_SPEC", "LABGRADE_CACHE_DIR"] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(var);
        }
    }
    // clap colors its own help and errors: by the same `--color`, read before parsing.
    let matches = Cli::command()
        .color(conventions::clap_color(std::env::args_os()))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    conventions::set_color(cli.color);
    let _ = CACHE_DIR.set(cli.cache_dir.clone());
    let outcome = run(cli);
    // Reused cgroups are removed at exit: nothing of a grading stays on the machine.
    crate::sandbox::remove_idle_cgroups();
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // One line for scripts: the chain of causes joined.
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            // Causes can name a student's files: escaped for the terminal.
            eprintln!(
                "labgrade: error: {}",
                crate::report::terminal::line(&chain.join(": "))
            );
            ExitCode::from(Exit::Error)
        }
    }
}

fn run(cli: Cli) -> Result<Exit> {
    let stages = matches!(
        cli.command,
        Command::Grade(_)
            | Command::Check(_)
            | Command::Batch(_)
            | Command::Spec(SpecCommand::Verify(_))
            | Command::Run(_)
    );
    if stages {
        // A grader killed by SIGKILL left a student's staged sources and binaries behind:
        // removed now (only those of graders no longer running; see `tempdirs`).
        crate::tempdirs::sweep_leftovers();
    }
    match cli.command {
        Command::Grade(args) => grade(args),
        Command::Check(args) => {
            let args = GradeArgs {
                submission: args.dir,
                specs: args.specs,
                format: Format::Human,
                out: None,
                name: None,
                verbose: args.verbose,
                submission_metadata: None,
                extensions: ExtensionsArgs::default(),
                select: args.select,
                progress: args.progress,
            };
            grade_with(args, true)
        }
        Command::Batch(args) => batch::run(args),
        Command::Merge(args) => batch::merge(args),
        Command::Spec(SpecCommand::Verify(args)) => verify::run(args),
        Command::Spec(SpecCommand::Check { files }) => spec_check(&files),
        Command::Run(args) => run_cmd::run(args),
        Command::Doctor(args) => sandbox_cmd::doctor(args),
        Command::Cache(cmd) => cache_cmd::run(cmd),
        Command::SandboxRun(args) => sandbox_cmd::sandbox_run(args),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
        Command::Shape(args) => shape::run(args),
    }
}

fn grade(args: GradeArgs) -> Result<Exit> {
    grade_with(args, false)
}

fn grade_with(args: GradeArgs, student: bool) -> Result<Exit> {
    let mut spec = args.specs.load()?;
    let mut withheld = Withheld::default();
    if student {
        let (visible, tests, points) = spec.without_hidden();
        spec = visible;
        withheld = Withheld { tests, points };
    }
    if !args.select.only.is_empty() {
        spec = spec.select(&args.select.only)?;
    }
    if !student {
        args.extensions.apply(&mut spec)?;
    }
    let outputs = reports::Outputs::new(args.format, args.out.as_deref(), &args.select.reports)?;
    // `due = "gradescope"`: this submission's due date is in Gradescope's metadata.
    let gradescope_dates = match (&spec.gradescope_deadline, student) {
        (Some(rules), false) => {
            let resolved = gradescope_deadline(rules, args.submission_metadata.as_deref())?;
            resolved.map(|(deadline, dates)| {
                spec.deadline = Some(deadline);
                dates
            })
        }
        _ => None,
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| submission_name(&args.submission));
    // The TA's extension for this submission, if any (never read from the submission).
    let extension = spec.extensions.as_ref().and_then(|e| e.get(&name));
    // The student sees the time left; staff get the late policy applied to the result.
    let (countdown, mut late) = match (&spec.deadline, student) {
        (Some(d), true) => (Some(deadline::countdown(d, UtcTime::now())), None),
        (Some(d), false) => (
            None,
            late_for(
                d,
                extension,
                &args.submission,
                args.submission_metadata.as_deref(),
            ),
        ),
        (None, _) => (None, None),
    };
    // After Gradescope's late due date no student can submit; what staff upload then for
    // them earns nothing unless an extension moved that date.
    if let (Some(dates), Some(late)) = (&gradescope_dates, late.as_mut()) {
        if deadline::gradescope::after_late_due(dates, &late.submitted.at) {
            late.penalty_fraction = 1.0;
        }
    }
    let mut grader = grader(spec, 0, default_jobs());
    if let Some(observer) = progress::observer(args.progress.progress) {
        grader = grader.with_progress(observer);
    }
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| submission_name(&args.submission));
    let result = grader
        .grade(&args.submission, &name)
        .with_context(|| format!("grading {}", args.submission.display()))?;
    let opts = ReportOptions {
        audience: if student {
            Audience::Student
        } else {
            Audience::Staff
        },
        verbose: args.verbose,
        rerun: student.then(|| check_command(&args)),
        deadline: countdown,
        withheld,
        source_prefix: reports::source_prefix(&args.submission),
        late,
        index: None,
    };
    outputs.write(&result, &opts)?;
    Ok(if result.all_passed() {
        Exit::Pass
    } else {
        Exit::Fail
    })
}

/// The deadline of a spec whose dates are Gradescope's, from the metadata file Gradescope
/// wrote (`--submission-metadata`; never one inside the submission). Without that option:
/// `None`, with a warning (a TA's local run). With it but unusable: the grader's error.
fn gradescope_deadline(
    rules: &crate::spec::LateRules,
    metadata: Option<&Path>,
) -> Result<Option<(Deadline, deadline::gradescope::Dates)>> {
    let Some(path) = metadata else {
        eprintln!(
            "labgrade: warning: no late policy applied: the spec's due date is Gradescope's, \
             and no --submission-metadata names Gradescope's submission_metadata.json"
        );
        return Ok(None);
    };
    let text = deadline::gradescope::read(path)
        .and_then(|t| t.ok_or_else(|| "no such file".to_string()))
        .map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))?;
    let dates = deadline::gradescope::parse(&text)
        .and_then(|dates| Ok((deadline::gradescope::deadline(rules, &dates)?, dates)))
        .map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))?;
    Ok(Some(dates))
}

/// What `deadline` makes of the submission in `dir`; `None`, with a warning, when not even its
/// files' times can be read.
fn late_for(
    deadline: &Deadline,
    extension: Option<crate::datetime::ZonedTime>,
    dir: &Path,
    metadata: Option<&Path>,
) -> Option<Late> {
    match crate::deadline::submission_time(dir, metadata) {
        Ok(submitted) => Some(deadline::assess_extended(deadline, extension, submitted)),
        Err(why) => {
            eprintln!(
                "labgrade: warning: no late policy applied: {}",
                crate::report::terminal::line(&why)
            );
            None
        }
    }
}

/// The `labgrade check` command line that grades this submission again the same way, for the
/// report's re-run hints.
fn check_command(args: &GradeArgs) -> String {
    let mut words = vec!["labgrade".to_string(), "check".to_string()];
    if args.submission != Path::new(".") {
        words.push(shell_quote(&args.submission.display().to_string()));
    }
    for spec in &args.specs.specs {
        words.push("--spec".to_string());
        words.push(shell_quote(&spec.display().to_string()));
    }
    words.join(" ")
}

fn spec_check(files: &[PathBuf]) -> Result<Exit> {
    let mut bad = 0;
    for f in files {
        match spec::load_file(f) {
            Ok(s) => {
                let tests: usize = s.exercises.iter().map(|e| e.tests.len()).sum();
                println!(
                    "{}: ok: {}, {}, {}",
                    f.display(),
                    crate::words::counted(s.exercises.len(), "exercise"),
                    crate::words::counted(tests, "test"),
                    match s.max_score() {
                        1.0 => "1 point".to_string(),
                        p => format!("{p} points"),
                    }
                );
                if let Some(rules) = &s.gradescope_deadline {
                    // Only the policy is the spec's; `describe_policy` reads no due date.
                    let d = Deadline {
                        due: UtcTime { unix_ms: 0 }.at_offset(0),
                        grace: rules.grace,
                        penalty: rules.penalty,
                    };
                    println!(
                        "  due when Gradescope says (its due date, or the student's extension); {}",
                        deadline::describe_policy(&d)
                    );
                }
                // The deadline as students will read it: a wrong offset shows here.
                if let Some(d) = &s.deadline {
                    println!(
                        "  due {}; {}",
                        d.due.describe(),
                        deadline::describe_policy(d)
                    );
                    // The TA's file is checked here too, before a grading trips on it.
                    if let Some(path) = &s.extensions_file {
                        match spec::extensions::Extensions::read(path, d.due.zone) {
                            Ok(e) => println!(
                                "  extensions: {} from {}",
                                crate::words::counted(e.len(), "submission"),
                                path.display()
                            ),
                            Err(why) => {
                                bad += 1;
                                eprintln!("{why}");
                            }
                        }
                    }
                }
            }
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    Ok(if bad == 0 { Exit::Pass } else { Exit::Error })
}

/// `--cache-dir` (or `$LABGRADE_CACHE_DIR`), once parsed.
static CACHE_DIR: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The build cache of the built-in skeleton: `--cache-dir`, else the default location.
fn build_cache() -> BuildCache {
    match CACHE_DIR.get().cloned().flatten() {
        // Builds run in the staged directory: a relative path would point cargo elsewhere.
        Some(dir) => BuildCache::at(
            std::path::absolute(&dir).unwrap_or(dir),
            Skeleton::builtin(),
        ),
        None => BuildCache::default_location(Skeleton::builtin()),
    }
}

/// A grader over the built-in skeleton and the build cache.
fn grader(spec: Spec, worker: usize, jobs: usize) -> Grader {
    Grader::new(spec, build_cache(), worker, jobs)
}

/// Cores this process may use.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The submission's name: its directory's name (`.` resolved).
fn submission_name(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string())
}

/// [`crate::atomic_file::write`], with the path in the error.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic_file::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

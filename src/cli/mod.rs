//! The command line (CONTRACT §2): parses arguments, wires the pipeline, maps outcomes to exit
//! codes. Everything it does is delegated; it owns only the process's edges (arguments, files,
//! terminal, exit status).

mod batch;
mod cache_cmd;
mod reports;
mod run_cmd;
mod sandbox_cmd;
mod shape;
mod verify;
mod warnings;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::build::BuildCache;
use crate::deadline::{self, time::UtcTime, Late};
use crate::grade::Grader;
use crate::report::{shell_quote, Audience, Format, ReportOptions, Withheld};
use crate::spec::{self, Deadline, Spec};
use crate::stage::Skeleton;

/// Exit status when every test passed.
const EXIT_PASS: u8 = 0;
/// Exit status when some test did not pass (a failed build included).
const EXIT_FAIL: u8 = 1;
/// Exit status when the grader could not grade.
const EXIT_ERROR: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "labgrade",
    version,
    about = "Grades Lab 10 (processes working on the same problem): sandboxed builds and runs, verdicts that teach"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Grade one submission (a directory holding src/bin/pool_sum.rs and src/bin/counter.rs).
    Grade(GradeArgs),
    /// Student self-check: grade DIR (default: the current directory), human output; hidden
    /// tests are not run.
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
    #[arg(long, value_name = "FILE")]
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
    select: SelectArgs,
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
    #[arg(long = "spec", value_name = "FILE")]
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
    let cli = Cli::parse();
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
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
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
                select: args.select,
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
        Command::Shape(args) => shape::run(args),
    }
}

fn grade(args: GradeArgs) -> Result<u8> {
    grade_with(args, false)
}

fn grade_with(args: GradeArgs, student: bool) -> Result<u8> {
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
    // The student sees the time left; staff get the late policy applied to the result.
    let (countdown, mut late) = match (&spec.deadline, student) {
        (Some(d), true) => (Some(deadline::countdown(d, UtcTime::now())), None),
        (Some(d), false) => (
            None,
            late_for(d, &args.submission, args.submission_metadata.as_deref()),
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
    let grader = grader(spec, 0, default_jobs());
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
        EXIT_PASS
    } else {
        EXIT_FAIL
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
fn late_for(deadline: &Deadline, dir: &Path, metadata: Option<&Path>) -> Option<Late> {
    match crate::deadline::submission_time(dir, metadata) {
        Ok(submitted) => Some(deadline::assess(deadline, submitted)),
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

fn spec_check(files: &[PathBuf]) -> Result<u8> {
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
                        due: deadline::time::ZonedTime {
                            at: UtcTime { unix_ms: 0 },
                            offset_minutes: 0,
                        },
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
                }
            }
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    Ok(if bad == 0 { EXIT_PASS } else { EXIT_ERROR })
}

/// A grader over the built-in skeleton and the default cache.
fn grader(spec: Spec, worker: usize, jobs: usize) -> Grader {
    Grader::new(
        spec,
        BuildCache::default_location(Skeleton::builtin()),
        worker,
        jobs,
    )
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

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader (or a grader
/// killed halfway) never sees half a file. A path that exists and is not a regular file
/// (`/dev/stdout`, a pipe) is written directly: renaming over it would replace the device.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Like any new file: 0o666 less the umask (a temporary file's default is 0o600, which
    // would leave reports unreadable to the rest of the course staff).
    let mut tmp = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

//! `labgrade batch` and `labgrade merge`: arguments in, the batch engine (`crate::batch`) wired
//! to the terminal, the outcome out as an exit status.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{default_jobs, grader, SpecArgs, EXIT_ERROR, EXIT_PASS};
use crate::batch::{self, changes, progress, Entry, Progress, Row, Shard};

#[derive(Args, Debug)]
pub(super) struct BatchArgs {
    /// Directory whose immediate subdirectories are the submissions.
    root: PathBuf,
    /// Where `<name>.json`, `<name>.html`, `gradebook.csv`, `summary.md`, `changes.csv` and
    /// `index.html` are written.
    /// Results already there for the same submission, spec and labgrade version are kept.
    #[arg(long, value_name = "RESULTS_DIR")]
    out: PathBuf,
    /// Submissions graded at the same time (default: the cores available).
    #[arg(long)]
    jobs: Option<usize>,
    /// Grade only shard K of N (0 <= K < N): the submissions whose name hashes to K mod N.
    /// Combine the shards' results directories with `labgrade merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// What the root is: `auto` recognises it; `folders` (one folder per submission),
    /// `gradescope` ("Download Submissions": submission_metadata.yml), `github-classroom`
    /// (<assignment>-<username> clones), `canvas` (a flat bulk download), `moodle`.
    #[arg(long, value_name = "KIND", default_value = "auto")]
    collection: CollectionArg,
    #[command(flatten)]
    specs: SpecArgs,
}

/// `--collection`: a kind, or `auto`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CollectionArg {
    Auto,
    Folders,
    Gradescope,
    GithubClassroom,
    Canvas,
    Moodle,
}

impl CollectionArg {
    fn kind(self) -> Option<batch::collection::Kind> {
        use batch::collection::Kind;
        Some(match self {
            CollectionArg::Auto => return None,
            CollectionArg::Folders => Kind::Folders,
            CollectionArg::Gradescope => Kind::Gradescope,
            CollectionArg::GithubClassroom => Kind::GithubClassroom,
            CollectionArg::Canvas => Kind::Canvas,
            CollectionArg::Moodle => Kind::Moodle,
        })
    }
}

#[derive(Args, Debug)]
pub(super) struct MergeArgs {
    /// Results directories of `labgrade batch --shard` runs.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Where the combined results, gradebook and summary are written.
    #[arg(long, value_name = "RESULTS_DIR")]
    out: PathBuf,
}

pub(super) fn run(args: BatchArgs) -> Result<u8> {
    let spec = args.specs.load()?;
    // Said before grading starts: a TA must not discover it in the results.
    super::warnings::warn_cores(&spec);
    if spec.gradescope_deadline.is_some() {
        // Gradescope's dates are per submission, in a file batch does not have.
        eprintln!(
            "labgrade: warning: no late policy applied: the spec's due date is Gradescope's \
             (`due = \"gradescope\"`), which only `grade --submission-metadata` reads"
        );
    }
    super::warnings::warn_missing_guarantees();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    // A results directory inside the root is not a submission.
    let out_dir = std::fs::canonicalize(&args.out).ok();
    let collected = batch::collection::collect(&args.root, args.collection.kind())?;
    // Said before grading: a wrong guess is overridden with --collection.
    eprintln!("labgrade: {}", collected.headline());
    for note in &collected.notes {
        eprintln!("  note: {}", crate::report::terminal::line(note));
    }
    let submissions: Vec<_> = collected
        .submissions
        .iter()
        .filter(|s| args.shard.is_none_or(|k| k.contains(&s.name)))
        .filter(|s| std::fs::canonicalize(&s.dir).ok() != out_dir)
        .cloned()
        .collect();
    let plan = batch::plan(submissions, &spec, &args.out)?;
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    // One worker grades one submission at a time; alone, it may run several tests at once.
    let tests_per_worker = if jobs > 1 { 1 } else { default_jobs() };
    // Shards run side by side on one machine (a Slurm node, a laptop) get build directories of
    // their own in a shared cache instead of queueing for worker 0's lock.
    let first_worker = args.shard.map_or(0, |s| s.index as usize * jobs);
    let make = |worker| grader(spec.clone(), first_worker + worker, tests_per_worker);
    let reporter: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(progress::Bar::new())
    } else {
        Box::new(progress::Lines)
    };
    let rows = batch::run(plan, &args.out, jobs, &make, reporter.as_ref());
    drop(reporter);
    finish(&rows, &args.out)
}

pub(super) fn merge(args: MergeArgs) -> Result<u8> {
    let rows = batch::merge(&args.dirs, &args.out)?;
    eprintln!(
        "labgrade: merged {} from {} into {}",
        crate::words::counted(rows.len(), "submission"),
        crate::words::count(args.dirs.len(), "directory", "directories"),
        args.out.display()
    );
    finish(&rows, &args.out)?;
    Ok(EXIT_PASS)
}

/// Writes the outputs and says what a TA needs to know: score changes and ungraded submissions.
fn finish(rows: &[Row], out: &std::path::Path) -> Result<u8> {
    let changed = batch::write_outputs(out, rows)?;
    if !changed.is_empty() {
        eprintln!(
            "labgrade: {} since the previous grading (changes.csv):",
            crate::words::count(changed.len(), "score changed", "scores changed")
        );
        for c in &changed {
            eprintln!("  {}", crate::report::terminal::line(&changes::describe(c)));
        }
    }
    let failed = rows
        .iter()
        .filter(|r| matches!(r.entry, Entry::Error(_)))
        .count();
    eprintln!(
        "labgrade: wrote gradebook.csv, summary.md, changes.csv and index.html in {}",
        out.display()
    );
    if failed > 0 {
        eprintln!(
            "labgrade: {failed} of {} could not be graded (summary.md says why)",
            crate::words::counted(rows.len(), "submission")
        );
        return Ok(EXIT_ERROR);
    }
    Ok(EXIT_PASS)
}

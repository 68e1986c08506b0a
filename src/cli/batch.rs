//! `labgrade batch` and `labgrade merge`: arguments in, the batch engine (`crate::batch`) wired
//! to the terminal, the outcome out as an exit status.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{default_jobs, grader, Exit, ExtensionsArgs, SpecArgs};
use crate::batch::{self, changes, progress, Entry, Progress, Row, Shard};

#[derive(Args, Debug)]
pub(super) struct BatchArgs {
    /// Directory whose immediate subdirectories are the submissions.
    root: PathBuf,
    /// Where `<name>.json`, `<name>.html`, `gradebook.csv`, `summary.md`, `changes.csv` and
    /// `index.html` are written.
    /// Results already there for the same submission, spec and labgrade version are kept.
    #[arg(short, long, value_name = "RESULTS_DIR")]
    out: PathBuf,
    /// Submissions graded at the same time (default: the cores available).
    #[arg(short, long)]
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
    lms: LmsArgs,
    #[command(flatten)]
    specs: SpecArgs,
    #[command(flatten)]
    extensions: ExtensionsArgs,
}

/// `--roster` and `--assignment`: the gradebook import files for Canvas and Moodle.
#[derive(Args, Debug)]
pub(super) struct LmsArgs {
    /// A CSV of the course's students with a `submission` column naming each one's submission
    /// (more columns: name, id, sis_user_id, sis_login_id, section, email, idnumber,
    /// username). Writes canvas-grades.csv and moodle-grades.csv, one row per student, and
    /// lists students without a submission and submissions without a student. With
    /// `--shard`, give it to `labgrade merge` instead.
    #[arg(long, value_name = "FILE")]
    roster: Option<PathBuf>,
    /// The grade column's header in the import files. For Canvas, write it as Canvas's own
    /// export heads the assignment, `Lab 10 (12345)`, so the import updates that assignment
    /// (a name alone creates a new one). Default: the spec's lab name.
    #[arg(long, value_name = "NAME", requires = "roster")]
    assignment: Option<String>,
}

impl LmsArgs {
    /// The roster, read before any grading so a mistake in it costs nothing.
    fn roster(&self) -> Result<Option<batch::lms::Roster>> {
        Ok(match &self.roster {
            Some(path) => Some(batch::lms::Roster::read(path)?),
            None => None,
        })
    }
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
    #[arg(short, long, value_name = "RESULTS_DIR")]
    out: PathBuf,
    #[command(flatten)]
    lms: LmsArgs,
}

pub(super) fn run(args: BatchArgs) -> Result<Exit> {
    if args.shard.is_some() && args.lms.roster.is_some() {
        // A shard's import files would list every other shard's students as missing.
        anyhow::bail!(
            "--roster with --shard: give the roster to `labgrade merge`, which sees every shard"
        );
    }
    let mut spec = args.specs.load()?;
    args.extensions.apply(&mut spec)?;
    let roster = args.lms.roster()?;
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
    if let Some(extensions) = &spec.extensions {
        // A typo in the TA's file must not pass silently: that student would be marked late.
        // (With --shard, only the rows of every shard's submissions are known.)
        let names = collected.submissions.iter().map(|s| s.name.as_str());
        for warning in extensions.unknown(names) {
            eprintln!(
                "labgrade: warning: {}",
                crate::report::terminal::line(&warning)
            );
        }
    }
    let plan = batch::plan(submissions, &spec, &args.out)?;
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    // One worker grades one submission at a time; alone, it may run several tests at once.
    // A worker may run as many tests at once as there are cores, but only on cores the other
    // workers leave idle (`grade::cores`): never more test threads than cores in all.
    let tests_per_worker = default_jobs();
    // Shards run side by side on one machine (a Slurm node, a laptop) get build directories of
    // their own in a shared cache instead of queueing for worker 0's lock.
    let first_worker = args.shard.map_or(0, |s| s.index as usize * jobs);
    let make = |worker| grader(spec.clone(), first_worker + worker, tests_per_worker);
    // A CI job's log may be a terminal (a pty) but keeps every byte: lines there, not a bar.
    let reporter: Box<dyn Progress> =
        if std::io::stderr().is_terminal() && !super::progress::on_ci() {
            Box::new(progress::Bar::new())
        } else {
            Box::new(progress::Lines)
        };
    let rows = batch::run(plan, &args.out, jobs, &make, reporter.as_ref());
    drop(reporter);
    finish(
        &rows,
        &args.out,
        roster.as_ref(),
        args.lms.assignment.as_deref(),
    )
}

pub(super) fn merge(args: MergeArgs) -> Result<Exit> {
    let roster = args.lms.roster()?;
    let rows = batch::merge(&args.dirs, &args.out)?;
    eprintln!(
        "labgrade: merged {} from {} into {}",
        crate::words::counted(rows.len(), "submission"),
        crate::words::count(args.dirs.len(), "directory", "directories"),
        args.out.display()
    );
    finish(
        &rows,
        &args.out,
        roster.as_ref(),
        args.lms.assignment.as_deref(),
    )?;
    Ok(Exit::Pass)
}

/// Writes the outputs and says what a TA needs to know: score changes and ungraded submissions.
fn finish(
    rows: &[Row],
    out: &std::path::Path,
    roster: Option<&batch::lms::Roster>,
    assignment: Option<&str>,
) -> Result<Exit> {
    let changed = batch::write_outputs(out, rows)?;
    if let Some(roster) = roster {
        let assignment = assignment.map(str::to_string).unwrap_or_else(|| {
            batch::results::graded(rows)
                .iter()
                .find_map(|r| r.lab.clone())
                .unwrap_or_else(|| "labgrade".to_string())
        });
        let export = batch::lms::write(out, rows, roster, &assignment)?;
        eprintln!(
            "labgrade: wrote {}{} for {}, grade column \"{}\"",
            batch::lms::CANVAS_FILE,
            if export.moodle.is_some() {
                format!(" and {}", batch::lms::MOODLE_FILE)
            } else {
                String::new()
            },
            crate::words::count(roster.students.len(), "roster student", "roster students"),
            crate::report::terminal::line(&assignment)
        );
        for w in export.warnings() {
            eprintln!("labgrade: warning: {}", crate::report::terminal::line(&w));
        }
    }
    if !changed.is_empty() {
        let scores = changed.iter().filter(|c| c.score_moved()).count();
        let dropped = changed.iter().filter(|c| c.dropped()).count();
        eprintln!(
            "labgrade: {} since the previous grading{}{} (changes.csv):",
            crate::words::count(scores, "score changed", "scores changed"),
            if dropped > 0 {
                format!(", {dropped} dropped (listed first)")
            } else {
                String::new()
            },
            if changed.len() > scores {
                format!(
                    ", {} with the same score but other verdicts",
                    changed.len() - scores
                )
            } else {
                String::new()
            }
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
    if let Some(line) = batch::summary::phase_line(&batch::results::graded(rows)) {
        eprintln!("labgrade: {line}");
    }
    if failed > 0 {
        eprintln!(
            "labgrade: {failed} of {} could not be graded (summary.md says why)",
            crate::words::counted(rows.len(), "submission")
        );
        return Ok(Exit::Error);
    }
    Ok(Exit::Pass)
}

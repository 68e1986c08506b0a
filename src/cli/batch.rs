//! `labgrade batch`: every immediate subdirectory of a root, on a pool of grading workers.
//!
//! Each worker thread has its own target directory in the build cache, so builds run in
//! parallel without waiting for each other's locks. One submission's failure never stops the
//! batch: it is recorded and the batch goes on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use clap::Args;

use super::{default_jobs, grader, write_atomically, SpecArgs, EXIT_ERROR, EXIT_PASS};
use crate::report::{csv_field, to_json};
use crate::verdict::GradeResult;

#[derive(Args, Debug)]
pub(super) struct BatchArgs {
    /// Directory whose immediate subdirectories are the submissions.
    root: PathBuf,
    /// Where `<name>.json` and `gradebook.csv` are written.
    #[arg(long, value_name = "RESULTS_DIR")]
    out: PathBuf,
    /// Submissions graded at the same time (default: the cores available).
    #[arg(long)]
    jobs: Option<usize>,
    #[command(flatten)]
    specs: SpecArgs,
}

/// One line of the gradebook.
struct Row {
    name: String,
    outcome: Result<GradeResult, String>,
}

pub(super) fn run(args: BatchArgs) -> Result<u8> {
    let spec = args.specs.load()?;
    let submissions = list_submissions(&args.root)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::new());
    let total = submissions.len();
    std::thread::scope(|s| {
        for worker in 0..jobs.min(total.max(1)) {
            let grader = grader(
                spec.clone(),
                worker,
                if jobs > 1 { 1 } else { default_jobs() },
            );
            let (next, done, rows, submissions, out) =
                (&next, &done, &rows, &submissions, &args.out);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, dir)) = submissions.get(i) else {
                    break;
                };
                let outcome = grader
                    .grade(dir, name)
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|r| {
                        write_result(out, &r)
                            .map(|_| r)
                            .map_err(|e| format!("{e:#}"))
                    });
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                match &outcome {
                    Ok(r) => eprintln!(
                        "[{n}/{total}] {name}: {} / {} ({:.1} s)",
                        r.score(),
                        r.max_score(),
                        r.total_time.as_secs_f64()
                    ),
                    Err(e) => eprintln!("[{n}/{total}] {name}: could not grade: {e}"),
                }
                rows.lock().expect("no panic under the lock").push(Row {
                    name: name.clone(),
                    outcome,
                });
            });
        }
    });
    let mut rows = rows.into_inner().expect("threads joined");
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    write_atomically(&args.out.join("gradebook.csv"), gradebook(&rows).as_bytes())?;
    let failed = rows.iter().filter(|r| r.outcome.is_err()).count();
    if failed > 0 {
        eprintln!("labgrade: {failed} of {total} submission(s) could not be graded");
        return Ok(EXIT_ERROR);
    }
    Ok(EXIT_PASS)
}

/// Immediate subdirectories of `root`, by name.
fn list_submissions(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let entry = entry.with_context(|| format!("reading {}", root.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
    }
    found.sort();
    Ok(found)
}

fn write_result(out: &Path, result: &GradeResult) -> Result<()> {
    let text = serde_json::to_string_pretty(&to_json(result))?;
    write_atomically(
        &out.join(format!("{}.json", result.submission)),
        text.as_bytes(),
    )
}

/// The gradebook: `submission,score,max_score,tests_passed,tests_total,status`.
fn gradebook(rows: &[Row]) -> String {
    let mut csv = String::from("submission,score,max_score,tests_passed,tests_total,status\n");
    for row in rows {
        let line = match &row.outcome {
            Ok(r) => format!(
                "{},{},{},{},{},graded",
                csv_field(&row.name),
                to_json(r).score,
                to_json(r).max_score,
                r.tests.iter().filter(|t| t.verdict.passed()).count(),
                r.tests.len()
            ),
            Err(_) => format!("{},,,,,error", csv_field(&row.name)),
        };
        csv.push_str(&line);
        csv.push('\n');
    }
    csv
}

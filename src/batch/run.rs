//! The grading workers: which submissions need grading, and grading them in parallel.
//!
//! Each worker owns a [`Grader`] (its own target directory in the build cache, so builds never
//! wait for each other). A submission that cannot be graded, a grader that panics included,
//! becomes an error row; the batch goes on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::key::{self, KeyParts};
use super::record::{self, Previous, Record};
use super::results::{self, Entry, Row};
use super::{BatchError, Shard};
use crate::deadline::{self, Late};
use crate::grade::Grader;
use crate::report::{self, Format, ReportOptions};
use crate::spec::Spec;

/// A submission: a directory whose name is the submission's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub name: String,
    pub dir: PathBuf,
    /// What the collection (an LMS or Gradescope export) says about it.
    pub origin: Option<super::collection::Origin>,
}

/// A submission to grade, with what its result will be keyed by and what it replaces.
#[derive(Debug, Clone)]
pub struct Job {
    pub submission: Submission,
    /// `None` when the submission's files could not be read to hash them: graded, never reused.
    pub key: Option<KeyParts>,
    pub previous: Option<Previous>,
    /// What the spec's late policy makes of it; `None` without a deadline (or when not even
    /// its files' times could be read).
    pub late: Option<Late>,
}

/// What a batch will do: results it keeps and submissions it grades.
#[derive(Debug)]
pub struct Plan {
    pub kept: Vec<Row>,
    pub jobs: Vec<Job>,
}

/// What the workers report as they go; a [`Progress`] renders it.
#[derive(Debug)]
pub enum Event<'a> {
    /// Before any grading: `kept` of `total` submissions already have a valid result.
    Planned { total: usize, kept: usize },
    /// A worker started grading `name`.
    Started { name: &'a str },
    /// `name` is done: the `done`-th of `total`.
    Finished {
        done: usize,
        total: usize,
        row: &'a Row,
        elapsed: Duration,
    },
}

/// Renders [`Event`]s; called from the worker threads.
pub trait Progress: Sync {
    fn event(&self, event: Event<'_>);
}

/// Immediate subdirectories of `root` that belong to `shard` (all without one), by name.
pub fn list(root: &Path, shard: Option<Shard>) -> Result<Vec<Submission>, BatchError> {
    let io_err = |source| BatchError::Io {
        action: "reading",
        path: root.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if shard.is_none_or(|s| s.contains(&name)) {
                found.push(Submission {
                    name,
                    dir: entry.path(),
                    origin: None,
                });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Splits `submissions` into results in `out` that still hold (same key) and jobs.
///
/// With a deadline, each submission's time is part of its key, so a result whose time (or the
/// policy) changed is graded again.
pub fn plan(submissions: Vec<Submission>, spec: &Spec, out: &Path) -> Result<Plan, BatchError> {
    let spec_hash = key::spec_hash(spec);
    let mut plan = Plan {
        kept: Vec::new(),
        jobs: Vec::new(),
    };
    for submission in submissions {
        let late = spec.deadline.as_ref().and_then(|d| {
            // The TA's export's time, when it has one, is better than any in the submission.
            let trusted = submission.origin.as_ref().and_then(|o| o.submitted.clone());
            let submitted = match trusted {
                Some(t) => t,
                None => deadline::submission_time(&submission.dir, None).ok()?,
            };
            // The TA's extension for this name, if any (never read from the submission).
            let extension = spec
                .extensions
                .as_ref()
                .and_then(|e| e.get(&submission.name));
            Some(deadline::assess_extended(d, extension, submitted))
        });
        let key = key::submission_hash(&submission.dir)
            .ok()
            .map(|hash| KeyParts {
                submission: hash,
                spec: spec_hash.clone(),
                grader: key::grader_version(),
                submitted: late.as_ref().map_or_else(String::new, key::submitted_part),
            });
        let earlier = results::read_record(out, &submission.name);
        match (earlier, &key) {
            // A result is kept only when the export still says the same of it (submitters,
            // time, late marker): a corrected roster is written again.
            (Some(record), Some(key))
                if record.graded_from(key)
                    && record.collection
                        == submission
                            .origin
                            .as_ref()
                            .map(super::collection::Origin::to_json) =>
            {
                results::keep(out, &submission.name)?;
                plan.kept.push(Row {
                    name: submission.name,
                    entry: Entry::Graded(Box::new(record)),
                });
            }
            (earlier, _) => plan.jobs.push(Job {
                previous: earlier.map(|r| r.as_previous()),
                submission,
                key,
                late,
            }),
        }
    }
    Ok(plan)
}

/// Grades `plan`'s jobs on `jobs` workers (`grader(i)` makes worker `i`'s grader), writing each
/// result into `out` as it finishes; returns every row, kept and graded, in name order.
pub fn run(
    plan: Plan,
    out: &Path,
    jobs: usize,
    grader: &(dyn Fn(usize) -> Grader + Sync),
    progress: &dyn Progress,
) -> Vec<Row> {
    let total = plan.kept.len() + plan.jobs.len();
    progress.event(Event::Planned {
        total,
        kept: plan.kept.len(),
    });
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(plan.kept.len());
    let rows = Mutex::new(plan.kept);
    let workers = jobs.clamp(1, plan.jobs.len().max(1));
    std::thread::scope(|s| {
        for worker in 0..workers {
            let (next, done, rows, queue) = (&next, &done, &rows, &plan.jobs);
            s.spawn(move || {
                let grader = grader(worker);
                while let Some(job) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                    progress.event(Event::Started {
                        name: &job.submission.name,
                    });
                    let started = Instant::now();
                    let row = grade_one(&grader, job, out);
                    progress.event(Event::Finished {
                        done: done.fetch_add(1, Ordering::Relaxed) + 1,
                        total,
                        row: &row,
                        elapsed: started.elapsed(),
                    });
                    rows.lock().expect("no panic under the lock").push(row);
                }
            });
        }
    });
    let mut rows = rows.into_inner().expect("workers joined");
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// Grades one submission and writes its file; every failure becomes an error row.
fn grade_one(grader: &Grader, job: &Job, out: &Path) -> Row {
    let name = &job.submission.name;
    let entry = match graded_record(grader, job, out) {
        Ok(record) => Entry::Graded(Box::new(record)),
        Err(why) => {
            // Could not even record the error: the row still says why.
            let _ = results::write_error(out, name, &why);
            Entry::Error(why)
        }
    };
    Row {
        name: name.clone(),
        entry,
    }
}

fn graded_record(grader: &Grader, job: &Job, out: &Path) -> Result<Record, String> {
    let name = &job.submission.name;
    let graded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        grader.grade(&job.submission.dir, name)
    }));
    let result = match graded {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => return Err(crate::errors::chain(&e)),
        Err(panic) => {
            return Err(format!(
                "internal error: the grader panicked: {}",
                panic_text(&panic)
            ))
        }
    };
    // The page first: the result file is what makes a submission count as graded.
    let page = report::render(
        &result,
        Format::Html,
        &ReportOptions {
            late: job.late.clone(),
            index: Some(results::INDEX_PAGE.to_string()),
            ..ReportOptions::default()
        },
    );
    results::write_page(out, name, &page).map_err(|e| crate::errors::chain(&e))?;
    let text = record::render(
        &result,
        job.key.as_ref(),
        job.previous.as_ref(),
        job.late.as_ref(),
        job.submission.origin.as_ref(),
    );
    results::write_result(out, name, &text).map_err(|e| crate::errors::chain(&e))?;
    // The row is what the file says, exactly as a resumed batch or a merge will read it.
    Record::parse(&text).map_err(|e| format!("internal error: unreadable result: {e}"))
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

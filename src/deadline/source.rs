//! When a submission was handed in, from the best source there is, in this order:
//!
//! 1. Gradescope's `submission_metadata.json` (its `created_at`): in the submission directory,
//!    or the file named by `labgrade grade --submission-metadata` (Gradescope keeps it in
//!    `/autograder/`, beside the submission, where students cannot write it).
//! 2. The last commit of the submission's git work tree (`git log -1 --format=%cI`), when the
//!    submission directory is the top of one (a `.git` in it: a submission folder inside the
//!    TA's own repository is not the student's history).
//! 3. The newest modification time of its files (`.git` left out).
//!
//! One small I/O function per source; the parsing is pure and tested on text. A source that is
//! present but unusable (a metadata file without `created_at`, a repository without commits)
//! is not silently skipped: [`Submitted::skipped`] says why the next one was used.
//!
//! Each source is only as trustworthy as its origin: commit dates are written by the student's
//! own git, and files' times by whatever unpacked them. Gradescope's file is written by
//! Gradescope.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::time::{UtcTime, ZonedTime};

/// Gradescope's metadata file's name.
pub const METADATA_FILE: &str = "submission_metadata.json";
/// How long `git log` may take before the next source is used.
const GIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries looked at for the newest file time; a submission is a few source files.
const MAX_ENTRIES: usize = 100_000;

/// Where a submission time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// Gradescope's `submission_metadata.json`, `created_at`.
    Gradescope,
    /// The submission's last git commit (committer date).
    Git,
    /// The newest modification time of the submission's files.
    FileTimes,
}

impl TimeSource {
    /// Stable machine-readable name (the `source` of the JSON result's `late`).
    pub fn code(self) -> &'static str {
        match self {
            TimeSource::Gradescope => "gradescope",
            TimeSource::Git => "git",
            TimeSource::FileTimes => "file_times",
        }
    }

    /// For people: `the last git commit`.
    pub fn describe(self) -> &'static str {
        match self {
            TimeSource::Gradescope => "Gradescope's submission time",
            TimeSource::Git => "the last git commit",
            TimeSource::FileTimes => "the newest file's modification time",
        }
    }
}

/// When a submission was handed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The instant, with the offset the source wrote it in (UTC for file times).
    pub at: ZonedTime,
    pub source: TimeSource,
    /// Better sources that were present but could not be used, each with why.
    pub skipped: Vec<String>,
}

/// The submission time of `dir`: from `metadata` (a Gradescope metadata file) when given, else
/// from `dir/submission_metadata.json`, git, or the files' times. Errs only when not even the
/// files' times can be read.
pub fn submission_time(dir: &Path, metadata: Option<&Path>) -> Result<Submitted, String> {
    let mut skipped = Vec::new();
    let metadata_file = metadata.map_or_else(|| dir.join(METADATA_FILE), Path::to_path_buf);
    match from_gradescope_metadata(&metadata_file) {
        Ok(Some(at)) => return Ok(found(at, TimeSource::Gradescope, skipped)),
        Ok(None) if metadata.is_some() => {
            skipped.push(format!("{}: no such file", metadata_file.display()));
        }
        Ok(None) => {}
        Err(why) => skipped.push(format!("{}: {why}", metadata_file.display())),
    }
    match from_git(dir, GIT_TIMEOUT) {
        Ok(Some(at)) => return Ok(found(at, TimeSource::Git, skipped)),
        Ok(None) => {}
        Err(why) => skipped.push(format!("git: {why}")),
    }
    let at = from_file_times(dir)?;
    Ok(found(at, TimeSource::FileTimes, skipped))
}

fn found(at: ZonedTime, source: TimeSource, skipped: Vec<String>) -> Submitted {
    Submitted {
        at,
        source,
        skipped,
    }
}

/// `created_at` of a Gradescope metadata file; `Ok(None)` when there is no such file.
pub fn from_gradescope_metadata(path: &Path) -> Result<Option<ZonedTime>, String> {
    // Bounded, and never through a symbolic link.
    super::gradescope::read(path)?
        .map(|text| created_at(&text))
        .transpose()
}

/// The `created_at` field of a metadata file's text
/// (`"created_at": "2018-07-01T14:22:32.365935-07:00"`).
pub fn created_at(json: &str) -> Result<ZonedTime, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not valid JSON: {e}"))?;
    match value.get("created_at") {
        Some(serde_json::Value::String(s)) => ZonedTime::parse(s),
        Some(other) => Err(format!("`created_at` is not a timestamp string: {other}")),
        None => Err("no `created_at` field".to_string()),
    }
}

/// The committer date of the last commit of the git work tree at `dir`; `Ok(None)` when `dir`
/// is not the top of a work tree.
pub fn from_git(dir: &Path, timeout: Duration) -> Result<Option<ZonedTime>, String> {
    if std::fs::symlink_metadata(dir.join(".git")).is_err() {
        return Ok(None);
    }
    let mut cmd = Command::new("git");
    // The repository's own configuration could name programs for `log` to run (a signature
    // checker): those features are switched off, and nothing is read from the terminal.
    cmd.args([
        "--no-pager",
        "-c",
        "log.showSignature=false",
        "-c",
        "core.fsmonitor=false",
        "-C",
    ])
    .arg(dir)
    .args(["log", "-1", "--format=%cI"])
    .env("GIT_TERMINAL_PROMPT", "0")
    .env("GIT_OPTIONAL_LOCKS", "0")
    .env_remove("GIT_DIR")
    .env_remove("GIT_WORK_TREE")
    .env_remove("GIT_INDEX_FILE")
    .stdin(Stdio::null());
    let output = run_with_timeout(cmd, timeout)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(format!("`git log` failed ({}): {first}", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    if stdout.trim().is_empty() {
        return Err("the repository has no commits".to_string());
    }
    ZonedTime::parse(&stdout).map(Some)
}

/// Runs `cmd` to completion, or kills it after `timeout`.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<std::process::Output, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            // `log -1` prints one line: the pipes cannot fill up before it exits.
            Ok(Some(_)) => {
                return child
                    .wait_with_output()
                    .map_err(|e| format!("reading git's output: {e}"))
            }
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`git log` took more than {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for git: {e}")),
        }
    }
}

/// The newest modification time of the regular files under `dir` (symbolic links not
/// followed, `.git` left out); the directory's own when it holds no file.
pub fn from_file_times(dir: &Path) -> Result<ZonedTime, String> {
    let own = std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .map_err(|e| format!("cannot read the times of {}: {e}", dir.display()))?;
    let mut newest: Option<SystemTime> = None;
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                break;
            }
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() && entry.file_name() != ".git" {
                stack.push(entry.path());
            } else if meta.is_file() {
                if let Ok(t) = meta.modified() {
                    newest = newest.max(Some(t));
                }
            }
        }
    }
    Ok(UtcTime::from_system(newest.unwrap_or(own)).at_offset(0))
}

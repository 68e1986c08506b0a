//! When a submission was handed in, from the best source there is, in this order:
//!
//! 1. Gradescope's `submission_metadata.json` (its `created_at`), named by
//!    `labgrade grade --submission-metadata` (Gradescope keeps it in `/autograder/`, beside the
//!    submission, where students cannot write it). A file of that name *inside* the submission
//!    was written by the student: it is never opened, only reported as ignored.
//! 2. The last commit of the submission's git repository, when the submission directory is the
//!    top of one (a `.git` directory in it: a submission folder inside the TA's own repository
//!    is not the student's history).
//! 3. The newest modification time of its files (`.git` left out).
//!
//! One small I/O function per source; the parsing is pure and tested on text. A source that is
//! present but unusable (a metadata file without `created_at`, a repository without commits)
//! is not silently skipped: [`Submitted::skipped`] says why the next one was used.
//!
//! Each source is only as trustworthy as its origin, and [`TimeSource::describe`] says so:
//! Gradescope's file is written by Gradescope; commit dates by the student's own git, and
//! files' times by whatever unpacked them.
//!
//! **The student's repository is data, never configuration.** Its `.git/config` can make git
//! run programs (`core.fsmonitor`, `core.sshCommand` with a promisor remote's lazy fetch, hooks,
//! a pager, `include.path`…). So git never opens it: the grader resolves `HEAD` itself (small
//! files, read through [`untrusted_file`](crate::untrusted_file)) and asks git for that one
//! commit's date with a private, empty `GIT_DIR` of its own whose object store is the
//! student's (`GIT_OBJECT_DIRECTORY`), a cleared environment, no system or global config, no
//! protocol allowed, no lazy fetch, in its own process group, killed after a time limit, its
//! output bounded.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::datetime::{UtcTime, ZonedTime};
use crate::untrusted_file;

/// Gradescope's metadata file's name.
pub const METADATA_FILE: &str = "submission_metadata.json";
/// How long `git log` may take before the next source is used.
const GIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries looked at for the newest file time; a submission is a few source files.
const MAX_ENTRIES: usize = 100_000;
/// A ref file is one line; `packed-refs` of a student's repository a few KiB.
const MAX_REF_BYTES: u64 = 4 << 10;
const MAX_PACKED_REFS_BYTES: u64 = 1 << 20;
/// Symbolic refs followed from `HEAD` (`HEAD` → `refs/heads/main` is one).
const MAX_REF_HOPS: usize = 5;
/// Bytes of git's output read (one line is expected).
const MAX_GIT_OUTPUT: u64 = 16 << 10;

/// Where a submission time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// Gradescope's `submission_metadata.json`, `created_at`.
    Gradescope,
    /// Gradescope's "Download Submissions" export, `submission_metadata.yml`'s `:created_at:`
    /// (the TA's download, beside the submissions, not inside one).
    GradescopeExport,
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
            TimeSource::GradescopeExport => "gradescope_export",
            TimeSource::Git => "git",
            TimeSource::FileTimes => "file_times",
        }
    }

    /// For people, with how far it can be trusted: `the last git commit, whose date the
    /// student sets`.
    pub fn describe(self) -> &'static str {
        match self {
            TimeSource::Gradescope => "Gradescope's submission time, which students cannot set",
            TimeSource::GradescopeExport => {
                "Gradescope's submission time from the TA's export (submission_metadata.yml), \
                 which students cannot set"
            }
            TimeSource::Git => "the last git commit, whose date the student sets",
            TimeSource::FileTimes => {
                "the newest file's modification time, set by whatever unpacked the files"
            }
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

/// The submission time of `dir`: from `metadata` (Gradescope's metadata file, outside the
/// submission) when given, else git or the files' times. Errs only when not even the files'
/// times can be read.
pub fn submission_time(dir: &Path, metadata: Option<&Path>) -> Result<Submitted, String> {
    let mut skipped = Vec::new();
    // Only looked at, never opened: a link to /dev/zero or a FIFO costs nothing.
    if dir.join(METADATA_FILE).symlink_metadata().is_ok() {
        skipped.push(format!(
            "{METADATA_FILE} in the submission: written by the student, so ignored \
             (Gradescope's own is passed with --submission-metadata)"
        ));
    }
    if let Some(file) = metadata {
        match from_gradescope_metadata(file) {
            Ok(Some(at)) => return Ok(found(at, TimeSource::Gradescope, skipped)),
            Ok(None) => skipped.push(format!("{}: no such file", file.display())),
            Err(why) => skipped.push(format!("{}: {why}", file.display())),
        }
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

/// The committer date of the last commit of the git repository at `dir/.git`; `Ok(None)` when
/// there is none. A `.git` that is a link, a file (`gitdir: …` pointing elsewhere) or anything
/// but a directory is refused, not followed.
pub fn from_git(dir: &Path, timeout: Duration) -> Result<Option<ZonedTime>, String> {
    let git_dir = dir.join(".git");
    let Ok(meta) = git_dir.symlink_metadata() else {
        return Ok(None);
    };
    if !meta.is_dir() {
        return Err(format!(
            "`.git` is {}: not followed",
            untrusted_file::kind(&meta)
        ));
    }
    let objects = git_dir.join("objects");
    match objects.symlink_metadata() {
        Ok(m) if m.is_dir() => {}
        Ok(m) => {
            return Err(format!(
                "`.git/objects` is {}: not followed",
                untrusted_file::kind(&m)
            ))
        }
        Err(_) => return Err("not a repository: no `.git/objects`".to_string()),
    }
    let commit = head_commit(&git_dir)?;
    let private = crate::tempdirs::create("git")
        .map_err(|e| format!("cannot make a private git directory: {e}"))?;
    let home = private.path().join("home");
    let own_git_dir = private.path().join("git");
    for d in [
        &home,
        &own_git_dir.join("refs"),
        &own_git_dir.join("objects"),
    ] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot make {}: {e}", d.display()))?;
    }
    std::fs::write(own_git_dir.join("HEAD"), "ref: refs/heads/none\n")
        .and_then(|()| std::fs::write(own_git_dir.join("config"), GIT_CONFIG))
        .map_err(|e| format!("cannot write the private git directory: {e}"))?;
    let mut cmd = hardened_git(&own_git_dir, &objects, &home);
    cmd.args(["log", "-1", "--no-walk", "--format=%cI"])
        .arg(&commit)
        .arg("--");
    let output = run_bounded(cmd, timeout)?;
    if !output.success {
        let first = output
            .stderr
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        return Err(format!("`git log` failed: {first}"));
    }
    if output.stdout.trim().is_empty() {
        return Err("the repository has no commits".to_string());
    }
    ZonedTime::parse(&output.stdout).map(Some)
}

/// The private repository's whole configuration: nothing that can run or fetch.
const GIT_CONFIG: &str = "[core]\n\trepositoryformatversion = 0\n\tbare = true\n";

/// `git` that reads no configuration of the student's (its `GIT_DIR` is the grader's, only the
/// objects are the student's) nor any system or user one, and can neither run a helper nor
/// fetch: every switch is set twice, in the environment and on the command line, so a git that
/// ignores one still honours the other.
fn hardened_git(git_dir: &Path, objects: &Path, home: &Path) -> Command {
    let mut cmd = Command::new("git");
    for (key, value) in [
        ("core.fsmonitor", "false"),
        ("core.hooksPath", "/dev/null"),
        ("core.sshCommand", "false"),
        ("core.pager", "cat"),
        ("core.askPass", "false"),
        ("protocol.allow", "never"),
        ("fetch.negotiationAlgorithm", "noop"),
        ("log.showSignature", "false"),
        ("diff.external", ""),
    ] {
        cmd.arg("-c").arg(format!("{key}={value}"));
    }
    cmd.arg("--no-pager")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_DIR", git_dir)
        .env("GIT_OBJECT_DIRECTORY", objects)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("GIT_ALLOW_PROTOCOL", "")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env("PAGER", "cat")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("LC_ALL", "C")
        .current_dir(home)
        .stdin(Stdio::null())
        .process_group(0);
    cmd
}

/// The commit `HEAD` names in `git_dir`, as 40 (or 64) hex digits: `HEAD` and the refs it
/// points to read as small regular files, then `packed-refs`.
pub fn head_commit(git_dir: &Path) -> Result<String, String> {
    let mut name = "HEAD".to_string();
    for _ in 0..MAX_REF_HOPS {
        let value = match read_ref(git_dir, &name)? {
            Some(v) => v,
            None => packed_ref(git_dir, &name)?
                .ok_or_else(|| format!("the repository has no commits (`{name}` is not set)"))?,
        };
        match value.strip_prefix("ref:") {
            Some(target) => name = checked_ref_name(target.trim())?,
            None if is_object_id(&value) => return Ok(value),
            None => return Err(format!("`{name}` holds no commit id")),
        }
    }
    Err("`HEAD` is a chain of symbolic refs too long to follow".to_string())
}

/// A ref name that stays inside `.git`: `refs/heads/main`, nothing with `..`, no absolute path.
fn checked_ref_name(name: &str) -> Result<String, String> {
    let sane = name.starts_with("refs/")
        && name.len() <= 255
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.chars().all(|c| c.is_ascii_graphic() && c != '\\')
        });
    if sane {
        Ok(name.to_string())
    } else {
        Err("`HEAD` points outside refs/: not followed".to_string())
    }
}

fn read_ref(git_dir: &Path, name: &str) -> Result<Option<String>, String> {
    // `O_NOFOLLOW` guards the last component only: `refs` or `refs/heads` may be links too.
    let mut folder = git_dir.to_path_buf();
    for part in Path::new(name)
        .parent()
        .into_iter()
        .flat_map(Path::components)
    {
        folder.push(part);
        match folder.symlink_metadata() {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                return Err(format!(
                    "`.git/{name}`: a folder on its way is {}: not followed",
                    untrusted_file::kind(&m)
                ))
            }
            Err(_) => return Ok(None),
        }
    }
    match untrusted_file::read_text_capped(&git_dir.join(name), MAX_REF_BYTES) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(untrusted_file::Refused::Missing) => Ok(None),
        Err(e) => Err(format!("`.git/{name}`: {e}")),
    }
}

fn packed_ref(git_dir: &Path, name: &str) -> Result<Option<String>, String> {
    let text =
        match untrusted_file::read_text_capped(&git_dir.join("packed-refs"), MAX_PACKED_REFS_BYTES)
        {
            Ok(text) => text,
            Err(untrusted_file::Refused::Missing) => return Ok(None),
            Err(e) => return Err(format!("`.git/packed-refs`: {e}")),
        };
    Ok(text.lines().find_map(|line| {
        let (id, refname) = line.split_once(' ')?;
        (refname.trim() == name && is_object_id(id)).then(|| id.to_string())
    }))
}

fn is_object_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a bounded child process left.
struct Bounded {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to completion, or kills its process group after `timeout`; reads at most
/// [`MAX_GIT_OUTPUT`] bytes of each stream (a child writing more blocks, then is killed).
fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<Bounded, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(MAX_GIT_OUTPUT).read_to_end(&mut out);
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                // The whole group: nothing git started may outlive it.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                return Err(format!("`git log` took more than {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for git: {e}")),
        }
    };
    Ok(Bounded {
        success: status.success(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
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

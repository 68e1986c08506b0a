//! The late policy on fixed times, and each submission-time source on a temporary directory
//! whose times the test sets.

use std::fs;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use super::source::{created_at, from_file_times, from_git, METADATA_FILE};
use super::*;
use crate::spec::{LatePenalty, LatePeriod};

const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

fn due() -> ZonedTime {
    ZonedTime::parse("2026-12-01T22:00:00-05:00").unwrap()
}

fn deadline(grace_s: u64, penalty: LatePenalty) -> Deadline {
    Deadline {
        due: due(),
        grace: Duration::from_secs(grace_s),
        penalty,
    }
}

fn per_day() -> LatePenalty {
    LatePenalty::Rate {
        fraction: 0.1,
        per: LatePeriod::Day,
        max: 0.5,
    }
}

/// Handed in `offset_s` seconds after the deadline (negative: before), per git.
fn submitted(offset_s: i64) -> Submitted {
    Submitted {
        at: UtcTime {
            unix_ms: due().at.unix_ms + offset_s * 1000,
        }
        .at_offset(0),
        source: TimeSource::Git,
        skipped: vec![],
    }
}

#[test]
fn on_time_and_early_submissions_lose_nothing() {
    let d = deadline(0, per_day());
    for offset in [-(DAY as i64), -1, 0] {
        let late = assess(&d, submitted(offset));
        assert!(!late.is_late(), "{offset}");
        assert_eq!(late.penalty_fraction, 0.0);
        assert_eq!(late.penalised(18.0), 18.0);
    }
}

#[test]
fn per_day_counts_started_days_from_the_deadline_up_to_the_cap() {
    let d = deadline(15 * 60, per_day());
    let fraction = |offset_s: i64| assess(&d, submitted(offset_s)).penalty_fraction;
    // Within the grace period: late, but free.
    let grace = assess(&d, submitted(10 * 60));
    assert!(grace.is_late() && grace.within_grace);
    assert_eq!(grace.penalty_fraction, 0.0);
    assert_eq!(grace.late_by, Duration::from_secs(600));
    // Past the grace: the started days count from `due`, not from the end of the grace.
    assert_eq!(fraction(20 * 60), 0.1);
    assert_eq!(fraction(DAY as i64), 0.1);
    assert_eq!(fraction(DAY as i64 + 1), 0.2);
    assert_eq!(fraction(3 * DAY as i64), 0.3);
    assert_eq!(fraction(30 * DAY as i64), 0.5);
    let late = assess(&d, submitted(2 * HOUR as i64));
    assert_eq!(late.penalised(18.0), 16.2);
    assert_eq!(late.submitted_at().rfc3339(), "2026-12-02T00:00:00-05:00");
}

#[test]
fn flat_hourly_and_no_penalties() {
    let flat = deadline(0, LatePenalty::Flat { fraction: 0.2 });
    assert_eq!(assess(&flat, submitted(1)).penalty_fraction, 0.2);
    assert_eq!(
        assess(&flat, submitted(9 * DAY as i64)).penalty_fraction,
        0.2
    );
    let hourly = deadline(
        0,
        LatePenalty::Rate {
            fraction: 0.01,
            per: LatePeriod::Hour,
            max: 1.0,
        },
    );
    assert_eq!(
        assess(&hourly, submitted(2 * HOUR as i64 + 5)).penalty_fraction,
        0.03
    );
    assert_eq!(
        assess(&hourly, submitted(500 * HOUR as i64)).penalty_fraction,
        1.0
    );
    let none = assess(&deadline(0, LatePenalty::None), submitted(DAY as i64));
    assert!(none.is_late());
    assert_eq!(none.penalty_fraction, 0.0);
}

#[test]
fn policies_and_durations_read_as_words() {
    assert_eq!(
        describe_policy(&deadline(15 * 60, per_day())),
        "10% per started day late, at most 50%; 15 minutes of grace"
    );
    assert_eq!(
        describe_policy(&deadline(0, LatePenalty::Flat { fraction: 0.125 })),
        "12.5% off a late submission"
    );
    assert_eq!(
        describe_policy(&deadline(0, LatePenalty::None)),
        "late submissions are marked late and keep their points"
    );
    let words = |s| duration_words(Duration::from_secs(s));
    assert_eq!(words(59), "less than a minute");
    assert_eq!(words(60), "1 minute");
    assert_eq!(words(2 * HOUR), "2 hours");
    assert_eq!(words(3 * HOUR + 12 * 60), "3 hours 12 minutes");
    assert_eq!(words(DAY + 3 * HOUR + 59), "1 day 3 hours");
    assert_eq!(words(2 * DAY + 5 * 60), "2 days");
}

#[test]
fn the_countdown_depends_only_on_the_clock_it_is_given() {
    let d = deadline(15 * 60, per_day());
    let at = |offset_s: i64| UtcTime {
        unix_ms: due().at.unix_ms + offset_s * 1000,
    };
    let due_text = "Tuesday 1 December 2026, 22:00 (UTC-05:00)".to_string();
    assert_eq!(
        countdown(&d, at(-(DAY as i64) - 3 * HOUR as i64)),
        Countdown::Left {
            due: due_text.clone(),
            left: Duration::from_secs(DAY + 3 * HOUR)
        }
    );
    assert_eq!(
        countdown(&d, at(5 * 60)),
        Countdown::Grace {
            due: due_text.clone(),
            ago: Duration::from_secs(300),
            grace_left: Duration::from_secs(600)
        }
    );
    assert_eq!(
        countdown(&d, at(2 * HOUR as i64)),
        Countdown::Passed {
            due: due_text,
            ago: Duration::from_secs(2 * HOUR),
            penalty_fraction: 0.1,
            policy: "10% per started day late, at most 50%; 15 minutes of grace".to_string()
        }
    );
}

#[test]
fn gradescope_metadata_gives_created_at() {
    let text = r#"{
      "id": 123456,
      "created_at": "2018-07-01T14:22:32.365935-07:00",
      "assignment": { "due_date": "2018-07-31T23:00:00.000000-07:00" }
    }"#;
    let at = created_at(text).unwrap();
    assert_eq!(at.rfc3339(), "2018-07-01T14:22:32-07:00");
    assert!(created_at("{}").unwrap_err().contains("no `created_at`"));
    assert!(created_at(r#"{"created_at": 5}"#)
        .unwrap_err()
        .contains("not a timestamp"));
    assert!(created_at("nope").unwrap_err().contains("not valid JSON"));
    assert!(created_at(r#"{"created_at": "2018-07-01T14:22:32"}"#)
        .unwrap_err()
        .contains("without a UTC offset"));
}

fn set_mtime(path: &Path, unix_s: u64) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(unix_s))
        .unwrap();
}

/// A submission with two files whose times are set, and a `.git` directory newer than both.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("src/bin")).unwrap();
    fs::write(dir.path().join("src/bin/counter.rs"), "fn main() {}").unwrap();
    fs::write(dir.path().join("notes.txt"), "").unwrap();
    set_mtime(&dir.path().join("src/bin/counter.rs"), 1_800_000_000);
    set_mtime(&dir.path().join("notes.txt"), 1_700_000_000);
    dir
}

#[test]
fn file_times_are_the_newest_regular_files() {
    let dir = tree();
    let at = from_file_times(dir.path()).unwrap();
    assert_eq!(at.at.unix_ms, 1_800_000_000_000);
    // `.git` is bookkeeping, not the submission.
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::write(dir.path().join(".git/FETCH_HEAD"), "").unwrap();
    assert_eq!(
        from_file_times(dir.path()).unwrap().at.unix_ms,
        1_800_000_000_000
    );
    let got = submission_time(dir.path(), None).unwrap();
    assert_eq!(got.source, TimeSource::FileTimes);
    // A `.git` that is no repository: git's failure is said, and the files' times used.
    assert!(got.skipped[0].starts_with("git: "), "{:?}", got.skipped);
    // An empty directory: its own time.
    let empty = tempfile::tempdir().unwrap();
    let own = fs::metadata(empty.path()).unwrap().modified().unwrap();
    assert_eq!(
        from_file_times(empty.path()).unwrap().at,
        UtcTime::from_system(own)
    );
}

#[test]
fn gradescopes_own_metadata_comes_first_and_a_broken_one_is_reported() {
    let dir = tree();
    let elsewhere = tempfile::tempdir().unwrap();
    let named = elsewhere.path().join(METADATA_FILE);
    fs::write(&named, r#"{"created_at": "2026-12-02T03:00:01Z"}"#).unwrap();
    let got = submission_time(dir.path(), Some(&named)).unwrap();
    assert_eq!(
        (got.source, got.at.rfc3339().as_str()),
        (TimeSource::Gradescope, "2026-12-02T03:00:01Z")
    );
    assert!(got.skipped.is_empty());

    fs::write(&named, "{}").unwrap();
    let got = submission_time(dir.path(), Some(&named)).unwrap();
    assert_eq!(got.source, TimeSource::FileTimes);
    assert!(
        got.skipped[0].contains("no `created_at`"),
        "{:?}",
        got.skipped
    );
    let missing = elsewhere.path().join("nope.json");
    let got = submission_time(dir.path(), Some(&missing)).unwrap();
    assert!(got.skipped[0].contains("no such file"), "{:?}", got.skipped);
}

#[test]
fn a_metadata_file_inside_the_submission_is_the_students_and_never_decides() {
    let dir = tree();
    // The student claims to have handed in long before the deadline.
    fs::write(
        dir.path().join(METADATA_FILE),
        r#"{"created_at": "2020-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let got = submission_time(dir.path(), None).unwrap();
    assert_eq!(got.source, TimeSource::FileTimes);
    assert_eq!(got.at.at.unix_ms, 1_800_000_000_000);
    assert!(
        got.skipped[0].contains("written by the student, so ignored"),
        "{:?}",
        got.skipped
    );
    // Not even opened: a link to /dev/zero or a FIFO costs nothing (a read would never end).
    fs::remove_file(dir.path().join(METADATA_FILE)).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join(METADATA_FILE)).unwrap();
    assert_eq!(
        submission_time(dir.path(), None).unwrap().source,
        TimeSource::FileTimes
    );
    fs::remove_file(dir.path().join(METADATA_FILE)).unwrap();
    nix::unistd::mkfifo(
        &dir.path().join(METADATA_FILE),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    assert_eq!(
        submission_time(dir.path(), None).unwrap().source,
        TimeSource::FileTimes
    );
}

#[test]
fn sources_say_how_far_they_can_be_trusted() {
    assert!(TimeSource::Gradescope
        .describe()
        .contains("students cannot set"));
    assert!(TimeSource::Git
        .describe()
        .contains("whose date the student sets"));
    assert!(TimeSource::FileTimes
        .describe()
        .contains("set by whatever unpacked"));
}

fn git(dir: &Path, args: &[&str], date: &str) -> bool {
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_AUTHOR_NAME", "Student")
        .env("GIT_AUTHOR_EMAIL", "student@example.com")
        .env("GIT_COMMITTER_NAME", "Student")
        .env("GIT_COMMITTER_EMAIL", "student@example.com")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn git_gives_the_last_commit_of_the_submissions_own_repository() {
    let dir = tree();
    if !git(dir.path(), &["init", "-q"], "") {
        crate::skip::skip("git is not installed");
        return;
    }
    // No commit yet: said, and the files' times used.
    let got = submission_time(dir.path(), None).unwrap();
    assert_eq!(got.source, TimeSource::FileTimes);
    assert!(
        got.skipped
            .iter()
            .any(|s| s.contains("no commits") || s.contains("failed")),
        "{:?}",
        got.skipped
    );
    assert!(git(dir.path(), &["add", "-A"], ""));
    assert!(git(
        dir.path(),
        &["commit", "-q", "-m", "lab 10"],
        "2026-12-01T23:30:00-05:00"
    ));
    let got = submission_time(dir.path(), None).unwrap();
    assert_eq!(got.source, TimeSource::Git);
    assert_eq!(got.at.rfc3339(), "2026-12-01T23:30:00-05:00");
    // A folder inside the repository is not a repository of its own.
    assert_eq!(
        from_git(&dir.path().join("src"), Duration::from_secs(10)),
        Ok(None)
    );
}

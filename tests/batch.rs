//! End-to-end: `labgrade batch` over a directory of submissions as a TA runs it: killed with
//! SIGKILL and restarted, regraded after a spec fix, sharded over separate processes and
//! merged, with a submission the grader cannot grade in the middle; and `spec verify`.
//!
//! Every comparison is against one uninterrupted, unsharded batch of the same root.

use labgrade::exit::Exit;

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use tempfile::TempDir;

/// Fixtures whose verdicts are deterministic under the quick spec, graded as submissions.
const SUBMISSIONS: [&str; 6] = [
    "bad_args_accepted",
    "empty",
    "missing_counter",
    "off_by_one",
    "reference",
    "syntax_error_counter",
];

/// A root holding a copy of each of `SUBMISSIONS`.
fn submissions_root() -> TempDir {
    let root = tempfile::tempdir().unwrap();
    for name in SUBMISSIONS {
        copy_dir(&fixture(name), &root.path().join(name));
    }
    root
}

/// The uninterrupted, unsharded batch every other run is compared with, graded once per run of
/// this test binary (in the target directory: statics are never dropped).
struct ReferenceBatch {
    root: TempDir,
    out: PathBuf,
    stderr: String,
}

fn reference_batch() -> &'static ReferenceBatch {
    static RUN: OnceLock<ReferenceBatch> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = submissions_root();
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("batch-reference-results");
        let _ = std::fs::remove_dir_all(&out);
        let done = labgrade()
            .args(["batch", "--jobs", "1", "--spec"])
            .arg(quick_spec())
            .arg(root.path())
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
        assert_eq!(done.status.code(), Some(Exit::Pass.code()), "{stderr}");
        ReferenceBatch { root, out, stderr }
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gradebook(out: &Path) -> String {
    read(&out.join("gradebook.csv"))
}

/// `<name>.json` files in `dir`.
fn results_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    found.sort();
    found
}

/// `labgrade batch` as a plain child process, so the test can kill it by its own pid.
fn spawn_batch(root: &Path, out: &Path) -> std::process::Child {
    // The same environment as `common::labgrade()`, whose `Command` cannot be spawned and left.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("labgrade"));
    cmd.env(
        "LABGRADE_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("labgrade-cache"),
    )
    .env("NO_COLOR", "1")
    .args(["batch", "--jobs", "1", "--spec"])
    .arg(quick_spec())
    .arg(root)
    .arg("--out")
    .arg(out)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap()
}

#[test]
fn the_gradebook_has_per_exercise_scores_and_no_timings_and_progress_is_plain_lines() {
    let ReferenceBatch { out, stderr, .. } = reference_batch();
    let out = out.as_path();
    let csv = gradebook(out);
    assert_eq!(
        csv,
        "submission,score,max_score,pool-sum,counter,tests_passed,tests_total,status\n\
         bad_args_accepted,9,10,7,2,11,13,graded\n\
         empty,0,10,0,0,0,13,graded\n\
         missing_counter,8,10,8,0,10,13,graded\n\
         off_by_one,5,10,3,2,8,13,graded\n\
         reference,10,10,8,2,13,13,graded\n\
         syntax_error_counter,8,10,8,0,10,13,graded\n",
        "{stderr}"
    );
    // Not on a terminal: one plain line per submission, `[n/total] name: score / max (time)`.
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 6, "{stderr}");
    assert!(
        lines[0].starts_with("[1/6] bad_args_accepted: 9 / 10 ("),
        "{stderr}"
    );
    assert!(
        lines[5].starts_with("[6/6] syntax_error_counter: 8 / 10 ("),
        "{stderr}"
    );
    assert!(lines.iter().all(|l| l.ends_with(" s)")), "{stderr}");

    let summary = read(&out.join("summary.md"));
    assert!(summary.contains("6 submissions: 6 graded"), "{summary}");
    assert!(
        summary.contains("| pool-sum | output | n=10 p=3 | 4 / 6 | 67% |"),
        "{summary}"
    );
    assert!(summary.contains("## Slowest submissions"), "{summary}");
    assert_eq!(
        read(&out.join("changes.csv")),
        "submission,previous_score,score,delta,changed,dropped,tests_changed,previous_grader,\
         grader,previous_spec,spec\n"
    );
    let json: serde_json::Value = serde_json::from_str(&read(&out.join("reference.json"))).unwrap();
    assert_eq!(json["score"], json["max_score"]);
    assert_eq!(json["key"].as_str().map(str::len), Some(32), "{json:#}");
}

#[test]
fn every_graded_submission_has_a_page_and_the_overview_links_them_both_ways() {
    let ReferenceBatch { out, .. } = reference_batch();
    let index = read(&out.join("index.html"));
    for name in SUBMISSIONS {
        assert!(
            index.contains(&format!("<a href=\"{name}.html\">{name}</a>")),
            "index.html does not link {name}.html:\n{index}"
        );
        let page = read(&out.join(format!("{name}.html")));
        assert!(page.contains(&format!("<h1>{name}</h1>")), "{page}");
        assert!(
            page.contains("<nav><a href=\"index.html\">"),
            "{name}.html does not link back:\n{page}"
        );
    }
    // Self-contained: the histogram is inline SVG, nothing is fetched or run.
    assert!(index.contains("<svg class=\"plot\""), "{index}");
    assert!(index.contains("6 submissions: 6 graded"), "{index}");
    for page in [&index, &read(&out.join("reference.html"))] {
        assert!(!page.contains("<script") && !page.contains("://"));
        assert!(page.contains("default-src 'none'"));
    }
}

#[test]
fn a_batch_killed_halfway_resumes_without_regrading_and_writes_the_same_gradebook() {
    let ReferenceBatch {
        root, out: full, ..
    } = reference_batch();
    let out = tempfile::tempdir().unwrap();
    let mut child = spawn_batch(root.path(), out.path());
    let deadline = Instant::now() + Duration::from_secs(600);
    while results_in(out.path()).is_empty() {
        assert!(Instant::now() < deadline, "no result within 10 minutes");
        assert!(child.try_wait().unwrap().is_none(), "the batch ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up or write anything more
    child.wait().unwrap();
    let finished: Vec<(PathBuf, String)> = results_in(out.path())
        .into_iter()
        .map(|p| {
            let text = read(&p);
            (p, text)
        })
        .collect();
    assert!(
        (1..SUBMISSIONS.len()).contains(&finished.len()),
        "killed after {} of {} results: not halfway",
        finished.len(),
        SUBMISSIONS.len()
    );
    assert!(!out.path().join("gradebook.csv").exists());

    let again = labgrade()
        .args(["batch", "--jobs", "1", "--spec"])
        .arg(quick_spec())
        .arg(root.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(Exit::Pass.code()), "{stderr}");
    // Finished submissions were not graded again: their files are byte for byte what the killed
    // run wrote (a regrade would rewrite them, with new timings).
    let kept = format!("{} of 6 submissions already graded", finished.len());
    assert!(stderr.contains(&kept), "{stderr}");
    for (path, text) in &finished {
        assert_eq!(&read(path), text, "{} was graded again", path.display());
    }
    assert_eq!(gradebook(out.path()), gradebook(full));
    assert_eq!(results_in(out.path()).len(), SUBMISSIONS.len());
}

#[test]
fn a_spec_fix_regrades_and_lists_whose_score_changed() {
    let ReferenceBatch {
        root, out: full, ..
    } = reference_batch();
    let out = tempfile::tempdir().unwrap();
    for path in results_in(full) {
        std::fs::copy(&path, out.path().join(path.file_name().unwrap())).unwrap();
    }
    let run = |spec: &Path| {
        let done = labgrade()
            .args(["batch", "--jobs", "2", "--spec"])
            .arg(spec)
            .arg(root.path())
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        assert_eq!(done.status.code(), Some(Exit::Pass.code()));
        String::from_utf8_lossy(&done.stderr).into_owned()
    };
    let specs = tempfile::tempdir().unwrap();
    let quick = read(&quick_spec());

    // A comment changes no verdict: nothing is graded again.
    let commented = specs.path().join("commented.toml");
    std::fs::write(&commented, format!("# reviewed by the TA\n{quick}")).unwrap();
    let stderr = run(&commented);
    assert!(
        stderr.contains("6 of 6 submissions already graded"),
        "{stderr}"
    );

    // The fix: `p > n` is worth 3 points instead of 1.
    let fixed = specs.path().join("fixed.toml");
    let marker = "name = \"p > n: n=5 p=8\"\n";
    assert!(quick.contains(marker));
    std::fs::write(
        &fixed,
        quick.replace(marker, &format!("{marker}points = 3.0\n")),
    )
    .unwrap();
    let stderr = run(&fixed);
    assert!(!stderr.contains("already graded"), "{stderr}");
    assert!(stderr.contains("4 scores changed"), "{stderr}");
    assert!(
        stderr.contains("reference: 10 -> 12 / 12 (+2; spec changed)"),
        "{stderr}"
    );
    // The first five columns (the tests, versions and spec hashes after them: tests/regrades.rs).
    let first_five: String = read(&out.path().join("changes.csv"))
        .lines()
        .map(|l| l.splitn(6, ',').take(5).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    assert_eq!(
        first_five,
        "submission,previous_score,score,delta,changed\n\
         bad_args_accepted,9,11,+2,spec\n\
         missing_counter,8,10,+2,spec\n\
         reference,10,12,+2,spec\n\
         syntax_error_counter,8,10,+2,spec\n"
    );
}

#[test]
fn shards_graded_by_separate_processes_merge_into_the_unsharded_gradebook() {
    let ReferenceBatch {
        root, out: full, ..
    } = reference_batch();
    let shards: Vec<TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (k, dir) in shards.iter().enumerate() {
        labgrade()
            .args([
                "batch",
                "--jobs",
                "1",
                "--shard",
                &format!("{k}/2"),
                "--spec",
            ])
            .arg(quick_spec())
            .arg(root.path())
            .arg("--out")
            .arg(dir.path())
            .assert()
            .success();
    }
    let graded: Vec<usize> = shards.iter().map(|d| results_in(d.path()).len()).collect();
    assert_eq!(
        graded.iter().sum::<usize>(),
        SUBMISSIONS.len(),
        "{graded:?}"
    );
    assert!(
        graded.iter().all(|&n| n > 0),
        "one shard got everything: {graded:?}"
    );

    let merged = tempfile::tempdir().unwrap();
    labgrade()
        .arg("merge")
        .args(shards.iter().map(|d| d.path()))
        .arg("--out")
        .arg(merged.path())
        .assert()
        .success()
        .stderr(predicates::str::contains(format!(
            "merged {} submissions from 2 directories",
            SUBMISSIONS.len()
        )));
    assert_eq!(gradebook(merged.path()), gradebook(full));
    assert_eq!(results_in(merged.path()).len(), SUBMISSIONS.len());
    // The pages travel with their results, and the overview is the unsharded one.
    for name in SUBMISSIONS {
        assert!(
            merged.path().join(format!("{name}.html")).is_file(),
            "{name}"
        );
    }
    assert_eq!(
        read(&merged.path().join("index.html")),
        read(&full.join("index.html"))
    );
}

#[test]
fn a_submission_that_cannot_be_graded_does_not_stop_the_batch() {
    let root = tempfile::tempdir().unwrap();
    copy_dir(&fixture("empty"), &root.path().join("empty"));
    // Its result file's name is too long for the file system: the grader cannot record it.
    let long = "x".repeat(252);
    copy_dir(&fixture("empty"), &root.path().join(&long));
    copy_dir(&fixture("empty"), &root.path().join("zed"));
    let out = tempfile::tempdir().unwrap();
    let done = labgrade()
        .args(["batch", "--jobs", "1", "--spec"])
        .arg(quick_spec())
        .arg(root.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(Exit::Error.code()), "{stderr}");
    assert!(
        stderr.contains("1 of 3 submissions could not be graded"),
        "{stderr}"
    );
    let csv = gradebook(out.path());
    assert!(csv.contains(&format!("\n{long},,,,,,,error\n")), "{csv}");
    assert!(csv.contains("\nzed,0,10,"), "{csv}");
    assert!(read(&out.path().join("summary.md")).contains("## Could not be graded"));
}

#[test]
fn spec_verify_reports_a_bug_the_spec_does_not_catch() {
    let verify = |expect: &[&str]| {
        let mut cmd = labgrade();
        cmd.args(["spec", "verify", "--spec"])
            .arg(quick_spec())
            .arg("--reference")
            .arg(fixture("reference"));
        for e in expect {
            cmd.arg("--expect")
                .arg(format!("{}={e}", fixture("off_by_one").display()));
        }
        cmd.output().unwrap()
    };
    let ok = verify(&["pool-sum/n=10*", "pool-sum/n=10 p=3"]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(Exit::Pass.code()), "{text}");
    assert!(text.contains("ok   reference reference: 10 / 10"), "{text}");
    assert!(text.contains("spec verify: no miss"), "{text}");

    // off_by_one's counter is correct: declaring it buggy is a miss; so is a misspelt test.
    let miss = verify(&["counter", "pool-sum/n=11 p=3"]);
    let text = String::from_utf8_lossy(&miss.stdout);
    assert_eq!(miss.status.code(), Some(Exit::Fail.code()), "{text}");
    assert!(
        text.contains("off_by_one passes every test of counter: the spec does not catch its bug"),
        "{text}"
    );
    assert!(text.contains("no test matches pool-sum/n=11 p=3"), "{text}");
    assert!(text.contains("spec verify: 2 misses"), "{text}");
}

#[test]
fn the_scale_out_examples_parse() {
    let slurm = root().join("examples/slurm-array.sh");
    let bash = std::process::Command::new("bash")
        .arg("-n")
        .arg(&slurm)
        .status()
        .unwrap();
    assert!(bash.success(), "{} does not parse", slurm.display());
    assert!(read(&slurm).contains("--shard \"$shard/$shards\""));

    // Perl's core YAML reader (CPAN::Meta::YAML): the workflow must stay within what it reads.
    let workflow = root().join("examples/github-actions-matrix.yml");
    let script = r#"my $y = CPAN::Meta::YAML->read($ARGV[0]) or die CPAN::Meta::YAML->errstr;
        my $j = $y->[0]{jobs};
        print join(" ", @{$j->{shard}{strategy}{matrix}{shard}}), "\n", $j->{merge}{needs}, "\n";
        print map { ($_->{run} // "") . "\n" } @{$j->{merge}{steps}};"#;
    let out = match std::process::Command::new("perl")
        .args(["-MCPAN::Meta::YAML", "-e", script])
        .arg(&workflow)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!("perl is needed to check {}: {e}", workflow.display()),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("0 1 2 3"));
    assert_eq!(lines.next(), Some("shard"));
    assert!(
        text.contains("labgrade merge shards/results-* --out results"),
        "{text}"
    );
}

#[test]
fn a_results_directory_inside_the_root_is_not_a_submission() {
    let root = tempfile::tempdir().unwrap();
    copy_dir(&fixture("empty"), &root.path().join("empty"));
    let out = root.path().join("results");
    for _ in 0..2 {
        labgrade()
            .args(["batch", "--spec"])
            .arg(quick_spec())
            .arg(root.path())
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
    }
    let csv = gradebook(&out);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("\nempty,0,10,"), "{csv}");
}

/// One run cannot hurt another: a submission that holds as many processes as it may, graded
/// beside the reference with two jobs, costs the reference nothing. `RLIMIT_NPROC` counts a
/// user's processes; each run has a uid of its own, so the hog's count is its own alone.
#[test]
fn a_process_hog_graded_beside_a_correct_submission_costs_it_nothing() {
    let root = tempfile::tempdir().unwrap();
    for name in ["process_hog", "reference"] {
        copy_dir(&fixture(name), &root.path().join(name));
    }
    let out = tempfile::tempdir().unwrap();
    let done = labgrade()
        .args(["batch", "--jobs", "2", "--spec"])
        .arg(quick_spec())
        .arg(root.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(Exit::Pass.code()), "{stderr}");
    let result = |name: &str| -> serde_json::Value {
        serde_json::from_str(&read(&out.path().join(format!("{name}.json")))).unwrap()
    };
    let reference = result("reference");
    let failed: Vec<&serde_json::Value> = reference["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !t["reason"].is_null())
        .collect();
    assert!(failed.is_empty(), "the reference lost tests: {failed:#?}");
    assert_eq!(reference["score"], reference["max_score"], "{reference:#}");
    // The hog did hold its processes (up to the run's own limit of 256).
    let hog = result("process_hog");
    let held = hog["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["evidence"]["stdout"].as_str())
        .filter_map(|s| s.split_whitespace().nth(1)?.parse::<u32>().ok())
        .max();
    assert!(
        held.is_some_and(|n| n >= 200),
        "the hog held {held:?}: {hog:#}"
    );
}

/// The grader's temporary directories in `tmp` (`labgrade-stage-…`, `labgrade-scratch-…`, …).
fn grader_dirs(tmp: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("labgrade-") && n != "labgrade-cache")
        .collect();
    found.sort();
    found
}

#[test]
fn a_batch_killed_with_sigkill_leaves_staged_sources_that_the_doctor_removes() {
    let root = tempfile::tempdir().unwrap();
    for name in ["reference", "off_by_one"] {
        copy_dir(&fixture(name), &root.path().join(name));
    }
    let out = tempfile::tempdir().unwrap();
    // A private temporary directory: other tests' directories are never looked at.
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("labgrade"));
    cmd.env(
        "LABGRADE_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("labgrade-cache"),
    )
    .env("NO_COLOR", "1")
    .env("TMPDIR", tmp.path())
    .args(["batch", "--jobs", "1", "--spec"])
    .arg(quick_spec())
    .arg(root.path())
    .arg("--out")
    .arg(out.path())
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !grader_dirs(tmp.path())
        .iter()
        .any(|n| n.starts_with("labgrade-stage-"))
    {
        assert!(
            Instant::now() < deadline,
            "nothing staged within 10 minutes"
        );
        assert!(child.try_wait().unwrap().is_none(), "the batch ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL, by the pid this test started: no destructor runs
    child.wait().unwrap();
    let left = grader_dirs(tmp.path());
    assert!(
        left.iter().any(|n| n.starts_with("labgrade-stage-")),
        "{left:?}"
    );

    // The doctor removes them. The killed grader's own children die with it (parent-death
    // signal), and one of them may still be going for a moment: the doctor is run again
    // until it is done, never against a deadline.
    let mut said = String::new();
    for _ in 0..20 {
        let doctor = labgrade()
            .arg("doctor")
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap();
        assert_eq!(doctor.status.code(), Some(Exit::Pass.code()));
        said.push_str(&String::from_utf8_lossy(&doctor.stdout));
        if grader_dirs(tmp.path()).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(grader_dirs(tmp.path()), Vec::<String>::new(), "{said}");
    assert!(
        said.contains("left by a grader that is no longer running"),
        "{said}"
    );
}

#[test]
fn a_running_graders_directories_are_never_swept() {
    // This test's own process is a live "grader": a directory named after it stays, and one
    // named after a pid with another start time (a dead grader whose pid was reused) goes.
    let tmp = tempfile::tempdir().unwrap();
    let me = std::process::id();
    let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let ns = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata("/proc/self/ns/pid").unwrap());
    let live = tmp
        .path()
        .join(format!("labgrade-stage-{ns}.{me}.{start}-live"));
    let dead = tmp
        .path()
        .join(format!("labgrade-stage-{ns}.{me}.{}-dead", start + 1));
    std::fs::create_dir_all(live.join("src")).unwrap();
    std::fs::create_dir_all(dead.join("src")).unwrap();
    let doctor = labgrade()
        .arg("doctor")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(Exit::Pass.code()));
    assert!(live.exists(), "a live grader's directory was removed");
    assert!(!dead.exists());
}

#[test]
fn each_result_and_the_summary_say_where_the_time_went_per_phase() {
    let batch = reference_batch();
    for name in SUBMISSIONS {
        let r: serde_json::Value =
            serde_json::from_str(&read(&batch.out.join(format!("{name}.json")))).unwrap();
        let p = &r["phases"];
        let get = |k: &str| {
            p[k].as_u64()
                .unwrap_or_else(|| panic!("{name}: no {k}: {r:#}"))
        };
        let sum = get("build_ms") + get("tests_ms") + get("lane_wait_ms") + get("lane_hold_ms");
        // Disjoint parts of the grading's wall time.
        assert!(sum <= r["total_ms"].as_u64().unwrap(), "{name}: {p} {r:#}");
        if name == "reference" {
            assert!(get("tests_ms") > 0, "{p}");
            assert_eq!(get("build_ms"), r["build_ms"].as_u64().unwrap(), "{p}");
        }
    }
    let md = read(&batch.out.join("summary.md"));
    assert!(md.contains("## Where the time went"), "{md}");
    for phase in [
        "| build |",
        "| tests |",
        "| waiting for the timing lane |",
        "| holding the timing lane |",
    ] {
        assert!(md.contains(phase), "{phase}: {md}");
    }
    assert!(
        batch
            .stderr
            .contains("labgrade: time over 6 gradings: build "),
        "{}",
        batch.stderr
    );
}

//! End-to-end: `labgrade batch` over the exports TAs download, each made here in its real
//! shape around the reference solution's two files: Gradescope's "Download Submissions"
//! (`submission_metadata.yml`, a group, a student who submitted twice), GitHub Classroom clones,
//! a Canvas flat download (with its LATE marker and a renamed resubmission) and a Moodle one.
//! Each is recognised (said on stderr and in summary.md), carries its identities into the
//! gradebook, and `--collection` overrides the guess.

use labgrade::exit::Exit;

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn reference(name: &str) -> Vec<u8> {
    fs::read(fixture("reference").join("src/bin").join(name)).unwrap()
}

fn loose(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    for n in ["pool_sum.rs", "counter.rs"] {
        fs::write(dir.join(n), reference(n)).unwrap();
    }
}

struct Batch {
    out: PathBuf,
    stderr: String,
    _dir: tempfile::TempDir,
}

impl Batch {
    fn json(&self, name: &str) -> Value {
        let text = fs::read_to_string(self.out.join(format!("{name}.json")))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", self.stderr));
        serde_json::from_str(&text).unwrap()
    }
    fn file(&self, name: &str) -> String {
        fs::read_to_string(self.out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

fn batch(root: &Path, spec: &Path, extra: &[&str]) -> Batch {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let done = labgrade()
        .args(["batch", "--jobs", "1", "--spec"])
        .arg(spec)
        .arg(root)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    assert_eq!(done.status.code(), Some(Exit::Pass.code()), "{stderr}");
    Batch {
        out,
        stderr,
        _dir: dir,
    }
}

fn full(j: &Value) {
    assert!(j["max_score"].as_f64().unwrap() > 0.0);
    assert_eq!(j["score"], j["max_score"], "{j:#}");
}

#[test]
fn a_gradescope_export_gives_submitters_and_a_trusted_time() {
    let export = tempfile::tempdir().unwrap();
    let r = export.path();
    loose(&r.join("submission_1"));
    fs::create_dir_all(r.join("submission_2/lab10")).unwrap();
    copy_dir(&fixture("reference"), &r.join("submission_2/lab10"));
    loose(&r.join("submission_3"));
    fs::write(
        r.join("submission_metadata.yml"),
        "submission_1:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '100'\n    \
         :email: ada@example.edu\n  :created_at: 2026-12-01 21:00:00.000000000 -05:00\n\
         submission_2:\n  :submitters:\n  - :name: Pair One\n    :sid: '200'\n    \
         :email: one@example.edu\n  - :name: Pair Two\n    :sid: '201'\n    \
         :email: two@example.edu\n  :created_at: 2026-12-01 21:30:00.000000000 -05:00\n\
         submission_3:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '100'\n    \
         :email: ada@example.edu\n  :created_at: 2026-12-02 22:00:00.000000000 -05:00\n",
    )
    .unwrap();
    let spec = root().join("tests/specs/deadline.toml");
    let b = batch(r, &spec, &[]);
    assert!(b.stderr.contains("recognised a Gradescope"), "{}", b.stderr);

    let one = b.json("submission_1");
    full(&one);
    assert_eq!(one["collection"]["kind"], "gradescope");
    assert_eq!(one["collection"]["submitters"][0]["sid"], "100");
    assert_eq!(one["late"]["source"], "gradescope_export");
    assert_eq!(one["late"]["late_by_s"], 0);
    assert_eq!(one["layout"]["kind"], "loose");
    let two = b.json("submission_2");
    full(&two);
    assert_eq!(two["layout"]["kind"], "nested");
    assert_eq!(two["collection"]["submitters"].as_array().unwrap().len(), 2);
    // A day late by Gradescope's own clock, whatever the files' times say.
    let three = b.json("submission_3");
    assert_eq!(three["late"]["source"], "gradescope_export");
    assert_eq!(three["late"]["late_by_s"], 24 * 3600);

    let gradebook = b.file("gradebook.csv");
    let header = gradebook.lines().next().unwrap();
    assert!(
        header.starts_with("submission,score,max_score,"),
        "{header}"
    );
    assert!(
        header.ends_with("names,sids,emails,usernames,lms_ids,lms_late"),
        "{header}"
    );
    assert!(
        gradebook.contains("Pair One; Pair Two,200; 201,"),
        "{gradebook}"
    );

    let students = b.file("students.csv");
    let rows: Vec<&str> = students.lines().collect();
    assert_eq!(
        rows.len(),
        4,
        "a header, Ada once, each of the pair: {students}"
    );
    assert!(
        students.contains("Ada Lovelace,100,ada@example.edu,,,submission_3,"),
        "{students}"
    );
    assert!(
        students.contains("Pair Two,201,two@example.edu,,,submission_2,"),
        "{students}"
    );
    let summary = b.file("summary.md");
    assert!(summary.contains("Collection: gradescope"), "{summary}");
    assert!(
        summary.contains("- 100: kept submission_3, not submission_1"),
        "{summary}"
    );

    // Overridden: plain folders, no identities.
    let b = batch(r, &quick_spec(), &["--collection", "folders"]);
    assert!(
        b.stderr.contains("given one folder per submission"),
        "{}",
        b.stderr
    );
    assert!(b.json("submission_1").get("collection").is_none());
    assert!(!b.out.join("students.csv").exists());
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "s")
        .env("GIT_AUTHOR_EMAIL", "s@x")
        .env("GIT_COMMITTER_NAME", "s")
        .env("GIT_COMMITTER_EMAIL", "s@x")
        .env("GIT_COMMITTER_DATE", "2026-12-01T20:00:00-05:00")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn github_classroom_canvas_and_moodle_downloads_are_recognised() {
    // GitHub Classroom: <assignment>-<username> clones.
    let classroom = tempfile::tempdir().unwrap();
    for user in ["alice", "bob-2"] {
        let d = classroom.path().join(format!("lab10-{user}"));
        copy_dir(&fixture("reference"), &d);
        git(&d, &["init", "-q"]);
        git(&d, &["add", "."]);
        git(&d, &["commit", "-qm", "lab"]);
    }
    let b = batch(classroom.path(), &quick_spec(), &[]);
    assert!(
        b.stderr.contains("recognised GitHub Classroom"),
        "{}",
        b.stderr
    );
    let j = b.json("lab10-bob-2");
    full(&j);
    assert_eq!(j["collection"]["kind"], "github_classroom");
    assert_eq!(j["collection"]["submitters"][0]["username"], "bob-2");
    assert!(b.file("gradebook.csv").contains(",alice,"));

    // Canvas: one flat folder, the LATE marker, a renamed resubmission.
    let canvas = tempfile::tempdir().unwrap();
    let c = canvas.path();
    for (file, from) in [
        ("doejane_LATE_4242_99_pool_sum.rs", "pool_sum.rs"),
        ("doejane_LATE_4242_99_counter.rs", "counter.rs"),
        ("smithbob_17_5_pool_sum-1.rs", "pool_sum.rs"),
        ("smithbob_17_5_counter.rs", "counter.rs"),
    ] {
        fs::write(c.join(file), reference(from)).unwrap();
    }
    let b = batch(c, &quick_spec(), &[]);
    assert!(b.stderr.contains("recognised a Canvas"), "{}", b.stderr);
    let jane = b.json("doejane_4242");
    full(&jane);
    assert_eq!(jane["collection"]["late_marker"], true);
    assert_eq!(jane["collection"]["submitters"][0]["lms_id"], "4242");
    let bob = b.json("smithbob_17");
    full(&bob);
    assert!(bob["collection"].get("late_marker").is_none());
    let gradebook = b.file("gradebook.csv");
    assert!(gradebook.contains(",doejane,,,,4242,yes"), "{gradebook}");

    // Moodle: one folder per student.
    let moodle = tempfile::tempdir().unwrap();
    loose(&moodle.path().join("Jane Doe_4242_assignsubmission_file_"));
    let b = batch(moodle.path(), &quick_spec(), &[]);
    assert!(b.stderr.contains("recognised a Moodle"), "{}", b.stderr);
    let j = b.json("Jane Doe_4242_assignsubmission_file_");
    full(&j);
    assert_eq!(j["collection"]["submitters"][0]["name"], "Jane Doe");
}

/// GitHub Classroom clones are dated by the graded commit (read without letting git run the
/// student's configuration, `src/deadline/source.rs`): one on time, one a day late.
#[test]
fn github_classroom_lateness_is_the_graded_commits_date() {
    let classroom = tempfile::tempdir().unwrap();
    for (user, date) in [
        ("alice", "2026-12-01T20:00:00-05:00"),
        ("bob", "2026-12-02T23:00:00-05:00"),
    ] {
        let d = classroom.path().join(format!("lab10-{user}"));
        copy_dir(&fixture("reference"), &d);
        git(&d, &["init", "-q"]);
        git(&d, &["add", "."]);
        let ok = Command::new("git")
            .args(["commit", "-qm", "lab"])
            .current_dir(&d)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &d)
            .env("GIT_AUTHOR_NAME", "s")
            .env("GIT_AUTHOR_EMAIL", "s@x")
            .env("GIT_COMMITTER_NAME", "s")
            .env("GIT_COMMITTER_EMAIL", "s@x")
            .env("GIT_COMMITTER_DATE", date)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git commit for {user}");
    }
    let spec = root().join("tests/specs/deadline.toml");
    let b = batch(classroom.path(), &spec, &[]);
    assert!(
        b.stderr.contains("recognised GitHub Classroom"),
        "{}",
        b.stderr
    );
    let alice = b.json("lab10-alice");
    assert_eq!(alice["late"]["source"], "git", "{:#}", alice["late"]);
    assert_eq!(alice["late"]["late_by_s"], 0, "{:#}", alice["late"]);
    let bob = b.json("lab10-bob");
    assert_eq!(bob["late"]["source"], "git", "{:#}", bob["late"]);
    assert!(
        bob["late"]["late_by_s"]
            .as_u64()
            .is_some_and(|s| s > 20 * 3600),
        "{:#}",
        bob["late"]
    );
}

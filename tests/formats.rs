//! End-to-end: every format from one grading (`--report`), the GitHub annotations and job
//! summary, `--only`, hidden tests (who sees them), and the student's check as students read it.

use labgrade::exit::Exit;

mod common;

use std::path::Path;

use common::*;

/// Which labgrade graded, as the first line of a human report names it.
const VERSION: &str = concat!(
    "labgrade ",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LABGRADE_COMMIT"),
    ")"
);

fn hidden_spec() -> std::path::PathBuf {
    root().join("tests/specs/hidden.toml")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn several_reports_come_from_one_grading() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let report = |format: &str, name: &str| format!("{format}={}", path(name).display());
    let out = labgrade()
        .arg("grade")
        .arg(fixture("off_by_one"))
        .arg("--spec")
        .arg(quick_spec())
        .args(["--format", "json", "--out"])
        .arg(path("result.json"))
        .args(["--report", &report("junit", "junit.xml")])
        .args(["--report", &report("csv", "tests.csv")])
        .args(["--report", &report("html", "report.html")])
        .args(["--report", &report("gradescope", "results.json")])
        .args(["--report", &report("github", "annotations.txt")])
        .args(["--report", &report("human", "report.txt")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Fail.code()), "{out:?}");
    assert!(out.stdout.is_empty(), "--out took the main report");

    let json: serde_json::Value = serde_json::from_str(&read(&path("result.json"))).unwrap();
    let tests = json["tests"].as_array().unwrap();
    let failing: Vec<&str> = tests
        .iter()
        .filter(|t| t["status"] == "fail")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(failing.len(), 5, "{failing:?}");

    // Every format tells the same story: the same tests, the same failures.
    let xml = read(&path("junit.xml"));
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(
        root.attribute("tests"),
        Some(tests.len().to_string().as_str())
    );
    assert_eq!(root.attribute("failures"), Some("5"));
    let csv = read(&path("tests.csv"));
    assert_eq!(csv.lines().count(), 1 + tests.len());
    assert_eq!(csv.lines().filter(|l| l.contains(",fail,")).count(), 5);
    let gradescope: serde_json::Value = serde_json::from_str(&read(&path("results.json"))).unwrap();
    assert_eq!(gradescope["score"], json["score"]);
    let html = read(&path("report.html"));
    assert_eq!(html.matches("<tr class=\"fail\">").count(), 5);
    let github = read(&path("annotations.txt"));
    assert_eq!(
        github.lines().filter(|l| l.starts_with("::error ")).count(),
        5
    );
    let human = read(&path("report.txt"));
    assert!(
        human.contains("short by 10") && !human.contains('\u{1b}'),
        "{human}"
    );
    for name in failing {
        let markup = name.replace('>', "&gt;");
        assert!(csv.contains(name), "{name}");
        assert!(html.contains(&markup) && xml.contains(&markup), "{name}");
    }
}

#[test]
fn bad_report_arguments_fail_before_grading() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/r.xml");
    let out = labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .arg("--report")
        .arg(format!("junit={}", missing.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(out.stdout.is_empty(), "nothing was graded");
    let out = labgrade()
        .args(["grade", ".", "--report", "pdf=x.pdf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format `pdf`"));
}

#[test]
fn github_annotations_point_at_the_panicking_line_and_the_summary_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = labgrade()
        .arg("grade")
        .arg(fixture("panics"))
        .arg("--spec")
        .arg(quick_spec())
        .args(["--format", "github"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        // The repository root: annotations name files from there.
        .env("GITHUB_WORKSPACE", root().join("fixtures"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Fail.code()));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "::error file=submissions/panics/src/bin/pool_sum.rs,line=74,col=23,\
             title=pool-sum / n=10 p=3 (0 of 1 point)::`pool_sum 10 3` panicked"
        ),
        "{text}"
    );
    assert!(text.lines().all(|l| l.starts_with("::")), "{text}");
    let summary = read(&summary);
    assert!(
        summary.starts_with("earlier step\n## labgrade: panics (lab10&#45;quick)\n"),
        "{summary}"
    );
    assert!(summary.contains("### Failing tests"), "{summary}");
}

#[test]
fn only_runs_the_matching_tests() {
    let out = labgrade()
        .arg("grade")
        .arg(fixture("off_by_one"))
        .arg("--spec")
        .arg(quick_spec())
        .args(["--only", "pool-sum/n=10 p=*", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Fail.code()));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // The counter exercise is not even built.
    assert_eq!(names, ["build pool_sum", "n=10 p=1", "n=10 p=3"]);

    let out = labgrade()
        .arg("grade")
        .arg(fixture("off_by_one"))
        .arg("--spec")
        .arg(quick_spec())
        .args(["--only", "pool-sum/n=11"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("no test matches --only 'pool-sum/n=11'"),
        "{err}"
    );
}

#[test]
fn hidden_tests_reach_staff_reports_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let staff = labgrade()
        .arg("grade")
        .arg(fixture("off_by_one"))
        .arg("--spec")
        .arg(hidden_spec())
        .args(["--format", "github"])
        .args(["--report", &format!("json={}", path("r.json").display())])
        .args(["--report", &format!("junit={}", path("r.xml").display())])
        .args(["--report", &format!("csv={}", path("r.csv").display())])
        .args(["--report", &format!("html={}", path("r.html").display())])
        .args([
            "--report",
            &format!("gradescope={}", path("gs.json").display()),
        ])
        .args(["--report", &format!("human={}", path("r.txt").display())])
        .output()
        .unwrap();
    // The hidden test failed: grading says so.
    assert_eq!(staff.status.code(), Some(Exit::Fail.code()));
    let github = String::from_utf8(staff.stdout).unwrap();
    assert!(!github.contains("secret"), "{github}");
    assert!(
        github.contains("::notice title=labgrade::1 / 1 points"),
        "{github}"
    );
    for staff_report in ["r.json", "r.xml", "r.csv", "r.html", "r.txt"] {
        assert!(
            read(&path(staff_report)).contains("secret n=10 p=2"),
            "{staff_report}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&read(&path("r.json"))).unwrap();
    assert_eq!(
        test_named(&json, "pool-sum", "secret n=10 p=2")["hidden"],
        true
    );
    let gradescope: serde_json::Value = serde_json::from_str(&read(&path("gs.json"))).unwrap();
    let secret = gradescope["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pool-sum / output: secret n=10 p=2")
        .unwrap();
    assert_eq!(secret["visibility"], "after_published");

    // The student's check does not run it, and says that more is graded later.
    let check = labgrade()
        .current_dir(fixture("off_by_one"))
        .arg("check")
        .arg("--spec")
        .arg(hidden_spec())
        .args([
            "--report",
            &format!("json={}", path("check.json").display()),
        ])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(Exit::Pass.code()));
    let text = String::from_utf8(check.stdout).unwrap();
    assert!(!text.contains("secret"), "{text}");
    assert!(
        text.contains("1 hidden test (2 points) is not part of this check"),
        "{text}"
    );
    assert!(!read(&path("check.json")).contains("secret"));
}

#[test]
fn the_students_check_reads_as_a_to_do_list() {
    let spec = quick_spec();
    let spec = spec.display();
    let out = labgrade()
        .current_dir(fixture("off_by_one"))
        .arg("check")
        .arg("--spec")
        .arg(quick_spec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Fail.code()));
    // One run each: `labgrade run`, as "Next:" quotes it.
    let rerun = |args: &str| format!("re-run: labgrade run pool_sum --spec {spec} -- {args}");
    let expected = format!(
        "Grading off_by_one against lab10-quick with {}

■ pool-sum  5 of 10 tests failing, 3 / 8 points
  FAIL n=10 p=1  0 / 1 point
       `pool_sum 10 1` printed \"45\", expected 55: short by 10: the number 10 was not summed?
       {}
  FAIL n=10 p=3  0 / 1 point
       `pool_sum 10 3` printed \"34\", expected 55: short by 21: that is the last number of each of 3 chunks (4, 7, 10), which was not summed: an exclusive bound (`lo..hi`) where `lo..=hi` was meant?
       {}
  FAIL n=1000003 p=1  0 / 1 point
       `pool_sum 1000003 1` printed \"500002500003\", expected 500003500006: short by 1000003: the number 1000003 was not summed?
       {}
  FAIL n=1000003 p=3  0 / 1 point
       `pool_sum 1000003 3` printed \"500001499999\", expected 500003500006: short by 2000007: that is the last number of each of 3 chunks (333335, 666669, 1000003), which was not summed: an exclusive bound (`lo..hi`) where `lo..=hi` was meant?
       {}
  FAIL p > n: n=5 p=8  0 / 1 point
       `pool_sum 5 8` printed \"0\", expected 15: short by 15: the numbers 1..=5, the remainder of N / P, went to no worker (`n / p` = 5 / 8 = 0: every chunk is empty): give the last `n % p` numbers to some worker (or an exclusive bound `lo..hi` on one-number chunks: a run with N > P tells them apart)
       {}
  ok   5 other tests passed

■ counter  all 3 tests passed, 2 / 2 points

Score: 5 / 10 points, 5 tests failing
Next: run `labgrade run pool_sum --spec {spec} -- 10 1` yourself: it should print 55
",
        VERSION,
        rerun("10 1"),
        rerun("10 3"),
        rerun("1000003 1"),
        rerun("1000003 3"),
        rerun("5 8"),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn the_printed_rerun_command_runs_just_that_test() {
    let first = labgrade()
        .current_dir(fixture("off_by_one"))
        .arg("check")
        .arg("--spec")
        .arg(quick_spec())
        .output()
        .unwrap();
    let text = String::from_utf8(first.stdout).unwrap();
    let command = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("re-run: "))
        .expect("a re-run line");
    // Run it as a student would paste it into a shell, with labgrade on the PATH.
    let bin = assert_cmd::cargo::cargo_bin("labgrade");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let again = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(fixture("off_by_one"))
        .env("PATH", path)
        .env("LABGRADE_CACHE_DIR", cache_dir())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    // The failing run again, built and run as graded: the same wrong total.
    assert_eq!(again.status.code(), Some(Exit::Pass.code()), "{again:?}");
    let text = String::from_utf8(again.stdout).unwrap();
    assert!(text.starts_with("$ pool_sum 10 1 "), "{text}");
    assert!(text.contains("45"), "{text}");
    assert!(!text.contains("counter"), "{text}");
}

#[test]
fn the_students_success_is_quiet() {
    let out = labgrade()
        .current_dir(fixture("reference"))
        .arg("check")
        .arg("--spec")
        .arg(quick_spec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Pass.code()));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "Grading reference against lab10-quick with {VERSION}
  ok pool-sum  10 tests, 8 / 8 points
  ok counter  3 tests, 2 / 2 points
All 13 tests passed: 10 / 10 points.
"
        )
    );
}

#[test]
fn colors_go_to_the_terminal_never_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.txt");
    let out = labgrade()
        .arg("grade")
        .arg(fixture("off_by_one"))
        .arg("--spec")
        .arg(quick_spec())
        .arg("--report")
        .arg(format!("human={}", file.display()))
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(Exit::Fail.code()));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("\u{1b}["),
        "forced colors on stdout: {stdout}"
    );
    let text = read(&file);
    assert!(!text.contains('\u{1b}'), "{text}");
    // The same report, colors aside.
    assert_eq!(
        text.lines().filter(|l| l.contains("FAIL")).count(),
        stdout.lines().filter(|l| l.contains("FAIL")).count()
    );
}

/// Grader words and shapes a student should never read: internal names, statistics jargon,
/// Rust debug values, lazy plurals, the staging path.
fn banned_in_student_text(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in [
        "release build",
        "blocks",
        "Karp",
        "(s)",
        "(es)",
        "Exited(",
        "Signaled(",
        "TimedOut {",
        "OutputLimit {",
        "Some(",
        "labgrade-stage",
    ] {
        if text.contains(word) {
            found.push(word.to_string());
        }
    }
    // "run 1", "run 12": a probe's internal numbering.
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices("run ") {
        if bytes.get(i + 4).is_some_and(u8::is_ascii_digit) {
            found.push(text[i..(i + 6).min(text.len())].to_string());
        }
    }
    found
}

#[test]
fn no_student_report_uses_internal_words() {
    // Output, process and race tests, over fixtures with each kind of failure.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("words.toml");
    let quick = std::fs::read_to_string(quick_spec()).unwrap();
    std::fs::write(
        &spec,
        format!(
            "{quick}\n[[exercise.test]]\nkind = \"processes\"\nname = \"processes: safe p=4\"\n\
             args = [\"safe\", \"4\", \"3000000\"]\nworkers = 4\ntimeout = \"30s\"\n\n\
             [[exercise.test]]\nkind = \"race\"\nname = \"race: safe\"\nmode = \"safe\"\n\
             calibrate = true\nbudget = \"2s\"\nmax_runs = 50\n"
        ),
    )
    .unwrap();
    for name in [
        "off_by_one",
        "panics",
        "bad_args_accepted",
        "prints_before_wait",
        "racy_counter",
        "never_reaped",
        "counter_not_shared",
        "inclusive_loop",
    ] {
        let out = labgrade()
            .arg("check")
            .arg(fixture(name))
            .arg("--spec")
            .arg(&spec)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(Exit::Fail.code()), "{name}: {text}");
        let banned = banned_in_student_text(&text);
        assert!(banned.is_empty(), "{name}: {banned:?} in:\n{text}");
    }
    // The checker itself catches each pattern.
    assert_eq!(
        banned_in_student_text("hung in run 1 (P=2, release build): Exited(Pid(4), 1)").len(),
        3
    );
}

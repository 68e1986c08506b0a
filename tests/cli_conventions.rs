//! End-to-end: what users of well-kept command-line tools take for granted (issue 15): the
//! version and commit, EXIT STATUS and ENVIRONMENT in `--help`, short flags, the spec and cache
//! as environment variables the binary reads, `--color`, shell completions and a man page, and
//! a progress display that shows on a terminal and nowhere else unless asked.

mod common;

use std::process::Output;

use common::*;

/// `labgrade 0.1.0 (abc1234)`.
const VERSION: &str = concat!(
    "labgrade ",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LABGRADE_COMMIT"),
    ")"
);

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Text a terminal would act on: carriage returns and escape sequences.
fn terminal_junk(text: &str) -> bool {
    text.contains('\r') || text.contains('\x1b')
}

#[test]
fn the_version_names_the_release_and_the_commit() {
    let out = labgrade().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out), format!("{VERSION}\n"));
    // Built in a checkout git can read: the commit is that checkout's HEAD (else `unknown`).
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|g| g.status.success());
    if let Some(git) = git {
        let head = String::from_utf8_lossy(&git.stdout).trim().to_string();
        assert_eq!(env!("LABGRADE_COMMIT"), head);
    }
}

#[test]
fn long_help_has_exit_status_and_environment_sections() {
    for args in [&["--help"][..], &["grade", "--help"], &["check", "--help"]] {
        let out = labgrade().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = stdout(&out);
        let exit = help.find("EXIT STATUS:").expect("an EXIT STATUS section");
        let env = help.find("ENVIRONMENT:").expect("an ENVIRONMENT section");
        assert!(exit < env, "{help}");
        for var in [
            "LABGRADE_CACHE_DIR",
            "LABGRADE_SPEC",
            "GITHUB_WORKSPACE",
            "GITHUB_STEP_SUMMARY",
            "NO_COLOR",
            "CLICOLOR_FORCE",
            "LABGRADE_NO_EARLY_STOP",
        ] {
            assert!(help[env..].contains(var), "{args:?}: no {var}:\n{help}");
        }
        for code in ["  0  ", "  1  ", "  2  "] {
            assert!(help[exit..env].contains(code), "{help}");
        }
    }
    // `-h` stays short and says where the rest is.
    let short = stdout(&labgrade().arg("-h").output().unwrap());
    assert!(!short.contains("ENVIRONMENT:"), "{short}");
    assert!(short.contains("--help"), "{short}");
}

#[test]
fn short_flags_name_the_common_options() {
    let help = stdout(&labgrade().args(["grade", "--help"]).output().unwrap());
    assert!(help.contains("-s, --spec <FILE>"), "{help}");
    assert!(help.contains("-o, --out <FILE>"), "{help}");
    let help = stdout(&labgrade().args(["batch", "--help"]).output().unwrap());
    assert!(help.contains("-j, --jobs <JOBS>"), "{help}");
    assert!(help.contains("-o, --out <RESULTS_DIR>"), "{help}");
    // They work as the long ones do (both fail before any grading).
    let out = labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .args(["-s", "/nonexistent/short.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/short.toml"),
        "{}",
        stderr(&out)
    );
    let out = labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .args(["-o", "/nonexistent/dir/report.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn the_spec_comes_from_labgrade_spec_unless_the_command_line_names_one() {
    let out = labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .env("LABGRADE_SPEC", "/nonexistent/from-env.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/from-env.toml"),
        "{}",
        stderr(&out)
    );
    let out = labgrade()
        .arg("grade")
        .arg(fixture("reference"))
        .args(["--spec", "/nonexistent/from-args.toml"])
        .env("LABGRADE_SPEC", "/nonexistent/from-env.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("from-args.toml") && !err.contains("from-env"),
        "{err}"
    );
    // Empty is unset, as the scripts read it: the built-in spec (`spec verify` of nothing
    // misses, it does not fail on an empty path).
    let out = labgrade()
        .args(["spec", "verify", "--reference", "/nonexistent/submission"])
        .env("LABGRADE_SPEC", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn completions_are_a_bash_script_that_completes_the_subcommands() {
    let out = labgrade().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("labgrade.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let bash = |code: &str| {
        std::process::Command::new("bash")
            .args(["-c", code, "bash"])
            .arg(&script)
            .output()
    };
    let parsed = match std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
    {
        Ok(o) => o,
        Err(e) => return skip(format!("no bash here: {e}")),
    };
    assert!(parsed.status.success(), "{}", stderr(&parsed));
    let registered = bash("source \"$1\" && complete -p labgrade").unwrap();
    assert!(registered.status.success(), "{}", stderr(&registered));
    assert!(stdout(&registered).contains("labgrade"));
    let completed = bash(
        "source \"$1\" && COMP_WORDS=(labgrade comp) && COMP_CWORD=1 && \
         _labgrade labgrade comp labgrade && echo \"${COMPREPLY[@]}\"",
    )
    .unwrap();
    assert_eq!(
        stdout(&completed).trim(),
        "completions",
        "{}",
        stderr(&completed)
    );
    for shell in ["zsh", "fish"] {
        let out = labgrade().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(stdout(&out).contains("labgrade"), "{shell}");
    }
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let out = labgrade().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = stdout(&out);
    let th = page
        .lines()
        .position(|l| l.starts_with(".TH labgrade 1"))
        .expect("a .TH header");
    // Only string definitions come before it.
    assert!(page.lines().take(th).all(|l| l.starts_with('.')), "{page}");
    assert!(page.contains(env!("LABGRADE_COMMIT")), "{page}");
    for sub in ["grade", "check", "batch", "merge", "doctor", "completions"] {
        assert!(
            page.contains(&format!("labgrade\\-{sub}(1)")),
            "no {sub}:\n{page}"
        );
    }
    assert!(page.contains("EXIT STATUS") && page.contains("ENVIRONMENT"));
    let dir = tempfile::tempdir().unwrap();
    labgrade()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .assert()
        .success();
    for page in ["labgrade.1", "labgrade-grade.1", "labgrade-batch.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
}

#[test]
fn color_follows_the_flag_and_no_color_wins_in_auto() {
    // `doctor` colors its table: a cheap witness of the process-wide choice.
    let doctor = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = labgrade();
        cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        cmd.args(args).arg("doctor").envs(env.iter().copied());
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).contains('\x1b')
    };
    assert!(!doctor(&[], &[]), "a pipe is not colored");
    assert!(doctor(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!doctor(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    assert!(doctor(&["--color", "always"], &[("NO_COLOR", "1")]));
    assert!(!doctor(&["--color=never"], &[("CLICOLOR_FORCE", "1")]));
    // clap's own help and errors follow the same option.
    let help = |color: &str| {
        let out = labgrade()
            .env_remove("NO_COLOR")
            .env("CLICOLOR_FORCE", "1")
            .args(["--color", color, "--help"])
            .output()
            .unwrap();
        stdout(&out).contains('\x1b')
    };
    assert!(help("always"));
    assert!(!help("never"));
}

/// A warm grading of the reference with the quick spec through a pipe, with `args`.
fn grade_reference(args: &[&str]) -> Output {
    labgrade()
        .env_remove("CI")
        .arg("check")
        .arg(fixture("reference"))
        .arg("--spec")
        .arg(quick_spec())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn through_a_pipe_no_progress_shows_and_the_report_names_its_grader() {
    // The cache from --cache-dir, not the variable nor the default location.
    let xdg = tempfile::tempdir().unwrap();
    let out = labgrade()
        .env_remove("CI")
        .env_remove("LABGRADE_CACHE_DIR")
        .env("XDG_CACHE_HOME", xdg.path())
        .arg("check")
        .arg(fixture("reference"))
        .arg("--spec")
        .arg(quick_spec())
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["--color", "always"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !xdg.path().join("labgrade").exists(),
        "--cache-dir was ignored"
    );
    let err = stderr(&out);
    assert!(!terminal_junk(&err), "{err:?}");
    assert!(!err.contains("building"), "{err:?}");
    let report = stdout(&out);
    // `--color always` colors a pipe, NO_COLOR (set by `labgrade()`) notwithstanding.
    assert!(report.contains('\x1b'), "{report:?}");
    let first = report.lines().next().unwrap();
    assert!(first.ends_with(&format!("with {VERSION}")), "{first:?}");
}

#[test]
fn progress_when_asked_is_plain_lines_in_order_off_a_terminal() {
    let out = grade_reference(&["--progress"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!terminal_junk(&err), "{err:?}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("labgrade: "))
        .filter(|l| !l.contains("dependencies"))
        .collect();
    assert_eq!(
        lines,
        [
            "labgrade: building counter, pool_sum",
            "labgrade: tests 0/11",
            "labgrade: tests 11/11",
        ],
        "{err}"
    );
    // And `never` is silent even when asked for elsewhere.
    let err = stderr(&grade_reference(&["--progress=never"]));
    assert!(!err.contains("labgrade: building"), "{err}");
}

#[test]
fn json_results_carry_the_grader_version_and_commit() {
    let (_, result) = grade_json("reference", Some(&quick_spec()));
    assert_eq!(result["grader_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(result["grader_commit"], env!("LABGRADE_COMMIT"));
}

#[test]
fn on_a_terminal_the_phases_show_and_are_cleared() {
    // `script` gives the grading a terminal (util-linux).
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("typescript");
    let command = format!(
        "{} check {} --spec {} --cache-dir {}",
        env!("CARGO_BIN_EXE_labgrade"),
        fixture("reference").display(),
        quick_spec().display(),
        cache_dir().display()
    );
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command])
        .arg(&log)
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return skip(format!("no `script` (util-linux) here: {e}")),
    };
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        seen.contains("labgrade: building counter, pool_sum"),
        "{seen:?}"
    );
    // The spinner's line is erased before the report (`\r`, then erase-line).
    let report = seen.find("Grading reference").expect("the report");
    assert!(seen[..report].ends_with("\r\x1b[2K"), "{seen:?}");
}

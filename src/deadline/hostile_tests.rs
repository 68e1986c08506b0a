//! The git time source against a student's repository built to make git run programs or
//! fetch: none of its configuration may take effect, and `.git` itself may not be followed
//! anywhere (a link, a `gitdir:` file, a FIFO).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::source::{from_git, head_commit};

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let date = "2026-12-01T23:30:00-05:00";
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
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git is installed (the grader's git time source needs it)")
}

/// A script that creates `markers/<name>` when anything runs it.
fn tripwire(dir: &Path, name: &str) -> PathBuf {
    let markers = dir.join("markers");
    fs::create_dir_all(&markers).unwrap();
    let script = dir.join(format!("{name}.sh"));
    fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}/{name}'\n", markers.display()),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn markers(outside: &Path) -> Vec<String> {
    fs::read_dir(outside.join("markers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A repository with one commit whose config tries every way we know to run a program.
fn hostile_repository(outside: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("src/bin")).unwrap();
    fs::write(dir.path().join("src/bin/counter.rs"), "fn main() {}").unwrap();
    assert!(git(dir.path(), &["init", "-q"]).status.success());
    assert!(git(dir.path(), &["add", "-A"]).status.success());
    let commit = git(dir.path(), &["commit", "-q", "-m", "lab 10"]);
    assert!(commit.status.success(), "{commit:?}");

    let hooks = dir.path().join(".git/hooks");
    for hook in [
        "post-checkout",
        "pre-commit",
        "reference-transaction",
        "fsmonitor-watchman",
    ] {
        fs::copy(tripwire(outside, &format!("hook-{hook}")), hooks.join(hook)).unwrap();
    }
    let included = outside.join("included.config");
    fs::write(
        &included,
        format!(
            "[core]\n\tfsmonitor = {}\n",
            tripwire(outside, "included-fsmonitor").display()
        ),
    )
    .unwrap();
    let config = format!(
        "[core]\n\tfsmonitor = {fsmonitor}\n\tsshCommand = {ssh}\n\tpager = {pager}\n\
         \thooksPath = {hooks}\n\taskPass = {askpass}\n\
         [extensions]\n\tpartialClone = origin\n\
         [remote \"origin\"]\n\turl = ssh://example.invalid/x.git\n\tpromisor = true\n\
         \tuploadpack = {uploadpack}\n\
         [pager]\n\tlog = {pager_log}\n\
         [alias]\n\tlog = !{alias}\n\
         [log]\n\tshowSignature = true\n\
         [gpg]\n\tprogram = {gpg}\n\
         [diff]\n\texternal = {diff}\n\
         [include]\n\tpath = {included}\n",
        fsmonitor = tripwire(outside, "fsmonitor").display(),
        ssh = tripwire(outside, "sshCommand").display(),
        pager = tripwire(outside, "pager").display(),
        hooks = outside.display(),
        askpass = tripwire(outside, "askPass").display(),
        uploadpack = tripwire(outside, "uploadpack").display(),
        pager_log = tripwire(outside, "pager-log").display(),
        alias = tripwire(outside, "alias").display(),
        gpg = tripwire(outside, "gpg").display(),
        diff = tripwire(outside, "diff").display(),
        included = included.display(),
    );
    let mut text = fs::read_to_string(dir.path().join(".git/config")).unwrap();
    // `repositoryformatversion = 1` for the extensions to count.
    text = text.replace("repositoryformatversion = 0", "repositoryformatversion = 1");
    text.push_str(&config);
    fs::write(dir.path().join(".git/config"), text).unwrap();
    dir
}

#[test]
fn the_fixtures_config_is_really_hostile_to_a_plain_git() {
    // The control: without the grader's precautions, git runs the student's fsmonitor.
    let outside = tempfile::tempdir().unwrap();
    let repo = hostile_repository(outside.path());
    let _ = git(repo.path(), &["status"]);
    assert!(
        !markers(outside.path()).is_empty(),
        "plain `git status` ran nothing: the fixture proves nothing"
    );
}

#[test]
fn a_hostile_repository_config_runs_nothing_and_the_date_is_still_read() {
    let outside = tempfile::tempdir().unwrap();
    let repo = hostile_repository(outside.path());
    let at = from_git(repo.path(), Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(at.rfc3339(), "2026-12-01T23:30:00-05:00");
    assert_eq!(markers(outside.path()), Vec::<String>::new());
}

#[test]
fn a_missing_commit_of_a_promisor_remote_is_refused_without_a_lazy_fetch() {
    let outside = tempfile::tempdir().unwrap();
    let repo = hostile_repository(outside.path());
    // HEAD names a commit the object store lacks: a partial clone would fetch it over ssh.
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let head = fs::read_to_string(repo.path().join(".git/HEAD")).unwrap();
    let branch = head.trim().strip_prefix("ref: ").unwrap();
    fs::write(
        repo.path().join(".git").join(branch),
        format!("{missing}\n"),
    )
    .unwrap();
    let got = from_git(repo.path(), Duration::from_secs(60));
    assert!(got.is_err(), "{got:?}");
    assert_eq!(markers(outside.path()), Vec::<String>::new());
}

#[test]
fn a_git_that_is_a_link_a_gitdir_file_or_a_fifo_is_not_followed() {
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let real = hostile_repository(outside.path());
    type Make<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Make); 3] = [
        ("a symbolic link", &|git| {
            std::os::unix::fs::symlink(real.path().join(".git"), git).unwrap()
        }),
        ("a regular file", &|git| {
            fs::write(
                git,
                format!("gitdir: {}\n", real.path().join(".git").display()),
            )
            .unwrap()
        }),
        ("a FIFO", &|git| {
            nix::unistd::mkfifo(git, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap()
        }),
    ];
    for (kind, make) in cases {
        let dir = elsewhere.path().join(kind.replace(' ', "-"));
        fs::create_dir_all(&dir).unwrap();
        make(&dir.join(".git"));
        let got = from_git(&dir, Duration::from_secs(60));
        assert_eq!(got, Err(format!("`.git` is {kind}: not followed")));
    }
    assert_eq!(markers(outside.path()), Vec::<String>::new());
}

#[test]
fn head_and_refs_are_read_as_small_regular_files_inside_git() {
    let git_dir = tempfile::tempdir().unwrap();
    let g = git_dir.path();
    let id = "89abcdef0123456789abcdef0123456789abcdef";
    fs::create_dir_all(g.join("refs/heads")).unwrap();
    fs::write(g.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(
        g.join("packed-refs"),
        format!("# pack-refs\n{id} refs/heads/main\n"),
    )
    .unwrap();
    assert_eq!(head_commit(g).unwrap(), id);
    fs::write(g.join("refs/heads/main"), format!("{id}\n")).unwrap();
    assert_eq!(head_commit(g).unwrap(), id);
    // Out of `.git`, a loop, a FIFO, a link: refused, never followed or opened blocking.
    fs::write(g.join("HEAD"), "ref: refs/../../../etc/passwd\n").unwrap();
    assert!(head_commit(g).unwrap_err().contains("outside refs/"));
    fs::write(g.join("HEAD"), "ref: refs/heads/loop\n").unwrap();
    fs::write(g.join("refs/heads/loop"), "ref: refs/heads/loop\n").unwrap();
    assert!(head_commit(g).unwrap_err().contains("too long"));
    fs::write(g.join("HEAD"), "ref: refs/heads/pipe\n").unwrap();
    nix::unistd::mkfifo(
        &g.join("refs/heads/pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    assert!(head_commit(g).unwrap_err().contains("FIFO"));
    fs::write(g.join("HEAD"), "ref: refs/heads/zero\n").unwrap();
    std::os::unix::fs::symlink("/dev/zero", g.join("refs/heads/zero")).unwrap();
    assert!(head_commit(g).unwrap_err().contains("symbolic link"));
    // A folder on the way that is a link: not followed either.
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("main"), format!("{id}\n")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), g.join("refs/tags")).unwrap();
    fs::write(g.join("HEAD"), "ref: refs/tags/main\n").unwrap();
    assert!(head_commit(g).unwrap_err().contains("not followed"));
}

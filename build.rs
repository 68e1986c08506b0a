//! Records which commit of labgrade this binary was built from, for `--version` and the first
//! line of every human report (`labgrade 0.1.0 (abc1234)`): `LABGRADE_COMMIT`, the short hash
//! of labgrade's own checkout, else `$LABGRADE_COMMIT` as the builder set it (a packager building
//! from a tarball), else `unknown`.
//!
//! Must not: fail the build (no git, a tarball, a clone owned by another user that git refuses
//! to read, a shallow CI clone all build, as `unknown` at worst); read the commit of a repository
//! that merely contains this one (an unpacked tarball inside a course's repository is not a
//! checkout of labgrade); make cargo re-run it on every build (only paths that exist are
//! watched).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LABGRADE_COMMIT");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("LABGRADE_COMMIT")
        .ok()
        .map(|c| printable(&c))
        .filter(|c| !c.is_empty())
        .or_else(|| checkout_commit(&manifest))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=LABGRADE_COMMIT={commit}");
}

/// `text` without what a version line must not hold (spaces, newlines, escapes).
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
        .collect()
}

/// The short hash of HEAD when `dir` is the top of a git checkout (`.git` a directory, or a
/// worktree's `.git` file), watching the files that change with HEAD.
fn checkout_commit(dir: &Path) -> Option<String> {
    // Only our own checkout: git would otherwise walk up into any enclosing repository.
    if !dir.join(".git").exists() {
        return None;
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir))
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    // HEAD itself (a checkout of another branch or commit) and the branch it points to (a new
    // commit); `--git-path` finds both in a worktree too. After `git gc` the branch lives in
    // packed-refs, and the next commit writes its file anew: then its folder is watched (cargo
    // sees new files in a folder; a folder watched always would rebuild on every other
    // branch's commit). Reftable repositories keep every ref in `reftable/`.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let file = git(&["rev-parse", "--git-path", &branch]).map(|f| dir.join(f));
        watched.push(file.and_then(|f| match f.exists() {
            true => Some(f.to_string_lossy().into_owned()),
            false => Some(f.parent()?.to_string_lossy().into_owned()),
        }));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    watched.push(git(&["rev-parse", "--git-path", "reftable"]));
    for path in watched.into_iter().flatten() {
        let path = dir.join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    git(&["rev-parse", "--short=7", "HEAD"])
        .map(|c| printable(&c))
        .filter(|c| !c.is_empty())
}

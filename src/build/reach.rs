//! Whether the build user reaches the toolchain and the build cache, on the portable path.
//!
//! A root grader without namespaces (a Docker/Gradescope container) runs builds as the build
//! user (`crate::sandbox::build_user`) only where that user can start `cargo` and `rustc` and
//! enter the build cache: a toolchain in root's home (mode 700, rustup's default for root) is
//! out of its reach, and a wrong guess would turn every build into a grader error. So a probe
//! runs `cargo --version` and `rustc --version` as the build user, through the sandbox (seccomp,
//! Landlock), and checks the cache's root and registry from there. Its verdict is kept in the
//! build cache (`build-user/<key>`), keyed by the toolchain's and the cache's paths and by the
//! owner and mode of each of their ancestors, so a changed installation is probed again.
//!
//! Where it fails, builds stay the grader's (today's behaviour) and the "build user" layer says
//! so, with the remedy: `doctor`, `batch`'s warning and every result's `sandbox` field.
//!
//! Must not: change the mode or owner of anything (the cache's target directories are given
//! to the build user by [`super::cache`], only once this says yes).

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sandbox::{self, Ending, Isolation, Job, Limits, Visible};

/// What the probe runs as the build user: `$1` is the cache root, `$2` its registry.
const SCRIPT: &str = r#"
"$CARGO_PROBE" --version >/dev/null || { echo "cannot run $CARGO_PROBE"; exit 3; }
rustc --version >/dev/null || { echo "cannot run rustc"; exit 3; }
cd "$1" || { echo "cannot enter the build cache $1"; exit 3; }
if [ -e "$2" ]; then
  bad=$(find "$2" ! -readable -print 2>/dev/null | head -n 1)
  [ -z "$bad" ] || { echo "cannot read $bad in the build cache's registry"; exit 3; }
fi
exit 0
"#;

/// Probes (or reads the kept verdict) and records it with the sandbox. A no-op where builds
/// cannot change user or run isolated.
pub(super) fn ensure(cache_root: &Path, registry: &Path, cargo: &Path) {
    let Some((uid, _)) = sandbox::portable_build_user() else {
        return;
    };
    if sandbox::build_reach().is_some() {
        return;
    }
    let toolchain = toolchain_paths(cargo);
    let key = key(uid, cache_root, &toolchain);
    let kept = cache_root.join("build-user").join(&key);
    if let Ok(text) = std::fs::read_to_string(&kept) {
        sandbox::set_build_reach(parse(&text));
        return;
    }
    let found = probe(cache_root, registry, cargo, &toolchain);
    if std::fs::create_dir_all(kept.parent().expect("has a parent")).is_ok() {
        let _ = std::fs::write(&kept, render(&found));
    }
    sandbox::set_build_reach(found);
}

/// The paths a build's toolchain lives at: cargo, the `rustc` on `PATH`, rustup's home.
fn toolchain_paths(cargo: &Path) -> Vec<PathBuf> {
    let mut paths = vec![cargo.to_path_buf()];
    paths.extend(super::on_path("rustc"));
    let rustup = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")));
    paths.extend(rustup.filter(|p| p.exists()));
    paths
}

/// The verdict's key: the build uid, the paths, and the owner and mode of every ancestor of
/// each (what decides whether another user can reach it).
fn key(uid: u32, cache_root: &Path, toolchain: &[PathBuf]) -> String {
    let mut h = DefaultHasher::new();
    uid.hash(&mut h);
    for path in std::iter::once(cache_root).chain(toolchain.iter().map(|p| p.as_path())) {
        path.hash(&mut h);
        for a in path.ancestors() {
            if let Ok(m) = std::fs::metadata(a) {
                (m.uid(), m.gid(), m.mode()).hash(&mut h);
            }
        }
    }
    format!("{:016x}", h.finish())
}

fn render(found: &Result<(), String>) -> String {
    match found {
        Ok(()) => "ok\n".to_string(),
        Err(why) => format!("unreachable\n{why}\n"),
    }
}

fn parse(text: &str) -> Result<(), String> {
    match text.split_once('\n') {
        Some(("ok", _)) => Ok(()),
        Some((_, why)) => Err(why.trim().to_string()),
        None => Err("an unreadable verdict in the build cache".to_string()),
    }
}

/// Runs [`SCRIPT`] as the build user.
fn probe(
    cache_root: &Path,
    registry: &Path,
    cargo: &Path,
    toolchain: &[PathBuf],
) -> Result<(), String> {
    let mut env: Vec<(OsString, OsString)> = ["PATH", "HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"]
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
        .collect();
    env.push(("CARGO_PROBE".into(), cargo.into()));
    env.push(("LC_ALL".into(), "C".into()));
    let mut keep: Vec<Visible> = toolchain.iter().map(|p| Visible::read_only(p)).collect();
    keep.push(Visible::read_only(cache_root));
    let job = Job {
        program: PathBuf::from("/bin/sh"),
        args: vec![
            "-c".into(),
            SCRIPT.into(),
            "labgrade-build-user-probe".into(),
            cache_root.into(),
            registry.into(),
        ],
        cwd: PathBuf::from("/"),
        env,
        limits: Limits::for_build(Duration::from_secs(60)),
        isolation: Isolation::Build,
        keep_visible: keep,
    };
    let outcome = sandbox::run_as_portable_build_user(&job).map_err(|e| e.to_string())?;
    match outcome.ending {
        Ending::Exited(0) => Ok(()),
        ending => {
            let said = String::from_utf8_lossy(&outcome.stdout.bytes)
                .trim()
                .to_string();
            let err = outcome.stderr.lossy();
            let err = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!(
                "the build user (uid {}) cannot reach the toolchain or the build cache: {}{}",
                outcome.uid,
                if said.is_empty() {
                    format!("{ending:?}")
                } else {
                    said
                },
                if err.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", err.trim())
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_verdict_reads_back() {
        for found in [Ok(()), Err("cannot run /root/.cargo/bin/cargo".to_string())] {
            assert_eq!(parse(&render(&found)), found);
        }
    }

    #[test]
    fn the_key_changes_with_an_ancestors_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let cargo = home.join(".cargo/bin/cargo");
        std::fs::create_dir_all(cargo.parent().unwrap()).unwrap();
        std::fs::write(&cargo, "").unwrap();
        let paths = [cargo.clone()];
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        let closed = key(7, dir.path(), &paths);
        assert_eq!(closed, key(7, dir.path(), &paths));
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(closed, key(7, dir.path(), &paths));
        assert_ne!(key(7, dir.path(), &paths), key(8, dir.path(), &paths));
    }
}

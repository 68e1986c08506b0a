//! The cargo home a build sees: one the grader makes, never the user's.
//!
//! The user's `CARGO_HOME` holds registry tokens (`credentials.toml`), configuration that may
//! carry secrets, installed binaries and git checkouts. A build compiles student code and rustc
//! reads any path the build can see (`include_str!`), so builds never see that home. The build
//! cache keeps a registry of its own instead, `<cache>/cargo-home/registry`, holding only the
//! skeleton's locked packages (their index entries, `.crate` files and extracted sources),
//! copied from the user's registry (after a `cargo fetch` there when something is missing). It
//! is read-only to builds.
//!
//! Cargo writes into `CARGO_HOME` even offline (the `.package-cache` and
//! `.package-cache-mutate` locks, the `.global-cache` last-use database and its journal), so
//! each target directory gets its own small writable home, `<target>/.cargo-home`, whose
//! `registry` is a symlink to the shared one: the symlink resolves inside the sandbox because its
//! target is made visible too. The warm-up build uses the same home, so the dependencies it
//! compiles stay fresh for the sandboxed builds (cargo's fingerprints include the sources' paths).
//!
//! Must not: copy anything of the user's home but the registry entries of locked packages.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::cache::CacheError;
use crate::stage::Skeleton;

/// What cargo writes into a registry directory unless it is already there (it could not: the
/// shared registry is read-only to builds).
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by cargo.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// The user's cargo home: `$CARGO_HOME`, else `~/.cargo`.
pub(crate) fn user_home() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    env("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// The grader's private cargo home under the build cache's `root`: only its registry is used.
fn private_home(root: &Path) -> PathBuf {
    root.join("cargo-home")
}

/// The registry every build reads, under the build cache's `root`.
pub(super) fn shared_registry(root: &Path) -> PathBuf {
    private_home(root).join("registry")
}

/// The writable cargo home of the builds in `target`.
pub(super) fn lease_home(target: &Path) -> PathBuf {
    target.join(".cargo-home")
}

/// Makes `target`'s cargo home (once): a directory whose `registry` points to `registry`.
pub(super) fn prepare_lease_home(target: &Path, registry: &Path) -> Result<PathBuf, CacheError> {
    let home = lease_home(target);
    let link = home.join("registry");
    if fs::read_link(&link).is_ok_and(|t| t == registry) {
        return Ok(home);
    }
    let io_err = |source| CacheError::Io {
        path: link.clone(),
        source,
    };
    fs::create_dir_all(&home).map_err(io_err)?;
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(registry, &link).map_err(io_err)?;
    Ok(home)
}

/// The registry packages `lock` pins, as `name-version` with their names.
fn locked_packages(lock: &str) -> Vec<(String, String)> {
    let Ok(table) = lock.parse::<toml::Table>() else {
        return Vec::new();
    };
    let packages = table.get("package").and_then(|p| p.as_array());
    packages
        .into_iter()
        .flatten()
        .filter(|p| {
            p.get("source")
                .and_then(|s| s.as_str())
                .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
        })
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?;
            let version = p.get("version")?.as_str()?;
            Some((name.to_string(), format!("{name}-{version}")))
        })
        .collect()
}

/// Makes sure the shared registry under `root` holds every package `skeleton` locks, copying
/// them from the user's registry (fetching them there first when it lacks some). Returns the
/// shared registry's path.
pub(super) fn populate(root: &Path, skeleton: &Skeleton) -> Result<PathBuf, CacheError> {
    let home = private_home(root);
    let registry = shared_registry(root);
    let ready = home.join(format!(".labgrade-ready-{}", skeleton.fingerprint()));
    if ready.exists() {
        return Ok(registry);
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CacheError::Io { path, source }
    };
    fs::create_dir_all(&registry).map_err(io_err(&registry))?;
    let lock_path = home.join(".labgrade.lock");
    let file = File::create(&lock_path).map_err(io_err(&lock_path))?;
    let _lock =
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| CacheError::Io {
            path: lock_path.clone(),
            source: errno.into(),
        })?;
    if ready.exists() {
        return Ok(registry);
    }
    let Some(user) = user_home().map(|h| h.join("registry")) else {
        return Err(CacheError::Fetch(
            "neither CARGO_HOME nor HOME is set: no cargo registry to take the course's \
             dependencies from"
                .into(),
        ));
    };
    let packages = locked_packages(&skeleton.lock);
    let mut missing = copy_packages(&user, &registry, &packages).map_err(io_err(&registry))?;
    if !missing.is_empty() {
        fetch(skeleton)?;
        missing = copy_packages(&user, &registry, &packages).map_err(io_err(&registry))?;
    }
    if !missing.is_empty() {
        return Err(CacheError::Fetch(format!(
            "{} lacks {} after `cargo fetch`",
            user.display(),
            missing.join(", ")
        )));
    }
    let tag = registry.join("CACHEDIR.TAG");
    fs::write(&tag, CACHEDIR_TAG).map_err(io_err(&tag))?;
    fs::write(&ready, b"").map_err(io_err(&ready))?;
    Ok(registry)
}

/// `cargo fetch --locked` of the skeleton with the user's cargo home (the network, once).
fn fetch(skeleton: &Skeleton) -> Result<(), CacheError> {
    // Named like every directory of the grader's, so a grader killed mid-fetch leaves nothing
    // the next run does not sweep.
    let pkg = crate::tempdirs::create("warmup").map_err(|source| CacheError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let io_err = |source| CacheError::Io {
        path: pkg.path().to_path_buf(),
        source,
    };
    skeleton.write_into(pkg.path()).map_err(io_err)?;
    fs::create_dir_all(pkg.path().join("src/bin")).map_err(io_err)?;
    fs::write(
        pkg.path().join("src/bin/labgrade_fetch.rs"),
        "fn main() {}\n",
    )
    .map_err(io_err)?;
    let out = std::process::Command::new(super::cargo_program())
        .args(["fetch", "--locked", "--manifest-path"])
        .arg(pkg.path().join("Cargo.toml"))
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .map_err(|e| CacheError::Fetch(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        Err(CacheError::Fetch(
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        ))
    }
}

/// Copies each of `packages` (name, `name-version`) from the registry `from` into `to`: the
/// `.crate`, the extracted sources and the index entry, from whichever registry source of
/// `from` has them. Returns the packages found in none.
fn copy_packages(from: &Path, to: &Path, packages: &[(String, String)]) -> io::Result<Vec<String>> {
    let sources: Vec<PathBuf> = match fs::read_dir(from.join("cache")) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut missing = Vec::new();
    for (name, full) in packages {
        let found = sources.iter().find_map(|cache| {
            let source = cache.file_name()?.to_owned();
            let krate = cache.join(format!("{full}.crate"));
            let src = from.join("src").join(&source).join(full);
            let index = index_entry(&from.join("index").join(&source), name);
            let extracted = src.join(".cargo-ok").exists();
            (krate.exists() && extracted).then_some((source, krate, src, index?))
        });
        let Some((source, krate, src, index)) = found else {
            missing.push(full.clone());
            continue;
        };
        let index_from = from.join("index").join(&source);
        let index_to = to.join("index").join(&source);
        let config = index_from.join("config.json");
        if config.exists() {
            copy_file(&config, &index_to.join("config.json"))?;
        }
        let relative = index
            .strip_prefix(&index_from)
            .expect("found under the index");
        copy_file(&index, &index_to.join(relative))?;
        copy_file(
            &krate,
            &to.join("cache").join(&source).join(format!("{full}.crate")),
        )?;
        copy_dir(&src, &to.join("src").join(&source).join(full))?;
    }
    Ok(missing)
}

/// Where cargo caches `name`'s index entry under a registry source's index directory.
fn index_entry(index: &Path, name: &str) -> Option<PathBuf> {
    let lower = name.to_lowercase();
    let prefix = match lower.len() {
        0 => return None,
        1 => PathBuf::from("1"),
        2 => PathBuf::from("2"),
        3 => Path::new("3").join(&lower[..1]),
        _ => Path::new(&lower[..2]).join(&lower[2..4]),
    };
    let path = index.join(".cache").join(prefix).join(&lower);
    path.exists().then_some(path)
}

/// Copies a file unless `to` exists, through a temporary name (a crash leaves no half file).
fn copy_file(from: &Path, to: &Path) -> io::Result<()> {
    if to.exists() {
        return Ok(());
    }
    let dir = to.parent().expect("a file in a directory");
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".labgrade-copy-{}", std::process::id()));
    fs::copy(from, &tmp)?;
    fs::rename(&tmp, to)
}

/// Copies a directory tree unless `to` exists, through a temporary name.
fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    if to.exists() {
        return Ok(());
    }
    let parent = to.parent().expect("a directory in a directory");
    fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".labgrade-copy-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    copy_tree(from, &tmp)?;
    fs::rename(&tmp, to)
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &dest)?;
        } else {
            fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skeleton_locks_its_registry_packages() {
        let packages = locked_packages(&Skeleton::builtin().lock);
        let names: Vec<&str> = packages.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"libc") && names.contains(&"nix"),
            "{names:?}"
        );
        // The skeleton's own package has no source: it is not fetched.
        assert!(!names.contains(&"lab10"), "{names:?}");
        assert!(packages
            .iter()
            .all(|(n, full)| full.starts_with(&format!("{n}-"))));
    }

    #[test]
    fn index_entries_follow_cargos_layout() {
        let dir = tempfile::tempdir().unwrap();
        for rel in [
            ".cache/3/n/nix",
            ".cache/li/bc/libc",
            ".cache/2/cc",
            ".cache/1/a",
        ] {
            let p = dir.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "").unwrap();
        }
        for name in ["nix", "libc", "cc", "a", "Libc"] {
            assert!(index_entry(dir.path(), name).is_some(), "{name}");
        }
        assert!(index_entry(dir.path(), "bitflags").is_none());
    }

    /// Only the locked packages' entries are copied: nothing else of the user's home.
    #[test]
    fn copies_only_the_locked_packages() {
        let user = tempfile::tempdir().unwrap();
        let reg = user.path().join("registry");
        let source = "index.example-0123";
        let put = |rel: &str| {
            let p = reg.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, rel).unwrap();
        };
        put(&format!("cache/{source}/libc-0.2.1.crate"));
        put(&format!("src/{source}/libc-0.2.1/.cargo-ok"));
        put(&format!("src/{source}/libc-0.2.1/src/lib.rs"));
        put(&format!("index/{source}/.cache/li/bc/libc"));
        put(&format!("index/{source}/config.json"));
        put(&format!("cache/{source}/other-1.0.0.crate"));
        put("../credentials.toml");
        let to = tempfile::tempdir().unwrap();
        let packages = vec![
            ("libc".to_string(), "libc-0.2.1".to_string()),
            ("nix".to_string(), "nix-0.1.0".to_string()),
        ];
        let missing = copy_packages(&reg, to.path(), &packages).unwrap();
        assert_eq!(missing, ["nix-0.1.0"]);
        let s = |rel: &str| to.path().join(rel.replace("SRC", source));
        assert!(s("src/SRC/libc-0.2.1/src/lib.rs").exists());
        assert!(s("cache/SRC/libc-0.2.1.crate").exists());
        assert!(s("index/SRC/.cache/li/bc/libc").exists());
        assert!(s("index/SRC/config.json").exists());
        assert!(!s("cache/SRC/other-1.0.0.crate").exists());
        assert!(!to.path().join("credentials.toml").exists());
    }

    #[test]
    fn a_lease_home_points_to_the_shared_registry() {
        let dir = tempfile::tempdir().unwrap();
        let registry = dir.path().join("cargo-home/registry");
        let target = dir.path().join("target-0");
        let home = prepare_lease_home(&target, &registry).unwrap();
        assert_eq!(home, lease_home(&target));
        assert_eq!(fs::read_link(home.join("registry")).unwrap(), registry);
        // Idempotent.
        prepare_lease_home(&target, &registry).unwrap();
    }
}

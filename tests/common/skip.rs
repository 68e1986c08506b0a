//! The one guard of every test that cannot run where it is: the end-to-end tests reach it
//! through `tests/common`, the library's unit tests through `#[path]` (`src/lib.rs`), so both
//! skip the same way.
//!
//! Off CI, a missing capability (root, namespaces, cgroups, two cores, a tool such as git or
//! python3) skips the test: it prints `skipped: <why>` and, when `LABGRADE_SKIP_LOG` names a
//! file, appends `<test>: <why>` to it, because cargo captures a passing test's output and a
//! skip would otherwise be invisible (`.ci/run` counts these lines). Under CI (`CI` set, and not
//! `false` or `0`) it panics instead: the CI machine is Linux, root, with namespaces and every
//! tool the tests use, and a test that skipped there would be a hole that keeps CI green.

use std::io::Write;

/// Whether this is a CI run (`CI=true`, as CI services set it).
pub fn on_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !v.is_empty() && v != "false" && v != "0",
        Err(_) => false,
    }
}

/// Skips the calling test because of `why`; under CI, fails it (see the module doc). The
/// caller returns right after.
#[track_caller]
pub fn skip(why: impl std::fmt::Display) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let line = format!("{test}: {why}");
    assert!(
        !on_ci(),
        "{line}: under CI a test must not skip (the CI machine has every capability the tests \
         need; see tests/common/skip.rs)"
    );
    eprintln!("skipped: {line}");
    if let Some(log) = std::env::var_os("LABGRADE_SKIP_LOG") {
        // One short write in append mode: lines of tests running in parallel do not mix.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(format!("skipped: {line}\n").as_bytes()));
        if let Err(e) = appended {
            eprintln!(
                "could not record the skip in {}: {e}",
                log.to_string_lossy()
            );
        }
    }
}

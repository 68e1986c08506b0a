//! The declared minimum Rust version (`rust-version` in Cargo.toml) is one `cargo install
//! --locked` can keep: no locked dependency asks for a newer compiler. (Std APIs newer than it
//! are caught by clippy's `incompatible_msrv` lint, which reads the same field.)

use serde_json::Value;

/// `1.85` and `1.85.0` are the same version: compare (major, minor, patch).
fn version(v: &str) -> [u64; 3] {
    let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
    [0; 3].map(|_| parts.next().unwrap_or(0))
}

#[test]
fn no_locked_dependency_needs_a_newer_rust_than_declared() {
    let out = std::process::Command::new(env!("CARGO"))
        // Not --offline: the lock names crates of other platforms (jiff's Windows tz database)
        // that a build here never fetched; --locked keeps the lock as it is.
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let ours = packages
        .iter()
        .find(|p| p["name"] == "labgrade")
        .and_then(|p| p["rust_version"].as_str())
        .expect("labgrade declares a rust-version");
    let too_new: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let needs = p["rust_version"].as_str()?;
            (version(needs) > version(ours))
                .then(|| format!("{} {} needs {needs}", p["name"], p["version"]))
        })
        .collect();
    assert!(
        too_new.is_empty(),
        "rust-version = {ours:?} in Cargo.toml, but: {}",
        too_new.join("; ")
    );
}

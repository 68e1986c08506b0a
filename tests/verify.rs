//! End-to-end: `labgrade spec verify --known-buggy`: the coverage table of the built-in
//! known-buggy set, and a bug class no test catches failing the verification.

use labgrade::exit::Exit;

mod common;

use common::*;
use std::process::Output;

fn verify(spec: &std::path::Path, variants: &[&str]) -> Output {
    let mut cmd = labgrade();
    cmd.args(["spec", "verify", "--spec"])
        .arg(spec)
        .arg("--reference")
        .arg(fixture("reference"))
        .arg("--known-buggy")
        .arg(root().join("fixtures/submissions"));
    for v in variants {
        cmd.args(["--variant", v]);
    }
    cmd.output().unwrap()
}

#[test]
fn a_bug_class_the_spec_cannot_see_fails_verification() {
    // The quick spec has no N beyond 2^64: a u64 chunk sum passes all of it.
    let out = verify(&quick_spec(), &["off_by_one", "u64_chunk"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(Exit::Fail.code()), "{text}");
    assert!(text.contains("coverage (2 bug classes;"), "{text}");
    let row = |fixture: &str| {
        text.lines()
            .find(|l| l.starts_with("  ") && l.contains(&format!(" {fixture} ")))
            .unwrap_or_else(|| panic!("no coverage row for {fixture}: {text}"))
            .to_string()
    };
    assert!(row("off_by_one").contains("pool-sum/n=10 p=1"), "{text}");
    assert!(row("u64_chunk").contains("NOT CAUGHT"), "{text}");
    assert!(
        text.contains("bug class `u128 total, u64 sum per worker chunk` (u64_chunk) passes every test of pool-sum"),
        "{text}"
    );
}

#[test]
fn a_test_with_a_chunk_beyond_u64_catches_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("quick-big.toml");
    let quick = std::fs::read_to_string(quick_spec()).unwrap();
    // The built-in spec's per-worker test, added to the pool-sum exercise of the quick spec.
    let (head, tail) = quick.split_once("[[exercise]]\nid = \"counter\"").unwrap();
    let test = "[[exercise.test]]\nkind = \"output\"\nname = \"beyond u64 per worker\"\n\
                args = [\"7500000000\", \"2\"]\ntimeout = \"60s\"\n\
                stdout = { sum_to = \"7500000000\" }\n\n";
    std::fs::write(
        &spec,
        format!("{head}{test}[[exercise]]\nid = \"counter\"{tail}"),
    )
    .unwrap();
    let out = verify(&spec, &["u64_chunk"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(Exit::Pass.code()), "{text}");
    assert!(
        text.contains("1 test: pool-sum/beyond u64 per worker"),
        "{text}"
    );
    assert!(text.contains("spec verify: no miss"), "{text}");
}

#[test]
fn an_unknown_variant_is_refused() {
    let out = verify(&quick_spec(), &["no_such_bug"]);
    assert_eq!(out.status.code(), Some(Exit::Error.code()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not in the known-buggy set"), "{err}");
}

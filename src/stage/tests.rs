use super::*;
use std::os::unix::fs::symlink;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn stages_src_inside_the_skeleton_and_warns_about_the_rest() {
    let sub = tempfile::tempdir().unwrap();
    write(sub.path(), "src/bin/pool_sum.rs", "fn main() {}");
    write(sub.path(), "src/bin/counter/main.rs", "fn main() {}");
    write(sub.path(), "src/lib.rs", "");
    write(sub.path(), "Cargo.toml", "[package]");
    write(sub.path(), ".secret", "x");
    let staged = stage(sub.path(), &Skeleton::builtin()).unwrap().unwrap();
    let root = staged.path();
    assert!(root.join("Cargo.toml").is_file());
    assert!(root.join("Cargo.lock").is_file());
    assert!(root.join("src/lib.rs").is_file());
    assert_eq!(
        fs::read_to_string(root.join("Cargo.toml")).unwrap(),
        Skeleton::builtin().manifest
    );
    let bins: Vec<_> = staged.binaries.iter().map(String::as_str).collect();
    assert_eq!(bins, ["counter", "pool_sum"]);
    assert_eq!(staged.warnings.len(), 2, "{:?}", staged.warnings);
    assert!(staged.warnings[0].starts_with("ignored .secret"));
    assert!(staged.warnings[1].contains("course's Cargo.toml"));
    let kept = root.to_path_buf();
    drop(staged);
    assert!(!kept.exists(), "the staging directory must be removed");
}

#[test]
fn symlinks_are_never_followed() {
    let sub = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.rs", "SECRET");
    write(sub.path(), "src/bin/pool_sum.rs", "fn main() {}");
    symlink(
        outside.path().join("secret.rs"),
        sub.path().join("src/bin/counter.rs"),
    )
    .unwrap();
    symlink(outside.path(), sub.path().join("src/other")).unwrap();
    let staged = stage(sub.path(), &Skeleton::builtin()).unwrap().unwrap();
    assert!(!staged.path().join("src/bin/counter.rs").exists());
    assert!(!staged.path().join("src/other").exists());
    assert!(!staged.binaries.contains("counter"));
    assert_eq!(staged.warnings.len(), 2, "{:?}", staged.warnings);
    assert!(staged.warnings.iter().all(|w| w.contains("symbolic link")));
}

#[test]
fn empty_and_misshaped_submissions_are_unusable_not_errors() {
    let empty = tempfile::tempdir().unwrap();
    write(empty.path(), ".gitkeep", "");
    assert_eq!(
        stage(empty.path(), &Skeleton::builtin())
            .unwrap()
            .unwrap_err(),
        Unusable::Empty
    );

    // Two folders down is past every layout the grader looks for.
    let deep = tempfile::tempdir().unwrap();
    write(deep.path(), "a/b/pool_sum.rs", "fn main() {}");
    match stage(deep.path(), &Skeleton::builtin())
        .unwrap()
        .unwrap_err()
    {
        Unusable::Misshaped { found } => assert_eq!(found, ["a/b/pool_sum.rs"]),
        other => panic!("{other:?}"),
    }

    let missing = Path::new("/nonexistent/labgrade-submission");
    assert!(matches!(
        stage(missing, &Skeleton::builtin()).unwrap().unwrap_err(),
        Unusable::NotADirectory(_)
    ));
}

#[test]
fn too_many_files_is_unusable() {
    let sub = tempfile::tempdir().unwrap();
    for i in 0..=MAX_FILES {
        write(sub.path(), &format!("src/f{i}.rs"), "");
    }
    assert!(matches!(
        stage(sub.path(), &Skeleton::builtin())
            .unwrap()
            .unwrap_err(),
        Unusable::TooLarge { .. }
    ));
}

#[test]
fn fifos_and_devices_are_never_opened_and_staging_goes_on() {
    let sub = tempfile::tempdir().unwrap();
    write(sub.path(), "src/bin/counter.rs", "fn main() {}");
    // Opened for reading, a FIFO without a writer would block the grader forever.
    nix::unistd::mkfifo(
        &sub.path().join("src/bin/pipe.rs"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    symlink("/dev/zero", sub.path().join("src/zero.rs")).unwrap();
    let staged = stage(sub.path(), &Skeleton::builtin()).unwrap().unwrap();
    assert!(staged.path().join("src/bin/counter.rs").is_file());
    assert!(!staged.path().join("src/bin/pipe.rs").exists());
    assert!(!staged.path().join("src/zero.rs").exists());
    let warnings = staged.warnings.join("\n");
    assert!(
        warnings.contains("src/bin/pipe.rs is not a regular file: not copied"),
        "{warnings}"
    );
    assert!(
        warnings.contains("src/zero.rs is a symbolic link"),
        "{warnings}"
    );
}

#[test]
fn a_huge_file_or_folders_nested_too_deep_are_unusable_with_the_limits_named() {
    let huge = tempfile::tempdir().unwrap();
    write(huge.path(), "src/bin/counter.rs", "fn main() {}");
    let file = fs::File::create(huge.path().join("src/data.rs")).unwrap();
    // Sparse: costs no disk here, and the copy stops at the limit.
    file.set_len(MAX_BYTES + 1).unwrap();
    let why = stage(huge.path(), &Skeleton::builtin())
        .unwrap()
        .unwrap_err();
    assert!(why.to_string().contains("32 MiB"), "{why}");

    let deep = tempfile::tempdir().unwrap();
    let rel = format!("src/{}f.rs", "d/".repeat(MAX_DEPTH + 1));
    write(deep.path(), &rel, "");
    let why = stage(deep.path(), &Skeleton::builtin())
        .unwrap()
        .unwrap_err();
    assert!(why.to_string().contains("16 levels of folders"), "{why}");
}

#[test]
fn many_extra_entries_give_a_bounded_list_of_warnings() {
    let sub = tempfile::tempdir().unwrap();
    write(sub.path(), "src/bin/counter.rs", "fn main() {}");
    for i in 0..MAX_EXTRA_WARNINGS + 30 {
        write(sub.path(), &format!("junk{i:03}.txt"), "");
    }
    let staged = stage(sub.path(), &Skeleton::builtin()).unwrap().unwrap();
    assert_eq!(staged.warnings.len(), MAX_EXTRA_WARNINGS + 1);
    assert_eq!(
        staged.warnings.last().unwrap(),
        "ignored 30 more entries: only src/ is graded"
    );
}

#[test]
fn loose_files_are_staged_as_src_bin_and_a_zip_is_unpacked() {
    let sub = tempfile::tempdir().unwrap();
    write(sub.path(), "pool_sum.rs", "fn main() {}");
    write(sub.path(), "counter.rs", "fn main() {}");
    write(sub.path(), "lib.rs", "");
    write(sub.path(), "notes.txt", "");
    let staged = stage(sub.path(), &Skeleton::builtin()).unwrap().unwrap();
    assert!(staged.path().join("src/bin/pool_sum.rs").is_file());
    assert!(staged.path().join("src/lib.rs").is_file());
    assert!(!staged.path().join("src/bin/lib.rs").exists());
    assert_eq!(staged.layout.kind, LayoutKind::Loose);
    let bins: Vec<_> = staged.binaries.iter().map(String::as_str).collect();
    assert_eq!(bins, ["counter", "pool_sum"]);
    assert_eq!(
        staged.warnings,
        ["ignored notes.txt: only the .rs files are graded"]
    );
    // An archive beside the programs is said once: they were graded, not it.
    write(sub.path(), "old.zip", "PK");
    let staged = stage(sub.path(), &Skeleton::builtin()).unwrap().unwrap();
    assert_eq!(
        staged.warnings,
        [
            "ignored old.zip: the programs beside it were graded",
            "ignored notes.txt: only the .rs files are graded"
        ]
    );

    let zipped = tempfile::tempdir().unwrap();
    let mut w = zip::ZipWriter::new(fs::File::create(zipped.path().join("hw.zip")).unwrap());
    w.start_file(
        "lab10/src/bin/counter.rs",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut w, b"fn main() {}").unwrap();
    w.finish().unwrap();
    let staged = stage(zipped.path(), &Skeleton::builtin()).unwrap().unwrap();
    assert!(staged.path().join("src/bin/counter.rs").is_file());
    assert_eq!(staged.layout.kind, LayoutKind::Nested);
    assert_eq!(staged.layout.archive.as_deref(), Some("hw.zip"));
    assert_eq!(
        staged.layout.note,
        "unpacked hw.zip; graded lab10/src/bin/ (src/bin/counter.rs), one folder down inside it"
    );
}

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

    let flat = tempfile::tempdir().unwrap();
    write(flat.path(), "pool_sum.rs", "fn main() {}");
    match stage(flat.path(), &Skeleton::builtin())
        .unwrap()
        .unwrap_err()
    {
        Unusable::Misshaped { found } => assert_eq!(found, ["pool_sum.rs"]),
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

//! End-to-end: `labgrade batch` over submissions as TAs receive them: the two files loose at
//! the top, a project one folder down, a `.zip` and a `.tar.gz` of them, two differing copies,
//! and hostile archives (a zip bomb small on disk, path traversal, an absolute path, a symbolic
//! link, a FIFO and a device in a tar, 100 000 tiny entries, a name that is not UTF-8), each
//! built here. Every hostile one is graded 0 with its reason; the good ones beside them are
//! graded fully, and each result says which layout was graded.

use labgrade::exit::Exit;

mod common;

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::*;
use serde_json::Value;

fn zip_of(path: &Path, build: impl FnOnce(&mut zip::ZipWriter<File>)) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(File::create(path).unwrap());
    build(&mut w);
    w.finish().unwrap();
}

fn opts(method: zip::CompressionMethod) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default().compression_method(method)
}

fn tar_gz_of(path: &Path, build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    let data = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(File::create(path).unwrap(), Default::default());
    gz.write_all(&data).unwrap();
    gz.finish().unwrap();
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h
}

/// The reference solution's two programs, as (name, text).
fn reference_files() -> Vec<(String, Vec<u8>)> {
    ["pool_sum.rs", "counter.rs"]
        .iter()
        .map(|n| {
            let text = fs::read(fixture("reference").join("src/bin").join(n)).unwrap();
            (n.to_string(), text)
        })
        .collect()
}

#[test]
fn every_shape_is_graded_and_every_hostile_archive_refused_with_its_reason() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let files = reference_files();

    // Good shapes.
    for (name, text) in &files {
        fs::create_dir_all(r.join("loose")).unwrap();
        fs::write(r.join("loose").join(name), text).unwrap();
    }
    copy_dir(&fixture("reference"), &r.join("nested/lab10"));
    fs::create_dir_all(r.join("nested/__MACOSX/lab10")).unwrap();
    zip_of(&r.join("zipped/lab10.zip"), |w| {
        for (name, text) in &files {
            w.start_file(
                format!("lab10/src/bin/{name}"),
                opts(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            w.write_all(text).unwrap();
        }
    });
    tar_gz_of(&r.join("tarred/submission.tar.gz"), |b| {
        for (name, text) in &files {
            let mut h = header(tar::EntryType::Regular, text.len() as u64);
            b.append_data(&mut h, name, &text[..]).unwrap();
        }
    });

    // Two differing pool_sum.rs.
    copy_dir(&fixture("reference"), &r.join("ambiguous"));
    fs::create_dir_all(r.join("ambiguous/old/src/bin")).unwrap();
    fs::write(r.join("ambiguous/old/src/bin/pool_sum.rs"), "fn main() {}").unwrap();

    // Hostile archives.
    let stored = opts(zip::CompressionMethod::Stored);
    zip_of(&r.join("bomb/lab10.zip"), |w| {
        w.start_file("pool_sum.rs", opts(zip::CompressionMethod::Deflated))
            .unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..24 {
            w.write_all(&zeros).unwrap();
        }
    });
    assert!(fs::metadata(r.join("bomb/lab10.zip")).unwrap().len() < 200_000);
    zip_of(&r.join("traversal/lab10.zip"), |w| {
        w.start_file("../../pool_sum.rs", stored).unwrap();
    });
    zip_of(&r.join("absolute/lab10.zip"), |w| {
        w.start_file("/tmp/pool_sum.rs", stored).unwrap();
    });
    zip_of(&r.join("symlink/lab10.zip"), |w| {
        w.add_symlink("pool_sum.rs", "/etc/shadow", stored).unwrap();
    });
    tar_gz_of(&r.join("fifo/lab10.tar.gz"), |b| {
        let mut h = header(tar::EntryType::Fifo, 0);
        b.append_data(&mut h, "pool_sum.rs", io::empty()).unwrap();
    });
    tar_gz_of(&r.join("device/lab10.tgz"), |b| {
        let mut h = header(tar::EntryType::Block, 0);
        b.append_data(&mut h, "sda", io::empty()).unwrap();
    });
    zip_of(&r.join("many/lab10.zip"), |w| {
        for i in 0..100_000 {
            w.start_file(format!("{i}"), stored).unwrap();
        }
    });
    tar_gz_of(&r.join("latin1/lab10.tar.gz"), |b| {
        let mut h = header(tar::EntryType::Regular, 1);
        let name = Path::new(OsStr::from_bytes(b"pool_sum_caf\xe9.rs"));
        b.append_data(&mut h, name, &b"x"[..]).unwrap();
    });
    tar_gz_of(&r.join("targz_bomb/lab10.tar.gz"), |b| {
        let mut h = header(tar::EntryType::Regular, 24 << 20);
        b.append_data(&mut h, "pool_sum.rs", io::repeat(0).take(24 << 20))
            .unwrap();
    });

    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("results");
    let done = labgrade()
        .args(["batch", "--jobs", "1", "--spec"])
        .arg(quick_spec())
        .arg(r)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(Exit::Pass.code()), "{stderr}");
    let result = |name: &str| -> Value {
        let text = fs::read_to_string(out.join(format!("{name}.json")))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{stderr}"));
        serde_json::from_str(&text).unwrap()
    };

    for (name, kind, archive) in [
        ("loose", "loose", None),
        ("nested", "nested", None),
        ("zipped", "nested", Some("lab10.zip")),
        ("tarred", "loose", Some("submission.tar.gz")),
    ] {
        let j = result(name);
        assert!(j["max_score"].as_f64().unwrap() > 0.0);
        assert_eq!(j["score"], j["max_score"], "{name}: {j:#}");
        assert_eq!(j["layout"]["kind"], kind, "{name}: {}", j["layout"]);
        assert_eq!(j["layout"]["archive"].as_str(), archive, "{name}");
    }
    assert_eq!(result("nested")["layout"]["path"], "lab10");

    for (name, reason) in [
        ("ambiguous", "pool_sum.rs is in more than one place (src/bin/pool_sum.rs and old/src/bin/pool_sum.rs)"),
        ("bomb", "zip bomb"),
        ("traversal", "climbs out of the archive"),
        ("absolute", "absolute path"),
        ("symlink", "symbolic link"),
        ("fifo", "FIFO"),
        ("device", "device"),
        ("many", "entries, more than"),
        ("latin1", "not UTF-8"),
        ("targz_bomb", "bomb"),
    ] {
        let j = result(name);
        assert_eq!(j["score"], 0.0, "{name}: {j:#}");
        assert!(j.get("layout").is_none(), "{name}");
        for t in j["tests"].as_array().unwrap() {
            assert_eq!(t["reason"], "unusable_submission", "{name}: {t:#}");
            assert!(
                t["message"].as_str().unwrap().contains(reason),
                "{name}: {}",
                t["message"]
            );
        }
    }
    // Nothing was written outside the unpacking directories.
    assert!(!r.join("pool_sum.rs").exists() && !Path::new("/tmp/pool_sum.rs").exists());
}

#[test]
fn the_report_header_says_which_layout_was_graded() {
    let done = labgrade()
        .arg("grade")
        .arg(fixture("misshaped"))
        .arg("--spec")
        .arg(quick_spec())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(Exit::Pass.code()), "{text}");
    assert!(
        text.contains("layout: graded counter.rs, pool_sum.rs loose at the top, as src/bin/*.rs"),
        "{text}"
    );
}

//! Each hostile archive is built here, small on disk, and refused with its reason.
use super::*;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

pub(crate) fn zip_of(path: &Path, build: impl FnOnce(&mut zip::ZipWriter<File>)) {
    let mut w = zip::ZipWriter::new(File::create(path).unwrap());
    build(&mut w);
    w.finish().unwrap();
}

fn deflated() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)
}

fn stored() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
}

pub(crate) fn tar_gz_of(path: &Path, build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) {
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

fn refused(archive: &Path) -> String {
    let into = tempfile::tempdir().unwrap();
    unpack(archive, into.path()).unwrap().unwrap_err()
}

#[test]
fn a_good_zip_and_tar_gz_unpack() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("lab10.zip");
    zip_of(&z, |w| {
        w.add_directory("lab10/", deflated()).unwrap();
        w.start_file("lab10/src/bin/pool_sum.rs", deflated())
            .unwrap();
        w.write_all(b"fn main() {}").unwrap();
    });
    let into = tempfile::tempdir().unwrap();
    unpack(&z, into.path()).unwrap().unwrap();
    assert_eq!(
        fs::read_to_string(into.path().join("lab10/src/bin/pool_sum.rs")).unwrap(),
        "fn main() {}"
    );
    let t = dir.path().join("lab10.tar.gz");
    tar_gz_of(&t, |b| {
        let mut h = header(tar::EntryType::Regular, 3);
        b.append_data(&mut h, "counter.rs", &b"x()"[..]).unwrap();
    });
    let into = tempfile::tempdir().unwrap();
    unpack(&t, into.path()).unwrap().unwrap();
    assert!(into.path().join("counter.rs").is_file());
}

#[test]
fn hostile_archives_are_refused_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);

    // 16 MiB of zeros deflate to a few KiB: the ratio gives it away.
    zip_of(&p("bomb.zip"), |w| {
        w.start_file("pool_sum.rs", deflated()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..16 {
            w.write_all(&zeros).unwrap();
        }
    });
    assert!(fs::metadata(p("bomb.zip")).unwrap().len() < 100_000);
    assert!(refused(&p("bomb.zip")).contains("zip bomb"));

    zip_of(&p("up.zip"), |w| {
        w.start_file("../evil.rs", stored()).unwrap();
    });
    assert!(refused(&p("up.zip")).contains("climbs out"));

    zip_of(&p("abs.zip"), |w| {
        w.start_file("/tmp/evil.rs", stored()).unwrap();
    });
    assert!(refused(&p("abs.zip")).contains("absolute"));

    zip_of(&p("link.zip"), |w| {
        w.add_symlink("pool_sum.rs", "/etc/shadow", stored())
            .unwrap();
    });
    assert!(refused(&p("link.zip")).contains("symbolic link"));

    tar_gz_of(&p("fifo.tar.gz"), |b| {
        let mut h = header(tar::EntryType::Fifo, 0);
        b.append_data(&mut h, "pipe", io::empty()).unwrap();
    });
    assert!(refused(&p("fifo.tar.gz")).contains("FIFO"));

    tar_gz_of(&p("dev.tar.gz"), |b| {
        let mut h = header(tar::EntryType::Char, 0);
        b.append_data(&mut h, "zero", io::empty()).unwrap();
    });
    assert!(refused(&p("dev.tar.gz")).contains("device"));

    tar_gz_of(&p("hard.tar.gz"), |b| {
        let mut h = header(tar::EntryType::Link, 0);
        b.append_link(&mut h, "x.rs", "/etc/shadow").unwrap();
    });
    assert!(refused(&p("hard.tar.gz")).contains("hard link"));

    tar_gz_of(&p("latin1.tar.gz"), |b| {
        let mut h = header(tar::EntryType::Regular, 1);
        let name = Path::new(OsStr::from_bytes(b"caf\xe9.rs"));
        b.append_data(&mut h, name, &b"x"[..]).unwrap();
    });
    assert!(refused(&p("latin1.tar.gz")).contains("not UTF-8"));

    zip_of(&p("many.zip"), |w| {
        for i in 0..100_000 {
            w.start_file(format!("{i}"), stored()).unwrap();
        }
    });
    assert!(refused(&p("many.zip")).contains("entries"));
}

#[test]
fn a_tar_gz_bomb_is_stopped_by_the_stream_cap() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.tar.gz");
    tar_gz_of(&p, |b| {
        let mut h = header(tar::EntryType::Regular, 20 << 20);
        b.append_data(&mut h, "pool_sum.rs", io::repeat(0).take(20 << 20))
            .unwrap();
    });
    assert!(fs::metadata(&p).unwrap().len() < 100_000);
    let why = refused(&p);
    assert!(why.contains("bomb"), "{why}");
}

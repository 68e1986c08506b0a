//! Unpacking a `.zip` or `.tar.gz` a student uploaded instead of files: hostile input.
//!
//! The archive is opened through [`untrusted_file`](crate::untrusted_file) (a regular file,
//! never a link or a FIFO, of bounded size) and unpacked by hand into a fresh directory the
//! caller made, entry by entry, never with the crates' own `extract`/`unpack` (which follow
//! rules of their own about links and permissions). Only regular files and folders are
//! written; each of the following refuses the whole archive, with a reason the student can act
//! on: a path that leaves the target (`..`, absolute), a symbolic or hard link, a device, FIFO
//! or other special entry, a name that is not UTF-8 (refused, not renamed: a lossy name could
//! collide with another), too many entries, folders nested too deep, too many bytes in all, or
//! an entry (or a `.tar.gz` stream) that expands more than [`MAX_RATIO`] times (a zip bomb).
//! Declared sizes are checked first and the real bytes are counted as they come, since a
//! declared size can lie. This module decides nothing about layouts ([`super::layout`] does).

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use super::StageError;
use crate::untrusted_file::{self, Refused};

/// Largest archive file read.
const MAX_ARCHIVE_BYTES: u64 = 32 << 20;
/// Bytes unpacked in all (the stage's own copy limit).
const MAX_UNPACKED: u64 = super::MAX_BYTES;
/// Entries (files and folders).
const MAX_ENTRIES: usize = super::MAX_FILES + super::MAX_DIRS;
/// Folder depth of an entry's path.
const MAX_DEPTH: usize = super::MAX_DEPTH;
/// How many times an entry may expand (source text compresses 3–10 times).
pub const MAX_RATIO: u64 = 100;
/// Expansion allowed whatever the ratio (tiny entries compress oddly).
const RATIO_SLACK: u64 = 1 << 20;

/// The archive formats recognised, by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    TarGz,
}

impl Format {
    pub fn of(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            Some(Format::Zip)
        } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(Format::TarGz)
        } else {
            None
        }
    }
}

/// Unpacks `archive` into the empty directory `into`. `Ok(Err(why))`: the archive is refused
/// (the student's problem, said in `why`); `Err`: the grader's own file system failed.
pub fn unpack(archive: &Path, into: &Path) -> Result<Result<(), String>, StageError> {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(format) = Format::of(&name) else {
        return Ok(Err("not a .zip or .tar.gz".into()));
    };
    let (file, meta) = match untrusted_file::open_regular(archive) {
        Ok(f) => f,
        Err(Refused::Io(source)) => {
            return Err(StageError::Copy {
                path: archive.to_path_buf(),
                source,
            })
        }
        Err(why) => return Ok(Err(why.to_string())),
    };
    if meta.len() > MAX_ARCHIVE_BYTES {
        return Ok(Err(format!(
            "{} bytes, more than the {} MiB an archive may hold",
            meta.len(),
            MAX_ARCHIVE_BYTES >> 20
        )));
    }
    let mut out = Writer {
        root: into.to_path_buf(),
        entries: 0,
        bytes: 0,
    };
    let done = match format {
        Format::Zip => unzip(file, &mut out),
        Format::TarGz => untar(file, meta.len(), &mut out),
    };
    match done {
        Ok(()) => Ok(Ok(())),
        Err(Bad::Refused(why)) => Ok(Err(why)),
        Err(Bad::Io(source)) => Err(StageError::Copy {
            path: into.to_path_buf(),
            source,
        }),
    }
}

/// Why unpacking stopped.
enum Bad {
    /// The archive's fault: the message says why.
    Refused(String),
    /// Writing the grader's own directory failed.
    Io(io::Error),
}

fn refuse<T>(why: impl Into<String>) -> Result<T, Bad> {
    Err(Bad::Refused(why.into()))
}

/// Reading the archive failed: its fault (truncated, corrupt, or a bomb caught by a cap).
fn corrupt(e: impl std::fmt::Display) -> Bad {
    Bad::Refused(format!("cannot be read: {e}"))
}

/// Writes checked entries under `root`, counting against the limits.
struct Writer {
    root: PathBuf,
    entries: usize,
    bytes: u64,
}

impl Writer {
    /// The path under `root` for an entry named `raw`, refusing names that leave it.
    fn target(&mut self, raw: &[u8]) -> Result<PathBuf, Bad> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return refuse(format!("more than {MAX_ENTRIES} entries"));
        }
        let Ok(name) = std::str::from_utf8(raw) else {
            return refuse(format!(
                "the name {:?} is not UTF-8 (refused, not renamed): rename it with plain \
                 characters",
                String::from_utf8_lossy(raw)
            ));
        };
        // Some Windows tools write `\`; the zip format says `/`.
        let name = name.replace('\\', "/");
        let mut rel = PathBuf::new();
        for c in Path::new(&name).components() {
            match c {
                Component::Normal(part) => rel.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    return refuse(format!("the entry {name:?} climbs out of the archive (..)"))
                }
                Component::RootDir | Component::Prefix(_) => {
                    return refuse(format!("the entry {name:?} is an absolute path"))
                }
            }
        }
        if rel.as_os_str().is_empty() {
            return refuse(format!("the entry {name:?} has no name"));
        }
        if rel.components().count() > MAX_DEPTH {
            return refuse(format!(
                "the entry {name:?} is nested more than {MAX_DEPTH} folders deep"
            ));
        }
        Ok(self.root.join(rel))
    }

    fn dir(&mut self, raw: &[u8]) -> Result<(), Bad> {
        let path = self.target(raw)?;
        fs::create_dir_all(path).map_err(Bad::Io)
    }

    /// Writes at most `allowed` bytes of `data` (and of the total budget) to the file `raw`.
    fn file(&mut self, raw: &[u8], data: &mut dyn Read, allowed: u64) -> Result<(), Bad> {
        let path = self.target(raw)?;
        let left = MAX_UNPACKED - self.bytes;
        let cap = allowed.min(left);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(Bad::Io)?;
        }
        let mut out = match File::options()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return refuse(format!("{} appears twice", String::from_utf8_lossy(raw)))
            }
            Err(e) => return Err(Bad::Io(e)),
        };
        let copied = io::copy(&mut data.take(cap + 1), &mut out).map_err(|e| {
            if e.kind() == io::ErrorKind::Other || e.kind() == io::ErrorKind::InvalidData {
                corrupt(e)
            } else {
                Bad::Io(e)
            }
        })?;
        if copied > cap {
            return refuse(self.too_much(raw, cap == left));
        }
        self.bytes += copied;
        Ok(())
    }

    fn too_much(&self, raw: &[u8], total: bool) -> String {
        if total {
            format!("it unpacks to more than {} MiB in all", MAX_UNPACKED >> 20)
        } else {
            format!(
                "{} expands more than {MAX_RATIO} times its compressed size (a zip bomb?)",
                String::from_utf8_lossy(raw)
            )
        }
    }
}

/// The bytes an entry of `compressed` bytes may expand to.
fn ratio_cap(compressed: u64) -> u64 {
    compressed
        .saturating_mul(MAX_RATIO)
        .saturating_add(RATIO_SLACK)
}

/// What a unix mode's file type says, when it is not a regular file or a folder.
fn special(mode: u32) -> Option<&'static str> {
    match mode & 0o170_000 {
        0 | 0o100_000 | 0o040_000 => None,
        0o120_000 => Some("a symbolic link"),
        0o010_000 => Some("a FIFO"),
        0o020_000 | 0o060_000 => Some("a device"),
        0o140_000 => Some("a socket"),
        _ => Some("not a regular file"),
    }
}

fn unzip(file: File, out: &mut Writer) -> Result<(), Bad> {
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file)).map_err(corrupt)?;
    // The central directory is read already: refused before a single entry is written.
    if zip.len() > MAX_ENTRIES {
        return refuse(format!("{} entries, more than {MAX_ENTRIES}", zip.len()));
    }
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(corrupt)?;
        let raw = entry.name_raw().to_vec();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        if let Some(kind) = entry.unix_mode().and_then(special) {
            return refuse(format!(
                "{shown} is {kind}: archives may hold only files and folders"
            ));
        }
        if entry.is_dir() {
            out.dir(&raw)?;
            continue;
        }
        let cap = ratio_cap(entry.compressed_size());
        if entry.size() > cap {
            return refuse(format!(
                "{shown} declares {} bytes from {} compressed: more than {MAX_RATIO} times (a zip \
                 bomb?)",
                entry.size(),
                entry.compressed_size()
            ));
        }
        if entry.size() > MAX_UNPACKED - out.bytes {
            return refuse(out.too_much(&raw, true));
        }
        out.file(&raw, &mut entry, cap)?;
    }
    Ok(())
}

/// A reader that refuses to give more than `cap` bytes (a `.tar.gz` bomb's whole stream).
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(io::Error::other(format!(
                "it expands to more than {} MiB, {MAX_RATIO} times its size (a bomb?)",
                self.cap >> 20
            )));
        }
        Ok(n)
    }
}

fn untar(file: File, size: u64, out: &mut Writer) -> Result<(), Bad> {
    // Headers and padding count too: the whole stream is capped, by ratio and in all.
    let cap = ratio_cap(size).min(MAX_UNPACKED + (MAX_ENTRIES as u64) * 1024 + RATIO_SLACK);
    let stream = Capped {
        inner: flate2::read::GzDecoder::new(io::BufReader::new(file)),
        read: 0,
        cap,
    };
    let mut tar = tar::Archive::new(stream);
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        use tar::EntryType as E;
        match kind {
            E::Directory => out.dir(&raw)?,
            E::Regular | E::Continuous => {
                let declared = entry.size();
                if declared > MAX_UNPACKED - out.bytes {
                    return refuse(out.too_much(&raw, true));
                }
                out.file(&raw, &mut entry, declared)?;
            }
            E::Symlink => return refuse(format!("{shown} is a symbolic link: not unpacked")),
            E::Link => return refuse(format!("{shown} is a hard link: not unpacked")),
            E::Char | E::Block => return refuse(format!("{shown} is a device: not unpacked")),
            E::Fifo => return refuse(format!("{shown} is a FIFO: not unpacked")),
            other => {
                return refuse(format!(
                    "{shown} is a {other:?} entry: archives may hold only files and folders"
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

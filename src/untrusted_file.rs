//! Reading a file a student controls, outside the sandbox: never through a symbolic link, never
//! a FIFO, device or socket (they are refused before anything opens them), never more bytes
//! than the caller allows.
//!
//! Every read of a submission's (or a staged copy's) files by the grader itself goes through
//! here: the stage's copy, the race hints' source scan, the git time source's refs. The check
//! is done twice: `symlink_metadata` first (so a FIFO or `/dev/zero` behind a name is never
//! opened), then `open(O_NOFOLLOW | O_NONBLOCK)` and `fstat` on what was opened (so a name
//! swapped between the two is still caught: a FIFO opened non-blocking cannot hang, and is
//! refused by the `fstat`). This module must not decide what a refusal means for grading.

use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a student's file was not read.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("no such file")]
    Missing,
    #[error("a symbolic link: not followed")]
    Symlink,
    #[error("{0}: not read")]
    NotRegular(&'static str),
    #[error("{bytes} bytes, more than the {limit} read")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
}

/// What kind of thing `meta` describes, for messages (`a FIFO`).
pub fn kind(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_file() {
        "a regular file"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Opens the regular file at `path` for reading, refusing links and special files before and
/// after opening. Returns the file and its `fstat`.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), Refused> {
    let before = match path.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Refused::Missing),
        Err(e) => return Err(Refused::Io(e)),
    };
    check(&before)?;
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW on a link swapped in since the check.
            Some(libc::ELOOP) => Refused::Symlink,
            _ if e.kind() == io::ErrorKind::NotFound => Refused::Missing,
            _ => Refused::Io(e),
        })?;
    let meta = file.metadata()?;
    check(&meta)?;
    Ok((file, meta))
}

fn check(meta: &Metadata) -> Result<(), Refused> {
    if meta.file_type().is_symlink() {
        Err(Refused::Symlink)
    } else if !meta.is_file() {
        Err(Refused::NotRegular(kind(meta)))
    } else {
        Ok(())
    }
}

/// The bytes of the regular file at `path`, when it holds at most `limit` of them.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, Refused> {
    let (file, meta) = open_regular(path)?;
    let mut out = Vec::with_capacity(meta.len().min(limit) as usize);
    // The size from fstat can be stale (the file grows): the read is bounded on its own.
    file.take(limit + 1).read_to_end(&mut out)?;
    let bytes = (out.len() as u64).max(meta.len());
    if bytes > limit {
        return Err(Refused::TooLarge { bytes, limit });
    }
    Ok(out)
}

/// [`read_capped`] as text (invalid UTF-8 replaced).
pub fn read_text_capped(path: &Path, limit: u64) -> Result<String, Refused> {
    read_capped(path, limit).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Copies the regular file at `from` to a new file `to` (mode 0644), when it holds at most
/// `limit` bytes; returns the bytes copied.
pub fn copy_capped(from: &Path, to: &Path, limit: u64) -> Result<u64, Refused> {
    let (file, meta) = open_regular(from)?;
    if meta.len() > limit {
        return Err(Refused::TooLarge {
            bytes: meta.len(),
            limit,
        });
    }
    let mut out = File::options()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(to)?;
    let copied = io::copy(&mut file.take(limit + 1), &mut out)?;
    if copied > limit {
        drop(out);
        let _ = std::fs::remove_file(to);
        return Err(Refused::TooLarge {
            bytes: copied,
            limit,
        });
    }
    out.flush()?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(path: &Path) {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    }

    #[test]
    fn links_fifos_and_devices_are_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("ok.rs"), "fn main() {}").unwrap();
        std::os::unix::fs::symlink("/dev/zero", p.join("zero")).unwrap();
        std::os::unix::fs::symlink(p.join("ok.rs"), p.join("link.rs")).unwrap();
        fifo(&p.join("pipe"));
        // A FIFO with no writer: opening it blocking would hang this test forever.
        assert!(matches!(
            read_capped(&p.join("pipe"), 10),
            Err(Refused::NotRegular("a FIFO"))
        ));
        assert!(matches!(
            read_capped(&p.join("zero"), 10),
            Err(Refused::Symlink)
        ));
        assert!(matches!(
            read_capped(&p.join("link.rs"), 100),
            Err(Refused::Symlink)
        ));
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 10),
            Err(Refused::NotRegular("a device"))
        ));
        assert!(matches!(
            read_capped(&p.join("nope"), 10),
            Err(Refused::Missing)
        ));
        assert_eq!(
            read_text_capped(&p.join("ok.rs"), 100).unwrap(),
            "fn main() {}"
        );
        assert!(matches!(
            read_capped(&p.join("ok.rs"), 5),
            Err(Refused::TooLarge {
                bytes: 12,
                limit: 5
            })
        ));
        assert_eq!(
            copy_capped(&p.join("ok.rs"), &p.join("copy.rs"), 12).unwrap(),
            12
        );
        assert!(copy_capped(&p.join("pipe"), &p.join("copy2"), 12).is_err());
        assert!(!p.join("copy2").exists());
        assert!(matches!(
            copy_capped(&p.join("ok.rs"), &p.join("copy3.rs"), 11),
            Err(Refused::TooLarge { .. })
        ));
        assert!(!p.join("copy3.rs").exists());
    }
}

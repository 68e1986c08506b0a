//! Keys: what a result was graded from, so a batch can tell a result that is still valid from
//! one that must be graded again.
//!
//! A [`Key`] has three parts: a hash of the submission's files, a hash of the checked spec, and
//! labgrade's version. Equal keys mean an equal grading; a different part says why a result is
//! stale (the spec was fixed, the student resubmitted, the grader was upgraded).
//!
//! The hash is [`Fnv128`] (`crate::fnv`). It is not a defence against a student crafting
//! collisions; a key only ever decides whether the same submission's own earlier result can be
//! reused.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::spec::Spec;

pub use crate::fnv::Fnv128;

/// What a result was graded from (stored in each result file as `key` and `key_parts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyParts {
    /// Hash of the submission's files: every relative path and its bytes, in path order.
    pub submission: String,
    /// Hash of the checked spec (not of its text: a comment or a reformatting regrades nothing).
    pub spec: String,
    /// labgrade's version.
    pub grader: String,
    /// When the submission was handed in and how that is known (Unix milliseconds and the
    /// source), when the spec has a deadline: a new commit time or file time reprices the
    /// result. Empty without a deadline, and then not part of the key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub submitted: String,
}

impl KeyParts {
    /// The single key that decides whether a result can be reused.
    pub fn key(&self) -> String {
        let mut h = Fnv128::new();
        for part in [&self.submission, &self.spec, &self.grader] {
            h.write_field(part.as_bytes());
        }
        // Keys of specs without a deadline stay what they were before deadlines existed.
        if !self.submitted.is_empty() {
            h.write_field(self.submitted.as_bytes());
        }
        h.hex()
    }

    /// Which parts differ from `other`'s, by name (`spec`, `submission`, `grader`,
    /// `submission time`, `extension`).
    pub fn changed_since(&self, other: &KeyParts) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.spec != other.spec {
            changed.push("spec");
        }
        if self.submission != other.submission {
            changed.push("submission");
        }
        if self.grader != other.grader {
            changed.push("grader");
        }
        // `submitted_part`: the time and source, then the extension when there is one.
        let split = |s: &str| -> (String, String) {
            match s.split_once(EXTENDED) {
                Some((time, to)) => (time.to_string(), to.to_string()),
                None => (s.to_string(), String::new()),
            }
        };
        let (time, extension) = split(&self.submitted);
        let (other_time, other_extension) = split(&other.submitted);
        if time != other_time {
            changed.push("submission time");
        }
        if extension != other_extension {
            changed.push("extension");
        }
        changed
    }
}

impl fmt::Display for KeyParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// This labgrade's version, the `grader` part of every key.
pub fn grader_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Hash of the checked spec: its lab, build settings, exercises with every test, and its
/// deadline and late policy when it has one (a changed policy changes scores).
///
/// The checked model holds no hash maps, so its `Debug` text is deterministic; the format may
/// change between labgrade versions, which are part of the key anyway. The spec's origin (its
/// path) and title are left out: they change no verdict.
pub fn spec_hash(spec: &Spec) -> String {
    let mut h = Fnv128::new();
    h.write_field(spec.lab.as_bytes());
    h.write_field(format!("{:?}", spec.build).as_bytes());
    h.write_field(format!("{:?}", spec.exercises).as_bytes());
    // Specs without a deadline hash as they did before deadlines existed.
    if let Some(deadline) = &spec.deadline {
        h.write_field(format!("{deadline:?}").as_bytes());
    }
    h.hex()
}

/// The `submitted` part of a key: when the submission was handed in and the source.
///
/// An extension is part of it too, so adding, moving or removing one grades that submission
/// again (and only it); without one, the part is what it was before extensions existed.
pub fn submitted_part(late: &crate::deadline::Late) -> String {
    let mut part = format!(
        "{} {}",
        late.submitted.at.at.unix_ms,
        late.submitted.source.code()
    );
    if let Some(extended) = &late.extended_to {
        part.push_str(&format!("{EXTENDED}{}", extended.at.unix_ms));
    }
    part
}

/// What separates a key's submission time from its extension.
const EXTENDED: &str = " extended ";

/// Entries, folder depth and bytes hashed at most: past them a submission has no key (it is
/// graded every time), so a huge `target/` or a folder nested without end costs nothing more.
const MAX_HASHED_ENTRIES: usize = 100_000;
const MAX_HASHED_DEPTH: usize = 64;
const MAX_HASHED_BYTES: u64 = 256 << 20;

/// Hash of every file under `dir`: relative paths and bytes, in path order.
///
/// Symbolic links are hashed by their target text, never followed (the stager does not follow
/// them either); FIFOs, devices and sockets are never opened. Directories count only through
/// the files in them. Errs past the bounds above.
pub fn submission_hash(dir: &Path) -> io::Result<String> {
    let mut entries = Vec::new();
    collect(dir, Path::new(""), 0, &mut entries)?;
    entries.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    let mut h = Fnv128::new();
    let mut budget = MAX_HASHED_BYTES;
    for (rel, kind) in entries {
        h.write_field(rel.as_os_str().as_encoded_bytes());
        match kind {
            Entry::File => match crate::untrusted_file::open_regular(&dir.join(&rel)) {
                Ok((file, meta)) => {
                    h.write(b"f");
                    hash_file(file, meta.len(), &mut budget, &mut h)?;
                }
                // Swapped for something else since it was listed.
                Err(_) => h.write(b"o"),
            },
            Entry::Link => {
                h.write(b"l");
                let target = fs::read_link(dir.join(&rel))?;
                h.write_field(target.as_os_str().as_encoded_bytes());
            }
            Entry::Other => h.write(b"o"),
        }
    }
    Ok(h.hex())
}

enum Entry {
    File,
    Link,
    Other,
}

fn collect(
    root: &Path,
    rel: &Path,
    depth: usize,
    out: &mut Vec<(std::path::PathBuf, Entry)>,
) -> io::Result<()> {
    if depth > MAX_HASHED_DEPTH {
        return Err(io::Error::other("folders nested too deep to hash"));
    }
    for entry in fs::read_dir(root.join(rel))? {
        let entry = entry?;
        if out.len() >= MAX_HASHED_ENTRIES {
            return Err(io::Error::other("too many files to hash"));
        }
        let path = rel.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, depth + 1, out)?;
        } else if kind.is_file() {
            out.push((path, Entry::File));
        } else if kind.is_symlink() {
            out.push((path, Entry::Link));
        } else {
            out.push((path, Entry::Other));
        }
    }
    Ok(())
}

fn hash_file(file: fs::File, len: u64, budget: &mut u64, h: &mut Fnv128) -> io::Result<()> {
    if len > *budget {
        return Err(io::Error::other("too many bytes to hash"));
    }
    h.write(&len.to_le_bytes());
    let mut file = file.take(*budget);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        *budget -= n as u64;
        h.write(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_128_matches_the_reference_vectors() {
        assert_eq!(Fnv128::new().hex(), "6c62272e07bb014262b821756295c58d");
        let mut h = Fnv128::new();
        h.write(b"a");
        assert_eq!(h.hex(), "d228cb696f1a8caf78912b704e4a8964");
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn submission_hash_sees_contents_and_names_but_not_where_the_tree_is() {
        let a = tree(&[("src/bin/counter.rs", "fn main() {}"), ("src/lib.rs", "")]);
        let same = tree(&[("src/lib.rs", ""), ("src/bin/counter.rs", "fn main() {}")]);
        let edited = tree(&[("src/bin/counter.rs", "fn main() { }"), ("src/lib.rs", "")]);
        let renamed = tree(&[("src/bin/counter.rs", "fn main() {}"), ("src/lib2.rs", "")]);
        let hash = |d: &tempfile::TempDir| submission_hash(d.path()).unwrap();
        assert_eq!(hash(&a), hash(&same));
        assert_ne!(hash(&a), hash(&edited));
        assert_ne!(hash(&a), hash(&renamed));
    }

    #[test]
    fn moving_bytes_between_a_name_and_a_content_changes_the_hash() {
        let a = tree(&[("ab", "c")]);
        let b = tree(&[("a", "bc")]);
        assert_ne!(
            submission_hash(a.path()).unwrap(),
            submission_hash(b.path()).unwrap()
        );
    }

    #[test]
    fn a_spec_change_that_changes_a_test_changes_the_spec_hash() {
        let spec = crate::spec::builtin();
        let mut fixed = spec.clone();
        fixed.exercises[0].tests[0].points += 1.0;
        let mut moved = spec.clone();
        moved.origin = "elsewhere.toml".into();
        assert_ne!(spec_hash(&spec), spec_hash(&fixed));
        assert_eq!(spec_hash(&spec), spec_hash(&moved));
        // The deadline and late policy are part of the spec's hash.
        let mut due = spec.clone();
        due.deadline = Some(crate::spec::Deadline {
            due: crate::datetime::ZonedTime::parse("2026-12-01T22:00:00-05:00").unwrap(),
            grace: std::time::Duration::ZERO,
            penalty: crate::spec::LatePenalty::None,
        });
        let mut penalised = due.clone();
        penalised.deadline.as_mut().unwrap().penalty =
            crate::spec::LatePenalty::Flat { fraction: 0.2 };
        assert_ne!(spec_hash(&spec), spec_hash(&due));
        assert_ne!(spec_hash(&due), spec_hash(&penalised));
    }

    #[test]
    fn changed_parts_are_named() {
        let a = KeyParts {
            submission: "1".into(),
            spec: "2".into(),
            grader: "0.1.0".into(),
            submitted: String::new(),
        };
        let b = KeyParts {
            spec: "3".into(),
            ..a.clone()
        };
        assert_eq!(b.changed_since(&a), ["spec"]);
        assert_ne!(a.key(), b.key());
        assert!(a.changed_since(&a).is_empty());
        let c = KeyParts {
            submitted: "1796184000000 git".into(),
            ..a.clone()
        };
        assert_eq!(c.changed_since(&a), ["submission time"]);
        let extended = KeyParts {
            submitted: format!("{} extended 1796353200000", a.submitted),
            ..a.clone()
        };
        assert_eq!(extended.changed_since(&a), ["extension"]);
        assert_eq!(a.changed_since(&extended), ["extension"]);
        assert_ne!(a.key(), extended.key());
        assert_ne!(a.key(), c.key());
        // Without a deadline, the key is the three parts' as before.
        let mut h = Fnv128::new();
        for part in ["1", "2", "0.1.0"] {
            h.write_field(part.as_bytes());
        }
        assert_eq!(a.key(), h.hex());
        assert!(!serde_json::to_string(&a).unwrap().contains("submitted"));
    }
}

//! The course skeleton: the Cargo package every submission's `src/` is built in.

use std::io;
use std::path::Path;

/// The skeleton's files, compiled into the grader so it works from any directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skeleton {
    pub manifest: String,
    pub lock: String,
}

impl Skeleton {
    /// The Lab 10 skeleton from `specs/skeleton/`.
    pub fn builtin() -> Self {
        Skeleton {
            manifest: include_str!("../../specs/skeleton/Cargo.toml").to_string(),
            lock: include_str!("../../specs/skeleton/Cargo.lock").to_string(),
        }
    }

    /// The package name every submission is built as (binaries can `use <name>::…` when the
    /// student writes a `src/lib.rs`).
    pub fn package_name(&self) -> &str {
        self.manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = \""))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("lab10")
    }

    /// A short, stable fingerprint of the dependency set, for cache directory names.
    pub fn fingerprint(&self) -> String {
        // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.manifest.bytes().chain(self.lock.bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// Writes `Cargo.toml` and `Cargo.lock` into `dir`.
    pub fn write_into(&self, dir: &Path) -> io::Result<()> {
        std::fs::write(dir.join("Cargo.toml"), &self.manifest)?;
        std::fs::write(dir.join("Cargo.lock"), &self.lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_skeleton_offers_the_contract_dependencies() {
        let s = Skeleton::builtin();
        assert_eq!(s.package_name(), "lab10");
        assert!(s.manifest.contains("libc = \"0.2\""));
        assert!(s.manifest.contains("overflow-checks = true"));
        assert!(s.lock.contains("name = \"nix\""));
        assert_eq!(s.fingerprint(), Skeleton::builtin().fingerprint());
        assert_eq!(s.fingerprint().len(), 16);
    }
}

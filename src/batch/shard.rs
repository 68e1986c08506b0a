//! `--shard K/N`: a deterministic slice of the submissions, for several machines or CI jobs.
//!
//! A submission belongs to shard `hash(name) mod N` (128-bit FNV-1a of the name's bytes). The
//! slice depends on the name alone, not on which other submissions a machine sees, so shards
//! agree even when their copies of the root differ by a late submission, and adding one never
//! moves another to a different shard.

use std::fmt;
use std::str::FromStr;

use super::key::Fnv128;

/// Shard `index` of `count` (`index` counts from 0, like `$SLURM_ARRAY_TASK_ID` with
/// `--array=0-(N-1)` and a CI matrix over `0..N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether the submission `name` is graded by this shard.
    pub fn contains(&self, name: &str) -> bool {
        let mut h = Fnv128::new();
        h.write(name.as_bytes());
        h.finish() % u128::from(self.count) == u128::from(self.index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("`{s}` is not a shard: expected K/N with 0 <= K < N, such as 0/4");
        let (k, n) = s.split_once('/').ok_or_else(usage)?;
        let index: u32 = k.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_rejects_the_rest() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_split_the_names_without_overlap_and_fairly() {
        let names: Vec<String> = (0..300).map(|i| format!("student{i:03}")).collect();
        let count = 4;
        let mut sizes = vec![0; count as usize];
        for name in &names {
            let owners: Vec<u32> = (0..count)
                .filter(|&index| Shard { index, count }.contains(name))
                .collect();
            assert_eq!(owners.len(), 1, "{name}: {owners:?}");
            sizes[owners[0] as usize] += 1;
        }
        assert!(sizes.iter().all(|&n| (50..=100).contains(&n)), "{sizes:?}");
    }
}

//! How the machine's cores are divided into timing lanes: pure arithmetic, so that every
//! labgrade process sharing a cache computes the same lanes from the same cores.

/// The lanes of a machine whose process may run on `cores` (CPU numbers, ascending), for
/// measurements that need `width` cores each: ⌊cores / width⌋ lanes of `width` consecutive
/// allowed cores, and the cores left over (never measured on, always free for ordinary work).
///
/// Fewer than two lanes' worth of cores is one lane of every core, unpinned: a measurement then
/// has the whole machine, as on the 2-core machines most graders run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub lanes: Vec<Vec<usize>>,
    pub spare: Vec<usize>,
}

impl Layout {
    pub fn new(cores: &[usize], width: usize) -> Layout {
        let width = width.max(1);
        let count = cores.len() / width;
        if count < 2 {
            return Layout {
                lanes: vec![cores.to_vec()],
                spare: Vec::new(),
            };
        }
        Layout {
            lanes: cores[..count * width]
                .chunks(width)
                .map(<[usize]>::to_vec)
                .collect(),
            spare: cores[count * width..].to_vec(),
        }
    }

    /// Whether work must be pinned to its lanes' cores (several lanes).
    pub fn pinned(&self) -> bool {
        self.lanes.len() > 1
    }

    /// One line for `labgrade doctor`: "2 of 2 cores each (cores 0-1, 2-3)".
    pub fn describe(&self) -> String {
        let lanes = self
            .lanes
            .iter()
            .map(|l| ranges(l))
            .collect::<Vec<_>>()
            .join(", ");
        if !self.pinned() {
            return format!(
                "1, every core ({lanes}): a measurement has the whole machine to itself"
            );
        }
        let spare = if self.spare.is_empty() {
            String::new()
        } else {
            format!("; {} for other work only", ranges(&self.spare))
        };
        format!(
            "{} of {} cores each (cores {lanes}{spare}), measured at once",
            self.lanes.len(),
            self.lanes[0].len()
        )
    }
}

/// "0-3,6" for [0, 1, 2, 3, 6].
pub fn ranges(cores: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cores.len() {
        let mut j = i;
        while j + 1 < cores.len() && cores[j + 1] == cores[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cores[i].to_string()
        } else {
            format!("{}-{}", cores[i], cores[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cores_are_one_unpinned_lane_as_before() {
        let l = Layout::new(&[0, 1], 2);
        assert_eq!(l.lanes, vec![vec![0, 1]]);
        assert!(!l.pinned());
        // Three cores are still one lane: two lanes need twice the width.
        assert!(!Layout::new(&[0, 1, 2], 2).pinned());
    }

    #[test]
    fn a_big_machine_has_floor_cores_over_width_lanes_and_spares() {
        let cores: Vec<usize> = (0..64).collect();
        assert_eq!(Layout::new(&cores, 4).lanes.len(), 16);
        let l = Layout::new(&[0, 1, 2, 3, 4, 6, 7], 2);
        assert_eq!(l.lanes, vec![vec![0, 1], vec![2, 3], vec![4, 6]]);
        assert_eq!(l.spare, vec![7]);
        assert_eq!(
            l.describe(),
            "3 of 2 cores each (cores 0-1, 2-3, 4,6; 7 for other work only), measured at once"
        );
    }

    #[test]
    fn ranges_are_compact() {
        assert_eq!(ranges(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(ranges(&[]), "");
    }
}

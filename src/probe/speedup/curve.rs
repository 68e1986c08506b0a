//! The speedup curve: P = 1, 2, 4, … up to twice the cores, with its serial fraction
//! (Karp–Flatt), and the curve said in words for the terminal.

use crate::sandbox::{Ending, SpawnError};
use crate::stats;
use crate::verdict::{SpeedupCurve, SpeedupPoint};

use super::{Target, RUN_TIMEOUT};

/// Runs per point of the curve that the measurement does not already have.
pub(super) const CURVE_RUNS: usize = 3;

/// The speedup curve of the student's pool: P = 1, 2, 4, … up to `up_to`. Points the
/// measurement already has (`known`: workers, median wall ms) are reused; the others are the
/// median of a few runs.
pub(super) fn curve(
    target: Target<'_>,
    n: u64,
    up_to: u32,
    known: &[(u32, f64)],
) -> Result<SpeedupCurve, SpawnError> {
    let mut points = Vec::new();
    let mut one = None;
    for p in curve_workers(up_to) {
        let known_ms = known
            .iter()
            .find(|(w, ms)| *w == p && ms.is_finite())
            .map(|&(_, ms)| ms);
        let wall_ms = match known_ms {
            Some(ms) => ms,
            None => {
                let mut walls = Vec::new();
                for _ in 0..CURVE_RUNS {
                    let args = [n.to_string(), p.to_string()];
                    let out = target.runner.run(&target.job(&args, RUN_TIMEOUT))?;
                    if out.ending == Ending::Exited(0) {
                        walls.push(out.wall.as_secs_f64() * 1e3);
                    }
                }
                if walls.is_empty() {
                    break;
                }
                stats::median(&walls)
            }
        };
        let base = *one.get_or_insert(wall_ms);
        points.push(SpeedupPoint {
            workers: p,
            wall_ms,
            speedup: base / wall_ms,
        });
    }
    Ok(SpeedupCurve {
        points,
        required: None,
    })
}

/// Where the curve ends unless the spec says: twice the cores (at most 64), past the point
/// where more workers can help.
pub(super) fn default_curve_end(cores: usize) -> u32 {
    (2 * cores).min(64) as u32
}

/// The curve's worker counts: 1, 2, 4, … up to `up_to`.
pub(super) fn curve_workers(up_to: u32) -> impl Iterator<Item = u32> {
    std::iter::successors(Some(1u32), |p| Some(p * 2)).take_while(move |p| *p <= up_to)
}

/// The curve in words: where it stops improving, and why (on a machine with `cores`).
pub(super) fn curve_words(c: &SpeedupCurve, cores: usize) -> String {
    let best = c
        .points
        .iter()
        .max_by(|a, b| a.speedup.total_cmp(&b.speedup));
    let Some(best) = best else {
        return String::new();
    };
    let last = c.points.last().map_or(0, |p| p.workers);
    let plural = |w: u32| if w == 1 { "worker" } else { "workers" };
    // Within noise of 1x everywhere: no plateau to explain, the work is not split.
    let plateau = if best.speedup < 1.1 && last > 1 {
        ": no number of workers ran clearly faster than one, so the work is not shared among \
         them"
            .to_string()
    } else if best.workers < last {
        format!(
            ": beyond {} {} nothing improves, this machine has {} cores",
            best.workers,
            plural(best.workers),
            cores
        )
    } else {
        String::new()
    };
    format!(
        "; the best was {:.2}x at {} {}{plateau}",
        best.speedup,
        best.workers,
        plural(best.workers),
    )
}

/// The serial fraction (Karp–Flatt) at each worker count of the curve, for the evidence.
pub(super) fn serial_fractions(c: &SpeedupCurve) -> Vec<(u32, f64)> {
    c.points
        .iter()
        .filter_map(|pt| stats::karp_flatt(pt.speedup, pt.workers).map(|f| (pt.workers, f)))
        .collect()
}

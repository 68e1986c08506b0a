//! The N of a speedup test that gives none: large enough that the one-worker run does real
//! work rather than measuring fork overhead.

use std::path::Path;
use std::time::Duration;

use crate::sandbox::{Ending, SpawnError};

use super::{Target, RUN_TIMEOUT};

/// How long a one-worker run should take: long enough for the work to dominate the sandbox's
/// start-up (a few milliseconds quiet, ~20 ms under load) and fork overhead, short enough that
/// the five blocks of a clear case (four runs each) hold the timing lane for under 3 s. Cut from
/// 400 ms for issue 13; `benches/speedup_acceptance.sh` measures the verdicts (README).
fn target_one_worker() -> Duration {
    Duration::from_millis(if super::legacy() { 400 } else { 150 })
}

/// [`calibrate`] against the reference, once per grader process: N then depends only on the
/// reference and the machine, so a batch gives every submission the same N (fairer than one
/// calibration each, which would vary with noise) and saves the calibration runs in the
/// timing lane.
pub(super) fn calibrated_for_reference(
    reference: &Path,
    target: Target<'_>,
) -> Result<u64, SpawnError> {
    static CALIBRATED: std::sync::Mutex<Vec<(std::path::PathBuf, u64)>> =
        std::sync::Mutex::new(Vec::new());
    let known = |list: &Vec<(std::path::PathBuf, u64)>| {
        list.iter()
            .find(|(path, _)| path == reference)
            .map(|&(_, n)| n)
    };
    if let Some(n) = CALIBRATED.lock().ok().and_then(|list| known(&list)) {
        return Ok(n);
    }
    let n = calibrate(reference, target)?;
    if let Ok(mut list) = CALIBRATED.lock() {
        list.push((reference.to_path_buf(), n));
    }
    Ok(n)
}

/// N such that the one-worker run of `program` takes about [`target_one_worker`].
pub(super) fn calibrate(program: &Path, target: Target<'_>) -> Result<u64, SpawnError> {
    let mut n: u64 = 50_000_000;
    for _ in 0..4 {
        let mut job = target.job(&[n.to_string(), "1".into()], RUN_TIMEOUT);
        job.program = program.to_path_buf();
        job.keep_visible.push(crate::sandbox::Visible::read_only(
            program.parent().unwrap_or(program),
        ));
        let out = target.runner.run(&job)?;
        let wall = out.wall.as_secs_f64().max(1e-3);
        if out.ending != Ending::Exited(0) {
            break;
        }
        let scale = target_one_worker().as_secs_f64() / wall;
        if (0.8..1.5).contains(&scale) {
            break;
        }
        n = ((n as f64) * scale.clamp(0.1, 20.0)) as u64;
        n = n.clamp(1_000_000, 10_000_000_000);
    }
    Ok(n)
}

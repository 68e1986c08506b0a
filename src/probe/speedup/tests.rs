//! Unit tests of the speedup probe's rules on synthetic data (no process is run).

use std::path::Path;

use super::curve::{curve_words, curve_workers, default_curve_end};
use super::measure::{Arm, Measurement};
use super::*;
use crate::verdict::{SpeedupCurve, SpeedupPoint};

#[test]
fn absolute_thresholds_scale_to_the_cores() {
    let t = SpeedupThreshold::Absolute {
        factor: 3.0,
        scale_to_cores: true,
    };
    // 3x was written for 4 workers; on 2 cores 1 + 2 * 1/3.
    assert!((required_speedup(t, 2, 4) - (1.0 + 2.0 / 3.0)).abs() < 1e-9);
    assert_eq!(required_speedup(t, 8, 4), 3.0);
    let fixed = SpeedupThreshold::Absolute {
        factor: 1.5,
        scale_to_cores: false,
    };
    assert_eq!(required_speedup(fixed, 2, 4), 1.5);
}

#[test]
fn the_curve_is_said_in_words() {
    let c = SpeedupCurve {
        points: vec![
            SpeedupPoint {
                workers: 1,
                wall_ms: 400.0,
                speedup: 1.0,
            },
            SpeedupPoint {
                workers: 2,
                wall_ms: 210.0,
                speedup: 1.9,
            },
            SpeedupPoint {
                workers: 4,
                wall_ms: 215.0,
                speedup: 1.86,
            },
        ],
        required: None,
    };
    let w = curve_words(&c, 2);
    assert!(w.contains("the best was 1.90x at 2 workers"), "{w}");
    assert!(w.contains("beyond 2 workers nothing improves"), "{w}");
    // Statistics are the staff's, in the evidence: not in the student's words.
    assert!(!w.contains("Karp–Flatt"), "{w}");
    let kf = serial_fractions(&c);
    assert_eq!(kf.len(), 2, "{kf:?}");
    assert_eq!(kf[0].0, 2);
}

#[test]
fn a_curve_that_never_rises_says_the_work_is_not_shared() {
    let point = |workers, wall_ms: f64| SpeedupPoint {
        workers,
        wall_ms,
        speedup: 400.0 / wall_ms,
    };
    let c = SpeedupCurve {
        points: vec![point(1, 400.0), point(2, 405.0), point(4, 410.0)],
        required: None,
    };
    let w = curve_words(&c, 2);
    assert!(w.contains("the best was 1.00x at 1 worker:"), "{w}");
    assert!(
        w.contains("no number of workers ran clearly faster than one"),
        "{w}"
    );
}

/// A measurement whose blocks gave these (student, reference) speedups.
fn measured(blocks: &[(f64, f64)], check: impl FnOnce(&Measurement<'_>)) {
    let nowhere = Path::new("/nonexistent");
    let target = Target {
        executable: nowhere,
        unoptimised: None,
        binary: "pool_sum",
        workdir: nowhere,
        reference: Some(nowhere),
        reference_timeouts: None,
        runner: &crate::probe::SandboxRunner,
    };
    let mut m = Measurement::new(target, Some(nowhere), 1000, 2);
    m.logs = blocks
        .iter()
        .map(|&(s, r)| (s.ln(), Some(r.ln())))
        .collect();
    check(&m);
}

const LAB10: SpeedupThreshold = SpeedupThreshold::RelativeToReference {
    fraction: 0.6,
    floor: 1.1,
};

#[test]
fn relative_verdicts_need_the_reference_to_show_the_floor() {
    let jitter = [1.0, 1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.0];
    let blocks =
        |s: f64, r: f64| -> Vec<(f64, f64)> { jitter.iter().map(|j| (s * j, r / j)).collect() };
    // A sequential pool beside a reference that reaches 1.9x: too slow.
    measured(&blocks(1.0, 1.9), |m| {
        assert_eq!(m.decide(LAB10, 1.1, ALPHA), Decision::Below)
    });
    // The same pool where the reference reaches only 1.05x (a hog on the other core): the
    // floor cannot be shown here, and 1.0 is within 60% of 1.05: no fail.
    measured(&blocks(1.0, 1.05), |m| {
        assert_eq!(m.decide(LAB10, 1.1, ALPHA), Decision::Undecided)
    });
    // As fast as the reference, both above the floor: pass.
    measured(&blocks(1.85, 1.9), |m| {
        assert_eq!(m.decide(LAB10, 1.1, ALPHA), Decision::Above)
    });
    // Above the floor but far below the reference's 1.9x (less than 60% of its gain).
    measured(&blocks(1.12, 1.95), |m| {
        assert_eq!(m.decide(LAB10, 1.1, ALPHA), Decision::Below)
    });
}

#[test]
fn the_error_rate_is_spent_exactly() {
    assert!((SPENDING.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn the_curve_goes_to_twice_the_cores() {
    assert_eq!(default_curve_end(2), 4);
    assert_eq!(default_curve_end(48), 64);
    assert_eq!(curve_workers(4).collect::<Vec<_>>(), [1, 2, 4]);
    assert_eq!(curve_workers(12).collect::<Vec<_>>(), [1, 2, 4, 8]);
    assert_eq!(curve_workers(64).last(), Some(64));
    assert_eq!(curve_workers(1).collect::<Vec<_>>(), [1]);
}

/// An idle one-worker run (sleeping while the workers compute) is caught on a quiet machine;
/// on a starved one, where the reference's one-worker run waits for a core as much, waiting is
/// the machine's, not the student's.
#[test]
fn idleness_is_judged_against_the_reference_in_the_same_blocks() {
    let nowhere = Path::new("/nonexistent");
    let target = Target {
        executable: nowhere,
        unoptimised: None,
        binary: "pool_sum",
        workdir: nowhere,
        reference: Some(nowhere),
        reference_timeouts: None,
        runner: &crate::probe::SandboxRunner,
    };
    let idle = |student_share: f64, reference_share: f64| {
        let mut m = Measurement::new(target, Some(nowhere), 1000, 2);
        for _ in 0..5 {
            m.record(Arm::StudentOne, 0.4, 0.4 * student_share);
            m.record(Arm::StudentP, 0.22, 0.4 * student_share);
            m.record(Arm::ReferenceOne, 0.4, 0.4 * reference_share);
            m.record(Arm::ReferenceP, 0.22, 0.4 * reference_share);
        }
        m.gaming(2)
    };
    let caught = idle(0.3, 0.98).expect("an idle run on a quiet machine");
    assert!(
        caught.contains("spends only 30% of its time on the CPU"),
        "{caught}"
    );
    assert_eq!(
        idle(0.49, 0.5),
        None,
        "a starved machine is not the student's idleness"
    );
    assert!(idle(0.2, 0.5).is_some(), "idle on a starved machine too");
    assert_eq!(idle(0.97, 0.98), None);
}

#[test]
fn a_pool_that_hangs_is_said_to_hang_in_words() {
    let failed = Failed {
        words: "`pool_sum 421658007 1` printed nothing within 60 s and was stopped".into(),
        hang: Some(crate::probe::HangEvidence::new(
            Duration::from_millis(4),
            Duration::from_secs(60),
        )),
    };
    let f = cannot_time(failed, 421_658_007, None);
    assert_eq!(
        f.verdict,
        Verdict::Fail(Reason::Timeout {
            after: Duration::from_secs(60)
        })
    );
    assert_eq!(
        f.message,
        "cannot time a pool that hangs: `pool_sum 421658007 1` printed nothing within 60 s and \
         was stopped; it sat idle (4 ms of CPU in 60.0 s): a hang is usually a pipe whose write \
         end the parent never closed (its read never sees end-of-file), a `wait` for a worker \
         before reading that worker's pipe, or a worker that never exits (the sandbox could \
         not see what its processes were blocked on here)"
    );
    assert!(!f.message.contains("TimedOut"));
    let wrong = cannot_time(
        Failed {
            words: "`pool_sum 10 1` exited with status 1".into(),
            hang: None,
        },
        10,
        None,
    );
    assert!(!wrong.verdict.passed());
    assert!(wrong
        .message
        .ends_with("wrong result: `pool_sum 10 1` exited with status 1"));
}

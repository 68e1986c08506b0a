//! The late policy's outcome in words, shared by the reports that show it (human, HTML,
//! Gradescope): when the submission was handed in, per which source, and what it cost.

use super::points;
use crate::deadline::{duration_words, percent, Late};

/// One sentence: `Handed in 2 hours late (Wednesday 2 December 2026, 00:00 (UTC-05:00), per
/// the last git commit): a 10% late penalty, 18 → 16.2 / 20 points.` `scores` (the score
/// before the penalty, and the maximum) are left out where the total must not show yet.
pub(super) fn sentence(late: &Late, scores: Option<(f64, f64)>) -> String {
    let when = format!(
        "{}, per {}",
        late.submitted_at().describe(),
        late.submitted.source.describe()
    );
    let sentence = outcome(late, scores, &when);
    match &late.extended_to {
        // `Extended to 2026-12-03 22:00 EST, handed in on time (…).`
        Some(to) => {
            let mut chars = sentence.chars();
            let first = chars.next().map(|c| c.to_ascii_lowercase());
            format!(
                "Extended to {}, {}{}",
                to.short(),
                first.unwrap_or_default(),
                chars.as_str()
            )
        }
        None => sentence,
    }
}

/// [`sentence`] without the extension.
fn outcome(late: &Late, scores: Option<(f64, f64)>, when: &str) -> String {
    if !late.is_late() {
        return format!("Handed in on time ({when}).");
    }
    let by = duration_words(late.late_by);
    if late.within_grace {
        format!("Handed in {by} late ({when}), within the grace period: no penalty.")
    } else if late.penalty_fraction == 0.0 {
        format!("Handed in {by} late ({when}): no penalty under this lab's late policy.")
    } else {
        let cost = match scores {
            Some((raw, max)) => format!(
                ", {} → {} / {} points",
                points(raw),
                points(late.penalised(raw)),
                points(max)
            ),
            None => " on the score".to_string(),
        };
        format!(
            "Handed in {by} late ({when}): a {} late penalty{cost}.",
            percent(late.penalty_fraction)
        )
    }
}

/// Notes on the better time sources that were present but unusable, one per line.
pub(super) fn skipped_notes(late: &Late) -> Vec<String> {
    late.submitted
        .skipped
        .iter()
        .map(|s| format!("submission time: not from {s}"))
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::datetime::ZonedTime;
    use crate::deadline::{assess, Submitted, TimeSource};
    use crate::spec::{Deadline, LatePenalty, LatePeriod};

    /// `alice` handed in `late_s` seconds after a 10%-per-day deadline with 15 minutes' grace.
    pub fn late(late_s: i64) -> Late {
        let due = ZonedTime::parse("2026-12-01T22:00:00-05:00").unwrap();
        let deadline = Deadline {
            due,
            grace: Duration::from_secs(900),
            penalty: LatePenalty::Rate {
                fraction: 0.1,
                per: LatePeriod::Day,
                max: 0.5,
            },
        };
        let mut at = due.at;
        at.unix_ms += late_s * 1000;
        assess(
            &deadline,
            Submitted {
                at: at.at_offset(0),
                source: TimeSource::Git,
                skipped: vec!["submission_metadata.json: no `created_at` field".to_string()],
            },
        )
    }

    #[test]
    fn an_extension_is_said_first_and_lateness_counts_from_it() {
        let due = ZonedTime::parse("2026-12-01T22:00[America/New_York]").unwrap();
        let deadline = Deadline {
            due,
            grace: Duration::ZERO,
            penalty: LatePenalty::Flat { fraction: 0.2 },
        };
        let extension = ZonedTime::parse("2026-12-03T22:00[America/New_York]").unwrap();
        let at = |utc: &str| Submitted {
            at: ZonedTime::parse(utc).unwrap(),
            source: TimeSource::Gradescope,
            skipped: vec![],
        };
        let on_time = crate::deadline::assess_extended(
            &deadline,
            Some(extension),
            at("2026-12-03T12:00:00Z"),
        );
        assert_eq!(
            sentence(&on_time, Some((18.0, 20.0))),
            "Extended to 2026-12-03 22:00 EST, handed in on time (Thursday 3 December 2026, \
             07:00 EST (America/New_York), per Gradescope's submission time, which students \
             cannot set)."
        );
        let late = crate::deadline::assess_extended(
            &deadline,
            Some(extension),
            at("2026-12-04T04:00:00Z"),
        );
        assert_eq!(
            sentence(&late, Some((18.0, 20.0))),
            "Extended to 2026-12-03 22:00 EST, handed in 1 hour late (Thursday 3 December 2026, \
             23:00 EST (America/New_York), per Gradescope's submission time, which students \
             cannot set): a 20% late penalty, 18 → 14.4 / 20 points."
        );
    }

    #[test]
    fn the_sentence_says_when_per_what_and_what_it_cost() {
        assert_eq!(
            sentence(&late(2 * 3600), Some((18.0, 20.0))),
            "Handed in 2 hours late (Wednesday 2 December 2026, 00:00 (UTC-05:00), per the last \
             git commit, whose date the student sets): a 10% late penalty, 18 → 16.2 / 20 points."
        );
        assert_eq!(
            sentence(&late(-60), Some((18.0, 20.0))),
            "Handed in on time (Tuesday 1 December 2026, 21:59 (UTC-05:00), per the last git \
             commit, whose date the student sets)."
        );
        assert!(sentence(&late(600), None)
            .ends_with("late (Tuesday 1 December 2026, 22:10 (UTC-05:00), per the last git commit, whose date the student sets), within the grace period: no penalty."));
        assert!(sentence(&late(2 * 3600), None).ends_with(": a 10% late penalty on the score."));
        assert_eq!(
            skipped_notes(&late(0)),
            ["submission time: not from submission_metadata.json: no `created_at` field"]
        );
    }
}

//! What the grader saw behind a verdict: one variant per kind of test, each with the fields
//! that kind records, so a race's histogram cannot sit on a build and a report cannot look for
//! a speedup curve on an output test.
//!
//! The JSON (CONTRACT §3 `evidence`) is the same object it always was: each variant writes its
//! fields flat, absent ones left out, and a test that recorded nothing writes `{}`.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::{AuditEvidence, HangEvidence, RaceEvidence, SpeedupCurve, SpeedupEvidence, TimeLimit};

/// The evidence of one result line.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Evidence {
    /// Nothing was recorded: a test that was not run, a build that passed.
    #[default]
    None,
    /// A build that failed: the compiler's rendered errors (JSON `stderr`).
    Build { compiler_output: String },
    /// An `output` test: its one run.
    Output(RunEvidence),
    /// A `processes` test: its run and the process audit.
    Processes(ProcessesEvidence),
    /// A `speedup` test: the measurement behind the verdict.
    Speedup(SpeedupProbeEvidence),
    /// A `race` test: the repeated runs behind the verdict.
    Race(RaceProbeEvidence),
}

/// One run of a student's program as results show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunEvidence {
    /// The command as a student would type it (`pool_sum 10 3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    /// How it ended, in words (`exit status 0`, `killed by SIGSEGV`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// The start of stdout, lossily decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// The start of stderr, lossily decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// A run stopped at its time limit: whether it sat idle or kept the CPU busy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hang: Option<HangEvidence>,
    /// A limit derived from the reference's time on the same input
    /// (`timeout_from_reference`): the limit the run had and how it was derived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_limit: Option<TimeLimit>,
}

/// A `processes` test's evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProcessesEvidence {
    #[serde(flatten)]
    pub run: RunEvidence,
    /// The process audit of the run (processes, threads, overlap, leftovers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<AuditEvidence>,
    /// Why the verdict could not be decided on this machine (reported as the result's
    /// top-level `inconclusive`; the verdict is then the spec's policy).
    #[serde(skip)]
    pub inconclusive: Option<String>,
}

/// A `speedup` test's evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpeedupProbeEvidence {
    /// The timed command, and the hang when the pool could not be timed.
    #[serde(flatten)]
    pub run: RunEvidence,
    /// The measured curve, drawn by the reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup_curve: Option<SpeedupCurve>,
    /// The timings, ratios and intervals behind the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup: Option<SpeedupEvidence>,
    /// Why the verdict could not be decided on this machine.
    #[serde(skip)]
    pub inconclusive: Option<String>,
}

/// A `race` test's evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RaceProbeEvidence {
    /// The decisive run's command (else the first condition's), the probe's wall time, and
    /// the output of a run that printed no number.
    #[serde(flatten)]
    pub run: RunEvidence,
    /// How many runs were made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<u32>,
    /// Each value printed and how many runs printed it (of the decisive condition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values_seen: Option<BTreeMap<String, u32>>,
    /// The value a correct program prints (`P*K`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// The conditions of the runs, the decisive run, the updates lost, the calibration and
    /// the hints from the source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub race: Option<RaceEvidence>,
}

impl Evidence {
    /// The run behind the verdict, for the kinds that have one.
    pub fn run(&self) -> Option<&RunEvidence> {
        match self {
            Evidence::None | Evidence::Build { .. } => None,
            Evidence::Output(run) => Some(run),
            Evidence::Processes(p) => Some(&p.run),
            Evidence::Speedup(s) => Some(&s.run),
            Evidence::Race(r) => Some(&r.run),
        }
    }

    /// The run behind the verdict, to fill in.
    pub fn run_mut(&mut self) -> Option<&mut RunEvidence> {
        match self {
            Evidence::None | Evidence::Build { .. } => None,
            Evidence::Output(run) => Some(run),
            Evidence::Processes(p) => Some(&mut p.run),
            Evidence::Speedup(s) => Some(&mut s.run),
            Evidence::Race(r) => Some(&mut r.run),
        }
    }

    /// The command as a student would type it.
    pub fn command(&self) -> Option<&str> {
        self.run()?.command.as_deref()
    }

    /// The start of the program's stdout.
    pub fn stdout(&self) -> Option<&str> {
        self.run()?.stdout.as_deref()
    }

    /// The start of the program's stderr, or a failed build's compiler errors.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            Evidence::Build { compiler_output } => Some(compiler_output),
            other => other.run()?.stderr.as_deref(),
        }
    }

    /// The hang of a run stopped at its time limit.
    pub fn hang(&self) -> Option<HangEvidence> {
        self.run()?.hang
    }

    /// Why the verdict could not be decided on this machine, when it could not.
    pub fn inconclusive(&self) -> Option<&str> {
        match self {
            Evidence::Processes(p) => p.inconclusive.as_deref(),
            Evidence::Speedup(s) => s.inconclusive.as_deref(),
            _ => None,
        }
    }

    /// The race probe's evidence, for a race test.
    pub fn race(&self) -> Option<&RaceProbeEvidence> {
        match self {
            Evidence::Race(r) => Some(r),
            _ => None,
        }
    }

    /// The speedup probe's evidence, for a speedup test.
    pub fn speedup(&self) -> Option<&SpeedupProbeEvidence> {
        match self {
            Evidence::Speedup(s) => Some(s),
            _ => None,
        }
    }
}

impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// `{"stderr": …}`: a failed build's field, under the name results always used.
        #[derive(Serialize)]
        struct Build<'a> {
            stderr: &'a str,
        }
        match self {
            Evidence::None => {
                use serde::ser::SerializeMap;
                s.serialize_map(Some(0))?.end()
            }
            Evidence::Build { compiler_output } => Build {
                stderr: compiler_output,
            }
            .serialize(s),
            Evidence::Output(run) => run.serialize(s),
            Evidence::Processes(p) => p.serialize(s),
            Evidence::Speedup(sp) => sp.serialize(s),
            Evidence::Race(r) => r.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(e: &Evidence) -> String {
        serde_json::to_string(e).unwrap()
    }

    #[test]
    fn the_json_is_the_flat_object_of_contract_section_3() {
        assert_eq!(json(&Evidence::None), "{}");
        assert_eq!(
            json(&Evidence::Build {
                compiler_output: "error[E0425]".into()
            }),
            r#"{"stderr":"error[E0425]"}"#
        );
        let run = RunEvidence {
            command: Some("pool_sum 10 3".into()),
            wall_ms: Some(3),
            exit: Some("exit status 0".into()),
            ..RunEvidence::default()
        };
        assert_eq!(
            json(&Evidence::Output(run.clone())),
            r#"{"command":"pool_sum 10 3","wall_ms":3,"exit":"exit status 0"}"#
        );
        let race = Evidence::Race(RaceProbeEvidence {
            run,
            runs: Some(2),
            values_seen: Some([("4000".to_string(), 2)].into()),
            expected: Some("4000".into()),
            race: None,
        });
        assert_eq!(
            json(&race),
            r#"{"command":"pool_sum 10 3","wall_ms":3,"exit":"exit status 0","runs":2,"values_seen":{"4000":2},"expected":"4000"}"#
        );
    }

    #[test]
    fn inconclusive_is_never_in_the_evidence_object() {
        let p = Evidence::Processes(ProcessesEvidence {
            inconclusive: Some("no audit here".into()),
            ..ProcessesEvidence::default()
        });
        assert_eq!(p.inconclusive(), Some("no audit here"));
        assert_eq!(json(&p), "{}");
    }

    #[test]
    fn the_accessors_read_each_kind_and_nothing_from_the_others() {
        let build = Evidence::Build {
            compiler_output: "E0425".into(),
        };
        assert_eq!(build.stderr(), Some("E0425"));
        assert_eq!(build.command(), None);
        let speedup = Evidence::Speedup(SpeedupProbeEvidence {
            run: RunEvidence {
                command: Some("pool_sum 100 2".into()),
                ..RunEvidence::default()
            },
            ..SpeedupProbeEvidence::default()
        });
        assert_eq!(speedup.command(), Some("pool_sum 100 2"));
        assert!(speedup.race().is_none() && speedup.speedup().is_some());
        assert_eq!(Evidence::None.stdout(), None);
    }
}

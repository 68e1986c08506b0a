//! The bench's tables (markdown, ready for the README): per workload, each candidate's median
//! wall time, its overhead against bare (median of the per-round differences) and what it
//! counted against the truth; then the overheads side by side.

use std::time::Duration;

use super::workload::Workload;
use super::{Candidate, Observation};

/// Every run of one workload, per candidate (in the order given to [`Samples::new`]).
pub struct Samples {
    candidates: Vec<Candidate>,
    walls: Vec<Vec<Duration>>,
    observations: Vec<Vec<Observation>>,
}

impl Samples {
    pub fn new(candidates: &[Candidate]) -> Self {
        Samples {
            candidates: candidates.to_vec(),
            walls: vec![Vec::new(); candidates.len()],
            observations: vec![Vec::new(); candidates.len()],
        }
    }

    pub fn push(&mut self, candidate: usize, wall: Duration, observation: Observation) {
        self.walls[candidate].push(wall);
        self.observations[candidate].push(observation);
    }

    fn median_ms(&self, candidate: usize) -> f64 {
        median(self.walls[candidate].iter().map(|d| d.as_secs_f64() * 1e3))
    }

    /// The median of the per-round differences with bare (the runs are interleaved, so a
    /// round's two runs met the same load): steadier than a difference of medians.
    fn extra_ms(&self, candidate: usize) -> Option<f64> {
        self.paired_ms(self.candidates[candidate], Candidate::Bare)
    }

    /// Median over rounds of `a`'s wall minus `b`'s, when both ran (and are not the same).
    fn paired_ms(&self, a: Candidate, b: Candidate) -> Option<f64> {
        let index = |c| self.candidates.iter().position(|&x| x == c);
        let (a, b) = (index(a)?, index(b)?);
        if a == b {
            return None;
        }
        let pairs = self.walls[a].iter().zip(&self.walls[b]);
        Some(median(
            pairs.map(|(x, y)| (x.as_secs_f64() - y.as_secs_f64()) * 1e3),
        ))
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn overhead(extra: Option<f64>) -> String {
    extra.map(|e| format!("{e:+.2} ms")).unwrap_or_default()
}

/// A count against its true value: `8 (100/100 exact)`, with the range when it varied.
fn count(values: &[Option<u32>], truth: Option<u32>) -> String {
    let v: Vec<u32> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return "-".into();
    }
    let mut sorted = v.clone();
    sorted.sort_unstable();
    let (lo, mid, hi) = (
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
    );
    let range = if lo == hi {
        String::new()
    } else {
        format!(" [{lo}-{hi}]")
    };
    match truth {
        Some(t) => {
            let exact = v.iter().filter(|&&x| x == t).count();
            format!("{mid}{range} ({exact}/{} exact)", v.len())
        }
        None => format!("{mid}{range}"),
    }
}

/// Most alive at once: median and range, and in how many runs the audit saw two processes
/// at once (what the processes probe asks of a pool) when the workload has them.
fn alive(values: &[Option<u32>], truth: &str) -> String {
    let text = count(values, None);
    let at_most: u32 = truth.trim_start_matches("<=").parse().unwrap_or(0);
    let v: Vec<u32> = values.iter().flatten().copied().collect();
    if at_most < 2 || v.is_empty() {
        return text;
    }
    let two = v.iter().filter(|&&n| n >= 2).count();
    format!("{text}, >=2 in {two}/{}", v.len())
}

fn leak(values: &[Option<u32>]) -> String {
    let v: Vec<u32> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return "-".into();
    }
    format!("{}/{}", v.iter().filter(|&&n| n > 0).count(), v.len())
}

fn cpu_ms(values: &[Observation], which: fn(&Observation) -> Option<Duration>) -> String {
    let ms: Vec<f64> = values
        .iter()
        .filter_map(which)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    if ms.is_empty() {
        return "-".into();
    }
    format!("{:.1}", median(ms.into_iter()))
}

pub fn print_workload(w: &Workload, s: &Samples) {
    let t = w.truth;
    println!(
        "\n### {}\ntruth: {} worker processes, {} threads, at most {} alive at once, leak: {}\n",
        w.label,
        t.workers,
        t.threads,
        t.max_alive,
        if t.leak { "yes" } else { "no" }
    );
    println!("| candidate | ms per run | extra vs bare | workers | threads | max alive | leak seen | tree CPU ms | grader CPU ms |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (i, c) in s.candidates.iter().enumerate() {
        let obs = &s.observations[i];
        let field = |f: fn(&Observation) -> Option<u32>| obs.iter().map(f).collect::<Vec<_>>();
        let ms = s.median_ms(i);
        println!(
            "| {} | {ms:.2} | {} | {} | {} | {} | {} | {} | {} |",
            c.label(),
            overhead(s.extra_ms(i)),
            count(&field(|o| o.workers), Some(t.workers)),
            count(&field(|o| o.threads), Some(t.threads)),
            alive(&field(|o| o.max_alive), t.max_alive),
            leak(&field(|o| o.leaked)),
            cpu_ms(obs, |o| o.cpu),
            cpu_ms(obs, |o| Some(o.grader_cpu)),
        );
    }
}

/// One line per candidate: its extra milliseconds per run on each workload.
pub fn print_overheads(results: &[(Workload, Samples)]) {
    let Some((_, first)) = results.first() else {
        return;
    };
    println!("\n### Median ms per run (extra over bare)\n");
    let heads: Vec<&str> = results.iter().map(|(w, _)| w.mode).collect();
    println!("| candidate | {} |", heads.join(" | "));
    println!("|---|{}", "---|".repeat(heads.len()));
    for (i, c) in first.candidates.iter().enumerate() {
        let cells: Vec<String> = results
            .iter()
            .map(|(_, s)| {
                let ms = s.median_ms(i);
                match s.extra_ms(i) {
                    Some(extra) => format!("{ms:.2} ({extra:+.2})"),
                    None => format!("{ms:.2}"),
                }
            })
            .collect();
        println!("| {} | {} |", c.label(), cells.join(" | "));
    }
    let share: Vec<String> = results
        .iter()
        .map(|(_, s)| {
            s.paired_ms(Candidate::PidNamespace, Candidate::SandboxNoAudit)
                .map(|d| format!("{d:+.2}"))
                .unwrap_or_else(|| "-".into())
        })
        .collect();
    println!(
        "| the audit's share: `Full` - `Build` (also `nobody` + seccomp) | {} |",
        share.join(" | ")
    );
}

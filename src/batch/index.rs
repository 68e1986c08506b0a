//! The batch's overview page (`RESULTS_DIR/index.html`): the score histogram as inline SVG,
//! every submission with its score (after any late penalty) and a link to its own page, the
//! pass rate of every test, and what the class got wrong ([`super::class`]).
//!
//! Built from the result records alone, like `gradebook.csv` and `summary.md`, so `batch`,
//! a resumed batch and `merge` write the same page. Self-contained like the submission pages:
//! inline CSS and SVG, no scripts, a CSP that forbids every fetch; the only links are to the
//! submissions' pages beside it, by relative, percent-encoded file names. Submission names and
//! every text from the results are escaped.

use std::fmt::Write;

use super::record::Record;
use super::summary::{self, TestRate};
use super::{Entry, Row};
use crate::deadline::{duration_words, percent};
use crate::points::text as points;
use crate::report::html::{meter, STYLE};
use crate::report::markup::{attr, text};
use crate::report::plot;

/// The overview's own rules, after the submission pages' style sheet.
const INDEX_STYLE: &str = "
.roster td.name { overflow-wrap: anywhere; }
.roster td.pts, .rates td.pts { white-space: nowrap; width: 96px; }
.roster td.wide, .rates td.wide { width: 200px; }
.roster tr.error td, .roster td.penalised { color: var(--bad); }
.rates td.pct { width: 56px; text-align: right; white-space: nowrap; }
section { margin-top: 24px; }
";

/// The page for `rows` (in name order); `page_of(name)` is the file name of that submission's
/// own page when it exists.
pub fn batch_index(rows: &[Row], page_of: &dyn Fn(&str) -> Option<String>) -> String {
    let graded: Vec<&Record> = crate::batch::results::graded(rows);
    let lab = graded
        .iter()
        .find_map(|r| r.lab.clone())
        .unwrap_or_else(|| "batch".to_string());
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n\
         <title>{}</title>\n<style>\n{STYLE}{INDEX_STYLE}</style>\n</head>\n<body>\n",
        text(&format!("labgrade: {lab}, {} submissions", rows.len()))
    );
    header(&mut out, &lab, rows, &graded);
    scores(&mut out, &graded);
    roster(&mut out, rows, page_of);
    rates(&mut out, &summary::test_rates(&graded));
    super::class::section(&mut out, &graded);
    let _ = writeln!(
        out,
        "<footer>Written by labgrade {} from the result files beside this page; \
         <code>gradebook.csv</code> and <code>summary.md</code> hold the same numbers.</footer>\n\
         </body>\n</html>",
        crate::version::VERSION
    );
    out
}

fn header(out: &mut String, lab: &str, rows: &[Row], graded: &[&Record]) {
    let (scores, max) = summary::scores_and_max(graded);
    let errors = rows.len() - graded.len();
    let _ = write!(
        out,
        "<header>\n<h1>Batch results</h1>\n<p class=\"lab\">{} · {}: {} graded{}</p>\n",
        text(lab),
        crate::words::counted(rows.len(), "submission"),
        graded.len(),
        if errors > 0 {
            format!(", {errors} could not be graded")
        } else {
            String::new()
        }
    );
    if !scores.is_empty() {
        let full = scores.iter().filter(|&&s| points(s) == points(max)).count();
        let late: Vec<&&Record> = graded
            .iter()
            .filter(|r| r.late.as_ref().is_some_and(|l| l.late_by_s > 0))
            .collect();
        let penalised = late.iter().filter(|r| r.late_penalty() > 0.0).count();
        let late = if graded.iter().any(|r| r.late.is_some()) {
            format!(" · late: {} ({penalised} with a penalty)", late.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<p class=\"facts\">Mean {} / {}, median {}, full marks: {full}{late}</p>",
            two_decimals(summary::mean(&scores)),
            points(max),
            two_decimals(summary::median(&scores)),
        );
    }
    out.push_str("</header>\n");
}

fn scores(out: &mut String, graded: &[&Record]) {
    let (scores, max) = summary::scores_and_max(graded);
    if scores.is_empty() {
        out.push_str(
            "<section>\n<h2>Scores</h2>\n<p class=\"note\">No graded submission.</p>\n</section>\n",
        );
        return;
    }
    let counts = summary::histogram(&scores, max, summary::BINS);
    let labels = summary::bin_labels(counts.len(), max);
    let _ = write!(
        out,
        "<section>\n<h2>Scores</h2>\n<figure>{}<figcaption>Scores of the {}, \
         after late penalties, in ranges of the {} points.</figcaption></figure>\n</section>\n",
        plot::score_histogram(&counts, &labels),
        crate::words::count(scores.len(), "graded submission", "graded submissions"),
        points(max)
    );
}

fn roster(out: &mut String, rows: &[Row], page_of: &dyn Fn(&str) -> Option<String>) {
    let with_late = rows
        .iter()
        .any(|r| matches!(&r.entry, Entry::Graded(r) if r.late.is_some()));
    let _ = write!(
        out,
        "<section>\n<h2>Submissions</h2>\n<table class=\"roster\">\n<thead><tr><th>Submission</th>\
         <th>Score</th><th></th><th>Tests passed</th>{}</tr></thead>\n<tbody>\n",
        if with_late { "<th>Late</th>" } else { "" }
    );
    for row in rows {
        let name = match page_of(&row.name) {
            Some(page) => format!("<a href=\"{}\">{}</a>", attr(&href(&page)), text(&row.name)),
            None => text(&row.name),
        };
        match &row.entry {
            Entry::Graded(r) => {
                let class = if r.passed() == r.tests.len() {
                    "pass"
                } else {
                    "fail"
                };
                let _ = write!(
                    out,
                    "<tr class=\"{class}\"><td class=\"name\">{name}</td><td class=\"pts\">{} / {}</td>\
                     <td class=\"wide\">{}</td><td>{} / {}</td>",
                    points(r.score),
                    points(r.max_score),
                    meter(r.score, r.max_score),
                    r.passed(),
                    r.tests.len()
                );
                if with_late {
                    let penalised = r.late_penalty() > 0.0;
                    let _ = write!(
                        out,
                        "<td{}>{}</td>",
                        if penalised {
                            " class=\"penalised\""
                        } else {
                            ""
                        },
                        text(&lateness(r))
                    );
                }
                out.push_str("</tr>\n");
            }
            Entry::Error(why) => {
                let _ = writeln!(
                    out,
                    "<tr class=\"error\"><td class=\"name\">{name}</td><td colspan=\"{}\">could not be \
                     graded: {}</td></tr>",
                    if with_late { 4 } else { 3 },
                    text(why)
                );
            }
        }
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// `2 hours late, −10%`, `10 minutes late, grace period`, `on time`.
fn lateness(r: &Record) -> String {
    let Some(l) = &r.late else {
        return String::new();
    };
    if l.late_by_s == 0 {
        return "on time".to_string();
    }
    let by = duration_words(std::time::Duration::from_secs(l.late_by_s));
    if l.within_grace {
        format!("{by} late, grace period")
    } else if l.penalty_fraction > 0.0 {
        format!("{by} late, −{}", percent(l.penalty_fraction))
    } else {
        format!("{by} late")
    }
}

fn rates(out: &mut String, tests: &[TestRate<'_>]) {
    out.push_str(
        "<section>\n<h2>Pass rate of every test</h2>\n<table class=\"rates\">\n<thead><tr>\
         <th>Exercise</th><th>Test</th><th>Passed</th><th></th><th></th></tr></thead>\n<tbody>\n",
    );
    for t in tests {
        let rate = t.passed as f64 / t.total.max(1) as f64;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><span class=\"tag\">{}</span> {}</td><td class=\"pts\">{} / {}</td>\
             <td class=\"wide\">{}</td><td class=\"pct\">{:.0}%</td></tr>",
            text(t.exercise),
            text(t.kind),
            text(t.name),
            t.passed,
            t.total,
            meter(t.passed as f64, t.total as f64),
            100.0 * rate
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// A mean for people: `6.86`, `7`.
fn two_decimals(x: f64) -> String {
    points((x * 100.0).round() / 100.0)
}

/// A file name as a relative URL: every byte but letters, digits and `-._~` percent-encoded,
/// so a name with `#`, `?`, `%`, spaces or non-ASCII letters still names its file.
pub fn href(file: &str) -> String {
    let mut out = String::with_capacity(file.len());
    for b in file.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests;

//! The overview page's section "What the class got wrong" (`index.html`): per exercise how
//! many submissions failed it, the most failed tests, and the failure reasons ranked, each with
//! what to explain and the submissions that hit it (by name: the roster above links their
//! pages). The numbers are [`crate::batch::analytics`]'s, the ones `summary.md` shows.

use std::fmt::Write;

use super::analytics;
use super::record::Record;
use crate::report::html::meter;
use crate::report::markup::text;

/// Most failed tests shown.
const TESTS: usize = 10;

/// Appends the section to `out`; nothing when no test failed.
pub(super) fn section(out: &mut String, graded: &[&Record]) {
    let found = analytics::diagnoses(graded);
    if found.is_empty() {
        return;
    }
    out.push_str(
        "<section class=\"class\">\n<h2>What the class got wrong</h2>\n<table class=\"failing\">\n\
         <thead><tr><th>Exercise</th><th>Failed a test</th><th></th></tr></thead>\n<tbody>\n",
    );
    for e in analytics::exercises(graded) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"pts\">{} / {}</td><td class=\"wide\">{}</td></tr>",
            text(e.exercise),
            e.failed,
            e.total,
            meter(e.failed as f64, e.total as f64)
        );
    }
    out.push_str(
        "</tbody>\n</table>\n<h3>Most failed tests</h3>\n<table class=\"failing\">\n<thead><tr>\
         <th>Exercise</th><th>Test</th><th>Failed</th></tr></thead>\n<tbody>\n",
    );
    for t in analytics::failed_tests(graded).iter().take(TESTS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><span class=\"tag\">{}</span> {}</td><td class=\"pts\">{} / {}</td></tr>",
            text(t.exercise),
            text(t.kind),
            text(t.name),
            t.failed,
            t.total
        );
    }
    out.push_str("</tbody>\n</table>\n<h3>Failure reasons, the most common first</h3>\n<ol class=\"reasons\">\n");
    for d in &found {
        let _ = writeln!(
            out,
            "<li><code>{}</code>: {}, {}. {}<br/>\
             <span class=\"note\">{}</span></li>",
            text(d.code),
            crate::words::counted(d.submissions.len(), "submission"),
            crate::words::counted(d.tests, "test"),
            text(d.lesson),
            text(&analytics::names(&d.submissions))
        );
    }
    out.push_str("</ol>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::RecordTest;

    fn record(name: &str, reasons: &[Option<&str>]) -> Record {
        Record {
            submission: name.into(),
            lab: None,
            score: 0.0,
            max_score: 1.0,
            tests: reasons
                .iter()
                .enumerate()
                .map(|(i, reason)| RecordTest {
                    exercise: "counter".into(),
                    kind: "race".into(),
                    name: format!("t{i}"),
                    status: if reason.is_none() { "pass" } else { "fail" }.into(),
                    score: 0.0,
                    max_score: 1.0,
                    reason: reason.map(str::to_string),
                })
                .collect(),
            total_ms: 0,
            key: None,
            key_parts: None,
            previous: None,
            score_before_penalty: None,
            late: None,
            collection: None,
            phases: None,
        }
    }

    #[test]
    fn the_section_ranks_the_reasons_and_escapes_names() {
        let class = [
            record("<b>eve</b>", &[Some("lost_updates"), None]),
            record("bob", &[Some("lost_updates"), Some("no_race_observed")]),
            record("amy", &[None, None]),
        ];
        let graded: Vec<&Record> = class.iter().collect();
        let mut html = String::new();
        section(&mut html, &graded);
        let wrapped = format!("<div>{html}</div>");
        let doc = roxmltree::Document::parse(&wrapped).unwrap();
        let items: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("li"))
            .map(|n| {
                n.descendants()
                    .filter(|t| t.is_text())
                    .filter_map(|t| t.text())
                    .collect()
            })
            .collect();
        assert_eq!(items.len(), 2);
        assert!(
            items[0].starts_with("lost_updates: 2 submissions, 2 tests. The safe counter"),
            "{items:?}"
        );
        assert!(items[0].ends_with("<b>eve</b>, bob"), "{items:?}");
        assert!(items[1].starts_with("no_race_observed: 1 submission"));
        assert!(
            html.contains("<td>counter</td><td class=\"pts\">2 / 3</td>"),
            "{html}"
        );

        let mut none = String::new();
        section(&mut none, &[&class[2]]);
        assert!(none.is_empty());
    }
}

//! The overview page parsed as XML: its structure, links, escaping, and that it fetches nothing.

use super::*;
use crate::batch::record::{RecordLate, RecordTest};

fn record(name: &str, passed: &[bool], late: Option<(u64, f64)>) -> Row {
    let tests: Vec<RecordTest> = passed
        .iter()
        .enumerate()
        .map(|(i, &ok)| RecordTest {
            exercise: "pool-sum".into(),
            kind: "output".into(),
            name: format!("n={i} p=2"),
            status: if ok { "pass" } else { "fail" }.into(),
            score: if ok { 5.0 } else { 0.0 },
            max_score: 5.0,
            reason: (!ok).then(|| "wrong_output".into()),
        })
        .collect();
    let raw: f64 = tests.iter().map(|t| t.score).sum();
    let score = late.map_or(raw, |(_, f)| raw * (1.0 - f));
    Row {
        name: name.into(),
        entry: Entry::Graded(Box::new(Record {
            submission: name.into(),
            lab: Some("lab10".into()),
            score,
            max_score: 5.0 * passed.len() as f64,
            tests,
            total_ms: 0,
            key: None,
            key_parts: None,
            previous: None,
            score_before_penalty: late.map(|_| raw),
            late: late.map(|(late_by_s, penalty_fraction)| RecordLate {
                submitted_at: "2026-12-02T00:00:00-05:00".into(),
                source: "git".into(),
                late_by_s,
                within_grace: false,
                penalty_fraction,
                extended_to: None,
            }),
            collection: None,
            phases: None,
        })),
    }
}

fn parse(html: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(html, opts)
        .unwrap_or_else(|e| panic!("not well-formed ({e}):\n{html}"))
}

fn texts(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn rows() -> Vec<Row> {
    vec![
        record("alice", &[true, true], None),
        record("bob <b>&amp;", &[true, false], Some((7200, 0.1))),
        Row {
            name: "carol".into(),
            entry: Entry::Error("cargo vanished <again>".into()),
        },
        record("d#1 ?x%", &[false, false], Some((0, 0.0))),
    ]
}

/// Every submission but carol has a page.
fn pages(name: &str) -> Option<String> {
    (name != "carol").then(|| format!("{name}.html"))
}

#[test]
fn the_page_lists_every_submission_with_score_link_and_lateness() {
    let html = batch_index(&rows(), &pages);
    let doc = parse(&html);
    let roster: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("table") && n.attribute("class") == Some("roster"))
        .flat_map(|t| t.descendants().filter(|n| n.has_tag_name("tr")).skip(1))
        .map(|tr| {
            tr.children()
                .filter(|c| c.has_tag_name("td"))
                .map(texts)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    assert_eq!(
        roster,
        [
            "alice | 10 / 10 |  | 2 / 2 | ",
            "bob <b>&amp; | 4.5 / 10 |  | 1 / 2 | 2 hours late, −10%",
            "carol | could not be graded: cargo vanished <again>",
            "d#1 ?x% | 0 / 10 |  | 0 / 2 | on time",
        ]
    );
    let links: Vec<(&str, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("a"))
        .map(|a| (a.attribute("href").unwrap(), texts(a)))
        .collect();
    assert_eq!(
        links,
        [
            ("alice.html", "alice".to_string()),
            ("bob%20%3Cb%3E%26amp%3B.html", "bob <b>&amp;".to_string()),
            ("d%231%20%3Fx%25.html", "d#1 ?x%".to_string()),
        ]
    );
    let facts = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("facts"))
        .map(texts)
        .unwrap();
    assert_eq!(
        facts,
        "Mean 4.83 / 10, median 4.5, full marks: 1 · late: 1 (1 with a penalty)"
    );
    assert!(texts(doc.root()).contains("lab10 · 4 submissions: 3 graded, 1 could not be graded"));
}

#[test]
fn the_histogram_and_pass_rates_are_drawn() {
    let html = batch_index(&rows(), &pages);
    let doc = parse(&html);
    let svg = doc
        .descendants()
        .find(|n| n.has_tag_name("svg"))
        .expect("a histogram");
    assert_eq!(svg.attribute("aria-label"), Some("Scores of 3 submissions"));
    let bars: Vec<&str> = svg
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter_map(|r| r.children().find(|c| c.has_tag_name("title")))
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(bars.len(), 10);
    assert_eq!(bars[0], "0 – <1: 1 submission");
    assert_eq!(bars[4], "4 – <5: 1 submission");
    assert_eq!(bars[9], "9 – 10: 1 submission");
    let rates: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("table") && n.attribute("class") == Some("rates"))
        .flat_map(|t| t.descendants().filter(|n| n.has_tag_name("tr")).skip(1))
        .map(texts)
        .collect();
    assert_eq!(
        rates,
        [
            "pool-sumoutput n=0 p=22 / 367%",
            "pool-sumoutput n=1 p=21 / 333%"
        ]
    );
}

#[test]
fn nothing_is_fetched_or_run_and_links_stay_beside_the_page() {
    let mut rows = rows();
    rows.push(record("<script>alert(1)</script>", &[true], None));
    rows.push(record("javascript:alert(1)", &[true], None));
    let html = batch_index(&rows, &pages);
    let doc = parse(&html);
    for node in doc.descendants().filter(|n| n.is_element()) {
        let tag = node.tag_name().name();
        assert!(
            !["script", "img", "iframe", "link", "object", "embed", "base", "form", "use"]
                .contains(&tag),
            "element <{tag}> in the page"
        );
        for a in node.attributes() {
            let name = a.name().to_ascii_lowercase();
            assert!(
                !name.starts_with("on") && name != "src",
                "{name} on <{tag}>"
            );
            if name == "href" {
                let v = a.value();
                assert!(
                    tag == "a"
                        && !v.contains(':')
                        && !v.contains('/')
                        && (v.ends_with(".html") || v.ends_with(".htm")),
                    "href {v:?}"
                );
            }
        }
    }
    assert!(html.contains("default-src 'none'"));
    assert!(html.contains("javascript%3Aalert%281%29.html"));
}

#[test]
fn without_deadlines_or_graded_submissions_the_page_still_reads() {
    let plain = vec![record("alice", &[true], None)];
    let html = batch_index(&plain, &|_| None);
    let doc = parse(&html);
    assert!(!html.contains("<th>Late</th>") && !html.contains("late:"));
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("a")).count(), 0);
    let none = vec![Row {
        name: "x".into(),
        entry: Entry::Error("boom".into()),
    }];
    let html = batch_index(&none, &|_| None);
    parse(&html);
    assert!(html.contains("No graded submission."));
}

#[test]
fn file_names_become_relative_urls() {
    assert_eq!(href("alice.html"), "alice.html");
    assert_eq!(href("a b#c?d%e:f/g.html"), "a%20b%23c%3Fd%25e%3Af%2Fg.html");
    assert_eq!(href("é.html"), "%C3%A9.html");
}

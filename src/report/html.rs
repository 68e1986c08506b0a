//! HTML: one self-contained page per submission, for staff (hidden tests are kept and marked):
//! the score, each exercise's tests with status, message and evidence, the race probe's values
//! as a histogram and, when the result carries one, the speedup curve.
//!
//! Self-contained means no scripts and nothing fetched: the CSS is inline, the plots are inline
//! SVG, and a Content-Security-Policy forbids every fetch in case some text ever slipped
//! through unescaped. Everything a student's program printed goes through [`super::markup`].
//! The page is also well-formed XML, so tests can parse it.

use std::fmt::Write;

use super::markup::text;
use super::{late, plot, points, ReportOptions};
use crate::deadline::Late;
use crate::verdict::{GradeResult, ResultKind, TestResult};

use super::junit::evidence_text;

/// The style sheet of every HTML page (a submission's and the batch overview).
pub(crate) const STYLE: &str = include_str!("html.css");

/// The page; `opts.late` puts the late policy's outcome under the score (which is then the
/// penalised one), and `opts.index` links back to a batch's overview page.
pub(super) fn render(result: &GradeResult, opts: &ReportOptions) -> String {
    let mut out = String::new();
    let title = format!("labgrade: {} ({})", result.submission, result.lab);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        text(&title)
    );
    if let Some(index) = &opts.index {
        let _ = writeln!(
            out,
            "<nav><a href=\"{}\">← All submissions</a></nav>",
            text(index)
        );
    }
    header(&mut out, result, opts.late.as_ref());
    let exercises = exercises(result);
    overview(&mut out, result, &exercises);
    for ex in exercises {
        let tests: Vec<&TestResult> = result.tests.iter().filter(|t| t.exercise == ex).collect();
        exercise(&mut out, ex, &tests);
    }
    let _ = writeln!(
        out,
        "<footer>Graded by labgrade {}. Tests marked <span class=\"tag hidden\">hidden</span> are \
         not shown to students by <code>labgrade check</code>.</footer>\n</body>\n</html>",
        crate::version::VERSION
    );
    out
}

fn header(out: &mut String, result: &GradeResult, late: Option<&Late>) {
    let (raw, max) = (result.score(), result.max_score());
    let score = late.map_or(raw, |l| l.penalised(raw));
    let passed = result.tests.iter().filter(|t| t.verdict.passed()).count();
    let _ = write!(
        out,
        "<header>\n<h1>{}</h1>\n<p class=\"lab\">{}</p>\n\
         <p class=\"total {}\"><span class=\"score\">{}</span> / {} points</p>\n{}\n{}\
         <p class=\"facts\">{passed} of {} tests passed · build {:.1} s · grading {:.1} s</p>\n",
        text(&result.submission),
        text(&result.lab),
        match score / max {
            _ if result.all_passed() && score == raw => "ok",
            r if r >= 0.5 => "partial",
            _ => "notok",
        },
        points(score),
        points(max),
        meter(score, max),
        late.map_or_else(String::new, |l| late_line(l, raw, max)),
        result.tests.len(),
        result.build_time.as_secs_f64(),
        result.total_time.as_secs_f64()
    );
    let notes = late.map(late::skipped_notes).unwrap_or_default();
    if !result.warnings.is_empty() || !notes.is_empty() {
        out.push_str("<ul class=\"warnings\">\n");
        for w in result.warnings.iter().chain(&notes) {
            let _ = writeln!(out, "<li>{}</li>", text(w));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</header>\n");
}

/// The late policy's outcome, under the score.
fn late_line(l: &Late, raw: f64, max: f64) -> String {
    let class = match l.penalty_fraction {
        f if f > 0.0 => "late penalised",
        _ if l.is_late() => "late",
        _ => "late on-time",
    };
    format!(
        "<p class=\"{class}\">{}</p>\n",
        text(&late::sentence(l, Some((raw, max))))
    )
}

/// A bar filled to `score / max`.
pub(crate) fn meter(score: f64, max: f64) -> String {
    let pct = if max > 0.0 {
        100.0 * score / max
    } else {
        100.0
    };
    format!("<div class=\"meter\"><div style=\"width: {pct:.1}%\"></div></div>")
}

fn overview(out: &mut String, result: &GradeResult, exercises: &[&str]) {
    out.push_str(
        "<table class=\"overview\">\n<thead><tr><th>Exercise</th><th>Tests passed</th>\
         <th>Points</th><th></th></tr></thead>\n<tbody>\n",
    );
    for ex in exercises {
        let tests: Vec<&TestResult> = result.tests.iter().filter(|t| t.exercise == *ex).collect();
        let (score, max) = scores(&tests);
        let passed = tests.iter().filter(|t| t.verdict.passed()).count();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{passed} / {}</td><td>{} / {}</td><td class=\"wide\">{}</td></tr>",
            text(ex),
            tests.len(),
            points(score),
            points(max),
            meter(score, max)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn exercise(out: &mut String, ex: &str, tests: &[&TestResult]) {
    let (score, max) = scores(tests);
    let passed = tests.iter().filter(|t| t.verdict.passed()).count();
    let _ = write!(
        out,
        "<section class=\"exercise\">\n<h2>{} <span class=\"sub\">{} / {} points · {passed} of {} \
         tests passed</span></h2>\n<table class=\"tests\">\n<thead><tr><th>Result</th><th>Test</th>\
         <th>Points</th><th>What happened</th></tr></thead>\n<tbody>\n",
        text(ex),
        points(score),
        points(max),
        tests.len()
    );
    // Failures first, as in the student's check: they are what a reader comes for.
    let (failing, passing): (Vec<&TestResult>, Vec<&TestResult>) =
        tests.iter().partition(|t| !t.verdict.passed());
    for (i, t) in failing.iter().chain(&passing).enumerate() {
        row(out, t, i == 0 && !t.verdict.passed());
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// One test; `open`: its evidence is shown without a click.
fn row(out: &mut String, t: &TestResult, open: bool) {
    let (class, label) = if t.verdict.passed() {
        ("pass", "PASS")
    } else {
        ("fail", "FAIL")
    };
    let hidden = if t.hidden {
        " <span class=\"tag hidden\" title=\"not shown to students\">hidden</span>"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<tr class=\"{class}\"><td><span class=\"badge {class}\">{label}</span></td>\
         <td><span class=\"tag\">{}</span> {}{hidden}</td><td class=\"pts\">{} / {}</td><td>",
        text(t.kind.name()),
        text(&t.name),
        points(t.score()),
        points(t.max_score),
    );
    let message = with_code(&text(&t.message));
    let evidence = evidence_text(t);
    if evidence.is_empty() {
        let _ = write!(out, "<p class=\"msg\">{message}</p>");
    } else {
        // The message opens the evidence, so a test takes one line; an exercise's first
        // failure is shown open (the others mostly repeat it).
        let _ = write!(
            out,
            "<details{}><summary class=\"msg\">{message}</summary><pre>{}</pre></details>",
            if open { " open=\"open\"" } else { "" },
            text(&evidence)
        );
    }
    plots(out, t);
    out.push_str("</td></tr>\n");
}

/// The race histogram and the speedup curve, when `t` carries their data.
fn plots(out: &mut String, t: &TestResult) {
    let e = &t.evidence;
    if let Some((race, values)) = e
        .race()
        .and_then(|r| r.values_seen.as_ref().map(|v| (r, v)))
    {
        if let Some(svg) = plot::race_histogram(values, race.expected.as_deref()) {
            let runs = race.runs.unwrap_or_else(|| values.values().sum());
            let _ = write!(
                out,
                "<figure>{svg}<figcaption>Values printed by {} in {}{}.</figcaption></figure>",
                e.command().map_or_else(
                    || "the program".to_string(),
                    |c| format!("<code>{}</code>", text(c))
                ),
                crate::words::counted(runs, "run"),
                race.expected
                    .as_deref()
                    .map_or_else(String::new, |x| format!(
                        "; {} (P×K) means no update was lost",
                        text(x)
                    ))
            );
        }
    }
    match e.speedup().and_then(|s| s.speedup_curve.as_ref()) {
        Some(curve) => {
            if let Some(svg) = plot::speedup_curve(curve) {
                let _ = write!(
                    out,
                    "<figure>{svg}<figcaption>Speedup over one worker, by number of workers.</figcaption></figure>"
                );
            }
        }
        None if t.kind == ResultKind::SPEEDUP => {
            out.push_str("<p class=\"note\">No speedup curve was recorded for this test.</p>");
        }
        None => {}
    }
}

/// Escaped text with its `backquoted` spans (commands, in the probes' messages) set as code.
/// Only tags are added, so escaping is kept; an unpaired backquote stays as it is.
fn with_code(escaped: &str) -> String {
    let parts: Vec<&str> = escaped.split('`').collect();
    if parts.len() < 3 || parts.len() % 2 == 0 {
        return escaped.to_string();
    }
    let mut out = String::with_capacity(escaped.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn scores(tests: &[&TestResult]) -> (f64, f64) {
    (
        tests.iter().map(|t| t.score()).sum(),
        tests.iter().map(|t| t.max_score).sum(),
    )
}

fn exercises(result: &GradeResult) -> Vec<&str> {
    super::exercises(&result.tests.iter().collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::junit::tests::sample;
    use crate::verdict::{Evidence, SpeedupCurve, SpeedupPoint, SpeedupProbeEvidence};

    fn parse(html: &str) -> roxmltree::Document<'_> {
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        roxmltree::Document::parse_with_options(html, opts)
            .unwrap_or_else(|e| panic!("not well-formed ({e}):\n{html}"))
    }

    fn rows<'a>(doc: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
        doc.descendants()
            .filter(|n| {
                n.has_tag_name("tr") && matches!(n.attribute("class"), Some("pass" | "fail"))
            })
            .collect()
    }

    #[test]
    fn every_test_is_shown_with_status_points_and_hidden_mark() {
        let html = render(&sample(), &ReportOptions::default());
        let doc = parse(&html);
        let rows = rows(&doc);
        let summary: Vec<(&str, String)> = rows
            .iter()
            .map(|r| {
                let cells: Vec<String> = r
                    .children()
                    .filter(|c| c.has_tag_name("td"))
                    .take(3)
                    .map(|c| {
                        c.descendants()
                            .filter(|n| n.is_text())
                            .filter_map(|n| n.text())
                            .collect::<String>()
                    })
                    .collect();
                (r.attribute("class").unwrap(), cells.join(" | "))
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("fail", "FAIL | output n=100 p=4 | 0 / 2".to_string()),
                ("pass", "PASS | output n=10 p=3 | 1 / 1".to_string()),
                ("fail", "FAIL | build build counter | 0 / 0".to_string()),
                (
                    "pass",
                    "PASS | race safe p=4 k=1000 hidden | 1.5 / 1.5".to_string()
                ),
            ]
        );
        let sections: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("h2"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(sections, ["pool-sum ", "counter "]);
        assert!(html.contains("<span class=\"score\">2.5</span> / 4.5 points"));
        assert!(html.contains("ignored Cargo.toml: the course&apos;s is used"));
    }

    #[test]
    fn backquoted_spans_become_code() {
        assert_eq!(
            with_code("`pool_sum 10 3` printed &quot;4`5&quot;, expected `55`"),
            "`pool_sum 10 3` printed &quot;4`5&quot;, expected `55`",
            "an odd number of backquotes is left alone"
        );
        assert_eq!(
            with_code("`pool_sum 10 3` printed 45"),
            "<code>pool_sum 10 3</code> printed 45"
        );
        assert_eq!(with_code("no code"), "no code");
    }

    #[test]
    fn each_exercises_first_failure_shows_its_evidence_open() {
        let mut result = sample();
        let mut second = result.tests[1].clone();
        second.name = "n=100 p=5".to_string();
        result.tests.insert(2, second);
        let html = render(&result, &ReportOptions::default());
        let open: Vec<&str> = html
            .match_indices("<details open=\"open\"><summary class=\"msg\">")
            .map(|(i, m)| &html[i + m.len()..i + m.len() + 30])
            .collect();
        assert_eq!(
            open,
            [
                "<code>pool_sum 100 4</code> pr",
                "counter does not compile: src/"
            ]
        );
        assert!(html.contains("<details><summary class=\"msg\"><code>pool_sum 10 3</code>"));
    }

    #[test]
    fn evidence_is_included() {
        let html = render(&sample(), &ReportOptions::default());
        assert!(
            html.contains("<pre>command: pool_sum 100 4\nexit: exit status 0\nexpected: 5050"),
            "{html}"
        );
    }

    #[test]
    fn race_values_are_drawn_and_speedup_curves_when_present() {
        let mut result = sample();
        let Evidence::Race(race) = &mut result.tests[3].evidence else {
            panic!("the sample's fourth test is a race");
        };
        race.expected = Some("4000".to_string());
        let html = render(&result, &ReportOptions::default());
        let doc = parse(&html);
        let svgs: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("svg"))
            .collect();
        assert_eq!(svgs.len(), 1);
        assert!(html.contains("P×K = 4000 (no update lost)"));
        assert!(html.contains("in 20 runs; 4000 (P×K) means no update was lost."));

        result.tests[0].kind = ResultKind::SPEEDUP;
        let html = render(&result, &ReportOptions::default());
        assert!(html.contains("No speedup curve was recorded"));
        result.tests[0].evidence = Evidence::Speedup(SpeedupProbeEvidence {
            speedup_curve: Some(SpeedupCurve {
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
                ],
                required: Some(1.5),
            }),
            ..SpeedupProbeEvidence::default()
        });
        let html = render(&result, &ReportOptions::default());
        let doc = parse(&html);
        assert_eq!(
            doc.descendants().filter(|n| n.has_tag_name("svg")).count(),
            2
        );
        assert!(!html.contains("No speedup curve"));
    }

    #[test]
    fn hostile_text_stays_text_and_nothing_is_fetched() {
        let mut result = sample();
        result.submission = "<script>alert(1)</script>".to_string();
        let t = &mut result.tests[1];
        t.name = "n=1 \"><img src=x onerror=alert(1)>".to_string();
        t.message = "<a href=\"https://evil.example/\">click</a> & </td></tr></table>".to_string();
        t.evidence.run_mut().unwrap().stdout = Some(
            "<link rel=stylesheet href=//evil.example/x.css><style>@import url(http://e/x)</style>\0\x1b[31m"
                .to_string(),
        );
        result
            .warnings
            .push("<iframe src=\"http://evil.example\"></iframe>".to_string());
        let html = render(&result, &ReportOptions::default());
        let doc = parse(&html);
        // Structure survived: still four test rows, the hostile ones among them.
        assert_eq!(rows(&doc).len(), 4);
        let message = doc
            .descendants()
            .find(|n| {
                n.attribute("class") == Some("msg") && n.text().is_some_and(|t| t.contains("click"))
            })
            .expect("the hostile message, as text");
        assert_eq!(
            message.text(),
            Some("<a href=\"https://evil.example/\">click</a> & </td></tr></table>")
        );
        for node in doc.descendants().filter(|n| n.is_element()) {
            let tag = node.tag_name().name();
            assert!(
                ![
                    "script", "img", "iframe", "link", "object", "embed", "a", "image", "use",
                    "base", "form"
                ]
                .contains(&tag),
                "element <{tag}> in the page"
            );
            for a in node.attributes() {
                let name = a.name().to_ascii_lowercase();
                assert!(
                    !["src", "href", "srcset", "action", "data", "poster"].contains(&name.as_str())
                        && !name.starts_with("on"),
                    "attribute {name}={:?} on <{tag}>",
                    a.value()
                );
            }
        }
        let style: String = doc
            .descendants()
            .filter(|n| n.has_tag_name("style"))
            .filter_map(|n| n.text())
            .collect();
        assert!(
            !style.contains("url(") && !style.contains("@import"),
            "{style}"
        );
        assert!(!html.contains('\0') && !html.contains('\x1b'));
        assert!(html.contains("default-src 'none'"));
    }
}

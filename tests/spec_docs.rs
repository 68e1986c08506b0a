//! The figures the documentation quotes about the built-in Lab 10 spec (the header comment of
//! `specs/lab10.toml`, the table of `docs/spec-format.md`) are the spec's own: loaded with the
//! library's spec loader, counted, compared. A spec change that forgets the docs fails here.

use std::collections::BTreeMap;

use labgrade::spec::{builtin, Spec};

mod common;

/// (tests, points) of every exercise, and of every (exercise, kind).
fn figures(spec: &Spec) -> BTreeMap<(String, String), (usize, f64)> {
    let mut out: BTreeMap<(String, String), (usize, f64)> = BTreeMap::new();
    for ex in &spec.exercises {
        for t in &ex.tests {
            for kind in ["", t.kind.name()] {
                let e = out.entry((ex.id.clone(), kind.to_string())).or_default();
                e.0 += 1;
                e.1 += t.points;
            }
        }
    }
    out
}

/// The number before `word` in `text` (`28 points` → 28).
fn number_before(text: &str, word: &str) -> f64 {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("no `{word}` in {text:?}"));
    let digits: String = text[..at]
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number before `{word}` in {text:?}"))
}

#[test]
fn the_spec_files_header_quotes_its_totals() {
    let spec = builtin();
    let text = std::fs::read_to_string(common::root().join("specs/lab10.toml")).unwrap();
    let header: String = text.lines().take_while(|l| l.starts_with('#')).collect();
    let total = &header[header.find("Total:").expect("a `Total:` in the header")..];
    assert_eq!(number_before(total, "points"), spec.max_score(), "{total}");
    let all = figures(&spec);
    for ex in &spec.exercises {
        let quoted = &total[total.find(&ex.id).unwrap()..];
        let points: f64 = quoted[ex.id.len()..]
            .trim_start()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(points, all[&(ex.id.clone(), String::new())].1, "{total}");
    }
}

#[test]
fn the_docs_table_of_the_builtin_spec_matches_it() {
    let spec = builtin();
    let all = figures(&spec);
    let doc = std::fs::read_to_string(common::root().join("docs/spec-format.md")).unwrap();
    let section = &doc[doc.find("## The built-in Lab 10 spec").unwrap()..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let tests: usize = spec.exercises.iter().map(|e| e.tests.len()).sum();
    assert_eq!(number_before(section, "tests,") as usize, tests);
    assert_eq!(number_before(section, "points in all"), spec.max_score());
    for ex in &spec.exercises {
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", ex.id)))
            .unwrap_or_else(|| panic!("no table row for {}", ex.id));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (count, points) = all[&(ex.id.clone(), String::new())];
        assert_eq!(cells[2].parse::<usize>().unwrap(), count, "{row}");
        assert_eq!(cells[3].parse::<f64>().unwrap(), points, "{row}");
        // Each kind the row names, as "`kind` (N tests, P points)", is the spec's too.
        for ((id, kind), (count, points)) in &all {
            if id != &ex.id || kind.is_empty() {
                continue;
            }
            let at = row
                .find(&format!("`{kind}` ("))
                .unwrap_or_else(|| panic!("the {id} row does not name its {kind} tests: {row}"));
            let figures = &row[at..at + row[at..].find(')').unwrap()];
            assert_eq!(number_before(figures, "test") as usize, *count, "{figures}");
            assert_eq!(number_before(figures, "point"), *points, "{figures}");
        }
    }
}

//! The house's data flows one way: spec → plan → runs → verdicts → reports (README, "Design
//! notes"). This test reads the sources and fails on any cycle between top-level modules
//! (`crate::report` using `crate::batch` while `crate::batch` uses `crate::report`, …),
//! naming the modules of the cycle and a line behind each of its edges.
//!
//! It reads text: every `crate::NAME` path counts, doc links and test code included, so a
//! cycle cannot hide in a test or a comment that a later change turns into code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level module a source file belongs to: `src/batch/index.rs` → `batch`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// module → (module it uses → one `file:line` that uses it).
fn dependencies() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let Some(from) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let edges = graph.entry(from.clone()).or_default();
        for (n, line) in text.lines().enumerate() {
            for (i, _) in line.match_indices("crate::") {
                let to: String = line[i + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !to.is_empty() && to != from {
                    edges
                        .entry(to)
                        .or_insert_with(|| format!("{}:{}", file.display(), n + 1));
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one: the modules in order.
fn cycle_from(
    graph: &BTreeMap<String, BTreeMap<String, String>>,
    start: &str,
) -> Option<Vec<String>> {
    // Depth-first from `start`, looking for a way back to it.
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flat_map(|e| e.keys()) {
            if next == start {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_cycles_between_top_level_modules() {
    let graph = dependencies();
    assert!(graph.len() > 10, "the sources were not found: {graph:?}");
    let mut cycles = Vec::new();
    for start in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, start) {
            let edges: Vec<String> = cycle
                .iter()
                .zip(cycle.iter().cycle().skip(1))
                .map(|(a, b)| format!("  {a} -> {b} ({})", graph[a][b]))
                .collect();
            cycles.push(format!("{}:\n{}", cycle.join(" -> "), edges.join("\n")));
        }
    }
    assert!(
        cycles.is_empty(),
        "cycles between modules:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let edge = |g: &mut BTreeMap<String, BTreeMap<String, String>>, a: &str, b: &str| {
        g.entry(a.into())
            .or_default()
            .insert(b.into(), "x:1".into());
    };
    edge(&mut graph, "report", "verdict");
    edge(&mut graph, "verdict", "spec");
    assert_eq!(cycle_from(&graph, "report"), None);
    edge(&mut graph, "spec", "report");
    assert_eq!(
        cycle_from(&graph, "report"),
        Some(vec!["report".into(), "verdict".into(), "spec".into()])
    );
}

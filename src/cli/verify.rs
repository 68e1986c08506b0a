//! `labgrade spec verify`: grades the reference and the known-buggy fixtures against the spec
//! and prints every miss (`crate::verify` decides what a miss is).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{default_jobs, grader, submission_name, Exit, SpecArgs};
use crate::batch::gradebook::number;
use crate::verify::{self, Selector};

#[derive(Args, Debug)]
pub(super) struct VerifyArgs {
    #[command(flatten)]
    specs: SpecArgs,
    /// The course's reference solution: it must get full marks.
    #[arg(long, value_name = "DIR")]
    reference: PathBuf,
    /// A known-buggy submission and tests it must fail: `DIR=EXERCISE`, `DIR=EXERCISE/TEST` or
    /// `DIR=EXERCISE/PREFIX*` (some selected test must fail). Repeat for more tests or fixtures.
    #[arg(long, value_name = "DIR=TESTS", value_parser = parse_expect)]
    expect: Vec<(PathBuf, Selector)>,
    /// The folder holding the built-in known-buggy set (`fixtures/submissions` of this project):
    /// each of its bug classes must fail some test of its exercise. Prints a coverage table.
    #[arg(long, value_name = "DIR")]
    known_buggy: Option<PathBuf>,
    /// Only this variant of the known-buggy set (a fixture's name); repeat for more.
    #[arg(long, value_name = "FIXTURE", requires = "known_buggy")]
    variant: Vec<String>,
}

fn parse_expect(s: &str) -> Result<(PathBuf, Selector), String> {
    let (dir, sel) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected DIR=EXERCISE[/TEST]"))?;
    Ok((PathBuf::from(dir), sel.parse()?))
}

pub(super) fn run(args: VerifyArgs) -> Result<Exit> {
    let mut spec = args.specs.load()?;
    super::warnings::warn_cores(&spec);
    // The reference being verified is the speedup's yardstick too, unless the spec names one.
    if spec.reference.is_none() {
        spec.reference = Some(args.reference.clone());
    }
    // The built-in set's variants, checked before any grading (a typo costs no minutes).
    let mut known = Vec::new();
    if let Some(root) = &args.known_buggy {
        for name in &args.variant {
            if verify::known_bug(name).is_none() {
                let all: Vec<&str> = verify::KNOWN_BUGGY.iter().map(|b| b.fixture).collect();
                anyhow::bail!(
                    "--variant {name}: not in the known-buggy set ({})",
                    all.join(", ")
                );
            }
        }
        known = verify::KNOWN_BUGGY
            .iter()
            .filter(|b| args.variant.is_empty() || args.variant.iter().any(|v| v == b.fixture))
            .map(|b| (root.join(b.fixture), b))
            .collect();
    }
    let grader = grader(spec, 0, default_jobs());
    let mut misses = Vec::new();

    let name = submission_name(&args.reference);
    let reference = grader
        .grade(&args.reference, &name)
        .with_context(|| format!("grading {}", args.reference.display()))?;
    let found = verify::check_reference(&reference);
    println!(
        "{} reference {name}: {} / {}",
        if found.is_empty() { "ok  " } else { "MISS" },
        number(reference.score()),
        number(reference.max_score())
    );
    misses.extend(found);

    // Each fixture once, with all the selectors declared for it, in the order given.
    let mut fixtures: Vec<(PathBuf, Vec<Selector>)> = Vec::new();
    for (dir, sel) in args.expect {
        match fixtures.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, sels)) => sels.push(sel),
            None => fixtures.push((dir, vec![sel])),
        }
    }
    let mut table = Vec::new();
    for (dir, bug) in known {
        let result = grader
            .grade(&dir, bug.fixture)
            .with_context(|| format!("grading {}", dir.display()))?;
        let (row, miss) = verify::check_known(&result, bug);
        println!(
            "{} {} caught ({})",
            if miss.is_none() { "ok  " } else { "MISS" },
            bug.fixture,
            bug.class
        );
        table.push(row);
        misses.extend(miss);
    }

    for (dir, selectors) in fixtures {
        let name = submission_name(&dir);
        let result = grader
            .grade(&dir, &name)
            .with_context(|| format!("grading {}", dir.display()))?;
        let found = verify::check_fixture(&result, &selectors);
        let declared: Vec<String> = selectors.iter().map(ToString::to_string).collect();
        table.push(verify::coverage(
            &result,
            &format!("declared: {}", declared.join(", ")),
            None,
        ));
        println!(
            "{} {name} fails where declared ({})",
            if found.is_empty() { "ok  " } else { "MISS" },
            declared.join(", ")
        );
        misses.extend(found);
    }

    if !table.is_empty() {
        print!("{}", verify::render_coverage(&table));
    }
    for miss in &misses {
        println!("  miss: {miss}");
    }
    if misses.is_empty() {
        println!("spec verify: no miss");
        Ok(Exit::Pass)
    } else {
        println!(
            "spec verify: {}",
            crate::words::count(misses.len(), "miss", "misses")
        );
        Ok(Exit::Fail)
    }
}

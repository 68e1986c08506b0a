//! `labgrade spec verify`: grades the reference and the known-buggy fixtures against the spec
//! and prints every miss (`crate::verify` decides what a miss is).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{default_jobs, grader, submission_name, SpecArgs, EXIT_FAIL, EXIT_PASS};
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
}

fn parse_expect(s: &str) -> Result<(PathBuf, Selector), String> {
    let (dir, sel) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected DIR=EXERCISE[/TEST]"))?;
    Ok((PathBuf::from(dir), sel.parse()?))
}

pub(super) fn run(args: VerifyArgs) -> Result<u8> {
    let mut spec = args.specs.load()?;
    super::warnings::warn_cores(&spec);
    // The reference being verified is the speedup's yardstick too, unless the spec names one.
    if spec.reference.is_none() {
        spec.reference = Some(args.reference.clone());
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
    for (dir, selectors) in fixtures {
        let name = submission_name(&dir);
        let result = grader
            .grade(&dir, &name)
            .with_context(|| format!("grading {}", dir.display()))?;
        let found = verify::check_fixture(&result, &selectors);
        let declared: Vec<String> = selectors.iter().map(ToString::to_string).collect();
        println!(
            "{} {name} fails where declared ({})",
            if found.is_empty() { "ok  " } else { "MISS" },
            declared.join(", ")
        );
        misses.extend(found);
    }

    for miss in &misses {
        println!("  miss: {miss}");
    }
    if misses.is_empty() {
        println!("spec verify: no miss");
        Ok(EXIT_PASS)
    } else {
        println!("spec verify: {} miss(es)", misses.len());
        Ok(EXIT_FAIL)
    }
}

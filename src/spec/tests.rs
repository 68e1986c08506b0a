//! Tests of the spec language end to end: TOML text in, model or exact diagnostics out.

use std::time::Duration;

use super::*;

/// Every diagnostic of `source`, as displayed (origin `t.toml`).
fn errors(source: &str) -> Vec<String> {
    match parse(source, "t.toml") {
        Ok(spec) => panic!("expected errors, got a spec: {spec:#?}"),
        Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
    }
}

/// A spec with one exercise whose tests are `tests`; the first test's header is on line 6.
fn with_tests(tests: &str) -> String {
    format!("lab = \"x\"\ntitle = \"X\"\n[[exercise]]\nid = \"e\"\nbinary = \"e\"\n{tests}")
}

fn ok(source: &str) -> Spec {
    parse(source, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn names(ex: &Exercise) -> Vec<&str> {
    ex.tests.iter().map(|t| t.name.as_str()).collect()
}

fn output(t: &TestCase) -> &OutputTest {
    match &t.kind {
        TestKind::Output(o) => o,
        other => panic!("not an output test: {other:?}"),
    }
}

#[test]
fn builtin_spec_parses_with_the_expected_tests_and_points() {
    let spec = builtin();
    assert_eq!(spec.lab, "lab10");
    assert_eq!(spec.origin, "<built-in lab10.toml>");
    assert_eq!(spec.build.timeout, Duration::from_secs(60));
    let ids: Vec<&str> = spec.exercises.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["pool-sum", "counter"]);
    let (pool, counter) = (&spec.exercises[0], &spec.exercises[1]);
    assert_eq!(
        (pool.binary.as_str(), counter.binary.as_str()),
        ("pool_sum", "counter")
    );
    assert_eq!((pool.tests.len(), counter.tests.len()), (33, 17));
    assert_eq!((pool.max_score(), counter.max_score()), (18.0, 10.0));
    assert_eq!(spec.max_score(), 28.0);
    assert!(pool.tests.iter().any(|t| matches!(
        &t.kind,
        TestKind::Speedup(s) if s.workers == 2 && s.inconclusive == InconclusivePolicy::Pass
    )));
    // An undecided processes test (no process audit here) must not give points away.
    assert!(pool.tests.iter().all(|t| match &t.kind {
        TestKind::Processes(p) => p.inconclusive == InconclusivePolicy::Fail,
        _ => true,
    }));
    assert!(spec
        .exercises
        .iter()
        .flat_map(|e| &e.tests)
        .all(|t| !t.hidden));
    let processes: Vec<u32> = spec
        .exercises
        .iter()
        .flat_map(|e| &e.tests)
        .filter_map(|t| match &t.kind {
            TestKind::Processes(p) => Some(p.workers),
            _ => None,
        })
        .collect();
    assert_eq!(processes, [2, 4, 4]);
    let races: Vec<_> = counter
        .tests
        .iter()
        .filter_map(|t| match &t.kind {
            TestKind::Race(r) => Some((r.mode, r.workers, r.increments, r.calibrate)),
            _ => None,
        })
        .collect();
    assert_eq!(
        races,
        [
            (CounterMode::Safe, None, 1_000, true),
            (CounterMode::Racy, None, 1_000, true)
        ]
    );
}

#[test]
fn builtin_spec_encodes_contract_section_1() {
    let spec = builtin();
    let find = |ex: usize, name: &str| {
        let t = spec.exercises[ex].tests.iter().find(|t| t.name == name);
        output(t.unwrap_or_else(|| panic!("no test `{name}`"))).clone()
    };
    let big = find(0, "beyond u64: n=6074001000 p=4");
    assert_eq!(big.args, ["6074001000", "4"]);
    assert_eq!(big.timeout, Duration::from_secs(60));
    let total = big.stdout.unwrap().expected_text();
    assert_eq!(total, "18446744077037500500");
    assert!(total.parse::<u128>().unwrap() > u64::MAX as u128);
    // One worker's own chunk beyond u64 (fixture `u64_chunk`): the upper half of 1..=N at P = 2.
    let chunk = find(0, "beyond u64 per worker: n=7500000000 p=2");
    assert_eq!(chunk.args, ["7500000000", "2"]);
    let (n, half) = (7_500_000_000u128, 3_750_000_000u128);
    assert!(n * (n + 1) / 2 - half * (half + 1) / 2 > u64::MAX as u128);
    assert_eq!(find(0, "n=5 p=64").args, ["5", "64"]);
    assert_eq!(
        find(0, "n=1000003 p=16").stdout.unwrap().expected_text(),
        "500003500006"
    );
    let none = find(0, "bad args: (none)");
    assert_eq!(
        (none.args.len(), none.exit, none.stdout),
        (0, ExitExpectation::Failure, None)
    );
    assert_eq!(find(0, "bad args: -5 2").args, ["-5", "2"]);
    assert_eq!(
        find(0, "bad args: 10000000001 2").exit,
        ExitExpectation::Failure
    );
    let safe = find(1, "safe p=8 k=100000");
    assert_eq!(safe.args, ["safe", "8", "100000"]);
    assert_eq!(safe.stdout.unwrap().expected_text(), "800000");
    assert_eq!(find(1, "safe p=3 k=0").stdout.unwrap().expected_text(), "0");
    assert_eq!(find(1, "bad args: safe 65 10").args, ["safe", "65", "10"]);
}

#[test]
fn the_documented_example_parses() {
    let doc = include_str!("../../docs/spec-format.md");
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    let spec = ok(example);
    let counts: Vec<usize> = spec.exercises.iter().map(|e| e.tests.len()).collect();
    assert_eq!(counts, [16, 10]);
    assert_eq!(spec.build.timeout, Duration::from_secs(180));
}

#[test]
fn matrix_expands_keys_in_file_order_first_key_slowest() {
    let spec = ok(&with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"{z}/{a}\"\n\
         matrix = { z = [2, 1], a = [\"x\", \"y\", \"w\"] }\n",
    ));
    assert_eq!(
        names(&spec.exercises[0]),
        ["2/x", "2/y", "2/w", "1/x", "1/y", "1/w"]
    );
}

#[test]
fn placeholders_are_substituted_and_double_braces_are_literal() {
    let spec = ok(&with_tests(
        "[defaults]\npoints = 2\ntimeout = \"500ms\"\n\n\
         [[exercise.test]]\nkind = \"output\"\nname = \"{{n}}={n}\"\nmatrix = { n = [3] }\n\
         args = [\"-{n}-\", \"}}\"]\nstdout = { equals = \"{n}{{\" }\nexit = 3\n",
    ));
    let t = &spec.exercises[0].tests[0];
    assert_eq!((t.name.as_str(), t.points), ("{n}=3", 2.0));
    let o = output(t);
    assert_eq!(o.args, ["-3-", "}"]);
    assert_eq!(o.stdout, Some(StdoutCheck::Equals("3{".into())));
    assert_eq!(o.exit, ExitExpectation::Code(3));
    assert_eq!(o.timeout, Duration::from_millis(500));
}

#[test]
fn other_kinds_build_their_models_with_defaults() {
    let spec = ok(&with_tests(
        "[[exercise.test]]\nkind = \"processes\"\nname = \"p={p}\"\nmatrix = { p = [4] }\n\
         args = [\"100\", \"{p}\"]\nworkers = \"{p}\"\n\
         [[exercise.test]]\nkind = \"speedup\"\nname = \"speedup\"\nworkers = 4\nhidden = true\n\
         [[exercise.test]]\nkind = \"speedup\"\nname = \"abs\"\nworkers = 2\nn = \"1000\"\n\
         threshold = { absolute = 1.6, scale_to_cores = true }\ninconclusive = \"pass\"\n\
         curve_up_to = 8\n\
         [[exercise.test]]\nkind = \"race\"\nname = \"racy\"\nmode = \"racy\"\nworkers = 8\n\
         increments = 100000\nmax_runs = 50\nbudget = \"2m\"\n",
    ));
    let kinds: Vec<&TestKind> = spec.exercises[0].tests.iter().map(|t| &t.kind).collect();
    assert_eq!(
        kinds[0],
        &TestKind::Processes(ProcessesTest {
            args: vec!["100".into(), "4".into()],
            timeout: Duration::from_secs(10),
            workers: 4,
            overlap: true,
            inconclusive: InconclusivePolicy::Fail,
        })
    );
    assert_eq!(
        kinds[1],
        &TestKind::Speedup(SpeedupTest {
            n: None,
            workers: 4,
            threshold: SpeedupThreshold::RelativeToReference {
                fraction: 0.6,
                floor: 1.1
            },
            budget: Duration::from_secs(20),
            inconclusive: InconclusivePolicy::Fail,
            curve_up_to: None,
        })
    );
    assert!(spec.exercises[0].tests[1].hidden);
    assert_eq!(
        kinds[2],
        &TestKind::Speedup(SpeedupTest {
            n: Some(1000),
            workers: 2,
            threshold: SpeedupThreshold::Absolute {
                factor: 1.6,
                scale_to_cores: true
            },
            budget: Duration::from_secs(20),
            inconclusive: InconclusivePolicy::Pass,
            curve_up_to: Some(8),
        })
    );
    assert_eq!(
        kinds[3],
        &TestKind::Race(RaceTest {
            mode: CounterMode::Racy,
            workers: Some(8),
            increments: 100_000,
            budget: Duration::from_secs(120),
            max_runs: 50,
            timeout: Duration::from_secs(10),
            calibrate: false,
        })
    );
}

#[test]
fn a_calibrated_race_test_needs_neither_workers_nor_increments() {
    let spec = ok(&with_tests(
        "[[exercise.test]]\nkind = \"race\"\nname = \"auto\"\nmode = \"safe\"\n\
         calibrate = true\n\
         [[exercise.test]]\nkind = \"race\"\nname = \"fixed p\"\nmode = \"racy\"\n\
         calibrate = true\nworkers = 3\nincrements = 50000\n",
    ));
    let races: Vec<&RaceTest> = spec.exercises[0]
        .tests
        .iter()
        .map(|t| match &t.kind {
            TestKind::Race(r) => r,
            other => panic!("not a race test: {other:?}"),
        })
        .collect();
    assert_eq!(
        (races[0].workers, races[0].increments, races[0].calibrate),
        (None, 1_000, true)
    );
    assert!(races[0].wants_unoptimised_build());
    assert_eq!(
        (races[1].workers, races[1].increments, races[1].calibrate),
        (Some(3), 50_000, true)
    );
    assert_eq!(
        errors(&with_tests(
            "[[exercise.test]]\nkind = \"race\"\nname = \"a\"\nmode = \"safe\"\n\
             calibrate = false\nworkers = 2\n"
        )),
        [
            "t.toml:6:1: error: missing field `increments`: a race test needs it (or \
          `calibrate = true` to let the grader choose it)"
        ]
    );
    assert_eq!(
        errors(&with_tests(
            "[[exercise.test]]\nkind = \"output\"\nname = \"a\"\ncalibrate = true\n"
        )),
        ["t.toml:9:1: error: `calibrate` is a field of race tests; this test is `output`"]
    );
}

#[test]
fn unknown_field_points_at_the_key_and_lists_the_expected_ones() {
    let src = with_tests("[[exercise.test]]\nkind = \"output\"\nname = \"a\"\ntmeout = \"1s\"\n");
    assert_eq!(
        errors(&src),
        [
            "t.toml:9:1: error: unknown field `tmeout`, expected one of `kind`, `name`, \
          `matrix`, `points`, `hidden`, `args`, `timeout`, `exit`, `stdout`, `workers`, \
          `overlap`, `n`, `threshold`, `inconclusive`, `curve_up_to`, `budget`, `mode`, \
          `increments`, `max_runs`, `calibrate`"
        ]
    );
}

#[test]
fn missing_required_fields_point_at_the_test_header() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"race\"\nname = \"a\"\nmode = \"safe\"\n\
         [[exercise.test]]\nname = \"b\"\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:6:1: error: missing field `workers`: a race test needs it (or \
             `calibrate = true` to let the grader choose it)",
            "t.toml:6:1: error: missing field `increments`: a race test needs it (or \
             `calibrate = true` to let the grader choose it)",
            "t.toml:10:1: error: missing field `kind`, expected one of `output`, `processes`, \
             `speedup`, `race`",
        ]
    );
    assert_eq!(
        errors("title = \"X\"\n"),
        [
            "t.toml:1:1: error: missing top-level field `lab` (like `lab = \"lab10\"`)",
            "t.toml:1:1: error: the spec has no exercises; add at least one `[[exercise]]` table",
        ]
    );
}

#[test]
fn a_field_of_another_kind_is_reported_at_its_key() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"a\"\nmode = \"safe\"\n  workers = 3\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:9:1: error: `mode` is a field of race tests; this test is `output`",
            "t.toml:10:3: error: `workers` is a field of processes, speedup and race tests; \
             this test is `output`",
        ]
    );
}

#[test]
fn duplicate_names_after_expansion_point_at_both_places() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"n={n}\"\nmatrix = { n = [1, 2] }\n\
         [[exercise.test]]\nkind = \"output\"\nname = \"n=2\"\n",
    );
    assert_eq!(
        errors(&src),
        ["t.toml:12:8: error: duplicate test name `n=2`; the test at 8:8 has the same name"]
    );
    let src = with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"n={n}\"\n\
         matrix = { n = [1], p = [1, 2] }\nargs = [\"{n}\", \"{p}\"]\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:8:8: error: duplicate test name `n=1`: this template gives it to n=1, p=1 \
          and to n=1, p=2; put `{p}` in the name"
        ]
    );
}

#[test]
fn names_must_be_unique_without_a_matrix_too() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"a\"\n\
         [[exercise.test]]\nkind = \"output\"\nname = \"a\"\n",
    );
    assert_eq!(
        errors(&src),
        ["t.toml:11:8: error: duplicate test name `a`; the test at 8:8 has the same name"]
    );
}

#[test]
fn unknown_placeholder_points_inside_the_string() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"n={m}\"\nmatrix = { n = [1] }\n\
         args = [\"{n}\"]\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:8:11: error: unknown placeholder `{m}` in `name`: the matrix defines `n` \
          (write `{{` for a literal brace)"
        ]
    );
    let src = with_tests("[[exercise.test]]\nkind = \"output\"\nname = \"a\"\nargs = [\"{x\"]\n");
    assert_eq!(
        errors(&src),
        ["t.toml:9:10: error: `args`: unclosed `{` in template; write `{{` for a literal brace"]
    );
}

#[test]
fn unused_matrix_key_is_an_error_at_the_key() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"n={n}\"\n\
         matrix = { n = [1], q = [2] }\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:9:21: error: matrix key `q` is not used by `name`, `args` or any other field \
          of this test: use it as `{q}` or remove it"
        ]
    );
}

#[test]
fn bad_durations_show_the_accepted_forms() {
    let src = with_tests(
        "[build]\ntimeout = \"10\"\n[defaults]\ntimeout = 10\n\
         [[exercise.test]]\nkind = \"output\"\nname = \"a\"\ntimeout = \"10 s\"\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:7:11: error: `timeout`: duration `10` has no unit: write `10s` for seconds \
             or `10ms` for milliseconds",
            "t.toml:9:11: error: `timeout`: a duration is a string with a unit: write \
             `timeout = \"10s\"` (expected a positive whole number followed by `ms`, `s` or \
             `m`, like `500ms`, `10s` or `2m`)",
            "t.toml:13:11: error: `timeout`: invalid duration `10 s`: expected a positive whole \
             number followed by `ms`, `s` or `m`, like `500ms`, `10s` or `2m`",
        ]
    );
}

#[test]
fn checker_parameters_must_be_u64_after_substitution() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"n={n}\"\nmatrix = { n = [3, -5] }\n\
         stdout = { sum_to = \"{n}\" }\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:10:21: error: `stdout.sum_to` must be a whole number from 0 to \
          18446744073709551615; got `-5` (from `{n}` with n=-5)"
        ]
    );
}

#[test]
fn workers_out_of_range_is_reported_with_the_matrix_value() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"processes\"\nname = \"p={p}\"\nmatrix = { p = [64, 65] }\n\
         workers = \"{p}\"\n\
         [[exercise.test]]\nkind = \"race\"\nname = \"r\"\nmode = \"safe\"\nworkers = 0\n\
         increments = 100000001\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:10:11: error: `workers` must be a whole number from 1 to 64; got `65` \
             (from `{p}` with p=65)",
            "t.toml:15:11: error: `workers` must be a whole number from 1 to 64; got `0`",
            "t.toml:16:14: error: `increments` must be a whole number from 0 to 100000000; \
             got `100000001`",
        ]
    );
}

#[test]
fn an_empty_exercise_list_is_an_error() {
    assert_eq!(
        errors("lab = \"x\"\ntitle = \"X\"\nexercise = []\n"),
        ["t.toml:3:12: error: the spec has no exercises; add at least one `[[exercise]]` table"]
    );
    assert_eq!(
        errors("lab = \"x\"\ntitle = \"X\"\n\n[[exercise]]\nid = \"e\"\nbinary = \"e\"\n"),
        [
            "t.toml:4:1: error: this exercise has no tests; add at least one `[[exercise.test]]` \
          after it"
        ]
    );
}

#[test]
fn toml_syntax_errors_have_line_and_column() {
    assert_eq!(
        errors("lab = \"x\"\ntitle = \"X\nid = 3\n"),
        // Where the closing quote was expected: the end of line 2.
        ["t.toml:2:11: error: invalid basic string, expected `\"`"]
    );
    assert_eq!(
        errors("lab = \"x\"\ntitle = \"X\"\n[[exercise]]\nid = \"e\"\nbinary = 7\n"),
        ["t.toml:5:10: error: invalid type: integer `7`, expected a string"]
    );
}

#[test]
fn every_semantic_error_is_reported_in_file_order() {
    let src = "lab = \"\"\ntitle = \"X\"\n\
               [[exercise]]\nid = \"Pool\"\nbinary = \"pool-sum\"\n\
               [[exercise.test]]\nkind = \"outptu\"\nname = \"a\"\n\
               [[exercise]]\nid = \"Pool\"\nbinary = \"c\"\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"a\"\npoints = -1\nexit = \"ok\"\n\
               stdout = { equals = \"1\", sum_to = 1 }\n";
    assert_eq!(
        errors(src),
        [
            "t.toml:1:7: error: `lab` is empty",
            "t.toml:4:6: error: invalid exercise id `Pool`: use lowercase letters, digits and \
             `-` (like `pool-sum`)",
            "t.toml:5:10: error: invalid binary `pool-sum`: write the name of the \
             `src/bin/<binary>.rs` target, letters, digits and `_` (like `pool_sum`)",
            "t.toml:7:8: error: unknown test kind `outptu`, expected one of `output`, \
             `processes`, `speedup`, `race`",
            "t.toml:10:6: error: invalid exercise id `Pool`: use lowercase letters, digits and \
             `-` (like `pool-sum`)",
            "t.toml:10:6: error: duplicate exercise id `Pool`; first used at 4:6",
            "t.toml:15:10: error: `points` must be a number >= 0; got -1",
            "t.toml:16:8: error: invalid `exit` `\"ok\"`, expected `\"success\"`, `\"failure\"` \
             (any non-zero code) or an exit code from 0 to 255",
            "t.toml:17:10: error: `stdout` needs exactly one checker: `equals`, `sum_to` or \
             `product`; found `equals` and `sum_to`",
        ]
    );
}

#[test]
fn binaries_are_unique_and_exit_codes_fit_a_byte() {
    let src = "lab = \"x\"\ntitle = \"X\"\n\
               [[exercise]]\nid = \"a\"\nbinary = \"b\"\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"t\"\nexit = 256\n\
               [[exercise]]\nid = \"c\"\nbinary = \"b\"\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"t\"\nexit = 255\n";
    assert_eq!(
        errors(src),
        [
            "t.toml:9:8: error: invalid `exit` `256`, expected `\"success\"`, `\"failure\"` (any \
             non-zero code) or an exit code from 0 to 255",
            "t.toml:12:10: error: duplicate binary `b`; first used at 5:10",
        ]
    );
}

#[test]
fn thresholds_take_exactly_one_form_within_range() {
    let src = with_tests(
        "[[exercise.test]]\nkind = \"speedup\"\nname = \"a\"\nworkers = 2\n\
         threshold = { relative = 1.5, floor = 0.5 }\n\
         [[exercise.test]]\nkind = \"speedup\"\nname = \"b\"\nworkers = 2\n\
         threshold = { relative = 0.5, absolute = 2.0 }\n",
    );
    assert_eq!(
        errors(&src),
        [
            "t.toml:10:26: error: `relative` must be in (0, 1]; got 1.5",
            "t.toml:10:39: error: `floor` must be at least 1; got 0.5",
            "t.toml:15:13: error: `threshold` takes either `relative` or `absolute`, not both",
        ]
    );
}

#[test]
fn a_speedup_needs_at_least_two_workers() {
    let src = with_tests("[[exercise.test]]\nkind = \"speedup\"\nname = \"a\"\nworkers = 1\n");
    assert_eq!(
        errors(&src),
        ["t.toml:9:11: error: `workers` must be a whole number from 2 to 64; got `1`"]
    );
}

#[test]
fn load_file_reports_unreadable_files_and_origin() {
    let missing = Path::new("/nonexistent/lab.toml");
    let err = load_file(missing).unwrap_err().to_string();
    assert!(
        err.starts_with("/nonexistent/lab.toml: error: cannot read the spec: "),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.toml");
    std::fs::write(&path, "lab = 1\n").unwrap();
    let err = load_file(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:1:7: error: invalid type: integer `1`, expected a string",
            path.display()
        )
    );
}

#[test]
fn the_curve_stops_at_a_worker_count_within_bounds() {
    assert_eq!(
        errors(&with_tests(
            "[[exercise.test]]\nkind = \"speedup\"\nname = \"s\"\nworkers = 2\ncurve_up_to = 0\n"
        )),
        [
            "t.toml:10:15: error: `curve_up_to` must be a worker count from 1 (no curve) to 64; \
          got 0"
        ]
    );
    let wrong_kind = errors(&with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"o\"\ncurve_up_to = 4\n",
    ));
    assert_eq!(wrong_kind.len(), 1, "{wrong_kind:?}");
    assert!(
        wrong_kind[0].starts_with("t.toml:9:1: error: ") && wrong_kind[0].contains("speedup"),
        "{wrong_kind:?}"
    );
}

#[test]
fn the_largest_speedup_pool_is_what_the_cores_are_checked_against() {
    assert_eq!(builtin().largest_speedup_workers(), Some(2));
    let no_speedup = parse(
        "lab = \"l\"\ntitle = \"t\"\n[[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n\
         [[exercise.test]]\nkind = \"output\"\nname = \"a\"\nargs = [\"1\", \"1\"]\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(no_speedup.largest_speedup_workers(), None);
}

/// `reference = "DIR"` names the course's reference solution, relative to the spec file; a
/// wrong path is an error at its line. The built-in spec names none: the grader students
/// install carries no solution.
#[test]
fn a_reference_is_a_directory_with_pool_sum_relative_to_the_spec() {
    assert_eq!(builtin().reference, None);
    let bundle = tempfile::tempdir().unwrap();
    let solution = bundle.path().join("solution/src/bin");
    std::fs::create_dir_all(&solution).unwrap();
    std::fs::write(solution.join("pool_sum.rs"), "fn main() {}\n").unwrap();
    let spec_file = bundle.path().join("staff.toml");
    let body = with_tests("[[exercise.test]]\nkind = \"output\"\nname = \"a\"\nargs = []\n");
    std::fs::write(&spec_file, format!("reference = \"solution\"\n{body}")).unwrap();
    let spec = load_file(&spec_file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.reference, Some(bundle.path().join("solution")));

    std::fs::write(&spec_file, format!("\nreference = \"nowhere\"\n{body}")).unwrap();
    let err = load_file(&spec_file).unwrap_err().to_string();
    assert!(
        err.contains("staff.toml:2:13: error: `reference`: no directory"),
        "{err}"
    );

    std::fs::create_dir_all(bundle.path().join("empty")).unwrap();
    std::fs::write(&spec_file, format!("reference = \"empty\"\n{body}")).unwrap();
    let err = load_file(&spec_file).unwrap_err().to_string();
    assert!(err.contains(":1:13: error: `reference`:"), "{err}");
    assert!(err.contains("has no `src/bin/pool_sum.rs`"), "{err}");
}

#[test]
fn specs_naming_different_references_cannot_be_combined() {
    let a = Spec {
        reference: Some("a".into()),
        ..builtin()
    };
    let b = Spec {
        reference: Some("b".into()),
        exercises: vec![],
        ..builtin()
    };
    assert!(matches!(
        Spec::combine(vec![a.clone(), b]),
        Err(CombineError::DifferentReferences { .. })
    ));
    let none = Spec {
        reference: None,
        exercises: vec![],
        ..builtin()
    };
    assert_eq!(
        Spec::combine(vec![none, a]).unwrap().reference,
        Some("a".into())
    );
}

#[test]
fn a_deadline_can_take_its_dates_from_gradescope() {
    let exercise =
        "[[exercise]]\nid = \"e\"\nbinary = \"e\"\n[[exercise.test]]\nkind = \"output\"\n\
                    name = \"a\"\nargs = [\"1\"]\n";
    let spec = ok(&format!(
        "lab = \"x\"\ntitle = \"X\"\n[deadline]\ndue = \"gradescope\"\ngrace = \"10m\"\n\
         penalty = {{ flat = 0.2 }}\n{exercise}"
    ));
    assert_eq!(spec.deadline, None, "resolved per submission");
    assert_eq!(
        spec.gradescope_deadline,
        Some(LateRules {
            grace: Duration::from_secs(600),
            penalty: LatePenalty::Flat { fraction: 0.2 },
        })
    );
    // A fixed date and Gradescope's cannot both be the deadline.
    let fixed = ok(&format!(
        "lab = \"y\"\ntitle = \"Y\"\n[deadline]\ndue = 2026-12-01T22:00:00Z\n{}",
        exercise.replace("\"e\"", "\"f\"")
    ));
    assert!(Spec::combine(vec![spec, fixed]).is_err());
}

#[test]
fn stop_after_hangs_defaults_off_is_inherited_and_can_be_overridden() {
    let plain = ok(&with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"a\"\n",
    ));
    assert_eq!(plain.exercises[0].hangs, HangPolicy::OFF);
    let src =
        "lab = \"x\"\ntitle = \"X\"\n[defaults]\nstop_after_hangs = 2\nhang_timeout = \"3s\"\n\
               [[exercise]]\nid = \"a\"\nbinary = \"a\"\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"t\"\n\
               [[exercise]]\nid = \"b\"\nbinary = \"b\"\nstop_after_hangs = 0\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"t\"\n";
    let spec = ok(src);
    let secs = Duration::from_secs(3);
    assert_eq!(
        spec.exercises[0].hangs,
        HangPolicy {
            stop_after: 2,
            timeout: secs
        }
    );
    assert_eq!(spec.exercises[1].hangs.stop_after, 0);
    assert_eq!(spec.exercises[1].hangs.timeout, secs);
    // The built-in spec stops a hanging pool after its first two tests.
    assert!(builtin().exercises.iter().all(|e| e.hangs.stop_after == 2));
}

#[test]
fn stop_after_hangs_is_a_small_whole_number_and_hang_timeout_a_duration() {
    let src = "lab = \"x\"\ntitle = \"X\"\n[defaults]\nstop_after_hangs = -1\nhang_timeout = 2\n\
               [[exercise]]\nid = \"a\"\nbinary = \"a\"\nstop_after_hangs = 99\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"t\"\n";
    assert_eq!(
        errors(src),
        [
            "t.toml:4:20: error: `stop_after_hangs` must be a whole number from 0 (never stop \
             early) to 20; got -1",
            "t.toml:5:16: error: `hang_timeout`: a duration is a string with a unit: write \
             `hang_timeout = \"2s\"` (expected a positive whole number followed by `ms`, `s` or \
             `m`, like `500ms`, `10s` or `2m`)",
            "t.toml:9:20: error: `stop_after_hangs` must be a whole number from 0 (never stop \
             early) to 20; got 99",
        ]
    );
}

#[test]
fn a_processes_test_says_what_undecided_counts_as() {
    let spec = ok(&with_tests(
        "[[exercise.test]]\nkind = \"processes\"\nname = \"p\"\nargs = [\"100\", \"2\"]\n\
         workers = 2\ninconclusive = \"pass\"\n",
    ));
    assert!(matches!(
        &spec.exercises[0].tests[0].kind,
        TestKind::Processes(p) if p.inconclusive == InconclusivePolicy::Pass
    ));
}

#[test]
fn timeout_from_reference_applies_to_pool_sum_exercises_and_can_be_overridden() {
    let src = "lab = \"x\"\ntitle = \"X\"\n[defaults]\n\
               timeout_from_reference = { multiple = 30, floor = \"3s\" }\n\
               [[exercise]]\nid = \"pool-sum\"\nbinary = \"pool_sum\"\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"t\"\n\
               [[exercise]]\nid = \"counter\"\nbinary = \"counter\"\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"t\"\n";
    let spec = ok(src);
    let want = ReferenceTimeouts {
        multiple: 30,
        floor: Duration::from_secs(3),
    };
    assert_eq!(spec.exercises[0].reference_timeouts, Some(want));
    // The reference is a pool_sum: nothing else is timed against it.
    assert_eq!(spec.exercises[1].reference_timeouts, None);
    // Off unless asked for; `{}` means the defaults; an exercise may set its own.
    let plain = ok(&with_tests(
        "[[exercise.test]]\nkind = \"output\"\nname = \"a\"\n",
    ));
    assert_eq!(plain.exercises[0].reference_timeouts, None);
    let own = ok("lab = \"x\"\ntitle = \"X\"\n\
                  [[exercise]]\nid = \"p\"\nbinary = \"pool_sum\"\ntimeout_from_reference = {}\n\
                  [[exercise.test]]\nkind = \"output\"\nname = \"t\"\n");
    assert_eq!(
        own.exercises[0].reference_timeouts,
        Some(ReferenceTimeouts::DEFAULT)
    );
    // The built-in spec derives pool_sum's limits from the yardstick.
    let builtin = builtin();
    assert!(builtin.exercises[0].reference_timeouts.is_some());
    assert!(builtin.exercises[1].reference_timeouts.is_none());
}

#[test]
fn timeout_from_reference_is_generous_and_only_on_pool_sum() {
    let src = "lab = \"x\"\ntitle = \"X\"\n[defaults]\n\
               timeout_from_reference = { multiple = 2, floor = \"100ms\" }\n\
               [[exercise]]\nid = \"c\"\nbinary = \"counter\"\n\
               timeout_from_reference = { floor = 2, factor = 3 }\n\
               [[exercise.test]]\nkind = \"output\"\nname = \"t\"\n";
    // Unknown keys are the TOML layer's error, reported alone.
    let e = errors(src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.toml:8:") && e[0].contains("factor"),
        "{e:?}"
    );
    let src = src.replace(", factor = 3", "");
    assert_eq!(
        errors(&src),
        [
            "t.toml:4:39: error: `multiple` must be a whole number from 5 to 1000; got 2: a \
             correct pool may be several times slower than the reference and run on a busier \
             machine, and must never lose a point to its limit",
            "t.toml:4:50: error: `floor` must be at least 1 s: it absorbs starting the program \
             in the sandbox and a busy machine",
            "t.toml:8:26: error: `timeout_from_reference` applies only to an exercise of \
             `pool_sum`: the reference solution is a `pool_sum`, and nothing else can be timed \
             against it",
        ]
    );
}

//! Tests of the static hints on source snippets and on the fixtures' counters.

use super::*;

fn kinds(hints: &[Hint]) -> Vec<&'static str> {
    hints
        .iter()
        .map(|h| match h {
            Hint::LoadThenStore { .. } => "load-then-store",
            Hint::SplitByUnlock { .. } => "split-by-unlock",
            Hint::CompoundThroughPointer { .. } => "compound",
            Hint::StdMutexAcrossFork { .. } => "std-mutex",
        })
        .collect()
}

#[test]
fn an_atomic_load_then_store_is_named_with_its_lines() {
    let hints = scan(
        "fn work(c: &AtomicU64, k: u64) {\n    for _ in 0..k {\n        \
         let v = c.load(Ordering::SeqCst);\n        c.store(v + 1, Ordering::SeqCst);\n    }\n}\n",
    );
    assert_eq!(
        hints,
        [Hint::LoadThenStore {
            target: "c".into(),
            load_line: 3,
            store_line: 4
        }]
    );
    assert_eq!(
        hints[0].describe("src/bin/counter.rs"),
        "src/bin/counter.rs line 3 loads and line 4 stores the same shared value (`c`): another \
         process can write between them; one atomic fetch_add does both at once"
    );
}

#[test]
fn volatile_reads_and_writes_are_loads_and_stores() {
    let two_lines = scan(
        "fn work(p: *mut u64) {\n    unsafe {\n        let x = ptr::read_volatile(p);\n        \
         ptr::write_volatile(p, x + 1);\n    }\n}\n",
    );
    assert_eq!(kinds(&two_lines), ["load-then-store"]);
    let one_line = scan("fn f(p: *mut u64) { unsafe { p.write_volatile(p.read_volatile() + 1) } }");
    assert_eq!(
        one_line,
        [Hint::LoadThenStore {
            target: "p".into(),
            load_line: 1,
            store_line: 1
        }]
    );
    assert!(one_line[0]
        .describe("f.rs")
        .contains("line 1 loads and then stores `p`"));
    // Different locations are not a pair.
    assert!(scan("fn f() { let x = a.load(SeqCst); b.store(x, SeqCst); }").is_empty());
}

#[test]
fn a_read_under_the_lock_and_a_write_after_it_is_split() {
    let hints = scan(
        "fn f(s: *mut Shared) {\n    unsafe {\n        pthread_mutex_lock(lock);\n        \
         let x = ptr::read_volatile(ptr::addr_of_mut!((*s).count));\n        \
         pthread_mutex_unlock(lock);\n        \
         ptr::write_volatile(ptr::addr_of_mut!((*s).count), x + 1);\n    }\n}\n",
    );
    assert_eq!(
        hints,
        [Hint::SplitByUnlock {
            target: "(*s).count".into(),
            load_line: 4,
            unlock_line: 5,
            store_line: 6
        }]
    );
    assert!(hints[0]
        .describe("c.rs")
        .contains("line 4 reads `(*s).count` under the lock, line 5 releases it and line 6"));
}

#[test]
fn a_whole_increment_under_a_lock_is_fine() {
    let pthread =
        "fn f(p: *mut u64) {\n    unsafe {\n        libc::pthread_mutex_lock(l);\n        \
                   *p += 1;\n        libc::pthread_mutex_unlock(l);\n    }\n}\n";
    assert!(scan(pthread).is_empty(), "{:?}", scan(pthread));
    let guard = "fn f(m: &Mutex<()>, p: *mut u64) {\n    let _g = m.lock().unwrap();\n    \
                 let x = unsafe { p.read_volatile() };\n    unsafe { p.write_volatile(x + 1) };\n}\n";
    assert!(scan(guard).is_empty(), "{:?}", scan(guard));
}

#[test]
fn an_increment_through_a_raw_pointer_is_a_load_and_a_store() {
    for src in [
        "fn f(p: *mut u64) { unsafe { *p += 1; } }",
        "fn f(p: *mut u64) { unsafe { *p = *p + 1; } }",
        "fn f(r: *mut Raw) { unsafe { (*r).value = (*r).value + 1 } }",
    ] {
        assert_eq!(kinds(&scan(src)), ["compound"], "{src}");
    }
    // Not through a pointer, not an increment, or not in unsafe code.
    for src in [
        "fn f() { let mut x = 0; x += 1; }",
        "fn f(p: &mut u64) { *p += 1; }",
        "fn f(p: *mut u64) { unsafe { let y = *p + 1; } }",
        "fn f(p: *mut u64) { unsafe { if *p == 1 { } } }",
    ] {
        assert!(scan(src).is_empty(), "{src}: {:?}", scan(src));
    }
}

#[test]
fn the_racy_modes_own_load_and_store_are_not_hinted() {
    let reference = "fn work(w: *mut u64, safe: bool, k: u64) {\n    if safe {\n        \
                     c.fetch_add(1, SeqCst);\n    } else {\n        unsafe {\n            \
                     let x = ptr::read_volatile(w);\n            ptr::write_volatile(w, x + 1);\n\
                     \x20       }\n    }\n}\n";
    assert!(scan(reference).is_empty(), "{:?}", scan(reference));
    for header in [
        "if !safe",
        "if mode == \"racy\"",
        "Mode::Racy =>",
        "fn racy_work(p: *mut u64)",
        "fn unsynchronised(p: *mut u64)",
    ] {
        let src = format!("fn g(p: *mut u64) {{ {header} {{ unsafe {{ *p += 1; }} }} }}");
        assert!(scan(&src).is_empty(), "{header}: {:?}", scan(&src));
    }
    // A helper called only from the racy arm is racy code too; called from the safe arm, not.
    let helper = |arm: &str| {
        format!(
            "fn bump(p: *mut u64) {{ unsafe {{ *p += 1; }} }}\n\
             fn main() {{ match mode {{ {arm} => {{ bump(p); }} _ => {{}} }} }}"
        )
    };
    assert!(scan(&helper("Mode::Racy")).is_empty());
    assert_eq!(kinds(&scan(&helper("Mode::Safe"))), ["compound"]);
    // `else` of a negated condition is the safe path.
    let negated = "fn f(p: *mut u64) { if !safe { a(); } else { unsafe { *p += 1; } } }";
    assert_eq!(kinds(&scan(negated)), ["compound"]);
}

#[test]
fn comments_and_strings_are_not_code() {
    let src = "fn f(p: *mut u64) {\n    // let v = c.load(SeqCst); c.store(v + 1, SeqCst);\n    \
               let s = \"unsafe { *p += 1; }\";\n    /* *p += 1; */\n}\n";
    assert!(scan(src).is_empty(), "{:?}", scan(src));
}

#[test]
fn a_std_mutex_in_a_forking_program_is_hinted_once() {
    let src =
        "fn main() {\n    let m = Mutex::new(());\n    match unsafe { fork() } { _ => {} }\n}\n";
    assert_eq!(scan(src), [Hint::StdMutexAcrossFork { line: 2 }]);
    assert!(scan("fn main() { let m = Mutex::new(()); }").is_empty());
}

/// The fixtures' counters: the correct ones get no hint, each buggy one the hint of its bug
/// (or none, where the bug is not in the increment).
#[test]
fn the_fixture_counters_get_the_hints_of_their_bugs() {
    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                "../../../fixtures/submissions/",
                $name,
                "/src/bin/counter.rs"
            ))
        };
    }
    let cases: &[(&str, &str, &[&str])] = &[
        ("reference", fixture!("reference"), &[]),
        ("counter_atomic", fixture!("counter_atomic"), &[]),
        (
            "counter_pthread_mutex",
            fixture!("counter_pthread_mutex"),
            &[],
        ),
        ("counter_not_shared", fixture!("counter_not_shared"), &[]),
        ("prints_before_wait", fixture!("prints_before_wait"), &[]),
        ("never_reaped", fixture!("never_reaped"), &[]),
        ("inclusive_loop", fixture!("inclusive_loop"), &[]),
        (
            "plain_increment",
            fixture!("plain_increment"),
            &["compound"],
        ),
        (
            "atomic_load_store",
            fixture!("atomic_load_store"),
            &["load-then-store"],
        ),
        (
            "racy_counter",
            fixture!("racy_counter"),
            &["load-then-store"],
        ),
        (
            "lock_around_read_only",
            fixture!("lock_around_read_only"),
            &["split-by-unlock"],
        ),
        (
            "mutex_before_fork",
            fixture!("mutex_before_fork"),
            &["std-mutex"],
        ),
        (
            "mutex_in_shared_page",
            fixture!("mutex_in_shared_page"),
            &["std-mutex"],
        ),
    ];
    for &(name, source, expected) in cases {
        assert_eq!(kinds(&scan(source)), expected, "{name}: {:?}", scan(source));
    }
}

/// Work done by `scan(source)`, in the lexer's `step` units.
fn steps_of(source: &str) -> u64 {
    let before = lexer::STEPS.with(|s| s.get());
    let _ = scan(source);
    lexer::STEPS.with(|s| s.get()) - before
}

/// Shapes that made earlier passes quadratic, each about 2 MB: the scan's work must stay a
/// small multiple of the length (a quadratic pass would be about a million times it). Counted
/// in steps, not timed: the test cannot flake on a busy machine.
#[test]
fn pathological_sources_cost_work_linear_in_their_length() {
    const LEN: usize = 2 << 20;
    let fill = |unit: &str, head: &str, tail: &str| {
        let mut s = String::from(head);
        while s.len() < LEN {
            s.push_str(unit);
        }
        s.push_str(tail);
        s
    };
    let cases = [
        // One statement: a word, then spaces (the lexer once trimmed per character).
        ("spaces", fill(" ", "fn f() { a", "; }")),
        // One statement of chained loads (each receiver walked back to the start).
        ("chain", fill(".load(SeqCst)", "fn f() { let x = a", "; }")),
        // One statement of many loads then many stores of other targets.
        (
            "loads-stores",
            fill("a.load(o) + b.store(c, o) + ", "fn f() { let x = ", "0; }"),
        ),
        // Blocks nested deep, a statement in each (every statement walked its blocks).
        ("nesting", fill("if !safe { p.load(o); ", "fn f() { ", "}")),
        // Thousands of functions, each called once (every function searched every statement).
        ("functions", {
            let mut s = String::new();
            let mut i = 0;
            while s.len() < LEN {
                s.push_str(&format!("fn f{i}() {{ f{i}(); }} "));
                i += 1;
            }
            s
        }),
        // Guards taken and dropped (each drop searched every guard).
        ("guards", {
            let mut s = String::from("fn f() { ");
            let mut i = 0;
            while s.len() < LEN {
                s.push_str(&format!("let g{i} = m.lock(); drop(g{i}); x.load(o); "));
                i += 1;
            }
            s.push('}');
            s
        }),
        // A long first argument, and a long unclosed call.
        ("argument", fill("(", "fn f() { read_volatile(", "); }")),
    ];
    for (name, source) in &cases {
        let steps = steps_of(source);
        assert!(
            steps <= 64 * source.len() as u64,
            "{name}: {steps} steps for {} bytes",
            source.len()
        );
    }
}

#[test]
fn only_small_regular_files_are_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("bin")).unwrap();
    let racy = "fn f(p: *mut u64) { unsafe { *p += 1; } }";
    std::fs::write(src.join("bin/counter.rs"), racy).unwrap();
    assert_eq!(for_submission(dir.path(), "counter").len(), 1);
    // A huge file, a link to /dev/zero and a FIFO beside it: skipped, never read to the end.
    std::fs::write(
        src.join("huge.rs"),
        format!("{racy}{}", " ".repeat(MAX_FILE_BYTES as usize)),
    )
    .unwrap();
    std::os::unix::fs::symlink("/dev/zero", src.join("zero.rs")).unwrap();
    nix::unistd::mkfifo(
        &src.join("pipe.rs"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    std::os::unix::fs::symlink(src.join("bin/counter.rs"), src.join("link.rs")).unwrap();
    assert_eq!(for_submission(dir.path(), "counter").len(), 1);
}

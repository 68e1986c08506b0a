//! The sandbox's cost per run: `/bin/true` spawned bare (std::process), through the portable
//! layer (with and without its ptrace audit), and through every layer (namespaces, minimal file system view, cgroup, unprivileged
//! user, process audit), measured side by side in one run. Race probes run a program hundreds
//! of times per submission, so this cost matters.
//!
//! Run with: `cargo bench --bench sandbox_cost` (uses the release `labgrade` binary as the
//! sandbox init).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use labgrade::sandbox::{self, Isolation, Job, Layers, Limits, Visible};

const RUNS: usize = 200;

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn time(mut once: impl FnMut()) -> f64 {
    for _ in 0..10 {
        once();
    }
    median_ms(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                once();
                t.elapsed()
            })
            .collect(),
    )
}

/// Medians of `once(true)` and `once(false)`, alternated run by run so that the machine's load
/// falls on both alike.
fn paired(mut once: impl FnMut(bool)) -> (f64, f64) {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for i in 0..RUNS * 2 + 20 {
        let with = i % 2 == 0;
        let t = Instant::now();
        once(with);
        if i >= 20 {
            if with {
                on.push(t.elapsed())
            } else {
                off.push(t.elapsed())
            }
        }
    }
    (median_ms(on), median_ms(off))
}

fn job(isolation: Isolation) -> Job {
    Job {
        program: "/bin/true".into(),
        args: vec![],
        cwd: "/".into(),
        env: sandbox::minimal_env(),
        limits: Limits::for_run(Duration::from_secs(10)),
        isolation,
        keep_visible: vec![Visible::read_only(Path::new("/bin/true"))],
    }
}

fn main() {
    std::env::set_var("LABGRADE_INIT", env!("CARGO_BIN_EXE_labgrade"));
    let bare = time(|| {
        Command::new("/bin/true").status().unwrap();
    });
    let portable = time(|| {
        sandbox::run(&job(Isolation::Portable)).unwrap();
    });
    println!("sandbox cost per run of /bin/true (median of {RUNS}, ms)");
    println!("  bare std::process::Command   {bare:7.2}");
    println!(
        "  portable layer               {portable:7.2}  (+{:.2})",
        portable - bare
    );
    if Layers::get().ptrace.is_ok() {
        // A run of student code on the portable path, as in a container: traced and audited.
        sandbox::portable_for_benchmarks(true);
        let traced = time(|| {
            let out = sandbox::run(&job(Isolation::Full)).unwrap();
            assert!(!out.isolated && out.audit.is_some());
        });
        sandbox::portable_for_benchmarks(false);
        println!(
            "  portable + ptrace audit      {traced:7.2}  (+{:.2})",
            traced - bare
        );
    } else {
        println!("  ptrace audit: skipped ({:?})", Layers::get().ptrace);
    }
    if Layers::get().isolated() {
        let build = time(|| {
            sandbox::run(&job(Isolation::Build)).unwrap();
        });
        let full = time(|| {
            let out = sandbox::run(&job(Isolation::Full)).unwrap();
            assert!(out.isolated && out.audit.is_some());
        });
        println!(
            "  namespaces + view + cgroup   {build:7.2}  (+{:.2})",
            build - bare
        );
        println!(
            "  every layer + process audit  {full:7.2}  (+{:.2})",
            full - bare
        );
    } else {
        println!("  namespaces: skipped ({:?})", Layers::get().namespaces);
    }
    if let Err(why) = &Layers::get().landlock {
        println!("  landlock: skipped ({why})");
    } else {
        let mut kinds = vec![("portable", Isolation::Portable)];
        if Layers::get().isolated() {
            kinds.push(("every layer", Isolation::Full));
        }
        for (name, isolation) in kinds {
            let (with, without) = paired(|on| {
                sandbox::landlock_for_benchmarks(on);
                sandbox::run(&job(isolation)).unwrap();
            });
            println!(
                "  {name}: with landlock {with:.2}, without {without:.2}  (landlock: {:+.2}, runs alternated)",
                with - without
            );
        }
        sandbox::landlock_for_benchmarks(true);
    }
    sandbox::remove_idle_cgroups();
}

//! The sandbox's cost per run: `/bin/true` spawned bare (std::process), through the portable
//! layer, and through every layer (namespaces, minimal file system view, cgroup, unprivileged
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
    // Landlock (on by default) is measured as the difference from runs without it, measured
    // after the others in the same process: the switch cannot be turned back on.
    println!("sandbox cost per run of /bin/true (median of {RUNS}, ms)");
    println!("  bare std::process::Command   {bare:7.2}");
    println!(
        "  portable layer               {portable:7.2}  (+{:.2})",
        portable - bare
    );
    let mut full_with_landlock = None;
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
        full_with_landlock = Some(full);
    } else {
        println!("  namespaces: skipped ({:?})", Layers::get().namespaces);
    }
    if let Err(why) = &Layers::get().landlock {
        println!("  landlock: skipped ({why})");
    } else {
        sandbox::bench_without_landlock();
        let portable_bare = time(|| {
            sandbox::run(&job(Isolation::Portable)).unwrap();
        });
        println!(
            "  portable without landlock    {portable_bare:7.2}  (landlock: {:+.2})",
            portable - portable_bare
        );
        if let Some(full) = full_with_landlock {
            let full_bare = time(|| {
                sandbox::run(&job(Isolation::Full)).unwrap();
            });
            println!(
                "  every layer without landlock {full_bare:7.2}  (landlock: {:+.2})",
                full - full_bare
            );
        }
    }
    sandbox::remove_idle_cgroups();
}

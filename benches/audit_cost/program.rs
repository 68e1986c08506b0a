//! The workloads of `benches/audit_cost.rs`, compiled by the bench with `rustc -O` (std only:
//! `fork`, `waitpid`, `setsid` come from the C library std already links).
//!
//! `program MODE [ITERS]`: `pool` (8 worker processes summing a range each, waited for),
//! `writers` (16 processes that exit at once, waited for), `threads` (4 threads, no process),
//! `daemon` (a double-fork `setsid` daemon that outlives the main process by 200 ms).
//! Every mode ends on its own: the work is bounded, the daemon exits after 200 ms, and the main
//! process asks for SIGALRM after 3 s in case a tracer under test loses track of a child.

use std::hint::black_box;
use std::time::Duration;

extern "C" {
    fn fork() -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn setsid() -> i32;
    fn alarm(seconds: u32) -> u32;
    fn _exit(code: i32) -> !;
}

const WORKERS: u64 = 8;
const WRITERS: usize = 16;
const THREADS: u64 = 4;

/// Sums `lo..hi` one number at a time (`black_box` keeps the optimiser from a closed form).
fn sum(lo: u64, hi: u64) -> u64 {
    let mut s = 0u64;
    for i in lo..hi {
        s = black_box(s.wrapping_add(i));
    }
    s
}

fn wait_all(n: usize) {
    for _ in 0..n {
        let mut status = 0;
        // SAFETY: plain syscall with a valid out-pointer.
        unsafe { waitpid(-1, &mut status, 0) };
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let iters: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    // SAFETY: plain syscalls; the process is single-threaded whenever it forks.
    unsafe {
        alarm(3);
        match mode {
            "pool" => {
                for w in 0..WORKERS {
                    if fork() == 0 {
                        let s = sum(w * iters, (w + 1) * iters);
                        _exit((s & 1) as i32);
                    }
                }
                wait_all(WORKERS as usize);
            }
            "writers" => {
                for _ in 0..WRITERS {
                    if fork() == 0 {
                        _exit(0);
                    }
                }
                wait_all(WRITERS);
            }
            "threads" => {
                let handles: Vec<_> = (0..THREADS)
                    .map(|t| std::thread::spawn(move || sum(t * iters, (t + 1) * iters)))
                    .collect();
                let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
                black_box(total);
            }
            "daemon" => {
                let child = fork();
                if child == 0 {
                    setsid();
                    if fork() == 0 {
                        std::thread::sleep(Duration::from_millis(200));
                        _exit(0);
                    }
                    _exit(0);
                }
                let mut status = 0;
                waitpid(child, &mut status, 0);
            }
            _ => {
                eprintln!("usage: program pool|writers|threads|daemon [ITERS]");
                _exit(2);
            }
        }
    }
}

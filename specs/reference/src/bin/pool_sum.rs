//! Fixture `reference`: the course's reference solution of `pool_sum N P` (correct and clean).
//! Splits 1..=N into P contiguous chunks, forks one worker process per chunk, each worker sends
//! its partial sum (u128, 16 bytes little-endian) through its own pipe; the parent adds them up.
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult, Pid};
use std::fs::File;
use std::io::{Read, Write};
use std::process::exit;

const MAX_N: u64 = 10_000_000_000;
const MAX_P: u64 = 64;

/// Prints a message and the usage on stderr, then exits with status 2.
fn usage(msg: &str) -> ! {
    eprintln!("pool_sum: {msg}");
    eprintln!("usage: pool_sum N P   (0 <= N <= {MAX_N}, 1 <= P <= {MAX_P})");
    exit(2);
}

fn parse_args() -> (u64, u64) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 {
        usage("expected exactly two arguments");
    }
    let n: u64 = args[0].parse().unwrap_or_else(|_| usage(&format!("N is not a number: {:?}", args[0])));
    let p: u64 = args[1].parse().unwrap_or_else(|_| usage(&format!("P is not a number: {:?}", args[1])));
    if n > MAX_N {
        usage(&format!("N must be at most {MAX_N}"));
    }
    if !(1..=MAX_P).contains(&p) {
        usage(&format!("P must be between 1 and {MAX_P}"));
    }
    (n, p)
}

/// The `i`-th of `p` nearly equal contiguous chunks of 1..=n, as an inclusive range `(lo, hi)`.
/// The first `n % p` chunks get one number more; a chunk is empty when `lo > hi` (e.g. p > n).
fn chunk(n: u64, p: u64, i: u64) -> (u64, u64) {
    let (base, extra) = (n / p, n % p);
    let before = i * base + i.min(extra); // how many numbers the chunks 0..i hold
    let len = base + u64::from(i < extra);
    (before + 1, before + len)
}

/// Sums lo..=hi with a real loop (overflow checks keep LLVM from folding it into a formula).
fn partial_sum(lo: u64, hi: u64) -> u128 {
    (lo..=hi).map(u128::from).sum()
}

fn run(n: u64, p: u64) -> Result<u128, String> {
    let mut workers: Vec<(Pid, File)> = Vec::new();
    for i in 0..p {
        let (rx, tx) = pipe().map_err(|e| format!("pipe: {e}"))?;
        // SAFETY: single-threaded program; the child only computes, writes and exits.
        match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
            ForkResult::Child => {
                drop(rx);
                let (lo, hi) = chunk(n, p, i);
                let ok = File::from(tx).write_all(&partial_sum(lo, hi).to_le_bytes()).is_ok();
                exit(if ok { 0 } else { 1 });
            }
            ForkResult::Parent { child } => {
                drop(tx); // keep only the read end, so EOF shows a dead worker
                workers.push((child, File::from(rx)));
            }
        }
    }
    let mut total: u128 = 0;
    let mut failure = None;
    for (pid, mut rx) in workers {
        let mut buf = [0u8; 16];
        match rx.read_exact(&mut buf) {
            Ok(()) => total += u128::from_le_bytes(buf),
            Err(e) => failure = Some(format!("worker {pid}: no partial sum ({e})")),
        }
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, 0)) => {}
            Ok(status) => failure = Some(format!("worker {pid} failed: {status:?}")),
            Err(e) => failure = Some(format!("waitpid {pid}: {e}")),
        }
    }
    failure.map_or(Ok(total), Err)
}

fn main() {
    let (n, p) = parse_args();
    match run(n, p) {
        Ok(total) => println!("{total}"),
        Err(e) => {
            eprintln!("pool_sum: {e}");
            exit(1);
        }
    }
}

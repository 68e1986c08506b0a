//! Fixture `reference`: the course's reference solution of `counter MODE P K` (correct and clean).
//! One u64 counter lives in an anonymous MAP_SHARED page; P forked workers each add 1 to it K times,
//! `safe` with an atomic fetch_add, `racy` with the lecture's unsynchronised volatile read + write.
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::num::NonZeroUsize;
use std::process::exit;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

const MAX_P: u64 = 64;
const MAX_K: u64 = 100_000_000;

/// Prints a message and the usage on stderr, then exits with status 2.
fn usage(msg: &str) -> ! {
    eprintln!("counter: {msg}");
    eprintln!("usage: counter safe|racy P K   (1 <= P <= {MAX_P}, 0 <= K <= {MAX_K})");
    exit(2);
}

fn parse_args() -> (bool, u64, u64) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        usage("expected exactly three arguments");
    }
    let safe = match args[0].as_str() {
        "safe" => true,
        "racy" => false,
        other => usage(&format!("MODE must be safe or racy, not {other:?}")),
    };
    let p: u64 = args[1].parse().unwrap_or_else(|_| usage(&format!("P is not a number: {:?}", args[1])));
    let k: u64 = args[2].parse().unwrap_or_else(|_| usage(&format!("K is not a number: {:?}", args[2])));
    if !(1..=MAX_P).contains(&p) {
        usage(&format!("P must be between 1 and {MAX_P}"));
    }
    if k > MAX_K {
        usage(&format!("K must be at most {MAX_K}"));
    }
    (safe, p, k)
}

/// The worker: adds 1 to the shared word K times.
fn work(word: *mut u64, safe: bool, k: u64) {
    if safe {
        // SAFETY: the word is 8-byte aligned (start of a page) and lives as long as the process.
        let counter = unsafe { AtomicU64::from_ptr(word) };
        for _ in 0..k {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    } else {
        for _ in 0..k {
            // The lecture's race: read, then write back; updates of other workers in between are lost.
            unsafe {
                let x = ptr::read_volatile(word);
                ptr::write_volatile(word, x + 1);
            }
        }
    }
}

fn main() {
    let (safe, p, k) = parse_args();
    let len = NonZeroUsize::new(4096).unwrap();
    let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a fresh anonymous mapping, zero-filled, shared with the children we fork.
    let page = unsafe { mmap_anonymous(None, len, prot, MapFlags::MAP_SHARED) }.unwrap_or_else(|e| {
        eprintln!("counter: mmap: {e}");
        exit(1)
    });
    let word = page.as_ptr().cast::<u64>();

    let mut children = Vec::new();
    let mut failed = false;
    for _ in 0..p {
        // SAFETY: single-threaded program; the child only works on the shared page and exits.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                work(word, safe, k);
                exit(0);
            }
            Ok(ForkResult::Parent { child }) => children.push(child),
            Err(e) => {
                eprintln!("counter: fork: {e}");
                failed = true;
                break;
            }
        }
    }
    for pid in children {
        if !matches!(waitpid(pid, None), Ok(WaitStatus::Exited(_, 0))) {
            eprintln!("counter: worker {pid} failed");
            failed = true;
        }
    }
    if failed {
        exit(1);
    }
    // SAFETY: all workers are gone; the page is still mapped in the parent.
    println!("{}", unsafe { AtomicU64::from_ptr(word) }.load(Ordering::SeqCst));
    // SAFETY: `page` came from mmap with this length and is no longer used.
    unsafe { munmap(page, len.get()) }.expect("munmap");
}

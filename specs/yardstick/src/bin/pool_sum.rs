//! The speedup yardstick: a neutral parallel workload shaped like `pool_sum N P`, timed beside
//! a student's pool when the spec names no reference solution of its own.
//!
//! It is not a solution of the lab and prints no sum: P forked workers each mix their share of
//! the items 1..=N into one word (chains of rotations and exclusive ors, one cheap step per
//! item, which no compiler can shorten), send it through a pipe, and the parent prints the
//! words combined. Its time grows with N like a good pool's, and divides by P like one.

/// Stops with a message on stderr.
fn die(what: &str) -> ! {
    eprintln!("yardstick: {what}");
    std::process::exit(2)
}

/// The `index`-th command-line argument as a number.
fn number(index: usize) -> u64 {
    let text = std::env::args().nth(index);
    match text.as_deref().map(str::parse::<u64>) {
        Some(Ok(value)) => value,
        _ => die("usage: pool_sum N P"),
    }
}

/// Folds the items `first..=last` into one word, each step needing the previous one of its
/// chain. Two chains take the items in turn: one step of rotation and exclusive or per item
/// then costs about what adding a number to a total does in a checked loop, so N calibrated on
/// this program suits a student's pool too.
fn mix(first: u64, last: u64) -> u64 {
    let (mut even, mut odd): (u64, u64) = (0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d);
    let mut item = first;
    while item < last {
        even = even.rotate_left(7) ^ item;
        odd = odd.rotate_left(11) ^ (item + 1);
        item += 2;
    }
    if item == last {
        even = even.rotate_left(7) ^ item;
    }
    even ^ odd.rotate_left(32)
}

fn main() {
    let items = number(1);
    let workers = number(2).clamp(1, 64);
    let mut children: Vec<(libc::pid_t, libc::c_int)> = Vec::with_capacity(workers as usize);
    for w in 0..workers {
        let first = items * w / workers + 1;
        let last = items * (w + 1) / workers;
        let mut ends: [libc::c_int; 2] = [-1, -1];
        // SAFETY: `ends` has room for the two descriptors pipe(2) writes.
        if unsafe { libc::pipe(ends.as_mut_ptr()) } != 0 {
            die("pipe failed");
        }
        // SAFETY: this program runs one thread; the child only computes, writes and leaves.
        match unsafe { libc::fork() } {
            -1 => die("fork failed"),
            0 => {
                let word = mix(first, last).to_ne_bytes();
                // SAFETY: writes the 8 bytes of `word` to the pipe this child owns.
                let sent = unsafe { libc::write(ends[1], word.as_ptr().cast(), word.len()) };
                // SAFETY: leaving the child without running the parent's exit handlers.
                unsafe { libc::_exit(if sent == 8 { 0 } else { 1 }) }
            }
            child => {
                // SAFETY: the write end is the child's; the parent keeps the read end.
                unsafe { libc::close(ends[1]) };
                children.push((child, ends[0]));
            }
        }
    }
    let mut combined: u64 = 0;
    for (child, from) in children {
        let mut word = [0u8; 8];
        // SAFETY: reads at most 8 bytes into `word`, then reaps `child` and closes `from`.
        let (got, status) = unsafe {
            let got = libc::read(from, word.as_mut_ptr().cast(), word.len());
            let mut status: libc::c_int = 0;
            libc::waitpid(child, &mut status, 0);
            libc::close(from);
            (got, status)
        };
        if got != 8 || status != 0 {
            die("a worker did not report");
        }
        combined = combined.wrapping_add(u64::from_ne_bytes(word));
    }
    println!("{combined:016x}");
}

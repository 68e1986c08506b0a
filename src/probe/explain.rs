//! Turning a wrong number into a hint a student can act on.
//!
//! A wrong total is evidence: a gap equal to the sum of a range of numbers points at a chunk
//! boundary; a total equal to the right one modulo 2^64 points at a `u64` that wrapped; a counter
//! short by a multiple of `K` points at a worker whose work never arrived.

use crate::spec::{triangular, StdoutCheck};

/// Ranges longer than this are not searched for (the search is O(length)).
const MAX_RANGE_LEN: u128 = 100_000;

/// The message for a run of `command` (with `args`) that printed `got` instead of what `check`
/// expects. For a sum, the run's pool size is `args[1]` (CONTRACT §1: `pool_sum N P`): the
/// numbers missing for that P are what tell one chunking bug from another.
pub(super) fn wrong_output(
    command: &str,
    args: &[String],
    check: &StdoutCheck,
    got: &str,
) -> String {
    let expected = check.expected_text();
    let head = format!("`{command}` printed {}, expected {expected}", shown(got));
    let workers = args
        .get(1)
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|&p| p > 0);
    let Some(hint) = hint(check, workers, got) else {
        return head;
    };
    format!("{head}: {hint}")
}

fn shown(got: &str) -> String {
    if got.is_empty() {
        return "nothing".to_string();
    }
    let first = got.lines().next().unwrap_or("");
    let mut s: String = first.chars().take(60).collect();
    if s.len() < got.len() {
        s.push('…');
    }
    format!("{s:?}")
}

fn hint(check: &StdoutCheck, workers: Option<u64>, got: &str) -> Option<String> {
    if got.is_empty() {
        return Some("print the result as one decimal line on stdout".to_string());
    }
    let lines: Vec<&str> = got.lines().collect();
    let expected = check.expected_text();
    if lines.len() > 1 {
        if lines.iter().any(|l| l.trim() == expected) {
            return Some(format!(
                "the right number is there, but among {} lines: print only the result on \
                 stdout (debug output goes to stderr)",
                lines.len()
            ));
        }
        return Some(format!("expected one line, got {}", lines.len()));
    }
    let Ok(value) = got.parse::<u128>() else {
        return Some("expected a decimal number".to_string());
    };
    match check {
        StdoutCheck::SumTo { n } => Some(sum_hint(*n, workers, value)),
        StdoutCheck::Product { factors } => Some(product_hint(factors, value)),
        StdoutCheck::Equals(_) => None,
    }
}

fn sum_hint(n: u64, workers: Option<u64>, got: u128) -> String {
    let want = triangular(n);
    let wrapped = want % (1u128 << 64);
    if want > u64::MAX as u128 && got == wrapped {
        return "the total wrapped around 2^64: a u64 overflowed; sum into a u128".to_string();
    }
    if let Some(hint) = workers.and_then(|p| truncated_hint(want, p, got)) {
        return hint;
    }
    let diff = want.abs_diff(got);
    // The remainder first: `chunk = n / p` drops the last `n % p` numbers, which no exclusive
    // bound explains (and an inclusive loop may already be there).
    let remainder = workers.and_then(|p| remainder_hint(n, p, diff, got < want));
    // A chunk-boundary explanation beats a contiguous range: it names the usual bug. With the
    // run's P known, only that P's chunks are evidence.
    let boundary = boundary_hint(n, workers, diff, got < want);
    match (remainder, boundary) {
        (Some(r), Some(_)) => {
            return format!(
                "{r} (or an exclusive bound `lo..hi` on one-number chunks: a run with N > P tells them apart)"
            )
        }
        (Some(hint), None) | (None, Some(hint)) => return hint,
        (None, None) => {}
    }
    // Nothing at all arrived: the classic `fork` misunderstanding, not a range bug.
    if got == 0 {
        return "the total stayed 0: no partial sum reached the parent. After `fork` each worker \
                adds into its own copy of the parent's memory, so a total the workers add to \
                stays 0 in the parent: send each partial sum back (a pipe per worker, or a \
                MAP_SHARED mapping made before the fork)"
            .to_string();
    }
    if got < want {
        let gap = want - got;
        match range_summing_to(gap, n) {
            Some((a, b)) if a == b => format!("short by {gap}: the number {a} was not summed?"),
            Some((a, b)) => format!("short by {gap}: the numbers {a}..={b} were not summed?"),
            None => format!(
                "short by {gap}: are some numbers at the chunk boundaries missing? Check that \
                 the chunks cover 1..=N exactly once"
            ),
        }
    } else {
        let extra = got - want;
        match range_summing_to(extra, n) {
            Some((a, b)) if a == b => format!("over by {extra}: the number {a} was counted twice?"),
            Some((a, b)) => format!("over by {extra}: the numbers {a}..={b} were counted twice?"),
            None => format!("over by {extra}: do chunks overlap, or do workers sum outside 1..=N?"),
        }
    }
}

/// Each worker's partial sum cut to its lowest bits on its way to the parent: the total of P
/// values below 2^k, and right modulo 2^k whatever the chunking (the sum of the remainders is
/// the remainder of the sum). 8 bits is an exit status (`exit(sum)` keeps `sum % 256`); 32 a
/// `u32`/`i32` on the way (a cast, or 4 bytes through the pipe). A wrong total of another kind
/// meets both conditions by chance about once in 2^k.
fn truncated_hint(want: u128, p: u64, got: u128) -> Option<String> {
    let fits = |bits: u32| {
        let m = 1u128 << bits;
        want >= m && got < m * u128::from(p) && got % m == want % m
    };
    if fits(8) {
        return Some(
            "each worker's partial sum arrived cut to its lowest 8 bits (the total is right \
             modulo 256): an exit status holds only 0-255, so `exit(sum)` keeps `sum % 256`. \
             Send each partial sum through a pipe or shared memory, and keep the exit status \
             for success or failure"
                .to_string(),
        );
    }
    if fits(32) {
        return Some(
            "each worker's partial sum arrived cut to 32 bits (the total is right modulo \
             2^32): a u32 or i32 on its way (a cast, or 4 bytes through the pipe). Keep the \
             partial sums u128 (or u64 where they fit) from worker to parent"
                .to_string(),
        );
    }
    None
}

/// The chunk bounds `(first, last)` of splitting `1..=n` into `p` nearly equal parts the two
/// usual ways (the first `n % p` chunks one longer; or chunks of `ceil(n / p)`).
fn chunk_splits(n: u64, p: u64) -> [Vec<(u64, u64)>; 2] {
    let even = {
        let (base, extra) = (n / p, n % p);
        let mut lo = 1;
        (0..p)
            .map(|i| {
                let len = base + u64::from(i < extra);
                let c = (lo, lo + len - 1);
                lo += len;
                c
            })
            .filter(|(a, b)| a <= b)
            .collect()
    };
    let ceil = {
        let size = n.div_ceil(p);
        (0..p)
            .map(|i| (i * size + 1, ((i + 1) * size).min(n)))
            .filter(|(a, b)| a <= b)
            .collect()
    };
    [even, ceil]
}

/// "the remainder went to no worker": `p` chunks of `n / p` numbers cover `1..=p*(n/p)`, and
/// the last `n % p` numbers are missing, exactly `diff`.
fn remainder_hint(n: u64, p: u64, diff: u128, short: bool) -> Option<String> {
    let rest = n % p;
    let covered = n - rest;
    if !short || rest == 0 || diff != triangular(n) - triangular(covered) {
        return None;
    }
    let missing = if rest == 1 {
        format!("the number {n}")
    } else {
        format!("the numbers {}..={n}", covered + 1)
    };
    let empty = if n < p {
        format!(" (`n / p` = {n} / {p} = 0: every chunk is empty)")
    } else {
        String::new()
    };
    Some(format!(
        "short by {diff}: {missing}, the remainder of N / P, went to no worker{empty}: give the last `n % p` numbers to some worker"
    ))
}

/// "the last number of each chunk was not summed" and its kin, when the difference is exactly
/// the sum of the chunks' first or last numbers for the run's pool size (any size from 2 to 64
/// when it is not known).
fn boundary_hint(n: u64, workers: Option<u64>, diff: u128, short: bool) -> Option<String> {
    if diff == 0 || n == 0 {
        return None;
    }
    let sizes = match workers {
        // One chunk has no boundary: a plain missing number says it better.
        Some(p) if p < 2 => 0..=0,
        Some(p) => p.min(n)..=p.min(n),
        None => 2..=64u64.min(n),
    };
    for p in sizes.filter(|&p| p >= 2) {
        for split in chunk_splits(n, p) {
            let last = split.len() - 1;
            let candidates: [(&str, Vec<u64>); 3] = [
                (
                    "the last number of each",
                    split.iter().map(|c| c.1).collect(),
                ),
                (
                    "the first number of each",
                    split.iter().map(|c| c.0).collect(),
                ),
                (
                    "the boundary between each two",
                    split[..last].iter().map(|c| c.1).collect(),
                ),
            ];
            for (which, numbers) in candidates {
                if numbers.is_empty() || numbers.iter().map(|&x| x as u128).sum::<u128>() != diff {
                    continue;
                }
                let shown = if numbers.len() <= 8 {
                    format!(
                        " ({})",
                        numbers
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    String::new()
                };
                let (what, fix) = if short {
                    (
                        "was not summed",
                        "an exclusive bound (`lo..hi`) where `lo..=hi` was meant?",
                    )
                } else {
                    ("was counted twice", "neighbouring chunks share a bound?")
                };
                return Some(format!(
                    "{} by {diff}: that is {which} of {} chunks{shown}, which {what}: {fix}",
                    if short { "short" } else { "over" },
                    split.len()
                ));
            }
        }
    }
    None
}

fn product_hint(factors: &[u64], got: u128) -> String {
    let want: u128 = factors.iter().map(|&f| f as u128).product();
    if got == 0 && want > 0 {
        return "the counter stayed 0: is it in shared memory (an anonymous MAP_SHARED \
                mapping) and did the parent wait for the workers before printing?"
            .to_string();
    }
    if got > want {
        let extra = got - want;
        // One more increment per worker is a loop bound; exactly K more (or 2K…) is a worker
        // too many; any other multiple of P, more loops per worker.
        let per_worker = match factors {
            [workers, k] if *workers > 0 && *k > 0 => {
                let (workers, k) = (*workers as u128, *k as u128);
                if extra == workers {
                    ": 1 more per worker; does each worker loop K+1 times (`0..=k` instead of \
                     `0..k`)?"
                        .to_string()
                } else if extra % k == 0 {
                    let more = extra / k;
                    format!(
                        ": exactly {more} {} worth of {k} more; does the parent run the \
                         worker loop too, or does the fork loop start P+1 workers (`0..=p`)?",
                        if more == 1 { "worker's" } else { "workers'" }
                    )
                } else if extra % workers == 0 {
                    let each = extra / workers;
                    format!(
                        ": {each} more per worker; does each worker loop K+{each} times \
                         (`0..=k` instead of `0..k`)?"
                    )
                } else {
                    String::new()
                }
            }
            _ => String::new(),
        };
        return format!(
            "{extra} more than possible: no interleaving of {want} increments can produce \
             that{per_worker}"
        );
    }
    let lost = want - got;
    if let [1, _] = factors {
        return lost_hint(lost, Some(LossCause::PrintedEarly));
    }
    if let [workers, k] = factors {
        let k = *k as u128;
        if k > 0 && lost % k == 0 && lost / k < *workers as u128 {
            let workers = lost / k;
            return format!(
                "{}, exactly {workers} {} worth of {k}: did the parent wait for \
                 every worker before printing? (If it did, a worker's stale write erased the \
                 others' work: a race.)",
                updates_lost(lost),
                if workers == 1 { "worker's" } else { "workers'" }
            );
        }
    }
    lost_hint(lost, Some(LossCause::Race))
}

/// What made a counter lose updates, when the evidence decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LossCause {
    /// The parent read the counter before its workers had finished (one worker, which has
    /// nobody to race with, lost updates; or the race probe saw it print 0 with one worker).
    PrintedEarly,
    /// Increments overwrote each other (the race probe saw losses while one worker alone
    /// printed exactly K).
    Race,
}

/// "1 update lost", "483 updates lost": how every counter message written by [`lost_hint`]
/// starts, which marks it to be rewritten when the exercise's other tests decide the cause
/// (`super::consistent`, through [`mentions_lost`]).
pub(crate) fn updates_lost(lost: u128) -> String {
    crate::words::count(lost, "update lost", "updates lost")
}

/// Whether `message` names updates lost as [`updates_lost`] words it.
pub(crate) fn mentions_lost(message: &str) -> bool {
    message.contains(" updates lost") || message.contains(" update lost")
}

fn lost_hint(lost: u128, cause: Option<LossCause>) -> String {
    match cause {
        Some(LossCause::PrintedEarly) => format!(
            "{}: the parent printed before its workers had finished (with one worker, which has nobody to race with, updates were lost too): wait for every worker (waitpid) before reading the counter",
            updates_lost(lost)
        ),
        Some(LossCause::Race) | None => {
            format!(
                "{}: the increments are not synchronised (a race)",
                updates_lost(lost)
            )
        }
    }
}

/// The message of a counter run that printed `got` of `want`, once the cause is known.
pub(crate) fn lost_updates(command: &str, got: u128, want: u128, cause: LossCause) -> String {
    format!(
        "`{command}` printed {:?}, expected {want}: {}",
        got.to_string(),
        lost_hint(want.saturating_sub(got), Some(cause))
    )
}

/// A range `a..=b` within `1..=n` whose numbers add up to `total`, preferring the shortest
/// (one number, then two, …) up to [`MAX_RANGE_LEN`] numbers, then a missing head or tail.
fn range_summing_to(total: u128, n: u64) -> Option<(u64, u64)> {
    if total == 0 {
        return None;
    }
    let n = n as u128;
    // len numbers starting at a: len*a + len*(len-1)/2 = total.
    let mut len: u128 = 1;
    while len <= MAX_RANGE_LEN && len * (len + 1) / 2 <= total {
        let rest = total - len * (len - 1) / 2;
        if rest % len == 0 {
            let a = rest / len;
            let b = a + len - 1;
            if a >= 1 && b <= n {
                return Some((a as u64, b as u64));
            }
        }
        len += 1;
    }
    // A missing tail `a..=n`: triangular(n) - triangular(a-1) = total.
    let head_sum = triangular(n as u64).checked_sub(total)?;
    let a = inverse_triangular(head_sum)? + 1;
    (a <= n).then_some((a as u64, n as u64))
}

/// `m` with `triangular(m) == t`, if there is one.
fn inverse_triangular(t: u128) -> Option<u128> {
    // m ≈ sqrt(2t); correct the float estimate exactly.
    let guess = ((2.0 * t as f64).sqrt()) as u128;
    (guess.saturating_sub(2)..=guess + 2).find(|&m| m * (m + 1) / 2 == t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(n: u64, got: &str) -> String {
        wrong_output("pool_sum", &[], &StdoutCheck::SumTo { n }, got)
    }

    fn sum_p(n: u64, p: u64, got: &str) -> String {
        let args = [n.to_string(), p.to_string()];
        wrong_output("pool_sum", &args, &StdoutCheck::SumTo { n }, got)
    }

    #[test]
    fn a_dropped_remainder_is_not_called_an_exclusive_bound() {
        // pool_sum 10 3 with `chunk = n / p` = 3: 1..=9 summed, 10 lost (45).
        let msg = sum_p(10, 3, "45");
        assert!(
            msg.contains("short by 10: the number 10, the remainder of N / P, went to no worker"),
            "{msg}"
        );
        assert!(!msg.contains("lo..hi"), "{msg}");
        // pool_sum 1000003 4: chunks of 250000 cover 1..=1000000; 1000001..=1000003 lost.
        let got = triangular(1_000_000).to_string();
        let msg = sum_p(1_000_003, 4, &got);
        assert!(
            msg.contains("the numbers 1000001..=1000003, the remainder"),
            "{msg}"
        );
        assert!(!msg.contains("exclusive"), "{msg}");
        // pool_sum 5 8: every chunk empty, everything lost. An exclusive bound over one-number
        // chunks loses the same numbers: both are said, the remainder first.
        let msg = sum_p(5, 8, "0");
        assert!(
            msg.contains(
                "short by 15: the numbers 1..=5, the remainder of N / P, went to no worker"
            ),
            "{msg}"
        );
        assert!(msg.contains("= 5 / 8 = 0: every chunk is empty"), "{msg}");
    }

    #[test]
    fn an_exclusive_bound_is_named_for_the_runs_own_pool_size() {
        // The reference's chunks of 1..=10 at P = 3: (1..=4, 5..=7, 8..=10); `lo..hi` loses
        // 4, 7 and 10 (short by 21), which no remainder explains.
        let msg = sum_p(10, 3, "34");
        assert!(
            msg.contains("short by 21: that is the last number of each of 3 chunks (4, 7, 10)"),
            "{msg}"
        );
        assert!(msg.contains("`lo..hi`"), "{msg}");
        // With P = 1 there is no chunk boundary: the missing number is named.
        assert!(sum_p(10, 1, "45").contains("the number 10 was not summed?"));
        // A gap that fits another P's chunks is not blamed on chunks of this run's P.
        assert!(!sum_p(10, 3, "40").contains("each of 2 chunks"));
    }

    #[test]
    fn missing_chunk_ends_are_recognised() {
        // 1..=10 in two chunks, the last number of each (5 and 10) missed: prints 40.
        let msg = sum(10, "40");
        assert!(
            msg.contains("short by 15: that is the last number of each of 2 chunks (5, 10)"),
            "{msg}"
        );
        assert!(msg.contains("`lo..hi`"), "{msg}");
        // 1..=1000003 in 3 chunks: 333335, 666669, 1000003 missed.
        let got = (triangular(1_000_003) - 333_335 - 666_669 - 1_000_003).to_string();
        let msg = sum(1_000_003, &got);
        assert!(
            msg.contains("each of 3 chunks (333335, 666669, 1000003)"),
            "{msg}"
        );
        // Chunks that share a bound count it twice.
        let msg = sum(10, "60");
        assert!(
            msg.contains("over by 5: that is the boundary between each two of 2 chunks (5)"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_number_is_named() {
        assert_eq!(
            sum(10, "45"),
            "`pool_sum` printed \"45\", expected 55: short by 10: the number 10 was not summed?"
        );
    }

    #[test]
    fn a_missing_range_is_named() {
        // 1..=100 without 98..=100 (a chunk's tail).
        let got = (triangular(100) - 98 - 99 - 100).to_string();
        assert!(sum(100, &got).contains("short by 297: the numbers 98..=100 were not summed?"));
    }

    #[test]
    fn a_missing_tail_beyond_the_search_length_is_found() {
        let n = 1_000_000;
        let got = triangular(400_000).to_string();
        assert!(
            sum(n, &got).contains("the numbers 400001..=1000000 were not summed?"),
            "{}",
            sum(n, &got)
        );
    }

    #[test]
    fn double_counting_and_wrapping_are_recognised() {
        assert!(sum(10, "65").contains("over by 10: the number 10 was counted twice?"));
        let n = 10_000_000_000u64;
        let wrapped = (triangular(n) % (1u128 << 64)).to_string();
        assert!(sum(n, &wrapped).contains("wrapped around 2^64"));
    }

    #[test]
    fn partial_sums_cut_to_an_exit_status_or_a_u32_are_named() {
        // Seen from a pool whose workers `exit(partial as i32)` and whose parent adds the
        // exit statuses.
        for (n, p, got) in [
            (100, 1, "186"),
            (100, 2, "442"),
            (100, 3, "442"),
            (1_000_003, 16, "2278"),
            (6_074_001_000, 4, "340"),
        ] {
            let msg = sum_p(n, p, got);
            assert!(msg.contains("cut to its lowest 8 bits"), "{n} {p}: {msg}");
            assert!(msg.contains("exit status holds only 0-255"), "{msg}");
        }
        // Partial sums through a u32: the total modulo 2^32 for one worker, and any chunking
        // for two.
        let n = 1_000_003u64;
        let one = (triangular(n) % (1 << 32)).to_string();
        assert!(
            sum_p(n, 1, &one).contains("cut to 32 bits"),
            "{}",
            sum_p(n, 1, &one)
        );
        let half = n / 2;
        let two = (triangular(half) % (1 << 32)) + ((triangular(n) - triangular(half)) % (1 << 32));
        assert!(sum_p(n, 2, &two.to_string()).contains("cut to 32 bits"));
        // Right modulo 256 but larger than P exit statuses can add up to: another bug.
        let near = (triangular(100) - 256).to_string();
        assert!(
            !sum_p(100, 3, &near).contains("8 bits"),
            "{}",
            sum_p(100, 3, &near)
        );
        // A total below 256 is no evidence.
        assert!(!sum_p(10, 3, "45").contains("8 bits"));
    }

    #[test]
    fn a_total_that_stayed_zero_points_at_fork_copying_memory() {
        let msg = sum_p(10, 3, "0");
        assert!(msg.contains("the total stayed 0"), "{msg}");
        assert!(msg.contains("own copy"), "{msg}");
        // A remainder that went to no worker explains a 0 more precisely (N = 1, P = 2).
        assert!(
            !sum_p(1, 2, "0").contains("stayed 0"),
            "{}",
            sum_p(1, 2, "0")
        );
    }

    #[test]
    fn unparseable_and_chatty_output_get_their_own_hints() {
        assert!(sum(10, "").contains("printed nothing"));
        assert!(sum(10, "fifty-five").contains("expected a decimal number"));
        assert!(sum(10, "worker 1: 15\n55").contains("the right number is there"));
    }

    #[test]
    fn counter_losses_are_classified() {
        let c = |got: &str| {
            wrong_output(
                "counter safe 4 1000",
                &[],
                &StdoutCheck::Product {
                    factors: vec![4, 1000],
                },
                got,
            )
        };
        assert!(c("0").contains("stayed 0"));
        assert!(c("3000").contains("exactly 1 worker's worth"));
        assert!(c("2000").contains("exactly 2 workers' worth"));
        assert!(c("3517").contains("483 updates lost"));
        assert!(c("3999").contains("1 update lost: "), "{}", c("3999"));
        assert!(mentions_lost(&c("3999")) && mentions_lost(&c("3517")));
        assert!(c("4001").contains("1 more than possible"));
        assert!(!c("4001").contains("per worker"));
        assert!(c("4004").contains("1 more per worker; does each worker loop K+1 times"));
        // One worker too many (the parent joins in, or `0..=p` forks): K more, not K/P each.
        let extra_worker = c("5000");
        assert!(
            extra_worker.contains("exactly 1 worker's worth of 1000 more"),
            "{extra_worker}"
        );
        assert!(!extra_worker.contains("per worker"), "{extra_worker}");
        assert!(c("6000").contains("exactly 2 workers' worth"));
        assert!(c("4008").contains("2 more per worker"), "{}", c("4008"));
    }
}

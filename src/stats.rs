//! Statistics for verdicts on noisy measurements: pure functions over `&[f64]`, unit-tested on
//! fixed data. No live timing here.
//!
//! The speedup probe compares *paired log-ratios*: each block of interleaved runs yields one
//! `ln(t1 / tP)`, so machine drift between blocks cancels, ratios of medians are not biased the
//! way ratios of minimums are, and a t interval on the mean of logs is an interval on the
//! geometric mean of the speedup.

/// Arithmetic mean; `NaN` for no data.
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (n − 1); `NaN` below two values.
pub fn std_dev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// Median; `NaN` for no data.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "quantile of {p}");
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Student's t quantile with `df` degrees of freedom (Cornish–Fisher expansion around the
/// normal quantile; within 1% of tables for `df >= 4` at the levels used here).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df.powi(2))
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df.powi(3))
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / (92160.0 * df.powi(4))
}

/// A two-sided interval for the mean of `xs` at `confidence` (t distribution).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

/// The t interval for the mean of `xs`; `None` below two values.
pub fn mean_interval(xs: &[f64], confidence: f64) -> Option<Interval> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs);
    let half = t_quantile(1.0 - (1.0 - confidence) / 2.0, (xs.len() - 1) as f64) * std_dev(xs)
        / (xs.len() as f64).sqrt();
    Some(Interval {
        mean: m,
        low: m - half,
        high: m + half,
    })
}

/// Where a sequential test stands after a look at the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The interval clears the threshold.
    Above,
    /// The interval lies below the threshold.
    Below,
    /// The interval straddles it: more data.
    Undecided,
}

/// Compares the mean of `xs` with `threshold` at one of `looks` planned looks, keeping the
/// overall error rate at `alpha` (Bonferroni: each look and each side gets `alpha / (2 looks)`).
pub fn decide(
    xs: &[f64],
    threshold: f64,
    looks: usize,
    alpha: f64,
) -> (Decision, Option<Interval>) {
    let per_look = alpha / looks.max(1) as f64;
    let Some(iv) = mean_interval(xs, 1.0 - per_look) else {
        return (Decision::Undecided, None);
    };
    let d = if iv.low >= threshold {
        Decision::Above
    } else if iv.high < threshold {
        Decision::Below
    } else {
        Decision::Undecided
    };
    (d, Some(iv))
}

/// Karp–Flatt experimentally determined serial fraction for speedup `s` on `p` workers:
/// flat across `p` means a real serial part; rising means overhead grows with the pool.
pub fn karp_flatt(speedup: f64, p: u32) -> Option<f64> {
    if p < 2 || speedup <= 0.0 {
        return None;
    }
    let p = p as f64;
    Some((1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p))
}

/// A small deterministic generator (xorshift64*) for the order of runs in a block.
#[derive(Debug, Clone)]
pub struct Shuffler(u64);

impl Shuffler {
    pub fn new(seed: u64) -> Self {
        Shuffler(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn descriptive_statistics() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&xs), 5.0);
        assert!(close(std_dev(&xs), 2.138_089_935, 1e-9));
        assert_eq!(median(&xs), 4.5);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert!(std_dev(&[1.0]).is_nan());
    }

    #[test]
    fn quantiles_match_the_tables() {
        assert!(close(normal_quantile(0.975), 1.959_964, 1e-6));
        assert!(close(normal_quantile(0.01), -2.326_348, 1e-6));
        // Student t, two-sided 95% and 99%, from standard tables.
        for (p, df, table) in [
            (0.975, 4.0, 2.7764),
            (0.975, 9.0, 2.2622),
            (0.975, 29.0, 2.0452),
            (0.995, 4.0, 4.6041),
            (0.995, 9.0, 3.2498),
            (0.995, 19.0, 2.8609),
        ] {
            let got = t_quantile(p, df);
            assert!(
                close(got, table, 0.01),
                "t({p}, {df}) = {got}, table {table}"
            );
        }
    }

    #[test]
    fn intervals_and_decisions() {
        let xs = [0.60, 0.62, 0.58, 0.61, 0.59, 0.60];
        let iv = mean_interval(&xs, 0.95).unwrap();
        assert!(close(iv.mean, 0.6, 1e-9));
        assert!(iv.low < 0.6 && iv.high > 0.6 && iv.high - iv.low < 0.05);
        assert_eq!(decide(&xs, 0.40, 4, 0.05).0, Decision::Above);
        assert_eq!(decide(&xs, 0.80, 4, 0.05).0, Decision::Below);
        assert_eq!(decide(&xs, 0.60, 4, 0.05).0, Decision::Undecided);
        // Noisy data straddling the threshold stays undecided rather than guessing.
        let noisy = [0.2, 0.9, 0.1, 1.0, 0.5];
        assert_eq!(decide(&noisy, 0.5, 4, 0.05).0, Decision::Undecided);
        assert_eq!(decide(&[0.5], 0.1, 4, 0.05).0, Decision::Undecided);
    }

    #[test]
    fn more_looks_widen_each_interval() {
        let xs = [0.5, 0.55, 0.45, 0.52, 0.48];
        let one = decide(&xs, 0.0, 1, 0.05).1.unwrap();
        let four = decide(&xs, 0.0, 4, 0.05).1.unwrap();
        assert!(four.high - four.low > one.high - one.low);
    }

    #[test]
    fn karp_flatt_serial_fraction() {
        // A perfectly parallel program has no serial part; half serial stays at 0.5.
        assert!(karp_flatt(4.0, 4).unwrap().abs() < 1e-12);
        let half = 1.0 / (0.5 + 0.5 / 4.0);
        assert!(close(karp_flatt(half, 4).unwrap(), 0.5, 1e-9));
        assert_eq!(karp_flatt(1.5, 1), None);
    }

    #[test]
    fn shuffles_are_deterministic_permutations() {
        let mut a = [0, 1, 2, 3];
        let mut b = [0, 1, 2, 3];
        Shuffler::new(7).shuffle(&mut a);
        Shuffler::new(7).shuffle(&mut b);
        assert_eq!(a, b);
        let mut sorted = a;
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2, 3]);
    }
}

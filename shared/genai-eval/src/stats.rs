//! Intervals and paired tests over per-question scores: what every quality claim here is stated
//! with. Resampling is seeded, so a report is reproducible byte for byte.
//!
//! - [`interval`]: the mean with a 95% percentile-bootstrap interval (2,000 resamples).
//! - [`paired`]: two systems on the same questions: mean difference, its paired-bootstrap 95%
//!   interval, and a two-sided paired randomisation (sign-flip) test's p-value.
//!
//! A question where a metric does not apply is `None` and is left out (and counted), never NaN.

use serde::Serialize;

const RESAMPLES: usize = 2_000;
const SEED: u64 = 0x5eed_2026;

/// A mean with its 95% bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    /// Questions the metric applied to.
    pub n: usize,
    /// Questions where it did not apply (left out of the mean).
    pub not_applicable: usize,
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.4} [{:.4}, {:.4}]", self.mean, self.low, self.high)
    }
}

/// The mean of the applicable values with a 95% percentile-bootstrap interval.
/// With no applicable value, every field is 0 and `n` is 0.
pub fn interval(values: &[Option<f64>]) -> Interval {
    let xs: Vec<f64> = values.iter().flatten().copied().filter(|x| x.is_finite()).collect();
    let not_applicable = values.len() - xs.len();
    if xs.is_empty() {
        return Interval { mean: 0.0, low: 0.0, high: 0.0, n: 0, not_applicable };
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let mut rng = SplitMix(SEED);
    let mut means: Vec<f64> =
        (0..RESAMPLES).map(|_| (0..xs.len()).map(|_| xs[rng.below(xs.len())]).sum::<f64>() / xs.len() as f64).collect();
    means.sort_by(f64::total_cmp);
    Interval { mean, low: quantile(&means, 0.025), high: quantile(&means, 0.975), n: xs.len(), not_applicable }
}

/// Any statistic of the questions (a ratio of sums, an area under a curve) with its 95%
/// percentile-bootstrap interval: `stat` gets the indices of one resample (with repeats) and is
/// called once on `0..n` for the point estimate. Seeded like [`interval`].
pub fn bootstrap(n: usize, stat: impl Fn(&[usize]) -> f64) -> Interval {
    if n == 0 {
        return Interval { mean: 0.0, low: 0.0, high: 0.0, n: 0, not_applicable: 0 };
    }
    let all: Vec<usize> = (0..n).collect();
    let mean = stat(&all);
    let mut rng = SplitMix(SEED);
    let mut idx = vec![0; n];
    let mut values: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            idx.iter_mut().for_each(|i| *i = rng.below(n));
            stat(&idx)
        })
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return Interval { mean, low: mean, high: mean, n, not_applicable: 0 };
    }
    values.sort_by(f64::total_cmp);
    Interval { mean, low: quantile(&values, 0.025), high: quantile(&values, 0.975), n, not_applicable: 0 }
}

/// Two systems compared question by question.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    /// Mean of `b − a` over questions both have a value for.
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    /// Two-sided p-value of the paired randomisation test (sign flips of the differences).
    pub p_value: f64,
    pub n: usize,
}

impl Paired {
    /// Significant at the 5% level: the interval excludes 0 and p < 0.05.
    pub fn significant(&self) -> bool {
        self.p_value < 0.05 && (self.low > 0.0 || self.high < 0.0)
    }
}

/// Compares `b` against `a` on the questions where both apply.
pub fn paired(a: &[Option<f64>], b: &[Option<f64>]) -> Paired {
    let d: Vec<f64> = a.iter().zip(b).filter_map(|(x, y)| Some((*y)? - (*x)?)).filter(|x| x.is_finite()).collect();
    if d.is_empty() {
        return Paired { difference: 0.0, low: 0.0, high: 0.0, p_value: 1.0, n: 0 };
    }
    let n = d.len();
    let mean = d.iter().sum::<f64>() / n as f64;
    let mut rng = SplitMix(SEED);
    let mut boot: Vec<f64> = (0..RESAMPLES).map(|_| (0..n).map(|_| d[rng.below(n)]).sum::<f64>() / n as f64).collect();
    boot.sort_by(f64::total_cmp);
    // Randomisation: under the null each difference's sign is a coin flip.
    let observed = mean.abs();
    let extreme = (0..RESAMPLES)
        .filter(|_| {
            let m = d.iter().map(|x| if rng.next() & 1 == 0 { *x } else { -*x }).sum::<f64>() / n as f64;
            m.abs() >= observed - 1e-12
        })
        .count();
    Paired {
        difference: mean,
        low: quantile(&boot, 0.025),
        high: quantile(&boot, 0.975),
        p_value: (extreme + 1) as f64 / (RESAMPLES + 1) as f64,
        n,
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// splitmix64: tiny, fast, and fixed forever (reports must not change with a crate upgrade).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_clear_gain_is_significant_and_noise_is_not() {
        let a: Vec<Option<f64>> = (0..200).map(|i| Some((i % 10) as f64 / 10.0)).collect();
        let better: Vec<Option<f64>> = a.iter().map(|x| x.map(|v| (v + 0.05).min(1.0))).collect();
        let p = paired(&a, &better);
        assert!(p.significant() && p.difference > 0.04, "{p:?}");
        let same = paired(&a, &a);
        assert!(!same.significant() && same.difference == 0.0);
        let na = interval(&[Some(1.0), None, Some(0.0)]);
        assert_eq!((na.n, na.not_applicable, na.mean), (2, 1, 0.5));
        assert_eq!(interval(&[None, None]).n, 0);
    }

    #[test]
    fn bootstrap_of_the_mean_matches_interval() {
        let xs: Vec<f64> = (0..100).map(|i| f64::from(i % 7)).collect();
        let a = interval(&xs.iter().copied().map(Some).collect::<Vec<_>>());
        let b = bootstrap(xs.len(), |idx| idx.iter().map(|&i| xs[i]).sum::<f64>() / idx.len() as f64);
        assert_eq!(a, b);
        assert_eq!(bootstrap(0, |_| 1.0).n, 0);
    }

    proptest! {
        #[test]
        fn intervals_contain_the_mean_and_stay_in_range(xs in prop::collection::vec(prop::option::of(0.0f64..=1.0), 1..60)) {
            let i = interval(&xs);
            prop_assert!(i.low <= i.mean + 1e-12 && i.mean <= i.high + 1e-12 || i.n == 0);
            prop_assert!((0.0..=1.0).contains(&i.low) && (0.0..=1.0).contains(&i.high));
            prop_assert!(!i.mean.is_nan());
        }
    }
}

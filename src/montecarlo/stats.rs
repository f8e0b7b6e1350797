//! Estimators: Welford mean and variance, Student-t confidence intervals, quantiles.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Summary of per-trial errors ||Aggr - g||^2.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Trials.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub sd: f64,
    /// Standard error of the mean.
    pub se: f64,
    /// 95% CI low (Student-t).
    pub ci_low: f64,
    /// 95% CI high.
    pub ci_high: f64,
    /// Median.
    pub median: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
    /// Trials whose error was NaN or infinite.
    pub nonfinite: usize,
    /// Whether the errors look heavy-tailed ([`heavy_tailed`]); the verdict then uses the hull
    /// of the Student-t and the bootstrap intervals.
    pub heavy: bool,
    /// 95% percentile-bootstrap interval of the mean (NaN unless `heavy`).
    pub boot_low: f64,
    /// Its upper end.
    pub boot_high: f64,
}

impl Summary {
    /// The interval the verdict uses: Student-t, or for heavy tails the hull of Student-t and
    /// bootstrap. Returns (low, high, name).
    pub fn verdict_interval(&self) -> (f64, f64, &'static str) {
        if self.heavy && self.boot_low.is_finite() && self.boot_high.is_finite() {
            (
                self.ci_low.min(self.boot_low),
                self.ci_high.max(self.boot_high),
                "student-t + bootstrap (heavy tail)",
            )
        } else {
            (self.ci_low, self.ci_high, "student-t")
        }
    }
}

/// Resamples of the bootstrap interval.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// Heavy-tail test on finite values sorted ascending (errors, or signed paired differences):
/// the largest absolute deviation from the median exceeds 5 ln(n) times the mean absolute
/// deviation. Light tails stay well below (Gaussian: about sqrt(2 ln n) / 0.8 times;
/// exponential and chi-square-like: about ln n times); one outlier carrying a share of the sum
/// that does not shrink like ln(n)/n trips it. A false alarm only widens the interval.
pub fn heavy_tailed(sorted: &[f64]) -> bool {
    let n = sorted.len();
    if n < 20 {
        return false;
    }
    let median = sorted[n / 2];
    let (mut sum, mut max) = (0.0f64, 0.0f64);
    for &x in sorted {
        let a = (x - median).abs();
        sum += a;
        max = max.max(a);
    }
    if !(sum.is_finite() && sum > 0.0) {
        return false;
    }
    max > 5.0 * (n as f64).ln() * (sum / n as f64)
}

/// 95% percentile-bootstrap interval of the mean: `BOOTSTRAP_RESAMPLES` resamples drawn with
/// `rng` (the caller derives it from the run's seed and the cell's key). O(n B).
pub fn bootstrap_interval(errors: &[f64], rng: &mut crate::rng::Rng) -> (f64, f64) {
    use rand::Rng as _;
    let n = errors.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| errors[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_unstable_by(f64::total_cmp);
    (quantile(&means, 0.025), quantile(&means, 0.975))
}

/// Welford's online mean and variance (f64), fed in index order for reproducibility.
#[derive(Clone, Copy, Debug, Default)]
pub struct Welford {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Welford {
    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
    /// Mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }
    /// Sample variance (n - 1).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }
}

/// Two-sided 95% Student-t quantile for `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    if df == 0 {
        return f64::INFINITY;
    }
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(1.96)
}

/// Quantile (nearest rank on the sorted values, total order: NaN last).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[k - 1]
}

/// Summarises per-trial errors. `scratch` is reused for sorting.
pub fn summarize(errors: &[f64], scratch: &mut Vec<f64>) -> Summary {
    let mut w = Welford::default();
    let mut nonfinite = 0;
    for &e in errors {
        if !e.is_finite() {
            nonfinite += 1;
        }
        w.push(e);
    }
    let n = errors.len();
    let sd = w.variance().sqrt();
    let se = sd / (n as f64).sqrt();
    let t = t975(n.saturating_sub(1));
    scratch.clear();
    scratch.extend_from_slice(errors);
    scratch.sort_unstable_by(f64::total_cmp);
    let mean = if nonfinite > 0 {
        // a NaN or infinite trial makes the mean unbounded: report +inf, not a NaN
        f64::INFINITY
    } else {
        w.mean()
    };
    Summary {
        n,
        mean,
        sd,
        se,
        ci_low: mean - t * se,
        ci_high: mean + t * se,
        median: quantile(scratch, 0.5),
        p99: quantile(scratch, 0.99),
        max: scratch.last().copied().unwrap_or(f64::NAN),
        nonfinite,
        heavy: nonfinite == 0 && heavy_tailed(scratch),
        boot_low: f64::NAN,
        boot_high: f64::NAN,
    }
}

/// [`summarize`], plus the bootstrap interval when the errors are heavy-tailed.
pub fn summarize_robust(errors: &[f64], rng: &mut crate::rng::Rng) -> Summary {
    let mut s = summarize(errors, &mut Vec::new());
    if s.heavy {
        (s.boot_low, s.boot_high) = bootstrap_interval(errors, rng);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0], &mut Vec::new());
        assert_eq!(s.mean, 2.5);
        assert!((s.sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(s.median, 2.0);
        assert_eq!(s.p99, 4.0);
        // t(3) 97.5% = 3.182446
        assert!((t975(3) - 3.182446).abs() < 1e-5);
        assert!((s.ci_high - (2.5 + 3.182446 * s.se)).abs() < 1e-5);
    }

    #[test]
    fn heavy_tails_are_flagged_and_widen_the_interval() {
        use crate::rng::stream;
        use rand::Rng as _;
        let mut rng = stream(1, 2, 3);
        // chi-square(10)-like: light
        let light: Vec<f64> = (0..2000)
            .map(|_| {
                (0..10)
                    .map(|_| (rng.random::<f64>() - 0.5).powi(2) * 12.0)
                    .sum()
            })
            .collect();
        let s = summarize_robust(&light, &mut stream(0, 0, 0));
        assert!(!s.heavy);
        assert_eq!(s.verdict_interval().2, "student-t");
        // one outlier carrying most of the sum
        let mut heavy: Vec<f64> = (0..2000).map(|i| 1.0 + f64::from(i % 7) * 0.1).collect();
        heavy[17] = 5000.0;
        let s = summarize_robust(&heavy, &mut stream(0, 0, 0));
        assert!(s.heavy);
        let (lo, hi, name) = s.verdict_interval();
        assert!(name.contains("bootstrap"));
        assert!(lo <= s.ci_low && hi >= s.ci_high);
        // the bootstrap never goes below the smallest error
        assert!(s.boot_low >= 1.0, "{}", s.boot_low);
        // signed differences: a huge negative outlier is heavy too
        let signed: Vec<f64> = heavy.iter().map(|x| -x).collect();
        let s = summarize_robust(&signed, &mut stream(0, 0, 0));
        assert!(s.heavy);
        // small samples of light-tailed values are not flagged
        let few: Vec<f64> = light[..40].to_vec();
        assert!(!summarize(&few, &mut Vec::new()).heavy);
        let exp: Vec<f64> = (1..=300).map(|i| -(f64::from(i) / 301.0).ln()).collect();
        assert!(!summarize(&exp, &mut Vec::new()).heavy);
    }

    #[test]
    fn nonfinite_trials_make_the_mean_infinite() {
        let s = summarize(&[1.0, f64::NAN, 3.0], &mut Vec::new());
        assert_eq!(s.nonfinite, 1);
        assert!(s.mean.is_infinite());
    }
}

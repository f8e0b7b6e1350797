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
    }
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
    fn nonfinite_trials_make_the_mean_infinite() {
        let s = summarize(&[1.0, f64::NAN, 3.0], &mut Vec::new());
        assert_eq!(s.nonfinite, 1);
        assert!(s.mean.is_infinite());
    }
}

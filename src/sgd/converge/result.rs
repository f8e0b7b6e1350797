//! One run's outcome: bands over repeats and the verdicts of Theorems 3 and 4.

use super::config::RunSpec;
use crate::montecarlo::stats::t975;

/// Mean and 95% band across repeats, per index.
pub(super) fn band(series: &[Vec<f64>]) -> Vec<(f64, f64, f64)> {
    let r = series.len();
    let n = series.iter().map(Vec::len).min().unwrap_or(0);
    let t = t975(r.saturating_sub(1));
    (0..n)
        .map(|i| {
            let mut w = crate::montecarlo::stats::Welford::default();
            let mut finite = true;
            for s in series {
                finite &= s[i].is_finite();
                w.push(s[i]);
            }
            if !finite {
                return (f64::INFINITY, f64::INFINITY, f64::INFINITY);
            }
            let se = (w.variance() / r as f64).sqrt();
            (w.mean(), w.mean() - t * se, w.mean() + t * se)
        })
        .collect()
}

pub(super) fn verdict(band: &[(f64, f64, f64)], curve: &[f64]) -> &'static str {
    if curve.iter().any(|c| !c.is_finite()) {
        "vacuous (Delta infinite)"
    } else if band.iter().zip(curve).any(|(b, c)| b.1 > *c) {
        "violated"
    } else if band.iter().zip(curve).all(|(b, c)| b.2 <= *c) {
        "holds"
    } else {
        "inconclusive"
    }
}

/// A theorem checked against one run: (verdict, LHS/RHS) with the bound's Delta and with the
/// measured Delta; NaN where n/a. Theorem 4: LHS/RHS is the largest over T of the running mean
/// of ||grad F(x_t)||^2 (mean over repeats) divided by the right-hand side. Theorem 3: it is
/// E||x_T - x*|| / RHS at the last round (over all t it would be attained at t = 0, where it is
/// ||x0 - x*|| / (||x0 - x*|| + constant term) whatever the run does).
#[derive(Clone, Debug)]
pub struct Check {
    /// With Delta = the rule's bound (or V/m for Mean without Byzantine values).
    pub bound: (String, f64),
    /// With Delta = the mean aggregation error measured in the run.
    pub measured: (String, f64),
    /// With Delta = the heterogeneous bound from the rule's published kappa
    /// ([`crate::bounds::delta_kappa_heterogeneous`]); n/a where none applies.
    pub kappa: (String, f64),
}

/// Verdict of `band` against `curve` (with the premise prefix) and the largest mean / curve
/// (over the last index only with `last`).
pub(super) fn assess(
    band: &[(f64, f64, f64)],
    curve: &[f64],
    premise: bool,
    last: bool,
) -> (String, f64) {
    let v = verdict(band, curve);
    let v = if premise {
        v.to_string()
    } else {
        format!("premise fails ({v})")
    };
    let skip = if last {
        band.len().saturating_sub(1)
    } else {
        0
    };
    let ratio = band
        .iter()
        .zip(curve)
        .skip(skip)
        .map(|(b, c)| if b.0 == 0.0 { 0.0 } else { b.0 / c })
        .fold(
            f64::NEG_INFINITY,
            |a, r| if r.is_nan() { a } else { a.max(r) },
        );
    (
        v,
        if ratio == f64::NEG_INFINITY {
            f64::NAN
        } else {
            ratio
        },
    )
}

/// Panels per chart file (more continue in NAME-theorem3-2.png, ...).
pub(super) const PANELS_PER_PAGE: usize = 6;

/// The outcome of one run: per-round summaries and verdicts.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The run.
    pub spec: RunSpec,
    /// Read from the checkpoint rather than simulated now.
    pub reused: bool,
    /// Rule label.
    pub label: String,
    /// mu, L, gamma, V.
    pub mu: f64,
    /// L.
    pub l: f64,
    /// Step size.
    pub gamma: f64,
    /// Exact V.
    pub v: f64,
    /// Delta from the paper's bound at the true V (or V/m for Mean without attack).
    pub delta_bound: Option<f64>,
    /// Where Delta came from, or why there is none.
    pub delta_note: String,
    /// Measured mean aggregation error.
    pub delta_measured: f64,
    /// The heterogeneous bound from the rule's published kappa at f = q, if one applies.
    pub delta_kappa: Option<f64>,
    /// E||x_t - x*|| band (quadratic only).
    pub dist: Vec<(f64, f64, f64)>,
    /// Running mean of ||grad F(x_t)||^2 over t < T, T = 1..rounds, band.
    pub grad_running: Vec<(f64, f64, f64)>,
    /// F(x0) - F*.
    pub gap0: f64,
    /// ||x0 - x*|| (quadratic).
    pub dist0: f64,
    /// Theorem 3 as printed (constant term (mu+L)/(mu L) gamma sqrt(Delta)).
    pub thm3: Check,
    /// Theorem 3 as its proof gives it (constant term (mu+L)/(mu L) sqrt(Delta)).
    pub thm3_corrected: Check,
    /// Theorem 4.
    pub thm4: Check,
    /// Repeats whose iterate stopped being finite.
    pub diverged: usize,
    /// Rounds per second (all repeats).
    pub rounds_per_sec: f64,
}

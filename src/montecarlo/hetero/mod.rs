//! Heterogeneous honest workers: the `[heterogeneity]` section of `verify-bounds`.
//!
//! The paper's bounds (Lemma 1, Theorems 1 and 2) assume every correct worker samples the same
//! distribution. Here honest worker i (the first h = m - f rows) sends x_i = g + delta_i + xi_i:
//! its own mean g + delta_i, with sum_i delta_i = 0 and (1/h) sum_i ||delta_i||^2 = G^2 exactly
//! in every trial, plus noise xi_i ~ N(0, V/d I) (so E||xi_i||^2 = V). The reference point is
//! the mean of the honest means, g. The f last rows are Byzantine (whole rows, the classic
//! model of Definition 1); an attack from the registry overwrites them, seeing the honest rows,
//! g and the rule.
//!
//! Shapes of the delta_i: `spread` (independent Gaussian directions), `clusters` (two groups
//! at +u and -u), `outlier` (one worker at u, the others at its opposite), `skew` (per
//! coordinate a few workers, h/5 of them, carry the mass: label skew). Each is centred and
//! scaled to G^2.
//!
//! Per cell (rule, shape, attack, G^2/V) three statements are judged on the mean error
//! E||F(x) - g||^2 with its 95% interval:
//! - **i.i.d.**: the paper's bound of the rule (Delta0, Delta1 or Delta2 times V), which ignores
//!   G. Its verdict shows where the i.i.d. statements stop describing heterogeneous data.
//! - **kappa**: from (f, kappa)-robustness (Allouah et al. 2023): ||F(x) - xbar_H||^2 <= kappa
//!   s^2 with s^2 = (1/h) sum_H ||x_i - xbar_H||^2 holds for every input, and E s^2 = G^2 +
//!   (h - 1)/h V, E||xbar_H - g||^2 = V/h, so Minkowski's inequality gives
//!   E||F(x) - g||^2 <= (sqrt(kappa (G^2 + (h - 1)/h V)) + sqrt(V/h))^2 with kappa the
//!   published upper bound of the rule (after NNM: 8f/(n-f) (kappa_F + 1)). A violation means
//!   a published kappa is wrong. The largest per-trial ratio ||F(x) - xbar_H||^2 / s^2 is kept
//!   too: above kappa it is a counterexample by itself, with no statistics involved.
//! - **lower**: f/(n - 2f) G^2, the error no rule avoids against the worst heterogeneous
//!   configuration (the universal lower bound on kappa applied to the honest means). It is a
//!   yardstick of the adversary, not a verdict on the rule: a cell below it only says that this
//!   shape and attack are not that worst configuration.
//!
//! Deterministic: trial t of a cell draws from the stream (seed, key of (shape, G^2/V, m, f,
//! d), t), so every rule and attack sees the same honest rows in trial t (common random numbers)
//! whatever the thread count. Cost: trials x one aggregation of an m x d matrix (plus the
//! attack's own, for the searching attacks) per cell.

pub mod output;

use super::stats::summarize_robust;
use super::verdict::Verdict;
use crate::aggregators::{self, AggregateExt, Aggregator, RuleParams, Workspace};
use crate::attacks::{self, AttackExt, AttackParams, Oracle, Target};
use crate::bounds::{self, kappa_lower, kappa_published};
use crate::error::Error;
use crate::matrix::MatrixView;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// The shape of the honest workers' means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Independent Gaussian directions.
    Spread,
    /// Two clusters at +u and -u.
    Clusters,
    /// One honest outlier.
    Outlier,
    /// Per coordinate, a few workers carry the mass (label skew).
    Skew,
}

impl Shape {
    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Spread => "spread",
            Shape::Clusters => "clusters",
            Shape::Outlier => "outlier",
            Shape::Skew => "skew",
        }
    }
}

/// A pre-aggregation step applied before the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrapper {
    /// The rule alone.
    Plain,
    /// Nearest-Neighbour Mixing with f.
    Nnm,
    /// Bucketing with buckets of this size.
    Bucket(usize),
}

impl Wrapper {
    /// Name in tables: "", "nnm", "bucket2".
    pub fn name(self) -> String {
        match self {
            Wrapper::Plain => String::new(),
            Wrapper::Nnm => "nnm".into(),
            Wrapper::Bucket(s) => format!("bucket{s}"),
        }
    }
}

/// The `[heterogeneity]` section of a verify-bounds config.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeteroConfig {
    /// Rules (registry names); every rule by default.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Also every rule after Nearest-Neighbour Mixing with f.
    #[serde(default)]
    pub nnm: bool,
    /// Also every rule after bucketing with buckets of this size (Karimireddy et al. 2022).
    #[serde(default)]
    pub bucket: Option<usize>,
    /// Shapes of the honest means.
    pub shapes: Vec<Shape>,
    /// Heterogeneity G^2 as multiples of V.
    pub g2_over_v: Vec<f64>,
    /// Attacks (registry names).
    pub attacks: Vec<String>,
    /// Workers.
    pub m: usize,
    /// Byzantine workers (whole rows).
    pub f: usize,
    /// Dimension.
    pub d: usize,
    /// Trials per cell (--trials overrides it).
    pub trials: usize,
}

/// One cell of the section.
#[derive(Clone, Debug)]
pub struct HeteroRow {
    pub rule: String,
    pub wrapper: Wrapper,
    /// The rule's full label.
    pub label: String,
    pub shape: Shape,
    pub attack: String,
    pub m: usize,
    pub f: usize,
    pub d: usize,
    pub trials: usize,
    /// Noise V.
    pub v: f64,
    /// Heterogeneity G^2.
    pub g2: f64,
    /// Mean error E||F(x) - g||^2 and its 95% interval.
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// The paper's bound (times V), when one covers the rule.
    pub iid_bound: Option<f64>,
    pub iid_verdict: Verdict,
    /// The kappa-derived bound, when a published kappa covers the rule.
    pub kappa: Option<f64>,
    pub kappa_bound: Option<f64>,
    pub kappa_verdict: Verdict,
    /// Largest per-trial ||F(x) - xbar_H||^2 / s^2.
    pub kappa_ratio_max: f64,
    /// f/(n - 2f) G^2.
    pub lower: f64,
}

impl HeteroRow {
    /// The per-trial ratio exceeded the published kappa: a counterexample.
    pub fn kappa_counterexample(&self) -> bool {
        // the absolute tolerance keeps rounding from reading as a counterexample to kappa = 0
        // (the trimmed mean and every rule after NNM at f = 0)
        self.kappa
            .is_some_and(|k| self.kappa_ratio_max > k * (1.0 + 1e-9) + 1e-12)
    }
}

/// A (rule, wrapper, shape, attack, G^2/V) cell.
type Task = (String, Wrapper, Shape, String, f64);

/// Largest m x d of a cell (800 MB of f64 a thread).
const MAX_VALUES: usize = 100_000_000;
/// Largest trials of a cell.
const MAX_TRIALS: usize = 10_000_000;

/// Checks the section; errors name the key.
pub fn validate(cfg: &HeteroConfig) -> Result<(), Error> {
    let bad = |key: &str, msg: String| Error::Config {
        key: format!("heterogeneity.{key}"),
        msg,
    };
    if cfg.m == 0 || 2 * cfg.f >= cfg.m {
        return Err(bad(
            "f",
            format!(
                "needs 2f < m (m = {}, f = {}): the honest workers must be a majority",
                cfg.m, cfg.f
            ),
        ));
    }
    if cfg.d == 0 {
        return Err(bad("d", "must be at least 1".into()));
    }
    if cfg.trials < 2 {
        return Err(bad(
            "trials",
            format!("{}: at least 2 for a confidence interval", cfg.trials),
        ));
    }
    // one cell holds an m x d matrix per thread and its trials' errors
    if cfg.m.checked_mul(cfg.d).is_none_or(|n| n > MAX_VALUES) || cfg.trials > MAX_TRIALS {
        return Err(bad(
            "m/d/trials",
            format!(
                "m x d = {} x {} and {} trials exceed this section's limits ({MAX_VALUES} values, {MAX_TRIALS} trials): lower them",
                cfg.m, cfg.d, cfg.trials
            ),
        ));
    }
    if let Some(r) = cfg
        .g2_over_v
        .iter()
        .find(|r| !(r.is_finite() && **r >= 0.0))
    {
        return Err(bad("g2_over_v", format!("{r} must be finite and >= 0")));
    }
    if let Some(s) = cfg.bucket.filter(|&s| s == 0 || s > cfg.m) {
        return Err(bad(
            "bucket",
            format!("{s}: a bucket holds 1 to m = {} workers", cfg.m),
        ));
    }
    for (key, empty) in [
        ("shapes", cfg.shapes.is_empty()),
        ("g2_over_v", cfg.g2_over_v.is_empty()),
        ("attacks", cfg.attacks.is_empty()),
    ] {
        if empty {
            return Err(bad(key, "must list at least one value".into()));
        }
    }
    for r in &cfg.rules {
        if aggregators::info(r).is_none() {
            return Err(Error::UnknownRule {
                name: r.clone(),
                known: aggregators::rule_names(),
            });
        }
    }
    for a in &cfg.attacks {
        attacks::build_attack(a, &AttackParams::default())?;
    }
    Ok(())
}

/// The cells of a section, in a fixed order.
fn tasks(cfg: &HeteroConfig) -> Vec<Task> {
    let rules: Vec<String> = if cfg.rules.is_empty() {
        aggregators::REGISTRY
            .iter()
            .map(|r| r.name.to_string())
            .collect()
    } else {
        cfg.rules.clone()
    };
    let mut wrappers = vec![Wrapper::Plain];
    if cfg.nnm {
        wrappers.push(Wrapper::Nnm);
    }
    if let Some(s) = cfg.bucket {
        wrappers.push(Wrapper::Bucket(s));
    }
    let mut out = Vec::new();
    for r in &rules {
        for &w in &wrappers {
            for &s in &cfg.shapes {
                for a in &cfg.attacks {
                    for &g in &cfg.g2_over_v {
                        out.push((r.clone(), w, s, a.clone(), g));
                    }
                }
            }
        }
    }
    out
}

/// The rule of a cell: b = q = f; `None` when it does not take these parameters at m (Bulyan
/// needs m >= 4f + 3; after bucketing the rule sees ceil(m/s) inputs). Bucketing's
/// permutations draw from `seed`.
pub fn build(
    rule: &str,
    wrapper: Wrapper,
    (m, f): (usize, usize),
    seed: u64,
) -> Option<Box<dyn Aggregator>> {
    let info = aggregators::info(rule)?;
    let p = RuleParams {
        nnm: (wrapper == Wrapper::Nnm).then_some(f),
        bucket: match wrapper {
            Wrapper::Bucket(s) => Some(s),
            _ => None,
        },
        bucket_seed: match wrapper {
            Wrapper::Bucket(_) => Some(seed),
            _ => None,
        },
        ..info.with_params(RuleParams::default(), Some(f), Some(f), None)
    };
    aggregators::build(rule, &p, m).ok()
}

fn gauss(rng: &mut crate::rng::Rng) -> f64 {
    StandardNormal.sample(rng)
}

/// Fills `delta` (h x d) with the shape's offsets, centred and scaled to (1/h) sum ||delta_i||^2
/// = g2 (all zero when g2 = 0).
pub fn offsets(
    shape: Shape,
    g2: f64,
    h: usize,
    d: usize,
    rng: &mut crate::rng::Rng,
    delta: &mut [f64],
) {
    delta.fill(0.0);
    if g2 == 0.0 || h < 2 {
        return;
    }
    match shape {
        Shape::Spread => delta.iter_mut().for_each(|v| *v = gauss(rng)),
        Shape::Clusters | Shape::Outlier => {
            let u: Vec<f64> = (0..d).map(|_| gauss(rng)).collect();
            for (i, row) in delta.chunks_exact_mut(d).enumerate() {
                let sign = match shape {
                    Shape::Clusters if i < h / 2 => 1.0,
                    Shape::Clusters => -1.0,
                    _ if i == 0 => 1.0,
                    _ => 0.0,
                };
                row.iter_mut().zip(&u).for_each(|(v, &x)| *v = sign * x);
            }
        }
        Shape::Skew => {
            let k = (h / 5).max(1);
            for j in 0..d {
                // k distinct workers, chosen uniformly (selection sampling, Knuth's algorithm S)
                let mut chosen = 0;
                for i in 0..h {
                    let left = h - i;
                    if rng.random_range(0..left) < k - chosen {
                        delta[i * d + j] = 1.0;
                        chosen += 1;
                    }
                }
            }
        }
    }
    // centre across workers, then scale to g2
    for j in 0..d {
        let mu = (0..h).map(|i| delta[i * d + j]).sum::<f64>() / h as f64;
        (0..h).for_each(|i| delta[i * d + j] -= mu);
    }
    let raw = delta.iter().map(|v| v * v).sum::<f64>() / h as f64;
    let s = if raw > 0.0 { (g2 / raw).sqrt() } else { 0.0 };
    delta.iter_mut().for_each(|v| *v *= s);
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

/// What one cell needs besides its task.
struct Setup<'a> {
    cfg: &'a HeteroConfig,
    seed: u64,
    v: f64,
    g: &'a [f64],
    params: &'a AttackParams,
}

/// Runs one cell; `None` when the rule does not build at (m, f).
fn cell(
    s: &Setup<'_>,
    (rule, wrapper, shape, attack, ratio): &Task,
) -> Option<Result<HeteroRow, Error>> {
    let (m, f, d) = (s.cfg.m, s.cfg.f, s.cfg.d);
    let h = m - f;
    let key = crate::rng::hash_str(&format!("hetero/{}/{ratio:e}/{m}/{f}/{d}", shape.name()));
    // the cell's own bucketing permutations (the same for every rule of the cell)
    let agg = build(rule, *wrapper, (m, f), s.seed ^ key)?;
    let att = match attacks::build_attack(attack, s.params) {
        Ok(a) => a,
        Err(e) => return Some(Err(e)),
    };
    let g2 = ratio * s.v;
    if !g2.is_finite() {
        return Some(Err(Error::Config {
            key: "heterogeneity.g2_over_v".into(),
            msg: format!("{ratio} x v = {} is not finite: lower it or v", s.v),
        }));
    }
    let sd = (s.v / d as f64).sqrt();
    let (mut x, mut delta) = (vec![0.0; m * d], vec![0.0; h * d]);
    let mut mask = vec![false; m * d];
    mask[h * d..].fill(true);
    let (mut out, mut xbar) = (vec![0.0; d], vec![0.0; d]);
    let mut ws = Workspace::new();
    let mut errors = Vec::with_capacity(s.cfg.trials);
    let mut ratio_max = 0.0f64;
    for t in 0..s.cfg.trials {
        let mut rng = crate::rng::stream(s.seed, key, t as u64);
        offsets(*shape, g2, h, d, &mut rng, &mut delta);
        for (i, row) in x.chunks_exact_mut(d).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let off = if i < h { delta[i * d + j] } else { 0.0 };
                *v = s.g[j] + off + sd * gauss(&mut rng);
            }
        }
        mask[..h * d].fill(false);
        mask[h * d..].fill(true);
        let oracle = Oracle {
            g: s.g,
            rule: agg.as_ref(),
        };
        let mut target = Target::new(&mut x, m, d, &mut mask);
        target.oracle = Some(oracle);
        att.apply_to(target, &mut rng);
        if let Err(e) = agg.aggregate_into(MatrixView::new(&x, m, d).ok()?, &mut ws, &mut out) {
            return Some(Err(e));
        }
        errors.push(sq_dist(&out, s.g));
        xbar.fill(0.0);
        for row in x[..h * d].chunks_exact(d) {
            xbar.iter_mut()
                .zip(row)
                .for_each(|(a, v)| *a += v / h as f64);
        }
        let spread = x[..h * d]
            .chunks_exact(d)
            .map(|row| sq_dist(row, &xbar))
            .sum::<f64>()
            / h as f64;
        let r = sq_dist(&out, &xbar) / spread;
        // a non-finite output is an infinite ratio
        ratio_max = if r.is_nan() {
            f64::INFINITY
        } else {
            ratio_max.max(r)
        };
    }
    let mut boot = crate::rng::stream(s.seed, key ^ crate::rng::hash_str(&agg.label()), u64::MAX);
    let stats = summarize_robust(&errors, &mut boot);
    let (lo, hi, _) = stats.verdict_interval();
    let info = aggregators::info(rule)?;
    let iid_bound = match wrapper {
        Wrapper::Plain => bounds::rule_bound(info.bound, "classic", true, m, f, Some(f))
            .1
            .ok()
            .map(|b| b * s.v),
        _ => None,
    };
    let kappa = match wrapper {
        Wrapper::Plain => kappa_published(info.kappa, false, m, f),
        Wrapper::Nnm => kappa_published(info.kappa, true, m, f),
        Wrapper::Bucket(_) => None,
    };
    let hf = h as f64;
    let kappa_bound =
        kappa.map(|k| ((k * (g2 + (hf - 1.0) / hf * s.v)).sqrt() + (s.v / hf).sqrt()).powi(2));
    Some(Ok(HeteroRow {
        rule: rule.clone(),
        wrapper: *wrapper,
        label: agg.label(),
        shape: *shape,
        attack: attack.clone(),
        m,
        f,
        d,
        trials: s.cfg.trials,
        v: s.v,
        g2,
        mean: stats.mean,
        ci_low: lo,
        ci_high: hi,
        iid_bound,
        iid_verdict: Verdict::judge(stats.mean, (lo, hi), iid_bound),
        kappa,
        kappa_bound,
        kappa_verdict: Verdict::judge(stats.mean, (lo, hi), kappa_bound),
        kappa_ratio_max: ratio_max,
        lower: kappa_lower(m, f).unwrap_or(f64::NAN) * g2,
    }))
}

/// Runs every cell of the section in parallel (rows in task order; rules that do not build at
/// (m, f) are left out). `v` and `g_norm` are the config's; the true gradient is g_norm / sqrt(d)
/// in every coordinate.
pub fn run(
    cfg: &HeteroConfig,
    trials: Option<usize>,
    (seed, v, g_norm): (u64, f64, f64),
    params: &AttackParams,
    quiet: bool,
) -> Result<Vec<HeteroRow>, Error> {
    validate(cfg)?;
    let mut cfg = cfg.clone();
    if let Some(t) = trials {
        cfg.trials = t.max(2);
    }
    let g = vec![g_norm / (cfg.d as f64).sqrt(); cfg.d];
    let setup = Setup {
        cfg: &cfg,
        seed,
        v,
        g: &g,
        params,
    };
    let tasks = tasks(&cfg);
    let pb = crate::report::progress_bar(tasks.len(), "heterogeneity cells", quiet);
    let rows = tasks
        .par_iter()
        .filter_map(|t| {
            let r = cell(&setup, t);
            pb.inc(1);
            r
        })
        .collect::<Result<Vec<_>, _>>();
    pb.finish_and_clear();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(
        rules: &[&str],
        shapes: Vec<Shape>,
        ratios: Vec<f64>,
        attacks: &[&str],
    ) -> HeteroConfig {
        HeteroConfig {
            rules: rules.iter().map(|s| s.to_string()).collect(),
            nnm: false,
            bucket: None,
            shapes,
            g2_over_v: ratios,
            attacks: attacks.iter().map(|s| s.to_string()).collect(),
            m: 20,
            f: 4,
            d: 10,
            trials: 300,
        }
    }

    fn run_it(cfg: &HeteroConfig) -> Vec<HeteroRow> {
        run(cfg, None, (7, 1.0, 1.0), &AttackParams::default(), true).unwrap()
    }

    #[test]
    fn offsets_are_centred_with_exact_g2() {
        let (h, d) = (16, 7);
        let mut delta = vec![0.0; h * d];
        for shape in [Shape::Spread, Shape::Clusters, Shape::Outlier, Shape::Skew] {
            let mut rng = crate::rng::stream(1, 2, 3);
            offsets(shape, 2.5, h, d, &mut rng, &mut delta);
            let g2 = delta.iter().map(|v| v * v).sum::<f64>() / h as f64;
            assert!((g2 - 2.5).abs() < 1e-12, "{shape:?}: {g2}");
            for j in 0..d {
                let s: f64 = (0..h).map(|i| delta[i * d + j]).sum();
                assert!(s.abs() < 1e-12, "{shape:?} column {j}: {s}");
            }
            offsets(shape, 0.0, h, d, &mut rng, &mut delta);
            assert!(delta.iter().all(|&v| v == 0.0));
        }
        // the outlier is one row; the others coincide
        let mut rng = crate::rng::stream(1, 2, 3);
        offsets(Shape::Outlier, 1.0, h, d, &mut rng, &mut delta);
        assert!(delta[d..2 * d] == delta[2 * d..3 * d]);
        assert!(delta[..d] != delta[d..2 * d]);
    }

    #[test]
    fn the_iid_bound_breaks_as_g_grows_and_the_kappa_bound_holds() {
        let cfg = config(
            &["trmean", "median"],
            vec![Shape::Clusters],
            vec![0.0, 64.0],
            &["mimic"],
        );
        let rows = run_it(&cfg);
        assert_eq!(rows.len(), 4);
        for r in &rows {
            assert!(
                r.iid_bound.is_some() && r.kappa_bound.is_some(),
                "{}",
                r.label
            );
            // the kappa statement holds for every input: it may never be violated
            assert_ne!(
                r.kappa_verdict,
                Verdict::Violated,
                "{} G2 = {}",
                r.label,
                r.g2
            );
            assert!(
                !r.kappa_counterexample(),
                "{}: {}",
                r.label,
                r.kappa_ratio_max
            );
            if r.g2 == 0.0 {
                assert_eq!(r.iid_verdict, Verdict::Holds, "{}", r.label);
            } else {
                assert_eq!(r.iid_verdict, Verdict::Violated, "{}: {}", r.label, r.mean);
            }
        }
    }

    #[test]
    fn mean_has_no_bound_and_nnm_gets_the_mixed_kappa() {
        let mut cfg = config(
            &["mean", "median"],
            vec![Shape::Spread],
            vec![1.0],
            &["gaussian"],
        );
        cfg.nnm = true;
        cfg.bucket = Some(2);
        let rows = run_it(&cfg);
        let find = |rule: &str, w: Wrapper| {
            rows.iter()
                .find(|r| r.rule == rule && r.wrapper == w)
                .unwrap()
        };
        let mean = find("mean", Wrapper::Plain);
        assert_eq!(mean.kappa_verdict, Verdict::NotApplicable);
        assert!(
            mean.mean > 100.0,
            "the Gaussian attack moves the mean: {}",
            mean.mean
        );
        let k = crate::bounds::KappaBound::MedianLike.value(20, 4).unwrap();
        assert_eq!(
            find("median", Wrapper::Nnm).kappa,
            Some(crate::bounds::kappa_after_nnm(20, 4, k))
        );
        assert_eq!(find("median", Wrapper::Bucket(2)).kappa, None);
        assert_eq!(find("median", Wrapper::Nnm).iid_bound, None);
    }

    #[test]
    fn same_numbers_for_any_thread_count() {
        let cfg = config(
            &["trmean", "krum"],
            vec![Shape::Clusters, Shape::Skew],
            vec![0.5, 8.0],
            &["mimic", "little"],
        );
        let go = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run_it(&cfg))
                .iter()
                .map(|r| {
                    (
                        r.mean.to_bits(),
                        r.ci_high.to_bits(),
                        r.kappa_ratio_max.to_bits(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(go(1), go(3));
    }

    #[test]
    fn invalid_sections_name_the_key() {
        let mut cfg = config(&["trmean"], vec![Shape::Spread], vec![1.0], &["mimic"]);
        cfg.f = 10;
        let e = validate(&cfg).unwrap_err().to_string();
        assert!(e.contains("heterogeneity.f"), "{e}");
        cfg.f = 4;
        cfg.g2_over_v = vec![f64::NAN];
        assert!(validate(&cfg)
            .unwrap_err()
            .to_string()
            .contains("g2_over_v"));
        cfg.g2_over_v = vec![1.0];
        cfg.attacks = vec!["nope".into()];
        assert!(validate(&cfg).is_err());
        cfg.attacks = vec!["mimic".into()];
        cfg.rules = vec!["nope".into()];
        assert!(validate(&cfg).is_err());
    }
}

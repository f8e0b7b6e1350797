//! Empirical (f, kappa)-robustness (Allouah, Farhadkhani, Guerraoui, Gupta, Pinot, Stephan,
//! *Fixing by Mixing*, AISTATS 2023): the `[kappa]` section of `verify-bounds`.
//!
//! F is (f, kappa)-robust if ||F(x) - mean_S||^2 <= kappa / |S| sum_{i in S} ||x_i - mean_S||^2
//! for all x_1..x_n and every set S of n - f indices. For each rule and (n, f) the search
//! below looks for the largest ratio kappa-hat = ||F(x) - mean_S||^2 / (1/|S| sum_S ||x_i -
//! mean_S||^2) with S the first n - f rows (the rules are permutation invariant up to ties,
//! so this loses nothing): random restarts from structured configurations (Gaussian honest
//! rows, two honest clusters, one honest outlier; Byzantine rows placed along a direction, split
//! in two, copying the farthest honest row), each followed by a local search (random moves of
//! one Byzantine row, one honest row, all Byzantine rows together, or every row together;
//! step sizes grow on success and shrink on failure). Coordinates stay within +-1e6.
//!
//! kappa-hat is a lower estimate of the rule's kappa: a value above a published upper bound
//! is a finding (its input is saved as .npy for `phocas aggregate`), a value below the
//! universal lower bound f / (n - 2f) means the search was too weak there (the table says so).
//! A kappa-hat of 1e6 or more is reported as unbounded: the ratio grew with the magnitudes the
//! search may use.
//!
//! Deterministic: each (rule, n, f) search draws from the stream (seed, key of its label, n,
//! f), whatever the thread count. Time: restarts x (steps + 1) aggregations of an n x d
//! matrix per (rule, n, f).

use crate::aggregators::{self, AggregateExt, Aggregator, RuleParams, Workspace};
use crate::bounds::{kappa_lower, kappa_published};
use crate::error::Error;
use crate::matrix::MatrixView;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// The `[kappa]` section of a verify-bounds config.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KappaConfig {
    /// Rules (registry names); every rule by default.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Numbers of inputs n.
    pub n: Vec<usize>,
    /// Byzantine fractions f / n; f = round(fraction n), kept when 1 <= f and 2f < n.
    pub fractions: Vec<f64>,
    /// Dimension of the vectors.
    #[serde(default = "two")]
    pub d: usize,
    /// Random restarts per (rule, n, f).
    pub restarts: usize,
    /// Local-search steps per restart.
    pub steps: usize,
    /// Also every rule after Nearest-Neighbour Mixing with the same f.
    #[serde(default)]
    pub nnm: bool,
}

fn two() -> usize {
    2
}

/// Largest coordinate magnitude the search uses.
pub const LIMIT: f64 = 1e6;
/// kappa-hat at or above which a rule is reported unbounded.
pub const UNBOUNDED: f64 = 1e6;

/// One (rule, n, f) of the section.
#[derive(Clone, Debug)]
pub struct KappaRow {
    /// Registry name.
    pub rule: String,
    /// Whether Nearest-Neighbour Mixing runs first.
    pub nnm: bool,
    /// The rule's full label.
    pub label: String,
    pub n: usize,
    pub f: usize,
    /// The largest ratio found.
    pub kappa_hat: f64,
    /// f / (n - 2f).
    pub lower: f64,
    /// The published upper bound, if any.
    pub upper: Option<f64>,
    /// Aggregations run.
    pub evaluations: usize,
    /// The input that reached kappa-hat (n x d, the first n - f rows honest).
    pub witness: Vec<f64>,
}

impl KappaRow {
    /// kappa-hat above the published upper bound (a finding).
    pub fn above_upper(&self) -> bool {
        self.upper
            .is_some_and(|u| self.kappa_hat > u * (1.0 + 1e-9))
    }
    /// kappa-hat below the universal lower bound by more than 0.1% (the search was too weak).
    pub fn below_lower(&self) -> bool {
        self.kappa_hat < self.lower * (1.0 - 1e-3)
    }
    /// kappa-hat reached [`UNBOUNDED`].
    pub fn unbounded(&self) -> bool {
        self.kappa_hat >= UNBOUNDED
    }
}

/// The (rule, n, f) tasks of a config, in a fixed order.
pub fn tasks(cfg: &KappaConfig) -> Result<Vec<(String, bool, usize, usize)>, Error> {
    let rules: Vec<String> = if cfg.rules.is_empty() {
        aggregators::REGISTRY
            .iter()
            .map(|r| r.name.to_string())
            .collect()
    } else {
        cfg.rules.clone()
    };
    for r in &rules {
        if aggregators::info(r).is_none() {
            return Err(Error::UnknownRule {
                name: r.clone(),
                known: aggregators::rule_names(),
            });
        }
    }
    if cfg.d == 0 || cfg.restarts == 0 || cfg.n.is_empty() || cfg.fractions.is_empty() {
        return Err(Error::Config {
            key: "kappa".into(),
            msg: "give n, fractions, restarts >= 1 and d >= 1".into(),
        });
    }
    let mut out = Vec::new();
    for nnm in [false, true] {
        if nnm && !cfg.nnm {
            continue;
        }
        for r in &rules {
            for &n in &cfg.n {
                let mut fs: Vec<usize> = cfg
                    .fractions
                    .iter()
                    .filter(|v| v.is_finite() && **v > 0.0)
                    .map(|v| (v * n as f64).round() as usize)
                    .filter(|&f| f >= 1 && 2 * f < n)
                    .collect();
                fs.sort_unstable();
                fs.dedup();
                for f in fs {
                    out.push((r.clone(), nnm, n, f));
                }
            }
        }
    }
    Ok(out)
}

/// The rule of a task: b = q = f, Nearest-Neighbour Mixing with f if asked; `None` when the
/// rule does not take these parameters (Bulyan needs n >= 4f + 3).
pub fn build(rule: &str, nnm: bool, n: usize, f: usize) -> Option<Box<dyn Aggregator>> {
    let info = aggregators::info(rule)?;
    let p = RuleParams {
        nnm: nnm.then_some(f),
        ..info.with_params(RuleParams::default(), Some(f), Some(f), None)
    };
    aggregators::build(rule, &p, n).ok()
}

/// The ratio of x (n x d, honest rows first): `None` if the honest rows coincide or the
/// result is not finite.
pub fn ratio(
    rule: &dyn Aggregator,
    x: &[f64],
    (n, f, d): (usize, usize, usize),
    ws: &mut Workspace,
    out: &mut [f64],
) -> Option<f64> {
    let h = n - f;
    let mut mean = vec![0.0; d];
    for row in x[..h * d].chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= h as f64);
    let spread: f64 = x[..h * d]
        .chunks_exact(d)
        .map(|row| sq_dist(row, &mean))
        .sum::<f64>()
        / h as f64;
    if !(spread > 0.0 && spread.is_finite()) {
        return None;
    }
    let view = MatrixView::new(x, n, d).ok()?;
    rule.aggregate_into(view, ws, out).ok()?;
    let r = sq_dist(out, &mean) / spread;
    r.is_finite().then_some(r)
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

fn gauss(rng: &mut crate::rng::Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn unit(rng: &mut crate::rng::Rng, d: usize) -> Vec<f64> {
    loop {
        let u: Vec<f64> = (0..d).map(|_| gauss(rng)).collect();
        let norm = sq_dist(&u, &vec![0.0; d]).sqrt();
        if norm > 1e-9 {
            return u.into_iter().map(|v| v / norm).collect();
        }
    }
}

/// A starting configuration of family `family` (0..5), translated when `shift`.
fn start(
    rng: &mut crate::rng::Rng,
    (n, f, d): (usize, usize, usize),
    family: usize,
    shift: bool,
) -> Vec<f64> {
    let h = n - f;
    let mut x = vec![0.0; n * d];
    let u = unit(rng, d);
    match family {
        // Gaussian honest rows, Byzantine rows together along a direction
        0 => {
            x[..h * d].iter_mut().for_each(|v| *v = gauss(rng));
            let t = 10f64.powf(rng.random_range(-1.0..2.0));
            for row in x[h * d..].chunks_exact_mut(d) {
                row.iter_mut().zip(&u).for_each(|(v, w)| *v = t * w);
            }
        }
        // two honest clusters (half the time f rows against the others, the trimmed mean's
        // worst case), Byzantine rows on their line, often far beyond
        1 => {
            let k = if rng.random_bool(0.5) {
                f.clamp(1, h.max(2) - 1)
            } else {
                rng.random_range(1..h.max(2))
            };
            for (i, row) in x[..h * d].chunks_exact_mut(d).enumerate() {
                if i >= k {
                    row.copy_from_slice(&u);
                }
                row.iter_mut().for_each(|v| *v += 1e-3 * gauss(rng));
            }
            let t = if rng.random_bool(0.5) {
                10f64.powf(rng.random_range(0.0..3.0))
            } else {
                rng.random_range(-1.0..2.0)
            };
            for row in x[h * d..].chunks_exact_mut(d) {
                row.iter_mut().zip(&u).for_each(|(v, w)| *v = t * w);
            }
        }
        // one honest outlier, Byzantine rows near it
        2 => {
            for (i, row) in x[..h * d].chunks_exact_mut(d).enumerate() {
                if i == 0 {
                    row.copy_from_slice(&u);
                }
                row.iter_mut().for_each(|v| *v += 1e-3 * gauss(rng));
            }
            let t = rng.random_range(0.0..1.5);
            for row in x[h * d..].chunks_exact_mut(d) {
                row.iter_mut().zip(&u).for_each(|(v, w)| *v = t * w);
            }
        }
        // Byzantine rows copying the farthest honest row, scaled
        3 => {
            x[..h * d].iter_mut().for_each(|v| *v = gauss(rng));
            let far = (0..h)
                .max_by(|&a, &b| {
                    let na = sq_dist(&x[a * d..(a + 1) * d], &vec![0.0; d]);
                    let nb = sq_dist(&x[b * d..(b + 1) * d], &vec![0.0; d]);
                    na.total_cmp(&nb)
                })
                .unwrap_or(0);
            let s = rng.random_range(1.0..3.0);
            let src: Vec<f64> = x[far * d..(far + 1) * d].iter().map(|v| v * s).collect();
            for row in x[h * d..].chunks_exact_mut(d) {
                row.copy_from_slice(&src);
            }
        }
        // Byzantine rows split on both sides
        _ => {
            x[..h * d].iter_mut().for_each(|v| *v = gauss(rng));
            let t = 10f64.powf(rng.random_range(-1.0..2.0));
            for (i, row) in x[h * d..].chunks_exact_mut(d).enumerate() {
                let s = if i % 2 == 0 { t } else { -t };
                row.iter_mut().zip(&u).for_each(|(v, w)| *v = s * w);
            }
        }
    }
    if shift {
        let c = 10f64.powf(rng.random_range(0.0..4.0));
        let v = unit(rng, d);
        for row in x.chunks_exact_mut(d) {
            row.iter_mut().zip(&v).for_each(|(a, w)| *a += c * w);
        }
    }
    x
}

/// Searches one (rule, n, f); returns (kappa-hat, witness, evaluations).
pub fn search(
    rule: &dyn Aggregator,
    (n, f, d): (usize, usize, usize),
    (restarts, steps): (usize, usize),
    rng: &mut crate::rng::Rng,
) -> (f64, Vec<f64>, usize) {
    let mut ws = Workspace::new();
    let mut out = vec![0.0; d];
    let mut best = (0.0, vec![0.0; n * d]);
    let mut evals = 0;
    let h = n - f;
    let mut y = vec![0.0; n * d];
    for r in 0..restarts {
        let mut x = start(rng, (n, f, d), r % 5, r % 3 == 2);
        evals += 1;
        let Some(mut cur) = ratio(rule, &x, (n, f, d), &mut ws, &mut out) else {
            continue;
        };
        let mut sigma = 1.0f64;
        for _ in 0..steps {
            y.copy_from_slice(&x);
            let step: Vec<f64> = (0..d).map(|_| sigma * gauss(rng)).collect();
            match rng.random_range(0..4) {
                0 if f > 0 => {
                    let i = rng.random_range(h..n);
                    y[i * d..(i + 1) * d]
                        .iter_mut()
                        .zip(&step)
                        .for_each(|(v, s)| *v += s);
                }
                2 if f > 0 => {
                    for row in y[h * d..].chunks_exact_mut(d) {
                        row.iter_mut().zip(&step).for_each(|(v, s)| *v += s);
                    }
                }
                3 => {
                    for row in y.chunks_exact_mut(d) {
                        row.iter_mut().zip(&step).for_each(|(v, s)| *v += s);
                    }
                }
                _ => {
                    let i = rng.random_range(0..h);
                    y[i * d..(i + 1) * d]
                        .iter_mut()
                        .zip(&step)
                        .for_each(|(v, s)| *v += s);
                }
            }
            y.iter_mut().for_each(|v| *v = v.clamp(-LIMIT, LIMIT));
            evals += 1;
            match ratio(rule, &y, (n, f, d), &mut ws, &mut out) {
                Some(v) if v > cur => {
                    cur = v;
                    std::mem::swap(&mut x, &mut y);
                    sigma = (sigma * 1.5).min(LIMIT);
                }
                _ => sigma = (sigma * 0.85).max(1e-6),
            }
        }
        if cur > best.0 {
            best = (cur, x);
        }
    }
    (best.0, best.1, evals)
}

/// Runs every task of the section, in parallel; rows in task order.
pub fn run(cfg: &KappaConfig, seed: u64, quiet: bool) -> Result<Vec<KappaRow>, Error> {
    let tasks = tasks(cfg)?;
    let pb = crate::report::progress_bar(tasks.len(), "kappa searches", quiet);
    let rows: Vec<Option<KappaRow>> = tasks
        .par_iter()
        .map(|(rule, nnm, n, f)| {
            let (n, f) = (*n, *f);
            let r = build(rule, *nnm, n, f)?;
            let label = r.label();
            let key = crate::rng::hash_str(&format!("kappa/{label}/{n}/{f}/{}", cfg.d));
            let mut rng = crate::rng::stream(seed, key, 0);
            let (kappa_hat, witness, evaluations) = search(
                r.as_ref(),
                (n, f, cfg.d),
                (cfg.restarts, cfg.steps),
                &mut rng,
            );
            let upper = kappa_published(aggregators::info(rule)?.kappa, *nnm, n, f);
            pb.inc(1);
            Some(KappaRow {
                rule: rule.clone(),
                nnm: *nnm,
                label,
                n,
                f,
                kappa_hat,
                lower: kappa_lower(n, f).unwrap_or(f64::NAN),
                upper,
                evaluations,
                witness,
            })
        })
        .collect();
    pb.finish_and_clear();
    Ok(rows.into_iter().flatten().collect())
}

/// Writes `kappa.csv` / `kappa.parquet`, the chart `kappa.png` / `.svg` (unless `charts` is
/// false) and, for every row above its published upper bound, its input as
/// `kappa-witness-<rule>-n<n>-f<f>.npy` (n x d, the first n - f rows honest); returns the
/// number of rows.
pub fn write(rows: &[KappaRow], dir: &std::path::Path, charts: bool) -> Result<usize, Error> {
    let mut witness = Vec::new();
    for r in rows {
        let file = if r.above_upper() {
            let name = format!(
                "kappa-witness-{}{}-n{}-f{}.npy",
                if r.nnm { "nnm-" } else { "" },
                r.rule,
                r.n,
                r.f
            );
            let d = r.witness.len() / r.n;
            crate::npy::write(&dir.join(&name), &r.witness, &[r.n, d])?;
            name
        } else {
            String::new()
        };
        witness.push(file);
    }
    let s = |f: &dyn Fn(&KappaRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let mut df = crate::report::TableBuilder::new()
        .str("rule", &s(&|r| r.rule.clone()))
        .bool("nnm", rows.iter().map(|r| r.nnm).collect())
        .str("label", &s(&|r| r.label.clone()))
        .u64("n", rows.iter().map(|r| r.n as u64).collect())
        .u64("f", rows.iter().map(|r| r.f as u64).collect())
        .f64(
            "f_over_n",
            rows.iter().map(|r| r.f as f64 / r.n as f64).collect(),
        )
        .f64("kappa_hat", rows.iter().map(|r| r.kappa_hat).collect())
        .f64("lower_bound", rows.iter().map(|r| r.lower).collect())
        .f64(
            "published_upper",
            rows.iter().map(|r| r.upper.unwrap_or(f64::NAN)).collect(),
        )
        .bool(
            "above_upper",
            rows.iter().map(KappaRow::above_upper).collect(),
        )
        .bool(
            "below_lower",
            rows.iter().map(KappaRow::below_lower).collect(),
        )
        .bool("unbounded", rows.iter().map(KappaRow::unbounded).collect())
        .u64(
            "evaluations",
            rows.iter().map(|r| r.evaluations as u64).collect(),
        )
        .str("witness", &witness)
        .build()?;
    crate::report::write_table(&mut df, dir, "kappa")?;
    if charts && !rows.is_empty() {
        chart(rows, dir)?;
    }
    Ok(rows.len())
}

/// One panel per (n, with or without NNM): kappa-hat per rule against f/n (log scale; values
/// at the unbounded mark drawn at it), the universal lower bound, and the published upper
/// bounds dashed in the rule's colour.
fn chart(rows: &[KappaRow], dir: &std::path::Path) -> Result<(), Error> {
    use crate::report::chart::{rule_color, save, LineChart, Panel, Series, THEORY};
    let mut ns: Vec<usize> = rows.iter().map(|r| r.n).collect();
    ns.sort_unstable();
    ns.dedup();
    let mut panels = Vec::new();
    for nnm in [false, true] {
        for &n in &ns {
            let here: Vec<&KappaRow> = rows.iter().filter(|r| r.n == n && r.nnm == nnm).collect();
            if here.is_empty() {
                continue;
            }
            let mut series = Vec::new();
            let mut names: Vec<&str> = here.iter().map(|r| r.rule.as_str()).collect();
            names.dedup();
            for name in names {
                let mine: Vec<&&KappaRow> = here.iter().filter(|r| r.rule == name).collect();
                let pts = mine
                    .iter()
                    .map(|r| (r.f as f64 / n as f64, r.kappa_hat.min(UNBOUNDED)))
                    .collect();
                series.push(
                    Series::line(name, pts)
                        .with_markers()
                        .with_color(rule_color(name)),
                );
                let up: Vec<(f64, f64)> = mine
                    .iter()
                    .filter_map(|r| r.upper.map(|u| (r.f as f64 / n as f64, u)))
                    .collect();
                if !up.is_empty() {
                    series.push(
                        Series::dashed(format!("{name}: published upper bound"), up)
                            .with_color(rule_color(name)),
                    );
                }
            }
            let mut lows: Vec<(f64, f64)> = here
                .iter()
                .map(|r| (r.f as f64 / n as f64, r.lower))
                .collect();
            lows.sort_by(|a, b| a.0.total_cmp(&b.0));
            lows.dedup();
            series.push(Series::dashed("lower bound f/(n-2f)", lows).with_color(THEORY));
            panels.push(Panel::Lines(LineChart {
                title: format!("kappa-hat, n = {n}{}", if nnm { ", after NNM" } else { "" }),
                x_label: "f / n".into(),
                y_label: format!("kappa-hat (search; {UNBOUNDED:e} = unbounded)"),
                log_y: true,
                series,
                ..Default::default()
            }));
        }
    }
    let cols = ns.len().max(1);
    save(&panels, cols, (700, 520), dir, "kappa")
}

/// The section as console text: per rule and n, the largest kappa-hat and the findings.
pub fn text(rows: &[KappaRow]) -> String {
    let above: Vec<&KappaRow> = rows.iter().filter(|r| r.above_upper()).collect();
    let below = rows.iter().filter(|r| r.below_lower()).count();
    let unb: Vec<String> = {
        let mut v: Vec<String> = rows
            .iter()
            .filter(|r| r.unbounded())
            .map(|r| format!("{}{}", if r.nnm { "nnm+" } else { "" }, r.rule))
            .collect();
        v.dedup();
        v
    };
    let mut s = format!(
        "kappa: {} searches; {} kappa-hat above a published upper bound{}; {} below the universal lower bound f/(n-2f) (search too weak there); unbounded: {}",
        rows.len(),
        above.len(),
        if above.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                above
                    .iter()
                    .map(|r| format!("{} n={} f={}: {:.3} > {:.3}", r.label, r.n, r.f, r.kappa_hat, r.upper.unwrap_or(f64::NAN)))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
        below,
        if unb.is_empty() { "none".into() } else { unb.join(", ") }
    );
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kappa(rule: &str, nnm: bool, n: usize, f: usize, d: usize) -> f64 {
        let r = build(rule, nnm, n, f).unwrap();
        let mut rng = crate::rng::stream(1, 2, 3);
        search(r.as_ref(), (n, f, d), (20, 300), &mut rng).0
    }

    /// The median of three values with one Byzantine: the worst case puts the median on an
    /// honest value, ratio ((b - a) / 2)^2 / ((b - a) / 2)^2 = 1 = f / (n - 2f). The search
    /// reaches it and never exceeds it.
    #[test]
    fn median_of_three_reaches_its_closed_form() {
        let k = kappa("median", false, 3, 1, 1);
        assert!((k - 1.0).abs() < 1e-6, "{k}");
    }

    /// The mean is not robust: the search drives the ratio past the unbounded mark.
    #[test]
    fn mean_is_unbounded() {
        assert!(kappa("mean", false, 10, 2, 2) >= UNBOUNDED);
    }

    /// Trimmed mean at n = 5, f = 1 (b = 1): the search finds at least the universal lower
    /// bound 1/3 and stays below the published 6 f/(n-2f) (1 + f/(n-2f)) = 8/3.
    #[test]
    fn trimmed_mean_between_the_bounds() {
        let k = kappa("trmean", false, 5, 1, 1);
        let (lo, hi) = (
            kappa_lower(5, 1).unwrap(),
            aggregators::info("trmean")
                .unwrap()
                .kappa
                .value(5, 1)
                .unwrap(),
        );
        assert!(k >= lo * 0.999 && k <= hi, "{lo} <= {k} <= {hi}");
    }

    #[test]
    fn same_seed_same_numbers() {
        assert_eq!(kappa("krum", false, 9, 2, 2), kappa("krum", false, 9, 2, 2));
    }

    #[test]
    fn tasks_skip_fractions_out_of_range() {
        let cfg = KappaConfig {
            rules: vec!["median".into()],
            n: vec![10],
            fractions: vec![0.0, 0.04, 0.1, 0.4, 0.5, f64::NAN],
            d: 2,
            restarts: 1,
            steps: 1,
            nnm: true,
        };
        let t = tasks(&cfg).unwrap();
        let fs: Vec<(bool, usize)> = t.iter().map(|(_, nnm, _, f)| (*nnm, *f)).collect();
        assert_eq!(fs, vec![(false, 1), (false, 4), (true, 1), (true, 4)]);
    }
}

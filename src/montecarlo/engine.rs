//! The Monte Carlo engine: runs each cell's trials in parallel with per-trial random streams
//! derived from (master seed, the cell's data key, trial index), so results are bit-identical
//! for any thread count.
//!
//! Common random numbers: the data key ([`Cell::data_key`]) leaves out the rule and its
//! parameter, so within a sweep every rule sees the same honest samples, the same Byzantine
//! positions and the same attack randomness in trial t; differences between rules are then
//! paired ([`super::paired`]). An adaptive attack (`sided`, `search`) still answers each rule
//! on its own: it sees the rule and the true gradient through an [`Oracle`].

use super::config::{Cell, Config};
use super::stats::{summarize, summarize_robust, Summary};
use super::verdict::Verdict;
use crate::aggregators::{self, AggregateExt, Workspace};
use crate::attacks::{self, AttackExt, Oracle, Target};
use crate::bounds::{self, BoundKind};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::models::GradientModel;
use crate::rng::{hash_str, stream};
use rayon::prelude::*;

/// Trials per parallel batch (fixed: never depends on the thread count).
const BATCH: usize = 64;

/// The outcome of one cell.
#[derive(Clone, Debug)]
pub struct CellResult {
    /// The cell.
    pub cell: Cell,
    /// Rule label with parameters and conventions.
    pub rule_label: String,
    /// Exact V.
    pub v: f64,
    /// Error statistics.
    pub stats: Summary,
    /// Which bound covers the cell, if any.
    pub bound_kind: Option<BoundKind>,
    /// Bound / V, or why it does not apply.
    pub bound_over_v: Result<f64, String>,
    /// The hidden condition's text and whether it holds.
    pub hidden: Option<(&'static str, bool)>,
    /// Verdict: holds, violated, inconclusive, n/a, unbounded.
    pub verdict: Verdict,
    /// Log-log slope of error against magnitude over the last two magnitudes of its group.
    pub growth_slope: Option<f64>,
    /// Wall time of the cell, seconds.
    pub seconds: f64,
    /// Which interval decided the verdict (Student-t, or with the bootstrap for heavy tails).
    pub interval: &'static str,
    /// The exact worst case at the trial's positions (monotone rules, q > 0).
    pub exact: Option<Exact>,
    /// Mean number of rows carrying a Byzantine value.
    pub rows_mean: f64,
    /// Largest number of such rows in a trial.
    pub rows_max: usize,
    /// Whether the Byzantine positions were independent of the data (the proofs of Theorems
    /// 1-2 and Lemma 1 assume it).
    pub positions_independent: bool,
    /// Conditions the statements leave out, all together: the hidden condition, positions
    /// independent of the data, and for Krum at most its assumed q rows corrupted.
    pub conditions_hold: bool,
}

/// Which bound covers the cell, with the reason when none does.
pub fn bound_for(cell: &Cell, whole_rows: bool) -> (Option<BoundKind>, Result<f64, String>) {
    bounds::rule_bound(
        crate::aggregators::info(&cell.rule).map_or(bounds::RuleBound::None, |i| i.bound),
        &cell.corruption,
        whole_rows,
        cell.m,
        cell.q,
        cell.b,
    )
}

/// What a cell's simulation produces; everything else in [`CellResult`] is derived from it
/// (so a checkpointed cell is restored exactly).
#[derive(Clone, Debug, PartialEq)]
pub struct CellRaw {
    /// Rule label.
    pub rule_label: String,
    /// Exact V.
    pub v: f64,
    /// Whether the corruption model corrupts whole rows.
    pub whole_rows: bool,
    /// Error statistics.
    pub stats: Summary,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The exact worst case at the trial's positions (monotone rules with q > 0:
    /// [`attacks::exact_worst`]): mean and 95% Student-t interval.
    pub exact: Option<Exact>,
    /// Mean number of rows that carry at least one Byzantine value.
    pub rows_mean: f64,
    /// Largest number of such rows in a trial.
    pub rows_max: usize,
    /// Per-trial errors (for paired comparisons; not checkpointed, empty when restored).
    pub errors: Vec<f64>,
}

/// The exact worst case's estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exact {
    /// Mean over trials.
    pub mean: f64,
    /// 95% interval, low.
    pub ci_low: f64,
    /// 95% interval, high.
    pub ci_high: f64,
}

/// Estimated peak memory and work of simulating `cells` on `threads` threads (see
/// `crate::budget`): every cell's per-trial errors are kept until the paired comparisons
/// (8 bytes a trial); a cell in progress holds 20 bytes a trial and, per thread, its m x d
/// sample and mask; a trial samples and aggregates m x d values.
pub fn estimate(cells: &[Cell], threads: usize) -> crate::budget::Estimate {
    let mut e = crate::budget::Estimate::default();
    let name = |c: &Cell| {
        format!(
            "cell {} (m = {}, d = {}, trials = {})",
            c.key(),
            c.m,
            c.d,
            c.trials
        )
    };
    let mut peak: Option<(f64, &Cell)> = None;
    for c in cells {
        let (t, m, d) = (c.trials as f64, c.m as f64, c.d as f64);
        e.memory(8.0 * t, || name(c));
        e.work(t * m * d, || name(c));
        let live = 12.0 * t + threads as f64 * (9.0 * m * d + 16.0 * d);
        if peak.is_none_or(|(p, _)| crate::budget::exceeds(live, p)) {
            peak = Some((live, c));
        }
    }
    if let Some((live, c)) = peak {
        // at most one cell in progress per thread
        e.memory(live * threads.min(cells.len()) as f64, || name(c));
    }
    e
}

/// Runs one cell's trials. Returns `Error::Interrupted` if `stop` is set meanwhile.
pub fn simulate_cell(
    cfg: &Config,
    cell: &Cell,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<CellRaw, Error> {
    use std::sync::atomic::Ordering;
    let start = std::time::Instant::now();
    let (m, d) = (cell.m, cell.d);
    let model = GradientModel::new(
        &cell.distribution,
        d,
        cfg.v,
        cell.n,
        cell.reading,
        cfg.g_norm,
    )?;
    let rule = aggregators::build(&cell.rule, &cell.rule_params(), m)?;
    let mut ap = cfg.attack_params.clone();
    if let Some(mag) = cell.magnitude {
        ap.set_magnitude(&cell.attack, mag);
    }
    let corruption = attacks::build_corruption(&cell.corruption, &ap)?;
    let attack = attacks::build_attack(&cell.attack, &ap)?;
    let key = hash_str(&cell.data_key());
    let g = model.mean();
    let free = corruption.sees_data();
    let exact_on = rule.monotone() && cell.q > 0;
    let mut errors = vec![0.0f64; cell.trials];
    let mut exact = vec![f64::NAN; cell.trials];
    let mut rows = vec![0u32; cell.trials];
    errors
        .par_chunks_mut(BATCH)
        .zip(rows.par_chunks_mut(BATCH))
        .zip(exact.par_chunks_mut(BATCH))
        .enumerate()
        .try_for_each(|(bi, ((chunk, rows), exact))| -> Result<(), Error> {
            if stop.load(Ordering::Relaxed) {
                return Err(Error::Interrupted("stopped".into()));
            }
            let mut x = vec![0.0f64; m * d];
            let mut mask = vec![false; m * d];
            let mut out = vec![0.0f64; d];
            let mut ws = Workspace::new();
            for (k, ((e, nrows), ex)) in chunk
                .iter_mut()
                .zip(rows.iter_mut())
                .zip(exact.iter_mut())
                .enumerate()
            {
                let t = (bi * BATCH + k) as u64;
                let mut rng = stream(cfg.seed, key, t);
                for row in x.chunks_exact_mut(d) {
                    model.sample_into(&mut rng, row);
                }
                // models whose positions ignore the data fall through to `mark`
                attacks::mark_positions(
                    corruption.as_ref(),
                    &x,
                    Some(g),
                    (m, d, cell.q),
                    &mut rng,
                    &mut mask,
                );
                let oracle = Oracle {
                    g,
                    rule: rule.as_ref(),
                };
                if exact_on {
                    *ex = attacks::exact_worst(&x, &mask, m, d, oracle, free).unwrap_or(f64::NAN);
                }
                let mut target = Target::new(&mut x, m, d, &mut mask);
                target.oracle = Some(oracle);
                target.free_positions = free;
                attack.apply_to(target, &mut rng);
                *nrows = mask
                    .chunks_exact(d)
                    .filter(|r| r.iter().any(|&b| b))
                    .count() as u32;
                rule.aggregate_into(MatrixView::new(&x, m, d)?, &mut ws, &mut out)?;
                *e = out.iter().zip(g).map(|(a, b)| (a - b) * (a - b)).sum();
            }
            Ok(())
        })?;
    let rows_mean = rows.iter().map(|&r| f64::from(r)).sum::<f64>() / rows.len().max(1) as f64;
    let rows_max = rows.iter().copied().max().unwrap_or(0) as usize;
    let mut boot = stream(cfg.seed, hash_str(&cell.key()), u64::MAX);
    Ok(CellRaw {
        rule_label: rule.label(),
        v: model.variance(),
        whole_rows: corruption.whole_rows(),
        stats: summarize_robust(&errors, &mut boot),
        seconds: start.elapsed().as_secs_f64(),
        exact: exact_on.then(|| {
            let s = summarize(&exact, &mut Vec::new());
            Exact {
                mean: s.mean,
                ci_low: s.ci_low,
                ci_high: s.ci_high,
            }
        }),
        rows_mean,
        rows_max,
        errors,
    })
}

/// Derives bound, hidden condition and verdict of a simulated cell.
pub fn finish_cell(cell: &Cell, raw: CellRaw) -> CellResult {
    let CellRaw {
        rule_label,
        v,
        whole_rows,
        stats,
        seconds,
        exact,
        rows_mean,
        rows_max,
        errors: _,
    } = raw;
    let (bound_kind, bound_over_v) = bound_for(cell, whole_rows);
    let hidden = bound_kind.map(|k| {
        // the trimming the bound is taken at (Median: Trmean at ceil(m/2) - 1)
        let median = aggregators::info(&cell.rule)
            .is_some_and(|i| i.bound == bounds::RuleBound::Delta1AtMedian);
        let param = if median {
            aggregators::max_trim(cell.m)
        } else {
            cell.b.unwrap_or(0)
        };
        bounds::hidden_condition(k, cell.q, param)
    });
    let positions_independent = attacks::CORRUPTIONS
        .iter()
        .find(|c| c.name == cell.corruption)
        .is_none_or(|c| !(c.build)(&Default::default()).sees_data());
    let krum_rows = match bound_kind {
        Some(BoundKind::Delta0) => rows_max <= cell.b.unwrap_or(cell.q),
        _ => true,
    };
    let conditions_hold = hidden.is_none_or(|h| h.1) && positions_independent && krum_rows;
    let (ci_low, ci_high, interval) = stats.verdict_interval();
    let verdict = Verdict::judge(
        stats.mean,
        (ci_low, ci_high),
        bound_over_v.as_ref().ok().map(|b| b * v),
    );
    CellResult {
        rule_label,
        cell: cell.clone(),
        v,
        stats,
        bound_kind,
        bound_over_v,
        hidden,
        verdict,
        growth_slope: None,
        seconds,
        interval,
        exact,
        rows_mean,
        rows_max,
        positions_independent,
        conditions_hold,
    }
}

/// After all cells ran: for cells that sweep the attack magnitude, fits the growth of the error
/// between the two largest magnitudes of each group and marks rules without a bound
/// `unbounded` when the error grows with the magnitude (Propositions 1-3) or is not finite.
pub fn mark_growth(results: &mut [CellResult]) {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in results.iter().enumerate() {
        if r.cell.magnitude.is_some() {
            let mut c = r.cell.clone();
            c.magnitude = None;
            groups.entry(c.key()).or_default().push(i);
        }
    }
    for idx in groups.values() {
        if idx.len() < 2 {
            continue;
        }
        let mut idx = idx.clone();
        idx.sort_by(|&a, &b| {
            results[a]
                .cell
                .magnitude
                .partial_cmp(&results[b].cell.magnitude)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let hi = idx[idx.len() - 1];
        let lo = idx[idx.len() - 2];
        let (m1, m2) = (
            results[lo].cell.magnitude.unwrap_or(1.0),
            results[hi].cell.magnitude.unwrap_or(1.0),
        );
        let (e1, e2) = (results[lo].stats.mean, results[hi].stats.mean);
        let slope = if !e2.is_finite() {
            f64::INFINITY
        } else if e1 > 0.0 && e2 > 0.0 && m2 > m1 && m1 > 0.0 {
            (e2 / e1).ln() / (m2 / m1).ln()
        } else {
            0.0
        };
        let first = results[idx[0]].stats.mean;
        let grows = slope > 1.0 && (!e2.is_finite() || e2 > 1e6 * first.max(f64::MIN_POSITIVE));
        for &i in &idx {
            results[i].growth_slope = Some(slope);
            // mark the cells where the growth shows (error 100x that at the smallest magnitude)
            let e = results[i].stats.mean;
            let shown = !e.is_finite() || e > 100.0 * first.max(f64::MIN_POSITIVE);
            if results[i].bound_over_v.is_err() && grows && shown {
                results[i].verdict = Verdict::Unbounded;
            }
        }
    }
}

//! The Monte Carlo engine: runs each cell's trials in parallel with per-trial random streams
//! derived from (master seed, cell key, trial index), so results are bit-identical for any
//! thread count.

use super::config::{Cell, Config};
use super::stats::{summarize, Summary};
use crate::aggregators::{self, AggregateExt, Workspace};
use crate::attacks::{self, AttackExt, Target};
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
    pub verdict: String,
    /// Log-log slope of error against magnitude over the last two magnitudes of its group.
    pub growth_slope: Option<f64>,
    /// Wall time of the cell, seconds.
    pub seconds: f64,
}

/// Which bound covers the cell, with the reason when none does.
pub fn bound_for(cell: &Cell, whole_rows: bool) -> (Option<BoundKind>, Result<f64, String>) {
    bounds::rule_bound(
        &cell.rule,
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
    let key = hash_str(&cell.key());
    let g = model.mean();
    let mut errors = vec![0.0f64; cell.trials];
    errors
        .par_chunks_mut(BATCH)
        .enumerate()
        .try_for_each(|(bi, chunk)| -> Result<(), Error> {
            if stop.load(Ordering::Relaxed) {
                return Err(Error::Interrupted("stopped".into()));
            }
            let mut x = vec![0.0f64; m * d];
            let mut mask = vec![false; m * d];
            let mut out = vec![0.0f64; d];
            let mut ws = Workspace::new();
            for (k, e) in chunk.iter_mut().enumerate() {
                let t = (bi * BATCH + k) as u64;
                let mut rng = stream(cfg.seed, key, t);
                for row in x.chunks_exact_mut(d) {
                    model.sample_into(&mut rng, row);
                }
                corruption.mark(m, d, cell.q, &mut rng, &mut mask);
                attack.apply_to(
                    Target {
                        x: &mut x,
                        m,
                        d,
                        mask: &mask,
                    },
                    &mut rng,
                );
                rule.aggregate_into(MatrixView::new(&x, m, d)?, &mut ws, &mut out)?;
                *e = out.iter().zip(g).map(|(a, b)| (a - b) * (a - b)).sum();
            }
            Ok(())
        })?;
    Ok(CellRaw {
        rule_label: rule.label(),
        v: model.variance(),
        whole_rows: corruption.whole_rows(),
        stats: summarize(&errors, &mut Vec::new()),
        seconds: start.elapsed().as_secs_f64(),
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
    } = raw;
    let (bound_kind, bound_over_v) = bound_for(cell, whole_rows);
    let hidden = bound_kind.map(|k| {
        let param = if cell.rule == "median" {
            aggregators::max_trim(cell.m)
        } else {
            cell.b.unwrap_or(0)
        };
        bounds::hidden_condition(k, cell.q, param)
    });
    let verdict = match &bound_over_v {
        Ok(b) => {
            let bound = b * v;
            if !stats.mean.is_finite() || stats.ci_low > bound {
                "violated"
            } else if stats.ci_high <= bound {
                "holds"
            } else {
                "inconclusive"
            }
        }
        Err(_) if !stats.mean.is_finite() => "unbounded",
        Err(_) => "n/a",
    }
    .to_string();
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
    }
}

/// Runs one cell (simulate and finish).
pub fn run_cell(cfg: &Config, cell: &Cell) -> Result<CellResult, Error> {
    let never = std::sync::atomic::AtomicBool::new(false);
    Ok(finish_cell(cell, simulate_cell(cfg, cell, &never)?))
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
                results[i].verdict = "unbounded".into();
            }
        }
    }
}

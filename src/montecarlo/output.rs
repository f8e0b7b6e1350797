//! Tables, charts and the console summary of a Monte Carlo run.
//!
//! Schema of results.csv / results.parquet (one row per cell):
//! sweep, cell_key, rule, rule_label, distribution, corruption, attack, magnitude (NaN when the
//! attack's default), m, q, b (-1 when the rule takes none), b_spec, d, n, reading, trials, v
//! (exact V), mean_error, sd_error, se, ci_low, ci_high, median_error, p99_error, max_error,
//! nonfinite_trials, error_over_v, bound_name, bound_ref, bound_over_v (NaN when n/a), bound,
//! ratio (mean_error / bound), bound_note (why n/a, or "as stated"), hidden_condition,
//! hidden_condition_holds, verdict, interval (which interval decided: Student-t, or its hull
//! with a bootstrap for heavy tails), heavy_tail, boot_low, boot_high, exact_worst_mean,
//! exact_worst_ci_low, exact_worst_ci_high, exact_worst_ratio (the closed-form worst case at
//! the trial's positions over the bound; NaN unless a monotone rule with q > 0),
//! rows_corrupted_mean, rows_corrupted_max, dq_ge_m (d q >= m: the generalized model can reach
//! every row), positions_independent, conditions_hold (the hidden condition, positions
//! independent of the data, and for Krum at most its assumed q rows corrupted),
//! growth_slope (NaN unless a magnitude sweep), seed, version.
//!
//! tightness.csv: per bound, per q class (q = 0, q >= 1) and per whether the conditions hold,
//! the largest ratio mean error / bound over every attack, with the cell that reached it.
//! paired.csv: the paired comparisons of [`super::paired`] (b is rule A's parameter, -1 for
//! Median).

use super::config::{ChartAxis, Config};
use super::engine::CellResult;
use super::verdict::Verdict;
use crate::error::Error;
use crate::report::chart::{self, Heatmap, LineChart, Panel, Series};
use crate::report::{write_table, TableBuilder};
use plotters::style::RGBColor;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;
use std::path::Path;

/// Writes results.csv and results.parquet; returns the row count.
pub fn write_results(results: &[CellResult], cfg: &Config, dir: &Path) -> Result<usize, Error> {
    let mut df = results_table(results, cfg)?;
    write_table(&mut df, dir, "results")?;
    Ok(results.len())
}

/// The results table of `results.csv` / `results.parquet`: one row per cell.
pub fn results_table(results: &[CellResult], cfg: &Config) -> Result<DataFrame, Error> {
    let s = |f: &dyn Fn(&CellResult) -> String| results.iter().map(f).collect::<Vec<String>>();
    let f = |f: &dyn Fn(&CellResult) -> f64| results.iter().map(f).collect::<Vec<f64>>();
    let u = |f: &dyn Fn(&CellResult) -> u64| results.iter().map(f).collect::<Vec<u64>>();
    let bound = |r: &CellResult| r.bound_over_v.as_ref().map_or(f64::NAN, |b| b * r.v);
    TableBuilder::new()
        .str("sweep", &s(&|r| r.cell.sweep.clone()))
        .str("cell_key", &s(&|r| r.cell.key()))
        .str("rule", &s(&|r| r.cell.rule.clone()))
        .str("rule_label", &s(&|r| r.rule_label.clone()))
        .str("distribution", &s(&|r| r.cell.distribution.clone()))
        .str("corruption", &s(&|r| r.cell.corruption.clone()))
        .str("attack", &s(&|r| r.cell.attack.clone()))
        .f64("magnitude", f(&|r| r.cell.magnitude.unwrap_or(f64::NAN)))
        .u64("m", u(&|r| r.cell.m as u64))
        .u64("q", u(&|r| r.cell.q as u64))
        .i64(
            "b",
            results
                .iter()
                .map(|r| r.cell.b.map_or(-1, |b| b as i64))
                .collect(),
        )
        .str("b_spec", &s(&|r| r.cell.b_spec.clone()))
        .u64("d", u(&|r| r.cell.d as u64))
        .u64("n", u(&|r| r.cell.n as u64))
        .str("reading", &s(&|r| r.cell.reading.name().to_string()))
        .u64("trials", u(&|r| r.cell.trials as u64))
        .f64("v", f(&|r| r.v))
        .f64("mean_error", f(&|r| r.stats.mean))
        .f64("sd_error", f(&|r| r.stats.sd))
        .f64("se", f(&|r| r.stats.se))
        .f64("ci_low", f(&|r| r.stats.ci_low))
        .f64("ci_high", f(&|r| r.stats.ci_high))
        .f64("median_error", f(&|r| r.stats.median))
        .f64("p99_error", f(&|r| r.stats.p99))
        .f64("max_error", f(&|r| r.stats.max))
        .u64("nonfinite_trials", u(&|r| r.stats.nonfinite as u64))
        .f64("error_over_v", f(&|r| r.stats.mean / r.v))
        .str(
            "bound_name",
            &s(&|r| r.bound_kind.map_or("-", |k| k.name()).to_string()),
        )
        .str(
            "bound_ref",
            &s(&|r| r.bound_kind.map_or("-", |k| k.reference()).to_string()),
        )
        .f64(
            "bound_over_v",
            f(&|r| *r.bound_over_v.as_ref().unwrap_or(&f64::NAN)),
        )
        .f64("bound", f(&bound))
        .f64("ratio", f(&|r| r.stats.mean / bound(r)))
        .str(
            "bound_note",
            &s(&|r| match &r.bound_over_v {
                Ok(_) => "as stated".into(),
                Err(e) => e.clone(),
            }),
        )
        .str(
            "hidden_condition",
            &s(&|r| r.hidden.map_or("-", |h| h.0).to_string()),
        )
        .bool(
            "hidden_condition_holds",
            results
                .iter()
                .map(|r| r.hidden.is_none_or(|h| h.1))
                .collect(),
        )
        .str("verdict", &s(&|r| r.verdict.as_str().to_string()))
        .str("interval", &s(&|r| r.interval.to_string()))
        .bool(
            "heavy_tail",
            results.iter().map(|r| r.stats.heavy).collect(),
        )
        .f64("boot_low", f(&|r| r.stats.boot_low))
        .f64("boot_high", f(&|r| r.stats.boot_high))
        .f64(
            "exact_worst_mean",
            f(&|r| r.exact.map_or(f64::NAN, |e| e.mean)),
        )
        .f64(
            "exact_worst_ci_low",
            f(&|r| r.exact.map_or(f64::NAN, |e| e.ci_low)),
        )
        .f64(
            "exact_worst_ci_high",
            f(&|r| r.exact.map_or(f64::NAN, |e| e.ci_high)),
        )
        .f64(
            "exact_worst_ratio",
            f(&|r| r.exact.map_or(f64::NAN, |e| e.mean / bound(r))),
        )
        .f64("rows_corrupted_mean", f(&|r| r.rows_mean))
        .u64("rows_corrupted_max", u(&|r| r.rows_max as u64))
        .bool(
            "dq_ge_m",
            results
                .iter()
                .map(|r| r.cell.d * r.cell.q >= r.cell.m)
                .collect(),
        )
        .bool(
            "positions_independent",
            results.iter().map(|r| r.positions_independent).collect(),
        )
        .bool(
            "conditions_hold",
            results.iter().map(|r| r.conditions_hold).collect(),
        )
        .f64("growth_slope", f(&|r| r.growth_slope.unwrap_or(f64::NAN)))
        .u64("seed", vec![cfg.seed; results.len()])
        .str("version", &vec![env!("CARGO_PKG_VERSION"); results.len()])
        .build()
}

fn short_rule(r: &CellResult) -> String {
    r.cell.rule.clone()
}

/// Line charts for each sweep with a chart axis, plus the verdict heat map.
pub fn write_charts(results: &[CellResult], dir: &Path) -> Result<(), Error> {
    let mut by_sweep: BTreeMap<&str, Vec<&CellResult>> = BTreeMap::new();
    for r in results {
        if r.cell.chart != ChartAxis::None {
            by_sweep.entry(&r.cell.sweep).or_default().push(r);
        }
    }
    for (sweep, rs) in by_sweep {
        let axis = rs[0].cell.chart;
        let xval = |r: &CellResult| -> f64 {
            match axis {
                ChartAxis::Q => r.cell.q as f64,
                ChartAxis::B => r.cell.b.unwrap_or(0) as f64,
                ChartAxis::D => r.cell.d as f64,
                ChartAxis::Magnitude => r.cell.magnitude.unwrap_or(f64::NAN),
                ChartAxis::None => 0.0,
            }
        };
        // panels: one per (corruption, attack, m, distribution)
        let mut panels: BTreeMap<(String, String, usize, String), Vec<&CellResult>> =
            BTreeMap::new();
        for r in &rs {
            panels
                .entry((
                    r.cell.corruption.clone(),
                    r.cell.attack.clone(),
                    r.cell.m,
                    r.cell.distribution.clone(),
                ))
                .or_default()
                .push(r);
        }
        let mut out = Vec::new();
        for ((corr, attack, m, dist), prs) in panels {
            // series: per (rule, b_spec) for the q axis, per rule otherwise
            // one colour per rule (as in every chart), one marker shape per b relation
            let mut series: BTreeMap<String, (usize, usize, Vec<&CellResult>)> = BTreeMap::new();
            for r in prs {
                let (name, shape) = match axis {
                    ChartAxis::Q if r.cell.b.is_some() => (
                        format!("{} (b {} q)", short_rule(r), relation(&r.cell.b_spec)),
                        relation_shape(&r.cell.b_spec),
                    ),
                    _ => (short_rule(r), 0),
                };
                series
                    .entry(name)
                    .or_insert_with(|| (chart::rule_color(&r.cell.rule), shape, Vec::new()))
                    .2
                    .push(r);
            }
            let mut lines = Vec::new();
            for (name, (ci, shape, mut pts)) in series {
                pts.sort_by(|a, b| xval(a).total_cmp(&xval(b)));
                let err: Vec<(f64, f64)> =
                    pts.iter().map(|r| (xval(r), r.stats.mean / r.v)).collect();
                let band: Vec<(f64, f64, f64)> = pts
                    .iter()
                    .map(|r| (xval(r), r.stats.ci_low / r.v, r.stats.ci_high / r.v))
                    .collect();
                lines.push(
                    Series::line(format!("{name}: error/V"), err)
                        .with_band(band)
                        .with_shape(shape)
                        .with_color(ci),
                );
                let bnd: Vec<(f64, f64)> = pts
                    .iter()
                    .filter_map(|r| r.bound_over_v.as_ref().ok().map(|b| (xval(r), *b)))
                    .collect();
                if !bnd.is_empty() {
                    let bname = pts[0].bound_kind.map_or("bound", |k| k.name());
                    lines.push(
                        Series::dashed(format!("{name}: {bname}/V (as stated)"), bnd)
                            .with_shape(shape)
                            .with_color(ci),
                    );
                }
            }
            let (x_label, log_x) = match axis {
                ChartAxis::Q => ("q (Byzantine values per coordinate)", false),
                ChartAxis::B => ("b (trimming parameter)", false),
                ChartAxis::D => ("d (dimension; V fixed)", true),
                ChartAxis::Magnitude => ("attack magnitude", true),
                ChartAxis::None => ("", false),
            };
            out.push(Panel::Lines(LineChart {
                title: format!("{sweep}: {corr}, {attack}, m = {m}, {dist}"),
                x_label: x_label.into(),
                y_label: "E||Aggr - g||^2 / V".into(),
                log_x,
                log_y: true,
                series: lines,
            }));
        }
        // pages of at most six panels, three across: sweep.png, sweep-2.png, ...
        chart::save_pages(&out, PANELS_PER_PAGE, 3, (700, 500), dir, sweep)?;
    }
    let heat = verdict_heatmap(results);
    let size = heat.size();
    chart::save(&[Panel::Heat(heat)], 1, size, dir, "verdicts")?;
    Ok(())
}

/// Panels per chart file (more become sweep-2.png, sweep-3.png, ...).
pub const PANELS_PER_PAGE: usize = 6;

/// Marker shape of a b relation: equal circle, below triangle, above square.
fn relation_shape(spec: &str) -> usize {
    match spec {
        "equal" => 0,
        "below" => 1,
        "above" => 2,
        _ => 3,
    }
}

fn relation(spec: &str) -> &str {
    match spec {
        "below" => "<",
        "equal" => "=",
        "above" => ">",
        other => other,
    }
}

fn verdict_heatmap(results: &[CellResult]) -> Heatmap {
    let mut rows: Vec<String> = Vec::new();
    let mut cols: Vec<String> = Vec::new();
    let mut agg: BTreeMap<(usize, usize), [usize; 5]> = BTreeMap::new();
    for r in results {
        let row = format!("{} / {}", r.cell.rule, r.cell.corruption);
        let col = r.cell.attack.clone();
        let ri = rows.iter().position(|x| *x == row).unwrap_or_else(|| {
            rows.push(row);
            rows.len() - 1
        });
        let ci = cols.iter().position(|x| *x == col).unwrap_or_else(|| {
            cols.push(col);
            cols.len() - 1
        });
        agg.entry((ci, ri)).or_default()[r.verdict.index()] += 1;
    }
    let cells = agg
        .into_iter()
        .map(|((c, r), counts)| {
            let worst = (0..4).rev().find(|&k| counts[k] > 0).unwrap_or(4);
            let text = if worst == 4 {
                format!("n/a ({})", counts[4])
            } else {
                format!("{}h {}v {}i", counts[0], counts[2] + counts[3], counts[1])
            };
            (c, r, worst, text)
        })
        .collect();
    Heatmap {
        title: "Verdicts: rule / corruption (rows) by attack (columns), worst over cells".into(),
        key_notes: vec![
            "colour: the worst verdict over the cells".into(),
            "text: cells that hold (h), are violated".into(),
            "or unbounded (v), inconclusive (i)".into(),
        ],
        x_labels: cols,
        y_labels: rows,
        cells,
        // class k is Verdict::ALL[k]
        classes: Verdict::ALL
            .iter()
            .map(|&v| match v {
                Verdict::Holds => ("holds".into(), RGBColor(120, 200, 120)),
                Verdict::Inconclusive => ("inconclusive".into(), RGBColor(240, 210, 90)),
                Verdict::Violated => ("violated".into(), RGBColor(230, 90, 80)),
                Verdict::Unbounded => ("unbounded".into(), RGBColor(150, 40, 120)),
                Verdict::NotApplicable => ("n/a (no bound)".into(), RGBColor(200, 200, 200)),
            })
            .collect(),
    }
}

/// The console summary: verdict counts per bound (split by the hidden condition), tightest and
/// loosest ratios, unbounded rules, time and trials per second.
/// `fresh` is (cells, trials) simulated in `secs`: a resumed run rates only its new work.
pub fn summary(results: &[CellResult], secs: f64, fresh: (usize, usize)) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    use crate::report::console::{Align::Left as L, Align::Right as R, Table};
    let mut table = Table::new(&[
        ("bound", L),
        ("reference", L),
        ("hidden cond.", L),
        ("holds", R),
        ("violated", R),
        ("inconclusive", R),
        ("n/a", R),
        ("max ratio", R),
        ("min ratio", R),
    ]);
    for kind in ["Delta0", "Delta1", "Delta2"] {
        for hidden in [true, false] {
            let rs: Vec<&CellResult> = results
                .iter()
                .filter(|r| {
                    r.bound_kind.map(|k| k.name()) == Some(kind)
                        && r.hidden.is_none_or(|h| h.1) == hidden
                })
                .collect();
            if rs.is_empty() {
                continue;
            }
            let count = |v: Verdict| rs.iter().filter(|r| r.verdict == v).count().to_string();
            let ratios: Vec<f64> = rs
                .iter()
                .filter_map(|r| {
                    r.bound_over_v
                        .as_ref()
                        .ok()
                        .map(|b| r.stats.mean / (b * r.v))
                })
                .filter(|x| x.is_finite())
                .collect();
            let max = ratios.iter().copied().fold(f64::NAN, f64::max);
            let min = ratios.iter().copied().fold(f64::NAN, f64::min);
            table.row(vec![
                kind.to_string(),
                rs[0].bound_kind.map_or("", |k| k.reference()).to_string(),
                (if hidden { "holds" } else { "violated" }).to_string(),
                count(Verdict::Holds),
                count(Verdict::Violated),
                count(Verdict::Inconclusive),
                count(Verdict::NotApplicable),
                format!("{max:.4e}"),
                format!("{min:.4e}"),
            ]);
        }
    }
    let _ = writeln!(s, "{}", table.render());
    // cells outside the table's rows, by rule / corruption
    let mut listed = |heading: &str, keep: &dyn Fn(&CellResult) -> bool| {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for r in results.iter().filter(|r| keep(r)) {
            *by.entry(format!("{} / {}", r.cell.rule, r.cell.corruption))
                .or_default() += 1;
        }
        if !by.is_empty() {
            let _ = writeln!(s, "{heading}");
            for (k, n) in by {
                let _ = writeln!(s, "  {k}: {n} cell{}", if n == 1 { "" } else { "s" });
            }
        }
    };
    listed(
        "unbounded (no bound; error grows with the attack or is not finite):",
        &|r| r.verdict == Verdict::Unbounded,
    );
    listed(
        "n/a (no bound applies to the rule under this model):",
        &|r| r.verdict == Verdict::NotApplicable && r.bound_kind.is_none(),
    );
    // the totals of the verdict column of results.csv
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        *totals.entry(r.verdict.as_str()).or_default() += 1;
    }
    let _ = writeln!(
        s,
        "verdicts of all {} cells (results.csv): {}",
        results.len(),
        totals
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut per_sweep: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for r in results {
        let e = per_sweep.entry(&r.cell.sweep).or_default();
        e.0 += r.seconds;
        e.1 += r.cell.trials * r.cell.m * r.cell.d;
    }
    let _ = writeln!(
        s,
        "where the time goes (cell-seconds summed over threads, values aggregated):"
    );
    for (k, (t, vals)) in per_sweep {
        let _ = writeln!(
            s,
            "  {k:<14} {t:>8.2} s  {:>10.3e} values  {:>6.1} ns/value",
            vals as f64,
            t * 1e9 / vals.max(1) as f64
        );
    }
    let (fresh_cells, fresh_trials) = fresh;
    s.push_str(&crate::report::console::speed_line(
        results.len(),
        fresh_cells,
        ("cells", "trials"),
        fresh_trials,
        secs,
    ));
    s
}

/// One row of the tightness table.
#[derive(Clone, Debug)]
pub struct Tight<'a> {
    /// Bound name.
    pub bound: &'static str,
    /// `q = 0` or `q >= 1`.
    pub q_class: &'static str,
    /// Which of the conditions the statement leaves out hold ([`condition_class`]).
    pub conditions: &'static str,
    /// Cells in the class.
    pub cells: usize,
    /// The cell with the largest ratio.
    pub top: &'a CellResult,
    /// Its ratio mean error / bound.
    pub ratio: f64,
    /// The largest exact-worst-case ratio in the class (NaN if none).
    pub exact_ratio: f64,
}

/// The condition classes of the tightness table, in order.
pub const CONDITION_CLASSES: &[&str] = &[
    "hold",
    "positions see the data",
    "b < q",
    "Krum: more rows than assumed",
];

/// Which of the conditions a statement leaves out fail in a cell: `hold`, `b < q` (the hidden
/// condition of Theorems 1-2), `Krum: more rows than assumed` (Lemma 1), or
/// `positions see the data` (the proofs assume positions independent of the data).
pub fn condition_class(r: &CellResult) -> &'static str {
    if r.hidden.is_some_and(|h| !h.1) {
        if r.bound_kind == Some(crate::bounds::BoundKind::Delta0) {
            CONDITION_CLASSES[3]
        } else {
            CONDITION_CLASSES[2]
        }
    } else if !r.positions_independent {
        CONDITION_CLASSES[1]
    } else if r.conditions_hold {
        CONDITION_CLASSES[0]
    } else {
        CONDITION_CLASSES[3]
    }
}

/// The largest ratio error / bound per bound, q class and condition class, over every attack.
pub fn tightness(results: &[CellResult]) -> Vec<Tight<'_>> {
    let mut out = Vec::new();
    for kind in ["Delta0", "Delta1", "Delta2"] {
        for (q_class, pos) in [("q = 0", false), ("q >= 1", true)] {
            for &conditions in CONDITION_CLASSES {
                let rs: Vec<&CellResult> = results
                    .iter()
                    .filter(|r| {
                        r.bound_kind.map(|k| k.name()) == Some(kind)
                            && (r.cell.q > 0) == pos
                            && condition_class(r) == conditions
                            && r.bound_over_v.is_ok()
                            && !r.stats.mean.is_nan()
                    })
                    .collect();
                let ratio = |r: &CellResult| {
                    let b = r.bound_over_v.as_ref().map_or(f64::NAN, |b| b * r.v);
                    let x = r.stats.mean / b;
                    if x.is_nan() {
                        f64::NEG_INFINITY
                    } else {
                        x
                    }
                };
                let Some(top) = rs
                    .iter()
                    .copied()
                    .max_by(|a, b| ratio(a).total_cmp(&ratio(b)))
                else {
                    continue;
                };
                let exact_ratio = rs
                    .iter()
                    .filter_map(|r| {
                        let b = r.bound_over_v.as_ref().ok()? * r.v;
                        r.exact.map(|e| e.mean / b)
                    })
                    .fold(f64::NAN, f64::max);
                out.push(Tight {
                    bound: kind,
                    q_class,
                    conditions,
                    cells: rs.len(),
                    top,
                    ratio: ratio(top),
                    exact_ratio,
                });
            }
        }
    }
    out
}

/// Writes tightness.csv / .parquet; returns the rows.
pub fn write_tightness(results: &[CellResult], dir: &Path) -> Result<usize, Error> {
    let t = tightness(results);
    let s = |f: &dyn Fn(&Tight) -> String| t.iter().map(f).collect::<Vec<String>>();
    let mut df = TableBuilder::new()
        .str("bound", &s(&|x| x.bound.to_string()))
        .str("q_class", &s(&|x| x.q_class.to_string()))
        .str("conditions", &s(&|x| x.conditions.to_string()))
        .u64("cells", t.iter().map(|x| x.cells as u64).collect())
        .f64("max_ratio", t.iter().map(|x| x.ratio).collect())
        .str("attack", &s(&|x| x.top.cell.attack.clone()))
        .str("corruption", &s(&|x| x.top.cell.corruption.clone()))
        .str("rule", &s(&|x| x.top.rule_label.clone()))
        .str("distribution", &s(&|x| x.top.cell.distribution.clone()))
        .u64("m", t.iter().map(|x| x.top.cell.m as u64).collect())
        .u64("q", t.iter().map(|x| x.top.cell.q as u64).collect())
        .str("verdict", &s(&|x| x.top.verdict.as_str().to_string()))
        .f64(
            "max_exact_worst_ratio",
            t.iter().map(|x| x.exact_ratio).collect(),
        )
        .str("cell_key", &s(&|x| x.top.cell.key()))
        .build()?;
    write_table(&mut df, dir, "tightness")?;
    Ok(t.len())
}

/// The tightness table as console text.
pub fn tightness_text(results: &[CellResult]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "tightness: largest mean error / bound over every attack (conditions: b >= q, positions independent of the data, Krum's rows)"
    );
    use crate::report::console::{Align::Left as L, Align::Right as R, Table};
    let num = |x: f64| {
        if x.is_finite() && x.abs() >= 1e4 {
            format!("{x:.3e}")
        } else {
            format!("{x:.4}")
        }
    };
    let mut table = Table::new(&[
        ("bound", L),
        ("q", L),
        ("conditions", L),
        ("cells", R),
        ("max ratio", R),
        ("exact max", R),
        ("reached by", L),
    ])
    .indent(2);
    for t in tightness(results) {
        table.row(vec![
            t.bound.to_string(),
            t.q_class.to_string(),
            t.conditions.to_string(),
            t.cells.to_string(),
            num(t.ratio),
            num(t.exact_ratio),
            format!(
                "{} / {} / {} / {} m={} q={} ({})",
                t.top.cell.attack,
                t.top.cell.corruption,
                t.top.rule_label,
                t.top.cell.distribution,
                t.top.cell.m,
                t.top.cell.q,
                t.top.verdict
            ),
        ]);
    }
    let _ = writeln!(s, "{}", table.render());
    s
}

/// Writes paired.csv / .parquet and the paired chart; returns the rows.
pub fn write_paired(
    pairs: &[super::paired::Pair<'_>],
    dir: &Path,
    charts: bool,
) -> Result<usize, Error> {
    let s =
        |f: &dyn Fn(&super::paired::Pair) -> String| pairs.iter().map(f).collect::<Vec<String>>();
    let f = |f: &dyn Fn(&super::paired::Pair) -> f64| pairs.iter().map(f).collect::<Vec<f64>>();
    let mut df = TableBuilder::new()
        .str("sweep", &s(&|p| p.a.cell.sweep.clone()))
        .str("distribution", &s(&|p| p.a.cell.distribution.clone()))
        .str("corruption", &s(&|p| p.a.cell.corruption.clone()))
        .str("attack", &s(&|p| p.a.cell.attack.clone()))
        .f64("magnitude", f(&|p| p.a.cell.magnitude.unwrap_or(f64::NAN)))
        .u64("m", pairs.iter().map(|p| p.a.cell.m as u64).collect())
        .u64("q", pairs.iter().map(|p| p.a.cell.q as u64).collect())
        .i64(
            "b",
            pairs
                .iter()
                .map(|p| p.a.cell.b.map_or(-1, |b| b as i64))
                .collect(),
        )
        .u64("d", pairs.iter().map(|p| p.a.cell.d as u64).collect())
        .str("rule_a", &s(&|p| p.a.rule_label.clone()))
        .str("rule_b", &s(&|p| p.b.rule_label.clone()))
        .u64(
            "trials",
            pairs.iter().map(|p| p.a.cell.trials as u64).collect(),
        )
        .f64("error_a_over_v", f(&|p| p.a.stats.mean / p.a.v))
        .f64("error_b_over_v", f(&|p| p.b.stats.mean / p.b.v))
        .f64("mean_diff_over_v", f(&|p| p.mean_diff / p.a.v))
        .f64("ci_low_over_v", f(&|p| p.ci_low / p.a.v))
        .f64("ci_high_over_v", f(&|p| p.ci_high / p.a.v))
        .f64("relative_diff", f(&|p| p.mean_diff / p.b.stats.mean))
        .str("interval", &s(&|p| p.interval.to_string()))
        .f64("a_wins", f(&|p| p.a_wins))
        .str("verdict", &s(&|p| p.verdict.clone()))
        .build()?;
    write_table(&mut df, dir, "paired")?;
    if charts && !pairs.is_empty() {
        paired_chart(pairs, dir)?;
    }
    Ok(pairs.len())
}

/// Phocas minus Trmean (paired, relative to Trmean's error) against q, one panel per
/// (sweep, corruption, attack, m), one series per distribution; only cells with b = q.
fn paired_chart(pairs: &[super::paired::Pair<'_>], dir: &Path) -> Result<(), Error> {
    let mut panels: BTreeMap<(String, String, String, usize), Vec<&super::paired::Pair>> =
        BTreeMap::new();
    for p in pairs {
        let c = &p.a.cell;
        if c.rule == "phocas" && p.b.cell.rule == "trmean" && c.b == Some(c.q) && c.q > 0 {
            panels
                .entry((c.sweep.clone(), c.corruption.clone(), c.attack.clone(), c.m))
                .or_default()
                .push(p);
        }
    }
    let dists: Vec<String> = panels
        .values()
        .flatten()
        .map(|p| p.a.cell.distribution.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = Vec::new();
    for ((sweep, corr, attack, m), ps) in panels {
        let mut by: BTreeMap<String, Vec<&super::paired::Pair>> = BTreeMap::new();
        for p in ps {
            by.entry(p.a.cell.distribution.clone()).or_default().push(p);
        }
        // a line needs two values of q (the dimension sweep, say, has one)
        let distinct_q = |v: &Vec<&super::paired::Pair>| {
            let mut q: Vec<usize> = v.iter().map(|p| p.a.cell.q).collect();
            q.sort_unstable();
            q.dedup();
            q.len()
        };
        if by.values().all(|v| distinct_q(v) < 2) {
            continue;
        }
        let mut series = Vec::new();
        for (dist, mut v) in by {
            // one colour per distribution across panels
            let ci = dists.iter().position(|d| *d == dist).unwrap_or(0);
            v.sort_by_key(|p| p.a.cell.q);
            let rel = |x: f64, p: &super::paired::Pair| x / p.b.stats.mean;
            let pts: Vec<(f64, f64)> = v
                .iter()
                .map(|p| (p.a.cell.q as f64, rel(p.mean_diff, p)))
                .filter(|(_, y)| y.is_finite())
                .collect();
            let band: Vec<(f64, f64, f64)> = v
                .iter()
                .map(|p| (p.a.cell.q as f64, rel(p.ci_low, p), rel(p.ci_high, p)))
                .filter(|(_, a, b)| a.is_finite() && b.is_finite())
                .collect();
            series.push(
                Series::line(dist, pts)
                    .with_band(band)
                    .with_markers()
                    .with_color(ci),
            );
        }
        series.push(
            Series::dashed("no difference", vec![(0.0, 0.0), (m as f64 / 2.0, 0.0)])
                .with_color(chart::NEUTRAL),
        );
        out.push(Panel::Lines(LineChart {
            title: format!("{sweep}: Phocas - Trmean (b = q), {corr}, {attack}, m = {m}"),
            x_label: "q = b".into(),
            y_label: "paired (E_phocas - E_trmean) / E_trmean".into(),
            log_x: false,
            log_y: false,
            series,
        }));
    }
    if out.is_empty() {
        return Ok(());
    }
    let cols = if out.len() > 1 { 2 } else { 1 };
    chart::save(&out[..out.len().min(12)], cols, (760, 520), dir, "paired")?;
    Ok(())
}

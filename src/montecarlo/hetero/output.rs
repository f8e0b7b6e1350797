//! The heterogeneity section's outputs: `heterogeneity.csv` / `.parquet`, the chart
//! `heterogeneity.png` / `.svg` and the console summary.

use super::{HeteroRow, Wrapper};
use crate::error::Error;
use crate::montecarlo::verdict::Verdict;

/// The rule with its pre-aggregation step: "trmean", "nnm+trmean", "bucket2+trmean".
pub fn variant(r: &HeteroRow) -> String {
    match r.wrapper {
        Wrapper::Plain => r.rule.clone(),
        w => format!("{}+{}", w.name(), r.rule),
    }
}

/// Error / (V + G^2), the scale-free error of a cell.
pub fn normalised(r: &HeteroRow) -> f64 {
    r.mean / (r.v + r.g2)
}

/// Writes the table and (unless `charts` is false) the chart; returns the number of rows.
pub fn write(rows: &[HeteroRow], dir: &std::path::Path, charts: bool) -> Result<usize, Error> {
    let mut df = table(rows)?;
    crate::report::write_table(&mut df, dir, "heterogeneity")?;
    if charts && !rows.is_empty() {
        chart(rows, dir)?;
    }
    Ok(rows.len())
}

/// The table of `heterogeneity.csv`, one row per cell (also what `phocas.verify_sections`
/// returns in Python).
pub fn table(rows: &[HeteroRow]) -> Result<polars::prelude::DataFrame, Error> {
    let s = |f: &dyn Fn(&HeteroRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let x = |f: &dyn Fn(&HeteroRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let nan = f64::NAN;
    crate::report::TableBuilder::new()
        .str("rule", &s(&|r| r.rule.clone()))
        .str("pre", &s(&|r| r.wrapper.name()))
        .str("label", &s(&|r| r.label.clone()))
        .str("shape", &s(&|r| r.shape.name().into()))
        .str("attack", &s(&|r| r.attack.clone()))
        .u64("m", rows.iter().map(|r| r.m as u64).collect())
        .u64("f", rows.iter().map(|r| r.f as u64).collect())
        .u64("d", rows.iter().map(|r| r.d as u64).collect())
        .u64("trials", rows.iter().map(|r| r.trials as u64).collect())
        .f64("v", x(&|r| r.v))
        .f64("g2", x(&|r| r.g2))
        .f64("g2_over_v", x(&|r| r.g2 / r.v))
        .f64("mean_error", x(&|r| r.mean))
        .f64("ci_low", x(&|r| r.ci_low))
        .f64("ci_high", x(&|r| r.ci_high))
        .f64("error_over_v_plus_g2", x(&normalised))
        .f64("iid_bound", x(&|r| r.iid_bound.unwrap_or(nan)))
        .str("iid_verdict", &s(&|r| r.iid_verdict.as_str().into()))
        .f64("kappa", x(&|r| r.kappa.unwrap_or(nan)))
        .f64("kappa_bound", x(&|r| r.kappa_bound.unwrap_or(nan)))
        .str("kappa_verdict", &s(&|r| r.kappa_verdict.as_str().into()))
        .f64("kappa_ratio_max", x(&|r| r.kappa_ratio_max))
        .bool(
            "kappa_counterexample",
            rows.iter().map(HeteroRow::kappa_counterexample).collect(),
        )
        .f64("lower_bound", x(&|r| r.lower))
        .f64("error_over_lower", x(&|r| r.mean / r.lower))
        .build()
}

/// One panel per (pre-aggregation, shape): per rule, the largest error / (V + G^2) over the
/// attacks against G^2 / (V + G^2), with the lower bound f/(n-2f) G^2 / (V + G^2) dashed.
fn chart(rows: &[HeteroRow], dir: &std::path::Path) -> Result<(), Error> {
    use crate::report::chart::{rule_color, save, LineChart, Panel, Series, THEORY};
    let mut wrappers: Vec<Wrapper> = Vec::new();
    let mut shapes = Vec::new();
    for r in rows {
        if !wrappers.contains(&r.wrapper) {
            wrappers.push(r.wrapper);
        }
        if !shapes.contains(&r.shape) {
            shapes.push(r.shape);
        }
    }
    let frac = |r: &HeteroRow| r.g2 / (r.v + r.g2);
    let mut panels = Vec::new();
    for &w in &wrappers {
        for &sh in &shapes {
            let here: Vec<&HeteroRow> = rows
                .iter()
                .filter(|r| r.wrapper == w && r.shape == sh)
                .collect();
            let mut names: Vec<&str> = here.iter().map(|r| r.rule.as_str()).collect();
            names.dedup();
            let mut series = Vec::new();
            for name in names {
                let mut pts: Vec<(f64, f64)> = Vec::new();
                for r in here.iter().filter(|r| r.rule == name) {
                    let (x, y) = (frac(r), normalised(r));
                    match pts.iter_mut().find(|p| p.0 == x) {
                        Some(p) => p.1 = if y.is_nan() || p.1 < y { y } else { p.1 },
                        None => pts.push((x, y)),
                    }
                }
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let pts = pts
                    .into_iter()
                    .map(|(x, y)| (x, if y.is_finite() { y.min(1e6) } else { 1e6 }))
                    .collect();
                series.push(
                    Series::line(name, pts)
                        .with_markers()
                        .with_color(rule_color(name)),
                );
            }
            let mut low: Vec<(f64, f64)> = here
                .iter()
                .map(|r| (frac(r), r.lower / (r.v + r.g2)))
                .filter(|p| p.1 > 0.0)
                .collect();
            low.sort_by(|a, b| a.0.total_cmp(&b.0));
            low.dedup();
            series.push(Series::dashed("lower bound f/(n-2f) G^2", low).with_color(THEORY));
            let pre = match w {
                Wrapper::Plain => String::new(),
                w => format!(" after {}", w.name()),
            };
            panels.push(Panel::Lines(LineChart {
                title: format!("{}{pre}: worst attack", sh.name()),
                x_label: "G^2 / (V + G^2)".into(),
                y_label: "E|F - g|^2 / (V + G^2) (1e6 = not finite)".into(),
                log_y: true,
                series,
                ..Default::default()
            }));
        }
    }
    save(
        &panels,
        shapes.len().max(1),
        (620, 480),
        dir,
        "heterogeneity",
    )
}

/// Counts of each verdict in `v`, as "holds a, violated b, inconclusive c, n/a d".
fn counts(v: impl Iterator<Item = Verdict> + Clone) -> String {
    [
        Verdict::Holds,
        Verdict::Violated,
        Verdict::Inconclusive,
        Verdict::NotApplicable,
    ]
    .iter()
    .map(|k| format!("{} {}", k.as_str(), v.clone().filter(|x| x == k).count()))
    .collect::<Vec<_>>()
    .join(", ")
}

/// The section as console text: verdict counts, and per rule variant the smallest G^2/V at
/// which its i.i.d. bound is violated and its worst error / (V + G^2).
pub fn text(rows: &[HeteroRow]) -> String {
    let Some(first) = rows.first() else {
        return "heterogeneity: no cell (no rule builds at this m and f)\n".into();
    };
    let mut s = format!(
        "heterogeneity: {} cells, m = {}, f = {}, d = {}, {} trials a cell\n  i.i.d. bounds (paper, V only): {}\n  kappa bounds (published kappa, V + G^2): {}; per-trial ratio above the published kappa: {}\n",
        rows.len(),
        first.m,
        first.f,
        first.d,
        first.trials,
        counts(rows.iter().map(|r| r.iid_verdict)),
        counts(rows.iter().map(|r| r.kappa_verdict)),
        rows.iter().filter(|r| r.kappa_counterexample()).count(),
    );
    s.push_str(&format!(
        "  {:<22} {:>24}  {:>12}  {}\n",
        "rule", "i.i.d. violated from", "worst e/(V+G2)", "reached by (shape / attack / G^2/V)"
    ));
    let mut names: Vec<String> = rows.iter().map(variant).collect();
    names.sort();
    names.dedup();
    for name in names {
        let mine: Vec<&HeteroRow> = rows.iter().filter(|r| variant(r) == name).collect();
        let from = mine
            .iter()
            .filter(|r| r.iid_verdict == Verdict::Violated)
            .map(|r| r.g2 / r.v)
            .min_by(f64::total_cmp);
        let has_iid = mine.iter().any(|r| r.iid_bound.is_some());
        let worst = mine
            .iter()
            .max_by(|a, b| {
                let (x, y) = (normalised(a), normalised(b));
                // NaN (a non-finite mean) is the worst
                x.is_nan().cmp(&y.is_nan()).then(x.total_cmp(&y))
            })
            .copied();
        let Some(w) = worst else { continue };
        let e = normalised(w);
        s.push_str(&format!(
            "  {:<22} {:>24}  {:>12}  {} / {} / {}\n",
            name,
            match (has_iid, from) {
                (false, _) => "no i.i.d. bound".to_string(),
                (true, None) => "never".to_string(),
                (true, Some(x)) => format!("G^2/V = {x}"),
            },
            if e.is_finite() && e.abs() < 1e4 {
                format!("{e:.4}")
            } else {
                format!("{e:.3e}")
            },
            w.shape.name(),
            w.attack,
            w.g2 / w.v
        ));
    }
    s
}

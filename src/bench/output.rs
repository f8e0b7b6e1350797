//! Tables, slope fits, charts and the console summary of `bench-scaling`.

use super::{Dtype, Measurement, Results, Sweep, Variant, PROBE};
use crate::error::Error;
use crate::report::chart::{self, LineChart, Panel, Series};
use crate::report::{write_table, TableBuilder};
use std::collections::BTreeMap;
use std::path::Path;

/// Theoretical exponent of m in a rule's cost (the power of m in the registry's cost; the
/// probe reads m d values: 1).
pub fn theory_m(rule: &str) -> f64 {
    if rule == PROBE {
        return 1.0;
    }
    crate::aggregators::info(rule).map_or(f64::NAN, |r| r.m_exponent)
}

/// Least-squares line through (ln x, ln y): (slope, its standard error, intercept). The
/// standard error is NaN with fewer than three points.
pub fn loglog_fit(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.0 > 0.0 && p.1 > 0.0 && p.0.is_finite() && p.1.is_finite())
        .map(|p| (p.0.ln(), p.1.ln()))
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let se = if pts.len() > 2 {
        let ssr: f64 = pts
            .iter()
            .map(|p| (p.1 - intercept - slope * p.0).powi(2))
            .sum();
        (ssr / (n - 2.0) / sxx).sqrt()
    } else {
        f64::NAN
    };
    Some((slope, se, intercept))
}

/// A fitted or local slope.
#[derive(Clone, Debug, PartialEq)]
pub struct Slope {
    /// Rule or probe.
    pub rule: String,
    /// Storage type.
    pub dtype: Dtype,
    /// `m` or `d`.
    pub axis: &'static str,
    /// `fit` (all points of the sweep) or `local` (two consecutive points).
    pub kind: &'static str,
    /// Smallest x of the points used.
    pub from: usize,
    /// Largest x of the points used.
    pub to: usize,
    /// The other dimension, held fixed.
    pub fixed: usize,
    /// Points used.
    pub points: usize,
    /// d ln(time) / d ln(x).
    pub slope: f64,
    /// Standard error of the fitted slope (NaN for local slopes and two-point fits).
    pub stderr: f64,
    /// ln(time in ns) at x = 1 (fits only).
    pub intercept: f64,
    /// What theory says.
    pub theory: f64,
}

type Key = (Dtype, usize, usize, String);

/// Everything the outputs need, with the ratios and fits computed once.
pub struct Report<'a> {
    pub(super) sweep: &'a Sweep,
    pub(super) res: &'a Results,
    pub(super) by: BTreeMap<Key, &'a Measurement>,
    pub(super) slopes: Vec<Slope>,
    pub(super) rules: Vec<String>,
    pub(super) dtypes: Vec<Dtype>,
}

pub(super) fn fmt_time(ns: f64) -> String {
    if !ns.is_finite() {
        "-".into()
    } else if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

pub(super) fn fmt_ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}")
    } else {
        "-".into()
    }
}

pub(super) fn fmt_slope(s: Option<&Slope>) -> String {
    match s {
        Some(s) if s.stderr.is_finite() => format!("{:.2} ± {:.2}", s.slope, s.stderr),
        Some(s) => format!("{:.2}", s.slope),
        None => "-".into(),
    }
}

impl<'a> Report<'a> {
    /// Indexes the measurements and fits the slopes.
    pub fn new(sweep: &'a Sweep, res: &'a Results) -> Self {
        let mut by = BTreeMap::new();
        let mut rules: Vec<String> = Vec::new();
        let mut dtypes = Vec::new();
        for r in &res.rows {
            by.insert((r.dtype, r.m, r.d, r.rule.clone()), r);
            if !rules.contains(&r.rule) {
                rules.push(r.rule.clone());
            }
            if !dtypes.contains(&r.dtype) {
                dtypes.push(r.dtype);
            }
        }
        let mut rep = Self {
            sweep,
            res,
            by,
            slopes: Vec::new(),
            rules,
            dtypes,
        };
        rep.slopes = rep.fit_all();
        rep
    }

    pub(super) fn get(
        &self,
        dtype: Dtype,
        m: usize,
        d: usize,
        rule: &str,
    ) -> Option<&'a Measurement> {
        self.by.get(&(dtype, m, d, rule.to_string())).copied()
    }

    pub(super) fn ns(&self, dtype: Dtype, m: usize, d: usize, rule: &str) -> f64 {
        self.get(dtype, m, d, rule)
            .map_or(f64::NAN, |r| r.timing.median_ns)
    }

    /// Time of `r` divided by the time of `base` at the same point.
    pub(super) fn ratio(&self, r: &Measurement, base: &str) -> f64 {
        r.timing.median_ns / self.ns(r.dtype, r.m, r.d, base)
    }

    /// (x, time) of one sweep for one rule.
    fn series(&self, dtype: Dtype, rule: &str, axis: &str) -> Vec<(f64, f64)> {
        match axis {
            // times at another d (large m) scaled to d_for_m: the cost is linear in d
            "m" => self
                .sweep
                .m_points()
                .into_iter()
                .map(|(m, d)| {
                    let scale = self.sweep.d_for_m as f64 / d as f64;
                    (m as f64, self.ns(dtype, m, d, rule) * scale)
                })
                .collect(),
            _ => self
                .sweep
                .ds
                .iter()
                .map(|&d| (d as f64, self.ns(dtype, self.sweep.m_for_d, d, rule)))
                .collect(),
        }
    }

    fn fit_all(&self) -> Vec<Slope> {
        let mut out = Vec::new();
        for &dtype in &self.dtypes {
            for rule in &self.rules {
                for axis in ["m", "d"] {
                    let pts = self.series(dtype, rule, axis);
                    let (theory, fixed) = if axis == "m" {
                        (theory_m(rule), self.sweep.d_for_m)
                    } else {
                        (1.0, self.sweep.m_for_d)
                    };
                    let xs = || pts.iter().map(|p| p.0 as usize);
                    if let Some((slope, stderr, intercept)) = loglog_fit(&pts) {
                        out.push(Slope {
                            rule: rule.clone(),
                            dtype,
                            axis,
                            kind: "fit",
                            from: xs().min().unwrap_or(0),
                            to: xs().max().unwrap_or(0),
                            fixed,
                            points: pts.len(),
                            slope,
                            stderr,
                            intercept,
                            theory,
                        });
                    }
                    for w in pts.windows(2) {
                        if let Some((slope, _, _)) = loglog_fit(w) {
                            out.push(Slope {
                                rule: rule.clone(),
                                dtype,
                                axis,
                                kind: "local",
                                from: w[0].0 as usize,
                                to: w[1].0 as usize,
                                fixed,
                                points: 2,
                                slope,
                                stderr: f64::NAN,
                                intercept: f64::NAN,
                                theory,
                            });
                        }
                    }
                }
            }
        }
        out
    }

    pub(super) fn fit(&self, dtype: Dtype, rule: &str, axis: &str) -> Option<&Slope> {
        self.slopes
            .iter()
            .find(|s| s.dtype == dtype && s.rule == rule && s.axis == axis && s.kind == "fit")
    }

    fn sweep_tag(&self, m: usize, d: usize) -> &'static str {
        let in_m = self.sweep.m_points().contains(&(m, d));
        let in_d = m == self.sweep.m_for_d && self.sweep.ds.contains(&d);
        match (in_m, in_d) {
            (true, true) => "m,d",
            (true, false) => "m",
            _ => "d",
        }
    }

    /// Writes the scaling, slopes, local_slopes and compare tables; returns (table, rows).
    pub fn write_tables(&self, dir: &Path) -> Result<Vec<(String, usize)>, Error> {
        let rows = &self.res.rows;
        let mut df = TableBuilder::new()
            .str(
                "rule",
                &rows.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(),
            )
            .str(
                "label",
                &rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(),
            )
            .str(
                "dtype",
                &rows.iter().map(|r| r.dtype.name()).collect::<Vec<_>>(),
            )
            .u64("m", rows.iter().map(|r| r.m as u64).collect())
            .u64("d", rows.iter().map(|r| r.d as u64).collect())
            .u64("b", rows.iter().map(|r| r.b as u64).collect())
            .u64("q", rows.iter().map(|r| r.q as u64).collect())
            .f64(
                "median_ns",
                rows.iter().map(|r| r.timing.median_ns).collect(),
            )
            .f64("min_ns", rows.iter().map(|r| r.timing.min_ns).collect())
            .f64(
                "ns_per_value",
                rows.iter()
                    .map(|r| r.timing.median_ns / (r.m * r.d) as f64)
                    .collect(),
            )
            .f64(
                "gb_per_s",
                rows.iter()
                    .map(|r| (r.m * r.d * r.dtype.size()) as f64 / r.timing.median_ns)
                    .collect(),
            )
            .u64(
                "repetitions",
                rows.iter().map(|r| r.timing.reps as u64).collect(),
            )
            .u64(
                "calls_per_repetition",
                rows.iter().map(|r| r.timing.calls as u64).collect(),
            )
            .f64(
                "x_mean",
                rows.iter().map(|r| self.ratio(r, "mean")).collect(),
            )
            .f64(
                "x_probe",
                rows.iter().map(|r| self.ratio(r, PROBE)).collect(),
            )
            .str(
                "sweep",
                &rows
                    .iter()
                    .map(|r| self.sweep_tag(r.m, r.d))
                    .collect::<Vec<_>>(),
            )
            .build()?;
        write_table(&mut df, dir, "scaling")?;
        // slopes: one row per (rule, storage type), the fits in m and in d side by side
        let mut keys: Vec<(String, Dtype)> = Vec::new();
        for x in self.slopes.iter().filter(|x| x.kind == "fit") {
            if !keys.iter().any(|k| k.0 == x.rule && k.1 == x.dtype) {
                keys.push((x.rule.clone(), x.dtype));
            }
        }
        let fit = |k: &(String, Dtype), axis: &str| self.fit(k.1, &k.0, axis);
        let col = |axis: &'static str, f: fn(&Slope) -> f64| -> Vec<f64> {
            keys.iter()
                .map(|k| fit(k, axis).map_or(f64::NAN, f))
                .collect()
        };
        let mut sl = TableBuilder::new()
            .str(
                "rule",
                &keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
            )
            .str(
                "dtype",
                &keys.iter().map(|k| k.1.name()).collect::<Vec<_>>(),
            )
            .f64("slope_m", col("m", |x| x.slope))
            .f64("stderr_m", col("m", |x| x.stderr))
            .f64("theory_m", col("m", |x| x.theory))
            .f64("slope_d", col("d", |x| x.slope))
            .f64("stderr_d", col("d", |x| x.stderr))
            .f64("theory_d", col("d", |x| x.theory))
            .f64("intercept_m", col("m", |x| x.intercept))
            .f64("intercept_d", col("d", |x| x.intercept))
            .u64(
                "points_m",
                col("m", |x| x.points as f64)
                    .iter()
                    .map(|&p| p as u64)
                    .collect(),
            )
            .u64(
                "points_d",
                col("d", |x| x.points as f64)
                    .iter()
                    .map(|&p| p as u64)
                    .collect(),
            )
            .u64("d_of_m_sweep", vec![self.sweep.d_for_m as u64; keys.len()])
            .u64("m_of_d_sweep", vec![self.sweep.m_for_d as u64; keys.len()])
            .build()?;
        write_table(&mut sl, dir, "slopes")?;
        // local exponents between consecutive points of each sweep
        let s: Vec<&Slope> = self.slopes.iter().filter(|x| x.kind == "local").collect();
        let mut loc = TableBuilder::new()
            .str(
                "rule",
                &s.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(),
            )
            .str(
                "dtype",
                &s.iter().map(|r| r.dtype.name()).collect::<Vec<_>>(),
            )
            .str("axis", &s.iter().map(|r| r.axis).collect::<Vec<_>>())
            .u64("from", s.iter().map(|r| r.from as u64).collect())
            .u64("to", s.iter().map(|r| r.to as u64).collect())
            .u64("fixed", s.iter().map(|r| r.fixed as u64).collect())
            .f64("exponent", s.iter().map(|r| r.slope).collect())
            .f64("theory", s.iter().map(|r| r.theory).collect())
            .build()?;
        write_table(&mut loc, dir, "local_slopes")?;
        let v = &self.res.variants;
        let mut cmp = TableBuilder::new()
            .str("kind", &v.iter().map(|r| r.kind).collect::<Vec<_>>())
            .str(
                "variant",
                &v.iter().map(|r| r.variant.as_str()).collect::<Vec<_>>(),
            )
            .str(
                "rule",
                &v.iter().map(|r| r.at.rule.as_str()).collect::<Vec<_>>(),
            )
            .str(
                "label",
                &v.iter().map(|r| r.at.label.as_str()).collect::<Vec<_>>(),
            )
            .str(
                "dtype",
                &v.iter().map(|r| r.at.dtype.name()).collect::<Vec<_>>(),
            )
            .u64("m", v.iter().map(|r| r.at.m as u64).collect())
            .u64("d", v.iter().map(|r| r.at.d as u64).collect())
            .f64(
                "median_ns",
                v.iter().map(|r| r.at.timing.median_ns).collect(),
            )
            .f64(
                "ns_per_value",
                v.iter()
                    .map(|r| r.at.timing.median_ns / (r.at.m * r.at.d) as f64)
                    .collect(),
            )
            .f64(
                "x_reference",
                v.iter().map(|r| self.variant_ratio(r)).collect(),
            )
            .build()?;
        write_table(&mut cmp, dir, "compare")?;
        Ok(vec![
            ("scaling".into(), rows.len()),
            ("slopes".into(), keys.len()),
            ("local_slopes".into(), s.len()),
            ("compare".into(), v.len()),
        ])
    }

    /// Time over the reference variant's (portable for instruction sets, network for paths).
    pub(super) fn variant_ratio(&self, v: &Variant) -> f64 {
        let reference = if v.kind == "isa" {
            "portable"
        } else {
            "network"
        };
        self.res
            .variants
            .iter()
            .find(|o| {
                o.kind == v.kind
                    && o.variant == reference
                    && o.at.rule == v.at.rule
                    && o.at.dtype == v.at.dtype
                    && o.at.m == v.at.m
                    && o.at.d == v.at.d
            })
            .map_or(f64::NAN, |o| v.at.timing.median_ns / o.at.timing.median_ns)
    }

    fn color(&self, rule: &str) -> usize {
        chart::rule_color(rule)
    }

    /// One log-log panel: measured times with markers, fitted lines dashed, and the
    /// theoretical slopes drawn beside them.
    fn panel(&self, dtype: Dtype, axis: &'static str) -> LineChart {
        let mut series = Vec::new();
        for rule in &self.rules {
            let pts: Vec<(f64, f64)> = self
                .series(dtype, rule, axis)
                .into_iter()
                .map(|(x, ns)| (x, ns / 1e6))
                .collect();
            let c = self.color(rule);
            let f = self.fit(dtype, rule, axis);
            // the legend (one strip for all panels) names the rule once; the fitted slopes
            // of every panel are in slopes.csv and console.txt
            let name = rule.clone();
            if let Some(f) = f {
                let line: Vec<(f64, f64)> = [f.from as f64, f.to as f64]
                    .iter()
                    .map(|&x| (x, (f.intercept + f.slope * x.ln()).exp() / 1e6))
                    .collect();
                series.push(Series::dashed("", line).with_color(c));
            }
            series.push(Series::line(name, pts).with_markers().with_color(c));
        }
        // Theory: lines of slope 1 and (for the m axis, if an O(dm^2) rule ran) 2, anchored
        // at half the first time of Mean and of the first such rule.
        let mut anchors = vec![("mean", 1.0)];
        if axis == "m" {
            if let Some(r) = self.rules.iter().find(|r| theory_m(r) == 2.0) {
                anchors.push((r.as_str(), 2.0));
            }
        }
        for (rule, s) in anchors {
            let pts = self.series(dtype, rule, axis);
            if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
                let y0 = first.1 / 2e6;
                let line = vec![(first.0, y0), (last.0, y0 * (last.0 / first.0).powf(s))];
                series.push(Series::dashed(format!("slope {s} (theory)"), line).with_color(8));
            }
        }
        let (title, xl) = if axis == "m" {
            (
                format!(
                    "{}: time against m (d = {}{}; dashed: fitted power law)",
                    dtype.name(),
                    self.sweep.d_for_m,
                    if self.sweep.large_ms.is_empty() {
                        ""
                    } else {
                        "; larger m at the same m d, time scaled to this d"
                    }
                ),
                "m (workers)",
            )
        } else {
            (
                format!(
                    "{}: time against d (m = {}; dashed: fitted power law)",
                    dtype.name(),
                    self.sweep.m_for_d
                ),
                "d (dimension)",
            )
        };
        LineChart {
            title,
            x_label: xl.into(),
            y_label: "median time per call (ms)".into(),
            log_x: true,
            log_y: true,
            series,
        }
    }

    /// scaling.svg and scaling.png: one row per storage type, time against d and against m.
    pub fn write_charts(&self, dir: &Path) -> Result<(), Error> {
        let mut panels = Vec::new();
        for &dt in &self.dtypes {
            panels.push(Panel::Lines(self.panel(dt, "d")));
            panels.push(Panel::Lines(self.panel(dt, "m")));
        }
        chart::save(&panels, 2, (760, 560), dir, "scaling")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_power_law() {
        let pts: Vec<(f64, f64)> = [1.0, 10.0, 100.0, 1000.0]
            .iter()
            .map(|&x: &f64| (x, 3.0 * x.powf(1.5)))
            .collect();
        let (s, se, a) = loglog_fit(&pts).unwrap();
        assert!((s - 1.5).abs() < 1e-12 && se < 1e-9 && (a - 3f64.ln()).abs() < 1e-9);
        let (s2, se2, _) = loglog_fit(&pts[..2]).unwrap();
        assert!((s2 - 1.5).abs() < 1e-12 && se2.is_nan());
        assert!(loglog_fit(&pts[..1]).is_none());
    }

    #[test]
    fn theory_from_registry_cost() {
        assert_eq!(theory_m("mean"), 1.0);
        assert_eq!(theory_m("phocas"), 1.0);
        assert_eq!(theory_m("krum"), 2.0);
        assert_eq!(theory_m(PROBE), 1.0);
    }
}

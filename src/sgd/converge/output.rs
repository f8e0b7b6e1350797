//! Tables, charts and the console summary of `phocas converge`.

use super::config::Config;
use super::result::{Check, RunResult, PANELS_PER_PAGE};
use crate::bounds;
use crate::error::Error;
use crate::report::chart::{self, LineChart, Panel, Series};
use crate::report::{write_table, TableBuilder};
use std::collections::BTreeMap;

/// Rows per run in `rounds.csv` (longer runs are written every ceil(T / ROUND_ROWS) rounds
/// plus the last; the verdicts use every round).
const ROUND_ROWS: usize = 1000;

pub(super) fn write_tables(
    results: &[RunResult],
    cfg: &Config,
    dir: &std::path::Path,
) -> Result<usize, Error> {
    let s = |f: &dyn Fn(&RunResult) -> String| results.iter().map(f).collect::<Vec<String>>();
    let f = |f: &dyn Fn(&RunResult) -> f64| results.iter().map(f).collect::<Vec<f64>>();
    let mut runs = TableBuilder::new()
        .str("sweep", &s(&|r| r.spec.sweep.clone()))
        .str("run_key", &s(&|r| r.spec.key()))
        .str("objective", &s(&|r| r.spec.objective.clone()))
        .f64("kappa", f(&|r| r.spec.kappa))
        .f64("L_param", f(&|r| r.spec.l))
        .str("distribution", &s(&|r| r.spec.distribution.clone()))
        .str("corruption", &s(&|r| r.spec.corruption.clone()))
        .str("attack", &s(&|r| r.spec.attack.clone()))
        .u64("q", results.iter().map(|r| r.spec.q as u64).collect())
        .str("rule", &s(&|r| r.spec.rule.clone()))
        .str("rule_label", &s(&|r| r.label.clone()))
        .i64(
            "b",
            results
                .iter()
                .map(|r| r.spec.b.map_or(-1, |b| b as i64))
                .collect(),
        )
        .f64("gamma_factor", f(&|r| r.spec.gamma_factor))
        .f64("g2", f(&|r| r.spec.g2))
        .str(
            "shape",
            &s(&|r| {
                if r.spec.g2 > 0.0 {
                    r.spec.shape.name().into()
                } else {
                    String::new()
                }
            }),
        )
        .f64("gamma", f(&|r| r.gamma))
        .f64("mu", f(&|r| r.mu))
        .f64("L", f(&|r| r.l))
        .f64("v", f(&|r| r.v))
        .f64("delta_bound", f(&|r| r.delta_bound.unwrap_or(f64::NAN)))
        .str("delta_note", &s(&|r| r.delta_note.clone()))
        .f64("delta_measured", f(&|r| r.delta_measured))
        .f64("delta_kappa", f(&|r| r.delta_kappa.unwrap_or(f64::NAN)))
        .f64(
            "final_distance",
            f(&|r| r.dist.last().map_or(f64::NAN, |b| b.0)),
        )
        .f64(
            "final_grad_running_mean",
            f(&|r| r.grad_running.last().map_or(f64::NAN, |b| b.0)),
        )
        .str("theorem3_bound_delta", &s(&|r| r.thm3.bound.0.clone()))
        .str(
            "theorem3_measured_delta",
            &s(&|r| r.thm3.measured.0.clone()),
        )
        .str(
            "theorem3_corrected_bound_delta",
            &s(&|r| r.thm3_corrected.bound.0.clone()),
        )
        .str(
            "theorem3_corrected_measured_delta",
            &s(&|r| r.thm3_corrected.measured.0.clone()),
        )
        .f64("theorem3_final_lhs_rhs_bound_delta", f(&|r| r.thm3.bound.1))
        .f64(
            "theorem3_final_lhs_rhs_measured_delta",
            f(&|r| r.thm3.measured.1),
        )
        .f64(
            "theorem3_corrected_final_lhs_rhs_bound_delta",
            f(&|r| r.thm3_corrected.bound.1),
        )
        .f64(
            "theorem3_corrected_final_lhs_rhs_measured_delta",
            f(&|r| r.thm3_corrected.measured.1),
        )
        .str(
            "theorem3_corrected_kappa_delta",
            &s(&|r| r.thm3_corrected.kappa.0.clone()),
        )
        .f64(
            "theorem3_corrected_final_lhs_rhs_kappa_delta",
            f(&|r| r.thm3_corrected.kappa.1),
        )
        .str("theorem4_bound_delta", &s(&|r| r.thm4.bound.0.clone()))
        .str(
            "theorem4_measured_delta",
            &s(&|r| r.thm4.measured.0.clone()),
        )
        .f64("theorem4_lhs_rhs_bound_delta", f(&|r| r.thm4.bound.1))
        .f64("theorem4_lhs_rhs_measured_delta", f(&|r| r.thm4.measured.1))
        .str("theorem4_kappa_delta", &s(&|r| r.thm4.kappa.0.clone()))
        .f64("theorem4_lhs_rhs_kappa_delta", f(&|r| r.thm4.kappa.1))
        .u64(
            "diverged_repeats",
            results.iter().map(|r| r.diverged as u64).collect(),
        )
        .u64(
            "repeats",
            results.iter().map(|r| r.spec.repeats as u64).collect(),
        )
        .u64(
            "rounds",
            results.iter().map(|r| r.spec.rounds as u64).collect(),
        )
        .u64("seed", vec![cfg.seed; results.len()])
        .build()?;
    write_table(&mut runs, dir, "runs")?;
    // per-round table
    let mut key = Vec::new();
    let mut t = Vec::new();
    let (mut dm, mut dl, mut dh, mut t3b, mut t3m) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut t3cb, mut t3cm) = (vec![], vec![]);
    let (mut gm, mut gl, mut gh, mut t4b, mut t4m) = (vec![], vec![], vec![], vec![], vec![]);
    for r in results {
        // at most about ROUND_ROWS rows per run (every round up to that many rounds), and the last
        let stride = r.spec.rounds.div_ceil(ROUND_ROWS).max(1);
        let ts = (0..=r.spec.rounds)
            .step_by(stride)
            .chain((r.spec.rounds % stride != 0).then_some(r.spec.rounds));
        for i in ts {
            key.push(r.spec.key());
            t.push(i as u64);
            let b = r
                .dist
                .get(i)
                .copied()
                .unwrap_or((f64::NAN, f64::NAN, f64::NAN));
            dm.push(b.0);
            dl.push(b.1);
            dh.push(b.2);
            let rhs3 = |delta: f64| {
                if r.mu.is_nan() {
                    f64::NAN
                } else {
                    bounds::theorem3_rhs(r.mu, r.l, r.gamma, i, r.dist0, delta)
                }
            };
            let rhs3c = |delta: f64| {
                if r.mu.is_nan() {
                    f64::NAN
                } else {
                    bounds::theorem3_rhs_corrected(r.mu, r.l, r.gamma, i, r.dist0, delta)
                }
            };
            t3b.push(r.delta_bound.map_or(f64::NAN, rhs3));
            t3m.push(rhs3(r.delta_measured));
            t3cb.push(r.delta_bound.map_or(f64::NAN, rhs3c));
            t3cm.push(rhs3c(r.delta_measured));
            // running mean over t < T is indexed by T = i (i >= 1)
            let g = if i == 0 {
                (f64::NAN, f64::NAN, f64::NAN)
            } else {
                r.grad_running[i - 1]
            };
            gm.push(g.0);
            gl.push(g.1);
            gh.push(g.2);
            let rhs4 = |delta: f64| {
                if i == 0 {
                    f64::NAN
                } else {
                    bounds::theorem4_rhs(r.gamma, i, r.gap0, delta)
                }
            };
            t4b.push(r.delta_bound.map_or(f64::NAN, rhs4));
            t4m.push(rhs4(r.delta_measured));
        }
    }
    let n = key.len();
    let mut rounds = TableBuilder::new()
        .str("run_key", &key)
        .u64("t", t)
        .f64("distance_mean", dm)
        .f64("distance_ci_low", dl)
        .f64("distance_ci_high", dh)
        .f64("theorem3_rhs_bound", t3b)
        .f64("theorem3_rhs_measured", t3m)
        .f64("theorem3_corrected_rhs_bound", t3cb)
        .f64("theorem3_corrected_rhs_measured", t3cm)
        .f64("grad_sq_running_mean", gm)
        .f64("grad_sq_running_ci_low", gl)
        .f64("grad_sq_running_ci_high", gh)
        .f64("theorem4_rhs_bound", t4b)
        .f64("theorem4_rhs_measured", t4m)
        .build()?;
    write_table(&mut rounds, dir, "rounds")?;
    Ok(n)
}

pub(super) fn write_charts(results: &[RunResult], dir: &std::path::Path) -> Result<(), Error> {
    let mut sweeps: BTreeMap<&str, Vec<&RunResult>> = BTreeMap::new();
    for r in results {
        sweeps.entry(&r.spec.sweep).or_default().push(r);
    }
    for (name, rs) in sweeps {
        // Theorem 3 (quadratic): one panel per (attack, gamma), a line per rule.
        let mut panels: BTreeMap<(String, String), Vec<&RunResult>> = BTreeMap::new();
        let mut panels4: BTreeMap<(String, String), Vec<&RunResult>> = BTreeMap::new();
        for r in &rs {
            let k = (
                if r.spec.objective == "quadratic" {
                    format!(
                        "{} ({}, q = {}, kappa = {}, L = {})",
                        r.spec.attack, r.spec.corruption, r.spec.q, r.spec.kappa, r.spec.l
                    )
                } else {
                    format!(
                        "{} ({}, q = {}, L = {})",
                        r.spec.attack, r.spec.corruption, r.spec.q, r.l
                    )
                },
                if r.spec.g2 > 0.0 {
                    format!(
                        "gamma = {} x limit, G^2 = {} ({})",
                        r.spec.gamma_factor,
                        r.spec.g2,
                        r.spec.shape.name()
                    )
                } else {
                    format!("gamma = {} x limit", r.spec.gamma_factor)
                },
            );
            if !r.mu.is_nan() {
                panels.entry(k.clone()).or_default().push(r);
            }
            panels4.entry(k).or_default().push(r);
        }
        let mk = |panels: BTreeMap<(String, String), Vec<&RunResult>>, thm3: bool| -> Vec<Panel> {
            panels
                .into_iter()
                .map(|((a, g), rs)| {
                    let mut series = Vec::new();
                    // one colour per rule; a second run of a rule in the panel (another b)
                    // gets a lighter tone of it
                    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
                    for r in rs.iter() {
                        let n = seen.entry(r.spec.rule.as_str()).or_default();
                        let (ci, tone) = (chart::rule_color(&r.spec.rule), 0.3 * *n as f64);
                        *n += 1;
                        let step = (r.dist.len() / 200).max(1);
                        let (pts, bandv): (Vec<(f64, f64)>, Vec<(f64, f64, f64)>) = if thm3 {
                            r.dist
                                .iter()
                                .enumerate()
                                .step_by(step)
                                .map(|(t, b)| ((t as f64, b.0), (t as f64, b.1.max(1e-300), b.2)))
                                .unzip()
                        } else {
                            r.grad_running
                                .iter()
                                .enumerate()
                                .step_by(step)
                                .map(|(t, b)| {
                                    (
                                        ((t + 1) as f64, b.0),
                                        ((t + 1) as f64, b.1.max(1e-300), b.2),
                                    )
                                })
                                .unzip()
                        };
                        series.push(
                            Series::line(r.label.clone(), pts)
                                .with_band(bandv)
                                .with_color(ci)
                                .with_tone(tone),
                        );
                        if thm3 {
                            // printed and corrected Theorem 3 side by side, with the bound's
                            // Delta (the measured one where the paper has no bound)
                            let (delta, which) = match r.delta_bound {
                                Some(db) => (db, "bound"),
                                None => (r.delta_measured, "measured"),
                            };
                            type Rhs = fn(f64, f64, f64, usize, f64, f64) -> f64;
                            let curve = |rhs: Rhs| -> Vec<(f64, f64)> {
                                (0..r.dist.len())
                                    .step_by(step)
                                    .map(|t| (t as f64, rhs(r.mu, r.l, r.gamma, t, r.dist0, delta)))
                                    .collect()
                            };
                            series.push(
                                Series::dashed(
                                    format!("{}: Thm 3 printed, {which} Delta", r.label),
                                    curve(bounds::theorem3_rhs),
                                )
                                .with_color(ci)
                                .with_tone(tone),
                            );
                            series.push(
                                Series::dashed(
                                    format!("{}: Thm 3 corrected, {which} Delta (dots)", r.label),
                                    curve(bounds::theorem3_rhs_corrected)
                                        .into_iter()
                                        .step_by(10)
                                        .collect(),
                                )
                                .with_color(ci)
                                .with_tone(tone)
                                .with_markers(),
                            );
                            // heterogeneous runs: the corrected theorem with Delta_kappa
                            if let (Some(dk), true) = (r.delta_kappa, r.spec.g2 > 0.0) {
                                let pts = (0..r.dist.len())
                                    .step_by(step)
                                    .map(|t| {
                                        let y = bounds::theorem3_rhs_corrected(
                                            r.mu, r.l, r.gamma, t, r.dist0, dk,
                                        );
                                        (t as f64, y)
                                    })
                                    .collect();
                                series.push(
                                    Series::dashed(
                                        format!("{}: Thm 3 corrected, kappa Delta", r.label),
                                        pts,
                                    )
                                    .with_color(ci)
                                    .with_tone(tone + 0.3),
                                );
                            }
                        } else {
                            let curve = |delta: f64| -> Vec<(f64, f64)> {
                                (1..=r.grad_running.len())
                                    .step_by(step)
                                    .map(|t| {
                                        (t as f64, bounds::theorem4_rhs(r.gamma, t, r.gap0, delta))
                                    })
                                    .collect()
                            };
                            if let Some(db) = r.delta_bound {
                                series.push(
                                    Series::dashed(
                                        format!("{}: theorem, bound Delta", r.label),
                                        curve(db),
                                    )
                                    .with_color(ci)
                                    .with_tone(tone),
                                );
                            }
                            // the measured-Delta curve: dots every few points, to tell it apart
                            series.push(
                                Series::dashed(
                                    format!("{}: theorem, measured Delta (dots)", r.label),
                                    curve(r.delta_measured).into_iter().step_by(10).collect(),
                                )
                                .with_color(ci)
                                .with_tone(tone)
                                .with_markers(),
                            );
                        }
                    }
                    Panel::Lines(LineChart {
                        title: format!("{a}, {g}"),
                        x_label: if thm3 { "round t".into() } else { "T".into() },
                        y_label: if thm3 {
                            "E||x_t - x*||".into()
                        } else {
                            "mean_{t<T} ||grad F(x_t)||^2".into()
                        },
                        log_x: !thm3,
                        log_y: true,
                        series,
                    })
                })
                .collect()
        };
        // every panel, in pages of six (two across): NAME-theorem3.png, NAME-theorem3-2.png, ...
        for (p, thm) in [
            (mk(panels, true), "theorem3"),
            (mk(panels4, false), "theorem4"),
        ] {
            let stem = format!("{name}-{thm}");
            chart::save_pages(&p, PANELS_PER_PAGE, 2, (760, 520), dir, &stem)?;
        }
    }
    Ok(())
}

/// Console form of a verdict: parentheses when the step size is beyond the theorem's limit.
pub(super) fn short(v: &str) -> String {
    let w = |v: &str| match v {
        "holds" | "violated" => v.to_string(),
        "inconclusive" => "inconcl.".into(),
        v if v.starts_with("vacuous") => "vacuous".into(),
        v if v.starts_with("n/a") => "n/a".into(),
        v => v.into(),
    };
    match v
        .strip_prefix("premise fails (")
        .and_then(|v| v.strip_suffix(')'))
    {
        Some(inner) => format!("({})", w(inner)),
        None => w(v),
    }
}

/// Verdict counts over the runs inside a theorem's premise (step size at most the limit).
pub(super) fn counts(results: &[RunResult], pick: &dyn Fn(&RunResult) -> &str) -> String {
    let mut c: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        let v = pick(r);
        if !v.starts_with("premise fails") && !v.starts_with("n/a") {
            *c.entry(v).or_default() += 1;
        }
    }
    let n: usize = c.values().sum();
    let parts: Vec<String> = ["holds", "violated", "inconclusive"]
        .iter()
        .map(|k| format!("{} {k}", c.get(k).copied().unwrap_or(0)))
        .chain(
            c.iter()
                .filter(|(k, _)| !matches!(**k, "holds" | "violated" | "inconclusive"))
                .map(|(k, v)| format!("{v} {k}")),
        )
        .collect();
    format!("{n} runs: {}", parts.join(", "))
}

pub(super) fn summary(results: &[RunResult], secs: f64, _cfg: &Config) -> String {
    use crate::report::console::{Align::Left as L, Align::Right as R, Table};
    use std::fmt::Write;
    let mut s = String::new();
    let mut t = Table::new(&[
        ("sweep", L),
        ("rule", L),
        ("attack", L),
        ("kappa", R),
        ("L", R),
        ("gamma", R),
        ("G^2", R),
        ("T", R),
        ("Delta", R),
        ("Delta meas", R),
        ("final dist", R),
        ("diverged", R),
        ("Thm3 printed b/m", L),
        ("Thm3 corrected b/m", L),
        ("Thm4 b/m", L),
        ("Thm4 LHS/RHS b/m", R),
    ]);
    for r in results {
        let pair = |c: &Check| format!("{}/{}", short(&c.bound.0), short(&c.measured.0));
        t.row(vec![
            r.spec.sweep.clone(),
            r.label.clone(),
            r.spec.attack.clone(),
            if r.spec.objective == "quadratic" {
                r.spec.kappa.to_string()
            } else {
                "-".into()
            },
            r.l.to_string(),
            r.spec.gamma_factor.to_string(),
            r.spec.g2.to_string(),
            r.spec.rounds.to_string(),
            format!("{:.2e}", r.delta_bound.unwrap_or(f64::NAN)),
            format!("{:.2e}", r.delta_measured),
            format!("{:.2e}", r.dist.last().map_or(f64::NAN, |b| b.0)),
            format!("{}/{}", r.diverged, r.spec.repeats),
            pair(&r.thm3),
            pair(&r.thm3_corrected),
            pair(&r.thm4),
            format!("{:.3}/{:.3}", r.thm4.bound.1, r.thm4.measured.1),
        ]);
    }
    let _ = writeln!(s, "{}", t.render());
    let _ = writeln!(
        s,
        "b/m: Delta = the rule's bound / the measured aggregation error; (verdict): step size \
         beyond the theorem's limit"
    );
    let _ = writeln!(
        s,
        "Theorem 3 within its premise, bound Delta: printed {}; corrected {}",
        counts(results, &|r| r.thm3.bound.0.as_str()),
        counts(results, &|r| r.thm3_corrected.bound.0.as_str())
    );
    let _ = writeln!(
        s,
        "Theorem 3 within its premise, measured Delta: printed {}; corrected {}",
        counts(results, &|r| r.thm3.measured.0.as_str()),
        counts(results, &|r| r.thm3_corrected.measured.0.as_str())
    );
    let _ = writeln!(
        s,
        "Theorem 4 within its premise: bound Delta {}; measured Delta {}",
        counts(results, &|r| r.thm4.bound.0.as_str()),
        counts(results, &|r| r.thm4.measured.0.as_str())
    );
    let _ = writeln!(
        s,
        "Heterogeneous bound (Delta from the published kappa at f = q), within the premise: \
         Theorem 3 corrected {}; Theorem 4 {}",
        counts(results, &|r| r.thm3_corrected.kappa.0.as_str()),
        counts(results, &|r| r.thm4.kappa.0.as_str())
    );
    // the tightest Theorem 4 cases within the premise (LHS/RHS near 1 means tight)
    let best = |obj: &str, pick: &dyn Fn(&RunResult) -> f64| {
        results
            .iter()
            .filter(|r| r.spec.objective == obj && !r.thm4.measured.0.starts_with("premise fails"))
            .filter(|r| pick(r).is_finite())
            .max_by(|a, b| pick(a).total_cmp(&pick(b)))
            .map_or("none".to_string(), |r| {
                format!("{:.3} ({})", pick(r), r.spec.key())
            })
    };
    for obj in ["quadratic", "double-well"] {
        let _ = writeln!(
            s,
            "Theorem 4 largest LHS/RHS within its premise, {obj}: bound Delta {}; measured Delta {}",
            best(obj, &|r| r.thm4.bound.1),
            best(obj, &|r| r.thm4.measured.1)
        );
    }
    // the speed of the work done now: runs reused from the checkpoint took no time
    let fresh = results.iter().filter(|r| !r.reused).count();
    let fresh_rounds: usize = results
        .iter()
        .filter(|r| !r.reused)
        .map(|r| r.spec.repeats * r.spec.rounds)
        .sum();
    s.push_str(&crate::report::console::speed_line(
        results.len(),
        fresh,
        ("runs", "rounds"),
        fresh_rounds,
        secs,
    ));
    s
}

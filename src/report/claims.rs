//! The claims table of REPORT.md: one row per claim of the paper with the command that tests
//! it, the size of the run behind the row (cells and trials, runs and rounds, repeats), the
//! measured figure, the bound, the verdict and its chart. Read from the tables of a reports
//! folder; a chart is linked only if its file is there.

use super::tables::{f, g, rows, Row};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// `3 holds, 1 violated`: how often each value of column `col` occurs.
pub fn counts(rs: &[&Row], col: &str) -> String {
    let mut c: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rs {
        *c.entry(g(r, col)).or_default() += 1;
    }
    c.iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The row's verdict from the verdicts of its cells or runs.
pub fn verdict_of(rs: &[&Row], col: &str) -> &'static str {
    if rs.is_empty() {
        "not run"
    } else if rs.iter().any(|r| g(r, col).starts_with("violated")) {
        "**violated** in some cells"
    } else if rs.iter().all(|r| g(r, col) == "holds") {
        "holds in every cell"
    } else {
        "holds or inconclusive"
    }
}

/// An integer with thousands separators: `7,512,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio for reading: three significant digits.
pub fn sig3(x: f64) -> String {
    if !x.is_finite() {
        format!("{x}")
    } else if x == 0.0 {
        "0".into()
    } else if x.abs() >= 1e4 || x.abs() < 1e-4 {
        format!("{x:.2e}")
    } else {
        let digits = (2.0 - x.abs().log10().floor()).clamp(0.0, 8.0) as usize;
        format!("{x:.digits$}")
    }
}

/// The size of the Monte Carlo run behind some verify-bounds cells.
fn cells_size(rs: &[&Row]) -> String {
    let trials: f64 = rs
        .iter()
        .map(|r| f(r, "trials"))
        .filter(|t| t.is_finite())
        .sum();
    format!("{} cells, {} trials", rs.len(), thousands(trials as u64))
}

/// The size of the converge runs behind a row.
fn runs_size(rs: &[&Row]) -> String {
    let rr: f64 = rs
        .iter()
        .map(|r| f(r, "repeats") * f(r, "rounds"))
        .filter(|t| t.is_finite())
        .sum();
    let reps: Vec<u64> = rs.iter().map(|r| f(r, "repeats") as u64).collect();
    let (lo, hi) = (
        reps.iter().min().copied().unwrap_or(0),
        reps.iter().max().copied().unwrap_or(0),
    );
    let reps = if lo == hi {
        format!("{lo}")
    } else {
        format!("{lo}-{hi}")
    };
    let noun = if hi == 1 { "repeat" } else { "repeats" };
    format!(
        "{} runs x {reps} {noun}, {} rounds in all",
        rs.len(),
        thousands(rr as u64)
    )
}

/// "R repeats x T rounds a run" from a figure folder's rounds.csv.
fn run_size(dir: &Path, sub: &str) -> String {
    let rs = rows(&dir.join(format!("{sub}/rounds.csv")));
    let repeats = rs
        .iter()
        .map(|r| g(r, "repeat"))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let rounds = rs.iter().map(|r| f(r, "round")).fold(0.0, f64::max);
    let noun = if repeats == 1 { "repeat" } else { "repeats" };
    format!("{repeats} {noun} x {rounds} rounds a run")
}

/// One row of the claims table. The chart is linked when `chart` exists under `dir`.
struct Claim<'a> {
    claim: &'a str,
    command: &'a str,
    size: String,
    measured: String,
    bound: &'a str,
    verdict: &'a str,
    chart: &'a str,
}

fn push(s: &mut String, dir: &Path, c: Claim) {
    let name = Path::new(c.chart)
        .file_stem()
        .map_or(c.chart.to_string(), |n| n.to_string_lossy().into_owned());
    let chart = if dir.join(c.chart).exists() {
        format!("[{name}]({})", c.chart)
    } else {
        "-".into()
    };
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {chart} |",
        c.claim, c.command, c.size, c.measured, c.bound, c.verdict
    );
}

/// Writes the claims table for the reports folder `dir`.
pub fn table(s: &mut String, dir: &Path, quick: bool) {
    let _ = writeln!(
        s,
        "| claim | command (config) | run size | measured | bound | verdict | chart |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    verify_bounds_rows(s, dir, quick);
    converge_rows(s, dir, quick);
    mlp_and_bench_rows(s, dir);
}

fn verify_bounds_rows(s: &mut String, dir: &Path, quick: bool) {
    let vb = rows(&dir.join("verify-bounds/results.csv"));
    let vbc = if quick {
        "`phocas verify-bounds --quick` (experiments/verify-bounds-quick.toml)"
    } else {
        "`phocas verify-bounds` (experiments/verify-bounds.toml)"
    };
    let by = |pred: &dyn Fn(&Row) -> bool| -> Vec<&Row> { vb.iter().filter(|r| pred(r)).collect() };
    let max_ratio = |rs: &[&Row]| {
        rs.iter()
            .map(|r| f(r, "ratio"))
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max)
    };
    let d0 = by(&|r| g(r, "bound_name") == "Delta0");
    push(
        s,
        dir,
        Claim {
            claim: "Lemma 1: Krum, classic model, 2q+2<m",
            command: vbc,
            size: cells_size(&d0),
            measured: format!(
                "{}; max error/Delta0 = {}",
                counts(&d0, "verdict"),
                sig3(max_ratio(&d0))
            ),
            bound: "Delta0",
            verdict: verdict_of(&d0, "verdict"),
            chart: "verify-bounds/krum-over-q.png",
        },
    );
    for (name, rule, pred) in [
        (
            "Proposition 1: Mean is not dimensional-resilient",
            "mean",
            None,
        ),
        (
            "Proposition 2: a rule that outputs one of its inputs is not (Krum, diagonal pattern)",
            "krum",
            Some("diagonal"),
        ),
        (
            "Proposition 3: Krum is not dimensional-resilient (generalized, diagonal, block)",
            "krum",
            None,
        ),
    ] {
        let rs = by(&|r| {
            g(r, "rule") == rule
                && g(r, "corruption") != "classic"
                && pred.is_none_or(|p| g(r, "corruption") == p)
        });
        let unb = rs.iter().filter(|r| g(r, "verdict") == "unbounded").count();
        let slope = rs
            .iter()
            .map(|r| f(r, "growth_slope"))
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max);
        // split by the condition Proposition 2's pattern needs to reach every worker: d q >= m
        let split = |reach: &str| {
            let part: Vec<_> = rs.iter().filter(|r| g(r, "dq_ge_m") == reach).collect();
            let u = part
                .iter()
                .filter(|r| g(r, "verdict") == "unbounded")
                .count();
            format!("{u} of {}", part.len())
        };
        push(s, dir, Claim {
            claim: name,
            command: vbc,
            size: cells_size(&rs),
            measured: format!(
                "{unb} unbounded (d q >= m: {}; d q < m: {}); error ~ magnitude^{slope:.2} at the largest magnitudes",
                split("true"),
                split("false")
            ),
            bound: "none",
            verdict: if unb > 0 { "confirmed (unbounded)" } else { "not shown" },
            chart: "verify-bounds/magnitude.png",
        });
    }
    for (thm, bound, chart) in [
        ("Theorem 1 (Trmean)", "Delta1", "verify-bounds/b-vs-q.png"),
        ("Theorem 2 (Phocas)", "Delta2", "verify-bounds/b-vs-q.png"),
    ] {
        let all = by(&|r| g(r, "bound_name") == bound && g(r, "rule") != "median");
        let pick = |p: &dyn Fn(&Row) -> bool| -> Vec<&Row> {
            all.iter().copied().filter(|r| p(r)).collect()
        };
        let ok = pick(&|r| g(r, "conditions_hold") == "true");
        let chosen = pick(&|r| {
            g(r, "hidden_condition_holds") == "true" && g(r, "positions_independent") == "false"
        });
        let bad = pick(&|r| g(r, "hidden_condition_holds") == "false");
        let rows: [(String, &Vec<&Row>, bool, &str); 4] = [
            (format!("{thm} as stated (2q<m)"), &all, false, chart),
            (
                format!("{thm} with the proof's conditions (b >= q, positions independent of the data), every attack of the grid"),
                &ok,
                true,
                "verify-bounds/over-b.png",
            ),
            (
                format!("{thm}, b >= q, positions chosen after seeing the data (`chosen`)"),
                &chosen,
                true,
                "verify-bounds/worst-case.png",
            ),
            (
                format!("{thm} when b < q (condition omitted by the statement)"),
                &bad,
                false,
                chart,
            ),
        ];
        for (claim, rs, ratio, chart) in rows {
            if rs.is_empty() && claim.contains("chosen") {
                continue;
            }
            let mut measured = counts(rs, "verdict");
            if ratio {
                let _ = write!(measured, "; max ratio {}", sig3(max_ratio(rs)));
            }
            push(
                s,
                dir,
                Claim {
                    claim: &claim,
                    command: vbc,
                    size: cells_size(rs),
                    measured,
                    bound,
                    verdict: verdict_of(rs, "verdict"),
                    chart,
                },
            );
        }
    }
    let trim = |rule: &str| {
        crate::aggregators::info(rule)
            .is_some_and(|i| i.param == crate::aggregators::ParamKind::Trim)
    };
    let dim = by(&|r| g(r, "sweep") == "dimension" && trim(g(r, "rule")));
    if !dim.is_empty() {
        let ratio = |d: u64| {
            dim.iter()
                .filter(|r| g(r, "d") == d.to_string())
                .map(|r| f(r, "error_over_v"))
                .fold(f64::NAN, f64::max)
        };
        let mut ds: Vec<u64> = dim.iter().filter_map(|r| g(r, "d").parse().ok()).collect();
        ds.sort_unstable();
        ds.dedup();
        let (lo, hi) = (
            ds.first().copied().unwrap_or(0),
            ds.last().copied().unwrap_or(0),
        );
        push(
            s,
            dir,
            Claim {
                claim: "Dimension-free bounds (V fixed, d grows)",
                command: vbc,
                size: cells_size(&dim),
                measured: format!(
                    "max error/V: {} at d = {lo}, {} at d = {hi}",
                    sig3(ratio(lo)),
                    sig3(ratio(hi))
                ),
                bound: "Delta1, Delta2",
                verdict: verdict_of(&dim, "verdict"),
                chart: "verify-bounds/dimension.png",
            },
        );
    }
}

fn converge_rows(s: &mut String, dir: &Path, quick: bool) {
    let cv = rows(&dir.join("convergence/runs.csv"));
    let cvc = if quick {
        "`phocas converge --quick` (experiments/convergence-quick.toml)"
    } else {
        "`phocas converge` (experiments/convergence.toml)"
    };
    // which workers a row covers: i.i.d. (G = 0, the paper's setting), heterogeneous (G > 0,
    // the heterogeneity sweep) or every run
    #[derive(Clone, Copy)]
    enum Workers {
        Iid,
        Hetero,
        All,
    }
    let judged = |col: &str, w: Workers, quadratic: bool| -> Vec<&Row> {
        cv.iter()
            .filter(|r| {
                let hetero = f(r, "g2") > 0.0;
                (!quadratic || g(r, "objective") == "quadratic")
                    && !g(r, col).starts_with("premise")
                    && !g(r, col).starts_with("n/a")
                    && !g(r, col).is_empty()
                    && match w {
                        Workers::Iid => !hetero,
                        Workers::Hetero => hetero,
                        Workers::All => true,
                    }
            })
            .collect()
    };
    for (what, col, w, chart) in [
        ("Theorem 3 as printed (gamma <= 2/(mu+L)), Delta = the rule's bound, i.i.d. workers", "theorem3_bound_delta", Workers::Iid, "convergence/attacks-theorem3.png"),
        ("Theorem 3 corrected (constant (mu+L)/(mu L) sqrt(Delta), without the printed factor gamma), Delta = the rule's bound, i.i.d. workers", "theorem3_corrected_bound_delta", Workers::Iid, "convergence/step-theorem3.png"),
        ("Theorem 3 as printed, Delta = the aggregation error measured in the run", "theorem3_measured_delta", Workers::All, "convergence/step-theorem3.png"),
        ("Theorem 3 corrected, Delta measured in the run", "theorem3_corrected_measured_delta", Workers::All, "convergence/step-theorem3.png"),
        ("Theorem 3 corrected, Delta = the rule's (i.i.d.) bound, on heterogeneous workers (G^2 > 0)", "theorem3_corrected_bound_delta", Workers::Hetero, "convergence/heterogeneity-theorem3.png"),
        ("Theorem 3 corrected as a heterogeneous bound: Delta_kappa from the rule's published (f, kappa) constant, G^2 included (src/bounds.rs), every run where Delta_kappa applies", "theorem3_corrected_kappa_delta", Workers::All, "convergence/heterogeneity-theorem3.png"),
    ] {
        let t = judged(col, w, true);
        if t.is_empty() && (col.contains("corrected") || matches!(w, Workers::Hetero)) {
            continue;
        }
        push(s, dir, Claim {
            claim: what,
            command: cvc,
            size: runs_size(&t),
            measured: format!("within the premise: {}", counts(&t, col)),
            bound: "Theorem 3's right-hand side",
            verdict: verdict_of(&t, col),
            chart,
        });
    }
    for (what, col, w, chart) in [
        (
            "Theorem 4 (L-smooth, gamma <= 1/L; quadratic and double-well), i.i.d. workers",
            "theorem4_bound_delta",
            Workers::Iid,
            "convergence/nonconvex-theorem4.png",
        ),
        (
            "Theorem 4, Delta = the rule's (i.i.d.) bound, on heterogeneous workers (G^2 > 0)",
            "theorem4_bound_delta",
            Workers::Hetero,
            "convergence/heterogeneity-theorem4.png",
        ),
        (
            "Theorem 4 with Delta_kappa (heterogeneous bound), every run where Delta_kappa applies",
            "theorem4_kappa_delta",
            Workers::All,
            "convergence/heterogeneity-theorem4.png",
        ),
    ] {
        let t4 = judged(col, w, false);
        if t4.is_empty() && !matches!(w, Workers::Iid) {
            continue;
        }
        let ratio_col = col.replace("theorem4_", "theorem4_lhs_rhs_");
        let t4max = t4
            .iter()
            .map(|r| f(r, &ratio_col))
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max);
        push(
            s,
            dir,
            Claim {
                claim: what,
                command: cvc,
                size: runs_size(&t4),
                measured: format!("{}; largest LHS/RHS {}", counts(&t4, col), sig3(t4max)),
                bound: "2/(gT)(F0-F*) + Delta",
                verdict: verdict_of(&t4, col),
                chart,
            },
        );
    }
    let all: Vec<&Row> = cv.iter().collect();
    let div: Vec<_> = cv
        .iter()
        .filter(|r| f(r, "diverged_repeats") > 0.0)
        .collect();
    push(
        s,
        dir,
        Claim {
            claim: "Runs whose iterate diverged (not finite)",
            command: cvc,
            size: runs_size(&all),
            measured: {
                // grouped by rule and attack, with the sweeps they ran in
                let mut by: std::collections::BTreeMap<String, (usize, Vec<String>)> =
                    Default::default();
                for r in &div {
                    let e = by
                        .entry(format!("{} / {}", g(r, "rule_label"), g(r, "attack")))
                        .or_default();
                    e.0 += 1;
                    if !e.1.iter().any(|x| x == g(r, "sweep")) {
                        e.1.push(g(r, "sweep").to_string());
                    }
                }
                format!(
                    "{} runs diverged: {}",
                    div.len(),
                    by.iter()
                        .map(|(k, (n, sw))| format!("{k} ({n} in {})", sw.join(", ")))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            },
            bound: "-",
            verdict: if div.is_empty() { "none" } else { "shown" },
            chart: "convergence/attacks-theorem3.png",
        },
    );
}

fn mlp_and_bench_rows(s: &mut String, dir: &Path) {
    for (net, sub, config) in [
        ("MLP", "mlp/theorem4", "experiments/mlp/theorem4.toml"),
        ("CNN", "cnn/cnn-theorem4", "experiments/cnn/theorem4.toml"),
    ] {
        theorem4_row(s, dir, net, sub, config);
    }
    bench_rows(s, dir);
    cnn_row(s, dir);
}

/// The appendix's "CNN like the MLP" claim, if both figures exist.
fn cnn_row(s: &mut String, dir: &Path) {
    if let Some(a) = super::cnn::agreement(dir) {
        let cnn = rows(&dir.join("cnn/cnn-fig2/summary.csv"));
        push(
            s,
            dir,
            Claim {
                claim: "Appendix 8.6: the CNN's results are similar to the MLP's (which rules fail under which attack, figure 2)",
                command: "`phocas reproduce cnn-fig2` (experiments/cnn/fig2.toml) against `reproduce fig2`",
                size: format!("{} runs, {} (reduced scale, Fashion-MNIST)", cnn.len(), run_size(dir, "cnn/cnn-fig2")),
                measured: format!(
                    "{} of {} rule/attack pairs fail (top-1 < {}) under one network only{}",
                    a.differ.len(),
                    a.compared,
                    super::cnn::FAILED,
                    if a.differ.is_empty() { String::new() } else { format!(": {}", a.differ.join("; ")) }
                ),
                bound: "same verdicts",
                verdict: if a.differ.is_empty() { "holds" } else { "differs" },
                chart: "cnn/cnn-fig2/cnn-fig2.png",
            },
        );
    }
}

/// Theorem 4 on a network (`sub`: the figure's folder), if its table exists.
fn theorem4_row(s: &mut String, dir: &Path, net: &str, sub: &str, config: &str) {
    let t4m = rows(&dir.join(format!("{sub}/theorem4.csv")));
    if !t4m.is_empty() {
        let prem = t4m
            .iter()
            .filter(|r| g(r, "premise_gamma_le_1_over_l") == "true")
            .count();
        let held = t4m
            .iter()
            .filter(|r| g(r, "lhs_le_rhs_every_t") == "true")
            .count();
        let lmax = t4m
            .iter()
            .map(|r| f(r, "l_hat_max"))
            .fold(f64::NAN, f64::max);
        let claim = format!("Theorem 4 on the {net}");
        let fig = sub.rsplit('/').next().unwrap_or(sub);
        let command = format!("`phocas reproduce {fig}` ({config})");
        let chart = format!("{sub}/theorem4.png");
        push(s, dir, Claim {
            claim: &claim,
            command: &command,
            size: format!("{} runs, {}", t4m.len(), run_size(dir, sub)),
            measured: format!(
                "premise gamma <= 1/L held in {prem} of {} runs (L estimate up to {lmax:.1}); inequality held in {held}",
                t4m.len()
            ),
            bound: "2/(gT)F(x0) + Delta",
            verdict: if prem == 0 { "premise fails" } else { "see table" },
            chart: &chart,
        });
    }
}

fn bench_rows(s: &mut String, dir: &Path) {
    let sl = rows(&dir.join("bench-scaling/slopes.csv"));
    if !sl.is_empty() {
        let desc = sl
            .iter()
            .map(|r| {
                format!(
                    "{} {}: m^{:.2}, d^{:.2}",
                    g(r, "rule"),
                    g(r, "dtype"),
                    f(r, "slope_m"),
                    f(r, "slope_d")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let first = sl.first();
        let size = first.map_or(String::new(), |r| {
            format!(
                "{} values of m at d = {} (any above m = 200 at a smaller d, times scaled to it), {} of d at m = {}",
                g(r, "points_m"),
                g(r, "d_of_m_sweep"),
                g(r, "points_d"),
                g(r, "m_of_d_sweep")
            )
        });
        push(
            s,
            dir,
            Claim {
                claim: "Section 4.4: Trmean, Phocas O(dm); Krum O(dm^2)",
                command: "`phocas bench-scaling`",
                size,
                measured: desc,
                bound: "slopes 1 (2 for Krum in m)",
                verdict: "see slopes.csv",
                chart: "bench-scaling/scaling.png",
            },
        );
    }
    // the MLP's figures (section 5) and the CNN's (the appendix, at a reduced scale)
    for (family, fig, claim) in [
        ("mlp", "fig2", "Section 5, fig2 (MLP, final top-1 accuracy)"),
        ("mlp", "fig3", "Section 5, fig3 (MLP, final top-1 accuracy)"),
        ("mlp", "fig4", "Section 5, fig4 (MLP, final top-1 accuracy)"),
        (
            "cnn",
            "cnn-fig2",
            "Appendix, figs 10-14 (CNN, final top-1 accuracy)",
        ),
        (
            "cnn",
            "cnn-fig3",
            "Appendix, fig3 on the CNN (final top-1 accuracy)",
        ),
        (
            "cnn",
            "cnn-fig4",
            "Appendix, fig4 on the CNN (final top-1 accuracy)",
        ),
    ] {
        let sub = format!("{family}/{fig}");
        let sm = rows(&dir.join(format!("{sub}/summary.csv")));
        if sm.is_empty() {
            continue;
        }
        let desc = sm
            .iter()
            .map(|r| {
                format!(
                    "{} / {}: {:.3}",
                    g(r, "panel"),
                    g(r, "label"),
                    f(r, "final_accuracy_mean")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let command = format!(
            "`phocas reproduce {fig}` (experiments/{family}/{}.toml)",
            fig.trim_start_matches("cnn-")
        );
        let chart = format!("{sub}/{fig}.png");
        push(
            s,
            dir,
            Claim {
                claim,
                command: &command,
                size: format!("{} runs, {}", sm.len(), run_size(dir, &sub)),
                measured: desc,
                bound: "-",
                verdict: "see README",
                chart: &chart,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(7_512_000), "7,512,000");
        assert_eq!(thousands(12), "12");
        assert_eq!(sig3(0.443_218_9), "0.443");
        assert_eq!(sig3(0.003_64), "0.00364");
        assert_eq!(sig3(12.345), "12.3");
        assert_eq!(sig3(4.5e39), "4.50e39");
        assert_eq!(sig3(f64::INFINITY), "inf");
    }

    #[test]
    fn missing_charts_are_not_linked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("verify-bounds")).unwrap();
        std::fs::write(dir.path().join("verify-bounds/magnitude.png"), b"png").unwrap();
        let mut s = String::new();
        table(&mut s, dir.path(), true);
        assert!(
            s.contains("[magnitude](verify-bounds/magnitude.png)"),
            "{s}"
        );
        assert!(!s.contains("krum-over-q.png"), "{s}");
    }
}

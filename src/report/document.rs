//! `phocas report`: runs (or reuses) every experiment and writes reports/REPORT.md, one row
//! per claim of the paper with the command that tests it, the measured figure, the bound, the
//! verdict and a link to its chart, then the charts themselves.
//!
//! Each experiment runs as a child process of the same binary. A folder is reused when its
//! `report-stamp.json` records the same inputs (version, git commit, arguments). A folder
//! stamped with other inputs is cleared and the experiment runs again; a folder without a stamp
//! (an interrupted run) is handed to the same command, which resumes from its checkpoint
//! (verify-bounds, converge and reproduce keep one) or refuses a folder of another run.

use crate::error::Error;
use crate::fsutil::write_atomic;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Arguments of `phocas report`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Reduced runs of every experiment (minutes, not hours).
    #[arg(long)]
    pub quick: bool,
    /// Reports folder. Default: reports (the committed reference runs) for the full report,
    /// runs/report-quick for --quick, so a quick report never touches committed results.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// MNIST-format data for the MLP figures.
    #[arg(long, default_value = crate::data::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Skip the MLP figures (section 5), which take the longest.
    #[arg(long)]
    pub skip_mlp: bool,
    /// Skip the timing sweep.
    #[arg(long)]
    pub skip_bench: bool,
    /// Rerun every experiment even if its inputs are unchanged.
    #[arg(long)]
    pub force: bool,
}

struct Step {
    dir: &'static str,
    args: Vec<String>,
}

/// The report's folder: --out, else `reports` (full) or `runs/report-quick` (--quick).
pub fn folder(a: &ReportArgs) -> PathBuf {
    match (&a.out, a.quick) {
        (Some(p), _) => p.clone(),
        (None, false) => PathBuf::from("reports"),
        (None, true) => Path::new(crate::outdir::SCRATCH).join("report-quick"),
    }
}

fn steps(a: &ReportArgs, root: &Path) -> Vec<Step> {
    let out = |d: &str| root.join(d).display().to_string();
    let q = |v: &mut Vec<String>| {
        if a.quick {
            v.push("--quick".into());
        }
    };
    let mut s = Vec::new();
    let mut v = vec![
        "verify-bounds".into(),
        "--quiet".into(),
        "--out".into(),
        out("verify-bounds"),
    ];
    q(&mut v);
    s.push(Step {
        dir: "verify-bounds",
        args: v,
    });
    let mut v = vec![
        "converge".into(),
        "--quiet".into(),
        "--out".into(),
        out("convergence"),
    ];
    q(&mut v);
    s.push(Step {
        dir: "convergence",
        args: v,
    });
    if !a.skip_bench {
        let mut v = vec!["bench-scaling".into(), "--out".into(), out("bench-scaling")];
        q(&mut v);
        s.push(Step {
            dir: "bench-scaling",
            args: v,
        });
    }
    if !a.skip_mlp {
        let mut v = vec![
            "reproduce".into(),
            "all".into(),
            "--quiet".into(),
            "--out".into(),
            out("mlp"),
            "--data-dir".into(),
            a.data_dir.display().to_string(),
        ];
        if a.quick {
            v.extend([
                "--repeats".into(),
                "1".into(),
                "--rounds".into(),
                "100".into(),
            ]);
        }
        s.push(Step {
            dir: "mlp",
            args: v,
        });
    }
    s
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// `phocas report`.
pub fn run(a: &ReportArgs) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let root = folder(a);
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    let commit = git_commit();
    // Ctrl-C reaches the running child too, which saves its work and exits 130; report then
    // says how to resume instead of dying before its child.
    crate::interrupt::install();
    for st in steps(a, &root) {
        if crate::interrupt::stopped() {
            return Err(Error::Interrupted(
                "stopped between experiments: run `phocas report` again to resume".into(),
            ));
        }
        let dir = root.join(st.dir);
        let stamp = format!(
            "{{\"version\": \"{}\", \"commit\": \"{commit}\", \"args\": {:?}}}\n",
            env!("CARGO_PKG_VERSION"),
            st.args
        );
        let stamp_path = dir.join("report-stamp.json");
        if !a.force && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
        {
            eprintln!(
                "report: {} is up to date (same version, commit and arguments): reused",
                dir.display()
            );
            continue;
        }
        if stamp_path.exists() {
            // finished with other inputs: its tables are stale, run it afresh
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        } else if dir.exists() {
            // not stamped (interrupted, or outputs committed without a run): the command
            // reuses whatever its checkpoint holds
            eprintln!(
                "report: {} has no stamp: running its command, which reuses any checkpoint there",
                dir.display()
            );
        }
        eprintln!("report: running phocas {}", st.args.join(" "));
        let status = std::process::Command::new(&exe)
            .args(&st.args)
            .status()
            .map_err(|e| Error::io(&exe, e))?;
        if status.code() == Some(130) {
            return Err(Error::Interrupted(format!(
                "phocas {} was stopped; finished work is kept: run `phocas report` again to resume",
                st.args.join(" ")
            )));
        }
        if !status.success() {
            return Err(Error::Invalid(format!(
                "phocas {} failed ({status}); fix it and run `phocas report` again (finished experiments are reused)",
                st.args.join(" ")
            )));
        }
        write_atomic(&stamp_path, stamp.as_bytes())?;
    }
    let md = render(&root, a.quick)?;
    write_atomic(&root.join("REPORT.md"), md.as_bytes())?;
    println!("wrote {}", root.join("REPORT.md").display());
    Ok(())
}

/// Splits one CSV line (RFC 4180 quoting, as polars writes it).
pub fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

type Rows = Vec<HashMap<String, String>>;

fn rows(path: &Path) -> Rows {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap_or(""));
    lines
        .map(|l| header.iter().cloned().zip(split_csv(l)).collect())
        .collect()
}

fn f(r: &HashMap<String, String>, k: &str) -> f64 {
    r.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn g<'a>(r: &'a HashMap<String, String>, k: &str) -> &'a str {
    r.get(k).map_or("", String::as_str)
}

fn counts(rs: &[&HashMap<String, String>], col: &str) -> String {
    let mut c: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in rs {
        *c.entry(g(r, col)).or_default() += 1;
    }
    c.iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn verdict_of(rs: &[&HashMap<String, String>], col: &str) -> &'static str {
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

/// Four decimals, or scientific notation from 10^4 on; `-` for NaN.
fn num4(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.is_finite() && x.abs() >= 1e4 {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// The tightness table and the paired comparisons of verify-bounds, from its CSV files.
fn worst_case_sections(s: &mut String, dir: &Path) {
    let tight = rows(&dir.join("verify-bounds/tightness.csv"));
    if !tight.is_empty() {
        let _ = writeln!(
            s,
            "\n## How tight the bounds are (verify-bounds, tightness.csv)\n"
        );
        let _ = writeln!(s, "Largest mean error / bound over every attack run, for q = 0 (no Byzantine value: a trivial cell) and q >= 1 separately, and by which of the conditions the statements leave out hold (b >= q, positions independent of the data, Krum told at least the number of rows carrying Byzantine values). `exact` is the largest closed-form worst case (Median and Trmean) over the same cells.\n");
        let _ = writeln!(s, "| bound | q | conditions | cells | max ratio | reached by (attack / corruption / rule / data / m, q) | verdict | exact max ratio |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        for r in &tight {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} / {} / {} / {} / {}, {} | {} | {} |",
                g(r, "bound"),
                g(r, "q_class"),
                g(r, "conditions"),
                g(r, "cells"),
                num4(f(r, "max_ratio")),
                g(r, "attack"),
                g(r, "corruption"),
                g(r, "rule"),
                g(r, "distribution"),
                g(r, "m"),
                g(r, "q"),
                g(r, "verdict"),
                num4(f(r, "max_exact_worst_ratio")),
            );
        }
    }
    let paired = rows(&dir.join("verify-bounds/paired.csv"));
    let sel: Vec<_> = paired
        .iter()
        .filter(|r| {
            g(r, "rule_a").starts_with("phocas")
                && g(r, "rule_b").starts_with("trmean")
                && g(r, "m") == "20"
                && g(r, "d") == "10"
                && g(r, "b") == g(r, "q")
                && matches!(g(r, "q"), "2" | "6" | "8")
                && g(r, "corruption") != "classic"
                && matches!(g(r, "distribution"), "gaussian" | "rademacher")
                && matches!(g(r, "sweep"), "worst-case" | "headline")
        })
        .collect();
    if !sel.is_empty() {
        let _ = writeln!(
            s,
            "\n## Phocas against Trmean, paired (verify-bounds, paired.csv)\n"
        );
        let _ = writeln!(s, "Same honest samples and positions for both rules in every trial (common random numbers); `sided` and `search` answer each rule with its own worst case. m = 20, q = b, d = 10; errors in units of V. Negative differences: Phocas lower. All comparisons (also against Median) are in paired.csv.\n");
        let _ = writeln!(s, "| data | corruption | attack | q = b | Phocas | Trmean | Phocas - Trmean [95% CI] | Phocas wins | verdict |");
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
        for r in sel {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.4} | {:.4} | {:+.4} [{:+.4}, {:+.4}] | {:.0}% | {} |",
                g(r, "distribution"),
                g(r, "corruption"),
                g(r, "attack"),
                g(r, "q"),
                f(r, "error_a_over_v"),
                f(r, "error_b_over_v"),
                f(r, "mean_diff_over_v"),
                f(r, "ci_low_over_v"),
                f(r, "ci_high_over_v"),
                100.0 * f(r, "a_wins"),
                g(r, "verdict"),
            );
        }
    }
}

/// Renders REPORT.md from the tables under `dir`.
pub fn render(dir: &Path, quick: bool) -> Result<String, Error> {
    let mut s = String::new();
    let _ = writeln!(s, "# Phocas workbench report\n");
    let _ = writeln!(
        s,
        "Generated by `phocas report` (version {}, commit {}). Every figure below comes from the tables in this folder; each results folder has a `manifest.json` with the config, seed, threads, machine and timings.\n",
        env!("CARGO_PKG_VERSION"),
        git_commit()
    );
    let _ = writeln!(
        s,
        "| claim | command (config) | measured | bound | verdict | chart |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    let vb = rows(&dir.join("verify-bounds/results.csv"));
    let vbc = if quick {
        "`phocas verify-bounds --quick` (experiments/verify-bounds-quick.toml)"
    } else {
        "`phocas verify-bounds` (experiments/verify-bounds.toml)"
    };
    let by = |pred: &dyn Fn(&HashMap<String, String>) -> bool| -> Vec<&HashMap<String, String>> {
        vb.iter().filter(|r| pred(r)).collect()
    };
    let max_ratio = |rs: &[&HashMap<String, String>]| {
        rs.iter()
            .map(|r| f(r, "ratio"))
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max)
    };
    let d0 = by(&|r| g(r, "bound_name") == "Delta0");
    let _ = writeln!(s, "| Lemma 1: Krum, classic model, 2q+2<m | {vbc} | {} cells: {}; max error/Delta0 = {:.3e} | Delta0 | {} | [krum-over-q](verify-bounds/krum-over-q.png) |", d0.len(), counts(&d0, "verdict"), max_ratio(&d0), verdict_of(&d0, "verdict"));
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
        let _ = writeln!(s, "| {name} | {vbc} | {unb} of {} cells unbounded (d q >= m: {}; d q < m: {}); error ~ magnitude^{slope:.2} at the largest magnitudes | none | {} | [magnitude](verify-bounds/magnitude.png) |", rs.len(), split("true"), split("false"), if unb > 0 { "confirmed (unbounded)" } else { "not shown" });
    }
    for (thm, bound, chart) in [
        ("Theorem 1 (Trmean)", "Delta1", "b-vs-q"),
        ("Theorem 2 (Phocas)", "Delta2", "b-vs-q"),
    ] {
        let all = by(&|r| g(r, "bound_name") == bound && g(r, "rule") != "median");
        let ok: Vec<_> = all
            .iter()
            .copied()
            .filter(|r| g(r, "conditions_hold") == "true")
            .collect();
        let chosen: Vec<_> = all
            .iter()
            .copied()
            .filter(|r| {
                g(r, "hidden_condition_holds") == "true" && g(r, "positions_independent") == "false"
            })
            .collect();
        let bad: Vec<_> = all
            .iter()
            .copied()
            .filter(|r| g(r, "hidden_condition_holds") == "false")
            .collect();
        let _ = writeln!(s, "| {thm} as stated (2q<m) | {vbc} | {} cells: {} | {bound} | {} | [{chart}](verify-bounds/{chart}.png) |", all.len(), counts(&all, "verdict"), verdict_of(&all, "verdict"));
        let _ = writeln!(s, "| {thm} with the proof's conditions (b >= q, positions independent of the data), every attack of the grid | {vbc} | {} cells: {}; max ratio {:.3e} | {bound} | {} | [over-b](verify-bounds/over-b.png) |", ok.len(), counts(&ok, "verdict"), max_ratio(&ok), verdict_of(&ok, "verdict"));
        if !chosen.is_empty() {
            let _ = writeln!(s, "| {thm}, b >= q, positions chosen after seeing the data (`chosen`) | {vbc} | {} cells: {}; max ratio {:.3e} | {bound} | {} | [worst-case](verify-bounds/worst-case.png) |", chosen.len(), counts(&chosen, "verdict"), max_ratio(&chosen), verdict_of(&chosen, "verdict"));
        }
        let _ = writeln!(s, "| {thm} when b < q (condition omitted by the statement) | {vbc} | {} cells: {} | {bound} | {} | [{chart}](verify-bounds/{chart}.png) |", bad.len(), counts(&bad, "verdict"), verdict_of(&bad, "verdict"));
    }
    let dim = by(&|r| g(r, "sweep") == "dimension" && matches!(g(r, "rule"), "trmean" | "phocas"));
    if !dim.is_empty() {
        let ratio = |d: &str| {
            dim.iter()
                .filter(|r| g(r, "d") == d)
                .map(|r| f(r, "error_over_v"))
                .fold(f64::NAN, f64::max)
        };
        let ds: Vec<u64> = {
            let mut v: Vec<u64> = dim.iter().filter_map(|r| g(r, "d").parse().ok()).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let (lo, hi) = (
            ds.first().copied().unwrap_or(0),
            ds.last().copied().unwrap_or(0),
        );
        let _ = writeln!(s, "| Dimension-free bounds (V fixed, d grows) | {vbc} | max error/V: {:.3} at d = {lo}, {:.3} at d = {hi} | Delta1, Delta2 | {} | [dimension](verify-bounds/dimension.png) |", ratio(&lo.to_string()), ratio(&hi.to_string()), verdict_of(&dim, "verdict"));
    }
    let cv = rows(&dir.join("convergence/runs.csv"));
    let cvc = if quick {
        "`phocas converge --quick` (experiments/convergence-quick.toml)"
    } else {
        "`phocas converge` (experiments/convergence.toml)"
    };
    let within = |col: &str| -> Vec<&HashMap<String, String>> {
        cv.iter()
            .filter(|r| {
                g(r, "objective") == "quadratic"
                    && !g(r, col).starts_with("premise")
                    && !g(r, col).starts_with("n/a")
                    && !g(r, col).is_empty()
            })
            .collect()
    };
    for (what, col, chart) in [
        ("Theorem 3 as printed (gamma <= 2/(mu+L)), Delta = the rule's bound", "theorem3_bound_delta", "attacks-theorem3"),
        ("Theorem 3 corrected (constant (mu+L)/(mu L) sqrt(Delta), without the printed factor gamma), Delta = the rule's bound", "theorem3_corrected_bound_delta", "step-theorem3"),
        ("Theorem 3 as printed, Delta = the aggregation error measured in the run", "theorem3_measured_delta", "step-theorem3"),
        ("Theorem 3 corrected, Delta measured in the run", "theorem3_corrected_measured_delta", "step-theorem3"),
    ] {
        let t = within(col);
        if t.is_empty() && col.contains("corrected") {
            continue;
        }
        let _ = writeln!(s, "| {what} | {cvc} | {} runs within the premise: {} | Theorem 3's right-hand side | {} | [{chart}](convergence/{chart}.png) |", t.len(), counts(&t, col), verdict_of(&t, col));
    }
    let t4: Vec<_> = cv
        .iter()
        .filter(|r| {
            !g(r, "theorem4_bound_delta").starts_with("premise")
                && !g(r, "theorem4_bound_delta").starts_with("n/a")
        })
        .collect();
    let t4max = t4
        .iter()
        .map(|r| f(r, "theorem4_lhs_rhs_bound_delta"))
        .filter(|x| x.is_finite())
        .fold(f64::NAN, f64::max);
    let _ = writeln!(s, "| Theorem 4 (L-smooth, gamma <= 1/L; quadratic and double-well) | {cvc} | {} runs: {}; largest LHS/RHS {t4max:.3} | 2/(gT)(F0-F*) + Delta | {} | [nonconvex-theorem4](convergence/nonconvex-theorem4.png) |", t4.len(), counts(&t4, "theorem4_bound_delta"), verdict_of(&t4, "theorem4_bound_delta"));
    let div: Vec<_> = cv
        .iter()
        .filter(|r| f(r, "diverged_repeats") > 0.0)
        .collect();
    let _ = writeln!(s, "| Runs whose iterate diverged (not finite) | {cvc} | {} runs diverged: {} | - | {} | [attacks-theorem3](convergence/attacks-theorem3.png) |", div.len(), div.iter().map(|r| format!("{} / {}", g(r, "rule_label"), g(r, "attack"))).collect::<Vec<_>>().join("; "), if div.is_empty() { "none" } else { "shown" });
    let t4m = rows(&dir.join("mlp/theorem4/theorem4.csv"));
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
        let _ = writeln!(s, "| Theorem 4 on the MLP | `phocas reproduce theorem4` | premise gamma <= 1/L held in {prem} of {} runs (L estimate up to {lmax:.1}); inequality held in {held} | 2/(gT)F(x0) + Delta | {} | [theorem4](mlp/theorem4/theorem4.png) |", t4m.len(), if prem == 0 { "premise fails" } else { "see table" });
    }
    let sl = rows(&dir.join("bench-scaling/slopes.csv"));
    if !sl.is_empty() {
        let desc = sl
            .iter()
            .map(|r| {
                let keys: Vec<String> = r
                    .iter()
                    .filter(|(k, _)| k.contains("slope"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!("{} {}: {}", g(r, "rule"), g(r, "dtype"), keys.join(" "))
            })
            .take(12)
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(s, "| Section 4.4: Trmean, Phocas O(dm); Krum O(dm^2) | `phocas bench-scaling` | {desc} | slopes 1 (2 for Krum in m) | see slopes.csv | [bench-scaling](bench-scaling/) |");
    }
    for fig in ["fig2", "fig3", "fig4"] {
        let sm = rows(&dir.join(format!("mlp/{fig}/summary.csv")));
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
        let _ = writeln!(s, "| Section 5, {fig} (MLP, final top-1 accuracy) | `phocas reproduce {fig}` (experiments/mlp/{fig}.toml) | {desc} | - | see README | [{fig}](mlp/{fig}/{fig}.png) |");
    }
    worst_case_sections(&mut s, dir);
    let _ = writeln!(s, "\n## Charts\n");
    let mut charts = Vec::new();
    for sub in [
        "verify-bounds",
        "convergence",
        "bench-scaling",
        "mlp/fig2",
        "mlp/fig3",
        "mlp/fig4",
        "mlp/theorem4",
    ] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            let mut v: Vec<String> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".png") && !n.starts_with('.'))
                .map(|n| format!("{sub}/{n}"))
                .collect();
            v.sort();
            charts.extend(v);
        }
    }
    for c in charts {
        let _ = writeln!(s, "### {c}\n\n![{c}]({c})\n");
    }
    Ok(s)
}

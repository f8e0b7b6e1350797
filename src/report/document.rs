//! `phocas report`: runs (or reuses) every experiment and writes reports/REPORT.md, one row
//! per claim of the paper with the command that tests it, the measured figure, the bound, the
//! verdict and a link to its chart, then the charts themselves.
//!
//! Each experiment runs as a child process of the same binary. A folder is reused when its
//! `report-stamp.json` records the same inputs (crate version and arguments; the version is
//! bumped whenever results change, and `--force` reruns regardless). A folder
//! stamped with other inputs is cleared and the experiment runs again; a folder without a stamp
//! (an interrupted run) is handed to the same command, which resumes from its checkpoint
//! (verify-bounds, converge and reproduce keep one) or refuses a folder of another run.

use super::tables::{f, g, rows};
use crate::error::Error;
use crate::fsutil::write_atomic;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Options of `phocas report`.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Reduced runs of every experiment (minutes, not hours).
    pub quick: bool,
    /// Reports folder. Default: reports (the committed reference runs) for the full report,
    /// runs/report-quick for --quick, so a quick report never touches committed results.
    pub out: Option<PathBuf>,
    /// MNIST-format data for the MLP figures.
    pub data_dir: PathBuf,
    /// Skip the MLP figures (section 5), which take the longest.
    pub skip_mlp: bool,
    /// Skip the CNN figures (Table 3 at a reduced scale, reports/cnn).
    pub skip_cnn: bool,
    /// Run only these steps (folders under the reports folder, e.g. `cnn/cnn-fig2` or
    /// `verify-bounds`; repeatable), leaving the others as they are, then write REPORT.md from
    /// every folder present.
    pub only: Vec<String>,
    /// Skip the timing sweep.
    pub skip_bench: bool,
    /// Rerun every experiment even if its inputs are unchanged.
    pub force: bool,
}

struct Step {
    dir: String,
    args: Vec<String>,
}

/// The report's folder: --out, else `reports` (full) or `runs/report-quick` (--quick).
pub fn folder(a: &ReportOptions) -> PathBuf {
    match (&a.out, a.quick) {
        (Some(p), _) => p.clone(),
        (None, false) => PathBuf::from("reports"),
        (None, true) => Path::new(crate::outdir::SCRATCH).join("report-quick"),
    }
}

fn steps(a: &ReportOptions, root: &Path) -> Vec<Step> {
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
        dir: "verify-bounds".into(),
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
        dir: "convergence".into(),
        args: v,
    });
    if !a.skip_bench {
        let mut v = vec!["bench-scaling".into(), "--out".into(), out("bench-scaling")];
        q(&mut v);
        s.push(Step {
            dir: "bench-scaling".into(),
            args: v,
        });
    }
    // one step a figure, so that adding or changing one figure reruns only it
    for (fig, _) in crate::sgd::figures::EXPERIMENTS {
        let family = if fig.starts_with("cnn-") {
            "cnn"
        } else {
            "mlp"
        };
        if (family == "mlp" && a.skip_mlp) || (family == "cnn" && a.skip_cnn) {
            continue;
        }
        {
            let mut v = vec![
                "reproduce".into(),
                fig.to_string(),
                "--quiet".into(),
                "--out".into(),
                out(family),
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
                dir: format!("{family}/{fig}"),
                args: v,
            });
        }
    }
    if !a.only.is_empty() {
        s.retain(|st| a.only.contains(&st.dir));
    }
    s
}

/// A hash of the built-in configs a report step reads (0 for a step that reads none), so that
/// a changed grid or figure reruns its step.
fn configs_hash(dir: &str, quick: bool) -> u64 {
    let texts: Vec<&str> = match dir {
        "verify-bounds" if quick => vec![crate::montecarlo::config::QUICK_CONFIG],
        "verify-bounds" => vec![crate::montecarlo::config::DEFAULT_CONFIG],
        "convergence" if quick => vec![crate::sgd::converge::QUICK_CONFIG],
        "convergence" => vec![crate::sgd::converge::DEFAULT_CONFIG],
        _ => match dir
            .strip_prefix("mlp/")
            .or_else(|| dir.strip_prefix("cnn/"))
            .and_then(|f| crate::sgd::figures::EXPERIMENTS.iter().find(|e| e.0 == f))
        {
            Some(e) => vec![e.1],
            None => return 0,
        },
    };
    crate::rng::hash_str(&texts.join("\u{1f}"))
}

/// `phocas report`.
pub fn run(a: &ReportOptions) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let root = folder(a);
    let known: Vec<String> = steps(
        &ReportOptions {
            only: Vec::new(),
            ..a.clone()
        },
        &root,
    )
    .into_iter()
    .map(|s| s.dir)
    .collect();
    if let Some(bad) = a.only.iter().find(|o| !known.contains(o)) {
        return Err(Error::Invalid(format!(
            "--only {bad}: not a step of this report; use one of {}",
            known.join(", ")
        )));
    }
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    // Ctrl-C reaches the running child too, which saves its work and exits 130; report then
    // says how to resume instead of dying before its child.
    crate::interrupt::install();
    for st in steps(a, &root) {
        if crate::interrupt::stopped() {
            return Err(Error::Interrupted(
                "stopped between experiments: run `phocas report` again to resume".into(),
            ));
        }
        let dir = root.join(&st.dir);
        // the stamp names what fixes the numbers: the version (bumped whenever results
        // change), the arguments and the built-in configs the step reads; the commit of each
        // run is in its manifest.json
        let stamp = format!(
            "{{\"version\": \"{}\", \"args\": {:?}{}}}\n",
            env!("CARGO_PKG_VERSION"),
            st.args,
            match configs_hash(&st.dir, a.quick) {
                // a step without built-in configs keeps the stamp it had before they counted
                0 => String::new(),
                h => format!(", \"configs\": \"{h:016x}\""),
            }
        );
        let stamp_path = dir.join("report-stamp.json");
        if !a.force && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
        {
            eprintln!(
                "report: {} is up to date (same version, arguments and configs): reused (--force reruns it)",
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

/// The relative link targets of a Markdown text (`[text](target)` and `![alt](target)`) that
/// do not exist under `dir`; web links are not checked.
pub fn broken_links(md: &str, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = md;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        rest = &rest[end..];
        if target.contains("://") || target.starts_with('#') || target.is_empty() {
            continue;
        }
        let path = target.split('#').next().unwrap_or(target);
        if !dir.join(path).exists() {
            out.push(target.to_string());
        }
    }
    out
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

/// One row per rule of the registry (the paper's and the later ones, with or without a bound):
/// under the magnitude sweep, whether its error stays bounded as one Byzantine value per
/// coordinate grows to 1e20 (dimensional resilience, Propositions 1-3), in each corruption
/// model; and its largest error under the worst-case adversaries at m = 20, q = b = 4. A
/// rule missing from a sweep gets `-`.
fn rules_section(s: &mut String, dir: &Path) {
    let all = rows(&dir.join("verify-bounds/results.csv"));
    if all.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Every rule: growing Byzantine values and the worst-case adversaries (verify-bounds, results.csv)\n");
    let unbound: Vec<&str> = crate::aggregators::REGISTRY
        .iter()
        .filter(|i| i.bound == crate::bounds::RuleBound::None)
        .map(|i| i.name)
        .collect();
    let _ = writeln!(s, "Magnitude sweep: one Byzantine value per coordinate (q = 1, m = 20, b = q), constant attack from 1 to 1e20; a rule is `unbounded` where the error grows with the magnitude (log-log slope > 1 and a million-fold growth), `bounded` otherwise, with the error / V at 1e20. Worst case: the largest error / V over the adaptive, sided and search adversaries and every corruption model at m = 20, q = b = 4 (Krum and Multi-Krum told q = 4), with the attack and corruption that reach it. Rules without a bound in the paper ({}) have no verdict elsewhere; this table is where they are measured.\n", unbound.join(", "));
    let corrs = ["generalized", "diagonal", "classic"];
    let _ = writeln!(
        s,
        "| rule | magnitude: generalized | diagonal | classic | worst case, q = 4 (b = 4): error / V | reached by |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for info in crate::aggregators::REGISTRY {
        let mut cells = Vec::new();
        for c in corrs {
            let sw: Vec<_> = all
                .iter()
                .filter(|r| {
                    g(r, "sweep") == "magnitude"
                        && g(r, "rule") == info.name
                        && g(r, "corruption") == c
                })
                .collect();
            let Some(top) = sw
                .iter()
                .max_by(|a, b| f(a, "magnitude").total_cmp(&f(b, "magnitude")))
            else {
                cells.push("-".to_string());
                continue;
            };
            // a slope that rounds to zero prints as 0.00, not -0.00
            let slope = f(top, "growth_slope");
            let slope = if slope.abs() < 0.005 { 0.0 } else { slope };
            let unbounded = sw.iter().any(|r| g(r, "verdict") == "unbounded");
            cells.push(format!(
                "{} (slope {:.2}; {} at {:.0e})",
                if unbounded {
                    "**unbounded**"
                } else {
                    "bounded"
                },
                slope,
                num4(f(top, "error_over_v")),
                f(top, "magnitude"),
            ));
        }
        let worst = all
            .iter()
            .filter(|r| {
                g(r, "sweep") == "worst-case"
                    && g(r, "rule") == info.name
                    && g(r, "m") == "20"
                    && g(r, "q") == "4"
                    && (!info.param.takes_param() || g(r, "b") == "4")
            })
            .max_by(|a, b| f(a, "error_over_v").total_cmp(&f(b, "error_over_v")));
        let (w, by) = worst.map_or(("-".to_string(), "-".to_string()), |r| {
            (
                num4(f(r, "error_over_v")),
                format!(
                    "{} / {} / {}",
                    g(r, "attack"),
                    g(r, "corruption"),
                    g(r, "distribution")
                ),
            )
        });
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            info.name, cells[0], cells[1], cells[2], w, by
        );
    }
}

/// The (f, kappa) section of verify-bounds (kappa.csv): per n, kappa-hat of every rule and
/// every rule after NNM at each f, with the published upper bound beside it where there is
/// one, the universal lower bound f/(n-2f) in the first row, and the findings (kappa-hat above
/// a published bound, with the input saved for `phocas aggregate`).
fn kappa_section(s: &mut String, dir: &Path) {
    let all = rows(&dir.join("verify-bounds/kappa.csv"));
    if all.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## (f, kappa)-robustness: kappa-hat against the published bounds (verify-bounds, kappa.csv)\n");
    let _ = writeln!(s, "kappa-hat is the largest ratio ||F(x) - mean_S||^2 / (1/|S| sum_S ||x_i - mean_S||^2) that the search of `src/montecarlo/kappa.rs` found (random restarts and local search in d = 2, coordinates within +-1e6), with b = q = f; it is a lower estimate of the rule's kappa. Beside it, after `/`, the upper bound of Allouah et al. 2023 (Krum, median, trimmed mean, geometric median, and these after NNM; constants as read from their Table 1). `unbounded`: the ratio reached 1e6. Bold: above the published bound, a finding.\n");
    let mut ns: Vec<String> = all.iter().map(|r| g(r, "n").to_string()).collect();
    ns.sort_by_key(|n| n.parse::<usize>().unwrap_or(0));
    ns.dedup();
    for n in &ns {
        let here: Vec<_> = all.iter().filter(|r| g(r, "n") == n.as_str()).collect();
        let mut fs: Vec<String> = here.iter().map(|r| g(r, "f").to_string()).collect();
        fs.sort_by_key(|f| f.parse::<usize>().unwrap_or(0));
        fs.dedup();
        let _ = writeln!(s, "n = {n}:\n");
        let _ = writeln!(
            s,
            "| rule | {} |",
            fs.iter()
                .map(|f| format!("f = {f}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(s, "|---|{}", "---|".repeat(fs.len()));
        let low: Vec<String> = fs
            .iter()
            .map(|f| {
                here.iter()
                    .find(|r| g(r, "f") == f.as_str())
                    .map_or("-".into(), |r| num4(self::f(r, "lower_bound")))
            })
            .collect();
        let _ = writeln!(s, "| lower bound f/(n-2f) | {} |", low.join(" | "));
        let mut keys: Vec<(String, String)> = Vec::new();
        for r in &here {
            let k = (g(r, "nnm").to_string(), g(r, "rule").to_string());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for (nnm, rule) in keys {
            let cells: Vec<String> = fs
                .iter()
                .map(|fv| {
                    let Some(r) = here.iter().find(|r| {
                        g(r, "f") == fv.as_str()
                            && g(r, "rule") == rule.as_str()
                            && g(r, "nnm") == nnm.as_str()
                    }) else {
                        return "-".into();
                    };
                    let k = self::f(r, "kappa_hat");
                    let up = self::f(r, "published_upper");
                    if g(r, "unbounded") == "true" {
                        "unbounded".into()
                    } else if g(r, "above_upper") == "true" {
                        format!("**{} / {}**", num4(k), num4(up))
                    } else if up.is_finite() {
                        format!("{} / {}", num4(k), num4(up))
                    } else {
                        num4(k)
                    }
                })
                .collect();
            let name = if nnm == "true" {
                format!("nnm + {rule}")
            } else {
                rule
            };
            let _ = writeln!(s, "| {name} | {} |", cells.join(" | "));
        }
        let _ = writeln!(s);
    }
    let above: Vec<_> = all
        .iter()
        .filter(|r| g(r, "above_upper") == "true")
        .collect();
    let below = all.iter().filter(|r| g(r, "below_lower") == "true").count();
    if above.is_empty() {
        let _ = writeln!(s, "No kappa-hat is above a published upper bound.");
    }
    for r in &above {
        let _ = writeln!(
            s,
            "- **{}** at n = {}, f = {}: kappa-hat {} > {} (published). Input: `verify-bounds/{}` (the first n - f rows honest); `phocas aggregate --input verify-bounds/{} --rule {}{} ...` recomputes it.",
            g(r, "label"),
            g(r, "n"),
            g(r, "f"),
            num4(self::f(r, "kappa_hat")),
            num4(self::f(r, "published_upper")),
            g(r, "witness"),
            g(r, "witness"),
            g(r, "rule"),
            if g(r, "nnm") == "true" { format!(" --nnm {}", g(r, "f")) } else { String::new() },
        );
    }
    let _ = writeln!(
        s,
        "\n{} of {} searches stayed below the universal lower bound f/(n-2f) by more than 0.1%: there the search, not the rule, is the limit.",
        below,
        all.len()
    );
}

/// Sort key of a chart file: its stem without a page suffix, then the page (`x.png` is page
/// 1, `x-2.png` page 2, ... `x-10.png` page 10), so pages follow their first one in order.
fn page_key(name: &str) -> (String, usize) {
    let stem = name.strip_suffix(".png").unwrap_or(name);
    match stem.rsplit_once('-') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (base.to_string(), n.parse().unwrap_or(usize::MAX))
        }
        _ => (stem.to_string(), 1),
    }
}

/// Renders REPORT.md from the tables under `dir`.
pub fn render(dir: &Path, quick: bool) -> Result<String, Error> {
    let mut s = String::new();
    let _ = writeln!(s, "# Phocas workbench report\n");
    let _ = writeln!(
        s,
        "Generated by `phocas report` (version {}). Every figure below comes from the tables in this folder; each results folder has a `manifest.json` with the config, seed, threads, machine, timings and the git commit of its run.\n",
        env!("CARGO_PKG_VERSION"),
    );
    super::claims::table(&mut s, dir, quick);
    worst_case_sections(&mut s, dir);
    rules_section(&mut s, dir);
    super::training::section(&mut s, dir);
    super::training::dirichlet_section(&mut s, dir);
    super::cnn::section(&mut s, dir);
    kappa_section(&mut s, dir);
    super::hetero::section(&mut s, dir);
    super::hetero::convergence_section(&mut s, dir);
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
        "mlp/rules",
        "mlp/dirichlet",
        "cnn/cnn-fig2",
        "cnn/cnn-fig3",
        "cnn/cnn-fig4",
        "cnn/cnn-theorem4",
    ] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            let mut v: Vec<String> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".png") && !n.starts_with('.'))
                .map(|n| format!("{sub}/{n}"))
                .collect();
            v.sort_by_key(|n| page_key(n));
            charts.extend(v);
        }
    }
    for c in charts {
        let _ = writeln!(s, "### {c}\n\n![{c}]({c})\n");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::{configs_hash, page_key};

    #[test]
    fn every_step_that_reads_built_in_configs_is_stamped_with_them() {
        let h: Vec<u64> = ["verify-bounds", "convergence", "mlp/fig2"]
            .iter()
            .map(|d| configs_hash(d, false))
            .collect();
        assert!(h.iter().all(|&x| x != 0), "{h:?}");
        assert!(h[0] != h[1] && h[1] != h[2] && h[0] != h[2]);
        assert_eq!(configs_hash("bench-scaling", false), 0);
        assert_ne!(
            configs_hash("mlp/fig2", false),
            configs_hash("mlp/dirichlet", false)
        );
        assert_ne!(configs_hash("verify-bounds", true), h[0]);
    }

    #[test]
    fn chart_pages_follow_their_first_page_in_order() {
        let mut v = vec![
            "step-theorem3-10.png",
            "step-theorem3.png",
            "step-theorem3-2.png",
            "b-vs-q.png",
            "b-vs-q-2.png",
            "b-vs-q-theorem3.png",
        ];
        v.sort_by_key(|n| page_key(n));
        assert_eq!(
            v,
            [
                "b-vs-q.png",
                "b-vs-q-2.png",
                "b-vs-q-theorem3.png",
                "step-theorem3.png",
                "step-theorem3-2.png",
                "step-theorem3-10.png"
            ]
        );
    }
}

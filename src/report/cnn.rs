//! REPORT.md's CNN section (reproduce cnn-fig2, reports/cnn/cnn-fig2/summary.csv): final
//! top-3 and top-1 accuracy of the Table 3 CNN per rule and attack, and the appendix's claim
//! that the CNN's results are similar to the MLP's, tested as "the same rules fail under the
//! same attacks" against the MLP's figure 2 (reports/mlp/fig2/summary.csv).

use super::tables::{f, g, rows, Row};
use std::fmt::Write;
use std::path::Path;

/// Top-1 accuracy below which a run counts as failed: twice chance on ten classes (the MLP's
/// tables use the same threshold).
pub const FAILED: f64 = 0.2;

/// How the CNN's figure-2 runs compare with the MLP's: the (panel, label) pairs both figures
/// have, and those whose verdict (failed or trained, top-1 below [`FAILED`]) differs.
pub struct Agreement {
    /// Pairs compared.
    pub compared: usize,
    /// Pairs with different verdicts: "panel / label: MLP x, CNN y".
    pub differ: Vec<String>,
}

fn failed(r: &Row) -> bool {
    let a = f(r, "final_accuracy_mean");
    a.is_nan() || a < FAILED
}

/// Compares the CNN's cnn-fig2 with the MLP's fig2, if both summaries exist.
pub fn agreement(dir: &Path) -> Option<Agreement> {
    let cnn = rows(&dir.join("cnn/cnn-fig2/summary.csv"));
    let mlp = rows(&dir.join("mlp/fig2/summary.csv"));
    if cnn.is_empty() || mlp.is_empty() {
        return None;
    }
    let mut compared = 0;
    let mut differ = Vec::new();
    for c in &cnn {
        let Some(m) = mlp
            .iter()
            .find(|m| g(m, "panel") == g(c, "panel") && g(m, "label") == g(c, "label"))
        else {
            continue;
        };
        compared += 1;
        if failed(c) != failed(m) {
            differ.push(format!(
                "{} / {}: MLP {:.3}, CNN {:.3}",
                g(c, "panel"),
                g(c, "label"),
                f(m, "final_accuracy_mean"),
                f(c, "final_accuracy_mean")
            ));
        }
    }
    Some(Agreement { compared, differ })
}

/// Appends the section, if the CNN's figure exists.
pub fn section(s: &mut String, dir: &Path) {
    let all = rows(&dir.join("cnn/cnn-fig2/summary.csv"));
    if all.is_empty() {
        return;
    }
    let rounds = rows(&dir.join("cnn/cnn-fig2/rounds.csv"))
        .iter()
        .map(|r| f(r, "round"))
        .fold(0.0f64, f64::max);
    let _ = writeln!(
        s,
        "\n## The CNN of Table 3 at a reduced scale (reproduce cnn-fig2, cnn/cnn-fig2/summary.csv)\n"
    );
    let _ = writeln!(
        s,
        "The CNN of the paper's Table 3 (1,938,922 parameters at 1 x 28 x 28) on Fashion-MNIST, the stand-in for CIFAR-10, which cannot be installed here; m = 20, batch 32, gamma = 0.1, {rounds} rounds, 1 repeat, test accuracy on the first 1000 test images (experiments/cnn/fig2.toml; the paper's CIFAR-10 run is 4000 rounds at batch 128 and gamma 5e-4, experiments/cnn/cifar/fig2.toml). Cells: final top-3 / top-1 test accuracy. **Bold**: top-1 below {FAILED} (failed). Columns are the panels of figure 2 (the appendix's figures 10-14).\n"
    );
    let (panels, labels) = super::tables::panels_and_labels(&all);
    let _ = writeln!(s, "| rule | {} |", panels.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(panels.len()));
    for l in &labels {
        let cells: Vec<String> = panels
            .iter()
            .map(|p| {
                match all
                    .iter()
                    .find(|r| g(r, "panel") == p && g(r, "label") == l)
                {
                    None => "-".into(),
                    Some(r) if failed(r) => format!(
                        "**{:.3} / {:.3}**",
                        f(r, "final_top3_mean"),
                        f(r, "final_accuracy_mean")
                    ),
                    Some(r) => format!(
                        "{:.3} / {:.3}",
                        f(r, "final_top3_mean"),
                        f(r, "final_accuracy_mean")
                    ),
                }
            })
            .collect();
        let _ = writeln!(s, "| {l} | {} |", cells.join(" | "));
    }
    if let Some(a) = agreement(dir) {
        let _ = writeln!(
            s,
            "\nAgainst the MLP's figure 2 (reports/mlp/fig2): of {} rule and attack pairs, {} fail (or train) under one network and not the other{}.",
            a.compared,
            a.differ.len(),
            if a.differ.is_empty() {
                String::new()
            } else {
                format!(": {}", a.differ.join("; "))
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, sub: &str, rows: &[(&str, &str, f64)]) {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        let mut t = String::from(
            "panel,label,final_accuracy_mean,final_accuracy_sd,best_accuracy_mean,best_accuracy_sd,final_top3_mean\n",
        );
        for (p, l, a) in rows {
            t.push_str(&format!("{p},{l},{a},0,{a},0,{}\n", a + 0.1));
        }
        std::fs::write(dir.join(sub).join("summary.csv"), t).unwrap();
    }

    #[test]
    fn agreement_finds_rules_that_fail_under_one_network_only() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "mlp/fig2",
            &[("a", "mean", 0.1), ("a", "krum", 0.8), ("b", "mean", 0.7)],
        );
        write(
            d.path(),
            "cnn/cnn-fig2",
            &[("a", "mean", 0.09), ("a", "krum", 0.15), ("c", "mean", 0.7)],
        );
        let a = agreement(d.path()).unwrap();
        assert_eq!(a.compared, 2);
        assert_eq!(a.differ, vec!["a / krum: MLP 0.800, CNN 0.150".to_string()]);
        let mut s = String::new();
        section(&mut s, d.path());
        assert!(s.contains("**0.250 / 0.150**"), "{s}");
        assert!(s.contains("of 2 rule and attack pairs, 1 fail"), "{s}");
    }
}

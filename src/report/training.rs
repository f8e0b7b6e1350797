//! REPORT.md's table of the `rules` figure: every rule's final top-1 accuracy in the
//! section-5 setting under each attack (reports/mlp/rules/summary.csv), one row per rule.

use super::tables::{f, g, rows};
use std::fmt::Write;
use std::path::Path;

/// Accuracy below which a run counts as failed: 0.2 is twice chance on ten classes.
const FAILED: f64 = 0.2;

/// Appends the section, if the figure's summary exists.
pub fn section(s: &mut String, dir: &Path) {
    let all = rows(&dir.join("mlp/rules/summary.csv"));
    if all.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Every rule in training (reproduce rules, mlp/rules/summary.csv)\n"
    );
    let _ = writeln!(
        s,
        "The Table 2 MLP on Fashion-MNIST, m = 20, batch 32, gamma = 0.1, {} rounds; final top-1 test accuracy, mean over the repeats (experiments/mlp/rules.toml). **Bold**: below {FAILED} (training failed; chance is 0.1). Columns are the panels: the paper's four attacks, then a little is enough, inner-product manipulation and the one-sided adaptive attack, 4 Byzantine workers or values per coordinate (bit-flip: 1; gambler: the shard pattern).\n",
        rounds(dir, "mlp/rules"),
    );
    table(s, &all, false);
}

/// Appends the heterogeneous-data section (reproduce dirichlet), if its summary exists.
pub fn dirichlet_section(s: &mut String, dir: &Path) {
    let all = rows(&dir.join("mlp/dirichlet/summary.csv"));
    if all.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Heterogeneous workers in training: Dirichlet splits (reproduce dirichlet, mlp/dirichlet/summary.csv)\n"
    );
    let _ = writeln!(
        s,
        "The Table 2 MLP on Fashion-MNIST split over m = 20 workers by Dirichlet(alpha) shares of each label (alpha = 0.1: a few classes a worker), batch 32, gamma = 0.1, {} rounds, q = 3 Byzantine workers (experiments/mlp/dirichlet.toml); final top-1 test accuracy, mean +- standard deviation over the repeats. Prefix `nnm+`: Nearest-Neighbour Mixing (f = 3) first; `bucket2+`: bucketing in buckets of 2 first. **Bold**: below {FAILED}. Columns are the panels (split, attack).\n",
        rounds(dir, "mlp/dirichlet"),
    );
    table(s, &all, true);
}

/// The largest round of a figure's rounds.csv.
fn rounds(dir: &Path, sub: &str) -> f64 {
    rows(&dir.join(format!("{sub}/rounds.csv")))
        .iter()
        .map(|r| f(r, "round"))
        .fold(0.0f64, f64::max)
}

/// One row per run label, one column per panel: the final accuracy (with its standard
/// deviation over the repeats when `sd`), and which labels never failed.
fn table(s: &mut String, all: &[super::tables::Row], sd: bool) {
    let (panels, labels) = super::tables::panels_and_labels(all);
    let _ = writeln!(s, "| rule | {} |", panels.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(panels.len()));
    let mut failures: Vec<(String, usize)> = Vec::new();
    for l in &labels {
        let mut cells = Vec::new();
        let mut failed = 0;
        for p in &panels {
            let row = all
                .iter()
                .find(|r| g(r, "panel") == p && g(r, "label") == l);
            cells.push(match row.map(|r| (f(r, "final_accuracy_mean"), r)) {
                None => "-".to_string(),
                Some((a, _)) if a.is_nan() || a < FAILED => {
                    failed += 1;
                    format!("**{a:.3}**")
                }
                Some((a, r)) if sd => format!("{a:.3} +- {:.3}", f(r, "final_accuracy_sd")),
                Some((a, _)) => format!("{a:.3}"),
            });
        }
        failures.push((l.clone(), failed));
        let _ = writeln!(s, "| {l} | {} |", cells.join(" | "));
    }
    let never: Vec<&str> = failures
        .iter()
        .filter(|(l, n)| *n == 0 && l.as_str() != "mean without Byzantine")
        .map(|(l, _)| l.as_str())
        .collect();
    let _ = writeln!(
        s,
        "\nRules that trained under every attack of the figure: {}.",
        if never.is_empty() {
            "none".to_string()
        } else {
            never.join(", ")
        }
    );
}

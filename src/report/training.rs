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

/// Appends the heterogeneous-data section (reproduce dirichlet), if its summary exists: one
/// table per attack, one row per run label, one column per data split (panels are named
/// `split-attack`), so each row reads as final accuracy against alpha.
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
        "The Table 2 MLP on Fashion-MNIST split over m = 20 workers by Dirichlet(alpha) shares of each label (alpha = 0.1: a few classes a worker; iid: every worker samples the whole set), batch 32, gamma = 0.1, {} rounds, 3 Byzantine workers (bit-flip: 3 values in each of the first 1000 coordinates; gambler: the shard pattern) and b = q = f = 3 for every rule (experiments/mlp/dirichlet.toml). Cells: final top-1 test accuracy, mean +- standard deviation over the repeats. Prefix `nnm+`: Nearest-Neighbour Mixing (f = 3) first; `bucket2+`: bucketing in buckets of 2 first (Bulyan, which needs 4q + 3 = 15 inputs, is not run after it). **Bold**: below {FAILED}. One table per attack; columns are the splits, from i.i.d. to the most skewed.\n",
        rounds(dir, "mlp/dirichlet"),
    );
    let (panels, labels) = super::tables::panels_and_labels(&all);
    let split_attack = |p: &str| -> (String, String) {
        match p.split_once('-') {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (p.to_string(), String::new()),
        }
    };
    let mut splits: Vec<String> = Vec::new();
    let mut attacks: Vec<String> = Vec::new();
    for p in &panels {
        let (sp, at) = split_attack(p);
        if !splits.contains(&sp) {
            splits.push(sp);
        }
        if !attacks.contains(&at) {
            attacks.push(at);
        }
    }
    let mut failed_somewhere: Vec<&str> = Vec::new();
    for at in &attacks {
        let _ = writeln!(s, "\n### {at}\n");
        let _ = writeln!(s, "| rule | {} |", splits.join(" | "));
        let _ = writeln!(s, "|---|{}", "---|".repeat(splits.len()));
        for l in &labels {
            let cells: Vec<String> = splits
                .iter()
                .map(|sp| {
                    let panel = if at.is_empty() {
                        sp.clone()
                    } else {
                        format!("{sp}-{at}")
                    };
                    let row = all
                        .iter()
                        .find(|r| g(r, "panel") == panel && g(r, "label") == l);
                    match row.map(|r| (f(r, "final_accuracy_mean"), f(r, "final_accuracy_sd"))) {
                        None => "-".to_string(),
                        Some((a, _)) if a.is_nan() || a < FAILED => {
                            if !failed_somewhere.contains(&l.as_str()) {
                                failed_somewhere.push(l);
                            }
                            format!("**{a:.3}**")
                        }
                        Some((a, sd)) => format!("{a:.3} +- {sd:.3}"),
                    }
                })
                .collect();
            if cells.iter().all(|c| c == "-") {
                continue;
            }
            let _ = writeln!(s, "| {l} | {} |", cells.join(" | "));
        }
    }
    // trained everywhere: in every panel, and never below the line
    let everywhere = |l: &str| {
        panels
            .iter()
            .all(|p| all.iter().any(|r| g(r, "panel") == p && g(r, "label") == l))
    };
    let never: Vec<&str> = labels
        .iter()
        .map(String::as_str)
        .filter(|l| {
            !failed_somewhere.contains(l) && *l != "mean without Byzantine" && everywhere(l)
        })
        .collect();
    trained_everywhere(s, "Runs that trained under every attack and split", &never);
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
    trained_everywhere(s, "Rules that trained under every attack", &never);
}

/// The closing line of a figure's table: `what` of the figure, then the labels (or none).
fn trained_everywhere(s: &mut String, what: &str, labels: &[&str]) {
    let list = if labels.is_empty() {
        "none".to_string()
    } else {
        labels.join(", ")
    };
    let _ = writeln!(s, "\n{what} of the figure: {list}.");
}

#[cfg(test)]
mod tests {
    use super::dirichlet_section;

    #[test]
    fn dirichlet_tables_are_one_per_attack_with_splits_as_columns() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("mlp/dirichlet");
        std::fs::create_dir_all(&sub).unwrap();
        let mut csv = String::from(
            "panel,label,final_accuracy_mean,final_accuracy_sd,best_accuracy_mean,best_accuracy_sd\n",
        );
        for (panel, label, acc) in [
            ("iid-gaussian", "median", 0.81),
            ("a0.1-gaussian", "median", 0.65),
            ("iid-gaussian", "mean", 0.0),
            ("a0.1-gaussian", "mean", 0.1),
            ("iid-mimic", "median", 0.8),
            ("a0.1-mimic", "median", 0.56),
            ("iid-mimic", "mean", 0.82),
            ("a0.1-mimic", "mean", 0.79),
        ] {
            csv.push_str(&format!("{panel},{label},{acc},0.01,{acc},0.01\n"));
        }
        std::fs::write(sub.join("summary.csv"), csv).unwrap();
        std::fs::write(
            sub.join("rounds.csv"),
            "panel,label,round,test_accuracy\niid-gaussian,mean,300,0.1\n",
        )
        .unwrap();
        let mut s = String::new();
        dirichlet_section(&mut s, dir.path());
        assert!(s.contains("300 rounds"), "{s}");
        assert!(s.contains("### gaussian\n\n| rule | iid | a0.1 |"), "{s}");
        assert!(s.contains("### mimic\n"), "{s}");
        assert!(
            s.contains("| median | 0.810 +- 0.010 | 0.650 +- 0.010 |"),
            "{s}"
        );
        assert!(s.contains("| mean | **0.000** | **0.100** |"), "{s}");
        // mean failed under one attack, so only median trained everywhere
        assert!(
            s.contains("every attack and split of the figure: median."),
            "{s}"
        );
    }
}

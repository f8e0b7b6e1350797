//! End-to-end tests of `phocas verify-bounds` on a small grid, through the real binary.

mod common;

use std::path::Path;
use std::process::Command;

const GRID: &str = r#"
seed = 7

[[sweep]]
name = "bounded"
rules = ["trmean", "phocas"]
distributions = ["gaussian"]
corruptions = ["generalized", "classic"]
attacks = ["gaussian", "constant"]
m = [10]
q = [1, 2]
b = ["below", "equal", "above"]
d = [8]
trials = 400

[[sweep]]
name = "magnitude"
rules = ["mean", "trmean", "krum"]
distributions = ["gaussian"]
corruptions = ["generalized", "diagonal"]
attacks = ["constant"]
m = [10]
q = [1]
b = ["equal"]
d = [10]
magnitudes = [1.0, 1e6, 1e12]
trials = 100
chart = "magnitude"
"#;

fn run(dir: &Path, config: &Path, threads: &str, out: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args([
            "--threads",
            threads,
            "verify-bounds",
            "--quiet",
            "--no-charts",
            "--config",
        ])
        .arg(config)
        .arg("--out")
        .arg(dir.join(out))
        .output()
        .unwrap()
}

fn rows(csv: &str) -> Vec<std::collections::HashMap<String, String>> {
    common::read_rows(csv)
}

#[test]
fn verdicts_and_thread_independence() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("grid.toml");
    std::fs::write(&cfg, GRID).unwrap();
    let a = run(dir.path(), &cfg, "1", "one");
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = run(dir.path(), &cfg, "2", "two");
    assert!(b.status.success());
    let csv1 = std::fs::read(dir.path().join("one/results.csv")).unwrap();
    let csv2 = std::fs::read(dir.path().join("two/results.csv")).unwrap();
    assert_eq!(csv1, csv2, "1 and 2 threads must give identical CSV bytes");
    assert!(dir.path().join("one/results.parquet").exists());
    assert!(dir.path().join("one/manifest.json").exists());

    let rs = rows(&String::from_utf8(csv1).unwrap());
    let get = |r: &std::collections::HashMap<String, String>, k: &str| r[k].clone();
    // the console's verdict totals are the CSV's (n/a included)
    let mut totals = std::collections::BTreeMap::new();
    for r in &rs {
        *totals.entry(get(r, "verdict")).or_insert(0usize) += 1;
    }
    let expected = format!(
        "verdicts of all {} cells (results.csv): {}",
        rs.len(),
        totals
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let console = String::from_utf8_lossy(&a.stdout);
    assert!(console.contains(&expected), "{expected}\nnot in\n{console}");
    assert!(
        totals.contains_key("n/a"),
        "the grid has cells without a bound"
    );
    // Trmean with b >= q under the paper's Gaussian attack holds (Theorem 1).
    let trmean_ok: Vec<_> = rs
        .iter()
        .filter(|r| {
            get(r, "rule") == "trmean"
                && get(r, "attack") == "gaussian"
                && get(r, "hidden_condition_holds") == "true"
        })
        .collect();
    assert!(!trmean_ok.is_empty());
    for r in &trmean_ok {
        assert_eq!(get(r, "verdict"), "holds", "{}", get(r, "cell_key"));
    }
    // With b < q, a huge constant survives trimming: the statement as written is violated.
    let broken: Vec<_> = rs
        .iter()
        .filter(|r| {
            get(r, "sweep") == "bounded"
                && get(r, "attack") == "constant"
                && get(r, "hidden_condition_holds") == "false"
        })
        .collect();
    assert!(!broken.is_empty());
    for r in &broken {
        assert_eq!(get(r, "verdict"), "violated", "{}", get(r, "cell_key"));
    }
    // Mean under generalized corruption is flagged unbounded at large magnitudes (Prop. 1),
    // and so is Krum under Proposition 2's diagonal pattern (Prop. 3); Trmean with b = q is not.
    for (rule, corr) in [("mean", "generalized"), ("krum", "diagonal")] {
        let big = rs
            .iter()
            .find(|r| {
                get(r, "sweep") == "magnitude"
                    && get(r, "rule") == rule
                    && get(r, "corruption") == corr
                    && get(r, "magnitude").parse::<f64>().unwrap() == 1e12
            })
            .unwrap();
        assert_eq!(get(big, "verdict"), "unbounded", "{rule}");
    }
    let tr = rs
        .iter()
        .find(|r| {
            get(r, "sweep") == "magnitude"
                && get(r, "rule") == "trmean"
                && get(r, "magnitude").parse::<f64>().unwrap() == 1e12
        })
        .unwrap();
    assert_eq!(get(tr, "verdict"), "holds");
}

#[test]
fn invalid_config_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, GRID.replacen("m = [10]", "m = [0]", 1)).unwrap();
    let o = run(dir.path(), &cfg, "1", "x");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(".m") && err.contains("m = 0"), "{err}");
    assert!(!err.contains("panicked"));

    std::fs::write(&cfg, GRID.replacen("trials = 400", "trails = 400", 1)).unwrap();
    let o = run(dir.path(), &cfg, "1", "x");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("trails"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let o = run(dir.path(), &dir.path().join("missing.toml"), "1", "x");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not found"));
}

const WORST: &str = r#"
seed = 11

[[sweep]]
name = "worst"
rules = ["mean", "median", "trmean", "phocas"]
distributions = ["gaussian", "student-t3"]
corruptions = ["generalized", "chosen"]
attacks = ["none", "adaptive", "sided", "search"]
m = [11]
q = [0, 2, 3]
b = ["below", "equal"]
d = [6]
trials = 300
"#;

fn num(r: &std::collections::HashMap<String, String>, k: &str) -> f64 {
    r[k].parse().unwrap()
}

#[test]
fn worst_case_adversaries_pairing_and_tightness() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("worst.toml");
    std::fs::write(&cfg, WORST).unwrap();
    let a = run(dir.path(), &cfg, "2", "w");
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let stdout = String::from_utf8_lossy(&a.stdout);
    assert!(stdout.contains("tightness"), "{stdout}");
    let out = dir.path().join("w");
    let rs = rows(&std::fs::read_to_string(out.join("results.csv")).unwrap());
    let find = |rule: &str, corr: &str, attack: &str, q: &str, spec: &str, dist: &str| {
        rs.iter()
            .find(|r| {
                r["rule"] == rule
                    && r["corruption"] == corr
                    && r["attack"] == attack
                    && r["q"] == q
                    && (r["b_spec"] == spec || r["b_spec"] == "-")
                    && r["distribution"] == dist
            })
            .unwrap_or_else(|| panic!("{rule} {corr} {attack} {q} {spec}"))
    };
    for dist in ["gaussian", "student-t3"] {
        for corr in ["generalized", "chosen"] {
            for q in ["2", "3"] {
                // search on Trmean equals the closed-form worst case, trial by trial
                let s = find("trmean", corr, "search", q, "equal", dist);
                let (e, x) = (num(s, "mean_error"), num(s, "exact_worst_mean"));
                assert!((e - x).abs() <= 1e-9 * x, "{corr} q={q}: {e} vs exact {x}");
                // the one-sided adaptive attack never exceeds it (same honest data)
                let ad = find("trmean", corr, "adaptive", q, "equal", dist);
                assert_eq!(num(ad, "exact_worst_mean"), x, "common random numbers");
                assert!(num(ad, "mean_error") <= x * (1.0 + 1e-12));
                // and for Phocas the search is at least the side search
                let ps = num(
                    find("phocas", corr, "search", q, "equal", dist),
                    "mean_error",
                );
                let pd = num(
                    find("phocas", corr, "sided", q, "equal", dist),
                    "mean_error",
                );
                assert!(ps >= pd * (1.0 - 1e-12), "{corr} q={q}: {ps} < {pd}");
                // b < q: the searching adversary breaks the printed bound
                let below = find("trmean", corr, "search", q, "below", dist);
                assert_eq!(below["verdict"], "violated");
            }
        }
    }
    // data-dependent positions: flagged, and the condition column says so
    let ch = find("trmean", "chosen", "search", "2", "equal", "gaussian");
    assert_eq!(ch["positions_independent"], "false");
    assert_eq!(ch["conditions_hold"], "false");
    let ge = find("trmean", "generalized", "search", "2", "equal", "gaussian");
    assert_eq!(ge["conditions_hold"], "true");
    // q = 2 values in each of d = 6 coordinates: at least 2 and at most 11 rows carry one
    let (rmean, rmax) = (
        num(ge, "rows_corrupted_mean"),
        num(ge, "rows_corrupted_max"),
    );
    assert!(
        (2.0..=11.0).contains(&rmean) && rmean > 2.0 && rmax <= 11.0,
        "{rmean} {rmax}"
    );
    // paired: with no attack and q = 0, Phocas_0 and Trmean_0 are the same rule on the same data
    let ps = rows(&std::fs::read_to_string(out.join("paired.csv")).unwrap());
    let same = ps
        .iter()
        .find(|r| {
            r["attack"] == "none"
                && r["q"] == "0"
                && r["rule_a"] == "phocas(b=0)"
                && r["rule_b"] == "trmean(b=0)"
                && r["corruption"] == "generalized"
                && r["distribution"] == "gaussian"
        })
        .expect("paired row");
    assert_eq!(num(same, "mean_diff_over_v"), 0.0);
    assert_eq!(same["verdict"], "no difference shown");
    // and Trmean_0 (the mean) beats the median on Gaussian data, paired
    let tm = ps
        .iter()
        .find(|r| {
            r["attack"] == "none"
                && r["q"] == "0"
                && r["rule_a"] == "trmean(b=0)"
                && r["rule_b"] == "median"
                && r["corruption"] == "generalized"
                && r["distribution"] == "gaussian"
        })
        .unwrap();
    assert_eq!(tm["verdict"], "trmean lower");
    // tightness: q >= 1 rows exist and name the attack that reached them
    let ts = rows(&std::fs::read_to_string(out.join("tightness.csv")).unwrap());
    let t1 = ts
        .iter()
        .find(|r| r["bound"] == "Delta1" && r["q_class"] == "q >= 1" && r["conditions"] == "hold")
        .unwrap();
    assert!(
        ["sided", "search"].contains(&t1["attack"].as_str()),
        "{:?}",
        t1
    );
    // heavy tails: some Student-t3 cell is decided with the bootstrap hull
    assert!(rs
        .iter()
        .any(|r| r["distribution"] == "student-t3" && r["interval"].contains("bootstrap")));
}

#[test]
fn resumed_runs_give_the_same_paired_table() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("worst.toml");
    std::fs::write(&cfg, WORST.replace("trials = 300", "trials = 64")).unwrap();
    let a = run(dir.path(), &cfg, "2", "a");
    assert!(a.status.success());
    // a second run in the same folder restores every cell from the checkpoint and simulates
    // the paired cells again for their per-trial errors: the same bytes
    let before = std::fs::read(dir.path().join("a/paired.csv")).unwrap();
    let b = run(dir.path(), &cfg, "1", "a");
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert!(String::from_utf8_lossy(&b.stderr).contains("simulating"));
    assert_eq!(
        before,
        std::fs::read(dir.path().join("a/paired.csv")).unwrap()
    );
}

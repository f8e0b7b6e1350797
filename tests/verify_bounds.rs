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

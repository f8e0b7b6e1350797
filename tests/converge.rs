//! End-to-end tests of `phocas converge` through the real binary.

mod common;

use std::process::Command;

const CFG: &str = r#"
seed = 11
repeats = 12
rounds = 150
m = 10
d = 6
v = 0.5

[[sweep]]
name = "t"
objective = "quadratic"
kappa = [4.0]
rules = ["mean", "trmean"]
attacks = ["none", "omniscient"]
q = [2]
b = ["equal"]
gamma = [1.0]
"#;

fn run(dir: &std::path::Path, threads: &str, out: &str) -> std::process::Output {
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, CFG).unwrap();
    Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args([
            "--threads",
            threads,
            "converge",
            "--quiet",
            "--no-charts",
            "--config",
        ])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join(out))
        .output()
        .unwrap()
}

#[test]
fn verdicts_divergence_and_thread_independence() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "1", "one");
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = run(dir.path(), "2", "two");
    assert!(b.status.success());
    for f in ["runs.csv", "rounds.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join("one").join(f)).unwrap(),
            std::fs::read(dir.path().join("two").join(f)).unwrap(),
            "{f} differs between 1 and 2 threads"
        );
    }
    let csv = std::fs::read_to_string(dir.path().join("one/runs.csv")).unwrap();
    let rows = common::read_rows(&csv);
    let find = |rule: &str, attack: &str| {
        rows.iter()
            .find(|r| r["rule"] == rule && r["attack"] == attack)
            .unwrap()
    };
    // Trmean with q <= b converges under the omniscient attack and Theorem 3 is not violated.
    let tr = find("trmean", "omniscient");
    assert_ne!(tr["theorem3_bound_delta"], "violated");
    assert!(tr["final_distance"].parse::<f64>().unwrap() < 1.0);
    assert_eq!(tr["diverged_repeats"], "0");
    // Mean under the omniscient attack diverges, and the table says so.
    let mean = find("mean", "omniscient");
    assert_eq!(mean["diverged_repeats"], "12");
    let d: f64 = mean["final_distance"].parse().unwrap();
    assert!(d.is_infinite() || d > 1e10, "{d}");
    // Mean without attack contracts to the noise floor, within Theorem 3 (Delta = V/m exactly).
    let m0 = find("mean", "none");
    assert_eq!(m0["theorem3_bound_delta"], "holds");
}

/// Plain Mean without attack at gamma = 0.05 x 2/(mu+L) on a quadratic with L = 4, mu = 1:
/// gamma = 0.02 < 1, so Theorem 3's printed constant (mu+L)/(mu L) gamma sqrt(Delta) = 0.0056
/// lies below the noise floor SGD settles at (about 0.016), while the corrected constant
/// (mu+L)/(mu L) sqrt(Delta) = 0.28 lies above it.
const SMALL_STEP: &str = r#"
seed = 5
repeats = 12
rounds = 700
m = 10
d = 6
v = 0.5

[[sweep]]
name = "small"
objective = "quadratic"
kappa = [4.0]
l = [4.0]
rules = ["mean"]
attacks = ["none"]
q = [0]
b = ["equal"]
gamma = [0.05]
"#;

#[test]
fn small_step_printed_theorem3_violated_corrected_holds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, SMALL_STEP).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args(["converge", "--quiet", "--no-charts", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let csv = std::fs::read_to_string(dir.path().join("out/runs.csv")).unwrap();
    let rows = common::read_rows(&csv);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    let num = |k: &str| r[k].parse::<f64>().unwrap_or_else(|e| panic!("{k}: {e}"));
    let (mu, l, gamma, delta) = (num("mu"), num("L"), num("gamma"), num("delta_bound"));
    assert_eq!((mu, l), (1.0, 4.0));
    assert!((gamma - 0.02).abs() < 1e-12, "{gamma}");
    assert!((delta - 0.05).abs() < 1e-12, "Delta = V/m = {delta}");
    // the printed statement fails, the corrected one holds, with either Delta
    assert_eq!(r["theorem3_bound_delta"], "violated", "{stdout}");
    assert_eq!(r["theorem3_measured_delta"], "violated", "{stdout}");
    assert_eq!(r["theorem3_corrected_bound_delta"], "holds", "{stdout}");
    assert_eq!(r["theorem3_corrected_measured_delta"], "holds", "{stdout}");
    assert!(num("theorem3_final_lhs_rhs_bound_delta") > 1.0);
    let ratio = num("theorem3_corrected_final_lhs_rhs_bound_delta");
    assert!(ratio > 0.0 && ratio < 1.0, "{ratio}");
    // the final distance sits between the printed and the corrected constant terms
    let c = mu * l / (mu + l);
    let fin = num("final_distance");
    assert!(
        fin > gamma * delta.sqrt() / c && fin < delta.sqrt() / c,
        "{fin}"
    );
    assert!(
        stdout.contains(
            "Theorem 3 within its premise, bound Delta: printed 1 runs: 0 holds, 1 violated"
        ),
        "{stdout}"
    );
    // the curves in rounds.csv: rho^t ||x0 - x*|| + sqrt(Delta)/c (corrected) and the printed
    // form with gamma sqrt(Delta)/c, recomputed here from the table's constants
    let rounds = std::fs::read_to_string(dir.path().join("out/rounds.csv")).unwrap();
    let rounds = common::read_rows(&rounds);
    let dist0: f64 = rounds[0]["distance_mean"].parse().unwrap();
    assert!((dist0 - 1.0).abs() < 0.5, "{dist0}");
    let rho: f64 = 1.0 - gamma * c;
    for t in [0usize, 1, 350, 700] {
        let row = rounds.iter().find(|x| x["t"] == t.to_string()).unwrap();
        let get = |k: &str| row[k].parse::<f64>().unwrap();
        let corrected = rho.powi(t as i32) * dist0 + delta.sqrt() * (mu + l) / (mu * l);
        let printed = rho.powi(t as i32) * dist0 + delta.sqrt() * (mu + l) / (mu * l) * gamma;
        let (gc, gp) = (
            get("theorem3_corrected_rhs_bound"),
            get("theorem3_rhs_bound"),
        );
        assert!(
            (gc - corrected).abs() < 1e-6 * corrected,
            "t = {t}: {gc} vs {corrected}"
        );
        assert!(
            (gp - printed).abs() < 1e-6 * printed,
            "t = {t}: {gp} vs {printed}"
        );
    }
}

#[test]
fn bad_config_is_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, CFG.replace("repeats = 12", "repeats = 1")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args(["converge", "--quiet", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("repeats"), "{e}");
}

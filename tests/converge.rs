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

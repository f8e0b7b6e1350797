//! `converge --shard I/N` and `phocas merge` through the real binary: the shards of a small
//! config, merged, give the same tables byte for byte as one unsharded run; a missing shard,
//! a repeated one, shards of another run and `--out` equal to a shard are refused with one
//! line.

mod common;

use common::{ok, phocas, refused};
use std::path::Path;
use std::process::Output;

const CONFIG: &str = r#"
seed = 7
repeats = 3
rounds = 40
m = 8
d = 3
v = 1.0

[[sweep]]
name = "attacks"
objective = "quadratic"
kappa = [10.0]
rules = ["mean", "trmean", "phocas"]
attacks = ["none", "omniscient"]
q = [2]
b = ["equal"]
gamma = [1.0]
"#;

fn converge(cfg: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "converge",
        "--quiet",
        "--no-charts",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    phocas(&a)
}

#[test]
fn merged_converge_shards_equal_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("c.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    ok(&converge(&cfg, &d.join("one"), &[]));
    let shard = |i: usize| d.join(format!("s{i}"));
    for i in 0..3 {
        ok(&converge(&cfg, &shard(i), &["--shard", &format!("{i}/3")]));
        // a shard runs its share and writes no tables
        assert!(shard(i).join("checkpoint.tsv").exists());
        assert!(!shard(i).join("runs.csv").exists());
    }
    // the shards split the 6 runs, none twice
    let lines: usize = (0..3)
        .map(|i| {
            std::fs::read_to_string(shard(i).join("checkpoint.tsv"))
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(lines, 6);
    let s = |i: usize| shard(i).display().to_string();
    let merged = d.join("merged");
    let m = merged.display().to_string();
    ok(&phocas(&[
        "merge",
        &s(2),
        &s(0),
        &s(1),
        "--no-charts",
        "--out",
        &m,
    ]));
    for f in ["runs.csv", "rounds.csv"] {
        let a = std::fs::read(d.join("one").join(f)).unwrap();
        let b = std::fs::read(merged.join(f)).unwrap();
        assert!(a == b, "{f} differs between the merged shards and one run");
    }
    // refusals: a missing shard, a repeated one, --out on a shard, another run's shard
    let other = d.join("other");
    refused(
        &phocas(&["merge", &s(0), &s(1), "--out", &other.display().to_string()]),
        &["shard 2/3 is missing"],
    );
    refused(
        &phocas(&[
            "merge",
            &s(0),
            &s(0),
            &s(1),
            "--out",
            &other.display().to_string(),
        ]),
        &["given twice"],
    );
    refused(
        &phocas(&["merge", &s(0), &s(1), &s(2), "--out", &s(1)]),
        &["is one of the shard folders"],
    );
    let cfg2 = d.join("c2.toml");
    std::fs::write(&cfg2, CONFIG.replace("seed = 7", "seed = 8")).unwrap();
    ok(&converge(&cfg2, &d.join("t0"), &["--shard", "0/3"]));
    let t0 = d.join("t0").display().to_string();
    refused(
        &phocas(&[
            "merge",
            &t0,
            &s(1),
            &s(2),
            "--out",
            &other.display().to_string(),
        ]),
        &["come from different runs"],
    );
}

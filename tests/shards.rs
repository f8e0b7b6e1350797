//! `reproduce --shard I/N` and `phocas merge` through the real binary: the shards of a small
//! figure, merged, give the same tables byte for byte as one unsharded run; a missing shard,
//! a shard of another run and a folder that is no shard are refused with one line.

mod common;

use common::{ok, phocas, refused, REAL};
use std::path::Path;
use std::process::Output;

/// A small figure: 2 panels, 3 rules, 2 repeats, 4 rounds, on 6 workers (tests/slurm/run.sh
/// runs it as a Slurm job array).
const CONFIG: &str = include_str!("slurm/small-figure.toml");

fn reproduce(cfg: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "reproduce",
        "fig2",
        "--quiet",
        "--config",
        cfg.to_str().unwrap(),
        "--data-dir",
        REAL,
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    phocas(&a)
}

#[test]
fn merged_shards_equal_one_run() {
    if !common::real_data() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("small.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    ok(&reproduce(&cfg, &d.join("one"), &[]));
    let shard = |i: usize, n: usize| d.join(format!("s{n}-{i}"));
    for i in 0..3 {
        let o = reproduce(&cfg, &shard(i, 3), &["--shard", &format!("{i}/3")]);
        ok(&o);
        // a shard trains its share and writes no tables
        assert!(shard(i, 3).join("fig2/checkpoint.tsv").exists());
        assert!(!shard(i, 3).join("fig2/summary.csv").exists());
    }
    // the shards split the runs: 2 panels x 3 rules x 2 repeats, no run twice
    let lines: usize = (0..3)
        .map(|i| {
            std::fs::read_to_string(shard(i, 3).join("fig2/checkpoint.tsv"))
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(lines, 12);
    let s = |i: usize| shard(i, 3).display().to_string();
    // a missing shard is refused before anything is written
    let merged = d.join("merged");
    let o = phocas(&["merge", &s(0), &s(2), "--out", merged.to_str().unwrap()]);
    refused(&o, &["shard 1/3 is missing"]);
    assert!(!merged.exists());
    // a shard of another split (2 shards) is not one of these
    ok(&reproduce(&cfg, &shard(0, 2), &["--shard", "0/2"]));
    let o = phocas(&[
        "merge",
        &s(0),
        &s(1),
        &shard(0, 2).display().to_string(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    refused(&o, &["different runs"]);
    // all three: the same tables as the unsharded run, byte for byte
    ok(&phocas(&[
        "merge",
        &s(0),
        &s(1),
        &s(2),
        "--out",
        merged.to_str().unwrap(),
    ]));
    for f in ["summary.csv", "rounds.csv", "summary.parquet"] {
        assert_eq!(
            std::fs::read(d.join("one/fig2").join(f)).unwrap(),
            std::fs::read(merged.join("fig2").join(f)).unwrap(),
            "{f} differs"
        );
    }
    // shards run with --repeats merge into the tables of one run with it
    for i in 0..2 {
        ok(&reproduce(
            &cfg,
            &d.join(format!("k{i}")),
            &["--shard", &format!("{i}/2"), "--repeats", "1"],
        ));
    }
    ok(&reproduce(&cfg, &d.join("one1"), &["--repeats", "1"]));
    let k = |i: usize| d.join(format!("k{i}")).display().to_string();
    let merged1 = d.join("merged1");
    ok(&phocas(&[
        "merge",
        &k(0),
        &k(1),
        "--out",
        merged1.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(d.join("one1/fig2/summary.csv")).unwrap(),
        std::fs::read(merged1.join("fig2/summary.csv")).unwrap()
    );
    // ... but not with the shards of another --repeats
    let o = phocas(&["merge", &k(0), &s(1), &s(2)]);
    refused(&o, &["different"]);
    // more repeats in a finished folder reuse the runs it holds
    let o = reproduce(&cfg, &d.join("one"), &["--repeats", "3"]);
    ok(&o);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("18 training runs") && e.contains("(12 already finished"),
        "{e}"
    );
    // a folder that holds no shard is named
    let o = phocas(&["merge", &s(0), d.to_str().unwrap()]);
    refused(&o, &["no output of `phocas reproduce --shard"]);
    // the merge never writes into one of its shards
    let o = phocas(&["merge", &s(0), &s(1), &s(2), "--out", &s(1)]);
    refused(&o, &["is one of the shard folders"]);
    // nor into a figure folder holding tables without a run.json (a committed reference run)
    let committed = d.join("committed");
    std::fs::create_dir_all(committed.join("fig2")).unwrap();
    std::fs::write(committed.join("fig2/summary.csv"), "panel,label\n").unwrap();
    let o = phocas(&[
        "merge",
        &s(0),
        &s(1),
        &s(2),
        "--out",
        committed.to_str().unwrap(),
    ]);
    refused(&o, &["holds results (summary.csv) without a run.json"]);
    let o = reproduce(&cfg, &committed, &[]);
    refused(&o, &["holds results (summary.csv) without a run.json"]);
    assert_eq!(
        std::fs::read(committed.join("fig2/summary.csv")).unwrap(),
        b"panel,label\n"
    );
    // a hostile run.json: a huge shard count, a figure name that is a path
    let runjson = shard(2, 3).join("fig2/run.json");
    let text = std::fs::read_to_string(&runjson).unwrap();
    std::fs::write(
        &runjson,
        text.replace("\"count\": 3", "\"count\": 18446744073709551615"),
    )
    .unwrap();
    let o = phocas(&["merge", &s(0), &s(1), &s(2)]);
    refused(&o, &["different runs"]);
    std::fs::write(
        &runjson,
        text.replace("reproduce fig2", "reproduce ../../x"),
    )
    .unwrap();
    let o = phocas(&["merge", &s(0), &s(1), &s(2)]);
    refused(&o, &["no output of `phocas reproduce --shard"]);
    std::fs::write(&runjson, "{ not json").unwrap();
    let o = phocas(&["merge", &s(0), &s(1), &s(2)]);
    refused(&o, &["unreadable"]);
}

/// A figure whose panels differ in their data split gets one chart file per split, each with
/// a panel per pre-aggregation step; pages of an earlier run with more splits are removed.
#[test]
fn split_figures_chart_one_file_per_split() {
    if !common::real_data() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("split.toml");
    let panel = |name: &str, alpha: &str| {
        format!(
            "[[panel]]\nname = \"{name}\"\ntitle = \"{name}\"\nattack = \"gaussian\"\ncorruption = \"classic\"\nq = 1\nb = 1\nrules = [\"mean-clean\", \"median\", \"trmean\"]\npre = [\"\", \"nnm\"]\nskip = [\"nnm+trmean\"]\n{alpha}"
        )
    };
    let text = format!(
        "[common]\nm = 6\nrounds = 2\nrepeats = 1\neval_every = 2\ntest_size = 100\nseed = 7\n\n{}\n{}",
        panel("iid", ""),
        panel("skew", "dirichlet = 0.5\n")
    );
    std::fs::write(&cfg, text).unwrap();
    let out = d.join("out");
    let fig = out.join("fig2");
    std::fs::create_dir_all(&fig).unwrap();
    for ext in ["png", "svg"] {
        std::fs::write(fig.join(format!("fig2-3.{ext}")), "stale").unwrap();
    }
    ok(&reproduce(&cfg, &out, &[]));
    for page in ["fig2", "fig2-2"] {
        assert!(fig.join(format!("{page}.png")).exists(), "{page}");
        assert!(fig.join(format!("{page}.svg")).exists(), "{page}");
    }
    assert!(!fig.join("fig2-3.png").exists() && !fig.join("fig2-3.svg").exists());
    // 2 panels x (mean-clean, median alone and after NNM, trmean alone): 8 runs
    let summary = std::fs::read_to_string(fig.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 8, "{summary}");
    assert!(!summary.contains("nnm+trmean"), "{summary}");
    let svg = std::fs::read_to_string(fig.join("fig2-2.svg")).unwrap();
    assert!(
        svg.contains("skew: after NNM (f = 1)"),
        "the NNM panel of the second split"
    );
}

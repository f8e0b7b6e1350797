//! The Rust side of the peer comparison (`python/bench/README.md`): every rule the peer
//! libraries share with this crate, at m = 20, d = 10^6, f32, their conventions where they
//! differ (ByzFL's geometric median: 3 Weiszfeld iterations from zero with nu = 0.1; the
//! pre-aggregation steps followed by Mean). Prints `label,median seconds,fastest seconds`
//! over 7 timed calls after one warm-up. Run it right after `peer_bench.py`, on an idle
//! machine: `cargo run --release --example peer_timing`. Optional arguments: a substring of the
//! labels to time (e.g. `cclip`) and the number of timed calls (default 7).

use phocas::aggregators::{self, AggregateExt, RuleParams};
use phocas::{MatrixView, Workspace};
use std::io::Write;
use std::time::Instant;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let only = args.get(1).cloned().unwrap_or_default();
    let calls: usize = match args.get(2).map(|s| s.parse()) {
        None => 7,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("peer_timing: the number of calls must be a positive integer, e.g. 7");
            std::process::exit(2);
        }
    };
    let (m, d) = (20usize, 1_000_000usize);
    let mut s = 1u64;
    let x: Vec<f32> = (0..m * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    let v = MatrixView::new(&x, m, d).unwrap();
    let cases: Vec<(&str, RuleParams)> = vec![
        ("mean", RuleParams::default()),
        (
            "mean",
            RuleParams {
                nnm: Some(4),
                ..Default::default()
            },
        ),
        (
            "mean",
            RuleParams {
                bucket: Some(2),
                ..Default::default()
            },
        ),
        (
            "trmean",
            RuleParams {
                b: Some(4),
                ..Default::default()
            },
        ),
        (
            "trmean",
            RuleParams {
                b: Some(4),
                nnm: Some(4),
                ..Default::default()
            },
        ),
        ("cclip", RuleParams::default()),
        (
            "bulyan",
            RuleParams {
                q: Some(4),
                ..Default::default()
            },
        ),
        (
            "meamed",
            RuleParams {
                b: Some(4),
                ..Default::default()
            },
        ),
        (
            "geomed",
            RuleParams {
                nu: Some(0.1),
                iters: Some(3),
                tol: Some(0.0),
                start: Some(aggregators::WeiszfeldStart::Zero),
                ..Default::default()
            },
        ),
        (
            "krum",
            RuleParams {
                q: Some(4),
                ..Default::default()
            },
        ),
        (
            "multikrum",
            RuleParams {
                q: Some(4),
                ..Default::default()
            },
        ),
        ("median", RuleParams::default()),
    ];
    for (name, p) in cases {
        let r = aggregators::build(name, &p, m).unwrap();
        if !r.label().contains(&only) {
            continue;
        }
        let mut ws = Workspace::new();
        let mut out = vec![0f32; d];
        r.aggregate_into(v, &mut ws, &mut out).unwrap();
        let mut t = Vec::new();
        for _ in 0..calls {
            let t0 = Instant::now();
            r.aggregate_into(v, &mut ws, &mut out).unwrap();
            t.push(t0.elapsed().as_secs_f64());
        }
        t.sort_by(f64::total_cmp);
        // a closed pipe (`| head -1`) ends the run quietly
        let line = format!("{},{:.6},{:.6}", r.label(), t[calls / 2], t[0]);
        if writeln!(std::io::stdout(), "{line}").is_err() {
            return;
        }
    }
}

//! Runs one rule over and over on a fixed m x d f32 matrix, for profilers (perf, callgrind)
//! and quick A/B timings of a kernel change:
//!
//! ```text
//! cargo run --release --example rule_profile -- [RULE] [M] [D] [SECONDS] [CALLS] [ITERS [TOL]]
//! RAYON_NUM_THREADS=1 perf record ./target/release/examples/rule_profile phocas 20 1000000 4
//! valgrind --tool=callgrind ./target/release/examples/rule_profile trmean 20 100000 0 3
//! ```
//!
//! `NETWORK_LIMIT=N` takes the selection path above m = N (default: the library's limit).
//! Defaults: krum, m = 20, d = 10^6, 3 s; b = q = floor((m-1)/4) as in `bench-scaling`.
//! `PHOCAS_ISA=portable|avx2|avx512` chooses the instruction set (default: the best detected;
//! the library reads the variable, for every program).
//! With CALLS > 0 it makes exactly that many calls instead of running for SECONDS. ITERS is
//! `--iters` (geomed, cclip) and TOL is `--tol` (geomed only; cclip refuses it): the cost of
//! one iteration is the difference of two runs over the difference of their ITERS (geomed
//! with TOL 0). Prints the mean time per call and the fastest call. `phocas bench-scaling --at MxD` is the
//! measurement to quote; this is for looking inside one rule.

use phocas::aggregators::{build, info, isa_from_env, RuleParams, Workspace};
use phocas::matrix::MatrixView;
use std::time::Instant;

fn arg<T: std::str::FromStr>(a: &[String], i: usize, default: T) -> T {
    a.get(i).map_or(default, |s| {
        s.parse()
            .unwrap_or_else(|_| panic!("argument {i} ('{s}') is not a number"))
    })
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let rule = a.get(1).map_or("krum", String::as_str);
    let m: usize = arg(&a, 2, 20);
    let d: usize = arg(&a, 3, 1_000_000);
    let secs: f64 = arg(&a, 4, 3.0);
    let calls: usize = arg(&a, 5, 0);
    // The library reads PHOCAS_ISA itself; refuse a level this CPU cannot run.
    if let Err(e) = isa_from_env() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let p = m.saturating_sub(1) / 4;
    let Some(entry) = info(rule) else {
        eprintln!("error: no rule named '{rule}' (`phocas rules` lists them)");
        std::process::exit(2);
    };
    // b or q (the registry says which the rule takes) as bench-scaling sets them
    let mut params = entry.with_params(RuleParams::default(), Some(p), Some(p), None);
    params.iters = a.get(6).map(|_| arg(&a, 6, 1));
    params.tol = a.get(7).map(|_| arg(&a, 7, 0.0));
    let r = match build(rule, &params, m) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // deterministic values in [-1, 1)
    let x: Vec<f32> = (0..m * d)
        .map(|i| ((i as u64).wrapping_mul(2_654_435_761) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let v = MatrixView::new(&x, m, d).expect("shape");
    let mut ws = Workspace::new();
    // NETWORK_LIMIT=N: sorting networks up to m = N only (the two paths give the same bits)
    if let Some(n) = std::env::var("NETWORK_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        ws = ws.with_network_limit(n);
    }
    let mut out = vec![0f32; d];
    let t0 = Instant::now();
    let mut n = 0usize;
    let mut fastest = f64::INFINITY;
    // at least one call, so that the time per call is defined
    while n == 0 || (calls > 0 && n < calls) || (calls == 0 && t0.elapsed().as_secs_f64() < secs) {
        let t = Instant::now();
        r.aggregate_f32(v, &mut ws, &mut out).expect("aggregate");
        fastest = fastest.min(t.elapsed().as_secs_f64() * 1e3);
        n += 1;
    }
    let ms = t0.elapsed().as_secs_f64() * 1e3 / n as f64;
    let isa = phocas::aggregators::Level::default();
    println!(
        "{} m={m} d={d} {isa}: {ms:.3} ms per call, fastest {fastest:.3} ({n} calls)",
        r.label()
    );
}

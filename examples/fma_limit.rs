//! The floating-point limit of Krum's exact pairwise distances on this machine.
//!
//! Krum's kernels (`aggregators::simd::krum`) spend, per pair of rows and per coordinate, one
//! f64 subtraction and one fused multiply-add (`acc = fma(a - b, a - b, acc)`), plus loads:
//! a strip of K pairs shares the first row, so one load per step (and one per K steps); a
//! register grid of RA x RB pairs loads RA + RB vectors per RA x RB steps (4 x 6 with
//! AVX-512, 2 x 4 with AVX2). [`phocas::aggregators::pair_step_rate`] measures how many such
//! steps per second the CPU retires at best, for both mixes: the same instructions, operands
//! in L1, one thread per core (rayon's pool, `RAYON_NUM_THREADS` to change it). The grid's
//! rate is the FMA throughput itself (one FMA per step, the subtraction on the other ports).
//! Krum's time at a point (m, d) then has the floor m (m - 1) / 2 * d / rate;
//! `phocas bench-scaling` checks Krum against it.
//!
//! Usage: `cargo run --release --example fma_limit [seconds]` (default 1). Prints the rate in
//! pair-coordinates per second for each instruction set the CPU offers and each mix (`strip`,
//! `grid`), each the fastest of 5 runs, and Krum's floor at m = 20, 200, 500 and 1000 for
//! d = 10^6 and m d = 2 x 10^8.

use phocas::aggregators::{available_isas, pair_step_rate, Isa, Level, StepMix};

fn main() {
    let secs: f64 = match std::env::args().nth(1) {
        None => 1.0,
        Some(s) => match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 && v <= 600.0 => v,
            _ => {
                eprintln!("fma_limit: {s:?} is not a duration in seconds (0 < s <= 600)");
                std::process::exit(2);
            }
        },
    };
    let mut rows = Vec::new();
    for isa in available_isas()
        .into_iter()
        .rev()
        .filter(|&i| i != Isa::Portable)
    {
        let Some(level) = Level::new(isa) else {
            continue;
        };
        for (mix, name) in [(StepMix::Strip, "strip"), (StepMix::Grid, "grid")] {
            if let Some(r) = pair_step_rate(level, mix, secs, 5) {
                rows.push((isa, name, r));
            }
        }
    }
    if rows.is_empty() {
        eprintln!(
            "fma_limit: this CPU has neither AVX-512 F nor AVX2 + FMA (the only Krum kernels written): nothing to measure"
        );
        std::process::exit(2);
    }
    println!(
        "# threads {}; rate = (subtract + FMA) steps per second on f64 lanes, operands in L1",
        rayon::current_num_threads()
    );
    println!("level,schedule,pair_coords_per_s,floor_ms_m20_d1e6,floor_ms_m200_d1e6,floor_ms_m500_d4e5,floor_ms_m1000_d2e5");
    for (isa, schedule, r) in rows {
        let floor = |m: f64, d: f64| m * (m - 1.0) / 2.0 * d / r * 1e3;
        println!(
            "{},{schedule},{r:.4e},{:.2},{:.1},{:.1},{:.1}",
            isa.name(),
            floor(20.0, 1e6),
            floor(200.0, 1e6),
            floor(500.0, 4e5),
            floor(1000.0, 2e5)
        );
    }
}

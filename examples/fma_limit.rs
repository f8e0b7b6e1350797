//! The floating-point limit of Krum's exact pairwise distances on this machine.
//!
//! Krum's kernels (`aggregators::simd::krum`) spend, per pair of rows and per coordinate, one
//! f64 subtraction and one fused multiply-add (`acc = fma(a - b, a - b, acc)`), plus loads:
//! a strip of K pairs shares the first row, so one load per step (and one per K steps); a
//! register grid of RA x RB pairs loads RA + RB vectors per RA x RB steps (4 x 6 with
//! AVX-512, 2 x 4 with AVX2). This program measures how many such steps per second the CPU
//! retires at best, for both mixes: the same instructions on the widest vectors the CPU has
//! (AVX-512 F, else AVX2 + FMA), operands in L1, enough independent accumulators to hide the
//! FMA latency, one thread per core (rayon's pool, `RAYON_NUM_THREADS` to change it). The
//! grid's rate is the FMA throughput itself (one FMA per step, the subtraction on the other
//! ports). Krum's time at a point (m, d) then has the floor m (m - 1) / 2 * d / rate.
//!
//! Usage: `cargo run --release --example fma_limit [seconds]` (default 1). Prints the rate in
//! pair-coordinates per second for each instruction set the CPU offers and each mix (`strip`,
//! `grid`), each the fastest of 5 runs, and Krum's floor at m = 20, 200, 500 and 1000 for
//! d = 10^6 and m d = 2 x 10^8.

// The intrinsics need `unsafe`: each block states why it is sound.
#![allow(unsafe_code)]

use std::time::Instant;

/// Lane steps (subtract + FMA, one pair-coordinate each) per call of a kernel.
#[cfg(target_arch = "x86_64")]
const STEPS: usize = 1 << 16;
/// Passes of the 4 x 6 AVX-512 grid per call (6,144 lane steps each).
#[cfg(target_arch = "x86_64")]
const GRID8_PASSES: usize = 11;
/// Passes of the 2 x 4 AVX2 grid per call (2,048 lane steps each).
#[cfg(target_arch = "x86_64")]
const GRID4_PASSES: usize = 32;
/// Independent accumulators per thread.
#[cfg(target_arch = "x86_64")]
const K: usize = 16;
/// f64 values of the L1-resident operand rows.
const ROW: usize = 512;

#[cfg(target_arch = "x86_64")]
mod kernels {
    use super::{GRID4_PASSES, GRID8_PASSES, K, ROW, STEPS};
    use std::arch::x86_64::*;

    /// STEPS / ROW passes over two rows of ROW values, K accumulators of 8 lanes, each step
    /// `acc = fma(a - b, a - b, acc)` with one load per step, as in Krum's strips (the first
    /// row's vector is shared by the K pairs, the second row's is loaded for each).
    ///
    /// # Safety
    /// The CPU must have AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(a: &[f64; ROW], b: &[f64; ROW]) -> f64 {
        let mut acc = [_mm512_setzero_pd(); K];
        for _ in 0..STEPS / ROW {
            // opaque to the optimiser: the loads and subtractions cannot leave the pass loop
            let (a, b) = std::hint::black_box((a, b));
            for o in (0..ROW).step_by(8 * K) {
                // SAFETY: o + 8 <= ROW; reads 64 bytes inside `a`.
                let x = unsafe { _mm512_loadu_pd(a.as_ptr().add(o)) };
                for (k, r) in acc.iter_mut().enumerate() {
                    let at = o + 8 * k;
                    // SAFETY: at + 8 <= ROW (ROW is a multiple of 8 K); reads 64 bytes
                    // inside `b`.
                    let y = unsafe { _mm512_loadu_pd(b.as_ptr().add(at)) };
                    let t = _mm512_sub_pd(x, y);
                    *r = _mm512_fmadd_pd(t, t, *r);
                }
            }
        }
        let mut s = _mm512_setzero_pd();
        for r in acc {
            s = _mm512_add_pd(s, r);
        }
        _mm512_reduce_add_pd(s)
    }

    /// The same steps as Krum's register grids of 4 x 6 pairs ([`avx512`] is its strips):
    /// per 8 coordinates, 4 + 6 loads serve 24 steps, 24 accumulators.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512_grid(a: &[f64; ROW], b: &[f64; ROW]) -> f64 {
        let mut acc = [_mm512_setzero_pd(); 24];
        for _ in 0..GRID8_PASSES {
            let (a, b) = std::hint::black_box((a, b));
            for o in (0..ROW / 2).step_by(8) {
                let mut x = [_mm512_setzero_pd(); 4];
                for (u, x) in x.iter_mut().enumerate() {
                    // SAFETY: o + 8 + 64 u <= ROW / 2 + 256 <= ROW; reads 64 bytes inside `a`.
                    *x = unsafe { _mm512_loadu_pd(a.as_ptr().add(o + 64 * u)) };
                }
                for v in 0..6 {
                    // SAFETY: o + 8 + 32 v <= ROW / 2 + 168 <= ROW; reads 64 bytes inside `b`.
                    let y = unsafe { _mm512_loadu_pd(b.as_ptr().add(o + 32 * v)) };
                    for (u, x) in x.iter().enumerate() {
                        let t = _mm512_sub_pd(*x, y);
                        acc[6 * u + v] = _mm512_fmadd_pd(t, t, acc[6 * u + v]);
                    }
                }
            }
        }
        let mut s = _mm512_setzero_pd();
        for r in acc {
            s = _mm512_add_pd(s, r);
        }
        _mm512_reduce_add_pd(s)
    }

    /// The same with 4 lanes.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(a: &[f64; ROW], b: &[f64; ROW]) -> f64 {
        let mut acc = [_mm256_setzero_pd(); K];
        for _ in 0..STEPS / ROW {
            let (a, b) = std::hint::black_box((a, b));
            for o in (0..ROW).step_by(4 * K) {
                // SAFETY: o + 4 <= ROW; reads 32 bytes inside `a`.
                let x = unsafe { _mm256_loadu_pd(a.as_ptr().add(o)) };
                for (k, r) in acc.iter_mut().enumerate() {
                    let at = o + 4 * k;
                    // SAFETY: at + 4 <= ROW; reads 32 bytes inside `b`.
                    let y = unsafe { _mm256_loadu_pd(b.as_ptr().add(at)) };
                    let t = _mm256_sub_pd(x, y);
                    *r = _mm256_fmadd_pd(t, t, *r);
                }
            }
        }
        let mut lanes = [0.0f64; 4];
        for r in acc {
            let mut v = [0.0f64; 4];
            // SAFETY: writes the 32 bytes of `v`.
            unsafe { _mm256_storeu_pd(v.as_mut_ptr(), r) };
            for (l, x) in lanes.iter_mut().zip(v) {
                *l += x;
            }
        }
        lanes.iter().sum()
    }

    /// The same steps as Krum's AVX2 register grids of 2 x 4 pairs ([`avx2`] is its strips):
    /// per 4 coordinates, 2 + 4 loads serve 8 steps.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2_grid(a: &[f64; ROW], b: &[f64; ROW]) -> f64 {
        let mut acc = [_mm256_setzero_pd(); 8];
        for _ in 0..GRID4_PASSES {
            let (a, b) = std::hint::black_box((a, b));
            for o in (0..ROW / 2).step_by(4) {
                let mut x = [_mm256_setzero_pd(); 2];
                for (u, x) in x.iter_mut().enumerate() {
                    // SAFETY: o + 4 + 64 u <= ROW / 2 + 64 <= ROW; reads 32 bytes inside `a`.
                    *x = unsafe { _mm256_loadu_pd(a.as_ptr().add(o + 64 * u)) };
                }
                for v in 0..4 {
                    // SAFETY: o + 4 + 32 v <= ROW / 2 + 96 <= ROW; reads 32 bytes inside `b`.
                    let y = unsafe { _mm256_loadu_pd(b.as_ptr().add(o + 32 * v)) };
                    for (u, x) in x.iter().enumerate() {
                        let t = _mm256_sub_pd(*x, y);
                        acc[4 * u + v] = _mm256_fmadd_pd(t, t, acc[4 * u + v]);
                    }
                }
            }
        }
        let mut lanes = [0.0f64; 4];
        for r in acc {
            let mut v = [0.0f64; 4];
            // SAFETY: writes the 32 bytes of `v`.
            unsafe { _mm256_storeu_pd(v.as_mut_ptr(), r) };
            for (l, x) in lanes.iter_mut().zip(v) {
                *l += x;
            }
        }
        lanes.iter().sum()
    }
}

/// Pair-coordinates per second of `kernel` (each call: `steps` lane steps), over all threads,
/// the fastest of 5 runs of `secs` seconds.
fn rate(kernel: Kernel, steps: usize, secs: f64) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t0 = Instant::now();
        // one task on every thread of the pool, whatever the scheduler would do
        let calls: Vec<u64> = rayon::broadcast(|ctx| {
            let t = ctx.index();
            let a: [f64; ROW] = std::array::from_fn(|j| (j + t) as f64 * 1e-3);
            let b: [f64; ROW] = std::array::from_fn(|j| (j * 7 % 13) as f64 * 1e-3);
            let mut n = 0u64;
            let mut sink = 0.0;
            let start = Instant::now();
            while start.elapsed().as_secs_f64() < secs {
                sink += kernel(std::hint::black_box(&a), std::hint::black_box(&b));
                n += 1;
            }
            std::hint::black_box(sink);
            n
        });
        let secs_taken = t0.elapsed().as_secs_f64();
        let total: f64 = calls.iter().map(|&n| n as f64 * steps as f64).sum();
        best = best.max(total / secs_taken);
    }
    best
}

/// A kernel: two rows in, a sum out (kept, so the work is not optimised away).
type Kernel = fn(&[f64; ROW], &[f64; ROW]) -> f64;

/// One measurement: level, Krum's schedule it mirrors, kernel, lane steps per call.
type Level = (&'static str, &'static str, Kernel, usize);

/// The levels this CPU runs, widest first, each as Krum's strips and its register grids.
#[cfg(target_arch = "x86_64")]
fn levels() -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::new();
    if is_x86_feature_detected!("avx512f") {
        // SAFETY (both): AVX-512 F was detected on this CPU just above.
        levels.push((
            "avx512",
            "strip",
            |a, b| unsafe { kernels::avx512(a, b) },
            STEPS,
        ));
        let grid: Kernel = |a, b| unsafe { kernels::avx512_grid(a, b) };
        levels.push(("avx512", "grid", grid, GRID8_PASSES * 6144));
    }
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY (both): AVX2 and FMA were detected on this CPU just above.
        levels.push((
            "avx2",
            "strip",
            |a, b| unsafe { kernels::avx2(a, b) },
            STEPS,
        ));
        let grid: Kernel = |a, b| unsafe { kernels::avx2_grid(a, b) };
        levels.push(("avx2", "grid", grid, GRID4_PASSES * 2048));
    }
    levels
}

/// No kernel is written for other architectures yet.
#[cfg(not(target_arch = "x86_64"))]
fn levels() -> Vec<Level> {
    Vec::new()
}

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
    let levels = levels();
    if levels.is_empty() {
        eprintln!(
            "fma_limit: this CPU has neither AVX-512 F nor AVX2 + FMA (the only kernels written): nothing to measure"
        );
        std::process::exit(2);
    }
    println!(
        "# threads {}; rate = (subtract + FMA) steps per second on f64 lanes, operands in L1",
        rayon::current_num_threads()
    );
    println!("level,schedule,pair_coords_per_s,floor_ms_m20_d1e6,floor_ms_m200_d1e6,floor_ms_m500_d4e5,floor_ms_m1000_d2e5");
    for (name, schedule, k, steps) in levels {
        let r = rate(k, steps, secs);
        let floor = |m: f64, d: f64| m * (m - 1.0) / 2.0 * d / r * 1e3;
        println!(
            "{name},{schedule},{r:.4e},{:.2},{:.1},{:.1},{:.1}",
            floor(20.0, 1e6),
            floor(200.0, 1e6),
            floor(500.0, 4e5),
            floor(1000.0, 2e5)
        );
    }
}

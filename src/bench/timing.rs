//! What every measurement of `bench-scaling` is built from: the storage types it generates,
//! the N(0, 1) matrix (the same for any thread count), the memory probe that gives the
//! physical limit, and the round-robin timer with its median.

use super::Dtype;
use crate::aggregators;
use crate::error::Error;
use crate::scalar::Scalar;
use rand::SeedableRng;
use rand_distr::Distribution;
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// Storage types the bench generates and probes.
pub trait BenchScalar: Scalar {
    /// The dtype tag.
    const DTYPE: Dtype;
    /// Rounds an f64 sample to this type.
    fn from_sample(v: f64) -> Self;
    /// Wrapping sum of the bit patterns (the probe's work: one integer add per value).
    fn sum_bits(x: &[Self]) -> u64;
}

impl BenchScalar for f32 {
    const DTYPE: Dtype = Dtype::F32;
    fn from_sample(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn sum_bits(x: &[Self]) -> u64 {
        // One reduction, which LLVM vectorises (wrapping integer addition is associative).
        // An array of 16 accumulators over chunks of 16 was vectorised across chunks with
        // AVX-512 gathers, 4.8x slower than the portable build.
        u64::from(x.iter().fold(0u32, |a, v| a.wrapping_add(v.to_bits())))
    }
}

impl BenchScalar for f64 {
    const DTYPE: Dtype = Dtype::F64;
    fn from_sample(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn sum_bits(x: &[Self]) -> u64 {
        // As for f32.
        x.iter().fold(0u64, |a, v| a.wrapping_add(v.to_bits()))
    }
}

/// Values per chunk of the memory probe (the granularity of `mean`'s chunks).
const PROBE_CHUNK: usize = 1 << 18;

/// The memory probe: a plain streaming read of `x` (wrapping sum of the bits), in parallel
/// chunks, compiled for `level` like the rules.
pub fn read_probe<T: BenchScalar>(level: aggregators::Level, x: &[T]) -> u64 {
    if x.len() <= PROBE_CHUNK {
        return aggregators::simd::with_isa(
            level,
            #[inline(always)]
            || T::sum_bits(x),
        );
    }
    x.par_chunks(PROBE_CHUNK)
        .map(|c| {
            aggregators::simd::with_isa(
                level,
                #[inline(always)]
                || T::sum_bits(c),
            )
        })
        .reduce(|| 0, u64::wrapping_add)
}

/// Values per block of the generator (each block has its own ChaCha8 stream).
const GEN_BLOCK: usize = 1 << 16;

/// `len` values drawn from N(0, 1) (rounded to T), the same for any thread count: block k of
/// 2^16 values comes from ChaCha8 seeded with `seed` on stream k.
pub fn normal_values<T: BenchScalar>(len: usize, seed: u64) -> Vec<T> {
    let mut v = vec![T::default(); len];
    v.par_chunks_mut(GEN_BLOCK).enumerate().for_each(|(k, c)| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(k as u64);
        for x in c {
            *x = T::from_sample(rand_distr::StandardNormal.sample(&mut rng));
        }
    });
    v
}

/// Timing of one contender at one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Median over samples of the time per call, in ns.
    pub median_ns: f64,
    /// Fastest sample, in ns per call.
    pub min_ns: f64,
    /// Samples.
    pub reps: usize,
    /// Calls per sample.
    pub calls: usize,
}

/// A call to time; returns an error only from its warm-up.
pub type Call<'a> = Box<dyn FnMut() -> Result<(), Error> + 'a>;

/// Times every call: one warm-up, one calibration (calls per sample so that a sample lasts
/// at least `min_sample`), then `reps` samples taken round-robin over the calls.
pub fn time_round_robin(
    calls: &mut [Call<'_>],
    reps: usize,
    min_sample: Duration,
) -> Result<Vec<Timing>, Error> {
    let mut per_sample = Vec::with_capacity(calls.len());
    for f in calls.iter_mut() {
        f()?;
        let t = Instant::now();
        f()?;
        let one = t.elapsed().as_secs_f64().max(1e-9);
        per_sample.push(((min_sample.as_secs_f64() / one).ceil() as usize).clamp(1, 1_000_000));
    }
    let reps = reps.max(1);
    let mut samples = vec![Vec::with_capacity(reps); calls.len()];
    for _ in 0..reps {
        for (i, f) in calls.iter_mut().enumerate() {
            let k = per_sample[i];
            let t = Instant::now();
            for _ in 0..k {
                // shapes were checked by the warm-up call
                let _ = f();
            }
            samples[i].push(t.elapsed().as_nanos() as f64 / k as f64);
        }
    }
    Ok(samples
        .into_iter()
        .zip(per_sample)
        .map(|(s, calls)| Timing {
            median_ns: median(&s),
            min_ns: s.iter().copied().fold(f64::INFINITY, f64::min),
            reps,
            calls,
        })
        .collect())
}

/// Median (mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

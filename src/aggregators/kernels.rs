//! Shared kernels: the tiled, parallel coordinate-wise driver and the per-coordinate order
//! statistics used by Median, Trmean and Phocas.
//!
//! Tiles of [`TILE`] coordinates are transposed into per-thread scratch as total-order integer
//! keys (see [`crate::scalar`]), so each coordinate's m values are contiguous and NaN sorts
//! beyond every finite value. Each coordinate is computed independently, so the output is
//! bit-identical for any number of threads.

use super::Workspace;
use crate::matrix::MatrixView;
use crate::scalar::Scalar;
use rayon::prelude::*;

/// Coordinates per tile.
pub(crate) const TILE: usize = 64;

/// Runs `f` on each coordinate's m keys, tile by tile in parallel, writing `out[j]`.
pub(crate) fn coordinatewise<T, F>(x: MatrixView<'_, T>, ws: &Workspace, out: &mut [T], f: F)
where
    T: Scalar,
    F: Fn(&mut [i64], &mut Vec<u128>) -> f64 + Sync,
{
    let m = x.m();
    out.par_chunks_mut(TILE).enumerate().for_each(|(c, chunk)| {
        let j0 = c * TILE;
        let w = chunk.len();
        ws.with_scratch(|s| {
            if s.keys.len() < TILE * m {
                s.keys.resize(TILE * m, 0);
            }
            let keys = &mut s.keys[..w * m];
            for i in 0..m {
                let row = &x.row(i)[j0..j0 + w];
                for (t, v) in row.iter().enumerate() {
                    keys[t * m + i] = v.key64();
                }
            }
            for (t, o) in chunk.iter_mut().enumerate() {
                *o = T::from_f64(f(&mut keys[t * m..(t + 1) * m], &mut s.pairs));
            }
        });
    });
}

/// Sum (f64) of the values whose keys are in `keys`.
#[inline]
pub(crate) fn sum_keys<T: Scalar>(keys: &[i64]) -> f64 {
    keys.iter().map(|&k| T::from_key64(k).to_f64()).sum()
}

/// Trmean_b of one coordinate (Definition 7), by two selections (never a full sort, never
/// "sum minus extremes"). Permutes `keys`. Expected time O(m).
#[inline]
pub(crate) fn trimmed_mean<T: Scalar>(keys: &mut [i64], b: usize) -> f64 {
    let m = keys.len();
    let n = m - 2 * b;
    let mid = middle(keys, b);
    debug_assert_eq!(mid.len(), n);
    sum_keys::<T>(mid) / n as f64
}

/// Rearranges `keys` so that the m - 2b middle order statistics come back as a slice.
#[inline]
pub(crate) fn middle(keys: &mut [i64], b: usize) -> &mut [i64] {
    let m = keys.len();
    let n = m - 2 * b;
    if b > 0 {
        keys.select_nth_unstable(b);
    }
    let upper = &mut keys[b..];
    if n < upper.len() {
        upper.select_nth_unstable(n - 1);
    }
    &mut upper[..n]
}

/// Phocas_b of one coordinate (Definition 8): the mean of the m - b values nearest to
/// Trmean_b. Distances are computed in f64; a NaN distance counts as +infinity; ties in
/// distance are broken by the values' total order (smaller first), so the result is
/// deterministic. Expected time O(m).
#[inline]
pub(crate) fn phocas<T: Scalar>(keys: &mut [i64], b: usize, pairs: &mut Vec<u128>) -> f64 {
    let m = keys.len();
    let centre = trimmed_mean::<T>(keys, b);
    pairs.clear();
    for &k in keys.iter() {
        let v = T::from_key64(k).to_f64();
        let mut dist = (v - centre).abs();
        if dist.is_nan() {
            dist = f64::INFINITY;
        }
        let tie = (k as u64) ^ (1u64 << 63);
        pairs.push((u128::from(dist.to_bits()) << 64) | u128::from(tie));
    }
    let n = m - b;
    if n < m {
        pairs.select_nth_unstable(n - 1);
    }
    let mut s = 0.0;
    for &p in &pairs[..n] {
        let k = ((p as u64) ^ (1u64 << 63)) as i64;
        s += T::from_key64(k).to_f64();
    }
    s / n as f64
}

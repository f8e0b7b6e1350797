//! Phocas sums and checks of one sorted tile on AVX2 (see `finish_phocas` in
//! [`crate::aggregators::kernels`], which does the same operations in the same order in safe code).

use super::fused::{vals32, vals64};
use crate::aggregators::layout::W;
use std::arch::x86_64::*;

/// Constants of the distance |v - y| with NaN counted as +infinity.
#[derive(Clone, Copy)]
struct Dist {
    abs: __m256d,
    inf: __m256d,
}

impl Dist {
    #[inline(always)]
    fn new() -> Self {
        // SAFETY: only inlined into functions that run only on CPUs with AVX2.
        unsafe {
            Self {
                abs: _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX)),
                inf: _mm256_set1_pd(f64::INFINITY),
            }
        }
    }
    /// min(|v - y|, inf) is +inf for NaN (MINPD returns its second operand then).
    #[inline(always)]
    fn of(self, v: __m256d, y: __m256d) -> __m256d {
        // SAFETY: as in `new`.
        unsafe { _mm256_min_pd(_mm256_and_pd(_mm256_sub_pd(v, y), self.abs), self.inf) }
    }
}

/// One group of lanes' Phocas window, shared by the fused and the tile kernels so that
/// both compute the same bits: from `sum`, Trmean's sum of the middle v_b..v_{n-1}, the
/// centre y = sum / (m - 2b); then, for k < b, pair k = (v_k, v_{k+n}) keeps its upper
/// value when that one is strictly nearer to y, and the kept value is added to the sum.
/// `ends` are v_b and v_{n-1}. Returns (window sum, centre, lanes whose separation check
/// failed: some dropped value not strictly farther than some kept one).
#[inline(always)]
pub(crate) fn window<const P: usize>(
    mut sum: [__m256d; P],
    (csum, mid): ([__m256d; P], __m256d),
    ends: ([__m256d; P], [__m256d; P]),
    b: usize,
    pair: impl Fn(usize) -> ([__m256d; P], [__m256d; P]),
) -> ([__m256d; P], [__m256d; P], [__m256d; P]) {
    let dist = Dist::new();
    // SAFETY: only inlined into functions that run only on CPUs with AVX2.
    unsafe {
        let mut y = sum;
        let mut keep_max = sum;
        let mut lose_min = [dist.inf; P];
        for p in 0..P {
            y[p] = _mm256_div_pd(csum[p], mid);
            keep_max[p] = _mm256_max_pd(dist.of(ends.0[p], y[p]), dist.of(ends.1[p], y[p]));
        }
        for k in 0..b {
            let (a, c) = pair(k);
            for p in 0..P {
                let (da, dc) = (dist.of(a[p], y[p]), dist.of(c[p], y[p]));
                let upper = _mm256_cmp_pd(da, dc, _CMP_GT_OQ);
                sum[p] = _mm256_add_pd(sum[p], _mm256_blendv_pd(a[p], c[p], upper));
                lose_min[p] = _mm256_min_pd(lose_min[p], _mm256_max_pd(da, dc));
                keep_max[p] = _mm256_max_pd(keep_max[p], _mm256_min_pd(da, dc));
            }
        }
        let mut bad = keep_max;
        for p in 0..P {
            bad[p] = _mm256_cmp_pd(lose_min[p], keep_max[p], _CMP_LE_OQ);
        }
        (sum, y, bad)
    }
}

/// The f32 values of lanes 8g..8g+8 of a wire of i32 keys, as two f64 vectors.
#[inline(always)]
fn values32(wire: &[i32; W], g: usize) -> [__m256d; 2] {
    let s: &[i32; 8] = wire[g * 8..g * 8 + 8].try_into().expect("8 lanes");
    // SAFETY: reads the 32 bytes of `s`; AVX2 as in `Dist::new`.
    vals32(unsafe { _mm256_loadu_si256(s.as_ptr().cast()) })
}

/// The f64 values of lanes 4g..4g+4 of a wire of i64 keys.
#[inline(always)]
fn values64(wire: &[i64; W], g: usize) -> [__m256d; 1] {
    let s: &[i64; 4] = wire[g * 4..g * 4 + 4].try_into().expect("4 lanes");
    // SAFETY: reads the 32 bytes of `s`; AVX2 as in `Dist::new`.
    vals64(unsafe { _mm256_loadu_si256(s.as_ptr().cast()) })
}

macro_rules! phocas_tile {
    ($name:ident, $key:ty, $vals:ident, $lanes:expr, $parts:expr) => {
        /// Writes the window mean and the centre of every lane; returns the lanes whose
        /// separation check failed.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(crate) unsafe fn $name(
            tile: &[[$key; W]],
            b: usize,
            ct: usize,
            res: &mut [f64; W],
            centre: &mut [f64; W],
        ) -> u64 {
            let m = tile.len();
            let n = m - b;
            let mid = _mm256_set1_pd((m - 2 * ct) as f64);
            let nf = _mm256_set1_pd(n as f64);
            let nz = _mm256_set1_pd(-0.0);
            let mut tied = 0u64;
            for g in 0..W / $lanes {
                let mut y = [nz; $parts];
                for wire in &tile[b..n] {
                    let v = $vals(wire, g);
                    for p in 0..$parts {
                        y[p] = _mm256_add_pd(y[p], v[p]);
                    }
                }
                let ends = ($vals(&tile[b], g), $vals(&tile[n - 1], g));
                // A closure has no target features of its own: inlined, it gets the
                // wrapper's.
                // the centre's sum: the same middle for Phocas (ct = b), the median's for
                // MeaMed
                let cy = if ct == b {
                    y
                } else {
                    let mut s = [nz; $parts];
                    for wire in &tile[ct..m - ct] {
                        let v = $vals(wire, g);
                        for p in 0..$parts {
                            s[p] = _mm256_add_pd(s[p], v[p]);
                        }
                    }
                    s
                };
                let (sum, y, bad) = window(
                    y,
                    (cy, mid),
                    ends,
                    b,
                    #[inline(always)]
                    |k: usize| ($vals(&tile[k], g), $vals(&tile[k + n], g)),
                );
                for p in 0..$parts {
                    let at = g * $lanes + p * 4;
                    let r: &mut [f64; 4] = (&mut res[at..at + 4]).try_into().expect("4");
                    _mm256_storeu_pd(r.as_mut_ptr(), _mm256_div_pd(sum[p], nf));
                    let c: &mut [f64; 4] = (&mut centre[at..at + 4]).try_into().expect("4");
                    _mm256_storeu_pd(c.as_mut_ptr(), y[p]);
                    if b > 0 {
                        tied |= (_mm256_movemask_pd(bad[p]) as u64) << at;
                    }
                }
            }
            tied
        }
    };
}

phocas_tile!(phocas_i32, i32, values32, 8, 2);
phocas_tile!(phocas_i64, i64, values64, 4, 1);

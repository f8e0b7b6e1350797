//! The tile Phocas kernel of [`crate::aggregators::simd::avx2::phocas`] with 512-bit registers (16 lanes of keys, 8 of
//! f64 per register): the same operations on every lane in the same order (VMINPD, VMAXPD,
//! the ordered compares and the blend behave lane by lane as their 256-bit forms), so the same
//! bits, in half the instructions. (Measured: `reports/PERF.md`.)

use super::fused::{vals32, vals64};
use crate::aggregators::layout::W;
use std::arch::x86_64::*;

/// |v - y| with NaN counted as +infinity: min(|v - y|, inf) is +inf for NaN (MINPD
/// returns its second operand then).
#[inline(always)]
fn dist(v: __m512d, y: __m512d) -> __m512d {
    // SAFETY: only inlined into `phocas_i32` / `phocas_i64` and the kernels of
    // `avx512::fused`, which run only on CPUs with AVX-512 F and DQ.
    unsafe {
        let abs = _mm512_castsi512_pd(_mm512_set1_epi64(i64::MAX));
        let d = _mm512_and_pd(_mm512_sub_pd(v, y), abs);
        _mm512_min_pd(d, _mm512_set1_pd(f64::INFINITY))
    }
}

/// `avx2::phocas::window` on 512-bit registers (the same operations per lane in the same
/// order), shared by the tile kernels below and `avx512::fused`; the failed lanes come
/// back as masks.
#[inline(always)]
pub(crate) fn window<const P: usize>(
    mut sum: [__m512d; P],
    (csum, mid): ([__m512d; P], __m512d),
    ends: ([__m512d; P], [__m512d; P]),
    b: usize,
    pair: impl Fn(usize) -> ([__m512d; P], [__m512d; P]),
) -> ([__m512d; P], [__m512d; P], [__mmask8; P]) {
    // SAFETY: only inlined into functions that run only on CPUs with AVX-512 F and DQ.
    unsafe {
        let mut y = sum;
        let mut keep_max = sum;
        let mut lose_min = [_mm512_set1_pd(f64::INFINITY); P];
        for p in 0..P {
            y[p] = _mm512_div_pd(csum[p], mid);
            keep_max[p] = _mm512_max_pd(dist(ends.0[p], y[p]), dist(ends.1[p], y[p]));
        }
        // Pair k keeps its upper value when that one is strictly nearer.
        for k in 0..b {
            let (a, c) = pair(k);
            for p in 0..P {
                let (da, dc) = (dist(a[p], y[p]), dist(c[p], y[p]));
                let upper = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(da, dc);
                sum[p] = _mm512_add_pd(sum[p], _mm512_mask_blend_pd(upper, a[p], c[p]));
                lose_min[p] = _mm512_min_pd(lose_min[p], _mm512_max_pd(da, dc));
                keep_max[p] = _mm512_max_pd(keep_max[p], _mm512_min_pd(da, dc));
            }
        }
        let mut bad = [0; P];
        for p in 0..P {
            bad[p] = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(lose_min[p], keep_max[p]);
        }
        (sum, y, bad)
    }
}

/// The f32 values of lanes 16g..16g+16 of a wire of i32 keys, as two f64 vectors.
#[inline(always)]
fn values32(wire: &[i32; W], g: usize) -> [__m512d; 2] {
    let s: &[i32; 16] = wire[g * 16..g * 16 + 16].try_into().expect("16 lanes");
    // SAFETY: reads the 64 bytes of `s`; AVX-512 as in `dist`.
    vals32(unsafe { _mm512_loadu_si512(s.as_ptr().cast()) })
}

/// The f64 values of lanes 8g..8g+8 of a wire of i64 keys.
#[inline(always)]
fn values64(wire: &[i64; W], g: usize) -> [__m512d; 1] {
    let s: &[i64; 8] = wire[g * 8..g * 8 + 8].try_into().expect("8 lanes");
    // SAFETY: reads the 64 bytes of `s`; AVX-512 as in `dist`.
    vals64(unsafe { _mm512_loadu_si512(s.as_ptr().cast()) })
}

macro_rules! phocas_tile {
    ($name:ident, $key:ty, $vals:ident, $lanes:expr, $parts:expr) => {
        /// Writes the window mean and the centre of every lane; returns the lanes whose
        /// separation check failed (`avx2::phocas`'s kernel, 512 bits wide).
        ///
        /// # Safety
        /// The CPU must support AVX-512 F, VL, BW and DQ.
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
        pub(crate) unsafe fn $name(
            tile: &[[$key; W]],
            b: usize,
            ct: usize,
            res: &mut [f64; W],
            centre: &mut [f64; W],
        ) -> u64 {
            let m = tile.len();
            let n = m - b;
            let mid = _mm512_set1_pd((m - 2 * ct) as f64);
            let nf = _mm512_set1_pd(n as f64);
            let nz = _mm512_set1_pd(-0.0);
            let mut tied = 0u64;
            for g in 0..W / $lanes {
                // Trmean's sum of the middle v_b..v_{n-1}, from -0.0 in wire order.
                let mut sum = [nz; $parts];
                for wire in &tile[b..n] {
                    let v = $vals(wire, g);
                    for p in 0..$parts {
                        sum[p] = _mm512_add_pd(sum[p], v[p]);
                    }
                }
                let ends = ($vals(&tile[b], g), $vals(&tile[n - 1], g));
                // A closure has no target features of its own: inlined, it gets the
                // wrapper's.
                // the centre's sum: the same middle for Phocas (ct = b), the median's for
                // MeaMed
                let cy = if ct == b {
                    sum
                } else {
                    let mut s = [nz; $parts];
                    for wire in &tile[ct..m - ct] {
                        let v = $vals(wire, g);
                        for p in 0..$parts {
                            s[p] = _mm512_add_pd(s[p], v[p]);
                        }
                    }
                    s
                };
                let (sum, y, bad) = window(
                    sum,
                    (cy, mid),
                    ends,
                    b,
                    #[inline(always)]
                    |k: usize| ($vals(&tile[k], g), $vals(&tile[k + n], g)),
                );
                for p in 0..$parts {
                    let at = g * $lanes + p * 8;
                    let r: &mut [f64; 8] = (&mut res[at..at + 8]).try_into().expect("8");
                    _mm512_storeu_pd(r.as_mut_ptr(), _mm512_div_pd(sum[p], nf));
                    let c: &mut [f64; 8] = (&mut centre[at..at + 8]).try_into().expect("8");
                    _mm512_storeu_pd(c.as_mut_ptr(), y[p]);
                    if b > 0 {
                        tied |= u64::from(bad[p]) << at;
                    }
                }
            }
            tied
        }
    };
}

phocas_tile!(phocas_i32, i32, values32, 16, 2);
phocas_tile!(phocas_i64, i64, values64, 8, 1);

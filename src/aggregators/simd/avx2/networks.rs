//! The register networks on 256-bit registers (AVX2): 8 lanes of i32 keys, 4 of i64.

use crate::aggregators::layout::W;
use std::arch::x86_64::*;

/// Compare-exchange of 8 lanes of i32 keys.
#[inline(always)]
pub(crate) fn cx32(v: &mut [__m256i; 32], a: usize, b: usize) {
    let (x, y) = (v[a], v[b]);
    // SAFETY: only inlined into `sort_i32` and `avx2::fused::order_f32`, which run only on CPUs with AVX2.
    unsafe {
        v[a] = _mm256_min_epi32(x, y);
        v[b] = _mm256_max_epi32(x, y);
    }
}

/// Compare-exchange of 4 lanes of i64 keys (AVX2 has no 64-bit min/max).
#[inline(always)]
pub(crate) fn cx64(v: &mut [__m256i; 32], a: usize, b: usize) {
    let (x, y) = (v[a], v[b]);
    // SAFETY: only inlined into `sort_i64` and `avx2::fused::order_f64`, which run only on CPUs with AVX2.
    unsafe {
        let gt = _mm256_cmpgt_epi64(x, y);
        v[a] = _mm256_blendv_epi8(x, y, gt);
        v[b] = _mm256_blendv_epi8(y, x, gt);
    }
}

/// Sorts the first M wires of the tile in every lane (8 lanes per register).
///
/// # Safety
/// The CPU must support AVX2. `tile.len() >= M` (checked).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn sort_i32<const M: usize>(tile: &mut [[i32; W]]) {
    let tile = &mut tile[..M];
    for g in 0..W / 8 {
        let mut v = [_mm256_set1_epi32(i32::MAX); 32];
        for w in 0..M {
            let s: &[i32; 8] = tile[w][g * 8..g * 8 + 8].try_into().expect("8 lanes");
            v[w] = _mm256_loadu_si256(s.as_ptr().cast());
        }
        sorting_network!(M, apply_comparators!(cx32, v));
        for w in 0..M {
            let s: &mut [i32; 8] = (&mut tile[w][g * 8..g * 8 + 8])
                .try_into()
                .expect("8 lanes");
            _mm256_storeu_si256(s.as_mut_ptr().cast(), v[w]);
        }
    }
}

/// Sorts the first M wires of the tile in every lane (4 lanes per register).
///
/// # Safety
/// The CPU must support AVX2. `tile.len() >= M` (checked).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn sort_i64<const M: usize>(tile: &mut [[i64; W]]) {
    let tile = &mut tile[..M];
    for g in 0..W / 4 {
        let mut v = [_mm256_set1_epi64x(i64::MAX); 32];
        for w in 0..M {
            let s: &[i64; 4] = tile[w][g * 4..g * 4 + 4].try_into().expect("4 lanes");
            v[w] = _mm256_loadu_si256(s.as_ptr().cast());
        }
        sorting_network!(M, apply_comparators!(cx64, v));
        for w in 0..M {
            let s: &mut [i64; 4] = (&mut tile[w][g * 4..g * 4 + 4])
                .try_into()
                .expect("4 lanes");
            _mm256_storeu_si256(s.as_mut_ptr().cast(), v[w]);
        }
    }
}

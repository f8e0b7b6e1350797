//! The register networks of [`crate::aggregators::simd::avx2::networks`] on 512-bit registers, for the tile path (16 lanes of
//! i32 keys, 8 of i64 per register, and AVX-512's 64-bit min/max): the same network, so the
//! same sorted keys, in half the instructions (a quarter for i64 keys, which AVX2 orders
//! with a compare and two blends).

use crate::aggregators::layout::W;
use std::arch::x86_64::*;

/// Compare-exchange of 16 lanes of i32 keys.
#[inline(always)]
pub(crate) fn cx32(v: &mut [__m512i; 32], a: usize, b: usize) {
    let (x, y) = (v[a], v[b]);
    // SAFETY: only inlined into `sort_i32`, `rows_f32` and the kernels of `avx512::fused`,
    // which run only on CPUs with AVX-512 F.
    unsafe {
        v[a] = _mm512_min_epi32(x, y);
        v[b] = _mm512_max_epi32(x, y);
    }
}

/// Compare-exchange of 8 lanes of i64 keys.
#[inline(always)]
pub(crate) fn cx64(v: &mut [__m512i; 32], a: usize, b: usize) {
    let (x, y) = (v[a], v[b]);
    // SAFETY: only inlined into `sort_i64`, `rows_f64` and the kernels of `avx512::fused`,
    // which run only on CPUs with AVX-512 F.
    unsafe {
        v[a] = _mm512_min_epi64(x, y);
        v[b] = _mm512_max_epi64(x, y);
    }
}

/// The total-order keys of 16 f32 bit patterns.
#[inline(always)]
pub(crate) fn key32(x: __m512i) -> __m512i {
    // SAFETY: only inlined into `rows_f32` and the kernels of `avx512::fused`, which run
    // only on CPUs with AVX-512 F.
    // x ^ (sign mask & 0x7fff_ffff) in one ternary-logic operation (0x78: a ^ (b & c)).
    unsafe {
        let low = _mm512_set1_epi32(i32::MAX);
        _mm512_ternarylogic_epi32::<0x78>(x, _mm512_srai_epi32::<31>(x), low)
    }
}

/// The total-order keys of 8 f64 bit patterns.
#[inline(always)]
pub(crate) fn key64(x: __m512i) -> __m512i {
    // SAFETY: only inlined into `rows_f64` and the kernels of `avx512::fused`, which run
    // only on CPUs with AVX-512 F.
    // As in `key32`.
    unsafe {
        let low = _mm512_set1_epi64(i64::MAX);
        _mm512_ternarylogic_epi64::<0x78>(x, _mm512_srai_epi64::<63>(x), low)
    }
}

/// For one key type: `$tile` sorts the tile's own wires, `$rows` makes them from rows of
/// the matrix first; both end in `$store`, the network and the store of one group of
/// lanes.
macro_rules! register_sorts {
    ($tile:ident, $rows:ident, $store:ident, $ty:ty, $key:ty, $lanes:literal, $cx:ident,
     $tokey:ident, $full:expr) => {
        /// Sorts wires `v[..M]` with the register network and stores them as lanes
        /// `g * lanes..(g + 1) * lanes` of wires `0..M` of the tile.
        #[inline(always)]
        fn $store<const M: usize>(mut v: [__m512i; 32], tile: &mut [[$key; W]], g: usize) {
            sorting_network!(M, apply_comparators!($cx, v));
            for w in 0..M {
                let s: &mut [$key; $lanes] = (&mut tile[w][g * $lanes..(g + 1) * $lanes])
                    .try_into()
                    .expect("one register of lanes");
                // SAFETY: writes the 64 bytes of `s`; AVX-512 F as in the callers.
                unsafe { _mm512_storeu_si512(s.as_mut_ptr().cast(), v[w]) };
            }
        }

        /// Sorts the first M wires of the tile in every lane.
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and AVX-512 F, VL, BW and DQ (the features
        /// enabled). `tile.len() >= M` (checked).
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
        pub(crate) unsafe fn $tile<const M: usize>(tile: &mut [[$key; W]]) {
            let tile = &mut tile[..M];
            for g in 0..W / $lanes {
                let mut v = [$full; 32];
                for w in 0..M {
                    let s: &[$key; $lanes] = tile[w][g * $lanes..(g + 1) * $lanes]
                        .try_into()
                        .expect("one register of lanes");
                    v[w] = _mm512_loadu_si512(s.as_ptr().cast());
                }
                $store::<M>(v, tile, g);
            }
        }

        /// Writes to wires 0..M of the tile the keys of coordinates `[j, j + W)` of rows
        /// `first..first + M` of `x`, sorted in every lane: the conversion of
        /// `kernels::load_keys` and the register network in one pass, with no unsorted
        /// tile in memory.
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and AVX-512 F, VL, BW and DQ (the features
        /// enabled). `first + M <= x.m()`, `j + W <= x.d()` and `tile.len() >= M`
        /// (checked).
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
        pub(crate) unsafe fn $rows<const M: usize>(
            x: MatrixView<'_, $ty>,
            j: usize,
            first: usize,
            tile: &mut [[$key; W]],
        ) {
            let tile = &mut tile[..M];
            let rows: [&[$ty; W]; M] = std::array::from_fn(|w| {
                x.row(first + w)[j..j + W]
                    .try_into()
                    .expect("W coordinates")
            });
            for g in 0..W / $lanes {
                let mut v = [$full; 32];
                for w in 0..M {
                    let s = &rows[w][g * $lanes..(g + 1) * $lanes];
                    v[w] = $tokey(_mm512_loadu_si512(s.as_ptr().cast()));
                }
                $store::<M>(v, tile, g);
            }
        }
    };
}

register_sorts!(
    sort_i32,
    rows_f32,
    store_i32,
    f32,
    i32,
    16,
    cx32,
    key32,
    _mm512_set1_epi32(i32::MAX)
);
register_sorts!(
    sort_i64,
    rows_f64,
    store_i64,
    f64,
    i64,
    8,
    cx64,
    key64,
    _mm512_set1_epi64(i64::MAX)
);

use crate::matrix::MatrixView;

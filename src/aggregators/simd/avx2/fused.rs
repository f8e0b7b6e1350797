//! Trmean, Median and the lower median straight from the rows on AVX2: load 8 (f32) or 4
//! (f64) coordinates of every row, turn them into keys, sort them with the register network
//! and sum the middle wires, all in registers. The same keys, network and sums in the same
//! order as the tile path of [`crate::aggregators::kernels`], so the bits are the same; what goes is the
//! key tile in memory (written by the conversion, reread and rewritten by the sort, reread
//! by the sum).

use crate::aggregators::layout::Finish;
use crate::matrix::MatrixView;
use std::arch::x86_64::*;

/// The total-order key of 8 f32 bit patterns, and back (the map is an involution).
#[inline(always)]
fn key32(x: __m256i) -> __m256i {
    // SAFETY: only inlined into functions that run only on CPUs with AVX2.
    unsafe { _mm256_xor_si256(x, _mm256_srli_epi32(_mm256_srai_epi32(x, 31), 1)) }
}

/// The total-order key of 4 f64 bit patterns, and back (the map is an involution).
#[inline(always)]
fn key64(x: __m256i) -> __m256i {
    // SAFETY: as in `key32`.
    unsafe {
        let neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
        _mm256_xor_si256(x, _mm256_srli_epi64(neg, 1))
    }
}

/// Coordinates `[j0, j0 + len)` of the M rows of a matrix, read without bounds checks
/// (the loads of the fused kernels are all in range by construction; the checks cost
/// about 4 instructions per row and group).
#[derive(Clone, Copy)]
pub(crate) struct Rows<T> {
    /// Coordinate j0 of row 0.
    base: *const T,
    /// Row stride (d).
    d: usize,
    /// Coordinates readable from j0.
    len: usize,
}

impl<T: crate::scalar::Scalar> Rows<T> {
    pub(crate) fn new(x: MatrixView<'_, T>, j0: usize, len: usize) -> Self {
        assert!(
            j0 + len <= x.d(),
            "coordinates {j0}..{} of {}",
            j0 + len,
            x.d()
        );
        Self {
            base: x.as_slice()[j0..].as_ptr(),
            d: x.d(),
            len,
        }
    }

    /// The 32 bytes of row w from coordinate c.
    ///
    /// # Safety
    /// The CPU must support AVX; w < m and c + 32 / size_of::<T>() <= len.
    #[inline(always)]
    unsafe fn load(&self, w: usize, c: usize) -> __m256i {
        debug_assert!(c + 32 / std::mem::size_of::<T>() <= self.len);
        // SAFETY: in range by the caller's contract (rows are d apart, j0 + len <= d).
        unsafe { _mm256_loadu_si256(self.base.add(w * self.d + c).cast()) }
    }

    /// The 64 bytes of row w from coordinate c.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F; w < m and c + 64 / size_of::<T>() <= len.
    #[inline(always)]
    pub(crate) unsafe fn load512(&self, w: usize, c: usize) -> __m512i {
        debug_assert!(c + 64 / std::mem::size_of::<T>() <= self.len);
        // SAFETY: as in `load`.
        unsafe { _mm512_loadu_si512(self.base.add(w * self.d + c).cast()) }
    }

    /// Asks for the cache line of each of the M rows `bytes` ahead of coordinate c.
    #[inline(always)]
    pub(crate) fn ahead<const M: usize>(&self, c: usize, bytes: usize) {
        let at = c + bytes / std::mem::size_of::<T>();
        for w in 0..M {
            // A prefetch has no effect on memory and never faults, so an address past the
            // row (or the buffer) is harmless; `wrapping_add` keeps the pointer valid Rust.
            let p = self.base.wrapping_add(w * self.d + at);
            // SAFETY: as above; SSE is baseline on x86-64.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
        }
    }
}

/// The f64 values of 8 f32 keys.
#[inline(always)]
pub(crate) fn vals32(k: __m256i) -> [__m256d; 2] {
    // SAFETY: as in `key32`.
    unsafe {
        let f = _mm256_castsi256_ps(key32(k));
        [
            _mm256_cvtps_pd(_mm256_castps256_ps128(f)),
            _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)),
        ]
    }
}

/// The f64 values of 4 f64 keys.
#[inline(always)]
pub(crate) fn vals64(k: __m256i) -> [__m256d; 1] {
    // SAFETY: as in `key32`.
    unsafe { [_mm256_castsi256_pd(key64(k))] }
}

/// Stores one register of bits into `o` (32 bytes, checked).
#[inline(always)]
fn store_bits<T>(o: &mut [T], k: __m256i) {
    assert_eq!(std::mem::size_of_val(o), 32, "one register");
    // SAFETY: writes the 32 bytes of `o`; AVX2 as in `key32`.
    unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), k) }
}

order_fused_kernel!(
    order_f32,
    order_f32_body,
    f32,
    8,
    2,
    key32,
    vals32,
    store32,
    cx32,
    _mm256_set1_epi32(i32::MAX),
    load,
    "avx2"
);
order_fused_kernel!(
    order_f64,
    order_f64_body,
    f64,
    4,
    1,
    key64,
    vals64,
    store64,
    cx64,
    _mm256_set1_epi64x(i64::MAX),
    load,
    "avx2"
);

/// Stores 8 f64 results as f32 (`as f32` rounding).
#[inline(always)]
fn store32(o: &mut [f32], r: [__m256d; 2]) {
    let o: &mut [f32; 8] = o.try_into().expect("8 lanes");
    // SAFETY: writes the 32 bytes of `o`; AVX2 as in `key32`.
    unsafe {
        let v = _mm256_set_m128(_mm256_cvtpd_ps(r[1]), _mm256_cvtpd_ps(r[0]));
        _mm256_storeu_ps(o.as_mut_ptr(), v);
    }
}

/// Stores 4 f64 results.
#[inline(always)]
fn store64(o: &mut [f64], r: [__m256d; 1]) {
    let o: &mut [f64; 4] = o.try_into().expect("4 lanes");
    // SAFETY: writes the 32 bytes of `o`; AVX2 as in `key32`.
    unsafe { _mm256_storeu_pd(o.as_mut_ptr(), r[0]) }
}

/// Lanes whose lowest and highest keys are equal (all m values equal), as a bit mask.
#[inline(always)]
fn equal32(a: __m256i, b: __m256i) -> u64 {
    // SAFETY: as in `key32`.
    unsafe { _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b))) as u64 }
}

/// Like [`equal32`] for 4 lanes of i64 keys.
#[inline(always)]
fn equal64(a: __m256i, b: __m256i) -> u64 {
    // SAFETY: as in `key32`.
    unsafe { _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(a, b))) as u64 }
}

/// The f64 values of 8 f32 bit patterns in memory (each half converted from memory).
#[inline(always)]
fn bits32(x: &__m256i) -> [__m256d; 2] {
    let p: *const f32 = (x as *const __m256i).cast();
    // SAFETY: reads the 32 bytes of `x`; AVX2 as in `key32`.
    unsafe {
        [
            _mm256_cvtps_pd(_mm_loadu_ps(p)),
            _mm256_cvtps_pd(_mm_loadu_ps(p.add(4))),
        ]
    }
}

/// The 4 f64 values of f64 bit patterns in memory.
#[inline(always)]
fn bits64(x: &__m256i) -> [__m256d; 1] {
    // SAFETY: as in `key32`.
    unsafe { [_mm256_castsi256_pd(*x)] }
}

/// Vector helpers of `phocas_fused_kernel`.
#[inline(always)]
fn splat(v: f64) -> __m256d {
    // SAFETY: as in `key32`.
    unsafe { _mm256_set1_pd(v) }
}
#[inline(always)]
fn add(a: __m256d, b: __m256d) -> __m256d {
    // SAFETY: as in `key32`.
    unsafe { _mm256_add_pd(a, b) }
}
#[inline(always)]
fn div(a: __m256d, b: __m256d) -> __m256d {
    // SAFETY: as in `key32`.
    unsafe { _mm256_div_pd(a, b) }
}
/// The lanes set in a compare result, as bits.
#[inline(always)]
fn lane_mask(m: __m256d) -> u64 {
    // SAFETY: as in `key32`.
    unsafe { _mm256_movemask_pd(m) as u64 }
}
/// The lanes where `y` or `s` is not finite, as bits.
#[inline(always)]
fn not_finite(y: __m256d, s: __m256d) -> u64 {
    // SAFETY: as in `key32`.
    unsafe {
        let abs = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
        let inf = _mm256_set1_pd(f64::INFINITY);
        let fin = _mm256_and_pd(
            _mm256_cmp_pd(_mm256_and_pd(y, abs), inf, _CMP_LT_OQ),
            _mm256_cmp_pd(_mm256_and_pd(s, abs), inf, _CMP_LT_OQ),
        );
        (!_mm256_movemask_pd(fin) & 0xf) as u64
    }
}

phocas_fused_kernel!(
    phocas_f32,
    phocas_f32_body,
    f32,
    8,
    2,
    key32,
    bits32,
    store32,
    equal32,
    cx32,
    _mm256_set1_epi32(i32::MAX),
    false,
    load,
    "avx2"
);
phocas_fused_kernel!(
    phocas_f64,
    phocas_f64_body,
    f64,
    4,
    1,
    key64,
    bits64,
    store64,
    equal64,
    cx64,
    _mm256_set1_epi64x(i64::MAX),
    true,
    load,
    "avx2"
);

use super::networks::{cx32, cx64};
use super::phocas::window;

//! The fused kernels of [`crate::aggregators::simd::avx2::fused`] on 512-bit registers, for the AVX-512 level: 16 lanes
//! of f32 keys (8 of f64, ordered by AVX-512's 64-bit min/max instead of a compare and two
//! blends) per register, so half the instructions per coordinate (a quarter for the f64
//! network). The same keys, the same network and the same f64 operations per lane in the
//! same order, so the same bits.

use crate::aggregators::layout::Finish;
use crate::matrix::MatrixView;
use std::arch::x86_64::*;

/// The f64 values of 16 f32 keys.
#[inline(always)]
pub(crate) fn vals32(k: __m512i) -> [__m512d; 2] {
    // SAFETY: only inlined into functions that run only on CPUs with AVX-512 F and DQ
    // (the kernels here and `avx512::phocas`'s).
    unsafe {
        let f = _mm512_castsi512_ps(key32(k));
        [
            _mm512_cvtps_pd(_mm512_castps512_ps256(f)),
            _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(f)),
        ]
    }
}

/// The f64 values of 8 f64 keys.
#[inline(always)]
pub(crate) fn vals64(k: __m512i) -> [__m512d; 1] {
    // SAFETY: as in `vals32`.
    unsafe { [_mm512_castsi512_pd(key64(k))] }
}

/// The f64 values of 16 f32 bit patterns in memory (each half converted from memory).
#[inline(always)]
fn bits32(x: &__m512i) -> [__m512d; 2] {
    let p: *const f32 = (x as *const __m512i).cast();
    // SAFETY: reads the 64 bytes of `x`; AVX-512 as in `vals32`.
    unsafe {
        [
            _mm512_cvtps_pd(_mm256_loadu_ps(p)),
            _mm512_cvtps_pd(_mm256_loadu_ps(p.add(8))),
        ]
    }
}

/// The 8 f64 values of f64 bit patterns in memory.
#[inline(always)]
fn bits64(x: &__m512i) -> [__m512d; 1] {
    // SAFETY: as in `vals32`.
    unsafe { [_mm512_castsi512_pd(*x)] }
}

/// Stores 16 f64 results as f32 (`as f32` rounding).
#[inline(always)]
fn store32(o: &mut [f32], r: [__m512d; 2]) {
    let o: &mut [f32; 16] = o.try_into().expect("16 lanes");
    // SAFETY: writes the 64 bytes of `o`; AVX-512 as in `vals32`.
    unsafe {
        let lo = _mm512_castps256_ps512(_mm512_cvtpd_ps(r[0]));
        let v = _mm512_insertf32x8::<1>(lo, _mm512_cvtpd_ps(r[1]));
        _mm512_storeu_ps(o.as_mut_ptr(), v);
    }
}

/// Stores 8 f64 results.
#[inline(always)]
fn store64(o: &mut [f64], r: [__m512d; 1]) {
    let o: &mut [f64; 8] = o.try_into().expect("8 lanes");
    // SAFETY: writes the 64 bytes of `o`; AVX-512 as in `vals32`.
    unsafe { _mm512_storeu_pd(o.as_mut_ptr(), r[0]) }
}

/// Lanes whose lowest and highest keys are equal (all m values equal), as a bit mask.
#[inline(always)]
fn equal32(a: __m512i, b: __m512i) -> u64 {
    // SAFETY: as in `vals32`.
    u64::from(unsafe { _mm512_cmpeq_epi32_mask(a, b) })
}

/// Like [`equal32`] for 8 lanes of i64 keys.
#[inline(always)]
fn equal64(a: __m512i, b: __m512i) -> u64 {
    // SAFETY: as in `vals32`.
    u64::from(unsafe { _mm512_cmpeq_epi64_mask(a, b) })
}

/// Vector helpers of `phocas_fused_kernel`.
#[inline(always)]
fn splat(v: f64) -> __m512d {
    // SAFETY: as in `vals32`.
    unsafe { _mm512_set1_pd(v) }
}
#[inline(always)]
fn add(a: __m512d, b: __m512d) -> __m512d {
    // SAFETY: as in `vals32`.
    unsafe { _mm512_add_pd(a, b) }
}
#[inline(always)]
fn div(a: __m512d, b: __m512d) -> __m512d {
    // SAFETY: as in `vals32`.
    unsafe { _mm512_div_pd(a, b) }
}
/// The lanes set in a mask, as bits.
#[inline(always)]
fn lane_mask(m: __mmask8) -> u64 {
    u64::from(m)
}
/// The lanes where `y` or `s` is not finite, as bits.
#[inline(always)]
fn not_finite(y: __m512d, s: __m512d) -> u64 {
    // SAFETY: as in `vals32`.
    unsafe {
        let abs = _mm512_castsi512_pd(_mm512_set1_epi64(i64::MAX));
        let inf = _mm512_set1_pd(f64::INFINITY);
        let fin = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_and_pd(y, abs), inf)
            & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_and_pd(s, abs), inf);
        u64::from(!fin)
    }
}

/// Stores one register of bits into `o` (64 bytes, checked).
#[inline(always)]
fn store_bits<T>(o: &mut [T], k: __m512i) {
    assert_eq!(std::mem::size_of_val(o), 64, "one register");
    // SAFETY: writes the 64 bytes of `o`; AVX-512 as in `vals32`.
    unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), k) }
}

order_fused_kernel!(
    order_f32,
    order_f32_body,
    f32,
    16,
    2,
    key32,
    vals32,
    store32,
    cx32,
    _mm512_set1_epi32(i32::MAX),
    load512,
    "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"
);
order_fused_kernel!(
    order_f64,
    order_f64_body,
    f64,
    8,
    1,
    key64,
    vals64,
    store64,
    cx64,
    _mm512_set1_epi64(i64::MAX),
    load512,
    "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"
);

phocas_fused_kernel!(
    phocas_f32,
    phocas_f32_body,
    f32,
    16,
    2,
    key32,
    bits32,
    store32,
    equal32,
    cx32,
    _mm512_set1_epi32(i32::MAX),
    false,
    load512,
    "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"
);
phocas_fused_kernel!(
    phocas_f64,
    phocas_f64_body,
    f64,
    8,
    1,
    key64,
    bits64,
    store64,
    equal64,
    cx64,
    _mm512_set1_epi64(i64::MAX),
    true,
    load512,
    "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"
);

use super::networks::{cx32, cx64, key32, key64};
use super::phocas::window;
use crate::aggregators::simd::avx2::fused::Rows;

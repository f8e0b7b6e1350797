//! AVX-512 keystream of the bulk normal sampler ([`super::normal`]): the ChaCha8 keystream (Bernstein 2008; 4 double rounds) 16 blocks at a time,
//!   one block per 32-bit lane, written in stream order with the words `rand_chacha`'s
//!   `ChaCha8Rng` gives (its layout: constants, the 32-byte seed, a 64-bit block counter, a 64-bit
//! stream id). `rand_chacha` computes 4 blocks at a time with AVX2.
//!
//! Cost: O(n) for n words. The sampler's tests compare it with `next_u64` word for word.
//! (An AVX-512 version of the ziggurat's first test, with table gathers, was slower than the
//! scalar loop and was dropped.)
//!
//! The only unsafe code of the sampler is here: [`keystream`] checks the CPU and returns
//! `false` (having done nothing) when it lacks AVX-512F.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

pub(super) fn available() -> bool {
    std::is_x86_feature_detected!("avx512f")
}

/// [`keystream_avx512`] if this CPU has AVX-512F and `out.len()` is a multiple of 128 (whole
/// groups of 16 blocks); `false` (and `out` untouched) otherwise.
pub(super) fn keystream(key: &[u32; 8], stream: u64, first: u64, out: &mut [u64]) -> bool {
    if !available() || !out.len().is_multiple_of(128) {
        return false;
    }
    // SAFETY: AVX-512F checked just above; the length is a multiple of 128
    unsafe { keystream_avx512(key, stream, first, out) };
    true
}

/// `a += b; d ^= a; d <<<= r` for the four steps of a quarter round.
macro_rules! step {
    ($x:ident, $a:expr, $b:expr, $d:expr, $r:literal) => {
        $x[$a] = _mm512_add_epi32($x[$a], $x[$b]);
        $x[$d] = _mm512_rol_epi32::<$r>(_mm512_xor_si512($x[$d], $x[$a]));
    };
}

/// One ChaCha quarter round on words (a, b, c, d) of 16 blocks.
macro_rules! quarter {
    ($x:ident, $a:expr, $b:expr, $c:expr, $d:expr) => {
        step!($x, $a, $b, $d, 16);
        step!($x, $c, $d, $b, 12);
        step!($x, $a, $b, $d, 8);
        step!($x, $c, $d, $b, 7);
    };
}

/// Writes keystream blocks `first, first + 1, ...` (the counter wraps at 2^64) of the ChaCha8
/// stream (`key`, `stream`) into `out`, 8 words of 64 bits (little-endian pairs of 32-bit
/// words) a block, so `out[8 b + i]` is what `next_u64` gives at word `16 b + 2 i` of the
/// stream. `out.len()` must be a multiple of 128 (16 blocks).
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn keystream_avx512(key: &[u32; 8], stream: u64, first: u64, out: &mut [u64]) {
    debug_assert_eq!(out.len() % 128, 0);
    const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let one = _mm512_set1_epi32(1);
    for (g, group) in out.chunks_exact_mut(128).enumerate() {
        let base = first.wrapping_add(16 * g as u64);
        let lo_base = _mm512_set1_epi32(base as u32 as i32);
        let lo = _mm512_add_epi32(lo_base, lanes);
        let carry = _mm512_cmplt_epu32_mask(lo, lo_base);
        let hi_base = _mm512_set1_epi32((base >> 32) as u32 as i32);
        let hi = _mm512_mask_add_epi32(hi_base, carry, hi_base, one);
        // constants, key, counter (per lane), stream id: rand_chacha's layout
        let mut words = [0u32; 16];
        words[..4].copy_from_slice(&SIGMA);
        words[4..12].copy_from_slice(key);
        words[14] = stream as u32;
        words[15] = (stream >> 32) as u32;
        let mut s = [_mm512_setzero_si512(); 16];
        for (v, &w) in s.iter_mut().zip(&words) {
            *v = _mm512_set1_epi32(w as i32);
        }
        (s[12], s[13]) = (lo, hi);
        let mut x = s;
        for _ in 0..4 {
            quarter!(x, 0, 4, 8, 12);
            quarter!(x, 1, 5, 9, 13);
            quarter!(x, 2, 6, 10, 14);
            quarter!(x, 3, 7, 11, 15);
            quarter!(x, 0, 5, 10, 15);
            quarter!(x, 1, 6, 11, 12);
            quarter!(x, 2, 7, 8, 13);
            quarter!(x, 3, 4, 9, 14);
        }
        for (v, s) in x.iter_mut().zip(s.iter()) {
            *v = _mm512_add_epi32(*v, *s);
        }
        // transpose: x[w] holds word w of blocks 0..16; block b's 16 words go to out[8 b..]
        let mut t = [_mm512_setzero_si512(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
        }
        // u[4 i + k], 128-bit lane l: words 4 i .. 4 i + 3 of block 4 l + k
        let mut u = [_mm512_setzero_si512(); 16];
        for i in 0..4 {
            u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
            u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
        }
        let p = group.as_mut_ptr() as *mut __m512i;
        for k in 0..4 {
            let (a, b, c, d) = (u[k], u[4 + k], u[8 + k], u[12 + k]);
            let ab_lo = _mm512_shuffle_i32x4::<0b01_00_01_00>(a, b);
            let ab_hi = _mm512_shuffle_i32x4::<0b11_10_11_10>(a, b);
            let cd_lo = _mm512_shuffle_i32x4::<0b01_00_01_00>(c, d);
            let cd_hi = _mm512_shuffle_i32x4::<0b11_10_11_10>(c, d);
            let blocks = [
                _mm512_shuffle_i32x4::<0b10_00_10_00>(ab_lo, cd_lo),
                _mm512_shuffle_i32x4::<0b11_01_11_01>(ab_lo, cd_lo),
                _mm512_shuffle_i32x4::<0b10_00_10_00>(ab_hi, cd_hi),
                _mm512_shuffle_i32x4::<0b11_01_11_01>(ab_hi, cd_hi),
            ];
            for (l, v) in blocks.iter().enumerate() {
                // SAFETY: block 4 l + k < 16 of this group of 128 u64 (16 blocks of 64 bytes);
                // unaligned store
                unsafe { _mm512_storeu_si512(p.add(4 * l + k), *v) };
            }
        }
    }
}

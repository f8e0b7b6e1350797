//! `C = A B` for row-major single-precision operands on AVX-512, without packing, with the bits
//! of `matrixmultiply`'s AVX-512 kernel (the one `nalgebra`'s `gemm` reaches on such a CPU).
//!
//! `matrixmultiply` 0.3 copies ("packs") both operands into panels inside every call. The
//! MLP's products are short (a batch of 32 rows against a 784 x 128 weight matrix) and the
//! weights are the same for every worker of a round, so the packing was a large share of a
//! training run (perf: 17% of both threads' samples against 28% in the kernel). Here the
//! kernel reads `A` (as stored or transposed) and `B` where they are: 12 rows of `A` by 32
//! columns of `B` (16 in a last narrow tile), 24 accumulators in registers, one broadcast of
//! `A` per row and two loads of `B` per step of k.
//!
//! Same bits: for each element, `matrixmultiply` sums the products over k in blocks of
//! [`KC`] = 256 (its `S_KC`), one fused multiply-add per product in k order from zero, and
//! adds the blocks' sums into `C` in order (`alpha = 1`: `C = ab` with beta 0, `C = ab + C`
//! with beta 1 and for every later block). This
//! kernel does the same operations in the same order (tested against `nalgebra`'s path,
//! `gemm::tests`). NaN payloads may differ (the order of a multiply's operands). The claim
//! holds for `matrixmultiply` built as this crate builds it: its default features, and no
//! `MATMUL_SGEMM_KC` in the environment of the build (which would change its block depth).
//!
//! Cost: 2 m n k flops, no extra memory.
//!
//! The only unsafe code of the objectives is here: [`gemm`] checks the CPU and the
//! operands' lengths against their shapes, then the kernel reads and writes inside them.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

/// `matrixmultiply`'s depth of a block of k (`archparam::S_KC`, single precision).
pub(super) const KC: usize = 256;
/// Rows of `A` per tile.
const MR: usize = 12;
/// Columns of `B` per tile (two 512-bit vectors); the last tile of a row may take 16.
const NR: usize = 32;
/// Columns of `n` must be a multiple of this (one 512-bit vector).
pub(super) const NV: usize = 16;

/// Whether [`gemm`] runs on this CPU: AVX-512 F, where `matrixmultiply` takes its
/// AVX-512 kernel (its test is the same, `avx512f`), and FMA, which every such CPU has.
pub(super) fn available() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma")
}

/// `C = A B` (`beta` 0: `C` is not read) or `C = A B + C` (`beta` 1), alpha 1: `A` `m x k`,
/// stored with rows `lda` apart (`a_t`: the buffer holds `A^T`, `k x m`, rows `lda` apart),
/// `B` `k x n` with rows `ldb` apart, `C` `m x n` with rows `ldc` apart; `n` a multiple of
/// [`NV`], `k >= 1`, and [`available`]. Panics otherwise, if a stride is below its row
/// length, or if a buffer is too short for its shape.
pub(super) fn gemm(
    (m, n, k): (usize, usize, usize),
    (a, lda, a_t): (&[f32], usize, bool),
    (b, ldb): (&[f32], usize),
    beta_one: bool,
    (c, ldc): (&mut [f32], usize),
) {
    assert!(available(), "gemm_avx512 needs AVX-512 F and FMA");
    assert!(
        n.is_multiple_of(NV) && k >= 1,
        "gemm_avx512: n = {n}, k = {k}"
    );
    if m == 0 || n == 0 {
        return;
    }
    // A(i, p) is at i * si + p * sp
    let (si, sp, a_len) = if a_t {
        assert!(lda >= m, "gemm_avx512: lda");
        (1, lda, (k - 1) * lda + m)
    } else {
        assert!(lda >= k, "gemm_avx512: lda");
        (lda, 1, (m - 1) * lda + k)
    };
    assert!(ldb >= n && ldc >= n, "gemm_avx512: strides");
    assert!(a.len() >= a_len, "gemm_avx512: A is short");
    assert!(b.len() >= (k - 1) * ldb + n, "gemm_avx512: B is short");
    assert!(c.len() >= (m - 1) * ldc + n, "gemm_avx512: C is short");
    // SAFETY: AVX-512 F and FMA were detected (asserted above); the lengths asserted above
    // hold every element the tiles read and write (`tiles` stays inside the m x n and m x k
    // and k x n shapes).
    unsafe { tiles((m, n, k), (a, si, sp), (b, ldb), beta_one, (c, ldc)) }
}

/// Every tile of `C`, then every block of k of it.
///
/// # Safety
/// AVX-512 F and FMA; the buffers as [`gemm`] asserts.
#[target_feature(enable = "avx512f,fma")]
unsafe fn tiles(
    (m, n, k): (usize, usize, usize),
    (a, si, sp): (&[f32], usize, usize),
    (b, ldb): (&[f32], usize),
    beta_one: bool,
    (c, ldc): (&mut [f32], usize),
) {
    // a direct call per row count and width, so that each tile is compiled with these
    // features
    macro_rules! by_rows {
        ($rows:expr, $v:literal, $args:tt, $($r:literal)*) => {
            match $rows {
                $($r => tile::<$r, $v>($args),)*
                _ => unreachable!("1 to MR rows"),
            }
        };
    }
    let mut j0 = 0;
    while j0 < n {
        let wide = n - j0 >= NR;
        let mut i0 = 0;
        while i0 < m {
            let rows = (m - i0).min(MR);
            for k0 in (0..k).step_by(KC) {
                let kc = (k - k0).min(KC);
                let args = (
                    kc,
                    // SAFETY: rows i0..i0 + rows end at most at m, columns j0..j0 + NR (when
                    // `wide`: n - j0 >= NR) or j0..j0 + NV (n - j0 >= NV, n a multiple of NV)
                    // at most at n, depths k0..k0 + kc at most at k: inside the shapes the
                    // caller's lengths cover.
                    (unsafe { a.as_ptr().add(i0 * si + k0 * sp) }, si, sp),
                    (unsafe { b.as_ptr().add(k0 * ldb + j0) }, ldb),
                    (unsafe { c.as_mut_ptr().add(i0 * ldc + j0) }, ldc),
                    // C is read from the second block on, or from the first with beta 1
                    k0 > 0 || beta_one,
                );
                // SAFETY: the pointers as above; the features are this function's.
                unsafe {
                    if wide {
                        by_rows!(rows, 2, args, 1 2 3 4 5 6 7 8 9 10 11 12)
                    } else {
                        by_rows!(rows, 1, args, 1 2 3 4 5 6 7 8 9 10 11 12)
                    }
                };
            }
            i0 += rows;
        }
        j0 += if wide { NR } else { NV };
    }
}

/// R rows x 16 V columns over `kc` steps of k: each accumulator starts at zero and takes one
/// FMA per step; then `C = acc`, or `C = acc + C` (`add`).
///
/// # Safety
/// AVX-512 F and FMA; `a` valid for R rows of `kc` values (element (i, p) at `i si + p sp`),
/// `b` for `kc` rows of 16 V values `ldb` apart, `c` for R rows of 16 V values `ldc` apart.
#[target_feature(enable = "avx512f,fma")]
#[allow(clippy::type_complexity)]
unsafe fn tile<const R: usize, const V: usize>(
    (kc, (a, si, sp), (b, ldb), (c, ldc), add): (
        usize,
        (*const f32, usize, usize),
        (*const f32, usize),
        (*mut f32, usize),
        bool,
    ),
) {
    // SAFETY (whole body): the pointer ranges are the caller's contract; the intrinsics
    // need AVX-512 F and FMA, which this function enables.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for p in 0..kc {
            let mut y = [_mm512_setzero_ps(); V];
            for (h, y) in y.iter_mut().enumerate() {
                *y = _mm512_loadu_ps(b.add(p * ldb + 16 * h));
            }
            for (i, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(i * si + p * sp));
                for (acc, &y) in acc.iter_mut().zip(&y) {
                    *acc = _mm512_fmadd_ps(x, y, *acc);
                }
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            for (h, &v) in acc.iter().enumerate() {
                let out = c.add(i * ldc + 16 * h);
                let v = if add {
                    _mm512_add_ps(v, _mm512_loadu_ps(out))
                } else {
                    v
                };
                _mm512_storeu_ps(out, v);
            }
        }
    }
}

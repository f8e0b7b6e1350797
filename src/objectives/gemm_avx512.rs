//! `C = A B` for row-major single-precision operands on AVX-512, without packing, with the bits
//! of `matrixmultiply`'s AVX-512 kernel (the one `nalgebra`'s `gemm` reaches on such a CPU).
//!
//! `matrixmultiply` 0.3 copies ("packs") both operands into panels inside every call. The
//! MLP's products are short (a batch of 32 rows against a 784 x 128 weight matrix) and the
//! weights are the same for every worker of a round, so the packing was a large share of a
//! training run (perf: 17% of both threads' samples against 28% in the kernel). Here the
//! kernel reads `A` and `B` where they are: 12 rows of `A` by 32 columns of `B`, 24
//! accumulators in registers, one broadcast of `A` per row and two loads of `B` per step of k.
//!
//! Same bits: for each element, `matrixmultiply` sums the products over k in blocks of
//! [`KC`] = 256 (its `S_KC`), one fused multiply-add per product in k order from zero, and
//! adds the blocks' sums into `C` in order (`alpha = 1`: `C = ab`, then `C = ab + C`). This
//! kernel does the same operations in the same order (tested against `nalgebra`'s path,
//! `gemm::tests`). NaN payloads may differ (the order of a multiply's operands).
//!
//! Cost: 2 m n k flops, no extra memory.
//!
//! The only unsafe code of the objectives is here: [`gemm_nn`] checks the CPU and the
//! operands' lengths against their shapes, then the kernel reads and writes inside them.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

/// `matrixmultiply`'s depth of a block of k (`archparam::S_KC`, single precision).
pub(super) const KC: usize = 256;
/// Rows of `A` per tile.
const MR: usize = 12;
/// Columns of `B` per tile (two 512-bit vectors).
pub(super) const NR: usize = 32;

/// Whether [`gemm_nn`] runs on this CPU: AVX-512 F, where `matrixmultiply` takes its
/// AVX-512 kernel (its test is the same, `avx512f`), and FMA, which every such CPU has.
pub(super) fn available() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma")
}

/// `C = A B` (alpha 1, beta 0: `C` is not read): `A` `m x k` with rows `lda` apart, `B`
/// `k x n` with rows `ldb` apart, `C` `m x n` with rows `ldc` apart; `n` a multiple of
/// [`NR`], `k >= 1`, and [`available`]. Panics if a buffer is too short for its shape.
pub(super) fn gemm_nn(
    (m, n, k): (usize, usize, usize),
    (a, lda): (&[f32], usize),
    (b, ldb): (&[f32], usize),
    (c, ldc): (&mut [f32], usize),
) {
    assert!(available(), "gemm_nn needs AVX-512 F and FMA");
    assert!(n.is_multiple_of(NR) && k >= 1, "gemm_nn: n = {n}, k = {k}");
    if m == 0 || n == 0 {
        return;
    }
    assert!(lda >= k && ldb >= n && ldc >= n, "gemm_nn: strides");
    assert!(a.len() >= (m - 1) * lda + k, "gemm_nn: A is short");
    assert!(b.len() >= (k - 1) * ldb + n, "gemm_nn: B is short");
    assert!(c.len() >= (m - 1) * ldc + n, "gemm_nn: C is short");
    // SAFETY: AVX-512 F and FMA were detected (asserted above); the lengths asserted above
    // hold every element the tiles read and write (`tiles` stays inside the m x n and m x k
    // and k x n shapes).
    unsafe { tiles((m, n, k), (a, lda), (b, ldb), (c, ldc)) }
}

/// Every tile of `C`, then every block of k of it.
///
/// # Safety
/// AVX-512 F and FMA; the buffers as [`gemm_nn`] asserts.
#[target_feature(enable = "avx512f,fma")]
unsafe fn tiles(
    (m, n, k): (usize, usize, usize),
    (a, lda): (&[f32], usize),
    (b, ldb): (&[f32], usize),
    (c, ldc): (&mut [f32], usize),
) {
    // a direct call per row count, so that each tile is compiled with these features
    macro_rules! by_rows {
        ($rows:expr, $args:tt, $($r:literal)*) => {
            match $rows {
                $($r => tile::<$r>($args),)*
                _ => unreachable!("1 to MR rows"),
            }
        };
    }
    for j0 in (0..n).step_by(NR) {
        let mut i0 = 0;
        while i0 < m {
            let rows = (m - i0).min(MR);
            for k0 in (0..k).step_by(KC) {
                let kc = (k - k0).min(KC);
                let args = (
                    kc,
                    // SAFETY: rows i0..i0 + rows < m, columns j0..j0 + NR <= n, depths
                    // k0..k0 + kc <= k: inside the shapes the caller's lengths cover.
                    unsafe { a.as_ptr().add(i0 * lda + k0) },
                    lda,
                    unsafe { b.as_ptr().add(k0 * ldb + j0) },
                    ldb,
                    unsafe { c.as_mut_ptr().add(i0 * ldc + j0) },
                    ldc,
                    k0 == 0,
                );
                // SAFETY: the pointers as above; the features are this function's.
                unsafe { by_rows!(rows, args, 1 2 3 4 5 6 7 8 9 10 11 12) };
            }
            i0 += rows;
        }
    }
}

/// R rows x [`NR`] columns over `kc` steps of k: each accumulator starts at zero and takes one
/// FMA per step; then `C = acc` (the first block) or `C = acc + C`.
///
/// # Safety
/// AVX-512 F and FMA; `a` valid for R rows of `kc` values `lda` apart, `b` for `kc` rows of
/// [`NR`] values `ldb` apart, `c` for R rows of [`NR`] values `ldc` apart.
#[target_feature(enable = "avx512f,fma")]
unsafe fn tile<const R: usize>(
    (kc, a, lda, b, ldb, c, ldc, first): (
        usize,
        *const f32,
        usize,
        *const f32,
        usize,
        *mut f32,
        usize,
        bool,
    ),
) {
    // SAFETY (whole body): the pointer ranges are the caller's contract; the intrinsics
    // need AVX-512 F and FMA, which this function enables.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for p in 0..kc {
            let b0 = _mm512_loadu_ps(b.add(p * ldb));
            let b1 = _mm512_loadu_ps(b.add(p * ldb + 16));
            for (i, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(i * lda + p));
                acc[0] = _mm512_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(x, b1, acc[1]);
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            for (h, &v) in acc.iter().enumerate() {
                let out = c.add(i * ldc + 16 * h);
                let v = if first {
                    v
                } else {
                    _mm512_add_ps(v, _mm512_loadu_ps(out))
                };
                _mm512_storeu_ps(out, v);
            }
        }
    }
}

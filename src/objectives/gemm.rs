//! Single-precision matrix products on row-major buffers, shared by the MLP and the CNN:
//! nalgebra's `gemm` on strided views (it calls `matrixmultiply::sgemm`, which packs its
//! operands and picks AVX2/FMA/AVX-512 kernels at run time), so a transposed operand costs
//! nothing. On AVX-512 CPUs, `C = op(A) B (+ C)` with `B` as stored (alpha 1, beta 0 or 1,
//! m, n, k above 5, n a multiple of 16) skips the packing: `gemm_avx512` computes it with the
//! same bits.
//! Cost: 2 m n k flops; deterministic (the same operands give the same bits on any thread).

use nalgebra::{Dyn, MatrixView, MatrixViewMut};

/// How a row-major buffer is used as a GEMM operand: `N` as stored, `T` transposed (the buffer
/// holds the transpose of the operand, row-major).
#[derive(Clone, Copy)]
pub enum Op {
    /// As stored.
    N,
    /// Transposed.
    T,
}

/// `C = alpha * op(A) op(B) + beta * C` on row-major buffers: `op(A)` is `m x k`, `op(B)` is
/// `k x n`, `C` is `m x n`. With `Op::T` the buffer holds the transpose, row-major. If
/// `beta == 0`, `C` is not read.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    op_a: Op,
    b: &[f32],
    op_b: Op,
    beta: f32,
    c: &mut [f32],
) {
    let lda = match op_a {
        Op::N => k,
        Op::T => m,
    };
    let ldb = match op_b {
        Op::N => n,
        Op::T => k,
    };
    gemm_ld(
        m,
        n,
        k,
        alpha,
        Operand::new(a, op_a, lda),
        Operand::new(b, op_b, ldb),
        beta,
        c,
        n,
    );
}

/// A GEMM operand: a row-major buffer used as stored (`Op::N`) or transposed (`Op::T`), whose
/// stored rows start `ld` values apart (`ld` at least the stored row length), so a block of
/// columns of a wider matrix is an operand without a copy.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    buf: &'a [f32],
    op: Op,
    ld: usize,
}

impl<'a> Operand<'a> {
    /// `buf` used as `op` says, its stored rows `ld` values apart.
    pub fn new(buf: &'a [f32], op: Op, ld: usize) -> Self {
        Operand { buf, op, ld }
    }
    /// (row stride, column stride) of the operand as used.
    fn strides(&self) -> (usize, usize) {
        match self.op {
            Op::N => (self.ld, 1),
            Op::T => (1, self.ld),
        }
    }
    /// Element (`i`, `j`) of the operand as used.
    fn at(&self, i: usize, j: usize) -> f32 {
        let (rs, cs) = self.strides();
        self.buf[i * rs + j * cs]
    }
    /// The view of the `rows x cols` operand.
    fn view(&self, rows: usize, cols: usize) -> MatrixView<'a, f32, Dyn, Dyn, Dyn, Dyn> {
        let stored_row = match self.op {
            Op::N => cols,
            Op::T => rows,
        };
        debug_assert!(
            self.ld >= stored_row,
            "ld {} < stored row {stored_row}",
            self.ld
        );
        let (rs, cs) = self.strides();
        let len = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        };
        MatrixView::from_slice_with_strides_generic(
            &self.buf[..len],
            Dyn(rows),
            Dyn(cols),
            Dyn(rs),
            Dyn(cs),
        )
    }
}

/// [`gemm`] on operands with any row stride and on a `C` whose rows start `ldc` values apart
/// (`ldc >= n`): `C = alpha * op(A) op(B) + beta * C`, `op(A)` `m x k`, `op(B)` `k x n`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_ld(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Operand,
    b: Operand,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    debug_assert!(ldc >= n, "ldc {ldc} < n {n}");
    if m == 0 || n == 0 {
        return;
    }
    let clen = (m - 1) * ldc + n;
    if m <= SMALL_DIM || n <= SMALL_DIM || k <= SMALL_DIM {
        // nalgebra hands products with a dimension <= 5 to a gemv loop that mishandles
        // non-unit strides (nalgebra 0.33.3, `axcpy_uninit`); such tiny products are cheap,
        // so they are done here.
        return gemm_small((m, n, k), alpha, (a, b), beta, (&mut c[..clen], ldc));
    }
    #[cfg(target_arch = "x86_64")]
    if alpha == 1.0
        && (beta == 0.0 || beta == 1.0)
        && matches!(b.op, Op::N)
        && n.is_multiple_of(super::gemm_avx512::NV)
        && super::gemm_avx512::available()
    {
        let a_t = matches!(a.op, Op::T);
        return super::gemm_avx512::gemm(
            (m, n, k),
            (a.buf, a.ld, a_t),
            (b.buf, b.ld),
            beta == 1.0,
            (c, ldc),
        );
    }
    gemm_nalgebra((m, n, k), alpha, (a, b), beta, (&mut c[..clen], ldc));
}

/// [`gemm_ld`] through nalgebra (`matrixmultiply`), for dimensions above [`SMALL_DIM`].
fn gemm_nalgebra(
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    (a, b): (Operand, Operand),
    beta: f32,
    (c, ldc): (&mut [f32], usize),
) {
    let clen = c.len();
    let (av, bv) = (a.view(m, k), b.view(k, n));
    let mut c = MatrixViewMut::from_slice_with_strides_generic(
        &mut c[..clen],
        Dyn(m),
        Dyn(n),
        Dyn(ldc),
        Dyn(1),
    );
    c.gemm(alpha, &av, &bv, beta);
}

/// nalgebra calls `matrixmultiply` only when all of `m`, `n`, `k` exceed this.
const SMALL_DIM: usize = 5;

/// Plain triple loop for products with a tiny dimension: [`gemm_ld`] with `dims = (m, n, k)`,
/// `ops = (a, b)` and `(c, ldc)`.
fn gemm_small(
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    (a, b): (Operand, Operand),
    beta: f32,
    (c, ldc): (&mut [f32], usize),
) {
    for i in 0..m {
        for j in 0..n {
            let s: f32 = (0..k).map(|l| a.at(i, l) * b.at(l, j)).sum();
            let cv = &mut c[i * ldc + j];
            *cv = if beta == 0.0 {
                alpha * s
            } else {
                alpha * s + beta * *cv
            };
        }
    }
}

/// The unpacked route exists on x86-64 only; elsewhere every product is nalgebra's.
#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Values of many magnitudes (the products and sums round at every step), from the
    /// project's seeded streams.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        use crate::rng::{hash_str, stream};
        use rand::Rng as _;
        let mut rng = stream(seed, hash_str("gemm test values"), 0);
        (0..len)
            .map(|_| {
                let u = rng.random::<f32>() - 0.5;
                u * [1.0f32, 1e-3, 37.0, 1e4][rng.random_range(0..4)]
            })
            .collect()
    }

    /// The unpacked AVX-512 route gives `matrixmultiply`'s bits: the MLP's products, shapes
    /// around the tile sizes, `A` as stored and transposed, beta 0 and 1, and row strides wider
    /// than the rows.
    #[test]
    fn the_avx512_route_has_the_bits_of_matrixmultiply() {
        if !super::super::gemm_avx512::available() {
            eprintln!("no AVX-512 on this CPU: the route is not taken, nothing to compare");
            return;
        }
        let mut checked = 0;
        for &(m, n, k, a_t, beta) in &[
            // the MLP's: forward, eval, d1 and d2, then gW1, gW2, gW3 (beta 1 accumulates)
            (32, 128, 784, false, 0.0),
            (256, 128, 784, false, 0.0),
            (32, 128, 128, false, 0.0),
            (32, 128, 10, false, 0.0),
            (128, 784, 32, true, 0.0),
            (128, 784, 32, true, 1.0),
            (128, 128, 32, true, 1.0),
            (10, 128, 32, true, 0.0),
            // around the tile sizes (12 rows, 32 or 16 columns, blocks of 256 in k)
            (16, 128, 784, false, 1.0),
            (6, 32, 6, false, 0.0),
            (7, 64, 255, true, 0.0),
            (12, 16, 256, false, 0.0),
            (13, 96, 257, false, 1.0),
            (25, 48, 513, true, 1.0),
            (37, 160, 300, false, 0.0),
        ] {
            for pad in [0usize, 3] {
                let op = if a_t { Op::T } else { Op::N };
                let (stored, lda) = if a_t { (k, m + pad) } else { (m, k + pad) };
                let (ldb, ldc) = (n + 2 * pad, n + pad);
                let a = values((stored - 1) * lda + lda - pad, (m * 7 + k) as u64);
                let b = values((k - 1) * ldb + n, (n * 5 + k) as u64);
                let mut fast = values((m - 1) * ldc + n, (m + n) as u64);
                for i in 0..m - 1 {
                    fast[i * ldc + n..(i + 1) * ldc].fill(f32::NAN);
                }
                let mut reference = fast.clone();
                gemm_ld(
                    m,
                    n,
                    k,
                    1.0,
                    Operand::new(&a, op, lda),
                    Operand::new(&b, Op::N, ldb),
                    beta,
                    &mut fast,
                    ldc,
                );
                gemm_nalgebra(
                    (m, n, k),
                    1.0,
                    (Operand::new(&a, op, lda), Operand::new(&b, Op::N, ldb)),
                    beta,
                    (&mut reference, ldc),
                );
                for i in 0..m {
                    for j in 0..n {
                        let (x, y) = (fast[i * ldc + j], reference[i * ldc + j]);
                        assert_eq!(
                            x.to_bits(),
                            y.to_bits(),
                            "{m}x{n}x{k} A^T {a_t} beta {beta} pad {pad} at ({i}, {j}): {x} vs {y}"
                        );
                        checked += 1;
                    }
                }
                // the gaps between C's rows are not written
                for i in 0..m - 1 {
                    assert!(fast[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()));
                }
            }
        }
        assert!(checked > 100_000);
    }
}

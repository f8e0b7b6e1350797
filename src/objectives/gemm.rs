//! Single-precision matrix products on row-major buffers, shared by the MLP and the CNN:
//! nalgebra's `gemm` on strided views (it calls `matrixmultiply::sgemm`, which packs its
//! operands and picks AVX2/FMA kernels at run time), so a transposed operand costs nothing.
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

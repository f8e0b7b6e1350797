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
    if m <= SMALL_DIM || n <= SMALL_DIM || k <= SMALL_DIM {
        // nalgebra hands products with a dimension <= 5 to a gemv loop that mishandles
        // non-unit strides (nalgebra 0.33.3, `axcpy_uninit`); such tiny products are cheap,
        // so they are done here.
        return gemm_small(m, n, k, alpha, a, op_a, b, op_b, beta, c);
    }
    let (ars, acs) = match op_a {
        Op::N => (k, 1),
        Op::T => (1, m),
    };
    let (brs, bcs) = match op_b {
        Op::N => (n, 1),
        Op::T => (1, k),
    };
    let a = MatrixView::from_slice_with_strides_generic(
        &a[..m * k],
        Dyn(m),
        Dyn(k),
        Dyn(ars),
        Dyn(acs),
    );
    let b = MatrixView::from_slice_with_strides_generic(
        &b[..k * n],
        Dyn(k),
        Dyn(n),
        Dyn(brs),
        Dyn(bcs),
    );
    let mut c = MatrixViewMut::from_slice_with_strides_generic(
        &mut c[..m * n],
        Dyn(m),
        Dyn(n),
        Dyn(n),
        Dyn(1),
    );
    c.gemm(alpha, &a, &b, beta);
}

/// nalgebra calls `matrixmultiply` only when all of `m`, `n`, `k` exceed this.
const SMALL_DIM: usize = 5;

/// Plain triple loop for products with a tiny dimension (same contract as [`gemm`]).
#[allow(clippy::too_many_arguments)]
fn gemm_small(
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
    let at = |i: usize, l: usize| match op_a {
        Op::N => a[i * k + l],
        Op::T => a[l * m + i],
    };
    let bt = |l: usize, j: usize| match op_b {
        Op::N => b[l * n + j],
        Op::T => b[j * k + l],
    };
    for i in 0..m {
        for j in 0..n {
            let s: f32 = (0..k).map(|l| at(i, l) * bt(l, j)).sum();
            let cv = &mut c[i * n + j];
            *cv = if beta == 0.0 {
                alpha * s
            } else {
                alpha * s + beta * *cv
            };
        }
    }
}

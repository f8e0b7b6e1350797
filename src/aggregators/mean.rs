//! Mean: the coordinate-wise average of all m vectors.
//!
//! Not Byzantine resilient: one arbitrary value per coordinate moves it arbitrarily far
//! (Proposition 1), and NaN or infinity propagate, which the workbench uses to show that.
//! Time: O(dm); extra space: 8192 f64 accumulators per thread.

use super::kernels::Keyed;
use super::layout::for_chunks;
use super::simd::with_isa;
use super::TypedRule;
use super::{check_shape, reject, Aggregator, RuleParams, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::scalar::Scalar;

/// Coordinates per span: each row is read in runs of SPAN values (32 KiB of f32), long
/// enough for the hardware prefetchers, into f64 accumulators (64 KiB) that stay in L2.
/// Eight rows per pass read at the speed of a plain read
/// (`reports/PERF.md`).
const SPAN: usize = 8192;

/// Rows added per pass over the accumulators.
const FUSE: usize = 8;

/// The averaging rule.
#[derive(Clone, Debug)]
pub struct Mean {
    m: usize,
}

impl Mean {
    /// Mean for m workers.
    pub fn new(m: usize) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        Ok(Self { m })
    }
}

/// Averages the rows of `x` (or only the rows listed in `rows`, in that order) into `out`,
/// accumulating each coordinate in f64 from -0.0 (so rows of -0.0 average to -0.0) in row
/// order, in parallel chunks.
/// Bit-identical for any thread count.
pub(crate) fn mean_rows<T: Scalar>(
    x: MatrixView<'_, T>,
    rows: Option<&[usize]>,
    ws: &Workspace,
    out: &mut [T],
) {
    let n = rows.map_or(x.m(), <[usize]>::len);
    // About 2^18 values per chunk: enough work to amortise a task, several chunks per thread.
    let chunk = ((1usize << 18) / n.max(1)).max(SPAN).next_multiple_of(SPAN);
    for_chunks(out, chunk, |c, o| {
        ws.with_scratch(|s| {
            if s.acc.len() < SPAN {
                s.acc.resize(SPAN, 0.0);
            }
            with_isa(
                #[inline(always)]
                || mean_chunk(x, rows, c * chunk, o, n, &mut s.acc),
            );
        });
    });
}

#[inline(always)]
fn mean_chunk<T: Scalar>(
    x: MatrixView<'_, T>,
    rows: Option<&[usize]>,
    j0: usize,
    out: &mut [T],
    n: usize,
    acc: &mut [f64],
) {
    let row = |r: usize, j: usize, w: usize| {
        let i = rows.map_or(r, |rs| rs[r]);
        &x.row(i)[j..j + w]
    };
    for (t, o) in out.chunks_mut(SPAN).enumerate() {
        let (j, w) = (j0 + t * SPAN, o.len());
        let acc = &mut acc[..w];
        let mut r = 0;
        while r + FUSE <= n {
            add_rows::<T, FUSE>(acc, std::array::from_fn(|k| row(r + k, j, w)), r == 0);
            r += FUSE;
        }
        while r + 2 <= n {
            add_rows::<T, 2>(acc, std::array::from_fn(|k| row(r + k, j, w)), r == 0);
            r += 2;
        }
        if r < n {
            add_rows::<T, 1>(acc, [row(r, j, w)], r == 0);
        }
        for (v, a) in o.iter_mut().zip(acc.iter()) {
            // Divide (not multiply by 1/n): one rounding, so m equal rows average to that row.
            *v = T::from_f64(*a / n as f64);
        }
        if std::mem::size_of::<T>() == 8 {
            rescue_overflow(o, j, n, &row);
        }
    }
}

/// f64 storage: a sum of finite values near f64::MAX can overflow although their mean is
/// finite. Such coordinates are summed again, in the same order, on the values scaled by a
/// power of two 2^-s (2^s >= 2n), and the mean scaled back: the same roundings without the
/// overflow, except where the scaling makes values subnormal (which matters only if huge
/// values cancel down to tiny ones). A mean that stays non-finite (an infinity or NaN among
/// the values) is kept.
#[cold]
#[inline(never)]
fn rescue_overflow<'a, T: Scalar>(
    out: &mut [T],
    j0: usize,
    n: usize,
    row: &impl Fn(usize, usize, usize) -> &'a [T],
) {
    let (down, up) = super::selection::overflow_scale(n);
    for (t, v) in out.iter_mut().enumerate() {
        if v.to_f64().is_finite() {
            continue;
        }
        let mut s = -0.0;
        for r in 0..n {
            s += row(r, j0 + t, 1)[0].to_f64() * down;
        }
        let mean = s / n as f64 * up;
        if mean.is_finite() {
            *v = T::from_f64(mean);
        }
    }
}

/// `acc[j] = (..(acc[j] + rows[0][j]) + rows[1][j]) ..)`, starting from -0.0 instead of
/// `acc[j]` when `first`: K rows per pass over the accumulators, in row order, so the sum is
/// the same as adding one row at a time.
#[inline(always)]
fn add_rows<T: Scalar, const K: usize>(acc: &mut [f64], rows: [&[T]; K], first: bool) {
    let w = acc.len();
    let rows = rows.map(|r| &r[..w]);
    for (j, a) in acc.iter_mut().enumerate() {
        let mut s = if first { -0.0 } else { *a };
        for r in rows {
            s += r[j].to_f64();
        }
        *a = s;
    }
}

pub(super) fn build(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    reject("mean", "b", p.b.is_some(), "no parameters")?;
    reject("mean", "q", p.q.is_some(), "no parameters")?;
    reject("mean", "k", p.k.is_some(), "no parameters")?;
    Ok(Box::new(Mean::new(m)?))
}

impl TypedRule for Mean {
    fn name(&self) -> &'static str {
        "mean"
    }
    fn label(&self) -> String {
        "mean".into()
    }
    fn sorted_column(&self, sorted: &[f64]) -> Option<f64> {
        (!sorted.is_empty()).then(|| super::window_mean(sorted, 0, sorted.len()))
    }
    fn monotone(&self) -> bool {
        true
    }
    fn m(&self) -> usize {
        self.m
    }
    fn run_typed<T: Keyed>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
    ) -> Result<(), Error> {
        check_shape(self.m, &x, out.len())?;
        mean_rows(x, None, ws, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::AggregateExt;

    #[test]
    fn hand_computed() {
        let x = [1.0f64, 2.0, 3.0, 4.0, 5.0, 9.0];
        let r = Mean::new(3).unwrap();
        let out = r.aggregate(MatrixView::new(&x, 3, 2).unwrap()).unwrap();
        assert_eq!(out, vec![3.0, 5.0]);
    }

    #[test]
    fn nan_propagates() {
        let x = [1.0f32, f32::NAN, 3.0];
        let out = Mean::new(3)
            .unwrap()
            .aggregate(MatrixView::new(&x, 3, 1).unwrap())
            .unwrap();
        assert!(out[0].is_nan());
    }
}

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
    let level = ws.level();
    for_chunks(out, chunk, |c, o| match rows {
        // a few listed rows (a bucket): one pass, no accumulators
        Some(rows) if rows.len() <= DIRECT_MAX => mean_columns(x, rows, c * chunk, ws, o),
        _ => ws.with_scratch(|s| {
            if s.acc.len() < SPAN {
                s.acc.resize(SPAN, 0.0);
            }
            with_isa(
                level,
                #[inline(always)]
                || mean_chunk(x, rows, c * chunk, o, n, &mut s.acc),
            );
        }),
    });
}

/// Most rows that [`mean_columns`] averages in one pass without accumulators.
const DIRECT_MAX: usize = 8;

/// [`mean_rows`] of the rows `rows` (in that order) on the columns j0..j0 + out.len() only, in
/// the calling thread: the same bits as those columns of [`mean_rows`] (each coordinate is
/// summed on its own, in row order). Up to [`DIRECT_MAX`] rows (buckets) go through
/// [`mean_direct`] in one pass; more through the accumulators of [`mean_chunk`].
pub(crate) fn mean_columns<T: Scalar>(
    x: MatrixView<'_, T>,
    rows: &[usize],
    j0: usize,
    ws: &Workspace,
    out: &mut [T],
) {
    let w = out.len();
    let row = |r: usize, j: usize, w: usize| &x.row(rows[r])[j..j + w];
    macro_rules! direct {
        ($($k:literal)*) => {
            match rows.len() {
                $($k => with_isa(
                    ws.level(),
                    #[inline(always)]
                    || mean_direct::<T, $k>(std::array::from_fn(|r| row(r, j0, w)), out),
                ),)*
                _ => {
                    return ws.with_scratch(|s| {
                        if s.acc.len() < SPAN {
                            s.acc.resize(SPAN, 0.0);
                        }
                        with_isa(
                            ws.level(),
                            #[inline(always)]
                            || mean_chunk(x, Some(rows), j0, out, rows.len(), &mut s.acc),
                        );
                    })
                }
            }
        };
    }
    direct!(1 2 3 4 5 6 7 8); // DIRECT_MAX
    if std::mem::size_of::<T>() == 8 {
        rescue_overflow(out, j0, rows.len(), &row);
    }
}

/// The mean of K rows (a bucket) in one pass and no accumulator array: the sum of each
/// coordinate from -0.0 in row order, divided by K, as [`mean_chunk`] computes it (before its
/// overflow rescue).
#[inline(always)]
fn mean_direct<T: Scalar, const K: usize>(rows: [&[T]; K], out: &mut [T]) {
    let w = out.len();
    let rows = rows.map(|r| &r[..w]);
    for (j, o) in out.iter_mut().enumerate() {
        let mut s = -0.0f64;
        for r in rows {
            s += r[j].to_f64();
        }
        *o = T::from_f64(s / K as f64);
    }
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

/// Columns per pass of [`mean_of_means`]: each row is read in runs of 8192 values, as Mean's
/// [`SPAN`], into f64 accumulators (64 KiB) that stay in L2 (2048 was slower, measured with
/// one bucket per pass).
const BUCKET_SPAN: usize = 8192;

/// Mean of the means of the row groups `group(0)`, ..., `group(n - 1)` (bucketing, then
/// Mean) in one read of the matrix: the bits of [`mean_columns`] on each group (each group's
/// mean rounded to `T`) followed by [`mean_rows`] on the n x d matrix of those means, which is
/// never written. Each coordinate of a group is summed from -0.0 in the group's row order and
/// divided by its size, rounded to `T`, and the rounded means are added from -0.0 in group
/// order and divided by n. f64 storage: a coordinate whose result is not finite may have
/// taken a rescue of an overflowing sum ([`rescue_overflow`]) in the two-step computation, so
/// it is computed again that way ([`non_finite_columns`]). Time: O(d m), one pass; extra
/// space: [`BUCKET_SPAN`] f64 per thread.
pub(crate) fn mean_of_means<'g, T: Scalar>(
    x: MatrixView<'_, T>,
    n: usize,
    group: &(impl Fn(usize) -> &'g [usize] + Sync),
    ws: &Workspace,
    out: &mut [T],
) {
    if n == 0 {
        return;
    }
    let chunk = ((1usize << 18) / x.m().max(1))
        .max(BUCKET_SPAN)
        .next_multiple_of(BUCKET_SPAN);
    let level = ws.level();
    for_chunks(out, chunk, |c, o| {
        ws.with_scratch(|s| {
            if s.acc.len() < BUCKET_SPAN {
                s.acc.resize(BUCKET_SPAN, 0.0);
            }
            with_isa(
                level,
                #[inline(always)]
                || means_chunk(x, n, group, c * chunk, o, &mut s.acc),
            );
        });
        if std::mem::size_of::<T>() == 8 {
            non_finite_columns(x, n, group, c * chunk, o);
        }
    });
}

/// [`mean_of_means`] on the columns j0..j0 + out.len(), in the calling thread: per span of
/// [`BUCKET_SPAN`] columns, the groups' rounded means added into `acc` in group order, B
/// groups of K rows per pass where the groups are whole, the rest one at a time.
#[inline(always)]
fn means_chunk<'g, T: Scalar>(
    x: MatrixView<'_, T>,
    n: usize,
    group: &impl Fn(usize) -> &'g [usize],
    j0: usize,
    out: &mut [T],
    acc: &mut [f64],
) {
    for (t, o) in out.chunks_mut(BUCKET_SPAN).enumerate() {
        let (j, w) = (j0 + t * BUCKET_SPAN, o.len());
        let acc = &mut acc[..w];
        let mut r = 0;
        // B groups of K rows per pass over the accumulators (at most 8 rows, as Mean's
        // passes): a group's mean rounded to T, then added, group after group
        macro_rules! fold {
            ($($k:literal => $b:literal),*) => {
                match group(0).len() {
                    $($k => {
                        let b: usize = $b;
                        while r + b <= n && group(r + b - 1).len() == $k {
                            let rows: [[&[T]; $k]; $b] = std::array::from_fn(|g| {
                                let rows = group(r + g);
                                std::array::from_fn(|k| &x.row(rows[k])[j..j + w])
                            });
                            add_means::<T, $k, $b>(acc, rows, r == 0);
                            r += $b;
                        }
                        while r < n && group(r).len() == $k {
                            let rows = group(r);
                            let rows = [std::array::from_fn(|k| &x.row(rows[k])[j..j + w])];
                            add_means::<T, $k, 1>(acc, rows, r == 0);
                            r += 1;
                        }
                    })*
                    _ => {}
                }
            };
        }
        fold!(1 => 8, 2 => 4, 3 => 2, 4 => 2, 5 => 1, 6 => 1, 7 => 1, 8 => 1);
        // the rest one group at a time: a smaller last group, or groups of more than 8 rows
        while r < n {
            let rows = group(r);
            let row = |k: usize| &x.row(rows[k])[j..j + w];
            add_long_mean(acc, rows.len(), &row, r == 0);
            r += 1;
        }
        for (v, a) in o.iter_mut().zip(acc.iter()) {
            *v = T::from_f64(*a / n as f64);
        }
    }
}

/// `acc[j]` (or -0.0 when first) plus the means of B groups of K rows at j, each rounded to
/// T as [`mean_direct`] rounds it, added in group order.
#[inline(always)]
fn add_means<T: Scalar, const K: usize, const B: usize>(
    acc: &mut [f64],
    groups: [[&[T]; K]; B],
    first: bool,
) {
    let w = acc.len();
    let groups = groups.map(|g| g.map(|r| &r[..w]));
    for (j, a) in acc.iter_mut().enumerate() {
        let mut t = if first { -0.0 } else { *a };
        for g in &groups {
            let mut s = -0.0f64;
            for r in g {
                s += r[j].to_f64();
            }
            t += T::from_f64(s / K as f64).to_f64();
        }
        *a = t;
    }
}

/// [`add_means`] for one group of any k rows, one coordinate at a time (the sums of
/// [`mean_chunk`]: from -0.0 in row order).
#[inline(always)]
fn add_long_mean<'a, T: Scalar + 'a>(
    acc: &mut [f64],
    k: usize,
    row: &impl Fn(usize) -> &'a [T],
    first: bool,
) {
    for (j, a) in acc.iter_mut().enumerate() {
        let mut s = -0.0f64;
        for r in 0..k {
            s += row(r)[j].to_f64();
        }
        let mean = T::from_f64(s / k as f64).to_f64();
        *a = if first { -0.0 } else { *a } + mean;
    }
}

/// Columns per pass of [`non_finite_columns`].
const FLAG_SPAN: usize = 2048;

/// f64 storage: the coordinates of `out` (columns j0..) whose one-pass result is not finite,
/// made as the two steps make them. A column holding a NaN or an infinity has a result those
/// decide (a group holding +inf has mean +inf, rescued or not, and so has the mean of the
/// means, unless a NaN or a -inf is there too: NaN), found by one vectorised pass over the
/// rows of the span; only the others (finite values whose sums overflow) take [`two_step`].
#[cold]
#[inline(never)]
fn non_finite_columns<'g, T: Scalar>(
    x: MatrixView<'_, T>,
    n: usize,
    group: &impl Fn(usize) -> &'g [usize],
    j0: usize,
    out: &mut [T],
) {
    const NAN: u8 = 1;
    const POS: u8 = 2;
    const NEG: u8 = 4;
    for (k, o) in out.chunks_mut(FLAG_SPAN).enumerate() {
        if o.iter().all(|v| v.to_f64().is_finite()) {
            continue;
        }
        let (j, w) = (j0 + k * FLAG_SPAN, o.len());
        let mut flags = [0u8; FLAG_SPAN];
        for i in 0..x.m() {
            for (f, v) in flags[..w].iter_mut().zip(&x.row(i)[j..j + w]) {
                let v = v.to_f64();
                *f |= (u8::from(v.is_nan()) * NAN)
                    | (u8::from(v == f64::INFINITY) * POS)
                    | (u8::from(v == f64::NEG_INFINITY) * NEG);
            }
        }
        for (t, v) in o.iter_mut().enumerate() {
            if v.to_f64().is_finite() {
                continue;
            }
            *v = match flags[t] {
                0 => two_step(x, n, group, j + t),
                POS => T::from_f64(f64::INFINITY),
                NEG => T::from_f64(f64::NEG_INFINITY),
                _ => T::from_f64(f64::NAN),
            };
        }
    }
}

/// Coordinate j of [`mean_of_means`] the two-step way, with both rescues (f64 storage: a
/// coordinate whose one-pass result is not finite and that [`non_finite_columns`] did not
/// decide), in scalar loops without allocation: group r's mean as [`mean_columns`] makes it,
/// with [`rescue_overflow`], and their mean as [`mean_rows`] on the means, rescued the same
/// way (the group means made a second time). O(m) per coordinate.
#[cold]
#[inline(never)]
fn two_step<'g, T: Scalar>(
    x: MatrixView<'_, T>,
    n: usize,
    group: &impl Fn(usize) -> &'g [usize],
    j: usize,
) -> T {
    let mean_of = |r: usize| -> f64 {
        let rows = group(r);
        let k = rows.len();
        let mut s = -0.0f64;
        for &i in rows {
            s += x.row(i)[j].to_f64();
        }
        let mut mean = [T::from_f64(s / k as f64)];
        rescue_overflow(&mut mean, j, k, &|r, j, w| &x.row(rows[r])[j..j + w]);
        mean[0].to_f64()
    };
    let mut s = -0.0f64;
    for r in 0..n {
        s += mean_of(r);
    }
    let mean = T::from_f64(s / n as f64);
    if mean.to_f64().is_finite() {
        return mean;
    }
    let (down, up) = super::selection::overflow_scale(n);
    let mut s = -0.0f64;
    for r in 0..n {
        s += mean_of(r) * down;
    }
    let rescued = s / n as f64 * up;
    if rescued.is_finite() {
        T::from_f64(rescued)
    } else {
        mean
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

    /// Hostile values for the tests: NaN, infinities, values whose f64 sums overflow, -0.0,
    /// subnormals, ties, and ordinary ones.
    fn hostile(i: usize) -> f64 {
        match (i * 7919) % 23 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 | 4 => f64::MAX * 0.75,
            5 => -f64::MAX * 0.75,
            6 => -0.0,
            7 => 5e-324,
            8 | 9 => 1.0,
            k => (k as f64 - 11.5) * 1.37e3 + (i % 101) as f64 * 1e-3,
        }
    }

    /// `mean_rows` over listed rows (the one-pass route up to DIRECT_MAX rows, the
    /// accumulators beyond) gives the bits of Mean on the matrix of those rows, at offsets
    /// that cross spans and end in a tail.
    #[test]
    fn listed_rows_average_as_the_mean_of_those_rows() {
        fn check<T: Scalar>() {
            let (m, d) = (12, 2 * SPAN + 77);
            let x: Vec<T> = (0..m * d).map(|i| T::from_f64(hostile(i))).collect();
            let v = MatrixView::new(&x, m, d).unwrap();
            let ws = Workspace::new();
            for k in 1..=m {
                let rows: Vec<usize> = (0..k).map(|r| (r * 5) % m).collect();
                let sub: Vec<T> = rows.iter().flat_map(|&r| v.row(r).to_vec()).collect();
                let want = Mean::new(k)
                    .unwrap()
                    .aggregate(MatrixView::new(&sub, k, d).unwrap())
                    .unwrap();
                let mut got = vec![T::default(); d];
                mean_rows(v, Some(&rows), &ws, &mut got);
                let bits = |a: &[T]| a.iter().map(|t| t.to_f64().to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{k} rows");
                let j0 = SPAN - 3;
                let mut part = vec![T::default(); SPAN + 10];
                mean_columns(v, &rows, j0, &ws, &mut part);
                assert_eq!(
                    bits(&part),
                    bits(&want[j0..j0 + SPAN + 10]),
                    "{k} rows at {j0}"
                );
            }
        }
        check::<f64>();
        check::<f32>();
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

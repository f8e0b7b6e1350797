//! Geometric median by the smoothed Weiszfeld algorithm (Pillutla, Kakade, Harchaoui, *Robust
//! Aggregation for Federated Learning*, IEEE Transactions on Signal Processing 70, 2022:
//! RFA, Algorithm 3; Weiszfeld 1937).
//!
//! The geometric median minimises g(z) = sum_i ||z - x_i|| over z in R^d. Starting from z_0
//! (the mean, RFA's choice; or zero, ByzFL's; or the coordinate-wise median), each iteration
//! computes the distances r_i = ||z - x_i||, the weights beta_i = 1 / max(nu, r_i) and
//! z <- sum_i beta_i x_i / sum_i beta_i. It stops when the relative change of g between two
//! iterations is at most `tol` (converged) or after `iters` iterations (not converged);
//! [`GeometricMedian::solve`] reports which. ByzFL's `GeometricMedian(nu=0.1, T=3)` is
//! `--nu 0.1 --iters 3 --tol 0 --start zero`.
//!
//! Hostile input: a row with a NaN or an infinity is at infinite distance from every finite
//! point, so its weight is 0 (the limit of 1 / max(nu, r)); if the start itself is not finite
//! (the mean or the median of such rows), the mean of the finite rows replaces it; if no row
//! is finite the result is the mean of all rows, whose non-finite values show the failure. A
//! distance that overflows f64 although every value is finite is recomputed on scaled
//! differences, so huge finite rows keep their (tiny) weight.
//!
//! Deterministic for any thread count: each distance is summed by one task in 8 fixed lanes,
//! each weighted sum runs over the rows in order per coordinate, and the distances of a step
//! add their coordinate chunks in order. Time: O(d m) per iteration, one pass over the matrix
//! (the weighted mean and the next distances are fused, block by block), plus one pass for a
//! start other than the mean; extra space: d + 3 m + m d / 8192 f64 in the workspace,
//! allocation-free once it has grown.

use super::kernels::Keyed;
use super::layout::for_chunks;
use super::median::Median;
use super::simd::{with_isa, Level};
use super::TypedRule;
use super::Workspace;
use super::{check_shape, reject, AggregateExt, Aggregator, MedianConvention, RuleParams};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::scalar::Scalar;
use rayon::prelude::*;

/// Where the Weiszfeld iteration starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeiszfeldStart {
    /// The mean of the rows (RFA).
    #[default]
    Mean,
    /// The zero vector (ByzFL).
    Zero,
    /// The coordinate-wise median.
    Median,
    /// The last aggregate written into the same [`Workspace`] by a rule started from
    /// `previous` (the simulator keeps one workspace per run, so this is the previous round's
    /// aggregate, centered clipping's choice); zero when there is none of length d.
    Previous,
}

impl WeiszfeldStart {
    /// The name `--start` takes.
    pub fn name(self) -> &'static str {
        match self {
            WeiszfeldStart::Mean => "mean",
            WeiszfeldStart::Zero => "zero",
            WeiszfeldStart::Median => "median",
            WeiszfeldStart::Previous => "previous",
        }
    }
    /// `,start=NAME` unless it is `default` (for labels).
    pub(crate) fn label_part(self, default: Self) -> String {
        if self == default {
            String::new()
        } else {
            format!(",start={}", self.name())
        }
    }
}

impl std::str::FromStr for WeiszfeldStart {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mean" => Ok(Self::Mean),
            "zero" => Ok(Self::Zero),
            "median" => Ok(Self::Median),
            "previous" => Ok(Self::Previous),
            _ => Err(format!(
                "unknown start '{s}': use mean, zero, median or previous"
            )),
        }
    }
}

/// Smoothing nu of RFA's experiments.
pub const DEFAULT_NU: f64 = 1e-6;
/// Iteration cap.
pub const DEFAULT_ITERS: usize = 100;
/// Relative change of the objective at which the iteration stops.
pub const DEFAULT_TOL: f64 = 1e-6;
/// Largest iteration cap accepted.
pub const MAX_ITERS: usize = 1_000_000;

/// How one call went.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeiszfeldRun {
    /// Weighted averages computed.
    pub iterations: usize,
    /// Whether the relative change of the objective fell to `tol` before the cap.
    pub converged: bool,
    /// The objective sum_i ||z - x_i|| over the finite rows at the result.
    pub objective: f64,
}

/// The geometric median rule.
#[derive(Clone, Debug)]
pub struct GeometricMedian {
    m: usize,
    nu: f64,
    iters: usize,
    tol: f64,
    start: WeiszfeldStart,
}

impl GeometricMedian {
    /// Smoothed Weiszfeld for m workers: smoothing nu > 0, at most `iters` (1..=10^6)
    /// iterations, relative tolerance tol >= 0 (0: always run `iters` iterations).
    pub fn new(
        m: usize,
        nu: f64,
        iters: usize,
        tol: f64,
        start: WeiszfeldStart,
    ) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        if !(nu.is_finite() && nu > 0.0) {
            return Err(Error::Invalid(format!(
                "geomed: --nu {nu} is not a positive finite number: give the smoothing, e.g. --nu {DEFAULT_NU}"
            )));
        }
        if !(1..=MAX_ITERS).contains(&iters) {
            return Err(Error::Invalid(format!(
                "geomed: --iters {iters} is outside 1..={MAX_ITERS}: give the iteration cap, e.g. --iters {DEFAULT_ITERS}"
            )));
        }
        if !(tol.is_finite() && tol >= 0.0) {
            return Err(Error::Invalid(format!(
                "geomed: --tol {tol} is not a finite number >= 0: give the relative tolerance, e.g. --tol {DEFAULT_TOL} (0 runs every iteration)"
            )));
        }
        Ok(Self {
            m,
            nu,
            iters,
            tol,
            start,
        })
    }

    /// The geometric median of the rows of `x` into `out`, and how the iteration went.
    pub fn solve<T: Scalar>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
    ) -> Result<WeiszfeldRun, Error> {
        check_shape(self.m, &x, out.len())?;
        let (m, d) = (x.m(), x.d());
        let level = ws.level();
        let mut z = std::mem::take(&mut ws.gm_z);
        let mut dist = std::mem::take(&mut ws.gm_dist);
        let mut beta = std::mem::take(&mut ws.gm_beta);
        let mut active = std::mem::take(&mut ws.gm_active);
        let mut partial = std::mem::take(&mut ws.gm_partial);
        active.clear();
        active.extend(0..m);
        z.clear();
        z.resize(d, 0.0);
        dist.clear();
        dist.resize(m, 0.0);
        beta.clear();
        beta.resize(m, 1.0);
        if self.start == WeiszfeldStart::Mean {
            step(level, x, (&beta, &active), &mut z, &mut dist, &mut partial);
        } else {
            start_point(self.start, x, (&beta, &active), ws, out, &mut z)?;
        }
        let mut run = WeiszfeldRun {
            iterations: 0,
            converged: false,
            objective: f64::NAN,
        };
        if !z.iter().all(|v| v.is_finite()) {
            // the start saw non-finite rows: the mean of the finite ones, if any
            for (i, b) in beta.iter_mut().enumerate() {
                *b = if x.row(i).iter().all(|v| v.to_f64().is_finite()) {
                    1.0
                } else {
                    0.0
                };
            }
            if beta.iter().all(|&b| b == 0.0) {
                beta.iter_mut().for_each(|b| *b = 1.0);
                weighted_mean(level, x, &beta, &active, &mut z);
                ws.gm_partial = partial;
                return Ok(finish(
                    ws,
                    (z, dist, beta, active),
                    out,
                    run,
                    self.start == WeiszfeldStart::Previous,
                ));
            }
            active.retain(|&i| beta[i] > 0.0);
            step(level, x, (&beta, &active), &mut z, &mut dist, &mut partial);
        } else if self.start != WeiszfeldStart::Mean {
            distances(level, x, &z, &mut dist);
        }
        // here and after every step, dist holds the distances to z
        let mut previous = f64::NAN;
        loop {
            let g: f64 = dist.iter().filter(|r| r.is_finite()).sum();
            run.objective = g;
            if self.tol > 0.0 && run.iterations > 0 && (previous - g).abs() <= self.tol * g {
                run.converged = true;
                break;
            }
            if run.iterations == self.iters {
                break;
            }
            for (b, &r) in beta.iter_mut().zip(dist.iter()) {
                *b = if r.is_finite() {
                    1.0 / r.max(self.nu)
                } else {
                    0.0
                };
            }
            active.clear();
            active.extend((0..m).filter(|&i| beta[i] > 0.0));
            step(level, x, (&beta, &active), &mut z, &mut dist, &mut partial);
            run.iterations += 1;
            previous = g;
        }
        ws.gm_partial = partial;
        Ok(finish(
            ws,
            (z, dist, beta, active),
            out,
            run,
            self.start == WeiszfeldStart::Previous,
        ))
    }
}

/// Writes the start point of an iterative rule into `z` (length d, zeroed), using `out` as
/// scratch for the median; `(ones, all)` are m weights 1 and the row indices 0..m.
pub(super) fn start_point<T: Scalar>(
    start: WeiszfeldStart,
    x: MatrixView<'_, T>,
    (ones, all): (&[f64], &[usize]),
    ws: &mut Workspace,
    out: &mut [T],
    z: &mut [f64],
) -> Result<(), Error> {
    match start {
        WeiszfeldStart::Zero => {}
        WeiszfeldStart::Mean => weighted_mean(ws.level(), x, ones, all, z),
        WeiszfeldStart::Median => {
            Median::new(x.m(), MedianConvention::Midpoint)?.aggregate_into(x, ws, out)?;
            for (z, o) in z.iter_mut().zip(out.iter()) {
                *z = o.to_f64();
            }
        }
        WeiszfeldStart::Previous => {
            if ws.previous.len() == z.len() {
                z.copy_from_slice(&ws.previous);
            }
        }
    }
    Ok(())
}

/// Writes z into `out` and gives the buffers back to the workspace.
fn finish<T: Scalar>(
    ws: &mut Workspace,
    (z, dist, beta, active): (Vec<f64>, Vec<f64>, Vec<f64>, Vec<usize>),
    out: &mut [T],
    run: WeiszfeldRun,
    keep_previous: bool,
) -> WeiszfeldRun {
    store(&z, out);
    if keep_previous {
        ws.previous.clear();
        ws.previous.extend_from_slice(&z);
    }
    ws.gm_z = z;
    ws.gm_dist = dist;
    ws.gm_beta = beta;
    ws.gm_active = active;
    ws.gm_last = Some(run);
    run
}

/// Coordinates per task of the weighted mean.
const CHUNK: usize = 8192;

/// z = sum_i beta_i x_i / sum_i beta_i over the rows with beta_i > 0 (`active`, in order),
/// summed per coordinate in f64 in row order, eight rows per pass. At least one beta must be
/// positive.
fn weighted_mean<T: Scalar>(
    level: Level,
    x: MatrixView<'_, T>,
    beta: &[f64],
    active: &[usize],
    z: &mut [f64],
) {
    let total: f64 = active.iter().map(|&i| beta[i]).sum();
    weighted_sum(level, x, beta, active, z, total);
}

/// z = sum_i beta_i x_i / total over the rows `active` (in order), summed per coordinate in
/// f64 in row order, eight rows per pass (the weighted mean, and centered clipping's step).
pub(super) fn weighted_sum<T: Scalar>(
    level: Level,
    x: MatrixView<'_, T>,
    beta: &[f64],
    active: &[usize],
    z: &mut [f64],
    total: f64,
) {
    for_chunks(z, CHUNK, |c, o| {
        with_isa(
            level,
            #[inline(always)]
            || weighted_chunk(x, beta, active, c * CHUNK, o, total),
        );
    });
}

/// v = keep v + sum_i beta_i x_i / total over the rows `active` (centered clipping's last
/// step), in parallel chunks, in blocks of [`BLOCK`] coordinates summed as [`weighted_sum`]
/// does; with `keep` = `None`, v = the sum (v is not read: the step from zero). The new v is
/// stored into `out` block by block (no separate [`store`] pass; the same bits as [`store`]);
/// with `keep_v` false, v itself is left unwritten (8 bytes a coordinate less to write when
/// nothing reads the centre afterwards).
pub(super) fn weighted_update<T: Scalar>(
    level: Level,
    x: MatrixView<'_, T>,
    (beta, active): (&[f64], &[usize]),
    v: &mut [f64],
    (total, keep): (f64, Option<f64>),
    (out, keep_v): (&mut [T], bool),
) {
    let body = |c: usize, o: &mut [f64], t: &mut [T]| {
        with_isa(
            level,
            #[inline(always)]
            || {
                let mut acc = [0.0f64; BLOCK];
                for (k, ob) in o.chunks_mut(BLOCK).enumerate() {
                    let j0 = c * CHUNK + k * BLOCK;
                    let s: &[f64] = if keep.is_none() && keep_v {
                        // from zero: the sums are the new centre
                        weighted_chunk(x, beta, active, j0, ob, total);
                        ob
                    } else {
                        let a = &mut acc[..ob.len()];
                        weighted_chunk(x, beta, active, j0, a, total);
                        if let Some(keep) = keep {
                            add_kept(a, ob, keep);
                        }
                        if keep_v {
                            ob.copy_from_slice(a);
                        }
                        a
                    };
                    let tb = &mut t[k * BLOCK..k * BLOCK + s.len()];
                    for (dst, &s) in tb.iter_mut().zip(s.iter()) {
                        *dst = T::from_f64(s);
                    }
                }
            },
        );
    };
    if v.len() <= CHUNK {
        if !v.is_empty() {
            body(0, v, out);
        }
    } else {
        v.par_chunks_mut(CHUNK)
            .zip(out.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, (o, t))| body(c, o, t));
    }
}

/// `sums[j] += keep * v[j]`: the kept part of the centre added to a block's weighted sums
/// (centered clipping's steps; `s + keep t`, the same bits as `keep t + s`).
#[inline(always)]
fn add_kept(sums: &mut [f64], v: &[f64], keep: f64) {
    for (s, &t) in sums.iter_mut().zip(v) {
        *s += keep * t;
    }
}

/// Coordinates per block of [`weighted_update`]: 32 KiB of f64 sums, in L1 (4096 measured
/// 5% to 10% faster than 1024 for centered clipping and the geometric median at m = 20,
/// d = 10^6, f32; 8192 no better).
const BLOCK: usize = 4096;

/// Bytes of rows [`step`] reads twice per block: the block's m rows stay in L2 between the
/// weighted sum and the distances.
const STEP_BYTES: usize = 512 << 10;

/// Coordinates per partial sum of a distance in [`step`] (the blocks of its first version:
/// the bits of the distances depend on them).
const DIST_BLOCK: usize = 1024;

/// [`step`]'s block: [`BLOCK`] coordinates, fewer (a multiple of [`DIST_BLOCK`], at least
/// one) when m rows of them would not fit in [`STEP_BYTES`].
fn step_block(m: usize, size: usize) -> usize {
    (STEP_BYTES / (m.max(1) * size) / DIST_BLOCK * DIST_BLOCK).clamp(DIST_BLOCK, BLOCK)
}

/// `out = v` converted to the storage type, in parallel chunks.
pub(super) fn store<T: Scalar>(v: &[f64], out: &mut [T]) {
    for_chunks(out, CHUNK, |c, o| {
        for (t, &s) in o.iter_mut().zip(&v[c * CHUNK..]) {
            *t = T::from_f64(s);
        }
    });
}

/// Rows per pass of [`weighted_chunk`] over its block of sums (Mean's `FUSE`).
const FUSE: usize = 8;

/// `o[j] = sum_i beta_i x_ij / total` over the rows `active`, each sum from 0.0 in row order
/// (left to right, one rounding per term): [`FUSE`] rows per pass over `o`, the division
/// folded into the last pass. The grouping does not change the bits.
#[inline(always)]
#[allow(unused_assignments)] // the last pass's count of rows done
fn weighted_chunk<T: Scalar>(
    x: MatrixView<'_, T>,
    beta: &[f64],
    active: &[usize],
    j0: usize,
    o: &mut [f64],
    total: f64,
) {
    let w = o.len();
    let row = |i: usize| &x.row(i)[j0..j0 + w];
    if active.is_empty() {
        o.iter_mut().for_each(|v| *v = 0.0 / total);
        return;
    }
    let n = active.len();
    let mut r = 0;
    macro_rules! pass {
        ($k:literal) => {{
            let g = &active[r..r + $k];
            let last = r + $k == n;
            add_weighted::<T, $k>(
                o,
                std::array::from_fn(|t| row(g[t])),
                std::array::from_fn(|t| beta[g[t]]),
                r == 0,
                last.then_some(total),
            );
            r += $k;
        }};
    }
    while n - r >= FUSE {
        pass!(8); // FUSE
    }
    if n - r >= 4 {
        pass!(4);
    }
    if n - r >= 2 {
        pass!(2);
    }
    if n - r == 1 {
        pass!(1);
    }
}

/// `o[j] = (..(o[j] + b_0 x_0j) + b_1 x_1j) ..)`, from 0.0 instead of `o[j]` when `first`,
/// then divided by `div` when given: K weighted rows per pass, in row order.
#[inline(always)]
fn add_weighted<T: Scalar, const K: usize>(
    o: &mut [f64],
    rows: [&[T]; K],
    b: [f64; K],
    first: bool,
    div: Option<f64>,
) {
    // one loop per case, so that none branches per coordinate
    match (first, div) {
        (true, Some(t)) => weighted_pass::<T, K, true, true>(o, rows, b, t),
        (true, None) => weighted_pass::<T, K, true, false>(o, rows, b, 1.0),
        (false, Some(t)) => weighted_pass::<T, K, false, true>(o, rows, b, t),
        (false, None) => weighted_pass::<T, K, false, false>(o, rows, b, 1.0),
    }
}

/// One case of [`add_weighted`].
#[inline(always)]
fn weighted_pass<T: Scalar, const K: usize, const FIRST: bool, const DIV: bool>(
    o: &mut [f64],
    rows: [&[T]; K],
    b: [f64; K],
    div: f64,
) {
    let w = o.len();
    let rows = rows.map(|r| &r[..w]);
    for (j, a) in o.iter_mut().enumerate() {
        let mut s = if FIRST { 0.0 } else { *a };
        for k in 0..K {
            s += b[k] * rows[k][j].to_f64();
        }
        *a = if DIV { s / div } else { s };
    }
}

/// One Weiszfeld step in one read of the matrix: z = sum_i beta_i x_i / sum_i beta_i over the
/// rows `active` (summed as [`weighted_sum`] does), and dist_i = ||x_i - z|| for every row at
/// the new z: [`step_update`] with the total of the weights and z not read.
fn step<T: Scalar>(
    level: Level,
    x: MatrixView<'_, T>,
    (beta, active): (&[f64], &[usize]),
    z: &mut [f64],
    dist: &mut [f64],
    partial: &mut Vec<f64>,
) {
    let total: f64 = active.iter().map(|&i| beta[i]).sum();
    step_update(level, x, (beta, active), (total, None), z, dist, partial);
}

/// z = keep z + sum_i beta_i x_i / total over the rows `active` (z = the sum without
/// `keep`: z is not read), as [`weighted_update`] computes it, and dist_i = ||x_i - z|| for
/// every row at the new z, in one read of the matrix (a Weiszfeld step; a step of centered
/// clipping that is not its last). Each task owns a chunk of [`CHUNK`] coordinates and walks
/// it in blocks of [`step_block`]: the block's z first, then every row's squared differences
/// on that block while it is still in cache, summed per [`DIST_BLOCK`] coordinates and
/// accumulated per (chunk, row) in `partial`. The distances sum the chunks in order, so the
/// bits do not depend on the thread count. O(d m) time, one pass; extra space
/// m ceil(d / CHUNK) f64.
pub(super) fn step_update<T: Scalar>(
    level: Level,
    x: MatrixView<'_, T>,
    (beta, active): (&[f64], &[usize]),
    (total, keep): (f64, Option<f64>),
    z: &mut [f64],
    dist: &mut [f64],
    partial: &mut Vec<f64>,
) {
    let (m, d) = (x.m(), x.d());
    let chunks = d.div_ceil(CHUNK);
    let block = step_block(m, std::mem::size_of::<T>());
    partial.clear();
    partial.resize(chunks * m, 0.0);
    let work = |c: usize, o: &mut [f64], p: &mut [f64]| {
        with_isa(
            level,
            #[inline(always)]
            || {
                let mut acc = [0.0f64; BLOCK];
                for (k, ob) in o.chunks_mut(block).enumerate() {
                    let j0 = c * CHUNK + k * block;
                    match keep {
                        None => weighted_chunk(x, beta, active, j0, ob, total),
                        Some(keep) => {
                            let a = &mut acc[..ob.len()];
                            weighted_chunk(x, beta, active, j0, a, total);
                            add_kept(a, ob, keep);
                            ob.copy_from_slice(a);
                        }
                    }
                    for (i, s) in p.iter_mut().enumerate() {
                        let row = &x.row(i)[j0..j0 + ob.len()];
                        for (r, z) in row.chunks(DIST_BLOCK).zip(ob.chunks(DIST_BLOCK)) {
                            *s += sum_sq(r, z);
                        }
                    }
                }
            },
        );
    };
    if chunks <= 1 {
        if d > 0 {
            work(0, z, partial);
        }
    } else {
        z.par_chunks_mut(CHUNK)
            .zip(partial.par_chunks_mut(m))
            .enumerate()
            .for_each(|(c, (o, p))| work(c, o, p));
    }
    for (i, r) in dist.iter_mut().enumerate() {
        let s: f64 = (0..chunks).map(|c| partial[c * m + i]).sum();
        *r = if s.is_finite() {
            s.sqrt()
        } else {
            scaled_norm(x.row(i), Some(z))
        };
    }
}

/// dist_i = ||x_i - z|| for every row, each summed by one task in 8 lanes (fixed order).
pub(super) fn distances<T: Scalar>(
    level: Level,
    x: MatrixView<'_, T>,
    z: &[f64],
    dist: &mut [f64],
) {
    dist.par_iter_mut().enumerate().for_each(|(i, r)| {
        let row = x.row(i);
        let s = with_isa(
            level,
            #[inline(always)]
            || sum_sq(row, z),
        );
        *r = if s.is_finite() {
            s.sqrt()
        } else {
            scaled_norm(row, Some(z))
        };
    });
}

/// [`distances`] from z = 0: the row norms, without reading z; the same bits.
pub(super) fn norms<T: Scalar>(level: Level, x: MatrixView<'_, T>, dist: &mut [f64]) {
    dist.par_iter_mut().enumerate().for_each(|(i, r)| {
        let row = x.row(i);
        let s = with_isa(
            level,
            #[inline(always)]
            || sum_sq0(row),
        );
        *r = if s.is_finite() {
            s.sqrt()
        } else {
            scaled_norm(row, None)
        };
    });
}

/// sum_j row_j^2 in the lanes and order of [`sum_sq`].
#[inline(always)]
fn sum_sq0<T: Scalar>(row: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let head = row.len() / 8 * 8;
    for a in row[..head].chunks_exact(8) {
        for l in 0..8 {
            let t = a[l].to_f64();
            acc[l] += t * t;
        }
    }
    for l in 0..row.len() - head {
        let t = row[head + l].to_f64();
        acc[l] += t * t;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// sum_j (row_j - z_j)^2 in 8 lanes, then a fixed tree.
#[inline(always)]
fn sum_sq<T: Scalar>(row: &[T], z: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let head = row.len() / 8 * 8;
    for (a, b) in row[..head].chunks_exact(8).zip(z[..head].chunks_exact(8)) {
        for l in 0..8 {
            let t = a[l].to_f64() - b[l];
            acc[l] += t * t;
        }
    }
    for l in 0..row.len() - head {
        let t = row[head + l].to_f64() - z[head + l];
        acc[l] += t * t;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// ||x - z|| without overflow: the differences scaled by their largest magnitude (cold: only
/// rows whose sum of squares overflowed). +infinity if some difference is not finite (NaN
/// included).
fn scaled_norm<T: Scalar>(row: &[T], z: Option<&[f64]>) -> f64 {
    let zj = |j: usize| z.map_or(0.0, |z| z[j]);
    let mut big = 0.0f64;
    for (j, a) in row.iter().enumerate() {
        let t = (a.to_f64() - zj(j)).abs();
        if !t.is_finite() {
            return f64::INFINITY;
        }
        big = big.max(t);
    }
    if big == 0.0 {
        return 0.0;
    }
    let s: f64 = row
        .iter()
        .enumerate()
        .map(|(j, a)| {
            let t = (a.to_f64() - zj(j)) / big;
            t * t
        })
        .sum();
    s.sqrt() * big
}

pub(super) fn build(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    reject(
        "geomed",
        "b",
        p.b.is_some(),
        "--nu, --iters, --tol, --start",
    )?;
    reject(
        "geomed",
        "q",
        p.q.is_some(),
        "--nu, --iters, --tol, --start",
    )?;
    reject(
        "geomed",
        "k",
        p.k.is_some(),
        "--nu, --iters, --tol, --start",
    )?;
    Ok(Box::new(GeometricMedian::new(
        m,
        p.nu.unwrap_or(DEFAULT_NU),
        p.iters.unwrap_or(DEFAULT_ITERS),
        p.tol.unwrap_or(DEFAULT_TOL),
        p.start.unwrap_or_default(),
    )?))
}

impl TypedRule for GeometricMedian {
    fn name(&self) -> &'static str {
        "geomed"
    }
    fn label(&self) -> String {
        let start = self.start.label_part(WeiszfeldStart::Mean);
        format!(
            "geomed(nu={:e},iters={},tol={:e}{start})",
            self.nu, self.iters, self.tol
        )
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
        self.solve(x, ws, out).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gm(m: usize) -> GeometricMedian {
        GeometricMedian::new(m, 1e-12, 10_000, 1e-15, WeiszfeldStart::Mean).unwrap()
    }

    /// Eight rows per pass and the folded division give the bits of adding one weighted row
    /// at a time from 0.0 and dividing at the end, for every number of rows.
    #[test]
    fn weighted_chunk_adds_one_row_at_a_time() {
        let (m, d) = (23, 37);
        let special = [
            -0.0,
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
            1e300,
            -1e-310,
        ];
        let x: Vec<f64> = (0..m * d)
            .map(|i| {
                if i % 29 == 5 {
                    special[i / 29 % special.len()]
                } else {
                    ((i * 7919 % 1000) as f64 - 500.0) / 37.0
                }
            })
            .collect();
        let v = MatrixView::new(&x, m, d).unwrap();
        let beta: Vec<f64> = (0..m).map(|i| 0.25 + i as f64 / 3.0).collect();
        for n in 0..=m {
            // every other row first, then the rest: any order of the listed rows
            let active: Vec<usize> = (0..m).step_by(2).chain((1..m).step_by(2)).take(n).collect();
            let total = 3.7;
            let mut got = vec![f64::NAN; d];
            weighted_chunk(v, &beta, &active, 0, &mut got, total);
            for (j, g) in got.iter().enumerate() {
                let s = active.iter().fold(0.0, |s, &i| s + beta[i] * x[i * d + j]);
                let want = s / total;
                assert!(
                    g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                    "{n} rows, j = {j}: {g} vs {want}"
                );
            }
        }
    }

    fn solve(r: &GeometricMedian, x: &[f64], m: usize) -> (Vec<f64>, WeiszfeldRun) {
        let d = x.len() / m;
        let mut out = vec![0.0; d];
        let run = r
            .solve(
                MatrixView::new(x, m, d).unwrap(),
                &mut Workspace::new(),
                &mut out,
            )
            .unwrap();
        (out, run)
    }

    /// In one dimension the geometric median is the median; three collinear points in the
    /// plane have the middle one as their geometric median.
    #[test]
    fn one_dimension_and_collinear_points() {
        let (out, run) = solve(&gm(5), &[1.0, 2.0, 3.0, 10.0, 100.0], 5);
        assert!((out[0] - 3.0).abs() < 1e-6, "{out:?} {run:?}");
        assert!(run.converged);
        let (out, _) = solve(&gm(3), &[0.0, 0.0, 1.0, 1.0, 5.0, 5.0], 3);
        assert!(
            (out[0] - 1.0).abs() < 1e-6 && (out[1] - 1.0).abs() < 1e-6,
            "{out:?}"
        );
    }

    /// The equilateral triangle's geometric median is its centre (the Fermat point), and
    /// moving one vertex far away moves the result by a bounded amount (not like the mean).
    #[test]
    fn triangle_and_far_outlier() {
        let h = 3f64.sqrt() / 2.0;
        let (out, _) = solve(&gm(3), &[0.0, 0.0, 1.0, 0.0, 0.5, h], 3);
        assert!(
            (out[0] - 0.5).abs() < 1e-6 && (out[1] - h / 3.0).abs() < 1e-6,
            "{out:?}"
        );
        // From the mean (2e299) the distance to the cluster shrinks about 4x per iteration:
        // with tol = 0 the iteration reaches it. (RFA's relative-objective test would stop
        // far away: the objective is dominated by the outlier's distance; tol = 0 never stops
        // early.)
        let x = [0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 0.1, 0.1, 1e300, 1e300];
        let r = GeometricMedian::new(5, 1e-12, 2000, 0.0, WeiszfeldStart::Mean).unwrap();
        let (out, run) = solve(&r, &x, 5);
        assert!(out.iter().all(|v| v.abs() < 1.0), "{out:?} {run:?}");
        let (far, run) = solve(&gm(5), &x, 5);
        assert!(run.converged && far[0] > 1e200, "{far:?} {run:?}");
    }

    /// Rows with NaN or infinities get weight 0; all non-finite rows give a non-finite mean.
    #[test]
    fn hostile_rows() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let (out, _) = solve(&gm(4), &[1.0, 1.0, 1.0, 1.0, nan, 0.0, inf, -inf], 4);
        assert_eq!(out, vec![1.0, 1.0]);
        let (out, run) = solve(&gm(2), &[nan, 0.0, inf, 1.0], 2);
        assert!(out[0].is_nan() && run.iterations == 0, "{out:?}");
        for start in [WeiszfeldStart::Zero, WeiszfeldStart::Median] {
            let r = GeometricMedian::new(4, 1e-9, 1000, 1e-14, start).unwrap();
            let (out, _) = solve(&r, &[1.0, 1.0, 1.0, 1.0, nan, 0.0, inf, -inf], 4);
            assert!((out[0] - 1.0).abs() < 1e-9, "{start:?} {out:?}");
        }
    }

    /// The iteration cap and the tolerance: tol = 0 runs every iteration; a cap of 1 stops
    /// unconverged after one weighted average.
    #[test]
    fn cap_and_tolerance_are_reported() {
        let x = [0.0, 0.0, 4.0, 0.0, 0.0, 3.0, 9.0, 9.0];
        let r = GeometricMedian::new(4, 1e-9, 7, 0.0, WeiszfeldStart::Mean).unwrap();
        let (_, run) = solve(&r, &x, 4);
        assert_eq!((run.iterations, run.converged), (7, false));
        let r = GeometricMedian::new(4, 1e-9, 1, 1e-6, WeiszfeldStart::Mean).unwrap();
        let (_, run) = solve(&r, &x, 4);
        assert_eq!((run.iterations, run.converged), (1, false));
        let (_, run) = solve(&gm(4), &x, 4);
        assert!(run.converged && run.iterations > 1, "{run:?}");
    }

    #[test]
    fn invalid_parameters_name_the_flag() {
        let e = |r: Result<GeometricMedian, Error>| r.unwrap_err().to_string();
        assert!(e(GeometricMedian::new(3, 0.0, 5, 0.0, WeiszfeldStart::Mean)).contains("--nu"));
        assert!(e(GeometricMedian::new(
            3,
            f64::NAN,
            5,
            0.0,
            WeiszfeldStart::Mean
        ))
        .contains("--nu"));
        assert!(e(GeometricMedian::new(3, 1.0, 0, 0.0, WeiszfeldStart::Mean)).contains("--iters"));
        assert!(e(GeometricMedian::new(3, 1.0, 5, -1.0, WeiszfeldStart::Mean)).contains("--tol"));
    }
}

//! The data layout the SIMD kernels ([`super::simd`]) share with the rules that plan their
//! work (Krum's pair schedule in [`super::krum`], the coordinate-wise tiles in
//! [`super::kernels`], [`super::tiled`]): sizes, aligned rows and plans, and the reading of a
//! tile of coordinates as keys ([`load_keys`]). It imports nothing from them, so the
//! kernels depend on the layout only and the rules on the kernels. The work split every rule
//! shares ([`span`], [`for_chunks`]) is here too.

use crate::matrix::MatrixView;
use crate::scalar::Scalar;
use rayon::prelude::*;

/// Coordinates per sub-tile: the sub-tile's m rows are converted to f64 once (m x 1 KiB, in
/// L1) and every pair reads them from there. 128 was fastest of 64 to 512
/// (`reports/PERF.md`).
pub(crate) const SUB: usize = 128;

/// One row of a sub-tile in f64, aligned to a cache line: no vector load or store of the
/// conversion and the pair kernels splits across two lines. Measured: `reports/PERF.md`.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(crate) struct SubRow(pub(crate) [f64; SUB]);

/// Coordinates per segment of Krum's register grids ([`super::krum_plan`]): a grid keeps its
/// accumulators in registers over a segment of this many coordinates, two sub-tiles. 256
/// rather than 512: a block pair's 120 segment rows in f64 (240 KB), its accumulators (225 KB)
/// and the next segment's prefetched rows then fit in a 1 MB L2 with room to spare (Krum at
/// m = 500, d = 4 x 10^5, Zen 5: fastest of 2 calls, median of 6 alternating runs, 945 ms
/// against 1,078 ms with 512; 128 was slower than 256). The schedule changes no result.
pub(crate) const SEG: usize = 256;

/// One row of a segment in f64, aligned to a cache line like [`SubRow`].
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(crate) struct SegRow(pub(crate) [f64; SEG]);

/// The [`ACC`] accumulator lanes of one pair, aligned to a cache line like [`SubRow`].
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(crate) struct Lanes(pub(crate) [f64; ACC]);

/// f64 accumulator lanes per pair (one AVX-512 register, two AVX2 registers): lane l sums
/// the coordinates equal to l mod ACC, in order. Enough independent chains come from the
/// pairs of a strip.
///
/// Each step is `acc = fma(t, t, acc)` with t = a - b: one rounding instead of two, and one
/// instruction beside the subtraction, so a pair-coordinate costs two vector instructions.
/// The portable fallback computes the same with `f64::mul_add` where the compilation target
/// has FMA (bit-identical results on every instruction set), and with a multiply and an add
/// elsewhere (baseline x86-64, where `mul_add` is a library call per value, measured 25x
/// slower than the AVX2 kernel): see [`super::krum::PORTABLE_FMA`]. Eight lanes let the AVX-512 kernel do a pair step of 8 coordinates in one
/// register (measured on the development machine's Xeon, in L1: 0.21 ns per 4 coordinates
/// against 0.47-0.53 ns with 256-bit registers); the AVX2 kernel takes lanes 0..4 and 4..8
/// of a sub-tile in two passes, so its register budget is that of one 4-lane accumulator.
pub(crate) const ACC: usize = 8;

/// Most pairs processed together (one accumulator register each, plus the shared row and a
/// difference: 12 of the 16 AVX2 registers, or of the 32 AVX-512 registers).
pub(crate) const STRIP_MAX: usize = 10;

/// One strip of the pair schedule as the kernel reads it: pairs (a[k], b[k]) for k < len, their
/// accumulator indices p[k], whether every a[k] is the same row, and the rows `ahead.0..ahead.1`
/// whose next sub-tile is prefetched before the strip (the m rows spread evenly over the
/// strips). Planned once per call, so the kernel's per-sub-tile loop does no index arithmetic.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StripPlan {
    pub(crate) len: usize,
    /// Read by the x86-64 pair kernels only.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) shared: bool,
    pub(crate) a: [usize; STRIP_MAX],
    pub(crate) b: [usize; STRIP_MAX],
    pub(crate) p: [usize; STRIP_MAX],
    pub(crate) ahead: (usize, usize),
}

/// Index of pair {i, j} (i != j) among the accumulators, in the order (0,1), (0,2), ...,
/// (1,2), ...: for i < j, the pairs (i, j), (i, j + 1), ... are consecutive.
#[inline(always)]
pub(crate) fn pair_index(m: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i < j { (i, j) } else { (j, i) };
    i * (2 * m - i - 1) / 2 + (j - i - 1)
}

/// Coordinates per tile (the SIMD lanes of the sorting network).
pub(crate) const W: usize = 64;

/// What a coordinate-wise rule computes from the ordered values of one coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// Mean of the middle m - 2b order statistics (Trmean_b; the midpoint Median is
    /// b = ceil(m/2) - 1).
    Trmean { b: usize },
    /// The order statistic of rank b (0-based): the lower median.
    Rank { b: usize },
    /// Phocas_b: the mean of the m - b values nearest to Trmean_b.
    Phocas { b: usize },
    /// MeaMed_b: the mean of the m - b values nearest to the median (the midpoint
    /// Trmean_{ceil(m/2)-1}); the same window as Phocas around another centre.
    MeaMed { b: usize },
}

impl Finish {
    /// For the window rules (Phocas, MeaMed): the trimming b and the trim c of the centre
    /// Trmean_c (c = b for Phocas, ceil(m/2) - 1 for MeaMed).
    pub(crate) fn window(self, m: usize) -> Option<(usize, usize)> {
        match self {
            Finish::Phocas { b } => Some((b, b)),
            Finish::MeaMed { b } => Some((b, m.div_ceil(2).saturating_sub(1))),
            Finish::Trmean { .. } | Finish::Rank { .. } => None,
        }
    }
}

/// |v - y| with NaN counted as +infinity: the distance the window rules (Phocas, MeaMed)
/// compare, in the tile path and in the portable level's fused kernel alike.
#[inline(always)]
pub(crate) fn dist(v: f64, y: f64) -> f64 {
    let t = (v - y).abs();
    if t.is_nan() {
        f64::INFINITY
    } else {
        t
    }
}

/// Bytes of the rows one span (one parallel task of the network path) covers: long enough to
/// amortise a task, short enough for several tasks per thread.
const SPAN_BYTES: usize = 1 << 19;

/// Coordinates per span of m rows of T: about [`SPAN_BYTES`] in all, a multiple of `unit`,
/// at most `max`. Depends only on m and the storage type.
pub(crate) fn span<T: crate::scalar::Scalar>(m: usize, unit: usize, max: usize) -> usize {
    (SPAN_BYTES / (m.max(1) * std::mem::size_of::<T>())).clamp(unit, max.max(unit)) / unit * unit
}

/// Runs `f(chunk_index, chunk)` over fixed-size chunks of `out`, in parallel when there is
/// more than one chunk (a single chunk runs on the calling thread, without waking the pool).
pub(crate) fn for_chunks<T, F>(out: &mut [T], chunk: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync + Send,
{
    if out.len() <= chunk {
        if !out.is_empty() {
            f(0, out);
        }
    } else {
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(c, o)| f(c, o));
    }
}

/// One row's slice of at most [`W`] values as keys (padding lanes get key 0).
#[inline(always)]
pub(crate) fn row_keys<T: Scalar>(row: &[T], dst: &mut [T::Key; W]) {
    if let Ok(src) = <&[T; W]>::try_from(row) {
        for t in 0..W {
            dst[t] = src[t].to_key();
        }
    } else {
        for t in 0..W {
            dst[t] = row.get(t).map_or_else(T::Key::default, |v| v.to_key());
        }
    }
}

/// Reads the tile of coordinates [j, j + w) of every row as keys (padding lanes get key 0).
#[inline(always)]
pub(crate) fn load_keys<T: Scalar>(
    x: MatrixView<'_, T>,
    j: usize,
    w: usize,
    tile: &mut [[T::Key; W]],
) {
    for (i, dst) in tile.iter_mut().enumerate() {
        row_keys(&x.row(i)[j..j + w], dst);
    }
}

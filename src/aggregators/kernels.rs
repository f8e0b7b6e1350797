//! Shared kernels: the tiled, parallel coordinate-wise driver and the per-coordinate order
//! statistics of Median, Trmean, Phocas and MeaMed.
//!
//! Values are ordered by total-order integer keys (see [`crate::scalar`]), so NaN sorts beyond
//! every finite value and is trimmed like any other extreme. Every coordinate is computed on
//! its own and the work is split into fixed chunks of coordinates, so the output is
//! bit-identical for any number of threads. Every sum runs in f64, from -0.0, in an order fixed
//! by the sorted values (increasing order, except Phocas's window, see below), so the output
//! is also the same on every path below and every instruction set, and does not depend on the
//! order of the workers.
//!
//! Two paths, chosen by m and the finish (never by the values):
//!
//! - **Network** (m <= the workspace's network limit, default [`NETWORK_MAX_M`]; for the
//!   one-rank finishes, the order statistic and the midpoint Median, m <= 64 by default,
//!   [`tiled::preferred`]). A span of coordinates
//!   (about 512 KiB of rows, one parallel task) is processed in tiles of [`W`] = 64
//!   coordinates, each row prefetched about 64 KiB / m ahead into L1, spread over the tile's
//!   work, for m <= 64 (see `tile_prefetch_bytes`; earlier versions pre-read each span row by
//!   row first, then prefetched 4 KiB ahead into L2): row i's slice of
//!   the tile *is* wire i of a sorting network across 64 coordinates, so no transpose is
//!   needed. The slices are converted to keys in per-thread scratch (m x 64 keys) and
//!   ordered by a comparator network whose every step is a branch-free min/max over the 64
//!   lanes: SIMD lanes are coordinates. With AVX2 and m <= 32 the network is Batcher's, spelled out in registers
//!   ([`super::simd`]); otherwise Batcher's network is applied from its comparator list
//!   ([`super::network`]), pruned where order does not matter (Trmean needs only the middle
//!   sorted). The rule's value is then computed lane-wise in f64. Cost per coordinate: one
//!   network, about m log2(m)^2 / 4 comparisons, but 8 or 16 coordinates per instruction.
//!   With AVX2 and m <= 32, fused kernels do all of this per 8 (f32) or 4 (f64) coordinates
//!   in registers, straight from the rows, prefetching ahead into L1; the tile
//!   path then takes only the tail of a chunk (and Phocas tiles that need the exact route).
//!   With AVX2 and 32 < m <= 64 the two halves of the tile are sorted in registers and only
//!   the final merge stage runs from the list (with AVX-512, in 512-bit registers: 16 lanes
//!   of i32 keys per register).
//! - **Selection** (m above it, in [`super::selection`]; the one-rank finishes from m = 65). Each coordinate's keys
//!   are transposed into scratch; two `select_nth_unstable` calls split off the middle, which
//!   is then sorted for the sum: O(m) expected per coordinate plus the sort of the middle,
//!   scalar. With f32 storage, tiles of 64 coordinates stay as SIMD lanes instead: the ranks'
//!   keys are found by bit descent over the tile ([`super::descent`]: counting passes
//!   branch-free over the lanes, in L2), which gives the order statistic and the Median
//!   outright; Trmean then sums the values between the two ranks in one pass, in any order
//!   (the same bits whenever every partial sum is exact, which the pass checks); Phocas and
//!   MeaMed take that Trmean (MeaMed: the Median) as centre and find their window by a
//!   bisection of the distance to it ([`super::nearest`]: each pass counts the keys in one
//!   interval per lane), then sum it in one pass under the same check. Lanes either step
//!   declines take the exact route. With f64 storage the order statistic and the
//!   Median take the bit descent too (nothing is summed but the one or two values of the
//!   ranks, so no lane is declined); f64 Trmean, Phocas and MeaMed take the exact route.
//!
//! Phocas on the network path. With the keys of one coordinate sorted as v_0 <= ... <= v_{m-1},
//! centre y = Trmean_b and n = m - b, the values y is compared with are the b pairs
//! (v_k, v_{k+n}), k < b, plus the middle v_b..v_{n-1}. Keeping the nearer of each pair (the
//! lower one on equal distance) and the whole middle gives exactly the definition's set (the
//! m - b values least in (distance, value)) whenever every value dropped is strictly farther
//! than every value kept. The window is summed from Trmean's own sum of the middle (so the
//! centre's sum is reused), then adding the kept value of each pair in order of k. The
//! distance |v - y| is unimodal along the sorted values (rounding is monotone), so the largest
//! kept distance is at the pairs' winners or the middle's two ends, and the check costs O(b).
//! Lanes that fail it (exact distance ties between different values, such as -NaN and -inf
//! both at distance +inf) take the exact scalar route
//! ([`super::selection::phocas_checked`]): rank all m values by (distance, value) (sort the
//! keys, then select by (distance, position)), and sum the kept ones in the same order (middle
//! positions first, then positions k and k + n for k < b).
//! MeaMed is the same window around another centre, the median Trmean_c with
//! c = ceil(m/2) - 1 (its own sum of the middle); every step above takes the centre's trim.

use super::layout::{dist, for_chunks, span};
use super::layout::{load_keys, row_keys};
pub(crate) use super::layout::{Finish, W};
use super::network::{sort_lanes, Network};
use super::selection::{phocas_checked, rescue_overflow, selection};
use super::simd::{with_isa, Level};
use super::tiled;
use super::{Scratch, Workspace};
use crate::matrix::MatrixView;
use crate::scalar::Scalar;

/// f64 lanes of the arithmetic that finishes a tile (four AVX2 registers).
const LANES: usize = 16;

/// Largest m ordered by a sorting network by default; larger m use per-coordinate selection.
pub const NETWORK_MAX_M: usize = 256;

/// Networks are built (when a rule is constructed) up to this m.
const NETWORK_BUILD_MAX: usize = 512;

/// Comparators of Batcher's sorting network on m wires, before pruning (m <= 65536).
pub fn sorting_network_len(m: usize) -> usize {
    Network::sorting(m).len()
}

/// Storage types with per-thread key scratch for the network path.
pub(crate) trait Keyed: Scalar {
    /// The key tile and the buffers of the exact Phocas route.
    fn parts(s: &mut Scratch) -> (&mut Vec<[Self::Key; W]>, &mut Vec<u128>, &mut Vec<i64>);
    /// Fully sorts the first m wires of every lane with a register network, if the active
    /// `level` has one for m; returns whether it did.
    fn sort_registers(level: Level, tile: &mut [[Self::Key; W]], m: usize) -> bool;
    /// Writes to wires 0..m of the tile the keys of coordinates `[j, j + W)` of rows
    /// `first..first + m`, sorted in every lane, with a register network that reads the rows
    /// itself, if the active `level` has one for m; returns whether it did.
    fn sort_rows(
        level: Level,
        x: MatrixView<'_, Self>,
        j: usize,
        first: usize,
        m: usize,
        tile: &mut [[Self::Key; W]],
    ) -> bool;
    /// Trmean / Rank of the leading coordinates of `out` straight from the rows, with the
    /// instruction set's fused kernel if it has one for m; returns how many it wrote.
    fn order_fused(
        level: Level,
        x: MatrixView<'_, Self>,
        j0: usize,
        out: &mut [Self],
        finish: Finish,
    ) -> usize;
    /// Phocas_b or MeaMed_b, `bc` = (b, the centre's trim), of the leading coordinates of
    /// `out` straight from the rows, with the instruction set's fused kernel if it has one;
    /// returns how many it wrote.
    fn phocas_fused(
        level: Level,
        x: MatrixView<'_, Self>,
        j0: usize,
        out: &mut [Self],
        bc: (usize, usize),
    ) -> usize;
    /// The window means and centres (Phocas or MeaMed, `bc` as above) of a sorted tile with
    /// the instruction set's own kernel, if it has one: `Some(mask of lanes whose check
    /// failed)`.
    fn phocas_registers(
        level: Level,
        tile: &[[Self::Key; W]],
        bc: (usize, usize),
        res: &mut [f64; W],
        centre: &mut [f64; W],
    ) -> Option<u64>;
}

impl Keyed for f32 {
    fn parts(s: &mut Scratch) -> (&mut Vec<[i32; W]>, &mut Vec<u128>, &mut Vec<i64>) {
        (&mut s.tiles32, &mut s.pairs, &mut s.keys)
    }
    fn sort_registers(level: Level, tile: &mut [[i32; W]], m: usize) -> bool {
        super::simd::sort_registers_i32(level, tile, m)
    }
    fn sort_rows(
        level: Level,
        x: MatrixView<'_, f32>,
        j: usize,
        first: usize,
        m: usize,
        tile: &mut [[i32; W]],
    ) -> bool {
        super::simd::sort_rows_f32(level, x, j, first, m, tile)
    }
    fn order_fused(
        level: Level,
        x: MatrixView<'_, f32>,
        j0: usize,
        out: &mut [f32],
        finish: Finish,
    ) -> usize {
        super::simd::order_fused_f32(level, x, j0, out, finish)
    }
    fn phocas_fused(
        level: Level,
        x: MatrixView<'_, f32>,
        j0: usize,
        out: &mut [f32],
        bc: (usize, usize),
    ) -> usize {
        super::simd::phocas_fused_f32(level, x, j0, out, bc.0, bc.1)
    }
    fn phocas_registers(
        level: Level,
        tile: &[[i32; W]],
        bc: (usize, usize),
        res: &mut [f64; W],
        centre: &mut [f64; W],
    ) -> Option<u64> {
        super::simd::phocas_tile_i32(level, tile, bc.0, bc.1, res, centre)
    }
}

impl Keyed for f64 {
    fn parts(s: &mut Scratch) -> (&mut Vec<[i64; W]>, &mut Vec<u128>, &mut Vec<i64>) {
        (&mut s.tiles64, &mut s.pairs, &mut s.keys)
    }
    fn sort_registers(level: Level, tile: &mut [[i64; W]], m: usize) -> bool {
        super::simd::sort_registers_i64(level, tile, m)
    }
    fn sort_rows(
        level: Level,
        x: MatrixView<'_, f64>,
        j: usize,
        first: usize,
        m: usize,
        tile: &mut [[i64; W]],
    ) -> bool {
        super::simd::sort_rows_f64(level, x, j, first, m, tile)
    }
    fn order_fused(
        level: Level,
        x: MatrixView<'_, f64>,
        j0: usize,
        out: &mut [f64],
        finish: Finish,
    ) -> usize {
        super::simd::order_fused_f64(level, x, j0, out, finish)
    }
    fn phocas_fused(
        level: Level,
        x: MatrixView<'_, f64>,
        j0: usize,
        out: &mut [f64],
        bc: (usize, usize),
    ) -> usize {
        super::simd::phocas_fused_f64(level, x, j0, out, bc.0, bc.1)
    }
    fn phocas_registers(
        level: Level,
        tile: &[[i64; W]],
        bc: (usize, usize),
        res: &mut [f64; W],
        centre: &mut [f64; W],
    ) -> Option<u64> {
        super::simd::phocas_tile_i64(level, tile, bc.0, bc.1, res, centre)
    }
}

/// A coordinate-wise rule, ready to run: what it computes and its pruned network.
#[derive(Clone, Debug)]
pub(crate) struct OrderPlan {
    finish: Finish,
    net: Option<Network>,
    /// For 32 < m <= 64: the last stage of the network (the merge of wires 0..32 with wires
    /// 32..m), pruned, for when both halves are sorted by register networks.
    merge: Option<Network>,
}

impl OrderPlan {
    /// The plan for m workers.
    pub(crate) fn new(m: usize, finish: Finish) -> Self {
        // Phocas_0 keeps all m values: the mean, which is Trmean_0.
        // MeaMed_0 likewise.
        let finish = match finish {
            Finish::Phocas { b: 0 } | Finish::MeaMed { b: 0 } => Finish::Trmean { b: 0 },
            f => f,
        };
        let net = (m <= NETWORK_BUILD_MAX).then(|| {
            let class: Vec<usize> = (0..m).map(|w| class_of(m, finish, w)).collect();
            Network::sorting(m).pruned(&class)
        });
        // Batcher's network for 32 < m <= 64 sorts wires 0..32 and 32..m on their own, then
        // merges them. Pruning walks backwards, so the pruned merge stage is the tail of the
        // pruned network; running it after full sorts of both halves only adds comparators
        // that reorder values within one output group.
        let merge = (REGISTER_HALF < m && m <= 2 * REGISTER_HALF).then(|| {
            let class: Vec<usize> = (0..m).map(|w| class_of(m, finish, w)).collect();
            Network::stages_from(m, REGISTER_HALF).pruned(&class)
        });
        Self { finish, net, merge }
    }

    /// Comparators of the pruned network, if one was built.
    #[cfg(test)]
    pub(crate) fn comparators(&self) -> Option<usize> {
        self.net.as_ref().map(Network::len)
    }
}

/// Wires sorted by one register network when 32 < m <= 64 (two halves, then a merge).
const REGISTER_HALF: usize = 32;

/// Output group of wire w: wires of one group may end in any order among themselves. The
/// wires a rule sums are sorted (singleton groups), so sums run in the same order (increasing
/// values; Phocas's pairs in order of k) whichever network (pruned list or full register
/// sort) or path ran.
fn class_of(m: usize, finish: Finish, w: usize) -> usize {
    match finish {
        Finish::Trmean { b } => {
            if w < b {
                0
            } else if w >= m - b {
                1
            } else {
                w + 2
            }
        }
        Finish::Rank { b } => usize::from(w >= b) + usize::from(w > b),
        // Pairs (k, k + n) and the window sum need every wire sorted.
        Finish::Phocas { .. } | Finish::MeaMed { .. } => w,
    }
}

/// Runs a coordinate-wise rule over all coordinates of `x`, writing `out[j]`.
pub(crate) fn coordinatewise<T: Keyed>(
    x: MatrixView<'_, T>,
    ws: &Workspace,
    out: &mut [T],
    plan: &OrderPlan,
) {
    let m = x.m();
    match &plan.net {
        Some(net)
            if m <= ws.network_limit()
                && !(ws.network_auto() && tiled::preferred::<T>(m, plan.finish)) =>
        {
            let chunk = span::<T>(m, W, 8192);
            let net = net.comparators();
            let merge = plan.merge.as_ref().map_or(&[][..], Network::comparators);
            let finish = plan.finish;
            let level = ws.level();
            for_chunks(out, chunk, |c, o| {
                ws.with_scratch(|s| {
                    with_isa(
                        level,
                        #[inline(always)]
                        || network_chunk(x, c * chunk, o, (net, merge), finish, Some(level), s),
                    )
                });
            });
        }
        _ if tiled::applies::<T>(m, plan.finish) => tiled_chunks(x, ws, out, plan),
        _ => selection(x, ws, out, plan.finish),
    }
    rescue_overflow(x, out, plan.finish);
}

/// The selection path's tiled route ([`tiled`]) over chunks of coordinates, each task with
/// its thread's scratch.
fn tiled_chunks<T: Keyed>(x: MatrixView<'_, T>, ws: &Workspace, out: &mut [T], plan: &OrderPlan) {
    let m = x.m();
    let level = ws.level();
    let finish = plan.finish;
    let chunk = span::<T>(m, W, 8192);
    for_chunks(out, chunk, |c, o| {
        ws.with_scratch(|s| {
            let bufs = T::parts(s);
            with_isa(
                level,
                #[inline(always)]
                || tiled::chunk(x, c * chunk, o, finish, bufs),
            );
        });
    });
}

#[inline(always)]
fn network_chunk<T: Keyed>(
    x: MatrixView<'_, T>,
    j0: usize,
    out: &mut [T],
    (net, merge): (&[(u16, u16)], &[(u16, u16)]),
    finish: Finish,
    level: Option<Level>,
    s: &mut Scratch,
) {
    let registers = level.is_some();
    let m = x.m();
    let (tiles, pairs, lane) = T::parts(s);
    if tiles.len() < m {
        tiles.resize(m, [T::Key::default(); W]);
    }
    let tile = &mut tiles[..m];
    let pf_bytes = tile_prefetch_bytes(m);
    // The fused kernels write whole groups of lanes straight from the rows; the tile path
    // takes the tail, and (Phocas) a tile after a group that needs the exact route.
    let mut at = 0;
    while at < out.len() {
        if let Some(level) = level {
            at += match finish {
                Finish::Trmean { .. } | Finish::Rank { .. } => {
                    T::order_fused(level, x, j0 + at, &mut out[at..], finish)
                }
                Finish::Phocas { .. } | Finish::MeaMed { .. } => {
                    let bc = finish.window(m).expect("a window rule");
                    T::phocas_fused(level, x, j0 + at, &mut out[at..], bc)
                }
            };
        }
        let w = (out.len() - at).min(W);
        let o = &mut out[at..at + w];
        if o.is_empty() {
            break;
        }
        // Every row `ahead` bytes ahead into L1 for m <= 64, nothing for m > 64 (see
        // [`tile_prefetch_bytes`]). A quarter of the tile's lines at a time, spread over the
        // tile's work: one burst of m x 4 lines stalled on the prefetches (perf: 18% of
        // Phocas's samples at m = 50 on the Zen 4 VM).
        let ahead = j0 + at + pf_bytes / std::mem::size_of::<T>();
        let ask = |part: usize| {
            if pf_bytes > 0 {
                for i in 0..m {
                    super::simd::prefetch_l1(x.row(i), ahead + part * (W / 4), W / 4);
                }
            }
        };
        ask(0);
        // 32 < m <= 64 with a whole tile: the halves' register networks may read the rows
        // themselves (AVX-512), skipping the unsorted tile in memory. If the second call
        // declines, the tile is made again the usual way.
        // m <= 32 with a whole tile: a register network that reads the rows (the portable
        // level's float network; AVX2 and AVX-512 only get here for the tail after a group
        // that took Phocas's exact route).
        let rows = |first: usize, n: usize, tile: &mut [[T::Key; W]]| {
            level.is_some_and(|level| T::sort_rows(level, x, j0 + at, first, n, tile))
        };
        let whole = registers && o.len() == W && m <= REGISTER_HALF;
        let sorted = whole && rows(0, m, tile);
        let halves = registers && !merge.is_empty() && o.len() == W;
        let from_rows = !sorted && halves && rows(0, REGISTER_HALF, tile) && {
            ask(1);
            rows(REGISTER_HALF, m - REGISTER_HALF, &mut tile[REGISTER_HALF..])
        };
        if sorted {
            ask(1);
        } else if from_rows {
            sort_lanes(merge, tile);
        } else {
            load_keys(x, j0 + at, o.len(), tile);
            ask(1);
            sort_tile::<T>(tile, (net, merge), level);
        }
        ask(2);
        match finish {
            Finish::Trmean { b } => finish_trmean(tile, b, o),
            Finish::Rank { b } => {
                for (v, &k) in o.iter_mut().zip(tile[b].iter()) {
                    *v = T::from_key(k);
                }
            }
            Finish::Phocas { b } => finish_window(tile, (b, b), level, o, pairs, lane),
            Finish::MeaMed { .. } => {
                let bc = finish.window(m).expect("a window rule");
                finish_window(tile, bc, level, o, pairs, lane);
            }
        }
        ask(3);
        at += o.len();
    }
}

/// How far ahead of its tile the tile path prefetches every row (into L1), in bytes; 0 for
/// no prefetch. About 64 KiB in flight over all m rows (a multiple of 256 bytes, an f32
/// tile's row; 512 B to 4 KiB) for m <= 64; none above, where the sort of a tile from the
/// comparator list takes long enough for the hardware prefetchers.
///
/// (Measured against prefetching into L2 and against none: `reports/PERF.md`.)
pub(crate) fn tile_prefetch_bytes(m: usize) -> usize {
    if m > 2 * REGISTER_HALF {
        0
    } else {
        ((64 << 10) / m.max(1) / 256 * 256).clamp(512, super::simd::PREFETCH_BYTES)
    }
}

/// Sorts the keys of every lane of the tile: with one register network, two and the list's
/// merge stage (32 < m <= 64), or the comparator list.
#[inline(always)]
fn sort_tile<T: Keyed>(
    tile: &mut [[T::Key; W]],
    (net, merge): (&[(u16, u16)], &[(u16, u16)]),
    level: Option<Level>,
) {
    let m = tile.len();
    let registers = |tile: &mut [[T::Key; W]], n: usize| {
        level.is_some_and(|level| T::sort_registers(level, tile, n))
    };
    if registers(tile, m) {
        return;
    }
    if !merge.is_empty() && registers(tile, REGISTER_HALF) {
        let rest = &mut tile[REGISTER_HALF..];
        let done = rest.len() < 2 || registers(rest, m - REGISTER_HALF);
        assert!(done, "the register networks cover 2..=32 wires");
        sort_lanes(merge, tile);
    } else {
        sort_lanes(net, tile);
    }
}

/// Writes to wire k of the tile the keys of coordinates [j, j + w) of row `rows[k]`
/// (padding lanes get key 0) and sorts every lane with the full network `net` of
/// `rows.len()` wires (or a register network): the sorted coordinates of a subset of the rows
/// without copying the rows (Bulyan's second stage). O(w |rows| log^2 |rows|).
#[inline(always)]
pub(crate) fn sorted_listed_tile<T: Keyed>(
    x: MatrixView<'_, T>,
    rows: &[usize],
    j: usize,
    w: usize,
    tile: &mut [[T::Key; W]],
    net: &[(u16, u16)],
    level: Level,
) {
    for (dst, &i) in tile.iter_mut().zip(rows) {
        row_keys(&x.row(i)[j..j + w], dst);
    }
    sort_tile::<T>(tile, (net, &[]), Some(level));
}

/// Lanes `base..base + LANES` of a wire.
#[inline(always)]
fn lanes<K: Copy>(wire: &[K; W], base: usize) -> &[K; LANES] {
    wire[base..base + LANES]
        .try_into()
        .expect("LANES divides W")
}

/// Sums, from -0.0 and in wire order, the values of wires `wires` in lanes `base..+LANES`.
#[inline(always)]
fn sum_wires<T: Scalar>(wires: &[[T::Key; W]], base: usize) -> [f64; LANES] {
    let mut acc = [-0.0f64; LANES];
    for wire in wires {
        let v = values::<T>(wire, base);
        for l in 0..LANES {
            acc[l] += v[l];
        }
    }
    acc
}

#[inline(always)]
fn finish_trmean<T: Scalar>(tile: &[[T::Key; W]], b: usize, out: &mut [T]) {
    let m = tile.len();
    let n = (m - 2 * b) as f64;
    for (blk, o) in out.chunks_mut(LANES).enumerate() {
        let acc = sum_wires::<T>(&tile[b..m - b], blk * LANES);
        for (v, a) in o.iter_mut().zip(acc) {
            *v = T::from_f64(a / n);
        }
    }
}

/// The values of lanes `base..base + LANES` of a wire, in f64.
#[inline(always)]
fn values<T: Scalar>(wire: &[T::Key; W], base: usize) -> [f64; LANES] {
    let k = lanes(wire, base);
    let mut v = [0.0f64; LANES];
    for l in 0..LANES {
        v[l] = T::from_key(k[l]).to_f64();
    }
    v
}

/// The window rules (Phocas_b, MeaMed_b) on a sorted tile: the mean of the m - b values
/// nearest to the centre Trmean_c, `(b, c)`, with the SIMD kernel if the instruction set has
/// one, else [`phocas_lanes`] in safe code (the same operations in the same order).
#[inline(always)]
fn finish_window<T: Keyed>(
    tile: &[[T::Key; W]],
    (b, c): (usize, usize),
    level: Option<Level>,
    out: &mut [T],
    pairs: &mut Vec<u128>,
    lane: &mut Vec<i64>,
) {
    let m = tile.len();
    let mut res = [0.0f64; W];
    let mut centre = [0.0f64; W];
    let tied = level
        .and_then(|level| T::phocas_registers(level, tile, (b, c), &mut res, &mut centre))
        .unwrap_or_else(|| phocas_lanes::<T>(tile, (b, c), &mut res, &mut centre));
    for (v, r) in out.iter_mut().zip(res) {
        *v = T::from_f64(r);
    }
    // f64 storage: lanes whose centre or mean is not finite take the exact route, which
    // rescales them if finite values overflowed (an overflowed distance is a tie at +inf).
    let mut big = 0u64;
    if std::mem::size_of::<T>() == 8 {
        for l in 0..out.len() {
            if !(res[l].is_finite() && centre[l].is_finite()) {
                big |= 1 << l;
            }
        }
    }
    if tied | big != 0 {
        for (l, v) in out.iter_mut().enumerate() {
            // A tie between a dropped and a kept value, unless all m values are equal.
            let tie = tied >> l & 1 == 1 && tile[0][l] != tile[m - 1][l];
            if tie || big >> l & 1 == 1 {
                lane.clear();
                lane.extend(tile.iter().map(|w| T::from_key(w[l]).key64()));
                *v = T::from_f64(phocas_checked::<T>(lane, (b, c), centre[l], pairs));
            }
        }
    }
}

/// Phocas (c = b) or MeaMed (c = ceil(m/2) - 1) on a sorted tile, in safe code: writes each
/// lane's window mean and centre Trmean_c, returns the lanes whose separation check failed
/// (bit l for lane l).
#[inline(always)]
fn phocas_lanes<T: Scalar>(
    tile: &[[T::Key; W]],
    (b, c): (usize, usize),
    res: &mut [f64; W],
    centre: &mut [f64; W],
) -> u64 {
    let m = tile.len();
    let n = m - b;
    let mid = (m - 2 * b) as f64;
    let mut tied = 0u64;
    for blk in 0..W / LANES {
        let base = blk * LANES;
        // Trmean's sum of the middle, and the centre y = Trmean_c (Trmean_b for Phocas).
        let y = sum_wires::<T>(&tile[b..n], base);
        let (ys, cmid) = if c == b {
            (y, mid)
        } else {
            (sum_wires::<T>(&tile[c..m - c], base), (m - 2 * c) as f64)
        };
        let mut cy = [0.0f64; LANES];
        let mut keep_max = [0.0f64; LANES];
        let (lo_end, hi_end) = (values::<T>(&tile[b], base), values::<T>(&tile[n - 1], base));
        for l in 0..LANES {
            cy[l] = ys[l] / cmid;
            let (da, dc) = (dist(lo_end[l], cy[l]), dist(hi_end[l], cy[l]));
            keep_max[l] = if da > dc { da } else { dc };
        }
        // Pair k keeps its upper value when that one is strictly nearer (the lower one on
        // equal distance). The window mean sums Trmean's sum of the middle, then the kept
        // value of each pair in order of k.
        let mut sum = y;
        let mut lose_min = [f64::INFINITY; LANES];
        for k in 0..b {
            let (a, c) = (values::<T>(&tile[k], base), values::<T>(&tile[k + n], base));
            for l in 0..LANES {
                let (da, dc) = (dist(a[l], cy[l]), dist(c[l], cy[l]));
                let upper = da > dc;
                let (lose, keep, v) = if upper {
                    (da, dc, c[l])
                } else {
                    (dc, da, a[l])
                };
                sum[l] += v;
                lose_min[l] = if lose < lose_min[l] {
                    lose
                } else {
                    lose_min[l]
                };
                keep_max[l] = if keep > keep_max[l] {
                    keep
                } else {
                    keep_max[l]
                };
            }
        }
        for l in 0..LANES {
            res[base + l] = sum[l] / n as f64;
            centre[base + l] = cy[l];
            if b > 0 && lose_min[l] <= keep_max[l] {
                tied |= 1 << (base + l);
            }
        }
    }
    tied
}

#[cfg(test)]
mod tests {
    use super::super::selection::{phocas_exact, trimmed_mean};
    use super::*;
    use rand::{Rng, SeedableRng};

    fn specials() -> Vec<f32> {
        vec![
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e20,
            -1e20,
            1.0,
            2.0,
        ]
    }

    fn matrix(m: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let sp = specials();
        (0..m * d)
            .map(|_| match rng.random_range(0..8) {
                0 => sp[rng.random_range(0..sp.len())],
                1 => f32::from(rng.random_range(0u8..3)),
                _ => rng.random_range(-10.0f32..10.0),
            })
            .collect()
    }

    /// The rule on every path: 0 = selection, 1 = list network, 2 = register network (when
    /// the CPU has one for m; else the list network again), 3 = the tiled route (f32).
    fn run<T: Keyed>(x: &[T], m: usize, d: usize, finish: Finish, path: usize) -> Vec<T> {
        let plan = OrderPlan::new(m, finish);
        let ws = Workspace::new();
        let mut out = vec![T::default(); d];
        let view = MatrixView::new(x, m, d).unwrap();
        match &plan.net {
            _ if path == 3 => tiled_chunks(view, &ws, &mut out, &plan),
            Some(net) if path > 0 => {
                let mut s = Scratch::default();
                let net = net.comparators();
                let merge = plan.merge.as_ref().map_or(&[][..], Network::comparators);
                network_chunk(
                    view,
                    0,
                    &mut out,
                    (net, merge),
                    plan.finish,
                    (path == 2).then(|| ws.level()),
                    &mut s,
                );
            }
            _ => selection(view, &ws, &mut out, plan.finish),
        }
        out
    }

    fn same<T: Scalar>(a: T, b: T) -> bool {
        let (x, y) = (a.to_f64(), b.to_f64());
        (x.is_nan() && y.is_nan()) || a.key64() == b.key64()
    }

    /// Every coordinate of `got` has the bits of `want` (any NaN for a NaN).
    fn assert_same<T: Scalar>(got: &[T], want: &[T], what: &str) {
        for (j, (&a, &b)) in got.iter().zip(want).enumerate() {
            assert!(
                same(a, b),
                "{what} j={j}: {} vs selection {}",
                a.to_f64(),
                b.to_f64()
            );
        }
    }

    /// The exact route gives the same bits whatever the order of its keys: sorted, split by
    /// `trimmed_mean`, or shuffled (each takes its own branch of `sort_keys`).
    #[test]
    fn phocas_exact_does_not_depend_on_key_order() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut pairs = Vec::new();
        for m in [1, 2, 3, 5, 8, 20, 33] {
            for b in 0..=crate::aggregators::max_trim(m) {
                for _ in 0..20 {
                    let keys: Vec<i64> = (0..m)
                        .map(|_| match rng.random_range(0..6) {
                            0 => specials()[rng.random_range(0..10)],
                            1 => 1.0,
                            _ => rng.random_range(-4.0f32..4.0),
                        })
                        .map(|v: f32| v.key64())
                        .collect();
                    let centre = trimmed_mean::<f32>(&mut keys.clone(), b);
                    let mut split = keys.clone();
                    trimmed_mean::<f32>(&mut split, b);
                    let mut sorted = keys.clone();
                    sorted.sort_unstable();
                    let want = phocas_exact::<f32>(&mut sorted, b, centre, &mut pairs);
                    for mut k in [split, keys] {
                        let got = phocas_exact::<f32>(&mut k, b, centre, &mut pairs);
                        assert!(
                            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                            "m={m} b={b}: {got} vs {want}"
                        );
                        assert!(k.is_sorted());
                    }
                }
            }
        }
    }

    /// Every path computes the same bits: sums run in the same order everywhere.
    #[test]
    fn all_paths_agree_bit_for_bit() {
        for m in [1, 2, 3, 4, 5, 7, 8, 16, 20, 31, 32, 33, 50, 100] {
            let d = 130;
            let x32 = matrix(m, d, m as u64);
            let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v) * 1.000_000_1).collect();
            for b in 0..=crate::aggregators::max_trim(m) {
                for f in [
                    Finish::Trmean { b },
                    Finish::Rank { b },
                    Finish::Phocas { b },
                    Finish::MeaMed { b },
                ] {
                    let s32 = run(&x32, m, d, f, 0);
                    let s64 = run(&x64, m, d, f, 0);
                    let tiled32 = run(&x32, m, d, f, 3);
                    assert_same(&tiled32, &s32, &format!("f32 m={m} {f:?} tiled route"));
                    for path in [1, 2] {
                        let a = run(&x32, m, d, f, path);
                        for j in 0..d {
                            assert!(
                                same(a[j], s32[j]),
                                "f32 m={m} {f:?} path {path} j={j}: {} vs selection {}",
                                a[j],
                                s32[j]
                            );
                        }
                        let a = run(&x64, m, d, f, path);
                        for j in 0..d {
                            assert!(
                                same(a[j], s64[j]),
                                "f64 m={m} {f:?} path {path} j={j}: {} vs selection {}",
                                a[j],
                                s64[j]
                            );
                        }
                    }
                }
            }
        }
    }

    /// The tiled route (bit descent; f64: the order statistic and the Median) against
    /// the exact route, above the network limit and below it (where the one-rank finishes
    /// take it by default), on matrices with one value in eight special (NaN of both signs,
    /// infinities, zeros of both signs, 1e20, ties), on ordinary ones, and on +-2^40 with
    /// small values; below the limit also against the network path.
    #[test]
    fn the_tiled_route_has_the_exact_routes_bits_at_large_m() {
        for (m, d) in [(65, 67), (100, 70), (256, 66), (257, 70), (600, 65)] {
            let hostile = matrix(m, d, m as u64);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let plain: Vec<f32> = (0..m * d)
                .map(|_| rng.random_range(-1.0f32..1.0) * rng.random_range(0.5f32..2.0))
                .collect();
            // +-2^40 that cancel, and small values: sums whose order shows in the f32 result,
            // which the route must decline
            let spread: Vec<f32> = (0..m * d)
                .map(|i| match i % 4 {
                    0 => 2f32.powi(40),
                    1 => -(2f32.powi(40)),
                    _ => rng.random_range(-1.0f32..1.0),
                })
                .collect();
            for x in [&hostile, &plain, &spread] {
                let top = crate::aggregators::max_trim(m);
                for b in [0, 1, m / 10, top, m.div_ceil(2) - 1] {
                    for f in [
                        Finish::Trmean { b },
                        Finish::Rank { b },
                        Finish::Phocas { b: b.min(top) },
                        Finish::MeaMed { b: b.min(top) },
                    ] {
                        let (got, want) = (run(x, m, d, f, 3), run(x, m, d, f, 0));
                        assert_same(&got, &want, &format!("f32 m={m} {f:?} tiled route"));
                        if m <= NETWORK_MAX_M {
                            let net = run(x, m, d, f, 1);
                            assert_same(&got, &net, &format!("f32 m={m} {f:?} tiled/network"));
                        }
                        if tiled::applies::<f64>(m, f) {
                            let x64: Vec<f64> =
                                x.iter().map(|&v| f64::from(v) * 1.000_000_1).collect();
                            let (got, want) = (run(&x64, m, d, f, 3), run(&x64, m, d, f, 0));
                            assert_same(&got, &want, &format!("f64 m={m} {f:?} tiled route"));
                            if m <= NETWORK_MAX_M {
                                let net = run(&x64, m, d, f, 1);
                                assert_same(&got, &net, &format!("f64 m={m} {f:?} tiled/network"));
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ties_across_the_cut_take_the_exact_route() {
        // [-NaN, -inf, 1, 2, 3, 4, +inf], b = 2: centre 2; the definition drops +inf and -inf
        // (distance +inf, larger values first) and keeps -NaN, so the result is NaN.
        let col = [
            -f32::NAN,
            f32::NEG_INFINITY,
            1.0,
            2.0,
            3.0,
            4.0,
            f32::INFINITY,
        ];
        for path in 0..3 {
            let out = run(&col, 7, 1, Finish::Phocas { b: 2 }, path);
            assert!(out[0].is_nan(), "path {path}: {}", out[0]);
        }
    }

    #[test]
    fn pruning_saves_comparators() {
        let full = Network::sorting(20).len();
        let tr = OrderPlan::new(20, Finish::Trmean { b: 4 })
            .comparators()
            .unwrap();
        let md = OrderPlan::new(20, Finish::Trmean { b: 9 })
            .comparators()
            .unwrap();
        assert!(tr < full && md < full, "{full} {tr} {md}");
    }
}

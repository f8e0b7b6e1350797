//! Krum (Definition 3 of the paper) and Multi-Krum (Blanchard et al., 2017).
//!
//! The Krum score of row i is the sum of squared Euclidean distances from row i to its
//! m - q - 2 nearest neighbours among the other rows; Krum outputs the row with the least
//! score (lowest index on ties), Multi-Krum the average of the k rows with the least scores
//! (default k = m - q). Lemma 1 bounds Krum's error by Delta0 when 2q + 2 < m under the
//! classic model; that condition is reported by [`crate::bounds`], not enforced here, since the
//! paper runs Krum outside it. Only m - q - 2 >= 1 is required.
//!
//! Conventions differ between papers and codes, so both are options: the neighbour count
//! (`m-q-2`, the paper's, or `m-q-1`) and the distance (`squared`, the paper's, or `plain`).
//!
//! Pairwise distances are computed in one blocked pass over the matrix: fixed chunks of
//! coordinates (the chunking depends only on d, never on the thread count) are processed in
//! parallel, each accumulating all m(m-1)/2 pair sums in f64, and the chunk partials are added
//! in chunk order, so the result is bit-identical for any number of threads. Values of 1e20 or
//! bit-flipped floats square far beyond the f32 range; in f64 they do not overflow, and any
//! non-finite distance (overflow past f64, NaN) counts as +infinity.
//! Time: O(d m^2); extra space: m(m-1)/2 f64 per chunk (at most 64 chunks), and per thread
//! 128 m f64 plus 8 m(m-1)/2 f64 accumulators (and above m = 64 with a grid kernel, 256 m
//! f64 of segment rows).

use super::kernels::Keyed;
use super::krum_plan::{plan_pairs, PairBlock, PANEL};
use super::layout::for_chunks;
pub(crate) use super::layout::{Lanes, SegRow, StripPlan, SubRow, ACC, SEG, SUB};
use super::mean::mean_rows;
use super::simd::{has_krum_grids, krum_cross, prefetch_l1, with_isa, Level};
use super::TypedRule;
use super::{check_shape, reject, Aggregator, RuleParams, Scratch, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::scalar::Scalar;

/// How many nearest neighbours a Krum score sums over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KrumNeighbours {
    /// m - q - 2 (Definition 3 of the paper; Blanchard et al.).
    #[default]
    #[serde(rename = "m-q-2")]
    MinusQMinus2,
    /// m - q - 1 (used by some implementations).
    #[serde(rename = "m-q-1")]
    MinusQMinus1,
}

impl std::str::FromStr for KrumNeighbours {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "m-q-2" => Ok(Self::MinusQMinus2),
            "m-q-1" => Ok(Self::MinusQMinus1),
            _ => Err(format!(
                "unknown neighbour convention '{s}': use m-q-2 or m-q-1"
            )),
        }
    }
}

/// Which distance a Krum score sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KrumDistance {
    /// Squared Euclidean distance (the paper's).
    #[default]
    Squared,
    /// Euclidean distance.
    Plain,
}

impl std::str::FromStr for KrumDistance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "squared" => Ok(Self::Squared),
            "plain" => Ok(Self::Plain),
            _ => Err(format!(
                "unknown distance convention '{s}': use squared or plain"
            )),
        }
    }
}

#[derive(Clone, Debug)]
struct KrumCore {
    m: usize,
    q: usize,
    neighbours: usize,
    neighbours_conv: KrumNeighbours,
    distance: KrumDistance,
}

impl KrumCore {
    fn new(
        m: usize,
        q: usize,
        neighbours_conv: KrumNeighbours,
        distance: KrumDistance,
    ) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        let (extra, formula) = match neighbours_conv {
            KrumNeighbours::MinusQMinus2 => (2, "m - q - 2"),
            KrumNeighbours::MinusQMinus1 => (1, "m - q - 1"),
        };
        // neighbours = m - q - extra >= 1  <=>  q <= m - extra - 1
        let max = m.checked_sub(extra + 1);
        match max {
            Some(max) if q <= max => Ok(Self {
                m,
                q,
                neighbours: m - q - extra,
                neighbours_conv,
                distance,
            }),
            _ => Err(Error::KrumNeighbours {
                q,
                m,
                max: max.unwrap_or(0),
                formula,
            }),
        }
    }

    fn conventions(&self) -> String {
        conventions(self.neighbours_conv, self.distance)
    }

    /// Fills `ws.scores` with the Krum score of every row.
    fn scores<T: Scalar>(&self, x: MatrixView<'_, T>, ws: &mut Workspace) {
        pairwise_sq_distances(x, ws);
        let m = self.m;
        ws.scores.clear();
        ws.scores.resize(m, 0.0);
        // reuse `order` storage as the per-row neighbour buffer
        let mut buf = std::mem::take(&mut ws.selected_f64);
        for i in 0..m {
            buf.clear();
            for j in 0..m {
                if j != i {
                    let mut v = ws.dist[i * m + j];
                    if self.distance == KrumDistance::Plain {
                        v = v.sqrt();
                    }
                    buf.push(v);
                }
            }
            let n = self.neighbours;
            if n < buf.len() {
                buf.select_nth_unstable_by(n - 1, f64::total_cmp);
            }
            let s: f64 = buf[..n].iter().sum();
            ws.scores[i] = if s.is_nan() { f64::INFINITY } else { s };
        }
        ws.selected_f64 = buf;
    }
}

/// The label part of Krum's conventions that differ from the paper's (`,neighbours=m-q-1`,
/// `,distance=plain`); empty for the paper's.
pub(crate) fn conventions(neighbours: KrumNeighbours, distance: KrumDistance) -> String {
    let mut s = String::new();
    if neighbours != KrumNeighbours::MinusQMinus2 {
        s.push_str(",neighbours=m-q-1");
    }
    if distance != KrumDistance::Squared {
        s.push_str(",distance=plain");
    }
    s
}

/// Computes all pairwise squared distances into `ws.dist` (m x m, symmetric, zero diagonal),
/// in f64, with non-finite results mapped to +infinity. Deterministic for any thread count.
///
/// Fixed chunks of coordinates (their length depends only on d) are processed in parallel;
/// within a chunk, every pair accumulates `(a - b)^2` with a fused multiply-add into [`ACC`]
/// lanes (lane l takes the coordinates whose offset from the chunk's start is l mod ACC, in
/// order), sub-tile of [`SUB`] coordinates after sub-tile, in the blocks of
/// [`super::krum_plan`] (one block up to m = 64: one pass over the matrix; above, each
/// panel's rows are read once per block pair, from the L3). At the end of the chunk the lanes
/// are added in a fixed tree, and the chunk totals are added in chunk order.
pub(crate) fn pairwise_sq_distances<T: Scalar>(x: MatrixView<'_, T>, ws: &mut Workspace) {
    let m = x.m();
    let d = x.d();
    let npairs = m * m.saturating_sub(1) / 2;
    ws.dist.clear();
    ws.dist.resize(m * m, 0.0);
    if npairs == 0 {
        return;
    }
    let chunk_len = d.div_ceil(64).max(4096);
    let nchunks = d.div_ceil(chunk_len);
    let mut partials = std::mem::take(&mut ws.pair_partials);
    // no zeroing: every chunk writes each of its pairs' totals
    partials.resize(nchunks * npairs, 0.0);
    plan_pairs(m, &mut ws.strips, &mut ws.pair_blocks);
    {
        let ws: &Workspace = ws;
        let (strips, blocks) = (&ws.strips[..], &ws.pair_blocks[..]);
        let level = ws.level();
        for_chunks(&mut partials, npairs, |c, part| {
            let j0 = c * chunk_len;
            let j1 = (j0 + chunk_len).min(d);
            ws.with_scratch(|s| {
                with_isa(
                    level,
                    #[inline(always)]
                    || distance_chunk(level, x, j0, j1, part, (strips, blocks), s),
                );
            });
        });
    }
    let mut p = 0;
    for i in 0..m {
        for j in i + 1..m {
            let mut v = 0.0;
            for c in 0..nchunks {
                v += partials[c * npairs + p];
            }
            if !v.is_finite() {
                v = f64::INFINITY;
            }
            ws.dist[i * m + j] = v;
            ws.dist[j * m + i] = v;
            p += 1;
        }
    }
    ws.pair_partials = partials;
}

/// Rows per group of a diagonal block's grids: each group is paired with the rows after it
/// (grids of 4 x 6 pairs on AVX-512), then its own 6 pairs run in grids one row high.
const GROUP: usize = 4;

/// Sums of squared differences of every pair over coordinates [j0, j1), into `part`.
///
/// Block by block ([`super::krum_plan`]): one block (m <= 64) takes the whole chunk, sub-tile
/// after sub-tile; several blocks take it a panel of [`PANEL`] coordinates at a time, each
/// block pair running over the panel before the next, so its accumulators stay in L2. With a
/// grid kernel, a block converts its rows to f64 segment by segment ([`SEG`]) and runs the
/// register grids (a diagonal block in groups of [`GROUP`] rows); one block (m <= 64), or a
/// level without grids (portable, or AVX2 without FMA), converts them sub-tile by sub-tile and
/// runs its strips.
///
/// While the pairs of one sub-tile run, the next sub-tile of the block's rows is prefetched
/// into L1, a row or two before each strip ([`StripPlan::ahead`]), so the conversion reads L1
/// and the memory requests are spread over the compute-bound pair kernel instead of being
/// issued all at once with the conversion (then perf put 12% of Krum's samples on the
/// instruction after a prefetch and 30% in the conversion, as if the core ran out of
/// outstanding misses). Measured against a prefetch into L2 issued with the conversion:
/// `reports/PERF.md`.
#[inline(always)]
fn distance_chunk<T: Scalar>(
    level: Level,
    x: MatrixView<'_, T>,
    j0: usize,
    j1: usize,
    part: &mut [f64],
    (strips, blocks): (&[StripPlan], &[PairBlock]),
    s: &mut Scratch,
) {
    let m = x.m();
    let Scratch {
        rows64,
        seg_rows,
        pair_acc,
        ..
    } = s;
    if rows64.len() < m {
        rows64.resize(m, SubRow([0.0; SUB]));
    }
    let tile = &mut rows64[..m];
    let grids = blocks.len() > 1 && has_krum_grids(level);
    if grids && seg_rows.len() < m {
        seg_rows.resize(m, SegRow([0.0; SEG]));
    }
    if pair_acc.len() < part.len() {
        pair_acc.resize(part.len(), Lanes([0.0; ACC]));
    }
    let panel = if blocks.len() == 1 { j1 - j0 } else { PANEL };
    for p0 in (j0..j1).step_by(panel.max(1)) {
        let p1 = (p0 + panel).min(j1);
        for blk in blocks {
            if p0 == j0 {
                // the block's accumulators start at zero, and end in `part` (below) while
                // they are in L2
                for run in blk.pair_runs(m) {
                    pair_acc[run].fill(Lanes([0.0; ACC]));
                }
            }
            let ahead = |(a, b): (usize, usize), next: usize, len: usize| {
                for k in a..b {
                    prefetch_l1(x.row(blk.row(k)), next, len);
                }
            };
            if grids {
                // segments of 2 sub-tiles (the panel is a multiple of SEG): the same
                // coordinates in the same lanes, in the same order
                let n = blk.row_count();
                for j in (p0..p1).step_by(SEG) {
                    for i in blk.rows() {
                        load_row(x.row(i), j, p1, &mut seg_rows[i].0);
                    }
                    let (next, steps) = (j + SEG, (p1 - j).min(SEG).div_ceil(ACC));
                    let len = SEG.min(p1.saturating_sub(next));
                    let (ri, rj) = (blk.rows[0].clone(), blk.rows[1].clone());
                    let mut cross = |rows, before: &dyn Fn(usize, usize)| {
                        let ran = krum_cross(level, seg_rows, pair_acc, (m, steps), rows, before);
                        debug_assert!(ran, "has_krum_grids and krum_cross disagree");
                    };
                    // group g of ng prefetches its share of the next segment's n rows
                    let share =
                        |g: usize, ng: usize| ahead((g * n / ng, (g + 1) * n / ng), next, len);
                    if !rj.is_empty() {
                        cross((ri, rj), &share);
                    } else {
                        // a diagonal block: each group of GROUP rows with the rows after it,
                        // then the pairs inside the group (grids one row high)
                        let ng = ri.len().div_ceil(GROUP);
                        for (g, i0) in ri.clone().step_by(GROUP).enumerate() {
                            let i1 = (i0 + GROUP).min(ri.end);
                            share(g, ng);
                            cross((i0..i1, i1..ri.end), &|_, _| {});
                            for i in i0..i1 {
                                cross((i..i + 1, i + 1..i1), &|_, _| {});
                            }
                        }
                    }
                }
            } else {
                for j in (p0..p1).step_by(SUB) {
                    for i in blk.rows() {
                        load_row(x.row(i), j, p1, &mut tile[i].0);
                    }
                    let next = j + SUB;
                    let len = SUB.min(p1.saturating_sub(next));
                    pairs(
                        level,
                        tile,
                        pair_acc,
                        &strips[blk.strips.clone()],
                        #[inline(always)]
                        |s: &StripPlan| ahead(s.ahead, next, len),
                    );
                }
            }
            if p1 == j1 {
                for run in blk.pair_runs(m) {
                    for (v, acc) in part[run.clone()].iter_mut().zip(&pair_acc[run]) {
                        *v = tree_sum(&acc.0);
                    }
                }
            }
        }
    }
}

/// Converts `row[j..min(j + N, j1)]` into `dst`, zero-padded (zero on both sides of a pair
/// adds exactly nothing).
#[inline(always)]
fn load_row<T: Scalar, const N: usize>(row: &[T], j: usize, j1: usize, dst: &mut [f64; N]) {
    let part = &row[j..(j + N).min(j1)];
    if let Ok(src) = <&[T; N]>::try_from(part) {
        for t in 0..N {
            dst[t] = src[t].to_f64();
        }
    } else {
        for t in 0..N {
            dst[t] = part.get(t).map_or(0.0, |v| v.to_f64());
        }
    }
}

/// The pairs of `strips` over one sub-tile: the SIMD kernel of `level`, or
/// [`accumulate`] per pair (the same result); `before(s)` runs before strip s.
#[inline(always)]
fn pairs<F: Fn(&StripPlan)>(
    level: Level,
    tile: &[SubRow],
    acc: &mut [Lanes],
    strips: &[StripPlan],
    before: F,
) {
    if !super::simd::krum_pairs(level, tile, acc, strips, &before) {
        for s in strips {
            before(s);
            for k in 0..s.len {
                let (a, b) = (&tile[s.a[k]].0, &tile[s.b[k]].0);
                if PORTABLE_FMA {
                    accumulate(&mut acc[s.p[k]].0, a, b);
                } else {
                    accumulate_unfused(&mut acc[s.p[k]].0, a, b);
                }
            }
        }
    }
}

/// Whether the portable level's distances fuse each multiply-add: where the compilation
/// target has FMA (aarch64; x86-64 built with `-C target-feature=+fma` or a `target-cpu` that
/// has it), `f64::mul_add` is one instruction and the portable distances have the bits of the
/// AVX2 and AVX-512 kernels. Elsewhere (baseline x86-64) `mul_add` is a library call per value
/// (25x slower than AVX2 at m = 20, d = 10^6), so the portable level multiplies and adds
/// (`accumulate_unfused`): two roundings instead of one, so the squared distances may
/// differ from the other levels' in the last bits (relative 2^-52 per step), and the rows
/// Krum, Multi-Krum and Bulyan select differ only where two scores are that close.
pub const PORTABLE_FMA: bool = cfg!(any(target_feature = "fma", target_arch = "aarch64"));

/// [`accumulate`] with a multiply and an add (two roundings) in place of the fused step.
#[inline(always)]
fn accumulate_unfused(acc: &mut [f64; ACC], a: &[f64; SUB], b: &[f64; SUB]) {
    let mut r = *acc;
    for c in 0..SUB / ACC {
        for l in 0..ACC {
            let t = a[c * ACC + l] - b[c * ACC + l];
            r[l] += t * t;
        }
    }
    *acc = r;
}

/// `acc[l] = fma(a[t] - b[t], a[t] - b[t], acc[l])` for t = l mod ACC, in order of t.
/// (`mul_add` is one instruction where the CPU has FMA; the AVX2 kernel always has it.)
#[inline(always)]
fn accumulate(acc: &mut [f64; ACC], a: &[f64; SUB], b: &[f64; SUB]) {
    let mut r = *acc;
    for c in 0..SUB / ACC {
        for l in 0..ACC {
            let t = a[c * ACC + l] - b[c * ACC + l];
            r[l] = t.mul_add(t, r[l]);
        }
    }
    *acc = r;
}

/// Sum of the lanes in a fixed pairwise tree.
#[inline(always)]
fn tree_sum(acc: &[f64; ACC]) -> f64 {
    let mut v = *acc;
    let mut w = ACC;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            v[l] += v[l + w];
        }
    }
    v[0]
}

/// Krum (Definition 3).
#[derive(Clone, Debug)]
pub struct Krum {
    core: KrumCore,
}

impl Krum {
    /// Krum for m workers assuming q Byzantine; needs m - q - 2 >= 1 (or m - q - 1 >= 1).
    pub fn new(
        m: usize,
        q: usize,
        neighbours: KrumNeighbours,
        distance: KrumDistance,
    ) -> Result<Self, Error> {
        Ok(Self {
            core: KrumCore::new(m, q, neighbours, distance)?,
        })
    }
    /// Index of the row Krum selects (computes the scores).
    pub fn select<T: Scalar>(&self, x: MatrixView<'_, T>, ws: &mut Workspace) -> usize {
        self.core.scores(x, ws);
        let mut best = 0;
        for (i, s) in ws.scores.iter().enumerate() {
            if *s < ws.scores[best] {
                best = i;
            }
        }
        best
    }
    fn run<T: Scalar>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
    ) -> Result<(), Error> {
        check_shape(self.core.m, &x, out.len())?;
        let k = self.select(x, ws);
        // in parallel chunks: one thread copies about 10-20 GB/s, a serial copy of a
        // 10^6-value row was 3% of the call
        let row = x.row(k);
        for_chunks(out, 1 << 16, |c, o| {
            o.copy_from_slice(&row[c << 16..(c << 16) + o.len()]);
        });
        Ok(())
    }
}

/// Multi-Krum: the average of the k rows with the least Krum scores.
#[derive(Clone, Debug)]
pub struct MultiKrum {
    core: KrumCore,
    k: usize,
}

impl MultiKrum {
    /// Multi-Krum for m workers; k in 1..=m (default m - q, set by the registry's builder).
    pub fn new(
        m: usize,
        q: usize,
        k: usize,
        neighbours: KrumNeighbours,
        distance: KrumDistance,
    ) -> Result<Self, Error> {
        let core = KrumCore::new(m, q, neighbours, distance)?;
        if k == 0 || k > m {
            return Err(Error::InvalidK { k, m });
        }
        Ok(Self { core, k })
    }
    fn run<T: Scalar>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
    ) -> Result<(), Error> {
        check_shape(self.core.m, &x, out.len())?;
        self.core.scores(x, ws);
        ws.order.clear();
        ws.order.extend(0..self.core.m);
        let scores = &ws.scores;
        ws.order
            .sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
        ws.selected.clear();
        ws.selected.extend_from_slice(&ws.order[..self.k]);
        ws.selected.sort_unstable();
        let ws: &Workspace = ws;
        mean_rows(x, Some(&ws.selected), ws, out);
        Ok(())
    }
}

fn q_param(rule: &'static str, p: &RuleParams, m: usize) -> Result<usize, Error> {
    reject(rule, "b", p.b.is_some(), "--q (and --k for multikrum)")?;
    p.q.ok_or_else(|| Error::MissingParam {
        rule,
        param: "q",
        allowed: format!("0..={} for m = {m}", m.saturating_sub(3)),
    })
}

pub(super) fn build_krum(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    let q = q_param("krum", p, m)?;
    reject("krum", "k", p.k.is_some(), "--q")?;
    Ok(Box::new(Krum::new(m, q, p.neighbours, p.distance)?))
}

pub(super) fn build_multikrum(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    let q = q_param("multikrum", p, m)?;
    let k = p.k.unwrap_or(m.saturating_sub(q));
    Ok(Box::new(MultiKrum::new(m, q, k, p.neighbours, p.distance)?))
}

macro_rules! impl_aggregator {
    ($ty:ty, $name:literal, $label:expr) => {
        impl TypedRule for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn label(&self) -> String {
                let f: fn(&$ty) -> String = $label;
                f(self)
            }
            fn m(&self) -> usize {
                self.core.m
            }
            fn run_typed<T: Keyed>(
                &self,
                x: MatrixView<'_, T>,
                ws: &mut Workspace,
                out: &mut [T],
            ) -> Result<(), Error> {
                self.run(x, ws, out)
            }
        }
    };
}

impl_aggregator!(Krum, "krum", |s| format!(
    "krum(q={}{})",
    s.core.q,
    s.core.conventions()
));
impl_aggregator!(MultiKrum, "multikrum", |s| format!(
    "multikrum(q={},k={}{})",
    s.core.q,
    s.k,
    s.core.conventions()
));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::AggregateExt;

    #[test]
    fn constructor_bounds() {
        assert!(Krum::new(5, 2, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).is_ok());
        let e = Krum::new(5, 3, KrumNeighbours::MinusQMinus2, KrumDistance::Squared)
            .unwrap_err()
            .to_string();
        assert!(e.contains("q must be at most 2"), "{e}");
        assert!(Krum::new(5, 3, KrumNeighbours::MinusQMinus1, KrumDistance::Squared).is_ok());
        assert!(Krum::new(2, 0, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).is_err());
        assert!(
            MultiKrum::new(5, 1, 0, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).is_err()
        );
        assert!(
            MultiKrum::new(5, 1, 6, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).is_err()
        );
    }

    #[test]
    fn simd_pairs_match_the_portable_accumulation_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let specials = [f64::NAN, f64::INFINITY, -f64::INFINITY, 1e300, -0.0, 5e-324];
        for m in [2, 3, 4, 7, 20, 21, 33, 50] {
            let tile: Vec<SubRow> = (0..m)
                .map(|_| {
                    SubRow(std::array::from_fn(|_| {
                        if rng.random_range(0..50) == 0 {
                            specials[rng.random_range(0..specials.len())]
                        } else {
                            rng.random_range(-3.0..3.0)
                        }
                    }))
                })
                .collect();
            let npairs = m * (m - 1) / 2;
            let start: Vec<Lanes> = (0..npairs)
                .map(|_| Lanes(std::array::from_fn(|_| rng.random_range(0.0..1.0))))
                .collect();
            let mut want = start.clone();
            let mut p = 0;
            for i in 0..m {
                for j in i + 1..m {
                    accumulate(&mut want[p].0, &tile[i].0, &tile[j].0);
                    p += 1;
                }
            }
            let (mut strips, mut blocks) = (Vec::new(), Vec::new());
            super::super::krum_plan::plan_pairs(m, &mut strips, &mut blocks);
            for level in crate::aggregators::available_isas() {
                let mut simd = start.clone();
                let level = crate::aggregators::Level::new(level).expect("available");
                if !super::super::simd::krum_pairs(
                    level,
                    &tile,
                    &mut simd,
                    &strips,
                    |_: &StripPlan| {},
                ) {
                    continue; // no SIMD kernel at this level: the portable path runs
                }
                for (p, (a, b)) in simd.iter().zip(&want).enumerate() {
                    for l in 0..ACC {
                        assert_eq!(
                            a.0[l].to_bits(),
                            b.0[l].to_bits(),
                            "{level:?}, m = {m}, pair {p}, lane {l}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn blocked_distances_match_a_pair_by_pair_sum_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let specials = [f64::NAN, f64::INFINITY, 1e300, -0.0, 5e-324];
        // m = 65 and 150: several blocks with remainders of every grid size; d = 2600: one
        // chunk of two panels, the second ending in a partial sub-tile
        for (m, d) in [(65, 700), (150, 2600)] {
            let x: Vec<f64> = (0..m * d)
                .map(|_| {
                    if rng.random_range(0..2000) == 0 {
                        specials[rng.random_range(0..specials.len())]
                    } else {
                        rng.random_range(-3.0..3.0)
                    }
                })
                .collect();
            let view = MatrixView::new(&x, m, d).unwrap();
            for isa in crate::aggregators::available_isas() {
                let level = crate::aggregators::Level::new(isa).expect("available");
                let mut ws = Workspace::new().with_level(level);
                pairwise_sq_distances(view, &mut ws);
                // the SIMD kernels fuse; without them (portable, or AVX2 on a CPU without
                // FMA) the portable accumulation runs
                let fused = PORTABLE_FMA || super::super::simd::has_krum_grids(level);
                for i in 0..m {
                    for j in i + 1..m {
                        let mut lanes = [0.0; ACC];
                        for j0 in (0..d).step_by(SUB) {
                            let (mut a, mut b) = ([0.0; SUB], [0.0; SUB]);
                            for t in j0..(j0 + SUB).min(d) {
                                (a[t - j0], b[t - j0]) = (x[i * d + t], x[j * d + t]);
                            }
                            if fused {
                                accumulate(&mut lanes, &a, &b);
                            } else {
                                accumulate_unfused(&mut lanes, &a, &b);
                            }
                        }
                        let mut want = tree_sum(&lanes);
                        if !want.is_finite() {
                            want = f64::INFINITY;
                        }
                        let got = ws.dist[i * m + j];
                        assert!(
                            got.to_bits() == want.to_bits() && ws.dist[j * m + i] == got,
                            "{isa:?}, m = {m}, pair ({i}, {j}): {got} against {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn unfused_distances_are_within_rounding_of_the_fused_ones() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..200 {
            let a: [f64; SUB] = std::array::from_fn(|_| rng.random_range(-3.0..3.0));
            let b: [f64; SUB] = std::array::from_fn(|_| rng.random_range(-3.0..3.0));
            let (mut f, mut u) = ([0.0; ACC], [0.0; ACC]);
            accumulate(&mut f, &a, &b);
            accumulate_unfused(&mut u, &a, &b);
            for l in 0..ACC {
                // SUB / ACC steps of at most two roundings each
                let tol = 4.0 * (SUB / ACC) as f64 * f64::EPSILON * f[l];
                assert!(
                    (f[l] - u[l]).abs() <= tol,
                    "lane {l}: {} against {}",
                    f[l],
                    u[l]
                );
            }
        }
    }

    #[test]
    fn picks_the_central_row() {
        // rows: 0, 1, 2, 100 in one dimension, q = 1 -> 1 neighbour.
        // scores: row0: 1, row1: 1, row2: 1, row3: 98^2 -> lowest index 0.
        let x = [0.0f64, 1.0, 2.0, 100.0];
        let k = Krum::new(4, 1, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).unwrap();
        let out = k.aggregate(MatrixView::new(&x, 4, 1).unwrap()).unwrap();
        assert_eq!(out, vec![0.0]);
        // With two neighbours (m-q-1): row1 has 1+1 = 2, the least.
        let k = Krum::new(4, 1, KrumNeighbours::MinusQMinus1, KrumDistance::Squared).unwrap();
        let out = k.aggregate(MatrixView::new(&x, 4, 1).unwrap()).unwrap();
        assert_eq!(out, vec![1.0]);
    }

    #[test]
    fn huge_and_nan_rows_never_chosen() {
        let x = [
            1.0f32,
            1.0, //
            1.1,
            0.9, //
            3e38,
            -3e38, //
            f32::NAN,
            0.0, //
            0.9,
            1.1, //
            1.0,
            1.05,
        ];
        let k = Krum::new(6, 2, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).unwrap();
        let mut ws = Workspace::new();
        let i = k.select(MatrixView::new(&x, 6, 2).unwrap(), &mut ws);
        assert!(i != 2 && i != 3, "picked {i}");
        let mk =
            MultiKrum::new(6, 2, 4, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).unwrap();
        let out = mk.aggregate(MatrixView::new(&x, 6, 2).unwrap()).unwrap();
        assert!(
            out.iter().all(|v| v.is_finite() && (*v - 1.0).abs() < 0.1),
            "{out:?}"
        );
    }
}

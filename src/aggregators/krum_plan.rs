//! Krum's pair schedule: which pairs of rows the pair kernels ([`super::simd`]'s `krum`)
//! visit together, and in which blocks.
//!
//! Up to [`ONE_BLOCK_MAX`] rows, every pair is in one block, visited in strips of a cyclic
//! schedule: the accumulators of all m(m-1)/2 pairs (64 bytes each, 129 KB at m = 64) stay in
//! L2 while the sub-tiles of a chunk go by. Above it, they outgrow L2 (32 MB at m = 1000): a
//! pass over every pair per sub-tile of 128 coordinates reloaded them from memory each time,
//! and Krum ran at 2.9x its floating-point floor at m = 1000 (`reports/PERF.md`). So the rows
//! are split into blocks of [`BLOCK_ROWS`], and each pair of blocks runs over a panel of
//! [`PANEL`] coordinates before the next: its at most 60 x 60 accumulators (225 KB) stay in
//! L2 for the whole panel, while its 120 rows are converted to f64 again for each segment
//! (240 KB). The SIMD kernels visit an off-diagonal block, a rectangle of pairs, in register
//! grids (4 x 6 pairs on AVX-512: 10 vector loads per 24 pair steps, against 11 per 10 in a
//! strip), and a diagonal block, a triangle, in grids of each group of 4 rows with the rows
//! after it (`krum`'s `distance_chunk`); without them (the portable level), a diagonal block
//! pairs its rows among themselves in the strips planned here.
//!
//! Every pair keeps its own accumulator and takes the coordinates in order, whatever block,
//! strip or grid it is in, so the schedule changes no result.

use super::layout::{pair_index, StripPlan, ACC, SEG, STRIP_MAX, SUB};
use std::ops::Range;

/// Rows per block (the last block takes the rest): a multiple of the grids' 4 and 6 rows
/// (on AVX-512; 2 and 4 on AVX2), so only the last block has partial grids.
pub(crate) const BLOCK_ROWS: usize = 60;

/// Largest m planned as one block (whose panel is the whole chunk).
pub(crate) const ONE_BLOCK_MAX: usize = 64;

/// Coordinates per panel when there are several blocks.
pub(crate) const PANEL: usize = 2048;

// Panels split into whole segments, segments into whole sub-tiles, sub-tiles into whole steps
// of ACC lanes: every sub-tile, segment and step starts at the chunk's start plus a multiple
// of its width, so each coordinate keeps its lane and its order (same bits).
const _: () =
    assert!(PANEL.is_multiple_of(SEG) && SEG.is_multiple_of(SUB) && SUB.is_multiple_of(ACC));

/// One block of the schedule: the pairs between the rows of `rows[0]` and `rows[1]` (an empty
/// `rows[1]`: the pairs among the rows of `rows[0]`), visited by the strips `strips`. A strip's
/// `ahead` positions index the block's rows, `rows[0]` then `rows[1]` ([`PairBlock::row`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct PairBlock {
    pub(crate) rows: [Range<usize>; 2],
    pub(crate) strips: Range<usize>,
}

impl PairBlock {
    /// The rows of the block, `rows[0]` then `rows[1]`.
    pub(crate) fn rows(&self) -> impl Iterator<Item = usize> + Clone {
        self.rows[0].clone().chain(self.rows[1].clone())
    }

    /// The accumulator indices of the block's pairs, as runs of consecutive indices (one per
    /// row of `rows[0]`).
    pub(crate) fn pair_runs(&self, m: usize) -> impl Iterator<Item = Range<usize>> + '_ {
        self.rows[0].clone().filter_map(move |i| {
            let (j0, j1) = if self.rows[1].is_empty() {
                (i + 1, self.rows[0].end)
            } else {
                (self.rows[1].start, self.rows[1].end)
            };
            (j0 < j1).then(|| {
                let p = pair_index(m, i, j0);
                p..p + (j1 - j0)
            })
        })
    }

    /// How many rows the block has.
    pub(crate) fn row_count(&self) -> usize {
        self.rows[0].len() + self.rows[1].len()
    }

    /// The row at position k of [`PairBlock::rows`].
    #[inline(always)]
    pub(crate) fn row(&self, k: usize) -> usize {
        let n0 = self.rows[0].len();
        if k < n0 {
            self.rows[0].start + k
        } else {
            self.rows[1].start + (k - n0)
        }
    }
}

/// Plans every unordered pair of m rows exactly once into `strips`, grouped by `blocks`.
/// O(m^2) time and space (a strip per at most [`STRIP_MAX`] pairs).
pub(crate) fn plan_pairs(m: usize, strips: &mut Vec<StripPlan>, blocks: &mut Vec<PairBlock>) {
    strips.clear();
    blocks.clear();
    if m < 2 {
        return;
    }
    let size = if m <= ONE_BLOCK_MAX { m } else { BLOCK_ROWS };
    let nb = m.div_ceil(size);
    let edge = |b: usize| (b * size).min(m);
    for bi in 0..nb {
        for bj in bi..nb {
            let start = strips.len();
            let ri = edge(bi)..edge(bi + 1);
            let rows = if bi == bj {
                diagonal(m, ri.clone(), strips);
                [ri, 0..0]
            } else {
                let rj = edge(bj)..edge(bj + 1);
                cross(m, ri.clone(), rj.clone(), strips);
                [ri, rj]
            };
            let block = PairBlock {
                rows,
                strips: start..strips.len(),
            };
            spread_ahead(&mut strips[block.strips.clone()], block.row_count());
            blocks.push(block);
        }
    }
}

/// Appends the strip of `pairs` (global rows) to `out`.
fn push(
    m: usize,
    out: &mut Vec<StripPlan>,
    pairs: impl Iterator<Item = (usize, usize)>,
    shared: bool,
) {
    let mut plan = StripPlan {
        shared,
        ..StripPlan::default()
    };
    for (k, (i, j)) in pairs.enumerate() {
        (plan.a[k], plan.b[k], plan.p[k]) = (i, j, pair_index(m, i, j));
        plan.len = k + 1;
    }
    out.push(plan);
}

/// The pairs among the rows `r`. Cyclic schedule: row i is paired with rows i + s (mod n) for
/// s = 1..=(n-1)/2, split into strips of near-equal width (so no strip is left with too few
/// independent chains); for even n the pairs (i, i + n/2), i < n/2, follow in groups of up to
/// 8 with separate rows.
fn diagonal(m: usize, r: Range<usize>, out: &mut Vec<StripPlan>) {
    let (r0, n) = (r.start, r.len());
    let half = n.saturating_sub(1) / 2;
    if half > 0 {
        let ns = half.div_ceil(STRIP_MAX);
        let (base, extra) = (half / ns, half % ns);
        for i in 0..n {
            let mut s0 = 1;
            for t in 0..ns {
                let w = base + usize::from(t < extra);
                // i + s < 2n: no division
                let pairs =
                    (s0..s0 + w).map(|s| (r0 + i, r0 + if i + s >= n { i + s - n } else { i + s }));
                push(m, out, pairs, true);
                s0 += w;
            }
        }
    }
    if n.is_multiple_of(2) && n > 0 {
        let h = n / 2;
        for i0 in (0..h).step_by(8) {
            push(
                m,
                out,
                (i0..(i0 + 8).min(h)).map(|i| (r0 + i, r0 + i + h)),
                false,
            );
        }
    }
}

/// The pairs between the rows `ri` and the rows `rj`: each row of `ri` with every row of `rj`,
/// in strips of near-equal width sharing the row of `ri`.
fn cross(m: usize, ri: Range<usize>, rj: Range<usize>, out: &mut Vec<StripPlan>) {
    let n = rj.len();
    let ns = n.div_ceil(STRIP_MAX);
    let (base, extra) = (n / ns, n % ns);
    for i in ri {
        let mut j0 = rj.start;
        for t in 0..ns {
            let w = base + usize::from(t < extra);
            push(m, out, (j0..j0 + w).map(|j| (i, j)), true);
            j0 += w;
        }
    }
}

/// Spreads the prefetches of the block's `rows` rows evenly over its strips, in order.
fn spread_ahead(strips: &mut [StripPlan], rows: usize) {
    let ns = strips.len();
    for (n, s) in strips.iter_mut().enumerate() {
        s.ahead = (n * rows / ns, (n + 1) * rows / ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_is_visited_once_in_its_block() {
        let (mut strips, mut blocks) = (Vec::new(), Vec::new());
        for m in (0..=70).chain([128, 129, 150, 200, 257]) {
            let mut seen = vec![0u32; m * m];
            plan_pairs(m, &mut strips, &mut blocks);
            assert_eq!(
                blocks.len() == 1,
                (2..=ONE_BLOCK_MAX).contains(&m),
                "m = {m}"
            );
            let mut next_strip = 0;
            for blk in &blocks {
                assert_eq!(blk.strips.start, next_strip, "m = {m}");
                next_strip = blk.strips.end;
                let rows: Vec<usize> = blk.rows().collect();
                assert!(rows.len() <= ONE_BLOCK_MAX.max(2 * BLOCK_ROWS));
                assert!(rows.iter().all(|&r| r < m));
                for (k, &r) in rows.iter().enumerate() {
                    assert_eq!(blk.row(k), r);
                }
                // the prefetch positions cover the block's rows once, in order
                let mut next_row = 0;
                for s in &strips[blk.strips.clone()] {
                    assert_eq!(s.ahead.0, next_row, "m = {m}");
                    assert!(s.ahead.1 >= s.ahead.0);
                    next_row = s.ahead.1;
                    assert!(s.len > 0 && s.len <= STRIP_MAX);
                    for k in 0..s.len {
                        let (i, j) = (s.a[k], s.b[k]);
                        assert!(
                            i != j && rows.contains(&i) && rows.contains(&j),
                            "m = {m}: pair ({i}, {j})"
                        );
                        assert!(!s.shared || i == s.a[0]);
                        seen[i.min(j) * m + i.max(j)] += 1;
                        let want = (0..i.min(j)).map(|r| m - 1 - r).sum::<usize>() + i.max(j)
                            - i.min(j)
                            - 1;
                        assert_eq!(s.p[k], want);
                    }
                }
                assert_eq!(next_row, rows.len(), "m = {m}");
                let mut runs: Vec<usize> = blk.pair_runs(m).flatten().collect();
                let mut visited: Vec<usize> = strips[blk.strips.clone()]
                    .iter()
                    .flat_map(|s| s.p[..s.len].to_vec())
                    .collect();
                runs.sort_unstable();
                visited.sort_unstable();
                assert_eq!(runs, visited, "m = {m}");
            }
            assert_eq!(next_strip, strips.len());
            for i in 0..m {
                for j in i + 1..m {
                    assert_eq!(seen[i * m + j], 1, "m = {m}: pair ({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn blocks_are_full_grids_and_keep_their_accumulators_within_l2() {
        let (mut strips, mut blocks) = (Vec::new(), Vec::new());
        for m in [129, 200, 500, 1000, 1023] {
            plan_pairs(m, &mut strips, &mut blocks);
            for blk in &blocks {
                let pairs: usize = strips[blk.strips.clone()].iter().map(|s| s.len).sum();
                assert!(pairs <= BLOCK_ROWS * BLOCK_ROWS, "m = {m}: {pairs} pairs");
                for r in &blk.rows {
                    assert!(
                        r.len() == BLOCK_ROWS || r.end == m || r.is_empty(),
                        "m = {m}"
                    );
                }
            }
        }
    }
}

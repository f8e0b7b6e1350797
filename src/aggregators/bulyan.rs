//! Bulyan (El Mhamdi, Guerraoui, Rouault, *The Hidden Vulnerability of Distributed Learning in
//! Byzantium*, ICML 2018, Algorithm 1), for an assumed number q of Byzantine workers (the
//! paper's f; ByzFL's `Bulyan(f)`).
//!
//! 1. Selection: theta = m - 2q rows, one at a time by Krum on the rows not yet selected
//!    (Definition 3 of the Phocas paper on the remaining set R: the score of a row is the sum
//!    of squared distances to its |R| - q - 2 nearest remaining rows, at least one; lowest index
//!    on ties). The `--neighbours` and `--distance` conventions of Krum apply.
//! 2. Per coordinate, the beta = theta - 2q selected values nearest to the selected values'
//!    median (the crate's midpoint convention), averaged: MeaMed with b = 2q on the theta
//!    selected rows. Distances are computed in f64; a NaN distance counts as +infinity; ties
//!    are broken towards the smaller value, as for MeaMed and Phocas.
//!
//! The paper needs m >= 4q + 3, and so does the constructor. The Phocas paper states no bound
//! for Bulyan; `verify-bounds` measures it. The pairwise distances are Krum's (f64, overflow
//! and NaN as +infinity, bit-identical for any thread count).
//!
//! Time: O(d m^2) for the distances, O(m^3) for the selection (no pass over the data), and
//! O(d theta log^2 theta) for the second stage: one pass over the theta selected rows in tiles
//! of 64 coordinates sorted by a comparator network, the window found in O(theta) per
//! coordinate. Extra space: Krum's, plus 64 theta keys and theta f64 per thread.

use super::kernels::{sorted_listed_tile, tile_prefetch_bytes, Keyed, W};
use super::krum::pairwise_sq_distances;
use super::layout::{for_chunks, span};
use super::network::Network;
use super::simd::{with_isa, Level};
use super::TypedRule;
use super::{check_shape, reject, Aggregator, KrumDistance, KrumNeighbours, RuleParams, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::scalar::Scalar;

/// The Bulyan rule.
#[derive(Clone, Debug)]
pub struct Bulyan {
    m: usize,
    q: usize,
    neighbours: KrumNeighbours,
    distance: KrumDistance,
    /// Full sorting network on theta wires, for theta <= 512 (above, each coordinate is
    /// sorted on its own).
    net: Option<Network>,
}

/// Largest theta sorted by a comparator network.
const NETWORK_MAX: usize = 512;

/// The largest q Bulyan takes for m workers (m >= 4q + 3), if any.
pub(crate) fn max_q(m: usize) -> Option<usize> {
    m.checked_sub(3).map(|r| r / 4)
}

impl Bulyan {
    /// Bulyan for m workers assuming q Byzantine; needs m >= 4q + 3.
    pub fn new(
        m: usize,
        q: usize,
        neighbours: KrumNeighbours,
        distance: KrumDistance,
    ) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        if max_q(m).is_none_or(|max| q > max) {
            return Err(Error::BulyanWorkers {
                q,
                m,
                max: max_q(m).map_or_else(|| "undefined (m < 3)".into(), |v| v.to_string()),
            });
        }
        Ok(Self {
            m,
            q,
            neighbours,
            distance,
            net: (m - 2 * q <= NETWORK_MAX).then(|| Network::sorting(m - 2 * q)),
        })
    }

    /// theta, the number of rows selected by the iterated Krum.
    fn theta(&self) -> usize {
        self.m - 2 * self.q
    }

    /// Selects theta rows by iterated Krum into `ws.selected` (ascending indices).
    fn select<T: Scalar>(&self, x: MatrixView<'_, T>, ws: &mut Workspace) {
        pairwise_sq_distances(x, ws);
        let m = self.m;
        let extra = match self.neighbours {
            KrumNeighbours::MinusQMinus2 => 2,
            KrumNeighbours::MinusQMinus1 => 1,
        };
        let mut left = std::mem::take(&mut ws.order);
        let mut buf = std::mem::take(&mut ws.selected_f64);
        left.clear();
        left.extend(0..m);
        ws.selected.clear();
        for _ in 0..self.theta() {
            let r = left.len();
            let n = r
                .saturating_sub(self.q + extra)
                .clamp(1, r.saturating_sub(1).max(1));
            let mut best = (f64::INFINITY, 0);
            for (pos, &i) in left.iter().enumerate() {
                buf.clear();
                for &j in &left {
                    if j != i {
                        let v = ws.dist[i * m + j];
                        buf.push(match self.distance {
                            KrumDistance::Squared => v,
                            KrumDistance::Plain => v.sqrt(),
                        });
                    }
                }
                let score = if buf.is_empty() {
                    0.0
                } else {
                    if n < buf.len() {
                        buf.select_nth_unstable_by(n - 1, f64::total_cmp);
                    }
                    let s: f64 = buf[..n.min(buf.len())].iter().sum();
                    if s.is_nan() {
                        f64::INFINITY
                    } else {
                        s
                    }
                };
                if pos == 0 || score < best.0 {
                    best = (score, pos);
                }
            }
            ws.selected.push(left.remove(best.1));
        }
        ws.selected.sort_unstable();
        ws.order = left;
        ws.selected_f64 = buf;
    }
}

/// Bulyan's coordinate stage over `out` (coordinates from j0): the mean of the theta - b
/// selected values nearest to their median.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn second_stage<T: Keyed>(
    level: Level,
    x: MatrixView<'_, T>,
    rows: &[usize],
    j0: usize,
    out: &mut [T],
    b: usize,
    tile: &mut [[T::Key; W]],
    net: Option<&[(u16, u16)]>,
    vals: &mut [f64],
) {
    let theta = rows.len();
    let Some(net) = net else {
        // large theta: each coordinate sorted on its own (total order, as the keys)
        for (j, v) in out.iter_mut().enumerate() {
            for (dst, &i) in vals.iter_mut().zip(rows) {
                *dst = x.row(i)[j0 + j].to_f64();
            }
            let sorted = &mut vals[..theta];
            sorted.sort_unstable_by(f64::total_cmp);
            *v = T::from_f64(super::median_window_mean(sorted, b));
        }
        return;
    };
    // each selected row a few KiB ahead into L1, as the tile path of the other rules
    let ahead = tile_prefetch_bytes(theta) / std::mem::size_of::<T>();
    for (t0, o) in out.chunks_mut(W).enumerate() {
        let j = j0 + t0 * W;
        if ahead > 0 {
            for &i in rows {
                super::simd::prefetch_l1(x.row(i), j + ahead, W);
            }
        }
        sorted_listed_tile(x, rows, j, o.len(), tile, net, level);
        finish_tile::<T>(tile, b, vals, o);
    }
}

/// The window of a sorted tile (theta wires), lane-parallel: the values in f64, the median
/// centre c, then the window start s = #{k < b : |v_k - c| > |v_{k+beta} - c|} (distances
/// along sorted values fall then rise, so these comparisons are true for a prefix of k, and
/// s is where the greedy "drop the farther end" of [`super::nearest_window_mean`] stops,
/// ties going to the smaller values), and the window's sum in increasing order with the
/// values outside it replaced by -0.0 (which adds nothing). A lane whose comparisons are not a
/// prefix (exact ties of distance between different values: infinities, NaN) takes the scalar
/// route. `vals` holds theta W + theta f64. O(theta) per lane, no branch on the data.
#[inline(always)]
fn finish_tile<T: Keyed>(tile: &[[T::Key; W]], b: usize, vals: &mut [f64], out: &mut [T]) {
    let theta = tile.len();
    let beta = theta - b;
    let h = super::max_trim(theta);
    let (v, col) = vals.split_at_mut(theta * W);
    let col = &mut col[..theta];
    for (dst, wire) in v.chunks_exact_mut(W).zip(tile) {
        for l in 0..W {
            dst[l] = T::from_key(wire[l]).to_f64();
        }
    }
    let wire = |i: usize| -> &[f64] { &v[i * W..(i + 1) * W] };
    let mut c = [-0.0f64; W];
    for i in h..theta - h {
        let w = wire(i);
        for l in 0..W {
            c[l] += w[l];
        }
    }
    let n_mid = (theta - 2 * h) as f64;
    c.iter_mut().for_each(|c| *c /= n_mid);
    let dist = |x: f64, c: f64| {
        let t = (x - c).abs();
        if t.is_nan() {
            f64::INFINITY
        } else {
            t
        }
    };
    // 32-bit counts (theta <= NETWORK_MAX): twice the lanes of usize per vector; a lane is
    // odd where a true comparison follows a false one
    let mut start = [0u32; W];
    let mut prev = [true; W];
    let mut odd = [false; W];
    for k in 0..b {
        let (lo, hi) = (wire(k), wire(k + beta));
        for l in 0..W {
            let p = dist(lo[l], c[l]) > dist(hi[l], c[l]);
            start[l] += u32::from(p);
            odd[l] |= p && !prev[l];
            prev[l] = p;
        }
    }
    let mut acc = [-0.0f64; W];
    let beta32 = beta as u32;
    for i in 0..theta {
        let (w, i) = (wire(i), i as u32);
        for l in 0..W {
            let inside = i >= start[l] && i < start[l] + beta32;
            acc[l] += if inside { w[l] } else { -0.0 };
        }
    }
    // every lane's mean in vectors (a division per lane in a scalar loop took a sixth of
    // the rule's time), then the rare lanes of the scalar route
    let n = beta as f64;
    acc.iter_mut().for_each(|a| *a /= n);
    for (o, &a) in out.iter_mut().zip(&acc) {
        *o = T::from_f64(a);
    }
    if odd.iter().any(|&o| o) {
        for (l, o) in out.iter_mut().enumerate().filter(|&(l, _)| odd[l]) {
            for (dst, i) in col.iter_mut().zip(0..theta) {
                *dst = v[i * W + l];
            }
            *o = T::from_f64(super::median_window_mean(col, b));
        }
    }
}

pub(super) fn build(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    reject("bulyan", "b", p.b.is_some(), "--q")?;
    reject("bulyan", "k", p.k.is_some(), "--q")?;
    let q = p.q.ok_or_else(|| Error::MissingParam {
        rule: "bulyan",
        param: "q",
        allowed: max_q(m).map_or_else(
            || format!("none for m = {m}: Bulyan needs m >= 3"),
            |v| format!("0..={v} for m = {m} (m >= 4q + 3)"),
        ),
    })?;
    Ok(Box::new(Bulyan::new(m, q, p.neighbours, p.distance)?))
}

impl TypedRule for Bulyan {
    fn name(&self) -> &'static str {
        "bulyan"
    }
    fn label(&self) -> String {
        format!(
            "bulyan(q={}{})",
            self.q,
            super::krum::conventions(self.neighbours, self.distance)
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
        check_shape(self.m, &x, out.len())?;
        self.select(x, ws);
        let ws: &Workspace = ws;
        let rows = &ws.selected[..];
        let theta = rows.len();
        let net = self.net.as_ref().map(Network::comparators);
        let b = 2 * self.q;
        let chunk = span::<T>(theta, W, 8192);
        let level = ws.level();
        for_chunks(out, chunk, |c, o| {
            ws.with_scratch(|s| {
                if s.acc.len() < theta * (W + 1) {
                    s.acc.resize(theta * (W + 1), 0.0);
                }
                let (tiles, _, _) = T::parts(s);
                // tiles only for the network path (theta <= 512)
                let wires = if net.is_some() { theta } else { 0 };
                if tiles.len() < wires {
                    tiles.resize(wires, [T::Key::default(); W]);
                }
                let mut tile = std::mem::take(tiles);
                with_isa(
                    level,
                    #[inline(always)]
                    || {
                        second_stage(
                            level,
                            x,
                            rows,
                            c * chunk,
                            o,
                            b,
                            &mut tile[..wires],
                            net,
                            &mut s.acc,
                        )
                    },
                );
                *T::parts(s).0 = tile;
            });
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::AggregateExt;

    fn bulyan(m: usize, q: usize) -> Bulyan {
        Bulyan::new(m, q, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).unwrap()
    }

    #[test]
    fn needs_four_q_plus_three() {
        assert!(Bulyan::new(7, 1, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).is_ok());
        let e = Bulyan::new(10, 2, KrumNeighbours::MinusQMinus2, KrumDistance::Squared)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m >= 4q + 3") && e.contains("at most 1"), "{e}");
        assert!(Bulyan::new(2, 0, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).is_err());
        assert_eq!(max_q(3), Some(0));
        assert_eq!(max_q(19), Some(4));
        assert_eq!(max_q(18), Some(3));
    }

    /// q = 0 selects every row and keeps every value: the mean (summed in sorted order).
    #[test]
    fn q_zero_is_the_mean() {
        let x = [1.0f64, 10.0, 2.0, 20.0, 4.0, 40.0];
        let out = bulyan(3, 0)
            .aggregate(MatrixView::new(&x, 3, 2).unwrap())
            .unwrap();
        assert_eq!(out, vec![7.0 / 3.0, 70.0 / 3.0]);
    }

    /// By hand, m = 7, q = 1, d = 1: rows 0, 1, 2, 3, 4, 100, -50. theta = 5 rows are
    /// selected by iterated Krum (4 neighbours at first): 100 and -50 are never chosen, so
    /// the selected values are 0..4; beta = 3 nearest to the median 2 -> 1, 2, 3 -> 2.
    #[test]
    fn hand_computed() {
        let x = [0.0f64, 1.0, 2.0, 3.0, 4.0, 100.0, -50.0];
        let r = bulyan(7, 1);
        let mut ws = Workspace::new();
        let mut out = [0.0];
        r.aggregate_into(MatrixView::new(&x, 7, 1).unwrap(), &mut ws, &mut out)
            .unwrap();
        assert_eq!(ws.selected, vec![0, 1, 2, 3, 4]);
        assert_eq!(out, [2.0]);
    }

    /// The second stage is MeaMed_{2q} on the selected rows, for every storage type and
    /// hostile values, on a width that exercises whole tiles and a tail.
    #[test]
    fn second_stage_is_meamed_on_the_selected_rows() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let specials = [f32::NAN, f32::INFINITY, -f32::INFINITY, 3e38, -0.0];
        for (m, q, d) in [
            (7, 1, 1),
            (11, 2, 130),
            (19, 4, 200),
            (23, 5, 64),
            (40, 9, 70),
        ] {
            let x: Vec<f32> = (0..m * d)
                .map(|_| {
                    if rng.random_range(0..40) == 0 {
                        specials[rng.random_range(0..specials.len())]
                    } else {
                        rng.random_range(-3.0..3.0)
                    }
                })
                .collect();
            let r = bulyan(m, q);
            let mut ws = Workspace::new();
            let mut out = vec![0.0f32; d];
            r.aggregate_into(MatrixView::new(&x, m, d).unwrap(), &mut ws, &mut out)
                .unwrap();
            let sel = ws.selected.clone();
            assert_eq!(sel.len(), m - 2 * q);
            let sub: Vec<f32> = sel
                .iter()
                .flat_map(|&i| x[i * d..(i + 1) * d].to_vec())
                .collect();
            let theta = sel.len();
            for j in 0..d {
                let mut col: Vec<f64> = (0..theta).map(|k| f64::from(sub[k * d + j])).collect();
                col.sort_by(f64::total_cmp);
                let want = crate::aggregators::median_window_mean(&col, 2 * q) as f32;
                assert!(
                    want.to_bits() == out[j].to_bits() || (want.is_nan() && out[j].is_nan()),
                    "m = {m}, q = {q}, j = {j}: {} vs {want}",
                    out[j]
                );
            }
        }
    }

    /// Many exact ties (values on a coarse grid, infinities, NaN): the lane-parallel window
    /// agrees with the greedy of nearest_window_mean bit for bit.
    #[test]
    fn ties_agree_with_the_greedy_window() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let specials = [
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
            -0.0,
            0.0,
        ];
        for (m, q, d) in [(7, 1, 300), (11, 2, 300), (19, 4, 300), (31, 7, 200)] {
            let x: Vec<f64> = (0..m * d)
                .map(|_| {
                    if rng.random_range(0..10) == 0 {
                        specials[rng.random_range(0..specials.len())]
                    } else {
                        f64::from(rng.random_range(-2i32..=2))
                    }
                })
                .collect();
            let r = bulyan(m, q);
            let mut ws = Workspace::new();
            let mut out = vec![0.0; d];
            r.aggregate_into(MatrixView::new(&x, m, d).unwrap(), &mut ws, &mut out)
                .unwrap();
            for (j, &got) in out.iter().enumerate() {
                let mut col: Vec<f64> = ws.selected.iter().map(|&i| x[i * d + j]).collect();
                col.sort_by(f64::total_cmp);
                let want = crate::aggregators::median_window_mean(&col, 2 * q);
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "m = {m}, j = {j}: {got} vs {want}, column {col:?}"
                );
            }
        }
    }

    /// Above 512 selected rows each coordinate is sorted on its own: the same values.
    #[test]
    fn large_theta_takes_the_scalar_route() {
        let (m, q, d) = (600, 10, 3);
        let x: Vec<f64> = (0..m * d)
            .map(|i| ((i * 7919 % 1009) as f64) / 13.0)
            .collect();
        let r = bulyan(m, q);
        assert!(r.net.is_none());
        let mut ws = Workspace::new();
        let mut out = vec![0.0; d];
        r.aggregate_into(MatrixView::new(&x, m, d).unwrap(), &mut ws, &mut out)
            .unwrap();
        for (j, &got) in out.iter().enumerate() {
            let mut col: Vec<f64> = ws.selected.iter().map(|&i| x[i * d + j]).collect();
            col.sort_by(f64::total_cmp);
            assert_eq!(got, crate::aggregators::median_window_mean(&col, 2 * q));
        }
    }

    #[test]
    fn f64_matches_f32_on_f32_values() {
        let (m, q, d) = (11, 2, 100);
        let x32: Vec<f32> = (0..m * d)
            .map(|i| ((i * 37 % 101) as f32) / 7.0 - 5.0)
            .collect();
        let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
        let r = bulyan(m, q);
        let a = r.aggregate(MatrixView::new(&x32, m, d).unwrap()).unwrap();
        let b = r.aggregate(MatrixView::new(&x64, m, d).unwrap()).unwrap();
        for (u, v) in a.iter().zip(&b) {
            assert_eq!(*u, *v as f32);
        }
    }
}
#[cfg(test)]
mod reuse {
    use super::*;
    use crate::aggregators::AggregateExt;

    /// A workspace used by every other rule first gives the same bits as a fresh one (a
    /// scratch column longer than theta once leaked into the scalar route of tied lanes).
    #[test]
    fn a_used_workspace_gives_the_same_bits() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for it in 0..200 {
            let m = rng.random_range(3..50);
            let d = rng.random_range(1..300);
            let q = rng.random_range(0..=max_q(m).unwrap());
            let x: Vec<f32> = (0..m * d).map(|_| f32::from_bits(rng.random())).collect();
            let r = Bulyan::new(m, q, KrumNeighbours::MinusQMinus2, KrumDistance::Squared).unwrap();
            let mut ws = Workspace::new();
            for info in crate::aggregators::REGISTRY {
                let p = info.with_params(Default::default(), Some(0), Some(0), None);
                if let Ok(o) = crate::aggregators::build(info.name, &p, m) {
                    let mut t = vec![0.0f32; d];
                    let _ = o.aggregate_into(MatrixView::new(&x, m, d).unwrap(), &mut ws, &mut t);
                }
            }
            let v = MatrixView::new(&x, m, d).unwrap();
            let mut a = vec![0.0f32; d];
            let mut b = vec![0.0f32; d];
            let mut fresh = Workspace::new();
            r.aggregate_into(v, &mut fresh, &mut a).unwrap();
            let s1 = fresh.selected.clone();
            r.aggregate_into(v, &mut ws, &mut b).unwrap();
            let s2 = ws.selected.clone();
            let diff: Vec<usize> = (0..d)
                .filter(|&j| a[j].to_bits() != b[j].to_bits())
                .collect();
            assert!(
                diff.is_empty(),
                "it {it} m {m} d {d} q {q}: sel {s1:?} {s2:?} diff at {:?}",
                &diff[..diff.len().min(5)]
            );
        }
    }
}

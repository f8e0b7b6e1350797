//! The band route of [`super::band`] with coordinates as SIMD lanes, for the window of
//! Phocas and MeaMed: a tile of [`W`] = 64 coordinates of f32 keys, row by row, with no
//! transposition (the centre comes first, from [`super::descent`]). The sample of every lane
//! is sorted at once by a sorting network across lanes; the pass over the tile's m rows is
//! branch-free over the 64 lanes (counts, sums in f64 lanes, exponent ranges, and a bit mask
//! of the lanes whose distance falls in the band); only band members are appended to their
//! lane's buffer, by walking the mask's set bits. Per lane, the band is then selected and the
//! checks of [`super::band`] decide (the bracket holds the rank; every partial sum is exact),
//! so the result has the bits of the exact route; a lane that fails is returned in a mask for
//! the caller's exact route.
//!
//! Cost per coordinate: the sample's share of the network (s log^2 s / 4 comparators over 64
//! lanes), the sample's distances selected per lane, one pass of about 30 vector operations
//! per 16 lanes per row, the appends of the band members and the selection inside the band.

use super::band::{bracket, sample_size, Binades};
#[cfg(test)]
use super::descent;
use super::layout::{dist, W};
use super::network::sort_lanes;
use crate::scalar::Scalar;

/// Per-thread buffers of the tile route: the sample tile and a band buffer of m keys per
/// lane.
#[derive(Default, Debug)]
pub(crate) struct TileBufs {
    sample: Vec<[i32; W]>,
    one: Vec<i32>,
    pairs: Vec<u128>,
}

/// The f32 value of key k, in f64.
#[inline(always)]
fn value(k: i32) -> f64 {
    f32::from_key(k).to_f64()
}

/// Sorts the sample of every lane: rows at s evenly spaced positions, by `net` (the sorting
/// network on s wires).
#[inline(always)]
pub(crate) fn sample_tile(tile: &[[i32; W]], net: &[(u16, u16)], tb: &mut TileBufs) {
    let m = tile.len();
    let s = sample_size(m);
    tb.sample.clear();
    tb.sample
        .extend((0..s).map(|k| tile[(2 * k + 1) * m / (2 * s)]));
    sort_lanes(net, &mut tb.sample);
}

/// What a pass sums, lane by lane: f64 sums from -0.0, counts and exponent ranges (the
/// [`Binades`] of the exactness check), kept in arrays so that the pass vectorises.
struct Tally {
    acc: [f64; W],
    count: [u32; W],
    elo: [u32; W],
    ehi: [u32; W],
}

impl Tally {
    fn new() -> Self {
        Self {
            acc: [-0.0; W],
            count: [0; W],
            elo: [u32::MAX; W],
            ehi: [0; W],
        }
    }

    /// Adds value v to lane l if `keep` (branch-free: -0.0, which adds nothing, otherwise).
    #[inline(always)]
    fn add(&mut self, l: usize, v: f64, keep: bool) {
        self.acc[l] += if keep { v } else { -0.0 };
        self.count[l] += u32::from(keep);
        let (f, nonzero) = Binades::field_of::<f32>(v);
        let live = keep && nonzero;
        self.elo[l] = self.elo[l].min(if live { f } else { u32::MAX });
        self.ehi[l] = self.ehi[l].max(if live { f } else { 0 });
    }

    /// Lane l's mean over n values: its sum plus the keys `rest` (the band's part), if every
    /// partial sum was exact ([`Binades::exact`]); `None` sends the lane to the exact route.
    fn mean(&self, l: usize, rest: impl Iterator<Item = i32>, n: usize) -> Option<f64> {
        let mut binades = Binades {
            lo: self.elo[l],
            hi: self.ehi[l],
        };
        let mut sum = self.acc[l];
        for k in rest {
            let v = value(k);
            binades.add::<f32>(v);
            sum += v;
        }
        binades.exact::<f32>(n).then(|| sum / n as f64)
    }
}

/// Appends `row[l]` to lane l's band, `band[l * m..]` with m = band.len() / W, for every set
/// bit l of `mask`, counting in `n`: the only per-lane work of a pass, done for band members
/// alone.
#[inline(always)]
fn append(mut mask: u64, row: &[i32; W], band: &mut [i32], n: &mut [usize; W]) {
    let m = band.len() / W;
    while mask != 0 {
        let l = mask.trailing_zeros() as usize;
        band[l * m + n[l]] = row[l];
        n[l] += 1;
        mask &= mask - 1;
    }
}

/// The Phocas/MeaMed window of every lane around its centre `y[l]`: the mean of the m - b
/// values least in (distance, value), into `res`, for the lanes of `todo`; returns the mask
/// of those it declined. The sample must be sorted ([`sample_tile`]).
#[inline(always)]
pub(crate) fn window(
    tile: &[[i32; W]],
    todo: u64,
    b: usize,
    y: &[f64; W],
    tb: &mut TileBufs,
    res: &mut [f64; W],
) -> u64 {
    let m = tile.len();
    let n = m - b;
    let s = tb.sample.len();
    let (lo, hi) = bracket(s, n - 1, m);
    // per lane, the sample's distances to its centre, selected at the bracket's indices
    let mut dlo = [0.0f64; W];
    let mut dhi = [f64::INFINITY; W];
    let mut d = vec_scratch(&mut tb.pairs, s);
    for l in 0..W {
        if todo & (1 << l) == 0 {
            // a lane not asked for keeps an empty bracket: nothing is near, nothing in band
            dhi[l] = -1.0;
            continue;
        }
        d.clear();
        d.extend(
            tb.sample
                .iter()
                .map(|r| u128::from(dist(value(r[l]), y[l]).to_bits())),
        );
        if let Some(i) = lo {
            dlo[l] = f64::from_bits(*d.select_nth_unstable(i).1 as u64);
        }
        if let Some(i) = hi {
            dhi[l] = f64::from_bits(*d.select_nth_unstable(i).1 as u64);
        }
    }
    tb.pairs = d;
    tb.one.resize(W * m, 0);
    let mut nb = [0usize; W];
    let mut near = Tally::new();
    for row in tile {
        let mut mask = 0u64;
        for l in 0..W {
            let v = value(row[l]);
            let dl = dist(v, y[l]);
            near.add(l, v, dl < dlo[l]);
            mask |= u64::from(dlo[l] <= dl && dl <= dhi[l]) << l;
        }
        append(mask & todo, row, &mut tb.one, &mut nb);
    }
    let mut declined = 0u64;
    let mut pairs = std::mem::take(&mut tb.pairs);
    for l in 0..W {
        if todo & (1 << l) == 0 {
            continue;
        }
        let below = near.count[l] as usize;
        if below >= n || n > below + nb[l] {
            declined |= 1 << l;
            continue;
        }
        pairs.clear();
        pairs.extend(tb.one[l * m..l * m + nb[l]].iter().map(|&k| {
            let key = (k as u32) ^ (1 << 31);
            (u128::from(dist(value(k), y[l]).to_bits()) << 64) | u128::from(key)
        }));
        let take = n - below;
        if take < pairs.len() {
            pairs.select_nth_unstable(take - 1);
        }
        let rest = pairs[..take]
            .iter()
            .map(|&p| ((p as u32) ^ (1 << 31)) as i32);
        match near.mean(l, rest, n) {
            Some(v) => res[l] = v,
            None => declined |= 1 << l,
        }
    }
    tb.pairs = pairs;
    declined
}

/// Takes the buffer out of `v` (to be put back), with room for `n`.
fn vec_scratch(v: &mut Vec<u128>, n: usize) -> Vec<u128> {
    let mut d = std::mem::take(v);
    d.reserve(n);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::descent::tests::{column, tile_of};
    use crate::aggregators::network::Network;
    use crate::aggregators::selection::{phocas_exact, trimmed_mean};
    use crate::scalar::Scalar;

    fn keys(col: &[f32]) -> Vec<i64> {
        col.iter().map(|v| v.key64()).collect()
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Runs Trmean_b and the window (b, centre trim c) on the tile; checks every lane it
    /// did not decline against the exact routes; returns how many it declined.
    fn check(cols: &[Vec<f32>], b: usize, c: usize) -> (u32, u32) {
        let m = cols[0].len();
        let tile = tile_of(cols);
        let mut tb = TileBufs::default();
        let net = Network::sorting(sample_size(m));
        sample_tile(&tile, net.comparators(), &mut tb);
        let mut res = [0.0; W];
        let dec_t = descent::trmean(&tile, W, b, &mut res);
        let mut pairs = Vec::new();
        let mut y = [0.0; W];
        for l in 0..W {
            let col = &cols[l % cols.len()];
            let want = trimmed_mean::<f32>(&mut keys(col), b);
            if dec_t & (1 << l) == 0 {
                assert!(
                    same(res[l], want),
                    "m {m} b {b} lane {l}: {} vs {want}",
                    res[l]
                );
            }
            y[l] = trimmed_mean::<f32>(&mut keys(col), c);
        }
        let dec_w = window(&tile, u64::MAX, b, &y, &mut tb, &mut res);
        for l in 0..W {
            let col = &cols[l % cols.len()];
            let want = phocas_exact::<f32>(&mut keys(col), b, y[l], &mut pairs);
            if dec_w & (1 << l) == 0 {
                assert!(
                    same(res[l], want),
                    "m {m} window b {b} lane {l}: {} vs {want}",
                    res[l]
                );
            }
        }
        (dec_t.count_ones(), dec_w.count_ones())
    }

    #[test]
    fn lanes_not_declined_have_the_exact_routes_bits() {
        for m in [32, 33, 100, 257, 1000] {
            let cols: Vec<Vec<f32>> = (0..W).map(|l| column(m, l)).collect();
            for b in [0, 1, m / 8, (m - 1) / 4, (m - 1) / 3] {
                check(&cols, b, b);
                check(&cols, b, m.div_ceil(2) - 1);
            }
        }
    }

    #[test]
    fn ordinary_lanes_are_not_declined() {
        // The test above would pass with a route that declines every lane.
        let m = 1000;
        let cols: Vec<Vec<f32>> = (0..W).map(|l| column(m, 9 * l)).collect();
        let (t, w) = check(&cols, 249, 249);
        assert!(t <= 4 && w <= 4, "declined {t} and {w} of 64 lanes");
    }

    #[test]
    fn a_hostile_sample_is_declined_not_wrong() {
        // The sampled rows hold the extremes: every bracket misses. (The centre, by bit
        // descent, does not use the sample: its lanes are all taken.)
        let m = 200;
        let s = sample_size(m);
        let mut col: Vec<f32> = (0..m).map(|i| i as f32 * 0.01).collect();
        for k in 0..s {
            col[(2 * k + 1) * m / (2 * s)] = if k % 2 == 0 { -1e9 } else { 1e9 };
        }
        let (t, w) = check(&[col], 50, 50);
        assert_eq!((t, w), (0, 64));
    }
}

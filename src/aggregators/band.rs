//! Band selection: Trmean's middle and the Phocas/MeaMed window of one coordinate without
//! sorting what is summed, for the selection path (m above the network limit).
//!
//! The idea is Floyd and Rivest's ("Expected time bounds for selection", CACM 18(3), 1975): a
//! sorted sample of s of the coordinate's m keys gives, for each rank r the rule needs, two
//! pivots that bracket it with high probability (the sample ranks r s / m -+ 2.5 standard
//! deviations). One pass over the keys counts those below the lower pivot, collects those
//! between the pivots (the band: about 5 sqrt(q (1 - q) / s) of the keys, q = r / m) and sums
//! the values strictly between two bands; a selection inside each band finds the rank's key.
//! A band that misses its rank (a sample that misrepresents the keys, by chance or by an
//! adversary's design) sends the coordinate to the exact route of [`super::selection`], so
//! the result never depends on the sample, only the time does.
//!
//! **Same bits.** The network and selection paths sum the kept values in a fixed order
//! (increasing values; Phocas's window: the middle, then the pairs). A band pass sums them in
//! another order, which gives the same f64 result when every partial sum is exact: when all
//! summed values are finite multiples of u, the smallest unit in the last place among them,
//! and n max |v| <= 2^53 u. In exponent terms: e_max - e_min <= 53 - p - ceil(log2 n), with p
//! the storage type's precision (f32: p = 24, so up to 29 - ceil(log2 n) binades between the
//! smallest and the largest nonzero summed value). Zeros add exactly, and an exact zero
//! result has the same sign in every order (-0 only if every value is -0). A coordinate that
//! fails the check takes the exact route; for gradient-like f32 data that is the rare
//! coordinate whose kept values include one more than 29 - ceil(log2 n) binades (19 for
//! n = 1000) below the largest. With f64 storage (p = 53) the check fails whenever more than one nonzero value is
//! summed outside the bands, so the route is used for f32 storage only ([`applies`]), and not
//! for the order statistic or the Median, which the exact route's selections find faster.
//!
//! Cost per coordinate: the sort of the sample (s log s, s <= 128), one vectorisable pass
//! and one branch-free collecting pass over the m keys, and selections inside bands of about
//! 0.2 m keys. Phocas and MeaMed add a second pair of passes for the window, whose bracket
//! comes from the sample's distances to the centre.

use super::layout::{dist, Finish};
use super::selection::{exact, phocas_checked, trimmed_mean};
use crate::scalar::Scalar;

/// Largest sample; the band shrinks as 1/sqrt(s) while the sample's sort grows as s log s.
const SAMPLE_MAX: usize = 128;

/// Below this m the exact route is used as it is (the sample would be most of the keys).
const BAND_MIN_M: usize = 32;

/// Pivot slack in standard deviations of the sample rank (each side): a rank falls outside
/// its band with probability about 1%.
const SLACK_SD: f64 = 2.5;

/// Per-thread buffers of the band route (the sample and two bands).
#[derive(Default, Debug)]
pub(crate) struct BandBufs {
    sample: Vec<i64>,
    one: Vec<i64>,
    two: Vec<i64>,
}

/// Whether the band route can pay for this storage type, m and rule (measured,
/// `reports/PERF.md`, "Band selection"): f32 storage, whose sums can be exact, and a sum that
/// the exact route would sort much of: Trmean with a middle of at least m / 4 values, Phocas
/// and MeaMed. The order statistic and narrow middles (the Median) are faster by the exact
/// route's selections, and f64 sums almost never pass the exactness check.
pub(crate) fn applies<T: Scalar>(m: usize, finish: Finish) -> bool {
    T::SIZE == 4
        && m >= BAND_MIN_M
        && match finish {
            Finish::Trmean { b } => wide(m, b),
            Finish::Rank { .. } => false,
            Finish::Phocas { .. } | Finish::MeaMed { .. } => true,
        }
}

/// A middle of at least m / 4 of the m values.
fn wide(m: usize, b: usize) -> bool {
    4 * (m - 2 * b) >= m
}

/// The rule's value at one coordinate from its keys (which it may permute), where
/// [`applies`]: the band route where its checks pass, else the exact route.
#[inline(always)]
pub(crate) fn coordinate<T: Scalar>(
    keys: &mut [i64],
    finish: Finish,
    bufs: &mut BandBufs,
    pairs: &mut Vec<u128>,
) -> T {
    let m = keys.len();
    if !applies::<T>(m, finish) {
        return exact::<T>(keys, finish, pairs);
    }
    sample(keys, &mut bufs.sample);
    match finish {
        Finish::Trmean { b } => {
            let fast = trmean_band::<T>(keys, b, bufs);
            T::from_f64(fast.unwrap_or_else(|| trimmed_mean::<T>(keys, b)))
        }
        Finish::Rank { .. } => exact::<T>(keys, finish, pairs),
        Finish::Phocas { .. } | Finish::MeaMed { .. } => {
            let (b, c) = finish.window(m).expect("a window rule");
            let fast = wide(m, c)
                .then(|| trmean_band::<T>(keys, c, bufs))
                .flatten();
            let y = fast.unwrap_or_else(|| trimmed_mean::<T>(keys, c));
            let window = window_band::<T>(keys, b, y, bufs, pairs);
            T::from_f64(window.unwrap_or_else(|| phocas_checked::<T>(keys, (b, c), y, pairs)))
        }
    }
}

/// Sample size for m keys.
fn sample_size(m: usize) -> usize {
    (m / 4).clamp(16, SAMPLE_MAX)
}

/// Fills `sample` with the keys at s evenly spaced positions, sorted.
#[inline(always)]
fn sample(keys: &[i64], sample: &mut Vec<i64>) {
    let m = keys.len();
    let s = sample_size(m);
    sample.clear();
    sample.extend((0..s).map(|k| keys[(2 * k + 1) * m / (2 * s)]));
    sample.sort_unstable();
}

/// Sample indices (lower, upper) bracketing rank r of m keys; `None` for beyond the ends.
#[inline(always)]
fn bracket(s: usize, r: usize, m: usize) -> (Option<usize>, Option<usize>) {
    let q = (r as f64 + 0.5) / m as f64;
    let p = q * s as f64 - 0.5;
    let slack = SLACK_SD * (s as f64 * q * (1.0 - q)).sqrt() + 1.5;
    let lo = (p - slack).floor();
    let hi = (p + slack).ceil();
    let lo = (lo >= 0.0).then_some(lo as usize);
    let hi = (hi < s as f64).then_some(hi as usize);
    (lo, hi)
}

/// Pivot keys bracketing rank r: keys in [lo, hi] form the band.
#[inline(always)]
fn pivots(sample: &[i64], r: usize, m: usize) -> (i64, i64) {
    let (lo, hi) = bracket(sample.len(), r, m);
    (
        lo.map_or(i64::MIN, |i| sample[i]),
        hi.map_or(i64::MAX, |i| sample[i]),
    )
}

/// Exponent range of the nonzero values summed, for the exactness check.
#[derive(Clone, Copy, Debug)]
struct Binades {
    lo: u32,
    hi: u32,
}

impl Binades {
    const EMPTY: Self = Self {
        lo: u32::MAX,
        hi: 0,
    };

    /// The f64 exponent field of a nonzero value, raised to the smallest normal exponent of
    /// the storage type (a subnormal has the unit in the last place of the smallest normal);
    /// `None` for zero. Non-finite values give 2047.
    #[inline(always)]
    fn field<T: Scalar>(v: f64) -> Option<u32> {
        let a = v.to_bits() << 1;
        let floor = if T::SIZE == 4 { 1023 - 126 } else { 1 };
        (a != 0).then(|| ((a >> 53) as u32).max(floor))
    }

    #[inline(always)]
    fn add<T: Scalar>(&mut self, v: f64) {
        if let Some(f) = Self::field::<T>(v) {
            self.lo = self.lo.min(f);
            self.hi = self.hi.max(f);
        }
    }

    fn join(self, o: Self) -> Self {
        Self {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }

    /// Whether every partial sum of n such values, in any order, is exact in f64 (module
    /// docs): all finite, and e_max - e_min <= 53 - p - ceil(log2 n).
    fn exact<T: Scalar>(self, n: usize) -> bool {
        if self.lo == u32::MAX {
            return true;
        }
        let p: i64 = if T::SIZE == 4 { 24 } else { 53 };
        let log = i64::from(usize::BITS - n.saturating_sub(1).leading_zeros());
        self.hi < 2047 && i64::from(self.hi) - i64::from(self.lo) <= 53 - p - log
    }
}

/// Lanes of the vectorised pass.
const CH: usize = 8;

/// What the pass found strictly between two bands.
struct Between {
    below: usize,
    count: usize,
    sum: f64,
    binades: Binades,
}

/// One pass: the keys below `lo` counted; those in (`a`, `z`) (exclusive) counted and summed
/// from -0.0 in lanes, with their binades. Written over [`CH`] independent lanes so that it
/// vectorises; the lanes' order of summation is free only because the caller checks
/// exactness.
#[inline(always)]
fn between<T: Scalar>(keys: &[i64], lo: i64, (a, z): (i64, i64)) -> Between {
    let mut below = [0u32; CH];
    let mut count = [0u32; CH];
    let mut acc = [-0.0f64; CH];
    let mut elo = [u32::MAX; CH];
    let mut ehi = [0u32; CH];
    let floor: u32 = if T::SIZE == 4 { 1023 - 126 } else { 1 };
    let chunks = keys.chunks_exact(CH);
    let rest = chunks.remainder();
    for ch in chunks {
        let ch: &[i64; CH] = ch.try_into().expect("CH keys");
        for t in 0..CH {
            let k = ch[t];
            below[t] += u32::from(k < lo);
            let inside = a < k && k < z;
            let v = T::from_key64(k).to_f64();
            acc[t] += if inside { v } else { -0.0 };
            count[t] += u32::from(inside);
            let bits = v.to_bits() << 1;
            let f = ((bits >> 53) as u32).max(floor);
            let live = inside && bits != 0;
            elo[t] = elo[t].min(if live { f } else { u32::MAX });
            ehi[t] = ehi[t].max(if live { f } else { 0 });
        }
    }
    let mut out = Between {
        below: 0,
        count: 0,
        sum: -0.0,
        binades: Binades::EMPTY,
    };
    for &k in rest {
        out.below += usize::from(k < lo);
        if a < k && k < z {
            let v = T::from_key64(k).to_f64();
            out.sum += v;
            out.count += 1;
            out.binades.add::<T>(v);
        }
    }
    for t in 0..CH {
        out.below += below[t] as usize;
        out.count += count[t] as usize;
        out.sum += acc[t];
        out.binades = out.binades.join(Binades {
            lo: elo[t],
            hi: ehi[t],
        });
    }
    out
}

/// Collects the keys in [lo1, hi1] into `one` and those in [lo2, hi2] into `two`
/// (branch-free), returning how many of each.
#[inline(always)]
fn collect(
    keys: &[i64],
    (lo1, hi1): (i64, i64),
    (lo2, hi2): (i64, i64),
    bufs: &mut BandBufs,
) -> (usize, usize) {
    let m = keys.len();
    bufs.one.resize(m, 0);
    bufs.two.resize(m, 0);
    let (one, two) = (&mut bufs.one[..m], &mut bufs.two[..m]);
    let (mut n1, mut n2) = (0, 0);
    for (i, &k) in keys.iter().enumerate() {
        // n1, n2 <= i < m
        one[n1.min(i)] = k;
        n1 += usize::from(lo1 <= k && k <= hi1);
        two[n2.min(i)] = k;
        n2 += usize::from(lo2 <= k && k <= hi2);
    }
    (n1, n2)
}

/// Collects the keys in [lo, hi] into `one`, counting those below lo.
#[inline(always)]
fn collect_one(keys: &[i64], (lo, hi): (i64, i64), bufs: &mut BandBufs) -> (usize, usize) {
    let m = keys.len();
    bufs.one.resize(m, 0);
    let one = &mut bufs.one[..m];
    let (mut below, mut n) = (0, 0);
    for (i, &k) in keys.iter().enumerate() {
        below += usize::from(k < lo);
        one[n.min(i)] = k;
        n += usize::from(lo <= k && k <= hi);
    }
    (below, n)
}

/// Ranks r1 <= r2 inside one band: the band's keys with ranks r1..=r2, sorted.
#[inline(always)]
fn one_band<'a>(
    keys: &[i64],
    (r1, r2): (usize, usize),
    bufs: &'a mut BandBufs,
) -> Option<&'a [i64]> {
    let m = keys.len();
    let (lo, _) = pivots(&bufs.sample, r1, m);
    let (_, hi) = pivots(&bufs.sample, r2, m);
    let (below, n) = collect_one(keys, (lo, hi), bufs);
    if below > r1 || r2 >= below + n {
        return None;
    }
    let band = &mut bufs.one[..n];
    let (a, z) = (r1 - below, r2 - below);
    band.select_nth_unstable(a);
    if z > a {
        band[a + 1..].select_nth_unstable(z - a - 1);
        band[a..=z].sort_unstable();
    }
    Some(&bufs.one[a..=z])
}

/// Trmean_b by bands: the sum of the values of ranks b..m-b, exact or declined (`None`).
#[inline(always)]
fn trmean_band<T: Scalar>(keys: &[i64], b: usize, bufs: &mut BandBufs) -> Option<f64> {
    let m = keys.len();
    let (r1, r2) = (b, m - 1 - b);
    let n = r2 - r1 + 1;
    let (lo1, hi1) = pivots(&bufs.sample, r1, m);
    let (lo2, hi2) = pivots(&bufs.sample, r2, m);
    if hi1 >= lo2 {
        // One band holds the whole middle: sum it in increasing order, as the other paths.
        let middle = one_band(keys, (r1, r2), bufs)?;
        let mut s = -0.0;
        for &k in middle {
            s += T::from_key64(k).to_f64();
        }
        return Some(s / n as f64);
    }
    let mid = between::<T>(keys, lo1, (hi1, lo2));
    let (n1, n2) = collect(keys, (lo1, hi1), (lo2, hi2), bufs);
    let start2 = mid.below + n1 + mid.count;
    if mid.below > r1 || r1 >= mid.below + n1 || start2 > r2 || r2 >= start2 + n2 {
        return None;
    }
    let one = &mut bufs.one[..n1];
    let a = r1 - mid.below;
    one.select_nth_unstable(a);
    let two = &mut bufs.two[..n2];
    let z = r2 - start2;
    two.select_nth_unstable(z);
    let mut binades = mid.binades;
    let mut s = mid.sum;
    for &k in bufs.one[a..n1].iter().chain(&bufs.two[..=z]) {
        let v = T::from_key64(k).to_f64();
        binades.add::<T>(v);
        s += v;
    }
    binades.exact::<T>(n).then(|| s / n as f64)
}

/// The Phocas/MeaMed window around centre y by bands: the mean of the m - b values least in
/// (distance to y, value), exact or declined (`None`). The sorted sample's distances to y
/// bracket the distance of rank m - b - 1; one pass sums the values nearer than the bracket,
/// another collects those inside it, and a selection by (distance, value) finishes the set.
#[inline(always)]
fn window_band<T: Scalar>(
    keys: &[i64],
    b: usize,
    y: f64,
    bufs: &mut BandBufs,
    pairs: &mut Vec<u128>,
) -> Option<f64> {
    let m = keys.len();
    let n = m - b;
    let dist_of = |k: i64| dist(T::from_key64(k).to_f64(), y);
    // The sample's distances, as ordered bits (distances are >= 0 or +inf).
    let s = bufs.sample.len();
    bufs.two.clear();
    bufs.two
        .extend(bufs.sample.iter().map(|&k| dist_of(k).to_bits() as i64));
    let (lo, hi) = bracket(s, n - 1, m);
    let dlo = lo.map_or(0.0, |i| {
        f64::from_bits(*bufs.two.select_nth_unstable(i).1 as u64)
    });
    let dhi = hi.map_or(f64::INFINITY, |i| {
        f64::from_bits(*bufs.two.select_nth_unstable(i).1 as u64)
    });
    // Pass 1: values strictly nearer than dlo are kept (vectorised over lanes).
    let mut count = [0u32; CH];
    let mut acc = [-0.0f64; CH];
    let mut elo = [u32::MAX; CH];
    let mut ehi = [0u32; CH];
    let floor: u32 = if T::SIZE == 4 { 1023 - 126 } else { 1 };
    let chunks = keys.chunks_exact(CH);
    let rest = chunks.remainder();
    for ch in chunks {
        let ch: &[i64; CH] = ch.try_into().expect("CH keys");
        for t in 0..CH {
            let v = T::from_key64(ch[t]).to_f64();
            let near = dist(v, y) < dlo;
            acc[t] += if near { v } else { -0.0 };
            count[t] += u32::from(near);
            let bits = v.to_bits() << 1;
            let f = ((bits >> 53) as u32).max(floor);
            let live = near && bits != 0;
            elo[t] = elo[t].min(if live { f } else { u32::MAX });
            ehi[t] = ehi[t].max(if live { f } else { 0 });
        }
    }
    let mut below = 0usize;
    let mut sum = -0.0;
    let mut binades = Binades::EMPTY;
    for &k in rest {
        let v = T::from_key64(k).to_f64();
        if dist(v, y) < dlo {
            below += 1;
            sum += v;
            binades.add::<T>(v);
        }
    }
    for t in 0..CH {
        below += count[t] as usize;
        sum += acc[t];
        binades = binades.join(Binades {
            lo: elo[t],
            hi: ehi[t],
        });
    }
    // Pass 2: the band (branch-free), then ranked by (distance, value).
    bufs.one.resize(m, 0);
    let one = &mut bufs.one[..m];
    let mut nb = 0;
    for (i, &k) in keys.iter().enumerate() {
        let d = dist_of(k);
        one[nb.min(i)] = k;
        nb += usize::from(dlo <= d && d <= dhi);
    }
    pairs.clear();
    pairs.extend(one[..nb].iter().map(|&k| {
        let key = (k as u64) ^ (1 << 63);
        (u128::from(dist_of(k).to_bits()) << 64) | u128::from(key)
    }));
    if below >= n || n > below + pairs.len() {
        return None;
    }
    let take = n - below;
    if take < pairs.len() {
        pairs.select_nth_unstable(take - 1);
    }
    for &p in &pairs[..take] {
        let k = ((p as u64) ^ (1 << 63)) as i64;
        let v = T::from_key64(k).to_f64();
        binades.add::<T>(v);
        sum += v;
    }
    binades.exact::<T>(n).then(|| sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::selection::phocas_exact;

    fn keys_f32(v: &[f32]) -> Vec<i64> {
        v.iter().map(|x| x.key64()).collect()
    }

    /// Columns of m values: Gaussian-like, shifted, with ties, zeros, specials and an
    /// adversarial cluster, so bands miss and checks fail on some of them.
    fn columns(m: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) as f32
        };
        let mut out = Vec::new();
        for kind in 0..8 {
            let col: Vec<f32> = (0..m)
                .map(|i| {
                    let u = next();
                    match kind {
                        0 => (u - 0.5) * 2.0,
                        1 => 5.0 + u,
                        2 => (u * 4.0).floor(),
                        3 => {
                            if i % 7 == 0 {
                                [f32::NAN, f32::INFINITY, -0.0, 1e30, -f32::INFINITY][i % 5]
                            } else {
                                u - 0.5
                            }
                        }
                        4 => {
                            if i < m / 3 {
                                1e6
                            } else {
                                u
                            }
                        }
                        5 => (u - 0.5) * 1e-30,
                        6 => {
                            if u < 0.5 {
                                -0.0
                            } else {
                                0.0
                            }
                        }
                        _ => (u - 0.5) * (1u64 << (i % 40)) as f32,
                    }
                })
                .collect();
            out.push(col);
        }
        out
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn band_route_gives_the_exact_routes_bits() {
        let mut bufs = BandBufs::default();
        let mut pairs = Vec::new();
        for m in [32, 33, 64, 100, 257, 1000] {
            for (c, col) in columns(m, m as u64).iter().enumerate() {
                let bs = [0, 1, m / 4, (m - 1) / 2, m.div_ceil(2) - 1];
                for &b in &bs {
                    let mut finishes = vec![Finish::Trmean { b }, Finish::Rank { b }];
                    if 2 * b < m {
                        finishes.push(Finish::Phocas { b });
                        finishes.push(Finish::MeaMed { b });
                    }
                    for f in finishes {
                        if matches!(f, Finish::Trmean { .. }) && 2 * b >= m {
                            continue;
                        }
                        let mut k = keys_f32(col);
                        let got: f32 = coordinate::<f32>(&mut k, f, &mut bufs, &mut pairs);
                        let mut k = keys_f32(col);
                        let want = match f {
                            Finish::Trmean { b } => trimmed_mean::<f32>(&mut k, b) as f32,
                            Finish::Rank { b } => {
                                k.sort_unstable();
                                f32::from_key64(k[b])
                            }
                            _ => {
                                let (b, c) = f.window(m).unwrap();
                                let y = trimmed_mean::<f32>(&mut k, c);
                                phocas_exact::<f32>(&mut k, b, y, &mut pairs) as f32
                            }
                        };
                        assert!(same(got, want), "m={m} col={c} {f:?}: {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_band_route_is_taken_on_ordinary_columns() {
        // The bit-identity test above would pass with a route that always declines.
        let mut bufs = BandBufs::default();
        let mut pairs = Vec::new();
        let (mut trm, mut win) = (0, 0);
        for seed in 0..20 {
            let col = &columns(1000, seed)[0];
            let keys = keys_f32(col);
            sample(&keys, &mut bufs.sample);
            let y = trmean_band::<f32>(&keys, 250, &mut bufs);
            trm += usize::from(y.is_some());
            if let Some(y) = y {
                win +=
                    usize::from(window_band::<f32>(&keys, 250, y, &mut bufs, &mut pairs).is_some());
            }
        }
        assert!(trm >= 18 && win >= 18, "taken {trm} and {win} times of 20");
    }

    #[test]
    fn exactness_check_says_no_where_order_matters() {
        // 1 + 2^-30 + ... : more than 29 binades apart in f32 terms.
        let b = Binades::EMPTY;
        let mut wide = b;
        wide.add::<f32>(1.0);
        wide.add::<f32>(2f64.powi(-30));
        assert!(!wide.exact::<f32>(2));
        let mut near = b;
        near.add::<f32>(1.0);
        near.add::<f32>(2f64.powi(-10));
        assert!(near.exact::<f32>(1000));
        assert!(!near.exact::<f64>(2));
        let mut inf = b;
        inf.add::<f32>(f64::INFINITY);
        assert!(!inf.exact::<f32>(1));
        assert!(b.exact::<f64>(5), "zeros only");
    }

    #[test]
    fn a_hostile_sample_falls_back_without_changing_the_result() {
        // The sampled positions hold the extremes: every bracket misses.
        let m = 200;
        let s = sample_size(m);
        let mut col: Vec<f32> = (0..m).map(|i| i as f32 * 0.01).collect();
        for k in 0..s {
            col[(2 * k + 1) * m / (2 * s)] = if k % 2 == 0 { -1e9 } else { 1e9 };
        }
        let mut bufs = BandBufs::default();
        let mut pairs = Vec::new();
        let mut k = keys_f32(&col);
        let got: f32 = coordinate::<f32>(&mut k, Finish::Trmean { b: 50 }, &mut bufs, &mut pairs);
        let mut k = keys_f32(&col);
        assert_eq!(got, trimmed_mean::<f32>(&mut k, 50) as f32);
    }
}

//! The window of Phocas and MeaMed (the m - b values nearest the centre y, Definition 8 and
//! MeaMed's) by bisection of the distance, across a tile of 64 coordinates of f32 keys (the
//! layout of [`super::descent`]: coordinates are SIMD lanes, the tile stays in L2).
//!
//! The window is every value whose distance |v - y| (in f64, NaN counted as +infinity, as
//! [`dist`]) lies below D, the distance of rank n - 1 = m - b - 1, and as many of those at
//! distance D as fill it, the smaller values first. D is found by bisection of the f64 bit
//! patterns of the distances (ordered as the distances are), one counting pass per step, with
//! the two early ends of [`super::descent`]: once exactly n - 1 distances lie below the lower
//! end, the window is those and the nearest value outside; once exactly n lie below the upper
//! end, it is those; else the bisection ends at a width of one pattern, D itself. The range
//! is [0, +infinity] (63 passes at most); Phocas starts from [D0, 4 D0] instead, D0 the larger
//! distance of the keys of ranks b and m - 1 - b (which its centre's descent found), where
//! its count allows: D >= D0, since rank b (or m - 1 - b) outside the window at a distance
//! above D would leave b + 1 values out. On N(0, 1) columns at m = 1000, b = 249 that took 14
//! passes instead of 23. Ties at D keep a lane bisecting to the end (quantised values: about
//! 53 passes from the bracket), and with it the whole tile.
//!
//! The pass does not compute distances: for a lane's candidate t, the values with distance
//! below t are one interval of keys (the distance falls and then rises along the key order),
//! and its two ends come from y - t and y + t rounded to f32, checked against the rounded
//! distances of their neighbouring keys ([`interval`], for all lanes at once in
//! [`intervals`]; where the check does not settle it, a binary search over the keys does, so
//! the interval is exact). The pass then counts the keys in each lane's interval: a
//! subtraction, an unsigned compare and an add per key.
//!
//! One last pass sums the values below D in row order (and finds the nearest values outside),
//! with the exponent range of the exactness check of [`super::exact_sum`]; a lane is taken only
//! where every partial sum is exact, so the result has the bits of the exact route, whose
//! order differs (the middle, then the pairs). A lane is declined to the exact route too where
//! its centre is not finite, where ties at D cannot be split by value from the two sides'
//! keys alone, or where the one value added to n - 1 below D is the nearest on the left and
//! the key below it has the same rounded distance (a smaller value might share it).
//!
//! Cost per coordinate: at most 63 counting passes of m keys (16 lanes per AVX-512
//! instruction), about log2(m) plus a few from Phocas's bracket and about 11 more from the
//! whole range (the exponent's bits), plus the intervals (a few f64 operations per lane and
//! pass), Phocas's counting of its bracket and one summing pass.

use super::exact_sum::Binades;
use super::layout::{dist, W};
use crate::scalar::Scalar;

/// The bit pattern of +infinity, the largest distance ([`dist`] makes NaN infinite).
const INF_BITS: u64 = 0x7FF0_0000_0000_0000;

/// The f32 value of key k, in f64.
#[inline(always)]
fn value(k: i32) -> f64 {
    f32::from_key(k).to_f64()
}

/// The bit pattern of the distance of key k's value to y (ordered as the distances are).
#[inline(always)]
fn dbits(k: i32, y: f64) -> u64 {
    dist(value(k), y).to_bits()
}

/// The keys whose distance to the finite centre y has a bit pattern below t, as the interval
/// [lo, hi] of keys (lo > hi when there is none). Exact: the ends that y - t and y + t rounded
/// to f32 suggest are checked against the rounded distances of the neighbouring keys, and a
/// binary search over the keys finds an end the check does not settle (values near zero
/// whose distances round alike).
#[inline(always)]
pub(crate) fn interval(y: f64, t: u64) -> (i32, i32) {
    if t > INF_BITS {
        return (i32::MIN, i32::MAX);
    }
    if t == 0 {
        return (1, 0);
    }
    if t == INF_BITS {
        // every finite value: f32 values and a finite y have finite distances
        return ((-f32::MAX).to_key(), f32::MAX.to_key());
    }
    let (hi, lo) = guess(y, t);
    match (hi, lo) {
        (Some(hi), Some(lo)) => (lo, hi),
        _ => search(y, t),
    }
}

/// The ends [`interval`] guesses: the last key inside near (y + t) rounded to f32, the first
/// inside near (y - t) rounded; `None` where no neighbour marks the change.
#[inline(always)]
fn guess(y: f64, t: u64) -> (Option<i32>, Option<i32>) {
    let tf = f64::from_bits(t);
    let inside = |k: i32| dbits(k, y) < t;
    let up = ((y + tf) as f32).to_key();
    let down = ((y - tf) as f32).to_key();
    let hi = (-3..=1)
        .map(|o| up.saturating_add(o))
        .find(|&c| inside(c) && !inside(c.saturating_add(1)));
    let lo = (-1..=3)
        .map(|o| down.saturating_sub(o))
        .find(|&c| inside(c) && !inside(c.saturating_sub(1)));
    (hi, lo)
}

/// [`interval`] by binary search over the keys: from a key inside (the nearest f32 values to
/// y; none inside means no key is) out to the infinities, which are never inside.
#[cold]
fn search(y: f64, t: u64) -> (i32, i32) {
    let inside = |k: i32| dbits(k, y) < t;
    let near = (y as f32).to_key();
    let Some(c) = (-2..=2)
        .map(|o| near.saturating_add(o))
        .find(|&c| inside(c))
    else {
        return (1, 0);
    };
    // the last key inside: inside(a), not inside(b) (i64: the keys span more than i32)
    let last = |from: i32, to: i32| {
        let (mut a, mut b) = (i64::from(from), i64::from(to));
        while (b - a).abs() > 1 {
            let h = a + (b - a) / 2;
            if inside(h as i32) {
                a = h;
            } else {
                b = h;
            }
        }
        a as i32
    };
    (
        last(c, f32::NEG_INFINITY.to_key()),
        last(c, f32::INFINITY.to_key()),
    )
}

/// Per interval and lane, how many keys of the tile lie in [lo, lo + width] (key order,
/// unsigned width): one counting pass.
#[inline(always)]
fn count_in<const R: usize>(
    tile: &[[i32; W]],
    lo: &[[i32; W]; R],
    width: &[[u32; W]; R],
) -> [[u32; W]; R] {
    let mut count = [[0u32; W]; R];
    for row in tile {
        for q in 0..R {
            for l in 0..W {
                count[q][l] += u32::from((row[l].wrapping_sub(lo[q][l]) as u32) <= width[q][l]);
            }
        }
    }
    count
}

/// The bracket from the middle's keys (Phocas): D is at least D0, the larger distance of the
/// keys of ranks b and m - 1 - b (rank b outside the window at a distance above D would
/// leave b + 1 values out; the count below checks it all the same), and usually below 4 D0.
/// One pass counts both; a lane keeps a bound only where its count holds it.
#[inline(always)]
fn start(
    tile: &[[i32; W]],
    (y, keys): (&[f64; W], &[[i32; W]; 2]),
    live: u64,
    r: u32,
    (lo, below): (&mut [u64; W], &mut [u32; W]),
    (hi, upto): (&mut [u64; W], &mut [u32; W]),
) {
    let d0: [u64; W] =
        std::array::from_fn(|l| dbits(keys[0][l], y[l]).max(dbits(keys[1][l], y[l])));
    let d4: [u64; W] = std::array::from_fn(|l| (f64::from_bits(d0[l]) * 4.0).to_bits());
    let (alo, awidth, aempty) = intervals(y, &d0, live);
    let (blo, bwidth, bempty) = intervals(y, &d4, live);
    let [ca, cb] = count_in(tile, &[alo, blo], &[awidth, bwidth]);
    for l in 0..W {
        let ca = if aempty & (1 << l) != 0 { 0 } else { ca[l] };
        let cb = if bempty & (1 << l) != 0 { 0 } else { cb[l] };
        if d0[l] >= d4[l] {
            // D0 = 0 or not finite: keep the whole range
            continue;
        }
        if ca <= r {
            lo[l] = d0[l];
            below[l] = ca;
        }
        if cb > r {
            hi[l] = d4[l];
            upto[l] = cb;
        }
    }
}

/// Per lane, the intervals of keys of distance pattern below `t[l]` as (lo, width) with the
/// mask of the lanes where there is none; lanes outside `live` are empty. The guesses of
/// [`interval`] for all lanes at once, branch-free (so that they vectorise); the lanes they do
/// not settle, and the candidates at zero or from +infinity on, go through [`interval`].
#[inline(always)]
fn intervals(y: &[f64; W], t: &[u64; W], live: u64) -> ([i32; W], [u32; W], u64) {
    let mut lo = [0i32; W];
    let mut hi = [0i32; W];
    let mut settled = [false; W];
    for l in 0..W {
        let (y, t) = (y[l], t[l]);
        let tf = f64::from_bits(t);
        let up = ((y + tf) as f32).to_key();
        let down = ((y - tf) as f32).to_key();
        let inside = |k: i32| dbits(k, y) < t;
        let u: [bool; 6] = std::array::from_fn(|i| inside(up.saturating_add(i as i32 - 3)));
        let d: [bool; 6] = std::array::from_fn(|i| inside(down.saturating_sub(i as i32 - 3)));
        let (mut h, mut g) = (0i32, 0i32);
        let (mut fh, mut fg) = (false, false);
        for i in 0..5 {
            let hit = u[i] && !u[i + 1];
            h = if hit {
                up.saturating_add(i as i32 - 3)
            } else {
                h
            };
            fh |= hit;
            let hit = d[i] && !d[i + 1];
            g = if hit {
                down.saturating_sub(i as i32 - 3)
            } else {
                g
            };
            fg |= hit;
        }
        lo[l] = g;
        hi[l] = h;
        settled[l] = fh && fg && t != 0 && t < INF_BITS;
    }
    let mut empty = !live;
    let mut width = [0u32; W];
    for l in 0..W {
        if live & (1 << l) == 0 {
            continue;
        }
        if !settled[l] {
            (lo[l], hi[l]) = interval(y[l], t[l]);
        }
        width[l] = hi[l].wrapping_sub(lo[l]) as u32;
        empty |= u64::from(lo[l] > hi[l]) << l;
    }
    (lo, width, empty)
}

/// How a lane's window is made from two intervals of keys, A inside B (see [`window`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// The window is A (n keys).
    Whole,
    /// A (n - 1 keys) and the nearest key outside it.
    OneMore,
    /// A (the keys below D) and the keys of B outside A (those at D), the smaller first.
    Ties,
}

/// The Phocas/MeaMed window of every lane in `todo` around its centre `y[l]`: the mean of the
/// m - b values least in (distance, value), into `res`; returns the mask of the lanes it
/// declined (see the module docs). `middle`: the keys of ranks b and m - 1 - b per lane, when
/// the caller has them (Phocas's centre is their Trmean), to start from a narrower bracket.
#[inline(always)]
pub(crate) fn window(
    tile: &[[i32; W]],
    todo: u64,
    b: usize,
    (y, middle): (&[f64; W], Option<&[[i32; W]; 2]>),
    res: &mut [f64; W],
) -> u64 {
    let m = tile.len();
    let n = m - b;
    debug_assert!(n >= 2 && n <= m && m < u32::MAX as usize);
    let r = (n - 1) as u32;
    let mut live = todo;
    for l in 0..W {
        if !y[l].is_finite() {
            live &= !(1 << l);
        }
    }
    // a bisection of the distance patterns: D in [lo, hi), with #{dist < lo} = below <= r
    // and #{dist < hi} = upto > r; the width halves each pass, so 63 passes end it
    let mut lo = [0u64; W];
    let mut below = [0u32; W];
    let mut hi = [INF_BITS + 1; W];
    let mut upto = [m as u32; W];
    if let Some(keys) = middle {
        start(
            tile,
            (y, keys),
            live,
            r,
            (&mut lo, &mut below),
            (&mut hi, &mut upto),
        );
    }
    for _ in 0..63 {
        let pinned = (0..W).all(|l| {
            live & (1 << l) == 0 || below[l] == r || upto[l] == r + 1 || hi[l] - lo[l] <= 1
        });
        if pinned {
            break;
        }
        // lanes already pinned count at lo again, which keeps them as they are
        let cand: [u64; W] = std::array::from_fn(|l| {
            let pinned = below[l] == r || upto[l] == r + 1;
            if pinned {
                lo[l]
            } else {
                lo[l] + (hi[l] - lo[l]) / 2
            }
        });
        let (klo, width, empty) = intervals(y, &cand, live);
        let [count] = count_in(tile, &[klo], &[width]);
        for l in 0..W {
            let c = if empty & (1 << l) != 0 { 0 } else { count[l] };
            let keep = c <= r;
            lo[l] = if keep { cand[l] } else { lo[l] };
            below[l] = if keep { c } else { below[l] };
            hi[l] = if keep { hi[l] } else { cand[l] };
            upto[l] = if keep { upto[l] } else { c };
        }
    }
    // per lane: A, and how it fills the window
    let fill: [Fill; W] = std::array::from_fn(|l| {
        if upto[l] == r + 1 {
            Fill::Whole
        } else if below[l] == r {
            Fill::OneMore
        } else {
            Fill::Ties
        }
    });
    let ta: [u64; W] = std::array::from_fn(|l| match fill[l] {
        Fill::Whole => hi[l],
        Fill::OneMore | Fill::Ties => lo[l],
    });
    let (alo, awidth, aempty) = intervals(y, &ta, live);
    let sums = window_pass(tile, (&alo, &awidth, aempty));
    let mut declined = todo & !live;
    for l in 0..W {
        if live & (1 << l) == 0 {
            continue;
        }
        let got = match fill[l] {
            Fill::Whole => sums.whole(l, n),
            Fill::OneMore => sums.one_more(l, n, y[l]),
            Fill::Ties => {
                // hi = lo + 1, so D = lo; B holds the keys at distance <= D
                let a = (aempty & (1 << l) == 0)
                    .then(|| (alo[l], alo[l].wrapping_add(awidth[l] as i32)));
                let b = interval(y[l], lo[l] + 1);
                sums.ties(l, n, tile, a, b)
            }
        };
        match got {
            Some(v) => res[l] = v,
            None => declined |= 1 << l,
        }
    }
    declined
}

/// The exponent field [`Binades`] keeps for the value of f32 key k, from the key's bits (the
/// f64 field, subnormals raised to the smallest normal's, non-finite values 2047), and
/// whether the value is nonzero: [`Binades::field_of`] on 16 lanes of i32 rather than 8 of
/// f64.
#[inline(always)]
fn field(k: i32) -> (u32, bool) {
    let abs = f32::from_key(k).to_bits() & 0x7FFF_FFFF;
    let e = abs >> 23;
    let f = if e == 255 { 2047 } else { (e + 896).max(897) };
    (f, abs != 0)
}

/// What the last pass gathers per lane: the sum (in row order), count and exponent range of
/// the keys in A, and the nearest keys left and right of A with the counts on either side.
struct Sums {
    sum: [f64; W],
    count: [u32; W],
    elo: [u32; W],
    ehi: [u32; W],
    left_max: [i32; W],
    right_min: [i32; W],
    left: [u32; W],
    right: [u32; W],
}

/// The last pass over A = [alo, alo + awidth] per lane (none where `aempty`).
#[inline(always)]
fn window_pass(tile: &[[i32; W]], (alo, awidth, aempty): (&[i32; W], &[u32; W], u64)) -> Sums {
    let mut s = Sums {
        sum: [-0.0; W],
        count: [0; W],
        elo: [u32::MAX; W],
        ehi: [0; W],
        left_max: [i32::MIN; W],
        right_min: [i32::MAX; W],
        left: [0; W],
        right: [0; W],
    };
    let ahas: [bool; W] = std::array::from_fn(|l| aempty & (1 << l) == 0);
    let ahi: [i32; W] = std::array::from_fn(|l| alo[l].wrapping_add(awidth[l] as i32));
    for row in tile {
        for l in 0..W {
            let k = row[l];
            let in_a = ahas[l] && (k.wrapping_sub(alo[l]) as u32) <= awidth[l];
            let (left, right) = (k < alo[l], k > ahi[l]);
            s.sum[l] += if in_a { value(k) } else { -0.0 };
            s.count[l] += u32::from(in_a);
            let (f, nonzero) = field(k);
            let live = in_a && nonzero;
            s.elo[l] = s.elo[l].min(if live { f } else { u32::MAX });
            s.ehi[l] = s.ehi[l].max(if live { f } else { 0 });
            s.left_max[l] = s.left_max[l].max(if left { k } else { i32::MIN });
            s.right_min[l] = s.right_min[l].min(if right { k } else { i32::MAX });
            s.left[l] += u32::from(left);
            s.right[l] += u32::from(right);
        }
    }
    s
}

/// The keys at distance D on one side of A, for one lane: count, sum in row order, exponent
/// range, smallest and largest key.
struct Side {
    count: usize,
    sum: f64,
    binades: Binades,
    min: i32,
    max: i32,
}

impl Side {
    fn new() -> Self {
        Self {
            count: 0,
            sum: -0.0,
            binades: Binades {
                lo: u32::MAX,
                hi: 0,
            },
            min: i32::MAX,
            max: i32::MIN,
        }
    }

    fn add(&mut self, k: i32) {
        let v = value(k);
        self.count += 1;
        self.sum += v;
        self.binades.add::<f32>(v);
        self.min = self.min.min(k);
        self.max = self.max.max(k);
    }
}

impl Sums {
    /// The mean of n values: A's sum, the whole sides of `more`, and `c` copies of v for each
    /// (v, c) of `extra`, if every partial sum is exact (so the order of the exact route gives
    /// the same bits).
    fn mean(
        &self,
        l: usize,
        n: usize,
        extra: [(f64, usize); 2],
        more: [Option<&Side>; 2],
    ) -> Option<f64> {
        let mut binades = Binades {
            lo: self.elo[l],
            hi: self.ehi[l],
        };
        let mut sum = self.sum[l];
        for side in more.into_iter().flatten() {
            binades.lo = binades.lo.min(side.binades.lo);
            binades.hi = binades.hi.max(side.binades.hi);
            sum += side.sum;
        }
        for (v, c) in extra {
            if c > 0 {
                binades.add::<f32>(v);
                // exact when the check below passes: v has 24 significant bits, c < 2^32
                sum += v * c as f64;
            }
        }
        binades.exact::<f32>(n).then(|| sum / n as f64)
    }

    /// The window is A.
    fn whole(&self, l: usize, n: usize) -> Option<f64> {
        if self.count[l] as usize != n {
            return None;
        }
        self.mean(l, n, [(0.0, 0); 2], [None; 2])
    }

    /// A and the nearest key outside it: the largest key left of A or the smallest right of
    /// it, the left one on equal distances (the smaller value), provided no smaller key
    /// shares its distance (else the left key might not be the smallest of its distance).
    fn one_more(&self, l: usize, n: usize, y: f64) -> Option<f64> {
        if self.count[l] as usize != n - 1 {
            return None;
        }
        let left = (self.left[l] > 0).then(|| self.left_max[l]);
        let right = (self.right[l] > 0).then(|| self.right_min[l]);
        let (k, from_left) = match (left, right) {
            (Some(a), Some(b)) if dbits(a, y) <= dbits(b, y) => (a, true),
            (Some(a), None) => (a, true),
            (_, Some(b)) => (b, false),
            (None, None) => return None,
        };
        if from_left && (k == i32::MIN || dbits(k - 1, y) <= dbits(k, y)) {
            return None;
        }
        self.mean(l, n, [(value(k), 1), (0.0, 0)], [None; 2])
    }

    /// A (the keys below D) and, of the keys at D (those of B = [b.0, b.1] outside A, read
    /// from lane l of the tile), the smallest in value: each side whole, or a part of a side
    /// that holds one key.
    fn ties(
        &self,
        l: usize,
        n: usize,
        tile: &[[i32; W]],
        a: Option<(i32, i32)>,
        b: (i32, i32),
    ) -> Option<f64> {
        let (mut left, mut right) = (Side::new(), Side::new());
        for row in tile {
            let k = row[l];
            let in_a = a.is_some_and(|(lo, hi)| lo <= k && k <= hi);
            if in_a || k < b.0 || k > b.1 {
                continue;
            }
            // with A empty every key of B counts as left of it
            if a.is_none_or(|(lo, _)| k < lo) {
                left.add(k);
            } else {
                right.add(k);
            }
        }
        let below = self.count[l] as usize;
        let (cl, cr) = (left.count, right.count);
        if below >= n || below + cl + cr < n {
            return None;
        }
        let take = n - below;
        let from_left = take.min(cl);
        let from_right = take - from_left;
        let mut extra = [(0.0, 0); 2];
        let mut more = [None; 2];
        for (i, (side, from)) in [(&left, from_left), (&right, from_right)]
            .into_iter()
            .enumerate()
        {
            if from == side.count {
                more[i] = Some(side);
            } else if from > 0 {
                if side.min != side.max {
                    return None;
                }
                extra[i] = (value(side.min), from);
            }
        }
        self.mean(l, n, extra, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::descent;
    use crate::aggregators::descent::tests::{column, tile_of};
    use crate::aggregators::selection::{phocas_checked, trimmed_mean};
    use rand::{Rng, SeedableRng};

    /// The interval against the definition, at its ends and around them, for centres and
    /// candidates drawn over many binades, near zero and with the values' own bits.
    #[test]
    fn intervals_hold_exactly_the_keys_below_the_candidate() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut searched = 0;
        for i in 0..20_000 {
            let y: f64 = match i % 4 {
                0 => rng.random_range(-1.0..1.0),
                1 => rng.random_range(-1.0..1.0) * 2f64.powi(rng.random_range(-60..60)),
                2 => f64::from(rng.random_range(-1.0f32..1.0)),
                _ => rng.random_range(-1e-3..1e-3),
            };
            let t: u64 = match i % 3 {
                0 => rng.random_range(0..=INF_BITS + 2),
                1 => (y.abs() * rng.random_range(0.5..2.0)).to_bits(),
                _ => y
                    .abs()
                    .to_bits()
                    .wrapping_add(rng.random_range(0..3))
                    .wrapping_sub(1),
            };
            let inside = |k: i32| dbits(k, y) < t;
            let (lo, hi) = interval(y, t);
            if guess(y, t).0.is_none() || guess(y, t).1.is_none() {
                searched += 1;
            }
            let probes = [lo, hi, (y as f32).to_key(), i32::MIN, i32::MAX];
            for p in probes {
                for o in -4..=4 {
                    let k = p.saturating_add(o);
                    assert_eq!(
                        inside(k),
                        lo <= k && k <= hi,
                        "y {y:e} t {:e} key {k} interval [{lo}, {hi}]",
                        f64::from_bits(t)
                    );
                }
            }
            for _ in 0..8 {
                let k: i32 = rng.random();
                assert_eq!(inside(k), lo <= k && k <= hi, "y {y:e} key {k}");
            }
        }
        // the search (values near zero, distances that round alike) was exercised
        assert!(searched > 0);
    }

    /// The window of every lane against the exact route, for both centres (Phocas's Trmean_b
    /// and MeaMed's median), on the hostile columns, plain ones and quantised ones (ties).
    #[test]
    fn taken_lanes_have_the_exact_routes_bits() {
        let mut taken = 0;
        let mut lanes = 0;
        for m in [32, 33, 100, 301, 1000] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(m as u64);
            let kinds: Vec<Vec<Vec<f32>>> = vec![
                (0..W).map(|l| column(m, l)).collect(),
                (0..W)
                    .map(|_| (0..m).map(|_| rng.random_range(-1.0f32..1.0)).collect())
                    .collect(),
                (0..W)
                    .map(|_| {
                        (0..m)
                            .map(|_| (rng.random_range(-4.0f32..4.0)).round() / 2.0)
                            .collect()
                    })
                    .collect(),
                // ties at D on the left: tiny values at one rounded distance from a centre
                // near 3, so the window leaves out part of the middle (the OneMore check, a
                // part of a side)
                (0..W)
                    .map(|_| {
                        (0..m)
                            .map(|i| match rng.random_range(0..8) {
                                0..3 => (i % 4 + 1) as f32 * 1e-30,
                                3 => 4.0,
                                _ => 3.0,
                            })
                            .collect()
                    })
                    .collect(),
            ];
            for cols in &kinds {
                let tile = tile_of(cols);
                for b in [1, m / 10, (m - 1) / 4, (m - 1) / 2 - 1] {
                    for c in [b, m.div_ceil(2) - 1] {
                        let y: [f64; W] = std::array::from_fn(|l| {
                            let mut keys: Vec<i64> =
                                tile.iter().map(|r| f32::from_key(r[l]).key64()).collect();
                            trimmed_mean::<f32>(&mut keys, c)
                        });
                        let mut res = [0.0; W];
                        let middle = descent::trmean(&tile, W, c, &mut [0.0; W])
                            .1
                            .filter(|_| c == b);
                        let declined = window(&tile, u64::MAX, b, (&y, middle.as_ref()), &mut res);
                        for l in 0..W {
                            lanes += 1;
                            if declined & (1 << l) != 0 {
                                continue;
                            }
                            taken += 1;
                            let mut keys: Vec<i64> =
                                tile.iter().map(|r| f32::from_key(r[l]).key64()).collect();
                            let want =
                                phocas_checked::<f32>(&mut keys, (b, c), y[l], &mut Vec::new());
                            assert!(
                                want.to_bits() == res[l].to_bits()
                                    || (want.is_nan() && res[l].is_nan()),
                                "m {m} b {b} c {c} lane {l}: {} against {want}",
                                res[l]
                            );
                        }
                    }
                }
            }
        }
        // ordinary lanes are taken, not declined
        assert!(taken * 10 >= lanes * 7, "{taken} of {lanes}");
    }
}

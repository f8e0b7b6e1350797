//! Rank selection by bit descent across a tile of 64 coordinates, for the selection path (m
//! above the network limit): every rule with f32 storage (i32 keys), the order statistic and
//! the Median with f64 storage (i64 keys).
//!
//! The tile holds the m keys of [`W`] = 64 coordinates row by row (the layout of
//! [`super::tiled`]: coordinates are SIMD lanes, no transposition), 4m or 8m bytes a
//! lane, so 256 or 512 KB at m = 1000: it stays in L2 while it is read again and again. The key of rank r is
//! found one bit at a time from the top (a radix select with one counting pass a bit): with
//! the bits above fixed in the prefix p, the candidate c = p | bit is kept when at most r keys
//! are below it. Every pass is branch-free over the 64 lanes (a compare and a masked add per
//! key), and several ranks share the pass's loads.
//!
//! **Early end.** Each lane keeps how many keys lie below its prefix and how many lie at or
//! below the last rejected candidate (less one). Once the first is exactly r, the key of rank
//! r is the smallest key at or above the prefix; once the second is exactly r + 1, it is the
//! largest key at or below that bound. When every lane in use is pinned one way or the other,
//! one pass finds the keys. For m distinct keys that happens after about
//! log2(m) plus a few passes rather than 32 (a candidate step smaller than the gap between
//! the keys of ranks r - 1 and r, or r and r + 1); ties at the rank keep a lane descending to
//! the last bit, which is still exact.
//!
//! Cost per coordinate: at most B + 1 passes for B-bit keys, each of m compares and adds over
//! 16 (i32) or 8 (i64) lanes per AVX-512 instruction; on the tests' uniform columns the
//! slowest of 64 lanes needed 18 to 24 passes at m = 300 and 1000 (counted before the second
//! early end was added). No per-lane branch, no data-dependent memory access.
//!
//! [`trmean`] adds one pass that sums the values strictly between the two ranks' keys in row
//! order and counts the ties; the order differs from the exact route's (increasing values),
//! so the result is only taken when every partial sum is exact ([`super::exact_sum::Binades`]),
//! or when nothing lies strictly between (then the order is the exact route's); other lanes
//! are declined to the exact route.

use super::exact_sum::Binades;
use super::layout::W;
use crate::scalar::Scalar;

/// The key types the descent works on: i32 (f32 storage) and i64 (f64 storage).
pub(crate) trait Bits: Copy + Ord + 'static {
    /// Width in bits.
    const WIDTH: u32;
    /// The smallest key.
    const MIN: Self;
    /// The largest key.
    const MAX: Self;
    /// The key whose unsigned form (the key with its sign bit flipped, so that the unsigned
    /// order is the key order) is `u`.
    fn from_unsigned(u: u64) -> Self;
}

impl Bits for i32 {
    const WIDTH: u32 = 32;
    const MIN: Self = i32::MIN;
    const MAX: Self = i32::MAX;
    #[inline(always)]
    fn from_unsigned(u: u64) -> Self {
        ((u as u32) ^ (1 << 31)) as i32
    }
}

impl Bits for i64 {
    const WIDTH: u32 = 64;
    const MIN: Self = i64::MIN;
    const MAX: Self = i64::MAX;
    #[inline(always)]
    fn from_unsigned(u: u64) -> Self {
        (u ^ (1 << 63)) as i64
    }
}

/// The keys of ranks `r[0..R]` (0-based, each below m = `tile.len()`) of every lane of the
/// tile; lanes at or above `w` (padding) may end anywhere.
#[inline(always)]
pub(crate) fn ranks<K: Bits, const R: usize>(
    tile: &[[K; W]],
    w: usize,
    r: [usize; R],
) -> [[K; W]; R] {
    let m = tile.len();
    debug_assert!(r.iter().all(|&r| r < m) && m < u32::MAX as usize);
    let target: [u32; R] = r.map(|r| r as u32);
    // Per rank and lane, in unsigned form: the prefix p with `below` = #{k < p} <= r, and the
    // largest key `ceil` that may still be the answer, with `upto` = #{k <= ceil} > r.
    let mut prefix = [[0u64; W]; R];
    let mut below = [[0u32; W]; R];
    let mut ceil = [[u64::MAX >> (64 - K::WIDTH); W]; R];
    let mut upto = [[m as u32; W]; R];
    for bit in (0..K::WIDTH).rev() {
        let done =
            (0..R).all(|q| (0..w).all(|l| below[q][l] == target[q] || upto[q][l] == target[q] + 1));
        if done {
            return ends(tile, (&prefix, &ceil), |q, l| below[q][l] == target[q]);
        }
        let cand: [[u64; W]; R] = std::array::from_fn(|q| prefix[q].map(|p| p | 1 << bit));
        let key: [[K; W]; R] = cand.map(|c| c.map(K::from_unsigned));
        let count = count_below(tile, &key);
        for q in 0..R {
            for l in 0..W {
                let keep = count[q][l] <= target[q];
                prefix[q][l] = if keep { cand[q][l] } else { prefix[q][l] };
                below[q][l] = if keep { count[q][l] } else { below[q][l] };
                ceil[q][l] = if keep { ceil[q][l] } else { cand[q][l] - 1 };
                upto[q][l] = if keep { upto[q][l] } else { count[q][l] };
            }
        }
    }
    prefix.map(|p| p.map(K::from_unsigned))
}

/// Per rank and lane, how many keys of the tile lie below `key`: one counting pass.
#[inline(always)]
fn count_below<K: Bits, const R: usize>(tile: &[[K; W]], key: &[[K; W]; R]) -> [[u32; W]; R] {
    let mut count = [[0u32; W]; R];
    for row in tile {
        for q in 0..R {
            for l in 0..W {
                count[q][l] += u32::from(row[l] < key[q][l]);
            }
        }
    }
    count
}

/// The last pass once every lane is pinned: per rank and lane, the smallest key at or above
/// the prefix when `from_below(q, l)` (exactly r keys lie below it), else the largest key at
/// or below `ceil` (exactly r + 1 keys lie at or below it).
#[inline(always)]
fn ends<K: Bits, const R: usize>(
    tile: &[[K; W]],
    (prefix, ceil): (&[[u64; W]; R], &[[u64; W]; R]),
    from_below: impl Fn(usize, usize) -> bool,
) -> [[K; W]; R] {
    let floor: [[K; W]; R] = prefix.map(|p| p.map(K::from_unsigned));
    let ceil: [[K; W]; R] = ceil.map(|p| p.map(K::from_unsigned));
    let mut lo = [[K::MAX; W]; R];
    let mut hi = [[K::MIN; W]; R];
    for row in tile {
        for q in 0..R {
            for l in 0..W {
                let k = row[l];
                lo[q][l] = lo[q][l].min(if k >= floor[q][l] { k } else { K::MAX });
                hi[q][l] = hi[q][l].max(if k <= ceil[q][l] { k } else { K::MIN });
            }
        }
    }
    std::array::from_fn(|q| {
        std::array::from_fn(|l| if from_below(q, l) { lo[q][l] } else { hi[q][l] })
    })
}

/// Per lane, the key of rank r + 1 given `key`, that of rank r: `key` again if more than
/// r + 1 keys are at or below it, else the smallest key above it. One pass, so that the
/// midpoint Median's two ranks cost one descent.
#[inline(always)]
pub(crate) fn successors<K: Bits>(tile: &[[K; W]], key: &[K; W], r: usize) -> [K; W] {
    let mut at_most = [0u32; W];
    let mut next = [K::MAX; W];
    for row in tile {
        for l in 0..W {
            let k = row[l];
            at_most[l] += u32::from(k <= key[l]);
            next[l] = next[l].min(if k > key[l] { k } else { K::MAX });
        }
    }
    std::array::from_fn(|l| {
        if at_most[l] as usize > r + 1 {
            key[l]
        } else {
            next[l]
        }
    })
}

/// The midpoint Median (Trmean_b with n = m - 2b of 1 or 2) of every lane, into `res`:
/// one descent, then [`successors`] when n = 2; the sum runs from -0.0 in increasing order,
/// as on every other path.
#[inline(always)]
pub(crate) fn midpoint<T: Scalar>(tile: &[[T::Key; W]], w: usize, b: usize, res: &mut [f64; W])
where
    T::Key: Bits,
{
    let n = tile.len() - 2 * b;
    debug_assert!(n == 1 || n == 2);
    let [lo] = ranks(tile, w, [b]);
    let hi = if n == 2 { successors(tile, &lo, b) } else { lo };
    for l in 0..w {
        let sum = -0.0 + T::from_key(lo[l]).to_f64();
        res[l] = if n == 2 {
            sum + T::from_key(hi[l]).to_f64()
        } else {
            sum
        } / n as f64;
    }
}

/// The f32 value of key k, in f64.
#[inline(always)]
fn value(k: i32) -> f64 {
    f32::from_key(k).to_f64()
}

/// Trmean_b of every lane of the tile (`w` lanes in use), into `res`; returns the mask of the
/// lanes declined to the exact route (see the module docs) and, where the middle has more
/// than two values, the keys of ranks b and m - 1 - b.
#[inline(always)]
pub(crate) fn trmean(
    tile: &[[i32; W]],
    w: usize,
    b: usize,
    res: &mut [f64; W],
) -> (u64, Option<[[i32; W]; 2]>) {
    let m = tile.len();
    let n = m - 2 * b;
    if n <= 2 {
        midpoint::<f32>(tile, w, b, res);
        return (0, None);
    }
    let [lo, hi] = ranks(tile, w, [b, m - 1 - b]);
    let mut at_most_lo = [0u32; W];
    let mut below_hi = [0u32; W];
    let mut acc = [-0.0f64; W];
    let mut elo = [u32::MAX; W];
    let mut ehi = [0u32; W];
    for row in tile {
        for l in 0..W {
            let k = row[l];
            at_most_lo[l] += u32::from(k <= lo[l]);
            below_hi[l] += u32::from(k < hi[l]);
            let keep = lo[l] < k && k < hi[l];
            let v = value(k);
            acc[l] += if keep { v } else { -0.0 };
            let (f, nonzero) = Binades::field_of::<f32>(v);
            let live = keep && nonzero;
            elo[l] = elo[l].min(if live { f } else { u32::MAX });
            ehi[l] = ehi[l].max(if live { f } else { 0 });
        }
    }
    let mut declined = 0u64;
    for l in 0..w {
        let (vlo, vhi) = (value(lo[l]), value(hi[l]));
        if lo[l] == hi[l] {
            // every kept value is this one: n copies, in increasing order
            res[l] = (0..n).fold(-0.0, |s, _| s + vlo) / n as f64;
            continue;
        }
        let (at_most_lo, below_hi) = (at_most_lo[l] as usize, below_hi[l] as usize);
        let ties_lo = at_most_lo - b;
        let ties_hi = m - b - below_hi;
        let between = below_hi - at_most_lo;
        let mut sum = acc[l];
        let mut binades = Binades {
            lo: elo[l],
            hi: ehi[l],
        };
        for v in std::iter::repeat_n(vlo, ties_lo).chain(std::iter::repeat_n(vhi, ties_hi)) {
            binades.add::<f32>(v);
            sum += v;
        }
        if between == 0 || binades.exact::<f32>(n) {
            res[l] = sum / n as f64;
        } else {
            declined |= 1 << l;
        }
    }
    (declined, Some([lo, hi]))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aggregators::selection::trimmed_mean;

    /// Column `l` of m values (the kind is l mod 9): uniform, shifted, ties, specials, an
    /// adversarial cluster, tiny values, zeros of both signs, all -NaN, values spread over 40
    /// binades (so that exactness checks fail on some lanes).
    pub(crate) fn column(m: usize, l: usize) -> Vec<f32> {
        let mut state = l as u64 * 7919 + m as u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) as f32
        };
        (0..m)
            .map(|i| {
                let u = next();
                match l % 9 {
                    0 => (u - 0.5) * 2.0,
                    1 => 5.0 + u,
                    2 => (u * 4.0).floor(),
                    3 if i % 7 == 0 => [f32::NAN, f32::INFINITY, -0.0, 1e30, -f32::INFINITY][i % 5],
                    3 => u - 0.5,
                    4 if i < m / 3 => 1e6,
                    4 => u,
                    5 => (u - 0.5) * 1e-30,
                    6 if u < 0.5 => -0.0,
                    6 => 0.0,
                    7 => -f32::NAN,
                    _ => (u - 0.5) * (1u64 << (i % 40)) as f32,
                }
            })
            .collect()
    }

    /// The tile of the columns, lane l holding column l mod the number of columns.
    pub(crate) fn tile_of(cols: &[Vec<f32>]) -> Vec<[i32; W]> {
        let m = cols[0].len();
        (0..m)
            .map(|i| std::array::from_fn(|l| cols[l % cols.len()][i].to_key()))
            .collect()
    }

    /// Checks ranks r and m - 1 - r, and the successor of rank r, of every lane against a
    /// sort of its keys.
    fn check_ranks<K: Bits + std::fmt::Debug>(tile: &[[K; W]], r: usize) {
        let m = tile.len();
        let [a, z] = ranks(tile, W, [r, m - 1 - r]);
        let next = successors(tile, &a, r);
        for l in 0..W {
            let mut keys: Vec<K> = tile.iter().map(|row| row[l]).collect();
            keys.sort_unstable();
            assert_eq!(a[l], keys[r], "m {m} r {r} lane {l}");
            assert_eq!(z[l], keys[m - 1 - r], "m {m} r {r} lane {l}");
            if r + 1 < m {
                assert_eq!(next[l], keys[r + 1], "m {m} r {r} lane {l}");
            }
        }
    }

    #[test]
    fn ranks_are_the_sorted_keys() {
        for m in [1, 2, 3, 31, 257, 1000] {
            let cols: Vec<Vec<f32>> = (0..W).map(|l| column(m, l)).collect();
            let tile = tile_of(&cols);
            let tile64: Vec<[i64; W]> = tile
                .iter()
                .map(|row| row.map(|k| (f64::from(f32::from_key(k)) * 1.000_000_1).to_key()))
                .collect();
            for r in [0, 1, m / 3, m / 2, m.saturating_sub(2), m - 1] {
                let r = r.min(m - 1);
                check_ranks(&tile, r);
                check_ranks(&tile64, r);
            }
        }
    }

    #[test]
    fn padding_lanes_do_not_stop_the_lanes_in_use() {
        let m = 300;
        let mut cols: Vec<Vec<f32>> = (0..5).map(|l| column(m, 9 * l)).collect();
        cols.extend((5..W).map(|_| vec![0.0; m]));
        let tile = tile_of(&cols);
        let [k] = ranks(&tile, 5, [m / 2]);
        for l in 0..5 {
            let mut keys: Vec<i32> = tile.iter().map(|row| row[l]).collect();
            keys.sort_unstable();
            assert_eq!(k[l], keys[m / 2], "lane {l}");
        }
    }

    #[test]
    fn trmean_matches_the_exact_route_or_declines() {
        let mut taken = 0;
        for m in [3, 4, 33, 257, 1000] {
            let cols: Vec<Vec<f32>> = (0..W).map(|l| column(m, l)).collect();
            let tile = tile_of(&cols);
            for b in [0, 1, m / 8, (m - 1) / 4, (m - 1) / 3, m.div_ceil(2) - 1] {
                let mut res = [0.0; W];
                let (declined, _) = trmean(&tile, W, b, &mut res);
                for l in 0..W {
                    let mut keys: Vec<i64> = cols[l].iter().map(|v| v.key64()).collect();
                    let want = trimmed_mean::<f32>(&mut keys, b);
                    if declined & (1 << l) == 0 {
                        taken += 1;
                        assert!(
                            res[l].to_bits() == want.to_bits()
                                || (res[l].is_nan() && want.is_nan()),
                            "m {m} b {b} lane {l}: {} vs {want}",
                            res[l]
                        );
                    }
                }
            }
        }
        // the test above would pass if every lane were declined
        assert!(taken > 1500, "only {taken} lanes taken");
    }

    #[test]
    fn ordinary_lanes_are_taken() {
        let m = 1000;
        let cols: Vec<Vec<f32>> = (0..W).map(|l| column(m, 9 * l)).collect();
        let mut res = [0.0; W];
        assert_eq!(trmean(&tile_of(&cols), W, 249, &mut res).0, 0);
    }
}

//! The selection path and the exact per-coordinate routes, in scalar code: Trmean_b, the
//! order statistic and the Phocas/MeaMed window of one coordinate from its total-order keys.
//! The selection path ([`selection`]) serves m above the network limit; the coordinate-wise
//! kernels ([`super::kernels`]) call [`phocas_checked`] for lanes whose window check fails and
//! [`trimmed_mean`] to rescue overflowed sums. Every sum runs in f64 from -0.0 in the order the
//! network path uses, so both paths give the same bits. With f32 storage the kernels try the
//! tiled routes of [`super::descent`] and [`super::nearest`] first, which fall back on these
//! routes wherever they cannot prove the same bits; with f64 storage the order statistic and
//! the Median take [`super::descent`] only.

use super::layout::{dist, for_chunks, Finish};
use super::{Scratch, Workspace};
use crate::matrix::MatrixView;
use crate::scalar::Scalar;

/// Power of two that keeps sums of up to n finite f64 values finite: 2^s >= 2n.
pub(crate) fn overflow_scale(n: usize) -> (f64, f64) {
    let s = (usize::BITS - n.leading_zeros()) as i32 + 1;
    (2f64.powi(-s), 2f64.powi(s))
}

/// Phocas_b of one coordinate by the definition, given its centre Trmean_b: the mean of the
/// m - b values least in (distance to the centre, value), with a NaN distance counted as
/// +infinity. With the keys sorted as v_0 <= ... <= v_{m-1} and n = m - b, the kept values
/// are summed from -0.0 in the order of the network path: the middle v_b..v_{n-1} first
/// (Trmean's sum), then v_k and v_{k+n} for k = 0, 1, .., b - 1; values not kept are skipped.
/// `keys` may be in any order; they are left sorted. Time O(m log m), O(m + b log b) for keys
/// already sorted or split by [`trimmed_mean`].
pub(crate) fn phocas_exact<T: Scalar>(
    keys: &mut [i64],
    b: usize,
    centre: f64,
    pairs: &mut Vec<u128>,
) -> f64 {
    let m = keys.len();
    let n = m - b;
    sort_keys(keys, b);
    // (distance, position): equal distances go to the smaller value, equal keys to the
    // smaller position. The kept values are those up to the (n-1)-th such pair.
    let rank = |i: usize| {
        let d = dist(T::from_key64(keys[i]).to_f64(), centre);
        (u128::from(d.to_bits()) << 64) | i as u128
    };
    let last = if n < m {
        pairs.clear();
        pairs.extend((0..m).map(rank));
        *pairs.select_nth_unstable(n - 1).1
    } else {
        u128::MAX
    };
    let mut s = -0.0;
    let mut add = |i: usize| {
        if rank(i) <= last {
            s += T::from_key64(keys[i]).to_f64();
        }
    };
    for i in b..n {
        add(i);
    }
    for k in 0..b {
        add(k);
        add(k + n);
    }
    s / n as f64
}

/// Sorts one coordinate's keys. The callers pass them sorted (a tile's lane) or as
/// [`trimmed_mean`] leaves them: the b smallest, the sorted middle, the b largest; then only
/// the two ends are sorted. Any other order gets a full sort.
fn sort_keys(keys: &mut [i64], b: usize) {
    if keys.is_sorted() {
        return;
    }
    let m = keys.len();
    let (lo, rest) = keys.split_at_mut(b.min(m / 2));
    let (mid, hi) = rest.split_at_mut(m - 2 * lo.len());
    let split = match (mid.first(), mid.last()) {
        (Some(&first), Some(&last)) => {
            mid.is_sorted() && lo.iter().all(|&k| k <= first) && hi.iter().all(|&k| k >= last)
        }
        _ => false,
    };
    if split {
        lo.sort_unstable();
        hi.sort_unstable();
    } else {
        keys.sort_unstable();
    }
}

/// Largest magnitude whose sums and distances cannot overflow in Phocas: m values of at most
/// f64::MAX / 4m sum to at most f64::MAX / 4.
fn phocas_safe_limit(m: usize) -> f64 {
    f64::MAX / (4 * m) as f64
}

/// [`phocas_exact`], safe from overflow: if some finite value exceeds [`phocas_safe_limit`]
/// (only possible with f64 storage), the centre and the window are computed on the values
/// scaled by 2^-s (2^s >= 2m: sums and distances stay finite, and a power of two commutes
/// with rounding and with the order) and the mean scaled back. Without this, a centre that
/// overflows to infinity puts every value at distance infinity and the window is chosen by
/// the tie rule alone: a finite, wrong result. The scaling changes values only where it makes
/// them subnormal, which matters only if huge values cancel down to tiny ones. If the scaled
/// result is still not finite (infinities or NaN that the window or centre must include), the
/// unscaled route decides. Infinities alone never trigger the scaling.
pub(crate) fn phocas_checked<T: Scalar>(
    keys: &mut [i64],
    (b, c): (usize, usize),
    centre: f64,
    pairs: &mut Vec<u128>,
) -> f64 {
    let m = keys.len();
    let limit = phocas_safe_limit(m);
    let huge = |k: &i64| {
        let v = T::from_key64(*k).to_f64();
        v.is_finite() && v.abs() > limit
    };
    // cold: only lanes with finite values near f64::MAX allocate the scaled copy
    if std::mem::size_of::<T>() == 8 && keys.iter().any(huge) {
        let (down, up) = overflow_scale(m);
        let mut scaled: Vec<i64> = keys
            .iter()
            .map(|&k| (T::from_key64(k).to_f64() * down).key64())
            .collect();
        let y = trimmed_mean::<f64>(&mut scaled, c);
        let r = phocas_exact::<f64>(&mut scaled, b, y, pairs) * up;
        if r.is_finite() {
            return r;
        }
    }
    phocas_exact::<T>(keys, b, centre, pairs)
}

// ---------------------------------------------------------------------------------------------
// Selection path (large m)
// ---------------------------------------------------------------------------------------------

/// Coordinates per tile of the selection path.
const SEL_TILE: usize = 64;

pub(crate) fn selection<T: Scalar>(
    x: MatrixView<'_, T>,
    ws: &Workspace,
    out: &mut [T],
    finish: Finish,
) {
    let m = x.m();
    let chunk = (131_072 / m).max(SEL_TILE).next_multiple_of(SEL_TILE);
    for_chunks(out, chunk, |c, o| {
        ws.with_scratch(|s| {
            let Scratch { keys, pairs, .. } = s;
            if keys.len() < SEL_TILE * m {
                keys.resize(SEL_TILE * m, 0);
            }
            for (t, o) in o.chunks_mut(SEL_TILE).enumerate() {
                let j0 = c * chunk + t * SEL_TILE;
                let w = o.len();
                let keys = &mut keys[..w * m];
                for i in 0..m {
                    let row = &x.row(i)[j0..j0 + w];
                    for (t, v) in row.iter().enumerate() {
                        keys[t * m + i] = v.key64();
                    }
                }
                for (t, v) in o.iter_mut().enumerate() {
                    let k = &mut keys[t * m..(t + 1) * m];
                    *v = exact::<T>(k, finish, pairs);
                }
            }
        });
    });
}

/// The rule's value at one coordinate by the exact route: selections, then the sort of what
/// is summed. Permutes `keys`.
#[inline(always)]
pub(crate) fn exact<T: Scalar>(keys: &mut [i64], finish: Finish, pairs: &mut Vec<u128>) -> T {
    let m = keys.len();
    match finish {
        Finish::Trmean { b } => T::from_f64(trimmed_mean::<T>(keys, b)),
        Finish::Rank { b } => {
            keys.select_nth_unstable(b);
            T::from_key64(keys[b])
        }
        Finish::Phocas { .. } | Finish::MeaMed { .. } => {
            let (b, c) = finish.window(m).expect("a window rule");
            let centre = trimmed_mean::<T>(keys, c);
            T::from_f64(phocas_checked::<T>(keys, (b, c), centre, pairs))
        }
    }
}

/// Trmean_b of one coordinate's keys: two selections split off the middle m - 2b values
/// (never "sum minus extremes"), which are then sorted and summed in increasing order, as on
/// the network path. Permutes `keys`. Time O(m + (m - 2b) log(m - 2b)).
pub(crate) fn trimmed_mean<T: Scalar>(keys: &mut [i64], b: usize) -> f64 {
    let m = keys.len();
    let n = m - 2 * b;
    if b > 0 {
        keys.select_nth_unstable(b);
    }
    let upper = &mut keys[b..];
    if n < upper.len() {
        upper.select_nth_unstable(n - 1);
    }
    let middle = &mut upper[..n];
    middle.sort_unstable();
    let mut s = -0.0;
    for &k in middle.iter() {
        s += T::from_key64(k).to_f64();
    }
    s / n as f64
}

/// With f64 storage, the f64 sum of Trmean (and the midpoint Median) can overflow to
/// infinity although every summed value is finite (values near f64::MAX); the result is then
/// infinite or NaN. Each coordinate whose result is not finite is recomputed by the scalar
/// route on its values scaled by a power of two 2^-s (2^s >= 2m), and the result scaled
/// back: scaling by a power of two commutes with rounding, so this is the result of the same
/// arithmetic without overflow, except where the scaling makes values subnormal (which
/// matters only if huge values cancel down to tiny ones). A result that stays non-finite
/// (infinities or NaN among the averaged values) is kept; with many such coordinates (f64
/// storage, infinities beyond the trim) each costs one scalar recomputation. f32 storage is
/// summed in f64 and cannot overflow; the order statistic (Rank) has no sum. Phocas, whose
/// overflow can also give a finite wrong window, is handled inside its kernels instead
/// ([`phocas_checked`]).
/// Time: O(d) to look, O(m log m) per recomputed coordinate; allocates only then.
pub(crate) fn rescue_overflow<T: Scalar>(x: MatrixView<'_, T>, out: &mut [T], finish: Finish) {
    let Finish::Trmean { b } = finish else {
        return;
    };
    if std::mem::size_of::<T>() < 8 {
        return;
    }
    let m = x.m();
    let (down, up) = overflow_scale(m);
    let mut keys: Vec<i64> = Vec::new();
    for (j, v) in out.iter_mut().enumerate() {
        if v.to_f64().is_finite() {
            continue;
        }
        keys.clear();
        keys.extend((0..m).map(|i| (x.row(i)[j].to_f64() * down).key64()));
        let r = trimmed_mean::<f64>(&mut keys, b) * up;
        if r.is_finite() {
            *v = T::from_f64(r);
        }
    }
}

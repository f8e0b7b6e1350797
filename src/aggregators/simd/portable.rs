//! The portable level's register networks: safe Rust over 128-bit vectors of the `wide` crate
//! (4 f32 or 2 f64 coordinates), which are SSE2 on baseline x86-64, NEON on aarch64, simd128
//! on WebAssembly and plain arrays elsewhere, with no `cfg` of ours. The one unsafe operation
//! is a load of a group without bounds checks ([`Rows::get`]).
//!
//! Why floats and not keys: the other levels sort the order-preserving integer keys of the
//! values (a total order with NaN and signed zeros placed), but baseline x86-64 (SSE2) has no
//! 32-bit min/max and no 64-bit compare, so an integer compare-exchange costs 4 to 8
//! instructions. A compare-exchange of floats is one min and one max on every target. For
//! values that are not NaN and not zero the two orders agree, and equal floats then have equal
//! bits, so the sorted wires, turned into keys, are the keys the integer networks would have
//! left: the same bits downstream. Zeros are put right afterwards (in key order every -0.0
//! comes before every +0.0: each lane's run of zeros takes as many -0.0 as the lane held); a
//! group that may hold a NaN is declined, and the caller sorts the tile's keys instead.
//!
//! Cost, per group of 4 (f32) or 2 (f64) coordinates: the network's comparators (92 for
//! m = 20, as [`super::networks`] lists them), one sum per wire for the NaN check (and, where
//! the sorted keys go to a tile, a minimum of absolute values for the zero check), and the
//! finish (a sum, a pick, or the window) or one key conversion per value.

use crate::aggregators::layout::{dist, Finish, W};
use crate::matrix::MatrixView;
use wide::{f32x4, f64x2, i32x4, CmpEq};

/// Coordinates `[j0, j0 + len)` of every row of a matrix, read without bounds checks: with
/// them, each load of a group cost a flag, an offset and a branch kept on the stack (the
/// wires left no registers for them), about a third of the kernel's time (perf, m = 20).
#[derive(Clone, Copy)]
struct Rows<'a, T> {
    data: &'a [T],
    d: usize,
    j0: usize,
    m: usize,
    len: usize,
}

impl<'a, T: crate::scalar::Scalar> Rows<'a, T> {
    fn new(x: MatrixView<'a, T>, j0: usize, len: usize) -> Self {
        assert!(
            j0 + len <= x.d(),
            "coordinates {j0}..{} of {}",
            j0 + len,
            x.d()
        );
        Self {
            data: x.as_slice(),
            d: x.d(),
            j0,
            m: x.m(),
            len,
        }
    }

    /// The N values of row w from coordinate j0 + c.
    ///
    /// # Safety
    /// w < m and c + N <= len.
    #[inline(always)]
    unsafe fn get<const N: usize>(&self, w: usize, c: usize) -> &'a [T; N] {
        debug_assert!(w < self.m && c + N <= self.len, "row {w}, coordinate {c}");
        let at = w * self.d + self.j0 + c;
        // SAFETY: w < m and j0 + c + N <= j0 + len <= d (the contract and `new`), so
        // `at + N <= m * d = data.len()` (a `MatrixView` holds exactly m x d values).
        unsafe { &*self.data.as_ptr().add(at).cast::<[T; N]>() }
    }
}

/// A 128-bit vector of one storage type, with what the network needs.
trait Lanes: Copy {
    /// The storage type.
    type T: crate::scalar::Scalar;
    /// Lanes per vector.
    const N: usize;
    fn splat(v: f64) -> Self;
    /// The values of row w from coordinate c of `rows`.
    ///
    /// # Safety
    /// As [`Rows::get`]: w < m and c + N <= len.
    unsafe fn load_row(rows: &Rows<'_, Self::T>, w: usize, c: usize) -> Self;
    /// Lane-wise minimum and maximum, for values that are not NaN (a pair of zeros may come
    /// out as any two zeros).
    fn min_max(self, other: Self) -> (Self, Self);
    fn add(self, other: Self) -> Self;
    /// Whether a lane is NaN.
    fn any_nan(self) -> bool;
    /// `acc` lowered lane by lane to this vector's absolute values (no NaN).
    fn min_abs(self, acc: Self) -> Self;
    /// Whether a lane is zero.
    fn any_zero(self) -> bool;
    /// The lanes' values.
    fn values(self, out: &mut [Self::T]);
    /// The lanes' keys.
    fn keys(self, out: &mut [<Self::T as crate::scalar::Scalar>::Key]);
    /// Adds the lanes' values, in f64, to the first N of `acc`.
    fn widen_add(self, acc: &mut [f64; 4]);
    /// The lanes' values in f64 (lanes from N on: zero).
    #[inline(always)]
    fn widen(self) -> [f64; 4] {
        let mut a = [0.0; 4];
        self.widen_add(&mut a);
        a
    }
}

/// The [`Lanes`] methods both vector types share; `$keys` is the key conversion.
macro_rules! lanes {
    ($v:ident, $t:ty, $n:literal, $keys:item) => {
        impl Lanes for $v {
            type T = $t;
            const N: usize = $n;
            #[inline(always)]
            fn splat(v: f64) -> Self {
                $v::splat(<$t as crate::scalar::Scalar>::from_f64(v))
            }
            #[inline(always)]
            unsafe fn load_row(rows: &Rows<'_, $t>, w: usize, c: usize) -> Self {
                // SAFETY: the caller's contract is `get`'s.
                $v::new(*unsafe { rows.get::<$n>(w, c) })
            }
            #[inline(always)]
            fn min_max(self, other: Self) -> (Self, Self) {
                (self.fast_min(other), self.fast_max(other))
            }
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self + other
            }
            #[inline(always)]
            fn any_nan(self) -> bool {
                self.is_nan().any()
            }
            #[inline(always)]
            fn min_abs(self, acc: Self) -> Self {
                acc.fast_min(self.abs())
            }
            #[inline(always)]
            fn any_zero(self) -> bool {
                self.cmp_eq($v::ZERO).any()
            }
            #[inline(always)]
            fn values(self, out: &mut [$t]) {
                out.copy_from_slice(&self.to_array());
            }
            #[inline(always)]
            fn widen_add(self, acc: &mut [f64; 4]) {
                for (a, v) in acc.iter_mut().zip(self.to_array()) {
                    *a += f64::from(v);
                }
            }
            $keys
        }
    };
}

lanes!(
    f32x4,
    f32,
    4,
    #[inline(always)]
    fn keys(self, out: &mut [i32]) {
        let b: i32x4 = bytemuck::cast(self);
        let k: i32x4 = b ^ ((b >> 31_i32) & i32x4::splat(i32::MAX));
        out.copy_from_slice(&k.to_array());
    }
);

lanes!(
    f64x2,
    f64,
    2,
    // (SSE2 has no 64-bit arithmetic shift: two scalar conversions.)
    #[inline(always)]
    fn keys(self, out: &mut [i64]) {
        use crate::scalar::Scalar;
        for (k, v) in out.iter_mut().zip(self.to_array()) {
            *k = v.to_key();
        }
    }
);

/// Compare-exchange of two wires.
#[inline(always)]
fn cx<V: Lanes>(v: &mut [V; 32], a: usize, b: usize) {
    (v[a], v[b]) = v[a].min_max(v[b]);
}

/// Rows `first..first + M` of coordinates `[c, c + N)` of `rows` as the first M wires; the
/// missing wires hold +infinity, so that the compiler can drop the comparators that touch
/// them (min(p, +inf) = p).
#[inline(always)]
fn load_group<V: Lanes, const M: usize>(rows: &Rows<'_, V::T>, first: usize, c: usize) -> [V; 32] {
    assert!(
        first + M <= rows.m && c + V::N <= rows.len,
        "rows {first}.., coordinate {c}"
    );
    let mut v = [V::splat(f64::INFINITY); 32];
    for (w, dst) in v.iter_mut().enumerate().take(M) {
        // SAFETY: first + w < first + M <= m and c + N <= len (asserted above).
        *dst = unsafe { V::load_row(rows, first + w, c) };
    }
    v
}

/// What the NaN and zero check found in one group.
enum Group {
    /// No NaN and no zero: the float order is the key order.
    Plain,
    /// Perhaps zeros, no NaN: the float order up to the signs of the zeros.
    Zeros,
    /// Perhaps a NaN: the float order may not be the key order.
    Nan,
}

/// Looks for NaN ([`may_hold_nan`]) and then zeros in the first M wires: the smallest
/// absolute value of each lane (a product would underflow to zero for the small values of
/// real gradients and send most groups down the slower road).
#[inline(always)]
fn check<V: Lanes, const M: usize>(v: &[V; 32]) -> Group {
    if may_hold_nan::<V, M>(v) {
        return Group::Nan;
    }
    let mut low = V::splat(f64::INFINITY);
    for &w in v.iter().take(M) {
        low = w.min_abs(low);
    }
    if low.any_zero() {
        Group::Zeros
    } else {
        Group::Plain
    }
}

/// Whether a lane of the first M wires may be NaN: their sum is, as a tree of four chains (a
/// NaN makes it NaN; so may infinities of both signs, which only send the group down the
/// slower road).
#[inline(always)]
fn may_hold_nan<V: Lanes, const M: usize>(v: &[V; 32]) -> bool {
    let mut acc = [V::splat(0.0); 4];
    for (w, &x) in v.iter().enumerate().take(M) {
        acc[w % 4] = acc[w % 4].add(x);
    }
    acc[0].add(acc[1]).add(acc[2].add(acc[3])).any_nan()
}

/// After the float sort of a group with zeros and no NaN: within every lane's run of zeros,
/// the first ones become -0.0 (as many as the lane held: `neg`) and the rest +0.0, the key
/// order. Works on the values, lane by lane (a rare road).
fn place_zeros<T: crate::scalar::Scalar + PartialEq>(
    wires: &mut [[T; 4]],
    n: usize,
    neg: [usize; 4],
) {
    let zero = T::from_f64(0.0);
    let mut seen = [0usize; 4];
    for w in wires.iter_mut() {
        for t in 0..n {
            if w[t] == zero {
                w[t] = if seen[t] < neg[t] {
                    T::from_f64(-0.0)
                } else {
                    zero
                };
                seen[t] += 1;
            }
        }
    }
}

/// Writes to wires 0..M of the tile the keys of coordinates `[j, j + W)` of rows
/// `first..first + M`, sorted in every lane by the register network on floats; returns
/// `false` (the tile's content then undefined) if a group may hold a NaN.
///
/// Panics unless `first + M <= x.m()`, `j + W <= x.d()` and `tile.len() >= M`.
#[inline(always)]
fn rows<V: Lanes, const M: usize>(
    x: MatrixView<'_, V::T>,
    j: usize,
    first: usize,
    tile: &mut [[<V::T as crate::scalar::Scalar>::Key; W]],
) -> bool
where
    V::T: PartialEq,
{
    use crate::scalar::Scalar;
    assert!(
        first + M <= x.m() && j + W <= x.d() && tile.len() >= M,
        "rows {first}..{} of {}, coordinates {j}..{} of {}",
        first + M,
        x.m(),
        j + W,
        x.d()
    );
    let n = V::N;
    let rows = Rows::new(x, j, W);
    for g in 0..W / n {
        let c = j + g * n;
        let mut v = load_group::<V, M>(&rows, first, g * n);
        let group = check::<V, M>(&v);
        if matches!(group, Group::Nan) {
            return false;
        }
        if matches!(group, Group::Zeros) {
            let vals = sorted_with_zeros::<V, M>(x, c, first, v);
            for (dst, src) in tile.iter_mut().zip(&vals).take(M) {
                for (k, u) in dst[g * n..g * n + n].iter_mut().zip(&src[..n]) {
                    *k = u.to_key();
                }
            }
        } else {
            sorting_network!(M, apply_comparators!(cx, v));
            for (dst, src) in tile.iter_mut().zip(&v).take(M) {
                src.keys(&mut dst[g * n..g * n + n]);
            }
        }
    }
    true
}

/// Trmean_b / the rank-b value (`Finish::Trmean`, `Finish::Rank`) of the whole groups of
/// lanes of coordinates `[j0, j0 + out.len())`, straight from the rows: the float network,
/// then the sum from -0.0 in wire order and one division (or the pick), the operations of the
/// tile path of [`crate::aggregators::kernels`] in the same order, so the same bits. Only the
/// wires the finish reads are needed, so the compiler drops the comparators that feed none
/// (the Median keeps a selection network). Stops before a group that may hold a NaN; returns
/// how many coordinates it wrote.
#[inline(always)]
fn order<V: Lanes, const M: usize>(
    x: MatrixView<'_, V::T>,
    j0: usize,
    out: &mut [V::T],
    finish: Finish,
) -> usize
where
    V::T: PartialEq,
{
    use crate::scalar::Scalar;
    let n = V::N;
    let len = out.len() / n * n;
    assert!(
        x.m() == M && j0 + len <= x.d(),
        "m = {}, coordinates {j0}..{} of {}",
        x.m(),
        j0 + len,
        x.d()
    );
    let (lo, hi) = match finish {
        Finish::Trmean { b } => (b, M - b),
        Finish::Rank { b } => (b, b + 1),
        Finish::Phocas { .. } | Finish::MeaMed { .. } => unreachable!("not an order rule"),
    };
    let trmean = matches!(finish, Finish::Trmean { .. });
    let count = (hi - lo) as f64;
    let zero = <V::T as Scalar>::from_f64(0.0);
    let rows = Rows::new(x, j0, len);
    for (g, o) in out[..len].chunks_exact_mut(n).enumerate() {
        let c = j0 + g * n;
        let v = load_group::<V, M>(&rows, 0, g * n);
        if may_hold_nan::<V, M>(&v) {
            return g * n;
        }
        // Zeros are not looked for before the sort: their signs can only matter to a result
        // that is zero (a pick of a zero, or a sum of zeros: a nonzero term absorbs the sign
        // of any zero), and a group with a zero result is done again the slow way.
        let mut u = v;
        sorting_network!(M, apply_comparators!(cx, u));
        // Constant wire indices below keep the wires in registers.
        if trmean {
            let mut acc = [-0.0f64; 4];
            macro_rules! add {
                ($w:literal) => {
                    if $w < M && $w >= lo && $w < hi {
                        u[$w].widen_add(&mut acc);
                    }
                };
            }
            each_wire!(add);
            for (r, a) in o.iter_mut().zip(acc) {
                *r = <V::T as Scalar>::from_f64(a / count);
            }
        } else {
            let mut r = u[0];
            macro_rules! pick {
                ($w:literal) => {
                    if $w < M && $w == lo {
                        r = u[$w];
                    }
                };
            }
            each_wire!(pick);
            r.values(o);
        }
        if o.contains(&zero) {
            let vals = sorted_with_zeros::<V, M>(x, c, 0, v);
            for (t, r) in o.iter_mut().enumerate() {
                *r = if trmean {
                    let a = vals[lo..hi].iter().fold(-0.0f64, |a, w| a + w[t].to_f64());
                    <V::T as Scalar>::from_f64(a / count)
                } else {
                    vals[lo][t]
                };
            }
        }
    }
    len
}

/// The slow road of a group with zeros (and no NaN): the float network, then the zeros put in
/// key order; the sorted values of coordinates `[c, c + N)` of rows `first..first + M`.
fn sorted_with_zeros<V: Lanes, const M: usize>(
    x: MatrixView<'_, V::T>,
    c: usize,
    first: usize,
    mut v: [V; 32],
) -> [[V::T; 4]; 32]
where
    V::T: PartialEq,
{
    use crate::scalar::Scalar;
    let n = V::N;
    let nz = <V::T as Scalar>::from_f64(-0.0).to_key();
    let mut neg = [0usize; 4];
    for w in 0..M {
        for (t, u) in x.row(first + w)[c..c + n].iter().enumerate() {
            neg[t] += usize::from(u.to_key() == nz);
        }
    }
    sorting_network!(M, apply_comparators!(cx, v));
    let mut vals = [[<V::T as Scalar>::from_f64(0.0); 4]; 32];
    for (dst, src) in vals.iter_mut().zip(&v).take(M) {
        src.values(&mut dst[..n]);
    }
    place_zeros(&mut vals[..M], n, neg);
    vals
}

/// Phocas_b (centre Trmean_ct with ct = b) or MeaMed_b (centre the median, ct its trim) of the
/// whole groups of lanes of coordinates `[j0, j0 + out.len())`, straight from the rows: the
/// float network, the sorted wires widened to f64 once, then the operations of the tile
/// path's `phocas_lanes` in the same order, so the same bits. Stops before a group that may
/// hold a NaN, has a lane whose separation check failed (a tie across the window's edge, not
/// all values equal), a zero result (whose sign the float sort may have lost) or (f64) a
/// centre or mean that is not finite: the tile path takes those. Returns how many
/// coordinates it wrote.
#[inline(always)]
fn window<V: Lanes, const M: usize>(
    x: MatrixView<'_, V::T>,
    j0: usize,
    out: &mut [V::T],
    b: usize,
    ct: usize,
) -> usize
where
    V::T: PartialEq,
{
    use crate::scalar::Scalar;
    let n = V::N;
    let len = out.len() / n * n;
    assert!(
        x.m() == M && b > 0 && 2 * b < M && 2 * ct < M && j0 + len <= x.d(),
        "m = {}, b = {b}, centre trim {ct}, coordinates {j0}..{} of {}",
        x.m(),
        j0 + len,
        x.d()
    );
    let keep = M - b;
    let mid = (M - 2 * b) as f64;
    let cmid = (M - 2 * ct) as f64;
    let limit = std::mem::size_of::<V::T>() == 8;
    let zero = <V::T as Scalar>::from_f64(0.0);
    let rows = Rows::new(x, j0, len);
    for (g, o) in out[..len].chunks_exact_mut(n).enumerate() {
        let mut v = load_group::<V, M>(&rows, 0, g * n);
        if may_hold_nan::<V, M>(&v) {
            return g * n;
        }
        sorting_network!(M, apply_comparators!(cx, v));
        // The wires go to memory once, in f64 (constant indices keep them in registers
        // through the sort); the window's runtime indices read them from there.
        let mut f = [[0.0f64; 4]; 32];
        macro_rules! widen {
            ($w:literal) => {
                if $w < M {
                    f[$w] = v[$w].widen();
                }
            };
        }
        each_wire!(widen);
        let sum_of = |lo: usize, hi: usize| {
            let mut acc = [-0.0f64; 4];
            for w in &f[lo..hi] {
                for t in 0..4 {
                    acc[t] += w[t];
                }
            }
            acc
        };
        let y = sum_of(b, keep);
        let (ys, cm) = if ct == b {
            (y, mid)
        } else {
            (sum_of(ct, M - ct), cmid)
        };
        let mut cy = [0.0f64; 4];
        let mut keep_max = [0.0f64; 4];
        for t in 0..4 {
            cy[t] = ys[t] / cm;
            let (da, dc) = (dist(f[b][t], cy[t]), dist(f[keep - 1][t], cy[t]));
            keep_max[t] = if da > dc { da } else { dc };
        }
        let mut sum = y;
        let mut lose_min = [f64::INFINITY; 4];
        for k in 0..b {
            for t in 0..4 {
                let (a, c) = (f[k][t], f[k + keep][t]);
                let (da, dc) = (dist(a, cy[t]), dist(c, cy[t]));
                let (lose, kept, val) = if da > dc { (da, dc, c) } else { (dc, da, a) };
                sum[t] += val;
                lose_min[t] = if lose < lose_min[t] {
                    lose
                } else {
                    lose_min[t]
                };
                keep_max[t] = if kept > keep_max[t] {
                    kept
                } else {
                    keep_max[t]
                };
            }
        }
        // The checks of all lanes first, one branch after (no early exit per lane).
        let mut bad = false;
        for t in 0..n {
            let res = sum[t] / keep as f64;
            let tied = lose_min[t] <= keep_max[t] && f[0][t] != f[M - 1][t];
            let big = limit && !(res.is_finite() && cy[t].is_finite());
            o[t] = <V::T as Scalar>::from_f64(res);
            bad |= tied | big | (o[t] == zero);
        }
        if bad {
            return g * n;
        }
    }
    len
}

/// [`window`] for f32 rows (4 lanes a vector).
pub(crate) fn window_f32<const M: usize>(
    x: MatrixView<'_, f32>,
    j0: usize,
    out: &mut [f32],
    b: usize,
    ct: usize,
) -> usize {
    window::<f32x4, M>(x, j0, out, b, ct)
}

/// [`window`] for f64 rows (2 lanes a vector).
pub(crate) fn window_f64<const M: usize>(
    x: MatrixView<'_, f64>,
    j0: usize,
    out: &mut [f64],
    b: usize,
    ct: usize,
) -> usize {
    window::<f64x2, M>(x, j0, out, b, ct)
}

/// [`order`] for f32 rows (4 lanes a vector).
pub(crate) fn order_f32<const M: usize>(
    x: MatrixView<'_, f32>,
    j0: usize,
    out: &mut [f32],
    finish: Finish,
) -> usize {
    order::<f32x4, M>(x, j0, out, finish)
}

/// [`order`] for f64 rows (2 lanes a vector).
pub(crate) fn order_f64<const M: usize>(
    x: MatrixView<'_, f64>,
    j0: usize,
    out: &mut [f64],
    finish: Finish,
) -> usize {
    order::<f64x2, M>(x, j0, out, finish)
}

/// [`rows`] for f32 (4 lanes a vector).
pub(crate) fn rows_f32<const M: usize>(
    x: MatrixView<'_, f32>,
    j: usize,
    first: usize,
    tile: &mut [[i32; W]],
) -> bool {
    rows::<f32x4, M>(x, j, first, tile)
}

/// [`rows`] for f64 (2 lanes a vector).
pub(crate) fn rows_f64<const M: usize>(
    x: MatrixView<'_, f64>,
    j: usize,
    first: usize,
    tile: &mut [[i64; W]],
) -> bool {
    rows::<f64x2, M>(x, j, first, tile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::Scalar;

    /// The portable float network leaves the keys of a full key sort, for zeros of both
    /// signs, an infinity and ties, and declines a tile with a NaN.
    #[test]
    fn float_network_leaves_the_sorted_keys() {
        // (+inf and -inf in one lane would make the NaN check's sum NaN: declined, as a NaN)
        let specials = [0.0f32, -0.0, 1.0, -1.0, f32::INFINITY, -3.0, 2.5];
        let (m, d) = (20, W + 3);
        let mut s = 12345u64;
        let data: Vec<f32> = (0..m * d)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                specials[(s >> 33) as usize % specials.len()]
            })
            .collect();
        let x = MatrixView::new(&data, m, d).expect("shape");
        for first in [0, 2] {
            let mut tile = vec![[0i32; W]; 32];
            assert!(rows_f32::<18>(x, 3, first, &mut tile));
            for t in 0..W {
                let mut keys: Vec<i32> =
                    (0..18).map(|w| x.row(first + w)[3 + t].to_key()).collect();
                keys.sort_unstable();
                let got: Vec<i32> = (0..18).map(|w| tile[w][t]).collect();
                assert_eq!(got, keys, "lane {t}");
            }
        }
        let mut with_nan = data.clone();
        with_nan[7 * d + 1] = f32::NAN;
        let y = MatrixView::new(&with_nan, m, d).expect("shape");
        let mut tile = vec![[0i32; W]; 32];
        assert!(!rows_f32::<20>(y, 0, 0, &mut tile), "a NaN in the tile");
        assert!(
            rows_f32::<20>(y, 2, 0, &mut tile),
            "the NaN is left of the tile"
        );
    }

    #[test]
    fn f64_network_places_signed_zeros() {
        let (m, d) = (5, W);
        let data: Vec<f64> = (0..m * d)
            .map(|i| [0.0, -0.0, -0.0, 3.0, -1.0][(i / d + i) % 5])
            .collect();
        let x = MatrixView::new(&data, m, d).expect("shape");
        let mut tile = vec![[0i64; W]; 32];
        assert!(rows_f64::<5>(x, 0, 0, &mut tile));
        for t in 0..W {
            let mut keys: Vec<i64> = (0..5).map(|w| x.row(w)[t].to_key()).collect();
            keys.sort_unstable();
            let got: Vec<i64> = (0..5).map(|w| tile[w][t]).collect();
            assert_eq!(got, keys, "lane {t}");
        }
    }
}

//! Property tests of the aggregation rules against simple reference implementations.
//!
//! The references below are deliberately naive: full sorts with `total_cmp`, sequential f64
//! sums, an O(d m^2) distance loop. Comparisons are exact wherever the rule's arithmetic is
//! order-independent, and otherwise use a rigorous bound on the summation error: summing n
//! terms in any order moves the result by at most about (n-1) u sum|x_i| (u = 2^-53), so two
//! different orders (ours and the reference) differ by at most about n * 2u * sum|x_i|.
//!
//! Values are drawn from a "wild" generator (NaN of both signs, infinities, subnormals,
//! +-1e20, f32::MAX, bit-flipped floats, ties from {0, 1, 2}, duplicated rows). For f64 the
//! values are f32 bit patterns widened to f64, so no f64 sum can overflow; the no-panic
//! properties use full f64 bit patterns.

// Exact float equality is what most of these properties assert.
#![allow(clippy::float_cmp)]

use phocas::aggregators::{
    self, max_trim, Krum, KrumDistance, KrumNeighbours, MedianConvention, RuleKind, RuleParams,
    REGISTRY,
};
use phocas::{AggregateExt, Aggregator, MatrixView, Scalar, Workspace};
use proptest::prelude::*;
use proptest::sample::Index;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::ops::RangeInclusive;

/// A little more than 2u = 2^-52: the per-term error allowance for two summation orders.
const U2: f64 = 2.3e-16;

/// Rules that have a reference implementation in this file.
const KNOWN: &[&str] = &[
    "mean",
    "median",
    "trmean",
    "phocas",
    "meamed",
    "krum",
    "multikrum",
    "geomed",
];

// ---------------------------------------------------------------------------------------------
// Storage-type helpers
// ---------------------------------------------------------------------------------------------

trait Fl: Scalar {
    fn of_f32(x: f32) -> Self;
    fn tcmp(a: &Self, b: &Self) -> Ordering;
    fn bits(self) -> u64;
    /// Allowance for rounding an f64 result of magnitude about |x| to this type.
    fn store_ulp(x: f64) -> f64;
    /// Values an adversary likes, in this type.
    fn specials() -> Vec<Self>;
    /// An arbitrary bit pattern of this type.
    fn of_bits(u: u64) -> Self;
}

impl Fl for f64 {
    fn of_f32(x: f32) -> Self {
        f64::from(x)
    }
    fn tcmp(a: &Self, b: &Self) -> Ordering {
        a.total_cmp(b)
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
    fn store_ulp(_: f64) -> f64 {
        0.0
    }
    fn specials() -> Vec<Self> {
        vec![
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            1e300,
            -1e300,
            1e20,
            -1e20,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            0.0,
            -0.0,
        ]
    }
    fn of_bits(u: u64) -> Self {
        f64::from_bits(u)
    }
}

impl Fl for f32 {
    fn of_f32(x: f32) -> Self {
        x
    }
    fn tcmp(a: &Self, b: &Self) -> Ordering {
        a.total_cmp(b)
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn store_ulp(x: f64) -> f64 {
        ulp32(x)
    }
    fn specials() -> Vec<Self> {
        specials32()
    }
    fn of_bits(u: u64) -> Self {
        f32::from_bits((u ^ (u >> 32)) as u32)
    }
}

/// Spacing of f32 values at magnitude |x| (subnormal spacing below f32::MIN_POSITIVE).
fn ulp32(x: f64) -> f64 {
    let a = x.abs();
    if !a.is_finite() {
        return 0.0;
    }
    let e = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    2f64.powi(e.max(-126) - 23)
}

fn specials32() -> Vec<f32> {
    vec![
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e20,
        -1e20,
        f32::MAX,
        f32::MIN,
        0.0,
        -0.0,
        1e-45,
        -1e-45,
        1e-40,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
    ]
}

/// Bit-equal, except that any two NaNs are equal.
fn same<T: Fl>(a: T, b: T) -> bool {
    (a.to_f64().is_nan() && b.to_f64().is_nan()) || a.bits() == b.bits()
}

fn same_vec<T: Fl>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(*x, *y))
}

/// `ours` is within the error bound of summing n terms whose absolute values average `scale`
/// (in two different orders), plus one storage-type rounding; NaN iff NaN, infinities equal.
fn close<T: Fl>(ours: T, want: f64, n: usize, scale: f64) -> bool {
    let o = ours.to_f64();
    if want.is_nan() || o.is_nan() {
        return want.is_nan() && o.is_nan();
    }
    if want.is_infinite() || o.is_infinite() {
        return o == want;
    }
    let tol = (n as f64 + 1.0) * U2 * scale + T::store_ulp(want) + 1e-300;
    (o - want).abs() <= tol
}

/// Relative closeness of two Krum scores (equal infinities are close).
fn near(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if cond {
        Ok(())
    } else {
        Err(TestCaseError::fail(msg()))
    }
}

// ---------------------------------------------------------------------------------------------
// Matrices and generators
// ---------------------------------------------------------------------------------------------

/// An m x d matrix drawn as f32 values (converted exactly to the storage type under test).
#[derive(Clone, Debug)]
struct Case {
    m: usize,
    d: usize,
    x: Vec<f32>,
}

impl Case {
    fn data<T: Fl>(&self) -> Vec<T> {
        self.x.iter().map(|&v| T::of_f32(v)).collect()
    }
}

fn view<T: Fl>(x: &[T], m: usize, d: usize) -> MatrixView<'_, T> {
    MatrixView::new(x, m, d).unwrap()
}

fn col<T: Fl>(x: &[T], m: usize, d: usize, j: usize) -> Vec<T> {
    (0..m).map(|i| x[i * d + j]).collect()
}

fn row<T: Fl>(x: &[T], d: usize, i: usize) -> &[T] {
    &x[i * d..(i + 1) * d]
}

fn ties() -> BoxedStrategy<f32> {
    prop::sample::select(vec![0.0f32, 1.0, 2.0]).boxed()
}

fn moderate() -> BoxedStrategy<f32> {
    prop_oneof![3 => -100.0f32..100.0, 1 => ties()].boxed()
}

/// Multiples of 2^-8 in [-128, 128], or ties: every sum of up to 50 such values, also after
/// scaling by a small dyadic factor and translating by a grid value, is exact in f64, and every
/// value is exact in f32.
fn grid() -> BoxedStrategy<f32> {
    prop_oneof![
        3 => (-32768i32..=32768).prop_map(|i| i as f32 / 256.0),
        1 => ties()
    ]
    .boxed()
}

fn subnormal32() -> impl Strategy<Value = f32> {
    (any::<bool>(), 1u32..(1 << 23)).prop_map(|(s, m)| f32::from_bits(m | (u32::from(s) << 31)))
}

/// Anything: moderate values, ties, NaN of both signs, infinities, subnormals, huge values and
/// arbitrary bit patterns.
fn wild() -> BoxedStrategy<f32> {
    prop_oneof![
        4 => -100.0f32..100.0,
        3 => ties(),
        2 => prop::sample::select(specials32()),
        2 => any::<u32>().prop_map(f32::from_bits),
        1 => subnormal32(),
    ]
    .boxed()
}

/// Hostile values of the well-conditioned generators: huge (|v| >= 2^21) or non-finite, from
/// bit patterns with a large exponent forced.
fn hostile() -> BoxedStrategy<f32> {
    prop_oneof![
        any::<u32>().prop_map(|u| f32::from_bits(u | 0x4A00_0000)),
        prop::sample::select(vec![
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e20,
            -1e20,
            f32::MAX,
            f32::MIN
        ]),
    ]
    .boxed()
}

fn dims() -> BoxedStrategy<usize> {
    prop_oneof![8 => 1usize..=8, 1 => 250usize..=330].boxed()
}

/// Random matrices: each matrix draws all its values from ties only, moderate values, or the
/// wild mix, then some rows are overwritten by copies of others.
fn cases(ms: RangeInclusive<usize>, ds: BoxedStrategy<usize>) -> BoxedStrategy<Case> {
    (ms, ds, 0u8..4)
        .prop_flat_map(|(m, d, mode)| {
            let v = match mode {
                0 => ties(),
                1 => moderate(),
                _ => wild(),
            };
            (
                Just(m),
                Just(d),
                prop::collection::vec(v, m * d),
                prop::collection::vec((0..m, 0..m), 0..=m / 2),
            )
        })
        .prop_map(|(m, d, mut x, dups)| {
            for (s, t) in dups {
                let r = x[s * d..(s + 1) * d].to_vec();
                x[t * d..(t + 1) * d].copy_from_slice(&r);
            }
            Case { m, d, x }
        })
        .boxed()
}

/// Like [`cases`] but without NaN (for the f32/f64 comparison, where f32 -> f64 changes the
/// relative order of NaN payloads).
fn cases_no_nan(ms: RangeInclusive<usize>, ds: BoxedStrategy<usize>) -> BoxedStrategy<Case> {
    cases(ms, ds)
        .prop_map(|mut c| {
            for v in &mut c.x {
                if v.is_nan() {
                    *v = if v.is_sign_negative() { -7.5 } else { 7.5 };
                }
            }
            c
        })
        .boxed()
}

/// A matrix whose every coordinate holds at most b hostile values at random rows, the others
/// being `good` values; returns the case, b and the hostile mask.
#[derive(Clone, Debug)]
struct Conditioned {
    case: Case,
    b: usize,
    hostile: Vec<bool>,
}

fn conditioned(
    ms: RangeInclusive<usize>,
    ds: BoxedStrategy<usize>,
    good: fn() -> BoxedStrategy<f32>,
) -> BoxedStrategy<Conditioned> {
    (ms, ds, any::<Index>())
        .prop_flat_map(move |(m, d, bi)| {
            let b = bi.index(max_trim(m) + 1);
            (
                Just(m),
                Just(d),
                Just(b),
                prop::collection::vec(good(), m * d),
                prop::collection::vec(prop::collection::vec((0..m, hostile()), 0..=b), d),
            )
        })
        .prop_map(|(m, d, b, mut x, bad)| {
            let mut mask = vec![false; m * d];
            for (j, list) in bad.into_iter().enumerate() {
                for (i, v) in list {
                    x[i * d + j] = v;
                    mask[i * d + j] = true;
                }
            }
            Conditioned {
                case: Case { m, d, x },
                b,
                hostile: mask,
            }
        })
        .boxed()
}

/// Rule parameters, as indices resolved against m.
#[derive(Clone, Debug)]
struct Knobs {
    b: u64,
    q: u64,
    k: u64,
    m_q_1: bool,
    plain: bool,
    lower: bool,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(b, q, k, m_q_1, plain, lower)| Knobs {
            b,
            q,
            k,
            m_q_1,
            plain,
            lower,
        })
}

/// Maps a uniform u64 to 0..size.
fn pick(raw: u64, size: usize) -> usize {
    ((u128::from(raw) * size as u128) >> 64) as usize
}

/// The raw u64 that [`pick`] maps to about the fraction f of a range.
fn frac(f: f64) -> u64 {
    (f * 2f64.powi(64)) as u64
}

impl Knobs {
    fn b(&self, m: usize) -> usize {
        pick(self.b, max_trim(m) + 1)
    }
    /// 2 for the m-q-2 neighbour convention, 1 for m-q-1.
    fn extra(&self) -> usize {
        if self.m_q_1 {
            1
        } else {
            2
        }
    }
    /// q with at least one Krum neighbour, if there is one.
    fn q(&self, m: usize) -> Option<usize> {
        let max = m.checked_sub(self.extra() + 1)?;
        Some(pick(self.q, max + 1))
    }
    fn k(&self, m: usize) -> usize {
        pick(self.k, m) + 1
    }
    fn conventions(&self) -> RuleParams {
        RuleParams {
            neighbours: if self.m_q_1 {
                KrumNeighbours::MinusQMinus1
            } else {
                KrumNeighbours::MinusQMinus2
            },
            distance: if self.plain {
                KrumDistance::Plain
            } else {
                KrumDistance::Squared
            },
            median: if self.lower {
                MedianConvention::Lower
            } else {
                MedianConvention::Midpoint
            },
            ..RuleParams::default()
        }
    }
    /// Builds registry rule `name` for m workers with the parameters its registry entry says
    /// it takes (b; q and k; q; none), so rules added to the registry later are covered too.
    fn build(&self, name: &str, m: usize) -> Option<Box<dyn Aggregator>> {
        let info = aggregators::info(name)?;
        // q at most the largest the rule takes (Bulyan: (m - 3) / 4)
        let max = info.param.max(m).flatten();
        let q = self.q(m).map(|q| max.map_or(q, |max| q.min(max)));
        let p = info.with_params(self.conventions(), Some(self.b(m)), q, Some(self.k(m)));
        aggregators::build(name, &p, m).ok()
    }
    /// Every registry rule that can be built for m (known rules must build when m >= 3).
    fn all_rules(&self, m: usize) -> Vec<Box<dyn Aggregator>> {
        REGISTRY
            .iter()
            .filter_map(|info| {
                let r = self.build(info.name, m);
                assert!(
                    r.is_some() || m < 3 || !KNOWN.contains(&info.name),
                    "could not build {} for m = {m} with {self:?}",
                    info.name
                );
                r
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Reference implementations
// ---------------------------------------------------------------------------------------------

fn sorted<T: Fl>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort_by(T::tcmp);
    v
}

/// Sum in order from -0.0 (the IEEE sum: values that are all -0.0 sum to -0.0).
fn seq_sum<T: Fl>(v: &[T]) -> f64 {
    let mut s = -0.0;
    for a in v {
        s += a.to_f64();
    }
    s
}

/// The crate's overflow scale for m rows: 2^-s and 2^s with 2^s >= 2m.
fn overflow_scale(m: usize) -> (f64, f64) {
    let s = (usize::BITS - m.leading_zeros()) as i32 + 1;
    (2f64.powi(-s), 2f64.powi(s))
}

/// `seq_sum(v) / len`, as if f64 had no overflow: a mean that is not finite is redone on the
/// values scaled by the crate's power of two for m rows, and kept if that one is finite.
fn seq_mean<T: Fl>(v: &[T], m: usize) -> f64 {
    let n = v.len() as f64;
    let r = seq_sum(v) / n;
    if r.is_finite() {
        return r;
    }
    let (down, up) = overflow_scale(m);
    let mut t = -0.0;
    for a in v {
        t += a.to_f64() * down;
    }
    let q = t / n * up;
    if q.is_finite() {
        q
    } else {
        r
    }
}

fn abs_sum<T: Fl>(v: &[T]) -> f64 {
    let mut s = 0.0;
    for a in v {
        s += a.to_f64().abs();
    }
    s
}

fn ref_mean<T: Fl>(c: &[T]) -> T {
    T::from_f64(seq_mean(c, c.len()))
}

fn ref_median<T: Fl>(c: &[T], lower: bool) -> T {
    let s = sorted(c);
    let m = s.len();
    if m % 2 == 1 {
        s[m / 2]
    } else if lower {
        s[m / 2 - 1]
    } else {
        T::from_f64(seq_mean(&s[m / 2 - 1..=m / 2], m))
    }
}

/// The largest power of two dividing the finite nonzero `a`.
fn pow2_factor(a: f64) -> f64 {
    let bits = a.to_bits();
    let field = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    let e = if field == 0 {
        -1074
    } else {
        mant |= 1u64 << 52;
        field - 1075
    };
    2f64.powi(e + mant.trailing_zeros() as i32)
}

/// Tracks whether a sum of terms is exact in f64 in every order: all terms are multiples of a
/// power of two g (the least of their [`pow2_factor`]s) and sum|terms| < 2^53 g. With
/// `inf_ok`, a +inf or NaN term also makes the result order-independent (it is mapped to +inf),
/// as for sums of squares.
struct ExactSum {
    g: f64,
    abs: f64,
    nonfinite: bool,
}

impl ExactSum {
    fn new() -> Self {
        ExactSum {
            g: f64::INFINITY,
            abs: 0.0,
            nonfinite: false,
        }
    }
    fn push(&mut self, a: f64) {
        if !a.is_finite() {
            self.nonfinite = true;
        } else if a != 0.0 {
            self.g = self.g.min(pow2_factor(a));
            self.abs += a.abs();
        }
    }
    fn exact(&self, inf_ok: bool) -> bool {
        if self.nonfinite {
            return inf_ok;
        }
        self.g == f64::INFINITY || self.abs < 2f64.powi(53) * self.g
    }
}

/// True when every partial sum of `v`, in any order, is exact in f64.
fn sums_exactly<T: Fl>(v: &[T]) -> bool {
    let mut e = ExactSum::new();
    for a in v {
        e.push(a.to_f64());
    }
    e.exact(false)
}

/// A reference value computed in f64 from n summed terms whose absolute values average `scale`;
/// `exact` when that sum is exact in any order, so ours must match bit for bit.
#[derive(Debug, Clone, Copy)]
struct Approx {
    v: f64,
    n: usize,
    scale: f64,
    exact: bool,
}

impl Approx {
    /// The mean of `terms`, drawn from a column of m values.
    fn of<T: Fl>(terms: &[T], m: usize) -> Self {
        let n = terms.len();
        Approx {
            v: seq_mean(terms, m),
            n,
            scale: abs_sum(terms) / n as f64,
            exact: sums_exactly(terms),
        }
    }
    fn admits<T: Fl>(&self, ours: T) -> bool {
        if self.exact {
            // the same value; only the sign of a zero sum depends on the starting value
            ours.to_f64() == T::from_f64(self.v).to_f64()
        } else {
            close(ours, self.v, self.n, self.scale)
        }
    }
}

fn ref_trmean<T: Fl>(c: &[T], b: usize) -> Approx {
    let s = sorted(c);
    let m = s.len();
    Approx::of(&s[b..m - b], m)
}

/// Phocas_b by the definition: the mean of the m - b values nearest to Trmean_b, equal
/// distances broken by the smaller value (total order). `ambiguous` is set when the value just
/// inside and the one just outside the chosen set are so close in distance that the rounding
/// error of the centre could swap them.
fn ref_phocas<T: Fl>(c: &[T], b: usize) -> (Approx, bool) {
    ref_window(c, b, b)
}

/// MeaMed_b by the definition: the mean of the m - b values nearest to the median (the
/// midpoint Trmean_{ceil(m/2)-1}), with Phocas's tie rule.
fn ref_meamed<T: Fl>(c: &[T], b: usize) -> (Approx, bool) {
    ref_window(c, b, max_trim(c.len()))
}

/// The mean of the m - b values nearest to the centre Trmean_ct (Phocas: ct = b; MeaMed: the
/// median's trim).
fn ref_window<T: Fl>(c: &[T], b: usize, ct: usize) -> (Approx, bool) {
    let m = c.len();
    // f64 values near f64::MAX: the crate computes on the values scaled by its power of two
    // (sums and distances would overflow) and scales the mean back, if that one is finite.
    let limit = f64::MAX / (4 * m) as f64;
    let huge = |v: &T| v.to_f64().is_finite() && v.to_f64().abs() > limit;
    if std::mem::size_of::<T>() == 8 && c.iter().any(huge) {
        let (down, up) = overflow_scale(m);
        let scaled: Vec<T> = c.iter().map(|v| T::from_f64(v.to_f64() * down)).collect();
        let (mut r, ambiguous) = ref_window_unscaled(&scaled, b, ct);
        if (r.v * up).is_finite() {
            r.v *= up;
            r.scale *= up;
            return (r, ambiguous);
        }
    }
    ref_window_unscaled(c, b, ct)
}

/// [`ref_window`] in plain f64 arithmetic.
fn ref_window_unscaled<T: Fl>(c: &[T], b: usize, ct: usize) -> (Approx, bool) {
    let m = c.len();
    let centre = ref_trmean(c, ct);
    // bound on |our centre - reference centre|; with exact sums both are the same rounding
    let ec = if centre.exact {
        0.0
    } else {
        2.0 * (centre.n as f64 + 1.0) * U2 * centre.scale
    };
    let mut p: Vec<(f64, T)> = c
        .iter()
        .map(|&v| {
            let mut dist = (v.to_f64() - centre.v).abs();
            if dist.is_nan() {
                dist = f64::INFINITY;
            }
            (dist, v)
        })
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(T::tcmp(&a.1, &b.1)));
    let n = m - b;
    let chosen: Vec<T> = p[..n].iter().map(|t| t.1).collect();
    let ambiguous = n < m && {
        let (di, vi) = p[n - 1];
        let (dout, vo) = p[n];
        !centre.exact
            && T::tcmp(&vi, &vo) != Ordering::Equal
            && di.is_finite()
            && dout - di <= 2.0 * ec + 2.0 * U2 * dout + 1e-300
    };
    (Approx::of(&chosen, m), ambiguous)
}

/// Krum scores by the definition with a naive distance loop (non-finite distance = +inf).
/// `exact` when every distance and every score is a sum that is exact (or +inf) in any order,
/// so our scores must equal these bit for bit and ties must be broken exactly as here.
struct KrumRef {
    s: Vec<f64>,
    exact: bool,
}

fn ref_krum_scores<T: Fl>(
    x: &[T],
    m: usize,
    d: usize,
    q: usize,
    extra: usize,
    plain: bool,
) -> KrumRef {
    let mut dist = vec![0.0f64; m * m];
    let mut exact = true;
    for i in 0..m {
        for j in 0..m {
            if i == j {
                continue;
            }
            let mut s = 0.0f64;
            let mut e = ExactSum::new();
            for c in 0..d {
                let t = x[i * d + c].to_f64() - x[j * d + c].to_f64();
                s += t * t;
                e.push(t * t);
            }
            exact &= e.exact(true);
            if !s.is_finite() {
                s = f64::INFINITY;
            }
            dist[i * m + j] = if plain { s.sqrt() } else { s };
        }
    }
    let n = m - q - extra;
    let s = (0..m)
        .map(|i| {
            let mut o: Vec<f64> = (0..m)
                .filter(|&j| j != i)
                .map(|j| dist[i * m + j])
                .collect();
            o.sort_by(f64::total_cmp);
            let mut e = ExactSum::new();
            o[..n].iter().for_each(|&v| e.push(v));
            exact &= e.exact(true);
            let s: f64 = o[..n].iter().sum();
            if s.is_nan() {
                f64::INFINITY
            } else {
                s
            }
        })
        .collect();
    KrumRef { s, exact }
}

/// Lowest index of the least score.
fn argmin(s: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in s.iter().enumerate() {
        if v.total_cmp(&s[best]) == Ordering::Less {
            best = i;
        }
    }
    best
}

/// Rows ordered by (score, index).
fn krum_order(s: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|&a, &b| s[a].total_cmp(&s[b]).then(a.cmp(&b)));
    order
}

/// Mean of the listed rows, summed in the order given.
fn mean_of_rows<T: Fl>(x: &[T], d: usize, rows: &[usize]) -> Vec<T> {
    (0..d)
        .map(|j| {
            let mut s = -0.0;
            for &i in rows {
                s += x[i * d + j].to_f64();
            }
            T::from_f64(s / rows.len() as f64)
        })
        .collect()
}

fn rule(name: &str, p: RuleParams, m: usize) -> Box<dyn Aggregator> {
    aggregators::build(name, &p, m).unwrap_or_else(|e| panic!("build {name} m={m} {p:?}: {e}"))
}

fn run<T: Fl>(r: &dyn Aggregator, x: &[T], m: usize, d: usize) -> Vec<T> {
    r.aggregate(view(x, m, d))
        .unwrap_or_else(|e| panic!("{}: {e}", r.label()))
}

fn trim(b: usize) -> RuleParams {
    RuleParams {
        b: Some(b),
        ..RuleParams::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Comparisons with the references
// ---------------------------------------------------------------------------------------------

fn check_mean<T: Fl>(c: &Case) -> Result<(), TestCaseError> {
    let (m, d) = (c.m, c.d);
    let x = c.data::<T>();
    let ours = run::<T>(&*rule("mean", RuleParams::default(), m), &x, m, d);
    for j in 0..d {
        let want = ref_mean(&col(&x, m, d, j));
        ensure(same(ours[j], want), || {
            format!("{} mean j={j}: ours {:?} want {:?}", T::NAME, ours[j], want)
        })?;
    }
    Ok(())
}

fn check_median<T: Fl>(x: &[T], m: usize, d: usize) -> Result<(), TestCaseError> {
    for lower in [false, true] {
        let p = RuleParams {
            median: if lower {
                MedianConvention::Lower
            } else {
                MedianConvention::Midpoint
            },
            ..RuleParams::default()
        };
        let ours = run::<T>(&*rule("median", p, m), x, m, d);
        for j in 0..d {
            let want = ref_median(&col(x, m, d, j), lower);
            ensure(same(ours[j], want), || {
                format!(
                    "{} median(lower={lower}) j={j}: ours {:?} want {:?}",
                    T::NAME,
                    ours[j],
                    want
                )
            })?;
        }
    }
    Ok(())
}

fn check_trmean<T: Fl>(c: &Case, b: usize) -> Result<(), TestCaseError> {
    let (m, d) = (c.m, c.d);
    let x = c.data::<T>();
    let ours = run::<T>(&*rule("trmean", trim(b), m), &x, m, d);
    for j in 0..d {
        let want = ref_trmean(&col(&x, m, d, j), b);
        ensure(want.admits(ours[j]), || {
            format!(
                "{} trmean b={b} j={j}: ours {:?} want {want:?}",
                T::NAME,
                ours[j]
            )
        })?;
    }
    Ok(())
}

/// Phocas against the reference; `exact` for grid inputs (all sums exact), otherwise within
/// the summation bound, skipping coordinates where the chosen set is ambiguous.
fn check_phocas<T: Fl>(c: &Conditioned, exact: bool) -> Result<usize, TestCaseError> {
    check_window::<T>("phocas", ref_phocas, c, exact)
}

/// MeaMed against the reference, as [`check_phocas`].
fn check_meamed<T: Fl>(c: &Conditioned, exact: bool) -> Result<usize, TestCaseError> {
    check_window::<T>("meamed", ref_meamed, c, exact)
}

/// A window rule (`name`) against its reference by the definition.
fn check_window<T: Fl>(
    name: &str,
    reference: fn(&[T], usize) -> (Approx, bool),
    c: &Conditioned,
    exact: bool,
) -> Result<usize, TestCaseError> {
    let (m, d, b) = (c.case.m, c.case.d, c.b);
    let x = c.case.data::<T>();
    let ours = run::<T>(&*rule(name, trim(b), m), &x, m, d);
    let mut compared = 0;
    for j in 0..d {
        let (want, ambiguous) = reference(&col(&x, m, d, j), b);
        if exact {
            let w = T::from_f64(want.v);
            ensure(same(ours[j], w), || {
                format!(
                    "{} {name} b={b} j={j}: ours {:?} want {w:?}",
                    T::NAME,
                    ours[j]
                )
            })?;
        } else if !ambiguous {
            ensure(want.admits(ours[j]), || {
                format!(
                    "{} {name} b={b} j={j}: ours {:?} want {want:?}",
                    T::NAME,
                    ours[j]
                )
            })?;
        } else {
            continue;
        }
        compared += 1;
    }
    Ok(compared)
}

fn check_krum<T: Fl>(c: &Case, kn: &Knobs) -> Result<(), TestCaseError> {
    let (m, d) = (c.m, c.d);
    let Some(q) = kn.q(m) else { return Ok(()) };
    let x = c.data::<T>();
    let p = RuleParams {
        q: Some(q),
        ..kn.conventions()
    };
    let ours = run::<T>(&*rule("krum", p.clone(), m), &x, m, d);
    let k = Krum::new(m, q, p.neighbours, p.distance).unwrap();
    let idx = k.select(view(&x, m, d), &mut Workspace::new());
    ensure(same_vec(&ours, row(&x, d, idx)), || {
        format!("{} krum output is not row {idx}", T::NAME)
    })?;
    let KrumRef { s, exact } = ref_krum_scores(&x, m, d, q, kn.extra(), kn.plain);
    let want = argmin(&s);
    // with exact scores, ties must go to the lowest index
    ensure(idx == want || (!exact && near(s[idx], s[want])), || {
        format!(
            "{} krum q={q} {p:?} exact={exact}: ours row {idx} (ref score {}), ref row {want} (score {}); scores {s:?}",
            T::NAME,
            s[idx],
            s[want]
        )
    })
}

fn check_multikrum<T: Fl>(c: &Case, kn: &Knobs) -> Result<bool, TestCaseError> {
    let (m, d) = (c.m, c.d);
    let Some(q) = kn.q(m) else { return Ok(false) };
    let k = kn.k(m);
    let x = c.data::<T>();
    let p = RuleParams {
        q: Some(q),
        k: Some(k),
        ..kn.conventions()
    };
    let KrumRef { s, exact } = ref_krum_scores(&x, m, d, q, kn.extra(), kn.plain);
    let order = krum_order(&s);
    if !exact && k < m && near(s[order[k - 1]], s[order[k]]) {
        return Ok(false);
    }
    let mut sel = order[..k].to_vec();
    sel.sort_unstable();
    let want = mean_of_rows(&x, d, &sel);
    let ours = run::<T>(&*rule("multikrum", p.clone(), m), &x, m, d);
    ensure(same_vec(&ours, &want), || {
        format!(
            "{} multikrum q={q} k={k} {p:?}: rows {sel:?}\n ours {ours:?}\n want {want:?}",
            T::NAME
        )
    })?;
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mean_matches_reference(c in cases(1..=50, dims())) {
        check_mean::<f64>(&c)?;
        check_mean::<f32>(&c)?;
    }

    #[test]
    fn median_matches_reference(c in cases(1..=50, dims())) {
        check_median::<f64>(&c.data(), c.m, c.d)?;
        check_median::<f32>(&c.data(), c.m, c.d)?;
    }

    #[test]
    fn median_matches_reference_on_f64_bit_patterns((m, d, x) in f64_matrices()) {
        check_median::<f64>(&x, m, d)?;
    }

    #[test]
    fn trmean_matches_reference(c in cases(1..=50, dims()), bi in any::<Index>()) {
        let b = bi.index(max_trim(c.m) + 1);
        check_trmean::<f64>(&c, b)?;
        check_trmean::<f32>(&c, b)?;
    }

    #[test]
    fn phocas_matches_reference_well_conditioned(c in conditioned(1..=50, dims(), moderate)) {
        let n64 = check_phocas::<f64>(&c, false)?;
        let n32 = check_phocas::<f32>(&c, false)?;
        // Ambiguous near-ties are rare; nearly every coordinate must have been compared.
        let d = c.case.d;
        prop_assert!(n64 + n32 + 2 + d / 10 >= 2 * d, "compared {n64} + {n32} of {d}");
    }

    #[test]
    fn phocas_matches_reference_on_grid_exactly(c in conditioned(1..=50, dims(), grid)) {
        check_phocas::<f64>(&c, true)?;
        check_phocas::<f32>(&c, true)?;
    }

    #[test]
    fn meamed_matches_reference_well_conditioned(c in conditioned(1..=50, dims(), moderate)) {
        let n64 = check_meamed::<f64>(&c, false)?;
        let n32 = check_meamed::<f32>(&c, false)?;
        let d = c.case.d;
        prop_assert!(n64 + n32 + 2 + d / 10 >= 2 * d, "compared {n64} + {n32} of {d}");
    }

    #[test]
    fn meamed_matches_reference_on_grid_exactly(c in conditioned(1..=50, dims(), grid)) {
        check_meamed::<f64>(&c, true)?;
        check_meamed::<f32>(&c, true)?;
    }

    #[test]
    fn krum_matches_reference(c in cases(2..=50, dims()), kn in knobs()) {
        check_krum::<f64>(&c, &kn)?;
        check_krum::<f32>(&c, &kn)?;
    }

    #[test]
    fn multikrum_matches_reference(c in cases(2..=50, dims()), kn in knobs()) {
        check_multikrum::<f64>(&c, &kn)?;
        check_multikrum::<f32>(&c, &kn)?;
    }
}

proptest! {
    // Several of Krum's distance chunks (d > 4096) and its 256-coordinate sub-tiles.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn krum_matches_reference_across_chunks(
        c in cases(3..=8, (4097usize..=9000).boxed()),
        kn in knobs(),
    ) {
        check_krum::<f64>(&c, &kn)?;
        check_krum::<f32>(&c, &kn)?;
        check_multikrum::<f64>(&c, &kn)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn permuted<T: Fl>(x: &[T], d: usize, perm: &[usize]) -> Vec<T> {
    perm.iter()
        .flat_map(|&i| row(x, d, i).iter().copied())
        .collect()
}

fn permutation(m: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..m).collect();
    p.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    p
}

fn check_permutation<T: Fl>(c: &Case, kn: &Knobs, seed: u64) -> Result<(), TestCaseError> {
    let (m, d) = (c.m, c.d);
    let x = c.data::<T>();
    let perm = permutation(m, seed);
    let y = permuted(&x, d, &perm);
    let b = kn.b(m);
    // mean: same multiset, different summation order
    let r = rule("mean", RuleParams::default(), m);
    let (a, p) = (run(&*r, &x, m, d), run(&*r, &y, m, d));
    for j in 0..d {
        let cj = col(&x, m, d, j);
        ensure(
            close(p[j], a[j].to_f64(), m, abs_sum(&cj) / m as f64),
            || {
                format!(
                    "{} mean not permutation invariant at j={j}: {:?} vs {:?}",
                    T::NAME,
                    a[j],
                    p[j]
                )
            },
        )?;
    }
    // median: exact
    for r in [
        rule("median", kn.conventions(), m),
        rule("trmean", trim(max_trim(m)), m),
    ] {
        let (a, p) = (run(&*r, &x, m, d), run(&*r, &y, m, d));
        ensure(same_vec(&a, &p), || {
            format!(
                "{} {} not permutation invariant: {a:?} vs {p:?}",
                T::NAME,
                r.label()
            )
        })?;
    }
    // trmean: same middle multiset
    let r = rule("trmean", trim(b), m);
    let (a, p) = (run(&*r, &x, m, d), run(&*r, &y, m, d));
    for j in 0..d {
        let want = ref_trmean(&col(&x, m, d, j), b);
        ensure(close(p[j], a[j].to_f64(), want.n, want.scale), || {
            format!(
                "{} trmean b={b} not permutation invariant at j={j}: {:?} vs {:?}",
                T::NAME,
                a[j],
                p[j]
            )
        })?;
    }
    // krum: the same row, or one with an equally good score
    if let Some(q) = kn.q(m) {
        let pk = RuleParams {
            q: Some(q),
            ..kn.conventions()
        };
        let k = Krum::new(m, q, pk.neighbours, pk.distance).unwrap();
        let i0 = k.select(view(&x, m, d), &mut Workspace::new());
        let i1 = perm[k.select(view(&y, m, d), &mut Workspace::new())];
        let s = ref_krum_scores(&x, m, d, q, kn.extra(), kn.plain).s;
        ensure(
            same_vec(row(&x, d, i0), row(&x, d, i1)) || near(s[i0], s[i1]),
            || {
                format!(
                    "{} krum picks row {i0} but {i1} after permuting; scores {s:?}",
                    T::NAME
                )
            },
        )?;
        // multikrum: same set unless the k-th and (k+1)-th scores nearly tie
        let kk = kn.k(m);
        let order = krum_order(&s);
        if kk == m || !near(s[order[kk - 1]], s[order[kk]]) {
            let r = rule("multikrum", RuleParams { k: Some(kk), ..pk }, m);
            let (a, p) = (run(&*r, &x, m, d), run(&*r, &y, m, d));
            for j in 0..d {
                let sel: Vec<T> = order[..kk].iter().map(|&i| x[i * d + j]).collect();
                ensure(
                    close(p[j], a[j].to_f64(), kk, abs_sum(&sel) / kk as f64),
                    || {
                        format!(
                            "{} multikrum not permutation invariant at j={j}: {:?} vs {:?}",
                            T::NAME,
                            a[j],
                            p[j]
                        )
                    },
                )?;
            }
        }
    }
    Ok(())
}

/// Phocas on grid inputs is exact, so permuting workers must not change a bit.
fn check_phocas_permutation<T: Fl>(c: &Conditioned, seed: u64) -> Result<(), TestCaseError> {
    let (m, d) = (c.case.m, c.case.d);
    let x = c.case.data::<T>();
    let y = permuted(&x, d, &permutation(m, seed));
    let r = rule("phocas", trim(c.b), m);
    let (a, p) = (run(&*r, &x, m, d), run(&*r, &y, m, d));
    ensure(same_vec(&a, &p), || {
        format!(
            "{} phocas b={} not permutation invariant: {a:?} vs {p:?}",
            T::NAME,
            c.b
        )
    })
}

/// Aggr(a X + t) = a Aggr(X) + t for a > 0 on grid inputs (every transformed value exact).
fn check_equivariance<T: Fl>(
    c: &Case,
    b: usize,
    a: f64,
    t: f64,
    lower: bool,
) -> Result<(), TestCaseError> {
    let (m, d) = (c.m, c.d);
    let x = c.data::<T>();
    let y: Vec<T> = x.iter().map(|v| T::from_f64(a * v.to_f64() + t)).collect();
    for v in &y {
        // the transformation itself must be exact for the test to be exact
        assert!(same(*v, T::from_f64(v.to_f64())));
    }
    let maxabs = x.iter().fold(0.0f64, |s, v| s.max(v.to_f64().abs()));
    let scale = a * maxabs + t.abs();
    let med = RuleParams {
        median: if lower {
            MedianConvention::Lower
        } else {
            MedianConvention::Midpoint
        },
        ..RuleParams::default()
    };
    let rules = [
        rule("mean", RuleParams::default(), m),
        rule("median", med, m),
        rule("trmean", trim(b), m),
        rule("phocas", trim(b), m),
    ];
    for r in &rules {
        let (o, p) = (run(&**r, &x, m, d), run(&**r, &y, m, d));
        for j in 0..d {
            let want = a * o[j].to_f64() + t;
            let tol = 2.0 * (m as f64 + 4.0) * U2 * scale + 2.0 * a * T::store_ulp(scale);
            ensure((p[j].to_f64() - want).abs() <= tol, || {
                format!(
                    "{} {}: Aggr({a} X + {t})[{j}] = {:?} but {a} Aggr(X) + {t} = {want} (tol {tol})",
                    T::NAME,
                    r.label(),
                    p[j]
                )
            })?;
        }
    }
    Ok(())
}

fn check_trmean_ends<T: Fl>(c: &Case) -> Result<(), TestCaseError> {
    let (m, d) = (c.m, c.d);
    let x = c.data::<T>();
    let t0 = run(&*rule("trmean", trim(0), m), &x, m, d);
    let mean = run(&*rule("mean", RuleParams::default(), m), &x, m, d);
    for j in 0..d {
        let cj = col(&x, m, d, j);
        ensure(
            close(t0[j], mean[j].to_f64(), m, abs_sum(&cj) / m as f64),
            || {
                format!(
                    "{} trmean(b=0) {:?} != mean {:?} at j={j}",
                    T::NAME,
                    t0[j],
                    mean[j]
                )
            },
        )?;
    }
    let tmax = run(&*rule("trmean", trim(max_trim(m)), m), &x, m, d);
    let med = run(&*rule("median", RuleParams::default(), m), &x, m, d);
    ensure(same_vec(&tmax, &med), || {
        format!("{} trmean(b=max) {tmax:?} != median {med:?}", T::NAME)
    })
}

/// Lemma 3 and its Trmean analogue: with at most b arbitrary values per coordinate, Trmean_b
/// lies in [min, max] of the correct values and Phocas_b within that range widened by its
/// width on each side (up to the summation rounding).
fn check_lemma3<T: Fl>(c: &Conditioned, bits: &[u64]) -> Result<(), TestCaseError> {
    let (m, d, b) = (c.case.m, c.case.d, c.b);
    let mut x = c.case.data::<T>();
    let specials = T::specials();
    for (i, v) in x.iter_mut().enumerate() {
        if c.hostile[i] {
            let u = bits[i % bits.len()];
            *v = if u.is_multiple_of(4) {
                specials[(u >> 2) as usize % specials.len()]
            } else {
                T::of_bits(u)
            };
        }
    }
    let tr = run(&*rule("trmean", trim(b), m), &x, m, d);
    let ph = run(&*rule("phocas", trim(b), m), &x, m, d);
    for j in 0..d {
        let good: Vec<f64> = (0..m)
            .filter(|&i| !c.hostile[i * d + j])
            .map(|i| x[i * d + j].to_f64())
            .collect();
        let lo = good.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = good.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w = hi - lo;
        let big = lo.abs().max(hi.abs());
        let slack = (m as f64 + 1.0) * U2 * big + T::store_ulp(big);
        let v = tr[j].to_f64();
        ensure(v >= lo - slack && v <= hi + slack, || {
            format!(
                "{} trmean b={b} j={j}: {v} outside [{lo}, {hi}] of the correct values",
                T::NAME
            )
        })?;
        let slack = 4.0 * (m as f64 + 1.0) * U2 * (big + 2.0 * w) + T::store_ulp(big + w);
        let v = ph[j].to_f64();
        ensure(v >= lo - w - slack && v <= hi + w + slack, || {
            format!(
                "{} phocas b={b} j={j}: {v} outside [{lo} - {w}, {hi} + {w}] (Lemma 3)",
                T::NAME
            )
        })?;
    }
    Ok(())
}

fn check_unanimity<T: Fl>(r: &[f32], m: usize, kn: &Knobs) -> Result<(), TestCaseError> {
    let d = r.len();
    let rowv: Vec<T> = r.iter().map(|&v| T::of_f32(v)).collect();
    let x: Vec<T> = (0..m).flat_map(|_| rowv.iter().copied()).collect();
    for rl in kn.all_rules(m).into_iter().filter(|r| r.unanimous()) {
        let out = run(&*rl, &x, m, d);
        for j in 0..d {
            // equal as values (the sign of a zero may change: 0 + -0 = +0)
            let ok = same(out[j], rowv[j]) || out[j].to_f64() == rowv[j].to_f64();
            ensure(ok, || {
                format!(
                    "{} {}: all rows equal {:?} at j={j} but got {:?}",
                    T::NAME,
                    rl.label(),
                    rowv[j],
                    out[j]
                )
            })?;
        }
    }
    Ok(())
}

/// f32 storage gives the f64 computation rounded to f32 (all sums are f64 in both).
fn check_f32_f64(c: &Case, kn: &Knobs) -> Result<(), TestCaseError> {
    let (m, d) = (c.m, c.d);
    let x32 = c.data::<f32>();
    let x64 = c.data::<f64>();
    for r in kn.all_rules(m) {
        let o32 = run(&*r, &x32, m, d);
        let o64 = run(&*r, &x64, m, d);
        for j in 0..d {
            let w = o64[j] as f32;
            ensure(same(o32[j], w), || {
                format!(
                    "{}: f32 gives {:?}, f64 gives {:?} at j={j}",
                    r.label(),
                    o32[j],
                    o64[j]
                )
            })?;
        }
    }
    Ok(())
}

/// Any input: Ok, d values, and the same bits on a second call (fresh and reused workspace).
fn check_total<T: Fl>(x: &[T], m: usize, d: usize, kn: &Knobs) -> Result<(), TestCaseError> {
    let mut ws = Workspace::new();
    for r in kn.all_rules(m) {
        let a = r
            .aggregate(view(x, m, d))
            .map_err(|e| TestCaseError::fail(format!("{}: {e}", r.label())))?;
        ensure(a.len() == d, || {
            format!("{}: {} values for d = {d}", r.label(), a.len())
        })?;
        let mut b = vec![T::from_f64(12345.0); d];
        r.aggregate_into(view(x, m, d), &mut ws, &mut b)
            .map_err(|e| TestCaseError::fail(format!("{}: {e}", r.label())))?;
        let same_bits = a.iter().zip(&b).all(|(p, q)| p.bits() == q.bits());
        ensure(same_bits, || {
            format!("{}: two calls differ: {a:?} vs {b:?}", r.label())
        })?;
    }
    Ok(())
}

fn any_f64() -> BoxedStrategy<f64> {
    prop_oneof![
        2 => any::<u64>().prop_map(f64::from_bits),
        1 => prop::sample::select(<f64 as Fl>::specials()),
        1 => wild().prop_map(f64::from),
    ]
    .boxed()
}

fn f64_matrices() -> BoxedStrategy<(usize, usize, Vec<f64>)> {
    (1usize..=50, dims())
        .prop_flat_map(|(m, d)| (Just(m), Just(d), prop::collection::vec(any_f64(), m * d)))
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rules_are_permutation_invariant(c in cases(1..=50, dims()), kn in knobs(), seed in any::<u64>()) {
        check_permutation::<f64>(&c, &kn, seed)?;
        check_permutation::<f32>(&c, &kn, seed)?;
    }

    #[test]
    fn phocas_is_permutation_invariant(c in conditioned(1..=50, dims(), grid), seed in any::<u64>()) {
        check_phocas_permutation::<f64>(&c, seed)?;
        check_phocas_permutation::<f32>(&c, seed)?;
    }

    #[test]
    fn translation_and_scale_equivariance(
        c in (1usize..=50, dims()).prop_flat_map(|(m, d)| {
            prop::collection::vec(grid(), m * d).prop_map(move |x| Case { m, d, x })
        }),
        bi in any::<Index>(),
        a in prop::sample::select(vec![0.25f64, 0.5, 0.75, 1.0, 2.0, 3.0, 4.0]),
        ti in -32768i32..=32768,
        lower in any::<bool>(),
    ) {
        let b = bi.index(max_trim(c.m) + 1);
        let t = f64::from(ti) / 256.0;
        check_equivariance::<f64>(&c, b, a, t, lower)?;
        check_equivariance::<f32>(&c, b, a, t, lower)?;
    }

    #[test]
    fn trmean_extremes_are_mean_and_median(c in cases(1..=50, dims())) {
        check_trmean_ends::<f64>(&c)?;
        check_trmean_ends::<f32>(&c)?;
    }

    #[test]
    fn at_most_b_arbitrary_values_are_contained(
        c in conditioned(1..=50, dims(), moderate),
        bits in prop::collection::vec(any::<u64>(), 1..64),
    ) {
        check_lemma3::<f64>(&c, &bits)?;
        check_lemma3::<f32>(&c, &bits)?;
    }

    #[test]
    fn unanimity(
        r in prop::collection::vec(wild(), 1..=8),
        m in 1usize..=50,
        kn in knobs(),
    ) {
        check_unanimity::<f64>(&r, m, &kn)?;
        check_unanimity::<f32>(&r, m, &kn)?;
    }

    #[test]
    fn f32_agrees_with_f64(c in cases_no_nan(1..=50, dims()), kn in knobs()) {
        check_f32_f64(&c, &kn)?;
    }

    #[test]
    fn never_panics_on_f64_bit_patterns(
        (m, d, x) in f64_matrices(),
        kn in knobs(),
    ) {
        check_total::<f64>(&x, m, d, &kn)?;
    }

    #[test]
    fn never_panics_on_f32_bit_patterns(
        (m, d, x) in (1usize..=50, dims()).prop_flat_map(|(m, d)| {
            (Just(m), Just(d), prop::collection::vec(wild(), m * d))
        }),
        kn in knobs(),
    ) {
        check_total::<f32>(&x, m, d, &kn)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed tests
// ---------------------------------------------------------------------------------------------

/// Same bits with 1, 2 and 3 threads, on a matrix large enough for many coordinate tiles and
/// two Krum distance chunks.
#[test]
fn results_do_not_depend_on_thread_count() {
    let (m, d) = (20, 5000);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let specials = specials32();
    let x32: Vec<f32> = (0..m * d)
        .map(|_| match rng.random_range(0..10) {
            0 => specials[rng.random_range(0..specials.len())],
            1 => f32::from_bits(rng.random()),
            2 => f32::from(rng.random_range(0u8..3)),
            _ => rng.random_range(-100.0f32..100.0),
        })
        .collect();
    let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
    let pools: Vec<_> = [1, 2, 3]
        .iter()
        .map(|&n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        })
        .collect();
    let mut checked = 0;
    for (bi, qi, ki) in [(0, 0, 0), (3, 5, 7), (9, 17, 19)] {
        let kn = Knobs {
            b: 0,
            q: 0,
            k: 0,
            m_q_1: bi == 3,
            plain: bi == 9,
            lower: bi == 3,
        };
        for info in REGISTRY {
            // the parameters the registry entry says the rule takes
            // q at most the largest the rule takes (Bulyan: (m - 3) / 4)
            let qi = info.param.max(m).flatten().map_or(qi, |max| qi.min(max));
            let p = info.with_params(kn.conventions(), Some(bi), Some(qi), Some(ki + 1));
            let r = aggregators::build(info.name, &p, m)
                .unwrap_or_else(|e| panic!("cannot build {}: {e}", info.name));
            let a32: Vec<Vec<f32>> = pools
                .iter()
                .map(|pool| pool.install(|| run(&*r, &x32, m, d)))
                .collect();
            let a64: Vec<Vec<f64>> = pools
                .iter()
                .map(|pool| pool.install(|| run(&*r, &x64, m, d)))
                .collect();
            for t in 1..pools.len() {
                assert!(
                    a32[0]
                        .iter()
                        .zip(&a32[t])
                        .all(|(p, q)| p.to_bits() == q.to_bits()),
                    "{} f32 differs between 1 and {} threads",
                    r.label(),
                    t + 1
                );
                assert!(
                    a64[0]
                        .iter()
                        .zip(&a64[t])
                        .all(|(p, q)| p.to_bits() == q.to_bits()),
                    "{} f64 differs between 1 and {} threads",
                    r.label(),
                    t + 1
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * REGISTRY.len());
}

/// The parameter derivation used by the registry-driven properties builds every known rule.
#[test]
fn knobs_build_every_known_rule() {
    for m in 1..=50 {
        for f in [0.0, 0.5, 0.999] {
            for m_q_1 in [false, true] {
                let kn = Knobs {
                    b: frac(f),
                    q: frac(f),
                    k: frac(f),
                    m_q_1,
                    plain: false,
                    lower: false,
                };
                for name in KNOWN {
                    let ok = kn.build(name, m).is_some();
                    let krum = name.contains("krum");
                    assert!(
                        ok || (krum && m < 3),
                        "{name} m={m} f={f} m_q_1={m_q_1} did not build"
                    );
                    if krum && m == 2 {
                        assert_eq!(ok, m_q_1, "{name} m=2");
                    }
                }
            }
        }
    }
}

/// Wrong shapes are errors, not panics.
#[test]
fn shape_errors() {
    let x = [1.0f64; 12];
    for info in REGISTRY {
        let kn = Knobs {
            b: 0,
            q: 0,
            k: 0,
            m_q_1: false,
            plain: false,
            lower: false,
        };
        let r = kn.build(info.name, 4).unwrap();
        // 3 rows instead of 4
        assert!(r.aggregate(view(&x[..9], 3, 3)).is_err(), "{}", info.name);
        // d = 0
        assert!(r.aggregate(view(&x[..0], 4, 0)).is_err(), "{}", info.name);
        // wrong output length
        let mut out = vec![0.0f64; 2];
        assert!(r
            .aggregate_into(view(&x, 4, 3), &mut Workspace::new(), &mut out)
            .is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// The one-column evaluation the worst-case adversaries use (Aggregator::sorted_column)
// ---------------------------------------------------------------------------------------------

proptest! {
    /// `sorted_column` on a sorted column equals the rule's own kernel on that column (up to
    /// the summation order), for every rule that offers it; rules that are not coordinate-wise
    /// offer none.
    #[test]
    fn sorted_column_matches_the_kernels(
        m in 1usize..=40,
        seed in any::<u64>(),
        b_raw in any::<u64>(),
        ties in any::<bool>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut col: Vec<f64> = (0..m)
            .map(|_| if ties { f64::from(rng.random_range(0..3u8)) } else { rng.random::<f64>() * 200.0 - 100.0 })
            .collect();
        let b = pick(b_raw, max_trim(m) + 1);
        for e in REGISTRY {
            let p = RuleParams::for_rule(e.name, Some(b.min(m.saturating_sub(3) / 2)), None);
            let Ok(rule) = aggregators::build(e.name, &p, m) else { continue };
            let kernel = rule.aggregate(MatrixView::new(&col, m, 1).unwrap()).unwrap()[0];
            col.sort_by(f64::total_cmp);
            match rule.sorted_column(&col) {
                Some(v) => {
                    let scale: f64 = col.iter().map(|x| x.abs()).sum();
                    ensure((v - kernel).abs() <= m as f64 * U2 * scale + 1e-300, || {
                        format!("{}: sorted_column {v} vs kernel {kernel} on {col:?}", rule.label())
                    })?;
                }
                // whole-row rules (Krum, Multi-Krum, the geometric median) are not
                // coordinate-wise: the registry's rule kind says which
                None => ensure(!rule.monotone() && !matches!(e.kind, RuleKind::Average | RuleKind::OrderStatistic), || {
                    format!("{} offers no sorted_column", rule.label())
                })?,
            }
            col.shuffle(&mut rng);
        }
    }
}

//! Band selection: the Phocas/MeaMed window of a coordinate without sorting what is summed,
//! for the selection path (m above the network limit), f32 storage. This module holds what
//! the route decides with (the sample, the brackets, the exactness check, which
//! [`super::descent`] shares for Trmean's middle); [`super::band_tile`] runs it over tiles of
//! 64 coordinates.
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
//! n = 1000) below the largest. With f64 storage (p = 53) the check fails whenever more than
//! one nonzero value is summed outside the bands, so the route is used for f32 storage only.

use crate::scalar::Scalar;

/// Largest sample; the band shrinks as 1/sqrt(s) while the sample's sort grows as s log s.
const SAMPLE_MAX: usize = 128;

/// Below this m the exact route is used as it is (the sample would be most of the keys).
pub(crate) const BAND_MIN_M: usize = 32;

/// Pivot slack in standard deviations of the sample rank (each side): a rank falls outside
/// its band with probability about 1%.
const SLACK_SD: f64 = 2.5;

/// Sample size for m keys.
pub(crate) fn sample_size(m: usize) -> usize {
    (m / 4).clamp(16, SAMPLE_MAX)
}

/// Sample indices (lower, upper) bracketing rank r of m keys; `None` for beyond the ends.
#[inline(always)]
pub(crate) fn bracket(s: usize, r: usize, m: usize) -> (Option<usize>, Option<usize>) {
    let q = (r as f64 + 0.5) / m as f64;
    let p = q * s as f64 - 0.5;
    let slack = SLACK_SD * (s as f64 * q * (1.0 - q)).sqrt() + 1.5;
    let lo = (p - slack).floor();
    let hi = (p + slack).ceil();
    let lo = (lo >= 0.0).then_some(lo as usize);
    let hi = (hi < s as f64).then_some(hi as usize);
    (lo, hi)
}

/// Exponent range of the nonzero values summed, for the exactness check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Binades {
    pub(crate) lo: u32,
    pub(crate) hi: u32,
}

impl Binades {
    #[cfg(test)]
    const EMPTY: Self = Self {
        lo: u32::MAX,
        hi: 0,
    };

    /// The f64 exponent field of a nonzero value, raised to the smallest normal exponent of
    /// the storage type (a subnormal has the unit in the last place of the smallest normal);
    /// `None` for zero. Non-finite values give 2047.
    #[inline(always)]
    fn field<T: Scalar>(v: f64) -> Option<u32> {
        let (f, nonzero) = Self::field_of::<T>(v);
        nonzero.then_some(f)
    }

    /// [`Binades::field`] without a branch: the field (meaningless for zero) and whether v is
    /// nonzero, for passes that must vectorise.
    #[inline(always)]
    pub(crate) fn field_of<T: Scalar>(v: f64) -> (u32, bool) {
        let a = v.to_bits() << 1;
        let floor = if T::SIZE == 4 { 1023 - 126 } else { 1 };
        (((a >> 53) as u32).max(floor), a != 0)
    }

    #[inline(always)]
    pub(crate) fn add<T: Scalar>(&mut self, v: f64) {
        if let Some(f) = Self::field::<T>(v) {
            self.lo = self.lo.min(f);
            self.hi = self.hi.max(f);
        }
    }

    /// Whether every partial sum of n such values, in any order, is exact in f64 (module
    /// docs): all finite, and e_max - e_min <= 53 - p - ceil(log2 n).
    pub(crate) fn exact<T: Scalar>(self, n: usize) -> bool {
        if self.lo == u32::MAX {
            return true;
        }
        let p: i64 = if T::SIZE == 4 { 24 } else { 53 };
        let log = i64::from(usize::BITS - n.saturating_sub(1).leading_zeros());
        self.hi < 2047 && i64::from(self.hi) - i64::from(self.lo) <= 53 - p - log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactness_check_says_no_where_order_matters() {
        // 1 + 2^-30: more than 29 binades apart in f32 terms.
        let b = Binades::EMPTY;
        let mut wide = b;
        wide.add::<f32>(1.0);
        wide.add::<f32>(2f64.powi(-30));
        assert!(!wide.exact::<f32>(2));
        let mut near = b;
        near.add::<f32>(1.0);
        near.add::<f32>(2f64.powi(-10));
        assert!(near.exact::<f32>(1000));
        assert!(
            !near.exact::<f32>(1 << 20),
            "19 binades: too many for n = 2^20"
        );
        assert!(!near.exact::<f64>(2));
        let mut inf = b;
        inf.add::<f32>(f64::INFINITY);
        assert!(!inf.exact::<f32>(1));
        assert!(b.exact::<f64>(5), "zeros only");
    }

    #[test]
    fn brackets_hold_their_rank_on_the_sample_scale() {
        for m in [32, 100, 1000, 100_000] {
            let s = sample_size(m);
            for r in [0, 1, m / 4, m / 2, m - 1] {
                let (lo, hi) = bracket(s, r, m);
                let p = (r as f64 + 0.5) / m as f64 * s as f64;
                assert!(lo.is_none_or(|i| (i as f64) < p), "m {m} r {r}");
                assert!(hi.is_none_or(|i| (i as f64) > p - 1.0), "m {m} r {r}");
            }
        }
    }
}

//! The exactness check of the tiled route's sums ([`super::descent`]'s Trmean, the window of
//! [`super::nearest`]): when a sum may be taken in another order than the exact route's.
//!
//! **Same bits.** The network and selection paths sum the kept values in a fixed order
//! (increasing values; Phocas's window: the middle, then the pairs). The tiled route sums them
//! in row order, which gives the same f64 result when every partial sum is exact: when all
//! summed values are finite multiples of u, the smallest unit in the last place among them,
//! and n max |v| <= 2^53 u. In exponent terms: e_max - e_min <= 53 - p - ceil(log2 n), with p
//! the storage type's precision (f32: p = 24, so up to 29 - ceil(log2 n) binades between the
//! smallest and the largest nonzero summed value). Zeros add exactly, and an exact zero
//! result has the same sign in every order (-0 only if every value is -0). A coordinate that
//! fails the check takes the exact route; for gradient-like f32 data that is the rare
//! coordinate whose kept values include one more than 29 - ceil(log2 n) binades (19 for
//! n = 1000) below the largest. With f64 storage (p = 53) the check fails whenever more than
//! one nonzero value is summed, so the summing rules keep the exact route there.

use crate::scalar::Scalar;

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
}

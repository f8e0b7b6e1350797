//! Attacks that scale honest values: the gambler (each Byzantine value multiplied by -1e20,
//! section 5) and inner-product manipulation (-eps x the mean of the correct values).
use super::{impl_attack, per_column, Needs, Target};
use crate::rng::Rng;
use crate::scalar::Scalar;

/// Value x factor (gambler) or -eps x correct mean (ipm).
pub struct Scale {
    factor: f64,
    of_mean: bool,
}

impl Scale {
    /// Gambler: the received value times `factor`.
    pub fn gambler(factor: f64) -> Self {
        Self {
            factor,
            of_mean: false,
        }
    }
    /// Inner-product manipulation: -eps times the correct mean.
    pub fn ipm(eps: f64) -> Self {
        Self {
            factor: -eps,
            of_mean: true,
        }
    }
    fn apply<T: Scalar>(&self, t: Target<'_, T>, _rng: &mut Rng) {
        if self.of_mean {
            per_column(t, Needs::default(), |s| self.factor * s.mean);
        } else {
            for (v, &b) in t.x.iter_mut().zip(t.mask.iter()) {
                if b {
                    *v = T::from_f64(v.to_f64() * self.factor);
                }
            }
        }
    }
}
impl_attack!(Scale);

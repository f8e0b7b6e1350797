//! Constant attacks: a fixed value (magnitude sweeps of Propositions 1-3), NaN, or +-inf.
use super::{impl_attack, Target};
use crate::rng::Rng;
use crate::scalar::Scalar;
use rand::Rng as _;

/// A constant, NaN, or infinity with a random sign.
pub struct Constant {
    value: f64,
    random_sign: bool,
}

impl Constant {
    /// A fixed value.
    pub fn value(v: f64) -> Self {
        Self {
            value: v,
            random_sign: false,
        }
    }
    /// NaN.
    pub fn nan() -> Self {
        Self::value(f64::NAN)
    }
    /// +inf or -inf with probability 1/2 each.
    pub fn inf() -> Self {
        Self {
            value: f64::INFINITY,
            random_sign: true,
        }
    }
    fn apply<T: Scalar>(&self, t: Target<'_, T>, rng: &mut Rng) {
        for (v, &b) in t.x.iter_mut().zip(t.mask.iter()) {
            if b {
                let s = if self.random_sign && rng.random::<bool>() {
                    -1.0
                } else {
                    1.0
                };
                *v = T::from_f64(s * self.value);
            }
        }
    }
}
impl_attack!(Constant, blind);

//! Gaussian attack: each Byzantine entry is an independent N(0, sigma^2) draw (section 5:
//! sigma = 200).
use super::{impl_attack, Target};
use crate::rng::Rng;
use crate::scalar::Scalar;
use rand_distr::{Distribution, StandardNormal};

/// N(0, sigma^2) values.
pub struct GaussianAttack {
    sigma: f64,
}

impl GaussianAttack {
    /// With standard deviation sigma.
    pub fn new(sigma: f64) -> Self {
        Self { sigma }
    }
    fn apply<T: Scalar>(&self, t: Target<'_, T>, rng: &mut Rng) {
        for (v, &b) in t.x.iter_mut().zip(t.mask.iter()) {
            if b {
                let z: f64 = StandardNormal.sample(rng);
                *v = T::from_f64(self.sigma * z);
            }
        }
    }
}
impl_attack!(GaussianAttack, blind);

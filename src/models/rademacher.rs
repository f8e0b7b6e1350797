//! Two-point (Rademacher) noise: +1 or -1 with probability 1/2.
use super::Noise;
use crate::rng::Rng;
use rand::Rng as _;

/// +-1.
pub struct Rademacher;

impl Noise for Rademacher {
    #[inline]
    fn sample(&self, rng: &mut Rng) -> f64 {
        if rng.random::<bool>() {
            1.0
        } else {
            -1.0
        }
    }
}

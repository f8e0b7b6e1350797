//! Standard normal noise (used isotropically and with spread scales).
use super::Noise;
use crate::rng::{fill_standard_normal, Rng};
use rand_distr::{Distribution, StandardNormal};

/// N(0, 1).
pub struct Gaussian;

impl Noise for Gaussian {
    #[inline]
    fn sample(&self, rng: &mut Rng) -> f64 {
        StandardNormal.sample(rng)
    }
    fn fill(&self, rng: &mut Rng, out: &mut [f64]) {
        fill_standard_normal(rng, out)
    }
}

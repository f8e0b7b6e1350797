//! Laplace noise with unit variance (scale 1/sqrt(2)), by inverse CDF.
use super::Noise;
use crate::rng::Rng;
use rand::Rng as _;

/// Unit-variance Laplace.
pub struct Laplace;

impl Noise for Laplace {
    #[inline]
    fn sample(&self, rng: &mut Rng) -> f64 {
        let u: f64 = rng.random::<f64>() - 0.5;
        let b = std::f64::consts::FRAC_1_SQRT_2;
        -b * u.signum() * (1.0 - 2.0 * u.abs()).max(f64::MIN_POSITIVE).ln()
    }
}

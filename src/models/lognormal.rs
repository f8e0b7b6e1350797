//! Centred log-normal noise (skewed): (exp(sigma Z) - exp(sigma^2/2)) / sd, with
//! sd^2 = (exp(sigma^2) - 1) exp(sigma^2).
use super::Noise;
use crate::rng::{fill_standard_normal, Rng};
use rand_distr::{Distribution, StandardNormal};

/// Unit-variance centred log-normal.
pub struct LogNormal {
    sigma: f64,
    mean: f64,
    sd: f64,
}

impl LogNormal {
    /// Log-scale sigma.
    pub fn new(sigma: f64) -> Self {
        let s2 = sigma * sigma;
        Self {
            sigma,
            mean: (s2 / 2.0).exp(),
            sd: ((s2.exp() - 1.0) * s2.exp()).sqrt(),
        }
    }
}

impl Noise for LogNormal {
    #[inline]
    fn sample(&self, rng: &mut Rng) -> f64 {
        let z: f64 = StandardNormal.sample(rng);
        self.of(z)
    }
    fn fill(&self, rng: &mut Rng, out: &mut [f64]) {
        fill_standard_normal(rng, out);
        for v in out.iter_mut() {
            *v = self.of(*v);
        }
    }
}

impl LogNormal {
    /// The centred, scaled value for the standard normal draw `z`.
    #[inline]
    fn of(&self, z: f64) -> f64 {
        ((self.sigma * z).exp() - self.mean) / self.sd
    }
}

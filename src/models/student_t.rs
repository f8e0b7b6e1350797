//! Student-t noise scaled to unit variance: t_nu * sqrt((nu - 2) / nu), nu > 2.
use super::Noise;
use crate::rng::Rng;
use rand_distr::{Distribution, StudentT as T};

/// Unit-variance Student-t.
pub struct StudentT {
    dist: T<f64>,
    scale: f64,
}

impl StudentT {
    /// nu must exceed 2 (finite variance).
    pub fn new(nu: f64) -> Self {
        assert!(nu > 2.0, "Student-t needs nu > 2 for a finite variance");
        Self {
            dist: T::new(nu).expect("nu > 0"),
            scale: ((nu - 2.0) / nu).sqrt(),
        }
    }
}

impl Noise for StudentT {
    #[inline]
    fn sample(&self, rng: &mut Rng) -> f64 {
        self.dist.sample(rng) * self.scale
    }
}

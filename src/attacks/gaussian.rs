//! Gaussian attack: each Byzantine entry is an independent N(0, sigma^2) draw (section 5:
//! sigma = 200).
use super::{impl_attack, Target};
use crate::rng::{fill_standard_normal, Rng, MIN_BULK};
use crate::scalar::Scalar;
use rand_distr::{Distribution, StandardNormal};

/// Entries of the matrix per bulk draw.
const CHUNK: usize = 2048;

/// N(0, sigma^2) values.
pub struct GaussianAttack {
    sigma: f64,
}

impl GaussianAttack {
    /// With standard deviation sigma.
    pub fn new(sigma: f64) -> Self {
        Self { sigma }
    }
    /// The masked entries in row-major order, each `sigma z` with `z` the next standard normal
    /// draw of `rng` (drawn in bulk, [`fill_standard_normal`]: the same bits as one at a time).
    /// O(md).
    fn apply<T: Scalar>(&self, t: Target<'_, T>, rng: &mut Rng) {
        if t.x.len() < MIN_BULK {
            // a small matrix: draw by draw (the same values), without the bulk buffer
            for (v, _) in t.x.iter_mut().zip(t.mask.iter()).filter(|(_, &b)| b) {
                let z: f64 = StandardNormal.sample(rng);
                *v = T::from_f64(self.sigma * z);
            }
            return;
        }
        let mut z = [0f64; CHUNK];
        for (xs, ms) in t.x.chunks_mut(CHUNK).zip(t.mask.chunks(CHUNK)) {
            let n = ms.iter().map(|&b| usize::from(b)).sum::<usize>();
            fill_standard_normal(rng, &mut z[..n]);
            if n == xs.len() {
                // whole rows (the classic model): no mask walk
                for (v, &z) in xs.iter_mut().zip(&z[..n]) {
                    *v = T::from_f64(self.sigma * z);
                }
                continue;
            }
            let mut draws = z[..n].iter();
            for (v, _) in xs.iter_mut().zip(ms).filter(|(_, &b)| b) {
                if let Some(&z) = draws.next() {
                    *v = T::from_f64(self.sigma * z);
                }
            }
        }
    }
}
impl_attack!(GaussianAttack, blind);

//! Gaussian attack: each Byzantine entry is an independent N(0, sigma^2) draw (section 5:
//! sigma = 200).
use super::{impl_attack, Target};
use crate::rng::{fill_standard_normal, fill_standard_normal_map, Rng, MIN_BULK};
use crate::scalar::Scalar;
use rand_distr::{Distribution, StandardNormal};

/// Entries of the matrix per bulk draw when only some are masked (a fully masked target
/// takes one bulk call).
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
    /// (Entries past the shorter of `x` and `mask` are left alone, as a zip of the two would.)
    fn apply<T: Scalar>(&self, t: Target<'_, T>, rng: &mut Rng) {
        let len = t.x.len().min(t.mask.len());
        let (x, mask) = (&mut t.x[..len], &t.mask[..len]);
        if len < MIN_BULK {
            // a small matrix: draw by draw (the same values), without the bulk buffer
            for (v, _) in x.iter_mut().zip(mask).filter(|(_, &b)| b) {
                let z: f64 = StandardNormal.sample(rng);
                *v = T::from_f64(self.sigma * z);
            }
            return;
        }
        if mask.iter().fold(true, |a, &b| a & b) {
            // every entry (the classic model's packed Byzantine rows): one bulk call, each
            // draw scaled and stored as it is made
            let sigma = self.sigma;
            fill_standard_normal_map(rng, x, |z| T::from_f64(sigma * z));
            return;
        }
        let mut z = [0f64; CHUNK];
        for (xs, ms) in x.chunks_mut(CHUNK).zip(mask.chunks(CHUNK)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{hash_str, stream};
    use rand::Rng as _;

    /// The draw-by-draw loop this attack had before its draws went to bulk.
    fn one_by_one(sigma: f64, x: &mut [f64], mask: &[bool], rng: &mut Rng) {
        for (v, &b) in x.iter_mut().zip(mask) {
            if b {
                let z: f64 = StandardNormal.sample(rng);
                *v = sigma * z;
            }
        }
    }

    #[test]
    fn bulk_draws_keep_the_values_and_stream_of_the_loop() {
        // scattered, sparse, dense and full masks around the chunk and the bulk threshold,
        // and masks longer or shorter than the matrix
        for (xlen, mlen) in [
            (0usize, 0usize),
            (100, 100),
            (300, 300),
            (2049, 2049),
            (6000, 6000),
        ]
        .into_iter()
        .chain([(300, 600), (3000, 4500), (5000, 2100)])
        {
            for p in [0.0, 0.05, 0.5, 1.0] {
                let mut meta = stream(xlen as u64, hash_str("mask"), mlen as u64);
                let mut mask: Vec<bool> = (0..mlen).map(|_| meta.random_bool(p)).collect();
                let x0: Vec<f64> = (0..xlen).map(|k| k as f64).collect();
                let mut a = stream(2, hash_str("gaussian"), 0);
                let mut b = a.clone();
                let mut want = x0.clone();
                one_by_one(200.0, &mut want, &mask, &mut a);
                let mut got = x0;
                let d = got.len();
                GaussianAttack::new(200.0).apply(Target::new(&mut got, 1, d, &mut mask), &mut b);
                assert_eq!(want, got, "x {xlen}, mask {mlen}, p {p}");
                assert_eq!(
                    a.get_word_pos(),
                    b.get_word_pos(),
                    "x {xlen}, mask {mlen}, p {p}"
                );
            }
        }
    }
}

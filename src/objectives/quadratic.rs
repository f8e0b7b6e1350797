//! Quadratic objective with known constants: F(x) = 1/2 (x - x*)^T A (x - x*), A diagonal with
//! eigenvalues spread geometrically over [mu, L] (condition number L/mu). A worker's gradient
//! is A(x - x*) + xi with xi drawn from a gradient-noise model of known V (and per-worker
//! sample count n). So mu, L, F* = 0 and V are exact and Theorems 3 and 4 can be evaluated
//! without estimation.

use super::Objective;
use crate::error::Error;
use crate::models::{GradientModel, Reading};
use crate::rng::Rng;

/// The quadratic.
pub struct Quadratic {
    a: Vec<f64>,
    x_star: Vec<f64>,
    noise: GradientModel,
    mu: f64,
    l: f64,
}

impl Quadratic {
    /// d-dimensional quadratic with eigenvalues geometric over [mu, L], optimum x* (a fixed
    /// pattern of norm 1), and noise `dist` with per-sample variance v1 and n samples per worker.
    pub fn new(
        d: usize,
        mu: f64,
        l: f64,
        dist: &str,
        v1: f64,
        n: usize,
        reading: Reading,
    ) -> Result<Self, Error> {
        if !(mu > 0.0 && mu <= l && l.is_finite()) {
            return Err(Error::Invalid(format!(
                "quadratic: need 0 < mu <= L < inf (mu = {mu}, L = {l})"
            )));
        }
        let a = (0..d)
            .map(|j| {
                if d == 1 {
                    l
                } else {
                    mu * (l / mu).powf(j as f64 / (d - 1) as f64)
                }
            })
            .collect();
        let x_star: Vec<f64> = (0..d)
            .map(|j| (1.0 + j as f64).sin() / (d as f64).sqrt())
            .collect();
        Ok(Self {
            a,
            x_star,
            noise: GradientModel::new(dist, d, v1, n, reading, 0.0)?,
            mu,
            l,
        })
    }
}

impl Objective for Quadratic {
    type T = f64;
    type Scratch = ();
    type Round = ();
    fn dim(&self) -> usize {
        self.a.len()
    }
    fn new_scratch(&self) {}
    fn value(&self, x: &[f64], _s: &mut ()) -> f64 {
        0.5 * x
            .iter()
            .zip(&self.x_star)
            .zip(&self.a)
            .map(|((x, s), a)| a * (x - s) * (x - s))
            .sum::<f64>()
    }
    fn full_grad(&self, x: &[f64], _s: &mut (), out: &mut [f64]) {
        for (((o, x), s), a) in out.iter_mut().zip(x).zip(&self.x_star).zip(&self.a) {
            *o = a * (x - s);
        }
    }
    fn worker_grad(&self, x: &[f64], rng: &mut Rng, s: &mut (), out: &mut [f64]) {
        self.noise.noise_into(rng, out);
        for (((o, x), xs), a) in out.iter_mut().zip(x).zip(&self.x_star).zip(&self.a) {
            *o += a * (x - xs);
        }
        let _ = s;
    }
    fn optimum(&self) -> Option<&[f64]> {
        Some(&self.x_star)
    }
    fn min_value(&self) -> Option<f64> {
        Some(0.0)
    }
    fn smoothness(&self) -> Option<f64> {
        Some(self.l)
    }
    fn strong_convexity(&self) -> Option<f64> {
        Some(self.mu)
    }
    fn noise_variance(&self) -> Option<f64> {
        Some(self.noise.variance())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let q = Quadratic::new(5, 0.5, 8.0, "gaussian", 1.0, 1, Reading::Mean).unwrap();
        let x = vec![0.3, -0.2, 1.0, 0.0, 2.0];
        let mut g = vec![0.0; 5];
        q.full_grad(&x, &mut (), &mut g);
        for j in 0..5 {
            let h = 1e-6;
            let mut xp = x.clone();
            xp[j] += h;
            let mut xm = x.clone();
            xm[j] -= h;
            let fd = (q.value(&xp, &mut ()) - q.value(&xm, &mut ())) / (2.0 * h);
            assert!((fd - g[j]).abs() < 1e-6, "{j}: {fd} vs {}", g[j]);
        }
        assert_eq!(q.value(q.optimum().unwrap(), &mut ()), 0.0);
    }
}

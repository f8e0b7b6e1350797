//! A smooth non-convex objective with known L and F*: a sum of coordinate-wise double wells
//! F(x) = sum_j [x_j^2 / 2 + alpha cos(x_j)], alpha > 1.
//!
//! F''(x_j) = 1 - alpha cos(x_j) lies in [1 - alpha, 1 + alpha], so F is L-smooth with
//! L = 1 + alpha everywhere, and non-convex (negative curvature at 0) when alpha > 1. Each
//! coordinate has two global minima at +-u where u = alpha sin(u), u > 0; F* = d (u^2/2 +
//! alpha cos(u)), computed by Newton's method to machine precision. A worker's gradient is
//! grad F(x) + xi with xi from a noise model of known V.

use super::Objective;
use crate::error::Error;
use crate::models::{GradientModel, Reading};
use crate::rng::Rng;

/// The double-well sum.
pub struct DoubleWell {
    d: usize,
    alpha: f64,
    f_star: f64,
    noise: GradientModel,
}

impl DoubleWell {
    /// With curvature parameter alpha > 1 and the given noise.
    pub fn new(
        d: usize,
        alpha: f64,
        dist: &str,
        v1: f64,
        n: usize,
        reading: Reading,
    ) -> Result<Self, Error> {
        if !(alpha > 1.0 && alpha.is_finite()) {
            return Err(Error::Invalid(format!(
                "double well: alpha = {alpha} must exceed 1 for a non-convex objective"
            )));
        }
        // Newton on h(u) = u - alpha sin u from u = pi - 1/alpha-ish (the positive root)
        let mut u = std::f64::consts::PI * 0.75;
        for _ in 0..100 {
            let h = u - alpha * u.sin();
            let dh = 1.0 - alpha * u.cos();
            let nu = u - h / dh;
            if (nu - u).abs() < 1e-15 {
                u = nu;
                break;
            }
            u = nu;
        }
        let f1 = u * u / 2.0 + alpha * u.cos();
        Ok(Self {
            d,
            alpha,
            f_star: d as f64 * f1,
            noise: GradientModel::new(dist, d, v1, n, reading, 0.0)?,
        })
    }
}

impl Objective for DoubleWell {
    type T = f64;
    type Scratch = ();
    type Round = ();
    fn dim(&self) -> usize {
        self.d
    }
    fn new_scratch(&self) {}
    fn value(&self, x: &[f64], _s: &mut ()) -> f64 {
        x.iter().map(|x| x * x / 2.0 + self.alpha * x.cos()).sum()
    }
    fn full_grad(&self, x: &[f64], _s: &mut (), out: &mut [f64]) {
        for (o, x) in out.iter_mut().zip(x) {
            *o = x - self.alpha * x.sin();
        }
    }
    fn worker_grad(&self, x: &[f64], rng: &mut Rng, _s: &mut (), out: &mut [f64]) {
        self.noise.noise_into(rng, out);
        for (o, x) in out.iter_mut().zip(x) {
            *o += x - self.alpha * x.sin();
        }
    }
    fn min_value(&self) -> Option<f64> {
        Some(self.f_star)
    }
    fn smoothness(&self) -> Option<f64> {
        Some(1.0 + self.alpha)
    }
    fn noise_variance(&self) -> Option<f64> {
        Some(self.noise.variance())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_and_gradient() {
        let f = DoubleWell::new(3, 2.0, "gaussian", 1.0, 1, Reading::Mean).unwrap();
        // u = 2 sin u at u ~ 1.895494267
        let u = 1.895_494_267_033_981;
        let x = vec![u, -u, u];
        assert!((f.value(&x, &mut ()) - f.min_value().unwrap()).abs() < 1e-12);
        let mut g = vec![0.0; 3];
        f.full_grad(&x, &mut (), &mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-12));
        // F* is a lower bound on a grid
        for k in -400..400 {
            let t = f64::from(k) * 0.01;
            assert!(f.value(&[t, t, t], &mut ()) >= f.min_value().unwrap() - 1e-12);
        }
        // non-convex at 0
        let h = 1e-4;
        let c = (f.value(&[h, 0.0, 0.0], &mut ()) + f.value(&[-h, 0.0, 0.0], &mut ())
            - 2.0 * f.value(&[0.0; 3], &mut ()))
            / (h * h);
        assert!(c < 0.0);
    }
}

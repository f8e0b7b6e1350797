//! The observers of a training run: test accuracy every k rounds, and Theorem 4's quantities
//! (||grad F||^2 and F on the evaluation subset, V from the correct workers, the aggregation
//! error, and L by power iteration on Hessian-vector products every `l_every` rounds).

use super::{Observer, Round};
use crate::data::Dataset;
use crate::objectives::network::Network;
use crate::objectives::task::NetTask;
use crate::objectives::Objective;
use crate::rng::stream;
use std::sync::Arc;

/// Test loss and accuracy every k rounds (top-3 too when `top3` is kept).
pub(super) struct Accuracy<N> {
    pub(super) every: usize,
    pub(super) net: N,
    pub(super) test: Arc<Dataset>,
    pub(super) rows: Vec<(usize, f64, f64)>,
    pub(super) keep_top3: bool,
    pub(super) top3: Vec<f64>,
}

impl<N: Network> Observer<NetTask<N>> for Accuracy<N> {
    fn observe(
        &mut self,
        _o: &NetTask<N>,
        r: &Round<'_, f32>,
        _s: &mut <NetTask<N> as Objective>::Scratch,
    ) {
        if r.t.is_multiple_of(self.every) || r.agg.is_none() {
            let e = self.net.evaluate_par(r.x, &self.test);
            self.rows.push((r.t, e.loss, e.top1));
            if self.keep_top3 {
                self.top3.push(e.top3);
            }
        }
    }
}

/// Theorem 4 quantities per round.
#[derive(Default)]
pub(super) struct Theorem4 {
    pub(super) l_every: usize,
    pub(super) grad: Vec<f32>,
    pub(super) v: Vec<f32>,
    pub(super) xp: Vec<f32>,
    pub(super) gp: Vec<f32>,
    pub(super) gm: Vec<f32>,
    pub(super) grad_sq: Vec<f64>,
    pub(super) value: Vec<f64>,
    pub(super) v_hat: Vec<f64>,
    pub(super) agg_err: Vec<f64>,
    pub(super) l_hat: Vec<(usize, f64)>,
}

impl Theorem4 {
    pub(super) fn new(d: usize, l_every: usize) -> Self {
        Self {
            l_every: l_every.max(1),
            grad: vec![0.0; d],
            v: vec![0.0; d],
            xp: vec![0.0; d],
            gp: vec![0.0; d],
            gm: vec![0.0; d],
            ..Default::default()
        }
    }
    /// Largest |eigenvalue| of the Hessian of F at x by 8 power iterations on central-difference
    /// Hessian-vector products (step 1e-2 / ||v|| in parameter space).
    fn estimate_l<O: Objective<T = f32>>(
        &mut self,
        o: &O,
        x: &[f32],
        s: &mut O::Scratch,
        t: usize,
    ) -> f64 {
        let d = x.len();
        let mut rng = stream(7, 11, t as u64);
        for v in self.v.iter_mut() {
            *v = rand_distr::Distribution::<f32>::sample(&rand_distr::StandardNormal, &mut rng);
        }
        let mut lambda = 0.0;
        for _ in 0..8 {
            let n: f64 = self
                .v
                .iter()
                .map(|v| f64::from(*v) * f64::from(*v))
                .sum::<f64>()
                .sqrt();
            if !(n > 0.0 && n.is_finite()) {
                return f64::NAN;
            }
            for v in self.v.iter_mut() {
                *v = (f64::from(*v) / n) as f32;
            }
            let h = 1e-2f32;
            for j in 0..d {
                self.xp[j] = x[j] + h * self.v[j];
            }
            o.full_grad(&self.xp, s, &mut self.gp);
            for j in 0..d {
                self.xp[j] = x[j] - h * self.v[j];
            }
            o.full_grad(&self.xp, s, &mut self.gm);
            let mut dot = 0.0;
            for j in 0..d {
                let hv = (self.gp[j] - self.gm[j]) / (2.0 * h);
                dot += f64::from(hv) * f64::from(self.v[j]);
                self.v[j] = hv;
            }
            lambda = dot.abs();
        }
        lambda
    }
}

impl<O: Objective<T = f32>> Observer<O> for Theorem4 {
    fn observe(&mut self, o: &O, r: &Round<'_, f32>, s: &mut O::Scratch) {
        o.full_grad(r.x, s, &mut self.grad);
        let g2: f64 = self.grad.iter().map(|g| f64::from(*g).powi(2)).sum();
        self.grad_sq.push(g2);
        self.value.push(o.value(r.x, s));
        if let (Some(agg), Some((recv, mask))) = (r.agg, r.received) {
            let e: f64 = agg
                .iter()
                .zip(&self.grad)
                .map(|(a, g)| (f64::from(*a) - f64::from(*g)).powi(2))
                .sum();
            self.agg_err.push(e);
            // V from the correct values of each coordinate (unbiased per-coordinate variance)
            let d = agg.len();
            let m = recv.len() / d;
            let mut v = 0.0;
            for j in 0..d {
                let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
                for i in 0..m {
                    if !mask[i * d + j] {
                        let x = f64::from(recv[i * d + j]);
                        n += 1.0;
                        let dl = x - mean;
                        mean += dl / n;
                        m2 += dl * (x - mean);
                    }
                }
                if n > 1.0 {
                    v += m2 / (n - 1.0);
                }
            }
            self.v_hat.push(v);
        }
        if r.t.is_multiple_of(self.l_every) {
            let l = self.estimate_l(o, r.x, s, r.t);
            self.l_hat.push((r.t, l));
        }
    }
}

//! Objectives for the SGD simulator: a trait with the value, the full gradient and a worker's
//! stochastic gradient, so one simulator serves the quadratic, the non-convex test function and
//! the MLP.

pub mod cnn;
pub mod double_well;
pub mod gemm;
#[cfg(target_arch = "x86_64")]
mod gemm_avx512;
pub mod mlp;
pub mod network;
pub mod quadratic;
pub mod task;

use crate::rng::Rng;
use crate::scalar::Scalar;

/// A differentiable objective F with stochastic worker gradients.
pub trait Objective: Sync {
    /// Storage type of the parameters and gradients.
    type T: Scalar;
    /// Per-worker (per-thread) scratch memory, created once, reused every round.
    type Scratch: Send;
    /// Data derived from the parameters once a round and read by every worker's gradient of
    /// that round (the MLP's transposed weight matrices); `()` for most objectives.
    type Round: Send + Sync + Default;
    /// Number of parameters d.
    fn dim(&self) -> usize;
    /// New scratch memory.
    fn new_scratch(&self) -> Self::Scratch;
    /// F(x) (exactly, or on a fixed evaluation set).
    fn value(&self, x: &[Self::T], s: &mut Self::Scratch) -> f64;
    /// The full gradient of F at x into `out`.
    fn full_grad(&self, x: &[Self::T], s: &mut Self::Scratch, out: &mut [Self::T]);
    /// One worker's stochastic gradient at x into `out` (unbiased for the full gradient).
    fn worker_grad(&self, x: &[Self::T], rng: &mut Rng, s: &mut Self::Scratch, out: &mut [Self::T]);
    /// Fills `round` from the parameters `x` of the round about to start (the simulator calls
    /// it once a round, before the workers' gradients).
    fn begin_round(&self, x: &[Self::T], round: &mut Self::Round) {
        let _ = (x, round);
    }
    /// Worker `worker`'s stochastic gradient: [`Objective::worker_grad`] unless the objective
    /// gives each worker its own data (a non-i.i.d. split) or reads `round`, which
    /// [`Objective::begin_round`] filled from this same `x` (a `round` made from other
    /// parameters gives a wrong gradient; a default one, the right one). With i.i.d. data, the
    /// same bits as [`Objective::worker_grad`] with the same stream.
    fn worker_grad_of(
        &self,
        worker: usize,
        x: &[Self::T],
        round: &Self::Round,
        rng: &mut Rng,
        s: &mut Self::Scratch,
        out: &mut [Self::T],
    ) {
        let _ = (worker, round);
        self.worker_grad(x, rng, s, out);
    }
    /// Known minimiser x*, if any.
    fn optimum(&self) -> Option<&[Self::T]> {
        None
    }
    /// Known minimum F*, if any.
    fn min_value(&self) -> Option<f64> {
        None
    }
    /// Smoothness constant L (global or on the region visited), if known.
    fn smoothness(&self) -> Option<f64> {
        None
    }
    /// Strong-convexity constant mu, if the objective is strongly convex.
    fn strong_convexity(&self) -> Option<f64> {
        None
    }
    /// Exact gradient-noise variance V = E||worker grad - full grad||^2, if known.
    fn noise_variance(&self) -> Option<f64> {
        None
    }
}

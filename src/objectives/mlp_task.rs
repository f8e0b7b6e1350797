//! The MLP as an [`Objective`] of the SGD simulator: a worker's gradient is the mean gradient of
//! a batch of training samples drawn i.i.d. with replacement; F and its full gradient are
//! evaluated on a fixed evaluation subset of the training set (the first `eval_size` samples of
//! a seeded permutation), which is what Theorem 4 is tracked on.

use super::mlp::{Mlp, MlpScratch};
use super::Objective;
use crate::rng::Rng;
use rand::seq::SliceRandom;

/// The MLP training task.
pub struct MlpTask {
    /// The network and its training set.
    pub mlp: Mlp,
    /// Per-worker batch size.
    pub batch: usize,
    eval_idx: Vec<usize>,
    /// Each worker's sample indices (a non-i.i.d. split), or `None`: every worker draws from
    /// the whole training set.
    parts: Option<Vec<Vec<usize>>>,
}

/// Per-worker scratch: network buffers, batch indices and a gradient buffer.
pub struct TaskScratch {
    /// Network buffers.
    pub net: MlpScratch,
    idx: Vec<usize>,
    grad: Vec<f32>,
}

impl MlpTask {
    /// A task with batch size `batch` and an evaluation subset of `eval_size` training samples.
    pub fn new(mlp: Mlp, batch: usize, eval_size: usize, rng: &mut Rng) -> Self {
        let n = mlp.train().n;
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(rng);
        idx.truncate(eval_size.clamp(1, n));
        Self {
            mlp,
            batch,
            eval_idx: idx,
            parts: None,
        }
    }

    /// The same task with worker i drawing its batches from `parts[i]` only (with
    /// replacement; [`crate::data::split`]). Every part must be non-empty and index the
    /// training set.
    pub fn with_parts(mut self, parts: Vec<Vec<usize>>) -> Self {
        debug_assert!(parts
            .iter()
            .all(|p| !p.is_empty() && p.iter().all(|&i| i < self.mlp.train().n)));
        self.parts = Some(parts);
        self
    }
}

impl Objective for MlpTask {
    type T = f32;
    type Scratch = TaskScratch;
    fn dim(&self) -> usize {
        self.mlp.dim()
    }
    fn new_scratch(&self) -> TaskScratch {
        TaskScratch {
            net: self.mlp.new_scratch(self.batch.clamp(1, 256)),
            idx: vec![0; self.batch],
            grad: vec![0.0; self.mlp.dim()],
        }
    }
    fn value(&self, x: &[f32], s: &mut TaskScratch) -> f64 {
        self.mlp
            .batch_grad_into(x, &self.eval_idx, &mut s.net, &mut s.grad)
    }
    fn full_grad(&self, x: &[f32], s: &mut TaskScratch, out: &mut [f32]) {
        self.mlp.batch_grad_into(x, &self.eval_idx, &mut s.net, out);
    }
    fn worker_grad(&self, x: &[f32], rng: &mut Rng, s: &mut TaskScratch, out: &mut [f32]) {
        self.mlp.sample_batch(rng, self.batch, &mut s.idx);
        self.mlp.batch_grad_into(x, &s.idx, &mut s.net, out);
    }
    fn worker_grad_of(
        &self,
        worker: usize,
        x: &[f32],
        rng: &mut Rng,
        s: &mut TaskScratch,
        out: &mut [f32],
    ) {
        match self.parts.as_ref().and_then(|p| p.get(worker)) {
            Some(part) if !part.is_empty() => {
                for v in s.idx.iter_mut() {
                    *v = part[rand::Rng::random_range(rng, 0..part.len())];
                }
                self.mlp.batch_grad_into(x, &s.idx, &mut s.net, out);
            }
            _ => self.worker_grad(x, rng, s, out),
        }
    }
    fn min_value(&self) -> Option<f64> {
        // cross-entropy is non-negative: F* >= 0 (used as a lower bound, not the true minimum)
        Some(0.0)
    }
}

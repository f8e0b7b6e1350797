//! A classifier network (the MLP or the CNN) as an [`Objective`] of the SGD simulator: a
//! worker's gradient is the mean gradient of a batch of training samples drawn i.i.d. with
//! replacement, with dropout masks (the CNN's) drawn from the worker's stream after the batch;
//! F and its full gradient are evaluated without dropout on a fixed evaluation subset of the
//! training set (the first `eval_size` samples of a seeded permutation), which is what
//! Theorem 4 is tracked on. With dropout, a worker's gradient is unbiased for the gradient of
//! the dropout-averaged loss, not of F; the CNN's Theorem 4 figures say so.

use super::network::Network;
use super::Objective;
use crate::rng::Rng;
use rand::seq::SliceRandom;

/// A network's training task.
pub struct NetTask<N: Network> {
    /// The network and its training set.
    pub net: N,
    /// Per-worker batch size.
    pub batch: usize,
    eval_idx: Vec<usize>,
    /// Each worker's sample indices (a non-i.i.d. split), or `None`: every worker draws from
    /// the whole training set.
    parts: Option<Vec<Vec<usize>>>,
}

/// Per-worker scratch: network buffers, batch indices and a gradient buffer.
pub struct TaskScratch<S> {
    /// Network buffers.
    pub net: S,
    idx: Vec<usize>,
    grad: Vec<f32>,
}

impl<N: Network> NetTask<N> {
    /// A task with batch size `batch` and an evaluation subset of `eval_size` training samples.
    pub fn new(net: N, batch: usize, eval_size: usize, rng: &mut Rng) -> Self {
        let n = net.train().n;
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(rng);
        idx.truncate(eval_size.clamp(1, n));
        Self {
            net,
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
            .all(|p| !p.is_empty() && p.iter().all(|&i| i < self.net.train().n)));
        self.parts = Some(parts);
        self
    }
}

impl<N: Network> NetTask<N> {
    /// A batch drawn i.i.d. with replacement into `idx`: from `part` when it is given and not
    /// empty (a worker's share of a non-i.i.d. split), else from the whole training set.
    fn draw_batch(&self, part: Option<&[usize]>, rng: &mut Rng, idx: &mut [usize]) {
        match part {
            Some(part) if !part.is_empty() => {
                for v in idx.iter_mut() {
                    *v = part[rand::Rng::random_range(rng, 0..part.len())];
                }
            }
            _ => {
                let n = self.net.train().n;
                for v in idx.iter_mut() {
                    *v = rand::Rng::random_range(rng, 0..n);
                }
            }
        }
    }
}

impl<N: Network> Objective for NetTask<N> {
    type T = f32;
    type Scratch = TaskScratch<N::Scratch>;
    type Round = N::Prepared;
    fn dim(&self) -> usize {
        self.net.dim()
    }
    fn new_scratch(&self) -> Self::Scratch {
        TaskScratch {
            net: self
                .net
                .new_scratch(self.batch.clamp(1, self.net.scratch_batch())),
            idx: vec![0; self.batch],
            grad: vec![0.0; self.net.dim()],
        }
    }
    fn value(&self, x: &[f32], s: &mut Self::Scratch) -> f64 {
        self.net
            .batch_grad(x, &self.eval_idx, None, &mut s.net, &mut s.grad)
    }
    fn full_grad(&self, x: &[f32], s: &mut Self::Scratch, out: &mut [f32]) {
        self.net
            .batch_grad(x, &self.eval_idx, None, &mut s.net, out);
    }
    fn worker_grad(&self, x: &[f32], rng: &mut Rng, s: &mut Self::Scratch, out: &mut [f32]) {
        self.draw_batch(None, rng, &mut s.idx);
        self.net.batch_grad(x, &s.idx, Some(rng), &mut s.net, out);
    }
    fn begin_round(&self, x: &[f32], round: &mut N::Prepared) {
        self.net.prepare(x, round);
    }
    fn worker_grad_of(
        &self,
        worker: usize,
        x: &[f32],
        round: &N::Prepared,
        rng: &mut Rng,
        s: &mut Self::Scratch,
        out: &mut [f32],
    ) {
        let part = self.parts.as_ref().and_then(|p| p.get(worker));
        self.draw_batch(part.map(Vec::as_slice), rng, &mut s.idx);
        self.net
            .batch_grad_prepared(x, round, &s.idx, Some(rng), &mut s.net, out);
    }
    fn min_value(&self) -> Option<f64> {
        // cross-entropy is non-negative: F* >= 0 (used as a lower bound, not the true minimum)
        Some(0.0)
    }
}

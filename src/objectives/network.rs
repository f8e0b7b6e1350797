//! What the training loop needs of a classifier network (the MLP of Table 2 and the CNN of
//! Table 3): its parameter count and initialisation, a mini-batch gradient into a caller-owned
//! buffer, and an evaluation (loss, top-1 and top-3 accuracy) on a data set.

use crate::data::Dataset;
use crate::rng::Rng;

/// Mean loss and accuracies of a network on a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    /// Mean softmax cross-entropy.
    pub loss: f64,
    /// Share of samples whose label has the largest logit (first index on ties).
    pub top1: f64,
    /// Share of samples whose label is among the three largest logits (ties broken by index,
    /// as for top-1); the paper's metric for the CNN (Table 1).
    pub top3: f64,
}

impl Eval {
    /// The value of an empty data set: every field NaN.
    pub const EMPTY: Eval = Eval {
        loss: f64::NAN,
        top1: f64::NAN,
        top3: f64::NAN,
    };
}

/// Summed loss and counts of correct top-1 and top-3 predictions over some samples.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvalSum {
    /// Summed loss.
    pub loss: f64,
    /// Correct top-1 predictions.
    pub top1: usize,
    /// Correct top-3 predictions.
    pub top3: usize,
}

impl EvalSum {
    /// Adds another partial sum.
    pub fn plus(self, o: EvalSum) -> EvalSum {
        EvalSum {
            loss: self.loss + o.loss,
            top1: self.top1 + o.top1,
            top3: self.top3 + o.top3,
        }
    }
    /// Means over `n` samples (NaN for none).
    pub fn mean(self, n: usize) -> Eval {
        if n == 0 {
            return Eval::EMPTY;
        }
        let n = n as f64;
        Eval {
            loss: self.loss / n,
            top1: self.top1 as f64 / n,
            top3: self.top3 as f64 / n,
        }
    }
    /// Scores one row of logits against label `y`: top-1 by the first maximal index (a NaN
    /// logit never wins), top-3 by the label's rank (the number of logits above it, or equal
    /// at a lower index) below 3. A NaN logit for the label is wrong for both.
    pub fn score(&mut self, row: &[f32], y: usize) {
        let mut best = 0;
        for j in 1..row.len() {
            if row[j] > row[best] {
                best = j;
            }
        }
        let ok = !row[y].is_nan();
        if best == y && ok {
            self.top1 += 1;
        }
        let rank = (0..row.len())
            .filter(|&j| row[j] > row[y] || (row[j] == row[y] && j < y))
            .count();
        if rank < 3 && ok {
            self.top3 += 1;
        }
    }
}

/// A data set's pixel and label counts agree with `n`, and its labels are classes (0..=9):
/// the checks both networks make (`what` names the set in the error).
pub fn check_consistent(d: &Dataset, what: &str) -> Result<(), crate::error::Error> {
    if d.images.len() != d.n * d.pixels() || d.labels.len() != d.n {
        return Err(crate::error::Error::Data(format!(
            "the {what} is inconsistent: n = {} but {} pixels and {} labels",
            d.n,
            d.images.len(),
            d.labels.len()
        )));
    }
    if let Some(&l) = d.labels.iter().find(|&&l| l >= 10) {
        return Err(crate::error::Error::Data(format!(
            "the {what} has label {l}: labels must be 0..=9"
        )));
    }
    Ok(())
}

/// Cross-entropy of one row of logits against `label`: `logsumexp(z) - z[label]`. With
/// `probs`, `z` is overwritten by the softmax probabilities.
pub fn row_loss(z: &mut [f32], label: usize, probs: bool) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for &v in z.iter() {
        sum += (v - max).exp();
    }
    let loss = sum.ln() + max - z[label];
    if probs {
        let inv = 1.0 / sum;
        for v in z.iter_mut() {
            *v = (*v - max).exp() * inv;
        }
    }
    loss
}

/// A classifier network bound to its training set. `Send + Sync`: threads share one network
/// and each uses its own scratch.
pub trait Network: Clone + Send + Sync {
    /// Activation and gradient buffers of one thread.
    type Scratch: Send;
    /// What [`Network::prepare`] derives from the parameters for every gradient of a round.
    type Prepared: Send + Sync + Default;
    /// The network's name in outputs (`mlp`, `cnn`).
    fn name(&self) -> &'static str;
    /// The training set.
    fn train(&self) -> &Dataset;
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// Initial parameters drawn from `rng` (layout order).
    fn init_params(&self, rng: &mut Rng) -> Vec<f32>;
    /// The largest batch a scratch should hold; larger batches are processed in chunks.
    fn scratch_batch(&self) -> usize;
    /// Buffers for batches of up to `max_batch` samples.
    fn new_scratch(&self, max_batch: usize) -> Self::Scratch;
    /// Mean loss over the training samples `idx` with its gradient in `grad`. With `dropout`,
    /// the network's dropout layers (if any) draw their masks from it (training mode);
    /// without, they pass values through (evaluation mode).
    fn batch_grad(
        &self,
        params: &[f32],
        idx: &[usize],
        dropout: Option<&mut Rng>,
        s: &mut Self::Scratch,
        grad: &mut [f32],
    ) -> f64;
    /// Fills `out` from `params` once a round, for [`Network::batch_grad_prepared`].
    fn prepare(&self, params: &[f32], out: &mut Self::Prepared) {
        let _ = (params, out);
    }
    /// [`Network::batch_grad`], reading `prepared`, which [`Network::prepare`] filled from
    /// these `params` (or left at its default): the same bits.
    fn batch_grad_prepared(
        &self,
        params: &[f32],
        prepared: &Self::Prepared,
        idx: &[usize],
        dropout: Option<&mut Rng>,
        s: &mut Self::Scratch,
        grad: &mut [f32],
    ) -> f64 {
        let _ = prepared;
        self.batch_grad(params, idx, dropout, s, grad)
    }
    /// Loss and accuracies on `data` (evaluation mode), the same for any thread count.
    fn evaluate_par(&self, params: &[f32], data: &Dataset) -> Eval;
}

/// Which network a training run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// The MLP of Table 2 (1 x 28 x 28 inputs only).
    #[default]
    Mlp,
    /// The CNN of Table 3 (any `C x H x W` input with H, W >= 4).
    Cnn,
}

impl Model {
    /// Whether this is the default (the MLP): configs and keys omit it then.
    pub fn is_mlp(&self) -> bool {
        *self == Model::Mlp
    }
    /// The name in configs, flags and outputs.
    pub fn name(self) -> &'static str {
        match self {
            Model::Mlp => "mlp",
            Model::Cnn => "cnn",
        }
    }
    /// Parameters, activations per sample kept by a batch, and forward multiply-adds per
    /// sample, for `c x h x w` inputs (the budget check's estimate).
    pub fn size(self, c: usize, h: usize, w: usize) -> (usize, usize, usize) {
        match self {
            Model::Mlp => {
                use super::mlp::{CLASSES, HIDDEN, INPUT, PARAM_DIM};
                (PARAM_DIM, INPUT + 2 * HIDDEN + CLASSES, PARAM_DIM)
            }
            Model::Cnn => {
                let l = super::cnn::Layout::new(c, h, w);
                let px = l.s0.px();
                // conv1/2 outputs and their gradients (4 C1 px), the rest (pools, conv3/4,
                // masks: under 3 C1 px); the im2col block, a few images, is at most
                // 9 max(c, C1) px a sample, so 16 C1 px values a sample stays an upper bound
                (l.dim(), 16 * super::cnn::C1 * px, l.macs_per_sample())
            }
        }
    }
}

impl std::str::FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mlp" => Ok(Model::Mlp),
            "cnn" => Ok(Model::Cnn),
            _ => Err(format!(
                "unknown model '{s}': use mlp (Table 2) or cnn (Table 3)"
            )),
        }
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

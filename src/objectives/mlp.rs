//! The MLP of the paper's Table 2: `784 -> fc1(128) -> ReLU -> fc2(128) -> ReLU -> fc3(10) ->
//! softmax`, trained with the softmax cross-entropy loss, `f32` parameters.
//!
//! # Parameter layout
//!
//! All parameters live in one flat vector of [`PARAM_DIM`] = 118282 `f32`s, layer after layer,
//! each weight matrix row-major with one row per output unit (the `out x in` convention of
//! MXNet's and PyTorch's fully connected layers), followed by its bias:
//!
//! | block | shape | offset | length |
//! | --- | --- | --- | --- |
//! | `W1` | 128 x 784 | [`W1_OFFSET`] = 0 | 100352 |
//! | `b1` | 128 | [`B1_OFFSET`] = 100352 | 128 |
//! | `W2` | 128 x 128 | [`W2_OFFSET`] = 100480 | 16384 |
//! | `b2` | 128 | [`B2_OFFSET`] = 116864 | 128 |
//! | `W3` | 10 x 128 | [`W3_OFFSET`] = 116992 | 1280 |
//! | `b3` | 10 | [`B3_OFFSET`] = 118272 | 10 |
//!
//! `W1[j][i]` (weight from input pixel `i` to hidden unit `j`) is `params[W1_OFFSET + j * 784 + i]`.
//! Gradients use the same layout.
//!
//! # Computation
//!
//! A mini-batch of `B` samples is processed with real matrix products (nalgebra's `gemm`, which
//! calls `matrixmultiply::sgemm` on strided views of the flat buffers, so transposes cost
//! nothing; on AVX-512 CPUs, with the stored transposes of [`MlpPrepared`], every product
//! but `H2 W3^T` runs without packing, with the same bits, unless a chunk of the batch has 5
//! rows or fewer: [`super::gemm`]): with `X` the `B x 784` batch,
//!
//! * forward: `H1 = relu(X W1^T + b1)`, `H2 = relu(H1 W2^T + b2)`, `Z = H2 W3^T + b3`
//!   (bias and ReLU fused in one pass after each product);
//! * loss: mean over the batch of `logsumexp(z) - z_y`;
//! * backward: `dZ = (softmax(Z) - onehot(y)) / B`, `gW3 = dZ^T H2`, `gb3 = colsum(dZ)`,
//!   `dH2 = (dZ W3) .* [H2 > 0]`, `gW2 = dH2^T H1`, `gb2 = colsum(dH2)`,
//!   `dH1 = (dH2 W2) .* [H1 > 0]`, `gW1 = dH1^T X`, `gb1 = colsum(dH1)`.
//!
//! All buffers live in an [`MlpScratch`] created once per thread with a maximum batch size;
//! larger batches are processed in chunks of that size (accumulating the gradient with
//! `beta = 1` in the GEMMs), so a call does not allocate (matrixmultiply, where it runs,
//! allocates its packing buffer inside each `sgemm` call).
//!
//! The computation is deterministic: the same parameters and indices give bit-identical loss
//! and gradient, whichever thread runs it.

use super::gemm::{gemm, Op};
use super::network::{row_loss, Eval, EvalSum, Network};
use crate::data::Dataset;
use crate::error::Error;
use std::sync::Arc;

/// Input size (28 x 28 pixels).
pub const INPUT: usize = 784;
/// Width of both hidden layers (fc1 and fc2).
pub const HIDDEN: usize = 128;
/// Number of classes (fc3 outputs).
pub const CLASSES: usize = 10;

/// Offset of `W1` (128 x 784, row-major) in the parameter vector.
pub const W1_OFFSET: usize = 0;
/// Offset of `b1` (128).
pub const B1_OFFSET: usize = W1_OFFSET + HIDDEN * INPUT;
/// Offset of `W2` (128 x 128, row-major).
pub const W2_OFFSET: usize = B1_OFFSET + HIDDEN;
/// Offset of `b2` (128).
pub const B2_OFFSET: usize = W2_OFFSET + HIDDEN * HIDDEN;
/// Offset of `W3` (10 x 128, row-major).
pub const W3_OFFSET: usize = B2_OFFSET + HIDDEN;
/// Offset of `b3` (10).
pub const B3_OFFSET: usize = W3_OFFSET + CLASSES * HIDDEN;
/// Number of parameters: 784*128 + 128 + 128*128 + 128 + 128*10 + 10 = 118282.
pub const PARAM_DIM: usize = B3_OFFSET + CLASSES;

const _: () = assert!(PARAM_DIM == 118_282);

/// The Table 2 MLP bound to a training set. It is `Send + Sync`: threads share one `Mlp` and
/// each uses its own [`MlpScratch`].
#[derive(Debug, Clone)]
pub struct Mlp {
    train: Arc<Dataset>,
}

/// Activation and gradient buffers for one thread, sized for a maximum batch.
#[derive(Debug, Clone)]
pub struct MlpScratch {
    max_batch: usize,
    /// Gathered inputs, `max_batch x 784`.
    x: Vec<f32>,
    /// Post-ReLU activations of fc1, `max_batch x 128`.
    h1: Vec<f32>,
    /// Post-ReLU activations of fc2, `max_batch x 128`.
    h2: Vec<f32>,
    /// Logits, then `dZ`, `max_batch x 10`.
    z: Vec<f32>,
    /// `dH1`, `max_batch x 128`.
    d1: Vec<f32>,
    /// `dH2`, `max_batch x 128`.
    d2: Vec<f32>,
}

impl MlpScratch {
    /// The largest batch processed in one pass (larger batches are chunked).
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }
}

/// The six parameter blocks of a flat vector.
struct Blocks<T> {
    w1: T,
    b1: T,
    w2: T,
    b2: T,
    w3: T,
    b3: T,
}

fn blocks(p: &[f32]) -> Blocks<&[f32]> {
    let (w1, r) = p.split_at(B1_OFFSET);
    let (b1, r) = r.split_at(HIDDEN);
    let (w2, r) = r.split_at(HIDDEN * HIDDEN);
    let (b2, r) = r.split_at(HIDDEN);
    let (w3, b3) = r.split_at(CLASSES * HIDDEN);
    Blocks {
        w1,
        b1,
        w2,
        b2,
        w3,
        b3,
    }
}

fn blocks_mut(p: &mut [f32]) -> Blocks<&mut [f32]> {
    let (w1, r) = p.split_at_mut(B1_OFFSET);
    let (b1, r) = r.split_at_mut(HIDDEN);
    let (w2, r) = r.split_at_mut(HIDDEN * HIDDEN);
    let (b2, r) = r.split_at_mut(HIDDEN);
    let (w3, b3) = r.split_at_mut(CLASSES * HIDDEN);
    Blocks {
        w1,
        b1,
        w2,
        b2,
        w3,
        b3,
    }
}

/// `out = relu(out + bias)` row by row (`out` is `rows x bias.len()`).
fn bias_relu(out: &mut [f32], bias: &[f32]) {
    for row in out.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v = (*v + b).max(0.0);
        }
    }
}

/// The transposes of the two large weight matrices, W1^T (784 x 128) and W2^T (128 x 128),
/// made once a round ([`Mlp::prepare`]) and shared by every worker's gradient.
///
/// A product by `W^T` made `matrixmultiply` pack `W` column by column inside every `sgemm`
/// call, a strided read of the whole matrix; from the stored transpose the packing reads rows
/// (the same values, so the same bits). On the 2-core AMD EPYC VM of 2026-12-07 (`cargo bench
/// --bench networks -- worker_gradient/mlp`), a gradient of batch 32 took about 130 us with
/// the packing of W1^T in it and about 106 us without. On AVX-512 CPUs the products by the
/// stored transposes now skip the packing altogether ([`super::gemm`]).
#[derive(Clone, Debug, Default)]
pub struct MlpPrepared {
    /// W1^T, `784 x 128` (empty: not prepared).
    w1t: Vec<f32>,
    /// W2^T, `128 x 128`.
    w2t: Vec<f32>,
}

/// `out = a^T` for `a` of `rows x cols` (row-major), by bands of 16 rows of `out` (16 columns
/// of `a`) in parallel on the rayon pool (the simulator's thread waits for it every round).
fn transpose(a: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    use rayon::prelude::*;
    const T: usize = 16;
    if rows == 0 || cols == 0 {
        return;
    }
    out[..rows * cols]
        .par_chunks_mut(T * rows)
        .enumerate()
        .for_each(|(band, o)| {
            let j0 = band * T;
            let j1 = (j0 + T).min(cols);
            for i in 0..rows {
                for j in j0..j1 {
                    o[(j - j0) * rows + i] = a[i * cols + j];
                }
            }
        });
}

/// Forward pass of `b` rows of `x` into `h1`, `h2` and the logits `z`, reading the stored
/// transposes when `t` holds them.
fn forward(
    p: &Blocks<&[f32]>,
    t: Option<&MlpPrepared>,
    x: &[f32],
    b: usize,
    (h1, h2, z): (&mut [f32], &mut [f32], &mut [f32]),
) {
    let (h1, h2, z) = (
        &mut h1[..b * HIDDEN],
        &mut h2[..b * HIDDEN],
        &mut z[..b * CLASSES],
    );
    let (w1, w2) = match t {
        Some(t) if !t.w1t.is_empty() => ((&t.w1t[..], Op::N), (&t.w2t[..], Op::N)),
        _ => ((p.w1, Op::T), (p.w2, Op::T)),
    };
    gemm(b, HIDDEN, INPUT, 1.0, x, Op::N, w1.0, w1.1, 0.0, h1);
    bias_relu(h1, p.b1);
    gemm(b, HIDDEN, HIDDEN, 1.0, h1, Op::N, w2.0, w2.1, 0.0, h2);
    bias_relu(h2, p.b2);
    gemm(b, CLASSES, HIDDEN, 1.0, h2, Op::N, p.w3, Op::T, 0.0, z);
    for row in z.chunks_exact_mut(CLASSES) {
        for (v, &bb) in row.iter_mut().zip(p.b3) {
            *v += bb;
        }
    }
}

/// `d .*= [h > 0]` row by row, adding the column sums of the masked `d` to `gb`.
fn relu_mask_colsum(d: &mut [f32], h: &[f32], gb: &mut [f32]) {
    let w = gb.len();
    for (drow, hrow) in d.chunks_exact_mut(w).zip(h.chunks_exact(w)) {
        for ((dv, &hv), g) in drow.iter_mut().zip(hrow).zip(gb.iter_mut()) {
            if hv <= 0.0 {
                *dv = 0.0;
            }
            *g += *dv;
        }
    }
}

impl Mlp {
    /// Binds the MLP to a training set of 28x28 (784-pixel) images with labels in `0..10`.
    pub fn new(train: Arc<Dataset>) -> Result<Self, Error> {
        check_dataset(&train, "training set")?;
        if train.n == 0 {
            return Err(Error::Data(
                "the training set is empty: the MLP needs at least one sample".into(),
            ));
        }
        Ok(Mlp { train })
    }

    /// The training set.
    pub fn train(&self) -> &Dataset {
        &self.train
    }

    /// Number of parameters, [`PARAM_DIM`] = 118282.
    pub fn dim(&self) -> usize {
        PARAM_DIM
    }

    /// Glorot (Xavier) uniform initialisation, as MXNet's `Xavier()` default: each weight of a
    /// layer with `fan_in` inputs and `fan_out` outputs is drawn from `U(-a, a)` with
    /// `a = sqrt(6 / (fan_in + fan_out))`; biases are 0. Values are drawn in layout order, so
    /// the result depends only on the generator's state.
    pub fn init_params(&self, rng: &mut impl rand::Rng) -> Vec<f32> {
        let mut p = vec![0.0f32; PARAM_DIM];
        let bl = blocks_mut(&mut p);
        for (w, fan_in, fan_out) in [
            (bl.w1, INPUT, HIDDEN),
            (bl.w2, HIDDEN, HIDDEN),
            (bl.w3, HIDDEN, CLASSES),
        ] {
            let a = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
            for v in w.iter_mut() {
                *v = a * (2.0 * rng.random::<f32>() - 1.0);
            }
        }
        p
    }

    /// Buffers for batches of up to `max_batch` samples (at least 1).
    pub fn new_scratch(&self, max_batch: usize) -> MlpScratch {
        let mb = max_batch.max(1);
        MlpScratch {
            max_batch: mb,
            x: vec![0.0; mb * INPUT],
            h1: vec![0.0; mb * HIDDEN],
            h2: vec![0.0; mb * HIDDEN],
            z: vec![0.0; mb * CLASSES],
            d1: vec![0.0; mb * HIDDEN],
            d2: vec![0.0; mb * HIDDEN],
        }
    }

    /// Mean softmax cross-entropy over the training samples `idx` (duplicates allowed), with
    /// its gradient (same layout as the parameters) written to `grad_out`. Batches larger than
    /// the scratch's `max_batch` are processed in chunks.
    ///
    /// Panics if `idx` is empty, an index is out of range, or `params` / `grad_out` do not
    /// have [`PARAM_DIM`] entries.
    pub fn batch_grad_into(
        &self,
        params: &[f32],
        idx: &[usize],
        scratch: &mut MlpScratch,
        grad_out: &mut [f32],
    ) -> f64 {
        self.batch_grad_with(params, None, idx, scratch, grad_out)
    }

    /// [`Mlp::prepare`] into a new value.
    fn prepared(&self, params: &[f32]) -> MlpPrepared {
        let mut t = MlpPrepared::default();
        self.prepare(params, &mut t);
        t
    }

    /// The stored transposes of `params`' weight matrices (see [`MlpPrepared`]).
    pub fn prepare(&self, params: &[f32], out: &mut MlpPrepared) {
        assert_eq!(
            params.len(),
            PARAM_DIM,
            "params must have {PARAM_DIM} entries"
        );
        let p = blocks(params);
        out.w1t.resize(INPUT * HIDDEN, 0.0);
        out.w2t.resize(HIDDEN * HIDDEN, 0.0);
        transpose(p.w1, HIDDEN, INPUT, &mut out.w1t);
        transpose(p.w2, HIDDEN, HIDDEN, &mut out.w2t);
    }

    /// [`Mlp::batch_grad_into`] reading the transposes `prepared` holds, which
    /// [`Mlp::prepare`] made from these `params` (`None`, or a default `MlpPrepared`: the
    /// products read `params` itself). The same bits either way.
    pub fn batch_grad_with(
        &self,
        params: &[f32],
        prepared: Option<&MlpPrepared>,
        idx: &[usize],
        scratch: &mut MlpScratch,
        grad_out: &mut [f32],
    ) -> f64 {
        assert_eq!(
            params.len(),
            PARAM_DIM,
            "params must have {PARAM_DIM} entries"
        );
        assert_eq!(
            grad_out.len(),
            PARAM_DIM,
            "grad_out must have {PARAM_DIM} entries"
        );
        assert!(!idx.is_empty(), "batch_grad_into needs at least one sample");
        let p = blocks(params);
        let g = blocks_mut(grad_out);
        for gb in [&mut *g.b1, &mut *g.b2, &mut *g.b3] {
            gb.fill(0.0);
        }
        let train = &*self.train;
        let scale = 1.0 / idx.len() as f32;
        let mut loss = 0.0f64;
        let s = scratch;
        for (ci, chunk) in idx.chunks(s.max_batch).enumerate() {
            let b = chunk.len();
            let beta = if ci == 0 { 0.0 } else { 1.0 };
            for (dst, &i) in s.x.chunks_exact_mut(INPUT).zip(chunk) {
                assert!(
                    i < train.n,
                    "sample index {i} out of range (n = {})",
                    train.n
                );
                dst.copy_from_slice(train.image(i));
            }
            let x = &s.x[..b * INPUT];
            forward(&p, prepared, x, b, (&mut s.h1, &mut s.h2, &mut s.z));
            let (h1, h2) = (&s.h1[..b * HIDDEN], &s.h2[..b * HIDDEN]);
            let (d1, d2) = (&mut s.d1[..b * HIDDEN], &mut s.d2[..b * HIDDEN]);
            let z = &mut s.z[..b * CLASSES];
            // Softmax cross-entropy; z becomes dZ = (softmax - onehot) / N.
            for (row, &i) in z.chunks_exact_mut(CLASSES).zip(chunk) {
                let y = usize::from(train.labels[i]);
                loss += f64::from(row_loss(row, y, true));
                row[y] -= 1.0;
                for v in row.iter_mut() {
                    *v *= scale;
                }
            }
            // fc3.
            gemm(CLASSES, HIDDEN, b, 1.0, z, Op::T, h2, Op::N, beta, g.w3);
            for row in z.chunks_exact(CLASSES) {
                for (gv, &d) in g.b3.iter_mut().zip(row) {
                    *gv += d;
                }
            }
            gemm(b, HIDDEN, CLASSES, 1.0, z, Op::N, p.w3, Op::N, 0.0, d2);
            relu_mask_colsum(d2, h2, g.b2);
            // fc2.
            gemm(HIDDEN, HIDDEN, b, 1.0, d2, Op::T, h1, Op::N, beta, g.w2);
            gemm(b, HIDDEN, HIDDEN, 1.0, d2, Op::N, p.w2, Op::N, 0.0, d1);
            relu_mask_colsum(d1, h1, g.b1);
            // fc1.
            gemm(HIDDEN, INPUT, b, 1.0, d1, Op::T, x, Op::N, beta, g.w1);
        }
        loss / idx.len() as f64
    }

    /// Fills `idx_out` with indices drawn i.i.d. uniformly, with replacement, from the training
    /// set. `batch` must equal `idx_out.len()` (it is checked).
    pub fn sample_batch(&self, rng: &mut impl rand::Rng, batch: usize, idx_out: &mut [usize]) {
        assert_eq!(
            batch,
            idx_out.len(),
            "sample_batch: batch must equal idx_out.len()"
        );
        let n = self.train.n;
        for v in idx_out.iter_mut() {
            *v = rng.random_range(0..n);
        }
    }

    /// Mean loss, top-1 and top-3 accuracy of `params` on `data` (e.g. the test set),
    /// processed in chunks of the scratch's `max_batch`. Every field is NaN for an empty set; a
    /// sample whose logits are NaN counts as wrong.
    ///
    /// Panics if `data` does not hold 784-pixel images or `params` has the wrong length.
    pub fn evaluate(&self, params: &[f32], data: &Dataset, scratch: &mut MlpScratch) -> Eval {
        if !check_eval_args(params, data) {
            return Eval::EMPTY;
        }
        let p = blocks(params);
        let t = self.prepared(params);
        let mb = scratch.max_batch;
        let mut sum = EvalSum::default();
        for start in (0..data.n).step_by(mb) {
            let b = mb.min(data.n - start);
            sum = sum.plus(eval_range((&p, &t), data, start, b, scratch));
        }
        sum.mean(data.n)
    }

    /// [`Mlp::evaluate`] in parallel: blocks of [`EVAL_BLOCK`] samples on the rayon pool, their
    /// sums added in block order, so the result does not depend on the thread count. Each
    /// rayon task allocates one scratch (a few hundred KB) per call.
    pub fn evaluate_par(&self, params: &[f32], data: &Dataset) -> Eval {
        use rayon::prelude::*;
        if !check_eval_args(params, data) {
            return Eval::EMPTY;
        }
        let p = blocks(params);
        // the transposes once for all blocks (each block's products would pack W1^T again)
        let t = self.prepared(params);
        let parts: Vec<EvalSum> = (0..data.n.div_ceil(EVAL_BLOCK))
            .into_par_iter()
            .map_init(
                || self.new_scratch(EVAL_BLOCK),
                |s, k| {
                    let start = k * EVAL_BLOCK;
                    eval_range((&p, &t), data, start, EVAL_BLOCK.min(data.n - start), s)
                },
            )
            .collect();
        parts
            .into_iter()
            .fold(EvalSum::default(), EvalSum::plus)
            .mean(data.n)
    }
}

impl Network for Mlp {
    type Scratch = MlpScratch;
    type Prepared = MlpPrepared;
    fn name(&self) -> &'static str {
        "mlp"
    }
    fn train(&self) -> &Dataset {
        &self.train
    }
    fn dim(&self) -> usize {
        PARAM_DIM
    }
    fn init_params(&self, rng: &mut crate::rng::Rng) -> Vec<f32> {
        Mlp::init_params(self, rng)
    }
    fn scratch_batch(&self) -> usize {
        256
    }
    fn new_scratch(&self, max_batch: usize) -> MlpScratch {
        Mlp::new_scratch(self, max_batch)
    }
    /// The MLP has no dropout: `dropout` is not drawn from.
    fn batch_grad(
        &self,
        params: &[f32],
        idx: &[usize],
        _dropout: Option<&mut crate::rng::Rng>,
        s: &mut MlpScratch,
        grad: &mut [f32],
    ) -> f64 {
        self.batch_grad_into(params, idx, s, grad)
    }
    fn prepare(&self, params: &[f32], out: &mut MlpPrepared) {
        Mlp::prepare(self, params, out)
    }
    /// As [`Network::batch_grad`] (no dropout), with the stored transposes.
    fn batch_grad_prepared(
        &self,
        params: &[f32],
        prepared: &MlpPrepared,
        idx: &[usize],
        _dropout: Option<&mut crate::rng::Rng>,
        s: &mut MlpScratch,
        grad: &mut [f32],
    ) -> f64 {
        self.batch_grad_with(params, Some(prepared), idx, s, grad)
    }
    fn evaluate_par(&self, params: &[f32], data: &Dataset) -> Eval {
        Mlp::evaluate_par(self, params, data)
    }
}

/// The preconditions of [`Mlp::evaluate`] (panics on a programming error); false for an
/// empty set.
fn check_eval_args(params: &[f32], data: &Dataset) -> bool {
    assert_eq!(
        params.len(),
        PARAM_DIM,
        "params must have {PARAM_DIM} entries"
    );
    if let Err(e) = check_dataset(data, "evaluation set") {
        panic!("{e}");
    }
    data.n > 0
}

/// Samples per task of [`Mlp::evaluate_par`].
pub const EVAL_BLOCK: usize = 256;

/// Summed loss and numbers of correct top-1 and top-3 predictions of samples
/// `start..start + b` (`b <= s.max_batch`).
fn eval_range(
    (p, t): (&Blocks<&[f32]>, &MlpPrepared),
    data: &Dataset,
    start: usize,
    b: usize,
    s: &mut MlpScratch,
) -> EvalSum {
    let mut sum = EvalSum::default();
    let x = &data.images[start * INPUT..(start + b) * INPUT];
    forward(p, Some(t), x, b, (&mut s.h1, &mut s.h2, &mut s.z));
    let labels = &data.labels[start..start + b];
    for (row, &y) in s.z[..b * CLASSES].chunks_exact_mut(CLASSES).zip(labels) {
        let y = usize::from(y);
        // scores first (row_loss without probabilities leaves the logits intact).
        sum.score(row, y);
        sum.loss += f64::from(row_loss(row, y, false));
    }
    sum
}

fn check_dataset(d: &Dataset, what: &str) -> Result<(), Error> {
    if d.pixels() != INPUT {
        return Err(Error::Data(format!(
            "the {what} has {}x{}x{} images but the MLP (Table 2) needs 1x28x28 = {INPUT} values: use --model cnn for colour images",
            d.channels, d.rows, d.cols
        )));
    }
    super::network::check_consistent(d, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `n` random images (pixels uniform in [0, 1]) with random labels.
    fn random_dataset(n: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Dataset {
            images: (0..n * INPUT).map(|_| rng.random::<f32>()).collect(),
            labels: (0..n).map(|_| rng.random_range(0..10u8)).collect(),
            n,
            channels: 1,
            rows: 28,
            cols: 28,
        }
    }

    /// A linearly separable set: class `c` is a noisy copy of a random binary prototype.
    fn separable_dataset(n: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let protos: Vec<Vec<f32>> = (0..CLASSES)
            .map(|_| {
                (0..INPUT)
                    .map(|_| if rng.random::<f32>() < 0.3 { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        let mut images = Vec::with_capacity(n * INPUT);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % CLASSES;
            labels.push(c as u8);
            images.extend(
                protos[c]
                    .iter()
                    .map(|&p| 0.8 * p + 0.2 * rng.random::<f32>()),
            );
        }
        Dataset {
            images,
            labels,
            n,
            channels: 1,
            rows: 28,
            cols: 28,
        }
    }

    /// Straightforward f64 forward pass: mean loss over `idx`.
    fn ref_loss(p: &[f64], data: &Dataset, idx: &[usize]) -> f64 {
        let dense = |w: &[f64], b: &[f64], x: &[f64], relu: bool| -> Vec<f64> {
            (0..b.len())
                .map(|j| {
                    let s = b[j]
                        + x.iter()
                            .enumerate()
                            .map(|(i, &xi)| w[j * x.len() + i] * xi)
                            .sum::<f64>();
                    if relu {
                        s.max(0.0)
                    } else {
                        s
                    }
                })
                .collect()
        };
        let mut total = 0.0;
        for &i in idx {
            let x: Vec<f64> = data.image(i).iter().map(|&v| f64::from(v)).collect();
            let h1 = dense(&p[W1_OFFSET..B1_OFFSET], &p[B1_OFFSET..W2_OFFSET], &x, true);
            let h2 = dense(
                &p[W2_OFFSET..B2_OFFSET],
                &p[B2_OFFSET..W3_OFFSET],
                &h1,
                true,
            );
            let z = dense(&p[W3_OFFSET..B3_OFFSET], &p[B3_OFFSET..], &h2, false);
            let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            total += lse - z[usize::from(data.labels[i])];
        }
        total / idx.len() as f64
    }

    /// Glorot weights plus random non-zero biases.
    fn test_params(mlp: &Mlp, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = mlp.init_params(&mut rng);
        for r in [
            B1_OFFSET..W2_OFFSET,
            B2_OFFSET..W3_OFFSET,
            B3_OFFSET..PARAM_DIM,
        ] {
            for v in &mut p[r] {
                *v = 0.1 * (2.0 * rng.random::<f32>() - 1.0);
            }
        }
        p
    }

    #[test]
    fn layout_constants() {
        assert_eq!(PARAM_DIM, 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10);
        let mlp = Mlp::new(Arc::new(random_dataset(2, 0))).unwrap();
        assert_eq!(mlp.dim(), 118_282);
        assert_eq!(
            (B1_OFFSET, W2_OFFSET, B2_OFFSET, W3_OFFSET, B3_OFFSET),
            (100_352, 100_480, 116_864, 116_992, 118_272)
        );
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Mlp>();
        check::<MlpScratch>();
    }

    #[test]
    fn init_is_glorot_uniform_with_zero_biases() {
        let mlp = Mlp::new(Arc::new(random_dataset(2, 0))).unwrap();
        let p = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(p.len(), PARAM_DIM);
        for (r, fan) in [
            (W1_OFFSET..B1_OFFSET, 784usize + 128),
            (W2_OFFSET..B2_OFFSET, 128 + 128),
            (W3_OFFSET..B3_OFFSET, 128 + 10),
        ] {
            let a = (6.0 / fan as f64).sqrt() as f32;
            let w = &p[r];
            assert!(w.iter().all(|v| v.abs() <= a));
            // Uniform on (-a, a): variance a^2 / 3.
            let var = w.iter().map(|&v| f64::from(v * v)).sum::<f64>() / w.len() as f64;
            let want = f64::from(a * a) / 3.0;
            assert!((var - want).abs() < 0.1 * want, "var {var} want {want}");
        }
        for r in [
            B1_OFFSET..W2_OFFSET,
            B2_OFFSET..W3_OFFSET,
            B3_OFFSET..PARAM_DIM,
        ] {
            assert!(p[r].iter().all(|&v| v == 0.0));
        }
        assert_eq!(p, mlp.init_params(&mut ChaCha8Rng::seed_from_u64(7)));
        assert_ne!(p, mlp.init_params(&mut ChaCha8Rng::seed_from_u64(8)));
    }

    /// Central differences of the f64 reference loss against the f32 analytic gradient, on
    /// ten random parameters of each of the six blocks.
    #[test]
    fn gradient_matches_finite_differences() {
        let data = Arc::new(random_dataset(12, 1));
        let mlp = Mlp::new(data.clone()).unwrap();
        let p = test_params(&mlp, 2);
        let idx = [0, 3, 5, 5, 7, 11, 2, 9];
        let mut s = mlp.new_scratch(8);
        let mut g = vec![f32::NAN; PARAM_DIM];
        let loss = mlp.batch_grad_into(&p, &idx, &mut s, &mut g);
        let p64: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
        let ref0 = ref_loss(&p64, &data, &idx);
        assert!(
            (loss - ref0).abs() < 1e-5 * ref0,
            "loss {loss} vs reference {ref0}"
        );

        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let eps = 1e-6;
        let mut checked = 0;
        for r in [
            W1_OFFSET..B1_OFFSET,
            B1_OFFSET..W2_OFFSET,
            W2_OFFSET..B2_OFFSET,
            B2_OFFSET..W3_OFFSET,
            W3_OFFSET..B3_OFFSET,
            B3_OFFSET..PARAM_DIM,
        ] {
            for _ in 0..10 {
                let k = rng.random_range(r.clone());
                let mut q = p64.clone();
                q[k] += eps;
                let up = ref_loss(&q, &data, &idx);
                q[k] -= 2.0 * eps;
                let down = ref_loss(&q, &data, &idx);
                let fd = (up - down) / (2.0 * eps);
                let an = f64::from(g[k]);
                assert!(
                    (fd - an).abs() <= 2e-3 * fd.abs() + 2e-6,
                    "param {k}: finite difference {fd}, analytic {an}"
                );
                checked += usize::from(an.abs() > 1e-4);
            }
        }
        // Most checked gradients are far from zero (the check is not vacuous).
        assert!(checked >= 40, "only {checked} non-trivial gradients");
    }

    #[test]
    fn stored_transposes_give_the_same_bits() {
        let data = Arc::new(random_dataset(64, 3));
        let mlp = Mlp::new(data).unwrap();
        let p = test_params(&mlp, 8);
        let mut t = MlpPrepared::default();
        mlp.prepare(&p, &mut t);
        assert_eq!(
            t.w1t[5 * HIDDEN + 3],
            p[3 * INPUT + 5],
            "W1^T(5, 3) = W1(3, 5)"
        );
        // batches below, at and above the scratch's chunk, duplicates allowed
        for (n, chunk) in [(1, 4), (32, 32), (50, 16)] {
            let idx: Vec<usize> = (0..n).map(|i| (i * 7) % 64).collect();
            let (mut g1, mut g2) = (vec![0.0; PARAM_DIM], vec![0.0; PARAM_DIM]);
            let l1 = mlp.batch_grad_into(&p, &idx, &mut mlp.new_scratch(chunk), &mut g1);
            let l2 = mlp.batch_grad_with(&p, Some(&t), &idx, &mut mlp.new_scratch(chunk), &mut g2);
            assert_eq!(l1.to_bits(), l2.to_bits(), "loss, batch {n}");
            let same = g1.iter().zip(&g2).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "gradient, batch {n}");
        }
        // a default (unprepared) value reads the parameters
        let (mut g1, mut g2) = (vec![0.0; PARAM_DIM], vec![0.0; PARAM_DIM]);
        mlp.batch_grad_into(&p, &[1, 2], &mut mlp.new_scratch(4), &mut g1);
        let empty = MlpPrepared::default();
        mlp.batch_grad_with(&p, Some(&empty), &[1, 2], &mut mlp.new_scratch(4), &mut g2);
        assert_eq!(g1, g2);
    }

    #[test]
    fn chunked_batch_matches_single_pass() {
        let data = Arc::new(random_dataset(20, 4));
        let mlp = Mlp::new(data).unwrap();
        let p = test_params(&mlp, 5);
        let idx: Vec<usize> = (0..17).map(|i| (i * 7) % 20).collect();
        let mut g1 = vec![0.0; PARAM_DIM];
        let mut g2 = vec![0.0; PARAM_DIM];
        let l1 = mlp.batch_grad_into(&p, &idx, &mut mlp.new_scratch(32), &mut g1);
        // Chunks of 4, 4, 4, 4, 1 (the last one below nalgebra's small-matrix threshold).
        let l2 = mlp.batch_grad_into(&p, &idx, &mut mlp.new_scratch(4), &mut g2);
        assert!((l1 - l2).abs() < 1e-6 * l1);
        let gmax = g1.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (a, b) in g1.iter().zip(&g2) {
            assert!((a - b).abs() <= 1e-5 * gmax, "{a} vs {b}");
        }
    }

    fn empty_set() -> Dataset {
        random_dataset(0, 0)
    }

    #[test]
    fn evaluate_matches_reference() {
        let data = random_dataset(16, 6);
        let mlp = Mlp::new(Arc::new(data.clone())).unwrap();
        let p = test_params(&mlp, 7);
        let p64: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
        let all: Vec<usize> = (0..16).collect();
        let want = ref_loss(&p64, &data, &all);
        let Eval {
            loss: l5, top1: a5, ..
        } = mlp.evaluate(&p, &data, &mut mlp.new_scratch(5));
        let Eval {
            loss: l64,
            top1: a64,
            ..
        } = mlp.evaluate(&p, &data, &mut mlp.new_scratch(64));
        assert!((l5 - want).abs() < 1e-5 * want, "{l5} vs {want}");
        assert!((l64 - want).abs() < 1e-5 * want);
        assert_eq!(a5.to_bits(), a64.to_bits());
        assert!((0.0..=1.0).contains(&a5));
        // The parallel version: same figures (600 samples: several blocks, a partial last one),
        // bit-identical with 1 and 2 threads.
        let big = random_dataset(600, 8);
        let Eval {
            loss: ls,
            top1: as_,
            ..
        } = mlp.evaluate(&p, &big, &mut mlp.new_scratch(64));
        let par = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| mlp.evaluate_par(&p, &big))
        };
        let Eval {
            loss: lp1,
            top1: ap1,
            ..
        } = par(1);
        let Eval {
            loss: lp2,
            top1: ap2,
            ..
        } = par(2);
        assert_eq!(
            (lp1.to_bits(), ap1.to_bits()),
            (lp2.to_bits(), ap2.to_bits())
        );
        assert!((lp1 - ls).abs() < 1e-9 * ls, "{lp1} vs {ls}");
        assert_eq!(ap1.to_bits(), as_.to_bits());
        assert!(mlp.evaluate_par(&p, &empty_set()).loss.is_nan());
        // The mean loss equals batch_grad_into's loss over the whole set.
        let mut g = vec![0.0; PARAM_DIM];
        let l = mlp.batch_grad_into(&p, &all, &mut mlp.new_scratch(16), &mut g);
        assert!((l - l64).abs() < 1e-6 * l);
        // Empty set.
        let empty = random_dataset(0, 0);
        let Eval {
            loss: l, top1: a, ..
        } = mlp.evaluate(&p, &empty, &mut mlp.new_scratch(4));
        assert!(l.is_nan() && a.is_nan());
    }

    #[test]
    fn non_finite_params_do_not_panic() {
        let data = random_dataset(8, 8);
        let mlp = Mlp::new(Arc::new(data.clone())).unwrap();
        let mut p = test_params(&mlp, 9);
        p[W3_OFFSET] = f32::NAN;
        p[W1_OFFSET + 5] = f32::INFINITY;
        let Eval {
            loss: l, top1: a, ..
        } = mlp.evaluate(&p, &data, &mut mlp.new_scratch(4));
        assert!(l.is_nan() || l.is_infinite());
        assert!((0.0..=1.0).contains(&a));
        let mut g = vec![0.0; PARAM_DIM];
        let l = mlp.batch_grad_into(&p, &[0, 1, 2], &mut mlp.new_scratch(4), &mut g);
        assert!(!l.is_finite());
    }

    #[test]
    fn sgd_decreases_loss_on_separable_data() {
        let data = Arc::new(separable_dataset(200, 10));
        let mlp = Mlp::new(data.clone()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut p = mlp.init_params(&mut rng);
        let mut s = mlp.new_scratch(32);
        let mut g = vec![0.0; PARAM_DIM];
        let mut idx = vec![0; 32];
        let Eval {
            loss: l0, top1: _, ..
        } = mlp.evaluate(&p, &data, &mut s);
        let mut losses = vec![l0];
        for step in 0..30 {
            mlp.sample_batch(&mut rng, 32, &mut idx);
            mlp.batch_grad_into(&p, &idx, &mut s, &mut g);
            for (w, d) in p.iter_mut().zip(&g) {
                *w -= 0.1 * d;
            }
            if step % 10 == 9 {
                losses.push(mlp.evaluate(&p, &data, &mut s).loss);
            }
        }
        let Eval {
            loss: l_end,
            top1: acc,
            ..
        } = mlp.evaluate(&p, &data, &mut s);
        assert!(
            losses.windows(2).all(|w| w[1] < w[0]),
            "losses not decreasing: {losses:?}"
        );
        assert!(l_end < 0.5 * l0, "loss {l0} -> {l_end}");
        assert!(acc >= 0.95, "accuracy {acc}");
    }

    #[test]
    fn deterministic_across_scratches_and_threads() {
        let data = Arc::new(random_dataset(40, 12));
        let mlp = Mlp::new(data).unwrap();
        let p = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(13));
        let mut idx = vec![0; 32];
        mlp.sample_batch(&mut ChaCha8Rng::seed_from_u64(14), 32, &mut idx);
        let run = || {
            let mut g = vec![0.0f32; PARAM_DIM];
            let l = mlp.batch_grad_into(&p, &idx, &mut mlp.new_scratch(32), &mut g);
            (
                l.to_bits(),
                g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            )
        };
        let a = run();
        let b = run();
        let c = std::thread::scope(|sc| sc.spawn(run).join().unwrap());
        assert!(a == b && a == c);
        // Reusing one scratch for a different batch first does not change the result.
        let mut s = mlp.new_scratch(32);
        let mut g = vec![0.0f32; PARAM_DIM];
        mlp.batch_grad_into(&p, &[1, 2, 3], &mut s, &mut g);
        let l = mlp.batch_grad_into(&p, &idx, &mut s, &mut g);
        assert_eq!(l.to_bits(), a.0);
        assert!(g.iter().map(|v| v.to_bits()).eq(a.1.iter().copied()));
    }

    #[test]
    fn sample_batch_is_uniform_and_reproducible() {
        let mlp = Mlp::new(Arc::new(random_dataset(10, 15))).unwrap();
        let mut a = vec![0; 20_000];
        let mut b = vec![0; 20_000];
        mlp.sample_batch(&mut ChaCha8Rng::seed_from_u64(16), 20_000, &mut a);
        mlp.sample_batch(&mut ChaCha8Rng::seed_from_u64(16), 20_000, &mut b);
        assert_eq!(a, b);
        let mut counts = [0usize; 10];
        for &i in &a {
            counts[i] += 1;
        }
        assert!(
            counts.iter().all(|&c| (1800..2200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn rejects_wrong_datasets() {
        let mut d = random_dataset(3, 17);
        d.rows = 27;
        let e = Mlp::new(Arc::new(d)).unwrap_err().to_string();
        assert!(e.contains("784"), "{e}");
        let e = Mlp::new(Arc::new(random_dataset(0, 0)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        let mut d = random_dataset(3, 17);
        d.labels[1] = 10;
        let e = Mlp::new(Arc::new(d)).unwrap_err().to_string();
        assert!(e.contains("label 10"), "{e}");
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn index_out_of_range_panics() {
        let mlp = Mlp::new(Arc::new(random_dataset(3, 18))).unwrap();
        let p = vec![0.0; PARAM_DIM];
        let mut g = vec![0.0; PARAM_DIM];
        mlp.batch_grad_into(&p, &[0, 3], &mut mlp.new_scratch(4), &mut g);
    }
}

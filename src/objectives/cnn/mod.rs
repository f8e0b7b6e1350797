//! The CNN of the paper's Table 3 (appendix, the CIFAR-10 experiments of figures 10-14):
//!
//! ```text
//! conv1 3x3/32 pad 1, ReLU, conv2 3x3/32 pad 1, ReLU, max-pool 2, dropout 0.2,
//! conv3 3x3/64 pad 1, ReLU, conv4 3x3/64 pad 1, ReLU, max-pool 2, dropout 0.2, flatten,
//! fc1 512, ReLU, dropout 0.2, fc2 512, ReLU, dropout 0.2, fc3 10, softmax cross-entropy
//! ```
//!
//! for any input of `C x H x W` values (3 x 32 x 32 for CIFAR-10: 2,431,018 parameters;
//! 1 x 28 x 28 for the Fashion-MNIST stand-in: 1,938,922), `f32` parameters.
//!
//! # Parameter layout
//!
//! One flat vector, layer after layer, each weight followed by its bias, in PyTorch's shapes
//! (so a `state_dict` flattened in order is the same vector): `conv1.w (32, C, 3, 3)`, `conv1.b
//! (32)`, `conv2.w (32, 32, 3, 3)`, ..., `conv4.b (64)`, `fc1.w (512, 64 h w)` (h, w the size
//! after two pools; the flattened input is channel-major per sample), `fc1.b`, `fc2.w (512,
//! 512)`, `fc2.b`, `fc3.w (10, 512)`, `fc3.b`. [`Layout`] gives the offsets.
//!
//! # Computation
//!
//! A batch is processed channel-major (`C x B x H x W`) so each convolution is an im2col and a
//! GEMM per block of images whose im2col matrix is about L2-sized ([`layers`]); the dense
//! layers are the MLP's row-major GEMMs over the whole batch.
//! Per sample at 1 x 28 x 28, the forward pass is about 20 million multiply-adds (conv2 and
//! conv4 7.2 million each), the backward pass twice that. Batches larger than the scratch's
//! `max_batch` are processed in chunks, accumulating the weight gradients (`beta = 1`).
//! Dropout masks are drawn from the caller's stream in layer order (one `u32` per unit), so a
//! worker's gradient depends only on its stream, whichever thread computes it.

pub mod layers;

use super::gemm::{gemm, Op};
use super::network::{row_loss, Eval, EvalSum, Network};
use crate::data::Dataset;
use crate::error::Error;
use crate::rng::Rng;
use layers::{Conv, Hw};
use std::sync::Arc;

/// Channels of conv1 and conv2.
pub const C1: usize = 32;
/// Channels of conv3 and conv4.
pub const C2: usize = 64;
/// Width of fc1 and fc2.
pub const FC: usize = 512;
/// Classes (fc3 outputs).
pub const CLASSES: usize = 10;
/// Drop probability of the four dropout layers (Table 3).
pub const P_DROP: f32 = 0.2;

/// Offsets of the parameter blocks for an input of `c x h x w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Input channels.
    pub c: usize,
    /// Input size.
    pub s0: Hw,
    /// Size after the first pool.
    pub s1: Hw,
    /// Size after the second pool.
    pub s2: Hw,
    /// Offsets of conv1.w, conv1.b, ..., fc3.b, then the total.
    pub off: [usize; 15],
}

impl Layout {
    /// The layout for `c x h x w` inputs.
    pub fn new(c: usize, h: usize, w: usize) -> Self {
        let s0 = Hw { h, w };
        let (s1, s2) = (s0.pooled(), s0.pooled().pooled());
        let flat = C2 * s2.px();
        let sizes = [
            C1 * 9 * c,
            C1,
            C1 * 9 * C1,
            C1,
            C2 * 9 * C1,
            C2,
            C2 * 9 * C2,
            C2,
            FC * flat,
            FC,
            FC * FC,
            FC,
            CLASSES * FC,
            CLASSES,
        ];
        let mut off = [0; 15];
        for (i, s) in sizes.iter().enumerate() {
            off[i + 1] = off[i] + s;
        }
        Layout { c, s0, s1, s2, off }
    }
    /// Number of parameters.
    pub fn dim(&self) -> usize {
        self.off[14]
    }
    /// Inputs of fc1 (64 h w).
    pub fn flat(&self) -> usize {
        C2 * self.s2.px()
    }
    /// The 14 blocks of `p`, in layout order.
    fn split<'a>(&self, p: &'a [f32]) -> [&'a [f32]; 14] {
        std::array::from_fn(|i| &p[self.off[i]..self.off[i + 1]])
    }
    /// The 14 blocks of `p`, mutable.
    fn split_mut<'a>(&self, mut p: &'a mut [f32]) -> [&'a mut [f32]; 14] {
        let mut out: [&'a mut [f32]; 14] = Default::default();
        for (i, o) in out.iter_mut().enumerate() {
            let (a, rest) = p.split_at_mut(self.off[i + 1] - self.off[i]);
            *o = a;
            p = rest;
        }
        out
    }
    /// Multiply-adds of one sample's forward pass.
    pub fn macs_per_sample(&self) -> usize {
        let (p0, p1) = (self.s0.px(), self.s1.px());
        p0 * C1 * 9 * (self.c + C1)
            + p1 * C2 * 9 * (C1 + C2)
            + FC * (self.flat() + FC)
            + CLASSES * FC
    }
}

/// The Table 3 CNN bound to a training set.
#[derive(Debug, Clone)]
pub struct Cnn {
    train: Arc<Dataset>,
    lay: Layout,
}

/// Activation and gradient buffers for one thread, sized for a maximum batch.
#[derive(Debug, Clone)]
pub struct CnnScratch {
    max_batch: usize,
    x: Vec<f32>,
    col: Vec<f32>,
    a1: Vec<f32>,
    a2: Vec<f32>,
    p1: Vec<f32>,
    arg1: Vec<u8>,
    m1: Vec<f32>,
    a3: Vec<f32>,
    a4: Vec<f32>,
    p2: Vec<f32>,
    arg2: Vec<u8>,
    m2: Vec<f32>,
    flat: Vec<f32>,
    h1: Vec<f32>,
    m3: Vec<f32>,
    h2: Vec<f32>,
    m4: Vec<f32>,
    z: Vec<f32>,
    // backward
    d_big: Vec<f32>,
    d_big2: Vec<f32>,
    d_mid: Vec<f32>,
    d_mid2: Vec<f32>,
    d_flat: Vec<f32>,
    d_p2: Vec<f32>,
    dh1: Vec<f32>,
    dh2: Vec<f32>,
}

impl Cnn {
    /// Binds the CNN to a training set of `c x h x w` images (h, w at least 4) with labels in
    /// `0..10`.
    pub fn new(train: Arc<Dataset>) -> Result<Self, Error> {
        check_dataset(&train, "training set")?;
        if train.n == 0 {
            return Err(Error::Data(
                "the training set is empty: the CNN needs at least one sample".into(),
            ));
        }
        let lay = Layout::new(train.channels, train.rows, train.cols);
        Ok(Cnn { train, lay })
    }

    /// The parameter layout.
    pub fn layout(&self) -> &Layout {
        &self.lay
    }

    /// Glorot (Xavier) uniform initialisation, as MXNet's `Xavier()` default: a weight block
    /// of shape `(out, in, kh, kw)` is drawn from `U(-a, a)`, `a = sqrt(6 / (fan_in +
    /// fan_out))`, `fan_in = in kh kw`, `fan_out = out kh kw`; biases are 0.
    pub fn init_params(&self, rng: &mut Rng) -> Vec<f32> {
        let l = &self.lay;
        let mut p = vec![0.0f32; l.dim()];
        let fans = [
            (9 * l.c, 9 * C1),
            (9 * C1, 9 * C1),
            (9 * C1, 9 * C2),
            (9 * C2, 9 * C2),
            (l.flat(), FC),
            (FC, FC),
            (FC, CLASSES),
        ];
        let blocks = l.split_mut(&mut p);
        for (w, (fi, fo)) in blocks.into_iter().step_by(2).zip(fans) {
            let a = (6.0 / (fi + fo) as f64).sqrt() as f32;
            for v in w.iter_mut() {
                *v = a * (2.0 * rand::Rng::random::<f32>(rng) - 1.0);
            }
        }
        p
    }

    /// Buffers for batches of up to `max_batch` samples (at least 1).
    pub fn new_scratch(&self, max_batch: usize) -> CnnScratch {
        let b = max_batch.max(1);
        let l = &self.lay;
        let (p0, p1, p2) = (b * l.s0.px(), b * l.s1.px(), b * l.s2.px());
        // one im2col block of the largest convolution
        let col = [(l.c, l.s0), (C1, l.s0), (C1, l.s1), (C2, l.s1)]
            .into_iter()
            .map(|(cin, s)| Conv::new(cin, b, s).col_len())
            .max()
            .unwrap_or(0);
        let big = (l.c.max(C1)) * p0;
        CnnScratch {
            max_batch: b,
            x: vec![0.0; l.c * p0],
            col: vec![0.0; col],
            a1: vec![0.0; C1 * p0],
            a2: vec![0.0; C1 * p0],
            p1: vec![0.0; C1 * p1],
            arg1: vec![0; C1 * p1],
            m1: vec![0.0; C1 * p1],
            a3: vec![0.0; C2 * p1],
            a4: vec![0.0; C2 * p1],
            p2: vec![0.0; C2 * p2],
            arg2: vec![0; C2 * p2],
            m2: vec![0.0; C2 * p2],
            flat: vec![0.0; b * l.flat()],
            h1: vec![0.0; b * FC],
            m3: vec![0.0; b * FC],
            h2: vec![0.0; b * FC],
            m4: vec![0.0; b * FC],
            z: vec![0.0; b * CLASSES],
            d_big: vec![0.0; big],
            d_big2: vec![0.0; big],
            d_mid: vec![0.0; C2 * p1],
            d_mid2: vec![0.0; C2 * p1],
            d_flat: vec![0.0; b * l.flat()],
            d_p2: vec![0.0; C2 * p2],
            dh1: vec![0.0; b * FC],
            dh2: vec![0.0; b * FC],
        }
    }

    /// Copies samples `idx` (at most `max_batch`) into the scratch's channel-major input.
    fn gather(
        &self,
        data: &Dataset,
        idx: impl ExactSizeIterator<Item = usize>,
        s: &mut CnnScratch,
    ) {
        let (b, px) = (idx.len(), self.lay.s0.px());
        for (k, i) in idx.enumerate() {
            assert!(i < data.n, "sample index {i} out of range (n = {})", data.n);
            let img = data.image(i);
            for c in 0..self.lay.c {
                s.x[(c * b + k) * px..][..px].copy_from_slice(&img[c * px..(c + 1) * px]);
            }
        }
    }

    /// Forward pass of the `nb` gathered samples into the scratch; logits in `s.z`.
    fn forward(&self, p: &[&[f32]; 14], nb: usize, mut rng: Option<&mut Rng>, s: &mut CnnScratch) {
        let l = &self.lay;
        let (s0, s1) = (l.s0, l.s1);
        let c = Conv::new(l.c, nb, s0);
        layers::conv_relu(c, &s.x, p[0], p[1], &mut s.col, &mut s.a1);
        let c = Conv::new(C1, nb, s0);
        layers::conv_relu(c, &s.a1, p[2], p[3], &mut s.col, &mut s.a2);
        layers::maxpool(&s.a2, C1 * nb, s0, &mut s.p1, &mut s.arg1);
        let n1 = C1 * nb * s1.px();
        layers::dropout(&mut s.p1[..n1], &mut s.m1, P_DROP, rng.as_deref_mut());
        let c = Conv::new(C1, nb, s1);
        layers::conv_relu(c, &s.p1, p[4], p[5], &mut s.col, &mut s.a3);
        let c = Conv::new(C2, nb, s1);
        layers::conv_relu(c, &s.a3, p[6], p[7], &mut s.col, &mut s.a4);
        layers::maxpool(&s.a4, C2 * nb, s1, &mut s.p2, &mut s.arg2);
        let n2 = C2 * nb * l.s2.px();
        layers::dropout(&mut s.p2[..n2], &mut s.m2, P_DROP, rng.as_deref_mut());
        layers::to_rows(&s.p2, C2, nb, l.s2.px(), &mut s.flat);
        let flat = l.flat();
        dense_relu(&s.flat[..nb * flat], nb, flat, p[8], p[9], &mut s.h1);
        layers::dropout(&mut s.h1[..nb * FC], &mut s.m3, P_DROP, rng.as_deref_mut());
        dense_relu(&s.h1[..nb * FC], nb, FC, p[10], p[11], &mut s.h2);
        layers::dropout(&mut s.h2[..nb * FC], &mut s.m4, P_DROP, rng);
        let z = &mut s.z[..nb * CLASSES];
        gemm(nb, CLASSES, FC, 1.0, &s.h2, Op::N, p[12], Op::T, 0.0, z);
        for row in z.chunks_exact_mut(CLASSES) {
            for (v, &bb) in row.iter_mut().zip(p[13]) {
                *v += bb;
            }
        }
    }

    /// Backward pass of the last forward pass (`s.z` holds dZ); `beta` 0 writes the weight
    /// gradients, 1 adds to them; bias gradients are always added.
    fn backward(
        &self,
        p: &[&[f32]; 14],
        nb: usize,
        beta: f32,
        s: &mut CnnScratch,
        g: &mut [&mut [f32]; 14],
    ) {
        let l = &self.lay;
        let flat = l.flat();
        // fc3
        let z = &s.z[..nb * CLASSES];
        gemm(CLASSES, FC, nb, 1.0, z, Op::T, &s.h2, Op::N, beta, g[12]);
        col_sums(z, g[13]);
        gemm(
            nb,
            FC,
            CLASSES,
            1.0,
            z,
            Op::N,
            p[12],
            Op::N,
            0.0,
            &mut s.dh2,
        );
        // dropout4 + relu of fc2
        mask_relu_colsum(&mut s.dh2[..nb * FC], &s.h2, &s.m4, g[11]);
        gemm(FC, FC, nb, 1.0, &s.dh2, Op::T, &s.h1, Op::N, beta, g[10]);
        gemm(
            nb,
            FC,
            FC,
            1.0,
            &s.dh2,
            Op::N,
            p[10],
            Op::N,
            0.0,
            &mut s.dh1,
        );
        mask_relu_colsum(&mut s.dh1[..nb * FC], &s.h1, &s.m3, g[9]);
        gemm(FC, flat, nb, 1.0, &s.dh1, Op::T, &s.flat, Op::N, beta, g[8]);
        gemm(
            nb,
            flat,
            FC,
            1.0,
            &s.dh1,
            Op::N,
            p[8],
            Op::N,
            0.0,
            &mut s.d_flat,
        );
        // flatten, dropout2, pool2
        let (px1, px2) = (l.s1.px(), l.s2.px());
        let n2 = C2 * nb * px2;
        layers::from_rows(&s.d_flat, C2, nb, px2, &mut s.d_p2);
        for (d, m) in s.d_p2[..n2].iter_mut().zip(&s.m2) {
            *d *= *m;
        }
        layers::maxpool_backward(&s.d_p2, &s.arg2, C2 * nb, l.s1, &mut s.d_mid);
        // conv4, conv3
        let (g6, g7) = two(g, 6, 7);
        let c = Conv::new(C2, nb, l.s1);
        let (w, grads) = ((p[6], &s.a4[..]), (g6, g7, beta));
        layers::conv_relu_backward(
            c,
            &s.a3,
            w,
            &mut s.d_mid,
            grads,
            &mut s.col,
            Some(&mut s.d_mid2),
        );
        let (g4, g5) = two(g, 4, 5);
        let c = Conv::new(C1, nb, l.s1);
        let (w, grads) = ((p[4], &s.a3[..]), (g4, g5, beta));
        layers::conv_relu_backward(
            c,
            &s.p1,
            w,
            &mut s.d_mid2,
            grads,
            &mut s.col,
            Some(&mut s.d_mid),
        );
        // dropout1, pool1
        let n1 = C1 * nb * px1;
        for (d, m) in s.d_mid[..n1].iter_mut().zip(&s.m1) {
            *d *= *m;
        }
        layers::maxpool_backward(&s.d_mid, &s.arg1, C1 * nb, l.s0, &mut s.d_big);
        // conv2, conv1
        let (g2, g3) = two(g, 2, 3);
        let c = Conv::new(C1, nb, l.s0);
        let (w, grads) = ((p[2], &s.a2[..]), (g2, g3, beta));
        layers::conv_relu_backward(
            c,
            &s.a1,
            w,
            &mut s.d_big,
            grads,
            &mut s.col,
            Some(&mut s.d_big2),
        );
        let (g0, g1) = two(g, 0, 1);
        let c = Conv::new(l.c, nb, l.s0);
        let (w, grads) = ((p[0], &s.a1[..]), (g0, g1, beta));
        layers::conv_relu_backward(c, &s.x, w, &mut s.d_big2, grads, &mut s.col, None);
    }
}

/// Two distinct mutable blocks of the gradient.
fn two<'a>(g: &'a mut [&mut [f32]; 14], i: usize, j: usize) -> (&'a mut [f32], &'a mut [f32]) {
    let (a, b) = g.split_at_mut(j);
    (&mut *a[i], &mut *b[0])
}

impl CnnScratch {
    /// The largest batch processed in one pass (larger batches are chunked).
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }
}

/// `out = relu(x w^T + bias)` for `nb` rows of `k` inputs (`w` is `bias.len() x k`).
fn dense_relu(x: &[f32], nb: usize, k: usize, w: &[f32], bias: &[f32], out: &mut [f32]) {
    let n = bias.len();
    let out = &mut out[..nb * n];
    gemm(nb, n, k, 1.0, x, Op::N, w, Op::T, 0.0, out);
    for row in out.chunks_exact_mut(n) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v = (*v + b).max(0.0);
        }
    }
}

/// Adds the column sums of the row-major `d` (`gb.len()` columns) to `gb`.
fn col_sums(d: &[f32], gb: &mut [f32]) {
    for row in d.chunks_exact(gb.len()) {
        for (g, &v) in gb.iter_mut().zip(row) {
            *g += v;
        }
    }
}

/// Backward through dropout and ReLU: `d .*= mask [h > 0]` (`h` is the post-dropout
/// activation, so `h > 0` iff the unit was active and kept), adding column sums to `gb`.
fn mask_relu_colsum(d: &mut [f32], h: &[f32], mask: &[f32], gb: &mut [f32]) {
    for ((dv, &hv), &m) in d.iter_mut().zip(h).zip(mask) {
        *dv = if hv > 0.0 { *dv * m } else { 0.0 };
    }
    col_sums(d, gb);
}

impl Network for Cnn {
    type Scratch = CnnScratch;
    type Prepared = ();
    fn name(&self) -> &'static str {
        "cnn"
    }
    fn train(&self) -> &Dataset {
        &self.train
    }
    fn dim(&self) -> usize {
        self.lay.dim()
    }
    fn init_params(&self, rng: &mut Rng) -> Vec<f32> {
        Cnn::init_params(self, rng)
    }
    fn scratch_batch(&self) -> usize {
        32
    }
    fn new_scratch(&self, max_batch: usize) -> CnnScratch {
        Cnn::new_scratch(self, max_batch)
    }
    fn batch_grad(
        &self,
        params: &[f32],
        idx: &[usize],
        mut dropout: Option<&mut Rng>,
        s: &mut CnnScratch,
        grad: &mut [f32],
    ) -> f64 {
        let d = self.lay.dim();
        assert_eq!(params.len(), d, "params must have {d} entries");
        assert_eq!(grad.len(), d, "grad must have {d} entries");
        assert!(!idx.is_empty(), "batch_grad needs at least one sample");
        let p = self.lay.split(params);
        let mut g = self.lay.split_mut(grad);
        for k in (1..14).step_by(2) {
            g[k].fill(0.0);
        }
        let train = &*self.train;
        let scale = 1.0 / idx.len() as f32;
        let mut loss = 0.0f64;
        for (ci, chunk) in idx.chunks(s.max_batch).enumerate() {
            let nb = chunk.len();
            self.gather(train, chunk.iter().copied(), s);
            self.forward(&p, nb, dropout.as_deref_mut(), s);
            for (row, &i) in s.z[..nb * CLASSES].chunks_exact_mut(CLASSES).zip(chunk) {
                let y = usize::from(train.labels[i]);
                loss += f64::from(row_loss(row, y, true));
                row[y] -= 1.0;
                for v in row.iter_mut() {
                    *v *= scale;
                }
            }
            self.backward(&p, nb, if ci == 0 { 0.0 } else { 1.0 }, s, &mut g);
        }
        loss / idx.len() as f64
    }
    fn evaluate_par(&self, params: &[f32], data: &Dataset) -> Eval {
        use rayon::prelude::*;
        if let Err(e) = check_dataset(data, "evaluation set") {
            panic!("{e}");
        }
        assert_eq!(params.len(), self.lay.dim(), "params have the wrong length");
        if data.channels != self.lay.c || data.rows != self.lay.s0.h || data.cols != self.lay.s0.w {
            panic!("the evaluation set's images differ in shape from the training set's");
        }
        let p = self.lay.split(params);
        let parts: Vec<EvalSum> = (0..data.n.div_ceil(EVAL_BLOCK))
            .into_par_iter()
            .map_init(
                || self.new_scratch(EVAL_BLOCK),
                |s, k| {
                    let start = k * EVAL_BLOCK;
                    let nb = EVAL_BLOCK.min(data.n - start);
                    self.gather(data, start..start + nb, s);
                    self.forward(&p, nb, None, s);
                    let mut sum = EvalSum::default();
                    let labels = &data.labels[start..start + nb];
                    for (row, &y) in s.z[..nb * CLASSES].chunks_exact_mut(CLASSES).zip(labels) {
                        sum.score(row, usize::from(y));
                        sum.loss += f64::from(row_loss(row, usize::from(y), false));
                    }
                    sum
                },
            )
            .collect();
        parts
            .into_iter()
            .fold(EvalSum::default(), EvalSum::plus)
            .mean(data.n)
    }
}

/// Samples per task of [`Cnn`]'s evaluation.
pub const EVAL_BLOCK: usize = 32;

fn check_dataset(d: &Dataset, what: &str) -> Result<(), Error> {
    if d.rows < 4 || d.cols < 4 || d.channels == 0 {
        return Err(Error::Data(format!(
            "the {what} has {}x{}x{} images: the CNN (Table 3) pools twice and needs at least 1x4x4",
            d.channels, d.rows, d.cols
        )));
    }
    super::network::check_consistent(d, what)
}

#[cfg(test)]
mod tests;

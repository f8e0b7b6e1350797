//! The CNN's layer kernels on channel-major batches: a batch of `B` images with `C` channels of
//! `H x W` pixels is stored `C x B x H x W` (one row per channel), so a 3x3 convolution over
//! the whole batch is one matrix product `W (Cout x 9 Cin) * col (9 Cin x B H W)` and its
//! output is again channel-major (im2col, as Caffe and MXNet lower convolutions).
//!
//! The product runs over blocks of whole images ([`chunk_images`]) whose im2col matrix holds at
//! most [`COL_BLOCK`] values, or one image when one image's matrix is larger (conv2: 882 KiB
//! at 28 x 28, 1.1 MiB at 32 x 32): the matrix is written, packed by the GEMM and read while
//! it is in or near a core's L2, and two workers on two cores do not stream 29 MB each through
//! the shared L3 (conv2 at batch 32 of 28 x 28 images). The weight gradient sums the blocks in
//! order, so the bits depend on the batch and the block size only, never on the thread.
//!
//! Every kernel is a plain loop over caller-owned buffers: no allocation, the same bits on any
//! thread. Costs are per batch: im2col / col2im 9 C B H W reads and writes, pooling and dropout
//! C B H W.

use super::super::gemm::{gemm_ld, Op, Operand};
use crate::rng::Rng;

/// Spatial size of one channel: `h x w` pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hw {
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Hw {
    /// Pixels per channel.
    pub fn px(self) -> usize {
        self.h * self.w
    }
    /// The size after a 2x2 max-pool of stride 2 (floor, as MXNet and PyTorch).
    pub fn pooled(self) -> Hw {
        Hw {
            h: self.h / 2,
            w: self.w / 2,
        }
    }
}

/// Values of one im2col block (f32, 512 KiB: half a 1 MiB L2, the other half for the packed
/// operands and the output block).
pub const COL_BLOCK: usize = 1 << 17;

/// Images per im2col block for a 3x3 convolution of `cin` channels of `px` pixels: as many as
/// fit in [`COL_BLOCK`] values, at least 1, at most `b`.
pub fn chunk_images(cin: usize, px: usize, b: usize) -> usize {
    (COL_BLOCK / (9 * cin * px).max(1)).clamp(1, b.max(1))
}

/// im2col for a 3x3 kernel with padding 1 and stride 1 over a block of `n / px` images: row
/// `c 9 + 3 kh + kw` of `col`, at position `i = (b H + y) W + x`, is pixel (`y + kh - 1`,
/// `x + kw - 1`) of image `b` in channel `c`, or 0 outside the image. Channel `c` of the
/// block starts at `input[c ld]` (`ld` is the whole batch's plane length); `col` holds at
/// least `9 c n` values.
pub fn im2col(input: &[f32], c: usize, ld: usize, s: Hw, n: usize, col: &mut [f32]) {
    let px = s.px();
    for ci in 0..c {
        let plane = &input[ci * ld..ci * ld + n];
        for kh in 0..3 {
            for kw in 0..3 {
                let row = &mut col[(ci * 9 + kh * 3 + kw) * n..][..n];
                for (src, dst) in plane.chunks_exact(px).zip(row.chunks_exact_mut(px)) {
                    shift_copy(src, dst, s, kh, kw);
                }
            }
        }
    }
}

/// The flat offset of tap (`kh`, `kw`) and the range of positions `i` whose source `i + off`
/// lies in the plane (positions outside it read or write nothing).
fn tap(s: Hw, kh: usize, kw: usize) -> (isize, usize, usize) {
    let px = s.px() as isize;
    let off = (kh as isize - 1) * s.w as isize + kw as isize - 1;
    let lo = (-off).max(0) as usize;
    let hi = (px - off).min(px).max(0) as usize;
    (off, lo, hi.max(lo))
}

/// The column of positions whose tap falls off the left (`kw = 0`) or right (`kw = 2`) edge.
fn edge_col(s: Hw, kw: usize) -> Option<usize> {
    match kw {
        0 => Some(0),
        2 => Some(s.w - 1),
        _ => None,
    }
}

/// `dst[y][x] = src[y + kh - 1][x + kw - 1]` (0 outside) for one channel of one image: one flat
/// shifted copy of the plane (rows off the top or bottom fall outside the copied range), then
/// the edge column that wrapped into the neighbouring row is cleared.
fn shift_copy(src: &[f32], dst: &mut [f32], s: Hw, kh: usize, kw: usize) {
    let (off, lo, hi) = tap(s, kh, kw);
    dst[..lo].fill(0.0);
    dst[hi..].fill(0.0);
    let from = (lo as isize + off) as usize;
    dst[lo..hi].copy_from_slice(&src[from..from + (hi - lo)]);
    if let Some(x) = edge_col(s, kw) {
        for y in 0..s.h {
            dst[y * s.w + x] = 0.0;
        }
    }
}

/// col2im: the adjoint of [`im2col`], adding each column entry back to the input pixel it was
/// copied from: the block's `n` values of each channel of `grad_in` (channel `c` at `c ld`)
/// are overwritten. The entries of `col` that came from outside the image (the padding) are
/// cleared on the way.
pub fn col2im(col: &mut [f32], c: usize, s: Hw, n: usize, grad_in: &mut [f32], ld: usize) {
    let px = s.px();
    for ci in 0..c {
        let plane = &mut grad_in[ci * ld..ci * ld + n];
        plane.fill(0.0);
        for kh in 0..3 {
            for kw in 0..3 {
                let row = &mut col[(ci * 9 + kh * 3 + kw) * n..][..n];
                for (src, dst) in row.chunks_exact_mut(px).zip(plane.chunks_exact_mut(px)) {
                    shift_add(src, dst, s, kh, kw);
                }
            }
        }
    }
}

/// `dst[y + kh - 1][x + kw - 1] += src[y][x]` where inside, for one channel of one image: the
/// edge column whose tap falls outside is cleared in `src`, then one flat shifted add.
fn shift_add(src: &mut [f32], dst: &mut [f32], s: Hw, kh: usize, kw: usize) {
    if let Some(x) = edge_col(s, kw) {
        for y in 0..s.h {
            src[y * s.w + x] = 0.0;
        }
    }
    let (off, lo, hi) = tap(s, kh, kw);
    let to = (lo as isize + off) as usize;
    for (d, v) in dst[to..to + (hi - lo)].iter_mut().zip(&src[lo..hi]) {
        *d += *v;
    }
}

/// The geometry of a 3x3 convolution over a channel-major batch: `cin` input channels, `b`
/// images of `s` pixels, processed by blocks of `step` images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    /// Input channels.
    pub cin: usize,
    /// Images in the batch.
    pub b: usize,
    /// Image size.
    pub s: Hw,
    /// Images per im2col block (at least 1).
    pub step: usize,
}

impl Conv {
    /// `cin` channels of `b` images of size `s`, by blocks of [`chunk_images`] images.
    pub fn new(cin: usize, b: usize, s: Hw) -> Self {
        let step = chunk_images(cin, s.px(), b);
        Conv { cin, b, s, step }
    }
    /// The same convolution by blocks of `step` images (at least 1): the same values up to
    /// the order of the weight gradient's sums.
    pub fn with_step(self, step: usize) -> Self {
        Conv {
            step: step.max(1),
            ..self
        }
    }
    /// Values of the largest im2col block, the `col` scratch [`conv_relu`] needs.
    pub fn col_len(self) -> usize {
        9 * self.cin * self.step.min(self.b) * self.s.px()
    }
    /// The blocks: (first value of the block in a channel's plane, values per channel).
    fn blocks(self) -> impl Iterator<Item = (usize, usize)> {
        let (px, b, step) = (self.s.px(), self.b, self.step);
        (0..b)
            .step_by(step)
            .map(move |img| (img * px, step.min(b - img) * px))
    }
}

/// A 3x3 convolution (padding 1) with bias and ReLU: `out = relu(w * im2col(input) + bias)`,
/// `w` is `cout x 9 cin` (PyTorch's `(cout, cin, 3, 3)` flattened), `out` `cout x b H W`,
/// computed by blocks of `c.step` images; `col` holds one block.
pub fn conv_relu(
    c: Conv,
    input: &[f32],
    w: &[f32],
    bias: &[f32],
    col: &mut [f32],
    out: &mut [f32],
) {
    let (cout, k, ld) = (bias.len(), 9 * c.cin, c.b * c.s.px());
    for (at, n) in c.blocks() {
        im2col(&input[at..], c.cin, ld, c.s, n, col);
        let (wa, cb) = (Operand::new(w, Op::N, k), Operand::new(col, Op::N, n));
        gemm_ld(cout, n, k, 1.0, wa, cb, 0.0, &mut out[at..], ld);
        for (o, &bv) in bias.iter().enumerate() {
            for v in &mut out[o * ld + at..][..n] {
                *v = (*v + bv).max(0.0);
            }
        }
    }
}

/// Backward of [`conv_relu`] given `d_out` (the gradient at the ReLU's output, `cout x b H W`)
/// and the layer's weights and output `(w, out)`: masks `d_out` by `out > 0`, and with `grads
/// = (gw, gb, beta)` adds the bias gradient to `gb` and writes (`beta = 0`) or adds (`beta =
/// 1`) the weight gradient to `gw`; if `grad_in` is given, writes the gradient at the input
/// (`cin x b H W`). Blocks as [`conv_relu`]; `col` is scratch for one block.
pub fn conv_relu_backward(
    c: Conv,
    input: &[f32],
    (w, out): (&[f32], &[f32]),
    d_out: &mut [f32],
    (gw, gb, beta): (&mut [f32], &mut [f32], f32),
    col: &mut [f32],
    mut grad_in: Option<&mut [f32]>,
) {
    let (cout, k, ld) = (gb.len(), 9 * c.cin, c.b * c.s.px());
    let d_out = &mut d_out[..cout * ld];
    relu_mask_rowsum(d_out, &out[..cout * ld], gb);
    let d_out = &*d_out;
    for (at, n) in c.blocks() {
        im2col(&input[at..], c.cin, ld, c.s, n, col);
        // gW (+)= dOut col^T (cout x k), the blocks summed in order
        let first = if at == 0 { beta } else { 1.0 };
        let d = Operand::new(&d_out[at..], Op::N, ld);
        gemm_ld(
            cout,
            k,
            n,
            1.0,
            d,
            Operand::new(col, Op::T, n),
            first,
            gw,
            k,
        );
        if let Some(gi) = grad_in.as_deref_mut() {
            // dcol = W^T dOut (k x n), then back onto the input pixels
            gemm_ld(k, n, cout, 1.0, Operand::new(w, Op::T, k), d, 0.0, col, n);
            col2im(col, c.cin, c.s, n, &mut gi[at..], ld);
        }
    }
}

/// `d .*= [out > 0]` row by row (`gb.len()` rows), adding each row's sum to `gb`. The sum runs
/// in [`LANES`] interleaved partial sums (`wide` vectors: one serial chain of f32 additions
/// costs about a millisecond on conv2's rows at batch 32), added in a fixed order at the end.
fn relu_mask_rowsum(d: &mut [f32], out: &[f32], gb: &mut [f32]) {
    use wide::{f32x8, CmpLe};
    let n = d.len() / gb.len().max(1);
    for ((drow, orow), g) in d.chunks_exact_mut(n).zip(out.chunks_exact(n)).zip(gb) {
        let mut acc = [f32x8::ZERO; LANES / 8];
        let mut dc = drow.chunks_exact_mut(LANES);
        let mut oc = orow.chunks_exact(LANES);
        for (dl, ol) in (&mut dc).zip(&mut oc) {
            for ((dv, ov), a) in dl.chunks_exact_mut(8).zip(ol.chunks_exact(8)).zip(&mut acc) {
                let o = f32x8::from(<[f32; 8]>::try_from(ov).unwrap_or_default());
                let v = f32x8::from(<[f32; 8]>::try_from(&*dv).unwrap_or_default());
                // out <= 0 (false for NaN) zeroes the gradient
                let kept = o.cmp_le(f32x8::ZERO).blend(f32x8::ZERO, v);
                dv.copy_from_slice(&kept.to_array());
                *a += kept;
            }
        }
        let mut tail = 0.0f32;
        for (dv, &o) in dc.into_remainder().iter_mut().zip(oc.remainder()) {
            if o <= 0.0 {
                *dv = 0.0;
            }
            tail += *dv;
        }
        let lanes: f32 = acc.iter().map(|a| a.to_array().iter().sum::<f32>()).sum();
        *g += lanes + tail;
    }
}

/// Partial sums of [`relu_mask_rowsum`]: two vectors of 8 f32.
const LANES: usize = 16;

/// 2x2 max-pool of stride 2 over `c x b x H x W`, into `out` (`c x b x H/2 x W/2`), with the
/// position of each maximum (0..4, first maximum in reading order; a NaN never wins unless it
/// is first) in `arg`.
pub fn maxpool(input: &[f32], planes: usize, s: Hw, out: &mut [f32], arg: &mut [u8]) {
    let p = s.pooled();
    for pl in 0..planes {
        let src = &input[pl * s.px()..(pl + 1) * s.px()];
        let o = &mut out[pl * p.px()..(pl + 1) * p.px()];
        let a = &mut arg[pl * p.px()..(pl + 1) * p.px()];
        for y in 0..p.h {
            for x in 0..p.w {
                let at = |k: usize| src[(2 * y + k / 2) * s.w + 2 * x + k % 2];
                let mut best = 0u8;
                let mut v = at(0);
                for k in 1..4 {
                    let u = at(k);
                    if u > v {
                        v = u;
                        best = k as u8;
                    }
                }
                o[y * p.w + x] = v;
                a[y * p.w + x] = best;
            }
        }
    }
}

/// Backward of [`maxpool`]: `grad_in` (`c x b x H x W`) gets each output gradient at the
/// position of its maximum and 0 elsewhere.
pub fn maxpool_backward(d_out: &[f32], arg: &[u8], planes: usize, s: Hw, grad_in: &mut [f32]) {
    let p = s.pooled();
    grad_in[..planes * s.px()].fill(0.0);
    for pl in 0..planes {
        let g = &mut grad_in[pl * s.px()..(pl + 1) * s.px()];
        for y in 0..p.h {
            for x in 0..p.w {
                let i = pl * p.px() + y * p.w + x;
                let k = usize::from(arg[i]);
                g[(2 * y + k / 2) * s.w + 2 * x + k % 2] = d_out[i];
            }
        }
    }
}

/// Inverted dropout with drop probability `p`: each value is kept with probability `1 - p` and
/// scaled by `1 / (1 - p)` (as MXNet's and PyTorch's Dropout in training), the scale factors
/// (0 or `1 / (1 - p)`) written to `mask`. One `u32` is drawn per value, in order, so a stream
/// gives the same masks on any thread. Without `rng` (evaluation) the mask is all ones.
pub fn dropout(v: &mut [f32], mask: &mut [f32], p: f32, rng: Option<&mut Rng>) {
    let mask = &mut mask[..v.len()];
    match rng {
        None => mask.fill(1.0),
        Some(rng) => {
            let threshold = (f64::from(p) * 4_294_967_296.0) as u64;
            let keep = 1.0 / (1.0 - p);
            for (x, m) in v.iter_mut().zip(mask.iter_mut()) {
                let r = u64::from(rand::Rng::random::<u32>(rng));
                *m = if r < threshold { 0.0 } else { keep };
                *x *= *m;
            }
        }
    }
}

/// Channel-major `c x b x px` to sample-major `b x (c px)` (PyTorch's flatten of NCHW).
pub fn to_rows(cm: &[f32], c: usize, b: usize, px: usize, rows: &mut [f32]) {
    for ci in 0..c {
        for img in 0..b {
            rows[img * c * px + ci * px..][..px].copy_from_slice(&cm[(ci * b + img) * px..][..px]);
        }
    }
}

/// The inverse of [`to_rows`].
pub fn from_rows(rows: &[f32], c: usize, b: usize, px: usize, cm: &mut [f32]) {
    for ci in 0..c {
        for img in 0..b {
            cm[(ci * b + img) * px..][..px].copy_from_slice(&rows[img * c * px + ci * px..][..px]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_conv(input: &[f32], cin: usize, b: usize, s: Hw, w: &[f32], cout: usize) -> Vec<f32> {
        let n = b * s.px();
        let mut out = vec![0.0f32; cout * n];
        for co in 0..cout {
            for img in 0..b {
                for y in 0..s.h as isize {
                    for x in 0..s.w as isize {
                        let mut acc = 0.0f64;
                        for ci in 0..cin {
                            for kh in 0..3isize {
                                for kw in 0..3isize {
                                    let (yy, xx) = (y + kh - 1, x + kw - 1);
                                    if yy < 0 || xx < 0 || yy >= s.h as isize || xx >= s.w as isize
                                    {
                                        continue;
                                    }
                                    let iv = input
                                        [(ci * b + img) * s.px() + yy as usize * s.w + xx as usize];
                                    let wv = w[co * 9 * cin + ci * 9 + (kh * 3 + kw) as usize];
                                    acc += f64::from(iv) * f64::from(wv);
                                }
                            }
                        }
                        out[(co * b + img) * s.px() + y as usize * s.w + x as usize] = acc as f32;
                    }
                }
            }
        }
        out
    }

    fn vals(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn im2col_product_is_the_convolution() {
        let (cin, cout, b, s) = (3, 7, 2, Hw { h: 5, w: 6 });
        let input = vals(cin * b * s.px(), 1);
        let w = vals(cout * 9 * cin, 2);
        let mut col = vec![0.0; 9 * cin * b * s.px()];
        let mut out = vec![0.0; cout * b * s.px()];
        let bias = vec![0.0; cout];
        conv_relu(Conv::new(cin, b, s), &input, &w, &bias, &mut col, &mut out);
        let want = naive_conv(&input, cin, b, s, &w, cout);
        for (o, r) in out.iter().zip(&want) {
            assert!((o - r.max(0.0)).abs() < 1e-5, "{o} vs {r}");
        }
    }

    #[test]
    fn blocks_of_images_give_the_same_convolution_and_gradients() {
        // 16 channels of 24 x 24: one image per block by default, and any block size
        // gives the naive convolution and the same gradients up to the order of the sums
        let (cin, cout, b, s) = (16, 5, 3, Hw { h: 24, w: 24 });
        assert_eq!(chunk_images(cin, s.px(), b), 1);
        assert_eq!(chunk_images(1, s.px(), b), 3);
        let n = b * s.px();
        let input = vals(cin * n, 6);
        let w = vals(cout * 9 * cin, 7);
        let bias = vals(cout, 8);
        let d = vals(cout * n, 9);
        let want = naive_conv(&input, cin, b, s, &w, cout);
        let mut runs = Vec::new();
        for step in [1, 2, 3] {
            let mut col = vec![f32::NAN; 9 * cin * step * s.px()];
            let mut out = vec![f32::NAN; cout * n];
            let c = Conv::new(cin, b, s).with_step(step);
            conv_relu(c, &input, &w, &bias, &mut col, &mut out);
            for (i, (o, r)) in out.iter().zip(&want).enumerate() {
                let r = (f64::from(*r) + f64::from(bias[i / n])).max(0.0);
                assert!((f64::from(*o) - r).abs() < 1e-4, "step {step}: {o} vs {r}");
            }
            let (mut gw, mut gb, mut gi) =
                (vec![7.0; w.len()], vec![0.0; cout], vec![9.0; cin * n]);
            let grads = (&mut gw[..], &mut gb[..], 0.0);
            let mut dd = d.clone();
            let wo = (&w[..], &out[..]);
            conv_relu_backward(c, &input, wo, &mut dd, grads, &mut col, Some(&mut gi));
            runs.push((gw, gb, gi));
        }
        for (gw, gb, gi) in &runs[1..] {
            let close = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + y.abs()))
            };
            assert!(close(gw, &runs[0].0) && close(gi, &runs[0].2));
            assert_eq!(gb, &runs[0].1);
        }
        // the weight gradient is dOut col^T: check one entry against its definition
        let (o, c, tap) = (2, 11, 4);
        let (mut dd, mut out) = (d.clone(), vec![0.0; cout * n]);
        let mut col = vec![0.0; 9 * cin * n];
        conv_relu(
            Conv::new(cin, b, s).with_step(b),
            &input,
            &w,
            &bias,
            &mut col,
            &mut out,
        );
        relu_mask_rowsum(&mut dd, &out, &mut vec![0.0; cout]);
        let want: f64 = (0..n)
            .map(|i| {
                let (img, p) = (i / s.px(), i % s.px());
                let (y, x) = (
                    (p / s.w) as isize + tap / 3 - 1,
                    (p % s.w) as isize + tap % 3 - 1,
                );
                let inside = (0..s.h as isize).contains(&y) && (0..s.w as isize).contains(&x);
                let v = if inside {
                    input[c * n + img * s.px() + y as usize * s.w + x as usize]
                } else {
                    0.0
                };
                f64::from(dd[o * n + i]) * f64::from(v)
            })
            .sum();
        let got = runs[0].0[o * 9 * cin + c * 9 + tap as usize];
        assert!((f64::from(got) - want).abs() < 1e-3, "{got} vs {want}");
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> == <x, col2im(y)> for any x, y
        let (c, b, s) = (2, 3, Hw { h: 4, w: 3 });
        let x = vals(c * b * s.px(), 3);
        let y = vals(9 * c * b * s.px(), 4);
        let mut col = vec![0.0; y.len()];
        let n = b * s.px();
        im2col(&x, c, n, s, n, &mut col);
        let mut back = vec![0.0; x.len()];
        col2im(&mut y.clone(), c, s, n, &mut back, n);
        let lhs: f64 = col
            .iter()
            .zip(&y)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        let rhs: f64 = x
            .iter()
            .zip(&back)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        assert!(
            (lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }

    #[test]
    fn maxpool_routes_gradient_to_the_first_maximum() {
        let s = Hw { h: 4, w: 4 };
        let mut x = vals(2 * s.px(), 5);
        x[0] = 3.0;
        x[1] = 3.0; // tie in the first window: the first wins
        let mut out = vec![0.0; 2 * 4];
        let mut arg = vec![0u8; 8];
        maxpool(&x, 2, s, &mut out, &mut arg);
        assert_eq!((out[0], arg[0]), (3.0, 0));
        let d: Vec<f32> = (1..=8).map(|v| v as f32).collect();
        let mut g = vec![9.0; x.len()];
        maxpool_backward(&d, &arg, 2, s, &mut g);
        assert_eq!(g.iter().sum::<f32>(), 36.0);
        assert_eq!(g[0], 1.0);
        assert_eq!(g[1], 0.0);
        // a NaN does not panic and does not win over a number after it
        let mut y = vec![f32::NAN, 1.0, 2.0, f32::NAN];
        y.extend([0.0; 12]);
        maxpool(&y, 1, s, &mut out[..4], &mut arg[..4]);
    }

    #[test]
    fn dropout_keeps_about_one_minus_p_and_scales() {
        use rand::SeedableRng;
        let mut rng = Rng::seed_from_u64(3);
        let mut v = vec![1.0f32; 100_000];
        let mut m = vec![0.0f32; v.len()];
        dropout(&mut v, &mut m, 0.2, Some(&mut rng));
        let kept = m.iter().filter(|&&x| x > 0.0).count() as f64 / 1e5;
        assert!((kept - 0.8).abs() < 0.01, "{kept}");
        assert!(v.iter().all(|&x| x == 0.0 || x == 1.25));
        let mut w = vec![2.0f32; 10];
        dropout(&mut w, &mut m, 0.2, None);
        assert!(w.iter().all(|&x| x == 2.0));
    }

    #[test]
    fn rows_round_trip() {
        let (c, b, px) = (3, 4, 5);
        let cm = vals(c * b * px, 6);
        let mut rows = vec![0.0; cm.len()];
        to_rows(&cm, c, b, px, &mut rows);
        assert_eq!(rows[px], cm[b * px]); // sample 0, channel 1
        let mut back = vec![0.0; cm.len()];
        from_rows(&rows, c, b, px, &mut back);
        assert_eq!(back, cm);
    }
}

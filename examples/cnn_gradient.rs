//! Writes one CNN mini-batch gradient on a fixed input for an independent check against
//! PyTorch (`examples/cnn_gradient_torch.py`): the parameters (laid out as PyTorch's
//! `state_dict`, flattened in order), the images, the labels, the loss and the gradient, as
//! .npy files in the given folder. Evaluation mode (no dropout), so both sides compute the same
//! function.
//!
//! `cargo run --release --example cnn_gradient -- OUT_DIR [C H W BATCH]` (default 3 32 32 8).

use phocas::data::Dataset;
use phocas::objectives::cnn::Cnn;
use phocas::objectives::network::Network;
use phocas::rng::Rng;
use rand::{Rng as _, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(
        args.first()
            .ok_or("usage: cnn_gradient OUT_DIR [C H W BATCH]")?,
    );
    let num = |i: usize, d: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (c, h, w, b) = (num(1, 3), num(2, 32), num(3, 32), num(4, 8));
    std::fs::create_dir_all(&out)?;
    let mut rng = Rng::seed_from_u64(2018);
    let data = Dataset {
        images: (0..b * c * h * w).map(|_| rng.random::<f32>()).collect(),
        labels: (0..b).map(|_| rng.random_range(0..10u8)).collect(),
        n: b,
        channels: c,
        rows: h,
        cols: w,
    };
    let cnn = Cnn::new(Arc::new(data.clone()))?;
    let mut p = cnn.init_params(&mut rng);
    // biases away from zero, so the check covers them
    let l = *cnn.layout();
    for k in (1..14).step_by(2) {
        for v in &mut p[l.off[k]..l.off[k + 1]] {
            *v = 0.05 * (rng.random::<f32>() - 0.3);
        }
    }
    let mut g = vec![0.0f32; cnn.dim()];
    let idx: Vec<usize> = (0..b).collect();
    let loss = cnn.batch_grad(&p, &idx, None, &mut cnn.new_scratch(32), &mut g);
    phocas::npy::write(&out.join("params.npy"), &p, &[p.len()])?;
    phocas::npy::write(&out.join("grad.npy"), &g, &[g.len()])?;
    phocas::npy::write(&out.join("images.npy"), &data.images, &[b, c, h, w])?;
    let labels: Vec<f64> = data.labels.iter().map(|&v| f64::from(v)).collect();
    phocas::npy::write(&out.join("labels.npy"), &labels, &[b])?;
    phocas::npy::write(&out.join("loss.npy"), &[loss], &[1])?;
    let offsets: Vec<f64> = l.off.iter().map(|&v| v as f64).collect();
    phocas::npy::write(&out.join("offsets.npy"), &offsets, &[offsets.len()])?;
    println!(
        "{} parameters, loss {loss:.6}; files in {}",
        cnn.dim(),
        out.display()
    );
    Ok(())
}

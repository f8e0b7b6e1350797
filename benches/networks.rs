//! Criterion benches of one worker's mini-batch gradient for the two networks of the paper:
//! the MLP (Table 2) at batch 32 and the CNN (Table 3) at the Fashion-MNIST stand-in's
//! 1 x 28 x 28 with batch 32 and at CIFAR-10's 3 x 32 x 32 with batch 128 (Table 1), in
//! training mode (dropout masks drawn). Inputs are uniform pixels from a fixed seed; the
//! timed call is exactly what a worker runs each round. `benches/torch_networks.py` times
//! PyTorch on the same shapes for the side-by-side comparison.
//!
//! `worker_gradient/mlp_prepared/...` times the MLP's gradient as the simulator runs it, with the
//! transposed weight matrices made once a round (`Network::prepare`).
//!
//! `round/cnn/...` times a whole round of 20 such gradients on the rayon pool, as `train` runs
//! them. `cargo bench --bench networks` (about two minutes on two cores).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use phocas::data::Dataset;
use phocas::objectives::cnn::Cnn;
use phocas::objectives::mlp::Mlp;
use phocas::objectives::network::Network;
use phocas::rng::Rng;
use rand::{Rng as _, SeedableRng};
use std::sync::Arc;
use std::time::Duration;

fn data(n: usize, c: usize, h: usize) -> Arc<Dataset> {
    let mut rng = Rng::seed_from_u64(1);
    Arc::new(Dataset {
        images: (0..n * c * h * h).map(|_| rng.random::<f32>()).collect(),
        labels: (0..n).map(|_| rng.random_range(0..10u8)).collect(),
        n,
        channels: c,
        rows: h,
        cols: h,
    })
}

fn bench_net<N: Network>(c: &mut Criterion, net: N, batch: usize, id: &str) {
    let mut rng = Rng::seed_from_u64(2);
    let p = net.init_params(&mut rng);
    let mut g = vec![0.0f32; net.dim()];
    let mut s = net.new_scratch(batch.min(net.scratch_batch()));
    let idx: Vec<usize> = (0..batch).collect();
    let mut prepared = N::Prepared::default();
    net.prepare(&p, &mut prepared);
    let mut grp = c.benchmark_group("worker_gradient");
    grp.sample_size(10).measurement_time(Duration::from_secs(8));
    grp.bench_function(BenchmarkId::new(net.name(), id), |b| {
        b.iter(|| net.batch_grad(&p, &idx, Some(&mut rng), &mut s, &mut g))
    });
    // as the simulator runs it: with what `prepare` made once a round (for the MLP, the
    // stored transposes of its weight matrices; nothing for the CNN)
    grp.bench_function(
        BenchmarkId::new(format!("{}_prepared", net.name()), id),
        |b| b.iter(|| net.batch_grad_prepared(&p, &prepared, &idx, Some(&mut rng), &mut s, &mut g)),
    );
    grp.finish();
}

/// One round of `workers` gradients computed in parallel on the rayon pool (one scratch per
/// worker, each worker's dropout stream from its index), as the simulator runs a round: the
/// figure the issue compares with PyTorch's sequential loop of 20 gradients.
fn bench_round<N: Network + Sync>(c: &mut Criterion, net: N, batch: usize, workers: usize, id: &str)
where
    N::Scratch: Send,
{
    use rayon::prelude::*;
    let p = net.init_params(&mut Rng::seed_from_u64(2));
    let d = net.dim();
    let mut g = vec![0.0f32; workers * d];
    let idx: Vec<usize> = (0..batch).collect();
    let sb = batch.min(net.scratch_batch());
    let mut scratches: Vec<N::Scratch> = (0..workers).map(|_| net.new_scratch(sb)).collect();
    let mut grp = c.benchmark_group("round");
    grp.sample_size(10)
        .measurement_time(Duration::from_secs(10));
    grp.bench_function(BenchmarkId::new(net.name(), id), |b| {
        b.iter(|| {
            g.par_chunks_mut(d)
                .zip(scratches.par_iter_mut())
                .enumerate()
                .for_each(|(w, (out, s))| {
                    let mut rng = Rng::seed_from_u64(100 + w as u64);
                    net.batch_grad(&p, &idx, Some(&mut rng), s, out);
                })
        })
    });
    grp.finish();
}

fn benches(c: &mut Criterion) {
    // a batch gradient runs on the calling thread (the simulator runs workers in parallel)
    bench_net(c, Mlp::new(data(256, 1, 28)).unwrap(), 32, "1x28x28_b32");
    bench_net(c, Cnn::new(data(256, 1, 28)).unwrap(), 32, "1x28x28_b32");
    bench_net(c, Cnn::new(data(256, 3, 32)).unwrap(), 128, "3x32x32_b128");
    // a round of 20 workers on the whole pool
    bench_round(
        c,
        Cnn::new(data(256, 1, 28)).unwrap(),
        32,
        20,
        "20x_1x28x28_b32",
    );
    bench_round(
        c,
        Cnn::new(data(256, 3, 32)).unwrap(),
        128,
        20,
        "20x_3x32x32_b128",
    );
}

criterion_group!(networks, benches);
criterion_main!(networks);

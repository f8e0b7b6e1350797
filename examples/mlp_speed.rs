//! Speed of the Table 2 MLP's mini-batch gradients on Fashion-MNIST, at the paper's MNIST
//! setting (Table 1): 500 rounds x 20 workers x batch 32.
//!
//! ```text
//! cargo run --release --example mlp_speed [-- --data-dir DIR] [--rounds R]
//! ```
//!
//! Times the 10000 gradients sequentially (one thread) and with rayon over the workers, each
//! worker with its own scratch, writing into a 20 x d gradient matrix as the parameter server
//! would receive it. A plain mean-aggregated SGD step (gamma = 0.1) is applied after each round,
//! so the figures include that and the run ends with a test-set evaluation. FLOPs count
//! 2*M*N*K per GEMM.

use phocas::data::{self, DEFAULT_DATA_DIR};
use phocas::objectives::mlp::{Mlp, MlpScratch, CLASSES, HIDDEN, INPUT};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const WORKERS: usize = 20;
const BATCH: usize = 32;
const LR: f32 = 0.1;

/// FLOPs of one gradient per sample: forward (3 GEMMs) and backward (3 weight-gradient GEMMs,
/// 2 input-gradient GEMMs; none for the input layer).
fn flops_per_sample() -> f64 {
    let fwd = INPUT * HIDDEN + HIDDEN * HIDDEN + HIDDEN * CLASSES;
    let bwd_w = fwd;
    let bwd_x = HIDDEN * HIDDEN + HIDDEN * CLASSES;
    2.0 * (fwd + bwd_w + bwd_x) as f64
}

/// CPU time (user + system) of this process in seconds, from /proc/self/stat (Linux; clock
/// ticks of 1/100 s); `None` elsewhere.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct Run {
    secs: f64,
    cpu_secs: Option<f64>,
    grad_secs: f64,
    test_loss: f64,
    test_acc: f64,
}

fn run(mlp: &Mlp, test: &data::Dataset, rounds: usize, parallel: bool) -> Run {
    let d = mlp.dim();
    let mut params = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(1));
    let mut grads = vec![0.0f32; WORKERS * d];
    let mut scratches: Vec<MlpScratch> = (0..WORKERS).map(|_| mlp.new_scratch(BATCH)).collect();
    let mut rngs: Vec<ChaCha8Rng> = (0..WORKERS)
        .map(|w| ChaCha8Rng::seed_from_u64(100 + w as u64))
        .collect();
    let mut idx = vec![0usize; WORKERS * BATCH];
    let mut mean = vec![0.0f32; d];
    let start = Instant::now();
    let cpu0 = cpu_secs();
    let mut grad_secs = 0.0;
    for _ in 0..rounds {
        for (w, rng) in rngs.iter_mut().enumerate() {
            mlp.sample_batch(rng, BATCH, &mut idx[w * BATCH..(w + 1) * BATCH]);
        }
        let t = Instant::now();
        let p = &params;
        if parallel {
            grads
                .par_chunks_mut(d)
                .zip(scratches.par_iter_mut())
                .zip(idx.par_chunks(BATCH))
                .for_each(|((g, s), ix)| {
                    mlp.batch_grad_into(p, ix, s, g);
                });
        } else {
            for ((g, s), ix) in grads
                .chunks_mut(d)
                .zip(scratches.iter_mut())
                .zip(idx.chunks(BATCH))
            {
                mlp.batch_grad_into(p, ix, s, g);
            }
        }
        grad_secs += t.elapsed().as_secs_f64();
        // Mean aggregation and the SGD step.
        mean.copy_from_slice(&grads[..d]);
        for g in grads.chunks(d).skip(1) {
            for (m, v) in mean.iter_mut().zip(g) {
                *m += v;
            }
        }
        let step = LR / WORKERS as f32;
        for (w, m) in params.iter_mut().zip(&mean) {
            *w -= step * m;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu_secs = cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    let phocas::objectives::network::Eval {
        loss: test_loss,
        top1: test_acc,
        ..
    } = mlp.evaluate(&params, test, &mut mlp.new_scratch(256));
    Run {
        secs,
        cpu_secs,
        grad_secs,
        test_loss,
        test_acc,
    }
}

fn main() {
    let mut dir = PathBuf::from(DEFAULT_DATA_DIR);
    let mut rounds = 500usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--data-dir", Some(v)) => dir = PathBuf::from(v),
            ("--rounds", Some(v)) => rounds = v.parse().expect("--rounds takes a number"),
            _ => {
                eprintln!("usage: mlp_speed [--data-dir DIR] [--rounds R]");
                std::process::exit(2);
            }
        }
    }
    let t = Instant::now();
    let data = match data::load(&dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "loaded {} train + {} test images from {} in {:.2} s",
        data.train.n,
        data.test.n,
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    let test = data.test;
    let mlp = Mlp::new(Arc::new(data.train)).expect("Fashion-MNIST fits the MLP");

    let mut scratch = mlp.new_scratch(256);
    let p0 = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(1));
    let t = Instant::now();
    let phocas::objectives::network::Eval {
        loss: l, top1: a, ..
    } = mlp.evaluate(&p0, &test, &mut scratch);
    let eval_secs = t.elapsed().as_secs_f64();
    println!(
        "evaluate 10000 test images (chunks of 256): {:.1} ms (loss {l:.3}, accuracy {a:.3} at init)",
        eval_secs * 1e3
    );

    let grads = (rounds * WORKERS) as f64;
    let samples = grads * BATCH as f64;
    let flops = samples * flops_per_sample();
    println!(
        "{rounds} rounds x {WORKERS} workers x batch {BATCH} = {grads} gradients, {:.2} MFLOP each, {:.1} GFLOP in all; {} rayon threads",
        flops / grads / 1e6,
        flops / 1e9,
        rayon::current_num_threads()
    );
    // Warm-up (page faults, caches).
    run(&mlp, &test, 5, true);
    for (name, parallel) in [("sequential", false), ("rayon", true)] {
        let r = run(&mlp, &test, rounds, parallel);
        println!(
            "{name:>10}: gradients {:.2} s ({:.0} samples/s, {:.1} GFLOP/s, {:.2} ms/round); with mean+SGD step {:.2} s wall, {} CPU; test loss {:.3}, accuracy {:.3}",
            r.grad_secs,
            samples / r.grad_secs,
            flops / r.grad_secs / 1e9,
            r.grad_secs / rounds as f64 * 1e3,
            r.secs,
            r.cpu_secs
                .map_or("?".to_string(), |c| format!("{c:.2} s")),
            r.test_loss,
            r.test_acc
        );
    }
}

//! Criterion benches of the random draws the simulator makes in bulk: 2^20 standard-normal
//! values from one ChaCha8 stream, drawn one by one with `rand_distr::StandardNormal` and with
//! `phocas::rng::fill_standard_normal` (the same bits). The Gaussian attack draws 6 x 118,282
//! values a round in section 5's setting, and the Monte Carlo models draw m x d per trial.
//! `cargo bench --bench sampling` (under a minute).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use phocas::rng::{fill_standard_normal, hash_str, stream};
use rand_distr::{Distribution, StandardNormal};
use std::time::Duration;

fn benches(c: &mut Criterion) {
    let n = 1 << 20;
    let mut out = vec![0.0f64; n];
    let mut grp = c.benchmark_group("standard_normal");
    grp.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(n as u64));
    let mut rng = stream(1, hash_str("bench/normal"), 0);
    grp.bench_function(BenchmarkId::new("loop", n), |b| {
        b.iter(|| {
            for v in out.iter_mut() {
                *v = StandardNormal.sample(&mut rng);
            }
        })
    });
    grp.bench_function(BenchmarkId::new("bulk", n), |b| {
        b.iter(|| fill_standard_normal(&mut rng, &mut out))
    });
    grp.finish();
}

criterion_group!(sampling, benches);
criterion_main!(sampling);

//! Criterion benches of every registered rule and of the memory probe: the same calls that
//! `phocas bench-scaling` times (`phocas::bench`), so a regression shows in criterion's own
//! reports. One group per rule; ids carry the storage type, m and d; throughput is the m x d
//! values read per call. Inputs are N(0, 1) values from a fixed seed, built outside the timed
//! closures; b = q = floor((m - 1) / 4).
//!
//! `cargo bench` runs them all (a few minutes on two cores); `cargo bench -- trmean/f32` one
//! group and type.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use phocas::aggregators::REGISTRY;
use phocas::bench::{build_rule, default_trim, normal_values, read_probe, BenchScalar, PROBE};
use phocas::{AggregateExt, MatrixView, Workspace};
use std::time::Duration;

/// (m, d): the m sweep at d = 10^5 and the target point.
const POINTS: &[(usize, usize)] = &[(5, 100_000), (20, 100_000), (50, 100_000), (20, 1_000_000)];

const SEED: u64 = 1;

fn id<T: BenchScalar>(m: usize, d: usize) -> BenchmarkId {
    BenchmarkId::new(T::DTYPE.name(), format!("m{m}_d{d}"))
}

fn bench_type<T: BenchScalar>(c: &mut Criterion) {
    let len = POINTS.iter().map(|&(m, d)| m * d).max().unwrap_or(0);
    let data: Vec<T> = normal_values(len, SEED);
    let mut g = c.benchmark_group(PROBE);
    for &(m, d) in POINTS {
        let x = &data[..m * d];
        g.throughput(Throughput::Elements((m * d) as u64));
        g.bench_function(id::<T>(m, d), |b| {
            b.iter(|| read_probe(phocas::aggregators::Level::default(), x))
        });
    }
    g.finish();
    for info in REGISTRY {
        let mut g = c.benchmark_group(info.name);
        for &(m, d) in POINTS {
            let t = default_trim(m);
            // q at most the rule's largest (Bulyan: (m - 3) / 4), as bench-scaling does
            let q = info.param.max(m).flatten().map_or(t, |max| t.min(max));
            let rule = build_rule(info.name, m, t, q).expect("rule builds at the sweep's b, q");
            let x = MatrixView::new(&data[..m * d], m, d).expect("prefix is an m x d matrix");
            let mut ws = Workspace::new();
            let mut out = vec![T::default(); d];
            g.throughput(Throughput::Elements((m * d) as u64));
            g.bench_function(id::<T>(m, d), |b| {
                b.iter(|| {
                    rule.aggregate_into(x, &mut ws, &mut out)
                        .expect("shapes match")
                })
            });
        }
        g.finish();
    }
}

fn rules(c: &mut Criterion) {
    bench_type::<f32>(c);
    bench_type::<f64>(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(2500));
    targets = rules
}
criterion_main!(benches);

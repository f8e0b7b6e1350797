use super::*;
use rand::{Rng as _, SeedableRng};

fn dataset(n: usize, c: usize, h: usize, w: usize, seed: u64) -> Dataset {
    let mut rng = Rng::seed_from_u64(seed);
    Dataset {
        images: (0..n * c * h * w).map(|_| rng.random::<f32>()).collect(),
        labels: (0..n).map(|_| rng.random_range(0..10u8)).collect(),
        n,
        channels: c,
        rows: h,
        cols: w,
    }
}

/// Parameters with biases away from zero, so ReLUs and their gradients are exercised.
fn params(cnn: &Cnn, seed: u64) -> Vec<f32> {
    let mut rng = Rng::seed_from_u64(seed);
    let mut p = cnn.init_params(&mut rng);
    let l = *cnn.layout();
    for k in (1..14).step_by(2) {
        for v in &mut p[l.off[k]..l.off[k + 1]] {
            *v = 0.1 * (rng.random::<f32>() - 0.3);
        }
    }
    p
}

/// Masks of the four dropout layers in the scratch's layouts (all ones: no dropout).
struct Masks {
    m1: Vec<f64>,
    m2: Vec<f64>,
    m3: Vec<f64>,
    m4: Vec<f64>,
}

/// An independent f64 reference: naive loops over the layers of Table 3, sample by sample.
fn ref_loss(l: &Layout, p: &[f64], data: &Dataset, idx: &[usize], mk: &Masks) -> f64 {
    let nb = idx.len();
    let blk = |k: usize| &p[l.off[k]..l.off[k + 1]];
    let conv = |x: &[f64], cin: usize, s: Hw, w: &[f64], b: &[f64]| -> Vec<f64> {
        let cout = b.len();
        let mut out = vec![0.0; cout * s.px()];
        for co in 0..cout {
            for y in 0..s.h as isize {
                for xx in 0..s.w as isize {
                    let mut acc = b[co];
                    for ci in 0..cin {
                        for kh in 0..3isize {
                            for kw in 0..3isize {
                                let (yy, xs) = (y + kh - 1, xx + kw - 1);
                                if yy < 0 || xs < 0 || yy >= s.h as isize || xs >= s.w as isize {
                                    continue;
                                }
                                acc += x[ci * s.px() + yy as usize * s.w + xs as usize]
                                    * w[co * 9 * cin + ci * 9 + (kh * 3 + kw) as usize];
                            }
                        }
                    }
                    out[co * s.px() + y as usize * s.w + xx as usize] = acc.max(0.0);
                }
            }
        }
        out
    };
    let pool = |x: &[f64], c: usize, s: Hw| -> Vec<f64> {
        let q = s.pooled();
        let mut out = vec![0.0; c * q.px()];
        for ci in 0..c {
            for y in 0..q.h {
                for xx in 0..q.w {
                    let at = |k: usize| x[ci * s.px() + (2 * y + k / 2) * s.w + 2 * xx + k % 2];
                    out[ci * q.px() + y * q.w + xx] = (1..4).map(at).fold(at(0), f64::max);
                }
            }
        }
        out
    };
    let dense = |x: &[f64], w: &[f64], b: &[f64], relu: bool| -> Vec<f64> {
        b.iter()
            .enumerate()
            .map(|(o, &bo)| {
                let v = bo
                    + x.iter()
                        .zip(&w[o * x.len()..])
                        .map(|(a, c)| a * c)
                        .sum::<f64>();
                if relu {
                    v.max(0.0)
                } else {
                    v
                }
            })
            .collect()
    };
    let mut loss = 0.0;
    for (k, &i) in idx.iter().enumerate() {
        let x: Vec<f64> = data.image(i).iter().map(|&v| f64::from(v)).collect();
        let a1 = conv(&x, l.c, l.s0, blk(0), blk(1));
        let a2 = conv(&a1, C1, l.s0, blk(2), blk(3));
        let mut p1 = pool(&a2, C1, l.s0);
        let px1 = l.s1.px();
        for c in 0..C1 {
            for j in 0..px1 {
                p1[c * px1 + j] *= mk.m1[(c * nb + k) * px1 + j];
            }
        }
        let a3 = conv(&p1, C1, l.s1, blk(4), blk(5));
        let a4 = conv(&a3, C2, l.s1, blk(6), blk(7));
        let mut p2 = pool(&a4, C2, l.s1);
        let px2 = l.s2.px();
        for c in 0..C2 {
            for j in 0..px2 {
                p2[c * px2 + j] *= mk.m2[(c * nb + k) * px2 + j];
            }
        }
        let mut h1 = dense(&p2, blk(8), blk(9), true);
        for (j, v) in h1.iter_mut().enumerate() {
            *v *= mk.m3[k * FC + j];
        }
        let mut h2 = dense(&h1, blk(10), blk(11), true);
        for (j, v) in h2.iter_mut().enumerate() {
            *v *= mk.m4[k * FC + j];
        }
        let z = dense(&h2, blk(12), blk(13), false);
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = z.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
        loss += lse - z[usize::from(data.labels[i])];
    }
    loss / nb as f64
}

fn ones(l: &Layout, nb: usize) -> Masks {
    Masks {
        m1: vec![1.0; C1 * nb * l.s1.px()],
        m2: vec![1.0; C2 * nb * l.s2.px()],
        m3: vec![1.0; nb * FC],
        m4: vec![1.0; nb * FC],
    }
}

fn masks_of(s: &CnnScratch, l: &Layout, nb: usize) -> Masks {
    let f = |v: &[f32], n: usize| v[..n].iter().map(|&x| f64::from(x)).collect();
    Masks {
        m1: f(&s.m1, C1 * nb * l.s1.px()),
        m2: f(&s.m2, C2 * nb * l.s2.px()),
        m3: f(&s.m3, nb * FC),
        m4: f(&s.m4, nb * FC),
    }
}

#[test]
fn parameter_counts_match_table_3() {
    // CIFAR-10 (3 x 32 x 32) and the Fashion-MNIST stand-in (1 x 28 x 28)
    assert_eq!(Layout::new(3, 32, 32).dim(), 2_431_018);
    assert_eq!(Layout::new(1, 28, 28).dim(), 1_938_922);
    let l = Layout::new(1, 28, 28);
    assert_eq!(l.flat(), 64 * 7 * 7);
    assert_eq!(l.off[8], 320 + 9248 + 18496 + 36928);
}

/// Checks batch_grad's loss against the f64 reference and its gradient against central
/// differences of the reference, on a few coordinates of every block (every layer kind),
/// with dropout masks drawn (`drop`) or not.
fn check_gradient(drop: bool) {
    let data = Arc::new(dataset(7, 2, 8, 6, 1));
    let cnn = Cnn::new(data.clone()).unwrap();
    let l = *cnn.layout();
    let p = params(&cnn, 2);
    let idx = [0, 3, 5, 5, 6];
    let mut s = cnn.new_scratch(8);
    let mut g = vec![f32::NAN; l.dim()];
    let mut rng = Rng::seed_from_u64(9);
    let loss = cnn.batch_grad(&p, &idx, drop.then_some(&mut rng), &mut s, &mut g);
    let mk = if drop {
        masks_of(&s, &l, idx.len())
    } else {
        ones(&l, idx.len())
    };
    if drop {
        let dropped = mk.m3.iter().filter(|&&m| m == 0.0).count();
        assert!(dropped > 0 && dropped < mk.m3.len() / 2, "{dropped}");
    }
    let p64: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
    let want = ref_loss(&l, &p64, &data, &idx, &mk);
    assert!((loss - want).abs() < 1e-5 * want, "loss {loss} vs {want}");
    let mut pick = Rng::seed_from_u64(4);
    let (mut checked, eps) = (0, 1e-6);
    for k in 0..14 {
        for _ in 0..6 {
            let j = pick.random_range(l.off[k]..l.off[k + 1]);
            let mut q = p64.clone();
            q[j] += eps;
            let up = ref_loss(&l, &q, &data, &idx, &mk);
            q[j] -= 2.0 * eps;
            let down = ref_loss(&l, &q, &data, &idx, &mk);
            let fd = (up - down) / (2.0 * eps);
            let an = f64::from(g[j]);
            assert!(
                (fd - an).abs() <= 3e-3 * fd.abs() + 3e-6,
                "block {k} param {j}: finite difference {fd}, analytic {an}"
            );
            checked += usize::from(an.abs() > 1e-5);
        }
    }
    assert!(checked >= 40, "only {checked} non-trivial gradients");
}

#[test]
fn gradient_matches_finite_differences() {
    check_gradient(false);
}

#[test]
fn gradient_with_dropout_matches_finite_differences() {
    check_gradient(true);
}

#[test]
fn chunked_batch_matches_single_pass() {
    let data = Arc::new(dataset(20, 3, 6, 6, 4));
    let cnn = Cnn::new(data).unwrap();
    let p = params(&cnn, 5);
    let idx: Vec<usize> = (0..13).map(|i| (i * 7) % 20).collect();
    let d = cnn.dim();
    let (mut g1, mut g2) = (vec![0.0; d], vec![0.0; d]);
    let l1 = cnn.batch_grad(&p, &idx, None, &mut cnn.new_scratch(32), &mut g1);
    let l2 = cnn.batch_grad(&p, &idx, None, &mut cnn.new_scratch(4), &mut g2);
    assert!((l1 - l2).abs() < 1e-6 * l1);
    let gmax = g1.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (a, b) in g1.iter().zip(&g2) {
        assert!((a - b).abs() <= 1e-5 * gmax, "{a} vs {b}");
    }
}

#[test]
fn deterministic_across_scratches_and_threads() {
    let data = Arc::new(dataset(40, 1, 12, 12, 6));
    let cnn = Cnn::new(data.clone()).unwrap();
    let p = params(&cnn, 7);
    let idx: Vec<usize> = (0..9).collect();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let mut g = vec![0.0; cnn.dim()];
                let mut rng = Rng::seed_from_u64(1);
                let l = cnn.batch_grad(&p, &idx, Some(&mut rng), &mut cnn.new_scratch(32), &mut g);
                let e = cnn.evaluate_par(&p, &data);
                (
                    l.to_bits(),
                    g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    e,
                )
            })
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.0, b.0);
    assert!(a.1 == b.1);
    assert_eq!(a.2.loss.to_bits(), b.2.loss.to_bits());
    assert_eq!(a.2.top3.to_bits(), b.2.top3.to_bits());
    // the evaluation's loss is the no-dropout batch loss over the whole set
    let all: Vec<usize> = (0..40).collect();
    let mut g = vec![0.0; cnn.dim()];
    let l = cnn.batch_grad(&p, &all, None, &mut cnn.new_scratch(32), &mut g);
    assert!((l - a.2.loss).abs() < 1e-6 * l, "{l} vs {}", a.2.loss);
    assert!(a.2.top1 <= a.2.top3 && (0.0..=1.0).contains(&a.2.top3));
}

#[test]
fn sgd_decreases_loss_on_learnable_data() {
    // class c: a bright square at a class-dependent place, plus noise
    let (n, h) = (120, 8);
    let mut rng = Rng::seed_from_u64(8);
    let mut images = vec![0.0f32; n * h * h];
    let mut labels = vec![0u8; n];
    for i in 0..n {
        let c = i % 4;
        labels[i] = c as u8;
        for y in 0..h {
            for x in 0..h {
                let on = (y / 4 == c / 2) && (x / 4 == c % 2);
                images[i * h * h + y * h + x] = f32::from(u8::from(on)) + 0.3 * rng.random::<f32>();
            }
        }
    }
    let data = Arc::new(Dataset {
        images,
        labels,
        n,
        channels: 1,
        rows: h,
        cols: h,
    });
    let cnn = Cnn::new(data.clone()).unwrap();
    let mut p = cnn.init_params(&mut rng);
    let mut s = cnn.new_scratch(16);
    let mut g = vec![0.0; cnn.dim()];
    let e0 = cnn.evaluate_par(&p, &data);
    for _ in 0..40 {
        let idx: Vec<usize> = (0..16).map(|_| rng.random_range(0..n)).collect();
        cnn.batch_grad(&p, &idx, Some(&mut rng), &mut s, &mut g);
        for (w, d) in p.iter_mut().zip(&g) {
            *w -= 0.05 * d;
        }
    }
    let e1 = cnn.evaluate_par(&p, &data);
    assert!(e1.loss < 0.5 * e0.loss, "{} -> {}", e0.loss, e1.loss);
    assert!(e1.top1 > 0.9, "{}", e1.top1);
}

#[test]
fn non_finite_params_and_empty_sets_do_not_panic() {
    let data = Arc::new(dataset(6, 1, 8, 8, 9));
    let cnn = Cnn::new(data.clone()).unwrap();
    let mut p = params(&cnn, 1);
    p[3] = f32::NAN;
    p[cnn.layout().off[8] + 2] = f32::INFINITY;
    let e = cnn.evaluate_par(&p, &data);
    assert!(!e.loss.is_finite() && (0.0..=1.0).contains(&e.top3));
    let mut g = vec![0.0; cnn.dim()];
    let l = cnn.batch_grad(&p, &[0, 1], None, &mut cnn.new_scratch(4), &mut g);
    assert!(!l.is_finite());
    let empty = dataset(0, 1, 8, 8, 0);
    assert!(cnn.evaluate_par(&p, &empty).top1.is_nan());
}

#[test]
fn rejects_unusable_datasets() {
    let tiny = dataset(3, 1, 3, 8, 0);
    let e = Cnn::new(Arc::new(tiny)).unwrap_err().to_string();
    assert!(e.contains("at least 1x4x4"), "{e}");
    let mut bad = dataset(3, 1, 8, 8, 0);
    bad.labels[1] = 12;
    assert!(Cnn::new(Arc::new(bad))
        .unwrap_err()
        .to_string()
        .contains("label 12"));
    let mut short = dataset(3, 1, 8, 8, 0);
    short.images.pop();
    assert!(Cnn::new(Arc::new(short)).is_err());
    assert!(Cnn::new(Arc::new(dataset(0, 1, 8, 8, 0))).is_err());
}

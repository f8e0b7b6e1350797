//! Non-i.i.d. splits of a labelled training set across m workers: Dirichlet(alpha) over labels
//! (Hsu, Qi, Brown 2019, the split of the heterogeneous-data literature): for each class, the
//! shares of the m workers are drawn from Dirichlet(alpha, ..., alpha) and the class's samples
//! (in a seeded random order) are cut in those proportions. Small alpha gives each worker a few
//! classes; large alpha tends to the i.i.d. split. A worker left without a sample receives one
//! from the largest part, so every worker can draw a batch.
//!
//! Dirichlet shares are normalised Gamma(alpha, 1) draws. Cost: O(n x classes + classes x m).

use crate::error::Error;
use crate::rng::Rng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Gamma};

/// The sample indices of each of `m` workers (every index in exactly one part).
pub fn dirichlet(
    labels: &[u8],
    m: usize,
    alpha: f64,
    rng: &mut Rng,
) -> Result<Vec<Vec<usize>>, Error> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(Error::Invalid(format!(
            "--dirichlet {alpha}: the concentration must be finite and positive (e.g. 0.1, 1, 10)"
        )));
    }
    if m == 0 || labels.len() < m {
        return Err(Error::Invalid(format!(
            "a Dirichlet split of {} samples over {m} workers: every worker needs a sample",
            labels.len()
        )));
    }
    let gamma =
        Gamma::new(alpha, 1.0).map_err(|e| Error::Invalid(format!("--dirichlet {alpha}: {e}")))?;
    let classes = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut parts = vec![Vec::new(); m];
    let mut shares = vec![0.0f64; m];
    for c in 0..classes {
        let mut idx: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == c)
            .collect();
        if idx.is_empty() {
            continue;
        }
        idx.shuffle(rng);
        shares.iter_mut().for_each(|s| *s = gamma.sample(rng));
        // divided by the largest draw first, so a huge alpha cannot overflow the sum
        let top = shares.iter().copied().fold(0.0f64, f64::max);
        if top > 0.0 && top.is_finite() {
            shares.iter_mut().for_each(|s| *s /= top);
        }
        let total: f64 = shares.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            // every draw underflowed (tiny alpha): one worker takes the class
            shares.fill(0.0);
            shares[rand::Rng::random_range(rng, 0..m)] = 1.0;
        }
        let total: f64 = shares.iter().sum();
        // cut points from the cumulative shares, so the parts cover the class exactly
        let n = idx.len();
        let mut acc = 0.0;
        let mut start = 0;
        for (w, s) in shares.iter().enumerate() {
            acc += s / total;
            let end = if w + 1 == m {
                n
            } else {
                ((acc * n as f64).round() as usize).clamp(start, n)
            };
            parts[w].extend_from_slice(&idx[start..end]);
            start = end;
        }
    }
    // no empty worker: take one sample from the largest part
    for w in 0..m {
        if parts[w].is_empty() {
            let big = (0..m)
                .max_by_key(|&i| (parts[i].len(), usize::MAX - i))
                .unwrap_or(0);
            if let Some(v) = parts[big].pop() {
                parts[w].push(v);
            }
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 10) as u8).collect()
    }

    #[test]
    fn every_sample_in_exactly_one_part() {
        let l = labels(1000);
        for alpha in [0.01, 0.1, 1.0, 100.0] {
            let mut rng = crate::rng::stream(1, 2, 3);
            let parts = dirichlet(&l, 20, alpha, &mut rng).unwrap();
            assert_eq!(parts.len(), 20);
            assert!(parts.iter().all(|p| !p.is_empty()), "alpha {alpha}");
            let mut all: Vec<usize> = parts.concat();
            all.sort_unstable();
            assert_eq!(all, (0..1000).collect::<Vec<_>>(), "alpha {alpha}");
        }
    }

    #[test]
    fn small_alpha_concentrates_labels() {
        // the mean number of classes a worker holds (>= 5% of its samples) falls with alpha
        let l = labels(20000);
        let classes = |alpha: f64| {
            let mut rng = crate::rng::stream(4, 5, 6);
            let parts = dirichlet(&l, 20, alpha, &mut rng).unwrap();
            parts
                .iter()
                .map(|p| {
                    let mut c = [0usize; 10];
                    p.iter().for_each(|&i| c[l[i] as usize] += 1);
                    c.iter()
                        .filter(|&&k| k as f64 >= 0.05 * p.len() as f64)
                        .count() as f64
                })
                .sum::<f64>()
                / 20.0
        };
        let (a, b, c) = (classes(0.1), classes(1.0), classes(100.0));
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!(c > 9.5, "alpha 100 is near i.i.d.: {c}");
        assert!(a < 3.0, "alpha 0.1 gives a few classes a worker: {a}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut rng = crate::rng::stream(1, 2, 3);
        for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(dirichlet(&labels(100), 4, alpha, &mut rng).is_err());
        }
        assert!(dirichlet(&labels(3), 4, 1.0, &mut rng).is_err());
        // a huge alpha is the i.i.d. split, not one worker taking a class
        let parts = dirichlet(&labels(2000), 10, 1e300, &mut rng).unwrap();
        assert!(
            parts.iter().all(|p| (150..=250).contains(&p.len())),
            "{:?}",
            parts.iter().map(Vec::len).collect::<Vec<_>>()
        );
        // same seed, same split
        let a = dirichlet(&labels(500), 7, 0.3, &mut crate::rng::stream(9, 9, 9)).unwrap();
        let b = dirichlet(&labels(500), 7, 0.3, &mut crate::rng::stream(9, 9, 9)).unwrap();
        assert_eq!(a, b);
    }
}

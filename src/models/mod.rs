//! Gradient models: i.i.d. worker vectors v_i ~ G with a known mean g and an exactly known
//! total variance V = E||G - g||^2 (Definitions 2 and 5 of the paper).
//!
//! A worker's vector is g + S, where S combines n i.i.d. per-sample noise vectors xi_k:
//! S = (1/n) sum xi_k ("mean" reading, section 2 of the paper) or S = sum xi_k ("sum" reading,
//! section 3 defines G as a sum of n sample gradients). Each xi has independent coordinates
//! xi_j = s_j * z with z a unit-variance, zero-mean draw from the chosen [`Noise`], and
//! sum_j s_j^2 = V1 (the per-sample variance). Hence V = V1 / n (mean) or n V1 (sum), exactly.
//!
//! Adding a distribution: one file implementing [`Noise`] and one line in [`NOISES`].

mod gaussian;
mod laplace;
mod lognormal;
mod rademacher;
mod student_t;

use crate::error::Error;
use crate::rng::Rng;

/// A zero-mean, unit-variance scalar distribution.
pub trait Noise: Send + Sync {
    /// One standardized draw.
    fn sample(&self, rng: &mut Rng) -> f64;
    /// `out.len()` draws, as many calls of [`Noise::sample`] give them (a distribution with a
    /// faster bulk route overrides this; the bits must stay the same).
    fn fill(&self, rng: &mut Rng, out: &mut [f64]) {
        for v in out {
            *v = self.sample(rng);
        }
    }
}

/// Draws per bulk call of [`Noise::fill`] in [`GradientModel`]'s sampling.
const DRAWS: usize = 1024;

/// For every coordinate j, `f(j, z_j)` with `z_j` the sum of the coordinate's `n` draws, made
/// coordinate after coordinate and summed in order (the bits of the draw-by-draw loop).
fn summed_draws(
    noise: &dyn Noise,
    rng: &mut Rng,
    n: usize,
    d: usize,
    mut f: impl FnMut(usize, f64),
) {
    if n.saturating_mul(d) < crate::rng::MIN_BULK {
        // too few draws for the bulk route (and its buffer) to pay
        for j in 0..d {
            f(j, (0..n).fold(0.0, |z, _| z + noise.sample(rng)));
        }
        return;
    }
    let mut buf = [0f64; DRAWS];
    if n > DRAWS {
        for j in 0..d {
            let (mut z, mut left) = (0.0, n);
            while left > 0 {
                let c = left.min(DRAWS);
                noise.fill(rng, &mut buf[..c]);
                z = buf[..c].iter().fold(z, |z, &x| z + x);
                left -= c;
            }
            f(j, z);
        }
        return;
    }
    let per = DRAWS / n;
    for j0 in (0..d).step_by(per) {
        let c = per.min(d - j0);
        noise.fill(rng, &mut buf[..c * n]);
        for (i, draws) in buf[..c * n].chunks_exact(n).enumerate() {
            f(j0 + i, draws.iter().fold(0.0, |z, &x| z + x));
        }
    }
}

/// A registry entry for a noise distribution.
pub struct NoiseInfo {
    /// Name used in configs and tables.
    pub name: &'static str,
    /// Description.
    pub summary: &'static str,
    /// Whether the coordinate scales are spread (anisotropic) rather than equal.
    pub anisotropic: bool,
    /// Constructor.
    pub build: fn() -> Box<dyn Noise>,
}

/// All distributions, by name.
pub const NOISES: &[NoiseInfo] = &[
    NoiseInfo {
        name: "gaussian",
        summary: "isotropic Gaussian",
        anisotropic: false,
        build: || Box::new(gaussian::Gaussian),
    },
    NoiseInfo {
        name: "gaussian-aniso",
        summary: "Gaussian with diagonal covariance, scales spread over 3 decades",
        anisotropic: true,
        build: || Box::new(gaussian::Gaussian),
    },
    NoiseInfo {
        name: "student-t2.5",
        summary: "Student-t, nu = 2.5, scaled to unit variance (infinite 4th moment)",
        anisotropic: false,
        build: || Box::new(student_t::StudentT::new(2.5)),
    },
    NoiseInfo {
        name: "student-t3",
        summary: "Student-t, nu = 3, scaled to unit variance",
        anisotropic: false,
        build: || Box::new(student_t::StudentT::new(3.0)),
    },
    NoiseInfo {
        name: "student-t5",
        summary: "Student-t, nu = 5, scaled to unit variance",
        anisotropic: false,
        build: || Box::new(student_t::StudentT::new(5.0)),
    },
    NoiseInfo {
        name: "laplace",
        summary: "Laplace, scaled to unit variance",
        anisotropic: false,
        build: || Box::new(laplace::Laplace),
    },
    NoiseInfo {
        name: "lognormal",
        summary: "centred log-normal exp(Z) - e^(1/2), scaled to unit variance (skewed)",
        anisotropic: false,
        build: || Box::new(lognormal::LogNormal::new(1.0)),
    },
    NoiseInfo {
        name: "rademacher",
        summary: "two-point +-1",
        anisotropic: false,
        build: || Box::new(rademacher::Rademacher),
    },
];

/// Names of all distributions.
pub fn noise_names() -> String {
    NOISES.iter().map(|n| n.name).collect::<Vec<_>>().join(", ")
}

/// How a worker's n per-sample gradients are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reading {
    /// G is the mean of n sample gradients (section 2): V = V1 / n.
    #[default]
    Mean,
    /// G is the sum of n sample gradients (section 3): V = n V1.
    Sum,
}

impl Reading {
    /// The name in cell keys, which seed the Monte Carlo streams: spelled out here, so renaming
    /// a variant cannot change a seed (the bytes the derived `Debug` gave in version 0.2).
    pub fn key_name(self) -> &'static str {
        match self {
            Reading::Mean => "Mean",
            Reading::Sum => "Sum",
        }
    }
    /// The name in configs and tables (`mean`, `sum`).
    pub fn name(self) -> &'static str {
        match self {
            Reading::Mean => "mean",
            Reading::Sum => "sum",
        }
    }
}

/// A gradient distribution G with exact mean and variance.
pub struct GradientModel {
    name: &'static str,
    noise: Box<dyn Noise>,
    g: Vec<f64>,
    scales: Vec<f64>,
    n: usize,
    reading: Reading,
    v: f64,
}

impl GradientModel {
    /// Builds distribution `name` in dimension d with per-sample variance `v1`, n samples per
    /// worker and mean g of Euclidean norm `g_norm` (a fixed non-constant pattern).
    pub fn new(
        name: &str,
        d: usize,
        v1: f64,
        n: usize,
        reading: Reading,
        g_norm: f64,
    ) -> Result<Self, Error> {
        let info = NOISES
            .iter()
            .find(|x| x.name == name)
            .ok_or_else(|| Error::UnknownName {
                kind: "distribution",
                name: name.into(),
                known: noise_names(),
            })?;
        if d == 0 || n == 0 {
            return Err(Error::Invalid(format!(
                "distribution {name}: d = {d} and n = {n} must both be at least 1"
            )));
        }
        if !(v1.is_finite() && v1 > 0.0) {
            return Err(Error::Invalid(format!(
                "distribution {name}: variance {v1} must be finite and positive"
            )));
        }
        let w: Vec<f64> = if info.anisotropic && d > 1 {
            (0..d)
                .map(|j| 10f64.powf(-3.0 * j as f64 / (d - 1) as f64))
                .collect()
        } else {
            vec![1.0; d]
        };
        let wsum: f64 = w.iter().sum();
        let scales: Vec<f64> = w.iter().map(|wj| (v1 * wj / wsum).sqrt()).collect();
        let pattern: Vec<f64> = (0..d).map(|j| 1.0 + 0.5 * (j as f64).cos()).collect();
        let pn = pattern.iter().map(|x| x * x).sum::<f64>().sqrt();
        let g = pattern.iter().map(|x| g_norm * x / pn).collect();
        // exact V of the worker vector: sum_j s_j^2 * (1/n or n)
        let vs: f64 = scales.iter().map(|s| s * s).sum();
        let v = match reading {
            Reading::Mean => vs / n as f64,
            Reading::Sum => vs * n as f64,
        };
        Ok(Self {
            name: info.name,
            noise: (info.build)(),
            g,
            scales,
            n,
            reading,
            v,
        })
    }
    /// Distribution name.
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// Dimension d.
    pub fn d(&self) -> usize {
        self.g.len()
    }
    /// The mean g = E(G).
    pub fn mean(&self) -> &[f64] {
        &self.g
    }
    /// The exact total variance V = E||G - g||^2.
    pub fn variance(&self) -> f64 {
        self.v
    }
    /// Draws one worker vector into `out` (length d).
    pub fn sample_into(&self, rng: &mut Rng, out: &mut [f64]) {
        let scale = match self.reading {
            Reading::Mean => 1.0 / self.n as f64,
            Reading::Sum => 1.0,
        };
        let d = out.len().min(self.g.len());
        summed_draws(self.noise.as_ref(), rng, self.n, d, |j, z| {
            out[j] = self.g[j] + self.scales[j] * scale * z;
        });
    }
    /// Draws noise only (zero mean, variance V) into `out`, for objectives that add their own
    /// mean (the SGD simulator's quadratic).
    pub fn noise_into(&self, rng: &mut Rng, out: &mut [f64]) {
        let scale = match self.reading {
            Reading::Mean => 1.0 / self.n as f64,
            Reading::Sum => 1.0,
        };
        let d = out.len().min(self.scales.len());
        summed_draws(self.noise.as_ref(), rng, self.n, d, |j, z| {
            out[j] = self.scales[j] * scale * z;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_draws_keep_the_bits_of_the_draw_by_draw_loop() {
        use crate::rng::{hash_str, stream};
        for info in NOISES {
            let noise = (info.build)();
            let mut a = stream(5, hash_str(info.name), 0);
            let mut b = a.clone();
            let want: Vec<u64> = (0..3000).map(|_| noise.sample(&mut a).to_bits()).collect();
            let mut got = vec![0.0; 3000];
            noise.fill(&mut b, &mut got);
            let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
            assert_eq!(want, got, "{}", info.name);
            assert_eq!(a.get_word_pos(), b.get_word_pos(), "{}", info.name);
            // a worker vector: n draws summed per coordinate, in order (n above and below the
            // bulk buffer)
            for n in [1, 3, 1500] {
                let model =
                    GradientModel::new(info.name, 37, 2.0, n, Reading::Sum, 1.0).expect("model");
                let mut a = stream(6, hash_str(info.name), n as u64);
                let mut b = a.clone();
                let want: Vec<u64> = (0..37)
                    .map(|j| {
                        let z = (0..n).fold(0.0, |z, _| z + noise.sample(&mut a));
                        (model.mean()[j] + model.scales[j] * z).to_bits()
                    })
                    .collect();
                let mut got = vec![0.0; 37];
                model.sample_into(&mut b, &mut got);
                let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
                assert_eq!(want, got, "{} n = {n}", info.name);
                assert_eq!(a.get_word_pos(), b.get_word_pos(), "{} n = {n}", info.name);
            }
        }
    }

    #[test]
    fn reading_key_names_keep_the_seeds_of_version_0_2() {
        // pinned: the Monte Carlo cells' streams are keyed by these bytes
        assert_eq!(Reading::Mean.key_name(), "Mean");
        assert_eq!(Reading::Sum.key_name(), "Sum");
        assert_eq!((Reading::Mean.name(), Reading::Sum.name()), ("mean", "sum"));
    }
    use crate::rng::stream;

    /// Empirical mean and variance match the exact ones. With 20,000 draws of the total
    /// squared deviation, the check at 6 standard errors has a false-positive rate below 1e-8
    /// for the light-tailed laws; the heavy-tailed t2.5 gets a looser, one-sided check.
    #[test]
    fn exact_variance_matches_empirical() {
        for info in NOISES {
            for (n, reading) in [(1, Reading::Mean), (4, Reading::Mean), (3, Reading::Sum)] {
                let gm = GradientModel::new(info.name, 16, 2.0, n, reading, 1.5).unwrap();
                let mut rng = stream(7, crate::rng::hash_str(info.name), n as u64);
                let mut x = vec![0.0; 16];
                let trials = 20_000_usize;
                let (mut s, mut s2) = (0.0, 0.0);
                let mut mean_err = [0.0; 16];
                for _ in 0..trials {
                    gm.sample_into(&mut rng, &mut x);
                    let e: f64 = x.iter().zip(gm.mean()).map(|(a, g)| (a - g).powi(2)).sum();
                    s += e;
                    s2 += e * e;
                    for (me, (a, g)) in mean_err.iter_mut().zip(x.iter().zip(gm.mean())) {
                        *me += a - g;
                    }
                }
                let mean = s / trials as f64;
                let se = ((s2 / trials as f64 - mean * mean) / trials as f64).sqrt();
                let v = gm.variance();
                if info.name == "student-t2.5" {
                    assert!(
                        mean < v * 1.5 && mean > v * 0.7,
                        "{}: {mean} vs {v}",
                        info.name
                    );
                } else {
                    assert!(
                        (mean - v).abs() < 6.0 * se + 1e-9 * v,
                        "{} n={n}: {mean} vs {v} (se {se})",
                        info.name
                    );
                }
                let bias: f64 = mean_err.iter().map(|e| (e / trials as f64).powi(2)).sum();
                assert!(
                    bias < 20.0 * v / trials as f64,
                    "{}: bias {bias}",
                    info.name
                );
            }
        }
    }

    #[test]
    fn variance_formula() {
        let gm = GradientModel::new("gaussian", 10, 3.0, 3, Reading::Mean, 1.0).unwrap();
        assert!((gm.variance() - 1.0).abs() < 1e-12);
        let gm = GradientModel::new("gaussian-aniso", 10, 3.0, 2, Reading::Sum, 1.0).unwrap();
        assert!((gm.variance() - 6.0).abs() < 1e-12);
        let g2: f64 = gm.mean().iter().map(|x| x * x).sum();
        assert!((g2 - 1.0).abs() < 1e-12);
        assert!(GradientModel::new("cauchy", 10, 1.0, 1, Reading::Mean, 1.0).is_err());
    }
}

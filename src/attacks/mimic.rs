//! Mimic (Karimireddy, He, Jaggi, ICLR 2022): the Byzantine workers copy the honest worker
//! farthest from the honest mean, optionally amplified. Under heterogeneous data that worker is
//! an honest outlier a rule cannot tell from an attacker; with f copies it becomes the majority
//! view of its direction, and the rule's output drifts towards it.
//!
//! Each Byzantine value at (i, j) becomes mean_j + s (x[o, j] - mean_j), where mean_j is the
//! mean of the correct values of coordinate j and o the honest row (no Byzantine value) with the
//! largest squared distance to the honest mean (ties: the lowest index). s = 1 copies the row
//! exactly. When every row carries a Byzantine value (the generalized model at large q), o is
//! chosen over the correct entries only and a masked x[o, j] is replaced by mean_j.
//! Cost: three passes over the m x d matrix; no allocation once the thread's scratch is warm.
use super::{impl_attack, Target, VALUES};
use crate::rng::Rng;
use crate::scalar::Scalar;

/// Copy of the farthest honest row, scaled by `scale` about the honest mean.
pub struct Mimic {
    /// Amplification s (1: an exact copy).
    pub scale: f64,
}

impl Mimic {
    fn apply<T: Scalar>(&self, t: Target<'_, T>, _rng: &mut Rng) {
        let (m, d) = (t.m, t.d);
        if m == 0 || d == 0 || !t.mask.iter().any(|&b| b) {
            return;
        }
        let mut buf = VALUES.with(std::cell::Cell::take);
        buf.clear();
        buf.resize(2 * d, 0.0);
        let (mean, count) = buf.split_at_mut(d);
        for (row, mrow) in t.x.chunks_exact(d).zip(t.mask.chunks_exact(d)) {
            for (((&v, &byz), s), c) in row
                .iter()
                .zip(mrow)
                .zip(mean.iter_mut())
                .zip(count.iter_mut())
            {
                *s += if byz { 0.0 } else { v.to_f64() };
                *c += if byz { 0.0 } else { 1.0 };
            }
        }
        for (s, &c) in mean.iter_mut().zip(count.iter()) {
            *s = if c > 0.0 { *s / c } else { 0.0 };
        }
        // the farthest row among the fully honest ones, else among all (correct entries only)
        let mut best: Option<(bool, f64, usize)> = None;
        for (i, (row, mrow)) in t.x.chunks_exact(d).zip(t.mask.chunks_exact(d)).enumerate() {
            let honest = !mrow.iter().any(|&b| b);
            let dist: f64 = row
                .iter()
                .zip(mrow)
                .zip(mean.iter())
                .map(|((&v, &byz), &mu)| {
                    let e = if byz { 0.0 } else { v.to_f64() - mu };
                    e * e
                })
                .sum();
            // NaN distances (non-finite honest values) never win
            let better = match best {
                None => true,
                Some((h, b, _)) => (honest && !h) || (honest == h && dist > b),
            };
            if better && !dist.is_nan() {
                best = Some((honest, dist, i));
            }
        }
        let Some((_, _, o)) = best else {
            VALUES.with(|c| c.set(buf));
            return;
        };
        // the copied row, as values (Byzantine rows are overwritten below)
        for (j, (c, &mu)) in count.iter_mut().zip(mean.iter()).enumerate() {
            let v = if t.mask[o * d + j] {
                mu
            } else {
                t.x[o * d + j].to_f64()
            };
            *c = mu + self.scale * (v - mu);
        }
        for (row, mrow) in t.x.chunks_exact_mut(d).zip(t.mask.chunks_exact(d)) {
            for ((v, &byz), &c) in row.iter_mut().zip(mrow).zip(count.iter()) {
                if byz {
                    *v = T::from_f64(c);
                }
            }
        }
        VALUES.with(|c| c.set(buf));
    }
}
impl_attack!(Mimic);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attacks::Attack as _;

    #[test]
    fn copies_the_farthest_honest_row() {
        // rows 0..3 honest, row 3 Byzantine; row 2 is the outlier
        let mut x = vec![0.0, 0.0, 1.0, 1.0, 10.0, -5.0, 7.0, 7.0];
        let mut mask = vec![false, false, false, false, false, false, true, true];
        let mut rng = crate::rng::stream(1, 2, 3);
        Mimic { scale: 1.0 }.apply_f64(Target::new(&mut x, 4, 2, &mut mask), &mut rng);
        assert_eq!(&x[6..], &[10.0, -5.0]);
        // amplified about the honest mean (11/3, -4/3)
        let mut x = vec![0.0, 0.0, 1.0, 1.0, 10.0, -5.0, 7.0, 7.0];
        Mimic { scale: 2.0 }.apply_f64(Target::new(&mut x, 4, 2, &mut mask), &mut rng);
        let (mu0, mu1) = (11.0 / 3.0, -4.0 / 3.0);
        assert!((x[6] - (mu0 + 2.0 * (10.0 - mu0))).abs() < 1e-12);
        assert!((x[7] - (mu1 + 2.0 * (-5.0 - mu1))).abs() < 1e-12);
        assert_eq!(&x[..6], &[0.0, 0.0, 1.0, 1.0, 10.0, -5.0]);
    }

    #[test]
    fn hostile_values_do_not_panic() {
        let mut x = vec![f64::NAN, f64::INFINITY, 1.0, f64::NEG_INFINITY, 0.0, 0.0];
        let mut mask = vec![true, true, true, false, false, true];
        let mut rng = crate::rng::stream(1, 2, 3);
        Mimic { scale: 1e300 }.apply_f64(Target::new(&mut x, 3, 2, &mut mask), &mut rng);
        let mut x32 = vec![1.0f32; 6];
        Mimic { scale: 1.0 }.apply_f32(Target::new(&mut x32, 3, 2, &mut mask), &mut rng);
        assert!(x32.iter().all(|v| *v == 1.0));
    }
}

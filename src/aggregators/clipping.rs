//! Centered clipping (Karimireddy, He, Jaggi, *Learning from History for Byzantine Robust
//! Optimization*, ICML 2021, equation (CC)); ByzFL's `CenteredClipping(m, L, tau)`.
//!
//! From a centre v_0, L iterations of
//! v_{l+1} = v_l + (1/m) sum_i (x_i - v_l) min(1, tau / ||x_i - v_l||),
//! computed as v_{l+1} = (1 - C/m) v_l + (1/m) sum_i c_i x_i with c_i = min(1, tau / r_i),
//! C = sum_i c_i. The centre is zero (ByzFL's first call, and the default), the coordinate-wise
//! median, the mean, or `previous`: the last aggregate of the same workspace, which in the
//! simulator (one workspace per run) is the previous round's aggregate, the paper's choice.
//! The paper analyses the momentum variant with v_0 the previous aggregate; it states no bound
//! in the Phocas paper's generalized model, and `verify-bounds` measures it.
//!
//! Defaults: tau = 100 and L = 1 (ByzFL's; the paper tunes tau). Hostile input: a row with a
//! NaN or an infinity is at infinite distance from every finite centre, so its factor
//! min(1, tau / r) is 0 and it moves nothing; a distance that overflows f64 with finite values
//! is recomputed on scaled differences (as for the geometric median). A centre that is not
//! finite (the mean of such rows) is replaced by zero.
//!
//! Deterministic for any thread count (the geometric median's distance and weighted-sum
//! passes). Time: O(d m) per iteration, L + 1 reads of the matrix: the distances to the
//! centre, then one per iteration (each step but the last fused with the next distances, as
//! the geometric median's; the last writes the output); extra space: d + 2 m + m d / 8192
//! f64 in the workspace, allocation-free once it has grown.

use super::geomed::{
    distances, norms, start_point, step_update, store, weighted_update, WeiszfeldStart,
};
use super::kernels::Keyed;
use super::TypedRule;
use super::{check_shape, reject, Aggregator, RuleParams, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;

/// ByzFL's clipping radius.
pub const DEFAULT_TAU: f64 = 100.0;
/// ByzFL's and the paper's number of clipping iterations L.
pub const DEFAULT_L: usize = 1;
/// Largest L accepted.
pub const MAX_L: usize = 1_000_000;

/// The centered clipping rule.
#[derive(Clone, Debug)]
pub struct CenteredClipping {
    m: usize,
    tau: f64,
    iters: usize,
    start: WeiszfeldStart,
}

impl CenteredClipping {
    /// Centered clipping for m workers: radius tau > 0 (finite), L in 1..=10^6 iterations.
    pub fn new(m: usize, tau: f64, iters: usize, start: WeiszfeldStart) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        if !(tau.is_finite() && tau > 0.0) {
            return Err(Error::Invalid(format!(
                "cclip: --tau {tau} is not a positive finite number: give the clipping radius, e.g. --tau {DEFAULT_TAU}"
            )));
        }
        if !(1..=MAX_L).contains(&iters) {
            return Err(Error::Invalid(format!(
                "cclip: --iters {iters} is outside 1..={MAX_L}: give the number of clipping iterations L, e.g. --iters {DEFAULT_L}"
            )));
        }
        Ok(Self {
            m,
            tau,
            iters,
            start,
        })
    }
}

pub(super) fn build(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    let takes = "[--tau TAU] [--iters L] [--start zero|median|mean|previous]";
    for (param, given) in [
        ("b", p.b.is_some()),
        ("q", p.q.is_some()),
        ("k", p.k.is_some()),
        ("nu", p.nu.is_some()),
        ("tol", p.tol.is_some()),
    ] {
        reject("cclip", param, given, takes)?;
    }
    Ok(Box::new(CenteredClipping::new(
        m,
        p.tau.unwrap_or(DEFAULT_TAU),
        p.iters.unwrap_or(DEFAULT_L),
        p.start.unwrap_or(WeiszfeldStart::Zero),
    )?))
}

impl TypedRule for CenteredClipping {
    fn name(&self) -> &'static str {
        "cclip"
    }
    fn label(&self) -> String {
        let start = self.start.label_part(WeiszfeldStart::Zero);
        format!("cclip(tau={},L={}{start})", self.tau, self.iters)
    }
    fn m(&self) -> usize {
        self.m
    }
    fn unanimous(&self) -> bool {
        matches!(self.start, WeiszfeldStart::Mean | WeiszfeldStart::Median)
    }
    fn run_typed<T: Keyed>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
    ) -> Result<(), Error> {
        check_shape(self.m, &x, out.len())?;
        let (m, d) = (x.m(), x.d());
        let level = ws.level();
        let mut v = std::mem::take(&mut ws.gm_z);
        let mut dist = std::mem::take(&mut ws.gm_dist);
        let mut c = std::mem::take(&mut ws.gm_beta);
        let mut active = std::mem::take(&mut ws.gm_active);
        // every start but zero writes v; from zero, the first step writes it without reading
        let at_zero = match self.start {
            WeiszfeldStart::Zero => true,
            WeiszfeldStart::Previous => ws.previous.len() != d,
            WeiszfeldStart::Mean | WeiszfeldStart::Median => false,
        };
        if v.len() != d || !at_zero {
            v.clear();
            v.resize(d, 0.0);
        }
        dist.clear();
        dist.resize(m, 0.0);
        c.clear();
        c.resize(m, 1.0);
        active.clear();
        active.extend(0..m);
        let started = if at_zero {
            Ok(())
        } else {
            start_point(self.start, x, (&c, &active), ws, out, &mut v)
        };
        let mut at_zero = at_zero;
        if started.is_ok() && !at_zero && !v.iter().all(|t| t.is_finite()) {
            at_zero = true;
        }
        let mut stored = false;
        // the distances to the centre, then per iteration the factors and one read of the
        // matrix: the step fused with the next distances, or (the last) the step and the output
        if started.is_ok() {
            if at_zero {
                // from zero, the distances are the row norms: the centre is not read
                norms(level, x, &mut dist);
            } else {
                distances(level, x, &v, &mut dist);
            }
        }
        for l in 0..self.iters {
            if started.is_err() {
                break;
            }
            for (ci, &r) in c.iter_mut().zip(dist.iter()) {
                // r = +inf (non-finite row): 0; r = 0: 1
                *ci = if r <= self.tau { 1.0 } else { self.tau / r };
            }
            active.clear();
            active.extend((0..m).filter(|&i| c[i] > 0.0));
            let total: f64 = active.iter().map(|&i| c[i]).sum();
            let keep = 1.0 - total / m as f64;
            if active.is_empty() {
                if at_zero {
                    v.iter_mut().for_each(|t| *t = 0.0);
                }
                break;
            }
            let keep = (!at_zero).then_some(keep);
            if l + 1 == self.iters {
                // the last step writes the output in the same pass; the centre is read
                // afterwards only to keep it for `previous`
                let keep_v = self.start == WeiszfeldStart::Previous;
                weighted_update(
                    level,
                    x,
                    (&c, &active),
                    &mut v,
                    (m as f64, keep),
                    (&mut *out, keep_v),
                );
                stored = true;
            } else {
                step_update(
                    level,
                    x,
                    (&c, &active),
                    (m as f64, keep),
                    &mut v,
                    &mut dist,
                    &mut ws.gm_partial,
                );
            }
            at_zero = false;
        }
        if at_zero {
            // no step ran (an error before the first): the centre is zero
            v.iter_mut().for_each(|t| *t = 0.0);
            stored = false;
        }
        if !stored {
            store(&v, out);
        }
        if self.start == WeiszfeldStart::Previous {
            ws.previous.clear();
            ws.previous.extend_from_slice(&v);
        }
        ws.gm_z = v;
        ws.gm_dist = dist;
        ws.gm_beta = c;
        ws.gm_active = active;
        started
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::AggregateExt;

    /// A direct transcription of the update, row by row, in f64.
    fn reference(x: &[f64], m: usize, d: usize, tau: f64, iters: usize) -> Vec<f64> {
        let mut v = vec![0.0; d];
        for _ in 0..iters {
            let mut step = vec![0.0; d];
            for i in 0..m {
                let row = &x[i * d..(i + 1) * d];
                let r = row
                    .iter()
                    .zip(&v)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt();
                let c = if r <= tau { 1.0 } else { tau / r };
                for j in 0..d {
                    step[j] += c * (row[j] - v[j]) / m as f64;
                }
            }
            for j in 0..d {
                v[j] += step[j];
            }
        }
        v
    }

    #[test]
    fn matches_the_update_rule() {
        let (m, d) = (6, 5);
        let x: Vec<f64> = (0..m * d)
            .map(|i| ((i * 13 % 17) as f64) - 8.0 + (i / d) as f64 * 3.0)
            .collect();
        for (tau, l) in [(0.5, 1), (2.0, 3), (100.0, 1), (1.0, 20)] {
            let r = CenteredClipping::new(m, tau, l, WeiszfeldStart::Zero).unwrap();
            let got = r.aggregate(MatrixView::new(&x, m, d).unwrap()).unwrap();
            let want = reference(&x, m, d, tau, l);
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                    "tau {tau}, L {l}: {got:?} vs {want:?}"
                );
            }
        }
    }

    /// With tau at least every distance, one iteration from zero is the mean.
    #[test]
    fn large_radius_is_the_mean() {
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let r = CenteredClipping::new(3, 1e9, 1, WeiszfeldStart::Zero).unwrap();
        let out = r.aggregate(MatrixView::new(&x, 3, 2).unwrap()).unwrap();
        assert_eq!(out, vec![3.0, 4.0]);
    }

    /// One huge or non-finite row moves the result by at most tau / m per iteration (the
    /// later iterations measure their distances in the fused step).
    #[test]
    fn hostile_rows_move_at_most_tau_over_m() {
        for bad in [1e30, f64::INFINITY, f64::NAN, f64::MAX] {
            for l in [1, 3] {
                let x = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, bad, bad];
                let r = CenteredClipping::new(4, 1.0, l, WeiszfeldStart::Zero).unwrap();
                let out = r.aggregate(MatrixView::new(&x, 4, 2).unwrap()).unwrap();
                let norm = out.iter().map(|v| v * v).sum::<f64>().sqrt();
                let most = 0.25 * l as f64 + 1e-12;
                assert!(norm.is_finite() && norm <= most, "{bad}, L {l}: {out:?}");
            }
        }
    }

    #[test]
    fn previous_starts_from_the_last_aggregate() {
        let x = [10.0f64, 10.0, 10.0, 10.0];
        let r = CenteredClipping::new(4, 1.0, 1, WeiszfeldStart::Previous).unwrap();
        let mut ws = Workspace::new();
        let mut out = [0.0];
        let v = MatrixView::new(&x, 4, 1).unwrap();
        r.aggregate_into(v, &mut ws, &mut out).unwrap();
        assert_eq!(out, [1.0]); // from zero, every row clipped to 1
        r.aggregate_into(v, &mut ws, &mut out).unwrap();
        assert_eq!(out, [2.0]); // from 1
    }

    #[test]
    fn invalid_parameters_name_the_flag() {
        for (tau, l) in [
            (0.0, 1),
            (f64::NAN, 1),
            (-1.0, 1),
            (f64::INFINITY, 1),
            (1.0, 0),
        ] {
            let e = CenteredClipping::new(3, tau, l, WeiszfeldStart::Zero)
                .unwrap_err()
                .to_string();
            assert!(e.contains("--tau") || e.contains("--iters"), "{e}");
        }
    }
}

//! Phocas_b (Definition 8 of the paper).
//!
//! Per coordinate, compute y = Trmean_b, order the m values by distance to y, and average the
//! m - b nearest. Distances are computed in f64; a NaN distance counts as +infinity; ties in
//! distance are broken by the total order of the values (smaller first). Theorem 2 bounds the
//! error by Delta2 = [4 + 12(b+1)(m-q)/(m-b-q)^2] V (its proof needs b >= q). By Lemma 3 the
//! result can leave the range of the correct values, but not by more than that range's width.
//! Time: O(d m log^2 m) branch-free comparisons on 8-16 coordinates at once for
//! m <= the network limit ([`super::Workspace::network_limit`]) (one sorting network, then O(m) per coordinate, see
//! [`super::kernels`]), O(d m log m) above (selections, then sorts of the middle and of the
//! two trimmed ends of each coordinate); extra space: 64 m keys per thread.

use super::kernels::{coordinatewise, Finish, Keyed, OrderPlan};
use super::TypedRule;
use super::{check_shape, check_trim, reject, Aggregator, RuleParams, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;

/// The Phocas rule.
#[derive(Clone, Debug)]
pub struct Phocas {
    m: usize,
    b: usize,
    plan: OrderPlan,
}

impl Phocas {
    /// Phocas_b for m workers; fails unless b <= ceil(m/2) - 1.
    pub fn new(m: usize, b: usize) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        check_trim(b, m)?;
        let plan = OrderPlan::new(m, Finish::Phocas { b });
        Ok(Self { m, b, plan })
    }
}

pub(super) fn build(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    let b = p.b.ok_or_else(|| Error::MissingParam {
        rule: "phocas",
        param: "b",
        allowed: format!("0..={} for m = {m}", super::max_trim(m)),
    })?;
    reject("phocas", "q", p.q.is_some(), "--b")?;
    reject("phocas", "k", p.k.is_some(), "--b")?;
    Ok(Box::new(Phocas::new(m, b)?))
}

impl TypedRule for Phocas {
    fn name(&self) -> &'static str {
        "phocas"
    }
    fn label(&self) -> String {
        format!("phocas(b={})", self.b)
    }
    /// Trmean_b of the sorted values, then the m - b values nearest to it, which form a window
    /// of the sorted column: drop b times the end farther from the centre (on a tie, the
    /// larger value goes, as in the kernels). O(m).
    fn sorted_column(&self, sorted: &[f64]) -> Option<f64> {
        let m = sorted.len();
        if m <= 2 * self.b {
            return None;
        }
        let centre = super::window_mean(sorted, self.b, m - self.b);
        Some(super::nearest_window_mean(sorted, self.b, centre))
    }
    fn m(&self) -> usize {
        self.m
    }
    fn run_typed<T: Keyed>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
    ) -> Result<(), Error> {
        check_shape(self.m, &x, out.len())?;
        coordinatewise(x, ws, out, &self.plan);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::AggregateExt;

    #[test]
    fn hand_computed_table() {
        // [1, 2, 3, 4, 100], b = 1: Trmean = 3; the 4 nearest to 3 are 3, 2, 4, 1 -> 2.5.
        // [0, 1, 2, 3], b = 1: Trmean = 1.5; distances 1.5, .5, .5, 1.5; tie between 0 and 3
        //   broken towards the smaller value -> mean(1, 2, 0) = 1.
        let cases: &[(&[f64], usize, f64)] = &[
            (&[1.0, 2.0, 3.0, 4.0, 100.0], 1, 2.5),
            (&[0.0, 1.0, 2.0, 3.0], 1, 1.0),
            (&[3.0, 2.0, 1.0, 0.0], 1, 1.0),
            (&[f64::NAN, 1.0, 2.0, 3.0, 4.0], 1, 2.5),
            (&[5.0, 5.0, 5.0], 1, 5.0),
            (&[1.0, 2.0, 3.0], 0, 2.0),
        ];
        for (vals, b, want) in cases {
            let r = Phocas::new(vals.len(), *b).unwrap();
            let out = r
                .aggregate(MatrixView::new(vals, vals.len(), 1).unwrap())
                .unwrap();
            assert!((out[0] - want).abs() < 1e-12, "{vals:?} b={b}: {}", out[0]);
        }
    }
}

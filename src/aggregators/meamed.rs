//! MeaMed_b, "mean around median" (Xie, Koyejo, Gupta, *Generalized Byzantine-tolerant SGD*,
//! arXiv:1802.10116, 2018). ByzFL's `MeaMed(f)` is this rule with b = f, Flower's `MeaMed`
//! with `num_closest` = m - b.
//!
//! Per coordinate, order the m values by distance to the median and average the m - b
//! nearest: Phocas_b (Definition 8 of the Phocas paper) with the median in place of Trmean_b
//! as the centre. The median is the crate's midpoint convention (the mean of the two middle
//! values for even m, Trmean_{ceil(m/2)-1}). Distances are computed in f64; a NaN distance
//! counts as +infinity; ties in distance are broken by the total order of the values (smaller
//! first), as for Phocas. The Phocas paper states no bound for it; the generalized-model
//! experiments (`verify-bounds`) measure it.
//!
//! Time: O(d m log^2 m) branch-free comparisons on 64 coordinates at once for
//! m <= the network limit ([`super::Workspace::network_limit`]) (one sorting network, then O(m) per coordinate in safe code;
//! there is no fused SIMD kernel), O(d m log m) above; extra space: 64 m keys per thread.

use super::kernels::{coordinatewise, Finish, Keyed, OrderPlan};
use super::TypedRule;
use super::{check_shape, check_trim, reject, Aggregator, RuleParams, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;

/// The MeaMed rule.
#[derive(Clone, Debug)]
pub struct MeaMed {
    m: usize,
    b: usize,
    plan: OrderPlan,
}

impl MeaMed {
    /// MeaMed_b for m workers; fails unless b <= ceil(m/2) - 1.
    pub fn new(m: usize, b: usize) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        check_trim(b, m)?;
        let plan = OrderPlan::new(m, Finish::MeaMed { b });
        Ok(Self { m, b, plan })
    }
}

pub(super) fn build(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    let b = p.b.ok_or_else(|| Error::MissingParam {
        rule: "meamed",
        param: "b",
        allowed: format!("0..={} for m = {m}", super::max_trim(m)),
    })?;
    reject("meamed", "q", p.q.is_some(), "--b")?;
    reject("meamed", "k", p.k.is_some(), "--b")?;
    Ok(Box::new(MeaMed::new(m, b)?))
}

impl TypedRule for MeaMed {
    fn name(&self) -> &'static str {
        "meamed"
    }
    fn label(&self) -> String {
        format!("meamed(b={})", self.b)
    }
    /// The median of the sorted values, then the m - b values nearest to it, which form a
    /// window of the sorted column: drop b times the end farther from the centre (on a tie,
    /// the larger value goes, as in the kernels). O(m).
    fn sorted_column(&self, sorted: &[f64]) -> Option<f64> {
        let m = sorted.len();
        if m <= 2 * self.b {
            return None;
        }
        Some(super::median_window_mean(sorted, self.b))
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
        // [1, 2, 3, 4, 100], b = 1: median 3; the 4 nearest are 3, 2, 4, 1 -> 2.5.
        // [1, 2, 3, 50, 100], b = 2: median 3; the 3 nearest are 3, 2, 1 -> 2
        //   (Phocas_2 would centre on Trmean_2 = 3 too; with b = 1 Trmean_1 = 18.33 and
        //   Phocas keeps 3, 50, 2, 1 -> 14, MeaMed keeps 1, 2, 3, 50 -> 14).
        // [0, 1, 2, 10], b = 1: median 1.5; distances 1.5, .5, .5, 8.5 -> mean(0, 1, 2) = 1.
        // [0, 1, 2, 3], b = 1: median 1.5; tie between 0 and 3 broken towards the smaller
        //   value -> mean(0, 1, 2) = 1.
        let cases: &[(&[f64], usize, f64)] = &[
            (&[1.0, 2.0, 3.0, 4.0, 100.0], 1, 2.5),
            (&[1.0, 2.0, 3.0, 50.0, 100.0], 2, 2.0),
            (&[100.0, 50.0, 3.0, 2.0, 1.0], 1, 14.0),
            (&[0.0, 1.0, 2.0, 10.0], 1, 1.0),
            (&[3.0, 2.0, 1.0, 0.0], 1, 1.0),
            (&[f64::NAN, 1.0, 2.0, 3.0, 4.0], 1, 2.5),
            (&[5.0, 5.0, 5.0], 1, 5.0),
            (&[1.0, 2.0, 3.0], 0, 2.0),
        ];
        for (vals, b, want) in cases {
            let r = MeaMed::new(vals.len(), *b).unwrap();
            let out = r
                .aggregate(MatrixView::new(vals, vals.len(), 1).unwrap())
                .unwrap();
            assert!((out[0] - want).abs() < 1e-12, "{vals:?} b={b}: {}", out[0]);
            assert_eq!(
                Aggregator::sorted_column(&r, &sorted(vals)),
                Some(out[0]),
                "{vals:?} b={b}"
            );
        }
    }

    fn sorted(v: &[f64]) -> Vec<f64> {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Where Phocas's centre (Trmean_b) and the median differ, the two rules differ.
    #[test]
    fn differs_from_phocas_when_the_centres_differ() {
        // [0, 0, 0, 9, 10], b = 1: median 0 keeps 0, 0, 0, 9 -> 2.25; Trmean_1 = 3 keeps
        // 0, 0, 0, 9 too; with [0, 0, 6, 9, 10] the median 6 keeps 6, 9, 10, 0 -> 6.25 and
        // Trmean_1 = 5 keeps 6, 9, 0, 0 or 10: distances 5, 5, 1, 4, 5 -> ties broken
        // towards the smaller values: 0, 0, 6, 9 -> 3.75.
        let x = [0.0, 0.0, 6.0, 9.0, 10.0];
        let v = MatrixView::new(&x[..], 5, 1).unwrap();
        let me = MeaMed::new(5, 1).unwrap().aggregate(v).unwrap();
        let ph = super::super::Phocas::new(5, 1)
            .unwrap()
            .aggregate(v)
            .unwrap();
        assert_eq!(me, vec![6.25]);
        assert_eq!(ph, vec![3.75]);
    }
}

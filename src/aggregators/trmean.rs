//! Trmean_b, the coordinate-wise b-trimmed mean (Definition 7 of the paper).
//!
//! Per coordinate, drop the b smallest and the b largest of the m values and average the
//! remaining m - 2b, with b in 0..=ceil(m/2)-1. Implemented by ordering total-order keys (a
//! sorting network, or two selections for large m), never "sum minus extremes", so honest
//! values are not lost to cancellation next to 1e20 outliers (for large m the two ranks are
//! found by bit descent, [`super::descent`], and the middle summed in any order only where
//! that is provably exact); NaN is an extreme value.
//! Theorem 1 bounds its error by Delta1 = 2(b+1)(m-q)/(m-b-q)^2 V (its proof needs b >= q).
//! The middle values are summed in f64 in increasing order, so the result does not depend on the
//! order of the workers. Time: O(d m log^2 m) branch-free comparisons on 8-16 coordinates at
//! once for m <= the network limit ([`super::Workspace::network_limit`]) (a sorting network, see [`super::kernels`]), O(dm)
//! expected above (selection); extra space: 64 m keys per thread.

use super::kernels::{coordinatewise, Finish, Keyed, OrderPlan};
use super::TypedRule;
use super::{check_shape, check_trim, reject, Aggregator, RuleParams, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;

/// The b-trimmed mean.
#[derive(Clone, Debug)]
pub struct TrimmedMean {
    m: usize,
    b: usize,
    plan: OrderPlan,
}

impl TrimmedMean {
    /// Trmean_b for m workers; fails unless b <= ceil(m/2) - 1.
    pub fn new(m: usize, b: usize) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        check_trim(b, m)?;
        let plan = OrderPlan::new(m, Finish::Trmean { b });
        Ok(Self { m, b, plan })
    }
    /// The trimming parameter.
    pub fn b(&self) -> usize {
        self.b
    }
}

pub(super) fn build(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    let b = p.b.ok_or_else(|| Error::MissingParam {
        rule: "trmean",
        param: "b",
        allowed: format!("0..={} for m = {m}", super::max_trim(m)),
    })?;
    reject("trmean", "q", p.q.is_some(), "--b")?;
    reject("trmean", "k", p.k.is_some(), "--b")?;
    Ok(Box::new(TrimmedMean::new(m, b)?))
}

impl TypedRule for TrimmedMean {
    fn name(&self) -> &'static str {
        "trmean"
    }
    fn label(&self) -> String {
        format!("trmean(b={})", self.b)
    }
    fn sorted_column(&self, sorted: &[f64]) -> Option<f64> {
        let m = sorted.len();
        (m > 2 * self.b).then(|| super::window_mean(sorted, self.b, m - self.b))
    }
    fn monotone(&self) -> bool {
        true
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
    fn constructor_bounds() {
        assert!(TrimmedMean::new(20, 9).is_ok());
        assert!(matches!(
            TrimmedMean::new(20, 10),
            Err(Error::InvalidTrim {
                b: 10,
                m: 20,
                max: 9
            })
        ));
        assert!(TrimmedMean::new(1, 0).is_ok());
        assert!(TrimmedMean::new(0, 0).is_err());
    }

    #[test]
    fn hand_computed_table() {
        // (values, b, expected)
        let cases: &[(&[f64], usize, f64)] = &[
            (&[1.0, 2.0, 3.0, 4.0, 100.0], 1, 3.0),
            (&[1.0, 2.0, 3.0, 4.0, 100.0], 0, 22.0),
            (&[5.0, -1e20, 1.0, 2.0, 1e20], 1, 8.0 / 3.0),
            (&[f64::NAN, 1.0, 2.0, 3.0, 4.0], 1, 3.0),
            (&[f64::INFINITY, 1.0, 2.0, f64::NEG_INFINITY], 1, 1.5),
        ];
        for (vals, b, want) in cases {
            let r = TrimmedMean::new(vals.len(), *b).unwrap();
            let out = r
                .aggregate(MatrixView::new(vals, vals.len(), 1).unwrap())
                .unwrap();
            assert!((out[0] - want).abs() < 1e-12, "{vals:?} b={b}: {}", out[0]);
        }
    }

    #[test]
    fn no_cancellation_next_to_huge_outliers() {
        // Sum-minus-extremes would return 0 here: 1e20 + 0.5 - 1e20 == 0 in f64.
        let vals = [1e20, 0.5, 0.25, -1e20, 0.75];
        let r = TrimmedMean::new(5, 1).unwrap();
        let out = r.aggregate(MatrixView::new(&vals, 5, 1).unwrap()).unwrap();
        assert_eq!(out[0], 0.5);
    }
}

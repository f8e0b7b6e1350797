//! Median: the coordinate-wise median.
//!
//! For odd m the middle value; for even m, by default, the midpoint of the two middle values
//! (which equals Trmean_b with b = ceil(m/2) - 1); `MedianConvention::Lower` takes the lower
//! middle value instead, as some implementations do. NaN lies beyond every finite value.
//! Time: O(d m log^2 m) branch-free comparisons on 8-16 coordinates at once for
//! m <= 64 (a sorting network, see [`super::kernels`]); above it (with f64 storage too),
//! O(dm B) for B-bit keys (bit descent across 64 coordinates, [`super::descent`]: at most B
//! counting passes, about log2(m) plus a few in practice); extra space: 64 m keys per thread.

use super::kernels::{coordinatewise, Finish, Keyed, OrderPlan};
use super::TypedRule;
use super::{check_shape, max_trim, reject, Aggregator, RuleParams, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;

/// Convention for even m.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MedianConvention {
    /// Midpoint of the two middle values (the paper's Trmean at b = ceil(m/2)-1).
    #[default]
    Midpoint,
    /// The lower of the two middle values.
    Lower,
}

impl std::str::FromStr for MedianConvention {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "midpoint" => Ok(Self::Midpoint),
            "lower" => Ok(Self::Lower),
            _ => Err(format!(
                "unknown median convention '{s}': use midpoint or lower"
            )),
        }
    }
}

/// Coordinate-wise median.
#[derive(Clone, Debug)]
pub struct Median {
    m: usize,
    convention: MedianConvention,
    plan: OrderPlan,
}

impl Median {
    /// Median for m workers.
    pub fn new(m: usize, convention: MedianConvention) -> Result<Self, Error> {
        if m == 0 {
            return Err(Error::Empty { m, d: 0 });
        }
        let b = max_trim(m);
        let finish = match convention {
            MedianConvention::Midpoint => Finish::Trmean { b },
            MedianConvention::Lower => Finish::Rank { b },
        };
        Ok(Self {
            m,
            convention,
            plan: OrderPlan::new(m, finish),
        })
    }
}

pub(super) fn build(p: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    reject("median", "b", p.b.is_some(), "--median midpoint|lower")?;
    reject("median", "q", p.q.is_some(), "--median midpoint|lower")?;
    reject("median", "k", p.k.is_some(), "--median midpoint|lower")?;
    Ok(Box::new(Median::new(m, p.median)?))
}

impl TypedRule for Median {
    fn name(&self) -> &'static str {
        "median"
    }
    fn label(&self) -> String {
        match self.convention {
            MedianConvention::Midpoint => "median".into(),
            MedianConvention::Lower => "median(lower)".into(),
        }
    }
    fn sorted_column(&self, sorted: &[f64]) -> Option<f64> {
        let m = sorted.len();
        if m == 0 {
            return None;
        }
        let b = max_trim(m);
        Some(match self.convention {
            MedianConvention::Midpoint => super::window_mean(sorted, b, m - b),
            MedianConvention::Lower => sorted[b],
        })
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
    fn hand_computed_table() {
        let cases: &[(&[f64], MedianConvention, f64)] = &[
            (&[3.0, 1.0, 2.0], MedianConvention::Midpoint, 2.0),
            (&[4.0, 1.0, 3.0, 2.0], MedianConvention::Midpoint, 2.5),
            (&[4.0, 1.0, 3.0, 2.0], MedianConvention::Lower, 2.0),
            (&[7.0], MedianConvention::Midpoint, 7.0),
            (
                &[f64::NAN, f64::NAN, 1.0, 2.0, 3.0],
                MedianConvention::Midpoint,
                3.0,
            ),
            (&[-f64::NAN, 1.0, 2.0], MedianConvention::Midpoint, 1.0),
        ];
        for (vals, c, want) in cases {
            let r = Median::new(vals.len(), *c).unwrap();
            let out = r
                .aggregate(MatrixView::new(vals, vals.len(), 1).unwrap())
                .unwrap();
            assert_eq!(out[0], *want, "{vals:?} {c:?}");
        }
    }
}

//! One-sided attack on trimming rules: every Byzantine value of a coordinate is placed just
//! beyond the largest correct value (max + offset x range), all on one side. Values there
//! survive trimming when q > b and otherwise push the trimmed window as far as it can go; they
//! also stay close enough to Trmean_b to be among Phocas's m - b nearest. It is not the worst
//! case: the side is fixed (+) and the magnitude tiny; `sided` and `search` (search.rs) choose
//! both per coordinate and find up to several times more error.
use super::{impl_attack, per_column, Needs, Target};
use crate::rng::Rng;
use crate::scalar::Scalar;

/// max + offset * (max - min) of the correct values.
pub struct Adaptive {
    offset: f64,
}

impl Adaptive {
    /// With the given relative offset.
    pub fn new(offset: f64) -> Self {
        Self { offset }
    }
    pub(super) fn apply<T: Scalar>(&self, t: Target<'_, T>, _rng: &mut Rng) {
        per_column(
            t,
            Needs {
                minmax: true,
                std: false,
            },
            |s| {
                if s.count == 0 {
                    return 0.0;
                }
                let range = s.max - s.min;
                let range = if range > 0.0 {
                    range
                } else {
                    s.max.abs().max(1.0)
                };
                s.max + self.offset * range
            },
        );
    }
}
impl_attack!(Adaptive);

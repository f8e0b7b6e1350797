//! Omniscient attack (section 5): each Byzantine entry becomes -c times the sum of the correct
//! values of its coordinate (c = 1e20), i.e. -c x the sum of the correct gradients. One version
//! of the authors' code also adds the Byzantine workers' own true gradients to the sum.
use super::{impl_attack, per_column, Needs, Target};
use crate::rng::Rng;
use crate::scalar::Scalar;

/// -c x sum of correct values.
pub struct Omniscient {
    /// Multiplier c.
    pub c: f64,
    /// Sum over all workers' true values instead of the correct ones only.
    pub include_byzantine: bool,
}

impl Omniscient {
    fn apply<T: Scalar>(&self, t: Target<'_, T>, _rng: &mut Rng) {
        per_column(t, Needs::default(), |s| {
            -self.c
                * if self.include_byzantine {
                    s.sum_all
                } else {
                    s.sum
                }
        });
    }
}
impl_attack!(Omniscient);

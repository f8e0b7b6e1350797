//! "A little is enough" (Baruch et al., 2019): each Byzantine value is mean - z * std of the
//! correct values of its coordinate, small enough to pass robust filters.
use super::{impl_attack, per_column, Needs, Target};
use crate::rng::Rng;
use crate::scalar::Scalar;

/// mean - z * std.
pub struct Little {
    /// z.
    pub z: f64,
}

impl Little {
    fn apply<T: Scalar>(&self, t: Target<'_, T>, _rng: &mut Rng) {
        per_column(
            t,
            Needs {
                minmax: false,
                std: true,
            },
            |s| s.mean - self.z * s.std,
        );
    }
}
impl_attack!(Little);

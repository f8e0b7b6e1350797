//! Bit-flip attack (section 5): flips chosen bits of the float32 pattern of each Byzantine
//! value. Bits are counted from 0 at the least significant bit; the authors' code flips 22, 29,
//! 30 and 31 (a mantissa bit, two exponent bits and the sign). f64 storage is converted to f32,
//! flipped and converted back.
use super::{impl_attack, Target};
use crate::rng::Rng;
use crate::scalar::Scalar;

/// Flips a fixed set of bits.
pub struct BitFlip {
    mask: u32,
}

impl BitFlip {
    /// Flips the given bits (each in 0..=31).
    pub fn new(bits: &[u32]) -> Self {
        Self {
            mask: bits
                .iter()
                .filter(|&&b| b < 32)
                .fold(0, |a, b| a | (1 << b)),
        }
    }
    fn apply<T: Scalar>(&self, t: Target<'_, T>, _rng: &mut Rng) {
        for (v, &b) in t.x.iter_mut().zip(t.mask.iter()) {
            if b {
                let f = v.to_f64() as f32;
                *v = T::from_f64(f64::from(f32::from_bits(f.to_bits() ^ self.mask)));
            }
        }
    }
}
impl_attack!(BitFlip);

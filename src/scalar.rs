//! Storage types of a gradient matrix (`f32` and `f64`) and the total order used by the rules.
//!
//! A Byzantine value can be any bit pattern. The coordinate-wise rules order values by the key
//! returned by [`Scalar::to_key`]: an integer whose order is IEEE 754 `totalOrder`, so
//! `-NaN < -inf < ... < -0 < +0 < ... < +inf < +NaN`. NaN therefore lies beyond every finite
//! value and is trimmed like any other extreme. The map is a bijection, so the original bits are
//! recovered exactly by [`Scalar::from_key`].

/// A slice of either storage type.
pub enum Typed<'a> {
    /// f32 values.
    F32(&'a [f32]),
    /// f64 values.
    F64(&'a [f64]),
}

/// A mutable slice of either storage type.
pub enum TypedMut<'a> {
    /// f32 values.
    F32(&'a mut [f32]),
    /// f64 values.
    F64(&'a mut [f64]),
}

/// A floating-point storage type for gradient matrices. Sums are always accumulated in `f64`.
pub trait Scalar:
    Copy + Send + Sync + PartialOrd + std::fmt::Debug + std::fmt::Display + Default + 'static
{
    /// Integer key with the total order of the floats (see module docs).
    type Key: Ord + Copy + Send + Sync + Default + std::fmt::Debug + 'static;
    /// NumPy dtype descriptor (`<f4` or `<f8`).
    const DESCR: &'static str;
    /// Name used in tables (`f32` or `f64`).
    const NAME: &'static str;
    fn to_f64(self) -> f64;
    fn from_f64(x: f64) -> Self;
    fn to_key(self) -> Self::Key;
    fn from_key(k: Self::Key) -> Self;
    /// The key widened to `i64` (order preserved), for scratch buffers shared by both types.
    fn key64(self) -> i64;
    /// Inverse of [`Scalar::key64`].
    fn from_key64(k: i64) -> Self;
    fn to_le_bytes_vec(self, out: &mut Vec<u8>);
    fn from_le_slice(b: &[u8]) -> Self;
    fn from_be_slice(b: &[u8]) -> Self;
    const SIZE: usize;
    /// The slice as its concrete type, for generic code that must reach a type-specific entry
    /// point (a rule's `aggregate_f32` / `aggregate_f64`) without this layer naming rules.
    fn typed(s: &[Self]) -> Typed<'_>;
    /// [`Scalar::typed`] for a mutable slice.
    fn typed_mut(s: &mut [Self]) -> TypedMut<'_>;
}

impl Scalar for f64 {
    type Key = i64;
    const DESCR: &'static str = "<f8";
    const NAME: &'static str = "f64";
    const SIZE: usize = 8;
    fn typed(s: &[Self]) -> Typed<'_> {
        Typed::F64(s)
    }
    fn typed_mut(s: &mut [Self]) -> TypedMut<'_> {
        TypedMut::F64(s)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_key(self) -> i64 {
        let b = self.to_bits() as i64;
        b ^ ((((b >> 63) as u64) >> 1) as i64)
    }
    #[inline(always)]
    fn from_key(k: i64) -> Self {
        let b = k ^ ((((k >> 63) as u64) >> 1) as i64);
        f64::from_bits(b as u64)
    }
    #[inline(always)]
    fn key64(self) -> i64 {
        self.to_key()
    }
    #[inline(always)]
    fn from_key64(k: i64) -> Self {
        Self::from_key(k)
    }
    fn to_le_bytes_vec(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn from_le_slice(b: &[u8]) -> Self {
        f64::from_le_bytes(b.try_into().expect("8 bytes"))
    }
    fn from_be_slice(b: &[u8]) -> Self {
        f64::from_be_bytes(b.try_into().expect("8 bytes"))
    }
}

impl Scalar for f32 {
    type Key = i32;
    const DESCR: &'static str = "<f4";
    const NAME: &'static str = "f32";
    const SIZE: usize = 4;
    fn typed(s: &[Self]) -> Typed<'_> {
        Typed::F32(s)
    }
    fn typed_mut(s: &mut [Self]) -> TypedMut<'_> {
        TypedMut::F32(s)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_key(self) -> i32 {
        let b = self.to_bits() as i32;
        b ^ ((((b >> 31) as u32) >> 1) as i32)
    }
    #[inline(always)]
    fn from_key(k: i32) -> Self {
        let b = k ^ ((((k >> 31) as u32) >> 1) as i32);
        f32::from_bits(b as u32)
    }
    #[inline(always)]
    fn key64(self) -> i64 {
        i64::from(self.to_key())
    }
    #[inline(always)]
    fn from_key64(k: i64) -> Self {
        Self::from_key(k as i32)
    }
    fn to_le_bytes_vec(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn from_le_slice(b: &[u8]) -> Self {
        f32::from_le_bytes(b.try_into().expect("4 bytes"))
    }
    fn from_be_slice(b: &[u8]) -> Self {
        f32::from_be_bytes(b.try_into().expect("4 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_is_total_order_f64() {
        let v = [
            -f64::NAN,
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            1.0,
            1e300,
            f64::INFINITY,
            f64::NAN,
        ];
        for w in v.windows(2) {
            assert!(w[0].to_key() < w[1].to_key(), "{:?} !< {:?}", w[0], w[1]);
        }
        for x in v {
            assert_eq!(f64::from_key(x.to_key()).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn key_order_is_total_order_f32() {
        let v = [
            -f32::NAN,
            f32::NEG_INFINITY,
            -3e38,
            -1.0,
            -1e-45,
            -0.0,
            0.0,
            1e-45,
            1.0,
            3e38,
            f32::INFINITY,
            f32::NAN,
        ];
        for w in v.windows(2) {
            assert!(w[0].to_key() < w[1].to_key());
            assert_eq!(w[0].total_cmp(&w[1]), std::cmp::Ordering::Less);
        }
        for x in v {
            assert_eq!(f32::from_key(x.to_key()).to_bits(), x.to_bits());
        }
    }
}

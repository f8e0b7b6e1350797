//! The AVX-512 kernels (512-bit registers: 16 lanes of f32 or i32 keys, 8 of f64 or i64, and
//! AVX-512's 64-bit min/max), the same operations per lane as [`super::avx2`], so the same bits.

pub(crate) mod fused;
pub(crate) mod networks;
pub(crate) mod phocas;

//! The AVX2 kernels (256-bit registers: 8 lanes of f32 or i32 keys, 4 of f64 or i64).

pub(crate) mod fused;
pub(crate) mod networks;
pub(crate) mod phocas;

//! Run-time choice of the instruction set for the hot loops.
//!
//! The kernels are plain safe Rust over fixed-width lane arrays (`[i32; 64]`, `[f64; 8]`),
//! which LLVM vectorises for whatever the compilation target allows. A plain
//! `cargo build --release` targets baseline x86-64 (SSE2): 128-bit vectors and no 32- or
//! 64-bit integer min/max, so each comparator of a sorting network costs a compare and three
//! logic operations per four lanes. On x86-64 the same generic code is therefore compiled a
//! second time inside a `#[target_feature(enable = "avx2")]` function and chosen at run time
//! when the CPU has AVX2 (`is_x86_feature_detected!`). Both versions perform the same IEEE
//! operations in the same order, so results are bit-identical whichever runs.
//!
//! AVX-512 (twice the lanes, 64-bit integer min/max) is not used: its target features are
//! stable only since Rust 1.89, above this crate's `rust-version`; `RUSTFLAGS="-C
//! target-cpu=native"` still gets it at build time. `phocas bench-scaling` prints what each
//! choice buys on the machine it runs on.
//!
//! Calling a `#[target_feature]` function is `unsafe` on the crate's minimum Rust version: the
//! caller promises the CPU has the feature. That call, made only after the run-time check, is
//! the only unsafe code in the crate, hence the `allow` below.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU8, Ordering};

/// Instruction-set level of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// What the compilation target allows (baseline x86-64: SSE2).
    Portable,
    /// AVX2, selected at run time.
    Avx2,
}

impl Isa {
    /// Short name (`portable`, `avx2`).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// 0: not yet detected; otherwise 1 + the index of the active level.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

fn encode(i: Isa) -> u8 {
    match i {
        Isa::Portable => 1,
        Isa::Avx2 => 2,
    }
}

/// The best level this CPU supports.
pub fn detected_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

/// Levels this CPU can run, lowest first.
pub fn available_isas() -> Vec<Isa> {
    let best = detected_isa();
    [Isa::Portable, Isa::Avx2]
        .into_iter()
        .filter(|&i| i <= best)
        .collect()
}

/// The level the kernels use now (the detected one unless [`set_isa`] chose another).
pub fn isa() -> Isa {
    match ACTIVE.load(Ordering::Relaxed) {
        2 => Isa::Avx2,
        1 => Isa::Portable,
        _ => {
            let d = detected_isa();
            ACTIVE.store(encode(d), Ordering::Relaxed);
            d
        }
    }
}

/// Chooses the level for all later calls (for benchmarks; results do not change). Returns
/// `false`, and changes nothing, if this CPU cannot run `level`.
pub fn set_isa(level: Isa) -> bool {
    if level > detected_isa() {
        return false;
    }
    ACTIVE.store(encode(level), Ordering::Relaxed);
    true
}

/// Runs `f` compiled for the active instruction set. `f` must be an `#[inline(always)]`
/// closure whose body calls `#[inline(always)]` kernels, so that the kernel code is compiled
/// inside the target-feature function.
#[inline(always)]
pub(crate) fn with_isa<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if isa() == Isa::Avx2 {
            // SAFETY: `isa()` is `Avx2` only if `is_x86_feature_detected!("avx2")` returned
            // true on this CPU (see `detected_isa` and `set_isa`).
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

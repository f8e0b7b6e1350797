//! Run-time choice of the instruction set for the hot loops, and the AVX2 kernels that safe
//! code could not make fast: the crate's only unsafe code.
//!
//! The kernels are plain safe Rust over fixed-width lane arrays (`[i32; 64]`, `[f64; 16]`),
//! which LLVM vectorises for whatever the compilation target allows. A plain
//! `cargo build --release` targets baseline x86-64 (SSE2): 128-bit vectors and no 32- or
//! 64-bit integer min/max, so each comparator of a sorting network costs a compare and three
//! logic operations per four lanes. On x86-64 the same generic code is therefore compiled a
//! second time inside a `#[target_feature(enable = "avx2")]` function ([`with_isa`]) and chosen
//! at run time when the CPU has AVX2 (`is_x86_feature_detected!`). Both versions perform the
//! same operations in the same order, so results are bit-identical whichever runs (up to the
//! sign and payload of NaN results, see below).
//!
//! Safe code cannot keep a sorting network in registers: the comparator list is data, so every
//! comparator loads and stores its two wires, and the stores bound the speed. For m <= 32 on
//! AVX2 the tile is instead sorted by Batcher's 32-wire network written out as straight-line
//! code over `__m256i` values ([`sort_registers_i32`], [`sort_registers_i64`]), one copy per m
//! with the missing wires set to the largest key, so the compiler deletes every comparator
//! that touches them and keeps the wires in registers. Measured on the 2-core AMD EPYC
//! (Zen 4) this crate is benchmarked on, sorting 20 wires of i32 keys: 0.44 ns per value with
//! the comparator list, 0.22 ns with the register network. The register network sorts fully,
//! the list networks are pruned only where order does not matter, so both leave the same keys
//! where the rules read them.
//!
//! Phocas's lane-wise arithmetic after the sort (centre, distances, window sum, all in f64 with
//! masks) is also written with intrinsics ([`phocas_tile_i32`], [`phocas_tile_i64`]): LLVM
//! vectorised the safe version with mask repacking and scalar tails, 0.60-0.70 ns per value
//! against 0.36 ns here (f32, m = 20, b = 4, same machine). Same operations in the same order
//! as the safe version, which the tests check bit for bit.
//!
//! AVX-512 ([`Isa::Avx512`], when the CPU has F, VL, BW, DQ and FMA): the same kernels are
//! compiled a third time with those features enabled ([`with_isa`] for the safe code,
//! [`isa_pair`] for the register networks of the tile path). Those keep their 256-bit
//! operations, so their arithmetic is unchanged, but get 32 vector registers instead of 16:
//! the 32-wire register network and Phocas's f64 arithmetic spill less. LLVM vectorises the
//! safe code (key conversion, the comparator-list merge for 32 < m <= 64) with 512-bit
//! registers. Measured (2-core Zen 4 VM, f32, d = 10^6, both cores, `examples/rule_profile`,
//! AVX2 then AVX-512 in one run): m = 50 Trmean 27.3 -> 19.8 ms, Median 27.9 -> 18.5, Phocas
//! 35.6 -> 32.3; as fast as a `-C target-cpu=native` build (Trmean 20.0 / 20.2, Phocas 24.1 /
//! 25.1). On an Intel Xeon VM (2026-12-01) the fused kernels of m <= 32 were slower in that
//! build than in their AVX2 one; they now have a 512-bit version of their own
//! ([`avx512_fused`], see [`for_m_fused`]). Krum's pair kernel on this
//! level is written for 512-bit registers (`krum_simd`, 8 lanes: one subtraction and one fused
//! multiply-add per 8 coordinates of a pair), and its conversion runs in the AVX-512 build.
//! Kernels of the tile path are
//! written for 512-bit registers on this level only: the register networks ([`avx512`]: 16
//! i32 or 8 i64 lanes per register, with AVX-512's 64-bit min/max), which for 32 < m <= 64
//! also read the rows and make the keys themselves (no unsorted tile in memory), and the
//! Phocas tile arithmetic ([`avx512_phocas`]); same operations per lane, so the same bits.
//! With them and the spread prefetch of the tile path, the committed `phocas bench-scaling`
//! run put Median, Trmean and Phocas at m = 50 at 1.72x, 2.60x and 2.60x Mean (AVX2 alone:
//! 2.9x, 3.5x, 4.1x in the last committed run before). `phocas bench-scaling` prints what
//! each choice buys on the machine it runs on (`compare.csv`, kind `isa`).
//!
//! Results are the same bits on every instruction set, except the sign and payload of a NaN
//! result: which NaN an addition of two NaNs returns depends on the operand order the
//! compiler chose (`tests/isa.rs` compares every level with the portable code).
//!
//! Every unsafe operation here is a call of a `#[target_feature]` function after the run-time
//! check that the CPU has the feature; or an AVX2, FMA or AVX-512 intrinsic inside such a
//! function of those features,
//! or inside a private `#[inline(always)]` helper of a private module that only such functions
//! call, whose pointer arguments come from bounds-checked slices of the exact length read or
//! written; or a prefetch (SSE, baseline on x86-64) of an element's address, which has no
//! effect on memory.
//!
//! Fused kernels (m <= 32 on AVX2; 512-bit twins in [`avx512_fused`]): Trmean, Median, the
//! lower median and Phocas run straight from the rows, 8 (f32) or 4 (f64) coordinates at a
//! time (16 or 8 on AVX-512): load, key, register sort and the
//! rule's f64 arithmetic, with no key tile in memory ([`order_fused_f32`],
//! [`phocas_fused_f32`] and their f64 twins), prefetching [`PREFETCH_BYTES`] ahead in every
//! row instead of pre-reading the span. Measured (f32, m = 20, d = 10^6, both cores, ratios
//! to Mean in one run): Median 2.3 -> 1.1, Trmean 2.6 -> 1.2, Phocas 3.7 -> 2.3. Phocas then
//! went to 1.6-1.9x by summing its window from Trmean's sum of the middle plus each pair's
//! kept value (one pass over the pairs instead of three passes and a second sum of the
//! middle: callgrind, m = 20, d = 10^5, 7.15 -> 5.5 instructions per value), and the fused
//! kernels read the rows without a bounds check per row and group (`avx2_fused::Rows`). For
//! 32 < m <= 64 the tile path sorts wires 0..32 and 32..m with the register networks and
//! only the (pruned) final merge stage of Batcher's network runs from the comparator list.
//! Krum's distance pass ([`krum_pairs`]) is register blocked: one row against up to 10 others,
//! each pair's accumulator in a register for a whole sub-tile, `fma(a - b, a - b, acc)` per
//! step (the subtraction on the adder ports, the fused multiply-add on the FMA ports). Measured
//! (f32, m = 20, d = 10^6, both cores, Krum / Mean): 4.98x with one load of row i per two
//! pairs and a separate multiply and add; 4.1x with the strips and FMA, prefetching rows 4 KiB
//! ahead into L2 instead of pre-reading spans; 3.1-3.5x with 256-coordinate sub-tiles;
//! 2.7-3.3x with the strips planned once per call. callgrind: 2.85 instructions per 4-lane
//! pair step, of which 2 floating-point.
//! With 8 lanes per pair and a 512-bit kernel (`krum_simd::pairs8`), cache-line aligned sub-tile
//! rows and 128-coordinate sub-tiles (Intel Xeon VM, 2026-12-01, fastest of 8 interleaved
//! runs, both cores): 12.97-13.34 -> 7.97-8.28 ms. In L1 the 512-bit pair step measured
//! 0.21-0.28 ns per 4 coordinates against 0.47-0.62 ns with 256-bit registers; the kernel
//! then runs at that speed (perf: about 70% of Krum's samples) and the rest is the f32 to f64
//! conversion, which waited on memory until the next sub-tile was prefetched into L1 during
//! the strips (`krum::distance_chunk`; the pair kernel has 80% of the samples since).
//!
//! Tried and left out: software prefetch into L1 a few tiles ahead in the tile path was slower
//! than the long-run pre-read of each span that the tile path used before (prefetch into L2,
//! which it uses now, is faster than both); interleaving the f64 arithmetic of 4 Phocas groups
//! (4x the independent add chains) was no faster at one thread (12.9 against 12.7 ms, m = 20,
//! d = 10^6, min of 5), so Phocas is bound by instruction throughput, not add latency;
//! caching the f64 values of a tile's wires for the tile Phocas kernel was slower than
//! converting the keys at each use (the fused kernel, 8 lanes at a time, converts once); a
//! 64-wire register network for
//! 32 < m <= 64 spilled most wires and was no faster than the pruned comparator list at
//! m = 50 (median: slower, since the list is pruned to the two middle ranks).
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU8, Ordering};

/// Instruction-set level of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// What the compilation target allows (baseline x86-64: SSE2).
    Portable,
    /// AVX2, selected at run time.
    Avx2,
    /// AVX-512 (F, VL, BW, DQ, with FMA), selected at run time: the AVX2 kernels compiled
    /// with these features (the same 256-bit operations, 32 vector registers instead of 16),
    /// 512-bit kernels for the tile path, and 512-bit vectors where LLVM vectorises safe
    /// code, a 512-bit pair kernel for Krum and 512-bit fused kernels for m <= 32
    /// ([`for_m_fused`]).
    Avx512,
}

impl Isa {
    /// Short name (`portable`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
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
        Isa::Avx512 => 3,
    }
}

/// The best level this CPU supports.
pub fn detected_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            let avx512 = std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("fma");
            return if avx512 { Isa::Avx512 } else { Isa::Avx2 };
        }
    }
    Isa::Portable
}

/// Levels this CPU can run, lowest first.
pub fn available_isas() -> Vec<Isa> {
    let best = detected_isa();
    [Isa::Portable, Isa::Avx2, Isa::Avx512]
        .into_iter()
        .filter(|&i| i <= best)
        .collect()
}

/// The level the kernels use now (the detected one unless [`set_isa`] chose another).
pub fn isa() -> Isa {
    match ACTIVE.load(Ordering::Relaxed) {
        3 => Isa::Avx512,
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
        match isa() {
            // SAFETY: `isa()` is `Avx2` or `Avx512` only if `is_x86_feature_detected!("avx2")`
            // returned true on this CPU (see `detected_isa` and `set_isa`).
            Isa::Avx2 => return unsafe { avx2(f) },
            // SAFETY: `isa()` is `Avx512` only after `is_x86_feature_detected!` found AVX2,
            // FMA and AVX-512 F, VL, BW and DQ on this CPU (see `detected_isa`).
            Isa::Avx512 => return unsafe { avx512(f) },
            Isa::Portable => {}
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The kernels below are `#[inline(always)]` bodies, each compiled twice by [`isa_pair`]:
/// inside an AVX2 function and inside an AVX-512 one, chosen at run time by [`isa`]. The
/// AVX-512 copy runs the same 256-bit intrinsics (so the same bits), with 32 registers.
/// Without the `/ name512` part it makes one function, with the features given (the fused
/// kernels, see [`for_m_fused`]).
#[cfg(target_arch = "x86_64")]
macro_rules! isa_pair {
    ($(#[$doc:meta])* $vis:vis fn $name:ident / $name512:ident <$($c:ident),*>
     ($($a:ident: $t:ty),* $(,)?) -> $r:ty = $body:ident, $features:literal) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        $vis unsafe fn $name<$(const $c: usize),*>($($a: $t),*) -> $r {
            // SAFETY: the caller's contract, which is the body's.
            unsafe { $body::<$($c),*>($($a),*) }
        }
        $(#[$doc])*
        ///
        /// (Compiled with AVX-512 F, VL, BW and DQ also enabled; the CPU must support them.)
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
        $vis unsafe fn $name512<$(const $c: usize),*>($($a: $t),*) -> $r {
            // SAFETY: as above.
            unsafe { $body::<$($c),*>($($a),*) }
        }
    };
    // One copy, with the features given (AVX2, or AVX-512 for `avx512_fused`).
    ($(#[$doc:meta])* $vis:vis fn $name:ident <$($c:ident),*>
     ($($a:ident: $t:ty),* $(,)?) -> $r:ty = $body:ident, $features:literal) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        $vis unsafe fn $name<$(const $c: usize),*>($($a: $t),*) -> $r {
            // SAFETY: the caller's contract, which is the body's.
            unsafe { $body::<$($c),*>($($a),*) }
        }
    };
}

/// Batcher's odd-even merge sort on 32 wires: the comparators
/// [`super::network::Network::sorting`] builds for m = 32 (a test checks it), passed to
/// `$mac!($args; (a, b) ...)`.
macro_rules! batcher32 {
    ($mac:ident!($($args:tt)*)) => {
        $mac!($($args)*;
        (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15) (16, 17) (18, 19)
        (20, 21) (22, 23) (24, 25) (26, 27) (28, 29) (30, 31) (0, 2) (1, 3) (4, 6) (5, 7)
        (8, 10) (9, 11) (12, 14) (13, 15) (16, 18) (17, 19) (20, 22) (21, 23) (24, 26) (25, 27)
        (28, 30) (29, 31) (1, 2) (5, 6) (9, 10) (13, 14) (17, 18) (21, 22) (25, 26) (29, 30)
        (0, 4) (1, 5) (2, 6) (3, 7) (8, 12) (9, 13) (10, 14) (11, 15) (16, 20) (17, 21)
        (18, 22) (19, 23) (24, 28) (25, 29) (26, 30) (27, 31) (2, 4) (3, 5) (10, 12) (11, 13)
        (18, 20) (19, 21) (26, 28) (27, 29) (1, 2) (3, 4) (5, 6) (9, 10) (11, 12) (13, 14)
        (17, 18) (19, 20) (21, 22) (25, 26) (27, 28) (29, 30) (0, 8) (1, 9) (2, 10) (3, 11)
        (4, 12) (5, 13) (6, 14) (7, 15) (16, 24) (17, 25) (18, 26) (19, 27) (20, 28) (21, 29)
        (22, 30) (23, 31) (4, 8) (5, 9) (6, 10) (7, 11) (20, 24) (21, 25) (22, 26) (23, 27)
        (2, 4) (3, 5) (6, 8) (7, 9) (10, 12) (11, 13) (18, 20) (19, 21) (22, 24) (23, 25)
        (26, 28) (27, 29) (1, 2) (3, 4) (5, 6) (7, 8) (9, 10) (11, 12) (13, 14) (17, 18)
        (19, 20) (21, 22) (23, 24) (25, 26) (27, 28) (29, 30) (0, 16) (1, 17) (2, 18) (3, 19)
        (4, 20) (5, 21) (6, 22) (7, 23) (8, 24) (9, 25) (10, 26) (11, 27) (12, 28) (13, 29)
        (14, 30) (15, 31) (8, 16) (9, 17) (10, 18) (11, 19) (12, 20) (13, 21) (14, 22) (15, 23)
        (4, 8) (5, 9) (6, 10) (7, 11) (12, 16) (13, 17) (14, 18) (15, 19) (20, 24) (21, 25)
        (22, 26) (23, 27) (2, 4) (3, 5) (6, 8) (7, 9) (10, 12) (11, 13) (14, 16) (15, 17)
        (18, 20) (19, 21) (22, 24) (23, 25) (26, 28) (27, 29) (1, 2) (3, 4) (5, 6) (7, 8)
        (9, 10) (11, 12) (13, 14) (15, 16) (17, 18) (19, 20) (21, 22) (23, 24) (25, 26) (27, 28)
        (29, 30)
        )
    };
}

/// A 20-wire sorting network of 92 comparators and depth 14, found by Valsalam and
/// Miikkulainen's symmetry-and-evolution search ("Using Symmetry and Evolutionary Search to
/// Minimize Sorting Networks", JMLR 14, 2013), against the 101 comparators (depth 15) that
/// Batcher's network keeps for 20 wires; passed to `$mac!($args; (a, b) ...)`. A unit test
/// checks that it sorts all 2^20 zero-one inputs (so every input, by the zero-one
/// principle). Any sorting network leaves the same sorted keys, so the rules' bits do not
/// depend on which one runs.
macro_rules! senso20 {
    ($mac:ident!($($args:tt)*)) => {
        $mac!($($args)*;
        (2, 11) (8, 17) (0, 10) (4, 5) (9, 19) (3, 6) (14, 15) (1, 12) (13, 16) (0, 1) (7, 18)
        (3, 14) (18, 19) (5, 16) (4, 13) (6, 15) (7, 9) (10, 12) (2, 8) (11, 17) (0, 3) (4, 7)
        (12, 15) (16, 19) (0, 2) (17, 19) (0, 4) (15, 19) (1, 14) (1, 3) (5, 18) (8, 10)
        (16, 18) (9, 11) (6, 13) (5, 9) (10, 14) (6, 8) (11, 13) (2, 7) (12, 17) (1, 5) (14, 18)
        (1, 2) (4, 6) (13, 15) (17, 18) (1, 4) (15, 18) (3, 9) (10, 16) (2, 3) (7, 8) (11, 12)
        (16, 17) (2, 6) (13, 17) (2, 4) (5, 10) (15, 17) (9, 14) (8, 12) (7, 11) (12, 16) (3, 7)
        (8, 9) (10, 11) (14, 16) (3, 5) (7, 8) (11, 12) (13, 14) (15, 16) (3, 4) (5, 6) (7, 10)
        (14, 15) (4, 5) (9, 12) (5, 7) (12, 14) (9, 13) (6, 10) (12, 13) (6, 7) (8, 9) (10, 11)
        (9, 11) (8, 10) (11, 12) (7, 8) (9, 10)
        )
    };
}

/// The register network for M wires: [`senso20`] for M = 20 (the paper's m), Batcher's
/// [`batcher32`] otherwise (the missing wires hold the largest key, so the compiler drops
/// the comparators that touch them). `M` is a constant, so only one of the two is compiled.
#[cfg(target_arch = "x86_64")]
macro_rules! sorting_network {
    ($m:expr, $mac:ident!($($args:tt)*)) => {
        if $m == 20 {
            senso20!($mac!($($args)*));
        } else {
            batcher32!($mac!($($args)*));
        }
    };
}

/// Applies the listed comparators to the wire array `$v` with `$cx(&mut $v, a, b)`.
#[cfg(target_arch = "x86_64")]
macro_rules! apply_comparators {
    ($cx:ident, $v:ident; $(($a:literal, $b:literal))*) => {
        $( $cx(&mut $v, $a, $b); )*
    };
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::layout::W;
    use std::arch::x86_64::*;

    /// Compare-exchange of 8 lanes of i32 keys.
    #[inline(always)]
    pub(super) fn cx32(v: &mut [__m256i; 32], a: usize, b: usize) {
        let (x, y) = (v[a], v[b]);
        // SAFETY: only inlined into `sort_i32` and `avx2_fused::order_f32`, which run only on CPUs with AVX2.
        unsafe {
            v[a] = _mm256_min_epi32(x, y);
            v[b] = _mm256_max_epi32(x, y);
        }
    }

    /// Compare-exchange of 4 lanes of i64 keys (AVX2 has no 64-bit min/max).
    #[inline(always)]
    pub(super) fn cx64(v: &mut [__m256i; 32], a: usize, b: usize) {
        let (x, y) = (v[a], v[b]);
        // SAFETY: only inlined into `sort_i64` and `avx2_fused::order_f64`, which run only on CPUs with AVX2.
        unsafe {
            let gt = _mm256_cmpgt_epi64(x, y);
            v[a] = _mm256_blendv_epi8(x, y, gt);
            v[b] = _mm256_blendv_epi8(y, x, gt);
        }
    }

    /// Sorts the first M wires of the tile in every lane (8 lanes per register).
    ///
    /// # Safety
    /// The CPU must support AVX2. `tile.len() >= M` (checked).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sort_i32<const M: usize>(tile: &mut [[i32; W]]) {
        let tile = &mut tile[..M];
        for g in 0..W / 8 {
            let mut v = [_mm256_set1_epi32(i32::MAX); 32];
            for w in 0..M {
                let s: &[i32; 8] = tile[w][g * 8..g * 8 + 8].try_into().expect("8 lanes");
                v[w] = _mm256_loadu_si256(s.as_ptr().cast());
            }
            sorting_network!(M, apply_comparators!(cx32, v));
            for w in 0..M {
                let s: &mut [i32; 8] = (&mut tile[w][g * 8..g * 8 + 8])
                    .try_into()
                    .expect("8 lanes");
                _mm256_storeu_si256(s.as_mut_ptr().cast(), v[w]);
            }
        }
    }

    /// Sorts the first M wires of the tile in every lane (4 lanes per register).
    ///
    /// # Safety
    /// The CPU must support AVX2. `tile.len() >= M` (checked).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sort_i64<const M: usize>(tile: &mut [[i64; W]]) {
        let tile = &mut tile[..M];
        for g in 0..W / 4 {
            let mut v = [_mm256_set1_epi64x(i64::MAX); 32];
            for w in 0..M {
                let s: &[i64; 4] = tile[w][g * 4..g * 4 + 4].try_into().expect("4 lanes");
                v[w] = _mm256_loadu_si256(s.as_ptr().cast());
            }
            sorting_network!(M, apply_comparators!(cx64, v));
            for w in 0..M {
                let s: &mut [i64; 4] = (&mut tile[w][g * 4..g * 4 + 4])
                    .try_into()
                    .expect("4 lanes");
                _mm256_storeu_si256(s.as_mut_ptr().cast(), v[w]);
            }
        }
    }
}

/// The register networks of [`avx2`] on 512-bit registers, for the tile path (16 lanes of
/// i32 keys, 8 of i64 per register, and AVX-512's 64-bit min/max): the same network, so the
/// same sorted keys, in half the instructions (a quarter for i64 keys, which AVX2 orders
/// with a compare and two blends).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::super::layout::W;
    use std::arch::x86_64::*;

    /// Compare-exchange of 16 lanes of i32 keys.
    #[inline(always)]
    pub(super) fn cx32(v: &mut [__m512i; 32], a: usize, b: usize) {
        let (x, y) = (v[a], v[b]);
        // SAFETY: only inlined into `sort_i32`, `rows_f32` and the kernels of `avx512_fused`,
        // which run only on CPUs with AVX-512 F.
        unsafe {
            v[a] = _mm512_min_epi32(x, y);
            v[b] = _mm512_max_epi32(x, y);
        }
    }

    /// Compare-exchange of 8 lanes of i64 keys.
    #[inline(always)]
    pub(super) fn cx64(v: &mut [__m512i; 32], a: usize, b: usize) {
        let (x, y) = (v[a], v[b]);
        // SAFETY: only inlined into `sort_i64`, `rows_f64` and the kernels of `avx512_fused`,
        // which run only on CPUs with AVX-512 F.
        unsafe {
            v[a] = _mm512_min_epi64(x, y);
            v[b] = _mm512_max_epi64(x, y);
        }
    }

    /// The total-order keys of 16 f32 bit patterns.
    #[inline(always)]
    pub(super) fn key32(x: __m512i) -> __m512i {
        // SAFETY: only inlined into `rows_f32` and the kernels of `avx512_fused`, which run
        // only on CPUs with AVX-512 F.
        // x ^ (sign mask & 0x7fff_ffff) in one ternary-logic operation (0x78: a ^ (b & c)).
        unsafe {
            let low = _mm512_set1_epi32(i32::MAX);
            _mm512_ternarylogic_epi32::<0x78>(x, _mm512_srai_epi32::<31>(x), low)
        }
    }

    /// The total-order keys of 8 f64 bit patterns.
    #[inline(always)]
    pub(super) fn key64(x: __m512i) -> __m512i {
        // SAFETY: only inlined into `rows_f64` and the kernels of `avx512_fused`, which run
        // only on CPUs with AVX-512 F.
        // As in `key32`.
        unsafe {
            let low = _mm512_set1_epi64(i64::MAX);
            _mm512_ternarylogic_epi64::<0x78>(x, _mm512_srai_epi64::<63>(x), low)
        }
    }

    /// For one key type: `$tile` sorts the tile's own wires, `$rows` makes them from rows of
    /// the matrix first; both end in `$store`, the network and the store of one group of
    /// lanes.
    macro_rules! register_sorts {
        ($tile:ident, $rows:ident, $store:ident, $ty:ty, $key:ty, $lanes:literal, $cx:ident,
         $tokey:ident, $full:expr) => {
            /// Sorts wires `v[..M]` with the register network and stores them as lanes
            /// `g * lanes..(g + 1) * lanes` of wires `0..M` of the tile.
            #[inline(always)]
            fn $store<const M: usize>(mut v: [__m512i; 32], tile: &mut [[$key; W]], g: usize) {
                sorting_network!(M, apply_comparators!($cx, v));
                for w in 0..M {
                    let s: &mut [$key; $lanes] = (&mut tile[w][g * $lanes..(g + 1) * $lanes])
                        .try_into()
                        .expect("one register of lanes");
                    // SAFETY: writes the 64 bytes of `s`; AVX-512 F as in the callers.
                    unsafe { _mm512_storeu_si512(s.as_mut_ptr().cast(), v[w]) };
                }
            }

            /// Sorts the first M wires of the tile in every lane.
            ///
            /// # Safety
            /// The CPU must support AVX2, FMA and AVX-512 F, VL, BW and DQ (the features
            /// enabled). `tile.len() >= M` (checked).
            #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
            pub(super) unsafe fn $tile<const M: usize>(tile: &mut [[$key; W]]) {
                let tile = &mut tile[..M];
                for g in 0..W / $lanes {
                    let mut v = [$full; 32];
                    for w in 0..M {
                        let s: &[$key; $lanes] = tile[w][g * $lanes..(g + 1) * $lanes]
                            .try_into()
                            .expect("one register of lanes");
                        v[w] = _mm512_loadu_si512(s.as_ptr().cast());
                    }
                    $store::<M>(v, tile, g);
                }
            }

            /// Writes to wires 0..M of the tile the keys of coordinates `[j, j + W)` of rows
            /// `first..first + M` of `x`, sorted in every lane: the conversion of
            /// `kernels::load_keys` and the register network in one pass, with no unsorted
            /// tile in memory.
            ///
            /// # Safety
            /// The CPU must support AVX2, FMA and AVX-512 F, VL, BW and DQ (the features
            /// enabled). `first + M <= x.m()`, `j + W <= x.d()` and `tile.len() >= M`
            /// (checked).
            #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
            pub(super) unsafe fn $rows<const M: usize>(
                x: MatrixView<'_, $ty>,
                j: usize,
                first: usize,
                tile: &mut [[$key; W]],
            ) {
                let tile = &mut tile[..M];
                let rows: [&[$ty; W]; M] = std::array::from_fn(|w| {
                    x.row(first + w)[j..j + W]
                        .try_into()
                        .expect("W coordinates")
                });
                for g in 0..W / $lanes {
                    let mut v = [$full; 32];
                    for w in 0..M {
                        let s = &rows[w][g * $lanes..(g + 1) * $lanes];
                        v[w] = $tokey(_mm512_loadu_si512(s.as_ptr().cast()));
                    }
                    $store::<M>(v, tile, g);
                }
            }
        };
    }

    register_sorts!(
        sort_i32,
        rows_f32,
        store_i32,
        f32,
        i32,
        16,
        cx32,
        key32,
        _mm512_set1_epi32(i32::MAX)
    );
    register_sorts!(
        sort_i64,
        rows_f64,
        store_i64,
        f64,
        i64,
        8,
        cx64,
        key64,
        _mm512_set1_epi64(i64::MAX)
    );

    use crate::matrix::MatrixView;
}

/// Calls `$f!(w)` for every wire w < 32 (constant indices keep the wires in registers).
#[cfg(target_arch = "x86_64")]
macro_rules! each_wire {
    ($f:ident) => {
        $f!(0);
        $f!(1);
        $f!(2);
        $f!(3);
        $f!(4);
        $f!(5);
        $f!(6);
        $f!(7);
        $f!(8);
        $f!(9);
        $f!(10);
        $f!(11);
        $f!(12);
        $f!(13);
        $f!(14);
        $f!(15);
        $f!(16);
        $f!(17);
        $f!(18);
        $f!(19);
        $f!(20);
        $f!(21);
        $f!(22);
        $f!(23);
        $f!(24);
        $f!(25);
        $f!(26);
        $f!(27);
        $f!(28);
        $f!(29);
        $f!(30);
        $f!(31);
    };
}

/// The opening the fused kernels share: for group `$g` of `$lanes` coordinates, prefetches
/// once per cache line of every row, loads the keys of the M wires and sorts them with the
/// register network; evaluates to the 32 wires (those from M on hold `$full`).
#[cfg(target_arch = "x86_64")]
macro_rules! fused_sorted_group {
    ($rows:ident, $g:ident, $pf:ident, $ty:ty, $lanes:expr, $key:ident, $load:ident,
     $cx:ident, $full:expr) => {{
        if $g % (64 / ($lanes * std::mem::size_of::<$ty>())) == 0 {
            $rows.ahead::<M>($g * $lanes, $pf);
        }
        let mut v = [$full; 32];
        for w in 0..M {
            // SAFETY: w < M = m, and (g + 1) * lanes <= len (the callers' loop bounds).
            v[w] = $key(unsafe { $rows.$load(w, $g * $lanes) });
        }
        sorting_network!(M, apply_comparators!($cx, v));
        v
    }};
}

/// Trmean / Median / lower median (`Finish::Rank`) of the whole groups of lanes of
/// coordinates `[j0, j0 + out.len())`, straight from the rows, for one of the fused modules
/// ([`avx2_fused`], [`avx512_fused`]): the keys, network and sums in the same order as the
/// tile path of [`super::kernels`]. The module supplies `splat`, `add`, `div`, `store_bits`
/// and `Rows::$load`.
#[cfg(target_arch = "x86_64")]
macro_rules! order_fused_kernel {
    ($name:ident, $body:ident, $ty:ty, $lanes:expr, $parts:expr, $key:ident, $vals:ident,
     $store:ident, $cx:ident, $full:expr, $load:ident, $features:literal) => {
        isa_pair!(
            /// Trmean / Rank of coordinates `[j0, j0 + out.len())` for the whole groups
            /// of lanes; returns how many coordinates it wrote.
            ///
            /// # Safety
            /// The CPU must support the features enabled. `x.m() == M` (checked).
            pub(super) fn $name<M>(
                x: MatrixView<'_, $ty>, j0: usize, out: &mut [$ty], finish: Finish,
            ) -> usize = $body, $features
        );

        #[inline(always)]
        unsafe fn $body<const M: usize>(
            x: MatrixView<'_, $ty>,
            j0: usize,
            out: &mut [$ty],
            finish: Finish,
        ) -> usize {
            assert_eq!(x.m(), M, "one wire per row");
            let len = out.len() / $lanes * $lanes;
            let rows = Rows::new(x, j0, len);
            let pf = super::PREFETCH_BYTES;
            let (lo, hi) = match finish {
                Finish::Trmean { b } => (b, M - b),
                Finish::Rank { b } => (b, b + 1),
                Finish::Phocas { .. } => unreachable!("Phocas has its own kernel"),
            };
            let trmean = matches!(finish, Finish::Trmean { .. });
            let n = splat((hi - lo) as f64);
            let nz = splat(-0.0);
            for (g, o) in out[..len].chunks_exact_mut($lanes).enumerate() {
                let v = fused_sorted_group!(rows, g, pf, $ty, $lanes, $key, $load, $cx, $full);
                if trmean {
                    let mut s = [nz; $parts];
                    macro_rules! add {
                        ($w:literal) => {
                            if $w < M && $w >= lo && $w < hi {
                                let f = $vals(v[$w]);
                                for p in 0..s.len() {
                                    s[p] = add(s[p], f[p]);
                                }
                            }
                        };
                    }
                    each_wire!(add);
                    for p in 0..s.len() {
                        s[p] = div(s[p], n);
                    }
                    $store(o, s);
                } else {
                    let mut r = v[0];
                    macro_rules! pick {
                        ($w:literal) => {
                            if $w < M && $w == lo {
                                r = v[$w];
                            }
                        };
                    }
                    each_wire!(pick);
                    store_bits(o, $key(r));
                }
            }
            len
        }
    };
}

/// Phocas_b of the whole groups of lanes of coordinates `[j0, j0 + out.len())`, straight
/// from the rows, for one of the fused modules ([`avx2_fused`], [`avx512_fused`]): the
/// operations of `phocas_tile` in the same order. Stops before the first group with a lane
/// whose separation check failed (and whose values are not all equal), or (f64, `$limit`)
/// whose centre or mean is not finite: returns how many coordinates it wrote. The module
/// supplies the vector helpers the body names (`splat`, `add`, `div`, `lane_mask`,
/// `not_finite`, `window`, `Rows::$load`) and the ones passed in.
#[cfg(target_arch = "x86_64")]
macro_rules! phocas_fused_kernel {
    ($name:ident, $body:ident, $ty:ty, $lanes:expr, $parts:expr, $key:ident, $bits:ident,
     $store:ident, $equal:ident, $cx:ident, $full:expr, $limit:literal, $load:ident,
     $features:literal) => {
        isa_pair!(
            /// Phocas_b of the whole groups of lanes of coordinates `[j0, j0 + out.len())`
            /// (see `phocas_fused_kernel`); returns how many coordinates it wrote.
            ///
            /// # Safety
            /// The CPU must support the features enabled. `x.m() == M` and `0 < 2b < M`
            /// (checked).
            pub(super) fn $name<M>(
                x: MatrixView<'_, $ty>, j0: usize, out: &mut [$ty], b: usize,
            ) -> usize = $body, $features
        );

        #[inline(always)]
        unsafe fn $body<const M: usize>(
            x: MatrixView<'_, $ty>,
            j0: usize,
            out: &mut [$ty],
            b: usize,
        ) -> usize {
            assert!(x.m() == M && b > 0 && 2 * b < M, "m = {}, b = {b}", x.m());
            let len = out.len() / $lanes * $lanes;
            let rows = Rows::new(x, j0, len);
            let pf = super::PREFETCH_BYTES;
            let n = M - b;
            let mid = splat((M - 2 * b) as f64);
            let nf = splat(n as f64);
            let nz = splat(-0.0);
            for (g, o) in out[..len].chunks_exact_mut($lanes).enumerate() {
                let v = fused_sorted_group!(rows, g, pf, $ty, $lanes, $key, $load, $cx, $full);
                // Runtime indices below: the bits of the wires go to memory once, so that
                // the sort above keeps the wires in registers, and each use converts them to
                // f64 from memory (f32: no extraction of upper halves, and half the stores of
                // storing the f64 values).
                let mut f = [$full; M];
                macro_rules! copy {
                    ($w:literal) => {
                        if $w < M {
                            f[$w] = $key(v[$w]);
                        }
                    };
                }
                each_wire!(copy);
                let mut y = [nz; $parts];
                for u in &f[b..n] {
                    let u = $bits(u);
                    for p in 0..$parts {
                        y[p] = add(y[p], u[p]);
                    }
                }
                // A closure has no target features of its own: inlined, it gets the
                // wrapper's.
                let (mut sum, y, bad) = window(
                    y,
                    mid,
                    ($bits(&f[b]), $bits(&f[n - 1])),
                    b,
                    #[inline(always)]
                    |k: usize| ($bits(&f[k]), $bits(&f[k + n])),
                );
                let (mut tied, mut big) = (0u64, 0u64);
                for p in 0..$parts {
                    let at = p * ($lanes / $parts);
                    sum[p] = div(sum[p], nf);
                    tied |= lane_mask(bad[p]) << at;
                    if $limit {
                        // f64 storage: a centre or a mean that is not finite may come from an
                        // overflow of finite values (near f64::MAX); such lanes take the
                        // exact route (`kernels::phocas_checked`), which scales them if so.
                        // (An overflowed distance shows up as a tie at +infinity, caught
                        // above.)
                        big |= not_finite(y[p], sum[p]) << at;
                    }
                }
                if (tied & !$equal(v[0], v[M - 1])) | big != 0 {
                    return g * $lanes;
                }
                $store(o, sum);
            }
            len
        }
    };
}

/// Trmean, Median and the lower median straight from the rows on AVX2: load 8 (f32) or 4
/// (f64) coordinates of every row, turn them into keys, sort them with the register network
/// and sum the middle wires, all in registers. The same keys, network and sums in the same
/// order as the tile path of [`super::kernels`], so the bits are the same; what goes is the
/// key tile in memory (written by the conversion, reread and rewritten by the sort, reread
/// by the sum).
#[cfg(target_arch = "x86_64")]
mod avx2_fused {
    use super::super::layout::Finish;
    use crate::matrix::MatrixView;
    use std::arch::x86_64::*;

    /// The total-order key of 8 f32 bit patterns, and back (the map is an involution).
    #[inline(always)]
    fn key32(x: __m256i) -> __m256i {
        // SAFETY: only inlined into functions that run only on CPUs with AVX2.
        unsafe { _mm256_xor_si256(x, _mm256_srli_epi32(_mm256_srai_epi32(x, 31), 1)) }
    }

    /// The total-order key of 4 f64 bit patterns, and back (the map is an involution).
    #[inline(always)]
    fn key64(x: __m256i) -> __m256i {
        // SAFETY: as in `key32`.
        unsafe {
            let neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
            _mm256_xor_si256(x, _mm256_srli_epi64(neg, 1))
        }
    }

    /// Coordinates `[j0, j0 + len)` of the M rows of a matrix, read without bounds checks
    /// (the loads of the fused kernels are all in range by construction; the checks cost
    /// about 4 instructions per row and group).
    #[derive(Clone, Copy)]
    pub(super) struct Rows<T> {
        /// Coordinate j0 of row 0.
        base: *const T,
        /// Row stride (d).
        d: usize,
        /// Coordinates readable from j0.
        len: usize,
    }

    impl<T: crate::scalar::Scalar> Rows<T> {
        pub(super) fn new(x: MatrixView<'_, T>, j0: usize, len: usize) -> Self {
            assert!(
                j0 + len <= x.d(),
                "coordinates {j0}..{} of {}",
                j0 + len,
                x.d()
            );
            Self {
                base: x.as_slice()[j0..].as_ptr(),
                d: x.d(),
                len,
            }
        }

        /// The 32 bytes of row w from coordinate c.
        ///
        /// # Safety
        /// The CPU must support AVX; w < m and c + 32 / size_of::<T>() <= len.
        #[inline(always)]
        unsafe fn load(&self, w: usize, c: usize) -> __m256i {
            debug_assert!(c + 32 / std::mem::size_of::<T>() <= self.len);
            // SAFETY: in range by the caller's contract (rows are d apart, j0 + len <= d).
            unsafe { _mm256_loadu_si256(self.base.add(w * self.d + c).cast()) }
        }

        /// The 64 bytes of row w from coordinate c.
        ///
        /// # Safety
        /// The CPU must support AVX-512 F; w < m and c + 64 / size_of::<T>() <= len.
        #[inline(always)]
        pub(super) unsafe fn load512(&self, w: usize, c: usize) -> __m512i {
            debug_assert!(c + 64 / std::mem::size_of::<T>() <= self.len);
            // SAFETY: as in `load`.
            unsafe { _mm512_loadu_si512(self.base.add(w * self.d + c).cast()) }
        }

        /// Asks for the cache line of each of the M rows `bytes` ahead of coordinate c.
        #[inline(always)]
        pub(super) fn ahead<const M: usize>(&self, c: usize, bytes: usize) {
            let at = c + bytes / std::mem::size_of::<T>();
            for w in 0..M {
                // A prefetch has no effect on memory and never faults, so an address past the
                // row (or the buffer) is harmless; `wrapping_add` keeps the pointer valid Rust.
                let p = self.base.wrapping_add(w * self.d + at);
                // SAFETY: as above; SSE is baseline on x86-64.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
            }
        }
    }

    /// The f64 values of 8 f32 keys.
    #[inline(always)]
    pub(super) fn vals32(k: __m256i) -> [__m256d; 2] {
        // SAFETY: as in `key32`.
        unsafe {
            let f = _mm256_castsi256_ps(key32(k));
            [
                _mm256_cvtps_pd(_mm256_castps256_ps128(f)),
                _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)),
            ]
        }
    }

    /// The f64 values of 4 f64 keys.
    #[inline(always)]
    pub(super) fn vals64(k: __m256i) -> [__m256d; 1] {
        // SAFETY: as in `key32`.
        unsafe { [_mm256_castsi256_pd(key64(k))] }
    }

    /// Stores one register of bits into `o` (32 bytes, checked).
    #[inline(always)]
    fn store_bits<T>(o: &mut [T], k: __m256i) {
        assert_eq!(std::mem::size_of_val(o), 32, "one register");
        // SAFETY: writes the 32 bytes of `o`; AVX2 as in `key32`.
        unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), k) }
    }

    order_fused_kernel!(
        order_f32,
        order_f32_body,
        f32,
        8,
        2,
        key32,
        vals32,
        store32,
        cx32,
        _mm256_set1_epi32(i32::MAX),
        load,
        "avx2"
    );
    order_fused_kernel!(
        order_f64,
        order_f64_body,
        f64,
        4,
        1,
        key64,
        vals64,
        store64,
        cx64,
        _mm256_set1_epi64x(i64::MAX),
        load,
        "avx2"
    );

    /// Stores 8 f64 results as f32 (`as f32` rounding).
    #[inline(always)]
    fn store32(o: &mut [f32], r: [__m256d; 2]) {
        let o: &mut [f32; 8] = o.try_into().expect("8 lanes");
        // SAFETY: writes the 32 bytes of `o`; AVX2 as in `key32`.
        unsafe {
            let v = _mm256_set_m128(_mm256_cvtpd_ps(r[1]), _mm256_cvtpd_ps(r[0]));
            _mm256_storeu_ps(o.as_mut_ptr(), v);
        }
    }

    /// Stores 4 f64 results.
    #[inline(always)]
    fn store64(o: &mut [f64], r: [__m256d; 1]) {
        let o: &mut [f64; 4] = o.try_into().expect("4 lanes");
        // SAFETY: writes the 32 bytes of `o`; AVX2 as in `key32`.
        unsafe { _mm256_storeu_pd(o.as_mut_ptr(), r[0]) }
    }

    /// Lanes whose lowest and highest keys are equal (all m values equal), as a bit mask.
    #[inline(always)]
    fn equal32(a: __m256i, b: __m256i) -> u64 {
        // SAFETY: as in `key32`.
        unsafe { _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b))) as u64 }
    }

    /// Like [`equal32`] for 4 lanes of i64 keys.
    #[inline(always)]
    fn equal64(a: __m256i, b: __m256i) -> u64 {
        // SAFETY: as in `key32`.
        unsafe { _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(a, b))) as u64 }
    }

    /// The f64 values of 8 f32 bit patterns in memory (each half converted from memory).
    #[inline(always)]
    fn bits32(x: &__m256i) -> [__m256d; 2] {
        let p: *const f32 = (x as *const __m256i).cast();
        // SAFETY: reads the 32 bytes of `x`; AVX2 as in `key32`.
        unsafe {
            [
                _mm256_cvtps_pd(_mm_loadu_ps(p)),
                _mm256_cvtps_pd(_mm_loadu_ps(p.add(4))),
            ]
        }
    }

    /// The 4 f64 values of f64 bit patterns in memory.
    #[inline(always)]
    fn bits64(x: &__m256i) -> [__m256d; 1] {
        // SAFETY: as in `key32`.
        unsafe { [_mm256_castsi256_pd(*x)] }
    }

    /// Vector helpers of `phocas_fused_kernel`.
    #[inline(always)]
    fn splat(v: f64) -> __m256d {
        // SAFETY: as in `key32`.
        unsafe { _mm256_set1_pd(v) }
    }
    #[inline(always)]
    fn add(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: as in `key32`.
        unsafe { _mm256_add_pd(a, b) }
    }
    #[inline(always)]
    fn div(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: as in `key32`.
        unsafe { _mm256_div_pd(a, b) }
    }
    /// The lanes set in a compare result, as bits.
    #[inline(always)]
    fn lane_mask(m: __m256d) -> u64 {
        // SAFETY: as in `key32`.
        unsafe { _mm256_movemask_pd(m) as u64 }
    }
    /// The lanes where `y` or `s` is not finite, as bits.
    #[inline(always)]
    fn not_finite(y: __m256d, s: __m256d) -> u64 {
        // SAFETY: as in `key32`.
        unsafe {
            let abs = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
            let inf = _mm256_set1_pd(f64::INFINITY);
            let fin = _mm256_and_pd(
                _mm256_cmp_pd(_mm256_and_pd(y, abs), inf, _CMP_LT_OQ),
                _mm256_cmp_pd(_mm256_and_pd(s, abs), inf, _CMP_LT_OQ),
            );
            (!_mm256_movemask_pd(fin) & 0xf) as u64
        }
    }

    phocas_fused_kernel!(
        phocas_f32,
        phocas_f32_body,
        f32,
        8,
        2,
        key32,
        bits32,
        store32,
        equal32,
        cx32,
        _mm256_set1_epi32(i32::MAX),
        false,
        load,
        "avx2"
    );
    phocas_fused_kernel!(
        phocas_f64,
        phocas_f64_body,
        f64,
        4,
        1,
        key64,
        bits64,
        store64,
        equal64,
        cx64,
        _mm256_set1_epi64x(i64::MAX),
        true,
        load,
        "avx2"
    );

    use super::avx2::{cx32, cx64};
    use super::avx2_phocas::window;
}

/// The fused kernels of [`avx2_fused`] on 512-bit registers, for the AVX-512 level: 16 lanes
/// of f32 keys (8 of f64, ordered by AVX-512's 64-bit min/max instead of a compare and two
/// blends) per register, so half the instructions per coordinate (a quarter for the f64
/// network). The same keys, the same network and the same f64 operations per lane in the
/// same order, so the same bits.
#[cfg(target_arch = "x86_64")]
mod avx512_fused {
    use super::super::layout::Finish;
    use crate::matrix::MatrixView;
    use std::arch::x86_64::*;

    /// The f64 values of 16 f32 keys.
    #[inline(always)]
    pub(super) fn vals32(k: __m512i) -> [__m512d; 2] {
        // SAFETY: only inlined into functions that run only on CPUs with AVX-512 F and DQ
        // (the kernels here and `avx512_phocas`'s).
        unsafe {
            let f = _mm512_castsi512_ps(key32(k));
            [
                _mm512_cvtps_pd(_mm512_castps512_ps256(f)),
                _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(f)),
            ]
        }
    }

    /// The f64 values of 8 f64 keys.
    #[inline(always)]
    pub(super) fn vals64(k: __m512i) -> [__m512d; 1] {
        // SAFETY: as in `vals32`.
        unsafe { [_mm512_castsi512_pd(key64(k))] }
    }

    /// The f64 values of 16 f32 bit patterns in memory (each half converted from memory).
    #[inline(always)]
    fn bits32(x: &__m512i) -> [__m512d; 2] {
        let p: *const f32 = (x as *const __m512i).cast();
        // SAFETY: reads the 64 bytes of `x`; AVX-512 as in `vals32`.
        unsafe {
            [
                _mm512_cvtps_pd(_mm256_loadu_ps(p)),
                _mm512_cvtps_pd(_mm256_loadu_ps(p.add(8))),
            ]
        }
    }

    /// The 8 f64 values of f64 bit patterns in memory.
    #[inline(always)]
    fn bits64(x: &__m512i) -> [__m512d; 1] {
        // SAFETY: as in `vals32`.
        unsafe { [_mm512_castsi512_pd(*x)] }
    }

    /// Stores 16 f64 results as f32 (`as f32` rounding).
    #[inline(always)]
    fn store32(o: &mut [f32], r: [__m512d; 2]) {
        let o: &mut [f32; 16] = o.try_into().expect("16 lanes");
        // SAFETY: writes the 64 bytes of `o`; AVX-512 as in `vals32`.
        unsafe {
            let lo = _mm512_castps256_ps512(_mm512_cvtpd_ps(r[0]));
            let v = _mm512_insertf32x8::<1>(lo, _mm512_cvtpd_ps(r[1]));
            _mm512_storeu_ps(o.as_mut_ptr(), v);
        }
    }

    /// Stores 8 f64 results.
    #[inline(always)]
    fn store64(o: &mut [f64], r: [__m512d; 1]) {
        let o: &mut [f64; 8] = o.try_into().expect("8 lanes");
        // SAFETY: writes the 64 bytes of `o`; AVX-512 as in `vals32`.
        unsafe { _mm512_storeu_pd(o.as_mut_ptr(), r[0]) }
    }

    /// Lanes whose lowest and highest keys are equal (all m values equal), as a bit mask.
    #[inline(always)]
    fn equal32(a: __m512i, b: __m512i) -> u64 {
        // SAFETY: as in `vals32`.
        u64::from(unsafe { _mm512_cmpeq_epi32_mask(a, b) })
    }

    /// Like [`equal32`] for 8 lanes of i64 keys.
    #[inline(always)]
    fn equal64(a: __m512i, b: __m512i) -> u64 {
        // SAFETY: as in `vals32`.
        u64::from(unsafe { _mm512_cmpeq_epi64_mask(a, b) })
    }

    /// Vector helpers of `phocas_fused_kernel`.
    #[inline(always)]
    fn splat(v: f64) -> __m512d {
        // SAFETY: as in `vals32`.
        unsafe { _mm512_set1_pd(v) }
    }
    #[inline(always)]
    fn add(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: as in `vals32`.
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    fn div(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: as in `vals32`.
        unsafe { _mm512_div_pd(a, b) }
    }
    /// The lanes set in a mask, as bits.
    #[inline(always)]
    fn lane_mask(m: __mmask8) -> u64 {
        u64::from(m)
    }
    /// The lanes where `y` or `s` is not finite, as bits.
    #[inline(always)]
    fn not_finite(y: __m512d, s: __m512d) -> u64 {
        // SAFETY: as in `vals32`.
        unsafe {
            let abs = _mm512_castsi512_pd(_mm512_set1_epi64(i64::MAX));
            let inf = _mm512_set1_pd(f64::INFINITY);
            let fin = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_and_pd(y, abs), inf)
                & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_and_pd(s, abs), inf);
            u64::from(!fin)
        }
    }

    /// Stores one register of bits into `o` (64 bytes, checked).
    #[inline(always)]
    fn store_bits<T>(o: &mut [T], k: __m512i) {
        assert_eq!(std::mem::size_of_val(o), 64, "one register");
        // SAFETY: writes the 64 bytes of `o`; AVX-512 as in `vals32`.
        unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), k) }
    }

    order_fused_kernel!(
        order_f32,
        order_f32_body,
        f32,
        16,
        2,
        key32,
        vals32,
        store32,
        cx32,
        _mm512_set1_epi32(i32::MAX),
        load512,
        "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"
    );
    order_fused_kernel!(
        order_f64,
        order_f64_body,
        f64,
        8,
        1,
        key64,
        vals64,
        store64,
        cx64,
        _mm512_set1_epi64(i64::MAX),
        load512,
        "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"
    );

    phocas_fused_kernel!(
        phocas_f32,
        phocas_f32_body,
        f32,
        16,
        2,
        key32,
        bits32,
        store32,
        equal32,
        cx32,
        _mm512_set1_epi32(i32::MAX),
        false,
        load512,
        "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"
    );
    phocas_fused_kernel!(
        phocas_f64,
        phocas_f64_body,
        f64,
        8,
        1,
        key64,
        bits64,
        store64,
        equal64,
        cx64,
        _mm512_set1_epi64(i64::MAX),
        true,
        load512,
        "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"
    );

    use super::avx2_fused::Rows;
    use super::avx512::{cx32, cx64, key32, key64};
    use super::avx512_phocas::window;
}

/// Calls `avx512_fused::$f::<m>(args)` on the AVX-512 level and `avx2_fused::$f::<m>(args)`
/// on the AVX2 level, for the m listed (2..=32; Phocas 3..=32). The AVX-512 level once ran
/// the AVX2 kernels compiled with AVX-512 features (32 registers, 256-bit operations), which
/// on the development machine of 2026-12-01 (an Intel Xeon with AVX-512, 2 vCPUs) was slower
/// than their AVX2 build (f32, m = 20, d = 10^6, fastest of 3: Median 5.63 -> 4.02 ms, Trmean 7.03 -> 5.18
/// ms, Phocas 9.38 -> 7.39 ms with the AVX2 build). The kernels of [`avx512_fused`] instead
/// take 16 coordinates per 512-bit register (f32) and turn them into keys with one ternary
/// logic operation; measured on the same kind of machine (2026-12-02, f32, m = 20, both
/// cores, fastest of 3 interleaved 1 s runs of `examples/rule_profile`, AVX2 kernels ->
/// 512-bit kernels): Median 2.37 -> 2.20 ms, Phocas 4.47 -> 3.92 ms; the ternary-logic keys
/// then 2.22 -> 2.00 and 3.92 -> 3.71 ms, converting Phocas's wires to f64 from memory at
/// each use (no extraction of upper halves) 3.96 -> 3.82 ms, and the 92-comparator network
/// for m = 20 ([`senso20`]) 0.75 -> 0.70 ms at one thread and d = 10^5 (Median 0.44 ->
/// 0.42).
#[cfg(target_arch = "x86_64")]
macro_rules! for_m_fused {
    ($f:ident, $m:expr, $args:tt; $($n:literal)*) => {
        if fused512() {
            for_m_fused!(@ avx512_fused, $f, $m, $args; $($n)*)
        } else {
            for_m_fused!(@ avx2_fused, $f, $m, $args; $($n)*)
        }
    };
    (@ $module:ident, $f:ident, $m:expr, $args:tt; $($n:literal)*) => {
        match $m {
            $( $n => {
                // SAFETY: callers check that the active instruction set is AVX2 or AVX-512,
                // which `isa()` reports only after `is_x86_feature_detected!("avx2")`, and
                // `fused512` that it is AVX-512, reported only after the detection of its
                // features.
                unsafe { $module::$f::<$n> $args }
            } )*
            _ => unreachable!("m checked by the caller"),
        }
    };
}

/// Whether the fused kernels run their 512-bit version ([`avx512_fused`]).
#[inline(always)]
fn fused512() -> bool {
    isa() == Isa::Avx512
}

/// Whether the active instruction set runs the AVX2 kernels (AVX2, or AVX-512 with them
/// compiled for 32 registers).
#[inline(always)]
fn avx2_active() -> bool {
    matches!(isa(), Isa::Avx2 | Isa::Avx512)
}
/// Trmean / Median / lower median of coordinates `[j0, j0 + out.len())` of `x` straight from
/// the rows, if the active instruction set has a fused kernel for m = x.m(); returns how
/// many leading coordinates of `out` it wrote (0 if none: the caller does the rest).
pub(crate) fn order_fused_f32(
    x: crate::matrix::MatrixView<'_, f32>,
    j0: usize,
    out: &mut [f32],
    finish: super::layout::Finish,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let m = x.m();
        if (2..=REGISTER_MAX_M).contains(&m) && avx2_active() {
            return for_m_fused!(order_f32, m, (x, j0, out, finish);
                2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
        }
    }
    let _ = (x, j0, out, finish);
    0
}

/// Phocas_b (0 < 2b < m) of the leading coordinates of `out` straight from the rows, if the
/// active instruction set has a fused kernel for m = x.m(); returns how many it wrote (it
/// stops before a group of lanes that needs the exact route).
pub(crate) fn phocas_fused_f32(
    x: crate::matrix::MatrixView<'_, f32>,
    j0: usize,
    out: &mut [f32],
    b: usize,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let m = x.m();
        if (3..=REGISTER_MAX_M).contains(&m) && b > 0 && 2 * b < m && avx2_active() {
            return for_m_fused!(phocas_f32, m, (x, j0, out, b);
                3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
        }
    }
    let _ = (x, j0, out, b);
    0
}

/// Like [`phocas_fused_f32`], for f64 rows.
pub(crate) fn phocas_fused_f64(
    x: crate::matrix::MatrixView<'_, f64>,
    j0: usize,
    out: &mut [f64],
    b: usize,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let m = x.m();
        if (3..=REGISTER_MAX_M).contains(&m) && b > 0 && 2 * b < m && avx2_active() {
            return for_m_fused!(phocas_f64, m, (x, j0, out, b);
                3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
        }
    }
    let _ = (x, j0, out, b);
    0
}

/// Like [`order_fused_f32`], for f64 rows.
pub(crate) fn order_fused_f64(
    x: crate::matrix::MatrixView<'_, f64>,
    j0: usize,
    out: &mut [f64],
    finish: super::layout::Finish,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let m = x.m();
        if (2..=REGISTER_MAX_M).contains(&m) && avx2_active() {
            return for_m_fused!(order_f64, m, (x, j0, out, finish);
                2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
        }
    }
    let _ = (x, j0, out, finish);
    0
}

/// Phocas sums and checks of one sorted tile on AVX2 (see `finish_phocas` in
/// [`super::kernels`], which does the same operations in the same order in safe code).
#[cfg(target_arch = "x86_64")]
mod avx2_phocas {
    use super::super::layout::W;
    use super::avx2_fused::{vals32, vals64};
    use std::arch::x86_64::*;

    /// Constants of the distance |v - y| with NaN counted as +infinity.
    #[derive(Clone, Copy)]
    struct Dist {
        abs: __m256d,
        inf: __m256d,
    }

    impl Dist {
        #[inline(always)]
        fn new() -> Self {
            // SAFETY: only inlined into functions that run only on CPUs with AVX2.
            unsafe {
                Self {
                    abs: _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX)),
                    inf: _mm256_set1_pd(f64::INFINITY),
                }
            }
        }
        /// min(|v - y|, inf) is +inf for NaN (MINPD returns its second operand then).
        #[inline(always)]
        fn of(self, v: __m256d, y: __m256d) -> __m256d {
            // SAFETY: as in `new`.
            unsafe { _mm256_min_pd(_mm256_and_pd(_mm256_sub_pd(v, y), self.abs), self.inf) }
        }
    }

    /// One group of lanes' Phocas window, shared by the fused and the tile kernels so that
    /// both compute the same bits: from `sum`, Trmean's sum of the middle v_b..v_{n-1}, the
    /// centre y = sum / (m - 2b); then, for k < b, pair k = (v_k, v_{k+n}) keeps its upper
    /// value when that one is strictly nearer to y, and the kept value is added to the sum.
    /// `ends` are v_b and v_{n-1}. Returns (window sum, centre, lanes whose separation check
    /// failed: some dropped value not strictly farther than some kept one).
    #[inline(always)]
    pub(super) fn window<const P: usize>(
        mut sum: [__m256d; P],
        mid: __m256d,
        ends: ([__m256d; P], [__m256d; P]),
        b: usize,
        pair: impl Fn(usize) -> ([__m256d; P], [__m256d; P]),
    ) -> ([__m256d; P], [__m256d; P], [__m256d; P]) {
        let dist = Dist::new();
        // SAFETY: only inlined into functions that run only on CPUs with AVX2.
        unsafe {
            let mut y = sum;
            let mut keep_max = sum;
            let mut lose_min = [dist.inf; P];
            for p in 0..P {
                y[p] = _mm256_div_pd(sum[p], mid);
                keep_max[p] = _mm256_max_pd(dist.of(ends.0[p], y[p]), dist.of(ends.1[p], y[p]));
            }
            for k in 0..b {
                let (a, c) = pair(k);
                for p in 0..P {
                    let (da, dc) = (dist.of(a[p], y[p]), dist.of(c[p], y[p]));
                    let upper = _mm256_cmp_pd(da, dc, _CMP_GT_OQ);
                    sum[p] = _mm256_add_pd(sum[p], _mm256_blendv_pd(a[p], c[p], upper));
                    lose_min[p] = _mm256_min_pd(lose_min[p], _mm256_max_pd(da, dc));
                    keep_max[p] = _mm256_max_pd(keep_max[p], _mm256_min_pd(da, dc));
                }
            }
            let mut bad = keep_max;
            for p in 0..P {
                bad[p] = _mm256_cmp_pd(lose_min[p], keep_max[p], _CMP_LE_OQ);
            }
            (sum, y, bad)
        }
    }

    /// The f32 values of lanes 8g..8g+8 of a wire of i32 keys, as two f64 vectors.
    #[inline(always)]
    fn values32(wire: &[i32; W], g: usize) -> [__m256d; 2] {
        let s: &[i32; 8] = wire[g * 8..g * 8 + 8].try_into().expect("8 lanes");
        // SAFETY: reads the 32 bytes of `s`; AVX2 as in `Dist::new`.
        vals32(unsafe { _mm256_loadu_si256(s.as_ptr().cast()) })
    }

    /// The f64 values of lanes 4g..4g+4 of a wire of i64 keys.
    #[inline(always)]
    fn values64(wire: &[i64; W], g: usize) -> [__m256d; 1] {
        let s: &[i64; 4] = wire[g * 4..g * 4 + 4].try_into().expect("4 lanes");
        // SAFETY: reads the 32 bytes of `s`; AVX2 as in `Dist::new`.
        vals64(unsafe { _mm256_loadu_si256(s.as_ptr().cast()) })
    }

    macro_rules! phocas_tile {
        ($name:ident, $key:ty, $vals:ident, $lanes:expr, $parts:expr) => {
            /// Writes the window mean and the centre of every lane; returns the lanes whose
            /// separation check failed.
            ///
            /// # Safety
            /// The CPU must support AVX2.
            #[target_feature(enable = "avx2")]
            pub(in super::super) unsafe fn $name(
                tile: &[[$key; W]],
                b: usize,
                res: &mut [f64; W],
                centre: &mut [f64; W],
            ) -> u64 {
                let m = tile.len();
                let n = m - b;
                let mid = _mm256_set1_pd((m - 2 * b) as f64);
                let nf = _mm256_set1_pd(n as f64);
                let nz = _mm256_set1_pd(-0.0);
                let mut tied = 0u64;
                for g in 0..W / $lanes {
                    let mut y = [nz; $parts];
                    for wire in &tile[b..n] {
                        let v = $vals(wire, g);
                        for p in 0..$parts {
                            y[p] = _mm256_add_pd(y[p], v[p]);
                        }
                    }
                    let ends = ($vals(&tile[b], g), $vals(&tile[n - 1], g));
                    // A closure has no target features of its own: inlined, it gets the
                    // wrapper's.
                    let (sum, y, bad) = window(
                        y,
                        mid,
                        ends,
                        b,
                        #[inline(always)]
                        |k: usize| ($vals(&tile[k], g), $vals(&tile[k + n], g)),
                    );
                    for p in 0..$parts {
                        let at = g * $lanes + p * 4;
                        let r: &mut [f64; 4] = (&mut res[at..at + 4]).try_into().expect("4");
                        _mm256_storeu_pd(r.as_mut_ptr(), _mm256_div_pd(sum[p], nf));
                        let c: &mut [f64; 4] = (&mut centre[at..at + 4]).try_into().expect("4");
                        _mm256_storeu_pd(c.as_mut_ptr(), y[p]);
                        if b > 0 {
                            tied |= (_mm256_movemask_pd(bad[p]) as u64) << at;
                        }
                    }
                }
                tied
            }
        };
    }

    phocas_tile!(phocas_i32, i32, values32, 8, 2);
    phocas_tile!(phocas_i64, i64, values64, 4, 1);
}

/// The tile Phocas kernel of [`avx2_phocas`] with 512-bit registers (16 lanes of keys, 8 of
/// f64 per register): the same operations on every lane in the same order (VMINPD, VMAXPD,
/// the ordered compares and the blend behave lane by lane as their 256-bit forms), so the same
/// bits, in half the instructions. Measured (f32, m = 50, b = 12, d = 10^6, both cores, min
/// of 50 calls, three runs, `examples/rule_profile`): 22.8-23.6 ms with the AVX2 kernel,
/// 21.1-22.1 ms with this one.
#[cfg(target_arch = "x86_64")]
mod avx512_phocas {
    use super::super::layout::W;
    use super::avx512_fused::{vals32, vals64};
    use std::arch::x86_64::*;

    /// |v - y| with NaN counted as +infinity: min(|v - y|, inf) is +inf for NaN (MINPD
    /// returns its second operand then).
    #[inline(always)]
    fn dist(v: __m512d, y: __m512d) -> __m512d {
        // SAFETY: only inlined into `phocas_i32` / `phocas_i64` and the kernels of
        // `avx512_fused`, which run only on CPUs with AVX-512 F and DQ.
        unsafe {
            let abs = _mm512_castsi512_pd(_mm512_set1_epi64(i64::MAX));
            let d = _mm512_and_pd(_mm512_sub_pd(v, y), abs);
            _mm512_min_pd(d, _mm512_set1_pd(f64::INFINITY))
        }
    }

    /// `avx2_phocas::window` on 512-bit registers (the same operations per lane in the same
    /// order), shared by the tile kernels below and `avx512_fused`; the failed lanes come
    /// back as masks.
    #[inline(always)]
    pub(super) fn window<const P: usize>(
        mut sum: [__m512d; P],
        mid: __m512d,
        ends: ([__m512d; P], [__m512d; P]),
        b: usize,
        pair: impl Fn(usize) -> ([__m512d; P], [__m512d; P]),
    ) -> ([__m512d; P], [__m512d; P], [__mmask8; P]) {
        // SAFETY: only inlined into functions that run only on CPUs with AVX-512 F and DQ.
        unsafe {
            let mut y = sum;
            let mut keep_max = sum;
            let mut lose_min = [_mm512_set1_pd(f64::INFINITY); P];
            for p in 0..P {
                y[p] = _mm512_div_pd(sum[p], mid);
                keep_max[p] = _mm512_max_pd(dist(ends.0[p], y[p]), dist(ends.1[p], y[p]));
            }
            // Pair k keeps its upper value when that one is strictly nearer.
            for k in 0..b {
                let (a, c) = pair(k);
                for p in 0..P {
                    let (da, dc) = (dist(a[p], y[p]), dist(c[p], y[p]));
                    let upper = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(da, dc);
                    sum[p] = _mm512_add_pd(sum[p], _mm512_mask_blend_pd(upper, a[p], c[p]));
                    lose_min[p] = _mm512_min_pd(lose_min[p], _mm512_max_pd(da, dc));
                    keep_max[p] = _mm512_max_pd(keep_max[p], _mm512_min_pd(da, dc));
                }
            }
            let mut bad = [0; P];
            for p in 0..P {
                bad[p] = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(lose_min[p], keep_max[p]);
            }
            (sum, y, bad)
        }
    }

    /// The f32 values of lanes 16g..16g+16 of a wire of i32 keys, as two f64 vectors.
    #[inline(always)]
    fn values32(wire: &[i32; W], g: usize) -> [__m512d; 2] {
        let s: &[i32; 16] = wire[g * 16..g * 16 + 16].try_into().expect("16 lanes");
        // SAFETY: reads the 64 bytes of `s`; AVX-512 as in `dist`.
        vals32(unsafe { _mm512_loadu_si512(s.as_ptr().cast()) })
    }

    /// The f64 values of lanes 8g..8g+8 of a wire of i64 keys.
    #[inline(always)]
    fn values64(wire: &[i64; W], g: usize) -> [__m512d; 1] {
        let s: &[i64; 8] = wire[g * 8..g * 8 + 8].try_into().expect("8 lanes");
        // SAFETY: reads the 64 bytes of `s`; AVX-512 as in `dist`.
        vals64(unsafe { _mm512_loadu_si512(s.as_ptr().cast()) })
    }

    macro_rules! phocas_tile {
        ($name:ident, $key:ty, $vals:ident, $lanes:expr, $parts:expr) => {
            /// Writes the window mean and the centre of every lane; returns the lanes whose
            /// separation check failed (`avx2_phocas`'s kernel, 512 bits wide).
            ///
            /// # Safety
            /// The CPU must support AVX-512 F, VL, BW and DQ.
            #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
            pub(in super::super) unsafe fn $name(
                tile: &[[$key; W]],
                b: usize,
                res: &mut [f64; W],
                centre: &mut [f64; W],
            ) -> u64 {
                let m = tile.len();
                let n = m - b;
                let mid = _mm512_set1_pd((m - 2 * b) as f64);
                let nf = _mm512_set1_pd(n as f64);
                let nz = _mm512_set1_pd(-0.0);
                let mut tied = 0u64;
                for g in 0..W / $lanes {
                    // Trmean's sum of the middle v_b..v_{n-1}, from -0.0 in wire order.
                    let mut sum = [nz; $parts];
                    for wire in &tile[b..n] {
                        let v = $vals(wire, g);
                        for p in 0..$parts {
                            sum[p] = _mm512_add_pd(sum[p], v[p]);
                        }
                    }
                    let ends = ($vals(&tile[b], g), $vals(&tile[n - 1], g));
                    // A closure has no target features of its own: inlined, it gets the
                    // wrapper's.
                    let (sum, y, bad) = window(
                        sum,
                        mid,
                        ends,
                        b,
                        #[inline(always)]
                        |k: usize| ($vals(&tile[k], g), $vals(&tile[k + n], g)),
                    );
                    for p in 0..$parts {
                        let at = g * $lanes + p * 8;
                        let r: &mut [f64; 8] = (&mut res[at..at + 8]).try_into().expect("8");
                        _mm512_storeu_pd(r.as_mut_ptr(), _mm512_div_pd(sum[p], nf));
                        let c: &mut [f64; 8] = (&mut centre[at..at + 8]).try_into().expect("8");
                        _mm512_storeu_pd(c.as_mut_ptr(), y[p]);
                        if b > 0 {
                            tied |= u64::from(bad[p]) << at;
                        }
                    }
                }
                tied
            }
        };
    }

    phocas_tile!(phocas_i32, i32, values32, 16, 2);
    phocas_tile!(phocas_i64, i64, values64, 8, 1);
}

/// The Phocas window means and centres of a sorted tile on AVX2 (`None` if AVX2 is not
/// active); `Some(mask)` of the lanes whose separation check failed.
pub(crate) fn phocas_tile_i32(
    tile: &[[i32; super::layout::W]],
    b: usize,
    res: &mut [f64; super::layout::W],
    centre: &mut [f64; super::layout::W],
) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        match isa() {
            // SAFETY: `isa()` is `Avx2` only after `is_x86_feature_detected!("avx2")`.
            Isa::Avx2 => return Some(unsafe { avx2_phocas::phocas_i32(tile, b, res, centre) }),
            // SAFETY: `isa()` is `Avx512` only after the detection of its features.
            Isa::Avx512 => return Some(unsafe { avx512_phocas::phocas_i32(tile, b, res, centre) }),
            Isa::Portable => {}
        }
    }
    let _ = (tile, b, res, centre);
    None
}

/// Like [`phocas_tile_i32`], for i64 keys.
pub(crate) fn phocas_tile_i64(
    tile: &[[i64; super::layout::W]],
    b: usize,
    res: &mut [f64; super::layout::W],
    centre: &mut [f64; super::layout::W],
) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        match isa() {
            // SAFETY: `isa()` is `Avx2` only after `is_x86_feature_detected!("avx2")`.
            Isa::Avx2 => return Some(unsafe { avx2_phocas::phocas_i64(tile, b, res, centre) }),
            // SAFETY: `isa()` is `Avx512` only after the detection of its features.
            Isa::Avx512 => return Some(unsafe { avx512_phocas::phocas_i64(tile, b, res, centre) }),
            Isa::Portable => {}
        }
    }
    let _ = (tile, b, res, centre);
    None
}

/// Krum's pairwise squared distances of one sub-tile with AVX2 + FMA or AVX-512: the same
/// operations in the same order as `krum::accumulate` (`acc = fma(a - b, a - b, acc)` per
/// lane), register blocked by the cyclic pair schedule of [`super::krum::plan_strips`]: row
/// i is paired with up to [`super::layout::STRIP_MAX`] rows at once, so one load of row i
/// serves them all and each pair's accumulator stays in a register for the whole sub-tile.
/// One generic kernel over the vector width ([`krum_simd::Lanes4`], [`krum_simd::Lanes8`]):
/// with 256-bit registers the 8 lanes of an accumulator are taken in two passes over the
/// sub-tile (lanes 0..4, then 4..8), so a strip needs one register per pair on both widths.
#[cfg(target_arch = "x86_64")]
mod krum_simd {
    use super::super::layout::{Lanes, StripPlan, SubRow, ACC, SUB};
    use std::arch::x86_64::*;

    /// One vector of f64 lanes. Its functions are called only from the target-feature
    /// functions below, which enable the instructions they use.
    pub(super) trait Vector: Copy {
        /// Lanes per register.
        const W: usize;
        /// Zeros.
        fn zero() -> Self;
        /// `W` lanes of `r` from `o` (`o + W <= r.len()`, checked).
        fn load(r: &[f64], o: usize) -> Self;
        /// Stores the lanes into `r[o..o + W]` (checked).
        fn store(self, r: &mut [f64], o: usize);
        /// `fma(x - y, x - y, self)` lane-wise.
        fn step(self, x: Self, y: Self) -> Self;
    }

    /// 4 lanes, AVX2 and FMA.
    #[derive(Clone, Copy)]
    pub(super) struct Lanes4(__m256d);
    /// 8 lanes, AVX-512 F.
    #[derive(Clone, Copy)]
    pub(super) struct Lanes8(__m512d);

    impl Vector for Lanes4 {
        const W: usize = 4;
        #[inline(always)]
        fn zero() -> Self {
            // SAFETY: AVX2 enabled by the caller (`pairs4`).
            Self(unsafe { _mm256_setzero_pd() })
        }
        #[inline(always)]
        fn load(r: &[f64], o: usize) -> Self {
            let s: &[f64; 4] = r[o..o + 4].try_into().expect("4 lanes");
            // SAFETY: reads the 32 bytes of `s`; AVX2 as above.
            Self(unsafe { _mm256_loadu_pd(s.as_ptr()) })
        }
        #[inline(always)]
        fn store(self, r: &mut [f64], o: usize) {
            let s: &mut [f64; 4] = (&mut r[o..o + 4]).try_into().expect("4 lanes");
            // SAFETY: writes the 32 bytes of `s`; AVX2 as above.
            unsafe { _mm256_storeu_pd(s.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn step(self, x: Self, y: Self) -> Self {
            // SAFETY: AVX2 and FMA enabled by the caller (`pairs4`).
            unsafe {
                let t = _mm256_sub_pd(x.0, y.0);
                Self(_mm256_fmadd_pd(t, t, self.0))
            }
        }
    }

    impl Vector for Lanes8 {
        const W: usize = 8;
        #[inline(always)]
        fn zero() -> Self {
            // SAFETY: AVX-512 F enabled by the caller (`pairs8`).
            Self(unsafe { _mm512_setzero_pd() })
        }
        #[inline(always)]
        fn load(r: &[f64], o: usize) -> Self {
            let s: &[f64; 8] = r[o..o + 8].try_into().expect("8 lanes");
            // SAFETY: reads the 64 bytes of `s`; AVX-512 F as above.
            Self(unsafe { _mm512_loadu_pd(s.as_ptr()) })
        }
        #[inline(always)]
        fn store(self, r: &mut [f64], o: usize) {
            let s: &mut [f64; 8] = (&mut r[o..o + 8]).try_into().expect("8 lanes");
            // SAFETY: writes the 64 bytes of `s`; AVX-512 F as above.
            unsafe { _mm512_storeu_pd(s.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn step(self, x: Self, y: Self) -> Self {
            // SAFETY: AVX-512 F enabled by the caller (`pairs8`).
            unsafe {
                let t = _mm512_sub_pd(x.0, y.0);
                Self(_mm512_fmadd_pd(t, t, self.0))
            }
        }
    }

    /// The K pairs of one strip; with SHARED, every pair's first row is a[0].
    #[inline(always)]
    fn group<V: Vector, const K: usize, const SHARED: bool>(
        tile: &[SubRow],
        s: &StripPlan,
        acc: &mut [Lanes],
    ) {
        // Plain loops, not `std::array::from_fn`: a closure has no target features of its
        // own, and the one of `from_fn` was not inlined (its loads ran as calls).
        let (mut ra, mut rb) = ([&tile[0].0; K], [&tile[0].0; K]);
        for k in 0..K {
            (ra[k], rb[k]) = (&tile[s.a[k]].0, &tile[s.b[k]].0);
        }
        for h in (0..ACC).step_by(V::W) {
            let mut r = [V::zero(); K];
            for k in 0..K {
                r[k] = V::load(&acc[s.p[k]].0, h);
            }
            for c in 0..SUB / ACC {
                let o = c * ACC + h;
                let x0 = V::load(ra[0], o);
                for k in 0..K {
                    let x = if SHARED { x0 } else { V::load(ra[k], o) };
                    r[k] = r[k].step(x, V::load(rb[k], o));
                }
            }
            for k in 0..K {
                r[k].store(&mut acc[s.p[k]].0, h);
            }
        }
    }

    /// Every strip with vector V; `before(s)` runs before strip s.
    #[inline(always)]
    fn pairs<V: Vector, F: Fn(&StripPlan)>(
        tile: &[SubRow],
        acc: &mut [Lanes],
        strips: &[StripPlan],
        before: F,
    ) {
        macro_rules! by_width {
            ($shared:literal, $s:expr) => {
                match $s.len {
                    1 => group::<V, 1, $shared>(tile, $s, acc),
                    2 => group::<V, 2, $shared>(tile, $s, acc),
                    3 => group::<V, 3, $shared>(tile, $s, acc),
                    4 => group::<V, 4, $shared>(tile, $s, acc),
                    5 => group::<V, 5, $shared>(tile, $s, acc),
                    6 => group::<V, 6, $shared>(tile, $s, acc),
                    7 => group::<V, 7, $shared>(tile, $s, acc),
                    8 => group::<V, 8, $shared>(tile, $s, acc),
                    9 => group::<V, 9, $shared>(tile, $s, acc),
                    10 => group::<V, 10, $shared>(tile, $s, acc),
                    _ => unreachable!("strips are 1 to STRIP_MAX = 10 pairs"),
                }
            };
        }
        for s in strips {
            before(s);
            if s.shared {
                by_width!(true, s);
            } else {
                by_width!(false, s);
            }
        }
    }

    /// `acc[p] = fma(a - b, a - b, acc[p])` lane-wise for every pair of the strips, 4 lanes
    /// per register.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA. Rows and accumulators are bounds-checked.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn pairs4<F: Fn(&StripPlan)>(
        tile: &[SubRow],
        acc: &mut [Lanes],
        strips: &[StripPlan],
        before: F,
    ) {
        pairs::<Lanes4, F>(tile, acc, strips, before);
    }

    /// As [`pairs4`], 8 lanes per register.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F (and FMA, which every AVX-512 CPU has). Rows and
    /// accumulators are bounds-checked.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn pairs8<F: Fn(&StripPlan)>(
        tile: &[SubRow],
        acc: &mut [Lanes],
        strips: &[StripPlan],
        before: F,
    ) {
        pairs::<Lanes8, F>(tile, acc, strips, before);
    }
}

/// Krum's pair accumulation of one sub-tile with the SIMD kernel of the active instruction
/// set (AVX-512, or AVX2 if the CPU has FMA), calling `before(s)` before strip s (the
/// caller's prefetches go there); returns whether one ran.
#[inline(always)]
pub(crate) fn krum_pairs<F: Fn(&super::layout::StripPlan)>(
    tile: &[super::layout::SubRow],
    acc: &mut [super::layout::Lanes],
    strips: &[super::layout::StripPlan],
    before: F,
) -> bool {
    krum_pairs_on(isa(), tile, acc, strips, before)
}

/// [`krum_pairs`] at a given level (at most the detected one; tests compare the levels).
#[inline(always)]
pub(crate) fn krum_pairs_on<F: Fn(&super::layout::StripPlan)>(
    level: Isa,
    tile: &[super::layout::SubRow],
    acc: &mut [super::layout::Lanes],
    strips: &[super::layout::StripPlan],
    before: F,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match level.min(detected_isa()) {
            Isa::Avx2 if std::is_x86_feature_detected!("fma") => {
                // SAFETY: the detected level is at least AVX2; FMA checked just above.
                unsafe { krum_simd::pairs4(tile, acc, strips, before) };
                return true;
            }
            Isa::Avx512 => {
                // SAFETY: the detected level is `Avx512` only after the detection of AVX-512
                // F, AVX2 and FMA among its features.
                unsafe { krum_simd::pairs8(tile, acc, strips, before) };
                return true;
            }
            _ => {}
        }
    }
    let _ = (level, tile, acc, strips, before);
    false
}

/// Asks for the cache lines of `row[at..at + len]` (those that exist) into L1
/// (`_MM_HINT_T0`); no effect on memory.
#[inline(always)]
pub(crate) fn prefetch_l1<T>(row: &[T], at: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let step = (64 / std::mem::size_of::<T>()).max(1);
        let end = (at + len).min(row.len());
        let mut k = at;
        while k < end {
            // SAFETY: a prefetch has no effect on memory; SSE is baseline on x86-64; the
            // address is of an element of `row`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(&row[k]).cast()) };
            k += step;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (row, at, len);
}

/// How far ahead of the coordinates being processed the kernels prefetch every row: 4 KiB
/// (1024 f32). Measured on the development machine (2-core Zen 4 VM, f32, m = 20,
/// d = 10^6), against the long-run pre-read of a span before computing it: Median 1.7x ->
/// 1.0x Mean, Trmean 2.0x -> 1.2x, Phocas 3.1x -> 2.3x (2, 4 and 8 KiB ahead all alike,
/// 1 KiB slightly worse): memory is fetched while the thread computes instead of before.
/// Krum's distance pass prefetches differently (one sub-tile ahead into L1, spread over the
/// pair strips: see `krum::distance_chunk`), and the tile path (m > 32) chooses its own
/// distance and level (`kernels::tile_prefetch_bytes`).
pub(crate) const PREFETCH_BYTES: usize = 4096;

/// Largest m sorted by the register networks.
pub(crate) const REGISTER_MAX_M: usize = 32;

/// Calls `avx2::$f::<m>($tile)` (or, on AVX-512, `avx512::$f512::<m>($tile)`) for m in
/// 2..=32.
#[cfg(target_arch = "x86_64")]
macro_rules! for_m {
    ($f:ident / $f512:ident, $tile:expr, $m:expr; $($n:literal)*) => {
        match ($m, isa() == Isa::Avx512) {
            $( ($n, false) => {
                // SAFETY: callers check that the active instruction set is AVX2 or AVX-512,
                // which `isa()` reports only after `is_x86_feature_detected!("avx2")`.
                unsafe { avx2::$f::<$n>($tile) }
            }
            ($n, true) => {
                // SAFETY: `isa()` is `Avx512` only after the detection of its features.
                unsafe { avx512::$f512::<$n>($tile) }
            } )*
            _ => unreachable!("m checked by the caller"),
        }
    };
}

/// Sorts the first m wires of `tile` lane by lane with a register network, if the active
/// instruction set has one for this m (AVX2, 2 <= m <= 32); returns whether it did.
pub(crate) fn sort_registers_i32(tile: &mut [[i32; super::layout::W]], m: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if (2..=REGISTER_MAX_M).contains(&m) && tile.len() >= m && avx2_active() {
            for_m!(sort_i32 / sort_i32, tile, m;
                2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
            return true;
        }
    }
    let _ = (tile, m);
    false
}

/// Calls `avx512::$f::<m>($args)` for m in 1..=32.
#[cfg(target_arch = "x86_64")]
macro_rules! for_m_512 {
    ($f:ident, $m:expr, $args:tt; $($n:literal)*) => {
        match $m {
            $( $n => {
                // SAFETY: callers check that the active instruction set is AVX-512, which
                // `isa()` reports only after the detection of its features.
                unsafe { avx512::$f::<$n> $args }
            } )*
            _ => unreachable!("m checked by the caller"),
        }
    };
}

/// Writes to wires 0..m of `tile` the keys of coordinates `[j, j + W)` of rows
/// `first..first + m` of `x`, sorted in every lane, if the active instruction set has a
/// register network that reads the rows itself (AVX-512, 1 <= m <= 32, a whole tile of
/// coordinates); returns whether it did.
pub(crate) fn sort_rows_f32(
    x: crate::matrix::MatrixView<'_, f32>,
    j: usize,
    first: usize,
    m: usize,
    tile: &mut [[i32; super::layout::W]],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let fits = first + m <= x.m() && j + super::layout::W <= x.d() && tile.len() >= m;
        if (1..=REGISTER_MAX_M).contains(&m) && fits && isa() == Isa::Avx512 {
            for_m_512!(rows_f32, m, (x, j, first, tile);
                1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
            return true;
        }
    }
    let _ = (x, j, first, m, tile);
    false
}

/// Like [`sort_rows_f32`], for f64 rows.
pub(crate) fn sort_rows_f64(
    x: crate::matrix::MatrixView<'_, f64>,
    j: usize,
    first: usize,
    m: usize,
    tile: &mut [[i64; super::layout::W]],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let fits = first + m <= x.m() && j + super::layout::W <= x.d() && tile.len() >= m;
        if (1..=REGISTER_MAX_M).contains(&m) && fits && isa() == Isa::Avx512 {
            for_m_512!(rows_f64, m, (x, j, first, tile);
                1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
            return true;
        }
    }
    let _ = (x, j, first, m, tile);
    false
}

/// Like [`sort_registers_i32`], for i64 keys.
pub(crate) fn sort_registers_i64(tile: &mut [[i64; super::layout::W]], m: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if (2..=REGISTER_MAX_M).contains(&m) && tile.len() >= m && avx2_active() {
            for_m!(sort_i64 / sort_i64, tile, m;
                2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
            return true;
        }
    }
    let _ = (tile, m);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! as_list {
        (; $(($a:literal, $b:literal))*) => {
            &[$(($a, $b)),*]
        };
    }

    #[test]
    fn spelled_out_network_is_batchers() {
        let list: &[(u16, u16)] = batcher32!(as_list!());
        assert_eq!(
            list,
            super::super::network::Network::sorting(32).comparators()
        );
    }

    #[test]
    fn senso20_sorts_every_zero_one_input() {
        let list: &[(u16, u16)] = senso20!(as_list!());
        assert_eq!(list.len(), 92);
        let n = 20;
        // Bit t of wires[w] is bit w of input 64 * k + t.
        for k in 0..(1u64 << n) / 64 {
            let mut wires: [u64; 20] = std::array::from_fn(|w| {
                (0..64u64).fold(0, |acc, t| acc | (((64 * k + t) >> w) & 1) << t)
            });
            for &(a, b) in list {
                let (x, y) = (wires[usize::from(a)], wires[usize::from(b)]);
                wires[usize::from(a)] = x & y;
                wires[usize::from(b)] = x | y;
            }
            for w in 1..n {
                assert_eq!(
                    wires[w - 1] & !wires[w],
                    0,
                    "inputs {}..{}",
                    64 * k,
                    64 * k + 64
                );
            }
        }
    }

    #[test]
    fn register_networks_sort_every_lane() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for m in 1..=34 {
            let mut t32: Vec<[i32; super::super::layout::W]> = (0..m)
                .map(|_| std::array::from_fn(|_| rng.random_range(-20..20)))
                .collect();
            let mut t64: Vec<[i64; super::super::layout::W]> = t32
                .iter()
                .map(|w| std::array::from_fn(|l| i64::from(w[l]) * (1 << 40)))
                .collect();
            let done = sort_registers_i32(&mut t32, m);
            assert_eq!(sort_registers_i64(&mut t64, m), done);
            assert_eq!(
                done,
                (2..=REGISTER_MAX_M).contains(&m) && avx2_active(),
                "m = {m}"
            );
            if done {
                for l in 0..super::super::layout::W {
                    for w in 1..m {
                        assert!(t32[w - 1][l] <= t32[w][l], "m = {m}");
                        assert!(t64[w - 1][l] <= t64[w][l], "m = {m}");
                    }
                }
            }
        }
    }
}

//! Run-time choice of the instruction set for the hot loops, and the SIMD kernels that safe
//! code could not make fast: the crate's only unsafe code.
//!
//! The rules' kernels are plain safe Rust over fixed-width lane arrays, which LLVM vectorises
//! for whatever the compilation target allows (baseline x86-64: SSE2). On x86-64 the same
//! generic code is compiled again inside `#[target_feature]` functions ([`with_isa`]) and
//! chosen at run time when the CPU has AVX2 or AVX-512 (`is_x86_feature_detected!`). The
//! kernels safe code could not make fast are written with intrinsics, one folder per
//! instruction set, over the same layout ([`super::layout`]); the portable level's are
//! written once over the `wide` crate's 128-bit vectors (SSE2 on x86-64, NEON on aarch64):
//!
//! | file | what |
//! |---|---|
//! | `portable.rs` | the portable level (any target): float register networks for m <= 32 with the signed zeros put back in key order, fused Trmean / Median / Phocas / MeaMed from the rows, and the tile's sort from the rows |
//! | `networks.rs` | the comparator lists (Batcher's 32 wires; 92 comparators for m = 20) |
//! | `fused.rs` | the fused Trmean / Median / Phocas / MeaMed kernels for m <= 32, written once as macros over the vector width |
//! | `avx2/`, `avx512/` | per instruction set: `networks.rs` (register networks for the tile path), `fused.rs` (loads, keys and the expanded fused kernels), `phocas.rs` (the window arithmetic of Phocas and MeaMed on a sorted tile) |
//! | `krum.rs` | Krum's register-blocked pair kernel, generic over 4 or 8 f64 lanes |
//!
//! Why each exists: a sorting network whose comparator list is data loads and stores its
//! wires at every comparator, so for m <= 32 the tile is sorted by networks written out as
//! straight-line code over vector registers (the compiler drops the comparators of missing
//! wires); the fused kernels for m <= 32 sort straight from the rows without a key tile in
//! memory; Phocas's masked f64 arithmetic after the sort vectorised poorly in safe code;
//! Krum's pair kernel keeps one accumulator per pair in a register for a whole sub-tile. The
//! measurements behind each choice, and what was tried and left out, are in
//! `reports/PERF.md`; `phocas bench-scaling` prints what each level buys on the machine it
//! runs on (`compare.csv`, kind `isa`).
//!
//! Every kernel performs the same operations in the same order as the safe code, so results
//! are bit-identical on every level (`tests/isa.rs` compares them), except the sign and
//! payload of a NaN result: which NaN an addition of two NaNs returns depends on the operand
//! order the compiler chose.
//!
//! Safety: every unsafe operation is a call of a `#[target_feature]` function after the
//! run-time check that the CPU has the feature; or an AVX2, FMA or AVX-512 intrinsic inside
//! such a function of those features, or inside a private `#[inline(always)]` helper of a
//! private module that only such functions call, whose pointer arguments come from
//! bounds-checked slices of the exact length read or written; or a prefetch (SSE, baseline on
//! x86-64) of an element's address, which has no effect on memory; or (`portable.rs`) a read
//! of N values of a row at an offset checked against the matrix's shape (`Rows::get`).
#![allow(unsafe_code)]

/// Instruction-set level of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// What the compilation target allows (baseline x86-64: SSE2; aarch64: NEON), with the
    /// register networks of `simd::portable` (`PHOCAS_ISA=portable` chooses it on any CPU).
    Portable,
    /// AVX2, selected at run time.
    Avx2,
    /// AVX-512 (F, VL, BW, DQ, with FMA), selected at run time: the AVX2 kernels compiled
    /// with these features (the same 256-bit operations, 32 vector registers instead of 16),
    /// 512-bit kernels for the tile path, and 512-bit vectors where LLVM vectorises safe
    /// code, a 512-bit pair kernel for Krum and 512-bit fused kernels for m <= 32
    /// (`avx512::fused`).
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

/// The level the environment variable `PHOCAS_ISA` asks for (`portable`, `avx2`, `avx512`):
/// `Ok(None)` if it is not set, an error naming the levels this CPU can run if it names
/// another. Read once, by the first [`Level::default`] (an invalid value is then ignored: the
/// command line tool refuses it before any work).
pub fn isa_from_env() -> Result<Option<Isa>, String> {
    let Some(v) = std::env::var_os("PHOCAS_ISA") else {
        return Ok(None);
    };
    let v = v.to_string_lossy();
    let levels = available_isas();
    levels
        .iter()
        .find(|l| l.name() == v.trim())
        .map(|&l| Some(l))
        .ok_or_else(|| {
            let names: Vec<&str> = levels.iter().map(|l| l.name()).collect();
            format!(
                "PHOCAS_ISA={v} is not an instruction set this CPU can run: use one of {} or unset it",
                names.join(", ")
            )
        })
}

/// An instruction-set level checked against this CPU, carried as a value by each
/// [`Workspace`](super::Workspace) (no process-wide switch). The only ways to get one are
/// [`Level::detected`], [`Level::new`] (`None` for a level this CPU cannot run) and
/// [`Level::default`] (the level `PHOCAS_ISA` names, else the detected one), so a kernel may
/// trust it: a `Level` of AVX2 or AVX-512 exists only after `is_x86_feature_detected!` found
/// those features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(Isa);

impl Level {
    /// The best level this CPU supports.
    pub fn detected() -> Self {
        Level(detected_isa())
    }

    /// `isa` if this CPU can run it.
    pub fn new(isa: Isa) -> Option<Self> {
        (isa <= detected_isa()).then_some(Level(isa))
    }

    /// The instruction set.
    pub fn isa(self) -> Isa {
        self.0
    }
}

impl Default for Level {
    /// The level `PHOCAS_ISA` names (see [`isa_from_env`]; read once), else the detected one.
    fn default() -> Self {
        static DEFAULT: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *DEFAULT.get_or_init(|| Level(isa_from_env().ok().flatten().unwrap_or_else(detected_isa)))
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

/// Runs `f` compiled for `level`. `f` must be an `#[inline(always)]` closure whose body
/// calls `#[inline(always)]` kernels, so that the kernel code is compiled inside the
/// target-feature function.
#[inline(always)]
pub(crate) fn with_isa<R>(level: Level, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        match level.0 {
            // SAFETY: a `Level` is `Avx2` or `Avx512` only if `is_x86_feature_detected!("avx2")`
            // returned true on this CPU (see `Level::new` and `detected_isa`).
            Isa::Avx2 => return unsafe { avx2(f) },
            // SAFETY: a `Level` is `Avx512` only after `is_x86_feature_detected!` found AVX2,
            // FMA and AVX-512 F, VL, BW and DQ on this CPU (see `detected_isa`).
            Isa::Avx512 => return unsafe { avx512(f) },
            Isa::Portable => {}
        }
    }
    let _ = level;
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
/// inside an AVX2 function and inside an AVX-512 one, chosen at run time by the [`Level`]. The
/// AVX-512 copy runs the same 256-bit intrinsics (so the same bits), with 32 registers.
/// Without the `/ name512` part it makes one function, with the features given (the fused
/// kernels, see [`avx512::fused`]).
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

/// Runs `$body` with the constant `$M` equal to the run-time `$m`, for m in the range named
/// (`1..=32`, `2..=32` or `3..=32`): one monomorphised copy of the body per m, so each
/// register network is compiled for its exact number of wires. The caller checks the range.
macro_rules! with_m {
    ($m:expr, 1..=32, $M:ident => $body:expr) => {
        with_m!(@ $m, $M, $body;
            1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
    };
    ($m:expr, 2..=32, $M:ident => $body:expr) => {
        with_m!(@ $m, $M, $body;
            2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
    };
    ($m:expr, 3..=32, $M:ident => $body:expr) => {
        with_m!(@ $m, $M, $body;
            3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
    };
    (@ $m:expr, $M:ident, $body:expr; $($n:literal)*) => {
        match $m {
            $( $n => {
                const $M: usize = $n;
                $body
            } )*
            _ => unreachable!("m checked by the caller"),
        }
    };
}

#[macro_use]
mod networks;
#[macro_use]
mod fused;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod krum;
mod portable;

/// Whether `level` runs the AVX2 kernels (AVX2, or AVX-512 with them
/// compiled for 32 registers).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn avx2_active(level: Level) -> bool {
    matches!(level.0, Isa::Avx2 | Isa::Avx512)
}

/// Largest m sorted by the register networks.
pub(crate) const REGISTER_MAX_M: usize = 32;

/// How far ahead of the coordinates being processed the fused kernels prefetch every row:
/// 4 KiB (1024 f32), so memory is fetched while the thread computes instead of before (2, 4
/// and 8 KiB measured alike, 1 KiB slightly worse: `reports/PERF.md`). Krum's distance pass
/// prefetches one sub-tile ahead into L1 (`krum::distance_chunk`), and the tile path (m > 32)
/// chooses its own distance (`kernels::tile_prefetch_bytes`).
pub(crate) const PREFETCH_BYTES: usize = 4096;

/// The fused kernel `$f` of the active level for m = `$m` (in `$lo..=32`): the 512-bit one
/// (`avx512::fused`) on AVX-512, the 256-bit one ([`avx2::fused`]) on AVX2 (on the machine
/// of 2026-12-01 the AVX2 kernels compiled with AVX-512 features were slower than their AVX2
/// build, so AVX-512 has kernels of its own).
#[cfg(target_arch = "x86_64")]
macro_rules! fused {
    ($level:expr, $f:ident, $m:expr, $lo:tt, $args:tt) => {{
        let wide = $level.0 == Isa::Avx512;
        with_m!($m, $lo..=32, M => if wide {
            // SAFETY: `level` is `Avx512` only after the detection of its features.
            unsafe { avx512::fused::$f::<M> $args }
        } else {
            // SAFETY: callers check that `level` is AVX2 or AVX-512,
            // which a `Level` holds only after `is_x86_feature_detected!("avx2")`.
            unsafe { avx2::fused::$f::<M> $args }
        })
    }};
}

/// Trmean / Median / lower median of coordinates `[j0, j0 + out.len())` of `x` straight from
/// the rows, if `level` has a fused kernel for m = x.m(); returns how
/// many leading coordinates of `out` it wrote (0 if none: the caller does the rest).
pub(crate) fn order_fused_f32(
    level: Level,
    x: crate::matrix::MatrixView<'_, f32>,
    j0: usize,
    out: &mut [f32],
    finish: super::layout::Finish,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let m = x.m();
        if (2..=REGISTER_MAX_M).contains(&m) && avx2_active(level) {
            return fused!(level, order_f32, m, 2, (x, j0, out, finish));
        }
    }
    let m = x.m();
    if (2..=REGISTER_MAX_M).contains(&m) && level.0 == Isa::Portable {
        return with_m!(m, 2..=32, M => portable::order_f32::<M>(x, j0, out, finish));
    }
    0
}

/// Like [`order_fused_f32`], for f64 rows.
pub(crate) fn order_fused_f64(
    level: Level,
    x: crate::matrix::MatrixView<'_, f64>,
    j0: usize,
    out: &mut [f64],
    finish: super::layout::Finish,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let m = x.m();
        if (2..=REGISTER_MAX_M).contains(&m) && avx2_active(level) {
            return fused!(level, order_f64, m, 2, (x, j0, out, finish));
        }
    }
    let m = x.m();
    if (2..=REGISTER_MAX_M).contains(&m) && level.0 == Isa::Portable {
        return with_m!(m, 2..=32, M => portable::order_f64::<M>(x, j0, out, finish));
    }
    0
}

/// Phocas_b (centre Trmean_ct with ct = b) or MeaMed_b (ct = ceil(m/2) - 1, the median) of
/// the leading coordinates of `out` straight from the rows (0 < 2b < m, 2 ct < m), if the
/// `level` has a fused kernel for m = x.m(); returns how many it wrote (it
/// stops before a group of lanes that needs the exact route).
pub(crate) fn phocas_fused_f32(
    level: Level,
    x: crate::matrix::MatrixView<'_, f32>,
    j0: usize,
    out: &mut [f32],
    b: usize,
    ct: usize,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let m = x.m();
        let valid = b > 0 && 2 * b < m && 2 * ct < m;
        if (3..=REGISTER_MAX_M).contains(&m) && valid && avx2_active(level) {
            return fused!(level, phocas_f32, m, 3, (x, j0, out, b, ct));
        }
    }
    let m = x.m();
    let valid = b > 0 && 2 * b < m && 2 * ct < m;
    if (3..=REGISTER_MAX_M).contains(&m) && valid && level.0 == Isa::Portable {
        return with_m!(m, 3..=32, M => portable::window_f32::<M>(x, j0, out, b, ct));
    }
    0
}

/// Like [`phocas_fused_f32`], for f64 rows.
pub(crate) fn phocas_fused_f64(
    level: Level,
    x: crate::matrix::MatrixView<'_, f64>,
    j0: usize,
    out: &mut [f64],
    b: usize,
    ct: usize,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let m = x.m();
        let valid = b > 0 && 2 * b < m && 2 * ct < m;
        if (3..=REGISTER_MAX_M).contains(&m) && valid && avx2_active(level) {
            return fused!(level, phocas_f64, m, 3, (x, j0, out, b, ct));
        }
    }
    let m = x.m();
    let valid = b > 0 && 2 * b < m && 2 * ct < m;
    if (3..=REGISTER_MAX_M).contains(&m) && valid && level.0 == Isa::Portable {
        return with_m!(m, 3..=32, M => portable::window_f64::<M>(x, j0, out, b, ct));
    }
    0
}

/// Sorts the first m wires of `tile` lane by lane with a register network, if the active
/// level has one for this m (AVX2, 2 <= m <= 32); returns whether it did.
pub(crate) fn sort_registers_i32(
    level: Level,
    tile: &mut [[i32; super::layout::W]],
    m: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if (2..=REGISTER_MAX_M).contains(&m) && tile.len() >= m && avx2_active(level) {
            let wide = level.0 == Isa::Avx512;
            with_m!(m, 2..=32, M => if wide {
                // SAFETY: `level` is `Avx512` only after the detection of its features.
                unsafe { avx512::networks::sort_i32::<M>(tile) }
            } else {
                // SAFETY: `avx2_active(level)` holds only after `is_x86_feature_detected!("avx2")`.
                unsafe { avx2::networks::sort_i32::<M>(tile) }
            });
            return true;
        }
    }
    let _ = (level, tile, m);
    false
}

/// Like [`sort_registers_i32`], for i64 keys.
pub(crate) fn sort_registers_i64(
    level: Level,
    tile: &mut [[i64; super::layout::W]],
    m: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if (2..=REGISTER_MAX_M).contains(&m) && tile.len() >= m && avx2_active(level) {
            let wide = level.0 == Isa::Avx512;
            with_m!(m, 2..=32, M => if wide {
                // SAFETY: `level` is `Avx512` only after the detection of its features.
                unsafe { avx512::networks::sort_i64::<M>(tile) }
            } else {
                // SAFETY: `avx2_active(level)` holds only after `is_x86_feature_detected!("avx2")`.
                unsafe { avx2::networks::sort_i64::<M>(tile) }
            });
            return true;
        }
    }
    let _ = (level, tile, m);
    false
}

/// Writes to wires 0..m of `tile` the keys of coordinates `[j, j + W)` of rows
/// `first..first + m` of `x`, sorted in every lane, if `level` has a
/// register network that reads the rows itself (a whole tile of coordinates; AVX-512 for
/// 1 <= m <= 32; the portable level for 2 <= m <= 32 when no coordinate of the tile holds a
/// NaN, see [`portable`]); returns whether it did.
pub(crate) fn sort_rows_f32(
    level: Level,
    x: crate::matrix::MatrixView<'_, f32>,
    j: usize,
    first: usize,
    m: usize,
    tile: &mut [[i32; super::layout::W]],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let fits = first + m <= x.m() && j + super::layout::W <= x.d() && tile.len() >= m;
        if (1..=REGISTER_MAX_M).contains(&m) && fits && level.0 == Isa::Avx512 {
            // SAFETY: `level` is `Avx512` only after the detection of its features.
            with_m!(m, 1..=32, M => unsafe { avx512::networks::rows_f32::<M>(x, j, first, tile) });
            return true;
        }
    }
    let fits = first + m <= x.m() && j + super::layout::W <= x.d() && tile.len() >= m;
    if (2..=REGISTER_MAX_M).contains(&m) && fits && level.0 == Isa::Portable {
        return with_m!(m, 2..=32, M => portable::rows_f32::<M>(x, j, first, tile));
    }
    false
}

/// Like [`sort_rows_f32`], for f64 rows.
pub(crate) fn sort_rows_f64(
    level: Level,
    x: crate::matrix::MatrixView<'_, f64>,
    j: usize,
    first: usize,
    m: usize,
    tile: &mut [[i64; super::layout::W]],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let fits = first + m <= x.m() && j + super::layout::W <= x.d() && tile.len() >= m;
        if (1..=REGISTER_MAX_M).contains(&m) && fits && level.0 == Isa::Avx512 {
            // SAFETY: `level` is `Avx512` only after the detection of its features.
            with_m!(m, 1..=32, M => unsafe { avx512::networks::rows_f64::<M>(x, j, first, tile) });
            return true;
        }
    }
    let fits = first + m <= x.m() && j + super::layout::W <= x.d() && tile.len() >= m;
    if (2..=REGISTER_MAX_M).contains(&m) && fits && level.0 == Isa::Portable {
        return with_m!(m, 2..=32, M => portable::rows_f64::<M>(x, j, first, tile));
    }
    false
}

/// The window means and centres Trmean_ct (Phocas: ct = b; MeaMed: the median's trim) of a
/// sorted tile on AVX2 (`None` if `level` is not AVX2 or AVX-512); `Some(mask)` of the lanes whose
/// separation check failed.
pub(crate) fn phocas_tile_i32(
    level: Level,
    tile: &[[i32; super::layout::W]],
    b: usize,
    ct: usize,
    res: &mut [f64; super::layout::W],
    centre: &mut [f64; super::layout::W],
) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        match level.0 {
            // SAFETY: `level` is `Avx2` only after `is_x86_feature_detected!("avx2")`.
            Isa::Avx2 => {
                return Some(unsafe { avx2::phocas::phocas_i32(tile, b, ct, res, centre) })
            }
            // SAFETY: `level` is `Avx512` only after the detection of its features.
            Isa::Avx512 => {
                return Some(unsafe { avx512::phocas::phocas_i32(tile, b, ct, res, centre) })
            }
            Isa::Portable => {}
        }
    }
    let _ = (level, tile, b, ct, res, centre);
    None
}

/// Like [`phocas_tile_i32`], for i64 keys.
pub(crate) fn phocas_tile_i64(
    level: Level,
    tile: &[[i64; super::layout::W]],
    b: usize,
    ct: usize,
    res: &mut [f64; super::layout::W],
    centre: &mut [f64; super::layout::W],
) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        match level.0 {
            // SAFETY: `level` is `Avx2` only after `is_x86_feature_detected!("avx2")`.
            Isa::Avx2 => {
                return Some(unsafe { avx2::phocas::phocas_i64(tile, b, ct, res, centre) })
            }
            // SAFETY: `level` is `Avx512` only after the detection of its features.
            Isa::Avx512 => {
                return Some(unsafe { avx512::phocas::phocas_i64(tile, b, ct, res, centre) })
            }
            Isa::Portable => {}
        }
    }
    let _ = (level, tile, b, ct, res, centre);
    None
}

/// Krum's pair accumulation of one sub-tile with the SIMD kernel of `level` (AVX-512, or
/// AVX2 if the CPU has FMA), calling `before(s)` before strip s (the caller's prefetches go
/// there); returns whether one ran.
#[inline(always)]
pub(crate) fn krum_pairs<F: Fn(&super::layout::StripPlan)>(
    level: Level,
    tile: &[super::layout::SubRow],
    acc: &mut [super::layout::Lanes],
    strips: &[super::layout::StripPlan],
    before: F,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    match krum_width(level) {
        // SAFETY (both): `krum_width` names a width only where the CPU has its features.
        Some(KrumWidth::Four) => unsafe { krum::pairs4(tile, acc, strips, before) },
        Some(KrumWidth::Eight) => unsafe { krum::pairs8(tile, acc, strips, before) },
        None => return false,
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (level, tile, acc, strips, before);
    cfg!(target_arch = "x86_64")
}

/// The vector width of Krum's kernels at `level`: AVX-512 (8 lanes), or AVX2 where the CPU
/// also has FMA (4 lanes); `None` for the portable accumulation. The one place that decides
/// which Krum kernel runs ([`krum_pairs`], [`krum_cross`], [`pair_step_rate`]).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum KrumWidth {
    Four,
    Eight,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn krum_width(level: Level) -> Option<KrumWidth> {
    match level.0 {
        // a `Level` is at least AVX2 only on a CPU that has it; FMA is checked here
        Isa::Avx2 if std::is_x86_feature_detected!("fma") => Some(KrumWidth::Four),
        // a `Level` is `Avx512` only after the detection of AVX-512 F, AVX2 and FMA
        Isa::Avx512 => Some(KrumWidth::Eight),
        _ => None,
    }
}

/// Whether `level` has Krum's SIMD kernels (the register grids of [`krum_cross`] and the
/// fused strips of [`krum_pairs`]).
#[inline(always)]
pub(crate) fn has_krum_grids(level: Level) -> bool {
    #[cfg(target_arch = "x86_64")]
    return krum_width(level).is_some();
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = level;
        false
    }
}

/// Krum's pairs between the rows `rows.0` and `rows.1` (all of `rows.0` below `rows.1`) over
/// the first `size.1` groups of 8 coordinates of a segment (`size.0` = m), in register grids,
/// with the kernel of `level` (AVX-512, or AVX2 if the CPU has FMA), calling `before(g, n)`
/// before the g-th of n groups of rows; returns whether one ran. The same operations per pair
/// as [`krum_pairs`], so the same bits.
#[inline(always)]
pub(crate) fn krum_cross<F: Fn(usize, usize)>(
    level: Level,
    tile: &[super::layout::SegRow],
    acc: &mut [super::layout::Lanes],
    size: (usize, usize),
    rows: (std::ops::Range<usize>, std::ops::Range<usize>),
    before: F,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    match krum_width(level) {
        // SAFETY (both): `krum_width` names a width only where the CPU has its features.
        Some(KrumWidth::Four) => unsafe { krum::cross4(tile, acc, size, rows, before) },
        Some(KrumWidth::Eight) => unsafe { krum::cross8(tile, acc, size, rows, before) },
        None => return false,
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (level, tile, acc, size, rows, before);
    cfg!(target_arch = "x86_64")
}

/// Which loads go with Krum's pair steps in [`pair_step_rate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepMix {
    /// Strips: one load per subtract + FMA step (Krum up to m = 64).
    Strip,
    /// Register grids: RA + RB loads per RA x RB steps (4 x 6 on AVX-512, 2 x 4 on AVX2;
    /// every block above m = 64). Its rate is the FMA throughput itself.
    Grid,
}

/// The floating-point limit of Krum's exact distances: how many subtract + FMA steps on f64
/// lanes (pair-coordinates) per second `level`'s Krum kernels retire at best with `mix`, over
/// all threads of the current rayon pool (operands in L1, one task per thread), the fastest of
/// `runs` runs of `secs` seconds. Krum's time at (m, d) has the floor m (m - 1) / 2 d / rate.
/// `None` for a level without a Krum kernel (portable, or AVX2 on a CPU without FMA).
pub fn pair_step_rate(level: Level, mix: StepMix, secs: f64, runs: usize) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        use krum::{probe4, probe8, PROBE_ROW};
        type Probe = fn(&[f64; PROBE_ROW], &[f64; PROBE_ROW], bool) -> (f64, usize);
        let probe: Probe = match krum_width(level)? {
            // SAFETY (both): `krum_width` names a width only where the CPU has its features.
            KrumWidth::Four => |a, b, g| unsafe { probe4(a, b, g) },
            KrumWidth::Eight => |a, b, g| unsafe { probe8(a, b, g) },
        };
        let grid = mix == StepMix::Grid;
        let mut best = 0.0f64;
        for _ in 0..runs.max(1) {
            let t0 = std::time::Instant::now();
            let steps: Vec<usize> = rayon::broadcast(|ctx| {
                let t = ctx.index();
                let a: [f64; PROBE_ROW] = std::array::from_fn(|j| (j + t) as f64 * 1e-3);
                let b: [f64; PROBE_ROW] = std::array::from_fn(|j| (j * 7 % 13) as f64 * 1e-3);
                let (mut n, mut sink) = (0, 0.0);
                let start = std::time::Instant::now();
                while start.elapsed().as_secs_f64() < secs {
                    let (v, k) = probe(std::hint::black_box(&a), std::hint::black_box(&b), grid);
                    sink += v;
                    n += k;
                }
                std::hint::black_box(sink);
                n
            });
            let total: usize = steps.iter().sum();
            best = best.max(total as f64 / t0.elapsed().as_secs_f64());
        }
        Some(best)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (level, mix, secs, runs);
        None
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_step_rate_is_measured_where_krum_has_kernels() {
        for isa in available_isas() {
            let level = Level::new(isa).expect("available");
            for mix in [StepMix::Strip, StepMix::Grid] {
                let rate = pair_step_rate(level, mix, 0.005, 1);
                assert_eq!(rate.is_some(), has_krum_grids(level), "{isa:?}");
                // a real rate: above 10^8 pair-coordinates per second on any CPU with AVX2
                assert!(
                    rate.is_none_or(|r| r.is_finite() && r > 1e8),
                    "{isa:?}: {rate:?}"
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
            let level = Level::default();
            let done = sort_registers_i32(level, &mut t32, m);
            assert_eq!(sort_registers_i64(level, &mut t64, m), done);
            assert_eq!(
                done,
                (2..=REGISTER_MAX_M).contains(&m) && matches!(level.0, Isa::Avx2 | Isa::Avx512),
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

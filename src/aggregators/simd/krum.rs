//! Krum's pairwise squared distances with AVX2 + FMA or AVX-512: the same operations in the
//! same order as `krum::accumulate` (`acc = fma(a - b, a - b, acc)` per lane), register
//! blocked two ways ([`crate::aggregators::krum_plan`]):
//! - strips, over one sub-tile: row i is paired with up to
//!   [`crate::aggregators::layout::STRIP_MAX`] rows at once, so one load of row i serves them
//!   all and each pair's accumulator stays in a register for the whole sub-tile;
//! - grids, over one segment of a block: RA rows with RB rows, RA + RB loads per step for
//!   RA x RB pairs, each accumulator in a register for the whole segment.
//!
//! One generic kernel over the vector width ([`Lanes4`], [`Lanes8`]): with 256-bit registers
//! the 8 lanes of an accumulator are taken in two passes (lanes 0..4, then 4..8), so a pair
//! needs one register on both widths.

use crate::aggregators::layout::{pair_index, Lanes, SegRow, StripPlan, SubRow, ACC, SEG, SUB};
use std::arch::x86_64::*;
use std::ops::Range;

/// One vector of f64 lanes. Its functions are called only from the target-feature
/// functions below, which enable the instructions they use.
pub(crate) trait Vector: Copy {
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
pub(crate) struct Lanes4(__m256d);
/// 8 lanes, AVX-512 F.
#[derive(Clone, Copy)]
pub(crate) struct Lanes8(__m512d);

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

/// The RA x RB pairs (i0 + u, j0 + v), u < RA, v < RB, of rows i0 + u < j0, over the first
/// `steps` groups of [`ACC`] coordinates of a segment: the RA rows' vectors are loaded once
/// per step and each of the RB rows' once, so a step of RA x RB pairs loads RA + RB vectors
/// (a strip of K pairs loads K + 1). For i < j the pairs (i, j0), (i, j0 + 1), ... have
/// consecutive accumulators ([`pair_index`]).
#[inline(always)]
fn grid<V: Vector, const RA: usize, const RB: usize>(
    tile: &[SegRow],
    acc: &mut [Lanes],
    (m, steps): (usize, usize),
    i0: usize,
    j0: usize,
) {
    let steps = steps.min(SEG / ACC);
    let mut p = [0; RA];
    let mut ra = [&tile[0].0; RA];
    for u in 0..RA {
        p[u] = pair_index(m, i0 + u, j0);
        ra[u] = &tile[i0 + u].0;
    }
    let rb: &[SegRow; RB] = tile[j0..j0 + RB].try_into().expect("RB rows");
    for h in (0..ACC).step_by(V::W) {
        let mut r = [[V::zero(); RB]; RA];
        for u in 0..RA {
            for v in 0..RB {
                r[u][v] = V::load(&acc[p[u] + v].0, h);
            }
        }
        for c in 0..steps {
            let o = c * ACC + h;
            let mut xa = [V::zero(); RA];
            for u in 0..RA {
                xa[u] = V::load(ra[u], o);
            }
            for v in 0..RB {
                let y = V::load(&rb[v].0, o);
                for u in 0..RA {
                    r[u][v] = r[u][v].step(xa[u], y);
                }
            }
        }
        for u in 0..RA {
            for v in 0..RB {
                r[u][v].store(&mut acc[p[u] + v].0, h);
            }
        }
    }
}

/// Every pair of a row of `ri` with a row of `rj` (every row of `ri` below every row of `rj`)
/// over the first `steps` groups of [`ACC`] coordinates of a segment, in grids of at most
/// RA x RB pairs; `before(g, n)` runs before the g-th of the n groups of RA rows of `ri`.
#[inline(always)]
fn cross<V: Vector, const RA: usize, const RB: usize, F: Fn(usize, usize)>(
    tile: &[SegRow],
    acc: &mut [Lanes],
    size: (usize, usize),
    (ri, rj): (Range<usize>, Range<usize>),
    before: F,
) {
    macro_rules! by_width {
        ($ra:literal, $i0:expr, $j0:expr, $rb:expr) => {
            match $rb {
                1 => grid::<V, $ra, 1>(tile, acc, size, $i0, $j0),
                2 => grid::<V, $ra, 2>(tile, acc, size, $i0, $j0),
                3 => grid::<V, $ra, 3>(tile, acc, size, $i0, $j0),
                4 => grid::<V, $ra, 4>(tile, acc, size, $i0, $j0),
                5 => grid::<V, $ra, 5>(tile, acc, size, $i0, $j0),
                6 => grid::<V, $ra, 6>(tile, acc, size, $i0, $j0),
                _ => unreachable!("grids are at most 6 rows wide"),
            }
        };
    }
    assert!(RB <= 6 && ri.end <= rj.start);
    let n = ri.len().div_ceil(RA);
    for (g, i0) in ri.clone().step_by(RA).enumerate() {
        before(g, n);
        let full = i0 + RA <= ri.end;
        let mut j0 = rj.start;
        while j0 < rj.end {
            let rb = RB.min(rj.end - j0);
            if full {
                match RA {
                    4 => by_width!(4, i0, j0, rb),
                    2 => by_width!(2, i0, j0, rb),
                    _ => unreachable!("grids are 4 or 2 rows high"),
                }
            } else {
                for i in i0..ri.end {
                    by_width!(1, i, j0, rb);
                }
            }
            j0 += rb;
        }
    }
}

/// `acc[p] = fma(a - b, a - b, acc[p])` lane-wise for every pair of a row of `ri` with a row
/// of `rj` (`ri` below `rj`) over the first `steps` groups of [`ACC`] coordinates of a
/// segment (`size` = (m, steps)), in grids of 2 x 4 pairs (the AVX2 register budget with both
/// halves of an accumulator's lanes taken in turn); `before(g, n)` as in [`cross`].
///
/// # Safety
/// The CPU must support AVX2 and FMA. Rows and accumulators are bounds-checked.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn cross4<F: Fn(usize, usize)>(
    tile: &[SegRow],
    acc: &mut [Lanes],
    size: (usize, usize),
    rows: (Range<usize>, Range<usize>),
    before: F,
) {
    cross::<Lanes4, 2, 4, F>(tile, acc, size, rows, before);
}

/// As [`cross4`], in grids of 4 x 6 pairs (24 accumulators, 4 shared rows and one more
/// of the 32 AVX-512 registers).
///
/// # Safety
/// The CPU must support AVX-512 F (and FMA, which every AVX-512 CPU has). Rows and
/// accumulators are bounds-checked.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) unsafe fn cross8<F: Fn(usize, usize)>(
    tile: &[SegRow],
    acc: &mut [Lanes],
    size: (usize, usize),
    rows: (Range<usize>, Range<usize>),
    before: F,
) {
    cross::<Lanes8, 4, 6, F>(tile, acc, size, rows, before);
}

/// `acc[p] = fma(a - b, a - b, acc[p])` lane-wise for every pair of the strips, 4 lanes
/// per register.
///
/// # Safety
/// The CPU must support AVX2 and FMA. Rows and accumulators are bounds-checked.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn pairs4<F: Fn(&StripPlan)>(
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
pub(crate) unsafe fn pairs8<F: Fn(&StripPlan)>(
    tile: &[SubRow],
    acc: &mut [Lanes],
    strips: &[StripPlan],
    before: F,
) {
    pairs::<Lanes8, F>(tile, acc, strips, before);
}

/// f64 values of each of the two L1-resident operand rows of the rate probes.
pub(crate) const PROBE_ROW: usize = 512;

/// The rate probe of [`super::pair_step_rate`]: passes over two L1-resident rows of
/// subtract + FMA steps, with the loads of Krum's grids (GRID) or strips; returns a sum to
/// keep (so the work is not optimised away) and the lane steps done.
#[inline(always)]
fn probe<V: Vector, const GRID: bool>(a: &[f64; PROBE_ROW], b: &[f64; PROBE_ROW]) -> (f64, usize) {
    let mut sum = 0.0;
    let mut keep = |acc: &[V]| {
        for r in acc {
            let mut lanes = [0.0; 8];
            r.store(&mut lanes, 0);
            sum += lanes[..V::W].iter().sum::<f64>();
        }
    };
    if GRID {
        // grids of 4 x 6 (AVX-512) or 2 x 4 (AVX2) accumulators: RA + RB loads per RA x RB
        // steps, as in `grid`
        let (ra, rb) = if V::W == 8 { (4, 6) } else { (2, 4) };
        let mut acc = [V::zero(); 24];
        for _ in 0..8 {
            // opaque to the optimiser: the loads and subtractions cannot leave the pass loop
            let (a, b) = std::hint::black_box((a, b));
            for o in (0..PROBE_ROW / 2).step_by(V::W) {
                let mut x = [V::zero(); 4];
                for (u, x) in x.iter_mut().take(ra).enumerate() {
                    *x = V::load(a, o + 64 * u);
                }
                for v in 0..rb {
                    let y = V::load(b, o + 32 * v);
                    for (u, x) in x.iter().take(ra).enumerate() {
                        acc[rb * u + v] = acc[rb * u + v].step(*x, y);
                    }
                }
            }
        }
        keep(&acc);
        (sum, 8 * PROBE_ROW / 2 * ra * rb)
    } else {
        // strips of STRIP_MAX = 10 pairs sharing the first row, as in `group`: 1 + 10 loads
        // per 10 steps
        let mut acc = [V::zero(); 10];
        // as many steps per call as the grid, or more (the caller reads the clock per call)
        for _ in 0..128 {
            let (a, b) = std::hint::black_box((a, b));
            for o in (0..PROBE_ROW - 10 * V::W).step_by(V::W) {
                let x = V::load(a, o);
                let b = &b[o..o + 10 * V::W];
                for (k, r) in acc.iter_mut().enumerate() {
                    *r = r.step(x, V::load(b, V::W * k));
                }
            }
        }
        keep(&acc);
        (sum, 128 * (PROBE_ROW - 10 * V::W) * 10)
    }
}

/// [`probe`] with AVX2 and FMA: (a sum to keep, lane steps done).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn probe4(
    a: &[f64; PROBE_ROW],
    b: &[f64; PROBE_ROW],
    grid: bool,
) -> (f64, usize) {
    if grid {
        probe::<Lanes4, true>(a, b)
    } else {
        probe::<Lanes4, false>(a, b)
    }
}

/// [`probe`] with AVX-512 F.
///
/// # Safety
/// The CPU must support AVX-512 F (and FMA, which every AVX-512 CPU has).
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) unsafe fn probe8(
    a: &[f64; PROBE_ROW],
    b: &[f64; PROBE_ROW],
    grid: bool,
) -> (f64, usize) {
    if grid {
        probe::<Lanes8, true>(a, b)
    } else {
        probe::<Lanes8, false>(a, b)
    }
}

//! The selection path's tiled route (m above the network limit): tiles of [`W`] = 64
//! coordinates kept as SIMD lanes, with the exact routes of [`super::selection`] for the lanes
//! it declines. With f32 storage every rule: the ranks by bit descent ([`super::descent`]),
//! Trmean's middle summed where that is provably exact, the Phocas/MeaMed window by a
//! bisection of the distance to the centre ([`super::nearest`]); with f64 storage the order
//! statistic and the Median.
//! [`super::kernels`] runs it over chunks of coordinates with each thread's scratch.

use super::descent;
use super::layout::{load_keys, Finish, W};
use super::nearest;
use super::selection::{exact, phocas_checked, trimmed_mean};
use crate::matrix::MatrixView;
use crate::scalar::Scalar;

/// Whether the selection path takes the tiled route: every rule with f32 storage; with f64
/// storage, where the sums would fail the exactness check, only the order statistic and the
/// midpoint Median (nothing summed but the one or two values of the ranks).
pub(crate) fn applies<T: Scalar>(m: usize, finish: Finish) -> bool {
    T::SIZE == 4
        || match finish {
            Finish::Rank { .. } => true,
            Finish::Trmean { b } => m - 2 * b <= 2,
            Finish::Phocas { .. } | Finish::MeaMed { .. } => false,
        }
}

/// Below this m the window rules' lanes take the exact route (a few keys per coordinate).
const WINDOW_MIN_M: usize = 32;

/// Smallest m at which the one-rank finishes prefer the tiled route to a sorting network.
/// Up to 64 rows the networks run from registers; above, from the comparator list, and the
/// descent was the faster route at every m measured from 72 to 256, f32 and f64 (selection
/// time / network time 0.50 to 0.86, `phocas bench-scaling --at MxD` with m d = 1.5 x 10^8,
/// on N(0, 1) values; at m = 64 the network took half the descent's time).
pub(crate) const ONE_RANK_MIN_M: usize = 65;

/// Whether the tiled route is the faster one at m rows although a sorting network would
/// apply: for the finishes of one rank (the order statistic, the midpoint Median, whose second
/// rank is one more pass), from [`ONE_RANK_MIN_M`] rows. Trmean with a wider middle, Phocas
/// and MeaMed keep the networks up to the limit: with b = floor((m - 1) / 4) the tiled route
/// took 1.0x to 1.2x the network's time for Trmean at m = 100 to 200, and 4x for Phocas and
/// MeaMed at m = 150.
pub(crate) fn preferred<T: Scalar>(m: usize, finish: Finish) -> bool {
    let one_rank = match finish {
        Finish::Rank { .. } => true,
        Finish::Trmean { b } => m - 2 * b <= 2,
        Finish::Phocas { .. } | Finish::MeaMed { .. } => false,
    };
    one_rank && m >= ONE_RANK_MIN_M && applies::<T>(m, finish)
}

#[inline(always)]
pub(crate) fn chunk<T: Scalar>(
    x: MatrixView<'_, T>,
    j0: usize,
    out: &mut [T],
    finish: Finish,
    (tiles, pairs, lane): (&mut Vec<[T::Key; W]>, &mut Vec<u128>, &mut Vec<i64>),
) {
    let m = x.m();
    if tiles.len() < m {
        tiles.resize(m, [T::Key::default(); W]);
    }
    let mut res = [0.0f64; W];
    let mut y = [0.0f64; W];
    for (t, o) in out.chunks_mut(W).enumerate() {
        let w = o.len();
        load_keys(x, j0 + t * W, w, &mut tiles[..m]);
        let generic: &Vec<[T::Key; W]> = tiles;
        let any = generic as &dyn std::any::Any;
        if let Some(tile) = any.downcast_ref::<Vec<[i64; W]>>() {
            // f64 storage: the order statistic and the midpoint Median only (`tiled`)
            let tile = &tile[..m];
            match finish {
                Finish::Rank { b } => {
                    let [k] = descent::ranks(tile, w, [b]);
                    for (l, v) in o.iter_mut().enumerate() {
                        *v = T::from_key64(k[l]);
                    }
                }
                Finish::Trmean { b } => {
                    descent::midpoint::<f64>(tile, w, b, &mut res);
                    for (l, v) in o.iter_mut().enumerate() {
                        *v = T::from_f64(res[l]);
                    }
                }
                _ => unreachable!("f64 tiles take the order statistic and the Median only"),
            }
            continue;
        }
        let Some(tile) = any.downcast_ref::<Vec<[i32; W]>>() else {
            unreachable!("keys are i32 or i64");
        };
        let tile = &tile[..m];
        let column = |l: usize, lane: &mut Vec<i64>| {
            lane.clear();
            lane.extend(generic[..m].iter().map(|r| T::from_key(r[l]).key64()));
        };
        let lanes = if w == W { u64::MAX } else { (1u64 << w) - 1 };
        match finish {
            Finish::Trmean { b } => {
                let (declined, _) = descent::trmean(tile, w, b, &mut res);
                for (l, v) in o.iter_mut().enumerate() {
                    *v = if declined & (1 << l) == 0 {
                        T::from_f64(res[l])
                    } else {
                        column(l, lane);
                        exact::<T>(lane, finish, pairs)
                    };
                }
            }
            Finish::Rank { b } => {
                let [k] = descent::ranks(tile, w, [b]);
                for (l, v) in o.iter_mut().enumerate() {
                    *v = T::from_key64(f32::from_key(k[l]).key64());
                }
            }
            Finish::Phocas { .. } | Finish::MeaMed { .. } => {
                let (b, c) = finish.window(m).expect("a window rule");
                let (declined, middle) = descent::trmean(tile, w, c, &mut y);
                let centred = !declined & lanes;
                // Phocas: the centre's ranks are the middle's, which bracket the window
                let middle = middle.filter(|_| c == b);
                for l in 0..w {
                    if centred & (1 << l) == 0 {
                        column(l, lane);
                        y[l] = trimmed_mean::<T>(lane, c);
                    }
                }
                let declined = if m >= WINDOW_MIN_M {
                    nearest::window(tile, lanes, b, (&y, middle.as_ref()), &mut res)
                } else {
                    lanes
                };
                for (l, v) in o.iter_mut().enumerate() {
                    *v = if declined & (1 << l) == 0 {
                        T::from_f64(res[l])
                    } else {
                        column(l, lane);
                        T::from_f64(phocas_checked::<T>(lane, (b, c), y[l], pairs))
                    };
                }
            }
        }
    }
}

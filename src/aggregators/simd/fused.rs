//! The fused kernels (Trmean, Median, the lower median and Phocas straight from the rows, for
//! m <= 32), written once as macros over the vector width and expanded in
//! [`super::avx2::fused`] (256-bit registers) and [`super::avx512::fused`] (512-bit): each
//! module supplies its loads, keys, compare-exchange and f64 helpers. The same keys, network
//! and f64 operations in the same order as the tile path of [`crate::aggregators::kernels`],
//! so the same bits.

/// Calls `$f!(w)` for every wire w < 32 (constant indices keep the wires in registers).
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
/// ([`super::avx2::fused`], [`super::avx512::fused`]): the keys, network and sums in the same order as the
/// tile path of [`crate::aggregators::kernels`]. The module supplies `splat`, `add`, `div`, `store_bits`
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
            pub(crate) fn $name<M>(
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
            let pf = crate::aggregators::simd::PREFETCH_BYTES;
            let (lo, hi) = match finish {
                Finish::Trmean { b } => (b, M - b),
                Finish::Rank { b } => (b, b + 1),
                Finish::Phocas { .. } | Finish::MeaMed { .. } => {
                    unreachable!("Phocas has its own kernel; MeaMed has none")
                }
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

/// Phocas_b (centre Trmean_b, `ct = b`) or MeaMed_b (centre the median, `ct` its trim) of
/// the whole groups of lanes of coordinates `[j0, j0 + out.len())`, straight from the rows, for one of the fused modules ([`super::avx2::fused`], [`super::avx512::fused`]): the
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
            /// The CPU must support the features enabled. `x.m() == M`, `0 < 2b < M` and
            /// `2 ct < M` (checked).
            pub(crate) fn $name<M>(
                x: MatrixView<'_, $ty>, j0: usize, out: &mut [$ty], b: usize, ct: usize,
            ) -> usize = $body, $features
        );

        #[inline(always)]
        unsafe fn $body<const M: usize>(
            x: MatrixView<'_, $ty>,
            j0: usize,
            out: &mut [$ty],
            b: usize,
            ct: usize,
        ) -> usize {
            assert!(
                x.m() == M && b > 0 && 2 * b < M && 2 * ct < M,
                "m = {}, b = {b}, centre trim {ct}",
                x.m()
            );
            let len = out.len() / $lanes * $lanes;
            let rows = Rows::new(x, j0, len);
            let pf = crate::aggregators::simd::PREFETCH_BYTES;
            let n = M - b;
            let mid = splat((M - 2 * ct) as f64);
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
                // the centre's sum: the same middle for Phocas (ct = b), the median's for
                // MeaMed
                let cy = if ct == b {
                    y
                } else {
                    let mut s = [nz; $parts];
                    for u in &f[ct..M - ct] {
                        let u = $bits(u);
                        for p in 0..$parts {
                            s[p] = add(s[p], u[p]);
                        }
                    }
                    s
                };
                let (mut sum, y, bad) = window(
                    y,
                    (cy, mid),
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
                        // exact route (`selection::phocas_checked`), which scales them if so.
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

//! Every instruction set this CPU can run gives the same bits as the portable code, for every
//! rule, on hostile matrices and on matrices full of signed zeros (NaN of both signs, infinities, subnormals, values near the
//! largest finite, ties, duplicated rows), for m on both sides of every kernel boundary (the
//! fused register kernels up to 32, the split register sort up to 64, the list network up to
//! 256, selection above) and lengths that leave tails of every size.
//!
//! Bits, except that a NaN computed by arithmetic equals any NaN: which operand of an
//! addition of two NaNs the CPU returns depends on the operand order the compiler picked, so
//! the sign and payload of such a NaN may differ between instruction sets (seen: Mean with NaN
//! of both signs in one coordinate gives -NaN on AVX2 and +NaN portable). Rules that select a
//! value without arithmetic (Krum, the median of an odd number of values) must give the
//! exact bits, NaN included.
//!
//! Krum, Multi-Krum and Bulyan: where the compilation target has no FMA (baseline x86-64,
//! `PORTABLE_FMA` false), the portable level rounds each squared difference before adding it,
//! the other levels fuse the two; their selections, hence bits, can then differ only where
//! two scores lie within that rounding, which no case here comes near (the duplicated row's
//! distances are computed the same way on both sides of a comparison).
//!
//! The instruction set is carried by each workspace ([`Workspace::with_level`]), so the levels
//! run side by side in one process.

use phocas::aggregators::{available_isas, build, Isa, Level, ParamKind, RuleParams, REGISTRY};
use phocas::{MatrixView, Workspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A value an adversary likes, or an ordinary one, as an f64 bit pattern; `wide` also draws
/// values outside f32's range and arbitrary f64 bit patterns.
fn hostile(rng: &mut ChaCha8Rng, wide: bool) -> f64 {
    match rng.random_range(0..20) {
        0 => f64::NAN,
        1 => -f64::NAN,
        2 => f64::INFINITY,
        3 => f64::NEG_INFINITY,
        4 => f64::from(f32::MAX) * if rng.random() { 1.0 } else { -1.0 },
        5 => f64::from(f32::from_bits(rng.random_range(1..0x0080_0000))), // subnormal f32
        6 => f64::from(rng.random_range(0..3u8)),                         // ties
        7 => 1e20 * if rng.random() { 1.0 } else { -1.0 },
        8 => -0.0,
        9 if wide => f64::MAX * rng.random_range(0.5..1.0),
        10 if wide => f64::from_bits(rng.random()),
        11 if wide => 5e-324,
        _ => rng.random_range(-1.0..1.0),
    }
}

/// The rules of the registry with the parameters worth covering at m, as each entry's
/// parameter kind says (so a rule added to the registry is covered too).
fn rules(m: usize) -> Vec<(String, RuleParams)> {
    let bmax = m.div_ceil(2) - 1;
    let mut bs = vec![0, 1, (m - 1) / 4, bmax];
    bs.retain(|&b| b <= bmax);
    bs.sort_unstable();
    bs.dedup();
    let qs: Vec<usize> = if m >= 3 {
        vec![0, (m - 1) / 4, m - 3]
    } else {
        Vec::new()
    };
    let mut v = Vec::new();
    for info in REGISTRY {
        match info.param {
            ParamKind::None => v.push((info.name.to_string(), RuleParams::default())),
            ParamKind::Trim => {
                for &b in &bs {
                    let p = info.with_params(RuleParams::default(), Some(b), None, None);
                    v.push((format!("{}(b={b})", info.name), p));
                }
            }
            ParamKind::AssumedQ | ParamKind::AssumedQAndK | ParamKind::AssumedQBulyan => {
                let max = info.param.max(m).flatten();
                for &q in qs.iter().filter(|&&q| max.is_some_and(|max| q <= max)) {
                    let p = info.with_params(RuleParams::default(), None, Some(q), None);
                    v.push((format!("{}(q={q})", info.name), p));
                }
            }
        }
    }
    v
}

fn run_all(isa: Isa, cases: &[(usize, usize, Vec<f64>)]) -> Vec<(String, Vec<u64>)> {
    let level = Level::new(isa).unwrap_or_else(|| panic!("{isa} is listed as available"));
    let mut ws = Workspace::new().with_level(level);
    let mut out = Vec::new();
    for (m, d, x) in cases {
        let (m, d) = (*m, *d);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        for (label, params) in rules(m) {
            let name = label.split('(').next().expect("a name");
            let r = build(name, &params, m).unwrap_or_else(|e| panic!("{label}, m = {m}: {e}"));
            let mut o32 = vec![0f32; d];
            r.aggregate_f32(
                MatrixView::new(&x32, m, d).expect("shape"),
                &mut ws,
                &mut o32,
            )
            .expect("f32");
            let mut o64 = vec![0f64; d];
            r.aggregate_f64(MatrixView::new(x, m, d).expect("shape"), &mut ws, &mut o64)
                .expect("f64");
            // For rules with arithmetic, every NaN as the one pattern u64::MAX (an f64 NaN
            // with all bits set, which this maps to itself anyway); selections keep theirs.
            let selects = name == "krum" || (name == "median" && m % 2 == 1);
            let nan = |v: bool, bits: u64| if v && !selects { u64::MAX } else { bits };
            let bits = o32
                .iter()
                .map(|v| nan(v.is_nan(), u64::from(v.to_bits())))
                .chain(o64.iter().map(|v| nan(v.is_nan(), v.to_bits())))
                .collect();
            out.push((format!("{label} m = {m} d = {d}"), bits));
        }
    }
    out
}

#[test]
fn every_instruction_set_gives_the_portable_bits() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut cases = Vec::new();
    for &m in &[2usize, 3, 5, 8, 20, 31, 32, 33, 50, 64, 65, 100, 257] {
        for &d in &[1usize, 9, 64, 203] {
            for wide in [false, true] {
                // Mostly ordinary values with hostile ones mixed in, and one duplicated row.
                let mut x: Vec<f64> = (0..m * d)
                    .map(|_| {
                        if rng.random_range(0..4) == 0 {
                            hostile(&mut rng, wide)
                        } else {
                            rng.random_range(-1.0..1.0)
                        }
                    })
                    .collect();
                if m > 2 {
                    let (a, b) = x.split_at_mut(d);
                    b[..d].copy_from_slice(a);
                }
                cases.push((m, d, x));
            }
            // No NaN, many zeros of both signs and ties: the portable level's float networks
            // take these groups (a NaN sends a group to the key sort), and must place the
            // signed zeros as the key order does.
            let x: Vec<f64> = (0..m * d)
                .map(|_| match rng.random_range(0..4) {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::from(rng.random_range(-2..3i8)),
                    _ => rng.random_range(-1.0..1.0),
                })
                .collect();
            cases.push((m, d, x));
        }
    }
    let isas = available_isas();
    assert_eq!(isas[0], Isa::Portable);
    let want = run_all(Isa::Portable, &cases);
    for &isa in &isas[1..] {
        let got = run_all(isa, &cases);
        for ((label, w), (_, g)) in want.iter().zip(&got) {
            let first = w.iter().zip(g).position(|(a, b)| a != b);
            assert!(
                first.is_none(),
                "{isa} differs from portable for {label} at output {first:?}: {:x} against {:x} \
                 (outputs 0..d are f32, d.. are f64)",
                g[first.unwrap_or(0)],
                w[first.unwrap_or(0)]
            );
        }
    }
    eprintln!("instruction sets compared with portable: {isas:?}");
}

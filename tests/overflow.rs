//! Values near f64::MAX: the rules average finite values, so their results must be finite
//! (the f64 sums used to overflow to infinity), and an infinity among the averaged values
//! must still give a non-finite result. Both kernel paths: sorting networks and selection.

use phocas::aggregators::{build, AggregateExt, RuleParams, NETWORK_MAX_M};
use phocas::matrix::MatrixView;
use phocas::Workspace;

const MAX: f64 = f64::MAX;

/// Every coordinate of an m x d matrix holds the column `col` (d > 8 covers the SIMD groups
/// and the scalar tail).
fn run(rule: &str, params: RuleParams, col: &[f64], d: usize, limit: usize) -> Vec<f64> {
    let m = col.len();
    let x: Vec<f64> = col
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, d))
        .collect();
    let r = build(rule, &params, m).unwrap();
    let mut ws = Workspace::new().with_network_limit(limit);
    let mut out = vec![0.0; d];
    r.aggregate_into(MatrixView::new(&x, m, d).unwrap(), &mut ws, &mut out)
        .unwrap();
    out
}

fn b(b: usize) -> RuleParams {
    RuleParams {
        b: Some(b),
        ..Default::default()
    }
}

fn check(rule: &str, params: RuleParams, col: &[f64], want: f64) {
    for limit in [NETWORK_MAX_M, 0] {
        let out = run(rule, params.clone(), col, 37, limit);
        for (j, v) in out.iter().enumerate() {
            let ok = if want.is_finite() {
                (v - want).abs() <= want.abs() * 1e-15
            } else {
                !v.is_finite()
            };
            assert!(
                ok,
                "{rule} {params:?} on {col:?} (network limit {limit}), \
                 coordinate {j}: {v}, want {want}"
            );
        }
    }
}

#[test]
fn means_of_huge_finite_values_are_finite() {
    check("mean", RuleParams::default(), &[MAX, MAX, MAX], MAX);
    check(
        "mean",
        RuleParams::default(),
        &[MAX, MAX, 0.0, -MAX * 0.5],
        MAX * 0.375,
    );
    // sorted: -MAX, 0, MAX, MAX, MAX; trimming 1 leaves 0, MAX, MAX
    check("trmean", b(1), &[MAX, -MAX, MAX, 0.0, MAX], MAX / 3.0 * 2.0);
    check("median", RuleParams::default(), &[MAX, MAX, MAX, MAX], MAX);
    check(
        "median",
        RuleParams::default(),
        &[MAX, 1.0, MAX, -MAX],
        MAX * 0.5,
    );
    // centre 2/3 MAX; the 4 nearest are MAX, MAX, MAX and 0 (-MAX is 5/3 MAX away)
    check("phocas", b(1), &[MAX, -MAX, MAX, 0.0, MAX], MAX * 0.75);
    check("phocas", b(2), &[MAX; 6], MAX);
    // MeaMed: median MAX; -MAX is 2 MAX away (infinite unscaled) and goes
    check("meamed", b(1), &[MAX, -MAX, MAX, 0.0, MAX], MAX * 0.75);
    // median 0, all four ends MAX away: the tie drops the larger value, one MAX
    check("meamed", b(1), &[-MAX, -MAX, 0.0, MAX, MAX], -MAX * 0.25);
    // NaN at both ends hides the huge values from a look at the extremes; the centre is
    // finite (0.4e308) but the window sum overflows. The exact answer is 2.1e308 / 5.
    let nan = f64::NAN;
    check(
        "phocas",
        b(2),
        &[-nan, -0.8e308, -0.8e308, 1e308, 1e308, 1.7e308, nan],
        (-0.8e308 / 8.0 + 1e308 / 8.0 + 1.7e308 / 16.0) / 5.0 * 16.0,
    );
    check("trmean", b(2), &[-MAX; 7], -MAX);
    let mk = RuleParams {
        q: Some(1),
        k: Some(4),
        ..Default::default()
    };
    check("multikrum", mk, &[MAX, MAX, MAX, MAX, MAX, 0.0], MAX);
}

#[test]
fn infinities_among_the_averaged_values_stay_non_finite() {
    check(
        "mean",
        RuleParams::default(),
        &[MAX, f64::INFINITY, 1.0],
        f64::INFINITY,
    );
    check(
        "trmean",
        b(1),
        &[f64::INFINITY, f64::INFINITY, f64::INFINITY, 0.0, MAX],
        f64::INFINITY,
    );
    check(
        "phocas",
        b(1),
        &[f64::INFINITY, f64::INFINITY, f64::INFINITY, 0.0, 1.0],
        f64::INFINITY,
    );
    check(
        "meamed",
        b(1),
        &[f64::INFINITY, f64::INFINITY, f64::INFINITY, 0.0, 1.0],
        f64::INFINITY,
    );
}

#[test]
fn infinities_alone_do_not_rescale_tiny_values() {
    // Scaling by a power of two would round these subnormals away.
    let a = 7.0 * f64::from_bits(1);
    check("phocas", b(1), &[f64::INFINITY, a, a, a, a], a);
    check("trmean", b(1), &[f64::INFINITY, a, a, a, -f64::INFINITY], a);
}

#[test]
fn rows_of_negative_zero_average_to_negative_zero() {
    for rule in ["mean", "median"] {
        for limit in [NETWORK_MAX_M, 0] {
            let out = run(rule, RuleParams::default(), &[-0.0, -0.0, -0.0], 37, limit);
            assert!(
                out.iter().all(|v| v.to_bits() == (-0.0f64).to_bits()),
                "{rule} (network limit {limit}): {out:?}"
            );
        }
    }
}

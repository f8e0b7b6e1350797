// Shared body of the per-rule fuzz targets (included by each target file).


use phocas::aggregators::{
    self, AggregateExt, KrumDistance, KrumNeighbours, MedianConvention, RuleParams, Setting,
    WeiszfeldStart,
};
use phocas::{MatrixView, Workspace};

fn run<T: phocas::Scalar>(
    rule: &dyn aggregators::Aggregator,
    x: &[T],
    m: usize,
    d: usize,
    stateful: bool,
) {
    let view = MatrixView::new(x, m, d).expect("shape");
    let mut ws = Workspace::new();
    let mut a = vec![T::default(); d];
    let mut b = vec![T::default(); d];
    rule.aggregate_into(view, &mut ws, &mut a).expect("aggregate");
    // a rule started from the previous aggregate may differ on a reused workspace
    if stateful {
        ws = Workspace::new();
    }
    rule.aggregate_into(view, &mut ws, &mut b).expect("aggregate");
    for (u, v) in a.iter().zip(&b) {
        assert_eq!(u.to_f64().to_bits(), v.to_f64().to_bits(), "not deterministic");
    }
}


/// Runs one input against rule `name` (or, with `None`, the rule chosen by the first byte).
pub fn fuzz_one(name: Option<&str>, data: &[u8]) {
    if data.len() < 7 {
        return;
    }
    let reg = aggregators::REGISTRY;
    let info = match name {
        Some(n) => reg.iter().find(|r| r.name == n).expect("registered rule"),
        None => &reg[usize::from(data[0]) % reg.len()],
    };
    let m = usize::from(data[1] % 50) + 1;
    let d = usize::from(data[2] % 40) + 1;
    let f64_storage = data[3] & 1 == 1;
    let base = RuleParams {
        neighbours: if data[3] & 2 == 0 { KrumNeighbours::MinusQMinus2 } else { KrumNeighbours::MinusQMinus1 },
        distance: if data[3] & 4 == 0 { KrumDistance::Squared } else { KrumDistance::Plain },
        median: if data[3] & 8 == 0 { MedianConvention::Midpoint } else { MedianConvention::Lower },
        ..RuleParams::default()
    };
    // parameters a rule does not take are an error by design: pass only the ones its registry
    // entry says it takes
    let mut params = info.with_params(
        base,
        Some(usize::from(data[4] % 32)),
        Some(usize::from(data[5] % 52)),
        (data[6] & 0x80 != 0).then_some(usize::from(data[6] % 52)),
    );
    // the settings its registry entry lists, from the bytes
    for setting in info.settings {
        match setting {
            // smoothing from 1e-12 to 1e3 (and the invalid 0)
            Setting::Nu => {
                params.nu = Some(if data[4] == 0 { 0.0 } else { 10f64.powi(i32::from(data[4] % 16) - 12) })
            }
            Setting::Iters => params.iters = Some(usize::from(data[5] % 64)),
            Setting::Tol => params.tol = Some(f64::from(data[6] % 8) * 1e-3),
            Setting::Start => {
                params.start = Some(match data[3] >> 4 & 3 {
                    0 => WeiszfeldStart::Mean,
                    1 => WeiszfeldStart::Zero,
                    2 => WeiszfeldStart::Previous,
                    _ => WeiszfeldStart::Median,
                })
            }
            // radius from 1e-6 to 1e9 (and the invalid 0)
            Setting::Tau => {
                params.tau = Some(if data[6] == 0 { 0.0 } else { 10f64.powi(i32::from(data[6] % 16) - 6) })
            }
        }
    }
    // a pre-aggregation step before any rule, from the bytes
    match data[6] & 0x60 {
        0x40 => params.nnm = Some(usize::from(data[4]) % (m + 1)),
        0x20 => {
            params.bucket = Some(usize::from(data[5] % 5));
            params.bucket_seed = Some(u64::from(data[3]));
        }
        _ => {}
    }
    // a rule started from the previous aggregate, or bucketing's next permutation, may give
    // another result on a reused workspace
    let stateful = params.start == Some(WeiszfeldStart::Previous) || params.bucket.is_some();
    let Ok(rule) = aggregators::build(info.name, &params, m) else {
        return;
    };
    let body = &data[7..];
    if f64_storage {
        let mut x: Vec<f64> = body
            .chunks(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..c.len()].copy_from_slice(c);
                f64::from_le_bytes(b)
            })
            .collect();
        x.resize(m * d, 0.0);
        run(rule.as_ref(), &x, m, d, stateful);
    } else {
        let mut x: Vec<f32> = body
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                f32::from_le_bytes(b)
            })
            .collect();
        x.resize(m * d, 0.0);
        run(rule.as_ref(), &x, m, d, stateful);
    }
}

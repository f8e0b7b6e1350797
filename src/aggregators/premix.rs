//! Pre-aggregation: rules that turn the m rows into other rows before any rule aggregates
//! them, so they compose with every rule of the registry (`--nnm F` or `--bucket S` beside
//! `--rule`).
//!
//! - **Nearest-Neighbour Mixing** (Allouah, Farhadkhani, Guerraoui, Gupta, Pinot, Stephan,
//!   *Fixing by Mixing*, AISTATS 2023, Algorithm 1; ByzFL's `NNM(f)`): row i is replaced by
//!   the mean of the m - f rows nearest to it in Euclidean distance, itself included (ties by
//!   lower index). The rule then aggregates the m mixed rows with its own parameters.
//!   Time: O(d m^2) for the distances (Krum's pass) plus O(d m (m - f)) for the means.
//! - **Bucketing** (Karimireddy, He, Jaggi, *Byzantine-Robust Learning on Heterogeneous
//!   Datasets via Bucketing*, ICLR 2022, Algorithm 1; ByzFL's `Bucketing(s)`): the rows are
//!   shuffled by a seeded permutation and averaged in buckets of s consecutive rows (the last
//!   bucket may be smaller), and the rule aggregates the ceil(m/s) bucket means: its
//!   parameters (b, q) are for ceil(m/s) workers. The permutation of the k-th call with one
//!   workspace is drawn from the stream (seed, k) ([`crate::rng::stream`]): a fresh
//!   permutation every round of a simulated run, the same numbers for the same seed whatever
//!   the thread count. Time: O(d m).
//!
//! Means are summed in f64 in increasing row order (Mean's kernel); a non-finite row spreads
//! to the means that include it, as in the papers. Mixed rows are kept in the workspace, so a
//! call allocates nothing once the workspace has grown.
//!
//! Bucketing before a coordinate-wise rule (Mean and the order statistics: each output
//! coordinate depends on its column only) runs by column blocks: the bucket means of a block
//! of about [`BLOCK_BYTES`] are computed into the workspace and aggregated while they are in
//! cache, so the ceil(m/s) x d matrix of means is never written to memory. The bits are those
//! of the whole matrix of means (tested); the matrix is read once. Before Mean the bucket
//! means are not stored at all: each is added into Mean's accumulators as it is made
//! ([`mean_of_means`], one pass at about Mean's speed).

use super::krum::pairwise_sq_distances;
use super::mean::{mean_columns, mean_of_means, mean_rows};
use super::{AggregateExt, Aggregator, Workspace};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::scalar::Scalar;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// Bytes of bucket means per column block (see the module doc): a few blocks of a large
/// matrix stay in the last-level cache, and each block is large enough that the two parallel
/// passes over it (the means, the rule) cost far more than starting them.
pub const BLOCK_BYTES: usize = 4 << 20;

/// A pre-aggregation step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Premix {
    /// Nearest-Neighbour Mixing with f: each row becomes the mean of its m - f nearest rows.
    Nnm { f: usize },
    /// Bucketing: buckets of s rows after a permutation drawn from `seed`.
    Bucketing { s: usize, seed: u64 },
}

impl Premix {
    /// The number of rows the rule after it aggregates.
    pub fn rows_out(self, m: usize) -> usize {
        match self {
            Premix::Nnm { .. } => m,
            Premix::Bucketing { s, .. } => m.div_ceil(s.max(1)),
        }
    }

    /// Checks the step for m workers.
    pub fn check(self, m: usize) -> Result<(), Error> {
        match self {
            Premix::Nnm { f } if f >= m => Err(Error::Invalid(format!(
                "--nnm {f} leaves no neighbour for m = {m}: NNM averages the m - f nearest rows, so f must be at most {}",
                m.saturating_sub(1)
            ))),
            Premix::Bucketing { s: 0, .. } => Err(Error::Invalid(
                "--bucket 0 is not a bucket size: give s >= 1, e.g. --bucket 2".into(),
            )),
            _ => Ok(()),
        }
    }

    fn label(self) -> String {
        match self {
            Premix::Nnm { f } => format!("nnm(f={f})"),
            Premix::Bucketing { s, seed } => format!("bucketing(s={s},seed={seed})"),
        }
    }

    /// The rows that mixed row r averages, from the call's groups (as `Premixed` lays them
    /// out: NNM's neighbourhoods of m - f rows each, or bucketing's shuffled buckets of s).
    fn group(self, groups: &[usize], m: usize, r: usize) -> &[usize] {
        match self {
            Premix::Nnm { f } => &groups[r * (m - f)..(r + 1) * (m - f)],
            Premix::Bucketing { s, .. } => &groups[r * s..((r + 1) * s).min(m)],
        }
    }
}

/// A rule after a pre-aggregation step.
pub struct Premixed {
    m: usize,
    premix: Premix,
    rule: Box<dyn Aggregator>,
    /// Columns per block when the rule is coordinate-wise and the step is bucketing (see the
    /// module doc); `None`: the whole matrix of means first.
    block: Option<usize>,
    /// The rule is Mean ([`super::RuleKind::Average`]): bucketing then runs as one pass
    /// ([`mean_of_means`]).
    average: bool,
}

impl Premixed {
    /// `rule` (built for [`Premix::rows_out`] workers) after `premix`, for m workers.
    pub fn new(m: usize, premix: Premix, rule: Box<dyn Aggregator>) -> Result<Self, Error> {
        premix.check(m)?;
        if rule.m() != premix.rows_out(m) {
            return Err(Error::WorkerCount {
                expected: premix.rows_out(m),
                got: rule.m(),
            });
        }
        Ok(Self {
            m,
            premix,
            rule,
            block: None,
            average: false,
        })
    }

    /// Declares the rule coordinate-wise (each output coordinate a function of its column
    /// only, as [`super::RuleKind::Average`] and [`super::RuleKind::OrderStatistic`] are):
    /// bucketing then runs by column blocks of `block_bytes` bytes of means. No effect on
    /// Nearest-Neighbour Mixing, whose groups depend on whole rows. Only [`super::build`]
    /// calls it, from the registry's rule kind: on any other rule the result would change.
    pub(crate) fn coordinatewise(mut self, block_bytes: usize) -> Self {
        self.block = Some(block_bytes.max(1));
        self
    }

    /// Declares the rule Mean ([`super::RuleKind::Average`]): bucketing then averages the
    /// bucket means in the same pass as it makes them ([`mean_of_means`], the same bits as
    /// Mean on the matrix of means). Only [`super::build`] calls it, from the registry's rule
    /// kind: on any other rule the result would be Mean's.
    pub(crate) fn averaging(mut self) -> Self {
        self.average = true;
        self
    }

    /// The row groups of this call into `ws.mix_rows` (NNM's neighbourhoods, or bucketing's
    /// shuffled buckets: the call's permutation), counting the call.
    fn groups<T: Scalar>(&self, x: MatrixView<'_, T>, ws: &mut Workspace) {
        let m = x.m();
        let mut groups = std::mem::take(&mut ws.mix_rows);
        groups.clear();
        match self.premix {
            Premix::Nnm { f } => {
                pairwise_sq_distances(x, ws);
                let k = m - f;
                let mut order: Vec<usize> = std::mem::take(&mut ws.order);
                for i in 0..m {
                    order.clear();
                    order.extend(0..m);
                    let dist = &ws.dist[i * m..(i + 1) * m];
                    // itself first (distance 0, or NaN-free by construction), then by distance
                    order.sort_by(|&a, &b| {
                        (a != i)
                            .cmp(&(b != i))
                            .then(dist[a].total_cmp(&dist[b]))
                            .then(a.cmp(&b))
                    });
                    let at = groups.len();
                    groups.extend_from_slice(&order[..k]);
                    groups[at..].sort_unstable();
                }
                ws.order = order;
            }
            Premix::Bucketing { s, seed } => {
                groups.extend(0..m);
                let mut rng = crate::rng::stream(seed, BUCKET_KEY, ws.calls);
                groups.shuffle(&mut rng);
                for b in groups.chunks_mut(s) {
                    b.sort_unstable();
                }
            }
        }
        ws.calls += 1;
        ws.mix_rows = groups;
    }

    /// The mixed rows of `x` into `mixed` (rows_out x d).
    fn mix<T: Scalar>(&self, x: MatrixView<'_, T>, ws: &mut Workspace, mixed: &mut Vec<T>) {
        let (m, d) = (x.m(), x.d());
        let n = self.premix.rows_out(m);
        // every value is written below: a buffer of the right length is not cleared first
        if mixed.len() != n * d {
            mixed.clear();
            mixed.resize(n * d, T::default());
        }
        self.groups(x, ws);
        let ws: &Workspace = ws;
        for (r, out) in mixed.chunks_exact_mut(d).enumerate() {
            let rows = self.premix.group(&ws.mix_rows, m, r);
            mean_rows(x, Some(rows), ws, out);
        }
    }

    /// Bucketing, then the coordinate-wise rule, block of columns by block (the module doc):
    /// `mixed` holds one block of means (rows_out x `cols`).
    fn by_blocks<T: Scalar>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
        mixed: &mut Vec<T>,
        cols: usize,
    ) -> Result<(), Error> {
        let (m, d) = (x.m(), x.d());
        let n = self.premix.rows_out(m);
        if mixed.len() < n * cols {
            mixed.resize(n * cols, T::default());
        }
        self.groups(x, ws);
        for j0 in (0..d).step_by(cols) {
            let w = cols.min(d - j0);
            let block = &mut mixed[..n * w];
            {
                let ws: &Workspace = ws;
                // tasks of up to 16384 columns of one bucket: parallel over the columns too,
                // so a few buckets still use every core
                const TASK: usize = 1 << 14;
                block.par_chunks_mut(w).enumerate().for_each(|(r, o)| {
                    let rows = self.premix.group(&ws.mix_rows, m, r);
                    o.par_chunks_mut(TASK)
                        .enumerate()
                        .for_each(|(c, o)| mean_columns(x, rows, j0 + c * TASK, ws, o));
                });
            }
            self.rule
                .aggregate_into(MatrixView::new(block, n, w)?, ws, &mut out[j0..j0 + w])?;
        }
        Ok(())
    }
}

/// Stream key of the bucketing permutations ("bucketing", FNV-1a).
const BUCKET_KEY: u64 = 0x6275_636b_6574_696e;

impl Aggregator for Premixed {
    fn name(&self) -> &'static str {
        self.rule.name()
    }
    fn label(&self) -> String {
        format!("{}+{}", self.premix.label(), self.rule.label())
    }
    fn m(&self) -> usize {
        self.m
    }
    fn unanimous(&self) -> bool {
        self.rule.unanimous()
    }
    fn aggregate_f64(
        &self,
        x: MatrixView<'_, f64>,
        ws: &mut Workspace,
        out: &mut [f64],
    ) -> Result<(), Error> {
        let mut mixed = std::mem::take(&mut ws.mixed64);
        let r = self.mix_then_rule(x, ws, out, &mut mixed);
        ws.mixed64 = mixed;
        r
    }
    fn aggregate_f32(
        &self,
        x: MatrixView<'_, f32>,
        ws: &mut Workspace,
        out: &mut [f32],
    ) -> Result<(), Error> {
        let mut mixed = std::mem::take(&mut ws.mixed32);
        let r = self.mix_then_rule(x, ws, out, &mut mixed);
        ws.mixed32 = mixed;
        r
    }
}

impl Premixed {
    /// Mixes the rows of `x` into `mixed` (the workspace's buffer of the storage type, taken
    /// out by the caller) and aggregates them with the inner rule.
    fn mix_then_rule<T: Scalar>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
        mixed: &mut Vec<T>,
    ) -> Result<(), Error> {
        super::check_shape(self.m, &x, out.len())?;
        let n = self.premix.rows_out(self.m);
        if matches!(self.premix, Premix::Bucketing { .. }) && self.average {
            self.groups(x, ws);
            let ws: &Workspace = ws;
            let group = |r: usize| self.premix.group(&ws.mix_rows, self.m, r);
            mean_of_means(x, n, &group, ws, out);
            return Ok(());
        }
        if let (Premix::Bucketing { .. }, Some(bytes)) = (self.premix, self.block) {
            // columns per block: a multiple of 1024 (whole spans of the kernels' tiles)
            let cols = (bytes / (n * std::mem::size_of::<T>()).max(1))
                .max(1)
                .next_multiple_of(1024);
            if x.d() > cols {
                return self.by_blocks(x, ws, out, mixed, cols);
            }
        }
        self.mix(x, ws, mixed);
        self.rule
            .aggregate_into(MatrixView::new(mixed, n, x.d())?, ws, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators::{build, AggregateExt, RuleParams};

    fn nnm(rule: &str, p: RuleParams, m: usize, f: usize) -> Box<dyn Aggregator> {
        build(rule, &RuleParams { nnm: Some(f), ..p }, m).unwrap()
    }

    /// m = 4, d = 1, f = 1: rows 0, 1, 2, 10; each row's 3 nearest (itself included):
    /// 0 -> {0, 1, 2} = 1; 1 -> {0, 1, 2} = 1; 2 -> {0, 1, 2}... (2's distances: 2, 1, 0, 8)
    /// = 1; 10 -> {1, 2, 10} = 13/3. The mean of the mixed rows is (3 + 13/3) / 4.
    #[test]
    fn nnm_by_hand() {
        let x = [0.0f64, 1.0, 2.0, 10.0];
        let r = nnm("mean", RuleParams::default(), 4, 1);
        let out = r.aggregate(MatrixView::new(&x, 4, 1).unwrap()).unwrap();
        assert!((out[0] - (3.0 + 13.0 / 3.0) / 4.0).abs() < 1e-15, "{out:?}");
        assert_eq!(r.label(), "nnm(f=1)+mean");
        // the median of the mixed rows 1, 1, 1, 13/3
        let r = nnm("median", RuleParams::default(), 4, 1);
        let out = r.aggregate(MatrixView::new(&x, 4, 1).unwrap()).unwrap();
        assert_eq!(out, vec![1.0]);
    }

    #[test]
    fn nnm_with_f_zero_makes_every_row_the_mean() {
        let x = [1.0f32, 5.0, 2.0, 7.0, 9.0, 0.0];
        let r = nnm(
            "krum",
            RuleParams {
                q: Some(0),
                ..RuleParams::default()
            },
            3,
            0,
        );
        let out = r.aggregate(MatrixView::new(&x, 3, 2).unwrap()).unwrap();
        assert_eq!(out, vec![4.0, 4.0]);
    }

    /// Bucketing with s = 1 only permutes the rows: a permutation-invariant rule is unchanged;
    /// with s = m the one bucket is the mean.
    #[test]
    fn bucketing_extremes() {
        let x: Vec<f64> = (0..30).map(|i| f64::from(i * 7 % 11)).collect();
        let v = MatrixView::new(&x, 6, 5).unwrap();
        let plain = build("median", &RuleParams::default(), 6).unwrap();
        let b1 = build(
            "median",
            &RuleParams {
                bucket: Some(1),
                ..RuleParams::default()
            },
            6,
        )
        .unwrap();
        assert_eq!(plain.aggregate(v).unwrap(), b1.aggregate(v).unwrap());
        // the rule's parameter is for ceil(m/s) = 3 rows: b = 2 is too large there
        let e = build(
            "trmean",
            &RuleParams {
                b: Some(2),
                bucket: Some(2),
                ..RuleParams::default()
            },
            6,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("m = 3"), "{e}");
        let all = Premixed::new(
            6,
            Premix::Bucketing { s: 6, seed: 0 },
            build("median", &RuleParams::default(), 1).unwrap(),
        )
        .unwrap();
        let mean = build("mean", &RuleParams::default(), 6).unwrap();
        assert_eq!(all.aggregate(v).unwrap(), mean.aggregate(v).unwrap());
    }

    /// The k-th call of a workspace uses permutation k: the same sequence for the same seed,
    /// another for another seed.
    #[test]
    fn bucketing_permutations_follow_the_seed_and_the_call() {
        let x: Vec<f64> = (0..40).map(|i| f64::from(i * i % 13)).collect();
        let v = MatrixView::new(&x, 8, 5).unwrap();
        let run = |seed| {
            let r = build(
                "trmean",
                &RuleParams {
                    b: Some(1),
                    bucket: Some(2),
                    bucket_seed: Some(seed),
                    ..RuleParams::default()
                },
                8,
            )
            .unwrap();
            let mut ws = Workspace::new();
            (0..4)
                .map(|_| {
                    let mut o = vec![0.0; 5];
                    r.aggregate_into(v, &mut ws, &mut o).unwrap();
                    o
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let a = run(1);
        assert!(
            a.windows(2).any(|w| w[0] != w[1]),
            "a fresh permutation per call"
        );
    }

    /// Bucketing before a coordinate-wise rule by column blocks gives the bits of the whole
    /// matrix of bucket means, for every such rule, hostile values, f32 and f64, blocks that
    /// end in a partial one, and successive calls (fresh permutations).
    #[test]
    fn column_blocks_give_the_bits_of_the_whole_matrix() {
        fn check<T: Scalar>() {
            let (m, d) = (11, 5000);
            let x: Vec<T> = (0..m * d)
                .map(|i| {
                    T::from_f64(match (i * 7919) % 29 {
                        0 => f64::NAN,
                        1 => f64::INFINITY,
                        2 => -f64::INFINITY,
                        3 => f64::MAX * 0.9,
                        4 => -0.0,
                        5 | 6 => 2.0,
                        k => (k as f64 - 14.0) * 0.37 + (i % 13) as f64,
                    })
                })
                .collect();
            let v = MatrixView::new(&x, m, d).unwrap();
            let cases: [(&str, RuleParams); 5] = [
                ("mean", RuleParams::default()),
                ("median", RuleParams::default()),
                (
                    "trmean",
                    RuleParams {
                        b: Some(1),
                        ..RuleParams::default()
                    },
                ),
                (
                    "phocas",
                    RuleParams {
                        b: Some(1),
                        ..RuleParams::default()
                    },
                ),
                (
                    "meamed",
                    RuleParams {
                        b: Some(1),
                        ..RuleParams::default()
                    },
                ),
            ];
            for (name, p) in cases {
                for s in [2, 3] {
                    let step = Premix::Bucketing { s, seed: 7 };
                    let n = step.rows_out(m);
                    let rule = || build(name, &p, n).unwrap();
                    let whole = Premixed::new(m, step, rule()).unwrap();
                    // 1024 columns per block (the smallest): 5 blocks, the last partial
                    let blocks = Premixed::new(m, step, rule())
                        .unwrap()
                        .coordinatewise(n * std::mem::size_of::<T>());
                    let (mut w1, mut w2) = (Workspace::new(), Workspace::new());
                    for call in 0..2 {
                        let (mut a, mut b) = (vec![T::default(); d], vec![T::default(); d]);
                        whole.aggregate_into(v, &mut w1, &mut a).unwrap();
                        blocks.aggregate_into(v, &mut w2, &mut b).unwrap();
                        let bits =
                            |a: &[T]| a.iter().map(|t| t.to_f64().to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&a), bits(&b), "{name}, s = {s}, call {call}");
                    }
                }
            }
        }
        check::<f64>();
        check::<f32>();
        // a block size below one column of means still makes whole blocks (1024 columns)
        let x: Vec<f32> = (0..6 * 3000).map(|i| (i % 17) as f32).collect();
        let v = MatrixView::new(&x, 6, 3000).unwrap();
        let step = Premix::Bucketing { s: 2, seed: 1 };
        let rule = || build("median", &RuleParams::default(), 3).unwrap();
        let tiny = Premixed::new(6, step, rule()).unwrap().coordinatewise(1);
        let whole = Premixed::new(6, step, rule()).unwrap();
        assert_eq!(tiny.aggregate(v).unwrap(), whole.aggregate(v).unwrap());
    }

    /// Bucketing then Mean in one pass (`mean_of_means`) gives the bits of Mean on the whole
    /// matrix of bucket means, on hostile values (NaN, infinities, f64 sums that overflow and
    /// are rescued), for buckets of one row, of up to 8 rows, of more, and a smaller last one.
    #[test]
    fn bucketing_then_mean_in_one_pass_gives_the_bits_of_the_two_steps() {
        fn check<T: Scalar>() {
            // across spans (8192) and parallel chunks
            let (m, d) = (20, 2 * 8192 + 77);
            // sums that overflow the storage type (f64) or its f64 sums (f32: none)
            let huge = if std::mem::size_of::<T>() == 4 {
                3e38
            } else {
                f64::MAX * 0.75
            };
            let x: Vec<T> = (0..m * d)
                .map(|i| {
                    T::from_f64(match (i * 7919) % 997 {
                        0 => f64::NAN,
                        1 => f64::INFINITY,
                        2 => f64::NEG_INFINITY,
                        3..=40 => huge,
                        41..=60 => -huge,
                        61..=70 => -0.0,
                        71 => 5e-324,
                        k => (k as f64 - 514.5) * 1.37e3 + (i % 101) as f64 * 1e-3,
                    })
                })
                .collect();
            let v = MatrixView::new(&x, m, d).unwrap();
            for s in [1, 2, 3, 7, 8, 9, 20] {
                let p = RuleParams {
                    bucket: Some(s),
                    bucket_seed: Some(11),
                    ..RuleParams::default()
                };
                let fused = build("mean", &p, m).unwrap();
                let step = Premix::Bucketing { s, seed: 11 };
                let n = step.rows_out(m);
                let two = Premixed::new(m, step, build("mean", &RuleParams::default(), n).unwrap())
                    .unwrap();
                let (mut w1, mut w2) = (Workspace::new(), Workspace::new());
                for call in 0..2 {
                    let (mut a, mut b) = (vec![T::default(); d], vec![T::default(); d]);
                    fused.aggregate_into(v, &mut w1, &mut a).unwrap();
                    two.aggregate_into(v, &mut w2, &mut b).unwrap();
                    // NaN payloads and signs excepted (the compiler may swap an addition's
                    // operands), as everywhere in the crate
                    let bits = |a: &[T]| {
                        a.iter()
                            .map(|t| t.to_f64())
                            .map(|v| if v.is_nan() { 1 } else { v.to_bits() })
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(bits(&a), bits(&b), "s = {s}, call {call}");
                    let odd = a.iter().filter(|t| !t.to_f64().is_finite()).count();
                    assert!(odd > 0 && odd < d / 8, "s = {s}: {odd} non-finite");
                }
            }
        }
        check::<f64>();
        check::<f32>();
        // f64 rescues that the one pass cannot see: a bucket (b, b) overflows and is rescued
        // to b, so the column [b, b, -b, -b] averages to 0 (the one pass makes inf - inf);
        // [b, b, -inf, 1] is -inf whatever the buckets (the one pass makes NaN from inf - inf)
        let b = f64::MAX * 0.75;
        let x = [b, b, b, b, -b, -f64::INFINITY, -b, 1.0];
        let v = MatrixView::new(&x, 4, 2).unwrap();
        for seed in 0..8 {
            let p = RuleParams {
                bucket: Some(2),
                bucket_seed: Some(seed),
                ..RuleParams::default()
            };
            let out = build("mean", &p, 4).unwrap().aggregate(v).unwrap();
            assert_eq!(out[0], 0.0, "seed {seed}");
            assert_eq!(out[1], f64::NEG_INFINITY, "seed {seed}");
        }
    }

    #[test]
    fn invalid_steps_name_the_flag() {
        let e = build(
            "mean",
            &RuleParams {
                nnm: Some(5),
                ..RuleParams::default()
            },
            5,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("--nnm 5"), "{e}");
        let e = build(
            "mean",
            &RuleParams {
                bucket: Some(0),
                ..RuleParams::default()
            },
            5,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("--bucket 0"), "{e}");
        let e = build(
            "mean",
            &RuleParams {
                bucket: Some(2),
                nnm: Some(1),
                ..RuleParams::default()
            },
            5,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("not both"), "{e}");
    }
}

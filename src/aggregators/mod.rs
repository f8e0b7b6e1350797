//! Aggregation rules: one type per rule behind the [`Aggregator`] trait, and a registry by name.
//!
//! Every rule consumes an m x d matrix (one row per worker) and writes the d-dimensional
//! aggregate into a caller-owned buffer. Scratch memory lives in a caller-owned [`Workspace`];
//! once the workspace has grown to the problem's size, aggregation allocates nothing.
//!
//! Adding a rule: write one file with a type implementing `TypedRule` (the rule once, generic
//! over f32 and f64; [`Aggregator`] follows by a blanket impl), and add one entry to
//! [`REGISTRY`]. The CLI, the property tests, the Monte Carlo engine and the benches find it there.

mod bulyan;
mod clipping;
mod descent;
mod exact_sum;
mod geomed;
mod kernels;
mod krum;
mod krum_plan;
pub(crate) mod layout;
mod meamed;
mod mean;
mod median;
mod nearest;
mod network;
mod phocas;
mod premix;
mod selection;
pub(crate) mod simd;
mod tiled;
mod trmean;
mod workspace;

pub use bulyan::Bulyan;
pub use clipping::CenteredClipping;
pub use geomed::{GeometricMedian, WeiszfeldRun, WeiszfeldStart};
pub use kernels::{sorting_network_len, NETWORK_MAX_M};
pub use krum::{Krum, KrumDistance, KrumNeighbours, MultiKrum, PORTABLE_FMA};
pub use meamed::MeaMed;
pub use mean::Mean;
pub use median::{Median, MedianConvention};
pub use phocas::Phocas;
pub use premix::{Premix, Premixed};
pub use simd::{available_isas, detected_isa, isa_from_env, pair_step_rate, Isa, Level, StepMix};
pub use trmean::TrimmedMean;
pub use workspace::{Scratch, Workspace};

use crate::bounds::{KappaBound, RuleBound};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::scalar::{Scalar, Typed, TypedMut};

/// An aggregation rule Aggr: R^{m x d} -> R^d.
///
/// Implementations are immutable and validated at construction (for a fixed m).
pub trait Aggregator: Send + Sync {
    /// Short registry name (`trmean`).
    fn name(&self) -> &'static str;
    /// Full description with parameters and conventions, e.g. `trmean(b=6)`; results tables
    /// carry it so a figure says exactly which convention produced it.
    fn label(&self) -> String;
    /// Number of workers the rule was built for.
    fn m(&self) -> usize;
    /// Aggregates an f64 matrix into `out` (length d).
    fn aggregate_f64(
        &self,
        x: MatrixView<'_, f64>,
        ws: &mut Workspace,
        out: &mut [f64],
    ) -> Result<(), Error>;
    /// Aggregates an f32 matrix into `out` (length d); sums are accumulated in f64.
    fn aggregate_f32(
        &self,
        x: MatrixView<'_, f32>,
        ws: &mut Workspace,
        out: &mut [f32],
    ) -> Result<(), Error>;
    /// The rule on one coordinate whose m values are given sorted ascending, for rules that
    /// act coordinate by coordinate (Definitions 5-8); `None` for the others (Krum). O(m).
    ///
    /// The adversaries of [`crate::attacks`] score their candidates with it; a reported error
    /// always comes from [`Aggregator::aggregate_f64`]. `sorted` holds no NaN; infinities are
    /// allowed (an attack's values "at infinity").
    fn sorted_column(&self, _sorted: &[f64]) -> Option<f64> {
        None
    }
    /// True when the rule is coordinate-wise and non-decreasing in every input (Mean, Median,
    /// Trmean_b). For such a rule the worst case at fixed Byzantine positions puts all of a
    /// coordinate's Byzantine values at +infinity or all at -infinity (the sandwich of
    /// Theorem 1's proof), so it is computed exactly ([`crate::attacks::exact_worst`]).
    fn monotone(&self) -> bool {
        false
    }
    /// True when m equal rows aggregate to that row (every rule but centered clipping from
    /// zero or the previous aggregate, which clips the common row to norm tau).
    fn unanimous(&self) -> bool {
        true
    }
}

/// What a rule's file implements: the rule once, generic over the storage type (f32 or f64).
/// [`Aggregator`], the object-safe trait with one method per storage type that the registry
/// hands out, follows by the blanket impl below, so no rule repeats the forwarding.
pub(crate) trait TypedRule: Send + Sync {
    /// See [`Aggregator::name`].
    fn name(&self) -> &'static str;
    /// See [`Aggregator::label`].
    fn label(&self) -> String;
    /// See [`Aggregator::m`].
    fn m(&self) -> usize;
    /// Aggregates `x` into `out` (length d).
    fn run_typed<T: kernels::Keyed>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
    ) -> Result<(), Error>;
    /// See [`Aggregator::sorted_column`].
    fn sorted_column(&self, _sorted: &[f64]) -> Option<f64> {
        None
    }
    /// See [`Aggregator::monotone`].
    fn monotone(&self) -> bool {
        false
    }
    /// See [`Aggregator::unanimous`].
    fn unanimous(&self) -> bool {
        true
    }
}

impl<R: TypedRule> Aggregator for R {
    fn name(&self) -> &'static str {
        TypedRule::name(self)
    }
    fn label(&self) -> String {
        TypedRule::label(self)
    }
    fn m(&self) -> usize {
        TypedRule::m(self)
    }
    fn aggregate_f64(
        &self,
        x: MatrixView<'_, f64>,
        ws: &mut Workspace,
        out: &mut [f64],
    ) -> Result<(), Error> {
        self.run_typed(x, ws, out)
    }
    fn aggregate_f32(
        &self,
        x: MatrixView<'_, f32>,
        ws: &mut Workspace,
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.run_typed(x, ws, out)
    }
    fn sorted_column(&self, sorted: &[f64]) -> Option<f64> {
        TypedRule::sorted_column(self, sorted)
    }
    fn monotone(&self) -> bool {
        TypedRule::monotone(self)
    }
    fn unanimous(&self) -> bool {
        TypedRule::unanimous(self)
    }
}

/// Mean of `sorted[lo..hi]` (hi > lo), summed in order.
pub(crate) fn window_mean(sorted: &[f64], lo: usize, hi: usize) -> f64 {
    sorted[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
}

/// The mean of the m - b values of a sorted column nearest to `centre` (Phocas, MeaMed): they
/// form a window of the column, found by dropping b times the end farther from the centre (on
/// a tie the larger value goes, as in the kernels); a NaN distance counts as +infinity. O(m).
pub(crate) fn nearest_window_mean(sorted: &[f64], b: usize, centre: f64) -> f64 {
    let dist = |v: f64| {
        let t = (v - centre).abs();
        if t.is_nan() {
            f64::INFINITY
        } else {
            t
        }
    };
    let (mut lo, mut hi) = (0, sorted.len());
    for _ in 0..b {
        if dist(sorted[lo]) > dist(sorted[hi - 1]) {
            lo += 1;
        } else {
            hi -= 1;
        }
    }
    window_mean(sorted, lo, hi)
}

/// The mean of the m - b values of a sorted column nearest to its median (the midpoint
/// convention, Trmean_{ceil(m/2)-1}): MeaMed_b, and Bulyan's second stage with b = 2q
/// (any b < m). O(m).
pub(crate) fn median_window_mean(sorted: &[f64], b: usize) -> f64 {
    let m = sorted.len();
    let h = max_trim(m);
    nearest_window_mean(sorted, b, window_mean(sorted, h, m - h))
}

/// Storage-type-generic calls on any rule (dispatches to `aggregate_f32` / `aggregate_f64`).
pub trait AggregateExt: Aggregator {
    /// Aggregates `x` into `out` (length d) using scratch from `ws`; allocation-free once `ws`
    /// has grown to the problem size.
    fn aggregate_into<T: Scalar>(
        &self,
        x: MatrixView<'_, T>,
        ws: &mut Workspace,
        out: &mut [T],
    ) -> Result<(), Error> {
        let (m, d) = (x.m(), x.d());
        match (T::typed(x.as_slice()), T::typed_mut(out)) {
            (Typed::F64(x), TypedMut::F64(out)) => {
                self.aggregate_f64(MatrixView::new(x, m, d)?, ws, out)
            }
            (Typed::F32(x), TypedMut::F32(out)) => {
                self.aggregate_f32(MatrixView::new(x, m, d)?, ws, out)
            }
            // one T: the storage types always agree
            _ => Err(Error::Invalid(
                "input and output storage types differ".into(),
            )),
        }
    }
    /// Allocating convenience wrapper around [`AggregateExt::aggregate_into`].
    fn aggregate<T: Scalar>(&self, x: MatrixView<'_, T>) -> Result<Vec<T>, Error> {
        let mut out = vec![T::default(); x.d()];
        let mut ws = Workspace::new();
        self.aggregate_into(x, &mut ws, &mut out)?;
        Ok(out)
    }
}

impl<A: Aggregator + ?Sized> AggregateExt for A {}

/// Checks the matrix against the rule's m and the output length.
pub(crate) fn check_shape<T: Scalar>(
    m: usize,
    x: &MatrixView<'_, T>,
    out_len: usize,
) -> Result<(), Error> {
    if x.m() != m {
        return Err(Error::WorkerCount {
            expected: m,
            got: x.m(),
        });
    }
    if x.d() == 0 {
        return Err(Error::Empty { m: x.m(), d: 0 });
    }
    if out_len != x.d() {
        return Err(Error::Shape(format!(
            "output buffer has length {out_len} but d = {}",
            x.d()
        )));
    }
    Ok(())
}

/// Parameters for building a rule by name (the CLI and configs use this).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleParams {
    /// Trimming parameter b (trmean, phocas).
    pub b: Option<usize>,
    /// Assumed number of Byzantine workers q (krum, multikrum).
    pub q: Option<usize>,
    /// Number of vectors averaged by Multi-Krum (default m - q).
    pub k: Option<usize>,
    /// Krum neighbour-count convention.
    #[serde(default)]
    pub neighbours: KrumNeighbours,
    /// Krum distance convention.
    #[serde(default)]
    pub distance: KrumDistance,
    /// Even-m median convention.
    #[serde(default)]
    pub median: MedianConvention,
    /// Weiszfeld smoothing nu (geomed).
    pub nu: Option<f64>,
    /// Weiszfeld iteration cap (geomed).
    pub iters: Option<usize>,
    /// Weiszfeld relative tolerance on the objective (geomed).
    pub tol: Option<f64>,
    /// Start of an iterative rule (geomed, cclip).
    pub start: Option<WeiszfeldStart>,
    /// Clipping radius tau (cclip).
    pub tau: Option<f64>,
    /// Nearest-Neighbour Mixing before the rule, with this f (any rule).
    pub nnm: Option<usize>,
    /// Bucketing before the rule, buckets of this size (any rule; the rule's parameters are
    /// for ceil(m/s) workers).
    pub bucket: Option<usize>,
    /// Seed of bucketing's permutations (default 0).
    pub bucket_seed: Option<u64>,
}

impl RuleParams {
    /// The pre-aggregation step these parameters ask for, if any.
    pub fn premix(&self) -> Result<Option<Premix>, Error> {
        match (self.nnm, self.bucket) {
            (Some(_), Some(_)) => Err(Error::Invalid(
                "give --nnm or --bucket, not both: one pre-aggregation step per rule".into(),
            )),
            (Some(f), None) => Ok(Some(Premix::Nnm { f })),
            (None, Some(s)) => Ok(Some(Premix::Bucketing {
                s,
                seed: self.bucket_seed.unwrap_or(0),
            })),
            (None, None) if self.bucket_seed.is_some() => Err(Error::Invalid(
                "--bucket-seed without --bucket: give the bucket size, e.g. --bucket 2".into(),
            )),
            (None, None) => Ok(None),
        }
    }
}

/// A named setting beyond the rule parameter; a registry entry lists the ones its rule takes,
/// and [`build`] refuses the others with a message naming them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `--nu`, Weiszfeld smoothing.
    Nu,
    /// `--iters`, an iteration count.
    Iters,
    /// `--tol`, a relative tolerance.
    Tol,
    /// `--start`, where an iteration starts.
    Start,
    /// `--tau`, a clipping radius.
    Tau,
}

impl Setting {
    /// The flag's name.
    pub fn flag(self) -> &'static str {
        match self {
            Setting::Nu => "nu",
            Setting::Iters => "iters",
            Setting::Tol => "tol",
            Setting::Start => "start",
            Setting::Tau => "tau",
        }
    }
    /// Whether `p` sets it.
    pub fn given(self, p: &RuleParams) -> bool {
        match self {
            Setting::Nu => p.nu.is_some(),
            Setting::Iters => p.iters.is_some(),
            Setting::Tol => p.tol.is_some(),
            Setting::Start => p.start.is_some(),
            Setting::Tau => p.tau.is_some(),
        }
    }
    /// Every setting.
    pub const ALL: [Setting; 5] = [
        Setting::Nu,
        Setting::Iters,
        Setting::Tol,
        Setting::Start,
        Setting::Tau,
    ];
}

impl RuleParams {
    /// Parameters for `rule` from its one "rule parameter", as its registry entry's
    /// [`ParamKind`] says: the trimming b, or the assumed q (with Multi-Krum's k); unknown
    /// rules and rules without a parameter take none.
    pub fn for_rule(rule: &str, param: Option<usize>, k: Option<usize>) -> Self {
        info(rule).map_or_else(Self::default, |i| {
            i.with_params(Self::default(), param, param, k)
        })
    }
}

/// What a rule's one parameter means; CLI flags, configs, training runs and the bench read it
/// from the registry instead of matching rule names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// No parameter.
    None,
    /// The trimming parameter b (`--b`; Definitions 7 and 8), 0 <= b <= ceil(m/2) - 1.
    Trim,
    /// The assumed number of Byzantine workers q (`--q`; Definition 3), m - q - 2 >= 1.
    AssumedQ,
    /// The assumed q and the number k of rows averaged (`--q`, `--k`; Multi-Krum).
    AssumedQAndK,
    /// The assumed q with m >= 4q + 3 (`--q`; Bulyan).
    AssumedQBulyan,
}

impl ParamKind {
    /// Whether the rule takes a parameter.
    pub fn takes_param(self) -> bool {
        self != ParamKind::None
    }
    /// Whether the parameter is an assumed Byzantine count q (Krum, Multi-Krum).
    pub fn is_assumed_q(self) -> bool {
        matches!(
            self,
            ParamKind::AssumedQ | ParamKind::AssumedQAndK | ParamKind::AssumedQBulyan
        )
    }
    /// The largest valid value for m workers: `Some(max)` (None inside when no value is
    /// valid) for rules that take a parameter, `None` for rules that take none.
    pub fn max(self, m: usize) -> Option<Option<usize>> {
        match self {
            ParamKind::Trim => Some(Some(max_trim(m))),
            ParamKind::AssumedQ | ParamKind::AssumedQAndK => Some(m.checked_sub(3)),
            ParamKind::AssumedQBulyan => Some(bulyan::max_q(m)),
            ParamKind::None => None,
        }
    }
}

/// How a rule aggregates; decides which kernels and comparisons apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// A coordinate-wise average: Mean's arithmetic (bucketing before it is fused into one
    /// pass that computes Mean's bits, `premix::Premixed::averaging`).
    Average,
    /// A coordinate-wise order statistic (Median, Trmean, Phocas): sorting networks or
    /// selection per coordinate.
    OrderStatistic,
    /// Selects or averages whole rows by pairwise distances (Krum, Multi-Krum).
    RowSelection,
    /// Averages whole rows with weights from their distances to an iterate (the geometric
    /// median).
    RowWeighting,
}

/// The machine limit a rule's time is measured against (bench-scaling's target lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostFloor {
    /// None of its own: its time is compared with Mean's (one read of the matrix).
    Mean,
    /// The exact pairwise distances, m (m - 1) / 2 x d pair steps at the FMA rate
    /// `pair_step_rate` measures; the selection after them is of lower order (Krum,
    /// Multi-Krum). Bulyan is not one: its coordinate stage is a second cost of its own.
    PairDistances,
}

impl RuleInfo {
    /// Whether its cost is the exact pairwise distances, timed against the FMA floor
    /// (Krum, Multi-Krum).
    pub fn pair_distance_floor(&self) -> bool {
        self.floor == CostFloor::PairDistances
    }

    /// `base` with the parameters this rule takes, as its [`ParamKind`] says: the trimming
    /// `b`, or the assumed `q` (and Multi-Krum's `k`); the others are cleared. Callers holding
    /// b, q and k for any rule build it without probing which subset it accepts.
    pub fn with_params(
        &self,
        base: RuleParams,
        b: Option<usize>,
        q: Option<usize>,
        k: Option<usize>,
    ) -> RuleParams {
        let (b, q, k) = match self.param {
            ParamKind::None => (None, None, None),
            ParamKind::Trim => (b, None, None),
            ParamKind::AssumedQ | ParamKind::AssumedQBulyan => (None, q, None),
            ParamKind::AssumedQAndK => (None, q, k),
        };
        RuleParams { b, q, k, ..base }
    }
}

/// The registry entry of `name`, if it names a rule.
pub fn info(name: &str) -> Option<&'static RuleInfo> {
    REGISTRY.iter().find(|r| r.name == name)
}

/// The largest valid rule parameter of `rule` for m workers: `Some(max)` (None inside when
/// no value is valid) for rules that take one, `None` for rules that take none.
pub fn param_max(rule: &str, m: usize) -> Option<Option<usize>> {
    info(rule).and_then(|i| i.param.max(m))
}

/// Constructor of a registered rule: (parameters, m) to a validated rule.
pub type BuildFn = fn(&RuleParams, usize) -> Result<Box<dyn Aggregator>, Error>;

/// A registry entry.
pub struct RuleInfo {
    /// Registry name.
    pub name: &'static str,
    /// One-line definition.
    pub summary: &'static str,
    /// Parameters it takes.
    pub params: &'static str,
    /// Paper reference.
    pub reference: &'static str,
    /// Time complexity.
    pub cost: &'static str,
    /// What its parameter means.
    pub param: ParamKind,
    /// How it aggregates.
    pub kind: RuleKind,
    /// The settings it takes beyond its parameter.
    pub settings: &'static [Setting],
    /// The exponent of m in its cost as the paper states it (d's is 1 for every rule).
    pub m_exponent: f64,
    /// The machine limit bench-scaling measures its time against.
    pub floor: CostFloor,
    /// The paper's bound that covers it.
    pub bound: RuleBound,
    /// Its published (f, kappa)-robustness bound, at b = q = f.
    pub kappa: KappaBound,
    /// Builds the rule for m workers.
    pub build: BuildFn,
}

/// All rules, by name.
pub const REGISTRY: &[RuleInfo] = &[
    RuleInfo {
        name: "mean",
        summary: "coordinate-wise average of all m values",
        params: "none",
        reference: "baseline (Proposition 1: not resilient)",
        cost: "O(dm)",
        param: ParamKind::None,
        kind: RuleKind::Average,
        settings: &[],
        m_exponent: 1.0,
        floor: CostFloor::Mean,
        bound: RuleBound::None,
        kappa: KappaBound::None,
        build: mean::build,
    },
    RuleInfo {
        name: "median",
        summary: "coordinate-wise median (even m: midpoint of the two middle values; --median lower for the lower one)",
        params: "[--median midpoint|lower]",
        reference: "Trmean with b = ceil(m/2)-1",
        cost: "O(d m log^2 m) here (sorting network; selection above m = 256); paper: O(dm)",
        param: ParamKind::None,
        kind: RuleKind::OrderStatistic,
        settings: &[],
        m_exponent: 1.0,
        floor: CostFloor::Mean,
        bound: RuleBound::Delta1AtMedian,
        kappa: KappaBound::MedianLike,
        build: median::build,
    },
    RuleInfo {
        name: "trmean",
        summary: "per coordinate, drop the b smallest and b largest values and average the other m-2b",
        params: "--b B, 0 <= B <= ceil(m/2)-1",
        reference: "Definition 7, Theorem 1",
        cost: "O(d m log^2 m) here (sorting network; selection above m = 256); paper: O(dm)",
        param: ParamKind::Trim,
        kind: RuleKind::OrderStatistic,
        settings: &[],
        m_exponent: 1.0,
        floor: CostFloor::Mean,
        bound: RuleBound::Delta1AtB,
        kappa: KappaBound::TrimmedMean,
        build: trmean::build,
    },
    RuleInfo {
        name: "phocas",
        summary: "per coordinate, average the m-b values nearest to Trmean_b (ties: smaller value first)",
        params: "--b B, 0 <= B <= ceil(m/2)-1",
        reference: "Definition 8, Theorem 2",
        cost: "O(d m log^2 m) here (sorting network; selection above m = 256); paper: O(dm)",
        param: ParamKind::Trim,
        kind: RuleKind::OrderStatistic,
        settings: &[],
        m_exponent: 1.0,
        floor: CostFloor::Mean,
        bound: RuleBound::Delta2AtB,
        kappa: KappaBound::None,
        build: phocas::build,
    },
    RuleInfo {
        name: "krum",
        summary: "the row with the least sum of squared distances to its m-q-2 nearest neighbours (lowest index on ties)",
        params: "--q Q, m-q-2 >= 1 [--neighbours m-q-2|m-q-1] [--distance squared|plain]",
        reference: "Definition 3, Lemma 1 (needs 2q+2 < m)",
        cost: "O(dm^2)",
        param: ParamKind::AssumedQ,
        kind: RuleKind::RowSelection,
        settings: &[],
        m_exponent: 2.0,
        floor: CostFloor::PairDistances,
        bound: RuleBound::Delta0WholeRows,
        kappa: KappaBound::Krum,
        build: krum::build_krum,
    },
    RuleInfo {
        name: "multikrum",
        summary: "average of the k rows with the least Krum scores (Blanchard et al.)",
        params: "--q Q [--k K, default m-q] [--neighbours ...] [--distance ...]",
        reference: "Blanchard et al. 2017; section 5 baseline",
        cost: "O(dm^2)",
        param: ParamKind::AssumedQAndK,
        kind: RuleKind::RowSelection,
        settings: &[],
        m_exponent: 2.0,
        floor: CostFloor::PairDistances,
        bound: RuleBound::None,
        kappa: KappaBound::None,
        build: krum::build_multikrum,
    },
    RuleInfo {
        name: "meamed",
        summary: "per coordinate, average the m-b values nearest to the median (ties: smaller value first)",
        params: "--b B, 0 <= B <= ceil(m/2)-1",
        reference: "Xie, Koyejo, Gupta 2018 (Generalized Byzantine-tolerant SGD); no bound in the Phocas paper",
        cost: "O(d m log^2 m) here (sorting network; selection above m = 256); paper: O(dm)",
        param: ParamKind::Trim,
        kind: RuleKind::OrderStatistic,
        settings: &[],
        m_exponent: 1.0,
        floor: CostFloor::Mean,
        bound: RuleBound::None,
        kappa: KappaBound::None,
        build: meamed::build,
    },
    RuleInfo {
        name: "geomed",
        summary: "geometric median (argmin of the sum of Euclidean distances) by smoothed Weiszfeld, from the mean",
        params: "[--nu NU, default 1e-6] [--iters N, default 100] [--tol TOL, default 1e-6] [--start mean|zero|median]",
        reference: "Pillutla, Kakade, Harchaoui 2022 (RFA), Algorithm 3; no bound in the Phocas paper",
        cost: "O(dm) per iteration (one pass: the weighted mean fused with the next distances)",
        param: ParamKind::None,
        kind: RuleKind::RowWeighting,
        settings: &[Setting::Nu, Setting::Iters, Setting::Tol, Setting::Start],
        m_exponent: 1.0,
        floor: CostFloor::Mean,
        bound: RuleBound::None,
        kappa: KappaBound::MedianLike,
        build: geomed::build,
    },
    RuleInfo {
        name: "cclip",
        summary: "centered clipping: from a centre, L times move by the mean of the differences clipped to norm tau",
        params: "[--tau TAU, default 100] [--iters L, default 1] [--start zero|median|mean|previous, default zero]",
        reference: "Karimireddy, He, Jaggi 2021 (Learning from History), equation (CC); no bound in the Phocas paper",
        cost: "O(dm) per iteration (one pass: the step fused with the next distances; one more for the first distances)",
        param: ParamKind::None,
        kind: RuleKind::RowWeighting,
        settings: &[Setting::Iters, Setting::Start, Setting::Tau],
        m_exponent: 1.0,
        floor: CostFloor::Mean,
        bound: RuleBound::None,
        kappa: KappaBound::None,
        build: clipping::build,
    },
    RuleInfo {
        name: "bulyan",
        summary: "m-2q rows chosen one by one by Krum, then per coordinate the mean of the m-4q chosen values nearest to their median",
        params: "--q Q, m >= 4Q+3 [--neighbours m-q-2|m-q-1] [--distance squared|plain]",
        reference: "El Mhamdi, Guerraoui, Rouault 2018 (Bulyan), Algorithm 1; no bound in the Phocas paper",
        cost: "O(dm^2) (Krum's distances) + O(d m log^2 m) (sorting network on the chosen rows)",
        param: ParamKind::AssumedQBulyan,
        kind: RuleKind::RowSelection,
        settings: &[],
        m_exponent: 2.0,
        floor: CostFloor::Mean,
        bound: RuleBound::None,
        kappa: KappaBound::None,
        build: bulyan::build,
    },
];

/// Names of all registered rules, comma-separated.
pub fn rule_names() -> String {
    REGISTRY
        .iter()
        .map(|r| r.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds rule `name` for m workers with the given parameters.
pub fn build(name: &str, params: &RuleParams, m: usize) -> Result<Box<dyn Aggregator>, Error> {
    let info = REGISTRY
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::UnknownRule {
            name: name.to_string(),
            known: rule_names(),
        })?;
    if m == 0 {
        return Err(Error::Empty { m, d: 0 });
    }
    for s in Setting::ALL {
        if !info.settings.contains(&s) {
            reject(info.name, s.flag(), s.given(params), info.params)?;
        }
    }
    match params.premix()? {
        None => (info.build)(params, m),
        Some(step) => {
            step.check(m)?;
            let inner = RuleParams {
                nnm: None,
                bucket: None,
                bucket_seed: None,
                ..params.clone()
            };
            let rule = (info.build)(&inner, step.rows_out(m))?;
            let mixed = Premixed::new(m, step, rule)?;
            Ok(Box::new(match info.kind {
                RuleKind::Average => mixed.coordinatewise(premix::BLOCK_BYTES).averaging(),
                RuleKind::OrderStatistic => mixed.coordinatewise(premix::BLOCK_BYTES),
                RuleKind::RowSelection | RuleKind::RowWeighting => mixed,
            }))
        }
    }
}

/// Largest allowed trimming parameter for m workers: ceil(m/2) - 1.
pub fn max_trim(m: usize) -> usize {
    m.div_ceil(2).saturating_sub(1)
}

/// Validates b for m (Definition 7).
pub(crate) fn check_trim(b: usize, m: usize) -> Result<(), Error> {
    let max = max_trim(m);
    if b > max {
        return Err(Error::InvalidTrim { b, m, max });
    }
    Ok(())
}

pub(crate) fn reject(
    rule: &'static str,
    param: &'static str,
    given: bool,
    takes: &'static str,
) -> Result<(), Error> {
    if given {
        Err(Error::UnusedParam { rule, param, takes })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique() {
        let mut names: Vec<_> = REGISTRY.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
    }

    #[test]
    fn unknown_rule_lists_known() {
        let e = build("mode", &RuleParams::default(), 5).err().unwrap();
        let s = e.to_string();
        assert!(
            s.contains("unknown rule 'mode'") && s.contains("trmean"),
            "{s}"
        );
    }

    #[test]
    fn weiszfeld_settings_on_other_rules_are_refused() {
        let p = RuleParams {
            b: Some(1),
            nu: Some(0.1),
            ..RuleParams::default()
        };
        let e = build("trmean", &p, 5).err().unwrap().to_string();
        assert!(e.contains("nu") && e.contains("trmean"), "{e}");
        let p = RuleParams {
            iters: Some(3),
            start: Some(WeiszfeldStart::Zero),
            ..RuleParams::default()
        };
        assert!(build("geomed", &p, 5).is_ok());
    }

    #[test]
    fn max_trim_table() {
        for (m, max) in [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (20, 9), (21, 10)] {
            assert_eq!(max_trim(m), max, "m = {m}");
        }
    }

    #[test]
    fn trim_error_names_numbers() {
        let e = check_trim(10, 20).unwrap_err().to_string();
        assert_eq!(
            e,
            "b = 10 is too large for m = 20: b must be at most 9 (ceil(m/2) - 1)"
        );
    }

    #[test]
    fn registry_metadata_builds_every_rule_and_agrees_with_its_text() {
        for info in REGISTRY {
            for m in [5, 20, 51] {
                // 1, or the largest the rule takes if smaller (Bulyan at m = 5 takes q = 0)
                let one = info.param.max(m).flatten().map_or(1, |max| max.min(1));
                let p = info.with_params(RuleParams::default(), Some(one), Some(one), Some(2));
                assert!(build(info.name, &p, m).is_ok(), "{} at m = {m}", info.name);
                // the largest parameter the metadata allows builds; one more does not
                if let Some(Some(max)) = param_max(info.name, m) {
                    let at = |v| info.with_params(RuleParams::default(), Some(v), Some(v), None);
                    assert!(build(info.name, &at(max), m).is_ok(), "{} max", info.name);
                    assert!(
                        build(info.name, &at(max + 1), m).is_err(),
                        "{} max+1",
                        info.name
                    );
                }
            }
            assert_eq!(
                info.m_exponent == 2.0,
                info.cost.contains("m^2"),
                "{}: m_exponent and cost text disagree",
                info.name
            );
            assert_eq!(
                info.kind == RuleKind::RowSelection,
                info.param.is_assumed_q(),
                "{}",
                info.name
            );
        }
        assert!(info("no such rule").is_none());
        assert_eq!(param_max("mean", 20), None);
    }
}

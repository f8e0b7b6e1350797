//! `bench-scaling`: the measured cost of every rule as m and d grow.
//!
//! The paper (section 4.4) says Trmean and Phocas cost O(dm), "the same order as averaging",
//! while Krum costs O(dm^2). This module measures that. Every registered rule is timed on an
//! m x d matrix of N(0, 1) values (fixed seed) over two sweeps, m in {5, 10, 20, 50, 100, 200}
//! at d = 10^6 (then m = 500 and 1000 at the same 2 x 10^8 values: d = 4 x 10^5 and 2 x 10^5)
//! and d in {10^3, ..., 10^7} at m = 20, in f32 and f64, with
//! b = q = floor((m - 1) / 4) unless set. Every matrix is a prefix of one buffer per storage
//! type, generated once.
//!
//! Protocol. At each point the contenders (the memory probe and every rule) get one warm-up
//! call (which also grows their workspace and faults in the output), one calibration call
//! that fixes how many calls make a sample of at least 20 ms, then several samples taken
//! round-robin over the contenders, so a drift of the machine's load touches all of them
//! alike. The median sample is quoted.
//!
//! The memory probe is a plain streaming read of the same m x d values (a wrapping integer
//! sum of their bits, in the same parallel chunks as the rules): the physical limit for a rule
//! that must read every value once. Each rule's time is reported as a multiple of the probe's
//! and of Mean's at the same (m, d).
//!
//! Slopes are least-squares fits of ln(time) on ln(m) and on ln(d), with the fit's standard
//! error (on the m axis, the times of m = 500 and 1000 are scaled to d = 10^6, time x 10^6 / d,
//! the cost being linear in d); theory says 1 in d for every rule and 1 or 2 in m (the power of m in the registry's
//! cost). Local slopes between consecutive m show where a sorting network's m log^2 m cost or
//! the selection fallback bends the line.
//!
//! Two comparisons run at one point: each rule under every instruction set the CPU offers
//! (what run-time dispatch buys) and, for the coordinate-wise rules, the network path against
//! the selection path at every m (where the fallback should take over).
//!
//! Outputs in `--out` (default `reports/bench-scaling`), each table as CSV and Parquet:
//! `scaling` (one row per rule, storage type and point: median and fastest ns, ns per value,
//! GB/s of input read, multiples of Mean and of the probe, repetitions), `slopes` (one row per
//! rule and storage type: fitted slopes in m and in d with standard errors and theory),
//! `local_slopes` (exponents between consecutive points), `compare` (instruction sets and
//! kernel paths); the chart `scaling.svg`/`.png`; `manifest.json`.
//! The criterion benches (`cargo bench`, benches/rules.rs) time the same calls.

mod console;
mod output;
mod timing;

pub use timing::{median, normal_values, read_probe, time_round_robin, BenchScalar, Call, Timing};

use crate::aggregators::{
    self, available_isas, detected_isa, info, pair_step_rate, AggregateExt, Aggregator, Level,
    RuleParams, StepMix, Workspace, NETWORK_MAX_M, REGISTRY,
};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::report::manifest::Manifest;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Storage type of a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dtype {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

impl Dtype {
    /// `f32` or `f64`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }
}

impl std::str::FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "f32" => Ok(Dtype::F32),
            "f64" => Ok(Dtype::F64),
            other => Err(format!("'{other}' is not a storage type: use f32 or f64")),
        }
    }
}

/// Options of `phocas bench-scaling`.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Reduced sweep (m sweep at d = 10^5, d up to 10^6, 3 samples, 5 ms each): under a
    /// minute.
    pub quick: bool,
    /// Output folder. Default: `runs/bench-scaling-<quick|full>-<hash of the settings>/`
    /// (reports/bench-scaling holds the committed run of `phocas report`).
    pub out: Option<PathBuf>,
    /// Trimming parameter b of trmean and phocas [default: floor((m-1)/4) at each m].
    pub b: Option<usize>,
    /// Assumed Byzantine count q of krum and multikrum [default: floor((m-1)/4) at each m].
    pub q: Option<usize>,
    /// Rules to time, comma-separated [default: every registered rule].
    pub rules: Vec<String>,
    /// Storage types, comma-separated.
    pub dtypes: Vec<Dtype>,
    /// Timed samples per point, after the warm-up [default: 5; 3 with --quick].
    pub reps: Option<usize>,
    /// Seed of the N(0, 1) input values.
    pub seed: u64,
    /// Time one point only, given as MxD (e.g. 20x1000000), instead of the sweeps.
    pub at: Option<(usize, usize)>,
    /// Skip the instruction-set and kernel-path comparisons.
    pub no_compare: bool,
    /// Skip the charts.
    pub no_charts: bool,
}

/// `--at MxD`: a point such as 20x1000000.
pub fn parse_point(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("'{s}' is not a point MxD such as 20x1000000");
    let (m, d) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (m, d) = (
        m.trim().parse::<usize>().map_err(|_| bad())?,
        d.trim().parse::<f64>().map_err(|_| bad())?,
    );
    if m == 0 || !(d >= 1.0 && d.fract() == 0.0 && d <= 1e12) {
        return Err(bad());
    }
    Ok((m, d as usize))
}

/// The points of a sweep and how long to time them.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// Worker counts of the m sweep.
    pub ms: Vec<usize>,
    /// Dimension of the m sweep.
    pub d_for_m: usize,
    /// Worker counts beyond the m sweep, each at the size of the m sweep's largest matrix
    /// (d = max(ms) x d_for_m / m, see [`Sweep::m_points`]) so that memory stays bounded; the
    /// m axis then compares times scaled to d_for_m (time x d_for_m / d).
    pub large_ms: Vec<usize>,
    /// Dimensions of the d sweep.
    pub ds: Vec<usize>,
    /// Worker count of the d sweep.
    pub m_for_d: usize,
    /// Timed samples per point.
    pub reps: usize,
    /// Minimum duration of one sample (calls are repeated to reach it).
    pub min_sample: Duration,
    /// Dimension of the network-against-selection comparison.
    pub compare_d: usize,
}

impl Sweep {
    /// The full sweep of the issue: a few minutes on two cores.
    pub fn full() -> Self {
        Self {
            ms: vec![5, 10, 20, 50, 100, 200],
            d_for_m: 1_000_000,
            large_ms: vec![500, 1000],
            ds: vec![1_000, 10_000, 100_000, 1_000_000, 10_000_000],
            m_for_d: 20,
            reps: 5,
            min_sample: Duration::from_millis(20),
            compare_d: 100_000,
        }
    }

    /// The quick sweep: under a minute.
    pub fn quick() -> Self {
        Self {
            ms: vec![5, 10, 20, 50, 100, 200],
            d_for_m: 100_000,
            large_ms: Vec::new(),
            ds: vec![1_000, 10_000, 100_000, 1_000_000],
            m_for_d: 20,
            reps: 3,
            min_sample: Duration::from_millis(5),
            compare_d: 20_000,
        }
    }

    /// The (m, d) points of the m sweep, by increasing m: `ms` at d_for_m, then `large_ms`
    /// at the size of the largest of those matrices (d rounded down, at least 1).
    pub fn m_points(&self) -> Vec<(usize, usize)> {
        let values = self.ms.iter().max().copied().unwrap_or(1) * self.d_for_m;
        let mut p: Vec<(usize, usize)> = self
            .ms
            .iter()
            .map(|&m| (m, self.d_for_m))
            .chain(
                self.large_ms
                    .iter()
                    .map(|&m| (m, (values / m.max(1)).max(1))),
            )
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    }

    /// Distinct (m, d) points of both sweeps, by increasing m * d.
    pub fn points(&self) -> Vec<(usize, usize)> {
        let mut p: Vec<(usize, usize)> = self
            .m_points()
            .into_iter()
            .chain(self.ds.iter().map(|&d| (self.m_for_d, d)))
            .collect();
        p.sort_by_key(|&(m, d)| (m * d, m));
        p.dedup();
        p
    }

    /// Values in the largest matrix.
    pub fn max_len(&self) -> usize {
        self.points().iter().map(|&(m, d)| m * d).max().unwrap_or(0)
    }

    /// The point of the issue's performance targets (m = 20, d = 10^6) if the sweep has it,
    /// else its largest d at m_for_d.
    pub fn headline(&self) -> (usize, usize) {
        let d = if self.ds.contains(&1_000_000) && self.m_for_d == 20 {
            1_000_000
        } else {
            self.ds.iter().copied().max().unwrap_or(self.d_for_m)
        };
        (self.m_for_d, d)
    }
}

/// Default b and q at m workers: floor((m - 1) / 4).
pub fn default_trim(m: usize) -> usize {
    m.saturating_sub(1) / 4
}

/// Builds rule `name` for m workers with b or q, whichever its registry entry says it takes.
pub fn build_rule(name: &str, m: usize, b: usize, q: usize) -> Result<Box<dyn Aggregator>, Error> {
    let info = aggregators::info(name).ok_or_else(|| Error::UnknownRule {
        name: name.into(),
        known: aggregators::rule_names(),
    })?;
    let p = info.with_params(RuleParams::default(), Some(b), Some(q), None);
    aggregators::build(name, &p, m)
}

/// Name of the memory probe in the tables.
pub const PROBE: &str = "read-probe";

/// One measured point of one contender.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Registry name, or [`PROBE`].
    pub rule: String,
    /// The rule's label with its parameters.
    pub label: String,
    /// Storage type.
    pub dtype: Dtype,
    /// Workers.
    pub m: usize,
    /// Dimension.
    pub d: usize,
    /// The sweep's b and q at this m (what the rules that take them used).
    pub b: usize,
    /// See `b`.
    pub q: usize,
    /// Timing.
    pub timing: Timing,
}

/// Settings of one run.
struct Plan {
    sweep: Sweep,
    rules: Vec<String>,
    b: Option<usize>,
    q: Option<usize>,
}

impl Plan {
    fn bq(&self, m: usize) -> (usize, usize) {
        (
            self.b.unwrap_or_else(|| default_trim(m)),
            self.q.unwrap_or_else(|| default_trim(m)),
        )
    }
    /// Builds rule `r` for m workers; the default q is lowered to the rule's largest (Bulyan
    /// takes at most (m - 3) / 4), a given one is not.
    fn build(&self, r: &str, m: usize) -> Result<Box<dyn Aggregator>, Error> {
        let (b, q) = self.bq(m);
        let q = match (self.q, aggregators::param_max(r, m)) {
            (None, Some(Some(max))) => q.min(max),
            _ => q,
        };
        build_rule(r, m, b, q)
    }
}

/// Times the probe and every rule at every point of the sweep.
fn measure_sweep<T: BenchScalar>(
    plan: &Plan,
    data: &[T],
    log: &mut dyn FnMut(&str),
) -> Result<Vec<Measurement>, Error> {
    let mut rows = Vec::new();
    for (m, d) in plan.sweep.points() {
        let t0 = Instant::now();
        let (b, q) = plan.bq(m);
        let x = MatrixView::new(&data[..m * d], m, d)?;
        let rules = plan
            .rules
            .iter()
            .map(|r| plan.build(r, m))
            .collect::<Result<Vec<_>, _>>()?;
        let out = RefCell::new(vec![T::default(); d]);
        let mut calls: Vec<Call<'_>> = vec![Box::new(|| {
            std::hint::black_box(read_probe(Level::default(), x.as_slice()));
            Ok(())
        })];
        for r in &rules {
            let mut ws = Workspace::new();
            let out = &out;
            calls.push(Box::new(move || {
                r.aggregate_into(x, &mut ws, &mut out.borrow_mut())
            }));
        }
        let timings = time_round_robin(&mut calls, plan.sweep.reps, plan.sweep.min_sample)?;
        drop(calls);
        let labels = std::iter::once(PROBE.to_string()).chain(rules.iter().map(|r| r.label()));
        let names = std::iter::once(PROBE.to_string()).chain(plan.rules.iter().cloned());
        for ((rule, label), timing) in names.zip(labels).zip(timings) {
            rows.push(Measurement {
                rule,
                label,
                dtype: T::DTYPE,
                m,
                d,
                b,
                q,
                timing,
            });
        }
        log(&format!(
            "  {} m = {m:>3} d = {d:>8}: {:.1} s",
            T::DTYPE.name(),
            t0.elapsed().as_secs_f64()
        ));
    }
    Ok(rows)
}

/// One variant of a comparison (an instruction set, or a kernel path).
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// `isa` or `path`.
    pub kind: &'static str,
    /// `portable`, `avx2`, `network`, `selection`.
    pub variant: String,
    /// The measurement.
    pub at: Measurement,
}

/// Every rule (and the probe) at (m, d) under every instruction set this CPU runs.
fn compare_isas<T: BenchScalar>(
    plan: &Plan,
    data: &[T],
    (m, d): (usize, usize),
) -> Result<Vec<Variant>, Error> {
    let (b, q) = plan.bq(m);
    let x = MatrixView::new(&data[..m * d], m, d)?;
    let isas = available_isas();
    let rules = plan
        .rules
        .iter()
        .map(|r| plan.build(r, m))
        .collect::<Result<Vec<_>, _>>()?;
    let out = RefCell::new(vec![T::default(); d]);
    let mut calls: Vec<Call<'_>> = Vec::new();
    let mut names = Vec::new();
    for &isa in &isas {
        let level = Level::new(isa).expect("listed as available on this CPU");
        calls.push(Box::new(move || {
            std::hint::black_box(read_probe(level, x.as_slice()));
            Ok(())
        }));
        names.push((isa, PROBE.to_string(), PROBE.to_string()));
        for r in &rules {
            let mut ws = Workspace::new().with_level(level);
            let out = &out;
            calls.push(Box::new(move || {
                r.aggregate_into(x, &mut ws, &mut out.borrow_mut())
            }));
            names.push((isa, r.name().to_string(), r.label()));
        }
    }
    let timings = time_round_robin(&mut calls, plan.sweep.reps, plan.sweep.min_sample)?;
    Ok(names
        .into_iter()
        .zip(timings)
        .map(|((isa, rule, label), timing)| Variant {
            kind: "isa",
            variant: isa.name().into(),
            at: Measurement {
                rule,
                label,
                dtype: T::DTYPE,
                m,
                d,
                b,
                q,
                timing,
            },
        })
        .collect())
}

/// The coordinate-wise rules on the network path against the selection path, at every m.
fn compare_paths<T: BenchScalar>(plan: &Plan, data: &[T]) -> Result<Vec<Variant>, Error> {
    let d = plan.sweep.compare_d;
    let mut rows = Vec::new();
    let names: Vec<&String> = plan
        .rules
        .iter()
        .filter(|r| {
            crate::aggregators::info(r)
                .is_some_and(|i| i.kind == crate::aggregators::RuleKind::OrderStatistic)
        })
        .collect();
    if names.is_empty() {
        return Ok(rows);
    }
    for &m in &plan.sweep.ms {
        let (b, q) = plan.bq(m);
        let x = MatrixView::new(&data[..m * d], m, d)?;
        let rules = names
            .iter()
            .map(|r| plan.build(r, m))
            .collect::<Result<Vec<_>, _>>()?;
        let out = RefCell::new(vec![T::default(); d]);
        let mut calls: Vec<Call<'_>> = Vec::new();
        let mut tags = Vec::new();
        for (variant, limit) in [("network", usize::MAX), ("selection", 0)] {
            for r in &rules {
                let mut ws = Workspace::new().with_network_limit(limit);
                let out = &out;
                calls.push(Box::new(move || {
                    r.aggregate_into(x, &mut ws, &mut out.borrow_mut())
                }));
                tags.push((variant, r.name().to_string(), r.label()));
            }
        }
        let timings = time_round_robin(&mut calls, plan.sweep.reps, plan.sweep.min_sample)?;
        for ((variant, rule, label), timing) in tags.into_iter().zip(timings) {
            rows.push(Variant {
                kind: "path",
                variant: variant.into(),
                at: Measurement {
                    rule,
                    label,
                    dtype: T::DTYPE,
                    m,
                    d,
                    b,
                    q,
                    timing,
                },
            });
        }
    }
    Ok(rows)
}

/// Everything measured by one run.
#[derive(Clone, Debug, Default)]
pub struct Results {
    /// The sweep.
    pub rows: Vec<Measurement>,
    /// Instruction-set and kernel-path comparisons.
    pub variants: Vec<Variant>,
    /// Conditions of the run, printed above the tables (threads, instruction set, load).
    pub conditions: String,
    /// Krum's floating-point limit at the run's level: subtract + FMA steps per second in
    /// the register grids' mix ([`crate::aggregators::pair_step_rate`]), measured when Krum
    /// or Multi-Krum is benchmarked on a level that has their kernels.
    pub fma_rate: Option<f64>,
}

/// The 1-minute load average (Linux), for the record: other processes on the machine slow the
/// timings down, most of all the compute-bound ones.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn run_dtype<T: BenchScalar>(
    plan: &Plan,
    compare: bool,
    seed: u64,
    res: &mut Results,
) -> Result<(), Error> {
    let t0 = Instant::now();
    let data: Vec<T> = normal_values(plan.sweep.max_len(), seed);
    eprintln!(
        "{}: {} values ({:.2} GB) generated in {:.1} s",
        T::DTYPE.name(),
        data.len(),
        (data.len() * T::DTYPE.size()) as f64 / 1e9,
        t0.elapsed().as_secs_f64()
    );
    let mut log = |s: &str| eprintln!("{s}");
    res.rows.extend(measure_sweep(plan, &data, &mut log)?);
    if compare {
        let t = Instant::now();
        res.variants
            .extend(compare_isas(plan, &data, plan.sweep.headline())?);
        res.variants.extend(compare_paths(plan, &data)?);
        eprintln!(
            "  {} comparisons: {:.1} s",
            T::DTYPE.name(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Estimated peak memory and work (see [`crate::budget`]) with `calls` timed calls
/// (rules x dtypes) a point: the largest point's inputs in both dtypes and outputs, and
/// the samples kept (8 bytes each); a call reads m x d values at least. `at` says the
/// sizes come from --at.
fn estimate(plan: &Plan, calls: usize, at: bool) -> crate::budget::Estimate {
    let mut e = crate::budget::Estimate::default();
    let name = |m: usize, d: usize| {
        if at {
            format!("--at {m}x{d}")
        } else {
            format!("the point m = {m}, d = {d}")
        }
    };
    let mut points = plan.sweep.points();
    points.push((plan.sweep.m_for_d, plan.sweep.compare_d));
    let calls = (calls * plan.rules.len()) as f64;
    let reps = plan.sweep.reps as f64;
    let mut peak: Option<(f64, usize, usize)> = None;
    for &(m, d) in &points {
        let md = m as f64 * d as f64;
        let bytes = 12.0 * md + 24.0 * d as f64;
        if peak.is_none_or(|(p, _, _)| crate::budget::exceeds(bytes, p)) {
            peak = Some((bytes, m, d));
        }
        e.work(reps * calls * md, || name(m, d));
    }
    if let Some((bytes, m, d)) = peak {
        e.memory(bytes, || name(m, d));
    }
    e.memory(8.0 * reps * calls * points.len() as f64, || {
        format!("--reps {}", plan.sweep.reps)
    });
    e
}

/// `phocas bench-scaling`.
pub fn run(args: &BenchOptions) -> Result<(), Error> {
    let started = Instant::now();
    let mut sweep = if args.quick {
        Sweep::quick()
    } else {
        Sweep::full()
    };
    if let Some((m, d)) = args.at {
        sweep.ms = vec![m];
        sweep.large_ms = Vec::new();
        sweep.d_for_m = d;
        sweep.ds = vec![d];
        sweep.m_for_d = m;
        sweep.compare_d = d;
    }
    if let Some(r) = args.reps {
        if r == 0 {
            return Err(Error::Invalid(
                "--reps 0: at least one timed sample is needed".into(),
            ));
        }
        sweep.reps = r;
    }
    let rules: Vec<String> = if args.rules.is_empty() {
        REGISTRY.iter().map(|r| r.name.to_string()).collect()
    } else {
        args.rules.clone()
    };
    if !rules.iter().any(|r| r == "mean") {
        return Err(Error::Invalid(
            "--rules must include mean: every time is reported as a multiple of Mean's".into(),
        ));
    }
    let plan = Plan {
        sweep,
        rules,
        b: args.b,
        q: args.q,
    };
    // Check every rule at every m before spending minutes on data.
    let ms = plan.sweep.m_points().into_iter().map(|p| p.0);
    for m in ms.chain([plan.sweep.m_for_d]) {
        for r in &plan.rules {
            plan.build(r, m)?;
        }
    }
    let mut dtypes = args.dtypes.clone();
    dtypes.sort();
    dtypes.dedup();
    crate::budget::check(
        "bench-scaling",
        &estimate(&plan, dtypes.len().max(1), args.at.is_some()),
        "give a smaller --at MxD or fewer --reps",
    )?;
    let config = format!(
        "quick = {}\nrules = {:?}\ndtypes = {:?}\nms = {:?}\nd_for_m = {}\nlarge_ms = {:?}\nds = {:?}\nm_for_d = {}\nreps = {}\nmin_sample_ms = {}\nb = \"{}\"\nq = \"{}\"\nisa = \"{}\"\nnetwork_max_m = {}\n",
        args.quick,
        plan.rules,
        dtypes.iter().map(|d| d.name()).collect::<Vec<_>>(),
        plan.sweep.ms,
        plan.sweep.d_for_m,
        plan.sweep.large_ms,
        plan.sweep.ds,
        plan.sweep.m_for_d,
        plan.sweep.reps,
        plan.sweep.min_sample.as_millis(),
        args.b.map_or("floor((m-1)/4)".into(), |b| b.to_string()),
        args.q.map_or("floor((m-1)/4), at most the rule's largest".into(), |q| q.to_string()),
        Level::default(),
        NETWORK_MAX_M,
    );
    let manifest = Manifest::start("bench-scaling", config.clone(), args.seed);
    // The folder is locked before the timing starts, so a second run on the same --out stops
    // at once instead of overwriting this one's tables (or timing on a machine this one uses).
    let out = crate::outdir::resolve(
        args.out.as_deref(),
        "bench-scaling",
        if args.quick { "quick" } else { "full" },
        &config,
    );
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let _lock = crate::run::lock(&out)?;
    eprintln!(
        "bench-scaling{}: {} rules, {} points per storage type, {} threads, isa {} (detected {}), {} samples of >= {} ms",
        if args.quick { " --quick" } else { "" },
        plan.rules.len(),
        plan.sweep.points().len(),
        rayon::current_num_threads(),
        Level::default(),
        detected_isa(),
        plan.sweep.reps,
        plan.sweep.min_sample.as_millis()
    );
    let mut res = Results::default();
    let load0 = load_average();
    for dt in &dtypes {
        match dt {
            Dtype::F32 => run_dtype::<f32>(&plan, !args.no_compare, args.seed, &mut res)?,
            Dtype::F64 => run_dtype::<f64>(&plan, !args.no_compare, args.seed, &mut res)?,
        }
    }
    let pair_floor = |r: &String| info(r).is_some_and(|i| i.pair_distance_floor());
    if plan.rules.iter().any(pair_floor) {
        res.fma_rate = pair_step_rate(Level::default(), StepMix::Grid, 0.2, 3);
    }
    let fmt_load = |l: Option<f64>| l.map_or("?".into(), |l| format!("{l:.2}"));
    res.conditions = format!(
        "{} threads on {} cores, instruction set {} (detected {}), sorting networks up to m = {}; 1-minute load average {} at the start, {} at the end",
        rayon::current_num_threads(),
        std::thread::available_parallelism().map_or(1, usize::from),
        Level::default(),
        detected_isa(),
        NETWORK_MAX_M,
        fmt_load(load0),
        fmt_load(load_average()),
    );
    if let Some(r) = res.fma_rate {
        let _ = write!(
            res.conditions,
            "; the pair distances' FMA floor {r:.3e} pair-coordinates per second (m (m - 1) / 2 d / rate)"
        );
    }
    let report = output::Report::new(&plan.sweep, &res);
    let mut manifest = manifest;
    for (name, rows) in report.write_tables(&out)? {
        manifest.rows.insert(name, rows);
    }
    if !args.no_charts {
        report.write_charts(&out)?;
    }
    manifest.finish(&out)?;
    let console = report.console();
    crate::fsutil::write_atomic(&out.join("console.txt"), format!("{console}\n").as_bytes())?;
    println!("{console}");
    println!(
        "wall time {:.1} s; tables: {dir}/scaling.csv, slopes.csv, local_slopes.csv, compare.csv (+ .parquet); chart: {dir}/scaling.svg, .png; this summary: {dir}/console.txt",
        started.elapsed().as_secs_f64(),
        dir = out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_cover_the_issue() {
        let f = Sweep::full();
        assert_eq!(f.points().len(), 12);
        assert_eq!(f.max_len(), 200_000_000);
        let m = f.m_points();
        assert_eq!(m[m.len() - 2..], [(500, 400_000), (1000, 200_000)]);
        assert_eq!(f.headline(), (20, 1_000_000));
        assert_eq!(Sweep::quick().headline(), (20, 1_000_000));
    }

    #[test]
    fn default_trim_table() {
        for (m, t) in [(1, 0), (5, 1), (10, 2), (20, 4), (50, 12), (200, 49)] {
            assert_eq!(default_trim(m), t, "m = {m}");
        }
    }

    #[test]
    fn builds_every_registered_rule_with_the_right_parameters() {
        for info in REGISTRY {
            let r = build_rule(info.name, 20, 4, 4).unwrap();
            assert_eq!(r.name(), info.name);
        }
        assert!(build_rule("trmean", 20, 4, 4)
            .unwrap()
            .label()
            .contains("b=4"));
        let e = build_rule("trmean", 5, 3, 1).err().unwrap().to_string();
        assert!(e.contains("b = 3 is too large"), "{e}");
    }

    #[test]
    fn probe_and_generator_do_not_depend_on_threads() {
        let a: Vec<f32> = normal_values(300_000, 9);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b: Vec<f32> = pool.install(|| normal_values(300_000, 9));
        assert_eq!(a, b);
        let sa = read_probe(Level::default(), &a);
        let sb = pool.install(|| read_probe(Level::default(), &b));
        assert_eq!(sa, sb);
        assert_ne!(sa, 0);
    }

    #[test]
    fn a_tiny_run_writes_every_output() {
        let dir = tempfile::tempdir().unwrap();
        let args = BenchOptions {
            quick: true,
            out: Some(dir.path().to_path_buf()),
            b: None,
            q: None,
            rules: vec![],
            dtypes: vec![Dtype::F64, Dtype::F32],
            reps: Some(1),
            seed: 1,
            at: Some((5, 2000)),
            no_compare: false,
            no_charts: false,
        };
        run(&args).unwrap();
        for f in [
            "scaling.csv",
            "scaling.parquet",
            "slopes.csv",
            "local_slopes.csv",
            "compare.csv",
            "scaling.svg",
            "scaling.png",
            "manifest.json",
        ] {
            assert!(dir.path().join(f).exists(), "{f} missing");
        }
        let df = crate::report::read_parquet(&dir.path().join("scaling.parquet")).unwrap();
        assert_eq!(df.height(), 2 * (1 + REGISTRY.len()));
    }

    #[test]
    fn points_parse() {
        assert_eq!(parse_point("20x1000000"), Ok((20, 1_000_000)));
        assert_eq!(parse_point("20x1e6"), Ok((20, 1_000_000)));
        assert!(parse_point("0x10").is_err() && parse_point("20").is_err());
    }

    #[test]
    fn median_table() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}

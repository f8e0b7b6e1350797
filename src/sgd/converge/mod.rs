//! Convergence experiments (`phocas converge`): synchronous SGD on objectives with known
//! constants against Theorems 3 and 4.
//!
//! For each run (objective, L, kappa, rule, attack, corruption, q, b, step size) the simulator is
//! repeated R times for T rounds (a sweep may set its own R and T, and with `max_rounds` a run at
//! step factor f < 1 gets min(max_rounds, T / f) rounds). Theorem 3 (strongly convex,
//! gamma <= 2/(mu+L)): the mean distance E||x_t - x*|| with a 95% band against the statement as
//! printed, (1 - gamma c)^t ||x0 - x*|| + (mu+L)/(mu L) gamma sqrt(Delta) with c = mu L/(mu+L),
//! and as corrected, (1 - gamma c)^t ||x0 - x*|| + (mu+L)/(mu L) sqrt(Delta)
//! ([`bounds::theorem3_rhs_corrected`]: the proof's last step drops a factor 1/gamma), each with
//! Delta the rule's bound at the true V and with the aggregation error measured in the run
//! (mean of ||Aggr_t - grad F(x_t)||^2 over rounds and repeats). Theorem 4 (L-smooth,
//! gamma <= 1/L): the running mean over t < T of ||grad F(x_t)||^2 against 2/(gamma T)(F(x0) -
//! F*) + Delta, with its largest LHS/RHS over T. Verdicts: `holds` (upper band under the curve
//! at every t), `violated` (lower band above it somewhere), `inconclusive`; `n/a` when no Delta
//! is known; `premise fails` when the step size is beyond the theorem's limit (the run is still
//! recorded to show what happens there).
//!
//! With Delta_kappa ([`bounds::delta_kappa_heterogeneous`], from the rule's published (f, kappa)
//! constant at f = q, G^2 included) the corrected Theorem 3 and Theorem 4 are also checked as
//! heterogeneous bounds (`*_kappa_delta` columns).
//!
//! What the default config shows is summarised in README.md (the convergence section) from the
//! committed run in reports/convergence/, which `phocas report` regenerates.

mod config;
mod output;
mod result;
mod shards;

pub use config::*;
use output::*;
pub use result::*;
pub use shards::{is_converge_folder, merge_shards};

use super::{run, Buffers, Byzantine, DistanceToOptimum, GradientMetrics, Observer, SimSpec};
use crate::aggregators;
use crate::attacks::{self};
use crate::bounds;
use crate::error::Error;
use crate::models::Reading;
use crate::montecarlo::checkpoint::RunId;
use crate::objectives::double_well::DoubleWell;
use crate::objectives::quadratic::Quadratic;
use crate::objectives::Objective;
use crate::resume;
use crate::rng::hash_str;
use rayon::prelude::*;

use std::path::PathBuf;

/// Built-in default config.
pub const DEFAULT_CONFIG: &str = include_str!("../../../experiments/convergence.toml");
/// Built-in quick config.
pub const QUICK_CONFIG: &str = include_str!("../../../experiments/convergence-quick.toml");

/// Options of `phocas converge`.
#[derive(Debug, Clone)]
pub struct ConvergeOptions {
    /// Config (TOML). Default: the built-in experiments/convergence.toml.
    pub config: Option<PathBuf>,
    /// Reduced configuration, in seconds.
    pub quick: bool,
    /// Master seed, overriding the config.
    pub seed: Option<u64>,
    /// Output folder. Default: `runs/converge-<grid>-<hash of the settings>/`, one per setting
    /// (reports/ holds the committed runs of `phocas report`).
    pub out: Option<PathBuf>,
    /// Skip the charts.
    pub no_charts: bool,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Run only shard I of N of the runs (assigned by a stable hash of their key), e.g. one
    /// task of a Slurm job array; no tables are written, `phocas merge` on the N shards'
    /// folders writes the same tables as one unsharded run.
    pub shard: Option<crate::run::Shard>,
}

fn build_objective(cfg: &Config, s: &RunSpec) -> Result<Box<dyn DynObjective>, Error> {
    Ok(match s.objective.as_str() {
        "quadratic" => Box::new(Quadratic::new(
            cfg.d,
            s.l / s.kappa,
            s.l,
            &s.distribution,
            cfg.v,
            1,
            Reading::Mean,
        )?),
        _ => Box::new(DoubleWell::new(
            cfg.d,
            cfg.alpha,
            &s.distribution,
            cfg.v,
            1,
            Reading::Mean,
        )?),
    })
}

/// Object-safe wrapper so the experiment can hold either f64 objective.
trait DynObjective: Sync {
    fn run_repeat(
        &self,
        cfg: &Config,
        s: &RunSpec,
        gamma: f64,
        repeat: u64,
    ) -> Result<Repeat, Error>;
    fn constants(&self) -> (Option<f64>, f64, f64, Option<Vec<f64>>, f64);
}

impl<O: Objective<T = f64, Scratch = ()>> DynObjective for O {
    fn run_repeat(
        &self,
        cfg: &Config,
        s: &RunSpec,
        gamma: f64,
        repeat: u64,
    ) -> Result<Repeat, Error> {
        let m = cfg.m;
        let p = aggregators::RuleParams::for_rule(&s.rule, s.b, None);
        let rule = aggregators::build(&s.rule, &p, m)?;
        let corr = attacks::build_corruption(&s.corruption, &cfg.attack_params)?;
        let atk = attacks::build_attack(&s.attack, &cfg.attack_params)?;
        let spec = SimSpec {
            m,
            rounds: s.rounds,
            gamma,
            seed: cfg.seed,
            key: hash_str(&s.key()),
            repeat,
            parallel_workers: false,
            offsets: if s.g2 > 0.0 {
                // drawn once per run and repeat, from a stream of their own
                let mut rng =
                    crate::rng::stream(cfg.seed, hash_str(&format!("offsets/{}", s.key())), repeat);
                let mut delta = vec![0.0; m * self.dim()];
                crate::montecarlo::hetero::offsets(
                    s.shape,
                    s.g2,
                    m,
                    self.dim(),
                    &mut rng,
                    &mut delta,
                );
                delta
            } else {
                Vec::new()
            },
        };
        let mut x = vec![0.0; self.dim()];
        let mut buf = Buffers::new(self, m);
        let mut gm = GradientMetrics::new(self.dim(), s.rounds);
        let byz = Byzantine {
            corruption: corr.as_ref(),
            attack: atk.as_ref(),
            q: s.q,
        };
        // the distance is recorded only where the optimum is known
        let mut dist = self
            .optimum()
            .map(|xs| DistanceToOptimum::new(xs, s.rounds));
        let mut observers: Vec<&mut dyn Observer<Self>> = vec![&mut gm];
        if let Some(d) = dist.as_mut() {
            observers.push(d);
        }
        let out = run(
            self,
            rule.as_ref(),
            &byz,
            &spec,
            &mut x,
            &mut buf,
            &mut observers,
        )?;
        let dist = dist.map_or_else(Vec::new, |d| d.values);
        // diverged: the iterate overflowed, or its distance / gradient norm did
        let diverged = out.diverged_at.is_some()
            || dist.last().is_some_and(|v| !v.is_finite())
            || gm.grad_norm_sq.last().is_some_and(|v| !v.is_finite());
        Ok((
            dist,
            gm.grad_norm_sq,
            gm.agg_error,
            diverged,
            out.total_seconds,
        ))
    }
    fn constants(&self) -> (Option<f64>, f64, f64, Option<Vec<f64>>, f64) {
        let x0 = vec![0.0; self.dim()];
        let gap0 = self.value(&x0, &mut ()) - self.min_value().unwrap_or(0.0);
        (
            self.strong_convexity(),
            self.smoothness().unwrap_or(f64::NAN),
            self.noise_variance().unwrap_or(f64::NAN),
            self.optimum().map(<[f64]>::to_vec),
            gap0,
        )
    }
}

/// One repeat's output: distance to x*, ||grad F||^2 and aggregation error per round,
/// whether it diverged, seconds.
type Repeat = (Vec<f64>, Vec<f64>, Vec<f64>, bool, f64);

/// What the R repeats of one spec measured (the expensive part of a run; checkpointed).
struct Measured {
    secs: f64,
    diverged: usize,
    dist: Vec<(f64, f64, f64)>,
    grad_running: Vec<(f64, f64, f64)>,
    delta_measured: f64,
}

impl Measured {
    fn to_record(&self) -> resume::Record {
        let split = |b: &[(f64, f64, f64)]| -> [Vec<f64>; 3] {
            [
                b.iter().map(|x| x.0).collect(),
                b.iter().map(|x| x.1).collect(),
                b.iter().map(|x| x.2).collect(),
            ]
        };
        let mut f = vec![vec![self.secs, self.diverged as f64, self.delta_measured]];
        f.extend(split(&self.dist));
        f.extend(split(&self.grad_running));
        f
    }
    fn from_record(f: &resume::Record) -> Option<Self> {
        if f.len() != 7 || f[0].len() != 3 {
            return None;
        }
        let join = |a: &[f64], b: &[f64], c: &[f64]| -> Option<Vec<(f64, f64, f64)>> {
            (a.len() == b.len() && b.len() == c.len())
                .then(|| (0..a.len()).map(|i| (a[i], b[i], c[i])).collect())
        };
        Some(Self {
            secs: f[0][0],
            diverged: f[0][1] as usize,
            delta_measured: f[0][2],
            dist: join(&f[1], &f[2], &f[3])?,
            grad_running: join(&f[4], &f[5], &f[6])?,
        })
    }
}

/// Runs the R repeats of a spec (in parallel; deterministic) and summarises them.
fn measure(
    cfg: &Config,
    s: &RunSpec,
    obj: &dyn DynObjective,
    gamma: f64,
) -> Result<Measured, Error> {
    let reps: Vec<Repeat> = (0..s.repeats as u64)
        .into_par_iter()
        .map(|r| obj.run_repeat(cfg, s, gamma, r))
        .collect::<Result<_, _>>()?;
    let secs: f64 = reps.iter().map(|r| r.4).sum();
    let diverged = reps.iter().filter(|r| r.3).count();
    let dist = band(&reps.iter().map(|r| r.0.clone()).collect::<Vec<_>>());
    let running: Vec<Vec<f64>> = reps
        .iter()
        .map(|r| {
            let mut acc = 0.0;
            r.1[..s.rounds]
                .iter()
                .enumerate()
                .map(|(t, g)| {
                    acc += g;
                    acc / (t + 1) as f64
                })
                .collect()
        })
        .collect();
    let grad_running = band(&running);
    let mut w = crate::montecarlo::stats::Welford::default();
    let mut finite = true;
    for r in &reps {
        for &e in &r.2 {
            finite &= e.is_finite();
            w.push(e);
        }
    }
    let delta_measured = if finite { w.mean() } else { f64::INFINITY };
    Ok(Measured {
        secs,
        diverged,
        dist,
        grad_running,
        delta_measured,
    })
}

/// Runs one spec with R repeats (in parallel; deterministic). With a `log`, finished repeats
/// are taken from it and new ones appended to it (see [`crate::resume`]).
pub fn run_spec(cfg: &Config, s: &RunSpec, log: Option<&resume::Log>) -> Result<RunResult, Error> {
    let obj = build_objective(cfg, s)?;
    let (mu, l, v, x_star, gap0) = obj.constants();
    let limit = match mu {
        Some(mu) => 2.0 / (mu + l),
        None => 1.0 / l,
    };
    let gamma = s.gamma_factor * limit;
    let key = s.key();
    let saved = log.and_then(|l| l.get(&key));
    let reused = saved.is_some();
    let measured = match saved {
        Some(rec) => Measured::from_record(rec).ok_or_else(|| {
            Error::Invalid(format!(
                "the checkpoint record of {key} is malformed: delete the folder and run again"
            ))
        })?,
        None => {
            let m = measure(cfg, s, obj.as_ref(), gamma)?;
            if let Some(l) = log {
                l.append(&key, &m.to_record())?;
            }
            m
        }
    };
    let Measured {
        secs,
        diverged,
        dist,
        grad_running,
        delta_measured,
    } = measured;
    let corruption = attacks::build_corruption(&s.corruption, &cfg.attack_params)?;
    let whole_rows = corruption.whole_rows();
    // no Byzantine value at all: no attack, or q = 0 in a model that q bounds
    let clean = s.attack == "none" || (s.q == 0 && !corruption.ignores_q());
    let info = aggregators::info(&s.rule);
    let rb = info.map_or(bounds::RuleBound::None, |i| i.bound);
    let (_, bound) = bounds::rule_bound(rb, &s.corruption, whole_rows, cfg.m, s.q, s.b);
    let (delta_bound, delta_note) = match bound {
        Ok(b) => (Some(b * v), "paper's bound at the true V".to_string()),
        Err(_) if s.rule == "mean" && clean => (
            Some(v / cfg.m as f64),
            "exact V/m (Mean, no Byzantine values)".to_string(),
        ),
        Err(e) => (None, e),
    };
    // the heterogeneous bound from the rule's published kappa at f = q (Byzantine values in
    // whole rows, or none; the rule's own parameter at q)
    let (delta_kappa, kappa_note) = match info {
        _ if !(whole_rows || clean) => (None, "Byzantine values not in whole rows"),
        Some(i) if i.param.takes_param() && s.b != Some(s.q) => {
            (None, "the rule's parameter is not q")
        }
        Some(i) => match bounds::kappa_published(i.kappa, false, cfg.m, s.q)
            .and_then(|k| bounds::delta_kappa_heterogeneous(k, cfg.m, s.q, v, s.g2))
        {
            Some(dk) => (Some(dk), ""),
            None => (None, "no published kappa at f = q"),
        },
        None => (None, "no published kappa at f = q"),
    };
    let dist0 = x_star
        .as_ref()
        .map_or(f64::NAN, |x| x.iter().map(|v| v * v).sum::<f64>().sqrt());
    let label = aggregators::build(
        &s.rule,
        &aggregators::RuleParams::for_rule(&s.rule, s.b, None),
        cfg.m,
    )?
    .label();
    let na = |why: &str| (why.to_string(), f64::NAN);
    let both = |delta_bound: Option<f64>, f: &dyn Fn(f64) -> (String, f64)| Check {
        bound: delta_bound.map_or_else(|| na("n/a (no Delta)"), f),
        measured: f(delta_measured),
        kappa: delta_kappa.map_or_else(|| na(&format!("n/a ({kappa_note})")), f),
    };
    let (thm3, thm3_corrected) = match mu {
        None => {
            let c = || Check {
                bound: na("n/a (not strongly convex)"),
                measured: na("n/a (not strongly convex)"),
                kappa: na("n/a (not strongly convex)"),
            };
            (c(), c())
        }
        Some(mu) => {
            let premise = bounds::theorem3_condition(mu, l, gamma).is_ok();
            type Rhs = fn(f64, f64, f64, usize, f64, f64) -> f64;
            let check = |rhs: Rhs| {
                let f = |delta: f64| {
                    let curve: Vec<f64> = (0..=s.rounds)
                        .map(|t| rhs(mu, l, gamma, t, dist0, delta))
                        .collect();
                    assess(&dist, &curve, premise, true)
                };
                both(delta_bound, &f)
            };
            (
                check(bounds::theorem3_rhs),
                check(bounds::theorem3_rhs_corrected),
            )
        }
    };
    let thm4 = {
        let premise = bounds::theorem4_condition(l, gamma).is_ok();
        let f = |delta: f64| {
            let curve: Vec<f64> = (1..=s.rounds)
                .map(|t| bounds::theorem4_rhs(gamma, t, gap0, delta))
                .collect();
            assess(&grad_running, &curve, premise, false)
        };
        both(delta_bound, &f)
    };
    Ok(RunResult {
        reused,
        spec: s.clone(),
        label,
        mu: mu.unwrap_or(f64::NAN),
        l,
        gamma,
        v,
        delta_bound,
        delta_note,
        delta_measured,
        delta_kappa,
        dist,
        grad_running,
        gap0,
        dist0,
        thm3,
        thm3_corrected,
        thm4,
        diverged,
        rounds_per_sec: (s.repeats * s.rounds) as f64 / secs.max(1e-12),
    })
}

/// Estimated peak memory and work of `specs` (see [`crate::budget`]): each run keeps about
/// 48 bytes a round and repeat (its distance curves and checks), a run in progress holds a
/// few m x d matrices per thread, and a round samples and aggregates m x d values.
fn estimate(cfg: &Config, specs: &[RunSpec]) -> crate::budget::Estimate {
    let mut e = crate::budget::Estimate::default();
    let (m, d) = (cfg.m as f64, cfg.d as f64);
    let threads = rayon::current_num_threads() as f64;
    e.memory(threads * 32.0 * m * d, || {
        format!("m = {} with d = {}", cfg.m, cfg.d)
    });
    for s in specs {
        let rr = s.repeats as f64 * s.rounds as f64;
        let name = || {
            format!(
                "sweep '{}' with rounds = {} and repeats = {} (m = {}, d = {})",
                s.sweep, s.rounds, s.repeats, cfg.m, cfg.d
            )
        };
        e.memory(48.0 * rr, name);
        e.work(rr * m * d, name);
    }
    e
}

/// `phocas converge`.
pub fn run_cli(args: &ConvergeOptions) -> Result<(), Error> {
    let text = match (&args.config, args.quick) {
        (Some(p), _) => std::fs::read_to_string(p).map_err(|e| Error::Config {
            key: p.display().to_string(),
            msg: format!("{e}: pass an existing TOML file to --config, or omit it"),
        })?,
        (None, true) => QUICK_CONFIG.to_string(),
        (None, false) => DEFAULT_CONFIG.to_string(),
    };
    let mut cfg = Config::parse(&text).map_err(|e| match &args.config {
        Some(p) => crate::montecarlo::config::in_file(e, p),
        None => e,
    })?;
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    let mut specs = cfg.runs();
    if let Some(s) = args.shard {
        specs.retain(|r| s.owns(&r.key()));
    }
    crate::budget::check(
        "converge",
        &estimate(&cfg, &specs),
        "lower m, d, rounds or repeats",
    )?;
    let (rmin, rmax) = specs.iter().fold((usize::MAX, 0), |(a, b), s| {
        (a.min(s.rounds), b.max(s.rounds))
    });
    let rmin = rmin.min(rmax); // no run (a shard that owns none): 0..=0
    eprintln!(
        "converge: {} runs x {} repeat-rounds ({}..={} rounds per run), m = {}, d = {}, seed {}",
        specs.len(),
        specs.iter().map(|s| s.repeats * s.rounds).sum::<usize>(),
        rmin,
        rmax,
        cfg.m,
        cfg.d,
        cfg.seed
    );
    let id = RunId {
        command: "converge".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        config: text.clone(),
        seed: cfg.seed,
        trials: None,
        shard: args.shard,
        options: String::new(),
    };
    // the shard is part of the default folder's name: each shard gets its own
    let out = crate::outdir::resolve(
        args.out.as_deref(),
        "converge",
        &crate::outdir::grid_label(args.config.as_deref(), args.quick),
        &format!(
            "{}{}",
            id.fingerprint(),
            args.shard
                .map_or(String::new(), |s| format!("\u{1f}{}/{}", s.index, s.count))
        ),
    );
    let log = resume::Log::open(&out, &id, &[resume::LOG])?;
    if !log.is_empty() {
        eprintln!(
            "converge: resuming: {} runs already finished in {}",
            log.len(),
            log.path().display()
        );
    }
    let shown = Shown {
        quiet: args.quiet,
        no_charts: args.no_charts,
    };
    run_all(&cfg, text, &specs, &log, &out, shown, args.shard)
}

/// What a run shows and writes beside its tables.
#[derive(Clone, Copy)]
pub(crate) struct Shown {
    pub(crate) quiet: bool,
    pub(crate) no_charts: bool,
}

/// Runs (or reuses from `log`) every spec, then writes the tables, charts, manifest and
/// summary into `out`; a shard (`--shard I/N`) writes no tables (the merge does).
pub(crate) fn run_all(
    cfg: &Config,
    text: String,
    specs: &[RunSpec],
    log: &resume::Log,
    out: &std::path::Path,
    shown: Shown,
    shard: Option<crate::run::Shard>,
) -> Result<(), Error> {
    let Shown { quiet, no_charts } = shown;
    crate::interrupt::install();
    let manifest = crate::report::manifest::Manifest::start("converge", text, cfg.seed);
    let wrote = move |out: &std::path::Path| {
        format!(
            "tables: {}/runs.csv, rounds.csv (+ .parquet){}",
            out.display(),
            if no_charts {
                String::new()
            } else {
                format!(
                    "; charts: {}/*-theorem3*.png, *-theorem4*.png (+ .svg)",
                    out.display()
                )
            }
        )
    };
    let pb = crate::report::progress_bar(specs.len(), "runs", quiet);
    let t0 = std::time::Instant::now();
    let mut results = Vec::with_capacity(specs.len());
    for s in specs {
        pb.set_message(s.key());
        match run_spec(cfg, s, Some(log)) {
            Err(Error::Interrupted(_)) => {
                pb.abandon();
                return Err(resume::interrupted(
                    results.len(),
                    specs.len(),
                    "runs",
                    log.path(),
                ));
            }
            r => results.push(r?),
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    if let Some(s) = shard {
        println!(
            "shard {}/{} finished: {} runs in {}; once every shard has, `phocas merge` on the {} shards' folders writes the tables",
            s.index,
            s.count,
            results.len(),
            out.display(),
            s.count
        );
        return Ok(());
    }
    let secs = t0.elapsed().as_secs_f64();
    let rows = write_tables(&results, cfg, out)?;
    if !no_charts {
        write_charts(&results, out)?;
    }
    let mut manifest = manifest;
    manifest.rows.insert("runs".into(), results.len());
    manifest.rows.insert("rounds".into(), rows);
    manifest.finish(out)?;
    println!("{}", summary(&results, secs, cfg));
    println!("{}", wrote(out));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
repeats = 4
rounds = 100
m = 10
d = 3

[[sweep]]
name = "a"
objective = "quadratic"
kappa = [10.0]
lipschitz = [1.0, 4.0]
rules = ["mean"]
attacks = ["none"]
q = [0]
gamma = [0.01, 0.1, 1.0, 1.5]
max_rounds = 5000
repeats = 3

[[sweep]]
name = "b"
objective = "double-well"
l = [7.0]
rules = ["mean"]
attacks = ["none"]
q = [0]
gamma = [0.01]
rounds = 50
"#;

    #[test]
    fn rounds_scale_with_the_step_and_l_is_a_parameter() {
        let c = Config::parse(CFG).unwrap();
        let runs = c.runs();
        assert_eq!(runs.len(), 9);
        let got: Vec<(f64, f64, usize, usize)> = runs
            .iter()
            .map(|r| (r.l, r.gamma_factor, r.rounds, r.repeats))
            .collect();
        assert_eq!(
            &got[..4],
            &[
                (1.0, 0.01, 5000, 3),
                (1.0, 0.1, 1000, 3),
                (1.0, 1.0, 100, 3),
                (1.0, 1.5, 100, 3)
            ]
        );
        assert_eq!(got[4], (4.0, 0.01, 5000, 3));
        // the double well ignores l and has no max_rounds: fixed rounds, the config's repeats
        assert_eq!(got[8], (1.0, 0.01, 50, 4));
        // keys: L only when it is not 1 (runs with L = 1 keep their random streams)
        assert!(!runs[0].key().contains("L="));
        assert!(runs[4].key().contains("kappa=10;L=4;"), "{}", runs[4].key());
        let bad = CFG.replace("max_rounds = 5000", "max_rounds = 50");
        assert!(Config::parse(&bad).is_err());
        assert!(Config::parse(&CFG.replace("lipschitz = [1.0, 4.0]", "l = [0.0]")).is_err());
    }

    /// Delta_kappa applies where the published kappa covers the run (whole Byzantine rows or
    /// none, the rule's parameter at q) and nowhere else, each with its reason; the shard
    /// pattern at q = 0 still corrupts values.
    #[test]
    fn delta_kappa_applies_only_where_the_published_kappa_covers_the_run() {
        let cfg = Config::parse(
            r#"
repeats = 2
rounds = 20
m = 10
d = 3

[[sweep]]
name = "k"
objective = "quadratic"
kappa = [10.0]
rules = ["median", "trmean", "phocas"]
attacks = ["none", "gaussian"]
corruptions = ["classic", "generalized"]
q = [2]
b = [2, 3]
gamma = [0.5]
g2 = [0.0, 4.0]
shape = "clusters"

[[sweep]]
name = "s"
objective = "quadratic"
kappa = [10.0]
rules = ["median"]
attacks = ["gambler"]
corruptions = ["shard", "classic"]
q = [0]
gamma = [0.5]
"#,
        )
        .unwrap();
        for s in cfg.runs() {
            let r = run_spec(&cfg, &s, None).unwrap();
            let note = &r.thm3_corrected.kappa.0;
            let rows = s.corruption == "classic" || s.attack == "none";
            let at_q = s.rule == "median" || s.b == Some(s.q);
            let expect = match () {
                _ if !rows => Some("n/a (Byzantine values not in whole rows)"),
                _ if s.rule == "phocas" && at_q => Some("n/a (no published kappa at f = q)"),
                _ if !at_q => Some("n/a (the rule's parameter is not q)"),
                _ => None,
            };
            assert_eq!(r.delta_kappa.is_some(), expect.is_none(), "{}", s.key());
            if let Some(e) = expect {
                assert_eq!(note, e, "{}", s.key());
            } else {
                let k = bounds::kappa_published(
                    aggregators::info(&s.rule).unwrap().kappa,
                    false,
                    10,
                    s.q,
                )
                .unwrap();
                let want = bounds::delta_kappa_heterogeneous(k, 10, s.q, r.v, s.g2);
                assert_eq!(r.delta_kappa, want, "{}", s.key());
            }
        }
    }

    #[test]
    fn the_objective_gets_mu_and_l() {
        let c = Config::parse(CFG).unwrap();
        let r = &c.runs()[4];
        let (mu, l, ..) = build_objective(&c, r).unwrap().constants();
        assert_eq!((mu, l), (Some(0.4), 4.0));
    }

    #[test]
    fn assess_ratio_and_premise() {
        let band = [(1.0, 0.9, 1.1), (2.0, 1.5, 2.5)];
        let (v, r) = assess(&band, &[2.0, 4.0], true, false);
        assert_eq!((v.as_str(), r), ("holds", 0.5));
        let (v, r) = assess(&band, &[2.0, 1.0], false, false);
        assert_eq!((v.as_str(), r), ("premise fails (violated)", 2.0));
        let (_, r) = assess(&band, &[0.5, 4.0], true, true);
        assert_eq!(r, 0.5);
        assert_eq!(short("premise fails (inconclusive)"), "(inconcl.)");
    }
}

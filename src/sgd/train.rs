//! MLP experiments (`phocas train`, `phocas reproduce`): the paper's section 5 on any
//! MNIST-format data set (Fashion-MNIST by default), with the same simulator as the quadratic.
//!
//! A run trains the Table 2 MLP with m workers, each computing the gradient of a batch drawn
//! i.i.d. from the training set; the corruption model and attack replace what the server
//! receives; the server aggregates and steps with gamma. Top-1 test accuracy is evaluated every
//! `eval_every` rounds. With `theorem4`, each round also records ||grad F(x_t)||^2 and F(x_t) on a
//! fixed evaluation subset, the variance V estimated from the correct workers' values, the
//! aggregation error ||Aggr - grad F||^2, and every `l_every` rounds an estimate of the
//! smoothness L along the trajectory (power iteration on finite-difference Hessian-vector
//! products), so Theorem 4's premise gamma <= 1/L and its two sides can be reported.

use super::{run, Buffers, Byzantine, Observer, Round, SimSpec};
use crate::aggregators::{self, RuleParams};
use crate::attacks::{self, AttackParams};
use crate::data::{self, Dataset};
use crate::error::Error;
use crate::montecarlo::checkpoint::RunId;
use crate::objectives::mlp::Mlp;
use crate::objectives::mlp_task::{MlpTask, TaskScratch};
use crate::objectives::Objective;
use crate::report::chart::{self, LineChart, Panel, Series};
use crate::report::{write_table, TableBuilder};
use crate::resume;
use crate::rng::{hash_str, stream};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One training configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Label in tables and legends.
    pub label: String,
    /// Rule (registry name); `mean` with `clean = true` is "Mean without Byzantine".
    pub rule: String,
    /// Rule parameter: b (trmean, phocas) or assumed q (krum, multikrum).
    #[serde(default)]
    pub b: Option<usize>,
    /// Multi-Krum's k.
    #[serde(default)]
    pub k: Option<usize>,
    /// Attack.
    pub attack: String,
    /// Corruption model.
    pub corruption: String,
    /// Byzantine values per coordinate (or rows).
    pub q: usize,
    /// Drop the Byzantine workers instead of attacking (Mean without Byzantine).
    #[serde(default)]
    pub clean: bool,
    /// Batch size per worker.
    pub batch: usize,
    /// Step size.
    pub lr: f64,
    /// Dirichlet(alpha) split of the training set over the workers by label
    /// ([`crate::data::split`]); `None`: every worker samples the whole set (i.i.d.).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirichlet: Option<f64>,
    /// Nearest-Neighbour Mixing with this f before the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nnm: Option<usize>,
    /// Bucketing with buckets of this size before the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<usize>,
}

impl RunConfig {
    /// The text a run's random streams are keyed by. Written out field by field, so renaming
    /// or reordering a field of the struct cannot change a seed; it spells the bytes the
    /// derived `Debug` gave before (version 0.1), so the committed MLP runs keep their streams.
    pub fn seed_text(&self) -> String {
        let opt = |v: Option<usize>| v.map_or("None".to_string(), |v| format!("Some({v})"));
        let q = |s: &str| format!("\"{}\"", s.escape_debug());
        format!(
            "RunConfig {{ label: {}, rule: {}, b: {}, k: {}, attack: {}, corruption: {}, q: {}, clean: {}, batch: {}, lr: {:?} }}",
            q(&self.label),
            q(&self.rule),
            opt(self.b),
            opt(self.k),
            q(&self.attack),
            q(&self.corruption),
            self.q,
            self.clean,
            self.batch,
            // a float's `{:?}` is std's shortest round-trip text, not a derived format
            self.lr
        ) + &self.extra_seed_text()
    }

    /// The settings added after version 0.2, spelled only when set, so runs without them keep
    /// their streams: " (dirichlet: 0.1, nnm: 4)" or "".
    fn extra_seed_text(&self) -> String {
        let mut v = Vec::new();
        if let Some(a) = self.dirichlet {
            v.push(format!("dirichlet: {a:?}"));
        }
        if let Some(f) = self.nnm {
            v.push(format!("nnm: {f}"));
        }
        if let Some(s) = self.bucket {
            v.push(format!("bucket: {s}"));
        }
        if v.is_empty() {
            String::new()
        } else {
            format!(" ({})", v.join(", "))
        }
    }
}

/// Settings shared by the runs of an experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Common {
    /// Workers.
    pub m: usize,
    /// Rounds.
    pub rounds: usize,
    /// Repeats.
    pub repeats: usize,
    /// Evaluate test accuracy every k rounds.
    pub eval_every: usize,
    /// Master seed.
    pub seed: u64,
    /// Track Theorem 4's quantities.
    #[serde(default)]
    pub theorem4: bool,
    /// Size of the evaluation subset for Theorem 4.
    #[serde(default = "eval_size")]
    pub eval_size: usize,
    /// Estimate L every k rounds (Theorem 4).
    #[serde(default = "l_every")]
    pub l_every: usize,
    /// Attack parameters.
    #[serde(default)]
    pub attack_params: AttackParams,
}

fn eval_size() -> usize {
    512
}
fn l_every() -> usize {
    50
}

/// Test accuracy every k rounds.
struct Accuracy {
    every: usize,
    mlp: Mlp,
    test: Arc<Dataset>,
    rows: Vec<(usize, f64, f64)>,
}

impl Observer<MlpTask> for Accuracy {
    fn observe(&mut self, _o: &MlpTask, r: &Round<'_, f32>, _s: &mut TaskScratch) {
        if r.t.is_multiple_of(self.every) || r.agg.is_none() {
            let (loss, acc) = self.mlp.evaluate_par(r.x, &self.test);
            self.rows.push((r.t, loss, acc));
        }
    }
}

/// Theorem 4 quantities per round.
#[derive(Default)]
struct Theorem4 {
    l_every: usize,
    grad: Vec<f32>,
    v: Vec<f32>,
    xp: Vec<f32>,
    gp: Vec<f32>,
    gm: Vec<f32>,
    grad_sq: Vec<f64>,
    value: Vec<f64>,
    v_hat: Vec<f64>,
    agg_err: Vec<f64>,
    l_hat: Vec<(usize, f64)>,
}

impl Theorem4 {
    fn new(d: usize, l_every: usize) -> Self {
        Self {
            l_every: l_every.max(1),
            grad: vec![0.0; d],
            v: vec![0.0; d],
            xp: vec![0.0; d],
            gp: vec![0.0; d],
            gm: vec![0.0; d],
            ..Default::default()
        }
    }
    /// Largest |eigenvalue| of the Hessian of F at x by 8 power iterations on central-difference
    /// Hessian-vector products (step 1e-2 / ||v|| in parameter space).
    fn estimate_l(&mut self, o: &MlpTask, x: &[f32], s: &mut TaskScratch, t: usize) -> f64 {
        let d = x.len();
        let mut rng = stream(7, 11, t as u64);
        for v in self.v.iter_mut() {
            *v = rand_distr::Distribution::<f32>::sample(&rand_distr::StandardNormal, &mut rng);
        }
        let mut lambda = 0.0;
        for _ in 0..8 {
            let n: f64 = self
                .v
                .iter()
                .map(|v| f64::from(*v) * f64::from(*v))
                .sum::<f64>()
                .sqrt();
            if !(n > 0.0 && n.is_finite()) {
                return f64::NAN;
            }
            for v in self.v.iter_mut() {
                *v = (f64::from(*v) / n) as f32;
            }
            let h = 1e-2f32;
            for j in 0..d {
                self.xp[j] = x[j] + h * self.v[j];
            }
            o.full_grad(&self.xp, s, &mut self.gp);
            for j in 0..d {
                self.xp[j] = x[j] - h * self.v[j];
            }
            o.full_grad(&self.xp, s, &mut self.gm);
            let mut dot = 0.0;
            for j in 0..d {
                let hv = (self.gp[j] - self.gm[j]) / (2.0 * h);
                dot += f64::from(hv) * f64::from(self.v[j]);
                self.v[j] = hv;
            }
            lambda = dot.abs();
        }
        lambda
    }
}

impl Observer<MlpTask> for Theorem4 {
    fn observe(&mut self, o: &MlpTask, r: &Round<'_, f32>, s: &mut TaskScratch) {
        o.full_grad(r.x, s, &mut self.grad);
        let g2: f64 = self.grad.iter().map(|g| f64::from(*g).powi(2)).sum();
        self.grad_sq.push(g2);
        self.value.push(o.value(r.x, s));
        if let (Some(agg), Some((recv, mask))) = (r.agg, r.received) {
            let e: f64 = agg
                .iter()
                .zip(&self.grad)
                .map(|(a, g)| (f64::from(*a) - f64::from(*g)).powi(2))
                .sum();
            self.agg_err.push(e);
            // V from the correct values of each coordinate (unbiased per-coordinate variance)
            let d = agg.len();
            let m = recv.len() / d;
            let mut v = 0.0;
            for j in 0..d {
                let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
                for i in 0..m {
                    if !mask[i * d + j] {
                        let x = f64::from(recv[i * d + j]);
                        n += 1.0;
                        let dl = x - mean;
                        mean += dl / n;
                        m2 += dl * (x - mean);
                    }
                }
                if n > 1.0 {
                    v += m2 / (n - 1.0);
                }
            }
            self.v_hat.push(v);
        }
        if r.t.is_multiple_of(self.l_every) {
            let l = self.estimate_l(o, r.x, s, r.t);
            self.l_hat.push((r.t, l));
        }
    }
}

/// Lower end of the zoomed accuracy panels.
const ZOOM_FROM: f64 = 0.6;

/// Result of one training run (one repeat).
#[derive(Clone, Debug)]
pub struct TrainResult {
    /// The configuration.
    pub cfg: RunConfig,
    /// Repeat index.
    pub repeat: usize,
    /// (round, test loss, test accuracy).
    pub accuracy: Vec<(usize, f64, f64)>,
    /// Theorem 4 per-round quantities: (grad_sq, value, v_hat, agg_err) by round.
    pub theorem4: Option<(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<(usize, f64)>)>,
    /// Seconds in total and aggregating.
    pub seconds: (f64, f64),
    /// Round after which the parameters stopped being finite.
    pub diverged_at: Option<usize>,
}

/// Loaded data shared by runs.
pub struct Data {
    /// Training set.
    pub train: Arc<Dataset>,
    /// Test set.
    pub test: Arc<Dataset>,
}

/// Loads an MNIST-format directory.
pub fn load_data(dir: &Path) -> Result<Data, Error> {
    let d = data::load(dir)?;
    Ok(Data {
        train: Arc::new(d.train),
        test: Arc::new(d.test),
    })
}

/// Validates a run configuration against m.
pub fn validate(c: &RunConfig, common: &Common) -> Result<(), Error> {
    let bad = |k: &str, msg: String| {
        Err(Error::Config {
            key: format!("{} ({}).{k}", c.label, c.rule),
            msg,
        })
    };
    if c.batch == 0 {
        return bad("batch", "must be at least 1".into());
    }
    if !(c.lr.is_finite() && c.lr > 0.0) {
        return bad("lr", format!("{} must be finite and positive", c.lr));
    }
    if c.q > common.m {
        return bad("q", format!("q = {} exceeds m = {}", c.q, common.m));
    }
    if common.rounds == 0 || common.repeats == 0 || common.eval_every == 0 {
        return bad("rounds/repeats/eval_every", "must be at least 1".into());
    }
    if let Some(a) = c.dirichlet.filter(|a| !(a.is_finite() && *a > 0.0)) {
        return bad(
            "dirichlet",
            format!("{a}: the concentration must be finite and positive (e.g. 0.1, 1, 10)"),
        );
    }
    attacks::build_attack(&c.attack, &common.attack_params)?;
    attacks::build_corruption(&c.corruption, &common.attack_params)?;
    aggregators::build(&c.rule, &rule_params(c), common.m)?;
    crate::budget::check(
        "training",
        &estimate(c, common),
        "lower workers, batch, rounds, repeats or eval_size",
    )
}

/// Estimated peak memory and work of training `c` (see [`crate::budget`]): the m x P
/// gradient matrix and its workspace (P = the MLP's parameter count), one batch of
/// activations per thread, the evaluation set's activations and the per-round records; a
/// round computes m batch gradients (about 6 P operations an example).
fn estimate(c: &RunConfig, common: &Common) -> crate::budget::Estimate {
    use crate::objectives::mlp::{CLASSES, HIDDEN, INPUT, PARAM_DIM};
    let mut e = crate::budget::Estimate::default();
    let (m, p, batch) = (common.m as f64, PARAM_DIM as f64, c.batch as f64);
    let width = (INPUT + 2 * HIDDEN + CLASSES) as f64;
    let threads = rayon::current_num_threads() as f64;
    e.memory(3.0 * 8.0 * m * p, || format!("workers = {}", common.m));
    e.memory(3.0 * 8.0 * threads * batch * width, || {
        format!("batch = {}", c.batch)
    });
    e.memory(3.0 * 8.0 * common.eval_size as f64 * width, || {
        format!("eval_size = {}", common.eval_size)
    });
    let rr = common.rounds as f64 * common.repeats as f64;
    e.memory(64.0 * rr, || {
        format!("rounds = {} x repeats = {}", common.rounds, common.repeats)
    });
    e.work(rr * m * batch * 6.0 * p, || {
        format!(
            "rounds = {} x repeats = {} with workers = {} and batch = {}",
            common.rounds, common.repeats, common.m, c.batch
        )
    });
    e
}

fn rule_params(c: &RunConfig) -> RuleParams {
    RuleParams {
        nnm: c.nnm,
        bucket: c.bucket,
        ..RuleParams::for_rule(&c.rule, c.b, c.k)
    }
}

/// [`rule_params`] with bucketing's permutations drawn from the run's own stream key.
fn run_rule_params(c: &RunConfig, seed: u64, key: u64, repeat: usize) -> RuleParams {
    RuleParams {
        bucket_seed: c.bucket.map(|_| {
            // a stream of its own: the run's key with "bucket" mixed in
            let mut r = crate::rng::stream(seed, key ^ 0x6275_636b_6574, repeat as u64);
            rand::Rng::random::<u64>(&mut r)
        }),
        ..rule_params(c)
    }
}

/// Trains once.
pub fn train_once(
    data: &Data,
    c: &RunConfig,
    common: &Common,
    repeat: usize,
) -> Result<TrainResult, Error> {
    validate(c, common)?;
    let key = hash_str(&c.seed_text());
    let mlp = Mlp::new(data.train.clone())?;
    let mut rng = stream(common.seed, key, u64::MAX - repeat as u64);
    let mut task = MlpTask::new(mlp.clone(), c.batch, common.eval_size, &mut rng);
    if let Some(alpha) = c.dirichlet {
        // one split per (seed, alpha, m, repeat): every rule of a panel sees the same split
        let key = hash_str(&format!("dirichlet/{alpha:e}/{}", common.m));
        let mut srng = stream(common.seed, key, repeat as u64);
        task = task.with_parts(crate::data::split::dirichlet(
            &data.train.labels,
            common.m,
            alpha,
            &mut srng,
        )?);
    }
    let mut x = mlp.init_params(&mut rng);
    let rule = aggregators::build(
        &c.rule,
        &run_rule_params(c, common.seed, key, repeat),
        common.m,
    )?;
    let ap = &common.attack_params;
    let (corr_name, q) = if c.clean {
        ("classic", 0)
    } else {
        (c.corruption.as_str(), c.q)
    };
    let corruption = attacks::build_corruption(corr_name, ap)?;
    let attack = attacks::build_attack(if c.clean { "none" } else { &c.attack }, ap)?;
    // Mean without Byzantine: the server averages only the m - q correct workers.
    // (in the generalized and shard models no worker is Byzantine as a whole: all m are kept)
    let m = if c.clean && c.corruption == "classic" {
        common.m - c.q
    } else {
        common.m
    };
    let rule = if c.clean {
        aggregators::build("mean", &RuleParams::default(), m)?
    } else {
        rule
    };
    let spec = SimSpec {
        m,
        rounds: common.rounds,
        gamma: c.lr,
        seed: common.seed,
        key,
        repeat: repeat as u64,
        parallel_workers: true,
        offsets: Vec::new(),
    };
    let mut buf = Buffers::new(&task, m);
    let mut acc = Accuracy {
        every: common.eval_every,
        mlp: mlp.clone(),
        test: data.test.clone(),
        rows: Vec::new(),
    };
    let byz = Byzantine {
        corruption: corruption.as_ref(),
        attack: attack.as_ref(),
        q,
    };
    let mut t4 = common
        .theorem4
        .then(|| Theorem4::new(task.dim(), common.l_every));
    let mut observers: Vec<&mut dyn Observer<MlpTask>> = vec![&mut acc];
    if let Some(t) = t4.as_mut() {
        observers.push(t);
    }
    let out = run(
        &task,
        rule.as_ref(),
        &byz,
        &spec,
        &mut x,
        &mut buf,
        &mut observers,
    )?;
    let t4 = t4.map(|t| (t.grad_sq, t.value, t.v_hat, t.agg_err, t.l_hat));
    Ok(TrainResult {
        cfg: c.clone(),
        repeat,
        accuracy: acc.rows,
        theorem4: t4,
        seconds: (out.total_seconds, out.aggregate_seconds),
        diverged_at: out.diverged_at,
    })
}

/// Writes the per-round table of a set of runs; `panels[i]` names the panel of `results[i]`
/// (runs with the same label in different panels, such as the four "mean without Byzantine"
/// series of figure 3, are told apart by it, by q, corruption and the step size).
pub fn write_runs(
    results: &[TrainResult],
    panels: &[String],
    dir: &Path,
    stem: &str,
) -> Result<(), Error> {
    let (mut label, mut rule, mut attack, mut rep, mut round) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut acc, mut loss, mut b, mut batch) = (vec![], vec![], vec![], vec![]);
    let (mut g2, mut fv, mut vh, mut ae) = (vec![], vec![], vec![], vec![]);
    let (mut panel, mut q, mut corruption, mut lr) = (vec![], vec![], vec![], vec![]);
    for (i, r) in results.iter().enumerate() {
        for &(t, l, a) in &r.accuracy {
            panel.push(panels.get(i).cloned().unwrap_or_default());
            q.push(r.cfg.q as u64);
            corruption.push(r.cfg.corruption.clone());
            lr.push(r.cfg.lr);
            label.push(r.cfg.label.clone());
            rule.push(r.cfg.rule.clone());
            attack.push(if r.cfg.clean {
                "none (Byzantine dropped)".to_string()
            } else {
                r.cfg.attack.clone()
            });
            rep.push(r.repeat as u64);
            round.push(t as u64);
            acc.push(a);
            loss.push(l);
            b.push(r.cfg.b.map_or(-1, |b| b as i64));
            batch.push(r.cfg.batch as u64);
            let t4 = r.theorem4.as_ref();
            g2.push(t4.and_then(|x| x.0.get(t).copied()).unwrap_or(f64::NAN));
            fv.push(t4.and_then(|x| x.1.get(t).copied()).unwrap_or(f64::NAN));
            vh.push(t4.and_then(|x| x.2.get(t).copied()).unwrap_or(f64::NAN));
            ae.push(t4.and_then(|x| x.3.get(t).copied()).unwrap_or(f64::NAN));
        }
    }
    let mut df = TableBuilder::new()
        .str("panel", &panel)
        .str("label", &label)
        .str("rule", &rule)
        .str("attack", &attack)
        .str("corruption", &corruption)
        .u64("q", q)
        .i64("b", b)
        .u64("batch", batch)
        .f64("lr", lr)
        .u64("repeat", rep)
        .u64("round", round)
        .f64("test_accuracy", acc)
        .f64("test_loss", loss)
        .f64("grad_norm_sq_eval", g2)
        .f64("loss_eval", fv)
        .f64("v_hat", vh)
        .f64("aggregation_error", ae)
        .build()?;
    write_table(&mut df, dir, stem)?;
    Ok(())
}

/// Mean and sample standard deviation (n - 1) of `v`; the deviation is NaN for fewer than two
/// values (callers say what one value means for them).
fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        f64::NAN
    };
    (mean, sd)
}

/// Mean and standard deviation over repeats of accuracy by round, per label.
pub fn accuracy_bands(results: &[TrainResult]) -> BTreeMap<String, Vec<(f64, f64, f64)>> {
    let mut by: BTreeMap<String, Vec<&TrainResult>> = BTreeMap::new();
    for r in results {
        by.entry(r.cfg.label.clone()).or_default().push(r);
    }
    by.into_iter()
        .map(|(k, rs)| {
            let n = rs.iter().map(|r| r.accuracy.len()).min().unwrap_or(0);
            let band = (0..n)
                .map(|i| {
                    let vals: Vec<f64> = rs
                        .iter()
                        .map(|r| {
                            let a = r.accuracy[i].2;
                            if a.is_finite() {
                                a
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let (mean, sd) = mean_sd(&vals);
                    let sd = if vals.len() > 1 { sd } else { 0.0 };
                    (rs[0].accuracy[i].0 as f64, mean, sd)
                })
                .collect();
            (k, band)
        })
        .collect()
}

/// An accuracy-against-rounds panel (optionally zoomed to the top accuracies).
pub fn accuracy_panel(title: &str, results: &[TrainResult], zoom: bool) -> Panel {
    let bands = accuracy_bands(results);
    // One colour per rule (as in every chart); several curves of one rule (figure 3(a):
    // Krum and Multi-Krum at 8 values of q) get lighter tones of it, alternately dashed.
    let rule_of: BTreeMap<&str, &str> = results
        .iter()
        .map(|r| (r.cfg.label.as_str(), r.cfg.rule.as_str()))
        .collect();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut series = Vec::new();
    for (label, band) in bands.iter() {
        let pts: Vec<(f64, f64)> = band.iter().map(|b| (b.0, b.1)).collect();
        let sh: Vec<(f64, f64, f64)> = band.iter().map(|b| (b.0, b.1 - b.2, b.1 + b.2)).collect();
        let pts = if zoom {
            pts.into_iter().filter(|p| p.1 >= ZOOM_FROM).collect()
        } else {
            pts
        };
        let sh = if zoom {
            sh.into_iter().filter(|p| p.1 >= ZOOM_FROM).collect()
        } else {
            sh
        };
        let rule = rule_of.get(label.as_str()).copied().unwrap_or_default();
        let n = seen.entry(rule).or_default();
        let mut line = Series::line(label.clone(), pts)
            .with_band(sh)
            .with_color(chart::rule_color(rule))
            .with_tone(0.12 * (*n / 2) as f64);
        line.dashed = *n % 2 == 1;
        *n += 1;
        series.push(line);
    }
    Panel::Lines(LineChart {
        title: if zoom {
            format!("{title} (zoom: accuracy >= {ZOOM_FROM})")
        } else {
            title.to_string()
        },
        x_label: "round".into(),
        y_label: "top-1 test accuracy".into(),
        log_x: false,
        log_y: false,
        series,
    })
}

/// Arguments of `phocas train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Rule (registry name; see `phocas --help`).
    #[arg(long, default_value = "mean")]
    pub rule: String,
    /// Trimming parameter b of trmean and phocas (as `aggregate --b`).
    #[arg(long)]
    pub b: Option<usize>,
    /// Assumed number of Byzantine workers q of krum and multikrum (as `aggregate --q`).
    #[arg(long)]
    pub q: Option<usize>,
    /// Multi-Krum's k.
    #[arg(long)]
    pub k: Option<usize>,
    /// Attack.
    #[arg(long, default_value = "none")]
    pub attack: String,
    /// Corruption model.
    #[arg(long, default_value = "classic")]
    pub corruption: String,
    /// Number of Byzantine values per coordinate (generalized model) or Byzantine workers
    /// (classic model) that the attack controls.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub byzantine: usize,
    /// Corrupt only the first K coordinates (bit-flip: 1000).
    #[arg(long, default_value_t = 0)]
    pub first_coords: usize,
    /// Split the training set over the workers by label with Dirichlet(ALPHA) shares
    /// (0.1: a few classes a worker; 10: near i.i.d.). Default: every worker samples the whole
    /// set.
    #[arg(long, value_name = "ALPHA")]
    pub dirichlet: Option<f64>,
    /// Nearest-Neighbour Mixing with this f before the rule (as `aggregate --nnm`).
    #[arg(long, value_name = "F")]
    pub nnm: Option<usize>,
    /// Bucketing with buckets of S workers before the rule (as `aggregate --bucket`).
    #[arg(long, value_name = "S")]
    pub bucket: Option<usize>,
    /// Workers.
    #[arg(long, default_value_t = 20)]
    pub workers: usize,
    /// Batch size per worker.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Step size.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Rounds.
    #[arg(long, default_value_t = 500)]
    pub rounds: usize,
    /// Repeats.
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
    /// Evaluate test accuracy every k rounds.
    #[arg(long, default_value_t = 10)]
    pub eval_every: usize,
    /// Track Theorem 4's quantities (slower).
    #[arg(long)]
    pub theorem4: bool,
    /// Master seed.
    #[arg(long, default_value_t = crate::rng::DEFAULT_SEED)]
    pub seed: u64,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Directory with the four MNIST-format files.
    #[arg(long, default_value = data::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Output folder. Finished repeats are kept in OUT/checkpoint.tsv as they finish: the same
    /// command after an interruption (Ctrl-C, a killed job) reuses them. Default:
    /// runs/train-<rule>-<hash of the settings>/, one per setting.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The rule parameter of `train`'s flags (b for trmean and phocas, the assumed q for krum
/// and multikrum, stored in [`RunConfig::b`]), refusing a flag the rule does not take and an
/// attack that controls no value.
fn train_rule_param(a: &TrainArgs) -> Result<Option<usize>, Error> {
    let param = aggregators::info(&a.rule).map_or(aggregators::ParamKind::None, |i| i.param);
    let krum = param.is_assumed_q();
    let trim = param == aggregators::ParamKind::Trim;
    if a.b.is_some() && !trim {
        return Err(Error::Invalid(format!(
            "--b is the trimming parameter of trmean and phocas; {} does not take it{}",
            a.rule,
            if krum {
                " (give its assumed q with --q)"
            } else {
                ""
            }
        )));
    }
    if a.q.is_some() && !krum {
        return Err(Error::Invalid(format!(
            "--q is the assumed Byzantine count of krum and multikrum; {} does not take it (the attack's count is --byzantine N{})",
            a.rule,
            if trim { ", its trimming parameter --b" } else { "" }
        )));
    }
    if a.attack != "none" && a.byzantine == 0 {
        return Err(Error::Invalid(format!(
            "--attack {} with --byzantine 0 corrupts nothing: give --byzantine N (N >= 1) or --attack none",
            a.attack
        )));
    }
    if a.attack == "none" && a.byzantine > 0 {
        eprintln!(
            "warning: --byzantine {} with --attack none: the Byzantine entries keep their honest values",
            a.byzantine
        );
    }
    Ok(if krum { a.q } else { a.b })
}

/// `phocas train`.
pub fn train_cli(a: &TrainArgs) -> Result<(), Error> {
    let rule_param = train_rule_param(a)?;
    let common = Common {
        m: a.workers,
        rounds: a.rounds,
        repeats: a.repeats,
        eval_every: a.eval_every,
        seed: a.seed,
        theorem4: a.theorem4,
        eval_size: eval_size(),
        l_every: l_every(),
        attack_params: AttackParams {
            first_coords: a.first_coords,
            ..Default::default()
        },
    };
    let c = RunConfig {
        label: a.rule.clone(),
        rule: a.rule.clone(),
        b: rule_param,
        k: a.k,
        attack: a.attack.clone(),
        corruption: a.corruption.clone(),
        q: a.byzantine,
        clean: false,
        batch: a.batch,
        lr: a.lr,
        dirichlet: a.dirichlet,
        nnm: a.nnm,
        bucket: a.bucket,
    };
    validate(&c, &common)?;
    let data = load_data(&a.data_dir)?;
    // Finished repeats go to OUT/checkpoint.tsv as they finish, keyed by the run's settings,
    // the crate version and the data folder, so the same command after an interruption reuses
    // them; other configurations can share the folder (the default one is shared by every
    // `phocas train`), which is why the folder is not claimed as `reproduce` claims its own.
    let data_tag = a
        .data_dir
        .canonicalize()
        .unwrap_or_else(|_| a.data_dir.clone())
        .display()
        .to_string();
    let settings = format!(
        "{}\u{1f}{}\u{1f}{data_tag}",
        serde_json::to_string(&c).unwrap_or_default(),
        serde_json::to_string(&common).unwrap_or_default()
    );
    let out = crate::outdir::resolve(a.out.as_deref(), "train", &a.rule, &settings);
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let log = resume::Log::unclaimed(&out.join(resume::LOG))?;
    let key = |rep: usize| {
        format!(
            "train {} v{} {:016x}",
            run_key(&c, &common, rep),
            env!("CARGO_PKG_VERSION"),
            hash_str(&data_tag)
        )
    };
    crate::interrupt::install();
    let manifest = crate::report::manifest::Manifest::start(
        "train",
        format!(
            "{}\n{}",
            serde_json::to_string(&c).unwrap_or_default(),
            data_tag
        ),
        a.seed,
    );
    let pb = crate::report::progress_bar(a.repeats, "repeats", a.quiet);
    pb.enable_steady_tick(std::time::Duration::from_millis(500));
    let mut results = Vec::new();
    for r in 0..a.repeats {
        pb.set_message(format!("repeat {r}: {} rounds", a.rounds));
        let saved = log.get(&key(r)).and_then(|rec| {
            let res = from_record(&c, r, rec);
            if res.is_none() {
                // a line with a valid checksum but another layout: train this repeat again
                eprintln!(
                    "{}: the record of repeat {r} has an unknown layout; training it again",
                    log.path().display()
                );
            }
            res
        });
        let (res, reused) = match saved {
            Some(res) => (res, true),
            None => {
                let res = match train_once(&data, &c, &common, r) {
                    Err(Error::Interrupted(_)) => {
                        pb.abandon();
                        return Err(resume::interrupted(r, a.repeats, "repeats", log.path()));
                    }
                    other => other?,
                };
                log.append(&key(r), &to_record(&res))?;
                (res, false)
            }
        };
        let last = res.accuracy.last().map_or(f64::NAN, |x| x.2);
        let best = res.accuracy.iter().map(|x| x.2).fold(f64::NAN, f64::max);
        // suspend, not println: println prints nothing when the bar is hidden (no terminal)
        pb.suspend(|| println!(
            "repeat {r}: final accuracy {last:.4}, best {best:.4}, {:.2} s ({:.1}% aggregating){}{}",
            res.seconds.0,
            100.0 * res.seconds.1 / res.seconds.0.max(1e-12),
            res.diverged_at
                .map_or(String::new(), |t| format!(", diverged at round {t}")),
            if reused { " (reused from the checkpoint)" } else { "" }
        ));
        pb.inc(1);
        results.push(res);
    }
    pb.finish_and_clear();
    if crate::interrupt::stopped() {
        // every repeat is saved; the tables are not written, the same command writes them
        return Err(resume::interrupted(
            a.repeats,
            a.repeats,
            "repeats",
            log.path(),
        ));
    }
    let panels = vec!["train".to_string(); results.len()];
    write_runs(&results, &panels, &out, "rounds")?;
    chart::save(
        &[accuracy_panel(
            &format!("{} under {}", c.rule, c.attack),
            &results,
            false,
        )],
        1,
        (900, 560),
        &out,
        "accuracy",
    )?;
    let stat = |v: Vec<f64>| mean_sd(&v);
    let (fm, fs) = stat(
        results
            .iter()
            .map(|r| r.accuracy.last().map_or(f64::NAN, |x| x.2))
            .collect(),
    );
    let (bm, bs) = stat(
        results
            .iter()
            .map(|r| r.accuracy.iter().map(|x| x.2).fold(f64::NAN, f64::max))
            .collect(),
    );
    let sd = |s: f64| {
        if s.is_nan() {
            "n/a (1 repeat)".into()
        } else {
            format!("{s:.4}")
        }
    };
    println!(
        "over {} repeats: final accuracy {fm:.4} +- {}, best {bm:.4} +- {} (mean +- sd)",
        results.len(),
        sd(fs),
        sd(bs)
    );
    let mut manifest = manifest;
    manifest.rows.insert(
        "rounds".into(),
        results.iter().map(|r| r.accuracy.len()).sum(),
    );
    manifest.finish(&out)?;
    println!("tables, chart and manifest.json in {}", out.display());
    Ok(())
}

/// One panel of a figure: a setting and the rules compared in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelConfig {
    /// Short name (file names).
    pub name: String,
    /// Title of the chart panel.
    pub title: String,
    /// Attack.
    pub attack: String,
    /// Corruption model.
    pub corruption: String,
    /// Byzantine values per coordinate (or rows).
    pub q: usize,
    /// Rules; `mean-clean` is Mean without Byzantine (the m - q correct workers only).
    pub rules: Vec<String>,
    /// Rule parameter for trmean, phocas, krum, multikrum.
    #[serde(default)]
    pub b: Option<usize>,
    /// Sweep the rule parameter over these values instead (figure 3).
    #[serde(default)]
    pub b_values: Vec<usize>,
    /// Per-rule parameter in place of `b` (e.g. `params = { bulyan = 4 }`: Bulyan needs
    /// m >= 4q + 3, so at most 4 of 20 workers).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, usize>,
    /// Batch sizes (figure 4); default 32 only.
    #[serde(default = "batches")]
    pub batches: Vec<usize>,
    /// Step size at batch 32; scaled by batch/32 when `lr_scales_with_batch`.
    #[serde(default = "lr")]
    pub lr: f64,
    /// gamma = lr x batch / 32 (figure 4).
    #[serde(default)]
    pub lr_scales_with_batch: bool,
    /// Chart: accuracy against rounds (`rounds`) or best accuracy against b (`best-vs-b`).
    #[serde(default = "chart_kind")]
    pub chart: String,
    /// Attack parameter overrides for this panel.
    #[serde(default)]
    pub attack_params: Option<AttackParams>,
    /// Dirichlet(alpha) split of the training set over the workers (default: i.i.d.).
    #[serde(default)]
    pub dirichlet: Option<f64>,
    /// Pre-aggregation steps, each rule run once per entry: "" (the rule alone), "nnm"
    /// (Nearest-Neighbour Mixing with f = q), "bucket2" (bucketing, buckets of 2). Default [""].
    #[serde(default = "no_pre")]
    pub pre: Vec<String>,
}

fn no_pre() -> Vec<String> {
    vec![String::new()]
}

/// A panel's `pre` entry as (nnm f, bucket size), with f = the panel's q.
pub fn parse_pre(pre: &str, q: usize) -> Result<(Option<usize>, Option<usize>), String> {
    match pre {
        "" => Ok((None, None)),
        "nnm" => Ok((Some(q), None)),
        _ => match pre.strip_prefix("bucket").map(str::parse::<usize>) {
            Some(Ok(s)) if s >= 1 => Ok((None, Some(s))),
            _ => Err(format!(
                "'{pre}' is not a pre-aggregation step: use \"\" (none), \"nnm\" or \"bucketS\" (e.g. \"bucket2\")"
            )),
        },
    }
}

fn batches() -> Vec<usize> {
    vec![32]
}
fn lr() -> f64 {
    0.1
}
fn chart_kind() -> String {
    "rounds".into()
}

/// An experiment (one figure): common settings and panels.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Shared settings.
    pub common: Common,
    /// Panels.
    pub panel: Vec<PanelConfig>,
}

/// Built-in experiment configs by name.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    ("fig2", include_str!("../../experiments/mlp/fig2.toml")),
    ("fig3", include_str!("../../experiments/mlp/fig3.toml")),
    ("fig4", include_str!("../../experiments/mlp/fig4.toml")),
    (
        "theorem4",
        include_str!("../../experiments/mlp/theorem4.toml"),
    ),
    ("rules", include_str!("../../experiments/mlp/rules.toml")),
    (
        "dirichlet",
        include_str!("../../experiments/mlp/dirichlet.toml"),
    ),
];

impl Experiment {
    /// Parses an experiment's TOML text (errors give line and column).
    pub fn parse(text: &str) -> Result<Self, Error> {
        crate::montecarlo::config::parse_toml(text)
    }

    /// Checks every run of every panel (see [`validate`]), after bounding how many runs the
    /// panels' lists expand to (batches x rules x b values, at most a million a panel).
    pub fn validate(&self) -> Result<(), Error> {
        let max = crate::montecarlo::config::MAX_CELLS;
        for p in &self.panel {
            let runs = [p.batches.len(), p.rules.len(), p.b_values.len().max(1)]
                .iter()
                .map(|&n| n as f64)
                .product::<f64>();
            if crate::budget::exceeds(runs, max as f64) {
                return Err(Error::Config {
                    key: format!("panel {}", p.name),
                    msg: format!(
                        "expands to up to {runs:.3e} runs, more than {max}: shorten its lists"
                    ),
                });
            }
        }
        for p in &self.panel {
            if let Some(Err(msg)) = p.pre.iter().map(|x| parse_pre(x, p.q)).find(Result::is_err) {
                return Err(Error::Config {
                    key: format!("panel {}.pre", p.name),
                    msg,
                });
            }
            if p.pre.is_empty() {
                return Err(Error::Config {
                    key: format!("panel {}.pre", p.name),
                    msg: "must list at least one entry (\"\" for the rule alone)".into(),
                });
            }
            if let Some(r) = p.params.keys().find(|r| !p.rules.contains(r)) {
                return Err(Error::Config {
                    key: format!("panel {}.params", p.name),
                    msg: format!(
                        "'{r}' is not one of the panel's rules ({}): list it in `rules` or remove it",
                        p.rules.join(", ")
                    ),
                });
            }
            let common = panel_common(&self.common, p);
            for r in p.runs() {
                validate(&r, &common)?;
            }
        }
        Ok(())
    }
}

impl PanelConfig {
    /// The runs of the panel.
    pub fn runs(&self) -> Vec<RunConfig> {
        let mut v = Vec::new();
        for &batch in &self.batches {
            let lr = if self.lr_scales_with_batch {
                self.lr * batch as f64 / 32.0
            } else {
                self.lr
            };
            for rule in &self.rules {
                let takes_b = aggregators::info(rule).is_some_and(|i| i.param.takes_param());
                let bs: Vec<Option<usize>> = if !takes_b {
                    vec![None]
                } else if self.b_values.is_empty() {
                    vec![self.params.get(rule).copied().or(self.b)]
                } else {
                    self.b_values.iter().map(|&b| Some(b)).collect()
                };
                for (b, pre) in bs
                    .iter()
                    .flat_map(|b| self.pre.iter().map(move |p| (*b, p.as_str())))
                {
                    let clean = rule == "mean-clean";
                    // Mean without Byzantine runs once, without pre-aggregation
                    if clean && pre != self.pre[0] {
                        continue;
                    }
                    let (nnm, bucket) = if clean {
                        (None, None)
                    } else {
                        parse_pre(pre, self.q).unwrap_or((None, None))
                    };
                    let mut label = if clean {
                        "mean without Byzantine".to_string()
                    } else {
                        match b {
                            Some(b)
                                if aggregators::info(rule)
                                    .is_some_and(|i| i.param.is_assumed_q()) =>
                            {
                                format!("{rule} (q={b})")
                            }
                            Some(b) => format!("{rule} (b={b})"),
                            None => rule.clone(),
                        }
                    };
                    if self.batches.len() > 1 {
                        label = format!("{label}, batch {batch}");
                    }
                    if !clean && !pre.is_empty() {
                        label = format!("{pre}+{label}");
                    }
                    v.push(RunConfig {
                        label,
                        rule: if clean { "mean".into() } else { rule.clone() },
                        b,
                        k: None,
                        attack: self.attack.clone(),
                        corruption: self.corruption.clone(),
                        q: self.q,
                        clean,
                        batch,
                        lr,
                        dirichlet: self.dirichlet,
                        nnm,
                        bucket,
                    });
                }
            }
        }
        v
    }
}

/// Arguments of `phocas reproduce`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// fig2, fig3, fig4, theorem4, rules (every rule under seven attacks), dirichlet
    /// (heterogeneous data: Dirichlet splits, with NNM and bucketing) or all.
    #[arg(value_name = "FIGURE")]
    pub figure: String,
    /// Override the repeats of the config (the paper used 10).
    #[arg(long)]
    pub repeats: Option<usize>,
    /// Override the rounds (the paper used 500).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Use this config file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory with the four MNIST-format files.
    #[arg(long, default_value = data::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Output folder (one subfolder per figure). Default:
    /// runs/reproduce-<figure>-<hash of the settings>/ (reports/mlp holds the committed runs of
    /// `phocas report`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `phocas reproduce`.
pub fn reproduce_cli(a: &ReproduceArgs) -> Result<(), Error> {
    let names: Vec<&str> = if a.figure == "all" {
        EXPERIMENTS.iter().map(|e| e.0).collect()
    } else if EXPERIMENTS.iter().any(|e| e.0 == a.figure) {
        vec![a.figure.as_str()]
    } else {
        return Err(Error::Invalid(format!(
            "unknown figure '{}': use {} or all",
            a.figure,
            EXPERIMENTS
                .iter()
                .map(|e| e.0)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let mut exps = Vec::new();
    for name in &names {
        let text = match &a.config {
            Some(p) => std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?,
            None => EXPERIMENTS
                .iter()
                .find(|e| e.0 == *name)
                .map(|e| e.1.to_string())
                .unwrap_or_default(),
        };
        let mut exp = Experiment::parse(&text).map_err(|e| match &a.config {
            Some(p) => crate::montecarlo::config::in_file(e, p),
            None => crate::montecarlo::config::in_file(e, Path::new(name)),
        })?;
        if let Some(r) = a.repeats {
            exp.common.repeats = r;
        }
        if let Some(r) = a.rounds {
            exp.common.rounds = r;
        }
        exp.validate()?;
        exps.push((name.to_string(), exp, text));
    }
    let data = load_data(&a.data_dir)?;
    let settings = format!(
        "{:?}\u{1f}{:?}\u{1f}{}\u{1f}{}",
        a.repeats,
        a.rounds,
        a.data_dir
            .canonicalize()
            .unwrap_or_else(|_| a.data_dir.clone())
            .display(),
        exps.iter()
            .map(|e| e.2.as_str())
            .collect::<Vec<_>>()
            .join("\u{1f}")
    );
    let root = crate::outdir::resolve(a.out.as_deref(), "reproduce", &a.figure, &settings);
    crate::interrupt::install();
    for (name, exp, text) in exps {
        let dir = root.join(&name);
        let id = RunId {
            command: format!("reproduce {name}"),
            version: env!("CARGO_PKG_VERSION").into(),
            config: text.clone(),
            seed: exp.common.seed,
            trials: None,
            shard: None,
            options: format!(
                "rounds={} data={}",
                exp.common.rounds,
                a.data_dir
                    .canonicalize()
                    .unwrap_or_else(|_| a.data_dir.clone())
                    .display()
            ),
        };
        let log = resume::Log::open(&dir, &id, &[resume::LOG])?;
        let manifest = crate::report::manifest::Manifest::start(
            &format!("reproduce {name}"),
            text,
            exp.common.seed,
        );
        // Every distinct run once (figure 3's panels share their Krum runs), in config order.
        let mut jobs: Vec<(String, RunConfig, Common, usize)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in &exp.panel {
            let common = panel_common(&exp.common, p);
            for r in p.runs() {
                for rep in 0..common.repeats {
                    let key = run_key(&r, &common, rep);
                    if seen.insert(key.clone()) {
                        jobs.push((key, r.clone(), common.clone(), rep));
                    }
                }
            }
        }
        let total = jobs.len();
        let reused = jobs.iter().filter(|j| log.get(&j.0).is_some()).count();
        eprintln!(
            "{name}: {total} training runs of {} rounds ({reused} already finished in {})",
            exp.common.rounds,
            log.path().display()
        );
        let pb = crate::report::progress_bar(total, "runs", a.quiet);
        let t0 = std::time::Instant::now();
        let mut finished: HashMap<String, TrainResult> = HashMap::new();
        let mut fresh = 0usize;
        let mut fresh_samples = 0f64;
        for (key, r, common, rep) in &jobs {
            pb.set_message(r.label.clone());
            let res = match log.get(key) {
                Some(rec) => from_record(r, *rep, rec).ok_or_else(|| {
                    Error::Invalid(format!(
                        "{}: the record of {key} is malformed: delete the folder and run again",
                        log.path().display()
                    ))
                })?,
                None => {
                    let res = match train_once(&data, r, common, *rep) {
                        Err(Error::Interrupted(_)) => {
                            pb.abandon();
                            return Err(resume::interrupted(
                                finished.len(),
                                total,
                                "training runs",
                                log.path(),
                            ));
                        }
                        other => other?,
                    };
                    log.append(key, &to_record(&res))?;
                    fresh += 1;
                    fresh_samples += (r.batch * common.rounds * common.m) as f64;
                    res
                }
            };
            finished.insert(key.clone(), res);
            pb.inc(1);
        }
        pb.finish_and_clear();
        let secs = t0.elapsed().as_secs_f64();
        let mut all = Vec::new();
        let mut all_panels: Vec<String> = Vec::new();
        let mut panels = Vec::new();
        let mut summary = Vec::new();
        let (mut agg_s, mut tot_s) = (0.0, 0.0);
        for p in &exp.panel {
            let common = panel_common(&exp.common, p);
            let mut results = Vec::new();
            for r in p.runs() {
                for rep in 0..common.repeats {
                    let res = finished[&run_key(&r, &common, rep)].clone();
                    agg_s += res.seconds.1;
                    tot_s += res.seconds.0;
                    results.push(res);
                }
            }
            for (label, band) in accuracy_bands(&results) {
                let finals: Vec<f64> = results
                    .iter()
                    .filter(|r| r.cfg.label == label)
                    .map(|r| r.accuracy.last().map_or(f64::NAN, |x| x.2))
                    .collect();
                let bests: Vec<f64> = results
                    .iter()
                    .filter(|r| r.cfg.label == label)
                    .map(|r| r.accuracy.iter().map(|x| x.2).fold(f64::NAN, f64::max))
                    .collect();
                let mean = |v: &[f64]| mean_sd(v).0;
                let sd = |v: &[f64]| if v.len() > 1 { mean_sd(v).1 } else { 0.0 };
                let _ = band;
                summary.push((
                    p.name.clone(),
                    label,
                    mean(&finals),
                    sd(&finals),
                    mean(&bests),
                    sd(&bests),
                ));
            }
            if p.chart == "best-vs-b" {
                let mut by_rule: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
                for r in &results {
                    let best = r.accuracy.iter().map(|x| x.2).fold(f64::NAN, f64::max);
                    by_rule
                        .entry(r.cfg.rule.clone())
                        .or_default()
                        .push((r.cfg.b.unwrap_or(0) as f64, best));
                }
                let series = by_rule
                    .into_iter()
                    .map(|(rule, pts)| {
                        let mut agg: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
                        for (b, v) in pts {
                            agg.entry(b as i64).or_default().push(v);
                        }
                        let pts = agg
                            .into_iter()
                            .map(|(b, v)| (b as f64, v.iter().sum::<f64>() / v.len() as f64))
                            .collect();
                        let c = chart::rule_color(&rule);
                        Series::line(rule, pts).with_markers().with_color(c)
                    })
                    .collect();
                panels.push(Panel::Lines(LineChart {
                    title: p.title.clone(),
                    x_label: "b (q for Krum and Multi-Krum)".into(),
                    y_label: "best top-1 test accuracy".into(),
                    log_x: false,
                    log_y: false,
                    series,
                }));
            } else {
                // one pair of panels per batch size (figure 4), like the paper's sub-figures
                let groups: Vec<(String, Vec<TrainResult>)> = if p.batches.len() > 1 {
                    p.batches
                        .iter()
                        .map(|&bs| {
                            let rs: Vec<TrainResult> = results
                                .iter()
                                .filter(|r| r.cfg.batch == bs)
                                .cloned()
                                .collect();
                            let lr = rs.first().map_or(p.lr, |r| r.cfg.lr);
                            (format!("{}: batch {bs}, gamma {lr}", p.title), rs)
                        })
                        .collect()
                } else {
                    vec![(p.title.clone(), results.clone())]
                };
                for (title, rs) in &groups {
                    panels.push(accuracy_panel(title, rs, false));
                    // the zoomed panel only when some mean curve reaches the zoom range
                    if accuracy_bands(rs)
                        .values()
                        .any(|b| b.iter().any(|x| x.1 >= ZOOM_FROM))
                    {
                        panels.push(accuracy_panel(title, rs, true));
                    }
                }
            }
            all_panels.extend(std::iter::repeat_n(p.name.clone(), results.len()));
            all.extend(results);
        }
        pb.finish_and_clear();
        write_runs(&all, &all_panels, &dir, "rounds")?;
        let mut df = TableBuilder::new()
            .str(
                "panel",
                &summary.iter().map(|s| s.0.clone()).collect::<Vec<_>>(),
            )
            .str(
                "label",
                &summary.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
            )
            .f64("final_accuracy_mean", summary.iter().map(|s| s.2).collect())
            .f64("final_accuracy_sd", summary.iter().map(|s| s.3).collect())
            .f64("best_accuracy_mean", summary.iter().map(|s| s.4).collect())
            .f64("best_accuracy_sd", summary.iter().map(|s| s.5).collect())
            .build()?;
        write_table(&mut df, &dir, "summary")?;
        chart::save(&panels, 2, (760, 500), &dir, &name)?;
        if exp.common.theorem4 {
            theorem4_outputs(&all, &exp.common, &dir)?;
        }
        let mut manifest = manifest;
        manifest
            .rows
            .insert("rounds".into(), all.iter().map(|r| r.accuracy.len()).sum());
        manifest.finish(&dir)?;
        println!(
            "{name}: final and best top-1 test accuracy (mean +- sd over {} repeats)",
            exp.common.repeats
        );
        println!(
            "{:<14} {:<34} {:>16} {:>16}",
            "panel", "rule", "final", "best"
        );
        for s in &summary {
            println!(
                "{:<14} {:<34} {:>8.4} +- {:<5.3} {:>8.4} +- {:<5.3}",
                s.0, s.1, s.2, s.3, s.4, s.5
            );
        }
        // throughput of the runs trained by this invocation (reused ones cost nothing; the
        // log holds every run by now, so the fresh ones were counted as they were trained)
        let samples = fresh_samples;
        println!(
            "{name}: {fresh} runs trained in {secs:.1} s ({:.0} training samples/s), {} reused from the checkpoint; {:.1}% of simulator time aggregating",
            samples / secs.max(1e-9),
            total - fresh,
            100.0 * agg_s / tot_s.max(1e-9)
        );
        println!("{name}: tables and charts in {}", dir.display());
    }
    Ok(())
}

/// The common settings of a panel (its attack parameters applied).
fn panel_common(common: &Common, p: &PanelConfig) -> Common {
    let mut c = common.clone();
    if let Some(ap) = &p.attack_params {
        c.attack_params = ap.clone();
    }
    c
}

/// Checkpoint key of one run: its label and a hash of everything that determines its numbers
/// (the run's config, the shared settings except the number of repeats, the repeat index).
fn run_key(r: &RunConfig, common: &Common, rep: usize) -> String {
    let mut c = common.clone();
    c.repeats = 0;
    format!(
        "{} #{rep} {:016x}",
        r.label,
        hash_str(&format!("{} {} {rep}", r.seed_text(), common_key_text(&c)))
    )
}

/// The text of `c` in a checkpoint key, spelled field by field: the bytes the derived `Debug`
/// of version 0.2.0 gave, which keyed the committed runs, with the attack parameters added
/// since then appended only when they differ from their defaults (so adding a field does not
/// orphan every finished run).
fn common_key_text(c: &Common) -> String {
    let p = &c.attack_params;
    let mut extra = String::new();
    if p.mimic_scale != AttackParams::default().mimic_scale {
        extra.push_str(&format!(", mimic_scale: {:?}", p.mimic_scale));
    }
    format!(
        "Common {{ m: {}, rounds: {}, repeats: {}, eval_every: {}, seed: {}, theorem4: {}, eval_size: {}, l_every: {}, attack_params: AttackParams {{ gaussian_sigma: {:?}, omniscient_c: {:?}, omniscient_include_byzantine: {}, bitflip_bits: {:?}, gambler_factor: {:?}, constant_value: {:?}, little_z: {:?}, ipm_eps: {:?}, adaptive_offset: {:?}, shard_servers: {}, shard_p: {:?}, first_coords: {}{extra} }} }}",
        c.m,
        c.rounds,
        c.repeats,
        c.eval_every,
        c.seed,
        c.theorem4,
        c.eval_size,
        c.l_every,
        p.gaussian_sigma,
        p.omniscient_c,
        p.omniscient_include_byzantine,
        p.bitflip_bits,
        p.gambler_factor,
        p.constant_value,
        p.little_z,
        p.ipm_eps,
        p.adaptive_offset,
        p.shard_servers,
        p.shard_p,
        p.first_coords,
    )
}

/// A finished run as checkpoint fields (f64 bit patterns).
fn to_record(r: &TrainResult) -> resume::Record {
    let mut f = vec![
        r.accuracy.iter().map(|a| a.0 as f64).collect(),
        r.accuracy.iter().map(|a| a.1).collect(),
        r.accuracy.iter().map(|a| a.2).collect(),
        vec![r.seconds.0, r.seconds.1],
        r.diverged_at.map(|t| vec![t as f64]).unwrap_or_default(),
    ];
    if let Some((g, v, vh, e, l)) = &r.theorem4 {
        f.extend([g.clone(), v.clone(), vh.clone(), e.clone()]);
        f.push(l.iter().map(|x| x.0 as f64).collect());
        f.push(l.iter().map(|x| x.1).collect());
    }
    f
}

/// The inverse of [`to_record`]; None if the record has the wrong shape.
fn from_record(cfg: &RunConfig, repeat: usize, f: &resume::Record) -> Option<TrainResult> {
    if f.len() != 5 && f.len() != 11 {
        return None;
    }
    let n = f[0].len();
    if f[1].len() != n || f[2].len() != n || f[3].len() != 2 || f[4].len() > 1 {
        return None;
    }
    let theorem4 = if f.len() == 11 {
        if f[10].len() != f[9].len() {
            return None;
        }
        Some((
            f[5].clone(),
            f[6].clone(),
            f[7].clone(),
            f[8].clone(),
            f[9].iter()
                .zip(&f[10])
                .map(|(&t, &l)| (t as usize, l))
                .collect(),
        ))
    } else {
        None
    };
    Some(TrainResult {
        cfg: cfg.clone(),
        repeat,
        accuracy: (0..n)
            .map(|i| (f[0][i] as usize, f[1][i], f[2][i]))
            .collect(),
        theorem4,
        seconds: (f[3][0], f[3][1]),
        diverged_at: f[4].first().map(|&t| t as usize),
    })
}

/// Theorem 4 on the MLP: running mean of ||grad F(x_t)||^2 (evaluation subset) against
/// 2/(gamma T)(F(x0) - 0) + Delta (Delta: the measured aggregation error), and the premise
/// gamma <= 1/L with L estimated along the trajectory.
fn theorem4_outputs(results: &[TrainResult], common: &Common, dir: &Path) -> Result<(), Error> {
    let mut rows = Vec::new();
    let mut series = Vec::new();
    let mut lser = Vec::new();
    // one colour per rule; further runs of a rule (repeats, other labels) get lighter tones
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results.iter() {
        let n = seen.entry(r.cfg.rule.as_str()).or_default();
        let (c, tone) = (chart::rule_color(&r.cfg.rule), 0.15 * *n as f64);
        *n += 1;
        let Some((g2, fv, vh, ae, lh)) = &r.theorem4 else {
            continue;
        };
        let t_max = common.rounds;
        let delta = ae.iter().sum::<f64>() / ae.len().max(1) as f64;
        let v_mean = vh.iter().sum::<f64>() / vh.len().max(1) as f64;
        let l_max = lh.iter().map(|x| x.1).fold(f64::NAN, f64::max);
        let gap0 = fv.first().copied().unwrap_or(f64::NAN);
        let mut acc = 0.0;
        let mut lhs = Vec::new();
        let mut rhs = Vec::new();
        for t in 0..t_max {
            acc += g2[t];
            let tt = (t + 1) as f64;
            lhs.push((tt, acc / tt));
            rhs.push((
                tt,
                crate::bounds::theorem4_rhs(r.cfg.lr, t + 1, gap0, delta),
            ));
        }
        let holds = lhs.iter().zip(&rhs).all(|(a, b)| a.1 <= b.1);
        let label = format!("{}, gamma {}", r.cfg.label, r.cfg.lr);
        rows.push((
            label.clone(),
            r.repeat,
            r.cfg.lr,
            l_max,
            r.cfg.lr <= 1.0 / l_max,
            v_mean,
            delta,
            gap0,
            lhs.last().map_or(f64::NAN, |x| x.1),
            rhs.last().map_or(f64::NAN, |x| x.1),
            holds,
        ));
        series.push(
            Series::line(format!("{label} r{}: mean ||grad F||^2", r.repeat), lhs)
                .with_color(c)
                .with_tone(tone),
        );
        series.push(
            Series::dashed(format!("{label} r{}: 2/(gT) F(x0) + Delta", r.repeat), rhs)
                .with_color(c)
                .with_tone(tone),
        );
        lser.push(
            Series::line(
                format!("{label} r{}", r.repeat),
                lh.iter().map(|x| (x.0 as f64, x.1)).collect(),
            )
            .with_markers()
            .with_color(c)
            .with_tone(tone),
        );
    }
    if rows.is_empty() {
        return Ok(());
    }
    let mut df = TableBuilder::new()
        .str(
            "label",
            &rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        )
        .u64("repeat", rows.iter().map(|r| r.1 as u64).collect())
        .f64("gamma", rows.iter().map(|r| r.2).collect())
        .f64("l_hat_max", rows.iter().map(|r| r.3).collect())
        .bool(
            "premise_gamma_le_1_over_l",
            rows.iter().map(|r| r.4).collect(),
        )
        .f64("v_hat_mean", rows.iter().map(|r| r.5).collect())
        .f64("delta_measured", rows.iter().map(|r| r.6).collect())
        .f64("f_x0", rows.iter().map(|r| r.7).collect())
        .f64("lhs_final", rows.iter().map(|r| r.8).collect())
        .f64("rhs_final", rows.iter().map(|r| r.9).collect())
        .bool("lhs_le_rhs_every_t", rows.iter().map(|r| r.10).collect())
        .build()?;
    write_table(&mut df, dir, "theorem4")?;
    chart::save(
        &[
            Panel::Lines(LineChart {
                title: "Theorem 4 on the MLP (evaluation subset; F* taken as 0)".into(),
                x_label: "T".into(),
                y_label: "mean_{t<T} ||grad F(x_t)||^2".into(),
                log_x: true,
                log_y: true,
                series,
            }),
            Panel::Lines(LineChart {
                title: "Smoothness L along the trajectory (power iteration on HVPs)".into(),
                x_label: "round".into(),
                y_label: "L estimate".into(),
                log_x: false,
                log_y: true,
                series: lser,
            }),
        ],
        2,
        (760, 500),
        dir,
        "theorem4",
    )?;
    println!("Theorem 4 on the MLP:");
    println!(
        "{:<36} {:>3} {:>6} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>6}",
        "run", "rep", "gamma", "L max", "g<=1/L", "V hat", "Delta", "LHS(T)", "RHS(T)", "holds"
    );
    for r in rows {
        println!(
            "{:<36} {:>3} {:>6} {:>9.3} {:>8} {:>9.3e} {:>9.3e} {:>9.3e} {:>9.3e} {:>6}",
            r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.8, r.9, r.10
        );
    }
    Ok(())
}

#[cfg(test)]
mod seed_tests {
    use super::{common_key_text, Common, Experiment, RunConfig, EXPERIMENTS};

    #[test]
    fn checkpoint_keys_keep_the_text_of_version_0_2_0() {
        let c = Common {
            m: 20,
            rounds: 500,
            repeats: 0,
            eval_every: 10,
            seed: 7,
            theorem4: false,
            eval_size: 512,
            l_every: 50,
            attack_params: Default::default(),
        };
        // pinned: the derived Debug of 0.2.0, before mimic_scale existed
        assert_eq!(
            common_key_text(&c),
            "Common { m: 20, rounds: 500, repeats: 0, eval_every: 10, seed: 7, theorem4: false, eval_size: 512, l_every: 50, attack_params: AttackParams { gaussian_sigma: 200.0, omniscient_c: 1e20, omniscient_include_byzantine: false, bitflip_bits: [22, 29, 30, 31], gambler_factor: -1e20, constant_value: 1e20, little_z: 1.0, ipm_eps: 0.1, adaptive_offset: 0.001, shard_servers: 20, shard_p: 0.0005, first_coords: 0 } }"
        );
        let mut c2 = c.clone();
        c2.attack_params.mimic_scale = 2.0;
        assert!(common_key_text(&c2).ends_with("first_coords: 0, mimic_scale: 2.0 } }"));
        // the derived Debug, as it was, for other values too
        let mut c3 = c.clone();
        c3.attack_params.bitflip_bits = vec![1, 2];
        c3.attack_params.gaussian_sigma = 0.25;
        assert_eq!(
            common_key_text(&c3),
            format!("{c3:?}").replace(", mimic_scale: 1.0", "")
        );
    }

    fn sample() -> RunConfig {
        RunConfig {
            label: "phocas (b=6) \"x\"".into(),
            rule: "phocas".into(),
            b: Some(6),
            k: None,
            attack: "gaussian".into(),
            corruption: "classic".into(),
            q: 6,
            clean: false,
            batch: 32,
            lr: 0.1,
            dirichlet: None,
            nnm: None,
            bucket: None,
        }
    }

    #[test]
    fn seed_text_is_pinned_and_keeps_the_earlier_streams() {
        let c = sample();
        // pinned: a change here changes every MLP stream (regenerate reports/mlp with it)
        assert_eq!(
            c.seed_text(),
            r#"RunConfig { label: "phocas (b=6) \"x\"", rule: "phocas", b: Some(6), k: None, attack: "gaussian", corruption: "classic", q: 6, clean: false, batch: 32, lr: 0.1 }"#
        );
        // the bytes the derived Debug gave, which keyed the committed runs
        for lr in [0.1, 0.4, 1.0, 1e-7, 0.025] {
            let c = RunConfig {
                lr,
                k: Some(3),
                ..sample()
            };
            // the derived Debug now spells the later fields too; without them set, the text
            // is the old one
            let debug = format!("{c:?}").replace(", dirichlet: None, nnm: None, bucket: None", "");
            assert_eq!(c.seed_text(), debug);
        }
        // the later settings append to the text only when set
        let c = RunConfig {
            dirichlet: Some(0.1),
            nnm: Some(4),
            ..sample()
        };
        assert!(
            c.seed_text()
                .ends_with("lr: 0.1 } (dirichlet: 0.1, nnm: 4)"),
            "{}",
            c.seed_text()
        );
    }

    #[test]
    fn built_in_figures_validate_and_per_rule_parameters_apply() {
        for (name, text) in EXPERIMENTS {
            let e = Experiment::parse(text).unwrap_or_else(|err| panic!("{name}: {err}"));
            e.validate().unwrap_or_else(|err| panic!("{name}: {err}"));
        }
        let text = EXPERIMENTS.iter().find(|e| e.0 == "rules").unwrap().1;
        let mut e = Experiment::parse(text).unwrap();
        let p = &mut e.panel[1];
        p.params.insert("bulyan".into(), 2);
        let runs = p.runs();
        let bulyan = runs.iter().find(|r| r.rule == "bulyan").unwrap();
        assert_eq!((bulyan.b, bulyan.label.as_str()), (Some(2), "bulyan (q=2)"));
        let trmean = runs.iter().find(|r| r.rule == "trmean").unwrap();
        assert_eq!((trmean.b, trmean.label.as_str()), (Some(4), "trmean (b=4)"));
        // a parameter for a rule the panel does not list is refused, naming it
        e.panel[1].params.insert("bogus".into(), 1);
        let err = e.validate().unwrap_err().to_string();
        assert!(
            err.contains("'bogus' is not one of the panel's rules"),
            "{err}"
        );
        // Bulyan beyond m >= 4q + 3 is refused
        let mut e = Experiment::parse(text).unwrap();
        e.panel[1].b = Some(6);
        assert!(e.validate().is_err());
    }
}

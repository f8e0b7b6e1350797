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

use super::observers::{Accuracy, Theorem4};
use super::{run, Buffers, Byzantine, Observer, SimSpec};
use crate::aggregators::{self, RuleParams};
use crate::attacks::{self, AttackParams};
use crate::data::{self, Dataset};
use crate::error::Error;
use crate::objectives::cnn::Cnn;
use crate::objectives::mlp::Mlp;
use crate::objectives::network::{Model, Network};
use crate::objectives::task::NetTask;
use crate::objectives::Objective;
use crate::report::chart::{self, LineChart, Panel, Series};
use crate::report::{write_table, TableBuilder};
use crate::resume;
use crate::rng::{hash_str, stream};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
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
    /// The geometric median's and centered clipping's settings (their defaults when unset).
    #[serde(default, skip_serializing_if = "RuleSettings::is_default")]
    pub settings: RuleSettings,
}

/// The settings of the geometric median and centered clipping in a run (`train --tau`,
/// `--start`, `--iters`, `--nu`; figure panels' keys of the same names), each `None` for the
/// rule's default. A rule that does not take one refuses it by name ([`aggregators::build`]).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    /// Centered clipping's radius tau.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// Where the iterations start (zero, mean, median, previous: the last round's aggregate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<aggregators::WeiszfeldStart>,
    /// Iterations: Weiszfeld's cap, or centered clipping's L.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iters: Option<usize>,
    /// The geometric median's smoothing nu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nu: Option<f64>,
}

impl RuleSettings {
    /// No setting given.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The settings given for a label: "tau=10, start=previous".
    pub fn label(&self) -> String {
        // shortest text: 10 for 10.0, 0.05 as it is
        let num = |x: f64| {
            if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{x:.0}")
            } else {
                format!("{x}")
            }
        };
        let mut v = Vec::new();
        if let Some(t) = self.tau {
            v.push(format!("tau={}", num(t)));
        }
        if let Some(s) = self.start {
            v.push(format!("start={}", s.name()));
        }
        if let Some(l) = self.iters {
            v.push(format!("iters={l}"));
        }
        if let Some(n) = self.nu {
            v.push(format!("nu={}", num(n)));
        }
        v.join(", ")
    }

    /// The settings given, as `name: value` texts (stream keys).
    fn parts(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(t) = self.tau {
            v.push(format!("tau: {t:?}"));
        }
        if let Some(s) = self.start {
            v.push(format!("start: {}", s.name()));
        }
        if let Some(l) = self.iters {
            v.push(format!("iters: {l}"));
        }
        if let Some(n) = self.nu {
            v.push(format!("nu: {n:?}"));
        }
        v
    }
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
        v.extend(self.settings.parts());
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
    /// The network: the MLP of Table 2 (default) or the CNN of Table 3.
    #[serde(default, skip_serializing_if = "Model::is_mlp")]
    pub model: Model,
    /// Evaluate test accuracy on the first N test samples only (a reduced scale, stated in
    /// the outputs); default: the whole test set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_size: Option<usize>,
}

pub(super) fn eval_size() -> usize {
    512
}
pub(super) fn l_every() -> usize {
    50
}

/// Lower end of the zoomed accuracy panels.
pub(super) const ZOOM_FROM: f64 = 0.6;

/// Result of one training run (one repeat).
#[derive(Clone, Debug)]
pub struct TrainResult {
    /// The configuration.
    pub cfg: RunConfig,
    /// Repeat index.
    pub repeat: usize,
    /// (round, test loss, test accuracy).
    pub accuracy: Vec<(usize, f64, f64)>,
    /// Top-3 test accuracy at the same rounds (the CNN's runs; empty for the MLP's).
    pub top3: Vec<f64>,
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
    if common.test_size == Some(0) {
        return bad(
            "test_size",
            "must be at least 1 (leave it out to use the whole test set)".into(),
        );
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
/// gradient matrix and its workspace (P = the network's parameter count), one batch of
/// activations per thread, the evaluation set's activations and the per-round records; a
/// round computes m batch gradients (about 6 operations per forward multiply-add and
/// example). The CNN is estimated at CIFAR-10's 3 x 32 x 32, an upper bound for 28 x 28.
fn estimate(c: &RunConfig, common: &Common) -> crate::budget::Estimate {
    let mut e = crate::budget::Estimate::default();
    let (params, width, macs) = common.model.size(3, 32, 32);
    let (m, p, batch) = (common.m as f64, params as f64, c.batch as f64);
    let width = width as f64;
    let threads = rayon::current_num_threads() as f64;
    e.memory(3.0 * 8.0 * m * p, || format!("workers = {}", common.m));
    // the CNN processes batches and the evaluation subset in chunks of its scratch (32)
    let chunk = |n: f64| match common.model {
        Model::Mlp => n,
        Model::Cnn => n.min(32.0),
    };
    match common.model {
        Model::Mlp => e.memory(3.0 * 8.0 * threads * batch * width, || {
            format!("batch = {}", c.batch)
        }),
        // one scratch a worker (the simulator keeps each worker's buffers), f32 values
        Model::Cnn => e.memory(4.0 * m * chunk(batch) * width, || {
            format!("workers = {} with the CNN's buffers", common.m)
        }),
    }
    e.memory(3.0 * 8.0 * chunk(common.eval_size as f64) * width, || {
        format!("eval_size = {}", common.eval_size)
    });
    let rr = common.rounds as f64 * common.repeats as f64;
    e.memory(64.0 * rr, || {
        format!("rounds = {} x repeats = {}", common.rounds, common.repeats)
    });
    e.work(rr * m * batch * 6.0 * macs as f64, || {
        format!(
            "rounds = {} x repeats = {} with workers = {} and batch = {}",
            common.rounds, common.repeats, common.m, c.batch
        )
    });
    e
}

fn rule_params(c: &RunConfig) -> RuleParams {
    let t = c.settings;
    RuleParams {
        nnm: c.nnm,
        bucket: c.bucket,
        tau: t.tau,
        start: t.start,
        iters: t.iters,
        nu: t.nu,
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

/// Trains once, with the network `common.model`.
pub fn train_once(
    data: &Data,
    c: &RunConfig,
    common: &Common,
    repeat: usize,
) -> Result<TrainResult, Error> {
    validate(c, common)?;
    match common.model {
        Model::Mlp => train_net(Mlp::new(data.train.clone())?, data, c, common, repeat),
        Model::Cnn => train_net(Cnn::new(data.train.clone())?, data, c, common, repeat),
    }
}

/// The test set of a run: the whole set, or its first `test_size` samples.
fn test_set(data: &Data, common: &Common) -> Arc<Dataset> {
    match common.test_size {
        Some(n) if n < data.test.n => {
            let t = &data.test;
            Arc::new(Dataset {
                images: t.images[..n * t.pixels()].to_vec(),
                labels: t.labels[..n].to_vec(),
                n,
                channels: t.channels,
                rows: t.rows,
                cols: t.cols,
            })
        }
        _ => data.test.clone(),
    }
}

fn train_net<N: Network>(
    net: N,
    data: &Data,
    c: &RunConfig,
    common: &Common,
    repeat: usize,
) -> Result<TrainResult, Error> {
    let key = hash_str(&c.seed_text());
    let mut rng = stream(common.seed, key, u64::MAX - repeat as u64);
    let mut task = NetTask::new(net.clone(), c.batch, common.eval_size, &mut rng);
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
    let mut x = net.init_params(&mut rng);
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
        net,
        test: test_set(data, common),
        rows: Vec::new(),
        keep_top3: !common.model.is_mlp(),
        top3: Vec::new(),
    };
    let byz = Byzantine {
        corruption: corruption.as_ref(),
        attack: attack.as_ref(),
        q,
    };
    let mut t4 = common
        .theorem4
        .then(|| Theorem4::new(task.dim(), common.l_every));
    let mut observers: Vec<&mut dyn Observer<NetTask<N>>> = vec![&mut acc];
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
        top3: acc.top3,
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
    let mut top3 = vec![];
    for (i, r) in results.iter().enumerate() {
        for (k, &(t, l, a)) in r.accuracy.iter().enumerate() {
            top3.push(r.top3.get(k).copied().unwrap_or(f64::NAN));
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
        .f64("test_accuracy", acc);
    if results.iter().any(|r| !r.top3.is_empty()) {
        // the CNN's runs: top-3 accuracy, the paper's CNN metric (the MLP's tables keep
        // their columns)
        df = df.f64("test_top3_accuracy", top3);
    }
    let mut df = df
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
pub(super) fn mean_sd(v: &[f64]) -> (f64, f64) {
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

/// Checkpoint key of one run: its label and a hash of everything that determines its numbers
/// (the run's config, the shared settings except the number of repeats, the repeat index).
pub(super) fn run_key(r: &RunConfig, common: &Common, rep: usize) -> String {
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
    // settings added since, spelled only when they differ from their defaults
    let mut tail = String::new();
    if !c.model.is_mlp() {
        tail.push_str(&format!(" model: {}", c.model));
    }
    if let Some(n) = c.test_size {
        tail.push_str(&format!(" test_size: {n}"));
    }
    format!(
        "Common {{ m: {}, rounds: {}, repeats: {}, eval_every: {}, seed: {}, theorem4: {}, eval_size: {}, l_every: {}, attack_params: AttackParams {{ gaussian_sigma: {:?}, omniscient_c: {:?}, omniscient_include_byzantine: {}, bitflip_bits: {:?}, gambler_factor: {:?}, constant_value: {:?}, little_z: {:?}, ipm_eps: {:?}, adaptive_offset: {:?}, shard_servers: {}, shard_p: {:?}, first_coords: {}{extra} }} }}{tail}",
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
pub(super) fn to_record(r: &TrainResult) -> resume::Record {
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
    if !r.top3.is_empty() {
        // last, so the MLP's records (5 or 11 fields) keep their layout
        f.push(r.top3.clone());
    }
    f
}

/// The inverse of [`to_record`]; None if the record has the wrong shape.
pub(super) fn from_record(
    cfg: &RunConfig,
    repeat: usize,
    f: &resume::Record,
) -> Option<TrainResult> {
    // 5 fields, 11 with Theorem 4, one more with top-3 accuracy (the CNN)
    let (f, top3) = match f.len() {
        5 | 11 => (&f[..], Vec::new()),
        6 | 12 => (&f[..f.len() - 1], f[f.len() - 1].clone()),
        _ => return None,
    };
    let n = f[0].len();
    if !top3.is_empty() && top3.len() != n {
        return None;
    }
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
        top3,
        theorem4,
        seconds: (f[3][0], f[3][1]),
        diverged_at: f[4].first().map(|&t| t as usize),
    })
}

#[cfg(test)]
mod seed_tests {
    use super::{aggregators, common_key_text, Common, RuleSettings, RunConfig};

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
            model: Default::default(),
            test_size: None,
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
            format!("{c3:?}")
                .replace(", mimic_scale: 1.0", "")
                .replace(", model: Mlp, test_size: None", "")
        );
        // the CNN's settings are appended, so they key their own runs
        let mut c4 = c.clone();
        c4.model = crate::objectives::network::Model::Cnn;
        c4.test_size = Some(1000);
        assert!(common_key_text(&c4).ends_with("first_coords: 0 } } model: cnn test_size: 1000"));
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
            settings: RuleSettings::default(),
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
            let debug = format!("{c:?}").replace(
                ", dirichlet: None, nnm: None, bucket: None, settings: RuleSettings { tau: None, start: None, iters: None, nu: None }",
                "",
            );
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
        let c = RunConfig {
            rule: "cclip".into(),
            b: None,
            settings: RuleSettings {
                tau: Some(10.0),
                start: Some(aggregators::WeiszfeldStart::Previous),
                iters: Some(3),
                nu: None,
            },
            ..sample()
        };
        assert!(
            c.seed_text()
                .ends_with("lr: 0.1 } (tau: 10.0, start: previous, iters: 3)"),
            "{}",
            c.seed_text()
        );
    }
}

//! The paper's MLP figures (section 5, figures 2-4, Theorem 4 on the MLP), the later ones
//! (every rule, Dirichlet splits) and the CNN's (Table 3, the appendix): each an [`Experiment`] of panels whose runs are
//! [`train_once`] calls, checkpointed by [`run_key`], written as tables and charts by
//! `phocas reproduce`.

use super::train::{
    accuracy_bands, accuracy_panel, from_record, load_data, mean_sd, run_key, to_record,
    train_once, validate, write_runs, Common, RunConfig, TrainResult, ZOOM_FROM,
};
use crate::aggregators;
use crate::attacks::AttackParams;
use crate::data;
use crate::error::Error;
use crate::montecarlo::checkpoint::RunId;
use crate::report::chart::{self, LineChart, Panel, Series};
use crate::report::{write_table, TableBuilder};
use crate::resume;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

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
    ("cnn-fig2", include_str!("../../experiments/cnn/fig2.toml")),
    ("cnn-fig3", include_str!("../../experiments/cnn/fig3.toml")),
    ("cnn-fig4", include_str!("../../experiments/cnn/fig4.toml")),
    (
        "cnn-theorem4",
        include_str!("../../experiments/cnn/theorem4.toml"),
    ),
];

/// Figures `phocas report` does not run: their results are not committed yet (cnn-fig4's
/// batches of 128 and 256 cost 4 and 8 times a batch-32 run: about 45 min on 2 cores), so a
/// full report on a clean checkout reuses every committed run instead of starting them.
pub const NOT_IN_REPORT: &[&str] = &["cnn-fig4"];

/// The CNN's paper-scale configs (CIFAR-10, Table 1), checked by the tests; run with
/// `--config experiments/cnn/cifar/<fig>.toml`.
pub const CIFAR_CONFIGS: &[(&str, &str)] = &[
    (
        "fig2",
        include_str!("../../experiments/cnn/cifar/fig2.toml"),
    ),
    (
        "fig3",
        include_str!("../../experiments/cnn/cifar/fig3.toml"),
    ),
    (
        "fig4",
        include_str!("../../experiments/cnn/cifar/fig4.toml"),
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
    /// (heterogeneous data: Dirichlet splits, with NNM and bucketing), cnn-fig2, cnn-fig3,
    /// cnn-fig4, cnn-theorem4 (the CNN of Table 3 at a reduced scale; experiments/cnn/cifar/ holds the
    /// paper's CIFAR-10 settings for --config) or all.
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
    /// Directory with the four MNIST-format files, or CIFAR-10's binary files (for the CNN).
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
        let cnn = !exp.common.model.is_mlp();
        // a figure evaluated on part of the test set says so in every chart title
        let scale = exp.common.test_size.map_or(String::new(), |n| {
            format!(
                " [{} rounds, {} repeat(s), first {n} test images]",
                exp.common.rounds, exp.common.repeats
            )
        });
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
                let top3 = |f: fn(&[f64]) -> f64| -> Vec<f64> {
                    results
                        .iter()
                        .filter(|r| r.cfg.label == label && !r.top3.is_empty())
                        .map(|r| f(&r.top3))
                        .collect()
                };
                let finals3 = top3(|v| v.last().copied().unwrap_or(f64::NAN));
                let bests3 = top3(|v| v.iter().copied().fold(f64::NAN, f64::max));
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
                    [mean(&finals3), sd(&finals3), mean(&bests3), sd(&bests3)],
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
                    title: format!("{}{scale}", p.title),
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
                            (format!("{}: batch {bs}, gamma {lr}{scale}", p.title), rs)
                        })
                        .collect()
                } else {
                    vec![(format!("{}{scale}", p.title), results.clone())]
                };
                for (title, rs) in &groups {
                    // the CNN's charts show top-3 accuracy, the paper's CNN metric
                    let rs = &if cnn { top3_view(rs) } else { rs.clone() };
                    let metric = |mut panel: Panel| {
                        if let (true, Panel::Lines(l)) = (cnn, &mut panel) {
                            l.y_label = "top-3 test accuracy".into();
                        }
                        panel
                    };
                    panels.push(metric(accuracy_panel(title, rs, false)));
                    // the zoomed panel only when some mean curve reaches the zoom range
                    if accuracy_bands(rs)
                        .values()
                        .any(|b| b.iter().any(|x| x.1 >= ZOOM_FROM))
                    {
                        panels.push(metric(accuracy_panel(title, rs, true)));
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
            .f64("best_accuracy_sd", summary.iter().map(|s| s.5).collect());
        if cnn {
            for (k, col) in [
                "final_top3_mean",
                "final_top3_sd",
                "best_top3_mean",
                "best_top3_sd",
            ]
            .iter()
            .enumerate()
            {
                df = df.f64(col, summary.iter().map(|s| s.6[k]).collect());
            }
        }
        let mut df = df.build()?;
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
                "{:<14} {:<34} {:>8.4} +- {:<5.3} {:>8.4} +- {:<5.3}{}",
                s.0,
                s.1,
                s.2,
                s.3,
                s.4,
                s.5,
                if cnn {
                    format!("   top-3 final {:.4}, best {:.4}", s.6[0], s.6[2])
                } else {
                    String::new()
                }
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

/// Copies of `rs` whose accuracy column holds the top-3 accuracy (the CNN's runs).
fn top3_view(rs: &[TrainResult]) -> Vec<TrainResult> {
    rs.iter()
        .map(|r| {
            let mut r = r.clone();
            for (a, &t) in r.accuracy.iter_mut().zip(&r.top3) {
                a.2 = t;
            }
            r
        })
        .collect()
}

/// The common settings of a panel (its attack parameters applied).
fn panel_common(common: &Common, p: &PanelConfig) -> Common {
    let mut c = common.clone();
    if let Some(ap) = &p.attack_params {
        c.attack_params = ap.clone();
    }
    c
}

/// Theorem 4 on the network (MLP or CNN): running mean of ||grad F(x_t)||^2 (evaluation subset) against
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
                title: format!(
                    "Theorem 4 on the {} (evaluation subset; F* taken as 0)",
                    common.model.name().to_uppercase()
                ),
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
    println!("Theorem 4 on the {}:", common.model.name().to_uppercase());
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
mod tests {
    use super::{Experiment, CIFAR_CONFIGS, EXPERIMENTS};
    use crate::objectives::network::Model;
    #[test]
    fn built_in_figures_validate_and_per_rule_parameters_apply() {
        for (name, text) in EXPERIMENTS.iter().chain(CIFAR_CONFIGS) {
            let e = Experiment::parse(text).unwrap_or_else(|err| panic!("{name}: {err}"));
            e.validate().unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(
                e.common.model == Model::Cnn,
                name.starts_with("cnn") || text.contains("CIFAR-10 settings for the CNN"),
                "{name}"
            );
        }
        // the CIFAR-10 configs carry Table 1's settings for the CNN
        for (name, text) in CIFAR_CONFIGS {
            let e = Experiment::parse(text).unwrap();
            assert_eq!(
                (e.common.rounds, e.common.repeats, e.common.test_size),
                (4000, 10, None),
                "{name}"
            );
            for p in &e.panel {
                assert_eq!(p.lr, 5e-4, "{name}");
                if !p.lr_scales_with_batch {
                    assert_eq!(p.batches, vec![128], "{name}");
                }
            }
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

//! `phocas reproduce`: the figures of [`super::figures`] trained run by run, each run one
//! checkpoint line (so an interrupted figure resumes), then written as tables and charts. With
//! `--shard I/N` a process trains only its share of the runs and writes no tables; `phocas
//! merge` on the shards' folders ([`merge_shards`]) gathers their checkpoints into one folder
//! and writes the same tables, byte for byte, as one unsharded run.

use super::figures::{panel_common, parse_pre, Experiment, EXPERIMENTS};
use super::theorem4::theorem4_outputs;
use super::train::{
    accuracy_bands, accuracy_panel, from_record, load_data, mean_sd, run_key, to_record,
    train_once, write_runs, Common, Data, RunConfig, TrainResult, ZOOM_FROM,
};
use crate::error::Error;
use crate::fsutil::canonical;
use crate::report::chart::{self, LineChart, Panel, Series};
use crate::report::manifest::Manifest;
use crate::report::{write_table, TableBuilder};
use crate::resume;
use crate::run::{RunId, Shard};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Options of `phocas reproduce`.
#[derive(Debug, Clone)]
pub struct ReproduceOptions {
    /// fig2, fig3, fig4, theorem4, rules (every rule under seven attacks), dirichlet
    /// (heterogeneous data: Dirichlet splits, with NNM and bucketing), cnn-fig2, cnn-fig3,
    /// cnn-fig4, cnn-theorem4 (the CNN of Table 3 at a reduced scale; experiments/cnn/cifar/ holds the
    /// paper's CIFAR-10 settings for --config) or all.
    pub figure: String,
    /// Override the repeats of the config (the paper used 10).
    pub repeats: Option<usize>,
    /// Override the rounds (the paper used 500).
    pub rounds: Option<usize>,
    /// Use this config file instead of the built-in one.
    pub config: Option<PathBuf>,
    /// Directory with the four MNIST-format files, or CIFAR-10's binary files (for the CNN).
    pub data_dir: PathBuf,
    /// Output folder (one subfolder per figure). Default:
    /// `runs/reproduce-<figure>-<hash of the settings>/` (reports/mlp holds the committed runs of
    /// `phocas report`).
    pub out: Option<PathBuf>,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Train only shard I of N of every figure's runs (0-based; runs assigned by a stable hash
    /// of their key), e.g. one task of a Slurm job array (experiments/slurm/). No tables are
    /// written; `phocas merge` on the N shards' --out folders writes the same tables as one
    /// unsharded run.
    pub shard: Option<Shard>,
}

/// Files that show a figure folder holds results: without the run.json of this very run, the
/// folder is refused (the committed reference runs in reports/ carry no run.json, so a trial
/// `reproduce` or `merge` never overwrites them).
const MARKERS: &[&str] = &[resume::LOG, "summary.csv", "rounds.csv"];

/// One figure to run: its name, its parsed config (overrides applied) and the config text.
struct Figure {
    name: String,
    exp: Experiment,
    text: String,
    /// --repeats (not part of the run's identity: a run is one repeat, so more repeats reuse
    /// the first ones; a shard records it in [`SHARD_FILE`] for the merge).
    repeats: Option<usize>,
}

impl Figure {
    /// Parses `text` (the built-in config or `origin`'s), applies the overrides, validates.
    fn prepare(
        name: &str,
        text: String,
        repeats: Option<usize>,
        rounds: Option<usize>,
        origin: &Path,
    ) -> Result<Self, Error> {
        let mut exp =
            Experiment::parse(&text).map_err(|e| crate::montecarlo::config::in_file(e, origin))?;
        if let Some(r) = repeats {
            exp.common.repeats = r;
        }
        if let Some(r) = rounds {
            exp.common.rounds = r;
        }
        exp.validate()?;
        Ok(Self {
            name: name.into(),
            exp,
            text,
            repeats,
        })
    }

    /// The run's identity: what determines its checkpoint lines. `options` holds the rounds
    /// and the data folder.
    fn id(&self, data_dir: &Path, shard: Option<Shard>) -> RunId {
        RunId {
            command: format!("reproduce {}", self.name),
            version: env!("CARGO_PKG_VERSION").into(),
            config: self.text.clone(),
            seed: self.exp.common.seed,
            trials: None,
            shard,
            options: format!(
                "rounds={} data={}",
                self.exp.common.rounds,
                canonical(data_dir).display()
            ),
        }
    }
}

/// What a shard's folder records beside run.json for the merge: the --repeats it ran with.
const SHARD_FILE: &str = "shard.json";

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Eq)]
struct ShardSettings {
    repeats: Option<usize>,
}

/// Reads back what [`Figure::id`] wrote in `options`: rounds, data folder.
fn parse_options(options: &str) -> Option<(usize, PathBuf)> {
    let rest = options.strip_prefix("rounds=")?;
    let (rounds, rest) = rest.split_once(' ')?;
    Some((rounds.parse().ok()?, rest.strip_prefix("data=")?.into()))
}

/// The settings a shard recorded (none for a folder without [`SHARD_FILE`]).
fn shard_settings(dir: &Path) -> Result<ShardSettings, Error> {
    let p = dir.join(SHARD_FILE);
    match std::fs::read_to_string(&p) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| {
            Error::Invalid(format!(
                "{}: unreadable ({e}): the shard folder is damaged; rerun that shard",
                p.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ShardSettings { repeats: None }),
        Err(e) => Err(Error::io(p, e)),
    }
}

/// The data set, loaded when the first run needs training (a merge or a finished figure
/// never loads it).
struct LazyData {
    dir: PathBuf,
    data: Option<Data>,
}

impl LazyData {
    fn get(&mut self) -> Result<&Data, Error> {
        if self.data.is_none() {
            self.data = Some(load_data(&self.dir)?);
        }
        Ok(self.data.as_ref().expect("loaded above"))
    }
}

/// `phocas reproduce`.
pub fn reproduce_cli(a: &ReproduceOptions) -> Result<(), Error> {
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
    let mut figs = Vec::new();
    for name in &names {
        let text = match &a.config {
            Some(p) => std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?,
            None => EXPERIMENTS
                .iter()
                .find(|e| e.0 == *name)
                .map(|e| e.1.to_string())
                .unwrap_or_default(),
        };
        let origin = a.config.clone().unwrap_or_else(|| PathBuf::from(name));
        figs.push(Figure::prepare(name, text, a.repeats, a.rounds, &origin)?);
    }
    // the shard is part of the default folder's name: each shard gets its own
    let settings = format!(
        "{:?}\u{1f}{:?}\u{1f}{}\u{1f}{}{}",
        a.repeats,
        a.rounds,
        canonical(&a.data_dir).display(),
        figs.iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join("\u{1f}"),
        a.shard
            .map_or(String::new(), |s| format!("\u{1f}{}/{}", s.index, s.count))
    );
    let root = crate::outdir::resolve(a.out.as_deref(), "reproduce", &a.figure, &settings);
    crate::interrupt::install();
    let mut data = LazyData {
        dir: a.data_dir.clone(),
        data: None,
    };
    for f in &figs {
        let id = f.id(&a.data_dir, a.shard);
        run_figure(f, &root.join(&f.name), &id, &mut data, a.quiet, &[])?;
    }
    if let Some(s) = a.shard {
        println!(
            "shard {}/{} finished in {}; once every shard has, `phocas merge` on the {} shards' folders writes the tables",
            s.index,
            s.count,
            root.display(),
            s.count
        );
    }
    Ok(())
}

/// Whether `phocas merge` should treat `dir` as a shard of `reproduce`: it holds a figure
/// folder of `reproduce` (its `--out`), or is one, or holds a run.json that cannot be read (the
/// merge of figures then says so).
pub fn is_reproduce_folder(dir: &Path) -> bool {
    figure_folders(dir).map_or(true, |f| !f.is_empty())
}

/// The figure folders of a `reproduce` output folder (or the folder itself, if it is one), by
/// figure name. Only the names of [`EXPERIMENTS`] count (a forged run.json cannot name a path);
/// an unreadable run.json is an error.
fn figure_folders(dir: &Path) -> Result<BTreeMap<String, (PathBuf, RunId)>, Error> {
    let mut found = BTreeMap::new();
    let look = |found: &mut BTreeMap<_, _>, d: PathBuf| -> Result<(), Error> {
        if let Some(id) = RunId::load(&d)? {
            if let Some(name) = id.command.strip_prefix("reproduce ") {
                if EXPERIMENTS.iter().any(|e| e.0 == name) {
                    found.insert(name.to_string(), (d, id));
                }
            }
        }
        Ok(())
    };
    if RunId::load(dir)?.is_some() {
        look(&mut found, dir.to_path_buf())?;
        return Ok(found);
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut subs: Vec<PathBuf> = rd
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.is_dir())
            .collect();
        subs.sort();
        for s in subs {
            look(&mut found, s)?;
        }
    }
    Ok(found)
}

/// `phocas merge` on the output folders of `reproduce --shard I/N` (every shard of one
/// command): each figure's checkpoints are gathered into `out/<figure>/` and its tables and
/// charts written from them, the same bytes as one unsharded `reproduce --out out`. Refuses
/// shards of different runs, a missing or repeated shard, and runs that no shard finished.
pub fn merge_shards(parts: &[PathBuf], out: Option<&Path>) -> Result<(), Error> {
    let mut by_fig: BTreeMap<String, Vec<(PathBuf, RunId)>> = BTreeMap::new();
    for p in parts {
        let figs = figure_folders(p)?;
        if figs.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: holds no output of `phocas reproduce --shard I/N`: pass the --out folder of each shard",
                p.display()
            )));
        }
        for (name, f) in figs {
            by_fig.entry(name).or_default().push(f);
        }
    }
    let tag = by_fig.keys().cloned().collect::<Vec<_>>().join("+");
    let mut plans = Vec::new();
    for (name, shards) in &by_fig {
        let (p0, first) = &shards[0];
        let refs: Vec<(&Path, &RunId)> = shards.iter().map(|(p, id)| (p.as_path(), id)).collect();
        crate::run::check_shards(name, &refs)?;
        let settings = shard_settings(p0)?;
        for (p, _) in shards {
            if shard_settings(p)? != settings {
                return Err(Error::Invalid(format!(
                    "{} and {} ran with different --repeats: merge only the shards of one command",
                    p0.display(),
                    p.display()
                )));
            }
        }
        let repeats = settings.repeats;
        let (rounds, data_dir) = parse_options(&first.options).ok_or_else(|| {
            Error::Invalid(format!(
                "{}: run.json's options '{}' are not those of `phocas reproduce`: the folder is damaged or from another version",
                p0.display(),
                first.options
            ))
        })?;
        let f = Figure::prepare(
            name,
            first.config.clone(),
            repeats,
            Some(rounds),
            Path::new(name),
        )?;
        let id = f.id(&data_dir, None);
        if id.fingerprint() != first.fingerprint() {
            return Err(Error::Invalid(format!(
                "{}: this version ({}) cannot reproduce the identity of these shards (version {}): merge with the binary that ran them",
                p0.display(),
                env!("CARGO_PKG_VERSION"),
                first.version
            )));
        }
        let dirs: Vec<PathBuf> = shards.iter().map(|s| s.0.clone()).collect();
        plans.push((f, id, data_dir, dirs));
    }
    let fps: Vec<String> = plans.iter().map(|p| p.1.fingerprint()).collect();
    let root = crate::outdir::resolve(out, "merge", &tag, &fps.join(""));
    crate::run::check_merge_out(&root, parts, "figures")?;
    crate::interrupt::install();
    for (f, id, data_dir, dirs) in &plans {
        let mut data = LazyData {
            dir: data_dir.clone(),
            data: None,
        };
        run_figure(f, &root.join(&f.name), id, &mut data, true, dirs)?;
    }
    Ok(())
}

/// Trains the runs of one figure that its checkpoint lacks (only `id.shard`'s share, if any),
/// then, unless sharded, writes its tables and charts into `dir`. With `imports` (a merge),
/// the shards' records are first copied into `dir`'s checkpoint, and a run none of them
/// finished is an error rather than trained.
fn run_figure(
    f: &Figure,
    dir: &Path,
    id: &RunId,
    data: &mut LazyData,
    quiet: bool,
    imports: &[PathBuf],
) -> Result<(), Error> {
    let (name, exp) = (&f.name, &f.exp);
    let mut log = resume::Log::open(dir, id, MARKERS)?;
    if !imports.is_empty() {
        let n = log.import(imports)?;
        eprintln!(
            "{name}: {n} runs gathered from {} shard folders into {}",
            imports.len(),
            log.path().display()
        );
    }
    if id.shard.is_some() {
        let text = serde_json::to_string(&ShardSettings { repeats: f.repeats })
            .map_err(|e| Error::Report(e.to_string()))?;
        crate::fsutil::write_atomic(&dir.join(SHARD_FILE), text.as_bytes())?;
    }
    let manifest = Manifest::start(
        &format!("reproduce {name}"),
        f.text.clone(),
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
    if let Some(s) = id.shard {
        jobs.retain(|j| s.owns(&j.0));
    }
    let total = jobs.len();
    if !imports.is_empty() {
        let missing: Vec<&str> = jobs
            .iter()
            .filter(|j| log.get(&j.0).is_none())
            .map(|j| j.1.label.as_str())
            .collect();
        if let Some(first) = missing.first() {
            return Err(Error::Invalid(format!(
                "{name}: {} of {total} runs are in none of the shards' checkpoints (e.g. {first}): run the unfinished shards again, then merge",
                missing.len()
            )));
        }
    }
    let reused = jobs.iter().filter(|j| log.get(&j.0).is_some()).count();
    eprintln!(
        "{name}: {total} training runs of {} rounds{} ({reused} already finished in {})",
        exp.common.rounds,
        id.shard.map_or(String::new(), |s| format!(
            " in shard {}/{}",
            s.index, s.count
        )),
        log.path().display()
    );
    let pb = crate::report::progress_bar(total, "runs", quiet);
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
                let res = match train_once(data.get()?, r, common, *rep) {
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
    if let Some(s) = id.shard {
        println!(
            "{name}: shard {}/{}: {fresh} runs trained in {secs:.1} s, {} reused; no tables (merge the shards)",
            s.index,
            s.count,
            total - fresh
        );
        return Ok(());
    }
    write_outputs(
        f,
        dir,
        &finished,
        manifest,
        (secs, fresh, fresh_samples, total),
    )
}

/// Writes one figure's tables (rounds, summary), charts, Theorem 4 outputs (if tracked) and
/// manifest from its finished runs, and prints its summary.
fn write_outputs(
    f: &Figure,
    dir: &Path,
    finished: &HashMap<String, TrainResult>,
    manifest: Manifest,
    (secs, fresh, fresh_samples, total): (f64, usize, f64, usize),
) -> Result<(), Error> {
    let (name, exp) = (&f.name, &f.exp);
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
    // each chart panel's data split (Dirichlet alpha's bits; None: i.i.d.)
    let mut split_of: Vec<Option<u64>> = Vec::new();
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
            // one pair of panels per batch size (figure 4), like the paper's sub-figures;
            // one panel per pre-aggregation step (each with Mean without Byzantine), unzoomed
            let by_pre = p.pre.len() > 1;
            let groups: Vec<(String, Vec<TrainResult>)> = if by_pre {
                let several = p.batches.len() > 1;
                p.batches
                    .iter()
                    .flat_map(|&bs| p.pre.iter().map(move |pre| (bs, pre)))
                    .map(|(bs, pre)| {
                        let (nnm, bucket) = parse_pre(pre, p.q).unwrap_or((None, None));
                        let rs: Vec<TrainResult> = results
                            .iter()
                            .filter(|r| r.cfg.batch == bs)
                            .filter(|r| r.cfg.clean || (r.cfg.nnm, r.cfg.bucket) == (nnm, bucket))
                            .cloned()
                            .collect();
                        let what = match (nnm, bucket) {
                            (Some(f), _) => format!("after NNM (f = {f})"),
                            (_, Some(s)) => format!("after bucketing (s = {s})"),
                            _ => "rules alone".into(),
                        };
                        let batch = if several {
                            format!(", batch {bs}")
                        } else {
                            String::new()
                        };
                        (format!("{}: {what}{batch}{scale}", p.title), rs)
                    })
                    .collect()
            } else if p.batches.len() > 1 {
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
                if !by_pre
                    && accuracy_bands(rs)
                        .values()
                        .any(|b| b.iter().any(|x| x.1 >= ZOOM_FROM))
                {
                    panels.push(metric(accuracy_panel(title, rs, true)));
                }
            }
        }
        split_of.resize(panels.len(), p.dirichlet.map(f64::to_bits));
        all_panels.extend(std::iter::repeat_n(p.name.clone(), results.len()));
        all.extend(results);
    }
    write_runs(&all, &all_panels, dir, "rounds")?;
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
    write_table(&mut df, dir, "summary")?;
    save_charts(panels, &split_of, &exp.panel, dir, name)?;
    if exp.common.theorem4 {
        theorem4_outputs(&all, &exp.common, dir)?;
    }
    let mut manifest = manifest;
    manifest
        .rows
        .insert("rounds".into(), all.iter().map(|r| r.accuracy.len()).sum());
    manifest.finish(dir)?;
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
    Ok(())
}

/// Saves a figure's chart panels: one file, two panels across; a figure whose panels differ
/// in their data split (the Dirichlet figure) gets one file per split (`name`, `name-2`, ...,
/// in the order the splits first appear), three panels across when its panels compare
/// pre-aggregation steps.
fn save_charts(
    panels: Vec<Panel>,
    split_of: &[Option<u64>],
    configs: &[super::figures::PanelConfig],
    dir: &Path,
    name: &str,
) -> Result<(), Error> {
    let cols = if configs.iter().any(|p| p.pre.len() > 1) {
        3
    } else {
        2
    };
    let mut splits: Vec<Option<u64>> = Vec::new();
    for s in split_of {
        if !splits.contains(s) {
            splits.push(*s);
        }
    }
    // pages of an earlier run with more splits would linger beside the new ones
    let mut k = splits.len().max(1);
    while dir
        .join(format!("{}.png", chart::page_stem(name, k)))
        .exists()
    {
        for ext in ["png", "svg"] {
            let stale = dir.join(format!("{}.{ext}", chart::page_stem(name, k)));
            if stale.exists() {
                std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
            }
        }
        k += 1;
    }
    if splits.len() <= 1 {
        return chart::save(&panels, cols, (760, 500), dir, name);
    }
    let mut pages: Vec<Vec<Panel>> = splits.iter().map(|_| Vec::new()).collect();
    for (p, s) in panels.into_iter().zip(split_of) {
        if let Some(k) = splits.iter().position(|x| x == s) {
            pages[k].push(p);
        }
    }
    for (k, page) in pages.iter().enumerate() {
        chart::save(page, cols, (760, 500), dir, &chart::page_stem(name, k))?;
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

//! Monte Carlo verification of the paper's bounds (`phocas verify-bounds`).
//!
//! For every cell of a grid (rule, parameters, distribution, corruption, attack, m, q, b, d, n)
//! the engine draws N i.i.d. gradient matrices with known g and V, corrupts them, aggregates,
//! and estimates E||Aggr - g||^2 with a 95% confidence interval; it then sets the estimate
//! against Delta0 (Lemma 1), Delta1 (Theorem 1) or Delta2 (Theorem 2). Verdicts: `holds`
//! (CI high <= bound), `violated` (CI low > bound, or a non-finite error), `inconclusive`,
//! `n/a` (no bound applies), `unbounded` (no bound, and the error grows with the attack
//! magnitude or is not finite: Propositions 1-3).

pub mod checkpoint;
pub mod config;
pub mod engine;
pub mod grid;
pub mod hetero;
pub mod kappa;
pub mod output;
pub mod paired;
pub mod stats;
pub mod verdict;

use crate::error::Error;
use checkpoint::{Checkpoint, RunId, Shard};
use config::Config;
use engine::{finish_cell, mark_growth, simulate_cell, CellResult};
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::path::PathBuf;

/// Options of `phocas verify-bounds`.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Grid config (TOML). Default: the built-in experiments/verify-bounds.toml.
    pub config: Option<PathBuf>,
    /// Run the reduced grid (experiments/verify-bounds-quick.toml) in seconds.
    pub quick: bool,
    /// Trials per cell, overriding the config.
    pub trials: Option<usize>,
    /// Master seed, overriding the config.
    pub seed: Option<u64>,
    /// Output folder. Default: `runs/verify-bounds-<grid>-<hash of the settings>/`, one per
    /// setting (reports/ holds the committed runs of `phocas report`).
    pub out: Option<PathBuf>,
    /// Skip the charts (tables and summary only).
    pub no_charts: bool,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Run only shard I of N (cells assigned by a stable hash of their key); combine the
    /// parts with `phocas merge`.
    pub shard: Option<Shard>,
}

/// Options of `phocas merge`.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// Output folders of the shards (`verify-bounds --shard I/N --out DIR`, or `reproduce FIGURE
    /// --shard I/N --out DIR`: then the merged figures go to OUT/FIGURE/).
    pub parts: Vec<PathBuf>,
    /// Folder for the merged tables and charts. Default: `runs/merge-<grid>-<hash of the run>/`
    /// (for figures: `runs/merge-<figure names joined by +>-<hash>/`).
    pub out: Option<PathBuf>,
    /// Skip the charts (verify-bounds shards).
    pub no_charts: bool,
}

use crate::interrupt::{self, STOP};

/// Loads the config selected by the arguments, with overrides applied.
pub fn load_config(args: &VerifyOptions) -> Result<(Config, String), Error> {
    let text = match (&args.config, args.quick) {
        (Some(p), _) => std::fs::read_to_string(p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Config {
                    key: p.display().to_string(),
                    msg: "file not found: pass an existing TOML file to --config, or omit it to use the built-in grid".into(),
                }
            } else {
                Error::io(p, e)
            }
        })?,
        (None, true) => config::QUICK_CONFIG.to_string(),
        (None, false) => config::DEFAULT_CONFIG.to_string(),
    };
    let mut cfg = Config::parse(&text).map_err(|e| match &args.config {
        Some(p) => config::in_file(e, p),
        None => e,
    })?;
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(t) = args.trials {
        if t < 2 {
            return Err(Error::Invalid(format!(
                "--trials {t}: at least 2 trials are needed for a confidence interval"
            )));
        }
    }
    Ok((cfg, text))
}

fn progress(n: usize, quiet: bool) -> ProgressBar {
    crate::report::progress_bar(n, "cells", quiet)
}

/// Writes tables, charts and the manifest of finished results.
fn write_outputs(
    results: &[CellResult],
    pairs: &[paired::Pair<'_>],
    cfg: &Config,
    out: &std::path::Path,
    charts: bool,
    manifest: crate::report::manifest::Manifest,
) -> Result<(), Error> {
    let rows = output::write_results(results, cfg, out)?;
    let tight = output::write_tightness(results, out)?;
    let npairs = output::write_paired(pairs, out, charts)?;
    if charts {
        output::write_charts(results, out)?;
    }
    let mut manifest = manifest;
    manifest.rows.insert("results".into(), rows);
    manifest.rows.insert("tightness".into(), tight);
    manifest.rows.insert("paired".into(), npairs);
    manifest.finish(out)?;
    Ok(())
}

/// Takes the per-trial errors out of finished cells, and simulates again (same streams, so
/// the same bits) the cells that take part in a paired comparison but were restored from a
/// checkpoint without them.
fn paired_errors(
    cfg: &Config,
    cells: &[config::Cell],
    done: &mut std::collections::HashMap<String, engine::CellRaw>,
) -> Result<std::collections::HashMap<String, Vec<f64>>, Error> {
    let need = paired::needed(cells);
    let mut errors = std::collections::HashMap::new();
    for (k, raw) in done.iter_mut() {
        if need.contains(k) && !raw.errors.is_empty() {
            errors.insert(k.clone(), std::mem::take(&mut raw.errors));
        }
    }
    let redo: Vec<&config::Cell> = cells
        .iter()
        .filter(|c| need.contains(&c.key()) && !errors.contains_key(&c.key()))
        .collect();
    if !redo.is_empty() {
        eprintln!(
            "paired comparisons: simulating {} restored cells again for their per-trial errors",
            redo.len()
        );
        let again = redo
            .par_iter()
            .map(|c| simulate_cell(cfg, c, &STOP).map(|r| (c.key(), r.errors)))
            .collect::<Result<Vec<_>, _>>()?;
        errors.extend(again);
    }
    Ok(errors)
}

/// Runs the config's `[kappa]` and `[heterogeneity]` sections, if any, into `out` (kappa.csv,
/// heterogeneity.csv, their charts, kappa witnesses); returns their console text. They are not
/// checkpointed: a resumed or merged run computes them again (the same streams, so the same
/// numbers). `trials` overrides the heterogeneity section's trials (`--trials`).
fn extra_sections(
    cfg: &Config,
    out: &std::path::Path,
    charts: bool,
    quiet: bool,
    trials: Option<usize>,
) -> Result<String, Error> {
    let mut text = String::new();
    if let Some(k) = &cfg.kappa {
        let t = std::time::Instant::now();
        let rows = kappa::run(k, cfg.seed, quiet)?;
        kappa::write(&rows, out, charts)?;
        text.push_str(&format!(
            "{}  ({:.1} s; table: {}/kappa.csv)\n",
            kappa::text(&rows).trim_end(),
            t.elapsed().as_secs_f64(),
            out.display()
        ));
    }
    if let Some(h) = &cfg.heterogeneity {
        let t = std::time::Instant::now();
        let rows = hetero::run(
            h,
            trials,
            (cfg.seed, cfg.v, cfg.g_norm),
            &cfg.attack_params,
            quiet,
        )?;
        hetero::output::write(&rows, out, charts)?;
        text.push_str(&format!(
            "{}  ({:.1} s; table: {}/heterogeneity.csv)\n",
            hetero::output::text(&rows).trim_end(),
            t.elapsed().as_secs_f64(),
            out.display()
        ));
    }
    Ok(text)
}

/// `phocas verify-bounds`: runs the grid (or one shard of it) with checkpoints, so an
/// interrupted run resumes where it stopped.
pub fn run(args: &VerifyOptions) -> Result<(), Error> {
    let (cfg, text) = load_config(args)?;
    let (all, skipped) = cfg.cells(args.trials);
    let cells: Vec<_> = match args.shard {
        Some(sh) => all.into_iter().filter(|c| sh.owns(&c.key())).collect(),
        None => all,
    };
    crate::budget::check(
        "verify-bounds",
        &engine::estimate(&cells, rayon::current_num_threads()),
        "lower its trials (or --trials), m or d, or run the grid in shards with --shard I/N",
    )?;
    let total_trials: usize = cells.iter().map(|c| c.trials).sum();
    let id = RunId {
        command: "verify-bounds".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        config: text.clone(),
        seed: cfg.seed,
        trials: args.trials,
        shard: args.shard,
        options: String::new(),
    };
    let out = crate::outdir::resolve(
        args.out.as_deref(),
        "verify-bounds",
        &crate::outdir::grid_label(args.config.as_deref(), args.quick),
        // spelled out (the bytes the derived Debug gave), so renaming a field of `Shard` cannot
        // move a shard's default folder
        &format!(
            "{}{}",
            id.fingerprint(),
            id.shard.map_or("None".to_string(), |s| format!(
                "Some(Shard {{ index: {}, count: {} }})",
                s.index, s.count
            ))
        ),
    );
    let (_lock, mut done) = checkpoint::prepare(&out, &id)?;
    let resumed = cells.iter().filter(|c| done.contains_key(&c.key())).count();
    eprintln!(
        "verify-bounds: {} cells{} ({} skipped as out of range, {} already done), {} trials, seed {}, {} threads",
        cells.len(),
        args.shard.map_or(String::new(), |s| format!(" in shard {}/{}", s.index, s.count)),
        skipped,
        resumed,
        total_trials,
        cfg.seed,
        rayon::current_num_threads()
    );
    let manifest = crate::report::manifest::Manifest::start("verify-bounds", text, cfg.seed);
    let ckpt = Checkpoint::open(&out, &id)?;
    interrupt::install();
    let todo: Vec<_> = cells
        .iter()
        .filter(|c| !done.contains_key(&c.key()))
        .collect();
    let pb = progress(todo.len(), args.quiet);
    let t0 = std::time::Instant::now();
    let fresh: Vec<Result<(String, engine::CellRaw), Error>> = todo
        .par_iter()
        .map(|c| {
            if interrupt::stopped() {
                return Err(Error::Interrupted("stopped".into()));
            }
            let raw = simulate_cell(&cfg, c, &STOP)?;
            let key = c.key();
            ckpt.append(&key, &raw)?;
            pb.inc(1);
            Ok((key, raw))
        })
        .collect();
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let mut interrupted = false;
    for r in fresh {
        match r {
            Ok((k, raw)) => {
                done.insert(k, raw);
            }
            Err(Error::Interrupted(_)) => interrupted = true,
            Err(e) => return Err(e),
        }
    }
    if interrupted || interrupt::stopped() {
        let n = cells.iter().filter(|c| done.contains_key(&c.key())).count();
        return Err(Error::Interrupted(format!(
            "{n} of {} cells are finished and saved in {}; run the same command again to resume",
            cells.len(),
            out.join("checkpoint.tsv").display()
        )));
    }
    let t1 = std::time::Instant::now();
    let errors = paired_errors(&cfg, &cells, &mut done)?;
    let mut results: Vec<CellResult> = cells
        .iter()
        .map(|c| finish_cell(c, done.remove(&c.key()).expect("every cell finished")))
        .collect();
    mark_growth(&mut results);
    let pairs = paired::compare(&results, &errors, cfg.seed);
    let paired_secs = t1.elapsed().as_secs_f64();
    let t2 = std::time::Instant::now();
    write_outputs(&results, &pairs, &cfg, &out, !args.no_charts, manifest)?;
    let write_secs = t2.elapsed().as_secs_f64();
    // a shard leaves the kappa and heterogeneity sections to `phocas merge`
    let kappa_text = match args.shard {
        Some(_) => String::new(),
        None => extra_sections(&cfg, &out, !args.no_charts, args.quiet, args.trials)?,
    };
    // the speed of the work done now: cells reused from the checkpoint took no time
    let fresh_trials: usize = todo.iter().map(|c| c.trials).sum();
    println!(
        "{}",
        output::summary(&results, secs, (todo.len(), fresh_trials))
    );
    println!(
        "paired comparisons: {} in {paired_secs:.1} s; tables and charts written in {write_secs:.1} s",
        pairs.len(),
    );
    println!("{}", output::tightness_text(&results));
    print!("{kappa_text}");
    println!(
        "tables: {}/results.csv, results.parquet{}",
        out.display(),
        if args.no_charts {
            String::new()
        } else {
            format!("; charts: {}/*.svg, *.png", out.display())
        }
    );
    Ok(())
}

/// `phocas merge`: combines shard folders into the table a single run produces.
pub fn merge(args: &MergeOptions) -> Result<(), Error> {
    if let Some(out) = args.out.as_deref() {
        // before any shard is read
        crate::run::check_merge_out(out, &args.parts, "tables")?;
    }
    let mut ids = Vec::new();
    let mut done = std::collections::HashMap::new();
    for p in &args.parts {
        let id = RunId::load(p)?.ok_or_else(|| {
            Error::Invalid(format!(
                "{}: no run.json: not the --out folder of a verify-bounds, reproduce or converge shard: pass each shard's --out folder",
                p.display()
            ))
        })?;
        if let Some(sh) = id.shard {
            if sh.count == 0 || sh.index >= sh.count {
                return Err(Error::Invalid(format!(
                    "{}: run.json names shard {}/{}, which does not exist (need 0 <= I < N): the folder is damaged; rerun that shard",
                    p.display(),
                    sh.index,
                    sh.count
                )));
            }
        }
        done.extend(checkpoint::load(p, &id)?);
        ids.push((p, id));
    }
    let (p0, first) = &ids[0];
    let count = first.shard.map_or(1, |s| s.count);
    let mut seen = vec![false; count];
    for (p, id) in &ids {
        let same = id.version == first.version
            && id.config == first.config
            && id.seed == first.seed
            && id.trials == first.trials
            && id.shard.map_or(1, |s| s.count) == count;
        if !same {
            return Err(Error::Invalid(format!(
                "{} and {} come from different runs (version, config, seed, trials or shard count differ): merge only shards of one command",
                p0.display(),
                p.display()
            )));
        }
        let i = id.shard.map_or(0, |s| s.index);
        if std::mem::replace(&mut seen[i], true) {
            return Err(Error::Invalid(format!("shard {i}/{count} is given twice")));
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(Error::Invalid(format!(
            "shard {i}/{count} is missing: pass all {count} shard folders"
        )));
    }
    let cfg = Config::parse(&first.config)?;
    let (cells, _) = cfg.cells(first.trials);
    let missing = cells
        .iter()
        .filter(|c| !done.contains_key(&c.key()))
        .count();
    if missing > 0 {
        return Err(Error::Invalid(format!(
            "{missing} of {} cells are not finished in the shard folders: rerun the unfinished shards (they resume)",
            cells.len()
        )));
    }
    let errors = paired_errors(&cfg, &cells, &mut done)?;
    let mut results: Vec<CellResult> = cells
        .iter()
        .map(|c| finish_cell(c, done.remove(&c.key()).expect("checked above")))
        .collect();
    mark_growth(&mut results);
    let pairs = paired::compare(&results, &errors, cfg.seed);
    // The merged folder is claimed like a run's: never a shard's own folder or another run's.
    let merged = RunId {
        shard: None,
        ..first.clone()
    };
    let out = crate::outdir::resolve(
        args.out.as_deref(),
        "merge",
        "verify-bounds",
        &merged.fingerprint(),
    );
    if args.out.is_none() {
        // a given --out was checked before any shard was read
        crate::run::check_merge_out(&out, &args.parts, "tables")?;
    }
    let _lock = checkpoint::claim(&out, &merged, &["results.csv", "checkpoint.tsv"])?;
    let manifest = crate::report::manifest::Manifest::start(
        "verify-bounds (merged)",
        first.config.clone(),
        cfg.seed,
    );
    write_outputs(&results, &pairs, &cfg, &out, !args.no_charts, manifest)?;
    print!(
        "{}",
        extra_sections(&cfg, &out, !args.no_charts, false, first.trials)?
    );
    let trials: usize = cells.iter().map(|c| c.trials).sum();
    // the shards' own cell-seconds (summed over threads): merging simulates nothing
    let secs: f64 = results.iter().map(|r| r.seconds).sum();
    println!("{}", output::summary(&results, secs, (cells.len(), trials)));
    println!("merged {} shards into {}", count, out.display());
    Ok(())
}

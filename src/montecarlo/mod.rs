//! Monte Carlo verification of the paper's bounds (`phocas verify-bounds`).
//!
//! For every cell of a grid (rule, parameters, distribution, corruption, attack, m, q, b, d, n)
//! the engine draws N i.i.d. gradient matrices with known g and V, corrupts them, aggregates,
//! and estimates E||Aggr - g||^2 with a 95% confidence interval; it then sets the estimate
//! against Delta0 (Lemma 1), Delta1 (Theorem 1) or Delta2 (Theorem 2). Verdicts: `holds`
//! (CI high <= bound), `violated` (CI low > bound, or a non-finite error), `inconclusive`,
//! `n/a` (no bound applies), `unbounded` (no bound, and the error grows with the attack
//! magnitude or is not finite: Propositions 1-3).

pub mod config;
pub mod engine;
pub mod output;
pub mod stats;

use crate::error::Error;
use config::Config;
use engine::{mark_growth, run_cell, CellResult};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::PathBuf;

/// Arguments of `phocas verify-bounds`.
#[derive(clap::Args, Debug, Clone)]
pub struct VerifyArgs {
    /// Grid config (TOML). Default: the built-in experiments/verify-bounds.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run the reduced grid (experiments/verify-bounds-quick.toml) in seconds.
    #[arg(long)]
    pub quick: bool,
    /// Trials per cell, overriding the config.
    #[arg(long, value_name = "N")]
    pub trials: Option<usize>,
    /// Master seed, overriding the config.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "reports/verify-bounds")]
    pub out: PathBuf,
    /// Skip the charts (tables and summary only).
    #[arg(long)]
    pub no_charts: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Loads the config selected by the arguments, with overrides applied.
pub fn load_config(args: &VerifyArgs) -> Result<(Config, String), Error> {
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
    let mut cfg = Config::parse(&text).map_err(|e| match (&args.config, e) {
        (Some(p), Error::Config { key, msg }) => Error::Config {
            key: format!("{}: {key}", p.display()),
            msg,
        },
        (_, e) => e,
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

/// Runs every cell (in parallel; results in grid order) and returns the results.
pub fn run_grid(
    cfg: &Config,
    trials: Option<usize>,
    progress: bool,
) -> Result<Vec<CellResult>, Error> {
    let (cells, _) = cfg.cells(trials);
    let pb = if progress {
        let pb = ProgressBar::new(cells.len() as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} cells (eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let mut results = cells
        .par_iter()
        .map(|c| {
            let r = run_cell(cfg, c);
            pb.inc(1);
            r
        })
        .collect::<Result<Vec<_>, _>>()?;
    pb.finish_and_clear();
    mark_growth(&mut results);
    Ok(results)
}

/// `phocas verify-bounds`.
pub fn run(args: &VerifyArgs) -> Result<(), Error> {
    let (cfg, text) = load_config(args)?;
    let (cells, skipped) = cfg.cells(args.trials);
    let total_trials: usize = cells.iter().map(|c| c.trials).sum();
    eprintln!(
        "verify-bounds: {} cells ({} skipped as out of range), {} trials, seed {}, {} threads",
        cells.len(),
        skipped,
        total_trials,
        cfg.seed,
        rayon::current_num_threads()
    );
    let manifest = crate::report::manifest::Manifest::start("verify-bounds", text, cfg.seed);
    let t0 = std::time::Instant::now();
    let results = run_grid(&cfg, args.trials, !args.quiet)?;
    let secs = t0.elapsed().as_secs_f64();
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let rows = output::write_results(&results, &cfg, &args.out)?;
    if !args.no_charts {
        output::write_charts(&results, &args.out)?;
    }
    let mut manifest = manifest;
    manifest.rows.insert("results".into(), rows);
    manifest.finish(&args.out)?;
    println!("{}", output::summary(&results, secs, total_trials));
    println!(
        "tables: {}/results.csv, results.parquet; charts: {}/*.svg, *.png",
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

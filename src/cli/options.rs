//! The subcommands' flags (clap), each turned into the library's options of its command.
//!
//! The flags' doc comments are the `--help` text, where `<NAME>` is a placeholder in plain
//! text, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

use clap::Args;
use std::path::PathBuf;

/// Arguments of `phocas verify-bounds`.
#[derive(Args, Debug, Clone)]
pub(crate) struct VerifyArgs {
    /// Grid config (TOML). Default: the built-in experiments/verify-bounds.toml.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Run the reduced grid (experiments/verify-bounds-quick.toml) in seconds.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Trials per cell, overriding the config.
    #[arg(long, value_name = "N")]
    pub(crate) trials: Option<usize>,
    /// Master seed, overriding the config.
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
    /// Output folder. Default: runs/verify-bounds-<grid>-<hash of the settings>/, one per
    /// setting (reports/ holds the committed runs of `phocas report`).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Skip the charts (tables and summary only).
    #[arg(long)]
    pub(crate) no_charts: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Run only shard I of N (cells assigned by a stable hash of their key); combine the
    /// parts with `phocas merge`.
    #[arg(long, value_name = "I/N")]
    pub(crate) shard: Option<phocas::run::Shard>,
}

impl From<VerifyArgs> for phocas::montecarlo::VerifyOptions {
    fn from(a: VerifyArgs) -> Self {
        Self {
            config: a.config,
            quick: a.quick,
            trials: a.trials,
            seed: a.seed,
            out: a.out,
            no_charts: a.no_charts,
            quiet: a.quiet,
            shard: a.shard,
        }
    }
}

/// Arguments of `phocas merge`.
#[derive(Args, Debug, Clone)]
pub(crate) struct MergeArgs {
    /// Output folders of the shards (`verify-bounds --shard I/N --out DIR`, or `reproduce FIGURE
    /// --shard I/N --out DIR`: then the merged figures go to OUT/FIGURE/).
    #[arg(required = true, value_name = "DIR")]
    pub(crate) parts: Vec<PathBuf>,
    /// Folder for the merged tables and charts. Default: runs/merge-<grid>-<hash of the run>/
    /// (for figures: runs/merge-<figure names joined by +>-<hash>/).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Skip the charts (verify-bounds shards).
    #[arg(long)]
    pub(crate) no_charts: bool,
}

impl From<MergeArgs> for phocas::montecarlo::MergeOptions {
    fn from(a: MergeArgs) -> Self {
        Self {
            parts: a.parts,
            out: a.out,
            no_charts: a.no_charts,
        }
    }
}

/// Arguments of `phocas report`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ReportArgs {
    /// Reduced runs of every experiment (minutes, not hours).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Reports folder. Default: reports (the committed reference runs) for the full report,
    /// runs/report-quick for --quick, so a quick report never touches committed results.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// MNIST-format data for the MLP figures.
    #[arg(long, default_value = phocas::data::DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
    /// Skip the MLP figures (section 5), which take the longest.
    #[arg(long)]
    pub(crate) skip_mlp: bool,
    /// Skip the CNN figures (Table 3 at a reduced scale, reports/cnn).
    #[arg(long)]
    pub(crate) skip_cnn: bool,
    /// Run only these steps (folders under the reports folder, e.g. `cnn/cnn-fig2` or
    /// `verify-bounds`; repeatable), leaving the others as they are, then write REPORT.md from
    /// every folder present.
    #[arg(long, value_name = "STEP")]
    pub(crate) only: Vec<String>,
    /// Skip the timing sweep.
    #[arg(long)]
    pub(crate) skip_bench: bool,
    /// Rerun every experiment even if its inputs are unchanged.
    #[arg(long)]
    pub(crate) force: bool,
}

impl From<ReportArgs> for phocas::report::document::ReportOptions {
    fn from(a: ReportArgs) -> Self {
        Self {
            quick: a.quick,
            out: a.out,
            data_dir: a.data_dir,
            skip_mlp: a.skip_mlp,
            skip_cnn: a.skip_cnn,
            only: a.only,
            skip_bench: a.skip_bench,
            force: a.force,
        }
    }
}

/// Arguments of `phocas converge`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ConvergeArgs {
    /// Config (TOML). Default: the built-in experiments/convergence.toml.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Reduced configuration, in seconds.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Master seed, overriding the config.
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
    /// Output folder. Default: runs/converge-<grid>-<hash of the settings>/, one per setting
    /// (reports/ holds the committed runs of `phocas report`).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Skip the charts.
    #[arg(long)]
    pub(crate) no_charts: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Run only shard I of N of the runs (assigned by a stable hash of their key), e.g. one
    /// task of a Slurm job array; no tables are written, `phocas merge` on the N shards'
    /// --out folders writes the same tables as one unsharded run.
    #[arg(long, value_name = "I/N")]
    pub(crate) shard: Option<phocas::run::Shard>,
}

impl From<ConvergeArgs> for phocas::sgd::converge::ConvergeOptions {
    fn from(a: ConvergeArgs) -> Self {
        Self {
            config: a.config,
            quick: a.quick,
            seed: a.seed,
            out: a.out,
            no_charts: a.no_charts,
            quiet: a.quiet,
            shard: a.shard,
        }
    }
}

/// Arguments of `phocas reproduce`.
#[derive(Args, Debug, Clone)]
pub(crate) struct ReproduceArgs {
    /// fig2, fig3, fig4, theorem4, rules (every rule under seven attacks), dirichlet
    /// (heterogeneous data: Dirichlet splits, with NNM and bucketing), cnn-fig2, cnn-fig3,
    /// cnn-fig4, cnn-theorem4 (the CNN of Table 3 at a reduced scale; experiments/cnn/cifar/ holds the
    /// paper's CIFAR-10 settings for --config) or all.
    #[arg(value_name = "FIGURE")]
    pub(crate) figure: String,
    /// Override the repeats of the config (the paper used 10).
    #[arg(long)]
    pub(crate) repeats: Option<usize>,
    /// Override the rounds (the paper used 500).
    #[arg(long)]
    pub(crate) rounds: Option<usize>,
    /// Use this config file instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Directory with the four MNIST-format files, or CIFAR-10's binary files (for the CNN).
    #[arg(long, default_value = phocas::data::DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
    /// Output folder (one subfolder per figure). Default:
    /// runs/reproduce-<figure>-<hash of the settings>/ (reports/mlp holds the committed runs of
    /// `phocas report`).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Train only shard I of N of every figure's runs (0-based; runs assigned by a stable hash
    /// of their key), e.g. one task of a Slurm job array (experiments/slurm/). No tables are
    /// written; `phocas merge` on the N shards' --out folders writes the same tables as one
    /// unsharded run.
    #[arg(long, value_name = "I/N")]
    pub(crate) shard: Option<phocas::run::Shard>,
}

impl From<ReproduceArgs> for phocas::sgd::reproduce::ReproduceOptions {
    fn from(a: ReproduceArgs) -> Self {
        Self {
            figure: a.figure,
            repeats: a.repeats,
            rounds: a.rounds,
            config: a.config,
            data_dir: a.data_dir,
            out: a.out,
            quiet: a.quiet,
            shard: a.shard,
        }
    }
}

/// Arguments of `phocas train`.
#[derive(Args, Debug, Clone)]
pub(crate) struct TrainArgs {
    /// Rule (registry name; see `phocas --help`).
    #[arg(long, default_value = "mean")]
    pub(crate) rule: String,
    /// Trimming parameter b of trmean and phocas (as `aggregate --b`).
    #[arg(long)]
    pub(crate) b: Option<usize>,
    /// Assumed number of Byzantine workers q of krum and multikrum (as `aggregate --q`).
    #[arg(long)]
    pub(crate) q: Option<usize>,
    /// Multi-Krum's k.
    #[arg(long)]
    pub(crate) k: Option<usize>,
    /// Attack.
    #[arg(long, default_value = "none")]
    pub(crate) attack: String,
    /// Corruption model.
    #[arg(long, default_value = "classic")]
    pub(crate) corruption: String,
    /// Number of Byzantine values per coordinate (generalized model) or Byzantine workers
    /// (classic model) that the attack controls.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) byzantine: usize,
    /// Corrupt only the first K coordinates (bit-flip: 1000).
    #[arg(long, default_value_t = 0)]
    pub(crate) first_coords: usize,
    /// Split the training set over the workers by label with Dirichlet(ALPHA) shares
    /// (0.1: a few classes a worker; 10: near i.i.d.). Default: every worker samples the whole
    /// set.
    #[arg(long, value_name = "ALPHA")]
    pub(crate) dirichlet: Option<f64>,
    /// Nearest-Neighbour Mixing with this f before the rule (as `aggregate --nnm`).
    #[arg(long, value_name = "F")]
    pub(crate) nnm: Option<usize>,
    /// Bucketing with buckets of S workers before the rule (as `aggregate --bucket`).
    #[arg(long, value_name = "S")]
    pub(crate) bucket: Option<usize>,
    /// Centered clipping's radius tau (as `aggregate --tau`; default 100).
    #[arg(long)]
    pub(crate) tau: Option<f64>,
    /// Where the geometric median or centered clipping starts: zero, mean, median, or previous
    /// (the previous round's aggregate, centered clipping's choice in its paper).
    #[arg(long, value_name = "START")]
    pub(crate) start: Option<phocas::aggregators::WeiszfeldStart>,
    /// Iterations: the geometric median's Weiszfeld cap, or centered clipping's L.
    #[arg(long)]
    pub(crate) iters: Option<usize>,
    /// The geometric median's smoothing nu.
    #[arg(long)]
    pub(crate) nu: Option<f64>,
    /// The network: mlp (Table 2, 1x28x28 inputs) or cnn (Table 3, any CxHxW input, e.g.
    /// CIFAR-10 with --data-dir pointing at its binary files).
    #[arg(long, default_value = "mlp")]
    pub(crate) model: phocas::objectives::network::Model,
    /// Evaluate test accuracy on the first N test samples only (default: the whole test
    /// set; the CNN takes about 0.4 ms a sample).
    #[arg(long, value_name = "N")]
    pub(crate) test_size: Option<usize>,
    /// Workers.
    #[arg(long, default_value_t = 20)]
    pub(crate) workers: usize,
    /// Batch size per worker.
    #[arg(long, default_value_t = 32)]
    pub(crate) batch: usize,
    /// Step size.
    #[arg(long, default_value_t = 0.1)]
    pub(crate) lr: f64,
    /// Rounds.
    #[arg(long, default_value_t = 500)]
    pub(crate) rounds: usize,
    /// Repeats.
    #[arg(long, default_value_t = 1)]
    pub(crate) repeats: usize,
    /// Evaluate test accuracy every k rounds.
    #[arg(long, default_value_t = 10)]
    pub(crate) eval_every: usize,
    /// Track Theorem 4's quantities (slower).
    #[arg(long)]
    pub(crate) theorem4: bool,
    /// Master seed.
    #[arg(long, default_value_t = phocas::rng::DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// Hide the progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Directory with the four MNIST-format files.
    #[arg(long, default_value = phocas::data::DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
    /// Output folder. Finished repeats are kept in OUT/checkpoint.tsv as they finish: the same
    /// command after an interruption (Ctrl-C, a killed job) reuses them. Default:
    /// runs/train-<rule>-<hash of the settings>/, one per setting.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

impl From<TrainArgs> for phocas::sgd::train_cli::TrainOptions {
    fn from(a: TrainArgs) -> Self {
        Self {
            rule: a.rule,
            b: a.b,
            q: a.q,
            k: a.k,
            attack: a.attack,
            corruption: a.corruption,
            byzantine: a.byzantine,
            first_coords: a.first_coords,
            dirichlet: a.dirichlet,
            nnm: a.nnm,
            bucket: a.bucket,
            tau: a.tau,
            start: a.start,
            iters: a.iters,
            nu: a.nu,
            model: a.model,
            test_size: a.test_size,
            workers: a.workers,
            batch: a.batch,
            lr: a.lr,
            rounds: a.rounds,
            repeats: a.repeats,
            eval_every: a.eval_every,
            theorem4: a.theorem4,
            seed: a.seed,
            quiet: a.quiet,
            data_dir: a.data_dir,
            out: a.out,
        }
    }
}

/// Arguments of `phocas bench-scaling`.
#[derive(Args, Debug, Clone)]
pub(crate) struct BenchArgs {
    /// Reduced sweep (m sweep at d = 10^5, d up to 10^6, 3 samples, 5 ms each): under a
    /// minute.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Output folder. Default: runs/bench-scaling-<quick|full>-<hash of the settings>/
    /// (reports/bench-scaling holds the committed run of `phocas report`).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Trimming parameter b of trmean and phocas [default: floor((m-1)/4) at each m].
    #[arg(long)]
    pub(crate) b: Option<usize>,
    /// Assumed Byzantine count q of krum and multikrum [default: floor((m-1)/4) at each m].
    #[arg(long)]
    pub(crate) q: Option<usize>,
    /// Rules to time, comma-separated [default: every registered rule].
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub(crate) rules: Vec<String>,
    /// Storage types, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "f32,f64")]
    pub(crate) dtypes: Vec<phocas::bench::Dtype>,
    /// Timed samples per point, after the warm-up [default: 5; 3 with --quick].
    #[arg(long, value_name = "N")]
    pub(crate) reps: Option<usize>,
    /// Seed of the N(0, 1) input values.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Time one point only, given as MxD (e.g. 20x1000000), instead of the sweeps.
    #[arg(long, value_name = "MxD", value_parser = phocas::bench::parse_point)]
    pub(crate) at: Option<(usize, usize)>,
    /// Skip the instruction-set and kernel-path comparisons.
    #[arg(long)]
    pub(crate) no_compare: bool,
    /// Skip the charts.
    #[arg(long)]
    pub(crate) no_charts: bool,
}

impl From<BenchArgs> for phocas::bench::BenchOptions {
    fn from(a: BenchArgs) -> Self {
        Self {
            quick: a.quick,
            out: a.out,
            b: a.b,
            q: a.q,
            rules: a.rules,
            dtypes: a.dtypes,
            reps: a.reps,
            seed: a.seed,
            at: a.at,
            no_compare: a.no_compare,
            no_charts: a.no_charts,
        }
    }
}

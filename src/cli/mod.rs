//! Command-line interface: one subcommand per job of the workbench. The flags of the long
//! jobs are in [`options`], each turned into the library's options of its command; the
//! library itself knows nothing of clap.

mod options;

use clap::{Args, Parser, Subcommand};
use phocas::aggregators::{
    self, KrumDistance, KrumNeighbours, MedianConvention, RuleParams, WeiszfeldStart,
};
use phocas::npy::{self, NpyMatrix};
use phocas::{AggregateExt, Error, Matrix, Scalar};
use std::path::PathBuf;

fn rules_help() -> String {
    let mut s = String::from("Rules:\n");
    for r in aggregators::REGISTRY {
        s.push_str(&format!(
            "  {:<10} {}\n  {:<10} parameters: {}; {}; cost {}\n",
            r.name, r.summary, "", r.params, r.reference, r.cost
        ));
    }
    s
}

fn attacks_help() -> String {
    let mut s = String::from("Attacks:\n");
    for a in phocas::attacks::ATTACKS {
        s.push_str(&format!("  {:<11} {}\n", a.name, a.summary));
    }
    s.push_str("Corruption models:\n");
    for c in phocas::attacks::CORRUPTIONS {
        s.push_str(&format!("  {:<11} {}\n", c.name, c.summary));
    }
    s
}

#[derive(Parser, Debug)]
#[command(
    name = "phocas",
    version,
    about = "Workbench for Byzantine-resilient distributed SGD (Xie, Koyejo, Gupta: Phocas)",
    after_help = rules_help()
)]
struct Cli {
    /// Number of worker threads (default: all cores). Results do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Apply one aggregation rule to an (m, d) matrix saved with numpy.save.
    #[command(after_help = rules_help())]
    Aggregate(AggregateArgs),
    /// Corrupt an (m, d) matrix saved with numpy.save as one Monte Carlo trial does: a
    /// corruption model picks the positions, an attack the values.
    #[command(after_help = attacks_help())]
    Corrupt(CorruptArgs),
    /// Monte Carlo check of the paper's bounds (Lemma 1, Theorems 1-2, Propositions 1-3).
    VerifyBounds(options::VerifyArgs),
    /// Train the paper's MLP once with m simulated workers (every knob a flag).
    Train(options::TrainArgs),
    /// Reproduce the paper's section 5 figures on an MNIST-format data set.
    Reproduce(options::ReproduceArgs),
    /// Run (or reuse) every experiment and write reports/REPORT.md.
    Report(options::ReportArgs),
    /// Combine the shard folders of `verify-bounds`, `reproduce` or `converge --shard I/N` into
    /// one folder of tables and charts.
    Merge(options::MergeArgs),
    /// Synchronous SGD on objectives with known constants against Theorems 3 and 4.
    Converge(options::ConvergeArgs),
    /// Time every rule as m and d grow: fitted slopes, ratios to Mean and to a memory probe.
    BenchScaling(options::BenchArgs),
}

/// Rule selection shared by the subcommands.
#[derive(Args, Debug, Clone)]
struct RuleArgs {
    /// Rule name: mean, median, trmean, phocas, krum, multikrum, meamed, geomed, cclip, bulyan.
    #[arg(long, value_name = "RULE")]
    rule: String,
    /// Trimming parameter b of trmean and phocas (0 <= b <= ceil(m/2)-1).
    #[arg(long)]
    b: Option<usize>,
    /// Assumed number of Byzantine workers q of krum and multikrum (m-q-2 >= 1) and bulyan
    /// (m >= 4q+3).
    #[arg(long)]
    q: Option<usize>,
    /// Number of vectors Multi-Krum averages (default m-q).
    #[arg(long)]
    k: Option<usize>,
    /// Krum neighbour count: m-q-2 (paper) or m-q-1.
    #[arg(long, default_value = "m-q-2")]
    neighbours: KrumNeighbours,
    /// Krum distance: squared (paper) or plain.
    #[arg(long, default_value = "squared")]
    distance: KrumDistance,
    /// Even-m median: midpoint (default) or lower.
    #[arg(long, default_value = "midpoint")]
    median: MedianConvention,
    /// Weiszfeld smoothing nu of geomed (default 1e-6).
    #[arg(long)]
    nu: Option<f64>,
    /// Iteration cap of geomed (default 100); clipping iterations L of cclip (default 1).
    #[arg(long)]
    iters: Option<usize>,
    /// Weiszfeld relative tolerance on the objective of geomed (default 1e-6; 0 runs every
    /// iteration).
    #[arg(long)]
    tol: Option<f64>,
    /// Start of geomed (mean, the default) and cclip (zero, the default): mean, zero, median
    /// or previous (the last aggregate of the run, in the simulator).
    #[arg(long)]
    start: Option<WeiszfeldStart>,
    /// Clipping radius tau of cclip (default 100).
    #[arg(long)]
    tau: Option<f64>,
    /// Nearest-Neighbour Mixing before the rule: each row becomes the mean of its m - F
    /// nearest rows (Allouah et al. 2023).
    #[arg(long, value_name = "F")]
    nnm: Option<usize>,
    /// Bucketing before the rule: the rows, shuffled, averaged in buckets of S (Karimireddy et
    /// al. 2022); the rule's --b / --q are then for ceil(m/S) workers.
    #[arg(long, value_name = "S")]
    bucket: Option<usize>,
    /// Seed of bucketing's permutation (default 0).
    #[arg(long, value_name = "SEED")]
    bucket_seed: Option<u64>,
}

impl RuleArgs {
    fn params(&self) -> RuleParams {
        RuleParams {
            b: self.b,
            q: self.q,
            k: self.k,
            neighbours: self.neighbours,
            distance: self.distance,
            median: self.median,
            nu: self.nu,
            iters: self.iters,
            tol: self.tol,
            start: self.start,
            tau: self.tau,
            nnm: self.nnm,
            bucket: self.bucket,
            bucket_seed: self.bucket_seed,
        }
    }
}

#[derive(Args, Debug)]
struct AggregateArgs {
    #[command(flatten)]
    rule: RuleArgs,
    /// Input .npy file: float32 or float64, C order, shape (m, d), one row per worker.
    #[arg(long, value_name = "X.npy")]
    input: PathBuf,
    /// Output .npy file (shape (d,), same dtype). Without it, values are printed one per line.
    #[arg(long, value_name = "Y.npy")]
    output: Option<PathBuf>,
    /// Create the output file's folder if it does not exist.
    #[arg(long)]
    mkdir: bool,
}

#[derive(Args, Debug)]
struct CorruptArgs {
    /// Input .npy file: float32 or float64, C order, shape (m, d), one row per worker.
    #[arg(long, value_name = "X.npy")]
    input: PathBuf,
    /// Output .npy file: the corrupted matrix (same shape and dtype).
    #[arg(long, value_name = "Y.npy")]
    output: PathBuf,
    /// Boolean .npy file of shape (m, d) marking the Byzantine positions.
    #[arg(long, value_name = "MASK.npy")]
    mask_output: Option<PathBuf>,
    /// Attack (which values): see the list below.
    #[arg(long)]
    attack: String,
    /// Corruption model (which positions): see the list below.
    #[arg(long, default_value = "generalized")]
    corruption: String,
    /// Byzantine values per coordinate (rows in the classic model), at most m.
    #[arg(long)]
    q: usize,
    /// Master seed.
    #[arg(long, default_value_t = phocas::rng::DEFAULT_SEED)]
    seed: u64,
    /// Stream key: the stream is (seed, FNV-1a hash of the key, index).
    #[arg(long, default_value = "")]
    key: String,
    /// Stream index (a Monte Carlo trial's number).
    #[arg(long, default_value_t = 0)]
    index: u64,
    /// Attack parameter as KEY=VALUE, repeatable (the `[attack_params]` keys of a
    /// verify-bounds config, e.g. gaussian_sigma=100 or bitflip_bits=[22,31]).
    // (the `--help` text: [22,31] is a TOML list, not a link)
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

fn corrupt_typed<T: Scalar>(mut x: Matrix<T>, a: &CorruptArgs) -> Result<(), Error> {
    let p = phocas::attacks::params_from_pairs(&a.params)?;
    let attack = phocas::attacks::build_attack(&a.attack, &p)?;
    let corruption = phocas::attacks::build_corruption(&a.corruption, &p)?;
    let spec = phocas::attacks::Corrupt {
        corruption: corruption.as_ref(),
        attack: attack.as_ref(),
        q: a.q,
        oracle: None,
    };
    let mut mask = vec![false; x.data.len()];
    let mut rng = phocas::attacks::trial_stream(a.seed, &a.key, a.index);
    phocas::attacks::corrupt(&mut x.data, x.m, x.d, &spec, &mut rng, &mut mask)?;
    npy::write(&a.output, &x.data, &[x.m, x.d])?;
    if let Some(path) = &a.mask_output {
        npy::write_bool(path, &mask, &[x.m, x.d])?;
    }
    Ok(())
}

fn corrupt(a: &CorruptArgs) -> Result<(), Error> {
    // names and parameters first, before reading a possibly large file
    let p = phocas::attacks::params_from_pairs(&a.params)?;
    phocas::attacks::build_attack(&a.attack, &p)?;
    phocas::attacks::build_corruption(&a.corruption, &p)?;
    for out in std::iter::once(&a.output).chain(&a.mask_output) {
        phocas::fsutil::check_regular_target(out)?;
    }
    match npy::read_matrix(&a.input)? {
        NpyMatrix::F32(x) => corrupt_typed(x, a),
        NpyMatrix::F64(x) => corrupt_typed(x, a),
    }
}

/// Warnings about settings the rule accepts but its theory does not cover: Lemma 1's
/// condition 2q + 2 < m for Krum and Multi-Krum, and Multi-Krum averaging more than the m - q
/// rows that can be honest.
fn theory_warnings(a: &RuleArgs, m: usize) -> Vec<String> {
    let mut w = Vec::new();
    let param = aggregators::info(&a.rule).map_or(aggregators::ParamKind::None, |i| i.param);
    if !param.is_assumed_q() {
        return w;
    }
    let q = a.q.unwrap_or(0);
    if 2 * q + 2 >= m {
        w.push(format!(
            "warning: Lemma 1 needs 2q + 2 < m, and q = {q}, m = {m} gives {} >= {m}: {} runs, but its bound Delta0 does not apply",
            2 * q + 2,
            a.rule
        ));
    }
    let takes_k = param == aggregators::ParamKind::AssumedQAndK;
    if let Some(k) = a.k.filter(|&k| takes_k && k + q > m) {
        w.push(format!(
            "warning: multikrum --k {k} averages more than the m - q = {} rows that can be honest, so at least {} of the rows it averages may be Byzantine",
            m.saturating_sub(q),
            k + q - m
        ));
    }
    w
}

fn aggregate_typed<T: Scalar>(x: &Matrix<T>, a: &AggregateArgs) -> Result<(), Error> {
    let rule = aggregators::build(&a.rule.rule, &a.rule.params(), x.m)?;
    // the rule after bucketing aggregates ceil(m/s) rows
    let rows = a
        .rule
        .params()
        .premix()
        .ok()
        .flatten()
        .map_or(x.m, |p| p.rows_out(x.m));
    for w in theory_warnings(&a.rule, rows) {
        eprintln!("{w}");
    }
    let mut out = vec![T::default(); x.d];
    let mut ws = phocas::Workspace::new();
    rule.aggregate_into(x.view(), &mut ws, &mut out)?;
    if let Some(run) = ws.last_weiszfeld() {
        let how = if run.objective.is_nan() {
            "no row is finite: the result is the mean of all rows".to_string()
        } else if run.converged {
            format!("converged (objective {:.6e})", run.objective)
        } else {
            format!(
                "NOT converged: stopped at --iters (objective {:.6e})",
                run.objective
            )
        };
        eprintln!(
            "note: {}: {} Weiszfeld iterations, {how}",
            rule.label(),
            run.iterations
        );
    }
    match &a.output {
        Some(p) => npy::write(p, &out, &[x.d]),
        None => {
            use std::io::Write;
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            for v in &out {
                // Debug formatting is the shortest representation that round-trips.
                writeln!(w, "{v:?}").map_err(|e| Error::io("<stdout>", e))?;
            }
            w.flush().map_err(|e| Error::io("<stdout>", e))
        }
    }
}

fn aggregate(a: &AggregateArgs) -> Result<(), Error> {
    // Validate the rule name and the output before reading a possibly large file.
    if !aggregators::REGISTRY.iter().any(|r| r.name == a.rule.rule) {
        return Err(Error::UnknownRule {
            name: a.rule.rule.clone(),
            known: aggregators::rule_names(),
        });
    }
    if let Some(out) = &a.output {
        let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|d| !d.is_dir()) {
            if !a.mkdir {
                return Err(Error::Invalid(format!(
                    "{}: the folder {} does not exist: create it, or pass --mkdir",
                    out.display(),
                    dir.display()
                )));
            }
        }
        phocas::fsutil::check_regular_target(out)?;
    }
    match npy::read_matrix(&a.input)? {
        NpyMatrix::F32(x) => aggregate_typed(&x, a),
        NpyMatrix::F64(x) => aggregate_typed(&x, a),
    }
}

/// Most threads `--threads` starts per core (defect 7 of the hardening issue: 100,000
/// threads were started before any work).
const MAX_THREADS_PER_CORE: usize = 4;

fn run(cli: Cli) -> Result<(), Error> {
    phocas::aggregators::isa_from_env().map_err(Error::Invalid)?;
    if let Some(n) = cli.threads {
        if n == 0 {
            return Err(Error::Invalid(
                "--threads 0 is not allowed: give at least 1".into(),
            ));
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let cap = MAX_THREADS_PER_CORE * cores;
        let n = if n > cap {
            eprintln!(
                "warning: --threads {n} capped at {cap} ({MAX_THREADS_PER_CORE} per core on {cores} cores): more threads only add overhead, and results do not depend on the count"
            );
            cap
        } else {
            n
        };
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| Error::Invalid(format!("--threads {n}: {e}")))?;
    }
    match cli.command {
        Command::Aggregate(a) => aggregate(&a),
        Command::Corrupt(a) => corrupt(&a),
        Command::VerifyBounds(a) => phocas::montecarlo::run(&a.into()),
        Command::Train(a) => phocas::sgd::train_cli::train_cli(&a.into()),
        Command::Reproduce(a) => phocas::sgd::reproduce::reproduce_cli(&a.into()),
        Command::Report(a) => phocas::report::document::run(&a.into()),
        // the shards of `reproduce` hold figure folders; those of verify-bounds a grid
        Command::Merge(a)
            if a.parts
                .iter()
                .any(|p| phocas::sgd::reproduce::is_reproduce_folder(p)) =>
        {
            if a.no_charts {
                eprintln!("warning: --no-charts applies to verify-bounds shards; the figures' charts are written");
            }
            phocas::sgd::reproduce::merge_shards(&a.parts, a.out.as_deref())
        }
        Command::Merge(a)
            if a.parts
                .iter()
                .any(|p| phocas::sgd::converge::is_converge_folder(p)) =>
        {
            phocas::sgd::converge::merge_shards(&a.parts, a.out.as_deref(), a.no_charts)
        }
        Command::Merge(a) => phocas::montecarlo::merge(&a.into()),
        Command::Converge(a) => phocas::sgd::converge::run_cli(&a.into()),
        Command::BenchScaling(a) => phocas::bench::run(&a.into()),
    }
}

/// Prints a command-line error as one line (clap's first line, its tips, and where to read
/// more) and returns its exit status; help and version requests print as clap prints them.
fn usage_error(e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return e.exit_code();
    }
    eprintln!("{}", one_line(&e.render().to_string()));
    e.exit_code()
}

/// clap's multi-line message as one line: the message and its details and tips (the usage
/// block is left out), then which help to read.
fn one_line(text: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            break;
        }
        parts.push(l);
    }
    let mut out = parts.join(" ").replace(": ;", ":");
    if out.is_empty() {
        out = "error: invalid arguments".into();
    }
    if !out.starts_with("error:") {
        out = format!("error: {out}");
    }
    let sub = std::env::args().nth(1).filter(|a| {
        <Cli as clap::CommandFactory>::command()
            .get_subcommands()
            .any(|c| c.get_name() == a)
    });
    match sub {
        Some(c) => format!("{out} (see phocas {c} --help)"),
        None => format!("{out} (see phocas --help)"),
    }
}

/// Parses the arguments, runs, prints one line on error and returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli) {
        Ok(()) => 0,
        Err(e @ Error::Interrupted(_)) => {
            eprintln!("{e}");
            130
        }
        Err(e) => {
            // one line, whatever the message (a library's may span several)
            let text = e.to_string();
            let parts: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("error: {}", parts.join(": "));
            2
        }
    }
}

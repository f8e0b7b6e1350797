//! `phocas train`: one training configuration from flags, its repeats checkpointed so an
//! interrupted run resumes, then its tables, chart and manifest.

use super::train::{
    accuracy_panel, eval_size, from_record, l_every, load_data, mean_sd, run_key, to_record,
    train_once, validate, write_runs, Common, RuleSettings, RunConfig,
};
use crate::aggregators;
use crate::attacks::AttackParams;
use crate::error::Error;
use crate::report::chart;
use crate::resume;
use crate::rng::hash_str;
use std::path::PathBuf;

/// Options of `phocas train`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Rule (registry name; see `phocas --help`).
    pub rule: String,
    /// Trimming parameter b of trmean and phocas (as `aggregate --b`).
    pub b: Option<usize>,
    /// Assumed number of Byzantine workers q of krum and multikrum (as `aggregate --q`).
    pub q: Option<usize>,
    /// Multi-Krum's k.
    pub k: Option<usize>,
    /// Attack.
    pub attack: String,
    /// Corruption model.
    pub corruption: String,
    /// Number of Byzantine values per coordinate (generalized model) or Byzantine workers
    /// (classic model) that the attack controls.
    pub byzantine: usize,
    /// Corrupt only the first K coordinates (bit-flip: 1000).
    pub first_coords: usize,
    /// Split the training set over the workers by label with Dirichlet(ALPHA) shares
    /// (0.1: a few classes a worker; 10: near i.i.d.). Default: every worker samples the whole
    /// set.
    pub dirichlet: Option<f64>,
    /// Nearest-Neighbour Mixing with this f before the rule (as `aggregate --nnm`).
    pub nnm: Option<usize>,
    /// Bucketing with buckets of S workers before the rule (as `aggregate --bucket`).
    pub bucket: Option<usize>,
    /// Centered clipping's radius tau (as `aggregate --tau`; default 100).
    pub tau: Option<f64>,
    /// Where the geometric median or centered clipping starts: zero, mean, median, or previous
    /// (the previous round's aggregate, centered clipping's choice in its paper).
    pub start: Option<aggregators::WeiszfeldStart>,
    /// Iterations: the geometric median's Weiszfeld cap, or centered clipping's L.
    pub iters: Option<usize>,
    /// The geometric median's smoothing nu.
    pub nu: Option<f64>,
    /// The network: mlp (Table 2, 1x28x28 inputs) or cnn (Table 3, any CxHxW input, e.g.
    /// CIFAR-10 with --data-dir pointing at its binary files).
    pub model: crate::objectives::network::Model,
    /// Evaluate test accuracy on the first N test samples only (default: the whole test
    /// set; the CNN takes about 0.4 ms a sample).
    pub test_size: Option<usize>,
    /// Workers.
    pub workers: usize,
    /// Batch size per worker.
    pub batch: usize,
    /// Step size.
    pub lr: f64,
    /// Rounds.
    pub rounds: usize,
    /// Repeats.
    pub repeats: usize,
    /// Evaluate test accuracy every k rounds.
    pub eval_every: usize,
    /// Track Theorem 4's quantities (slower).
    pub theorem4: bool,
    /// Master seed.
    pub seed: u64,
    /// Hide the progress bar.
    pub quiet: bool,
    /// Directory with the four MNIST-format files.
    pub data_dir: PathBuf,
    /// Output folder. Finished repeats are kept in OUT/checkpoint.tsv as they finish: the same
    /// command after an interruption (Ctrl-C, a killed job) reuses them. Default:
    /// `runs/train-<rule>-<hash of the settings>/`, one per setting.
    pub out: Option<PathBuf>,
}

/// The rule parameter of `train`'s flags (b for trmean and phocas, the assumed q for krum
/// and multikrum, stored in [`RunConfig::b`]), refusing a flag the rule does not take and an
/// attack that controls no value.
fn train_rule_param(a: &TrainOptions) -> Result<Option<usize>, Error> {
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
pub fn train_cli(a: &TrainOptions) -> Result<(), Error> {
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
        model: a.model,
        test_size: a.test_size,
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
        settings: RuleSettings {
            tau: a.tau,
            start: a.start,
            iters: a.iters,
            nu: a.nu,
        },
    };
    validate(&c, &common)?;
    let data = load_data(&a.data_dir)?;
    // Finished repeats go to OUT/checkpoint.tsv as they finish, keyed by the run's settings,
    // the crate version and the data folder, so the same command after an interruption reuses
    // them; other configurations can share the folder (the default one is shared by every
    // `phocas train`), which is why the folder is not claimed as `reproduce` claims its own.
    let data_tag = crate::fsutil::canonical(&a.data_dir).display().to_string();
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
        let top3 = res
            .top3
            .last()
            .map_or(String::new(), |t| format!(", final top-3 accuracy {t:.4}"));
        pb.suspend(|| println!(
            "repeat {r}: final accuracy {last:.4}, best {best:.4}{top3}, {:.2} s ({:.1}% aggregating){}{}",
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

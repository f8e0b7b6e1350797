//! `phocas merge` on the folders of `phocas converge --shard I/N`: the shards' checkpoints
//! gathered into one folder, whose tables and charts are then written as one unsharded run
//! writes them (the same bytes: every run is reused from the records).

use super::{run_all, Config, Shown};
use crate::error::Error;
use crate::resume;
use crate::run::RunId;
use std::path::{Path, PathBuf};

/// The command a converge folder's run.json names.
const COMMAND: &str = "converge";

/// Whether `dir` holds the output of `phocas converge` (its run.json says so).
pub fn is_converge_folder(dir: &Path) -> bool {
    matches!(RunId::load(dir), Ok(Some(id)) if id.command == COMMAND)
}

/// Merges the shard folders `parts` of one `converge --shard I/N` run into `out` (default
/// `runs/merge-converge-<hash>/`). Refuses folders of other commands or runs, a missing or
/// repeated shard, `out` equal to a shard, and a run that no shard finished.
pub fn merge_shards(parts: &[PathBuf], out: Option<&Path>, no_charts: bool) -> Result<(), Error> {
    let mut ids = Vec::with_capacity(parts.len());
    for p in parts {
        match RunId::load(p)? {
            Some(id) if id.command == COMMAND => ids.push((p, id)),
            _ => {
                return Err(Error::Invalid(format!(
                    "{}: holds no output of `phocas converge --shard I/N`: pass the --out folder of each shard",
                    p.display()
                )))
            }
        }
    }
    let refs: Vec<(&Path, &RunId)> = ids.iter().map(|(p, id)| (p.as_path(), id)).collect();
    crate::run::check_shards(COMMAND, &refs)?;
    let (p0, first) = &ids[0];
    if first.version != env!("CARGO_PKG_VERSION") {
        return Err(Error::Invalid(format!(
            "{}: this version ({}) cannot reproduce the identity of these shards (version {}): merge with the binary that ran them",
            p0.display(),
            env!("CARGO_PKG_VERSION"),
            first.version
        )));
    }
    let mut cfg = Config::parse(&first.config)?;
    cfg.seed = first.seed;
    let specs = cfg.runs();
    let id = RunId {
        shard: None,
        ..first.clone()
    };
    let out = crate::outdir::resolve(out, "merge", COMMAND, &id.fingerprint());
    crate::run::check_merge_out(&out, parts, "tables")?;
    let mut log = resume::Log::open(&out, &id, &[resume::LOG])?;
    let n = log.import(parts)?;
    eprintln!(
        "converge: {n} runs gathered from {} shard folders into {}",
        parts.len(),
        log.path().display()
    );
    let missing: Vec<String> = specs
        .iter()
        .map(super::RunSpec::key)
        .filter(|k| log.get(k).is_none())
        .collect();
    if let Some(k) = missing.first() {
        return Err(Error::Invalid(format!(
            "converge: {} of {} runs are in none of the shards' checkpoints (e.g. {k}): run the unfinished shards again, then merge",
            missing.len(),
            specs.len()
        )));
    }
    let shown = Shown {
        quiet: true,
        no_charts,
    };
    run_all(&cfg, first.config.clone(), &specs, &log, &out, shown, None)
}

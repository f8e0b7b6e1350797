//! Run identity and output folders, shared by every long-running command: [`RunId`] (what
//! produced a folder: version, config text, seed, options, shard) and its
//! [`RunId::fingerprint`], [`Shard`] (`--shard I/N`), and the folder claim: an exclusive
//! lock ([`FolderLock`], the file [`LOCK`]) held for the run, and the refusal of a folder that
//! another run wrote. The Monte Carlo checkpoint ([`crate::montecarlo::checkpoint`]) and the
//! generic resume log ([`crate::resume`]) build on it; it imports neither.

use crate::error::Error;
use crate::fsutil::canonical;
use crate::rng::hash_str;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A shard I of N (0-based I).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Index, 0..n.
    pub index: usize,
    /// Count.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}': write the shard as I/N, e.g. 0/4"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("'{s}': I must be an integer"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("'{s}': N must be an integer"))?;
        if count == 0 || index >= count {
            return Err(format!("'{s}': need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the cell with this key belongs to the shard (stable assignment by key).
    pub fn owns(&self, key: &str) -> bool {
        hash_str(key) % self.count as u64 == self.index as u64
    }
}

/// Identity of a run; stored as run.json.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunId {
    /// Command.
    pub command: String,
    /// Crate version.
    pub version: String,
    /// The config text.
    pub config: String,
    /// Master seed.
    pub seed: u64,
    /// --trials override.
    pub trials: Option<usize>,
    /// Shard (None: the whole grid).
    pub shard: Option<Shard>,
    /// Other options that change the results (e.g. `rounds=500 data=/path`); empty for
    /// verify-bounds.
    #[serde(default)]
    pub options: String,
}

impl RunId {
    /// Fingerprint of everything that determines a checkpoint line's numbers (command,
    /// version, config, seed, trials, options; not the shard, so the shards of one run share
    /// it). It starts every checkpoint line: 16 hex digits and `#`.
    pub fn fingerprint(&self) -> String {
        let all = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{}",
            self.command, self.version, self.config, self.seed, self.trials, self.options
        );
        format!("{:016x}#", hash_str(&all))
    }

    /// Reads `dir/run.json`, if present.
    pub fn load(dir: &Path) -> Result<Option<Self>, Error> {
        let p = dir.join("run.json");
        match std::fs::read_to_string(&p) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
                Error::Invalid(format!(
                    "{}: unreadable ({e}): delete the folder or choose another --out",
                    p.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(p, e)),
        }
    }
}

/// An exclusive advisory lock on a results folder (the file `.lock` in it), held while a run
/// writes there and released when dropped or when the process ends, however it ends.
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
}

/// Name of the lock file in a results folder.
pub const LOCK: &str = ".lock";

/// Locks `dir` (which must exist) for this process, or says which folder another run holds.
pub fn lock(dir: &Path) -> Result<FolderLock, Error> {
    let p = dir.join(LOCK);
    crate::fsutil::check_regular_target(&p)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| Error::io(&p, e))?;
    match file.try_lock() {
        Ok(()) => Ok(FolderLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Invalid(format!(
            "{} is in use by another phocas run (it holds {}): wait for that run to finish, or choose another --out",
            dir.display(),
            p.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            eprintln!(
                "warning: {}: this file system cannot lock files; do not start two runs on this folder at once",
                dir.display()
            );
            Ok(FolderLock { _file: file })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&p, e)),
    }
}

/// Claims `dir` for the run `id`: creates and locks it, then writes `run.json` or checks that
/// the `run.json` there is the same run. A folder of another run, or one holding any of
/// `markers` (earlier results) without a `run.json`, is refused with a message saying what
/// differs. Hold the returned lock for as long as the run writes into `dir`.
pub fn claim(dir: &Path, id: &RunId, markers: &[&str]) -> Result<FolderLock, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let lock = lock(dir)?;
    crate::fsutil::clean_stale(dir);
    check_claim(dir, id, markers)?;
    Ok(lock)
}

fn check_claim(dir: &Path, id: &RunId, markers: &[&str]) -> Result<(), Error> {
    match RunId::load(dir)? {
        Some(old) if old != *id => {
            let what = if old.command != id.command {
                format!("`{}`", old.command)
            } else if old.version != id.version {
                format!("version {} (this is {})", old.version, id.version)
            } else if old.config != id.config {
                "another config".to_string()
            } else if old.seed != id.seed {
                format!("seed {} (this run: {})", old.seed, id.seed)
            } else if old.trials != id.trials {
                "another --trials".to_string()
            } else if old.options != id.options {
                format!("other options ({} ; this run: {})", old.options, id.options)
            } else {
                "another --shard".to_string()
            };
            Err(Error::Invalid(format!(
                "{} holds results of {what}: resume only with the same command, or choose another --out (or delete the folder)",
                dir.display()
            )))
        }
        Some(_) => Ok(()),
        None => {
            if let Some(m) = markers.iter().find(|m| dir.join(m).exists()) {
                return Err(Error::Invalid(format!(
                    "{} holds results ({m}) without a run.json: choose another --out or delete the folder",
                    dir.display()
                )));
            }
            let text =
                serde_json::to_string_pretty(id).map_err(|e| Error::Report(e.to_string()))?;
            crate::fsutil::write_atomic(&dir.join("run.json"), text.as_bytes())
        }
    }
}

/// Refuses a merge whose output folder `out` is one of the shard folders `parts` (compared as
/// canonical paths, so `./a` and `a/` are one folder): the merged `what` would overwrite a
/// shard's own records.
pub fn check_merge_out<P: AsRef<Path>>(out: &Path, parts: &[P], what: &str) -> Result<(), Error> {
    let target = canonical(out);
    match parts.iter().find(|p| canonical(p.as_ref()) == target) {
        Some(p) => Err(Error::Invalid(format!(
            "--out {} is one of the shard folders: choose another folder for the merged {what}",
            p.as_ref().display()
        ))),
        None => Ok(()),
    }
}

/// Checks that `shards` (each a folder and the run.json read from it) are every shard of one
/// run, each once: the same fingerprint and shard count, indices 0..count. `what` names the
/// run in the message of a missing shard. Returns the shard count. Nothing is allocated by the
/// count a run.json names.
pub fn check_shards(what: &str, shards: &[(&Path, &RunId)]) -> Result<usize, Error> {
    let Some(&(p0, first)) = shards.first() else {
        return Err(Error::Invalid(
            "no shard folders given: pass the --out folder of each shard".into(),
        ));
    };
    let count = first.shard.map_or(1, |s| s.count);
    if count == 0 {
        return Err(Error::Invalid(format!(
            "{}: run.json names a shard count of 0: the folder is damaged; rerun that shard",
            p0.display()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for &(p, id) in shards {
        if id.fingerprint() != first.fingerprint() || id.shard.map_or(1, |s| s.count) != count {
            return Err(Error::Invalid(format!(
                "{} and {} come from different runs (version, config, seed, options or shard count differ): merge only the shards of one command",
                p0.display(),
                p.display()
            )));
        }
        let i = id.shard.map_or(0, |s| s.index);
        if i >= count || !seen.insert(i) {
            return Err(Error::Invalid(format!(
                "{}: shard {i}/{count} is given twice (or is out of range): pass each shard's folder once",
                p.display()
            )));
        }
    }
    if seen.len() < count {
        let i = (0..=seen.len()).find(|i| !seen.contains(i)).unwrap_or(0);
        return Err(Error::Invalid(format!(
            "{what}: shard {i}/{count} is missing: pass the folders of all {count} shards"
        )));
    }
    Ok(count)
}

//! Checkpoints, resumption and sharding of Monte Carlo runs.
//!
//! A results folder holds `run.json` (what produced it: version, config text, seed, trials
//! override, shard) and `checkpoint.tsv`, one line per finished cell, appended as cells finish.
//! Every line carries a checksum, so a line torn by SIGKILL is ignored. Running the same
//! command again resumes from the finished cells and produces the same final table; a folder
//! written by another version, config, seed or shard is refused. A run holds an exclusive lock
//! on its folder (`.lock`) while it writes, so two runs started together cannot both claim
//! it, and every checkpoint line starts with the fingerprint of its run
//! ([`RunId::fingerprint`]): a line of any other run is never reused. Shards (`--shard I/N`) run the
//! cells whose key hashes to I modulo N; `phocas merge` checks that the parts come from the same
//! run and assembles the table a single run produces.

use super::engine::{CellRaw, Exact};
use super::stats::Summary;
use crate::error::Error;
use std::collections::HashMap;
use std::path::Path;

pub use crate::run::{claim, lock, FolderLock, RunId, Shard, LOCK};

/// Prepares an output folder for `id`: locks it, refuses a folder of another run, and returns
/// the lock (hold it for the run) and the cells already finished there.
pub fn prepare(dir: &Path, id: &RunId) -> Result<(FolderLock, HashMap<String, CellRaw>), Error> {
    let lock = claim(dir, id, &["results.csv", "checkpoint.tsv"])?;
    Ok((lock, load(dir, id)?))
}

fn hex(x: f64) -> String {
    format!("{:016x}", x.to_bits())
}

fn unhex(s: &str) -> Option<f64> {
    u64::from_str_radix(s, 16).ok().map(f64::from_bits)
}

/// Encodes one finished cell as a checkpoint line (with checksum, newline-terminated).
pub fn encode(key: &str, r: &CellRaw) -> String {
    let s = &r.stats;
    let body = [
        key.replace(['\t', '\n'], " "),
        r.rule_label.clone(),
        hex(r.v),
        u8::from(r.whole_rows).to_string(),
        s.n.to_string(),
        hex(s.mean),
        hex(s.sd),
        hex(s.se),
        hex(s.ci_low),
        hex(s.ci_high),
        hex(s.median),
        hex(s.p99),
        hex(s.max),
        s.nonfinite.to_string(),
        hex(r.seconds),
        u8::from(s.heavy).to_string(),
        hex(s.boot_low),
        hex(s.boot_high),
        u8::from(r.exact.is_some()).to_string(),
        hex(r.exact.map_or(f64::NAN, |e| e.mean)),
        hex(r.exact.map_or(f64::NAN, |e| e.ci_low)),
        hex(r.exact.map_or(f64::NAN, |e| e.ci_high)),
        hex(r.rows_mean),
        r.rows_max.to_string(),
    ]
    .join("\t");
    crate::resume::seal(&body)
}

/// Decodes a checkpoint line; None if torn or corrupt.
pub fn decode(line: &str) -> Option<(String, CellRaw)> {
    let body = crate::resume::unseal(line)?;
    let f: Vec<&str> = body.split('\t').collect();
    if f.len() != 24 {
        return None;
    }
    Some((
        f[0].to_string(),
        CellRaw {
            rule_label: f[1].to_string(),
            v: unhex(f[2])?,
            whole_rows: f[3] == "1",
            stats: Summary {
                n: f[4].parse().ok()?,
                mean: unhex(f[5])?,
                sd: unhex(f[6])?,
                se: unhex(f[7])?,
                ci_low: unhex(f[8])?,
                ci_high: unhex(f[9])?,
                median: unhex(f[10])?,
                p99: unhex(f[11])?,
                max: unhex(f[12])?,
                nonfinite: f[13].parse().ok()?,
                heavy: f[15] == "1",
                boot_low: unhex(f[16])?,
                boot_high: unhex(f[17])?,
            },
            seconds: unhex(f[14])?,
            exact: match f[18] {
                "1" => Some(Exact {
                    mean: unhex(f[19])?,
                    ci_low: unhex(f[20])?,
                    ci_high: unhex(f[21])?,
                }),
                _ => None,
            },
            rows_mean: unhex(f[22])?,
            rows_max: f[23].parse().ok()?,
            errors: Vec::new(),
        },
    ))
}

/// Finished cells of run `id` in a folder's checkpoint (lines of other runs are skipped).
pub fn load(dir: &Path, id: &RunId) -> Result<HashMap<String, CellRaw>, Error> {
    let p = dir.join("checkpoint.tsv");
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(Error::io(p, e)),
    };
    let fp = id.fingerprint();
    Ok(text
        .lines()
        .filter_map(decode)
        .filter_map(|(k, r)| Some((k.strip_prefix(&fp)?.to_string(), r)))
        .collect())
}

/// An append-only checkpoint file.
pub struct Checkpoint {
    file: crate::resume::Appender,
    fingerprint: String,
}

impl Checkpoint {
    /// Opens `dir/checkpoint.tsv` for appending lines of run `id`. A torn last line is
    /// terminated first so the next record starts on a line of its own.
    pub fn open(dir: &Path, id: &RunId) -> Result<Self, Error> {
        let (file, _) = crate::resume::Appender::open(&dir.join("checkpoint.tsv"))?;
        Ok(Self {
            file,
            fingerprint: id.fingerprint(),
        })
    }
    /// Appends one finished cell.
    pub fn append(&self, key: &str, r: &CellRaw) -> Result<(), Error> {
        self.file
            .append(&encode(&format!("{}{key}", self.fingerprint), r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_bit_exactly_and_torn_lines_are_ignored() {
        let r = CellRaw {
            rule_label: "trmean(b=2)".into(),
            v: 0.999_999_999_999_999_9,
            whole_rows: true,
            stats: Summary {
                n: 10,
                mean: f64::INFINITY,
                sd: f64::NAN,
                se: 1e-300,
                ci_low: -0.0,
                ci_high: 3.5,
                median: 1.0 / 3.0,
                p99: 2.0,
                max: 5.0,
                nonfinite: 1,
                heavy: true,
                boot_low: 0.5,
                boot_high: f64::NAN,
            },
            seconds: 0.25,
            exact: Some(Exact {
                mean: 2.0,
                ci_low: 1.5,
                ci_high: 2.5,
            }),
            rows_mean: 3.25,
            rows_max: 7,
            errors: Vec::new(),
        };
        let line = encode("sweep=a;rule=trmean", &r);
        let (k, back) = decode(line.trim_end()).unwrap();
        assert_eq!(k, "sweep=a;rule=trmean");
        assert_eq!(back.stats.sd.to_bits(), r.stats.sd.to_bits());
        assert_eq!(back.v.to_bits(), r.v.to_bits());
        assert_eq!(back.stats.ci_low.to_bits(), (-0.0f64).to_bits());
        assert_eq!(back.exact, r.exact);
        assert_eq!((back.rows_mean, back.rows_max), (r.rows_mean, r.rows_max));
        assert!(back.stats.heavy && back.stats.boot_low == 0.5 && back.stats.boot_high.is_nan());
        for cut in [5, line.len() / 2, line.len() - 3] {
            assert!(decode(&line[..cut]).is_none(), "cut at {cut}");
        }
    }

    fn run_id(seed: u64, shard: Option<Shard>) -> RunId {
        RunId {
            command: "verify-bounds".into(),
            version: "0".into(),
            config: "x".into(),
            seed,
            trials: None,
            shard,
            options: String::new(),
        }
    }

    fn cell(mean: f64) -> CellRaw {
        CellRaw {
            rule_label: "mean".into(),
            v: 1.0,
            whole_rows: false,
            stats: Summary {
                n: 2,
                mean,
                sd: 0.0,
                se: 0.0,
                ci_low: mean,
                ci_high: mean,
                median: mean,
                p99: mean,
                max: mean,
                nonfinite: 0,
                heavy: false,
                boot_low: mean,
                boot_high: mean,
            },
            seconds: 0.0,
            exact: None,
            rows_mean: 0.0,
            rows_max: 0,
            errors: Vec::new(),
        }
    }

    #[test]
    fn a_folder_in_use_is_refused_and_released_on_drop() {
        // Defect 4: two runs started together on one folder both claimed it.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("out");
        let held = claim(&d, &run_id(1, None), &["results.csv"]).unwrap();
        let e = claim(&d, &run_id(2, None), &["results.csv"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("in use by another phocas run"), "{e}");
        drop(held);
        let e = claim(&d, &run_id(2, None), &["results.csv"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("seed 1 (this run: 2)"), "{e}");
        assert!(claim(&d, &run_id(1, None), &["results.csv"]).is_ok());
    }

    #[test]
    fn lines_of_another_run_are_never_reused() {
        // Defect 4: checkpoint lines did not record the seed, so a rerun with --seed 2
        // reported seed-1 numbers as its own.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (one, two) = (run_id(1, None), run_id(2, None));
        Checkpoint::open(d, &one)
            .unwrap()
            .append("k1", &cell(1.0))
            .unwrap();
        Checkpoint::open(d, &two)
            .unwrap()
            .append("k2", &cell(2.0))
            .unwrap();
        let a = load(d, &one).unwrap();
        let b = load(d, &two).unwrap();
        assert_eq!(a.keys().collect::<Vec<_>>(), ["k1"]);
        assert_eq!(b.keys().collect::<Vec<_>>(), ["k2"]);
        assert_eq!(b["k2"].stats.mean, 2.0);
        // shards of one run share the fingerprint; other seeds, trials or configs do not
        let sh = Some(Shard { index: 1, count: 2 });
        assert_eq!(run_id(1, sh).fingerprint(), one.fingerprint());
        let mut t = one.clone();
        t.trials = Some(5);
        assert_ne!(t.fingerprint(), one.fingerprint());
        t = one.clone();
        t.config = "y".into();
        assert_ne!(t.fingerprint(), one.fingerprint());
    }

    #[test]
    fn shards_partition_keys() {
        let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
        let n = 3;
        for k in &keys {
            let owners = (0..n)
                .filter(|&i| Shard { index: i, count: n }.owns(k))
                .count();
            assert_eq!(owners, 1);
        }
        assert!("1/0".parse::<Shard>().is_err());
        assert!("3/3".parse::<Shard>().is_err());
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
    }
}

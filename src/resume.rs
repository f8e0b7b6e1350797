//! Resumable runs for the commands whose unit of work is a run (`converge`, `reproduce`,
//! `train`).
//!
//! A results folder holds `run.json` (what produced it; see
//! [`crate::montecarlo::checkpoint::claim`]) and `checkpoint.tsv`: one line per finished unit,
//! appended and flushed as units finish. A line is a key, then fields of f64 values stored as
//! their exact bit patterns (NaN, infinities and -0.0 survive), then a checksum of the line, so
//! a line torn by SIGKILL is ignored and that unit simply runs again. Running the same command
//! again reuses every finished unit and produces the same final tables as an uninterrupted run.
//! Units are keyed by everything that determines their numbers, so a record is only ever
//! reused for the very run that produced it (with `train`, whose folder is shared and not
//! claimed: the same settings, data folder and crate version; the data files' contents are
//! not hashed).

use crate::error::Error;
use crate::rng::hash_str;
use crate::run::{claim, FolderLock, RunId};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One finished unit: fields of f64 values.
pub type Record = Vec<Vec<f64>>;

/// File name of the record log in a results folder.
pub const LOG: &str = "checkpoint.tsv";

/// A checkpoint line: `body`, a tab, the checksum of `body`, a newline.
pub fn seal(body: &str) -> String {
    format!("{body}\t{:016x}\n", hash_str(body))
}

/// The body of a line written by [`seal`]; None if the line is torn or corrupt.
pub fn unseal(line: &str) -> Option<&str> {
    let (body, sum) = line.rsplit_once('\t')?;
    (u64::from_str_radix(sum.trim_end(), 16).ok()? == hash_str(body)).then_some(body)
}

/// Encodes one record as a line (with checksum, newline-terminated).
pub fn encode(key: &str, fields: &[Vec<f64>]) -> String {
    let mut body = key.replace(['\t', '\n'], " ");
    for f in fields {
        body.push('\t');
        let parts: Vec<String> = f.iter().map(|x| format!("{:x}", x.to_bits())).collect();
        body.push_str(&parts.join(","));
    }
    seal(&body)
}

/// Decodes a line; None if torn or corrupt.
pub fn decode(line: &str) -> Option<(String, Record)> {
    let body = unseal(line)?;
    let mut it = body.split('\t');
    let key = it.next()?.to_string();
    let mut fields = Vec::new();
    for f in it {
        let mut v = Vec::new();
        if !f.is_empty() {
            for x in f.split(',') {
                v.push(f64::from_bits(u64::from_str_radix(x, 16).ok()?));
            }
        }
        fields.push(v);
    }
    Some((key, fields))
}

/// An append-only file of sealed lines, shared by threads.
pub struct Appender {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Appender {
    /// Opens (creating) `path` for appending and returns it with its current text. A torn
    /// last line is terminated first, so the next line starts on a line of its own.
    pub fn open(path: &Path) -> Result<(Self, String), Error> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        if !bytes.is_empty() && bytes.last() != Some(&b'\n') {
            file.write_all(b"\n").map_err(|e| Error::io(path, e))?;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let path = path.to_path_buf();
        Ok((
            Self {
                path,
                file: Mutex::new(file),
            },
            text,
        ))
    }

    /// Appends one line (already newline-terminated) and flushes it.
    pub fn append(&self, line: &str) -> Result<(), Error> {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes())
            .and_then(|()| f.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The record log of a results folder: finished units, and the file new ones are appended to.
pub struct Log {
    done: HashMap<String, Record>,
    file: Appender,
    /// Start of every line of this run (its fingerprint); empty for a shared folder.
    prefix: String,
    _lock: Option<FolderLock>,
}

impl Log {
    /// Claims and locks `dir` for run `id` (refusing a folder of another run or one in use;
    /// `markers` are files that show earlier results), loads the finished units of this very
    /// run (lines start with [`RunId::fingerprint`]) and opens the log for appending. The
    /// folder stays locked until the log is dropped.
    pub fn open(dir: &Path, id: &RunId, markers: &[&str]) -> Result<Self, Error> {
        let lock = claim(dir, id, markers)?;
        Self::load(&dir.join(LOG), id.fingerprint(), Some(lock))
    }

    /// The log at `path` without claiming its folder, for a folder that several runs share
    /// (`train`): their keys alone keep the records apart. The folder must exist.
    pub fn unclaimed(path: &Path) -> Result<Self, Error> {
        Self::load(path, String::new(), None)
    }

    fn load(path: &Path, prefix: String, lock: Option<FolderLock>) -> Result<Self, Error> {
        let (file, text) = Appender::open(path)?;
        let done = text
            .lines()
            .filter_map(decode)
            .filter_map(|(k, r)| Some((k.strip_prefix(&prefix)?.to_string(), r)))
            .collect();
        Ok(Self {
            done,
            file,
            prefix,
            _lock: lock,
        })
    }

    /// The finished unit with this key, if any.
    pub fn get(&self, key: &str) -> Option<&Record> {
        self.done.get(key)
    }

    /// Number of finished units in the log.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    /// Whether no unit is finished.
    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// Path of the log file (for messages).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Appends one finished unit and flushes it to the file.
    pub fn append(&self, key: &str, fields: &[Vec<f64>]) -> Result<(), Error> {
        self.file
            .append(&encode(&format!("{}{key}", self.prefix), fields))
    }

    /// Copies into this log the records of this run (lines with its fingerprint) that the
    /// checkpoints of `parts` (the folders of its shards) hold and it lacks, keeping the
    /// folder locked: the merge of `--shard I/N` runs. Returns how many were copied.
    pub fn import(&mut self, parts: &[PathBuf]) -> Result<usize, Error> {
        let mut added = 0;
        for part in parts {
            let p = part.join(LOG);
            let text = match std::fs::read_to_string(&p) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&p, e)),
            };
            for (k, r) in text.lines().filter_map(decode) {
                let Some(k) = k.strip_prefix(&self.prefix) else {
                    continue;
                };
                if !self.done.contains_key(k) {
                    self.append(k, &r)?;
                    self.done.insert(k.to_string(), r);
                    added += 1;
                }
            }
        }
        Ok(added)
    }
}

/// The message of an interrupted run: what is saved and how to resume.
pub fn interrupted(done: usize, total: usize, unit: &str, log: &Path) -> Error {
    Error::Interrupted(format!(
        "{done} of {total} {unit} are finished and saved in {}; run the same command again to resume",
        log.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(config: &str) -> RunId {
        RunId {
            command: "test".into(),
            version: "0".into(),
            config: config.into(),
            seed: 1,
            trials: None,
            shard: None,
            options: "rounds=3".into(),
        }
    }

    #[test]
    fn records_round_trip_bit_exactly_and_torn_lines_are_ignored() {
        let fields = vec![
            vec![
                1.0 / 3.0,
                f64::NAN,
                f64::INFINITY,
                -0.0,
                f64::MIN_POSITIVE / 4.0,
            ],
            vec![],
            vec![-1e300],
        ];
        let line = encode("a\tb", &fields);
        let (k, r) = decode(&line).unwrap();
        assert_eq!(k, "a b");
        let bits = |r: &Record| -> Vec<Vec<u64>> {
            r.iter()
                .map(|f| f.iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(&r), bits(&fields));
        // any truncation of the line is rejected
        for cut in 0..line.len() - 1 {
            assert!(decode(&line[..cut]).is_none(), "cut at {cut}");
        }
        // a flipped character is rejected
        let bad = line.replacen('3', "4", 1);
        assert!(decode(&bad).is_none());
    }

    #[test]
    fn log_resumes_and_refuses_other_runs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("out");
        {
            let log = Log::open(&d, &id("x"), &["rounds.csv"]).unwrap();
            assert!(log.is_empty());
            log.append("one", &[vec![1.0]]).unwrap();
            log.append("two", &[vec![2.0, 3.0]]).unwrap();
        }
        // a torn third line (SIGKILL mid-write)
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.join(LOG))
            .unwrap();
        f.write_all(b"three\t4000").unwrap();
        drop(f);
        let log = Log::open(&d, &id("x"), &["rounds.csv"]).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log.get("two").unwrap(), &vec![vec![2.0, 3.0]]);
        log.append("three", &[vec![4.0]]).unwrap();
        drop(log);
        let log = Log::open(&d, &id("x"), &["rounds.csv"]).unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(log.get("three").unwrap(), &vec![vec![4.0]]);
        // while it is open, the folder is locked against a second run
        let e = Log::open(&d, &id("x"), &[]).err().unwrap().to_string();
        assert!(e.contains("in use by another phocas run"), "{e}");
        drop(log);
        // another config is refused, naming what differs
        let e = Log::open(&d, &id("y"), &[]).err().unwrap().to_string();
        assert!(e.contains("another config"), "{e}");
        let mut other = id("x");
        other.options = "rounds=4".into();
        let e = Log::open(&d, &other, &[]).err().unwrap().to_string();
        assert!(e.contains("rounds=3") && e.contains("rounds=4"), "{e}");
        // earlier results without run.json are refused
        let d2 = dir.path().join("old");
        std::fs::create_dir_all(&d2).unwrap();
        std::fs::write(d2.join("rounds.csv"), "x").unwrap();
        let e = Log::open(&d2, &id("x"), &["rounds.csv"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("without a run.json"), "{e}");
    }
}

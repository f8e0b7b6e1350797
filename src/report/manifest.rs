//! Run manifests: every results folder carries `manifest.json` saying which version, commit,
//! config, seed and thread count produced it, on which machine, and when.

use crate::error::Error;
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Provenance of one results folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Command that produced the folder (`verify-bounds`, ...).
    pub command: String,
    /// Crate version.
    pub version: String,
    /// Git commit of the source tree, if known.
    pub git_commit: Option<String>,
    /// The configuration, as TOML text.
    pub config: String,
    /// Master seed.
    pub seed: u64,
    /// Threads used (results do not depend on it).
    pub threads: usize,
    /// Host description.
    pub machine: String,
    /// Start and end, seconds since the Unix epoch.
    pub started_unix: u64,
    /// End time.
    pub finished_unix: u64,
    /// Rows written per table.
    pub rows: std::collections::BTreeMap<String, usize>,
}

impl Manifest {
    /// A manifest for `command` started now.
    pub fn start(command: &str, config: String, seed: u64) -> Self {
        Self {
            command: command.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: git_commit(),
            config,
            seed,
            threads: rayon::current_num_threads(),
            machine: machine(),
            started_unix: now(),
            finished_unix: 0,
            rows: Default::default(),
        }
    }
    /// Stamps the end time and writes `dir/manifest.json` atomically.
    pub fn finish(mut self, dir: &Path) -> Result<Self, Error> {
        self.finished_unix = now();
        let s = serde_json::to_string_pretty(&self).map_err(|e| Error::Report(e.to_string()))?;
        write_atomic(&dir.join("manifest.json"), s.as_bytes())?;
        Ok(self)
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    format!(
        "{} {} cores, {}",
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(1, usize::from),
        cpu
    )
}

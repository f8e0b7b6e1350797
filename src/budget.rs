//! Resource estimates checked before a run starts, so that no size a user can type aborts the
//! process with an allocation failure or runs for years: each command estimates the memory
//! it will hold and the work it will do from its settings, and refuses, naming the value
//! that dominates and the estimate, what cannot fit.
//!
//! The estimates are deliberately rough upper bounds on memory and optimistic on speed
//! ([`OPS_PER_SECOND`] per thread), so a refusal means the run surely cannot finish here.

use crate::error::Error;

/// Element operations per second and thread assumed by the time estimate (optimistic: the
/// fastest kernels reach about this; sampling and the searches are slower).
pub const OPS_PER_SECOND: f64 = 1e9;

/// Longest estimated run accepted (one year): anything longer is a typo, not an experiment.
pub const MAX_SECONDS: f64 = 365.0 * 86_400.0;

/// Memory assumed when the system does not say how much is available (64 GiB).
const UNKNOWN_MEMORY: f64 = 64.0 * 1024.0 * 1024.0 * 1024.0;

/// An estimate of a run's peak memory (bytes) and work (element operations), with the
/// setting behind the largest single contribution to each, in the user's words (e.g.
/// `trials = 100000000000 in sweep 's'`).
#[derive(Clone, Debug, Default)]
pub struct Estimate {
    bytes: f64,
    ops: f64,
    top_bytes: f64,
    top_ops: f64,
    bytes_from: String,
    ops_from: String,
}

impl Estimate {
    /// Adds `bytes` of memory held by the part that `from` describes.
    pub fn memory(&mut self, bytes: f64, from: impl FnOnce() -> String) {
        if exceeds(bytes, self.top_bytes) {
            self.top_bytes = bytes;
            self.bytes_from = from();
        }
        self.bytes += bytes;
    }

    /// Adds `ops` element operations done by the part that `from` describes.
    pub fn work(&mut self, ops: f64, from: impl FnOnce() -> String) {
        if exceeds(ops, self.top_ops) {
            self.top_ops = ops;
            self.ops_from = from();
        }
        self.ops += ops;
    }

    /// Peak memory in bytes.
    pub fn bytes(&self) -> f64 {
        self.bytes
    }

    /// Work in element operations.
    pub fn ops(&self) -> f64 {
        self.ops
    }
}

/// Whether `x` is above `limit` or not comparable with it (NaN): the test every estimate
/// passes, so that a NaN estimate is refused rather than accepted.
pub fn exceeds(x: f64, limit: f64) -> bool {
    !matches!(
        x.partial_cmp(&limit),
        Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
    )
}

/// Bytes of memory available to this process: `MemAvailable` of /proc/meminfo where there
/// is one, otherwise 64 GiB.
pub fn available_memory() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(UNKNOWN_MEMORY, |kb| kb * 1024.0)
}

/// A byte count for people: `812 MB`, `7.3 TB`.
pub fn bytes_text(b: f64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KB", "MB", "GB", "TB", "PB"];
    let mut x = b;
    let mut u = 0;
    while x >= 1000.0 && u + 1 < UNITS.len() {
        x /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{x:.0} bytes")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

/// A duration for people: `3.2 hours`, `41 years`.
pub fn seconds_text(s: f64) -> String {
    let (x, unit) = if s < 120.0 {
        (s, "s")
    } else if s < 7_200.0 {
        (s / 60.0, "minutes")
    } else if s < 172_800.0 {
        (s / 3_600.0, "hours")
    } else if s < 2.0 * MAX_SECONDS {
        (s / 86_400.0, "days")
    } else {
        (s / MAX_SECONDS, "years")
    };
    if x >= 1e6 {
        format!("{x:.1e} {unit}")
    } else {
        format!("{x:.1} {unit}")
    }
}

/// Refuses a run of `command` whose estimate exceeds the available memory (`available`
/// bytes) or [`MAX_SECONDS`] on `threads` threads, with one line naming the setting, the
/// estimate and the fix (`fix`, e.g. "lower trials, m or d").
pub fn check_with(
    command: &str,
    e: &Estimate,
    fix: &str,
    threads: usize,
    available: f64,
) -> Result<(), Error> {
    if exceeds(e.bytes, available) {
        return Err(Error::Invalid(format!(
            "{command}: {} needs an estimated {} of memory, more than the {} available: {fix}",
            e.bytes_from,
            bytes_text(e.bytes),
            bytes_text(available)
        )));
    }
    let secs = e.ops / (OPS_PER_SECOND * threads.max(1) as f64);
    if exceeds(secs, MAX_SECONDS) {
        return Err(Error::Invalid(format!(
            "{command}: {} needs an estimated {:.1e} operations, at least {} on {} threads: {fix}",
            e.ops_from,
            e.ops,
            seconds_text(secs),
            threads.max(1)
        )));
    }
    Ok(())
}

/// [`check_with`] for this machine: its available memory and rayon's thread count.
pub fn check(command: &str, e: &Estimate, fix: &str) -> Result<(), Error> {
    check_with(
        command,
        e,
        fix,
        rayon::current_num_threads(),
        available_memory(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_does_not_fit_and_names_the_largest_part() {
        let mut e = Estimate::default();
        e.memory(1e6, || "small".into());
        e.memory(5e9, || "trials = 10^9 in sweep 'big'".into());
        e.memory(1e3, || "tiny".into());
        assert!(check_with("x", &e, "fix it", 2, 1e10).is_ok());
        let msg = check_with("x", &e, "fix it", 2, 4e9)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("trials = 10^9 in sweep 'big'"), "{msg}");
        assert!(
            msg.contains("5.0 GB") && msg.contains("4.0 GB") && msg.ends_with("fix it"),
            "{msg}"
        );
        let mut w = Estimate::default();
        w.work(1e9, || "cheap".into());
        w.work(1e18, || "rounds = 10^12".into());
        let msg = check_with("y", &w, "fewer rounds", 2, 1e12)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("rounds = 10^12") && msg.contains("years"),
            "{msg}"
        );
        w = Estimate::default();
        w.work(1e15, || "a day".into());
        assert!(
            check_with("y", &w, "", 2, 1e12).is_ok(),
            "a week of work is allowed"
        );
    }

    #[test]
    fn non_finite_estimates_are_refused() {
        let mut e = Estimate::default();
        e.memory(f64::INFINITY, || "m = huge".into());
        assert!(check_with("x", &e, "", 1, 1e12).is_err());
        let mut e = Estimate::default();
        e.work(f64::NAN, || "d = NaN".into());
        assert!(check_with("x", &e, "", 1, 1e12).is_err());
    }

    #[test]
    fn texts_are_readable() {
        assert_eq!(bytes_text(512.0), "512 bytes");
        assert_eq!(bytes_text(2.5e9), "2.5 GB");
        assert_eq!(seconds_text(30.0), "30.0 s");
        assert_eq!(seconds_text(7_200.0 * 3.0), "6.0 hours");
        assert!(seconds_text(1e12).ends_with("years"));
        assert!(available_memory() > 0.0);
    }
}

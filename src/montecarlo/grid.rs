//! The grid run in memory: every cell of a config simulated and finished, with no folder,
//! checkpoint, chart or console output. It is the engine of the Python package's
//! `phocas.verify_bounds`; the table is [`super::output::results_table`], the same one
//! `verify-bounds` writes, cell for cell (same seeds, same streams).

use super::config::Config;
use super::engine::{finish_cell, mark_growth, simulate_cell, CellResult};
use crate::error::Error;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs every cell of `cfg` (with `trials` overriding each sweep's count, when given) and
/// returns the finished results in the config's cell order. `done` counts the finished cells
/// as they finish (for a progress display); setting `stop` ends the run early with
/// [`Error::Interrupted`]. Refuses grids this machine cannot hold, like `verify-bounds`.
pub fn run_in_memory(
    cfg: &Config,
    trials: Option<usize>,
    stop: &AtomicBool,
    done: &AtomicUsize,
) -> Result<Vec<CellResult>, Error> {
    cfg.validate()?;
    let (cells, _skipped) = cfg.cells(trials);
    crate::budget::check(
        "verify_bounds",
        &super::engine::estimate(&cells, rayon::current_num_threads()),
        "lower its trials, m or d",
    )?;
    let raws: Vec<_> = cells
        .par_iter()
        .map(|c| {
            if stop.load(Ordering::Relaxed) {
                return Err(Error::Interrupted("stopped".into()));
            }
            let raw = simulate_cell(cfg, c, stop)?;
            done.fetch_add(1, Ordering::Relaxed);
            Ok(raw)
        })
        .collect();
    let mut results = cells
        .iter()
        .zip(raws)
        .map(|(c, raw)| raw.map(|raw| finish_cell(c, raw)))
        .collect::<Result<Vec<_>, Error>>()?;
    mark_growth(&mut results);
    Ok(results)
}

/// The number of cells `cfg` runs (for a progress bar's total).
pub fn cell_count(cfg: &Config, trials: Option<usize>) -> usize {
    cfg.cells(trials).0.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: &str = r#"
seed = 5
[[sweep]]
name = "t"
rules = ["mean", "trmean"]
distributions = ["gaussian"]
attacks = ["gaussian"]
corruptions = ["generalized"]
m = [10]
q = [2]
b = ["equal"]
d = [4]
trials = 40
"#;

    #[test]
    fn in_memory_run_is_deterministic_and_counts_cells() {
        let cfg = Config::parse(GRID).unwrap();
        let (stop, done) = (AtomicBool::new(false), AtomicUsize::new(0));
        let a = run_in_memory(&cfg, None, &stop, &done).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(done.load(Ordering::Relaxed), 2);
        assert_eq!(cell_count(&cfg, None), 2);
        let b = run_in_memory(&cfg, None, &stop, &AtomicUsize::new(0)).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.stats.mean.to_bits(), y.stats.mean.to_bits());
        }
        let t = super::super::output::results_table(&a, &cfg).unwrap();
        assert_eq!(t.height(), 2);
    }

    #[test]
    fn a_set_stop_flag_interrupts() {
        let cfg = Config::parse(GRID).unwrap();
        let r = run_in_memory(&cfg, None, &AtomicBool::new(true), &AtomicUsize::new(0));
        assert!(matches!(r, Err(Error::Interrupted(_))));
    }
}

//! Fuzz target for config loading: the verify-bounds grid (TOML and JSON), the converge grid,
//! the MLP experiments and the attack parameters of `phocas corrupt`. Any text must parse or
//! be refused with an error (never a panic, never an unbounded expansion), and whatever parses
//! must expand into cells and runs that keep the invariants the engines rely on.
#![no_main]

use phocas::montecarlo::config::{Config, MAX_CELLS};
use phocas::sgd::converge;
use phocas::sgd::figures::Experiment;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // the TOML grid, and the same keys as JSON (the Python package's dict)
    for cfg in [Config::parse(text), Config::parse_json(text)].into_iter().flatten() {
        let (cells, _) = cfg.cells(None);
        assert!(!cells.is_empty(), "a valid grid has cells");
        assert!(cells.len() <= MAX_CELLS * cfg.sweep.len());
        let mut keys = std::collections::HashSet::new();
        for c in &cells {
            assert!(c.m >= 1 && c.d >= 1 && c.n >= 1, "{}", c.key());
            assert!(c.q <= c.m, "{}", c.key());
            assert!(c.trials >= 2, "{}", c.key());
            assert!(keys.insert(c.key()), "duplicate cell {}", c.key());
        }
        let e = phocas::montecarlo::engine::estimate(&cells, 2);
        assert!(!(e.bytes() < 0.0) && !(e.ops() < 0.0));
    }
    // `phocas corrupt --param KEY=VALUE`, one pair a line: parsed or refused, and what parses
    // is valid
    let pairs: Vec<String> = text.lines().map(str::to_string).collect();
    if let Ok(p) = phocas::attacks::params_from_pairs(&pairs) {
        assert!(p.validate().is_ok());
    }
    if let Ok(cfg) = converge::Config::parse(text) {
        let runs = cfg.runs();
        assert!(runs.len() <= MAX_CELLS * cfg.sweep.len());
        for r in &runs {
            assert!(r.rounds >= 1 && r.repeats >= 2 && r.q <= cfg.m);
        }
    }
    if let Ok(exp) = Experiment::parse(text) {
        let _ = exp.validate();
    }
});

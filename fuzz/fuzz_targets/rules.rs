//! Fuzz target: arbitrary bytes become a rule, its parameters and an m x d matrix of arbitrary
//! f32 or f64 bit patterns. No rule may panic, loop or read out of bounds; construction either
//! succeeds or returns a typed error; aggregation is deterministic (two calls give the same
//! bits) and writes exactly d values.
//!
//! Run: `cargo fuzz run rules` (needs cargo-fuzz; on a stable toolchain prefix
//! `RUSTC_BOOTSTRAP=1`). Crash inputs go into tests/fuzz_regressions.rs.
#![no_main]

include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(None, data));

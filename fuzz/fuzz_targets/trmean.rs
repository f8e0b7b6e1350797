//! Fuzz target for rule `trmean` (see rules.rs for what is checked).
#![no_main]

include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(Some("trmean"), data));

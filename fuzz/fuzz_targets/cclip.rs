//! Fuzz target for rule `cclip` (see rules.rs for what is checked).
#![no_main]

include!("common.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(Some("cclip"), data));

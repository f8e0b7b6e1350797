//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub use phocas::report::tables::split_csv;

/// Parses a CSV file into rows of (column -> value).
pub fn read_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap_or(""));
    lines
        .map(|l| header.iter().cloned().zip(split_csv(l)).collect())
        .collect()
}

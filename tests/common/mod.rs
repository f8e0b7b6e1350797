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

/// Debian's Fashion-MNIST (MNIST format), which CI installs.
pub const REAL: &str = "/usr/share/datasets/fashion-mnist";

/// Whether the real data set is installed. Where it is not, a test that needs it is skipped,
/// except under CI (PHOCAS_REQUIRE_DATA set), where a missing data set fails.
pub fn real_data() -> bool {
    if std::path::Path::new(REAL).exists() {
        return true;
    }
    assert!(
        std::env::var_os("PHOCAS_REQUIRE_DATA").is_none(),
        "{REAL} is missing: apt-get install dataset-fashion-mnist"
    );
    eprintln!("skipped: {REAL} is absent (apt-get install dataset-fashion-mnist)");
    false
}

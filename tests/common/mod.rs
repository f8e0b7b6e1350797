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

/// Runs the real binary with 2 threads.
pub fn phocas(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args(["--threads", "2"])
        .args(args)
        .output()
        .unwrap()
}

/// Asserts that a run succeeded, showing its stderr otherwise.
pub fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Asserts that a run was refused with exit status 2 and one line starting `error:` that
/// contains every needle.
pub fn refused(o: &std::process::Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.starts_with("error:") && !e.contains("panicked"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} not in: {e}");
    }
}

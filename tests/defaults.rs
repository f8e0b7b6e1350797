//! Default output folders (first-hour issue, item 1): a run without --out writes under the
//! git-ignored runs/ folder, never under reports/ (the committed reference runs); the same
//! command resumes in the same folder; other settings get another folder instead of a refusal.

use std::path::Path;
use std::process::{Command, Output};

fn phocas(cwd: &Path, args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run phocas");
    assert!(
        o.status.success(),
        "phocas {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The folders under `cwd/runs` whose names start with `prefix`.
fn runs(cwd: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(cwd.join("runs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn trial_runs_default_to_one_scratch_folder_per_setting() {
    let t = tempfile::tempdir().unwrap();
    let cwd = t.path();
    let quick = [
        "verify-bounds",
        "--quick",
        "--trials",
        "2",
        "--quiet",
        "--no-charts",
    ];
    let o = phocas(cwd, &quick);
    let first = runs(cwd, "verify-bounds-quick-");
    assert_eq!(first.len(), 1, "{first:?}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("runs/{}", first[0])), "{stdout}");
    // the same command resumes in the same folder
    let o = phocas(cwd, &quick);
    assert_eq!(runs(cwd, "verify-bounds-quick-"), first);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains(" 0 already done"), "{err}");
    // other settings: another folder, not a refusal
    let mut other = quick.to_vec();
    other.extend(["--seed", "7"]);
    phocas(cwd, &other);
    assert_eq!(runs(cwd, "verify-bounds-quick-").len(), 2);
    phocas(cwd, &["converge", "--quick", "--quiet", "--no-charts"]);
    assert_eq!(runs(cwd, "converge-quick-").len(), 1);
    let o = phocas(
        cwd,
        &[
            "bench-scaling",
            "--quick",
            "--at",
            "5x1000",
            "--reps",
            "1",
            "--rules",
            "mean",
            "--no-compare",
            "--no-charts",
        ],
    );
    let bench = runs(cwd, "bench-scaling-quick-");
    assert_eq!(bench.len(), 1, "{bench:?}");
    let console = std::fs::read_to_string(cwd.join("runs").join(&bench[0]).join("console.txt"))
        .expect("bench-scaling writes console.txt");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(console.trim_end()),
        "console.txt is the printed summary"
    );
    assert!(
        !cwd.join("reports").exists(),
        "a trial run wrote into reports/"
    );
}

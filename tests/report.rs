//! `phocas report`: one command regenerates the report; inputs unchanged are reused; a forced
//! rerun with the same seeds gives identical tables.

use std::process::Command;

/// `phocas report --quick` in `cwd` with its default folder.
fn report(cwd: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args(["report", "--quick", "--skip-mlp", "--skip-bench"])
        .args(extra)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn report_is_reproducible_and_reuses_unchanged_runs() {
    let dir = tempfile::tempdir().unwrap();
    // a quick report goes to the scratch folder, never into reports/ (the committed runs)
    let out = dir.path().join("runs/report-quick");
    let o = report(dir.path(), &[]);
    assert!(
        !dir.path().join("reports").exists(),
        "report --quick wrote reports/"
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    let broken = phocas::report::document::broken_links(&md, &out);
    assert!(
        broken.is_empty(),
        "REPORT.md links to missing files: {broken:?}"
    );
    assert!(md.contains("| run size |"), "rows state their run size");
    for claim in [
        "Lemma 1",
        "Proposition 1",
        "Theorem 1",
        "Theorem 2",
        "Theorem 3",
        "Theorem 4",
    ] {
        assert!(md.contains(claim), "REPORT.md lacks {claim}");
    }
    assert!(md.contains("verify-bounds/verdicts.png"));
    let t1 = std::fs::read(out.join("verify-bounds/results.csv")).unwrap();
    let c1 = std::fs::read(out.join("convergence/rounds.csv")).unwrap();
    let o = report(dir.path(), &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("reused"));
    let o = report(dir.path(), &["--force"]);
    assert!(o.status.success());
    assert_eq!(
        std::fs::read(out.join("verify-bounds/results.csv")).unwrap(),
        t1
    );
    assert_eq!(
        std::fs::read(out.join("convergence/rounds.csv")).unwrap(),
        c1
    );
}

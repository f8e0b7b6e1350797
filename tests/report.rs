//! `phocas report`: one command regenerates the report; inputs unchanged are reused; a forced
//! rerun with the same seeds gives identical tables.

use std::process::Command;

/// `phocas report --quick` in `cwd` with its default folder. The training figures are left
/// out: even quick, the CNN's three figures take most of an hour in a debug build (CI once
/// timed out here); tests/mlp.rs trains both networks, tests/cli.rs checks `--only`.
fn report(cwd: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args([
            "report",
            "--quick",
            "--skip-mlp",
            "--skip-cnn",
            "--skip-bench",
        ])
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
    assert!(
        md.contains("## Heterogeneous honest workers") && md.contains("| nnm + trmean |"),
        "REPORT.md lacks the heterogeneity section"
    );
    assert!(md.contains("verify-bounds/heterogeneity.png"));
    charts_have_readable_sizes(&out);
    let t1 = std::fs::read(out.join("verify-bounds/results.csv")).unwrap();
    let c1 = std::fs::read(out.join("convergence/rounds.csv")).unwrap();
    let h1 = std::fs::read(out.join("verify-bounds/heterogeneity.csv")).unwrap();
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
    assert_eq!(
        std::fs::read(out.join("verify-bounds/heterogeneity.csv")).unwrap(),
        h1
    );
}

/// Every PNG under `dir` is at most 4,000 x 2,400 pixels (one 3,120-pixel-tall b-vs-q image
/// held 12 panels before pages of six) and at least 300 x 200.
fn charts_have_readable_sizes(dir: &std::path::Path) {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "png") {
                let b = std::fs::read(&p).unwrap();
                let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                let (w, h) = (be(16), be(20));
                assert!(
                    (300..=4000).contains(&w) && (200..=2400).contains(&h),
                    "{}: {w} x {h}",
                    p.display()
                );
                n += 1;
            }
        }
    }
    assert!(n >= 5, "only {n} charts under {}", dir.display());
}

/// The committed reports/REPORT.md links only to files that are committed beside it.
#[test]
fn the_committed_report_has_no_broken_links() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    let md =
        std::fs::read_to_string(dir.join("REPORT.md")).expect("reports/REPORT.md is committed");
    let broken = phocas::report::document::broken_links(&md, &dir);
    assert!(
        broken.is_empty(),
        "reports/REPORT.md links to missing files: {broken:?}"
    );
    assert!(md.contains("| run size |"));
}

//! Checkpoints, resumption after SIGINT / SIGKILL, refusal of foreign folders, and sharding +
//! merge: all must reproduce the table of one uninterrupted run byte for byte.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const GRID: &str = r#"
seed = 5

[[sweep]]
name = "s"
rules = ["trmean", "phocas", "mean", "krum"]
distributions = ["gaussian", "laplace"]
corruptions = ["generalized", "classic"]
attacks = ["gaussian", "constant"]
m = [12]
q = [1, 2, 3]
b = ["below", "equal"]
d = [16]
trials = 3000
"#;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_phocas"))
}

fn verify(cfg: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args(["verify-bounds", "--quiet", "--no-charts", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .args(extra);
    c
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("g.toml");
    std::fs::write(&cfg, GRID).unwrap();
    let o = verify(&cfg, &dir.path().join("ref"), &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = std::fs::read(dir.path().join("ref/results.csv")).unwrap();
    (dir, cfg, reference)
}

fn interrupt_and_resume(signal: &str, after_ms: u64) {
    let (dir, cfg, reference) = setup();
    let out = dir.path().join(format!("run-{signal}"));
    let mut child = verify(&cfg, &out, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(after_ms));
    let _ = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    if signal == "INT" && !status.success() {
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(130), "{err}");
        assert!(
            err.contains("run the same command again to resume"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = verify(&cfg, &out, &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("results.csv")).unwrap(), reference);
}

#[test]
fn sigint_then_resume_gives_the_same_table() {
    interrupt_and_resume("INT", 300);
}

#[test]
fn sigkill_then_resume_gives_the_same_table() {
    interrupt_and_resume("KILL", 400);
}

#[test]
fn shards_merge_into_the_single_run_table() {
    let (dir, cfg, reference) = setup();
    let mut parts = Vec::new();
    for i in 0..3 {
        let out = dir.path().join(format!("shard{i}"));
        let o = verify(&cfg, &out, &["--shard", &format!("{i}/3")])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        parts.push(out);
    }
    // a missing shard is refused
    let o = bin()
        .args(["merge", "--no-charts", "--out"])
        .arg(dir.path().join("merged"))
        .args(&parts[..2])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
    let o = bin()
        .args(["merge", "--no-charts", "--out"])
        .arg(dir.path().join("merged"))
        .args(&parts)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("merged/results.csv")).unwrap(),
        reference
    );
}

#[test]
fn a_folder_of_another_run_is_refused() {
    let (dir, cfg, _) = setup();
    let o = verify(&cfg, &dir.path().join("ref"), &["--seed", "6"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("seed 5") && e.contains("--out"), "{e}");
}

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
    // the speed line counts only work done now: the resumed run names its reused cells (if
    // the signal came after some finished), a third run simulates nothing
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("trials simulated in") || said.contains("all reused"),
        "{said}"
    );
    let o = verify(&cfg, &out, &[]).output().unwrap();
    assert!(o.status.success());
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("all reused from the checkpoint (nothing simulated now)"),
        "{said}"
    );
    assert!(!said.contains("trials/s"), "{said}");
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
    // merge never writes into a shard's own folder (defect 11)
    let before = std::fs::read(parts[0].join("results.csv")).unwrap();
    let o = bin()
        .args(["merge", "--no-charts", "--out"])
        .arg(&parts[0])
        .args(&parts)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is one of the shard folders"), "{err}");
    assert_eq!(std::fs::read(parts[0].join("results.csv")).unwrap(), before);
    // nor into the folder of another run
    let other = dir.path().join("seed6");
    let o = verify(&cfg, &other, &["--seed", "6"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = std::fs::read(other.join("results.csv")).unwrap();
    let o = bin()
        .args(["merge", "--no-charts", "--out"])
        .arg(&other)
        .args(&parts)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("seed 6 (this run: 5)"), "{err}");
    assert_eq!(std::fs::read(other.join("results.csv")).unwrap(), before);
    // a damaged run.json naming a shard that cannot exist is refused, not a panic
    let run = parts[2].join("run.json");
    let text = std::fs::read_to_string(&run).unwrap();
    let damaged = text.replacen("\"index\": 2", "\"index\": 7", 1);
    assert_ne!(damaged, text, "run.json layout changed: update this test");
    std::fs::write(&run, damaged).unwrap();
    let o = bin()
        .args(["merge", "--no-charts", "--out"])
        .arg(dir.path().join("merged2"))
        .args(&parts)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("7/3") && !err.contains("panicked"), "{err}");
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

#[test]
fn a_folder_locked_by_a_running_run_is_refused() {
    // Defect 4: two runs started together on one --out both claimed the folder. The test
    // holds the folder's lock as a running phocas would.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("g.toml");
    std::fs::write(&cfg, GRID).unwrap();
    let out = dir.path().join("busy");
    std::fs::create_dir_all(&out).unwrap();
    let lock = std::fs::File::create(out.join(".lock")).unwrap();
    lock.try_lock().unwrap();
    let o = verify(&cfg, &out, &[]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("in use by another phocas run"), "{err}");
    assert!(!out.join("run.json").exists() && !out.join("checkpoint.tsv").exists());
    drop(lock);
}

#[test]
fn bench_scaling_refuses_a_folder_in_use_before_timing() {
    // Two bench-scaling runs on one --out: the second stops at once, names the folder, and
    // writes nothing there.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("busy");
    std::fs::create_dir_all(&out).unwrap();
    let lock = std::fs::File::create(out.join(".lock")).unwrap();
    lock.try_lock().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args([
            "bench-scaling",
            "--at",
            "5x1000",
            "--rules",
            "mean",
            "--reps",
            "1",
        ])
        .args(["--no-compare", "--no-charts", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("in use by another phocas run"), "{err}");
    assert!(!out.join("scaling.csv").exists() && !out.join("manifest.json").exists());
    drop(lock);
}

const FASHION: &str = "/usr/share/datasets/fashion-mnist";

/// Whether the real data set is installed; CI sets PHOCAS_REQUIRE_DATA so a missing data set
/// fails there instead of skipping.
fn have_data() -> bool {
    let ok = Path::new(FASHION).exists();
    assert!(
        ok || std::env::var_os("PHOCAS_REQUIRE_DATA").is_none(),
        "{FASHION} is missing: apt-get install dataset-fashion-mnist"
    );
    ok
}

/// Starts `cmd`, waits until `log` holds at least `lines` finished records, sends `signal`,
/// and returns the exit status and stderr.
fn kill_after_records(
    mut cmd: Command,
    log: &Path,
    lines: usize,
    signal: &str,
) -> (std::process::ExitStatus, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    loop {
        let n = std::fs::read_to_string(log)
            .map(|t| t.matches('\n').count())
            .unwrap_or(0);
        if n >= lines || t0.elapsed() > Duration::from_secs(120) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    (status, err)
}

const FIGURE: &str = r#"
[common]
m = 5
rounds = 30
repeats = 4
eval_every = 10
seed = 3

[[panel]]
name = "p"
title = "tiny"
attack = "gaussian"
corruption = "classic"
q = 1
b = 1
rules = ["mean", "trmean"]
"#;

fn reproduce(cfg: &Path, out: &Path) -> Command {
    let mut c = bin();
    c.args(["--threads", "2", "reproduce", "fig2", "--quiet", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out);
    c
}

#[test]
fn reproduce_resumes_after_sigint_and_sigkill_with_identical_tables() {
    if !have_data() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fig.toml");
    std::fs::write(&cfg, FIGURE).unwrap();
    let o = reproduce(&cfg, &dir.path().join("ref")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |d: &Path, f: &str| std::fs::read(d.join("fig2").join(f)).unwrap();
    let reference = dir.path().join("ref");
    for (signal, after) in [("INT", 2), ("KILL", 5)] {
        let out = dir.path().join(signal);
        let log = out.join("fig2/checkpoint.tsv");
        let (status, err) = kill_after_records(reproduce(&cfg, &out), &log, after, signal);
        assert!(!err.contains("panicked"), "{err}");
        if signal == "INT" {
            assert_eq!(status.code(), Some(130), "{err}");
            assert!(
                err.contains("run the same command again to resume"),
                "{err}"
            );
        }
        let kept = std::fs::read_to_string(&log).unwrap().lines().count();
        assert!(kept >= after && kept < 8, "{kept} records after {signal}");
        let o = reproduce(&cfg, &out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(
            said.contains(&format!("{} reused from the checkpoint", kept)),
            "{said}"
        );
        for f in ["rounds.csv", "summary.csv"] {
            assert!(
                read(&out, f) == read(&reference, f),
                "{signal}: {f} differs"
            );
        }
    }
    // The same folder with other rounds is refused, naming the difference.
    let o = reproduce(&cfg, &dir.path().join("INT"))
        .args(["--rounds", "31"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("rounds=30") && e.contains("rounds=31"), "{e}");
}

const CONVERGE: &str = r#"
seed = 9
repeats = 20
rounds = 300
m = 10
d = 5
v = 1.0

[[sweep]]
name = "attacks"
objective = "quadratic"
kappa = [10.0]
rules = ["mean", "trmean", "phocas", "median"]
attacks = ["none", "omniscient", "gaussian"]
q = [2]
b = ["equal"]
gamma = [1.0, 0.5]
"#;

fn converge(cfg: &Path, out: &Path) -> Command {
    let mut c = bin();
    c.args(["converge", "--quiet", "--no-charts", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out);
    c
}

#[test]
fn converge_resumes_after_sigterm_with_identical_tables() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, CONVERGE).unwrap();
    let reference = dir.path().join("ref");
    let o = converge(&cfg, &reference).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("run");
    let (status, err) =
        kill_after_records(converge(&cfg, &out), &out.join("checkpoint.tsv"), 3, "TERM");
    assert!(!err.contains("panicked"), "{err}");
    if !status.success() {
        assert_eq!(status.code(), Some(130), "{err}");
        assert!(
            err.contains("run the same command again to resume"),
            "{err}"
        );
    }
    let o = converge(&cfg, &out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["runs.csv", "rounds.csv"] {
        assert!(
            std::fs::read(out.join(f)).unwrap() == std::fs::read(reference.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

fn train(out: &Path, repeats: &str) -> Command {
    let mut c = bin();
    c.args(["--threads", "2", "train", "--data-dir", FASHION])
        .args(["--workers", "5", "--rounds", "30", "--eval-every", "10"])
        .args([
            "--rule",
            "trmean",
            "--b",
            "1",
            "--attack",
            "gaussian",
            "--byzantine",
            "1",
        ])
        .args(["--repeats", repeats, "--out"])
        .arg(out);
    c
}

#[test]
fn train_resumes_after_sigint_with_identical_tables() {
    if !have_data() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref");
    let o = train(&reference, "10").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("INT");
    let log = out.join("checkpoint.tsv");
    let (status, err) = kill_after_records(train(&out, "10"), &log, 2, "INT");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    let kept = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!((2..10).contains(&kept), "{kept} records after SIGINT");
    let o = train(&out, "10").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        said.matches("(reused from the checkpoint)").count(),
        kept,
        "{said}"
    );
    let read = |d: &Path| std::fs::read(d.join("rounds.csv")).unwrap();
    assert!(read(&out) == read(&reference), "rounds.csv differs");
    // Another configuration in the same folder trains afresh (its keys differ).
    let o = train(&out, "1").args(["--lr", "0.05"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("reused"));
}

//! The MLP path end to end through the real binary: data errors, and short trainings on the
//! real Fashion-MNIST files when they are installed (CI installs Debian's dataset-fashion-mnist).

mod common;

use common::REAL;
use std::path::Path;
use std::process::Command;

fn train(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args(["--threads", "2", "train", "--data-dir"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn final_accuracy(stdout: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(stdout);
    let line = s.lines().find(|l| l.contains("final accuracy")).unwrap();
    line.split("final accuracy ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn missing_data_directory_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = train(&dir.path().join("nope"), &dir.path().join("out"), &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.starts_with("error:"), "{e}");
    assert!(e.contains("apt-get install dataset-fashion-mnist"), "{e}");
    assert!(!e.contains("panicked"));
}

#[test]
fn bad_parameters_are_rejected_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    let o = train(
        Path::new(REAL),
        &dir.path().join("out"),
        &["--rule", "trmean", "--b", "10"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at most 9"));
}

#[test]
fn trains_on_real_data_and_the_attack_separates_the_rules() {
    if !common::real_data() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let common = ["--rounds", "40", "--eval-every", "20"];
    // Mean without attack learns: well above chance (0.1) after 40 rounds.
    let o = train(
        Path::new(REAL),
        &dir.path().join("a"),
        &[&common[..], &["--rule", "mean"]].concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let clean = final_accuracy(&o.stdout);
    assert!(clean > 0.5, "mean, no attack: {clean}");
    // The omniscient attack (6 of 20 workers) destroys Mean ...
    let atk = ["--attack", "omniscient", "--byzantine", "6"];
    let o = train(
        Path::new(REAL),
        &dir.path().join("b"),
        &[&common[..], &atk, &["--rule", "mean"]].concat(),
    );
    assert!(o.status.success());
    let broken = final_accuracy(&o.stdout);
    assert!(
        broken.is_nan() || broken < 0.2,
        "mean under omniscient: {broken}"
    );
    // ... but not Phocas with b = 6.
    let o = train(
        Path::new(REAL),
        &dir.path().join("c"),
        &[&common[..], &atk, &["--rule", "phocas", "--b", "6"]].concat(),
    );
    assert!(o.status.success());
    let robust = final_accuracy(&o.stdout);
    assert!(robust > 0.5, "phocas under omniscient: {robust}");
    assert!(dir.path().join("c/rounds.parquet").exists());
    assert!(dir.path().join("c/accuracy.png").exists());
}

#[test]
fn dirichlet_splits_and_pre_aggregation_train() {
    let dir = tempfile::tempdir().unwrap();
    // a concentration that is not positive is refused before loading
    let o = train(
        Path::new(REAL),
        &dir.path().join("x"),
        &["--dirichlet", "0"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("dirichlet") && e.contains("positive"), "{e}");
    if !common::real_data() {
        return;
    }
    let common = ["--rounds", "40", "--eval-every", "20", "--rule", "mean"];
    let run = |name: &str, extra: &[&str]| {
        let o = train(
            Path::new(REAL),
            &dir.path().join(name),
            &[&common[..], extra].concat(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        final_accuracy(&o.stdout)
    };
    let iid = run("iid", &[]);
    let skew = run("skew", &["--dirichlet", "0.1"]);
    // the split changes what the workers send: the same seed gives another run, which still
    // learns (every class is held by some worker and the mean sees all of them)
    assert!(skew != iid, "{skew} {iid}");
    assert!(skew > 0.3, "mean on a Dirichlet(0.1) split: {skew}");
    assert_eq!(run("skew2", &["--dirichlet", "0.1"]), skew);
    let nnm = run("nnm", &["--dirichlet", "1", "--nnm", "3"]);
    assert!(nnm > 0.3, "nnm + mean: {nnm}");
}

/// Writes a tiny CIFAR-10 binary folder: `n` records a file whose label is `i % 10` and whose
/// pixels brighten one quadrant per label pair, so the CNN can learn something.
fn tiny_cifar(dir: &Path, n: usize) {
    let file = |seed: usize| -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..n {
            let label = ((i + seed) % 10) as u8;
            v.push(label);
            for c in 0..3 {
                for y in 0..32 {
                    for x in 0..32 {
                        let on = (y / 16) * 2 + x / 16 == usize::from(label) % 4 && c == 0;
                        v.push(if on {
                            220
                        } else {
                            ((x * 7 + y * 3 + i) % 40) as u8
                        });
                    }
                }
            }
        }
        v
    };
    for k in 1..=5 {
        std::fs::write(dir.join(format!("data_batch_{k}.bin")), file(k)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), file(0)).unwrap();
}

#[test]
fn the_cnn_trains_on_cifar_format_files_and_reports_top3() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cifar");
    std::fs::create_dir(&data).unwrap();
    tiny_cifar(&data, 12);
    let args = [
        "--model",
        "cnn",
        "--rule",
        "phocas",
        "--b",
        "2",
        "--attack",
        "gaussian",
        "--byzantine",
        "2",
        "--workers",
        "6",
        "--batch",
        "4",
        "--rounds",
        "3",
        "--eval-every",
        "1",
        "--test-size",
        "8",
    ];
    let o = train(&data, &dir.path().join("out"), &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(dir.path().join("out/rounds.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.contains("test_top3_accuracy"), "{header}");
    // 4 evaluations (rounds 0..=3), each on the first 8 test images: accuracies in eighths
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 4);
    // the same command gives the same numbers (seeded dropout, batches and attack)
    let o2 = train(&data, &dir.path().join("out2"), &args);
    assert!(o2.status.success());
    let csv2 = std::fs::read_to_string(dir.path().join("out2/rounds.csv")).unwrap();
    assert_eq!(csv, csv2);
    // the MLP refuses colour images with the fix
    let o = train(&data, &dir.path().join("out3"), &["--rounds", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("--model cnn"), "{e}");
    // a worker count whose buffers cannot fit is refused before training, naming it
    let o = train(
        &data,
        &dir.path().join("out5"),
        &["--model", "cnn", "--workers", "5000", "--rounds", "1"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("workers = 5000"), "{e}");
    // a truncated file is one clear line naming it
    std::fs::write(data.join("data_batch_3.bin"), [1u8; 100]).unwrap();
    let o = train(&data, &dir.path().join("out4"), &args);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("data_batch_3.bin") && !e.contains("panicked"),
        "{e}"
    );
}

//! End-to-end tests of `phocas aggregate`: the real binary on `.npy` files written here.

use phocas::aggregators::{
    self, KrumDistance, KrumNeighbours, MedianConvention, RuleParams, REGISTRY,
};
use phocas::npy::{self, NpyVector};
use phocas::{AggregateExt, MatrixView, Scalar};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn phocas<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args(args)
        // a panic would print a backtrace; make sure none does
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run phocas");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8(o.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(o.stderr).expect("utf-8 stderr"),
    }
}

/// Exit status 2, nothing on stdout, exactly one stderr line starting with "error:" that
/// contains every needle, and no panic or backtrace.
#[track_caller]
fn assert_error(o: &Out, needles: &[&str]) {
    let ctx = format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.code, o.stdout, o.stderr
    );
    assert_eq!(o.code, Some(2), "{ctx}");
    assert!(o.stdout.is_empty(), "{ctx}");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{ctx}");
    assert!(lines[0].starts_with("error:"), "{ctx}");
    for n in needles {
        assert!(lines[0].contains(n), "missing {n:?}: {ctx}");
    }
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!o.stderr.contains(bad), "{ctx}");
    }
}

#[track_caller]
fn assert_ok(o: &Out) {
    assert_ok_but_theory_warnings(o);
    assert!(o.stderr.is_empty(), "stderr: {}", o.stderr);
}

/// Exit 0 with nothing on stderr but the warnings `aggregate` prints for Krum / Multi-Krum
/// settings outside their theory (the rule cases include extreme q) and the geometric
/// median's `note:` line on how its iteration went.
#[track_caller]
fn assert_ok_but_theory_warnings(o: &Out) {
    assert_eq!(
        o.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        o.stdout,
        o.stderr
    );
    for l in o.stderr.lines() {
        assert!(
            l.starts_with("warning: Lemma 1 needs")
                || l.starts_with("warning: multikrum --k")
                || l.starts_with("note: geomed("),
            "stderr: {}",
            o.stderr
        );
    }
}

/// A deterministic m x d test matrix with the awkward values: NaN, infinities, huge,
/// subnormal, signed zeros, ties and ordinary values.
fn matrix(m: usize, d: usize, seed: u64) -> Vec<f32> {
    let special = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e20,
        -1e20,
        1e-45,
        -0.0,
        0.0,
        1.0,
        2.0,
        3e38,
    ];
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..m * d)
        .map(|_| {
            let r = next();
            match r % 8 {
                0 => special[(r >> 8) as usize % special.len()],
                1 => f32::from_bits((r >> 16) as u32),
                _ => ((r >> 20) % 20_001) as f32 / 100.0 - 100.0,
            }
        })
        .collect()
}

fn params_to_args(name: &str, p: &RuleParams) -> Vec<String> {
    let mut a = vec!["--rule".to_string(), name.to_string()];
    for (flag, v) in [("--b", p.b), ("--q", p.q), ("--k", p.k)] {
        if let Some(v) = v {
            a.push(flag.into());
            a.push(v.to_string());
        }
    }
    if p.neighbours == KrumNeighbours::MinusQMinus1 {
        a.extend(["--neighbours".into(), "m-q-1".into()]);
    }
    if p.distance == KrumDistance::Plain {
        a.extend(["--distance".into(), "plain".into()]);
    }
    if p.median == MedianConvention::Lower {
        a.extend(["--median".into(), "lower".into()]);
    }
    a
}

/// For every registry rule, the first parameter set it accepts (so new rules are covered),
/// plus the non-default conventions.
fn rule_cases(m: usize) -> Vec<(&'static str, RuleParams)> {
    let mut out = Vec::new();
    for info in REGISTRY {
        // 1, or the largest the rule takes if smaller (Bulyan: (m - 3) / 4)
        let one = info.param.max(m).flatten().map_or(1, |max| max.min(1));
        let p = info.with_params(RuleParams::default(), Some(one), Some(one), Some(2));
        assert!(
            aggregators::build(info.name, &p, m).is_ok(),
            "the registry's parameters do not build {}",
            info.name
        );
        out.push((info.name, p));
    }
    let conv = RuleParams {
        neighbours: KrumNeighbours::MinusQMinus1,
        distance: KrumDistance::Plain,
        median: MedianConvention::Lower,
        ..RuleParams::default()
    };
    out.push(("median", conv.clone()));
    out.push((
        "krum",
        RuleParams {
            q: Some(m - 2),
            ..conv.clone()
        },
    ));
    out.push((
        "multikrum",
        RuleParams {
            q: Some(0),
            ..conv.clone()
        },
    ));
    out.push((
        "phocas",
        RuleParams {
            b: Some(aggregators::max_trim(m)),
            ..RuleParams::default()
        },
    ));
    out
}

fn library<T: Scalar>(name: &str, p: &RuleParams, x: &[T], m: usize, d: usize) -> Vec<T> {
    aggregators::build(name, p, m)
        .unwrap()
        .aggregate(MatrixView::new(x, m, d).unwrap())
        .unwrap()
}

trait Bits: Scalar + std::str::FromStr {
    fn bits(self) -> u64;
    fn is_nan_(self) -> bool;
}
impl Bits for f32 {
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn is_nan_(self) -> bool {
        self.is_nan()
    }
}
impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
    fn is_nan_(self) -> bool {
        self.is_nan()
    }
}

/// Printed values parse back to the library's output exactly (NaN prints without its sign).
fn check_printed<T: Bits>(dir: &Path, m: usize, d: usize) {
    let x: Vec<T> = matrix(m, d, 11)
        .into_iter()
        .map(|v| T::from_f64(f64::from(v)))
        .collect();
    let input = dir.join(format!("x_{}.npy", T::NAME));
    npy::write(&input, &x, &[m, d]).unwrap();
    for (name, p) in rule_cases(m) {
        let mut args = vec!["aggregate".to_string(), "--input".into()];
        args.push(input.to_str().unwrap().into());
        args.extend(params_to_args(name, &p));
        let o = phocas(&args);
        assert_ok_but_theory_warnings(&o);
        let want = library(name, &p, &x, m, d);
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(lines.len(), d, "{args:?}: {}", o.stdout);
        for (j, (line, w)) in lines.iter().zip(&want).enumerate() {
            let v: T = line
                .parse()
                .unwrap_or_else(|_| panic!("{args:?}: line {j} {line:?} is not a {}", T::NAME));
            assert!(
                (v.is_nan_() && w.is_nan_()) || v.bits() == w.bits(),
                "{args:?} j={j}: printed {line} but the library gives {w:?}"
            );
        }
    }
}

#[test]
fn printed_values_match_the_library() {
    let dir = tempfile::tempdir().unwrap();
    check_printed::<f32>(dir.path(), 9, 70);
    check_printed::<f64>(dir.path(), 9, 70);
    check_printed::<f64>(dir.path(), 4, 3);
}

fn check_output_file<T: Bits>(dir: &Path, m: usize, d: usize, wrap: fn(Vec<T>) -> NpyVector) {
    let x: Vec<T> = matrix(m, d, 5)
        .into_iter()
        .map(|v| T::from_f64(f64::from(v)))
        .collect();
    let input = dir.join(format!("in_{}.npy", T::NAME));
    npy::write(&input, &x, &[m, d]).unwrap();
    for (name, p) in rule_cases(m) {
        let output = dir.join(format!("out_{name}_{}.npy", T::NAME));
        let mut args: Vec<String> = vec!["aggregate".into(), "--input".into()];
        args.push(input.to_str().unwrap().into());
        args.push("--output".into());
        args.push(output.to_str().unwrap().into());
        args.extend(params_to_args(name, &p));
        let o = phocas(&args);
        assert_ok_but_theory_warnings(&o);
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
        let got = npy::read_vector(&output).unwrap();
        let want = library(name, &p, &x, m, d);
        // same dtype, shape (d,), and bit-identical values (NaN payloads included)
        let same = match (&got, wrap(want.clone())) {
            (NpyVector::F32(a), NpyVector::F32(b)) => {
                a.len() == b.len() && a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits())
            }
            (NpyVector::F64(a), NpyVector::F64(b)) => {
                a.len() == b.len() && a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits())
            }
            _ => false,
        };
        assert!(same, "{args:?}: file holds {got:?}, library gives {want:?}");
    }
}

#[test]
fn output_file_has_shape_d_and_the_input_dtype() {
    let dir = tempfile::tempdir().unwrap();
    check_output_file::<f32>(dir.path(), 8, 130, NpyVector::F32);
    check_output_file::<f64>(dir.path(), 8, 130, NpyVector::F64);
}

#[test]
fn phocas_isa_chooses_the_level_and_a_bad_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (m, d) = (20, 3000);
    let input = dir.path().join("x.npy");
    npy::write(&input, &matrix(m, d, 5), &[m, d]).unwrap();
    let run = |isa: Option<&str>, rule: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_phocas"));
        c.args(["aggregate", "--rule", rule, "--b", "4", "--input"])
            .arg(&input)
            .env("RUST_BACKTRACE", "1");
        match isa {
            Some(v) => c.env("PHOCAS_ISA", v),
            None => c.env_remove("PHOCAS_ISA"),
        };
        let o = c.output().expect("run phocas");
        Out {
            code: o.status.code(),
            stdout: String::from_utf8(o.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(o.stderr).expect("utf-8 stderr"),
        }
    };
    for rule in ["trmean", "phocas"] {
        let best = run(None, rule);
        assert_eq!(best.code, Some(0), "{}", best.stderr);
        let portable = run(Some("portable"), rule);
        assert_eq!(portable.code, Some(0), "{}", portable.stderr);
        assert!(best.stdout == portable.stdout, "{rule}: portable differs");
    }
    let o = run(Some("neon9"), "trmean");
    assert_error(&o, &["PHOCAS_ISA=neon9", "portable", "unset it"]);
}

#[test]
fn thread_count_does_not_change_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let (m, d) = (20, 5000);
    let input = dir.path().join("x.npy");
    npy::write(&input, &matrix(m, d, 3), &[m, d]).unwrap();
    for (name, p) in rule_cases(m) {
        let run = |threads: &str| {
            let mut args: Vec<String> =
                vec!["--threads".into(), threads.into(), "aggregate".into()];
            args.push("--input".into());
            args.push(input.to_str().unwrap().into());
            args.extend(params_to_args(name, &p));
            let o = phocas(&args);
            assert_ok_but_theory_warnings(&o);
            assert_eq!(o.stdout.lines().count(), d);
            o.stdout
        };
        let one = run("1");
        assert!(one == run("2"), "{name} {p:?}: 1 and 2 threads differ");
    }
}

/// Whether `name` occurs in `text` as a whole word (not inside "trmean" when looking for "mean").
fn mentions(text: &str, name: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[test]
fn help_lists_every_rule() {
    for args in [&["--help"][..], &["aggregate", "--help"][..]] {
        let o = phocas(args);
        assert_eq!(o.code, Some(0), "{args:?}: {}", o.stderr);
        for info in REGISTRY {
            assert!(
                mentions(&o.stdout, info.name),
                "{args:?} does not mention {}:\n{}",
                info.name,
                o.stdout
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Error paths
// ---------------------------------------------------------------------------------------------

struct Files {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        Self { _dir: dir, root }
    }
    fn bytes(&self, name: &str, b: &[u8]) -> String {
        let p = self.root.join(name);
        std::fs::write(&p, b).unwrap();
        p.to_str().unwrap().to_string()
    }
    /// A valid 5 x 3 float32 matrix.
    fn good(&self) -> String {
        let x: Vec<f32> = (0..15).map(|i| i as f32).collect();
        self.bytes("good.npy", &npy::encode(&x, &[5, 3]))
    }
}

fn aggregate(input: &str, rule: &[&str]) -> Out {
    let mut a = vec!["aggregate", "--input", input];
    a.extend_from_slice(rule);
    phocas(&a)
}

/// Replaces `from` by `to` (same length) in the header of an encoded file.
fn patch(mut b: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let pos = b
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap();
    b[pos..pos + to.len()].copy_from_slice(to.as_bytes());
    b
}

#[test]
fn missing_file() {
    let f = Files::new();
    let p = f.root.join("nope.npy");
    let o = aggregate(p.to_str().unwrap(), &["--rule", "mean"]);
    assert_error(&o, &["nope.npy", "not found"]);
}

#[test]
fn not_an_npy_file() {
    let f = Files::new();
    let p = f.bytes("text.npy", b"just some text, not numpy at all\n");
    assert_error(
        &aggregate(&p, &["--rule", "mean"]),
        &["not a NumPy .npy file"],
    );
    let p = f.bytes("empty.npy", b"");
    assert_error(
        &aggregate(&p, &["--rule", "mean"]),
        &["not a NumPy .npy file"],
    );
}

#[test]
fn wrong_dtype() {
    let f = Files::new();
    let b = patch(npy::encode(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]), "<f4", "<i4");
    let p = f.bytes("int.npy", &b);
    assert_error(&aggregate(&p, &["--rule", "mean"]), &["dtype", "'<i4'"]);
}

#[test]
fn wrong_rank() {
    let f = Files::new();
    let p = f.bytes("one.npy", &npy::encode(&[1.0f32, 2.0, 3.0], &[3]));
    assert_error(&aggregate(&p, &["--rule", "mean"]), &["2-D", "[3]"]);
    let p = f.bytes("three.npy", &npy::encode(&[1.0f64; 8], &[2, 2, 2]));
    assert_error(&aggregate(&p, &["--rule", "mean"]), &["2-D", "[2, 2, 2]"]);
}

#[test]
fn fortran_order() {
    let f = Files::new();
    let b = patch(
        npy::encode(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]),
        "False",
        "True ",
    );
    let p = f.bytes("fortran.npy", &b);
    assert_error(&aggregate(&p, &["--rule", "mean"]), &["Fortran order"]);
}

#[test]
fn truncated_data() {
    let f = Files::new();
    let mut b = npy::encode(&[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    b.truncate(b.len() - 5);
    let p = f.bytes("short.npy", &b);
    assert_error(
        &aggregate(&p, &["--rule", "mean"]),
        &["truncated", "(2, 3)"],
    );
    // header cut short
    let b = npy::encode(&[1.0f32], &[1, 1]);
    let p = f.bytes("short_header.npy", &b[..20]);
    assert_error(&aggregate(&p, &["--rule", "mean"]), &["truncated"]);
}

#[test]
fn b_out_of_range() {
    let f = Files::new();
    let p = f.good();
    // m = 5: b must be at most ceil(5/2) - 1 = 2
    for rule in ["trmean", "phocas"] {
        assert_error(
            &aggregate(&p, &["--rule", rule, "--b", "3"]),
            &["b = 3", "m = 5", "at most 2"],
        );
    }
}

#[test]
fn q_out_of_range_for_krum() {
    let f = Files::new();
    let p = f.good();
    // m = 5: m - q - 2 >= 1 needs q <= 2
    for rule in ["krum", "multikrum"] {
        assert_error(
            &aggregate(&p, &["--rule", rule, "--q", "3"]),
            &["q = 3", "m = 5", "at most 2"],
        );
    }
    assert_error(
        &aggregate(&p, &["--rule", "krum", "--q", "4", "--neighbours", "m-q-1"]),
        &["q = 4", "at most 3"],
    );
}

#[test]
fn k_out_of_range_for_multikrum() {
    let f = Files::new();
    let p = f.good();
    for k in ["0", "6"] {
        assert_error(
            &aggregate(&p, &["--rule", "multikrum", "--q", "1", "--k", k]),
            &[&format!("k = {k}"), "1..=5"],
        );
    }
}

#[test]
fn missing_parameters() {
    let f = Files::new();
    let p = f.good();
    assert_error(
        &aggregate(&p, &["--rule", "trmean"]),
        &["trmean", "--b", "0..=2"],
    );
    assert_error(&aggregate(&p, &["--rule", "phocas"]), &["phocas", "--b"]);
    assert_error(&aggregate(&p, &["--rule", "krum"]), &["krum", "--q"]);
    // a parameter the rule does not take
    assert_error(
        &aggregate(&p, &["--rule", "mean", "--b", "1"]),
        &["mean", "--b"],
    );
}

#[test]
fn unknown_rule_lists_the_known_ones() {
    let f = Files::new();
    let p = f.good();
    let o = aggregate(&p, &["--rule", "mode"]);
    let names: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
    let mut needles = vec!["unknown rule 'mode'"];
    needles.extend(&names);
    assert_error(&o, &needles);
    // checked before the input is read
    let o = aggregate("/nonexistent/x.npy", &["--rule", "mode"]);
    assert_error(&o, &["unknown rule 'mode'"]);
}

#[test]
fn zero_threads() {
    let f = Files::new();
    let p = f.good();
    let o = phocas(&[
        "--threads",
        "0",
        "aggregate",
        "--input",
        &p,
        "--rule",
        "mean",
    ]);
    assert_error(&o, &["--threads 0"]);
}

#[cfg(unix)]
#[test]
fn output_that_is_not_a_regular_file_is_refused_and_left_alone() {
    // Defect 1: `--output` was replaced by rename even when it was a device or pipe.
    use std::os::unix::fs::FileTypeExt;
    let f = Files::new();
    let good = f.good();
    let fifo = f.root.join("fakenull");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let o = aggregate(
            &good,
            &["--rule", "mean", "--output", fifo.to_str().unwrap()],
        );
        assert_error(&o, &["fakenull", "not a regular file"]);
        let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(t.is_fifo(), "the pipe was replaced");
    }
    let sub = f.root.join("folder");
    std::fs::create_dir(&sub).unwrap();
    let o = aggregate(
        &good,
        &["--rule", "mean", "--output", sub.to_str().unwrap()],
    );
    assert_error(&o, &["folder", "not a regular file"]);
    assert!(sub.is_dir());
}

#[test]
fn usage_errors_are_one_line_naming_the_help_to_read() {
    // Hardening issue: clap's multi-line usage errors become one line like the others.
    for (args, needles) in [
        (
            vec!["train", "--b", "-1"],
            vec!["'-1'", "phocas train --help"],
        ),
        (
            vec!["verify-bounds", "--trials", "x"],
            vec!["--trials", "phocas verify-bounds --help"],
        ),
        (
            vec!["aggregate"],
            vec!["--rule <RULE>", "--input", "phocas aggregate --help"],
        ),
        (vec!["frobnicate"], vec!["'frobnicate'", "phocas --help"]),
    ] {
        assert_error(&phocas(&args), &needles);
    }
    let help = phocas(&["aggregate", "--help"]);
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("Usage:"), "{}", help.stdout);
}

#[test]
fn config_errors_name_the_file_line_and_column() {
    let f = Files::new();
    let p = f.bytes(
        "g.toml",
        b"seed = 1\n\n[[sweep]]\nname = \"a\"\nrules = [\"mean\",, ]\n",
    );
    let o = phocas(&["verify-bounds", "--config", &p, "--out", &p]);
    assert_error(&o, &["g.toml", "line 5, column"]);
    let o = phocas(&["converge", "--config", &p]);
    assert_error(&o, &["g.toml", "line 5, column"]);
}

#[test]
fn krum_outside_lemma_1_and_multikrum_k_above_m_minus_q_warn() {
    let f = Files::new();
    let x: Vec<f32> = (0..24).map(|i| (i % 7) as f32).collect();
    let p = f.bytes("x.npy", &npy::encode(&x, &[8, 3]));
    // m = 8, q = 3: 2q + 2 = 8 >= m
    let o = aggregate(&p, &["--rule", "krum", "--q", "3"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.stderr.contains("warning: Lemma 1 needs 2q + 2 < m"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout.lines().count(), 3);
    let o = aggregate(&p, &["--rule", "multikrum", "--q", "2", "--k", "7"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("multikrum --k 7 averages more than the m - q = 6"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("Lemma 1"), "{}", o.stderr);
    assert_ok(&aggregate(
        &p,
        &["--rule", "multikrum", "--q", "2", "--k", "6"],
    ));
}

#[test]
fn output_into_a_missing_folder_is_an_error_unless_asked() {
    let f = Files::new();
    let good = f.good();
    let out = f.root.join("new/dir/y.npy");
    let o = aggregate(
        &good,
        &["--rule", "mean", "--output", out.to_str().unwrap()],
    );
    assert_error(&o, &["does not exist", "--mkdir"]);
    assert!(!f.root.join("new").exists());
    let o = aggregate(
        &good,
        &[
            "--rule",
            "mean",
            "--output",
            out.to_str().unwrap(),
            "--mkdir",
        ],
    );
    assert_ok(&o);
    assert!(matches!(npy::read_vector(&out).unwrap(), NpyVector::F32(v) if v.len() == 3));
}

/// `aggregate --rule geomed` says how the Weiszfeld iteration went, and what it does when no
/// row is finite.
#[test]
fn geomed_reports_its_iterations() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.npy");
    let x: Vec<f64> = vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 5.0, 5.0];
    npy::write(&input, &x, &[4, 2]).unwrap();
    let run = |extra: &[&str], input: &Path| {
        let mut args = vec![
            "aggregate",
            "--rule",
            "geomed",
            "--input",
            input.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        phocas(&args)
    };
    let o = run(&[], &input);
    assert_ok_but_theory_warnings(&o);
    assert!(
        o.stderr.contains("Weiszfeld iterations, converged"),
        "{}",
        o.stderr
    );
    let o = run(&["--iters", "2", "--tol", "0"], &input);
    assert!(
        o.stderr.contains("2 Weiszfeld iterations, NOT converged"),
        "{}",
        o.stderr
    );
    let bad = dir.path().join("nan.npy");
    npy::write(&bad, &[f64::NAN, 1.0, f64::INFINITY, 2.0], &[2, 2]).unwrap();
    let o = run(&[], &bad);
    assert!(o.stderr.contains("no row is finite"), "{}", o.stderr);
}

/// `phocas corrupt`: the library's corruption step with the stream (seed, key, index), the
/// same bits on any thread count, and one error line for each bad input.
#[test]
fn corrupt_matches_the_library_and_refuses_bad_input() {
    use phocas::attacks::{self, AttackParams, Corrupt};
    let dir = tempfile::tempdir().unwrap();
    let (m, d) = (10, 700);
    let x = matrix(m, d, 5);
    let input = dir.path().join("x.npy");
    npy::write(&input, &x, &[m, d]).unwrap();
    let p = |s: &Path| s.to_str().unwrap().to_string();
    let run = |threads: &str, out: &Path, mask: &Path| {
        phocas(&[
            "--threads",
            threads,
            "corrupt",
            "--input",
            &p(&input),
            "--output",
            &p(out),
            "--mask-output",
            &p(mask),
            "--attack",
            "gaussian",
            "--corruption",
            "generalized",
            "--q",
            "3",
            "--seed",
            "4",
            "--key",
            "k",
            "--index",
            "2",
            "--param",
            "gaussian_sigma=7",
        ])
    };
    let (y1, m1) = (dir.path().join("y1.npy"), dir.path().join("m1.npy"));
    let (y2, m2) = (dir.path().join("y2.npy"), dir.path().join("m2.npy"));
    assert_ok(&run("1", &y1, &m1));
    assert_ok(&run("2", &y2, &m2));
    assert_eq!(std::fs::read(&y1).unwrap(), std::fs::read(&y2).unwrap());
    assert_eq!(std::fs::read(&m1).unwrap(), std::fs::read(&m2).unwrap());
    let mut lib = x.clone();
    let mut mask = vec![false; m * d];
    let ap = AttackParams {
        gaussian_sigma: 7.0,
        ..AttackParams::default()
    };
    let (a, c) = (
        attacks::build_attack("gaussian", &ap).unwrap(),
        attacks::build_corruption("generalized", &ap).unwrap(),
    );
    let spec = Corrupt {
        corruption: c.as_ref(),
        attack: a.as_ref(),
        q: 3,
        oracle: None,
    };
    attacks::corrupt(
        &mut lib,
        m,
        d,
        &spec,
        &mut attacks::trial_stream(4, "k", 2),
        &mut mask,
    )
    .unwrap();
    assert_eq!(std::fs::read(&y1).unwrap(), npy::encode(&lib, &[m, d]));
    assert_eq!(mask.iter().filter(|&&b| b).count(), 3 * d);
    let bad = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["corrupt".to_string(), "--input".into(), p(&input)];
        args.extend(["--output".into(), p(&dir.path().join("z.npy"))]);
        args.extend(extra.iter().map(|s| s.to_string()));
        assert_error(&phocas(&args), needles);
    };
    bad(
        &["--attack", "gausian", "--q", "1"],
        &["unknown attack 'gausian'"],
    );
    bad(&["--attack", "nan", "--q", "11"], &["q = 11", "m = 10"]);
    bad(
        &["--attack", "nan", "--q", "1", "--corruption", "x"],
        &["corruption model 'x'"],
    );
    bad(
        &["--attack", "nan", "--q", "1", "--param", "sigma=1"],
        &["unknown field `sigma`"],
    );
    bad(
        &["--attack", "nan", "--q", "1", "--param", "shard_p"],
        &["KEY=VALUE"],
    );
}

#[test]
fn report_only_names_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = phocas(&[
        "report",
        "--only",
        "cnn/fig9",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_error(&o, &["--only cnn/fig9", "cnn/cnn-fig2", "mlp/fig2"]);
    // refused before anything is written
    assert!(!out.exists());
}

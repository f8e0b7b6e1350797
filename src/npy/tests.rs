//! Tests of the `.npy` reader and of its header parser: round trips, the refusals of hostile
//! or malformed files (one regression test per reproduction of defects 8 and 9) and property
//! tests that the parser reads back every header `encode` writes and never panics.

use super::header::{self, Header};
use super::*;
use proptest::prelude::*;

#[test]
fn round_trip_both_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npy");
    let x = vec![1.0f32, -2.5, f32::NAN, 3e38, 1e-45, 0.0];
    write(&p, &x, &[2, 3]).unwrap();
    match read_matrix(&p).unwrap() {
        NpyMatrix::F32(m) => {
            assert_eq!((m.m, m.d), (2, 3));
            for (a, b) in m.data.iter().zip(&x) {
                assert_eq!(a.to_bits(), b.to_bits());
            }
        }
        NpyMatrix::F64(_) => panic!("dtype"),
    }
    let y = vec![1.0f64, 2.0];
    write(&p, &y, &[1, 2]).unwrap();
    assert!(matches!(read_matrix(&p).unwrap(), NpyMatrix::F64(_)));
    let bytes = std::fs::read(&p).unwrap();
    let hl = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hl) % 64, 0);
}

#[test]
fn rejects_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.npy");
    std::fs::write(&p, b"hello world").unwrap();
    assert!(read_matrix(&p)
        .unwrap_err()
        .to_string()
        .contains("not a NumPy"));
    write(&p, &[1.0f32, 2.0, 3.0], &[3]).unwrap();
    assert!(read_matrix(&p).unwrap_err().to_string().contains("2-D"));
    let mut b = encode(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    b.truncate(b.len() - 1);
    std::fs::write(&p, b).unwrap();
    assert!(read_matrix(&p)
        .unwrap_err()
        .to_string()
        .contains("truncated"));
    let mut b = encode(&[1.0f32, 2.0], &[1, 2]);
    let pos = b.windows(3).position(|w| w == b"<f4").unwrap();
    b[pos + 1] = b'i';
    std::fs::write(&p, b).unwrap();
    assert!(read_matrix(&p).unwrap_err().to_string().contains("'<i4'"));
}

#[test]
fn vector_round_trip_and_rank() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.npy");
    let x = vec![1.5f32, f32::NAN, -0.0];
    write(&p, &x, &[3]).unwrap();
    match read_vector(&p).unwrap() {
        NpyVector::F32(v) => {
            assert_eq!(v.len(), 3);
            for (a, b) in v.iter().zip(&x) {
                assert_eq!(a.to_bits(), b.to_bits());
            }
        }
        NpyVector::F64(_) => panic!("dtype"),
    }
    assert!(read_matrix(&p).unwrap_err().to_string().contains("2-D"));
    write(&p, &[2.0f64, 3.0], &[2]).unwrap();
    assert_eq!(read_vector(&p).unwrap(), NpyVector::F64(vec![2.0, 3.0]));
    write(&p, &[2.0f64, 3.0], &[1, 2]).unwrap();
    let e = read_vector(&p).unwrap_err().to_string();
    assert!(e.contains("1-D") && e.contains("[1, 2]"), "{e}");
    let mut b = encode(&[1.0f64, 2.0], &[2]);
    b.truncate(b.len() - 3);
    std::fs::write(&p, b).unwrap();
    let e = read_vector(&p).unwrap_err().to_string();
    assert!(e.contains("shape (2,)") && e.contains("truncated"), "{e}");
}

// ---- the reader on hostile files (defects 8 and 9) ----

/// A version 1.0 file with the given header text (padded like NumPy) and data bytes.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&u16::try_from(h.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

fn matrix(bytes: &[u8]) -> Result<NpyMatrix, Error> {
    read_matrix_from(bytes, bytes.len() as u64, Path::new("x.npy"))
}

fn matrix_err(bytes: &[u8]) -> String {
    matrix(bytes).unwrap_err().to_string()
}

const SIXTEEN: &[u8] = &[0u8; 16];

#[test]
fn shape_inside_another_string_is_not_the_shape() {
    // the old text search found 'shape': (2, 2) first and read a 2 x 2 matrix
    let b = file(
        r#"{'note': "'shape': (2, 2)", 'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }"#,
        SIXTEEN,
    );
    let e = matrix_err(&b);
    assert!(e.contains("unexpected key 'note'"), "{e}");
    // a string is one token: its content is never read as structure
    let b = file(
        r#"{'descr': "<f4', 'shape': (2, 2), '", 'fortran_order': False, 'shape': (1, 4), }"#,
        SIXTEEN,
    );
    let e = matrix_err(&b);
    assert!(
        e.contains("dtype '<f4', 'shape': (2, 2), '' is not supported"),
        "{e}"
    );
}

#[test]
fn extra_key_is_refused() {
    let b = file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': True}",
        SIXTEEN,
    );
    let e = matrix_err(&b);
    assert!(
        e.starts_with("x.npy: malformed .npy header (unexpected key 'extra'"),
        "{e}"
    );
    assert!(e.contains("NumPy refuses"), "{e}");
}

#[test]
fn empty_shape_entries_are_refused() {
    let b = file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (,,2,,,2,,), }",
        SIXTEEN,
    );
    let e = matrix_err(&b);
    assert!(e.contains("unexpected ','"), "{e}");
}

#[test]
fn nul_bytes_are_refused() {
    let mut b = encode(&[1.0f32; 4], &[2, 2]);
    let end = 10 + usize::from(u16::from_le_bytes([b[8], b[9]]));
    b[end - 2] = 0; // NUL in the padding
    let e = matrix_err(&b);
    assert!(
        e.contains("NUL byte after the header's value") && e.contains("\\x00"),
        "{e}"
    );
    let b = file(
        "{'descr': '<f4\0', 'fortran_order': False, 'shape': (2, 2)}",
        SIXTEEN,
    );
    assert!(matrix_err(&b).contains("NUL byte inside a string"));
    let b = file(
        "{'descr': '<f4', 'fortran_order': False,\0 'shape': (2, 2)}",
        SIXTEEN,
    );
    assert!(matrix_err(&b).contains("expected a string key or '}', found NUL byte"));
}

#[test]
fn duplicated_descr_is_refused() {
    // the old search took the first '<f8' (NumPy the last '<f4') and read 2 float64 values
    let b = file(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), 'descr': '<f4'}",
        SIXTEEN,
    );
    let e = matrix_err(&b);
    assert!(e.contains("key 'descr' written twice"), "{e}");
}

#[test]
fn parenthesized_int_is_not_a_shape() {
    let b = file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}",
        &[0; 12],
    );
    let e = read_vector_from(&b[..], b.len() as u64, Path::new("v.npy"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'shape' is an integer, not a tuple"), "{e}");
    let b = file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
        &[0; 12],
    );
    assert!(read_vector_from(&b[..], b.len() as u64, Path::new("v.npy")).is_ok());
}

#[cfg(unix)]
#[test]
fn non_regular_input_is_refused() {
    let e = read_matrix(Path::new("/dev/zero")).unwrap_err().to_string();
    assert!(
        e.starts_with("/dev/zero: not a regular file") && e.contains("numpy.save"),
        "{e}"
    );
}

#[test]
fn folder_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_vector(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("not a regular file (a device, pipe or folder)"),
        "{e}"
    );
}

#[test]
fn huge_shape_on_small_file_is_refused_before_allocating() {
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000000000000)}";
    let e = matrix_err(&file(h, SIXTEEN));
    assert!(
        e.contains("needs more than 2^64") && e.contains("truncated"),
        "{e}"
    );
    let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000)}";
    let e = matrix_err(&file(h, SIXTEEN));
    assert!(
        e.contains("data has 16 bytes") && e.contains("needs 8000000000000"),
        "{e}"
    );
    // a header length beyond the file, and a long one within it
    let mut b = b"\x93NUMPY\x02\x00\xff\xff\xff\xff{}".to_vec();
    assert!(matrix_err(&b).contains("truncated .npy header"));
    b[8..12].copy_from_slice(&20_000u32.to_le_bytes());
    b.resize(12 + 20_000, b' ');
    let e = matrix_err(&b);
    assert!(
        e.contains("header is 20000 bytes long, more than the 10000"),
        "{e}"
    );
}

#[test]
fn trailing_bytes_are_refused() {
    let mut b = encode(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    b.extend_from_slice(&[0; 3]);
    let e = matrix_err(&b);
    assert!(
        e.contains("data has 19 bytes but shape (2, 2) of <f4 needs 16")
            && e.contains("3 bytes after the array"),
        "{e}"
    );
}

#[test]
fn versions_endianness_and_short_files() {
    let x = [1.5f64, -2.0, 1e300, f64::MIN_POSITIVE];
    let le = encode(&x, &[2, 2]);
    // version 2.0 and 3.0: a 4-byte header length
    for major in [2u8, 3] {
        let hl = usize::from(u16::from_le_bytes([le[8], le[9]]));
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[major, 0]);
        b.extend_from_slice(&u32::try_from(hl).unwrap().to_le_bytes());
        b.extend_from_slice(&le[10..]);
        let NpyMatrix::F64(m) = matrix(&b).unwrap() else {
            panic!("dtype")
        };
        assert_eq!(m.data, x);
    }
    // big-endian data
    let mut be = le[..le.len() - 32].to_vec();
    let pos = be.windows(3).position(|w| w == b"<f8").unwrap();
    be[pos] = b'>';
    for v in x {
        be.extend_from_slice(&v.to_be_bytes());
    }
    let NpyMatrix::F64(m) = matrix(&be).unwrap() else {
        panic!("dtype")
    };
    assert_eq!(m.data, x);
    // version 1.1 does not exist; a version 3.0 header must be UTF-8
    let mut b = le.clone();
    b[7] = 1;
    assert!(matrix_err(&b).contains("unsupported .npy format version 1.1"));
    let mut b = le.clone();
    b[6] = 3;
    b.splice(8..10, [b[8], b[9], 0, 0]);
    let pos = b.windows(3).position(|w| w == b"<f8").unwrap();
    b[pos + 1] = 0xff;
    assert!(matrix_err(&b).contains("not valid UTF-8"));
    // short files
    assert!(matrix_err(&le[..8]).contains("truncated .npy header"));
    assert!(matrix_err(&le[..5]).contains("not a NumPy"));
    assert!(matrix_err(&[]).contains("not a NumPy"));
}

/// Writes a few valid files as seeds for the `npy` fuzz target into `$NPY_SEED_DIR`
/// (see fuzz/fuzz_targets/npy.rs).
#[test]
#[ignore = "writes fuzz seeds; run by hand"]
fn write_fuzz_seeds() {
    let dir = std::path::PathBuf::from(std::env::var("NPY_SEED_DIR").expect("NPY_SEED_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let x32 = [1.0f32, -2.5, f32::NAN, 3e38, 1e-45, 0.0];
    let x64 = [1.0f64, -2.5, f64::INFINITY, 1e-310, -0.0, 7.0];
    let mut seeds = vec![
        ("f32_2x3", encode(&x32, &[2, 3])),
        ("f32_6", encode(&x32, &[6])),
        ("f64_3x2", encode(&x64, &[3, 2])),
        ("f64_6", encode(&x64, &[6])),
        ("f32_0", encode::<f32>(&[], &[0])),
    ];
    let mut be = encode(&[0.0f64; 2], &[1, 2]);
    let pos = be.windows(3).position(|w| w == b"<f8").unwrap();
    be[pos] = b'>';
    be.truncate(be.len() - 16);
    be.extend_from_slice(&1.0f64.to_be_bytes());
    be.extend_from_slice(&(-3.0f64).to_be_bytes());
    seeds.push(("f64_be_1x2", be));
    for (name, bytes) in seeds {
        std::fs::write(dir.join(format!("{name}.npy")), bytes).unwrap();
    }
}

proptest! {
    #[test]
    fn reader_round_trips_encoded_arrays(
        (m, d, bits) in (1usize..6, 1usize..6).prop_flat_map(|(m, d)| {
            (Just(m), Just(d), prop::collection::vec(any::<u32>(), m * d))
        })
    ) {
        let x: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let NpyMatrix::F32(got) = matrix(&encode(&x, &[m, d])).unwrap() else {
            panic!("dtype")
        };
        prop_assert_eq!((got.m, got.d), (m, d));
        prop_assert_eq!(got.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), bits);
    }

    #[test]
    fn reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), header in any::<bool>()) {
        let b = if header { file(&String::from_utf8_lossy(&bytes), &[]) } else { bytes };
        let _ = matrix(&b);
        let _ = read_vector_from(&b[..], b.len() as u64, Path::new("v.npy"));
    }
}

// ---- the header parser ----

fn shape_of(h: &str) -> Result<Vec<usize>, String> {
    header::parse(h.as_bytes(), true).map(|h| h.shape)
}

fn header(shape: &str) -> String {
    format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}")
}

#[test]
fn accepts_what_numpy_writes_and_reads() {
    for (s, want) in [
        ("()", vec![]),
        ("(3,)", vec![3]),
        ("(2, 3)", vec![2, 3]),
        ("(2, 3,)", vec![2, 3]),
        ("( 2 ,\n\t3 , )", vec![2, 3]),
        ("(0, 00)", vec![0, 0]),
        ("(2L, 3L)", vec![2, 3]),
        ("((2, 3))", vec![2, 3]),
    ] {
        assert_eq!(shape_of(&header(s)), Ok(want), "{s}");
    }
    let h = header::parse(
        b" {\"shape\": (1,), 'fortran_order' :True,'descr':'>f8'}   \t\r\n",
        false,
    )
    .unwrap();
    assert_eq!(
        h,
        Header {
            descr: b">f8".to_vec(),
            fortran_order: true,
            shape: vec![1]
        }
    );
    let h = header::parse(
        br#"{'descr': 'a\'b\\c\"', 'fortran_order': False, 'shape': ()}"#,
        false,
    );
    assert_eq!(h.unwrap().descr, br#"a'b\c""#.to_vec());
}

#[test]
fn refuses_non_tuples_and_empty_entries() {
    for (s, why) in [
        ("(3)", "is an integer, not a tuple"),
        ("3", "is an integer, not a tuple"),
        ("[2, 3]", "is a list"),
        ("(,)", "unexpected ','"),
        ("(,,2,,,2,,)", "unexpected ','"),
        ("(2,,)", "unexpected ','"),
        ("(2 3)", "expected ',' or ')'"),
        ("(2.0,)", "malformed number"),
        ("(0x2,)", "malformed number"),
        ("(07,)", "leading zero"),
        ("(-1,)", "unexpected '-'"),
        ("(True,)", "is True, not a non-negative"),
        ("((2,),)", "is a tuple, not a non-negative"),
        ("(99999999999999999999999,)", "too large"),
        ("(2", "unexpected '}'"),
    ] {
        let e = shape_of(&header(s)).unwrap_err();
        assert!(e.contains(why), "{s}: {e}");
    }
    // the L suffix only in versions 1 and 2
    assert!(header::parse(header("(2L,)").as_bytes(), false).is_err());
}

#[test]
fn refuses_garbage_keys_and_duplicates() {
    for (h, why) in [
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
            "unexpected key 'x'",
        ),
        ("{'descr': '<f4', 'fortran_order': False}", "no 'shape' key"),
        (
            "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            "key 'descr' written twice",
        ),
        (
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
            "'fortran_order' is an integer",
        ),
        (
            "{'descr': 4, 'fortran_order': False, 'shape': (2,)}",
            "'descr' is an integer",
        ),
        (
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
            "structured dtype",
        ),
        (
            "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",
            "unexpected name 'false'",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\0",
            "NUL byte after",
        ),
        (
            "{'descr': '<f\0', 'fortran_order': False, 'shape': (2,)}",
            "NUL byte inside",
        ),
        (
            "{'descr': '<f4'\n, 'fortran_order': False, 'shape': (2,)} x",
            "'x' after",
        ),
        (
            "{'descr': '<f4\n', 'fortran_order': False, 'shape': (2,)}",
            "line break inside",
        ),
        (
            "{'descr': '<f4\\x', 'fortran_order': False, 'shape': (2,)}",
            "unsupported escape",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,),,}",
            "expected a string key",
        ),
        ("{1: 2}", "expected a string key"),
        ("['descr', 'fortran_order', 'shape']", "not a dict"),
        ("", "unexpected end"),
        ("{'descr': '<f4", "unterminated string"),
    ] {
        let e = header::parse(h.as_bytes(), true).unwrap_err();
        assert!(e.contains(why), "{h:?}: {e}");
    }
}

#[test]
fn depth_is_limited() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = header::parse(deep.as_bytes(), true).unwrap_err();
    assert!(e.contains("nested more than 32"), "{e}");
    let ok = format!(
        "{}{}",
        "(".repeat(header::MAX_DEPTH - 2),
        ")".repeat(header::MAX_DEPTH - 2)
    );
    let e = header::parse(format!("{{'x': {ok}}}").as_bytes(), true).unwrap_err();
    assert!(e.contains("unexpected key 'x'"), "{e}");
}

#[test]
fn shown_is_one_safe_line() {
    assert_eq!(
        header::shown(b"a\\b\n\x1b[0m\x00  \n"),
        "a\\\\b\\n\\x1b[0m\\x00"
    );
    assert!(header::shown(&[b'x'; 500]).ends_with("..."));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn encoded_headers_parse_back(shape in prop::collection::vec(any::<usize>(), 0..6)) {
        let file = encode::<f32>(&[], &shape);
        let len = usize::from(u16::from_le_bytes([file[8], file[9]]));
        let h = header::parse(&file[10..10 + len], false).unwrap();
        prop_assert_eq!(h.shape, shape);
        prop_assert_eq!(h.descr, b"<f4".to_vec());
        prop_assert!(!h.fortran_order);
    }

    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = header::parse(&bytes, true);
        let _ = header::parse(&bytes, false);
    }

    #[test]
    fn never_panics_on_header_like_text(s in "[{}()\\[\\],:'\" \\\\\n\t\0a-zA-Z0-9_L.-]{0,200}") {
        let _ = header::parse(s.as_bytes(), true);
    }

    #[test]
    fn never_panics_on_mutated_headers(
        shape in prop::collection::vec(0usize..5, 0..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut h = header(&shape_str(&shape)).into_bytes();
        for (at, b) in edits {
            let i = at.index(h.len());
            h[i] = b;
        }
        let _ = header::parse(&h, true);
    }
}

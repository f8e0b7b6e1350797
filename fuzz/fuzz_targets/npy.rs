//! Fuzz target for the `.npy` reader. Each input is read twice: as a whole file, and as the
//! header of a version 1.0 file (behind a valid magic, version and length), so that the
//! header parser is reached without first finding the magic. Both `read_matrix_from` and
//! `read_vector_from` are called on the bytes in memory (no temporary files). Checked:
//!
//! * no panic, and no allocation beyond the input's size (libFuzzer's `-malloc_limit_mb`,
//!   which defaults to `-rss_limit_mb`, reports a larger one as a crash);
//! * when a read succeeds, the file is exactly prefix + header + product(shape) * itemsize
//!   bytes, and a matrix holds m * d values;
//! * re-encoding the array with `npy::encode` and reading it again gives the same dtype, the
//!   same shape and bit-identical values (NaN payloads included).
//!
//! Seeds, valid files written by `npy::encode` (f32 and f64, 1-D and 2-D, a big-endian
//! descr), from the repository root:
//!
//! ```sh
//! NPY_SEED_DIR="$PWD/fuzz/corpus/npy" cargo test --lib npy::tests::write_fuzz_seeds -- --ignored
//! cargo +nightly fuzz run npy -- -max_total_time=600 -print_final_stats=1
//! ```
//!
//! Crash inputs become unit tests in src/npy/tests.rs, with the bytes inlined.
#![no_main]

use phocas::npy::{self, NpyMatrix, NpyVector};
use std::path::Path;

/// dtype size, shape and value bits of an array that was read.
type Summary = (usize, Vec<usize>, Vec<u64>);

fn bits32(x: &[f32]) -> Vec<u64> {
    x.iter().map(|v| u64::from(v.to_bits())).collect()
}

fn bits64(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn read_matrix(bytes: &[u8]) -> Option<(Summary, Vec<u8>)> {
    let m = npy::read_matrix_from(bytes, bytes.len() as u64, Path::new("fuzz.npy")).ok()?;
    Some(match m {
        NpyMatrix::F32(x) => {
            assert_eq!(x.data.len(), x.m * x.d);
            let enc = npy::encode(&x.data, &[x.m, x.d]);
            ((4, vec![x.m, x.d], bits32(&x.data)), enc)
        }
        NpyMatrix::F64(x) => {
            assert_eq!(x.data.len(), x.m * x.d);
            let enc = npy::encode(&x.data, &[x.m, x.d]);
            ((8, vec![x.m, x.d], bits64(&x.data)), enc)
        }
    })
}

fn read_vector(bytes: &[u8]) -> Option<(Summary, Vec<u8>)> {
    let v = npy::read_vector_from(bytes, bytes.len() as u64, Path::new("fuzz.npy")).ok()?;
    Some(match v {
        NpyVector::F32(x) => ((4, vec![x.len()], bits32(&x)), npy::encode(&x, &[x.len()])),
        NpyVector::F64(x) => ((8, vec![x.len()], bits64(&x)), npy::encode(&x, &[x.len()])),
    })
}

/// Length of magic + version + header length field + header, from the file's own prefix.
fn header_end(bytes: &[u8]) -> usize {
    match bytes[6] {
        1 => 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
        _ => 12 + u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
    }
}

fn check(bytes: &[u8], read: fn(&[u8]) -> Option<(Summary, Vec<u8>)>) {
    let Some(((size, shape, bits), encoded)) = read(bytes) else {
        return;
    };
    let count: usize = shape.iter().product();
    assert_eq!(bits.len(), count, "data length is not the product of the shape");
    assert_eq!(bytes.len(), header_end(bytes) + count * size, "file length");
    let (again, _) = read(&encoded).expect("a re-encoded array must read back");
    assert_eq!(again, (size, shape, bits), "round trip through encode");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data, read_matrix);
    check(data, read_vector);
    let header = &data[..data.len().min(usize::from(u16::MAX))];
    let mut file = b"\x93NUMPY\x01\x00".to_vec();
    file.extend_from_slice(&(header.len() as u16).to_le_bytes());
    file.extend_from_slice(header);
    check(&file, read_matrix);
    check(&file, read_vector);
});
